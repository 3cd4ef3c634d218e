//! Retention: records last seen before a cutoff (now minus the configured period, or a time
//! `dnsledger prune --before` names) disappear from every lookup at once and from disk at the
//! next compaction.
//!
//! - **Compaction filter.** RocksDB calls [`Retention::filter`] for every stored value a
//!   compaction rewrites; a record or inverse-index value whose latest sensor or zone time is
//!   before the cutoff is dropped there, so expiry costs no pass of its own. Every such value
//!   carries its own aggregate (an index entry's is the merge of the records it stands for),
//!   so the decision needs nothing but the value itself.
//! - **Reads.** A compaction reaches a key only eventually, and merge operands are never
//!   filtered (RocksDB hands the filter finished values only). So scans ([`Retention::hides`])
//!   skip record and index values whose merged time is before the cutoff: an index entry and
//!   its record carry the same times, so every lookup route (RRset, rdata name, address, raw
//!   rdata, wildcards) stops showing an expired record at the same moment, whatever has been
//!   compacted yet.
//! - **Name index.** Names-index entries (for right-hand wildcards) are empty puts: nothing in
//!   them says when they were last used. Lookups go through them to the records, so a stale
//!   one finds nothing and shows nothing; [`sweep_names`] (run by `expire`) deletes the ones
//!   no live record uses, so the integrity check agrees again.
//!
//! A record seen again after it expired starts afresh once the compaction filter has dropped
//! its old value: until then the old value may still be merged into it (its first-seen time
//! and count then include the expired sightings). Expiry is about data last seen before the
//! cutoff, and both outcomes keep the new sighting.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use dnsledger_model::Aggregate;
use dnsledger_store::layout::keys::{NAMES_OWNER, NAMES_TARGET, P_IP, P_NAME, P_NAMES, P_RAW, P_RRSET};
use dnsledger_store::layout::owner_name_key;
use dnsledger_store::{ExpireReport, ScanStats, StoreError};
use rocksdb::compaction_filter::Decision;
use rocksdb::{ReadOptions, WriteBatch, WriteOptions};

use crate::{engine, RocksStore};

/// Retention state shared by the store and its compaction filter.
#[derive(Debug, Default)]
pub struct Retention {
    /// Configured period in seconds (0: keep everything).
    period: u64,
    /// A cutoff forced by [`RocksStore::expire`] (unix seconds; 0: none).
    forced: AtomicU64,
    /// Record values the compaction filter dropped since the store was opened.
    pub(crate) records: AtomicU64,
    /// Inverse-index values the compaction filter dropped since the store was opened.
    pub(crate) index_entries: AtomicU64,
    /// Names-index entries swept since the store was opened.
    pub(crate) names: AtomicU64,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

impl Retention {
    /// Retention keeping records last seen within `period` seconds (`None`: forever).
    pub fn new(period: Option<u64>) -> Retention {
        Retention { period: period.unwrap_or(0), ..Retention::default() }
    }

    /// Records last seen before this unix time are expired (0: none are).
    pub fn cutoff(&self) -> u64 {
        let by_period = if self.period > 0 { now().saturating_sub(self.period) } else { 0 };
        by_period.max(self.forced.load(Ordering::Relaxed))
    }

    /// True if `value` (of `key`) is a record or inverse-index aggregate last seen before `cutoff`.
    fn expired(cutoff: u64, key: &[u8], value: &[u8]) -> bool {
        cutoff > 0
            && matches!(key.first(), Some(&(P_RRSET | P_IP | P_NAME | P_RAW)))
            && Aggregate::last_seen_encoded(value).is_some_and(|t| t < cutoff)
    }

    /// Whether a scan hides this entry (see the module documentation).
    pub fn hides(&self, cutoff: u64, key: &[u8], value: &[u8]) -> bool {
        Self::expired(cutoff, key, value)
    }

    /// The compaction filter's decision for one stored value.
    pub fn filter(&self, key: &[u8], value: &[u8]) -> Decision {
        if !Self::expired(self.cutoff(), key, value) {
            return Decision::Keep;
        }
        let counter = if key.first() == Some(&P_RRSET) { &self.records } else { &self.index_entries };
        counter.fetch_add(1, Ordering::Relaxed);
        Decision::Remove
    }

    /// Forces the cutoff to at least `before` for as long as the store stays open.
    pub fn force(&self, before: u64) {
        self.forced.fetch_max(before, Ordering::Relaxed);
    }

    fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.records.load(Ordering::Relaxed),
            self.index_entries.load(Ordering::Relaxed),
            self.names.load(Ordering::Relaxed),
        )
    }
}

/// Names-index entries are examined (and stale ones deleted) this many at a time, with
/// writes to the store held off meanwhile, so a record written concurrently never loses the
/// names entry it just wrote.
const SWEEP_CHUNK: usize = 4096;

/// Deletes names-index entries that no live record uses: an owner name without RRsets, an
/// rdata target without rdata-name entries. Returns how many were deleted.
pub fn sweep_names(store: &RocksStore) -> Result<u64, StoreError> {
    let mut resume = vec![P_NAMES];
    let end = [P_NAMES + 1];
    let mut deleted = 0u64;
    let mut kbuf = Vec::with_capacity(256);
    loop {
        let _writes = store.writes.write().map_err(|_| StoreError::Engine("write lock poisoned".into()))?;
        let mut chunk: Vec<Vec<u8>> = Vec::with_capacity(SWEEP_CHUNK);
        let mut stats = ScanStats::default();
        let _full = store.scan_with(ReadOptions::default(), &resume, Some(&end), &mut stats, &mut |k, _, _| {
            chunk.push(k.to_vec());
            if chunk.len() >= SWEEP_CHUNK {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        let Some(last) = chunk.last().cloned() else { break };
        let mut wb = WriteBatch::default();
        for k in &chunk {
            let space = match k.get(1) {
                Some(&NAMES_OWNER) => P_RRSET,
                Some(&NAMES_TARGET) => P_NAME,
                _ => continue,
            };
            // the forward name key turned around is the reversed key records are filed under
            owner_name_key(&k[2..], &mut kbuf)?;
            kbuf[0] = space;
            kbuf.remove(1);
            if !store.any_live(&kbuf)? {
                wb.delete(k);
                deleted += 1;
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(store.opts.sync_writes);
        store.db.write_opt(wb, &wo).map_err(|e| engine("deleting stale names-index entries", e))?;
        resume = last;
        resume.push(0);
    }
    store.retention.names.fetch_add(deleted, Ordering::Relaxed);
    Ok(deleted)
}

/// Expires everything last seen before `before`: two full compactions (the first folds merge
/// operands into values, the second lets the filter see those values), then the names sweep.
pub fn expire(store: &RocksStore, before: u64) -> Result<ExpireReport, StoreError> {
    store.retention.force(before);
    let (r0, i0, _) = store.retention.snapshot();
    dnsledger_store::Store::compact(store)?;
    dnsledger_store::Store::compact(store)?;
    let (r1, i1, _) = store.retention.snapshot();
    let names = sweep_names(store)?;
    Ok(ExpireReport {
        records: r1 - r0,
        index_entries: i1 - i0,
        names,
        note: format!("compacted with cutoff {}", store.retention.cutoff()),
    })
}
