//! Replaying repeated responses.
//!
//! Most responses a sensor sees repeat one it saw moments ago: the same answer to the same
//! question, differing only in the message id and, for a resolver's cached answers, in TTLs
//! that have aged. Extraction (parsing, normalising, the bailiwick rule) depends on nothing
//! else, so such a response yields the same records; the sensor then only adds the sighting to
//! them, without parsing the message again.
//!
//! A response is identified by a 128-bit hash of its bytes after the id with every TTL field
//! zeroed (and of the client prefix under `--record-clients`), seeded per table so that what a
//! peer sends cannot be lined up on one probe sequence or made to collide. Its TTLs are
//! compared with the remembered ones: when every TTL moved by the same amount `d` (the entries
//! aged together), each record's TTL is its remembered TTL minus `d` (an RRset's TTL is the
//! smallest of its records', which shifts with them). Otherwise — an entry was refetched, TTLs
//! at or above 2^31 (read as 0 by extraction), or a negative answer whose TTL comes from the
//! SOA MINIMUM and so does not shift — the response is extracted again.
//!
//! The table keeps the responses of the current batch in two generations of at most
//! [`REPLAY_MAX`] entries each: when the newer one is full it becomes the older one and the
//! oldest generation is dropped, and a response found in the older generation moves to the
//! newer. So a working set of up to twice `REPLAY_MAX` distinct responses stays replayable,
//! where clearing one table when full forgot everything at once (on the reference corpus,
//! 259k distinct responses: that lost a third of the repeats). An entry is a 16-octet slot
//! (64 bits of the hash, where its words start, how many) and its words in a per-generation
//! arena: the other 64 bits of the hash, its counters, record indexes and TTLs (about 80
//! octets for a typical answer), so the table stays within a few tens of MiB whatever the
//! traffic.
//!
//! A lookup costs a cache miss on the slot, one on the arena words and one per record it
//! counts; the slot is prefetched as soon as a response is fingerprinted
//! ([`Replay::prefetch`]). (Prefetching all three several frames ahead of a response's turn
//! was tried: the stalls left the profile, the run took as long; see docs/sensor.md.)

use std::hash::BuildHasher;

use dnsledger_store::prefetch;

/// Distinct responses remembered per generation (two generations are kept).
pub const REPLAY_MAX: usize = 1 << 17;

/// A TTL of `None` in the arena.
const NO_TTL: u32 = u32::MAX;
/// Arena words per entry allowed on average before a generation counts as full (responses
/// re-extracted under the same hash leave their old words behind until the generation goes).
const ARENA_PER_ENTRY: usize = 32;
/// Arena words before an entry's pairs: the high 64 bits of its hash, the negative answers
/// among its records and the three dropped counts.
const HEADER: usize = 6;

/// What one extracted response contributed to the current batch.
#[derive(Debug, Clone, Copy, Default)]
pub struct Replayed<'a> {
    /// (record index in the batch, TTL) per RRset emitted.
    pub records: &'a [(u32, Option<u32>)],
    /// Negative answers among them.
    pub negative: u32,
    /// RRsets dropped: outside the bailiwick, off the chain, unvouched.
    pub dropped: (u32, u32, u32),
}

/// A response's identity for replay: its masked, seeded hash (its TTLs stay in the
/// [`Replay`] until the next response is fingerprinted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fingerprint {
    hash: u128,
}

impl Fingerprint {
    /// The low 64 bits, kept in the slot (never 0, which marks an empty slot).
    fn tag(self) -> u64 {
        (self.hash as u64).max(1)
    }

    /// The high 64 bits, kept in the arena.
    fn check(self) -> u64 {
        (self.hash >> 64) as u64
    }
}

/// One remembered response: its tag and where its words are in the generation's arena.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Slot {
    /// [`Fingerprint::tag`]; 0 marks an empty slot.
    tag: u64,
    /// Offset of the entry's words in the arena.
    start: u32,
    /// (record index, TTL) pairs in the entry.
    records: u16,
    /// Message TTLs in the entry.
    ttls: u16,
}

/// Slots keyed by their tag: open addressing with linear probing, at most half full, no
/// deletions (a generation is cleared as a whole). Unlike a general-purpose map, the slot a
/// tag starts at is known without a lookup, so it can be prefetched while other frames are
/// handled. The tag is part of a seeded hash, so its low bits serve as the home slot.
#[derive(Default)]
struct Slots {
    slots: Vec<Slot>,
    len: usize,
    /// Slots allocated when the table first takes an entry.
    initial: usize,
}

/// The fewest slots a table starts with.
const MIN_SLOTS: usize = 1024;

impl Slots {
    /// The slot a tag's probe starts at (the table is not empty).
    fn home(&self, tag: u64) -> usize {
        tag as usize & (self.slots.len() - 1)
    }

    fn len(&self) -> usize {
        self.len
    }

    fn clear(&mut self) {
        if self.len > 0 {
            self.slots.fill(Slot::default());
            self.len = 0;
        }
    }

    /// Asks the CPU to bring in the slot where `tag`'s probe starts.
    fn prefetch(&self, tag: u64) {
        if !self.slots.is_empty() {
            prefetch(self.slots.as_ptr().wrapping_add(self.home(tag)));
        }
    }

    fn get(&self, tag: u64) -> Option<Slot> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(tag);
        loop {
            let s = *self.slots.get(i)?;
            if s.tag == tag {
                return Some(s);
            }
            if s.tag == 0 {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    fn insert(&mut self, s: Slot) {
        if (self.len + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = self.home(s.tag);
        while let Some(slot) = self.slots.get_mut(i) {
            if slot.tag == s.tag {
                *slot = s;
                return;
            }
            if slot.tag == 0 {
                *slot = s;
                self.len += 1;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    fn grow(&mut self) {
        let size = (self.slots.len() * 2).max(self.initial).max(MIN_SLOTS);
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); size]);
        self.len = 0;
        for s in old {
            if s.tag != 0 {
                self.insert(s);
            }
        }
    }
}

/// An entry's counters, from its arena header.
#[derive(Debug, Clone, Copy)]
struct Meta {
    negative: u32,
    dropped: (u32, u32, u32),
}

/// One generation of the table.
#[derive(Default)]
struct Generation {
    map: Slots,
    arena: Vec<u32>,
}

impl Generation {
    /// A generation sized once for `max` entries, so that filling it never grows (and so
    /// copies and touches twice) its slots or its arena; the room is only reserved until used.
    fn sized_for(max: usize) -> Generation {
        let slots = Slots { initial: max.saturating_mul(2).next_power_of_two(), ..Slots::default() };
        Generation { map: slots, arena: Vec::with_capacity(max.saturating_mul(ARENA_PER_ENTRY) + 1024) }
    }

    fn clear(&mut self) {
        self.map.clear();
        self.arena.clear();
    }

    /// Stores an entry given as its parts; false if it does not fit (the arena would overflow
    /// its offsets, or more than 65535 records or TTLs).
    fn put(
        &mut self,
        f: Fingerprint,
        records: impl ExactSizeIterator<Item = (u32, u32)>,
        ttls: &[u32],
        meta: Meta,
    ) -> bool {
        let (Ok(start), Ok(n), Ok(t)) =
            (u32::try_from(self.arena.len()), u16::try_from(records.len()), u16::try_from(ttls.len()))
        else {
            return false;
        };
        let check = f.check();
        let (d0, d1, d2) = meta.dropped;
        self.arena.extend_from_slice(&[check as u32, (check >> 32) as u32, meta.negative, d0, d1, d2]);
        for (i, t) in records {
            self.arena.push(i);
            self.arena.push(t);
        }
        self.arena.extend_from_slice(ttls);
        self.map.insert(Slot { tag: f.tag(), start, records: n, ttls: t });
        true
    }

    /// The entry of `f`: its counters, (index, TTL) pairs and TTLs.
    fn find(&self, f: Fingerprint) -> Option<(Meta, &[u32], &[u32])> {
        let slot = self.map.get(f.tag())?;
        let s = slot.start as usize;
        let r = s + HEADER + 2 * usize::from(slot.records);
        let t = r + usize::from(slot.ttls);
        let words = self.arena.get(s..t)?;
        let (head, rest) = words.split_at_checked(HEADER)?;
        if u64::from(head[0]) | u64::from(head[1]) << 32 != f.check() {
            return None;
        }
        let meta = Meta { negative: head[2], dropped: (head[3], head[4], head[5]) };
        let (pairs, ttls) = rest.split_at_checked(2 * usize::from(slot.records))?;
        Some((meta, pairs, ttls))
    }
}

/// A remembered response found for a repeat: its records with the TTLs the repeat has.
pub struct Hit<'a> {
    /// (record index, TTL or [`NO_TTL`]) pairs, flattened.
    pairs: &'a [u32],
    /// How much older the repeat's TTLs are.
    shift: u32,
    /// Negative answers among the records.
    pub negative: u32,
    /// RRsets dropped: outside the bailiwick, off the chain, unvouched.
    pub dropped: (u32, u32, u32),
}

impl Hit<'_> {
    /// Number of records (RRsets and negative answers).
    pub fn len(&self) -> usize {
        self.pairs.len() / 2
    }

    /// True if the response gave no record.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// (record index in the batch, TTL as of the repeat) per record.
    pub fn records(&self) -> impl Iterator<Item = (u32, Option<u32>)> + '_ {
        self.pairs.chunks_exact(2).map(|p| (p[0], (p[1] != NO_TTL).then(|| p[1] - self.shift)))
    }
}

/// Responses already extracted into the current batch.
pub struct Replay {
    new: Generation,
    old: Generation,
    max: usize,
    /// The fingerprint's seed, random per table.
    seed: u64,
    scratch: Vec<u8>,
    /// The TTLs of the last response fingerprinted (or adopted), in wire order, and its hash.
    ttls: Vec<u32>,
    ttls_of: Option<u128>,
}

impl Default for Replay {
    fn default() -> Self {
        Replay::with_capacity(REPLAY_MAX)
    }
}

/// Skips a (possibly compressed) name starting at `pos`; returns the position after it.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            l if l & 0xc0 == 0 => pos += 1 + l as usize,
            _ => return None,
        }
    }
}

/// The shift `d` by which every TTL of a repeat is older than the remembered ones, or `None`
/// when the repeat must be extracted (see the module docs).
fn shift(old: &[u32], new: &[u32], negative: u32, records: &[u32]) -> Option<u32> {
    if old.len() != new.len() || new.iter().chain(old).any(|&t| t >= 1 << 31) {
        return None;
    }
    let d = match (old.first(), new.first()) {
        (Some(&o), Some(&n)) => o.checked_sub(n)?,
        _ => 0,
    };
    if old.iter().zip(new).any(|(&o, &n)| o.checked_sub(n) != Some(d)) {
        return None;
    }
    if d != 0 && negative > 0 {
        return None;
    }
    if records.chunks_exact(2).any(|p| p[1] != NO_TTL && p[1] < d) {
        return None;
    }
    Some(d)
}

impl Replay {
    /// A table keeping up to `max` responses per generation.
    pub fn with_capacity(max: usize) -> Replay {
        Replay {
            new: Generation::sized_for(max),
            old: Generation::sized_for(max),
            max: max.max(1),
            seed: std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64),
            scratch: Vec::new(),
            ttls: Vec::new(),
            ttls_of: None,
        }
    }

    /// True when the newer generation holds `max` entries or its arena their share of words.
    fn new_is_full(&self) -> bool {
        self.new.map.len() >= self.max || self.new.arena.len() >= self.max.saturating_mul(ARENA_PER_ENTRY)
    }

    /// Forgets everything (the batch the indexes point into was handed on).
    pub fn clear(&mut self) {
        self.new.clear();
        self.old.clear();
    }

    /// Responses remembered now (both generations).
    pub fn len(&self) -> usize {
        self.new.map.len() + self.old.map.len()
    }

    /// True if nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The fingerprint of a response, or `None` when its layout cannot be walked (it is then
    /// simply extracted, and extraction reports what is wrong). Its TTLs are kept for the
    /// [`Replay::replay`] or [`Replay::insert`] that follows.
    pub fn fingerprint(&mut self, msg: &[u8], prefix: &[u8]) -> Option<Fingerprint> {
        self.ttls_of = None;
        let ttls = &mut self.ttls;
        let count = |i: usize| msg.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
        let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
        ttls.clear();
        // hashed: the prefix, its length, then the message after the id with TTLs zeroed
        let scratch = &mut self.scratch;
        scratch.clear();
        scratch.extend_from_slice(prefix);
        scratch.push(u8::try_from(prefix.len()).ok()?);
        // message octet `i` (from 2 on) is at `head + i - 2`
        let head = scratch.len();
        scratch.extend_from_slice(msg.get(2..)?);
        let mut pos = 12;
        for _ in 0..qd {
            pos = skip_name(msg, pos)? + 4;
        }
        for _ in 0..an + ns + ar {
            pos = skip_name(msg, pos)?;
            let f = msg.get(pos..pos + 10)?;
            ttls.push(u32::from_be_bytes([f[4], f[5], f[6], f[7]]));
            scratch.get_mut(head + pos + 2..head + pos + 6)?.fill(0);
            pos += 10 + u16::from_be_bytes([f[8], f[9]]) as usize;
        }
        if pos > msg.len() {
            return None;
        }
        let hash = xxhash_rust::xxh3::xxh3_128_with_seed(scratch, self.seed);
        self.ttls_of = Some(hash);
        Some(Fingerprint { hash })
    }

    /// Asks the CPU to fetch the table slots `f` will be looked up in.
    pub fn prefetch(&self, f: &Fingerprint) {
        self.new.map.prefetch(f.tag());
        self.old.map.prefetch(f.tag());
    }

    /// The records of a repeat of an earlier response, with their TTLs as this response has
    /// them; `None` when it must be extracted. A repeat found in the older generation moves
    /// to the newer one.
    pub fn replay(&mut self, f: &Fingerprint) -> Option<Hit<'_>> {
        if self.ttls_of != Some(f.hash) {
            return None;
        }
        if self.new.find(*f).is_none() {
            let (meta, records, ttls) = self.old.find(*f)?;
            shift(ttls, &self.ttls, meta.negative, records)?;
            if self.new_is_full() {
                // The newer generation is full: it becomes the older one; the entry moves first.
                let pairs: Vec<(u32, u32)> = records.chunks_exact(2).map(|p| (p[0], p[1])).collect();
                let ttls = ttls.to_vec();
                std::mem::swap(&mut self.new, &mut self.old);
                self.new.clear();
                self.new.put(*f, pairs.into_iter(), &ttls, meta);
            } else {
                let pairs = records.chunks_exact(2).map(|p| (p[0], p[1]));
                if !self.new.put(*f, pairs, ttls, meta) {
                    return None;
                }
            }
        }
        let (meta, pairs, ttls) = self.new.find(*f)?;
        let d = shift(ttls, &self.ttls, meta.negative, pairs)?;
        Some(Hit { pairs, shift: d, negative: meta.negative, dropped: meta.dropped })
    }

    /// Remembers what extracting the response of `f` gave; `f` must be the last response
    /// fingerprinted (otherwise nothing is remembered).
    pub fn insert(&mut self, f: Fingerprint, r: Replayed<'_>) {
        if self.ttls_of != Some(f.hash) {
            return;
        }
        if self.new_is_full() {
            std::mem::swap(&mut self.new, &mut self.old);
            self.new.clear();
        }
        let records = r.records.iter().map(|&(i, t)| (i, t.unwrap_or(NO_TTL)));
        self.new.put(f, records, &self.ttls, Meta { negative: r.negative, dropped: r.dropped });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response with a question and two A records of `www.example.com`, TTLs given.
    fn msg(id: u16, ttls: [u32; 2]) -> Vec<u8> {
        let mut m = vec![(id >> 8) as u8, id as u8, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        for (i, t) in ttls.iter().enumerate() {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 4, 192, 0, 2, i as u8]);
        }
        m
    }

    fn entry(ttl: u32, negative: u32) -> Replayed<'static> {
        let records: &'static [(u32, Option<u32>)] = Box::leak(Box::new([(7, Some(ttl))]));
        Replayed { records, negative, ..Replayed::default() }
    }

    #[test]
    fn aged_ttls_replay_with_the_shift() {
        let mut r = Replay::default();
        let f = r.fingerprint(&msg(1, [300, 300]), &[]).unwrap();
        r.insert(f, entry(300, 0));
        // another id, both TTLs 40 s older: same records, TTL 260
        let g = r.fingerprint(&msg(2, [260, 260]), &[]).unwrap();
        let h = r.replay(&g).unwrap();
        assert_eq!(h.records().collect::<Vec<_>>(), [(7, Some(260))]);
        assert_eq!((h.len(), h.negative), (1, 0));
        // one record refetched (TTLs moved differently): extract again
        let g = r.fingerprint(&msg(3, [260, 300]), &[]).unwrap();
        assert!(r.replay(&g).is_none());
        // TTLs that grew: extract again
        let g = r.fingerprint(&msg(3, [301, 301]), &[]).unwrap();
        assert!(r.replay(&g).is_none());
        // another client prefix is another response
        let g = r.fingerprint(&msg(1, [300, 300]), &[4, 1, 2, 3, 4]).unwrap();
        assert!(r.replay(&g).is_none());
    }

    #[test]
    fn negative_answers_replay_only_unchanged() {
        let mut r = Replay::default();
        let f = r.fingerprint(&msg(1, [300, 300]), &[]).unwrap();
        r.insert(f, entry(300, 1));
        let same = r.fingerprint(&msg(9, [300, 300]), &[]).unwrap();
        assert!(r.replay(&same).is_some());
        let aged = r.fingerprint(&msg(9, [299, 299]), &[]).unwrap();
        assert!(r.replay(&aged).is_none());
    }

    #[test]
    fn unwalkable_messages_have_no_fingerprint() {
        let mut r = Replay::default();
        let m = msg(1, [300, 300]);
        for cut in 0..m.len() {
            assert!(r.fingerprint(&m[..cut], &[]).is_none(), "prefix {cut}");
        }
        let mut bad = m.clone();
        bad[12] = 0x80; // reserved label type
        assert!(r.fingerprint(&bad, &[]).is_none());
        let mut big = m;
        big[39] = 0xff; // the first TTL >= 2^31: never replayed
        let mut r2 = Replay::default();
        let f = r2.fingerprint(&big, &[]).unwrap();
        r2.insert(f, entry(0, 0));
        let again = r2.fingerprint(&big, &[]).unwrap();
        assert!(r2.replay(&again).is_none());
    }

    /// A response of `www.example.com` with one A record 192.0.2.`n`.
    fn distinct(n: u8) -> Vec<u8> {
        let mut m = msg(1, [300, 300]);
        let last = m.len() - 1;
        m[last] = n;
        m
    }

    #[test]
    fn two_generations_keep_the_recent_working_set() {
        let mut r = Replay::with_capacity(2);
        let put = |r: &mut Replay, n: u8| {
            let f = r.fingerprint(&distinct(n), &[]).unwrap();
            r.insert(f, entry(300, 0));
        };
        let hit = |r: &mut Replay, n: u8| {
            let f = r.fingerprint(&distinct(n), &[]).unwrap();
            r.replay(&f).map(|h| h.len())
        };
        put(&mut r, 1);
        put(&mut r, 2);
        put(&mut r, 3); // the first generation (1, 2) becomes the older one
        assert_eq!(r.len(), 3);
        assert_eq!(hit(&mut r, 1), Some(1)); // found in the older generation: moved to the newer
        put(&mut r, 4); // newer (3, 1) full: it becomes the older one, 2 is forgotten
        assert_eq!(hit(&mut r, 2), None);
        assert_eq!(hit(&mut r, 1), Some(1));
        assert_eq!(hit(&mut r, 3), Some(1));
        assert_eq!(hit(&mut r, 4), Some(1));
        r.clear();
        assert!(r.is_empty());
        assert_eq!(hit(&mut r, 4), None);
    }

    #[test]
    fn slots_find_every_key_across_growth_and_forget_on_clear() {
        let mut t = Slots::default();
        let slot = |tag: u64, n: u32| Slot { tag, start: n, records: 1, ttls: 1 };
        // tags that share their low bits (a run of collisions on one home slot) and spread ones
        let tag = |i: u32| {
            if i.is_multiple_of(2) {
                u64::from(i + 1) << 40
            } else {
                u64::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1
            }
        };
        for i in 0..5000u32 {
            t.insert(slot(tag(i), i));
        }
        assert_eq!(t.len(), 5000);
        assert!(t.slots.len() >= 10_000, "at most half full: {}", t.slots.len());
        for i in 0..5000u32 {
            assert_eq!(t.get(tag(i)).map(|x| x.start), Some(i));
        }
        assert!(t.get(tag(5000)).is_none());
        // a tag stored again replaces its slot
        t.insert(slot(tag(7), 70));
        assert_eq!(t.get(tag(7)).map(|x| x.start), Some(70));
        assert_eq!(t.len(), 5000);
        t.clear();
        assert_eq!(t.len(), 0);
        assert!(t.get(tag(1)).is_none());
    }

    #[test]
    fn a_hash_of_zero_and_a_tag_collision_are_told_apart() {
        let mut r = Replay::default();
        let meta = Meta { negative: 0, dropped: (1, 2, 3) };
        // the low 64 bits 0 are stored as tag 1: both hashes share a slot, the high 64 bits
        // (in the arena) tell them apart
        let zero = Fingerprint { hash: 5 << 64 };
        let one = Fingerprint { hash: (6 << 64) | 1 };
        assert_eq!(zero.tag(), one.tag());
        assert!(r.new.put(zero, [(9, 300)].into_iter(), &[300], meta));
        let (m, pairs, ttls) = r.new.find(zero).unwrap();
        assert_eq!((m.dropped, pairs, ttls), ((1, 2, 3), &[9, 300][..], &[300][..]));
        assert!(r.new.find(one).is_none(), "same tag, other hash");
        assert!(r.new.put(one, [(4, 60)].into_iter(), &[60, 60], meta));
        assert!(r.new.find(zero).is_none(), "its slot now holds the other hash");
        assert_eq!(r.new.find(one).map(|(_, p, t)| (p.to_vec(), t.to_vec())), Some((vec![4, 60], vec![60, 60])));
    }

    #[test]
    fn a_table_seeds_its_own_fingerprints() {
        let mut r = Replay::default();
        let f = r.fingerprint(&msg(1, [300, 300]), &[]).unwrap();
        // the id and the TTLs are masked: the same fingerprint in the same table
        assert_eq!(r.fingerprint(&msg(2, [250, 250]), &[]), Some(f));
        // another table gives another fingerprint
        let mut other = Replay::default();
        assert_ne!(other.fingerprint(&msg(1, [300, 300]), &[]), Some(f));
    }

    #[test]
    fn re_extracted_entries_do_not_grow_the_arena_without_bound() {
        let mut r = Replay::with_capacity(4);
        for i in 0..10_000u32 {
            // the same response with TTLs that never shift together: extracted every time
            let f = r.fingerprint(&msg(1, [300 + i % 7, 300 + i % 5]), &[]).unwrap();
            r.insert(f, entry(300, 0));
            assert!(r.new.arena.len() <= 4 * ARENA_PER_ENTRY + 8, "{}", r.new.arena.len());
        }
    }
}
