//! Federated lookups on the lookup routes: `sources=local,NAME,...` (or `all`) on
//! `/dnsdb/v2/lookup/...` and `/api/v1/lookup/...` asks the local store and the named
//! `[[upstream]]`s at once and answers with the merged records (see `dnsledger-federation`).
//!
//! - SAF (`/dnsdb/v2`): `begin`; one `{"cond":"ongoing","msg":"source …"}` line as each source
//!   finishes (keeps the connection alive while slower upstreams answer; clients ignore these
//!   lines); the merged records as DNSDB-shaped `obj` lines (no extra keys, so dnsdbq and the
//!   DNSDB clients read them unchanged); a terminator whose `msg` names every failed source.
//!   The terminator is `failed` only if the local store failed or no source answered at all.
//! - Native (`/api/v1`): `{"records":[… each with "sources":[…] …],"returned":N,
//!   "limited":bool,"sources":[per-source reports],"errors":[…]}` (`errors` only when a
//!   source failed); with `format=ndjson`, one record per line then one
//!   `{"sources":[…],"errors":[…]}` line.
//!
//! Records are sent once all sources are in (a merged count is final only then); each
//! upstream's `timeout_secs` bounds that wait.

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use dnsledger_federation::federated::{self, Request, SourceStatus};
use dnsledger_federation::UpstreamQuery;
use dnsledger_model::TimeFence;
use dnsledger_query::Lookup;
use serde_json::json;

use crate::stream::Encoder;
use crate::AppState;

/// A federated lookup, checked and ready to run.
pub struct Plan {
    request: Request,
}

/// Checks `sources` and the lookup path segments (`rrset/name/...`) before anything is charged.
pub fn plan(
    st: &AppState,
    sources: &str,
    segs: &[String],
    lookup: Lookup,
    fence: TimeFence,
    limit: Option<u64>,
) -> Result<Plan, String> {
    let (local, upstreams) = st.federation.select(sources)?;
    let query = UpstreamQuery::from_segments(segs, fence, limit)?;
    Ok(Plan { request: Request { local: local.then(|| (st.store.clone(), lookup)), upstreams, query, limit } })
}

fn channel_body(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Body::from_stream(stream)
}

fn errors_of(answer: &federated::Answer) -> Vec<String> {
    answer.reports.iter().filter(|r| r.status == SourceStatus::Error).map(|r| r.summary()).collect()
}

/// The SAF answer of a federated DNSDB lookup.
pub fn saf(plan: Plan, mut enc: impl Encoder) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let _ = tx.blocking_send(Bytes::from_static(b"{\"cond\":\"begin\"}\n"));
        let answer = federated::run(plan.request, &mut |r| {
            let line = json!({"cond": "ongoing", "msg": format!("source {}", r.summary())});
            let _ = tx.blocking_send(Bytes::from(format!("{line}\n")));
        });
        let mut buf = Vec::with_capacity(64 << 10);
        for m in &answer.records {
            enc.record(&m.record, &mut buf);
            if buf.len() >= 32 << 10 && tx.blocking_send(Bytes::from(std::mem::take(&mut buf))).is_err() {
                return;
            }
        }
        let errors = errors_of(&answer);
        let local_failed =
            answer.reports.iter().any(|r| r.source == dnsledger_federation::LOCAL && r.status == SourceStatus::Error);
        let all_failed = answer.reports.iter().all(|r| r.status == SourceStatus::Error);
        let msg = (!errors.is_empty()).then(|| format!("sources failed: {}", errors.join(" | ")));
        let term = if local_failed || all_failed {
            json!({"cond": "failed", "msg": msg.unwrap_or_else(|| "every source failed".into())})
        } else if answer.limited {
            let m = match msg {
                Some(m) => format!("Result limit reached; {m}"),
                None => "Result limit reached".into(),
            };
            json!({"cond": "limited", "msg": m})
        } else {
            match msg {
                Some(m) => json!({"cond": "succeeded", "msg": m}),
                None => json!({"cond": "succeeded"}),
            }
        };
        buf.extend_from_slice(term.to_string().as_bytes());
        buf.push(b'\n');
        let _ = tx.blocking_send(Bytes::from(buf));
    });
    ([(header::CONTENT_TYPE, "application/x-ndjson")], channel_body(rx)).into_response()
}

/// The native answer of a federated lookup.
pub async fn native(plan: Plan, ndjson: bool) -> Response {
    let answer = match tokio::task::spawn_blocking(move || federated::run(plan.request, &mut |_| {})).await {
        Ok(a) => a,
        Err(e) => {
            return crate::native::error(StatusCode::INTERNAL_SERVER_ERROR, format!("federated lookup failed: {e}"))
        }
    };
    let errors = errors_of(&answer);
    let mut out = Vec::with_capacity(16 << 10);
    if ndjson {
        for m in &answer.records {
            out.extend_from_slice(m.view().to_string().as_bytes());
            out.push(b'\n');
        }
        out.extend_from_slice(json!({"sources": answer.reports, "errors": errors}).to_string().as_bytes());
        out.push(b'\n');
        return ([(header::CONTENT_TYPE, "application/x-ndjson")], out).into_response();
    }
    let records: Vec<serde_json::Value> = answer.records.iter().map(|m| m.view()).collect();
    let mut doc = json!({
        "records": records,
        "returned": answer.records.len(),
        "limited": answer.limited,
        "sources": answer.reports,
    });
    if !errors.is_empty() {
        doc["errors"] = json!(errors);
    }
    let body = doc.to_string();
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
