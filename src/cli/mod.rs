//! The subcommands of the `routec` binary, and what they share.

/// `println!` that does not panic when stdout is closed (`routec eval … | head`): the output
/// is dropped, as nobody reads it.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout().lock(), $($arg)*);
    }};
}

/// `eprintln!` that does not panic when stderr is closed.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr().lock(), $($arg)*);
    }};
}

pub mod check;
pub mod diff;
pub mod eval;
pub mod fmt;
pub mod graph;
pub mod junit;
pub mod serve;
pub mod simulate;
pub mod test;
pub mod watch;
pub mod witness;

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use routec::Prepared;
use routec::compile::Policy;
use routec::diagnostic;
use routec::diagnostic::Diagnostics;
use routec::policy_files::SourceFiles;
use routec::sources::Lookups;

/// Exit codes: 0 clean, 1 errors in a policy (or failed tests), 2 usage or I/O problems.
pub const EXIT_ERRORS: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Human,
    Json,
}

pub fn color_on_stderr() -> bool {
    std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Loads a policy, its data files and its sources for `eval` and `test`: errors are printed
/// and end the command (exit 1; 2 if the policy cannot be read); warnings are printed and do
/// not.
pub fn load_policy(path: &Path) -> Result<(Policy, Lookups), ExitCode> {
    let stderr = std::io::stderr();
    let files = SourceFiles::load(path).map_err(|e| {
        let _ = writeln!(stderr.lock(), "error: {e}");
        ExitCode::from(EXIT_USAGE)
    })?;
    let (prepared, diagnostics) = prepare(&files)?;
    print_diagnostics(&files, &diagnostics);
    prepared
        .map(|p| (p.policy, p.lookups))
        .ok_or(ExitCode::from(EXIT_ERRORS))
}

/// Prepares a policy on a runtime of its own (for commands that have none).
pub fn prepare(files: &SourceFiles) -> Result<(Option<Prepared>, Diagnostics), ExitCode> {
    prepare_with(files, routec::Sources::Verify)
}

pub fn prepare_with(
    files: &SourceFiles,
    sources: routec::Sources,
) -> Result<(Option<Prepared>, Diagnostics), ExitCode> {
    let rt = runtime().map_err(|e| {
        tell!("error: cannot start the runtime: {e}");
        ExitCode::from(EXIT_USAGE)
    })?;
    Ok(rt.block_on(routec::prepare_with(files, sources)))
}

pub fn print_diagnostics(files: &SourceFiles, diagnostics: &Diagnostics) {
    let stderr = std::io::stderr();
    let color = color_on_stderr();
    for d in diagnostics.sorted() {
        let _ = write!(stderr.lock(), "{}", diagnostic::render(files, d, color));
    }
}

/// A runtime for the lookups of one command.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Reads a JSON or YAML file (by its extension) as a JSON value.
pub fn read_document(path: &Path) -> Result<serde_json::Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "cannot read `{}`: {}",
            path.display(),
            e.to_string().to_lowercase()
        )
    })?;
    // Editors on Windows start a file with a byte-order mark; it is no part of the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let yaml = path.extension().is_some_and(|e| e == "yaml" || e == "yml");
    if yaml {
        // YAML 1.2 booleans only (`CallSid: y` is text), and numbers with a leading zero stay
        // text: an unquoted `09845000001` is a phone number, not an integer.
        let mut options = serde_saphyr::Options::default();
        options.strict_booleans = true;
        options.leading_zero_numbers_as_strings = true;
        serde_saphyr::from_str_with_options::<serde_json::Value>(text, options)
            .map_err(|e| routec::diagnostic::render_yaml_error(&e, text, path))
    } else {
        serde_json::from_str(text)
            .map_err(|e| format!("`{}` is not valid JSON: {e}", path.display()))
    }
}
