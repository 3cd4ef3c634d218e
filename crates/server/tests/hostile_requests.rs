//! Hostile and random request paths and query strings: the router answers each with a status
//! and a body, never a panic, and never a 5xx.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dnsledger_server::{router, AppState, ServerConfig};
use dnsledger_store::Batch;
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
use tower::ServiceExt;

const PIECES: &[&str] = &[
    "/dnsdb/v2/",
    "//dnsdb/v2/",
    "/api/v1/lookup/",
    "/pdns/query/",
    "lookup/",
    "summarize/",
    "rrset/",
    "rdata/",
    "name/",
    "raw/",
    "ip/",
    "regex/",
    "glob/",
    "rrnames/",
    "rate_limit",
    "ping",
    "www.example.com",
    "*.",
    ".*",
    "%2A",
    "%252A",
    "%2F",
    "%25",
    "%",
    "%zz",
    "%00",
    "%FF",
    "..",
    "/",
    "//",
    "A",
    "ANY",
    "ANY-DNSSEC",
    "TYPE65535",
    "TYPE99999",
    "NOPE",
    "192.0.2.1",
    "192.0.2.0,24",
    "192.0.2.0%2C33",
    "1.2.3.4-1.2.3.3",
    "::1",
    "2001%3Adb8%3A%3A,129",
    "0366736902696f00",
    "abc",
    "zz",
    "%C3%A9",
    "%5C",
    "%5C000",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    "(",
    "[",
    "?limit=0",
    "?limit=-1",
    "?offset=99999999999999999999",
    "&time_first_after=-1",
    "&time_last_before=x",
    "?aggr=maybe",
    "&humantime=t",
    "?max_count=5",
    "&exclude=(",
    "?format=ndjson",
    "?format=xml",
    "?sensor=",
    "&sensor=fra-1",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_paths_never_panic_or_fail_internally() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStore::open(
        dir.path(),
        RocksStoreOptions { cache_bytes: 4 << 20, write_buffer_bytes: 8 << 20, ..Default::default() },
    )
    .expect("store");
    let mut b = Batch::new();
    let mut parser = dnsledger_sources::Format::PassiveDns.parser(&Default::default());
    let r = dnsledger_ingest::parse_chunk(
        parser.as_mut(),
        b"1704067200.0||a||b||IN||www.example.com.||A||192.0.2.1||60||1\n1704067200.0||a||b||IN||example.com.||MX||mail.example.com.||60||1\n",
        1,
        "t",
    );
    b.absorb(r.batch);
    dnsledger_store::Store::write(&store, &b).expect("write");
    let state = AppState::new(Arc::new(store), ServerConfig::default(), None);
    let app = router(state);
    let mut x: u64 = 0x853c49e6748fea9b;
    let mut sent = 0;
    for _ in 0..3000 {
        let mut path = String::new();
        let n = 1 + (x % 7) as usize;
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            path.push_str(PIECES[(x % PIECES.len() as u64) as usize]);
        }
        if !path.starts_with('/') {
            path.insert(0, '/');
        }
        let Ok(req) = Request::get(&path).body(Body::empty()) else { continue };
        sent += 1;
        let resp = app.clone().oneshot(req).await.expect("router answers");
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24).await.expect("body");
        assert!(!status.is_server_error(), "{path} -> {status}: {}", String::from_utf8_lossy(&body));
        if status == StatusCode::OK && (path.contains("/dnsdb/v2/lookup") || path.contains("/dnsdb/v2/summarize")) {
            let text = String::from_utf8_lossy(&body);
            assert!(text.starts_with("{\"cond\":\"begin\"}\n"), "{path}: {text}");
            assert!(text.ends_with("\n"), "{path}");
            let last = text.lines().last().unwrap_or("");
            assert!(last.contains("\"cond\":\"succeeded\"") || last.contains("\"cond\":\"limited\""), "{path}: {text}");
        }
    }
    assert!(sent > 1000, "only {sent} paths were valid URIs");
}
