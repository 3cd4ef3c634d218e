//! Federated lookups in both modes against a real local store (RocksDB) and loopback DNSDB
//! upstreams: a fast one, a slow one that holds its answer until the test has received the
//! local records (or 20 s pass), and a broken one. Checked by the order things happen in, not
//! by wall-clock thresholds: in streaming mode the local records reach the caller while the
//! slow upstream is still holding its answer; every key's last line carries the merged values
//! (min first, max last, summed count, all sources), equal to what merged mode returns; the
//! broken upstream is reported and the rest still arrives. Also: one upstream agent reuses its
//! kept-alive connection across lookups (DNSDB answers read to their end).

mod common;

use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{reply, serve};
use dnsledger_federation::config::Secret;
use dnsledger_federation::federated::{self, Request, SourceStatus, Streamed};
use dnsledger_federation::{Kind, Upstream, UpstreamConfig, UpstreamQuery};
use dnsledger_model::{Name, Observation, Rdata, RrType};
use dnsledger_store::Store;

fn obs(ip: &str, first: u64, last: u64, count: u64) -> Observation {
    let mut o = Observation {
        rrname: Name::from_presentation("www.example.com").unwrap(),
        rrtype: RrType::A,
        bailiwick: Some(Name::from_presentation("example.com").unwrap()),
        time_first: first,
        time_last: last,
        count,
        ..Default::default()
    };
    o.rdata.push(Rdata::parse(RrType::A, ip).unwrap());
    o
}

fn saf(records: &[(&str, u64, u64, u64)]) -> String {
    let mut s = String::from("{\"cond\":\"begin\"}\n");
    for (ip, first, last, count) in records {
        s.push_str(&format!(
            "{{\"obj\":{{\"count\":{count},\"time_first\":{first},\"time_last\":{last},\"rrname\":\"www.example.com.\",\"rrtype\":\"A\",\"bailiwick\":\"example.com.\",\"rdata\":[\"{ip}\"]}}}}\n"
        ));
    }
    s.push_str("{\"cond\":\"succeeded\"}\n");
    s
}

fn dnsdb(name: &str, url: &str) -> Arc<Upstream> {
    let mut c = UpstreamConfig::new(name, Kind::Dnsdb, url);
    c.api_key = Some(Secret::new("k"));
    c.timeout_secs = Some(60);
    Arc::new(Upstream::new(c))
}

/// Per rdata: (count, sensor times, sources) of a record's final state.
type Finals = BTreeMap<String, (u64, Option<(u64, u64)>, Vec<String>)>;

/// What the caller saw, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Record {
        source: String,
        rdata: String,
        count: u64,
        seen: Option<(u64, u64)>,
        sources: Vec<String>,
        update: bool,
    },
    Done(String),
    /// Logged by the slow upstream when it sends its answer.
    SlowAnswered,
}

#[test]
fn streaming_sends_local_first_and_ends_with_the_merged_values() {
    let dir = tempfile::tempdir().unwrap();
    let store = dnsledger_store_rocksdb::RocksStore::open(dir.path(), Default::default()).unwrap();
    // the local store: two records (stored through the pull path, as sensor upstream:seed)
    dnsledger_federation::pull::store_answer(
        &store,
        "seed",
        &[obs("192.0.2.1", 100, 200, 5), obs("192.0.2.9", 10, 20, 1)],
    )
    .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);

    let log: Arc<Mutex<Vec<Seen>>> = Arc::new(Mutex::new(Vec::new()));
    let fast = serve(|_| reply("200 OK", &[], &saf(&[("192.0.2.1", 50, 150, 3), ("192.0.2.2", 1, 2, 1)])));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = Mutex::new(release_rx);
    let slow_log = log.clone();
    let slow = serve(move |_| {
        // hold the answer until the caller has the local records (bounded, so a broken
        // stream shows up as a wrong order, not a hung test)
        let _ = release_rx.lock().unwrap().recv_timeout(Duration::from_secs(20));
        slow_log.lock().unwrap().push(Seen::SlowAnswered);
        reply("200 OK", &[], &saf(&[("192.0.2.1", 120, 300, 2)]))
    });
    let broken = serve(|_| reply("200 OK", &[], "<html>maintenance</html>\n"));
    let ups = vec![dnsdb("fast", &fast.url), dnsdb("slow", &slow.url), dnsdb("broken", &broken.url)];

    let query = UpstreamQuery::parse("rrset/name/www.example.com").unwrap();
    let request = || Request {
        local: Some((store.clone(), query.lookup().unwrap())),
        upstreams: ups.clone(),
        query: query.clone(),
        limit: None,
    };

    let mut local_seen = 0;
    let release = Mutex::new(Some(release_tx));
    let answer = federated::run_stream(request(), &mut |ev| {
        let seen = match ev {
            Streamed::Record { source, record, update } => Seen::Record {
                source: source.to_string(),
                rdata: record.record.rdata[0].to_presentation(RrType::A),
                count: record.record.agg.count,
                seen: record.record.agg.seen,
                sources: record.sources.clone(),
                update,
            },
            Streamed::Done(r) => Seen::Done(r.source.clone()),
        };
        if matches!(&seen, Seen::Record { source, .. } if source == "local") {
            local_seen += 1;
            if local_seen == 2 {
                release.lock().unwrap().take();
            }
        }
        log.lock().unwrap().push(seen);
    });
    let log = log.lock().unwrap().clone();

    // the local records arrived before the slow upstream answered, and first of all records
    let pos = |f: &dyn Fn(&Seen) -> bool| log.iter().position(f).unwrap_or_else(|| panic!("not in {log:#?}"));
    let slow_answered = pos(&|s| *s == Seen::SlowAnswered);
    let records: Vec<&Seen> = log.iter().filter(|s| matches!(s, Seen::Record { .. })).collect();
    assert!(matches!(records[0], Seen::Record { source, update: false, .. } if source == "local"), "{log:#?}");
    assert!(matches!(records[1], Seen::Record { source, update: false, .. } if source == "local"), "{log:#?}");
    let last_local = log.iter().rposition(|s| matches!(s, Seen::Record { source, .. } if source == "local")).unwrap();
    assert!(last_local < slow_answered, "local records must not wait for the slow upstream: {log:#?}");
    // the broken upstream is reported (as a source done), the slow one's records came after it answered
    pos(&|s| *s == Seen::Done("broken".into()));
    let first_slow = pos(&|s| matches!(s, Seen::Record { source, .. } if source == "slow"));
    assert!(first_slow > slow_answered);

    // 192.0.2.1 went out three times: local, then merged with each upstream as it answered
    // (fast and slow in either order: they race once the slow one is released)
    let lines_for = |ip: &str| -> Vec<&Seen> {
        log.iter().filter(|s| matches!(s, Seen::Record { rdata, .. } if rdata == ip)).collect()
    };
    let one = lines_for("192.0.2.1");
    assert_eq!(one.len(), 3, "{one:#?}");
    assert!(
        matches!(one[0], Seen::Record { source, count: 5, seen: Some((100, 200)), update: false, .. } if source == "local")
    );
    let Seen::Record { source, count, seen, sources, update, .. } = one[2] else { unreachable!() };
    assert_eq!((*count, *seen, *update), (10, Some((50, 300)), true));
    assert_eq!(sources.len(), 3);
    assert_eq!(sources[0], "local");
    assert_eq!(sources[2], *source, "the line names the source that just answered, last");
    assert!(matches!(one[1], Seen::Record { count: 7 | 8, update: true, .. }), "{one:#?}");
    let mut sorted = sources.clone();
    sorted.sort();
    assert_eq!(sorted, vec!["fast", "local", "slow"]);

    // the last line per key is the answer's record, and equals merged mode's
    let mut last: Finals = BTreeMap::new();
    for s in &log {
        if let Seen::Record { rdata, count, seen, sources, .. } = s {
            last.insert(rdata.clone(), (*count, *seen, sources.clone()));
        }
    }
    let of = |records: &[dnsledger_federation::MergedRecord]| -> Finals {
        records
            .iter()
            .map(|m| {
                (
                    m.record.rdata[0].to_presentation(RrType::A),
                    (m.record.agg.count, m.record.agg.seen, m.sources.clone()),
                )
            })
            .collect()
    };
    assert_eq!(of(&answer.records), last);
    assert_eq!(last.len(), 3);
    let statuses: Vec<(String, SourceStatus)> = answer.reports.iter().map(|r| (r.source.clone(), r.status)).collect();
    assert_eq!(
        statuses,
        vec![
            ("local".into(), SourceStatus::Ok),
            ("fast".into(), SourceStatus::Ok),
            ("slow".into(), SourceStatus::Ok),
            ("broken".into(), SourceStatus::Error)
        ]
    );
    assert_eq!(answer.reports[3].category, Some("garbage"));

    // merged mode: the same values, sent once each at the end (its sources in the order
    // asked, streaming's in the order they answered)
    let merged = federated::run(request(), &mut |_| {});
    let sorted = |m: Finals| {
        m.into_iter()
            .map(|(k, (c, t, mut s))| {
                s.sort();
                (k, (c, t, s))
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(sorted(of(&merged.records)), sorted(last.clone()));

    // a limit in streaming mode caps the keys sent (updates of sent keys still go out)
    let mut keys = Vec::new();
    let mut limited_request = request();
    limited_request.limit = Some(1);
    let a = federated::run_stream(limited_request, &mut |ev| {
        if let Streamed::Record { record, .. } = ev {
            keys.push(record.record.rdata[0].to_presentation(RrType::A));
        }
    });
    keys.dedup();
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(a.limited && a.records.len() == 1);
    // the kept-alive connections were reused: one each, three lookups
    assert_eq!((fast.connections(), fast.count("/")), (1, 3));
}
