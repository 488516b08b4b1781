//! A committing decision on the Redis store: decided on this replica's mirror of the state and
//! written by one script in one round trip; decided again from what Redis answers when another
//! replica changed what the decision read.

use ::redis::Value;
use smallvec::SmallVec;
use smol_str::SmolStr;

use super::record::{RecordText, parse_record, split_list};
use super::scripts::Invocation;
use super::{Mirror, RedisStore, agent_names, availability, exchange_limit, names_of, within};
use crate::check::model::AgentId;
use crate::degraded::Degraded;
use crate::eval::{AgentStates, Decision, StateUpdate, Weights};
use crate::state::{
    AgentSnapshot, Ask, CallKey, CallRecord, DecideContext, Evaluate, KnownAnswer, Prior, Routed,
    Unknown,
};

/// How many times a decision is made again on a fresher state before its script is told to
/// take any version: the steps and reservations stay atomic, as they were before the mirror.
const FRESH_ROUNDS: usize = 2;

/// Where one step of a decision started.
#[derive(PartialEq)]
enum Read {
    Cursor(Option<AgentId>),
    Weights(Weights),
}

/// What the decision script answered.
enum Reply {
    /// The call was decided before: its record.
    Known(CallRecord),
    /// The state changed since the mirror's version: the state now, and its version.
    Stale(Vec<Value>, String),
    /// Written: the cursors and weights as they were before the steps, and the agents other
    /// calls hold (then none were reserved).
    Written {
        prevs: Vec<String>,
        taken: Vec<String>,
    },
}

/// What a decision was made on, to be sent with it.
struct Basis {
    /// A copy of the agent state: made with the decision when the request asks for one (a
    /// shadow's), or later from the mirror when the decision is made again. Made for every
    /// decision, it copied every agent, cursor and weight under the mirror's lock.
    snapshot: Option<AgentSnapshot>,
    /// The cursor or weights each of the decision's steps started from, as the decision read
    /// them: Redis answers where it started, and a difference means another replica moved it.
    read: SmallVec<[Read; 2]>,
    /// Which members of each step's rotation were available (`1`) or not (`0`).
    masks: SmallVec<[String; 2]>,
    decision: Decision,
    /// The mirror's version (`*` in the last round: any).
    version: String,
    /// The caller's last agent in the mirror, as Redis keeps it (`agent|ms`), or empty; `*`
    /// when the decision did not read it.
    last_agent: String,
    /// Which decision on the mirror this was (`Mirror::decided`).
    made: u64,
}

impl RedisStore {
    /// The answer to a call decided before, when the call is likely known: a request after an
    /// attempt, or a call this replica decided. Their record is read first, before the call's
    /// facts are looked up; other calls go straight to the decision, whose script answers
    /// with the record of a call another replica decided.
    pub async fn decided_before(&self, ctx: &DecideContext<'_>) -> Prior {
        let mut unknown = Unknown::default();
        let Some(ask) = ctx.ask() else {
            return Prior::New(unknown);
        };
        let sid = ask.call_sid.as_bytes();
        if ask.tried.is_none() && !self.known().state.calls.contains_key(sid) {
            return Prior::New(unknown);
        }
        unknown.round_trips = 1;
        let mut con = self.connection.clone();
        let key = self.keys.record(ask.call_sid);
        let read = within(exchange_limit(ctx.deadline), async {
            let text: Option<String> = ::redis::AsyncCommands::get(&mut con, &key).await?;
            Ok(text.as_deref().and_then(parse_record))
        });
        match read.await {
            Ok(Some(record)) => match self.known_call(ctx, &ask, record).await {
                Some(known) => return Prior::Known(known),
                None => unknown.anew = true,
            },
            Ok(None) => {}
            Err(_) => {
                // Redis went away: the mirror's record answers, or the call is decided on the
                // last known state.
                if let Some(known) = ctx.known_call(&mut self.known().state) {
                    return Prior::Known(known);
                }
                unknown.unreachable = true;
            }
        }
        Prior::New(unknown)
    }

    /// Decides a call that is routed now: its steps taken and its agents reserved in Redis, in
    /// one round trip when the mirror is fresh and no other replica moved the same cursor.
    pub(super) async fn decide_committing(
        &self,
        ctx: &DecideContext<'_>,
        unknown: Unknown,
        eval: &Evaluate<'_>,
    ) -> Routed {
        if unknown.unreachable {
            return self.decide_known(ctx, eval);
        }
        let ask = ctx.ask();
        let mut anew = unknown.anew;
        // Round trips before the decision script's.
        let mut before = unknown.round_trips;
        for round in 0..=FRESH_ROUNDS {
            let (mut basis, reply) = self
                .decide_and_send(ctx, eval, round == FRESH_ROUNDS, anew)
                .await;
            match reply {
                Ok(Reply::Written { prevs, taken }) => {
                    let alone = before == 0;
                    let (made_again, settled) = self
                        .settle(ctx, eval, &mut basis, prevs, taken, alone)
                        .await;
                    let mut known = self.known();
                    // The mirror took the decision's steps and reservations when it was made.
                    // Made again, it takes the steps Redis took, unless a later decision took
                    // its own there since (Redis takes those after these), and the agents
                    // reserved now. Taking them again otherwise would move its cursors back
                    // and put an earlier reservation over a later one of the same agent: every
                    // decision in flight would find them moved (`benches/state.rs`, 16 at
                    // once: 3.4% made again with the reservations taken again, 16–40% with
                    // both).
                    if made_again {
                        if known.decided == basis.made {
                            known.state.step(ctx.policy, &basis.decision);
                        }
                        known.state.reserve(ctx, &basis.decision);
                    }
                    ctx.record(&mut known.state, &basis.decision);
                    if settled.is_err() {
                        basis.decision.degraded.push(Degraded::StateUnavailable);
                    }
                    return Routed::Decided(
                        basis.decision,
                        basis.snapshot.filter(|_| ctx.snapshot),
                    );
                }
                Ok(Reply::Stale(state, version)) => {
                    before += 1;
                    match super::parse_state(state, ctx.caller) {
                        Ok(state) => self.remember(state, version, ctx.caller),
                        Err(_) => self.known().version.clear(),
                    }
                }
                Ok(Reply::Known(record)) => {
                    before += 1;
                    // The mirror took this decision's steps, which Redis did not.
                    self.known().version.clear();
                    let Some(ask) = &ask else { break };
                    match self.known_call(ctx, ask, record).await {
                        Some(known) => return Routed::Known(known),
                        None => anew = true,
                    }
                }
                // Redis went away: the decision stands, made on the last known state and
                // taken in the mirror.
                Err(_) => {
                    ctx.record(&mut self.known().state, &basis.decision);
                    basis.decision.degraded.push(Degraded::StateUnavailable);
                    return Routed::Decided(
                        basis.decision,
                        basis.snapshot.filter(|_| ctx.snapshot),
                    );
                }
            }
        }
        self.decide_known(ctx, eval)
    }

    /// Decides on the mirror, takes the decision's steps in it at once (so that this replica's
    /// next decision, made before this one is written, starts from them), and hands the script
    /// to the connection before the mirror's lock is let go. So this replica's decisions reach
    /// Redis in the order the mirror took their steps: two decided on two threads at once
    /// would otherwise often arrive the other way round, and each would find the cursor moved
    /// and take more round trips.
    async fn decide_and_send(
        &self,
        ctx: &DecideContext<'_>,
        eval: &Evaluate<'_>,
        any_version: bool,
        anew: bool,
    ) -> (Basis, ::redis::RedisResult<Reply>) {
        let limit = exchange_limit(ctx.deadline);
        let (basis, sent, first) = std::future::poll_fn(|cx| {
            let mut known = self.known();
            let basis = decide_on_mirror(&mut known, ctx, eval, any_version);
            let script = self.decide_script(ctx, &basis, anew);
            let mut con = self.connection.clone();
            let mut sent = Box::pin(within(limit, async move {
                script.invoke::<Vec<Value>>(&mut con).await
            }));
            // The first poll queues the script on the connection (it waits only for the
            // answer, or for room in a full queue).
            let first = sent.as_mut().poll(cx);
            drop(known);
            std::task::Poll::Ready((basis, sent, first))
        })
        .await;
        let reply = match first {
            std::task::Poll::Ready(reply) => reply,
            std::task::Poll::Pending => sent.await,
        };
        (basis, reply.and_then(parse_reply))
    }

    /// The decision script's invocation for a decision made on `basis`.
    fn decide_script<'s>(
        &'s self,
        ctx: &DecideContext<'_>,
        basis: &Basis,
        anew: bool,
    ) -> Invocation<'s> {
        let decision = &basis.decision;
        let ask = ctx.ask();
        let keys = &self.keys;
        let record = keys.record(ask.map_or("", |a| a.call_sid));
        let last = keys.last(ctx.caller.unwrap_or(""));
        let mut script = Invocation::new(
            &self.scripts.decide,
            &[
                &keys.version,
                &keys.cursors,
                &keys.weights,
                &keys.reserved,
                &record,
                &keys.status,
                &keys.calls,
                &keys.day,
                &keys.ended,
                &keys.missed,
                &last,
                &keys.steps,
            ],
        );
        script
            .arg(&basis.version)
            .arg(&basis.last_agent)
            .arg(ask.map_or("", |a| a.call_sid))
            .arg(ctx.now_ms)
            .arg(ctx.reservation().map_or(0, |(_, until)| until))
            .arg(if anew { "1" } else { "0" })
            // Alone, no replica follows the steps channel: nothing to publish.
            .arg(if self.others.load(std::sync::atomic::Ordering::Relaxed) {
                self.origin.as_str()
            } else {
                ""
            })
            .arg(decision.updates.len());
        for (update, mask) in decision.updates.iter().zip(&basis.masks) {
            match update {
                StateUpdate::Cursor { rotation, .. } => {
                    let members = &rotation.members;
                    script.arg("r").arg(&*rotation.key).arg(members.len());
                    for name in names_of(ctx.policy, members) {
                        script.arg(name);
                    }
                    script.arg(mask);
                }
                StateUpdate::Weights { rotation, .. } => {
                    let weights = &rotation.weights;
                    script
                        .arg("w")
                        .arg(&*rotation.key)
                        .arg(mask)
                        .arg(weights.len());
                    for &weight in weights.iter() {
                        script.arg(i64::from(weight));
                    }
                }
            }
        }
        let reserved = match ctx.reservation() {
            Some(_) => decision.offered(),
            None => &[],
        };
        script.arg(reserved.len());
        for name in names_of(ctx.policy, reserved) {
            script.arg(name);
        }
        match &ask {
            Some(ask) => {
                let (text, until) = record_text(ctx, ask, decision);
                script.arg(text).arg(until);
            }
            None => {
                script.arg("");
            }
        }
        script
    }

    /// After the script (`alone`: the decision's only round trip so far): when another replica
    /// moved a cursor first, the step Redis took is
    /// the one that counts, so the decision is made again from the cursor Redis had (which
    /// gives that step); when other calls hold its agents, again without them. Its agents are
    /// then reserved and its record written again (more round trips, only then). Answers
    /// whether the decision was made again, and whether what followed was written.
    async fn settle(
        &self,
        ctx: &DecideContext<'_>,
        eval: &Evaluate<'_>,
        basis: &mut Basis,
        prevs: Vec<String>,
        taken: Vec<String>,
        alone: bool,
    ) -> (bool, Result<(), ::redis::RedisError>) {
        let Basis {
            snapshot,
            read,
            decision,
            ..
        } = basis;
        let first = (decision.numbers.clone(), decision.parallel);
        // Where Redis had each step start.
        let started: SmallVec<[Read; 2]> = decision
            .updates
            .iter()
            .zip(prevs)
            .map(|(update, prev)| match update {
                StateUpdate::Cursor { .. } => {
                    Read::Cursor(ctx.policy.agent_by_name.get(&prev).copied())
                }
                StateUpdate::Weights { .. } => {
                    Read::Weights(prev.split(',').filter_map(|w| w.parse().ok()).collect())
                }
            })
            .collect();
        let moved = started != *read;
        self.fast_path.record(alone && !moved && taken.is_empty());
        let made_again = moved || !taken.is_empty();
        if !made_again {
            return (false, Ok(()));
        }
        // What the script reserved: the first decision's agents, unless another call held one.
        let reserved = ctx
            .reservation()
            .map(|_| agent_names(ctx.policy, decision.offered()))
            .filter(|w| !w.is_empty() && taken.is_empty());
        // Made again on the state as the mirror has it now (the decision's own reservations
        // do not count against it), each step starting where Redis had it.
        let snapshot =
            snapshot.get_or_insert_with(|| self.known().state.agents_for(ctx).snapshot());
        for (update, start) in decision.updates.iter().zip(started) {
            let key = update.rotation().key.to_string();
            match start {
                Read::Cursor(Some(id)) => {
                    snapshot.cursors.insert(key, id);
                }
                Read::Cursor(None) => {
                    snapshot.cursors.remove(&key);
                }
                Read::Weights(weights) => {
                    snapshot.weights.insert(key, weights.to_vec());
                }
            }
        }
        if moved {
            *decision = eval(snapshot);
        }
        self.note_taken(ctx, &taken);
        let reserved = self
            .reserve_again(ctx, eval, snapshot, decision, reserved, taken)
            .await;
        // Made again: the record says what was answered.
        if let Some(ask) = &ctx.ask()
            && (decision.numbers.clone(), decision.parallel) != first
        {
            let mut con = self.connection.clone();
            let (text, until) = record_text(ctx, ask, decision);
            let mut set = ::redis::cmd("SET");
            set.arg(self.keys.record(ask.call_sid))
                .arg(text)
                .arg("PXAT")
                .arg(until);
            let written =
                within::<()>(exchange_limit(ctx.deadline), set.query_async(&mut con)).await;
            return (made_again, reserved.and(written));
        }
        (made_again, reserved)
    }

    /// Agents other calls hold, as far as this replica knows until the state is read again.
    fn note_taken(&self, ctx: &DecideContext<'_>, taken: &[String]) {
        let Some((_, until)) = ctx.reservation() else {
            return;
        };
        let mut known = self.known();
        for name in taken {
            known
                .state
                .reservations
                .entry(name.clone())
                .or_insert_with(|| crate::state::Reservation {
                    call_sid: String::new(),
                    until,
                });
        }
    }

    /// Reserves the decision's agents again while other calls hold them, deciding again
    /// without those. `reserved`: the agents the script reserved, if it did.
    async fn reserve_again(
        &self,
        ctx: &DecideContext<'_>,
        eval: &Evaluate<'_>,
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
            let mut call = Invocation::new(&self.scripts.reserve, &[&self.keys.reserved]);
            call.arg(sid).arg(until).arg(ctx.now_ms).arg(&wanted);
            taken = within(timeout, call.invoke(&mut con)).await?;
            self.note_taken(ctx, &taken);
            if taken.is_empty() {
                reserved = Some(wanted);
            }
        }
        Ok(())
    }

    /// The answer to a call decided before: a repeat's from its record, the next number after
    /// an attempt from the attempt script; `None`: decide it now.
    pub(super) async fn known_call(
        &self,
        ctx: &DecideContext<'_>,
        ask: &Ask<'_>,
        record: CallRecord,
    ) -> Option<KnownAnswer> {
        if let Some(known) = record.repeat(ask) {
            return Some(known);
        }
        let tried = ask.tried.filter(|_| ask.one_at_a_time)?;
        let agent = crate::state::call::agent_of(ctx.policy, tried).unwrap_or("");
        let mut con = self.connection.clone();
        let keys = &self.keys;
        let record_key = keys.record(ask.call_sid);
        let mark = keys.named(&["event:", ask.call_sid, "/missed/", agent]);
        let mut script = Invocation::new(
            &self.scripts.attempt,
            &[
                &record_key,
                &keys.reserved,
                &keys.missed,
                &keys.status,
                &mark,
                &keys.version,
                &keys.steps,
            ],
        );
        script
            .arg(ask.call_sid)
            .arg(tried)
            .arg(
                ctx.reservation()
                    .map(|(_, until)| until.to_string())
                    .unwrap_or_default(),
            )
            .arg(ctx.now_ms)
            .arg(86_400)
            .arg(agent)
            .arg(&self.origin);
        let answered: Result<Vec<String>, _> =
            within(exchange_limit(ctx.deadline), script.invoke(&mut con)).await;
        match answered {
            Ok(reply) => {
                // What the attempt changed, in the mirror as in the other replicas' ones.
                if let Some((_, changes)) = reply.get(2).and_then(|t| t.split_once('\n')) {
                    self.known().take_changes(changes);
                }
                Some(KnownAnswer {
                    numbers: reply.first().map(|n| split_list(n)).unwrap_or_default(),
                    parallel: reply.get(1).is_some_and(|p| p == "1"),
                })
            }
            // Redis went away between the read and the attempt: walk on from what was read.
            Err(_) => {
                let mut known = self.known();
                known.state.record_call(CallKey::new(ask.call_sid), record);
                ctx.known_call(&mut known.state)
            }
        }
    }
}

/// A call's record, decided now, as the text Redis keeps, and when it expires. It spells out
/// what the attempt script reads: every number's agent, and all offered. (As
/// `CallRecord::new` makes it, written straight into the text.)
fn record_text(ctx: &DecideContext<'_>, ask: &Ask<'_>, decision: &Decision) -> (String, i64) {
    let until = ctx.call_until();
    let numbers = decision.numbers.iter().map(SmolStr::as_str);
    let agents = numbers
        .clone()
        .map(|n| crate::state::call::agent_of(ctx.policy, n).unwrap_or(""));
    let first_key = ask.tried.unwrap_or_default();
    let first = crate::state::call::first_answer(decision, ask.one_at_a_time);
    let first = first.iter().map(SmolStr::as_str);
    // Each number is written up to three times, beside its agent's name.
    let mut text = RecordText::with_capacity(96 + 64 * decision.numbers.len());
    text.list(&["numbers"], numbers)
        .list(&["agents"], agents)
        .field("parallel", if decision.parallel { "1" } else { "0" })
        .list(&["offered"], first.clone())
        .field("first", first_key)
        .list(&["a:", first_key], first)
        .field("until", itoa::Buffer::new().format(until));
    (text.into_string(), until)
}

/// A decision made on the mirror, its steps taken in it.
fn decide_on_mirror(
    known: &mut Mirror,
    ctx: &DecideContext<'_>,
    eval: &Evaluate<'_>,
    any_version: bool,
) -> Basis {
    let agents = known.state.agents_for(ctx);
    let decision = eval(&agents);
    let snapshot = ctx.snapshot.then(|| agents.snapshot());
    let read = decision
        .updates
        .iter()
        .map(|update| match update {
            StateUpdate::Cursor { rotation, .. } => Read::Cursor(agents.cursor(&rotation.key)),
            StateUpdate::Weights { rotation, .. } => Read::Weights(
                agents
                    .weights(&rotation.key)
                    .map(Weights::from_slice)
                    .unwrap_or_default(),
            ),
        })
        .collect();
    let masks = decision
        .updates
        .iter()
        .map(|update| availability(&agents, &update.rotation().members))
        .collect();
    // Unread, the caller's last agent need not be current: the script does not look it up.
    let last_agent_read = agents.last_agent_read();
    known.state.apply(ctx, &decision);
    let last_agent = if last_agent_read {
        ctx.caller
            .and_then(|c| known.state.last_agent.get(c))
            .map(|(agent, at)| format!("{agent}|{at}"))
            .unwrap_or_default()
    } else {
        "*".to_string()
    };
    let version = if any_version {
        "*".to_string()
    } else {
        known.version.clone()
    };
    known.decided += 1;
    Basis {
        snapshot,
        read,
        masks,
        decision,
        version,
        last_agent,
        made: known.decided,
    }
}

fn parse_reply(mut reply: Vec<Value>) -> ::redis::RedisResult<Reply> {
    use ::redis::FromRedisValue;
    if reply.is_empty() {
        return Err(unexpected());
    }
    let tag = String::from_redis_value(reply.remove(0))?;
    match tag.as_str() {
        "known" => {
            let text = String::from_redis_value(reply.pop().ok_or_else(unexpected)?)?;
            parse_record(&text).map(Reply::Known).ok_or_else(unexpected)
        }
        "stale" if !reply.is_empty() => {
            let version = String::from_redis_value(reply.remove(0))?;
            Ok(Reply::Stale(reply, version))
        }
        "ok" if !reply.is_empty() => {
            // The number of steps, where each started, then the agents other calls hold.
            let steps: usize = String::from_redis_value(reply.remove(0))?
                .parse()
                .map_err(|_| unexpected())?;
            let mut values = Vec::<String>::from_redis_value(Value::Array(reply))?;
            if values.len() < steps {
                return Err(unexpected());
            }
            let taken = values.split_off(steps);
            Ok(Reply::Written {
                prevs: values,
                taken,
            })
        }
        _ => Err(unexpected()),
    }
}

fn unexpected() -> ::redis::RedisError {
    ::redis::RedisError::from((
        ::redis::ErrorKind::UnexpectedReturnType,
        "the decision script answered what it never answers",
    ))
}
