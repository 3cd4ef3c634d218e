//! Sending lookup results. Point lookups (one name, one address, raw bytes: a few block reads)
//! run on the request's own worker thread and are sent with a `Content-Length` in one write,
//! unless they outgrow [`INLINE_BYTES`]. Everything else, and point lookups that outgrew the
//! inline buffer (run again from the start), runs on a blocking thread and is streamed in chunks
//! as the store yields it, so a large result is never held in memory and a client that hangs up
//! stops the scan.
//!
//! A sorted lookup (`sort=`) holds the whole filtered answer, at most [`SORT_CAP`] records, on
//! a blocking thread, sorts it, and sends the page asked for in one body.
//!
//! Handing a lookup to another thread costs thread wake-ups that dominate the latency of a
//! point lookup; range scans (wildcards, prefixes) are not bounded and must not hold a worker.

use std::convert::Infallible;
use std::ops::ControlFlow;
use std::sync::Arc;

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

/// Renders records into a response format.
pub trait Encoder: Send + 'static {
    /// Bytes before the first record.
    fn begin(&mut self, out: &mut Vec<u8>);
    /// One record.
    fn record(&mut self, r: &Record, out: &mut Vec<u8>);
    /// Bytes after the last record, given how the lookup ended.
    fn end(&mut self, outcome: &Result<Outcome, StoreError>, out: &mut Vec<u8>);
}

/// Runs `lookup`, keeping the records `filter` keeps, and returns the response body.
pub fn records_body<E: Encoder + Clone>(
    store: Arc<dyn Store>,
    lookup: Lookup,
    window: Window,
    filter: RecordFilter,
    enc: E,
) -> Body {
    if !lookup.is_point() {
        return stream(store, lookup, window, filter, enc);
    }
    let inline = (|| {
        let mut enc = enc.clone();
        let mut buf = Vec::with_capacity(4096);
        enc.begin(&mut buf);
        let mut overflow = false;
        let res = dnsledger_query::run_filtered(&*store, &lookup, window, &filter, &mut |r| {
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
        enc.end(&res, &mut buf);
        Some(buf)
    })();
    match inline {
        Some(buf) => Body::from(buf),
        None => stream(store, lookup, window, filter, enc),
    }
}

fn stream<E: Encoder>(store: Arc<dyn Store>, lookup: Lookup, window: Window, filter: RecordFilter, mut enc: E) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let mut buf: Vec<u8> = Vec::with_capacity(STREAM_CHUNK + 4096);
        enc.begin(&mut buf);
        let mut gone = false;
        let res = dnsledger_query::run_filtered(&*store, &lookup, window, &filter, &mut |r| {
            enc.record(&r, &mut buf);
            if buf.len() >= STREAM_CHUNK && tx.blocking_send(Bytes::from(std::mem::take(&mut buf))).is_err() {
                gone = true;
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        if gone {
            return;
        }
        enc.end(&res, &mut buf);
        let _ = tx.blocking_send(Bytes::from(buf));
    });
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx)) });
    Body::from_stream(stream)
}

/// Runs `lookup` keeping what `filter` keeps, sorts the whole answer by `sort`, and renders
/// the records inside `window`. `Err` (a message for a 400) when the answer holds more than
/// `cap` records ([`SORT_CAP`] for the API); a store failure is rendered by the encoder like
/// any other.
pub async fn sorted_body<E: Encoder>(
    store: Arc<dyn Store>,
    lookup: Lookup,
    window: Window,
    filter: RecordFilter,
    (sort, cap): (Sort, u64),
    mut enc: E,
) -> Result<Body, String> {
    let job = tokio::task::spawn_blocking(move || {
        let mut buf = Vec::with_capacity(4096);
        enc.begin(&mut buf);
        let res = dnsledger_query::run_sorted(&*store, &lookup, window, &filter, sort, cap, &mut |r| {
            enc.record(&r, &mut buf);
            ControlFlow::Continue(())
        });
        let res = match res {
            Ok(o) => Ok(o),
            Err(SortError::Store(e)) => Err(e),
            Err(e @ SortError::TooMany { .. }) => return Err(e.to_string()),
        };
        enc.end(&res, &mut buf);
        Ok(buf)
    });
    match job.await {
        Ok(Ok(buf)) => Ok(Body::from(buf)),
        Ok(Err(msg)) => Err(msg),
        Err(e) => Err(format!("sorting the answer failed: {e}")),
    }
}
