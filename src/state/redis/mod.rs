//! The Redis store: agent state shared by any number of `routec serve` replicas. Cursors,
//! weights, reservations and counts change in Lua scripts, each atomic, so two replicas never
//! take the same round-robin step or reserve the same agent for two calls.
//!
//! Keys share one hash tag (`{PREFIX}:…`), so they live on one slot of a cluster too. When
//! Redis cannot be reached in time, decisions go on from the last state read (and this
//! replica's own changes), say `state: redis unavailable`, and events and status changes are
//! written once Redis is back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::redis::aio::ConnectionManager;
use ::redis::{AsyncCommands, Script};

use super::{
    AgentEvent, AgentSnapshot, AgentView, Ask, CallRecord, DecideContext, KnownAnswer,
    LAST_AGENT_DAYS, Reservation, Routed, Status, StoredAgent, StoredState,
};
use crate::check::model::AgentId;
use crate::compile::Policy;
use crate::degraded::Degraded;
use crate::eval::{Decision, StateUpdate};
use record::{parse_record, split_list};
use scripts::{ATTEMPT, EVENT, RESERVE, ROUND_ROBIN, WEIGHTED};

mod record;
mod scripts;

/// The longest one Redis exchange may take, whatever the request's budget.
const ROUND_TRIP: Duration = Duration::from_millis(250);
/// The least time a Redis exchange gets, even when data sources used up the request's
/// budget: a healthy Redis answers in a fraction of it, and is not reported unavailable.
const LEAST: Duration = Duration::from_millis(10);
/// How often writes held back during an outage are retried.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// The most writes held back during an outage; older ones are dropped first.
const MAX_PENDING: usize = 10_000;

/// How long a call being decided by one replica is claimed, when that replica never writes
/// its decision (it stopped): then another decides it.
const CLAIM_MS: i64 = 10_000;
/// How often a replica looks for the decision of a call another replica is deciding.
const AWAIT_EVERY: Duration = Duration::from_millis(5);

enum Pending {
    Event(AgentEvent),
    Status(String, Status),
}

pub struct RedisStore {
    connection: ConnectionManager,
    prefix: String,
    scripts: Scripts,
    /// The state last read, with this replica's own changes since: what decisions use when
    /// Redis cannot be reached.
    known: Mutex<StoredState>,
    /// Writes Redis did not take, in order, replayed when it answers again.
    pending: Mutex<VecDeque<Pending>>,
}

/// Scripts called on their own (a commit's pipeline sends its scripts' text with `EVAL`;
/// Redis keeps them compiled by hash either way).
struct Scripts {
    reserve: Script,
    event: Script,
    attempt: Script,
}

/// What a read found of the call a request is about.
#[derive(Default)]
struct CallRead {
    /// Its record, when it was decided before.
    record: Option<CallRecord>,
    /// This request claimed the call: no other replica is deciding it.
    claimed: bool,
}

impl RedisStore {
    /// Connects lazily: a server starts while Redis is down, and catches up when it is up.
    /// Spawns the task that replays held-back writes.
    pub fn connect(url: &str, key_prefix: &str) -> Result<Arc<RedisStore>, String> {
        let client = ::redis::Client::open(url).map_err(|e| format!("redis `{url}`: {e}"))?;
        let config = ::redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ROUND_TRIP))
            .set_response_timeout(Some(ROUND_TRIP))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let connection = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| format!("redis `{url}`: {e}"))?;
        let store = Arc::new(RedisStore {
            connection,
            prefix: format!("{{{key_prefix}}}"),
            scripts: Scripts {
                reserve: Script::new(RESERVE),
                event: Script::new(EVENT),
                attempt: Script::new(ATTEMPT),
            },
            known: Mutex::new(StoredState::default()),
            pending: Mutex::new(VecDeque::new()),
        });
        let weak = Arc::downgrade(&store);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY_EVERY).await;
                let Some(store) = weak.upgrade() else { return };
                store.replay().await;
            }
        });
        Ok(store)
    }

    fn key(&self, name: &str) -> String {
        format!("{}:{name}", self.prefix)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, StoredState> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn call_key(&self, sid: &str) -> String {
        self.key(&format!("call:{sid}"))
    }

    /// Reads the whole state in one round trip (the caller's last agent too). With a call,
    /// reads its record and claims it when it has none, so that no other replica decides it
    /// at the same time.
    async fn read(
        &self,
        caller: Option<&str>,
        call_sid: Option<&str>,
    ) -> Result<(StoredState, CallRead), ::redis::RedisError> {
        type Hash = std::collections::HashMap<String, String>;
        let mut con = self.connection.clone();
        let last_key = self.key(&format!("last:{}", caller.unwrap_or("")));
        let mut pipe = ::redis::pipe();
        pipe.hgetall(self.key("status"))
            .hgetall(self.key("calls"))
            .hgetall(self.key("day"))
            .hgetall(self.key("ended"))
            .hgetall(self.key("missed"))
            .hgetall(self.key("reserved"))
            .hgetall(self.key("cursors"))
            .hgetall(self.key("weights"))
            .get(last_key);
        if let Some(sid) = call_sid {
            let key = self.call_key(sid);
            pipe.hgetall(&key)
                .hset_nx(&key, "claim", claim_token())
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(CLAIM_MS)
                .arg("NX")
                .ignore();
        }
        let mut replies: Vec<::redis::Value> = pipe.query_async(&mut con).await?;
        let mut call = CallRead::default();
        if call_sid.is_some() && replies.len() == 11 {
            let claimed = replies.pop().map(::redis::from_redis_value::<bool>);
            let record = replies.pop().map(::redis::from_redis_value::<Hash>);
            call.claimed = claimed.transpose()?.unwrap_or(false);
            call.record = record.transpose()?.and_then(|h| parse_record(&h));
        }
        let (status, calls, day, ended, missed, reserved, cursors, weights, last): (
            Hash,
            Hash,
            Hash,
            Hash,
            Hash,
            Hash,
            Hash,
            Hash,
            Option<String>,
        ) = ::redis::from_redis_value(::redis::Value::Array(replies))?;
        let mut state = StoredState::default();
        let names = status
            .keys()
            .chain(calls.keys())
            .chain(ended.keys())
            .chain(missed.keys());
        for name in names {
            state
                .agents
                .entry(name.clone())
                .or_insert_with(|| StoredAgent {
                    status: status.get(name).and_then(|s| Status::from_name(s)),
                    calls_today: calls.get(name).and_then(|n| n.parse().ok()).unwrap_or(0),
                    day: day.get(name).cloned(),
                    last_call_ended: ended.get(name).and_then(|n| n.parse().ok()),
                    missed: missed.get(name).and_then(|n| n.parse().ok()).unwrap_or(0),
                });
        }
        state.reservations = reserved
            .into_iter()
            .filter_map(|(name, v)| {
                let (sid, until) = v.split_once('|')?;
                let until = until.parse().ok()?;
                Some((
                    name,
                    Reservation {
                        call_sid: sid.to_string(),
                        until,
                    },
                ))
            })
            .collect();
        state.cursors = cursors.into_iter().collect();
        state.weights = weights
            .into_iter()
            .map(|(k, v)| (k, v.split(',').filter_map(|w| w.parse().ok()).collect()))
            .collect();
        if let (Some(caller), Some(last)) = (caller, last)
            && let Some((agent, at)) = last.split_once('|')
        {
            let at = at.parse().unwrap_or(0);
            state
                .last_agent
                .insert(caller.to_string(), (agent.to_string(), at));
        }
        Ok((state, call))
    }

    /// Keeps what was read as the last known state (with the callers' last agents so far).
    fn remember(&self, mut read: StoredState) {
        let mut known = self.known();
        let mut last_agent = std::mem::take(&mut known.last_agent);
        // Bounded: callers seen by this replica, remembered only as long as they count.
        if last_agent.len() > super::MAX_CALLERS {
            last_agent.clear();
        }
        last_agent.extend(read.last_agent.drain());
        read.last_agent = last_agent;
        read.events = std::mem::take(&mut known.events);
        read.calls = std::mem::take(&mut known.calls);
        *known = read;
    }

    pub async fn decide(
        &self,
        ctx: &DecideContext<'_>,
        eval: &(dyn Fn(&AgentSnapshot) -> Decision + Sync),
    ) -> Routed {
        let ask = ctx.ask();
        let budget = exchange_limit(ctx.deadline);
        let read = tokio::time::timeout(budget, self.read(ctx.caller, ask.map(|a| a.call_sid)));
        let Ok(Ok((state, call))) = read.await else {
            return self.decide_known(ctx, eval);
        };
        if let Some(ask) = &ask
            && let Some(known) = self.known_call(ctx, ask, &call).await
        {
            self.remember(state);
            return Routed::Known(known);
        }
        let mut snapshot =
            state.snapshot(ctx.policy, ctx.caller, ctx.call_sid, &ctx.today, ctx.now_ms);
        self.remember(state);
        let mut decision = eval(&snapshot);
        if !ctx.commit {
            return Routed::Decided(decision, snapshot);
        }
        let committed = self.commit(ctx, eval, &mut snapshot, &mut decision).await;
        let mut known = self.known();
        known.apply(ctx.policy, &decision, ctx.reservation());
        ctx.record(&mut known, &decision);
        if committed.is_err() {
            decision.degraded.push(Degraded::StateUnavailable);
        }
        Routed::Decided(decision, snapshot)
    }

    /// The answer to a call decided before: a repeat's from its record, the next number after
    /// an attempt from the attempt script. A call another replica is deciding this moment is
    /// waited for, within the budget.
    async fn known_call(
        &self,
        ctx: &DecideContext<'_>,
        ask: &Ask<'_>,
        call: &CallRead,
    ) -> Option<KnownAnswer> {
        let mut record = call.record.clone();
        if record.is_none() && !call.claimed {
            record = self.await_record(ctx, ask.call_sid).await;
        }
        let record = record?;
        if let Some(known) = record.repeat(ask) {
            return Some(known);
        }
        let tried = ask.tried.filter(|_| ask.one_at_a_time)?;
        let agent = super::call::agent_of(ctx.policy, tried).unwrap_or("");
        let mut con = self.connection.clone();
        let mut script = self.scripts.attempt.prepare_invoke();
        script
            .key(self.call_key(ask.call_sid))
            .key(self.key("reserved"))
            .key(self.key("missed"))
            .key(self.key("status"))
            .key(self.key(&format!("event:{}/missed/{agent}", ask.call_sid)))
            .arg(ask.call_sid)
            .arg(tried)
            .arg(
                ctx.reservation()
                    .map(|(_, until)| until.to_string())
                    .unwrap_or_default(),
            )
            .arg(ctx.now_ms)
            .arg(86_400)
            .arg(agent);
        let answered: Result<(String, String), _> =
            within(exchange_limit(ctx.deadline), script.invoke_async(&mut con)).await;
        match answered {
            Ok((numbers, parallel)) => Some(KnownAnswer {
                numbers: split_list(&numbers),
                parallel: parallel == "1",
            }),
            // Redis went away between the read and the attempt: walk on from what was read.
            Err(_) => {
                let mut known = self.known();
                known.calls.insert(ask.call_sid.to_string(), record);
                ctx.known_call(&mut known)
            }
        }
    }

    /// The record of a call another replica claimed, once it is written; `None` when it is
    /// not in time (the call is then decided here).
    async fn await_record(&self, ctx: &DecideContext<'_>, sid: &str) -> Option<CallRecord> {
        let mut con = self.connection.clone();
        let key = self.call_key(sid);
        while Instant::now() + AWAIT_EVERY < ctx.deadline {
            tokio::time::sleep(AWAIT_EVERY).await;
            let limit = exchange_limit(ctx.deadline);
            let hash: std::collections::HashMap<String, String> =
                within(limit, con.hgetall(&key)).await.ok()?;
            if hash.is_empty() {
                return None;
            }
            if let Some(record) = parse_record(&hash) {
                return Some(record);
            }
        }
        None
    }

    /// Decides from the last known state, which this replica alone then changes.
    fn decide_known(
        &self,
        ctx: &DecideContext,
        eval: &(dyn Fn(&AgentSnapshot) -> Decision + Sync),
    ) -> Routed {
        let mut known = self.known();
        if let Some(answer) = ctx.known_call(&mut known) {
            return Routed::Known(answer);
        }
        let snapshot = known.snapshot(ctx.policy, ctx.caller, ctx.call_sid, &ctx.today, ctx.now_ms);
        let mut decision = eval(&snapshot);
        if ctx.commit {
            known.apply(ctx.policy, &decision, ctx.reservation());
            ctx.record(&mut known, &decision);
        }
        decision.degraded.push(Degraded::StateUnavailable);
        Routed::Decided(decision, snapshot)
    }

    /// Takes the decision's round-robin and weighted steps in Redis and reserves its agents,
    /// in one pipelined round trip. When another replica moved first, the step Redis took is
    /// the one that counts: the decision is made again from the state Redis had, which gives
    /// that same step, and its agents are reserved instead (one more round trip, only then).
    async fn commit(
        &self,
        ctx: &DecideContext<'_>,
        eval: &(dyn Fn(&AgentSnapshot) -> Decision + Sync),
        snapshot: &mut AgentSnapshot,
        decision: &mut Decision,
    ) -> Result<(), ::redis::RedisError> {
        let mut con = self.connection.clone();
        let reservation = ctx.reservation();
        let mut pipe = ::redis::pipe();
        for update in &decision.updates {
            match update {
                StateUpdate::Cursor { key, members, .. } => {
                    pipe.cmd("EVAL")
                        .arg(ROUND_ROBIN)
                        .arg(1)
                        .arg(self.key("cursors"))
                        .arg(&**key)
                        .arg(agent_names(ctx.policy, members))
                        .arg(availability(snapshot, members));
                }
                StateUpdate::Weights {
                    key,
                    members,
                    weights,
                    ..
                } => {
                    pipe.cmd("EVAL")
                        .arg(WEIGHTED)
                        .arg(1)
                        .arg(self.key("weights"))
                        .arg(&**key)
                        .arg(availability(snapshot, members))
                        .arg(weights.iter().map(|&w| i64::from(w)).collect::<Vec<i64>>());
                }
            }
        }
        let reserved = reservation
            .map(|_| agent_names(ctx.policy, decision.offered()))
            .filter(|w| !w.is_empty());
        if let (Some((sid, until)), Some(wanted)) = (reservation, &reserved) {
            pipe.cmd("EVAL")
                .arg(RESERVE)
                .arg(1)
                .arg(self.key("reserved"))
                .arg(sid)
                .arg(until)
                .arg(ctx.now_ms)
                .arg(wanted);
        }
        let ask = ctx.ask();
        if let Some(ask) = &ask {
            self.write_record(&mut pipe, ctx, ask, decision);
        }
        if decision.updates.is_empty() && reserved.is_none() && ask.is_none() {
            return Ok(());
        }
        let first = (decision.numbers.clone(), decision.parallel);
        let timeout = exchange_limit(ctx.deadline);
        let mut replies: Vec<::redis::Value> = within(timeout, pipe.query_async(&mut con)).await?;
        let taken_reply = reserved.as_ref().and_then(|_| replies.pop());
        let mut moved = false;
        for (update, reply) in decision.updates.iter().zip(replies) {
            let prev = <String as ::redis::FromRedisValue>::from_redis_value(reply)?;
            match update {
                StateUpdate::Cursor { key, .. } => {
                    let prev_id = ctx.policy.agent_by_name.get(&prev).copied();
                    if snapshot.cursors.get(&**key).copied() != prev_id {
                        match prev_id {
                            Some(id) => snapshot.cursors.insert(key.to_string(), id),
                            None => snapshot.cursors.remove(&**key),
                        };
                        moved = true;
                    }
                }
                StateUpdate::Weights { key, .. } => {
                    let prev: Vec<i64> = prev.split(',').filter_map(|w| w.parse().ok()).collect();
                    if snapshot.weights.get(&**key).cloned().unwrap_or_default() != prev {
                        snapshot.weights.insert(key.to_string(), prev);
                        moved = true;
                    }
                }
            }
        }
        let taken: Vec<String> = match taken_reply {
            Some(reply) => <Vec<String> as ::redis::FromRedisValue>::from_redis_value(reply)?,
            None => Vec::new(),
        };
        if moved {
            *decision = eval(snapshot);
        }
        let reserved_result = self
            .reserve_again(ctx, eval, snapshot, decision, reserved, taken)
            .await;
        // Made again after another replica moved first: the record says what was answered.
        if let Some(ask) = &ask
            && (decision.numbers.clone(), decision.parallel) != first
        {
            let mut pipe = ::redis::pipe();
            self.write_record(&mut pipe, ctx, ask, decision);
            let timeout = exchange_limit(ctx.deadline);
            within::<()>(timeout, pipe.query_async(&mut con)).await?;
        }
        reserved_result
    }

    /// Reserves the decision's agents again while other calls hold them, deciding again
    /// without those.
    async fn reserve_again(
        &self,
        ctx: &DecideContext<'_>,
        eval: &(dyn Fn(&AgentSnapshot) -> Decision + Sync),
        snapshot: &mut AgentSnapshot,
        decision: &mut Decision,
        mut reserved: Option<Vec<String>>,
        mut taken: Vec<String>,
    ) -> Result<(), ::redis::RedisError> {
        let mut con = self.connection.clone();
        let Some((sid, until)) = ctx.reservation() else {
            return Ok(());
        };
        // Again while the agents were taken by another call (each round marks at least one
        // more agent taken, so this ends), or the step moved and the decision offers others
        // than those reserved.
        for _ in 0..=ctx.policy.checked.agents.len() {
            if !taken.is_empty() {
                for name in taken.drain(..) {
                    if let Some(&id) = ctx.policy.agent_by_name.get(&name)
                        && let Some(agent) = snapshot.agents.get_mut(id.index())
                    {
                        agent.reserved = true;
                    }
                }
                *decision = eval(snapshot);
            }
            let wanted = agent_names(ctx.policy, decision.offered());
            if wanted.is_empty() || reserved.as_ref() == Some(&wanted) {
                return Ok(());
            }
            let timeout = exchange_limit(ctx.deadline);
            let mut call = self.scripts.reserve.key(self.key("reserved"));
            call.arg(sid).arg(until).arg(ctx.now_ms).arg(&wanted);
            taken = within(timeout, call.invoke_async(&mut con)).await?;
            if taken.is_empty() {
                reserved = Some(wanted);
            }
        }
        Ok(())
    }

    /// Adds the writing of a call's record, decided now, to `pipe` (no replies). The hash
    /// spells out what the attempt script reads: every number's agent, and all offered.
    fn write_record(
        &self,
        pipe: &mut ::redis::Pipeline,
        ctx: &DecideContext<'_>,
        ask: &Ask<'_>,
        decision: &Decision,
    ) {
        let record = CallRecord::new(decision, ask, ctx.call_until());
        let key = self.call_key(ask.call_sid);
        let agents: Vec<&str> = record
            .numbers
            .iter()
            .map(|n| super::call::agent_of(ctx.policy, n).unwrap_or(""))
            .collect();
        let first_key = record.first_after.clone().unwrap_or_default();
        let first = record.first_answer().join(",");
        let fields = [
            ("numbers".to_string(), record.numbers.join(",")),
            ("agents".to_string(), agents.join(",")),
            (
                "parallel".to_string(),
                u8::from(record.parallel).to_string(),
            ),
            ("offered".to_string(), first.clone()),
            ("first".to_string(), first_key.clone()),
            (format!("a:{first_key}"), first),
            ("until".to_string(), record.until.to_string()),
        ];
        pipe.del(&key)
            .ignore()
            .hset_multiple(&key, &fields)
            .ignore()
            .cmd("PEXPIREAT")
            .arg(&key)
            .arg(record.until)
            .ignore();
    }

    pub async fn event(&self, event: &AgentEvent) -> Result<bool, String> {
        match self.write_event(event).await {
            Ok(applied) => Ok(applied),
            Err(e) => {
                let applied = self.known().event(event);
                if applied {
                    self.hold(Pending::Event(event.clone()));
                }
                Err(format!("redis: {e}; kept, and written when it answers"))
            }
        }
    }

    async fn write_event(&self, event: &AgentEvent) -> Result<bool, ::redis::RedisError> {
        let mut con = self.connection.clone();
        let caller = event.caller.as_deref().unwrap_or("");
        let mut call = self.scripts.event.prepare_invoke();
        for key in ["status", "calls", "day", "ended", "missed", "reserved"] {
            call.key(self.key(key));
        }
        call.key(self.key(&format!("last:{caller}")))
            .key(self.key(&format!("event:{}", event.key())))
            .arg(event.kind.name())
            .arg(&event.agent)
            .arg(&event.today)
            .arg(event.at)
            .arg(&event.call_sid)
            .arg(caller)
            .arg(LAST_AGENT_DAYS * 86_400)
            .arg(86_400);
        let applied: i64 = within(ROUND_TRIP, call.invoke_async(&mut con)).await?;
        if applied == 1 {
            self.known().event(event);
        }
        Ok(applied == 1)
    }

    pub async fn set_status(&self, agent: &str, status: Status) -> Result<(), String> {
        self.known().set_status(agent, status);
        match self.write_status(agent, status).await {
            Ok(()) => Ok(()),
            Err(e) => {
                self.hold(Pending::Status(agent.to_string(), status));
                Err(format!("redis: {e}; kept, and written when it answers"))
            }
        }
    }

    async fn write_status(&self, agent: &str, status: Status) -> Result<(), ::redis::RedisError> {
        let mut con = self.connection.clone();
        within(
            ROUND_TRIP,
            con.hset::<_, _, _, ()>(self.key("status"), agent, status.name()),
        )
        .await
    }

    fn hold(&self, write: Pending) {
        let mut pending = self.pending();
        if pending.len() >= MAX_PENDING {
            pending.pop_front();
        }
        pending.push_back(write);
    }

    /// Writes what Redis did not take, oldest first, until it refuses again.
    async fn replay(&self) {
        loop {
            let Some(write) = self.pending().pop_front() else {
                return;
            };
            let written = match &write {
                Pending::Event(e) => self.write_event(e).await.map(|_| ()),
                Pending::Status(agent, status) => self.write_status(agent, *status).await,
            };
            if written.is_err() {
                self.pending().push_front(write);
                return;
            }
        }
    }

    /// Writes held back during an outage, not yet taken by Redis.
    pub fn pending_writes(&self) -> usize {
        self.pending().len()
    }

    pub async fn view(
        &self,
        policy: &Policy,
        today: &str,
        now_ms: i64,
    ) -> (Vec<AgentView>, Option<Degraded>) {
        match tokio::time::timeout(ROUND_TRIP, self.read(None, None)).await {
            Ok(Ok((state, _))) => {
                let view = state.view(policy, today, now_ms);
                self.remember(state);
                (view, None)
            }
            _ => (
                self.known().view(policy, today, now_ms),
                Some(Degraded::StateUnavailable),
            ),
        }
    }

    /// Whether Redis answers now.
    pub async fn ping(&self) -> bool {
        let mut con = self.connection.clone();
        within::<String>(ROUND_TRIP, ::redis::cmd("PING").query_async(&mut con))
            .await
            .is_ok()
    }
}

/// The names of agents, by id.
fn agent_names(policy: &Policy, ids: &[AgentId]) -> Vec<String> {
    ids.iter()
        .filter_map(|&a| policy.checked.agents.get(a.index()).map(|a| a.name.clone()))
        .collect()
}

/// `1` for each member available in the snapshot, `0` for the others.
fn availability(snapshot: &AgentSnapshot, members: &[AgentId]) -> String {
    members
        .iter()
        .map(|&a| {
            if snapshot
                .agents
                .get(a.index())
                .is_none_or(|s| s.is_available())
            {
                '1'
            } else {
                '0'
            }
        })
        .collect()
}

/// How long the next Redis exchange may take: what is left of the request's budget, at least
/// `LEAST` and at most `ROUND_TRIP`.
fn exchange_limit(deadline: Instant) -> Duration {
    deadline
        .saturating_duration_since(Instant::now())
        .clamp(LEAST, ROUND_TRIP)
}

async fn within<T>(
    limit: Duration,
    work: impl Future<Output = ::redis::RedisResult<T>>,
) -> ::redis::RedisResult<T> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result,
        Err(_) => Err(::redis::RedisError::from((
            ::redis::ErrorKind::Io,
            "no answer in time",
        ))),
    }
}

/// A value no other request or replica claims a call with.
fn claim_token() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{}-{nanos}-{n}", std::process::id())
}
