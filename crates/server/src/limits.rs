//! Connection-level limits of the HTTP server: how many connections are served at once, how
//! long a client may take to send a request's headers and its body, and the counter of what
//! these limits (and the body-size and query-time limits) cut short.
//!
//! axum's own `axum::serve` sets no timer on hyper, so hyper's header read timeout never runs
//! there: a client that sends a request line and then one header byte a minute (slowloris), or
//! opens connections and sends nothing, holds them for ever. This module serves connections with
//! hyper's HTTP/1 builder directly (the same hyper and hyper-util axum uses), with the
//! header read timeout on, a cap on open connections, and a deadline on reading request bodies.
//!
//! Everything cut short is counted in `dnsledger_http_limited_total{reason}`
//! ([`dnsledger_telemetry::catalog::HTTP_LIMITED`]), reasons:
//! - `header_timeout`: a connection did not send a complete request head within
//!   [`ConnLimits::header_read_timeout`] (this includes a keep-alive connection idle that long);
//! - `body_timeout`: a request body was not complete within [`ConnLimits::body_read_timeout`]
//!   (answered `408`);
//! - `body_too_large`: a body over `max_body_bytes`, or a gzip body inflating past it (`413`);
//! - `connection_cap`: a connection accepted while [`ConnLimits::max_connections`] were open,
//!   closed at once;
//! - `connection_cap_per_address`: a connection accepted while its client address already had
//!   [`ConnLimits::max_connections_per_address`] open, closed at once (so one address cannot
//!   take every slot of `max_connections`);
//! - `body_queued`: a request with a body (POST, PUT) that waited for one of the
//!   [`ConnLimits::max_body_requests`] slots before its body was read (not refused: counted so
//!   a full queue shows);
//! - `body_queue_timeout`: such a request that found no slot within the body timeout (`503`);
//! - `query_timeout`: a lookup stopped at the per-request deadline (see `crate::stream`).

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use dnsledger_telemetry::catalog::HTTP_LIMITED;

/// The connection limits of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnLimits {
    /// Longest time a connection may take to send a complete request head (request line and
    /// headers), counted from the first wait for it; also the idle time of a keep-alive
    /// connection between requests.
    pub header_read_timeout: Duration,
    /// Longest time a request may take to send its whole body, counted from when the handler
    /// starts reading it.
    pub body_read_timeout: Duration,
    /// Most connections served at once; more are accepted and closed at once.
    pub max_connections: usize,
    /// Most connections served at once from one client address (an IPv4 address, or the /64
    /// network of an IPv6 one); more from it are accepted and closed at once. 0: no cap.
    pub max_connections_per_address: usize,
    /// Most requests with a body (POST, PUT) read and handled at once; more wait, unread, for a
    /// slot. Request bodies in memory stay under this many times `max_body_bytes` (twice that
    /// for gzip bodies, compressed and inflated).
    pub max_body_requests: usize,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(120),
            max_connections: 1024,
            max_connections_per_address: 256,
            max_body_requests: 8,
        }
    }
}

/// Counts one thing a limit cut short.
pub fn count(reason: &'static str) {
    metrics::counter!(HTTP_LIMITED, "reason" => reason).increment(1);
}

/// What [`bound_bodies`] needs: the body deadline and the slots of requests with a body.
#[derive(Clone)]
pub struct BodyBounds {
    timeout: Duration,
    max: usize,
    slots: Arc<tokio::sync::Semaphore>,
}

impl BodyBounds {
    /// The bounds of `limits`.
    pub fn new(limits: &ConnLimits) -> BodyBounds {
        BodyBounds {
            timeout: limits.body_read_timeout,
            max: limits.max_body_requests.max(1),
            slots: Arc::new(tokio::sync::Semaphore::new(limits.max_body_requests.max(1))),
        }
    }
}

/// Middleware: lets at most `max_body_requests` requests with a body in at once, puts the body
/// deadline on the request body, answers `408` when it passed, and counts `413` answers
/// (whichever layer produced them) as `body_too_large`.
pub async fn bound_bodies(
    axum::extract::State(bounds): axum::extract::State<BodyBounds>,
    req: Request,
    next: Next,
) -> Response {
    let timeout = bounds.timeout;
    let _slot = if matches!(*req.method(), axum::http::Method::POST | axum::http::Method::PUT) {
        let slot = match bounds.slots.clone().try_acquire_owned() {
            Ok(s) => Ok(s),
            Err(_) => {
                count("body_queued");
                match tokio::time::timeout(timeout, bounds.slots.clone().acquire_owned()).await {
                    Ok(s) => s,
                    Err(_) => {
                        count("body_queue_timeout");
                        return crate::native::error(
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!(
                                "busy: {} requests with a body are being handled and none finished within {} s; retry later",
                                bounds.max,
                                timeout.as_secs_f64()
                            ),
                        );
                    }
                }
            }
        };
        // the semaphore is never closed, so this is always a slot
        slot.ok()
    } else {
        None
    };
    let expired = Arc::new(AtomicBool::new(false));
    let (parts, body) = req.into_parts();
    let body = Body::new(DeadlineBody { inner: body, timeout, sleep: None, expired: expired.clone() });
    let resp = next.run(Request::from_parts(parts, body)).await;
    if expired.load(Ordering::Relaxed) {
        count("body_timeout");
        return crate::native::error(
            StatusCode::REQUEST_TIMEOUT,
            format!("the request body was not complete within {} s", timeout.as_secs_f64()),
        );
    }
    if resp.status() == StatusCode::PAYLOAD_TOO_LARGE {
        count("body_too_large");
    }
    resp
}

/// A request body that fails once its deadline (started at its first poll) has passed.
struct DeadlineBody {
    inner: Body,
    timeout: Duration,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl http_body::Body for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let timeout = self.timeout;
        let sleep = self.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        if sleep.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(format!(
                "request body not complete within {} s",
                timeout.as_secs_f64()
            )))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// The address a connection is counted under for
/// [`ConnLimits::max_connections_per_address`]: an IPv4 address as is (also when it comes as
/// an IPv4-mapped IPv6 address, from a dual-stack socket), an IPv6 address as its /64 network,
/// the smallest block one host is usually given (counting single IPv6 addresses would cap
/// nothing: a host can pick new ones at will).
pub fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

/// Open connections per client address.
struct PerAddress {
    max: usize,
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection counted under its client address, uncounted when dropped.
struct AddressSlot {
    table: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    /// Counts a connection from `ip`, or `None` when its address is at the cap. A poisoned
    /// lock (a panic while counting, which cannot happen) lets connections through.
    fn acquire(table: &Arc<PerAddress>, ip: IpAddr) -> Option<AddressSlot> {
        let key = client_key(ip);
        let mut open = table.open.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(key).or_insert(0);
        if *n >= table.max {
            return None;
        }
        *n += 1;
        Some(AddressSlot { table: table.clone(), key })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.key) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.key);
            }
        }
    }
}

/// Serves `app` on `listener` with `limits` until `shutdown` resolves; then stops accepting,
/// lets in-flight requests finish and returns.
pub(crate) async fn serve_with_limits<L>(
    mut listener: L,
    app: axum::Router,
    limits: ConnLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) where
    L: axum::serve::Listener<Addr = SocketAddr>,
{
    use hyper_util::rt::{TokioIo, TokioTimer};
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let per_address = (limits.max_connections_per_address > 0)
        .then(|| Arc::new(PerAddress { max: limits.max_connections_per_address, open: Mutex::default() }));
    // Connection tasks hold a receiver each; shutdown is announced on `signal` and waited for on
    // `close` (every receiver dropped).
    let (signal_tx, signal_rx) = tokio::sync::watch::channel(());
    let (close_tx, close_rx) = tokio::sync::watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, peer) = tokio::select! {
            conn = listener.accept() => conn,
            () = &mut shutdown => break,
        };
        let address_slot = match &per_address {
            Some(table) => match PerAddress::acquire(table, peer.ip()) {
                Some(s) => Some(s),
                None => {
                    count("connection_cap_per_address");
                    tracing::debug!(
                        ?peer,
                        max = limits.max_connections_per_address,
                        "per-address connection cap reached: connection closed"
                    );
                    drop(io);
                    continue;
                }
            },
            None => None,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            count("connection_cap");
            tracing::debug!(?peer, max = limits.max_connections, "connection cap reached: connection closed");
            drop(io);
            continue;
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        let mut signal = signal_rx.clone();
        let close = close_rx.clone();
        tokio::spawn(async move {
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            let mut conn = std::pin::pin!(conn);
            let result = loop {
                tokio::select! {
                    r = conn.as_mut() => break r,
                    _ = signal.changed() => conn.as_mut().graceful_shutdown(),
                }
            };
            if let Err(e) = result {
                if e.is_timeout() {
                    count("header_timeout");
                }
                tracing::trace!(?peer, error = %e, "connection ended with an error");
            }
            drop(slot);
            drop(address_slot);
            drop(close);
        });
    }
    drop(listener);
    drop(close_rx);
    let _ = signal_tx.send(());
    close_tx.closed().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_counted_per_ipv4_address_and_per_ipv6_64() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(client_key(ip("192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("::ffff:192.0.2.7")), ip("192.0.2.7"));
        assert_eq!(client_key(ip("2001:db8:1:2:aaaa::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("2001:db8:1:2:bbbb::9")), client_key(ip("2001:db8:1:2::1")));
        assert_ne!(client_key(ip("2001:db8:1:3::1")), client_key(ip("2001:db8:1:2::1")));
    }

    #[test]
    fn an_address_slot_is_given_back_when_dropped() {
        let table = Arc::new(PerAddress { max: 2, open: Mutex::default() });
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = PerAddress::acquire(&table, a).expect("first");
        let second = PerAddress::acquire(&table, a).expect("second");
        assert!(PerAddress::acquire(&table, a).is_none(), "a third from the same address");
        assert!(PerAddress::acquire(&table, b).is_some(), "another address is not affected");
        drop(first);
        assert!(PerAddress::acquire(&table, a).is_some(), "a freed slot is usable again");
        // entries of addresses with nothing open are removed (the map does not grow for ever)
        drop(second);
        assert!(table.open.lock().unwrap().is_empty());
    }
}
