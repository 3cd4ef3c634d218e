//! Suricata EVE JSON `dns` events, plus the answer-section helpers the sensor-log parsers share
//! (`zeek`, `gopassivedns`, `packetbeat`): RRset grouping, CNAME-chain following, negative
//! answers, log timestamps, and rdata from the text logs write.
//!
//! The EVE layout follows Suricata's user guide (`doc/userguide/output/eve/eve-json-format.rst`,
//! "Event type: DNS", and `upgrade/8.0-dns-logging-changes.rst`) and the logger that writes it
//! (`rust/src/dns/log.rs`; the v1 logger as it was before its removal in 2022). All variants
//! may be mixed in one file:
//!
//! - **v1** (Suricata ≤ 4, no `version`): one event per record,
//!   `{"type":"answer","rrname":…,"rrtype":…,"ttl":…,"rdata":…}` (or `soa`/`srv`/`sshfp`
//!   objects). Authority records were logged the same way and cannot be told apart; every v1
//!   record is taken as seen. A failed lookup is one event with `rcode` and the query `rrname`
//!   only: NXDOMAIN becomes a negative observation only when the event names the query type.
//! - **v2** (`"version":2`, Suricata 4.1–7): one event per response with the first query in
//!   `rrname`/`rrtype`, `rcode`, and the answer section as `answers` ("detailed") and/or
//!   `grouped`.
//! - **v3** (`"version":3`, Suricata 8): `"type":"response"`, the questions in `queries[]`,
//!   otherwise like v2.
//!
//! What a response turns into: the *answer chain* only — records owned by the query name or by
//! a CNAME target reached from it — grouped into one observation per (owner, type) RRset with the
//! smallest TTL of the set. Authority and additional sections are ignored: without knowing the
//! zone the server answered for, their records are unverified (no bailiwick is recorded).
//! Suricata logs rdata only for A, AAAA, CNAME, MX, NS, PTR, TXT, NULL, SOA, SRV and SSHFP;
//! records of other types (and NULL) carry none and are left out. Known losses:
//! MX is logged as the exchange name without its preference, so it is kept as text
//! ([`Rdata::Text`]); each TXT *string* is its own entry, so a multi-string TXT record becomes
//! several single-string TXT items.
//!
//! `grouped` (`{"A":["192.0.2.1"],"CNAME":["x.example"]}`) has neither owners nor TTLs; it is
//! used only when there is no `answers` array, and only what is unambiguous is rebuilt: without
//! a CNAME every group belongs to the query name; with exactly one CNAME the query name owns
//! the CNAME and the other groups belong to its target; with more CNAMEs the owners cannot be
//! known and the event is skipped. TTLs are unknown (`None`).
//!
//! Negative answers (only with `SourceOptions::negative`): NXDOMAIN is recorded for the end of
//! the answer chain (the query name when there is no CNAME) under the query type; NODATA for the
//! query name when a NOERROR response has no answer at all and is authoritative (`aa`) or from
//! a recursive resolver (`ra`) — a referral has neither. Query events (`query`/`request`),
//! other event types, opcodes other than QUERY and other rcodes are skipped and counted.
//! Times: `timestamp` (`2024-01-15T10:00:00.123456+0000`). Sensor: `SourceOptions::sensor`,
//! else the event's `host` (Suricata's `sensor-name`).

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv6Addr;

use dnsledger_model::{Name, NameError, Negative, Observation, Rdata, RrType};

use crate::{parse_u64, LineOutcome, LineParser, ParseError, SourceOptions};

// ---------------------------------------------------------------------------------------------
// Shared helpers for the sensor-log parsers.
// ---------------------------------------------------------------------------------------------

/// How a log escapes the bytes of names and strings it prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Escapes {
    /// Presentation format already (`\DDD`, `\X`), as miekg/dns prints names (packetbeat).
    Presentation,
    /// `\xNN` stands for one byte; with `all` every backslash starts such an escape (Zeek
    /// escapes a literal backslash as `\x5c`), else only `\x80`..`\xff` are escapes (Suricata
    /// escapes only non-ASCII bytes of text that is not UTF-8) and other backslashes are literal.
    Hex {
        /// Whether every `\xNN` is an escape.
        all: bool,
    },
    /// Raw bytes; a backslash is a literal backslash (gopassivedns).
    Raw,
}

/// The value of one hex digit.
fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

/// The byte a `\xNN` escape at the start of `rest` (which begins with the backslash) stands for.
fn hex_escape(rest: &[u8], all: bool) -> Option<u8> {
    match rest {
        [b'\\', b'x', h, l, ..] => {
            let v = hex_val(*h)? << 4 | hex_val(*l)?;
            (all || v >= 0x80).then_some(v)
        }
        _ => None,
    }
}

/// Appends `text` with `\xNN` escapes decoded to the bytes they stand for.
pub(crate) fn unescape_hex(text: &[u8], all: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(rest) = text.get(i..) {
        let Some(p) = memchr::memchr(b'\\', rest) else {
            out.extend_from_slice(rest);
            return;
        };
        out.extend_from_slice(&rest[..p]);
        match hex_escape(&rest[p..], all) {
            Some(b) => {
                out.push(b);
                i += p + 4;
            }
            None => {
                out.push(b'\\');
                i += p + 1;
            }
        }
    }
}

/// Parses a name as a log printed it (see [`Escapes`]); an empty text is the root. `buf` is scratch.
pub(crate) fn set_name(name: &mut Name, text: &[u8], esc: Escapes, buf: &mut Vec<u8>) -> Result<(), NameError> {
    if text.is_empty() || text == b"." {
        return name.set_from_presentation(b".");
    }
    if esc == Escapes::Presentation || memchr::memchr(b'\\', text).is_none() {
        return name.set_from_presentation(text);
    }
    // Rewrite as presentation text: decoded bytes are label bytes, a backslash is escaped.
    buf.clear();
    let mut i = 0;
    while let Some(rest) = text.get(i..) {
        let Some(&c) = rest.first() else { break };
        let decoded = match esc {
            Escapes::Hex { all } if c == b'\\' => hex_escape(rest, all).map(|b| (b, 4)),
            _ => None,
        };
        let (b, used) = decoded.unwrap_or((c, 1));
        if b == b'\\' {
            buf.extend_from_slice(b"\\\\");
        } else {
            buf.push(b);
        }
        i += used;
    }
    name.set_from_presentation(buf)
}

/// Parses a dotted-quad IPv4 address (no leading zeros, as every logger prints them).
pub(crate) fn parse_ipv4(b: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = b.split(|&c| c == b'.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p[0] == b'0') || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        *slot = u8::try_from(p.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32)).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// Parses an IPv6 address; dotted IPv4 text is taken as the IPv4-mapped address, which is how
/// Go's `net.IP.String()` prints one (gopassivedns, packetbeat).
pub(crate) fn parse_ipv6(b: &[u8]) -> Option<[u8; 16]> {
    if let Some(v4) = parse_ipv4(b) {
        return Some(std::net::Ipv4Addr::from(v4).to_ipv6_mapped().octets());
    }
    let s = std::str::from_utf8(b).ok()?;
    s.parse::<Ipv6Addr>().ok().map(|ip| ip.octets())
}

/// An rrtype as logs print it: a mnemonic, `TYPE<n>`, or a bare number (Suricata, gopassivedns).
pub(crate) fn rrtype_of(s: &[u8]) -> Option<RrType> {
    match RrType::parse_bytes(s) {
        Some(t) => Some(t),
        None => parse_u64(s).and_then(|n| u16::try_from(n).ok()).map(RrType),
    }
}

/// The wire buffer of `rd`, cleared (turned into [`Rdata::Wire`] if it was text).
pub(crate) fn wire(rd: &mut Rdata) -> &mut Vec<u8> {
    if let Rdata::Text(_) = rd {
        *rd = Rdata::Wire(Vec::new());
    }
    match rd {
        Rdata::Wire(w) => {
            w.clear();
            w
        }
        Rdata::Text(_) => unreachable!("made Wire above"),
    }
}

/// Scratch space for [`set_rdata`].
#[derive(Default)]
pub(crate) struct Scratch {
    /// A name being parsed.
    pub(crate) name: Name,
    /// Bytes being rewritten.
    pub(crate) buf: Vec<u8>,
}

/// Fills `rd` from one record's data as a log printed it: addresses and single-name types
/// directly, everything else through the presentation parser. Data of a name-bearing type that
/// is just a name (an MX exchange without its preference, as Suricata and Zeek log it) is kept
/// as [`Rdata::Text`]. `Err` says what is wrong.
pub(crate) fn set_rdata(
    rd: &mut Rdata,
    rrtype: RrType,
    text: &[u8],
    esc: Escapes,
    scratch: &mut Scratch,
) -> Result<(), String> {
    match rrtype {
        RrType::A => {
            let ip = parse_ipv4(text).ok_or("not an IPv4 address")?;
            wire(rd).extend_from_slice(&ip);
        }
        RrType::AAAA => {
            let ip = parse_ipv6(text).ok_or("not an IPv6 address")?;
            wire(rd).extend_from_slice(&ip);
        }
        RrType::CNAME | RrType::NS | RrType::PTR | RrType::DNAME => {
            if text.is_empty() {
                return Err("empty name".into());
            }
            set_name(&mut scratch.name, text, esc, &mut scratch.buf).map_err(|e| e.to_string())?;
            wire(rd).extend_from_slice(scratch.name.as_wire());
        }
        _ => {
            let t = std::str::from_utf8(text).map_err(|_| "not UTF-8".to_string())?;
            let w = wire(rd);
            if let Err(e) = dnsledger_model::rdata::parse(rrtype, t, w) {
                let single = !t.trim().contains(char::is_whitespace);
                if !(dnsledger_model::rdata::has_indexed_name(rrtype) && single) {
                    return Err(e.to_string());
                }
                set_name(&mut scratch.name, t.trim().as_bytes(), esc, &mut scratch.buf).map_err(|_| e.to_string())?;
                *rd = Rdata::Text(scratch.name.to_presentation());
            }
        }
    }
    Ok(())
}

/// Days from 1970-01-01 to a proleptic Gregorian date (years counted from March, so that the
/// leap day ends the year; 146097 days per 400-year cycle).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468
}

/// Parses the date-times sensor logs write: `YYYY-MM-DD[T ]HH:MM:SS[.frac]` followed by
/// nothing (UTC), `Z`, or an offset `±HH[[:]MM]`, optionally after a blank and before a zone
/// abbreviation (Go's `time.Time.String()`: `2024-01-01 00:00:00.5 +0000 UTC`). Suricata's
/// `+0000` without a colon is accepted. Fractions are dropped.
pub(crate) fn parse_time(b: &[u8]) -> Option<u64> {
    let b = b.trim_ascii();
    let num = |from: usize, to: usize| -> Option<i64> {
        let s = b.get(from..to)?;
        s.iter().all(u8::is_ascii_digit).then(|| s.iter().fold(0i64, |a, &c| a * 10 + (c - b'0') as i64))
    };
    let at = |i: usize| b.get(i).copied();
    if at(4) != Some(b'-') || at(7) != Some(b'-') || !matches!(at(10), Some(b'T' | b't' | b' ')) {
        return None;
    }
    if at(13) != Some(b':') || at(16) != Some(b':') {
        return None;
    }
    let (y, mo, d) = (num(0, 4)?, num(5, 7)?, num(8, 10)?);
    let (h, mi, s) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let leap = y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let max_day = *month_days.get(usize::try_from(mo).ok()?.checked_sub(1)?)?;
    if !(1..=max_day).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut i = 19;
    if matches!(at(i), Some(b'.' | b',')) {
        i += 1;
        let start = i;
        while at(i).is_some_and(|c| c.is_ascii_digit()) {
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    if at(i) == Some(b' ') {
        i += 1;
    }
    let mut offset = 0i64;
    match at(i) {
        None => {}
        Some(b'Z' | b'z') => i += 1,
        Some(sign @ (b'+' | b'-')) => {
            let hh = num(i + 1, i + 3)?;
            i += 3;
            if at(i) == Some(b':') {
                i += 1;
            }
            let mm = if at(i).is_some_and(|c| c.is_ascii_digit()) {
                i += 2;
                num(i - 2, i)?
            } else {
                0
            };
            if hh > 23 || mm > 59 {
                return None;
            }
            offset = (hh * 3600 + mm * 60) * if sign == b'-' { -1 } else { 1 };
        }
        Some(_) => return None,
    }
    // Go appends the zone abbreviation after a blank ("UTC", "CET", "+03").
    if at(i) == Some(b' ') {
        let abbr = b.get(i + 1..)?;
        if abbr.is_empty() || !abbr.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-')) {
            return None;
        }
        i = b.len();
    }
    if i != b.len() {
        return None;
    }
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s - offset;
    u64::try_from(secs).ok()
}

/// Epoch seconds from `sec[.frac]` text (fraction dropped).
pub(crate) fn parse_epoch(b: &[u8]) -> Option<u64> {
    let (int, frac) = match memchr::memchr(b'.', b) {
        Some(p) => (&b[..p], &b[p + 1..]),
        None => (b, &b""[..]),
    };
    if !frac.iter().all(u8::is_ascii_digit) {
        return None;
    }
    parse_u64(int)
}

/// Epoch seconds from a JSON number (fraction dropped); `None` if negative or absurd.
pub(crate) fn epoch_from_f64(f: f64) -> Option<u64> {
    (f.is_finite() && (0.0..1e13).contains(&f)).then_some(f as u64)
}

/// The text after the colon of the first `"key":` in `line` (leading blanks skipped), found
/// without building a substring searcher: cheap for the short lines and keys of log records.
pub(crate) fn first_value<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    for q in memchr::memchr_iter(b'"', line) {
        let Some(rest) = line.get(q + 1..).and_then(|r| r.strip_prefix(key)) else { continue };
        let Some(rest) = rest.strip_prefix(b"\"") else { continue };
        if let Some(v) = rest.trim_ascii_start().strip_prefix(b":") {
            return Some(v.trim_ascii_start());
        }
    }
    None
}

/// The line as text for `serde_json::from_str`: UTF-8 is checked once for the whole line
/// instead of string by string (which is what `from_slice` does).
pub(crate) fn json_text(line: &[u8]) -> Result<&str, ParseError> {
    std::str::from_utf8(line).map_err(|e| ParseError::new("bad json", format!("not UTF-8: {e}")))
}

/// True if the JSON text has `"key"` followed by `:` and the string `"value"` (blanks allowed).
/// A cheap pre-check on raw lines; any occurrence counts.
pub(crate) fn has_kv(line: &[u8], key: &[u8], value: &[u8]) -> bool {
    kv_value(line, key)
        .any(|v| v.strip_prefix(b"\"").and_then(|v| v.strip_prefix(value)).is_some_and(|r| r.first() == Some(&b'"')))
}

/// True if the JSON text has `"key"` followed by `:` (blanks allowed).
pub(crate) fn has_key(line: &[u8], key: &[u8]) -> bool {
    kv_value(line, key).next().is_some()
}

/// For each `"key":` in `line`, the text after the colon (leading blanks skipped).
fn kv_value<'a>(line: &'a [u8], key: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    memchr::memmem::find_iter(line, key).filter_map(move |p| {
        if p == 0 || line.get(p - 1) != Some(&b'"') {
            return None;
        }
        let rest = line.get(p + key.len()..)?.strip_prefix(b"\"")?;
        let rest = rest.trim_ascii_start().strip_prefix(b":")?;
        Some(rest.trim_ascii_start())
    })
}

/// A JSON string that borrows from the line when it has no escapes. (serde borrows a bare
/// `Cow<str>` field with `#[serde(borrow)]`, but inside an `Option` it always allocates.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text<'a>(pub(crate) Cow<'a, str>);

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

/// A JSON scalar of a field whose type varies between producers (a number or a string), read
/// without serde's `untagged` buffering and error building.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// A non-negative integer.
    U(u64),
    /// A negative integer.
    I(i64),
    /// A number with a fraction or exponent.
    F(f64),
    /// A string.
    S(Cow<'a, str>),
    /// `true`, `false` or `null`.
    Other,
}

impl Scalar<'_> {
    /// The value as a non-negative integer: integers, integral floats, decimal strings.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::U(u) => Some(*u),
            Scalar::F(f) if *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19 => Some(*f as u64),
            Scalar::S(s) => parse_u64(s.trim().as_bytes()),
            _ => None,
        }
    }

    /// Appends a byte form that tells values apart (for grouping keys).
    pub(crate) fn write_key(&self, out: &mut Vec<u8>) {
        match self {
            Scalar::U(u) => out.extend_from_slice(&u.to_le_bytes()),
            Scalar::I(i) => out.extend_from_slice(&i.to_le_bytes()),
            Scalar::F(f) => out.extend_from_slice(&f.to_le_bytes()),
            Scalar::S(s) => out.extend_from_slice(s.as_bytes()),
            Scalar::Other => {}
        }
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a number or a string")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::U(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(if v >= 0 { Scalar::U(v as u64) } else { Scalar::I(v) })
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::F(v))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::S(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::S(Cow::Owned(v.to_string())))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
            fn visit_unit<E>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// True for the query types whose answer section is not a plain answer chain (ANY, MAILA,
/// MAILB: several types at once; AXFR, IXFR: a whole zone).
pub(crate) fn is_meta_qtype(t: RrType) -> bool {
    matches!(t.0, 251..=255)
}

/// One record of an answer section, as collected by [`Rrsets`].
struct Rec {
    owner: usize,
    rrtype: RrType,
    ttl: Option<u32>,
    rdata: Rdata,
}

/// An answer section being rebuilt: distinct owner names and records, re-used across lines
/// without reallocating; emitted as one observation per (owner, type) RRset.
#[derive(Default)]
pub(crate) struct Rrsets {
    owners: Vec<Name>,
    n_owners: usize,
    recs: Vec<Rec>,
    n_recs: usize,
    done: Vec<bool>,
    /// Scratch space for parsing names and rdata.
    pub(crate) scratch: Scratch,
}

impl Rrsets {
    /// Forgets everything collected.
    pub(crate) fn clear(&mut self) {
        self.n_owners = 0;
        self.n_recs = 0;
    }

    /// Number of records collected.
    pub(crate) fn len(&self) -> usize {
        self.n_recs
    }

    /// The index of an owner name printed as `text`, adding it if new.
    pub(crate) fn owner(&mut self, text: &[u8], esc: Escapes) -> Result<usize, NameError> {
        if self.n_owners == self.owners.len() {
            self.owners.push(Name::root());
        }
        let slot = &mut self.owners[self.n_owners];
        set_name(slot, text, esc, &mut self.scratch.buf)?;
        Ok(self.intern_last())
    }

    /// The index of the owner whose wire form is `wire`, if collected.
    fn find(&self, wire: &[u8]) -> Option<usize> {
        self.owners[..self.n_owners].iter().position(|n| n.as_wire() == wire)
    }

    /// Keeps the name just written to the first free owner slot unless it is already known.
    fn intern_last(&mut self) -> usize {
        let new = &self.owners[self.n_owners];
        match self.find(new.as_wire()) {
            Some(i) => i,
            None => {
                self.n_owners += 1;
                self.n_owners - 1
            }
        }
    }

    /// The index of the owner equal to the name in `self.scratch.name`, adding it if new.
    pub(crate) fn owner_from_scratch(&mut self) -> usize {
        if let Some(i) = self.find(self.scratch.name.as_wire()) {
            return i;
        }
        if self.n_owners == self.owners.len() {
            self.owners.push(Name::root());
        }
        std::mem::swap(&mut self.owners[self.n_owners], &mut self.scratch.name);
        self.n_owners += 1;
        self.n_owners - 1
    }

    /// Adds a record and returns its rdata for the caller to fill ([`Rrsets::pop`] it on failure).
    pub(crate) fn push(&mut self, owner: usize, rrtype: RrType, ttl: Option<u32>) -> &mut Rdata {
        if self.n_recs == self.recs.len() {
            self.recs.push(Rec { owner, rrtype, ttl, rdata: Rdata::Wire(Vec::new()) });
        }
        let r = &mut self.recs[self.n_recs];
        (r.owner, r.rrtype, r.ttl) = (owner, rrtype, ttl);
        self.n_recs += 1;
        &mut r.rdata
    }

    /// Adds a record, filling its rdata with [`set_rdata`]; on error nothing is added.
    pub(crate) fn push_text(
        &mut self,
        owner: usize,
        rrtype: RrType,
        ttl: Option<u32>,
        text: &[u8],
        esc: Escapes,
    ) -> Result<(), String> {
        if self.n_recs == self.recs.len() {
            self.recs.push(Rec { owner, rrtype, ttl, rdata: Rdata::Wire(Vec::new()) });
        }
        let r = &mut self.recs[self.n_recs];
        (r.owner, r.rrtype, r.ttl) = (owner, rrtype, ttl);
        set_rdata(&mut r.rdata, rrtype, text, esc, &mut self.scratch)?;
        self.n_recs += 1;
        Ok(())
    }

    /// Adds a record whose rdata is `bytes` in wire form.
    pub(crate) fn push_wire(&mut self, owner: usize, rrtype: RrType, ttl: Option<u32>, bytes: &[u8]) {
        wire(self.push(owner, rrtype, ttl)).extend_from_slice(bytes);
    }

    /// Adds a record whose rdata is the name in `self.scratch.name`: in wire form, or as text
    /// when `lossy` (the name alone of a type whose rdata has more fields, like an MX exchange).
    pub(crate) fn push_scratch_name(&mut self, owner: usize, rrtype: RrType, ttl: Option<u32>, lossy: bool) {
        if self.n_recs == self.recs.len() {
            self.recs.push(Rec { owner, rrtype, ttl, rdata: Rdata::Wire(Vec::new()) });
        }
        let r = &mut self.recs[self.n_recs];
        (r.owner, r.rrtype, r.ttl) = (owner, rrtype, ttl);
        if lossy {
            r.rdata = Rdata::Text(self.scratch.name.to_presentation());
        } else {
            wire(&mut r.rdata).extend_from_slice(self.scratch.name.as_wire());
        }
        self.n_recs += 1;
    }

    /// Drops the record added last.
    pub(crate) fn pop(&mut self) {
        self.n_recs = self.n_recs.saturating_sub(1);
    }

    /// True if a record with this owner, type and rdata was collected already.
    pub(crate) fn contains_last_dup(&self) -> bool {
        let Some((last, before)) = self.recs[..self.n_recs].split_last() else { return false };
        before.iter().any(|r| r.owner == last.owner && r.rrtype == last.rrtype && r.rdata == last.rdata)
    }

    /// Follows CNAMEs from `start`: the owners on the chain are marked in `self.done` (by owner
    /// index) and the last name of the chain is returned as an owner index, or as the wire form
    /// of a CNAME target that owns nothing collected.
    fn follow_chain(&mut self, start: usize) -> ChainEnd {
        self.done.clear();
        self.done.resize(self.n_owners, false);
        let mut cur = start;
        loop {
            if let Some(d) = self.done.get_mut(cur) {
                if *d {
                    return ChainEnd::Owner(cur); // a CNAME loop
                }
                *d = true;
            }
            let next = self.recs[..self.n_recs].iter().find(|r| r.owner == cur && r.rrtype == RrType::CNAME);
            let Some(Rdata::Wire(target)) = next.map(|r| &r.rdata) else {
                return ChainEnd::Owner(cur);
            };
            match self.find(target) {
                Some(i) => cur = i,
                None => return ChainEnd::Outside(target.clone()),
            }
        }
    }

    /// Drops the records not on the answer chain from owner `start` (see [`Rrsets::follow_chain`]);
    /// returns the end of the chain.
    pub(crate) fn retain_chain(&mut self, start: usize) -> ChainEnd {
        let end = self.follow_chain(start);
        let mut kept = 0;
        for i in 0..self.n_recs {
            let on_chain = self.done.get(self.recs[i].owner).copied().unwrap_or(false);
            if on_chain {
                self.recs.swap(kept, i);
                kept += 1;
            }
        }
        self.n_recs = kept;
        end
    }

    /// Emits one observation per (owner, type) RRset, in order of first appearance. `obs` must
    /// carry the times, count, sensor and zone flag already; rrname, rrtype, rdata, ttl,
    /// bailiwick and negative are set here. Returns the number of observations.
    pub(crate) fn emit(&mut self, obs: &mut Observation, emit: &mut dyn FnMut(&mut Observation)) -> u32 {
        let n = self.n_recs;
        self.done.clear();
        self.done.resize(n, false);
        obs.bailiwick = None;
        obs.negative = None;
        let mut out = 0;
        for i in 0..n {
            if self.done[i] {
                continue;
            }
            let (owner, rrtype) = (self.recs[i].owner, self.recs[i].rrtype);
            let mut k = 0;
            let mut ttl: Option<u32> = None;
            for j in i..n {
                let r = &mut self.recs[j];
                if self.done[j] || r.owner != owner || r.rrtype != rrtype {
                    continue;
                }
                self.done[j] = true;
                if k == obs.rdata.len() {
                    obs.rdata.push(Rdata::Wire(Vec::new()));
                }
                if let Some(slot) = obs.rdata.get_mut(k) {
                    std::mem::swap(slot, &mut r.rdata);
                }
                k += 1;
                ttl = match (ttl, r.ttl) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            obs.rdata.truncate(k);
            obs.rrtype = rrtype;
            obs.ttl = ttl;
            let Some(name) = self.owners.get_mut(owner) else { continue };
            std::mem::swap(&mut obs.rrname, name);
            emit(obs);
            std::mem::swap(&mut obs.rrname, name);
            out += 1;
        }
        self.n_recs = 0;
        out
    }

    /// Emits a negative observation for `at` (see [`Rrsets::retain_chain`]) and `rrtype`.
    pub(crate) fn emit_negative(
        &mut self,
        obs: &mut Observation,
        at: &ChainEnd,
        rrtype: RrType,
        negative: Negative,
        emit: &mut dyn FnMut(&mut Observation),
    ) -> u32 {
        obs.rdata.clear();
        obs.rrtype = rrtype;
        obs.ttl = None;
        obs.bailiwick = None;
        obs.negative = Some(negative);
        let out = match at {
            ChainEnd::Owner(i) => match self.owners[..self.n_owners].get_mut(*i) {
                Some(name) => {
                    std::mem::swap(&mut obs.rrname, name);
                    emit(obs);
                    std::mem::swap(&mut obs.rrname, name);
                    1
                }
                None => 0,
            },
            ChainEnd::Outside(wire) => match Name::from_wire(wire) {
                Ok(name) => {
                    obs.rrname = name;
                    emit(obs);
                    1
                }
                Err(_) => 0,
            },
        };
        obs.negative = None;
        out
    }
}

/// Where an answer chain ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ChainEnd {
    /// At a collected owner name (by index).
    Owner(usize),
    /// At a CNAME target (wire form) that owns no collected record.
    Outside(Vec<u8>),
}

/// Sets the per-line fields every sensor-log observation shares.
pub(crate) fn set_base(obs: &mut Observation, time: u64, sensor: Option<&str>) {
    obs.time_first = time;
    obs.time_last = time;
    obs.zone = false;
    obs.count = 1;
    if obs.sensor.as_deref() != sensor {
        obs.sensor = sensor.map(str::to_string);
    }
}

/// What a response's rcode means for passive DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rcode {
    /// NOERROR.
    NoError,
    /// NXDOMAIN.
    NxDomain,
    /// Anything else (SERVFAIL, REFUSED, …): nothing is learnt.
    Error,
}

impl Rcode {
    /// From the numeric rcode.
    pub(crate) fn from_num(n: u64) -> Rcode {
        match n {
            0 => Rcode::NoError,
            3 => Rcode::NxDomain,
            _ => Rcode::Error,
        }
    }

    /// From an rcode name (`NOERROR`, `NXDOMAIN`, any case).
    pub(crate) fn from_name(s: &str) -> Rcode {
        if s.eq_ignore_ascii_case("NOERROR") {
            Rcode::NoError
        } else if s.eq_ignore_ascii_case("NXDOMAIN") {
            Rcode::NxDomain
        } else {
            Rcode::Error
        }
    }
}

/// What a response adds besides its answer chain, and why a line gave nothing.
pub(crate) struct Outcome {
    /// The response's rcode.
    pub(crate) rcode: Rcode,
    /// The query type, if known.
    pub(crate) qtype: Option<RrType>,
    /// The response had no answer records at all.
    pub(crate) empty: bool,
    /// AA or RA was set (the empty answer is a real NODATA, not a referral).
    pub(crate) definitive: bool,
    /// The response was truncated.
    pub(crate) truncated: bool,
}

/// Emits the collected RRsets and the negative answer the response implies, if asked for.
/// `qname` is the owner index of the query name (the chain start), if known. Returns the
/// outcome for the line: the observations, or why there were none.
pub(crate) fn finish_response(
    sets: &mut Rrsets,
    qname: Option<usize>,
    o: &Outcome,
    keep_negative: bool,
    obs: &mut Observation,
    emit: &mut dyn FnMut(&mut Observation),
) -> LineOutcome {
    let end = match qname {
        Some(q) => sets.retain_chain(q),
        None => ChainEnd::Owner(usize::MAX),
    };
    let had = sets.len();
    let mut n = sets.emit(obs, emit);
    let mut skip = "no usable answers";
    match o.rcode {
        Rcode::NxDomain => match (o.qtype, qname) {
            (Some(t), Some(_)) if keep_negative => n += sets.emit_negative(obs, &end, t, Negative::NxDomain, emit),
            (None, _) if keep_negative => skip = "negative answer without query type",
            _ => skip = "negative answer",
        },
        Rcode::NoError if o.empty && had == 0 => {
            if o.truncated {
                skip = "truncated response";
            } else if !o.definitive || qname.is_none() || o.qtype.is_none_or(is_meta_qtype) {
                skip = "no answer";
            } else if let (true, Some(t)) = (keep_negative, o.qtype) {
                n += sets.emit_negative(obs, &end, t, Negative::NoData, emit);
            } else {
                skip = "negative answer";
            }
        }
        Rcode::NoError => {}
        Rcode::Error if had == 0 => skip = "error response",
        Rcode::Error => {}
    }
    sets.clear();
    if n > 0 {
        LineOutcome::Observations(n)
    } else {
        LineOutcome::Skipped(skip)
    }
}

// ---------------------------------------------------------------------------------------------
// Suricata EVE.
// ---------------------------------------------------------------------------------------------

/// Parser for Suricata EVE JSON lines (only `dns` events are used).
pub struct SuricataParser {
    sensor: Option<String>,
    negative: bool,
    obs: Observation,
    sets: Rrsets,
    text: String,
}

impl SuricataParser {
    /// A parser honouring `opts.sensor` and `opts.negative`.
    pub fn new(opts: &SourceOptions) -> SuricataParser {
        SuricataParser {
            sensor: opts.sensor.clone(),
            negative: opts.negative,
            obs: Observation::default(),
            sets: Rrsets::default(),
            text: String::new(),
        }
    }
}

#[derive(serde::Deserialize)]
struct Eve<'a> {
    #[serde(borrow)]
    timestamp: Option<Text<'a>>,
    #[serde(borrow)]
    event_type: Option<Text<'a>>,
    #[serde(borrow)]
    host: Option<Text<'a>>,
    #[serde(borrow)]
    dns: Option<Dns<'a>>,
}

#[derive(serde::Deserialize)]
struct Dns<'a> {
    version: Option<u64>,
    #[serde(borrow, rename = "type")]
    kind: Option<Text<'a>>,
    opcode: Option<u64>,
    #[serde(default)]
    aa: bool,
    #[serde(default)]
    tc: bool,
    #[serde(default)]
    ra: bool,
    #[serde(borrow)]
    rcode: Option<Text<'a>>,
    #[serde(borrow)]
    queries: Option<Vec<Query<'a>>>,
    #[serde(borrow)]
    answers: Option<Vec<Answer<'a>>>,
    #[serde(borrow)]
    grouped: Option<BTreeMap<Cow<'a, str>, Vec<Grouped<'a>>>>,
    // v1: the record (or, in a failure event, the query name); v2: the first query
    #[serde(borrow)]
    rrname: Option<Text<'a>>,
    #[serde(borrow)]
    rrtype: Option<Text<'a>>,
    ttl: Option<u64>,
    #[serde(borrow)]
    rdata: Option<Text<'a>>,
    #[serde(borrow)]
    soa: Option<Box<Soa<'a>>>,
    #[serde(borrow)]
    srv: Option<Box<Srv<'a>>>,
    #[serde(borrow)]
    sshfp: Option<Box<Sshfp<'a>>>,
    #[serde(default)]
    rrname_truncated: bool,
    #[serde(default)]
    rdata_truncated: bool,
}

#[derive(serde::Deserialize)]
struct Query<'a> {
    #[serde(borrow)]
    rrname: Option<Text<'a>>,
    #[serde(borrow)]
    rrtype: Option<Text<'a>>,
}

#[derive(serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    rrname: Option<Text<'a>>,
    #[serde(borrow)]
    rrtype: Option<Text<'a>>,
    ttl: Option<u64>,
    #[serde(borrow)]
    rdata: Option<Text<'a>>,
    #[serde(borrow)]
    soa: Option<Box<Soa<'a>>>,
    #[serde(borrow)]
    srv: Option<Box<Srv<'a>>>,
    #[serde(borrow)]
    sshfp: Option<Box<Sshfp<'a>>>,
    #[serde(default)]
    rrname_truncated: bool,
    #[serde(default)]
    rdata_truncated: bool,
}

#[derive(serde::Deserialize)]
struct Soa<'a> {
    #[serde(borrow)]
    mname: Cow<'a, str>,
    #[serde(borrow)]
    rname: Cow<'a, str>,
    serial: u64,
    refresh: u64,
    retry: u64,
    expire: u64,
    minimum: u64,
}

#[derive(serde::Deserialize)]
struct Srv<'a> {
    priority: u64,
    weight: u64,
    port: u64,
    #[serde(borrow)]
    name: Cow<'a, str>,
}

#[derive(serde::Deserialize)]
struct Sshfp<'a> {
    #[serde(borrow)]
    fingerprint: Cow<'a, str>,
    algo: u64,
    #[serde(rename = "type")]
    kind: u64,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Grouped<'a> {
    #[serde(borrow)]
    Text(Cow<'a, str>),
    #[serde(borrow)]
    Soa(Soa<'a>),
    #[serde(borrow)]
    Srv(Srv<'a>),
    #[serde(borrow)]
    Sshfp(Sshfp<'a>),
    Other(serde::de::IgnoredAny),
}

/// A record's data as Suricata logged it.
enum Data<'x> {
    Text(&'x str),
    Soa(&'x Soa<'x>),
    Srv(&'x Srv<'x>),
    Sshfp(&'x Sshfp<'x>),
}

/// The data of a record: whichever of `rdata`, `soa`, `srv`, `sshfp` is present.
fn data_of<'x>(
    rdata: &'x Option<Text<'x>>,
    soa: &'x Option<Box<Soa<'x>>>,
    srv: &'x Option<Box<Srv<'x>>>,
    sshfp: &'x Option<Box<Sshfp<'x>>>,
) -> Option<Data<'x>> {
    if let Some(t) = rdata {
        return Some(Data::Text(t));
    }
    if let Some(s) = soa {
        return Some(Data::Soa(s));
    }
    if let Some(s) = srv {
        return Some(Data::Srv(s));
    }
    sshfp.as_deref().map(Data::Sshfp)
}

impl Answer<'_> {
    fn data(&self) -> Option<Data<'_>> {
        data_of(&self.rdata, &self.soa, &self.srv, &self.sshfp)
    }
}

impl Dns<'_> {
    fn data(&self) -> Option<Data<'_>> {
        data_of(&self.rdata, &self.soa, &self.srv, &self.sshfp)
    }
}

impl Grouped<'_> {
    fn data(&self) -> Option<Data<'_>> {
        match self {
            Grouped::Text(t) => Some(Data::Text(t)),
            Grouped::Soa(s) => Some(Data::Soa(s)),
            Grouped::Srv(s) => Some(Data::Srv(s)),
            Grouped::Sshfp(s) => Some(Data::Sshfp(s)),
            Grouped::Other(_) => None,
        }
    }
}

/// A name for presentation text: Suricata prints the root as an empty string.
fn pname(s: &str) -> &str {
    if s.is_empty() {
        "."
    } else {
        s
    }
}

/// Adds one record from Suricata's data for it.
fn push_data(
    sets: &mut Rrsets,
    text: &mut String,
    owner: usize,
    rrtype: RrType,
    ttl: Option<u32>,
    data: &Data<'_>,
) -> Result<(), ParseError> {
    let esc = Escapes::Hex { all: false };
    let bad = |why: String| ParseError::new("bad rdata", format!("{rrtype}: {why}"));
    text.clear();
    let t: &str = match data {
        Data::Text(t) if matches!(rrtype, RrType::TXT | RrType::SPF) => {
            // one character-string per entry, \xNN for non-UTF-8 bytes
            let rd = sets.push(owner, rrtype, ttl);
            let w = wire(rd);
            w.push(0);
            unescape_hex(t.as_bytes(), false, w);
            let len = w.len() - 1;
            if let (Ok(l), Some(first)) = (u8::try_from(len), w.first_mut()) {
                *first = l;
                return Ok(());
            }
            sets.pop();
            return Err(bad(format!("character-string of {len} octets")));
        }
        Data::Text(t) => t,
        Data::Soa(s) => {
            let _ = write!(
                text,
                "{} {} {} {} {} {} {}",
                pname(&s.mname),
                pname(&s.rname),
                s.serial,
                s.refresh,
                s.retry,
                s.expire,
                s.minimum
            );
            text
        }
        Data::Srv(s) => {
            let _ = write!(text, "{} {} {} {}", s.priority, s.weight, s.port, pname(&s.name));
            text
        }
        Data::Sshfp(s) => {
            let _ = write!(text, "{} {} ", s.algo, s.kind);
            text.extend(s.fingerprint.chars().filter(|&c| c != ':'));
            text
        }
    };
    sets.push_text(owner, rrtype, ttl, t.as_bytes(), esc).map_err(|e| bad(format!("{t:?}: {e}")))
}

fn missing(field: &str) -> ParseError {
    ParseError::new("missing field", field.to_string())
}

impl SuricataParser {
    /// A v1 event: one record, or a failed lookup.
    fn v1(&mut self, dns: &Dns<'_>, emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let rr = dns;
        let rrname = rr.rrname.as_deref().ok_or_else(|| missing("dns.rrname"))?;
        let owner = self
            .sets
            .owner(rrname.as_bytes(), Escapes::Hex { all: false })
            .map_err(|e| ParseError::new("bad rrname", format!("{e}: {rrname:?}")))?;
        let rrtype = match &rr.rrtype {
            Some(t) => {
                Some(rrtype_of(t.as_bytes()).ok_or_else(|| ParseError::new("unknown rrtype", format!("{t:?}")))?)
            }
            None => None,
        };
        let rcode = Rcode::from_name(dns.rcode.as_deref().unwrap_or("NOERROR"));
        if rcode != Rcode::NoError {
            let o = Outcome { rcode, qtype: rrtype, empty: true, definitive: true, truncated: false };
            return Ok(finish_response(&mut self.sets, Some(owner), &o, self.negative, &mut self.obs, emit));
        }
        let rrtype = rrtype.ok_or_else(|| missing("dns.rrtype"))?;
        if rr.rrname_truncated || rr.rdata_truncated {
            self.sets.clear();
            return Ok(LineOutcome::Skipped("truncated name"));
        }
        let Some(data) = rr.data() else {
            self.sets.clear();
            return Ok(LineOutcome::Skipped("rdata not logged"));
        };
        let ttl = rr.ttl.map(|t| u32::try_from(t).unwrap_or(u32::MAX));
        if let Err(e) = push_data(&mut self.sets, &mut self.text, owner, rrtype, ttl, &data) {
            self.sets.clear();
            return Err(e);
        }
        let n = self.sets.emit(&mut self.obs, emit);
        self.sets.clear();
        Ok(LineOutcome::Observations(n))
    }

    /// A v2/v3 response: the answer chain as RRsets, plus the negative answer it implies.
    fn response(&mut self, dns: &Dns<'_>, emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let (qname, qtype) = match dns.queries.as_ref().and_then(|q| q.first()) {
            Some(q) => (q.rrname.as_deref(), q.rrtype.as_deref()),
            None => (dns.rrname.as_deref(), dns.rrtype.as_deref()),
        };
        let qtype = match qtype {
            Some(t) => {
                Some(rrtype_of(t.as_bytes()).ok_or_else(|| ParseError::new("unknown rrtype", format!("{t:?}")))?)
            }
            None => None,
        };
        let esc = Escapes::Hex { all: false };
        let q = match qname {
            Some(n) => Some(
                self.sets.owner(n.as_bytes(), esc).map_err(|e| ParseError::new("bad rrname", format!("{e}: {n:?}")))?,
            ),
            None => None,
        };
        let mut empty = true;
        if let Some(answers) = &dns.answers {
            for a in answers {
                empty = false;
                let (Some(name), Some(t)) = (a.rrname.as_deref(), a.rrtype.as_deref()) else {
                    return Err(missing("dns.answers[].rrname/rrtype"));
                };
                let rrtype =
                    rrtype_of(t.as_bytes()).ok_or_else(|| ParseError::new("unknown rrtype", format!("{t:?}")))?;
                let Some(data) = a.data() else { continue };
                if a.rrname_truncated || a.rdata_truncated {
                    continue;
                }
                let owner = self
                    .sets
                    .owner(name.as_bytes(), esc)
                    .map_err(|e| ParseError::new("bad rrname", format!("{e}: {name:?}")))?;
                let ttl = a.ttl.map(|t| u32::try_from(t).unwrap_or(u32::MAX));
                push_data(&mut self.sets, &mut self.text, owner, rrtype, ttl, &data)?;
            }
        } else if let Some(grouped) = &dns.grouped {
            empty = grouped.is_empty();
            if !empty {
                let q = q.ok_or_else(|| missing("dns.rrname (needed to place grouped answers)"))?;
                let cnames = grouped.iter().find(|(k, _)| k.eq_ignore_ascii_case("CNAME")).map(|(_, v)| v.as_slice());
                let data_owner = match cnames {
                    None | Some([]) => q,
                    Some([c]) => {
                        let Some(Data::Text(target)) = c.data() else {
                            return Err(ParseError::new("bad rdata", "grouped CNAME is not a name"));
                        };
                        push_data(&mut self.sets, &mut self.text, q, RrType::CNAME, None, &Data::Text(target))?;
                        self.sets
                            .owner(target.as_bytes(), esc)
                            .map_err(|e| ParseError::new("bad rdata", format!("CNAME {target:?}: {e}")))?
                    }
                    Some(_) => {
                        self.sets.clear();
                        return Ok(LineOutcome::Skipped("ambiguous grouped answer"));
                    }
                };
                for (t, items) in grouped {
                    let rrtype =
                        rrtype_of(t.as_bytes()).ok_or_else(|| ParseError::new("unknown rrtype", format!("{t:?}")))?;
                    if rrtype == RrType::CNAME {
                        continue;
                    }
                    for item in items {
                        if let Some(data) = item.data() {
                            push_data(&mut self.sets, &mut self.text, data_owner, rrtype, None, &data)?;
                        }
                    }
                }
            }
        }
        let rcode = Rcode::from_name(dns.rcode.as_deref().unwrap_or("NOERROR"));
        let o = Outcome { rcode, qtype, empty, definitive: dns.aa || dns.ra, truncated: dns.tc };
        Ok(finish_response(&mut self.sets, q, &o, self.negative, &mut self.obs, emit))
    }
}

impl LineParser for SuricataParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        // most EVE lines are other events: skip them without parsing the JSON
        if first_value(line, b"event_type").is_some_and(|v| !v.starts_with(b"\"dns\"")) {
            return Ok(LineOutcome::Skipped("not a dns event"));
        }
        let ev: Eve<'_> =
            serde_json::from_str(json_text(line)?).map_err(|e| ParseError::new("bad json", e.to_string()))?;
        match ev.event_type.as_deref() {
            Some("dns") => {}
            Some(_) => return Ok(LineOutcome::Skipped("not a dns event")),
            None => return Err(missing("event_type")),
        }
        let dns = ev.dns.as_ref().ok_or_else(|| missing("dns"))?;
        match dns.kind.as_deref() {
            Some("answer" | "response") => {}
            Some("query" | "request") => return Ok(LineOutcome::Skipped("query event")),
            Some(other) => return Err(ParseError::new("bad field", format!("dns.type: {other:?}"))),
            None => return Err(missing("dns.type")),
        }
        if dns.opcode.is_some_and(|op| op != 0) {
            return Ok(LineOutcome::Skipped("not a standard query"));
        }
        let ts = ev.timestamp.as_deref().ok_or_else(|| missing("timestamp"))?;
        let time =
            parse_time(ts.as_bytes()).ok_or_else(|| ParseError::new("bad time", format!("timestamp: {ts:?}")))?;
        let sensor = self.sensor.as_deref().or(ev.host.as_deref().filter(|h| !h.is_empty()));
        set_base(&mut self.obs, time, sensor);
        self.sets.clear();
        let v1 = dns.version.is_none() && dns.queries.is_none() && dns.answers.is_none() && dns.grouped.is_none();
        let r = if v1 { self.v1(dns, emit) } else { self.response(dns, emit) };
        if r.is_err() {
            self.sets.clear();
        }
        r
    }
}

/// True if the JSON `line` is a Suricata EVE event (any type: a mixed EVE file is still EVE).
pub fn sniff(line: &[u8]) -> bool {
    has_key(line, b"event_type") && has_key(line, b"timestamp")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn parser(negative: bool) -> SuricataParser {
        SuricataParser::new(&SourceOptions { negative, ..Default::default() })
    }

    fn run(p: &mut SuricataParser, line: &str) -> Result<(LineOutcome, Vec<Observation>), ParseError> {
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()))?;
        Ok((r, out))
    }

    fn obs(line: &str) -> Vec<Observation> {
        let (r, v) = run(&mut parser(false), line).unwrap();
        assert_eq!(r, LineOutcome::Observations(v.len() as u32), "{line}");
        v
    }

    fn skip(line: &str, negative: bool) -> &'static str {
        match run(&mut parser(negative), line).unwrap() {
            (LineOutcome::Skipped(why), v) if v.is_empty() => why,
            other => panic!("not skipped: {:?}", other.0),
        }
    }

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn a(ip: &str) -> Rdata {
        Rdata::ipv4(ip.parse().unwrap())
    }

    fn present(o: &Observation) -> Vec<String> {
        let mut v: Vec<String> = o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect();
        v.sort();
        v
    }

    // Shape of the v2 "detailed" answer in Suricata's 8.0-dns-logging-changes.rst (7.0 column),
    // with the event header fields EVE puts around every event.
    const V2: &str = r#"{"timestamp":"2024-01-15T10:00:00.123456+0100","flow_id":1234567890,"in_iface":"eth0","event_type":"dns","src_ip":"192.0.2.53","src_port":53,"dest_ip":"198.51.100.7","dest_port":40000,"proto":"UDP","host":"sensor-7","dns":{"version":2,"type":"answer","id":4711,"flags":"8180","qr":true,"rd":true,"ra":true,"opcode":0,"rrname":"www.example.org","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.example.org","rrtype":"CNAME","ttl":3597,"rdata":"cdn.example.net"},{"rrname":"cdn.example.net","rrtype":"A","ttl":597,"rdata":"192.0.2.10"},{"rrname":"cdn.example.net","rrtype":"A","ttl":300,"rdata":"192.0.2.11"}],"authorities":[{"rrname":"example.net","rrtype":"NS","ttl":3600,"rdata":"ns1.example.net"}]}}"#;

    #[test]
    fn v2_detailed_answer_chain() {
        let v = obs(V2);
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].rrname.clone(), v[0].rrtype), (n("www.example.org"), RrType::CNAME));
        assert_eq!(v[0].rdata.as_slice(), &[Rdata::name(&n("cdn.example.net"))]);
        assert_eq!(v[0].ttl, Some(3597));
        assert_eq!((v[1].rrname.clone(), v[1].rrtype), (n("cdn.example.net"), RrType::A));
        assert_eq!(present(&v[1]), ["192.0.2.10", "192.0.2.11"]);
        assert_eq!(v[1].ttl, Some(300));
        for o in &v {
            // 10:00:00+01:00 is 09:00:00 UTC
            assert_eq!((o.time_first, o.time_last, o.count), (1705309200, 1705309200, 1));
            assert_eq!(o.sensor.as_deref(), Some("sensor-7"));
            assert_eq!((o.bailiwick.clone(), o.negative, o.zone), (None, None, false));
        }
        // the configured sensor wins over the event's host
        let mut p = SuricataParser::new(&SourceOptions { sensor: Some("cli".into()), ..Default::default() });
        let (_, v) = run(&mut p, V2).unwrap();
        assert_eq!(v[0].sensor.as_deref(), Some("cli"));
    }

    #[test]
    fn v3_response_and_records_off_the_chain() {
        // Suricata 8 shape (8.0-dns-logging-changes.rst), plus an answer record owned by a
        // name outside the chain, which is dropped.
        let line = r#"{"timestamp":"2024-01-15T10:00:00.000000+0000","flow_id":1,"event_type":"dns","src_ip":"192.0.2.53","src_port":53,"dest_ip":"198.51.100.7","dest_port":40000,"proto":"UDP","dns":{"version":3,"type":"response","tx_id":1,"id":0,"flags":"8580","qr":true,"aa":true,"rd":true,"ra":true,"opcode":0,"rcode":"NOERROR","queries":[{"rrname":"Mail.Example.org","rrtype":"MX"}],"answers":[{"rrname":"mail.example.org","rrtype":"MX","ttl":600,"rdata":"mx1.example.org"},{"rrname":"mail.example.org","rrtype":"MX","ttl":600,"rdata":"mx2.example.org"},{"rrname":"evil.example","rrtype":"A","ttl":600,"rdata":"203.0.113.66"}]}}"#;
        let v = obs(line);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].rrname.clone(), v[0].rrtype), (n("mail.example.org"), RrType::MX));
        // the exchange without its preference is kept as text
        assert_eq!(present(&v[0]), ["mx1.example.org.", "mx2.example.org."]);
        assert!(matches!(v[0].rdata[0], Rdata::Text(_)));
        assert_eq!(v[0].time_first, 1705312800);
        assert_eq!(v[0].sensor, None);
    }

    #[test]
    fn soa_srv_sshfp_txt_and_v6() {
        let line = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"rrname":"example.org","rrtype":"ANY","rcode":"NOERROR","answers":[{"rrname":"example.org","rrtype":"SOA","ttl":3600,"soa":{"mname":"ns1.example.org","rname":"hostmaster.example.org","serial":2024011501,"refresh":7200,"retry":900,"expire":1209600,"minimum":300}},{"rrname":"example.org","rrtype":"SRV","ttl":60,"srv":{"priority":10,"weight":5,"port":5060,"name":"sip.example.org"}},{"rrname":"example.org","rrtype":"SSHFP","ttl":60,"sshfp":{"fingerprint":"12:34:ab","algo":1,"type":1}},{"rrname":"example.org","rrtype":"TXT","ttl":60,"rdata":"v=spf1 -all"},{"rrname":"example.org","rrtype":"TXT","ttl":60,"rdata":"caf\\xe9"},{"rrname":"example.org","rrtype":"AAAA","ttl":60,"rdata":"2001:0db8:0000:0000:0000:0000:0000:0001"},{"rrname":"example.org","rrtype":"RRSIG","ttl":60}]}}"#;
        let v = obs(line);
        let by_type = |t: RrType| v.iter().find(|o| o.rrtype == t).unwrap();
        assert_eq!(v.len(), 5);
        assert_eq!(
            present(by_type(RrType::SOA)),
            ["ns1.example.org. hostmaster.example.org. 2024011501 7200 900 1209600 300"]
        );
        assert_eq!(present(by_type(RrType::SRV)), ["10 5 5060 sip.example.org."]);
        assert_eq!(present(by_type(RrType::SSHFP)), ["1 1 1234AB"]);
        assert_eq!(by_type(RrType::TXT).rdata.len(), 2);
        assert!(by_type(RrType::TXT).rdata.contains(&Rdata::Wire(b"\x04caf\xe9".to_vec())));
        assert!(by_type(RrType::TXT).rdata.contains(&Rdata::Wire(b"\x0bv=spf1 -all".to_vec())));
        assert_eq!(present(by_type(RrType::AAAA)), ["2001:db8::1"]);
    }

    #[test]
    fn v1_records_and_failures() {
        // Suricata 4.0 per-record shape (v1 logger: type/id/flags/rcode/rrname/rrtype/ttl/rdata)
        let v = obs(
            r#"{"timestamp":"2017-05-01T12:00:00.000001+0000","event_type":"dns","dns":{"type":"answer","id":16000,"flags":"8180","qr":true,"rd":true,"ra":true,"rcode":"NOERROR","rrname":"twitter.com","rrtype":"A","ttl":8,"rdata":"199.16.156.6"}}"#,
        );
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].rrname.clone(), v[0].rrtype, v[0].ttl), (n("twitter.com"), RrType::A, Some(8)));
        assert_eq!(v[0].rdata.as_slice(), &[a("199.16.156.6")]);
        assert_eq!(v[0].time_first, 1493640000);
        let fail = r#"{"timestamp":"2017-05-01T12:00:00.000001+0000","event_type":"dns","dns":{"type":"answer","id":16001,"rcode":"NXDOMAIN","rrname":"nx.example"}}"#;
        assert_eq!(skip(fail, false), "negative answer");
        assert_eq!(skip(fail, true), "negative answer without query type");
        let servfail = r#"{"timestamp":"2017-05-01T12:00:00+0000","event_type":"dns","dns":{"type":"answer","id":2,"rcode":"SERVFAIL","rrname":"x.example"}}"#;
        assert_eq!(skip(servfail, true), "error response");
        let no_rdata = r#"{"timestamp":"2017-05-01T12:00:00+0000","event_type":"dns","dns":{"type":"answer","id":2,"rcode":"NOERROR","rrname":"x.example","rrtype":"DNSKEY","ttl":5}}"#;
        assert_eq!(skip(no_rdata, false), "rdata not logged");
    }

    #[test]
    fn grouped_answers() {
        // "grouped" shape of eve-json-format.rst
        let one_cname = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":18523,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"www.suricata.io","rrtype":"A","rcode":"NOERROR","grouped":{"A":["192.0.78.24","192.0.78.25"],"CNAME":["suricata.io"]}}}"#;
        let v = obs(one_cname);
        assert_eq!(v.len(), 2);
        let cname = v.iter().find(|o| o.rrtype == RrType::CNAME).unwrap();
        assert_eq!(cname.rrname, n("www.suricata.io"));
        assert_eq!(cname.rdata.as_slice(), &[Rdata::name(&n("suricata.io"))]);
        let addrs = v.iter().find(|o| o.rrtype == RrType::A).unwrap();
        assert_eq!(addrs.rrname, n("suricata.io"));
        assert_eq!(present(addrs), ["192.0.78.24", "192.0.78.25"]);
        assert_eq!(addrs.ttl, None);
        let no_cname = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"rrname":"suricata.io","rrtype":"A","rcode":"NOERROR","grouped":{"A":["192.0.78.24"]}}}"#;
        let v = obs(no_cname);
        assert_eq!((v.len(), v[0].rrname.clone()), (1, n("suricata.io")));
        let two = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"rrname":"a.example","rrtype":"A","rcode":"NOERROR","grouped":{"A":["192.0.2.1"],"CNAME":["b.example","c.example"]}}}"#;
        assert_eq!(skip(two, false), "ambiguous grouped answer");
    }

    #[test]
    fn negative_answers() {
        let nx = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"flags":"8183","qr":true,"rd":true,"ra":true,"rrname":"nope.example","rrtype":"AAAA","rcode":"NXDOMAIN","authorities":[{"rrname":"example","rrtype":"SOA","ttl":899,"soa":{"mname":"ns.example","rname":"h.example","serial":1,"refresh":2,"retry":3,"expire":4,"minimum":5}}]}}"#;
        assert_eq!(skip(nx, false), "negative answer");
        let (r, v) = run(&mut parser(true), nx).unwrap();
        assert_eq!(r, LineOutcome::Observations(1));
        assert_eq!((v[0].rrname.clone(), v[0].rrtype), (n("nope.example"), RrType::AAAA));
        assert_eq!((v[0].negative, v[0].rdata.len(), v[0].ttl), (Some(Negative::NxDomain), 0, None));
        // NXDOMAIN behind a CNAME: the CNAME is data, the target does not exist
        let nx_chain = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":3,"type":"response","id":1,"ra":true,"rcode":"NXDOMAIN","queries":[{"rrname":"a.example","rrtype":"A"}],"answers":[{"rrname":"a.example","rrtype":"CNAME","ttl":60,"rdata":"gone.example.net"}]}}"#;
        let (_, v) = run(&mut parser(true), nx_chain).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].rrtype, v[0].negative), (RrType::CNAME, None));
        assert_eq!((v[1].rrname.clone(), v[1].rrtype), (n("gone.example.net"), RrType::A));
        assert_eq!(v[1].negative, Some(Negative::NxDomain));
        // NODATA needs an authoritative or recursive answer; a referral is not one
        let nodata = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"aa":true,"rrname":"example.org","rrtype":"AAAA","rcode":"NOERROR"}}"#;
        let (_, v) = run(&mut parser(true), nodata).unwrap();
        assert_eq!((v.len(), v[0].negative, v[0].rrtype), (1, Some(Negative::NoData), RrType::AAAA));
        assert_eq!(skip(nodata, false), "negative answer");
        let referral = nodata.replace(r#""aa":true,"#, "");
        assert_eq!(skip(&referral, true), "no answer");
        let truncated = nodata.replace(r#""aa":true,"#, r#""aa":true,"tc":true,"#);
        assert_eq!(skip(&truncated, true), "truncated response");
    }

    #[test]
    fn skips_and_rejections() {
        assert_eq!(
            skip(r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"flow","flow":{}}"#, false),
            "not a dns event"
        );
        assert_eq!(
            skip(r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"alert","dns":{"query":[]}}"#, false),
            "not a dns event"
        );
        let query = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"type":"query","id":1,"rrname":"a.example","rrtype":"A","tx_id":0,"opcode":0}}"#;
        assert_eq!(skip(query, false), "query event");
        let request = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":3,"type":"request","id":1,"queries":[{"rrname":"a.example","rrtype":"A"}]}}"#;
        assert_eq!(skip(request, false), "query event");
        let notify = r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"opcode":4,"rrname":"a.example","rrtype":"SOA","rcode":"NOERROR"}}"#;
        assert_eq!(skip(notify, false), "not a standard query");
        assert_eq!(skip("", false), "empty line");
        let reason = |l: &str| run(&mut parser(false), l).unwrap_err().reason;
        assert_eq!(reason("{\"event_type\":\"dns\""), "bad json");
        assert_eq!(reason(r#"{"event_type":"dns","dns":{"type":"answer"}}"#), "missing field");
        assert_eq!(reason(&V2.replace("2024-01-15T10:00:00.123456+0100", "2024-13-15T10:00:00+0000")), "bad time");
        assert_eq!(reason(&V2.replace("\"rdata\":\"192.0.2.10\"", "\"rdata\":\"192.0.2.300\"")), "bad rdata");
        assert_eq!(reason(&V2.replace("\"rrtype\":\"CNAME\"", "\"rrtype\":\"BOGUS\"")), "unknown rrtype");
        assert_eq!(reason(&V2.replace("\"rrname\":\"cdn.example.net\"", "\"rrname\":\"a..b\"")), "bad rrname");
        assert_eq!(reason(&V2.replace("\"type\":\"answer\"", "\"type\":\"weird\"")), "bad field");
    }

    #[test]
    fn generator_lines_parse() {
        // exactly as ../shared/tools/gen_observations.py --format suricata writes them
        let mut p = parser(false);
        let a = r#"{"timestamp":"2024-01-01T01:15:47.368421+0000","flow_id":932302105076,"event_type":"dns","src_ip":"127.0.0.53","src_port":53,"dest_ip":"127.0.0.1","dest_port":17753,"proto":"UDP","dns":{"version":2,"type":"answer","id":42820,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"lodo.org","rrtype":"MX","rcode":"NOERROR","answers":[{"rrname":"lodo.org","rrtype":"MX","ttl":300,"rdata":"mail.lodo.org"}]}}"#;
        let (r, v) = run(&mut p, a).unwrap();
        assert_eq!(r, LineOutcome::Observations(1));
        assert_eq!((v[0].rrname.clone(), v[0].rrtype), (n("lodo.org"), RrType::MX));
        assert_eq!(v[0].rdata.as_slice(), &[Rdata::Text("mail.lodo.org.".into())]);
        assert_eq!((v[0].time_first, v[0].ttl), (1704071747, Some(300)));
        let c = r#"{"timestamp":"2024-01-01T00:00:00.000000+0000","flow_id":1,"event_type":"dns","src_ip":"127.0.0.53","src_port":53,"dest_ip":"127.0.0.1","dest_port":1,"proto":"UDP","dns":{"version":2,"type":"answer","id":1,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"www.lodo.org","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"www.lodo.org","rrtype":"CNAME","ttl":300,"rdata":"edge.cdnprov.net"}]}}"#;
        let (_, v) = run(&mut p, c).unwrap();
        assert_eq!((v.len(), v[0].rrtype), (1, RrType::CNAME));
    }

    #[test]
    fn times() {
        assert_eq!(parse_time(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_time(b"2024-01-15T10:00:00.123456+0000"), Some(1705312800));
        assert_eq!(parse_time(b"2024-01-15T10:00:00.123456-0130"), Some(1705312800 + 5400));
        assert_eq!(parse_time(b"2024-01-15T10:00:00+01:00"), Some(1705312800 - 3600));
        assert_eq!(parse_time(b"2024-01-15 10:00:00.5 +0000 UTC"), Some(1705312800));
        assert_eq!(parse_time(b"2024-01-15 10:00:00 +0300 +03"), Some(1705312800 - 10800));
        assert_eq!(parse_time(b"2024-02-29T00:00:00"), Some(1709164800));
        assert_eq!(parse_time(b"2000-03-01T00:00:00Z"), Some(951868800));
        for bad in [
            "2023-02-29T00:00:00Z",
            "2024-01-15T24:00:00Z",
            "2024-01-15T10:00:00.Z",
            "2024-01-15T10:00:00+2500",
            "2024-01-15T10:00:00 +0000 U C",
            "2024-01-15",
            "1969-12-31T23:59:59Z",
            "2024-1-15T10:00:00Z",
        ] {
            assert_eq!(parse_time(bad.as_bytes()), None, "{bad}");
        }
        // agrees with the model's RFC 3339 parser on a spread of dates
        for t in (0..4_000_000_000u64).step_by(98_765_431) {
            let s = dnsledger_model::time::format_rfc3339(t);
            assert_eq!(parse_time(s.as_bytes()), Some(t), "{s}");
        }
        assert_eq!(parse_epoch(b"1705312800.123"), Some(1705312800));
        assert_eq!(parse_epoch(b"1705312800.1x"), None);
    }

    #[test]
    fn names_and_escapes() {
        let mut name = Name::root();
        let mut buf = Vec::new();
        set_name(&mut name, br"a\x5cb.example", Escapes::Hex { all: true }, &mut buf).unwrap();
        assert_eq!(name.as_wire(), b"\x03a\\b\x07example\x00");
        set_name(&mut name, br"a\x41.example", Escapes::Hex { all: false }, &mut buf).unwrap();
        assert_eq!(name.as_wire(), b"\x05a\\x41\x07example\x00");
        set_name(&mut name, br"\xff.example", Escapes::Hex { all: false }, &mut buf).unwrap();
        assert_eq!(name.as_wire(), b"\x01\xff\x07example\x00");
        set_name(&mut name, b"", Escapes::Raw, &mut buf).unwrap();
        assert!(name.is_root());
        let mut out = Vec::new();
        unescape_hex(br"x\x09y\z\x4", true, &mut out);
        assert_eq!(out, b"x\ty\\z\\x4");
        assert_eq!(parse_ipv6(b"1.2.3.4").unwrap(), std::net::Ipv4Addr::new(1, 2, 3, 4).to_ipv6_mapped().octets());
        assert!(has_kv(br#"{"a":1, "event_type" : "dns"}"#, b"event_type", b"dns"));
        assert!(!has_kv(br#"{"event_type":"dnsx"}"#, b"event_type", b"dns"));
        assert!(!has_kv(br#"{"xevent_type":"dns"}"#, b"event_type", b"dns"));
    }

    #[test]
    fn sniffs() {
        assert!(sniff(V2.as_bytes()));
        assert!(sniff(br#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"stats","stats":{}}"#));
        assert!(!sniff(br#"{"timestamp":"2024-01-15T10:00:00Z","rrname":"a."}"#));
    }

    /// Deterministic pseudo-random mutations of valid lines: nothing may panic.
    #[test]
    fn mutated_lines_never_panic() {
        let samples = [
            V2.to_string(),
            r#"{"timestamp":"2024-01-15T10:00:00+0000","event_type":"dns","dns":{"version":2,"type":"answer","id":1,"rrname":"a.example","rrtype":"A","rcode":"NOERROR","grouped":{"A":["192.0.2.1"],"CNAME":["b.example"],"SOA":[{"mname":"a","rname":"b","serial":1,"refresh":2,"retry":3,"expire":4,"minimum":5}]}}}"#.to_string(),
            r#"{"timestamp":"2017-05-01T12:00:00+0000","event_type":"dns","dns":{"type":"answer","id":2,"rcode":"NOERROR","rrname":"x.example","rrtype":"TXT","ttl":5,"rdata":"caf\\xe9"}}"#.to_string(),
        ];
        let samples: Vec<&str> = samples.iter().map(String::as_str).collect();
        for negative in [false, true] {
            let mut p = parser(negative);
            crate::testing::mutate_all(&samples, 3000, |line| {
                let _ = p.parse_line(line, &mut |_| {});
            });
        }
    }

    /// CPU time this thread has used, in ns (Linux `schedstat`; 0 elsewhere).
    pub(crate) fn cpu_ns() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|t| t.parse().ok()))
            .unwrap_or(0)
    }

    /// CPU ns per line of `p` over `lines` (cycled), the best of 9 rounds of 40k lines (the
    /// machine is shared: the minimum is the least disturbed round), and the observations of
    /// one round.
    pub(crate) fn per_line(p: &mut dyn LineParser, lines: &[&[u8]]) -> (f64, u64) {
        let (rounds, n) = (9, 40_000);
        let mut best = f64::MAX;
        let mut total = 0;
        for _ in 0..rounds {
            total = 0u64;
            let t = cpu_ns();
            for i in 0..n {
                let _ = p.parse_line(lines[i % lines.len()], &mut |o| total += o.count);
            }
            let _ = p.finish(&mut |o| total += o.count);
            best = best.min((cpu_ns() - t) as f64 / n as f64);
        }
        (best, total)
    }

    /// The same for only checking the JSON syntax with serde_json (`IgnoredAny`): a floor.
    pub(crate) fn json_floor(lines: &[&[u8]]) -> f64 {
        let mut best = f64::MAX;
        for _ in 0..9 {
            let t = cpu_ns();
            for i in 0..40_000 {
                let _: Result<serde::de::IgnoredAny, _> = serde_json::from_slice(lines[i % lines.len()]);
            }
            best = best.min((cpu_ns() - t) as f64 / 40_000.0);
        }
        best
    }

    /// Single-thread speed on the generator's line shape; run with `--ignored --nocapture`.
    #[test]
    #[ignore]
    fn speed() {
        let line = br#"{"timestamp":"2024-01-01T01:15:47.368421+0000","flow_id":932302105076,"event_type":"dns","src_ip":"127.0.0.53","src_port":53,"dest_ip":"127.0.0.1","dest_port":17753,"proto":"UDP","dns":{"version":2,"type":"answer","id":42820,"flags":"8180","qr":true,"rd":true,"ra":true,"rrname":"lodo.org","rrtype":"A","rcode":"NOERROR","answers":[{"rrname":"lodo.org","rrtype":"A","ttl":300,"rdata":"192.0.2.1"}]}}"#;
        let (ns, obs) = per_line(&mut parser(false), &[line]);
        let (v2, _) = per_line(&mut parser(false), &[V2.as_bytes()]);
        println!(
            "suricata: {ns:.0} ns/line of CPU ({obs} observations per 40k); JSON floor {:.0}; V2 CNAME+2A: {v2:.0} (floor {:.0})",
            json_floor(&[line]),
            json_floor(&[V2.as_bytes()])
        );
    }
}
