//! Agent state: events, status changes and decisions in; the agent state a decision reads
//! ([`StoredAgents`]) out. Kept in memory (with a snapshot file) or in Redis, shared by replicas.

mod agents;
pub mod call;
pub mod memory;
pub mod redis;

pub use crate::bounded::{Recent, bound};
pub use agents::StoredAgents;
pub use call::{Ask, CallKey, CallRecord, ForgottenCall, KnownAnswer};

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use smol_str::SmolStr;

use crate::compile::Policy;
pub use crate::eval::{AgentSnapshot, AgentState, AgentStates, Status};
use crate::eval::{Decision, StateUpdate};

/// How a store has a call decided: on the agent state it reads, as many times as another
/// replica's changes make it decide again.
pub type Evaluate<'a> = dyn Fn(&dyn AgentStates) -> Decision + Sync + 'a;

/// What a store keeps of one agent, by name (names outlive policy versions).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredAgent {
    pub status: Option<Status>,
    pub calls_today: u32,
    /// The local date `calls_today` counts (policy time zone): another day counts from 0.
    pub day: Option<String>,
    /// Milliseconds since the Unix epoch.
    pub last_call_ended: Option<i64>,
    /// Offers not answered (Exotel's "nobody answered").
    pub missed: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reservation {
    pub call_sid: String,
    /// Milliseconds since the Unix epoch.
    pub until: i64,
}

/// Everything a store keeps: the memory store's whole state (and its snapshot file), and the
/// Redis store's last known copy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct StoredState {
    // Hash maps, each looked up by name as a decision reaches an agent or a team: ordered
    // maps compared a thousand agents' names ten times a lookup (README: Agent state, "A
    // decision reads what it reaches").
    pub agents: Keyed<String, StoredAgent>,
    /// Round-robin cursors: team (or target) key → the agent picked last.
    pub cursors: Keyed<String, String>,
    pub weights: Keyed<String, Vec<i64>>,
    pub reservations: Keyed<String, Reservation>,
    /// Caller (E.164) → the agent they last spoke with, and when (ms).
    pub last_agent: Keyed<String, (String, i64)>,
    /// Events already applied (`CallSid`/kind/agent) and when (ms): a repeat changes nothing.
    pub events: Recent<Arc<str>, i64>,
    /// Calls decided, by `CallSid`: a repeated request gets the same answer.
    pub calls: Recent<CallKey, CallRecord>,
}

/// A map by keys callers send (numbers, `CallSid`s), looked up on every decision: foldhash
/// (its variant seeded per process and mixed to resist crafted keys), where SipHash cost 500
/// instructions a decision.
pub type Keyed<K, V> = HashMap<K, V, foldhash::quality::RandomState>;

/// How long a caller's last agent is remembered.
pub const LAST_AGENT_DAYS: i64 = 30;
/// The most events remembered against repeats; past it, the first applied go first.
pub const MAX_EVENTS: usize = 200_000;
/// The most callers whose last agent is remembered; past it, those heard from longest ago go.
pub const MAX_CALLERS: usize = 200_000;

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn a_day_reads_as_jiff_writes_it(days in -7_000_000i64..7_000_000) {
            let date = jiff::civil::date(1970, 1, 1)
                .checked_add(jiff::Span::new().days(days))
                .unwrap_or(jiff::civil::Date::MAX);
            let day = Day::of(date);
            proptest::prop_assert_eq!(day.as_str(), date.to_string());
            // Asked again, and after another day: from the thread's kept day, and anew.
            proptest::prop_assert_eq!(Day::of(date).to_string(), date.to_string());
            let next = date.tomorrow().unwrap_or(jiff::civil::Date::MIN);
            proptest::prop_assert_eq!(Day::of(next).to_string(), next.to_string());
            proptest::prop_assert_eq!(Day::of(date).to_string(), date.to_string());
        }
    }

    #[test]
    fn the_first_and_last_days_read_as_jiff_writes_them() {
        for date in [
            jiff::civil::Date::MIN,
            jiff::civil::Date::MAX,
            jiff::civil::date(0, 1, 1),
        ] {
            assert_eq!(Day::of(date).as_str(), date.to_string());
        }
    }

    #[test]
    fn a_bounded_map_drops_the_old_first_and_stays_under_its_cap() {
        let mut map: HashMap<u32, i64> = HashMap::new();
        for i in 0..10_000u32 {
            bound(&mut map, 1000, i64::MIN, |at| *at);
            map.insert(i, i64::from(i));
            assert!(map.len() <= 1000);
        }
        // The newest are kept.
        assert!(map.contains_key(&9_999) && !map.contains_key(&0));
        // At the cap, what is past the horizon goes first.
        let full = map.len();
        bound(&mut map, full, 9_950, |at| *at);
        assert_eq!(map.len(), 49);
    }

    #[test]
    fn a_decision_reserves_in_place_of_its_call_and_drops_what_is_past_its_time() {
        let text = "agent a \"+919800000001\"\nagent b \"+919800000002\"\n\
            agent c \"+919800000003\"\notherwise -> agent a\n";
        let files = crate::policy_files::SourceFiles::single("p.route", text);
        let policy = crate::load(&files).0.expect("policy");
        let now_ms = 1_000_000;
        let mut state = StoredState::default();
        let held = |sid: &str, until| Reservation {
            call_sid: sid.into(),
            until,
        };
        state
            .reservations
            .insert("b".into(), held("this", now_ms + 5));
        state.reservations.insert("c".into(), held("other", now_ms));
        state
            .reservations
            .insert("gone".into(), held("other", now_ms + 5));
        let ctx = DecideContext {
            policy: &policy,
            call_sid: Some(&SmolStr::new_static("this")),
            tried: None,
            one_at_a_time: false,
            caller: None,
            now_ms,
            today: Day::of(jiff::civil::date(2026, 11, 24)),
            deadline: Instant::now(),
            reserve_for: Duration::from_secs(30),
            commit: true,
            snapshot: false,
        };
        let call = crate::call::Call::default();
        let facts = crate::facts::Facts::none(&policy.checked);
        let now = jiff::Timestamp::from_millisecond(now_ms).expect("time");
        let decision = crate::eval::eval(&policy, &call, &facts, now, &AgentSnapshot::fresh(3));
        state.apply(&ctx, &decision);
        let mut held: Vec<(&str, &str, i64)> = state
            .reservations
            .iter()
            .map(|(agent, r)| (agent.as_str(), r.call_sid.as_str(), r.until))
            .collect();
        held.sort();
        // `b` was the call's before, `c` past its time; another call's stays.
        assert_eq!(
            held,
            [
                ("a", "this", now_ms + 30_000),
                ("gone", "other", now_ms + 5)
            ]
        );
    }

    #[test]
    fn every_per_call_and_per_caller_map_is_bounded() {
        let policy = crate::load(&crate::policy_files::SourceFiles::single(
            "p.route",
            "agent a \"+919800000001\"\notherwise -> agent a\n",
        ))
        .0
        .unwrap();
        let mut state = StoredState::default();
        let n = MAX_EVENTS + call::MAX_CALLS / 2;
        for i in 0..n {
            let at = i as i64;
            state.event(&AgentEvent {
                call_sid: format!("c{i}"),
                agent: "a".into(),
                kind: EventKind::Completed,
                caller: Some(format!("+9198450{i:05}")),
                at,
                today: "2026-11-24".into(),
            });
            let record = CallRecord {
                numbers: Box::new(["+919800000001".into()]),
                until: at + 3_600_000,
                ..CallRecord::default()
            };
            state.record_call(CallKey::new(&format!("c{i}")), record);
        }
        assert!(state.events.len() <= MAX_EVENTS, "{}", state.events.len());
        assert!(
            state.last_agent.len() <= MAX_CALLERS,
            "{}",
            state.last_agent.len()
        );
        assert!(
            state.calls.len() <= call::MAX_CALLS,
            "{}",
            state.calls.len()
        );
        // The newest are the ones kept.
        let last = format!("c{}", n - 1);
        assert!(state.calls.contains_key(last.as_bytes()));
        let caller = format!("+9198450{:05}", n - 1);
        let snapshot = state
            .agents(&policy, Some(&caller), None, "2026-11-24", n as i64)
            .snapshot();
        assert_eq!(snapshot.last_agent.as_deref(), Some("a"));
    }
}

/// Something Exotel reported about an agent.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentEvent {
    pub call_sid: String,
    pub agent: String,
    pub kind: EventKind,
    /// The caller (E.164), for `caller.last_agent`.
    pub caller: Option<String>,
    /// When, in ms since the epoch.
    pub at: i64,
    /// The local date at `at` in the policy's time zone.
    pub today: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// The conversation ended: the agent is free again.
    Completed,
    /// The agent was offered the call and did not answer.
    Missed,
}

impl EventKind {
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Completed => "completed",
            EventKind::Missed => "missed",
        }
    }

    /// For logs and answers.
    pub fn verb(self) -> &'static str {
        match self {
            EventKind::Completed => "completed a call",
            EventKind::Missed => "missed an offer",
        }
    }
}

impl AgentEvent {
    /// The key a repeat of this event has too.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.call_sid, self.kind.name(), self.agent)
    }
}

/// One agent as `GET /v1/agents` shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    pub name: String,
    pub number: String,
    pub status: &'static str,
    pub calls_today: u32,
    pub last_call_ended: Option<String>,
    pub missed: u32,
    /// The call the agent is reserved for.
    pub reserved_for: Option<String>,
}

/// What a decision needs of the store besides the policy.
pub struct DecideContext<'a> {
    pub policy: &'a Policy,
    pub call_sid: Option<&'a SmolStr>,
    /// The number Exotel dialled last (`DialWhomNumber`): a request after an attempt.
    pub tried: Option<&'a str>,
    /// Exotel asks again after every attempt (`fetch_after_attempt`): one number at a time.
    pub one_at_a_time: bool,
    /// The caller, E.164: whose last agent to read.
    pub caller: Option<&'a str>,
    /// Now, ms since the epoch, and the local date in the policy's time zone.
    pub now_ms: i64,
    pub today: Day,
    pub deadline: Instant,
    /// How long an offered agent stays reserved at most, when the call's events do not
    /// release it; zero: no reservations.
    pub reserve_for: Duration,
    /// Whether this decision routes a call (Connect, decide), so that its cursors move and
    /// its agents are reserved; a Passthru only reads.
    pub commit: bool,
    /// Whether the store hands back a copy of the agent state the decision read, for a
    /// shadow candidate to decide on: a copy of every agent, made only when asked.
    pub snapshot: bool,
}

/// A local date as its day's counts are keyed (`2026-11-24`), kept inline: a decision
/// needs one, and a `String` was an allocation and jiff's formatting a decision. Checked as
/// text once, when made: a decision reads it two or three times.
#[derive(Clone)]
pub struct Day(SmolStr);

impl Day {
    /// The day of `date`, kept per thread for the date last asked: every call of a day asks
    /// for the same one (written anew, 200 instructions a decision).
    pub fn of(date: jiff::civil::Date) -> Day {
        thread_local! {
            static LAST: RefCell<Option<(jiff::civil::Date, Day)>> = const { RefCell::new(None) };
        }
        LAST.with_borrow_mut(|last| match last {
            Some((known, day)) if *known == date => day.clone(),
            _ => {
                let day = Day::written(date);
                *last = Some((date, day.clone()));
                day
            }
        })
    }

    fn written(date: jiff::civil::Date) -> Day {
        let mut text = [0u8; 16];
        let mut len = 10;
        let year = i64::from(date.year());
        if (0..=9999).contains(&year) {
            let (month, day) = (i64::from(date.month()), i64::from(date.day()));
            text[..10].copy_from_slice(&crate::json_text::date(year, month, day));
        } else {
            // Years jiff writes with a sign and six digits: at most 14 bytes.
            let mut rest = &mut text[..];
            let _ = std::io::Write::write_fmt(&mut rest, format_args!("{date}"));
            len = 16 - rest.len();
        }
        Day(SmolStr::new(
            std::str::from_utf8(&text[..len]).unwrap_or_default(),
        ))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::ops::Deref for Day {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl std::fmt::Debug for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.as_str().fmt(f)
    }
}

impl DecideContext<'_> {
    /// The call and until when its offered agents are reserved, if they are.
    pub fn reservation(&self) -> Option<(&str, i64)> {
        let sid = self
            .call_sid
            .filter(|_| self.commit && !self.reserve_for.is_zero())?;
        Some((sid.as_str(), self.reserve_until()))
    }

    fn reserve_until(&self) -> i64 {
        self.now_ms + self.reserve_for.as_millis() as i64
    }

    /// A request that routes a call with a `CallSid`: one the store keeps a record of.
    pub fn ask(&self) -> Option<Ask<'_>> {
        Some(Ask {
            call_sid: self.call_sid.filter(|_| self.commit)?.as_str(),
            tried: self.tried,
            one_at_a_time: self.one_at_a_time,
        })
    }

    /// Until when a call decided now is remembered: as long as its reservations, at least
    /// an hour.
    pub fn call_until(&self) -> i64 {
        self.reserve_until().max(self.now_ms + call::KEEP_CALL_MS)
    }

    /// The answer to a call decided before, from `state`; `None`: decide it now.
    pub fn known_call(&self, state: &mut StoredState) -> Option<KnownAnswer> {
        let ask = self.ask()?;
        let until = self.reservation().map(|(_, until)| until);
        state.known_call(self.policy, &ask, self.now_ms, until, &self.today)
    }

    /// Records a call decided now (its reservations are [`StoredState::apply`]'s); hands back
    /// the call forgotten to make room, to be dropped out of the store's lock.
    pub fn record(&self, state: &mut StoredState, decision: &Decision) -> Option<ForgottenCall> {
        let ask = self.ask()?;
        let record = CallRecord::new(decision, &ask, self.call_until());
        state.record_call(CallKey::new(ask.call_sid), record)
    }
}

/// What a store knows of a call before its facts are looked up: a call decided before needs
/// none, so a repeat does not ask a CRM again.
#[derive(Debug, Clone, PartialEq)]
pub enum Prior {
    /// Decided before: this request's answer.
    Known(KnownAnswer),
    /// To be decided now, going on from what the store read to find out.
    New(Unknown),
}

/// What a store read of a call it found not decided before, so that deciding it does not
/// read again.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Unknown {
    /// Round trips made to find out (the Redis store's read of the call's record).
    round_trips: usize,
    /// The call has a record whose answers do not cover this request: decide it again.
    anew: bool,
    /// The shared store did not answer: decide on the last known state.
    unreachable: bool,
}

/// What a store answers a request with.
#[derive(Debug, Clone, PartialEq)]
// A decision is large (its lists are inline so that it allocates nothing); boxing it would
// allocate for every call, to save a copy of a few hundred bytes.
#[allow(clippy::large_enum_variant)]
pub enum Routed {
    /// Decided now, with a copy of the agent state the decision read when it was asked for
    /// ([`DecideContext::snapshot`]).
    Decided(Decision, Option<AgentSnapshot>),
    /// The call was decided before: this request's answer, from the call's record.
    Known(KnownAnswer),
}

impl StoredState {
    /// Remembers what a decision in `ctx` changed: cursors, weights, and its offered agents
    /// reserved for the call ([`DecideContext::reservation`]).
    pub fn apply(&mut self, ctx: &DecideContext, decision: &Decision) {
        self.step(ctx.policy, decision);
        self.reserve(ctx, decision);
    }

    /// Remembers the cursors and weights a decision moved.
    pub fn step(&mut self, policy: &Policy, decision: &Decision) {
        for update in &decision.updates {
            match update {
                StateUpdate::Cursor { rotation, agent } => {
                    if let Some(a) = policy.checked.agents.get(agent.index()) {
                        self.cursors
                            .insert(rotation.key.to_string(), a.name.clone());
                    }
                }
                StateUpdate::Weights { rotation, current } => {
                    self.weights
                        .insert(rotation.key.to_string(), current.to_vec());
                }
            }
        }
    }

    /// Remembers a decision's offered agents reserved for the call in `ctx`, in place of what
    /// the call held before.
    pub fn reserve(&mut self, ctx: &DecideContext, decision: &Decision) {
        if let Some((sid, until)) = ctx.reservation() {
            // A call decided again gives up what it held before. Reservations past their time
            // go too, as they reserve nothing: kept, every agent ever offered stayed in the map
            // that this walks on every decision.
            self.reservations
                .retain(|_, r| r.call_sid != sid && r.until > ctx.now_ms);
            for &agent in decision.offered() {
                if let Some(a) = ctx.policy.checked.agents.get(agent.index()) {
                    self.reservations.insert(
                        a.name.clone(),
                        Reservation {
                            call_sid: sid.to_string(),
                            until,
                        },
                    );
                }
            }
        }
    }

    /// Applies an event once: `false` when it was applied before.
    pub fn event(&mut self, event: &AgentEvent) -> bool {
        let key = event.key();
        if self.events.contains_key(key.as_str()) {
            return false;
        }
        self.events.insert(key.into(), event.at, MAX_EVENTS);
        let agent = self.agents.entry(event.agent.clone()).or_default();
        match event.kind {
            EventKind::Completed => {
                // Free again, unless a supervisor put them on a break or offline meanwhile.
                if matches!(agent.status, None | Some(Status::Busy)) {
                    agent.status = Some(Status::Available);
                }
                if agent.day.as_deref() == Some(event.today.as_str()) {
                    agent.calls_today += 1;
                } else {
                    agent.day = Some(event.today.clone());
                    agent.calls_today = 1;
                }
                agent.last_call_ended = Some(event.at);
                if let Some(caller) = &event.caller {
                    let horizon = event.at - LAST_AGENT_DAYS * 86_400_000;
                    bound(&mut self.last_agent, MAX_CALLERS, horizon, |(_, at)| *at);
                    self.last_agent
                        .insert(caller.clone(), (event.agent.clone(), event.at));
                }
                self.reservations
                    .retain(|_, r| r.call_sid != event.call_sid);
            }
            EventKind::Missed => {
                agent.missed += 1;
                let (sid, name) = (&event.call_sid, &event.agent);
                self.reservations
                    .retain(|n, r| !(n == name && &r.call_sid == sid));
            }
        }
        true
    }

    pub fn set_status(&mut self, agent: &str, status: Status) {
        self.agents.entry(agent.to_string()).or_default().status = Some(status);
    }

    /// Every agent of the policy as the API shows it.
    pub fn view(&self, policy: &Policy, today: &str, now_ms: i64) -> Vec<AgentView> {
        let read = self.agents(policy, None, None, today, now_ms);
        policy
            .checked
            .agents
            .iter()
            .map(|a| {
                // As a decision reads it, for no call in particular.
                let state = read.state_of(&a.name);
                AgentView {
                    name: a.name.clone(),
                    number: a.number.clone(),
                    status: state.status.unwrap_or(Status::Available).name(),
                    calls_today: state.calls_today,
                    last_call_ended: state.last_call_ended.map(|t| t.to_string()),
                    missed: self.agents.get(&a.name).map_or(0, |s| s.missed),
                    reserved_for: self
                        .reservations
                        .get(&a.name)
                        .filter(|r| r.until > now_ms)
                        .map(|r| r.call_sid.clone()),
                }
            })
            .collect()
    }
}

/// Where agent state is kept.
pub enum StateStore {
    Memory(Box<memory::MemoryStore>),
    Redis(std::sync::Arc<redis::RedisStore>),
}

impl StateStore {
    /// Answers a call decided before from its record, or decides it with the state as it
    /// is: `eval` may run more than once when another replica changed the state under way;
    /// the decision returned is the one committed. A store that cannot be reached in time
    /// gives the last known state and a `degraded` reason.
    pub async fn decide(&self, ctx: &DecideContext<'_>, eval: &Evaluate<'_>) -> Routed {
        match self.decided_before(ctx, true).await {
            Prior::Known(known) => Routed::Known(known),
            Prior::New(unknown) => self.decide_new(ctx, unknown, eval).await,
        }
    }

    /// The answer to a call decided before, found before the call's facts are looked up.
    /// The memory store looks only when `facts_wait` (a remote source would be asked): its
    /// `decide_new` looks again under its lock in any case. The Redis store reads the call's
    /// record when the call is likely known (a request after an attempt, or a call this
    /// replica decided), as its decision would first in any case; a call another replica
    /// decided is found by the decision's own script.
    pub async fn decided_before(&self, ctx: &DecideContext<'_>, facts_wait: bool) -> Prior {
        match self {
            StateStore::Memory(m) if facts_wait => m.decided_before(ctx),
            StateStore::Memory(_) => Prior::New(Unknown::default()),
            // Boxed: inline, the Redis step's future (over two kilobytes) would make every
            // request's future that large, the memory store's too.
            StateStore::Redis(r) => Box::pin(r.decided_before(ctx)).await,
        }
    }

    /// Has the CPU fetch where the memory store looks `sid`'s record up, for a decision that
    /// follows after some work (the call's time, its facts): see [`Recent::prefetch`]. The
    /// Redis store does nothing here: its decision waits for a round trip in any case.
    pub fn prefetch_call(&self, sid: &str) {
        if let StateStore::Memory(m) = self {
            m.prefetch_call(sid);
        }
    }

    /// Decides a call [`StateStore::decided_before`] found not decided before (as [`StateStore::decide`]).
    pub async fn decide_new(
        &self,
        ctx: &DecideContext<'_>,
        unknown: Unknown,
        eval: &Evaluate<'_>,
    ) -> Routed {
        match self {
            StateStore::Memory(m) => m.decide(ctx, eval),
            StateStore::Redis(r) => Box::pin(r.decide(ctx, unknown, eval)).await,
        }
    }

    /// Applies an event: `Ok(false)` when it was a repeat.
    pub async fn event(&self, event: &AgentEvent) -> Result<bool, String> {
        match self {
            StateStore::Memory(m) => Ok(m.event(event)),
            StateStore::Redis(r) => r.event(event).await,
        }
    }

    pub async fn set_status(&self, agent: &str, status: Status) -> Result<(), String> {
        match self {
            StateStore::Memory(m) => {
                m.set_status(agent, status);
                Ok(())
            }
            StateStore::Redis(r) => r.set_status(agent, status).await,
        }
    }

    /// Every agent's state; with the reason when it is the last known one.
    pub async fn agents(
        &self,
        policy: &Policy,
        today: &str,
        now_ms: i64,
    ) -> (Vec<AgentView>, Option<crate::degraded::Degraded>) {
        match self {
            StateStore::Memory(m) => (m.view(policy, today, now_ms), None),
            StateStore::Redis(r) => r.view(policy, today, now_ms).await,
        }
    }

    /// Whether the store answers now (the memory store always does).
    pub async fn up(&self) -> bool {
        match self {
            StateStore::Memory(_) => true,
            StateStore::Redis(r) => r.ping().await,
        }
    }

    /// Writes held back while the store could not be reached, waiting to be replayed.
    pub fn pending_writes(&self) -> usize {
        match self {
            StateStore::Memory(_) => 0,
            StateStore::Redis(r) => r.pending_writes(),
        }
    }

    /// Decisions written to a shared store: all of them, and those that took one round trip
    /// (`None` for the memory store, which makes none).
    pub fn round_trips(&self) -> Option<(u64, u64)> {
        match self {
            StateStore::Memory(_) => None,
            StateStore::Redis(r) => Some(r.fast_path()),
        }
    }

    /// Writes what must survive a restart (the memory store's snapshot file).
    pub fn save(&self) -> Result<(), String> {
        match self {
            StateStore::Memory(m) => m.save(),
            StateStore::Redis(_) => Ok(()),
        }
    }
}
