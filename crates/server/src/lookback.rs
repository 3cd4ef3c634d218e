//! `POST /api/v1/analytics/lookback`: a batch of indicators in the body (plain text, a MISP
//! event or a STIX 2.1 bundle; sniffed, or named by `format=text|misp|stix`), answered with
//! every stored match per indicator (`dnsledger_analytics::lookback`).
//!
//! Parameters: `from`/`to` (window; times as for lookups), `below=1` (domains match the names
//! under them too), `limit` (records listed per indicator, 0 = server maximum), `max_scanned`
//! (records read per indicator), `max_matches` (records listed over the batch), `misses=1`
//! (list indicators without matches too), `export=csv|misp|stix` (the matched records in that
//! format instead of the JSON report).

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use dnsledger_analytics::export::{collect_records, ExportFormat};
use dnsledger_analytics::indicators::InputFormat;
use dnsledger_analytics::lookback::{self, LookbackOptions};
use dnsledger_analytics::{to_json, AnalyticsError, Limits, Window};
use dnsledger_model::time::{self, parse_time};

use crate::auth;
use crate::native::error;
use crate::paths::{self, param};
use crate::AppState;

/// The route.
pub fn routes(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/api/v1/analytics/lookback", post(handle))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

type Pairs = Vec<(String, String)>;

fn bad(msg: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, msg)
}

fn time_param(pairs: &Pairs, key: &str) -> Result<Option<u64>, Response> {
    param(pairs, key)
        .filter(|v| !v.is_empty())
        .map(|v| parse_time(v, time::now()).map_err(|e| bad(format!("{key}: {e}"))))
        .transpose()
}

fn num_param(pairs: &Pairs, key: &str) -> Result<Option<u64>, Response> {
    param(pairs, key)
        .filter(|v| !v.is_empty())
        .map(|v| v.trim().parse::<u64>().map_err(|_| bad(format!("{key}: expected a non-negative integer, got {v:?}"))))
        .transpose()
}

fn flag(pairs: &Pairs, key: &str) -> Result<bool, Response> {
    match param(pairs, key) {
        None | Some("") | Some("0") | Some("false") | Some("no") => Ok(false),
        Some("1") | Some("true") | Some("yes") => Ok(true),
        Some(v) => Err(bad(format!("{key}: expected 1 or 0, got {v:?}"))),
    }
}

fn options(st: &AppState, pairs: &Pairs) -> Result<LookbackOptions, Response> {
    let max = usize::try_from(st.config.max_limit).unwrap_or(usize::MAX);
    let d = LookbackOptions::default();
    let per = match num_param(pairs, "limit")? {
        None => d.per_indicator.max_results,
        Some(0) => max,
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(max),
    };
    let scanned = num_param(pairs, "max_scanned")?.filter(|n| *n > 0).unwrap_or(d.per_indicator.max_scanned);
    let total = match num_param(pairs, "max_matches")? {
        None => d.max_matches.min(max),
        Some(n) => usize::try_from(n).unwrap_or(usize::MAX).min(max),
    };
    Ok(LookbackOptions {
        window: Window { from: time_param(pairs, "from")?, to: time_param(pairs, "to")? },
        below: flag(pairs, "below")?,
        per_indicator: Limits { max_scanned: scanned, max_results: per },
        max_matches: total,
        include_misses: flag(pairs, "misses")?,
        threads: 0,
    })
}

async fn handle(State(st): State<AppState>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let caller = match auth::native_caller(&st, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = auth::charge(&st, &caller, time::now()) {
        return r;
    }
    let pairs = paths::query_pairs(uri.query());
    let format = match param(&pairs, "format") {
        None | Some("") => None,
        Some(f) => match InputFormat::parse(f) {
            Some(f) => Some(f),
            None => return bad(format!("format: expected text, misp or stix, got {f:?}")),
        },
    };
    let export = match param(&pairs, "export") {
        None | Some("") => None,
        Some(f) => match ExportFormat::parse(f) {
            Some(f) => Some(f),
            None => return bad(format!("export: expected csv, misp or stix, got {f:?}")),
        },
    };
    let opts = match options(&st, &pairs) {
        Ok(o) => o,
        Err(r) => return r,
    };
    let input = match String::from_utf8(body.to_vec()) {
        Ok(s) => s,
        Err(e) => return bad(format!("body: not UTF-8 text ({e})")),
    };
    let store = st.store.clone();
    let job = tokio::task::spawn_blocking(move || lookback::lookback_input(&*store, &input, format, &opts));
    let report = match job.await {
        Ok(Ok(r)) => r,
        Ok(Err(AnalyticsError::Input(m))) => return bad(m),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "lookback failed");
            return error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
        }
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, format!("lookback task failed: {e}")),
    };
    tracing::debug!(indicators = report.indicators, hits = report.hits, ms = report.elapsed_ms, "lookback");
    let json = to_json(&report);
    match export {
        None => Json(json).into_response(),
        Some(f) => {
            let records = collect_records(&json["results"]);
            let title = format!("dnsledger lookback: {} of {} indicators matched", report.hits, report.indicators);
            ([(header::CONTENT_TYPE, f.content_type())], f.render(&records, &title, time::now())).into_response()
        }
    }
}
