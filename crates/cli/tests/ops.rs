//! End-to-end: `dnsledger stats`, `check`, `backup` and `restore` through the binary, on stores
//! written by `dnsledger import` and by a running server's HTTP ingest.
//!
//! - the figures of `stats` are those of an independent count of the imported file;
//! - `check` and `stats` work while `dnsledger serve` holds the store, `backup DEST` then points
//!   at `--server`, and `restore --force` refuses the store in use;
//! - a backup restored elsewhere answers every lookup as the original does and has its figures;
//! - a store with flipped bytes in an SST file fails `check` (exit 1, the engine's reason) and
//!   `restore` refuses it as a backup;
//! - `POST /api/v1/admin/backup` (through `dnsledger backup --server`) while observations are
//!   ingested over HTTP: only admin keys, and the backup holds a prefix of the acknowledged
//!   batches, each complete.

mod common;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use common::{agent, ok, run, Server};

/// 2024-01-01T00:00:00Z.
const T0: u64 = 1_704_067_200;

/// One generated observation: its passivedns line (NDJSON for negative answers, which
/// passivedns logs do not keep) and the record it stands for (name, type, rdata; `None` for
/// NXDOMAIN).
fn line(i: u64) -> (String, (String, &'static str, Option<String>)) {
    let name = format!("h{}.zone{}.example.com.", i % 700, i % 7);
    let (ty, rdata) = match i % 8 {
        0..=2 => ("A", Some(format!("192.0.{}.{}", (i / 3) % 4, i % 200))),
        3 => ("AAAA", Some(format!("2001:db8::{:x}", i % 90))),
        4 => ("NS", Some(format!("ns{}.dnsprov.net.", i % 5))),
        5 => ("MX", Some(format!("mail{}.example.net.", i % 3))),
        6 => ("CNAME", Some(format!("t{}.example.org.", i % 11))),
        _ if i % 16 == 7 => ("A", None),
        _ => ("TXT", Some(format!("\"v=spf1 ip4:192.0.2.{} -all\"", i % 13))),
    };
    let ts = T0 + i * 7;
    let text = match &rdata {
        Some(r) => format!("{ts}.000000||10.0.0.1||10.0.0.53||IN||{name}||{ty}||{r}||300||1\n"),
        None => format!("{{\"rrname\":\"{name}\",\"rrtype\":\"A\",\"negative\":\"NXDOMAIN\",\"time\":{ts}}}\n"),
    };
    (text, (name, ty, rdata))
}

/// Writes observations `range` to `path` (passivedns) and `path`.ndjson (negative answers);
/// returns the distinct records and observations per type (`NXDOMAIN` for negative ones),
/// counted here independently of dnsledger.
fn corpus(path: &Path, range: std::ops::Range<u64>) -> BTreeMap<String, (u64, u64)> {
    let (mut text, mut negative) = (String::new(), String::new());
    let mut seen = HashSet::new();
    let mut per_type: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for i in range {
        let (l, rec) = line(i);
        let key = if rec.2.is_none() { "NXDOMAIN".to_string() } else { rec.1.to_string() };
        if rec.2.is_none() {
            negative.push_str(&l);
        } else {
            text.push_str(&l);
        }
        let e = per_type.entry(key).or_default();
        if seen.insert(rec) {
            e.0 += 1;
        }
        e.1 += 1;
    }
    std::fs::write(path, text).expect("write corpus");
    std::fs::write(ndjson_of(path), negative).expect("write corpus");
    per_type
}

fn ndjson_of(path: &Path) -> PathBuf {
    path.with_extension("ndjson")
}

/// Imports what [`corpus`] wrote into the store `dir`.
fn import(path: &Path, dir: &Path, sensor: &str) {
    for (file, format) in [(path.to_path_buf(), "passivedns"), (ndjson_of(path), "ndjson")] {
        let out = run(&[
            "import",
            s(&file),
            "--format",
            format,
            "--negative",
            "--sensor",
            sensor,
            "-q",
            "--data-dir",
            s(dir),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// `dnsledger stats --json` without what differs between copies of one store.
fn figures(dir: &Path) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(&ok(&["stats", "--json", "-q", "--data-dir", s(dir)])).unwrap();
    let o = v.as_object_mut().unwrap();
    for k in ["store", "seconds", "disk_bytes", "engine", "checkpoints"] {
        o.remove(k);
    }
    v
}

/// Every record of the store, as lookups return it: all RRsets (negative included) and every
/// address record, sorted.
fn dump(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for args in
        [vec!["-r", "*.", "--negative", "include"], vec!["-i", "0.0.0.0/0"], vec!["-i", "::/0"], vec!["-n", "*.net"]]
    {
        let mut full = vec!["query"];
        full.extend(args);
        full.extend(["-f", "json", "-l", "0", "--data-dir", s(dir)]);
        out.extend(ok(&full).lines().map(str::to_string));
    }
    out.sort();
    out
}

fn check_json(dir: &Path) -> (Option<i32>, serde_json::Value) {
    let out = run(&["check", "--json", "-q", "--data-dir", s(dir)]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("check --json: {e}: {}", String::from_utf8_lossy(&out.stderr)));
    (out.status.code(), v)
}

fn assert_clean(dir: &Path) {
    let (code, v) = check_json(dir);
    assert_eq!(code, Some(0), "{v:#}");
    assert_eq!(v["clean"], true);
    let idx = v["indexes"].as_array().unwrap();
    assert_eq!(idx.len(), 5);
    for a in idx {
        assert!(a["keys_agree"] == true && a["values_agree"] == true && a["expected"] == a["present"], "{a}");
    }
}

fn stderr_of(args: &[&str]) -> (Option<i32>, String) {
    let out = run(args);
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// Copies the files of a store directory.
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn stats_check_backup_and_restore_of_an_embedded_store() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let file = t.join("passivedns.log");
    let expected = corpus(&file, 0..40_000);
    let a = t.join("a");
    import(&file, &a, "fra-1");

    // stats: the independent count of the file
    let v: serde_json::Value = serde_json::from_str(&ok(&["stats", "--json", "-q", "--data-dir", s(&a)])).unwrap();
    let mut got: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for (k, c) in v["rrtypes"].as_object().unwrap().iter().chain(v["negative"].as_object().unwrap()) {
        got.insert(k.clone(), (c["records"].as_u64().unwrap(), c["observations"].as_u64().unwrap()));
    }
    assert_eq!(got, expected);
    assert_eq!(v["observations"], 40_000);
    assert_eq!(v["seen"]["first"], T0);
    assert_eq!(v["seen"]["last"], T0 + 39_999 * 7);
    assert_eq!(v["zone"], serde_json::Value::Null);
    assert_eq!(v["sensors"][0]["name"], "fra-1");
    assert_eq!(v["sensors"][0]["records"], v["records"]);
    assert_eq!(v["checkpoints"].as_array().unwrap().len(), 2);
    assert!(v["checkpoints"].to_string().contains("passivedns.log"), "{v}");
    assert!(v["disk_bytes"].as_u64().unwrap() > 0);
    assert!(v["index"]["ipv4"].as_u64().unwrap() > 0 && v["index"]["target_names"].as_u64().unwrap() > 0, "{v}");
    let table = ok(&["stats", "-q", "--data-dir", s(&a)]);
    assert!(table.contains("TYPE") && table.contains("NXDOMAIN") && table.contains("fra-1"), "{table}");
    assert!(table.contains("2024-01-01 00:00:00 .. "), "{table}");

    // check: clean, in text and JSON
    let text = ok(&["check", "-q", "--data-dir", s(&a)]);
    assert!(text.contains("result        clean"), "{text}");
    assert_clean(&a);
    let before = figures(&a);
    let lookups = dump(&a);
    assert!(lookups.len() > 10_000, "{}", lookups.len());

    // while a server holds the store: check and stats work, backup DEST and restore do not
    {
        let server = Server::start(&a, &[]);
        assert_clean(&a);
        assert_eq!(figures(&a), before);
        let (code, err) = stderr_of(&["backup", "--data-dir", s(&a), s(&t.join("nope"))]);
        assert_eq!(code, Some(1));
        assert!(err.contains("in use") && err.contains("--server"), "{err}");
        assert!(!t.join("nope").exists());
        assert!(server.terminate());
    }

    // backup, restore elsewhere: same answers, same figures, clean
    let b1 = t.join("backups").join("b1");
    let out = ok(&["backup", "--data-dir", s(&a), s(&b1)]);
    assert_eq!(out.trim(), s(&b1));
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(b1.join("dnsledger-backup.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "dnsledger-backup-1");
    assert_eq!(manifest["store_schema"], "dnsledger-store-1");
    let (code, err) = stderr_of(&["backup", "--data-dir", s(&a), s(&b1)]);
    assert_eq!(code, Some(1));
    assert!(err.contains("exists already"), "{err}");
    let c = t.join("c");
    let (code, err) = stderr_of(&["restore", s(&b1), "--data-dir", s(&c), "-q"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(err.contains("clean") && err.contains("restored into"), "{err}");
    assert!(!c.join("dnsledger-backup.json").exists());
    assert_eq!(figures(&c), before);
    assert_eq!(dump(&c), lookups);
    assert_clean(&c);

    // restoring over a store: refused without --force; with it the old store is moved aside
    write_more(&c, t);
    let changed = figures(&c);
    assert_ne!(changed, before);
    let (code, err) = stderr_of(&["restore", s(&b1), "--data-dir", s(&c), "-q"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("not empty") && err.contains("--force"), "{err}");
    {
        let server = Server::start(&c, &[]);
        let (code, err) = stderr_of(&["restore", s(&b1), "--data-dir", s(&c), "--force", "-q"]);
        assert_eq!(code, Some(1));
        assert!(err.contains("in use"), "{err}");
        assert!(server.terminate());
    }
    let (code, err) = stderr_of(&["restore", s(&b1), "--data-dir", s(&c), "--force", "-q"]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(figures(&c), before);
    let aside: Vec<PathBuf> = std::fs::read_dir(t)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.file_name().unwrap().to_str().unwrap().starts_with("c.before-restore-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert_eq!(figures(&aside[0]), changed);

    // flipped bytes in an SST file: check reports the engine's reason, restore refuses
    let broken = t.join("broken");
    copy_dir(&b1, &broken);
    let mut ssts: Vec<PathBuf> = std::fs::read_dir(&broken)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sst"))
        .collect();
    ssts.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
    let victim = ssts.pop().expect("an SST file");
    let mut bytes = std::fs::read(&victim).unwrap();
    for b in &mut bytes[300..320] {
        *b ^= 0xa5;
    }
    std::fs::write(&victim, bytes).unwrap();
    let (code, v) = check_json(&broken);
    assert_eq!(code, Some(1), "{v:#}");
    assert_eq!(v["clean"], false);
    assert!(
        v["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["kind"] == "engine" && p["reason"].as_str().unwrap().contains("Corruption")),
        "{v:#}"
    );
    let text = run(&["check", "-q", "--data-dir", s(&broken)]);
    assert_eq!(text.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&text.stdout).contains("engine: reading stopped"));
    let d = t.join("d");
    let (code, err) = stderr_of(&["restore", s(&broken), "--data-dir", s(&d), "-q"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("failed its check") && err.contains("Corruption"), "{err}");
    assert!(!d.exists());

    // ClickHouse stores are pointed to ClickHouse's own tools
    for args in [
        vec!["backup", "--clickhouse", "http://127.0.0.1:9", s(&t.join("x"))],
        vec!["restore", s(&b1), "--clickhouse", "http://127.0.0.1:9"],
    ] {
        let (code, err) = stderr_of(&args);
        assert_eq!(code, Some(1));
        assert!(err.contains("Back ClickHouse up with its own tools") && err.contains("migrate"), "{err}");
    }
}

/// Imports a few more lines into the store in `dir`.
fn write_more(dir: &Path, tmp: &Path) {
    let more = tmp.join("more.log");
    corpus(&more, 50_000..50_100);
    import(&more, dir, "ams-2");
}

/// The batches ingested over HTTP: `n{i}-{j}.ingest.example` A records, j < 20.
const PER_POST: u64 = 20;

fn post_body(i: u64) -> String {
    (0..PER_POST)
        .map(|j| {
            format!("{}.000000||10.0.0.1||10.0.0.53||IN||n{i}-{j}.ingest.example.||A||198.51.100.{j}||60||1\n", T0 + i)
        })
        .collect()
}

/// The `i` of every complete post found in the store, and whether any post is partial.
fn posts_in(dir: &Path) -> (BTreeSet<u64>, bool) {
    let out = ok(&["query", "-r", "*.ingest.example", "-f", "json", "-l", "0", "--data-dir", s(dir)]);
    let mut per: BTreeMap<u64, u64> = BTreeMap::new();
    for l in out.lines() {
        let v: serde_json::Value = serde_json::from_str(l).unwrap();
        let name = v["rrname"].as_str().unwrap();
        let i: u64 = name.trim_start_matches('n').split('-').next().unwrap().parse().unwrap();
        *per.entry(i).or_default() += 1;
    }
    let partial = per.values().any(|&n| n != PER_POST);
    (per.keys().copied().collect(), partial)
}

#[test]
fn online_backup_while_ingesting_over_http() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let file = t.join("passivedns.log");
    corpus(&file, 0..20_000);
    let a = t.join("a");
    import(&file, &a, "fra-1");
    let keys = t.join("keys.toml");
    let key = |name: &str, admin: bool| {
        let mut args = vec!["key", "add", name, "--keys-file", s(&keys)];
        if admin {
            args.push("--admin");
        }
        ok(&args).trim().to_string()
    };
    let ops = key("ops", true);
    let soc = key("soc", false);
    let listed = ok(&["key", "list", "--json", "--keys-file", s(&keys)]);
    let admins: Vec<bool> =
        listed.lines().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["admin"] == true).collect();
    assert_eq!(admins, [true, false]);
    let bdir = t.join("backups");
    let server = Server::start(&a, &["--backup-dir", s(&bdir), "--keys-file", s(&keys)]);
    let url = server.url.clone();

    // ingest over HTTP until told to stop; count acknowledged posts
    let stop = Arc::new(AtomicBool::new(false));
    let acked = Arc::new(AtomicUsize::new(0));
    let ingest = {
        let (stop, acked, url, soc) = (stop.clone(), acked.clone(), url.clone(), soc.clone());
        std::thread::spawn(move || {
            let agent = agent();
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let resp = agent
                    .post(&format!("{url}/api/v1/observations?format=passivedns&sensor=http-1"))
                    .header("X-API-Key", &soc)
                    .send(post_body(i).as_bytes())
                    .expect("POST");
                assert_eq!(resp.status().as_u16(), 200);
                i += 1;
                acked.store(i as usize, Ordering::Relaxed);
            }
        })
    };
    while acked.load(Ordering::Relaxed) < 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // a key that is not an admin key is refused; the admin key writes the backup
    let (code, err) = stderr_of(&["backup", "--server", &url, "--key", &soc, "--name", "online"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("403") && err.contains("admin"), "{err}");
    let (code, err) = stderr_of(&["backup", "--server", &url, "--name", "online"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("403"), "{err}");
    let during = acked.load(Ordering::Relaxed) as u64;
    let out = ok(&["backup", "--server", &url, "--key", &ops, "--name", "online", "--json"]);
    let after = acked.load(Ordering::Relaxed) as u64;
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    let online = bdir.join("online");
    assert_eq!(info["path"], s(&online));
    assert!(info["files"].as_u64().unwrap() >= 4 && info["bytes"].as_u64().unwrap() > 0, "{info}");
    let (code, err) = stderr_of(&["backup", "--server", &url, "--key", &ops, "--name", "online"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("409") && err.contains("exists already"), "{err}");
    let (code, err) = stderr_of(&["backup", "--server", &url, "--key", &ops, "--name", "../escape"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("400"), "{err}");
    while acked.load(Ordering::Relaxed) < after as usize + 20 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    ingest.join().expect("ingest thread");
    let total = acked.load(Ordering::Relaxed) as u64;
    // once ingest has stopped, a second backup holds everything
    let quiet_path = ok(&["backup", "--server", &url, "--key", &ops, "--name", "quiet"]).trim().to_string();
    assert_eq!(quiet_path, s(&bdir.join("quiet")));
    assert!(server.terminate());

    // the online backup: a clean store holding every post acknowledged before the backup was
    // asked for, none after it was answered, each post whole
    let r1 = t.join("r1");
    ok(&["restore", s(&online), "--data-dir", s(&r1), "-q"]);
    assert_clean(&r1);
    let (posts, partial) = posts_in(&r1);
    assert!(!partial);
    let n = posts.len() as u64;
    assert_eq!(posts, (0..n).collect::<BTreeSet<u64>>(), "a prefix of the posts");
    // (a post can be in the checkpoint a moment before its answer is counted)
    assert!(n >= during && n <= after + 1, "{during} <= {n} <= {after} + 1");
    assert!(n < total);
    // the quiet backup equals the store
    let r2 = t.join("r2");
    ok(&["restore", s(&bdir.join("quiet")), "--data-dir", s(&r2), "-q"]);
    assert_clean(&r2);
    assert_eq!(figures(&r2), figures(&a));
    assert_eq!(dump(&r2), dump(&a));
    assert_eq!(posts_in(&a).0.len() as u64, total);
}
