//! routec: a call-routing policy language for Exotel contact centres.
#![deny(unsafe_code)]

pub mod check;
pub mod diagnostic;
pub mod phone;
pub mod source;
pub mod syntax;

use check::model::CheckedPolicy;
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
