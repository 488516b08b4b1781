//! Agent state as a decision reads it ([`AgentStates`]): each agent's status, counts and
//! reservation, and the strategies' cursors. Read from the state store's own maps, or from a
//! [`AgentSnapshot`] a test case or a replay fills; eval only reads it.

// foldhash, not SipHash: keys are the policy's names, and a decision looks them up.
use foldhash::HashMap;

use serde::{Deserialize, Serialize};

use crate::check::model::AgentId;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Available,
    Busy,
    Offline,
    Break,
}

impl Status {
    pub const ALL: [(&'static str, Status); 4] = [
        ("available", Status::Available),
        ("busy", Status::Busy),
        ("offline", Status::Offline),
        ("break", Status::Break),
    ];

    pub fn from_name(name: &str) -> Option<Status> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, s)| *s)
    }

    /// Whether an agent with this status (`None`: none recorded) may be offered, its
    /// reservation aside.
    pub fn leaves_free(status: Option<Status>) -> bool {
        matches!(status, None | Some(Status::Available))
    }

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("available", |(n, _)| n)
    }
}

/// One agent's state. Every part is optional: an agent with no recorded status is available.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AgentState {
    pub status: Option<Status>,
    pub calls_today: u32,
    pub last_call_ended: Option<jiff::Timestamp>,
    /// Offered to another call and not yet released.
    pub reserved: bool,
}

impl AgentState {
    pub fn is_available(&self) -> bool {
        !self.reserved && Status::leaves_free(self.status)
    }
}

/// What a decision reads of the agents' state, for the agents and cursors it reaches. The state
/// store answers from its own maps, so that a decision costs the same whether the policy has
/// ten agents or a thousand; an [`AgentSnapshot`] answers from a copy.
pub trait AgentStates {
    /// The agent's state; `None` for an id past those known (available, as a default state).
    fn agent(&self, id: AgentId) -> Option<AgentState>;
    /// The agent a round-robin cursor (a team's, or an `agents where` target's) picked last.
    fn cursor(&self, key: &str) -> Option<AgentId>;
    /// A smooth weighted round robin's current weights, by member position.
    fn weights(&self, key: &str) -> Option<&[i64]>;
    /// The agent (name) the caller last spoke with: `caller.last_agent`.
    fn last_agent(&self) -> Option<&str>;

    // The parts a strategy reads of one agent, each of which a sort reads at every
    // comparison: a copy reads them in place.

    /// Whether the agent may be offered: no status, or available, and not reserved.
    fn available(&self, id: AgentId) -> bool {
        self.agent(id).is_none_or(|s| s.is_available())
    }

    fn calls_today(&self, id: AgentId) -> u32 {
        self.agent(id).map_or(0, |s| s.calls_today)
    }

    fn last_call_ended(&self, id: AgentId) -> Option<jiff::Timestamp> {
        self.agent(id).and_then(|s| s.last_call_ended)
    }
}

/// The agent state one decision reads, indexed by agent id, plus strategy state: a copy, for
/// test cases, replays and a shadow policy, which decide away from the store.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentSnapshot {
    pub agents: Vec<AgentState>,
    /// Round-robin cursors: the agent a team (or an `agents where` target) picked last.
    pub cursors: HashMap<String, AgentId>,
    /// Smooth weighted round robin: each agent's current weight, per team or target.
    pub weights: HashMap<String, Vec<i64>>,
    /// The agent (name) the caller last spoke with: `caller.last_agent`.
    pub last_agent: Option<String>,
}

impl AgentSnapshot {
    /// Every agent available, no strategy state yet.
    pub fn fresh(agents: usize) -> AgentSnapshot {
        AgentSnapshot {
            agents: vec![AgentState::default(); agents],
            ..AgentSnapshot::default()
        }
    }

    pub fn agent(&self, id: AgentId) -> AgentState {
        self.agents.get(id.index()).copied().unwrap_or_default()
    }
}

// Inline: these few loads are read at each comparison of a sort, and a crate built without
// LTO (a bench, a test) would otherwise call each of them.
impl AgentStates for AgentSnapshot {
    #[inline]
    fn agent(&self, id: AgentId) -> Option<AgentState> {
        self.agents.get(id.index()).copied()
    }

    #[inline]
    fn cursor(&self, key: &str) -> Option<AgentId> {
        self.cursors.get(key).copied()
    }

    #[inline]
    fn weights(&self, key: &str) -> Option<&[i64]> {
        self.weights.get(key).map(Vec::as_slice)
    }

    #[inline]
    fn last_agent(&self) -> Option<&str> {
        self.last_agent.as_deref()
    }

    #[inline]
    fn available(&self, id: AgentId) -> bool {
        self.agents.get(id.index()).is_none_or(|s| s.is_available())
    }

    #[inline]
    fn calls_today(&self, id: AgentId) -> u32 {
        self.agents.get(id.index()).map_or(0, |s| s.calls_today)
    }

    #[inline]
    fn last_call_ended(&self, id: AgentId) -> Option<jiff::Timestamp> {
        self.agents.get(id.index()).and_then(|s| s.last_call_ended)
    }
}
