//! Server: a prepared policy in; answers to Exotel's Connect and Passthru applets and the
//! decision API out, over HTTP (axum). A request uses one policy version from start to end.

mod admin;
mod agents;
pub mod config;
pub mod console;
mod decide;
mod drain;
pub mod listen;
mod log;
pub mod logging;
mod metrics;
mod per_thread;
mod request;
pub mod shadow;
mod shortcut;
mod track;

pub use config::Config;
pub use metrics::{Metrics, Trigger};
pub use shortcut::Shortcut;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use axum::Router;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::get;

use crate::Prepared;
use crate::diagnostic::JsonDiagnostic;
use crate::policy_files::SourceFiles;
use crate::state::StateStore;
pub(crate) use admin::admin_refusal;
use admin::{admin_only, metrics_text, openapi, policy_info, ready, reload, shadow_report};
pub(crate) use decide::call_time;
use decide::{connect, decide, passthru};
pub(crate) use request::{ExotelRequest, exotel_refusal};

/// Largest request body read; Exotel's parameters are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;

/// A policy version being served, with when it was loaded.
pub struct Serving {
    pub prepared: Prepared,
    pub loaded_at: jiff::Timestamp,
    /// A hash of the policy's files: which version answered.
    pub version: String,
    /// Where its decisions are counted, by rule index.
    pub(crate) counters: metrics::DecisionCounters,
    /// Its files, as given.
    pub files: Vec<String>,
    /// Rules that can never fire, with the checker's warning: (rule, message).
    pub unreachable: Vec<(String, String)>,
}

impl Serving {
    pub fn new(prepared: Prepared, files: &SourceFiles) -> Serving {
        let version = version_of(files, &data_files(&prepared.policy.checked));
        Serving {
            prepared,
            loaded_at: jiff::Timestamp::now(),
            version,
            counters: metrics::DecisionCounters::unattached(),
            files: files
                .files
                .iter()
                .map(|f| f.path.display().to_string())
                .collect(),
            unreachable: Vec::new(),
        }
    }

    /// Keeps what the console shows of the policy's warnings: its unreachable rules.
    pub fn noting(mut self, diagnostics: &crate::diagnostic::Diagnostics) -> Serving {
        self.unreachable = diagnostics
            .warnings
            .iter()
            .filter_map(|d| match &d.kind {
                crate::diagnostic::Kind::Unreachable { rule, .. } => {
                    Some((rule.clone(), d.message()))
                }
                _ => None,
            })
            .collect();
        self
    }
}

/// The data files a policy reads (fact tables, prefix maps, holiday lists), as paths.
fn data_files(policy: &crate::check::model::CheckedPolicy) -> Vec<PathBuf> {
    let tables = policy
        .sources
        .iter()
        .filter(|s| s.kind.is_file())
        .map(|s| s.location.as_str());
    let maps = policy
        .maps
        .iter()
        .filter_map(|m| Some(m.file.as_ref()?.path.as_str()));
    let holidays = policy
        .schedules
        .iter()
        .flat_map(|s| s.closed_files.iter().map(|f| f.path.as_str()));
    tables
        .chain(maps)
        .chain(holidays)
        .map(|p| policy.base_dir.join(p))
        .collect()
}

/// FNV-1a over the policy files' paths and texts and its data files' paths and bytes, as 16
/// hex digits: a change to any of them is a new version.
pub fn version_of(files: &SourceFiles, data: &[PathBuf]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut add = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in &files.files {
        add(file.path.to_string_lossy().as_bytes());
        add(&[0]);
        add(file.text.as_bytes());
    }
    for path in data {
        add(path.to_string_lossy().as_bytes());
        add(&[0]);
        // A file that cannot be read counts as empty: the policy loaded without it.
        add(&std::fs::read(path).unwrap_or_default());
    }
    format!("{h:016x}")
}

pub struct AppState {
    /// `None` until a policy has loaded.
    pub current: ArcSwapOption<Serving>,
    /// Settings: the budget, tokens, what Connect answers carry, the static fallback.
    pub config: Config,
    /// Where the policy is read from on reload (`None`: no reloads).
    pub policy_path: Option<PathBuf>,
    /// Agent state: status, counts, cursors, reservations.
    pub store: StateStore,
    /// The last reload that failed, rendered, until a reload succeeds.
    last_error: Mutex<Option<String>>,
    /// One reload at a time.
    reloading: tokio::sync::Mutex<()>,
    pub metrics: Metrics,
    /// The decision log's queue to its writer.
    pub(crate) log: log::DecisionLog,
    /// A candidate policy shadowing the active one (`shadow:`), if any.
    pub shadow: Option<Arc<shadow::Shadow>>,
    /// The operator console's sessions, live feed and rule figures.
    pub console: console::Console,
}

impl AppState {
    /// Waits, `within` at most, for the decision log's queued lines to be written.
    pub fn flush_log(&self, within: std::time::Duration) {
        self.log.flush(within);
    }

    /// With agent state in memory (no snapshot file).
    pub fn new(serving: Option<Serving>, config: Config) -> AppState {
        let store = StateStore::Memory(Box::new(crate::state::memory::MemoryStore::new(None)));
        AppState::with_store(serving, config, store)
    }

    pub fn with_store(serving: Option<Serving>, config: Config, store: StateStore) -> AppState {
        let metrics = Metrics::default();
        let serving = serving.map(|mut s| {
            s.counters = metrics.counters_for(&s.prepared.policy);
            Arc::new(s)
        });
        AppState {
            metrics,
            current: ArcSwapOption::from(serving),
            config,
            policy_path: None,
            store,
            last_error: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
            log: log::DecisionLog::to_stdout(),
            shadow: None,
            console: console::Console::default(),
        }
    }

    fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn set_last_error(&self, error: Option<String>) {
        *self.last_error.lock().unwrap_or_else(|e| e.into_inner()) = error;
    }

    /// Reads, checks and compiles the policy again, off the request path, and swaps it in only
    /// if it loads without errors; otherwise the old version keeps serving and the error is
    /// kept for `/v1/policy`. Requests under way finish with the version they started with.
    pub async fn reload(&self, trigger: Trigger) -> Result<String, String> {
        let Some(path) = &self.policy_path else {
            return Err("this server was not started from a policy path".into());
        };
        let _one_at_a_time = self.reloading.lock().await;
        let result = self.reload_from(path).await;
        // The candidate reloads on the same triggers; what becomes of it never touches the
        // active policy.
        if let Some(shadow) = &self.shadow
            && let Err(refusal) = shadow.reload().await
        {
            tracing::error!(
                candidate = %shadow.path.display(),
                "the shadow candidate does not load; shadowing with the version before, if any: {}",
                refusal.trim_end()
            );
        }
        self.metrics.reload(result.is_ok(), trigger);
        let trigger = trigger.name();
        match &result {
            Ok(version) => {
                self.set_last_error(None);
                tracing::info!(trigger, version = %version, "reloaded the policy");
            }
            Err(refusal) => {
                self.set_last_error(Some(refusal.rendered.clone()));
                let errors = refusal.json.len();
                match self.config.log.format {
                    logging::LogFormat::Json => {
                        let diagnostics = serde_json::to_string(&refusal.json).unwrap_or_default();
                        tracing::error!(
                            trigger,
                            errors,
                            diagnostics = diagnostics.as_str(),
                            "reload failed, still serving the previous version"
                        );
                    }
                    logging::LogFormat::Text => {
                        tracing::error!(
                            trigger,
                            errors,
                            "reload failed, still serving the previous version"
                        );
                        // The report as `routec check` prints it, for the person reading.
                        use std::io::Write as _;
                        let _ = write!(std::io::stderr().lock(), "{}", refusal.rendered);
                    }
                }
            }
        }
        result.map_err(|refusal| refusal.rendered)
    }

    /// Loads the policy at `path` and serves it if it has no errors.
    async fn reload_from(&self, path: &std::path::Path) -> Result<String, Refusal> {
        let files = SourceFiles::load(path).map_err(|e| Refusal {
            rendered: format!("error: {e}\n"),
            json: vec![JsonDiagnostic::io(path, &e.to_string())],
        })?;
        let (prepared, diagnostics) = crate::prepare(&files).await;
        let Some(prepared) = prepared else {
            let errors: Vec<_> = diagnostics
                .sorted()
                .into_iter()
                .filter(|d| d.severity() == crate::diagnostic::Severity::Error)
                .collect();
            return Err(Refusal {
                rendered: errors
                    .iter()
                    .map(|d| crate::diagnostic::render(&files, d, false))
                    .collect(),
                json: errors
                    .iter()
                    .map(|d| JsonDiagnostic::new(&files, d))
                    .collect(),
            });
        };
        let mut serving = Serving::new(prepared, &files).noting(&diagnostics);
        let version = serving.version.clone();
        // Nothing changed (a touch, a checkout of the same files): keep the version served,
        // with its sources' caches and breakers.
        if self
            .current
            .load()
            .as_ref()
            .is_some_and(|s| s.version == version)
        {
            return Ok(version);
        }
        serving.counters = self.metrics.counters_for(&serving.prepared.policy);
        self.current.store(Some(Arc::new(serving)));
        Ok(version)
    }
}

/// Why a reload was refused: its errors, rendered and as JSON.
struct Refusal {
    rendered: String,
    json: Vec<JsonDiagnostic>,
}

/// The Exotel-facing listener's app: Exotel's endpoints and health, nothing else.
pub fn app(state: Arc<AppState>) -> Router {
    let routes = ExotelRoutes {
        router: Router::new(),
        state: Arc::clone(&state),
    };
    // (Larger bodies get 413 from `ExotelRequest`, which reads them.)
    routes
        .route(shortcut::CONNECT, connect, true)
        .route(shortcut::PASSTHRU, passthru, true)
        // The secret as a path segment, for URLs that cannot carry a query of their own.
        .route("/exotel/{secret}/connect", connect, true)
        .route("/exotel/{secret}/passthru", passthru, true)
        .route("/exotel/events", agents::events, true)
        .route("/exotel/{secret}/events", agents::events, true)
        .route("/healthz", || async { "ok" }, false)
        .route("/readyz", ready, false)
        .router
        .fallback(
            (|| async { StatusCode::NOT_FOUND }).layer(track::TrackLayer {
                state: Arc::clone(&state),
                route: track::Template::Unmatched,
            }),
        )
        .with_state(state)
}

/// [`app`]'s routes, each handler timed under its route's template (`track`), as are the
/// methods a route refuses.
struct ExotelRoutes {
    router: Router<Arc<AppState>>,
    state: Arc<AppState>,
}

impl ExotelRoutes {
    /// `handler` answers GET (and so HEAD: axum strips the body), and POST if `post`.
    fn route<H, T>(self, template: &'static str, handler: H, post: bool) -> Self
    where
        H: Handler<T, Arc<AppState>>,
        T: 'static,
    {
        let track = track::TrackLayer {
            state: Arc::clone(&self.state),
            route: track::Template::Known(template),
        };
        let mut methods = get(handler.clone().layer(track.clone()));
        if post {
            methods = methods.post(handler.layer(track.clone()));
        }
        let methods = methods.fallback((|| async { StatusCode::METHOD_NOT_ALLOWED }).layer(track));
        ExotelRoutes {
            router: self.router.route(template, methods),
            state: self.state,
        }
    }
}

/// The operators' listener's app: the console, the `/v1` API, metrics and health. With an
/// admin token set, every request but health and the login form needs it (or a console
/// session).
pub fn admin_app(state: Arc<AppState>) -> Router {
    console::routes()
        .route("/v1/agents", get(agents::list))
        .route(
            "/v1/agents/{id}/status",
            axum::routing::put(agents::set_status),
        )
        .route("/v1/decide", get(decide).post(decide))
        .route("/v1/policy", get(policy_info))
        .route("/v1/reload", axum::routing::post(reload))
        .route("/v1/shadow", get(shadow_report))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        .route("/v1/openapi.json", get(openapi))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            admin_only,
        ))
        .layer(track::TrackLayer {
            state: Arc::clone(&state),
            route: track::Template::Matched,
        })
        .with_state(state)
}
