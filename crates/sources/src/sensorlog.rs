//! Helpers the sensor-log parsers share ([`crate::suricata`], [`crate::zeek`],
//! [`crate::gopassivedns`], [`crate::packetbeat`]): names and rdata from log text, times,
//! cheap JSON key checks, and RRsets built along an answer's CNAME chain, with negative answers.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use dnsledger_model::{Name, NameError, Negative, Observation, Rdata, RrType};

use crate::{parse_u64, LineOutcome, ParseError};

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

/// A rejection for a required field that is absent.
pub(crate) fn missing(field: &str) -> ParseError {
    ParseError::new("missing field", field.to_string())
}
