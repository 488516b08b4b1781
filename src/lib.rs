//! routec: a call-routing policy language for Exotel contact centres.
#![deny(unsafe_code)]

pub mod case;
pub mod check;
pub mod compile;
pub mod diagnostic;
pub mod eval;
pub mod exotel;
pub mod facts;
pub mod phone;
pub mod source;
pub mod sources;
pub mod state;
pub mod syntax;

use check::model::CheckedPolicy;
use compile::Policy;
use diagnostic::Diagnostics;
use source::SourceFiles;

/// Parses and checks a policy's files. Checking is skipped when a file does not parse, since
/// names declared in a broken item would show up as a cascade of unknown names.
pub fn check_files(files: &SourceFiles) -> (Option<CheckedPolicy>, Diagnostics) {
    let (ast, diagnostics) = syntax::parse(files);
    if diagnostics.has_errors() {
        return (None, diagnostics);
    }
    let (checked, mut more) = check::check(&ast, files);
    more.extend(diagnostics);
    (checked, more)
}

/// Parses, checks and compiles a policy: the compiled policy when there are no errors, and
/// every error and warning (the compiler adds unreachable-rule warnings).
pub fn load(files: &SourceFiles) -> (Option<Policy>, Diagnostics) {
    let (checked, mut diagnostics) = check_files(files);
    let Some(checked) = checked else {
        return (None, diagnostics);
    };
    let (policy, warnings) = compile::compile(checked);
    diagnostics.extend(warnings);
    (Some(policy), diagnostics)
}
