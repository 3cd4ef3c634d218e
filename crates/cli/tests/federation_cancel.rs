//! A federated lookup whose client goes away is cancelled: the upstream connection is closed
//! before the upstream finished sending, and `dnsledger_upstream_cancelled_total` counts it —
//! on SAF and native routes, merged and streamed. A client that stays gets the whole answer.
//!
//! The upstream is a loopback DNSDB (SAF) server in this test that sends `begin` and a first
//! record, then holds the rest of its answer until the test releases it or its client closes
//! the connection, and records which came first. No wall-clock thresholds: the assertions are
//! on the order of events (a bound only keeps a failing run from hanging).

mod common;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use common::{figure, get, Server};

/// What happened on the upstream side of one lookup (keyed by the name asked).
#[derive(Default)]
struct Upstream {
    /// Per name: the events in order (`first`, `closed`, `finished`).
    events: Mutex<HashMap<String, Vec<&'static str>>>,
    /// Names the test released (the upstream may send the rest).
    released: Mutex<Vec<String>>,
    changed: Condvar,
}

/// Longest any wait in this test lasts before it fails (never reached when things work).
const BOUND: Duration = Duration::from_secs(30);

impl Upstream {
    fn push(&self, name: &str, ev: &'static str) {
        self.events.lock().unwrap().entry(name.to_string()).or_default().push(ev);
        self.changed.notify_all();
    }

    fn events(&self, name: &str) -> Vec<&'static str> {
        self.events.lock().unwrap().get(name).cloned().unwrap_or_default()
    }

    /// Waits until `name`'s events contain `ev` (panics after [`BOUND`]).
    fn wait_for(&self, name: &str, ev: &str) {
        let end = Instant::now() + BOUND;
        let mut g = self.events.lock().unwrap();
        while !g.get(name).is_some_and(|v| v.contains(&ev)) {
            let now = Instant::now();
            assert!(now < end, "upstream never saw {ev} for {name}: {:?}", g.get(name));
            g = self.changed.wait_timeout(g, end - now).unwrap().0;
        }
    }

    fn release(&self, name: &str) {
        self.released.lock().unwrap().push(name.to_string());
        self.changed.notify_all();
    }
}

fn obj(name: &str, ip: &str) -> String {
    format!(
        "{{\"obj\":{{\"count\":1,\"time_first\":1000,\"time_last\":2000,\"rrname\":\"{name}.\",\"rrtype\":\"A\",\"bailiwick\":\"example.com.\",\"rdata\":[\"{ip}\"]}}}}\n"
    )
}

/// Starts the upstream: per connection, the SAF `begin` and one record, then (once
/// released, or after [`BOUND`] if neither release nor close came) two more records and the
/// terminator; if its client closes the connection first, it stops there. A second thread per
/// connection notices the client closing it.
fn slow_upstream(state: Arc<Upstream>) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let state = state.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    match s.read(&mut b) {
                        Ok(1) => head.push(b[0]),
                        _ => return,
                    }
                }
                let head = String::from_utf8_lossy(&head).into_owned();
                // GET /dnsdb/v2/lookup/rrset/name/NAME?...
                let Some(name) = head
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.strip_prefix("/dnsdb/v2/lookup/rrset/name/"))
                    .map(|p| p.split(['?', '/']).next().unwrap_or("").to_string())
                else {
                    let _ = s.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                    return;
                };
                let mut watch = s.try_clone().expect("clone");
                let closed_state = state.clone();
                let closed_name = name.clone();
                std::thread::spawn(move || {
                    // the client sends nothing more: a read returns only when it closes
                    let mut sink = [0u8; 64];
                    loop {
                        match watch.read(&mut sink) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {}
                        }
                    }
                    closed_state.push(&closed_name, "closed");
                });
                // one record, then silence: a streamed lookup must hand it on without waiting
                // for a next one
                let mut first = String::from(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nConnection: close\r\n\r\n{\"cond\":\"begin\"}\n",
                );
                first.push_str(&obj(&name, "192.0.2.1"));
                if s.write_all(first.as_bytes()).is_err() {
                    return;
                }
                state.push(&name, "first");
                // hold the rest until released, or until the client closes the connection
                let end = Instant::now() + BOUND;
                {
                    let mut g = state.events.lock().unwrap();
                    loop {
                        if g.get(&name).is_some_and(|v| v.contains(&"closed")) {
                            return; // the client hung up: nothing more to send
                        }
                        if state.released.lock().unwrap().contains(&name) || Instant::now() >= end {
                            break;
                        }
                        g = state.changed.wait_timeout(g, end.saturating_duration_since(Instant::now())).unwrap().0;
                    }
                }
                let rest =
                    format!("{}{}{{\"cond\":\"succeeded\"}}\n", obj(&name, "198.51.100.1"), obj(&name, "198.51.100.2"));
                if s.write_all(rest.as_bytes()).is_ok() {
                    state.push(&name, "finished");
                }
                // the end of the close-delimited body (the watching thread keeps the socket open)
                let _ = s.shutdown(std::net::Shutdown::Write);
            });
        }
    });
    format!("http://{addr}")
}

/// Sends a GET on a raw connection (so the test decides when it closes).
fn open(base: &str, path: &str) -> TcpStream {
    let hostport = base.trim_start_matches("http://");
    let mut s = TcpStream::connect(hostport).expect("connect to dnsledger");
    write!(s, "GET {path} HTTP/1.1\r\nHost: {hostport}\r\nConnection: close\r\n\r\n").expect("send request");
    s
}

/// Reads from `s` until what was read contains `needle`; returns it all.
fn read_until(s: &mut TcpStream, needle: &str) -> String {
    s.set_read_timeout(Some(BOUND)).expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains(needle) {
        let n = s.read(&mut buf).unwrap_or_else(|e| panic!("reading until {needle:?}: {e}; got {got:?}"));
        assert!(n > 0, "closed before {needle:?}: {}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// Reads `/metrics` until `series` reaches `want` (panics after [`BOUND`]); returns the text.
fn metric_reaches(base: &str, series: &str, want: f64) -> String {
    let end = Instant::now() + BOUND;
    loop {
        let (_, text) = get(&format!("{base}/metrics"));
        if figure(&text, series) >= want {
            return text;
        }
        assert!(Instant::now() < end, "{series} never reached {want}:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_client_going_away_cancels_the_upstream_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = Arc::new(Upstream::default());
    let up = slow_upstream(state.clone());
    // one upstream entry per case, so each case has its own counter
    let cases = ["saf-merged", "saf-stream", "native-merged", "native-stream", "stays"];
    let mut config = String::new();
    for c in cases {
        config.push_str(&format!(
            "[[upstream]]\nname = \"{c}\"\nkind = \"dnsdb\"\nurl = \"{up}\"\napi_key = \"k\"\ntimeout_secs = 120\n\n"
        ));
    }
    let cfg = dir.path().join("dnsledger.toml");
    std::fs::write(&cfg, config).expect("config");
    let server = Server::start(&dir.path().join("data"), &["--config", cfg.to_str().expect("utf-8")]);
    let base = server.url.clone();

    // (case, route, what the client reads before it goes away). Streamed: the upstream's one
    // record, handed on while the upstream is silent (so dnsledger has read all the upstream
    // sent and waits on the socket for more — only closing that socket ends the wait). Merged:
    // nothing is visible before the end (SAF sends `begin`).
    let last_of_chunk = "192.0.2.1\"";
    let runs = [
        ("saf-merged", "/dnsdb/v2/lookup/rrset/name/{n}?sources={c}", "{\"cond\":\"begin\"}"),
        ("saf-stream", "/dnsdb/v2/lookup/rrset/name/{n}?sources={c}&stream=1", last_of_chunk),
        ("native-merged", "/api/v1/lookup/rrset/name/{n}?sources={c}", ""),
        ("native-stream", "/api/v1/lookup/rrset/name/{n}?sources={c}&stream=1", last_of_chunk),
    ];
    for (case, route, first_bytes) in runs {
        let name = format!("{case}.example.com");
        let path = route.replace("{n}", &name).replace("{c}", case);
        let mut client = open(&base, &path);
        // the upstream is mid-answer (it sent its first records) ...
        state.wait_for(&name, "first");
        // ... and, where the route streams, the client has seen the first bytes
        if !first_bytes.is_empty() {
            read_until(&mut client, first_bytes);
        }
        drop(client);
        state.wait_for(&name, "closed");
        let events = state.events(&name);
        assert_eq!(
            events,
            vec!["first", "closed"],
            "{case}: the upstream connection must close before the upstream finished sending"
        );
        metric_reaches(&base, &format!("dnsledger_upstream_cancelled_total{{upstream=\"{case}\"}}"), 1.0);
        let text = metric_reaches(
            &base,
            &format!("dnsledger_upstream_requests_total{{upstream=\"{case}\",result=\"cancelled\"}}"),
            1.0,
        );
        // the upstream was left alone afterwards: it never got to send the rest
        assert!(!state.events(&name).contains(&"finished"), "{case}: {:?}", state.events(&name));
        assert_eq!(figure(&text, &format!("dnsledger_upstream_cancelled_total{{upstream=\"{case}\"}}")), 1.0);
    }

    // a client that stays gets the whole streamed answer, and nothing is cancelled
    let name = "stays.example.com";
    let mut client = open(&base, &format!("/api/v1/lookup/rrset/name/{name}?sources=stays&stream=1"));
    state.wait_for(name, "first");
    let mut all = read_until(&mut client, last_of_chunk);
    state.release(name);
    all.push_str(&read_until(&mut client, "\"limited\":"));
    for ip in ["192.0.2.1", "198.51.100.1", "198.51.100.2"] {
        assert!(all.contains(ip), "{all}");
    }
    assert!(all.contains("\"status\":\"ok\",\"records\":3"), "{all}");
    drop(client);
    state.wait_for(name, "closed");
    assert_eq!(state.events(name), vec!["first", "finished", "closed"], "the upstream finished, then was closed");
    let (_, text) = get(&format!("{base}/metrics"));
    assert_eq!(figure(&text, "dnsledger_upstream_cancelled_total{upstream=\"stays\"}"), 0.0, "{text}");
    assert_eq!(figure(&text, "dnsledger_upstream_requests_total{upstream=\"stays\",result=\"ok\"}"), 1.0, "{text}");
    assert!(server.terminate());
}
