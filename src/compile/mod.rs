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

use crate::check::model::{AgentFilter, AgentId, CheckedPolicy, RuleDef, Target};
use crate::diagnostic::Diagnostics;

/// What a policy's data files add to it, read before compiling: map entries (by map, E.164
/// prefix and value) and closed days (by schedule).
#[derive(Debug, Clone, Default)]
pub struct FileData {
    pub map_entries: Vec<Vec<(String, String)>>,
    pub closed_days: Vec<Vec<jiff::civil::Date>>,
}

/// A policy ready to evaluate calls: built once per (re)load, then shared read-only; nothing
/// changes it after [`compile`].
#[derive(Debug)]
pub struct Policy {
    pub checked: CheckedPolicy,
    pub index: RuleIndex,
    pub schedules: Vec<CompiledSchedule>,
    /// One trie per map, from E.164 prefix to the map's value.
    pub maps: Vec<PrefixTrie<String>>,
    pub agent_by_name: HashMap<String, AgentId>,
    pub agent_by_number: HashMap<String, AgentId>,
    /// The agents each `agents where` target with a static filter picks, by rule index
    /// (`otherwise` last) and target position: the same for every call, so computed once.
    static_agents: Vec<Vec<Option<Vec<AgentId>>>>,
}

impl Policy {
    pub fn rules(&self) -> &[RuleDef] {
        &self.checked.rules
    }

    /// The precomputed agents of an `agents where` target of rule `rule` (the index of a
    /// rule, or the rule count for `otherwise`), when its filter is static.
    pub fn static_agents(&self, rule: usize, position: usize) -> Option<&[AgentId]> {
        self.static_agents.get(rule)?.get(position)?.as_deref()
    }
}

/// Agents passing a static filter, in declaration order.
fn static_members(policy: &CheckedPolicy, filter: &AgentFilter) -> Vec<AgentId> {
    fn passes(policy: &CheckedPolicy, filter: &AgentFilter, agent: AgentId) -> bool {
        if let Some(m) = filter.leaf_matches(policy, agent) {
            return m;
        }
        match filter {
            AgentFilter::Not(inner) => !passes(policy, inner, agent),
            AgentFilter::And(items) => items.iter().all(|f| passes(policy, f, agent)),
            AgentFilter::Or(items) => items.iter().any(|f| passes(policy, f, agent)),
            _ => false,
        }
    }
    AgentId::all(policy.agents.len())
        .filter(|&a| passes(policy, filter, a))
        .collect()
}

/// Compiles a checked policy. The diagnostics are warnings (unreachable rules).
pub fn compile(checked: CheckedPolicy) -> (Policy, Diagnostics) {
    compile_with(checked, &FileData::default())
}

/// [`compile`], with what the policy's data files hold. File entries never override the
/// policy's own.
pub fn compile_with(checked: CheckedPolicy, data: &FileData) -> (Policy, Diagnostics) {
    let none = Vec::new();
    let schedules = checked
        .schedules
        .iter()
        .enumerate()
        .map(|(id, s)| {
            let mut schedule = CompiledSchedule::new(s, &checked.timezone);
            schedule.add_closed(data.closed_days.get(id).unwrap_or(&none).iter().copied());
            schedule
        })
        .collect();
    let no_entries = Vec::new();
    let maps = checked
        .maps
        .iter()
        .enumerate()
        .map(|(id, m)| {
            let mut trie = PrefixTrie::default();
            for (prefix, value) in &m.entries {
                trie.insert(prefix, value.clone());
            }
            for (prefix, value) in data.map_entries.get(id).unwrap_or(&no_entries) {
                trie.entry(prefix, || value.clone());
            }
            trie
        })
        .collect();
    let agent_by_name = checked
        .agents
        .iter()
        .zip(AgentId::all(checked.agents.len()))
        .map(|(a, id)| (a.name.clone(), id))
        .collect();
    let agent_by_number = checked
        .agents
        .iter()
        .zip(AgentId::all(checked.agents.len()))
        .map(|(a, id)| (a.number.clone(), id))
        .collect();
    // Rules often repeat a filter: compute each distinct one once (compared as filters).
    let mut members_of: Vec<(&AgentFilter, Vec<AgentId>)> = Vec::new();
    let static_agents = checked
        .rules
        .iter()
        .chain(std::iter::once(&checked.otherwise))
        .map(|rule| {
            rule.targets
                .iter()
                .map(|target| match target {
                    Target::Agents { filter, .. } if filter.is_static() => {
                        let known = members_of.iter().find(|(f, _)| *f == filter);
                        let members = match known {
                            Some((_, members)) => members.clone(),
                            None => {
                                let members = static_members(&checked, filter);
                                members_of.push((filter, members.clone()));
                                members
                            }
                        };
                        Some(members)
                    }
                    _ => None,
                })
                .collect()
        })
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
        static_agents,
    };
    (policy, warnings)
}
