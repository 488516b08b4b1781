//! Benchmarks of evaluation: nanoseconds per decision for the `rules/` policy (target p50 ≤
//! 200 ns, ≤ 2× the floor), against a hand-written if-chain of the same policy (the floor),
//! and heap allocations per decision (asserted: none); scaling from 10 to
//! 10,000 generated rules (target: 10,000 within 3× of 10); compile time of 10,000 rules
//! (target ≤ 200 ms) and the compiled policy's memory.
//!
//! Run: `cargo bench --bench eval`. `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke);
//! `ROUTEC_BENCH_RULES_ONLY=1` stops after the `rules/` policy, and times each of its cases
//! alone beside the if-chain; `ROUTEC_BENCH_CASE=N` times case N only (to profile it).

mod generate;

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use routec::case::Case;
use routec::compile::Policy;
use routec::policy_files::SourceFiles;

/// Counts live heap bytes, to measure the compiled policy's memory. Bench-only.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
/// Allocations made so far: a decision's count is the difference across it.
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// The one unsafe block of the project: a global allocator must be an `unsafe impl`. It only
// forwards to the system allocator and counts.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn load(files: &SourceFiles) -> Policy {
    let (policy, diagnostics) = routec::load(files);
    policy.unwrap_or_else(|| panic!("{:#?}", diagnostics.errors))
}

fn percentile(sorted: &[u64], p: f64) -> u64 {
    sorted[((sorted.len() - 1) as f64 * p) as usize]
}

/// Per-decision nanoseconds over `cases`, repeated `rounds` times: (p50, p99, mean).
fn measure(mut decide: impl FnMut(&Case), cases: &[Case], rounds: usize) -> (u64, u64, f64) {
    for case in cases.iter().take(1000) {
        decide(case);
    }
    let mut samples = Vec::with_capacity(cases.len() * rounds);
    let start = Instant::now();
    for _ in 0..rounds {
        for case in cases {
            let t = Instant::now();
            decide(case);
            samples.push(t.elapsed().as_nanos() as u64);
        }
    }
    let total = start.elapsed();
    samples.sort_unstable();
    let mean = total.as_nanos() as f64 / samples.len() as f64;
    (percentile(&samples, 0.5), percentile(&samples, 0.99), mean)
}

/// Cases for the `rules/` policy: every case of `rules/tests.yaml`.
fn rules_cases(policy: &Policy) -> Vec<Case> {
    let text = std::fs::read_to_string("rules/tests.yaml").expect("rules/tests.yaml");
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.leading_zero_numbers_as_strings = true;
    let doc: serde_json::Value = serde_saphyr::from_str_with_options(&text, options).expect("yaml");
    doc.as_array()
        .expect("a list of cases")
        .iter()
        .map(|c| routec::case::read(&policy.checked, c, "", &["name", "expect"]).expect("case"))
        .collect()
}

/// Calls for a generated policy: digits, tiers, regions and spends spread over its rules.
fn generated_cases(policy: &Policy, rules: usize, n: usize) -> Vec<Case> {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    (0..n)
        .map(|_| {
            let r = next() as usize;
            let language = ["en", "hi", "l7"][r % 3];
            let severity = ["low", "normal", "high", "critical"][r % 4];
            let doc = serde_json::json!({
                "call": {
                    "CallSid": format!("s{r}"),
                    "CallFrom": format!("+91{}{:07}", 100 + r % 100, r % 10_000_000),
                    "digits": format!("{}", r % (rules + 1)),
                    "CustomField": format!("c{}", r % rules),
                },
                "at": "2026-11-23T10:15:00+05:30",
                "facts": {"caller": {
                    "tier": format!("t{}", r % 10),
                    "language": language,
                    "spend": (r % (rules * 10)) as f64,
                    "severity": severity,
                    "overdue": r.is_multiple_of(5),
                }},
            });
            routec::case::read(&policy.checked, &doc, "", &[]).expect("case")
        })
        .collect()
}

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let rounds = if quick { 1 } else { 20_000 };

    // 1. The default policy, decided with in-memory facts.
    let files = SourceFiles::load(std::path::Path::new("rules")).expect("rules/");
    let policy = load(&files);
    let cases = rules_cases(&policy);
    let at = |c: &Case| c.at.unwrap_or_else(jiff::Timestamp::now);
    let decide = |c: &Case| {
        black_box(routec::eval::eval(
            &policy,
            &c.call,
            &c.facts,
            at(c),
            &c.agents,
        ));
    };
    let (p50, p99, mean) = measure(decide, &cases, rounds);
    println!(
        "rules/ policy ({} cases × {rounds}): p50 {p50} ns, p99 {p99} ns, mean {mean:.0} ns per decision",
        cases.len()
    );
    let (f50, f99, fmean) = measure(
        |c| {
            black_box(if_chain::decide(&policy, c, at(c)));
        },
        &cases,
        rounds,
    );
    println!(
        "hand-written if-chain (the floor):        p50 {f50} ns, p99 {f99} ns, mean {fmean:.0} ns"
    );
    println!(
        "routec / if-chain: {:.2}× at p50, {:.2}× on the mean",
        p50 as f64 / f50.max(1) as f64,
        mean / fmean.max(1.0)
    );
    // Each sample is timed on its own, so both figures carry the clock's own cost: where the
    // clock is dear, a quarter of the if-chain's p50 (docs/performance.md, "Where the time goes").
    let (t50, _, tmean) = measure(
        |c| {
            black_box(c);
        },
        &cases,
        rounds,
    );
    println!("the clock alone (an empty sample):        p50 {t50} ns, mean {tmean:.0} ns");
    let mut allocations = 0;
    let mut allocating = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let before = ALLOCATIONS.load(Ordering::Relaxed);
        decide(c);
        let made = ALLOCATIONS.load(Ordering::Relaxed) - before;
        if made > 0 {
            allocating.push(format!("case {} ({made})", i + 1));
        }
        allocations += made;
    }
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for c in &cases {
        black_box(if_chain::decide(&policy, c, at(c)));
    }
    let floor_allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    println!(
        "heap allocations per decision: routec {:.2}, if-chain {:.2} (over the {} cases)",
        allocations as f64 / cases.len() as f64,
        floor_allocations as f64 / cases.len() as f64,
        cases.len()
    );
    // No heap allocation on the decision path unless a trace is asked for.
    assert!(
        allocating.is_empty(),
        "cases of rules/tests.yaml that allocate: {}",
        allocating.join(", ")
    );

    if std::env::var_os("ROUTEC_BENCH_RULES_ONLY").is_some() {
        // Case by case: which calls cost more than the floor, and by how much.
        let rounds = if quick { 2_000 } else { 200_000 };
        let only: Option<usize> = std::env::var("ROUTEC_BENCH_CASE")
            .ok()
            .and_then(|v| v.parse().ok());
        for (i, c) in cases.iter().enumerate() {
            if only.is_some_and(|n| n != i + 1) {
                continue;
            }
            let one = std::slice::from_ref(c);
            let (routec, _, _) = measure(decide, one, rounds);
            let floor = |c: &Case| {
                black_box(if_chain::decide(&policy, c, at(c)));
            };
            let (if_chain, _, _) = measure(floor, one, rounds);
            println!(
                "case {:>2}: p50 {routec:>4} ns, if-chain {if_chain:>4} ns",
                i + 1
            );
        }
        return;
    }
    // 2. Scaling with the rule count, and compile time and memory.
    println!(
        "\n{:>8} {:>12} {:>12} {:>12} {:>14} {:>12}",
        "rules", "p50 ns", "p99 ns", "mean ns", "compile", "memory"
    );
    let sizes: &[usize] = if quick {
        &[10, 100]
    } else {
        &[10, 100, 1_000, 10_000]
    };
    let mut base_p50 = 0u64;
    for &n in sizes {
        let text = generate::policy(n);
        let files = SourceFiles::single("generated.route", text);
        let (ast, _) = routec::syntax::parse(&files);
        let (checked, _) = routec::check::check(&ast, &files);
        let checked = checked.expect("generated policy checks");
        let mut compile_times = Vec::new();
        let mut memory = 0usize;
        for _ in 0..if quick { 1 } else { 5 } {
            // Counted from before the clone: the compiled policy owns its checked model too.
            let before = LIVE.load(Ordering::Relaxed);
            let c = checked.clone();
            let t = Instant::now();
            let (compiled, _) = routec::compile::compile(c);
            compile_times.push(t.elapsed());
            memory = LIVE.load(Ordering::Relaxed).saturating_sub(before);
            drop(compiled);
        }
        compile_times.sort();
        let compile_time: Duration = compile_times[compile_times.len() / 2];
        let (compiled, _) = routec::compile::compile(checked);
        let cases = generated_cases(&compiled, n, 2_000);
        let rounds = if quick { 1 } else { 200 };
        let (p50, p99, mean) = measure(
            |c| {
                black_box(routec::eval::eval(
                    &compiled,
                    &c.call,
                    &c.facts,
                    at(c),
                    &c.agents,
                ));
            },
            &cases,
            rounds,
        );
        if n == 10 {
            base_p50 = p50;
        }
        println!(
            "{n:>8} {p50:>12} {p99:>12} {mean:>12.0} {:>14?} {:>10} KB   ({:.2}× the 10-rule p50)",
            compile_time,
            memory / 1024,
            p50 as f64 / base_p50.max(1) as f64
        );
    }
}

/// The `rules/` policy written by hand as a Rust if-chain over the same inputs: what a
/// customer's own server would do. It decides the same targets for the same cases, without
/// traces, strategies beyond what the rules need, or a policy to interpret.
mod if_chain {
    use routec::case::Case;
    use routec::check::model::{AgentId, FactsId};
    use routec::compile::Policy;
    use routec::facts::FactValue;

    fn fact(c: &Case, group: usize, field: usize) -> Option<&FactValue> {
        c.facts.get(FactsId::new(group), field)
    }

    fn available(c: &Case, agent: AgentId) -> bool {
        c.agents
            .agents
            .get(agent.index())
            .is_none_or(|s| s.is_available())
    }

    fn numbers(policy: &Policy, c: &Case, members: &[AgentId]) -> Vec<String> {
        members
            .iter()
            .filter(|&&a| available(c, a))
            .map(|&a| policy.checked.agents[a].number.clone())
            .collect()
    }

    pub fn decide(policy: &Policy, c: &Case, at: jiff::Timestamp) -> Vec<String> {
        // Field positions of `facts caller` in rules/policy.route.
        const TIER: usize = 0;
        const LANGUAGE: usize = 1;
        const MANAGER: usize = 2;
        const TICKET_AGENT: usize = 3;
        const SEVERITY: usize = 4;
        const OVERDUE: usize = 5;
        let (caller, vip) = (0, 1);
        let digits = c.call.digits.as_deref();
        let team = |name: &str| {
            let t = policy
                .checked
                .teams
                .iter()
                .find(|t| t.name == name)
                .expect("team");
            numbers(policy, c, &t.members)
        };
        if let (Some(FactValue::Enum(2)), Some(FactValue::Agent(m))) =
            (fact(c, caller, TIER), fact(c, caller, MANAGER))
            && let Some(&a) = policy.agent_by_name.get(m.as_str())
            && available(c, a)
        {
            return vec![policy.checked.agents[a].number.clone()];
        }
        if fact(c, vip, 0).is_some() {
            return team("VIP_DESK");
        }
        if let Some(FactValue::Agent(t)) = fact(c, caller, TICKET_AGENT)
            && let Some(&a) = policy.agent_by_name.get(t.as_str())
        {
            return vec![policy.checked.agents[a].number.clone()];
        }
        let severity = match fact(c, caller, SEVERITY) {
            Some(FactValue::Enum(s)) => Some(*s),
            _ => None,
        };
        if digits == Some("1") && severity.is_some_and(|s| s >= 2) {
            return team("TECH_L2");
        }
        if digits == Some("1") {
            return team("TECH_L1");
        }
        if matches!(digits, Some("2" | "22"))
            || fact(c, caller, OVERDUE) == Some(&FactValue::Bool(true))
        {
            return team("BILLING");
        }
        if digits == Some("3")
            || matches!(fact(c, caller, LANGUAGE), Some(FactValue::Str(l)) if l == "es")
        {
            return team("TECH_L1");
        }
        let open = policy.schedules[0].is_open(at);
        let from = c
            .call
            .from
            .as_ref()
            .filter(|p| p.e164)
            .map(|p| p.value.as_str());
        let region = from
            .and_then(|f| policy.maps[0].longest(f))
            .map(String::as_str);
        if region == Some("bangalore") && open {
            return team("BANGALORE");
        }
        if region == Some("mumbai") && open {
            return team("MUMBAI");
        }
        if !open {
            return Vec::new();
        }
        team("GENERAL")
    }
}
