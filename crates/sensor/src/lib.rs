//! The sensor pipeline: captured DNS traffic to deduplicated observations.
//!
//! ```text
//! pcap/pcapng files, stdin, live interfaces          (dnsledger-capture)
//!   → frames → link/IP/UDP/TCP decoding, defragmentation, DNS-over-TCP reassembly
//!   → DNS payloads → query/response matching          (matcher)
//!   → responses → RRsets under the bailiwick rule      (dnsledger-wire)
//!   → deduplication cache: one aggregate per record    (dnsledger-store Batch)
//!   → output thread: local store | collector over HTTP with a disk spool | NDJSON/passivedns file
//! ```
//!
//! Files are read by `threads` workers that each map the same file and keep the flows of their
//! shard (a symmetric hash of addresses and ports), so each flow's TCP stream and query/response
//! pairs stay on one thread and no packet is copied between threads. Live capture runs one
//! worker per capture handle (several with `PACKET_FANOUT`).
//!
//! The deduplication cache is bounded: when it holds `cache_bytes`, or every `flush_every`,
//! it is handed to the output as one batch; counts, first/last seen and TTL ranges are
//! aggregated in it, so a name seen a million times costs one record. A response that repeats an
//! earlier one but for its id and aged TTLs is counted without being parsed again (`replay`). Batches pass to the
//! output through a bounded channel: a slow output slows reading (files) or is absorbed by the
//! capture buffer (live), rather than growing memory.
//!
//! Privacy: the store has no field for client addresses and the sensor never sends them.
//! Only file outputs can carry them, with `record_clients` (`--record-clients`), and then
//! as keyed-hash tokens instead of addresses when a key is given ([`pseudonym`]).

pub mod matcher;
pub mod output;
pub mod pseudonym;
pub mod replay;
pub mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dnsledger_capture::live::{LiveOptions, LiveSource};
use dnsledger_capture::{DecodeStats, DecoderConfig, FileSource};
pub use dnsledger_ingest::Input;
use dnsledger_store::Batch;
use dnsledger_wire::ExtractOptions;
use serde_json::{json, Value};

use crate::matcher::MatchStats;
use crate::output::{OutputError, Sink};
use crate::worker::{Worker, WorkerStats};

/// How the sensor works.
#[derive(Clone)]
pub struct SensorOptions {
    /// Packet decoding (ports, flow and fragment limits).
    pub decoder: DecoderConfig,
    /// What is extracted from responses.
    pub extract: ExtractOptions,
    /// Sensor name recorded with every observation.
    pub sensor: Option<String>,
    /// Keep client and server addresses in file outputs.
    pub record_clients: bool,
    /// Use only responses whose query was seen.
    pub require_query: bool,
    /// Read UDP responses from source port 5353 as mDNS (no question; every record speaks for
    /// its own name, see `dnsledger_wire::Extractor::extract_mdns`).
    pub mdns: bool,
    /// Deduplication cache size (split over workers) before a batch is handed on.
    pub cache_bytes: usize,
    /// Longest time a sighting waits in the cache.
    pub flush_every: Duration,
    /// Queries in flight tracked per worker.
    pub max_pending_queries: usize,
    /// How long a query waits for its response (µs of packet time).
    pub query_timeout_us: i64,
    /// Worker threads for file inputs.
    pub threads: usize,
}

impl Default for SensorOptions {
    fn default() -> Self {
        SensorOptions {
            decoder: DecoderConfig::default(),
            extract: ExtractOptions::default(),
            sensor: None,
            record_clients: false,
            require_query: false,
            mdns: false,
            cache_bytes: 24 << 20,
            flush_every: Duration::from_secs(10),
            max_pending_queries: 1 << 20,
            query_timeout_us: 10_000_000,
            threads: 1,
        }
    }
}

/// What a sensor run did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Wall time.
    pub elapsed: Duration,
    /// Decoder counters (frames, bytes, drops by reason).
    pub decode: DecodeStats,
    /// Matching counters.
    pub matching: MatchStats,
    /// Message-level counters.
    pub work: WorkerStats,
    /// Damaged or unreadable inputs, with where and why (data before the damage was used).
    pub input_errors: Vec<String>,
    /// The output's closing line.
    pub output: Option<String>,
    /// Live capture: frames received, dropped by the kernel, dropped by the interface.
    pub live: Option<(u64, u64, u64)>,
}

fn stat(d: &DecodeStats, name: &str) -> u64 {
    d.iter().find(|(k, _)| *k == name).map(|(_, v)| v).unwrap_or(0)
}

impl Summary {
    /// Frames read.
    pub fn frames(&self) -> u64 {
        stat(&self.decode, "frames")
    }

    /// Every figure, as JSON (`--summary-json`).
    pub fn to_json(&self) -> Value {
        let secs = self.elapsed.as_secs_f64();
        let frames = self.frames();
        let decode: serde_json::Map<String, Value> =
            self.decode.iter().map(|(k, v)| (k.to_string(), v.into())).collect();
        let m = &self.matching;
        let w = &self.work;
        let mut v = json!({
            "frames": frames,
            "seconds": secs,
            "frames_per_sec": if secs > 0.0 { frames as f64 / secs } else { 0.0 },
            "dns_messages": w.dns_messages,
            "queries": m.queries,
            "responses": w.responses,
            "responses_used": w.responses_used,
            "responses_replayed": w.replayed,
            "matched": m.matched,
            "unmatched_responses": m.unmatched,
            "unanswered_queries": m.unanswered,
            "query_retransmits": m.query_retransmits,
            "untracked_queries": m.untracked,
            "responses_without_query_dropped": w.responses_without_query,
            "rrsets": w.rrsets,
            "negative": w.negative,
            "out_of_bailiwick": w.out_of_bailiwick,
            "off_chain": w.off_chain,
            "unvouched": w.unvouched,
            "batches": w.batches,
            "skipped": w.skipped,
            "errors": w.errors,
            "decode": decode,
            "input_errors": self.input_errors,
        });
        if let Some((r, d, i)) = self.live {
            v["live"] = json!({"received": r, "dropped_kernel": d, "dropped_interface": i});
        }
        if let Some(o) = &self.output {
            v["output"] = o.clone().into();
        }
        v
    }
}

/// Why a sensor run failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum SensorError {
    /// The output could not take a batch; what was read after the last stored batch is not stored.
    #[error("output failed: {0}")]
    Output(#[from] OutputError),
    /// Live capture could not start or failed.
    #[error("capture: {0}")]
    Capture(String),
    /// A worker thread panicked (a bug).
    #[error("a sensor thread panicked")]
    Panicked,
}

/// Runs the output thread: takes batches until every sender is gone, writing each to `sink`.
fn output_thread(
    mut sink: Box<dyn Sink>,
    rx: Receiver<Batch>,
    failed: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Result<Option<String>, OutputError>> {
    std::thread::Builder::new()
        .name("dnsledger-output".into())
        .spawn(move || {
            let r = (|| {
                loop {
                    match rx.recv_timeout(Duration::from_secs(1)) {
                        Ok(mut b) => sink.write(&mut b)?,
                        Err(RecvTimeoutError::Timeout) => sink.tick()?,
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                sink.finish()
            })();
            if r.is_err() {
                failed.store(true, Ordering::SeqCst);
            }
            r
        })
        .unwrap_or_else(|e| panic!("cannot start the output thread: {e}"))
}

fn sender(tx: SyncSender<Batch>, failed: Arc<AtomicBool>) -> impl FnMut(Batch) {
    move |b| {
        if tx.send(b).is_err() {
            failed.store(true, Ordering::SeqCst);
        }
    }
}

/// Reads pcap/pcapng inputs to the end and writes what they hold to `sink`.
pub fn run_files(inputs: &[Input], opts: &SensorOptions, sink: Box<dyn Sink>) -> Result<Summary, SensorError> {
    let t0 = Instant::now();
    let threads = if inputs.contains(&Input::Stdin) { 1 } else { opts.threads.max(1) };
    let failed = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel::<Batch>(0);
    let out = output_thread(sink, rx, failed.clone());
    let input_errors = Mutex::new(Vec::new());
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|i| {
                let tx = tx.clone();
                let failed = failed.clone();
                let input_errors = &input_errors;
                s.spawn(move || {
                    let mut send = sender(tx, failed.clone());
                    let shard = (threads > 1).then_some((i as u32, threads as u32));
                    let mut w = Worker::new(opts, shard, &mut send);
                    for input in inputs {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        w.set_origin(&input.origin());
                        let src = match input {
                            Input::File(p) => FileSource::open(p),
                            Input::Stdin => FileSource::from_reader(Box::new(std::io::stdin()), "<stdin>".into()),
                        };
                        let r = src.and_then(|mut src| {
                            src.for_each(&mut |p| {
                                w.frame(p);
                            })
                        });
                        if let Err(e) = r {
                            // every shard meets the same damage; one report is enough
                            if i == 0 {
                                tracing::error!("{e}");
                                if let Ok(mut v) = input_errors.lock() {
                                    v.push(e.to_string());
                                }
                            }
                        }
                    }
                    w.finish()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    drop(tx);
    let output = out.join().map_err(|_| SensorError::Panicked)??;
    let mut summary = Summary { output, ..Summary::default() };
    let (mut frames, mut bytes, mut fragments) = (0, 0, 0);
    for r in results {
        let (w, d, m) = r.map_err(|_| SensorError::Panicked)?;
        // every shard reads every frame (and sees every fragment before it knows its shard):
        // count them once
        frames = frames.max(d.frames);
        bytes = bytes.max(d.bytes);
        fragments = fragments.max(d.ip_fragments);
        summary.work.merge(&w);
        summary.decode.merge(&d);
        summary.matching.merge(&m);
    }
    summary.decode.frames = frames;
    summary.decode.bytes = bytes;
    summary.decode.ip_fragments = fragments;
    summary.input_errors = input_errors.into_inner().unwrap_or_default();
    summary.elapsed = t0.elapsed();
    Ok(summary)
}

/// How often capture threads publish their counters to [`LiveProgress`] (and check whether a
/// log report is due).
const PUBLISH_EVERY: Duration = Duration::from_secs(1);

/// Live capture settings beyond the packet pipeline's.
#[derive(Debug, Clone)]
pub struct LiveRun {
    /// The capture handle's options (one handle per thread; threads > 1 needs a fanout group).
    pub capture: LiveOptions,
    /// Capture threads (each with its own handle in the fanout group).
    pub threads: usize,
    /// How often to log counters.
    pub report_every: Duration,
    /// Where capture threads publish their counters about once a second (for `/metrics`).
    pub progress: Option<Arc<LiveProgress>>,
}

/// One capture thread's counters at its last publication.
#[derive(Debug, Clone, Default)]
struct ThreadCounters {
    work: WorkerStats,
    decode: DecodeStats,
    matching: MatchStats,
    live: (u64, u64, u64),
}

/// The counters of a running live capture, published by each capture thread about once a
/// second, so a metrics scrape reads them without touching the packet path.
#[derive(Debug, Default)]
pub struct LiveProgress {
    threads: Mutex<Vec<ThreadCounters>>,
}

impl LiveProgress {
    fn publish(&self, thread: usize, c: ThreadCounters) {
        let mut t = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        if t.len() <= thread {
            t.resize(thread + 1, ThreadCounters::default());
        }
        t[thread] = c;
    }

    /// The counters of every thread added up (`elapsed` and `output` are not set).
    pub fn snapshot(&self) -> Summary {
        let t = self.threads.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = Summary { live: Some((0, 0, 0)), ..Summary::default() };
        for c in t.iter() {
            s.work.merge(&c.work);
            s.decode.merge(&c.decode);
            s.matching.merge(&c.matching);
            if let Some(l) = &mut s.live {
                l.0 += c.live.0;
                l.1 += c.live.1;
                l.2 += c.live.2;
            }
        }
        s
    }
}

/// Captures until `stop` is set, then flushes everything and returns the counters.
pub fn run_live(
    live: &LiveRun,
    opts: &SensorOptions,
    sink: Box<dyn Sink>,
    stop: Arc<AtomicBool>,
) -> Result<Summary, SensorError> {
    let t0 = Instant::now();
    let threads = live.threads.max(1);
    // open every handle before starting, so errors (permissions, BPF) are reported at once
    let mut sources = Vec::with_capacity(threads);
    for _ in 0..threads {
        sources.push(LiveSource::open(&live.capture).map_err(|e| SensorError::Capture(e.to_string()))?);
    }
    tracing::info!(
        "capturing on {} with {} handle(s) (filter: {}); SIGINT or SIGTERM stops and flushes",
        live.capture.interface,
        threads,
        live.capture.bpf
    );
    let failed = Arc::new(AtomicBool::new(false));
    let (tx, rx) = sync_channel::<Batch>(0);
    let out = output_thread(sink, rx, failed.clone());
    let origin = format!("interface {}", live.capture.interface);
    let results: Vec<_> = std::thread::scope(|s| {
        let handles: Vec<_> = sources
            .into_iter()
            .enumerate()
            .map(|(i, mut src)| {
                let tx = tx.clone();
                let failed = failed.clone();
                let stop = stop.clone();
                let origin = origin.clone();
                s.spawn(move || -> Result<_, String> {
                    let mut send = sender(tx, failed.clone());
                    let mut w = Worker::new(opts, None, &mut send);
                    w.set_origin(&origin);
                    let mut last_report = Instant::now();
                    let mut last_publish = Instant::now();
                    let mut capture_error = None;
                    while !stop.load(Ordering::Relaxed) && !failed.load(Ordering::Relaxed) {
                        match src.next() {
                            Ok(Some(p)) => w.frame(&p),
                            Ok(None) => w.maybe_flush(),
                            Err(e) => {
                                capture_error = Some(e.to_string());
                                break;
                            }
                        }
                        if last_publish.elapsed() < PUBLISH_EVERY {
                            continue;
                        }
                        last_publish = Instant::now();
                        if let Some(p) = &live.progress {
                            let (ws, ds, ms) = w.stats();
                            let l = src.stats().map(|s| (s.received, s.dropped, s.if_dropped)).unwrap_or_default();
                            p.publish(
                                i,
                                ThreadCounters { work: ws.clone(), decode: ds.clone(), matching: ms, live: l },
                            );
                        }
                        if last_report.elapsed() >= live.report_every {
                            last_report = Instant::now();
                            let (ws, ds, ms) = w.stats();
                            let (r, d, ifd) =
                                src.stats().map(|s| (s.received, s.dropped, s.if_dropped)).unwrap_or_default();
                            tracing::info!(
                                thread = i,
                                received = r,
                                dropped_kernel = d,
                                dropped_interface = ifd,
                                frames = stat(ds, "frames"),
                                dns = ws.dns_messages,
                                responses = ws.responses,
                                unmatched = ms.unmatched,
                                rrsets = ws.rrsets,
                                malformed = ws.errors.values().sum::<u64>(),
                                "capture"
                            );
                        }
                    }
                    let live_stats = src.stats().map(|s| (s.received, s.dropped, s.if_dropped)).unwrap_or_default();
                    let (ws, ds, ms) = w.finish();
                    if let Some(e) = capture_error {
                        return Err(e);
                    }
                    Ok((ws, ds, ms, live_stats))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join()).collect()
    });
    drop(tx);
    let output = out.join().map_err(|_| SensorError::Panicked)??;
    let mut summary = Summary { output, live: Some((0, 0, 0)), ..Summary::default() };
    for r in results {
        match r.map_err(|_| SensorError::Panicked)? {
            Ok((w, d, m, (rcv, drop, ifd))) => {
                summary.work.merge(&w);
                summary.decode.merge(&d);
                summary.matching.merge(&m);
                if let Some(l) = &mut summary.live {
                    l.0 += rcv;
                    l.1 += drop;
                    l.2 += ifd;
                }
            }
            Err(e) => summary.input_errors.push(format!("{origin}: {e}")),
        }
    }
    summary.elapsed = t0.elapsed();
    Ok(summary)
}
