//! `routec simulate` against the real binary: a hand-made log whose figures are worked out by
//! hand, the `--against` matrix on a known edit, and a malformed line reported by number.

use std::process::Command;

use serde_json::Value;

use crate::test::binary;

/// Two agents; digit 1 to a sequential team of both, else to a queue.
const POLICY: &str = "timezone \"Asia/Kolkata\"\n\
agent a \"+919800000001\"\nagent b \"+919800000002\"\n\
team T [a, b] strategy sequential\n\
rule one: when call.digits == \"1\" -> team T\n\
otherwise -> queue general\n";

/// c1 takes `a` for 10 minutes; c2 (a busy) goes to `b`; c3 finds both busy: rule `one` finds
/// no agent and `otherwise` queues it; c4, after c1 ended, goes to `a` again; c5 has no digit:
/// the queue, no agent.
const LOG: &str = "CallSid,StartTime,From,Digits,DialCallDuration,Status\n\
c1,2026-11-23 10:00:00,09845000001,1,600,completed\n\
c2,2026-11-23 10:05:00,09845000002,1,300,completed\n\
c3,2026-11-23 10:06:00,09845000003,1,0,no-answer\n\
c4,2026-11-23 10:20:00,09845000004,1,60,completed\n\
c5,2026-11-23 11:00:00,09845000005,,30,completed\n";

fn simulate(files: &[(&str, &str)], args: &[&str]) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let out = Command::new(binary())
        .arg("simulate")
        .args(args)
        .args(["--format", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_hand_made_log_gives_the_figures_worked_out_by_hand() {
    let (report, _) = simulate(
        &[("new/p.route", POLICY), ("calls.csv", LOG)],
        &["new", "--calls", "calls.csv"],
    );
    let p = &report["policy"];
    assert_eq!(report["calls"], 5);
    assert_eq!(
        p["rules"][0],
        serde_json::json!({"rule": "one", "calls": 3, "share": 60.0, "no_agent": 1})
    );
    assert_eq!(
        p["rules"][1],
        serde_json::json!({"rule": "otherwise", "calls": 2, "share": 40.0, "no_agent": 2})
    );
    assert_eq!(p["teams"][0]["calls"], 3);
    // a: c1 (600 s) and c4 (60 s); b: c2 (300 s), skipped past the busy a.
    assert_eq!(p["agents"][0]["answered"], 2);
    assert_eq!(p["agents"][0]["talked_seconds"], 660);
    assert_eq!(p["agents"][1]["answered"], 1);
    assert_eq!(p["agents"][1]["talked_seconds"], 300);
    // From 10:00 to 11:00, the last call (queued: no agent's time): 3,600 s; a talked 660.
    assert_eq!(p["agents"][0]["utilisation"], 18.3);
    assert_eq!(p["calls_per_hour"][10], 4);
    assert_eq!(p["calls_per_hour"][11], 1);
}

#[test]
fn against_gives_the_matrix_of_a_known_edit() {
    let edited = POLICY.replace(
        "call.digits == \"1\"",
        "call.digits in [\"1\", \"\"] or not call.digits exists",
    );
    let (report, _) = simulate(
        &[
            ("new/p.route", &edited),
            ("old/p.route", POLICY),
            ("calls.csv", LOG),
        ],
        &["new", "--calls", "calls.csv", "--against", "old"],
    );
    assert_eq!(report["changed"], 1, "{report:#}");
    let moved: Vec<&Value> = report["matrix"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["old"] != c["new"])
        .collect();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["old"], "otherwise");
    assert_eq!(moved[0]["new"], "one");
    assert_eq!(moved[0]["examples"], serde_json::json!(["c5"]));
    assert_eq!(report["against"]["rules"][1]["calls"], 2);
    assert_eq!(report["policy"]["rules"][1]["calls"], 1);
}

#[test]
fn a_malformed_line_is_reported_with_its_number_and_skipped() {
    let broken = LOG.replace("c3,2026-11-23 10:06:00", "c3,yesterday");
    let (report, stderr) = simulate(
        &[("new/p.route", POLICY), ("calls.csv", &broken)],
        &["new", "--calls", "calls.csv"],
    );
    assert_eq!(report["calls"], 4);
    assert_eq!(report["skipped"][0]["line"], 4, "{report:#}");
    assert!(
        stderr.contains("calls.csv:4: skipped: StartTime `yesterday` is not a time"),
        "{stderr}"
    );
}

#[test]
fn the_sample_day_replays_on_the_shipped_policy() {
    let out = Command::new(binary())
        .args([
            "simulate",
            "rules",
            "--calls",
            "examples/calls-day.csv",
            "--format",
            "json",
        ])
        .current_dir(crate::test::repo())
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["calls"], 2335);
    assert_eq!(report["skipped"], serde_json::json!([]));
    let hours = report["policy"]["calls_per_hour"].as_array().unwrap();
    assert!(
        hours[11].as_u64() > hours[14].as_u64(),
        "a morning peak: {hours:?}"
    );
}

/// A decision log written by `routec serve`, replayed, gives each call the rule it got live.
#[test]
fn the_decision_log_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("decisions.jsonl");
    let log = std::fs::File::create(&log_path).unwrap();
    let rules = crate::test::repo().join("rules");
    let server = crate::serve::Server::start_writing_to(
        dir.path(),
        &[rules.to_str().unwrap()],
        &[],
        std::process::Stdio::from(log),
    );
    let mut sent = 0;
    for (digits, from) in [
        ("1", "08012345678"),
        ("2", "02212345678"),
        ("3", "09845000009"),
        ("", "08012345679"),
    ] {
        for time in [
            "2026-11-23%2010:15:00",
            "2026-11-23%2021:30:00",
            "2026-11-22%2011:00:00",
        ] {
            sent += 1;
            let (status, _) = server.get(&format!(
                "/exotel/passthru?CallSid=rt{sent}&CallFrom={from}&digits=%22{digits}%22&CurrentTime={time}&branch=x"
            ));
            assert!(status == 200 || status == 302, "{status}");
        }
    }
    assert!(server.stop().success());
    let text = std::fs::read_to_string(&log_path).unwrap();
    let mut live: std::collections::BTreeMap<String, u64> = Default::default();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        *live
            .entry(v["rule"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(live.values().sum::<u64>(), sent);
    assert!(live.len() >= 3, "the calls went to several rules: {live:?}");
    let out = Command::new(binary())
        .arg("simulate")
        .arg(&rules)
        .arg("--calls")
        .arg(&log_path)
        .args(["--format", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["skipped"], serde_json::json!([]));
    let replayed: std::collections::BTreeMap<String, u64> = report["policy"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["calls"].as_u64().unwrap() > 0)
        .map(|r| {
            (
                r["rule"].as_str().unwrap().to_string(),
                r["calls"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(replayed, live, "{text}");
}

#[test]
fn agents_rung_together_stay_reserved_while_the_call_lasts() {
    // Both agents ring at once for c1; `a` answers. While c1 lasts `b` is held for it as live
    // (its events release it when the call ends), so c2 finds no agent; c3, after, gets both.
    let policy = "timezone \"Asia/Kolkata\"\n\
agent a \"+919800000001\"\nagent b \"+919800000002\"\n\
team T [a, b] strategy ring_all\n\
rule one: when call.digits == \"1\" -> team T\n\
otherwise -> queue general\n";
    let log = "CallSid,StartTime,From,Digits,DialCallDuration,Status\n\
c1,2026-11-23 10:00:00,09845000001,1,600,completed\n\
c2,2026-11-23 10:05:00,09845000002,1,300,completed\n\
c3,2026-11-23 10:30:00,09845000003,1,60,completed\n";
    let (report, _) = simulate(
        &[("new/p.route", policy), ("calls.csv", log)],
        &["new", "--calls", "calls.csv"],
    );
    let p = &report["policy"];
    assert_eq!(p["rules"][0]["calls"], 2, "{report:#}");
    assert_eq!(p["rules"][0]["no_agent"], 1);
    assert_eq!(p["rules"][1]["calls"], 1);
    assert_eq!(p["agents"][0]["answered"], 2);
    assert_eq!(p["agents"][1]["answered"], 0);
}

#[test]
fn lookup_asks_the_policys_sources_for_facts_the_log_does_not_give() {
    let policy = "timezone \"Asia/Kolkata\"\ncountry \"IN\"\n\
enum Tier { standard, premium }\n\
source customers csv \"customers.csv\" key phone\n\
facts caller from customers { tier: Tier }\n\
agent a \"+919800000001\"\n\
rule premium: when caller.tier == premium -> agent a\n\
otherwise -> queue general\n";
    let customers = "phone,tier\n+919845000001,premium\n+919845000002,standard\n";
    let log = "CallSid,StartTime,From,Status\n\
c1,2026-11-23 10:00:00,09845000001,completed\n\
c2,2026-11-23 10:05:00,09845000002,completed\n\
c3,2026-11-23 10:06:00,09845000001,completed\n";
    let files = [
        ("new/p.route", policy),
        ("new/customers.csv", customers),
        ("calls.csv", log),
    ];
    // Offline by default: the tier is missing and no rule on it fires.
    let (report, _) = simulate(&files, &["new", "--calls", "calls.csv"]);
    assert_eq!(report["policy"]["rules"][0]["calls"], 0, "{report:#}");
    let (report, _) = simulate(&files, &["new", "--calls", "calls.csv", "--lookup"]);
    assert_eq!(report["policy"]["rules"][0]["calls"], 2, "{report:#}");
    assert_eq!(report["policy"]["rules"][1]["calls"], 1);
}
