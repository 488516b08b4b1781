//! Eval: compiled policy, call, facts, time and agent state in; a [`Decision`] out. Pure: no
//! I/O, no clock, no randomness but a seed taken from the call.

mod agents;
mod candidates;
mod decision;
mod strategy;

use smol_str::SmolStr;
use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::Arc;

use candidates::{Merge, RuleSet};

pub use agents::{AgentSnapshot, AgentState, AgentStates, Status};
pub use decision::{
    Agents, Decision, Numbers, Outcome, RuleRef, TargetKind, Trace, TraceStep, Updates, describe,
    describe_target,
};
pub use strategy::{StateUpdate, Weights};

use crate::call::{Call, PhoneValue};
use crate::check::model::{
    AgentFilter, AgentId, CallField, CompareOp, Cond, Literal, NowField, RuleDef, RuleId,
    ScheduleId, Target, Truth, Value,
};
use crate::compile::{Policy, Rotation};
use crate::degraded::Degraded;
use crate::facts::{FactValue, Facts};
use crate::phone;

/// A value read during evaluation.
#[derive(Debug, Clone, PartialEq)]
enum Val<'a> {
    Str(Cow<'a, str>),
    Num(f64),
    Bool(bool),
    Enum(u32),
    Phone(&'a str, bool),
    /// An agent reference from data: a name or a number.
    AgentRef(&'a str),
    Agent(AgentId),
}

/// What one evaluation reads.
struct Context<'a, A: AgentStates + ?Sized> {
    policy: &'a Policy,
    call: &'a Call,
    facts: &'a Facts,
    now: jiff::Timestamp,
    agents: &'a A,
    local: OnceCell<jiff::civil::DateTime>,
}

use crate::vocabulary::WEEKDAYS;

impl<'a, A: AgentStates + ?Sized> Context<'a, A> {
    fn new(
        policy: &'a Policy,
        call: &'a Call,
        facts: &'a Facts,
        now: jiff::Timestamp,
        agents: &'a A,
    ) -> Context<'a, A> {
        Context {
            policy,
            call,
            facts,
            now,
            agents,
            local: OnceCell::new(),
        }
    }

    fn local(&self) -> jiff::civil::DateTime {
        *self
            .local
            .get_or_init(|| self.policy.checked.timezone.to_datetime(self.now))
    }

    fn schedule_open(&self, id: ScheduleId) -> bool {
        let s = &self.policy.schedules[id];
        if s.own_timezone {
            s.is_open(self.now)
        } else {
            s.is_open_local(self.local())
        }
    }

    /// A value as this call has it. Values taken as they are stay in this small function;
    /// those worked out (a map's lookup, the local time) are apart, so that reading a call
    /// field or a fact sets up no large frame. Always inlined: left to itself, the compiler
    /// called it from the index's table reads, a `Val` through memory each time (7% of a
    /// decision's instructions on `rules/`).
    #[inline(always)]
    fn read<'b>(&'b self, value: &'b Value) -> Option<Val<'b>> {
        match value {
            Value::Call(field) => {
                let c = self.call;
                let text = |v: &'b Option<smol_str::SmolStr>| {
                    v.as_deref().map(|s| Val::Str(Cow::Borrowed(s)))
                };
                let phone =
                    |p: &'b Option<PhoneValue>| p.as_ref().map(|p| Val::Phone(&p.value, p.e164));
                match field {
                    CallField::Sid => text(&c.sid),
                    CallField::From => phone(&c.from),
                    CallField::To => phone(&c.to),
                    CallField::Direction => text(&c.direction),
                    CallField::Digits => text(&c.digits),
                    CallField::Custom => text(&c.custom),
                    CallField::FlowId => text(&c.flow_id),
                }
            }
            Value::LastAgent => self.agents.last_agent().map(Val::AgentRef),
            Value::Fact { group, field } => Some(match self.facts.get(*group, *field)? {
                FactValue::Str(s) => Val::Str(Cow::Borrowed(s)),
                FactValue::Num(n) => Val::Num(*n),
                FactValue::Bool(b) => Val::Bool(*b),
                FactValue::Enum(v) => Val::Enum(*v),
                FactValue::Phone(p) => Val::Phone(&p.value, p.e164),
                FactValue::Agent(a) => Val::AgentRef(a),
            }),
            Value::Literal(l) => Some(literal(l)),
            Value::Map(_) | Value::Now(_) => self.read_worked_out(value),
        }
    }

    #[inline(never)]
    fn read_worked_out<'b>(&'b self, value: &'b Value) -> Option<Val<'b>> {
        match value {
            Value::Map(id) => {
                let input = self.read(&self.policy.checked.maps[*id].input)?;
                let text = match &input {
                    Val::Phone(p, true) => *p,
                    Val::Str(s) => s.as_ref(),
                    _ => return None,
                };
                let found = self.policy.maps[*id].longest(text)?;
                Some(Val::Str(Cow::Borrowed(found.as_str())))
            }
            Value::Now(field) => {
                let local = self.local();
                Some(match field {
                    NowField::Hour => Val::Num(f64::from(local.hour())),
                    NowField::Minute => Val::Num(f64::from(local.minute())),
                    NowField::Weekday => Val::Str(Cow::Borrowed(
                        WEEKDAYS[local.weekday().to_monday_zero_offset() as usize],
                    )),
                    NowField::Date => Val::Str(Cow::Owned(local.date().to_string())),
                })
            }
            _ => self.read(value),
        }
    }

    /// An agent reference (a name, or a number in any form) as a declared agent.
    fn resolve_agent(&self, reference: &str) -> Option<AgentId> {
        if let Some(&id) = self.policy.agent_by_name.get(reference) {
            return Some(id);
        }
        let number = phone::normalize_inline(reference, self.policy.checked.country)?;
        self.policy.agent_by_number.get(number.as_str()).copied()
    }

    fn equal(&self, a: &Val, b: &Val) -> bool {
        match (a, b) {
            (Val::Str(x), Val::Str(y)) => x == y,
            (Val::Num(x), Val::Num(y)) => x == y,
            (Val::Bool(x), Val::Bool(y)) => x == y,
            (Val::Enum(x), Val::Enum(y)) => x == y,
            (Val::Phone(x, ex), Val::Phone(y, ey)) => ex == ey && x == y,
            (Val::Agent(x), Val::Agent(y)) => x == y,
            (Val::AgentRef(r), Val::Agent(id)) | (Val::Agent(id), Val::AgentRef(r)) => {
                self.resolve_agent(r) == Some(*id)
            }
            (Val::AgentRef(x), Val::AgentRef(y)) => {
                x == y
                    || self
                        .resolve_agent(x)
                        .is_some_and(|a| self.resolve_agent(y) == Some(a))
            }
            _ => false,
        }
    }

    fn compare(&self, left: &Val, op: CompareOp, right: &Val) -> Truth {
        let order = |x: f64, y: f64| match op {
            CompareOp::Lt => x < y,
            CompareOp::Le => x <= y,
            CompareOp::Gt => x > y,
            _ => x >= y,
        };
        Truth::of(match op {
            CompareOp::Eq => self.equal(left, right),
            CompareOp::Ne => !self.equal(left, right),
            CompareOp::Lt | CompareOp::Le | CompareOp::Gt | CompareOp::Ge => match (left, right) {
                (Val::Num(x), Val::Num(y)) => order(*x, *y),
                (Val::Enum(x), Val::Enum(y)) => order(f64::from(*x), f64::from(*y)),
                _ => false,
            },
            CompareOp::StartsWith => match (left, right) {
                (Val::Str(s), Val::Str(p)) => s.starts_with(p.as_ref()),
                // A raw (non-phone) value matches no prefix.
                (Val::Phone(s, true), Val::Str(p)) => s.starts_with(p.as_ref()),
                _ => false,
            },
            CompareOp::Contains => match (left, right) {
                (Val::Str(s), Val::Str(p)) => s.contains(p.as_ref()),
                _ => false,
            },
        })
    }

    /// Evaluates a condition; for a false or unknown `and`, also which item made it so.
    fn cond(&self, cond: &'a Cond) -> Truth {
        match cond {
            Cond::Const(b) => Truth::of(*b),
            Cond::Test(v) => match self.read(v) {
                Some(Val::Bool(b)) => Truth::of(b),
                _ => Truth::Unknown,
            },
            Cond::Schedule(id) => Truth::of(self.schedule_open(*id)),
            Cond::Compare { left, op, right } => match (self.read(left), self.read(right)) {
                (Some(l), Some(r)) => self.compare(&l, *op, &r),
                _ => Truth::Unknown,
            },
            Cond::In { value, list } => match self.read(value) {
                Some(v) => Truth::of(list.iter().any(|l| self.equal(&v, &literal(l)))),
                None => Truth::Unknown,
            },
            Cond::Exists(v) => Truth::of(self.read(v).is_some()),
            Cond::Not(inner) => self.cond(inner).not(),
            Cond::And(items) => Truth::all(items.iter().map(|i| self.cond(i))),
            Cond::Or(items) => Truth::any(items.iter().map(|i| self.cond(i))),
        }
    }

    fn filter(&self, filter: &'a AgentFilter, agent: AgentId) -> Truth {
        if let Some(matches) = filter.leaf_matches(&self.policy.checked, agent) {
            return Truth::of(matches);
        }
        let def = &self.policy.checked.agents[agent];
        match filter {
            AgentFilter::Speaks(v) => match self.read(v) {
                Some(Val::Str(language)) => Truth::of(
                    def.languages
                        .iter()
                        .any(|l| l.as_str() == language.as_ref()),
                ),
                _ => Truth::Unknown,
            },
            AgentFilter::Skill { .. } | AgentFilter::InTeam(_) => Truth::False,
            AgentFilter::Not(inner) => self.filter(inner, agent).not(),
            AgentFilter::And(items) => Truth::all(items.iter().map(|i| self.filter(i, agent))),
            AgentFilter::Or(items) => Truth::any(items.iter().map(|i| self.filter(i, agent))),
        }
    }

    /// A seed for `random`: the call's id, else the time; the same call always gets it.
    fn seed(&self) -> u64 {
        let text = self.call.sid.as_deref().unwrap_or("");
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in text.bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        h ^ self.now.as_second() as u64
    }

    /// Fills `d` with `target` when it is available: `None` (and `d` to be overwritten)
    /// when it is not.
    fn target(
        &self,
        target: &'a Target,
        at: RuleRef,
        position: usize,
        d: &mut Decision,
    ) -> Option<()> {
        let checked = &self.policy.checked;
        match target {
            Target::Team(id) => {
                let team = &checked.teams[*id];
                let plan = self
                    .policy
                    .plan(at.position(checked.rules.len()), position)?;
                let rotation = plan.rotation.as_ref()?;
                let (mut list, step) = strategy::order(
                    team.strategy,
                    &rotation.members,
                    &rotation.weights,
                    self.agents,
                    &plan.key,
                    self.seed(),
                );
                if list.is_empty() {
                    return None;
                }
                if let Some(ring) = team.ring {
                    list.truncate(ring as usize);
                }
                d.target = TargetKind::Team;
                d.team = Some(*id);
                d.parallel = team.strategy == crate::check::model::Strategy::RingAll;
                d.set_agents(self.policy, list);
                if let Some(step) = step {
                    d.updates.push(step.update(rotation));
                }
            }
            Target::Agent(id) => {
                if !self.agents.available(*id) {
                    return None;
                }
                d.target = TargetKind::Agent;
                d.set_agents(self.policy, smallvec::smallvec![*id]);
            }
            Target::AgentFrom(value) => {
                d.target = TargetKind::Agent;
                let reference = match self.read(value)? {
                    Val::AgentRef(r) => Cow::Borrowed(r),
                    Val::Str(s) => s,
                    Val::Phone(p, _) => Cow::Borrowed(p),
                    _ => return None,
                };
                match self.resolve_agent(&reference) {
                    Some(id) => {
                        if !self.agents.available(id) {
                            return None;
                        }
                        d.set_agents(self.policy, smallvec::smallvec![id]);
                    }
                    // A number that is no agent's is dialled as it is.
                    None => {
                        let number = phone::normalize(&reference, checked.country)?;
                        d.numbers = smallvec::smallvec![SmolStr::from(number)];
                    }
                }
            }
            Target::Agents {
                filter,
                strategy,
                ring,
            } => {
                let plan = self
                    .policy
                    .plan(at.position(checked.rules.len()), position)?;
                // A filter that reads the call picks its members now (and allocates).
                let picked: Arc<Rotation>;
                let rotation = match &plan.rotation {
                    Some(rotation) => rotation,
                    None => {
                        let members: Arc<[AgentId]> = AgentId::all(checked.agents.len())
                            .filter(|&a| self.filter(filter, a) == Truth::True)
                            .collect();
                        let weights = members.iter().map(|&a| checked.agents[a].weight).collect();
                        picked = Rotation::new(&plan.key, (members, weights));
                        &picked
                    }
                };
                let (mut list, step) = strategy::order(
                    *strategy,
                    &rotation.members,
                    &rotation.weights,
                    self.agents,
                    &plan.key,
                    self.seed(),
                );
                if list.is_empty() {
                    return None;
                }
                if let Some(ring) = ring {
                    list.truncate(*ring as usize);
                }
                d.target = TargetKind::Agents;
                d.parallel = *strategy == crate::check::model::Strategy::RingAll;
                d.set_agents(self.policy, list);
                if let Some(step) = step {
                    d.updates.push(step.update(rotation));
                }
            }
            Target::Number(n) => {
                d.target = TargetKind::Number;
                d.numbers = smallvec::smallvec![n.clone()];
            }
            Target::Queue { name, priority } => {
                d.target = TargetKind::Queue;
                d.queue = Some(Arc::clone(name));
                d.priority = *priority;
            }
            Target::Flow(label) => {
                d.target = TargetKind::Flow;
                d.flow = Some(Arc::clone(label));
            }
        }
        Some(())
    }

    /// The first available alternative of a rule's targets.
    /// Fills `d` with the first available alternative of a rule's targets; `false` when none
    /// is. Built in place: a decision is large, and moving it costs more than deciding.
    fn targets(&self, rule: &'a RuleDef, at: RuleRef, d: &mut Decision) -> bool {
        for (i, t) in rule.targets.iter().enumerate() {
            if self.target(t, at, i, d).is_some() {
                d.fallback = i;
                return true;
            }
        }
        false
    }

    /// Decides with the rule that fired (`None`: no rule fired), falling back as §3 says.
    fn decide(&self, fired: Option<usize>, d: &mut Decision) {
        let rules = &self.policy.checked.rules;
        if let Some(i) = fired {
            let rule = RuleRef::Rule(RuleId::new(i));
            if self.targets(&rules[i], rule, d) {
                d.trace.push(TraceStep::new(rule, Outcome::Fired, None));
                d.rule = rule;
                d.degraded.extend(self.facts.degraded.iter().cloned());
                return;
            }
            d.trace
                .push(TraceStep::new(rule, Outcome::Unavailable, None));
        }
        let otherwise = &self.policy.checked.otherwise;
        if self.targets(otherwise, RuleRef::Otherwise, d) {
            d.trace
                .push(TraceStep::new(RuleRef::Otherwise, Outcome::Fired, None));
        } else {
            d.trace.push(TraceStep::new(
                RuleRef::Otherwise,
                Outcome::Unavailable,
                None,
            ));
            self.last_resort(otherwise, d);
        }
        d.rule = RuleRef::Otherwise;
        d.degraded.extend(self.facts.degraded.iter().cloned());
    }

    /// Nothing in `otherwise` is available: the members of its last team, whatever their
    /// state (or the last target's agents), so that Exotel still has someone to ring.
    fn last_resort(&self, otherwise: &'a RuleDef, d: &mut Decision) {
        let checked = &self.policy.checked;
        // Whatever the unavailable targets left in it goes; the trace stays.
        let trace = std::mem::take(&mut d.trace);
        *d = Decision::empty();
        d.trace = trace;
        d.fallback = otherwise.targets.len();
        let last_team = otherwise.targets.iter().rev().find_map(|t| match t {
            Target::Team(id) => Some(*id),
            _ => None,
        });
        // As the team would be rung, but for who is free: `ring N` and `ring_all` hold.
        let shaped = |d: &mut Decision, mut members: Agents, strategy, ring: Option<u32>| {
            if let Some(ring) = ring {
                members.truncate(ring as usize);
            }
            d.parallel = strategy == crate::check::model::Strategy::RingAll;
            d.set_agents(self.policy, members);
        };
        match last_team {
            Some(id) => {
                let team = &checked.teams[id];
                d.target = TargetKind::Team;
                d.team = Some(id);
                let members = team.members.iter().copied().collect();
                shaped(d, members, team.strategy, team.ring);
            }
            None => {
                let last = otherwise.targets.last();
                if let Some(Target::Agent(id)) = last {
                    d.target = TargetKind::Agent;
                    d.set_agents(self.policy, smallvec::smallvec![*id]);
                } else if let Some(Target::Agents {
                    filter,
                    strategy,
                    ring,
                }) = last
                {
                    d.target = TargetKind::Agents;
                    let all = AgentId::all(checked.agents.len())
                        .filter(|&a| self.filter(filter, a) == Truth::True)
                        .collect();
                    shaped(d, all, *strategy, *ring);
                } else {
                    d.target = TargetKind::Agent;
                }
            }
        }
        d.degraded.push(Degraded::NoAvailableAgent);
    }
}

#[inline]
fn literal(l: &Literal) -> Val<'_> {
    match l {
        Literal::String(s) => Val::Str(Cow::Borrowed(s)),
        Literal::Number(n) => Val::Num(*n),
        Literal::Bool(b) => Val::Bool(*b),
        Literal::Enum { variant, .. } => Val::Enum(*variant),
        Literal::Phone(p) => Val::Phone(p, true),
        Literal::Agent(a) => Val::Agent(*a),
    }
}

impl<'a, A: AgentStates + ?Sized> Context<'a, A> {
    /// A rule's condition, and for a false or unknown top-level `and`, which item made it so.
    fn rule_truth(&self, cond: &Cond) -> (Truth, Option<u16>) {
        let Cond::And(items) = cond else {
            return (self.cond(cond), None);
        };
        let mut first_unknown = None;
        for (i, item) in items.iter().enumerate() {
            match self.cond(item) {
                Truth::False => return (Truth::False, Some(i as u16)),
                Truth::Unknown => {
                    first_unknown.get_or_insert(i as u16);
                }
                Truth::True => {}
            }
        }
        match first_unknown {
            Some(i) => (Truth::Unknown, Some(i)),
            None => (Truth::True, None),
        }
    }

    /// Decides into `d` (an empty decision): written in place, as a decision is too large to
    /// move about for free.
    fn first_match(&self, rules: &mut impl Iterator<Item = u32>, d: &mut Decision) {
        for i in rules {
            let rule = &self.policy.checked.rules[i as usize];
            let (truth, culprit) = self.rule_truth(&rule.condition);
            if truth == Truth::True {
                self.decide(Some(i as usize), d);
                return;
            }
            let outcome = if truth == Truth::False {
                Outcome::False
            } else {
                Outcome::Unknown
            };
            d.trace
                .push(TraceStep::new(RuleRef::Rule(RuleId(i)), outcome, culprit));
        }
        self.decide(None, d);
    }
}

/// Decides one call with the compiled policy: only the rules the dispatch index finds for
/// this call are tried, in source order.
pub fn eval(
    policy: &Policy,
    call: &Call,
    facts: &Facts,
    now: jiff::Timestamp,
    agents: &(impl AgentStates + ?Sized),
) -> Decision {
    let ctx = Context::new(policy, call, facts, now, agents);
    let mut d = Decision::empty();
    let index = &policy.index;
    if policy.checked.rules.len() <= candidates::SET_RULES {
        let mut rules = RuleSet::new(&ctx, &index.always, &index.tables);
        ctx.first_match(&mut rules, &mut d);
    } else {
        let mut rules = Merge::new(&ctx, &index.always, &index.tables);
        ctx.first_match(&mut rules, &mut d);
    }
    d
}

/// The reference interpreter: a plain first-match walk over every rule, no index. The
/// oracle that [`eval`] is tested against.
pub fn eval_reference(
    policy: &Policy,
    call: &Call,
    facts: &Facts,
    now: jiff::Timestamp,
    agents: &(impl AgentStates + ?Sized),
) -> Decision {
    let ctx = Context::new(policy, call, facts, now, agents);
    let mut d = Decision::empty();
    ctx.first_match(&mut (0..policy.checked.rules.len() as u32), &mut d);
    d
}

/// [`eval`] with a full trace: every rule before the one that decided, and why it did not
/// fire, not only those the index tried. For people (`routec eval`, `routec test`).
pub fn eval_explained(
    policy: &Policy,
    call: &Call,
    facts: &Facts,
    now: jiff::Timestamp,
    agents: &(impl AgentStates + ?Sized),
) -> Decision {
    let mut decision = eval(policy, call, facts, now, agents);
    let ctx = Context::new(policy, call, facts, now, agents);
    let winner = decision.trace.iter().position(|s| {
        matches!(s.rule, RuleRef::Rule(_))
            && matches!(s.outcome, Outcome::Fired | Outcome::Unavailable)
    });
    let (stop, tail_from) = match winner {
        Some(p) => match decision.trace[p].rule {
            RuleRef::Rule(i) => (i.0, p),
            RuleRef::Otherwise => (0, p),
        },
        None => {
            let p = decision
                .trace
                .iter()
                .position(|s| s.rule == RuleRef::Otherwise)
                .unwrap_or(decision.trace.len());
            (policy.checked.rules.len() as u32, p)
        }
    };
    let mut trace: Trace = (0..stop)
        .map(|i| {
            let (truth, culprit) = ctx.rule_truth(&policy.checked.rules[i as usize].condition);
            let outcome = if truth == Truth::False {
                Outcome::False
            } else {
                Outcome::Unknown
            };
            TraceStep::new(RuleRef::Rule(RuleId(i)), outcome, culprit)
        })
        .collect();
    trace.extend_from_slice(&decision.trace[tail_from..]);
    decision.trace = trace;
    decision
}
