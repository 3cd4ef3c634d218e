//! End-to-end: the ClickHouse store through the `dnsledger` binary, against real ClickHouse
//! servers — `clickhouse init` (single node, a 2-shard cluster, a replicated cluster), `import`,
//! `serve` (lookups and ingest over HTTP), `query`, `compact` and `migrate` — each checked
//! against the same data in an embedded store, whose answers must be identical.
//!
//! The servers come from the test command (scripts/test.sh starts them with
//! scripts/clickhouse.sh): `DNSLEDGER_TEST_CLICKHOUSE` (a single node's HTTP URL),
//! `DNSLEDGER_TEST_CLICKHOUSE_SHARDS` (two HTTP URLs, comma-separated),
//! `DNSLEDGER_TEST_CLICKHOUSE_CLUSTER` (the 2-shard cluster they form) and
//! `DNSLEDGER_TEST_CLICKHOUSE_REPLICATED_CLUSTER` (1 shard x 2 replicas on the same two
//! servers). Every test works in a database of its own and drops it at the end.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{bin, get, ok, post, run};

fn env(var: &str) -> String {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v,
        _ => panic!(
            "{var} is not set: these tests need real ClickHouse servers; run scripts/test.sh (which starts them), \
             or start them with `scripts/clickhouse.sh start DIR` and `eval \"$(scripts/clickhouse.sh env DIR)\"`"
        ),
    }
}

/// The single node's HTTP URL.
fn single_node() -> String {
    env("DNSLEDGER_TEST_CLICKHOUSE")
}

/// The 2-shard cluster's servers and name.
fn two_shards() -> (Vec<String>, String) {
    let urls: Vec<String> = env("DNSLEDGER_TEST_CLICKHOUSE_SHARDS").split(',').map(|u| u.trim().to_string()).collect();
    assert_eq!(urls.len(), 2, "DNSLEDGER_TEST_CLICKHOUSE_SHARDS must list two URLs");
    (urls, env("DNSLEDGER_TEST_CLICKHOUSE_CLUSTER"))
}

/// Runs one statement on a ClickHouse server; returns its output.
fn sql(url: &str, statement: &str) -> String {
    let (status, body) = post(url, statement.as_bytes()).expect("reaching ClickHouse");
    assert_eq!(status, 200, "{statement}: {body}");
    body
}

/// A database of one test, dropped on every server at the end (also when the test fails).
struct Db {
    name: String,
    servers: Vec<String>,
}

impl Db {
    fn new(servers: &[String]) -> Db {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("dnsledger_t_{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed));
        let db = Db { name, servers: servers.to_vec() };
        db.drop_everywhere();
        db
    }

    fn drop_everywhere(&self) {
        for s in &self.servers {
            let _ = post(s, format!("DROP DATABASE IF EXISTS `{}`", self.name).as_bytes());
        }
    }

    /// Rows of `table` on one server (its local table).
    fn rows(&self, server: &str, table: &str) -> u64 {
        let out = sql(server, &format!("SELECT count() FROM `{}`.{table} FORMAT TabSeparated", self.name));
        out.trim().parse().expect("a count")
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        self.drop_everywhere();
    }
}

/// `["a", "b"]` in TOML.
fn toml_list(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Writes a configuration file selecting ClickHouse with `section` as `[store.clickhouse]`.
fn ch_config(dir: &Path, file: &str, section: &str) -> String {
    let p = dir.join(file);
    std::fs::write(&p, format!("[store]\nkind = \"clickhouse\"\n\n[store.clickhouse]\n{section}")).expect("config");
    p.to_str().expect("utf-8").to_string()
}

/// Synthetic passivedns log lines: A, AAAA, CNAME, MX and NS records over a few hundred names,
/// with NXDOMAIN answers, spread over two days from 2024-01-01; the names the lookups below
/// ask for first.
fn log(lines: usize, seed: u64, nx: bool) -> String {
    let mut x = seed | 1;
    let mut out = String::new();
    for (owner, ty, rdata) in [
        ("h1.d7.example.com.", "A", "10.1.3.7"),
        ("h2.d17.example.com.", "A", "10.3.2.17"),
        ("www12.example.net.", "CNAME", "h0.d12.example.com."),
        ("h0.d12.example.com.", "A", "10.0.0.12"),
        ("d5.example.com.", "NS", "ns1.example.net."),
        ("d3.example.com.", "MX", "mail3.example.org."),
    ] {
        out.push_str(&format!("1704067200.000000||10.0.0.1||10.0.0.53||IN||{owner}||{ty}||{rdata}||300||1\n"));
    }
    for i in 0..lines {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let t = 1_704_067_200 + (i as u64) * 61 + (x % 60);
        let (d, h) = (x % 300, (x >> 12) % 4);
        let name = format!("h{h}.d{d}.example.com.");
        let (owner, ty, rdata, ttl) = match i % 10 {
            0..=4 => (name, "A", format!("10.{}.{h}.{}", d % 4, (x >> 20) % 256), 300),
            5 => (name, "AAAA", format!("2001:db8::{d:x}:{h}"), 600),
            6 => (format!("www{d}.example.net."), "CNAME", name, 3600),
            7 => (format!("d{d}.example.com."), "MX", format!("mail{}.example.org.", d % 7), 3600),
            8 => (format!("d{d}.example.com."), "NS", format!("ns{}.example.net.", d % 3), 86400),
            _ if nx && (i / 10) % 2 == 0 => (format!("gone{d}.example.net."), "A", "NXDOMAIN".to_string(), 0),
            _ => (name, "A", format!("10.9.{h}.{}", d % 256), 60),
        };
        let count = 1 + (x >> 30) % 5;
        out.push_str(&format!("{t}.000000||10.0.0.1||10.0.0.53||IN||{owner}||{ty}||{rdata}||{ttl}||{count}\n"));
    }
    out
}

/// Two log files (two sensors seeing overlapping names) in `dir`.
fn logs(dir: &Path) -> (String, String) {
    let a = dir.join("fra.log");
    let b = dir.join("ams.log");
    std::fs::write(&a, log(2500, 7, true)).expect("log");
    std::fs::write(&b, log(1500, 11, true)).expect("log");
    (a.to_str().expect("utf-8").to_string(), b.to_str().expect("utf-8").to_string())
}

/// Imports the two logs into the store `store` names (extra arguments of `dnsledger import`).
fn import_logs(files: &(String, String), store: &[&str]) {
    for (f, sensor) in [(&files.0, "fra-1"), (&files.1, "ams-2")] {
        let mut args = vec!["import", f.as_str(), "--negative", "--sensor", sensor, "-q"];
        args.extend_from_slice(store);
        ok(&args);
    }
}

/// The lookups compared between stores: exact, wildcard, address, rdata name, fences,
/// negative answers, in each output format.
const QUERIES: &[&[&str]] = &[
    &["query", "h1.d7.example.com"],
    &["query", "-r", "h1.d7.example.com", "-f", "json"],
    &["query", "-r", "*.example.com", "-f", "json", "-l", "0"],
    &["query", "-r", "*.example.com", "-t", "A", "-f", "csv", "-l", "0"],
    &["query", "-r", "*.example.com", "-l", "25", "--offset", "10", "-f", "json"],
    &["query", "-r", "h2.d17.*", "-f", "json", "-l", "0"],
    &["query", "-r", "h2.*", "-f", "json", "-l", "0"],
    &["query", "-r", "d5.example.com/NS", "-f", "json"],
    &["query", "-r", "*.example.net", "--negative", "include", "-f", "json", "-l", "0"],
    &["query", "-r", "*.example.com", "-A", "2024-01-01 06:00:00", "-B", "2024-01-01 12:00:00", "-c", "-f", "json"],
    &["query", "-r", "*.example.com", "-A", "2024-01-02 12:00:00", "-f", "json", "-l", "0"],
    &["query", "-i", "10.0.0.0/8", "-f", "json", "-l", "0"],
    &["query", "-i", "10.2.0.0/16", "-f", "json", "-l", "0"],
    &["query", "10.1.3.0/24"],
    &["query", "-i", "10.9.0.0-10.9.1.255", "-f", "json", "-l", "0"],
    &["query", "-i", "2001:db8::/32", "-f", "json", "-l", "0"],
    &["query", "-n", "mail3.example.org", "-f", "json", "-l", "0"],
    &["query", "-n", "ns1.example.net", "-t", "NS", "-f", "json", "-l", "0"],
    &["query", "-n", "h0.d12.example.com", "-t", "CNAME", "-f", "json"],
    &["query", "-N", "0a010307", "-f", "json"],
];

/// Native API lookups compared between servers.
const API_PATHS: &[&str] = &[
    "rrset/name/h1.d7.example.com",
    "rrset/name/*.example.com?limit=0",
    "rrset/name/*.example.com/A?limit=100&offset=50",
    "rrset/name/h3.*?limit=0&time_first_after=1704100000",
    "rrset/name/*.example.net?negative=include&limit=0",
    "rdata/ip/10.0.0.0,8?limit=0",
    "rdata/ip/10.3.2.0,24?limit=0",
    "rdata/ip/2001:db8::,32?limit=0",
    "rdata/name/mail3.example.org?limit=0",
];

/// Runs the binary, failing the test if it does not succeed within two minutes (a lookup
/// that never ends must fail the test, not hang it).
fn ok_in_time(args: &[&str]) -> String {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("running dnsledger");
    let (mut out, mut err) = (child.stdout.take().expect("stdout"), child.stderr.take().expect("stderr"));
    let reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut out, &mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = std::io::Read::read_to_end(&mut err, &mut v);
        v
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(st) = child.try_wait().expect("waiting for dnsledger") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("dnsledger {args:?} did not finish within 120 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = reader.join().expect("stdout reader");
    let stderr = err_reader.join().expect("stderr reader");
    assert!(status.success(), "dnsledger {args:?} failed: {status}\nstderr: {}", String::from_utf8_lossy(&stderr));
    String::from_utf8(stdout).expect("utf-8 stdout")
}

/// Runs every query of [`QUERIES`] against a store; returns the outputs.
fn query_outputs(store: &[&str]) -> Vec<String> {
    QUERIES
        .iter()
        .map(|q| {
            let mut args = q.to_vec();
            args.extend_from_slice(store);
            ok_in_time(&args)
        })
        .collect()
}

/// Asserts that the store `store` answers every query as the embedded store `data` does.
fn assert_same_answers(data: &str, store: &[&str]) {
    let expected = query_outputs(&["--data-dir", data]);
    // the comparison means something only if the lookups find records
    for (q, out) in QUERIES.iter().zip(&expected) {
        assert!(!out.trim().is_empty() && !out.contains("no records"), "{q:?} finds nothing: {out}");
    }
    let got = query_outputs(store);
    for ((q, e), g) in QUERIES.iter().zip(&expected).zip(&got) {
        assert!(e == g, "{q:?} differs between the embedded store and {store:?}\nembedded:\n{e}\nclickhouse:\n{g}");
    }
}

/// A running `dnsledger serve`.
struct Serve {
    child: Child,
    url: String,
}

impl Serve {
    fn start(store: &[&str]) -> Serve {
        match Serve::try_start(store) {
            Ok(s) => s,
            Err(lines) => panic!("server exited before listening: {lines:?}"),
        }
    }

    /// Starts a server; on failure returns what it printed.
    fn try_start(store: &[&str]) -> Result<Serve, Vec<String>> {
        let mut child = bin()
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(store)
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting dnsledger serve");
        let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut seen = Vec::new();
        let url = loop {
            assert!(Instant::now() < deadline, "server did not start: {seen:?}");
            match lines.next() {
                Some(Ok(l)) => {
                    if let Some(rest) = l.split("listening on ").nth(1) {
                        break rest.trim().to_string();
                    }
                    seen.push(l);
                }
                _ => {
                    let _ = child.wait();
                    return Err(seen);
                }
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Ok(Serve { child, url })
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A native lookup's records and `limited` flag.
fn api_lookup(base: &str, path: &str) -> (serde_json::Value, serde_json::Value) {
    let (status, body) = get(&format!("{base}/api/v1/lookup/{path}"));
    assert_eq!(status, 200, "{path}: {body}");
    let doc: serde_json::Value = serde_json::from_str(&body).expect("lookup JSON");
    (doc["records"].clone(), doc["limited"].clone())
}

/// Asserts that two servers answer every [`API_PATHS`] lookup identically.
fn assert_same_api(embedded: &Serve, other: &Serve) {
    for path in API_PATHS {
        let e = api_lookup(&embedded.url, path);
        assert!(e.0.as_array().is_some_and(|r| !r.is_empty()), "{path} finds nothing");
        let o = api_lookup(&other.url, path);
        assert!(e == o, "{path} differs:\nembedded: {}\nclickhouse: {}", e.0, o.0);
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn init_single_node_creates_the_schema_once() {
    let url = single_node();
    let db = Db::new(std::slice::from_ref(&url));
    let out = ok(&["clickhouse", "init", "--url", &url, "--database", &db.name]);
    assert!(out.contains(&format!("database {} migrated from schema version 0 to 1", db.name)), "{out}");
    let tables = sql(&url, &format!("SHOW TABLES FROM `{}`", db.name));
    let tables: Vec<&str> = tables.lines().collect();
    for t in ["entries", "entries_in", "entries_mv", "schema_version", "sensors"] {
        assert!(tables.contains(&t), "{t} missing: {tables:?}");
    }
    // no cluster: no Distributed tables
    assert!(!tables.contains(&"entries_all"), "{tables:?}");
    assert_eq!(db.rows(&url, "schema_version"), 1);

    // again, from a configuration file: nothing to do
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ch_config(dir.path(), "ch.toml", &format!("urls = [{url:?}]\ndatabase = {:?}\n", db.name));
    let out = ok(&["clickhouse", "init", "--config", &cfg]);
    assert!(out.contains(&format!("database {} already at schema version 1", db.name)), "{out}");
    assert_eq!(db.rows(&url, "schema_version"), 1);

    // an empty store answers lookups with nothing
    let out = ok(&["query", "-r", "*.example.com", "-f", "json", "--config", &cfg]);
    assert_eq!(out, "");
}

#[test]
fn single_node_answers_like_the_embedded_store() {
    let url = single_node();
    let db = Db::new(std::slice::from_ref(&url));
    let dir = tempfile::tempdir().expect("tempdir");
    let files = logs(dir.path());
    let data = dir.path().join("embedded").to_str().expect("utf-8").to_string();
    let cfg = ch_config(
        dir.path(),
        "ch.toml",
        // small inserts: the import is split over many exactly-once inserts
        &format!("urls = [{url:?}]\ndatabase = {:?}\nmax_rows_per_insert = 1000\n", db.name),
    );
    ok(&["clickhouse", "init", "--config", &cfg]);
    import_logs(&files, &["--data-dir", &data]);
    import_logs(&files, &["--config", &cfg]);
    assert!(db.rows(&url, "entries") > 0);
    assert_same_answers(&data, &["--config", &cfg]);

    // the command-line selection reaches the same store
    assert_same_answers(&data, &["--clickhouse", &url, "--clickhouse-database", &db.name]);

    // the same file again is recognised from the checkpoint the import stored in ClickHouse
    let out = run(&["import", &files.0, "--sensor", "fra-1", "--negative", "--config", &cfg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("already imported completely"), "{}", stderr(&out));

    // the HTTP API: lookups, then ingest through both servers, then lookups again
    let embedded = Serve::start(&["--data-dir", &data]);
    let clickhouse = Serve::start(&["--config", &cfg]);
    assert_same_api(&embedded, &clickhouse);
    let more = log(400, 23, false);
    for s in [&embedded, &clickhouse] {
        let (status, body) =
            post(&format!("{}/api/v1/observations?format=passivedns&sensor=api-3", s.url), more.as_bytes())
                .expect("POST observations");
        assert_eq!(status, 200, "{body}");
    }
    assert_same_api(&embedded, &clickhouse);
    let (status, body) = get(&format!("{}/api/v1/stats", clickhouse.url));
    assert_eq!(status, 200, "{body}");
    drop(embedded);
    drop(clickhouse);
    assert_same_answers(&data, &["--config", &cfg]);

    // compacting merges the parts and changes no answer
    let out = run(&["compact", "--config", &cfg]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("compacted ClickHouse database {}", db.name)), "{}", stderr(&out));
    assert_same_answers(&data, &["--config", &cfg]);
}

#[test]
fn two_shards_answer_like_the_embedded_store() {
    let (urls, cluster) = two_shards();
    let db = Db::new(&urls);
    let dir = tempfile::tempdir().expect("tempdir");
    let files = logs(dir.path());
    let data = dir.path().join("embedded").to_str().expect("utf-8").to_string();

    // several shards without a cluster are refused before anything is created
    let out = run(&["clickhouse", "init", "--url", &urls[0], "--url", &urls[1], "--database", &db.name]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("2 ClickHouse shards but no cluster"), "{}", stderr(&out));

    let out = ok(&[
        "clickhouse",
        "init",
        "--url",
        &urls[0],
        "--url",
        &urls[1],
        "--database",
        &db.name,
        "--cluster",
        &cluster,
    ]);
    assert_eq!(out.matches("migrated from schema version 0 to 1").count(), 2, "{out}");
    let cfg = ch_config(
        dir.path(),
        "ch.toml",
        &format!("urls = {}\ndatabase = {:?}\ncluster = {cluster:?}\n", toml_list(&urls), db.name),
    );
    import_logs(&files, &["--data-dir", &data]);
    import_logs(&files, &["--config", &cfg]);
    // the entries are spread over both shards, and reads merge them
    let (a, b) = (db.rows(&urls[0], "entries"), db.rows(&urls[1], "entries"));
    assert!(a > 0 && b > 0, "entries per shard: {a}, {b}");
    assert_same_answers(&data, &["--config", &cfg]);

    let embedded = Serve::start(&["--data-dir", &data]);
    let clickhouse = Serve::start(&["--config", &cfg]);
    assert_same_api(&embedded, &clickhouse);
}

#[test]
fn replicated_writes_on_one_replica_are_read_on_the_other() {
    let (urls, _) = two_shards();
    let cluster = env("DNSLEDGER_TEST_CLICKHOUSE_REPLICATED_CLUSTER");
    let db = Db::new(&urls);
    let dir = tempfile::tempdir().expect("tempdir");
    let files = logs(dir.path());
    let data = dir.path().join("embedded").to_str().expect("utf-8").to_string();

    // one shard whose replicas are the two servers
    let replicas = format!("{},{}", urls[0], urls[1]);
    let out =
        ok(&["clickhouse", "init", "--url", &replicas, "--database", &db.name, "--cluster", &cluster, "--replicated"]);
    assert_eq!(out.matches("migrated from schema version 0 to 1").count(), 2, "{out}");
    let engine = sql(
        &urls[1],
        &format!(
            "SELECT engine FROM system.tables WHERE database = '{}' AND name = 'entries' FORMAT TabSeparated",
            db.name
        ),
    );
    assert_eq!(engine.trim(), "ReplicatedAggregatingMergeTree");

    // write through replica 1 only ...
    let writer = ch_config(
        dir.path(),
        "r1.toml",
        &format!("urls = [{:?}]\ndatabase = {:?}\nreplicated = true\n", urls[0], db.name),
    );
    import_logs(&files, &["--data-dir", &data]);
    import_logs(&files, &["--config", &writer]);

    // ... and read through replica 2 only, once replication has caught up
    let reader = ch_config(
        dir.path(),
        "r2.toml",
        &format!("urls = [{:?}]\ndatabase = {:?}\nreplicated = true\n", urls[1], db.name),
    );
    let expected = query_outputs(&["--data-dir", &data]);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = query_outputs(&["--config", &reader]);
        if got == expected {
            break;
        }
        assert!(Instant::now() < deadline, "replica 2 never caught up with replica 1");
        std::thread::sleep(Duration::from_millis(500));
    }
    assert!(db.rows(&urls[1], "entries") > 0);

    // the whole deployment, as a configuration file describes it, reads the same
    let both = ch_config(
        dir.path(),
        "both.toml",
        &format!(
            "shards = [{}]\ndatabase = {:?}\ncluster = {cluster:?}\nreplicated = true\n",
            toml_list(&urls),
            db.name
        ),
    );
    assert_same_answers(&data, &["--config", &both]);
    let embedded = Serve::start(&["--data-dir", &data]);
    let clickhouse = Serve::start(&["--config", &reader]);
    assert_same_api(&embedded, &clickhouse);
}

#[test]
fn migrate_copies_an_embedded_store() {
    let url = single_node();
    let db = Db::new(std::slice::from_ref(&url));
    let dir = tempfile::tempdir().expect("tempdir");
    let files = logs(dir.path());
    let data = dir.path().join("embedded").to_str().expect("utf-8").to_string();
    import_logs(&files, &["--data-dir", &data]);
    let cfg = ch_config(dir.path(), "ch.toml", &format!("urls = [{url:?}]\ndatabase = {:?}\n", db.name));

    // an uninitialised target is refused with the way out
    let out = run(&["migrate", "--from", &data, "--to", "clickhouse", "--config", &cfg]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("dnsledger clickhouse init"), "{}", stderr(&out));
    let out = run(&["migrate", "--from", &data, "--to", "cassandra", "--config", &cfg]);
    assert!(!out.status.success());

    ok(&["clickhouse", "init", "--config", &cfg]);
    let out = run(&["migrate", "--from", &data, "--to", "clickhouse", "--config", &cfg, "--progress-secs", "0"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("entries/s"), "no progress: {err}");
    assert!(err.lines().any(|l| l.starts_with("migrate: ") && l.contains(" of about ")), "no progress: {err}");
    let count = |label: &str| -> u64 {
        let line = err.lines().find(|l| l.trim_start().starts_with(label)).unwrap_or_else(|| panic!("{label}: {err}"));
        line.trim_start()[label.len()..].split_whitespace().next().expect("count").parse().expect("count")
    };
    assert!(count("rrset records") > 1000, "{err}");
    assert!(count("address index") > 0, "{err}");
    assert!(count("rdata name index") > 0, "{err}");
    assert!(count("names index") > 0, "{err}");
    assert_eq!(count("import checkpoints"), 2, "{err}");
    assert!(count("not copied") >= 3, "schema marker and two sensors: {err}");
    assert_same_answers(&data, &["--config", &cfg]);

    // the checkpoints came along: importing a migrated file again does nothing
    let out = run(&["import", &files.1, "--sensor", "ams-2", "--negative", "--config", &cfg]);
    assert!(stderr(&out).contains("already imported completely"), "{}", stderr(&out));

    // a second copy into the same database would double the counts: refused unless asked for
    let out = run(&["migrate", "--from", &data, "--to", "clickhouse", "--config", &cfg, "-q"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("already holds records"), "{}", stderr(&out));
    let out = run(&["migrate", "--from", &data, "--to", "clickhouse", "--config", &cfg, "-q", "--append"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let once = ok(&["query", "-r", "h1.d7.example.com", "-f", "json", "--data-dir", &data]);
    let twice = ok(&["query", "-r", "h1.d7.example.com", "-f", "json", "--config", &cfg]);
    let counts = |s: &str| -> Vec<u64> {
        s.lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).expect("json")["count"].as_u64().expect("count"))
            .collect()
    };
    assert!(!counts(&once).is_empty());
    assert_eq!(counts(&once).iter().map(|c| c * 2).collect::<Vec<_>>(), counts(&twice));
}

#[test]
fn an_uninitialised_database_is_refused_clearly() {
    let url = single_node();
    let db = Db::new(std::slice::from_ref(&url));
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ch_config(dir.path(), "ch.toml", &format!("urls = [{url:?}]\ndatabase = {:?}\n", db.name));
    match Serve::try_start(&["--config", &cfg]) {
        Ok(_) => panic!("serve started on a database without the schema"),
        Err(lines) => {
            let all = lines.join("\n");
            assert!(all.contains(&db.name) && all.contains("run `dnsledger clickhouse init`"), "{all}");
        }
    }
    for cmd in [&["query", "x.example"][..], &["import", "-"], &["compact"]] {
        let mut args = cmd.to_vec();
        args.extend_from_slice(&["--config", &cfg]);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{cmd:?}");
        assert!(stderr(&out).contains("run `dnsledger clickhouse init`"), "{cmd:?}: {}", stderr(&out));
    }
    // nothing was created by trying
    let exists =
        sql(&url, &format!("SELECT count() FROM system.databases WHERE name = '{}' FORMAT TabSeparated", db.name));
    assert_eq!(exists.trim(), "0");

    // and configurations that cannot work are refused before any server is asked
    let bad =
        ch_config(dir.path(), "bad.toml", "urls = [\"http://127.0.0.1:1\"]\nshards = [[\"http://127.0.0.1:1\"]]\n");
    let out = run(&["query", "x.example", "--config", &bad]);
    assert!(stderr(&out).contains("not both"), "{}", stderr(&out));
    let out = run(&["query", "x.example", "--config", &cfg, "--data-dir", dir.path().to_str().expect("utf-8")]);
    assert!(stderr(&out).contains("selects ClickHouse"), "{}", stderr(&out));
}
