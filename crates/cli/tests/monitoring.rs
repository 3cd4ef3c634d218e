//! End-to-end: what `dnsledger serve` tells operators — `/metrics` (with keys), `/readyz`,
//! SIGHUP reloading the key file, JSON logs, `dnsledger config check|example`, and the
//! per-address connection cap of `[server]` counted on `/metrics`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ok, run, Server};

/// `key add NAME ...` and its printed token.
fn add_key(file: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["key", "add", name, "--keys-file", file];
    args.extend_from_slice(extra);
    ok(&args).trim().to_string()
}

/// GET with a key; (status, body).
fn get_with(url: &str, key: &str) -> (u16, String) {
    let mut r = common::agent().get(url).header("X-API-Key", key).call().expect("GET");
    (r.status().as_u16(), r.body_mut().read_to_string().expect("body"))
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill").args([sig, &pid.to_string()]).status().expect("kill");
    assert!(st.success());
}

#[test]
fn metrics_readiness_quotas_and_sighup_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = dir.path().join("keys.toml");
    let k = keys.to_str().expect("utf-8");
    let ops = add_key(k, "ops", &[]);
    let tiny = add_key(k, "tiny", &["--limit", "1"]);
    let server = Server::start(&dir.path().join("data"), &["--keys-file", k]);
    let url = server.url.clone();

    // liveness and readiness need no key; metrics do
    assert_eq!(common::get(&format!("{url}/healthz")), (200, "ok\n".to_string()));
    assert_eq!(common::get(&format!("{url}/readyz")), (200, "ready\n".to_string()));
    assert_eq!(common::get(&format!("{url}/metrics")).0, 401);

    // traffic: an ingest with one broken line, lookups, a quota refusal
    let body = "1704067200.0||a||b||IN||m.example.||A||192.0.2.7||60||3\nbroken line\n";
    let mut r = common::agent()
        .post(format!("{url}/api/v1/observations?format=passivedns&sensor=edge"))
        .header("X-API-Key", &ops)
        .send(body.as_bytes())
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200, "{}", r.body_mut().read_to_string().unwrap_or_default());
    assert_eq!(get_with(&format!("{url}/api/v1/lookup/rrset/name/m.example"), &ops).0, 200);
    assert_eq!(get_with(&format!("{url}/dnsdb/v2/lookup/rrset/name/m.example"), &tiny).0, 200);
    assert_eq!(get_with(&format!("{url}/dnsdb/v2/lookup/rrset/name/m.example"), &tiny).0, 429);

    let (status, m) = get_with(&format!("{url}/metrics"), &ops);
    assert_eq!(status, 200, "{m}");
    for (series, want) in [
        ("dnsledger_http_requests_total{route=\"ingest\",status=\"200\"}", 1.0),
        ("dnsledger_http_requests_total{route=\"lookup_rrset\",status=\"200\"}", 1.0),
        ("dnsledger_http_requests_total{route=\"dnsdb_lookup\",status=\"429\"}", 1.0),
        ("dnsledger_http_requests_total{route=\"metrics\",status=\"401\"}", 1.0),
        ("dnsledger_quota_rejections_total{reason=\"quota\"}", 1.0),
        ("dnsledger_ingest_observations_total{source=\"http:passivedns\"}", 1.0),
        ("dnsledger_ingest_records_total{source=\"http:passivedns\"}", 2.0),
        ("dnsledger_store_writes_total{result=\"ok\"}", 1.0),
        ("dnsledger_store_write_seconds_count", 1.0),
        ("dnsledger_store_observations_written_total", 1.0),
        ("dnsledger_http_request_duration_seconds_count{route=\"lookup_rrset\"}", 1.0),
        ("dnsledger_store_up", 1.0),
    ] {
        assert_eq!(common::figure(&m, series), want, "{series} in\n{m}");
    }
    let rejected: f64 = m
        .lines()
        .filter(|l| l.starts_with("dnsledger_ingest_rejected_total{source=\"http:passivedns\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(rejected, 1.0, "{m}");
    assert!(m.contains("# TYPE dnsledger_http_request_duration_seconds histogram"), "{m}");
    assert!(common::figure(&m, "process_resident_memory_bytes") > 1e6, "{m}");
    assert!(common::figure(&m, "process_open_fds") >= 3.0, "{m}");

    // SIGHUP: a key added to the file works at once (not only after the minute-long poll)
    let late = add_key(k, "late", &[]);
    signal(server.child.id(), "-HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    while get_with(&format!("{url}/api/v1/stats"), &late).0 != 200 {
        assert!(Instant::now() < deadline, "the new key was not loaded on SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    }
    // a broken file keeps the keys loaded before, and says so in the metrics
    std::fs::write(&keys, "this is [not a key file").expect("write");
    signal(server.child.id(), "-HUP");
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (_, m) = get_with(&format!("{url}/metrics"), &ops);
        if common::figure(&m, "dnsledger_reloads_total{result=\"error\"}") == 1.0 {
            assert_eq!(common::figure(&m, "dnsledger_reloads_total{result=\"ok\"}"), 1.0, "{m}");
            break;
        }
        assert!(Instant::now() < deadline, "no failed reload counted:\n{m}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(get_with(&format!("{url}/api/v1/stats"), &late).0, 200);
    assert!(server.terminate(), "serve did not stop cleanly on SIGTERM");
}

#[test]
fn json_logs_are_one_object_per_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = common::bin()
        .args(["--log-format", "json", "serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path().join("data"))
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("serve");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        let Some(Ok(l)) = lines.next() else { break };
        let v: serde_json::Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert_eq!(v["level"], "INFO", "{l}");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')), "{l}");
        let msg = v["message"].as_str().expect("message").to_string();
        seen.push(msg.clone());
        if msg.contains("listening on") {
            break;
        }
    }
    signal(child.id(), "-TERM");
    let status = child.wait().expect("wait");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "{rest:?}");
    assert!(seen.iter().any(|m| m.contains("listening on http://127.0.0.1:")), "{seen:?}");
    for l in &rest {
        let v: serde_json::Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v["message"].is_string(), "{l}");
    }
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
    // a filter that does not parse is refused at start, saying why
    let out = run(&["--log", "dnsledger=loud", "query", "x.example", "--data-dir", "/nonexistent"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("dnsledger=loud"));
}

#[test]
fn config_example_and_check() {
    let dir = tempfile::tempdir().expect("tempdir");
    let example = dir.path().join("example.toml");
    std::fs::write(&example, ok(&["config", "example"])).expect("write");
    // the example names files of a real installation; here its key file is missing
    let out = run(&["config", "check", example.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("error: [server] keys_file") && err.contains(" error(s)"), "{err}");
    assert!(err.lines().filter(|l| l.starts_with("error:")).all(|l| l.contains("keys_file")), "{err}");

    let keys = dir.path().join("keys.toml");
    add_key(keys.to_str().expect("utf-8"), "ops", &[]);
    let good = dir.path().join("good.toml");
    std::fs::write(
        &good,
        "[store]\ndata_dir = \"data\"\n[server]\nlisten = \"0.0.0.0:8053\"\nkeys_file = \"keys.toml\"\n\
         [sensor]\ninterface = \"lo\"\ntypes = [\"A\", \"AAAA\"]\nmetrics_listen = \"127.0.0.1:9153\"\n",
    )
    .expect("write");
    let out = run(&["config", "check", good.to_str().expect("utf-8")]);
    let (stdout, err) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{err}");
    assert!(stdout.contains("1 API key(s)") && stdout.contains("sensor: (unnamed) on lo"), "{stdout}");

    let bad = dir.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[server]\nlisten = \"0.0.0.0:8053\"\n[sensor]\nsections = [\"additional\"]\nsnaplen = \"big\"\n",
    )
    .expect("write");
    let out = run(&["config", "check", bad.to_str().expect("utf-8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("line 5") && err.contains("snaplen"), "{err}");
}

#[test]
fn the_per_address_connection_cap_of_the_config_file_is_applied_and_counted() {
    use std::io::{Read, Write};
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = dir.path().join("dnsledger.toml");
    std::fs::write(&cfg, "[server]\nmax_connections_per_address = 1\n").expect("config");
    let server = Server::start(&dir.path().join("data"), &["--config", cfg.to_str().expect("utf-8")]);
    let addr = server.url.trim_start_matches("http://").to_string();
    // the one connection 127.0.0.1 may have: served, then kept open
    let mut held = std::net::TcpStream::connect(&addr).expect("connect");
    held.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").expect("write");
    let mut buf = [0u8; 256];
    let n = held.read(&mut buf).expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    // a second one is closed without an answer
    let mut refused = std::net::TcpStream::connect(&addr).expect("connect");
    refused.set_read_timeout(Some(Duration::from_secs(20))).expect("timeout");
    let _ = refused.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    let mut answer = Vec::new();
    let _ = refused.read_to_end(&mut answer);
    assert!(answer.is_empty(), "{}", String::from_utf8_lossy(&answer));
    // once the held one closes, /metrics (from the same address) is served and counts the
    // refusal, and any scrape that came before the server saw the close (refused as well)
    drop(held);
    let key = "dnsledger_http_limited_total{reason=\"connection_cap_per_address\"} ";
    let (mut counted, mut early) = (None, 0);
    for _ in 0..50 {
        match common::agent().get(format!("{}/metrics", server.url)).call() {
            Ok(mut r) => {
                let text = r.body_mut().read_to_string().expect("metrics");
                counted = text.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim().to_string());
                break;
            }
            Err(_) => early += 1,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(counted, Some((1 + early).to_string()), "{early} scrape(s) refused before the close was seen");
}
