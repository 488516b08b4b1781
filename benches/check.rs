//! Benchmark: parse and check a generated 10,000-rule policy (target: under 300 ms).
//!
//! Run: `cargo bench --bench check`. `ROUTEC_BENCH_QUICK=1` runs one small round (CI smoke).

mod generate;

use std::time::{Duration, Instant};

use routec::policy_files::SourceFiles;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let quick = std::env::var_os("ROUTEC_BENCH_QUICK").is_some();
    let sizes: &[usize] = if quick {
        &[100]
    } else {
        &[10, 100, 1_000, 10_000]
    };
    let rounds = if quick { 1 } else { 15 };
    println!(
        "{:>8} {:>10} {:>12} {:>12} {:>12}",
        "rules", "bytes", "parse", "check", "total"
    );
    for &n in sizes {
        let text = generate::policy(n);
        let files = SourceFiles::single("generated.route", text.clone());
        let mut parse = Vec::new();
        let mut check = Vec::new();
        let mut total = Vec::new();
        for _ in 0..rounds {
            let start = Instant::now();
            let (ast, diagnostics) = routec::syntax::parse(&files);
            let parsed = Instant::now();
            let (checked, more) = routec::check::check(&ast, &files);
            let done = Instant::now();
            assert!(
                !diagnostics.has_errors() && !more.has_errors(),
                "{:?}",
                more.errors.first()
            );
            assert!(checked.is_some());
            parse.push(parsed - start);
            check.push(done - parsed);
            total.push(done - start);
        }
        println!(
            "{n:>8} {:>10} {:>12?} {:>12?} {:>12?}",
            text.len(),
            median(parse),
            median(check),
            median(total)
        );
    }
}
