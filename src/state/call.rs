//! One call's life, by `CallSid`: the numbers its decision dials and the Connect answer given
//! after each attempt, so that a repeated request is the same call and takes no new step.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{AgentEvent, EventKind, Reservation, Status, StoredState};
use crate::compile::Policy;
use crate::eval::Decision;

/// How long a call is remembered at least, whatever the reservations last: longer than any
/// call rings.
pub const KEEP_CALL_MS: i64 = 3600 * 1000;
/// The most calls remembered; past it, calls past their time go, then the oldest.
pub const MAX_CALLS: usize = 100_000;

/// What a store keeps of one call. Kept small: every routed call has one, so the first
/// answer and what it offered are counted, not copied.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallRecord {
    /// The decision's numbers, in order, E.164.
    pub numbers: Vec<Arc<str>>,
    /// The numbers ring at once (`ring_all`).
    pub parallel: bool,
    /// The request the call was decided for: the number it said was tried last, if any.
    pub first_after: Option<String>,
    /// How many of `numbers`, from the start, that request was answered with.
    pub first: usize,
    /// Numbers tried or answered since.
    pub offered: Vec<Arc<str>>,
    /// The answer given after each later attempt, by the number tried.
    pub answers: Vec<(String, Vec<Arc<str>>)>,
    /// Until when the call is remembered, ms since the epoch.
    pub until: i64,
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
    /// Shared with the record: answering a repeat copies no number.
    pub numbers: Vec<Arc<str>>,
    pub parallel: bool,
}

impl CallRecord {
    /// The record of a call decided now, with its first answer.
    pub fn new(decision: &Decision, ask: &Ask, until: i64) -> CallRecord {
        let first = first_answer(decision, ask.one_at_a_time).len();
        CallRecord {
            numbers: decision.numbers.to_vec(),
            parallel: decision.parallel,
            first_after: ask.tried.map(str::to_string),
            first,
            offered: Vec::new(),
            answers: Vec::new(),
            until,
        }
    }

    /// The numbers the first request was answered with.
    pub fn first_answer(&self) -> &[Arc<str>] {
        &self.numbers[..self.first.min(self.numbers.len())]
    }

    /// The answer this request was given before, if it is a repeat.
    pub fn repeat(&self, ask: &Ask) -> Option<KnownAnswer> {
        let numbers = if ask.tried == self.first_after.as_deref() {
            self.first_answer().to_vec()
        } else {
            let tried = ask.tried?;
            self.answers.iter().find(|(t, _)| t == tried)?.1.clone()
        };
        Some(KnownAnswer {
            numbers,
            parallel: self.parallel,
        })
    }

    /// Whether `number` was answered or tried already.
    pub fn was_offered(&self, number: &str) -> bool {
        self.first_answer().iter().any(|n| **n == *number)
            || self.offered.iter().any(|n| **n == *number)
    }
}

/// The numbers a call's first Connect request is answered with: the first alone when Exotel
/// asks again after each attempt (unless they ring together), else all of them.
pub fn first_answer(decision: &Decision, one_at_a_time: bool) -> &[Arc<str>] {
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
        let record = self.calls.get(ask.call_sid)?;
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
        let Some(record) = self.calls.get(at.sid) else {
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
                matches!(status, None | Some(Status::Available)) && !reserved
            })
        };
        let mut untried = record
            .numbers
            .iter()
            .filter(|n| ***n != *at.tried && !record.was_offered(n) && free(n));
        let numbers: Vec<Arc<str>> = if record.parallel {
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
        if let Some(record) = self.calls.get_mut(at.sid) {
            if !record.was_offered(at.tried) {
                record.offered.push(Arc::from(at.tried));
            }
            record.offered.extend(numbers.iter().cloned());
            record.answers.push((at.tried.to_string(), numbers.clone()));
        }
        KnownAnswer { numbers, parallel }
    }

    /// Remembers a call decided now, in place of what was known of it.
    pub fn record_call(&mut self, sid: &str, record: CallRecord, now_ms: i64) {
        super::bound(&mut self.calls, MAX_CALLS, now_ms, |c| c.until);
        self.calls.insert(sid.to_string(), record);
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
