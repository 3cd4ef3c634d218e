//! Access to the API once keys exist: every data route refuses a request without a key and one
//! with a wrong key of the same length as the right one, and serves the right key; the routes
//! meant to be open (`/healthz`, `/readyz`, `/openapi.json`, the console) stay open. No route
//! sends CORS headers, to a simple request or to a preflight, so browsers refuse cross-origin
//! reads. Console asset paths cannot reach files outside the embedded set.
//!
//! The key store's own constant-time check and hashing are tested in `dnsledger-keys`
//! (`authentication_accepts_only_the_right_token`); the authority here is the server's view.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use dnsledger_server::auth::{Denied, KeyAuthority, KeyLimits};
use dnsledger_server::{router, AppState, ServerConfig};
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
use dnsledger_watch::{WatchSettings, Watcher, WatchingStore};
use tower::ServiceExt;

const KEY: &str = "dnsl_0123456789_abcdefghijklmnopqrstuvwxyzABCDEF";
/// As long as [`KEY`], differing in the last character only.
const WRONG: &str = "dnsl_0123456789_abcdefghijklmnopqrstuvwxyzABCDEG";

/// One admin key; comparison as the real store does it (whole-value, constant time).
struct OneKey;

impl KeyAuthority for OneKey {
    fn is_empty(&self) -> bool {
        false
    }
    fn authenticate(&self, presented: &str) -> Option<String> {
        let (a, b) = (presented.as_bytes(), KEY.as_bytes());
        let same = a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        same.then(|| "ops".to_string())
    }
    fn charge(&self, _key: &str, _now: u64) -> Result<(), Denied> {
        Ok(())
    }
    fn limits(&self, _key: &str) -> KeyLimits {
        KeyLimits { results_max: None, offset_max: Some(1000), flex: true }
    }
    fn rate_limit_json(&self, _key: &str, _now: u64) -> String {
        "{\"rate\":{\"limit\":\"unlimited\"}}\n".into()
    }
    fn tick(&self) -> Result<(), String> {
        Ok(())
    }
    fn is_admin(&self, key: &str) -> bool {
        key == "ops"
    }
}

fn state(dir: &std::path::Path) -> AppState {
    let inner = RocksStore::open(dir.join("db"), RocksStoreOptions { cache_bytes: 4 << 20, ..Default::default() })
        .expect("store");
    let w = Watcher::open(WatchSettings { dir: dir.join("watch"), journal: None, sinks: vec![], ring: None })
        .expect("watcher");
    let store = Arc::new(WatchingStore::new(Arc::new(inner), w.clone()));
    let cfg = ServerConfig { backup_dir: Some(dir.join("backups")), ..ServerConfig::default() };
    let metrics = dnsledger_telemetry::registry::install().expect("metrics");
    AppState::new(store, cfg, Some(Arc::new(OneKey))).with_watch(w).with_metrics(metrics)
}

/// (method, path, body) of every data route.
const DATA_ROUTES: &[(&str, &str, &str)] = &[
    ("GET", "/api/v1/lookup/rrset/name/www.example.com", ""),
    ("GET", "/api/v1/lookup/rdata/ip/192.0.2.1", ""),
    (
        "POST",
        "/api/v1/observations?format=passivedns",
        "1704067200.0||a||b||IN||www.example.com.||A||192.0.2.1||60||1\n",
    ),
    ("GET", "/api/v1/stats", ""),
    ("GET", "/api/v1/analytics/history/www.example.com", ""),
    ("POST", "/api/v1/analytics/lookback", "www.example.com\n"),
    ("GET", "/api/v1/watchlists", ""),
    ("PUT", "/api/v1/watchlists/apt", "{\"entries\":[{\"value\":\"www.example.com\"}]}"),
    ("GET", "/api/v1/alerts", ""),
    ("POST", "/api/v1/admin/backup?name=b1", ""),
    ("GET", "/dnsdb/v2/lookup/rrset/name/www.example.com", ""),
    ("GET", "/dnsdb/v2/rate_limit", ""),
    ("GET", "/dnsdb/v2/glob/rrnames/*.example.com.", ""),
    ("GET", "/pdns/query/www.example.com", ""),
    ("GET", "/metrics", ""),
];

async fn send(app: &axum::Router, method: &str, path: &str, body: &str, key: Option<&str>) -> axum::response::Response {
    let mut req = Request::builder().method(method).uri(path).header("Origin", "https://attacker.example");
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    app.clone().oneshot(req.body(Body::from(body.to_string())).expect("request")).await.expect("response")
}

fn no_cors(resp: &axum::response::Response, what: &str) {
    let leaked: Vec<_> =
        resp.headers().keys().filter(|k| k.as_str().starts_with("access-control-")).map(|k| k.to_string()).collect();
    assert!(leaked.is_empty(), "{what}: CORS headers sent: {leaked:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_data_route_needs_the_right_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = router(state(dir.path()));
    for &(method, path, body) in DATA_ROUTES {
        for (key, label) in [(None, "no key"), (Some(WRONG), "wrong key of equal length"), (Some(""), "empty key")] {
            let resp = send(&app, method, path, body, key).await;
            let s = resp.status();
            assert!(matches!(s, StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN), "{method} {path} with {label}: {s}");
            no_cors(&resp, path);
        }
        let resp = send(&app, method, path, body, Some(KEY)).await;
        let s = resp.status();
        assert!(s.is_success(), "{method} {path} with the right key: {s}");
        no_cors(&resp, path);
    }
    // nothing was written by the refused requests: the one accepted PUT made the only list
    let lists: Vec<_> = std::fs::read_dir(dir.path().join("watch"))
        .expect("watch dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".json"))
        .collect();
    assert_eq!(lists, ["apt.json"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_routes_stay_open_and_no_route_answers_a_preflight() {
    let dir = tempfile::tempdir().expect("tempdir");
    let app = router(state(dir.path()));
    for path in ["/healthz", "/readyz", "/openapi.json", "/", "/console/app.js"] {
        let resp = send(&app, "GET", path, "", None).await;
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        no_cors(&resp, path);
    }
    for &(method, path, _) in DATA_ROUTES {
        let req = Request::builder()
            .method("OPTIONS")
            .uri(path)
            .header("Origin", "https://attacker.example")
            .header("Access-Control-Request-Method", method)
            .header("Access-Control-Request-Headers", "x-api-key")
            .body(Body::empty())
            .expect("request");
        let resp = app.clone().oneshot(req).await.expect("response");
        assert!(!resp.status().is_success(), "OPTIONS {path}: {}", resp.status());
        no_cors(&resp, path);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_paths_cannot_reach_other_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("secret.txt"), "do not serve").expect("write");
    let app = router(state(dir.path()));
    for path in [
        "/console/../Cargo.toml",
        "/console/..%2F..%2FCargo.toml",
        "/console/%2e%2e/%2e%2e/etc/passwd",
        "/console/....//....//etc/passwd",
        "/console/%2Fetc%2Fpasswd",
        "/console/..%5C..%5Cetc%5Cpasswd",
        "/console/app.js%00.png",
        "/console/secret.txt",
        "/../../../etc/passwd",
        "/%2e%2e/%2e%2e/etc/passwd",
    ] {
        let resp = send(&app, "GET", path, "", None).await;
        let s = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.expect("body");
        let text = String::from_utf8_lossy(&body);
        assert!(!s.is_success(), "{path}: {s}");
        assert!(
            !text.contains("root:") && !text.contains("[package]") && !text.contains("do not serve"),
            "{path}: {text}"
        );
    }
}
