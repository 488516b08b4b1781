//! `routec simulate POLICY --calls FILE… [--against OLD] [--format human|json]`: replays call
//! logs and prints what each rule, team and agent took.

use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use routec::compile::Policy;
use routec::simulate::log::LoggedCall;
use routec::simulate::replay::Replay;
use routec::simulate::{Report, Side, simulate};
use routec::sources::Lookups;

use super::{EXIT_USAGE, Format, load_policy};

/// What `routec simulate` is asked, besides the policy and the logs.
pub struct Options<'a> {
    pub against: Option<&'a Path>,
    /// Ask the policy's sources for the facts a log does not give.
    pub lookup: bool,
    pub format: Format,
}

pub fn run(policy: &Path, calls: &[PathBuf], options: Options<'_>) -> ExitCode {
    let Options {
        against,
        lookup,
        format,
    } = options;
    let Ok((policy, lookups)) = load_policy(policy) else {
        return ExitCode::from(EXIT_USAGE);
    };
    let old = match against.map(load_policy) {
        Some(Ok(old)) => Some(old),
        Some(Err(code)) => return code,
        None => None,
    };
    let runtime = match lookup.then(super::runtime).transpose() {
        Ok(r) => r,
        Err(e) => {
            tell!("error: cannot start the lookups: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut logs = Vec::new();
    for path in calls {
        match std::fs::read_to_string(path) {
            Ok(text) => logs.push((path.display().to_string(), text)),
            Err(e) => {
                tell!("error: cannot read `{}`: {e}", path.display());
                return ExitCode::from(EXIT_USAGE);
            }
        }
    }
    // A bar on a terminal for logs long enough to wait for (about a second to read).
    let total: u64 = logs.iter().map(|(_, t)| t.len() as u64).sum();
    let passes = if old.is_some() { 2 } else { 1 };
    let bar = (std::io::stderr().is_terminal() && total > 16 << 20).then(|| {
        let bar = indicatif::ProgressBar::new(total * passes);
        bar.set_style(
            indicatif::ProgressStyle::with_template("reading {bar:40} {bytes}/{total_bytes} {eta}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    // Bytes read in this pass; the old policy's pass starts again from 0 after the first.
    let (pass_start, last) = (std::cell::Cell::new(0u64), std::cell::Cell::new(0u64));
    let progress = |bytes: u64| {
        if let Some(bar) = &bar {
            if bytes < last.get() {
                pass_start.set(pass_start.get() + total);
            }
            last.set(bytes);
            bar.set_position(pass_start.get() + bytes);
        }
    };
    // Each call is looked up within the budget a server would give it; answers are cached
    // as live, so a caller who calls again is not asked for twice.
    let look = |policy: &Policy, lookups: &Lookups, call: &mut LoggedCall| {
        if let Some(runtime) = &runtime {
            let deadline = std::time::Instant::now() + super::eval::LOOKUP_DEADLINE;
            let (checked, facts) = (&policy.checked, &mut call.facts);
            runtime.block_on(lookups.lookup(checked, &call.call, facts, &call.given, deadline));
        }
    };
    let new_lookup = |call: &mut LoggedCall| look(&policy, &lookups, call);
    let old_lookup = |call: &mut LoggedCall| {
        if let Some((old, lookups)) = &old {
            look(old, lookups, call);
        }
    };
    let new = Side {
        policy: &policy,
        lookup: lookup.then_some(&new_lookup as &dyn Fn(&mut LoggedCall)),
    };
    let old_side = old.as_ref().map(|(old, _)| Side {
        policy: old,
        lookup: lookup.then_some(&old_lookup as &dyn Fn(&mut LoggedCall)),
    });
    let result = simulate(new, old_side, &logs, &progress);
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let report = match result {
        Ok(report) => report,
        Err(message) => {
            tell!("error: {message}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    for bad in &report.skipped {
        tell!("warning: {}:{}: skipped: {}", bad.file, bad.line, bad.why);
    }
    match format {
        Format::Json => say!("{:#}", report.to_json()),
        Format::Human => say!("{}", human(&report).trim_end()),
    }
    ExitCode::SUCCESS
}

fn pct(n: u64, of: u64) -> String {
    if of == 0 {
        "-".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / of as f64)
    }
}

fn human(report: &Report) -> String {
    let mut out = String::new();
    let new = &report.policy;
    let old = report.against.as_ref().map(|(r, _, _)| r);
    let _ = writeln!(
        out,
        "{} calls replayed, {} lines skipped",
        report.calls,
        report.skipped.len()
    );
    // Rules: the old policy's next to the new one's, by name.
    let _ = writeln!(
        out,
        "\n{:<20} {:>8} {:>7} {:>9}",
        "rule", "calls", "share", "no agent"
    );
    let row = |out: &mut String, label: &str, r: &Replay, i: usize| {
        let (_, calls, no_agent) = &r.rules[i];
        let _ = writeln!(
            out,
            "{label:<20} {calls:>8} {:>7} {no_agent:>9}",
            pct(*calls, r.calls)
        );
    };
    for (i, (name, _, _)) in new.rules.iter().enumerate() {
        row(&mut out, name, new, i);
        if let Some(old) = old
            && let Some(j) = old.rules.iter().position(|(n, _, _)| n == name)
        {
            row(&mut out, "  (old)", old, j);
        }
    }
    if let Some(old) = old {
        for (j, (name, _, _)) in old.rules.iter().enumerate() {
            if !new.rules.iter().any(|(n, _, _)| n == name) {
                row(&mut out, &format!("{name} (old only)"), old, j);
            }
        }
    }
    let _ = writeln!(out, "\n{:<20} {:>8} {:>7}", "team", "calls", "share");
    for (name, calls) in &new.teams {
        let _ = writeln!(out, "{name:<20} {calls:>8} {:>7}", pct(*calls, new.calls));
    }
    let _ = writeln!(
        out,
        "\n{:<20} {:>8} {:>12} {:>12}",
        "agent", "answered", "talked", "utilisation"
    );
    for (name, answered, talked) in &new.agents {
        let _ = writeln!(
            out,
            "{name:<20} {answered:>8} {:>11}m {:>11.1}%",
            talked / 60,
            *talked as f64 * 100.0 / new.span.max(1) as f64
        );
    }
    let _ = writeln!(out, "\ncalls per hour");
    let most = new.hours.iter().copied().max().unwrap_or(0).max(1);
    for (hour, n) in new.hours.iter().enumerate() {
        let bar = "█".repeat((*n * 40 / most) as usize);
        let _ = writeln!(out, "{}", format!("{hour:02}:00 {n:>7} {bar}").trim_end());
    }
    if let Some((_, changed, cells)) = &report.against {
        let _ = writeln!(
            out,
            "\n{changed} calls ({}) go to another rule than with the old policy",
            pct(*changed, report.calls)
        );
        for cell in cells.iter().filter(|c| c["old"] != c["new"]) {
            let examples: Vec<&str> = cell["examples"]
                .as_array()
                .map(|e| e.iter().take(5).filter_map(|v| v.as_str()).collect())
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {} → {}: {} calls (e.g. {})",
                cell["old"].as_str().unwrap_or(""),
                cell["new"].as_str().unwrap_or(""),
                cell["calls"],
                examples.join(", ")
            );
        }
    }
    out
}
