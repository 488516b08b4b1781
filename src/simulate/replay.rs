//! Replays logged calls through a compiled policy in time order, with simulated agent
//! occupancy: every agent offered is held while the call lasts, and an answered call makes its
//! first offered agent busy for the time it talked.
//! Counts calls per rule, team and agent, calls that found no agent, and calls per hour.

use std::collections::BTreeMap;

use crate::compile::Policy;
use crate::eval::{AgentSnapshot, Decision, Outcome, RuleRef, StateUpdate, Status};

use super::log::LoggedCall;

/// What became of each call, in log order: the rule that decided it.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Per rule in policy order, `otherwise` last: calls it decided, and calls that found no
    /// agent through it (its condition held, and its targets were unavailable, or a fallback
    /// or a queue took the call).
    pub rules: Vec<(String, u64, u64)>,
    /// Per team: calls routed to it.
    pub teams: Vec<(String, u64)>,
    /// Per agent: calls answered, seconds talked.
    pub agents: Vec<(String, u64, i64)>,
    /// Calls per hour of the day, in the policy's time zone.
    pub hours: [u64; 24],
    /// The rule of each call, by index into `rules`, in log order.
    pub decided: Vec<usize>,
    /// Seconds from the first call's start to the last call's end.
    pub span: i64,
    pub calls: u64,
}

/// Replays `calls` (sorted by their start) through `policy`.
pub fn replay(policy: &Policy, calls: &[&LoggedCall]) -> Replay {
    let checked = &policy.checked;
    let rule_count = checked.rules.len() + 1;
    let mut out = Replay {
        rules: checked
            .rules
            .iter()
            .chain(std::iter::once(&checked.otherwise))
            .map(|r| (r.name.clone(), 0, 0))
            .collect(),
        teams: checked.teams.iter().map(|t| (t.name.clone(), 0)).collect(),
        agents: checked
            .agents
            .iter()
            .map(|a| (a.name.clone(), 0, 0))
            .collect(),
        decided: Vec::with_capacity(calls.len()),
        ..Replay::default()
    };
    let mut snapshot = AgentSnapshot::fresh(checked.agents.len());
    // When each busy agent's call ends, and when each reserved agent is released.
    let mut busy_until: Vec<Option<jiff::Timestamp>> = vec![None; checked.agents.len()];
    let mut held_until: Vec<Option<jiff::Timestamp>> = vec![None; checked.agents.len()];
    let mut today: Option<jiff::civil::Date> = None;
    let (mut first, mut last) = (None::<jiff::Timestamp>, None::<jiff::Timestamp>);
    for call in calls {
        let date = call.day;
        if today != Some(date) {
            for a in &mut snapshot.agents {
                a.calls_today = 0;
            }
            today = Some(date);
        }
        for (i, until) in busy_until.iter_mut().enumerate() {
            if let Some(end) = *until
                && end <= call.at
            {
                let agent = &mut snapshot.agents[i];
                agent.status = Some(Status::Available);
                agent.last_call_ended = Some(end);
                agent.calls_today += 1;
                *until = None;
            }
        }
        for (i, until) in held_until.iter_mut().enumerate() {
            if until.is_some_and(|end| end <= call.at) {
                snapshot.agents[i].reserved = false;
                *until = None;
            }
        }
        let decision = crate::eval::eval(policy, &call.call, &call.facts, call.at, &snapshot);
        apply(&mut snapshot, &decision);
        let rule = decision.rule.position(rule_count - 1);
        out.rules[rule].1 += 1;
        if decision.found_no_agent() {
            out.rules[rule].2 += 1;
        }
        // A rule whose condition held but whose every target was unavailable found no agent
        // either: a later rule took the call.
        for step in &decision.trace {
            if let (RuleRef::Rule(r), Outcome::Unavailable) = (step.rule, step.outcome) {
                out.rules[r.index()].2 += 1;
            }
        }
        if let Some(team) = decision.team {
            out.teams[team.index()].1 += 1;
        }
        // As live, every agent offered is held for the call until it ends (its events release
        // them); the one who answers is then busy for the time talked.
        let held = call
            .at
            .checked_add(jiff::SignedDuration::from_secs(call.lasted))
            .unwrap_or(call.at);
        if held > call.at {
            for &agent in decision.offered() {
                snapshot.agents[agent.index()].reserved = true;
                held_until[agent.index()] = Some(held);
            }
        }
        let mut end = call.at;
        if call.answered
            && let Some(&agent) = decision.agents.first()
        {
            let until = call
                .at
                .checked_add(jiff::SignedDuration::from_secs(call.talked))
                .unwrap_or(call.at);
            snapshot.agents[agent.index()].status = Some(Status::Busy);
            busy_until[agent.index()] = Some(until);
            out.agents[agent.index()].1 += 1;
            out.agents[agent.index()].2 += call.talked;
            end = until;
        }
        out.hours[usize::from(call.hour) % 24] += 1;
        out.decided.push(rule);
        out.calls += 1;
        first = Some(first.map_or(call.at, |f| f.min(call.at)));
        last = Some(last.map_or(end, |l| l.max(end)));
    }
    if let (Some(first), Some(last)) = (first, last) {
        out.span = (last.as_second() - first.as_second()).max(1);
    }
    out
}

/// Round-robin cursors and weights move as they do live.
fn apply(snapshot: &mut AgentSnapshot, decision: &Decision) {
    for update in &decision.updates {
        match update {
            StateUpdate::Cursor { rotation, agent } => {
                snapshot.cursors.insert(rotation.key.to_string(), *agent);
            }
            StateUpdate::Weights { rotation, current } => {
                snapshot
                    .weights
                    .insert(rotation.key.to_string(), current.to_vec());
            }
        }
    }
}

/// Calls per pair of rules (old, new), with up to 20 example call ids each.
pub fn matrix(
    calls: &[&LoggedCall],
    old: &Replay,
    new: &Replay,
) -> BTreeMap<(String, String), (u64, Vec<String>)> {
    let mut out: BTreeMap<(String, String), (u64, Vec<String>)> = BTreeMap::new();
    for (i, call) in calls.iter().enumerate() {
        let a = &old.rules[old.decided[i]].0;
        let b = &new.rules[new.decided[i]].0;
        let cell = out.entry((a.clone(), b.clone())).or_default();
        cell.0 += 1;
        if cell.1.len() < 20 {
            cell.1.push(call.sid.clone());
        }
    }
    out
}
