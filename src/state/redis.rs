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
    AgentEvent, AgentSnapshot, AgentView, DecideContext, LAST_AGENT_DAYS, Reservation, Status,
    StoredAgent, StoredState, offered,
};
use crate::compile::Policy;
use crate::eval::{Decision, StateUpdate};

/// The degraded reason of a decision made without Redis.
pub const UNAVAILABLE: &str = "state: redis unavailable";
/// The longest one Redis exchange may take, whatever the request's budget.
const ROUND_TRIP: Duration = Duration::from_millis(250);
/// The least time a Redis exchange gets, even when data sources used up the request's
/// budget: a healthy Redis answers in a fraction of it, and is not reported unavailable.
const LEAST: Duration = Duration::from_millis(10);
/// How often writes held back during an outage are retried.
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// The most writes held back during an outage; older ones are dropped first.
const MAX_PENDING: usize = 10_000;

/// Round robin: the next available member after the one picked last, as
/// `eval::strategy` does it. Returns the cursor as it was.
const ROUND_ROBIN: &str = r"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then prev = '' end
local mask = ARGV[#ARGV]
local n = #ARGV - 2
local start = 0
for i = 1, n do
  if ARGV[i + 1] == prev then start = i end
end
for j = 0, n - 1 do
  local i = ((start + j) % n) + 1
  if string.sub(mask, i, i) == '1' then
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[i + 1])
    return prev
  end
end
return prev
";

/// Smooth weighted round robin (nginx), as `eval::strategy` does it. Returns the weights as
/// they were.
const WEIGHTED: &str = r"
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if not prev then prev = '' end
local mask = ARGV[2]
local n = #ARGV - 2
local cur = {}
local count = 0
for v in string.gmatch(prev, '[^,]+') do
  count = count + 1
  cur[count] = tonumber(v)
end
if count ~= n then
  cur = {}
  for k = 1, n do cur[k] = 0 end
end
local total = 0
local best = nil
for k = 1, n do
  if string.sub(mask, k, k) == '1' then
    local w = tonumber(ARGV[k + 2])
    cur[k] = cur[k] + w
    total = total + w
    if best == nil or cur[k] > cur[best] then best = k end
  end
end
if best == nil then return prev end
cur[best] = cur[best] - total
local out = {}
for k = 1, n do out[k] = string.format('%d', cur[k]) end
redis.call('HSET', KEYS[1], ARGV[1], table.concat(out, ','))
return prev
";

/// Reserves every agent named for a call, in place of the call's earlier reservations, or
/// none: returns those reserved for another call.
const RESERVE: &str = r"
local sid, untl, now = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3])
local taken = {}
for i = 4, #ARGV do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v then
    local bar = string.find(v, '|', 1, true)
    local owner = string.sub(v, 1, bar - 1)
    local till = tonumber(string.sub(v, bar + 1))
    if owner ~= sid and till > now then table.insert(taken, ARGV[i]) end
  end
end
if #taken > 0 then return taken end
-- The call's earlier reservations (of a decision made again) give way to these.
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if string.sub(all[i + 1], 1, #sid + 1) == sid .. '|' then redis.call('HDEL', KEYS[1], all[i]) end
end
for i = 4, #ARGV do
  redis.call('HSET', KEYS[1], ARGV[i], sid .. '|' .. ARGV[2])
end
return taken
";

/// Applies an agent event once per call, kind and agent: 0 when it was a repeat.
const EVENT: &str = r"
if not redis.call('SET', KEYS[8], '1', 'NX', 'EX', ARGV[8]) then return 0 end
local kind, agent, today, at, sid, caller = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
if kind == 'completed' then
  local status = redis.call('HGET', KEYS[1], agent)
  if (not status) or status == 'busy' then redis.call('HSET', KEYS[1], agent, 'available') end
  if redis.call('HGET', KEYS[3], agent) == today then
    redis.call('HINCRBY', KEYS[2], agent, 1)
  else
    redis.call('HSET', KEYS[2], agent, 1)
    redis.call('HSET', KEYS[3], agent, today)
  end
  redis.call('HSET', KEYS[4], agent, at)
  if caller ~= '' then redis.call('SET', KEYS[7], agent .. '|' .. at, 'EX', ARGV[7]) end
else
  redis.call('HINCRBY', KEYS[5], agent, 1)
end
local all = redis.call('HGETALL', KEYS[6])
for i = 1, #all, 2 do
  local v = all[i + 1]
  if string.sub(v, 1, #sid + 1) == sid .. '|' and (kind == 'completed' or all[i] == agent) then
    redis.call('HDEL', KEYS[6], all[i])
  end
end
return 1
";

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

    /// Reads the whole state in one round trip (the caller's last agent too).
    async fn read(&self, caller: Option<&str>) -> Result<StoredState, ::redis::RedisError> {
        type Hash = std::collections::HashMap<String, String>;
        let mut con = self.connection.clone();
        let last_key = self.key(&format!("last:{}", caller.unwrap_or("")));
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
        ) = ::redis::pipe()
            .hgetall(self.key("status"))
            .hgetall(self.key("calls"))
            .hgetall(self.key("day"))
            .hgetall(self.key("ended"))
            .hgetall(self.key("missed"))
            .hgetall(self.key("reserved"))
            .hgetall(self.key("cursors"))
            .hgetall(self.key("weights"))
            .get(last_key)
            .query_async(&mut con)
            .await?;
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
        Ok(state)
    }

    /// Keeps what was read as the last known state (with the callers' last agents so far).
    fn remember(&self, mut read: StoredState) {
        let mut known = self.known();
        let mut last_agent = std::mem::take(&mut known.last_agent);
        // Bounded: callers seen by this replica, remembered only as long as they count.
        if last_agent.len() > 100_000 {
            last_agent.clear();
        }
        last_agent.extend(read.last_agent.drain());
        read.last_agent = last_agent;
        read.events = std::mem::take(&mut known.events);
        *known = read;
    }

    pub async fn decide(
        &self,
        ctx: &DecideContext<'_>,
        eval: &(dyn Fn(&AgentSnapshot) -> Decision + Sync),
    ) -> Decision {
        let budget = exchange_limit(ctx.deadline);
        let read = tokio::time::timeout(budget, self.read(ctx.caller)).await;
        let Ok(Ok(state)) = read else {
            return self.decide_known(ctx, eval);
        };
        let mut snapshot = state.snapshot(ctx.policy, ctx.caller, &ctx.today, ctx.now_ms);
        self.remember(state);
        let mut decision = eval(&snapshot);
        if !ctx.commit {
            return decision;
        }
        match self.commit(ctx, eval, &mut snapshot, &mut decision).await {
            Ok(()) => {
                self.known().apply(ctx.policy, &decision, ctx.reservation());
                decision
            }
            Err(_) => {
                self.known().apply(ctx.policy, &decision, ctx.reservation());
                decision.degraded.push(UNAVAILABLE.into());
                decision
            }
        }
    }

    /// Decides from the last known state, which this replica alone then changes.
    fn decide_known(
        &self,
        ctx: &DecideContext,
        eval: &(dyn Fn(&AgentSnapshot) -> Decision + Sync),
    ) -> Decision {
        let mut known = self.known();
        let snapshot = known.snapshot(ctx.policy, ctx.caller, &ctx.today, ctx.now_ms);
        let mut decision = eval(&snapshot);
        if ctx.commit {
            known.apply(ctx.policy, &decision, ctx.reservation());
        }
        decision.degraded.push(UNAVAILABLE.into());
        decision
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
        let names = |ids: &[usize]| -> Vec<String> {
            ids.iter()
                .filter_map(|&a| ctx.policy.checked.agents.get(a).map(|a| a.name.clone()))
                .collect()
        };
        let reservation = ctx.reservation();
        let mut pipe = ::redis::pipe();
        for update in &decision.updates {
            match update {
                StateUpdate::Cursor { key, members, .. } => {
                    pipe.cmd("EVAL")
                        .arg(ROUND_ROBIN)
                        .arg(1)
                        .arg(self.key("cursors"))
                        .arg(key)
                        .arg(names(members))
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
                        .arg(key)
                        .arg(availability(snapshot, members))
                        .arg(weights);
                }
            }
        }
        let mut reserved = reservation
            .map(|_| names(offered(decision)))
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
        if decision.updates.is_empty() && reserved.is_none() {
            return Ok(());
        }
        let timeout = exchange_limit(ctx.deadline);
        let mut replies: Vec<::redis::Value> = within(timeout, pipe.query_async(&mut con)).await?;
        let taken_reply = reserved.as_ref().and_then(|_| replies.pop());
        let mut moved = false;
        for (update, reply) in decision.updates.iter().zip(replies) {
            let prev = <String as ::redis::FromRedisValue>::from_redis_value(reply)?;
            match update {
                StateUpdate::Cursor { key, .. } => {
                    let prev_id = ctx.policy.agent_by_name.get(&prev).copied();
                    if snapshot.cursors.get(key).copied() != prev_id {
                        match prev_id {
                            Some(id) => snapshot.cursors.insert(key.clone(), id),
                            None => snapshot.cursors.remove(key),
                        };
                        moved = true;
                    }
                }
                StateUpdate::Weights { key, .. } => {
                    let prev: Vec<i64> = prev.split(',').filter_map(|w| w.parse().ok()).collect();
                    if snapshot.weights.get(key).cloned().unwrap_or_default() != prev {
                        snapshot.weights.insert(key.clone(), prev);
                        moved = true;
                    }
                }
            }
        }
        let mut taken: Vec<String> = match taken_reply {
            Some(reply) => <Vec<String> as ::redis::FromRedisValue>::from_redis_value(reply)?,
            None => Vec::new(),
        };
        if moved {
            *decision = eval(snapshot);
        }
        let Some((sid, until)) = reservation else {
            return Ok(());
        };
        // Again while the agents were taken by another call (each round marks at least one
        // more agent taken, so this ends), or the step moved and the decision offers others
        // than those reserved.
        for _ in 0..=ctx.policy.checked.agents.len() {
            if !taken.is_empty() {
                for name in taken.drain(..) {
                    if let Some(&id) = ctx.policy.agent_by_name.get(&name)
                        && let Some(agent) = snapshot.agents.get_mut(id)
                    {
                        agent.reserved = true;
                    }
                }
                *decision = eval(snapshot);
            }
            let wanted = names(offered(decision));
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
    ) -> (Vec<AgentView>, Option<String>) {
        match tokio::time::timeout(ROUND_TRIP, self.read(None)).await {
            Ok(Ok(state)) => {
                let view = state.view(policy, today, now_ms);
                self.remember(state);
                (view, None)
            }
            _ => (
                self.known().view(policy, today, now_ms),
                Some(UNAVAILABLE.into()),
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

/// `1` for each member available in the snapshot, `0` for the others.
fn availability(snapshot: &AgentSnapshot, members: &[usize]) -> String {
    members
        .iter()
        .map(|&a| {
            if snapshot.agents.get(a).is_none_or(|s| s.is_available()) {
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
