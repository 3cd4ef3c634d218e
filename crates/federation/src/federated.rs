//! One lookup asked of the local store and several upstreams at once.
//!
//! Every source runs on its own thread and hands records over as it decodes them (upstream
//! answers are read as they stream in). The caller's thread merges them and enforces each
//! upstream's deadline (its `timeout_secs`, from the start of the lookup): a source that
//! misses it is reported as timed out and whatever it sends later is ignored. Errors, 429s and
//! garbage become [`SourceReport`]s; the local answer always arrives. Records an upstream sent
//! before failing (a SAF stream cut midway) are kept — each is a complete record — and the
//! report says the answer is incomplete.
//!
//! Two modes, because exact merging and streaming conflict (a record sent early cannot be
//! amended later without sending it again):
//!
//! - **Merged** ([`run`]): a merged record is final only when every source has answered or
//!   timed out (a later source may add to its count), so records are released at the end,
//!   bounded by the upstreams' timeouts; the progress callback fires as each source finishes,
//!   which the SAF route turns into keepalive lines.
//! - **Streamed** ([`run_stream`]): each source's records are handed over the moment they
//!   arrive, the local store's first, each as the merged state of its key so far with the
//!   source that produced the line. A key that a later source also sees is handed over again
//!   with the merged values and all sources so far: the last line per key is the merged
//!   record (the same values the merged mode returns).
//!
//! Both modes can be cancelled ([`run_cancellable`], [`run_stream_cancellable`]) when the
//! client goes away: the upstream workers' connections are closed and their paging stops
//! ([`crate::cancel`]), the local scan stops at its next record, and the merging loop, which
//! looks at the flag at least every [`CANCEL_CHECK`], returns at once with every unfinished
//! source reported as `cancelled` (nothing is merged or read from the pull ledger any more).

use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use dnsledger_model::{Observation, Record};
use dnsledger_query::{Lookup, Window};
use dnsledger_store::Store;
use serde::Serialize;

use crate::cancel::Cancel;
use crate::merge::{MergedRecord, Merger};
use crate::{Upstream, UpstreamQuery, LOCAL};

/// Extra time allowed past an upstream's own timeout before it is declared late (its HTTP
/// client stops at the timeout itself; this only covers thread scheduling).
const GRACE: Duration = Duration::from_millis(500);

/// Longest the merging loop waits before looking at the cancel flag again (the workers
/// themselves are interrupted at once; this only bounds how late the loop notices).
pub const CANCEL_CHECK: Duration = Duration::from_millis(100);

/// How a source's part of a lookup ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceStatus {
    /// Complete answer.
    Ok,
    /// Complete up to a limit the source applied.
    Limited,
    /// No answer, or an incomplete one; see `error`.
    Error,
}

/// What one source contributed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceReport {
    /// `local` or the upstream's name.
    pub source: String,
    /// How it ended.
    pub status: SourceStatus,
    /// Records it returned (before merging).
    pub records: u64,
    /// Milliseconds until it finished (or was given up on).
    pub millis: u64,
    /// Short category of the failure (`timeout`, `quota`, `truncated`, `garbage`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<&'static str>,
    /// What went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Remarks (limit messages, counts discounted as already pulled).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl SourceReport {
    /// The report of a source given up on after `start`: an error of `category`.
    fn gave_up(source: &str, records: u64, start: Instant, category: &'static str, error: impl Into<String>) -> Self {
        SourceReport {
            source: source.to_string(),
            status: SourceStatus::Error,
            records,
            millis: start.elapsed().as_millis() as u64,
            category: Some(category),
            error: Some(error.into()),
            notes: Vec::new(),
        }
    }

    /// One line for humans (SAF `msg`, stderr).
    pub fn summary(&self) -> String {
        let mut s = match (&self.status, &self.error) {
            (SourceStatus::Error, Some(e)) => format!("{}: {e} ({} record(s) kept)", self.source, self.records),
            (SourceStatus::Limited, _) => format!("{}: {} record(s), limited", self.source, self.records),
            _ => format!("{}: {} record(s)", self.source, self.records),
        };
        for n in &self.notes {
            s.push_str("; ");
            s.push_str(n);
        }
        s
    }
}

/// A federated lookup to run.
pub struct Request {
    /// The local store and the lookup to run on it, if `local` is among the sources.
    pub local: Option<(Arc<dyn Store>, Lookup)>,
    /// Upstreams to ask.
    pub upstreams: Vec<Arc<Upstream>>,
    /// The lookup as upstreams are asked it.
    pub query: UpstreamQuery,
    /// Most merged records returned.
    pub limit: Option<u64>,
}

/// The merged answer.
#[derive(Debug)]
pub struct Answer {
    /// Merged records (at most the limit).
    pub records: Vec<MergedRecord>,
    /// True if more merged records existed than the limit.
    pub limited: bool,
    /// One report per source, in the order sources were given.
    pub reports: Vec<SourceReport>,
}

impl Answer {
    /// True if any source failed.
    pub fn has_errors(&self) -> bool {
        self.reports.iter().any(|r| r.status == SourceStatus::Error)
    }
}

enum Event {
    /// The source's inbox went from empty to holding items.
    Ready(usize),
    Done(usize, Result<(bool, Vec<String>), (&'static str, String)>),
}

/// What one source's worker has handed over and the merge loop has not taken yet.
///
/// The worker pushes items one at a time and wakes the loop (an [`Event::Ready`]) only when
/// the inbox goes from empty to non-empty; the loop takes everything at once. So no item ever
/// waits for a later one to be handed over (a trickling upstream streams record by record),
/// and items that arrive while the loop is busy are taken together, one wake-up per batch.
struct Inbox<T>(Mutex<Vec<T>>);

impl<T> Inbox<T> {
    fn new() -> Self {
        Inbox(Mutex::new(Vec::new()))
    }

    /// Adds `item`; true if the inbox was empty (the loop must be woken).
    fn push(&self, item: T) -> bool {
        let mut items = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        items.push(item);
        items.len() == 1
    }

    /// Takes everything handed over so far.
    fn take(&self) -> Vec<T> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// What a streamed lookup hands over as it happens ([`run_stream`]).
#[derive(Debug)]
pub enum Streamed<'a> {
    /// A record line: the merged state of its key so far.
    Record {
        /// The source whose answer produced this line (`local` or an upstream's name).
        source: &'a str,
        /// The merged record with every source that has seen it so far.
        record: &'a MergedRecord,
        /// True if a line for this key was sent before (this one supersedes it).
        update: bool,
    },
    /// A source finished (or was given up on).
    Done(&'a SourceReport),
}

/// Runs `req` in merged mode: records are merged exactly and returned once every source has
/// answered or timed out; `progress` is called with each source's report as it finishes.
pub fn run(req: Request, progress: &mut dyn FnMut(&SourceReport)) -> Answer {
    run_cancellable(req, &Cancel::new(), progress)
}

/// [`run`], stopped when `cancel` is cancelled (the client went away): unfinished sources are
/// then reported as `cancelled` and the answer is incomplete.
pub fn run_cancellable(req: Request, cancel: &Cancel, progress: &mut dyn FnMut(&SourceReport)) -> Answer {
    drive(req, false, cancel, &mut |ev| {
        if let Streamed::Done(r) = ev {
            progress(r)
        }
    })
}

/// Runs `req` in streaming mode: each source's records are handed to `on` the moment they
/// arrive, the local store's first (upstream records that arrive earlier wait for the local
/// answer to end), each as the merged state of its key so far. A key a later source also
/// sees is handed over again with the merged values and all sources so far, so the last
/// line per key is the merged record. Keys past the limit are not sent (the answer says it
/// was limited). Records whose counts the pull ledger corrects at the end
/// ([`Merger::discount_pulled`]) are sent once more. The returned answer holds the final
/// state of every key sent, in the order first sent.
pub fn run_stream(req: Request, on: &mut dyn FnMut(Streamed<'_>)) -> Answer {
    run_stream_cancellable(req, &Cancel::new(), on)
}

/// [`run_stream`], stopped when `cancel` is cancelled (the client went away): unfinished
/// sources are then reported as `cancelled` and nothing more is handed over.
pub fn run_stream_cancellable(req: Request, cancel: &Cancel, on: &mut dyn FnMut(Streamed<'_>)) -> Answer {
    drive(req, true, cancel, on)
}

/// Reports every source without a report yet as given up on (`why`: category and error),
/// handing each report to `on`.
fn give_up_unfinished(
    reports: &mut [Option<SourceReport>],
    (names, counts): (&[String], &[u64]),
    start: Instant,
    (category, error): (&'static str, &str),
    on: &mut dyn FnMut(Streamed<'_>),
) {
    for (i, slot) in reports.iter_mut().enumerate() {
        if slot.is_none() {
            let r = SourceReport::gave_up(&names[i], counts[i], start, category, error);
            on(Streamed::Done(&r));
            *slot = Some(r);
        }
    }
}

/// The event loop of both modes.
fn drive(req: Request, stream: bool, cancel: &Cancel, on: &mut dyn FnMut(Streamed<'_>)) -> Answer {
    let start = Instant::now();
    let (tx, rx) = mpsc::channel::<Event>();
    let local_inbox: Arc<Inbox<Record>> = Arc::new(Inbox::new());
    let mut up_inboxes: Vec<Arc<Inbox<Observation>>> = Vec::new();
    // source index 0 is local (when asked), then the upstreams
    let mut names: Vec<String> = Vec::new();
    let mut deadlines: Vec<Option<Instant>> = Vec::new();
    let store = req.local.as_ref().map(|(s, _)| s.clone());
    if let Some((store, lookup)) = req.local {
        names.push(LOCAL.to_string());
        deadlines.push(None);
        let tx = tx.clone();
        let window = Window { offset: 0, limit: req.limit };
        let cancel = cancel.clone();
        let inbox = local_inbox.clone();
        std::thread::spawn(move || {
            let res = dnsledger_query::run(&*store, &lookup, window, &mut |r| {
                if cancel.is_cancelled() || (inbox.push(r) && tx.send(Event::Ready(0)).is_err()) {
                    return std::ops::ControlFlow::Break(());
                }
                std::ops::ControlFlow::Continue(())
            });
            let done = res.map(|o| (o.limited, Vec::new())).map_err(|e| ("store", e.to_string()));
            let _ = tx.send(Event::Done(0, done));
        });
    }
    let first_upstream = names.len();
    for up in &req.upstreams {
        let i = names.len();
        names.push(up.name().to_string());
        deadlines.push(Some(start + up.config.timeout() + GRACE));
        let (tx, up, q, cancel) = (tx.clone(), up.clone(), req.query.clone(), cancel.clone());
        let inbox = Arc::new(Inbox::new());
        up_inboxes.push(inbox.clone());
        std::thread::spawn(move || {
            let mut gone = false;
            let res = up.fetch_with(&q, &cancel, &mut |o| {
                if !gone && inbox.push(o) {
                    gone = tx.send(Event::Ready(i)).is_err();
                }
            });
            let done = res.map(|f| (f.limited, f.notes)).map_err(|e| (e.category(), e.to_string()));
            let _ = tx.send(Event::Done(i, done));
        });
    }
    drop(tx);
    let mut merger = if req.query.kind.is_rdata() { Merger::inverse() } else { Merger::new() };
    let mut counts = vec![0u64; names.len()];
    // streaming: whether each merged record was sent, in what order, and upstream records held
    // back until the local answer ends
    let mut sender = Sender { on, sent: Vec::new(), order: Vec::new(), limit: req.limit, limited: false };
    let local_asked = store.is_some();
    let mut held: Vec<(usize, Vec<Observation>)> = Vec::new();
    let mut reports: Vec<Option<SourceReport>> = vec![None; names.len()];
    let finished = |reports: &[Option<SourceReport>]| reports.iter().all(Option::is_some);
    while !finished(&reports) {
        if cancel.is_cancelled() {
            // the client went away: give up on every source still running (the workers stop
            // on their own: their connections are closed)
            let why = ("cancelled", "cancelled: the client went away");
            give_up_unfinished(&mut reports, (&names, &counts), start, why, sender.on);
            let reports = reports.into_iter().flatten().collect();
            return Answer { records: Vec::new(), limited: false, reports };
        }
        let now = Instant::now();
        // give up on late upstreams
        for (i, d) in deadlines.iter().enumerate() {
            let Some(d) = *d else { continue };
            if reports[i].is_none() && now >= d {
                let r = SourceReport::gave_up(
                    &names[i],
                    counts[i],
                    start,
                    "timeout",
                    format!("timed out: no complete answer within {:?}", d.duration_since(start) - GRACE),
                );
                (sender.on)(Streamed::Done(&r));
                reports[i] = Some(r);
            }
        }
        if finished(&reports) {
            break;
        }
        let wait = deadlines
            .iter()
            .enumerate()
            .filter(|(i, _)| reports[*i].is_none())
            .filter_map(|(_, d)| *d)
            .min()
            .map(|d| d.saturating_duration_since(now).max(Duration::from_millis(1)))
            .unwrap_or(CANCEL_CHECK)
            .min(CANCEL_CHECK);
        let event = rx.recv_timeout(wait);
        // take what the source handed over: when it says so, and before its report (a worker
        // pushes everything before it sends `Done`)
        if let Ok(Event::Ready(i) | Event::Done(i, _)) = &event {
            let i = *i;
            if reports[i].is_some() {
                // given up on (timed out): what it sends late is dropped
            } else if local_asked && i == 0 {
                let records = local_inbox.take();
                counts[0] += records.len() as u64;
                for r in records {
                    let at = merger.add_record(LOCAL, r);
                    if stream {
                        sender.send(&merger, LOCAL, at);
                    }
                }
            } else if let Some(inbox) = i.checked_sub(first_upstream).and_then(|k| up_inboxes.get(k)) {
                let list = inbox.take();
                counts[i] += list.len() as u64;
                if stream && local_asked && reports[0].is_none() {
                    held.push((i, list));
                } else {
                    for o in &list {
                        let at = merger.add_observation(&names[i], o);
                        if stream {
                            sender.send(&merger, &names[i], at);
                        }
                    }
                }
            }
        }
        match event {
            Ok(Event::Ready(_)) => {}
            Ok(Event::Done(i, res)) => {
                if reports[i].is_some() {
                    continue;
                }
                let millis = start.elapsed().as_millis() as u64;
                let r = match res {
                    Ok((limited, notes)) => SourceReport {
                        source: names[i].clone(),
                        status: if limited { SourceStatus::Limited } else { SourceStatus::Ok },
                        records: counts[i],
                        millis,
                        category: None,
                        error: None,
                        notes,
                    },
                    Err((category, error)) => SourceReport {
                        source: names[i].clone(),
                        status: SourceStatus::Error,
                        records: counts[i],
                        millis,
                        category: Some(category),
                        error: Some(error),
                        notes: Vec::new(),
                    },
                };
                (sender.on)(Streamed::Done(&r));
                reports[i] = Some(r);
                if stream && local_asked && i == 0 {
                    // the local answer is complete: release what upstreams sent meanwhile
                    sender.release(&mut held, &mut merger, &names);
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                // every thread is gone: a source that never reported died
                let why = ("failed", "the source's worker stopped without an answer");
                give_up_unfinished(&mut reports, (&names, &counts), start, why, sender.on);
            }
        }
    }
    if cancel.is_cancelled() {
        // cancelled while the last sources ended (their workers saw the cancel first): the
        // answer is the one the loop gives a cancelled lookup, whatever arrived in the meantime
        let reports = reports.into_iter().flatten().collect();
        return Answer { records: Vec::new(), limited: false, reports };
    }
    // upstream records still held back (the local worker died without a report)
    sender.release(&mut held, &mut merger, &names);
    let mut reports: Vec<SourceReport> = reports.into_iter().flatten().collect();
    // records pulled earlier from an upstream that answered again are counted once
    if let Some(store) = &store {
        for r in reports.iter_mut().skip(first_upstream) {
            if r.records == 0 {
                continue;
            }
            match merger.discount_pulled_changed(&**store, &r.source) {
                Ok((0, _)) => {}
                Ok((n, changed)) => {
                    r.notes.push(format!("{n} sighting(s) already pulled into the local store counted once"));
                    if stream {
                        for at in changed {
                            sender.resend(&merger, &r.source, at);
                        }
                    }
                }
                Err(e) => {
                    r.notes.push(format!("pull ledger unreadable, counts may include pulled sightings twice: {e}"))
                }
            }
        }
    }
    if stream {
        // sources stay in arrival order, as the lines sent said them
        let records = sender.order.iter().filter_map(|&at| merger.get(at).cloned()).collect();
        return Answer { records, limited: sender.limited, reports };
    }
    merger.order_sources(&names);
    let (records, limited) = merger.finish(req.limit);
    Answer { records, limited, reports }
}

/// Streaming mode's bookkeeping: which merged records were sent, and the limit on new keys.
struct Sender<'a> {
    on: &'a mut dyn FnMut(Streamed<'_>),
    sent: Vec<bool>,
    /// Indices of the merged records sent, in the order first sent.
    order: Vec<usize>,
    limit: Option<u64>,
    limited: bool,
}

impl Sender<'_> {
    /// Sends merged record `at`, which `source` just added to (new keys past the limit are not sent).
    fn send(&mut self, merger: &Merger, source: &str, at: usize) {
        let Some(record) = merger.get(at) else { return };
        if self.sent.len() <= at {
            self.sent.resize(at + 1, false);
        }
        let update = self.sent[at];
        if !update {
            if self.limit.is_some_and(|l| self.order.len() as u64 >= l) {
                self.limited = true;
                return;
            }
            self.sent[at] = true;
            self.order.push(at);
        }
        (self.on)(Streamed::Record { source, record, update });
    }

    /// Merges and sends upstream records held back while the local answer was running.
    fn release(&mut self, held: &mut Vec<(usize, Vec<Observation>)>, merger: &mut Merger, names: &[String]) {
        for (j, list) in std::mem::take(held) {
            for o in &list {
                let at = merger.add_observation(&names[j], o);
                self.send(merger, &names[j], at);
            }
        }
    }

    /// Sends record `at` again if it was sent (its values changed after the fact).
    fn resend(&mut self, merger: &Merger, source: &str, at: usize) {
        if self.sent.get(at).copied().unwrap_or(false) {
            if let Some(record) = merger.get(at) {
                (self.on)(Streamed::Record { source, record, update: true });
            }
        }
    }
}
