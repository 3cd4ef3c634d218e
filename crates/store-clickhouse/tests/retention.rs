//! Retention on real ClickHouse servers (a 2-shard cluster): `Store::expire` deletes what was
//! last seen before the cutoff with a mutation on every shard, reports how many keys it
//! dropped, and afterwards every lookup route answers as the embedded store does after its own
//! expiry; a store opened with a retention period skips old records before any expiry ran.

mod common;

use std::ops::ControlFlow;

use dnsledger_model::{Name, Observation, Rdata, Record, RrType, TimeFence, TypeFilter};
use dnsledger_store::{Batch, IpRange, NameMatch, NegativeFilter, RdataQuery, RdataTarget, RrsetQuery, Store};
use dnsledger_store_clickhouse::{init, ClickHouseOptions, ClickHouseStore};
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

const DAY: u64 = 86_400;

fn n(s: &str) -> Name {
    Name::from_presentation(s).unwrap()
}

fn o(name: &str, t: RrType, rdata: Rdata, zone: bool, time: u64) -> Observation {
    Observation {
        rrname: n(name),
        rrtype: t,
        rdata: [rdata].into_iter().collect(),
        time_first: time,
        time_last: time,
        zone,
        ttl: Some(300),
        ..Observation::default()
    }
}

fn mx(host: &str) -> Rdata {
    let mut w = vec![0, 10];
    w.extend_from_slice(n(host).as_wire());
    Rdata::Wire(w)
}

fn batches(now: u64) -> Vec<Batch> {
    let (old, new) = (now - 500 * DAY, now - DAY);
    let ip = |s: &str| Rdata::ipv4(s.parse().unwrap());
    let first = vec![
        o("old.example.com", RrType::A, ip("192.0.2.10"), false, old),
        o("old.example.com", RrType::MX, mx("mail.old.example.net"), false, old),
        o("old.example.com", RrType::TXT, Rdata::Wire(b"\x03old".to_vec()), false, old),
        o("oldzone.example.com", RrType::NS, Rdata::name(&n("ns.oldzone.example.net")), true, old),
        o("both.example.com", RrType::A, ip("192.0.2.30"), false, old),
    ];
    let second = vec![
        o("new.example.com", RrType::A, ip("192.0.2.20"), false, new),
        o("new.example.com", RrType::CNAME, Rdata::name(&n("target.example.net")), false, new),
        o("newzone.example.com", RrType::NS, Rdata::name(&n("ns.newzone.example.net")), true, new),
        o("both.example.com", RrType::A, ip("192.0.2.30"), false, new),
    ];
    [first, second]
        .into_iter()
        .map(|list| {
            let mut b = Batch::new();
            for mut x in list {
                b.add(&mut x);
            }
            b
        })
        .collect()
}

/// Every lookup route: (route, rrname, rrtype, count, first, last) lines.
fn routes(s: &dyn Store) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = |route: &str, r: Record| {
        out.push(format!("{route} {} {} {} {:?}", r.rrname, r.rrtype, r.agg.count, r.agg.effective_times()));
        ControlFlow::Continue(())
    };
    for name in ["*.example.com", "old.example.*", "both.example.com"] {
        let q = RrsetQuery {
            name: NameMatch::parse(name).unwrap(),
            types: TypeFilter::All,
            bailiwick: None,
            fence: TimeFence::default(),
            negative: NegativeFilter::Exclude,
        };
        s.lookup_rrset(&q, &mut |r| line(name, r)).unwrap();
    }
    let targets = [
        ("ip", RdataTarget::Ip(IpRange::parse("192.0.2.0/24").unwrap())),
        ("names", RdataTarget::Name(NameMatch::parse("*.example.net").unwrap())),
        ("raw", RdataTarget::Raw(b"\x03old".to_vec())),
        ("any", RdataTarget::Any),
    ];
    for (route, target) in targets {
        let q = RdataQuery { target, types: TypeFilter::All, fence: TimeFence::default() };
        s.lookup_rdata(&q, &mut |r| line(route, r)).unwrap();
    }
    out
}

#[test]
fn expiry_on_shards_answers_as_the_embedded_store() {
    let now = dnsledger_model::time::now();
    let (urls, cluster) = common::two_shards();
    let mut opts = ClickHouseOptions::with_urls(urls.clone());
    opts.cluster = Some(cluster);
    opts.database = common::fresh_database("retention");
    init(&opts).expect("init");
    let ch = ClickHouseStore::open(opts.clone()).expect("open");
    let dir = tempfile::tempdir().unwrap();
    let rocks = RocksStore::open(dir.path(), RocksStoreOptions::default()).unwrap();
    for b in batches(now) {
        ch.write(&b).unwrap();
        rocks.write(&b).unwrap();
    }
    let before = routes(&ch);
    assert_eq!(before, routes(&rocks));
    assert!(before.iter().any(|l| l.contains("old.example.com")), "{before:?}");

    // a store opened with a retention period skips old records at once
    let retaining = ClickHouseStore::open(ClickHouseOptions { retention_secs: Some(365 * DAY), ..opts.clone() })
        .expect("open with retention");
    let hidden = routes(&retaining);
    assert!(!hidden.iter().any(|l| l.contains(" old.example.com") || l.contains("oldzone")), "{hidden:?}");

    let cutoff = now - 365 * DAY;
    let report = ch.expire(cutoff).expect("expire on ClickHouse");
    // old A, MX, TXT, oldzone NS; their address, rdata-name (2) and raw entries
    assert_eq!((report.records, report.index_entries), (4, 4), "{report:?}");
    let on_rocks = rocks.expire(cutoff).unwrap();
    assert_eq!((on_rocks.records, on_rocks.index_entries), (4, 4), "{on_rocks:?}");
    let after = routes(&ch);
    assert_eq!(after, routes(&rocks));
    assert_eq!(after, hidden);
    assert!(after.iter().any(|l| l.starts_with("both.example.com both.example.com. A 2 ")), "{after:?}");
    // gone from the tables, not only skipped: a store opened without retention agrees
    let plain = ClickHouseStore::open(opts.clone()).expect("reopen");
    assert_eq!(routes(&plain), after);
    assert_eq!(ch.expire(cutoff).unwrap().records, 0);
    for u in &urls {
        common::drop_database(u, &opts.database);
    }
}
