//! Compile: checked policy in; immutable [`Policy`] out (rule dispatch index, prefix tries,
//! weekly schedule windows) plus the unreachable-rule warnings.

mod analysis;
mod index;
mod schedule;
mod trie;

use smol_str::SmolStr;
use std::sync::Arc;

pub use index::{Anchor, DispatchKey, RuleIndex, Subject, Table};
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
    /// foldhash, not SipHash: decisions look agents up by the policy's own names.
    pub agent_by_name: foldhash::HashMap<String, AgentId>,
    pub agent_by_number: foldhash::HashMap<String, AgentId>,
    /// Each agent's number, copied into every decision that dials it (inline, no count).
    numbers: Vec<SmolStr>,
    /// What a team or `agents where` target needs for its strategy, by rule index
    /// (`otherwise` last) and target position: computed once, shared by every decision.
    plans: Vec<Vec<Option<TargetPlan>>>,
}

/// Members in rotation order, with their weights: what a [`Rotation`] shares.
pub type Members = (Arc<[AgentId]>, Arc<[u32]>);

/// What a strategy steps through: its members and their weights, and the key that names its
/// cursor or weights. One `Arc` for a decision's strategy step to hold, where three
/// (key, members, weights) cost an atomic count each way for every step.
#[derive(Debug, PartialEq, Eq)]
pub struct Rotation {
    pub key: Arc<str>,
    pub members: Arc<[AgentId]>,
    pub weights: Arc<[u32]>,
}

impl Rotation {
    /// The rotation of `members` (with their weights) under the cursor or weights `key`.
    pub fn new(key: &Arc<str>, (members, weights): Members) -> Arc<Rotation> {
        Arc::new(Rotation {
            key: Arc::clone(key),
            members,
            weights,
        })
    }
}

/// A team or `agents where` target, ready for its strategy.
#[derive(Debug, Clone)]
pub struct TargetPlan {
    /// Names its round-robin cursor or weights: the team's name, or `RULE#POSITION`.
    pub key: Arc<str>,
    /// Its members in rotation order, their weights and its key, when the members are the
    /// same for every call (a team, or a static filter).
    pub rotation: Option<Arc<Rotation>>,
}

impl Policy {
    pub fn rules(&self) -> &[RuleDef] {
        &self.checked.rules
    }

    /// An agent's number, E.164.
    #[inline]
    pub fn number(&self, agent: AgentId) -> SmolStr {
        self.numbers[agent.index()].clone()
    }

    /// The plan of a team or `agents where` target of rule `rule` (the index of a rule, or the
    /// rule count for `otherwise`) at `position`.
    #[inline]
    pub fn plan(&self, rule: usize, position: usize) -> Option<&TargetPlan> {
        self.plans.get(rule)?.get(position)?.as_ref()
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
    let weighed = |members: Arc<[AgentId]>| {
        let weights: Arc<[u32]> = members.iter().map(|&a| checked.agents[a].weight).collect();
        (members, weights)
    };
    let teams: Vec<(Arc<str>, Members)> = checked
        .teams
        .iter()
        .map(|t| {
            (
                Arc::from(t.name.as_str()),
                weighed(Arc::from(t.members.as_slice())),
            )
        })
        .collect();
    // Rules often repeat a filter: compute each distinct one once (compared as filters).
    let mut members_of: Vec<(&AgentFilter, Members)> = Vec::new();
    let plans = checked
        .rules
        .iter()
        .chain(std::iter::once(&checked.otherwise))
        .enumerate()
        .map(|(rule, def)| {
            def.targets
                .iter()
                .enumerate()
                .map(|(position, target)| match target {
                    Target::Team(id) => {
                        let (key, members) = &teams[id.index()];
                        Some(TargetPlan {
                            key: Arc::clone(key),
                            rotation: Some(Rotation::new(key, members.clone())),
                        })
                    }
                    Target::Agents { filter, .. } => {
                        let name = checked
                            .rules
                            .get(rule)
                            .map_or("otherwise", |r| r.name.as_str());
                        let members = filter.is_static().then(|| {
                            match members_of.iter().find(|(f, _)| *f == filter) {
                                Some((_, members)) => members.clone(),
                                None => {
                                    let members =
                                        weighed(Arc::from(static_members(&checked, filter)));
                                    members_of.push((filter, members.clone()));
                                    members
                                }
                            }
                        });
                        let key = Arc::from(format!("{name}#{position}"));
                        Some(TargetPlan {
                            rotation: members.map(|m| Rotation::new(&key, m)),
                            key,
                        })
                    }
                    _ => None,
                })
                .collect()
        })
        .collect();
    let numbers = checked
        .agents
        .iter()
        .map(|a| SmolStr::from(a.number.as_str()))
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
        numbers,
        plans,
    };
    (policy, warnings)
}
