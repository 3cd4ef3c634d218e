//! Where alerts go: an NDJSON file, a webhook, syslog. Each sink runs on its own thread behind
//! a bounded queue, so ingest never waits for a disk, a network peer or a slow receiver: when a
//! queue is full the alert is dropped for that sink and counted
//! (`dnsledger_watch_sink_alerts_total{outcome="dropped"}`).
//!
//! - **NDJSON file**: appended, one JSON alert per line; the writer takes everything queued,
//!   writes it in one `write` and calls `fdatasync` once per such group, so an alert is on disk
//!   within one fsync after it was raised (a crash can lose alerts raised in the last moment;
//!   they are not part of the store write's durability). The alerts journal is written the
//!   same way but synchronously, by the writer that raised the alerts ([`crate::Watcher`]).
//! - **Webhook**: `POST` of `{"alerts":[…]}` (`Content-Type: application/json`), up to
//!   `batch_max` alerts per request; a failed request (transport error, 408, 429, 5xx) is
//!   retried with exponential backoff from 0.5 s to 30 s, `retries` times, then the batch is
//!   dropped and counted; other 4xx answers drop it at once. `https://` receivers are
//!   verified against the system's CA store (`dnsledger-tls`).
//! - **Syslog**: one RFC 5424 message per alert (`<PRI>1 TIMESTAMP HOST dnsledger PID KIND -
//!   JSON`, severity warning) as a datagram to a unix socket (`/dev/log`) or over UDP.
//!   Written by hand: the format is one line, and the syslog crates add RFC 3164 and TCP
//!   framing we do not use.

use std::io::Write;
use std::net::{ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::alert::Alert;
use crate::WatchError;

/// Alerts a sink's queue holds by default before it drops.
pub const DEFAULT_QUEUE: usize = 10_000;
/// Alerts per webhook request by default.
pub const DEFAULT_BATCH_MAX: usize = 100;
/// Retries of a failed webhook request by default.
pub const DEFAULT_RETRIES: u32 = 5;
/// Webhook request timeout by default, seconds.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// The name of the alerts journal sink (reserved).
pub const JOURNAL: &str = "journal";

/// A configured sink (`[[analytics.watch_sink]]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum SinkConfig {
    /// Append to an NDJSON file.
    Ndjson {
        /// The name watchlists refer to it by.
        name: String,
        /// The file.
        path: PathBuf,
        /// Alerts queued before dropping.
        queue: Option<usize>,
    },
    /// POST batches of alerts to a URL.
    Webhook {
        /// The name watchlists refer to it by.
        name: String,
        /// `http://host:port/path`.
        url: String,
        /// Alerts per request.
        batch_max: Option<usize>,
        /// Retries of a failed request.
        retries: Option<u32>,
        /// Request timeout, seconds.
        timeout_secs: Option<u64>,
        /// Alerts queued before dropping.
        queue: Option<usize>,
    },
    /// Send RFC 5424 messages to syslog.
    Syslog {
        /// The name watchlists refer to it by.
        name: String,
        /// A unix datagram socket path (`/dev/log`) or a UDP `host:port`.
        address: String,
        /// Facility name (`daemon`, `local0` … `local7`, …); default `daemon`.
        facility: Option<String>,
        /// Alerts queued before dropping.
        queue: Option<usize>,
    },
}

impl SinkConfig {
    /// The sink's name.
    pub fn name(&self) -> &str {
        match self {
            SinkConfig::Ndjson { name, .. } | SinkConfig::Webhook { name, .. } | SinkConfig::Syslog { name, .. } => {
                name
            }
        }
    }

    /// The kind's name.
    pub fn kind(&self) -> &'static str {
        match self {
            SinkConfig::Ndjson { .. } => "ndjson",
            SinkConfig::Webhook { .. } => "webhook",
            SinkConfig::Syslog { .. } => "syslog",
        }
    }

    /// Checks the settings (name, URL form, facility, sizes).
    pub fn check(&self) -> Result<(), WatchError> {
        let bad = |m: String| Err(WatchError::Invalid(format!("watch sink {:?}: {m}", self.name())));
        if !crate::list::valid_list_name(self.name()) || self.name() == JOURNAL {
            return bad(format!("name: use 1 to 128 of A-Z a-z 0-9 . _ - (and not {JOURNAL:?}, which is reserved)"));
        }
        let queue = match self {
            SinkConfig::Ndjson { queue, .. } | SinkConfig::Webhook { queue, .. } | SinkConfig::Syslog { queue, .. } => {
                *queue
            }
        };
        if queue == Some(0) {
            return bad("queue must be at least 1".into());
        }
        match self {
            SinkConfig::Ndjson { .. } => Ok(()),
            SinkConfig::Webhook { url, batch_max, timeout_secs, .. } => {
                let rest = url.strip_prefix("http://").or_else(|| url.strip_prefix("https://"));
                if rest.is_none_or(str::is_empty) {
                    return bad(format!("url {url:?}: expected http(s)://HOST[:PORT]/PATH"));
                }
                if *batch_max == Some(0) || *timeout_secs == Some(0) {
                    return bad("batch_max and timeout_secs must be at least 1".into());
                }
                Ok(())
            }
            SinkConfig::Syslog { address, facility, .. } => {
                if let Some(f) = facility {
                    if facility_code(f).is_none() {
                        return bad(format!("facility {f:?}: expected kern, user, mail, daemon, auth, syslog, lpr, news, uucp, cron, authpriv, ftp or local0..local7"));
                    }
                }
                if address.trim().is_empty() {
                    return bad("address is empty".into());
                }
                Ok(())
            }
        }
    }
}

/// The facility number of a syslog facility name.
pub fn facility_code(name: &str) -> Option<u8> {
    const NAMES: [&str; 12] =
        ["kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp"];
    if let Some(i) = NAMES.iter().position(|n| *n == name) {
        return Some(i as u8);
    }
    let n: u8 = name.strip_prefix("local")?.parse().ok()?;
    (n <= 7).then_some(16 + n)
}

/// A sink's counters.
#[derive(Debug, Default)]
pub struct SinkStats {
    /// Alerts handed to the sink.
    pub raised: AtomicU64,
    /// Alerts delivered (written and synced, answered 2xx, sent).
    pub delivered: AtomicU64,
    /// Alerts dropped (queue full, or delivery given up).
    pub dropped: AtomicU64,
    /// Delivery attempts that failed (retried or not).
    pub errors: AtomicU64,
}

impl SinkStats {
    pub(crate) fn count(&self, name: &str, outcome: &'static str, n: u64) {
        let c = match outcome {
            "raised" => &self.raised,
            "delivered" => &self.delivered,
            _ => &self.dropped,
        };
        c.fetch_add(n, Ordering::Relaxed);
        metrics::counter!(dnsledger_telemetry::catalog::WATCH_SINK_ALERTS, "sink" => name.to_string(), "outcome" => outcome)
            .increment(n);
    }

    pub(crate) fn error(&self, name: &str) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        metrics::counter!(dnsledger_telemetry::catalog::WATCH_SINK_ERRORS, "sink" => name.to_string()).increment(1);
    }
}

/// A running sink: its queue, its thread, its counters.
pub struct Sink {
    name: String,
    kind: &'static str,
    tx: Mutex<Option<SyncSender<Arc<Alert>>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
    closing: Arc<AtomicBool>,
    /// Its counters.
    pub stats: Arc<SinkStats>,
}

impl Sink {
    /// Starts the sink's thread.
    pub fn start(cfg: &SinkConfig) -> Result<Arc<Sink>, WatchError> {
        cfg.check()?;
        let name = cfg.name().to_string();
        let (queue, worker): (Option<usize>, Worker) = match cfg {
            SinkConfig::Ndjson { path, queue, .. } => (*queue, Worker::Ndjson(NdjsonWriter::new(path.clone()))),
            SinkConfig::Webhook { url, batch_max, retries, timeout_secs, queue, .. } => {
                let timeout = Duration::from_secs(timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS));
                let agent: ureq::Agent = dnsledger_tls::client::agent_config(None)
                    .map_err(|e| WatchError::Invalid(format!("sink {name:?}: {e}")))?
                    .http_status_as_error(false)
                    .timeout_global(Some(timeout))
                    .build()
                    .into();
                (
                    *queue,
                    Worker::Webhook {
                        url: url.clone(),
                        agent,
                        batch_max: batch_max.unwrap_or(DEFAULT_BATCH_MAX),
                        retries: retries.unwrap_or(DEFAULT_RETRIES),
                    },
                )
            }
            SinkConfig::Syslog { address, facility, queue, .. } => {
                let fac = facility.as_deref().map_or(Some(3), facility_code).unwrap_or(3);
                (*queue, Worker::Syslog { target: SyslogTarget::parse(address)?, facility: fac, host: hostname() })
            }
        };
        Sink::spawn(name, cfg.kind(), queue.unwrap_or(DEFAULT_QUEUE), worker)
    }

    fn spawn(name: String, kind: &'static str, queue: usize, mut worker: Worker) -> Result<Arc<Sink>, WatchError> {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Arc<Alert>>(queue.max(1));
        let stats = Arc::new(SinkStats::default());
        let closing = Arc::new(AtomicBool::new(false));
        let (n, s, c) = (name.clone(), stats.clone(), closing.clone());
        let thread = std::thread::Builder::new()
            .name(format!("watch-{kind}"))
            .spawn(move || worker.run(&n, &rx, &s, &c))
            .map_err(|e| WatchError::Io { what: format!("starting watch sink {name:?}"), error: e })?;
        Ok(Arc::new(Sink { name, kind, tx: Mutex::new(Some(tx)), thread: Mutex::new(Some(thread)), closing, stats }))
    }

    /// The sink's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The sink's kind (`ndjson`, `webhook`, `syslog`).
    pub fn kind(&self) -> &'static str {
        self.kind
    }

    /// Queues an alert; never blocks (a full queue drops it, counted).
    pub fn send(&self, a: Arc<Alert>) {
        self.stats.count(&self.name, "raised", 1);
        let tx = self.tx.lock().unwrap_or_else(|p| p.into_inner());
        let Some(tx) = tx.as_ref() else {
            self.stats.count(&self.name, "dropped", 1);
            return;
        };
        match tx.try_send(a) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.stats.count(&self.name, "dropped", 1);
            }
        }
    }

    /// Stops taking alerts, lets the thread deliver what is queued (webhooks get one attempt
    /// per batch from now on) and waits for it up to `wait`. Returns true if it finished.
    pub fn close(&self, wait: Duration) -> bool {
        self.closing.store(true, Ordering::Relaxed);
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
        let Some(t) = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take() else { return true };
        let until = Instant::now() + wait;
        while !t.is_finished() {
            if Instant::now() >= until {
                tracing::warn!(sink = %self.name, "watch sink still delivering at shutdown; leaving it");
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = t.join();
        true
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.closing.store(true, Ordering::Relaxed);
        self.tx.lock().unwrap_or_else(|p| p.into_inner()).take();
    }
}

/// Where syslog messages go.
#[derive(Debug)]
enum SyslogTarget {
    Unix(PathBuf),
    Udp(std::net::SocketAddr),
}

impl SyslogTarget {
    fn parse(address: &str) -> Result<SyslogTarget, WatchError> {
        let a = address.trim();
        if a.starts_with('/') {
            return Ok(SyslogTarget::Unix(PathBuf::from(a)));
        }
        let hostport = a.strip_prefix("udp://").unwrap_or(a);
        let addr = hostport
            .to_socket_addrs()
            .map_err(|e| WatchError::Invalid(format!("syslog address {a:?}: {e}")))?
            .next()
            .ok_or_else(|| WatchError::Invalid(format!("syslog address {a:?}: resolves to nothing")))?;
        Ok(SyslogTarget::Udp(addr))
    }
}

/// The host name for syslog headers (printable ASCII, at most 255; `-` if unknown).
fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that many bytes.
    let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    let h: String = buf[..end].iter().filter(|b| b.is_ascii_graphic()).map(|b| *b as char).take(255).collect();
    if r != 0 || h.is_empty() {
        "-".into()
    } else {
        h
    }
}

/// One RFC 5424 message for `a` (severity warning).
pub fn syslog_message(a: &Alert, facility: u8, host: &str, time: u64) -> Vec<u8> {
    let pri = u16::from(facility) * 8 + 4;
    let json = serde_json::to_string(a).unwrap_or_default();
    format!(
        "<{pri}>1 {} {host} dnsledger {} {} - {json}",
        dnsledger_model::time::format_rfc3339(time),
        std::process::id(),
        a.kind.as_str()
    )
    .into_bytes()
}

/// Appends alerts to an NDJSON file: one `write` and one `fdatasync` per group.
pub struct NdjsonWriter {
    path: PathBuf,
    file: Option<std::fs::File>,
}

impl NdjsonWriter {
    /// A writer for `path` (opened, and its directory created, at the first append).
    pub fn new(path: PathBuf) -> NdjsonWriter {
        NdjsonWriter { path, file: None }
    }

    /// Appends `group`, one JSON object per line, and syncs the data to disk.
    pub fn append(&mut self, group: &[Arc<Alert>]) -> Result<(), String> {
        let mut buf = Vec::with_capacity(group.len() * 400);
        for a in group {
            serde_json::to_writer(&mut buf, &**a).map_err(|e| e.to_string())?;
            buf.push(b'\n');
        }
        if self.file.is_none() {
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            }
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&self.path)
                .map_err(|e| format!("opening {}: {e}", self.path.display()))?;
            self.file = Some(f);
        }
        let f = self.file.as_mut().ok_or("no file")?;
        if let Err(e) = f.write_all(&buf).and_then(|()| f.sync_data()) {
            // reopened for the next group (the file may have been removed or the disk fixed)
            self.file = None;
            return Err(format!("writing {}: {e}", self.path.display()));
        }
        Ok(())
    }
}

enum Worker {
    Ndjson(NdjsonWriter),
    Webhook { url: String, agent: ureq::Agent, batch_max: usize, retries: u32 },
    Syslog { target: SyslogTarget, facility: u8, host: String },
}

/// Takes the first alert (waiting) and then whatever else is queued, up to `max`; `None` once
/// the queue is closed and empty.
fn take_group(rx: &Receiver<Arc<Alert>>, max: usize) -> Option<Vec<Arc<Alert>>> {
    let first = loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(a) => break a,
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => return None,
        }
    };
    let mut group = vec![first];
    while group.len() < max {
        match rx.try_recv() {
            Ok(a) => group.push(a),
            Err(_) => break,
        }
    }
    Some(group)
}

impl Worker {
    fn run(&mut self, name: &str, rx: &Receiver<Arc<Alert>>, stats: &SinkStats, closing: &AtomicBool) {
        let max = match self {
            Worker::Webhook { batch_max, .. } => (*batch_max).max(1),
            _ => 1000,
        };
        while let Some(group) = take_group(rx, max) {
            let n = group.len() as u64;
            match self.deliver(name, &group, stats, closing) {
                Ok(()) => stats.count(name, "delivered", n),
                Err(e) => {
                    tracing::warn!(sink = name, alerts = n, error = %e, "watch alerts dropped");
                    stats.count(name, "dropped", n);
                }
            }
        }
    }

    fn deliver(
        &mut self,
        name: &str,
        group: &[Arc<Alert>],
        stats: &SinkStats,
        closing: &AtomicBool,
    ) -> Result<(), String> {
        match self {
            Worker::Ndjson(w) => w.append(group).inspect_err(|_| stats.error(name)),
            Worker::Webhook { url, agent, retries, .. } => {
                let alerts: Vec<&Alert> = group.iter().map(|a| &**a).collect();
                let body = serde_json::to_vec(&serde_json::json!({ "alerts": alerts })).map_err(|e| e.to_string())?;
                let mut backoff = Duration::from_millis(500);
                let mut attempt = 0;
                loop {
                    let outcome =
                        match agent.post(url.as_str()).header("Content-Type", "application/json").send(&body[..]) {
                            Ok(resp) => {
                                let s = resp.status().as_u16();
                                if (200..300).contains(&s) {
                                    return Ok(());
                                }
                                let retry = s == 408 || s == 429 || s >= 500;
                                (format!("{url} answered {s}"), retry)
                            }
                            Err(e) => (format!("{url}: {e}"), true),
                        };
                    stats.error(name);
                    if !outcome.1 || attempt >= *retries || closing.load(Ordering::Relaxed) {
                        return Err(format!("{} (after {} attempt(s))", outcome.0, attempt + 1));
                    }
                    tracing::debug!(sink = name, error = %outcome.0, "webhook failed; retrying in {backoff:?}");
                    let until = Instant::now() + backoff;
                    while Instant::now() < until && !closing.load(Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    attempt += 1;
                }
            }
            Worker::Syslog { target, facility, host } => {
                let now = dnsledger_model::time::now();
                let mut failed = 0;
                let mut last = String::new();
                for a in group {
                    let msg = syslog_message(a, *facility, host, now);
                    let r = match target {
                        SyslogTarget::Unix(p) => UnixDatagram::unbound().and_then(|s| s.send_to(&msg, &*p)),
                        SyslogTarget::Udp(addr) => {
                            let bind = if addr.is_ipv4() { "0.0.0.0:0" } else { "[::]:0" };
                            UdpSocket::bind(bind).and_then(|s| s.send_to(&msg, *addr))
                        }
                    };
                    if let Err(e) = r {
                        failed += 1;
                        last = format!("{target:?}: {e}");
                        stats.error(name);
                    }
                }
                if failed > 0 {
                    // the group is counted as a whole; partial failures are rare (a socket gone)
                    return Err(format!("{failed} of {} message(s) not sent: {last}", group.len()));
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::tests::alert;
    use std::io::{BufRead, BufReader, Read};

    fn wait_for(mut f: impl FnMut() -> bool) {
        let until = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < until, "timed out");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn config_is_checked() {
        let w = |url: &str| SinkConfig::Webhook {
            name: "h".into(),
            url: url.into(),
            batch_max: None,
            retries: None,
            timeout_secs: None,
            queue: None,
        };
        assert!(w("http://127.0.0.1:9/x").check().is_ok());
        assert!(w("https://127.0.0.1/x").check().is_ok());
        assert!(w("https://").check().is_err());
        assert!(w("ftp://x").check().is_err());
        let s = |f: &str| SinkConfig::Syslog {
            name: "s".into(),
            address: "/dev/log".into(),
            facility: Some(f.into()),
            queue: None,
        };
        assert!(s("local7").check().is_ok());
        assert!(s("local8").check().is_err());
        let j = SinkConfig::Ndjson { name: JOURNAL.into(), path: "/x".into(), queue: None };
        assert!(j.check().is_err(), "the journal's name is reserved");
        assert_eq!(
            (facility_code("kern"), facility_code("daemon"), facility_code("local0")),
            (Some(0), Some(3), Some(16))
        );
        let parsed: SinkConfig = serde_json::from_str(r#"{"kind":"ndjson","name":"f","path":"/tmp/a"}"#).unwrap();
        assert_eq!(parsed.kind(), "ndjson");
        assert!(serde_json::from_str::<SinkConfig>(r#"{"kind":"ndjson","name":"f","path":"/a","url":"x"}"#).is_err());
    }

    #[test]
    fn ndjson_appends_one_alert_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("a.ndjson");
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, "").unwrap();
        let sink = Sink::start(&SinkConfig::Ndjson { name: "f".into(), path: path.clone(), queue: None }).unwrap();
        for i in 0..5 {
            sink.send(Arc::new(alert(i, 100, "l")));
        }
        assert!(sink.close(Duration::from_secs(10)));
        let text = std::fs::read_to_string(&path).unwrap();
        let ids: Vec<u64> = text.lines().map(|l| serde_json::from_str::<Alert>(l).unwrap().id).collect();
        assert_eq!(ids, vec![0, 1, 2, 3, 4]);
        assert_eq!(sink.stats.delivered.load(Ordering::Relaxed), 5);
        // after closing, alerts are dropped and counted
        sink.send(Arc::new(alert(9, 100, "l")));
        assert_eq!(sink.stats.dropped.load(Ordering::Relaxed), 1);
    }

    #[test]
    fn a_full_queue_drops_instead_of_blocking() {
        // a webhook to a listener that never answers: the worker is stuck on its first request
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let sink = Sink::start(&SinkConfig::Webhook {
            name: "slow".into(),
            url,
            batch_max: Some(1),
            retries: Some(0),
            timeout_secs: Some(2),
            queue: Some(2),
        })
        .unwrap();
        let t = Instant::now();
        for i in 0..50 {
            sink.send(Arc::new(alert(i, 1, "l")));
        }
        assert!(t.elapsed() < Duration::from_millis(500), "send blocked: {:?}", t.elapsed());
        assert_eq!(sink.stats.raised.load(Ordering::Relaxed), 50);
        assert!(sink.stats.dropped.load(Ordering::Relaxed) >= 47, "{:?}", sink.stats);
        drop(l);
        sink.close(Duration::from_secs(10));
    }

    /// Reads one HTTP/1.1 request (headers and a Content-Length body), answers `status`.
    fn serve_one(stream: &mut std::net::TcpStream, status: u16) -> Vec<u8> {
        let mut r = BufReader::new(stream.try_clone().unwrap());
        let mut len = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().unwrap();
            }
        }
        let mut body = vec![0; len];
        r.read_exact(&mut body).unwrap();
        write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
        body
    }

    #[test]
    fn groups_take_what_is_queued_up_to_the_batch_size() {
        let (tx, rx) = std::sync::mpsc::sync_channel(10);
        for i in 0..5 {
            tx.send(Arc::new(alert(i, 1, "l"))).unwrap();
        }
        assert_eq!(take_group(&rx, 3).unwrap().len(), 3);
        assert_eq!(take_group(&rx, 3).unwrap().len(), 2);
        drop(tx);
        assert!(take_group(&rx, 3).is_none());
    }

    #[test]
    fn webhooks_retry_with_backoff() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/hook", l.local_addr().unwrap());
        let server = std::thread::spawn(move || {
            let mut requests = Vec::new();
            let mut delivered = Vec::new();
            // the first request fails with 503, the others succeed
            while delivered.len() < 3 {
                let (mut s, _) = l.accept().unwrap();
                let status = if requests.is_empty() { 503 } else { 200 };
                let body = serve_one(&mut s, status);
                let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
                if status == 200 {
                    delivered.extend(v["alerts"].as_array().unwrap().iter().map(|a| a["id"].as_u64().unwrap()));
                }
                requests.push((body, Instant::now()));
            }
            (requests, delivered)
        });
        let sink = Sink::start(&SinkConfig::Webhook {
            name: "hook".into(),
            url,
            batch_max: Some(10),
            retries: Some(3),
            timeout_secs: Some(5),
            queue: None,
        })
        .unwrap();
        for i in 0..3 {
            sink.send(Arc::new(alert(i, 7, "l")));
        }
        let (requests, mut delivered) = server.join().unwrap();
        assert_eq!(requests[0].0, requests[1].0, "the retry sends the same batch");
        assert!(requests[1].1 - requests[0].1 >= Duration::from_millis(400), "backoff before the retry");
        delivered.sort();
        assert_eq!(delivered, vec![0, 1, 2], "each alert delivered once");
        wait_for(|| sink.stats.delivered.load(Ordering::Relaxed) == 3);
        assert_eq!(sink.stats.errors.load(Ordering::Relaxed), 1);
        assert_eq!(sink.stats.dropped.load(Ordering::Relaxed), 0);
        assert!(sink.close(Duration::from_secs(5)));
    }

    #[test]
    fn syslog_goes_to_a_unix_socket_and_over_udp_in_rfc5424() {
        let dir = tempfile::tempdir().unwrap();
        let sock_path = dir.path().join("log");
        let unix = UnixDatagram::bind(&sock_path).unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
        let udp_addr = udp.local_addr().unwrap().to_string();
        for (address, facility) in
            [(sock_path.display().to_string(), Some("local3")), (format!("udp://{udp_addr}"), None)]
        {
            let sink = Sink::start(&SinkConfig::Syslog {
                name: "sys".into(),
                address,
                facility: facility.map(str::to_string),
                queue: None,
            })
            .unwrap();
            sink.send(Arc::new(alert(1, 5, "l")));
            assert!(sink.close(Duration::from_secs(5)));
            assert_eq!(sink.stats.delivered.load(Ordering::Relaxed), 1, "{:?}", sink.stats);
        }
        let mut buf = [0u8; 65536];
        let n = unix.recv(&mut buf).unwrap();
        let m = std::str::from_utf8(&buf[..n]).unwrap().to_string();
        // local3 = 19, warning = 4: 19 * 8 + 4
        assert!(m.starts_with("<156>1 "), "{m}");
        let n = udp.recv(&mut buf).unwrap();
        let u = std::str::from_utf8(&buf[..n]).unwrap().to_string();
        assert!(u.starts_with("<28>1 "), "daemon by default: {u}");
        for msg in [&m, &u] {
            let parts: Vec<&str> = msg.splitn(8, ' ').collect();
            assert_eq!(parts.len(), 8, "{msg}");
            assert!(parts[1].ends_with('Z') && parts[1].contains('T'), "timestamp: {msg}");
            assert_eq!(parts[3], "dnsledger");
            assert_eq!(parts[4], std::process::id().to_string());
            assert_eq!(parts[5], "first_match");
            assert_eq!(parts[6], "-");
            let a: Alert = serde_json::from_str(parts[7]).unwrap();
            assert_eq!(a.id, 1);
        }
        // a socket that is not there: counted, not fatal
        let gone = Sink::start(&SinkConfig::Syslog {
            name: "gone".into(),
            address: dir.path().join("nothing").display().to_string(),
            facility: None,
            queue: None,
        })
        .unwrap();
        gone.send(Arc::new(alert(2, 5, "l")));
        gone.close(Duration::from_secs(5));
        assert_eq!(gone.stats.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(gone.stats.errors.load(Ordering::Relaxed), 1);
    }
}
