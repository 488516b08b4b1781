//! File sources (CSV, JSON, YAML): read with the policy, keys normalised like caller numbers,
//! looked up by `routec eval`, reported by `routec check` when malformed.

use crate::test::Test;

fn policy(kind: &str, file: &str) -> String {
    format!(
        r#"
enum Tier {{ standard, premium, enterprise }}
source customers {kind} "data/{file}" key phone
facts caller from customers {{ tier: Tier  spend: number  manager: agent }}
agent asha "+919800000001"
team T [asha]
rule vip: when caller.tier == enterprise -> agent caller.manager or team T
rule big: when caller.spend >= 1000 -> queue big
otherwise -> queue general
"#
    )
}

const CASE: &str =
    r#"{"call": {"CallSid": "c", "CallFrom": "+919845000002"}, "at": "2026-11-23T10:15:00+05:30"}"#;

fn decided_rule(kind: &str, file: &str, data: &str, args: &[&str]) -> serde_json::Value {
    let output = Test::new()
        .file("p/policy.route", policy(kind, file))
        .file(&format!("p/data/{file}"), data)
        .file("case.json", CASE)
        .args(["eval", "p", "--input", "case.json"])
        .args(args.iter().copied())
        .success();
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn csv_json_and_yaml_tables_are_looked_up_by_caller_number() {
    let csv =
        "phone,tier,spend,manager\n09845000001,standard,10,\n09845000002,enterprise,5000,asha\n";
    let json =
        r#"[{"phone": "+919845000002", "tier": "enterprise", "spend": 5000, "manager": "asha"}]"#;
    let yaml = "- phone: 919845000002\n  tier: enterprise\n  spend: 5000\n  manager: asha\n";
    for (kind, file, data) in [
        ("csv", "c.csv", csv),
        ("json", "c.json", json),
        ("yaml", "c.yaml", yaml),
    ] {
        let d = decided_rule(kind, file, data, &[]);
        assert_eq!(d["rule"], "vip", "{kind}");
        assert_eq!(d["numbers"], serde_json::json!(["+919800000001"]), "{kind}");
    }
}

#[test]
fn offline_looks_nothing_up() {
    let csv = "phone,tier\n09845000002,enterprise\n";
    let d = decided_rule("csv", "c.csv", csv, &["--offline"]);
    assert_eq!(d["rule"], "otherwise");
}

#[test]
fn a_caller_with_no_row_is_unknown() {
    let csv = "phone,tier\n09845000003,enterprise\n";
    let d = decided_rule("csv", "c.csv", csv, &[]);
    assert_eq!(d["rule"], "otherwise");
    assert_eq!(d["degraded"], serde_json::json!([]));
}

/// Data files are checked like the policy: each bad cell is an error with its file and line,
/// found by `routec check` rather than by a call routed elsewhere.
#[test]
fn data_file_cells_are_checked_against_the_declared_types() {
    let csv = "phone,tier,spend,manager\n\
               09845000001,standard,10,asha\n\
               09845000002,platinum,lots,ashaa\n\
               09845000003,premium,20,+919800000001\n";
    let output = Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .file("p/data/c.csv", csv)
        .args(["check", "--format", "json", "p"])
        .status(1)
        .run();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let messages: Vec<&str> = report["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["message"].as_str().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "`data/c.csv` line 3: `tier` is `platinum`, not a variant of `Tier`",
            "`data/c.csv` line 3: `spend` is `lots`, not a number",
            "`data/c.csv` line 3: `manager` is `ashaa`, which is no agent's name or number (did you mean `asha`?)",
        ]
    );
    assert_eq!(report["errors"], 3);
    // JSON and YAML tables too, with booleans and phone numbers.
    let policy = "source people json \"data/p.json\" key phone\n\
                  facts caller from people { vip: bool  home: phone }\n\
                  rule vip: when caller.vip -> queue vip\n\
                  rule home: when caller.home starts_with \"+9180\" -> queue blr\n\
                  otherwise -> queue rest\n";
    let json = r#"[{"phone": "09845000001", "vip": "maybe", "home": "sip:desk"}]"#;
    Test::new()
        .file("p/policy.route", policy)
        .file("p/data/p.json", json)
        .args(["check", "p"])
        .status(1)
        .stderr_contains("`data/p.json` line 1: `vip` is `maybe`, not a bool")
        .stderr_contains("`data/p.json` line 1: `home` is `sip:desk`, not a phone number")
        .run();
}

/// A field the policy declares but the file never gives is always missing: a warning.
#[test]
fn a_declared_field_with_no_column_is_a_warning() {
    Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .file(
            "p/data/c.csv",
            "phone,tier,spend\n09845000002,enterprise,10\n",
        )
        .args(["check", "p"])
        .stderr_contains("route::missing-column")
        .stderr_contains("`data/c.csv` has no `manager` column for `caller.manager`")
        .success();
}

#[test]
fn given_facts_replace_the_lookup() {
    let output = Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .file("p/data/c.csv", "phone,tier\n09845000002,enterprise\n")
        .file(
            "case.json",
            r#"{"call": {"CallFrom": "+919845000002"}, "facts": {"caller": {"spend": 2000}}}"#,
        )
        .args(["eval", "p", "--input", "case.json"])
        .success();
    let d: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(d["rule"], "big");
}

#[test]
fn malformed_and_missing_files_are_check_errors_with_file_and_line() {
    Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .file(
            "p/data/c.csv",
            "phone,tier\n09845000002,enterprise\n09845000003,premium,extra\n",
        )
        .args(["check", "p"])
        .status(1)
        .stderr_contains("`data/c.csv` line 3: 3 fields, but the header has 2")
        .run();
    Test::new()
        .file("p/policy.route", policy("json", "c.json"))
        .file("p/data/c.json", "[{\"phone\": \"1\",}\n")
        .args(["check", "p"])
        .status(1)
        .stderr_contains("`data/c.json` line 1: not valid JSON")
        .run();
    Test::new()
        .file("p/policy.route", policy("yaml", "c.yaml"))
        .file("p/data/c.yaml", "phone: [unclosed\n")
        .args(["check", "p"])
        .status(1)
        .stderr_contains("`data/c.yaml`: not valid YAML")
        .run();
    // A missing file is a warning: the policy works, without those facts.
    Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .args(["check", "p"])
        .stderr_contains("data file `data/c.csv` does not exist")
        .success();
    Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .args(["check", "--deny-warnings", "p"])
        .status(1)
        .run();
    Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .file("p/data/c.csv", "tier\nenterprise\nstandard\npremium\n")
        .args(["check", "--format", "json", "p"])
        .status(1)
        .stdout_contains("`data/c.csv` line 1: no `phone` column, the key: the columns are `tier`")
        .stdout_contains("\"errors\": 1,")
        .run();
    // A row with an empty key is its own mistake.
    Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .file("p/data/c.csv", "phone,tier\n,enterprise\n")
        .args(["check", "p"])
        .status(1)
        .stderr_contains("`data/c.csv` line 2: no `phone` value, the key column")
        .run();
}

#[test]
fn a_key_listed_twice_is_a_warning_and_the_first_row_counts() {
    let csv = "phone,tier\n09845000002,enterprise\n+919845000002,standard\n";
    Test::new()
        .file("p/policy.route", policy("csv", "c.csv"))
        .file("p/data/c.csv", csv)
        .args(["check", "p"])
        .stderr_contains(
            "`data/c.csv` line 3: key `+919845000002` is listed again (first on line 2)",
        )
        .success();
    assert_eq!(decided_rule("csv", "c.csv", csv, &[])["rule"], "vip");
}

const MAPPED: &str = r#"
map city by prefix(call.from) from "data/std.csv"
schedule open { mon-sun 00:00-24:00  closed from "data/holidays.csv" }
rule closed: when not open -> queue holiday
rule blr: when city == "bangalore" -> queue blr
otherwise -> queue general
"#;

#[test]
fn prefix_maps_and_holidays_are_read_from_files() {
    let run = |from: &str, at: &str| {
        let case = format!(r#"{{"call": {{"CallFrom": "{from}"}}, "at": "{at}"}}"#);
        let output = Test::new()
            .file("p/policy.route", MAPPED)
            .file(
                "p/data/std.csv",
                "# STD codes\nstd_code,city\n080,bangalore\n+9122,mumbai\n",
            )
            .file(
                "p/data/holidays.csv",
                "date,name\n2026-01-26,Republic Day\n",
            )
            .file("case.json", case)
            .args(["eval", "p", "--input", "case.json"])
            .success();
        let d: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        d["rule"].as_str().unwrap().to_string()
    };
    assert_eq!(run("08041234567", "2026-11-23T10:00:00+05:30"), "blr");
    assert_eq!(
        run("+912212345678", "2026-11-23T10:00:00+05:30"),
        "otherwise"
    );
    assert_eq!(run("08041234567", "2026-01-26T10:00:00+05:30"), "closed");
}

#[test]
fn bad_map_and_holiday_files_are_reported_with_their_line() {
    Test::new()
        .file("p/policy.route", MAPPED)
        .file(
            "p/data/std.csv",
            "std_code,city\n080,bangalore\nblr,bangalore\n+9180,again\n",
        )
        .file("p/data/holidays.csv", "date\n2026-02-30\n")
        .args(["check", "p"])
        .status(1)
        .stderr_contains("`data/std.csv` line 3: `blr` is not a number prefix")
        .stderr_contains("`data/std.csv` line 4: prefix `+9180` is listed again (first on line 2)")
        .stderr_contains("`data/holidays.csv` line 2: `2026-02-30` is not a date (YYYY-MM-DD)")
        .run();
}

#[test]
fn the_shipped_std_table_covers_the_largest_cities() {
    let text =
        std::fs::read_to_string(crate::test::repo().join("rules/data/india-std.csv")).unwrap();
    let cities = text
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains(','))
        .count()
        - 1;
    assert!(cities >= 30, "{cities} cities");
    for city in [
        "delhi",
        "mumbai",
        "kolkata",
        "chennai",
        "bangalore",
        "hyderabad",
        "ahmedabad",
        "pune",
    ] {
        assert!(text.contains(&format!(",{city}\n")), "{city}");
    }
}

/// The policy's `version` covers its data files: a changed CSV is a new version, served.
#[test]
fn changing_a_data_file_changes_the_version() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("data")).unwrap();
    std::fs::write(dir.path().join("policy.route"), policy("csv", "c.csv")).unwrap();
    let csv = |tier: &str| format!("phone,tier,spend,manager\n09845000002,{tier},10,asha\n");
    std::fs::write(dir.path().join("data/c.csv"), csv("standard")).unwrap();
    let server =
        crate::serve::Server::start_with(dir.path(), &["."], &[("ROUTEC_LOG_DECISIONS", "false")]);
    let version = |server: &crate::serve::Server| {
        let (_, body) = server.get("/v1/policy");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["version"].clone()
    };
    let before = version(&server);
    std::fs::write(dir.path().join("data/c.csv"), csv("enterprise")).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while version(&server) == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the version never changed"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, body) = server.get("/v1/decide?CallFrom=09845000002");
    assert!(body.contains("\"rule\":\"vip\""), "{body}");
    assert!(server.stop().success());
}
