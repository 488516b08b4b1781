//! `routec diff` against the real binary: hand-made pairs with known changes, each reported
//! example checked with `routec eval` against both versions.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::test::binary;

const BASE: &str = "timezone \"Asia/Kolkata\"\n\
agent a \"+919800000001\"\nagent b \"+919800000002\"\nagent c \"+919800000003\"\n\
team T [a, b] strategy round_robin\nteam U [c] strategy sequential\n\
enum Tier { standard, premium }\n\
source crm csv \"crm.csv\" key phone\n\
facts caller from crm { tier: Tier }\n\
schedule hours { mon-fri 09:00-18:00 }\n\
rule one: when call.digits == \"1\" -> team T\n\
rule two: when call.digits == \"2\" -> agent c\n\
rule vip: when caller.tier == premium and hours -> team U\n\
rule south: when call.from starts_with \"+9180\" -> number \"+918047000000\"\n\
otherwise -> queue general\n";

fn diff(old: &str, new: &str) -> (i32, Value) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [("old", old), ("new", new)] {
        std::fs::create_dir(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("p.route"), text).unwrap();
        std::fs::write(dir.path().join(name).join("crm.csv"), "phone,tier\n").unwrap();
    }
    let out = Command::new(binary())
        .args(["diff", "old", "new", "--format", "json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
    // Every example really routes as reported, on each version.
    for change in report["changes"].as_array().unwrap() {
        let case = dir.path().join("case.json");
        std::fs::write(&case, change["example"].to_string()).unwrap();
        for (version, side) in [("old", "old"), ("new", "new")] {
            let decision = eval(dir.path(), version, &case);
            assert_eq!(
                decision["rule"], change[side]["rule"],
                "{version}: {change:#}\n{decision:#}"
            );
        }
    }
    (out.status.code().unwrap(), report)
}

fn eval(dir: &Path, policy: &str, case: &Path) -> Value {
    let out = Command::new(binary())
        .args(["eval", policy, "--offline", "--input"])
        .arg(case)
        .current_dir(dir)
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap()
}

fn one_change(report: &Value) -> &Value {
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{report:#}");
    &changes[0]
}

#[test]
fn the_same_policy_is_equivalent() {
    let (code, report) = diff(BASE, BASE);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["equivalent"], true);
    assert_eq!(report["changes"], serde_json::json!([]));
    assert!(report["sampled"].as_u64().unwrap() > 10);
}

#[test]
fn a_reordered_pair_of_independent_rules_is_equivalent() {
    let swapped = BASE.replace(
        "rule one: when call.digits == \"1\" -> team T\nrule two: when call.digits == \"2\" -> agent c\n",
        "rule two: when call.digits == \"2\" -> agent c\nrule one: when call.digits == \"1\" -> team T\n",
    );
    assert_ne!(swapped, BASE);
    let (code, report) = diff(BASE, &swapped);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["equivalent"], true);
}

#[test]
fn a_renamed_rule_is_no_routing_change_and_is_listed() {
    let (code, report) = diff(BASE, &BASE.replace("rule two:", "rule second:"));
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["renamed"],
        serde_json::json!([{"old": "two", "new": "second"}])
    );
}

#[test]
fn a_changed_number() {
    let (code, report) = diff(
        BASE,
        &BASE.replace("agent c \"+919800000003\"", "agent c \"+919800000009\""),
    );
    assert_eq!(code, 1);
    // Agent `c` is rung by rule `two`, and by team `U` of rule `vip`.
    let changes = report["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 2, "{report:#}");
    let two = changes.iter().find(|c| c["old"]["rule"] == "two").unwrap();
    assert_eq!(two["new"]["rule"], "two");
    assert!(
        two["calls"]
            .as_str()
            .unwrap()
            .contains("call.digits == \"2\""),
        "{two:#}"
    );
    assert!(
        two["new"]["target"]
            .as_str()
            .unwrap()
            .contains("+919800000009"),
        "{two:#}"
    );
    assert!(
        changes.iter().any(|c| c["old"]["rule"] == "vip"),
        "{report:#}"
    );
}

#[test]
fn a_widened_prefix() {
    let (code, report) = diff(
        BASE,
        &BASE.replace("starts_with \"+9180\"", "starts_with \"+918\""),
    );
    assert_eq!(code, 1);
    let change = one_change(&report);
    assert_eq!(change["old"]["rule"], "otherwise");
    assert_eq!(change["new"]["rule"], "south");
    let from = change["example"]["call"]["CallFrom"].as_str().unwrap();
    assert!(
        from.starts_with("+918") && !from.starts_with("+9180"),
        "{from}"
    );
}

#[test]
fn a_schedule_moved_by_an_hour() {
    let (code, report) = diff(BASE, &BASE.replace("09:00-18:00", "10:00-19:00"));
    assert_eq!(code, 1);
    let changes = report["changes"].as_array().unwrap();
    let rules: Vec<(&str, &str)> = changes
        .iter()
        .map(|c| {
            (
                c["old"]["rule"].as_str().unwrap(),
                c["new"]["rule"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(rules.contains(&("vip", "otherwise")), "{report:#}");
    assert!(rules.contains(&("otherwise", "vip")), "{report:#}");
}

#[test]
fn a_schedule_open_one_more_day() {
    let (code, report) = diff(
        BASE,
        &BASE.replace("mon-fri 09:00-18:00", "mon-sat 09:00-18:00"),
    );
    assert_eq!(code, 1, "{report:#}");
    // Premium callers on a Saturday now reach `vip`, from `otherwise` and from `south`.
    let changes = report["changes"].as_array().unwrap();
    for old in ["otherwise", "south"] {
        let change = changes.iter().find(|c| c["old"]["rule"] == old).expect(old);
        assert_eq!(change["new"]["rule"], "vip");
        assert!(
            change["calls"].as_str().unwrap().contains("at sat"),
            "{change:#}"
        );
    }
    assert_eq!(changes.len(), 2, "{report:#}");
}

#[test]
fn a_team_strategy_changed() {
    let (code, report) = diff(
        BASE,
        &BASE.replace("strategy round_robin", "strategy ring_all"),
    );
    assert_eq!(code, 1);
    let change = one_change(&report);
    assert_eq!(change["old"]["rule"], "one");
    assert!(
        change["new"]["target"]
            .as_str()
            .unwrap()
            .contains("ring_all"),
        "{change:#}"
    );
}

#[test]
fn human_output_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("a.route"),
        "agent a \"+919800000001\"\notherwise -> agent a\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("b.route"),
        "agent a \"+919800000002\"\notherwise -> agent a\n",
    )
    .unwrap();
    let out = Command::new(binary())
        .args(["diff", "a.route", "b.route"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with("1 class of calls routes differently"),
        "{text}"
    );
    assert!(
        text.contains("old: rule `otherwise` → agent: +919800000001"),
        "{text}"
    );
    let out = Command::new(binary())
        .args(["diff", "a.route", "missing.route"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}
