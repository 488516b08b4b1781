//! Metrics: counted in atomics on the request path (no lock), encoded as Prometheus text
//! through prometheus-client when `/metrics` is scraped ([`scrape`]).

mod process;
pub(super) mod scrape;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::per_thread::PerThread;
use crate::compile::Policy;
use crate::degraded::Degraded;
use crate::eval::{Decision, TargetKind};
use crate::histogram::{Histogram, Reading};

/// The routes of both listeners, as their templates: a label never holds a secret or an id.
pub const ROUTES: [&str; 28] = [
    "/exotel/connect",
    "/exotel/passthru",
    "/exotel/events",
    "/exotel/{secret}/connect",
    "/exotel/{secret}/passthru",
    "/exotel/{secret}/events",
    "/healthz",
    "/readyz",
    "/v1/agents",
    "/v1/agents/{id}/status",
    "/v1/decide",
    "/v1/policy",
    "/v1/reload",
    "/v1/openapi.json",
    "/metrics",
    "/v1/shadow",
    "/",
    "/console/app.js",
    "/console/app.css",
    "/console/login",
    "/console/logout",
    "/console/api/session",
    "/console/api/events",
    "/console/api/rules",
    "/console/api/shape",
    "/console/api/playground",
    "/console/graph.svg",
    // What matched no route.
    "unmatched",
];
/// Request histograms, one by (route, method, status).
const HTTP_SERIES: usize = ROUTES.len() * METHODS.len() * (STATUSES.len() + 1);
/// Copies of the request histograms at most (each 300 kB), one by worker up to it.
const HTTP_COPIES: usize = 4;

const METHODS: [&str; 5] = ["GET", "HEAD", "POST", "PUT", "other"];
/// Statuses the server answers with; anything else is counted as `other`.
const STATUSES: [u16; 16] = [
    200, 204, 302, 400, 401, 403, 404, 405, 408, 413, 415, 422, 429, 431, 500, 503,
];

/// What made a reload happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A change to the policy's files, seen by the file watcher.
    Watch,
    /// A change seen by polling (`watch: poll`).
    Poll,
    /// SIGHUP.
    Signal,
    /// `POST /v1/reload`.
    Api,
}

impl Trigger {
    const ALL: [Trigger; 4] = [Trigger::Watch, Trigger::Poll, Trigger::Signal, Trigger::Api];

    pub fn name(self) -> &'static str {
        match self {
            Trigger::Watch => "watch",
            Trigger::Poll => "poll",
            Trigger::Signal => "signal",
            Trigger::Api => "api",
        }
    }
}

/// Every figure `/metrics` reports that is counted as it happens.
pub struct Metrics {
    /// By route, method and status: see [`Metrics::request`]. A request is timed in its
    /// thread's (up to [`HTTP_COPIES`]): with one set, the two workers of a saturated 2-core
    /// server moved each histogram's cache line between them at every request.
    http: PerThread<Box<[Histogram]>>,
    /// Decision and degraded counters by their labels, kept across policy versions so that a
    /// reload does not restart them. Taken only when a policy loads and when scraped.
    named: Mutex<Named>,
    /// Decisions made with no policy loaded (the static fallback), and their reasons.
    fallback: Arc<AtomicU64>,
    without_policy: DecisionCounters,
    /// Reloads by outcome (ok, failed) and trigger.
    reloads: [[AtomicU64; Trigger::ALL.len()]; 2],
}

/// Decisions by (rule, target, count) and degraded decisions by (reason, count).
type Counted = (Vec<(String, &'static str, u64)>, Vec<(String, u64)>);

#[derive(Default)]
struct Named {
    decisions: BTreeMap<(String, &'static str), Arc<AtomicU64>>,
    degraded: BTreeMap<String, Arc<AtomicU64>>,
}

impl Named {
    fn decision(&mut self, rule: &str, target: &'static str) -> Arc<AtomicU64> {
        let key = (rule.to_string(), target);
        Arc::clone(self.decisions.entry(key).or_default())
    }

    fn degraded(&mut self, reason: &str) -> Arc<AtomicU64> {
        Arc::clone(self.degraded.entry(reason.to_string()).or_default())
    }
}

/// One policy version's decision counters, reached by index on the request path.
pub struct DecisionCounters {
    /// By rule (the last is `otherwise`), then by target kind.
    decisions: Vec<[Arc<AtomicU64>; TargetKind::ALL.len()]>,
    /// By [`Degraded::label`] of the reasons without a source.
    fixed: [Arc<AtomicU64>; FIXED_REASONS.len()],
    /// `source NAME`, by source index.
    sources: Vec<Arc<AtomicU64>>,
}

/// The labels of degraded reasons that name no source.
const FIXED_REASONS: [&str; 5] = [
    "no_available_agent",
    "state",
    "no policy is loaded",
    "internal error",
    "input",
];

impl Default for Metrics {
    fn default() -> Metrics {
        let mut named = Named::default();
        let fallback = named.decision("fallback", "fallback");
        let without_policy = DecisionCounters::new(&mut named, &[], &[]);
        Metrics {
            http: PerThread::at_most(HTTP_COPIES, || {
                (0..HTTP_SERIES).map(|_| Histogram::default()).collect()
            }),
            named: Mutex::new(named),
            fallback,
            without_policy,
            reloads: Default::default(),
        }
    }
}

impl DecisionCounters {
    /// Counters that count nothing: a policy version's until it is served.
    pub fn unattached() -> DecisionCounters {
        DecisionCounters {
            decisions: Vec::new(),
            fixed: Default::default(),
            sources: Vec::new(),
        }
    }

    fn new(named: &mut Named, rules: &[&str], sources: &[&str]) -> DecisionCounters {
        DecisionCounters {
            decisions: rules
                .iter()
                .map(|rule| TargetKind::ALL.map(|t| named.decision(rule, t.name())))
                .collect(),
            fixed: FIXED_REASONS.map(|reason| named.degraded(reason)),
            sources: sources
                .iter()
                .map(|s| named.degraded(&format!("source {s}")))
                .collect(),
        }
    }

    fn count(&self, policy: Option<&Policy>, decision: &Decision) {
        let rule = decision
            .rule
            .position(self.decisions.len().saturating_sub(1));
        if let Some(counters) = self.decisions.get(rule) {
            counters[decision.target.index()].fetch_add(1, Ordering::Relaxed);
        }
        for reason in &decision.degraded {
            if let Some(counter) = self.reason(policy, reason) {
                counter.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn reason(&self, policy: Option<&Policy>, reason: &Degraded) -> Option<&AtomicU64> {
        let fixed = |label: &str| FIXED_REASONS.iter().position(|r| *r == label);
        let by_source = |name: &str| {
            let sources = &policy?.checked.sources;
            let i = sources.iter().position(|s| s.name == name)?;
            self.sources.get(i).map(Arc::as_ref)
        };
        let i = match reason {
            Degraded::NoAvailableAgent => fixed("no_available_agent"),
            Degraded::StateUnavailable => fixed("state"),
            Degraded::NoPolicy => fixed("no policy is loaded"),
            Degraded::EvaluationFailed => fixed("internal error"),
            Degraded::SourceFailed { source, .. } => return by_source(source),
            Degraded::WrongType { origin, .. } => match origin.strip_prefix("source ") {
                Some(source) => return by_source(source),
                None => fixed("input"),
            },
        };
        i.map(|i| self.fixed[i].as_ref())
    }
}

impl Metrics {
    /// The counters a policy's decisions go to.
    pub fn counters_for(&self, policy: &Policy) -> DecisionCounters {
        let checked = &policy.checked;
        let mut rules: Vec<&str> = checked.rules.iter().map(|r| r.name.as_str()).collect();
        rules.push("otherwise");
        let sources: Vec<&str> = checked.sources.iter().map(|s| s.name.as_str()).collect();
        DecisionCounters::new(&mut self.named(), &rules, &sources)
    }

    fn named(&self) -> std::sync::MutexGuard<'_, Named> {
        self.named.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Times a request by the template of the route it matched (`None`: no route).
    pub fn request(&self, route: Option<&str>, method: &str, status: u16, took: Duration) {
        let route = route
            .and_then(|r| ROUTES.iter().position(|known| *known == r))
            .unwrap_or(ROUTES.len() - 1);
        let method = METHODS
            .iter()
            .position(|m| *m == method)
            .unwrap_or(METHODS.len() - 1);
        let status = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        let i = (route * METHODS.len() + method) * (STATUSES.len() + 1) + status;
        self.http.mine()[i].observe(took);
    }

    /// Counts a decision: by the policy version's counters, or as made without a policy.
    pub fn decision(&self, counters: Option<(&DecisionCounters, &Policy)>, decision: &Decision) {
        match counters {
            Some((counters, policy)) => counters.count(Some(policy), decision),
            None => {
                self.fallback.fetch_add(1, Ordering::Relaxed);
                self.without_policy.count(None, decision);
            }
        }
    }

    pub fn reload(&self, ok: bool, trigger: Trigger) {
        let outcome = usize::from(!ok);
        let trigger = Trigger::ALL.iter().position(|t| *t == trigger).unwrap_or(0);
        self.reloads[outcome][trigger].fetch_add(1, Ordering::Relaxed);
    }

    /// Requests by (route, method, status), those seen at least once.
    fn requests(&self) -> impl Iterator<Item = ([&'static str; 2], String, Reading)> + '_ {
        (0..HTTP_SERIES).filter_map(|i| {
            if self.http.all().all(|copy| copy[i].count() == 0) {
                return None;
            }
            let status = i % (STATUSES.len() + 1);
            let method = (i / (STATUSES.len() + 1)) % METHODS.len();
            let route = i / (STATUSES.len() + 1) / METHODS.len();
            let status = STATUSES
                .get(status)
                .map_or("other".to_string(), u16::to_string);
            let reading = Reading::sum(self.http.all().map(|copy| &copy[i]));
            Some(([ROUTES[route], METHODS[method]], status, reading))
        })
    }

    /// Decisions by (rule, target) and degraded decisions by reason, those counted at least
    /// once.
    fn counted(&self) -> Counted {
        let named = self.named();
        let decisions = named
            .decisions
            .iter()
            .map(|((rule, target), n)| (rule.clone(), *target, n.load(Ordering::Relaxed)))
            .filter(|(_, _, n)| *n > 0)
            .collect();
        let degraded = named
            .degraded
            .iter()
            .map(|(reason, n)| (reason.clone(), n.load(Ordering::Relaxed)))
            .filter(|(_, n)| *n > 0)
            .collect();
        (decisions, degraded)
    }

    /// Reloads by outcome and trigger, every combination.
    fn reloads(&self) -> impl Iterator<Item = ([&'static str; 2], u64)> + '_ {
        ["ok", "failed"]
            .into_iter()
            .enumerate()
            .flat_map(move |(o, outcome)| {
                Trigger::ALL.iter().enumerate().map(move |(t, trigger)| {
                    let n = self.reloads[o][t].load(Ordering::Relaxed);
                    ([outcome, trigger.name()], n)
                })
            })
    }
}
