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
/// The entries lie in a ring, first inserted first, and an [`Index`] maps each key's hash to
/// its entry's number. Once full, the ring has as many places as the cap, and a new key is
/// written in the place the first has just left; only the index, 8 bytes an entry, is
/// touched at random places, one cache line for the new key and one for the key that goes.
/// As a hash map of the entries with a queue of their keys, every new call's insert touched
/// four places in 10 MB at random, the largest share of a new call's time
/// (`docs/performance.md`: "Load" and "Bounded maps").
#[derive(Debug, Clone)]
pub struct Recent<K, V, S = foldhash::quality::RandomState> {
    /// The entries with the hashes the index files them by, first inserted first.
    entries: VecDeque<(u32, K, V)>,
    index: Index,
    /// The number of the first entry. Numbers count inserts from the first ever (wrapping),
    /// so that the first going moves no other's.
    first: u32,
    hasher: S,
}

impl<K, V, S: Default> Default for Recent<K, V, S> {
    fn default() -> Self {
        Recent {
            entries: VecDeque::new(),
            index: Index::default(),
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
        let cap = cap.max(1);
        let mut gone = None;
        if self.entries.len() >= cap && self.entries.capacity() > cap {
            // A ring read back from a snapshot, or kept under a larger cap, has more places
            // than this cap: cut once to the cap, as one grown under it would be (below).
            self.entries.shrink_to(cap);
        }
        while self.entries.len() >= cap {
            let Some((hash, key, value)) = self.entries.pop_front() else {
                break;
            };
            let first = self.first;
            self.index.remove(hash, |n| n == first);
            self.first = first.wrapping_add(1);
            gone = Some((key, value));
        }
        let hash = self.hasher.hash_one(&key) as u32;
        let Recent {
            entries,
            index,
            first,
            ..
        } = self;
        let at = |n: u32| slot(*first, n);
        if let Some(n) = index.find(hash, |n| entries[at(n)].1 == key) {
            entries[at(n)].2 = value;
            return gone;
        }
        let n = first.wrapping_add(entries.len() as u32);
        if entries.len() == entries.capacity() {
            // Twice the room, but never past `cap` (and at least one: the loop above left
            // fewer than `cap` entries). A full ring then has exactly `cap` places, so that a
            // new entry takes the place the first has just left, still in the cache, and no
            // place past `cap` is ever written.
            let room = entries.len().max(8).min(cap.saturating_sub(entries.len()));
            entries.reserve_exact(room);
        }
        entries.push_back((hash, key, value));
        index.insert(hash, n);
        if entries.len() >= cap {
            self.fetch_next_to_go();
        }
        gone
    }

    /// Has the CPU fetch what the next new key's insert reads of the entry it makes go: that
    /// entry's index slot, a random place last touched a hundred thousand inserts ago, and the
    /// ring's entry after it, whose hash the insert after reads. In a profile the slot's load
    /// was two thirds of a full map's insert (`docs/performance.md`, "Load").
    fn fetch_next_to_go(&self) {
        if let Some((hash, _, _)) = self.entries.front() {
            self.index.fetch(*hash);
        }
        // The hash, not the entry's start: an entry may span two cache lines, and its
        // fields' order is the compiler's.
        if let Some((hash, _, _)) = self.entries.get(1) {
            prefetch(hash);
        }
    }

    /// Has the CPU fetch the index slot a lookup of `key` starts from, without waiting for
    /// it: called a little before the lookup, with other work between, the lookup finds its
    /// slot in the cache. In a map of 100,000 calls that slot is a random place in 2 MB,
    /// most often out of the core's caches, and its load was the largest single wait of
    /// routec's own code in a new call (`docs/performance.md`, "Load").
    pub fn prefetch<Q: Hash + Eq + ?Sized>(&self, key: &Q)
    where
        K: Borrow<Q>,
    {
        self.index.fetch(self.hasher.hash_one(key) as u32);
    }

    /// Where `key`'s entry is in `entries`.
    fn position<Q: Hash + Eq + ?Sized>(&self, key: &Q) -> Option<usize>
    where
        K: Borrow<Q>,
    {
        let hash = self.hasher.hash_one(key) as u32;
        let at = |n: u32| slot(self.first, n);
        let n = self
            .index
            .find(hash, |n| self.entries[at(n)].1.borrow() == key)?;
        Some(at(n))
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

/// Asks the CPU to bring `value`'s cache line near, without waiting for it: a hint, which
/// changes nothing a program can see (safe_arch wraps the instruction; the crate forbids
/// `unsafe`).
#[inline(always)]
fn prefetch<T>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    safe_arch::prefetch_t0(value);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

/// Where the entry numbered `n` is in a ring whose first entry is numbered `first`.
fn slot(first: u32, n: u32) -> usize {
    n.wrapping_sub(first) as usize
}

/// [`Recent`]'s index: entry numbers by 32 bits of their keys' hashes, in an open-addressed
/// table probed linearly, at most half full. A slot holds the hash and the number side by
/// side, so that a key is found, or found absent, on one cache line, and the entry that goes
/// is found by its number without reading its key. A slot taken out pulls the slots after
/// it back (backward-shift deletion): no tombstones, so no rehash once the table has grown
/// to its cap. hashbrown's table, used before, kept its tags apart from its entries: two
/// cache lines at random for each lookup that finds something, and tombstones that made it
/// rehash or grow now and then (`docs/performance.md`, "Bounded maps", with the figures).
#[derive(Debug, Clone, Default)]
struct Index {
    /// Empty (0), or [`Index::TAKEN`] with the hash in the high half and the number in the low.
    slots: Vec<u64>,
    len: usize,
}

impl Index {
    /// Marks a slot taken, in place of the hash's top bit, which is dropped.
    const TAKEN: u64 = 1 << 63;

    fn filed(hash: u32, n: u32) -> u64 {
        Index::TAKEN | (u64::from(hash) << 32) | u64::from(n)
    }

    /// The slot a hash is filed from, or where a filed slot would be with no others.
    fn home(&self, filed: u64) -> usize {
        (filed >> 32) as usize & (self.slots.len() - 1)
    }

    /// Has the CPU fetch the slot a lookup of `hash` starts from ([`prefetch`]).
    fn fetch(&self, hash: u32) {
        if !self.slots.is_empty() {
            prefetch(&self.slots[self.home(Index::filed(hash, 0))]);
        }
    }

    /// The number of the slot filed under `hash` for which `is` holds.
    fn find(&self, hash: u32, mut is: impl FnMut(u32) -> bool) -> Option<u32> {
        self.find_slot(hash, |s| is(s as u32))
            .map(|i| self.slots[i] as u32)
    }

    fn find_slot(&self, hash: u32, mut is: impl FnMut(u64) -> bool) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let tag = Index::filed(hash, 0) >> 32;
        let mask = self.slots.len() - 1;
        let mut i = self.home(Index::filed(hash, 0));
        loop {
            let s = self.slots[i];
            if s == 0 {
                return None;
            }
            if s >> 32 == tag && is(s) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Files number `n` under `hash`; the number must not be filed already.
    fn insert(&mut self, hash: u32, n: u32) {
        if 2 * (self.len + 1) > self.slots.len() {
            self.grow();
        }
        let filed = Index::filed(hash, n);
        let i = self.vacant_from(filed);
        self.slots[i] = filed;
        self.len += 1;
    }

    /// The first empty slot from `filed`'s home on.
    fn vacant_from(&self, filed: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(filed);
        while self.slots[i] != 0 {
            i = (i + 1) & mask;
        }
        i
    }

    /// Takes out the slot filed under `hash` whose number `is` picks, if there is one.
    fn remove(&mut self, hash: u32, mut is: impl FnMut(u32) -> bool) {
        let Some(mut hole) = self.find_slot(hash, |s| is(s as u32)) else {
            return;
        };
        let mask = self.slots.len() - 1;
        let mut next = hole;
        loop {
            next = (next + 1) & mask;
            let s = self.slots[next];
            if s == 0 {
                break;
            }
            // A slot may move back into the hole when the hole is no nearer than it to its
            // home: it is then still found by probing from its home.
            if (next.wrapping_sub(self.home(s)) & mask) >= (next.wrapping_sub(hole) & mask) {
                self.slots[hole] = s;
                hole = next;
            }
        }
        self.slots[hole] = 0;
        self.len -= 1;
    }

    /// Twice the slots (16 at first), every slot filed again from the hash it keeps.
    fn grow(&mut self) {
        let larger = vec![0; (2 * self.slots.len()).max(16)];
        let old = std::mem::replace(&mut self.slots, larger);
        for s in old.into_iter().filter(|&s| s != 0) {
            let i = self.vacant_from(s);
            self.slots[i] = s;
        }
    }
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
            assert_eq!(recent.index.len, recent.len());
        }
        assert!(recent.contains_key(&9_999) && recent.contains_key(&9_000));
        assert!(!recent.contains_key(&8_999));
        let kept: Vec<u32> = recent.iter().map(|(k, _)| *k).collect();
        assert_eq!(kept, (9_000..10_000).collect::<Vec<_>>());
        // The ring grew to its cap and no further: each new entry took the first's place.
        assert_eq!(recent.entries.capacity(), 1000);
    }

    #[test]
    fn a_prefetch_changes_nothing_a_lookup_sees() {
        let mut recent = Small::default();
        recent.prefetch(&1);
        for i in 0..100 {
            recent.prefetch(&i);
            recent.insert(i, i, 50);
        }
        for i in 0..200 {
            recent.prefetch(&i);
            assert_eq!(recent.get(&i), (50..100).contains(&i).then_some(&i));
        }
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
        assert_eq!((roomy.index.len, roomy.len()), (3, 3));
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
        assert_eq!(recent.index.len, 4);
    }

    /// Hashes every key to one of five homes at the end of a 16-slot index: long runs of
    /// slots, and runs that wrap past the index's end, for the backward shift to get wrong.
    #[derive(Default, Clone)]
    struct Crowded;

    impl BuildHasher for Crowded {
        type Hasher = CrowdedHasher;
        fn build_hasher(&self) -> CrowdedHasher {
            CrowdedHasher(0)
        }
    }

    struct CrowdedHasher(u64);

    impl std::hash::Hasher for CrowdedHasher {
        fn finish(&self) -> u64 {
            // Homes near the end of a small index, so that runs wrap.
            (self.0 % 5) + 11
        }
        fn write(&mut self, bytes: &[u8]) {
            for &b in bytes {
                self.0 = self.0.wrapping_mul(31).wrapping_add(u64::from(b));
            }
        }
    }

    #[test]
    fn it_holds_what_a_plain_map_and_queue_hold() {
        use std::collections::HashMap;
        let mut recent: Recent<u32, u32, Crowded> = Recent::default();
        let mut order: VecDeque<u32> = VecDeque::new();
        let mut values: HashMap<u32, u32> = HashMap::new();
        let mut seed = 7u64;
        let mut next = |below: u64| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 33) % below) as u32
        };
        for step in 0..20_000 {
            let cap = [3, 8, 20][step / 7_000] as usize;
            let key = next(40);
            let value = next(1_000);
            let mut gone = None;
            while order.len() >= cap {
                let first = order.pop_front().unwrap();
                gone = Some((first, values.remove(&first).unwrap()));
            }
            if let std::collections::hash_map::Entry::Vacant(v) = values.entry(key) {
                order.push_back(key);
                v.insert(value);
            } else {
                values.insert(key, value);
            }
            assert_eq!(recent.insert(key, value, cap), gone, "step {step}");
            assert_eq!(recent.index.len, order.len());
            for k in 0..40 {
                assert_eq!(recent.get(&k), values.get(&k), "step {step}, key {k}");
            }
            let kept: Vec<u32> = recent.iter().map(|(k, _)| *k).collect();
            assert_eq!(kept, Vec::from(order.clone()));
        }
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
        // Read back under no cap, the ring is cut to the first cap it is full under.
        assert_eq!(back.entries.capacity(), 4);
    }
}
