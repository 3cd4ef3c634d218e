//! The ingest pipeline: input bytes → parsers (in parallel) → pre-aggregated batches → store,
//! with progress, per-reason error accounting and resumable, exactly-once file imports.
//!
//! A file import records its progress (byte offset and line count) in the store, in the same
//! atomic write as the records it completes. Killing an import and running it again resumes
//! after the last acknowledged batch, so nothing is lost and nothing is counted twice; running
//! it on a fully imported file does nothing unless forced; running it on a file that has grown
//! imports only what was appended. A file is recognised by its canonical path; a checkpoint also
//! holds a hash of the file's first bytes (up to 4 KiB, and never beyond the checkpoint), so a
//! file that was replaced or rotated under the same name is imported from its start.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dnsledger_sources::{Format, LineOutcome, LineParser, ParseError, SourceOptions};
use dnsledger_store::{Batch, Store, StoreError};

/// Bytes read per chunk handed to a parser thread.
const CHUNK_BYTES: usize = 4 << 20;
/// Bytes of the file start that identify a file for resumable imports.
const FINGERPRINT_BYTES: usize = 4096;
/// Line errors passed on per chunk; further ones are only counted.
const MAX_ERRORS_PER_CHUNK: usize = 200;

/// Where an import reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Standard input (not resumable).
    Stdin,
    /// A file.
    File(PathBuf),
}

impl Input {
    /// `-` is stdin, anything else a file path.
    pub fn from_arg(s: &str) -> Input {
        if s == "-" {
            Input::Stdin
        } else {
            Input::File(PathBuf::from(s))
        }
    }

    /// The name used in messages (`file:line`).
    pub fn origin(&self) -> String {
        match self {
            Input::Stdin => "<stdin>".into(),
            Input::File(p) => p.display().to_string(),
        }
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// Input format; `None` guesses from the first lines.
    pub format: Option<Format>,
    /// Options passed to the parser (default sensor id).
    pub source: SourceOptions,
    /// Import a file again even if its checkpoint says it was fully imported.
    pub force: bool,
    /// Write a batch once it holds about this many bytes of aggregated records.
    pub max_batch_bytes: usize,
    /// Parser threads.
    pub threads: usize,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            source: SourceOptions::default(),
            force: false,
            max_batch_bytes: 256 << 20,
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8),
        }
    }
}

/// A rejected line, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// File name or `<stdin>`.
    pub origin: String,
    /// 1-based line number.
    pub line: u64,
    /// What was wrong.
    pub error: ParseError,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.origin, self.line, self.error)
    }
}

/// Progress of a running import.
#[derive(Debug, Clone, Default)]
pub struct Progress {
    /// Bytes consumed.
    pub bytes: u64,
    /// Input size, when known.
    pub total_bytes: Option<u64>,
    /// Lines parsed.
    pub lines: u64,
    /// Observations accepted.
    pub observations: u64,
    /// Time since the import started.
    pub elapsed: Duration,
}

/// What an import did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// File name or `<stdin>`.
    pub origin: String,
    /// The format used.
    pub format: Option<Format>,
    /// Lines read in this run.
    pub lines: u64,
    /// Observations accepted.
    pub observations: u64,
    /// Rejected lines by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Lines deliberately not used, by reason.
    pub skipped: BTreeMap<&'static str, u64>,
    /// Distinct records merged into the store (summed over batches).
    pub records: u64,
    /// Store writes done.
    pub batches: u64,
    /// Bytes read in this run.
    pub bytes: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// Where a previous interrupted import was resumed: (byte offset, lines already read).
    pub resumed_from: Option<(u64, u64)>,
    /// True if the file had already been imported completely and nothing was done.
    pub already_imported: bool,
}

impl Summary {
    /// Total rejected lines.
    pub fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}

/// Receives progress and errors while an import runs.
pub trait Reporter {
    /// Called after each parsed chunk.
    fn progress(&mut self, p: &Progress);
    /// Called for each rejected line (in file order; at most a few hundred per 4 MiB chunk).
    fn error(&mut self, e: &LineError);
}

/// A reporter that ignores everything.
pub struct Silent;

impl Reporter for Silent {
    fn progress(&mut self, _: &Progress) {}
    fn error(&mut self, _: &LineError) {}
}

/// Why an import stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The input could not be read.
    #[error("{origin}: {error}")]
    Io {
        /// File name.
        origin: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The format was not given and could not be guessed.
    #[error("{0}: cannot tell the input format from its first lines; pass --format")]
    UnknownFormat(String),
    /// The store failed; batches before this one are durable.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A parser thread died (a bug).
    #[error("internal error: {0}")]
    Internal(String),
}

/// What parsing one chunk of lines produced.
pub struct ChunkResult {
    /// Position of the chunk in the input.
    pub seq: u64,
    /// Byte offset just after the chunk.
    pub end_offset: u64,
    /// Lines in the chunk.
    pub lines: u64,
    /// Observations accepted.
    pub observations: u64,
    /// The aggregated observations (empty when parsed into a caller's batch).
    pub batch: Batch,
    /// The first rejected lines (at most a few hundred).
    pub errors: Vec<LineError>,
    /// Rejected lines by reason.
    pub rejected: BTreeMap<&'static str, u64>,
    /// Skipped lines by reason.
    pub skipped: BTreeMap<&'static str, u64>,
}

/// Parses newline-separated `bytes` whose first line is line `first_line` of `origin`.
pub fn parse_chunk(parser: &mut dyn LineParser, bytes: &[u8], first_line: u64, origin: &str) -> ChunkResult {
    let mut batch = Batch::new();
    let mut r = parse_chunk_into(parser, bytes, first_line, origin, &mut batch);
    r.batch = batch;
    r
}

/// Like [`parse_chunk`], folding the observations into `batch` (the result's batch is empty).
pub fn parse_chunk_into(
    parser: &mut dyn LineParser,
    bytes: &[u8],
    first_line: u64,
    origin: &str,
    batch: &mut Batch,
) -> ChunkResult {
    let mut r = ChunkResult {
        seq: 0,
        end_offset: 0,
        lines: 0,
        observations: 0,
        batch: Batch::new(),
        errors: Vec::new(),
        rejected: BTreeMap::new(),
        skipped: BTreeMap::new(),
    };
    for line in bytes.split(|&b| b == b'\n') {
        r.lines += 1;
        let outcome = parser.parse_line(line, &mut |obs| batch.add(obs));
        match outcome {
            Ok(LineOutcome::Observations(n)) => r.observations += n as u64,
            Ok(LineOutcome::Skipped(why)) => *r.skipped.entry(why).or_default() += 1,
            Err(e) => {
                *r.rejected.entry(e.reason).or_default() += 1;
                if r.errors.len() < MAX_ERRORS_PER_CHUNK {
                    r.errors.push(LineError { origin: origin.to_string(), line: first_line + r.lines - 1, error: e });
                }
            }
        }
    }
    // `split` yields one empty piece after a final newline; it is not a line.
    if bytes.last() == Some(&b'\n') || bytes.is_empty() {
        r.lines -= 1;
        if let Some(c) = r.skipped.get_mut("empty line") {
            *c -= 1;
            if *c == 0 {
                r.skipped.remove("empty line");
            }
        }
    }
    r
}

/// Progress stored in a checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Checkpoint {
    offset: u64,
    lines: u64,
}

/// A stored checkpoint: progress plus the hash of the file head it was taken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    at: Checkpoint,
    head_len: usize,
    head_hash: u64,
}

impl Stored {
    /// The checkpoint of a file whose first bytes are `head` (at most `FINGERPRINT_BYTES`).
    fn new(at: Checkpoint, head: &[u8]) -> Stored {
        let head_len = head.len().min(at.offset as usize);
        Stored { at, head_len, head_hash: xxhash_rust::xxh3::xxh3_64(&head[..head_len]) }
    }
    fn encode(&self) -> Vec<u8> {
        format!("v1 {} {} {} {:016x}", self.at.offset, self.at.lines, self.head_len, self.head_hash).into_bytes()
    }
    fn decode(b: &[u8]) -> Option<Stored> {
        let s = std::str::from_utf8(b).ok()?;
        let mut it = s.split(' ');
        if it.next()? != "v1" {
            return None;
        }
        let at = Checkpoint { offset: it.next()?.parse().ok()?, lines: it.next()?.parse().ok()? };
        let head_len = it.next()?.parse().ok()?;
        let head_hash = u64::from_str_radix(it.next()?, 16).ok()?;
        Some(Stored { at, head_len, head_hash })
    }
    /// True if this checkpoint was taken on a file starting with `head` and of at least `len` bytes.
    fn matches(&self, head: &[u8], len: u64) -> bool {
        self.at.offset <= len
            && head.len() >= self.head_len
            && xxhash_rust::xxh3::xxh3_64(&head[..self.head_len]) == self.head_hash
    }
}

/// The first bytes of a file (up to `FINGERPRINT_BYTES`), leaving the file at its start.
fn read_head(file: &mut File) -> std::io::Result<Vec<u8>> {
    let mut head = vec![0u8; FINGERPRINT_BYTES];
    let mut n = 0;
    while n < head.len() {
        let got = file.read(&mut head[n..])?;
        if got == 0 {
            break;
        }
        n += got;
    }
    head.truncate(n);
    file.seek(SeekFrom::Start(0))?;
    Ok(head)
}

/// Work for a parser thread.
enum Job {
    /// Parse a chunk: (sequence number, first line number, offset after it, bytes).
    Chunk(u64, u64, u64, Vec<u8>),
    /// Hand the batch built so far to the writer, tagged with a flush id.
    Flush(u64),
}

/// What the writer receives.
enum Msg {
    /// A parsed chunk's report (its observations went into the worker's batch).
    Report(ChunkResult),
    /// A worker's batch for a flush.
    Batch(u64, Batch),
    /// From the reader: flush `id` covers chunks up to `last_seq` and ends at this checkpoint.
    FlushPoint { id: u64, last_seq: Option<u64>, end: Checkpoint },
}

/// Imports one input into `store`.
///
/// A reader thread cuts the input into chunks at line boundaries and deals them round-robin to
/// parser threads; each parser folds its chunks into its own batch. When the batches grow past
/// `max_batch_bytes` (and at the end) the reader asks every parser for its batch; the calling
/// thread merges them and writes them with the checkpoint of the last chunk they cover, while
/// the parsers go on with the next chunks.
pub fn import(
    store: &dyn Store,
    input: &Input,
    opts: &ImportOptions,
    rep: &mut dyn Reporter,
) -> Result<Summary, ImportError> {
    let origin = input.origin();
    let io = |error| ImportError::Io { origin: origin.clone(), error };
    let started = Instant::now();
    let mut summary = Summary { origin: origin.clone(), ..Summary::default() };
    let mut head = Vec::new();
    let (mut reader, total, ckpt_id): (Box<dyn Read + Send>, Option<u64>, Option<String>) = match input {
        Input::Stdin => (Box::new(std::io::stdin()), None, None),
        Input::File(p) => {
            let mut f = File::open(p).map_err(io)?;
            let len = f.metadata().map_err(io)?.len();
            head = read_head(&mut f).map_err(io)?;
            let canonical = std::fs::canonicalize(p).map_err(io)?;
            (Box::new(f), Some(len), Some(format!("file:{}", canonical.display())))
        }
    };
    let mut start = Checkpoint { offset: 0, lines: 0 };
    if let (Some(id), Some(len), false) = (&ckpt_id, total, opts.force) {
        if let Some(c) = store.checkpoint(id)?.as_deref().and_then(Stored::decode) {
            if c.matches(&head, len) {
                start = c.at;
                if len == c.at.offset {
                    summary.already_imported = true;
                    summary.elapsed = started.elapsed();
                    return Ok(summary);
                }
                summary.resumed_from = Some((c.at.offset, c.at.lines));
            } else {
                tracing::info!(%origin, "file differs from the one imported before under this name: importing it from the start");
            }
        }
    }
    if start.offset > 0 {
        if let Input::File(p) = input {
            let mut f = File::open(p).map_err(io)?;
            f.seek(SeekFrom::Start(start.offset)).map_err(io)?;
            reader = Box::new(f);
        }
    }

    // Read the first chunk now, to sniff the format when none was given.
    let mut carry: Vec<u8> = Vec::new();
    let first = read_chunk(&mut reader, &mut carry).map_err(io)?;
    let format = match opts.format {
        Some(f) => f,
        None => match first.as_deref().and_then(Format::sniff) {
            Some(f) => f,
            None if first.is_none() => Format::Ndjson,
            None => return Err(ImportError::UnknownFormat(origin)),
        },
    };
    summary.format = Some(format);
    let threads = opts.threads.max(1);
    let pending = std::sync::atomic::AtomicUsize::new(0);
    let max_batch = opts.max_batch_bytes;

    let read_result = std::thread::scope(|scope| -> Result<std::io::Result<()>, ImportError> {
        let (msg_tx, msg_rx) = mpsc::sync_channel::<Msg>(threads * 4);
        let mut job_txs = Vec::new();
        for _ in 0..threads {
            let (job_tx, job_rx) = mpsc::sync_channel::<Job>(2);
            job_txs.push(job_tx);
            let msg_tx = msg_tx.clone();
            let origin = origin.clone();
            let pending = &pending;
            let mut parser = format.parser(&opts.source);
            scope.spawn(move || {
                let mut batch = Batch::new();
                for job in job_rx {
                    match job {
                        Job::Chunk(seq, first_line, end_offset, bytes) => {
                            let before = batch.approx_bytes();
                            let mut r = parse_chunk_into(parser.as_mut(), &bytes, first_line, &origin, &mut batch);
                            pending.fetch_add(
                                batch.approx_bytes().saturating_sub(before),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                            r.seq = seq;
                            r.end_offset = end_offset;
                            if msg_tx.send(Msg::Report(r)).is_err() {
                                return;
                            }
                        }
                        Job::Flush(id) => {
                            // sorting here uses every parser thread; the writer only merges
                            batch.sort();
                            if msg_tx.send(Msg::Batch(id, std::mem::take(&mut batch))).is_err() {
                                return;
                            }
                        }
                    }
                }
            });
        }

        // Reader: deals chunks round-robin and asks for batches when they are big enough.
        let reader_tx = msg_tx;
        let pending = &pending;
        let reader_handle = scope.spawn(move || -> std::io::Result<()> {
            let mut seq = 0u64;
            let mut last_seq = None;
            let mut pos = start;
            let mut flush_id = 0u64;
            let mut next = Ok(first);
            let flush = |id: u64, last_seq: Option<u64>, end: Checkpoint| {
                for tx in &job_txs {
                    let _ = tx.send(Job::Flush(id));
                }
                let _ = reader_tx.send(Msg::FlushPoint { id, last_seq, end });
            };
            loop {
                let chunk = match next {
                    Ok(Some(c)) => c,
                    Ok(None) => break,
                    Err(e) => {
                        flush(flush_id, last_seq, pos);
                        return Err(e);
                    }
                };
                let lines = memchr::memchr_iter(b'\n', &chunk).count() as u64 + u64::from(chunk.last() != Some(&b'\n'));
                let first_line = pos.lines + 1;
                pos.offset += chunk.len() as u64;
                pos.lines += lines;
                let worker = (seq % job_txs.len() as u64) as usize;
                if job_txs[worker].send(Job::Chunk(seq, first_line, pos.offset, chunk)).is_err() {
                    return Ok(());
                }
                last_seq = Some(seq);
                seq += 1;
                if pending.load(std::sync::atomic::Ordering::Relaxed) >= max_batch {
                    pending.store(0, std::sync::atomic::Ordering::Relaxed);
                    flush(flush_id, last_seq, pos);
                    flush_id += 1;
                }
                next = read_chunk(&mut reader, &mut carry);
            }
            flush(flush_id, last_seq, pos);
            Ok(())
        });

        // Writer (this thread): reports in order, batches merged and written per flush.
        let mut reports: BTreeMap<u64, ChunkResult> = BTreeMap::new();
        let mut next_seq = 0u64;
        let mut flushes: std::collections::VecDeque<(u64, Option<u64>, Checkpoint)> = Default::default();
        let mut batches: BTreeMap<u64, (usize, Batch)> = BTreeMap::new();
        let mut progress = Progress { total_bytes: total, ..Progress::default() };
        for msg in msg_rx.iter() {
            match msg {
                Msg::Report(r) => {
                    reports.insert(r.seq, r);
                }
                Msg::Batch(id, b) => {
                    let e = batches.entry(id).or_insert_with(|| (0, Batch::new()));
                    e.0 += 1;
                    let merged = std::mem::take(&mut e.1).merge_sorted(b);
                    e.1 = merged;
                }
                Msg::FlushPoint { id, last_seq, end } => flushes.push_back((id, last_seq, end)),
            }
            while let Some(r) = reports.remove(&next_seq) {
                next_seq += 1;
                for e in &r.errors {
                    rep.error(e);
                }
                for (k, v) in r.rejected {
                    *summary.rejected.entry(k).or_default() += v;
                }
                for (k, v) in r.skipped {
                    *summary.skipped.entry(k).or_default() += v;
                }
                summary.lines += r.lines;
                summary.observations += r.observations;
                summary.bytes = r.end_offset - start.offset;
                progress.bytes = r.end_offset;
                progress.lines = start.lines + summary.lines;
                progress.observations = summary.observations;
                progress.elapsed = started.elapsed();
                rep.progress(&progress);
            }
            // Write every flush whose batches and chunk reports are all in.
            while let Some(&(id, last_seq, end)) = flushes.front() {
                let reported = last_seq.is_none_or(|s| next_seq > s);
                let complete = batches.get(&id).is_some_and(|(n, _)| *n == threads);
                if !(reported && complete) {
                    break;
                }
                flushes.pop_front();
                let Some((_, mut batch)) = batches.remove(&id) else { break };
                if let Some(cid) = &ckpt_id {
                    batch.set_checkpoint(cid, Stored::new(end, &head).encode());
                }
                if !batch.is_empty() {
                    let t = Instant::now();
                    let stats = store.write(&batch)?;
                    tracing::debug!(records = stats.records, took = ?t.elapsed(), at = ?started.elapsed(), "batch written");
                    summary.records += stats.records;
                    summary.batches += 1;
                }
            }
        }
        if !flushes.is_empty() || !reports.is_empty() {
            return Err(ImportError::Internal("a parser thread stopped early".into()));
        }
        reader_handle.join().map_err(|_| ImportError::Internal("reader thread panicked".into()))
    })?;
    read_result.map_err(io)?;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// Reads the next chunk ending at a newline (or at end of input); `None` at end.
fn read_chunk(reader: &mut dyn Read, carry: &mut Vec<u8>) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = std::mem::take(carry);
    let start = buf.len();
    buf.resize(start.max(CHUNK_BYTES), 0);
    let mut filled = start;
    loop {
        if filled == buf.len() {
            // no newline in a whole chunk: grow (a very long line)
            if memchr::memchr(b'\n', &buf[..filled]).is_some() {
                break;
            }
            buf.resize(buf.len() * 2, 0);
        }
        let n = match reader.read(&mut buf[filled..]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    if buf.is_empty() {
        return Ok(None);
    }
    match memchr::memrchr(b'\n', &buf) {
        Some(p) if p + 1 < buf.len() => {
            *carry = buf[p + 1..].to_vec();
            buf.truncate(p + 1);
        }
        _ => {}
    }
    Ok(Some(buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_split_at_newlines() {
        let data = b"a\nbb\nccc".to_vec();
        let mut r: &[u8] = &data;
        let mut carry = Vec::new();
        let c = read_chunk(&mut r, &mut carry).unwrap().unwrap();
        assert_eq!(c, b"a\nbb\n");
        // the unterminated last line comes on its own at the end
        assert_eq!(read_chunk(&mut r, &mut carry).unwrap().unwrap(), b"ccc");
        assert!(read_chunk(&mut r, &mut carry).unwrap().is_none());
    }

    #[test]
    fn parse_chunk_counts_lines_and_errors() {
        let mut p = Format::PassiveDns.parser(&SourceOptions::default());
        let text =
            b"1||a||b||IN||x.example.||A||192.0.2.1||60||1\nbroken\n\n1||a||b||IN||x.example.||A||192.0.2.1||60||2\n";
        let r = parse_chunk(p.as_mut(), text, 10, "f.log");
        assert_eq!(r.lines, 4);
        assert_eq!(r.observations, 2);
        assert_eq!(r.batch.len(), 1);
        assert_eq!(r.errors.len(), 1);
        assert_eq!(r.errors[0].line, 11);
        assert_eq!(
            r.errors[0].to_string(),
            "f.log:11: wrong field count: found 1 fields, expected 9 (passivedns -f SMcsCQTAtn)"
        );
        assert_eq!(r.skipped.get("empty line"), Some(&1));
        let r = parse_chunk(p.as_mut(), b"x", 1, "f");
        assert_eq!(r.lines, 1);
    }

    #[test]
    fn checkpoint_encoding() {
        let c = Stored::new(Checkpoint { offset: 3, lines: 1 }, b"ab\ncd\n");
        assert_eq!(c.head_len, 3);
        assert_eq!(Stored::decode(&c.encode()), Some(c));
        assert!(c.matches(b"ab\ncd\nef\n", 9));
        assert!(!c.matches(b"xb\ncd\n", 9));
        assert!(!c.matches(b"ab\n", 2));
        assert_eq!(Stored::decode(b"v2 1 2 0 0"), None);
        assert_eq!(Stored::decode(b"v1 x 2 0 0"), None);
    }
}
