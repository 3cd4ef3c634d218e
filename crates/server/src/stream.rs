//! Sending lookup results. Point lookups (one name, one address, raw bytes: a few block reads)
//! run on the request's own worker thread and are sent with a `Content-Length` in one write,
//! unless they outgrow [`INLINE_BYTES`]. Everything else, and point lookups that outgrew the
//! inline buffer (run again from the start), runs on a blocking thread and is streamed in chunks
//! as the store yields it, so a large result is never held in memory and a client that hangs up
//! stops the scan.
//!
//! A sorted lookup (`sort=`) holds the whole filtered answer, at most [`SORT_CAP`] records, on
//! a blocking thread, sorts it, and sends the page asked for in one body.
//! A lookup given a deadline (`[server] query_timeout_ms`) stops there: the encoder's `end` sees
//! [`Outcome::timed_out`] and says so in the response's own terms ([`TIMEOUT_MSG`]), and
//! `dnsledger_http_limited_total{reason="query_timeout"}` counts it. A streamed lookup whose
//! client stops reading is stopped at the same deadline instead of waiting on it for ever.
//!
//! Handing a lookup to another thread costs thread wake-ups that dominate the latency of a
//! point lookup; range scans (wildcards, prefixes) are not bounded and must not hold a worker.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use dnsledger_model::Record;
use dnsledger_query::{Lookup, Outcome, RecordFilter, Sort, SortError, Window};
use dnsledger_store::{Store, StoreError};

/// Results up to this size are rendered inline and sent whole.
pub const INLINE_BYTES: usize = 256 << 10;
/// Records a sorted lookup may hold: a larger answer is refused (narrow it or page it unsorted).
pub const SORT_CAP: u64 = 200_000;
/// Bytes buffered before a chunk of a streamed response is sent.
const STREAM_CHUNK: usize = 32 << 10;

/// How long the last chunk of a lookup with a deadline may wait for the client.
const END_GRACE: std::time::Duration = std::time::Duration::from_secs(10);

/// What a response says when its lookup ran past the query timeout.
pub const TIMEOUT_MSG: &str =
    "query timed out: the lookup ran past the server's query timeout (query_timeout_ms) and was stopped; narrow it (a longer name, a type, time fences) or lower the limit";

/// Counts a lookup that ended at its deadline.
fn note(res: &Result<Outcome, StoreError>) {
    if matches!(res, Ok(o) if o.timed_out) {
        crate::limits::count("query_timeout");
    }
}

/// Renders records into a response format.
pub trait Encoder: Send + 'static {
    /// Bytes before the first record.
    fn begin(&mut self, out: &mut Vec<u8>);
    /// One record.
    fn record(&mut self, r: &Record, out: &mut Vec<u8>);
    /// Bytes after the last record, given how the lookup ended.
    fn end(&mut self, outcome: &Result<Outcome, StoreError>, out: &mut Vec<u8>);
}

/// Runs `lookup`, keeping the records `filter` keeps and stopping at `deadline`, and returns
/// the response body.
pub fn records_body<E: Encoder + Clone>(
    store: Arc<dyn Store>,
    lookup: Lookup,
    window: Window,
    filter: RecordFilter,
    deadline: Option<Instant>,
    enc: E,
) -> Body {
    if !lookup.is_point() {
        return stream(store, lookup, window, filter, deadline, enc);
    }
    let inline = (|| {
        let mut enc = enc.clone();
        let mut buf = Vec::with_capacity(4096);
        enc.begin(&mut buf);
        let mut overflow = false;
        let res = dnsledger_query::run_until(&*store, &lookup, window, &filter, deadline, &mut |r| {
            enc.record(&r, &mut buf);
            if buf.len() > INLINE_BYTES {
                overflow = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        if overflow {
            return None;
        }
        note(&res);
        enc.end(&res, &mut buf);
        Some(buf)
    })();
    match inline {
        Some(buf) => Body::from(buf),
        None => stream(store, lookup, window, filter, deadline, enc),
    }
}

/// Why a chunk could not be handed to the response.
enum Unsent {
    /// The client hung up.
    Gone,
    /// The client did not take it before the deadline.
    Late,
}

/// Hands `chunk` to the response body, waiting for the client no later than `deadline`.
fn send(tx: &tokio::sync::mpsc::Sender<Bytes>, chunk: Bytes, deadline: Option<Instant>) -> Result<(), Unsent> {
    match deadline {
        None => tx.blocking_send(chunk).map_err(|_| Unsent::Gone),
        Some(d) => {
            // on a blocking-pool thread, which runs inside the runtime's context
            let sent = tokio::runtime::Handle::current()
                .block_on(async { tokio::time::timeout_at(d.into(), tx.send(chunk)).await });
            match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_)) => Err(Unsent::Gone),
                Err(_) => Err(Unsent::Late),
            }
        }
    }
}

fn stream<E: Encoder>(
    store: Arc<dyn Store>,
    lookup: Lookup,
    window: Window,
    filter: RecordFilter,
    deadline: Option<Instant>,
    mut enc: E,
) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let mut buf: Vec<u8> = Vec::with_capacity(STREAM_CHUNK + 4096);
        enc.begin(&mut buf);
        let mut unsent = None;
        let res = dnsledger_query::run_until(&*store, &lookup, window, &filter, deadline, &mut |r| {
            enc.record(&r, &mut buf);
            if buf.len() >= STREAM_CHUNK {
                if let Err(why) = send(&tx, Bytes::from(std::mem::take(&mut buf)), deadline) {
                    unsent = Some(why);
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        });
        match unsent {
            Some(Unsent::Gone) => return,
            Some(Unsent::Late) => {
                // the client stopped reading: nothing more can reach it
                crate::limits::count("query_timeout");
                return;
            }
            None => {}
        }
        note(&res);
        enc.end(&res, &mut buf);
        // the closing chunk gets a short grace of its own: it may be what says the time ran out
        let _ = send(&tx, Bytes::from(buf), deadline.map(|_| Instant::now() + END_GRACE));
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    Body::from_stream(stream)
}

/// Runs `lookup` keeping what `filter` keeps, sorts the whole answer by `sort`, and renders
/// the records inside `window`. `Err` (a message for a 400) when the answer holds more than
/// `cap` records ([`SORT_CAP`] for the API); a store failure, or reading the answer past
/// `deadline` (nothing is sent then: a sort of part of the answer would mislead), is rendered
/// by the encoder like any other.
pub async fn sorted_body<E: Encoder>(
    store: Arc<dyn Store>,
    lookup: Lookup,
    window: Window,
    filter: RecordFilter,
    (sort, cap): (Sort, u64),
    deadline: Option<Instant>,
    mut enc: E,
) -> Result<Body, String> {
    let job = tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(4096);
        enc.begin(&mut buf);
        let res = dnsledger_query::run_sorted(&*store, &lookup, window, &filter, (sort, cap), deadline, &mut |r| {
            enc.record(&r, &mut buf);
            ControlFlow::Continue(())
        });
        let res = match res {
            Ok(o) => Ok(o),
            Err(SortError::Store(e)) => Err(e),
            Err(e @ SortError::TooMany { .. }) => return Err(e.to_string()),
        };
        note(&res);
        enc.end(&res, &mut buf);
        Ok(buf)
    });
    match job.await {
        Ok(Ok(buf)) => Ok(Body::from(buf)),
        Ok(Err(msg)) => Err(msg),
        Err(e) => Err(format!("sorting the answer failed: {e}")),
    }
}
