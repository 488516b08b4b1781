//! `routec simulate`: call logs in; the calls replayed through a policy (and another to
//! compare with) with simulated agent occupancy, and what each rule, team and agent took out.

pub mod log;
pub mod replay;

use serde_json::{Value as J, json};

use crate::compile::Policy;
use log::{BadLine, LoggedCall, read_csv, read_decision_log};
use replay::{Replay, matrix, replay};

/// A simulation's results.
pub struct Report {
    pub calls: u64,
    pub skipped: Vec<BadLine>,
    pub policy: Replay,
    /// With `--against`: the old policy's replay, and the calls whose rule changed.
    pub against: Option<(Replay, u64, Vec<J>)>,
}

/// A policy to replay calls through, and how to look up the facts a log does not give
/// (`--lookup`: the policy's own sources); without it they are missing, as offline.
#[derive(Clone, Copy)]
pub struct Side<'a> {
    pub policy: &'a Policy,
    pub lookup: Option<&'a dyn Fn(&mut LoggedCall)>,
}

/// Reads `logs` (name and text) for a policy, in time order; `progress` is told how many
/// bytes of all the logs have been read.
fn calls_for(
    side: Side<'_>,
    logs: &[(String, String)],
    progress: &dyn Fn(u64),
) -> Result<(Vec<LoggedCall>, Vec<BadLine>), String> {
    let policy = side.policy;
    let mut calls = Vec::new();
    let mut skipped = Vec::new();
    let mut before = 0u64;
    for (name, text) in logs {
        let here = |bytes: u64| progress(before + bytes);
        // A decision log is JSON lines; an export of call details is CSV.
        let (more, bad) = if text.trim_start().starts_with('{') {
            read_decision_log(&policy.checked, name, text, &here)
        } else {
            read_csv(&policy.checked, name, text, &here)?
        };
        calls.extend(more);
        skipped.extend(bad);
        before += text.len() as u64;
        progress(before);
    }
    if let Some(lookup) = side.lookup {
        calls.iter_mut().for_each(lookup);
    }
    // Stable: calls at the same time keep the log's order.
    calls.sort_by_key(|c| c.at);
    Ok((calls, skipped))
}

/// Replays the logs through `policy`, and through `old` too when given.
/// `progress` is told how many bytes of the logs have been read (twice over with `old`).
pub fn simulate(
    new: Side<'_>,
    old: Option<Side<'_>>,
    logs: &[(String, String)],
    progress: &dyn Fn(u64),
) -> Result<Report, String> {
    let (calls, skipped) = calls_for(new, logs, progress)?;
    let refs: Vec<&LoggedCall> = calls.iter().collect();
    let after = replay(new.policy, &refs);
    let against = match old {
        Some(old) => {
            // Read again for the old policy: its facts groups may differ.
            let (old_calls, _) = calls_for(old, logs, progress)?;
            let old_refs: Vec<&LoggedCall> = old_calls.iter().collect();
            let before = replay(old.policy, &old_refs);
            let cells = matrix(&refs, &before, &after);
            let changed = cells
                .iter()
                .filter(|((a, b), _)| a != b)
                .map(|(_, (n, _))| n)
                .sum();
            let cells = cells
                .into_iter()
                .map(|((a, b), (n, examples))| {
                    json!({"old": a, "new": b, "calls": n, "examples": examples})
                })
                .collect();
            Some((before, changed, cells))
        }
        None => None,
    };
    Ok(Report {
        calls: after.calls,
        skipped,
        policy: after,
        against,
    })
}

fn share(n: u64, of: u64) -> f64 {
    if of == 0 {
        0.0
    } else {
        (n as f64 / of as f64 * 1000.0).round() / 10.0
    }
}

/// A replay's figures as JSON.
pub fn replay_json(r: &Replay) -> J {
    let rules: Vec<J> = r
        .rules
        .iter()
        .map(|(name, calls, no_agent)| {
            json!({"rule": name, "calls": calls, "share": share(*calls, r.calls), "no_agent": no_agent})
        })
        .collect();
    let teams: Vec<J> = r
        .teams
        .iter()
        .map(|(name, calls)| json!({"team": name, "calls": calls, "share": share(*calls, r.calls)}))
        .collect();
    let agents: Vec<J> = r
        .agents
        .iter()
        .map(|(name, answered, talked)| {
            let utilisation = (*talked as f64 / r.span.max(1) as f64 * 1000.0).round() / 10.0;
            json!({"agent": name, "answered": answered, "talked_seconds": talked,
                "utilisation": utilisation})
        })
        .collect();
    json!({"calls": r.calls, "rules": rules, "teams": teams, "agents": agents,
        "calls_per_hour": r.hours.to_vec()})
}

impl Report {
    pub fn to_json(&self) -> J {
        let skipped: Vec<J> = self
            .skipped
            .iter()
            .map(|b| json!({"file": b.file, "line": b.line, "why": b.why}))
            .collect();
        let mut out = json!({"calls": self.calls, "skipped": skipped,
            "policy": replay_json(&self.policy)});
        if let Some((old, changed, cells)) = &self.against {
            out["against"] = replay_json(old);
            out["changed"] = json!(changed);
            out["matrix"] = J::Array(cells.clone());
        }
        out
    }
}
