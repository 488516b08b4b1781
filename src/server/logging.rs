//! Operational logs (not the decision log): `tracing` events in, lines on stderr out, as text
//! for people or as JSON for log shippers (`log.format`), filtered by `RUST_LOG` or
//! `log.level`.

use std::fmt;

use serde::{Deserialize, Serialize};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One readable line per event; a refused reload's report follows it as `routec check`
    /// prints it.
    #[default]
    Text,
    /// One JSON object per line: `ts`, `level`, `target`, `message` and the event's fields.
    Json,
}

/// Starts the operational log. `RUST_LOG`, when set, wins over `level`. Only the first call
/// in a process takes effect (tests start several servers in one).
pub fn init(format: LogFormat, level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(ansi_on_stderr())
            .try_init(),
        LogFormat::Json => builder.event_format(JsonLine).try_init(),
    };
}

fn ansi_on_stderr() -> bool {
    use std::io::IsTerminal;
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Events as JSON lines. A field named `diagnostics` holds JSON text and is written as JSON,
/// so that a refused reload's diagnostics stay structured.
struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let metadata = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert("ts".into(), jiff::Timestamp::now().to_string().into());
        line.insert(
            "level".into(),
            metadata.level().as_str().to_ascii_lowercase().into(),
        );
        line.insert("target".into(), metadata.target().into());
        let mut fields = Fields(serde_json::Map::new());
        event.record(&mut fields);
        line.extend(fields.0);
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

struct Fields(serde_json::Map<String, serde_json::Value>);

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        let value = match field.name() {
            "diagnostics" => serde_json::from_str(value).unwrap_or_else(|_| value.into()),
            _ => value.into(),
        };
        self.0.insert(field.name().into(), value);
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().into(), value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().into(), format!("{value:?}").into());
    }
}
