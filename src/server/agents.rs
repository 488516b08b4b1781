//! Agent activity: Exotel's async Passthrus and status callbacks in (`/exotel/events`), the
//! agent API (`GET /v1/agents`, `PUT /v1/agents/{id}/status`); the state store updated.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, ExotelRequest, admin_refusal, exotel_refusal};
use crate::call::Call;
use crate::exotel::events::{Reported, read_event};
use crate::exotel::params::pairs;
use crate::state::Status;

/// `/exotel/events`: always 200 for Exotel (it cannot act on anything else); the body says
/// what was recorded.
pub(super) async fn events(State(state): State<Arc<AppState>>, request: ExotelRequest) -> Response {
    let query = request.query();
    if let Some(refusal) = exotel_refusal(&state, request.secret.as_deref(), query) {
        return refusal;
    }
    let text = [(header::CONTENT_TYPE, "text/plain")];
    let Some(serving) = state.current.load_full() else {
        return (text, "ignored: no policy is loaded").into_response();
    };
    let policy = &serving.prepared.policy;
    let pairs = pairs(query, request.json, &request.body);
    let call = Call::from_params(
        pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
        policy.checked.country,
    );
    let at = super::call_time(&state.config, &call);
    let event = match read_event(policy, &call, &pairs, at) {
        Reported::Event(e) => e,
        Reported::Ignored(why) => return (text, format!("ignored: {why}")).into_response(),
    };
    let answer = match state.store.event(&event).await {
        Ok(true) => {
            state.console.stats.outcome(&event.call_sid, event.kind);
            format!("recorded: {} {}", event.agent, event.kind.verb())
        }
        Ok(false) => format!(
            "repeat: {} {} was recorded before",
            event.agent,
            event.kind.verb()
        ),
        Err(e) => {
            tracing::warn!(call_sid = %event.call_sid, "event not recorded: {e}");
            format!("recorded here, not yet shared: {e}")
        }
    };
    (text, answer).into_response()
}

pub(super) async fn list(State(state): State<Arc<AppState>>) -> Response {
    let Some(serving) = state.current.load_full() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded").into_response();
    };
    let policy = &serving.prepared.policy;
    let now = jiff::Timestamp::now();
    let today = policy.checked.timezone.to_datetime(now).date().to_string();
    let (agents, degraded) = state
        .store
        .agents(policy, &today, now.as_millisecond())
        .await;
    axum::Json(json!({"agents": agents, "degraded": degraded})).into_response()
}

/// `PUT /v1/agents/{id}/status` with `{"status": "break"}`, `status=break` or `break`.
pub(super) async fn set_status(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refusal) = admin_refusal(&state, &headers) {
        return refusal;
    }
    let Some(serving) = state.current.load_full() else {
        return (StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded").into_response();
    };
    let policy = &serving.prepared.policy.checked;
    let Some(agent) = policy.agents.iter().find(|a| a.name == id) else {
        let known: Vec<&str> = policy.agents.iter().map(|a| a.name.as_str()).collect();
        let suggestion = crate::check::similar::nearest(&id, known.iter().copied())
            .map(|s| format!(" (did you mean `{s}`?)"))
            .unwrap_or_default();
        return (
            StatusCode::NOT_FOUND,
            format!("unknown agent `{id}`{suggestion}"),
        )
            .into_response();
    };
    let text = String::from_utf8_lossy(&body);
    let given = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("status")?.as_str().map(String::from))
        .or_else(|| {
            form_urlencoded::parse(text.as_bytes())
                .find(|(k, _)| k == "status")
                .map(|(_, v)| v.into_owned())
        })
        .unwrap_or_else(|| text.trim().to_string());
    let Some(status) = Status::from_name(&given) else {
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("`{given}` is no status: use available, busy, offline or break"),
        )
            .into_response();
    };
    match state.store.set_status(&agent.name, status).await {
        Ok(()) => axum::Json(json!({"agent": agent.name, "status": status.name()})).into_response(),
        Err(e) => {
            tracing::warn!(agent = %agent.name, "status not recorded: {e}");
            axum::Json(json!({"agent": agent.name, "status": status.name(), "degraded": e}))
                .into_response()
        }
    }
}
