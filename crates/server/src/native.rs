//! The native JSON API: lookups (streamed; federated with `sources=`, see [`crate::federated`]),
//! observation ingest, stats, health.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use dnsledger_analytics::export::{self, ExportFormat, ExportRecord};
use dnsledger_model::time;
use dnsledger_model::Record;
use dnsledger_query::{Lookup, Outcome, RecordFilter, RecordView, Window};
use dnsledger_sources::{Format, SourceOptions};
use dnsledger_store::{wire, NegativeFilter, StoreError};
use serde_json::json;

use crate::auth;
use crate::paths::{self, param};
use crate::stream::{records_body, sorted_body, Encoder, SORT_CAP};
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
    // `sensor=NAME`: records seen by that sensor (the name `sensor=` gave at ingest), filtered on
    // the whole answer before `offset` and `limit`
    let filter = match param(&pairs, "sensor") {
        None => RecordFilter::default(),
        Some(s) if s.trim().is_empty() => {
            return error(StatusCode::BAD_REQUEST, "sensor: expected a sensor name, got an empty value")
        }
        Some(s) => {
            if param(&pairs, "sources").is_some() {
                return error(
                    StatusCode::BAD_REQUEST,
                    "sensor cannot be combined with sources (upstreams know other sensors)",
                );
            }
            RecordFilter { sensor: Some(s.trim().to_string()) }
        }
    };
    let sort = match param(&pairs, "sort").filter(|v| !v.trim().is_empty()) {
        None => None,
        Some(_) if param(&pairs, "sources").is_some() => {
            return error(StatusCode::BAD_REQUEST, "sort cannot be combined with sources")
        }
        Some(v) => match dnsledger_query::Sort::parse(v) {
            Ok(s) => Some(s),
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        },
    };
    if let Some(format) = export {
        if param(&pairs, "sources").is_some() {
            return error(StatusCode::BAD_REQUEST, "format=csv|misp|stix cannot be combined with sources");
        }
        let title = format!("dnsledger lookup {}", uri.path().strip_prefix(LOOKUP_PREFIX).unwrap_or(""));
        let enc = ExportEncoder { format, title, records: Vec::new() };
        let body = match local_body(&st, lookup, window, filter, sort, enc).await {
            Ok(b) => b,
            Err(r) => return r,
        };
        return ([(header::CONTENT_TYPE, format.content_type())], body).into_response();
    }
    if let Some(sources) = param(&pairs, "sources") {
        if window.offset > 0 {
            return error(StatusCode::BAD_REQUEST, "offset cannot be combined with sources");
        }
        let stream = match crate::federated::stream_mode(param(&pairs, "stream"), param(&pairs, "merge")) {
            Ok(s) => s,
            Err(e) => return error(StatusCode::BAD_REQUEST, e),
        };
        return match crate::federated::plan(&st, sources, &segs, lookup, fence, window.limit) {
            Ok(plan) => crate::federated::native(plan.with_stream(stream), ndjson).await,
            Err(e) => error(StatusCode::BAD_REQUEST, e),
        };
    }
    let content_type = if ndjson { "application/x-ndjson" } else { "application/json" };
    let enc = NativeEncoder { ndjson, first: true };
    let body = match local_body(&st, lookup, window, filter, sort, enc).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    ([(header::CONTENT_TYPE, content_type)], body).into_response()
}

/// The body of a lookup of the local store under the server's query deadline: the whole
/// answer sorted on a blocking thread when `sort` is given (a 400 when it is too large to
/// sort), else streamed as the store yields it.
async fn local_body<E: Encoder + Clone>(
    st: &AppState,
    lookup: Lookup,
    window: Window,
    filter: RecordFilter,
    sort: Option<dnsledger_query::Sort>,
    enc: E,
) -> Result<Body, Response> {
    let deadline = st.config.query_deadline();
    match sort {
        Some(sort) => sorted_body(st.store.clone(), lookup, window, filter, (sort, SORT_CAP), deadline, enc)
            .await
            .map_err(|e| error(StatusCode::BAD_REQUEST, e)),
        None => Ok(records_body(st.store.clone(), lookup, window, filter, deadline, enc)),
    }
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
    let id = match batch_id(&headers) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let store = st.store.clone();
    let lock = st.batch_lock.clone();
    let job = tokio::task::spawn_blocking(move || {
        let mut parser = format.parser(&SourceOptions { sensor, ..Default::default() });
        let mut r = dnsledger_ingest::parse_input(format, parser.as_mut(), &body, "request");
        let written = write_once(store.as_ref(), &lock, &mut r.batch, id.as_deref());
        (r, written)
    });
    let (r, written) = match job.await {
        Ok(x) => x,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("ingest task failed: {e}")),
    };
    let (stats, duplicate) = match written {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "ingest write failed");
            return store_error(&e, "observations not stored");
        }
    };
    let source = format!("http:{}", format.name());
    if !duplicate {
        record_ingest(&source, r.lines, r.observations, &r.rejected, &r.skipped);
    }
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
        "duplicate": duplicate,
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

/// The request's `X-Batch-Id`, if any, checked (1 to 128 characters of `A-Z a-z 0-9 . _ : / -`).
fn batch_id(headers: &HeaderMap) -> Result<Option<String>, Response> {
    match headers.get("x-batch-id").map(|v| v.to_str()) {
        None => Ok(None),
        Some(Ok(s))
            if !s.is_empty()
                && s.len() <= 128
                && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b)) =>
        {
            Ok(Some(s.to_string()))
        }
        Some(_) => Err(error(StatusCode::BAD_REQUEST, "X-Batch-Id: 1 to 128 characters of A-Z a-z 0-9 . _ : / -")),
    }
}

/// Writes `batch` in one atomic store write. With an `id`, at most once: the id is checked and
/// recorded with the records under `lock`, so a retry of an acknowledged batch (or a concurrent
/// duplicate) is not counted again. An empty batch writes nothing and records no id (a body
/// whose every line was refused can be corrected and sent again under the same id). Returns
/// what was written and whether it was a duplicate.
fn write_once(
    store: &dyn dnsledger_store::Store,
    lock: &std::sync::Mutex<()>,
    batch: &mut dnsledger_store::Batch,
    id: Option<&str>,
) -> Result<(dnsledger_store::WriteStats, bool), StoreError> {
    if batch.is_empty() {
        return Ok((Default::default(), false));
    }
    let Some(id) = id else { return Ok((store.write(batch)?, false)) };
    let _guard = lock.lock().map_err(|_| StoreError::Engine("batch-id lock poisoned".into()))?;
    if store.checkpoint(&batch_checkpoint(id))?.is_some() {
        return Ok((Default::default(), true));
    }
    batch.set_checkpoint(&batch_checkpoint(id), vec![1]);
    Ok((store.write(batch)?, false))
}

/// The answer to a store write that failed: 507 when the disk is full (counted in
/// `dnsledger_store_no_space_total` by the store wrapper), else 503; nothing of the batch
/// was stored either way.
fn store_error(e: &StoreError, what: &str) -> Response {
    if e.is_no_space() {
        error(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("{what}: no space left on device while writing the store; free disk space and retry ({e})"),
        )
    } else {
        error(StatusCode::SERVICE_UNAVAILABLE, format!("{what}: {e}"))
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
    let id = match batch_id(headers) {
        Ok(id) => id,
        Err(r) => return r,
    };
    let store = st.store.clone();
    let lock = st.batch_lock.clone();
    let job = tokio::task::spawn_blocking(move || -> Result<(u64, u64, bool), Response> {
        let mut batch = wire::decode(&body).map_err(|e| error(StatusCode::BAD_REQUEST, e.to_string()))?;
        let (records, observations) = (batch.len() as u64, batch.observations());
        let (_, duplicate) = write_once(store.as_ref(), &lock, &mut batch, id.as_deref()).map_err(|e| {
            tracing::error!(error = %e, "batch ingest failed");
            store_error(&e, "batch not stored")
        })?;
        Ok((records, observations, duplicate))
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
        Ok(Err(r)) => r,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ServerConfig;
    use axum::body::Body;
    use axum::http::Request;
    use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
    use std::sync::Arc;
    use tower::ServiceExt;

    async fn post(st: &AppState, id: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
        let mut req = Request::builder().method("POST").uri("/api/v1/observations?format=passivedns");
        if let Some(id) = id {
            req = req.header("X-Batch-Id", id);
        }
        let resp = crate::router(st.clone()).oneshot(req.body(Body::from(body.to_string())).unwrap()).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null))
    }

    async fn count(st: &AppState) -> u64 {
        let req = Request::builder().uri("/api/v1/lookup/rrset/name/www.example.com").body(Body::empty()).unwrap();
        let resp = crate::router(st.clone()).oneshot(req).await.unwrap();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        v["records"].as_array().unwrap().iter().map(|r| r["count"].as_u64().unwrap()).sum()
    }

    #[tokio::test]
    async fn a_text_batch_with_an_id_is_applied_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(RocksStore::open(dir.path(), RocksStoreOptions::default()).unwrap());
        let st = AppState::new(store, ServerConfig::default(), None);
        let line = "1704067200.000000||192.0.2.1||192.0.2.53||IN||www.example.com.||A||192.0.2.80||60||3\n";
        let (s, v) = post(&st, Some("client-1"), line).await;
        assert_eq!((s, &v["duplicate"]), (StatusCode::OK, &json!(false)), "{v}");
        let (s, v) = post(&st, Some("client-1"), line).await;
        assert_eq!((s, &v["duplicate"]), (StatusCode::OK, &json!(true)), "{v}");
        assert_eq!(count(&st).await, 3);
        // another id, or none, is another batch
        assert_eq!(post(&st, Some("client-2"), line).await.1["duplicate"], false);
        assert_eq!(post(&st, None, line).await.1["duplicate"], false);
        assert_eq!(count(&st).await, 9);
        // a body refused whole does not use up its id
        let (s, v) = post(&st, Some("client-3"), "garbage\n").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(post(&st, Some("client-3"), line).await.1["duplicate"], false);
        assert_eq!(count(&st).await, 12);
        let (s, v) = post(&st, Some("bad id!"), line).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
        assert_eq!(count(&st).await, 12);
    }

    async fn call(st: &AppState, method: &str, uri: &str, body: &str) -> (StatusCode, String) {
        let req = Request::builder().method(method).uri(uri).body(Body::from(body.to_string())).unwrap();
        let resp = crate::router(st.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    }

    async fn json_of(st: &AppState, uri: &str) -> serde_json::Value {
        let (s, b) = call(st, "GET", uri, "").await;
        assert_eq!(s, StatusCode::OK, "{uri}: {b}");
        serde_json::from_str(&b).unwrap_or_else(|e| panic!("{uri}: {e}: {b}"))
    }

    fn names(v: &serde_json::Value) -> Vec<String> {
        v["records"].as_array().unwrap().iter().map(|r| r["rrname"].as_str().unwrap().to_string()).collect()
    }

    /// Ten names under example.com: even ones seen by sensor "fra", odd ones by "nyc", and
    /// n0 by both; all on 192.0.2.1.
    async fn seeded(dir: &std::path::Path) -> AppState {
        let store = RocksStore::open(dir.join("db"), RocksStoreOptions::default()).unwrap();
        let st = AppState::new(Arc::new(store), ServerConfig::default(), None);
        let mut fra = String::new();
        let mut nyc = String::new();
        for i in 0..10 {
            let line = format!("1700000000.000000||10.0.0.1||10.0.0.53||IN||n{i}.example.com||A||192.0.2.1||300||1\n");
            if i % 2 == 0 {
                fra += &line
            } else {
                nyc += &line
            }
        }
        nyc += "1700000000.000000||10.0.0.1||10.0.0.53||IN||n0.example.com||A||192.0.2.1||300||1\n";
        for (sensor, body) in [("fra", fra), ("nyc", nyc)] {
            let (s, b) =
                call(&st, "POST", &format!("/api/v1/observations?format=passivedns&sensor={sensor}"), &body).await;
            assert_eq!(s, StatusCode::OK, "{b}");
        }
        st
    }

    #[tokio::test]
    async fn the_sensor_filter_applies_to_the_whole_answer_before_paging() {
        let dir = tempfile::tempdir().unwrap();
        let st = seeded(dir.path()).await;
        let all = json_of(&st, "/api/v1/lookup/rrset/name/*.example.com?limit=100").await;
        assert_eq!(all["returned"], 10);
        let fra = json_of(&st, "/api/v1/lookup/rrset/name/*.example.com?sensor=fra&limit=100").await;
        assert_eq!(
            names(&fra),
            ["n0.example.com.", "n2.example.com.", "n4.example.com.", "n6.example.com.", "n8.example.com."]
        );
        assert_eq!(fra["limited"], false);
        // paging walks the filtered answer: page 2 of 2 holds the third and fourth fra records
        let page = json_of(&st, "/api/v1/lookup/rrset/name/*.example.com?sensor=fra&limit=2&offset=2").await;
        assert_eq!(names(&page), ["n4.example.com.", "n6.example.com."]);
        assert_eq!(page["limited"], true, "n8 is still to come");
        let last = json_of(&st, "/api/v1/lookup/rrset/name/*.example.com?sensor=fra&limit=2&offset=4").await;
        assert_eq!((names(&last), &last["limited"]), (vec!["n8.example.com.".to_string()], &json!(false)));
        let nyc = json_of(&st, "/api/v1/lookup/rrset/name/*.example.com?sensor=nyc&limit=100").await;
        assert_eq!(nyc["returned"], 6, "n0 and the five odd names: {nyc}");
        // a point lookup, an rdata lookup and a sensor that saw nothing
        let one = json_of(&st, "/api/v1/lookup/rrset/name/n3.example.com?sensor=fra").await;
        assert_eq!(one["returned"], 0);
        let one = json_of(&st, "/api/v1/lookup/rrset/name/n3.example.com?sensor=nyc").await;
        assert_eq!(one["returned"], 1);
        let ip = json_of(&st, "/api/v1/lookup/rdata/ip/192.0.2.1?sensor=nyc&limit=100").await;
        assert_eq!(ip["returned"], 6, "{ip}");
        let none = json_of(&st, "/api/v1/lookup/rrset/name/*.example.com?sensor=ams").await;
        assert_eq!((&none["returned"], &none["limited"]), (&json!(0), &json!(false)));
        // the exports take the same filter
        let (s, csv) =
            call(&st, "GET", "/api/v1/lookup/rrset/name/*.example.com?sensor=fra&format=csv&limit=0", "").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(csv.lines().filter(|l| l.contains("example.com")).count(), 5, "{csv}");
        let (s, stix) = call(&st, "GET", "/api/v1/lookup/rrset/name/*.example.com?sensor=nyc&format=stix", "").await;
        assert_eq!(s, StatusCode::OK);
        assert!(stix.contains("n1.example.com") && !stix.contains("n2.example.com"), "{stix}");
        // ndjson too
        let (_, nd) = call(&st, "GET", "/api/v1/lookup/rrset/name/*.example.com?sensor=fra&format=ndjson", "").await;
        assert_eq!(nd.lines().count(), 5, "{nd}");
    }

    #[tokio::test]
    async fn sort_orders_the_whole_answer_before_paging() {
        let dir = tempfile::tempdir().unwrap();
        let store = RocksStore::open(dir.path().join("db"), RocksStoreOptions::default()).unwrap();
        let st = AppState::new(Arc::new(store), ServerConfig::default(), None);
        // n{i} seen i+1 times, last seen at 1700000000 + 7*i mod 10 (a different order)
        let mut body = String::new();
        for i in 0..10u64 {
            let t = 1_700_000_000 + (7 * i) % 10;
            body += &format!("{t}.000000||10.0.0.1||10.0.0.53||IN||n{i}.sort.test||A||192.0.2.{i}||300||{}\n", i + 1);
        }
        let (s, b) = call(&st, "POST", "/api/v1/observations?format=passivedns&sensor=fra", &body).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        let page = json_of(&st, "/api/v1/lookup/rrset/name/*.sort.test?sort=-count&limit=3").await;
        assert_eq!(names(&page), ["n9.sort.test.", "n8.sort.test.", "n7.sort.test."]);
        assert_eq!(page["limited"], true);
        let page = json_of(&st, "/api/v1/lookup/rrset/name/*.sort.test?sort=-count&limit=3&offset=3").await;
        assert_eq!(names(&page), ["n6.sort.test.", "n5.sort.test.", "n4.sort.test."], "page 2 of the sorted whole");
        let last = json_of(&st, "/api/v1/lookup/rrset/name/*.sort.test?sort=-count&limit=3&offset=9").await;
        assert_eq!((names(&last), &last["limited"]), (vec!["n0.sort.test.".to_string()], &json!(false)));
        // by last seen: t = 0, 1, 2, 3 are i = 0, 3, 6, 9 (7i mod 10)
        let by_last = json_of(&st, "/api/v1/lookup/rrset/name/*.sort.test?sort=last&limit=4").await;
        assert_eq!(names(&by_last), ["n0.sort.test.", "n3.sort.test.", "n6.sort.test.", "n9.sort.test."]);
        let ip = json_of(&st, "/api/v1/lookup/rdata/ip/192.0.2.0%2F24?sort=-rrname&limit=2&sensor=fra").await;
        assert_eq!(names(&ip), ["n9.sort.test.", "n8.sort.test."]);
        let (s, csv) =
            call(&st, "GET", "/api/v1/lookup/rrset/name/*.sort.test?sort=count&format=csv&limit=2", "").await;
        assert_eq!(s, StatusCode::OK);
        let rows: Vec<&str> = csv.lines().skip(1).collect();
        assert!(rows.len() == 2 && rows[0].contains("n0.sort.test") && rows[1].contains("n1.sort.test"), "{csv}");
        let (s, b) = call(&st, "GET", "/api/v1/lookup/rrset/name/*.sort.test?sort=size", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b.contains("sort: expected"), "{b}");
        // an answer past the cap is refused, not truncated silently
        let segs: Vec<String> = ["rrset", "name", "*.sort.test"].iter().map(|s| s.to_string()).collect();
        let lookup = crate::paths::lookup_from_segments(&segs, Default::default()).unwrap();
        let sort = dnsledger_query::Sort::parse("count").unwrap();
        let enc = NativeEncoder { ndjson: false, first: true };
        let window = dnsledger_query::Window { offset: 0, limit: Some(2) };
        let err =
            sorted_body(st.store.clone(), lookup, window, RecordFilter::default(), (sort, 9), None, enc).await.err();
        assert!(err.as_deref().is_some_and(|e| e.contains("more than 9 records")), "{err:?}");
    }

    #[tokio::test]
    async fn a_bad_sensor_filter_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let st = seeded(dir.path()).await;
        let (s, b) = call(&st, "GET", "/api/v1/lookup/rrset/name/n1.example.com?sensor=", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b.contains("sensor"), "{b}");
        let (s, b) = call(&st, "GET", "/api/v1/lookup/rrset/name/n1.example.com?sensor=fra&sources=local", "").await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b.contains("sources"), "{b}");
    }
}
