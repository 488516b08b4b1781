//! `routec fmt` against the real binary: in place, `--check`, `--diff`, stdin, syntax errors,
//! and every shipped policy already formatted.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use crate::test::{binary, repo};

const MESSY: &str = "team  T [ a,b ]   strategy round_robin   # the desk\nagent a \"+919800000001\"\nagent bb \"+919800000002\"\n\n\n\notherwise->team T\n";
const TIDY: &str = "team T [a, b] strategy round_robin # the desk\nagent a  \"+919800000001\"\nagent bb \"+919800000002\"\n\notherwise -> team T\n";

fn routec(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(binary())
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[test]
fn rewrites_files_in_place_and_check_lists_what_would_change() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("policy")).unwrap();
    let messy = dir.path().join("policy/a.route");
    let tidy = dir.path().join("policy/b.route");
    std::fs::write(&messy, MESSY).unwrap();
    std::fs::write(&tidy, TIDY).unwrap();
    let out = routec(dir.path(), &["fmt", "--check", "policy"]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "policy/a.route\n");
    assert_eq!(
        std::fs::read_to_string(&messy).unwrap(),
        MESSY,
        "--check writes nothing"
    );
    let out = routec(dir.path(), &["fmt", "policy"]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(std::fs::read_to_string(&messy).unwrap(), TIDY);
    assert_eq!(std::fs::read_to_string(&tidy).unwrap(), TIDY);
    let out = routec(dir.path(), &["fmt", "--check", "policy/a.route"]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn diff_prints_a_unified_diff_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), MESSY).unwrap();
    let out = routec(dir.path(), &["fmt", "--diff", "p.route"]);
    assert!(out.status.success());
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.starts_with("--- a/p.route\n+++ b/p.route\n@@ "),
        "{diff}"
    );
    assert!(
        diff.contains("-otherwise->team T\n+otherwise -> team T"),
        "{diff}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("p.route")).unwrap(),
        MESSY
    );
}

#[test]
fn dash_formats_stdin_to_stdout() {
    let mut child = Command::new(binary())
        .args(["fmt", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(MESSY.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), TIDY);
}

#[test]
fn a_file_with_syntax_errors_is_left_alone_with_its_diagnostics() {
    let dir = tempfile::tempdir().unwrap();
    let broken = "team T [a]\nrule a when call.digits = \"1\" -> team T\n";
    std::fs::write(dir.path().join("p.route"), broken).unwrap();
    let out = routec(dir.path(), &["fmt", "p.route"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("route::syntax"), "{stderr}");
    assert!(
        stderr.contains("`p.route` has syntax errors; it was not formatted"),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("p.route")).unwrap(),
        broken
    );
}

#[test]
fn every_shipped_policy_is_formatted() {
    let out = Command::new(binary())
        .args(["fmt", "--check", "rules", "examples"])
        .current_dir(repo())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "run `routec fmt rules examples`; these are not formatted:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
