//! Input formats: each turns lines of a log or feed into [`Observation`]s.
//!
//! A parser is a [`LineParser`]: it gets one line (without its newline) and hands zero or more
//! observations to a callback, re-using one [`Observation`] so the hot path does not allocate.
//! A line it cannot use is either *skipped* (not an error: comments, headers, negative answers
//! it was not asked to keep) or *rejected* with a [`ParseError`] that names the field and the
//! reason; the pipeline adds file and line. Parsers never panic on input.
//!
//! Formats: [`passivedns`] (gamelinux/passivedns `||` lines and its `-j` JSON lines) and
//! [`ndjson`] (dnsledger's own observation format, documented in `docs/formats.md`).

pub mod ndjson;
pub mod passivedns;

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

/// Options every parser honours.
#[derive(Debug, Clone, Default)]
pub struct SourceOptions {
    /// Sensor/source id recorded with every observation that does not name its own.
    pub sensor: Option<String>,
}

/// A parser for one line-oriented input format.
pub trait LineParser: Send {
    /// Parses one line (no trailing newline) and calls `emit` for each observation.
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError>;
}

/// The input formats `dnsledger import --format` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// gamelinux/passivedns log lines (`||` text or `-j` JSON).
    PassiveDns,
    /// dnsledger NDJSON observations.
    Ndjson,
}

impl Format {
    /// All formats with their command-line names.
    pub const ALL: [(Format, &'static str); 2] = [(Format::PassiveDns, "passivedns"), (Format::Ndjson, "ndjson")];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Format::ALL.iter().find(|(f, _)| *f == self).map(|(_, n)| *n).unwrap_or("?")
    }

    /// Parses a command-line name (`gamelinux` is accepted for passivedns, balboa's name).
    pub fn parse(s: &str) -> Option<Format> {
        match s.to_ascii_lowercase().as_str() {
            "passivedns" | "gamelinux" => Some(Format::PassiveDns),
            "ndjson" | "json" | "dnsledger" => Some(Format::Ndjson),
            _ => None,
        }
    }

    /// Guesses the format from a sample of the input's first lines.
    pub fn sniff(sample: &[u8]) -> Option<Format> {
        for line in sample.split(|&b| b == b'\n') {
            let l = line.trim_ascii();
            if l.is_empty() || l.starts_with(b"#") {
                continue;
            }
            if l.starts_with(b"{") {
                // passivedns -j lines carry these keys; NDJSON observations do not
                if memchr::memmem::find(l, b"\"timestamp_s\"").is_some() {
                    return Some(Format::PassiveDns);
                }
                return Some(Format::Ndjson);
            }
            if memchr::memmem::find(l, b"||").is_some() {
                return Some(Format::PassiveDns);
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
