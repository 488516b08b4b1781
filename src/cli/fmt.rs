//! `routec fmt`: rewrites policies in the canonical layout, checks that they are in it
//! (`--check`), shows what would change (`--diff`), or formats stdin to stdout (`-`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use routec::formatter::{Refusal, format};
use routec::policy_files::SourceFiles;

use super::{EXIT_ERRORS, EXIT_USAGE, print_diagnostics};

#[derive(Clone, Copy)]
pub struct Mode {
    /// List the files that are not formatted and exit 1; write nothing.
    pub check: bool,
    /// Print a unified diff of what would change; write nothing.
    pub diff: bool,
}

pub fn run(paths: &[PathBuf], mode: Mode) -> ExitCode {
    if paths.iter().any(|p| p.as_os_str() == "-") {
        if paths.len() > 1 {
            tell!("error: `-` (stdin) cannot be formatted with other paths");
            return ExitCode::from(EXIT_USAGE);
        }
        return stdin();
    }
    let mut files = Vec::new();
    for path in paths {
        if let Err(e) = collect(path, &mut files) {
            tell!("error: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    }
    let mut failed = false;
    let mut unformatted = 0;
    for file in &files {
        let name = file.display().to_string();
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(e) => {
                tell!(
                    "error: cannot read `{name}`: {}",
                    e.to_string().to_lowercase()
                );
                return ExitCode::from(EXIT_USAGE);
            }
        };
        // Not text: reported like a syntax error, where the first bad byte is.
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => {
                let files = SourceFiles::single(&name, e.into_bytes());
                print_diagnostics(&files, &routec::syntax::parse(&files).1);
                tell!("error: `{name}` has syntax errors; it was not formatted");
                failed = true;
                continue;
            }
        };
        let formatted = match format_or_say(&name, &text) {
            Some(formatted) => formatted,
            None => {
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted += 1;
        if mode.diff {
            print_diff(&name, &text, &formatted);
        }
        if mode.check {
            say!("{name}");
        } else if !mode.diff
            && let Err(e) = std::fs::write(file, &formatted)
        {
            tell!(
                "error: cannot write `{name}`: {}",
                e.to_string().to_lowercase()
            );
            return ExitCode::from(EXIT_USAGE);
        }
    }
    if failed || (mode.check && unformatted > 0) {
        ExitCode::from(EXIT_ERRORS)
    } else {
        ExitCode::SUCCESS
    }
}

/// Formats stdin to stdout; on errors, writes nothing to stdout.
fn stdin() -> ExitCode {
    let mut text = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut text) {
        tell!("error: cannot read stdin: {}", e.to_string().to_lowercase());
        return ExitCode::from(EXIT_USAGE);
    }
    match format_or_say("<stdin>", &text) {
        Some(formatted) => {
            let _ = std::io::stdout().write_all(formatted.as_bytes());
            ExitCode::SUCCESS
        }
        None => ExitCode::from(EXIT_ERRORS),
    }
}

/// The formatted text, or `None` after saying why there is none.
fn format_or_say(name: &str, text: &str) -> Option<String> {
    match format(name, text) {
        Ok(formatted) => Some(formatted),
        Err(Refusal::SyntaxErrors) => {
            let files = SourceFiles::single(name, text.as_bytes().to_vec());
            let (_, diagnostics) = routec::syntax::parse(&files);
            print_diagnostics(&files, &diagnostics);
            tell!("error: `{name}` has syntax errors; it was not formatted");
            None
        }
        Err(Refusal::Changed(why)) => {
            tell!(
                "error: routec fmt found a bug in itself and left `{name}` as it was: {why}\n\
                 help: please report it with the file"
            );
            None
        }
    }
}

fn print_diff(name: &str, old: &str, new: &str) {
    let diff = similar::TextDiff::from_lines(old, new);
    let text = diff
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string();
    say!("{}", text.trim_end_matches('\n'));
}

/// `path` itself if it is a file, else every `.route` file under it, in name order (build
/// output and hidden directories skipped).
fn collect(path: &Path, files: &mut Vec<PathBuf>) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| {
        format!(
            "cannot read `{}`: {}",
            path.display(),
            e.to_string().to_lowercase()
        )
    })?;
    if meta.is_file() {
        files.push(path.to_path_buf());
        return Ok(());
    }
    let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?
        .filter_map(|e| Some(e.ok()?.path()))
        .collect();
    entries.sort();
    for entry in entries {
        let name = entry
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if entry.is_dir() {
            if !name.starts_with('.') && name != "target" {
                collect(&entry, files)?;
            }
        } else if entry.extension().is_some_and(|e| e == "route") {
            files.push(entry);
        }
    }
    Ok(())
}
