//! The stored state as one decision reads it ([`StoredAgents`]): each agent, cursor and
//! weight looked up when the decision reaches it, or copied whole into an [`AgentSnapshot`].

use super::{DecideContext, LAST_AGENT_DAYS, StoredAgent, StoredState};
use crate::check::model::AgentId;
use crate::compile::Policy;
use crate::eval::{AgentSnapshot, AgentState, AgentStates, Status};

/// The stored state read for one call: reservations of other calls, counts of `today`, the
/// caller's last agent. Read in place, a decision costs what it reaches: a copy of every
/// agent, cursor and weight took 18 µs a decision with a thousand agents in a hundred teams
/// (README: Agent state, "A decision reads what it reaches").
pub struct StoredAgents<'a> {
    state: &'a StoredState,
    policy: &'a Policy,
    call_sid: Option<&'a str>,
    today: &'a str,
    now_ms: i64,
    last_agent: Option<&'a str>,
    /// The decision asked for the caller's last agent (`caller.last_agent`): the Redis store
    /// checks it was current only then.
    last_agent_read: std::cell::Cell<bool>,
}

impl StoredState {
    /// The state as a decision of `call_sid` from `caller` reads it, at `now_ms` on `today`.
    pub fn agents<'a>(
        &'a self,
        policy: &'a Policy,
        caller: Option<&str>,
        call_sid: Option<&'a str>,
        today: &'a str,
        now_ms: i64,
    ) -> StoredAgents<'a> {
        let last_agent = caller
            .and_then(|c| self.last_agent.get(c))
            .filter(|(name, at)| {
                policy.agent_by_name.contains_key(name)
                    && now_ms - at < LAST_AGENT_DAYS * 86_400_000
            })
            .map(|(name, _)| name.as_str());
        StoredAgents {
            state: self,
            policy,
            call_sid,
            today,
            now_ms,
            last_agent,
            last_agent_read: std::cell::Cell::new(false),
        }
    }

    /// The state as the decision `ctx` asks for reads it.
    pub fn agents_for<'a>(&'a self, ctx: &'a DecideContext<'_>) -> StoredAgents<'a> {
        self.agents(
            ctx.policy,
            ctx.caller,
            ctx.call_sid.map(smol_str::SmolStr::as_str),
            &ctx.today,
            ctx.now_ms,
        )
    }
}

impl StoredAgents<'_> {
    /// Whether the decision read the caller's last agent.
    pub fn last_agent_read(&self) -> bool {
        self.last_agent_read.get()
    }

    fn id_of(&self, name: &str) -> Option<AgentId> {
        self.policy.agent_by_name.get(name).copied()
    }

    /// A copy of the whole: every agent of the policy, every cursor and weight.
    pub fn snapshot(&self) -> AgentSnapshot {
        let agents = self
            .policy
            .checked
            .agents
            .iter()
            .map(|agent| self.state_of(&agent.name))
            .collect();
        let state = self.state;
        AgentSnapshot {
            agents,
            cursors: state
                .cursors
                .iter()
                .filter_map(|(k, name)| Some((k.clone(), self.id_of(name)?)))
                .collect(),
            weights: state
                .weights
                .iter()
                .map(|(k, w)| (k.clone(), w.clone()))
                .collect(),
            last_agent: self.last_agent.map(str::to_string),
        }
    }

    /// What is stored of the agent `id`.
    fn stored(&self, id: AgentId) -> Option<&StoredAgent> {
        let agent = self.policy.checked.agents.get(id.index())?;
        self.state.agents.get(&agent.name)
    }

    /// The state of the agent named `name`.
    pub(super) fn state_of(&self, name: &str) -> AgentState {
        let mut agent = AgentState::default();
        if let Some(stored) = self.state.agents.get(name) {
            agent.status = stored.status;
            agent.calls_today = self.calls_today_of(stored);
            agent.last_call_ended = last_call_ended_of(stored);
        }
        agent.reserved = self.reserved(name);
        agent
    }

    /// Whether the agent named `name` is held for another call: the call's own agents are not
    /// taken from it.
    fn reserved(&self, name: &str) -> bool {
        self.state
            .reservations
            .get(name)
            .is_some_and(|r| r.until > self.now_ms && Some(r.call_sid.as_str()) != self.call_sid)
    }

    /// The agent's count of calls, when it is of `today`; else none yet.
    fn calls_today_of(&self, stored: &StoredAgent) -> u32 {
        if stored.day.as_deref() == Some(self.today) {
            stored.calls_today
        } else {
            0
        }
    }
}

/// When the agent's last call ended, stored in milliseconds.
fn last_call_ended_of(stored: &StoredAgent) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(stored.last_call_ended?).ok()
}

impl AgentStates for StoredAgents<'_> {
    fn agent(&self, id: AgentId) -> Option<AgentState> {
        let agent = self.policy.checked.agents.get(id.index())?;
        Some(self.state_of(&agent.name))
    }

    fn cursor(&self, key: &str) -> Option<AgentId> {
        self.id_of(self.state.cursors.get(key)?)
    }

    fn weights(&self, key: &str) -> Option<&[i64]> {
        self.state.weights.get(key).map(Vec::as_slice)
    }

    fn last_agent(&self) -> Option<&str> {
        self.last_agent_read.set(true);
        self.last_agent
    }

    // A strategy reads this of every member: the status alone, and the reservation only when
    // the status leaves the agent free (the whole state cost twice as many instructions).
    fn available(&self, id: AgentId) -> bool {
        let Some(agent) = self.policy.checked.agents.get(id.index()) else {
            return true;
        };
        let status = self.state.agents.get(&agent.name).and_then(|s| s.status);
        Status::leaves_free(status) && !self.reserved(&agent.name)
    }

    // A sort reads these at every comparison: the agent's entry alone, not its reservation.
    fn calls_today(&self, id: AgentId) -> u32 {
        self.stored(id).map_or(0, |s| self.calls_today_of(s))
    }

    fn last_call_ended(&self, id: AgentId) -> Option<jiff::Timestamp> {
        self.stored(id).and_then(last_call_ended_of)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Reservation, Status};

    const TODAY: &str = "2026-11-24";
    const NOW: i64 = 1_000_000;

    fn policy() -> Policy {
        let text = "agent a \"+919800000001\"\nagent b \"+919800000002\"\n\
            agent c \"+919800000003\"\nagent d \"+919800000004\"\nagent e \"+919800000005\"\n\
            team T [a, b, c] strategy round_robin\nteam W [c, d] strategy weighted\n\
            otherwise -> team T or team W\n";
        let files = crate::policy_files::SourceFiles::single("p.route", text);
        crate::load(&files).0.expect("policy")
    }

    /// Every kind of entry a decision reads: statuses, counts of today and of another day,
    /// reservations of this call, of another and past their time, names no agent has.
    fn state() -> StoredState {
        let mut state = StoredState::default();
        let agent = |status, calls_today, day: &str, ended| StoredAgent {
            status,
            calls_today,
            day: Some(day.into()),
            last_call_ended: ended,
            missed: 0,
        };
        state
            .agents
            .insert("a".into(), agent(Some(Status::Busy), 3, TODAY, Some(5)));
        state
            .agents
            .insert("b".into(), agent(None, 4, "2026-11-23", None));
        state
            .agents
            .insert("gone".into(), agent(Some(Status::Busy), 1, TODAY, None));
        let held = |sid: &str, until| Reservation {
            call_sid: sid.into(),
            until,
        };
        // Free by its status, held by another call.
        state
            .agents
            .insert("c".into(), agent(Some(Status::Available), 0, TODAY, None));
        state
            .reservations
            .insert("c".into(), held("other", NOW + 1));
        state.reservations.insert("d".into(), held("this", NOW + 1));
        state.reservations.insert("e".into(), held("other", NOW));
        state
            .reservations
            .insert("gone".into(), held("other", NOW + 1));
        state.cursors.insert("T".into(), "b".into());
        state.cursors.insert("X".into(), "gone".into());
        state.weights.insert("W".into(), vec![3, -3]);
        state
            .last_agent
            .insert("+919845000001".into(), ("c".into(), NOW));
        state
    }

    #[test]
    fn what_a_decision_reads_in_place_is_its_copy() {
        let (policy, state) = (policy(), state());
        let caller = Some("+919845000001");
        let view = state.agents(&policy, caller, Some("this"), TODAY, NOW);
        let copy = view.snapshot();
        for id in AgentId::all(policy.checked.agents.len()) {
            assert_eq!(view.agent(id), Some(copy.agents[id.index()]), "{id:?}");
            assert_eq!(view.available(id), copy.available(id), "{id:?}");
            assert_eq!(view.calls_today(id), copy.calls_today(id), "{id:?}");
            assert_eq!(view.last_call_ended(id), copy.last_call_ended(id), "{id:?}");
        }
        assert_eq!(view.agent(AgentId(5)), None);
        assert_eq!(copy.agents.len(), 5);
        let [a, b, c, d, e] = [0, 1, 2, 3, 4].map(|i| copy.agents[i]);
        assert_eq!((a.status, a.calls_today), (Some(Status::Busy), 3));
        assert!(a.last_call_ended.is_some());
        assert_eq!((b.status, b.calls_today), (None, 0), "another day's count");
        assert!(c.reserved, "held by another call");
        assert!(!d.reserved, "held by this call");
        assert!(!e.reserved, "past its time");
        for key in ["T", "W", "X", "none"] {
            assert_eq!(view.cursor(key), copy.cursors.get(key).copied(), "{key}");
            assert_eq!(view.weights(key), copy.weights.get(key).map(Vec::as_slice));
        }
        assert_eq!(view.cursor("T"), Some(AgentId(1)));
        assert_eq!(view.cursor("X"), None, "no agent of the policy");
        assert_eq!(view.last_agent(), Some("c"));
        assert_eq!(copy.last_agent.as_deref(), Some("c"));
        let stranger = state.agents(&policy, Some("+919845000002"), None, TODAY, NOW);
        assert_eq!(stranger.last_agent(), None);
        assert!(stranger.agent(AgentId(3)).is_some_and(|d| d.reserved));
    }

    /// The store's decision reads the state in place and decides as on the copy.
    #[test]
    fn a_decision_in_place_is_the_decision_on_the_copy() {
        let (policy, state) = (policy(), state());
        let call = crate::call::Call::default();
        let facts = crate::facts::Facts::none(&policy.checked);
        let now = jiff::Timestamp::from_millisecond(NOW).expect("time");
        for sid in [Some("this"), Some("other"), None] {
            let view = state.agents(&policy, None, sid, TODAY, NOW);
            let in_place = crate::eval::eval(&policy, &call, &facts, now, &view);
            let on_copy = crate::eval::eval(&policy, &call, &facts, now, &view.snapshot());
            assert_eq!(in_place, on_copy, "{sid:?}");
        }
    }
}
