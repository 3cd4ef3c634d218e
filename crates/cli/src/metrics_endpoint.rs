//! A `/metrics` (and `/healthz`) HTTP endpoint on its own thread, for processes that serve
//! nothing else: `dnsledger sensor --metrics-listen ADDR`.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::http::header;
use axum::routing::get;

use dnsledger_telemetry::registry::{Metrics, CONTENT_TYPE};

/// A running endpoint; dropping it leaves the thread running until the process exits.
pub struct Endpoint {
    /// The address it listens on (the port is chosen when 0 was asked for).
    pub local: SocketAddr,
}

/// Binds `addr` now (so a busy port is an error at start) and serves `/metrics` from `metrics`
/// on a background thread.
pub fn spawn(addr: SocketAddr, metrics: Arc<Metrics>) -> anyhow::Result<Endpoint> {
    let std_listener =
        std::net::TcpListener::bind(addr).with_context(|| format!("metrics endpoint: cannot listen on {addr}"))?;
    std_listener.set_nonblocking(true).context("metrics endpoint socket")?;
    let local = std_listener.local_addr().context("metrics endpoint address")?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_io().build().context("metrics endpoint runtime")?;
    std::thread::Builder::new()
        .name("metrics-http".into())
        .spawn(move || {
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(std_listener) {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::error!(error = %e, "metrics endpoint stopped");
                        return;
                    }
                };
                let app = axum::Router::new()
                    .route(
                        "/metrics",
                        get(move || {
                            let m = metrics.clone();
                            async move { ([(header::CONTENT_TYPE, CONTENT_TYPE)], m.render()) }
                        }),
                    )
                    .route("/healthz", get(|| async { "ok\n" }));
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::error!(error = %e, "metrics endpoint stopped");
                }
            })
        })
        .context("starting the metrics endpoint thread")?;
    Ok(Endpoint { local })
}
