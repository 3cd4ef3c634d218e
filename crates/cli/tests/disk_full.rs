//! Disk full: the store (and a sensor's spool) on a small tmpfs that fills up. Ingest is refused
//! with a clear 507, counted in `/metrics`; the server stays up and answers lookups of what it
//! acknowledged; once space is freed, ingest resumes by itself and every acknowledged
//! observation is there exactly once; the store opens cleanly after a restart.
//!
//! Mounting needs root (or CAP_SYS_ADMIN), as on the development machines and in CI; where
//! `mount` is not permitted the test fails and says why.

mod common;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::pcap::{a_response, Pcap};
use common::Server;

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `mib` MiB on the new directory `path`.
    fn mount(path: &Path, mib: u64) -> Tmpfs {
        std::fs::create_dir_all(path).expect("mount point");
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(path)
            .output()
            .expect("running mount");
        assert!(
            out.status.success(),
            "the disk-full tests mount a small tmpfs to fill up, which needs root or CAP_SYS_ADMIN \
             (as on the development machines and in CI); `mount -t tmpfs` failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        Tmpfs { path: path.to_path_buf() }
    }

    /// Free bytes on the filesystem, as `df` reports them.
    fn free(&self) -> u64 {
        let out = Command::new("df").args(["-B1", "--output=avail"]).arg(&self.path).output().expect("df");
        let text = String::from_utf8_lossy(&out.stdout);
        text.lines().nth(1).and_then(|l| l.trim().parse().ok()).unwrap_or_else(|| panic!("df said {text:?}"))
    }

    /// Writes a filler file leaving about `leave` bytes free; returns its path.
    fn fill(&self, leave: u64) -> PathBuf {
        let path = self.path.join("filler");
        let mut f = std::fs::File::create(&path).expect("filler");
        let chunk = vec![0x5au8; 1 << 16];
        let mut left = self.free().saturating_sub(leave);
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).expect("writing filler");
            left -= n as u64;
        }
        f.sync_all().expect("filler sync");
        path
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        // servers were stopped by their own guards first; fall back to a lazy unmount
        let ok = Command::new("umount").arg(&self.path).status().is_ok_and(|s| s.success());
        if !ok {
            let _ = Command::new("umount").arg("-l").arg(&self.path).status();
        }
    }
}

/// Records per batch.
const RECORDS: u64 = 2000;

/// Batch `b`: `RECORDS` A records under `b{b}.full.test`, name `i` counted `i % 3 + 1` times.
fn body(b: u64) -> String {
    let mut s = String::with_capacity(RECORDS as usize * 120);
    for i in 0..RECORDS {
        s.push_str(&format!(
            "{}.000000||192.0.2.1||192.0.2.53||IN||host-{i}.with-a-longer-label-to-take-room.b{b}.full.test.||A||\
             198.51.100.{}||60||{}\n",
            1_704_067_200 + b,
            i % 250 + 1,
            i % 3 + 1
        ));
    }
    s
}

/// Posts batch `b` with its id; returns (status, body).
fn post(url: &str, b: u64) -> (u16, String) {
    let mut r = common::agent()
        .post(format!("{url}/api/v1/observations?format=passivedns&sensor=full"))
        .header("X-Batch-Id", &format!("full-{b}"))
        .send(body(b).as_bytes())
        .unwrap_or_else(|e| panic!("batch {b}: the server answers while the disk is full: {e}"));
    (r.status().as_u16(), r.body_mut().read_to_string().expect("body"))
}

/// Checks that exactly the batches `acked` are stored, each record with its count.
fn assert_stored(url: &str, acked: &[u64]) {
    let doc = common::lookup(url, "rrset/name/%2A.full.test?limit=0");
    assert_eq!(doc["limited"], false);
    let mut per_batch: HashMap<u64, u64> = HashMap::new();
    for r in doc["records"].as_array().expect("records") {
        let name = r["rrname"].as_str().expect("rrname");
        let parts: Vec<&str> = name.split('.').collect();
        let i: u64 = parts[0].trim_start_matches("host-").parse().expect("i");
        let b: u64 = parts[2][1..].parse().expect("b");
        assert_eq!(r["count"].as_u64(), Some(i % 3 + 1), "{name}: wrong count (lost or doubled)");
        *per_batch.entry(b).or_default() += 1;
    }
    for b in acked {
        assert_eq!(per_batch.get(b).copied(), Some(RECORDS), "acknowledged batch {b} not stored whole");
    }
    assert_eq!(per_batch.len(), acked.len(), "batches stored that were never acknowledged: {per_batch:?}");
}

#[test]
fn store_on_a_full_disk_refuses_then_recovers() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = Tmpfs::mount(&dir.path().join("mnt"), 32);
    let data = fs.path.join("store");
    // a 2 MiB reserve (the default, 128 MiB, is more than this whole filesystem): writes are
    // refused before RocksDB itself runs out of space
    let config = dir.path().join("dnsledger.toml");
    std::fs::write(&config, "[store]\nmin_free_mib = 2\n").expect("config");
    let config = config.to_str().expect("utf-8 path").to_string();
    let server = Server::start(&data, &["--config", &config]);
    let url = server.url.clone();
    let filler = fs.fill(6 << 20);

    // ingest until the disk is full
    let mut acked = Vec::new();
    let mut refused = None;
    for b in 0..200 {
        let (status, text) = post(&url, b);
        match status {
            200 => acked.push(b),
            507 => {
                assert!(
                    text.contains("no space left on device while writing the store"),
                    "507 without a clear reason: {text}"
                );
                // refused by the reserve, before RocksDB itself ran out of space
                assert!(text.contains("below the reserve"), "{text}");
                refused = Some(b);
                break;
            }
            s => panic!("batch {b}: unexpected answer {s}: {text}"),
        }
    }
    let first_refused = refused.expect("the disk never filled up");
    assert!(!acked.is_empty(), "nothing was acknowledged before the disk filled up");

    // refused again at once while full, the server still up and answering lookups
    let mut refused = vec![first_refused];
    for b in first_refused + 1..first_refused + 4 {
        let (status, text) = post(&url, b);
        assert_eq!(status, 507, "{text}");
        refused.push(b);
    }
    assert_stored(&url, &acked);
    let (status, ready) = common::get(&format!("{url}/readyz"));
    assert_eq!(status, 503, "readyz while the disk is full: {ready}");
    assert!(ready.contains("No space left on device"), "{ready}");
    let (_, metrics) = common::get(&format!("{url}/metrics"));
    assert!(common::figure(&metrics, "dnsledger_store_no_space_total") >= 1.0, "not counted:\n{metrics}");
    assert!(
        common::figure(&metrics, "dnsledger_http_requests_total{route=\"ingest\",status=\"507\"}") >= 4.0,
        "507s not counted"
    );

    // space returns: the refused batches go through on retry (same ids), then new ones
    std::fs::remove_file(&filler).expect("removing the filler");
    let deadline = Instant::now() + Duration::from_secs(30);
    for &b in &refused {
        loop {
            let (status, text) = post(&url, b);
            if status == 200 {
                acked.push(b);
                break;
            }
            assert_eq!(status, 507, "{text}");
            assert!(Instant::now() < deadline, "ingest did not resume after space was freed: {text}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    let next = refused.last().copied().unwrap_or(first_refused) + 1;
    for b in next..next + 3 {
        let (status, text) = post(&url, b);
        assert_eq!(status, 200, "{text}");
        acked.push(b);
    }
    assert_eq!(common::get(&format!("{url}/readyz")).0, 200);
    assert_stored(&url, &acked);

    // a clean shutdown and a clean start on the same store
    assert!(server.terminate(), "server did not shut down cleanly after the full disk");
    let server = Server::start(&data, &["--config", &config]);
    assert_eq!(common::get(&format!("{}/readyz", server.url)).0, 200);
    assert_stored(&server.url, &acked);
    eprintln!(
        "{} batches acknowledged, first refusal at batch {first_refused}, {} refused then resent; {:.1} s",
        acked.len(),
        refused.len(),
        t0.elapsed().as_secs_f64()
    );
    drop(server);
}

/// A capture of `n` names under `{zone}`, each answered once.
fn capture(path: &Path, zone: &str, n: u64) {
    let mut p = Pcap::new();
    for i in 0..n {
        let name = format!("host-{i}.{zone}.");
        p.dns(
            1_704_067_200.0 + i as f64 * 1e-3,
            &a_response(i as u16, &name, [198, 51, 100, (i % 250 + 1) as u8], 300),
        );
    }
    p.write(path);
}

fn sensor(pcap: &Path, url: &str, spool: &Path) -> std::process::Output {
    common::bin()
        .arg("sensor")
        .arg("-r")
        .arg(pcap)
        .args(["--server", url, "--sensor", "full", "--spool-dir"])
        .arg(spool)
        .output()
        .expect("running dnsledger sensor")
}

#[test]
fn sensor_spool_on_a_full_disk_fails_loudly_and_keeps_what_it_had() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fs = Tmpfs::mount(&dir.path().join("mnt"), 4);
    let spool = fs.path.join("spool");
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let listen = format!("127.0.0.1:{port}");
    let url = format!("http://{listen}");

    // collector down: a first batch is spooled while there is room
    let small = dir.path().join("small.pcap");
    capture(&small, "spooled.full.test", 50);
    let out = sensor(&small, &url, &spool);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let spooled = || -> Vec<String> {
        std::fs::read_dir(&spool)
            .expect("spool")
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().to_string())
            .collect()
    };
    assert_eq!(spooled().len(), 1);

    // the disk fills up: the next batch cannot be spooled; the sensor says so and fails
    let filler = fs.fill(0);
    let big = dir.path().join("big.pcap");
    capture(&big, "lost.full.test", 20_000);
    let out = sensor(&big, &url, &spool);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a batch that could not be spooled was reported as handled: {err}");
    assert!(err.contains("No space left on device") && err.contains("spooling to"), "{err}");
    // the batch spooled before is intact, and nothing half-written is left behind
    assert_eq!(spooled().len(), 1, "{:?}", spooled());

    // space back, collector up: the spooled batch is delivered, once
    std::fs::remove_file(&filler).expect("removing the filler");
    let data = dir.path().join("store");
    let server = Server::start_at(&data, &listen, &[]);
    let empty = dir.path().join("empty.pcap");
    Pcap::new().write(&empty);
    let out = sensor(&empty, &url, &spool);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(spooled().is_empty(), "{:?}", spooled());
    let doc = common::lookup(&server.url, "rrset/name/%2A.spooled.full.test?limit=0");
    let records = doc["records"].as_array().expect("records");
    assert_eq!(records.len(), 50);
    assert!(records.iter().all(|r| r["count"] == 1), "{doc}");
    drop(server);
}
