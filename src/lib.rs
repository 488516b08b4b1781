//! routec: a call-routing policy language for Exotel contact centres.
#![deny(unsafe_code)]

pub mod bounded;
pub mod call;
pub mod case;
pub mod check;
pub mod compile;
pub mod degraded;
pub mod diagnostic;
pub mod diff;
pub mod eval;
pub mod exotel;
pub mod facts;
pub mod formatter;
pub mod graph;
pub mod histogram;
pub mod json_text;
pub mod lsp;
pub mod phone;
pub mod policy_files;
pub mod server;
pub mod simulate;
pub mod sources;
pub mod state;
pub mod syntax;
pub mod vocabulary;
pub mod witness;

use check::model::CheckedPolicy;
use compile::Policy;
use diagnostic::Diagnostics;
use policy_files::SourceFiles;

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

/// A policy ready to serve: compiled, its data files read, its sources ready to ask.
pub struct Prepared {
    pub policy: Policy,
    pub lookups: sources::Lookups,
}

/// Loads a policy with everything it reads: parses, checks and compiles it, reads its data
/// files, and checks its SQL sources' queries where their databases can be reached. The
/// prepared policy is returned only when there are no errors.
pub async fn prepare(files: &SourceFiles) -> (Option<Prepared>, Diagnostics) {
    prepare_with(files, Sources::Verify).await
}

/// Whether preparing a policy may reach its SQL sources' databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sources {
    /// Check each SQL query against its database, where the database can be reached.
    Verify,
    /// Touch no network (`routec check --offline`): queries are not checked, and nothing is
    /// said about databases that cannot be reached.
    Offline,
}

pub async fn prepare_with(
    files: &SourceFiles,
    sources: Sources,
) -> (Option<Prepared>, Diagnostics) {
    let (checked, mut diagnostics) = check_files(files);
    let Some(checked) = checked else {
        return (None, diagnostics);
    };
    // Data files are read before compiling: the compiled policy is never changed after.
    let (data, file_data, more) = sources::load_files(&checked);
    diagnostics.extend(more);
    let (policy, warnings) = compile::compile_with(checked, &file_data);
    diagnostics.extend(warnings);
    let lookups = sources::Lookups::new(&policy.checked, data);
    if sources == Sources::Verify {
        diagnostics.extend(lookups.verify(&policy.checked).await);
    }
    if diagnostics.has_errors() {
        return (None, diagnostics);
    }
    (Some(Prepared { policy, lookups }), diagnostics)
}
