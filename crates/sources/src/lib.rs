//! Input formats: each turns lines of a log or feed into [`Observation`]s.
//!
//! A parser is a [`LineParser`]: it gets one line (without its newline) and hands zero or more
//! observations to a callback, re-using one [`Observation`] so the hot path does not allocate.
//! A line it cannot use is either *skipped* (not an error: comments, headers, negative answers
//! it was not asked to keep) or *rejected* with a [`ParseError`] that names the field and the
//! reason; the pipeline adds file and line. Parsers never panic on input.
//!
//! Formats, one module each (`docs/formats.md` describes what each carries and how it maps):
//! sensor logs — [`passivedns`], [`zeek`], [`suricata`], [`gopassivedns`], [`packetbeat`];
//! resolver streams — [`dnstap`] (one Frame Streams data frame per "line"); cloud DNS logs —
//! [`route53`], [`gcp`], [`azure`]; feeds — [`ndjson`] (dnsledger's own format, a COF
//! superset) and [`dnsdb`] (SAF and NDJSON exports); zone files — [`zonefile`] (sequential: its
//! lines depend on `$ORIGIN`/`$TTL`). [`Format`] names them, guesses them and builds parsers.
//!
//! The JSON formats are read with serde_json into structs that borrow from the line. sonic-rs
//! (serde-compatible, SIMD) was measured in its place in the Azure and Packetbeat parsers
//! (parse + aggregation of 100k generated lines on one thread, best of 11 to 15 runs): 2-4%
//! faster in a portable x86-64 build, where its SIMD paths are compiled out (they need AVX2 and
//! PCLMULQDQ enabled at compile time), and about 9% faster with those enabled for the whole
//! binary, which then no longer runs on CPUs without them. simd-json 0.19 (portable: it picks
//! its AVX2 or SSE4.2 code at run time) was measured on deserialization alone: 300k generated
//! Suricata lines into structs of the EVE parser's shape borrowing their strings, its tape
//! buffers and the line's mutable copy re-used, seven rounds: 0.8-1.0x the speed of
//! serde_json (best round: 591 ms against 487 ms) — on lines of a few hundred bytes its two
//! passes (structural index, then the serde walk over the tape) cost more than serde_json's
//! single pass saves. That is not worth a second JSON
//! library: serde_json is about half of these parsers' time, and the rest goes to fields,
//! names, rdata and aggregation.

pub mod azure;
mod cloud;
pub mod dnsdb;
pub mod dnstap;
pub mod gcp;
pub mod gopassivedns;
pub mod ndjson;
pub mod packetbeat;
pub mod passivedns;
pub mod route53;
mod sensorlog;
pub mod suricata;
pub mod zeek;
pub mod zonefile;

use std::fmt;

use dnsledger_model::Observation;

/// Why a line was rejected: a short reason category (counted in summaries) and details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// Short, stable reason category, e.g. `bad rrname`, `bad rdata`, `missing field`.
    pub reason: &'static str,
    /// What exactly was wrong, e.g. the offending field value.
    pub detail: String,
}

impl ParseError {
    /// A rejection with a category and details.
    pub fn new(reason: &'static str, detail: impl Into<String>) -> ParseError {
        ParseError { reason, detail: detail.into() }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.detail.is_empty() {
            f.write_str(self.reason)
        } else {
            write!(f, "{}: {}", self.reason, self.detail)
        }
    }
}

impl std::error::Error for ParseError {}

/// What became of a line that was not rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// The line produced this many observations.
    Observations(u32),
    /// The line was deliberately not used; the reason is counted.
    Skipped(&'static str),
}

/// Options every parser honours (each format uses the ones that apply to it).
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Sensor/source id recorded with every observation that does not name its own.
    pub sensor: Option<String>,
    /// Keep negative answers (NXDOMAIN, NODATA) as negative observations instead of skipping them.
    pub negative: bool,
    /// Zone files: the time recorded as zone_time_first/last (default: the parser's current time).
    pub zone_time: Option<dnsledger_model::time::Timestamp>,
    /// Zone files: the origin before any `$ORIGIN` line.
    pub origin: Option<dnsledger_model::Name>,
    /// Zone files: `$INCLUDE` is refused unless this directory is given; included files must lie inside it.
    pub include_dir: Option<std::path::PathBuf>,
}

/// A parser for one line-oriented input format.
pub trait LineParser: Send {
    /// Parses one line (no trailing newline) and calls `emit` for each observation.
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError>;

    /// Reads what the input's first bytes say about all of it (e.g. a Zeek `#fields` header)
    /// before any line is parsed; every parser thread gets the same head. Default: nothing.
    fn prime(&mut self, _head: &[u8]) {}

    /// Emits what the parser still holds (e.g. a zone file's RRset whose records ended with the
    /// last line). Called after the last line of every chunk of lines the parser is given
    /// (chunks end at line boundaries; a sequential format gets them all, in order). Default: nothing.
    fn finish(&mut self, _emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        Ok(LineOutcome::Observations(0))
    }
}

/// The input formats `dnsledger import --format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// gamelinux/passivedns log lines (`||` text or `-j` JSON).
    PassiveDns,
    /// dnsledger NDJSON observations (a superset of COF).
    Ndjson,
    /// DNSDB exports: SAF streams and plain NDJSON rrset/rdata objects.
    Dnsdb,
    /// Zeek `dns.log`, TSV or JSON.
    Zeek,
    /// Suricata EVE `dns` events (v1, v2 detailed, v2 grouped, v3).
    Suricata,
    /// gopassivedns JSON lines.
    GoPassiveDns,
    /// packetbeat DNS events.
    Packetbeat,
    /// AWS Route 53 Resolver query logs.
    Route53,
    /// Google Cloud DNS query logs (Cloud Logging JSON).
    Gcp,
    /// Azure Firewall DNS proxy logs and Azure DNS security policy / Private Resolver query logs.
    Azure,
    /// RFC 1035 zone (master) files.
    Zone,
    /// dnstap Frame Streams (each "line" is one frame's payload).
    Dnstap,
}

impl Format {
    /// All formats with their command-line names.
    pub const ALL: [(Format, &'static str); 12] = [
        (Format::PassiveDns, "passivedns"),
        (Format::Ndjson, "ndjson"),
        (Format::Dnsdb, "dnsdb"),
        (Format::Zeek, "zeek"),
        (Format::Suricata, "suricata"),
        (Format::GoPassiveDns, "gopassivedns"),
        (Format::Packetbeat, "packetbeat"),
        (Format::Route53, "route53"),
        (Format::Gcp, "gcp"),
        (Format::Azure, "azure"),
        (Format::Zone, "zone"),
        (Format::Dnstap, "dnstap"),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Format::ALL.iter().find(|(f, _)| *f == self).map(|(_, n)| *n).unwrap_or("?")
    }

    /// Parses a command-line name (with a few aliases: `gamelinux` is balboa's name for passivedns).
    pub fn parse(s: &str) -> Option<Format> {
        let s = s.to_ascii_lowercase();
        if let Some((f, _)) = Format::ALL.iter().find(|(_, n)| *n == s) {
            return Some(*f);
        }
        match s.as_str() {
            "gamelinux" => Some(Format::PassiveDns),
            "json" | "dnsledger" | "cof" => Some(Format::Ndjson),
            "saf" => Some(Format::Dnsdb),
            "eve" => Some(Format::Suricata),
            "google" | "cloud-dns" => Some(Format::Gcp),
            "zonefile" | "master" => Some(Format::Zone),
            "fstrm" => Some(Format::Dnstap),
            _ => None,
        }
    }

    /// True for formats whose lines depend on the lines before them (they are parsed in order by one thread).
    pub fn sequential(self) -> bool {
        matches!(self, Format::Zone)
    }

    /// True if an interrupted import can resume mid-file (false when lines depend on state such
    /// as a zone file's `$ORIGIN`: such a file is re-read from its start and checkpointed only when done).
    pub fn resumable(self) -> bool {
        !self.sequential()
    }

    /// True for binary formats read as Frame Streams frames rather than lines.
    pub fn framed(self) -> bool {
        matches!(self, Format::Dnstap)
    }

    /// Guesses the format from a sample of the input's first bytes.
    pub fn sniff(sample: &[u8]) -> Option<Format> {
        if dnstap::sniff(sample) {
            return Some(Format::Dnstap);
        }
        if zonefile::sniff(sample) {
            return Some(Format::Zone);
        }
        if zeek::sniff(sample) {
            return Some(Format::Zeek);
        }
        for line in sample.split(|&b| b == b'\n') {
            let l = line.trim_ascii();
            if l.is_empty() || l.starts_with(b"#") {
                continue;
            }
            if l.starts_with(b"[") && gcp::sniff(l) {
                return Some(Format::Gcp);
            }
            if l.starts_with(b"{") {
                // the first JSON line decides; formats with distinctive keys first
                for (format, sniff) in [
                    (Format::Suricata, suricata::sniff as fn(&[u8]) -> bool),
                    (Format::Packetbeat, packetbeat::sniff),
                    (Format::GoPassiveDns, gopassivedns::sniff),
                    (Format::Route53, route53::sniff),
                    (Format::Gcp, gcp::sniff),
                    (Format::Azure, azure::sniff),
                    (Format::Zeek, zeek::sniff_json),
                    (Format::Dnsdb, dnsdb::sniff),
                ] {
                    if sniff(l) {
                        return Some(format);
                    }
                }
                // passivedns -j lines carry these keys; NDJSON observations do not
                if memchr::memmem::find(l, b"\"timestamp_s\"").is_some() {
                    return Some(Format::PassiveDns);
                }
                return Some(Format::Ndjson);
            }
            if memchr::memmem::find(l, b"||").is_some() {
                return Some(Format::PassiveDns);
            }
            // `dnsdbq -ff` batch output opens with `++ query` and ends answers with `--`
            if l.starts_with(b"++ ") || l == b"--" || l.starts_with(b"-- ") {
                return Some(Format::Dnsdb);
            }
            if route53::sniff(l) || azure::sniff(l) {
                return Some(if route53::sniff(l) { Format::Route53 } else { Format::Azure });
            }
            return None;
        }
        None
    }

    /// A fresh parser for this format.
    pub fn parser(self, opts: &SourceOptions) -> Box<dyn LineParser> {
        match self {
            Format::PassiveDns => Box::new(passivedns::PassiveDnsParser::new(opts)),
            Format::Ndjson => Box::new(ndjson::NdjsonParser::new(opts)),
            Format::Dnsdb => Box::new(dnsdb::DnsdbParser::new(opts)),
            Format::Zeek => Box::new(zeek::ZeekParser::new(opts)),
            Format::Suricata => Box::new(suricata::SuricataParser::new(opts)),
            Format::GoPassiveDns => Box::new(gopassivedns::GoPassiveDnsParser::new(opts)),
            Format::Packetbeat => Box::new(packetbeat::PacketbeatParser::new(opts)),
            Format::Route53 => Box::new(route53::Route53Parser::new(opts)),
            Format::Gcp => Box::new(gcp::GcpParser::new(opts)),
            Format::Azure => Box::new(azure::AzureParser::new(opts)),
            Format::Zone => Box::new(zonefile::ZoneParser::new(opts)),
            Format::Dnstap => Box::new(dnstap::DnstapParser::new(opts)),
        }
    }
}

/// The line without surrounding whitespace, or why it carries nothing (blank, `#` comment).
pub(crate) fn content(line: &[u8]) -> Result<&[u8], LineOutcome> {
    let line = line.trim_ascii();
    match line.first() {
        None => Err(LineOutcome::Skipped("empty line")),
        Some(b'#') => Err(LineOutcome::Skipped("comment")),
        Some(_) => Ok(line),
    }
}

/// Parses a decimal integer from ASCII bytes without allocating; `None` on overflow or junk.
pub(crate) fn parse_u64(b: &[u8]) -> Option<u64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    let mut v: u64 = 0;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(v)
}

/// Helpers the parsers' tests share.
#[cfg(test)]
pub(crate) mod testing {
    /// Deterministic xorshift mutations (truncation, deletion, insertion, replacement) of valid
    /// lines, `iterations` in all, each handed to `run`; the tests only check nothing panics.
    pub(crate) fn mutate_all(samples: &[&str], iterations: usize, mut run: impl FnMut(&[u8])) {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        const BYTES: &[u8] = b"{}[]\":,.\\ 0123456789-eE+aAzZ\x00\xff\xc3()#;@$\t\n";
        for i in 0..iterations {
            let Some(base) = samples.get(i % samples.len().max(1)) else { return };
            let mut b = base.as_bytes().to_vec();
            for _ in 0..(next() % 4 + 1) {
                let len = b.len().max(1);
                let at = (next() as usize) % len;
                match next() % 4 {
                    0 => b.truncate(at),
                    1 => {
                        if at < b.len() {
                            b.remove(at);
                        }
                    }
                    2 => b.insert(at.min(b.len()), BYTES[(next() as usize) % BYTES.len()]),
                    _ => {
                        if let Some(c) = b.get_mut(at) {
                            *c = BYTES[(next() as usize) % BYTES.len()];
                        }
                    }
                }
            }
            run(&b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffs_formats() {
        assert_eq!(
            Format::sniff(b"\n1704067200.000000||1.1.1.1||2.2.2.2||IN||a.||A||1.2.3.4||300||1\n"),
            Some(Format::PassiveDns)
        );
        assert_eq!(Format::sniff(b"{\"timestamp_s\":1,\"query\":\"a.\"}"), Some(Format::PassiveDns));
        assert_eq!(Format::sniff(b"# comment\n{\"rrname\":\"a.\"}"), Some(Format::Ndjson));
        assert_eq!(Format::sniff(b"hello"), None);
        assert_eq!(Format::parse("GAMELINUX"), Some(Format::PassiveDns));
    }

    #[test]
    fn integers() {
        assert_eq!(parse_u64(b"0"), Some(0));
        assert_eq!(parse_u64(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64(b"18446744073709551616"), None);
        assert_eq!(parse_u64(b""), None);
        assert_eq!(parse_u64(b"1x"), None);
    }
}
