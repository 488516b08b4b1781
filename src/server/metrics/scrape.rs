//! `/metrics`: the server's figures at one moment in, Prometheus text out (prometheus-client's
//! encoder, through a collector that reads the atomics and the serving policy).

use std::fmt::Error;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use super::process;
use crate::histogram::Reading;
use crate::server::AppState;

/// Renders every metric as Prometheus text (format 0.0.4). `store_up` is asked of the store
/// just before, as it may take a round trip.
pub fn render(state: Arc<AppState>, store_up: bool) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape { state, store_up }));
    let mut text = String::new();
    // Writing to a `String` does not fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut text, &registry);
    text
}

struct Scrape {
    state: Arc<AppState>,
    store_up: bool,
}

impl std::fmt::Debug for Scrape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scrape")
    }
}

fn counter(encoder: MetricEncoder<'_>, n: u64) -> Result<(), Error> {
    let mut encoder = encoder;
    encoder.encode_counter::<NoLabelSet, u64, f64>(&n, None)
}

fn gauge<V: prometheus_client::encoding::EncodeGaugeValue>(
    mut encoder: MetricEncoder<'_>,
    v: V,
) -> Result<(), Error> {
    encoder.encode_gauge(&v)
}

fn histogram(mut encoder: MetricEncoder<'_>, r: &Reading) -> Result<(), Error> {
    encoder.encode_histogram::<NoLabelSet>(r.sum_seconds, r.count, &r.buckets, None)
}

/// A family's samples, one per label set.
fn family<L: EncodeLabelSet>(
    encoder: &mut DescriptorEncoder<'_>,
    [name, help]: [&str; 2],
    kind: MetricType,
    samples: impl IntoIterator<Item = (L, Sample)>,
) -> Result<(), Error> {
    let mut metric = encoder.encode_descriptor(name, help, None, kind)?;
    for (labels, sample) in samples {
        let each = metric.encode_family(&labels)?;
        match sample {
            Sample::Counter(n) => counter(each, n)?,
            Sample::Gauge(v) => gauge(each, v)?,
            Sample::Histogram(r) => histogram(each, &r)?,
        }
    }
    Ok(())
}

/// The label set of a family without labels.
type NoLabels = [(&'static str, &'static str); 0];

enum Sample {
    Counter(u64),
    Gauge(f64),
    Histogram(Reading),
}

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), Error> {
        let state = &self.state;
        let metrics = &state.metrics;
        let e = &mut encoder;
        family(
            e,
            [
                "routec_http_request_duration_seconds",
                "Time to answer a request, by route template, method and status.",
            ],
            MetricType::Histogram,
            metrics.requests().map(|([route, method], status, h)| {
                let labels = vec![("route", route.to_string()), ("method", method.into())];
                let mut labels = labels;
                labels.push(("status", status));
                (labels, Sample::Histogram(h))
            }),
        )?;
        let (decisions, degraded) = metrics.counted();
        family(
            e,
            [
                "routec_decisions",
                "Decisions, by the rule that decided and the kind of its target.",
            ],
            MetricType::Counter,
            decisions.into_iter().map(|(rule, target, n)| {
                (
                    [("rule", rule), ("target", target.to_string())],
                    Sample::Counter(n),
                )
            }),
        )?;
        family(
            e,
            [
                "routec_degraded",
                "Decisions made with something missing, by reason.",
            ],
            MetricType::Counter,
            degraded
                .into_iter()
                .map(|(reason, n)| ([("reason", reason)], Sample::Counter(n))),
        )?;
        family(
            e,
            [
                "routec_outcomes",
                "Calls' outcomes from Exotel's events (answered, missed), by the rule that \
                 decided the call (calls this server decided).",
            ],
            MetricType::Counter,
            state
                .console
                .stats
                .outcomes()
                .into_iter()
                .flat_map(|(rule, counts)| {
                    super::super::console::stats::OUTCOMES
                        .iter()
                        .zip(counts)
                        .map(move |(outcome, n)| {
                            (
                                [("rule", rule.clone()), ("outcome", outcome.to_string())],
                                Sample::Counter(n),
                            )
                        })
                }),
        )?;
        if let Some(shadow) = &state.shadow {
            family(
                e,
                [
                    "routec_shadow_decisions",
                    "Live decisions also made by the shadow candidate, by the rule of each and whether the call went the same way.",
                ],
                MetricType::Counter,
                shadow
                    .counts()
                    .into_iter()
                    .map(|(active, candidate, outcome, n)| {
                        (
                            [
                                ("active_rule", active),
                                ("candidate_rule", candidate),
                                ("outcome", outcome.to_string()),
                            ],
                            Sample::Counter(n),
                        )
                    }),
            )?;
        }
        family(
            e,
            [
                "routec_reloads",
                "Policy reloads, by outcome and by what triggered them.",
            ],
            MetricType::Counter,
            metrics.reloads().map(|([outcome, trigger], n)| {
                (
                    [("outcome", outcome), ("trigger", trigger)],
                    Sample::Counter(n),
                )
            }),
        )?;
        let serving = state.current.load_full();
        family(
            e,
            [
                "routec_policy_info",
                "The policy being served, and its version (a hash of its files).",
            ],
            MetricType::Gauge,
            serving.iter().map(|s| {
                let policy = s.prepared.policy.checked.name.clone();
                (
                    [("policy", policy), ("version", s.version.clone())],
                    Sample::Gauge(1.0),
                )
            }),
        )?;
        family(
            e,
            ["routec_build_info", "The version of routec running."],
            MetricType::Gauge,
            [([("version", env!("CARGO_PKG_VERSION"))], Sample::Gauge(1.0))],
        )?;
        self.sources(e, serving.as_deref())?;
        let store = &state.store;
        family(
            e,
            [
                "routec_state_pending_writes",
                "Agent-state writes held back while the store is unreachable, to be replayed.",
            ],
            MetricType::Gauge,
            [([] as NoLabels, Sample::Gauge(store.pending_writes() as f64))],
        )?;
        family(
            e,
            [
                "routec_state_store_up",
                "1 when the agent-state store answers, 0 when it does not.",
            ],
            MetricType::Gauge,
            [(
                [] as NoLabels,
                Sample::Gauge(f64::from(u8::from(self.store_up))),
            )],
        )?;
        family(
            e,
            [
                "routec_state_writes",
                "Decisions written to Redis, by whether they took one round trip or more.",
            ],
            MetricType::Counter,
            store.round_trips().into_iter().flat_map(|(all, one)| {
                [
                    ([("round_trips", "one")], Sample::Counter(one)),
                    ([("round_trips", "more")], Sample::Counter(all - one)),
                ]
            }),
        )?;
        family(
            e,
            [
                "routec_decision_log_dropped",
                "Decision-log lines dropped because their writer was behind.",
            ],
            MetricType::Counter,
            [([] as NoLabels, Sample::Counter(state.log.dropped()))],
        )?;
        process::encode(e)
    }
}

impl Scrape {
    /// Each remote source's lookups, cache and breaker.
    fn sources(
        &self,
        e: &mut DescriptorEncoder<'_>,
        serving: Option<&crate::server::Serving>,
    ) -> Result<(), Error> {
        let readings: Vec<(String, crate::sources::GuardReading<'_>)> = serving
            .map(|s| {
                let policy = &s.prepared.policy.checked;
                s.prepared
                    .lookups
                    .guards()
                    .filter_map(|(id, guard)| {
                        Some((policy.sources.get(id)?.name.clone(), guard.reading()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        family(
            e,
            [
                "routec_source_lookup_duration_seconds",
                "Time a source lookup took, by source and outcome (`cached`, `found`, \
                 `not_found`, `failed`, `timeout`, `open`: the breaker answered).",
            ],
            MetricType::Histogram,
            readings.iter().flat_map(|(source, r)| {
                r.durations
                    .iter()
                    .filter(|(_, h)| h.count() > 0)
                    .map(move |(outcome, h)| {
                        (
                            [("source", source.as_str()), ("outcome", *outcome)],
                            Sample::Histogram(h.read()),
                        )
                    })
            }),
        )?;
        family(
            e,
            [
                "routec_source_cache_entries",
                "Answers in a source's cache.",
            ],
            MetricType::Gauge,
            readings.iter().map(|(source, r)| {
                (
                    [("source", source.as_str())],
                    Sample::Gauge(r.cache_entries as f64),
                )
            }),
        )?;
        family(
            e,
            [
                "routec_source_breaker_open",
                "1 while a source's circuit breaker is open (the source is not asked).",
            ],
            MetricType::Gauge,
            readings.iter().map(|(source, r)| {
                (
                    [("source", source.as_str())],
                    Sample::Gauge(f64::from(u8::from(r.breaker_open))),
                )
            }),
        )
    }
}
