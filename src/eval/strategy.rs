//! Strategies: orders the available agents of a team or filter, and the state to remember.

use std::sync::Arc;

use smallvec::SmallVec;

use super::AgentStates;
use super::decision::Agents;
use crate::check::model::{AgentId, Strategy};
use crate::compile::Rotation;

/// Smooth weighted round-robin weights, by member position: inline up to 8 members.
pub type Weights = SmallVec<[i64; 8]>;

/// Strategy state a decision changes, applied by whoever keeps the state. The rotation (its
/// key, members and weights) is the policy's, shared, not copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUpdate {
    /// The round-robin cursor of a team (or target) now points at this agent. The members (in
    /// rotation order) let a shared store take the same step atomically.
    Cursor {
        rotation: Arc<Rotation>,
        agent: AgentId,
    },
    /// The smooth weighted round-robin weights of a team (or target), by member position; the
    /// rotation holds the members and their weights the step was taken with.
    Weights {
        rotation: Arc<Rotation>,
        current: Weights,
    },
}

/// The step a strategy took, before it is named with its team's key and members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Cursor(AgentId),
    Weights(Weights),
}

impl Step {
    /// The update to remember, for the rotation the step was taken in.
    pub fn update(self, rotation: &Arc<Rotation>) -> StateUpdate {
        let rotation = Arc::clone(rotation);
        match self {
            Step::Cursor(agent) => StateUpdate::Cursor { rotation, agent },
            Step::Weights(current) => StateUpdate::Weights { rotation, current },
        }
    }
}

impl StateUpdate {
    /// The rotation the step was taken in.
    pub fn rotation(&self) -> &Arc<Rotation> {
        match self {
            StateUpdate::Cursor { rotation, .. } | StateUpdate::Weights { rotation, .. } => {
                rotation
            }
        }
    }
}

/// Orders `members` (team order, or declaration order) by `strategy`, keeping available
/// agents only. `key` names the cursor or weights; `seed` drives `random`.
pub fn order(
    strategy: Strategy,
    members: &[AgentId],
    weights: &[u32],
    agents: &(impl AgentStates + ?Sized),
    key: &str,
    seed: u64,
) -> (Agents, Option<Step>) {
    let available = |a: &AgentId| agents.available(*a);
    let open = || -> Agents { members.iter().copied().filter(available).collect() };
    match strategy {
        Strategy::Sequential | Strategy::RingAll => (open(), None),
        Strategy::RoundRobin => {
            let start = agents
                .cursor(key)
                .and_then(|last| members.iter().position(|&m| m == last))
                .map_or(0, |i| i + 1);
            let n = members.len();
            let list: Agents = (0..n)
                .map(|i| members[(start + i) % n])
                .filter(available)
                .collect();
            let step = list.first().map(|&agent| Step::Cursor(agent));
            (list, step)
        }
        Strategy::LeastCalls => (by_key(open(), |a| agents.calls_today(a)), None),
        // Never-called agents (no last call) first, then the oldest last call.
        Strategy::LongestIdle => (by_key(open(), |a| agents.last_call_ended(a)), None),
        Strategy::Random => {
            let mut list = open();
            let mut state = seed;
            for i in (1..list.len()).rev() {
                let j = (splitmix64(&mut state) % (i as u64 + 1)) as usize;
                list.swap(i, j);
            }
            (list, None)
        }
        Strategy::Weighted => weighted(members, weights, agents, key, available),
    }
}

/// `list` in the order of `key`, members of equal keys as they were. A list of up to eight
/// reads an agent's key at each comparison, which costs less than setting the keys apart; a
/// longer one reads each key once, as a store reads it from its maps and a sort compares
/// each agent many times.
fn by_key<K: Ord>(mut list: Agents, key: impl Fn(AgentId) -> K) -> Agents {
    if list.len() <= 8 {
        list.sort_by_key(|&a| key(a));
        return list;
    }
    let mut keyed: Vec<(K, AgentId)> = list.iter().map(|&a| (key(a), a)).collect();
    keyed.sort_by(|x, y| x.0.cmp(&y.0));
    keyed.into_iter().map(|(_, a)| a).collect()
}

/// Smooth weighted round robin (nginx): every available member gains its weight, the one
/// with the most current weight is picked and loses the total. The list continues the same
/// picks, each agent once; only the first pick is remembered.
fn weighted(
    members: &[AgentId],
    weights: &[u32],
    agents: &(impl AgentStates + ?Sized),
    key: &str,
    available: impl Fn(&AgentId) -> bool,
) -> (Agents, Option<Step>) {
    let mut current: Weights = match agents.weights(key) {
        Some(w) if w.len() == members.len() => w.iter().copied().collect(),
        _ => SmallVec::from_elem(0, members.len()),
    };
    let open: SmallVec<[usize; 8]> = (0..members.len())
        .filter(|&i| available(&members[i]))
        .collect();
    if open.is_empty() {
        return (Agents::new(), None);
    }
    let weight = |i: usize| i64::from(weights.get(i).copied().unwrap_or(1));
    let pick = |current: &mut Weights, among: &[usize]| -> usize {
        let total: i64 = among.iter().map(|&i| weight(i)).sum();
        let mut best = among[0];
        for &i in among {
            current[i] += weight(i);
        }
        for &i in among {
            if current[i] > current[best] {
                best = i;
            }
        }
        current[best] -= total;
        best
    };
    let first = pick(&mut current, &open);
    let step = Step::Weights(current.clone());
    let mut list = Agents::new();
    list.push(members[first]);
    let mut scratch = current;
    let mut rest: SmallVec<[usize; 8]> = open.iter().copied().filter(|&i| i != first).collect();
    while !rest.is_empty() {
        let next = pick(&mut scratch, &rest);
        list.push(members[next]);
        rest.retain(|i| *i != next);
    }
    (list, Some(step))
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::{AgentSnapshot, AgentState, Status};

    fn snapshot(n: usize) -> AgentSnapshot {
        AgentSnapshot::fresh(n)
    }

    fn ids(list: &[u32]) -> Vec<AgentId> {
        list.iter().copied().map(AgentId).collect()
    }

    #[test]
    fn round_robin_rotates_and_skips_unavailable() {
        let mut s = snapshot(3);
        let members = ids(&[0, 1, 2]);
        let (list, step) = order(Strategy::RoundRobin, &members, &[], &s, "T", 0);
        assert_eq!(list.as_slice(), ids(&[0, 1, 2]));
        assert_eq!(step, Some(Step::Cursor(AgentId(0))));
        s.cursors.insert("T".into(), AgentId(0));
        s.agents[1].status = Some(Status::Busy);
        let (list, _) = order(Strategy::RoundRobin, &members, &[], &s, "T", 0);
        assert_eq!(list.as_slice(), ids(&[2, 0]));
    }

    #[test]
    fn smooth_weighted_round_robin_matches_nginx() {
        // Weights 5, 1, 1: nginx picks a a b a c a a.
        let members = ids(&[0, 1, 2]);
        let weights = [5, 1, 1];
        let mut s = snapshot(3);
        let mut picks = Vec::new();
        for _ in 0..7 {
            let (list, update) = order(Strategy::Weighted, &members, &weights, &s, "W", 0);
            picks.push(list[0]);
            assert_eq!(list.len(), 3);
            if let Some(Step::Weights(current)) = update {
                s.weights.insert("W".into(), current.to_vec());
            }
        }
        assert_eq!(picks, ids(&[0, 0, 1, 0, 2, 0, 0]));
    }

    #[test]
    fn longest_idle_puts_never_called_first() {
        let mut s = snapshot(3);
        s.agents[0].last_call_ended = Some("2026-11-23T09:00:00Z".parse().unwrap());
        s.agents[1].last_call_ended = Some("2026-11-23T08:00:00Z".parse().unwrap());
        let (list, _) = order(Strategy::LongestIdle, &ids(&[0, 1, 2]), &[], &s, "T", 0);
        assert_eq!(list.as_slice(), ids(&[2, 1, 0]));
    }

    #[test]
    fn least_calls_breaks_ties_by_member_order() {
        let mut s = snapshot(3);
        s.agents = vec![
            AgentState {
                calls_today: 4,
                ..Default::default()
            },
            AgentState {
                calls_today: 2,
                ..Default::default()
            },
            AgentState {
                calls_today: 2,
                ..Default::default()
            },
        ];
        let (list, _) = order(Strategy::LeastCalls, &ids(&[2, 1, 0]), &[], &s, "T", 0);
        assert_eq!(list.as_slice(), ids(&[2, 1, 0]));
    }

    /// A long list is ordered as a short one is: by its key, ties in member order.
    #[test]
    fn a_long_list_is_ordered_as_a_short_one() {
        let n = 40;
        let mut s = snapshot(n);
        for (i, agent) in s.agents.iter_mut().enumerate() {
            agent.calls_today = (i * 7 % 5) as u32;
            agent.last_call_ended =
                (i % 3 != 0).then(|| jiff::Timestamp::from_second((i * 11 % 4) as i64).unwrap());
        }
        s.agents[5].status = Some(Status::Busy);
        let members: Vec<AgentId> = (0..n as u32).rev().map(AgentId).collect();
        let open: Vec<AgentId> = members.iter().copied().filter(|a| a.0 != 5).collect();
        let mut by_calls = open.clone();
        by_calls.sort_by_key(|a| s.agents[a.index()].calls_today);
        let mut by_idle = open;
        by_idle.sort_by_key(|a| s.agents[a.index()].last_call_ended);
        for (strategy, expected) in [
            (Strategy::LeastCalls, by_calls),
            (Strategy::LongestIdle, by_idle),
        ] {
            let (list, _) = order(strategy, &members, &[], &s, "T", 0);
            assert_eq!(list.to_vec(), expected, "{strategy:?}");
        }
    }

    #[test]
    fn random_is_a_permutation_fixed_by_the_seed() {
        let s = snapshot(5);
        let (a, _) = order(Strategy::Random, &ids(&[0, 1, 2, 3, 4]), &[], &s, "T", 42);
        let (b, _) = order(Strategy::Random, &ids(&[0, 1, 2, 3, 4]), &[], &s, "T", 42);
        assert_eq!(a, b);
        let mut sorted = a.to_vec();
        sorted.sort();
        assert_eq!(sorted, ids(&[0, 1, 2, 3, 4]));
    }
}
