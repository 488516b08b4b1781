//! Server: a prepared policy in; answers to Exotel's Connect and Passthru applets and the
//! decision API out, over HTTP (axum). A request uses one policy version from start to end.

mod agents;
pub mod config;
mod metrics;

pub use config::Config;
pub use metrics::Metrics;

use std::borrow::Cow;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;

use crate::Prepared;
use crate::eval::Decision;
use crate::exotel::Call;
use crate::facts::Facts;
use crate::source::SourceFiles;
use crate::state::{AgentSnapshot, DecideContext, KnownAnswer, Routed, StateStore};

/// Largest request body read; Exotel's parameters are a few hundred bytes.
const MAX_BODY: usize = 64 * 1024;
/// Most parameters read from one request.
const MAX_PARAMS: usize = 200;

/// A policy version being served, with when it was loaded.
pub struct Serving {
    pub prepared: Prepared,
    pub loaded_at: jiff::Timestamp,
    /// A hash of the policy's files: which version answered.
    pub version: String,
}

impl Serving {
    pub fn new(prepared: Prepared, files: &SourceFiles) -> Serving {
        let version = version_of(files, &data_files(&prepared.policy.checked));
        Serving {
            prepared,
            loaded_at: jiff::Timestamp::now(),
            version,
        }
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
}

impl AppState {
    /// With agent state in memory (no snapshot file).
    pub fn new(serving: Option<Serving>, config: Config) -> AppState {
        let store = StateStore::Memory(Box::new(crate::state::memory::MemoryStore::new(None)));
        AppState::with_store(serving, config, store)
    }

    pub fn with_store(serving: Option<Serving>, config: Config, store: StateStore) -> AppState {
        let metrics = Metrics::default();
        if let Some(s) = &serving {
            metrics.set_version(&s.version);
        }
        AppState {
            metrics,
            current: ArcSwapOption::from(serving.map(Arc::new)),
            config,
            policy_path: None,
            store,
            last_error: Mutex::new(None),
            reloading: tokio::sync::Mutex::new(()),
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
    pub async fn reload(&self) -> Result<String, String> {
        let Some(path) = &self.policy_path else {
            return Err("this server was not started from a policy path".into());
        };
        let _one_at_a_time = self.reloading.lock().await;
        let failed = |this: &Self, message: String| {
            say(&format!(
                "routec: reload failed, still serving the previous version:\n{message}"
            ));
            this.set_last_error(Some(message.clone()));
            Err(message)
        };
        let files = match SourceFiles::load(path) {
            Ok(f) => f,
            Err(e) => return failed(self, e.to_string()),
        };
        let (prepared, diagnostics) = crate::prepare(&files).await;
        let Some(prepared) = prepared else {
            let rendered: String = diagnostics
                .sorted()
                .into_iter()
                .filter(|d| d.severity() == crate::diagnostic::Severity::Error)
                .map(|d| crate::diagnostic::render(&files, d, false))
                .collect();
            return failed(self, rendered);
        };
        let serving = Serving::new(prepared, &files);
        let version = serving.version.clone();
        self.current.store(Some(Arc::new(serving)));
        self.metrics.reload(true, Some(&version));
        self.set_last_error(None);
        say(&format!("routec: reloaded, now serving version {version}"));
        Ok(version)
    }
}

/// Writes a line to stderr; a server must not panic because nobody reads it any more.
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

pub fn app(state: Arc<AppState>) -> Router {
    // GET routes answer HEAD too (axum strips the body).
    Router::new()
        .route("/exotel/connect", get(connect).post(connect))
        .route("/exotel/passthru", get(passthru).post(passthru))
        // The secret as a path segment, for URLs that cannot carry a query of their own.
        .route("/exotel/{secret}/connect", get(connect).post(connect))
        .route("/exotel/{secret}/passthru", get(passthru).post(passthru))
        .route("/exotel/events", get(agents::events).post(agents::events))
        .route(
            "/exotel/{secret}/events",
            get(agents::events).post(agents::events),
        )
        .route("/v1/agents", get(agents::list))
        .route(
            "/v1/agents/{id}/status",
            axum::routing::put(agents::set_status),
        )
        .route("/v1/decide", get(decide).post(decide))
        .route("/v1/policy", get(policy_info))
        .route("/v1/reload", axum::routing::post(reload))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics_text))
        // Larger bodies get 413 before any handler reads them.
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&state),
            track,
        ))
        .with_state(state)
}

/// Exotel's parameters from the query string and a form or JSON body, in that order,
/// borrowed from the request where no decoding was needed.
fn params<'a>(
    query: Option<&'a str>,
    json: bool,
    body: &'a [u8],
) -> Vec<(Cow<'a, str>, Cow<'a, str>)> {
    let mut out: Vec<(Cow<str>, Cow<str>)> = Vec::with_capacity(24);
    // Capped while parsing: a hostile body must not cost more than a real request.
    if let Some(q) = query {
        out.extend(form_urlencoded::parse(q.as_bytes()).take(MAX_PARAMS));
    }
    if json {
        if let Ok(serde_json::Value::Object(map)) = serde_json::from_slice(body) {
            for (k, v) in map.into_iter().take(MAX_PARAMS) {
                let text = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                out.push((Cow::Owned(k), Cow::Owned(text)));
            }
        }
    } else if !body.is_empty() {
        out.extend(form_urlencoded::parse(body).take(MAX_PARAMS));
    }
    out.truncate(MAX_PARAMS);
    out
}

/// A decision for one request, and the policy version that made it (`None`: the static
/// fallback, before any policy loaded).
struct Decided {
    serving: Option<Arc<Serving>>,
    call: Call,
    decision: Decision,
}

impl Decided {
    fn rule(&self) -> &str {
        match &self.serving {
            Some(s) => self.decision.rule.name(&s.prepared.policy.checked),
            None => "fallback",
        }
    }
}

/// Reads a request's parameters into a call, with the policy's country (India before any
/// policy loaded).
fn read_call(serving: Option<&Serving>, request: &ExotelRequest) -> Call {
    let pairs = params(request.query.as_deref(), request.json, &request.body);
    let country = serving.map_or(crate::phone::india(), |s| s.prepared.policy.checked.country);
    Call::from_params(pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())), country)
}

/// How a request about a call is answered.
enum Answered {
    Decided(Decided),
    /// The call was decided before (a repeat, or a request after an attempt): its answer.
    Known(Call, KnownAnswer),
}

/// What a request asks of the decision.
#[derive(Clone, Copy)]
struct Asking {
    /// The decision routes the call: its cursors move, its agents are reserved, and the call
    /// is recorded (Connect, `/v1/decide`); a Passthru only reads.
    commit: bool,
    /// Every rule before the one that decided is traced (`/v1/decide`).
    explained: bool,
}

/// When a call is, by Exotel's clock (Indian time, or `exotel.timezone`): without it, ours.
fn call_time(config: &Config, call: &Call) -> jiff::Timestamp {
    call.instant(config.exotel.timezone.zone())
        .unwrap_or_else(jiff::Timestamp::now)
}

/// Decides a call: with the policy the request loaded (once, so that it reads the call and
/// decides with one version), or the configured static fallback when none has loaded. A call
/// decided before is answered from its record.
async fn decide_call(
    state: &AppState,
    serving: Option<Arc<Serving>>,
    call: Call,
    started: Instant,
    asking: Asking,
) -> Answered {
    let Some(serving) = serving else {
        let decided = Decided {
            serving: None,
            decision: static_fallback(&state.config, "no policy is loaded: static fallback"),
            call,
        };
        state.log_decision(&decided, started.elapsed());
        state
            .metrics
            .decision("fallback", "fallback", &decided.decision.degraded);
        return Answered::Decided(decided);
    };
    let policy = &serving.prepared.policy;
    let mut facts = Facts::none(&policy.checked);
    let given = vec![false; policy.checked.facts.len()];
    let deadline = started + state.config.budget();
    serving
        .prepared
        .lookups
        .lookup(&policy.checked, &call, &mut facts, &given, deadline)
        .await;
    let now = call_time(&state.config, &call);
    let ctx = DecideContext {
        policy,
        call_sid: call.sid.as_deref(),
        tried: call.dial_whom.as_ref().map(|p| p.value.as_str()),
        one_at_a_time: state.config.connect.fetch_after_attempt,
        caller: call
            .from
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.as_str()),
        // Reservations run on the real clock, whatever time the request says it is.
        now_ms: jiff::Timestamp::now().as_millisecond(),
        today: policy.checked.timezone.to_datetime(now).date().to_string(),
        deadline,
        reserve_for: Duration::from_secs(state.config.state.reservation_secs),
        commit: asking.commit,
    };
    // A bug in evaluation must not leave a caller in silence: fall back instead.
    let evaluate = |agents: &AgentSnapshot| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if asking.explained {
                crate::eval::eval_explained(policy, &call, &facts, now, agents)
            } else {
                crate::eval::eval(policy, &call, &facts, now, agents)
            }
        }))
        .unwrap_or_else(|_| static_fallback(&state.config, "internal error: evaluation failed"))
    };
    let decision = match state.store.decide(&ctx, &evaluate).await {
        Routed::Decided(decision) => decision,
        Routed::Known(known) => return Answered::Known(call, known),
    };
    let decided = Decided {
        serving: Some(Arc::clone(&serving)),
        call,
        decision,
    };
    state.log_decision(&decided, started.elapsed());
    state.metrics.decision(
        decided.rule(),
        decided.decision.target.name(),
        &decided.decision.degraded,
    );
    Answered::Decided(decided)
}

/// The configured static fallback, for `reason` (with none configured: nobody is dialled, and
/// Exotel takes its "nobody dialled" branch).
fn static_fallback(config: &Config, reason: &str) -> Decision {
    let mut d = Decision::empty();
    let india = crate::phone::india();
    d.numbers = config
        .fallback
        .numbers
        .iter()
        .map(|n| crate::phone::normalize(n, india).unwrap_or_else(|| n.clone()))
        .collect();
    d.flow.clone_from(&config.fallback.branch);
    d.degraded.push(reason.into());
    d
}

impl AppState {
    /// One JSON line per decision on stdout: why every call went where it went.
    fn log_decision(&self, decided: &Decided, took: Duration) {
        if !self.config.log.decisions {
            return;
        }
        let from = decided.call.from.as_ref().map(|p| {
            if self.config.log.mask_caller {
                Cow::Owned(mask(&p.value))
            } else {
                Cow::Borrowed(p.value.as_str())
            }
        });
        let decision = &decided.decision;
        let line = DecisionLine {
            call_sid: decided.call.sid.as_deref(),
            from,
            policy: decided
                .serving
                .as_ref()
                .map(|s| s.prepared.policy.checked.name.as_str()),
            version: decided.serving.as_ref().map(|s| s.version.as_str()),
            rule: decided.rule(),
            target: decision.target.name(),
            numbers: &decision.numbers,
            queue: decision.queue.as_deref(),
            flow: decision.flow.as_deref(),
            degraded: &decision.degraded,
            latency_us: took.as_micros() as u64,
        };
        let mut buffer = Vec::with_capacity(256);
        if serde_json::to_writer(&mut buffer, &line).is_ok() {
            buffer.push(b'\n');
            // A closed or full stdout must not take a call down with it: the line is dropped.
            let _ = std::io::stdout().lock().write_all(&buffer);
        }
    }
}

/// The decision log's line, written without building a JSON tree first.
#[derive(serde::Serialize)]
struct DecisionLine<'a> {
    call_sid: Option<&'a str>,
    from: Option<Cow<'a, str>>,
    policy: Option<&'a str>,
    version: Option<&'a str>,
    rule: &'a str,
    target: &'a str,
    numbers: &'a [String],
    queue: Option<&'a str>,
    flow: Option<&'a str>,
    degraded: &'a [String],
    latency_us: u64,
}

/// Hides a caller's number in logs: the country code and the last four digits stay.
fn mask(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    let keep_start = if number.starts_with('+') { 3 } else { 0 };
    let keep_end = chars.len().saturating_sub(4).max(keep_start);
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= keep_end {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

/// Exotel's Connect "dynamic URL" answer: `numbers` to dial, none for queue and flow decisions
/// (Exotel then takes "We didn't dial anyone"), with the configured settings.
fn connect_answer(config: &Config, call: &Call, numbers: &[String], parallel: bool) -> Response {
    let connect = &config.connect;
    let country = crate::phone::india();
    let numbers: Vec<String> = numbers
        .iter()
        .map(|n| connect.number_format.write(n, country))
        .collect();
    let caller_id = match connect.outgoing_phone_number.as_deref() {
        Some("call.to") => call
            .to
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.as_str()),
        Some(number) => Some(number),
        None => None,
    };
    let max_parallel_attempts = if parallel {
        numbers.len().clamp(1, connect.max_parallel_attempts.max(1))
    } else {
        1
    };
    let answer = ConnectAnswer {
        fetch_after_attempt: connect.fetch_after_attempt,
        destination: Destination { numbers },
        outgoing_phone_number: caller_id.map(|n| connect.number_format.write(n, country)),
        record: connect.record,
        recording_channels: connect.recording_channels,
        max_ringing_duration: connect.max_ringing_duration,
        max_conversation_duration: connect.max_conversation_duration,
        parallel_ringing: ParallelRinging {
            activate: parallel,
            max_parallel_attempts,
        },
    };
    axum::Json(answer).into_response()
}

#[derive(serde::Serialize)]
struct ConnectAnswer {
    fetch_after_attempt: bool,
    destination: Destination,
    #[serde(skip_serializing_if = "Option::is_none")]
    outgoing_phone_number: Option<String>,
    record: bool,
    recording_channels: config::RecordingChannels,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_ringing_duration: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_conversation_duration: Option<u32>,
    parallel_ringing: ParallelRinging,
}

#[derive(serde::Serialize)]
struct Destination {
    numbers: Vec<String>,
}

#[derive(serde::Serialize)]
struct ParallelRinging {
    activate: bool,
    max_parallel_attempts: usize,
}

/// With a secret configured, an Exotel request must carry it, as the path segment after
/// `/exotel/` or as `token` in the query: else 403.
fn exotel_refusal(
    state: &AppState,
    path_secret: Option<&str>,
    query: Option<&str>,
) -> Option<Response> {
    let secret = state.config.exotel_token.as_ref()?;
    let given = path_secret.map(str::to_string).or_else(|| {
        query.and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
    });
    let ok = given.is_some_and(|g| same_secret(g.as_bytes(), secret.as_bytes()));
    (!ok).then(|| (StatusCode::FORBIDDEN, "wrong or missing token").into_response())
}

/// What every Exotel-facing handler reads: the secret in the path (if routed so), the query,
/// the headers and the body.
struct ExotelRequest {
    secret: Option<String>,
    query: Option<String>,
    /// The body is JSON (else a form).
    json: bool,
    body: Bytes,
}

impl<S: Send + Sync> FromRequest<S> for ExotelRequest {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        let secret =
            axum::extract::Path::<std::collections::HashMap<String, String>>::from_request_parts(
                &mut parts, state,
            )
            .await
            .ok()
            .and_then(|p| p.0.get("secret").cloned());
        let query = parts.uri.query().map(str::to_string);
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        let request = axum::extract::Request::from_parts(parts, body);
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(ExotelRequest {
            secret,
            query,
            json,
            body,
        })
    }
}

async fn connect(State(state): State<Arc<AppState>>, request: ExotelRequest) -> Response {
    let query = request.query.as_deref();
    if let Some(refusal) = exotel_refusal(&state, request.secret.as_deref(), query) {
        return refusal;
    }
    let started = Instant::now();
    let serving = state.current.load_full();
    let call = read_call(serving.as_deref(), &request);
    let asking = Asking {
        commit: true,
        explained: false,
    };
    // Always 200 with JSON: Exotel must get an answer whatever happened.
    match decide_call(&state, serving, call, started, asking).await {
        Answered::Known(call, known) => {
            connect_answer(&state.config, &call, &known.numbers, known.parallel)
        }
        Answered::Decided(decided) => {
            let decision = &decided.decision;
            // One number at a time when Exotel asks again after each attempt.
            let numbers = if state.config.connect.fetch_after_attempt
                && decided.call.sid.is_some()
                && !decision.parallel
            {
                &decision.numbers[..decision.numbers.len().min(1)]
            } else {
                &decision.numbers[..]
            };
            connect_answer(&state.config, &decided.call, numbers, decision.parallel)
        }
    }
}

async fn passthru(State(state): State<Arc<AppState>>, request: ExotelRequest) -> Response {
    let query = request.query.as_deref();
    if let Some(refusal) = exotel_refusal(&state, request.secret.as_deref(), query) {
        return refusal;
    }
    let started = Instant::now();
    let branch = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("branch"))
            .map(|(_, v)| v.into_owned())
    });
    let serving = state.current.load_full();
    let call = read_call(serving.as_deref(), &request);
    let asking = Asking {
        commit: false,
        explained: false,
    };
    let takes_branch = match decide_call(&state, serving, call, started, asking).await {
        Answered::Decided(decided) => branch.is_some_and(|branch| {
            let decision = &decided.decision;
            decision.flow.as_deref() == Some(branch.as_str())
                || decision.queue.as_deref() == Some(branch.as_str())
                || (decided.serving.is_some() && decided.rule() == branch)
        }),
        // Not committed: never a known call.
        Answered::Known(..) => false,
    };
    let content = [(header::CONTENT_TYPE, "text/plain")];
    if takes_branch {
        (StatusCode::OK, content).into_response()
    } else {
        (StatusCode::FOUND, content, [(header::LOCATION, "/")]).into_response()
    }
}

async fn decide(State(state): State<Arc<AppState>>, request: ExotelRequest) -> Response {
    let query = request.query.as_deref();
    if let Some(refusal) = exotel_refusal(&state, request.secret.as_deref(), query) {
        return refusal;
    }
    let started = Instant::now();
    let Some(serving) = state.current.load_full() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded").into_response();
    };
    let call = read_call(Some(&serving), &request);
    let mut asking = Asking {
        commit: true,
        explained: true,
    };
    let decided = loop {
        match decide_call(
            &state,
            Some(Arc::clone(&serving)),
            call.clone(),
            started,
            asking,
        )
        .await
        {
            Answered::Decided(decided) => break decided,
            // A call decided before takes no new step: shown as decided from the state now.
            Answered::Known(..) => asking.commit = false,
        }
    };
    axum::Json(decided.decision.to_json(&serving.prepared.policy)).into_response()
}

async fn policy_info(State(state): State<Arc<AppState>>) -> Response {
    let serving = state.current.load_full();
    let body = json!({
        "policy": serving.as_ref().map(|s| s.prepared.policy.checked.name.clone()),
        "version": serving.as_ref().map(|s| s.version.clone()),
        "rules": serving.as_ref().map(|s| s.prepared.policy.checked.rules.len()),
        "loaded_at": serving.as_ref().map(|s| s.loaded_at.to_string()),
        "last_reload_error": state.last_error(),
    });
    let status = if serving.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// Compares in time that does not depend on where the strings differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}

/// Admin endpoints need `Authorization: Bearer TOKEN`; with no token configured they are off.
fn admin_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    let Some(token) = &state.config.admin_token else {
        let reason = "admin endpoints are off: set ROUTEC_ADMIN_TOKEN to turn them on";
        return Some((StatusCode::FORBIDDEN, reason).into_response());
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    (!same_secret(given.as_bytes(), token.as_bytes()))
        .then(|| (StatusCode::UNAUTHORIZED, "wrong or missing admin token").into_response())
}

async fn reload(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = admin_refusal(&state, &headers) {
        return refusal;
    }
    match state.reload().await {
        Ok(version) => axum::Json(json!({"reloaded": true, "version": version})).into_response(),
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"reloaded": false, "error": error})),
        )
            .into_response(),
    }
}

/// Times every request, by endpoint.
async fn track(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let endpoint = match request.uri().path() {
        "/exotel/connect" => "exotel_connect",
        "/exotel/passthru" => "exotel_passthru",
        "/exotel/events" => "exotel_events",
        "/v1/agents" => "agents",
        "/v1/decide" => "decide",
        "/v1/policy" => "policy",
        "/v1/reload" => "reload",
        "/healthz" | "/readyz" => "health",
        "/metrics" => "metrics",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics.request(endpoint, started.elapsed());
    response
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let content = [(header::CONTENT_TYPE, "text/plain; version=0.0.4")];
    (content, state.metrics.render()).into_response()
}

async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.current.load().is_some() {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded").into_response()
    }
}
