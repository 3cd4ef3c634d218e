//! The backend conformance suite (`dnsledger_store::conformance`) on real ClickHouse servers:
//! every check on a single node and on a 2-shard cluster, and the randomized differential
//! check against the embedded store, which must agree record for record, in order.

mod common;

use std::cell::RefCell;

use dnsledger_store::conformance;
use dnsledger_store::Store;
use dnsledger_store_clickhouse::{init, ClickHouseOptions, ClickHouseStore};
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

/// Options for a fresh database on the single node (`shards: false`) or the 2-shard cluster.
fn options(tag: &str, shards: bool) -> ClickHouseOptions {
    let mut o = if shards {
        let (urls, cluster) = common::two_shards();
        let mut o = ClickHouseOptions::with_urls(urls);
        o.cluster = Some(cluster);
        o
    } else {
        ClickHouseOptions::with_urls([common::single_node()])
    };
    o.database = common::fresh_database(tag);
    o
}

fn fresh(tag: &str, shards: bool) -> ClickHouseStore {
    let o = options(tag, shards);
    init(&o).expect("init");
    ClickHouseStore::open(o).expect("open")
}

fn drop_all(o: &ClickHouseOptions) {
    for u in o.shards.iter().flatten() {
        common::drop_database(u, &o.database);
    }
}

fn suite(shards: bool) {
    let made = RefCell::new(Vec::new());
    let factory = || -> Box<dyn Store> {
        let s = fresh(if shards { "conf2" } else { "conf1" }, shards);
        made.borrow_mut().push(s.options().clone());
        Box::new(s)
    };
    conformance::run_all(&factory);
    for o in made.borrow().iter() {
        drop_all(o);
    }
}

#[test]
fn suite_on_one_node() {
    suite(false);
}

#[test]
fn suite_on_two_shards() {
    suite(true);
}

fn differential(shards: bool, seed: u64, batches: usize) {
    {
        let dir = tempfile::tempdir().unwrap();
        let rocks = RocksStore::open(dir.path(), RocksStoreOptions { cache_bytes: 8 << 20, ..Default::default() })
            .expect("embedded store");
        let ch = fresh("diff", shards);
        conformance::differential(&rocks, &ch, seed, batches);
        drop_all(ch.options());
    }
}

#[test]
fn agrees_with_the_embedded_store_on_one_node() {
    differential(false, 7, 40);
}

#[test]
fn agrees_with_the_embedded_store_on_two_shards() {
    differential(true, 0xc0ffee, 30);
}

/// A shard's replicas hold the same records: written through one replica, read through the
/// other (ReplicatedAggregatingMergeTree over ZooKeeper).
#[test]
fn replicas_share_what_one_of_them_was_sent() {
    let (urls, _) = common::two_shards();
    let mut o = ClickHouseOptions { shards: vec![urls.clone()], ..Default::default() };
    o.cluster = Some(common::replicated_cluster());
    o.replicated = true;
    o.database = common::fresh_database("repl");
    init(&o).expect("init replicated");
    let writer = ClickHouseStore::open(o.clone()).expect("open");
    let mut batch = dnsledger_store::Batch::new();
    for i in 0..50u32 {
        batch.add(&mut common::obs(&format!("h{i}.repl.example"), i, 1_700_000_000));
    }
    writer.write(&batch).expect("write through the first replica");
    // read from the second replica's local table only
    let mut second = o.clone();
    second.shards = vec![vec![urls[1].clone()]];
    second.cluster = None;
    second.replicated = false;
    let reader = ClickHouseStore::open(second).expect("open the second replica");
    let q = dnsledger_store::RrsetQuery {
        name: dnsledger_store::NameMatch::parse("*.repl.example").unwrap(),
        types: Default::default(),
        bailiwick: None,
        fence: Default::default(),
        negative: Default::default(),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let mut n = 0;
        reader
            .lookup_rrset(&q, &mut |_| {
                n += 1;
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        if n == 50 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "only {n} of 50 records replicated after 30 s");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // ON CLUSTER is not used, so drop on both
    drop_all(&o);
}
