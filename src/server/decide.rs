//! The decision path: an Exotel request (or `/v1/decide`) in; facts looked up, the state store
//! asked, the decision logged; the Connect answer, the Passthru branch or the decision JSON out.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use smol_str::SmolStr;

use super::{AppState, Config, ExotelRequest, Serving, exotel_refusal};
use crate::call::Call;
use crate::degraded::Degraded;
use crate::eval::{AgentStates, Decision};
use crate::exotel::params::Encoded;
use crate::facts::Facts;
use crate::state::{DecideContext, KnownAnswer, Prior, Routed};

/// A decision for one request, and the policy version that made it (`None`: the static
/// fallback, before any policy loaded). The call stays with the request that read it.
struct Decided<'c> {
    serving: Option<Arc<Serving>>,
    call: &'c Call,
    /// When the call is, by Exotel's clock: the time it was decided with.
    at: jiff::Timestamp,
    decision: Decision,
}

impl Decided<'_> {
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
    read_call_noting(serving, request, |_, _| {})
}

/// [`read_call`], handing each pair of the query to `note` on the way.
fn read_call_noting(
    serving: Option<&Serving>,
    request: &ExotelRequest,
    note: impl FnMut(Encoded<'_>, Encoded<'_>),
) -> Call {
    let country = serving.map_or(crate::phone::india(), |s| s.prepared.policy.checked.country);
    Call::from_request_noting(request.query(), request.json, &request.body, country, note)
}

/// How a request about a call is answered, lent to the handler's `respond`
/// ([`decide_call`]).
enum Answered<'d, 'c> {
    Decided(&'d Decided<'c>),
    /// The call was decided before (a repeat, or a request after an attempt): its answer.
    Known(KnownAnswer),
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
pub(crate) fn call_time(config: &Config, call: &Call) -> jiff::Timestamp {
    call.instant(config.exotel.timezone.zone())
        .unwrap_or_else(jiff::Timestamp::now)
}

/// Decides a call: with the policy the request loaded (once, so that it reads the call and
/// decides with one version), or the configured static fallback when none has loaded. A call
/// decided before is answered from its record. The decision is lent to `respond`, whose
/// answer this returns: a decision is large (its lists are inline, so that it allocates
/// nothing), and handed back by value it was copied at every step out (callgrind).
async fn decide_call<R>(
    state: &AppState,
    serving: Option<Arc<Serving>>,
    call: &Call,
    started: Instant,
    asking: Asking,
    respond: impl FnOnce(Answered<'_, '_>) -> R,
) -> R {
    let Some(serving) = serving else {
        let decided = Decided {
            serving: None,
            decision: static_fallback(&state.config, Degraded::NoPolicy),
            at: call_time(&state.config, call),
            call,
        };
        let shown = state.console.live.take_slot();
        state.report_decision(&decided, started.elapsed(), shown);
        state.metrics.decision(None, &decided.decision);
        return respond(Answered::Decided(&decided));
    };
    // The call's record and the console's count are filed at random places in maps of
    // 100,000 calls: their loads start now, to be cached by the time the store and the
    // console look (about 2% more new calls a second, `docs/performance.md`).
    if let Some(sid) = call.sid.as_deref() {
        state.store.prefetch_call(sid);
        state.console.stats.prefetch(sid);
    }
    let policy = &serving.prepared.policy;
    // The shadow candidate decides live calls (not `/v1/decide`) with the agent state the
    // decision read, which the store hands back a copy of.
    let shadowing = state.shadow.is_some() && !asking.explained;
    let deadline = started + state.config.budget();
    let now = call_time(&state.config, call);
    let ctx = DecideContext {
        policy,
        call_sid: call.sid.as_ref(),
        tried: call.dial_whom.as_ref().map(|p| p.value.as_str()),
        one_at_a_time: state.config.connect.fetch_after_attempt,
        caller: call
            .from
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.as_str()),
        // Reservations run on the real clock, whatever time the request says it is.
        now_ms: jiff::Timestamp::now().as_millisecond(),
        today: crate::state::Day::of(policy.checked.timezone.to_datetime(now).date()),
        deadline,
        reserve_for: Duration::from_secs(state.config.state.reservation_secs),
        commit: asking.commit,
        snapshot: shadowing,
    };
    // A call decided before (a repeat, or a request after an attempt) is answered from its
    // record without its facts: a CRM is not asked again for an answer that goes unused.
    let lookups = &serving.prepared.lookups;
    let unknown = match state
        .store
        .decided_before(&ctx, lookups.asks_remote())
        .await
    {
        Prior::Known(known) => return respond(Answered::Known(known)),
        Prior::New(unknown) => unknown,
    };
    let mut facts = Facts::none(&policy.checked);
    lookups
        .lookup(&policy.checked, call, &mut facts, &[], deadline)
        .await;
    // A console watching live decisions shows why each earlier rule did not fire.
    let shown = state.console.live.take_slot();
    let explained = asking.explained || shown;
    // A bug in evaluation must not leave a caller in silence: fall back instead.
    let evaluate = |agents: &dyn AgentStates| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            if explained {
                crate::eval::eval_explained(policy, call, &facts, now, agents)
            } else {
                crate::eval::eval(policy, call, &facts, now, agents)
            }
        }))
        .unwrap_or_else(|_| static_fallback(&state.config, Degraded::EvaluationFailed))
    };
    let (decision, agents) = match state.store.decide_new(&ctx, unknown, &evaluate).await {
        Routed::Decided(decision, agents) => (decision, agents),
        Routed::Known(known) => return respond(Answered::Known(known)),
    };
    if let (Some(shadow), Some(agents)) = (state.shadow.as_ref(), agents) {
        shadow.offer(super::shadow::Job {
            active: Arc::clone(&serving),
            call: call.clone(),
            facts,
            now,
            agents,
            decision: decision.clone(),
        });
    }
    let decided = Decided {
        serving: Some(serving),
        call,
        at: now,
        decision,
    };
    state.report_decision(&decided, started.elapsed(), shown);
    let counters = decided
        .serving
        .as_deref()
        .map(|s| (&s.counters, &s.prepared.policy));
    state.metrics.decision(counters, &decided.decision);
    respond(Answered::Decided(&decided))
}

/// The configured static fallback, for `reason` (with none configured: nobody is dialled, and
/// Exotel takes its "nobody dialled" branch).
fn static_fallback(config: &Config, reason: Degraded) -> Decision {
    let mut d = Decision::empty();
    let india = crate::phone::india();
    d.numbers = config
        .fallback
        .numbers
        .iter()
        .map(|n| SmolStr::from(crate::phone::normalize(n, india).unwrap_or_else(|| n.clone())))
        .collect();
    d.flow = config.fallback.branch.as_deref().map(Arc::from);
    d.degraded.push(reason);
    d
}

impl AppState {
    /// Logs a decision and shows it to the console ([`Self::log_decision`],
    /// [`Self::show_decision`]), both with the one reading of the clock.
    fn report_decision(&self, decided: &Decided, took: Duration, shown: bool) {
        let now = jiff::Timestamp::now();
        self.log_decision(decided, took, now);
        self.show_decision(decided, took, now, shown);
    }

    /// Counts a decision for the console's Rules page and, when it is `shown` (a console
    /// watches, and the feed has room), sends it to the Live page with its trace.
    fn show_decision(&self, decided: &Decided, took: Duration, now: jiff::Timestamp, shown: bool) {
        let decision = &decided.decision;
        let sid = decided.call.sid.as_deref();
        let rule = decided.rule();
        let stats = &self.console.stats;
        stats.decided(rule, decision.found_no_agent(), sid, now.as_millisecond());
        if !shown {
            return;
        }
        let mut event = match &decided.serving {
            Some(serving) => {
                let mut event = decision.to_json(&serving.prepared.policy);
                event["version"] = serde_json::json!(serving.version);
                event
            }
            None => serde_json::json!({"rule": rule, "target": decision.target.name(),
                "numbers": decision.numbers, "flow": decision.flow,
                "degraded": decision.degraded, "trace": []}),
        };
        let from = self.caller_shown(decided.call);
        event["ts"] = serde_json::json!(now.to_string());
        event["call_sid"] = serde_json::json!(sid);
        event["from"] = serde_json::json!(from);
        event["to"] = serde_json::json!(decided.call.to.as_ref().map(|p| p.value.as_str()));
        event["digits"] = serde_json::json!(decided.call.digits);
        event["latency_us"] = serde_json::json!(took.as_micros() as u64);
        self.console.live.send(event.to_string());
    }

    /// The caller as logs and the console show it: masked when `log.mask_caller` is on.
    fn caller_shown<'c>(&self, call: &'c Call) -> Option<Cow<'c, str>> {
        call.from.as_ref().map(|p| {
            if self.config.log.mask_caller {
                Cow::Owned(mask(&p.value))
            } else {
                Cow::Borrowed(p.value.as_str())
            }
        })
    }

    /// One JSON line per decision on stdout: why every call went where it went.
    fn log_decision(&self, decided: &Decided, took: Duration, now: jiff::Timestamp) {
        if !self.config.log.decisions {
            return;
        }
        let decision = &decided.decision;
        let line = DecisionLine {
            ts: now,
            at: decided.at,
            call_sid: decided.call.sid.as_deref(),
            from: self.caller_shown(decided.call),
            to: decided.call.to.as_ref().map(|p| p.value.as_str()),
            digits: decided.call.digits.as_deref(),
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
        // Queued, never written here: a stdout nobody drains must not hold up the answer.
        self.log.write_with(|out| line.write_json(out));
    }
}

/// The decision log's line.
struct DecisionLine<'a> {
    /// When it was decided, RFC 3339 in UTC.
    ts: jiff::Timestamp,
    /// When the call is, by Exotel's clock (the time the policy decided with), in UTC: what
    /// `routec simulate` replays it at.
    at: jiff::Timestamp,
    call_sid: Option<&'a str>,
    from: Option<Cow<'a, str>>,
    /// The number the caller dialled.
    to: Option<&'a str>,
    /// The IVR digits pressed.
    digits: Option<&'a str>,
    policy: Option<&'a str>,
    version: Option<&'a str>,
    rule: &'a str,
    target: &'a str,
    numbers: &'a [SmolStr],
    queue: Option<&'a str>,
    flow: Option<&'a str>,
    degraded: &'a [Degraded],
    latency_us: u64,
}

impl DecisionLine<'_> {
    /// The line, with its newline, written by hand: keys as they stand, each value escaped
    /// only when it needs it (serde escaped every key and value, 7,800 instructions a
    /// decision). A test holds it equal to serde's writing of the same object.
    fn write_json(&self, out: &mut Vec<u8>) {
        use crate::json_text::{number, optional, strings, timestamp};
        out.extend_from_slice(b"{\"ts\":");
        timestamp(out, self.ts);
        out.extend_from_slice(b",\"at\":");
        timestamp(out, self.at);
        let texts = [
            (&b",\"call_sid\":"[..], self.call_sid),
            (b",\"from\":", self.from.as_deref()),
            (b",\"to\":", self.to),
            (b",\"digits\":", self.digits),
            (b",\"policy\":", self.policy),
            (b",\"version\":", self.version),
            (b",\"rule\":", Some(self.rule)),
            (b",\"target\":", Some(self.target)),
        ];
        for (key, text) in texts {
            out.extend_from_slice(key);
            optional(out, text);
        }
        out.extend_from_slice(b",\"numbers\":");
        strings(out, self.numbers);
        out.extend_from_slice(b",\"queue\":");
        optional(out, self.queue);
        out.extend_from_slice(b",\"flow\":");
        optional(out, self.flow);
        out.extend_from_slice(b",\"degraded\":");
        strings(out, self.degraded.iter().map(Degraded::to_string));
        out.extend_from_slice(b",\"latency_us\":");
        number(out, self.latency_us);
        out.extend_from_slice(b"}\n");
    }
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

/// The Connect answer as JSON.
fn answer(config: &Config, call: &Call, numbers: &[impl AsRef<str>], parallel: bool) -> Response {
    thread_local! {
        static ANSWER: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(512));
    }
    // Written into this thread's buffer and copied out at its length: a body with room to
    // spare costs `Bytes` an allocation more to share it.
    let answer = ANSWER.with_borrow_mut(|out| {
        out.clear();
        crate::exotel::answer::connect_answer_json(out, &config.connect, call, numbers, parallel);
        Bytes::copy_from_slice(out)
    });
    // Static: a `&str` would be copied into a header value every answer.
    let json = [(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    )];
    (json, answer).into_response()
}

pub(super) async fn connect(
    State(state): State<Arc<AppState>>,
    request: ExotelRequest,
) -> Response {
    let query = request.query();
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
    // As the call's record says it was answered: a call with no `CallSid` has none, and gets
    // every number.
    let one_at_a_time = state.config.connect.fetch_after_attempt && call.sid.is_some();
    // Always 200 with JSON: Exotel must get an answer whatever happened.
    let respond = |answered: Answered| match answered {
        Answered::Known(known) => answer(&state.config, &call, &known.numbers, known.parallel),
        Answered::Decided(decided) => {
            let decision = &decided.decision;
            let numbers = crate::state::call::first_answer(decision, one_at_a_time);
            answer(&state.config, &call, numbers, decision.parallel)
        }
    };
    decide_call(&state, serving, &call, started, asking, respond).await
}

pub(super) async fn passthru(
    State(state): State<Arc<AppState>>,
    request: ExotelRequest,
) -> Response {
    let query = request.query();
    if let Some(refusal) = exotel_refusal(&state, request.secret.as_deref(), query) {
        return refusal;
    }
    let started = Instant::now();
    let serving = state.current.load_full();
    // The branch asked about, found in the same scan of the query as the call.
    let mut branch = None;
    let call = read_call_noting(serving.as_deref(), &request, |name, value| {
        if branch.is_none() && name.decoded().eq_ignore_ascii_case("branch") {
            branch = Some(value.decoded().into_owned());
        }
    });
    let asking = Asking {
        commit: false,
        explained: false,
    };
    let takes_branch = decide_call(&state, serving, &call, started, asking, |answered| {
        match answered {
            Answered::Decided(decided) => branch.is_some_and(|branch| {
                let decision = &decided.decision;
                decision.flow.as_deref() == Some(branch.as_str())
                    || decision.queue.as_deref() == Some(branch.as_str())
                    || (decided.serving.is_some() && decided.rule() == branch)
            }),
            // Not committed: never a known call.
            Answered::Known(..) => false,
        }
    })
    .await;
    let content = [(header::CONTENT_TYPE, "text/plain")];
    if takes_branch {
        (StatusCode::OK, content).into_response()
    } else {
        (StatusCode::FOUND, content, [(header::LOCATION, "/")]).into_response()
    }
}

pub(super) async fn decide(State(state): State<Arc<AppState>>, request: ExotelRequest) -> Response {
    // An API caller is told what is wrong; deciding an empty call instead would mislead.
    // (Exotel's own endpoints answer a route whatever they are sent.)
    if request.json && !request.body.is_empty() {
        match serde_json::from_slice::<serde_json::Value>(&request.body) {
            Ok(serde_json::Value::Object(_)) => {}
            Ok(_) => {
                let reason = "the body must be a JSON object of call parameters";
                return (StatusCode::BAD_REQUEST, reason).into_response();
            }
            Err(e) => {
                let reason = format!("the body is not valid JSON: {e}");
                return (StatusCode::BAD_REQUEST, reason).into_response();
            }
        }
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
    let policy = &serving.prepared.policy;
    loop {
        let shown = decide_call(
            &state,
            Some(Arc::clone(&serving)),
            &call,
            started,
            asking,
            |answered| match answered {
                Answered::Decided(decided) => Some(decided.decision.to_json(policy)),
                // A call decided before takes no new step: shown as decided from the state now.
                Answered::Known(..) => None,
            },
        )
        .await;
        match shown {
            Some(json) => return axum::Json(json).into_response(),
            None => asking.commit = false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The hand-written line is the JSON serde writes for the same fields, in order.
        #[test]
        fn the_log_line_is_what_serde_writes(
            texts in proptest::collection::vec(proptest::option::of("[a-z+0-9\"\\\\\n é]{0,10}"), 10),
            numbers in proptest::collection::vec("[+0-9\"]{0,8}", 0..3),
            degraded in proptest::collection::vec(0usize..3, 0..3),
            latency_us in proptest::num::u64::ANY,
            seconds in 0i64..4_000_000_000,
            nanos in 0i32..1_000_000_000,
        ) {
            let ts = jiff::Timestamp::new(seconds, nanos).expect("in range");
            let at = jiff::Timestamp::new(seconds / 2, 0).expect("in range");
            let text = |i: usize| texts[i].as_deref();
            let numbers: Vec<SmolStr> = numbers.iter().map(|n| SmolStr::from(n.as_str())).collect();
            let degraded: Vec<Degraded> = degraded
                .iter()
                .map(|d| match d {
                    0 => Degraded::NoAvailableAgent,
                    1 => Degraded::SourceFailed {
                        source: "crm \"eu\"".into(),
                        failure: text(9).unwrap_or("timed out").into(),
                    },
                    _ => Degraded::StateUnavailable,
                })
                .collect();
            let line = DecisionLine {
                ts,
                at,
                call_sid: text(0),
                from: text(1).map(Cow::Borrowed),
                to: text(2),
                digits: text(3),
                policy: text(4),
                version: text(5),
                rule: text(6).unwrap_or("vip"),
                target: text(7).unwrap_or("team"),
                numbers: &numbers,
                queue: text(8),
                flow: text(9),
                degraded: &degraded,
                latency_us,
            };
            let serde = serde_json::json!({
                "ts": ts.to_string(),
                "at": at.to_string(),
                "call_sid": line.call_sid,
                "from": line.from,
                "to": line.to,
                "digits": line.digits,
                "policy": line.policy,
                "version": line.version,
                "rule": line.rule,
                "target": line.target,
                "numbers": line.numbers,
                "queue": line.queue,
                "flow": line.flow,
                "degraded": line.degraded,
                "latency_us": line.latency_us,
            });
            let mut ours = Vec::new();
            line.write_json(&mut ours);
            let ours = String::from_utf8(ours).expect("UTF-8");
            proptest::prop_assert_eq!(ours, format!("{serde}\n"));
        }
    }
}
