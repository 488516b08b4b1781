//! What every remote source shares: a cache (also of "not found"), one request for concurrent
//! lookups of the same key, and a circuit breaker that stops asking a failing source for a
//! while. Lookups end at the caller's deadline; the request itself runs on to its timeout.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::facts::ReadFacts;
use crate::histogram::Histogram;

/// How a lookup ended, as `routec_source_lookup_duration_seconds` labels it.
pub const OUTCOMES: [&str; 6] = ["cached", "found", "not_found", "failed", "timeout", "open"];
const CACHED: usize = 0;
const TIMEOUT: usize = 4;
const OPEN: usize = 5;

fn outcome(answer: &Answer) -> usize {
    match answer {
        Answer::Found(_) => 1,
        Answer::NotFound => 2,
        Answer::Failed(_) => 3,
    }
}

/// The most answers a source's cache keeps unless the policy says (`cache 10m max N`):
/// with it, a million distinct callers peak at 48 MB resident (`cargo bench --bench callers`).
pub const CACHE_MAX: usize = 50_000;

/// Failures in a row that open the breaker, and how long it stays open.
const BREAKER_FAILURES: u32 = 5;
const BREAKER_OPEN_FOR: Duration = Duration::from_secs(30);

/// What a lookup found.
#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    /// The facts the answer gives, read once when it arrived.
    Found(Arc<ReadFacts>),
    /// The source knows no such caller: every fact missing, nothing wrong.
    NotFound,
    /// The lookup failed; the reason goes into the decision's `degraded`.
    Failed(String),
}

#[derive(Default)]
struct State {
    cache: HashMap<String, (Instant, Answer)>,
    inflight: HashMap<String, watch::Receiver<Option<Answer>>>,
    failures: u32,
    open_until: Option<Instant>,
    /// While half-open, a trial request is under way: others fail fast.
    trial: bool,
}

impl State {
    /// Whether the breaker keeps callers off the source at `now`: open, or half-open with
    /// its trial under way.
    fn open(&self, now: Instant) -> bool {
        self.open_until
            .is_some_and(|until| now < until || self.trial)
    }
}

#[derive(Default)]
pub struct Guard {
    ttl: Option<Duration>,
    /// The most answers cached: past it, stale ones go, then the oldest tenth.
    max: usize,
    /// Never held across an `.await`.
    state: Mutex<State>,
    requests: std::sync::atomic::AtomicUsize,
    /// How long lookups took, by [`OUTCOMES`].
    durations: [Histogram; OUTCOMES.len()],
}

/// A source's figures for `/metrics`.
pub struct GuardReading<'a> {
    pub cache_entries: usize,
    pub breaker_open: bool,
    /// (outcome, durations) for each of [`OUTCOMES`].
    pub durations: Vec<(&'static str, &'a Histogram)>,
}

impl Guard {
    pub fn new(ttl: Option<Duration>, max: Option<usize>) -> Guard {
        Guard {
            ttl,
            max: max.unwrap_or(CACHE_MAX),
            ..Guard::default()
        }
    }

    /// Answers in the cache now.
    #[cfg(test)]
    fn cached_answers(&self) -> usize {
        self.state().cache.len()
    }

    pub fn reading(&self) -> GuardReading<'_> {
        let state = self.state();
        GuardReading {
            cache_entries: state.cache.len(),
            breaker_open: state.open(Instant::now()),
            durations: OUTCOMES.iter().copied().zip(&self.durations).collect(),
        }
    }

    /// Requests sent so far (cache hits and shared lookups send none).
    pub fn requests_sent(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data: keep using it.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached answer for `key`, if it is fresh: no waiting, no task.
    pub fn cached(&self, key: &str) -> Option<Answer> {
        let ttl = self.ttl?;
        let state = self.state();
        let (at, answer) = state.cache.get(key)?;
        let fresh = (at.elapsed() < ttl).then(|| answer.clone());
        if fresh.is_some() {
            self.durations[CACHED].observe(Duration::ZERO);
        }
        fresh
    }

    /// The answer for `key`: from the cache, from a request under way, or from `fetch`,
    /// run once on its own task, by `deadline` at the latest.
    pub async fn lookup<Fut>(
        self: &Arc<Self>,
        key: String,
        deadline: Instant,
        fetch: impl FnOnce() -> Fut,
    ) -> Answer
    where
        Fut: Future<Output = Answer> + Send + 'static,
    {
        let started = Instant::now();
        let (answer, outcome) = self.lookup_timed(key, deadline, fetch).await;
        self.durations[outcome].observe(started.elapsed());
        answer
    }

    /// [`Guard::lookup`], and which of [`OUTCOMES`] it ended with.
    async fn lookup_timed<Fut>(
        self: &Arc<Self>,
        key: String,
        deadline: Instant,
        fetch: impl FnOnce() -> Fut,
    ) -> (Answer, usize)
    where
        Fut: Future<Output = Answer> + Send + 'static,
    {
        let mut rx = {
            let mut state = self.state();
            let now = Instant::now();
            if let Some((at, answer)) = state.cache.get(&key) {
                if self.ttl.is_some_and(|ttl| now.duration_since(*at) < ttl) {
                    return (answer.clone(), CACHED);
                }
                state.cache.remove(&key);
            }
            // While open, nobody waits on the source, not even on a request under way.
            if state.open(now) {
                return (Answer::Failed("circuit open".into()), OPEN);
            }
            match state.inflight.get(&key) {
                // Someone is asking already: wait for that answer.
                Some(rx) => rx.clone(),
                None => {
                    if state.open_until.is_some() {
                        // Half-open: this request is the trial.
                        state.trial = true;
                    }
                    let (tx, rx) = watch::channel(None);
                    state.inflight.insert(key.clone(), rx.clone());
                    self.requests
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let guard = Arc::clone(self);
                    let request = fetch();
                    tokio::spawn(async move {
                        // The request runs to its own timeout even if every caller gives up,
                        // so that a hanging source is counted and opens the breaker.
                        let answer = request.await;
                        guard.record(&key, &answer);
                        let _ = tx.send(Some(answer));
                    });
                    rx
                }
            }
        };
        let remaining = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(remaining, rx.wait_for(Option::is_some)).await {
            Ok(Ok(answer)) => {
                let answer = answer.clone().unwrap_or(Answer::Failed("no answer".into()));
                let outcome = outcome(&answer);
                (answer, outcome)
            }
            Ok(Err(_)) => {
                let answer = Answer::Failed("no answer".into());
                let outcome = outcome(&answer);
                (answer, outcome)
            }
            Err(_) => {
                // A source that keeps every call waiting its whole budget is failing, whether
                // or not its requests ever end: the breaker learns it from the deadline.
                self.failed();
                (Answer::Failed("timeout".into()), TIMEOUT)
            }
        }
    }

    /// Counts a failure; enough in a row open the breaker.
    fn failed(&self) {
        let mut state = self.state();
        state.failures += 1;
        if state.failures >= BREAKER_FAILURES {
            state.open_until = Some(Instant::now() + BREAKER_OPEN_FOR);
        }
    }

    /// Remembers an answer: in the cache (found or not found), and in the breaker.
    fn record(&self, key: &str, answer: &Answer) {
        let mut state = self.state();
        state.inflight.remove(key);
        state.trial = false;
        match answer {
            Answer::Failed(_) => {
                drop(state);
                self.failed();
            }
            Answer::Found(_) | Answer::NotFound => {
                state.failures = 0;
                state.open_until = None;
                if let Some(ttl) = self.ttl {
                    let now = Instant::now();
                    let stale = now.checked_sub(ttl).unwrap_or(now);
                    crate::bounded::bound(&mut state.cache, self.max, stale, |(at, _)| *at);
                    state.cache.insert(key.to_string(), (now, answer.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cache_keeps_at_most_its_max_answers_the_newest_first() {
        let guard = Arc::new(Guard::new(Some(Duration::from_secs(600)), Some(100)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            let deadline = Instant::now() + Duration::from_secs(5);
            for caller in 0..1000 {
                let answer = guard
                    .lookup(format!("+9198450{caller:05}"), deadline, || async {
                        Answer::NotFound
                    })
                    .await;
                assert_eq!(answer, Answer::NotFound);
                assert!(guard.cached_answers() <= 100, "{}", guard.cached_answers());
            }
        });
        assert!(guard.cached("+919845000999").is_some(), "the newest stays");
        assert!(guard.cached("+919845000000").is_none(), "the oldest went");
        assert_eq!(guard.requests_sent(), 1000);
    }
}
