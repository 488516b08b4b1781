//! One call's life, by `CallSid`: the numbers its decision dials and the Connect answer given
//! after each attempt, so that a repeated request is the same call and takes no new step.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{AgentEvent, EventKind, Reservation, StoredState};
use crate::compile::Policy;
use crate::eval::Decision;

/// How long a call is remembered at least, whatever the reservations last: longer than any
/// call rings.
pub const KEEP_CALL_MS: i64 = 3600 * 1000;
/// Above this many calls, calls past their time are swept out.
const SWEEP_ABOVE: usize = 10_000;

/// What a store keeps of one call.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CallRecord {
    /// The decision's numbers, in order, E.164.
    pub numbers: Vec<String>,
    /// The agent (name) each number belongs to; empty for a plain number.
    pub agents: Vec<String>,
    /// The numbers ring at once (`ring_all`).
    pub parallel: bool,
    /// Every number answered or tried so far.
    pub offered: Vec<String>,
    /// The answer given after each attempt, by the number Exotel tried last (`""`: the
    /// call's first request).
    pub answers: BTreeMap<String, Vec<String>>,
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

impl Ask<'_> {
    /// The key of this request's answer in [`CallRecord::answers`].
    pub fn key(&self) -> &str {
        self.tried.unwrap_or("")
    }
}

/// The answer to one Connect request of a call decided before.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownAnswer {
    pub numbers: Vec<String>,
    pub parallel: bool,
}

impl CallRecord {
    /// The record of a call decided now, with its first answer.
    pub fn new(policy: &Policy, decision: &Decision, ask: &Ask, until: i64) -> CallRecord {
        let by_number = |n: &String| {
            policy
                .agent_by_number
                .get(n)
                .map(|&a| policy.checked.agents[a].name.clone())
                .unwrap_or_default()
        };
        let first: Vec<String> = if ask.one_at_a_time && !decision.parallel {
            decision.numbers.iter().take(1).cloned().collect()
        } else {
            decision.numbers.clone()
        };
        let mut answers = BTreeMap::new();
        answers.insert(ask.key().to_string(), first.clone());
        CallRecord {
            agents: decision.numbers.iter().map(by_number).collect(),
            numbers: decision.numbers.clone(),
            parallel: decision.parallel,
            offered: first,
            answers,
            until,
        }
    }

    /// The answer this request was given before, if it is a repeat.
    pub fn repeat(&self, ask: &Ask) -> Option<KnownAnswer> {
        self.answers.get(ask.key()).map(|numbers| KnownAnswer {
            numbers: numbers.clone(),
            parallel: self.parallel,
        })
    }

    /// The agent a number of this call belongs to.
    pub fn agent_of(&self, number: &str) -> Option<&str> {
        let i = self.numbers.iter().position(|n| n == number)?;
        self.agents
            .get(i)
            .map(String::as_str)
            .filter(|a| !a.is_empty())
    }
}

impl StoredState {
    /// The answer to a request of a call decided before: the same answer for a repeat; with
    /// `one_at_a_time`, the next number after the one tried. `None`: decide the call now.
    pub fn known_call(
        &mut self,
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
        Some(self.next_attempt(ask.call_sid, tried, now_ms, reserve_until, today))
    }

    /// After an unanswered attempt of `tried`: its agent is released (one missed offer, once)
    /// and the next number not yet tried whose agent is free is answered and reserved.
    fn next_attempt(
        &mut self,
        sid: &str,
        tried: &str,
        now_ms: i64,
        reserve_until: Option<i64>,
        today: &str,
    ) -> KnownAnswer {
        let released = self
            .calls
            .get(sid)
            .and_then(|r| r.agent_of(tried))
            .map(str::to_string);
        if let Some(agent) = released {
            self.event(&AgentEvent {
                call_sid: sid.to_string(),
                agent,
                kind: EventKind::Missed,
                caller: None,
                at: now_ms,
                today: today.to_string(),
            });
        }
        let Some(record) = self.calls.get(sid) else {
            return KnownAnswer {
                numbers: Vec::new(),
                parallel: false,
            };
        };
        let free = |agent: &str| {
            agent.is_empty()
                || (self
                    .agents
                    .get(agent)
                    .is_none_or(|a| matches!(a.status, None | Some(super::Status::Available)))
                    && self
                        .reservations
                        .get(agent)
                        .is_none_or(|r| r.call_sid == sid || r.until <= now_ms))
        };
        let mut untried = record
            .numbers
            .iter()
            .zip(&record.agents)
            .filter(|(n, a)| n.as_str() != tried && !record.offered.contains(n) && free(a));
        let answer: Vec<(String, String)> = if record.parallel {
            untried.map(|(n, a)| (n.clone(), a.clone())).collect()
        } else {
            untried
                .next()
                .map(|(n, a)| (n.clone(), a.clone()))
                .into_iter()
                .collect()
        };
        let parallel = record.parallel;
        if let Some(until) = reserve_until {
            for (_, agent) in answer.iter().filter(|(_, a)| !a.is_empty()) {
                self.reservations.insert(
                    agent.clone(),
                    Reservation {
                        call_sid: sid.to_string(),
                        until,
                    },
                );
            }
        }
        let numbers: Vec<String> = answer.into_iter().map(|(n, _)| n).collect();
        if let Some(record) = self.calls.get_mut(sid) {
            if !record.offered.iter().any(|o| o == tried) {
                record.offered.push(tried.to_string());
            }
            record.offered.extend(numbers.iter().cloned());
            record.answers.insert(tried.to_string(), numbers.clone());
        }
        KnownAnswer { numbers, parallel }
    }

    /// Remembers a call decided now, in place of what was known of it.
    pub fn record_call(&mut self, sid: &str, record: CallRecord, now_ms: i64) {
        // Swept once every thousand calls past the mark, so a busy hour costs no more than a
        // pass per thousand calls.
        if self.calls.len() >= SWEEP_ABOVE && self.calls.len().is_multiple_of(1000) {
            self.calls.retain(|_, c| c.until > now_ms);
        }
        self.calls.insert(sid.to_string(), record);
    }
}
