//! What an SRE relies on, against the real binary: metrics read by a Prometheus parser, JSON
//! logs, reloads in every layout files are deployed in, `check --offline`, the bundled time
//! zones, and the generated completions and manual page.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::crm::{Crm, Reply};
use crate::serve::Server;
use crate::test::{Test, binary};

const TOKEN: &str = "t0ken";

fn policy_with_crm(crm: &Crm) -> String {
    format!(
        "policy \"ops\"\nsource crm http \"{}/c?p={{call.from}}\" {{ timeout 200ms cache 1m }}\n\
         facts caller from crm {{ tier: string }}\n\
         agent ravi \"+919800000001\"\nteam T [ravi]\n\
         rule vip: when caller.tier == \"gold\" -> team T\notherwise -> queue general\n",
        crm.url()
    )
}

/// A sample as Prometheus's own Python client parses it.
#[derive(Debug, serde::Deserialize)]
struct Sample {
    labels: std::collections::BTreeMap<String, String>,
    value: f64,
}

/// Samples by name, and each family's type.
#[derive(serde::Deserialize)]
struct Parsed {
    samples: BTreeMap<String, Vec<Sample>>,
    types: BTreeMap<String, String>,
}

/// Parses the exposition with `prometheus_client.parser` (the Prometheus project's Python
/// client): samples by name, with the type of each family. `None` (said loudly) when Python
/// or the package is missing, which fails under `CI=true` (`.ci/run` installs it).
fn parse_exposition(text: &str) -> Option<Parsed> {
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.parser import text_string_to_metric_families
samples, types = {}, {}
for family in text_string_to_metric_families(sys.stdin.read()):
    types[family.name] = family.type
    for s in family.samples:
        samples.setdefault(s.name, []).append({"labels": s.labels, "value": s.value})
print(json.dumps({"samples": samples, "types": types}))
"#;
    let python = std::env::var("ROUTEC_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let child = Command::new(&python)
        .args(["-c", SCRIPT])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let output = child.and_then(|mut child| {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes())?;
        child.wait_with_output()
    });
    let problem = match output {
        Ok(out) if out.status.success() => {
            return Some(serde_json::from_slice(&out.stdout).unwrap());
        }
        Ok(out) => String::from_utf8_lossy(&out.stderr).into_owned(),
        Err(e) => e.to_string(),
    };
    // A parse error is a failure, whatever the environment.
    assert!(
        !problem.contains("ValueError"),
        "the exposition does not parse: {problem}\n{text}"
    );
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "prometheus_client (PyPI) is missing under CI: {problem}"
    );
    eprintln!(
        "SKIPPED metrics parse: `{python}` has no prometheus_client (pip install prometheus_client): {problem}"
    );
    None
}

/// Every histogram's buckets, in the order of their bounds, never fall, and its `+Inf` bucket
/// is its count: what Prometheus's quantiles assume, and what a text parser does not check.
/// Read from the text itself, so that it holds without Python.
fn assert_histograms_cumulative(text: &str) {
    // (series: the name and labels but `le`) -> (bound, value) in the text's order.
    let mut buckets: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let Some((series, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let value: f64 = value.parse().unwrap();
        if let Some((name, labels)) = series.split_once("_bucket{") {
            let (le, rest): (Vec<&str>, Vec<&str>) = labels
                .trim_end_matches('}')
                .split(',')
                .partition(|l| l.starts_with("le="));
            let bound = match le[0].trim_start_matches("le=").trim_matches('"') {
                "+Inf" => f64::INFINITY,
                bound => bound.parse().unwrap(),
            };
            let key = format!("{name}{{{}}}", rest.join(","));
            buckets.entry(key).or_default().push((bound, value));
        } else if let Some((name, labels)) = series.split_once("_count{") {
            counts.insert(format!("{name}{{{labels}"), value);
        } else if let Some(name) = series.strip_suffix("_count") {
            counts.insert(format!("{name}{{}}"), value);
        }
    }
    assert!(!buckets.is_empty(), "no histogram in\n{text}");
    for (series, each) in &buckets {
        assert!(
            each.windows(2).all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "`{series}`'s buckets fall: {each:?}"
        );
        assert_eq!(
            each.last().map(|&(bound, n)| (bound, Some(n))),
            Some((f64::INFINITY, counts.get(series).copied())),
            "`{series}`'s last bucket is not `+Inf` at its count"
        );
    }
}

#[test]
fn metrics_parse_as_prometheus_text_with_every_family() {
    let crm = Crm::start(|target, _| {
        if target.contains("9845000001") {
            Reply::json(r#"{"tier": "gold"}"#)
        } else {
            Reply::status(500)
        }
    });
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), policy_with_crm(&crm)).unwrap();
    let server = Server::start_with(
        dir.path(),
        &["p.route"],
        &[
            ("ROUTEC_ADMIN_TOKEN", TOKEN),
            ("ROUTEC_EXOTEL_TOKEN", "s3cret"),
        ],
    );
    for (sid, from) in [("m1", "09845000001"), ("m2", "09845000002")] {
        let (status, _) = server.get(&format!(
            "/exotel/s3cret/connect?CallSid={sid}&CallFrom={from}"
        ));
        assert_eq!(status, 200);
    }
    // A broken policy, reloaded through the API: refused, and counted.
    std::fs::write(dir.path().join("p.route"), "otherwise -> team NOPE\n").unwrap();
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    let (status, _) = server.post("/v1/reload", &auth);
    assert_eq!(status, 422, "a refused reload");
    let (status, text) = server.get("/metrics");
    assert_eq!(status, 200);
    assert!(!text.contains("s3cret"), "a secret in a label:\n{text}");
    assert_histograms_cumulative(&text);
    let Some(Parsed { samples: f, types }) = parse_exposition(&text) else {
        return;
    };
    for (family, kind) in [
        ("routec_http_request_duration_seconds", "histogram"),
        ("routec_decisions", "counter"),
        ("routec_degraded", "counter"),
        ("routec_reloads", "counter"),
        ("routec_policy_info", "gauge"),
        ("routec_build_info", "gauge"),
        ("routec_source_lookup_duration_seconds", "histogram"),
        ("routec_source_cache_entries", "gauge"),
        ("routec_source_breaker_open", "gauge"),
        ("routec_state_pending_writes", "gauge"),
        ("routec_state_store_up", "gauge"),
        ("routec_decision_log_dropped", "counter"),
        ("process_cpu_seconds", "counter"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_open_fds", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ] {
        assert_eq!(
            types.get(family).map(String::as_str),
            Some(kind),
            "`{family}` in\n{text}"
        );
    }
    let label = |s: &Sample, k: &str| s.labels.get(k).cloned().unwrap_or_default();
    let connects: Vec<_> = f["routec_http_request_duration_seconds_count"]
        .iter()
        .filter(|s| label(s, "route") == "/exotel/{secret}/connect")
        .collect();
    assert_eq!(connects.len(), 1, "{text}");
    assert_eq!(label(connects[0], "method"), "GET");
    assert_eq!(label(connects[0], "status"), "200");
    assert_eq!(connects[0].value, 2.0);
    let decided = |rule: &str, target: &str| {
        f["routec_decisions_total"]
            .iter()
            .find(|s| label(s, "rule") == rule && label(s, "target") == target)
            .map(|s| s.value)
    };
    assert_eq!(decided("vip", "team"), Some(1.0), "{text}");
    assert_eq!(decided("otherwise", "queue"), Some(1.0), "{text}");
    let degraded: Vec<_> = f["routec_degraded_total"]
        .iter()
        .map(|s| (label(s, "reason"), s.value))
        .collect();
    assert_eq!(degraded, [("source crm".to_string(), 1.0)]);
    let reloads = |outcome: &str, trigger: &str| {
        f["routec_reloads_total"]
            .iter()
            .find(|s| label(s, "outcome") == outcome && label(s, "trigger") == trigger)
            .map(|s| s.value)
    };
    assert_eq!(reloads("failed", "api"), Some(1.0), "{text}");
    assert_eq!(reloads("ok", "api"), Some(0.0), "{text}");
    let info = &f["routec_policy_info"][0];
    assert_eq!(label(info, "policy"), "ops");
    assert_eq!(label(info, "version").len(), 16);
    let outcomes: Vec<String> = f["routec_source_lookup_duration_seconds_count"]
        .iter()
        .map(|s| label(s, "outcome"))
        .collect();
    assert!(outcomes.contains(&"found".to_string()), "{outcomes:?}");
    assert!(outcomes.contains(&"failed".to_string()), "{outcomes:?}");
    assert_eq!(f["routec_source_cache_entries"][0].value, 1.0);
    assert_eq!(f["routec_source_breaker_open"][0].value, 0.0);
    assert_eq!(f["routec_state_store_up"][0].value, 1.0);
}

#[test]
fn json_logs_are_one_object_a_line_and_a_refused_reload_is_one_event() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), "otherwise -> queue general\n").unwrap();
    let server = Server::start_with(
        dir.path(),
        &["p.route"],
        &[
            ("ROUTEC_LOG_FORMAT", "json"),
            ("ROUTEC_WATCH", "off"),
            ("ROUTEC_ADMIN_TOKEN", TOKEN),
        ],
    );
    std::fs::write(dir.path().join("p.route"), "otherwise -> team NOPE\n").unwrap();
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    assert_eq!(server.post("/v1/reload", &auth).0, 422);
    let lines = wait_for(|| {
        let lines = server.stderr_since_start();
        lines
            .iter()
            .any(|l| l.contains("reload failed"))
            .then_some(lines)
    });
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let refused: Vec<_> = events
        .iter()
        .filter(|e| e["message"] == "reload failed, still serving the previous version")
        .collect();
    assert_eq!(refused.len(), 1, "{lines:#?}");
    let event = refused[0];
    assert_eq!(event["level"], "error");
    assert_eq!(event["trigger"], "api");
    assert_eq!(event["errors"], 1);
    assert!(event["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    let diagnostic = &event["diagnostics"][0];
    assert_eq!(diagnostic["code"], "route::unknown-team", "{event}");
    assert_eq!(diagnostic["line"], 1);
}

#[test]
fn text_logs_keep_the_rendered_report_on_stderr() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.route"), "otherwise -> queue general\n").unwrap();
    let server = Server::start_with(
        dir.path(),
        &["p.route"],
        &[("ROUTEC_WATCH", "off"), ("ROUTEC_ADMIN_TOKEN", TOKEN)],
    );
    std::fs::write(dir.path().join("p.route"), "otherwise -> team NOPE\n").unwrap();
    let auth = format!("Authorization: Bearer {TOKEN}\r\n");
    assert_eq!(server.post("/v1/reload", &auth).0, 422);
    let text = wait_for(|| {
        let text = server.stderr_since_start().join("\n");
        text.contains("unknown team `NOPE`").then_some(text)
    });
    assert!(text.contains("ERROR"), "{text}");
    assert!(text.contains("reload failed"), "{text}");
}

/// Polls `ready` for up to ten seconds.
fn wait_for<T>(mut ready: impl FnMut() -> Option<T>) -> T {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(t) = ready() {
            return t;
        }
        assert!(Instant::now() < until, "timed out");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The policy name a server reports, after a change, once it has reloaded.
fn waits_for_policy(server: &Server, name: &str) {
    wait_for(|| {
        let (_, body) = server.get("/v1/policy");
        body.contains(&format!("\"policy\":\"{name}\""))
            .then_some(())
    });
}

fn policy_named(name: &str) -> String {
    format!("policy \"{name}\"\notherwise -> queue general\n")
}

fn start(dir: &Path, policy: &str, envs: &[(&str, &str)]) -> Server {
    let mut envs = envs.to_vec();
    envs.push(("ROUTEC_ADMIN_TOKEN", TOKEN));
    Server::start_with(dir, &[policy], &envs)
}

#[test]
fn reloads_after_an_edit_in_place_and_an_atomic_rename() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.route");
    std::fs::write(&file, policy_named("one")).unwrap();
    let server = start(dir.path(), "p.route", &[]);
    waits_for_policy(&server, "one");
    // In place: the same inode, rewritten.
    std::fs::write(&file, policy_named("two")).unwrap();
    waits_for_policy(&server, "two");
    // Atomically: written aside, renamed over.
    let aside = dir.path().join("p.route.tmp");
    std::fs::write(&aside, policy_named("three")).unwrap();
    std::fs::rename(&aside, &file).unwrap();
    waits_for_policy(&server, "three");
}

#[test]
fn reloads_after_a_git_checkout() {
    let dir = tempfile::tempdir().unwrap();
    let git = |args: &[&str]| {
        let ok = Command::new("git")
            .args([
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@t",
                "-c",
                "init.defaultBranch=main",
            ])
            .args(args)
            .current_dir(dir.path())
            .output()
            .expect("git runs");
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stderr)
        );
    };
    std::fs::create_dir(dir.path().join("rules")).unwrap();
    let file = dir.path().join("rules/p.route");
    git(&["init", "-q"]);
    std::fs::write(&file, policy_named("old")).unwrap();
    git(&["add", "."]);
    git(&["commit", "-qm", "old"]);
    std::fs::write(&file, policy_named("new")).unwrap();
    git(&["commit", "-qam", "new"]);
    let server = start(dir.path(), "rules", &[]);
    waits_for_policy(&server, "new");
    git(&["checkout", "-q", "HEAD~1"]);
    waits_for_policy(&server, "old");
}

/// A Kubernetes ConfigMap volume: files are links into `..data`, itself a link to a
/// timestamped directory; an update writes a new directory and renames a new `..data` over.
#[cfg(unix)]
fn configmap(dir: &Path, stamp: &str, policy: &str) {
    use std::os::unix::fs::symlink;
    let data = dir.join(stamp);
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("p.route"), policy).unwrap();
    let tmp = dir.join("..data_tmp");
    symlink(stamp, &tmp).unwrap();
    std::fs::rename(&tmp, dir.join("..data")).unwrap();
    if !dir.join("p.route").exists() {
        symlink("..data/p.route", dir.join("p.route")).unwrap();
    }
}

#[cfg(unix)]
#[test]
fn reloads_after_a_configmap_swaps_its_data_link() {
    for watch in ["events", "poll"] {
        let dir = tempfile::tempdir().unwrap();
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).unwrap();
        configmap(&rules, "..2026_11_30_10_00_00.1", &policy_named("first"));
        let server = start(
            dir.path(),
            "rules",
            &[("ROUTEC_WATCH", watch), ("ROUTEC_WATCH_INTERVAL_MS", "200")],
        );
        waits_for_policy(&server, "first");
        configmap(&rules, "..2026_11_30_10_05_00.2", &policy_named("second"));
        waits_for_policy(&server, "second");
    }
}

#[test]
fn watch_poll_reloads_without_file_system_events() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("p.route");
    std::fs::write(&file, policy_named("one")).unwrap();
    let server = start(
        dir.path(),
        "p.route",
        &[
            ("ROUTEC_WATCH", "poll"),
            ("ROUTEC_WATCH_INTERVAL_MS", "200"),
        ],
    );
    std::fs::write(&file, policy_named("polled")).unwrap();
    waits_for_policy(&server, "polled");
    let (_, metrics) = server.get("/metrics");
    assert!(
        metrics.contains("routec_reloads_total{outcome=\"ok\",trigger=\"poll\"} 1"),
        "{metrics}"
    );
}

#[test]
fn check_offline_touches_no_database() {
    let policy = "source db sql \"postgres://nobody@127.0.0.1:9/none\" { query \"select tier from c where phone = $1\" }\n\
                  facts caller from db { tier: string }\n\
                  rule a: when caller.tier == \"x\" -> queue a\notherwise -> queue b\n";
    Test::new()
        .file("p.route", policy)
        .args(["check", "--deny-warnings", "p.route"])
        .status(1)
        .stderr_contains("1 warning")
        .run();
    Test::new()
        .file("p.route", policy)
        .args(["check", "--offline", "--deny-warnings", "p.route"])
        .stderr_contains("no problems")
        .success();
}

#[test]
fn time_zones_come_with_routec() {
    let empty = tempfile::tempdir().unwrap();
    Test::new()
        .file(
            "p.route",
            "timezone \"Asia/Kolkata\"\nschedule open { mon-fri 09:00-18:00 timezone \"America/New_York\" }\n\
             rule day: when open -> queue day\notherwise -> queue night\n",
        )
        .env("TZDIR", &empty.path().display().to_string())
        .args(["check", "p.route"])
        .stderr_contains("no problems")
        .success();
}

#[test]
fn completions_and_the_manual_page_are_generated() {
    for shell in ["bash", "zsh", "fish"] {
        let out = Command::new(binary())
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("serve") && text.contains("check"),
            "{shell}: {text}"
        );
    }
    let out = Command::new(binary()).arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8_lossy(&out.stdout);
    assert!(page.contains(".TH routec 1"), "{page}");
    assert!(page.contains("serve"), "{page}");
}
