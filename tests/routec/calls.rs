//! A call's life on a real server: a repeated Connect request is the same call, each
//! `fetch_after_attempt` request releases the agent tried and reserves the next, and an
//! offered agent stays reserved until the call's events release it; in one process and
//! across two replicas on Redis.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use crate::serve::Server;
use crate::state::{redis_url, replica, unique_prefix};

const TEAM: &str = r#"
agent a1 "+919800000001"
agent a2 "+919800000002"
agent a3 "+919800000003"
agent vip "+919800000009"
team RR [a1, a2, a3] strategy round_robin
rule vip: when call.digits == "7" -> agent vip or queue vip_waiting
rule rr: when call.digits == "3" -> team RR
otherwise -> team RR or queue waiting
"#;

fn numbers(server: &Server, query: &str) -> Value {
    let (status, body) = server.get(&format!("/exotel/connect?{query}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str::<Value>(&body).unwrap()["destination"]["numbers"].clone()
}

fn agents(server: &Server) -> Value {
    let (_, body) = server.get("/v1/agents");
    serde_json::from_str::<Value>(&body).unwrap()["agents"].clone()
}

/// The call each agent is reserved for, by name.
fn reservations(server: &Server) -> Vec<(String, Value)> {
    agents(server)
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["name"].as_str().unwrap().to_string(),
                a["reserved_for"].clone(),
            )
        })
        .filter(|(_, r)| !r.is_null())
        .collect()
}

fn missed(server: &Server, agent: &str) -> Value {
    agents(server)
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == agent)
        .unwrap()["missed"]
        .clone()
}

fn start(dir: &std::path::Path, envs: &[(&str, &str)]) -> Server {
    std::fs::write(dir.join("p.route"), TEAM).unwrap();
    let mut all = vec![("ROUTEC_LOG_DECISIONS", "false")];
    all.extend_from_slice(envs);
    Server::start_with(dir, &["p.route"], &all)
}

#[test]
fn a_repeated_connect_request_is_the_same_call() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), &[]);
    let call = "CallSid=rep1&CallFrom=09845000001&digits=%223%22&DialWhomNumber=";
    let first = numbers(&server, call);
    assert_eq!(
        first,
        json!(["+919800000001", "+919800000002", "+919800000003"])
    );
    // Exotel repeats the request: the same answer, no new step, no new reservation.
    assert_eq!(numbers(&server, call), first);
    assert_eq!(numbers(&server, call), first);
    assert_eq!(reservations(&server), [("a1".to_string(), json!("rep1"))]);
    // The rotation moved once: the next call starts at a2.
    assert_eq!(
        numbers(&server, "CallSid=rep2&digits=3")[0],
        "+919800000002"
    );
    // A repeated VIP call still gets its agent, who is reserved for this very call.
    let vip = "CallSid=vip1&digits=7";
    assert_eq!(numbers(&server, vip), json!(["+919800000009"]));
    assert_eq!(numbers(&server, vip), json!(["+919800000009"]));
    // Another VIP call meanwhile waits: the agent is taken.
    assert_eq!(numbers(&server, "CallSid=vip2&digits=7"), json!([]));
    assert!(server.stop().success());
}

#[test]
fn each_attempt_releases_the_agent_tried_and_reserves_the_next() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        &[("ROUTEC_CONNECT_FETCH_AFTER_ATTEMPT", "true")],
    );
    assert_eq!(
        numbers(&server, "CallSid=f1&digits=3"),
        json!(["+919800000001"])
    );
    assert_eq!(reservations(&server), [("a1".to_string(), json!("f1"))]);
    // a1 did not answer: Exotel asks again.
    let after_a1 = "CallSid=f1&digits=3&DialWhomNumber=09800000001";
    assert_eq!(numbers(&server, after_a1), json!(["+919800000002"]));
    assert_eq!(reservations(&server), [("a2".to_string(), json!("f1"))]);
    assert_eq!(missed(&server, "a1"), 1);
    // Asked again after the same attempt: the same answer, nothing counted twice.
    assert_eq!(numbers(&server, after_a1), json!(["+919800000002"]));
    assert_eq!(missed(&server, "a1"), 1);
    // A second call meanwhile is never offered a2, who is ringing for the first.
    let second = numbers(&server, "CallSid=f2&digits=3");
    assert_ne!(second, json!(["+919800000002"]));
    assert_eq!(second.as_array().unwrap().len(), 1);
    // Exotel's own "nobody answered" event for a1 counts nothing more.
    server.get("/exotel/events?CallSid=f1&CallType=incomplete&DialCallStatus=no-answer&DialWhomNumber=09800000001");
    assert_eq!(missed(&server, "a1"), 1);
    assert!(server.stop().success());
}

#[test]
fn an_offered_agent_stays_reserved_until_the_call_ends() {
    let dir = tempfile::tempdir().unwrap();
    // The default safety timeout is an hour: far longer than this test.
    let server = start(dir.path(), &[]);
    assert_eq!(
        numbers(&server, "CallSid=t1&digits=7"),
        json!(["+919800000009"])
    );
    // The agent talks on: every other VIP call waits, whatever time passes.
    assert_eq!(numbers(&server, "CallSid=t2&digits=7"), json!([]));
    let view = agents(&server);
    assert_eq!(view[3]["reserved_for"], "t1");
    // The conversation ended: Exotel's "after the call conversation ends" Passthru.
    server.get("/exotel/events?CallSid=t1&CallType=completed&DialWhomNumber=09800000009&DialCallStatus=completed");
    assert_eq!(
        numbers(&server, "CallSid=t3&digits=7"),
        json!(["+919800000009"])
    );
    // Unanswered releases too.
    server.get("/exotel/events?CallSid=t3&CallType=incomplete&DialCallStatus=no-answer&DialWhomNumber=09800000009");
    assert_eq!(
        numbers(&server, "CallSid=t4&digits=7"),
        json!(["+919800000009"])
    );
    assert!(server.stop().success());

    // With a short safety timeout, a lost event does not hold the agent for ever.
    let server = start(dir.path(), &[("ROUTEC_STATE_RESERVATION_SECS", "1")]);
    assert_eq!(
        numbers(&server, "CallSid=l1&digits=7"),
        json!(["+919800000009"])
    );
    assert_eq!(numbers(&server, "CallSid=l2&digits=7"), json!([]));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert_eq!(
        numbers(&server, "CallSid=l3&digits=7"),
        json!(["+919800000009"])
    );
    assert!(server.stop().success());
}

#[test]
fn two_replicas_on_redis_answer_a_call_as_one() {
    let Some(url) = redis_url("calls_two_replicas") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), TEAM).unwrap();
    let prefix = unique_prefix("calls");
    let a = replica(dir.path(), &url, &prefix, "3600");
    let b = replica(dir.path(), &url, &prefix, "3600");
    // 1. The same call asked of both replicas: one answer, one step, one reservation.
    let call = "CallSid=r1&digits=3";
    let first = numbers(&a, call);
    assert_eq!(first[0], "+919800000001");
    assert_eq!(numbers(&b, call), first);
    assert_eq!(numbers(&a, call), first);
    assert_eq!(reservations(&b), [("a1".to_string(), json!("r1"))]);
    assert_eq!(numbers(&b, "CallSid=r2&digits=3")[0], "+919800000002");
    let vip = "CallSid=v1&digits=7";
    assert_eq!(numbers(&a, vip), json!(["+919800000009"]));
    assert_eq!(numbers(&b, vip), json!(["+919800000009"]));
    assert_eq!(numbers(&b, "CallSid=v2&digits=7"), json!([]));
    // 3. Released by the call's event, received by the other replica.
    a.get("/exotel/events?CallSid=v1&CallType=completed&DialWhomNumber=09800000009");
    assert_eq!(numbers(&b, "CallSid=v3&digits=7"), json!(["+919800000009"]));
    drop((a, b));

    // 2. fetch_after_attempt across replicas: each attempt reserves the agent rung.
    let prefix = unique_prefix("attempts");
    let walk = |dir: &std::path::Path| {
        Server::start_with(
            dir,
            &["p.route"],
            &[
                ("ROUTEC_STATE_STORE", "redis"),
                ("ROUTEC_STATE_REDIS_URL", &url),
                ("ROUTEC_STATE_KEY_PREFIX", &prefix),
                ("ROUTEC_CONNECT_FETCH_AFTER_ATTEMPT", "true"),
                ("ROUTEC_LOG_DECISIONS", "false"),
            ],
        )
    };
    let (a, b) = (walk(dir.path()), walk(dir.path()));
    assert_eq!(numbers(&a, "CallSid=w1&digits=3"), json!(["+919800000001"]));
    let after_a1 = "CallSid=w1&digits=3&DialWhomNumber=%2B919800000001";
    assert_eq!(numbers(&b, after_a1), json!(["+919800000002"]));
    assert_eq!(numbers(&a, after_a1), json!(["+919800000002"]));
    assert_eq!(reservations(&a), [("a2".to_string(), json!("w1"))]);
    assert_eq!(missed(&b, "a1"), 1);
    // The attempt rewrote the call's record and kept its expiry (the call's hour).
    let mut con = ::redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .unwrap();
    let record = format!("{{{prefix}}}:record:w1");
    let ttl: i64 = ::redis::cmd("PTTL").arg(&record).query(&mut con).unwrap();
    assert!(ttl > 0, "the record of `w1` expires in {ttl} ms");
    let text: String = ::redis::cmd("GET").arg(&record).query(&mut con).unwrap();
    assert!(text.contains("\na:+919800000001\t+919800000002"), "{text}");
    let second = numbers(&a, "CallSid=w2&digits=3");
    assert_ne!(second, json!(["+919800000002"]));
    let after_a2 = "CallSid=w1&digits=3&DialWhomNumber=%2B919800000002";
    // a3 is the only one left for w1 unless w2 holds it.
    let third = numbers(&b, after_a2);
    let held: BTreeSet<String> = [&second[0], &third[0]]
        .into_iter()
        .filter_map(|n| n.as_str().map(String::from))
        .collect();
    let offered = [&second[0], &third[0]]
        .iter()
        .filter(|n| !n.is_null())
        .count();
    assert_eq!(
        held.len(),
        offered,
        "an agent offered to two calls: {second} {third}"
    );
}
