//! `routec graph POLICY [--format dot|mermaid]`: prints the policy's decision structure.

use std::path::Path;
use std::process::ExitCode;

use routec::graph::{Format, graph};

use super::load_policy;

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

pub fn run(policy: &Path, format: GraphFormat) -> ExitCode {
    let policy = match load_policy(policy) {
        Ok((policy, _)) => policy,
        Err(code) => return code,
    };
    let format = match format {
        GraphFormat::Dot => Format::Dot,
        GraphFormat::Mermaid => Format::Mermaid,
    };
    say!("{}", graph(&policy.checked, format).trim_end());
    ExitCode::SUCCESS
}
