//! An HTTP source: a CRM asked for a caller's facts by URL, with a deadline, a cache (also of
//! "no such caller"), one request for concurrent lookups of the same key, and a circuit
//! breaker that stops asking a failing CRM for a while.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::check::model::{CallField, HeaderValue, SourceDef};
use crate::exotel::Call;

/// Failures in a row that open the breaker, and how long it stays open.
const BREAKER_FAILURES: u32 = 5;
const BREAKER_OPEN_FOR: Duration = Duration::from_secs(30);
/// The timeout of a source that sets none.
const DEFAULT_TIMEOUT: Duration = Duration::from_millis(800);
/// Largest answer read from a CRM.
const MAX_BODY: usize = 1 << 20;

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Found(Arc<serde_json::Map<String, serde_json::Value>>),
    /// The source knows no such caller (HTTP 404): every fact missing, nothing wrong.
    NotFound,
    /// The lookup failed; the reason goes into the decision's `degraded`.
    Failed(String),
}

#[derive(Default)]
struct State {
    cache: HashMap<String, (Instant, Answer)>,
    inflight: HashMap<String, watch::Receiver<Option<Answer>>>,
    failures: u32,
    open_until: Option<Instant>,
    /// While half-open, a trial request is under way: others fail fast.
    trial: bool,
}

pub struct HttpSource {
    name: String,
    template: String,
    headers: Vec<(String, HeaderValue)>,
    timeout: Duration,
    ttl: Option<Duration>,
    client: reqwest::Client,
    /// Never held across an `.await`.
    state: Mutex<State>,
    requests: std::sync::atomic::AtomicUsize,
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
            _ => out.push_str(&format!("%{b:02X}")),
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
    pub fn new(def: &SourceDef, client: reqwest::Client) -> HttpSource {
        HttpSource {
            name: def.name.clone(),
            template: def.location.clone(),
            headers: def.headers.clone(),
            timeout: def.timeout.unwrap_or(DEFAULT_TIMEOUT),
            ttl: def.cache,
            client,
            state: Mutex::new(State::default()),
            requests: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Requests sent so far (cache hits and shared lookups send none).
    pub fn requests_sent(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Looks a call up, answering by `deadline` at the latest.
    pub async fn lookup(self: &Arc<Self>, call: &Call, deadline: Instant) -> Answer {
        let Some(url) = render_url(&self.template, call) else {
            // No caller number (or other field) to ask about: nothing to find.
            return Answer::NotFound;
        };
        let mut rx = {
            let mut state = self.state();
            let now = Instant::now();
            if let Some((at, answer)) = state.cache.get(&url) {
                if self.ttl.is_some_and(|ttl| now.duration_since(*at) < ttl) {
                    return answer.clone();
                }
                state.cache.remove(&url);
            }
            match state.inflight.get(&url) {
                // Someone is asking already: wait for that answer.
                Some(rx) => rx.clone(),
                None => {
                    if let Some(until) = state.open_until {
                        if now < until || state.trial {
                            return Answer::Failed("circuit open".into());
                        }
                        // Half-open: this request is the trial.
                        state.trial = true;
                    }
                    let (tx, rx) = watch::channel(None);
                    state.inflight.insert(url.clone(), rx.clone());
                    let source = Arc::clone(self);
                    tokio::spawn(async move {
                        // The request runs to its own timeout even if every caller gives up,
                        // so that a hanging CRM is counted and opens the breaker.
                        let answer = source.fetch(&url).await;
                        source.record(&url, &answer);
                        let _ = tx.send(Some(answer));
                    });
                    rx
                }
            }
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, rx.wait_for(Option::is_some)).await {
            Ok(Ok(answer)) => answer.clone().unwrap_or(Answer::Failed("no answer".into())),
            Ok(Err(_)) => Answer::Failed("no answer".into()),
            Err(_) => Answer::Failed("timeout".into()),
        }
    }

    /// Remembers an answer: in the cache (found or not found), and in the breaker.
    fn record(&self, url: &str, answer: &Answer) {
        let mut state = self.state();
        state.inflight.remove(url);
        state.trial = false;
        match answer {
            Answer::Failed(_) => {
                state.failures += 1;
                if state.failures >= BREAKER_FAILURES {
                    state.open_until = Some(Instant::now() + BREAKER_OPEN_FOR);
                }
            }
            Answer::Found(_) | Answer::NotFound => {
                state.failures = 0;
                state.open_until = None;
                if self.ttl.is_some() {
                    state
                        .cache
                        .insert(url.to_string(), (Instant::now(), answer.clone()));
                }
            }
        }
    }

    async fn fetch(&self, url: &str) -> Answer {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut request = self.client.get(url).timeout(self.timeout);
        for (name, value) in &self.headers {
            let value = match value {
                HeaderValue::Literal(v) => v.clone(),
                HeaderValue::Env(var) => match std::env::var(var) {
                    Ok(v) => v,
                    // The secret is not set: ask without it, and say which variable is missing.
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
            Ok(serde_json::Value::Object(map)) => Answer::Found(Arc::new(map)),
            Ok(_) => Answer::Failed("answer is not a JSON object".into()),
            Err(_) => Answer::Failed("answer is not valid JSON".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exotel::PhoneValue;

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
