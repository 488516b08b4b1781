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
#[derive(Debug, Clone)]
pub struct Recent<K, V, S = foldhash::quality::RandomState> {
    map: HashMap<K, V, S>,
    /// Every key of `map` once, first inserted first.
    order: VecDeque<K>,
}

impl<K, V, S: Default> Default for Recent<K, V, S> {
    fn default() -> Self {
        Recent {
            map: HashMap::default(),
            order: VecDeque::new(),
        }
    }
}

impl<K: Hash + Eq + Clone, V, S: BuildHasher> Recent<K, V, S> {
    /// Inserts or replaces `key`'s value; a new key past `cap` entries makes the first
    /// inserted go.
    pub fn insert(&mut self, key: K, value: V, cap: usize) {
        // Room first, whether or not the key is new: one lookup of `key`, not two. A key
        // written again at the cap leaves one entry fewer than the cap, no harm.
        while self.order.len() >= cap.max(1) {
            let Some(first) = self.order.pop_front() else {
                break;
            };
            self.map.remove(&first);
        }
        if self.map.insert(key.clone(), value).is_none() {
            self.order.push_back(key);
        }
    }

    pub fn get<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.map.get(key)
    }

    pub fn get_mut<Q: Hash + Eq + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        self.map.get_mut(key)
    }

    pub fn contains_key<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.map.contains_key(key)
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// The entries, first inserted first.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.order.iter().filter_map(|k| self.map.get_key_value(k))
    }
}

/// Equal when they hold the same entries, whatever their order.
impl<K: Hash + Eq, V: PartialEq, S: BuildHasher> PartialEq for Recent<K, V, S> {
    fn eq(&self, other: &Self) -> bool {
        self.map == other.map
    }
}

/// Written as a map, first inserted first, so that a snapshot read back forgets in the same
/// order.
impl<K: Serialize + Hash + Eq + Clone, V: Serialize, S: BuildHasher> Serialize for Recent<K, V, S> {
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
    K: Deserialize<'de> + Hash + Eq + Clone,
    V: Deserialize<'de>,
    S: BuildHasher + Default,
{
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct InOrder<K, V, S>(std::marker::PhantomData<(K, V, S)>);
        impl<'de, K, V, S> Visitor<'de> for InOrder<K, V, S>
        where
            K: Deserialize<'de> + Hash + Eq + Clone,
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
            recent.insert(i, i, 1000);
            assert_eq!(recent.len(), (i as usize + 1).min(1000));
            assert_eq!(recent.order.len(), recent.len());
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
        assert_eq!(roomy.order.len(), 3);
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
