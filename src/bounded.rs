//! Maps kept under a cap, for everything remembered per caller or per call: [`bound`] sweeps
//! what is past its time, then the oldest tenth; [`Recent`] forgets the first inserted, one
//! entry for each new one.

use std::borrow::Borrow;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hash};

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};

/// Keeps `map` at `cap` entries at most: past it, the entries older than `horizon` go, and
/// if that is not enough the oldest tenth, by `at`. Amortised: one pass frees a tenth, but
/// that pass walks the whole map, so for a map written on every call, see [`Recent`].
pub fn bound<K: Hash + Eq, V, T: Ord + Copy, S: BuildHasher>(
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

/// A map of at most so many entries that forgets the key inserted first when a new key
/// comes past its cap: one entry out for one in, never a walk of the whole map. [`bound`]'s
/// sweep of a 100,000-call map held the store's lock for milliseconds, stalling every call
/// behind it. A key inserted again keeps its first place (it is as old as its first insert);
/// entries past their time stay until their turn, so readers check the time themselves.
///
/// The entries lie in a ring, first inserted first, and a small index maps each key's hash
/// to its entry's number. A new key is written at the ring's end and the first goes from its
/// start, both where the last were; only the index, 4 bytes an entry, is touched at random
/// places. As a hash map of the entries with a queue of their keys, every new call's insert
/// touched four places in 10 MB at random, the largest share of a new call's time (README:
/// Load, and Agent state, "Bounded").
#[derive(Debug, Clone)]
pub struct Recent<K, V, S = foldhash::quality::RandomState> {
    /// The entries with their keys' hashes, first inserted first.
    entries: VecDeque<(u64, K, V)>,
    /// Each entry's number, by its key's hash. Numbers count inserts from the first ever
    /// (wrapping), so that the first going moves no other's.
    index: hashbrown::HashTable<u32>,
    /// The number of the first entry.
    first: u32,
    hasher: S,
}

impl<K, V, S: Default> Default for Recent<K, V, S> {
    fn default() -> Self {
        Recent {
            entries: VecDeque::new(),
            index: hashbrown::HashTable::new(),
            first: 0,
            hasher: S::default(),
        }
    }
}

impl<K: Hash + Eq, V, S: BuildHasher> Recent<K, V, S> {
    /// Inserts or replaces `key`'s value; a new key past `cap` entries makes the first
    /// inserted go. That entry is handed back, for a caller under a lock to drop it after: its
    /// memory was last touched a hundred thousand inserts ago.
    pub fn insert(&mut self, key: K, value: V, cap: usize) -> Option<(K, V)> {
        // Room first, whether or not the key is new: one lookup of `key`, not two. A key
        // written again at the cap leaves one entry fewer than the cap, no harm.
        let mut gone = None;
        while self.entries.len() >= cap.max(1) {
            let Some((hash, key, value)) = self.entries.pop_front() else {
                break;
            };
            let first = self.first;
            if let Ok(found) = self.index.find_entry(hash, |&n| n == first) {
                found.remove();
            }
            self.first = first.wrapping_add(1);
            gone = Some((key, value));
        }
        let hash = self.hasher.hash_one(&key);
        let Recent {
            entries,
            index,
            first,
            ..
        } = self;
        let at = |n: u32| slot(*first, n);
        if let Some(&n) = index.find(hash, |&n| entries[at(n)].1 == key) {
            entries[at(n)].2 = value;
            return gone;
        }
        let n = first.wrapping_add(entries.len() as u32);
        entries.push_back((hash, key, value));
        index.insert_unique(hash, n, |&n| entries[at(n)].0);
        gone
    }

    /// Where `key`'s entry is in `entries`.
    fn position<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        let hash = self.hasher.hash_one(key);
        let at = |n: u32| slot(self.first, n);
        let n = self
            .index
            .find(hash, |&n| self.entries[at(n)].1.borrow() == key)?;
        Some(at(*n))
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        let at = self.position(key)?;
        Some(&self.entries[at].2)
    }

    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let at = self.position(key)?;
        Some(&mut self.entries[at].2)
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.position(key).is_some()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries, first inserted first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(_, k, v)| (k, v))
    }
}

/// Where the entry numbered `n` is in a ring whose first entry is numbered `first`.
fn slot(first: u32, n: u32) -> usize {
    n.wrapping_sub(first) as usize
}

/// Equal when they hold the same entries, whatever their order.
impl<K: Hash + Eq, V: PartialEq, S: BuildHasher> PartialEq for Recent<K, V, S> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(k, v)| other.get(k) == Some(v))
    }
}

/// Written as a map, first inserted first, so that a snapshot read back forgets in the same
/// order.
impl<K: Serialize + Hash + Eq, V: Serialize, S: BuildHasher> Serialize for Recent<K, V, S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut map = serializer.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

/// Read as a map, its entries inserted in the order they come (no cap: the writer had one).
impl<'de, K, V, S> Deserialize<'de> for Recent<K, V, S>
where
    K: Deserialize<'de> + Hash + Eq,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder<K, V, S>(std::marker::PhantomData<(K, V, S)>);
        impl<'de, K, V, S> Visitor<'de> for InOrder<K, V, S>
        where
            K: Deserialize<'de> + Hash + Eq,
            V: Deserialize<'de>,
            S: BuildHasher + Default,
        {
            type Value = Recent<K, V, S>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut entries: A) -> Result<Self::Value, A::Error> {
                let mut recent = Recent::default();
                while let Some((k, v)) = entries.next_entry()? {
                    recent.insert(k, v, usize::MAX);
                }
                Ok(recent)
            }
        }
        deserializer.deserialize_map(InOrder(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Small = Recent<u32, u32, std::hash::RandomState>;

    #[test]
    fn past_its_cap_the_first_inserted_goes_one_for_one() {
        let mut recent = Small::default();
        for i in 0..10_000 {
            let gone = recent.insert(i, i, 1000);
            assert_eq!(gone, i.checked_sub(1000).map(|first| (first, first)));
            assert_eq!(recent.len(), (i as usize + 1).min(1000));
            assert_eq!(recent.index.len(), recent.len());
        }
        assert!(recent.contains_key(&9_999) && recent.contains_key(&9_000));
        assert!(!recent.contains_key(&8_999));
        let kept: Vec<u32> = recent.iter().map(|(k, _)| *k).collect();
        assert_eq!(kept, (9_000..10_000).collect::<Vec<_>>());
    }

    #[test]
    fn a_key_inserted_again_takes_its_new_value_and_keeps_its_place() {
        let keys = |r: &Small| r.iter().map(|(k, _)| *k).collect::<Vec<_>>();
        // Under the cap, a key written again keeps its place and adds nothing.
        let mut roomy = Small::default();
        for i in [4, 5, 4, 6] {
            roomy.insert(i, i, 10);
        }
        assert_eq!(keys(&roomy), [4, 5, 6]);
        assert_eq!(roomy.get(&4), Some(&4));
        assert_eq!((roomy.index.len(), roomy.len()), (3, 3));
        // At the cap, the first goes to make room, though the key written is not new.
        let mut full = Small::default();
        for i in 0..3 {
            full.insert(i, i, 3);
        }
        full.insert(1, 100, 3);
        assert_eq!(full.get(&1), Some(&100));
        assert_eq!(keys(&full), [1, 2]);
        full.insert(3, 3, 3);
        full.insert(2, 200, 3);
        // 1 was first of those left: it goes, though it was written later than 2.
        assert_eq!(keys(&full), [2, 3]);
        assert_eq!(full.get(&2), Some(&200));
        *full.get_mut(&3).unwrap() = 7;
        assert_eq!(full.get(&3), Some(&7));
    }

    #[test]
    fn entry_numbers_wrap_past_the_largest() {
        let mut recent = Small {
            first: u32::MAX - 5,
            ..Small::default()
        };
        for i in 0..100 {
            recent.insert(i, i * 2, 10);
            *recent.get_mut(&i).unwrap() += i;
            assert_eq!(recent.get(&i), Some(&(i * 3)));
        }
        let kept: Vec<(u32, u32)> = recent.iter().map(|(k, v)| (*k, *v)).collect();
        assert_eq!(kept, (90..100).map(|i| (i, i * 3)).collect::<Vec<_>>());
        assert!((90..100).all(|i| recent.contains_key(&i)));
        assert!(!recent.contains_key(&89));
        // A smaller cap lets the first ones go until it holds.
        recent.insert(100, 0, 4);
        assert_eq!(
            recent.iter().map(|(k, _)| *k).collect::<Vec<_>>(),
            [97, 98, 99, 100]
        );
        assert_eq!(recent.index.len(), 4);
    }

    #[test]
    fn a_snapshot_reads_back_in_its_order() {
        let mut recent: Recent<String, u32> = Recent::default();
        for i in [5, 3, 9, 1] {
            recent.insert(format!("c{i}"), i, 10);
        }
        let text = serde_json::to_string(&recent).unwrap();
        assert_eq!(text, r#"{"c5":5,"c3":3,"c9":9,"c1":1}"#);
        let mut back: Recent<String, u32> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, recent);
        back.insert("c0".into(), 0, 4);
        assert!(!back.contains_key("c5"));
        assert!(back.contains_key("c3"));
    }
}
