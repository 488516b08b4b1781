//! One call's life, by `CallSid`: the numbers its decision dials and the Connect answer given
//! after each attempt, so that a repeated request is the same call and takes no new step.

use std::borrow::{Borrow, Cow};

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use super::{AgentEvent, EventKind, Reservation, Status, StoredState};
use crate::compile::Policy;
use crate::eval::Decision;

/// A call's record forgotten to make room for a new one.
pub type ForgottenCall = (CallKey, CallRecord);

/// How long a call is remembered at least, whatever the reservations last: longer than any
/// call rings.
pub const KEEP_CALL_MS: i64 = 3600 * 1000;
/// The most calls remembered; past it, the call decided first goes for each new one.
pub const MAX_CALLS: usize = 100_000;

/// A `CallSid` as the store files its call: up to [`CallKey::INLINE`] bytes (Exotel's are 32
/// hex digits) in the key itself, a longer one on the heap; looked up by its bytes. Keyed by
/// the request's shared `SmolStr` (23 bytes inline), each call's record held a block on the
/// heap until the call was forgotten, a hundred thousand calls later, and freed it cold then.
/// Inline, the request's block goes when the request does: about 2 MB less resident and 0.5%
/// of a new call's instructions (`docs/performance.md`, "Load").
#[derive(Clone)]
pub struct CallKey(Key);

#[derive(Clone)]
enum Key {
    Inline {
        len: u8,
        bytes: [u8; CallKey::INLINE],
    },
    Long(Box<str>),
}

impl CallKey {
    /// The longest `CallSid` kept inline.
    pub const INLINE: usize = 32;

    pub fn new(sid: &str) -> CallKey {
        CallKey(match u8::try_from(sid.len()) {
            Ok(len) if sid.len() <= CallKey::INLINE => {
                let mut bytes = [0; CallKey::INLINE];
                bytes[..sid.len()].copy_from_slice(sid.as_bytes());
                Key::Inline { len, bytes }
            }
            _ => Key::Long(sid.into()),
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Key::Inline { len, bytes } => &bytes[..usize::from(*len)],
            Key::Long(text) => text.as_bytes(),
        }
    }

    /// The `CallSid` as text (never lossy: a key is made from a `str`), for the snapshot file.
    pub fn as_str(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(self.as_bytes())
    }
}

/// Its bytes, as a `[u8]` hashes and compares them: a lookup by `sid.as_bytes()` finds it.
impl std::hash::Hash for CallKey {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

impl PartialEq for CallKey {
    fn eq(&self, other: &CallKey) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CallKey {}

impl Borrow<[u8]> for CallKey {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl std::fmt::Debug for CallKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.as_str(), f)
    }
}

impl Serialize for CallKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.as_str())
    }
}

impl<'de> Deserialize<'de> for CallKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<CallKey, D::Error> {
        Ok(CallKey::new(&String::deserialize(deserializer)?))
    }
}

/// What a store keeps of one call. Kept small: every routed call has one (up to
/// [`MAX_CALLS`]), so the first answer and what it offered are counted, not copied, and what
/// later attempts add is apart, allocated only for the calls that have them.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(from = "RecordFields")]
pub struct CallRecord {
    /// The decision's numbers, in order, E.164.
    pub numbers: Box<[SmolStr]>,
    /// The request the call was decided for: the number it said was tried last, if any.
    pub first_after: Option<Box<str>>,
    /// What was offered and answered after the first answer, if anything.
    pub later: Option<Box<Later>>,
    /// Until when the call is remembered, ms since the epoch.
    pub until: i64,
    /// How many of `numbers`, from the start, that request was answered with.
    pub first: u32,
    /// The numbers ring at once (`ring_all`).
    pub parallel: bool,
}

/// What Exotel's requests after attempts added to a call's record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Later {
    /// Numbers tried or answered since the first answer.
    pub offered: Vec<SmolStr>,
    /// The answer given after each later attempt, by the number tried.
    pub answers: Vec<(String, Vec<SmolStr>)>,
}

impl Later {
    /// What attempts added, boxed; `None` when they added nothing.
    pub fn boxed(
        offered: Vec<SmolStr>,
        answers: Vec<(String, Vec<SmolStr>)>,
    ) -> Option<Box<Later>> {
        let added = !(offered.is_empty() && answers.is_empty());
        added.then(|| Box::new(Later { offered, answers }))
    }
}

/// A record as the snapshot file writes it: its fields side by side.
#[derive(Default, Serialize, Deserialize)]
#[serde(default)]
struct RecordFields<N = Vec<SmolStr>, O = Vec<SmolStr>, A = Vec<(String, Vec<SmolStr>)>> {
    numbers: N,
    parallel: bool,
    first_after: Option<Box<str>>,
    first: usize,
    offered: O,
    answers: A,
    until: i64,
}

impl From<RecordFields> for CallRecord {
    fn from(fields: RecordFields) -> CallRecord {
        CallRecord {
            first: u32::try_from(fields.first.min(fields.numbers.len())).unwrap_or(u32::MAX),
            numbers: fields.numbers.into(),
            first_after: fields.first_after,
            later: Later::boxed(fields.offered, fields.answers),
            until: fields.until,
            parallel: fields.parallel,
        }
    }
}

impl Serialize for CallRecord {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let later = self.later.as_deref();
        RecordFields {
            numbers: &*self.numbers,
            parallel: self.parallel,
            first_after: self.first_after.clone(),
            first: self.first as usize,
            offered: later.map_or(&[][..], |l| &l.offered),
            answers: later.map_or(&[][..], |l| &l.answers),
            until: self.until,
        }
        .serialize(serializer)
    }
}

/// How a call is asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ask<'a> {
    pub call_sid: &'a str,
    /// The number Exotel dialled last (`DialWhomNumber`), if any.
    pub tried: Option<&'a str>,
    /// Exotel asks after every attempt (`fetch_after_attempt`): answer one number at a time.
    pub one_at_a_time: bool,
}

/// The answer to one Connect request of a call decided before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAnswer {
    /// Copied from the record, inline (`SmolStr`): no number is allocated to answer a repeat.
    pub numbers: Vec<SmolStr>,
    pub parallel: bool,
}

impl CallRecord {
    /// The record of a call decided now, with its first answer.
    pub fn new(decision: &Decision, ask: &Ask, until: i64) -> CallRecord {
        let first = first_answer(decision, ask.one_at_a_time).len();
        CallRecord {
            numbers: decision.numbers.iter().cloned().collect(),
            first_after: ask.tried.map(Box::from),
            later: None,
            until,
            first: u32::try_from(first).unwrap_or(u32::MAX),
            parallel: decision.parallel,
        }
    }

    /// The numbers the first request was answered with.
    pub fn first_answer(&self) -> &[SmolStr] {
        &self.numbers[..(self.first as usize).min(self.numbers.len())]
    }

    /// The answer this request was given before, if it is a repeat.
    pub fn repeat(&self, ask: &Ask) -> Option<KnownAnswer> {
        let numbers = if ask.tried == self.first_after.as_deref() {
            self.first_answer().to_vec()
        } else {
            let tried = ask.tried?;
            let later = self.later.as_deref()?;
            later.answers.iter().find(|(t, _)| t == tried)?.1.clone()
        };
        Some(KnownAnswer {
            numbers,
            parallel: self.parallel,
        })
    }

    /// Whether `number` was answered or tried already.
    pub fn was_offered(&self, number: &str) -> bool {
        self.first_answer().iter().any(|n| **n == *number)
            || (self.later.as_deref()).is_some_and(|l| l.offered.iter().any(|n| **n == *number))
    }
}

/// The numbers a call's first Connect request is answered with: the first alone when Exotel
/// asks again after each attempt (unless they ring together), else all of them.
pub fn first_answer(decision: &Decision, one_at_a_time: bool) -> &[SmolStr] {
    if one_at_a_time && !decision.parallel {
        &decision.numbers[..decision.numbers.len().min(1)]
    } else {
        &decision.numbers
    }
}

/// The agent (name) a number belongs to in `policy`.
pub fn agent_of<'p>(policy: &'p Policy, number: &str) -> Option<&'p str> {
    let id = *policy.agent_by_number.get(number)?;
    Some(policy.checked.agents.get(id.index())?.name.as_str())
}

impl StoredState {
    /// The answer to a request of a call decided before: the same answer for a repeat; with
    /// `one_at_a_time`, the next number after the one tried. `None`: decide the call now.
    pub fn known_call(
        &mut self,
        policy: &Policy,
        ask: &Ask,
        now_ms: i64,
        reserve_until: Option<i64>,
        today: &str,
    ) -> Option<KnownAnswer> {
        let record = self.calls.get(ask.call_sid.as_bytes())?;
        if record.until <= now_ms {
            return None;
        }
        if let Some(known) = record.repeat(ask) {
            return Some(known);
        }
        let tried = ask.tried.filter(|_| ask.one_at_a_time)?;
        let at = Attempt {
            sid: ask.call_sid,
            tried,
            now_ms,
            reserve_until,
            today,
        };
        Some(self.next_attempt(policy, &at))
    }

    /// After an unanswered attempt: the agent tried is released (one missed offer, once) and
    /// the next number not yet tried whose agent is free is answered and reserved.
    fn next_attempt(&mut self, policy: &Policy, at: &Attempt) -> KnownAnswer {
        if let Some(agent) = agent_of(policy, at.tried) {
            self.event(&AgentEvent {
                call_sid: at.sid.to_string(),
                agent: agent.to_string(),
                kind: EventKind::Missed,
                caller: None,
                at: at.now_ms,
                today: at.today.to_string(),
            });
        }
        let Some(record) = self.calls.get(at.sid.as_bytes()) else {
            return KnownAnswer {
                numbers: Vec::new(),
                parallel: false,
            };
        };
        let free = |number: &str| {
            agent_of(policy, number).is_none_or(|agent| {
                let status = self.agents.get(agent).and_then(|a| a.status);
                let reserved = self
                    .reservations
                    .get(agent)
                    .is_some_and(|r| r.call_sid != at.sid && r.until > at.now_ms);
                Status::leaves_free(status) && !reserved
            })
        };
        let mut untried = record
            .numbers
            .iter()
            .filter(|n| ***n != *at.tried && !record.was_offered(n) && free(n));
        let numbers: Vec<SmolStr> = if record.parallel {
            untried.cloned().collect()
        } else {
            untried.next().cloned().into_iter().collect()
        };
        let parallel = record.parallel;
        if let Some(until) = at.reserve_until {
            for agent in numbers.iter().filter_map(|n| agent_of(policy, n)) {
                let reservation = Reservation {
                    call_sid: at.sid.to_string(),
                    until,
                };
                self.reservations.insert(agent.to_string(), reservation);
            }
        }
        if let Some(record) = self.calls.get_mut(at.sid.as_bytes()) {
            let tried_first = !record.was_offered(at.tried);
            let later = record.later.get_or_insert_default();
            if tried_first {
                later.offered.push(SmolStr::from(at.tried));
            }
            later.offered.extend(numbers.iter().cloned());
            later.answers.push((at.tried.to_string(), numbers.clone()));
        }
        KnownAnswer { numbers, parallel }
    }

    /// Remembers a call decided now, in place of what was known of it; the call forgotten to
    /// make room, if one was, is handed back ([`crate::bounded::Recent::insert`]).
    pub fn record_call(&mut self, sid: CallKey, record: CallRecord) -> Option<ForgottenCall> {
        self.calls.insert(sid, record, MAX_CALLS)
    }
}

/// One request after an unanswered attempt.
struct Attempt<'a> {
    sid: &'a str,
    /// The number tried.
    tried: &'a str,
    now_ms: i64,
    reserve_until: Option<i64>,
    /// The local date, for the missed offer's count.
    today: &'a str,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hundred thousand of them are kept: the map's table is about twice that many slots.
    #[test]
    fn a_record_stays_small() {
        assert!(std::mem::size_of::<CallRecord>() <= 56);
    }

    #[test]
    fn a_call_key_is_found_by_its_bytes_and_reads_back_as_written() {
        let exotel = "b6cf2d3c7a1f4e9c8d0b1a2e3f4a5b6c";
        let long = "a-call-sid-longer-than-thirty-two-bytes";
        let sids = ["", "c1", "₹ and ✓", exotel, long];
        let mut calls = crate::bounded::Recent::<CallKey, u32>::default();
        for (n, sid) in sids.into_iter().enumerate() {
            let key = CallKey::new(sid);
            assert_eq!(
                matches!(key.0, Key::Inline { .. }),
                sid.len() <= CallKey::INLINE
            );
            assert_eq!(key.as_str(), sid);
            calls.insert(key.clone(), n as u32, 10);
            // The snapshot file's form: the text, as the `SmolStr` key wrote it.
            let text = serde_json::to_string(&key).unwrap();
            assert_eq!(text, serde_json::to_string(sid).unwrap());
            assert_eq!(serde_json::from_str::<CallKey>(&text).unwrap(), key);
        }
        for (n, sid) in sids.into_iter().enumerate() {
            assert_eq!(calls.get(sid.as_bytes()), Some(&(n as u32)), "{sid}");
        }
        assert_eq!(calls.get(&exotel.as_bytes()[..31]), None);
    }

    #[test]
    fn a_record_reads_back_as_the_snapshot_file_wrote_it() {
        let n = |s: &str| SmolStr::from(s);
        let fresh = CallRecord {
            numbers: Box::new([n("+919800000001"), n("+919800000002")]),
            first: 1,
            until: 7,
            ..CallRecord::default()
        };
        let walked = CallRecord {
            first_after: Some("+919800000009".into()),
            later: Some(Box::new(Later {
                offered: vec![n("+919800000002")],
                answers: vec![("+919800000001".into(), vec![n("+919800000002")])],
            })),
            parallel: true,
            ..fresh.clone()
        };
        for record in [fresh, walked] {
            let text = serde_json::to_string(&record).unwrap();
            let back: CallRecord = serde_json::from_str(&text).unwrap();
            assert_eq!(back, record, "{text}");
        }
        // Written before records kept their later attempts apart: the same fields.
        let text = r#"{"numbers":["+919800000001","+919800000002"],"parallel":false,"first_after":null,"first":1,"offered":["+919800000002"],"answers":[["+919800000001",["+919800000002"]]],"until":7}"#;
        let record: CallRecord = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&record).unwrap(), text);
        assert!(record.was_offered("+919800000002"));
    }
}
