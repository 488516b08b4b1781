//! The parameters of an Exotel request: from its query string and its form or JSON body, in
//! that order, at most [`MAX_PARAMS`] of them.

use std::borrow::Cow;

/// Most parameters read from one request.
pub const MAX_PARAMS: usize = 200;

/// Exotel's parameters from the query string and a form or JSON body, in that order,
/// borrowed from the request where no decoding was needed.
pub fn pairs<'a>(
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
