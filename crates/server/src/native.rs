//! The native JSON API: lookups (streamed), observation ingest, stats, health.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dnsledger_model::time;
use dnsledger_query::{spec, Lookup, RecordView, Window};
use dnsledger_sources::{Format, SourceOptions};
use dnsledger_store::Store;
use serde_json::json;

use crate::paths::{self, param};
use crate::AppState;

const LOOKUP_PREFIX: &str = "/api/v1/lookup";
/// Bytes buffered before a chunk of a streamed response is sent.
const STREAM_CHUNK: usize = 32 << 10;
/// Line errors echoed back in an ingest response.
const INGEST_ERRORS_SHOWN: usize = 20;

/// The native routes.
pub fn routes(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/api/v1/lookup/{*rest}", get(lookup))
        .route("/api/v1/observations", post(ingest))
        .route("/api/v1/stats", get(stats))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

/// A JSON error response.
pub fn error(status: StatusCode, msg: impl Into<String>) -> Response {
    (status, Json(json!({ "error": msg.into() }))).into_response()
}

/// Builds a lookup from path segments `kind/by/value[/rrtype[/bailiwick]]`.
pub fn parse_lookup(segs: &[String], fence: dnsledger_model::TimeFence) -> Result<Lookup, (StatusCode, String)> {
    let bad = |e: spec::LookupError| (StatusCode::BAD_REQUEST, e.0);
    let too_many =
        |max: usize| (StatusCode::BAD_REQUEST, format!("too many path segments: at most {max} after the value"));
    let strs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match strs.as_slice() {
        ["rrset", "name", owner, rest @ ..] => {
            if rest.len() > 2 {
                return Err(too_many(2));
            }
            spec::rrset_name(owner, rest.first().copied(), rest.get(1).copied(), fence).map_err(bad)
        }
        ["rrset", "raw", hex, rest @ ..] if rest.len() <= 1 => {
            spec::rrset_raw(hex, rest.first().copied(), fence).map_err(bad)
        }
        ["rdata", "name", name, rest @ ..] if rest.len() <= 1 => {
            spec::rdata_name(name, rest.first().copied(), fence).map_err(bad)
        }
        ["rdata", "ip", ip, rest @ ..] if rest.len() <= 1 => {
            spec::rdata_ip(ip, rest.first().copied(), fence).map_err(bad)
        }
        ["rdata", "raw", hex, rest @ ..] if rest.len() <= 1 => {
            spec::rdata_raw(hex, rest.first().copied(), fence).map_err(bad)
        }
        ["rrset" | "rdata", "raw" | "name" | "ip", _, ..] => Err(too_many(1)),
        _ => Err((
            StatusCode::NOT_FOUND,
            "unknown lookup: expected rrset/name/…, rrset/raw/…, rdata/name/…, rdata/ip/… or rdata/raw/…".to_string(),
        )),
    }
}

async fn lookup(State(st): State<AppState>, uri: Uri) -> Response {
    let raw = uri.path().strip_prefix(LOOKUP_PREFIX).unwrap_or("");
    let segs = match paths::segments(raw) {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let pairs = paths::query_pairs(uri.query());
    let fence = match paths::fence(&pairs, time::now()) {
        Ok(f) => f,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let window = match paths::window(&pairs, st.config.default_limit, st.config.max_limit) {
        Ok(w) => w,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let ndjson = match param(&pairs, "format") {
        None | Some("json") => false,
        Some("ndjson") => true,
        Some(other) => {
            return error(StatusCode::BAD_REQUEST, format!("format: expected json or ndjson, got {other:?}"))
        }
    };
    let lookup = match parse_lookup(&segs, fence) {
        Ok(l) => l,
        Err((status, msg)) => return error(status, msg),
    };
    let content_type = if ndjson { "application/x-ndjson" } else { "application/json" };
    let body = stream_records(st.store.clone(), lookup, window, ndjson);
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// Runs a lookup on a blocking thread and streams its records as they are read. If the
/// client goes away the channel closes and the scan stops at the next record.
fn stream_records(store: Arc<dyn Store>, lookup: Lookup, window: Window, ndjson: bool) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let mut buf: Vec<u8> = Vec::with_capacity(STREAM_CHUNK + 1024);
        if !ndjson {
            buf.extend_from_slice(b"{\"records\":[");
        }
        let mut first = true;
        let mut gone = false;
        let res = dnsledger_query::run(&*store, &lookup, window, &mut |rec| {
            if !ndjson && !std::mem::replace(&mut first, false) {
                buf.push(b',');
            }
            if serde_json::to_writer(&mut buf, &RecordView::from_record(&rec)).is_err() {
                return ControlFlow::Break(());
            }
            buf.push(b'\n');
            if buf.len() >= STREAM_CHUNK && tx.blocking_send(Bytes::from(std::mem::take(&mut buf))).is_err() {
                gone = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        if gone {
            return;
        }
        match (&res, ndjson) {
            (Ok(o), false) => {
                buf.extend_from_slice(
                    format!("],\"returned\":{},\"limited\":{}}}\n", o.returned, o.limited).as_bytes(),
                );
            }
            (Err(e), false) => {
                tracing::error!(error = %e, "lookup failed");
                buf.extend_from_slice(b"],\"error\":");
                let _ = serde_json::to_writer(&mut buf, &e.to_string());
                buf.extend_from_slice(b"}\n");
            }
            (Err(e), true) => {
                tracing::error!(error = %e, "lookup failed");
                buf.extend_from_slice(b"{\"error\":");
                let _ = serde_json::to_writer(&mut buf, &e.to_string());
                buf.extend_from_slice(b"}\n");
            }
            (Ok(_), true) => {}
        }
        let _ = tx.blocking_send(Bytes::from(buf));
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    Body::from_stream(stream)
}

async fn ingest(State(st): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let pairs = paths::query_pairs(uri.query());
    let format = match param(&pairs, "format") {
        Some(f) => match Format::parse(f) {
            Some(f) => f,
            None => {
                return error(StatusCode::BAD_REQUEST, format!("format: unknown format {f:?} (ndjson, passivedns)"))
            }
        },
        None => match Format::sniff(&body[..body.len().min(64 << 10)]) {
            Some(f) => f,
            None if body.is_empty() => Format::Ndjson,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "cannot tell the body's format; pass ?format=ndjson or ?format=passivedns",
                )
            }
        },
    };
    let sensor = param(&pairs, "sensor")
        .map(str::to_string)
        .or_else(|| headers.get("x-sensor-id").and_then(|v| v.to_str().ok()).map(str::to_string))
        .filter(|s| !s.is_empty());
    let store = st.store.clone();
    let job = tokio::task::spawn_blocking(move || {
        let mut parser = format.parser(&SourceOptions { sensor });
        let r = dnsledger_ingest::parse_chunk(parser.as_mut(), &body, 1, "request");
        let written = if r.batch.is_empty() { Ok(Default::default()) } else { store.write(&r.batch) };
        (r, written)
    });
    let (r, written) = match job.await {
        Ok(x) => x,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("ingest task failed: {e}")),
    };
    let stats = match written {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "ingest write failed");
            return error(StatusCode::SERVICE_UNAVAILABLE, format!("observations not stored: {e}"));
        }
    };
    let rejected: u64 = r.rejected.values().sum();
    let status = if r.observations == 0 && rejected > 0 { StatusCode::BAD_REQUEST } else { StatusCode::OK };
    let errors: Vec<String> =
        r.errors.iter().take(INGEST_ERRORS_SHOWN).map(|e| format!("line {}: {}", e.line, e.error)).collect();
    let body = json!({
        "format": format.name(),
        "lines": r.lines,
        "observations": r.observations,
        "records": stats.records,
        "rejected": r.rejected,
        "skipped": r.skipped,
        "errors": errors,
    });
    (status, Json(body)).into_response()
}

async fn stats(State(st): State<AppState>) -> Response {
    let store = st.store.clone();
    match tokio::task::spawn_blocking(move || store.stats()).await {
        Ok(Ok(s)) => Json(json!({
            "backend": s.backend,
            "entries": s.entries,
            "disk_bytes": s.disk_bytes,
            "corrupt_values": s.corrupt_values,
            "sensors": s.sensors,
        }))
        .into_response(),
        Ok(Err(e)) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}
