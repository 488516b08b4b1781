//! Strategies: orders the available agents of a team or filter, and the state to remember.

use super::AgentSnapshot;
use crate::check::model::{AgentId, Strategy};

/// Strategy state a decision changes, applied by whoever keeps the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateUpdate {
    /// The round-robin cursor of a team (or target) now points at this agent. `members` (in
    /// rotation order) lets a shared store take the same step atomically.
    Cursor {
        key: String,
        agent: AgentId,
        members: Vec<AgentId>,
    },
    /// The smooth weighted round-robin weights of a team (or target), by member position, and
    /// the members and their weights the step was taken with.
    Weights {
        key: String,
        current: Vec<i64>,
        members: Vec<AgentId>,
        weights: Vec<i64>,
    },
}

/// Orders `members` (team order, or declaration order) by `strategy`, keeping available
/// agents only. `key` names the cursor or weights; `seed` drives `random`.
pub fn order(
    strategy: Strategy,
    members: &[AgentId],
    weights: &[u32],
    agents: &AgentSnapshot,
    key: &str,
    seed: u64,
) -> (Vec<AgentId>, Option<StateUpdate>) {
    let available = |a: &AgentId| {
        agents
            .agents
            .get(a.index())
            .is_none_or(|s| s.is_available())
    };
    match strategy {
        Strategy::Sequential | Strategy::RingAll => {
            (members.iter().copied().filter(available).collect(), None)
        }
        Strategy::RoundRobin => {
            let start = agents
                .cursors
                .get(key)
                .and_then(|last| members.iter().position(|m| m == last))
                .map_or(0, |i| i + 1);
            let n = members.len();
            let list: Vec<AgentId> = (0..n)
                .map(|i| members[(start + i) % n])
                .filter(available)
                .collect();
            let update = list.first().map(|&agent| StateUpdate::Cursor {
                key: key.to_string(),
                agent,
                members: members.to_vec(),
            });
            (list, update)
        }
        Strategy::LeastCalls => {
            let mut list: Vec<AgentId> = members.iter().copied().filter(available).collect();
            list.sort_by_key(|&a| agents.agents.get(a.index()).map_or(0, |s| s.calls_today));
            (list, None)
        }
        Strategy::LongestIdle => {
            let mut list: Vec<AgentId> = members.iter().copied().filter(available).collect();
            // Never-called agents (no last call) first, then the oldest last call.
            list.sort_by_key(|&a| agents.agents.get(a.index()).and_then(|s| s.last_call_ended));
            (list, None)
        }
        Strategy::Random => {
            let mut list: Vec<AgentId> = members.iter().copied().filter(available).collect();
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

/// Smooth weighted round robin (nginx): every available member gains its weight, the one
/// with the most current weight is picked and loses the total. The list continues the same
/// picks, each agent once; only the first pick is remembered.
fn weighted(
    members: &[AgentId],
    weights: &[u32],
    agents: &AgentSnapshot,
    key: &str,
    available: impl Fn(&AgentId) -> bool,
) -> (Vec<AgentId>, Option<StateUpdate>) {
    let mut current: Vec<i64> = agents
        .weights
        .get(key)
        .filter(|w| w.len() == members.len())
        .cloned()
        .unwrap_or_else(|| vec![0; members.len()]);
    let open: Vec<usize> = (0..members.len())
        .filter(|&i| available(&members[i]))
        .collect();
    if open.is_empty() {
        return (Vec::new(), None);
    }
    let weight = |i: usize| i64::from(weights.get(i).copied().unwrap_or(1));
    let pick = |current: &mut Vec<i64>, among: &[usize]| -> usize {
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
    let update = StateUpdate::Weights {
        key: key.to_string(),
        current: current.clone(),
        members: members.to_vec(),
        weights: (0..members.len()).map(weight).collect(),
    };
    let mut list = vec![members[first]];
    let mut scratch = current;
    let mut rest: Vec<usize> = open.iter().copied().filter(|&i| i != first).collect();
    while !rest.is_empty() {
        let next = pick(&mut scratch, &rest);
        list.push(members[next]);
        rest.retain(|&i| i != next);
    }
    (list, Some(update))
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
    use crate::eval::{AgentState, Status};

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
        let (list, update) = order(Strategy::RoundRobin, &members, &[], &s, "T", 0);
        assert_eq!(list, ids(&[0, 1, 2]));
        assert_eq!(
            update,
            Some(StateUpdate::Cursor {
                key: "T".into(),
                agent: AgentId(0),
                members: members.to_vec(),
            })
        );
        s.cursors.insert("T".into(), AgentId(0));
        s.agents[1].status = Some(Status::Busy);
        let (list, _) = order(Strategy::RoundRobin, &members, &[], &s, "T", 0);
        assert_eq!(list, ids(&[2, 0]));
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
            if let Some(StateUpdate::Weights { current, .. }) = update {
                s.weights.insert("W".into(), current);
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
        assert_eq!(list, ids(&[2, 1, 0]));
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
        assert_eq!(list, ids(&[2, 1, 0]));
    }

    #[test]
    fn random_is_a_permutation_fixed_by_the_seed() {
        let s = snapshot(5);
        let (a, _) = order(Strategy::Random, &ids(&[0, 1, 2, 3, 4]), &[], &s, "T", 42);
        let (b, _) = order(Strategy::Random, &ids(&[0, 1, 2, 3, 4]), &[], &s, "T", 42);
        assert_eq!(a, b);
        let mut sorted = a.clone();
        sorted.sort();
        assert_eq!(sorted, ids(&[0, 1, 2, 3, 4]));
    }
}
