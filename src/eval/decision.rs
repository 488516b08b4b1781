//! The decision for one call, its trace, and how both read as JSON and as route syntax.

use std::sync::Arc;

use serde_json::json;
use smallvec::SmallVec;
use smol_str::SmolStr;

use super::strategy::StateUpdate;
use crate::check::model::{
    AgentFilter, AgentId, CallField, CheckedPolicy, Cond, Literal, NowField, RuleId, Target,
    TeamId, Value,
};
use crate::compile::Policy;
use crate::degraded::Degraded;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleRef {
    Rule(RuleId),
    Otherwise,
}

impl RuleRef {
    pub fn name(self, policy: &CheckedPolicy) -> &str {
        match self {
            RuleRef::Rule(i) => &policy.rules[i].name,
            RuleRef::Otherwise => "otherwise",
        }
    }

    /// Its position among `rules` rules with `otherwise` last (at `rules`): how tables by
    /// rule are indexed.
    pub fn position(self, rules: usize) -> usize {
        match self {
            RuleRef::Rule(i) => i.index(),
            RuleRef::Otherwise => rules,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    Team,
    Agent,
    Agents,
    Number,
    Queue,
    Flow,
}

impl TargetKind {
    pub const ALL: [TargetKind; 6] = [
        TargetKind::Team,
        TargetKind::Agent,
        TargetKind::Agents,
        TargetKind::Number,
        TargetKind::Queue,
        TargetKind::Flow,
    ];

    /// Its place in [`TargetKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            TargetKind::Team => "team",
            TargetKind::Agent => "agent",
            TargetKind::Agents => "agents",
            TargetKind::Number => "number",
            TargetKind::Queue => "queue",
            TargetKind::Flow => "flow",
        }
    }
}

/// How a rule fared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Its condition was true and a target was available: it decided.
    Fired,
    False,
    Unknown,
    /// Its condition was true but every target was unavailable.
    Unavailable,
}

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Fired => "fired",
            Outcome::False => "false",
            Outcome::Unknown => "unknown",
            Outcome::Unavailable => "unavailable",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceStep {
    pub rule: RuleRef,
    pub outcome: Outcome,
    /// For a false or unknown `and`: the item that made it so; [`TraceStep::NO_CULPRIT`]
    /// when there is none. A plain `u16`, not an `Option`: a step is 12 bytes instead of 16,
    /// and a decision carries eight inline.
    culprit: u16,
}

impl TraceStep {
    const NO_CULPRIT: u16 = u16::MAX;

    /// `culprit` is the index of an `and`'s item; index `u16::MAX` (an `and` of 65,536 items
    /// or more) reads back as none.
    pub fn new(rule: RuleRef, outcome: Outcome, culprit: Option<u16>) -> TraceStep {
        TraceStep {
            rule,
            outcome,
            culprit: culprit.unwrap_or(Self::NO_CULPRIT),
        }
    }

    /// For a false or unknown `and`: the item that made it so.
    pub fn culprit(&self) -> Option<u16> {
        (self.culprit != Self::NO_CULPRIT).then_some(self.culprit)
    }
}

/// The agents of a decision: inline up to 8, so that most decisions allocate nothing.
pub type Agents = SmallVec<[AgentId; 8]>;
/// The numbers of a decision: inline up to 4. A number is a `SmolStr`, its text inline, so
/// that copying one from the policy is a plain copy, with no reference count to touch.
pub type Numbers = SmallVec<[SmolStr; 4]>;
/// The rules tried: inline up to 8.
pub type Trace = SmallVec<[TraceStep; 8]>;
/// Strategy state to remember: at most one step per decision.
pub type Updates = SmallVec<[StateUpdate; 1]>;

/// Where a call goes, and why. Made without a heap allocation in the common case: lists are
/// inline up to a size, and names and numbers are shared with the policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub rule: RuleRef,
    pub target: TargetKind,
    pub team: Option<TeamId>,
    /// The chosen agents, in strategy order.
    pub agents: Agents,
    /// Numbers to dial, in order, E.164; empty for queue and flow decisions.
    pub numbers: Numbers,
    pub queue: Option<Arc<str>>,
    pub priority: Option<i64>,
    pub flow: Option<Arc<str>>,
    /// Ring every number at once (`ring_all`).
    pub parallel: bool,
    /// Which target of the rule's chain decided: 0 the first, 1 the first `or`, …; the number
    /// of targets when none was available (`otherwise`'s last resort).
    pub fallback: usize,
    /// Why the decision may not be what the policy intends (`source crm: timeout`).
    pub degraded: Vec<Degraded>,
    /// The rules tried, in order.
    pub trace: Trace,
    /// Strategy state to remember (round-robin cursors, weights).
    pub updates: Updates,
}

impl Decision {
    /// A decision that dials no one: the start of every decision, and the last resort.
    #[inline]
    pub fn empty() -> Decision {
        Decision {
            rule: RuleRef::Otherwise,
            target: TargetKind::Queue,
            team: None,
            agents: Agents::new(),
            numbers: Numbers::new(),
            queue: None,
            priority: None,
            flow: None,
            parallel: false,
            fallback: 0,
            degraded: Vec::new(),
            trace: Trace::new(),
            updates: Updates::new(),
        }
    }

    /// The agents it offers at once: the first, or every one when they ring together; none
    /// for a last-resort decision, whose agents are all taken already.
    pub fn offered(&self) -> &[AgentId] {
        if self
            .degraded
            .contains(&crate::degraded::Degraded::NoAvailableAgent)
        {
            &[]
        } else if self.parallel {
            &self.agents
        } else {
            &self.agents[..self.agents.len().min(1)]
        }
    }

    /// No agent took the call through its rule: a fallback target or a queue did.
    pub fn found_no_agent(&self) -> bool {
        self.agents.is_empty() || self.fallback > 0
    }

    #[inline]
    pub(super) fn set_agents(&mut self, policy: &Policy, agents: Agents) {
        // Pushed in place: collecting a new list and moving it in copied it twice.
        self.numbers.clear();
        for &a in &agents {
            self.numbers.push(policy.number(a));
        }
        self.agents = agents;
    }

    /// The decision JSON of `routec eval` and `/v1/decide`.
    pub fn to_json(&self, policy: &Policy) -> serde_json::Value {
        let checked = &policy.checked;
        let trace: Vec<serde_json::Value> = self
            .trace
            .iter()
            .map(|step| {
                let mut entry = json!({
                    "rule": step.rule.name(checked),
                    "result": step.outcome.name(),
                });
                if let RuleRef::Rule(i) = step.rule
                    && matches!(step.outcome, Outcome::False | Outcome::Unknown)
                {
                    let cond = &checked.rules[i].condition;
                    let failed = match (cond, step.culprit()) {
                        (Cond::And(items), Some(c)) => items.get(c as usize).unwrap_or(cond),
                        _ => cond,
                    };
                    entry["condition"] = json!(describe(checked, failed));
                }
                entry
            })
            .collect();
        json!({
            "policy": checked.name,
            "rule": self.rule.name(checked),
            "target": self.target.name(),
            "team": self.team.map(|t| checked.teams[t].name.clone()),
            "agents": self.agents.iter().map(|&a| checked.agents[a].name.clone()).collect::<Vec<_>>(),
            "numbers": self.numbers,
            "queue": self.queue,
            "priority": self.priority,
            "flow": self.flow,
            "parallel_ringing": self.parallel,
            "degraded": self.degraded,
            "trace": trace,
        })
    }

    /// The trace as lines for people (`routec eval --explain`).
    pub fn explain(&self, policy: &Policy) -> String {
        let checked = &policy.checked;
        let mut out = String::new();
        for step in &self.trace {
            let name = step.rule.name(checked);
            let line = match (step.rule, step.outcome) {
                (RuleRef::Rule(i), Outcome::False | Outcome::Unknown) => {
                    let cond = &checked.rules[i].condition;
                    let failed = match (cond, step.culprit()) {
                        (Cond::And(items), Some(c)) => items.get(c as usize).unwrap_or(cond),
                        _ => cond,
                    };
                    format!(
                        "  {name}: `{}` is {}\n",
                        describe(checked, failed),
                        step.outcome.name()
                    )
                }
                (_, Outcome::Fired) => format!("→ {name}: fired\n"),
                (_, Outcome::Unavailable) => {
                    format!("  {name}: condition true, but no target was available\n")
                }
                (_, outcome) => format!("  {name}: {}\n", outcome.name()),
            };
            out.push_str(&line);
        }
        let target = match self.target {
            TargetKind::Queue => format!(
                "queue {}{}",
                self.queue.as_deref().unwrap_or(""),
                self.priority
                    .map(|p| format!(" priority {p}"))
                    .unwrap_or_default()
            ),
            TargetKind::Flow => format!("flow \"{}\"", self.flow.as_deref().unwrap_or("")),
            _ => self.numbers.join(", "),
        };
        out.push_str(&format!("decision: {} ({target})\n", self.target.name()));
        if !self.degraded.is_empty() {
            let reasons: Vec<String> = self.degraded.iter().map(ToString::to_string).collect();
            out.push_str(&format!("degraded: {}\n", reasons.join("; ")));
        }
        out
    }
}

/// A checked condition written back in route syntax, for traces.
pub fn describe(policy: &CheckedPolicy, cond: &Cond) -> String {
    let value = |v: &Value| describe_value(policy, v);
    match cond {
        Cond::Const(b) => b.to_string(),
        Cond::Test(v) => value(v),
        Cond::Schedule(id) => policy.schedules[*id].name.clone(),
        Cond::Compare { left, op, right } => {
            let op = op.symbol();
            format!("{} {op} {}", value(left), value(right))
        }
        Cond::In { value: v, list } => {
            let items: Vec<String> = list.iter().map(|l| describe_literal(policy, l)).collect();
            format!("{} in [{}]", value(v), items.join(", "))
        }
        Cond::Exists(v) => format!("{} exists", value(v)),
        Cond::Not(inner) => match inner.as_ref() {
            Cond::And(_) | Cond::Or(_) => format!("not ({})", describe(policy, inner)),
            _ => format!("not {}", describe(policy, inner)),
        },
        Cond::And(items) => items
            .iter()
            .map(|i| match i {
                Cond::Or(_) => format!("({})", describe(policy, i)),
                _ => describe(policy, i),
            })
            .collect::<Vec<_>>()
            .join(" and "),
        Cond::Or(items) => items
            .iter()
            .map(|i| describe(policy, i))
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

/// A checked target written back in route syntax (`team TECH_L1`, `queue support priority 2`).
pub fn describe_target(policy: &CheckedPolicy, target: &Target) -> String {
    match target {
        Target::Team(id) => format!("team {}", policy.teams[*id].name),
        Target::Agent(id) => format!("agent {}", policy.agents[*id].name),
        Target::AgentFrom(v) => format!("agent {}", describe_value(policy, v)),
        Target::Agents {
            filter,
            strategy,
            ring,
        } => {
            let mut text = format!("agents where {}", describe_filter(policy, filter));
            if *strategy != crate::check::model::Strategy::Sequential {
                text.push_str(&format!(" using {}", strategy.name()));
            }
            if let Some(n) = ring {
                text.push_str(&format!(" ring {n}"));
            }
            text
        }
        Target::Number(n) => format!("number {n:?}"),
        Target::Queue { name, priority } => match priority {
            Some(p) => format!("queue {name} priority {p}"),
            None => format!("queue {name}"),
        },
        Target::Flow(f) => format!("flow {f:?}"),
    }
}

fn describe_filter(policy: &CheckedPolicy, filter: &AgentFilter) -> String {
    let inner = |f: &AgentFilter| match f {
        AgentFilter::And(_) | AgentFilter::Or(_) => format!("({})", describe_filter(policy, f)),
        _ => describe_filter(policy, f),
    };
    match filter {
        AgentFilter::Speaks(v) => format!("speaks {}", describe_value(policy, v)),
        AgentFilter::Skill { skill, op, level } => format!("skill {skill} {} {level}", op.symbol()),
        AgentFilter::InTeam(t) => format!("in team {}", policy.teams[*t].name),
        AgentFilter::Not(f) => format!("not {}", inner(f)),
        AgentFilter::And(list) => list.iter().map(inner).collect::<Vec<_>>().join(" and "),
        AgentFilter::Or(list) => list.iter().map(inner).collect::<Vec<_>>().join(" or "),
    }
}

fn describe_value(policy: &CheckedPolicy, v: &Value) -> String {
    match v {
        Value::Call(f) => format!("call.{}", CallField::name(*f)),
        Value::LastAgent => "caller.last_agent".to_string(),
        Value::Fact { group, field } => {
            let g = &policy.facts[*group];
            format!("{}.{}", g.name, g.fields[*field].name)
        }
        Value::Map(m) => policy.maps[*m].name.clone(),
        Value::Now(f) => {
            let name = NowField::ALL
                .iter()
                .find(|(_, n, _)| n == f)
                .map_or("?", |(s, _, _)| s);
            format!("now.{name}")
        }
        Value::Literal(l) => describe_literal(policy, l),
    }
}

fn describe_literal(policy: &CheckedPolicy, l: &Literal) -> String {
    match l {
        Literal::String(s) | Literal::Phone(s) => format!("{s:?}"),
        Literal::Number(n) => n.to_string(),
        Literal::Bool(b) => b.to_string(),
        Literal::Enum { ty, variant } => policy.enums[*ty].variants[*variant as usize].clone(),
        Literal::Agent(a) => policy.agents[*a].name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trace_step_gives_back_its_culprit_and_stays_small() {
        let rule = RuleRef::Rule(RuleId(3));
        for culprit in [None, Some(0), Some(7), Some(u16::MAX - 1)] {
            assert_eq!(
                TraceStep::new(rule, Outcome::False, culprit).culprit(),
                culprit
            );
        }
        assert!(std::mem::size_of::<TraceStep>() <= 12);
    }
}
