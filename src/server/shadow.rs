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
use crate::check::model::AgentId;
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
    /// The candidate's facts and agents, when they are not the active decision's own.
    facts: Option<Facts>,
    agents: Option<AgentSnapshot>,
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
            "candidate": explained(
                &self.candidate.prepared.policy,
                self.facts.as_ref().unwrap_or(&job.facts),
                self.agents.as_ref().unwrap_or(&job.agents),
            ),
        })
    }
}

#[derive(Default)]
struct Tally {
    calls: u64,
    different: u64,
    /// Per active rule, per candidate rule: calls that went the same way, and differently.
    /// Nested so that a pair seen before is counted without allocating its names.
    pairs: BTreeMap<String, BTreeMap<String, [u64; 2]>>,
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
    &'a [smol_str::SmolStr],
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
                let mut carry = None;
                super::drain::drain(&jobs, |job| {
                    let Some(job) = job else { return true };
                    let Some(shadow) = weak.upgrade() else {
                        return false;
                    };
                    shadow.evaluate(job, &mut carry);
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

    fn evaluate(&self, job: Job, carry: &mut Option<Carry>) {
        let Some(candidate) = self.current.load_full() else {
            return;
        };
        let (active, policy) = (&job.active.prepared.policy, &candidate.prepared.policy);
        let carry = match carry {
            Some(c) if c.is_for(&job.active, &candidate) => c,
            _ => carry.insert(Carry::new(&job.active, &candidate)),
        };
        // When the candidate declares the same agents and facts (the usual edit), it reads
        // the active decision's own: nothing is copied for a call that goes the same way.
        let facts = carry.facts(&job.facts);
        let agents = carry.agents(active, policy, &job.agents);
        let d = crate::eval::eval(
            policy,
            &job.call,
            facts.as_ref().unwrap_or(&job.facts),
            job.now,
            agents.as_ref().unwrap_or(&job.agents),
        );
        let active_rule = job.decision.rule.name(&active.checked);
        let candidate_rule = d.rule.name(&policy.checked);
        let same = active_rule == candidate_rule && destination(&job.decision) == destination(&d);
        let Ok(mut tally) = self.tally.lock() else {
            return;
        };
        tally.calls += 1;
        let tally = &mut *tally;
        let per_candidate = match tally.pairs.get_mut(active_rule) {
            Some(p) => p,
            None => tally.pairs.entry(active_rule.to_string()).or_default(),
        };
        let counts = match per_candidate.get_mut(candidate_rule) {
            Some(c) => c,
            None => per_candidate.entry(candidate_rule.to_string()).or_default(),
        };
        counts[usize::from(!same)] += 1;
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
            .flat_map(|(a, per)| per.iter().map(move |(c, counts)| (a, c, counts)))
            .map(|(a, c, [same, different])| {
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
        for (a, per) in &tally.pairs {
            for (c, [same, different]) in per {
                for (outcome, n) in [("same", same), ("different", different)] {
                    if *n > 0 {
                        out.push((a.clone(), c.clone(), outcome, *n));
                    }
                }
            }
        }
        out
    }
}

/// How the active policy's facts and agents carry over to the candidate: worked out once for
/// a pair of loaded policies, not for every call.
struct Carry {
    active: Arc<Serving>,
    candidate: Arc<Serving>,
    /// Per candidate fact group, the active group of the same name and the same fields (names
    /// and types, in order); `None`: missing for the candidate. `None` for the whole: the
    /// groups are the same, so the active facts are the candidate's.
    groups: Option<Vec<Option<usize>>>,
    /// Per candidate agent, the active agent of its name; `None` for the whole: the same agents
    /// in the same order, so the active snapshot is the candidate's.
    agents: Option<Vec<Option<AgentId>>>,
}

impl Carry {
    fn new(active: &Arc<Serving>, candidate: &Arc<Serving>) -> Carry {
        let (a, c) = (&active.prepared.policy, &candidate.prepared.policy);
        let groups: Vec<Option<usize>> = c
            .checked
            .facts
            .iter()
            .map(|group| {
                a.checked.facts.iter().position(|g| {
                    g.name == group.name
                        && g.fields.len() == group.fields.len()
                        && g.fields.iter().zip(&group.fields).all(|(x, y)| {
                            x.name == y.name
                                && type_text(&a.checked, x.ty) == type_text(&c.checked, y.ty)
                        })
                })
            })
            .collect();
        let same_groups = groups.len() == a.checked.facts.len()
            && groups.iter().enumerate().all(|(i, g)| *g == Some(i));
        let agents: Vec<Option<AgentId>> = c
            .checked
            .agents
            .iter()
            .map(|agent| a.agent_by_name.get(&agent.name).copied())
            .collect();
        let same_agents = agents.len() == a.checked.agents.len()
            && agents
                .iter()
                .enumerate()
                .all(|(i, id)| id.map(|id| id.index()) == Some(i));
        Carry {
            active: Arc::clone(active),
            candidate: Arc::clone(candidate),
            groups: (!same_groups).then_some(groups),
            agents: (!same_agents).then_some(agents),
        }
    }

    fn is_for(&self, active: &Arc<Serving>, candidate: &Arc<Serving>) -> bool {
        Arc::ptr_eq(&self.active, active) && Arc::ptr_eq(&self.candidate, candidate)
    }

    /// The candidate's facts, when they are not the active ones as they are.
    fn facts(&self, facts: &Facts) -> Option<Facts> {
        let groups = self.groups.as_ref()?;
        let mut out = Facts::none(&self.candidate.prepared.policy.checked);
        out.degraded = facts.degraded.clone();
        for (i, from) in groups.iter().enumerate() {
            if let Some(j) = from {
                out.groups[i] = facts.groups.get(*j).cloned().flatten();
            }
        }
        Some(out)
    }

    /// The candidate's agent snapshot, agent by agent name, when it is not the active one as
    /// it is.
    fn agents(
        &self,
        active: &Policy,
        candidate: &Policy,
        agents: &AgentSnapshot,
    ) -> Option<AgentSnapshot> {
        let ids = self.agents.as_ref()?;
        let mut out = AgentSnapshot::fresh(ids.len());
        for (i, id) in ids.iter().enumerate() {
            if let Some(id) = id {
                out.agents[i] = agents.agent(*id);
            }
        }
        out.cursors = agents
            .cursors
            .iter()
            .filter_map(|(key, id)| {
                let name = &active.checked.agents.get(id.index())?.name;
                Some((key.clone(), *candidate.agent_by_name.get(name)?))
            })
            .collect();
        out.weights = agents.weights.clone();
        out.last_agent = agents.last_agent.clone();
        Some(out)
    }
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
