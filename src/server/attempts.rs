//! `fetch_after_attempt`: the numbers decided for a call in, the next one not yet tried out.
//!
//! Exotel asks again after every unanswered attempt, with `DialWhomNumber` set to the number
//! just tried, and may ask twice at once. The first request of a call decides; later ones walk
//! that decision's list, so a repeat never advances a round-robin cursor twice. Answers are
//! keyed by the attempt they follow, so a repeated or concurrent request for the same attempt
//! gets the same answer.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// How long a call's attempts are remembered: longer than any call rings.
const KEEP: Duration = Duration::from_secs(3600);
/// Above this many calls, forgotten calls are swept out.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct Attempts {
    calls: HashMap<String, CallAttempts>,
}

struct CallAttempts {
    /// The decision's numbers, in order.
    numbers: Vec<String>,
    /// Ring all remaining numbers at once.
    parallel: bool,
    /// Every number answered so far.
    offered: Vec<String>,
    /// The answer given after each attempt (`None`: the first request).
    answers: HashMap<Option<String>, Vec<String>>,
    started: Instant,
}

impl Attempts {
    /// Remembers a call's decision and answers its first attempt.
    pub fn first(&mut self, call_sid: &str, numbers: Vec<String>, parallel: bool) -> Vec<String> {
        if self.calls.len() >= SWEEP_ABOVE {
            self.calls.retain(|_, c| c.started.elapsed() < KEEP);
        }
        let entry = self
            .calls
            .entry(call_sid.to_string())
            .or_insert_with(|| CallAttempts {
                numbers,
                parallel,
                offered: Vec::new(),
                answers: HashMap::new(),
                started: Instant::now(),
            });
        entry.answer(None)
    }

    /// The answer after `tried` (the number Exotel dialled last), and whether its numbers
    /// ring at once; `None` when the call is unknown (then it is decided afresh).
    pub fn next(&mut self, call_sid: &str, tried: Option<&str>) -> Option<(Vec<String>, bool)> {
        let call = self.calls.get_mut(call_sid)?;
        if let Some(tried) = tried
            && !call.offered.iter().any(|o| o == tried)
        {
            call.offered.push(tried.to_string());
        }
        Some((call.answer(tried.map(str::to_string)), call.parallel))
    }
}

impl CallAttempts {
    fn answer(&mut self, after: Option<String>) -> Vec<String> {
        if let Some(answer) = self.answers.get(&after) {
            return answer.clone();
        }
        let untried = self
            .numbers
            .iter()
            .filter(|n| !self.offered.contains(n))
            .cloned();
        let answer: Vec<String> = if self.parallel {
            untried.collect()
        } else {
            untried.take(1).collect()
        };
        self.offered.extend(answer.iter().cloned());
        self.answers.insert(after, answer.clone());
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers() -> Vec<String> {
        vec!["+911".into(), "+912".into(), "+913".into()]
    }

    #[test]
    fn each_attempt_gets_the_next_number_and_repeats_the_same_answer() {
        let mut a = Attempts::default();
        assert_eq!(a.first("c", numbers(), false), ["+911"]);
        // A repeat of the first request.
        assert_eq!(a.next("c", None).unwrap().0, ["+911"]);
        assert_eq!(a.next("c", Some("+911")).unwrap().0, ["+912"]);
        assert_eq!(a.next("c", Some("+911")).unwrap().0, ["+912"]);
        assert_eq!(a.next("c", Some("+912")).unwrap().0, ["+913"]);
        assert_eq!(a.next("c", Some("+913")).unwrap().0, Vec::<String>::new());
        assert_eq!(a.next("other", Some("+911")), None);
    }

    #[test]
    fn a_number_tried_outside_the_list_is_never_offered_again() {
        let mut a = Attempts::default();
        a.first("c", numbers(), false);
        // Exotel reports an attempt of the second number (another replica answered it).
        assert_eq!(a.next("c", Some("+912")).unwrap().0, ["+913"]);
    }

    #[test]
    fn ring_all_answers_every_number_not_yet_tried() {
        let mut a = Attempts::default();
        assert_eq!(a.first("c", numbers(), true), numbers());
        assert_eq!(a.next("c", Some("+911")).unwrap().0, Vec::<String>::new());
    }
}
