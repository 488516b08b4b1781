//! `routec eval` and `routec test` through the real binary.

use crate::test::Test;

const POLICY: &str = r#"
enum Tier { standard, premium, enterprise }
source crm http "http://127.0.0.1:9/c?phone={call.from}"
facts caller from crm { tier: Tier  account_manager: agent }
agent asha "+919800000001"
agent ravi "+919800000002"
team T [ravi, asha] strategy longest_idle
rule vip: when caller.tier == enterprise and caller.account_manager exists -> agent caller.account_manager or team T
rule tech: when call.digits == "1" -> team T
otherwise -> queue general priority 9
"#;

/// The input of LANGUAGE.md §6, as written there.
const CASE: &str = r#"{
  "call":   {"CallSid": "c1", "From": "09845012345", "To": "08047112233", "digits": "\"1\""},
  "at":     "2026-11-23T10:15:00+05:30",
  "facts":  {"caller": {"tier": "enterprise", "account_manager": "+919800000001"}},
  "agents": {"ravi": {"status": "available", "calls_today": 3,
                      "last_call_ended": "2026-11-23T09:58:00+05:30"}}
}"#;

#[test]
fn eval_prints_only_the_decision_json() {
    let output = Test::new()
        .file("p.route", POLICY)
        .file("case.json", CASE)
        .args(["eval", "p.route", "--input", "case.json"])
        .success();
    let d: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stdout is JSON");
    assert_eq!(d["rule"], "vip");
    assert_eq!(d["target"], "agent");
    assert_eq!(d["numbers"], serde_json::json!(["+919800000001"]));
    assert_eq!(d["queue"], serde_json::Value::Null);
    assert_eq!(d["priority"], serde_json::Value::Null);
    assert_eq!(d["flow"], serde_json::Value::Null);
    assert_eq!(d["degraded"], serde_json::json!([]));
    assert_eq!(d["trace"][0]["rule"], "vip");
    assert_eq!(d["trace"][0]["result"], "fired");
}

#[test]
fn eval_explain_goes_to_stderr() {
    let case = r#"{"call": {"CallSid": "c2", "digits": "1"}, "at": "2026-11-23T10:15:00+05:30"}"#;
    let output = Test::new()
        .file("p.route", POLICY)
        .file("case.json", case)
        .args(["eval", "p.route", "--input", "case.json", "--explain"])
        .stderr_contains("vip: `caller.account_manager exists` is false")
        .stderr_contains("→ tech: fired")
        .success();
    let d: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(d["rule"], "tech");
    // `unknown and false` is false: the false item is named.
    assert_eq!(d["trace"][0]["result"], "false");
    assert_eq!(d["trace"][0]["condition"], "caller.account_manager exists");
}

#[test]
fn eval_reads_yaml_and_stdin() {
    Test::new()
        .file("p.route", POLICY)
        .file(
            "case.yaml",
            "call: {CallSid: c3, digits: '\"1\"'}\nat: 2026-11-23T10:15:00+05:30\n",
        )
        .args(["eval", "p.route", "--input", "case.yaml"])
        .stdout_contains("\"rule\": \"tech\"")
        .success();
}

#[test]
fn bad_input_names_the_path_and_exits_two() {
    let cases = [
        ("{not json", "is not valid JSON"),
        (
            r#"{"cal": {}}"#,
            "cal: unknown field (did you mean `call`?)",
        ),
        (
            r#"{"agents": {"ravi": {"calls_today": "three"}}}"#,
            "agents.ravi.calls_today: expected a number",
        ),
        (
            r#"{"agents": {"ravi": {"calls_today": -1}}}"#,
            "agents.ravi.calls_today: expected a non-negative number, found `-1`",
        ),
        (
            r#"{"facts": {"caller": {"account_manager": 5}}}"#,
            "facts.caller.account_manager: expected an agent, found a number",
        ),
        (
            r#"{"agents": {"rvi": {}}}"#,
            "agents.rvi: unknown agent (did you mean `ravi`?)",
        ),
        (
            r#"{"agents": {"ravi": {"status": "asleep"}}}"#,
            "agents.ravi.status: expected available, busy, offline or break",
        ),
        (r#"{"at": "yesterday"}"#, "at: `yesterday` is not a time"),
        (
            r#"{"facts": {"caller": {"tier": "gold"}}}"#,
            "facts.caller.tier: expected one of standard, premium, enterprise",
        ),
        (
            r#"{"facts": {"callr": {}}}"#,
            "facts.callr: unknown field (did you mean `caller`?)",
        ),
        (
            r#"{"call": {"From": ["x"]}}"#,
            "call.From: expected a string, found a list",
        ),
        (
            r#"{"teams": {"T": {"last": "nobody"}}}"#,
            "teams.T.last: `nobody` is no member of `T`",
        ),
        (r#"[1, 2]"#, "expected an object, found a list"),
    ];
    for (input, message) in cases {
        Test::new()
            .file("p.route", POLICY)
            .file("case.json", input)
            .args(["eval", "p.route", "--input", "case.json"])
            .status(2)
            .stdout("")
            .stderr_contains(message)
            .run();
    }
    Test::new()
        .file("p.route", POLICY)
        .args(["eval", "p.route", "--input", "missing.json"])
        .status(2)
        .stderr_contains("cannot read `missing.json`")
        .run();
}

#[test]
fn eval_of_a_broken_policy_exits_one() {
    Test::new()
        .file("p.route", "otherwise -> team NOPE\n")
        .file("case.json", "{}")
        .args(["eval", "p.route", "--input", "case.json"])
        .status(1)
        .stderr_contains("unknown team `NOPE`")
        .run();
}

const TESTS: &str = r#"
- name: tech line
  call: {CallSid: t1, digits: '"1"'}
  at: 2026-11-23T10:15:00+05:30
  expect: {rule: tech, numbers: ["09800000002", "+919800000001"]}
- name: wrong on purpose
  call: {CallSid: t2}
  expect: {rule: tech}
"#;

#[test]
fn test_runs_cases_and_summarises() {
    let output = Test::new()
        .file("policy/p.route", POLICY)
        .file("policy/tests.yaml", TESTS)
        .args(["test", "policy/tests.yaml"])
        .status(1)
        .stdout_contains("ok    policy/tests.yaml: tech line")
        .stdout_contains("FAIL  policy/tests.yaml: wrong on purpose")
        .stdout_contains("rule: expected \"tech\", got \"otherwise\"")
        .run();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn test_files_may_name_their_policy() {
    let tests = "policy: ../policy\ncases:\n  - name: fallback\n    call: {CallSid: x}\n    expect: {rule: otherwise, queue: general, priority: 9, numbers: []}\n";
    Test::new()
        .file("policy/p.route", POLICY)
        .file("tests/cases.yaml", tests)
        .args(["test", "tests/cases.yaml"])
        .stdout_contains("1 passed, 0 failed")
        .success();
}

#[test]
fn malformed_test_files_exit_two() {
    Test::new()
        .file("policy/p.route", POLICY)
        .file("policy/tests.yaml", "cases: [1\n")
        .args(["test", "policy/tests.yaml"])
        .status(2)
        .stdout_contains("0 passed, 0 failed")
        .run();
    Test::new()
        .file("policy/p.route", POLICY)
        .file("policy/tests.yaml", "- name: x\n  expect: {rul: tech}\n")
        .args(["test", "policy/tests.yaml"])
        .status(1)
        .stdout_contains("expect.rul: unknown field")
        .run();
}

/// A case copied from Exotel's log decides at the call's own time (Indian time), read into
/// the policy's zone, the way `serve` does: the same answer whenever it runs.
#[test]
fn eval_and_test_use_the_calls_own_time() {
    let policy = "timezone \"America/New_York\"\nschedule hours { mon-fri 09:00-17:00 }\n\
                  rule open: when hours -> queue open\notherwise -> queue closed\n";
    for (time, queue) in [
        ("2026-11-24 20:00:00", "open"),
        ("2026-11-24 10:00:00", "closed"),
    ] {
        let case = format!(r#"{{"call": {{"CallSid": "t1", "CurrentTime": "{time}"}}}}"#);
        let d = decide(policy, &case);
        assert_eq!(d["queue"], queue, "{time} IST");
    }
    let tests = r#"
policy: p.route
cases:
  - name: an evening call in India is a New York morning
    call: {CallSid: t2, StartTime: "2026-11-24 20:00:00"}
    expect: {rule: open}
  - name: Created in Exotel's other format
    call: {CallSid: t3, Created: "Tue, 24 Nov 2026 10:00:00"}
    expect: {rule: otherwise}
"#;
    Test::new()
        .file("p.route", policy)
        .file("tests.yaml", tests)
        .args(["test", "tests.yaml"])
        .success();
}

/// A case says what it means: a number written as text is a mistake, named by its path.
#[test]
fn a_case_with_a_fact_of_the_wrong_json_type_is_an_error() {
    let policy = "source crm http \"http://127.0.0.1:9/c?phone={call.from}\"\n\
                  facts caller from crm { spend: number  vip: bool  tier: string }\n\
                  rule big: when caller.spend > 100 -> queue big\notherwise -> queue rest\n";
    for (facts, message) in [
        (
            r#"{"spend": "150"}"#,
            "facts.caller.spend: expected a number, found `150`",
        ),
        (
            r#"{"vip": "true"}"#,
            "facts.caller.vip: expected a bool, found `true`",
        ),
        (
            r#"{"tier": 3}"#,
            "facts.caller.tier: expected a string, found a number",
        ),
    ] {
        let case = format!(r#"{{"facts": {{"caller": {facts}}}}}"#);
        Test::new()
            .file("p.route", policy)
            .file("case.json", &case)
            .args(["eval", "p.route", "--input", "case.json", "--offline"])
            .status(2)
            .stderr_contains(message)
            .run();
    }
}

/// Indian toll-free numbers (`1800…`) are phone numbers: as literals, prefixes and callers.
#[test]
fn toll_free_numbers_are_phone_numbers() {
    let policy = "rule free: when call.to == \"1800-123-4567\" -> queue free\n\
                  rule any_free: when call.to starts_with \"1800\" -> queue any_free\n\
                  otherwise -> queue rest\n";
    for (to, queue) in [
        ("18001234567", "free"),
        ("+9118001234567", "free"),
        ("18009876543", "any_free"),
        ("08069891522", "rest"),
    ] {
        let case = format!(r#"{{"call": {{"CallSid": "t", "CallTo": "{to}"}}}}"#);
        let d = decide(policy, &case);
        assert_eq!(d["queue"], queue, "{to}");
    }
}

/// With every agent busy, the last resort rings the team as the team is rung: `ring N` and
/// `ring_all` hold.
#[test]
fn the_last_resort_keeps_ring_and_ring_all() {
    let agents =
        "agent a \"+919800000001\"\nagent b \"+919800000002\"\nagent c \"+919800000003\"\n";
    let busy = r#"{"agents": {"a": {"status": "busy"}, "b": {"status": "busy"}, "c": {"status": "busy"}}}"#;
    for (team, numbers, parallel) in [
        ("team T [a, b, c] strategy sequential ring 2", 2, false),
        ("team T [a, b, c] strategy ring_all", 3, true),
    ] {
        let d = decide(format!("{agents}{team}\notherwise -> team T\n"), busy);
        assert_eq!(
            d["degraded"],
            serde_json::json!(["no_available_agent"]),
            "{team}"
        );
        assert_eq!(d["numbers"].as_array().unwrap().len(), numbers, "{team}");
        assert_eq!(d["parallel_ringing"], parallel, "{team}");
    }
}

/// A case sets an `agents where` target's cursor by the name the docs give it, `RULE#N`.
#[test]
fn a_case_sets_the_cursor_of_an_agents_where_target() {
    let policy = "agent a \"+919800000001\" languages [es]\n\
                  agent b \"+919800000002\" languages [es]\n\
                  agent c \"+919800000003\" languages [es]\n\
                  rule es: when call.digits == \"3\" -> agents where speaks \"es\" using round_robin\n\
                  otherwise -> agent a\n";
    for (last, first) in [("a", "+919800000002"), ("c", "+919800000001")] {
        let case =
            format!(r#"{{"call": {{"digits": "3"}}, "teams": {{"es#0": {{"last": "{last}"}}}}}}"#);
        let d = decide(policy, &case);
        assert_eq!(d["numbers"][0], first, "after {last}");
    }
    Test::new()
        .file("p.route", policy)
        .file("case.json", r#"{"teams": {"es#1": {"last": "a"}}}"#)
        .args(["eval", "p.route", "--input", "case.json"])
        .status(2)
        .stderr_contains("teams.es#1: unknown field")
        .run();
}

/// A JSON input saved with a byte-order mark reads as the same document.
#[test]
fn a_json_input_with_a_byte_order_mark_is_read() {
    let case = "\u{feff}{\"call\": {\"CallSid\": \"c\", \"digits\": \"1\"}}";
    Test::new()
        .file("p.route", POLICY)
        .file("case.json", case)
        .args(["eval", "p.route", "--input", "case.json", "--offline"])
        .stdout_contains("\"rule\": \"tech\"")
        .success();
}

/// The decision `routec eval` prints for a case, with the policy in `p.route`.
fn decide(policy: impl AsRef<[u8]>, case: impl AsRef<[u8]>) -> serde_json::Value {
    let output = Test::new()
        .file("p.route", policy)
        .file("case.json", case)
        .args(["eval", "p.route", "--input", "case.json"])
        .success();
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}
