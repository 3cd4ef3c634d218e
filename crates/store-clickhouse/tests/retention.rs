//! Retention on real ClickHouse servers (a 2-shard cluster): `Store::expire` deletes what was
//! last seen before the cutoff with a mutation on every shard, then the names-index entries
//! no record uses any more, reports how many keys it dropped, and afterwards every lookup
//! route answers as the embedded store does after its own expiry, and the integrity check
//! finds both stores clean; a store opened with a retention period skips old records before
//! any expiry ran. The names-index sweep keeps a name whose record arrives while it runs.

mod common;

use std::ops::ControlFlow;

use dnsledger_model::{Name, Observation, Rdata, Record, RrType, TimeFence, TypeFilter};
use dnsledger_store::layout::survey::{check, CheckOptions};
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
    // old A, MX, TXT, oldzone NS; their address, rdata-name (2) and raw entries; the owner
    // names old. and oldzone.example.com, the targets mail.old.example.net, ns.oldzone.example.net
    assert_eq!((report.records, report.index_entries, report.names), (4, 4, 4), "{report:?}");
    let on_rocks = rocks.expire(cutoff).unwrap();
    assert_eq!((on_rocks.records, on_rocks.index_entries, on_rocks.names), (4, 4, 4), "{on_rocks:?}");
    assert_clean(&ch, &rocks);
    let after = routes(&ch);
    assert_eq!(after, routes(&rocks));
    assert_eq!(after, hidden);
    assert!(after.iter().any(|l| l.starts_with("both.example.com both.example.com. A 2 ")), "{after:?}");
    // gone from the tables, not only skipped: a store opened without retention agrees
    let plain = ClickHouseStore::open(opts.clone()).expect("reopen");
    assert_eq!(routes(&plain), after);
    let again = ch.expire(cutoff).unwrap();
    assert_eq!((again.records, again.index_entries, again.names), (0, 0, 0), "{again:?}");
    for u in &urls {
        common::drop_database(u, &opts.database);
    }
}

/// The integrity check finds both stores clean, their indexes (names included) agreeing with
/// the records, and the same number of names-index entries in each.
fn assert_clean(ch: &ClickHouseStore, rocks: &RocksStore) {
    let opts = CheckOptions { max_problems: 20, registered_sensors: None };
    let on_ch = check(ch, &opts, &mut |_| {}).unwrap();
    assert!(on_ch.is_clean(), "{:#?}", on_ch.problems);
    let on_rocks = check(&rocks.verified(), &opts, &mut |_| {}).unwrap();
    assert!(on_rocks.is_clean(), "{:#?}", on_rocks.problems);
    assert_eq!(on_ch.indexes, on_rocks.indexes);
}

/// Right-hand wildcard lookups (the route through the names index): "rrname type" lines.
fn right_wildcard(s: &dyn Store, pattern: &str) -> Vec<String> {
    let q = RrsetQuery {
        name: NameMatch::parse(pattern).unwrap(),
        types: TypeFilter::All,
        bailiwick: None,
        fence: TimeFence::default(),
        negative: NegativeFilter::Exclude,
    };
    let mut out = Vec::new();
    s.lookup_rrset(&q, &mut |r| {
        out.push(format!("{} {}", r.rrname, r.rrtype));
        ControlFlow::Continue(())
    })
    .unwrap();
    out
}

/// A raw entry merging an aggregate.
type Merge = (Vec<u8>, dnsledger_model::Aggregate);

/// The batch a writer sends for one A observation, as raw entries: the record (and its
/// address entry) apart from its names-index entry, so a test can land them at different
/// moments, as inserts of one batch to different shards can.
fn split_batch(name: &str, ip: &str, time: u64) -> (Vec<Merge>, Vec<Vec<u8>>) {
    let mut b = Batch::new();
    b.add(&mut o(name, RrType::A, Rdata::ipv4(ip.parse().unwrap()), false, time));
    let (mut merges, mut puts) = (Vec::new(), Vec::new());
    dnsledger_store::layout::for_each_entry(&b, &mut |key, value| {
        match value {
            dnsledger_store::layout::EntryValue::Merge(agg) => merges.push((key.to_vec(), agg.clone())),
            dnsledger_store::layout::EntryValue::Put(_) => puts.push(key.to_vec()),
        }
        Ok(())
    })
    .unwrap();
    (merges, puts)
}

#[test]
fn names_sweep_keeps_a_name_whose_record_lands_while_it_runs_on_shards() {
    let (urls, cluster) = common::two_shards();
    let mut opts = ClickHouseOptions::with_urls(urls);
    opts.cluster = Some(cluster);
    sweep_race(opts);
}

#[test]
fn names_sweep_keeps_a_name_whose_record_lands_while_it_runs_on_one_server() {
    sweep_race(ClickHouseOptions::with_urls([common::single_node()]));
}

#[test]
fn names_sweep_keeps_a_name_whose_record_lands_while_it_runs_on_replicas() {
    let (urls, _) = common::two_shards();
    let opts = ClickHouseOptions {
        shards: vec![urls],
        cluster: Some(common::replicated_cluster()),
        replicated: true,
        ..ClickHouseOptions::default()
    };
    sweep_race(opts);
}

/// Two names whose batches half landed (names-index entries without records) and one with a
/// record; the record of one of the two lands after the sweep's deletions ran.
fn sweep_race(mut opts: ClickHouseOptions) {
    let now = dnsledger_model::time::now();
    opts.database = common::fresh_database("sweep_race");
    let urls: Vec<String> = opts.shards.iter().flatten().cloned().collect();
    init(&opts).expect("init");
    let ch = ClickHouseStore::open(opts.clone()).expect("open");
    let put = |keys: &[Vec<u8>]| {
        let mut w = ch.entry_writer();
        for k in keys {
            w.put(k, &[]).unwrap();
        }
        w.finish().unwrap();
    };
    let merge = |entries: &[Merge]| {
        let mut w = ch.entry_writer();
        for (k, agg) in entries {
            w.merge(k, agg, &[]).unwrap();
        }
        w.finish().unwrap();
    };
    // a name with a record all along, and two whose batches are half-landed: their
    // names-index entries are in the store, their records not yet
    let mut kept = Batch::new();
    kept.add(&mut o("kept.example.org", RrType::A, Rdata::ipv4("192.0.2.1".parse().unwrap()), false, now));
    ch.write(&kept).unwrap();
    let (late_record, late_names) = split_batch("late.example.org", "192.0.2.2", now);
    let (_, never_names) = split_batch("never.example.org", "192.0.2.3", now);
    put(&late_names);
    put(&never_names);
    assert_eq!(late_names.len(), 1, "one owner-name entry");
    // the record of `late` lands after the deletions ran, before the sweep ends
    let mut landed = false;
    let deleted = ch
        .sweep_names_with(&mut || {
            merge(&late_record);
            landed = true;
            Ok(())
        })
        .expect("sweep");
    assert!(landed);
    // both half-landed names had no record when the mutations ran
    assert_eq!(deleted, 2);
    assert_eq!(right_wildcard(&ch, "late.example.*"), ["late.example.org. A"]);
    assert_eq!(right_wildcard(&ch, "kept.example.*"), ["kept.example.org. A"]);
    // and the store agrees with itself: no names-index entry without its record (`never`'s is
    // gone: a lookup could not tell, it finds no record either way), none missing
    let report = check(&ch, &CheckOptions { max_problems: 20, registered_sensors: None }, &mut |_| {}).unwrap();
    assert!(report.is_clean(), "{:#?}", report.problems);
    let names = report.indexes.iter().find(|a| a.index.contains("owner")).expect("owner names family");
    assert_eq!((names.expected, names.present), (2, 2), "{:?}", report.indexes);
    for u in &urls {
        common::drop_database(u, &opts.database);
    }
}
