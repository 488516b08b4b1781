//! Agent activity: Exotel's async Passthrus and status callbacks in (`/exotel/events`), the
//! agent API (`GET /v1/agents`, `PUT /v1/agents/{id}/status`); the state store updated.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::{AppState, ExotelRequest, admin_refusal, exotel_refusal, params, say};
use crate::compile::Policy;
use crate::exotel::{Call, PhoneValue};
use crate::state::{AgentEvent, EventKind, Status};

/// What an event request says happened, before it is matched to an agent.
#[derive(Debug, PartialEq)]
enum Reported {
    Event(AgentEvent),
    Ignored(String),
}

/// Reads an event: `CallType=completed` with `DialWhomNumber` (the conversation ended),
/// `CallType=incomplete` or a `DialCallStatus` of `no-answer`/`busy`/`failed`/`canceled`
/// (nobody answered), or a status callback's `Status` with the agent's number in
/// `DialWhomNumber` or its `Legs`. `call` is the same request read as a call.
fn read_event(
    policy: &Policy,
    call: &Call,
    pairs: &[(std::borrow::Cow<str>, std::borrow::Cow<str>)],
    at: jiff::Timestamp,
) -> Reported {
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, v)| k.eq_ignore_ascii_case(name) && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_ascii_lowercase())
    };
    let Some(sid) = &call.sid else {
        return Reported::Ignored("no `CallSid`: nothing to key the event on".into());
    };
    let call_type = get("CallType");
    let dial_status = get("DialCallStatus");
    let status = get("Status");
    let unanswered = |s: &str| matches!(s, "no-answer" | "busy" | "failed" | "canceled");
    let kind = match (
        call_type.as_deref(),
        dial_status.as_deref(),
        status.as_deref(),
    ) {
        (_, Some(d), _) if unanswered(d) => EventKind::Missed,
        (Some("incomplete"), _, _) => EventKind::Missed,
        (Some("completed"), _, _) | (_, Some("completed"), _) => EventKind::Completed,
        (None, None, Some("completed")) => EventKind::Completed,
        (None, None, Some(s)) if unanswered(s) => EventKind::Missed,
        _ => {
            let what = call_type
                .or(status)
                .map_or_else(|| "no `CallType`".into(), |what| format!("`{what}`"));
            return Reported::Ignored(format!("{what} says nothing about an agent"));
        }
    };
    // The agent: Exotel's `DialWhomNumber`, else a number in a status callback's legs.
    let mut numbers: Vec<PhoneValue> = call.dial_whom.iter().cloned().collect();
    let country = policy.checked.country;
    for (k, v) in pairs {
        let k = k.to_ascii_lowercase();
        if k.starts_with("legs") && k.ends_with("[number]") {
            numbers.push(PhoneValue::read(v, country));
        } else if k == "legs"
            && let Ok(serde_json::Value::Array(legs)) = serde_json::from_str(v)
        {
            numbers.extend(legs.iter().filter_map(|leg| {
                ["Number", "number", "To", "to"]
                    .iter()
                    .find_map(|f| Some(PhoneValue::read(leg.get(f)?.as_str()?, country)))
            }));
        }
    }
    let agent = numbers
        .iter()
        .find_map(|n| policy.agent_by_number.get(&n.value).copied());
    let Some(agent) = agent else {
        return Reported::Ignored(match numbers.first() {
            Some(n) => format!("`{}` is no agent's number", n.value),
            None => "no agent number (`DialWhomNumber`)".into(),
        });
    };
    Reported::Event(AgentEvent {
        call_sid: sid.clone(),
        agent: policy.checked.agents[agent].name.clone(),
        kind,
        caller: call
            .from
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.clone()),
        at: at.as_millisecond(),
        today: policy.checked.timezone.to_datetime(at).date().to_string(),
    })
}

/// `/exotel/events`: always 200 for Exotel (it cannot act on anything else); the body says
/// what was recorded.
pub(super) async fn events(State(state): State<Arc<AppState>>, request: ExotelRequest) -> Response {
    let query = request.query.as_deref();
    if let Some(refusal) = exotel_refusal(&state, request.secret.as_deref(), query) {
        return refusal;
    }
    let text = [(header::CONTENT_TYPE, "text/plain")];
    let Some(serving) = state.current.load_full() else {
        return (text, "ignored: no policy is loaded").into_response();
    };
    let policy = &serving.prepared.policy;
    let pairs = params(query, request.json, &request.body);
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
        Ok(true) => format!("recorded: {} {}", event.agent, event.kind.verb()),
        Ok(false) => format!(
            "repeat: {} {} was recorded before",
            event.agent,
            event.kind.verb()
        ),
        Err(e) => {
            say(&format!("routec: event of call {}: {e}", event.call_sid));
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
            say(&format!("routec: status of `{}`: {e}", agent.name));
            axum::Json(json!({"agent": agent.name, "status": status.name(), "degraded": e}))
                .into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn policy() -> Policy {
        let files = crate::source::SourceFiles::single(
            "p.route",
            "agent ravi \"+919800000002\"\notherwise -> agent ravi\n",
        );
        crate::load(&files).0.expect("policy")
    }

    fn read(pairs: &[(&str, &str)]) -> Reported {
        let pairs: Vec<(Cow<str>, Cow<str>)> = pairs
            .iter()
            .map(|(k, v)| (Cow::Borrowed(*k), Cow::Borrowed(*v)))
            .collect();
        let policy = policy();
        let call = Call::from_params(
            pairs.iter().map(|(k, v)| (k.as_ref(), v.as_ref())),
            policy.checked.country,
        );
        read_event(&policy, &call, &pairs, jiff::Timestamp::UNIX_EPOCH)
    }

    fn kind(r: Reported) -> Option<(EventKind, String)> {
        match r {
            Reported::Event(e) => Some((e.kind, e.agent)),
            Reported::Ignored(_) => None,
        }
    }

    #[test]
    fn exotels_passthrus_and_callbacks_read_as_events() {
        let done = read(&[
            ("CallSid", "c"),
            ("CallType", "completed"),
            ("DialWhomNumber", "09800000002"),
        ]);
        assert_eq!(kind(done), Some((EventKind::Completed, "ravi".into())));
        let missed = read(&[
            ("CallSid", "c"),
            ("CallType", "incomplete"),
            ("DialCallStatus", "no-answer"),
            ("DialWhomNumber", "+919800000002"),
        ]);
        assert_eq!(kind(missed), Some((EventKind::Missed, "ravi".into())));
        let callback = read(&[
            ("CallSid", "c"),
            ("Status", "completed"),
            (
                "Legs",
                r#"[{"Number": "09800000002", "Status": "completed"}]"#,
            ),
        ]);
        assert_eq!(kind(callback), Some((EventKind::Completed, "ravi".into())));
        let form_legs = read(&[
            ("CallSid", "c"),
            ("Status", "no-answer"),
            ("Legs[0][Number]", "09800000002"),
        ]);
        assert_eq!(kind(form_legs), Some((EventKind::Missed, "ravi".into())));
    }

    #[test]
    fn what_names_no_agent_is_ignored_with_a_reason() {
        for (pairs, why) in [
            (vec![("CallType", "completed")], "no `CallSid`"),
            (
                vec![("CallSid", "c"), ("CallType", "call-attempt")],
                "`call-attempt` says nothing",
            ),
            (
                vec![("CallSid", "c"), ("CallType", "completed")],
                "no agent number",
            ),
            (
                vec![("CallSid", "c"), ("DialWhomNumber", "09800000002")],
                "no `CallType` says nothing about an agent",
            ),
            (
                vec![
                    ("CallSid", "c"),
                    ("CallType", "completed"),
                    ("DialWhomNumber", "0980000000"),
                ],
                "is no agent's number",
            ),
        ] {
            match read(&pairs) {
                Reported::Ignored(reason) => assert!(reason.contains(why), "{reason}"),
                other => panic!("{pairs:?}: {other:?}"),
            }
        }
    }
}
