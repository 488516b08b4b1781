//! `routec diff OLD NEW [--format human|json]`: which calls two versions of a policy route
//! differently; exit 0 equivalent, 1 different, 2 error.

use std::path::Path;
use std::process::ExitCode;

use routec::diff::{Report, diff};

use super::{EXIT_ERRORS, EXIT_USAGE, Format, load_policy};

pub fn run(old: &Path, new: &Path, format: Format) -> ExitCode {
    let (Ok((old_policy, _)), Ok((new_policy, _))) = (load_policy(old), load_policy(new)) else {
        return ExitCode::from(EXIT_USAGE);
    };
    let report = diff(&old_policy, &new_policy);
    match format {
        Format::Json => say!("{:#}", report.to_json()),
        Format::Human => say!("{}", human(&report).trim_end()),
    }
    if report.equivalent {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_ERRORS)
    }
}

fn human(report: &Report) -> String {
    let how = if report.approximate {
        format!(
            "approximate: {} calls tried, not every combination of the values the conditions test",
            report.sampled
        )
    } else {
        format!(
            "{} calls tried: every combination of the values the conditions test",
            report.sampled
        )
    };
    let mut out = match report.changes.len() {
        0 => format!("no call routes differently ({how})\n"),
        1 => format!("1 class of calls routes differently ({how}):\n"),
        n => format!("{n} classes of calls route differently ({how}):\n"),
    };
    for (i, c) in report.changes.iter().enumerate() {
        out.push_str(&format!(
            "\n{}. {}  ({} of the calls tried)\n   old: rule `{}` → {}\n   new: rule `{}` → {}\n   example: {}\n",
            i + 1,
            c.calls,
            c.count,
            c.old.rule,
            c.old.target,
            c.new.rule,
            c.new.target,
            c.example
        ));
    }
    if !report.renamed.is_empty() {
        out.push_str("\nrenamed, routing unchanged:\n");
        for (old, new) in &report.renamed {
            out.push_str(&format!("  `{old}` → `{new}`\n"));
        }
    }
    out
}
