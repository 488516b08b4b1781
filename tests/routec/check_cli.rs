//! `routec check` as operators and CI run it: exit codes, output formats, colour.

use crate::test::Test;

const CLEAN: &str = r#"
agent ravi "+919800000002"
team T [ravi]
otherwise -> team T
"#;

const WITH_WARNING: &str = r#"
agent ravi "+919800000002"
agent asha "+919800000001"
team T [ravi]
otherwise -> team T
"#;

const WITH_ERROR: &str = r#"
agent ravi "+919800000002"
team T [ravi, rvi]
otherwise -> team TT
"#;

#[test]
fn clean_policy_exits_zero() {
    Test::new()
        .file("p.route", CLEAN)
        .args(["check", "p.route"])
        .stderr_contains("checked 1 policy: no problems")
        .success();
}

#[test]
fn errors_exit_one_and_are_all_reported() {
    Test::new()
        .file("p.route", WITH_ERROR)
        .args(["check", "p.route"])
        .status(1)
        .stderr_contains("unknown agent `rvi`")
        .stderr_contains("did you mean `ravi`?")
        .stderr_contains("unknown team `TT`")
        .stderr_contains("2 errors, 0 warnings")
        .run();
}

#[test]
fn warnings_pass_unless_denied() {
    Test::new()
        .file("p.route", WITH_WARNING)
        .args(["check", "p.route"])
        .stderr_contains("agent `asha` is never used")
        .success();
    Test::new()
        .file("p.route", WITH_WARNING)
        .args(["check", "--deny-warnings", "p.route"])
        .status(1)
        .run();
}

#[test]
fn missing_path_and_bad_usage_exit_two() {
    Test::new()
        .args(["check", "nope.route"])
        .status(2)
        .stderr_contains("cannot read `nope.route`")
        .run();
    Test::new().args(["check"]).status(2).run();
    Test::new()
        .file("p.route", CLEAN)
        .args(["check", "--format", "xml", "p.route"])
        .status(2)
        .run();
    Test::new()
        .file("empty/readme.txt", "")
        .args(["check", "empty"])
        .status(2)
        .stderr_contains("no `.route` file")
        .run();
}

#[test]
fn a_directory_is_one_policy_across_files() {
    // Declarations in one file are visible in the others.
    Test::new()
        .file("policy/a.route", "agent ravi \"+919800000002\"\n")
        .file("policy/b.route", "team T [ravi]\n")
        .file("policy/c.route", "otherwise -> team T\n")
        .args(["check", "policy"])
        .success();
}

#[test]
fn json_output_lists_every_diagnostic() {
    let output = Test::new()
        .file("p.route", WITH_ERROR)
        .args(["check", "--format", "json", "p.route"])
        .status(1)
        .run();
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["errors"], 2);
    assert_eq!(json["warnings"], 0);
    let first = &json["diagnostics"][0];
    assert_eq!(first["file"], "p.route");
    assert_eq!(first["line"], 3);
    assert_eq!(first["column"], 15);
    assert_eq!(first["severity"], "error");
    assert_eq!(first["code"], "route::unknown-agent");
    assert_eq!(first["message"], "unknown agent `rvi`");
    assert_eq!(first["help"], "did you mean `ravi`?");
}

#[test]
fn json_output_of_a_clean_policy_is_empty() {
    Test::new()
        .file("p.route", CLEAN)
        .args(["check", "--format", "json", "p.route"])
        .stdout("{\n  \"diagnostics\": [],\n  \"errors\": 0,\n  \"warnings\": 0\n}\n")
        .success();
}

#[test]
fn no_colour_when_not_a_terminal_or_no_color_is_set() {
    for no_color in ["", "1"] {
        let output = Test::new()
            .file("p.route", WITH_ERROR)
            .env("NO_COLOR", no_color)
            .args(["check", "p.route"])
            .status(1)
            .run();
        assert!(
            !output.stderr.contains(&0x1b),
            "escape codes in piped output"
        );
    }
}

#[test]
fn json_output_carries_warnings_with_their_severity() {
    Test::new()
        .file("p.route", WITH_WARNING)
        .args(["check", "--format", "json", "p.route"])
        .stdout_contains("\"severity\": \"warning\"")
        .stdout_contains("\"code\": \"route::unused\"")
        .success();
}

/// A path that cannot be read is an error in every format, never "no problems".
#[test]
fn an_unreadable_path_is_an_error_in_the_json_too() {
    let output = Test::new()
        .args(["check", "--format", "json", "missing.route"])
        .status(2)
        .run();
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["errors"], 1);
    assert_eq!(report["diagnostics"][0]["code"], "route::io");
    assert_eq!(report["diagnostics"][0]["file"], "missing.route");
    Test::new()
        .args(["check", "missing.route"])
        .status(2)
        .stderr_contains("1 error, 0 warnings")
        .run();
}

/// A folder of policies read as one policy gives duplicate errors: say what was meant.
#[test]
fn a_folder_of_policies_hints_at_checking_each() {
    let policy = "agent a \"+919800000001\"\notherwise -> agent a\n";
    Test::new()
        .file("all/one/p.route", policy)
        .file("all/two/p.route", policy)
        .args(["check", "all/"])
        .status(1)
        .stderr_contains("help: `all/` holds 2 policies (`one`, `two`), read here as one; check each on its own with `routec check all/*/`")
        .run();
    Test::new()
        .file("all/one/p.route", policy)
        .file("all/two/p.route", policy)
        .args(["check", "all/one", "all/two"])
        .success();
}

/// In a policy of several files, an anonymous rule is named by its file and line.
#[test]
fn anonymous_rules_of_several_files_are_named_by_file_and_line() {
    Test::new()
        .file(
            "p/a.route",
            "agent a \"+919800000001\"\nwhen call.digits == \"1\" -> agent a\n",
        )
        .file(
            "p/b.route",
            "when call.digits == \"1\" -> agent a\notherwise -> agent a\n",
        )
        .args(["check", "p"])
        .stderr_contains(
            "rule `b.route:1` can never fire: earlier rule `a.route:2` takes every call it would",
        )
        .success();
}
