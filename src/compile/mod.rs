//! Compile: checked policy in; immutable [`Policy`] out (rule dispatch index, prefix tries,
//! weekly schedule windows) plus the unreachable-rule warnings.

mod analysis;
mod index;
mod schedule;
mod trie;

use std::collections::HashMap;

pub use index::{Anchor, DispatchKey, RuleIndex, Subject};
pub use schedule::CompiledSchedule;
pub use trie::PrefixTrie;

use crate::check::model::{AgentId, CheckedPolicy, RuleDef};
use crate::diagnostic::Diagnostics;

/// A policy ready to evaluate calls: built once per (re)load, then shared read-only.
#[derive(Debug)]
pub struct Policy {
    pub checked: CheckedPolicy,
    pub index: RuleIndex,
    pub schedules: Vec<CompiledSchedule>,
    /// One trie per map, from E.164 prefix to the map's value.
    pub maps: Vec<PrefixTrie<String>>,
    pub agent_by_name: HashMap<String, AgentId>,
    pub agent_by_number: HashMap<String, AgentId>,
}

impl Policy {
    pub fn rules(&self) -> &[RuleDef] {
        &self.checked.rules
    }
}

/// Compiles a checked policy. The diagnostics are warnings (unreachable rules).
pub fn compile(checked: CheckedPolicy) -> (Policy, Diagnostics) {
    let schedules = checked
        .schedules
        .iter()
        .map(|s| CompiledSchedule::new(s, &checked.timezone))
        .collect();
    let maps = checked
        .maps
        .iter()
        .map(|m| {
            let mut trie = PrefixTrie::default();
            for (prefix, value) in &m.entries {
                trie.insert(prefix, value.clone());
            }
            trie
        })
        .collect();
    let agent_by_name = checked
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.name.clone(), i))
        .collect();
    let agent_by_number = checked
        .agents
        .iter()
        .enumerate()
        .map(|(i, a)| (a.number.clone(), i))
        .collect();
    let index = RuleIndex::build(&checked);
    let warnings = analysis::unreachable_rules(&checked);
    let policy = Policy {
        checked,
        index,
        schedules,
        maps,
        agent_by_name,
        agent_by_number,
    };
    (policy, warnings)
}
