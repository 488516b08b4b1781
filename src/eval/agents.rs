//! Agent state as a decision reads it: each agent's status, counts and reservation, and the
//! strategies' cursors. Filled by the state store (or a test case); eval only reads it.

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

    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(_, s)| *s == self)
            .map_or("available", |(n, _)| n)
    }
}

/// One agent's state. Every part is optional: an agent with no recorded status is available.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentState {
    pub status: Option<Status>,
    pub calls_today: u32,
    pub last_call_ended: Option<jiff::Timestamp>,
    /// Offered to another call and not yet released.
    pub reserved: bool,
}

impl AgentState {
    pub fn is_available(&self) -> bool {
        !self.reserved && matches!(self.status, None | Some(Status::Available))
    }
}

/// The agent state one decision reads, indexed by agent id, plus strategy state.
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
        self.agents.get(id.index()).cloned().unwrap_or_default()
    }
}
