//! The watchlist and alert API (see `dnsledger_watch`):
//!
//! - `GET /api/v1/watchlists` — every list in force (name, description, kinds, sinks, entry
//!   count), the configured sinks with their counters, and the files that failed to load.
//! - `GET /api/v1/watchlists/{name}` — one list as stored (its JSON document).
//! - `PUT /api/v1/watchlists/{name}` — creates or replaces a list (body: the JSON document;
//!   `name` may be left out) and puts it in force at once; 201 created, 200 replaced, 400 with
//!   every problem of an invalid list.
//! - `DELETE /api/v1/watchlists/{name}` — removes it; 404 if there was none.
//! - `GET /api/v1/alerts?since=T&watchlist=NAME&kind=K,…&limit=N` — alerts raised at or after
//!   `since` (times as for lookups), of those kinds (first_match, new_resolution, ip_new_name,
//!   detection), newest `limit` (default 100, at most 10000) of them, oldest first;
//!   from the ring of recent alerts, or from the alerts journal when the ring no longer holds
//!   them all (`source` says which).
//!
//! Reads need a valid key when keys are configured; writes need an admin key (as the admin
//! API). Without a watcher (no watch directory) every route answers 503.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dnsledger_watch::{AlertFilter, AlertKind, WatchError, Watcher, Watchlist};
use serde_json::json;

use crate::auth;
use crate::native::error;
use crate::paths::{param, query_pairs};
use crate::AppState;

/// Alerts returned by default.
pub const DEFAULT_ALERTS: usize = 100;
/// Most alerts one request returns.
pub const MAX_ALERTS: usize = 10_000;

/// The watchlist and alert routes.
pub fn routes(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/watchlists", get(list_all))
        .route("/api/v1/watchlists/{name}", get(show).put(put).delete(remove))
        .route("/api/v1/alerts", get(alerts))
        .with_state(state)
}

fn watcher(st: &AppState) -> Result<&std::sync::Arc<Watcher>, Response> {
    st.watch.as_ref().ok_or_else(|| {
        error(
            StatusCode::SERVICE_UNAVAILABLE,
            "watchlists are not configured: set [analytics] watch_dir (the embedded store has a default)",
        )
    })
}

fn reader(st: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    auth::native_caller(st, headers).map(|_| ())
}

fn failed(e: WatchError) -> Response {
    match e {
        WatchError::Invalid(m) => error(StatusCode::BAD_REQUEST, m),
        e => {
            tracing::error!(error = %e, "watchlist operation failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

async fn list_all(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = reader(&st, &headers) {
        return r;
    }
    let w = match watcher(&st) {
        Ok(w) => w,
        Err(r) => return r,
    };
    let lists: Vec<_> = w
        .lists()
        .iter()
        .map(|l| {
            json!({
                "name": l.name,
                "description": l.description,
                "kinds": l.kinds,
                "sinks": l.sinks,
                "entries": l.entries.len(),
            })
        })
        .collect();
    let sinks: Vec<_> = w
        .sink_stats()
        .into_iter()
        .map(|(name, kind, s)| {
            json!({
                "name": name,
                "kind": kind,
                "raised": s.raised.load(Ordering::Relaxed),
                "delivered": s.delivered.load(Ordering::Relaxed),
                "dropped": s.dropped.load(Ordering::Relaxed),
                "errors": s.errors.load(Ordering::Relaxed),
            })
        })
        .collect();
    Json(json!({
        "watchlists": lists,
        "sinks": sinks,
        "errors": w.load_errors(),
        "alerts_raised": w.raised(),
    }))
    .into_response()
}

async fn show(State(st): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = reader(&st, &headers) {
        return r;
    }
    let w = match watcher(&st) {
        Ok(w) => w,
        Err(r) => return r,
    };
    match w.get(&name) {
        Some(l) => Json(&*l).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no watchlist {name:?}")),
    }
}

async fn put(State(st): State<AppState>, Path(name): Path<String>, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = crate::admin::authorize(&st, &headers) {
        return r;
    }
    let w = match watcher(&st) {
        Ok(w) => w.clone(),
        Err(r) => return r,
    };
    let list = match Watchlist::from_json(&body, &name) {
        Ok(l) => l,
        Err(e) => return failed(e),
    };
    let entries = list.entries.len();
    match tokio::task::spawn_blocking(move || w.put(list)).await {
        Ok(Ok(created)) => {
            tracing::info!(watchlist = %name, entries, created, "watchlist written");
            let status = if created { StatusCode::CREATED } else { StatusCode::OK };
            (status, Json(json!({ "name": name, "entries": entries, "created": created }))).into_response()
        }
        Ok(Err(e)) => failed(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("writing watchlist {name:?}: {e}")),
    }
}

async fn remove(State(st): State<AppState>, Path(name): Path<String>, headers: HeaderMap) -> Response {
    if let Err(r) = crate::admin::authorize(&st, &headers) {
        return r;
    }
    let w = match watcher(&st) {
        Ok(w) => w.clone(),
        Err(r) => return r,
    };
    let n = name.clone();
    match tokio::task::spawn_blocking(move || w.remove(&n)).await {
        Ok(Ok(true)) => {
            tracing::info!(watchlist = %name, "watchlist removed");
            Json(json!({ "name": name, "removed": true })).into_response()
        }
        Ok(Ok(false)) => error(StatusCode::NOT_FOUND, format!("no watchlist {name:?}")),
        Ok(Err(e)) => failed(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("removing watchlist {name:?}: {e}")),
    }
}

async fn alerts(State(st): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = reader(&st, &headers) {
        return r;
    }
    let w = match watcher(&st) {
        Ok(w) => w.clone(),
        Err(r) => return r,
    };
    let pairs = query_pairs(uri.query());
    let now = dnsledger_model::time::now();
    let since = match param(&pairs, "since").filter(|v| !v.is_empty()) {
        Some(v) => match dnsledger_model::time::parse_time(v, now) {
            Ok(t) => Some(t),
            Err(e) => return error(StatusCode::BAD_REQUEST, format!("since: {e}")),
        },
        None => None,
    };
    let limit = match param(&pairs, "limit").filter(|v| !v.is_empty()) {
        Some(v) => match v.trim().parse::<usize>() {
            Ok(0) => MAX_ALERTS,
            Ok(n) => n.min(MAX_ALERTS),
            Err(_) => {
                return error(StatusCode::BAD_REQUEST, format!("limit: expected a non-negative integer, got {v:?}"))
            }
        },
        None => DEFAULT_ALERTS,
    };
    // kind=a,b (or repeated): only alerts of those kinds, selected before the limit
    let mut kinds = Vec::new();
    for v in pairs.iter().filter(|(k, _)| k == "kind").flat_map(|(_, v)| v.split(',')) {
        if v.trim().is_empty() {
            continue;
        }
        match AlertKind::parse_any(v) {
            Some(k) => kinds.push(k),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("kind: expected first_match, new_resolution, ip_new_name or detection, got {v:?}"),
                )
            }
        }
    }
    let f = AlertFilter { since, watchlist: param(&pairs, "watchlist").map(str::to_string), kinds, limit };
    match tokio::task::spawn_blocking(move || w.alerts(&f)).await {
        Ok(Ok(page)) => Json(json!({
            "alerts": page.alerts,
            "returned": page.alerts.len(),
            "limited": page.limited,
            "source": page.source,
        }))
        .into_response(),
        Ok(Err(e)) => failed(e),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("reading alerts: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::testkeys::TestKeys;
    use crate::auth::KeyAuthority;
    use crate::ServerConfig;
    use axum::body::Body;
    use axum::http::Request;
    use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
    use dnsledger_watch::{WatchSettings, WatchingStore};
    use std::sync::Arc;
    use tower::ServiceExt;

    fn state(dir: &std::path::Path, keys: bool) -> AppState {
        let inner = RocksStore::open(dir.join("db"), RocksStoreOptions::default()).unwrap();
        let w =
            Watcher::open(WatchSettings { dir: dir.join("watch"), journal: None, sinks: vec![], ring: None }).unwrap();
        let store = Arc::new(WatchingStore::new(Arc::new(inner), w.clone()));
        let keys: Option<Arc<dyn KeyAuthority>> = if keys { Some(Arc::new(TestKeys)) } else { None };
        AppState::new(store, ServerConfig::default(), keys).with_watch(w)
    }

    async fn call(
        st: &AppState,
        method: &str,
        uri: &str,
        key: Option<&str>,
        body: &str,
    ) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder().method(method).uri(uri);
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        let resp = crate::router(st.clone()).oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn lists_are_created_shown_replaced_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path(), false);
        let doc =
            r#"{"description":"case 7","entries":[{"value":"*.example.com","label":"c2"},{"value":"192.0.2.0/24"}]}"#;
        let (s, b) = call(&st, "PUT", "/api/v1/watchlists/apt", None, doc).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
        assert_eq!(b["entries"], 2);
        assert!(dir.path().join("watch/apt.json").exists());
        let (s, b) = call(&st, "GET", "/api/v1/watchlists/apt", None, "").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["name"], "apt");
        assert_eq!(b["entries"][0]["label"], "c2");
        assert_eq!(b["kinds"], json!(["first_match", "new_resolution", "ip_new_name"]));
        let (s, _) = call(&st, "PUT", "/api/v1/watchlists/apt", None, r#"{"entries":[{"value":"x.example"}]}"#).await;
        assert_eq!(s, StatusCode::OK);
        let (s, b) = call(&st, "GET", "/api/v1/watchlists", None, "").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(b["watchlists"][0]["entries"], 1);
        assert_eq!(b["sinks"][0]["name"], "journal");
        let (s, b) = call(
            &st,
            "PUT",
            "/api/v1/watchlists/bad",
            None,
            r#"{"entries":[{"value":"www.example.*"}],"sinks":["x"]}"#,
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let m = b["error"].as_str().unwrap();
        assert!(m.contains("right-hand") && m.contains("\"x\" is not configured"), "{m}");
        let (s, _) = call(&st, "PUT", "/api/v1/watchlists/bad", None, "not json").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = call(&st, "PUT", "/api/v1/watchlists/..", None, "{}").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        let (s, _) = call(&st, "DELETE", "/api/v1/watchlists/apt", None, "").await;
        assert_eq!(s, StatusCode::OK);
        let (s, _) = call(&st, "DELETE", "/api/v1/watchlists/apt", None, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
        let (s, _) = call(&st, "GET", "/api/v1/watchlists/apt", None, "").await;
        assert_eq!(s, StatusCode::NOT_FOUND);
    }

    #[tokio::test]
    async fn ingest_raises_alerts_the_api_returns() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path(), false);
        let (s, _) = call(&st, "PUT", "/api/v1/watchlists/w", None, r#"{"entries":[{"value":"*.example.com"}]}"#).await;
        assert_eq!(s, StatusCode::CREATED);
        let line = "1700000000.000000||10.0.0.1||10.0.0.53||IN||www.example.com||A||192.0.2.1||300||1\n\
                    1700000000.000000||10.0.0.1||10.0.0.53||IN||www.example.net||A||192.0.2.2||300||1\n";
        let (s, b) = call(&st, "POST", "/api/v1/observations?format=passivedns&sensor=s1", None, line).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let (s, b) = call(&st, "GET", "/api/v1/alerts?watchlist=w", None, "").await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(b["returned"], 2, "{b}");
        assert_eq!(b["source"], "memory");
        let kinds: Vec<&str> = b["alerts"].as_array().unwrap().iter().map(|a| a["kind"].as_str().unwrap()).collect();
        assert_eq!(kinds, vec!["first_match", "new_resolution"]);
        assert_eq!(b["alerts"][0]["record"]["sensors"], json!(["s1"]));
        let (_, b) = call(&st, "GET", "/api/v1/alerts?watchlist=other", None, "").await;
        assert_eq!(b["returned"], 0);
        let (_, b) = call(&st, "GET", "/api/v1/alerts?limit=1", None, "").await;
        assert_eq!((b["returned"].as_u64(), b["limited"].as_bool()), (Some(1), Some(true)));
        let (_, b) = call(&st, "GET", "/api/v1/alerts?since=-60", None, "").await;
        assert_eq!(b["returned"], 2, "raised within the last minute");
        let (s, _) = call(&st, "GET", "/api/v1/alerts?since=yesterday-ish", None, "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        // kinds are selected by the server, before the limit
        let (_, b) = call(&st, "GET", "/api/v1/alerts?kind=new_resolution&limit=1", None, "").await;
        assert_eq!((b["returned"].as_u64(), b["limited"].as_bool()), (Some(1), Some(false)), "{b}");
        assert_eq!(b["alerts"][0]["kind"], "new_resolution");
        let (_, b) = call(&st, "GET", "/api/v1/alerts?kind=first_match,new_resolution", None, "").await;
        assert_eq!(b["returned"], 2, "{b}");
        let (_, b) = call(&st, "GET", "/api/v1/alerts?kind=detection", None, "").await;
        assert_eq!(b["returned"], 0, "{b}");
        let (s, b) = call(&st, "GET", "/api/v1/alerts?kind=everything", None, "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{b}");
    }

    #[tokio::test]
    async fn writes_need_an_admin_key_and_reads_a_key() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path(), true);
        let doc = r#"{"entries":[{"value":"example.com"}]}"#;
        for (key, want) in [
            (None, StatusCode::FORBIDDEN),
            (Some("wrong"), StatusCode::FORBIDDEN),
            (Some("user-secret"), StatusCode::FORBIDDEN),
            (Some("admin-secret"), StatusCode::CREATED),
        ] {
            assert_eq!(call(&st, "PUT", "/api/v1/watchlists/k", key, doc).await.0, want, "{key:?}");
        }
        assert_eq!(call(&st, "DELETE", "/api/v1/watchlists/k", Some("user-secret"), "").await.0, StatusCode::FORBIDDEN);
        assert_eq!(call(&st, "GET", "/api/v1/watchlists/k", None, "").await.0, StatusCode::UNAUTHORIZED);
        assert_eq!(call(&st, "GET", "/api/v1/watchlists/k", Some("user-secret"), "").await.0, StatusCode::OK);
        assert_eq!(call(&st, "GET", "/api/v1/alerts", Some("user-secret"), "").await.0, StatusCode::OK);
        assert_eq!(call(&st, "GET", "/api/v1/alerts", None, "").await.0, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn list_names_cannot_leave_the_watch_directory() {
        let dir = tempfile::tempdir().unwrap();
        let st = state(dir.path(), false);
        let doc = r#"{"entries":[{"value":"www.example.com"}]}"#;
        for bad in ["..", ".", "%2e%2e", "..%2F..%2Fetc", "a%2Fb", "a%5Cb", ".hidden", "x%00", "a..b", "sp%20ace"] {
            for method in ["PUT", "GET", "DELETE"] {
                let (s, b) = call(&st, method, &format!("/api/v1/watchlists/{bad}"), None, doc).await;
                assert!(matches!(s, StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND), "{method} {bad}: {s} {b}");
            }
        }
        let outside = dir.path().read_dir().unwrap().map(|e| e.unwrap().file_name()).collect::<Vec<_>>();
        assert!(outside.iter().all(|n| n == "db" || n == "watch"), "{outside:?}");
        let inside: Vec<_> = std::fs::read_dir(dir.path().join("watch"))
            .map(|d| d.map(|e| e.unwrap().file_name()).collect())
            .unwrap_or_default();
        assert!(inside.iter().all(|n| !n.to_string_lossy().ends_with(".json")), "a list was written: {inside:?}");
    }

    #[tokio::test]
    async fn without_a_watcher_the_routes_say_so() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path().join("db"), RocksStoreOptions::default()).unwrap();
        let st = AppState::new(Arc::new(store), ServerConfig::default(), None);
        let (s, b) = call(&st, "GET", "/api/v1/watchlists", None, "").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE);
        assert!(b["error"].as_str().unwrap().contains("watch_dir"));
    }
}
