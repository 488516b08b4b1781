//! Who may use the admin listener: a request's headers in; allowed (by the admin token, a
//! console session's cookie, or this machine when no token is set) or a 401/403 out. Also the
//! console's login and logout.
//!
//! A console session is a random id in an HttpOnly, SameSite=Strict cookie that expires. A
//! request that changes something must also carry the session's CSRF token in
//! `x-routec-csrf`: a header no other site can set without a CORS preflight this server never
//! grants, and a value it cannot read.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::server::AppState;
use crate::server::request::same_secret;

/// The session cookie's name.
pub const COOKIE: &str = "routec_session";
/// The header a change made from the console carries its CSRF token in.
pub const CSRF_HEADER: &str = "x-routec-csrf";
/// How long a login lasts.
const SESSION_FOR: Duration = Duration::from_secs(8 * 3600);
/// The most sessions kept; past it, the oldest go.
const MAX_SESSIONS: usize = 1000;

struct Session {
    expires: Instant,
    csrf: String,
}

/// The console's sessions, and the CSRF token of a server with no admin token.
pub struct Sessions {
    sessions: Mutex<HashMap<String, Session>>,
    local_csrf: String,
}

impl Default for Sessions {
    fn default() -> Sessions {
        Sessions {
            sessions: Mutex::new(HashMap::new()),
            local_csrf: random_id(),
        }
    }
}

/// 32 random bytes, hex: unguessable.
fn random_id() -> String {
    let mut bytes = [0u8; 32];
    // Without the system's randomness there is no safe session: every login fails instead.
    if getrandom::fill(&mut bytes).is_err() {
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Who a request comes from.
pub enum Caller {
    /// An API client with the admin token.
    Token,
    /// The console, logged in (or on this machine with no token set): its CSRF token.
    Console(String),
}

impl Sessions {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts a session: its id, for the cookie.
    fn start(&self) -> Option<String> {
        let (id, csrf) = (random_id(), random_id());
        if id.is_empty() || csrf.is_empty() {
            return None;
        }
        let now = Instant::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, s| s.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| s.expires)
                .map(|(k, _)| k.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                expires: now + SESSION_FOR,
                csrf,
            },
        );
        Some(id)
    }

    /// The CSRF token of the live session `id`.
    fn csrf_of(&self, id: &str) -> Option<String> {
        let sessions = self.sessions();
        let session = sessions.get(id)?;
        (session.expires > Instant::now()).then(|| session.csrf.clone())
    }

    fn end(&self, id: &str) {
        self.sessions().remove(id);
    }
}

/// The session id a request's cookie carries.
fn session_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// A request from a browser page of another site carries an `Origin` that is not ours.
fn cross_site(headers: &HeaderMap) -> bool {
    let (Some(origin), Some(host)) = (
        headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        headers.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .split_once("://")
        .is_none_or(|(_, authority)| authority != host)
}

/// A `Host` naming this machine: with no admin token, a page of another site that renamed
/// itself to our address (DNS rebinding) is refused.
fn local_host(headers: &HeaderMap) -> bool {
    headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .is_none_or(crate::server::config::is_loopback)
}

/// Why a request may not use the admin listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub status: StatusCode,
    pub reason: &'static str,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, self.reason).into_response()
    }
}

fn refuse(status: StatusCode, reason: &'static str) -> Refusal {
    Refusal { status, reason }
}

/// Whether a request may use the admin listener; `changes` for a request that changes
/// something (its CSRF token is checked).
pub fn caller(state: &AppState, headers: &HeaderMap, changes: bool) -> Result<Caller, Refusal> {
    let sessions = &state.console.sessions;
    let csrf_ok = |csrf: &str| {
        let given = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        !changes || (!csrf.is_empty() && same_secret(given.as_bytes(), csrf.as_bytes()))
    };
    let Some(token) = &state.config.admin_token else {
        // No token: the listener is this machine's only. The console may read and, with the
        // CSRF token only its own pages can read, change; API clients may only read.
        if !local_host(headers) || cross_site(headers) {
            return Err(refuse(
                StatusCode::FORBIDDEN,
                "this console answers pages of this machine only",
            ));
        }
        if csrf_ok(&sessions.local_csrf) {
            return Ok(Caller::Console(sessions.local_csrf.clone()));
        }
        return Err(refuse(
            StatusCode::FORBIDDEN,
            "admin endpoints are off: set ROUTEC_ADMIN_TOKEN to turn them on",
        ));
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if let Some(given) = bearer {
        return if same_secret(given.as_bytes(), token.as_bytes()) {
            Ok(Caller::Token)
        } else {
            Err(refuse(
                StatusCode::UNAUTHORIZED,
                "wrong or missing admin token",
            ))
        };
    }
    match session_id(headers).and_then(|id| sessions.csrf_of(id)) {
        Some(csrf) if csrf_ok(&csrf) && !cross_site(headers) => Ok(Caller::Console(csrf)),
        Some(_) => Err(refuse(
            StatusCode::FORBIDDEN,
            "missing or wrong CSRF token (`x-routec-csrf`)",
        )),
        None => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "wrong or missing admin token",
        )),
    }
}

/// Whether a method changes something.
pub fn changes(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

const LOGIN: &str = include_str!("assets/login.html");

fn login_page(message: &str, status: StatusCode) -> Response {
    let page = LOGIN.replace("<!--message-->", message);
    (status, no_store(), Html(page)).into_response()
}

fn no_store() -> [(header::HeaderName, HeaderValue); 1] {
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))]
}

/// `GET /console/login`: the form (straight to the console when no token is set).
pub async fn login_form(State(state): State<Arc<AppState>>) -> Response {
    if state.config.admin_token.is_none() {
        return Redirect::to("/").into_response();
    }
    login_page("", StatusCode::OK)
}

/// `POST /console/login` with `token=…`: a session cookie and the console, or the form again.
pub async fn login(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let Some(token) = &state.config.admin_token else {
        return Redirect::to("/").into_response();
    };
    if cross_site(&headers) {
        return refuse(StatusCode::FORBIDDEN, "log in from the console's own page").into_response();
    }
    let given = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    if !same_secret(given.trim().as_bytes(), token.as_bytes()) {
        // Slows guessing down; the token is long enough that this is all it needs.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let message = r#"<p class="error" role="alert">That is not the admin token.</p>"#;
        return login_page(message, StatusCode::UNAUTHORIZED);
    }
    let Some(id) = state.console.sessions.start() else {
        tracing::error!("the system gave no randomness for a session id");
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            "no randomness for a session id: see the server's log",
        )
        .into_response();
    };
    let cookie = format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_FOR.as_secs()
    );
    let mut response = Redirect::to("/").into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

/// `POST /console/logout`: the session ends and its cookie is cleared.
pub async fn logout(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if let Err(refusal) = caller(&state, &headers, true) {
        return refusal.into_response();
    }
    if let Some(id) = session_id(&headers) {
        state.console.sessions.end(id);
    }
    let mut response = Redirect::to("/console/login").into_response();
    let clear = format!("{COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let h = headers(&[("cookie", "a=b; routec_session=abc; c=d")]);
        assert_eq!(session_id(&h), Some("abc"));
        assert_eq!(
            session_id(&headers(&[("cookie", "routec_sessionx=1")])),
            None
        );
    }

    #[test]
    fn hosts_and_origins() {
        assert!(local_host(&headers(&[("host", "127.0.0.1:9090")])));
        assert!(local_host(&headers(&[("host", "[::1]:9090")])));
        assert!(local_host(&headers(&[("host", "localhost")])));
        assert!(!local_host(&headers(&[("host", "evil.example:9090")])));
        let same = headers(&[
            ("host", "127.0.0.1:9090"),
            ("origin", "http://127.0.0.1:9090"),
        ]);
        assert!(!cross_site(&same));
        let other = headers(&[
            ("host", "127.0.0.1:9090"),
            ("origin", "http://evil.example"),
        ]);
        assert!(cross_site(&other));
    }
}
