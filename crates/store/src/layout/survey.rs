//! A whole-store survey (`dnsledger stats`) and integrity check (`dnsledger check`) over any
//! [`KvSource`], so every backend gets both: one pass over every key space in key order.
//!
//! The **survey** counts RRset records per type (with the observations they stand for),
//! negative records, index entries per family, the sensors that saw records, the time ranges
//! the data covers (sensor/log time and zone-file time) and lists the import checkpoints.
//!
//! The **check** does the same pass and also decodes every key and value completely, checks
//! that keys come in ascending order, that every sensor id an aggregate carries is registered,
//! and that the inverse and name indexes agree with the RRset records. Each problem names the
//! key (in hex) and the reason; the number listed is capped, the counts are exact.
//!
//! **Index agreement without sets in memory.** Every index entry is a function of the RRset
//! records ([`rdata_entries`], [`owner_name_key`]). Address, rdata-name and raw-rdata keys
//! contain the owner name, the type and the bailiwick, and RRset keys start with exactly these,
//! so all records that can imply one index key are adjacent in the RRset key space. The check
//! derives the index entries of each such run of records, folds equal keys, and adds a 128-bit
//! hash of every derived key (and, separately, of the key with its value's count, time ranges
//! and TTL range, which merge exactly — a sum, minima and maxima) to an order-independent sum
//! per index family; the scan of the index key spaces adds the same hashes of the entries that
//! are present. Equal multisets give equal sums; different ones give different sums except
//! with negligible probability. Owner names are one per run of records of one owner; target
//! names are the distinct targets of the rdata-name index (adjacent there), whose agreement
//! with the records the rdata-name digest establishes. Memory is bounded by the largest run of
//! records of one (owner, type, bailiwick), not by the store.
//!
//! Sensor sets and day histories are not compared: both are capped
//! ([`dnsledger_model::aggregate::MAX_SENSORS`], `MAX_DAY_RUNS`), so their merge depends on
//! order and an index entry may legitimately differ from its records there.

use std::collections::{BTreeMap, HashMap};
use std::ops::ControlFlow;

use dnsledger_model::key::{read_bailiwick, TAG_NEGATIVE};
use dnsledger_model::{Aggregate, Name, Negative, Rdata, RecordKey};
use xxhash_rust::xxh3::{xxh3_128, Xxh3};

use super::keys::{
    name_key_len, split_record_key, NAMES_OWNER, NAMES_TARGET, P_IP, P_META, P_NAME, P_NAMES, P_RAW, P_RRSET,
    RDATA_BARE, RDATA_FULL,
};
use super::{owner_name_key, rdata_entries, Entries, KvSource, CKPT_PREFIX};
use crate::{sort_order, ScanStats, StoreError};

/// Prefix (after the metadata byte) of the embedded store's sensor registry (`sensor/` + u16 id).
const SENSOR_PREFIX: &[u8] = b"sensor/";
/// Prefix (after [`CKPT_PREFIX`]) of the batch ids of sensors' HTTP batches.
const BATCH_PREFIX: &[u8] = b"batch/";
/// The progress callback runs after this many entries.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Records and the observations they stand for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    /// Records.
    pub records: u64,
    /// Sum of their counts.
    pub observations: u64,
}

impl Counted {
    fn add(&mut self, agg: &Aggregate) {
        self.records += 1;
        self.observations = self.observations.saturating_add(agg.count);
    }
}

/// Index entries per family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexCounts {
    /// IPv4 address index entries.
    pub ipv4: u64,
    /// IPv6 address index entries.
    pub ipv6: u64,
    /// Rdata-name index entries (names inside rdata: NS, CNAME, MX, …).
    pub rdata_name: u64,
    /// Raw-rdata index entries.
    pub raw: u64,
    /// Owner names (for right-hand wildcards).
    pub owner_names: u64,
    /// Rdata target names (for right-hand wildcards on rdata names).
    pub target_names: u64,
}

/// One sensor and the RRset records that name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorUse {
    /// The store's id of the sensor.
    pub id: u16,
    /// Its registered name; `None` if none is registered under the id.
    pub name: Option<String>,
    /// RRset records that list it.
    pub records: u64,
}

/// An import checkpoint: a source and the progress stored for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointInfo {
    /// The source (an imported file's canonical path, a collector's stream id).
    pub source: String,
    /// The progress as stored (opaque to the store; text for file imports).
    pub progress: Vec<u8>,
}

/// What a store holds, from one pass over it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Survey {
    /// Entries read (records, index entries, metadata).
    pub entries: u64,
    /// Positive RRset records per type.
    pub rrtypes: BTreeMap<u16, Counted>,
    /// Negative records (`NXDOMAIN`, `NODATA`) per kind.
    pub negative: BTreeMap<&'static str, Counted>,
    /// Index entries per family.
    pub index: IndexCounts,
    /// Sensors named by RRset records, by id.
    pub sensors: Vec<SensorUse>,
    /// RRset records that name no sensor.
    pub without_sensor: u64,
    /// Oldest time_first and newest time_last of sensor and log data (epoch seconds).
    pub seen: Option<(u64, u64)>,
    /// Oldest and newest zone-file time.
    pub zone: Option<(u64, u64)>,
    /// Import checkpoints of files and streams, in key order.
    pub checkpoints: Vec<CheckpointInfo>,
    /// Sensor batch ids recorded for exactly-once HTTP batches.
    pub batch_ids: u64,
    /// Sensors in the embedded store's registry.
    pub registered_sensors: u64,
    /// The schema the store says it has, if it records one.
    pub schema: Option<String>,
    /// Other metadata entries (a backend's own bookkeeping, e.g. insert markers).
    pub other_meta: u64,
    /// Entries that could not be decoded (the check lists them).
    pub undecodable: u64,
    /// False if the pass stopped early (an engine error; see the check's problems).
    pub complete: bool,
}

impl Survey {
    /// All RRset records (positive and negative).
    pub fn records(&self) -> Counted {
        let mut c = Counted::default();
        for x in self.rrtypes.values().chain(self.negative.values()) {
            c.records += x.records;
            c.observations = c.observations.saturating_add(x.observations);
        }
        c
    }
}

/// Settings of [`check`].
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Most problems listed in the report (all are counted).
    pub max_problems: usize,
    /// Sensor names the store has registered (e.g. `Store::stats().sensors`): a sensor whose
    /// name is not among them is reported. `None` checks only that every id has a name.
    pub registered_sensors: Option<Vec<String>>,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions { max_problems: 100, registered_sensors: None }
    }
}

/// One problem found by [`check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Its kind, e.g. `undecodable value` (the report counts problems per kind).
    pub kind: &'static str,
    /// The key at fault, when there is one (key-space byte included).
    pub key: Option<Vec<u8>>,
    /// What is wrong.
    pub reason: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.kind, self.reason)?;
        if let Some(k) = &self.key {
            write!(f, " (key {})", hex(k))?;
        }
        Ok(())
    }
}

/// How one index family compares with the entries the RRset records imply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexAgreement {
    /// The family (`address`, `rdata name`, `raw rdata`, `owner names`, `target names`).
    pub index: &'static str,
    /// Entries the records imply.
    pub expected: u64,
    /// Entries present.
    pub present: u64,
    /// The same keys are present as expected.
    pub keys_agree: bool,
    /// Their counts, time ranges and TTL ranges are those of the records (always true for
    /// the name families, which carry no values).
    pub values_agree: bool,
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// The survey made on the way.
    pub survey: Survey,
    /// The first problems found (at most [`CheckOptions::max_problems`]).
    pub problems: Vec<Problem>,
    /// Problems found in all.
    pub problem_count: u64,
    /// Problems per kind.
    pub problem_kinds: BTreeMap<&'static str, u64>,
    /// Index agreement per family (empty when the pass did not complete).
    pub indexes: Vec<IndexAgreement>,
}

impl CheckReport {
    /// True if nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problem_count == 0
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Surveys the whole store; `progress` is called every 65536 entries with the counts so far.
pub fn survey(src: &dyn KvSource, progress: &mut dyn FnMut(&Survey)) -> Result<Survey, StoreError> {
    let mut pass = Pass::new(src, None);
    pass.run(progress)?;
    Ok(pass.survey)
}

/// Checks the whole store (see the module documentation); `progress` is called every 65536
/// entries. An engine error while reading (e.g. a block checksum mismatch) is reported as a
/// problem and ends the pass; the other problems found up to there are reported too.
pub fn check(
    src: &dyn KvSource,
    opts: &CheckOptions,
    progress: &mut dyn FnMut(&Survey),
) -> Result<CheckReport, StoreError> {
    let mut pass = Pass::new(src, Some(opts));
    if let Err(e) = pass.run(progress) {
        let at = (!pass.prev_key.is_empty()).then(|| pass.prev_key.clone());
        let reason = match at {
            Some(_) => format!("reading stopped after this key: {e}"),
            None => format!("reading stopped: {e}"),
        };
        pass.problem("engine", at.as_deref(), reason);
    }
    let mut indexes = Vec::new();
    if pass.survey.complete {
        for (i, name) in FAMILIES.iter().enumerate() {
            let (exp, pres) = (&pass.expected[i], &pass.present[i]);
            let a = IndexAgreement {
                index: name,
                expected: exp.entries,
                present: pres.entries,
                keys_agree: exp.entries == pres.entries && exp.keys == pres.keys,
                values_agree: exp.values == pres.values,
            };
            if !a.keys_agree {
                pass.problem(
                    "index disagreement",
                    None,
                    format!("index {name}: {} entries expected, {} present, digest mismatch", a.expected, a.present),
                );
            } else if !a.values_agree {
                pass.problem(
                    "index disagreement",
                    None,
                    format!(
                        "index {name}: the {} entries expected are present, but their counts or \
                         times differ from the records'",
                        a.present
                    ),
                );
            }
            indexes.push(a);
        }
    }
    Ok(CheckReport {
        survey: pass.survey,
        problems: pass.problems,
        problem_count: pass.problem_count,
        problem_kinds: pass.problem_kinds,
        indexes,
    })
}

/// Index families compared by the check, in report order.
const FAMILIES: [&str; 5] = ["address", "rdata name", "raw rdata", "owner names", "target names"];
const F_IP: usize = 0;
const F_NAME: usize = 1;
const F_RAW: usize = 2;
const F_OWNER: usize = 3;
const F_TARGET: usize = 4;

/// The parts of an aggregate whose merge is exact (sum, minima, maxima).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Summary {
    count: u64,
    seen: Option<(u64, u64)>,
    zone: Option<(u64, u64)>,
    ttl: Option<(u32, u32)>,
}

fn widen<T: Ord + Copy>(slot: &mut Option<(T, T)>, other: Option<(T, T)>) {
    if let Some((a, b)) = other {
        *slot = Some(match *slot {
            Some((x, y)) => (x.min(a), y.max(b)),
            None => (a, b),
        });
    }
}

impl Summary {
    fn of(agg: &Aggregate) -> Summary {
        Summary { count: agg.count, seen: agg.seen, zone: agg.zone, ttl: agg.ttl }
    }

    fn merge(&mut self, o: &Summary) {
        self.count = self.count.saturating_add(o.count);
        widen(&mut self.seen, o.seen);
        widen(&mut self.zone, o.zone);
        widen(&mut self.ttl, o.ttl);
    }

    fn hash_with(&self, key: &[u8]) -> u128 {
        let mut h = Xxh3::new();
        h.update(key);
        h.update(&self.count.to_le_bytes());
        for r in [self.seen, self.zone] {
            match r {
                Some((a, b)) => {
                    h.update(&[1]);
                    h.update(&a.to_le_bytes());
                    h.update(&b.to_le_bytes());
                }
                None => h.update(&[0]),
            }
        }
        match self.ttl {
            Some((a, b)) => {
                h.update(&[1]);
                h.update(&a.to_le_bytes());
                h.update(&b.to_le_bytes());
            }
            None => h.update(&[0]),
        }
        h.digest128()
    }
}

/// An order-independent digest of a multiset of index entries.
#[derive(Debug, Clone, Copy, Default)]
struct Digest {
    entries: u64,
    keys: u128,
    values: u128,
}

impl Digest {
    fn add(&mut self, key: &[u8], value: Option<&Summary>) {
        self.entries += 1;
        self.keys = self.keys.wrapping_add(xxh3_128(key));
        if let Some(s) = value {
            self.values = self.values.wrapping_add(s.hash_with(key));
        }
    }
}

/// A sensor id seen in aggregates.
struct SensorState {
    records: u64,
    /// Resolved and checked (check only).
    checked: bool,
}

/// One pass over the store: the survey, and the check when `opts` is given.
struct Pass<'a> {
    src: &'a dyn KvSource,
    opts: Option<&'a CheckOptions>,
    survey: Survey,
    sensors: HashMap<u16, SensorState>,
    problems: Vec<Problem>,
    problem_count: u64,
    problem_kinds: BTreeMap<&'static str, u64>,
    /// The previous key (order check, and where an engine error stopped the pass).
    prev_key: Vec<u8>,
    /// Key space of the previous key.
    space: u8,
    /// (owner, type, bailiwick) of the current run of RRset records.
    group: Vec<u8>,
    /// Index entries the current run implies, and the summaries of its records.
    group_entries: Entries,
    group_values: Vec<Summary>,
    last_owner: Vec<u8>,
    last_target: Vec<u8>,
    expected: [Digest; 5],
    present: [Digest; 5],
    kbuf: Vec<u8>,
    reencoded: Vec<u8>,
}

/// Decoding failures inside keys, as text.
type Reason = String;

fn reason(e: impl std::fmt::Display) -> Reason {
    e.to_string()
}

impl<'a> Pass<'a> {
    fn new(src: &'a dyn KvSource, opts: Option<&'a CheckOptions>) -> Pass<'a> {
        Pass {
            src,
            opts,
            survey: Survey::default(),
            sensors: HashMap::new(),
            problems: Vec::new(),
            problem_count: 0,
            problem_kinds: BTreeMap::new(),
            prev_key: Vec::new(),
            space: 0,
            group: Vec::new(),
            group_entries: Entries::default(),
            group_values: Vec::new(),
            last_owner: Vec::new(),
            last_target: Vec::new(),
            expected: [Digest::default(); 5],
            present: [Digest::default(); 5],
            kbuf: Vec::with_capacity(256),
            reencoded: Vec::with_capacity(256),
        }
    }

    fn verify(&self) -> bool {
        self.opts.is_some()
    }

    fn problem(&mut self, kind: &'static str, key: Option<&[u8]>, reason: impl Into<String>) {
        self.problem_count += 1;
        *self.problem_kinds.entry(kind).or_default() += 1;
        if self.problems.len() < self.opts.map_or(0, |o| o.max_problems) {
            self.problems.push(Problem { kind, key: key.map(<[u8]>::to_vec), reason: reason.into() });
        }
    }

    fn run(&mut self, progress: &mut dyn FnMut(&Survey)) -> Result<(), StoreError> {
        let src = self.src;
        let mut stats = ScanStats::default();
        let _whole = src.scan(&[], None, &mut stats, &mut |k, v, _| {
            self.entry(k, v);
            if self.survey.entries.is_multiple_of(PROGRESS_EVERY) {
                progress(&self.survey);
            }
            ControlFlow::Continue(())
        })?;
        self.leave_space();
        self.finish_sensors();
        self.survey.complete = true;
        progress(&self.survey);
        Ok(())
    }

    fn entry(&mut self, k: &[u8], v: &[u8]) {
        self.survey.entries += 1;
        if self.verify() && !self.prev_key.is_empty() && k <= self.prev_key.as_slice() {
            self.problem("key order", Some(k), format!("key does not follow {}", hex(&self.prev_key)));
        }
        self.prev_key.clear();
        self.prev_key.extend_from_slice(k);
        let Some(&space) = k.first() else {
            self.problem("unknown key space", Some(k), "empty key");
            return;
        };
        if space != self.space {
            self.leave_space();
            self.space = space;
        }
        match space {
            P_RRSET => self.rrset(k, v),
            P_IP | P_NAME | P_RAW => self.inverse(space, k, v),
            P_NAMES => self.names(k, v),
            P_META => self.meta(k, v),
            _ => {
                self.survey.undecodable += 1;
                self.problem("unknown key space", Some(k), format!("key space byte {space:#04x} is not used"));
            }
        }
    }

    /// Work left when the pass moves on from a key space.
    fn leave_space(&mut self) {
        if self.space == P_RRSET {
            self.flush_group();
        }
    }

    fn decode_value(&mut self, k: &[u8], v: &[u8]) -> Option<Aggregate> {
        match Aggregate::decode(v) {
            Ok(a) => Some(a),
            Err(e) => {
                self.survey.undecodable += 1;
                self.problem("undecodable value", Some(k), reason(e));
                None
            }
        }
    }

    fn rrset(&mut self, k: &[u8], v: &[u8]) {
        let rk = &k[1..];
        let parts = match split_record_key(rk) {
            Ok(p) => p,
            Err(e) => {
                self.survey.undecodable += 1;
                self.problem("undecodable key", Some(k), reason(e));
                return;
            }
        };
        if self.verify() {
            match RecordKey::decode(rk) {
                Ok(rec) => {
                    self.reencoded.clear();
                    rec.encode(&mut self.reencoded);
                    if self.reencoded != rk {
                        self.problem("non-canonical key", Some(k), "the record key does not re-encode to itself");
                    }
                }
                Err(e) => {
                    self.survey.undecodable += 1;
                    self.problem("undecodable key", Some(k), reason(e));
                    return;
                }
            }
        }
        let agg = self.decode_value(k, v);
        let negative = match parts.rdata.first() {
            Some(&(TAG_NEGATIVE, octets, _)) => match octets {
                [code] => Negative::from_code(*code).map(Some),
                _ => None,
            },
            _ => Some(None),
        };
        let Some(negative) = negative else {
            self.survey.undecodable += 1;
            self.problem("undecodable key", Some(k), "bad negative-answer marker");
            return;
        };
        if let Some(agg) = &agg {
            match negative {
                Some(n) => self.survey.negative.entry(n.as_str()).or_default().add(agg),
                None => self.survey.rrtypes.entry(parts.rrtype.0).or_default().add(agg),
            }
            let (s, z) = (agg.seen, agg.zone);
            widen(&mut self.survey.seen, s);
            widen(&mut self.survey.zone, z);
            if agg.sensors.is_empty() {
                self.survey.without_sensor += 1;
            }
            for &id in agg.sensors.ids() {
                self.sensors.entry(id).or_insert(SensorState { records: 0, checked: false }).records += 1;
            }
            self.check_sensors(k, agg);
        }
        if !self.verify() {
            return;
        }
        // the index entries this record implies
        let glen = parts.rname.len() + 2 + parts.bailiwick.len();
        if self.group.as_slice() != &rk[..glen] {
            self.flush_group();
            self.group.clear();
            self.group.extend_from_slice(&rk[..glen]);
        }
        if self.last_owner.as_slice() != parts.rname {
            match owner_name_key(parts.rname, &mut self.kbuf) {
                Ok(()) => self.expected[F_OWNER].add(&self.kbuf, None),
                Err(e) => self.problem("undecodable key", Some(k), reason(e)),
            }
            self.last_owner.clear();
            self.last_owner.extend_from_slice(parts.rname);
        }
        let at = self.group_values.len();
        self.group_values.push(agg.as_ref().map(Summary::of).unwrap_or_default());
        if let Err(e) = rdata_entries(&parts, at, &mut self.group_entries, &mut self.kbuf) {
            self.problem("undecodable key", Some(k), reason(e));
        }
    }

    /// Adds the index entries implied by the current run of records to the expected digests.
    fn flush_group(&mut self) {
        let entries = &self.group_entries;
        let order = sort_order(entries.len(), |i| entries.key(i));
        let mut i = 0;
        while i < order.len() {
            let first = order[i] as usize;
            let key = entries.key(first);
            let mut value = self.group_values[entries.record(first)];
            let mut j = i + 1;
            while j < order.len() && entries.key(order[j] as usize) == key {
                value.merge(&self.group_values[entries.record(order[j] as usize)]);
                j += 1;
            }
            let family = match key.first() {
                Some(&P_IP) => F_IP,
                Some(&P_NAME) => F_NAME,
                _ => F_RAW,
            };
            self.expected[family].add(key, Some(&value));
            i = j;
        }
        self.group_entries.clear();
        self.group_values.clear();
    }

    fn inverse(&mut self, space: u8, k: &[u8], v: &[u8]) {
        let family = match space {
            P_IP => {
                match k.get(1) {
                    Some(4) => self.survey.index.ipv4 += 1,
                    Some(6) => self.survey.index.ipv6 += 1,
                    _ => {}
                }
                F_IP
            }
            P_NAME => {
                self.survey.index.rdata_name += 1;
                F_NAME
            }
            _ => {
                self.survey.index.raw += 1;
                F_RAW
            }
        };
        if !self.verify() {
            return;
        }
        let parsed = match space {
            P_IP => verify_ip_key(k),
            P_NAME => verify_name_key(k),
            _ => verify_raw_key(k),
        };
        if let Err(e) = parsed {
            self.survey.undecodable += 1;
            self.problem("undecodable key", Some(k), e);
        }
        let agg = self.decode_value(k, v);
        if let Some(a) = &agg {
            self.check_sensors(k, a);
        }
        self.present[family].add(k, Some(&agg.as_ref().map(Summary::of).unwrap_or_default()));
        if space == P_NAME {
            // each distinct target implies one target-names entry
            if let Ok(tl) = name_key_len(&k[1..]) {
                let target = &k[1..1 + tl];
                if self.last_target.as_slice() != target {
                    if owner_name_key(target, &mut self.kbuf).is_ok() {
                        self.kbuf[1] = NAMES_TARGET;
                        self.expected[F_TARGET].add(&self.kbuf, None);
                    }
                    self.last_target.clear();
                    self.last_target.extend_from_slice(target);
                }
            }
        }
    }

    fn names(&mut self, k: &[u8], v: &[u8]) {
        let family = match k.get(1) {
            Some(&NAMES_OWNER) => {
                self.survey.index.owner_names += 1;
                F_OWNER
            }
            Some(&NAMES_TARGET) => {
                self.survey.index.target_names += 1;
                F_TARGET
            }
            _ => {
                self.survey.undecodable += 1;
                self.problem("undecodable key", Some(k), "bad names-index tag");
                return;
            }
        };
        if !self.verify() {
            return;
        }
        match Name::decode_key(&k[2..], false) {
            Ok((_, used)) if used == k.len() - 2 => {}
            Ok(_) => {
                self.survey.undecodable += 1;
                self.problem("undecodable key", Some(k), "trailing bytes after the name");
            }
            Err(e) => {
                self.survey.undecodable += 1;
                self.problem("undecodable key", Some(k), reason(e));
            }
        }
        if !v.is_empty() {
            self.problem("unexpected value", Some(k), format!("names-index entry with a {}-byte value", v.len()));
        }
        self.present[family].add(k, None);
    }

    fn meta(&mut self, k: &[u8], v: &[u8]) {
        let rest = &k[1..];
        if let Some(source) = rest.strip_prefix(CKPT_PREFIX) {
            if source.starts_with(BATCH_PREFIX) {
                self.survey.batch_ids += 1;
                return;
            }
            if self.verify() && std::str::from_utf8(source).is_err() {
                self.problem("bad metadata", Some(k), "checkpoint source is not UTF-8");
            }
            let source = String::from_utf8_lossy(source).into_owned();
            self.survey.checkpoints.push(CheckpointInfo { source, progress: v.to_vec() });
        } else if let Some(id) = rest.strip_prefix(SENSOR_PREFIX) {
            self.survey.registered_sensors += 1;
            if self.verify() {
                if id.len() != 2 {
                    self.problem("bad metadata", Some(k), "sensor registry key without a 16-bit id");
                } else if v.is_empty() || std::str::from_utf8(v).is_err() {
                    self.problem("bad metadata", Some(k), "sensor name is empty or not UTF-8");
                }
            }
        } else if rest == b"schema" {
            self.survey.schema = Some(String::from_utf8_lossy(v).into_owned());
        } else {
            self.survey.other_meta += 1;
        }
    }

    /// Check only: reports, once per id, a sensor id that has no registered name.
    fn check_sensors(&mut self, k: &[u8], agg: &Aggregate) {
        let Some(opts) = self.opts else { return };
        for &id in agg.sensors.ids() {
            let state = self.sensors.entry(id).or_insert(SensorState { records: 0, checked: false });
            if state.checked {
                continue;
            }
            state.checked = true;
            match self.src.sensor_name(id) {
                None => self.problem("unregistered sensor", Some(k), format!("sensor id {id} has no registered name")),
                Some(name) => {
                    if opts.registered_sensors.as_ref().is_some_and(|r| !r.contains(&name)) {
                        self.problem(
                            "unregistered sensor",
                            Some(k),
                            format!("sensor {name:?} (id {id}) is not in the store's sensor table"),
                        );
                    }
                }
            }
        }
    }

    fn finish_sensors(&mut self) {
        let mut v: Vec<SensorUse> = self
            .sensors
            .iter()
            .filter(|(_, s)| s.records > 0)
            .map(|(&id, s)| SensorUse { id, name: self.src.sensor_name(id), records: s.records })
            .collect();
        v.sort_by_key(|s| s.id);
        self.survey.sensors = v;
    }
}

fn name_at(buf: &[u8]) -> Result<usize, Reason> {
    Name::decode_key(buf, true).map(|(_, used)| used).map_err(reason)
}

fn bailiwick_to_end(buf: &[u8]) -> Result<(), Reason> {
    let (_, used) = read_bailiwick(buf).map_err(reason)?;
    if used != buf.len() {
        return Err("trailing bytes after the bailiwick".into());
    }
    Ok(())
}

/// Address index: family · address · owner · bailiwick.
fn verify_ip_key(k: &[u8]) -> Result<(), Reason> {
    let alen = match k.get(1) {
        Some(4) => 4,
        Some(6) => 16,
        _ => return Err("bad address family".into()),
    };
    let rest = k.get(2 + alen..).ok_or("truncated address")?;
    let used = name_at(rest)?;
    bailiwick_to_end(&rest[used..])
}

/// Rdata-name index: target · type · owner · (bare | full rdata) · bailiwick.
fn verify_name_key(k: &[u8]) -> Result<(), Reason> {
    let body = &k[1..];
    let tl = name_at(body)?;
    let rest = body.get(tl + 2..).ok_or("missing rrtype")?;
    let used = name_at(rest)?;
    let pos = match rest.get(used) {
        Some(&RDATA_BARE) => used + 1,
        Some(&RDATA_FULL) => {
            let (_, rl) = Rdata::decode(&rest[used + 1..]).map_err(reason)?;
            used + 1 + rl
        }
        _ => return Err("bad rdata kind".into()),
    };
    bailiwick_to_end(&rest[pos..])
}

/// Raw-rdata index: rdata · type · owner · bailiwick.
fn verify_raw_key(k: &[u8]) -> Result<(), Reason> {
    let body = &k[1..];
    let (_, rl) = Rdata::decode(body).map_err(reason)?;
    let rest = body.get(rl + 2..).ok_or("missing rrtype")?;
    let used = name_at(rest)?;
    bailiwick_to_end(&rest[used..])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{for_each_entry, EntryValue};
    use crate::Batch;
    use dnsledger_model::{Observation, Record, RrType};
    use std::cell::RefCell;

    /// An in-memory ordered store written through the shared layout, as backends write it.
    #[derive(Default)]
    struct Mem {
        map: RefCell<BTreeMap<Vec<u8>, Vec<u8>>>,
        sensors: RefCell<Vec<String>>,
    }

    impl Mem {
        fn write(&self, batch: &Batch) {
            let ids: Vec<u16> = batch
                .sensor_names()
                .iter()
                .map(|n| {
                    let mut s = self.sensors.borrow_mut();
                    match s.iter().position(|x| x == n) {
                        Some(i) => i as u16,
                        None => {
                            s.push(n.clone());
                            (s.len() - 1) as u16
                        }
                    }
                })
                .collect();
            let mut map = self.map.borrow_mut();
            for_each_entry(batch, &mut |key, value| {
                match value {
                    EntryValue::Merge(agg) => {
                        let mut a = agg.clone();
                        a.sensors.remap(|id| ids[id as usize]);
                        let slot = map.entry(key.to_vec()).or_default();
                        let mut acc =
                            if slot.is_empty() { Aggregate::default() } else { Aggregate::decode(slot).unwrap() };
                        acc.merge(&a);
                        *slot = acc.to_bytes();
                    }
                    EntryValue::Put(v) => {
                        map.insert(key.to_vec(), v.to_vec());
                    }
                }
                Ok(())
            })
            .unwrap();
        }
    }

    impl KvSource for Mem {
        fn scan(
            &self,
            start: &[u8],
            end: Option<&[u8]>,
            stats: &mut ScanStats,
            f: &mut crate::layout::ScanFn<'_>,
        ) -> Result<ControlFlow<()>, StoreError> {
            let map = self.map.borrow();
            for (k, v) in map.range(start.to_vec()..) {
                if end.is_some_and(|e| k.as_slice() >= e) {
                    break;
                }
                stats.scanned += 1;
                if f(k, v, stats).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            Ok(ControlFlow::Continue(()))
        }

        fn record(
            &self,
            rrname: Name,
            rrtype: RrType,
            bailiwick: Option<Name>,
            rdata: Vec<Rdata>,
            agg: Aggregate,
        ) -> Record {
            let names = self.sensors.borrow();
            let sensors = agg.sensors.ids().iter().filter_map(|&i| names.get(i as usize).cloned()).collect();
            Record { rrname, rrtype, bailiwick, rdata, agg, sensors, negative: None }
        }
    }

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn obs(name: &str, t: RrType, rdata: Vec<Rdata>, time: u64, sensor: Option<&str>) -> Observation {
        Observation {
            rrname: n(name),
            rrtype: t,
            rdata: rdata.into_iter().collect(),
            bailiwick: Some(n("example.com")),
            time_first: time,
            time_last: time,
            ttl: Some(300),
            count: 2,
            sensor: sensor.map(str::to_string),
            ..Observation::default()
        }
    }

    fn ip(s: &str) -> Rdata {
        match s.parse::<std::net::IpAddr>().unwrap() {
            std::net::IpAddr::V4(a) => Rdata::ipv4(a),
            std::net::IpAddr::V6(a) => Rdata::ipv6(a),
        }
    }

    fn mx(pref: u16, host: &str) -> Rdata {
        let mut w = pref.to_be_bytes().to_vec();
        w.extend_from_slice(n(host).as_wire());
        Rdata::Wire(w)
    }

    /// A store with known content: 6 positive records, 1 negative one, two sensors.
    fn sample() -> Mem {
        let m = Mem::default();
        let mut b = Batch::new();
        for mut o in [
            obs("www.example.com", RrType::A, vec![ip("192.0.2.1")], 1_700_000_000, Some("fra-1")),
            // the same address in a second RRset of the same name: one index entry for both
            obs("www.example.com", RrType::A, vec![ip("192.0.2.1"), ip("192.0.2.2")], 1_700_000_100, Some("ams-1")),
            obs("www.example.com", RrType::AAAA, vec![ip("2001:db8::1")], 1_700_000_200, None),
            obs("example.com", RrType::MX, vec![mx(10, "mail.example.com")], 1_700_000_300, Some("fra-1")),
            obs("example.com", RrType::NS, vec![Rdata::name(&n("ns1.example.net"))], 1_700_000_400, None),
            obs("alias.example.com", RrType::CNAME, vec![Rdata::name(&n("www.example.com"))], 1_700_000_500, None),
        ] {
            b.add(&mut o);
        }
        let mut neg = Observation {
            rrname: n("nx.example.com"),
            rrtype: RrType::A,
            time_first: 1_600_000_000,
            time_last: 1_600_000_000,
            count: 1,
            negative: Some(Negative::NxDomain),
            ..Observation::default()
        };
        b.add(&mut neg);
        b.set_checkpoint("/var/log/pdns.log", b"v2 10 1 10 00 1".to_vec());
        b.set_checkpoint("batch/abc", vec![1]);
        m.write(&b);
        // a second batch touching the same keys merges into them
        let mut b = Batch::new();
        let mut o = obs("www.example.com", RrType::A, vec![ip("192.0.2.1")], 1_800_000_000, Some("fra-1"));
        o.zone = true;
        b.add(&mut o);
        m.write(&b);
        m
    }

    fn clean_check(m: &Mem) -> CheckReport {
        let opts = CheckOptions { max_problems: 50, registered_sensors: Some(m.sensors.borrow().clone()) };
        check(m, &opts, &mut |_| {}).unwrap()
    }

    #[test]
    fn surveys_known_content() {
        let m = sample();
        let mut calls = 0;
        let s = survey(&m, &mut |_| calls += 1).unwrap();
        assert!(s.complete && calls >= 1);
        assert_eq!(s.rrtypes[&RrType::A.0], Counted { records: 2, observations: 6 });
        assert_eq!(s.rrtypes[&RrType::AAAA.0], Counted { records: 1, observations: 2 });
        assert_eq!(s.rrtypes[&RrType::MX.0].records, 1);
        assert_eq!(s.rrtypes[&RrType::NS.0].records, 1);
        assert_eq!(s.rrtypes[&RrType::CNAME.0].records, 1);
        assert_eq!(s.negative["NXDOMAIN"], Counted { records: 1, observations: 1 });
        assert_eq!(s.records(), Counted { records: 7, observations: 15 });
        // 192.0.2.1 once (two RRsets, one owner and bailiwick), 192.0.2.2
        assert_eq!(s.index.ipv4, 2);
        assert_eq!(s.index.ipv6, 1);
        // MX, NS and CNAME targets (rdata with a name is indexed by it, not as raw bytes)
        assert_eq!(s.index.rdata_name, 3);
        assert_eq!(s.index.raw, 0);
        assert_eq!(s.index.owner_names, 4);
        assert_eq!(s.index.target_names, 3);
        assert_eq!(s.seen, Some((1_600_000_000, 1_700_000_500)));
        assert_eq!(s.zone, Some((1_800_000_000, 1_800_000_000)));
        let names: Vec<(Option<&str>, u64)> = s.sensors.iter().map(|x| (x.name.as_deref(), x.records)).collect();
        assert_eq!(names, vec![(Some("fra-1"), 2), (Some("ams-1"), 1)]);
        assert_eq!(s.without_sensor, 4);
        assert_eq!(s.checkpoints.len(), 1);
        assert_eq!(s.checkpoints[0].source, "/var/log/pdns.log");
        assert_eq!(s.batch_ids, 1);
        assert_eq!(s.undecodable, 0);
        assert_eq!(s.entries, m.map.borrow().len() as u64);
    }

    #[test]
    fn a_consistent_store_checks_clean() {
        let m = sample();
        let r = clean_check(&m);
        assert!(r.is_clean(), "{:?}", r.problems);
        assert_eq!(r.indexes.len(), 5);
        for a in &r.indexes {
            assert!(a.keys_agree && a.values_agree && a.expected == a.present, "{a:?}");
        }
        assert_eq!(r.survey, survey(&m, &mut |_| {}).unwrap());
    }

    #[test]
    fn a_missing_index_entry_is_reported() {
        let m = sample();
        let victim = m.map.borrow().keys().find(|k| k[0] == P_IP).unwrap().clone();
        m.map.borrow_mut().remove(&victim);
        let r = clean_check(&m);
        assert_eq!(r.problem_count, 1, "{:?}", r.problems);
        assert_eq!(r.problems[0].reason, "index address: 3 entries expected, 2 present, digest mismatch");
        let a = r.indexes.iter().find(|a| a.index == "address").unwrap();
        assert!(!a.keys_agree);
        assert!(r.indexes.iter().filter(|a| a.index != "address").all(|a| a.keys_agree && a.values_agree));
    }

    #[test]
    fn an_extra_or_renamed_index_entry_is_reported() {
        let m = sample();
        // same number of entries, one key different: only the digest tells
        let victim = m.map.borrow().keys().find(|k| k[0] == P_NAMES && k[1] == NAMES_TARGET).unwrap().clone();
        let mut other = vec![P_NAMES, NAMES_TARGET];
        n("elsewhere.example").write_key(false, &mut other);
        m.map.borrow_mut().remove(&victim);
        m.map.borrow_mut().insert(other, Vec::new());
        let r = clean_check(&m);
        assert_eq!(r.problem_count, 1, "{:?}", r.problems);
        assert!(
            r.problems[0].reason.starts_with("index target names: 3 entries expected, 3 present"),
            "{:?}",
            r.problems
        );
    }

    #[test]
    fn index_values_that_disagree_with_records_are_reported() {
        let m = sample();
        let victim = m.map.borrow().keys().find(|k| k[0] == P_NAME).unwrap().clone();
        let mut a = Aggregate::decode(&m.map.borrow()[&victim]).unwrap();
        a.count += 1;
        m.map.borrow_mut().insert(victim, a.to_bytes());
        let r = clean_check(&m);
        assert_eq!(r.problem_count, 1, "{:?}", r.problems);
        assert!(r.problems[0]
            .reason
            .contains("index rdata name: the 3 entries expected are present, but their counts"));
    }

    #[test]
    fn undecodable_entries_are_listed_with_their_keys() {
        let m = sample();
        let rrset = m.map.borrow().keys().find(|k| k[0] == P_RRSET).unwrap().clone();
        m.map.borrow_mut().insert(rrset.clone(), vec![0xff, 1, 2]);
        let mut bad_key = vec![P_RAW, 0, 0xff];
        bad_key.push(7);
        m.map.borrow_mut().insert(bad_key.clone(), Aggregate::default().to_bytes());
        m.map.borrow_mut().insert(vec![0x09, 1, 2], vec![]);
        let r = clean_check(&m);
        let kinds: Vec<(&str, Option<&Vec<u8>>)> = r.problems.iter().map(|p| (p.kind, p.key.as_ref())).collect();
        assert!(kinds.contains(&("undecodable value", Some(&rrset))), "{:?}", r.problems);
        assert!(kinds.contains(&("undecodable key", Some(&bad_key))), "{:?}", r.problems);
        assert!(kinds.contains(&("unknown key space", Some(&vec![0x09, 1, 2]))), "{:?}", r.problems);
        // the raw index now has an entry no record implies, and the rdata-name index entry of
        // the corrupt record (example.com NS, the first record key) no longer matches its value
        assert_eq!(r.problem_kinds["index disagreement"], 2, "{:?}", r.problems);
        assert_eq!(r.survey.undecodable, 3);
        let shown = r.problems.iter().find(|p| p.key.as_ref() == Some(&rrset)).unwrap().to_string();
        assert!(shown.starts_with("undecodable value: corrupt aggregate value"), "{shown}");
        assert!(shown.ends_with(&format!("(key {})", hex(&rrset))), "{shown}");
        // a survey skips what it cannot read (it does not decode index keys)
        let s = survey(&m, &mut |_| {}).unwrap();
        assert_eq!(s.undecodable, 2);
        assert_eq!(s.records().records, 6);
    }

    #[test]
    fn unregistered_sensors_are_reported_once_with_a_key() {
        let m = sample();
        // an id no name is registered under
        let victim = m.map.borrow().keys().find(|k| k[0] == P_RRSET).unwrap().clone();
        let mut a = Aggregate::decode(&m.map.borrow()[&victim]).unwrap();
        a.sensors.insert(9);
        m.map.borrow_mut().insert(victim.clone(), a.to_bytes());
        let r = clean_check(&m);
        let p: Vec<&Problem> = r.problems.iter().filter(|p| p.kind == "unregistered sensor").collect();
        assert_eq!(p.len(), 1, "{:?}", r.problems);
        assert_eq!(p[0].key.as_ref(), Some(&victim));
        assert_eq!(p[0].reason, "sensor id 9 has no registered name");
        assert!(r.survey.sensors.iter().any(|s| s.id == 9 && s.name.is_none() && s.records == 1));
        // a name the store's sensor table lacks
        let opts = CheckOptions { max_problems: 10, registered_sensors: Some(vec!["fra-1".into()]) };
        let r = check(&sample(), &opts, &mut |_| {}).unwrap();
        assert_eq!(r.problem_count, 1, "{:?}", r.problems);
        assert!(r.problems[0].reason.contains("\"ams-1\""));
    }

    #[test]
    fn out_of_order_keys_and_the_problem_cap() {
        /// Yields the entries of a map in reverse order.
        struct Reversed(Mem);
        impl KvSource for Reversed {
            fn scan(
                &self,
                _start: &[u8],
                _end: Option<&[u8]>,
                stats: &mut ScanStats,
                f: &mut crate::layout::ScanFn<'_>,
            ) -> Result<ControlFlow<()>, StoreError> {
                for (k, v) in self.0.map.borrow().iter().rev() {
                    if f(k, v, stats).is_break() {
                        return Ok(ControlFlow::Break(()));
                    }
                }
                Ok(ControlFlow::Continue(()))
            }
            fn record(&self, a: Name, b: RrType, c: Option<Name>, d: Vec<Rdata>, e: Aggregate) -> Record {
                self.0.record(a, b, c, d, e)
            }
        }
        let m = Reversed(sample());
        let total = m.0.map.borrow().len() as u64;
        let r = check(&m, &CheckOptions { max_problems: 3, registered_sensors: None }, &mut |_| {}).unwrap();
        assert_eq!(r.problem_kinds["key order"], total - 1);
        assert_eq!(r.problems.len(), 3);
        assert!(r.problem_count > 3);
    }

    #[test]
    fn an_engine_error_ends_the_pass_as_a_problem() {
        struct Failing(Mem);
        impl KvSource for Failing {
            fn scan(
                &self,
                start: &[u8],
                end: Option<&[u8]>,
                stats: &mut ScanStats,
                f: &mut crate::layout::ScanFn<'_>,
            ) -> Result<ControlFlow<()>, StoreError> {
                let mut n = 0;
                let _stopped = self.0.scan(start, end, stats, &mut |k, v, s| {
                    n += 1;
                    if n > 4 {
                        return ControlFlow::Break(());
                    }
                    f(k, v, s)
                })?;
                Err(StoreError::Engine("Corruption: block checksum mismatch".into()))
            }
            fn record(&self, a: Name, b: RrType, c: Option<Name>, d: Vec<Rdata>, e: Aggregate) -> Record {
                self.0.record(a, b, c, d, e)
            }
        }
        let m = Failing(sample());
        let r = check(&m, &CheckOptions::default(), &mut |_| {}).unwrap();
        assert!(!r.survey.complete);
        assert_eq!(r.survey.entries, 4);
        assert_eq!(r.problem_count, 1);
        assert_eq!(r.problems[0].kind, "engine");
        assert!(r.problems[0].reason.contains("block checksum mismatch"));
        assert!(r.problems[0].key.is_some());
        assert!(r.indexes.is_empty());
        assert!(survey(&m, &mut |_| {}).is_err());
    }
}
