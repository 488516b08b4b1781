//! What each rule did, over time: decisions in, hits per minute for a day and the calls'
//! outcomes from Exotel's events (attributed to the rule that decided each call) out, for the
//! console's Rules page and `routec_outcomes_total`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::bounded::bound;
use crate::state::EventKind;

/// Minutes kept: a day, the longest window shown ("today").
const MINUTES: usize = 24 * 60;
/// Calls remembered for their outcome, and for how long.
const MAX_CALLS: usize = 100_000;
const CALL_MEMORY_MS: i64 = 6 * 3600 * 1000;

/// The outcomes counted, as `routec_outcomes_total`'s `outcome` label.
pub const OUTCOMES: [&str; 2] = ["answered", "missed"];

/// One rule's hits in one minute: decisions, and decisions that found no agent.
type Hits = [u64; 2];

#[derive(Default)]
struct Counts {
    /// By minute since the epoch, oldest first; each by rule name.
    minutes: VecDeque<(i64, HashMap<String, Hits>)>,
    /// Outcomes by rule name: answered, missed.
    outcomes: HashMap<String, [u64; 2]>,
    /// The rule that decided each call, and when (ms), by `CallSid`.
    decided_by: HashMap<String, (String, i64)>,
}

/// Taken once per decision and per event, never across an `.await`.
#[derive(Default)]
pub struct RuleStats {
    counts: Mutex<Counts>,
}

/// One rule's figures over the windows the console shows.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RuleFigures {
    pub last_15m: u64,
    pub last_hour: u64,
    pub today: u64,
    /// Decisions today that found no agent.
    pub no_agent: u64,
    pub answered: u64,
    pub missed: u64,
}

impl RuleStats {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a decision by `rule` at `now_ms`, and remembers the call for its outcome.
    pub fn decided(&self, rule: &str, no_agent: bool, call_sid: Option<&str>, now_ms: i64) {
        let minute = now_ms.div_euclid(60_000);
        let mut counts = self.counts();
        if counts.minutes.back().is_none_or(|(m, _)| *m != minute) {
            counts.minutes.push_back((minute, HashMap::new()));
            while counts.minutes.len() > MINUTES {
                counts.minutes.pop_front();
            }
        }
        if let Some((_, rules)) = counts.minutes.back_mut() {
            let hits = match rules.get_mut(rule) {
                Some(hits) => hits,
                None => rules.entry(rule.to_string()).or_default(),
            };
            hits[0] += 1;
            hits[1] += u64::from(no_agent);
        }
        if let Some(sid) = call_sid {
            let horizon = now_ms - CALL_MEMORY_MS;
            bound(&mut counts.decided_by, MAX_CALLS, horizon, |(_, at)| *at);
            counts
                .decided_by
                .insert(sid.to_string(), (rule.to_string(), now_ms));
        }
    }

    /// Counts an event's outcome for the rule that decided its call, if this server decided
    /// it; `false` when the call is unknown here.
    pub fn outcome(&self, call_sid: &str, kind: EventKind) -> bool {
        let mut counts = self.counts();
        let Some((rule, _)) = counts.decided_by.get(call_sid) else {
            return false;
        };
        let rule = rule.clone();
        let which = match kind {
            EventKind::Completed => 0,
            EventKind::Missed => 1,
        };
        counts.outcomes.entry(rule).or_default()[which] += 1;
        true
    }

    /// Outcomes by rule: (rule, [answered, missed]).
    pub fn outcomes(&self) -> Vec<(String, [u64; 2])> {
        let mut all: Vec<_> = self
            .counts()
            .outcomes
            .iter()
            .map(|(r, n)| (r.clone(), *n))
            .collect();
        all.sort();
        all
    }

    /// Each rule's figures at `now_ms`; "today" starts at `midnight_ms` (the policy's).
    pub fn figures(&self, now_ms: i64, midnight_ms: i64) -> HashMap<String, RuleFigures> {
        let now_minute = now_ms.div_euclid(60_000);
        let midnight_minute = midnight_ms.div_euclid(60_000);
        let counts = self.counts();
        let mut out: HashMap<String, RuleFigures> = HashMap::new();
        for (minute, rules) in &counts.minutes {
            let age = now_minute - minute;
            for (rule, [hits, no_agent]) in rules {
                let f = out.entry(rule.clone()).or_default();
                if age < 15 {
                    f.last_15m += hits;
                }
                if age < 60 {
                    f.last_hour += hits;
                }
                if *minute >= midnight_minute {
                    f.today += hits;
                    f.no_agent += no_agent;
                }
            }
        }
        for (rule, [answered, missed]) in &counts.outcomes {
            let f = out.entry(rule.clone()).or_default();
            f.answered = *answered;
            f.missed = *missed;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_and_outcomes_count_by_rule() {
        let stats = RuleStats::default();
        let hour = 3_600_000;
        let t = 10 * hour;
        stats.decided("a", false, Some("c1"), t - 2 * hour);
        stats.decided("a", true, Some("c2"), t - 30 * 60_000);
        stats.decided("a", false, Some("c3"), t - 60_000);
        stats.decided("b", false, None, t);
        assert!(stats.outcome("c3", EventKind::Completed));
        assert!(stats.outcome("c2", EventKind::Missed));
        assert!(!stats.outcome("elsewhere", EventKind::Completed));
        let figures = stats.figures(t, t - 3 * hour);
        let a = &figures["a"];
        assert_eq!((a.last_15m, a.last_hour, a.today), (1, 2, 3));
        assert_eq!((a.no_agent, a.answered, a.missed), (1, 1, 1));
        assert_eq!(figures["b"].last_15m, 1);
        // Past midnight, yesterday's calls leave "today".
        assert_eq!(stats.figures(t, t - 90 * 60_000)["a"].today, 2);
    }
}
