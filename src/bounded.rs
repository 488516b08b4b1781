//! Maps kept under a cap, for everything remembered per caller or per call: past the cap,
//! what is past its time goes, then the oldest tenth.

use std::collections::HashMap;
use std::hash::Hash;

/// Keeps `map` at `cap` entries at most: past it, the entries older than `horizon` go, and
/// if that is not enough the oldest tenth, by `at`. Amortised: one pass frees a tenth.
pub fn bound<K: Hash + Eq, V, T: Ord + Copy, S: std::hash::BuildHasher>(
    map: &mut HashMap<K, V, S>,
    cap: usize,
    horizon: T,
    at: impl Fn(&V) -> T,
) {
    if map.len() < cap {
        return;
    }
    map.retain(|_, v| at(v) > horizon);
    if map.len() >= cap {
        let mut times: Vec<T> = map.values().map(&at).collect();
        let tenth = (cap / 10).max(1).min(times.len() - 1);
        let (_, cut, _) = times.select_nth_unstable(tenth);
        let cut = *cut;
        map.retain(|_, v| at(v) > cut);
    }
}
