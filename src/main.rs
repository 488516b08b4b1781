//! The `routec` command line: parses arguments and runs one subcommand.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use routec::diagnostic::{self, JsonDiagnostic, Severity};
use routec::source::SourceFiles;

#[derive(Parser)]
#[command(
    name = "routec",
    version,
    about = "Call-routing policies for Exotel, checked and served"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check policies for errors and warnings.
    Check {
        /// Policy files or directories (a directory is one policy of all its `.route` files).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// How to print diagnostics.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
        /// Fail (exit 1) on warnings too.
        #[arg(long)]
        deny_warnings: bool,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
}

/// Exit codes: 0 clean, 1 errors in a policy, 2 usage or I/O problems.
const EXIT_ERRORS: u8 = 1;
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { EXIT_USAGE } else { 0 });
        }
    };
    match cli.command {
        Command::Check {
            paths,
            format,
            deny_warnings,
        } => check(&paths, format, deny_warnings),
    }
}

fn color_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn check(paths: &[PathBuf], format: Format, deny_warnings: bool) -> ExitCode {
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
        let (_, diagnostics) = routec::check_files(&files);
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
            println!("{out:#}");
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
