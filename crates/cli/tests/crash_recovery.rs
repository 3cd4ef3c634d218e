//! Crash recovery: writers killed with SIGKILL at random moments lose nothing they
//! acknowledged and count nothing twice, and the store opens cleanly after every kill.
//!
//! The moments come from a seeded generator; the seed is printed (shown when a test fails) and
//! `DNSLEDGER_CRASH_SEED=N` replays it.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::pcap::{a_response, Pcap};
use common::{ok, Server};

/// SplitMix64: a small seeded generator, so a failing sequence of kills can be replayed.
struct Rng(u64);

impl Rng {
    /// The generator for test `salt`, seeded from `DNSLEDGER_CRASH_SEED` or the clock.
    fn seeded(test: &str, salt: u64) -> Rng {
        let seed = match std::env::var("DNSLEDGER_CRASH_SEED") {
            Ok(s) => s.trim().parse().unwrap_or_else(|e| panic!("DNSLEDGER_CRASH_SEED={s:?}: {e}")),
            Err(_) => std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1),
        };
        eprintln!("{test}: crash seed {seed} (replay with DNSLEDGER_CRASH_SEED={seed})");
        Rng(seed ^ salt)
    }
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    /// Uniform in `lo..hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo).max(1)
    }
}

/// Waits until `/readyz` answers 200: the store opened cleanly and takes traffic.
fn assert_ready(server: &Server) {
    let (status, body) = common::get(&format!("{}/readyz", server.url));
    assert_eq!(status, 200, "store not ready after restart: {body}");
}

/// All records under `*.{zone}`, as (rrname → count).
fn stored(server: &Server, zone: &str) -> HashMap<String, u64> {
    let doc = common::lookup(&server.url, &format!("rrset/name/%2A.{zone}?limit=0"));
    assert_eq!(doc["limited"], false);
    let mut out = HashMap::new();
    for r in doc["records"].as_array().expect("records") {
        let name = r["rrname"].as_str().unwrap_or_default().to_string();
        let count = r["count"].as_u64().unwrap_or(0);
        assert!(out.insert(name.clone(), count).is_none(), "{name} listed twice");
    }
    out
}

// ------------------------------------------------------------------------------- HTTP ingest

/// SIGKILLs of `serve` while clients post.
const HTTP_KILLS: u64 = 20;
/// Records per HTTP batch.
const BATCH_RECORDS: u64 = 100;
/// Concurrent clients; those below `ID_CLIENTS` send an `X-Batch-Id` and retry what was in
/// doubt after the restart, the others send none and never retry.
const CLIENTS: u64 = 3;
const ID_CLIENTS: u64 = 2;

/// The passivedns lines of batch `b` of client `c`: one A record per name, count `i % 4 + 1`.
fn batch_body(c: u64, b: u64) -> String {
    let mut s = String::with_capacity(BATCH_RECORDS as usize * 100);
    for i in 0..BATCH_RECORDS {
        s.push_str(&format!(
            "{}.000000||192.0.2.1||192.0.2.53||IN||n{i}.b{b}.c{c}.crash.test.||A||198.51.100.{}||60||{}\n",
            1_704_067_200 + b,
            i % 250 + 1,
            i % 4 + 1
        ));
    }
    s
}

/// What the clients know about each batch (client, seq).
#[derive(Default)]
struct Ledger {
    /// Answered 2xx: must be stored, whole, once.
    acked: HashSet<(u64, u64)>,
    /// Sent with an id, no answer (the server died): retried after the restart.
    in_doubt: Vec<(u64, u64)>,
    /// Sent without an id, no answer: stored whole or not at all, never retried.
    maybe: HashSet<(u64, u64)>,
    /// Batches in doubt sent again after a restart.
    retried: u64,
    /// Retries the server recognised as already stored (stored, then killed before answering).
    duplicates: u64,
}

/// Posts batch (c, b); `Ok(Some(duplicate))` when acknowledged, `Ok(None)` when the server
/// could not be reached or died, `Err` for any other answer.
fn post_batch(url: &str, c: u64, b: u64) -> Result<Option<bool>, String> {
    let mut req = common::agent().post(format!("{url}/api/v1/observations?format=passivedns&sensor=crash"));
    if c < ID_CLIENTS {
        req = req.header("X-Batch-Id", &format!("crash-c{c}-b{b}"));
    }
    match req.send(batch_body(c, b).as_bytes()) {
        Ok(mut resp) => {
            let status = resp.status().as_u16();
            let body = resp.body_mut().read_to_string().unwrap_or_default();
            if status != 200 {
                return Err(format!("batch c{c} b{b}: ingest answered {status}: {body}"));
            }
            let v: serde_json::Value = serde_json::from_str(&body).map_err(|e| format!("{e}: {body}"))?;
            Ok(Some(v["duplicate"] == true))
        }
        Err(_) => Ok(None),
    }
}

#[test]
fn http_ingest_survives_20_sigkills() {
    let t0 = Instant::now();
    let mut rng = Rng::seeded("http_ingest_survives_20_sigkills", 0x4854_5450);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let ledger: Arc<Mutex<Ledger>> = Arc::default();
    let next: Arc<Vec<AtomicU64>> = Arc::new((0..CLIENTS).map(|_| AtomicU64::new(0)).collect());
    let retry = |server: &Server, ledger: &Mutex<Ledger>| {
        let doubt: Vec<(u64, u64)> = std::mem::take(&mut ledger.lock().unwrap().in_doubt);
        for (c, b) in doubt {
            let dup = post_batch(&server.url, c, b).expect("retry").expect("retry reached the restarted server");
            let mut l = ledger.lock().unwrap();
            l.acked.insert((c, b));
            l.retried += 1;
            l.duplicates += u64::from(dup);
        }
    };
    let mut delays = Vec::new();
    for _ in 0..HTTP_KILLS {
        let server = Server::start(&data, &[]);
        assert_ready(&server);
        retry(&server, &ledger);
        let stop = Arc::new(AtomicBool::new(false));
        let clients: Vec<_> = (0..CLIENTS)
            .map(|c| {
                let (url, stop, next, ledger) = (server.url.clone(), stop.clone(), next.clone(), ledger.clone());
                std::thread::spawn(move || -> Result<(), String> {
                    while !stop.load(Ordering::Relaxed) {
                        let b = next[c as usize].fetch_add(1, Ordering::Relaxed);
                        match post_batch(&url, c, b)? {
                            Some(_) => {
                                ledger.lock().unwrap().acked.insert((c, b));
                            }
                            None => {
                                let mut l = ledger.lock().unwrap();
                                if c < ID_CLIENTS {
                                    l.in_doubt.push((c, b));
                                } else {
                                    l.maybe.insert((c, b));
                                }
                                return Ok(());
                            }
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        let delay = rng.range(30, 500);
        delays.push(delay);
        std::thread::sleep(Duration::from_millis(delay));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            c.join().expect("client thread").expect("client");
        }
    }

    let server = Server::start(&data, &[]);
    assert_ready(&server);
    retry(&server, &ledger);
    let got = stored(&server, "crash.test");
    let l = ledger.lock().unwrap();
    let mut per_batch: BTreeMap<(u64, u64), u64> = BTreeMap::new();
    for (name, count) in &got {
        // n{i}.b{b}.c{c}.crash.test.
        let num = |p: &str| p[1..].parse::<u64>().unwrap_or_else(|e| panic!("{name}: {e}"));
        let parts: Vec<&str> = name.split('.').collect();
        let (i, b, c) = (num(parts[0]), num(parts[1]), num(parts[2]));
        assert_eq!(*count, i % 4 + 1, "{name}: counted {count}, expected {} (double count or loss)", i % 4 + 1);
        assert!(
            l.acked.contains(&(c, b)) || l.maybe.contains(&(c, b)),
            "{name}: batch never acknowledged nor in doubt"
        );
        *per_batch.entry((c, b)).or_default() += 1;
    }
    for key in &l.acked {
        let n = per_batch.get(key).copied().unwrap_or(0);
        assert_eq!(n, BATCH_RECORDS, "acknowledged batch {key:?} has {n} of {BATCH_RECORDS} records");
    }
    for (key, n) in &per_batch {
        assert_eq!(*n, BATCH_RECORDS, "batch {key:?} is partially stored (not atomic)");
    }
    let maybe_stored = l.maybe.iter().filter(|k| per_batch.contains_key(k)).count();
    assert!(l.acked.len() as u64 >= HTTP_KILLS, "too few acknowledged batches: {}", l.acked.len());
    assert!(server.terminate(), "server did not shut down cleanly");
    let server = Server::start(&data, &[]);
    assert_ready(&server);
    assert_eq!(stored(&server, "crash.test").len(), got.len(), "records changed across a clean restart");
    eprintln!(
        "{HTTP_KILLS} SIGKILLs at {delays:?} ms: {} batches acknowledged ({} of them retries after a kill, \
         {} found already stored), {} unacknowledged without id ({maybe_stored} stored whole, the rest absent); \
         {} records checked in {:.1} s",
        l.acked.len(),
        l.retried,
        l.duplicates,
        l.maybe.len(),
        got.len(),
        t0.elapsed().as_secs_f64()
    );
}

// ------------------------------------------------------------------------------ sensor spool

/// Sensor runs, one capture each; every run kills the sensor or the collector once.
const SENSOR_RUNS: u64 = 20;
/// Distinct names per capture; name `i` is answered `i % 3 + 1` times.
const PCAP_NAMES: u64 = 3000;

/// Capture `k`: responses for `n{i}.p{k}.{zone}`; returns (name → count).
fn sensor_pcap(path: &Path, k: u64, zone: &str) -> HashMap<String, u64> {
    let mut p = Pcap::new();
    let mut expected = HashMap::new();
    let mut id: u16 = 1;
    for rep in 0..3 {
        for i in 0..PCAP_NAMES {
            if rep <= i % 3 {
                let name = format!("n{i}.p{k}.{zone}.");
                let ts = 1_704_067_200.0 + k as f64 * 100.0 + rep as f64 + i as f64 * 1e-4;
                p.dns(ts, &a_response(id, &name, [198, 51, 100, (i % 250 + 1) as u8], 300));
                id = id.wrapping_add(1);
                *expected.entry(name).or_default() += 1;
            }
        }
    }
    p.write(path);
    expected
}

/// Spooled batch files (`*.dlb.gz`) of sensor `name` (all sensors with `None`).
fn spooled(spool: &Path, name: Option<&str>) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(spool) else { return Vec::new() };
    rd.filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".dlb.gz") && name.is_none_or(|s| n.contains(&format!("_{s}-"))))
        .collect()
}

fn start_sensor(pcap: &Path, url: &str, spool: &Path, name: &str) -> Child {
    common::bin()
        .arg("sensor")
        .arg("-r")
        .arg(pcap)
        .args(["--server", url, "--sensor", name, "--spool-dir"])
        .arg(spool)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting dnsledger sensor")
}

/// What became of capture `k`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// The sensor exited 0 (every batch acknowledged by the collector or spooled), or was
    /// killed after spooling it: must be stored exactly once.
    Acked,
    /// The sensor was killed with nothing of it spooled: stored whole (it was sent and
    /// acknowledged just before the kill) or not at all.
    Maybe,
}

#[test]
fn sensor_spool_survives_20_sigkills() {
    let t0 = Instant::now();
    let mut rng = Rng::seeded("sensor_spool_survives_20_sigkills", 0x5350_4f4f);
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let spool = dir.path().join("spool");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");
    // half the runs kill the sensor, half the collector, in a seeded order
    let mut plan: Vec<bool> = (0..SENSOR_RUNS).map(|k| k % 2 == 0).collect();
    for i in (1..plan.len()).rev() {
        plan.swap(i, rng.range(0, i as u64 + 1) as usize);
    }
    let mut expected: Vec<HashMap<String, u64>> = Vec::new();
    let mut fates: Vec<Fate> = Vec::new();
    let mut server: Option<Server> = None;
    let (mut mid_run, mut sensor_kills, mut serve_kills, mut collector_down_at_start) = (0, 0, 0, 0);
    let mut spooled_then_killed = 0;
    // how long an undisturbed run takes (the median of three calibration runs, not counted;
    // the first start of the binary is slow), to aim the kills inside a run
    let run_ms = {
        let s = Server::start_at(&data, &listen, &[]);
        let mut took = Vec::new();
        for c in 0..3 {
            let pcap = dir.path().join("calibration.pcap");
            sensor_pcap(&pcap, c, "calibration.test");
            let started = Instant::now();
            let out = start_sensor(&pcap, &url, &spool, "calibration").wait_with_output().expect("sensor");
            assert!(out.status.success(), "calibration run: {}", String::from_utf8_lossy(&out.stderr));
            took.push(started.elapsed().as_millis() as u64);
        }
        s.kill9();
        took.sort_unstable();
        took[1].max(20)
    };
    for (k, &kill_sensor) in plan.iter().enumerate() {
        let k = k as u64;
        let pcap = dir.path().join(format!("p{k}.pcap"));
        expected.push(sensor_pcap(&pcap, k, "spool.test"));
        // the collector is up for collector kills, and up two times in three otherwise
        if server.is_none() && (!kill_sensor || rng.range(0, 3) > 0) {
            let s = Server::start_at(&data, &listen, &[]);
            assert_ready(&s);
            server = Some(s);
        }
        collector_down_at_start += u64::from(server.is_none());
        let name = format!("s{k}");
        let mut sensor = start_sensor(&pcap, &url, &spool, &name);
        // from mid-start to just past the usual end, where the batch is sent or spooled
        let delay = rng.range(run_ms / 3, run_ms * 3 / 2);
        std::thread::sleep(Duration::from_millis(delay));
        let fate = if kill_sensor {
            sensor_kills += 1;
            mid_run += u64::from(sensor.try_wait().expect("sensor").is_none());
            let _ = sensor.kill();
            let _ = sensor.wait();
            if spooled(&spool, Some(&name)).is_empty() {
                Fate::Maybe
            } else {
                spooled_then_killed += 1;
                Fate::Acked
            }
        } else {
            serve_kills += 1;
            if let Some(s) = server.take() {
                mid_run += u64::from(sensor.try_wait().expect("sensor").is_none());
                s.kill9();
            }
            let out = sensor.wait_with_output().expect("sensor");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "sensor run {k} failed: {err}");
            Fate::Acked
        };
        fates.push(fate);
    }

    // collector up; a run over an empty capture sends whatever the spool still holds
    let server = match server {
        Some(s) => s,
        None => Server::start_at(&data, &listen, &[]),
    };
    assert_ready(&server);
    let empty = dir.path().join("empty.pcap");
    Pcap::new().write(&empty);
    let out = start_sensor(&empty, &url, &spool, "drain").wait_with_output().expect("sensor");
    assert!(out.status.success(), "draining the spool: {}", String::from_utf8_lossy(&out.stderr));
    assert!(spooled(&spool, None).is_empty(), "spool not drained: {:?}", spooled(&spool, None));
    assert!(!spool.join("refused").exists(), "the collector refused spooled batches");

    let got = stored(&server, "spool.test");
    let mut maybe_stored = 0;
    for (k, (want, fate)) in expected.iter().zip(&fates).enumerate() {
        let present: Vec<&String> = want.keys().filter(|n| got.contains_key(*n)).collect();
        for n in &present {
            assert_eq!(got[*n], want[*n], "capture {k} ({fate:?}): {n} counted {} times, read {}", got[*n], want[*n]);
        }
        match fate {
            Fate::Acked => assert_eq!(present.len(), want.len(), "capture {k}: acknowledged but not all stored"),
            Fate::Maybe => {
                assert!(present.is_empty() || present.len() == want.len(), "capture {k}: partially stored");
                maybe_stored += usize::from(!present.is_empty());
            }
        }
    }
    for n in got.keys() {
        assert!(expected.iter().any(|e| e.contains_key(n)), "{n} is stored but no capture holds it");
    }
    assert!(server.terminate(), "collector did not shut down cleanly");
    let server = Server::start_at(&data, &listen, &[]);
    assert_ready(&server);
    assert_eq!(stored(&server, "spool.test"), got, "records changed across a clean restart");
    let acked = fates.iter().filter(|f| **f == Fate::Acked).count();
    eprintln!(
        "{} SIGKILLs ({sensor_kills} of the sensor, {serve_kills} of the collector; {mid_run} while the sensor \
         ran, an undisturbed run taking {run_ms} ms), collector down at {collector_down_at_start} sensor \
         starts: {acked} captures acknowledged ({spooled_then_killed} by a sensor killed after spooling), {} \
         unacknowledged ({maybe_stored} of them stored whole); {} records checked in {:.1} s",
        sensor_kills + serve_kills,
        fates.len() - acked,
        got.len(),
        t0.elapsed().as_secs_f64()
    );
}

// ------------------------------------------------------------------------------------ import

/// Deterministic passivedns lines: `n` observations over `names` names with repeats.
fn import_file(path: &std::path::Path, n: u64, names: u64) -> HashMap<String, u64> {
    let mut expected: HashMap<String, u64> = HashMap::new();
    let mut out = String::with_capacity(n as usize * 100);
    let mut x: u64 = 0x9e3779b97f4a7c15;
    for j in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let name = format!("h{}.imp.test.", x % names);
        let count = 1 + x % 3;
        out.push_str(&format!(
            "{}.{:06}||10.0.0.1||10.0.0.53||IN||{name}||A||203.0.113.{}||300||{count}\n",
            1_704_067_200 + j / 10,
            j % 1_000_000,
            x % names % 200 + 1
        ));
        *expected.entry(name).or_default() += count;
    }
    std::fs::write(path, out).expect("writing import file");
    expected
}

#[test]
fn import_killed_midway_resumes_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let file = dir.path().join("obs.log");
    let expected = import_file(&file, 600_000, 150_000);
    let data_s = data.to_str().expect("path");
    let file_s = file.to_str().expect("path");
    let mut killed_midway = 0;
    for delay in [250u64, 500, 800] {
        let mut child = common::bin()
            .args(["import", file_s, "--data-dir", data_s, "--batch-mib", "2", "--threads", "2", "-q"])
            .spawn()
            .expect("spawn import");
        std::thread::sleep(Duration::from_millis(delay));
        if child.try_wait().expect("wait").is_none() {
            killed_midway += 1;
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    let out = common::run(&["import", file_s, "--data-dir", data_s]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let again = String::from_utf8_lossy(&common::run(&["import", file_s, "--data-dir", data_s]).stderr).to_string();
    assert!(again.contains("already imported"), "{again}");
    let json = ok(&["query", "-r", "*.imp.test", "-l", "0", "-f", "json", "--data-dir", data_s]);
    let mut got: HashMap<String, u64> = HashMap::new();
    for line in json.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json line");
        *got.entry(v["rrname"].as_str().unwrap_or_default().to_string()).or_default() +=
            v["count"].as_u64().unwrap_or(0);
    }
    assert_eq!(got.len(), expected.len(), "distinct names");
    for (name, count) in &expected {
        assert_eq!(got.get(name), Some(count), "{name}");
    }
    eprintln!("import killed mid-way {killed_midway} time(s) of 3");
}
