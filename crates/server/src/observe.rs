//! The server watching itself: per-route request counts and latency histograms (timed to the
//! last byte of the response body, since lookups stream), `/metrics` in the Prometheus text
//! format, and `/readyz`.

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dnsledger_telemetry::catalog;

use crate::AppState;

/// The route a path belongs to: a small fixed set, so label values stay bounded whatever
/// clients ask for.
pub fn route_label(path: &str) -> &'static str {
    let p = path.trim_start_matches('/');
    let after = |prefix: &str| p.strip_prefix(prefix);
    if let Some(rest) = after("api/v1/lookup/") {
        return match rest.split('/').next() {
            Some("rrset") => "lookup_rrset",
            Some("rdata") => "lookup_rdata",
            _ => "lookup_other",
        };
    }
    if let Some(rest) = after("dnsdb/v2/") {
        return match rest.split('/').next() {
            Some("lookup") => "dnsdb_lookup",
            Some("summarize") => "dnsdb_summarize",
            Some("rate_limit") => "dnsdb_rate_limit",
            Some("ping") => "dnsdb_ping",
            _ => "dnsdb_other",
        };
    }
    if p.starts_with("pdns/query/") {
        return "cof_query";
    }
    if p.starts_with("api/v1/admin/") {
        return "admin";
    }
    if p == "api/v1/watchlists" || p.starts_with("api/v1/watchlists/") {
        return "watchlists";
    }
    if p.is_empty() || p == "index.html" || p.starts_with("console/") {
        return "console";
    }
    match p {
        "api/v1/observations" => "ingest",
        "api/v1/stats" => "stats",
        "api/v1/alerts" => "alerts",
        "healthz" => "healthz",
        "readyz" => "readyz",
        "metrics" => "metrics",
        "openapi.json" => "openapi",
        _ => "other",
    }
}

/// Middleware: counts the request by route and status when the response starts, and records
/// its duration when the body ends (or the client goes away).
pub async fn track(req: Request, next: Next) -> Response {
    let route = route_label(req.uri().path());
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!(catalog::HTTP_REQUESTS, "route" => route, "status" => status).increment(1);
    let (parts, body) = resp.into_parts();
    Response::from_parts(parts, Body::new(TimedBody { inner: body, timing: Some((start, route)) }))
}

/// A response body that records the request's duration when it ends or is dropped.
struct TimedBody {
    inner: Body,
    timing: Option<(Instant, &'static str)>,
}

impl TimedBody {
    fn finish(&mut self) {
        if let Some((start, route)) = self.timing.take() {
            metrics::histogram!(catalog::HTTP_DURATION, "route" => route).record(start.elapsed().as_secs_f64());
        }
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(r, Poll::Ready(None) | Poll::Ready(Some(Err(_)))) {
            self.finish();
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for TimedBody {
    fn drop(&mut self) {
        self.finish();
    }
}

/// `GET /metrics`: the Prometheus text exposition. Needs a key when keys are configured (a
/// scraper sends it as `Authorization: Bearer …`); quotas are not charged.
pub async fn metrics_route(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = crate::auth::native_caller(&st, &headers) {
        return r;
    }
    let Some(m) = st.metrics.clone() else {
        return crate::native::error(StatusCode::NOT_FOUND, "metrics are not enabled in this process");
    };
    match tokio::task::spawn_blocking(move || m.render()).await {
        Ok(text) => ([(header::CONTENT_TYPE, dnsledger_telemetry::registry::CONTENT_TYPE)], text).into_response(),
        Err(e) => crate::native::error(StatusCode::INTERNAL_SERVER_ERROR, format!("rendering metrics: {e}")),
    }
}

/// `GET /readyz`: 200 when the server takes traffic (started, not stopping, store healthy),
/// else 503 with the reason. Needs no key, like `/healthz`.
pub async fn readyz(State(st): State<AppState>) -> Response {
    if !st.ready.load(Ordering::Relaxed) {
        return (StatusCode::SERVICE_UNAVAILABLE, "not ready: starting or shutting down\n").into_response();
    }
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.health()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {e}\n")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_a_bounded_set() {
        assert_eq!(route_label("/api/v1/lookup/rrset/name/www.example.com/A"), "lookup_rrset");
        assert_eq!(route_label("/api/v1/lookup/rdata/ip/192.0.2.1"), "lookup_rdata");
        assert_eq!(route_label("//dnsdb/v2/lookup/rrset/name/x"), "dnsdb_lookup");
        assert_eq!(route_label("/dnsdb/v2/summarize/rrset/name/x"), "dnsdb_summarize");
        assert_eq!(route_label("/dnsdb/v2/rate_limit"), "dnsdb_rate_limit");
        assert_eq!(route_label("/pdns/query/example.com"), "cof_query");
        assert_eq!(route_label("/api/v1/observations"), "ingest");
        assert_eq!(route_label("/api/v1/admin/backup"), "admin");
        assert_eq!(route_label("/"), "console");
        assert_eq!(route_label("/console/app.js"), "console");
        assert_eq!(route_label("/metrics"), "metrics");
        assert_eq!(route_label("/../../etc/passwd"), "other");
        assert_eq!(route_label("/random/junk/1234"), "other");
    }
}
