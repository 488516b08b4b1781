//! Server configuration: a YAML file and `ROUTEC_*` environment variables in; [`Config`] out.
//!
//! Later sources win: defaults, then the file, then the environment, then command-line flags
//! (applied by the caller). Unknown keys are errors, so a misspelt setting is never ignored.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use super::logging::LogFormat;
pub use crate::exotel::answer::{ConnectSettings, NumberFormat, RecordingChannels};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// The policy: a `.route` file or a directory.
    pub policy: PathBuf,
    /// Exotel's listener: `/exotel/*` and health only.
    pub listen: String,
    /// The operators' listener: `/v1/*` and `/metrics`. Loopback unless `admin_token` is set.
    pub admin_listen: String,
    /// How long an Exotel-facing answer may wait for sources and state, in milliseconds.
    pub budget_ms: u64,
    /// Bearer token of the admin endpoints; unset turns them off.
    pub admin_token: Option<String>,
    /// Secret Exotel must send (path segment or `token` parameter); unset: none needed.
    pub exotel_token: Option<String>,
    /// A file holding the admin token (systemd credentials, Kubernetes secrets).
    pub admin_token_file: Option<PathBuf>,
    /// A file holding the Exotel secret.
    pub exotel_token_file: Option<PathBuf>,
    pub exotel: ExotelSettings,
    /// What one client may cost a listener.
    pub limits: Limits,
    pub connect: ConnectSettings,
    pub fallback: Fallback,
    pub log: LogSettings,
    pub state: StateSettings,
    /// How changes to the policy's files are noticed: `events` from the file system, `poll`
    /// (for network file systems, which send none), or `off` (SIGHUP and `/v1/reload` only).
    pub watch: WatchMode,
    /// How often `watch: poll` looks, in milliseconds.
    pub watch_interval_ms: u64,
    /// A candidate policy evaluated beside the active one on every live decision, reported at
    /// `/v1/shadow`; it never answers a call.
    pub shadow: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchMode {
    #[default]
    Events,
    Poll,
    Off,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            policy: PathBuf::from("rules"),
            listen: "127.0.0.1:8080".into(),
            admin_listen: "127.0.0.1:9090".into(),
            budget_ms: 1000,
            admin_token: None,
            exotel_token: None,
            admin_token_file: None,
            exotel_token_file: None,
            exotel: ExotelSettings::default(),
            limits: Limits::default(),
            connect: ConnectSettings::default(),
            fallback: Fallback::default(),
            log: LogSettings::default(),
            state: StateSettings::default(),
            watch: WatchMode::Events,
            watch_interval_ms: 2000,
            shadow: None,
        }
    }
}

/// What one client may cost a listener: each listener's own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Open connections at most; one more is answered 429 and closed.
    pub max_connections: usize,
    /// How long a client has to send a request's head; then the connection is closed.
    pub header_read_timeout_ms: u64,
    /// The largest request head (request line and headers) read; larger is answered 431.
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_connections: 10_000,
            header_read_timeout_ms: 10_000,
            max_header_bytes: 16_384,
        }
    }
}

/// How Exotel's requests read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExotelSettings {
    /// The zone of Exotel's `CurrentTime`, `StartTime` and `Created`, which carry no offset:
    /// Indian time. The policy's own zone then decides its schedules.
    pub timezone: Zone,
}

/// A time zone, written by its IANA name.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    zone: jiff::tz::TimeZone,
}

impl Zone {
    pub fn new(name: &str) -> Result<Zone, String> {
        let zone = jiff::tz::TimeZone::get(name)
            .map_err(|_| format!("`{name}` is no IANA time zone (like `Asia/Kolkata`)"))?;
        Ok(Zone {
            name: name.to_string(),
            zone,
        })
    }

    pub fn zone(&self) -> &jiff::tz::TimeZone {
        &self.zone
    }
}

impl Default for Zone {
    fn default() -> Zone {
        Zone {
            name: "Asia/Kolkata".into(),
            zone: crate::exotel::indian_time(),
        }
    }
}

impl PartialEq for Zone {
    fn eq(&self, other: &Zone) -> bool {
        self.name == other.name
    }
}

impl Serialize for Zone {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for Zone {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Zone, D::Error> {
        let name = String::deserialize(d)?;
        Zone::new(&name).map_err(serde::de::Error::custom)
    }
}

/// The answer when no policy has ever loaded (a broken policy at start).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fallback {
    /// Numbers to dial, E.164 or national.
    pub numbers: Vec<String>,
    /// The Passthru branch label answered with 200; others get 302.
    pub branch: Option<String>,
}

impl Fallback {
    pub fn is_set(&self) -> bool {
        !self.numbers.is_empty() || self.branch.is_some()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// One JSON line per decision on stdout.
    pub decisions: bool,
    /// Show only the country code and last four digits of the caller's number.
    pub mask_caller: bool,
    /// Operational messages on stderr: `text` or `json` lines.
    pub format: LogFormat,
    /// Which operational messages: a `tracing` filter (`info`, `routec=debug`); `RUST_LOG`
    /// wins when set.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> LogSettings {
        LogSettings {
            decisions: true,
            mask_caller: false,
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StateSettings {
    pub store: StoreKind,
    /// The memory store's snapshot file, written every `snapshot_secs` and on shutdown.
    pub snapshot: Option<PathBuf>,
    pub snapshot_secs: u64,
    pub redis_url: String,
    /// Prefix of every Redis key, so that several policies can share one Redis.
    pub key_prefix: String,
    /// How long an agent offered to a call stays reserved for it at most: the call's events
    /// (completed, or unanswered) release it sooner; this covers events that never come.
    /// 0 turns reservations off.
    pub reservation_secs: u64,
}

impl Default for StateSettings {
    fn default() -> StateSettings {
        StateSettings {
            store: StoreKind::Memory,
            snapshot: None,
            snapshot_secs: 10,
            redis_url: "redis://127.0.0.1:6379".into(),
            key_prefix: "routec".into(),
            reservation_secs: 3600,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    Memory,
    Redis,
}

/// A secret from a file, without the line end editors and `echo` add.
fn read_secret(path: &Path, setting: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "error: `{setting}`: cannot read `{}`: {}",
            path.display(),
            e.to_string().to_lowercase()
        )
    })?;
    let secret = text.trim_end_matches(['\n', '\r']).to_string();
    if secret.is_empty() {
        return Err(format!("error: `{setting}`: `{}` is empty", path.display()));
    }
    Ok(secret)
}

/// Environment variables that start with `ROUTEC_` but are not settings.
const NOT_SETTINGS: [&str; 3] = ["ROUTEC_TEST_", "ROUTEC_BENCH_", "ROUTEC_EXAMPLE_"];

impl Config {
    /// Why the admin listener must not start where it is set to: without an admin token, it
    /// serves this machine only.
    pub fn admin_listen_refusal(&self) -> Option<String> {
        if self.admin_token.is_some() {
            return None;
        }
        (!is_loopback(&self.admin_listen)).then(|| {
            format!(
                "error: `admin_listen` is `{}`, beyond this machine, and no `admin_token` is set: \
                 set `admin_token` (or `admin_token_file`) to serve `/v1` and `/metrics` there, \
                 or listen on 127.0.0.1",
                self.admin_listen
            )
        })
    }

    pub fn budget(&self) -> Duration {
        Duration::from_millis(self.budget_ms)
    }

    /// Reads the file (if any), then the `ROUTEC_*` variables of `env`. Errors are rendered
    /// for a person: a YAML problem as a diagnostic pointing into the file. Variables that name
    /// no setting come back as warnings.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<(Config, Vec<String>), String> {
        let mut config = match file {
            Some(path) => Self::read_file(path)?,
            None => Config::default(),
        };
        let mut warnings = Vec::new();
        let mut vars: Vec<(String, String)> = env
            .into_iter()
            .filter(|(k, _)| k.starts_with("ROUTEC_"))
            .filter(|(k, _)| !NOT_SETTINGS.iter().any(|p| k.starts_with(p)))
            .collect();
        vars.sort();
        for (name, value) in vars {
            match config.with_variable(&name, &value) {
                Ok(Some(c)) => config = c,
                Ok(None) => {
                    warnings.push(format!("warning: `{name}` names no setting; it is ignored"))
                }
                Err(e) => return Err(format!("error: `{name}`: {e}")),
            }
        }
        // A secret given as a file is read now: a file that cannot be read stops the server.
        if let Some(path) = &config.admin_token_file {
            config.admin_token = Some(read_secret(path, "admin_token_file")?);
        }
        if let Some(path) = &config.exotel_token_file {
            config.exotel_token = Some(read_secret(path, "exotel_token_file")?);
        }
        // An empty secret would be one anybody can send.
        config.admin_token = config.admin_token.filter(|t| !t.is_empty());
        config.exotel_token = config.exotel_token.filter(|t| !t.is_empty());
        Ok((config, warnings))
    }

    fn read_file(path: &Path) -> Result<Config, String> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            format!(
                "error: cannot read `{}`: {}",
                path.display(),
                e.to_string().to_lowercase()
            )
        })?;
        // An empty file is every default (YAML reads it as null).
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        serde_saphyr::from_str_with_options::<Config>(&text, options)
            .map_err(|e| crate::diagnostic::render_yaml_error(&e, &text, path))
    }

    /// This configuration with one `ROUTEC_*` variable applied: `ROUTEC_CONNECT_RECORD=true`
    /// sets `connect.record`. `None` when it names no setting.
    fn with_variable(&self, name: &str, value: &str) -> Result<Option<Config>, String> {
        let Some(rest) = name.strip_prefix("ROUTEC_") else {
            return Ok(None);
        };
        let tree = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let mut probe = tree.clone();
        let Some(slot) = setting(&mut probe, rest) else {
            return Ok(None);
        };
        // An unset setting does not say its type: try the text as a number, then as text.
        let mut last_error = String::new();
        for candidate in env_values(slot, value) {
            let mut tree = tree.clone();
            if let Some(slot) = setting(&mut tree, rest) {
                *slot = candidate;
            }
            match serde_json::from_value(tree) {
                Ok(config) => return Ok(Some(config)),
                Err(e) => last_error = e.to_string(),
            }
        }
        Err(last_error)
    }
}

/// The setting a variable name (without `ROUTEC_`) names: `CONNECT_MAX_RINGING_DURATION` is
/// `connect.max_ringing_duration`. Keys hold underscores too, so each key is tried as a prefix.
fn setting<'a>(tree: &'a mut serde_json::Value, name: &str) -> Option<&'a mut serde_json::Value> {
    let serde_json::Value::Object(map) = tree else {
        return None;
    };
    // The exact name, else the longest section it starts with: `ADMIN_TOKEN_FILE` is
    // `admin_token_file`, not `admin_token` and the rest.
    let key = map
        .keys()
        .filter(|k| {
            let upper = k.to_ascii_uppercase();
            name == upper
                || name
                    .strip_prefix(upper.as_str())
                    .is_some_and(|r| r.starts_with('_'))
        })
        .max_by_key(|k| (k.eq_ignore_ascii_case(name), k.len()))?;
    let key = key.clone();
    let upper = key.to_ascii_uppercase();
    let child = map.get_mut(&key)?;
    if name == upper {
        // A section cannot be set whole from one variable.
        return (!child.is_object()).then_some(child);
    }
    setting(child, &name[upper.len() + 1..])
}

/// Readings of a variable's text as the kind of value the setting holds, most likely first;
/// what does not read stays text, and the setting's own type then says what is wrong.
fn env_values(current: &serde_json::Value, text: &str) -> Vec<serde_json::Value> {
    use serde_json::Value as J;
    let as_text = J::String(text.into());
    match current {
        J::Bool(_) => vec![match text.to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => J::Bool(true),
            "false" | "0" | "no" | "off" => J::Bool(false),
            _ => as_text,
        }],
        J::Array(_) => vec![J::Array(
            text.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| J::String(s.into()))
                .collect(),
        )],
        J::Number(_) => vec![text.parse::<u64>().map_or(as_text, |n| J::Number(n.into()))],
        // Empty unsets an optional setting.
        J::Null if text.is_empty() => vec![J::Null],
        J::Null => match text.parse::<u64>() {
            Ok(n) => vec![J::Number(n.into()), as_text],
            Err(_) => vec![as_text],
        },
        _ => vec![as_text],
    }
}

/// Whether `host` (a `Host` header or a listen address, with or without a port) names this
/// machine: `localhost`, `127.0.0.1`, `[::1]`.
pub fn is_loopback(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name == "localhost"
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn secrets_may_be_read_from_files() {
        let dir = tempfile::tempdir().unwrap();
        let admin = dir.path().join("admin");
        std::fs::write(&admin, "s3cret\n").unwrap();
        let path = admin.display().to_string();
        let (c, warnings) = Config::load(None, env(&[("ROUTEC_ADMIN_TOKEN_FILE", &path)])).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.admin_token.as_deref(), Some("s3cret"));
        let exotel = dir.path().join("exotel");
        std::fs::write(&exotel, "k3y").unwrap();
        let path = exotel.display().to_string();
        let (c, _) = Config::load(None, env(&[("ROUTEC_EXOTEL_TOKEN_FILE", &path)])).unwrap();
        assert_eq!(c.exotel_token.as_deref(), Some("k3y"));
        // A file that is not there, or empty, stops the server with a reason.
        let missing = dir.path().join("nope").display().to_string();
        let error = Config::load(None, env(&[("ROUTEC_ADMIN_TOKEN_FILE", &missing)])).unwrap_err();
        assert!(error.contains("`admin_token_file`: cannot read"), "{error}");
        std::fs::write(&admin, "\n").unwrap();
        let path = admin.display().to_string();
        let error = Config::load(None, env(&[("ROUTEC_ADMIN_TOKEN_FILE", &path)])).unwrap_err();
        assert!(error.contains("is empty"), "{error}");
    }

    #[test]
    fn variables_override_nested_settings() {
        let (c, warnings) = Config::load(
            None,
            env(&[
                ("ROUTEC_CONNECT_MAX_RINGING_DURATION", "45"),
                ("ROUTEC_CONNECT_RECORD", "true"),
                ("ROUTEC_BUDGET_MS", "300"),
                ("ROUTEC_ADMIN_TOKEN", "12345"),
                ("ROUTEC_EXOTEL_TOKEN", ""),
                ("ROUTEC_FALLBACK_NUMBERS", "+919800000001, 09800000002"),
                ("ROUTEC_STATE_STORE", "redis"),
                ("ROUTEC_TEST_REDIS_URL", "ignored"),
                ("PATH", "/bin"),
            ]),
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(c.connect.max_ringing_duration, Some(45));
        assert!(c.connect.record);
        assert_eq!(c.budget_ms, 300);
        assert_eq!(c.admin_token.as_deref(), Some("12345"));
        assert_eq!(c.exotel_token, None);
        assert_eq!(c.fallback.numbers, ["+919800000001", "09800000002"]);
        assert_eq!(c.state.store, StoreKind::Redis);
    }

    /// Every leaf of the settings tree, as (`a.b.c`, value).
    fn leaves(prefix: &str, tree: &serde_json::Value, out: &mut Vec<(String, serde_json::Value)>) {
        match tree {
            serde_json::Value::Object(map) => {
                for (k, v) in map {
                    let path = if prefix.is_empty() {
                        k.clone()
                    } else {
                        format!("{prefix}.{k}")
                    };
                    leaves(&path, v, out);
                }
            }
            leaf => out.push((prefix.to_string(), leaf.clone())),
        }
    }

    #[test]
    fn every_setting_can_be_set_from_the_environment() {
        let defaults = serde_json::to_value(Config::default()).unwrap();
        let mut all = Vec::new();
        leaves("", &defaults, &mut all);
        assert!(all.len() > 30, "{all:?}");
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("secret");
        std::fs::write(&secret, "s").unwrap();
        let secret = secret.display().to_string();
        for (path, default) in all {
            let variable = format!("ROUTEC_{}", path.replace('.', "_").to_ascii_uppercase());
            // Values unlike the default, of the setting's kind; words for the enumerations.
            let candidates: Vec<String> = match &default {
                serde_json::Value::Bool(b) => vec![(!b).to_string()],
                serde_json::Value::Number(n) => vec![(n.as_u64().unwrap_or(0) + 7).to_string()],
                serde_json::Value::Array(_) => vec!["+919800000001,+919800000002".into()],
                _ => [
                    "7",
                    &secret,
                    "redis",
                    "json",
                    "debug",
                    "poll",
                    "national",
                    "UTC",
                    "127.0.0.1:7",
                    "dual",
                    "single",
                    "e164",
                    "x",
                ]
                .iter()
                .map(|s| s.to_string())
                .collect(),
            };
            let set = candidates.iter().find_map(|value| {
                let (config, warnings) =
                    Config::load(None, vec![(variable.clone(), value.clone())]).ok()?;
                assert!(warnings.is_empty(), "`{variable}`: {warnings:?}");
                let tree = serde_json::to_value(&config).unwrap();
                let now = path.split('.').fold(&tree, |t, k| &t[k]).clone();
                (now != default).then_some(now)
            });
            assert!(set.is_some(), "`{variable}` does not set `{path}`");
        }
    }

    #[test]
    fn a_bad_variable_is_an_error_naming_it_and_an_unknown_one_a_warning() {
        let e = Config::load(None, env(&[("ROUTEC_BUDGET_MS", "soon")])).unwrap_err();
        assert!(
            e.starts_with("error: `ROUTEC_BUDGET_MS`: invalid type"),
            "{e}"
        );
        let e = Config::load(None, env(&[("ROUTEC_STATE_STORE", "disk")])).unwrap_err();
        assert!(e.contains("unknown variant `disk`"), "{e}");
        let (_, warnings) = Config::load(None, env(&[("ROUTEC_BUDGETMS", "3")])).unwrap();
        assert_eq!(
            warnings,
            ["warning: `ROUTEC_BUDGETMS` names no setting; it is ignored"]
        );
        // A section is not a setting.
        let (_, warnings) = Config::load(None, env(&[("ROUTEC_CONNECT", "x")])).unwrap();
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn national_format_keeps_foreign_numbers_international() {
        let india = crate::phone::india();
        assert_eq!(
            NumberFormat::National.write("+919812345678", india),
            "09812345678"
        );
        assert_eq!(
            NumberFormat::National.write("+14155550100", india),
            "+14155550100"
        );
        assert_eq!(
            NumberFormat::E164.write("+919812345678", india),
            "+919812345678"
        );
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    fn load(yaml: &str) -> Result<Config, String> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("routec.yaml");
        std::fs::write(&path, yaml).unwrap();
        Config::load(Some(&path), Vec::new()).map(|(c, _)| c)
    }

    #[test]
    fn a_file_sets_what_it_names_and_the_rest_stays_default() {
        let c = load("listen: 0.0.0.0:9000\nconnect:\n  record: true\n  number_format: national\n")
            .unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert!(c.connect.record);
        assert_eq!(c.connect.number_format, NumberFormat::National);
        assert_eq!(c.budget_ms, 1000);
        assert_eq!(load("").unwrap(), Config::default());
    }

    #[test]
    fn unknown_keys_are_diagnostics_pointing_into_the_file() {
        let e = load("connect:\n  recrod: true\n").unwrap_err();
        assert!(e.contains("unknown field `recrod`"), "{e}");
        assert!(e.contains("routec.yaml"), "{e}");
        let e = load("connect:\n  number_format: local\n").unwrap_err();
        assert!(e.contains("unknown variant `local`"), "{e}");
    }
}
