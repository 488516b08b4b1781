//! What an Exotel-facing request carries (the secret in the path, the query, the body), and
//! the secrets it and admin requests must show.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{AppState, MAX_BODY};

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
            crate::exotel::params::raw_pairs(q)
                .find(|(k, _)| k.decoded() == "token")
                .map(|(_, v)| v.decoded().into_owned())
        })
    });
    let ok = given.is_some_and(|g| same_secret(g.as_bytes(), secret.as_bytes()));
    (!ok).then(|| (StatusCode::FORBIDDEN, "wrong or missing token").into_response())
}

/// What every Exotel-facing handler reads: the secret in the path (if routed so), the query,
/// the headers and the body.
pub(crate) struct ExotelRequest {
    pub(crate) secret: Option<String>,
    /// Where the query is read from: the request's own, not a copy.
    uri: axum::http::Uri,
    /// The body is JSON (else a form).
    pub(crate) json: bool,
    pub(crate) body: Bytes,
}

impl ExotelRequest {
    pub(crate) fn query(&self) -> Option<&str> {
        self.uri.query()
    }
}

impl<S: Send + Sync> FromRequest<S> for ExotelRequest {
    type Rejection = Response;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Response> {
        let (mut parts, body) = request.into_parts();
        // Only the routes with `{secret}` have a parameter; the others find none, at no cost.
        let secret = axum::extract::RawPathParams::from_request_parts(&mut parts, state)
            .await
            .ok()
            .and_then(|params| {
                params
                    .iter()
                    .find(|(name, _)| *name == "secret")
                    .map(|(_, value)| value.to_string())
            });
        let uri = std::mem::take(&mut parts.uri);
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("json"));
        // Read here, within the limit, rather than by axum's `Bytes` under a `DefaultBodyLimit`
        // layer: that layer cost every request an extension to insert and drop.
        // Most of Exotel's requests are GETs: nothing to collect.
        let body = if axum::body::HttpBody::is_end_stream(&body) {
            Bytes::new()
        } else {
            match http_body_util::BodyExt::collect(http_body_util::Limited::new(body, MAX_BODY))
                .await
            {
                Ok(collected) => collected.to_bytes(),
                Err(e) if e.is::<http_body_util::LengthLimitError>() => {
                    let reason = format!("the body is larger than {MAX_BODY} bytes");
                    return Err((StatusCode::PAYLOAD_TOO_LARGE, reason).into_response());
                }
                Err(e) => {
                    let reason = format!("the body could not be read: {e}");
                    return Err((StatusCode::BAD_REQUEST, reason).into_response());
                }
            }
        };
        Ok(ExotelRequest {
            secret,
            uri,
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
