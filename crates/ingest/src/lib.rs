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
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub mod stream;

use dnsledger_sources::{Format, LineOutcome, LineParser, ParseError, SourceOptions};
use dnsledger_store::{Batch, Store, StoreError};

/// Bytes read per chunk handed to a parser thread.
const CHUNK_BYTES: usize = 4 << 20;
/// Bytes of the file start that identify a file for resumable imports.
const FINGERPRINT_BYTES: usize = 4096;
/// A record (line or frame) longer than this means the input is not what it claims to be.
const MAX_RECORD_BYTES: usize = 64 << 20;
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
    /// Leave an unterminated last line unread (tailing a log that is being written: the next
    /// run reads it once it is complete).
    pub hold_partial: bool,
    /// Streams (stdin): write what is pending at least this often, and when the input is idle.
    pub flush_every: Duration,
    /// When set, stop reading after the current chunk (or idle moment) and store what was read;
    /// a later import resumes from there.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl Default for ImportOptions {
    fn default() -> Self {
        ImportOptions {
            format: None,
            source: SourceOptions::default(),
            force: false,
            max_batch_bytes: 256 << 20,
            threads: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(1, 8),
            hold_partial: false,
            flush_every: Duration::from_secs(5),
            stop: None,
        }
    }
}

/// A rejected line (or frame), located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    /// File name or `<stdin>`.
    pub origin: String,
    /// 1-based line (or frame) number.
    pub line: u64,
    /// `line` or `frame`.
    pub unit: &'static str,
    /// What was wrong.
    pub error: ParseError,
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unit {
            "line" => write!(f, "{}:{}: {}", self.origin, self.line, self.error),
            unit => write!(f, "{}: {unit} {}: {}", self.origin, self.line, self.error),
        }
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
    /// True if the import stopped early on request (`ImportOptions::stop`); what was read is stored.
    pub interrupted: bool,
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
    /// The input is damaged from `offset` on (e.g. a truncated or corrupt Frame Streams file);
    /// everything before it was imported, as `summary` says.
    #[error("{origin}: damaged at byte {offset}: {reason} (everything before it was imported)")]
    Damaged {
        /// File name.
        origin: String,
        /// Offset in the (decompressed) content where the damage starts.
        offset: u64,
        /// What is wrong.
        reason: String,
        /// What was imported before the damage.
        summary: Box<Summary>,
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
    let mut r = parse_chunk_into(parser, Framing::Lines, bytes, first_line, origin, &mut batch);
    r.batch = batch;
    r
}

/// Parses a whole input held in memory (e.g. an HTTP request body) in `format`'s framing:
/// lines, or the data frames of a Frame Streams file. A framed input that is damaged part way
/// yields what came before the damage and one rejection that says where.
pub fn parse_input(format: Format, parser: &mut dyn LineParser, bytes: &[u8], origin: &str) -> ChunkResult {
    let mut batch = Batch::new();
    parser.prime(&bytes[..bytes.len().min(CHUNK_BYTES)]);
    let mut r = parse_chunk_into(parser, Framing::of(format), bytes, 1, origin, &mut batch);
    r.batch = batch;
    r
}

/// How an input is cut into records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Newline-separated lines.
    Lines,
    /// Frame Streams: length-prefixed frames; each data frame is one record.
    Frames,
}

impl Framing {
    /// The framing of `format`.
    pub fn of(format: Format) -> Framing {
        if format.framed() {
            Framing::Frames
        } else {
            Framing::Lines
        }
    }

    /// What one record is called in messages.
    pub fn unit(self) -> &'static str {
        match self {
            Framing::Lines => "line",
            Framing::Frames => "frame",
        }
    }
}

/// Like [`parse_chunk`], folding the observations into `batch` (the result's batch is empty).
/// `bytes` holds whole records of the given framing; records are numbered from `first_line`.
/// The parser's [`LineParser::finish`] runs after the last record.
pub fn parse_chunk_into(
    parser: &mut dyn LineParser,
    framing: Framing,
    bytes: &[u8],
    first_line: u64,
    origin: &str,
    batch: &mut Batch,
) -> ChunkResult {
    parse_records(parser, framing, bytes, first_line, origin, batch, true)
}

/// An empty chunk result.
fn empty_result() -> ChunkResult {
    ChunkResult {
        seq: 0,
        end_offset: 0,
        lines: 0,
        observations: 0,
        batch: Batch::new(),
        errors: Vec::new(),
        rejected: BTreeMap::new(),
        skipped: BTreeMap::new(),
    }
}

/// Runs the parser's [`LineParser::finish`] into `batch`, accounted as coming after record `after`.
fn finish_parser(
    parser: &mut dyn LineParser,
    framing: Framing,
    after: u64,
    origin: &str,
    batch: &mut Batch,
) -> ChunkResult {
    let mut r = empty_result();
    let mut emitted = 0u64;
    let outcome = parser.finish(&mut |obs| {
        emitted += 1;
        batch.add(obs)
    });
    r.observations = emitted;
    match outcome {
        Ok(LineOutcome::Observations(_)) => {}
        Ok(LineOutcome::Skipped(why)) => *r.skipped.entry(why).or_default() += 1,
        Err(e) => {
            *r.rejected.entry(e.reason).or_default() += 1;
            r.errors.push(LineError { origin: origin.to_string(), line: after, unit: framing.unit(), error: e });
        }
    }
    r
}

/// Parses whole records; `finish` runs the parser's [`LineParser::finish`] at the end (a
/// sequential format's parser keeps what it holds across chunks and finishes at end of input).
fn parse_records(
    parser: &mut dyn LineParser,
    framing: Framing,
    bytes: &[u8],
    first_line: u64,
    origin: &str,
    batch: &mut Batch,
    finish: bool,
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
    // observations are counted as emitted (a line holding several records may emit some and
    // then be rejected for a later one: what it emitted is stored, so it is counted)
    let account = |r: &mut ChunkResult, line: u64, outcome: Result<LineOutcome, ParseError>| match outcome {
        Ok(LineOutcome::Observations(_)) => {}
        Ok(LineOutcome::Skipped(why)) => *r.skipped.entry(why).or_default() += 1,
        Err(e) => {
            *r.rejected.entry(e.reason).or_default() += 1;
            if r.errors.len() < MAX_ERRORS_PER_CHUNK {
                r.errors.push(LineError { origin: origin.to_string(), line, unit: framing.unit(), error: e });
            }
        }
    };
    match framing {
        Framing::Lines => {
            // the pieces of `bytes.split(|&b| b == b'\n')`, found with memchr (a byte-at-a-time
            // split was ~8% of the parse time of long JSON lines)
            let mut rest = Some(bytes);
            while let Some(piece) = rest {
                let line = match memchr::memchr(b'\n', piece) {
                    Some(i) => {
                        rest = Some(&piece[i + 1..]);
                        &piece[..i]
                    }
                    None => {
                        rest = None;
                        piece
                    }
                };
                r.lines += 1;
                let mut emitted = 0u64;
                let outcome = parser.parse_line(line, &mut |obs| {
                    emitted += 1;
                    batch.add(obs)
                });
                let at = first_line + r.lines - 1;
                r.observations += emitted;
                account(&mut r, at, outcome);
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
        }
        Framing::Frames => {
            let mut rest = bytes;
            loop {
                match dnsledger_dnstap::next_frame(rest) {
                    Ok(Some((frame, used))) => {
                        rest = &rest[used..];
                        if let dnsledger_dnstap::Frame::Data(payload) = frame {
                            r.lines += 1;
                            let mut emitted = 0u64;
                            let outcome = parser.parse_line(payload, &mut |obs| {
                                emitted += 1;
                                batch.add(obs)
                            });
                            r.observations += emitted;
                            let at = first_line + r.lines - 1;
                            account(&mut r, at, outcome);
                        }
                    }
                    Ok(None) if rest.is_empty() => break,
                    Ok(None) => {
                        let at = bytes.len() - rest.len();
                        let e = ParseError::new(
                            "truncated frame",
                            format!("{} bytes at byte {at} of the input end inside a frame", rest.len()),
                        );
                        let at = first_line + r.lines;
                        account(&mut r, at, Err(e));
                        break;
                    }
                    Err(e) => {
                        let byte = bytes.len() - rest.len();
                        let at = first_line + r.lines;
                        account(&mut r, at, Err(ParseError::new("bad frame", format!("at byte {byte}: {e}"))));
                        break;
                    }
                }
            }
        }
    }
    if finish {
        let mut emitted = 0u64;
        let outcome = parser.finish(&mut |obs| {
            emitted += 1;
            batch.add(obs)
        });
        r.observations += emitted;
        if !matches!(outcome, Ok(LineOutcome::Observations(_))) {
            let at = first_line + r.lines.saturating_sub(1);
            account(&mut r, at, outcome);
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
///
/// `offset` counts bytes of the (decompressed) content. `complete` is set when the input
/// ended there (for compressed files, whose size says nothing about the content's).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stored {
    at: Checkpoint,
    head_len: usize,
    head_hash: u64,
    complete: bool,
    compressed: bool,
}

impl Stored {
    /// The checkpoint of a file whose first bytes are `head` (at most `FINGERPRINT_BYTES`).
    fn new(at: Checkpoint, head: &[u8], compressed: bool, complete: bool) -> Stored {
        // a compressed file's head is identified by its compressed bytes, always all of them
        let head_len = if compressed { head.len() } else { head.len().min(at.offset as usize) };
        Stored { at, head_len, head_hash: xxhash_rust::xxh3::xxh3_64(&head[..head_len]), complete, compressed }
    }
    fn encode(&self) -> Vec<u8> {
        let flags = u8::from(self.complete) | (u8::from(self.compressed) << 1);
        format!("v2 {} {} {} {:016x} {flags}", self.at.offset, self.at.lines, self.head_len, self.head_hash)
            .into_bytes()
    }
    fn decode(b: &[u8]) -> Option<Stored> {
        let s = std::str::from_utf8(b).ok()?;
        let mut it = s.split(' ');
        let version = it.next()?;
        if version != "v1" && version != "v2" {
            return None;
        }
        let at = Checkpoint { offset: it.next()?.parse().ok()?, lines: it.next()?.parse().ok()? };
        let head_len = it.next()?.parse().ok()?;
        let head_hash = u64::from_str_radix(it.next()?, 16).ok()?;
        let flags: u8 = if version == "v2" { it.next()?.parse().ok()? } else { 0 };
        Some(Stored { at, head_len, head_hash, complete: flags & 1 != 0, compressed: flags & 2 != 0 })
    }
    /// True if this checkpoint was taken on a file starting with `head` and of at least `len` bytes.
    fn matches(&self, head: &[u8], len: u64, compressed: bool) -> bool {
        self.compressed == compressed
            && (compressed || self.at.offset <= len)
            && head.len() >= self.head_len
            && xxhash_rust::xxh3::xxh3_64(&head[..self.head_len]) == self.head_hash
    }
    /// True if nothing is left to import from a file of `len` bytes.
    fn done(&self, len: u64) -> bool {
        if self.compressed {
            self.complete
        } else {
            self.at.offset == len
        }
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

/// True if `head` starts like a gzip member.
fn is_gzip(head: &[u8]) -> bool {
    head.starts_with(&[0x1f, 0x8b])
}

/// Work for a parser thread.
enum Job {
    /// Parse a chunk: (sequence number, first line number, offset after it, bytes).
    Chunk(u64, u64, u64, Vec<u8>),
    /// Hand the batch built so far to the writer, tagged with a flush id; at the end of the
    /// input (true), a sequential format's parser first emits what it still holds.
    Flush(u64, bool),
}

/// A flush point: batches of flush `id` cover chunks up to `last_seq` and end at `end`;
/// `last` is set for the final flush (the input ended).
#[derive(Debug, Clone, Copy)]
struct FlushPoint {
    id: u64,
    last_seq: Option<u64>,
    end: Checkpoint,
    last: bool,
}

/// What the writer receives.
enum Msg {
    /// A parsed chunk's report (its observations went into the worker's batch).
    Report(ChunkResult),
    /// A worker's batch for a flush, with what the parser's final `finish` reported.
    Batch(u64, Batch, Option<ChunkResult>),
    /// From the reader: a flush point.
    Flush(FlushPoint),
}

/// Imports one input into `store`.
///
/// A reader thread cuts the input into chunks at record boundaries (lines, or frames for
/// Frame Streams) and deals them round-robin to parser threads; each parser folds its chunks
/// into its own batch. When the batches grow past `max_batch_bytes`, when a stream has been
/// idle for `flush_every`, and at the end, the reader asks every parser for its batch; the
/// calling thread merges them and writes them with the checkpoint of the last chunk they
/// cover, while the parsers go on with the next chunks. gzip input is decompressed.
pub fn import(
    store: &dyn Store,
    input: &Input,
    opts: &ImportOptions,
    rep: &mut dyn Reporter,
) -> Result<Summary, ImportError> {
    match input {
        Input::Stdin => {
            let mut stdin = std::io::BufReader::with_capacity(1 << 16, std::io::stdin());
            let peek = std::io::BufRead::fill_buf(&mut stdin)
                .map_err(|error| ImportError::Io { origin: input.origin(), error })?;
            let src: Box<dyn Read + Send> =
                if is_gzip(peek) { Box::new(flate2::bufread::MultiGzDecoder::new(stdin)) } else { Box::new(stdin) };
            let fill = StreamFill::spawn(src);
            run(store, input.origin(), Box::new(fill), None, opts, rep)
        }
        Input::File(p) => {
            let f = File::open(p).map_err(|error| ImportError::Io { origin: input.origin(), error })?;
            import_file(store, p, f, opts, rep)
        }
    }
}

/// Imports the file `file`, opened earlier from `path` (which names it in checkpoints and messages).
///
/// Tailing a log (`--follow`) calls this each time the file grew, with the handle it opened
/// first, so the end of a file that was renamed away by log rotation is still read.
pub fn import_file(
    store: &dyn Store,
    path: &Path,
    mut file: File,
    opts: &ImportOptions,
    rep: &mut dyn Reporter,
) -> Result<Summary, ImportError> {
    let origin = path.display().to_string();
    let io = |error| ImportError::Io { origin: origin.clone(), error };
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let head = read_head(&mut file).map_err(io)?;
    let compressed = is_gzip(&head);
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let file_ctx = FileCtx { ckpt_id: format!("file:{}", canonical.display()), head, len, compressed };
    let src: Box<dyn Read + Send> = if compressed {
        Box::new(flate2::read::MultiGzDecoder::new(std::io::BufReader::with_capacity(1 << 16, file)))
    } else {
        Box::new(file)
    };
    run(store, origin, Box::new(ReadFill(src)), Some(file_ctx), opts, rep)
}

/// What identifies a file for checkpoints.
struct FileCtx {
    ckpt_id: String,
    head: Vec<u8>,
    len: u64,
    compressed: bool,
}

fn run(
    store: &dyn Store,
    origin: String,
    mut fill: Box<dyn Fill>,
    file: Option<FileCtx>,
    opts: &ImportOptions,
    rep: &mut dyn Reporter,
) -> Result<Summary, ImportError> {
    let io = |error| ImportError::Io { origin: origin.clone(), error };
    let started = Instant::now();
    let mut summary = Summary { origin: origin.clone(), ..Summary::default() };
    let mut start = Checkpoint { offset: 0, lines: 0 };
    if let (Some(f), false) = (&file, opts.force) {
        if let Some(c) = store.checkpoint(&f.ckpt_id)?.as_deref().and_then(Stored::decode) {
            if c.matches(&f.head, f.len, f.compressed) {
                if c.done(f.len) {
                    summary.already_imported = true;
                    summary.elapsed = started.elapsed();
                    return Ok(summary);
                }
                start = c.at;
            } else {
                tracing::info!(%origin, "file differs from the one imported before under this name: importing it from the start");
            }
        }
    }

    // Read the first chunk now, to sniff the format when none was given.
    let mut chunker = Chunker::new(opts, start.offset);
    if start.offset > 0 {
        chunker.skip(fill.as_mut(), start.offset).map_err(io)?;
    }
    // a quiet stream has nothing to tell the format from yet: wait for its first bytes
    let mut first = chunker.next(fill.as_mut(), opts.format.map(Framing::of));
    while matches!(first, Ok(Next::Idle)) {
        if opts.stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed)) {
            first = Ok(Next::End);
            break;
        }
        first = chunker.next(fill.as_mut(), opts.format.map(Framing::of));
    }
    let (format, first) = match first {
        Err(ChunkError::Io(e)) => return Err(io(e)),
        Err(ChunkError::Damaged { offset, reason }) => {
            return Err(ImportError::Damaged { origin, offset, reason, summary: Box::new(summary) })
        }
        Ok(next) => {
            let sample = match &next {
                Next::Chunk(c, _) => Some(&c[..]),
                _ => None,
            };
            let format = match opts.format {
                Some(f) => f,
                None => match sample.and_then(Format::sniff) {
                    Some(f) => f,
                    None if sample.is_none() => Format::Ndjson,
                    None => return Err(ImportError::UnknownFormat(origin)),
                },
            };
            (format, next)
        }
    };
    let framing = Framing::of(format);
    chunker.framing = framing;
    if framing == Framing::Frames && opts.format.is_none() {
        // the first chunk was cut as lines before the format was known: cut it again
        chunker.rewind(first);
    } else {
        chunker.push_back(first);
    }
    if start.offset > 0 && !format.resumable() {
        // a partial checkpoint of a stateful format is not usable: start over
        start = Checkpoint { offset: 0, lines: 0 };
    }
    if start.offset > 0 {
        summary.resumed_from = Some((start.offset, start.lines));
    }
    summary.format = Some(format);
    let threads = if format.sequential() { 1 } else { opts.threads.max(1) };
    let pending = std::sync::atomic::AtomicUsize::new(0);
    let max_batch = opts.max_batch_bytes;
    let head_for_prime = chunker.peek().map(<[u8]>::to_vec).unwrap_or_default();
    let (ckpt_id, head, compressed) = match &file {
        Some(f) => (Some(f.ckpt_id.clone()), f.head.clone(), f.compressed),
        None => (None, Vec::new(), false),
    };
    let resumable = format.resumable();
    let (spare_tx, spare_rx) = mpsc::channel::<Vec<u8>>();
    chunker.recycle_from(spare_rx);

    let read_result = std::thread::scope(|scope| -> Result<Result<bool, ChunkError>, ImportError> {
        let (msg_tx, msg_rx) = mpsc::sync_channel::<Msg>(threads * 4);
        let mut job_txs = Vec::new();
        for _ in 0..threads {
            let (job_tx, job_rx) = mpsc::sync_channel::<Job>(2);
            job_txs.push(job_tx);
            let msg_tx = msg_tx.clone();
            let spare_tx = spare_tx.clone();
            let origin = origin.clone();
            let pending = &pending;
            let mut parser = format.parser(&opts.source);
            parser.prime(&head_for_prime);
            let finish_each = !format.sequential();
            scope.spawn(move || {
                let mut batch = Batch::new();
                let mut last_line = 0u64;
                for job in job_rx {
                    match job {
                        Job::Chunk(seq, first_line, end_offset, bytes) => {
                            let before = batch.approx_bytes();
                            let mut r = parse_records(
                                parser.as_mut(),
                                framing,
                                &bytes,
                                first_line,
                                &origin,
                                &mut batch,
                                finish_each,
                            );
                            last_line = first_line + r.lines.saturating_sub(1);
                            pending.fetch_add(
                                batch.approx_bytes().saturating_sub(before),
                                std::sync::atomic::Ordering::Relaxed,
                            );
                            r.seq = seq;
                            r.end_offset = end_offset;
                            // the buffer goes back to the reader (dropped if it has stopped)
                            let _ = spare_tx.send(bytes);
                            if msg_tx.send(Msg::Report(r)).is_err() {
                                return;
                            }
                        }
                        Job::Flush(id, end) => {
                            let tail = (end && !finish_each)
                                .then(|| finish_parser(parser.as_mut(), framing, last_line, &origin, &mut batch));
                            // sorting here uses every parser thread; the writer only merges
                            batch.sort();
                            if msg_tx.send(Msg::Batch(id, std::mem::take(&mut batch), tail)).is_err() {
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
        let flush_every = opts.flush_every;
        let stop = opts.stop.clone();
        let reader_handle = scope.spawn(move || -> Result<bool, ChunkError> {
            let mut seq = 0u64;
            let mut last_seq = None;
            let mut flushed_seq = None;
            let mut pos = start;
            let mut flush_id = 0u64;
            let mut last_flush = Instant::now();
            let mut interrupted = false;
            let stopped = || stop.as_ref().is_some_and(|s| s.load(std::sync::atomic::Ordering::Relaxed));
            let flush_at = |p: FlushPoint, end: bool| {
                for tx in &job_txs {
                    let _ = tx.send(Job::Flush(p.id, end));
                }
                let _ = reader_tx.send(Msg::Flush(p));
            };
            let flush = |p: FlushPoint| flush_at(p, false);
            loop {
                let (chunk, records) = match chunker.next(fill.as_mut(), None) {
                    Ok(Next::Chunk(c, n)) => (c, n),
                    Ok(Next::End) => break,
                    Ok(Next::Idle) => {
                        if stopped() {
                            interrupted = true;
                            break;
                        }
                        if last_seq != flushed_seq && last_flush.elapsed() >= flush_every {
                            pending.store(0, std::sync::atomic::Ordering::Relaxed);
                            flush(FlushPoint { id: flush_id, last_seq, end: pos, last: false });
                            flush_id += 1;
                            flushed_seq = last_seq;
                            last_flush = Instant::now();
                        }
                        continue;
                    }
                    Err(e) => {
                        flush(FlushPoint { id: flush_id, last_seq, end: pos, last: false });
                        return Err(e);
                    }
                };
                let first_line = pos.lines + 1;
                pos.offset += chunk.len() as u64;
                pos.lines += records;
                let worker = (seq % job_txs.len() as u64) as usize;
                if job_txs[worker].send(Job::Chunk(seq, first_line, pos.offset, chunk)).is_err() {
                    return Ok(false);
                }
                last_seq = Some(seq);
                seq += 1;
                if stopped() {
                    interrupted = true;
                    break;
                }
                let big = pending.load(std::sync::atomic::Ordering::Relaxed) >= max_batch;
                if big || (chunker.streaming() && last_flush.elapsed() >= flush_every) {
                    pending.store(0, std::sync::atomic::Ordering::Relaxed);
                    flush(FlushPoint { id: flush_id, last_seq, end: pos, last: false });
                    flush_id += 1;
                    flushed_seq = last_seq;
                    last_flush = Instant::now();
                }
            }
            let end = FlushPoint { id: flush_id, last_seq, end: pos, last: !chunker.held_partial() && !interrupted };
            flush_at(end, !interrupted);
            Ok(interrupted)
        });

        // Writer (this thread): reports in order, batches merged and written per flush.
        let mut reports: BTreeMap<u64, ChunkResult> = BTreeMap::new();
        let mut next_seq = 0u64;
        let mut flushes: std::collections::VecDeque<FlushPoint> = Default::default();
        let mut batches: BTreeMap<u64, (usize, Batch)> = BTreeMap::new();
        let mut progress =
            Progress { total_bytes: file.as_ref().filter(|f| !f.compressed).map(|f| f.len), ..Progress::default() };
        for msg in msg_rx.iter() {
            match msg {
                Msg::Report(r) => {
                    reports.insert(r.seq, r);
                }
                Msg::Batch(id, b, tail) => {
                    if let Some(t) = tail {
                        for e in &t.errors {
                            rep.error(e);
                        }
                        for (k, v) in t.rejected {
                            *summary.rejected.entry(k).or_default() += v;
                        }
                        for (k, v) in t.skipped {
                            *summary.skipped.entry(k).or_default() += v;
                        }
                        summary.observations += t.observations;
                    }
                    let e = batches.entry(id).or_insert_with(|| (0, Batch::new()));
                    e.0 += 1;
                    let merged = std::mem::take(&mut e.1).merge_sorted(b);
                    e.1 = merged;
                }
                Msg::Flush(p) => flushes.push_back(p),
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
            while let Some(&p) = flushes.front() {
                let reported = p.last_seq.is_none_or(|s| next_seq > s);
                let complete = batches.get(&p.id).is_some_and(|(n, _)| *n == threads);
                if !(reported && complete) {
                    break;
                }
                flushes.pop_front();
                let Some((_, mut batch)) = batches.remove(&p.id) else { break };
                if batch.is_empty() && p.end == start && !(p.last && compressed) {
                    continue; // nothing new (a tailed file that did not grow by a whole line)
                }
                if let Some(cid) = &ckpt_id {
                    // a stateful format cannot resume mid-file: only its end is recorded
                    if resumable || p.last {
                        batch.set_checkpoint(cid, Stored::new(p.end, &head, compressed, p.last).encode());
                    }
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
    summary.elapsed = started.elapsed();
    match read_result {
        Ok(interrupted) => {
            summary.interrupted = interrupted;
            Ok(summary)
        }
        Err(ChunkError::Io(e)) => Err(io(e)),
        Err(ChunkError::Damaged { offset, reason }) => {
            Err(ImportError::Damaged { origin, offset, reason, summary: Box::new(summary) })
        }
    }
}

/// Largest decompressed sensor batch file accepted.
const MAX_BATCH_FILE_BYTES: u64 = 1 << 30;

/// Imports a sensor batch file (`dnsledger_store::wire` format, gzip-compressed or not), such
/// as a batch a sensor spooled while its collector was unreachable (`<time>_<batch id>.dlb.gz`).
///
/// A spooled file's batch id is recorded under the same checkpoint the HTTP collector uses, so
/// a batch is stored once whether it arrives over HTTP, from the spool, or both; other files
/// are recognised by path and content like any import.
pub fn import_batch_file(store: &dyn Store, path: &Path, force: bool) -> Result<Summary, ImportError> {
    let started = Instant::now();
    let origin = path.display().to_string();
    let io = |error| ImportError::Io { origin: origin.clone(), error };
    let mut summary = Summary { origin: origin.clone(), ..Summary::default() };
    let raw = std::fs::read(path).map_err(io)?;
    let mut body = Vec::new();
    if is_gzip(&raw) {
        flate2::read::MultiGzDecoder::new(&raw[..]).take(MAX_BATCH_FILE_BYTES + 1).read_to_end(&mut body).map_err(
            |e| ImportError::Damaged {
                origin: origin.clone(),
                offset: 0,
                reason: format!("gzip: {e}"),
                summary: Box::new(summary.clone()),
            },
        )?;
        if body.len() as u64 > MAX_BATCH_FILE_BYTES {
            return Err(ImportError::Damaged {
                origin,
                offset: 0,
                reason: format!("inflates beyond {} MiB", MAX_BATCH_FILE_BYTES >> 20),
                summary: Box::new(summary),
            });
        }
    } else {
        body = raw;
    }
    let mut batch = dnsledger_store::wire::decode(&body).map_err(|e| ImportError::Damaged {
        origin: origin.clone(),
        offset: 0,
        reason: format!("not a dnsledger batch: {e}"),
        summary: Box::new(summary.clone()),
    })?;
    let ckpt = match spooled_batch_id(path) {
        Some(id) => format!("batch/{id}"),
        None => {
            let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
            format!("batch-file:{}:{:016x}", canonical.display(), xxhash_rust::xxh3::xxh3_64(&body))
        }
    };
    if !force && store.checkpoint(&ckpt)?.is_some() {
        summary.already_imported = true;
        summary.elapsed = started.elapsed();
        return Ok(summary);
    }
    summary.lines = 1;
    summary.bytes = body.len() as u64;
    summary.observations = batch.observations();
    batch.set_checkpoint(&ckpt, vec![1]);
    let stats = store.write(&batch)?;
    summary.records = stats.records;
    summary.batches = 1;
    summary.elapsed = started.elapsed();
    Ok(summary)
}

/// The batch id in a spool file name `<20-digit time>_<id>.dlb.gz`.
fn spooled_batch_id(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let (stamp, rest) = name.split_once('_')?;
    let id = rest.strip_suffix(".dlb.gz").or_else(|| rest.strip_suffix(".dlb"))?;
    let ok = stamp.len() == 20
        && stamp.bytes().all(|b| b.is_ascii_digit())
        && !id.is_empty()
        && id.len() <= 128
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:/-".contains(&b));
    ok.then_some(id)
}

/// True if `head` (a file's first bytes) is a sensor batch file, plain or gzip-compressed.
pub fn is_batch_file(head: &[u8]) -> bool {
    if head.starts_with(dnsledger_store::wire::MAGIC) {
        return true;
    }
    if !is_gzip(head) {
        return false;
    }
    let mut magic = [0u8; 4];
    flate2::read::GzDecoder::new(head).read_exact(&mut magic).is_ok() && &magic == dnsledger_store::wire::MAGIC
}

/// Result of one attempt to read more input.
enum Filled {
    /// This many bytes were appended.
    Data,
    /// Nothing arrived for a while (streams only).
    Idle,
    /// The input ended.
    Eof,
}

/// A source of input bytes.
trait Fill: Send {
    /// Appends up to `max` bytes to `buf`.
    fn fill(&mut self, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Filled>;
    /// True for streams that may be idle (then flushes happen on time as well as size).
    fn streaming(&self) -> bool {
        false
    }
}

/// Blocking reads from a file (or a decompressor).
struct ReadFill(Box<dyn Read + Send>);

impl Fill for ReadFill {
    fn fill(&mut self, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Filled> {
        let start = buf.len();
        // `read_to_end` reads into the buffer's spare capacity without zeroing it first (a
        // `resize` wrote every input byte twice); `take` stops it at `max` bytes or the end
        buf.reserve(max);
        match (&mut self.0).take(max as u64).read_to_end(buf) {
            Ok(0) => Ok(Filled::Eof),
            Ok(_) => Ok(Filled::Data),
            Err(e) => {
                buf.truncate(start);
                Err(e)
            }
        }
    }
}

/// A stream read by its own thread, so a quiet pipe does not hold back what already arrived.
struct StreamFill {
    rx: mpsc::Receiver<std::io::Result<Vec<u8>>>,
    pending: Vec<u8>,
    ended: bool,
}

impl StreamFill {
    /// How long a read waits before reporting the stream idle.
    const IDLE: Duration = Duration::from_millis(200);

    fn spawn(mut src: Box<dyn Read + Send>) -> StreamFill {
        let (tx, rx) = mpsc::sync_channel(4);
        std::thread::spawn(move || loop {
            let mut buf = vec![0u8; 1 << 20];
            match src.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    buf.truncate(n);
                    if tx.send(Ok(buf)).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.send(Err(e));
                    return;
                }
            }
        });
        StreamFill { rx, pending: Vec::new(), ended: false }
    }
}

impl Fill for StreamFill {
    fn fill(&mut self, buf: &mut Vec<u8>, max: usize) -> std::io::Result<Filled> {
        if self.pending.is_empty() && !self.ended {
            match self.rx.recv_timeout(Self::IDLE) {
                Ok(Ok(b)) => self.pending = b,
                Ok(Err(e)) => return Err(e),
                Err(mpsc::RecvTimeoutError::Timeout) => return Ok(Filled::Idle),
                Err(mpsc::RecvTimeoutError::Disconnected) => self.ended = true,
            }
        }
        if self.pending.is_empty() {
            return Ok(Filled::Eof);
        }
        let n = self.pending.len().min(max);
        buf.extend_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        Ok(Filled::Data)
    }
    fn streaming(&self) -> bool {
        true
    }
}

/// Why reading stopped.
#[derive(Debug)]
enum ChunkError {
    /// Reading failed.
    Io(std::io::Error),
    /// The input is damaged at this (content) offset; records before it were delivered.
    Damaged { offset: u64, reason: String },
}

/// What [`Chunker::next`] produced.
enum Next {
    /// Whole records and how many.
    Chunk(Vec<u8>, u64),
    /// A stream is idle; nothing new.
    Idle,
    /// The input ended.
    End,
}

/// Cuts input into chunks of whole records.
struct Chunker {
    framing: Framing,
    /// Bytes read but not handed out yet.
    carry: Vec<u8>,
    /// A chunk to return again (read before the format was known).
    pushed: Option<Next>,
    /// Leave an unterminated last line unread.
    hold_partial: bool,
    held: bool,
    eof: bool,
    streaming: bool,
    /// Content offset of `carry`'s first byte.
    offset: u64,
    /// True until the first frame was checked (Frame Streams START).
    first_frame: bool,
    /// Chunk buffers the parsers are done with, re-used for the next chunks: a fresh 4 MiB
    /// buffer per chunk costs a page fault and a zeroed page per 4 KiB of input.
    recycled: Option<mpsc::Receiver<Vec<u8>>>,
}

impl Chunker {
    fn new(opts: &ImportOptions, offset: u64) -> Chunker {
        Chunker {
            framing: opts.format.map(Framing::of).unwrap_or(Framing::Lines),
            carry: Vec::new(),
            pushed: None,
            hold_partial: opts.hold_partial,
            held: false,
            eof: false,
            streaming: false,
            offset,
            first_frame: offset == 0,
            recycled: None,
        }
    }

    /// Takes chunk buffers back from `rx` (parsers send each chunk's buffer once it is parsed).
    fn recycle_from(&mut self, rx: mpsc::Receiver<Vec<u8>>) {
        self.recycled = Some(rx);
    }

    /// An empty buffer, re-used when one came back (not one grown for an over-long record).
    fn spare(&mut self) -> Vec<u8> {
        match self.recycled.as_ref().and_then(|rx| rx.try_recv().ok()) {
            Some(mut b) if b.capacity() <= 2 * CHUNK_BYTES => {
                b.clear();
                b
            }
            _ => Vec::new(),
        }
    }

    fn streaming(&self) -> bool {
        self.streaming
    }

    /// True if the input ended with an unterminated line that was left for later.
    fn held_partial(&self) -> bool {
        self.held
    }

    /// Discards the first `n` bytes of content (resuming a compressed file).
    fn skip(&mut self, fill: &mut dyn Fill, n: u64) -> std::io::Result<()> {
        let mut left = n;
        let mut buf = Vec::new();
        while left > 0 {
            buf.clear();
            match fill.fill(&mut buf, left.min(CHUNK_BYTES as u64) as usize)? {
                Filled::Data => left -= buf.len() as u64,
                Filled::Idle => {}
                Filled::Eof => {
                    return Err(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        format!("input ended {left} bytes before the checkpoint it is resumed from"),
                    ))
                }
            }
        }
        Ok(())
    }

    fn push_back(&mut self, n: Next) {
        self.pushed = Some(n);
    }

    /// Puts a chunk cut with the wrong framing back in front of the unread bytes.
    fn rewind(&mut self, n: Next) {
        if let Next::Chunk(mut c, _) = n {
            self.offset -= c.len() as u64;
            c.extend_from_slice(&self.carry);
            self.carry = c;
        }
    }

    /// The chunk waiting to be handed out, if any.
    fn peek(&self) -> Option<&[u8]> {
        match &self.pushed {
            Some(Next::Chunk(c, _)) => Some(c),
            _ if !self.carry.is_empty() => Some(&self.carry),
            _ => None,
        }
    }

    /// The next chunk; `framing` overrides the chunker's own (while sniffing).
    fn next(&mut self, fill: &mut dyn Fill, framing: Option<Framing>) -> Result<Next, ChunkError> {
        if let Some(n) = self.pushed.take() {
            return Ok(n);
        }
        self.streaming = fill.streaming();
        let framing = framing.unwrap_or(self.framing);
        let mut buf = std::mem::take(&mut self.carry);
        loop {
            // enough for a chunk?
            if buf.len() >= CHUNK_BYTES {
                if let Some((cut, n)) = self.cut(&buf, framing, false)? {
                    return Ok(self.emit(buf, cut, n));
                }
            }
            if self.eof {
                return self.at_end(buf, framing);
            }
            if buf.len() >= MAX_RECORD_BYTES {
                return Err(ChunkError::Damaged {
                    offset: self.offset,
                    reason: format!("no record boundary in {} MiB: not a line or frame format", MAX_RECORD_BYTES >> 20),
                });
            }
            // below a chunk, read up to one; past it (a long record), double the buffer each time
            let want = if buf.len() >= CHUNK_BYTES { buf.len() } else { CHUNK_BYTES - buf.len() };
            match fill.fill(&mut buf, want) {
                Ok(Filled::Data) => {}
                Ok(Filled::Eof) => self.eof = true,
                Ok(Filled::Idle) => {
                    if let Some((cut, n)) = self.cut(&buf, framing, false)? {
                        return Ok(self.emit(buf, cut, n));
                    }
                    self.carry = buf;
                    return Ok(Next::Idle);
                }
                Err(e) => {
                    self.carry = buf;
                    return Err(ChunkError::Io(e));
                }
            }
        }
    }

    fn at_end(&mut self, buf: Vec<u8>, framing: Framing) -> Result<Next, ChunkError> {
        if buf.is_empty() {
            return Ok(Next::End);
        }
        match self.cut(&buf, framing, true)? {
            Some((cut, n)) => Ok(self.emit(buf, cut, n)),
            None => {
                if framing == Framing::Frames {
                    return Err(ChunkError::Damaged {
                        offset: self.offset,
                        reason: format!("the input ends inside a frame ({} bytes of it)", buf.len()),
                    });
                }
                // an unterminated last line held for later (`hold_partial`)
                self.held = true;
                Ok(Next::End)
            }
        }
    }

    /// Hands out `buf[..cut]` (holding `n` records) and keeps the rest.
    fn emit(&mut self, mut buf: Vec<u8>, cut: usize, n: u64) -> Next {
        let mut carry = self.spare();
        carry.extend_from_slice(&buf[cut..]);
        buf.truncate(cut);
        self.carry = carry;
        self.offset += cut as u64;
        Next::Chunk(buf, n)
    }

    /// Where the last whole record in `buf` ends, and how many records come before it.
    fn cut(&mut self, buf: &[u8], framing: Framing, at_end: bool) -> Result<Option<(usize, u64)>, ChunkError> {
        match framing {
            Framing::Lines => {
                let end = match memchr::memrchr(b'\n', buf) {
                    Some(p) => p + 1,
                    None if at_end && !self.hold_partial => buf.len(),
                    None => return Ok(None),
                };
                let end = if at_end && !self.hold_partial { buf.len() } else { end };
                let n = memchr::memchr_iter(b'\n', &buf[..end]).count() as u64
                    + u64::from(buf[..end].last() != Some(&b'\n'));
                Ok(Some((end, n)))
            }
            Framing::Frames => {
                let mut pos = 0;
                let mut n = 0;
                while let Some((frame, used)) = dnsledger_dnstap::next_frame(&buf[pos..])
                    .map_err(|e| ChunkError::Damaged { offset: self.offset + pos as u64, reason: e.to_string() })?
                {
                    match frame {
                        dnsledger_dnstap::Frame::Data(_) => n += 1,
                        dnsledger_dnstap::Frame::Control(c) => {
                            if self.first_frame && !c.matches(dnsledger_dnstap::DNSTAP_CONTENT_TYPE) {
                                let types: Vec<String> =
                                    c.content_types().map(|t| String::from_utf8_lossy(t).into_owned()).collect();
                                return Err(ChunkError::Damaged {
                                    offset: self.offset + pos as u64,
                                    reason: format!(
                                        "Frame Streams content type {types:?}, not {:?}",
                                        String::from_utf8_lossy(dnsledger_dnstap::DNSTAP_CONTENT_TYPE)
                                    ),
                                });
                            }
                        }
                    }
                    self.first_frame = false;
                    pos += used;
                }
                Ok((pos > 0).then_some((pos, n)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(data: &[u8], hold_partial: bool) -> Vec<(Vec<u8>, u64)> {
        let opts = ImportOptions { format: Some(Format::Ndjson), hold_partial, ..ImportOptions::default() };
        let mut c = Chunker::new(&opts, 0);
        let mut fill = ReadFill(Box::new(std::io::Cursor::new(data.to_vec())));
        let mut out = Vec::new();
        loop {
            match c.next(&mut fill, None) {
                Ok(Next::Chunk(b, n)) => out.push((b, n)),
                Ok(Next::End) => return out,
                Ok(Next::Idle) => panic!("files are never idle"),
                Err(e) => panic!("{e:?}"),
            }
        }
    }

    #[test]
    fn chunks_split_at_newlines() {
        assert_eq!(lines(b"a\nbb\nccc", false), vec![(b"a\nbb\nccc".to_vec(), 3)]);
        assert_eq!(lines(b"a\nbb\n", false), vec![(b"a\nbb\n".to_vec(), 2)]);
        // tailing: an unterminated last line is left for the next run
        assert_eq!(lines(b"a\nbb\nccc", true), vec![(b"a\nbb\n".to_vec(), 2)]);
        assert_eq!(lines(b"ccc", true), vec![]);
        // a big input is cut at line boundaries into chunks of about CHUNK_BYTES
        let big: Vec<u8> = b"0123456789abcde\n".iter().copied().cycle().take(CHUNK_BYTES * 2 + 5).collect();
        let chunks = lines(&big, false);
        assert!(chunks.len() >= 2);
        assert!(chunks[..chunks.len() - 1].iter().all(|(c, _)| c.ends_with(b"\n")));
        assert_eq!(chunks.iter().map(|(c, _)| c.len()).sum::<usize>(), big.len());
        assert_eq!(chunks.iter().map(|(_, n)| n).sum::<u64>(), (big.len() as u64).div_ceil(16));
    }

    #[test]
    fn recycled_buffers_cut_the_same_chunks() {
        // lines of varying length over several chunks; each chunk's buffer goes back to the
        // chunker, which must not let what a buffer held before leak into the next chunks
        let big: Vec<u8> =
            (0..600_000u32).flat_map(|i| format!("{i} {}\n", "x".repeat((i % 37) as usize)).into_bytes()).collect();
        let plain = lines(&big, false);
        assert!(plain.len() >= 3);
        let opts = ImportOptions { format: Some(Format::Ndjson), ..ImportOptions::default() };
        let mut c = Chunker::new(&opts, 0);
        let (tx, rx) = mpsc::channel();
        c.recycle_from(rx);
        let mut fill = ReadFill(Box::new(std::io::Cursor::new(big.clone())));
        let mut got = Vec::new();
        loop {
            match c.next(&mut fill, None) {
                Ok(Next::Chunk(b, n)) => {
                    got.push((b.clone(), n));
                    tx.send(b).unwrap();
                }
                Ok(Next::End) => break,
                Ok(Next::Idle) => panic!("files are never idle"),
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(got, plain);
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
        let c = Stored::new(Checkpoint { offset: 3, lines: 1 }, b"ab\ncd\n", false, false);
        assert_eq!(c.head_len, 3);
        assert_eq!(Stored::decode(&c.encode()), Some(c));
        assert!(c.matches(b"ab\ncd\nef\n", 9, false));
        assert!(!c.matches(b"xb\ncd\n", 9, false));
        assert!(!c.matches(b"ab\n", 2, false));
        assert!(!c.matches(b"ab\ncd\nef\n", 9, true));
        assert!(!c.done(9) && Stored::new(Checkpoint { offset: 9, lines: 3 }, b"ab\n", false, true).done(9));
        // a v1 checkpoint (written before compressed input was supported) still reads
        let v1 = Stored::decode(b"v1 3 1 3 00000000000000ff").unwrap();
        assert_eq!((v1.at.offset, v1.complete, v1.compressed), (3, false, false));
        // compressed: the content offset may exceed the file size; done only when complete
        let gz = Stored::new(Checkpoint { offset: 100, lines: 9 }, b"\x1f\x8bxyz", true, false);
        assert!(gz.matches(b"\x1f\x8bxyz", 10, true) && !gz.done(10));
        assert_eq!(Stored::decode(b"v3 1 2 0 0 0"), None);
        assert_eq!(Stored::decode(b"v1 x 2 0 0"), None);
    }
}
