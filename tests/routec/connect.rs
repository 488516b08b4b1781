//! What Connect and Passthru answers carry from the configuration: connect settings, the
//! secret in the path, `fetch_after_attempt`, the static fallback, Exotel's own clock.

use std::sync::Arc;

use axum::http::StatusCode;
use routec::server::config::NumberFormat;
use routec::server::{AppState, Config};
use serde_json::{Value, json};

use crate::serve::{Server, config, get, send, state_with};

const TEAM: &str = r#"
agent a1 "+919800000001"
agent a2 "+919800000002"
agent a3 "+919800000003"
team SUPPORT [a1, a2, a3] strategy sequential
team ALL [a1, a2, a3] strategy ring_all
schedule hours { timezone "Asia/Kolkata"  mon-fri 09:00-18:00 }
rule all: when call.digits == "9" -> team ALL
rule open: when hours -> team SUPPORT
otherwise -> queue closed
"#;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Runtime::new().unwrap()
}

async fn connect_json(state: &Arc<AppState>, query: &str) -> Value {
    let (status, _, body) = send(Arc::clone(state), get(&format!("/exotel/connect?{query}"))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    serde_json::from_str(&body).unwrap()
}

const OPEN: &str = "CurrentTime=2024-09-03%2011:44:59";

#[test]
fn connect_settings_come_from_the_configuration() {
    let mut c = config(500);
    c.connect.record = true;
    c.connect.max_ringing_duration = Some(45);
    c.connect.max_conversation_duration = Some(3600);
    c.connect.outgoing_phone_number = Some("call.to".into());
    c.connect.number_format = NumberFormat::National;
    let s = state_with(TEAM, c);
    runtime().block_on(async {
        let answer = connect_json(&s, &format!("CallSid=c1&CallTo=08069891522&{OPEN}")).await;
        assert_eq!(
            answer,
            json!({
                "fetch_after_attempt": false,
                "destination": {"numbers": ["09800000001", "09800000002", "09800000003"]},
                "record": true,
                "recording_channels": "single",
                "parallel_ringing": {"activate": false, "max_parallel_attempts": 1},
                "max_ringing_duration": 45,
                "max_conversation_duration": 3600,
                "outgoing_phone_number": "08069891522",
            })
        );
    });
    // Defaults: E.164, no recording, Exotel's own ringing time; ring_all rings in parallel.
    let s = state_with(TEAM, config(500));
    runtime().block_on(async {
        let answer = connect_json(&s, "digits=%229%22").await;
        assert_eq!(answer["destination"]["numbers"][0], "+919800000001");
        assert_eq!(answer["record"], false);
        assert!(answer.get("max_ringing_duration").is_none());
        assert_eq!(
            answer["parallel_ringing"],
            json!({"activate": true, "max_parallel_attempts": 3})
        );
    });
}

#[test]
fn exotels_clock_decides_in_the_policys_time_zone() {
    let s = state_with(TEAM, config(500));
    runtime().block_on(async {
        // Tuesday 11:44 in Kolkata: open. Both of Exotel's formats read.
        let open = connect_json(&s, OPEN).await;
        assert_eq!(open["destination"]["numbers"].as_array().unwrap().len(), 3);
        let created = connect_json(&s, "Created=Tue,%2003%20Sep%202024%2011:44:54").await;
        assert_eq!(
            created["destination"]["numbers"].as_array().unwrap().len(),
            3
        );
        // 20:00 is after hours, and Sunday is closed: nobody is dialled.
        for closed in [
            "CurrentTime=2024-09-03%2020:00:00",
            "CurrentTime=2024-09-01%2011:00:00",
        ] {
            let answer = connect_json(&s, closed).await;
            assert_eq!(answer["destination"]["numbers"], json!([]), "{closed}");
        }
        // `EndTime` is always 1970: it is not a clock.
        let answer = connect_json(&s, &format!("EndTime=1970-01-01%2005:30:00&{OPEN}")).await;
        assert_eq!(
            answer["destination"]["numbers"].as_array().unwrap().len(),
            3
        );
    });
}

#[test]
fn the_secret_may_be_a_path_segment_or_a_query_parameter() {
    let mut c = config(500);
    c.exotel_token = Some("k3y".into());
    let s = state_with(TEAM, c);
    runtime().block_on(async {
        for (uri, status) in [
            ("/exotel/k3y/connect", StatusCode::OK),
            ("/exotel/connect?token=k3y", StatusCode::OK),
            // Outside office hours (a Sunday), whatever the clock says: not the `open` branch.
            (
                "/exotel/k3y/passthru?branch=open&CurrentTime=2024-09-01%2011:00:00",
                StatusCode::FOUND,
            ),
            ("/exotel/k3Y/connect", StatusCode::FORBIDDEN),
            ("/exotel/connect", StatusCode::FORBIDDEN),
            ("/exotel/connect?token=k3", StatusCode::FORBIDDEN),
            ("/exotel/x/passthru", StatusCode::FORBIDDEN),
        ] {
            assert_eq!(send(Arc::clone(&s), get(uri)).await.0, status, "{uri}");
        }
    });
}

#[test]
fn fetch_after_attempt_walks_the_calls_agents_once_each() {
    let mut c = config(500);
    c.connect.fetch_after_attempt = true;
    let s = state_with(TEAM, c);
    runtime().block_on(async {
        let ask = |after: &str| {
            let s = Arc::clone(&s);
            let query = format!("CallSid=c9&{OPEN}&DialWhomNumber={after}");
            async move { connect_json(&s, &query).await["destination"]["numbers"].clone() }
        };
        let first = ask("").await;
        assert_eq!(first, json!(["+919800000001"]));
        let answer = connect_json(&s, &format!("CallSid=c9&{OPEN}")).await;
        assert_eq!(answer["fetch_after_attempt"], true);
        // Exotel sends the number as it dialled it: national form reads too.
        assert_eq!(ask("09800000001").await, json!(["+919800000002"]));
        // Asked twice at once after the same attempt: the same answer, never a skipped agent.
        let both = futures_join(ask("%2B919800000002"), ask("%2B919800000002")).await;
        assert_eq!(both, (json!(["+919800000003"]), json!(["+919800000003"])));
        assert_eq!(ask("%2B919800000003").await, json!([]));
        // Another call starts afresh.
        let other = connect_json(&s, &format!("CallSid=d1&{OPEN}")).await;
        assert_eq!(other["destination"]["numbers"], json!(["+919800000001"]));
    });
}

/// A policy whose first rule reads a CRM (with no cache: every lookup asks it).
pub fn crm_team(crm: &crate::crm::Crm) -> String {
    format!(
        "source crm http \"{}/c?p={{call.from}}\" {{ timeout 1s }}\nfacts caller from crm {{ tier: string }}\n{TEAM}",
        crm.url()
    )
    .replace("rule all:", "rule vip: when caller.tier == \"vip\" -> queue vip\nrule all:")
}

#[test]
fn a_call_decided_before_is_answered_without_asking_the_crm_again() {
    let crm = crate::crm::Crm::start(|_, _| crate::crm::Reply::json(r#"{"tier": "standard"}"#));
    let mut c = config(2000);
    c.connect.fetch_after_attempt = true;
    let s = state_with(&crm_team(&crm), c);
    runtime().block_on(async {
        let ask = |query: String| {
            let s = Arc::clone(&s);
            async move { connect_json(&s, &query).await["destination"]["numbers"].clone() }
        };
        let call = format!("CallSid=k1&CallFrom=09845012345&{OPEN}");
        assert_eq!(ask(call.clone()).await, json!(["+919800000001"]));
        assert_eq!(crm.requests(), 1);
        // Exotel asking again (a retry, then after each attempt): the call's record answers.
        assert_eq!(ask(call.clone()).await, json!(["+919800000001"]));
        let after = |n: &str| format!("{call}&DialWhomNumber=%2B91980000000{n}");
        assert_eq!(ask(after("1")).await, json!(["+919800000002"]));
        assert_eq!(ask(after("2")).await, json!(["+919800000003"]));
        assert_eq!(crm.requests(), 1, "a call decided before needs no facts");
        // Another call is decided, with its facts.
        let other = format!("CallSid=k2&CallFrom=09845012346&{OPEN}");
        assert_eq!(ask(other).await, json!(["+919800000001"]));
        assert_eq!(crm.requests(), 2);
    });
}

async fn futures_join<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}

#[test]
fn with_no_policy_the_static_fallback_answers() {
    let mut c = config(100);
    c.fallback.numbers = vec!["09800000009".into()];
    c.fallback.branch = Some("fallback".into());
    let s = Arc::new(AppState::new(None, c));
    runtime().block_on(async {
        let answer = connect_json(&s, "CallSid=x").await;
        assert_eq!(answer["destination"]["numbers"], json!(["+919800000009"]));
        let (status, _, _) = send(Arc::clone(&s), get("/exotel/passthru?branch=fallback")).await;
        assert_eq!(status, StatusCode::OK);
        let (status, _, _) = send(Arc::clone(&s), get("/exotel/passthru?branch=other")).await;
        assert_eq!(status, StatusCode::FOUND);
    });
}

#[test]
fn a_broken_policy_with_a_fallback_configured_serves_the_fallback_until_fixed() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), "rule a: when -> queue x\n").unwrap();
    std::fs::write(
        dir.path().join("routec.yaml"),
        "policy: p.route\nfallback:\n  numbers: [\"+919800000009\"]\n",
    )
    .unwrap();
    let server = Server::start(dir.path(), &["--config", "routec.yaml"]);
    let (status, body) = server.get("/exotel/connect");
    assert_eq!(status, 200);
    assert!(body.contains("\"numbers\":[\"+919800000009\"]"), "{body}");
    assert_eq!(server.get("/readyz").0, 503);
    std::fs::write(dir.path().join("p.route"), "otherwise -> queue fixed\n").unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while server.get("/readyz").0 != 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "the fixed policy never loaded"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, body) = server.get("/v1/decide");
    assert!(body.contains("\"queue\":\"fixed\""), "{body}");
    server.stop();
}

#[test]
fn configuration_mistakes_stop_the_server_with_a_pointed_message() {
    crate::test::Test::new()
        .file("p.route", "otherwise -> queue x\n")
        .file("routec.yaml", "connect:\n  recrod: true\n")
        .args(["serve", "p.route", "--config", "routec.yaml"])
        .status(2)
        .stderr_contains("unknown field `recrod`, expected one of record")
        .stderr_contains("routec.yaml:2:3")
        .run();
    crate::test::Test::new()
        .file("p.route", "otherwise -> queue x\n")
        .env("ROUTEC_BUDGET_MS", "soon")
        .args(["serve", "p.route"])
        .status(2)
        .stderr_contains("`ROUTEC_BUDGET_MS`: invalid type")
        .run();
}

#[test]
fn environment_variables_override_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), TEAM).unwrap();
    std::fs::write(
        dir.path().join("routec.yaml"),
        "connect:\n  record: false\n",
    )
    .unwrap();
    let server = Server::start_with(
        dir.path(),
        &["p.route", "--config", "routec.yaml"],
        &[
            ("ROUTEC_CONNECT_RECORD", "true"),
            ("ROUTEC_CONNECT_NUMBER_FORMAT", "national"),
        ],
    );
    let (_, body) = server.get(&format!("/exotel/connect?{OPEN}"));
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["record"], true);
    assert_eq!(answer["destination"]["numbers"][0], "09800000001");
    server.stop();
}

#[test]
fn the_decision_log_can_mask_callers() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), TEAM).unwrap();
    let mut child = std::process::Command::new(crate::test::binary())
        .args(["serve", "p.route", "--listen", "127.0.0.1:0"])
        .env("ROUTEC_LOG_MASK_CALLER", "true")
        .current_dir(dir.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead;
    let mut errs = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = errs.next().unwrap().unwrap();
        if let Some(a) = line.split("http://").nth(1) {
            break a.trim().to_string();
        }
    };
    let server_addr = addr.clone();
    let mut stream = std::net::TcpStream::connect(&server_addr).unwrap();
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /exotel/connect?CallSid=m1&CallFrom=09901320691&{OPEN} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let mut out = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = out.next().unwrap().unwrap();
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
    let logged: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(logged["from"], "+91******0691");
    assert_eq!(logged["call_sid"], "m1");
    assert_eq!(logged["rule"], "open");
    assert!(!line.contains("9901320691"), "{line}");
    // When, in UTC, and which version decided.
    let ts = logged["ts"].as_str().unwrap();
    assert!(
        ts.ends_with('Z') && ts.parse::<jiff::Timestamp>().is_ok(),
        "{ts}"
    );
    assert_eq!(logged["version"].as_str().map(str::len), Some(16), "{line}");
}

#[test]
fn the_default_configuration_is_the_documented_one() {
    let c = Config::default();
    assert_eq!(c.listen, "127.0.0.1:8080");
    assert_eq!(c.policy, std::path::PathBuf::from("rules"));
    assert_eq!(c.budget_ms, 1000);
    assert_eq!(c.state.reservation_secs, 3600);
    assert_eq!(
        c.exotel.timezone,
        routec::server::config::Zone::new("Asia/Kolkata").unwrap()
    );
}

/// Exotel's times are Indian time without an offset: read so, then the policy's zone decides.
#[test]
fn exotels_clock_is_indian_time_whatever_the_policys_zone() {
    for (zone, open, closed) in [
        // 20:00 IST is 09:30 in New York (EST); 10:00 IST is 23:30 the night before.
        (
            "America/New_York",
            "2026-11-24%2020:00:00",
            "2026-11-24%2010:00:00",
        ),
        // Summer time: 14:00 IST is 09:30 in London (BST); 13:00 IST is 08:30.
        (
            "Europe/London",
            "2026-07-01%2014:00:00",
            "2026-07-01%2013:00:00",
        ),
    ] {
        let policy = format!(
            "timezone \"{zone}\"\nschedule hours {{ mon-fri 09:00-17:00 }}\n\
             rule open: when hours -> queue open\notherwise -> queue closed\n"
        );
        let s = state_with(&policy, config(500));
        runtime().block_on(async {
            for (time, queue) in [(open, "open"), (closed, "closed")] {
                let (_, _, body) = send(
                    Arc::clone(&s),
                    get(&format!("/v1/decide?CurrentTime={time}")),
                )
                .await;
                let decision: Value = serde_json::from_str(&body).unwrap();
                assert_eq!(decision["queue"], queue, "{zone} at {time} IST: {body}");
            }
        });
    }
    // `exotel.timezone` says otherwise, for an account that sends another zone's time.
    let mut c = config(500);
    c.exotel.timezone = routec::server::config::Zone::new("America/New_York").unwrap();
    let policy = "timezone \"America/New_York\"\nschedule hours { mon-fri 09:00-17:00 }\n\
                  rule open: when hours -> queue open\notherwise -> queue closed\n";
    let s = state_with(policy, c);
    runtime().block_on(async {
        let (_, _, body) = send(
            Arc::clone(&s),
            get("/v1/decide?CurrentTime=2026-11-24%2010:00:00"),
        )
        .await;
        assert!(body.contains("\"queue\":\"open\""), "{body}");
    });
}

#[test]
fn the_decide_endpoint_traces_every_rule_before_the_one_that_decided() {
    let policy = r#"
agent a1 "+919800000001"
rule one: when call.digits == "1" -> agent a1
rule two: when call.from starts_with "+9180" -> agent a1
rule three: when call.digits == "3" -> queue three
otherwise -> queue rest
"#;
    let s = state_with(policy, config(500));
    runtime().block_on(async {
        let (_, _, body) = send(
            Arc::clone(&s),
            get("/v1/decide?digits=3&CallFrom=09845000001"),
        )
        .await;
        let decision: Value = serde_json::from_str(&body).unwrap();
        let rules: Vec<&str> = decision["trace"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, ["one", "two", "three"], "{body}");
        assert_eq!(
            decision["trace"][1]["condition"],
            "call.from starts_with \"+9180\""
        );
        assert_eq!(decision["trace"][2]["result"], "fired");
    });
}
