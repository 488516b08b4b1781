//! `routec test`: runs YAML test cases against their policy; one line per case and a summary.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use routec::compile::Policy;
use routec::eval::Decision;
use routec::sources::Lookups;
use serde_json::Value as J;

use super::{EXIT_ERRORS, EXIT_USAGE, load_policy, read_document};

/// The keys `expect` may compare; only the keys given are compared.
const EXPECT_KEYS: [&str; 8] = [
    "rule", "numbers", "queue", "flow", "priority", "target", "agents", "degraded",
];

pub fn run(files: &[PathBuf]) -> ExitCode {
    let mut passed = 0usize;
    let mut failed = 0usize;
    let mut broken = false;
    let mut policies: HashMap<PathBuf, Option<(Policy, Lookups)>> = HashMap::new();
    for file in files {
        match run_file(file, &mut policies, &mut passed, &mut failed) {
            Ok(()) => {}
            Err(message) => {
                tell!("error: {message}");
                broken = true;
            }
        }
    }
    say!("{passed} passed, {failed} failed");
    if failed > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else if broken {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// A test file is a list of cases, or `{policy: PATH, cases: [...]}`; the policy defaults to
/// the file's directory and a relative path is relative to it.
fn run_file(
    file: &Path,
    policies: &mut HashMap<PathBuf, Option<(Policy, Lookups)>>,
    passed: &mut usize,
    failed: &mut usize,
) -> Result<(), String> {
    let document = read_document(file)?;
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let (policy_path, cases) = match &document {
        J::Array(cases) => (dir.to_path_buf(), cases.clone()),
        J::Object(top) => {
            for key in top.keys() {
                if key != "policy" && key != "cases" {
                    return Err(format!(
                        "{}: {key}: unknown field, expected policy, cases",
                        file.display()
                    ));
                }
            }
            let policy = match top.get("policy") {
                Some(J::String(p)) => dir.join(p),
                Some(_) => return Err(format!("{}: policy: expected a path", file.display())),
                None => dir.to_path_buf(),
            };
            match top.get("cases") {
                Some(J::Array(cases)) => (policy, cases.clone()),
                _ => {
                    return Err(format!(
                        "{}: cases: expected a list of cases",
                        file.display()
                    ));
                }
            }
        }
        _ => return Err(format!("{}: expected a list of cases", file.display())),
    };
    let policy = policies
        .entry(policy_path.clone())
        .or_insert_with(|| load_policy(&policy_path).ok());
    let Some((policy, _)) = policy else {
        return Err(format!(
            "{}: its policy `{}` does not load",
            file.display(),
            policy_path.display()
        ));
    };
    for (i, case) in cases.iter().enumerate() {
        let name = case
            .get("name")
            .and_then(J::as_str)
            .map_or_else(|| format!("case {}", i + 1), str::to_string);
        let label = format!("{}: {name}", file.display());
        let path = format!("cases[{i}]");
        let result = routec::case::read(&policy.checked, case, &path, &["name", "expect"])
            .map_err(|e| e.to_string())
            .and_then(|c| {
                let now = c.at.unwrap_or_else(jiff::Timestamp::now);
                let decision =
                    routec::eval::eval_explained(policy, &c.call, &c.facts, now, &c.agents);
                compare(policy, &decision, case.get("expect"), &path)
            });
        match result {
            Ok(()) => {
                *passed += 1;
                say!("ok    {label}");
            }
            Err(why) => {
                *failed += 1;
                say!("FAIL  {label}\n      {}", why.replace('\n', "\n      "));
            }
        }
    }
    Ok(())
}

fn compare(
    policy: &Policy,
    decision: &Decision,
    expect: Option<&J>,
    path: &str,
) -> Result<(), String> {
    let Some(expect) = expect else {
        return Err(format!("{path}: no `expect`"));
    };
    let J::Object(expect) = expect else {
        return Err(format!("{path}.expect: expected an object"));
    };
    let actual = decision.to_json(policy);
    let mut problems = Vec::new();
    for (key, want) in expect {
        if !EXPECT_KEYS.contains(&key.as_str()) {
            return Err(format!(
                "{path}.expect.{key}: unknown field, expected {}",
                EXPECT_KEYS.join(", ")
            ));
        }
        let got = &actual[key];
        let want = match (key.as_str(), want) {
            // Numbers may be written in any form: compare them in E.164.
            ("numbers", J::Array(items)) => J::Array(
                items
                    .iter()
                    .map(|n| {
                        match n
                            .as_str()
                            .and_then(|s| routec::phone::normalize(s, policy.checked.country))
                        {
                            Some(e164) => J::String(e164),
                            None => n.clone(),
                        }
                    })
                    .collect(),
            ),
            _ => want.clone(),
        };
        if *got != want {
            problems.push(format!("{key}: expected {want}, got {got}"));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    let trace = decision.explain(policy);
    Err(format!("{}\n{}", problems.join("\n"), trace.trim_end()))
}
