//! The Redis store: agent state shared by any number of `routec serve` replicas. Cursors,
//! weights, reservations and counts change in Lua scripts, each atomic, so two replicas never
//! take the same round-robin step or reserve the same agent for two calls.
//!
//! A committing decision is made on this replica's mirror of the state and written by one
//! script, in one round trip while the mirror is fresh (`decide.rs`). Keys share one hash tag
//! (`{PREFIX}:…`), so they live on one slot of a cluster too. When Redis cannot be reached in
//! time, decisions go on from the mirror, say `state: redis unavailable`, and events and
//! status changes are written once Redis is back.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::redis::aio::ConnectionManager;

use super::{
    AgentEvent, AgentStates, AgentView, DecideContext, Evaluate, LAST_AGENT_DAYS, Reservation,
    Routed, Status, StoredAgent, StoredState, Unknown,
};
use crate::check::model::AgentId;
use crate::compile::Policy;
use crate::degraded::Degraded;
use keys::Keys;
use scripts::{Invocation, Scripts};

mod decide;
mod keys;
mod record;
mod scripts;

/// The longest one Redis exchange may take, whatever the request's budget.
const ROUND_TRIP: Duration = Duration::from_millis(250);
/// The least time a Redis exchange gets, even when data sources used up the request's
/// budget: a healthy Redis answers in a fraction of it, and is not reported unavailable.
const LEAST: Duration = Duration::from_millis(10);
/// How long a replica not heard from is taken to be gone.
const REPLICA_GONE_MS: i64 = 3_000;
/// How often writes held back during an outage are retried (and replicas say they are alive).
const RETRY_EVERY: Duration = Duration::from_millis(500);
/// The most writes held back during an outage; older ones are dropped first.
const MAX_PENDING: usize = 10_000;

enum Pending {
    Event(AgentEvent),
    Status(String, Status),
}

pub struct RedisStore {
    connection: ConnectionManager,
    keys: Keys,
    scripts: Scripts,
    /// The mirror: the state last read, with this replica's own changes since. Decisions are
    /// made on it, and when Redis cannot be reached, go on from it.
    known: Mutex<Mirror>,
    /// Writes Redis did not take, in order, replayed when it answers again.
    pending: Mutex<VecDeque<Pending>>,
    /// How often a committing decision took one round trip.
    fast_path: FastPath,
    /// This replica's name on the steps channel: its own changes are in its mirror already.
    origin: String,
    /// Other replicas share the state: their steps are worth following.
    others: std::sync::atomic::AtomicBool,
}

struct Mirror {
    state: StoredState,
    /// The version of the state in Redis the mirror has all the changes of; empty: none.
    version: String,
    /// How many decisions were made on the mirror: which one was made last.
    decided: u64,
}

/// Counts of committing decisions written (not answered from a call's record): all, and those
/// that took one round trip.
#[derive(Default)]
struct FastPath {
    all: std::sync::atomic::AtomicU64,
    fast: std::sync::atomic::AtomicU64,
}

impl FastPath {
    fn record(&self, fast: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        self.all.fetch_add(1, Relaxed);
        if fast {
            self.fast.fetch_add(1, Relaxed);
        }
    }
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
        let connection = ConnectionManager::new_lazy_with_config(client.clone(), config)
            .map_err(|e| format!("redis `{url}`: {e}"))?;
        let store = Arc::new(RedisStore {
            connection,
            keys: Keys::new(key_prefix),
            scripts: Scripts::new(),
            known: Mutex::new(Mirror {
                state: StoredState::default(),
                version: String::new(),
                decided: 0,
            }),
            pending: Mutex::new(VecDeque::new()),
            fast_path: FastPath::default(),
            origin: unique_name(),
            others: std::sync::atomic::AtomicBool::new(false),
        });
        tokio::spawn(follow_steps(client, Arc::downgrade(&store)));
        let weak = Arc::downgrade(&store);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(RETRY_EVERY).await;
                let Some(store) = weak.upgrade() else { return };
                store.replay().await;
                store.heartbeat().await;
            }
        });
        Ok(store)
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Mirror> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pending(&self) -> std::sync::MutexGuard<'_, VecDeque<Pending>> {
        self.pending.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Reads the whole state and its version in one round trip (the caller's last agent too).
    async fn read(&self, caller: Option<&str>) -> ::redis::RedisResult<(StoredState, String)> {
        let mut con = self.connection.clone();
        let mut pipe = ::redis::pipe();
        // The version first: what is read after it is at least as new.
        let keys = &self.keys;
        pipe.cmd("HMGET").arg(&keys.version).arg("epoch").arg("n");
        for key in [
            &keys.status,
            &keys.calls,
            &keys.day,
            &keys.ended,
            &keys.missed,
            &keys.reserved,
            &keys.cursors,
            &keys.weights,
        ] {
            pipe.hgetall(key);
        }
        pipe.get(keys.last(caller.unwrap_or("")));
        let mut replies: Vec<::redis::Value> = pipe.query_async(&mut con).await?;
        if replies.is_empty() {
            return Err(malformed());
        }
        let (epoch, n): (Option<String>, Option<String>) =
            ::redis::from_redis_value(replies.remove(0))?;
        let version = match (epoch, n) {
            (Some(epoch), Some(n)) => format!("{epoch}:{n}"),
            _ => String::new(),
        };
        Ok((parse_state(replies, caller)?, version))
    }

    /// Keeps what was read, at `version`, as the mirror (with the callers' last agents so
    /// far; the caller's as read).
    fn remember(&self, mut read: StoredState, version: String, caller: Option<&str>) {
        let mut known = self.known();
        let mut last_agent = std::mem::take(&mut known.state.last_agent);
        // Bounded: callers seen by this replica, remembered only as long as they count.
        if last_agent.len() > super::MAX_CALLERS {
            last_agent.clear();
        }
        if let Some(caller) = caller {
            last_agent.remove(caller);
        }
        last_agent.extend(read.last_agent.drain());
        read.last_agent = last_agent;
        read.events = std::mem::take(&mut known.state.events);
        read.calls = std::mem::take(&mut known.state.calls);
        known.state = read;
        known.version = version;
    }

    /// Decides a call [`RedisStore::decided_before`] found not decided before.
    pub async fn decide(
        &self,
        ctx: &DecideContext<'_>,
        unknown: Unknown,
        eval: &Evaluate<'_>,
    ) -> Routed {
        if ctx.commit {
            return self.decide_committing(ctx, unknown, eval).await;
        }
        // A Passthru reads the state as it is now, and changes nothing.
        let read = tokio::time::timeout(exchange_limit(ctx.deadline), self.read(ctx.caller));
        let Ok(Ok((state, version))) = read.await else {
            return self.decide_known(ctx, eval);
        };
        let agents = state.agents_for(ctx);
        let decision = eval(&agents);
        let snapshot = ctx.snapshot.then(|| agents.snapshot());
        self.remember(state, version, ctx.caller);
        Routed::Decided(decision, snapshot)
    }

    /// Committing decisions written since start: all of them, and those that took one round
    /// trip.
    pub fn fast_path(&self) -> (u64, u64) {
        use std::sync::atomic::Ordering::Relaxed;
        (
            self.fast_path.all.load(Relaxed),
            self.fast_path.fast.load(Relaxed),
        )
    }

    /// Decides from the last known state, which this replica alone then changes.
    fn decide_known(&self, ctx: &DecideContext, eval: &Evaluate<'_>) -> Routed {
        let mut known = self.known();
        let known = &mut known.state;
        if let Some(answer) = ctx.known_call(known) {
            return Routed::Known(answer);
        }
        let agents = known.agents_for(ctx);
        let mut decision = eval(&agents);
        let snapshot = ctx.snapshot.then(|| agents.snapshot());
        if ctx.commit {
            known.apply(ctx, &decision);
            ctx.record(known, &decision);
        }
        decision.degraded.push(Degraded::StateUnavailable);
        Routed::Decided(decision, snapshot)
    }

    pub async fn event(&self, event: &AgentEvent) -> Result<bool, String> {
        match self.write_event(event).await {
            Ok(applied) => Ok(applied),
            Err(e) => {
                let applied = self.known().state.event(event);
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
        let keys = &self.keys;
        let (last, mark) = (keys.last(caller), keys.named(&["event:", &event.key()]));
        let mut call = Invocation::new(
            &self.scripts.event,
            &[
                &keys.status,
                &keys.calls,
                &keys.day,
                &keys.ended,
                &keys.missed,
                &keys.reserved,
                &last,
                &mark,
                &keys.version,
                &keys.steps,
            ],
        );
        call.arg(event.kind.name())
            .arg(&event.agent)
            .arg(&event.today)
            .arg(event.at)
            .arg(&event.call_sid)
            .arg(caller)
            .arg(LAST_AGENT_DAYS * 86_400)
            .arg(86_400)
            .arg(&self.origin);
        let versions: Option<(String, String)> =
            match within(ROUND_TRIP, call.invoke(&mut con)).await? {
                ::redis::Value::Int(0) => None,
                reply => Some(::redis::from_redis_value(reply)?),
            };
        let Some(versions) = versions else {
            return Ok(false);
        };
        let mut known = self.known();
        known.state.event(event);
        known.advance(versions);
        Ok(true)
    }

    pub async fn set_status(&self, agent: &str, status: Status) -> Result<(), String> {
        self.known().state.set_status(agent, status);
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
        let keys = &self.keys;
        let mut script = Invocation::new(
            &self.scripts.status,
            &[&keys.status, &keys.version, &keys.steps],
        );
        script.arg(agent).arg(status.name()).arg(&self.origin);
        let versions = within(ROUND_TRIP, script.invoke(&mut con)).await?;
        let mut known = self.known();
        known.state.set_status(agent, status);
        known.advance(versions);
        Ok(())
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

    /// Says this replica is alive, and finds out whether others are.
    async fn heartbeat(&self) {
        let now = jiff::Timestamp::now().as_millisecond();
        let key = &self.keys.replicas;
        let mut pipe = ::redis::pipe();
        pipe.zadd(key, &self.origin, now)
            .ignore()
            .zrembyscore(key, "-inf", now - REPLICA_GONE_MS)
            .ignore()
            .zcard(key)
            .pexpire(key, REPLICA_GONE_MS)
            .ignore();
        let mut con = self.connection.clone();
        if let Ok((count,)) = within::<(usize,)>(ROUND_TRIP, pipe.query_async(&mut con)).await {
            self.others
                .store(count > 1, std::sync::atomic::Ordering::Relaxed);
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
        match tokio::time::timeout(ROUND_TRIP, self.read(None)).await {
            Ok(Ok((state, version))) => {
                let view = state.view(policy, today, now_ms);
                self.remember(state, version, None);
                (view, None)
            }
            _ => (
                self.known().state.view(policy, today, now_ms),
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
    names_of(policy, ids).map(str::to_string).collect()
}

/// The names of the agents `ids`, borrowed from the policy.
fn names_of<'p>(policy: &'p Policy, ids: &'p [AgentId]) -> impl Iterator<Item = &'p str> {
    ids.iter().filter_map(|&a| {
        policy
            .checked
            .agents
            .get(a.index())
            .map(|a| a.name.as_str())
    })
}

/// `1` for each member available in `agents`, `0` for the others.
fn availability(agents: &impl AgentStates, members: &[AgentId]) -> String {
    members
        .iter()
        .map(|&a| if agents.available(a) { '1' } else { '0' })
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

/// Keeps the mirror's cursors, weights and reservations up with the other replicas' decisions,
/// from the steps channel, while there are other replicas (alone, following would only wake
/// this one for its own steps) and the store lives. Only freshness depends on it: the
/// decision script checks every step and reservation itself.
async fn follow_steps(client: ::redis::Client, store: std::sync::Weak<RedisStore>) {
    use futures_util::StreamExt;
    use std::sync::atomic::Ordering::Relaxed;
    let others =
        |store: &std::sync::Weak<RedisStore>| store.upgrade().map(|s| s.others.load(Relaxed));
    loop {
        tokio::time::sleep(RETRY_EVERY).await;
        match others(&store) {
            None => return,
            Some(false) => continue,
            Some(true) => {}
        }
        let Some(channel) = store.upgrade().map(|s| s.keys.steps.clone()) else {
            return;
        };
        let Ok(mut pubsub) = client.get_async_pubsub().await else {
            continue;
        };
        if pubsub.subscribe(&channel).await.is_err() {
            continue;
        }
        let mut messages = pubsub.into_on_message();
        let mut tick = tokio::time::interval(RETRY_EVERY);
        loop {
            tokio::select! {
                message = messages.next() => {
                    let Some(message) = message else { break };
                    let Some(store) = store.upgrade() else { return };
                    if let Ok(text) = message.get_payload::<String>() {
                        store.known().take_steps(&store.origin, &text);
                    }
                }
                _ = tick.tick() => {
                    if others(&store) != Some(true) {
                        break;
                    }
                }
            }
        }
    }
}

impl Mirror {
    /// Another replica's published changes (its own are in the mirror already).
    fn take_steps(&mut self, origin: &str, text: &str) {
        if let Some((from, changes)) = text.split_once('\n')
            && from != origin
        {
            self.take_changes(changes);
        }
    }

    /// Published changes: a decision's steps and reservations (`c`, `w`, `r` lines); an
    /// event (`e`, last), a status change (`s`) or an attempt's release, missed offer and
    /// reservations (`x`, `m`, `r`), with the versions before and after it (`v`).
    fn take_changes(&mut self, mut rest: &str) {
        let mut versions = None;
        while !rest.is_empty() {
            let (line, next) = rest.split_once('\n').unwrap_or((rest, ""));
            let mut parts = line.splitn(3, '\t');
            let (Some(kind), Some(field), Some(value)) = (parts.next(), parts.next(), parts.next())
            else {
                rest = next;
                continue;
            };
            match kind {
                "c" => {
                    self.state
                        .cursors
                        .insert(field.to_string(), value.to_string());
                }
                "w" => {
                    let weights = value.split(',').filter_map(|w| w.parse().ok()).collect();
                    self.state.weights.insert(field.to_string(), weights);
                }
                "r" => {
                    if let Some((sid, until)) = value.split_once('|')
                        && let Ok(until) = until.parse()
                    {
                        let call_sid = sid.to_string();
                        self.state
                            .reservations
                            .insert(field.to_string(), Reservation { call_sid, until });
                    }
                }
                "x" if self
                    .state
                    .reservations
                    .get(field)
                    .is_some_and(|r| r.call_sid == value) =>
                {
                    self.state.reservations.remove(field);
                }
                "m" => {
                    self.state
                        .agents
                        .entry(field.to_string())
                        .or_default()
                        .missed += 1
                }
                "v" => versions = Some((field.to_string(), value.to_string())),
                "s" => {
                    if let Some(status) = Status::from_name(value) {
                        self.state.set_status(field, status);
                    }
                }
                // The event is last: its call's sid, last, takes the rest of the message.
                "e" => {
                    if let Some(event) = published_event(&rest[2..]) {
                        self.state.event(&event);
                    }
                    break;
                }
                _ => {}
            }
            rest = next;
        }
        if let Some(versions) = versions {
            self.advance(versions);
        }
    }

    /// After a change of this replica's own, taken in the mirror too: when the mirror was at
    /// the version before it, it is now at the one after.
    fn advance(&mut self, (before, after): (String, String)) {
        if self.version == before {
            self.version = after;
        }
    }
}

/// An event as the event script publishes it: kind, agent, local date, time, caller, sid.
fn published_event(text: &str) -> Option<AgentEvent> {
    let mut parts = text.splitn(6, '\t');
    let kind = match parts.next()? {
        "completed" => super::EventKind::Completed,
        "missed" => super::EventKind::Missed,
        _ => return None,
    };
    let agent = parts.next()?.to_string();
    let today = parts.next()?.to_string();
    let at = parts.next()?.parse().ok()?;
    let caller = Some(parts.next()?)
        .filter(|c| !c.is_empty())
        .map(str::to_string);
    let call_sid = parts.next()?.to_string();
    Some(AgentEvent {
        call_sid,
        agent,
        kind,
        caller,
        at,
        today,
    })
}

/// The state from the replies of a read (or of a stale decision): status, calls, day, ended,
/// missed, reserved, cursors and weights as hashes, then the caller's last agent.
fn parse_state(
    replies: Vec<::redis::Value>,
    caller: Option<&str>,
) -> ::redis::RedisResult<StoredState> {
    type Hash = std::collections::HashMap<String, String>;
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
    if let (Some(caller), Some(last)) = (caller, last.filter(|l| !l.is_empty()))
        && let Some((agent, at)) = last.split_once('|')
    {
        let at = at.parse().unwrap_or(0);
        state
            .last_agent
            .insert(caller.to_string(), (agent.to_string(), at));
    }
    Ok(state)
}

/// A name no other replica has.
fn unique_name() -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut random = [0u8; 8];
    let _ = getrandom::fill(&mut random);
    format!("{}-{n}-{}", std::process::id(), u64::from_le_bytes(random))
}

fn malformed() -> ::redis::RedisError {
    ::redis::RedisError::from((::redis::ErrorKind::UnexpectedReturnType, "a short reply"))
}
