//! Store tests: merge semantics, every lookup kind and its edges, fences, persistence.

use super::*;
use dnsledger_model::TypeFilter;
use dnsledger_model::{Negative, Observation, TimeFence};
use dnsledger_store::{IpRange, NameMatch, NegativeFilter, RdataQuery, RdataTarget};
use std::ops::ControlFlow;

fn n(s: &str) -> Name {
    Name::from_presentation(s).unwrap()
}

fn ipv4(s: &str) -> Rdata {
    Rdata::ipv4(s.parse().unwrap())
}

fn ipv6(s: &str) -> Rdata {
    Rdata::ipv6(s.parse().unwrap())
}

fn mx(pref: u16, host: &str) -> Rdata {
    let mut w = pref.to_be_bytes().to_vec();
    w.extend_from_slice(n(host).as_wire());
    Rdata::Wire(w)
}

fn txt(s: &str) -> Rdata {
    let mut w = vec![s.len() as u8];
    w.extend_from_slice(s.as_bytes());
    Rdata::Wire(w)
}

fn obs(name: &str, t: RrType, rdata: Vec<Rdata>, bw: Option<&str>, time: u64) -> Observation {
    Observation {
        rrname: n(name),
        rrtype: t,
        rdata: rdata.into_iter().collect(),
        bailiwick: bw.map(n),
        time_first: time,
        time_last: time,
        ttl: Some(300),
        ..Observation::default()
    }
}

fn open(dir: &Path) -> RocksStore {
    RocksStore::open(
        dir,
        RocksStoreOptions { cache_bytes: 8 << 20, write_buffer_bytes: 16 << 20, ..Default::default() },
    )
    .unwrap()
}

fn write(store: &RocksStore, list: Vec<Observation>) {
    let mut b = Batch::new();
    for mut o in list {
        b.add(&mut o);
    }
    store.write(&b).unwrap();
}

fn rrsets(store: &RocksStore, q: RrsetQuery) -> Vec<Record> {
    let mut out = Vec::new();
    store
        .lookup_rrset(&q, &mut |r| {
            out.push(r);
            ControlFlow::Continue(())
        })
        .unwrap();
    out
}

fn rdatas(store: &RocksStore, target: RdataTarget, types: TypeFilter, fence: TimeFence) -> Vec<Record> {
    let mut out = Vec::new();
    store
        .lookup_rdata(&RdataQuery { target, types, fence }, &mut |r| {
            out.push(r);
            ControlFlow::Continue(())
        })
        .unwrap();
    out
}

fn q(name: &str) -> RrsetQuery {
    RrsetQuery {
        name: NameMatch::parse(name).unwrap(),
        types: TypeFilter::All,
        bailiwick: None,
        fence: TimeFence::default(),
        negative: NegativeFilter::Exclude,
    }
}

fn names(recs: &[Record]) -> Vec<String> {
    recs.iter().map(|r| format!("{} {}", r.rrname, r.rrtype)).collect()
}

fn sample(store: &RocksStore) {
    write(
        store,
        vec![
            obs("www.example.com", RrType::A, vec![ipv4("192.0.2.1")], Some("example.com"), 1000),
            obs("www.example.com", RrType::A, vec![ipv4("192.0.2.1")], Some("example.com"), 3000),
            obs("www.example.com", RrType::A, vec![ipv4("192.0.2.1"), ipv4("192.0.2.2")], Some("example.com"), 2000),
            obs("www.example.com", RrType::AAAA, vec![ipv6("2001:db8::1")], Some("example.com"), 2000),
            obs("example.com", RrType::MX, vec![mx(10, "mail.example.com")], Some("com"), 2000),
            obs("example.com", RrType::MX, vec![mx(20, "mail.example.com")], Some("com"), 2500),
            obs("example.com", RrType::NS, vec![Rdata::name(&n("ns1.dnsprov.net"))], Some("com"), 2000),
            obs("example.com", RrType::TXT, vec![txt("v=spf1 -all")], None, 2000),
            obs("a.b.example.com", RrType::CNAME, vec![Rdata::name(&n("www.example.com"))], None, 5000),
            obs("examples.com", RrType::A, vec![ipv4("192.0.2.1")], None, 4000),
            obs("www.example.org", RrType::A, vec![ipv4("198.51.100.7")], None, 4000),
            obs("edge.example.net", RrType::A, vec![ipv4("0.0.0.0")], None, 100),
            obs("top.example.net", RrType::A, vec![ipv4("255.255.255.255")], None, 100),
            obs("v6low.example.net", RrType::AAAA, vec![ipv6("::")], None, 100),
            obs("v6high.example.net", RrType::AAAA, vec![ipv6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")], None, 100),
            obs("mail.example.com", RrType::RRSIG, vec![Rdata::Wire(vec![0, 1, 8, 2])], None, 100),
        ],
    );
}

#[test]
fn exact_lookup_merges_counts_and_times() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    let recs = rrsets(&store, q("WWW.example.com."));
    assert_eq!(names(&recs), ["www.example.com. A", "www.example.com. A", "www.example.com. AAAA"]);
    let single = recs.iter().find(|r| r.rdata.len() == 1 && r.rrtype == RrType::A).unwrap();
    assert_eq!(single.agg.count, 2);
    assert_eq!(single.agg.seen, Some((1000, 3000)));
    assert_eq!(single.bailiwick, Some(n("example.com")));
    let pair = recs.iter().find(|r| r.rdata.len() == 2).unwrap();
    assert_eq!(pair.agg.count, 1);
    // a second batch merges into the same records
    sample(&store);
    let recs = rrsets(&store, q("www.example.com"));
    assert_eq!(recs.iter().find(|r| r.rdata.len() == 1 && r.rrtype == RrType::A).unwrap().agg.count, 4);
}

#[test]
fn wildcards() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    let below = rrsets(&store, q("*.example.com"));
    assert_eq!(
        names(&below),
        [
            "a.b.example.com. CNAME",
            "mail.example.com. RRSIG",
            "www.example.com. A",
            "www.example.com. A",
            "www.example.com. AAAA"
        ]
    );
    let mut starting = names(&rrsets(&store, q("www.example.*")));
    starting.sort();
    assert_eq!(starting, ["www.example.com. A", "www.example.com. A", "www.example.com. AAAA", "www.example.org. A"]);
    // the zone itself is not "below" itself, and siblings sharing a string prefix are not either
    assert!(names(&below).iter().all(|s| !s.starts_with("example.com") && !s.starts_with("examples")));
    assert_eq!(rrsets(&store, q("*.")).len(), 15);
}

#[test]
fn type_and_bailiwick_filters() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    let mut query = q("example.com");
    query.types = TypeFilter::Only(RrType::MX);
    assert_eq!(rrsets(&store, query.clone()).len(), 2);
    query.bailiwick = Some(n("com"));
    assert_eq!(rrsets(&store, query.clone()).len(), 2);
    query.bailiwick = Some(n("example.com"));
    assert_eq!(rrsets(&store, query.clone()).len(), 0);
    let mut any = q("*.example.com");
    any.types = TypeFilter::Any;
    assert!(names(&rrsets(&store, any.clone())).iter().all(|s| !s.contains("RRSIG")));
    any.types = TypeFilter::AnyDnssec;
    assert_eq!(names(&rrsets(&store, any)), ["mail.example.com. RRSIG"]);
    let mut bw = q("example.com");
    bw.types = TypeFilter::Any;
    bw.bailiwick = Some(n("com"));
    assert_eq!(names(&rrsets(&store, bw)), ["example.com. NS", "example.com. MX", "example.com. MX"]);
}

#[test]
fn ip_lookups_single_cidr_range_and_edges() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    let open_fence = TimeFence::default();
    let ip = |s: &str| rdatas(&store, RdataTarget::Ip(IpRange::parse(s).unwrap()), TypeFilter::Any, open_fence);
    let one = ip("192.0.2.1");
    assert_eq!(names(&one), ["www.example.com. A", "examples.com. A"]);
    // the A record was seen alone twice and in a pair once: per-rdata count is 3
    assert_eq!(one.iter().find(|r| r.rrname == n("www.example.com")).unwrap().agg.count, 3);
    assert!(one.iter().all(|r| r.bailiwick.is_none()));
    assert_eq!(ip("192.0.2.0/24").len(), 3);
    assert_eq!(ip("192.0.2.0,31").len(), 2);
    assert_eq!(ip("192.0.2.2-192.0.2.255").len(), 1);
    assert_eq!(ip("192.0.2.3/32").len(), 0);
    assert_eq!(names(&ip("0.0.0.0")), ["edge.example.net. A"]);
    assert_eq!(names(&ip("255.255.255.255/32")), ["top.example.net. A"]);
    assert_eq!(ip("0.0.0.0/0").len(), 6);
    assert_eq!(ip("128.0.0.0/1").len(), 5);
    assert_eq!(ip("0.0.0.0/1").len(), 1);
    assert_eq!(names(&ip("::")), ["v6low.example.net. AAAA"]);
    assert_eq!(names(&ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), ["v6high.example.net. AAAA"]);
    assert_eq!(ip("::/0").len(), 3);
    assert_eq!(ip("2001:db8::/32").len(), 1);
    assert_eq!(ip("2001:db8::2-2001:db8::ff").len(), 0);
    // IPv4 and IPv6 never mix
    assert!(ip("0.0.0.0/0").iter().all(|r| r.rrtype == RrType::A));
}

#[test]
fn rdata_name_and_raw_lookups() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    let f = TimeFence::default();
    let by_name = |s: &str, t| rdatas(&store, RdataTarget::Name(NameMatch::parse(s).unwrap()), t, f);
    let mail = by_name("mail.example.com", TypeFilter::Any);
    assert_eq!(mail.len(), 2);
    assert_eq!(mail[0].rdata_strings().len(), 1);
    assert_eq!(by_name("mail.example.com", TypeFilter::Only(RrType::NS)).len(), 0);
    assert_eq!(names(&by_name("ns1.dnsprov.net", TypeFilter::Only(RrType::NS))), ["example.com. NS"]);
    assert_eq!(
        names(&by_name("*.example.com", TypeFilter::Any)),
        ["example.com. MX", "example.com. MX", "a.b.example.com. CNAME"]
    );
    assert_eq!(names(&by_name("ns1.dnsprov.*", TypeFilter::Any)), ["example.com. NS"]);
    let raw = |b: Vec<u8>, t| rdatas(&store, RdataTarget::Raw(b), t, f);
    assert_eq!(names(&raw(vec![192, 0, 2, 2], TypeFilter::Any)), ["www.example.com. A"]);
    assert_eq!(names(&raw(n("www.example.com").as_wire().to_vec(), TypeFilter::Any)), ["a.b.example.com. CNAME"]);
    let mut mxw = vec![0, 20];
    mxw.extend_from_slice(n("mail.example.com").as_wire());
    assert_eq!(raw(mxw.clone(), TypeFilter::Any).len(), 1);
    assert_eq!(raw(mxw, TypeFilter::Only(RrType::NS)).len(), 0);
    assert_eq!(names(&raw(txt("v=spf1 -all").bytes().to_vec(), TypeFilter::Any)), ["example.com. TXT"]);
}

#[test]
fn time_fences() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    let mut query = q("*.example.net");
    assert_eq!(rrsets(&store, query.clone()).len(), 4);
    query.fence.last_after = Some(101);
    assert_eq!(rrsets(&store, query.clone()).len(), 0);
    query.fence = TimeFence { first_before: Some(2000), ..TimeFence::default() };
    let mut w = q("www.example.com");
    w.fence = query.fence;
    assert_eq!(rrsets(&store, w.clone()).len(), 3);
    w.fence = TimeFence { first_after: Some(1500), ..TimeFence::default() };
    assert_eq!(rrsets(&store, w.clone()).len(), 2);
    w.fence = TimeFence { last_before: Some(2999), ..TimeFence::default() };
    assert_eq!(rrsets(&store, w).len(), 2);
    // fences apply to rdata records after bailiwicks are folded
    let r = rdatas(
        &store,
        RdataTarget::Ip(IpRange::parse("192.0.2.1").unwrap()),
        TypeFilter::Any,
        TimeFence { last_after: Some(3000), ..TimeFence::default() },
    );
    assert_eq!(names(&r), ["www.example.com. A", "examples.com. A"]);
}

#[test]
fn bailiwicks_fold_in_rdata_view() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    write(
        &store,
        vec![
            obs("x.example", RrType::A, vec![ipv4("203.0.113.5")], Some("example"), 10),
            obs("x.example", RrType::A, vec![ipv4("203.0.113.5")], Some("x.example"), 20),
            obs("x.example", RrType::A, vec![ipv4("203.0.113.5")], None, 30),
        ],
    );
    assert_eq!(rrsets(&store, q("x.example")).len(), 3);
    let r =
        rdatas(&store, RdataTarget::Ip(IpRange::parse("203.0.113.5").unwrap()), TypeFilter::Any, TimeFence::default());
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].agg.count, 3);
    assert_eq!(r[0].agg.seen, Some((10, 30)));
}

#[test]
fn early_stop_and_limits() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    let mut seen = 0;
    store
        .lookup_rrset(&q("*."), &mut |_| {
            seen += 1;
            if seen == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(seen, 3);
}

#[test]
fn persists_sensors_checkpoints_and_reopens_read_only() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        let mut b = Batch::new();
        let mut o = obs("s.example", RrType::A, vec![ipv4("192.0.2.9")], None, 50);
        o.sensor = Some("sensor-fra".into());
        b.add(&mut o);
        let mut o2 = o.clone();
        o2.sensor = Some("sensor-nyc".into());
        b.add(&mut o2);
        b.set_checkpoint("file:abc", b"42".to_vec());
        store.write(&b).unwrap();
    }
    let ro = RocksStore::open(dir.path(), RocksStoreOptions { read_only: true, ..Default::default() }).unwrap();
    let recs = rrsets(&ro, q("s.example"));
    assert_eq!(recs[0].sensors, ["sensor-fra", "sensor-nyc"]);
    assert_eq!(recs[0].agg.count, 2);
    assert_eq!(ro.checkpoint("file:abc").unwrap(), Some(b"42".to_vec()));
    assert_eq!(ro.checkpoint("file:zzz").unwrap(), None);
    assert!(matches!(ro.write(&Batch::new()), Err(StoreError::ReadOnly)));
    drop(ro);
    // a writer sees the same sensor ids again and extends them
    let store = open(dir.path());
    write(
        &store,
        vec![{
            let mut o = obs("s.example", RrType::A, vec![ipv4("192.0.2.9")], None, 60);
            o.sensor = Some("sensor-nyc".into());
            o
        }],
    );
    let recs = rrsets(&store, q("s.example"));
    assert_eq!(recs[0].sensors, ["sensor-fra", "sensor-nyc"]);
    assert_eq!(recs[0].agg.count, 3);
    let stats = store.stats().unwrap();
    assert_eq!(stats.sensors, ["sensor-fra", "sensor-nyc"]);
}

#[test]
fn missing_store_read_only_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = RocksStore::open(dir.path().join("nope"), RocksStoreOptions { read_only: true, ..Default::default() })
        .err()
        .unwrap();
    assert!(err.to_string().contains("no store here"), "{err}");
}

#[test]
fn corrupt_values_are_skipped_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    // inject a corrupt merge operand for an existing record
    let mut key = vec![keys::P_RRSET];
    dnsledger_model::RecordKey::write(&n("examples.com"), RrType::A, None, &[ipv4("192.0.2.1")], &mut key);
    store.db.merge(&key, b"\xffgarbage").unwrap();
    let recs = rrsets(&store, q("examples.com"));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0].agg.count, 1);
    assert!(store.stats().unwrap().corrupt_values >= 1);
    // text rdata from lossy sources is stored and indexed by name
    write(&store, vec![obs("lossy.example", RrType::MX, vec![Rdata::Text("mx.lossy.example.".into())], None, 9)]);
    let r = rdatas(
        &store,
        RdataTarget::Name(NameMatch::parse("mx.lossy.example").unwrap()),
        TypeFilter::Any,
        TimeFence::default(),
    );
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].rdata[0], Rdata::Text("mx.lossy.example.".into()));
}

fn dump(store: &RocksStore) -> Vec<String> {
    let mut out: Vec<String> = rrsets(store, q("*."))
        .iter()
        .map(|r| format!("{} {} {:?} {:?} {:?}", r.rrname, r.rrtype, r.bailiwick, r.rdata, r.agg))
        .collect();
    for spec in ["0.0.0.0/0", "::/0"] {
        for r in rdatas(store, RdataTarget::Ip(IpRange::parse(spec).unwrap()), TypeFilter::All, TimeFence::default()) {
            out.push(format!("ip {} {:?} {:?}", r.rrname, r.rdata, r.agg));
        }
    }
    for r in rdatas(store, RdataTarget::Name(NameMatch::Below(Name::root())), TypeFilter::All, TimeFence::default()) {
        out.push(format!("name {} {} {:?} {:?}", r.rrname, r.rrtype, r.rdata, r.agg));
    }
    for r in rrsets(store, q("www.*")) {
        out.push(format!("fwd {} {}", r.rrname, r.rrtype));
    }
    out
}

#[test]
fn sst_ingestion_equals_write_batches() {
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let small = open(a_dir.path());
    let bulk = RocksStore::open(
        b_dir.path(),
        RocksStoreOptions {
            cache_bytes: 8 << 20,
            write_buffer_bytes: 16 << 20,
            ingest_threshold: 1,
            ..Default::default()
        },
    )
    .unwrap();
    for s in [&small, &bulk] {
        sample(s);
        // a second round merges on top of ingested files and memtables alike
        sample(s);
        let mut b = Batch::new();
        let mut o = obs("x.example", RrType::A, vec![ipv4("192.0.2.1")], None, 7);
        o.sensor = Some("s".into());
        b.add(&mut o);
        b.set_checkpoint("src", b"9".to_vec());
        s.write(&b).unwrap();
    }
    assert_eq!(dump(&small), dump(&bulk));
    assert_eq!(bulk.checkpoint("src").unwrap(), Some(b"9".to_vec()));
    assert!(!b_dir.path().join(INGEST_DIR).read_dir().map(|mut d| d.next().is_some()).unwrap_or(false));
}

#[test]
fn large_sst_ingestion_with_split_index_equals_write_batches() {
    // enough inverse-index entries (>= 16384) for the bulk write to split them into two files
    // of disjoint key ranges; addresses and targets are shared by many names, so runs of equal
    // keys meet the pivot
    let a_dir = tempfile::tempdir().unwrap();
    let b_dir = tempfile::tempdir().unwrap();
    let small =
        RocksStore::open(a_dir.path(), RocksStoreOptions { ingest_threshold: usize::MAX, ..Default::default() })
            .unwrap();
    let bulk = RocksStore::open(b_dir.path(), RocksStoreOptions { ingest_threshold: 1, ..Default::default() }).unwrap();
    let observations = || {
        let mut v = Vec::new();
        for i in 0..30_000u32 {
            let name = format!("h{}.d{}.example.com", i % 7, i % 5000);
            let ip = format!("10.0.{}.{}", (i / 7) % 40, i % 200);
            v.push(obs(&name, RrType::A, vec![ipv4(&ip)], Some("example.com"), 1000 + u64::from(i % 977)));
            if i % 3 == 0 {
                let target = format!("edge{}.cdn.example.net", i % 61);
                v.push(obs(&name, RrType::CNAME, vec![Rdata::name(&n(&target))], None, 2000 + u64::from(i)));
            }
        }
        v
    };
    for s in [&small, &bulk] {
        write(s, observations());
    }
    let (a, b) = (dump(&small), dump(&bulk));
    assert!(a.len() > 40_000, "{}", a.len());
    assert_eq!(a, b);
}

#[test]
fn any_rdata_scans_every_inverse_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    sample(&store);
    write(&store, vec![obs("lossy.example", RrType::HINFO, vec![Rdata::Text("odd text".into())], None, 9)]);
    let all = rdatas(&store, RdataTarget::Any, TypeFilter::All, TimeFence::default());
    // 6 A + 3 AAAA + 2 MX + NS + CNAME (names) + TXT + RRSIG + HINFO text (raw)
    assert_eq!(all.len(), 16, "{:?}", names(&all));
    let dnssec = rdatas(&store, RdataTarget::Any, TypeFilter::AnyDnssec, TimeFence::default());
    assert_eq!(names(&dnssec), ["mail.example.com. RRSIG"]);
    let a = rdatas(&store, RdataTarget::Any, TypeFilter::Only(RrType::A), TimeFence::default());
    assert_eq!(a.len(), 6);
}

#[test]
fn negative_answers_are_kept_apart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let mut b = Batch::new();
    b.add(&mut obs("www.example.com", RrType::A, vec![ipv4("192.0.2.1")], Some("example.com"), 100));
    for t in [100, 200] {
        let mut nx = obs("gone.example.com", RrType::A, vec![], Some("example.com"), t);
        nx.negative = Some(Negative::NxDomain);
        b.add(&mut nx);
    }
    let mut nodata = obs("www.example.com", RrType::AAAA, vec![], Some("example.com"), 150);
    nodata.negative = Some(Negative::NoData);
    b.add(&mut nodata);
    store.write(&b).unwrap();

    let get = |q: &RrsetQuery| {
        let mut out = Vec::new();
        store
            .lookup_rrset(q, &mut |r| {
                out.push(r);
                ControlFlow::Continue(())
            })
            .unwrap();
        out
    };
    // DNSDB-style lookups never see them
    assert_eq!(names(&get(&q("*.example.com"))), ["www.example.com. A"]);
    let only = get(&RrsetQuery { negative: NegativeFilter::Only, ..q("*.example.com") });
    assert_eq!(names(&only), ["gone.example.com. A", "www.example.com. AAAA"]);
    assert_eq!(only[0].negative, Some(Negative::NxDomain));
    assert_eq!(only[0].agg.count, 2);
    assert!(only[0].rdata.is_empty());
    assert_eq!(only[1].negative, Some(Negative::NoData));
    assert_eq!(get(&RrsetQuery { negative: NegativeFilter::Include, ..q("*.example.com") }).len(), 3);
    // no inverse-index entries: an rdata lookup of anything finds only the positive record
    let mut all = Vec::new();
    let any = RdataQuery { target: RdataTarget::Any, types: TypeFilter::All, fence: TimeFence::default() };
    store
        .lookup_rdata(&any, &mut |r| {
            all.push(r);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(names(&all), ["www.example.com. A"]);
}

// ---- retention (see `retention`) ----

use dnsledger_store::layout::survey::{check, CheckOptions};

const DAY: u64 = 86_400;

fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

fn open_retaining(dir: &Path, days: Option<u64>) -> RocksStore {
    RocksStore::open(
        dir,
        RocksStoreOptions {
            cache_bytes: 8 << 20,
            write_buffer_bytes: 16 << 20,
            retention_secs: days.map(|d| d * DAY),
            ..Default::default()
        },
    )
    .unwrap()
}

fn zone_obs(name: &str, t: RrType, rdata: Vec<Rdata>, time: u64) -> Observation {
    Observation { zone: true, ..obs(name, t, rdata, None, time) }
}

/// Records last seen long ago, recently, and both (refreshed), over every key space: addresses,
/// rdata names (and their target-names entries), raw rdata, zone-file times.
fn retention_sample(store: &RocksStore, now: u64) {
    let old = now - 500 * DAY;
    let new = now - DAY;
    write(
        store,
        vec![
            obs("old.example.com", RrType::A, vec![ipv4("192.0.2.10")], Some("example.com"), old),
            obs("old.example.com", RrType::MX, vec![mx(10, "mail.old.example.net")], Some("example.com"), old),
            obs("old.example.com", RrType::TXT, vec![txt("old-token")], None, old),
            obs("old.example.com", RrType::AAAA, vec![ipv6("2001:db8::10")], None, old),
            zone_obs("oldzone.example.com", RrType::NS, vec![Rdata::name(&n("ns.oldzone.example.net"))], old),
            obs("both.example.com", RrType::A, vec![ipv4("192.0.2.30")], None, old),
        ],
    );
    // a second batch: written after, so merged with (not in the same value as) the first
    write(
        store,
        vec![
            obs("new.example.com", RrType::A, vec![ipv4("192.0.2.20")], Some("example.com"), new),
            obs("new.example.com", RrType::CNAME, vec![Rdata::name(&n("target.example.net"))], None, new),
            obs("new.example.com", RrType::TXT, vec![txt("new-token")], None, new),
            zone_obs("newzone.example.com", RrType::NS, vec![Rdata::name(&n("ns.newzone.example.net"))], new),
            obs("both.example.com", RrType::A, vec![ipv4("192.0.2.30")], None, new),
        ],
    );
}

/// Every lookup route, as sorted `name type` lines.
fn every_route(store: &RocksStore) -> Vec<String> {
    let mut out = Vec::new();
    let mut add = |route: &str, recs: Vec<Record>| {
        out.extend(recs.iter().map(|r| format!("{route}: {} {}", r.rrname, r.rrtype)));
    };
    add("exact", rrsets(store, q("old.example.com")));
    add("exact", rrsets(store, q("new.example.com")));
    add("below", rrsets(store, q("*.example.com")));
    add("starting", rrsets(store, q("old.example.*")));
    add("starting", rrsets(store, q("new.example.*")));
    let all = TimeFence::default();
    add("ip", rdatas(store, RdataTarget::Ip(IpRange::parse("192.0.2.0/24").unwrap()), TypeFilter::All, all));
    add("ip6", rdatas(store, RdataTarget::Ip(IpRange::parse("2001:db8::/32").unwrap()), TypeFilter::All, all));
    for target in ["mail.old.example.net", "target.example.net", "*.example.net", "mail.old.*", "ns.*"] {
        add(target, rdatas(store, RdataTarget::Name(NameMatch::parse(target).unwrap()), TypeFilter::All, all));
    }
    for token in ["old-token", "new-token"] {
        let raw = match txt(token) {
            Rdata::Wire(w) => w,
            _ => unreachable!(),
        };
        add(token, rdatas(store, RdataTarget::Raw(raw), TypeFilter::All, all));
    }
    add("any", rdatas(store, RdataTarget::Any, TypeFilter::All, all));
    out.sort();
    out
}

#[test]
fn retention_hides_then_drops_old_records_from_every_route() {
    let dir = tempfile::tempdir().unwrap();
    let now = unix_now();
    {
        let store = open_retaining(dir.path(), None);
        retention_sample(&store, now);
        let all = every_route(&store);
        assert!(all.iter().any(|l| l.contains("old.example.com")), "{all:?}");
        assert!(all.iter().any(|l| l.contains("oldzone.example.com")), "{all:?}");
    }
    let store = open_retaining(dir.path(), Some(365));
    // hidden at once, before any compaction ran
    let hidden = every_route(&store);
    assert!(!hidden.iter().any(|l| l.contains(" old.example.com") || l.contains("oldzone")), "{hidden:?}");
    let report = store.expire(0).unwrap();
    // old.example.com A, MX, TXT, AAAA and oldzone NS
    assert_eq!(report.records, 5, "{report:?}");
    // 192.0.2.10, 2001:db8::10, the MX and NS rdata names, the TXT raw rdata
    assert_eq!(report.index_entries, 5, "{report:?}");
    // owner names old. and oldzone.example.com; targets mail.old.example.net, ns.oldzone.example.net
    assert_eq!(report.names, 4, "{report:?}");
    let after = every_route(&store);
    assert_eq!(after, hidden);
    let want_live = [
        "below: both.example.com. A",
        "below: new.example.com. A",
        "below: new.example.com. CNAME",
        "below: new.example.com. TXT",
        "below: newzone.example.com. NS",
        "ip: both.example.com. A",
        "ip: new.example.com. A",
        "new-token: new.example.com. TXT",
        "ns.*: newzone.example.com. NS",
        "target.example.net: new.example.com. CNAME",
    ];
    for w in want_live {
        assert!(after.iter().any(|l| l == w), "{w} missing from {after:?}");
    }
    assert!(after.iter().all(|l| !l.starts_with("ip6")), "{after:?}");
    // the refreshed record survives whole: both sightings counted
    let both = rrsets(&store, q("both.example.com"));
    assert_eq!(both.len(), 1);
    assert_eq!(both[0].agg.count, 2);
    assert_eq!(both[0].agg.seen, Some((now - 500 * DAY, now - DAY)));
    let opts = CheckOptions { max_problems: 20, registered_sensors: Some(store.stats().unwrap().sensors) };
    let checked = check(&store.verified(), &opts, &mut |_| {}).unwrap();
    assert!(checked.is_clean(), "{:?}", checked.problems);
    let g = store.gauges();
    let gauge = |name: &str| g.iter().find(|g| g.name == name).map(|g| g.value);
    assert_eq!(gauge("dnsledger_store_expired_records"), Some(5.0));
    assert_eq!(gauge("dnsledger_store_expired_names"), Some(4.0));
    assert!(gauge("dnsledger_store_retention_cutoff_seconds").is_some_and(|c| c >= (now - 365 * DAY) as f64));
    drop(store);
    // dropped from disk, not only hidden: a store opened without retention does not see them
    let store = open_retaining(dir.path(), None);
    assert_eq!(every_route(&store), after);
    let again = store.expire(0).unwrap();
    assert_eq!((again.records, again.index_entries, again.names), (0, 0, 0), "{again:?}");
}

#[test]
fn prune_before_a_time_expires_what_was_last_seen_before_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let t = 1_700_000_000;
    write(
        &store,
        vec![
            obs("a.example.com", RrType::A, vec![ipv4("192.0.2.1")], None, t - 10),
            obs("b.example.com", RrType::A, vec![ipv4("192.0.2.2")], None, t),
            obs("c.example.com", RrType::A, vec![ipv4("192.0.2.3")], None, t + 10),
        ],
    );
    let report = store.expire(t).unwrap();
    assert_eq!((report.records, report.index_entries, report.names), (1, 1, 1), "{report:?}");
    assert_eq!(names(&rrsets(&store, q("*.example.com"))), ["b.example.com. A", "c.example.com. A"]);
    let ips =
        rdatas(&store, RdataTarget::Ip(IpRange::parse("192.0.2.0/24").unwrap()), TypeFilter::All, TimeFence::default());
    assert_eq!(names(&ips), ["b.example.com. A", "c.example.com. A"]);
    // records written afterwards with old times are hidden as well while the store is open
    write(&store, vec![obs("d.example.com", RrType::A, vec![ipv4("192.0.2.4")], None, t - 5)]);
    assert!(rrsets(&store, q("d.example.com")).is_empty());
}
