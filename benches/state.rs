//! Benchmark of the agent state stores: decisions per second and latency of a round-robin
//! decision (read state, decide, take the step and reserve the agent) with the Redis store
//! against the memory store, in the same run. Target: Redis adds at most a round trip or two
//! per decision and keeps p99 ≤ 2 ms on loopback.
//!
//! Run: `cargo bench --bench state` (Redis at `ROUTEC_TEST_REDIS_URL`, default the local one;
//! skipped when it does not answer). `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke).

use std::sync::Arc;
use std::time::{Duration, Instant};

use routec::call::Call;
use routec::compile::Policy;
use routec::eval::AgentSnapshot;
use routec::facts::Facts;
use routec::state::memory::MemoryStore;
use routec::state::redis::RedisStore;
use routec::state::{DecideContext, StateStore};

const POLICY: &str = r#"
agent a1 "+919800000001"
agent a2 "+919800000002"
agent a3 "+919800000003"
agent a4 "+919800000004"
agent a5 "+919800000005"
agent a6 "+919800000006"
agent a7 "+919800000007"
agent a8 "+919800000008"
team RR [a1, a2, a3, a4, a5, a6, a7, a8] strategy round_robin
otherwise -> team RR or queue waiting
"#;

fn policy() -> Policy {
    let files = routec::policy_files::SourceFiles::single("bench.route", POLICY);
    routec::load(&files).0.expect("policy")
}

async fn decide(store: &StateStore, policy: &Policy, sid: &str, reserve: bool) -> Duration {
    let call = Call {
        sid: Some(sid.to_string()),
        ..Call::default()
    };
    let facts = Facts::none(&policy.checked);
    let now = jiff::Timestamp::now();
    let started = Instant::now();
    let ctx = DecideContext {
        policy,
        call_sid: Some(sid),
        tried: None,
        one_at_a_time: false,
        caller: None,
        now_ms: now.as_millisecond(),
        today: "2026-11-24".into(),
        deadline: started + Duration::from_secs(1),
        // A short reservation: the bench's calls end at once.
        reserve_for: if reserve {
            Duration::from_millis(1)
        } else {
            Duration::ZERO
        },
        commit: true,
    };
    let eval = |agents: &AgentSnapshot| routec::eval::eval(policy, &call, &facts, now, agents);
    let routec::state::Routed::Decided(decision, _) = store.decide(&ctx, &eval).await else {
        panic!("every call of the bench is new")
    };
    assert!(decision.degraded.is_empty(), "{:?}", decision.degraded);
    started.elapsed()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// Sequential latency over `n` decisions, then throughput with `concurrency` at once.
async fn run(
    name: &str,
    store: Arc<StateStore>,
    policy: Arc<Policy>,
    n: usize,
    concurrency: usize,
) {
    for i in 0..100 {
        decide(&store, &policy, &format!("warm{i}"), true).await;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        samples.push(decide(&store, &policy, &format!("seq{i}"), true).await);
    }
    samples.sort();
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
            tokio::spawn(async move {
                for i in 0..n / concurrency {
                    decide(&store, &policy, &format!("c{t}-{i}"), true).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let per_second = (n / concurrency * concurrency) as f64 / started.elapsed().as_secs_f64();
    println!(
        "{name:>6}: p50 {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs  |  {per_second:>8.0} decisions/s with {concurrency} at once",
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let n = if quick { 500 } else { 20_000 };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let policy = Arc::new(policy());
        println!(
            "round-robin decision with a reservation, {n} sequential, then {n} at 16 at once:"
        );
        let memory = Arc::new(StateStore::Memory(Box::new(MemoryStore::new(None))));
        run("memory", memory, Arc::clone(&policy), n, 16).await;
        let url = std::env::var("ROUTEC_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("routec-bench-{}", std::process::id());
        let redis = RedisStore::connect(&url, &prefix).expect("redis url");
        if !redis.ping().await {
            println!(" redis: SKIPPED, nothing answers at {url}");
            return;
        }
        run("redis", Arc::new(StateStore::Redis(redis)), policy, n, 16).await;
        // The bench's keys go with it.
        if let Ok(client) = ::redis::Client::open(url.as_str())
            && let Ok(mut con) = client.get_multiplexed_async_connection().await
        {
            let keys: Vec<String> = ::redis::cmd("KEYS")
                .arg(format!("{{{prefix}}}:*"))
                .query_async(&mut con)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = ::redis::cmd("DEL").arg(keys).query_async(&mut con).await;
            }
        }
    });
}
