//! What the clients share: the HTTP agent (one per upstream, kept for its life so connections
//! are reused; per-request timeout, statuses as values), the error type, the local rate
//! limiter, HTTP Basic credentials, `Retry-After`, and reading answers line by line.

use std::io::BufRead;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine;

use crate::config::UpstreamConfig;

/// Longest line accepted from an upstream (a SAF/COF record); longer is garbage.
pub(crate) const MAX_LINE: usize = 1 << 20;

/// Why an upstream gave no (complete) answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream refused: quota exhausted (HTTP 429) or a rate limit it reports.
    #[error("quota exhausted: {0}")]
    Quota(String),
    /// Another non-success HTTP status, with the first line of the body.
    #[error("HTTP {status}: {message}")]
    Status {
        /// The status code.
        status: u16,
        /// First body line.
        message: String,
    },
    /// No complete answer within the upstream's timeout.
    #[error("timed out after {0:?}")]
    Timeout(Duration),
    /// The connection failed or broke.
    #[error("connection failed: {0}")]
    Connection(String),
    /// The answer is not what the protocol promises (not JSON, wrong shape).
    #[error("unreadable answer: {0}")]
    Garbage(String),
    /// The answer stopped before its end (no SAF terminator), after some records.
    #[error("answer cut short: {0}")]
    Truncated(String),
    /// The upstream reported a failure inside a well-formed answer (SAF `failed`).
    #[error("upstream failed: {0}")]
    Failed(String),
    /// This upstream's protocol cannot express the query.
    #[error("not supported by this upstream: {0}")]
    Unsupported(String),
    /// The configuration cannot be used (missing key, unreadable CA file).
    #[error("configuration: {0}")]
    Config(String),
    /// The lookup was cancelled (its client went away) before the upstream answered.
    #[error("cancelled: the client went away")]
    Cancelled,
}

impl UpstreamError {
    /// Maps a ureq error of a request to `url`, knowing the timeout in force.
    pub(crate) fn from_ureq(e: ureq::Error, timeout: Duration, url: &str) -> UpstreamError {
        match e {
            ureq::Error::Timeout(_) => UpstreamError::Timeout(timeout),
            ureq::Error::Io(io)
                if matches!(io.kind(), std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock) =>
            {
                UpstreamError::Timeout(timeout)
            }
            ureq::Error::BodyExceedsLimit(n) => UpstreamError::Garbage(format!("answer larger than {n} bytes")),
            other => UpstreamError::Connection(dnsledger_tls::client::describe(&other, url)),
        }
    }

    /// Maps an error met while reading a body.
    pub(crate) fn from_io(e: std::io::Error, timeout: Duration, records: u64) -> UpstreamError {
        if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<ureq::Error>()) {
            if matches!(inner, ureq::Error::Timeout(_)) {
                return UpstreamError::Timeout(timeout);
            }
        }
        match e.kind() {
            std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => UpstreamError::Timeout(timeout),
            _ => UpstreamError::Truncated(format!("reading failed after {records} record(s): {e}")),
        }
    }

    /// A short machine-readable category (`quota`, `timeout`, …) for reports and metrics.
    pub fn category(&self) -> &'static str {
        match self {
            UpstreamError::Quota(_) => "quota",
            UpstreamError::Status { .. } => "status",
            UpstreamError::Timeout(_) => "timeout",
            UpstreamError::Connection(_) => "connection",
            UpstreamError::Garbage(_) => "garbage",
            UpstreamError::Truncated(_) => "truncated",
            UpstreamError::Failed(_) => "failed",
            UpstreamError::Unsupported(_) => "unsupported",
            UpstreamError::Config(_) => "config",
            UpstreamError::Cancelled => "cancelled",
        }
    }
}

/// An agent for `cfg`: its timeout covers a whole request, statuses come back as values;
/// https:// URLs are verified against the system's CAs and `ca_file`. Built once per upstream
/// ([`crate::Upstream::new`]): its connection pool keeps idle HTTP/1.1 connections (keep-alive)
/// for the next request to the same host. Its connector lets a cancelled lookup close the
/// connections it uses ([`crate::cancel`]).
pub(crate) fn agent(cfg: &UpstreamConfig) -> Result<ureq::Agent, UpstreamError> {
    let t = cfg.timeout();
    let config = dnsledger_tls::client::agent_config(cfg.ca_file.as_deref())
        .map_err(|e| UpstreamError::Config(format!("upstream {:?}: {e}", cfg.name)))?
        .http_status_as_error(false)
        .timeout_global(Some(t))
        .timeout_connect(Some(t.min(Duration::from_secs(5))))
        .user_agent(concat!("dnsledger/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(crate::cancel::agent(config))
}

/// The `Authorization: Basic …` value for `user:key`.
pub(crate) fn basic(user: &str, key: &str) -> String {
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{key}")))
}

/// The base URL without a trailing slash.
pub(crate) fn base(cfg: &UpstreamConfig) -> &str {
    cfg.url.trim_end_matches('/')
}

/// The `Retry-After` of a response: a number of seconds, or an HTTP date (RFC 9110 §10.2.3),
/// read as the time left until then (zero when it has passed).
pub(crate) fn retry_after(resp: &ureq::http::Response<ureq::Body>) -> Option<Duration> {
    let v = resp.headers().get("retry-after")?.to_str().ok()?;
    parse_retry_after(v, std::time::SystemTime::now())
}

/// A `Retry-After` value as a delay from `now`; `None` when it is neither form.
fn parse_retry_after(v: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(when.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Turns a non-success response into an error (429 → quota, with its `Retry-After`), reading
/// a little of its body.
pub(crate) fn check_status(resp: &mut ureq::http::Response<ureq::Body>) -> Result<(), UpstreamError> {
    let status = resp.status().as_u16();
    if (200..300).contains(&status) {
        return Ok(());
    }
    let after = retry_after(resp);
    let body = resp.body_mut().with_config().limit(4096).read_to_string().unwrap_or_default();
    let message = body.lines().next().unwrap_or("").trim().chars().take(200).collect::<String>();
    Err(match status {
        429 => {
            let mut m = if message.is_empty() { "HTTP 429".to_string() } else { message };
            if let Some(a) = after {
                m.push_str(&format!(" (retry after {} s)", a.as_secs()));
            }
            UpstreamError::Quota(m)
        }
        _ => UpstreamError::Status { status, message },
    })
}

/// Most bytes read past a protocol's last line so the connection can go back to the pool.
const DRAIN: u64 = 64 << 10;

/// Reads what is left of a body (up to [`DRAIN`] bytes) so its connection can be reused;
/// a longer rest, or an error, only means the connection is closed instead.
fn drain(r: &mut impl std::io::Read) {
    let _ = std::io::copy(&mut std::io::Read::take(r, DRAIN), &mut std::io::sink());
}

/// Reads `r` line by line (LF, optional CR), calling `f` with each non-empty line; lines longer
/// than [`MAX_LINE`] are garbage. `f` returns false to stop.
pub(crate) fn for_each_line(
    r: impl std::io::Read,
    timeout: Duration,
    records: &dyn Fn() -> u64,
    f: &mut dyn FnMut(&[u8]) -> Result<bool, UpstreamError>,
) -> Result<(), UpstreamError> {
    let mut r = std::io::BufReader::with_capacity(64 << 10, r);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = std::io::Read::take(&mut r, MAX_LINE as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(|e| UpstreamError::from_io(e, timeout, records()))?;
        if n == 0 {
            return Ok(());
        }
        if crate::cancel::current_cancelled() {
            // the lookup's client went away: stop between lines (the socket is closed too)
            return Err(UpstreamError::Cancelled);
        }
        if line.len() > MAX_LINE {
            return Err(UpstreamError::Garbage(format!("a line longer than {MAX_LINE} bytes")));
        }
        let unterminated = line.last() != Some(&b'\n');
        let mut l = &line[..];
        while let Some((&last, rest)) = l.split_last() {
            if last == b'\n' || last == b'\r' {
                l = rest;
            } else {
                break;
            }
        }
        if unterminated {
            // the body ended inside a line: the protocol's last line is missing its newline
            return Err(UpstreamError::Truncated(format!(
                "the answer ended inside a line after {} record(s)",
                records()
            )));
        }
        if !l.is_empty() && !f(l)? {
            drain(&mut r);
            return Ok(());
        }
    }
}

/// Spaces requests to at most `per_min` a minute.
pub(crate) struct Limiter {
    interval: Option<Duration>,
    next: Mutex<Option<Instant>>,
}

impl Limiter {
    pub(crate) fn new(per_min: Option<u32>) -> Limiter {
        Limiter { interval: per_min.filter(|&n| n > 0).map(|n| Duration::from_secs(60) / n), next: Mutex::new(None) }
    }

    /// Waits for the next free slot; fails if that is further away than `patience`, or if
    /// `cancel` is cancelled while waiting.
    pub(crate) fn wait(&self, patience: Duration, cancel: Option<&crate::cancel::Cancel>) -> Result<(), UpstreamError> {
        let Some(interval) = self.interval else { return Ok(()) };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            if slot.duration_since(now) > patience {
                return Err(UpstreamError::Quota(format!(
                    "local rate limit: next request allowed in {:.0} s",
                    slot.duration_since(now).as_secs_f64()
                )));
            }
            *next = Some(slot + interval);
            slot
        };
        let now = Instant::now();
        if slot > now {
            match cancel {
                Some(c) => {
                    if c.sleep(slot - now) {
                        return Err(UpstreamError::Cancelled);
                    }
                }
                None => std::thread::sleep(slot - now),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_spaces_and_refuses_long_waits() {
        let l = Limiter::new(Some(600)); // one per 100 ms
        let t = Instant::now();
        l.wait(Duration::from_secs(1), None).unwrap();
        l.wait(Duration::from_secs(1), None).unwrap();
        l.wait(Duration::from_secs(1), None).unwrap();
        assert!(t.elapsed() >= Duration::from_millis(200), "{:?}", t.elapsed());
        let slow = Limiter::new(Some(1));
        slow.wait(Duration::from_secs(1), None).unwrap();
        assert!(matches!(slow.wait(Duration::from_secs(1), None), Err(UpstreamError::Quota(_))));
    }

    #[test]
    fn lines_and_cut_lines() {
        let mut got = Vec::new();
        for_each_line(&b"a\r\n\nb\n"[..], Duration::from_secs(1), &|| 0, &mut |l| {
            got.push(l.to_vec());
            Ok(true)
        })
        .unwrap();
        assert_eq!(got, vec![b"a".to_vec(), b"b".to_vec()]);
        let e = for_each_line(&b"a\nb"[..], Duration::from_secs(1), &|| 1, &mut |_| Ok(true)).unwrap_err();
        assert!(matches!(e, UpstreamError::Truncated(_)), "{e}");
        assert_eq!(basic("u", "p"), "Basic dTpw");
    }
}

#[cfg(test)]
mod retry_after_tests {
    use super::parse_retry_after;
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    #[test]
    fn seconds_and_http_dates() {
        // 2015-10-21T07:28:00Z
        let now = UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        assert_eq!(parse_retry_after(" 120 ", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", now), Some(Duration::from_secs(120)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", SystemTime::now()), None);
    }
}
