//! `routec graph` against the real binary: the DOT of every shipped policy renders with
//! Graphviz, and the Mermaid names every rule and target.

use std::io::Write;
use std::process::{Command, Stdio};

use crate::test::{binary, repo, shipped_policies};

fn graph(policy: &std::path::Path, format: &str) -> String {
    let out = Command::new(binary())
        .args(["graph", "--format", format])
        .arg(policy)
        .output()
        .unwrap();
    assert!(out.status.success(), "{policy:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn dot_of_every_shipped_policy_renders_with_graphviz() {
    let dot_found = Command::new("dot").arg("-V").output().is_ok();
    if !dot_found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "graphviz (`dot`) is missing under CI"
        );
        eprintln!("SKIPPED graph rendering: `dot` is not installed (apt-get install graphviz)");
    }
    for policy in shipped_policies() {
        let text = graph(&policy, "dot");
        assert!(text.starts_with("digraph "), "{text}");
        assert!(text.contains("label=\"otherwise\""), "{text}");
        if !dot_found {
            continue;
        }
        let mut child = Command::new("dot")
            .arg("-Tsvg")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success() && out.stderr.is_empty(),
            "{policy:?}: {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("<svg"));
    }
}

#[test]
fn mermaid_names_every_rule_and_fallback() {
    let text = graph(&repo().join("rules"), "mermaid");
    assert!(text.starts_with("flowchart TD\n"), "{text}");
    for expected in [
        "r0[\"vip_manager<br/>caller.tier == enterprise and caller.account_manager exists\"]",
        "r0 -- yes --> r0t0",
        "r0t1[[\"team VIP_DESK (ring_all)\"]]",
        "r0t0 -. unavailable .-> r0t1",
        "r0 -- no --> r1",
        "billing<br/>call.digits in [#quot;2#quot;, #quot;22#quot;] or caller.payment_overdue",
        "[[\"agents where speaks #quot;es#quot; using longest_idle\"]]",
        "region (map by prefix of call.from): #quot;bangalore#quot;, #quot;mumbai#quot;",
    ] {
        assert!(text.contains(expected), "{expected} in\n{text}");
    }
}
