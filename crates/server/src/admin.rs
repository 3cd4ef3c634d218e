//! The admin API: operations on the running server's store.
//!
//! - `POST /api/v1/admin/backup[?name=NAME]` writes an online backup (`Store::backup`: a
//!   consistent checkpoint taken while ingest and lookups go on) into
//!   `backup_dir/NAME`, by default `backup_dir/<UTC time, YYYYMMDDTHHMMSSZ>`, and answers
//!   `{"path":…,"bytes":N,"files":N,"linked":N,"seconds":F}` once it is durable. `NAME` is 1 to
//!   128 of `A-Z a-z 0-9 . _ -`, not starting with a dot and without `..`, so it always names a
//!   new entry directly inside `backup_dir`. Statuses: 400 bad name; 403 not an admin key;
//!   409 the backup exists already, or another backup into the same directory is running;
//!   503 `backup_dir` is not configured, or the store cannot make the backup (the reason says
//!   why).
//!
//! With API keys configured only a key marked admin (`dnsledger key add NAME --admin`) may call
//! it; without keys the server listens on loopback only and the route is open like the rest.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Instant;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

use crate::auth::{self, Caller};
use crate::native::error;
use crate::paths::{param, query_pairs};
use crate::AppState;

/// Longest backup name accepted.
const MAX_NAME: usize = 128;

/// The admin routes.
pub fn routes(state: AppState) -> Router {
    Router::new().route("/api/v1/admin/backup", post(backup)).with_state(state)
}

/// Backup directories a backup is being written into right now (one backup per directory at
/// a time: a second would only compete for the same disk).
static RUNNING: Mutex<Option<HashSet<PathBuf>>> = Mutex::new(None);

/// Marks `dir` busy until dropped.
struct Busy(PathBuf);

impl Busy {
    fn claim(dir: &Path) -> Option<Busy> {
        let mut running = RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        running.get_or_insert_with(HashSet::new).insert(dir.to_path_buf()).then(|| Busy(dir.to_path_buf()))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        let mut running = RUNNING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(set) = running.as_mut() {
            set.remove(&self.0);
        }
    }
}

/// True if `name` may name a backup: 1 to 128 of `A-Z a-z 0-9 . _ -`, no leading dot, no `..`.
pub fn valid_backup_name(name: &str) -> bool {
    (1..=MAX_NAME).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        && !name.starts_with('.')
        && !name.contains("..")
}

/// The default backup name for time `t` (epoch seconds): `YYYYMMDDTHHMMSSZ`, UTC.
pub fn default_backup_name(t: u64) -> String {
    dnsledger_model::time::format_rfc3339(t).chars().filter(|c| *c != '-' && *c != ':').collect()
}

/// Only admin keys, when keys are configured (also for the watchlist writes of [`crate::watch`]).
pub(crate) fn authorize(st: &AppState, headers: &HeaderMap) -> Result<(), Response> {
    let Some(keys) = &st.keys else { return Ok(()) };
    match auth::native_caller(st, headers) {
        Ok(Caller::Key(k)) if keys.is_admin(&k) => Ok(()),
        Ok(Caller::Key(k)) => Err(error(
            StatusCode::FORBIDDEN,
            format!("key {k:?} may not call the admin API (create one with `dnsledger key add NAME --admin`)"),
        )),
        Ok(Caller::Open) => Ok(()),
        Err(_) => Err(error(
            StatusCode::FORBIDDEN,
            "the admin API needs an admin key (X-API-Key, Authorization: Bearer, or Basic password)",
        )),
    }
}

async fn backup(State(st): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    if let Err(r) = authorize(&st, &headers) {
        return r;
    }
    let pairs = query_pairs(uri.query());
    let name = match param(&pairs, "name") {
        Some(n) if valid_backup_name(n) => n.to_string(),
        Some(n) => {
            return error(
                StatusCode::BAD_REQUEST,
                format!("name {n:?}: use 1 to {MAX_NAME} of A-Z a-z 0-9 . _ - (no leading dot, no \"..\")"),
            )
        }
        None => default_backup_name(dnsledger_model::time::now()),
    };
    let Some(dir) = st.config.backup_dir.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "online backups are not configured: set [server] backup_dir in the configuration",
        );
    };
    let dest = dir.join(&name);
    if dest.symlink_metadata().is_ok() {
        return error(StatusCode::CONFLICT, format!("{} exists already", dest.display()));
    }
    let Some(busy) = Busy::claim(&dir) else {
        return error(StatusCode::CONFLICT, format!("another backup into {} is running", dir.display()));
    };
    let store = st.store.clone();
    let started = Instant::now();
    let target = dest.clone();
    let result = tokio::task::spawn_blocking(move || {
        let _busy = busy;
        std::fs::create_dir_all(&dir)
            .map_err(|e| dnsledger_store::StoreError::Engine(format!("creating {}: {e}", dir.display())))?;
        if target.symlink_metadata().is_ok() {
            return Ok(None);
        }
        store.backup(&target).map(Some)
    })
    .await;
    let seconds = started.elapsed().as_secs_f64();
    match result {
        Ok(Ok(Some(info))) => {
            tracing::info!(
                path = %info.path.display(), bytes = info.bytes, files = info.files, linked = info.linked, seconds,
                "online backup written"
            );
            Json(json!({
                "path": info.path.display().to_string(),
                "bytes": info.bytes,
                "files": info.files,
                "linked": info.linked,
                "seconds": (seconds * 1000.0).round() / 1000.0,
            }))
            .into_response()
        }
        Ok(Ok(None)) => error(StatusCode::CONFLICT, format!("{} exists already", dest.display())),
        Ok(Err(e)) => {
            tracing::error!(path = %dest.display(), error = %e, "online backup failed");
            error(StatusCode::SERVICE_UNAVAILABLE, format!("backup to {} failed: {e}", dest.display()))
        }
        Err(e) => {
            tracing::error!(path = %dest.display(), error = %e, "online backup task failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, format!("backup to {} failed: {e}", dest.display()))
        }
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
    use dnsledger_model::{Name, Observation, Rdata, RrType};
    use dnsledger_store::{Batch, Store};
    use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions, BACKUP_MANIFEST};
    use std::sync::Arc;
    use tower::ServiceExt;

    fn obs(i: u32) -> Observation {
        Observation {
            rrname: Name::from_presentation(&format!("h{i}.example.com")).unwrap(),
            rrtype: RrType::A,
            rdata: [Rdata::ipv4(std::net::Ipv4Addr::from(0xC000_0200 + i))].into_iter().collect(),
            time_first: 1_700_000_000,
            time_last: 1_700_000_000,
            count: 1,
            ..Observation::default()
        }
    }

    struct Setup {
        dir: tempfile::TempDir,
        state: AppState,
    }

    fn setup(keys: bool, backup_dir: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path().join("store"), RocksStoreOptions::default()).unwrap();
        let mut b = Batch::new();
        for i in 0..100 {
            b.add(&mut obs(i));
        }
        store.write(&b).unwrap();
        let config =
            ServerConfig { backup_dir: backup_dir.then(|| dir.path().join("backups")), ..ServerConfig::default() };
        let keys: Option<Arc<dyn KeyAuthority>> = if keys { Some(Arc::new(TestKeys)) } else { None };
        Setup { state: AppState::new(Arc::new(store), config, keys), dir }
    }

    async fn call(st: &AppState, query: &str, key: Option<&str>) -> (StatusCode, serde_json::Value) {
        let mut req = Request::post(format!("/api/v1/admin/backup{query}"));
        if let Some(k) = key {
            req = req.header("X-API-Key", k);
        }
        let resp = routes(st.clone()).oneshot(req.body(Body::empty()).unwrap()).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    #[tokio::test]
    async fn writes_a_backup_and_refuses_to_overwrite_it() {
        let s = setup(false, true);
        let (status, body) = call(&s.state, "?name=nightly-1", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let path = s.dir.path().join("backups").join("nightly-1");
        assert_eq!(body["path"], path.display().to_string());
        assert!(body["files"].as_u64().unwrap() >= 4 && body["bytes"].as_u64().unwrap() > 0, "{body}");
        assert!(body["seconds"].as_f64().is_some() && body["linked"].as_u64().is_some(), "{body}");
        assert!(path.join(BACKUP_MANIFEST).exists());
        // the backup is a store with the same records
        let copy = RocksStore::open(&path, RocksStoreOptions { read_only: true, ..Default::default() }).unwrap();
        let mut n = 0;
        let q = dnsledger_store::RdataQuery {
            target: dnsledger_store::RdataTarget::Ip(dnsledger_store::IpRange::parse("192.0.2.0/24").unwrap()),
            types: dnsledger_model::TypeFilter::All,
            fence: dnsledger_model::TimeFence::default(),
        };
        copy.lookup_rdata(&q, &mut |_| {
            n += 1;
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        assert_eq!(n, 100);
        let (status, body) = call(&s.state, "?name=nightly-1", None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"].as_str().unwrap().contains("exists already"), "{body}");
        // without a name: the UTC time
        let (status, body) = call(&s.state, "", None).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let name = Path::new(body["path"].as_str().unwrap()).file_name().unwrap().to_str().unwrap().to_string();
        assert_eq!(name.len(), 16, "{name}");
        assert!(name.starts_with("20") && name.ends_with('Z') && name.as_bytes()[8] == b'T', "{name}");
    }

    #[tokio::test]
    async fn names_cannot_leave_the_backup_directory() {
        let s = setup(false, true);
        for bad in ["..", ".", "../x", "a/b", "a..b", ".hidden", "%2e%2e", "a%2Fb", "x%00", "", "sp%20ace"] {
            let (status, body) = call(&s.state, &format!("?name={bad}"), None).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        }
        let long = "x".repeat(129);
        assert_eq!(call(&s.state, &format!("?name={long}"), None).await.0, StatusCode::BAD_REQUEST);
        assert!(!s.dir.path().join("backups").exists(), "nothing was written");
        for good in ["a", "2024-06-01_full.v2", &"x".repeat(128)] {
            assert!(valid_backup_name(good), "{good}");
        }
    }

    #[tokio::test]
    async fn only_admin_keys_may_back_up_when_keys_are_configured() {
        let s = setup(true, true);
        for (key, want) in [
            (None, StatusCode::FORBIDDEN),
            (Some("wrong"), StatusCode::FORBIDDEN),
            (Some("user-secret"), StatusCode::FORBIDDEN),
            (Some("admin-secret"), StatusCode::OK),
        ] {
            let (status, body) = call(&s.state, "?name=k", key).await;
            assert_eq!(status, want, "{key:?}: {body}");
            if want == StatusCode::FORBIDDEN {
                assert!(body["error"].as_str().unwrap().contains("admin"), "{body}");
            }
        }
        // Bearer works as for every native route
        let req = Request::post("/api/v1/admin/backup?name=b")
            .header("Authorization", "Bearer admin-secret")
            .body(Body::empty())
            .unwrap();
        assert_eq!(routes(s.state.clone()).oneshot(req).await.unwrap().status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn unavailable_without_a_backup_dir_or_a_store_that_can_back_up() {
        let s = setup(false, false);
        let (status, body) = call(&s.state, "?name=x", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(body["error"].as_str().unwrap().contains("backup_dir"), "{body}");
        // a read-only store cannot make a checkpoint: the reason is passed on
        let s = setup(false, true);
        let ro =
            RocksStore::open(s.dir.path().join("store"), RocksStoreOptions { read_only: true, ..Default::default() })
                .unwrap();
        let st = AppState::new(Arc::new(ro), (*s.state.config).clone(), None);
        let (status, body) = call(&st, "?name=x", None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(body["error"].as_str().unwrap().contains("read-only"), "{body}");
        assert!(!s.dir.path().join("backups").join("x").exists());
        // one backup per directory at a time
        let s = setup(false, true);
        let busy = Busy::claim(&s.dir.path().join("backups")).unwrap();
        let (status, body) = call(&s.state, "?name=y", None).await;
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
        assert!(body["error"].as_str().unwrap().contains("is running"), "{body}");
        drop(busy);
        assert_eq!(call(&s.state, "?name=y", None).await.0, StatusCode::OK);
    }

    #[test]
    fn default_names_are_utc_timestamps() {
        assert_eq!(default_backup_name(1_704_067_200), "20240101T000000Z");
        assert!(valid_backup_name(&default_backup_name(dnsledger_model::time::now())));
    }
}
