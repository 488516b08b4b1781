//! The memory store: agent state in this process, decisions taken one at a time under a
//! lock that is never held across an `.await`, and a snapshot file so a restart loses nothing.

use std::path::PathBuf;
use std::sync::Mutex;

use super::{
    AgentEvent, AgentView, DecideContext, Evaluate, Prior, Routed, Status, StoredState, Unknown,
};
use crate::compile::Policy;

pub struct MemoryStore {
    state: Mutex<Stored>,
    /// Where the snapshot is written (`None`: nowhere).
    file: Option<PathBuf>,
}

struct Stored {
    state: StoredState,
    /// Changed since the last snapshot.
    dirty: bool,
}

impl MemoryStore {
    pub fn new(file: Option<PathBuf>) -> MemoryStore {
        MemoryStore {
            state: Mutex::new(Stored {
                state: StoredState::default(),
                dirty: false,
            }),
            file,
        }
    }

    /// Reads the snapshot file when there is one. A file that does not read is set aside
    /// (renamed `….bad`) and the store starts empty: a restart must not stop on it.
    pub fn open(file: Option<PathBuf>) -> (MemoryStore, Option<String>) {
        let store = MemoryStore::new(file.clone());
        let Some(path) = file else {
            return (store, None);
        };
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (store, None),
            Err(e) => {
                return (
                    store,
                    Some(format!("cannot read `{}`: {e}", path.display())),
                );
            }
        };
        match serde_json::from_str::<StoredState>(&text) {
            Ok(state) => {
                store.lock().state = state;
                (store, None)
            }
            Err(e) => {
                let bad = path.with_extension("bad");
                let _ = std::fs::rename(&path, &bad);
                (
                    store,
                    Some(format!(
                        "`{}` is no agent state snapshot ({e}); starting empty, the file is now `{}`",
                        path.display(),
                        bad.display()
                    )),
                )
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Stored> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// See [`super::StateStore::prefetch_call`]. The lock is taken and let go at once: its
    /// cost was measured against the wait it saves.
    pub fn prefetch_call(&self, sid: &str) {
        self.lock().state.calls.prefetch(sid.as_bytes());
    }

    /// The answer to a call decided before (see [`super::StateStore::decided_before`]).
    pub fn decided_before(&self, ctx: &DecideContext) -> Prior {
        let mut stored = self.lock();
        match ctx.known_call(&mut stored.state) {
            Some(known) => {
                stored.dirty = true;
                Prior::Known(known)
            }
            None => Prior::New(Unknown::default()),
        }
    }

    /// Reads, decides and writes under one lock: two decisions never see the same state.
    pub fn decide(&self, ctx: &DecideContext, eval: &Evaluate<'_>) -> Routed {
        let mut stored = self.lock();
        if let Some(known) = ctx.known_call(&mut stored.state) {
            stored.dirty = true;
            return Routed::Known(known);
        }
        let agents = stored.state.agents_for(ctx);
        let decision = eval(&agents);
        let snapshot = ctx.snapshot.then(|| agents.snapshot());
        if ctx.commit {
            stored.state.apply(ctx, &decision);
            let forgotten = ctx.record(&mut stored.state, &decision);
            stored.dirty = true;
            // The other worker waits for the lock, not for the oldest call's memory to be
            // freed.
            drop(stored);
            drop(forgotten);
        }
        Routed::Decided(decision, snapshot)
    }

    pub fn event(&self, event: &AgentEvent) -> bool {
        let mut stored = self.lock();
        let applied = stored.state.event(event);
        stored.dirty |= applied;
        applied
    }

    pub fn set_status(&self, agent: &str, status: Status) {
        let mut stored = self.lock();
        stored.state.set_status(agent, status);
        stored.dirty = true;
    }

    pub fn view(&self, policy: &Policy, today: &str, now_ms: i64) -> Vec<AgentView> {
        self.lock().state.view(policy, today, now_ms)
    }

    /// A copy of the whole state.
    pub fn state(&self) -> StoredState {
        self.lock().state.clone()
    }

    /// Writes the snapshot if anything changed: to a temporary file renamed over the old one,
    /// so a crash mid-write leaves the previous snapshot whole. The state is copied under the
    /// lock and written out of it: with 100,000 calls remembered, writing the JSON under the
    /// lock held every decision for tens of milliseconds.
    pub fn save(&self) -> Result<(), String> {
        let Some(path) = &self.file else {
            return Ok(());
        };
        let state = {
            let mut stored = self.lock();
            if !stored.dirty {
                return Ok(());
            }
            stored.dirty = false;
            stored.state.clone()
        };
        let text = serde_json::to_vec(&state).map_err(|e| e.to_string())?;
        drop(state);
        let tmp = path.with_extension("tmp");
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        written.map_err(|e| {
            self.lock().dirty = true;
            format!("cannot write `{}`: {e}", path.display())
        })
    }
}
