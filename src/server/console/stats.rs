//! What each rule did, over time: decisions in, hits per minute for a day and the calls'
//! outcomes from Exotel's events (attributed to the rule that decided each call) out, for the
//! console's Rules page and `routec_outcomes_total`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};

use crate::bounded::Recent;
use crate::server::per_thread::PerThread;
use crate::state::EventKind;

/// Minutes kept: a day, the longest window shown ("today").
const MINUTES: usize = 24 * 60;
/// Calls remembered for their outcome, across the threads (each its share); past it, the
/// call its thread decided first goes for each new one.
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
    /// The rule (position) that decided each call, and when (ms), by its `CallSid`'s hash
    /// ([`RuleStats::call`]): a hundred thousand `CallSid`s as text would take 5 MB more, and
    /// two calls sharing a 64-bit hash is not to be expected. When, because a call decided
    /// twice (a Passthru, then its Connect) may be in two threads' copies: the later counts.
    decided_by: Recent<u64, (u32, i64), foldhash::fast::RandomState>,
}

impl Counts {
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

/// Each lock taken once per decision or event, never across an `.await`.
pub struct RuleStats {
    /// A decision counts in its thread's: two workers counting into one lock waited for it
    /// and moved its cache line between the cores at every call (10% of the decisions a
    /// second, saturated). Readers add them up; an outcome looks for its call in each.
    counts: PerThread<Mutex<Counts>>,
    /// Hashes `CallSid`s for `decided_by`, with this process's own seed.
    sids: foldhash::quality::RandomState,
}

impl Default for RuleStats {
    fn default() -> RuleStats {
        RuleStats::with(PerThread::new(Mutex::default))
    }
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
    fn with(counts: PerThread<Mutex<Counts>>) -> RuleStats {
        RuleStats {
            counts,
            sids: foldhash::quality::RandomState::default(),
        }
    }

    fn lock(counts: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
        counts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn call(&self, call_sid: &str) -> u64 {
        std::hash::BuildHasher::hash_one(&self.sids, call_sid)
    }

    /// Has the CPU fetch where [`RuleStats::decided`] will file `call_sid` in this thread's
    /// copy, as [`crate::bounded::Recent::prefetch`] does: called when a decision starts.
    pub fn prefetch(&self, call_sid: &str) {
        let call = self.call(call_sid);
        Self::lock(self.counts.mine()).decided_by.prefetch(&call);
    }

    /// Counts a decision by `rule` at `now_ms`, and remembers the call for its outcome. On
    /// every decision's path: one short lock, this thread's, and no allocation once the calls
    /// remembered are at their cap (a hundred thousand across the threads).
    pub fn decided(&self, rule: &str, no_agent: bool, call_sid: Option<&str>, now_ms: i64) {
        self.decided_in(self.counts.mine(), rule, no_agent, call_sid, now_ms);
    }

    /// [`RuleStats::decided`], in the copy `counts`.
    fn decided_in(
        &self,
        counts: &Mutex<Counts>,
        rule: &str,
        no_agent: bool,
        call_sid: Option<&str>,
        now_ms: i64,
    ) {
        let minute = now_ms.div_euclid(60_000);
        let call = call_sid.map(|sid| self.call(sid));
        let mut counts = Self::lock(counts);
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
        if let Some(call) = call {
            let cap = MAX_CALLS.div_ceil(self.counts.len());
            counts.decided_by.insert(call, (at as u32, now_ms), cap);
        }
    }

    /// Counts an event's outcome for the rule that decided its call, if this server decided
    /// it; `false` when the call is unknown here.
    pub fn outcome(&self, call_sid: &str, kind: EventKind) -> bool {
        let call = self.call(call_sid);
        let which = match kind {
            EventKind::Completed => 0,
            EventKind::Missed => 1,
        };
        // The copy that decided the call last.
        let latest = self
            .counts
            .all()
            .filter_map(|counts| {
                let (_, at) = *Self::lock(counts).decided_by.get(&call)?;
                Some((at, counts))
            })
            .max_by_key(|(at, _)| *at);
        let Some((_, counts)) = latest else {
            return false;
        };
        let mut counts = Self::lock(counts);
        let Some(&(rule, _)) = counts.decided_by.get(&call) else {
            // Forgotten in between, for a newer call: as if not found.
            return false;
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
        let mut by_rule: BTreeMap<String, [u64; 2]> = BTreeMap::new();
        for counts in self.counts.all() {
            let counts = Self::lock(counts);
            for (i, [answered, missed]) in counts.outcomes.iter().enumerate() {
                if [*answered, *missed] != [0, 0] {
                    let sum = by_rule.entry(counts.names[i].to_string()).or_default();
                    sum[0] += answered;
                    sum[1] += missed;
                }
            }
        }
        by_rule.into_iter().collect()
    }

    /// Each rule's figures at `now_ms`; "today" starts at `midnight_ms` (the policy's).
    pub fn figures(&self, now_ms: i64, midnight_ms: i64) -> HashMap<String, RuleFigures> {
        let now_minute = now_ms.div_euclid(60_000);
        let midnight_minute = midnight_ms.div_euclid(60_000);
        let mut out: HashMap<String, RuleFigures> = HashMap::new();
        for counts in self.counts.all() {
            let counts = Self::lock(counts);
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
                f.answered += answered;
                f.missed += missed;
            }
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

    #[test]
    fn decisions_on_several_threads_add_up_and_each_call_finds_its_outcome() {
        let stats = RuleStats::with(PerThread::with(4, Mutex::default));
        let t = 10 * 3_600_000;
        std::thread::scope(|s| {
            for thread in 0..4 {
                let stats = &stats;
                s.spawn(move || {
                    for call in 0..10 {
                        let rule = if call % 2 == 0 { "even" } else { "odd" };
                        stats.decided(rule, false, Some(&format!("{thread}-{call}")), t);
                    }
                });
            }
        });
        for thread in 0..4 {
            for call in 0..10 {
                assert!(stats.outcome(&format!("{thread}-{call}"), EventKind::Completed));
            }
        }
        let figures = stats.figures(t, t - 3_600_000);
        assert_eq!((figures["even"].today, figures["even"].answered), (20, 20));
        assert_eq!((figures["odd"].last_15m, figures["odd"].answered), (20, 20));
        assert_eq!(
            stats.outcomes(),
            [("even".to_string(), [20, 0]), ("odd".to_string(), [20, 0])]
        );
    }

    #[test]
    fn a_call_decided_on_two_threads_counts_its_outcome_for_the_later_decision() {
        let stats = RuleStats::with(PerThread::with(2, Mutex::default));
        let copies: Vec<_> = stats.counts.all().collect();
        let t = 10 * 3_600_000;
        // A Passthru on one worker, then the call's Connect on the other; and the other way.
        stats.decided_in(copies[0], "menu", false, Some("c1"), t);
        stats.decided_in(copies[1], "sales", false, Some("c1"), t + 40);
        stats.decided_in(copies[1], "menu", false, Some("c2"), t);
        stats.decided_in(copies[0], "support", false, Some("c2"), t + 40);
        assert!(stats.outcome("c1", EventKind::Completed));
        assert!(stats.outcome("c2", EventKind::Missed));
        assert_eq!(
            stats.outcomes(),
            [
                ("sales".to_string(), [1, 0]),
                ("support".to_string(), [0, 1])
            ]
        );
    }
}
