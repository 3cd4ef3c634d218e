//! dnsledger's embedded store, on RocksDB.
//!
//! Every record is a blind `merge` of an encoded [`Aggregate`] (min/max/sum/union, see
//! `dnsledger_model::aggregate`) through RocksDB's associative merge operator: ingest never
//! reads before it writes. One atomic write per [`Batch`] updates the RRset record, its
//! inverse-index entries (by address, by rdata name, by raw rdata), the name indexes and the
//! import checkpoints together; small batches go through the WAL (fsynced before `write`
//! returns when `sync_writes` is on, the default), large ones are ingested as SST files
//! ([`write`]). An acknowledged batch survives `kill -9` and power loss. Key layouts are in
//! [`keys`], lookups in `read`.
//!
//! **Why RocksDB 7.8 from Debian.** The `rocksdb` crate is pinned to 0.21, the last wrapper
//! that links Debian 12's `librocksdb-dev` 7.8.3 (`ROCKSDB_LIB_DIR`, set in
//! `.cargo/config.toml`). Newer wrappers need the bundled C++ build, which costs ~20 CPU
//! minutes per clean build on our 2-core CI; the system library costs seconds and is the one
//! DCSO balboa ships with. Everything used here (merge operators, SST ingestion, iterators with
//! bounds, checkpoints) is stable RocksDB API of that era.

pub mod ops;
pub mod recover;
pub mod retention;
pub mod write;

pub use ops::{Verified, BACKUP_FORMAT, BACKUP_MANIFEST};
pub use recover::RecoveringStore;
pub use retention::Retention;

/// The key layout, shared with every backend (see `dnsledger_store::layout`).
pub use dnsledger_store::layout::keys;

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use dnsledger_model::key::KeyError;
use dnsledger_model::{Aggregate, Name, Rdata, Record, RrType};
use dnsledger_store::{
    BackupInfo, Batch, ExpireReport, Gauge, RdataQuery, RrsetQuery, ScanStats, Store, StoreError, StoreStats, Visitor,
    WriteStats,
};
use rocksdb::{
    BlockBasedOptions, BottommostLevelCompaction, Cache, CompactOptions, DBCompressionType, MergeOperands, Options,
    ReadOptions, WriteOptions, DB,
};

use dnsledger_store::layout::{self, KvSource, ScanFn, CKPT_PREFIX};
use keys::P_META;

const SCHEMA_KEY: &[u8] = b"\x06schema";
const SCHEMA: &[u8] = b"dnsledger-store-1";
const SENSOR_PREFIX: &[u8] = b"sensor/";
/// Directory (inside the store) where SST files are built before ingestion.
const INGEST_DIR: &str = "ingest-tmp";

/// The default free-space reserve of a writer: room for the memtables' flush (64 MiB with the
/// default write buffers) and a compaction's first output files.
pub const DEFAULT_MIN_FREE_BYTES: u64 = 128 << 20;

/// How to open a [`RocksStore`].
#[derive(Debug, Clone)]
pub struct RocksStoreOptions {
    /// fsync the WAL before acknowledging each write (default true).
    pub sync_writes: bool,
    /// Open without write access (readers may share a store a writer holds).
    pub read_only: bool,
    /// Block cache size in bytes.
    pub cache_bytes: usize,
    /// Memory for memtables, in bytes.
    pub write_buffer_bytes: usize,
    /// Batches with at least this many records are ingested as SST files.
    pub ingest_threshold: usize,
    /// Keep records last seen within this many seconds; older ones expire (`None`: keep
    /// everything). See [`retention`].
    pub retention_secs: Option<u64>,
    /// Free bytes a writer keeps on the filesystem holding the store: a [`RecoveringStore`]
    /// refuses writes below it, so RocksDB itself does not run out of space (see
    /// [`recover`]). 0 turns the reserve off.
    pub min_free_bytes: u64,
}

impl Default for RocksStoreOptions {
    fn default() -> Self {
        RocksStoreOptions {
            sync_writes: true,
            read_only: false,
            cache_bytes: 128 << 20,
            write_buffer_bytes: 128 << 20,
            ingest_threshold: 50_000,
            retention_secs: None,
            min_free_bytes: DEFAULT_MIN_FREE_BYTES,
        }
    }
}

#[derive(Default)]
struct Sensors {
    names: Vec<String>,
    ids: HashMap<String, u16>,
}

/// The embedded RocksDB store.
pub struct RocksStore {
    db: DB,
    sst_opts: Options,
    path: PathBuf,
    opts: RocksStoreOptions,
    sensors: RwLock<Sensors>,
    register: Mutex<()>,
    corrupt: Arc<AtomicU64>,
    retention: Arc<Retention>,
    /// Held shared by writes and exclusively by the names-index sweep of [`retention`].
    writes: RwLock<()>,
}

pub(crate) fn engine(context: &str, e: rocksdb::Error) -> StoreError {
    StoreError::Engine(format!("{context}: {e}"))
}

pub(crate) fn corrupt(e: KeyError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn merge_fn(counter: Arc<AtomicU64>) -> impl Fn(&[u8], Option<&[u8]>, &MergeOperands) -> Option<Vec<u8>> + Clone {
    move |_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands| {
        let (v, bad) = Aggregate::merge_encoded(existing, operands.iter());
        if bad > 0 {
            counter.fetch_add(bad as u64, Ordering::Relaxed);
        }
        Some(v)
    }
}

fn db_options(opts: &RocksStoreOptions, counter: &Arc<AtomicU64>, retention: &Arc<Retention>) -> Options {
    let mut o = Options::default();
    o.create_if_missing(!opts.read_only);
    o.set_max_background_jobs(2);
    o.set_write_buffer_size(opts.write_buffer_bytes / 2);
    o.set_max_write_buffer_number(2);
    o.set_bytes_per_sync(1 << 20);
    o.set_keep_log_file_num(4);
    o.set_max_log_file_size(8 << 20);
    o.set_merge_operator_associative("dnsledger.aggregate.v1", merge_fn(counter.clone()));
    let r = retention.clone();
    o.set_compaction_filter("dnsledger.retention.v1", move |_level: u32, key: &[u8], value: &[u8]| {
        r.filter(key, value)
    });
    o.set_compression_type(DBCompressionType::Lz4);
    o.set_bottommost_compression_type(DBCompressionType::Zstd);
    o.set_level_compaction_dynamic_level_bytes(true);
    let cache = Cache::new_lru_cache(opts.cache_bytes);
    let mut b = BlockBasedOptions::default();
    b.set_block_cache(&cache);
    b.set_block_size(16 << 10);
    b.set_format_version(5);
    b.set_cache_index_and_filter_blocks(true);
    b.set_pin_l0_filter_and_index_blocks_in_cache(true);
    o.set_block_based_table_factory(&b);
    o
}

/// Read-only opens made while a writer holds the store: the writer's compactions may delete
/// files between the reader's reading of the manifest and its opening of them; then the
/// reader tries again, with the newer manifest.
const READ_ONLY_ATTEMPTS: u32 = 20;

/// Opens `path` read-only, retrying when a file the manifest named is gone (a writer's
/// compaction deleted it meanwhile). Once open, the reader holds every table file of its
/// version open (`max_open_files` is unlimited), so later deletions do not affect it.
fn open_read_only_retrying(opts: &Options, path: &Path) -> Result<DB, rocksdb::Error> {
    let mut attempt = 1;
    loop {
        match DB::open_for_read_only(opts, path, false) {
            Err(e) if attempt < READ_ONLY_ATTEMPTS && e.to_string().contains("No such file or directory") => {
                tracing::debug!(attempt, error = %e, "store files changed while opening read-only; retrying");
                std::thread::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)));
                attempt += 1;
            }
            r => return r,
        }
    }
}

/// Options of the SST files built for ingestion: LZ4 (fast to write); compaction later
/// rewrites the bottom level with ZSTD.
fn sst_options() -> Options {
    let mut o = Options::default();
    o.set_compression_type(DBCompressionType::Lz4);
    let mut b = BlockBasedOptions::default();
    b.set_block_size(16 << 10);
    b.set_format_version(5);
    o.set_block_based_table_factory(&b);
    o
}

impl RocksStore {
    /// Opens (creating if needed, unless read-only) the store in `path`.
    pub fn open(path: impl AsRef<Path>, opts: RocksStoreOptions) -> Result<RocksStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let open_err = |reason: String| StoreError::Open { path: path.display().to_string(), reason };
        if opts.read_only && !path.join("CURRENT").exists() {
            return Err(open_err("no store here (run `dnsledger import` or `dnsledger serve` first)".into()));
        }
        let corrupt = Arc::new(AtomicU64::new(0));
        let retention = Arc::new(Retention::new(opts.retention_secs.filter(|&s| s > 0)));
        let db_opts = db_options(&opts, &corrupt, &retention);
        let db = if opts.read_only {
            open_read_only_retrying(&db_opts, &path)
        } else {
            std::fs::create_dir_all(&path).map_err(|e| open_err(e.to_string()))?;
            // SST files of an ingestion that never finished are garbage.
            let _ = std::fs::remove_dir_all(path.join(INGEST_DIR));
            DB::open(&db_opts, &path)
        }
        .map_err(|e| open_err(e.to_string()))?;
        let store = RocksStore {
            db,
            sst_opts: sst_options(),
            path,
            opts,
            sensors: RwLock::default(),
            register: Mutex::new(()),
            corrupt,
            retention,
            writes: RwLock::new(()),
        };
        store.check_schema()?;
        store.load_sensors()?;
        Ok(store)
    }

    /// Where the store lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The store as a key-value source whose scans verify every block checksum and bypass the
    /// block cache (for integrity checks: `dnsledger_store::layout::survey::check`).
    pub fn verified(&self) -> Verified<'_> {
        Verified(self)
    }

    /// Problems with the store's SST files (missing, or not of the size the store recorded);
    /// empty when all are in place.
    pub fn verify_files(&self) -> Result<Vec<String>, StoreError> {
        ops::verify_files(self)
    }

    /// Scans with the given read options (see [`KvSource::scan`]).
    fn scan_with(
        &self,
        mut ro: ReadOptions,
        start: &[u8],
        end: Option<&[u8]>,
        stats: &mut ScanStats,
        f: &mut ScanFn<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        if let Some(end) = end {
            ro.set_iterate_upper_bound(end.to_vec());
        }
        let cutoff = self.retention.cutoff();
        let mut it = self.db.raw_iterator_opt(ro);
        it.seek(start);
        let mut flow = ControlFlow::Continue(());
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            stats.scanned += 1;
            if self.retention.hides(cutoff, k, v) {
                it.next();
                continue;
            }
            if f(k, v, stats).is_break() {
                flow = ControlFlow::Break(());
                break;
            }
            it.next();
        }
        it.status().map_err(|e| engine("scanning", e))?;
        Ok(flow)
    }

    /// True if some entry under `prefix` is live (not hidden by retention).
    fn any_live(&self, prefix: &[u8]) -> Result<bool, StoreError> {
        let end = layout::keys::prefix_successor(prefix);
        let mut found = false;
        let mut stats = ScanStats::default();
        let _stopped = self.scan_with(ReadOptions::default(), prefix, end.as_deref(), &mut stats, &mut |_, _, _| {
            found = true;
            ControlFlow::Break(())
        })?;
        Ok(found)
    }

    /// Retention state and counters (see [`retention`]).
    pub fn retention(&self) -> &Retention {
        &self.retention
    }

    fn check_schema(&self) -> Result<(), StoreError> {
        match self.db.get(SCHEMA_KEY).map_err(|e| engine("reading schema", e))? {
            Some(v) if v == SCHEMA => Ok(()),
            Some(v) => Err(StoreError::Open {
                path: self.path.display().to_string(),
                reason: format!(
                    "unsupported store schema {:?} (this build reads {:?})",
                    String::from_utf8_lossy(&v),
                    String::from_utf8_lossy(SCHEMA)
                ),
            }),
            None if self.opts.read_only => Ok(()),
            None => self.db.put(SCHEMA_KEY, SCHEMA).map_err(|e| engine("writing schema", e)),
        }
    }

    fn sensor_key(id: u16) -> Vec<u8> {
        let mut k = vec![P_META];
        k.extend_from_slice(SENSOR_PREFIX);
        k.extend_from_slice(&id.to_be_bytes());
        k
    }

    fn load_sensors(&self) -> Result<(), StoreError> {
        let mut prefix = vec![P_META];
        prefix.extend_from_slice(SENSOR_PREFIX);
        let mut s = Sensors::default();
        let mut it = self.db.raw_iterator();
        it.seek(&prefix);
        while let (Some(k), Some(v)) = (it.key(), it.value()) {
            if !k.starts_with(&prefix) {
                break;
            }
            if let Some(id) = k.get(prefix.len()..).and_then(|b| <[u8; 2]>::try_from(b).ok()).map(u16::from_be_bytes) {
                let name = String::from_utf8_lossy(v).into_owned();
                if s.names.len() <= id as usize {
                    s.names.resize(id as usize + 1, String::new());
                }
                s.names[id as usize] = name.clone();
                s.ids.insert(name, id);
            }
            it.next();
        }
        it.status().map_err(|e| engine("reading sensors", e))?;
        *self.sensors.write().map_err(|_| poisoned())? = s;
        Ok(())
    }

    /// Store ids for batch sensor names, registering (durably) the ones not seen before.
    fn register_sensors(&self, names: &[String]) -> Result<Vec<u16>, StoreError> {
        {
            let s = self.sensors.read().map_err(|_| poisoned())?;
            if let Some(ids) = names.iter().map(|n| s.ids.get(n).copied()).collect::<Option<Vec<u16>>>() {
                return Ok(ids);
            }
        }
        let _guard = self.register.lock().map_err(|_| poisoned())?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            let existing = self.sensors.read().map_err(|_| poisoned())?.ids.get(n).copied();
            let id = match existing {
                Some(id) => id,
                None => {
                    let id = u16::try_from(self.sensors.read().map_err(|_| poisoned())?.names.len())
                        .map_err(|_| StoreError::Engine("more than 65535 sensors registered".into()))?;
                    let mut wo = WriteOptions::default();
                    wo.set_sync(self.opts.sync_writes);
                    self.db
                        .put_opt(Self::sensor_key(id), n.as_bytes(), &wo)
                        .map_err(|e| engine("registering sensor", e))?;
                    let mut s = self.sensors.write().map_err(|_| poisoned())?;
                    s.names.push(n.clone());
                    s.ids.insert(n.clone(), id);
                    id
                }
            };
            out.push(id);
        }
        Ok(out)
    }
}

impl KvSource for RocksStore {
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        stats: &mut ScanStats,
        f: &mut ScanFn<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        self.scan_with(ReadOptions::default(), start, end, stats, f)
    }

    fn record(
        &self,
        rrname: Name,
        rrtype: RrType,
        bailiwick: Option<Name>,
        rdata: Vec<Rdata>,
        agg: Aggregate,
    ) -> Record {
        // names in alphabetical order, whatever order the store registered them in, so every
        // backend lists a record's sensors alike
        let sensors = if agg.sensors.is_empty() {
            Vec::new()
        } else {
            match self.sensors.read() {
                Ok(s) => {
                    let mut v: Vec<String> = agg
                        .sensors
                        .ids()
                        .iter()
                        .map(|&id| s.names.get(id as usize).cloned().unwrap_or_else(|| format!("sensor-{id}")))
                        .collect();
                    v.sort_unstable();
                    v
                }
                Err(_) => Vec::new(),
            }
        };
        Record { rrname, rrtype, bailiwick, rdata, agg, sensors, negative: None }
    }

    fn sensor_name(&self, id: u16) -> Option<String> {
        let s = self.sensors.read().ok()?;
        s.names.get(id as usize).filter(|n| !n.is_empty()).cloned()
    }
}

fn poisoned() -> StoreError {
    StoreError::Engine("sensor registry lock poisoned".into())
}

impl Store for RocksStore {
    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError> {
        if self.opts.read_only {
            return Err(StoreError::ReadOnly);
        }
        let sensor_ids = self.register_sensors(batch.sensor_names())?;
        let _sweep = self.writes.read().map_err(|_| StoreError::Engine("write lock poisoned".into()))?;
        if batch.len() >= self.opts.ingest_threshold {
            write::ingest_batch(&self.db, &self.sst_opts, &self.path.join(INGEST_DIR), batch, &sensor_ids)
        } else {
            write::write_batch(&self.db, batch, &sensor_ids, self.opts.sync_writes)
        }
    }

    fn lookup_rrset(&self, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        layout::lookup_rrset(self, q, visit)
    }

    fn lookup_rdata(&self, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        layout::lookup_rdata(self, q, visit)
    }

    fn checkpoint(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut k = vec![P_META];
        k.extend_from_slice(CKPT_PREFIX);
        k.extend_from_slice(source.as_bytes());
        self.db.get(k).map_err(|e| engine("reading checkpoint", e))
    }

    fn stats(&self) -> Result<StoreStats, StoreError> {
        let keys = self
            .db
            .property_int_value("rocksdb.estimate-num-keys")
            .map_err(|e| engine("reading stats", e))?
            .unwrap_or(0);
        let mut disk = 0;
        if let Ok(rd) = std::fs::read_dir(&self.path) {
            for e in rd.flatten() {
                if let Ok(m) = e.metadata() {
                    if m.is_file() {
                        disk += m.len();
                    }
                }
            }
        }
        let sensors = self.sensors.read().map(|s| s.names.clone()).unwrap_or_default();
        Ok(StoreStats {
            backend: "rocksdb".into(),
            entries: keys,
            disk_bytes: disk,
            corrupt_values: self.corrupt.load(Ordering::Relaxed),
            sensors,
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        if self.opts.read_only {
            return Ok(());
        }
        self.db.flush().map_err(|e| engine("flushing", e))
    }

    fn compact(&self) -> Result<(), StoreError> {
        if self.opts.read_only {
            return Err(StoreError::ReadOnly);
        }
        self.flush()?;
        let mut co = CompactOptions::default();
        co.set_bottommost_level_compaction(BottommostLevelCompaction::Force);
        co.set_change_level(true);
        self.db.compact_range_opt::<&[u8], &[u8]>(None, None, &co);
        Ok(())
    }

    fn gauges(&self) -> Vec<Gauge> {
        ops::gauges(self)
    }

    /// Forced expiry: compactions with the cutoff at `before`, then the names sweep (see
    /// [`retention`]).
    fn expire(&self, before: u64) -> Result<ExpireReport, StoreError> {
        if self.opts.read_only {
            return Err(StoreError::ReadOnly);
        }
        retention::expire(self, before)
    }

    /// A RocksDB checkpoint of the open store plus a manifest (see [`ops`]).
    fn backup(&self, dest: &Path) -> Result<BackupInfo, StoreError> {
        ops::backup(self, dest)
    }
}

#[cfg(test)]
mod tests;
