//! The server's limits, each exercised for real: a lookup stopped at the query timeout (native
//! JSON, NDJSON, SAF and summarize), oversized bodies (413), a request head sent too slowly
//! (slowloris: the connection is closed), a body that never ends (408), the connection cap, and
//! the per-address connection cap (clients on 127.0.0.1 and 127.0.0.2: all of 127/8 is
//! loopback on Linux).
//! Every cut is checked in `dnsledger_http_limited_total{reason}` on `/metrics`.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dnsledger_server::limits::ConnLimits;
use dnsledger_server::{router, AppState, ServerConfig};
use dnsledger_store::Batch;
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tower::ServiceExt;

/// Names stored under `example.com` for the wildcard lookups.
const NAMES: usize = 40_000;

fn store_with_names(dir: &std::path::Path, n: usize) -> RocksStore {
    let store = RocksStore::open(
        dir,
        RocksStoreOptions { cache_bytes: 4 << 20, write_buffer_bytes: 8 << 20, ..Default::default() },
    )
    .expect("store");
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!("1704067200.0||a||b||IN||h{i}.example.com.||A||192.0.2.{}||60||1\n", i % 250));
    }
    let mut parser = dnsledger_sources::Format::PassiveDns.parser(&Default::default());
    let r = dnsledger_ingest::parse_chunk(parser.as_mut(), text.as_bytes(), 1, "t");
    let mut b = Batch::new();
    b.absorb(r.batch);
    dnsledger_store::Store::write(&store, &b).expect("write");
    store
}

fn state(store: RocksStore, config: ServerConfig) -> AppState {
    let metrics = dnsledger_telemetry::registry::install().expect("metrics recorder");
    AppState::new(Arc::new(store), config, None).with_metrics(metrics)
}

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, String) {
    let resp = app.clone().oneshot(Request::get(uri).body(Body::empty()).expect("request")).await.expect("response");
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.expect("body");
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The value of `dnsledger_http_limited_total{reason="…"}` on `/metrics` (0 when absent).
async fn limited(app: &axum::Router, reason: &str) -> f64 {
    let (status, text) = get(app, "/metrics").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let key = format!("dnsledger_http_limited_total{{reason=\"{reason}\"}} ");
    text.lines().find_map(|l| l.strip_prefix(&key)).map_or(0.0, |v| v.trim().parse().expect("a number"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wildcard_past_the_query_timeout_stops_and_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with_names(dir.path(), NAMES);
    let store: Arc<dyn dnsledger_store::Store> = Arc::new(store);
    // the same store without a deadline: every record comes back (so the check below can fail)
    let open =
        router(AppState::new(store.clone(), ServerConfig { query_timeout: None, ..ServerConfig::default() }, None));
    let (status, text) = get(&open, "/api/v1/lookup/rrset/name/*.example.com?limit=0").await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(doc["returned"], NAMES as u64, "{}", &text[text.len().saturating_sub(200)..]);
    assert!(doc.get("timed_out").is_none());

    // a 1 ms deadline: reading 40,000 records takes far longer
    let metrics = dnsledger_telemetry::registry::install().expect("metrics recorder");
    let cfg = ServerConfig { query_timeout: Some(Duration::from_millis(1)), ..ServerConfig::default() };
    let app = router(AppState::new(store, cfg, None).with_metrics(metrics));
    let before = limited(&app, "query_timeout").await;

    let (status, text) = get(&app, "/api/v1/lookup/rrset/name/*.example.com?limit=0").await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("the document is complete JSON");
    assert_eq!(doc["timed_out"], true, "{doc}");
    assert_eq!(doc["limited"], true);
    assert!(doc["error"].as_str().is_some_and(|e| e.contains("timed out")), "{doc}");
    assert!(doc["returned"].as_u64().is_some_and(|n| n < NAMES as u64), "{doc}");
    assert_eq!(doc["records"].as_array().map(Vec::len), doc["returned"].as_u64().map(|n| n as usize));

    let (_, text) = get(&app, "/api/v1/lookup/rrset/name/*.example.com?limit=0&format=ndjson").await;
    let last: serde_json::Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    assert_eq!(last["timed_out"], true, "{last}");

    let (status, text) = get(&app, "/dnsdb/v2/lookup/rrset/name/*.example.com?limit=0").await;
    assert_eq!(status, StatusCode::OK);
    assert!(text.starts_with("{\"cond\":\"begin\"}\n"));
    let term: serde_json::Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    let objs = text.lines().filter(|l| l.starts_with("{\"obj\"")).count();
    // partial results sent: "limited"; none: "failed"
    assert_eq!(term["cond"], if objs > 0 { "limited" } else { "failed" }, "{term}");
    assert!(term["msg"].as_str().is_some_and(|m| m.contains("timed out")), "{term}");
    assert!(objs < NAMES);

    let (_, text) = get(&app, "/dnsdb/v2/summarize/rrset/name/*.example.com?limit=0").await;
    let term: serde_json::Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    assert_eq!(term["cond"], "failed", "{text}");

    let (status, text) = get(&app, "/dnsdb/v2/glob/rrnames/*.example.com.?limit=0").await;
    assert_eq!(status, StatusCode::OK, "{text}");
    let term: serde_json::Value = serde_json::from_str(text.lines().last().expect("a line")).expect("json");
    assert!(term["msg"].as_str().is_some_and(|m| m.contains("timed out")), "{text}");

    let (status, text) = get(&app, "/pdns/query/*.example.com").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{text}");
    assert!(text.contains("timed out"));

    // a sorted lookup past the deadline sends nothing (a sort of part of the answer would
    // mislead) and says why; without the deadline it sorts all of it
    let (status, text) = get(&app, "/api/v1/lookup/rrset/name/*.example.com?limit=5&sort=-count").await;
    assert_eq!(status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!((&doc["timed_out"], &doc["returned"]), (&serde_json::json!(true), &serde_json::json!(0)), "{doc}");
    let (_, text) = get(&open, "/api/v1/lookup/rrset/name/*.example.com?limit=5&sort=-count").await;
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!((doc["returned"].as_u64(), doc.get("timed_out")), (Some(5), None), "{doc}");

    assert!(limited(&app, "query_timeout").await >= before + 7.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_body_is_refused_with_413_and_counted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = ServerConfig { max_body_bytes: 1 << 10, ..ServerConfig::default() };
    let app = router(state(store_with_names(dir.path(), 1), cfg));
    let before = limited(&app, "body_too_large").await;
    let body = "1704067200.0||a||b||IN||www.example.com.||A||192.0.2.1||60||1\n".repeat(100);
    let req = Request::post("/api/v1/observations?format=passivedns").body(Body::from(body)).expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // a gzip body that inflates past the cap
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut gz, &vec![b'\n'; 256 << 10]).expect("gzip");
    let small = gz.finish().expect("gzip");
    assert!(small.len() < 1 << 10);
    let req = Request::post("/api/v1/observations?format=passivedns")
        .header("content-encoding", "gzip")
        .body(Body::from(small))
        .expect("request");
    let resp = app.clone().oneshot(req).await.expect("response");
    assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(limited(&app, "body_too_large").await >= before + 2.0);
}

/// Serves `state` on a loopback port; returns the address and the server task.
async fn serve(state: AppState) -> (std::net::SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        dnsledger_server::serve(listener, state, std::future::pending()).await.expect("serve");
    });
    (addr, task)
}

/// Reads until the server closes the connection (or `within` passes: a failure); returns what
/// it sent.
async fn read_to_close(conn: &mut TcpStream, within: Duration) -> String {
    let mut out = Vec::new();
    let r = tokio::time::timeout(within, async {
        let mut buf = [0u8; 4096];
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => out.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(r.is_ok(), "the server did not close the connection within {within:?}; it sent {out:?}");
    String::from_utf8_lossy(&out).into_owned()
}

/// A complete request on a fresh connection, answered.
async fn healthz(addr: std::net::SocketAddr) -> String {
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await.expect("write");
    read_to_close(&mut c, Duration::from_secs(20)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_heads_and_endless_bodies_are_cut() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = ConnLimits {
        header_read_timeout: Duration::from_secs(1),
        body_read_timeout: Duration::from_secs(1),
        max_connections: 64,
        ..ConnLimits::default()
    };
    let st = state(store_with_names(dir.path(), 1), ServerConfig { limits, ..ServerConfig::default() });
    let app = router(st.clone());
    let (heads, bodies) = (limited(&app, "header_timeout").await, limited(&app, "body_timeout").await);
    let (addr, task) = serve(st).await;
    assert!(healthz(addr).await.starts_with("HTTP/1.1 200"));

    // slowloris: a request line and part of a header, then a byte now and then, never the end
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nX-Slow: ").await.expect("write");
    let dribble = async {
        for _ in 0..20 {
            tokio::time::sleep(Duration::from_millis(300)).await;
            if c.write_all(b"a").await.is_err() {
                break;
            }
        }
    };
    dribble.await;
    let answer = read_to_close(&mut c, Duration::from_secs(10)).await;
    assert!(!answer.contains("200 OK"), "a head that never ended was answered: {answer}");

    // a connection that says nothing at all
    let mut idle = TcpStream::connect(addr).await.expect("connect");
    read_to_close(&mut idle, Duration::from_secs(10)).await;

    // a body that never ends: 408
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(
        b"POST /api/v1/observations?format=passivedns HTTP/1.1\r\nHost: t\r\nContent-Length: 100000\r\n\r\n1704067200.0||a",
    )
    .await
    .expect("write");
    let answer = read_to_close(&mut c, Duration::from_secs(15)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");

    assert!(limited(&app, "header_timeout").await >= heads + 2.0);
    assert!(limited(&app, "body_timeout").await >= bodies + 1.0);
    // still serving
    assert!(healthz(addr).await.starts_with("HTTP/1.1 200"));
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_cap_are_closed_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = ConnLimits { max_connections: 2, ..ConnLimits::default() };
    let st = state(store_with_names(dir.path(), 1), ServerConfig { limits, ..ServerConfig::default() });
    let app = router(st.clone());
    let before = limited(&app, "connection_cap").await;
    let (addr, task) = serve(st).await;
    // two connections hold both slots (each proven served, then kept open)
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await.expect("write");
        let mut buf = [0u8; 256];
        let n = c.read(&mut buf).await.expect("read");
        assert!(buf[..n].starts_with(b"HTTP/1.1 200"));
        held.push(c);
    }
    // a third is closed without an answer, even though it sends a complete request
    let mut c = TcpStream::connect(addr).await.expect("connect");
    let answer = closing_request(&mut c).await;
    assert!(answer.is_empty(), "{answer}");
    assert!(limited(&app, "connection_cap").await >= before + 1.0);
    // freeing a slot lets the next connection in
    drop(held.pop());
    let mut served = false;
    for _ in 0..50 {
        if healthz(addr).await.starts_with("HTTP/1.1 200") {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(served, "no connection was served after a slot was freed");
    task.abort();
}

/// A connection from `from` to `to` (any port).
async fn connect_from(from: std::net::Ipv4Addr, to: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind((from, 0).into()).unwrap_or_else(|e| panic!("binding {from}: {e} (all of 127/8 is loopback on Linux)"));
    socket.connect(to).await.expect("connect")
}

/// Sends a complete request asking the server to close, and returns what came back before
/// the connection closed (empty when it was closed without an answer); write errors are
/// ignored, since a refused connection may already be gone.
async fn closing_request(c: &mut TcpStream) -> String {
    let _ = c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").await;
    read_to_close(c, Duration::from_secs(10)).await
}

/// A request on `c`, answered 200, the connection kept open.
async fn served(c: &mut TcpStream) {
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n").await.expect("write");
    let mut buf = [0u8; 256];
    let n = c.read(&mut buf).await.expect("read");
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_address_cannot_take_every_connection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits = ConnLimits { max_connections: 8, max_connections_per_address: 2, ..ConnLimits::default() };
    let st = state(store_with_names(dir.path(), 1), ServerConfig { limits, ..ServerConfig::default() });
    let app = router(st.clone());
    let per_address = limited(&app, "connection_cap_per_address").await;
    let (addr, task) = serve(st).await;
    let (one, two) = (std::net::Ipv4Addr::new(127, 0, 0, 1), std::net::Ipv4Addr::new(127, 0, 0, 2));
    // 127.0.0.1 holds its two connections (each proven served, then kept open)
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut c = connect_from(one, addr).await;
        served(&mut c).await;
        held.push(c);
    }
    // its third is closed without an answer, though the server has 6 slots free
    let mut c = connect_from(one, addr).await;
    let answer = closing_request(&mut c).await;
    assert!(answer.is_empty(), "{answer}");
    assert!(limited(&app, "connection_cap_per_address").await >= per_address + 1.0);
    // another address is served meanwhile, up to its own two
    let mut others = Vec::new();
    for _ in 0..2 {
        let mut c = connect_from(two, addr).await;
        served(&mut c).await;
        others.push(c);
    }
    let mut c = connect_from(two, addr).await;
    assert!(closing_request(&mut c).await.is_empty());
    assert!(limited(&app, "connection_cap_per_address").await >= per_address + 2.0);
    // closing one of 127.0.0.1's connections lets its next one in
    drop(held.pop());
    let mut in_again = false;
    for _ in 0..50 {
        let mut c = connect_from(one, addr).await;
        if closing_request(&mut c).await.starts_with("HTTP/1.1 200") {
            in_again = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(in_again, "no connection from 127.0.0.1 was served after one of its own closed");
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_with_a_body_wait_for_a_slot_and_give_up_at_the_body_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let limits =
        ConnLimits { body_read_timeout: Duration::from_secs(2), max_body_requests: 1, ..ConnLimits::default() };
    let st = state(store_with_names(dir.path(), 1), ServerConfig { limits, ..ServerConfig::default() });
    let app = router(st.clone());
    let (queued, gave_up) = (limited(&app, "body_queued").await, limited(&app, "body_queue_timeout").await);
    let (addr, task) = serve(st).await;
    let endless =
        b"POST /api/v1/observations?format=passivedns HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n1704";
    // A takes the only slot; its body never ends, so it holds the slot for the body timeout (2 s)
    let mut a = TcpStream::connect(addr).await.expect("connect");
    a.write_all(endless).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // B queues first (the queue is FIFO) and then holds the slot for another 2 s the same way
    let mut b = TcpStream::connect(addr).await.expect("connect");
    b.write_all(endless).await.expect("write");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // C is complete but queued behind B: the slot stays taken until B's 408 (>= 2 s after A's), so C
    // gives up once it has waited the body timeout
    let line = "1704067200.0||a||b||IN||www.example.com.||A||192.0.2.1||60||1\n";
    let complete = format!(
        "POST /api/v1/observations?format=passivedns HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{line}",
        line.len()
    );
    let mut c = TcpStream::connect(addr).await.expect("connect");
    c.write_all(complete.as_bytes()).await.expect("write");
    let answer_c = read_to_close(&mut c, Duration::from_secs(20)).await;
    let answer_a = read_to_close(&mut a, Duration::from_secs(20)).await;
    let answer_b = read_to_close(&mut b, Duration::from_secs(20)).await;
    assert!(answer_a.starts_with("HTTP/1.1 408"), "{answer_a}");
    assert!(answer_b.starts_with("HTTP/1.1 408"), "{answer_b}");
    assert!(answer_c.starts_with("HTTP/1.1 503") && answer_c.contains("busy"), "{answer_c}");
    assert!(limited(&app, "body_queued").await >= queued + 2.0);
    assert!(limited(&app, "body_queue_timeout").await >= gave_up + 1.0);
    // with the slot free again, a complete request goes straight through
    let mut d = TcpStream::connect(addr).await.expect("connect");
    d.write_all(complete.as_bytes()).await.expect("write");
    let answer_d = read_to_close(&mut d, Duration::from_secs(20)).await;
    assert!(answer_d.starts_with("HTTP/1.1 200"), "{answer_d}");
    task.abort();
}
