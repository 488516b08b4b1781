//! HTTP sources against a CRM on a real socket: answers, failures, deadlines, the cache,
//! shared lookups and the circuit breaker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use routec::case::Case;
use routec::sources::{Lookups, SourceData};
use serde_json::json;

use crate::crm::{Crm, Reply};
use crate::test::{Test, runtime};

fn policy(crm: &Crm, settings: &str) -> routec::compile::Policy {
    let text = format!(
        r#"
enum Tier {{ standard, premium, enterprise }}
source crm http "{}/customers?phone={{call.from}}" {{ {settings} }}
facts caller from crm {{ tier: Tier  spend: number  "ticket.severity": string }}
rule vip: when caller.tier == enterprise -> queue vip
otherwise -> queue general
"#,
        crm.url()
    );
    let files = routec::policy_files::SourceFiles::single("crm.route", text);
    let (policy, diagnostics) = routec::load(&files);
    policy.unwrap_or_else(|| panic!("{:#?}", diagnostics.errors))
}

fn case(policy: &routec::compile::Policy, from: &str) -> Case {
    routec::case::read(
        &policy.checked,
        &json!({"call": {"CallFrom": from}}),
        "",
        &[],
    )
    .unwrap()
}

/// Looks one call up; the facts' `caller` group (or `None`) and the degraded reasons.
fn lookup(
    lookups: &Lookups,
    policy: &routec::compile::Policy,
    from: &str,
    budget: Duration,
) -> (Option<Vec<Option<routec::facts::FactValue>>>, Vec<String>) {
    let rt = runtime();
    let mut c = case(policy, from);
    rt.block_on(lookups.lookup(
        &policy.checked,
        &c.call,
        &mut c.facts,
        &c.given,
        Instant::now() + budget,
    ));
    (
        c.facts.groups[0].as_deref().map(<[_]>::to_vec),
        c.facts.degraded.iter().map(ToString::to_string).collect(),
    )
}

fn lookups(policy: &routec::compile::Policy) -> Lookups {
    Lookups::new(&policy.checked, SourceData::default())
}

#[test]
fn an_answer_fills_the_facts_and_a_nested_key_reads_a_dotted_field() {
    let crm = Crm::start(|target, _| {
        assert_eq!(target, "/customers?phone=%2B919845012345");
        Reply::json(
            r#"{"tier": "enterprise", "spend": 12.5, "ticket": {"severity": "high"}, "extra": 1}"#,
        )
    });
    let p = policy(&crm, "timeout 500ms");
    let (caller, degraded) = lookup(&lookups(&p), &p, "09845012345", Duration::from_secs(1));
    use routec::facts::FactValue::*;
    assert_eq!(
        caller,
        Some(vec![
            Some(Enum(2)),
            Some(Num(12.5)),
            Some(Str("high".into()))
        ])
    );
    assert!(degraded.is_empty());
}

#[test]
fn not_found_is_an_unknown_caller_without_a_reason() {
    let crm = Crm::start(|_, _| Reply::status(404));
    let p = policy(&crm, "");
    assert_eq!(
        lookup(&lookups(&p), &p, "09845012345", Duration::from_secs(1)),
        (None, vec![])
    );
}

#[test]
fn failures_leave_facts_missing_with_a_reason() {
    let cases = [
        (Reply::status(500), "source crm: HTTP 500"),
        (
            Reply::json("{\"tier\": "),
            "source crm: answer is not valid JSON",
        ),
        (
            Reply::json("[1, 2]"),
            "source crm: answer is not a JSON object",
        ),
    ];
    for (reply, reason) in cases {
        let reply = Arc::new(reply);
        let r = Arc::clone(&reply);
        let crm = Crm::start(move |_, _| Reply {
            status: r.status,
            body: r.body.clone(),
            delay: r.delay,
        });
        let p = policy(&crm, "");
        let (caller, degraded) = lookup(&lookups(&p), &p, "09845012345", Duration::from_secs(1));
        assert_eq!(caller, None);
        assert_eq!(degraded, [reason]);
    }
    let p = routec::load(&routec::policy_files::SourceFiles::single(
        "down.route",
        "source crm http \"http://127.0.0.1:9/c?p={call.from}\"\nfacts caller from crm { tier: string }\nrule a: when caller.tier == \"x\" -> queue a\notherwise -> queue b\n",
    ))
    .0
    .unwrap();
    let (_, degraded) = lookup(&lookups(&p), &p, "09845012345", Duration::from_secs(1));
    assert_eq!(degraded, ["source crm: unreachable"]);
}

#[test]
fn a_value_of_the_wrong_type_is_missing_with_a_reason() {
    let crm = Crm::start(|_, _| Reply::json(r#"{"tier": "gold", "spend": "lots"}"#));
    let p = policy(&crm, "");
    let (caller, degraded) = lookup(&lookups(&p), &p, "09845012345", Duration::from_secs(1));
    assert_eq!(caller, Some(vec![None, None, None]));
    assert_eq!(
        degraded,
        [
            "source crm: `caller.tier` is not a `Tier`",
            "source crm: `caller.spend` is not a number"
        ]
    );
}

#[test]
fn a_slow_crm_times_out_at_the_source_timeout() {
    let crm =
        Crm::start(|_, _| Reply::json(r#"{"tier": "enterprise"}"#).after(Duration::from_secs(3)));
    let p = policy(&crm, "timeout 200ms");
    let start = Instant::now();
    let (caller, degraded) = lookup(&lookups(&p), &p, "09845012345", Duration::from_secs(2));
    let took = start.elapsed();
    assert_eq!(
        (caller, degraded),
        (None, vec!["source crm: timeout".to_string()])
    );
    assert!(took < Duration::from_millis(1500), "took {took:?}");
}

#[test]
fn a_hanging_crm_cannot_hold_the_call_past_its_deadline() {
    let crm = Crm::start(|_, _| Reply::json("{}").after(Duration::from_secs(10)));
    let p = policy(&crm, "timeout 5s");
    let start = Instant::now();
    let (_, degraded) = lookup(&lookups(&p), &p, "09845012345", Duration::from_millis(300));
    let took = start.elapsed();
    assert_eq!(degraded, ["source crm: timeout"]);
    assert!(took < Duration::from_millis(1000), "took {took:?}");
}

#[test]
fn answers_and_not_found_are_cached_until_they_expire() {
    let crm = Crm::start(|target, _| {
        if target.ends_with("%2B919845000404") {
            Reply::status(404)
        } else {
            Reply::json(r#"{"tier": "premium"}"#)
        }
    });
    let p = policy(&crm, "cache 300ms");
    let l = lookups(&p);
    for _ in 0..3 {
        lookup(&l, &p, "09845012345", Duration::from_secs(1));
        lookup(&l, &p, "09845000404", Duration::from_secs(1));
    }
    assert_eq!(
        crm.requests(),
        2,
        "one request per caller, the rest from the cache"
    );
    std::thread::sleep(Duration::from_millis(400));
    lookup(&l, &p, "09845012345", Duration::from_secs(1));
    assert_eq!(crm.requests(), 3, "an expired entry is asked again");
    // Without `cache`, every lookup asks.
    let p = policy(&crm, "");
    let l = lookups(&p);
    lookup(&l, &p, "09845012345", Duration::from_secs(1));
    lookup(&l, &p, "09845012345", Duration::from_secs(1));
    assert_eq!(crm.requests(), 5);
}

#[test]
fn concurrent_lookups_of_one_caller_make_one_request() {
    let crm =
        Crm::start(|_, _| Reply::json(r#"{"tier": "premium"}"#).after(Duration::from_millis(300)));
    let p = Arc::new(policy(&crm, "cache 5m"));
    let l = Arc::new(lookups(&p));
    let rt = runtime();
    let results = rt.block_on(async {
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..50 {
            let (p, l) = (Arc::clone(&p), Arc::clone(&l));
            tasks.spawn(async move {
                let mut c = case(&p, "09845012345");
                l.lookup(
                    &p.checked,
                    &c.call,
                    &mut c.facts,
                    &c.given,
                    Instant::now() + Duration::from_secs(2),
                )
                .await;
                c.facts.groups[0].is_some()
            });
        }
        let mut found = 0;
        while let Some(r) = tasks.join_next().await {
            found += usize::from(r.unwrap());
        }
        found
    });
    assert_eq!(results, 50);
    assert_eq!(crm.requests(), 1);
}

#[test]
fn a_failing_crm_is_left_alone_while_the_breaker_is_open() {
    let crm = Crm::start(|_, _| Reply::status(503));
    let p = policy(&crm, "");
    let l = lookups(&p);
    for _ in 0..5 {
        let (_, degraded) = lookup(&l, &p, "09845012345", Duration::from_secs(1));
        assert_eq!(degraded, ["source crm: HTTP 503"]);
    }
    let start = Instant::now();
    let (_, degraded) = lookup(&l, &p, "09845012345", Duration::from_secs(1));
    assert_eq!(degraded, ["source crm: circuit open"]);
    assert!(start.elapsed() < Duration::from_millis(100), "fails fast");
    assert_eq!(crm.requests(), 5, "no request while open");
}

#[test]
fn eval_looks_up_the_crm_and_sends_secret_headers_from_the_environment() {
    let crm = Crm::start(|_, head| {
        if head.contains("authorization: Bearer s3cret")
            || head.contains("Authorization: Bearer s3cret")
        {
            Reply::json(r#"{"tier": "enterprise"}"#)
        } else {
            Reply::status(401)
        }
    });
    let policy = format!(
        "enum Tier {{ standard, enterprise }}\nsource crm http \"{}/c?p={{call.from}}\" {{ header \"Authorization\" = env(\"ROUTEC_TEST_CRM_TOKEN\") }}\nfacts caller from crm {{ tier: Tier }}\nrule vip: when caller.tier == enterprise -> queue vip\notherwise -> queue general\n",
        crm.url()
    );
    let case = r#"{"call": {"CallFrom": "09845012345"}}"#;
    let output = Test::new()
        .file("p.route", &policy)
        .file("case.json", case)
        .env("ROUTEC_TEST_CRM_TOKEN", "Bearer s3cret")
        .args(["eval", "p.route", "--input", "case.json"])
        .success();
    let d: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(d["rule"], "vip");
    assert!(!String::from_utf8_lossy(&output.stderr).contains("s3cret"));
    // Without the secret, the lookup fails and says which variable is missing.
    let output = Test::new()
        .file("p.route", &policy)
        .file("case.json", case)
        .args(["eval", "p.route", "--input", "case.json"])
        .success();
    let d: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(d["rule"], "otherwise");
    assert_eq!(
        d["degraded"],
        json!(["source crm: environment variable `ROUTEC_TEST_CRM_TOKEN` is not set"])
    );
}

/// A CRM that accepts connections and never answers: the calls the deadline cuts short open
/// the breaker, and from then on every call is answered at once with `otherwise`, saying why.
#[test]
fn a_crm_that_never_answers_opens_the_breaker_by_the_deadline() {
    // Accepts, reads nothing, answers nothing; keeps the connections open.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().flatten() {
            held.push(stream);
        }
    });
    let dir = tempfile::tempdir().unwrap();
    // The source's own timeout is far past the budget: only the deadline ends a lookup.
    let policy = format!(
        "enum Tier {{ standard, enterprise }}\n\
         source crm http \"http://{addr}/c?p={{call.from}}\" {{ timeout 60s }}\n\
         facts caller from crm {{ tier: Tier }}\n\
         rule vip: when caller.tier == enterprise -> queue vip\n\
         otherwise -> queue general\n"
    );
    std::fs::write(dir.path().join("p.route"), policy).unwrap();
    let server = crate::serve::Server::start_with(
        dir.path(),
        &["p.route", "--budget-ms", "150"],
        &[("ROUTEC_LOG_DECISIONS", "false")],
    );
    let decide = |i: usize| {
        let (status, body) = server.get(&format!(
            "/v1/decide?CallSid=h{i}&CallFrom=0984501234{}",
            i % 10
        ));
        assert_eq!(status, 200, "{body}");
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };
    for i in 0..5 {
        let d = decide(i);
        assert_eq!(d["degraded"], json!(["source crm: timeout"]), "call {i}");
    }
    let started = Instant::now();
    let mut took = Vec::new();
    for i in 5..205 {
        let call = Instant::now();
        let d = decide(i);
        took.push(call.elapsed());
        assert_eq!(d["queue"], "general");
        assert_eq!(
            d["degraded"],
            json!(["source crm: circuit open"]),
            "call {i}"
        );
    }
    // Two hundred calls without waiting on the CRM: far under one budget of 150 ms each.
    assert!(
        started.elapsed() < Duration::from_millis(200 * 150),
        "{:?}",
        started.elapsed()
    );
    took.sort();
    eprintln!(
        "breaker open, 200 calls through the binary: p50 {:?}, p99 {:?}",
        took[100], took[197]
    );
}
