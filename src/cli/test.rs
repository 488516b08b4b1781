//! `routec test`: runs YAML test cases against their policy; one line per case and a summary,
//! what the cases cover (`--coverage`), JSON (`--format json`) and JUnit XML (`--junit`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use routec::compile::Policy;
use routec::eval::{Decision, RuleRef, describe_target};
use serde_json::{Value as J, json};

use super::{EXIT_ERRORS, EXIT_USAGE, Format, load_policy, read_document};

/// The keys `expect` may compare; only the keys given are compared.
const EXPECT_KEYS: [&str; 8] = [
    "rule", "numbers", "queue", "flow", "priority", "target", "agents", "degraded",
];

pub struct Options {
    /// Only the cases whose name contains this.
    pub run: Option<String>,
    pub coverage: bool,
    pub format: Format,
    pub junit: Option<PathBuf>,
}

/// What became of one case.
pub struct CaseResult {
    pub file: PathBuf,
    pub name: String,
    /// Why it failed; `None`: it passed.
    pub failure: Option<String>,
    pub seconds: f64,
}

/// How often each target of each rule decided, over the cases run against one policy.
struct Coverage {
    cases: usize,
    /// Per rule, per target of its chain.
    rules: Vec<Vec<usize>>,
    /// Per target of `otherwise`, and last the last resort (nothing available).
    otherwise: Vec<usize>,
}

impl Coverage {
    fn new(policy: &Policy) -> Coverage {
        let checked = &policy.checked;
        Coverage {
            cases: 0,
            rules: checked
                .rules
                .iter()
                .map(|r| vec![0; r.targets.len()])
                .collect(),
            otherwise: vec![0; checked.otherwise.targets.len() + 1],
        }
    }

    fn count(&mut self, decision: &Decision) {
        self.cases += 1;
        let slots = match decision.rule {
            RuleRef::Rule(i) => &mut self.rules[i.index()],
            RuleRef::Otherwise => &mut self.otherwise,
        };
        if let Some(n) = slots.get_mut(decision.fallback) {
            *n += 1;
        }
    }
}

/// A policy the cases run against, loaded once.
struct Loaded {
    policy: Option<Policy>,
    coverage: Option<Coverage>,
}

pub fn run(paths: &[PathBuf], options: &Options) -> ExitCode {
    let files = match test_files(paths) {
        Ok(files) => files,
        Err(message) => {
            tell!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let human = options.format == Format::Human;
    let mut results: Vec<CaseResult> = Vec::new();
    let mut filtered = 0usize;
    let mut broken = false;
    let mut policies: BTreeMap<PathBuf, Loaded> = BTreeMap::new();
    for file in &files {
        let before = results.len();
        let outcome = run_file(file, options, &mut policies, &mut results, &mut filtered);
        if human {
            for r in &results[before..] {
                let label = format!("{}: {}", r.file.display(), r.name);
                match &r.failure {
                    None => say!("ok    {label}"),
                    Some(why) => say!("FAIL  {label}\n      {}", why.replace('\n', "\n      ")),
                }
            }
        }
        if let Err(message) = outcome {
            tell!("error: {message}");
            broken = true;
        }
    }
    let failed = results.iter().filter(|r| r.failure.is_some()).count();
    let passed = results.len() - failed;
    if let Some(path) = &options.junit
        && let Err(e) = std::fs::write(path, super::junit::xml(&results))
    {
        tell!("error: cannot write `{}`: {e}", path.display());
        broken = true;
    }
    match options.format {
        Format::Human => {
            let filtered = if filtered > 0 {
                format!(", {filtered} filtered out")
            } else {
                String::new()
            };
            say!("{passed} passed, {failed} failed{filtered}");
            if options.coverage {
                for (path, loaded) in &policies {
                    if let (Some(policy), Some(coverage)) = (&loaded.policy, &loaded.coverage) {
                        say!("{}", coverage_text(path, policy, coverage));
                    }
                }
            }
        }
        Format::Json => {
            let cases: Vec<J> = results
                .iter()
                .map(|r| {
                    json!({"file": r.file, "name": r.name, "ok": r.failure.is_none(),
                        "failure": r.failure})
                })
                .collect();
            let mut out = json!({"passed": passed, "failed": failed, "filtered": filtered,
                "cases": cases});
            if options.coverage {
                let coverage: Vec<J> = policies
                    .iter()
                    .filter_map(|(path, l)| {
                        Some(coverage_json(
                            path,
                            l.policy.as_ref()?,
                            l.coverage.as_ref()?,
                        ))
                    })
                    .collect();
                out["coverage"] = J::Array(coverage);
            }
            say!("{out:#}");
        }
    }
    if failed > 0 {
        ExitCode::from(EXIT_ERRORS)
    } else if broken {
        ExitCode::from(EXIT_USAGE)
    } else {
        ExitCode::SUCCESS
    }
}

/// The test files `paths` name: files as given, and every `tests.yaml` (or `tests.yml`) below
/// a directory, in path order.
fn test_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = out.len();
            walk(path, &mut out).map_err(|e| format!("{}: {e}", path.display()))?;
            if out.len() == before {
                return Err(format!("no `tests.yaml` below `{}`", path.display()));
            }
        } else {
            out.push(path.clone());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let name = name.unwrap_or_default();
        if path.is_dir() {
            // Hidden folders and build output hold no policies' tests.
            if !name.starts_with('.') && name != "target" && name != "node_modules" {
                walk(&path, out)?;
            }
        } else if name == "tests.yaml" || name == "tests.yml" {
            out.push(path);
        }
    }
    Ok(())
}

/// A test file is a list of cases, or `{policy: PATH, cases: [...]}`; the policy defaults to
/// the file's directory and a relative path is relative to it.
fn run_file(
    file: &Path,
    options: &Options,
    policies: &mut BTreeMap<PathBuf, Loaded>,
    results: &mut Vec<CaseResult>,
    filtered: &mut usize,
) -> Result<(), String> {
    let document = read_document(file)?;
    let (policy_path, cases) = policy_and_cases(file, &document)?;
    let loaded = policies.entry(policy_path.clone()).or_insert_with(|| {
        let policy = load_policy(&policy_path).ok().map(|(p, _)| p);
        let coverage = policy.as_ref().map(Coverage::new);
        Loaded { policy, coverage }
    });
    let (Some(policy), Some(coverage)) = (&loaded.policy, &mut loaded.coverage) else {
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
        if options
            .run
            .as_ref()
            .is_some_and(|p| !name.contains(p.as_str()))
        {
            *filtered += 1;
            continue;
        }
        let started = Instant::now();
        let path = format!("cases[{i}]");
        let result = routec::case::read(&policy.checked, case, &path, &["name", "expect"])
            .map_err(|e| e.to_string())
            .and_then(|c| {
                let now = c.at.unwrap_or_else(jiff::Timestamp::now);
                let decision =
                    routec::eval::eval_explained(policy, &c.call, &c.facts, now, &c.agents);
                coverage.count(&decision);
                compare(policy, &decision, case.get("expect"), &path)
            });
        results.push(CaseResult {
            file: file.to_path_buf(),
            name,
            failure: result.err(),
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(())
}

fn policy_and_cases(file: &Path, document: &J) -> Result<(PathBuf, Vec<J>), String> {
    let dir = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match document {
        J::Array(cases) => Ok((dir.to_path_buf(), cases.clone())),
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
                Some(J::Array(cases)) => Ok((policy, cases.clone())),
                _ => Err(format!(
                    "{}: cases: expected a list of cases",
                    file.display()
                )),
            }
        }
        _ => Err(format!("{}: expected a list of cases", file.display())),
    }
}

/// Each rule's and fallback's name and count, in policy order: `(rule, fallback, target,
/// cases)`.
fn coverage_rows<'a>(
    policy: &'a Policy,
    coverage: &'a Coverage,
) -> impl Iterator<Item = (&'a str, usize, String, usize)> + 'a {
    let checked = &policy.checked;
    let rules = checked.rules.iter().zip(&coverage.rules);
    let otherwise = std::iter::once((&checked.otherwise, &coverage.otherwise));
    rules.chain(otherwise).flat_map(move |(rule, counts)| {
        counts.iter().enumerate().map(move |(i, &n)| {
            let target = match rule.targets.get(i) {
                Some(t) => describe_target(checked, t),
                None => "last resort (nothing available)".to_string(),
            };
            (rule.name.as_str(), i, target, n)
        })
    })
}

fn coverage_text(path: &Path, policy: &Policy, coverage: &Coverage) -> String {
    let mut out = format!(
        "\ncoverage of {} ({} cases):\n",
        path.display(),
        coverage.cases
    );
    let mut missed = Vec::new();
    for (rule, fallback, target, n) in coverage_rows(policy, coverage) {
        let last_resort = rule == "otherwise" && target.starts_with("last resort");
        let what = match fallback {
            0 => format!("{rule}: {target}"),
            _ if last_resort => format!("{rule}: {target}"),
            _ => format!("{rule}: or {target}"),
        };
        out.push_str(&format!("  {n:>5}  {what}\n"));
        if n == 0 && !last_resort {
            missed.push(what);
        }
    }
    if missed.is_empty() {
        out.push_str("every rule and fallback was fired by a case\n");
    } else {
        out.push_str(&format!("not fired by any case ({}):\n", missed.len()));
        for what in missed {
            out.push_str(&format!("  {what}\n"));
        }
    }
    out
}

fn coverage_json(path: &Path, policy: &Policy, coverage: &Coverage) -> J {
    let rows: Vec<J> = coverage_rows(policy, coverage)
        .map(|(rule, fallback, target, n)| {
            json!({"rule": rule, "fallback": fallback, "target": target, "cases": n})
        })
        .collect();
    let not_fired: Vec<J> = rows
        .iter()
        .filter(|r| r["cases"] == 0 && !r["target"].as_str().unwrap_or("").starts_with("last"))
        .cloned()
        .collect();
    json!({"policy": path, "cases": coverage.cases, "rules": rows, "not_fired": not_fired})
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
