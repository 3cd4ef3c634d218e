//! dnsledger's HTTP server: the native JSON API (lookups, observation ingest, stats) on top of
//! any [`Store`]. Lookups stream: records are serialised as the store's iterator yields them
//! and a client that hangs up stops the scan. Compatibility APIs (DNSDB v2, COF) mount beside
//! the native routes under their own prefixes.
//!
//! Native routes (all JSON):
//! - `GET /api/v1/lookup/rrset/name/{owner}[/{rrtype}[/{bailiwick}]]`
//! - `GET /api/v1/lookup/rrset/raw/{hex}[/{rrtype}]`
//! - `GET /api/v1/lookup/rdata/name/{name}[/{rrtype}]`
//! - `GET /api/v1/lookup/rdata/ip/{ip | ip,len | ip/len | ip-ip}`
//! - `GET /api/v1/lookup/rdata/raw/{hex}[/{rrtype}]`
//!
//!   with `limit`, `offset`, `time_first_after`, `time_first_before`, `time_last_after`,
//!   `time_last_before`, `sensor` (records seen by that sensor; filtered before `offset` and
//!   `limit`, so on the whole answer), and `format=json` (default: one JSON document
//!   `{"records":[…],"returned":N,"limited":bool}`), `format=ndjson` (one record per line) or
//!   the exports `format=csv|misp|stix` (`dnsledger_analytics::export`).
//! - `POST /api/v1/observations?format=ndjson|passivedns|batch&sensor=ID` — ingest (gzip bodies
//!   accepted; `batch` is a sensor's pre-aggregated batch; any format is applied at most once
//!   per `X-Batch-Id`); the response is sent after the batch is durable, stored whole in one
//!   atomic write (`507` when the disk is full, `503` for other store errors: nothing stored).
//! - `GET /api/v1/analytics/...` (see [`analytics`]) and `POST /api/v1/analytics/lookback`
//!   (a batch of indicators, see `lookback`).
//! - `GET|PUT|DELETE /api/v1/watchlists/{name}`, `GET /api/v1/watchlists`, `GET /api/v1/alerts`
//!   (see [`watch`]).
//! - `GET /` — the analyst web console (`dnsledger_console`, files under `/console/`).
//! - `GET /api/v1/stats`, `GET /healthz`, `GET /readyz`, `GET /metrics` (see [`observe`]),
//!   `GET /openapi.json`.
//!
//! Lookups take `sources=local,NAME,...` to ask configured upstreams too (see [`federated`]).
//!
//! Compatibility routes: `/dnsdb/v2/...` (DNSDB API v2 with SAF framing, see [`dnsdb`]) and
//! `/pdns/query/{value}` (CIRCL COF, see `cof`). API keys are checked through a
//! [`auth::KeyAuthority`]; without one the server is open and may only listen on loopback.

// Handlers return a ready `Response` as their error: boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

pub mod admin;
pub mod analytics;
mod analytics_temporal;
pub mod auth;
pub mod cof;
pub mod dnsdb;
pub mod federated;
pub mod limits;
mod lookback;
mod native;
pub mod observe;
pub mod paths;
pub mod stream;
pub mod tls;
pub mod watch;

use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::Router;
use dnsledger_store::Store;

/// How the server runs.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Default `limit` of lookups.
    pub default_limit: u64,
    /// Largest `limit` a lookup may ask for (`limit=0` means this).
    pub max_limit: u64,
    /// Directory online backups (`POST /api/v1/admin/backup`) are written into; `None`
    /// refuses them.
    pub backup_dir: Option<std::path::PathBuf>,
    /// Wall-clock time a lookup may run before it is stopped and answered as timed out
    /// (`None`: no deadline).
    pub query_timeout: Option<std::time::Duration>,
    /// Connection limits: header and body read timeouts, open connections, requests with a body.
    pub limits: limits::ConnLimits,
}

impl ServerConfig {
    /// The deadline of a lookup starting now, from [`ServerConfig::query_timeout`].
    pub fn query_deadline(&self) -> Option<std::time::Instant> {
        self.query_timeout.map(|t| std::time::Instant::now() + t)
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8053)),
            max_body_bytes: 64 << 20,
            default_limit: 10_000,
            max_limit: 1_000_000,
            backup_dir: None,
            query_timeout: Some(std::time::Duration::from_secs(30)),
            limits: limits::ConnLimits::default(),
        }
    }
}

/// Shared state of request handlers.
#[derive(Clone)]
pub struct AppState {
    /// The store queries and ingest go to.
    pub store: Arc<dyn Store>,
    /// Server settings.
    pub config: Arc<ServerConfig>,
    /// API keys; `None` means open access (allowed on loopback only).
    pub keys: Option<Arc<dyn auth::KeyAuthority>>,
    /// Serialises batch-id checks with their writes (exactly-once sensor batches).
    pub batch_lock: Arc<std::sync::Mutex<()>>,
    /// The process's metrics registry, served at `/metrics` when set.
    pub metrics: Option<Arc<dnsledger_telemetry::Metrics>>,
    /// False while starting and once shutdown began: `/readyz` answers 503.
    pub ready: Arc<AtomicBool>,
    /// Settings of the analytics routes.
    pub analytics: analytics::AnalyticsConfig,
    /// Configured upstreams for federated lookups (`sources=`); empty = local only.
    pub federation: Arc<dnsledger_federation::Federation>,
    /// The watchlists and alerts (`/api/v1/watchlists`, `/api/v1/alerts`); `None`: not configured.
    pub watch: Option<Arc<dnsledger_watch::Watcher>>,
}

impl AppState {
    /// State for `store` with `config` and optional keys.
    pub fn new(store: Arc<dyn Store>, config: ServerConfig, keys: Option<Arc<dyn auth::KeyAuthority>>) -> AppState {
        AppState {
            store,
            config: Arc::new(config),
            keys,
            batch_lock: Arc::default(),
            metrics: None,
            ready: Arc::new(AtomicBool::new(true)),
            analytics: analytics::AnalyticsConfig::default(),
            federation: Arc::default(),
            watch: None,
        }
    }

    /// The same state with these upstreams for federated lookups.
    pub fn with_federation(mut self, federation: dnsledger_federation::Federation) -> AppState {
        self.federation = Arc::new(federation);
        self
    }

    /// The same state serving `watcher`'s lists and alerts (the store should be wrapped in a
    /// `dnsledger_watch::WatchingStore` of the same watcher, so ingest raises alerts).
    pub fn with_watch(mut self, watcher: Arc<dnsledger_watch::Watcher>) -> AppState {
        self.watch = Some(watcher);
        self
    }

    /// The same state with these analytics settings.
    pub fn with_analytics(mut self, cfg: analytics::AnalyticsConfig) -> AppState {
        self.analytics = cfg;
        self
    }

    /// The same state serving `metrics` at `/metrics`.
    pub fn with_metrics(mut self, metrics: Arc<dnsledger_telemetry::Metrics>) -> AppState {
        self.metrics = Some(metrics);
        self
    }
}

/// The OpenAPI 3.1 description of every route, served at `/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The router with every route, for embedding or testing.
pub fn router(state: AppState) -> Router {
    use axum::routing::get;
    let body_bounds = limits::BodyBounds::new(&state.config.limits);
    native::routes(state.clone())
        .merge(admin::routes(state.clone()))
        .merge(analytics::routes_with(state.clone(), state.analytics.clone()))
        .merge(lookback::routes(state.clone()))
        .merge(watch::routes(state.clone()))
        .merge(dnsledger_console::router())
        .merge(
            Router::new()
                .route("/dnsdb/v2/{*rest}", get(dnsdb::handle))
                .route("/pdns/query/{*rest}", get(cof::handle))
                .route("/metrics", get(observe::metrics_route))
                .route("/readyz", get(observe::readyz))
                .route(
                    "/openapi.json",
                    get(|| async { ([(axum::http::header::CONTENT_TYPE, "application/json")], OPENAPI) }),
                )
                .fallback(fallback)
                .with_state(state),
        )
        .layer(axum::middleware::from_fn_with_state(body_bounds, limits::bound_bodies))
        .layer(axum::middleware::from_fn(observe::track))
}

/// Paths no route matched: dnsdbq with a trailing slash in `DNSDB_SERVER` sends
/// `//dnsdb/v2/...`; such paths are served as if the slashes were single.
async fn fallback(
    state: axum::extract::State<AppState>,
    uri: axum::http::Uri,
    headers: axum::http::HeaderMap,
) -> axum::response::Response {
    let trimmed = uri.path().trim_start_matches('/');
    if trimmed.starts_with("dnsdb/v2/") {
        return dnsdb::handle(state, uri, headers).await;
    }
    if trimmed.starts_with("pdns/query/") {
        return cof::handle(state, uri, headers).await;
    }
    native::error(axum::http::StatusCode::NOT_FOUND, format!("no route for {}", uri.path()))
}

async fn save_usage(keys: &Arc<dyn auth::KeyAuthority>) {
    let k = keys.clone();
    match tokio::task::spawn_blocking(move || k.tick()).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "API key housekeeping failed"),
        Err(e) => tracing::warn!(error = %e, "API key housekeeping failed"),
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Binding the listen address failed.
    #[error("cannot listen on {addr}: {error}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        error: std::io::Error,
    },
    /// A non-loopback address without API keys.
    #[error("refusing to listen on {0}: it is not a loopback address and no API keys are configured; anyone who can reach it could read and write the store. Listen on 127.0.0.1 (the default) or configure API keys")]
    Exposed(SocketAddr),
    /// The server stopped with an error.
    #[error("server error: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds the listen address of `state`, refusing non-loopback addresses unless API keys are
/// configured.
pub async fn bind(state: &AppState) -> Result<tokio::net::TcpListener, ServeError> {
    let addr = state.config.listen;
    let keyed = state.keys.as_ref().is_some_and(|k| !k.is_empty());
    if !addr.ip().is_loopback() && !keyed {
        return Err(ServeError::Exposed(addr));
    }
    tokio::net::TcpListener::bind(addr).await.map_err(|error| ServeError::Bind { addr, error })
}

/// Serves plain HTTP on `listener` until `shutdown` resolves; then stops accepting, finishes
/// in-flight requests and returns. Connections are bounded by the config's [`limits::ConnLimits`].
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    use axum::serve::ListenerExt;
    // Responses go out in several writes (headers, streamed chunks): without TCP_NODELAY,
    // Nagle's algorithm meets the client's delayed ACK and every lookup waits ~40 ms.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::warn!(error = %e, "cannot set TCP_NODELAY");
        }
    });
    serve_on(listener, state, shutdown).await
}

/// Serves HTTPS on `listener` with `tls` (see [`tls::TlsListener`]) until `shutdown` resolves,
/// like [`serve`].
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener.local_addr().map_err(ServeError::Io)?;
    let listener = tls::TlsListener::new(listener, tls).map_err(|error| ServeError::Bind { addr, error })?;
    serve_on(listener, state, shutdown).await
}

async fn serve_on<L>(
    listener: L,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    // Key usage counters are saved every minute and at shutdown.
    let saver = state.keys.clone().map(|keys| {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
            loop {
                tick.tick().await;
                save_usage(&keys).await;
            }
        })
    });
    let keys = state.keys.clone();
    let conn_limits = state.config.limits;
    limits::serve_with_limits(listener, router(state), conn_limits, shutdown).await;
    if let Some(s) = saver {
        s.abort();
    }
    if let Some(keys) = keys {
        save_usage(&keys).await;
    }
    Ok(())
}
