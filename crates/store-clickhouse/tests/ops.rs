//! Operations on the ClickHouse store, on real servers: `Store::health` pings every shard and
//! names one that stops answering (taken away by closing a loopback TCP relay the store reaches
//! it through), `Store::gauges`, and the shared survey and integrity check over two shards,
//! which must see what they see on the embedded store written with the same batches.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnsledger_model::{Name, Rdata, RrType};
use dnsledger_store::layout::survey::{check, survey, CheckOptions};
use dnsledger_store::{Batch, Store};
use dnsledger_store_clickhouse::{init, ClickHouseOptions, ClickHouseStore};
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

/// Forwards connections from a loopback port to `target` until stopped; then the port refuses.
struct Relay {
    url: String,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Relay {
    fn start(target: &str) -> Relay {
        let target = target.trim_start_matches("http://").to_string();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        client.set_nonblocking(false).unwrap();
                        let server = TcpStream::connect(&target).unwrap();
                        for (mut from, mut to) in
                            [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                        {
                            std::thread::spawn(move || {
                                let mut buf = [0u8; 16 << 10];
                                while let Ok(n) = from.read(&mut buf) {
                                    if n == 0 || to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                                let _ = to.shutdown(Shutdown::Write);
                            });
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        Relay { url, stop, thread: Some(thread) }
    }

    /// Closes the listening socket: new connections are refused.
    fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            t.join().unwrap();
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.stop();
    }
}

#[test]
fn health_pings_every_shard_and_names_the_one_that_fails() {
    let (urls, cluster) = common::two_shards();
    let mut o = ClickHouseOptions::with_urls(urls.clone());
    o.cluster = Some(cluster.clone());
    o.database = common::fresh_database("health");
    init(&o).expect("init");
    let direct = ClickHouseStore::open(o.clone()).expect("open");
    direct.health().expect("both shards answer");
    let g = direct.gauges();
    let value = |g: &[dnsledger_store::Gauge], n: &str| g.iter().find(|x| x.name == n).map(|x| x.value);
    assert_eq!(value(&g, "dnsledger_store_clickhouse_shards"), Some(2.0));
    assert_eq!(value(&g, "dnsledger_store_clickhouse_shards_up"), Some(2.0));
    let mut b = dnsledger_store::Batch::new();
    for i in 0..50 {
        b.add(&mut common::obs(&format!("h{i}.example.com"), i, 1_700_000_000));
    }
    direct.write(&b).unwrap();
    let g = direct.gauges();
    assert!(value(&g, "dnsledger_store_clickhouse_rows").unwrap() >= 50.0, "{g:?}");
    assert!(value(&g, "dnsledger_store_clickhouse_parts").unwrap() >= 2.0, "{g:?}");
    assert!(value(&g, "dnsledger_store_clickhouse_bytes").unwrap() > 0.0, "{g:?}");

    // the same deployment with shard 2 reached through a relay that then goes away
    let mut relay = Relay::start(&urls[1]);
    let mut via = o.clone();
    via.shards = vec![vec![urls[0].clone()], vec![relay.url.clone()]];
    let store = ClickHouseStore::open(via).expect("open through the relay");
    store.health().expect("healthy through the relay");
    relay.stop();
    let started = Instant::now();
    let e = store.health().unwrap_err().to_string();
    assert!(started.elapsed() < Duration::from_secs(10), "health took {:?}", started.elapsed());
    assert!(e.contains("shard 2") && e.contains(&relay.url), "{e}");
    assert!(!e.contains("shard 1"), "{e}");
    let g = store.gauges();
    assert_eq!(value(&g, "dnsledger_store_clickhouse_shards_up"), Some(1.0));

    for u in &urls {
        common::drop_database(u, &o.database);
    }
}

/// Batches of A, NS, MX, TXT and negative observations from three sensors.
fn batches() -> Vec<Batch> {
    (0..4u32)
        .map(|b| {
            let mut batch = Batch::new();
            for i in 0..200u32 {
                let k = b * 200 + i;
                let mut o = common::obs(&format!("h{}.example.com", k % 150), k % 40, 1_700_000_000 + k as u64 * 60);
                o.sensor = Some(["s1", "s2", "s3"][(k % 3) as usize].to_string());
                match k % 5 {
                    1 => {
                        o.rrtype = RrType::NS;
                        o.rdata = [Rdata::name(&Name::from_presentation(&format!("ns{}.example.net", k % 3)).unwrap())]
                            .into_iter()
                            .collect();
                    }
                    2 => {
                        let mut w = 10u16.to_be_bytes().to_vec();
                        w.extend_from_slice(Name::from_presentation("mx.example.org").unwrap().as_wire());
                        o.rrtype = RrType::MX;
                        o.rdata = [Rdata::Wire(w)].into_iter().collect();
                    }
                    4 => {
                        o.rrtype = RrType::TXT;
                        o.rdata = [Rdata::Wire(vec![2, b'v', b'0' + (k % 7) as u8])].into_iter().collect();
                    }
                    3 if k.is_multiple_of(2) => {
                        o.rdata.clear();
                        o.negative = Some(dnsledger_model::Negative::NxDomain);
                    }
                    _ => {}
                }
                batch.add(&mut o);
            }
            batch.set_checkpoint("file:/var/log/x.log", format!("{b}").into_bytes());
            batch
        })
        .collect()
}

#[test]
fn survey_and_check_over_shards_match_the_embedded_store() {
    let (urls, cluster) = common::two_shards();
    let mut o = ClickHouseOptions::with_urls(urls.clone());
    o.cluster = Some(cluster);
    o.database = common::fresh_database("check");
    init(&o).expect("init");
    let ch = ClickHouseStore::open(o.clone()).expect("open");
    let dir = tempfile::tempdir().unwrap();
    let rocks = RocksStore::open(dir.path(), RocksStoreOptions::default()).unwrap();
    for b in batches() {
        ch.write(&b).unwrap();
        rocks.write(&b).unwrap();
    }
    let opts = CheckOptions { max_problems: 20, registered_sensors: Some(ch.stats().unwrap().sensors) };
    let on_ch = check(&ch, &opts, &mut |_| {}).unwrap();
    assert!(on_ch.is_clean(), "{:#?}", on_ch.problems);
    assert!(on_ch.indexes.iter().all(|a| a.keys_agree && a.values_agree && a.expected > 0), "{:?}", on_ch.indexes);
    let on_rocks = check(&rocks.verified(), &CheckOptions::default(), &mut |_| {}).unwrap();
    assert!(on_rocks.is_clean(), "{:#?}", on_rocks.problems);
    let (a, b) = (&on_ch.survey, &on_rocks.survey);
    assert_eq!(a.rrtypes, b.rrtypes);
    assert_eq!(a.negative, b.negative);
    assert_eq!(a.index, b.index);
    assert_eq!((a.seen, a.zone, a.without_sensor), (b.seen, b.zone, b.without_sensor));
    assert_eq!(a.checkpoints, b.checkpoints);
    let by_name = |s: &dnsledger_store::layout::survey::Survey| {
        let mut v: Vec<(Option<String>, u64)> = s.sensors.iter().map(|x| (x.name.clone(), x.records)).collect();
        v.sort();
        v
    };
    assert_eq!(by_name(a), by_name(b));
    assert_eq!(&survey(&ch, &mut |_| {}).unwrap().rrtypes, &a.rrtypes);

    // a name the sensors table lacks is reported
    let opts = CheckOptions { max_problems: 20, registered_sensors: Some(vec!["s1".into(), "s2".into()]) };
    let r = check(&ch, &opts, &mut |_| {}).unwrap();
    assert_eq!(r.problem_count, 1, "{:#?}", r.problems);
    assert!(r.problems[0].reason.contains("\"s3\""), "{:?}", r.problems);

    for u in &urls {
        common::drop_database(u, &o.database);
    }
}
