//! `routec eval`: decides one call from a case file; the decision JSON on stdout.

use std::io::{Read, Write};
use std::path::Path;
use std::process::ExitCode;

use super::{EXIT_USAGE, load_policy, read_document};

/// How long `routec eval` waits for sources: the server's default budget.
pub const LOOKUP_DEADLINE: std::time::Duration = std::time::Duration::from_millis(1000);

pub fn run(policy_path: &Path, input: &Path, explain: bool, offline: bool) -> ExitCode {
    let (policy, lookups) = match load_policy(policy_path) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let stderr = std::io::stderr();
    let document = if input == Path::new("-") {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            let _ = writeln!(stderr.lock(), "error: cannot read stdin: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        serde_json::from_str(text).map_err(|e| format!("stdin is not valid JSON: {e}"))
    } else {
        read_document(input)
    };
    let document = match document {
        Ok(d) => d,
        Err(e) => {
            let _ = writeln!(stderr.lock(), "error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let mut case = match routec::case::read(&policy.checked, &document, "", &[]) {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(stderr.lock(), "error: {}: {e}", input.display());
            return ExitCode::from(EXIT_USAGE);
        }
    };
    // Facts the case does not give are looked up, unless offline, within the deadline a
    // server would have.
    if !offline {
        let runtime = match super::runtime() {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(stderr.lock(), "error: cannot start the lookups: {e}");
                return ExitCode::from(EXIT_USAGE);
            }
        };
        let deadline = std::time::Instant::now() + LOOKUP_DEADLINE;
        let (call, given) = (&case.call, &case.given);
        runtime.block_on(lookups.lookup(&policy.checked, call, &mut case.facts, given, deadline));
    }
    let now = case.at.unwrap_or_else(jiff::Timestamp::now);
    let decision =
        routec::eval::eval_explained(&policy, &case.call, &case.facts, now, &case.agents);
    if explain {
        let _ = write!(stderr.lock(), "{}", decision.explain(&policy));
    }
    let json = decision.to_json(&policy);
    say!("{json:#}");
    ExitCode::SUCCESS
}
