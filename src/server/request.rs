//! What an Exotel-facing request carries (the secret in the path, the query, the body), and
//! the secrets it and admin requests must show.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::AppState;

/// With a secret configured, an Exotel request must carry it, as the path segment after
/// `/exotel/` or as `token` in the query: else 403.
pub(crate) fn exotel_refusal(
    state: &AppState,
    path_secret: Option<&str>,
    query: Option<&str>,
) -> Option<Response> {
    let secret = state.config.exotel_token.as_ref()?;
    let given = path_secret.map(str::to_string).or_else(|| {
        query.and_then(|q| {
            crate::exotel::params::form_pairs(q)
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v.into_owned())
        })
    });
    let ok = given.is_some_and(|g| same_secret(g.as_bytes(), secret.as_bytes()));
    (!ok).then(|| (StatusCode::FORBIDDEN, "wrong or missing token").into_response())
}

/// What every Exotel-facing handler reads: the secret in the path (if routed so), the query,
/// the headers and the body.
pub(crate) struct ExotelRequest {
    pub(crate) secret: Option<String>,
    pub(crate) query: Option<String>,
    /// The body is JSON (else a form).
    pub(crate) json: bool,
    pub(crate) body: Bytes,
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

/// Compares in time that does not depend on where the strings differ.
pub(super) fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for (i, x) in a.iter().enumerate() {
        diff |= usize::from(x ^ b.get(i).copied().unwrap_or(0));
    }
    diff == 0
}
