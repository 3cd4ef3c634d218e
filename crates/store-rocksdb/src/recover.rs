//! [`RecoveringStore`]: the embedded store, reopened after the disk filled up.
//!
//! When a write fails with ENOSPC, RocksDB 7.8 records a background error and from then on
//! refuses every write, even once space is free again (`DB::Resume` would clear it, but the C
//! API, and so the `rocksdb` crate, does not expose it). This wrapper notes the failure, refuses
//! writes at once with the same clear "no space left on device" error while the filesystem
//! stays full, and, at the first write or health check after enough space is free again,
//! closes the database and opens it anew: the WAL replays everything acknowledged before the
//! failure, and the failed write, never acknowledged, is either absent or whole (RocksDB
//! applies a write batch atomically). Reads keep working while writes are refused; if the
//! reopen itself fails, the store is opened read-only so lookups still answer, and a read-write
//! reopen is tried again later.
//!
//! Before RocksDB gets there, a reserve keeps it away from ENOSPC: a write is refused, with the
//! same no-space error, while the filesystem has less than `min_free_bytes` free
//! ([`RocksStoreOptions::min_free_bytes`]). The refusal needs no reopen: writes go ahead as soon
//! as the reserve is free again. This matters beyond tidiness: RocksDB builds that keep their
//! assertions (Debian's librocksdb 7.8 does) may abort the process when a table file or log
//! write fails for space and the writer is used again, so an ENOSPC that reaches RocksDB can
//! cost a restart (nothing acknowledged is lost: the log replays) instead of a refused batch.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, RwLock, RwLockReadGuard};
use std::time::{Duration, Instant};

use dnsledger_store::{
    BackupInfo, Batch, Gauge, RdataQuery, RrsetQuery, ScanStats, Store, StoreError, StoreStats, Visitor, WriteStats,
};

use crate::{RocksStore, RocksStoreOptions};

/// Free bytes wanted beyond the size of the write-ahead logs before a reopen is tried: opening
/// replays the logs and flushes them into a table file, and a new log is started.
const REOPEN_MARGIN: u64 = 4 << 20;
/// Least time between two reopen attempts.
const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Why writes are refused, and when the next reopen may be tried.
struct Failure {
    /// True when RocksDB itself failed (the store must be reopened); false for the reserve.
    engine: bool,
    error: String,
    since: std::time::SystemTime,
    next_try: Instant,
}

/// A writable [`RocksStore`] that survives a full disk (see the module documentation).
pub struct RecoveringStore {
    inner: RwLock<Option<RocksStore>>,
    path: PathBuf,
    opts: RocksStoreOptions,
    failed: Mutex<Option<Failure>>,
}

fn poisoned() -> StoreError {
    StoreError::Engine("store reopen lock poisoned".into())
}

/// Bytes available to an unprivileged writer on the filesystem holding `path`.
pub fn free_bytes(path: &Path) -> std::io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(std::io::Error::other)?;
    // SAFETY: `c` is a valid NUL-terminated path and `st` a properly sized out-parameter.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok((st.f_bavail as u64).saturating_mul(st.f_frsize as u64))
}

/// Total size of the write-ahead logs (`*.log`) in the store directory.
fn wal_bytes(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|rd| {
            rd.flatten()
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

impl RecoveringStore {
    /// Opens (creating if needed) the store in `path` for reading and writing.
    pub fn open(path: impl AsRef<Path>, opts: RocksStoreOptions) -> Result<RecoveringStore, StoreError> {
        let path = path.as_ref().to_path_buf();
        let store = RocksStore::open(&path, opts.clone())?;
        Ok(RecoveringStore { inner: RwLock::new(Some(store)), path, opts, failed: Mutex::new(None) })
    }

    /// The open store, for one call.
    fn store(&self) -> Result<StoreRef<'_>, StoreError> {
        let g = self.inner.read().map_err(|_| poisoned())?;
        if g.is_none() {
            return Err(StoreError::Open {
                path: self.path.display().to_string(),
                reason: "the store is closed after a failed reopen (see the log); it is reopened at the next write"
                    .into(),
            });
        }
        Ok(StoreRef(g))
    }

    /// The error writes get while the disk is full, naming the cause and the way out.
    fn refusal(&self, f: &Failure) -> StoreError {
        let since = f.since.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        StoreError::Engine(format!(
            "writes to {} refused since unix time {since}: No space left on device ({}); they resume by \
             themselves once space is free",
            self.path.display(),
            f.error
        ))
    }

    /// When writes are refused: reopens the store if the disk has room again, else returns the
    /// refusal. Ok when writes may go ahead.
    fn recover(&self) -> Result<(), StoreError> {
        let mut failed = self.failed.lock().map_err(|_| poisoned())?;
        let Some(f) = failed.as_mut() else { return Ok(()) };
        if Instant::now() < f.next_try {
            return Err(self.refusal(f));
        }
        f.next_try = Instant::now() + RETRY_EVERY;
        let free = free_bytes(&self.path).unwrap_or(0);
        if !f.engine {
            // only the reserve refused: RocksDB saw no error, nothing to reopen
            if free < self.opts.min_free_bytes {
                return Err(self.refusal(f));
            }
            tracing::info!(store = %self.path.display(), free, "free space is above the reserve again; writes resume");
            *failed = None;
            return Ok(());
        }
        let wanted =
            wal_bytes(&self.path).saturating_mul(2).saturating_add(REOPEN_MARGIN).max(self.opts.min_free_bytes);
        if free < wanted {
            return Err(self.refusal(f));
        }
        let mut inner = self.inner.write().map_err(|_| poisoned())?;
        // RocksDB allows one open handle per directory in a process: close before reopening.
        *inner = None;
        match RocksStore::open(&self.path, self.opts.clone()) {
            Ok(s) => {
                *inner = Some(s);
                tracing::info!(store = %self.path.display(), free, "disk space is back; store reopened, writes resume");
                *failed = None;
                Ok(())
            }
            Err(e) => {
                tracing::error!(store = %self.path.display(), error = %e, "reopening the store after a full disk failed; opening it read-only until the next try");
                f.error = format!("reopening after a full disk: {e}");
                let ro = RocksStoreOptions { read_only: true, ..self.opts.clone() };
                *inner = RocksStore::open(&self.path, ro).ok();
                Err(self.refusal(f))
            }
        }
    }

    /// Notes a failed write: a full disk puts the store in the refusing state.
    fn note(&self, e: &StoreError) {
        if !e.is_no_space() {
            return;
        }
        if let Ok(mut failed) = self.failed.lock() {
            // a refusal of the reserve becomes RocksDB's own error state: it needs the reopen
            if failed.as_ref().is_some_and(|f| !f.engine) {
                *failed = None;
            }
            if failed.is_none() {
                tracing::error!(store = %self.path.display(), error = %e, "the disk holding the store is full: writes are refused until space is freed");
                *failed = Some(Failure {
                    engine: true,
                    error: e.to_string(),
                    since: std::time::SystemTime::now(),
                    next_try: Instant::now() + RETRY_EVERY,
                });
            }
        }
    }

    /// Refuses a write while the filesystem has less than the reserve free.
    fn reserve(&self) -> Result<(), StoreError> {
        let min = self.opts.min_free_bytes;
        if min == 0 {
            return Ok(());
        }
        let Ok(free) = free_bytes(&self.path) else { return Ok(()) };
        if free >= min {
            return Ok(());
        }
        let mut failed = self.failed.lock().map_err(|_| poisoned())?;
        let f = failed.get_or_insert_with(|| {
            let error = format!(
                "No space left on device: {free} bytes free on the filesystem holding the store, below the \
                 reserve of {min} bytes ([store] min_free_mib)"
            );
            tracing::error!(store = %self.path.display(), free, reserve = min, "the disk holding the store is nearly full: writes are refused until space is freed");
            Failure { engine: false, error, since: std::time::SystemTime::now(), next_try: Instant::now() + RETRY_EVERY }
        });
        Err(self.refusal(f))
    }

    /// Runs a write, recovering first, refusing it below the reserve, and noting a full disk
    /// after.
    fn writing<T>(&self, f: impl FnOnce(&RocksStore) -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.recover()?;
        self.reserve()?;
        self.run_noting(f)
    }

    /// Runs a maintenance call (flush, compaction, expiry): not held back by the reserve, but
    /// not run either while RocksDB itself is in its no-space error state.
    fn maintaining<T>(&self, f: impl FnOnce(&RocksStore) -> Result<T, StoreError>) -> Result<T, StoreError> {
        match self.recover() {
            Ok(()) => {}
            // refused by the reserve only: RocksDB is fine
            Err(_) if self.failed.lock().map(|g| g.as_ref().is_some_and(|f| !f.engine)).unwrap_or(false) => {}
            Err(e) => return Err(e),
        }
        self.run_noting(f)
    }

    /// Runs `f` on the open store, noting a full disk if it fails for space.
    fn run_noting<T>(&self, f: impl FnOnce(&RocksStore) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let store = self.store()?;
        let r = f(&store);
        drop(store);
        if let Err(e) = &r {
            self.note(e);
        }
        r
    }
}

/// A read guard on the open store (present while the guard lives).
struct StoreRef<'a>(RwLockReadGuard<'a, Option<RocksStore>>);

impl std::ops::Deref for StoreRef<'_> {
    type Target = RocksStore;
    fn deref(&self) -> &RocksStore {
        match self.0.as_ref() {
            Some(s) => s,
            // `store()` builds a StoreRef only over Some, and the read guard keeps it so
            None => unreachable!("StoreRef over a closed store"),
        }
    }
}

impl Store for RecoveringStore {
    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError> {
        self.writing(|s| s.write(batch))
    }
    fn lookup_rrset(&self, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        self.store()?.lookup_rrset(q, visit)
    }
    fn lookup_rdata(&self, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        self.store()?.lookup_rdata(q, visit)
    }
    fn checkpoint(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.store()?.checkpoint(source)
    }
    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.store()?.stats()
    }
    /// Not held back by the reserve: flushing and compacting are how space comes back.
    fn flush(&self) -> Result<(), StoreError> {
        self.maintaining(|s| s.flush())
    }
    /// Not held back by the reserve (see `flush`).
    fn compact(&self) -> Result<(), StoreError> {
        self.maintaining(|s| s.compact())
    }
    /// Unhealthy while writes are refused for a full disk (tries the reopen first).
    fn health(&self) -> Result<(), StoreError> {
        self.recover()?;
        self.store()?.health()
    }
    fn gauges(&self) -> Vec<Gauge> {
        self.store().map(|s| s.gauges()).unwrap_or_default()
    }
    /// Not held back by the reserve: expiring records frees space.
    fn expire(&self, before: u64) -> Result<dnsledger_store::ExpireReport, StoreError> {
        self.maintaining(|s| s.expire(before))
    }
    /// Works while writes are refused too: the destination may be on another disk.
    fn backup(&self, dest: &Path) -> Result<BackupInfo, StoreError> {
        self.store()?.backup(dest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusal_is_recognised_as_no_space() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecoveringStore::open(dir.path(), RocksStoreOptions::default()).unwrap();
        let f = Failure {
            engine: true,
            error: "writing batch: IO error: No space left on device: While appending to file".into(),
            since: std::time::SystemTime::now(),
            next_try: Instant::now(),
        };
        let e = store.refusal(&f);
        assert!(e.is_no_space(), "{e}");
        assert!(e.to_string().contains(&dir.path().display().to_string()), "{e}");
        assert!(!StoreError::Engine("writing batch: IO error: Input/output error".into()).is_no_space());
        assert!(StoreError::Engine("creating x: No space left on device (os error 28)".into()).is_no_space());
    }

    #[test]
    fn free_space_of_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        assert!(free_bytes(dir.path()).unwrap() > 0);
        assert!(free_bytes(&dir.path().join("missing")).is_err());
        std::fs::write(dir.path().join("000003.log"), [0u8; 100]).unwrap();
        std::fs::write(dir.path().join("000004.sst"), [0u8; 50]).unwrap();
        assert_eq!(wal_bytes(dir.path()), 100);
    }

    #[test]
    fn a_healthy_store_reads_and_writes_through() {
        let dir = tempfile::tempdir().unwrap();
        let store = RecoveringStore::open(dir.path(), RocksStoreOptions::default()).unwrap();
        store.health().unwrap();
        let mut b = Batch::default();
        b.set_checkpoint("t", vec![7]);
        store.write(&b).unwrap();
        assert_eq!(store.checkpoint("t").unwrap(), Some(vec![7]));
        store.flush().unwrap();
    }

    #[test]
    fn the_reserve_refuses_writes_before_rocksdb_runs_out_of_space() {
        let dir = tempfile::tempdir().unwrap();
        let free = free_bytes(dir.path()).unwrap();
        let opts = RocksStoreOptions { min_free_bytes: free.saturating_add(1 << 40), ..RocksStoreOptions::default() };
        let store = RecoveringStore::open(dir.path(), opts).unwrap();
        let mut b = Batch::default();
        b.set_checkpoint("t", vec![7]);
        let e = store.write(&b).unwrap_err();
        assert!(e.is_no_space(), "{e}");
        assert!(e.to_string().contains("below the reserve"), "{e}");
        assert!(store.health().is_err(), "unhealthy while refusing");
        assert_eq!(store.checkpoint("t").unwrap(), None, "nothing written");
        // reads and maintenance still work below the reserve
        store.flush().unwrap();
        store.compact().unwrap();
        // without a reserve the same write goes through
        drop(store);
        let opts = RocksStoreOptions { min_free_bytes: 0, ..RocksStoreOptions::default() };
        let store = RecoveringStore::open(dir.path(), opts).unwrap();
        store.write(&b).unwrap();
        assert_eq!(store.checkpoint("t").unwrap(), Some(vec![7]));
    }
}
