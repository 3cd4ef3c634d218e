//! The native JSON API: lookups (streamed), observation ingest, stats, health.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dnsledger_model::time;
use dnsledger_model::Record;
use dnsledger_query::{Outcome, RecordView};
use dnsledger_sources::{Format, SourceOptions};
use dnsledger_store::StoreError;
use serde_json::json;

use crate::paths::{self, param};
use crate::stream::{records_body, Encoder};
use crate::AppState;

const LOOKUP_PREFIX: &str = "/api/v1/lookup";
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
    let lookup = match paths::lookup_from_segments(&segs, fence) {
        Ok(l) => l,
        Err((status, msg)) => return error(status, msg),
    };
    let content_type = if ndjson { "application/x-ndjson" } else { "application/json" };
    let body = records_body(st.store.clone(), lookup, window, NativeEncoder { ndjson, first: true });
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The native lookup formats: one JSON document, or NDJSON records.
#[derive(Clone)]
struct NativeEncoder {
    ndjson: bool,
    first: bool,
}

impl Encoder for NativeEncoder {
    fn begin(&mut self, out: &mut Vec<u8>) {
        if !self.ndjson {
            out.extend_from_slice(b"{\"records\":[");
        }
    }

    fn record(&mut self, r: &Record, out: &mut Vec<u8>) {
        if !self.ndjson && !std::mem::replace(&mut self.first, false) {
            out.push(b',');
        }
        // serialising plain strings and numbers into a Vec cannot fail
        let _ = serde_json::to_writer(&mut *out, &RecordView::from_record(r));
        out.push(b'\n');
    }

    fn end(&mut self, outcome: &Result<Outcome, StoreError>, out: &mut Vec<u8>) {
        match (outcome, self.ndjson) {
            (Ok(o), false) => {
                out.extend_from_slice(
                    format!("],\"returned\":{},\"limited\":{}}}\n", o.returned, o.limited).as_bytes(),
                );
            }
            (Ok(_), true) => {}
            (Err(e), ndjson) => {
                tracing::error!(error = %e, "lookup failed");
                out.extend_from_slice(if ndjson { b"{\"error\":" } else { b"],\"error\":" });
                let _ = serde_json::to_writer(&mut *out, &e.to_string());
                out.extend_from_slice(b"}\n");
            }
        }
    }
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
