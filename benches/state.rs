//! Benchmark of the agent state stores: decisions per second and latency of a round-robin
//! decision (read state, decide, take the step and reserve the agent) with the Redis store
//! against the memory store, in the same run; a decision's latency in centres of 10, 100 and
//! 1,000 agents, on both stores (it should not grow with the centre); then two Redis replicas
//! deciding for one team at once, with how often a decision took the one-round-trip fast path.
//! Targets: Redis p50 ≤ 100 µs and ≥ 60,000 decisions/s with 16 at once, one round trip in the
//! common case. With 16 at once, it reports the CPU a decision took the bench's process, the
//! time Redis spent in the decision script (`INFO commandstats`), the CPU Redis's process took
//! (`INFO cpu`), and what was left of the machine's cores: when that is near nothing, the
//! cores are full and the CPU of the two processes bounds the rate.
//!
//! Run: `cargo bench --bench state` (Redis at `ROUTEC_TEST_REDIS_URL`, default the local one;
//! skipped when it does not answer). `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke).

use std::sync::Arc;
use std::time::{Duration, Instant};

use routec::call::Call;
use routec::compile::Policy;
use routec::eval::AgentStates;
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
    decide_for(store, policy, sid, reserve).await.0
}

/// A decision of a call with `sid` and nothing else, and how long it took.
async fn decide_for(
    store: &StateStore,
    policy: &Policy,
    sid: &str,
    reserve: bool,
) -> (Duration, routec::eval::Decision) {
    let call = Call {
        sid: Some(sid.into()),
        ..Call::default()
    };
    decide_call(store, policy, &call, reserve).await
}

/// A decision of `call` (which has a `CallSid`), and how long it took.
async fn decide_call(
    store: &StateStore,
    policy: &Policy,
    call: &Call,
    reserve: bool,
) -> (Duration, routec::eval::Decision) {
    let sid = call.sid.as_ref();
    let facts = Facts::none(&policy.checked);
    let now = jiff::Timestamp::now();
    let started = Instant::now();
    let ctx = DecideContext {
        policy,
        call_sid: sid,
        tried: None,
        one_at_a_time: false,
        caller: None,
        now_ms: now.as_millisecond(),
        today: routec::state::Day::of(jiff::civil::date(2026, 11, 24)),
        deadline: started + Duration::from_secs(1),
        // A short reservation: the bench's calls end at once.
        reserve_for: if reserve {
            Duration::from_millis(1)
        } else {
            Duration::ZERO
        },
        commit: true,
        snapshot: false,
    };
    let eval = |agents: &dyn AgentStates| routec::eval::eval(policy, call, &facts, now, agents);
    let routec::state::Routed::Decided(decision, _) = store.decide(&ctx, &eval).await else {
        panic!("every call of the bench is new")
    };
    assert!(decision.degraded.is_empty(), "{:?}", decision.degraded);
    (started.elapsed(), decision)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// Sequential latency over `n` decisions, then throughput with `concurrency` at once, with
/// the CPU each decision took this process (the client's work: building the script's command,
/// reading its answer, the mirror) and, given Redis's URL, Redis's time in the decision script.
async fn run(
    name: &str,
    store: Arc<StateStore>,
    policy: Arc<Policy>,
    n: usize,
    concurrency: usize,
    redis_url: Option<&str>,
) {
    for i in 0..100 {
        decide(&store, &policy, &format!("warm{i}"), true).await;
    }
    let mut samples = Vec::with_capacity(n);
    for i in 0..n {
        samples.push(decide(&store, &policy, &format!("seq{i}"), true).await);
    }
    samples.sort();
    let redis_before = match redis_url {
        Some(url) => redis_time(url).await,
        None => None,
    };
    let cpu_before = cpu_time();
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
    let decided = n / concurrency * concurrency;
    let per_second = decided as f64 / started.elapsed().as_secs_f64();
    let cpu = cpu_before
        .zip(cpu_time())
        .map(|(before, after)| (after - before).as_secs_f64() * 1e6 / decided as f64);
    println!(
        "{name:>6}: p50 {:>7.1} µs  p99 {:>7.1} µs  max {:>8.1} µs  |  {per_second:>8.0} decisions/s with {concurrency} at once",
        percentile(&samples, 0.5).as_secs_f64() * 1e6,
        percentile(&samples, 0.99).as_secs_f64() * 1e6,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
    );
    let elapsed_us = started.elapsed().as_secs_f64() * 1e6;
    let redis = match (redis_before, redis_url) {
        (Some((calls, usec, cpu)), Some(url)) => redis_time(url)
            .await
            .filter(|&(after, _, _)| after > calls)
            .map(|(after, after_usec, after_cpu)| {
                (
                    (after_usec - usec) as f64 / (after - calls) as f64,
                    (after_cpu - cpu) * 1e6 / decided as f64,
                )
            }),
        _ => None,
    };
    match (cpu, redis) {
        (Some(cpu), Some((script, redis))) => {
            println!(
                "{name:>6}: with {concurrency} at once, {cpu:.1} µs of this process's CPU a decision; the script {script:.1} µs in Redis, Redis's process {redis:.1} µs"
            );
            // What the machine's cores did not spend on either: idle, or other processes.
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            let idle = cores as f64 * elapsed_us / decided as f64 - cpu - redis;
            println!(
                "{name:>6}: of the {cores} cores' time a decision, {idle:.1} µs went to neither"
            );
        }
        (Some(cpu), None) => println!(
            "{name:>6}: with {concurrency} at once, {cpu:.1} µs of this process's CPU a decision"
        ),
        _ => {}
    }
}

/// This process's time on a CPU so far, all its threads (`/proc/self/task/*/schedstat`, in
/// nanoseconds); `None` where there is no such file.
fn cpu_time() -> Option<Duration> {
    let mut nanos = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let stat = std::fs::read_to_string(task.ok()?.path().join("schedstat")).ok()?;
        nanos += stat.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(nanos))
}

/// Redis's count of `EVALSHA` calls and the microseconds it spent in them (`INFO
/// commandstats`): the decision script's, while the bench is Redis's only client; and the CPU
/// Redis's process has taken so far, in seconds (`INFO cpu`: its own work and the kernel's for
/// it, reading commands and writing answers).
async fn redis_time(url: &str) -> Option<(u64, u64, f64)> {
    let client = ::redis::Client::open(url).ok()?;
    let mut con = client.get_multiplexed_async_connection().await.ok()?;
    let commands: String = ::redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut con)
        .await
        .ok()?;
    let cpu: String = ::redis::cmd("INFO")
        .arg("cpu")
        .query_async(&mut con)
        .await
        .ok()?;
    let line = commands
        .lines()
        .find_map(|l| l.strip_prefix("cmdstat_evalsha:"))?;
    let field = |name: &str| {
        line.split(',')
            .find_map(|f| f.strip_prefix(name)?.strip_prefix('='))?
            .parse()
            .ok()
    };
    let seconds = |name: &str| -> Option<f64> {
        cpu.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))?
            .trim()
            .parse()
            .ok()
    };
    let cpu = seconds("used_cpu_sys")? + seconds("used_cpu_user")?;
    Some((field("calls")?, field("usec")?, cpu))
}

fn percent(part: u64, all: u64) -> f64 {
    100.0 * part as f64 / all.max(1) as f64
}

/// Two replicas (two stores, each its own connection and mirror) on one Redis, 8 decisions at
/// once each, all for one round-robin team: the contention a shared cursor has.
async fn contention(url: &str, prefix: &str, policy: Arc<Policy>, n: usize) {
    let replicas = [
        RedisStore::connect(url, prefix).expect("redis url"),
        RedisStore::connect(url, prefix).expect("redis url"),
    ];
    let before: Vec<(u64, u64)> = replicas.iter().map(|r| r.fast_path()).collect();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for t in 0..8 {
            let store = Arc::new(StateStore::Redis(Arc::clone(replica)));
            let policy = Arc::clone(&policy);
            tasks.push(tokio::spawn(async move {
                for i in 0..n / 16 {
                    decide(&store, &policy, &format!("two{r}-{t}-{i}"), true).await;
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("task");
    }
    let per_second = (n / 16 * 16) as f64 / started.elapsed().as_secs_f64();
    let (all, fast) = since(&replicas, &before);
    println!(
        "two replicas, 8 at once each, one team: {per_second:>8.0} decisions/s, one round trip for {fast} of {all} ({:.1}%)",
        percent(fast, all)
    );
    // Calls spread over the replicas one at a time, as a load balancer spreads calls that
    // come some milliseconds apart; each call's end reported to the replica that decided it,
    // so the other hears of it only from the steps channel.
    // By now the replicas have found each other (they say they are alive every 0.5 s) and
    // follow each other's steps.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before: Vec<(u64, u64)> = replicas.iter().map(|r| r.fast_path()).collect();
    let stores: Vec<StateStore> = replicas
        .iter()
        .map(|r| StateStore::Redis(Arc::clone(r)))
        .collect();
    for i in 0..n / 10 {
        let sid = format!("alt-{i}");
        let (_, decision) = decide_for(&stores[i % 2], &policy, &sid, true).await;
        if let Some(agent) = decision.agents.first() {
            let event = routec::state::AgentEvent {
                call_sid: sid,
                agent: policy.checked.agents[agent.index()].name.clone(),
                kind: routec::state::EventKind::Completed,
                caller: None,
                at: jiff::Timestamp::now().as_millisecond(),
                today: "2026-11-24".into(),
            };
            stores[i % 2].event(&event).await.expect("event");
        }
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
    let (all, fast) = since(&replicas, &before);
    println!(
        "two replicas, calls alternating 0.5 ms apart, each ended by an event: one round trip for {fast} of {all} ({:.1}%)",
        percent(fast, all)
    );
}

/// Decisions and fast ones of `replicas` since `before`.
fn since(replicas: &[Arc<RedisStore>], before: &[(u64, u64)]) -> (u64, u64) {
    replicas
        .iter()
        .zip(before)
        .map(|(r, (all, fast))| (r.fast_path().0 - all, r.fast_path().1 - fast))
        .fold((0, 0), |(a, f), (all, fast)| (a + all, f + fast))
}

/// What one round trip costs on this machine: `PING` through the same client, one at a time
/// and 16 at once. No decision that writes to Redis is faster.
async fn round_trip(redis: &Arc<RedisStore>, n: usize) {
    let mut samples = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        assert!(redis.ping().await);
        samples.push(started.elapsed());
    }
    samples.sort();
    let started = Instant::now();
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let redis = Arc::clone(redis);
            tokio::spawn(async move {
                for _ in 0..n / 16 {
                    redis.ping().await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let per_second = (n / 16 * 16) as f64 / started.elapsed().as_secs_f64();
    println!(
        "  PING: p50 {:>7.1} µs  p99 {:>7.1} µs                     |  {per_second:>8.0} round trips/s with 16 at once",
        percent_of(&samples, 0.5),
        percent_of(&samples, 0.99),
    );
}

fn percent_of(sorted: &[Duration], p: f64) -> f64 {
    percentile(sorted, p).as_secs_f64() * 1e6
}

/// A centre of `teams` round-robin teams of ten, every agent with a status, and a rule a team.
fn centre(teams: usize) -> Policy {
    let mut text = String::new();
    for agent in 0..teams * 10 {
        text += &format!(
            "agent a{agent} \"+91{:010}\"\n",
            9_800_000_000u64 + agent as u64
        );
    }
    for team in 0..teams {
        let members: Vec<String> = (0..10).map(|a| format!("a{}", team * 10 + a)).collect();
        text += &format!(
            "team T{team} [{}] strategy round_robin\n",
            members.join(", ")
        );
        text += &format!("rule r{team}: when call.digits == \"{team}\" -> team T{team}\n");
    }
    text += "otherwise -> queue waiting\n";
    let files = routec::policy_files::SourceFiles::single("centre.route", text.as_str());
    routec::load(&files).0.expect("policy")
}

/// The memory store's decision in centres of 10 to 1,000 agents, each call to the next team
/// (without reservations, which would soon hold a whole team of one), then the Redis store's
/// when `redis` (URL, key prefix) answers: a decision reads the agents and cursors it reaches,
/// so its time should not grow with the centre.
async fn by_size(n: usize, redis: Option<(&str, &str)>) {
    println!("a centre of round-robin teams of ten, every agent with a status, {n} sequential:");
    for teams in [1, 10, 100] {
        let policy = centre(teams);
        let mut stores = vec![(
            "memory",
            StateStore::Memory(Box::new(MemoryStore::new(None))),
        )];
        if let Some((url, prefix)) = redis {
            let prefix = format!("{prefix}-centre{teams}");
            let store = RedisStore::connect(url, &prefix).expect("redis url");
            if store.ping().await {
                stores.push(("redis", StateStore::Redis(store)));
            }
        }
        for (name, store) in &stores {
            for agent in &policy.checked.agents {
                store
                    .set_status(&agent.name, routec::state::Status::Available)
                    .await
                    .expect("status");
            }
            let mut samples = Vec::with_capacity(n);
            for i in 0..n {
                let call = Call {
                    sid: Some(format!("size{i}").into()),
                    digits: Some((i % teams).to_string().into()),
                    ..Call::default()
                };
                let (took, decision) = decide_call(store, &policy, &call, false).await;
                assert!(!decision.agents.is_empty(), "a team answers");
                samples.push(took);
            }
            samples.sort();
            println!(
                "{name:>6}, {:>4} agents: p50 {:>7.1} µs  p99 {:>7.1} µs",
                teams * 10,
                percent_of(&samples, 0.5),
                percent_of(&samples, 0.99),
            );
        }
    }
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
    // On a worker, as the server decides a request: a loop in `block_on` runs on the main
    // thread, and each round trip then crosses threads twice to the Redis connection's task
    // and back (on the fourteenth session's machine, `PING` p50 43-50 µs from `block_on`
    // against 24-29 µs from a spawned task).
    let bench = runtime.spawn(async move {
        let policy = Arc::new(policy());
        println!(
            "round-robin decision with a reservation, {n} sequential, then {n} at 16 at once:"
        );
        let memory = Arc::new(StateStore::Memory(Box::new(MemoryStore::new(None))));
        run("memory", memory, Arc::clone(&policy), n, 16, None).await;
        let url = std::env::var("ROUTEC_TEST_REDIS_URL")
            .unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let prefix = format!("routec-bench-{}", std::process::id());
        by_size(n, Some((&url, &prefix))).await;
        let redis = RedisStore::connect(&url, &prefix).expect("redis url");
        if !redis.ping().await {
            println!(" redis: SKIPPED, nothing answers at {url}");
            return;
        }
        round_trip(&redis, n).await;
        run(
            "redis",
            Arc::new(StateStore::Redis(Arc::clone(&redis))),
            Arc::clone(&policy),
            n,
            16,
            Some(&url),
        )
        .await;
        let (all, fast) = redis.fast_path();
        println!(
            " redis: one round trip for {fast} of {all} decisions ({:.1}%)",
            percent(fast, all)
        );
        contention(&url, &prefix, policy, n).await;
        // The bench's keys go with it.
        if let Ok(client) = ::redis::Client::open(url.as_str())
            && let Ok(mut con) = client.get_multiplexed_async_connection().await
        {
            let keys: Vec<String> = ::redis::cmd("KEYS")
                .arg(format!("{{{prefix}*"))
                .query_async(&mut con)
                .await
                .unwrap_or_default();
            if !keys.is_empty() {
                let _: Result<(), _> = ::redis::cmd("DEL").arg(keys).query_async(&mut con).await;
            }
        }
    });
    runtime.block_on(bench).expect("the bench ran to its end");
}
