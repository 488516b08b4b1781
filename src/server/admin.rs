//! Operators' endpoints: the policy served, reloads, health, readiness, metrics, and the
//! timing of every request.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::console::{self, session};

pub(super) async fn policy_info(State(state): State<Arc<AppState>>) -> Response {
    let serving = state.current.load_full();
    let body = json!({
        "policy": serving.as_ref().map(|s| s.prepared.policy.checked.name.clone()),
        "version": serving.as_ref().map(|s| s.version.clone()),
        "rules": serving.as_ref().map(|s| s.prepared.policy.checked.rules.len()),
        "loaded_at": serving.as_ref().map(|s| s.loaded_at.to_string()),
        "files": serving.as_ref().map(|s| s.files.clone()),
        "last_reload_error": state.last_error(),
    });
    let status = if serving.is_some() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(body)).into_response()
}

/// What the shadow candidate decided differently (`shadow:`); 404 when none is set.
pub(super) async fn shadow_report(State(state): State<Arc<AppState>>) -> Response {
    match &state.shadow {
        Some(shadow) => axum::Json(shadow.report()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            "no shadow candidate: set `shadow: PATH` or `routec serve --shadow PATH`",
        )
            .into_response(),
    }
}

/// Admin endpoints that change something need `Authorization: Bearer TOKEN`, or a console
/// session with its CSRF token; with no token configured, only the console (of this machine)
/// may change anything.
pub(crate) fn admin_refusal(state: &AppState, headers: &HeaderMap) -> Option<Response> {
    session::caller(state, headers, true)
        .err()
        .map(IntoResponse::into_response)
}

pub(super) async fn reload(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Some(refusal) = admin_refusal(&state, &headers) {
        return refusal;
    }
    match state.reload(super::Trigger::Api).await {
        Ok(version) => axum::Json(json!({"reloaded": true, "version": version})).into_response(),
        Err(error) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            axum::Json(json!({"reloaded": false, "error": error})),
        )
            .into_response(),
    }
}

/// The OpenAPI 3.1 description of both listeners (`api/openapi.json`).
pub(super) async fn openapi() -> Response {
    let content = [(header::CONTENT_TYPE, "application/json")];
    (content, include_str!("../../api/openapi.json")).into_response()
}

/// On the admin listener, with an admin token set, every request but health and the login
/// form shows it or a console session; without one, the listener is this machine's only (see
/// `Config::admin_listen_refusal`), API clients may read, and the console's own pages may
/// change things too.
pub(super) async fn admin_only(
    State(state): State<Arc<AppState>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path();
    let open = matches!(path, "/healthz" | "/readyz") || console::is_public(path);
    let changes = session::changes(request.method());
    // Without a token, `/v1` stays as open to this machine as it was (its handlers that change
    // something ask for a token or the console's CSRF token themselves).
    let checked = state.config.admin_token.is_some() || console::is_console(path);
    if !open
        && checked
        && let Err(refusal) = session::caller(&state, request.headers(), changes)
    {
        // A browser that is not logged in is shown the login form.
        let browser = path == "/" && !request.headers().contains_key(header::AUTHORIZATION);
        return if browser && state.config.admin_token.is_some() {
            console::to_login()
        } else {
            refusal.into_response()
        };
    }
    next.run(request).await
}

pub(super) async fn metrics_text(State(state): State<Arc<AppState>>) -> Response {
    let content = [(
        header::CONTENT_TYPE,
        "text/plain; version=0.0.4; charset=utf-8",
    )];
    let store_up = state.store.up().await;
    (content, super::metrics::scrape::render(state, store_up)).into_response()
}

pub(super) async fn ready(State(state): State<Arc<AppState>>) -> Response {
    if state.current.load().is_some() {
        "ready".into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "no policy is loaded").into_response()
    }
}
