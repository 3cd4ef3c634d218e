//! dnsledger's storage interface.
//!
//! A store keeps aggregated records and answers lookups. It owns no parsing and no output
//! formatting: pipelines hand it [`Batch`]es of pre-aggregated records, queries hand it
//! [`RrsetQuery`]s and [`RdataQuery`]s and receive [`Record`]s through a visitor, which lets a
//! backend stream results straight from its iterators (RocksDB) or its HTTP response
//! (ClickHouse) without holding a whole result in memory.

pub mod batch;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod layout;
pub mod query;
pub mod wire;

use std::ops::ControlFlow;

pub use batch::{prefetch, sort_order, Batch};
use dnsledger_model::Record;
pub use query::{IpRange, NameMatch, NegativeFilter, RdataQuery, RdataTarget, RrsetQuery};

/// A storage failure; the message says what failed and where.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The storage engine reported an error.
    #[error("store error: {0}")]
    Engine(String),
    /// Stored data could not be decoded.
    #[error("corrupt data in store: {0}")]
    Corrupt(String),
    /// The store was opened read-only.
    #[error("store is read-only")]
    ReadOnly,
    /// The store cannot be opened (missing, locked, wrong version).
    #[error("cannot open store at {path}: {reason}")]
    Open {
        /// Where the store lives.
        path: String,
        /// Why it could not be opened.
        reason: String,
    },
}

impl StoreError {
    /// Whether the engine failed because the disk (or the filesystem holding the store) is
    /// full: ENOSPC as RocksDB, the OS or a ClickHouse server word it.
    pub fn is_no_space(&self) -> bool {
        let text = match self {
            StoreError::Engine(m) | StoreError::Corrupt(m) => m.as_str(),
            StoreError::Open { reason, .. } => reason.as_str(),
            StoreError::ReadOnly => return false,
        };
        text.contains("No space left on device") || text.contains("NOT_ENOUGH_SPACE") || text.contains("os error 28")
    }
}

/// What one write did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Distinct records merged (RRset view).
    pub records: u64,
    /// Index entries written (inverse and name indexes).
    pub index_entries: u64,
    /// Observations the batch stood for.
    pub observations: u64,
}

/// What one lookup read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Entries read from the store.
    pub scanned: u64,
    /// Records handed to the visitor.
    pub returned: u64,
    /// Entries skipped because they could not be decoded.
    pub corrupt: u64,
}

/// Counts a store reports about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Backend name.
    pub backend: String,
    /// Estimated number of stored entries (records and index entries).
    pub entries: u64,
    /// Bytes of live data files.
    pub disk_bytes: u64,
    /// Merge operands that failed to decode since the store was opened.
    pub corrupt_values: u64,
    /// Sensors known to the store.
    pub sensors: Vec<String>,
}

/// The visitor lookups call for each record; return `ControlFlow::Break(())` to stop early.
pub type Visitor<'a> = dyn FnMut(Record) -> ControlFlow<()> + 'a;

/// A passive DNS store.
pub trait Store: Send + Sync {
    /// Merges a batch; when this returns Ok the batch is durable (as configured) and every
    /// checkpoint in it is recorded atomically with its records.
    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError>;

    /// Visits RRset records matching `q` in store order.
    fn lookup_rrset(&self, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError>;

    /// Visits rdata records matching `q`, aggregated over bailiwicks, in store order.
    fn lookup_rdata(&self, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError>;

    /// The progress last recorded for an import source, if any.
    fn checkpoint(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// Counts and sizes.
    fn stats(&self) -> Result<StoreStats, StoreError>;

    /// Flushes in-memory state to durable files (also done on drop).
    fn flush(&self) -> Result<(), StoreError>;

    /// Compacts storage to its steady-state size (for benchmarks and maintenance).
    fn compact(&self) -> Result<(), StoreError>;

    /// Whether the store can serve right now (for `/readyz`): an embedded store that is open
    /// is; a remote one answers a ping from every shard.
    fn health(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Engine figures for monitoring (memtable bytes, pending compaction, running
    /// compactions, …), read when `/metrics` is scraped; names are Prometheus metric names.
    fn gauges(&self) -> Vec<Gauge> {
        Vec::new()
    }

    /// Expires now every record last seen (sensor or zone time) before `before` (unix
    /// seconds), with its index entries, and reports what was dropped. The configured
    /// retention does the same continuously; this forces it (`dnsledger prune`).
    fn expire(&self, before: u64) -> Result<ExpireReport, StoreError> {
        let _ = before;
        Err(StoreError::Engine("this store cannot expire records (see docs/maintenance.md#retention)".into()))
    }

    /// Writes a consistent copy of the whole store, taken while it keeps serving, into the new
    /// directory `dest` (which must not exist).
    fn backup(&self, dest: &std::path::Path) -> Result<BackupInfo, StoreError> {
        let _ = dest;
        Err(StoreError::Engine("this store cannot make backups itself (see docs/maintenance.md)".into()))
    }
}

/// One engine figure for monitoring.
#[derive(Debug, Clone, PartialEq)]
pub struct Gauge {
    /// Prometheus metric name (`dnsledger_store_…`).
    pub name: &'static str,
    /// One-line description (the `# HELP` text).
    pub help: &'static str,
    /// Current value.
    pub value: f64,
}

/// What an expiry ([`Store::expire`]) dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExpireReport {
    /// RRset records dropped.
    pub records: u64,
    /// Inverse-index entries (address, rdata name, raw rdata) dropped.
    pub index_entries: u64,
    /// Name-index entries dropped because no record used the name any more.
    pub names: u64,
    /// Free text on how the backend expired them (e.g. "mutation queued").
    pub note: String,
}

/// What a backup wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BackupInfo {
    /// Directory of the backup.
    pub path: std::path::PathBuf,
    /// Bytes of the store files in it (a backend's own manifest aside).
    pub bytes: u64,
    /// Number of store files in it.
    pub files: u64,
    /// Files shared with the live store through hard links (they take no extra space until
    /// the store's compactions delete the store's own names for them).
    pub linked: u64,
}
