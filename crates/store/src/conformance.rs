//! The backend conformance suite: the behaviour every [`Store`] shows, as checks that run
//! against any backend, so that one suite holds the embedded store and the ClickHouse store to
//! the same results for every lookup.
//!
//! Compiled with the `conformance` feature, which backends enable for their tests. Each
//! `check_*` function takes a factory of fresh, empty stores and panics at the first result
//! that differs from the expected one; [`run_all`] runs every check. [`differential`] writes
//! the same pseudo-random batches to two stores and asserts that a fixed list of lookups
//! returns the same records, in the same order, from both (and that the RRsets both hold are
//! exactly the ones the batches describe).
//!
//! Records are compared with their sensor *names* sorted ([`Record::sensors`]), never with
//! their aggregate's sensor ids: each backend numbers sensors its own way.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::ops::ControlFlow;

use dnsledger_model::time::{Timestamp, DAY};
use dnsledger_model::{
    Aggregate, DayHistory, Name, Negative, Observation, Rdata, Record, RecordKey, RrType, SensorSet, TimeFence,
    TypeFilter,
};

use crate::{Batch, IpRange, NameMatch, NegativeFilter, RdataQuery, RdataTarget, RrsetQuery, Store};

/// A private-use record type the suite stores as opaque (RFC 3597) rdata.
pub const UNKNOWN_TYPE: RrType = RrType(65280);

/// Runs every check of the suite, each on fresh stores from `new_store`.
pub fn run_all(new_store: &dyn Fn() -> Box<dyn Store>) {
    check_merge(new_store);
    check_wildcards(new_store);
    check_type_and_bailiwick_filters(new_store);
    check_ip_lookups(new_store);
    check_rdata_name_and_raw_lookups(new_store);
    check_time_fences(new_store);
    check_bailiwicks_fold_in_rdata_view(new_store);
    check_early_stop(new_store);
    check_sensors(new_store);
    check_checkpoints(new_store);
    check_negative_answers(new_store);
    check_any_rdata(new_store);
    check_text_rdata_indexed_by_name(new_store);
}

// ---------------------------------------------------------------------------------------------
// Helpers

fn n(s: &str) -> Name {
    Name::from_presentation(s).unwrap_or_else(|e| panic!("conformance: bad test name {s:?}: {e}"))
}

fn ip(s: &str) -> Rdata {
    match s.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => Rdata::Wire(v4.octets().to_vec()),
        Ok(IpAddr::V6(v6)) => Rdata::Wire(v6.octets().to_vec()),
        Err(e) => panic!("conformance: bad test address {s:?}: {e}"),
    }
}

fn mx(pref: u16, host: &str) -> Rdata {
    let mut w = pref.to_be_bytes().to_vec();
    w.extend_from_slice(n(host).as_wire());
    Rdata::Wire(w)
}

fn srv(priority: u16, weight: u16, port: u16, target: &str) -> Rdata {
    let mut w = Vec::new();
    for x in [priority, weight, port] {
        w.extend_from_slice(&x.to_be_bytes());
    }
    w.extend_from_slice(n(target).as_wire());
    Rdata::Wire(w)
}

fn txt(strings: &[&str]) -> Rdata {
    let mut w = Vec::new();
    for s in strings {
        w.push(s.len() as u8);
        w.extend_from_slice(s.as_bytes());
    }
    Rdata::Wire(w)
}

fn obs(name: &str, t: RrType, rdata: Vec<Rdata>, bw: Option<&str>, time: Timestamp) -> Observation {
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

fn write_batch(store: &dyn Store, batch: &Batch) {
    if let Err(e) = store.write(batch) {
        panic!("conformance: writing a batch of {} records failed: {e}", batch.len());
    }
}

fn write(store: &dyn Store, list: Vec<Observation>) {
    let mut b = Batch::new();
    for mut o in list {
        b.add(&mut o);
    }
    write_batch(store, &b);
}

/// Every record of an RRset lookup; also checks that the scan counted them as returned.
fn rrsets(store: &dyn Store, q: &RrsetQuery) -> Vec<Record> {
    let mut out = Vec::new();
    let stats = store
        .lookup_rrset(q, &mut |r| {
            out.push(r);
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("conformance: RRset lookup {q:?} failed: {e}"));
    assert_eq!(stats.returned, out.len() as u64, "records returned by {q:?}");
    out
}

/// Every record of an rdata lookup; also checks that the scan counted them as returned.
fn rdata_lookup(store: &dyn Store, q: &RdataQuery) -> Vec<Record> {
    let mut out = Vec::new();
    let stats = store
        .lookup_rdata(q, &mut |r| {
            out.push(r);
            ControlFlow::Continue(())
        })
        .unwrap_or_else(|e| panic!("conformance: rdata lookup {q:?} failed: {e}"));
    assert_eq!(stats.returned, out.len() as u64, "records returned by {q:?}");
    out
}

fn rdatas(store: &dyn Store, target: RdataTarget, types: TypeFilter, fence: TimeFence) -> Vec<Record> {
    rdata_lookup(store, &RdataQuery { target, types, fence })
}

fn ip_target(spec: &str) -> RdataTarget {
    RdataTarget::Ip(IpRange::parse(spec).unwrap_or_else(|e| panic!("conformance: bad test range {spec:?}: {e}")))
}

fn name_target(spec: &str) -> RdataTarget {
    RdataTarget::Name(name_match(spec))
}

fn name_match(spec: &str) -> NameMatch {
    NameMatch::parse(spec).unwrap_or_else(|e| panic!("conformance: bad test name match {spec:?}: {e}"))
}

fn q(name: &str) -> RrsetQuery {
    RrsetQuery {
        name: name_match(name),
        types: TypeFilter::All,
        bailiwick: None,
        fence: TimeFence::default(),
        negative: NegativeFilter::Exclude,
    }
}

fn names(recs: &[Record]) -> Vec<String> {
    recs.iter().map(|r| format!("{} {}", r.rrname, r.rrtype)).collect()
}

fn sorted_sensors(r: &Record) -> Vec<String> {
    let mut s = r.sensors.clone();
    s.sort();
    s
}

fn find<'a>(recs: &'a [Record], what: &str, f: impl Fn(&Record) -> bool) -> &'a Record {
    recs.iter().find(|r| f(r)).unwrap_or_else(|| panic!("conformance: no {what} in {:?}", names(recs)))
}

/// The records most checks start from (the same as the embedded store's own tests).
fn sample(store: &dyn Store) {
    write(
        store,
        vec![
            obs("www.example.com", RrType::A, vec![ip("192.0.2.1")], Some("example.com"), 1000),
            obs("www.example.com", RrType::A, vec![ip("192.0.2.1")], Some("example.com"), 3000),
            obs("www.example.com", RrType::A, vec![ip("192.0.2.1"), ip("192.0.2.2")], Some("example.com"), 2000),
            obs("www.example.com", RrType::AAAA, vec![ip("2001:db8::1")], Some("example.com"), 2000),
            obs("example.com", RrType::MX, vec![mx(10, "mail.example.com")], Some("com"), 2000),
            obs("example.com", RrType::MX, vec![mx(20, "mail.example.com")], Some("com"), 2500),
            obs("example.com", RrType::NS, vec![Rdata::name(&n("ns1.dnsprov.net"))], Some("com"), 2000),
            obs("example.com", RrType::TXT, vec![txt(&["v=spf1 -all"])], None, 2000),
            obs("a.b.example.com", RrType::CNAME, vec![Rdata::name(&n("www.example.com"))], None, 5000),
            obs("examples.com", RrType::A, vec![ip("192.0.2.1")], None, 4000),
            obs("www.example.org", RrType::A, vec![ip("198.51.100.7")], None, 4000),
            obs("edge.example.net", RrType::A, vec![ip("0.0.0.0")], None, 100),
            obs("top.example.net", RrType::A, vec![ip("255.255.255.255")], None, 100),
            obs("v6low.example.net", RrType::AAAA, vec![ip("::")], None, 100),
            obs("v6high.example.net", RrType::AAAA, vec![ip("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")], None, 100),
            obs("mail.example.com", RrType::RRSIG, vec![Rdata::Wire(vec![0, 1, 8, 2])], None, 100),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Checks

/// Counts, first/last seen, zone-file times, TTL ranges and active days merge within a batch
/// and across batches, in the RRset view and the rdata view alike.
pub fn check_merge(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    let recs = rrsets(s, &q("WWW.example.com."));
    assert_eq!(names(&recs), ["www.example.com. A", "www.example.com. A", "www.example.com. AAAA"]);
    let single = find(&recs, "single A", |r| r.rdata.len() == 1 && r.rrtype == RrType::A);
    assert_eq!(single.agg.count, 2);
    assert_eq!(single.agg.seen, Some((1000, 3000)));
    assert_eq!(single.agg.zone, None);
    assert_eq!(single.agg.ttl, Some((300, 300)));
    assert_eq!(single.agg.days.runs(), [(0, 0)]);
    assert_eq!(single.bailiwick, Some(n("example.com")));
    assert_eq!(single.negative, None);
    assert!(single.sensors.is_empty());
    let pair = find(&recs, "A pair", |r| r.rdata.len() == 2);
    assert_eq!(pair.agg.count, 1);
    assert_eq!(pair.rdata, [ip("192.0.2.1"), ip("192.0.2.2")]);
    // a second batch merges into the same records
    sample(s);
    let recs = rrsets(s, &q("www.example.com"));
    assert_eq!(recs.len(), 3);
    assert_eq!(find(&recs, "single A", |r| r.rdata.len() == 1 && r.rrtype == RrType::A).agg.count, 4);

    // TTL ranges, zone-file times and days, within one batch ...
    let day = |d: u64, secs: u64| d * DAY + secs;
    let m = |first: Timestamp, last: Timestamp, ttl: Option<u32>, count: u64, zone: bool| Observation {
        rrname: n("m.example"),
        rrtype: RrType::A,
        rdata: vec![ip("192.0.2.50")].into_iter().collect(),
        time_first: first,
        time_last: last,
        ttl,
        count,
        zone,
        ..Observation::default()
    };
    write(
        s,
        vec![
            m(day(100, 5), day(100, 5), Some(300), 1, false),
            m(day(103, 0), day(103, 0), Some(60), 1, false),
            m(day(101, 86399), day(101, 86399), Some(3600), 1, false),
            m(day(90, 0), day(95, 0), Some(120), 7, true),
        ],
    );
    let want = Aggregate {
        count: 10,
        seen: Some((day(100, 5), day(103, 0))),
        zone: Some((day(90, 0), day(95, 0))),
        ttl: Some((60, 3600)),
        days: DayHistory::from_runs([(90, 90), (95, 95), (100, 101), (103, 103)]),
        sensors: SensorSet::default(),
    };
    let got = rrsets(s, &q("m.example"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].agg, want);
    // ... and across batches (a feed's range marks its first and last day only; no TTL keeps the range)
    write(s, vec![m(day(102, 0), day(102, 0), Some(30), 4, false), m(day(50, 0), day(52, 7), None, 3, false)]);
    let want = Aggregate {
        count: 17,
        seen: Some((day(50, 0), day(103, 0))),
        zone: Some((day(90, 0), day(95, 0))),
        ttl: Some((30, 3600)),
        days: DayHistory::from_runs([(50, 50), (52, 52), (90, 90), (95, 95), (100, 103)]),
        sensors: SensorSet::default(),
    };
    let got = rrsets(s, &q("m.example"));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].agg, want);
    assert_eq!(got[0].bailiwick, None);
    // the rdata view of an address only this RRset holds carries the same aggregate
    let r = rdatas(s, ip_target("192.0.2.50"), TypeFilter::All, TimeFence::default());
    assert_eq!(names(&r), ["m.example. A"]);
    assert_eq!(r[0].agg, want);
    assert_eq!(r[0].rdata, [ip("192.0.2.50")]);
    assert_eq!(r[0].bailiwick, None);
}

/// Left-hand (`*.zone`, root `*.`) and right-hand (`prefix.*`) wildcards.
pub fn check_wildcards(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    let below = rrsets(s, &q("*.example.com"));
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
    let mut starting = names(&rrsets(s, &q("www.example.*")));
    starting.sort();
    assert_eq!(starting, ["www.example.com. A", "www.example.com. A", "www.example.com. AAAA", "www.example.org. A"]);
    // the zone itself is not "below" itself, and siblings sharing a string prefix are not either
    assert!(names(&below).iter().all(|s| !s.starts_with("example.com") && !s.starts_with("examples")));
    assert_eq!(rrsets(s, &q("*.")).len(), 15);
    assert_eq!(rrsets(s, &q("*")).len(), 15);
    assert_eq!(rrsets(s, &q("*.com")).len(), 10);
    assert_eq!(rrsets(s, &q("*.net")).len(), 4);
    // a right-hand wildcard needs at least one more label, and matches whole labels only
    assert_eq!(
        names(&rrsets(s, &q("example.*"))),
        ["example.com. NS", "example.com. MX", "example.com. MX", "example.com. TXT"]
    );
    assert_eq!(names(&rrsets(s, &q("a.b.example.*"))), ["a.b.example.com. CNAME"]);
    assert!(rrsets(s, &q("a.b.example.com.*")).is_empty());
    assert!(rrsets(s, &q("ww.*")).is_empty());
    assert!(rrsets(s, &q("nothing.example.com")).is_empty());
    assert!(rrsets(s, &q("*.nothing.example.com")).is_empty());
    assert!(rrsets(s, &q("*.www.example.com")).is_empty());
}

/// Single types, `ANY` (no DNSSEC), `ANY-DNSSEC`, and bailiwick filters.
pub fn check_type_and_bailiwick_filters(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    let mut query = q("example.com");
    query.types = TypeFilter::Only(RrType::MX);
    assert_eq!(rrsets(s, &query).len(), 2);
    query.bailiwick = Some(n("com"));
    assert_eq!(rrsets(s, &query).len(), 2);
    query.bailiwick = Some(n("example.com"));
    assert_eq!(rrsets(s, &query).len(), 0);
    let mut any = q("*.example.com");
    any.types = TypeFilter::Any;
    assert!(names(&rrsets(s, &any)).iter().all(|s| !s.contains("RRSIG")));
    assert_eq!(rrsets(s, &any).len(), 4);
    any.types = TypeFilter::AnyDnssec;
    assert_eq!(names(&rrsets(s, &any)), ["mail.example.com. RRSIG"]);
    let mut bw = q("example.com");
    bw.types = TypeFilter::Any;
    bw.bailiwick = Some(n("com"));
    assert_eq!(names(&rrsets(s, &bw)), ["example.com. NS", "example.com. MX", "example.com. MX"]);
    // bailiwick filters on wildcards; records without a bailiwick never match one
    let mut wild = q("*.example.com");
    wild.bailiwick = Some(n("example.com"));
    assert_eq!(names(&rrsets(s, &wild)), ["www.example.com. A", "www.example.com. A", "www.example.com. AAAA"]);
    wild.types = TypeFilter::Only(RrType::AAAA);
    assert_eq!(names(&rrsets(s, &wild)), ["www.example.com. AAAA"]);
    let mut start = q("www.example.*");
    start.bailiwick = Some(n("example.com"));
    start.types = TypeFilter::Only(RrType::A);
    assert_eq!(rrsets(s, &start).len(), 2);
    let mut none = q("www.example.org");
    none.bailiwick = Some(n("example.org"));
    assert!(rrsets(s, &none).is_empty());
    let mut other = q("*.");
    other.types = TypeFilter::Only(RrType::TXT);
    assert_eq!(names(&rrsets(s, &other)), ["example.com. TXT"]);
    other.types = TypeFilter::Only(RrType::SRV);
    assert!(rrsets(s, &other).is_empty());
}

/// Address lookups: single addresses, CIDR prefixes, ranges, the edges of both families.
pub fn check_ip_lookups(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    let lookup = |spec: &str| rdatas(s, ip_target(spec), TypeFilter::Any, TimeFence::default());
    let one = lookup("192.0.2.1");
    assert_eq!(names(&one), ["www.example.com. A", "examples.com. A"]);
    // the A record was seen alone twice and in a pair once: per-rdata count is 3
    assert_eq!(find(&one, "www", |r| r.rrname == n("www.example.com")).agg.count, 3);
    assert!(one.iter().all(|r| r.bailiwick.is_none()));
    assert!(one.iter().all(|r| r.rdata == [ip("192.0.2.1")]));
    assert_eq!(lookup("192.0.2.0/24").len(), 3);
    assert_eq!(lookup("192.0.2.0,31").len(), 2);
    assert_eq!(lookup("192.0.2.2-192.0.2.255").len(), 1);
    assert_eq!(lookup("192.0.2.3/32").len(), 0);
    assert_eq!(names(&lookup("0.0.0.0")), ["edge.example.net. A"]);
    assert_eq!(names(&lookup("255.255.255.255/32")), ["top.example.net. A"]);
    assert_eq!(lookup("0.0.0.0/0").len(), 6);
    assert_eq!(lookup("128.0.0.0/1").len(), 5);
    assert_eq!(lookup("0.0.0.0/1").len(), 1);
    assert_eq!(names(&lookup("::")), ["v6low.example.net. AAAA"]);
    assert_eq!(names(&lookup("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")), ["v6high.example.net. AAAA"]);
    assert_eq!(lookup("::/0").len(), 3);
    assert_eq!(lookup("2001:db8::/32").len(), 1);
    assert_eq!(lookup("2001:db8::2-2001:db8::ff").len(), 0);
    assert_eq!(lookup("2001:db8::1-2001:db8::ff").len(), 1);
    // IPv4 and IPv6 never mix
    assert!(lookup("0.0.0.0/0").iter().all(|r| r.rrtype == RrType::A));
    assert!(lookup("::/0").iter().all(|r| r.rrtype == RrType::AAAA));
    // results come in address order
    let all = lookup("0.0.0.0/0");
    let addrs: Vec<Vec<u8>> = all.iter().map(|r| r.rdata[0].bytes().to_vec()).collect();
    let mut sorted = addrs.clone();
    sorted.sort();
    assert_eq!(addrs, sorted);
}

/// Inverse lookups by the name rdata points to (exact, `*.zone`, `prefix.*`) and by raw rdata.
pub fn check_rdata_name_and_raw_lookups(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    let f = TimeFence::default();
    let by_name = |spec: &str, t| rdatas(s, name_target(spec), t, f);
    let mail = by_name("mail.example.com", TypeFilter::Any);
    assert_eq!(mail.len(), 2);
    assert_eq!(mail[0].rdata_strings().len(), 1);
    assert_eq!(
        mail.iter().map(|r| r.rdata[0].clone()).collect::<Vec<_>>(),
        [mx(10, "mail.example.com"), mx(20, "mail.example.com")]
    );
    assert_eq!(by_name("mail.example.com", TypeFilter::Only(RrType::NS)).len(), 0);
    assert_eq!(names(&by_name("ns1.dnsprov.net", TypeFilter::Only(RrType::NS))), ["example.com. NS"]);
    assert_eq!(
        names(&by_name("*.example.com", TypeFilter::Any)),
        ["example.com. MX", "example.com. MX", "a.b.example.com. CNAME"]
    );
    assert_eq!(names(&by_name("ns1.dnsprov.*", TypeFilter::Any)), ["example.com. NS"]);
    assert_eq!(by_name("ns1.*", TypeFilter::Any).len(), 1);
    assert!(by_name("*.dnsprov.com", TypeFilter::Any).is_empty());
    let raw = |b: Vec<u8>, t| rdatas(s, RdataTarget::Raw(b), t, f);
    assert_eq!(names(&raw(vec![192, 0, 2, 2], TypeFilter::Any)), ["www.example.com. A"]);
    assert_eq!(names(&raw(vec![192, 0, 2, 1], TypeFilter::Any)), ["www.example.com. A", "examples.com. A"]);
    assert_eq!(names(&raw(n("www.example.com").as_wire().to_vec(), TypeFilter::Any)), ["a.b.example.com. CNAME"]);
    let mut mxw = vec![0, 20];
    mxw.extend_from_slice(n("mail.example.com").as_wire());
    assert_eq!(raw(mxw.clone(), TypeFilter::Any).len(), 1);
    assert_eq!(raw(mxw.clone(), TypeFilter::Only(RrType::MX)).len(), 1);
    assert_eq!(raw(mxw, TypeFilter::Only(RrType::NS)).len(), 0);
    assert_eq!(names(&raw(txt(&["v=spf1 -all"]).bytes().to_vec(), TypeFilter::Any)), ["example.com. TXT"]);
    assert!(raw(vec![0, 1, 8, 2], TypeFilter::Any).is_empty());
    assert_eq!(names(&raw(vec![0, 1, 8, 2], TypeFilter::AnyDnssec)), ["mail.example.com. RRSIG"]);
    assert!(raw(vec![9, 9, 9], TypeFilter::All).is_empty());
}

/// Time fences: each bound alone (inclusive), strict (`first_after` + `last_before`: entirely
/// within) and loose (`last_after` + `first_before`: overlapping), zone-file times used only
/// when a record has no sensor times, and fences on rdata records after bailiwicks are folded.
pub fn check_time_fences(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    let mut query = q("*.example.net");
    assert_eq!(rrsets(s, &query).len(), 4);
    query.fence.last_after = Some(101);
    assert_eq!(rrsets(s, &query).len(), 0);
    query.fence.last_after = Some(100);
    assert_eq!(rrsets(s, &query).len(), 4);
    let www = |fence: TimeFence| rrsets(s, &RrsetQuery { fence, ..q("www.example.com") }).len();
    // www.example.com: A (1000..3000), A pair (2000), AAAA (2000)
    assert_eq!(www(TimeFence { first_before: Some(2000), ..TimeFence::default() }), 3);
    assert_eq!(www(TimeFence { first_before: Some(1999), ..TimeFence::default() }), 1);
    assert_eq!(www(TimeFence { first_after: Some(1500), ..TimeFence::default() }), 2);
    assert_eq!(www(TimeFence { last_before: Some(2999), ..TimeFence::default() }), 2);
    assert_eq!(www(TimeFence { last_after: Some(3000), ..TimeFence::default() }), 1);
    let strict = |a, b| TimeFence { first_after: Some(a), last_before: Some(b), ..TimeFence::default() };
    let loose = |a, b| TimeFence { last_after: Some(a), first_before: Some(b), ..TimeFence::default() };
    assert_eq!(www(strict(1000, 3000)), 3);
    assert_eq!(www(strict(1001, 3000)), 2);
    assert_eq!(www(strict(1500, 2500)), 2);
    assert_eq!(www(strict(2001, 5000)), 0);
    assert_eq!(www(loose(2500, 2600)), 1);
    assert_eq!(www(loose(3000, 3000)), 1);
    assert_eq!(www(loose(3001, 9000)), 0);
    assert_eq!(www(loose(0, 1000)), 1);
    assert_eq!(www(loose(0, 999)), 0);
    assert_eq!(www(loose(1500, 2500)), 3);
    // fences apply to rdata records after bailiwicks are folded
    let r = rdatas(
        s,
        ip_target("192.0.2.1"),
        TypeFilter::Any,
        TimeFence { last_after: Some(3000), ..TimeFence::default() },
    );
    assert_eq!(names(&r), ["www.example.com. A", "examples.com. A"]);
    let r = rdatas(s, ip_target("192.0.2.0/24"), TypeFilter::Any, strict(1000, 3000));
    assert_eq!(names(&r), ["www.example.com. A", "www.example.com. A"]);
    let r = rdatas(s, name_target("*.example.com"), TypeFilter::Any, loose(2400, 2600));
    assert_eq!(names(&r), ["example.com. MX"]);
    // zone-file times count only for records without sensor times
    let zone_obs = |name: &str, first, last| Observation {
        rrname: n(name),
        rrtype: RrType::A,
        rdata: vec![ip("203.0.113.9")].into_iter().collect(),
        time_first: first,
        time_last: last,
        zone: true,
        ..Observation::default()
    };
    write(
        s,
        vec![
            zone_obs("zoned.example", 5000, 6000),
            zone_obs("mixed.example", 5000, 6000),
            obs("mixed.example", RrType::A, vec![ip("203.0.113.9")], None, 100),
        ],
    );
    let fenced = |fence: TimeFence| names(&rrsets(s, &RrsetQuery { fence, ..q("*.example") }));
    assert_eq!(fenced(TimeFence { last_after: Some(5500), ..TimeFence::default() }), ["zoned.example. A"]);
    assert_eq!(fenced(TimeFence { last_before: Some(100), ..TimeFence::default() }), ["mixed.example. A"]);
    assert_eq!(fenced(strict(5000, 6000)), ["zoned.example. A"]);
    assert!(fenced(TimeFence { first_before: Some(4999), last_after: Some(101), ..TimeFence::default() }).is_empty());
    assert_eq!(fenced(TimeFence::default()).len(), 2);
    let r = rdatas(s, ip_target("203.0.113.9"), TypeFilter::All, loose(5500, 5500));
    assert_eq!(names(&r), ["zoned.example. A"]);
}

/// The rdata view folds the entries of one rdata item that differ only in bailiwick into one
/// record (addresses, rdata names and raw rdata alike).
pub fn check_bailiwicks_fold_in_rdata_view(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    let mut list = Vec::new();
    for (bw, t) in [(Some("example"), 10), (Some("x.example"), 20), (None, 30)] {
        list.push(obs("x.example", RrType::A, vec![ip("203.0.113.5")], bw, t));
        list.push(obs("x.example", RrType::NS, vec![Rdata::name(&n("ns.x.example"))], bw, t));
        list.push(obs("x.example", RrType::TXT, vec![txt(&["folded"])], bw, t));
    }
    write(s, list);
    assert_eq!(rrsets(s, &q("x.example")).len(), 9);
    let mut with_bw = q("x.example");
    with_bw.bailiwick = Some(n("x.example"));
    assert_eq!(names(&rrsets(s, &with_bw)), ["x.example. A", "x.example. NS", "x.example. TXT"]);
    let open = TimeFence::default();
    for target in
        [ip_target("203.0.113.5"), name_target("ns.x.example"), RdataTarget::Raw(txt(&["folded"]).bytes().to_vec())]
    {
        let r = rdatas(s, target.clone(), TypeFilter::Any, open);
        assert_eq!(r.len(), 1, "{target:?}");
        assert_eq!(r[0].agg.count, 3, "{target:?}");
        assert_eq!(r[0].agg.seen, Some((10, 30)), "{target:?}");
        assert_eq!(r[0].bailiwick, None, "{target:?}");
        // a fence applies to the folded record, not to its parts
        let fenced = TimeFence { first_before: Some(10), last_after: Some(30), ..TimeFence::default() };
        assert_eq!(rdatas(s, target.clone(), TypeFilter::Any, fenced).len(), 1, "{target:?}");
        let fenced = TimeFence { first_after: Some(20), ..TimeFence::default() };
        assert!(rdatas(s, target.clone(), TypeFilter::Any, fenced).is_empty(), "{target:?}");
    }
    let all = rdatas(s, RdataTarget::Any, TypeFilter::All, open);
    assert_eq!(names(&all), ["x.example. A", "x.example. NS", "x.example. TXT"]);
}

/// A visitor that returns `ControlFlow::Break` is never called again, for every lookup kind,
/// and the records it saw are the first ones of the full result.
pub fn check_early_stop(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    let open = TimeFence::default();
    let rrset_queries = [q("*."), q("*.example.com"), q("www.example.*"), q("www.example.com"), q("example.*")];
    for query in &rrset_queries {
        let full = rrsets(s, query);
        assert!(full.len() >= 2, "{query:?} should find several records");
        for k in 1..=full.len() {
            let mut seen = Vec::new();
            let stats = s
                .lookup_rrset(query, &mut |r| {
                    seen.push(r);
                    if seen.len() == k {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap_or_else(|e| panic!("conformance: {query:?} failed: {e}"));
            assert_eq!(seen, full[..k], "{query:?} stopped after {k}");
            assert_eq!(stats.returned, k as u64, "{query:?} stopped after {k}");
        }
    }
    let rdata_queries = [
        ip_target("0.0.0.0/0"),
        ip_target("::/0"),
        ip_target("192.0.2.1"),
        name_target("*.example.com"),
        name_target("mail.example.com"),
        name_target("mail.example.*"),
        name_target("*."),
        RdataTarget::Raw(vec![192, 0, 2, 1]),
        RdataTarget::Any,
    ];
    for target in rdata_queries {
        let query = RdataQuery { target, types: TypeFilter::All, fence: open };
        let full = rdata_lookup(s, &query);
        assert!(full.len() >= 2, "{query:?} should find several records");
        for k in 1..=full.len() {
            let mut seen = Vec::new();
            let stats = s
                .lookup_rdata(&query, &mut |r| {
                    seen.push(r);
                    if seen.len() == k {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .unwrap_or_else(|e| panic!("conformance: {query:?} failed: {e}"));
            assert_eq!(seen, full[..k], "{query:?} stopped after {k}");
            assert_eq!(stats.returned, k as u64, "{query:?} stopped after {k}");
        }
    }
}

/// Sensor names: kept per record and per rdata item (the union over bailiwicks), extended by
/// later batches whatever order those name their sensors in, and listed in the store stats.
pub fn check_sensors(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    let seen_by = |name: &str, bw: Option<&str>, sensor: Option<&str>, time| {
        let mut o = obs(name, RrType::A, vec![ip("192.0.2.9")], bw, time);
        o.sensor = sensor.map(str::to_string);
        o
    };
    write(
        s,
        vec![seen_by("s.example", None, Some("sensor-fra"), 50), seen_by("s.example", None, Some("sensor-nyc"), 51)],
    );
    let recs = rrsets(s, &q("s.example"));
    assert_eq!(recs.len(), 1);
    assert_eq!(sorted_sensors(&recs[0]), ["sensor-fra", "sensor-nyc"]);
    assert_eq!(recs[0].agg.count, 2);
    // a later batch names its sensors in another order, and a new one
    write(
        s,
        vec![
            seen_by("t.example", Some("example"), Some("sensor-nyc"), 60),
            seen_by("t.example", None, Some("sensor-ams"), 61),
            seen_by("s.example", None, Some("sensor-nyc"), 60),
            seen_by("u.example", None, None, 62),
            seen_by("t.example", Some("example"), Some("sensor-fra"), 63),
        ],
    );
    let recs = rrsets(s, &q("s.example"));
    assert_eq!(sorted_sensors(&recs[0]), ["sensor-fra", "sensor-nyc"]);
    assert_eq!(recs[0].agg.count, 3);
    assert_eq!(recs[0].agg.sensors.ids().len(), 2);
    let t = rrsets(s, &q("t.example"));
    assert_eq!(names(&t), ["t.example. A", "t.example. A"]);
    let t_none = find(&t, "t.example without bailiwick", |r| r.bailiwick.is_none());
    assert_eq!(sorted_sensors(t_none), ["sensor-ams"]);
    let t_bw = find(&t, "t.example in example", |r| r.bailiwick.is_some());
    assert_eq!(sorted_sensors(t_bw), ["sensor-fra", "sensor-nyc"]);
    assert!(rrsets(s, &q("u.example"))[0].sensors.is_empty());
    // the rdata view unites the sensors of every bailiwick
    let r = rdatas(s, ip_target("192.0.2.9"), TypeFilter::All, TimeFence::default());
    assert_eq!(names(&r), ["s.example. A", "t.example. A", "u.example. A"]);
    assert_eq!(sorted_sensors(&r[0]), ["sensor-fra", "sensor-nyc"]);
    assert_eq!(sorted_sensors(&r[1]), ["sensor-ams", "sensor-fra", "sensor-nyc"]);
    assert_eq!(r[1].agg.count, 3);
    assert!(r[2].sensors.is_empty());
    for rec in r.iter().chain(&t) {
        assert_eq!(rec.sensors.len(), rec.agg.sensors.ids().len(), "sensor names and ids of {rec:?}");
    }
    let stats = s.stats().unwrap_or_else(|e| panic!("conformance: stats failed: {e}"));
    let mut known = stats.sensors.clone();
    known.sort();
    assert_eq!(known, ["sensor-ams", "sensor-fra", "sensor-nyc"]);
}

/// Import checkpoints written with a batch read back with [`Store::checkpoint`]: absent until
/// written, overwritten by later batches, several per batch, batches of checkpoints alone, and
/// sources whose names prefix each other kept apart.
pub fn check_checkpoints(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    let get = |source: &str| {
        s.checkpoint(source).unwrap_or_else(|e| panic!("conformance: reading checkpoint {source:?} failed: {e}"))
    };
    assert_eq!(get("file:abc"), None);
    let mut b = Batch::new();
    b.add(&mut obs("c.example", RrType::A, vec![ip("192.0.2.10")], None, 70));
    b.set_checkpoint("file:abc", b"42".to_vec());
    write_batch(s, &b);
    assert_eq!(get("file:abc"), Some(b"42".to_vec()));
    assert_eq!(get("file:ab"), None);
    assert_eq!(get("file:abcd"), None);
    assert_eq!(get("file:zzz"), None);
    assert_eq!(rrsets(s, &q("c.example")).len(), 1);
    // two checkpoints (binary progress too) in a batch without records
    let mut b = Batch::new();
    b.set_checkpoint("file:abc", b"43".to_vec());
    b.set_checkpoint("file:ab", vec![0, 255, 1, b'/', 0]);
    write_batch(s, &b);
    assert_eq!(get("file:abc"), Some(b"43".to_vec()));
    assert_eq!(get("file:ab"), Some(vec![0, 255, 1, b'/', 0]));
    // a later batch overwrites; a checkpoint set twice in one batch keeps the last value
    let mut b = Batch::new();
    b.add(&mut obs("c.example", RrType::A, vec![ip("192.0.2.10")], None, 80));
    b.set_checkpoint("stream:dnstap/unbound-1", b"1".to_vec());
    b.set_checkpoint("file:abc", b"44".to_vec());
    b.set_checkpoint("stream:dnstap/unbound-1", b"2".to_vec());
    write_batch(s, &b);
    assert_eq!(get("file:abc"), Some(b"44".to_vec()));
    assert_eq!(get("file:ab"), Some(vec![0, 255, 1, b'/', 0]));
    assert_eq!(get("stream:dnstap/unbound-1"), Some(b"2".to_vec()));
    assert_eq!(get("stream:dnstap/unbound"), None);
    assert_eq!(rrsets(s, &q("c.example"))[0].agg.count, 2);
    // checkpoints are not records
    assert_eq!(rrsets(s, &q("*.")).len(), 1);
    assert_eq!(rdatas(s, RdataTarget::Any, TypeFilter::All, TimeFence::default()).len(), 1);
}

/// Negative answers (NXDOMAIN/NODATA) are kept apart: excluded by default, included or alone
/// on request, with no rdata and no inverse-index entries.
pub fn check_negative_answers(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    let mut b = Batch::new();
    b.add(&mut obs("www.example.com", RrType::A, vec![ip("192.0.2.1")], Some("example.com"), 100));
    for t in [100, 200] {
        let mut nx = obs("gone.example.com", RrType::A, vec![], Some("example.com"), t);
        nx.negative = Some(Negative::NxDomain);
        b.add(&mut nx);
    }
    let mut nodata = obs("www.example.com", RrType::AAAA, vec![], Some("example.com"), 150);
    nodata.negative = Some(Negative::NoData);
    b.add(&mut nodata);
    write_batch(s, &b);

    let with = |negative: NegativeFilter, base: RrsetQuery| rrsets(s, &RrsetQuery { negative, ..base });
    // DNSDB-style lookups never see them
    assert_eq!(names(&rrsets(s, &q("*.example.com"))), ["www.example.com. A"]);
    assert!(rrsets(s, &q("gone.example.com")).is_empty());
    let only = with(NegativeFilter::Only, q("*.example.com"));
    assert_eq!(names(&only), ["gone.example.com. A", "www.example.com. AAAA"]);
    assert_eq!(only[0].negative, Some(Negative::NxDomain));
    assert_eq!(only[0].agg.count, 2);
    assert_eq!(only[0].agg.seen, Some((100, 200)));
    assert!(only[0].rdata.is_empty());
    assert_eq!(only[0].bailiwick, Some(n("example.com")));
    assert_eq!(only[1].negative, Some(Negative::NoData));
    assert!(only[1].rdata.is_empty());
    assert_eq!(with(NegativeFilter::Include, q("*.example.com")).len(), 3);
    assert_eq!(
        names(&with(NegativeFilter::Include, q("www.example.com"))),
        ["www.example.com. A", "www.example.com. AAAA"]
    );
    assert_eq!(names(&with(NegativeFilter::Only, q("www.example.*"))), ["www.example.com. AAAA"]);
    assert_eq!(names(&with(NegativeFilter::Only, q("gone.example.com"))), ["gone.example.com. A"]);
    // with type, bailiwick and fence filters
    let mut typed = q("*.example.com");
    typed.types = TypeFilter::Only(RrType::A);
    assert_eq!(names(&with(NegativeFilter::Include, typed.clone())), ["gone.example.com. A", "www.example.com. A"]);
    typed.bailiwick = Some(n("example.com"));
    assert_eq!(names(&with(NegativeFilter::Only, typed.clone())), ["gone.example.com. A"]);
    typed.bailiwick = Some(n("com"));
    assert!(with(NegativeFilter::Include, typed).is_empty());
    let mut fenced = q("*.example.com");
    fenced.fence = TimeFence { first_after: Some(101), ..TimeFence::default() };
    assert_eq!(names(&with(NegativeFilter::Include, fenced)), ["www.example.com. AAAA"]);
    // no inverse-index entries: an rdata lookup of anything finds only the positive record
    let all = rdatas(s, RdataTarget::Any, TypeFilter::All, TimeFence::default());
    assert_eq!(names(&all), ["www.example.com. A"]);
    assert_eq!(rdatas(s, ip_target("::/0"), TypeFilter::All, TimeFence::default()).len(), 0);
}

/// `RdataTarget::Any` visits every rdata record: addresses, rdata names, then raw rdata.
pub fn check_any_rdata(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    sample(s);
    write(s, vec![obs("lossy.example", RrType::HINFO, vec![Rdata::Text("odd text".into())], None, 9)]);
    let all = rdatas(s, RdataTarget::Any, TypeFilter::All, TimeFence::default());
    // 6 A + 3 AAAA + 2 MX + NS + CNAME (names) + TXT + RRSIG + HINFO text (raw)
    assert_eq!(all.len(), 16, "{:?}", names(&all));
    assert!(all.iter().all(|r| r.rdata.len() == 1 && r.bailiwick.is_none()));
    let kinds: Vec<RrType> = all.iter().map(|r| r.rrtype).collect();
    let first_name = kinds.iter().position(|t| !matches!(*t, RrType::A | RrType::AAAA));
    assert_eq!(first_name, Some(9), "addresses come first: {:?}", names(&all));
    let dnssec = rdatas(s, RdataTarget::Any, TypeFilter::AnyDnssec, TimeFence::default());
    assert_eq!(names(&dnssec), ["mail.example.com. RRSIG"]);
    let a = rdatas(s, RdataTarget::Any, TypeFilter::Only(RrType::A), TimeFence::default());
    assert_eq!(a.len(), 6);
    assert_eq!(rdatas(s, RdataTarget::Any, TypeFilter::Any, TimeFence::default()).len(), 15);
    let hinfo = rdatas(s, RdataTarget::Any, TypeFilter::Only(RrType::HINFO), TimeFence::default());
    assert_eq!(hinfo.len(), 1);
    assert_eq!(hinfo[0].rdata, [Rdata::Text("odd text".into())]);
    let fenced = TimeFence { last_after: Some(4000), ..TimeFence::default() };
    assert_eq!(
        names(&rdatas(s, RdataTarget::Any, TypeFilter::All, fenced)),
        ["examples.com. A", "www.example.org. A", "a.b.example.com. CNAME"]
    );
}

/// Rdata text from lossy sources (an MX exchange without preference) is stored verbatim and
/// found by the name it holds.
pub fn check_text_rdata_indexed_by_name(new_store: &dyn Fn() -> Box<dyn Store>) {
    let store = new_store();
    let s = store.as_ref();
    write(
        s,
        vec![
            obs("lossy.example", RrType::MX, vec![Rdata::Text("mx.lossy.example.".into())], None, 9),
            obs("lossy.example", RrType::TXT, vec![Rdata::Text("mx.lossy.example.".into())], None, 9),
        ],
    );
    let r = rdatas(s, name_target("mx.lossy.example"), TypeFilter::Any, TimeFence::default());
    assert_eq!(names(&r), ["lossy.example. MX"]);
    assert_eq!(r[0].rdata[0], Rdata::Text("mx.lossy.example.".into()));
    assert_eq!(rdatas(s, name_target("*.lossy.example"), TypeFilter::Any, TimeFence::default()).len(), 1);
    assert_eq!(rdatas(s, name_target("mx.lossy.*"), TypeFilter::Any, TimeFence::default()).len(), 1);
    let rr = rrsets(s, &q("lossy.example"));
    assert_eq!(names(&rr), ["lossy.example. MX", "lossy.example. TXT"]);
    assert_eq!(rr[0].rdata, [Rdata::Text("mx.lossy.example.".into())]);
    let all = rdatas(s, RdataTarget::Any, TypeFilter::All, TimeFence::default());
    assert_eq!(names(&all), ["lossy.example. MX", "lossy.example. TXT"]);
}

// ---------------------------------------------------------------------------------------------
// Differential check

/// A small xorshift64* generator: the same seed gives the same batches on every platform.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

/// Zones the generated names live under (one in upper case: names are folded).
const ZONES: &[&str] = &["example.com", "example.net", "example.co.uk", "Example.ORG"];
/// Labels put in front of a zone: service labels, escapes, a literal `*`, upper case.
const LABELS: &[&str] = &[
    "www",
    "WWW",
    "mail",
    "ns1",
    "_dmarc",
    "_sip._tcp",
    "a\\000b",
    "dot\\.ted",
    "x-1",
    "deep.er",
    "*",
    "caf\\195\\169",
    "b",
];
/// Names rdata points to besides generated owners (`.` as in a null MX).
const TARGETS: &[&str] = &[
    "ns1.dnsprov.net",
    "NS2.dnsprov.net",
    "mail.example.com",
    "www.example.com",
    "mx.example.net",
    "alias.example.org",
    "_sip._tcp.example.co.uk",
    ".",
];
const IPV4: &[&str] = &[
    "192.0.2.0",
    "192.0.2.1",
    "192.0.2.2",
    "192.0.2.7",
    "192.0.2.255",
    "198.51.100.7",
    "198.51.100.8",
    "0.0.0.0",
    "255.255.255.255",
    "10.0.0.1",
    "127.255.255.255",
    "128.0.0.0",
];
const IPV6: &[&str] = &[
    "::",
    "::1",
    "2001:db8::1",
    "2001:db8::2",
    "2001:db8::ff",
    "2001:db8:1::1",
    "fe80::1",
    "::ffff:192.0.2.1",
    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
];
const TEXTS: &[&[&str]] =
    &[&["v=spf1 -all"], &["v=DMARC1; p=none"], &["hello world"], &[""], &["two", "strings"], &["\"quoted\""]];
const OPAQUE: &[&[u8]] = &[&[], &[0], &[1, 2, 3], &[192, 0, 2, 1], &[0xff; 16], b"abc"];
const SIGS: &[&[u8]] = &[&[0, 1, 8, 2], &[0, 28, 13, 3]];
const SENSORS: &[&str] = &["fra-1", "nyc-2", "sin-3", "ams-4", "lhr-5"];
const SOURCES: &[&str] = &["file:/var/log/dns.log", "file:/var/log/dns.log.1", "stream:dnstap/unbound"];
const TYPES: &[RrType] = &[
    RrType::A,
    RrType::A,
    RrType::A,
    RrType::AAAA,
    RrType::AAAA,
    RrType::CNAME,
    RrType::NS,
    RrType::MX,
    RrType::MX,
    RrType::TXT,
    RrType::PTR,
    RrType::SRV,
    UNKNOWN_TYPE,
    RrType::RRSIG,
];
/// 2020-01-01T00:00:00Z; generated times span three years from it.
const BASE: Timestamp = 1_577_836_800;
const SPAN_DAYS: usize = 3 * 365;

fn random_owner(rng: &mut Rng) -> (Name, Name) {
    let zone = n(rng.pick(ZONES));
    let mut s = String::new();
    for _ in 0..rng.below(4) {
        s.push_str(rng.pick(LABELS));
        s.push('.');
    }
    s.push_str(&zone.to_presentation());
    (n(&s), zone)
}

fn random_target(rng: &mut Rng) -> Name {
    if rng.chance(70) {
        n(rng.pick(TARGETS))
    } else {
        random_owner(rng).0
    }
}

fn random_time(rng: &mut Rng) -> Timestamp {
    BASE + rng.below(SPAN_DAYS) as u64 * DAY + rng.pick(&[0, 1, 43_200, 86_399])
}

fn random_rdata(rng: &mut Rng, t: RrType) -> Rdata {
    match t {
        RrType::A if rng.chance(5) => Rdata::Wire(vec![1, 2, 3]),
        RrType::A => ip(rng.pick(IPV4)),
        RrType::AAAA => ip(rng.pick(IPV6)),
        RrType::MX if rng.chance(15) => Rdata::Text(random_target(rng).to_presentation()),
        RrType::MX => {
            let pref = rng.pick(&[0u16, 10, 20]);
            let mut w = pref.to_be_bytes().to_vec();
            w.extend_from_slice(random_target(rng).as_wire());
            Rdata::Wire(w)
        }
        RrType::SRV => {
            let target = random_target(rng).to_presentation();
            srv(rng.below(3) as u16, rng.pick(&[0, 5]), rng.pick(&[443, 5060]), &target)
        }
        RrType::TXT => txt(rng.pick(TEXTS)),
        RrType::RRSIG => Rdata::Wire(rng.pick(SIGS).to_vec()),
        RrType::CNAME | RrType::NS | RrType::PTR => Rdata::name(&random_target(rng)),
        _ => Rdata::Wire(rng.pick(OPAQUE).to_vec()),
    }
}

fn random_observation(rng: &mut Rng) -> Observation {
    let (rrname, zone) = random_owner(rng);
    let rrtype = rng.pick(TYPES);
    let bailiwick = match rng.below(4) {
        0 => None,
        1 => Some(zone),
        2 => zone.parent(),
        _ => Some(rrname.clone()),
    };
    let negative = match rng.below(100) {
        0..=4 => Some(Negative::NxDomain),
        5..=7 => Some(Negative::NoData),
        _ => None,
    };
    let rdata = match negative {
        Some(_) => Vec::new(),
        None => {
            let items = if rng.chance(25) { 2 + rng.below(2) } else { 1 };
            (0..items).map(|_| random_rdata(rng, rrtype)).collect()
        }
    };
    let mut o = Observation {
        rrname,
        rrtype,
        rdata: rdata.into_iter().collect(),
        bailiwick,
        negative,
        ..Observation::default()
    };
    retime(rng, &mut o);
    o
}

/// New times, TTL, count and zone-file flag for an observation.
fn retime(rng: &mut Rng, o: &mut Observation) {
    o.time_first = random_time(rng);
    o.time_last = if rng.chance(20) { o.time_first + rng.below(40) as u64 * DAY + 7 } else { o.time_first };
    o.zone = rng.chance(10);
    o.ttl = if rng.chance(20) { None } else { Some(rng.pick(&[0, 30, 300, 3600, 86_400, 604_800])) };
    o.count = match rng.below(10) {
        0..=5 => 1,
        6..=8 => 2 + rng.below(49) as u64,
        _ => 1_000_000,
    };
}

/// One pseudo-random batch; `history` keeps earlier observations so batches repeat records.
fn random_batch(rng: &mut Rng, index: usize, history: &mut Vec<Observation>) -> Batch {
    let mut b = Batch::new();
    let records = if rng.chance(5) { 0 } else { 1 + rng.below(40) };
    for _ in 0..records {
        let mut o = if !history.is_empty() && rng.chance(30) {
            let mut o = history[rng.below(history.len())].clone();
            retime(rng, &mut o);
            o
        } else {
            let o = random_observation(rng);
            if history.len() < 256 {
                history.push(o.clone());
            } else {
                let i = rng.below(history.len());
                history[i] = o.clone();
            }
            o
        };
        let sensors = rng.below(4);
        if sensors == 0 {
            o.sensor = None;
            b.add(&mut o);
        }
        let mut used: Vec<&str> = Vec::new();
        for _ in 0..sensors {
            let sensor = rng.pick(SENSORS);
            if used.contains(&sensor) {
                continue;
            }
            used.push(sensor);
            let mut x = o.clone();
            x.sensor = Some(sensor.to_string());
            if rng.chance(50) {
                retime(rng, &mut x);
            }
            b.add(&mut x);
        }
    }
    if records == 0 || rng.chance(30) {
        b.set_checkpoint(rng.pick(SOURCES), format!("{index}:{records}").into_bytes());
    }
    b
}

/// A record as the differential check compares it: sensor names sorted, sensor ids dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Normal {
    rrname: Name,
    rrtype: RrType,
    bailiwick: Option<Name>,
    rdata: Vec<Rdata>,
    negative: Option<Negative>,
    agg: Aggregate,
    sensors: Vec<String>,
}

fn normal(r: Record) -> Normal {
    let mut sensors = r.sensors;
    sensors.sort();
    let mut agg = r.agg;
    agg.sensors = SensorSet::default();
    Normal {
        rrname: r.rrname,
        rrtype: r.rrtype,
        bailiwick: r.bailiwick,
        rdata: r.rdata,
        negative: r.negative,
        agg,
        sensors,
    }
}

/// What the batches written describe: RRset records by key, and the latest checkpoints.
#[derive(Default)]
struct Model {
    records: BTreeMap<Vec<u8>, (Aggregate, BTreeSet<String>)>,
    checkpoints: BTreeMap<String, Vec<u8>>,
}

impl Model {
    fn absorb(&mut self, b: &Batch) {
        for (key, agg) in b.records() {
            let entry = self.records.entry(key.to_vec()).or_default();
            let mut a = agg.clone();
            a.sensors = SensorSet::default();
            entry.0.merge(&a);
            for &id in agg.sensors.ids() {
                let name = b.sensor_names().get(id as usize);
                entry
                    .1
                    .insert(name.cloned().unwrap_or_else(|| panic!("conformance: batch sensor id {id} has no name")));
            }
        }
        for (source, progress) in b.checkpoints() {
            self.checkpoints.insert(source.clone(), progress.clone());
        }
    }

    /// Every RRset record, positive and negative, in store (key) order.
    fn rrsets(&self) -> Vec<Normal> {
        self.records
            .iter()
            .map(|(key, (agg, sensors))| {
                let k = RecordKey::decode(key).unwrap_or_else(|e| panic!("conformance: batch key {key:?}: {e}"));
                Normal {
                    rrname: k.rrname,
                    rrtype: k.rrtype,
                    bailiwick: k.bailiwick,
                    rdata: k.rdata,
                    negative: k.negative,
                    agg: agg.clone(),
                    sensors: sensors.iter().cloned().collect(),
                }
            })
            .collect()
    }
}

#[derive(Debug, Clone)]
enum Lookup {
    Rrset(RrsetQuery),
    Rdata(RdataQuery),
}

impl Lookup {
    fn run(&self, store: &dyn Store) -> Vec<Normal> {
        let recs = match self {
            Lookup::Rrset(q) => rrsets(store, q),
            Lookup::Rdata(q) => rdata_lookup(store, q),
        };
        recs.into_iter().map(normal).collect()
    }

    fn describe(&self) -> String {
        let fence = |f: &TimeFence| {
            let mut s = String::new();
            for (what, t) in [
                ("first_after", f.first_after),
                ("first_before", f.first_before),
                ("last_after", f.last_after),
                ("last_before", f.last_before),
            ] {
                if let Some(t) = t {
                    let _ = write!(s, " {what}={t}");
                }
            }
            s
        };
        match self {
            Lookup::Rrset(q) => {
                let bw = q.bailiwick.as_ref().map(|b| format!(" bailiwick={b}")).unwrap_or_default();
                format!("rrset {:?} types={:?}{bw}{} negative={:?}", q.name, q.types, fence(&q.fence), q.negative)
            }
            Lookup::Rdata(q) => format!("rdata {:?} types={:?}{}", q.target, q.types, fence(&q.fence)),
        }
    }
}

/// The fences the differential lookups use: open, each bound alone, strict and loose windows,
/// with bounds on the exact times the generator uses (fences are inclusive).
fn fences() -> Vec<TimeFence> {
    let t = |day: u64, secs: u64| BASE + day * DAY + secs;
    let none = TimeFence::default();
    vec![
        none,
        TimeFence { first_after: Some(t(365, 0)), last_before: Some(t(730, 0)), ..none },
        TimeFence { first_after: Some(t(100, 0)), last_before: Some(t(100, 86_399)), ..none },
        TimeFence { last_after: Some(t(365, 0)), first_before: Some(t(730, 0)), ..none },
        TimeFence { last_after: Some(t(500, 43_200)), first_before: Some(t(500, 43_200)), ..none },
        TimeFence { first_after: Some(t(900, 1)), ..none },
        TimeFence { first_before: Some(t(200, 0)), ..none },
        TimeFence { last_after: Some(t(1000, 86_399)), ..none },
        TimeFence { last_before: Some(t(300, 1)), ..none },
    ]
}

/// The fixed list of lookups the differential check runs.
fn lookups() -> Vec<Lookup> {
    let fences = fences();
    let open = TimeFence::default();
    let rrset = |name: NameMatch, types, bailiwick: Option<&str>, fence, negative| {
        Lookup::Rrset(RrsetQuery { name, types, bailiwick: bailiwick.map(n), fence, negative })
    };
    let rdata = |target: RdataTarget, types, fence| Lookup::Rdata(RdataQuery { target, types, fence });
    let mut out = Vec::new();

    // owner names: exact, left-hand and right-hand wildcards, with the default and ANY types
    let mut owners: Vec<NameMatch> = [
        "example.com",
        "example.net",
        "example.co.uk",
        "example.org",
        "www.example.com",
        "WWW.example.net",
        "_dmarc.example.com",
        "a\\000b.example.net",
        "_sip._tcp.example.co.uk",
        "mail.www.example.com",
        "nothing.example.com",
        "*.",
        "*.example.com",
        "*.example.net",
        "*.co.uk",
        "*.uk",
        "*.org",
        "*.www.example.com",
        "*._tcp.example.co.uk",
        "*.nothing.invalid",
        "www.*",
        "WWW.example.*",
        "mail.*",
        "_dmarc.*",
        "example.*",
        "a\\000b.*",
        "deep.er.*",
        "b.*",
        "caf\\195\\169.*",
    ]
    .iter()
    .map(|s| name_match(s))
    .collect();
    // literal `*` labels, which the wildcard syntax cannot name
    owners.push(NameMatch::Exact(n("*.example.org")));
    owners.push(NameMatch::Starting(n("*")));
    owners.push(NameMatch::Below(n("*.example.com")));
    for name in &owners {
        for types in [TypeFilter::All, TypeFilter::Any] {
            out.push(rrset(name.clone(), types, None, open, NegativeFilter::Exclude));
        }
    }
    // type filters
    let types = [
        TypeFilter::Only(RrType::A),
        TypeFilter::Only(RrType::AAAA),
        TypeFilter::Only(RrType::CNAME),
        TypeFilter::Only(RrType::NS),
        TypeFilter::Only(RrType::MX),
        TypeFilter::Only(RrType::TXT),
        TypeFilter::Only(RrType::PTR),
        TypeFilter::Only(RrType::SRV),
        TypeFilter::Only(UNKNOWN_TYPE),
        TypeFilter::Only(RrType::RRSIG),
        TypeFilter::Only(RrType::SOA),
        TypeFilter::AnyDnssec,
    ];
    for name in ["*.", "*.example.com", "www.*", "example.com", "www.example.com", "example.net"] {
        for t in types {
            out.push(rrset(name_match(name), t, None, open, NegativeFilter::Exclude));
        }
    }
    // bailiwicks, alone and with a type (the exact lookup's key prefix then includes both)
    let bailiwicks = [
        ("example.com", "com"),
        ("example.com", "example.com"),
        ("www.example.com", "example.com"),
        ("www.example.com", "www.example.com"),
        ("*.example.com", "example.com"),
        ("*.example.com", "com"),
        ("www.*", "example.net"),
        ("*.", "example.co.uk"),
        ("*.", "co.uk"),
        ("*.", "org"),
        ("example.org", "org"),
    ];
    for (name, bw) in bailiwicks {
        for t in [TypeFilter::All, TypeFilter::Any, TypeFilter::Only(RrType::A), TypeFilter::Only(RrType::NS)] {
            out.push(rrset(name_match(name), t, Some(bw), open, NegativeFilter::Exclude));
        }
    }
    // fences of each kind
    for name in ["*.", "*.example.com", "www.*", "www.example.com", "example.net", "*.example.org"] {
        for &fence in &fences[1..] {
            for t in [TypeFilter::All, TypeFilter::Only(RrType::A)] {
                out.push(rrset(name_match(name), t, None, fence, NegativeFilter::Exclude));
            }
        }
    }
    // negative answers
    for name in ["*.", "*.example.net", "www.*", "www.example.com", "example.com", "*.example.org", "example.*"] {
        for negative in [NegativeFilter::Exclude, NegativeFilter::Include, NegativeFilter::Only] {
            for t in [TypeFilter::All, TypeFilter::Only(RrType::A), TypeFilter::Only(RrType::AAAA)] {
                out.push(rrset(name_match(name), t, None, open, negative));
            }
            out.push(rrset(name_match(name), TypeFilter::All, Some("example.com"), open, negative));
            out.push(rrset(name_match(name), TypeFilter::All, None, fences[3], negative));
            out.push(rrset(name_match(name), TypeFilter::Any, None, fences[1], negative));
        }
    }

    // addresses: single, CIDR and ranges of both families, with fences
    let mut ips: Vec<String> = IPV4.iter().chain(IPV6).map(|s| s.to_string()).collect();
    ips.extend(
        [
            "192.0.2.0/24",
            "192.0.2.0/31",
            "192.0.2.0,25",
            "0.0.0.0/0",
            "128.0.0.0/1",
            "0.0.0.0/1",
            "255.255.255.255/32",
            "192.0.2.2-192.0.2.255",
            "10.0.0.0-10.255.255.255",
            "192.0.2.3/32",
            "::/0",
            "2001:db8::/32",
            "2001:db8::2-2001:db8::ff",
            "::ffff:0:0/96",
            "fe80::/10",
            "ffff::/16",
            "::/128",
        ]
        .map(str::to_string),
    );
    for spec in &ips {
        for fence in [open, fences[1], fences[3], fences[5]] {
            out.push(rdata(ip_target(spec), TypeFilter::All, fence));
        }
    }
    for (spec, t) in [
        ("0.0.0.0/0", TypeFilter::Only(RrType::A)),
        ("::/0", TypeFilter::Only(RrType::AAAA)),
        ("0.0.0.0/0", TypeFilter::Only(RrType::MX)),
        ("::/0", TypeFilter::Any),
        ("0.0.0.0/0", TypeFilter::AnyDnssec),
    ] {
        out.push(rdata(ip_target(spec), t, open));
    }

    // rdata names: exact, below, starting; type filters and fences
    let mut targets: Vec<String> = TARGETS.iter().map(|s| s.to_string()).collect();
    targets.extend(
        [
            "*.",
            "*.example.com",
            "*.dnsprov.net",
            "*.net",
            "*.co.uk",
            "*.example.org",
            "ns1.*",
            "mail.example.*",
            "www.*",
            "alias.*",
            "_sip.*",
            "nothing.*",
            "mail.www.example.com",
        ]
        .map(str::to_string),
    );
    let name_types = [
        TypeFilter::All,
        TypeFilter::Any,
        TypeFilter::Only(RrType::NS),
        TypeFilter::Only(RrType::MX),
        TypeFilter::Only(RrType::CNAME),
        TypeFilter::Only(RrType::SRV),
        TypeFilter::Only(RrType::PTR),
        TypeFilter::Only(RrType::A),
    ];
    for spec in &targets {
        for t in name_types {
            out.push(rdata(name_target(spec), t, open));
        }
        for fence in [fences[1], fences[3], fences[6]] {
            out.push(rdata(name_target(spec), TypeFilter::All, fence));
        }
    }

    // raw rdata
    let mut raws: Vec<Vec<u8>> = IPV4.iter().chain(IPV6).map(|s| ip(s).bytes().to_vec()).collect();
    raws.extend(OPAQUE.iter().map(|b| b.to_vec()));
    raws.extend(SIGS.iter().map(|b| b.to_vec()));
    raws.extend(TARGETS.iter().map(|t| n(t).as_wire().to_vec()));
    raws.extend(TEXTS.iter().map(|t| txt(t).bytes().to_vec()));
    for (pref, host) in [(10, "mail.example.com"), (20, "mx.example.net"), (0, "."), (0, "ns1.dnsprov.net")] {
        raws.push(mx(pref, host).bytes().to_vec());
    }
    raws.push(srv(0, 5, 443, "www.example.com").bytes().to_vec());
    raws.push(b"mx.example.net.".to_vec());
    let raw_types = [
        TypeFilter::All,
        TypeFilter::Any,
        TypeFilter::AnyDnssec,
        TypeFilter::Only(RrType::A),
        TypeFilter::Only(RrType::NS),
        TypeFilter::Only(RrType::MX),
        TypeFilter::Only(RrType::TXT),
        TypeFilter::Only(UNKNOWN_TYPE),
    ];
    for bytes in &raws {
        for t in raw_types {
            out.push(rdata(RdataTarget::Raw(bytes.clone()), t, open));
        }
        out.push(rdata(RdataTarget::Raw(bytes.clone()), TypeFilter::All, fences[3]));
    }

    // every rdata record
    let any_types = [
        TypeFilter::All,
        TypeFilter::Any,
        TypeFilter::AnyDnssec,
        TypeFilter::Only(RrType::A),
        TypeFilter::Only(RrType::AAAA),
        TypeFilter::Only(RrType::MX),
        TypeFilter::Only(RrType::TXT),
        TypeFilter::Only(RrType::NS),
        TypeFilter::Only(UNKNOWN_TYPE),
        TypeFilter::Only(RrType::RRSIG),
    ];
    for t in any_types {
        for &fence in &fences {
            out.push(rdata(RdataTarget::Any, t, fence));
        }
    }
    out
}

/// Panics, naming the lookup and the first differing record, unless `a` and `b` are equal.
fn assert_same(what: &str, left: &str, a: &[Normal], right: &str, b: &[Normal]) {
    if a == b {
        return;
    }
    let i = a.iter().zip(b).position(|(x, y)| x != y).unwrap_or(a.len().min(b.len()));
    let show = |v: &[Normal]| v.get(i).map(|r| format!("{r:?}")).unwrap_or_else(|| "(no record)".into());
    panic!(
        "conformance: {what} differs at record {i} ({left}: {} records, {right}: {} records)\n  {left}: {}\n  {right}: {}",
        a.len(),
        b.len(),
        show(a),
        show(b)
    );
}

/// Writes the same `batches` pseudo-random batches (from `seed`) to `a` and `b` — names of
/// varied depth under a few zones with escaped and upper-case labels, A/AAAA/CNAME/NS/MX/TXT/
/// PTR/SRV/RRSIG and an unknown type, multi-rdata RRsets, text rdata, bailiwicks or none,
/// zone-file observations, negative answers, 0–3 sensors, TTLs, times over three years,
/// counts above one, checkpoints — then checks that both hold exactly the RRsets the batches
/// describe and the checkpoints they set, and that a fixed list of lookups (exact names,
/// wildcards, types, bailiwicks, fences, negative answers, addresses, rdata names, raw rdata,
/// every rdata record) returns the same records in the same order from both. Panics with the
/// lookup and the first differing record otherwise. `a` and `b` must start empty.
pub fn differential(a: &dyn Store, b: &dyn Store, seed: u64, batches: usize) {
    let mut rng = Rng::new(seed);
    let mut model = Model::default();
    let mut history = Vec::new();
    for i in 0..batches {
        let batch = random_batch(&mut rng, i, &mut history);
        model.absorb(&batch);
        write_batch(a, &batch);
        write_batch(b, &batch);
    }

    // both stores hold exactly the RRsets (and checkpoints) the batches describe
    let want = model.rrsets();
    let all = Lookup::Rrset(RrsetQuery {
        name: NameMatch::Below(Name::root()),
        types: TypeFilter::All,
        bailiwick: None,
        fence: TimeFence::default(),
        negative: NegativeFilter::Include,
    });
    let what = format!("seed {seed}: {}", all.describe());
    assert_same(&what, "batches", &want, "store a", &all.run(a));
    assert_same(&what, "batches", &want, "store b", &all.run(b));
    let mut sources: Vec<&str> = model.checkpoints.keys().map(String::as_str).collect();
    sources.extend(SOURCES);
    sources.push("file:/var/log/dns");
    for source in sources {
        let read = |s: &dyn Store, name: &str| {
            s.checkpoint(source)
                .unwrap_or_else(|e| panic!("conformance: store {name}: reading checkpoint {source:?} failed: {e}"))
        };
        let expected = model.checkpoints.get(source).cloned();
        assert_eq!(read(a, "a"), expected, "seed {seed}: checkpoint {source:?} in store a");
        assert_eq!(read(b, "b"), expected, "seed {seed}: checkpoint {source:?} in store b");
    }
    let sensors = |s: &dyn Store| {
        let mut v = s.stats().unwrap_or_else(|e| panic!("conformance: stats failed: {e}")).sensors;
        v.sort();
        v
    };
    assert_eq!(sensors(a), sensors(b), "seed {seed}: sensors known to the stores");

    for lookup in lookups() {
        let (ra, rb) = (lookup.run(a), lookup.run(b));
        assert_same(&format!("seed {seed}: {}", lookup.describe()), "store a", &ra, "store b", &rb);
    }
}
