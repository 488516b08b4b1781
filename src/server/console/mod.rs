//! The operator console on the admin listener: its embedded pages, the live feed, and the
//! JSON its pages read (rule figures, the policy's shape, playground decisions, the graph).
//! Agents, the policy and reloads are the `/v1` API's, which the pages call with a session.

pub mod live;
pub mod session;
pub mod stats;

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde_json::{Value as J, json};

use super::{AppState, Serving};
use crate::check::model::{CheckedPolicy, Type};

/// Everything the console keeps.
#[derive(Default)]
pub struct Console {
    pub sessions: session::Sessions,
    pub live: live::Live,
    pub stats: stats::RuleStats,
    /// The last graph rendered, by policy version (graphviz takes a while on large policies).
    graph: Mutex<Option<(String, Option<String>)>>,
}

/// The console's routes; behind `admin_only`, like the rest of the admin listener.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(index))
        .route("/console/app.js", get(script))
        .route("/console/app.css", get(style))
        .route(
            "/console/login",
            get(session::login_form).post(session::login),
        )
        .route("/console/logout", post(session::logout))
        .route("/console/api/session", get(session_info))
        .route("/console/api/events", get(events))
        .route("/console/api/rules", get(rules))
        .route("/console/api/shape", get(shape))
        .route("/console/api/playground", post(playground))
        .route("/console/graph.svg", get(graph))
}

/// Paths anyone may fetch: the login form and what it shows.
pub fn is_public(path: &str) -> bool {
    matches!(path, "/console/login" | "/console/app.css")
}

/// Paths of the console (not of the API).
pub fn is_console(path: &str) -> bool {
    path == "/" || path.starts_with("/console/")
}

/// Pages are never cached (a new binary may serve new ones) nor framed by another site.
fn page_headers(content_type: &'static str) -> [(header::HeaderName, HeaderValue); 4] {
    [
        (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; img-src 'self' data:; style-src 'self'; \
                 frame-ancestors 'none'; form-action 'self'",
            ),
        ),
    ]
}

async fn index() -> Response {
    let page = include_str!("assets/index.html");
    (page_headers("text/html; charset=utf-8"), Html(page)).into_response()
}

async fn script() -> Response {
    let script = include_str!("assets/app.js");
    (page_headers("text/javascript; charset=utf-8"), script).into_response()
}

async fn style() -> Response {
    let style = include_str!("assets/app.css");
    (page_headers("text/css; charset=utf-8"), style).into_response()
}

/// Where `/` sends a browser that is not logged in.
pub fn to_login() -> Response {
    Redirect::to("/console/login").into_response()
}

/// The page's CSRF token, and whether it logged in (and so may log out).
async fn session_info(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    match session::caller(&state, &headers, false) {
        Ok(session::Caller::Console(csrf)) => axum::Json(json!({
            "csrf": csrf,
            "login": state.config.admin_token.is_some(),
            "mask_caller": state.config.log.mask_caller,
        }))
        .into_response(),
        Ok(session::Caller::Token) => {
            axum::Json(json!({"csrf": null, "login": false})).into_response()
        }
        Err(refusal) => refusal.into_response(),
    }
}

async fn events(State(state): State<Arc<AppState>>) -> Response {
    state.console.live.feed().into_response()
}

fn no_policy() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded").into_response()
}

/// Each rule in policy order with its hits over 15 minutes, an hour and today, its share of
/// today's, how often it found no agent, its calls' outcomes, and its warning if any.
async fn rules(State(state): State<Arc<AppState>>) -> Response {
    let Some(serving) = state.current.load_full() else {
        return no_policy();
    };
    let checked = &serving.prepared.policy.checked;
    let now = jiff::Timestamp::now();
    let tz = &checked.timezone;
    let midnight = tz
        .to_timestamp(tz.to_datetime(now).date().at(0, 0, 0, 0))
        .map_or(now.as_millisecond(), |t| t.as_millisecond());
    let figures = state.console.stats.figures(now.as_millisecond(), midnight);
    let names = checked
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .chain(std::iter::once("otherwise"));
    let total: u64 = figures.values().map(|f| f.today).sum();
    let rules: Vec<J> = names
        .enumerate()
        .map(|(i, name)| {
            let f = figures.get(name).cloned().unwrap_or_default();
            let share = if total == 0 {
                0.0
            } else {
                (f.today as f64 * 1000.0 / total as f64).round() / 10.0
            };
            let warning = serving
                .unreachable
                .iter()
                .find(|(rule, _)| rule == name)
                .map(|(_, message)| message.clone());
            json!({"rule": name, "position": i + 1, "last_15m": f.last_15m,
                "last_hour": f.last_hour, "today": f.today, "share": share,
                "no_agent": f.no_agent, "answered": f.answered, "missed": f.missed,
                "warning": warning})
        })
        .collect();
    axum::Json(json!({"policy": checked.name, "version": serving.version, "rules": rules}))
        .into_response()
}

/// A fact's type as policies write it, and the values a select offers for it (an enum's
/// variants, a bool, an agent), if any.
fn field_type(policy: &CheckedPolicy, ty: Type) -> (String, Option<Vec<String>>) {
    let values = match ty {
        Type::Bool => Some(vec!["true".into(), "false".into()]),
        Type::Agent => Some(policy.agents.iter().map(|a| a.name.clone()).collect()),
        Type::Enum(e) => Some(policy.enums[e].variants.clone()),
        Type::String | Type::Number | Type::Phone => None,
    };
    (crate::check::type_name(ty, &policy.enums), values)
}

/// What the playground's form is built from: the facts groups and their fields (with the
/// values an enum, a bool or an agent may take), agents, teams and the time zone.
async fn shape(State(state): State<Arc<AppState>>) -> Response {
    let Some(serving) = state.current.load_full() else {
        return no_policy();
    };
    let checked = &serving.prepared.policy.checked;
    let facts: Vec<J> = checked
        .facts
        .iter()
        .map(|group| {
            let fields: Vec<J> = group
                .fields
                .iter()
                .map(|field| {
                    let (ty, values) = field_type(checked, field.ty);
                    json!({"name": field.name, "type": ty, "values": values})
                })
                .collect();
            json!({"group": group.name, "fields": fields})
        })
        .collect();
    let agents: Vec<J> = checked
        .agents
        .iter()
        .map(|a| json!({"name": a.name, "number": a.number}))
        .collect();
    let teams: Vec<J> = checked
        .teams
        .iter()
        .map(|t| {
            let members: Vec<&str> = t
                .members
                .iter()
                .map(|&m| checked.agents[m].name.as_str())
                .collect();
            json!({"name": t.name, "strategy": t.strategy.name(), "ring": t.ring,
                "members": members})
        })
        .collect();
    let now = jiff::Timestamp::now().to_zoned_datetime(checked.timezone.clone());
    axum::Json(json!({
        "policy": checked.name,
        "timezone": checked.timezone.iana_name(),
        "now": now.datetime().strftime("%Y-%m-%dT%H:%M").to_string(),
        "facts": facts,
        "agents": agents,
        "teams": teams,
        "shadow": state.shadow.is_some(),
    }))
    .into_response()
}

/// One policy's decision on a playground case, with its trace as lines.
fn decide_case(serving: &Serving, case: &J) -> J {
    let policy = &serving.prepared.policy;
    match crate::case::read(&policy.checked, case, "", &[]) {
        Ok(case) => {
            let now = case.at.unwrap_or_else(jiff::Timestamp::now);
            let decision =
                crate::eval::eval_explained(policy, &case.call, &case.facts, now, &case.agents);
            let mut out = decision.to_json(policy);
            out["explain"] = json!(decision.explain(policy));
            out["version"] = json!(serving.version);
            out
        }
        Err(e) => json!({"error": e.to_string()}),
    }
}

/// `POST /console/api/playground` with a case (as `routec eval` reads): the active policy's
/// decision and trace, and the shadow candidate's when one is set. Sources are not asked and
/// nothing is recorded: no cursor moves, no agent is reserved, no decision is logged.
async fn playground(State(state): State<Arc<AppState>>, body: axum::body::Bytes) -> Response {
    let Some(serving) = state.current.load_full() else {
        return no_policy();
    };
    let case: J = match serde_json::from_slice(&body) {
        Ok(case @ J::Object(_)) => case,
        Ok(_) => {
            return (StatusCode::BAD_REQUEST, "the body must be a JSON object").into_response();
        }
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("the body is not valid JSON: {e}"),
            )
                .into_response();
        }
    };
    let active = decide_case(&serving, &case);
    if let Some(error) = active.get("error") {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"error": error})),
        )
            .into_response();
    }
    let candidate = state
        .shadow
        .as_ref()
        .and_then(|s| s.current.load_full())
        .map(|candidate| decide_case(&candidate, &case));
    axum::Json(json!({"active": active, "candidate": candidate})).into_response()
}

/// `GET /console/graph.svg`: the policy's decision graph (`routec graph`) drawn by Graphviz
/// when `dot` is installed; 404 with the reason when it is not.
async fn graph(State(state): State<Arc<AppState>>) -> Response {
    let Some(serving) = state.current.load_full() else {
        return no_policy();
    };
    let cached = state
        .console
        .graph
        .lock()
        .ok()
        .and_then(|g| g.clone())
        .filter(|(version, _)| *version == serving.version);
    let svg = match cached {
        Some((_, svg)) => svg,
        None => {
            let dot =
                crate::graph::graph(&serving.prepared.policy.checked, crate::graph::Format::Dot);
            let svg = tokio::task::spawn_blocking(move || render_svg(&dot))
                .await
                .ok()
                .flatten();
            if let Ok(mut cache) = state.console.graph.lock() {
                *cache = Some((serving.version.clone(), svg.clone()));
            }
            svg
        }
    };
    match svg {
        Some(svg) => (page_headers("image/svg+xml"), svg).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no graph: Graphviz (`dot`) is not installed on the server; `routec graph` prints the DOT",
        )
            .into_response(),
    }
}

/// `dot -Tsvg`, if Graphviz is installed.
fn render_svg(dot: &str) -> Option<String> {
    use std::io::Write as _;
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    let text = dot.to_string();
    let writer = std::thread::spawn(move || stdin.write_all(text.as_bytes()));
    let out = child.wait_with_output().ok()?;
    let _ = writer.join();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
