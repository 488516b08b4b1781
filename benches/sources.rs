//! Benchmarks of lookups: decisions with a warm cache against decisions with in-memory facts
//! (target ≤ 2×), and latency against a CRM that answers in 50 ms with a 5-minute cache when
//! 30% of calls come from a caller who called before (p99 reported).
//!
//! Run: `cargo bench --bench sources`. `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke).

#[path = "../tests/routec/crm.rs"]
#[allow(dead_code)]
mod crm;

use std::sync::Arc;
use std::time::{Duration, Instant};

use routec::case::Case;
use routec::sources::{Lookups, SourceData};

fn policy(url: &str) -> routec::compile::Policy {
    let text = format!(
        r#"
enum Tier {{ standard, premium, enterprise }}
source crm http "{url}/customers?phone={{call.from}}" {{ timeout 800ms cache 5m }}
facts caller from crm {{ tier: Tier  language: string  spend: number }}
agent asha "+919800000001" languages [en, hi]
agent ravi "+919800000002" languages [en, es]
team T [asha, ravi] strategy longest_idle
rule vip: when caller.tier == enterprise -> team T
rule spanish: when caller.language == "es" -> agents where speaks "es"
rule big: when caller.spend >= 1000 -> team T
otherwise -> queue general
"#
    );
    let files = routec::policy_files::SourceFiles::single("bench.route", text);
    routec::load(&files).0.expect("policy")
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

fn case(policy: &routec::compile::Policy, caller: usize) -> Case {
    let doc = serde_json::json!({"call": {"CallSid": format!("s{caller}"), "CallFrom": format!("+9198450{caller:05}")}});
    routec::case::read(&policy.checked, &doc, "", &[]).expect("case")
}

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let answer = r#"{"tier": "premium", "language": "es", "spend": 50}"#;
    let fast = crm::Crm::start(move |_, _| crm::Reply::json(answer));
    let slow =
        crm::Crm::start(move |_, _| crm::Reply::json(answer).after(Duration::from_millis(50)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let now: jiff::Timestamp = "2026-11-23T10:15:00+05:30".parse().unwrap();

    // 1. Warm cache against in-memory facts, one decision at a time.
    let p = policy(&fast.url());
    let lookups = Lookups::new(&p.checked, SourceData::default());
    let callers = if quick { 10 } else { 500 };
    let rounds = if quick { 1 } else { 200 };
    let cases: Vec<Case> = (0..callers).map(|c| case(&p, c)).collect();
    let deadline = || Instant::now() + Duration::from_secs(1);
    runtime.block_on(async {
        for c in &cases {
            let mut facts = c.facts.clone();
            lookups
                .lookup(&p.checked, &c.call, &mut facts, &c.given, deadline())
                .await;
        }
    });
    let mut in_memory_facts = Vec::new();
    for c in &cases {
        let mut facts = c.facts.clone();
        runtime.block_on(lookups.lookup(&p.checked, &c.call, &mut facts, &c.given, deadline()));
        in_memory_facts.push(facts);
    }
    let mut warm = Vec::new();
    let mut memory = Vec::new();
    runtime.block_on(async {
        for _ in 0..rounds {
            for (c, facts) in cases.iter().zip(&in_memory_facts) {
                let t = Instant::now();
                let mut looked_up = c.facts.clone();
                lookups
                    .lookup(&p.checked, &c.call, &mut looked_up, &c.given, deadline())
                    .await;
                std::hint::black_box(routec::eval::eval(&p, &c.call, &looked_up, now, &c.agents));
                warm.push(t.elapsed().as_nanos() as u64);
                let t = Instant::now();
                std::hint::black_box(routec::eval::eval(&p, &c.call, facts, now, &c.agents));
                memory.push(t.elapsed().as_nanos() as u64);
            }
        }
    });
    warm.sort_unstable();
    memory.sort_unstable();
    let (w50, m50) = (percentile(&warm, 0.5), percentile(&memory, 0.5));
    println!(
        "warm cache: p50 {w50} ns, p99 {} ns; in-memory facts: p50 {m50} ns, p99 {} ns; ratio {:.2}× at p50",
        percentile(&warm, 0.99),
        percentile(&memory, 0.99),
        w50 as f64 / m50.max(1) as f64
    );
    println!(
        "requests to the CRM: {} for {} callers",
        fast.requests(),
        callers
    );

    // 2. A CRM answering in 50 ms, 5-minute cache, 30% repeat callers, 16 calls at a time.
    let p = Arc::new(policy(&slow.url()));
    let lookups = Arc::new(Lookups::new(&p.checked, SourceData::default()));
    let calls = if quick { 50 } else { 4000 };
    let mut next_new = 0usize;
    let mut seen: Vec<usize> = Vec::new();
    let mut state = 0x9E37_79B9u64;
    let callers: Vec<usize> = (0..calls)
        .map(|_| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if !seen.is_empty() && (state >> 33) % 100 < 30 {
                seen[(state >> 40) as usize % seen.len()]
            } else {
                next_new += 1;
                seen.push(next_new);
                next_new
            }
        })
        .collect();
    let latencies = runtime.block_on(async {
        let mut all = Vec::with_capacity(calls);
        for chunk in callers.chunks(16) {
            let mut tasks = tokio::task::JoinSet::new();
            for &caller in chunk {
                let (p, lookups) = (Arc::clone(&p), Arc::clone(&lookups));
                tasks.spawn(async move {
                    let c = case(&p, caller);
                    let t = Instant::now();
                    let mut facts = c.facts.clone();
                    lookups
                        .lookup(
                            &p.checked,
                            &c.call,
                            &mut facts,
                            &c.given,
                            Instant::now() + Duration::from_secs(1),
                        )
                        .await;
                    std::hint::black_box(routec::eval::eval(&p, &c.call, &facts, now, &c.agents));
                    t.elapsed().as_micros() as u64
                });
            }
            while let Some(r) = tasks.join_next().await {
                all.push(r.expect("task"));
            }
        }
        all
    });
    let mut sorted = latencies;
    sorted.sort_unstable();
    println!(
        "CRM at 50 ms, cache 5m, 30% repeat callers ({calls} calls, 16 at a time): p50 {} µs, p90 {} µs, p99 {} µs; {} CRM requests",
        percentile(&sorted, 0.5),
        percentile(&sorted, 0.9),
        percentile(&sorted, 0.99),
        slow.requests()
    );
}
