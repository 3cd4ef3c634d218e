//! Streams into the store: records that arrive one at a time (dnstap frames from a resolver's
//! socket) are parsed, aggregated in memory and written every `flush_every`, or sooner when
//! `max_bytes` of aggregated records are pending (the caller then waits for the write, which
//! slows a fast sender down instead of growing memory).
//!
//! A failed store write keeps the batch and retries it with the next flush, so records a
//! collector accepted are not dropped while the store is unavailable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use dnsledger_sources::{Format, LineOutcome, LineParser, SourceOptions};
use dnsledger_store::{Batch, Store, StoreError};

/// Rejected records logged per flush interval; further ones are only counted.
const LOGGED_ERRORS: u32 = 10;

/// Counters of a [`StreamCollector`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Records (frames or lines) received.
    pub records: u64,
    /// Observations accepted.
    pub observations: u64,
    /// Rejected records by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Skipped records by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Batches written.
    pub batches: u64,
    /// Store writes that failed (and were retried).
    pub write_errors: u64,
}

struct Inner {
    parser: Box<dyn LineParser>,
    batch: Batch,
    stats: StreamStats,
    logged: u32,
}

/// Parses, aggregates and stores a stream of records of one format.
pub struct StreamCollector {
    name: String,
    store: Arc<dyn Store>,
    inner: Mutex<Inner>,
    /// Serialises store writes so batches land in order.
    writing: Mutex<()>,
    flush_every: Duration,
    max_bytes: usize,
}

impl StreamCollector {
    /// A collector named `name` (for logs) storing `format` records parsed with `opts`.
    pub fn new(
        name: impl Into<String>,
        store: Arc<dyn Store>,
        format: Format,
        opts: &SourceOptions,
        flush_every: Duration,
        max_bytes: usize,
    ) -> Arc<StreamCollector> {
        Arc::new(StreamCollector {
            name: name.into(),
            store,
            inner: Mutex::new(Inner {
                parser: format.parser(opts),
                batch: Batch::new(),
                stats: StreamStats::default(),
                logged: 0,
            }),
            writing: Mutex::new(()),
            flush_every,
            max_bytes: max_bytes.max(1 << 16),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // a panic while holding the lock cannot leave the batch half-merged: recover it
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Parses one record (a frame payload or a line) and adds its observations.
    pub fn record(&self, payload: &[u8]) {
        let full = {
            let mut g = self.lock();
            let inner = &mut *g;
            inner.stats.records += 1;
            let batch = &mut inner.batch;
            let mut emitted = 0u64;
            let outcome = inner.parser.parse_line(payload, &mut |obs| {
                emitted += 1;
                batch.add(obs)
            });
            inner.stats.observations += emitted;
            match outcome {
                Ok(LineOutcome::Observations(_)) => {}
                Ok(LineOutcome::Skipped(why)) => *inner.stats.skipped.entry(why).or_default() += 1,
                Err(e) => {
                    *inner.stats.rejected.entry(e.reason).or_default() += 1;
                    if inner.logged < LOGGED_ERRORS {
                        inner.logged += 1;
                        tracing::warn!(collector = %self.name, record = inner.stats.records, error = %e, "record rejected");
                    }
                }
            }
            inner.batch.approx_bytes() >= self.max_bytes
        };
        if full {
            if let Err(e) = self.flush() {
                tracing::error!(collector = %self.name, error = %e, "store write failed; keeping the batch to retry");
            }
        }
    }

    /// Writes what is pending; returns the number of records merged. On failure the batch is
    /// kept (merged with what arrives meanwhile) for the next attempt.
    pub fn flush(&self) -> Result<u64, StoreError> {
        let _w = self.writing.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = {
            let mut g = self.lock();
            g.logged = 0;
            std::mem::take(&mut g.batch)
        };
        if batch.is_empty() {
            return Ok(0);
        }
        batch.sort();
        match self.store.write(&batch) {
            Ok(s) => {
                self.lock().stats.batches += 1;
                Ok(s.records)
            }
            Err(e) => {
                let mut g = self.lock();
                g.stats.write_errors += 1;
                let newer = std::mem::take(&mut g.batch);
                g.batch = batch.merge_sorted(newer);
                Err(e)
            }
        }
    }

    /// Flushes every `flush_every` until `stop` is set, then once more.
    pub fn run_flusher(self: &Arc<Self>, stop: &AtomicBool) {
        let mut last = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(50).min(self.flush_every));
            if last.elapsed() >= self.flush_every {
                last = Instant::now();
                if let Err(e) = self.flush() {
                    tracing::error!(collector = %self.name, error = %e, "store write failed; keeping the batch to retry");
                }
            }
        }
        if let Err(e) = self.flush() {
            tracing::error!(collector = %self.name, error = %e, "final store write failed");
        }
    }

    /// Bytes of aggregated records waiting for the next store write (the queue's depth).
    pub fn pending_bytes(&self) -> usize {
        self.lock().batch.approx_bytes()
    }

    /// The name given at creation.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A copy of the counters.
    pub fn stats(&self) -> StreamStats {
        self.lock().stats.clone()
    }
}
