//! Watchlists end to end: `dnsledger serve` with a watchlist, an NDJSON sink and a webhook sink
//! (a real HTTP listener in the test), observations ingested through the HTTP ingest route,
//! alerts checked in the sinks, the journal and the API; lists edited with `dnsledger watch`
//! locally and through the server; a broken file on SIGHUP keeps the list loaded before.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{get, ok, post, Server};
use serde_json::Value;

fn line(ts: u64, name: &str, ty: &str, rdata: &str) -> String {
    format!("{ts}.000000||10.0.0.1||10.0.0.53||IN||{name}||{ty}||{rdata}||300||1\n")
}

/// A webhook receiver: answers the first request 503 (the sink must retry), the rest 200,
/// and keeps every alert it accepted.
/// What the receiver accepted, shared with its thread.
type Received = Arc<Mutex<Vec<Value>>>;

fn receiver() -> (String, Received, Arc<Mutex<u32>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/alerts", l.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let requests = Arc::new(Mutex::new(0u32));
    let (g, n) = (got.clone(), requests.clone());
    std::thread::spawn(move || {
        for stream in l.incoming() {
            let Ok(mut s) = stream else { continue };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0usize;
            let mut first = String::new();
            r.read_line(&mut first).unwrap();
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap() == 0 || h == "\r\n" {
                    break;
                }
                if let Some(v) = h.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            assert!(first.starts_with("POST /alerts "), "{first}");
            let count = {
                let mut c = n.lock().unwrap();
                *c += 1;
                *c
            };
            let status = if count == 1 { 503 } else { 200 };
            if status == 200 {
                let v: Value = serde_json::from_slice(&body).unwrap();
                g.lock().unwrap().extend(v["alerts"].as_array().unwrap().iter().cloned());
            }
            let _ = write!(s, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (url, got, requests)
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn alerts(url: &str, query: &str) -> Value {
    let (status, body) = get(&format!("{url}/api/v1/alerts?{query}"));
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

fn ingest(url: &str, lines: &str) {
    let (status, body) =
        post(&format!("{url}/api/v1/observations?format=passivedns&sensor=edge-1"), lines.as_bytes()).unwrap();
    assert_eq!(status, 200, "{body}");
}

fn kinds(doc: &Value) -> Vec<(String, String, String)> {
    let mut v: Vec<_> = doc["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["watchlist"].as_str().unwrap().to_string(),
                a["kind"].as_str().unwrap().to_string(),
                a["record"]["rrname"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    v.sort();
    v
}

fn t(l: &str, k: &str, n: &str) -> (String, String, String) {
    (l.into(), k.into(), n.into())
}

fn ndjson_lines(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p).unwrap_or_default().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn serve_raises_alerts_to_every_sink_from_http_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let soc = dir.path().join("soc.ndjson");
    let (hook, received, requests) = receiver();
    let config = dir.path().join("dnsledger.toml");
    std::fs::write(
        &config,
        format!(
            "[analytics]\nwatch_recent_alerts = 1000\n\n\
             [[analytics.watch_sink]]\nkind = \"ndjson\"\nname = \"file\"\npath = \"{}\"\n\n\
             [[analytics.watch_sink]]\nkind = \"webhook\"\nname = \"hook\"\nurl = \"{hook}\"\nretries = 5\ntimeout_secs = 5\n",
            soc.display()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    let d = data.to_str().unwrap();

    // a list made with the local CLI before the server starts
    ok(&[
        "watch",
        "--config",
        cfg,
        "--data-dir",
        d,
        "add",
        "campaign",
        "*.example.com",
        "192.0.2.0/24",
        "--label",
        "case 7",
        "--sink",
        "file",
        "--sink",
        "hook",
    ]);
    let shown: Value =
        serde_json::from_str(&ok(&["watch", "--config", cfg, "--data-dir", d, "--json", "show", "campaign"])).unwrap();
    assert_eq!(shown["entries"].as_array().unwrap().len(), 2);
    assert_eq!(shown["entries"][0]["label"], "case 7");
    // a sink that is not configured is refused
    let out = common::run(&["watch", "--config", cfg, "--data-dir", d, "add", "x", "a.example", "--sink", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"nope\" is not configured"));

    let server = Server::start(&data, &["--config", cfg]);
    let url = server.url.clone();
    let (status, body) = get(&format!("{url}/api/v1/watchlists"));
    assert_eq!(status, 200, "{body}");
    let lists: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(lists["watchlists"][0]["name"], "campaign");
    assert_eq!(lists["watchlists"][0]["entries"], 2);

    ingest(
        &url,
        &[
            line(1_700_000_000, "www.example.com", "A", "198.51.100.1"), // name watched
            line(1_700_000_000, "mail.example.org", "A", "192.0.2.25"),  // address watched
            line(1_700_000_000, "www.example.net", "A", "203.0.113.9"),  // nothing
        ]
        .concat(),
    );
    let want = vec![
        t("campaign", "first_match", "mail.example.org."),
        t("campaign", "first_match", "www.example.com."),
        t("campaign", "ip_new_name", "mail.example.org."),
        t("campaign", "new_resolution", "www.example.com."),
    ];
    let doc = alerts(&url, "watchlist=campaign");
    assert_eq!(kinds(&doc), want, "{doc}");
    assert_eq!(doc["source"], "memory");
    let a = &doc["alerts"][0];
    assert_eq!(a["label"], "case 7");
    assert_eq!(a["record"]["sensors"], serde_json::json!(["edge-1"]));
    assert_eq!(a["record"]["time_first"], 1_700_000_000);

    // the sinks: the NDJSON file, the journal, and the webhook (after one retry)
    wait_until("the NDJSON sink", || ndjson_lines(&soc).len() == 4);
    wait_until("the journal", || ndjson_lines(&data.join("watchlists/alerts.ndjson")).len() == 4);
    wait_until("the webhook", || received.lock().unwrap().len() == 4);
    assert!(*requests.lock().unwrap() >= 2, "the 503 was retried");
    let ids = |v: &[Value]| {
        let mut i: Vec<u64> = v.iter().map(|a| a["id"].as_u64().unwrap()).collect();
        i.sort();
        i
    };
    assert_eq!(ids(&received.lock().unwrap()), ids(&ndjson_lines(&soc)));

    // the same observations again: nothing new
    ingest(&url, &line(1_700_000_500, "www.example.com", "A", "198.51.100.1"));
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(alerts(&url, "").get("returned").and_then(Value::as_u64), Some(4));

    // a list added through the server is in force at once
    ok(&["watch", "--server", &url, "add", "second", "www.example.net", "--kind", "new_resolution"]);
    ingest(&url, &line(1_700_001_000, "www.example.net", "A", "203.0.113.10"));
    let doc = alerts(&url, "watchlist=second");
    assert_eq!(kinds(&doc), vec![t("second", "new_resolution", "www.example.net.")], "{doc}");
    assert_eq!(doc["alerts"][0]["new_rdata"], serde_json::json!(["203.0.113.10"]));
    assert!(data.join("watchlists/second.json").exists());
    // only the journal gets alerts of a list without sinks
    wait_until("the journal", || ndjson_lines(&data.join("watchlists/alerts.ndjson")).len() == 5);
    assert_eq!(ndjson_lines(&soc).len(), 4);

    // the CLI reads alerts through the server and from the journal
    let remote: Value =
        serde_json::from_str(&ok(&["watch", "--server", &url, "--json", "alerts", "--since", "1h"])).unwrap();
    assert_eq!(remote["returned"], 5);
    let only: Value = serde_json::from_str(&ok(&[
        "watch",
        "--server",
        &url,
        "--json",
        "alerts",
        "--since",
        "1h",
        "--kind",
        "new_resolution",
    ]))
    .unwrap();
    let only_kinds: Vec<&str> =
        only["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
    assert!(!only_kinds.is_empty() && only_kinds.iter().all(|k| *k == "new_resolution"), "{only}");
    let local: Value = serde_json::from_str(&ok(&[
        "watch",
        "--config",
        cfg,
        "--data-dir",
        d,
        "--json",
        "alerts",
        "--watchlist",
        "second",
    ]))
    .unwrap();
    assert_eq!(local["alerts"].as_array().unwrap().len(), 1);
    assert_eq!(local["source"], "journal");

    // SIGHUP with a broken file: the list stays as loaded before, the error is reported
    std::fs::write(data.join("watchlists/campaign.json"), "{ not json").unwrap();
    std::fs::write(
        data.join("watchlists/third.json"),
        r#"{"entries":[{"value":"*.example.org"}],"kinds":["first_match"]}"#,
    )
    .unwrap();
    let _ = Command::new("kill").args(["-HUP", &server.child.id().to_string()]).status();
    wait_until("the reload", || {
        let (_, body) = get(&format!("{url}/api/v1/watchlists"));
        let v: Value = serde_json::from_str(&body).unwrap();
        v["watchlists"].as_array().unwrap().len() == 3
    });
    let (_, body) = get(&format!("{url}/api/v1/watchlists"));
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["errors"][0]["name"], "campaign", "{v}");
    let campaign = v["watchlists"].as_array().unwrap().iter().find(|l| l["name"] == "campaign").unwrap().clone();
    assert_eq!(campaign["entries"], 2, "the broken file kept the old list");
    ingest(&url, &line(1_700_002_000, "new.example.com", "A", "192.0.2.77"));
    let doc = alerts(&url, "since=1h&limit=100");
    let newest: Vec<_> = kinds(&doc).into_iter().filter(|k| k.2 == "new.example.com.").collect();
    assert_eq!(newest.len(), 3, "the old campaign list still alerts: {doc}");
    let (_, metrics) = get(&format!("{url}/metrics"));
    assert!(metrics.contains("dnsledger_watch_alerts_total{"), "metrics");
    assert!(
        metrics.contains("dnsledger_watch_load_errors_total 1"),
        "{}",
        metrics.lines().filter(|l| l.contains("watch")).collect::<Vec<_>>().join("\n")
    );
    assert!(server.terminate(), "clean exit");
}
