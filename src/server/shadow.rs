//! A candidate policy evaluated beside the active one on every live decision, off the answer's
//! path: each decided call goes to a bounded queue; one worker thread decides it again with
//! the candidate (same call, facts, time and agent snapshot; no state moved, nothing logged)
//! and tallies where the two differ.

use std::collections::{BTreeMap, VecDeque};
use std::path::PathBuf;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use serde_json::{Value as J, json};

use super::Serving;
use crate::call::Call;
use crate::compile::Policy;
use crate::eval::{AgentSnapshot, Decision};
use crate::facts::Facts;
use crate::policy_files::SourceFiles;

/// Calls waiting for the candidate at most; beyond, they are dropped (and counted).
const QUEUE: usize = 4096;
/// Differing calls kept, the latest.
const EXAMPLES: usize = 1000;

/// One live decision, for the candidate to decide again.
pub struct Job {
    pub active: Arc<Serving>,
    pub call: Call,
    pub facts: Facts,
    pub now: jiff::Timestamp,
    pub agents: AgentSnapshot,
    pub decision: Decision,
}

/// A call that went differently, kept as it was: its JSON (with both traces) is made only
/// when `/v1/shadow` is read, not on every call.
struct Example {
    job: Job,
    candidate: Arc<Serving>,
    facts: Facts,
    agents: AgentSnapshot,
}

impl Example {
    fn to_json(&self) -> J {
        let job = &self.job;
        let explained = |p: &Policy, f: &Facts, a: &AgentSnapshot| {
            crate::eval::eval_explained(p, &job.call, f, job.now, a).to_json(p)
        };
        json!({
            "call_sid": job.call.sid,
            "at": job.now.to_string(),
            "active": explained(&job.active.prepared.policy, &job.facts, &job.agents),
            "candidate": explained(&self.candidate.prepared.policy, &self.facts, &self.agents),
        })
    }
}

#[derive(Default)]
struct Tally {
    calls: u64,
    different: u64,
    /// Per (active rule, candidate rule): calls that went the same way, and differently.
    pairs: BTreeMap<(String, String), [u64; 2]>,
    examples: VecDeque<Example>,
    dropped: u64,
}

pub struct Shadow {
    /// Where the candidate is read from.
    pub path: PathBuf,
    pub current: ArcSwapOption<Serving>,
    last_error: Mutex<Option<String>>,
    tally: Mutex<Tally>,
    queue: SyncSender<Job>,
}

/// Where a decision sends the call: what "the same" compares besides the rule.
type Destination<'a> = (
    &'a str,
    &'a [Arc<str>],
    Option<&'a str>,
    Option<i64>,
    Option<&'a str>,
);

fn destination(d: &Decision) -> Destination<'_> {
    (
        d.target.name(),
        &d.numbers,
        d.queue.as_deref(),
        d.priority,
        d.flow.as_deref(),
    )
}

impl Shadow {
    /// A shadow of the candidate at `path` (not loaded yet), with its worker thread.
    pub fn new(path: PathBuf) -> Arc<Shadow> {
        let (queue, jobs) = sync_channel::<Job>(QUEUE);
        let shadow = Arc::new(Shadow {
            path,
            current: ArcSwapOption::empty(),
            last_error: Mutex::new(None),
            tally: Mutex::new(Tally::default()),
            queue,
        });
        let weak = Arc::downgrade(&shadow);
        let spawned = std::thread::Builder::new()
            .name("routec-shadow".into())
            .spawn(move || {
                // The candidate only gets the CPU the answers leave: under full load calls go
                // unshadowed (counted as dropped) rather than answers waiting.
                let idle = thread_priority::set_thread_priority_and_policy(
                    thread_priority::thread_native_id(),
                    thread_priority::ThreadPriority::Min,
                    thread_priority::ThreadSchedulePolicy::Normal(
                        thread_priority::NormalThreadSchedulePolicy::Idle,
                    ),
                );
                if let Err(e) = idle {
                    tracing::warn!("the shadow's thread runs at normal priority: {e:?}");
                }
                // Drained in batches: offering a call never wakes this thread.
                super::drain::drain(&jobs, |job| {
                    let Some(job) = job else { return true };
                    let Some(shadow) = weak.upgrade() else {
                        return false;
                    };
                    shadow.evaluate(job);
                    true
                });
            });
        if let Err(e) = spawned {
            tracing::error!("cannot start the shadow's thread: {e}; no call will be shadowed");
        }
        shadow
    }

    /// Hands a live decision to the candidate; never waits.
    pub fn offer(&self, job: Job) {
        if self.queue.try_send(job).is_err()
            && let Ok(mut tally) = self.tally.lock()
        {
            tally.dropped += 1;
        }
    }

    /// Loads the candidate again: a broken one is refused (its errors kept for `/v1/shadow`)
    /// and the one loaded before stays; the active policy is never touched.
    pub async fn reload(&self) -> Result<String, String> {
        let result = self.load().await;
        if let Ok(mut last) = self.last_error.lock() {
            *last = result.as_ref().err().cloned();
        }
        result
    }

    async fn load(&self) -> Result<String, String> {
        let files = SourceFiles::load(&self.path).map_err(|e| format!("error: {e}\n"))?;
        let (prepared, diagnostics) = crate::prepare(&files).await;
        let Some(prepared) = prepared else {
            return Err(diagnostics
                .sorted()
                .into_iter()
                .filter(|d| d.severity() == crate::diagnostic::Severity::Error)
                .map(|d| crate::diagnostic::render(&files, d, false))
                .collect());
        };
        let serving = Serving::new(prepared, &files);
        let version = serving.version.clone();
        let same = self
            .current
            .load()
            .as_ref()
            .is_some_and(|s| s.version == version);
        if !same {
            self.current.store(Some(Arc::new(serving)));
        }
        Ok(version)
    }

    fn evaluate(&self, job: Job) {
        let Some(candidate) = self.current.load_full() else {
            return;
        };
        let (active, policy) = (&job.active.prepared.policy, &candidate.prepared.policy);
        let facts = facts_for(active, policy, &job.facts);
        let agents = agents_for(active, policy, &job.agents);
        let d = crate::eval::eval(policy, &job.call, &facts, job.now, &agents);
        let active_rule = job.decision.rule.name(&active.checked).to_string();
        let candidate_rule = d.rule.name(&policy.checked).to_string();
        let same = active_rule == candidate_rule && destination(&job.decision) == destination(&d);
        let Ok(mut tally) = self.tally.lock() else {
            return;
        };
        tally.calls += 1;
        tally
            .pairs
            .entry((active_rule, candidate_rule))
            .or_default()[usize::from(!same)] += 1;
        if !same {
            tally.different += 1;
            if tally.examples.len() == EXAMPLES {
                tally.examples.pop_front();
            }
            tally.examples.push_back(Example {
                job,
                candidate,
                facts,
                agents,
            });
        }
    }

    /// What `/v1/shadow` answers.
    pub fn report(&self) -> J {
        let candidate = self.current.load();
        let last_error = self.last_error.lock().ok().and_then(|e| e.clone());
        let tally = match self.tally.lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        let pairs: Vec<J> = tally
            .pairs
            .iter()
            .map(|((a, c), [same, different])| {
                json!({"active_rule": a, "candidate_rule": c, "count": same + different,
                    "different": different})
            })
            .collect();
        json!({
            "candidate": {
                "path": self.path,
                "version": candidate.as_ref().map(|s| s.version.clone()),
                "loaded_at": candidate.as_ref().map(|s| s.loaded_at.to_string()),
                "last_reload_error": last_error,
            },
            "calls": tally.calls,
            "different": tally.different,
            "dropped": tally.dropped,
            "pairs": pairs,
            "examples": tally.examples.iter().rev().map(Example::to_json).collect::<Vec<_>>(),
        })
    }

    /// `(active rule, candidate rule, outcome, count)` for `routec_shadow_decisions_total`.
    pub fn counts(&self) -> Vec<(String, String, &'static str, u64)> {
        let Ok(tally) = self.tally.lock() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for ((a, c), [same, different]) in &tally.pairs {
            for (outcome, n) in [("same", same), ("different", different)] {
                if *n > 0 {
                    out.push((a.clone(), c.clone(), outcome, *n));
                }
            }
        }
        out
    }
}

/// The active policy's facts for the candidate: each group of the same name and the same
/// fields (names and types, in order) is given as it was; others are missing.
fn facts_for(active: &Policy, candidate: &Policy, facts: &Facts) -> Facts {
    let mut out = Facts::none(&candidate.checked);
    out.degraded = facts.degraded.clone();
    for (i, group) in candidate.checked.facts.iter().enumerate() {
        let same = active.checked.facts.iter().position(|a| {
            a.name == group.name
                && a.fields.len() == group.fields.len()
                && a.fields.iter().zip(&group.fields).all(|(x, y)| {
                    x.name == y.name
                        && type_text(&active.checked, x.ty) == type_text(&candidate.checked, y.ty)
                })
        });
        if let Some(j) = same {
            out.groups[i] = facts.groups.get(j).cloned().flatten();
        }
    }
    out
}

/// The active policy's agent snapshot for the candidate, agent by agent name.
fn agents_for(active: &Policy, candidate: &Policy, agents: &AgentSnapshot) -> AgentSnapshot {
    let (a, c) = (&active.checked, &candidate.checked);
    let mut out = AgentSnapshot::fresh(c.agents.len());
    for (i, agent) in c.agents.iter().enumerate() {
        if let Some(id) = active.agent_by_name.get(&agent.name) {
            out.agents[i] = agents.agent(*id);
        }
    }
    out.cursors = agents
        .cursors
        .iter()
        .filter_map(|(key, id)| {
            let name = &a.agents.get(id.index())?.name;
            Some((key.clone(), *candidate.agent_by_name.get(name)?))
        })
        .collect();
    out.weights = agents.weights.clone();
    out.last_agent = agents.last_agent.clone();
    out
}

/// A field's type, with an enum's variants: equal across two policies when values carry over.
fn type_text(policy: &crate::check::model::CheckedPolicy, ty: crate::check::model::Type) -> String {
    match ty {
        crate::check::model::Type::Enum(e) => {
            let e = &policy.enums[e];
            format!("{}{:?}", e.name, e.variants)
        }
        other => format!("{other:?}"),
    }
}
