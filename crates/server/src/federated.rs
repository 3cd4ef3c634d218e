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
//!
//! With `stream=1` (or `merge=stream`) records go out as each source's answer arrives, local
//! first, each marked with the source that produced it; a key a later source also sees is sent
//! again with the merged values and all sources so far, so the last line per key is the merged
//! record (see `dnsledger_federation::federated::run_stream`):
//!
//! - SAF: `begin`; each record as a DNSDB `obj` line that also carries a `msg` (`"from NAME;
//!   sources A,B[; update]"`), which SAF allows on any line between `begin` and the terminator
//!   (dnsdbq prints the record and ignores the `msg`); the `ongoing` line per finished source;
//!   the same terminator as merged mode.
//! - Native: always NDJSON — one record view per line with `sources`, `source` (the source
//!   that produced the line) and `update` (true if it supersedes an earlier line for the same
//!   key); a `{"progress":{report}}` line as each source finishes; a last
//!   `{"sources":[…],"errors":[…],"limited":bool}` line.
//!
//! A client that goes away cancels the lookup ([`dnsledger_federation::cancel`]): the response
//! body (streamed answers) or the request future (the merged native answer, sent whole) holds
//! a guard that cancels when hyper drops it — which it does once it sees the connection closed
//! — and a worker whose next line cannot be handed to the body cancels too. Cancelling closes
//! the upstream connections, stops paging and frees the worker; each upstream request cut
//! short counts in `dnsledger_upstream_cancelled_total{upstream}`.

use axum::body::{Body, Bytes};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use dnsledger_federation::cancel::{Cancel, CancelOnDrop};
use dnsledger_federation::federated::{self, Request, SourceStatus, Streamed};
use dnsledger_federation::UpstreamQuery;
use dnsledger_model::TimeFence;
use dnsledger_query::Lookup;
use serde_json::json;

use crate::stream::Encoder;
use crate::AppState;

/// A federated lookup, checked and ready to run.
pub struct Plan {
    request: Request,
    /// Streaming mode (`stream=1` / `merge=stream`) instead of merged.
    pub stream: bool,
}

impl Plan {
    /// The same lookup in streaming (`true`) or merged mode.
    pub fn with_stream(mut self, stream: bool) -> Plan {
        self.stream = stream;
        self
    }
}

/// Reads the mode parameters: `stream=1|true|yes|0|false|no` or `merge=stream|merged`.
pub fn stream_mode(stream: Option<&str>, merge: Option<&str>) -> Result<bool, String> {
    let s = match stream.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => None,
        Some("1" | "true" | "t" | "yes") => Some(true),
        Some("0" | "false" | "f" | "no") => Some(false),
        Some(other) => return Err(format!("stream: expected a boolean, got {other:?}")),
    };
    let m = match merge {
        None | Some("") => None,
        Some("stream") => Some(true),
        Some("merged") => Some(false),
        Some(other) => return Err(format!("merge: expected stream or merged, got {other:?}")),
    };
    match (s, m) {
        (Some(a), Some(b)) if a != b => Err("stream and merge disagree".into()),
        (a, b) => Ok(a.or(b).unwrap_or(false)),
    }
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
    Ok(Plan {
        request: Request { local: local.then(|| (st.store.clone(), lookup)), upstreams, query, limit },
        stream: false,
    })
}

/// The response body fed by `rx`; dropping it (the client went away, or the answer is
/// complete and sent) drops `guard`, which cancels the lookup if it still runs.
fn channel_body(rx: tokio::sync::mpsc::Receiver<Bytes>, guard: CancelOnDrop) -> Body {
    let stream = futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(b), (rx, guard)))
    });
    Body::from_stream(stream)
}

fn errors_of(answer: &federated::Answer) -> Vec<String> {
    answer.reports.iter().filter(|r| r.status == SourceStatus::Error).map(|r| r.summary()).collect()
}

/// Appends `,"msg":…` inside the JSON object just written at the end of `buf` (`{…}\n`).
fn add_msg(buf: &mut Vec<u8>, msg: &str) {
    if buf.ends_with(b"}\n") {
        buf.truncate(buf.len() - 2);
        buf.extend_from_slice(b",\"msg\":");
        buf.extend_from_slice(serde_json::Value::from(msg).to_string().as_bytes());
        buf.extend_from_slice(b"}\n");
    }
}

/// The `msg` of a streamed record line.
fn stream_msg(source: &str, sources: &[String], update: bool) -> String {
    format!("from {source}; sources {}{}", sources.join(","), if update { "; update" } else { "" })
}

/// The SAF answer of a federated DNSDB lookup.
pub fn saf(plan: Plan, mut enc: impl Encoder) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let cancel = Cancel::new();
    let guard = cancel.on_drop();
    tokio::task::spawn_blocking(move || {
        let _ = tx.blocking_send(Bytes::from_static(b"{\"cond\":\"begin\"}\n"));
        let progress_line = |r: &dnsledger_federation::SourceReport| {
            let line = json!({"cond": "ongoing", "msg": format!("source {}", r.summary())});
            Bytes::from(format!("{line}\n"))
        };
        let mut buf = Vec::with_capacity(64 << 10);
        let answer = if plan.stream {
            let mut gone = false;
            let answer = federated::run_stream_cancellable(plan.request, &cancel, &mut |ev| {
                if gone {
                    return;
                }
                let bytes = match ev {
                    Streamed::Record { source, record, update } => {
                        let mut line = Vec::with_capacity(256);
                        enc.record(&record.record, &mut line);
                        add_msg(&mut line, &stream_msg(source, &record.sources, update));
                        Bytes::from(line)
                    }
                    Streamed::Done(r) => progress_line(r),
                };
                // each line goes out as it is made: that is the point of streaming
                gone = tx.blocking_send(bytes).is_err();
                if gone {
                    cancel.cancel();
                }
            });
            if gone {
                return;
            }
            answer
        } else {
            let answer = federated::run_cancellable(plan.request, &cancel, &mut |r| {
                if tx.blocking_send(progress_line(r)).is_err() {
                    cancel.cancel();
                }
            });
            if cancel.is_cancelled() {
                return;
            }
            for m in &answer.records {
                enc.record(&m.record, &mut buf);
                if buf.len() >= 32 << 10 && tx.blocking_send(Bytes::from(std::mem::take(&mut buf))).is_err() {
                    return;
                }
            }
            answer
        };
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
    ([(header::CONTENT_TYPE, "application/x-ndjson")], channel_body(rx, guard)).into_response()
}

/// The native answer of a streamed federated lookup (NDJSON, see the module docs).
fn native_stream(plan: Plan) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    let cancel = Cancel::new();
    let guard = cancel.on_drop();
    tokio::task::spawn_blocking(move || {
        let mut gone = false;
        let answer = federated::run_stream_cancellable(plan.request, &cancel, &mut |ev| {
            if gone {
                return;
            }
            let line = match ev {
                Streamed::Record { source, record, update } => {
                    let mut v = record.view();
                    if let Some(m) = v.as_object_mut() {
                        m.insert("source".into(), json!(source));
                        m.insert("update".into(), json!(update));
                    }
                    v
                }
                Streamed::Done(r) => json!({ "progress": r }),
            };
            gone = tx.blocking_send(Bytes::from(format!("{line}\n"))).is_err();
            if gone {
                cancel.cancel();
            }
        });
        if gone {
            return;
        }
        let errors = errors_of(&answer);
        let last = json!({"sources": answer.reports, "errors": errors, "limited": answer.limited});
        let _ = tx.blocking_send(Bytes::from(format!("{last}\n")));
    });
    ([(header::CONTENT_TYPE, "application/x-ndjson")], channel_body(rx, guard)).into_response()
}

/// The native answer of a federated lookup.
pub async fn native(plan: Plan, ndjson: bool) -> Response {
    if plan.stream {
        return native_stream(plan);
    }
    // hyper drops this future when the client closes its connection: the guard then cancels
    let cancel = Cancel::new();
    let guard = cancel.on_drop();
    let answer =
        match tokio::task::spawn_blocking(move || federated::run_cancellable(plan.request, &cancel, &mut |_| {})).await
        {
            Ok(a) => {
                guard.disarm();
                a
            }
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
