//! In-memory pre-aggregation: observations with the same record key are folded together
//! before they reach a store, so a store sees one blind merge per distinct record per batch.
//!
//! Layout, tuned for the ingest hot path: keys live in one byte arena, aggregates in one dense
//! vector, and the hash table holds only small slots with each key's hash cached. Every batch
//! of the process hashes with the same (randomly seeded) function, so folding one batch into
//! another re-uses the cached hashes instead of hashing every key again.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use dnsledger_model::time::Timestamp;
use dnsledger_model::{Aggregate, Observation};
use hashbrown::HashTable;

/// The most [`Batch::sized_for`] reserves (in [`Batch::approx_bytes`]): a larger batch grows
/// as it fills.
pub const MAX_RESERVED: usize = 256 << 20;
/// Approximate bytes of bookkeeping per distinct record, beyond its key.
const ENTRY_OVERHEAD: usize = std::mem::size_of::<Aggregate>() + std::mem::size_of::<Slot>() + 8;

/// The process-wide hash function of batches (random seed, so keys from the network cannot be
/// chosen to collide).
fn hasher() -> &'static foldhash::fast::RandomState {
    static STATE: OnceLock<foldhash::fast::RandomState> = OnceLock::new();
    STATE.get_or_init(foldhash::fast::RandomState::default)
}

#[derive(Clone, Copy)]
struct Slot {
    hash: u64,
    off: usize,
    len: u32,
    agg: u32,
}

/// A set of aggregated records waiting to be written, with the import progress they complete.
///
/// Sensor ids inside a batch are local (indexes into [`Batch::sensor_names`]); the store maps
/// them to its own ids when it writes the batch.
#[derive(Default)]
pub struct Batch {
    table: HashTable<Slot>,
    keys: Vec<u8>,
    aggs: Vec<Aggregate>,
    slots: Vec<Slot>,
    sensor_names: Vec<String>,
    checkpoints: Vec<(String, Vec<u8>)>,
    scratch: Vec<u8>,
    observations: u64,
    /// True while `slots` is in key order.
    sorted: bool,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// An empty batch with room reserved for as many records as fill `bytes` of
    /// [`Batch::approx_bytes`] (and a little over), so that filling it to that size never
    /// grows a vector or the table: growing copies what was stored and touches fresh memory
    /// twice over, page faults included. The room is only reserved: memory is touched as
    /// records arrive. The reservation is capped at [`MAX_RESERVED`].
    pub fn sized_for(bytes: usize) -> Batch {
        let bytes = bytes.saturating_add(bytes / 16).min(MAX_RESERVED);
        let records = bytes / ENTRY_OVERHEAD + 1;
        Batch {
            table: HashTable::with_capacity(records),
            keys: Vec::with_capacity(bytes),
            aggs: Vec::with_capacity(records),
            slots: Vec::with_capacity(records),
            ..Batch::default()
        }
    }

    /// Adds one observation (its rdata set is sorted in place to form the key).
    pub fn add(&mut self, obs: &mut Observation) {
        let sensor = obs.sensor.as_deref().map(|s| self.local_sensor(s));
        self.add_keyed(&[], obs, sensor);
    }

    /// Adds one observation under an already resolved local sensor id (see
    /// [`Batch::local_sensor`]), its record key preceded by `prefix`. The sensor pipeline uses
    /// this to skip the per-observation sensor-name lookup; a non-empty prefix makes keys that
    /// only file outputs understand (the client addresses of `sensor --record-clients`), never
    /// a store.
    /// Returns the record's index for [`Batch::repeat`].
    pub fn add_keyed(&mut self, prefix: &[u8], obs: &mut Observation, sensor: Option<u16>) -> u32 {
        obs.normalize_rdata();
        let mut key = std::mem::take(&mut self.scratch);
        key.clear();
        key.extend_from_slice(prefix);
        obs.write_key(&mut key);
        let index = self.entry(&key);
        if let Some(agg) = self.aggs.get_mut(index) {
            obs.add_to(agg, sensor);
        }
        self.scratch = key;
        self.observations += 1;
        index as u32
    }

    /// The index of the record with `key`, added with an empty aggregate if it is new.
    fn entry(&mut self, key: &[u8]) -> usize {
        self.index();
        let hash = hasher().hash_one(key);
        match self.find(hash, key) {
            Some(i) => i,
            None => {
                let i = self.aggs.len();
                self.insert(hash, key, Aggregate::default());
                i
            }
        }
    }

    /// Counts one sensor sighting at `time` (with `ttl`, by the local sensor `sensor`) of the
    /// record whose key is `key`, adding the record if it is new: what [`Batch::add_keyed`]
    /// counts for a sensor observation (count 1, first and last seen `time`, not from a zone)
    /// with that key, for a caller that builds keys itself. Returns the record's index for
    /// [`Batch::repeat`].
    pub fn add_sighting(&mut self, key: &[u8], time: Timestamp, ttl: Option<u32>, sensor: Option<u16>) -> u32 {
        let index = self.entry(key);
        if let (Some(agg), Some(id)) = (self.aggs.get_mut(index), sensor) {
            agg.sensors.insert(id);
        }
        self.repeat(index as u32, time, ttl);
        index as u32
    }

    /// Adds one more sensor sighting at `time` (with `ttl`) to the record at `index`, as
    /// returned by [`Batch::add_keyed`] for this batch: how the sensor counts a response whose
    /// bytes repeat one it already extracted, without extracting it again. Out-of-range
    /// indexes are ignored.
    pub fn repeat(&mut self, index: u32, time: Timestamp, ttl: Option<u32>) {
        if let Some(agg) = self.aggs.get_mut(index as usize) {
            agg.observe_sensor(time, time, 1);
            if let Some(t) = ttl {
                agg.observe_ttl(t);
            }
            self.observations += 1;
        }
    }

    /// Asks the CPU to fetch the aggregate at `index` into its cache ahead of a
    /// [`Batch::repeat`] on it (a hint: out-of-range indexes are ignored).
    #[inline]
    pub fn prefetch(&self, index: u32) {
        if let Some(agg) = self.aggs.get(index as usize) {
            prefetch(agg);
        }
    }

    /// Rebuilds the hash table when records were placed without it (by
    /// [`Batch::merge_sorted`], whose result is usually only written: the table is built on the
    /// first lookup instead).
    fn index(&mut self) {
        if self.table.len() == self.slots.len() {
            return;
        }
        self.table.clear();
        self.table.reserve(self.slots.len(), |s| s.hash);
        for &slot in &self.slots {
            self.table.insert_unique(slot.hash, slot, |s| s.hash);
        }
    }

    fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let keys = &self.keys;
        self.table
            .find(hash, |s| {
                s.hash == hash && s.len as usize == key.len() && &keys[s.off..s.off + s.len as usize] == key
            })
            .map(|s| s.agg as usize)
    }

    fn insert(&mut self, hash: u64, key: &[u8], agg: Aggregate) {
        let slot = Slot { hash, off: self.keys.len(), len: key.len() as u32, agg: self.aggs.len() as u32 };
        self.keys.extend_from_slice(key);
        self.aggs.push(agg);
        self.sorted = self
            .slots
            .last()
            .is_none_or(|last| self.sorted && &self.keys[last.off..last.off + last.len as usize] < key);
        self.slots.push(slot);
        self.table.insert_unique(hash, slot, |s| s.hash);
    }

    /// Folds an already-aggregated record into the batch (its sensor ids must be local ids).
    pub fn add_aggregate(&mut self, key: &[u8], agg: &Aggregate) {
        let hash = hasher().hash_one(key);
        self.add_hashed(hash, key, agg);
    }

    fn add_hashed(&mut self, hash: u64, key: &[u8], agg: &Aggregate) {
        self.index();
        match self.find(hash, key) {
            Some(i) => self.aggs[i].merge(agg),
            None => self.insert(hash, key, agg.clone()),
        }
    }

    /// The batch-local id for a sensor name.
    pub fn local_sensor(&mut self, name: &str) -> u16 {
        if let Some(i) = self.sensor_names.iter().position(|n| n == name) {
            return i as u16;
        }
        if self.sensor_names.len() > u16::MAX as usize {
            return u16::MAX;
        }
        self.sensor_names.push(name.to_string());
        (self.sensor_names.len() - 1) as u16
    }

    /// Moves everything from `other` into this batch (sensor ids are re-mapped).
    pub fn absorb(&mut self, other: Batch) {
        let map: Vec<u16> = other.sensor_names.iter().map(|n| self.local_sensor(n)).collect();
        let identity = map.iter().enumerate().all(|(i, &m)| i == m as usize);
        for s in &other.slots {
            let key = &other.keys[s.off..s.off + s.len as usize];
            let agg = &other.aggs[s.agg as usize];
            if identity || agg.sensors.is_empty() {
                self.add_hashed(s.hash, key, agg);
            } else {
                let mut a = agg.clone();
                a.sensors.remap(|id| map.get(id as usize).copied().unwrap_or(id));
                self.add_hashed(s.hash, key, &a);
            }
        }
        self.observations += other.observations;
        for (source, progress) in other.checkpoints {
            self.set_checkpoint(&source, progress);
        }
    }

    /// Records that this batch completes `source` up to `progress` (opaque to the store,
    /// written atomically with the records).
    pub fn set_checkpoint(&mut self, source: &str, progress: Vec<u8>) {
        if let Some(c) = self.checkpoints.iter_mut().find(|(s, _)| s == source) {
            c.1 = progress;
        } else {
            self.checkpoints.push((source.to_string(), progress));
        }
    }

    /// Number of distinct records.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True if the batch holds no records and no checkpoints.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty() && self.checkpoints.is_empty()
    }

    /// Number of observations added.
    pub fn observations(&self) -> u64 {
        self.observations
    }

    /// Sets the number of observations the batch stands for (when it was built from aggregates).
    pub fn set_observations(&mut self, n: u64) {
        self.observations = n;
    }

    /// Approximate memory held, in bytes.
    pub fn approx_bytes(&self) -> usize {
        self.keys.len() + self.slots.len() * ENTRY_OVERHEAD
    }

    /// The sensor names local ids refer to.
    pub fn sensor_names(&self) -> &[String] {
        &self.sensor_names
    }

    /// The checkpoints this batch completes.
    pub fn checkpoints(&self) -> &[(String, Vec<u8>)] {
        &self.checkpoints
    }

    /// The records sorted by key (the order stores write best in).
    pub fn sorted_records(&self) -> Vec<(&[u8], &Aggregate)> {
        let v: Vec<(&[u8], &Aggregate)> = self.records().collect();
        if self.sorted {
            return v;
        }
        let order = sort_order(v.len(), |i| v[i].0);
        order.into_iter().map(|i| v[i as usize]).collect()
    }

    /// Puts the records in key order (once; later [`Batch::sorted_records`] calls are free).
    /// Pipelines sort each parser thread's batch on that thread, then [`Batch::merge_sorted`].
    ///
    /// The keys and aggregates are moved, not only their order: a sorted batch holds them in
    /// key order in memory, so merging and writing it read memory in sequence instead of
    /// missing the cache once per record. Indexes returned by [`Batch::add_keyed`] before a
    /// sort are not valid after it.
    pub fn sort(&mut self) {
        if self.sorted {
            return; // in order already: records were added in key order, or merged
        }
        let keys = &self.keys;
        let slots = &self.slots;
        let order = sort_order(slots.len(), |i| &keys[slots[i].off..slots[i].off + slots[i].len as usize]);
        let mut out = Placed::with_capacity(self.keys.len(), self.slots.len());
        for (n, &i) in order.iter().enumerate() {
            // the records are read in an order unrelated to where they are: ask for the ones a
            // few steps ahead early, so their cache misses overlap
            if let Some(&ahead) = order.get(n + PREFETCH_AHEAD) {
                let s = &self.slots[ahead as usize];
                prefetch(self.keys.as_ptr().wrapping_add(s.off));
                prefetch(self.aggs.as_ptr().wrapping_add(s.agg as usize));
            }
            let s = self.slots[i as usize];
            out.push(s.hash, &self.keys[s.off..s.off + s.len as usize], std::mem::take(&mut self.aggs[s.agg as usize]));
        }
        self.place(out);
    }

    /// Replaces the records with `out` (in key order); the hash table is rebuilt on the next
    /// lookup.
    fn place(&mut self, out: Placed) {
        self.keys = out.keys;
        self.aggs = out.aggs;
        self.slots = out.slots;
        self.sorted = true;
        self.table.clear();
    }

    /// Merges two batches by walking their records in key order (sorting them first if
    /// needed): no key is hashed again, and the result is sorted, in memory too (see
    /// [`Batch::sort`]). Equal records are merged; the hash table is rebuilt if records are
    /// added to the result later.
    pub fn merge_sorted(mut self, mut other: Batch) -> Batch {
        if self.slots.is_empty() && self.sensor_names.is_empty() {
            other.sort();
            other.observations += self.observations;
            for (source, progress) in self.checkpoints {
                other.set_checkpoint(&source, progress);
            }
            return other;
        }
        self.sort();
        other.sort();
        let map: Vec<u16> = other.sensor_names.iter().map(|n| self.local_sensor(n)).collect();
        let identity = map.iter().enumerate().all(|(i, &m)| i == m as usize);
        let remap = |mut a: Aggregate| -> Aggregate {
            if !identity && !a.sensors.is_empty() {
                a.sensors.remap(|id| map.get(id as usize).copied().unwrap_or(id));
            }
            a
        };
        let mut out = Placed::with_capacity(self.keys.len() + other.keys.len(), self.slots.len() + other.slots.len());
        let (mine, theirs) = (std::mem::take(&mut self.slots), std::mem::take(&mut other.slots));
        let key = |s: &Slot| -> std::ops::Range<usize> { s.off..s.off + s.len as usize };
        let (mut i, mut j) = (0, 0);
        loop {
            let ord = match (mine.get(i), theirs.get(j)) {
                (Some(a), Some(b)) => self.keys[key(a)].cmp(&other.keys[key(b)]),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => break,
            };
            match ord {
                std::cmp::Ordering::Less => {
                    let a = mine[i];
                    out.push(a.hash, &self.keys[key(&a)], std::mem::take(&mut self.aggs[a.agg as usize]));
                    i += 1;
                }
                std::cmp::Ordering::Greater => {
                    let b = theirs[j];
                    out.push(b.hash, &other.keys[key(&b)], remap(std::mem::take(&mut other.aggs[b.agg as usize])));
                    j += 1;
                }
                std::cmp::Ordering::Equal => {
                    let (a, b) = (mine[i], theirs[j]);
                    let mut agg = std::mem::take(&mut self.aggs[a.agg as usize]);
                    agg.merge(&remap(std::mem::take(&mut other.aggs[b.agg as usize])));
                    out.push(a.hash, &self.keys[key(&a)], agg);
                    i += 1;
                    j += 1;
                }
            }
        }
        self.place(out);
        self.observations += other.observations;
        for (source, progress) in other.checkpoints {
            self.set_checkpoint(&source, progress);
        }
        self
    }

    /// Iterates over the records in insertion order.
    pub fn records(&self) -> impl Iterator<Item = (&[u8], &Aggregate)> {
        self.slots.iter().map(|s| (&self.keys[s.off..s.off + s.len as usize], &self.aggs[s.agg as usize]))
    }
}

/// How many records ahead [`Batch::sort`] asks for the memory of the records it moves.
const PREFETCH_AHEAD: usize = 8;

/// Asks the CPU to bring the cache line at `p` in (a hint; it never faults, whatever `p` is).
/// Shared with the sensor's replay table.
#[inline(always)]
pub fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint: it reads nothing the program sees and cannot fault,
    // even for an address outside any allocation.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast::<i8>(), std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

/// Records being laid out in key order (by [`Batch::sort`] and [`Batch::merge_sorted`]).
struct Placed {
    keys: Vec<u8>,
    aggs: Vec<Aggregate>,
    slots: Vec<Slot>,
}

impl Placed {
    fn with_capacity(key_bytes: usize, records: usize) -> Placed {
        Placed {
            keys: Vec::with_capacity(key_bytes),
            aggs: Vec::with_capacity(records),
            slots: Vec::with_capacity(records),
        }
    }

    fn push(&mut self, hash: u64, key: &[u8], agg: Aggregate) {
        self.slots.push(Slot { hash, off: self.keys.len(), len: key.len() as u32, agg: self.aggs.len() as u32 });
        self.keys.extend_from_slice(key);
        self.aggs.push(agg);
    }
}

/// The order (indexes) that sorts `n` byte strings, given by `key`, ascending.
///
/// Sorts on a 32-byte big-endian prefix of each key (after the head all keys share) first and compares whole keys only on
/// prefix ties: far fewer `memcmp` calls than sorting slices directly.
pub fn sort_order<'a>(n: usize, key: impl Fn(usize) -> &'a [u8]) -> Vec<u32> {
    // Keys of one batch often share a long head (reversed names under one zone: `com.example.`),
    // which would make every 16-byte prefix equal and every comparison a whole-key memcmp. The
    // head all keys share cannot change their order, so the prefixes start after it.
    let skip = match n {
        0 => 0,
        _ => {
            let first = key(0);
            (1..n).fold(first.len(), |lcp, i| {
                let k = key(i);
                let lim = lcp.min(k.len());
                first[..lim].iter().zip(&k[..lim]).position(|(a, b)| a != b).unwrap_or(lim)
            })
        }
    };
    // 32 bytes of prefix decide most comparisons (reversed names under a popular zone share
    // their first 16 bytes); only longer ties compare whole keys
    let prefix = |k: &[u8]| {
        let k = &k[skip..];
        let mut b = [0u8; 32];
        let l = k.len().min(32);
        b[..l].copy_from_slice(&k[..l]);
        let (hi, lo) = b.split_at(16);
        let word = |x: &[u8]| u128::from_be_bytes(x.try_into().unwrap_or([0u8; 16]));
        (word(hi), word(lo))
    };
    let mut v: Vec<((u128, u128), u32)> = (0..n).map(|i| (prefix(key(i)), i as u32)).collect();
    // Sort on the prefixes alone, then put each run of equal prefixes in key order: whole keys
    // are read (a cache miss each on a large batch) only within such runs, not at every
    // comparison of the main sort that meets a tie.
    v.sort_unstable_by_key(|x| x.0);
    let mut i = 0;
    while i < v.len() {
        let run = v[i..].iter().take_while(|x| x.0 == v[i].0).count();
        if run > 1 {
            v[i..i + run].sort_unstable_by(|a, b| key(a.1 as usize)[skip..].cmp(&key(b.1 as usize)[skip..]));
        }
        i += run;
    }
    v.into_iter().map(|(_, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Rdata, RrType};

    fn obs(name: &str, ip: [u8; 4], t: u64, sensor: Option<&str>) -> Observation {
        Observation {
            rrname: Name::from_presentation(name).unwrap(),
            rrtype: RrType::A,
            rdata: smallvec::smallvec![Rdata::Wire(ip.to_vec())],
            time_first: t,
            time_last: t,
            sensor: sensor.map(str::to_string),
            ..Observation::default()
        }
    }

    #[test]
    fn folds_equal_records() {
        let mut b = Batch::new();
        b.add(&mut obs("a.example", [1, 2, 3, 4], 10, Some("s1")));
        b.add(&mut obs("A.example.", [1, 2, 3, 4], 5, Some("s2")));
        b.add(&mut obs("a.example", [1, 2, 3, 5], 7, None));
        assert_eq!(b.len(), 2);
        assert_eq!(b.observations(), 3);
        let recs = b.sorted_records();
        let agg = recs.iter().find(|(_, a)| a.count == 2).unwrap().1;
        assert_eq!(agg.seen, Some((5, 10)));
        assert_eq!(agg.sensors.ids(), &[0, 1]);
        assert_eq!(b.sensor_names(), &["s1".to_string(), "s2".to_string()]);
    }

    #[test]
    fn a_batch_sized_for_its_bytes_fills_to_them_without_growing() {
        let mut b = Batch::sized_for(1 << 20);
        let caps = |b: &Batch| (b.keys.capacity(), b.aggs.capacity(), b.slots.capacity(), b.table.capacity());
        let before = caps(&b);
        let mut i = 0u32;
        while b.approx_bytes() < 1 << 20 {
            b.add(&mut obs(&format!("host-{i}.a-longer-label.example"), i.to_be_bytes(), 10, None));
            i += 1;
        }
        assert!(b.len() > 4000, "{}", b.len());
        assert_eq!(caps(&b), before, "nothing grew while filling");
        // a reservation is capped: a huge cache grows as it fills
        let big = Batch::sized_for(usize::MAX);
        assert!(big.keys.capacity() <= MAX_RESERVED);
    }

    #[test]
    fn a_sighting_by_key_counts_like_an_observation_added() {
        let (mut by_obs, mut by_key) = (Batch::new(), Batch::new());
        let (s1, s2) = (by_obs.local_sensor("s1"), by_key.local_sensor("s1"));
        for (i, t) in [(0u8, 10u64), (1, 86_400 * 3), (0, 5), (2, 11), (0, 86_400 * 9)] {
            let mut o = obs("a.example", [192, 0, 2, i], t, None);
            o.ttl = (i != 2).then_some(300 - u32::from(i));
            let mut key = vec![9, 9];
            o.write_key(&mut key);
            let a = by_obs.add_keyed(&[9, 9], &mut o, Some(s1));
            let b = by_key.add_sighting(&key, t, o.ttl, Some(s2));
            assert_eq!(a, b);
        }
        assert_eq!(by_obs.sorted_records(), by_key.sorted_records());
        assert_eq!((by_obs.len(), by_obs.observations()), (by_key.len(), by_key.observations()));
    }

    #[test]
    fn rdata_order_does_not_matter() {
        let mut b = Batch::new();
        let mut o = obs("a.example", [1, 2, 3, 4], 10, None);
        o.rdata.push(Rdata::Wire(vec![9, 9, 9, 9]));
        b.add(&mut o.clone());
        o.rdata.reverse();
        b.add(&mut o);
        assert_eq!(b.len(), 1);
    }

    #[test]
    fn absorb_remaps_sensors() {
        let mut a = Batch::new();
        a.add(&mut obs("a.example", [1, 2, 3, 4], 10, Some("x")));
        let mut b = Batch::new();
        b.add(&mut obs("a.example", [1, 2, 3, 4], 20, Some("y")));
        b.add(&mut obs("b.example", [1, 2, 3, 4], 20, Some("x")));
        b.set_checkpoint("file", vec![1]);
        a.absorb(b);
        assert_eq!(a.len(), 2);
        let recs = a.sorted_records();
        let (_, agg) = recs.iter().find(|(_, a)| a.count == 2).unwrap();
        assert_eq!(agg.sensors.ids(), &[0, 1]);
        let (_, other) = recs.iter().find(|(_, a)| a.count == 1).unwrap();
        assert_eq!(other.sensors.ids(), &[0]);
        assert_eq!(a.checkpoints().len(), 1);
        assert_eq!(a.observations(), 3);
    }

    /// A batch's records in key order, with count, times and sensor names, for comparisons.
    fn shown(x: &Batch) -> Vec<String> {
        x.sorted_records()
            .iter()
            .map(|(k, agg)| {
                let sensors: Vec<&str> =
                    agg.sensors.ids().iter().map(|&i| x.sensor_names()[i as usize].as_str()).collect();
                format!("{k:?} {} {:?} {sensors:?}", agg.count, agg.seen)
            })
            .collect()
    }

    #[test]
    fn merge_sorted_equals_absorb() {
        let mk = |names: &[(&str, u8, &str)]| {
            let mut b = Batch::new();
            for &(n, ip, sensor) in names {
                b.add(&mut obs(n, [192, 0, 2, ip], ip as u64, Some(sensor)));
            }
            b
        };
        let a = || mk(&[("c.example", 1, "x"), ("a.example", 2, "y"), ("b.example", 3, "x")]);
        let b = || mk(&[("b.example", 3, "z"), ("d.example", 4, "y"), ("a.example", 9, "y")]);
        let mut absorbed = a();
        absorbed.absorb(b());
        let merged = a().merge_sorted(b());
        assert_eq!(shown(&merged), shown(&absorbed));
        assert_eq!(merged.len(), 5);
        assert_eq!(merged.observations(), 6);
        // the merged batch still takes new observations
        let mut merged = merged;
        merged.add(&mut obs("a.example", [192, 0, 2, 2], 50, None));
        assert_eq!(merged.len(), 5);
        assert_eq!(merged.sorted_records().len(), 5);
        let mut x = merged;
        x.add(&mut obs("0.example", [1, 1, 1, 1], 1, None));
        let recs = x.sorted_records();
        assert!(recs.windows(2).all(|w| w[0].0 < w[1].0));
    }

    /// True if the keys and aggregates sit in memory in key order.
    fn laid_out_in_order(b: &Batch) -> bool {
        b.slots.iter().enumerate().all(|(i, s)| s.agg as usize == i)
            && b.slots.windows(2).all(|w| w[0].off + w[0].len as usize == w[1].off)
            && b.aggs.len() == b.slots.len()
    }

    #[test]
    fn sort_moves_records_into_key_order_and_keeps_them_findable() {
        let mut b = Batch::new();
        for i in 0..2000u32 {
            let x = i.wrapping_mul(2654435761) % 1500;
            b.add(&mut obs(&format!("h{x}.example"), [192, 0, 2, (x % 5) as u8], i as u64, Some("s")));
        }
        let before = shown(&b);
        let n = b.len();
        b.sort();
        assert!(laid_out_in_order(&b));
        assert_eq!(shown(&b), before);
        assert!(b.sorted_records().windows(2).all(|w| w[0].0 < w[1].0));
        // lookups after the move find the moved records
        b.add(&mut obs("h0.example", [192, 0, 2, 0], 9, Some("s")));
        assert_eq!(b.len(), n);
        b.add(&mut obs("zz.example", [192, 0, 2, 2], 9, Some("s")));
        assert_eq!(b.len(), n + 1);
    }

    #[test]
    fn merge_sorted_in_place_matches_absorb_on_many_records() {
        // overlapping key ranges, sensors in different local orders, unsorted inputs
        let mk = |seed: u32, sensors: [&str; 2]| {
            let mut b = Batch::new();
            for i in 0..3000u32 {
                let x = i.wrapping_mul(2654435761).wrapping_add(seed) % 4000;
                b.add(&mut obs(
                    &format!("h{x}.example"),
                    [192, 0, 2, (x % 7) as u8],
                    (i + seed) as u64,
                    Some(sensors[(x % 2) as usize]),
                ));
            }
            b
        };
        let mut absorbed = mk(1, ["x", "y"]);
        absorbed.absorb(mk(7, ["y", "z"]));
        let merged = mk(1, ["x", "y"]).merge_sorted(mk(7, ["y", "z"]));
        assert_eq!(shown(&merged), shown(&absorbed));
        assert_eq!(merged.observations(), 6000);
        assert!(merged.sorted_records().windows(2).all(|w| w[0].0 < w[1].0));
        assert!(laid_out_in_order(&merged));
        // every record is found again (the table is rebuilt): re-adding one adds no record
        let mut merged = merged;
        let n = merged.len();
        merged.add(&mut obs("h5.example", [192, 0, 2, 5], 1, Some("z")));
        assert_eq!(merged.len(), n);
        merged.add(&mut obs("new.example", [192, 0, 2, 5], 1, None));
        assert_eq!(merged.len(), n + 1);
    }

    #[test]
    fn prefix_sort_orders_like_slices() {
        let keys: Vec<Vec<u8>> = vec![
            b"abcdefghijklmnopq".to_vec(),
            b"abcdefghijklmnop".to_vec(),
            b"abcdefghijklmnop\0".to_vec(),
            b"ab".to_vec(),
            b"ab\0".to_vec(),
            b"".to_vec(),
            b"abcdefghijklmnopa".to_vec(),
            b"\xff".to_vec(),
        ];
        let check = |keys: &[Vec<u8>]| {
            let order = sort_order(keys.len(), |i| &keys[i]);
            let got: Vec<&Vec<u8>> = order.iter().map(|&i| &keys[i as usize]).collect();
            let mut want: Vec<&Vec<u8>> = keys.iter().collect();
            want.sort();
            assert_eq!(got, want);
        };
        check(&keys);
        // keys sharing a long head (the prefixes start after it), one of them the head itself
        let head = b"com\x07example\x06domain".to_vec();
        let mut shared: Vec<Vec<u8>> = keys.iter().map(|k| [head.clone(), k.clone()].concat()).collect();
        shared.push(head.clone());
        check(&shared);
        check(&shared[..1]);
        check(&[]);
    }

    #[test]
    fn large_sorts_match_small_sorts() {
        let mut b = Batch::new();
        for i in 0..150_000u32 {
            let x = i.wrapping_mul(2654435761);
            b.add(&mut obs(&format!("h{x}.example"), x.to_be_bytes(), 1, None));
        }
        let s = b.sorted_records();
        assert_eq!(s.len(), 150_000);
        assert!(s.windows(2).all(|w| w[0].0 < w[1].0));
    }
}
