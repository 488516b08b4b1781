//! `routec check`: parses, checks and compiles policies; prints every diagnostic.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use routec::diagnostic::{self, JsonDiagnostic, Severity};
use routec::policy_files::SourceFiles;

use super::{EXIT_ERRORS, EXIT_USAGE, Format, color_on_stderr};

pub fn run(paths: &[PathBuf], format: Format, deny_warnings: bool, offline: bool) -> ExitCode {
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
                // Counted and reported like any error: never "no problems".
                errors += 1;
                io_failed = true;
                match format {
                    Format::Human => {
                        let _ = writeln!(stderr.lock(), "error: {e}");
                    }
                    Format::Json => json.push(JsonDiagnostic::io(path, &e.to_string())),
                }
                continue;
            }
        };
        let several = several_policies(path);
        // The data files and databases a policy reads are checked with it.
        let sources = if offline {
            routec::Sources::Offline
        } else {
            routec::Sources::Verify
        };
        let diagnostics = match super::prepare_with(&files, sources) {
            Ok((_, diagnostics)) => diagnostics,
            Err(code) => return code,
        };
        let had_errors = errors;
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
        if errors > had_errors
            && format == Format::Human
            && let Some(policies) = several
        {
            let dir = path.display().to_string();
            let dir = dir.trim_end_matches('/');
            let _ = writeln!(
                stderr.lock(),
                "help: `{dir}/` holds {} policies ({}), read here as one; \
                 check each on its own with `routec check {dir}/*/`",
                policies.len(),
                policies.join(", ")
            );
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

/// The subdirectories of `path` that each hold a policy, when `path` holds no `.route` file of
/// its own and two or more of them do: `examples/` rather than `examples/vip/`.
fn several_policies(path: &std::path::Path) -> Option<Vec<String>> {
    let is_route = |p: &std::path::Path| p.extension().is_some_and(|e| e == "route");
    let entries: Vec<PathBuf> = std::fs::read_dir(path)
        .ok()?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    if entries.iter().any(|p| p.is_file() && is_route(p)) {
        return None;
    }
    let mut policies: Vec<String> = entries
        .iter()
        .filter(|p| p.is_dir())
        .filter(|dir| {
            std::fs::read_dir(dir)
                .map(|mut d| d.any(|e| e.is_ok_and(|e| is_route(&e.path()))))
                .unwrap_or(false)
        })
        .filter_map(|dir| Some(format!("`{}`", dir.file_name()?.to_string_lossy())))
        .collect();
    policies.sort();
    (policies.len() >= 2).then_some(policies)
}
