//! The shadow candidate against a real server: it counts exactly the calls a changed rule
//! takes, a broken candidate leaves the active policy alone and says why, and shadowing moves
//! no agent state.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::serve::Server;

const TOKEN: &str = "s3cret";

const POLICY: &str = "timezone \"Asia/Kolkata\"\n\
agent a \"+919800000001\"\nagent b \"+919800000002\"\nagent c \"+919800000003\"\n\
team T [a, b, c] strategy round_robin\n\
team U [c] strategy sequential\n\
rule one: when call.digits == \"1\" -> team T\n\
rule two: when call.digits == \"2\" -> team U\n\
otherwise -> queue general\n";

fn write(dir: &Path, sub: &str, text: &str) {
    std::fs::create_dir_all(dir.join(sub)).unwrap();
    std::fs::write(dir.join(sub).join("p.route"), text).unwrap();
}

fn start(dir: &Path, shadow: bool) -> Server {
    let mut args = vec!["active"];
    if shadow {
        args.extend(["--shadow", "candidate"]);
    }
    Server::start_with(dir, &args, &[("ROUTEC_ADMIN_TOKEN", TOKEN)])
}

/// `/v1/shadow` once the candidate has seen `calls` calls.
fn report(server: &Server, calls: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = server.get("/v1/shadow");
        assert_eq!(status, 200, "{body}");
        let report: Value = serde_json::from_str(&body).unwrap();
        if report["calls"] == calls || Instant::now() > deadline {
            return report;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn call(server: &Server, endpoint: &str, sid: &str, digits: &str) -> (u16, String) {
    server.get(&format!(
        "/exotel/{endpoint}?CallSid={sid}&CallFrom=09845000001&digits=%22{digits}%22&branch=x"
    ))
}

#[test]
fn a_changed_rule_is_counted_for_exactly_the_calls_it_takes() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "active", POLICY);
    write(
        dir.path(),
        "candidate",
        &POLICY.replace("-> team U", "-> queue billing"),
    );
    let server = start(dir.path(), true);
    let digits = ["1", "2", "2", "3", "2", "1", ""];
    for (i, d) in digits.iter().enumerate() {
        let (status, _) = call(&server, "passthru", &format!("s{i}"), d);
        assert!(status == 200 || status == 302);
    }
    let report = report(&server, digits.len() as u64);
    assert_eq!(report["calls"], 7, "{report:#}");
    assert_eq!(
        report["different"], 3,
        "the calls rule `two` takes: {report:#}"
    );
    let two = report["pairs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["active_rule"] == "two")
        .unwrap();
    assert_eq!(two["candidate_rule"], "two");
    assert_eq!(two["count"], 3);
    assert_eq!(two["different"], 3);
    let example = &report["examples"][0];
    assert_eq!(example["active"]["target"], "team");
    assert_eq!(example["candidate"]["queue"], "billing");
    assert!(example["candidate"]["trace"].is_array());
    assert!(report["candidate"]["version"].is_string());
    assert_eq!(report["candidate"]["last_reload_error"], Value::Null);
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains(
            "routec_shadow_decisions_total{active_rule=\"two\",candidate_rule=\"two\",outcome=\"different\"} 3"
        ),
        "{metrics}"
    );
}

#[test]
fn a_broken_candidate_leaves_the_active_policy_alone_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "active", POLICY);
    write(
        dir.path(),
        "candidate",
        &POLICY.replace("-> team U", "-> team NOPE"),
    );
    let server = start(dir.path(), true);
    let (status, body) = call(&server, "connect", "b1", "2");
    assert_eq!(status, 200);
    assert!(
        body.contains("+919800000003"),
        "the active policy answers: {body}"
    );
    let (status, _) = server.get("/v1/policy");
    assert_eq!(status, 200);
    let report = report(&server, 0);
    assert_eq!(report["candidate"]["version"], Value::Null);
    let error = report["candidate"]["last_reload_error"].as_str().unwrap();
    assert!(error.contains("NOPE"), "{error}");
}

/// The numbers a round-robin team offers over three calls (each call reserves the agent it
/// is offered, so three calls go round once).
fn rotation(shadow: bool) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "active", POLICY);
    write(dir.path(), "candidate", POLICY);
    let server = start(dir.path(), shadow);
    let mut out = Vec::new();
    for i in 0..3 {
        let (status, body) = call(&server, "connect", &format!("r{i}"), "1");
        assert_eq!(status, 200);
        let answer: Value = serde_json::from_str(&body).unwrap();
        out.push(
            answer["destination"]["numbers"][0]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    if shadow {
        assert_eq!(report(&server, 3)["calls"], 3);
    }
    out
}

#[test]
fn shadowing_moves_no_agent_state() {
    let without = rotation(false);
    assert_eq!(without, ["+919800000001", "+919800000002", "+919800000003"]);
    assert_eq!(rotation(true), without);
}

#[test]
fn a_candidate_with_its_agents_in_another_order_reads_the_same_agent_state() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "active", POLICY);
    // The same agents by name, declared in another order, and one more: each decision reads
    // each agent's own state, and the cursors carry over by name.
    let reordered = POLICY.replace(
        "agent a \"+919800000001\"\nagent b \"+919800000002\"\nagent c \"+919800000003\"\n",
        "agent d \"+919800000004\"\nagent c \"+919800000003\"\nagent b \"+919800000002\"\nagent a \"+919800000001\"\n",
    );
    write(dir.path(), "candidate", &reordered);
    let server = start(dir.path(), true);
    // Round robin through T: the Connects move the cursor (and reserve), both policies follow.
    let digits = ["1", "1", "1", "2", "1"];
    for (i, d) in digits.iter().enumerate() {
        let (status, _) = call(&server, "connect", &format!("r{i}"), d);
        assert_eq!(status, 200);
    }
    let report = report(&server, digits.len() as u64);
    assert_eq!(report["calls"], 5, "{report:#}");
    assert_eq!(report["different"], 0, "{report:#}");
}
