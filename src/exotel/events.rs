//! Exotel's events: the async Passthrus after a Connect and the status callbacks of API calls,
//! read as what happened to which agent.

use std::borrow::Cow;

use crate::call::{Call, PhoneValue};
use crate::compile::Policy;
use crate::state::{AgentEvent, EventKind};

/// What an event request says happened, before it is matched to an agent.
#[derive(Debug, PartialEq)]
pub enum Reported {
    Event(AgentEvent),
    Ignored(String),
}

/// Reads an event: `CallType=completed` with `DialWhomNumber` (the conversation ended),
/// `CallType=incomplete` or a `DialCallStatus` of `no-answer`/`busy`/`failed`/`canceled`
/// (nobody answered), or a status callback's `Status` with the agent's number in
/// `DialWhomNumber` or its `Legs`. `call` is the same request read as a call.
pub fn read_event(
    policy: &Policy,
    call: &Call,
    pairs: &[(Cow<str>, Cow<str>)],
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
        .find_map(|n| policy.agent_by_number.get(n.value.as_str()).copied());
    let Some(agent) = agent else {
        return Reported::Ignored(match numbers.first() {
            Some(n) => format!("`{}` is no agent's number", n.value),
            None => "no agent number (`DialWhomNumber`)".into(),
        });
    };
    Reported::Event(AgentEvent {
        call_sid: sid.to_string(),
        agent: policy.checked.agents[agent].name.clone(),
        kind,
        caller: call
            .from
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.to_string()),
        at: at.as_millisecond(),
        today: policy.checked.timezone.to_datetime(at).date().to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        let files = crate::policy_files::SourceFiles::single(
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
