//! An HTTP source: a CRM asked for a caller's facts by URL, within the call's deadline,
//! guarded (cache, single-flight, breaker) by [`Guard`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::guard::{Answer, Guard};
use crate::call::Call;
use crate::check::model::{CallField, HeaderValue, SourceDef};
use crate::facts::FactReader;

/// The timeout of a source that sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(800);
/// Largest answer read from a CRM.
const MAX_BODY: usize = 1 << 20;

pub struct HttpSource {
    name: String,
    template: String,
    headers: Vec<(String, HeaderValue)>,
    timeout: Duration,
    client: reqwest::Client,
    reader: FactReader,
    guard: Arc<Guard>,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Headers may hold secrets: never printed.
        f.debug_struct("HttpSource")
            .field("name", &self.name)
            .field("template", &self.template)
            .finish_non_exhaustive()
    }
}

/// Percent-encodes a URL component (RFC 3986 unreserved characters stay).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(b as char)
            }
            _ => {
                const HEX: &[u8; 16] = b"0123456789ABCDEF";
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0xF)] as char);
            }
        }
    }
    out
}

/// The URL for a call: each `{call.FIELD}` replaced by the call's value, percent-encoded.
/// `None` when the call lacks a value the URL needs.
pub fn render_url(template: &str, call: &Call) -> Option<String> {
    let mut out = String::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close = open + rest[open..].find('}')?;
        out.push_str(&rest[..open]);
        let field = rest[open + 1..close].strip_prefix("call.")?;
        let field = CallField::ALL.iter().find(|(n, _, _)| *n == field)?.1;
        let value = match field {
            CallField::Sid => call.sid.clone(),
            CallField::From => call.from.as_ref().map(|p| p.value.clone()),
            CallField::To => call.to.as_ref().map(|p| p.value.clone()),
            CallField::Direction => call.direction.clone(),
            CallField::Digits => call.digits.clone(),
            CallField::Custom => call.custom.clone(),
            CallField::FlowId => call.flow_id.clone(),
        }?;
        out.push_str(&encode(&value));
        rest = &rest[close + 1..];
    }
    out.push_str(rest);
    Some(out)
}

impl HttpSource {
    pub fn new(def: &SourceDef, client: reqwest::Client, reader: FactReader) -> HttpSource {
        HttpSource {
            name: def.name.clone(),
            template: def.location.clone(),
            headers: def.headers.clone(),
            timeout: def.timeout.unwrap_or(DEFAULT_TIMEOUT),
            client,
            reader,
            guard: Arc::new(Guard::new(def.cache, def.cache_max.map(|n| n as usize))),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests sent so far (cache hits and shared lookups send none).
    /// Its cache, breaker and lookup figures.
    pub fn guard(&self) -> &Guard {
        &self.guard
    }

    pub fn requests_sent(&self) -> usize {
        self.guard.requests_sent()
    }

    /// The cached answer for a call, if there is a fresh one.
    pub fn cached(&self, call: &Call) -> Option<Answer> {
        match render_url(&self.template, call) {
            Some(url) => self.guard.cached(&url),
            None => Some(Answer::NotFound),
        }
    }

    /// Looks a call up, answering by `deadline` at the latest.
    pub async fn lookup(self: &Arc<Self>, call: &Call, deadline: Instant) -> Answer {
        let Some(url) = render_url(&self.template, call) else {
            // No caller number (or other field) to ask about: nothing to find.
            return Answer::NotFound;
        };
        let source = Arc::clone(self);
        let key = url.clone();
        self.guard
            .lookup(
                key,
                deadline,
                move || async move { source.fetch(&url).await },
            )
            .await
    }

    async fn fetch(&self, url: &str) -> Answer {
        let mut request = self.client.get(url).timeout(self.timeout);
        for (name, value) in &self.headers {
            let value = match value {
                HeaderValue::Literal(v) => v.clone(),
                HeaderValue::Env(var) => match std::env::var(var) {
                    Ok(v) => v,
                    // The secret is not set: do not ask, and say which variable is missing.
                    Err(_) => {
                        return Answer::Failed(format!("environment variable `{var}` is not set"));
                    }
                },
            };
            request = request.header(name.as_str(), value);
        }
        let response = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Answer::Failed("timeout".into()),
            Err(e) if e.is_connect() => return Answer::Failed("unreachable".into()),
            Err(_) => return Answer::Failed("request failed".into()),
        };
        let status = response.status();
        if status == reqwest::StatusCode::NOT_FOUND {
            return Answer::NotFound;
        }
        if !status.is_success() {
            return Answer::Failed(format!("HTTP {}", status.as_u16()));
        }
        if response
            .content_length()
            .is_some_and(|l| l as usize > MAX_BODY)
        {
            return Answer::Failed("answer too large".into());
        }
        let body = match response.bytes().await {
            Ok(b) if b.len() <= MAX_BODY => b,
            Ok(_) => return Answer::Failed("answer too large".into()),
            Err(e) if e.is_timeout() => return Answer::Failed("timeout".into()),
            Err(_) => return Answer::Failed("answer cut short".into()),
        };
        match serde_json::from_slice::<serde_json::Value>(&body) {
            Ok(serde_json::Value::Object(map)) => Answer::Found(Arc::new(self.reader.read(&map))),
            Ok(_) => Answer::Failed("answer is not a JSON object".into()),
            Err(_) => Answer::Failed("answer is not valid JSON".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::call::PhoneValue;

    #[test]
    fn urls_are_rendered_percent_encoded() {
        let call = Call {
            from: Some(PhoneValue {
                value: "+919845012345".into(),
                e164: true,
            }),
            digits: Some("1#".into()),
            ..Call::default()
        };
        assert_eq!(
            render_url("http://crm/c?phone={call.from}&d={call.digits}", &call).as_deref(),
            Some("http://crm/c?phone=%2B919845012345&d=1%23")
        );
        assert_eq!(render_url("http://crm/c?sid={call.sid}", &call), None);
    }
}
