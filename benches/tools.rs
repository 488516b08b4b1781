//! Benchmark: the change tools on generated policies: `routec graph` of 10,000 rules (target
//! 1 s), `routec test --generate` of 10,000 rules (target 5 s), and `routec diff` of two
//! 1,000-rule policies, one rule's target changed (target 2 s); and `routec simulate`'s
//! replay of the sample day (`examples/calls-day.csv`) on `rules/`, in calls per second on one
//! core (target 1,000,000).
//!
//! Run: `cargo bench --bench tools`. `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke).

mod generate;

use std::time::Instant;

use routec::policy_files::SourceFiles;

/// Replays the sample day through `rules/` `rounds` times; calls per second.
fn replay_speed(rounds: usize) {
    let files = SourceFiles::load(std::path::Path::new("rules")).expect("rules/");
    let (policy, diagnostics) = routec::load(&files);
    let policy = policy.unwrap_or_else(|| panic!("{:?}", diagnostics.errors.first()));
    let text = std::fs::read_to_string("examples/calls-day.csv").expect("the sample day");
    let start = Instant::now();
    let (calls, bad) = routec::simulate::log::read_csv(&policy.checked, "day.csv", &text, &|_| {})
        .expect("it reads");
    let read = start.elapsed();
    assert!(bad.is_empty());
    let refs: Vec<_> = calls.iter().collect();
    let start = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(routec::simulate::replay::replay(&policy, &refs));
    }
    let elapsed = start.elapsed();
    let per_second = (calls.len() * rounds) as f64 / elapsed.as_secs_f64();
    println!(
        "simulate: {} calls read in {read:?}; replayed {rounds}× at {per_second:.0} calls/s ({:?} per call)",
        calls.len(),
        elapsed / (calls.len() * rounds) as u32
    );
}

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    replay_speed(if quick { 1 } else { 200 });
    let sizes: &[usize] = if quick { &[100] } else { &[1_000, 10_000] };
    println!(
        "{:>8} {:>12} {:>12} {:>10} {:>10} {:>12} {:>8}",
        "rules", "graph", "witnesses", "cases", "without", "diff", "changes"
    );
    for &n in sizes {
        let text = generate::policy(n);
        let files = SourceFiles::single("generated.route", text.clone());
        let (policy, diagnostics) = routec::load(&files);
        let policy = policy.unwrap_or_else(|| panic!("{:?}", diagnostics.errors.first()));
        let start = Instant::now();
        let dot = routec::graph::graph(&policy.checked, routec::graph::Format::Dot);
        let graph = start.elapsed();
        assert!(dot.len() > n * 20);
        let start = Instant::now();
        let (found, missing) = routec::witness::witnesses(&policy);
        let witnesses = start.elapsed();
        // Diff: one rule in the middle sent elsewhere (up to 1,000 rules: the target).
        let (diff, changes) = if n <= 1_000 {
            let middle = format!("rule r{}: ", n / 2);
            let at = text.find(&middle).expect("a middle rule");
            let line_end = at + text[at..].find('\n').unwrap_or(0);
            let mut edited = text.clone();
            edited.replace_range(
                at..line_end,
                &format!("{middle}when call.digits == \"{}\" -> flow \"new\"", n / 2),
            );
            let files = SourceFiles::single("edited.route", edited);
            let (other, _) = routec::load(&files);
            let other = other.expect("the edited policy compiles");
            let start = Instant::now();
            let report = routec::diff::diff(&policy, &other);
            (
                format!("{:?}", start.elapsed()),
                report.changes.len().to_string(),
            )
        } else {
            ("-".into(), "-".into())
        };
        println!(
            "{n:>8} {graph:>12?} {witnesses:>12?} {:>10} {:>10} {diff:>12} {changes:>8}",
            found.len(),
            missing.len()
        );
    }
}
