//! Crash recovery: writers killed with SIGKILL mid-ingest lose nothing they acknowledged and
//! count nothing twice.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{ok, Server};

const BATCH_RECORDS: u64 = 150;

/// The passivedns lines of HTTP batch `b` of round `r`: one A record per name, count i+1.
fn batch_body(r: u64, b: u64) -> String {
    let mut s = String::new();
    for i in 0..BATCH_RECORDS {
        s.push_str(&format!(
            "{}.000000||192.0.2.1||192.0.2.53||IN||n{i}.b{b}.r{r}.crash.test.||A||198.51.100.{}||60||{}\n",
            1_704_067_200 + r * 1000 + b,
            i % 250 + 1,
            i + 1
        ));
    }
    s
}

/// All records under `*.crash.test`, as (rrname → count).
fn stored(server: &Server) -> HashMap<String, u64> {
    let doc = common::lookup(&server.url, "rrset/name/%2A.crash.test?limit=0");
    assert_eq!(doc["limited"], false);
    doc["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| (r["rrname"].as_str().unwrap_or_default().to_string(), r["count"].as_u64().unwrap_or(0)))
        .collect()
}

#[test]
fn http_ingest_survives_sigkill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let acked: Arc<Mutex<HashSet<(u64, u64)>>> = Arc::default();
    let sent: Arc<Mutex<HashSet<(u64, u64)>>> = Arc::default();
    let rounds = 5u64;
    for r in 0..rounds {
        let server = Server::start(&data, &[]);
        let stop = Arc::new(AtomicBool::new(false));
        let next = Arc::new(AtomicU64::new(0));
        let mut clients = Vec::new();
        for _ in 0..4 {
            let (url, stop, next, acked, sent) =
                (server.url.clone(), stop.clone(), next.clone(), acked.clone(), sent.clone());
            clients.push(std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let b = next.fetch_add(1, Ordering::Relaxed);
                    sent.lock().unwrap().insert((r, b));
                    let url = format!("{url}/api/v1/observations?format=passivedns&sensor=crash");
                    match common::post(&url, batch_body(r, b).as_bytes()) {
                        Ok((200, _)) => {
                            acked.lock().unwrap().insert((r, b));
                        }
                        Ok((status, body)) => panic!("ingest answered {status}: {body}"),
                        Err(_) => return, // server killed
                    }
                }
            }));
        }
        // kill at a moment that varies per round, while clients are mid-request
        std::thread::sleep(Duration::from_millis(150 + 170 * r));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        for c in clients {
            let _ = c.join();
        }
    }

    let server = Server::start(&data, &[]);
    let got = stored(&server);
    let acked = acked.lock().unwrap().clone();
    let sent = sent.lock().unwrap().clone();
    assert!(acked.len() >= rounds as usize, "too few acknowledged batches: {}", acked.len());
    let mut per_batch: BTreeMap<(u64, u64), Vec<u64>> = BTreeMap::new();
    for (name, count) in &got {
        // n{i}.b{b}.r{r}.crash.test.
        let parts: Vec<&str> = name.split('.').collect();
        let i: u64 = parts[0][1..].parse().expect("i");
        let b: u64 = parts[1][1..].parse().expect("b");
        let r: u64 = parts[2][1..].parse().expect("r");
        assert_eq!(*count, i + 1, "{name}: counted {count}, expected {} (double count or loss)", i + 1);
        assert!(sent.contains(&(r, b)), "{name} was never sent");
        per_batch.entry((r, b)).or_default().push(i);
    }
    for key in &acked {
        let n = per_batch.get(key).map(Vec::len).unwrap_or(0);
        assert_eq!(n as u64, BATCH_RECORDS, "acknowledged batch {key:?} has {n} of {BATCH_RECORDS} records");
    }
    for (key, names) in &per_batch {
        assert_eq!(names.len() as u64, BATCH_RECORDS, "batch {key:?} is partially stored (not atomic)");
    }
    assert!(server.terminate(), "server did not shut down cleanly");
}

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
