//! The [`Store`] on ClickHouse: batches become RowBinary inserts per shard (exactly once, see
//! the crate doc), lookups become paged key-range queries that the shared layout code reads
//! as an ordered key-value source.

use std::collections::{HashMap, HashSet};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dnsledger_model::{Aggregate, DayHistory, Name, Rdata, Record, RrType};
use dnsledger_store::layout::keys::{P_META, P_NAMES, P_RAW, P_RRSET};
use dnsledger_store::layout::{self, for_each_entry, EntryValue, KvSource, ScanFn};
use dnsledger_store::{
    Batch, ExpireReport, Gauge, RdataQuery, RrsetQuery, ScanStats, Store, StoreError, StoreStats, Visitor, WriteStats,
};

use crate::http::{ident, literal, HttpError, Node};
use crate::rowbinary::{put_string, put_u32, put_u64, put_varuint, DecodeError, Reader};
use crate::schema::{self, MAX_INSERT_ROWS, MERGED_COLUMNS, SCHEMA_VERSION};
use crate::ClickHouseOptions;

mod sweep;
pub(crate) use sweep::{max_block_sql, names_since_sql, stale_names_count_sql, sweep_sql};

/// Prefix (after [`P_META`]) of the exactly-once markers of retries (deleted after a day).
const MARKER_PREFIX: &[u8] = b"batch/";
/// Prefix (after [`P_META`]) of the markers of checkpointed batches (kept, like the
/// checkpoints they go with).
const REPLAY_PREFIX: &[u8] = b"replay/";
/// Runs of active days longer than this are stored by their ends only (a guard against
/// absurd histories; real data never comes near it).
const MAX_RUN_DAYS: u32 = 20_000;
/// First and largest page of a scan (rows).
const FIRST_PAGE: usize = 1_000;
const MAX_PAGE: usize = 200_000;

fn engine(context: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(format!("{context}: {e}"))
}

fn now_nanos() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// The lower bound of a scan: keys from `start` on (`exclusive`: after it).
///
/// ClickHouse 18.16 compares strings as if the shorter were padded with zero bytes, so
/// `'a\x00' >= 'a\x00\x00'` holds there. Keys of the layout are prefix-free, so this
/// only matters for bounds ending in zero bytes: `key > B` never matches `B` followed by
/// zeros, and `key >= B` is corrected with a length test for keys equal to `B` up to padding.
/// On releases that compare exactly, the extra test changes nothing.
fn lower_bound(start: &[u8], exclusive: bool) -> String {
    let lit = literal(start);
    if exclusive {
        format!("key > {lit}")
    } else if start.last() == Some(&0) {
        format!("key >= {lit} AND (key > {lit} OR length(key) >= {})", start.len())
    } else {
        format!("key >= {lit}")
    }
}

/// The scan query of keys from `start` (after it when `exclusive`) below `end` on `table`,
/// at most `limit` keys.
pub(crate) fn scan_sql(table: &str, start: &[u8], exclusive: bool, end: Option<&[u8]>, limit: usize) -> String {
    let upper = end.map(|e| format!(" AND key < {}", literal(e))).unwrap_or_default();
    format!(
        "SELECT {MERGED_COLUMNS} FROM {table} WHERE {}{upper} GROUP BY key ORDER BY key LIMIT {limit} \
         FORMAT RowBinary",
        lower_bound(start, exclusive)
    )
}

/// The query that tells whether a marker reached a shard's local table.
pub(crate) fn marker_sql(db: &str, marker: &[u8]) -> String {
    format!("SELECT count() FROM {db}.entries WHERE key = {} FORMAT TabSeparated", literal(marker))
}

/// The query of a checkpoint value on a shard's local table.
pub(crate) fn checkpoint_sql(db: &str, key: &[u8]) -> String {
    format!("SELECT argMaxMerge(value) FROM {db}.entries WHERE key = {} GROUP BY key FORMAT RowBinary", literal(key))
}

/// The size query of a server's `entries` parts.
pub(crate) fn parts_sql(database: &str) -> String {
    format!(
        "SELECT sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = {} AND table = 'entries' AND active \
         FORMAT TabSeparated",
        literal(database.as_bytes())
    )
}

/// The query of every sensor name.
pub(crate) fn sensors_sql(table: &str) -> String {
    format!("SELECT name FROM {table} GROUP BY name ORDER BY name FORMAT RowBinary")
}

/// The query that tells whether an insert with this id still runs.
pub(crate) fn processes_sql(query_id: &str) -> String {
    format!(
        "SELECT count() FROM system.processes WHERE query_id = {} FORMAT TabSeparated",
        literal(query_id.as_bytes())
    )
}

/// The mutation that deletes markers written before `before_secs` (unix seconds).
pub(crate) fn markers_cleanup_sql(db: &str, before_secs: u64) -> String {
    let mut lo = vec![P_META];
    lo.extend_from_slice(MARKER_PREFIX);
    let mut hi = lo.clone();
    hi.extend_from_slice(&before_secs.to_be_bytes());
    format!("ALTER TABLE {db}.entries DELETE WHERE key >= {} AND key < {}", literal(&lo), literal(&hi))
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The latest time of a merged row (0 when it has none: ClickHouse stores absent times as 0).
fn last_seen(agg: &Aggregate) -> u64 {
    let s = agg.seen.map_or(0, |(_, l)| l);
    let z = agg.zone.map_or(0, |(_, l)| l);
    s.max(z)
}

/// The keys of records and inverse-index entries last seen before `before` on one server.
fn expired_keys_sql(db: &str, before: u64) -> String {
    format!(
        "SELECT key FROM {db}.entries WHERE key >= {} AND key < {} GROUP BY key \
         HAVING greatest(maxMerge(seen_last), maxMerge(zone_last)) > 0 \
         AND greatest(maxMerge(seen_last), maxMerge(zone_last)) < {before}",
        literal(&[P_RRSET]),
        literal(&[P_RAW + 1]),
    )
}

/// How many expired keys one server holds: (records, inverse-index entries).
pub(crate) fn expired_count_sql(db: &str, before: u64) -> String {
    format!(
        "SELECT countIf(substring(key, 1, 1) = {}), countIf(substring(key, 1, 1) != {}) FROM ({}) \
         FORMAT TabSeparated",
        literal(&[P_RRSET]),
        literal(&[P_RRSET]),
        expired_keys_sql(db, before)
    )
}

/// The mutation deleting them (every state row of each such key).
pub(crate) fn expire_sql(db: &str, before: u64) -> String {
    format!("ALTER TABLE {db}.entries DELETE WHERE key IN ({})", expired_keys_sql(db, before))
}

/// The state of `entries`' mutations on one server: how many have not finished, and whether
/// the one whose command carries `tag` (see [`tagged`]) is listed and finished. A replicated
/// table lists a mutation only once the replica has read it from ZooKeeper, so "none pending"
/// alone could be read before the mutation just queued shows up.
pub(crate) fn mutations_sql(database: &str, tag: &str) -> String {
    format!(
        "SELECT countIf(is_done = 0), countIf(is_done = 1 AND position(command, {}) > 0) FROM system.mutations \
         WHERE database = {} AND table = 'entries' FORMAT TabSeparated",
        literal(tag.as_bytes()),
        literal(database.as_bytes())
    )
}

/// `mutation` (an `ALTER TABLE … DELETE WHERE …`) with `tag` in its condition (an always-true
/// comparison), so [`mutations_sql`] can find it in `system.mutations`.
pub(crate) fn tagged(mutation: &str, tag: &str) -> String {
    format!("{mutation} AND {} != ''", literal(tag.as_bytes()))
}

/// How long [`Store::expire`] waits for its mutations to finish.
const EXPIRE_WAIT: Duration = Duration::from_secs(3600);

/// Sensor names numbered for this process: aggregates read from ClickHouse carry names, the
/// shared lookup code carries 16-bit ids.
#[derive(Default)]
struct Interner {
    names: Vec<String>,
    ids: HashMap<String, u16>,
}

impl Interner {
    fn id(&mut self, name: &str) -> Option<u16> {
        if let Some(&id) = self.ids.get(name) {
            return Some(id);
        }
        let id = u16::try_from(self.names.len()).ok()?;
        self.names.push(name.to_string());
        self.ids.insert(name.to_string(), id);
        Some(id)
    }
}

/// The ClickHouse store.
pub struct ClickHouseStore {
    opts: ClickHouseOptions,
    /// The HTTP clients' TLS settings (system CAs plus `ca_file`), read once at open.
    tls: ureq::tls::TlsConfig,
    shards: Vec<Vec<Node>>,
    db: String,
    sensors_table: String,
    /// Index (over all servers, shard-major) of the server reads go to first.
    read_from: AtomicUsize,
    writer: u64,
    seq: AtomicU64,
    interner: RwLock<Interner>,
    known_sensors: Mutex<HashSet<String>>,
    /// A cutoff forced by [`Store::expire`] (unix seconds; 0: none).
    forced_cutoff: AtomicU64,
}

impl std::fmt::Debug for ClickHouseStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseStore").field("shards", &self.shards).field("database", &self.opts.database).finish()
    }
}

/// A row being encoded for `entries_in`.
fn put_merge_row(out: &mut Vec<u8>, key: &[u8], agg: &Aggregate, sensors: &[String]) {
    put_string(out, key);
    put_u64(out, agg.count);
    let (sf, sl) = agg.seen.unwrap_or((u64::MAX, 0));
    put_u64(out, sf);
    put_u64(out, sl);
    let (zf, zl) = agg.zone.unwrap_or((u64::MAX, 0));
    put_u64(out, zf);
    put_u64(out, zl);
    let (tmin, tmax) = agg.ttl.unwrap_or((u32::MAX, 0));
    put_u32(out, tmin);
    put_u32(out, tmax);
    let runs = agg.days.runs();
    let n: u64 = runs.iter().map(|&(a, b)| if b - a >= MAX_RUN_DAYS { 2 } else { (b - a) as u64 + 1 }).sum();
    put_varuint(out, n);
    for &(a, b) in runs {
        if b - a >= MAX_RUN_DAYS {
            put_u32(out, a);
            put_u32(out, b);
        } else {
            for d in a..=b {
                put_u32(out, d);
            }
        }
    }
    let names = || agg.sensors.ids().iter().filter_map(|&id| sensors.get(id as usize));
    put_varuint(out, names().count() as u64);
    for s in names() {
        put_string(out, s.as_bytes());
    }
    put_string(out, b"");
    put_u64(out, 0);
}

fn put_put_row(out: &mut Vec<u8>, key: &[u8], value: &[u8], version: u64) {
    put_string(out, key);
    put_u64(out, 0);
    put_u64(out, u64::MAX);
    put_u64(out, 0);
    put_u64(out, u64::MAX);
    put_u64(out, 0);
    put_u32(out, u32::MAX);
    put_u32(out, 0);
    put_varuint(out, 0);
    put_varuint(out, 0);
    if key.first() == Some(&P_META) {
        // metadata values carry their version in front, so readers can compare shards
        let mut v = Vec::with_capacity(8 + value.len());
        v.extend_from_slice(&version.to_be_bytes());
        v.extend_from_slice(value);
        put_string(out, &v);
        put_u64(out, version);
    } else {
        put_string(out, value);
        put_u64(out, 0);
    }
}

/// One insert for one shard: its rows and the marker that proves it landed.
struct Insert {
    rows: Vec<u8>,
    count: usize,
}

/// Rows per shard, sealed into inserts of at most `max` rows.
struct ShardRows {
    current: Insert,
    /// Inserts of this shard already sealed in the current batch.
    sealed: usize,
}

/// An insert ready to send.
struct Sealed {
    rows: Vec<u8>,
    marker: Vec<u8>,
    precheck: bool,
}

/// A decoded row that owns its bytes (pages of several shards are merged).
struct OwnedRow {
    key: Vec<u8>,
    agg: Aggregate,
    value: Vec<u8>,
}

/// One decoded row of a scan.
struct Row<'a> {
    key: &'a [u8],
    agg: Aggregate,
    value: &'a [u8],
}

impl ClickHouseStore {
    /// Connects to the deployment and checks that every shard has the current schema.
    pub fn open(opts: ClickHouseOptions) -> Result<ClickHouseStore, StoreError> {
        schema::validate(&opts)?;
        let tls = schema::tls(&opts)?;
        let shards: Vec<Vec<Node>> = opts
            .shards
            .iter()
            .map(|r| {
                r.iter().map(|u| Node::new(u, opts.user.clone(), opts.password.clone(), opts.timeout, &tls)).collect()
            })
            .collect();
        let db = ident(&opts.database);
        for replicas in &shards {
            let mut last = None;
            let mut ok = false;
            for node in replicas {
                match schema::version_on(node, &opts.database) {
                    Ok(v) if v == SCHEMA_VERSION => {
                        ok = true;
                        break;
                    }
                    Ok(0) => {
                        return Err(StoreError::Open {
                            path: format!("{} database {}", node.url, opts.database),
                            reason: "no dnsledger schema here (run `dnsledger clickhouse init`)".into(),
                        })
                    }
                    Ok(v) => {
                        return Err(StoreError::Open {
                            path: format!("{} database {}", node.url, opts.database),
                            reason: format!(
                            "schema version {v}, this build needs {SCHEMA_VERSION} (run `dnsledger clickhouse init` \
                                 with the newer of the two builds)"
                        ),
                        })
                    }
                    Err(e) => last = Some(e),
                }
            }
            if !ok {
                return Err(StoreError::Open {
                    path: format!("clickhouse database {}", opts.database),
                    reason: last.map(|e| e.to_string()).unwrap_or_else(|| "no server answered".into()),
                });
            }
        }
        let sensors_table = if opts.cluster.is_some() { format!("{db}.sensors_all") } else { format!("{db}.sensors") };
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed).map_err(|e| engine("seeding the writer id", e))?;
        Ok(ClickHouseStore {
            opts,
            tls,
            shards,
            db,
            sensors_table,
            read_from: AtomicUsize::new(0),
            writer: u64::from_le_bytes(seed),
            seq: AtomicU64::new(0),
            interner: RwLock::default(),
            known_sensors: Mutex::default(),
            forced_cutoff: AtomicU64::new(0),
        })
    }

    /// Records last seen before this unix time are skipped by lookups (0: none are).
    pub fn retention_cutoff(&self) -> u64 {
        let by_period = match self.opts.retention_secs.filter(|&s| s > 0) {
            Some(s) => unix_now().saturating_sub(s),
            None => 0,
        };
        by_period.max(self.forced_cutoff.load(Ordering::Relaxed))
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &ClickHouseOptions {
        &self.opts
    }

    /// A writer of raw entries (for copying another store's entries, `dnsledger migrate`).
    pub fn entry_writer(&self) -> EntryWriter<'_> {
        EntryWriter { store: self, shards: self.new_shard_rows(), written: 0, sensors: HashSet::new() }
    }

    fn all_nodes(&self) -> impl Iterator<Item = &Node> {
        self.shards.iter().flatten()
    }

    /// Runs a read on the preferred server, falling over to the others on transport errors.
    fn read(&self, sql: &str) -> Result<Vec<u8>, StoreError> {
        let nodes: Vec<&Node> = self.all_nodes().collect();
        let first = self.read_from.load(Ordering::Relaxed) % nodes.len();
        let mut last = None;
        for i in 0..nodes.len() {
            let idx = (first + i) % nodes.len();
            match nodes[idx].query(sql) {
                Ok(b) => {
                    if i > 0 {
                        self.read_from.store(idx, Ordering::Relaxed);
                    }
                    return Ok(b);
                }
                Err(e @ HttpError::Transport { .. }) => last = Some(e),
                Err(e) => return Err(engine("query", e)),
            }
        }
        Err(engine("query", last.map(|e| e.to_string()).unwrap_or_default()))
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        if self.shards.len() == 1 {
            0
        } else {
            (xxhash_rust::xxh3::xxh3_64(key) % self.shards.len() as u64) as usize
        }
    }

    fn new_shard_rows(&self) -> Vec<ShardRows> {
        (0..self.shards.len())
            .map(|_| ShardRows { current: Insert { rows: Vec::new(), count: 0 }, sealed: 0 })
            .collect()
    }

    fn marker(&self) -> Vec<u8> {
        let mut k = vec![P_META];
        k.extend_from_slice(MARKER_PREFIX);
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        k.extend_from_slice(&secs.to_be_bytes());
        k.extend_from_slice(&self.writer.to_be_bytes());
        k.extend_from_slice(&self.seq.fetch_add(1, Ordering::Relaxed).to_be_bytes());
        k
    }

    /// The marker of an insert of a batch that carries checkpoints: a digest of the insert's
    /// rows, its place in the batch and the checkpoints, so sending the same batch again (a
    /// sensor retrying a batch id, an import resumed from an older checkpoint) finds the
    /// inserts that already landed and skips them.
    fn replay_marker(rows: &[u8], shard: usize, index: usize, meta: &[(Vec<u8>, Vec<u8>)]) -> Vec<u8> {
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(&(shard as u64).to_be_bytes());
        h.update(&(index as u64).to_be_bytes());
        for (k, v) in meta {
            h.update(&(k.len() as u64).to_be_bytes());
            h.update(k);
            h.update(&(v.len() as u64).to_be_bytes());
            h.update(v);
        }
        h.update(rows);
        let mut k = vec![P_META];
        k.extend_from_slice(REPLAY_PREFIX);
        k.extend_from_slice(&h.digest128().to_be_bytes());
        k
    }

    /// Seals an insert: appends its marker row (`marker`, or a fresh one). Returns the rows
    /// and the marker.
    fn seal(&self, insert: Insert, marker: Option<Vec<u8>>) -> (Vec<u8>, Vec<u8>) {
        let mut rows = insert.rows;
        let marker = marker.unwrap_or_else(|| self.marker());
        put_put_row(&mut rows, &marker, b"", now_nanos());
        (rows, marker)
    }

    /// Sends one sealed insert to a shard exactly once (see the crate doc). With `precheck`
    /// (deterministic markers) an insert whose marker the shard already has is not sent again.
    fn send(&self, shard: usize, rows: &[u8], marker: &[u8], precheck: bool) -> Result<(), StoreError> {
        let insert = format!("INSERT INTO {}.entries_in FORMAT RowBinary", self.db);
        let query_id = format!("dnsledger-{}", hex(marker));
        let block = (MAX_INSERT_ROWS + 48_576).to_string();
        let settings = [
            ("query_id", query_id.as_str()),
            ("max_insert_block_size", block.as_str()),
            ("min_insert_block_size_rows", block.as_str()),
        ];
        let replicas = &self.shards[shard];
        let mut backoff = Duration::from_millis(200);
        let mut attempts = 0;
        let mut replica = 0;
        // Set once an attempt's outcome is unknown: later attempts must first learn it.
        let mut uncertain: Option<usize> = if precheck { Some(0) } else { None };
        loop {
            if let Some(r) = uncertain {
                match self.landed(&replicas[r], marker, &query_id) {
                    Ok(true) => return Ok(()),
                    Ok(false) => uncertain = None,
                    Err(e) => {
                        attempts += 1;
                        if attempts > self.opts.retries {
                            return Err(engine(
                                &format!("shard {}: cannot tell whether an insert landed", shard + 1),
                                e,
                            ));
                        }
                        std::thread::sleep(backoff);
                        backoff = (backoff * 2).min(Duration::from_secs(10));
                        continue;
                    }
                }
            }
            let node = &replicas[replica];
            match node.insert(&insert, rows, &settings) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    if matches!(e, HttpError::Transport { .. }) {
                        uncertain = Some(replica);
                    }
                    attempts += 1;
                    if attempts > self.opts.retries {
                        return Err(engine(&format!("inserting into shard {}", shard + 1), e));
                    }
                    tracing::warn!(shard = shard + 1, error = %e, "ClickHouse insert failed; retrying");
                    if uncertain.is_none() {
                        replica = (replica + 1) % replicas.len();
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
    }

    /// Whether an insert whose outcome was unknown landed: waits until no query with its id
    /// runs on the server any more, then looks for its marker.
    fn landed(&self, node: &Node, marker: &[u8], query_id: &str) -> Result<bool, HttpError> {
        let deadline = Instant::now() + self.opts.timeout;
        while node.query_u64(&processes_sql(query_id))? > 0 {
            if Instant::now() > deadline {
                return Err(HttpError::Transport {
                    url: node.url.clone(),
                    message: format!("insert {query_id} still running after {:?}", self.opts.timeout),
                });
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        Ok(node.query_u64(&marker_sql(&self.db, marker))? > 0)
    }

    /// Sends the inserts the producer hands over, one thread per shard, each shard's inserts in
    /// order. At most one sealed insert per shard waits in memory (back-pressure).
    fn send_all(
        &self,
        produce: impl FnOnce(&mut dyn FnMut(usize, Sealed) -> bool) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        std::thread::scope(|s| {
            let mut senders = Vec::new();
            let mut handles = Vec::new();
            for shard in 0..self.shards.len() {
                let (tx, rx) = mpsc::sync_channel::<Sealed>(1);
                senders.push(tx);
                handles.push(s.spawn(move || -> Result<(), StoreError> {
                    for x in rx {
                        self.send(shard, &x.rows, &x.marker, x.precheck)?;
                    }
                    Ok(())
                }));
            }
            let produced = produce(&mut |shard, sealed| senders[shard].send(sealed).is_ok());
            drop(senders);
            let mut first_err = produced.err();
            for h in handles {
                let r = h.join().map_err(|_| StoreError::Engine("ClickHouse writer thread panicked".into()))?;
                if let (Err(e), None) = (r, &first_err) {
                    first_err = Some(e);
                }
            }
            first_err.map_or(Ok(()), Err)
        })
    }

    /// Records sensor names not yet known to have been written.
    fn register_sensors<'n>(&self, names: impl Iterator<Item = &'n String>) -> Result<(), StoreError> {
        let new: Vec<String> = {
            let known = self.known_sensors.lock().map_err(|_| StoreError::Engine("sensor set poisoned".into()))?;
            names.filter(|n| !known.contains(*n)).cloned().collect()
        };
        if new.is_empty() {
            return Ok(());
        }
        let mut rows = Vec::new();
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        for n in &new {
            put_string(&mut rows, n.as_bytes());
            put_u32(&mut rows, secs.min(u32::MAX as u64) as u32);
        }
        let insert = format!("INSERT INTO {}.sensors (name, first_seen) FORMAT RowBinary", self.db);
        // Idempotent (names are deduplicated on read), so any failure is simply retried.
        let replicas = &self.shards[0];
        let mut backoff = Duration::from_millis(200);
        for attempt in 0.. {
            match replicas[attempt % replicas.len()].insert(&insert, &rows, &[]) {
                Ok(()) => break,
                Err(e) if attempt as u32 >= self.opts.retries => return Err(engine("registering sensors", e)),
                Err(e) => {
                    tracing::warn!(error = %e, "registering sensors failed; retrying");
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        let mut known = self.known_sensors.lock().map_err(|_| StoreError::Engine("sensor set poisoned".into()))?;
        known.extend(new);
        Ok(())
    }

    /// Runs `sql` on shard `shard`, on the first of its replicas that answers.
    fn read_shard(&self, shard: usize, sql: &str) -> Result<Vec<u8>, StoreError> {
        let mut last = None;
        for node in &self.shards[shard] {
            match node.query(sql) {
                Ok(b) => return Ok(b),
                Err(e @ HttpError::Transport { .. }) => last = Some(e),
                Err(e) => return Err(engine(&format!("query on shard {}", shard + 1), e)),
            }
        }
        Err(engine(&format!("query on shard {}", shard + 1), last.map(|e| e.to_string()).unwrap_or_default()))
    }

    /// One shard's page of a scan, decoded and checked: keys must come in order and within
    /// the bounds asked for (anything else is a server that compares differently than
    /// assumed, and would make paging loop).
    fn shard_page(
        &self,
        shard: usize,
        cursor: &[u8],
        exclusive: bool,
        end: Option<&[u8]>,
        page: usize,
    ) -> Result<Vec<OwnedRow>, StoreError> {
        let body = self.read_shard(shard, &scan_sql(&format!("{}.entries", self.db), cursor, exclusive, end, page))?;
        let mut r = Reader::new(&body);
        let mut rows: Vec<OwnedRow> = Vec::new();
        while !r.at_end() {
            let row = self.decode_row(&mut r).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let out_of_order = match rows.last() {
                None if exclusive => row.key <= cursor,
                None => row.key < cursor,
                Some(prev) => row.key <= prev.key.as_slice(),
            };
            if out_of_order || end.is_some_and(|e| row.key >= e) {
                return Err(StoreError::Corrupt(format!(
                    "shard {}: ClickHouse returned key {:02x?} out of order or outside the scanned range",
                    shard + 1,
                    row.key
                )));
            }
            rows.push(OwnedRow { key: row.key.to_vec(), agg: row.agg, value: row.value.to_vec() });
        }
        Ok(rows)
    }

    /// The next page of a scan over every shard: each shard's local table is read in
    /// parallel (no `Distributed` hop), and the pages are merged by key, folding the states a
    /// key has on several shards. Keys up to the smallest last key of a full shard page are
    /// complete; the scan goes on after it (`true`) or is done (`false`).
    fn fetch_page(
        &self,
        cursor: &[u8],
        exclusive: bool,
        end: Option<&[u8]>,
        page: usize,
    ) -> Result<(Vec<OwnedRow>, bool), StoreError> {
        if self.shards.len() == 1 {
            let rows = self.shard_page(0, cursor, exclusive, end, page)?;
            let more = rows.len() >= page;
            return Ok((rows, more));
        }
        let pages: Vec<Result<Vec<OwnedRow>, StoreError>> = std::thread::scope(|sc| {
            let handles: Vec<_> = (0..self.shards.len())
                .map(|shard| sc.spawn(move || self.shard_page(shard, cursor, exclusive, end, page)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| Err(StoreError::Engine("shard reader panicked".into()))))
                .collect()
        });
        let pages = pages.into_iter().collect::<Result<Vec<_>, _>>()?;
        let bound: Option<Vec<u8>> =
            pages.iter().filter(|p| p.len() >= page).filter_map(|p| p.last().map(|r| r.key.clone())).min();
        let mut all: Vec<OwnedRow> =
            pages.into_iter().flatten().filter(|r| bound.as_ref().is_none_or(|b| r.key <= *b)).collect();
        all.sort_by(|a, b| a.key.cmp(&b.key));
        let mut merged: Vec<OwnedRow> = Vec::with_capacity(all.len());
        for row in all {
            match merged.last_mut() {
                Some(prev) if prev.key == row.key => {
                    prev.agg.merge(&row.agg);
                    // metadata values start with their version: the newest wins, as argMax does
                    if row.value > prev.value {
                        prev.value = row.value;
                    }
                }
                _ => merged.push(row),
            }
        }
        Ok((merged, bound.is_some()))
    }

    fn decode_row<'a>(&self, r: &mut Reader<'a>) -> Result<Row<'a>, DecodeError> {
        let key = r.string()?;
        let count = r.u64()?;
        let (sf, sl, zf, zl) = (r.u64()?, r.u64()?, r.u64()?, r.u64()?);
        let (tmin, tmax) = (r.u32()?, r.u32()?);
        let n = r.array_len(4)?;
        let mut days = Vec::with_capacity(n);
        for _ in 0..n {
            days.push(r.u32()?);
        }
        let n = r.array_len(1)?;
        let mut names = Vec::with_capacity(n);
        for _ in 0..n {
            names.push(r.string()?);
        }
        let value = r.string()?;
        let mut agg = Aggregate { count, ..Aggregate::default() };
        if sf != u64::MAX {
            agg.seen = Some((sf, sl.max(sf)));
        }
        if zf != u64::MAX {
            agg.zone = Some((zf, zl.max(zf)));
        }
        if tmin != u32::MAX {
            agg.ttl = Some((tmin, tmax.max(tmin)));
        }
        days.sort_unstable();
        agg.days = DayHistory::from_runs(days.into_iter().map(|d| (d, d)));
        if !names.is_empty() {
            names.sort_unstable();
            if let Ok(mut interner) = self.interner.write() {
                for name in names {
                    if let Some(id) = interner.id(&String::from_utf8_lossy(name)) {
                        agg.sensors.insert(id);
                    }
                }
            }
        }
        Ok(Row { key, agg, value })
    }
}

/// The longest a health or monitoring query waits for one server.
pub const HEALTH_TIMEOUT: Duration = Duration::from_secs(2);

impl ClickHouseStore {
    /// Runs `f` for every shard (its index, its replicas with a timeout of at most
    /// [`HEALTH_TIMEOUT`]) on one thread per shard; the results in shard order.
    fn per_shard<T: Send, E: Send>(&self, f: impl Fn(usize, &[Node]) -> Result<T, E> + Sync) -> Vec<Result<T, E>> {
        let timeout = self.opts.timeout.min(HEALTH_TIMEOUT);
        let nodes: Vec<Vec<Node>> = self
            .opts
            .shards
            .iter()
            .map(|r| {
                r.iter()
                    .map(|u| Node::new(u, self.opts.user.clone(), self.opts.password.clone(), timeout, &self.tls))
                    .collect()
            })
            .collect();
        std::thread::scope(|sc| {
            let f = &f;
            let handles: Vec<_> = nodes.iter().enumerate().map(|(i, n)| sc.spawn(move || f(i, n))).collect();
            handles.into_iter().map(|h| h.join()).collect::<Vec<_>>()
        })
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.unwrap_or_else(|_| f(i, &[])))
        .collect()
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

impl KvSource for ClickHouseStore {
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        stats: &mut ScanStats,
        f: &mut ScanFn<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut cursor = start.to_vec();
        let mut exclusive = false;
        let mut page = FIRST_PAGE;
        let mut vbuf = Vec::with_capacity(64);
        let cutoff = self.retention_cutoff();
        loop {
            let (rows, more) = self.fetch_page(&cursor, exclusive, end, page)?;
            for row in &rows {
                stats.scanned += 1;
                let value: &[u8] = match row.key.first() {
                    Some(&s) if (P_RRSET..=P_RAW).contains(&s) => {
                        let last = last_seen(&row.agg);
                        if cutoff > 0 && last > 0 && last < cutoff {
                            continue;
                        }
                        vbuf.clear();
                        row.agg.encode(&mut vbuf);
                        &vbuf
                    }
                    Some(&P_NAMES) => &[],
                    _ => row.value.get(8..).unwrap_or(&[]),
                };
                if f(&row.key, value, stats).is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            match (more, rows.last()) {
                (true, Some(last)) => {
                    cursor.clear();
                    cursor.extend_from_slice(&last.key);
                    exclusive = true;
                    page = (page * 8).min(MAX_PAGE);
                }
                _ => return Ok(ControlFlow::Continue(())),
            }
        }
    }

    fn record(
        &self,
        rrname: Name,
        rrtype: RrType,
        bailiwick: Option<Name>,
        rdata: Vec<Rdata>,
        agg: Aggregate,
    ) -> Record {
        let sensors = match self.interner.read() {
            Ok(i) => {
                let mut v: Vec<String> =
                    agg.sensors.ids().iter().filter_map(|&id| i.names.get(id as usize).cloned()).collect();
                v.sort_unstable();
                v
            }
            Err(_) => Vec::new(),
        };
        Record { rrname, rrtype, bailiwick, rdata, agg, sensors, negative: None }
    }
}

impl Store for ClickHouseStore {
    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError> {
        // a batch names exactly the sensors its records refer to
        let names = batch.sensor_names();
        self.register_sensors(names.iter())?;
        let max = self.opts.max_rows_per_insert;
        let version = now_nanos();
        let mut stats = WriteStats::default();
        let meta: Vec<(Vec<u8>, Vec<u8>)> =
            batch.checkpoints().iter().map(|(src, p)| (layout::checkpoint_key(src), p.clone())).collect();
        let replay = !meta.is_empty();
        let seal = |shard: usize, sr: &mut ShardRows, insert: Insert| -> Sealed {
            let marker = replay.then(|| Self::replay_marker(&insert.rows, shard, sr.sealed, &meta));
            sr.sealed += 1;
            let (rows, marker) = self.seal(insert, marker);
            Sealed { rows, marker, precheck: replay }
        };
        self.send_all(|send| {
            let mut shards = self.new_shard_rows();
            stats = for_each_entry(batch, &mut |key, value| {
                if key.first() == Some(&P_META) {
                    return Ok(()); // the checkpoints, written below
                }
                let s = self.shard_of(key);
                let cur = &mut shards[s].current;
                match value {
                    EntryValue::Merge(agg) => put_merge_row(&mut cur.rows, key, agg, names),
                    EntryValue::Put(v) => put_put_row(&mut cur.rows, key, v, 0),
                }
                cur.count += 1;
                if cur.count >= max {
                    let full = std::mem::replace(cur, Insert { rows: Vec::new(), count: 0 });
                    let sealed = seal(s, &mut shards[s], full);
                    if !send(s, sealed) {
                        return Err(StoreError::Engine("a shard writer stopped".into()));
                    }
                }
                Ok(())
            })?;
            // Checkpoints go to every shard, in its last insert of the batch: a shard's
            // checkpoint never gets ahead of its records.
            for (s, mut sr) in shards.into_iter().enumerate() {
                let mut cur = std::mem::replace(&mut sr.current, Insert { rows: Vec::new(), count: 0 });
                if cur.count == 0 && !replay {
                    continue;
                }
                let marker = replay.then(|| Self::replay_marker(&cur.rows, s, sr.sealed, &meta));
                for (k, v) in &meta {
                    put_put_row(&mut cur.rows, k, v, version);
                    cur.count += 1;
                }
                let (rows, marker) = self.seal(cur, marker);
                if !send(s, Sealed { rows, marker, precheck: replay }) {
                    return Err(StoreError::Engine("a shard writer stopped".into()));
                }
            }
            Ok(())
        })?;
        Ok(stats)
    }

    fn lookup_rrset(&self, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        layout::lookup_rrset(self, q, visit)
    }

    fn lookup_rdata(&self, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        layout::lookup_rdata(self, q, visit)
    }

    /// The checkpoint as every shard has it: when shards disagree (a batch reached some of
    /// them before a failure) the oldest, and none when a shard lacks it, so a batch that did
    /// not reach every shard is sent again (and skipped where it landed, see `replay_marker`).
    fn checkpoint(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let key = layout::checkpoint_key(source);
        let sql = checkpoint_sql(&self.db, &key);
        let mut oldest: Option<Vec<u8>> = None;
        for replicas in &self.shards {
            let mut answer = None;
            let mut last = None;
            for node in replicas {
                match node.query(&sql) {
                    Ok(b) => {
                        answer = Some(b);
                        break;
                    }
                    Err(e) => last = Some(e),
                }
            }
            let body = match (answer, last) {
                (Some(b), _) => b,
                (None, e) => return Err(engine("reading a checkpoint", e.map(|e| e.to_string()).unwrap_or_default())),
            };
            let mut r = Reader::new(&body);
            if r.at_end() {
                // not on every shard: the batch that set it did not reach them all, and is
                // sent again (shards that have it skip it by its replay marker)
                return Ok(None);
            }
            let v = r.string().map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if v.len() < 8 {
                return Err(StoreError::Corrupt(format!("checkpoint {source:?} without its version")));
            }
            if oldest.as_ref().is_none_or(|o| v[..8] < o[..8]) {
                oldest = Some(v.to_vec());
            }
        }
        Ok(oldest.map(|v| v[8..].to_vec()))
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut entries = 0u64;
        let mut disk = 0u64;
        for replicas in &self.shards {
            let node = &replicas[0];
            let body = node.query(&parts_sql(&self.opts.database)).map_err(|e| engine("reading part sizes", e))?;
            let text = String::from_utf8_lossy(&body);
            let mut it = text.split_whitespace().map(|x| x.parse::<u64>().unwrap_or(0));
            entries += it.next().unwrap_or(0);
            disk += it.next().unwrap_or(0);
        }
        let body = self.read(&sensors_sql(&self.sensors_table))?;
        let mut r = Reader::new(&body);
        let mut sensors = Vec::new();
        while !r.at_end() {
            sensors.push(String::from_utf8_lossy(r.string().map_err(|e| StoreError::Corrupt(e.to_string()))?).into());
        }
        Ok(StoreStats { backend: "clickhouse".into(), entries, disk_bytes: disk, corrupt_values: 0, sensors })
    }

    /// Pings every shard (`SELECT 1`, a replica at a time, with a timeout of at most
    /// [`HEALTH_TIMEOUT`]), all shards in parallel; the error names each shard none of whose
    /// replicas answered.
    fn health(&self) -> Result<(), StoreError> {
        let failed: Vec<String> = self
            .per_shard(|shard, nodes| {
                let mut last = None;
                for node in nodes {
                    match node.query_u64("SELECT 1 FORMAT TabSeparated") {
                        Ok(1) => return Ok(()),
                        Ok(n) => last = Some(format!("{}: SELECT 1 answered {n}", node.url)),
                        Err(e) => last = Some(e.to_string()),
                    }
                }
                Err(format!("shard {}: {}", shard + 1, last.unwrap_or_else(|| "no server".into())))
            })
            .into_iter()
            .filter_map(Result::err)
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(StoreError::Engine(format!("ClickHouse not answering: {}", failed.join("; "))))
        }
    }

    /// Totals over the shards of the `entries` table's active parts, and the shards that
    /// answered (one `system.parts` query per shard, in parallel, short timeout).
    fn gauges(&self) -> Vec<Gauge> {
        let sql = format!(
            "SELECT count(), sum(rows), sum(bytes_on_disk) FROM system.parts WHERE database = {} \
             AND table = 'entries' AND active FORMAT TabSeparated",
            literal(self.opts.database.as_bytes())
        );
        let answers = self.per_shard(|_, nodes| {
            for node in nodes {
                if let Ok(body) = node.query(&sql) {
                    let text = String::from_utf8_lossy(&body);
                    let v: Vec<u64> = text.split_whitespace().map(|x| x.parse().unwrap_or(0)).collect();
                    if v.len() == 3 {
                        return Ok([v[0], v[1], v[2]]);
                    }
                }
            }
            Err(())
        });
        let up = answers.iter().filter(|a| a.is_ok()).count();
        let sum = |i: usize| answers.iter().filter_map(|a| a.as_ref().ok()).map(|v| v[i]).sum::<u64>() as f64;
        vec![
            Gauge {
                name: "dnsledger_store_clickhouse_shards",
                help: "ClickHouse shards the store is configured with.",
                value: self.shards.len() as f64,
            },
            Gauge {
                name: "dnsledger_store_clickhouse_shards_up",
                help: "ClickHouse shards of which a replica answered the last scrape.",
                value: up as f64,
            },
            Gauge {
                name: "dnsledger_store_clickhouse_parts",
                help: "Active parts of the entries table, summed over the shards that answered.",
                value: sum(0),
            },
            Gauge {
                name: "dnsledger_store_clickhouse_rows",
                help: "Rows in active parts of the entries table (before merges fold equal keys).",
                value: sum(1),
            },
            Gauge {
                name: "dnsledger_store_clickhouse_bytes",
                help: "Bytes on disk of the entries table's active parts.",
                value: sum(2),
            },
        ]
    }

    /// Writes are durable when `write` returns; nothing is buffered.
    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Deletes, on every shard, the records and inverse-index entries last seen before
    /// `before` (one mutation per shard, waited for), counting them first; then the
    /// names-index entries no record uses any more (see `store/sweep.rs`).
    fn expire(&self, before: u64) -> Result<ExpireReport, StoreError> {
        self.forced_cutoff.fetch_max(before, Ordering::Relaxed);
        let tag = self.mutation_tag("expire");
        let mut report = ExpireReport::default();
        for replicas in &self.shards {
            let node = &replicas[0];
            let counts =
                node.query(&expired_count_sql(&self.db, before)).map_err(|e| engine("counting expired keys", e))?;
            let text = String::from_utf8_lossy(&counts);
            let mut it = text.split_whitespace().map(|v| v.parse::<u64>());
            match (it.next(), it.next()) {
                (Some(Ok(r)), Some(Ok(i))) => {
                    report.records += r;
                    report.index_entries += i;
                }
                _ => return Err(StoreError::Engine(format!("counting expired keys: unexpected answer {text:?}"))),
            }
            node.query(&tagged(&expire_sql(&self.db, before), &tag))
                .map_err(|e| engine("queueing the expiry mutation", e))?;
        }
        let started = Instant::now();
        self.wait_for_mutations("the expiry mutation", &tag)?;
        let expired = started.elapsed();
        let swept = self.sweep(&mut || Ok(()))?;
        report.names = swept.deleted;
        report.note = format!(
            "mutations on {} shard(s): expiry {:.1} s, names-index sweep {:.1} s; {} names-index entries of \
             records written meanwhile put again",
            self.shards.len(),
            expired.as_secs_f64(),
            (started.elapsed() - expired).as_secs_f64(),
            swept.reput
        );
        Ok(report)
    }

    /// Merges every shard's parts (`OPTIMIZE … FINAL`) and deletes exactly-once markers older
    /// than a day.
    fn compact(&self) -> Result<(), StoreError> {
        let day_ago =
            SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0).saturating_sub(86_400);
        for replicas in &self.shards {
            let node = &replicas[0];
            node.query(&markers_cleanup_sql(&self.db, day_ago)).map_err(|e| engine("deleting old markers", e))?;
            node.query(&format!("OPTIMIZE TABLE {}.entries FINAL", self.db)).map_err(|e| engine("optimizing", e))?;
        }
        Ok(())
    }
}

/// Writes raw entries of the shared layout (another store's, when migrating), batched per
/// shard with the same exactly-once inserts as [`Store::write`].
pub struct EntryWriter<'a> {
    store: &'a ClickHouseStore,
    shards: Vec<ShardRows>,
    written: u64,
    sensors: HashSet<String>,
}

impl EntryWriter<'_> {
    /// Adds an entry merging `agg`, whose sensor ids index `sensor_names`.
    pub fn merge(&mut self, key: &[u8], agg: &Aggregate, sensor_names: &[String]) -> Result<(), StoreError> {
        for &id in agg.sensors.ids() {
            if let Some(n) = sensor_names.get(id as usize) {
                if !self.sensors.contains(n) {
                    self.sensors.insert(n.clone());
                }
            }
        }
        let s = self.store.shard_of(key);
        put_merge_row(&mut self.shards[s].current.rows, key, agg, sensor_names);
        self.bump(s)
    }

    /// Adds an entry setting `key` to `value`.
    pub fn put(&mut self, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let s = self.store.shard_of(key);
        put_put_row(&mut self.shards[s].current.rows, key, value, now_nanos());
        self.bump(s)
    }

    fn bump(&mut self, s: usize) -> Result<(), StoreError> {
        self.shards[s].current.count += 1;
        self.written += 1;
        if self.shards[s].current.count >= self.store.opts.max_rows_per_insert {
            self.flush_shard(s)?;
        }
        Ok(())
    }

    fn flush_shard(&mut self, s: usize) -> Result<(), StoreError> {
        let cur = std::mem::replace(&mut self.shards[s].current, Insert { rows: Vec::new(), count: 0 });
        if cur.count == 0 {
            return Ok(());
        }
        self.store.register_sensors(self.sensors.iter())?;
        let (rows, marker) = self.store.seal(cur, None);
        self.store.send(s, &rows, &marker, false)
    }

    /// Sends what is pending; returns the number of entries written.
    pub fn finish(mut self) -> Result<u64, StoreError> {
        for s in 0..self.shards.len() {
            self.flush_shard(s)?;
        }
        Ok(self.written)
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! Access to private encoders for the crate's unit tests.
    use super::*;

    /// Encodes one merge row.
    pub fn merge_row(out: &mut Vec<u8>, key: &[u8], agg: &Aggregate, sensors: &[String]) {
        put_merge_row(out, key, agg, sensors)
    }
}
