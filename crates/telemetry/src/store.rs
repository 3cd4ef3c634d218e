//! [`TimedStore`]: a [`Store`] that records how long writes take and what they merged
//! (`dnsledger_store_*`), and copies the engine's own figures ([`Store::gauges`]) into the
//! registry at each scrape. Lookups are timed per HTTP route instead, where the client's wait
//! is known.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dnsledger_store::{
    BackupInfo, Batch, Gauge, RdataQuery, RrsetQuery, ScanStats, Store, StoreError, StoreStats, Visitor, WriteStats,
};

use crate::catalog;

/// Wraps a store; every call goes through to it.
pub struct TimedStore {
    inner: Arc<dyn Store>,
}

impl TimedStore {
    /// Times `inner`'s writes.
    pub fn new(inner: Arc<dyn Store>) -> TimedStore {
        TimedStore { inner }
    }

    /// Copies the engine figures and the health of `store` into the registry (a collector
    /// for [`crate::Metrics::add_collector`]).
    pub fn collect(store: &dyn Store) {
        for Gauge { name, help, value } in store.gauges() {
            metrics::describe_gauge!(name, help);
            metrics::gauge!(name).set(value);
        }
    }
}

impl Store for TimedStore {
    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError> {
        let t = Instant::now();
        let r = self.inner.write(batch);
        metrics::histogram!(catalog::STORE_WRITE_SECONDS).record(t.elapsed().as_secs_f64());
        match &r {
            Ok(s) => {
                metrics::counter!(catalog::STORE_WRITES, "result" => "ok").increment(1);
                metrics::counter!(catalog::STORE_RECORDS).increment(s.records);
                metrics::counter!(catalog::STORE_OBSERVATIONS).increment(s.observations);
            }
            Err(e) => {
                metrics::counter!(catalog::STORE_WRITES, "result" => "error").increment(1);
                if e.is_no_space() {
                    metrics::counter!(catalog::STORE_NO_SPACE).increment(1);
                }
            }
        }
        r
    }
    fn lookup_rrset(&self, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        self.inner.lookup_rrset(q, visit)
    }
    fn lookup_rdata(&self, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        self.inner.lookup_rdata(q, visit)
    }
    fn checkpoint(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.checkpoint(source)
    }
    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.inner.stats()
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn compact(&self) -> Result<(), StoreError> {
        self.inner.compact()
    }
    fn health(&self) -> Result<(), StoreError> {
        let r = self.inner.health();
        metrics::gauge!(catalog::STORE_UP).set(if r.is_ok() { 1.0 } else { 0.0 });
        r
    }
    fn gauges(&self) -> Vec<Gauge> {
        self.inner.gauges()
    }
    fn backup(&self, dest: &Path) -> Result<BackupInfo, StoreError> {
        self.inner.backup(dest)
    }
    fn expire(&self, before: u64) -> Result<dnsledger_store::ExpireReport, StoreError> {
        self.inner.expire(before)
    }
}
