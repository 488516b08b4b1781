//! Agent state: events, reservations, the agent API and the midnight reset through handlers;
//! restarts of the memory store and two replicas on one real Redis through the binary.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{Value, json};

use crate::serve::{Server, config, get, send, state_with};

const TEAM: &str = r#"
agent a1 "+919800000001"
agent a2 "+919800000002"
agent a3 "+919800000003"
team IDLE [a1, a2, a3] strategy longest_idle
team LEAST [a1, a2] strategy least_calls
team RR [a1, a2, a3] strategy round_robin
rule sticky: when caller.last_agent exists -> agent caller.last_agent or team IDLE
rule least: when call.digits == "2" -> team LEAST
rule rr: when call.digits == "3" -> team RR
otherwise -> team IDLE or queue waiting
"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

async fn first_number(state: &Arc<routec::server::AppState>, query: &str) -> Value {
    let (status, _, body) = send(Arc::clone(state), get(&format!("/exotel/connect?{query}"))).await;
    assert_eq!(status, StatusCode::OK);
    let answer: Value = serde_json::from_str(&body).unwrap();
    answer["destination"]["numbers"][0].clone()
}

async fn event(state: &Arc<routec::server::AppState>, query: &str) -> String {
    let (status, _, body) = send(Arc::clone(state), get(&format!("/exotel/events?{query}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn agents(state: &Arc<routec::server::AppState>) -> Value {
    // With an admin token set, reads of the admin listener show it too.
    let request = Request::get("/v1/agents")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    let (_, _, body) = send(Arc::clone(state), request).await;
    serde_json::from_str(&body).unwrap()
}

#[test]
fn a_completed_call_frees_the_agent_counts_once_and_makes_the_caller_sticky() {
    let mut c = config(500);
    c.state.reservation_secs = 30;
    let s = state_with(TEAM, c);
    runtime().block_on(async {
        // Two calls at once: the first reserves a1, so the second gets a2.
        assert_eq!(first_number(&s, "CallSid=c1&CallFrom=09845000001").await, "+919800000001");
        assert_eq!(first_number(&s, "CallSid=c2&CallFrom=09845000002").await, "+919800000002");
        let view = agents(&s).await;
        assert_eq!(view["agents"][0]["reserved_for"], "c1");
        // The conversation with a1 ended: Exotel's async Passthru.
        let done = "CallSid=c1&CallFrom=09845000001&CallType=completed&DialWhomNumber=09800000001&DialCallStatus=completed";
        assert_eq!(event(&s, done).await, "recorded: a1 completed a call");
        assert_eq!(event(&s, done).await, "repeat: a1 completed a call was recorded before");
        let view = agents(&s).await;
        let a1 = &view["agents"][0];
        assert_eq!((a1["calls_today"].clone(), a1["reserved_for"].clone()), (json!(1), Value::Null));
        assert!(a1["last_call_ended"].is_string());
        // The same caller again: back to a1 (`caller.last_agent`), even though a1 just
        // talked and a3 has been idle longer.
        assert_eq!(first_number(&s, "CallSid=c3&CallFrom=09845000001").await, "+919800000001");
        // Nobody answered c2 at a2: counted, and a2 is free for others.
        let missed = "CallSid=c2&CallType=incomplete&DialCallStatus=no-answer&DialWhomNumber=09800000002";
        assert_eq!(event(&s, missed).await, "recorded: a2 missed an offer");
        assert_eq!(agents(&s).await["agents"][1]["missed"], 1);
        assert_eq!(agents(&s).await["agents"][1]["reserved_for"], Value::Null);
        // Events that name no agent are answered 200 and change nothing.
        assert!(event(&s, "CallSid=c9&CallType=completed&DialWhomNumber=0123").await.starts_with("ignored"));
    });
}

#[test]
fn calls_today_start_again_at_local_midnight() {
    let s = state_with(TEAM, config(500));
    runtime().block_on(async {
        // a1 takes a call at 23:50 on the 24th (Kolkata): least_calls prefers a2 that day.
        let done = "CallSid=n1&CallType=completed&DialWhomNumber=09800000001&CurrentTime=2026-11-24%2023:50:00";
        event(&s, done).await;
        let before = "CallSid=n2&digits=2&CurrentTime=2026-11-24%2023:59:00";
        assert_eq!(first_number(&s, before).await, "+919800000002");
        // Ten minutes later it is the 25th: both at 0 calls, declaration order decides.
        let after = "CallSid=n3&digits=2&CurrentTime=2026-11-25%2000:09:00";
        assert_eq!(first_number(&s, after).await, "+919800000001");
    });
}

#[test]
fn the_agent_api_sets_status_with_the_admin_token_only() {
    let mut c = config(500);
    c.admin_token = Some("s3cret".into());
    let s = state_with(TEAM, c);
    let put = |agent: &str, token: Option<&str>, body: &str| {
        let mut r = Request::put(format!("/v1/agents/{agent}/status"));
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Body::from(body.to_string())).unwrap()
    };
    runtime().block_on(async {
        assert_eq!(
            send(Arc::clone(&s), put("a1", None, "break")).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, _, body) = send(Arc::clone(&s), put("a9", Some("s3cret"), "break")).await;
        assert_eq!(
            (status, body.as_str()),
            (
                StatusCode::NOT_FOUND,
                "unknown agent `a9` (did you mean `a1`?)"
            )
        );
        let (status, _, body) = send(Arc::clone(&s), put("a1", Some("s3cret"), "lunch")).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
        for body in [r#"{"status": "break"}"#, "status=break", "break"] {
            let (status, _, _) = send(Arc::clone(&s), put("a1", Some("s3cret"), body)).await;
            assert_eq!(status, StatusCode::OK, "{body}");
        }
        assert_eq!(agents(&s).await["agents"][0]["status"], "break");
        // On a break, a1 is skipped.
        assert_eq!(first_number(&s, "CallSid=b1").await, "+919800000002");
        // A completed call does not end a break.
        event(
            &s,
            "CallSid=b0&CallType=completed&DialWhomNumber=09800000001",
        )
        .await;
        assert_eq!(agents(&s).await["agents"][0]["status"], "break");
    });
}

#[test]
fn the_memory_store_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), TEAM).unwrap();
    let envs = [
        ("ROUTEC_STATE_SNAPSHOT", "state.json"),
        ("ROUTEC_STATE_RESERVATION_SECS", "0"),
        ("ROUTEC_LOG_DECISIONS", "false"),
    ];
    let server = Server::start_with(dir.path(), &["p.route"], &envs);
    let rr = |server: &Server| -> String {
        let (_, body) = server.get("/v1/decide?digits=3");
        serde_json::from_str::<Value>(&body).unwrap()["agents"][0]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(rr(&server), "a1");
    assert_eq!(rr(&server), "a2");
    server.get("/exotel/events?CallSid=r1&CallType=completed&DialWhomNumber=09800000003");
    assert!(server.stop().success());
    let server = Server::start_with(dir.path(), &["p.route"], &envs);
    let (_, body) = server.get("/v1/agents");
    let view: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(view["agents"][2]["calls_today"], 1, "{body}");
    // The rotation goes on where it stopped.
    assert_eq!(rr(&server), "a3");
    // A repeated event is still a repeat after the restart.
    let (_, body) =
        server.get("/exotel/events?CallSid=r1&CallType=completed&DialWhomNumber=09800000003");
    assert!(body.starts_with("repeat"), "{body}");
    server.stop();
    // A snapshot that does not read is set aside, and the server starts empty.
    std::fs::write(dir.path().join("state.json"), "{not json").unwrap();
    let server = Server::start_with(dir.path(), &["p.route"], &envs);
    assert_eq!(rr(&server), "a1");
    server.stop();
    assert!(dir.path().join("state.bad").exists());
}

/// The Redis of this machine (`ROUTEC_TEST_REDIS_URL`), or `None` (said loudly) when it does
/// not answer, except under `CI=true`, where that fails the test.
pub fn redis_url(test: &str) -> Option<String> {
    let url =
        std::env::var("ROUTEC_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let answered = ::redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection_with_timeout(Duration::from_secs(2)))
        .and_then(|mut con| ::redis::cmd("PING").query::<String>(&mut con));
    match answered {
        Ok(_) => Some(url),
        Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("Redis is unreachable at {url} under CI: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED {test}: Redis is unreachable at {url}: {e}");
            None
        }
    }
}

/// A key prefix no other test or run uses.
pub fn unique_prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("routec-test-{test}-{}-{nanos}", std::process::id())
}

pub fn replica(dir: &std::path::Path, url: &str, prefix: &str, reserve: &str) -> Server {
    Server::start_with(
        dir,
        &["p.route"],
        &[
            ("ROUTEC_STATE_STORE", "redis"),
            ("ROUTEC_STATE_REDIS_URL", url),
            ("ROUTEC_STATE_KEY_PREFIX", prefix),
            ("ROUTEC_STATE_RESERVATION_SECS", reserve),
            ("ROUTEC_LOG_DECISIONS", "false"),
        ],
    )
}

/// Sends `n` requests spread over the replicas from `threads` threads at once; the first
/// number of each answer.
fn flood(
    replicas: &[Arc<Server>],
    n: usize,
    threads: usize,
    target: impl Fn(usize) -> String + Sync,
) -> Vec<(u16, String)> {
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut out = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            return out;
                        }
                        let (status, body) = replicas[i % replicas.len()].get(&target(i));
                        let first = serde_json::from_str::<Value>(&body)
                            .ok()
                            .and_then(|a| a["destination"]["numbers"][0].as_str().map(String::from))
                            .unwrap_or_default();
                        out.push((status, first));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    })
}

#[test]
fn two_replicas_on_one_redis_share_round_robin_reservations_and_idle_times() {
    let Some(url) = redis_url("two_replicas") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("p.route"),
        TEAM.replace(
            "[a1, a2, a3] strategy round_robin",
            "[a1, a2, a3, a4] strategy round_robin",
        )
        .replace(
            "agent a3 \"+919800000003\"",
            "agent a3 \"+919800000003\"\nagent a4 \"+919800000004\"",
        ),
    )
    .unwrap();
    let prefix = unique_prefix("rr");
    let replicas = [
        Arc::new(replica(dir.path(), &url, &prefix, "0")),
        Arc::new(replica(dir.path(), &url, &prefix, "0")),
    ];
    let answers = flood(&replicas, 1000, 32, |i| {
        format!("/exotel/connect?CallSid=rr{i}&digits=3")
    });
    let mut shares = std::collections::BTreeMap::<String, usize>::new();
    for (status, first) in &answers {
        assert_eq!(*status, 200);
        *shares.entry(first.clone()).or_default() += 1;
    }
    assert_eq!(shares.len(), 4, "{shares:?}");
    for (agent, n) in &shares {
        assert!(
            (249..=251).contains(n),
            "{agent} got {n} of 1000: {shares:?}"
        );
    }
    eprintln!("round robin over two replicas, 1000 calls: {shares:?}");
    // Each replica says how many of its decisions took one round trip.
    let written: u64 = replicas
        .iter()
        .map(|r| {
            let (_, metrics) = r.get("/metrics");
            ["one", "more"]
                .iter()
                .map(|n| {
                    let line = format!("routec_state_writes_total{{round_trips=\"{n}\"}} ");
                    metrics
                        .lines()
                        .find_map(|l| l.strip_prefix(&line))
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or_else(|| panic!("no `{line}` in\n{metrics}"))
                })
                .sum::<u64>()
        })
        .sum();
    assert_eq!(written, 1000, "every call written once");

    // With reservations: calls at once from both replicas never share an agent.
    let prefix = unique_prefix("reserve");
    let replicas = [
        Arc::new(replica(dir.path(), &url, &prefix, "30")),
        Arc::new(replica(dir.path(), &url, &prefix, "30")),
    ];
    let answers = flood(&replicas, 40, 16, |i| {
        format!("/exotel/connect?CallSid=res{i}")
    });
    let offered: Vec<&String> = answers
        .iter()
        .map(|(_, f)| f)
        .filter(|f| !f.is_empty())
        .collect();
    let distinct: std::collections::BTreeSet<_> = offered.iter().collect();
    // IDLE has three agents: three calls get one each, the others wait in the queue.
    assert_eq!(
        offered.len(),
        3,
        "three agents, each to one call: {answers:?}"
    );
    assert_eq!(distinct.len(), 3, "an agent offered twice: {offered:?}");

    // Longest idle across replicas: a call ended on one replica counts on the other.
    let prefix = unique_prefix("idle");
    let a = replica(dir.path(), &url, &prefix, "0");
    let b = replica(dir.path(), &url, &prefix, "0");
    a.get("/exotel/events?CallSid=i1&CallType=completed&DialWhomNumber=09800000001&CurrentTime=2026-11-24%2010:00:00");
    a.get("/exotel/events?CallSid=i2&CallType=completed&DialWhomNumber=09800000002&CurrentTime=2026-11-24%2010:05:00");
    // a3 never took a call: first; then a1, idle since 10:00.
    let (_, body) = b.get("/v1/decide?CallSid=i9");
    let d: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(d["agents"], json!(["a3", "a1", "a2"]), "{body}");
    assert_eq!(d["degraded"], json!([]));
}

/// A Redis server of the test's own, on a port of its own, that it can stop and start.
struct OwnRedis {
    port: u16,
    child: Option<std::process::Child>,
}

impl OwnRedis {
    fn start(port: u16) -> OwnRedis {
        let mut redis = OwnRedis { port, child: None };
        redis.restart();
        redis
    }

    fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn redis_stopped_mid_run_fails_no_call_and_state_converges_after() {
    if redis_url("redis_outage").is_none() {
        return;
    }
    let has_server = std::process::Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_server {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "redis-server is not installed under CI"
        );
        eprintln!("SKIPPED redis_outage: no redis-server to stop and start");
        return;
    }
    let port = 16_379 + (std::process::id() % 1000) as u16;
    let mut redis = OwnRedis::start(port);
    let url = format!("redis://127.0.0.1:{port}");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), TEAM).unwrap();
    let server = Arc::new(replica(dir.path(), &url, "outage", "0"));
    let (_, body) = server.get("/v1/decide?digits=3");
    assert!(body.contains("\"degraded\":[]"), "{body}");
    redis.stop();
    // Every call still answered, from the last known state, and says so.
    let answers = flood(std::slice::from_ref(&server), 50, 4, |i| {
        format!("/exotel/connect?CallSid=o{i}&digits=3")
    });
    assert!(
        answers
            .iter()
            .all(|(status, first)| *status == 200 && !first.is_empty()),
        "{answers:?}"
    );
    let (status, body) = server.get("/v1/decide?digits=3");
    assert_eq!(status, 200);
    assert!(body.contains("state: redis unavailable"), "{body}");
    // An event during the outage is kept and written later.
    let (status, body) =
        server.get("/exotel/events?CallSid=o1&CallType=completed&DialWhomNumber=09800000002");
    assert_eq!(status, 200);
    assert!(body.starts_with("recorded here, not yet shared"), "{body}");
    redis.restart();
    // Converged: the event reached Redis, and decisions are whole again.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, body) = server.get("/v1/agents");
        let view: Value = serde_json::from_str(&body).unwrap();
        if view["degraded"].is_null() && view["agents"][1]["calls_today"] == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "state never converged: {body}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (_, body) = server.get("/v1/decide?digits=3");
    assert!(body.contains("\"degraded\":[]"), "{body}");
    let mut con = ::redis::Client::open(url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let calls: Option<String> = ::redis::cmd("HGET")
        .arg("{outage}:calls")
        .arg("a2")
        .query(&mut con)
        .unwrap();
    assert_eq!(calls.as_deref(), Some("1"));
}

/// A Redis that does not answer is said at start, not found out at the first call.
#[test]
fn the_server_says_on_start_when_redis_is_unreachable() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), TEAM).unwrap();
    // Nothing listens on port 1.
    let server = replica(dir.path(), "redis://127.0.0.1:1", "nobody", "0");
    assert!(
        server
            .said
            .iter()
            .any(|l| l.contains("redis at redis://127.0.0.1:1 does not answer")),
        "{:?}",
        server.said
    );
    let (status, _) = server.get("/exotel/connect?CallSid=u1");
    assert_eq!(status, 200);
}

/// A repeat, or a request after an attempt, on either replica: answered from the call's
/// record in Redis, with no second lookup in the CRM.
#[test]
fn replicas_answer_a_call_decided_before_without_asking_the_crm_again() {
    let Some(url) = redis_url("known_before_facts") else {
        return;
    };
    let crm = crate::crm::Crm::start(|_, _| crate::crm::Reply::json(r#"{"tier": "standard"}"#));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), crate::connect::crm_team(&crm)).unwrap();
    let prefix = unique_prefix("known_before_facts");
    let envs = [
        ("ROUTEC_STATE_STORE", "redis"),
        ("ROUTEC_STATE_REDIS_URL", url.as_str()),
        ("ROUTEC_STATE_KEY_PREFIX", prefix.as_str()),
        ("ROUTEC_CONNECT_FETCH_AFTER_ATTEMPT", "true"),
        ("ROUTEC_LOG_DECISIONS", "false"),
    ];
    let a = Server::start_with(dir.path(), &["p.route"], &envs);
    let b = Server::start_with(dir.path(), &["p.route"], &envs);
    let numbers = |server: &Server, query: &str| {
        let (status, body) = server.get(&format!(
            "/exotel/connect?CallSid=k1&CallFrom=09845012345&CurrentTime=2024-09-03%2011:44:59{query}"
        ));
        assert_eq!(status, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        answer["destination"]["numbers"].clone()
    };
    let first = json!(["+919800000001"]);
    assert_eq!(numbers(&a, ""), first);
    assert_eq!(crm.requests(), 1);
    assert_eq!(
        numbers(&a, ""),
        first,
        "a repeat on the replica that decided"
    );
    let next = numbers(&b, "&DialWhomNumber=%2B919800000001");
    assert_eq!(next, json!(["+919800000002"]), "after an attempt");
    assert_eq!(crm.requests(), 1, "a call decided before needs no facts");
    let (status, _) = a.get("/exotel/connect?CallSid=k2&CallFrom=09845012346");
    assert_eq!(status, 200);
    assert_eq!(crm.requests(), 2, "another call is decided with its facts");
}

/// A committing decision through the store itself, as the server makes it.
async fn decide_on(
    store: &routec::state::StateStore,
    policy: &routec::compile::Policy,
    sid: &str,
) -> routec::eval::Decision {
    match ask_store(store, policy, sid, None).await {
        routec::state::Routed::Decided(decision, _) => decision,
        routec::state::Routed::Known(known) => panic!("{sid} was decided before: {known:?}"),
    }
}

/// A Connect request of call `sid` through the store itself, after the number `tried` if
/// any, with Exotel asking again after each attempt.
async fn ask_store(
    store: &routec::state::StateStore,
    policy: &routec::compile::Policy,
    sid: &str,
    tried: Option<&str>,
) -> routec::state::Routed {
    ask_store_for(store, policy, sid, tried, Duration::from_secs(30), None).await
}

/// [`ask_store`], the offered agents reserved for `reserve_for` (zero: not reserved), the call
/// from `caller` if any.
async fn ask_store_for(
    store: &routec::state::StateStore,
    policy: &routec::compile::Policy,
    sid: &str,
    tried: Option<&str>,
    reserve_for: Duration,
    caller: Option<&str>,
) -> routec::state::Routed {
    let call = routec::call::Call {
        sid: Some(sid.into()),
        ..routec::call::Call::default()
    };
    let facts = routec::facts::Facts::none(&policy.checked);
    let now = jiff::Timestamp::now();
    let ctx = routec::state::DecideContext {
        policy,
        call_sid: call.sid.as_ref(),
        tried,
        one_at_a_time: true,
        caller,
        now_ms: now.as_millisecond(),
        today: routec::state::Day::of(jiff::civil::date(2026, 11, 24)),
        deadline: Instant::now() + Duration::from_secs(1),
        reserve_for,
        commit: true,
        snapshot: false,
    };
    let eval = |agents: &dyn routec::eval::AgentStates| {
        routec::eval::eval(policy, &call, &facts, now, agents)
    };
    store.decide(&ctx, &eval).await
}

/// The end of call `sid`, spoken by `agent`, now.
fn ended(sid: &str, agent: &str, caller: Option<&str>) -> routec::state::AgentEvent {
    routec::state::AgentEvent {
        call_sid: sid.into(),
        agent: agent.into(),
        kind: routec::state::EventKind::Completed,
        caller: caller.map(str::to_string),
        at: jiff::Timestamp::now().as_millisecond(),
        today: "2026-11-24".into(),
    }
}

#[test]
fn a_decision_takes_one_round_trip_while_the_mirror_is_fresh_and_sees_other_replicas_at_once() {
    use routec::state::StateStore;
    use routec::state::redis::RedisStore;
    let Some(url) = redis_url("one_round_trip") else {
        return;
    };
    let files = routec::policy_files::SourceFiles::single(
        "p.route",
        r#"
agent a1 "+919800000001"
agent a2 "+919800000002"
agent a3 "+919800000003"
team RR [a1, a2, a3] strategy round_robin
otherwise -> team RR or queue waiting
"#,
    );
    let policy = routec::load(&files).0.unwrap();
    let prefix = unique_prefix("fast");
    runtime().block_on(async {
        let a = RedisStore::connect(&url, &prefix).unwrap();
        let b = RedisStore::connect(&url, &prefix).unwrap();
        let (store_a, store_b) = (
            StateStore::Redis(Arc::clone(&a)),
            StateStore::Redis(Arc::clone(&b)),
        );
        let first = |d: &routec::eval::Decision| d.numbers.first().map(|n| n.to_string());
        // The first decision finds the mirror empty and reads the state in its reply; then one
        // round trip each, nothing decided again.
        let d = decide_on(&store_a, &policy, "f1").await;
        assert_eq!(first(&d).as_deref(), Some("+919800000001"));
        assert_eq!(a.fast_path(), (1, 0));
        // The call ended; the event moves the version, and A's mirror follows it.
        store_a.event(&ended("f1", "a1", None)).await.unwrap();
        for (sid, agent) in [("f2", "+919800000002"), ("f3", "+919800000003")] {
            let d = decide_on(&store_a, &policy, sid).await;
            assert_eq!(first(&d).as_deref(), Some(agent), "{sid}");
            assert!(d.degraded.is_empty(), "{:?}", d.degraded);
        }
        assert_eq!(a.fast_path(), (3, 2), "one round trip each after the first");

        // A status set on A is seen by B's very next decision: the version moved, so B's
        // script refuses B's older state and answers the new one.
        let _ = decide_on(&store_b, &policy, "warm-b").await;
        store_a
            .set_status("a1", routec::state::Status::Break)
            .await
            .unwrap();
        store_a.event(&ended("f2", "a2", None)).await.unwrap();
        let d = decide_on(&store_b, &policy, "f4").await;
        assert_eq!(
            first(&d).as_deref(),
            Some("+919800000002"),
            "a1 is on a break, a3 held by f3: {d:?}"
        );

        // Scripts flushed from Redis (a restart, a failover): loaded again on `NOSCRIPT`.
        let mut con = ::redis::Client::open(url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let _: () = ::redis::cmd("SCRIPT")
            .arg("FLUSH")
            .query_async(&mut con)
            .await
            .unwrap();
        let d = decide_on(&store_a, &policy, "f5").await;
        assert!(d.degraded.is_empty(), "{:?}", d.degraded);

        // Once the replicas know of each other (each says it is alive every 0.5 s), an event
        // on A reaches B's mirror on the steps channel: B's next decision reads it, and still
        // takes one round trip.
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let _ = decide_on(&store_b, &policy, "g1").await;
        store_a
            .event(&ended("f4", "a2", Some("+919845000001")))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let before = b.fast_path();
        let d = decide_on(&store_b, &policy, "g2").await;
        assert!(d.degraded.is_empty(), "{:?}", d.degraded);
        let after = b.fast_path();
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1, 1),
            "B's mirror took A's event"
        );

        // An attempt (Exotel asking again after the number it tried) moves the version too,
        // and the attempt script's answer says what it changed: the mirror takes it, and the
        // next decision still takes one round trip.
        let c = RedisStore::connect(&url, &unique_prefix("attempt")).unwrap();
        let store_c = StateStore::Redis(Arc::clone(&c));
        let d = decide_on(&store_c, &policy, "h1").await;
        let tried = d.numbers[0].to_string();
        let routec::state::Routed::Known(next) =
            ask_store(&store_c, &policy, "h1", Some(&tried)).await
        else {
            panic!("an attempt of a call decided before is answered from its record")
        };
        assert_eq!(next.numbers, ["+919800000002"], "{next:?}");
        let before = c.fast_path();
        let d = decide_on(&store_c, &policy, "h2").await;
        assert_eq!(
            first(&d).as_deref(),
            Some("+919800000003"),
            "a2 is held by h1"
        );
        let after = c.fast_path();
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (1, 1),
            "C's mirror took its own attempt"
        );
    });
}

/// Decisions of one replica made at once, each written while others are in flight: every one
/// takes one round trip (the mirror's cursor never moves back when an earlier decision's answer
/// comes in), and the rotation stays even. Alone, it publishes none of its steps.
#[test]
fn a_callers_last_agent_is_checked_in_redis_only_when_the_decision_reads_it() {
    use routec::state::redis::RedisStore;
    use routec::state::{Routed, StateStore};
    let Some(url) = redis_url("last_agent") else {
        return;
    };
    let (x, y) = (Some("+919845000001"), Some("+919845000002"));
    const AGENTS: &str = r#"
agent a1 "+919800000001"
agent a2 "+919800000002"
agent a3 "+919800000003"
team RR [a1, a2, a3] strategy round_robin
"#;
    for (sticky, round_trips, answer) in [(false, 1, "+919800000002"), (true, 2, "+919800000003")] {
        let rule = if sticky {
            "rule sticky: when caller.last_agent exists -> agent caller.last_agent or team RR\n"
        } else {
            ""
        };
        let text = format!("{AGENTS}{rule}otherwise -> team RR or queue waiting\n");
        let files = routec::policy_files::SourceFiles::single("p.route", text.as_str());
        let policy = routec::load(&files).0.unwrap();
        let prefix = unique_prefix("last");
        runtime().block_on(async {
            let a = RedisStore::connect(&url, &prefix).unwrap();
            let b = StateStore::Redis(RedisStore::connect(&url, &prefix).unwrap());
            let store_a = StateStore::Redis(Arc::clone(&a));
            // Caller X spoke with a3, as replica B heard; then A reads the state for a call
            // from Y, which brings no last agent of X into A's mirror.
            b.event(&ended("x0", "a3", x)).await.unwrap();
            let hour = Duration::from_secs(3600);
            ask_store_for(&store_a, &policy, "y1", None, hour, y).await;
            let before = a.fast_path();
            let Routed::Decided(d, _) = ask_store_for(&store_a, &policy, "x1", None, hour, x).await
            else {
                panic!("x1 is new")
            };
            let first = d.numbers.first().map(|n| n.to_string());
            assert_eq!(first.as_deref(), Some(answer), "sticky: {sticky}");
            // Read by the decision, the last agent Redis has decides, after one more round
            // trip; unread, it is not waited for.
            let after = a.fast_path();
            let fast = after.1 - before.1;
            assert_eq!(after.0 - before.0, 1, "sticky: {sticky}");
            assert_eq!(fast, u64::from(round_trips == 1), "sticky: {sticky}");
        });
    }
}

#[test]
fn decisions_made_at_once_on_one_replica_each_take_one_round_trip() {
    use routec::state::StateStore;
    use routec::state::redis::RedisStore;
    let Some(url) = redis_url("at_once") else {
        return;
    };
    let files = routec::policy_files::SourceFiles::single(
        "p.route",
        r#"
agent a1 "+919800000001"
agent a2 "+919800000002"
agent a3 "+919800000003"
agent a4 "+919800000004"
team RR [a1, a2, a3, a4] strategy round_robin
otherwise -> team RR or queue waiting
"#,
    );
    let policy = Arc::new(routec::load(&files).0.unwrap());
    let prefix = unique_prefix("at-once");
    runtime().block_on(async {
        let redis = RedisStore::connect(&url, &prefix).unwrap();
        let store = Arc::new(StateStore::Redis(Arc::clone(&redis)));
        // A replica alone publishes no steps: no other replica follows them.
        let mut steps = ::redis::Client::open(url.as_str())
            .unwrap()
            .get_async_pubsub()
            .await
            .unwrap();
        steps
            .subscribe(format!("{{{prefix}}}:steps"))
            .await
            .unwrap();
        // The first decision finds the mirror empty and reads the state in its reply.
        let _ = ask_store_for(&store, &policy, "warm", None, Duration::ZERO, None).await;
        let before = redis.fast_path();
        let tasks: Vec<_> = (0..4)
            .map(|t| {
                let (store, policy) = (Arc::clone(&store), Arc::clone(&policy));
                tokio::spawn(async move {
                    let mut firsts = Vec::new();
                    for i in 0..50 {
                        let sid = format!("t{t}-{i}");
                        let routed =
                            ask_store_for(&store, &policy, &sid, None, Duration::ZERO, None).await;
                        let routec::state::Routed::Decided(d, _) = routed else {
                            panic!("{sid} is new")
                        };
                        assert!(d.degraded.is_empty(), "{:?}", d.degraded);
                        firsts.push(d.numbers[0].to_string());
                    }
                    firsts
                })
            })
            .collect();
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for task in tasks {
            for number in task.await.unwrap() {
                *counts.entry(number).or_default() += 1;
            }
        }
        let after = redis.fast_path();
        assert_eq!(
            (after.0 - before.0, after.1 - before.1),
            (200, 200),
            "every decision in one round trip"
        );
        let mut spread: Vec<usize> = counts.values().copied().collect();
        spread.sort();
        assert_eq!(spread, [50, 50, 50, 50], "{counts:?}");
        let mut published = steps.on_message();
        let message = tokio::time::timeout(
            Duration::from_millis(100),
            futures_util::StreamExt::next(&mut published),
        )
        .await;
        assert!(message.is_err(), "published alone: {message:?}");
    });
}

/// Every request's future holds the store's: the Redis step's (over two kilobytes) is boxed,
/// so that a request on the memory store stays small enough for the allocator's fast path.
#[test]
fn the_stores_futures_stay_small() {
    let files = routec::policy_files::SourceFiles::single("p.route", TEAM);
    let policy = routec::load(&files).0.unwrap();
    let store =
        routec::state::StateStore::Memory(Box::new(routec::state::memory::MemoryStore::new(None)));
    let ctx = routec::state::DecideContext {
        policy: &policy,
        call_sid: Some(&smol_str::SmolStr::new_static("c1")),
        tried: None,
        one_at_a_time: true,
        caller: None,
        now_ms: 0,
        today: routec::state::Day::of(jiff::civil::date(2026, 11, 24)),
        deadline: Instant::now() + Duration::from_secs(1),
        reserve_for: Duration::from_secs(30),
        commit: true,
        snapshot: false,
    };
    let eval = |_: &dyn routec::eval::AgentStates| routec::eval::Decision::empty();
    let before = store.decided_before(&ctx, true);
    let new = store.decide_new(&ctx, routec::state::Unknown::default(), &eval);
    assert!(
        std::mem::size_of_val(&before) <= 128,
        "{}",
        std::mem::size_of_val(&before)
    );
    assert!(
        std::mem::size_of_val(&new) <= 128,
        "{}",
        std::mem::size_of_val(&new)
    );
}
