//! Memory under a million distinct callers: each looked up once through an HTTP source with a
//! 10-minute cache, against a keep-alive CRM on loopback in this process. The source's cache
//! keeps 100,000 answers at most, so resident memory levels off; the curve is printed every
//! 100,000 callers (target: RSS ≤ 64 MB throughout).
//!
//! Run: `cargo bench --bench callers` (about a minute). `ROUTEC_BENCH_QUICK=1` runs 20,000
//! callers (CI smoke).

use std::sync::Arc;
use std::time::{Duration, Instant};

use routec::call::{Call, PhoneValue};
use routec::facts::Facts;
use routec::sources::{Lookups, SourceData};

/// Resident memory of this process, in MB (Linux).
fn rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let callers: usize = if quick { 20_000 } else { 1_000_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        // The CRM: keep-alive HTTP/1.1, a small answer for every caller.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let crm = axum::Router::new().route(
            "/c",
            axum::routing::get(|| async { r#"{"tier": "premium", "language": "hi"}"# }),
        );
        tokio::spawn(async move { axum::serve(listener, crm).await });
        let text = format!(
            "enum Tier {{ standard, premium }}\n\
             source crm http \"http://{addr}/c?p={{call.from}}\" {{ timeout 2s cache 10m }}\n\
             facts caller from crm {{ tier: Tier  language: string }}\n\
             rule vip: when caller.tier == premium -> queue vip\n\
             otherwise -> queue general\n"
        );
        let files = routec::policy_files::SourceFiles::single("bench.route", text);
        let policy = Arc::new(routec::load(&files).0.expect("policy"));
        let lookups = Arc::new(Lookups::new(&policy.checked, SourceData::default()));
        let started = Instant::now();
        println!("callers        RSS     elapsed");
        println!("{:>7}  {:>6.1} MB  {:>6.1} s", 0, rss_mb(), 0.0);
        let mut peak: f64 = 0.0;
        let at_once = 32;
        let step = if quick { 5_000 } else { 100_000 };
        for start in (0..callers).step_by(step) {
            let mut tasks = tokio::task::JoinSet::new();
            for lane in 0..at_once {
                let (policy, lookups) = (Arc::clone(&policy), Arc::clone(&lookups));
                tasks.spawn(async move {
                    let mut found = 0usize;
                    for caller in (start + lane..start + step).step_by(at_once) {
                        let call = Call {
                            from: Some(PhoneValue {
                                value: format!("+9198{caller:08}").into(),
                                e164: true,
                            }),
                            ..Call::default()
                        };
                        let mut facts = Facts::none(&policy.checked);
                        let given = vec![false; policy.checked.facts.len()];
                        let deadline = Instant::now() + Duration::from_secs(2);
                        lookups
                            .lookup(&policy.checked, &call, &mut facts, &given, deadline)
                            .await;
                        found += usize::from(facts.groups[0].is_some());
                    }
                    found
                });
            }
            let mut found = 0;
            while let Some(done) = tasks.join_next().await {
                found += done.unwrap_or(0);
            }
            assert_eq!(found, step, "every caller is found");
            let rss = rss_mb();
            peak = peak.max(rss);
            println!(
                "{:>7}  {:>6.1} MB  {:>6.1} s",
                start + step,
                rss,
                started.elapsed().as_secs_f64()
            );
        }
        println!("peak RSS {peak:.1} MB for {callers} distinct callers (target ≤ 64 MB)");
    });
}
