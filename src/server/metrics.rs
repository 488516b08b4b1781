//! Counters and latency histograms, written as Prometheus text at `/metrics`.

use crate::degraded::Degraded;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Inner {
    /// Requests and their latency, by endpoint.
    requests: BTreeMap<&'static str, Histogram>,
    /// Decisions by (rule, target).
    decisions: BTreeMap<String, BTreeMap<&'static str, u64>>,
    degraded: BTreeMap<String, u64>,
    reloads_ok: u64,
    reloads_failed: u64,
    version: String,
}

/// Everything `/metrics` reports. The lock is held only to add a number, never across an
/// `.await`.
#[derive(Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    fn inner(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn request(&self, endpoint: &'static str, took: Duration) {
        let seconds = took.as_secs_f64();
        let mut inner = self.inner();
        let h = inner.requests.entry(endpoint).or_default();
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                h.counts[i] += 1;
            }
        }
        h.count += 1;
        h.sum += seconds;
    }

    pub fn decision(&self, rule: &str, target: &'static str, degraded: &[Degraded]) {
        let mut inner = self.inner();
        // Looked up by `&str` first: a rule's name is allocated once, not per decision.
        match inner.decisions.get_mut(rule) {
            Some(targets) => *targets.entry(target).or_default() += 1,
            None => {
                inner
                    .decisions
                    .insert(rule.to_string(), BTreeMap::from([(target, 1)]));
            }
        }
        for reason in degraded {
            // `source crm: timeout` counts as `source crm`: details would make a label per call.
            *inner.degraded.entry(reason.label()).or_default() += 1;
        }
    }

    pub fn reload(&self, ok: bool, version: Option<&str>) {
        let mut inner = self.inner();
        if ok {
            inner.reloads_ok += 1;
        } else {
            inner.reloads_failed += 1;
        }
        if let Some(v) = version {
            inner.version = v.to_string();
        }
    }

    pub fn set_version(&self, version: &str) {
        self.inner().version = version.to_string();
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.inner();
        let mut out = String::new();
        let label = |s: &str| {
            s.replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        };
        out.push_str("# HELP routec_requests_seconds Time to answer a request, by endpoint.\n");
        out.push_str("# TYPE routec_requests_seconds histogram\n");
        for (endpoint, h) in &inner.requests {
            for (i, bound) in BUCKETS.iter().enumerate() {
                let _ = writeln!(
                    out,
                    "routec_requests_seconds_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {}",
                    h.counts[i]
                );
            }
            let _ = writeln!(
                out,
                "routec_requests_seconds_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "routec_requests_seconds_sum{{endpoint=\"{endpoint}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "routec_requests_seconds_count{{endpoint=\"{endpoint}\"}} {}",
                h.count
            );
        }
        out.push_str(
            "# HELP routec_decisions_total Decisions, by the rule that decided and its target.\n",
        );
        out.push_str("# TYPE routec_decisions_total counter\n");
        for (rule, targets) in &inner.decisions {
            for (target, n) in targets {
                let _ = writeln!(
                    out,
                    "routec_decisions_total{{rule=\"{}\",target=\"{target}\"}} {n}",
                    label(rule)
                );
            }
        }
        out.push_str(
            "# HELP routec_degraded_total Decisions made with something missing, by reason.\n",
        );
        out.push_str("# TYPE routec_degraded_total counter\n");
        for (reason, n) in &inner.degraded {
            let _ = writeln!(
                out,
                "routec_degraded_total{{reason=\"{}\"}} {n}",
                label(reason)
            );
        }
        out.push_str("# HELP routec_reloads_total Policy reloads, by outcome.\n");
        out.push_str("# TYPE routec_reloads_total counter\n");
        let _ = writeln!(
            out,
            "routec_reloads_total{{outcome=\"ok\"}} {}",
            inner.reloads_ok
        );
        let _ = writeln!(
            out,
            "routec_reloads_total{{outcome=\"failed\"}} {}",
            inner.reloads_failed
        );
        out.push_str("# HELP routec_policy_info The policy version being served.\n");
        out.push_str("# TYPE routec_policy_info gauge\n");
        let _ = writeln!(
            out,
            "routec_policy_info{{version=\"{}\"}} 1",
            label(&inner.version)
        );
        out
    }
}
