//! The backend conformance suite (`dnsledger_store::conformance`) on the embedded store: every
//! check on fresh stores written through WriteBatches (WAL) and through SST ingestion, and the
//! randomized differential check between a store written through the WAL and one that
//! ingests every batch as SST files, which must agree record for record.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};

use dnsledger_model::{Name, Observation, Rdata, RrType};
use dnsledger_store::conformance;
use dnsledger_store::{Batch, Store};
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
use tempfile::TempDir;

/// The default ingestion threshold: the suite's batches are far smaller, so they go through
/// the WAL.
fn wal() -> usize {
    RocksStoreOptions::default().ingest_threshold
}

fn open(dir: &TempDir, ingest_threshold: usize) -> RocksStore {
    RocksStore::open(
        dir.path(),
        RocksStoreOptions {
            cache_bytes: 8 << 20,
            write_buffer_bytes: 16 << 20,
            ingest_threshold,
            ..Default::default()
        },
    )
    .unwrap()
}

/// Runs the whole suite on fresh stores with this ingestion threshold; the directories live
/// until the suite is done (each store is dropped by its check first).
fn suite(ingest_threshold: usize) {
    let dirs = RefCell::new(Vec::new());
    let factory = || -> Box<dyn Store> {
        let dir = tempfile::tempdir().unwrap();
        let store = open(&dir, ingest_threshold);
        dirs.borrow_mut().push(dir);
        Box::new(store)
    };
    conformance::run_all(&factory);
}

#[test]
fn suite_through_the_wal() {
    suite(wal());
}

#[test]
fn suite_through_sst_ingestion() {
    suite(1);
}

#[test]
fn wal_and_sst_ingestion_agree() {
    for (seed, batches) in [(1, 60), (0x5eed, 40), (20_240_601, 25)] {
        let (wal_dir, sst_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let wal = open(&wal_dir, wal());
        let sst = open(&sst_dir, 1);
        conformance::differential(&wal, &sst, seed, batches);
    }
}

/// The differential check fails when two stores differ by a single observation.
#[test]
fn differential_detects_one_extra_observation() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(&a_dir, wal());
    let b = open(&b_dir, 1);
    let mut extra = Batch::new();
    extra.add(&mut Observation {
        rrname: Name::from_presentation("www.example.com").unwrap(),
        rrtype: RrType::A,
        rdata: [Rdata::Wire(vec![192, 0, 2, 1])].into_iter().collect(),
        time_first: 1_600_000_000,
        time_last: 1_600_000_000,
        ..Observation::default()
    });
    b.write(&extra).unwrap();
    let outcome = catch_unwind(AssertUnwindSafe(|| conformance::differential(&a, &b, 7, 10)));
    let message = match outcome {
        Ok(()) => panic!("the differential check accepted stores that differ"),
        Err(e) => e.downcast_ref::<String>().cloned().unwrap_or_default(),
    };
    assert!(message.contains("differs at record"), "{message}");
}
