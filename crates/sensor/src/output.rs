//! Where deduplicated observations go: a local store, a remote `dnsledger serve` (batched,
//! gzip-compressed, authenticated, spooled to disk when the collector cannot be reached), or a
//! file/stdout as NDJSON or passivedns `||` lines.

use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnsledger_model::{Aggregate, RecordKey};
use dnsledger_store::{wire, Batch, Store};

use crate::pseudonym::ClientHasher;

/// Why an output failed; the message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing a file or the spool failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// The I/O error.
        source: io::Error,
    },
    /// The store refused the batch.
    #[error("store: {0}")]
    Store(#[from] dnsledger_store::StoreError),
    /// The collector's TLS settings cannot be used (an unreadable CA file).
    #[error("collector TLS: {0}")]
    Tls(#[from] dnsledger_tls::TlsError),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> OutputError {
    let what = what.into();
    move |source| OutputError::Io { what, source }
}

/// A destination for batches. Called from the single output thread.
pub trait Sink: Send {
    /// Takes a batch; when this returns Ok the batch is durable (stored, acknowledged by the
    /// collector, spooled, or written to the file). A sink that reads the records in key
    /// order may first move them into that order in memory ([`Batch::sort`]).
    fn write(&mut self, batch: &mut Batch) -> Result<(), OutputError>;
    /// Periodic work while idle (retrying the spool).
    fn tick(&mut self) -> Result<(), OutputError> {
        Ok(())
    }
    /// End of input: flush everything that can be flushed; returns a line for the summary.
    fn finish(&mut self) -> Result<Option<String>, OutputError>;
}

/// Writes batches into a local store.
pub struct StoreSink {
    store: Arc<dyn Store>,
}

impl StoreSink {
    /// A sink writing into `store`.
    pub fn new(store: Arc<dyn Store>) -> StoreSink {
        StoreSink { store }
    }
}

impl Sink for StoreSink {
    fn write(&mut self, batch: &mut Batch) -> Result<(), OutputError> {
        // the store writes in key order: with the records moved into it, it reads them in sequence
        batch.sort();
        self.store.write(batch)?;
        batch_outcome("stored");
        Ok(())
    }
    fn finish(&mut self) -> Result<Option<String>, OutputError> {
        self.store.flush()?;
        Ok(None)
    }
}

/// Counts one batch the output handled (`dnsledger_sensor_batches_total{outcome}`).
fn batch_outcome(outcome: &'static str) {
    metrics::counter!(dnsledger_telemetry::catalog::SENSOR_BATCHES, "outcome" => outcome).increment(1);
}

/// Text format of a file output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    /// dnsledger NDJSON (docs/formats.md), one line per RRset; re-importable.
    Ndjson,
    /// gamelinux/passivedns `||` lines (`-f SMcsCQTAtn`), one line per rdata item.
    Passivedns,
}

/// The addresses that prefix record keys under `--record-clients`: family byte, client, server.
pub fn client_prefix(client: IpAddr, server: IpAddr, out: &mut Vec<u8>) {
    out.clear();
    match (client, server) {
        (IpAddr::V4(c), IpAddr::V4(s)) => {
            out.push(4);
            out.extend_from_slice(&c.octets());
            out.extend_from_slice(&s.octets());
        }
        (c, s) => {
            out.push(6);
            out.extend_from_slice(&to_v6(c).octets());
            out.extend_from_slice(&to_v6(s).octets());
        }
    }
}

fn to_v6(ip: IpAddr) -> Ipv6Addr {
    match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    }
}

fn split_client_prefix(key: &[u8]) -> Option<(IpAddr, IpAddr, &[u8])> {
    match key.first()? {
        4 => {
            let b = key.get(1..9)?;
            let c = Ipv4Addr::new(b[0], b[1], b[2], b[3]);
            let s = Ipv4Addr::new(b[4], b[5], b[6], b[7]);
            Some((c.into(), s.into(), &key[9..]))
        }
        6 => {
            let b = key.get(1..33)?;
            let mut c = [0u8; 16];
            let mut s = [0u8; 16];
            c.copy_from_slice(&b[..16]);
            s.copy_from_slice(&b[16..]);
            Some((Ipv6Addr::from(c).into(), Ipv6Addr::from(s).into(), &key[33..]))
        }
        _ => None,
    }
}

/// Writes batches as text lines to a file or stdout.
pub struct FileSink {
    out: BufWriter<Box<dyn Write + Send>>,
    name: String,
    lines: Lines,
    /// Lines formatted, waiting to be written, and the helper thread's (both reused).
    buf: Vec<u8>,
    spare: Vec<u8>,
    written: u64,
}

/// Where formatted lines go when a buffer fills: writes and empties it.
type Drain<'a> = dyn FnMut(&mut Vec<u8>) -> Result<(), OutputError> + 'a;

/// How records become text lines (shared, read-only, by the threads formatting one batch).
struct Lines {
    format: FileFormat,
    clients: bool,
    hasher: Option<ClientHasher>,
}

/// The fewest records of a batch formatted in two halves, the second on a helper thread (the
/// output thread's core is mostly idle while a worker runs, and after the last batch so are
/// the workers' cores); a smaller batch is formatted on the output thread alone.
const PARALLEL_RECORDS: usize = 32 * 1024;

impl FileSink {
    /// A sink writing `format` to `path` (`-` is stdout); `clients` when keys carry
    /// [`client_prefix`]es.
    pub fn create(path: &str, format: FileFormat, clients: bool) -> Result<FileSink, OutputError> {
        let (w, name): (Box<dyn Write + Send>, String) = if path == "-" {
            (Box::new(io::stdout()), "<stdout>".into())
        } else {
            let f = File::create(path).map_err(io_err(format!("creating {path}")))?;
            (Box::new(f), path.to_string())
        };
        Ok(FileSink {
            out: BufWriter::with_capacity(1 << 20, w),
            name,
            lines: Lines { format, clients, hasher: None },
            buf: Vec::new(),
            spare: Vec::new(),
            written: 0,
        })
    }

    /// Writes a keyed-hash token ([`ClientHasher::token`]) instead of each client address.
    pub fn with_client_hasher(mut self, hasher: ClientHasher) -> FileSink {
        self.lines.hasher = Some(hasher);
        self
    }

    /// Writes what `buf` holds and empties it.
    fn drain(out: &mut BufWriter<Box<dyn Write + Send>>, buf: &mut Vec<u8>, name: &str) -> Result<(), OutputError> {
        out.write_all(buf).map_err(io_err(format!("writing {name}")))?;
        buf.clear();
        Ok(())
    }
}

impl Lines {
    /// The client as written: its token when hashing, else the address.
    fn client(&self, c: IpAddr) -> String {
        match &self.hasher {
            Some(h) => h.token(c),
            None => c.to_string(),
        }
    }

    /// Appends the lines of `records` to `out`, flushing it into `sink` whenever it holds
    /// more than a buffer's worth (when a sink is given); returns how many lines.
    fn format(
        &self,
        records: &[(&[u8], &Aggregate)],
        sensors: &[String],
        out: &mut Vec<u8>,
        mut sink: Option<&mut Drain<'_>>,
    ) -> Result<u64, OutputError> {
        let mut n = 0;
        for (key, agg) in records {
            n += self.record(key, agg, sensors, out).map_err(io_err("formatting a line"))?;
            if let Some(sink) = sink.as_mut() {
                if out.len() >= 1 << 20 {
                    sink(out)?;
                }
            }
        }
        Ok(n)
    }

    /// Appends the line(s) of one record; returns how many.
    fn record(&self, key: &[u8], agg: &Aggregate, sensors: &[String], out: &mut Vec<u8>) -> io::Result<u64> {
        let (addrs, rkey) = if self.clients {
            match split_client_prefix(key) {
                Some((c, s, rest)) => (Some((c, s)), rest),
                None => return Ok(0),
            }
        } else {
            (None, key)
        };
        let Ok(k) = RecordKey::decode(rkey) else { return Ok(0) };
        let (first, last) = agg.seen.unwrap_or((0, 0));
        let sensor = agg.sensors.ids().first().and_then(|&i| sensors.get(i as usize));
        match self.format {
            FileFormat::Ndjson => {
                let rdata: Vec<String> = match k.negative {
                    Some(_) => Vec::new(),
                    None => k.rdata.iter().map(|r| r.to_presentation(k.rrtype)).collect(),
                };
                let client = addrs.map(|(c, s)| (self.client(c), s.to_string()));
                let line = NdjsonLine {
                    rrname: &k.rrname.to_presentation(),
                    rrtype: &k.rrtype.to_string(),
                    negative: k.negative.map(|n| n.as_str()),
                    rdata: k.negative.is_none().then_some(&rdata[..]),
                    bailiwick: k.bailiwick.as_ref().map(|b| b.to_presentation()),
                    time_first: first,
                    time_last: last,
                    count: agg.count,
                    ttl: agg.ttl.map(|(_, hi)| hi),
                    sensor: sensor.map(String::as_str),
                    client: client.as_ref().map(|c| c.0.as_str()),
                    server: client.as_ref().map(|c| c.1.as_str()),
                };
                serde_json::to_writer(&mut *out, &line)?;
                out.push(b'\n');
                Ok(1)
            }
            FileFormat::Passivedns => {
                let (c, s) = match addrs {
                    Some((c, s)) => (self.client(c), s.to_string()),
                    None => ("0.0.0.0".to_string(), "0.0.0.0".to_string()),
                };
                let ttl = agg.ttl.map(|t| t.1).unwrap_or(0);
                let name = k.rrname.to_presentation();
                let answers: Vec<String> = match k.negative {
                    Some(n) => vec![n.as_str().to_string()],
                    None => k.rdata.iter().map(|r| r.to_presentation(k.rrtype)).collect(),
                };
                for a in &answers {
                    writeln!(out, "{last}.000000||{c}||{s}||IN||{name}||{}||{a}||{ttl}||{}", k.rrtype, agg.count)?;
                }
                Ok(answers.len() as u64)
            }
        }
    }
}

/// One NDJSON output line, serialised straight from borrowed fields (no intermediate JSON
/// value), fields in this order, absent ones left out.
#[derive(serde::Serialize)]
struct NdjsonLine<'a> {
    rrname: &'a str,
    rrtype: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    negative: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rdata: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    bailiwick: Option<String>,
    time_first: u64,
    time_last: u64,
    count: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sensor: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    server: Option<&'a str>,
}

impl Sink for FileSink {
    fn write(&mut self, batch: &mut Batch) -> Result<(), OutputError> {
        // lines go out in key order: with the records moved into it, they are read in sequence
        batch.sort();
        let sensors = batch.sensor_names().to_vec();
        let records = batch.sorted_records();
        let (out, name, lines) = (&mut self.out, self.name.as_str(), &self.lines);
        let mut buf = std::mem::take(&mut self.buf);
        let mut spare = std::mem::take(&mut self.spare);
        let mut sink = |b: &mut Vec<u8>| FileSink::drain(out, b, name);
        if records.len() >= PARALLEL_RECORDS {
            // the second half on a helper thread into its own buffer, the first half here
            let (a, b) = records.split_at(records.len() / 2);
            let (n, later) = std::thread::scope(|s| {
                let helper = s.spawn(|| {
                    let mut v = spare;
                    lines.format(b, &sensors, &mut v, None).map(|n| (n, v))
                });
                let n = lines.format(a, &sensors, &mut buf, Some(&mut sink));
                (n, helper.join())
            });
            let (m, mut v) = later
                .map_err(|_| io_err(format!("writing {name}"))(io::Error::other("formatting thread panicked")))??;
            sink(&mut buf)?;
            sink(&mut v)?;
            spare = v;
            self.written += n? + m;
        } else {
            self.written += lines.format(&records, &sensors, &mut buf, Some(&mut sink))?;
            sink(&mut buf)?;
        }
        self.buf = buf;
        self.spare = spare;
        self.out.flush().map_err(io_err(format!("writing {}", self.name)))?;
        batch_outcome("written");
        Ok(())
    }
    fn finish(&mut self) -> Result<Option<String>, OutputError> {
        self.out.flush().map_err(io_err(format!("writing {}", self.name)))?;
        Ok(Some(format!("{} lines written to {}", self.written, self.name)))
    }
}

/// Settings of the HTTP output.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Base URL of the collector (`https://host:port`, or `http://` on a trusted network).
    pub url: String,
    /// PEM file of extra CA certificates to trust for an https:// collector, beside the system's.
    pub ca_file: Option<PathBuf>,
    /// API key sent as `X-API-Key`, if the collector requires one.
    pub key: Option<String>,
    /// Directory where batches wait while the collector cannot be reached.
    pub spool_dir: PathBuf,
    /// Name used in batch ids (the sensor name).
    pub sensor: String,
    /// Per-request timeout.
    pub timeout: Duration,
}

/// What the collector said about one batch.
enum Sent {
    /// Stored (or already stored: a retry of an acknowledged batch).
    Acked,
    /// Try again later (network error, 429, 5xx, authentication not accepted yet).
    Retry(String),
    /// Refused for good (malformed, too large); kept aside for an operator.
    Refused(String),
}

/// Ships batches to a `dnsledger serve` collector.
///
/// Each batch gets an id (`sensor-boot-seq`) sent as `X-Batch-Id`; the collector records it
/// with the batch, so a resend after a lost acknowledgement is not counted twice. When a send
/// fails, the gzip body is written to the spool directory (fsynced, then renamed into place)
/// and sent again, in order, before newer batches, at every later write, every few seconds
/// while idle, and at the next start. Nothing acknowledged by this sink is ever lost: it is
/// acknowledged only once the collector stored it or it sits in the spool.
pub struct HttpSink {
    opts: HttpOptions,
    agent: ureq::Agent,
    boot: u64,
    seq: u64,
    sent: u64,
    spooled: u64,
    refused: u64,
    next_retry: Instant,
    backoff: Duration,
    last_error: Option<String>,
}

const SPOOL_SUFFIX: &str = ".dlb.gz";

impl HttpSink {
    /// Opens the spool directory (creating it) and prepares the client.
    pub fn new(opts: HttpOptions) -> Result<HttpSink, OutputError> {
        fs::create_dir_all(&opts.spool_dir).map_err(io_err(format!("creating spool {}", opts.spool_dir.display())))?;
        let agent: ureq::Agent = dnsledger_tls::client::agent_config(opts.ca_file.as_deref())?
            .http_status_as_error(false)
            .timeout_global(Some(opts.timeout))
            .build()
            .into();
        let boot = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let sink = HttpSink {
            opts,
            agent,
            boot,
            seq: 0,
            sent: 0,
            spooled: 0,
            refused: 0,
            next_retry: Instant::now(),
            backoff: Duration::from_millis(500),
            last_error: None,
        };
        // batches left by an earlier run are part of the queue
        metrics::gauge!(dnsledger_telemetry::catalog::SENSOR_SPOOL).set(sink.spool_files()?.len() as f64);
        Ok(sink)
    }

    fn batch_id(&mut self) -> String {
        self.seq += 1;
        let sensor: String = self
            .opts
            .sensor
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' })
            .take(64)
            .collect();
        format!("{sensor}-{:016x}-{:010}", self.boot, self.seq)
    }

    fn post(&self, id: &str, body: &[u8]) -> Sent {
        let url = format!("{}/api/v1/observations?format=batch", self.opts.url.trim_end_matches('/'));
        let mut req = self
            .agent
            .post(&url)
            .header("Content-Type", wire::MEDIA_TYPE)
            .header("Content-Encoding", "gzip")
            .header("X-Batch-Id", id);
        if let Some(k) = &self.opts.key {
            req = req.header("X-API-Key", k);
        }
        match req.send(body) {
            Ok(mut resp) => {
                let status = resp.status().as_u16();
                let text = resp.body_mut().read_to_string().unwrap_or_default();
                match status {
                    200..=299 => Sent::Acked,
                    400 | 413 | 415 | 422 => Sent::Refused(format!("HTTP {status}: {}", text.trim())),
                    _ => Sent::Retry(format!("HTTP {status}: {}", text.trim())),
                }
            }
            Err(e) => Sent::Retry(format!("{url}: {}", dnsledger_tls::client::describe(&e, &url))),
        }
    }

    fn spool_files(&self) -> Result<Vec<PathBuf>, OutputError> {
        let dir = &self.opts.spool_dir;
        let mut files: Vec<PathBuf> = fs::read_dir(dir)
            .map_err(io_err(format!("reading spool {}", dir.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(SPOOL_SUFFIX)))
            .collect();
        files.sort();
        Ok(files)
    }

    /// Writes a batch into the spool; returns its path and file name.
    fn spool(&mut self, id: &str, body: &[u8]) -> Result<(PathBuf, String), OutputError> {
        // file names sort in send order: time of spooling, then the id
        let stamp =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_micros()).unwrap_or(0);
        let name = format!("{stamp:020}_{id}{SPOOL_SUFFIX}");
        let path = self.opts.spool_dir.join(&name);
        let tmp = self.opts.spool_dir.join(format!(".{name}.tmp"));
        let write = || -> io::Result<()> {
            let mut f = File::create(&tmp)?;
            f.write_all(body)?;
            f.sync_all()?;
            fs::rename(&tmp, &path)?;
            File::open(&self.opts.spool_dir)?.sync_all()
        };
        if let Err(e) = write() {
            // a half-written file (a full disk) must not keep the space it took
            let _ = fs::remove_file(&tmp);
            return Err(io_err(format!("spooling to {}", path.display()))(e));
        }
        self.spooled += 1;
        batch_outcome("spooled");
        metrics::gauge!(dnsledger_telemetry::catalog::SENSOR_SPOOL).increment(1.0);
        Ok((path, name))
    }

    /// Sends spooled batches in order; stops at the first that cannot be sent yet.
    /// Returns true when the spool is empty.
    fn drain(&mut self) -> Result<bool, OutputError> {
        for path in self.spool_files()? {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            let id = name
                .strip_suffix(SPOOL_SUFFIX)
                .and_then(|n| n.split_once('_'))
                .map(|(_, id)| id.to_string())
                .unwrap_or_default();
            let body = fs::read(&path).map_err(io_err(format!("reading spooled {}", path.display())))?;
            match self.post(&id, &body) {
                Sent::Acked => {
                    fs::remove_file(&path).map_err(io_err(format!("removing sent {}", path.display())))?;
                    self.sent += 1;
                    batch_outcome("sent");
                    metrics::gauge!(dnsledger_telemetry::catalog::SENSOR_SPOOL).decrement(1.0);
                    self.backoff = Duration::from_millis(500);
                    if self.last_error.take().is_some() {
                        tracing::info!(collector = %self.opts.url, "collector reachable again; sending the spool");
                    }
                }
                Sent::Retry(e) => {
                    self.note_retry(e);
                    return Ok(false);
                }
                Sent::Refused(e) => self.set_aside(&path, &name, &e)?,
            }
        }
        Ok(true)
    }

    fn set_aside(&mut self, path: &Path, name: &str, why: &str) -> Result<(), OutputError> {
        let dir = self.opts.spool_dir.join("refused");
        fs::create_dir_all(&dir).map_err(io_err(format!("creating {}", dir.display())))?;
        fs::rename(path, dir.join(name)).map_err(io_err(format!("moving {} aside", path.display())))?;
        self.refused += 1;
        batch_outcome("refused");
        metrics::gauge!(dnsledger_telemetry::catalog::SENSOR_SPOOL).decrement(1.0);
        tracing::error!(batch = %name, reason = %why, dir = %dir.display(), "collector refused a batch; kept aside");
        Ok(())
    }

    fn note_retry(&mut self, e: String) {
        if self.last_error.as_deref() != Some(e.as_str()) {
            tracing::warn!(error = %e, spool = %self.opts.spool_dir.display(), "collector unreachable; spooling batches");
        }
        self.last_error = Some(e);
        self.next_retry = Instant::now() + self.backoff;
        self.backoff = (self.backoff * 2).min(Duration::from_secs(30));
    }
}

impl Sink for HttpSink {
    fn write(&mut self, batch: &mut Batch) -> Result<(), OutputError> {
        let mut raw = Vec::with_capacity(batch.approx_bytes() / 2 + 64);
        wire::encode(batch, &mut raw);
        let mut gz = flate2::write::GzEncoder::new(Vec::with_capacity(raw.len() / 3), flate2::Compression::fast());
        gz.write_all(&raw).map_err(io_err("compressing a batch"))?;
        let body = gz.finish().map_err(io_err("compressing a batch"))?;
        let id = self.batch_id();
        let spool_empty = Instant::now() >= self.next_retry && self.drain()?;
        if !spool_empty {
            return self.spool(&id, &body).map(drop);
        }
        match self.post(&id, &body) {
            Sent::Acked => {
                self.sent += 1;
                batch_outcome("sent");
                Ok(())
            }
            Sent::Retry(e) => {
                self.note_retry(e);
                self.spool(&id, &body).map(drop)
            }
            Sent::Refused(e) => {
                let (path, name) = self.spool(&id, &body)?;
                self.set_aside(&path, &name, &e)?;
                Ok(())
            }
        }
    }

    fn tick(&mut self) -> Result<(), OutputError> {
        if Instant::now() >= self.next_retry {
            self.drain()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<Option<String>, OutputError> {
        self.drain()?;
        let left = self.spool_files()?.len();
        let mut line = format!("{} batches sent to {}", self.sent, self.opts.url);
        if left > 0 {
            line.push_str(&format!(
                "; {left} batches wait in {} and are sent at the next start",
                self.opts.spool_dir.display()
            ));
        }
        if self.refused > 0 {
            line.push_str(&format!(
                "; {} refused batches kept in {}/refused",
                self.refused,
                self.opts.spool_dir.display()
            ));
        }
        Ok(Some(line))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Observation, Rdata, RrType};

    /// A batch of `n` distinct A records.
    fn batch(n: u32) -> Batch {
        let mut b = Batch::new();
        for i in 0..n {
            let t = 1_700_000_000 + u64::from(i % 977);
            b.add(&mut Observation {
                rrname: Name::from_presentation(&format!("h{}.example", i * 7919 % n)).unwrap(),
                rrtype: RrType::A,
                rdata: [Rdata::Wire(i.to_be_bytes().to_vec())].into_iter().collect(),
                time_first: t,
                time_last: t + 5,
                ttl: Some(60 + i % 3),
                ..Observation::default()
            });
        }
        b
    }

    #[test]
    fn a_batch_formatted_in_two_halves_reads_like_one_formatted_in_one_pass() {
        let n = PARALLEL_RECORDS as u32 + 4321;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.ndjson");
        let mut sink = FileSink::create(path.to_str().unwrap(), FileFormat::Ndjson, false).unwrap();
        sink.write(&mut batch(n)).unwrap();
        // a small batch after it takes the one-thread path
        sink.write(&mut batch(10)).unwrap();
        let summary = sink.finish().unwrap().unwrap();
        assert!(summary.starts_with(&format!("{} lines", n + 10)), "{summary}");
        let got = std::fs::read(&path).unwrap();
        // the same records formatted by one thread in one pass
        let lines = Lines { format: FileFormat::Ndjson, clients: false, hasher: None };
        let mut want = Vec::new();
        for mut b in [batch(n), batch(10)] {
            b.sort();
            let records = b.sorted_records();
            assert_eq!(lines.format(&records, &[], &mut want, None).unwrap(), records.len() as u64);
        }
        assert_eq!(got.len(), want.len());
        assert!(got == want, "the two-half output differs from the one-pass output");
        let first: Vec<&[u8]> = got.split(|&c| c == b'\n').take(2).collect();
        assert!(first[0].starts_with(b"{\"rrname\":\"h0.example.\"") && first[0] < first[1], "{:?}", first);
    }
}
