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
//!   `time_last_before`, and `format=json` (default: one JSON document
//!   `{"records":[…],"returned":N,"limited":bool}`) or `format=ndjson` (one record per line).
//! - `POST /api/v1/observations?format=ndjson|passivedns&sensor=ID` — ingest; the response is
//!   sent after the batch is durable.
//! - `GET /api/v1/stats`, `GET /healthz`.

mod native;
pub mod paths;
pub mod stream;

use std::net::SocketAddr;
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
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8053)),
            max_body_bytes: 64 << 20,
            default_limit: 10_000,
            max_limit: 1_000_000,
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
}

/// The router with every route, for embedding or testing.
pub fn router(state: AppState) -> Router {
    native::routes(state)
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

/// Binds the listen address of `config`, refusing non-loopback addresses (no API keys yet).
pub async fn bind(config: &ServerConfig) -> Result<tokio::net::TcpListener, ServeError> {
    let addr = config.listen;
    if !addr.ip().is_loopback() {
        return Err(ServeError::Exposed(addr));
    }
    tokio::net::TcpListener::bind(addr).await.map_err(|error| ServeError::Bind { addr, error })
}

/// Serves on `listener` until `shutdown` resolves; then stops accepting, finishes in-flight
/// requests and returns.
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
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await?;
    Ok(())
}
