//! The ordered key-value layout every backend stores: record and index entries in key spaces
//! told apart by their first byte ([`keys`]), the entries a [`Batch`] contributes to them
//! ([`for_each_entry`]), and every lookup the API offers expressed as range scans over them
//! ([`lookup_rrset`], [`lookup_rdata`]).
//!
//! A backend supplies two things: a way to write entries (merging aggregates of equal keys
//! with [`Aggregate::merge`], and overwriting puts), and a [`KvSource`] that scans a key range
//! in byte order. Lookups, their filters and their result order are then the same on every
//! backend by construction: the embedded RocksDB store is one such backend (a merge operator
//! per key), ClickHouse another (an `AggregatingMergeTree` ordered by key).

pub mod keys;
mod read;
pub mod survey;

use std::ops::ControlFlow;

use dnsledger_model::key::TAG_NEGATIVE;
use dnsledger_model::{Aggregate, Name, Rdata, Record, RrType};

use crate::{Batch, RdataQuery, RrsetQuery, ScanStats, StoreError, Visitor, WriteStats};
use keys::{
    KeyParts, NAMES_OWNER, NAMES_TARGET, P_IP, P_META, P_NAME, P_NAMES, P_RAW, P_RRSET, RDATA_BARE, RDATA_FULL,
};

/// Prefix (after [`keys::P_META`]) of import checkpoint keys.
pub const CKPT_PREFIX: &[u8] = b"ckpt/";

/// The visitor of [`KvSource::scan`]: key (with key-space byte), value, stats; break to stop.
pub type ScanFn<'a> = dyn FnMut(&[u8], &[u8], &mut ScanStats) -> ControlFlow<()> + 'a;

/// An ordered key-value source lookups can scan.
pub trait KvSource {
    /// Visits every entry with `start <= key` (and `key < end` when given) in ascending byte
    /// order of keys, each key once with its merged value: an encoded [`Aggregate`] in the
    /// record and inverse-index spaces, empty in the names space, raw bytes in the metadata
    /// space. Stops when `f` breaks and returns what `f` returned last. Counts each entry in
    /// `stats.scanned`.
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        stats: &mut ScanStats,
        f: &mut ScanFn<'_>,
    ) -> Result<ControlFlow<()>, StoreError>;

    /// Builds the record a lookup returns, resolving the aggregate's sensor ids to names.
    fn record(
        &self,
        rrname: Name,
        rrtype: RrType,
        bailiwick: Option<Name>,
        rdata: Vec<Rdata>,
        agg: Aggregate,
    ) -> Record;

    /// The name registered for a sensor id found in this source's aggregates, `None` if no
    /// sensor is registered under it (the integrity check reports such ids). The default
    /// resolves the id as [`KvSource::record`] does.
    fn sensor_name(&self, id: u16) -> Option<String> {
        let mut agg = Aggregate::default();
        agg.sensors.insert(id);
        self.record(Name::root(), RrType::A, None, Vec::new(), agg).sensors.pop()
    }
}

/// Visits RRset records matching `q` from `src`, in key order.
pub fn lookup_rrset(src: &dyn KvSource, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
    read::Reader { src }.lookup_rrset(q, visit)
}

/// Visits rdata records matching `q` from `src`, aggregated over bailiwicks, in key order.
pub fn lookup_rdata(src: &dyn KvSource, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
    read::Reader { src }.lookup_rdata(q, visit)
}

/// The metadata key of an import source's checkpoint.
pub fn checkpoint_key(source: &str) -> Vec<u8> {
    let mut k = vec![P_META];
    k.extend_from_slice(CKPT_PREFIX);
    k.extend_from_slice(source.as_bytes());
    k
}

/// The visitor of [`for_each_entry`]: an entry's key (with key-space byte) and value.
pub type EntryFn<'a> = dyn FnMut(&[u8], EntryValue<'_>) -> Result<(), StoreError> + 'a;

/// What an entry contributes to its key.
#[derive(Debug, Clone, Copy)]
pub enum EntryValue<'a> {
    /// Merge this aggregate (sensor ids local to the batch) into the key's value.
    Merge(&'a Aggregate),
    /// Set the key to these bytes (empty for names-index entries).
    Put(&'a [u8]),
}

fn corrupt(e: dnsledger_model::key::KeyError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

/// Index entries: keys in one arena, each with its kind (merge or put), the record (index into
/// the batch's sorted records) whose aggregate a merge carries, and optionally that aggregate's
/// encoding stored right after the key, so that writing the entries in key order reads one
/// place in memory per entry instead of also visiting the record.
#[derive(Default)]
pub struct Entries {
    arena: Vec<u8>,
    /// (arena offset, key length, value length, record, merge)
    items: Vec<(usize, u32, u32, u32, bool)>,
}

impl Entries {
    /// Appends an entry: its key, whether it merges (else an empty put), its record index.
    pub fn push(&mut self, key: &[u8], merge: bool, record: usize) {
        self.items.push((self.arena.len(), key.len() as u32, 0, record as u32, merge));
        self.arena.extend_from_slice(key);
    }

    /// Copies the entries of `other` (whose values are unset) and gives each merge entry
    /// `value` (the encoded aggregate of its record).
    pub fn extend_with_value(&mut self, other: &Entries, value: &[u8]) {
        for &(off, klen, _, record, merge) in &other.items {
            let start = self.arena.len();
            self.arena.extend_from_slice(&other.arena[off..off + klen as usize]);
            let vlen = if merge {
                self.arena.extend_from_slice(value);
                value.len() as u32
            } else {
                0
            };
            self.items.push((start, klen, vlen, record, merge));
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The key of entry `i`.
    pub fn key(&self, i: usize) -> &[u8] {
        let (off, len, _, _, _) = self.items[i];
        &self.arena[off..off + len as usize]
    }

    /// The value stored with entry `i` by [`Entries::extend_with_value`] (empty if none).
    pub fn value(&self, i: usize) -> &[u8] {
        let (off, klen, vlen, _, _) = self.items[i];
        let start = off + klen as usize;
        &self.arena[start..start + vlen as usize]
    }

    /// True if entry `i` merges an aggregate (false: an empty put).
    pub fn is_merge(&self, i: usize) -> bool {
        self.items[i].4
    }

    /// The record (index given when pushed) whose aggregate entry `i` carries.
    pub fn record(&self, i: usize) -> usize {
        self.items[i].3 as usize
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.arena.clear();
        self.items.clear();
    }
}

/// The name an rdata item is indexed under, from its stored parts (no copy for wire rdata).
fn indexed_target(rrtype: RrType, tag: u8, octets: &[u8]) -> Result<Option<Name>, StoreError> {
    if tag == 0 {
        return Ok(dnsledger_model::rdata::wire_indexed_name(rrtype, octets));
    }
    Ok(keys::rdata_from_parts(tag, octets).map_err(corrupt)?.indexed_name(rrtype))
}

/// Appends the inverse-index entries (address, rdata name, raw rdata; all merges) of a record.
pub fn rdata_entries(
    parts: &KeyParts<'_>,
    record: usize,
    out: &mut Entries,
    kbuf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    for &(tag, octets, enc) in &parts.rdata {
        if tag == TAG_NEGATIVE {
            continue;
        }
        kbuf.clear();
        let is_ip = tag == 0
            && ((parts.rrtype == RrType::A && octets.len() == 4)
                || (parts.rrtype == RrType::AAAA && octets.len() == 16));
        if is_ip {
            kbuf.push(P_IP);
            kbuf.push(if octets.len() == 4 { 4 } else { 6 });
            kbuf.extend_from_slice(octets);
        } else {
            if let Some(target) = indexed_target(parts.rrtype, tag, octets)? {
                kbuf.push(P_NAME);
                target.write_key(true, kbuf);
                kbuf.extend_from_slice(&parts.rrtype.0.to_be_bytes());
                kbuf.extend_from_slice(parts.rname);
                if tag == 0 && octets == target.as_wire() {
                    kbuf.push(RDATA_BARE);
                } else {
                    kbuf.push(RDATA_FULL);
                    kbuf.extend_from_slice(enc);
                }
                kbuf.extend_from_slice(parts.bailiwick);
                out.push(kbuf, true, record);
                continue;
            }
            kbuf.push(P_RAW);
            kbuf.extend_from_slice(enc);
            kbuf.extend_from_slice(&parts.rrtype.0.to_be_bytes());
        }
        kbuf.extend_from_slice(parts.rname);
        kbuf.extend_from_slice(parts.bailiwick);
        out.push(kbuf, true, record);
    }
    Ok(())
}

/// Appends the names-index entries (puts) for the rdata targets of a record.
pub fn target_name_entries(
    parts: &KeyParts<'_>,
    record: usize,
    out: &mut Entries,
    kbuf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    if matches!(parts.rrtype, RrType::A | RrType::AAAA) {
        return Ok(());
    }
    for &(tag, octets, _) in &parts.rdata {
        if tag == TAG_NEGATIVE {
            continue;
        }
        if let Some(target) = indexed_target(parts.rrtype, tag, octets)? {
            kbuf.clear();
            kbuf.push(P_NAMES);
            kbuf.push(NAMES_TARGET);
            target.write_key(false, kbuf);
            out.push(kbuf, false, record);
        }
    }
    Ok(())
}

/// The names-index key of an owner name given as its reversed key: the same escaped labels,
/// in the opposite order (no decoding needed).
pub fn owner_name_key(rname: &[u8], kbuf: &mut Vec<u8>) -> Result<(), StoreError> {
    kbuf.clear();
    kbuf.push(P_NAMES);
    kbuf.push(NAMES_OWNER);
    let body = rname.strip_suffix(&[0]).ok_or_else(|| StoreError::Corrupt("name key without terminator".into()))?;
    // each label is its escaped bytes followed by 0x00, and escapes never contain 0x00
    for label in body.rsplit(|&b| b == 0).filter(|l| !l.is_empty()) {
        kbuf.extend_from_slice(label);
        kbuf.push(0);
    }
    kbuf.push(0);
    Ok(())
}

/// Calls `f` for every entry a batch contributes, in the batch's record order: each record's
/// RRset entry, its owner-name entry (once per run of records with the same owner), its
/// inverse-index and target-name entries; then the batch's checkpoints. Equal index keys
/// from different records of the batch are passed separately (writers merge them).
pub fn for_each_entry(batch: &Batch, f: &mut EntryFn<'_>) -> Result<WriteStats, StoreError> {
    let mut stats = WriteStats { observations: batch.observations(), ..WriteStats::default() };
    let mut kbuf = Vec::with_capacity(256);
    let mut key = Vec::with_capacity(256);
    let mut entries = Entries::default();
    let mut last_name: Vec<u8> = Vec::new();
    for (rkey, agg) in batch.sorted_records() {
        key.clear();
        key.push(P_RRSET);
        key.extend_from_slice(rkey);
        f(&key, EntryValue::Merge(agg))?;
        stats.records += 1;
        let parts = keys::split_record_key(rkey).map_err(corrupt)?;
        if parts.rname != last_name.as_slice() {
            owner_name_key(parts.rname, &mut kbuf)?;
            f(&kbuf, EntryValue::Put(&[]))?;
            stats.index_entries += 1;
            last_name.clear();
            last_name.extend_from_slice(parts.rname);
        }
        entries.clear();
        rdata_entries(&parts, 0, &mut entries, &mut kbuf)?;
        target_name_entries(&parts, 0, &mut entries, &mut kbuf)?;
        for i in 0..entries.len() {
            let v = if entries.is_merge(i) { EntryValue::Merge(agg) } else { EntryValue::Put(&[]) };
            f(entries.key(i), v)?;
            stats.index_entries += 1;
        }
    }
    for (source, progress) in batch.checkpoints() {
        f(&checkpoint_key(source), EntryValue::Put(progress))?;
    }
    Ok(stats)
}
