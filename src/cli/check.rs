//! `routec check`: parses, checks and compiles policies; prints every diagnostic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use routec::diagnostic::{self, JsonDiagnostic, Severity};
use routec::source::SourceFiles;

use super::{EXIT_ERRORS, EXIT_USAGE, Format, color_on_stderr};

pub fn run(paths: &[PathBuf], format: Format, deny_warnings: bool) -> ExitCode {
    let color = color_on_stderr();
    let mut errors = 0;
    let mut warnings = 0;
    let mut io_failed = false;
    let mut json = Vec::new();
    let stderr = std::io::stderr();
    for path in paths {
        let files = match SourceFiles::load(path) {
            Ok(files) => files,
            Err(e) => {
                let _ = writeln!(stderr.lock(), "error: {e}");
                io_failed = true;
                continue;
            }
        };
        // The data files and databases a policy reads are checked with it.
        let diagnostics = match super::prepare(&files) {
            Ok((_, diagnostics)) => diagnostics,
            Err(code) => return code,
        };
        for d in diagnostics.sorted() {
            match d.severity() {
                Severity::Error => errors += 1,
                Severity::Warning => warnings += 1,
            }
            match format {
                Format::Human => {
                    let _ = write!(stderr.lock(), "{}", diagnostic::render(&files, d, color));
                }
                Format::Json => json.push(JsonDiagnostic::new(&files, d)),
            }
        }
    }
    match format {
        Format::Json => {
            let out = serde_json::json!({
                "diagnostics": json,
                "errors": errors,
                "warnings": warnings,
            });
            say!("{out:#}");
        }
        Format::Human => {
            let plural =
                |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
            let summary = if errors == 0 && warnings == 0 {
                format!(
                    "checked {}: no problems",
                    plural(paths.len(), "policy").replace("policys", "policies")
                )
            } else {
                format!(
                    "{}, {}",
                    plural(errors, "error"),
                    plural(warnings, "warning")
                )
            };
            let _ = writeln!(stderr.lock(), "{summary}");
        }
    }
    if io_failed {
        ExitCode::from(EXIT_USAGE)
    } else if errors > 0 || (deny_warnings && warnings > 0) {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}
