//! Benchmark: the change tools on generated policies: `routec graph` of 10,000 rules (target
//! 1 s) and `routec test --generate` of 10,000 rules (target 5 s).
//!
//! Run: `cargo bench --bench tools`. `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke).

mod generate;

use std::time::Instant;

use routec::policy_files::SourceFiles;

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let sizes: &[usize] = if quick { &[100] } else { &[1_000, 10_000] };
    println!(
        "{:>8} {:>12} {:>12} {:>10} {:>10}",
        "rules", "graph", "witnesses", "cases", "without"
    );
    for &n in sizes {
        let files = SourceFiles::single("generated.route", generate::policy(n));
        let (policy, diagnostics) = routec::load(&files);
        let policy = policy.unwrap_or_else(|| panic!("{:?}", diagnostics.errors.first()));
        let start = Instant::now();
        let dot = routec::graph::graph(&policy.checked, routec::graph::Format::Dot);
        let graph = start.elapsed();
        assert!(dot.len() > n * 20);
        let start = Instant::now();
        let (found, missing) = routec::witness::witnesses(&policy);
        let witnesses = start.elapsed();
        println!(
            "{n:>8} {graph:>12?} {witnesses:>12?} {:>10} {:>10}",
            found.len(),
            missing.len()
        );
    }
}
