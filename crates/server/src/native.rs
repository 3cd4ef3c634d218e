//! The native JSON API: lookups (streamed; federated with `sources=`, see [`crate::federated`]),
//! observation ingest, stats, health.

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dnsledger_analytics::export::{self, ExportFormat, ExportRecord};
use dnsledger_model::time;
use dnsledger_model::Record;
use dnsledger_query::{Lookup, Outcome, RecordView};
use dnsledger_sources::{Format, SourceOptions};
use dnsledger_store::{wire, NegativeFilter, StoreError};
use serde_json::json;

use crate::auth;
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

async fn lookup(State(st): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let caller = match auth::native_caller(&st, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = auth::charge(&st, &caller, time::now()) {
        return r;
    }
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
    let (ndjson, export) = match param(&pairs, "format") {
        None | Some("json") => (false, None),
        Some("ndjson") => (true, None),
        Some(other) => match ExportFormat::parse(other) {
            Some(f) => (false, Some(f)),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("format: expected json, ndjson, csv, misp or stix, got {other:?}"),
                )
            }
        },
    };
    let mut lookup = match paths::lookup_from_segments(&segs, fence) {
        Ok(l) => l,
        Err((status, msg)) => return error(status, msg),
    };
    if let Some(v) = param(&pairs, "negative") {
        let Some(f) = NegativeFilter::parse(v) else {
            return error(StatusCode::BAD_REQUEST, format!("negative: expected exclude, include or only, got {v:?}"));
        };
        match &mut lookup {
            Lookup::Rrset(q) => q.negative = f,
            Lookup::Rdata(_) if f != NegativeFilter::Exclude => {
                return error(StatusCode::BAD_REQUEST, "negative: only rrset lookups hold negative answers")
            }
            Lookup::Rdata(_) => {}
        }
    }
    if let Some(format) = export {
        if param(&pairs, "sources").is_some() {
            return error(StatusCode::BAD_REQUEST, "format=csv|misp|stix cannot be combined with sources");
        }
        let title = format!("dnsledger lookup {}", uri.path().strip_prefix(LOOKUP_PREFIX).unwrap_or(""));
        let enc = ExportEncoder { format, title, records: Vec::new() };
        let body = records_body(st.store.clone(), lookup, window, st.config.query_deadline(), enc);
        return ([(header::CONTENT_TYPE, format.content_type())], body).into_response();
    }
    if let Some(sources) = param(&pairs, "sources") {
        if window.offset > 0 {
            return error(StatusCode::BAD_REQUEST, "offset cannot be combined with sources");
        }
        return match crate::federated::plan(&st, sources, &segs, lookup, fence, window.limit) {
            Ok(plan) => crate::federated::native(plan, ndjson).await,
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        };
    }
    let content_type = if ndjson { "application/x-ndjson" } else { "application/json" };
    let body = records_body(
        st.store.clone(),
        lookup,
        window,
        st.config.query_deadline(),
        NativeEncoder { ndjson, first: true },
    );
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
            (Ok(o), false) if o.timed_out => {
                out.extend_from_slice(
                    format!("],\"returned\":{},\"limited\":true,\"timed_out\":true,\"error\":", o.returned).as_bytes(),
                );
                let _ = serde_json::to_writer(&mut *out, crate::stream::TIMEOUT_MSG);
                out.extend_from_slice(b"}\n");
            }
            (Ok(o), true) if o.timed_out => {
                out.extend_from_slice(b"{\"error\":");
                let _ = serde_json::to_writer(&mut *out, crate::stream::TIMEOUT_MSG);
                out.extend_from_slice(b",\"timed_out\":true}\n");
            }
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

/// The export formats of lookups (`format=csv|misp|stix`, see `dnsledger_analytics::export`):
/// CSV rows are written as records arrive; a MISP event or STIX bundle is rendered once the
/// lookup ended (its records are bounded by the lookup's `limit`). A failed lookup ends a CSV
/// with an `# error:` line and replaces a JSON document by `{"error": …}`.
#[derive(Clone)]
struct ExportEncoder {
    format: ExportFormat,
    title: String,
    records: Vec<ExportRecord>,
}

impl Encoder for ExportEncoder {
    fn begin(&mut self, out: &mut Vec<u8>) {
        if self.format == ExportFormat::Csv {
            out.extend_from_slice(export::csv_header().as_bytes());
        }
    }

    fn record(&mut self, r: &Record, out: &mut Vec<u8>) {
        let rec = ExportRecord::from_record(r);
        if self.format == ExportFormat::Csv {
            let mut s = String::new();
            export::csv_rows(&rec, &mut s);
            out.extend_from_slice(s.as_bytes());
        } else {
            self.records.push(rec);
        }
    }

    fn end(&mut self, outcome: &Result<Outcome, StoreError>, out: &mut Vec<u8>) {
        match outcome {
            Ok(o) if o.timed_out => {
                if self.format == ExportFormat::Csv {
                    out.extend_from_slice(format!("# error: {}\r\n", crate::stream::TIMEOUT_MSG).as_bytes());
                } else {
                    let _ = serde_json::to_writer(&mut *out, &json!({ "error": crate::stream::TIMEOUT_MSG }));
                    out.push(b'\n');
                }
            }
            Ok(_) if self.format == ExportFormat::Csv => {}
            Ok(_) => out.extend_from_slice(self.format.render(&self.records, &self.title, time::now()).as_bytes()),
            Err(e) => {
                tracing::error!(error = %e, "lookup failed");
                if self.format == ExportFormat::Csv {
                    out.extend_from_slice(format!("# error: {e}\r\n").as_bytes());
                } else {
                    let _ = serde_json::to_writer(&mut *out, &json!({ "error": e.to_string() }));
                    out.push(b'\n');
                }
            }
        }
    }
}

async fn ingest(State(st): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(r) = auth::native_caller(&st, &headers) {
        return r;
    }
    let body = match decode_body(&headers, body, st.config.max_body_bytes) {
        Ok(b) => b,
        Err(r) => return r,
    };
    let pairs = paths::query_pairs(uri.query());
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if param(&pairs, "format") == Some("batch") || content_type.starts_with(wire::MEDIA_TYPE) {
        return ingest_batch(st, &headers, body).await;
    }
    let format = match param(&pairs, "format") {
        Some(f) => match Format::parse(f) {
            Some(f) => f,
            None => {
                let names: Vec<&str> = Format::ALL.iter().map(|(_, n)| *n).chain(["batch"]).collect();
                return error(StatusCode::BAD_REQUEST, format!("format: unknown format {f:?} ({})", names.join(", ")));
            }
        },
        None => {
            match Format::sniff(&body[..body.len().min(64 << 10)]) {
                Some(f) => f,
                None if body.is_empty() => Format::Ndjson,
                None => return error(
                    StatusCode::BAD_REQUEST,
                    "cannot tell the body's format; pass ?format= (ndjson, passivedns, zeek, suricata, dnstap, ...)",
                ),
            }
        }
    };
    let sensor = param(&pairs, "sensor")
        .map(str::to_string)
        .or_else(|| headers.get("x-sensor-id").and_then(|v| v.to_str().ok()).map(str::to_string))
        .filter(|s| !s.is_empty());
    let store = st.store.clone();
    let job = tokio::task::spawn_blocking(move || {
        let mut parser = format.parser(&SourceOptions { sensor, ..Default::default() });
        let r = dnsledger_ingest::parse_input(format, parser.as_mut(), &body, "request");
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
    let source = format!("http:{}", format.name());
    record_ingest(&source, r.lines, r.observations, &r.rejected, &r.skipped);
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

/// Counts what one ingest request brought, under `source` (`http:<format>`).
fn record_ingest(
    source: &str,
    records: u64,
    observations: u64,
    rejected: &std::collections::BTreeMap<&'static str, u64>,
    skipped: &std::collections::BTreeMap<&'static str, u64>,
) {
    use dnsledger_telemetry::catalog;
    let source = source.to_string();
    metrics::counter!(catalog::INGEST_RECORDS, "source" => source.clone()).increment(records);
    metrics::counter!(catalog::INGEST_OBSERVATIONS, "source" => source.clone()).increment(observations);
    for (reason, n) in rejected {
        metrics::counter!(catalog::INGEST_REJECTED, "source" => source.clone(), "reason" => *reason).increment(*n);
    }
    for (reason, n) in skipped {
        metrics::counter!(catalog::INGEST_SKIPPED, "source" => source.clone(), "reason" => *reason).increment(*n);
    }
}

/// Undoes `Content-Encoding: gzip` (sensors compress their batches), refusing bodies that
/// inflate beyond the body limit.
fn decode_body(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, Response> {
    let encoding = headers.get(header::CONTENT_ENCODING).and_then(|v| v.to_str().ok()).map(str::trim);
    match encoding {
        None | Some("") | Some("identity") => Ok(body),
        Some(e) if e.eq_ignore_ascii_case("gzip") => {
            use std::io::Read;
            let mut out = Vec::with_capacity(body.len() * 4);
            let mut dec = flate2::read::GzDecoder::new(&body[..]).take(limit as u64 + 1);
            if let Err(e) = dec.read_to_end(&mut out) {
                return Err(error(StatusCode::BAD_REQUEST, format!("gzip body: {e}")));
            }
            if out.len() > limit {
                return Err(error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("body inflates beyond the {limit}-byte limit; send smaller batches"),
                ));
            }
            Ok(Bytes::from(out))
        }
        Some(e) => {
            Err(error(StatusCode::UNSUPPORTED_MEDIA_TYPE, format!("Content-Encoding {e:?}: only gzip is accepted")))
        }
    }
}

/// Checkpoint source under which an acknowledged sensor batch id is remembered.
fn batch_checkpoint(id: &str) -> String {
    format!("batch/{id}")
}

/// `POST /api/v1/observations?format=batch`: a sensor's pre-aggregated batch
/// (`dnsledger_store::wire`). With `X-Batch-Id`, a batch is applied at most once: its id is
/// recorded atomically with its records, and a retry of an acknowledged batch is answered
/// `"duplicate": true` without counting it again.
async fn ingest_batch(st: AppState, headers: &HeaderMap, body: Bytes) -> Response {
    let id = match headers.get("x-batch-id").map(|v| v.to_str()) {
        None => None,
        Some(Ok(s))
            if !s.is_empty()
                && s.len() <= 128
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b)) =>
        {
            Some(s.to_string())
        }
        Some(_) => return error(StatusCode::BAD_REQUEST, "X-Batch-Id: 1 to 128 characters of A-Z a-z 0-9 . _ : / -"),
    };
    let store = st.store.clone();
    let lock = st.batch_lock.clone();
    let job = tokio::task::spawn_blocking(move || -> Result<(u64, u64, bool), (StatusCode, String)> {
        let mut batch = wire::decode(&body).map_err(|e| (StatusCode::BAD_REQUEST, e.to_string()))?;
        let (records, observations) = (batch.len() as u64, batch.observations());
        let unavailable = |e: StoreError| (StatusCode::SERVICE_UNAVAILABLE, format!("batch not stored: {e}"));
        // one batch-id check-and-write at a time, so concurrent retries cannot both apply
        let _guard = lock.lock().map_err(|_| (StatusCode::INTERNAL_SERVER_ERROR, "batch lock poisoned".to_string()))?;
        if let Some(id) = &id {
            if store.checkpoint(&batch_checkpoint(id)).map_err(unavailable)?.is_some() {
                return Ok((records, observations, true));
            }
            batch.set_checkpoint(&batch_checkpoint(id), vec![1]);
        }
        store.write(&batch).map_err(unavailable)?;
        Ok((records, observations, false))
    });
    match job.await {
        Ok(Ok((records, observations, duplicate))) => {
            if !duplicate {
                record_ingest("http:batch", records, observations, &Default::default(), &Default::default());
            }
            Json(json!({
            "format": "batch",
            "records": records,
            "observations": observations,
            "duplicate": duplicate,
            }))
            .into_response()
        }
        Ok(Err((status, msg))) => {
            if status == StatusCode::SERVICE_UNAVAILABLE {
                tracing::error!(error = %msg, "batch ingest failed");
            }
            error(status, msg)
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("ingest task failed: {e}")),
    }
}

async fn stats(State(st): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(r) = auth::native_caller(&st, &headers) {
        return r;
    }
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
