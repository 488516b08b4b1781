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

#[test]
fn a_value_of_the_wrong_type_is_missing_with_a_reason() {
    let csv = "phone,tier,spend\n09845000002,gold,lots\n";
    let d = decided_rule("csv", "c.csv", csv, &[]);
    assert_eq!(d["rule"], "otherwise");
    let degraded = d["degraded"].to_string();
    assert!(
        degraded.contains("source customers: `caller.tier` is not a `Tier`"),
        "{degraded}"
    );
    assert!(
        degraded.contains("`caller.spend` is not a number"),
        "{degraded}"
    );
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
        .file("p/data/c.csv", "tier\nenterprise\n")
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
