//! Every policy shipped in `rules/` and `examples/` checks clean.

use crate::test::{Test, repo};

fn shipped_policies() -> Vec<std::path::PathBuf> {
    let mut policies = vec![repo().join("rules")];
    let mut examples: Vec<_> = std::fs::read_dir(repo().join("examples"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    examples.sort();
    assert!(
        examples.len() >= 8,
        "one example per strategy plus a combined one"
    );
    policies.extend(examples);
    policies
}

#[test]
fn shipped_policies_check_clean() {
    for policy in shipped_policies() {
        let files = routec::policy_files::SourceFiles::load(&policy).unwrap();
        let (checked, diagnostics) = routec::check_files(&files);
        let codes: Vec<String> = diagnostics
            .sorted()
            .iter()
            .map(|d| format!("{} {}", d.kind.code(), d.message()))
            .collect();
        assert!(codes.is_empty(), "{}: {codes:#?}", policy.display());
        assert!(checked.is_some());
        // Every shipped example has a README.
        if policy.parent().is_some_and(|p| p.ends_with("examples")) {
            assert!(
                policy.join("README.md").exists(),
                "{} has no README",
                policy.display()
            );
        }
    }
}

#[test]
fn check_cli_accepts_every_shipped_policy_with_deny_warnings() {
    // The SQL example reads its database URL from the environment: without it, its query
    // cannot be checked, which is a warning (its own test runs it against PostgreSQL).
    let sql_example = repo().join("examples/data-driven-sql");
    let paths: Vec<String> = shipped_policies()
        .iter()
        .filter(|p| **p != sql_example)
        .map(|p| p.display().to_string())
        .collect();
    Test::new()
        .args(["check", "--deny-warnings"])
        .args(paths)
        .stderr_contains("no problems")
        .success();
    Test::new()
        .args(["check", sql_example.to_str().unwrap()])
        .stderr_contains("0 errors, 1 warning")
        .stderr_contains("environment variable `ROUTEC_EXAMPLE_DATABASE_URL` is not")
        .success();
}

#[test]
fn language_reference_example_checks_clean() {
    let files = routec::policy_files::SourceFiles::load(
        &repo().join("tests/fixtures/language_example.route"),
    )
    .unwrap();
    let (checked, diagnostics) = routec::check_files(&files);
    assert!(
        diagnostics.errors.is_empty() && diagnostics.warnings.is_empty(),
        "{diagnostics:#?}"
    );
    let policy = checked.unwrap();
    assert_eq!(policy.name, "acme-support");
    assert_eq!(policy.rules.len(), 9);
    assert_eq!(policy.rules[8].name, "line 64");
}

#[test]
fn every_shipped_policy_has_passing_tests() {
    let mut files = Vec::new();
    for policy in shipped_policies() {
        let tests = policy.join("tests.yaml");
        assert!(tests.exists(), "{} has no tests.yaml", policy.display());
        files.push(tests.display().to_string());
    }
    let output = Test::new().args(["test"]).args(files).success();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(stdout.trim_end().ends_with("0 failed"), "{stdout}");
}

#[test]
fn default_rules_have_a_case_for_every_rule() {
    let files = routec::policy_files::SourceFiles::load(&repo().join("rules")).unwrap();
    let (policy, _) = routec::check_files(&files);
    let policy = policy.unwrap();
    let tests = std::fs::read_to_string(repo().join("rules/tests.yaml")).unwrap();
    for rule in policy
        .rules
        .iter()
        .map(|r| r.name.as_str())
        .chain(["otherwise"])
    {
        assert!(
            tests.contains(&format!("rule: {rule},")) || tests.contains(&format!("rule: {rule}}}")),
            "rules/tests.yaml has no case for rule `{rule}`"
        );
    }
}

#[test]
fn language_reference_example_checks_through_the_cli_without_its_data() {
    // Saved on its own, the example names `data/vip.csv`, which is not there: a warning only.
    let path = repo().join("tests/fixtures/language_example.route");
    Test::new()
        .args(["check", &path.display().to_string()])
        .stderr_contains("data file `data/vip.csv` does not exist")
        .stderr_contains("0 errors, 1 warning")
        .success();
}
