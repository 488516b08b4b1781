//! What each rule did, over time: decisions in, hits per minute for a day and the calls'
//! outcomes from Exotel's events (attributed to the rule that decided each call) out, for the
//! console's Rules page and `routec_outcomes_total`.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::bounded::Recent;
use crate::state::EventKind;

/// Minutes kept: a day, the longest window shown ("today").
const MINUTES: usize = 24 * 60;
/// Calls remembered for their outcome; past it, the call decided first goes for each new one.
const MAX_CALLS: usize = 100_000;

/// The outcomes counted, as `routec_outcomes_total`'s `outcome` label.
pub const OUTCOMES: [&str; 2] = ["answered", "missed"];

/// One rule's hits in one minute: decisions, and decisions that found no agent.
type Hits = [u64; 2];

#[derive(Default)]
struct Counts {
    /// Every rule name seen, once: the maps below hold its position.
    names: Vec<Box<str>>,
    by_name: foldhash::HashMap<Box<str>, u32>,
    /// By minute since the epoch, oldest first; each by rule position.
    minutes: VecDeque<(i64, Vec<Hits>)>,
    /// Outcomes by rule position: answered, missed.
    outcomes: Vec<[u64; 2]>,
    /// The rule (position) that decided each call, by its `CallSid`'s hash
    /// ([`Counts::call`]): a hundred thousand `CallSid`s as text would take 5 MB more, and
    /// two calls sharing a 64-bit hash is not to be expected.
    decided_by: Recent<u64, u32, foldhash::fast::RandomState>,
    /// Hashes `CallSid`s for `decided_by`, with this process's own seed.
    sids: foldhash::quality::RandomState,
}

impl Counts {
    fn call(&self, call_sid: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.sids, call_sid)
    }

    /// The position of `rule`, added the first time it is seen (a reload adds its new rules).
    fn position(&mut self, rule: &str) -> u32 {
        if let Some(&i) = self.by_name.get(rule) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(rule.into());
        self.by_name.insert(rule.into(), i);
        i
    }
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

    /// Counts a decision by `rule` at `now_ms`, and remembers the call for its outcome. On
    /// every decision's path: one short lock, and no allocation once the calls remembered are
    /// at their cap.
    pub fn decided(&self, rule: &str, no_agent: bool, call_sid: Option<&str>, now_ms: i64) {
        let minute = now_ms.div_euclid(60_000);
        let mut counts = self.counts();
        let at = counts.position(rule) as usize;
        if counts.minutes.back().is_none_or(|(m, _)| *m != minute) {
            counts.minutes.push_back((minute, Vec::new()));
            while counts.minutes.len() > MINUTES {
                counts.minutes.pop_front();
            }
        }
        if let Some((_, rules)) = counts.minutes.back_mut() {
            if rules.len() <= at {
                rules.resize(at + 1, [0, 0]);
            }
            rules[at][0] += 1;
            rules[at][1] += u64::from(no_agent);
        }
        if let Some(sid) = call_sid {
            let call = counts.call(sid);
            counts.decided_by.insert(call, at as u32, MAX_CALLS);
        }
    }

    /// Counts an event's outcome for the rule that decided its call, if this server decided
    /// it; `false` when the call is unknown here.
    pub fn outcome(&self, call_sid: &str, kind: EventKind) -> bool {
        let mut counts = self.counts();
        let call = counts.call(call_sid);
        let Some(&rule) = counts.decided_by.get(&call) else {
            return false;
        };
        let which = match kind {
            EventKind::Completed => 0,
            EventKind::Missed => 1,
        };
        let rule = rule as usize;
        if counts.outcomes.len() <= rule {
            counts.outcomes.resize(rule + 1, [0, 0]);
        }
        counts.outcomes[rule][which] += 1;
        true
    }

    /// Outcomes by rule: (rule, [answered, missed]).
    pub fn outcomes(&self) -> Vec<(String, [u64; 2])> {
        let counts = self.counts();
        let mut all: Vec<_> = counts
            .outcomes
            .iter()
            .enumerate()
            .filter(|(_, n)| **n != [0, 0])
            .map(|(i, n)| (counts.names[i].to_string(), *n))
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
            for (i, [hits, no_agent]) in rules.iter().enumerate() {
                let f = out.entry(counts.names[i].to_string()).or_default();
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
        for (i, [answered, missed]) in counts.outcomes.iter().enumerate() {
            let f = out.entry(counts.names[i].to_string()).or_default();
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
