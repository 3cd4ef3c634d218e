//! Parsing presentation text of one record's rdata (RFC 1035 master-file syntax, as zone files,
//! DNS logs and passive DNS feeds write it) into canonical wire format.
//!
//! Accepts everything [`super::present()`] produces, byte for byte, plus the usual variants:
//! any amount of blanks between fields, names with or without the trailing dot (always
//! absolute), quoted or unquoted character-strings, hex and base64 split over several fields,
//! standalone `(` `)` grouping, RRSIG times as `YYYYMMDDHHmmSS` or epochs, TTL-style units
//! (`1h30m`) in SOA timers and the RRSIG original TTL, DNSSEC algorithm mnemonics, SVCB
//! parameters in any order, and the RFC 3597 generic form `\# <len> <hex>` for every type.
//!
//! TXT/SPF text that contains no (unescaped) double quote at all is taken as *one*
//! character-string, blanks included: logs print a single-string TXT such as `v=spf1 -all`
//! unquoted, and splitting it at blanks the zone-file way would change what it says. As soon
//! as the text has quotes, the zone-file rule applies: every quoted string or blank-separated
//! unquoted word is its own character-string.

use std::fmt::Display;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::canon::{canonicalize, cm_to_loc_prec, MAX_RDATA, SVC_KEY_NAMES};
use super::RdataError;
use crate::name::{parse_escape, Name};
use crate::rrtype::RrType;

/// Parses presentation text of type `rrtype` into canonical wire format appended to `out`.
///
/// On error `out` is left as it was. Types without a type-specific presentation format
/// (NULL, WKS, unknown types, …) accept only the generic form `\# <len> <hex>`.
pub fn parse(rrtype: RrType, text: &str, out: &mut Vec<u8>) -> Result<(), RdataError> {
    let start = out.len();
    let mut p = Parser { rrtype, toks: Tokens { s: text, pos: 0 }, out: &mut *out };
    let r = p.run(text);
    match r {
        Ok(()) if out.len() - start > MAX_RDATA => {
            out.truncate(start);
            Err(RdataError::TooLong)
        }
        Ok(()) => Ok(()),
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// Splits text into fields at blanks; skips standalone `(` and `)` (zone-file grouping).
///
/// A backslash always escapes the next character. Whether double quotes group (so that blanks
/// inside them do not split) depends on the field: character-strings and SvcParams are
/// quote-aware, while names, numbers and encoded data are not, because names may contain `"`
/// unescaped in DNSDB presentation (only `.` and `\` are escaped there).
#[derive(Clone)]
struct Tokens<'a> {
    s: &'a str,
    pos: usize,
}

fn is_blank(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Tokens<'a> {
    /// The next field as written (quotes and escapes included).
    fn next(&mut self, quotes: bool) -> Result<Option<&'a str>, &'static str> {
        let b = self.s.as_bytes();
        loop {
            while b.get(self.pos).is_some_and(|&c| is_blank(c)) {
                self.pos += 1;
            }
            let start = self.pos;
            if start >= b.len() {
                return Ok(None);
            }
            let (mut i, mut in_quotes) = (start, false);
            while let Some(&c) = b.get(i) {
                match c {
                    b'\\' => i += 2,
                    b'"' if quotes => {
                        in_quotes = !in_quotes;
                        i += 1;
                    }
                    c if !in_quotes && is_blank(c) => break,
                    _ => i += 1,
                }
            }
            if in_quotes {
                return Err("unterminated quoted string");
            }
            let end = i.min(b.len());
            self.pos = end;
            // Field boundaries are ASCII (or the end), so this cannot fail; be safe anyway.
            let raw = self.s.get(start..end).ok_or("invalid text")?;
            if raw == "(" || raw == ")" {
                continue;
            }
            return Ok(Some(raw));
        }
    }
}

/// At most 40 characters of `s`, for error messages.
fn shown(s: &str) -> String {
    match s.char_indices().nth(40) {
        Some((i, _)) => format!("{:?}…", s.get(..i).unwrap_or_default()),
        None => format!("{s:?}"),
    }
}

/// A decimal number of plain ASCII digits.
fn dec(s: &str) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    s.bytes().try_fold(0u64, |acc, c| {
        if c.is_ascii_digit() {
            acc.checked_mul(10)?.checked_add(u64::from(c - b'0'))
        } else {
            None
        }
    })
}

/// A TTL-style duration: plain seconds, or digits with `w`/`d`/`h`/`m`/`s` units (`1h30m`).
fn ttl(s: &str) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    if let Some(v) = dec(s) {
        return u32::try_from(v).ok();
    }
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    for c in s.bytes() {
        if c.is_ascii_digit() {
            num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(c - b'0'))?);
        } else {
            let unit = match c.to_ascii_lowercase() {
                b'w' => 604_800,
                b'd' => 86_400,
                b'h' => 3_600,
                b'm' => 60,
                b's' => 1,
                _ => return None,
            };
            total = total.checked_add(num.take()?.checked_mul(unit)?)?;
        }
    }
    if num.is_some() {
        return None;
    }
    u32::try_from(total).ok()
}

/// A non-negative decimal with at most `frac` fraction digits, scaled by 10^frac.
fn fixed_point(s: &str, frac: u32) -> Option<u64> {
    let (int, fraction) = match s.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    };
    let mut v = dec(int)?.checked_mul(10u64.pow(frac))?;
    if let Some(f) = fraction {
        let digits = u32::try_from(f.len()).ok()?;
        if digits == 0 || digits > frac {
            return None;
        }
        v = v.checked_add(dec(f)?.checked_mul(10u64.pow(frac - digits))?)?;
    }
    Some(v)
}

/// `YYYYMMDDHHmmSS` (UTC) or a decimal epoch, as the 32-bit serial time of RFC 4034 §3.2.
fn sig_time(s: &str) -> Option<u32> {
    if s.len() != 14 {
        return dec(s).and_then(|v| u32::try_from(v).ok());
    }
    let part = |a: usize, b: usize| s.get(a..b).and_then(dec);
    let (year, month, day) = (part(0, 4)?, part(4, 6)?, part(6, 8)?);
    let (hour, min, sec) = (part(8, 10)?, part(10, 12)?, part(12, 14)?);
    let leap = |y: u64| matches!((y % 4, y % 100, y % 400), (0, 1.., _) | (_, _, 0));
    let month_days = [31, if leap(year) { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if year < 1970 || !(1..=12).contains(&month) || hour > 23 || min > 59 || sec > 59 {
        return None;
    }
    let before = month_days.get(..usize::try_from(month - 1).ok()?)?;
    if day < 1 || day > *month_days.get(usize::try_from(month - 1).ok()?)? {
        return None;
    }
    let mut days: u64 = (1970..year).map(|y| if leap(y) { 366 } else { 365 }).sum();
    days += before.iter().sum::<u64>() + day - 1;
    let secs = days * 86_400 + hour * 3_600 + min * 60 + sec;
    Some((secs % (1u64 << 32)) as u32)
}

/// DNSSEC algorithm mnemonics (IANA "DNS Security Algorithm Numbers").
const ALGORITHMS: &[(&str, u8)] = &[
    ("RSAMD5", 1),
    ("DH", 2),
    ("DSA", 3),
    ("RSASHA1", 5),
    ("DSA-NSEC3-SHA1", 6),
    ("RSASHA1-NSEC3-SHA1", 7),
    ("RSASHA256", 8),
    ("RSASHA512", 10),
    ("ECC-GOST", 12),
    ("ECDSAP256SHA256", 13),
    ("ECDSAP384SHA384", 14),
    ("ED25519", 15),
    ("ED448", 16),
    ("INDIRECT", 252),
    ("PRIVATEDNS", 253),
    ("PRIVATEOID", 254),
];

/// CERT type mnemonics (RFC 4398 §2.1).
const CERT_TYPES: &[(&str, u16)] = &[
    ("PKIX", 1),
    ("SPKI", 2),
    ("PGP", 3),
    ("IPKIX", 4),
    ("ISPKI", 5),
    ("IPGP", 6),
    ("ACPKIX", 7),
    ("IACPKIX", 8),
    ("URI", 253),
    ("OID", 254),
];

/// Appends the octets a character-string field stands for: quotes dropped, `\X` and `\DDD`
/// escapes resolved.
fn unescape_into(raw: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
    let b = raw.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'"' => i += 1,
            b'\\' => {
                let rest = b.get(i + 1..).unwrap_or_default();
                let (v, used) = parse_escape(rest).map_err(|_| "bad backslash escape")?;
                out.push(v);
                i += 1 + used;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(())
}

/// True if `text` has a double quote that is not backslash-escaped.
fn has_unescaped_quote(text: &str) -> bool {
    let b = text.as_bytes();
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        match c {
            b'\\' => i += 2,
            b'"' => return true,
            _ => i += 1,
        }
    }
    false
}

fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Hex decoding that may be split over several fields.
#[derive(Default)]
struct HexDecoder {
    high: Option<u8>,
}

impl HexDecoder {
    fn push(&mut self, s: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
        for c in s.bytes() {
            let v = hex_value(c).ok_or("not a hex digit")?;
            match self.high.take() {
                Some(h) => out.push(h << 4 | v),
                None => self.high = Some(v),
            }
        }
        Ok(())
    }

    fn finish(self) -> Result<(), &'static str> {
        match self.high {
            Some(_) => Err("odd number of hex digits"),
            None => Ok(()),
        }
    }
}

fn base64_value(c: u8) -> Option<u32> {
    let v = match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(v))
}

/// Decodes standard base64 (RFC 4648 §4, padding optional); `None` if malformed.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut d = Base64Decoder::default();
    d.push(s, &mut out).ok()?;
    d.finish(&mut out).ok()?;
    Some(out)
}

/// Standard base64 decoding that may be split over several fields; padding optional, unused
/// bits must be zero.
#[derive(Default)]
struct Base64Decoder {
    acc: u32,
    n: u8,
    pad: u8,
}

impl Base64Decoder {
    fn push(&mut self, s: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
        for c in s.bytes() {
            if c == b'=' {
                if self.n < 2 || self.n + self.pad >= 4 {
                    return Err("misplaced base64 padding");
                }
                self.pad += 1;
                continue;
            }
            if self.pad > 0 {
                return Err("base64 data after padding");
            }
            self.acc = self.acc << 6 | base64_value(c).ok_or("not a base64 character")?;
            self.n += 1;
            if self.n == 4 {
                out.extend_from_slice(&[(self.acc >> 16) as u8, (self.acc >> 8) as u8, self.acc as u8]);
                self.acc = 0;
                self.n = 0;
            }
        }
        Ok(())
    }

    fn finish(self, out: &mut Vec<u8>) -> Result<(), &'static str> {
        match (self.n, self.pad) {
            (0, 0) => Ok(()),
            (2, 0 | 2) if self.acc & 0x0f == 0 => {
                out.push((self.acc >> 4) as u8);
                Ok(())
            }
            (3, 0 | 1) if self.acc & 0x03 == 0 => {
                out.extend_from_slice(&[(self.acc >> 10) as u8, (self.acc >> 2) as u8]);
                Ok(())
            }
            _ => Err("truncated or non-canonical base64"),
        }
    }
}

/// Decodes base32hex (RFC 4648 §7), either case, padding optional; unused bits must be zero.
fn base32hex_decode(s: &str, out: &mut Vec<u8>) -> Result<(), &'static str> {
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.trim_end_matches('=').bytes() {
        let v = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'v' => c - b'a' + 10,
            b'A'..=b'V' => c - b'A' + 10,
            _ => return Err("not a base32hex character"),
        };
        acc = (acc << 5) | u32::from(v);
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if bits >= 5 || acc != 0 {
        return Err("truncated or non-canonical base32hex");
    }
    Ok(())
}

/// Appends an NSEC-style type bitmap for `types` (any order, duplicates allowed).
fn write_bitmap(types: &mut [u16], out: &mut Vec<u8>) {
    types.sort_unstable();
    let mut window: Option<u8> = None;
    let mut bits = [0u8; 32];
    let mut len = 0usize;
    let flush = |window: Option<u8>, bits: &[u8; 32], len: usize, out: &mut Vec<u8>| {
        if let (Some(w), Some(b)) = (window, bits.get(..len)) {
            out.extend_from_slice(&[w, len as u8]);
            out.extend_from_slice(b);
        }
    };
    for &t in types.iter() {
        let w = (t >> 8) as u8;
        if window != Some(w) {
            flush(window, &bits, len, out);
            window = Some(w);
            bits = [0; 32];
            len = 0;
        }
        let low = usize::from(t as u8);
        if let Some(octet) = bits.get_mut(low / 8) {
            *octet |= 0x80 >> (low % 8);
        }
        len = len.max(low / 8 + 1);
    }
    flush(window, &bits, len, out);
}

/// The SvcParamKey number of a presentation key name (`alpn`, `key65535`, …).
fn svc_key(s: &str) -> Option<u16> {
    if let Some(i) = SVC_KEY_NAMES.iter().position(|n| n.eq_ignore_ascii_case(s)) {
        return u16::try_from(i).ok();
    }
    let digits = s.get(..3).filter(|p| p.eq_ignore_ascii_case("key")).and(s.get(3..))?;
    if digits.len() > 5 {
        return None;
    }
    dec(digits).and_then(|v| u16::try_from(v).ok())
}

/// The walk over one rdata's text that appends the wire fields to `out`.
struct Parser<'a, 'o> {
    rrtype: RrType,
    toks: Tokens<'a>,
    out: &'o mut Vec<u8>,
}

impl<'a> Parser<'a, '_> {
    fn err(&self, reason: impl Display) -> RdataError {
        RdataError::syntax(self.rrtype, format!("{}: {}", self.rrtype, reason))
    }

    /// The next field, quotes not grouping.
    fn next_tok(&mut self) -> Result<Option<&'a str>, RdataError> {
        self.toks.next(false).map_err(|e| self.err(e))
    }

    /// The next field, quotes grouping.
    fn next_quoted(&mut self) -> Result<Option<&'a str>, RdataError> {
        self.toks.next(true).map_err(|e| self.err(e))
    }

    fn tok(&mut self, field: &str) -> Result<&'a str, RdataError> {
        self.next_tok()?.ok_or_else(|| self.err(format_args!("expected {field}, got end of text")))
    }

    fn quoted_tok(&mut self, field: &str) -> Result<&'a str, RdataError> {
        self.next_quoted()?.ok_or_else(|| self.err(format_args!("expected {field}, got end of text")))
    }

    fn number(&mut self, field: &str, max: u64) -> Result<u64, RdataError> {
        let t = self.tok(field)?;
        dec(t)
            .filter(|&v| v <= max)
            .ok_or_else(|| self.err(format_args!("expected {field} (0-{max}), got {}", shown(t))))
    }

    fn u8(&mut self, field: &str) -> Result<u8, RdataError> {
        let v = self.number(field, u8::MAX.into())? as u8;
        self.out.push(v);
        Ok(v)
    }

    fn u16(&mut self, field: &str) -> Result<u16, RdataError> {
        let v = self.number(field, u16::MAX.into())? as u16;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(v)
    }

    fn u32(&mut self, field: &str) -> Result<(), RdataError> {
        let v = self.number(field, u32::MAX.into())? as u32;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    /// A TTL-style u32 (seconds, or with units).
    fn ttl(&mut self, field: &str) -> Result<(), RdataError> {
        let t = self.tok(field)?;
        let v = ttl(t).ok_or_else(|| self.err(format_args!("expected {field} (seconds), got {}", shown(t))))?;
        self.out.extend_from_slice(&v.to_be_bytes());
        Ok(())
    }

    /// A u8 or u16 given as a number or one of `mnemonics`.
    fn mnemonic_number<T: Copy + Into<u64>>(
        &mut self,
        field: &str,
        max: u64,
        mnemonics: &[(&str, T)],
    ) -> Result<u64, RdataError> {
        let t = self.tok(field)?;
        if let Some(v) = dec(t).filter(|&v| v <= max) {
            return Ok(v);
        }
        match mnemonics.iter().find(|(m, _)| m.eq_ignore_ascii_case(t)) {
            Some(&(_, v)) => Ok(v.into()),
            None => Err(self.err(format_args!("expected {field} (0-{max} or mnemonic), got {}", shown(t)))),
        }
    }

    fn algorithm(&mut self) -> Result<(), RdataError> {
        let v = self.mnemonic_number("algorithm", 255, ALGORITHMS)?;
        self.out.push(v as u8);
        Ok(())
    }

    fn name(&mut self, field: &str) -> Result<(), RdataError> {
        let t = self.tok(field)?;
        let name = Name::from_presentation(t).map_err(|e| self.err(format_args!("bad {field} {}: {e}", shown(t))))?;
        self.out.extend_from_slice(name.as_wire());
        Ok(())
    }

    /// Appends a length-prefixed character-string from a field.
    fn charstring_from(&mut self, raw: &str, field: &str) -> Result<(), RdataError> {
        let at = self.out.len();
        self.out.push(0);
        unescape_into(raw, self.out).map_err(|e| self.err(format_args!("{field} {}: {e}", shown(raw))))?;
        let len = self.out.len() - at - 1;
        match (u8::try_from(len), self.out.get_mut(at)) {
            (Ok(l), Some(slot)) => {
                *slot = l;
                Ok(())
            }
            _ => Err(self.err(format_args!("{field} longer than 255 octets ({len})"))),
        }
    }

    fn charstring(&mut self, field: &str) -> Result<(), RdataError> {
        let t = self.quoted_tok(field)?;
        self.charstring_from(t, field)
    }

    /// Appends a string field without length octet (CAA value, URI target).
    fn string(&mut self, field: &str) -> Result<(), RdataError> {
        let t = self.quoted_tok(field)?;
        unescape_into(t, self.out).map_err(|e| self.err(format_args!("{field} {}: {e}", shown(t))))
    }

    /// Hex in the remaining fields; at least one digit pair.
    fn hex_rest(&mut self, field: &str) -> Result<(), RdataError> {
        let at = self.out.len();
        let mut d = HexDecoder::default();
        while let Some(t) = self.next_tok()? {
            d.push(t, self.out).map_err(|e| self.err(format_args!("{field}: {e} in {}", shown(t))))?;
        }
        d.finish().map_err(|e| self.err(format_args!("{field}: {e}")))?;
        if self.out.len() == at {
            return Err(self.err(format_args!("expected {field} (hex), got end of text")));
        }
        Ok(())
    }

    /// Base64 in the remaining fields; at least one octet unless `optional`.
    fn base64_rest(&mut self, field: &str, optional: bool) -> Result<(), RdataError> {
        let at = self.out.len();
        let mut d = Base64Decoder::default();
        while let Some(t) = self.next_tok()? {
            d.push(t, self.out).map_err(|e| self.err(format_args!("{field}: {e} in {}", shown(t))))?;
        }
        d.finish(self.out).map_err(|e| self.err(format_args!("{field}: {e}")))?;
        if self.out.len() == at && !optional {
            return Err(self.err(format_args!("expected {field} (base64), got end of text")));
        }
        Ok(())
    }

    /// A type bitmap from the remaining fields (type mnemonics or `TYPEnnn`).
    fn types(&mut self) -> Result<(), RdataError> {
        let mut types = Vec::new();
        while let Some(t) = self.next_tok()? {
            let ty = RrType::parse(t).map_err(|_| self.err(format_args!("unknown type {} in type list", shown(t))))?;
            types.push(ty.0);
        }
        write_bitmap(&mut types, self.out);
        Ok(())
    }

    /// The NSEC3/NSEC3PARAM salt: `-` for none, else hex.
    fn salt(&mut self) -> Result<(), RdataError> {
        let t = self.tok("salt")?;
        let at = self.out.len();
        self.out.push(0);
        if t != "-" {
            let mut d = HexDecoder::default();
            d.push(t, self.out)
                .and_then(|()| d.finish())
                .map_err(|e| self.err(format_args!("salt {}: {e}", shown(t))))?;
        }
        let len = self.out.len() - at - 1;
        match (u8::try_from(len), self.out.get_mut(at)) {
            (Ok(l), Some(slot)) => {
                *slot = l;
                Ok(())
            }
            _ => Err(self.err("salt longer than 255 octets")),
        }
    }

    fn end(&mut self) -> Result<(), RdataError> {
        match self.next_tok()? {
            Some(t) => Err(self.err(format_args!("unexpected trailing text {}", shown(t)))),
            None => Ok(()),
        }
    }

    fn ipv4(&mut self, field: &str) -> Result<(), RdataError> {
        let t = self.tok(field)?;
        let ip: Ipv4Addr = t
            .parse()
            .map_err(|_| self.err(format_args!("expected {field} (dotted-quad IPv4 address), got {}", shown(t))))?;
        self.out.extend_from_slice(&ip.octets());
        Ok(())
    }

    fn ipv6(&mut self, field: &str) -> Result<(), RdataError> {
        let t = self.tok(field)?;
        let ip: Ipv6Addr =
            t.parse().map_err(|_| self.err(format_args!("expected {field} (IPv6 address), got {}", shown(t))))?;
        self.out.extend_from_slice(&ip.octets());
        Ok(())
    }

    fn run(&mut self, text: &str) -> Result<(), RdataError> {
        let mut ahead = self.toks.clone();
        if ahead.next(false).ok().flatten() == Some("\\#") {
            self.toks = ahead;
            return self.generic();
        }
        match self.rrtype {
            RrType::A => self.ipv4("address")?,
            RrType::AAAA => self.ipv6("address")?,
            RrType::NS
            | RrType::MD
            | RrType::MF
            | RrType::CNAME
            | RrType::MB
            | RrType::MG
            | RrType::MR
            | RrType::PTR
            | RrType::DNAME => self.name("name")?,
            RrType::SOA => {
                self.name("MNAME")?;
                self.name("RNAME")?;
                self.u32("serial")?;
                self.ttl("refresh")?;
                self.ttl("retry")?;
                self.ttl("expire")?;
                self.ttl("minimum")?;
            }
            RrType::MX | RrType::AFSDB | RrType::RT | RrType::KX => {
                self.u16("preference")?;
                self.name("exchange")?;
            }
            RrType::MINFO => {
                self.name("RMAILBX")?;
                self.name("EMAILBX")?;
            }
            RrType::RP => {
                self.name("mailbox")?;
                self.name("TXT name")?;
            }
            RrType::PX => {
                self.u16("preference")?;
                self.name("MAP822")?;
                self.name("MAPX400")?;
            }
            RrType::TXT | RrType::SPF => {
                let trimmed = text.trim_matches(|c: char| c.is_ascii() && is_blank(c as u8));
                if !trimmed.is_empty() && !has_unescaped_quote(trimmed) {
                    // No quoting at all: the whole text is one character-string (see module doc).
                    return self.charstring_from(trimmed, "character-string");
                }
                let mut n = 0;
                while let Some(t) = self.next_quoted()? {
                    self.charstring_from(t, "character-string")?;
                    n += 1;
                }
                if n == 0 {
                    return Err(self.err("expected at least one character-string"));
                }
            }
            RrType::HINFO => {
                self.charstring("CPU")?;
                self.charstring("OS")?;
            }
            RrType::SRV => {
                self.u16("priority")?;
                self.u16("weight")?;
                self.u16("port")?;
                self.name("target")?;
            }
            RrType::NAPTR => {
                self.u16("order")?;
                self.u16("preference")?;
                self.charstring("flags")?;
                self.charstring("services")?;
                self.charstring("regexp")?;
                self.name("replacement")?;
            }
            RrType::CAA => {
                self.u8("flags")?;
                self.charstring("tag")?;
                self.string("value")?;
            }
            RrType::DS | RrType::CDS | RrType::DLV | RrType::TA => {
                self.u16("key tag")?;
                self.algorithm()?;
                self.u8("digest type")?;
                self.hex_rest("digest")?;
            }
            RrType::SSHFP => {
                self.u8("algorithm")?;
                self.u8("fingerprint type")?;
                self.hex_rest("fingerprint")?;
            }
            RrType::DNSKEY | RrType::CDNSKEY | RrType::KEY => {
                self.u16("flags")?;
                self.u8("protocol")?;
                self.algorithm()?;
                self.base64_rest("public key", false)?;
            }
            RrType::RRSIG | RrType::SIG => {
                let t = self.tok("type covered")?;
                let covered = RrType::parse(t)
                    .map_err(|_| self.err(format_args!("expected type covered (a type mnemonic), got {}", shown(t))))?;
                self.out.extend_from_slice(&covered.0.to_be_bytes());
                self.algorithm()?;
                self.u8("labels")?;
                self.ttl("original TTL")?;
                for field in ["signature expiration", "signature inception"] {
                    let t = self.tok(field)?;
                    let v = sig_time(t).ok_or_else(|| {
                        self.err(format_args!("expected {field} (YYYYMMDDHHmmSS or epoch seconds), got {}", shown(t)))
                    })?;
                    self.out.extend_from_slice(&v.to_be_bytes());
                }
                self.u16("key tag")?;
                self.name("signer name")?;
                self.base64_rest("signature", false)?;
            }
            RrType::NSEC => {
                self.name("next domain name")?;
                self.types()?;
            }
            RrType::NSEC3 | RrType::NSEC3PARAM => {
                self.u8("hash algorithm")?;
                self.u8("flags")?;
                self.u16("iterations")?;
                self.salt()?;
                if self.rrtype == RrType::NSEC3 {
                    let t = self.tok("next hashed owner name")?;
                    let at = self.out.len();
                    self.out.push(0);
                    base32hex_decode(t, self.out)
                        .map_err(|e| self.err(format_args!("next hashed owner name {}: {e}", shown(t))))?;
                    let len = self.out.len() - at - 1;
                    match (u8::try_from(len), self.out.get_mut(at)) {
                        (Ok(l), Some(slot)) if l > 0 => *slot = l,
                        _ => return Err(self.err("next hashed owner name must be 1-255 octets")),
                    }
                    self.types()?;
                }
            }
            RrType::TLSA | RrType::SMIMEA => {
                self.u8("certificate usage")?;
                self.u8("selector")?;
                self.u8("matching type")?;
                self.hex_rest("certificate association data")?;
            }
            RrType::SVCB | RrType::HTTPS => {
                self.u16("priority")?;
                self.name("target")?;
                self.svc_params()?;
            }
            RrType::URI => {
                self.u16("priority")?;
                self.u16("weight")?;
                self.string("target")?;
            }
            RrType::OPENPGPKEY => self.base64_rest("public key", false)?,
            RrType::DHCID => self.base64_rest("digest", false)?,
            RrType::CSYNC => {
                self.u32("serial")?;
                self.u16("flags")?;
                self.types()?;
            }
            RrType::ZONEMD => {
                self.u32("serial")?;
                self.u8("scheme")?;
                self.u8("hash algorithm")?;
                self.hex_rest("digest")?;
            }
            RrType::EUI48 | RrType::EUI64 => {
                let n = if self.rrtype == RrType::EUI48 { 6 } else { 8 };
                let t = self.tok("address")?;
                let at = self.out.len();
                let ok = t.split('-').all(|p| {
                    let mut d = HexDecoder::default();
                    p.len() == 2 && d.push(p, self.out).is_ok()
                });
                if !ok || self.out.len() - at != n {
                    return Err(
                        self.err(format_args!("expected address ({n} hex pairs separated by '-'), got {}", shown(t)))
                    );
                }
            }
            RrType::CERT => {
                let ty = self.mnemonic_number("certificate type", 65535, CERT_TYPES)?;
                self.out.extend_from_slice(&(ty as u16).to_be_bytes());
                self.u16("key tag")?;
                self.algorithm()?;
                self.base64_rest("certificate", false)?;
            }
            RrType::IPSECKEY => {
                self.u8("precedence")?;
                let gateway_type = self.u8("gateway type")?;
                self.u8("algorithm")?;
                match gateway_type {
                    0 => {
                        let t = self.tok("gateway")?;
                        if t != "." {
                            return Err(
                                self.err(format_args!("expected gateway \".\" for gateway type 0, got {}", shown(t)))
                            );
                        }
                    }
                    1 => self.ipv4("gateway")?,
                    2 => self.ipv6("gateway")?,
                    3 => self.name("gateway")?,
                    _ => return Err(self.err(format_args!("unknown gateway type {gateway_type}"))),
                }
                self.base64_rest("public key", true)?;
            }
            RrType::LOC => self.loc()?,
            _ => {
                return Err(
                    self.err("no type-specific presentation format; use the RFC 3597 generic form \\# <length> <hex>")
                )
            }
        }
        self.end()
    }

    /// `\# <len> <hex…>`, validated and canonicalised for the type.
    fn generic(&mut self) -> Result<(), RdataError> {
        let len = self.number("generic rdata length", MAX_RDATA as u64)? as usize;
        let mut wire = Vec::with_capacity(len);
        let mut d = HexDecoder::default();
        while let Some(t) = self.next_tok()? {
            d.push(t, &mut wire).map_err(|e| self.err(format_args!("generic rdata: {e} in {}", shown(t))))?;
            if wire.len() > len {
                break;
            }
        }
        d.finish().map_err(|e| self.err(format_args!("generic rdata: {e}")))?;
        if wire.len() != len {
            return Err(self.err(format_args!(
                "generic rdata: length says {len} octets, the hex has {}{}",
                wire.len(),
                if wire.len() > len { " or more" } else { "" }
            )));
        }
        canonicalize(self.rrtype, &wire, self.out).map_err(|e| match e {
            RdataError::Malformed { rrtype, reason } => {
                RdataError::syntax(rrtype, format!("{reason} (in \\# generic rdata)"))
            }
            other => other,
        })
    }

    /// SvcParams in any order, written sorted by key (RFC 9460 §2.2).
    fn svc_params(&mut self) -> Result<(), RdataError> {
        let mut params: Vec<(u16, Vec<u8>)> = Vec::new();
        while let Some(t) = self.next_quoted()? {
            let (key_text, value_text) = match t.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (t, None),
            };
            let key =
                svc_key(key_text).ok_or_else(|| self.err(format_args!("unknown SvcParamKey {}", shown(key_text))))?;
            if params.iter().any(|(k, _)| *k == key) {
                return Err(self.err(format_args!("SvcParamKey {} given twice", shown(key_text))));
            }
            let value = match value_text {
                Some(v) => {
                    let mut b = Vec::new();
                    unescape_into(v, &mut b).map_err(|e| self.err(format_args!("{} value: {e}", shown(key_text))))?;
                    Some(b)
                }
                None => None,
            };
            let wire = svc_value(key, value.as_deref())
                .map_err(|e| self.err(format_args!("SvcParam {}: {e}", shown(key_text))))?;
            params.push((key, wire));
        }
        params.sort_by_key(|p| p.0);
        for (key, value) in params {
            let len = u16::try_from(value.len()).map_err(|_| RdataError::TooLong)?;
            self.out.extend_from_slice(&key.to_be_bytes());
            self.out.extend_from_slice(&len.to_be_bytes());
            self.out.extend_from_slice(&value);
        }
        Ok(())
    }

    /// RFC 1876 LOC text: `d [m [s.sss]] N|S d [m [s.sss]] E|W alt[m] [siz[m] [hp[m] [vp[m]]]]`.
    fn loc(&mut self) -> Result<(), RdataError> {
        let lat = self.loc_coord("latitude", 90, ["N", "S"])?;
        let lon = self.loc_coord("longitude", 180, ["E", "W"])?;
        let t = self.tok("altitude")?;
        let text = t.trim_end_matches(['m', 'M']);
        let (neg, digits) = match text.strip_prefix('-') {
            Some(d) => (true, d),
            None => (false, text),
        };
        let alt = fixed_point(digits, 2)
            .and_then(|cm| i64::try_from(cm).ok())
            .map(|cm| if neg { -cm } else { cm })
            .and_then(|cm| cm.checked_add(10_000_000).and_then(|v| u32::try_from(v).ok()))
            .ok_or_else(|| {
                self.err(format_args!("expected altitude (-100000.00 to 42849672.95 m), got {}", shown(t)))
            })?;
        let mut prec = [0x12u8, 0x16, 0x13]; // 1m, 10000m, 10m (RFC 1876 defaults)
        for (slot, field) in prec.iter_mut().zip(["size", "horizontal precision", "vertical precision"]) {
            let Some(t) = self.next_tok()? else { break };
            let cm = fixed_point(t.trim_end_matches(['m', 'M']), 2)
                .filter(|&cm| cm <= 9_000_000_000)
                .ok_or_else(|| self.err(format_args!("expected {field} (0-90000000.00 m), got {}", shown(t))))?;
            *slot = cm_to_loc_prec(cm);
        }
        self.out.push(0);
        self.out.extend_from_slice(&prec);
        for v in [lat, lon, alt] {
            self.out.extend_from_slice(&v.to_be_bytes());
        }
        Ok(())
    }

    /// One LOC coordinate as the wire value (thousandths of an arc second around 2^31).
    fn loc_coord(&mut self, field: &str, max_deg: u64, hemispheres: [&str; 2]) -> Result<u32, RdataError> {
        let bad = |p: &Self, raw: &str| p.err(format_args!("bad {field} at {}", shown(raw)));
        let is_hemi = |raw: &str| hemispheres.iter().any(|h| raw.eq_ignore_ascii_case(h));
        let deg = self.number(&format!("{field} degrees"), max_deg)?;
        let mut total = deg * 3_600_000;
        let mut t = self.tok(field)?;
        if !is_hemi(t) {
            let min = dec(t).filter(|&m| m < 60).ok_or_else(|| bad(self, t))?;
            total += min * 60_000;
            t = self.tok(field)?;
            if !is_hemi(t) {
                let ms = fixed_point(t, 3).filter(|&s| s < 60_000).ok_or_else(|| bad(self, t))?;
                total += ms;
                t = self.tok(field)?;
            }
        }
        let [pos, neg] = hemispheres;
        if !is_hemi(t) {
            return Err(self.err(format_args!("expected {field} hemisphere ({pos} or {neg}), got {}", shown(t))));
        }
        let total = u32::try_from(total)
            .ok()
            .filter(|&v| u64::from(v) <= max_deg * 3_600_000)
            .ok_or_else(|| self.err(format_args!("{field} beyond {max_deg} degrees")))?;
        Ok(if t.eq_ignore_ascii_case(pos) { (1u32 << 31) + total } else { (1u32 << 31) - total })
    }
}

/// The wire value of one SvcParam from its decoded presentation value (`None`: no `=`).
fn svc_value(key: u16, v: Option<&[u8]>) -> Result<Vec<u8>, String> {
    let text = |v: Option<&[u8]>| -> Result<String, String> {
        match v {
            Some(b) if !b.is_empty() => String::from_utf8(b.to_vec()).map_err(|_| "value is not text".to_string()),
            _ => Err("a value is required".into()),
        }
    };
    let mut out = Vec::new();
    match key {
        0 => {
            let mut keys = Vec::new();
            for item in text(v)?.split(',') {
                let k = svc_key(item).ok_or_else(|| format!("unknown key {} in mandatory", shown(item)))?;
                if k == 0 {
                    return Err("mandatory must not list itself".into());
                }
                keys.push(k);
            }
            keys.sort_unstable();
            let n = keys.len();
            keys.dedup();
            if keys.len() != n {
                return Err("a key is listed twice in mandatory".into());
            }
            for k in keys {
                out.extend_from_slice(&k.to_be_bytes());
            }
        }
        1 => {
            // Value-list: items separated by `,`; `\` escapes the next octet (`\,`, `\\`).
            let b = v.filter(|b| !b.is_empty()).ok_or("a value is required")?;
            let mut item: Vec<u8> = Vec::new();
            let mut i = 0;
            let push_item = |item: &mut Vec<u8>, out: &mut Vec<u8>| -> Result<(), String> {
                let len = u8::try_from(item.len()).map_err(|_| "alpn id longer than 255 octets".to_string())?;
                if len == 0 {
                    return Err("empty alpn id".into());
                }
                out.push(len);
                out.append(item);
                Ok(())
            };
            while let Some(&c) = b.get(i) {
                match c {
                    b'\\' => {
                        item.push(*b.get(i + 1).ok_or("backslash at end of alpn value")?);
                        i += 2;
                    }
                    b',' => {
                        push_item(&mut item, &mut out)?;
                        i += 1;
                    }
                    _ => {
                        item.push(c);
                        i += 1;
                    }
                }
            }
            push_item(&mut item, &mut out)?;
        }
        2 | 8 => {
            if v.is_some_and(|b| !b.is_empty()) {
                return Err("takes no value".into());
            }
        }
        3 => {
            let t = text(v)?;
            let port = dec(&t).and_then(|p| u16::try_from(p).ok()).ok_or_else(|| format!("bad port {}", shown(&t)))?;
            out.extend_from_slice(&port.to_be_bytes());
        }
        4 => {
            for item in text(v)?.split(',') {
                let ip: Ipv4Addr = item.parse().map_err(|_| format!("bad IPv4 address {}", shown(item)))?;
                out.extend_from_slice(&ip.octets());
            }
        }
        6 => {
            for item in text(v)?.split(',') {
                let ip: Ipv6Addr = item.parse().map_err(|_| format!("bad IPv6 address {}", shown(item)))?;
                out.extend_from_slice(&ip.octets());
            }
        }
        5 => {
            if let Some(b) = v {
                let s = std::str::from_utf8(b).map_err(|_| "bad base64".to_string())?;
                let mut d = Base64Decoder::default();
                d.push(s, &mut out).and_then(|()| d.finish(&mut out)).map_err(|e| e.to_string())?;
            }
        }
        _ => out.extend_from_slice(v.unwrap_or_default()),
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdata::{canonicalize, present};
    use crate::rrtype::KNOWN_TYPES;

    /// Decodes test hex (blanks ignored).
    fn h(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// The wire form of a name.
    fn n(s: &str) -> Vec<u8> {
        Name::from_presentation(s).unwrap().as_wire().to_vec()
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn p(t: RrType, text: &str) -> Result<Vec<u8>, RdataError> {
        let mut out = vec![0xEE]; // parse appends: existing content must survive
        parse(t, text, &mut out)?;
        assert_eq!(out.first(), Some(&0xEE));
        Ok(out[1..].to_vec())
    }

    fn show(t: RrType, wire: &[u8]) -> String {
        let mut s = String::new();
        present(t, wire, &mut s);
        s
    }

    /// `text` parses to `wire`, and `wire` renders exactly as `text`.
    fn rt(t: RrType, text: &str, wire: &[u8]) {
        assert_eq!(p(t, text).unwrap_or_else(|e| panic!("{t} {text:?}: {e}")), wire, "{t} {text:?}");
        assert_eq!(show(t, wire), text, "{t} presentation");
        let mut c = Vec::new();
        canonicalize(t, wire, &mut c).unwrap();
        assert_eq!(c, wire, "{t} canonical");
    }

    /// `text` parses to `wire` (a variant spelling, rendered differently).
    fn parses(t: RrType, text: &str, wire: &[u8]) {
        assert_eq!(p(t, text).unwrap_or_else(|e| panic!("{t} {text:?}: {e}")), wire, "{t} {text:?}");
    }

    fn reason(t: RrType, text: &str) -> String {
        match p(t, text) {
            Err(RdataError::Syntax { rrtype, reason }) => {
                assert_eq!(rrtype, t);
                reason
            }
            other => panic!("{t} {text:?}: expected a syntax error, got {other:?}"),
        }
    }

    const KEY_B64: &str = "AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5CptLr3buXA10hWqTkF7H6RfoRqXQeogmMHfpftf6zMv1LyBUgia7za6ZEzOJBOztyvhjL742iU/TpPSEDhm2SNKLijfUppn1UaNvv4w==";

    fn key_bytes() -> Vec<u8> {
        let mut v = Vec::new();
        let mut d = Base64Decoder::default();
        d.push(KEY_B64, &mut v).unwrap();
        d.finish(&mut v).unwrap();
        v
    }

    #[test]
    fn addresses() {
        rt(RrType::A, "93.184.216.34", &[93, 184, 216, 34]);
        parses(RrType::A, "  93.184.216.34\t", &[93, 184, 216, 34]);
        rt(RrType::AAAA, "2606:2800:220:1:248:1893:25c8:1946", &h("26062800022000010248189325c81946"));
        parses(RrType::AAAA, "2001:DB8:0:0:0:0:0:1", &h("20010db8000000000000000000000001"));
        rt(RrType::AAAA, "::", &[0; 16]);
        for bad in
            ["1.2.3", "1.2.3.4.5", "x1.2.3.4", "1.2.3.4x", "256.1.1.1", "01.2.3.4", "", " ", "::1", "\"1.2.3.4\""]
        {
            let r = reason(RrType::A, bad);
            assert!(r.starts_with("A: expected address"), "{bad:?}: {r}");
        }
        assert_eq!(reason(RrType::A, "1.2.3.4 5"), "A: unexpected trailing text \"5\"");
        assert!(p(RrType::AAAA, "1.2.3.4").is_err());
        assert!(p(RrType::AAAA, "fe80::1%eth0").is_err());
        rt(RrType::EUI48, "00-00-5e-00-53-2a", &h("00005e00532a"));
        parses(RrType::EUI48, "00-00-5E-00-53-2A", &h("00005e00532a"));
        rt(RrType::EUI64, "00-00-5e-ef-10-00-00-2a", &h("00005eef1000002a"));
        assert!(p(RrType::EUI48, "00-00-5e-00-53").is_err());
        assert!(p(RrType::EUI48, "00-00-5e-00-53-2a-01").is_err());
        assert!(p(RrType::EUI48, "0000-5e-00-53-2a").is_err());
        assert!(p(RrType::EUI64, "00-00-5e-00-53-2a").is_err());
    }

    #[test]
    fn names() {
        for t in [
            RrType::NS,
            RrType::CNAME,
            RrType::PTR,
            RrType::DNAME,
            RrType::MD,
            RrType::MF,
            RrType::MB,
            RrType::MG,
            RrType::MR,
        ] {
            rt(t, "a.iana-servers.net.", &n("a.iana-servers.net"));
            parses(t, "A.IANA-Servers.NET", &n("a.iana-servers.net"));
        }
        rt(RrType::NS, ".", &[0]);
        parses(RrType::CNAME, "bücher.example", &n("xn--bcher-kva.example"));
        rt(RrType::PTR, "a\\.b.c\\\\d.\\032x.example.", &n("a\\.b.c\\\\d.\\032x.example"));
        assert!(reason(RrType::NS, "a..b").starts_with("NS: bad name \"a..b\""));
        assert!(reason(RrType::NS, "").contains("expected name"));
        assert!(reason(RrType::NS, "a. b.").contains("trailing"));
        // names may hold unescaped quotes (DNSDB escapes only `.` and `\`)
        rt(RrType::NS, "\"q\"uoted.example.", b"\x08\"q\"uoted\x07example\x00");
        rt(RrType::MX, "1 \"ost.example.", b"\x00\x01\x04\"ost\x07example\x00");
        rt(
            RrType::SOA,
            "a\". b\". 1 2 3 4 5",
            &cat(&[b"\x02a\"\x00\x02b\"\x00", &h("00000001 00000002 00000003 00000004 00000005")]),
        );
        rt(RrType::MX, "10 mail.example.com.", &cat(&[&[0, 10], &n("mail.example.com")]));
        parses(RrType::MX, "10\tMail.Example.com", &cat(&[&[0, 10], &n("mail.example.com")]));
        assert_eq!(reason(RrType::MX, "x mail."), "MX: expected preference (0-65535), got \"x\"");
        assert_eq!(
            reason(RrType::MX, "Mail.lovisys-exba.org."),
            "MX: expected preference (0-65535), got \"Mail.lovisys-exba.org.\""
        );
        assert!(reason(RrType::MX, "65536 mail.").contains("preference"));
        assert!(reason(RrType::MX, "10").contains("expected exchange"));
        rt(RrType::AFSDB, "1 afs.example.com.", &cat(&[&[0, 1], &n("afs.example.com")]));
        rt(RrType::RT, "20 relay.example.", &cat(&[&[0, 20], &n("relay.example")]));
        rt(RrType::KX, "5 kx.example.", &cat(&[&[0, 5], &n("kx.example")]));
        rt(RrType::RP, "mbox.example.com. txt.example.com.", &cat(&[&n("mbox.example.com"), &n("txt.example.com")]));
        rt(RrType::MINFO, "rm.example. em.example.", &cat(&[&n("rm.example"), &n("em.example")]));
        rt(
            RrType::PX,
            "10 map822.example. mapx400.example.",
            &cat(&[&[0, 10], &n("map822.example"), &n("mapx400.example")]),
        );
        rt(RrType::SRV, "0 5 5060 sip.example.com.", &cat(&[&h("0000 0005 13c4"), &n("sip.example.com")]));
        rt(RrType::SRV, "10 0 0 .", &cat(&[&h("000a 0000 0000"), &[0]]));
    }

    #[test]
    fn soa() {
        let wire = cat(&[
            &n("ns.icann.org"),
            &n("noc.dns.icann.org"),
            &2_022_091_303u32.to_be_bytes(),
            &h("00001c20 00000e10 00127500 00000e10"),
        ]);
        rt(RrType::SOA, "ns.icann.org. noc.dns.icann.org. 2022091303 7200 3600 1209600 3600", &wire);
        parses(RrType::SOA, "NS.icann.org noc.dns.icann.org ( 2022091303 2h 1H 2w 1h )", &wire);
        parses(RrType::SOA, "ns.icann.org.\tnoc.dns.icann.org. (\r\n 2022091303\n 7200 3600 1209600 3600 )", &wire);
        assert!(reason(RrType::SOA, "ns.icann.org. noc.dns.icann.org. 2022091303 7200 3600 1209600")
            .contains("expected minimum"));
        assert!(reason(RrType::SOA, "a. b. 4294967296 1 1 1 1").contains("serial"));
        assert!(reason(RrType::SOA, "a. b. 1 1x 1 1 1").contains("refresh"));
        assert!(p(RrType::SOA, "a. b. 1 1 1 1 1 1").is_err());
    }

    #[test]
    fn character_strings() {
        rt(RrType::TXT, "\"v=spf1 -all\"", &cat(&[&[11], b"v=spf1 -all"]));
        rt(RrType::SPF, "\"v=spf1 -all\"", &cat(&[&[11], b"v=spf1 -all"]));
        rt(RrType::TXT, "\"part one\" \"part two\"", &cat(&[&[8], b"part one", &[8], b"part two"]));
        rt(RrType::TXT, "\"\"", &[0]);
        rt(RrType::TXT, "\"a\\\"b\\\\c\\007\\255 d\"", &cat(&[&[9], b"a\"b\\c", &[7, 255], b" d"]));
        rt(RrType::TXT, "\"a||b\"", &cat(&[&[4], b"a||b"]));
        // unquoted: the whole text is one string (log style) ...
        parses(RrType::TXT, "v=spf1 -all", &cat(&[&[11], b"v=spf1 -all"]));
        parses(RrType::TXT, "  v=spf1  include:x ~all ", &cat(&[&[22], b"v=spf1  include:x ~all"]));
        parses(RrType::TXT, "a\\032b\\\\", &cat(&[&[4], b"a b\\"]));
        // ... but once quotes appear, blanks separate strings (zone-file style)
        parses(RrType::TXT, "\"a b\" c  \"\"", &cat(&[&[3], b"a b", &[1], b"c", &[0]]));
        parses(RrType::TXT, "\"a\"\"b\"", &cat(&[&[2], b"ab"]));
        parses(RrType::TXT, "( \"a\"\n\t\"b\" )", &cat(&[&[1], b"a", &[1], b"b"]));
        parses(RrType::TXT, "\"caf\u{e9}\"", &cat(&[&[5], "caf\u{e9}".as_bytes()]));
        assert_eq!(show(RrType::TXT, &cat(&[&[5], "caf\u{e9}".as_bytes()])), "\"caf\\195\\169\"");
        let max = "x".repeat(255);
        rt(RrType::TXT, &format!("\"{max}\""), &cat(&[&[255], max.as_bytes()]));
        assert!(reason(RrType::TXT, &format!("\"{max}x\"")).contains("longer than 255"));
        assert!(reason(RrType::TXT, &format!("{max}x")).contains("longer than 255"));
        assert!(reason(RrType::TXT, "").contains("at least one"));
        assert!(reason(RrType::TXT, "  \t ").contains("at least one"));
        assert!(reason(RrType::TXT, "\"abc").contains("unterminated"));
        assert!(reason(RrType::TXT, "\"a\\1\"").contains("escape"));
        assert!(reason(RrType::TXT, "abc\\").contains("escape"));
        let long = vec![format!("\"{max}\""); 256].join(" ");
        assert_eq!(p(RrType::TXT, &long), Err(RdataError::TooLong)); // 256 * 256 = 65536 octets
        let fits = vec![format!("\"{max}\""); 255].join(" ");
        assert_eq!(p(RrType::TXT, &fits).unwrap().len(), 255 * 256);
        rt(RrType::HINFO, "\"INTEL-386\" \"Windows\"", &cat(&[&[9], b"INTEL-386", &[7], b"Windows"]));
        parses(RrType::HINFO, "INTEL-386 Windows", &cat(&[&[9], b"INTEL-386", &[7], b"Windows"]));
        assert!(p(RrType::HINFO, "\"INTEL-386\"").is_err());
        assert!(p(RrType::HINFO, "a b c").is_err());
        rt(
            RrType::NAPTR,
            "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.",
            &cat(&[&h("0064 000a"), &[1], b"S", &[7], b"SIP+D2U", &[0], &n("_sip._udp.example.com")]),
        );
        rt(
            RrType::NAPTR,
            "100 50 \"u\" \"E2U+sip\" \"!^.*$!sip:info@example.com!\" .",
            &cat(&[&h("0064 0032"), &[1], b"u", &[7], b"E2U+sip", &[27], b"!^.*$!sip:info@example.com!", &[0]]),
        );
        parses(
            RrType::NAPTR,
            "100 10 S SIP+D2U \"\" _SIP._udp.example.com",
            &p(RrType::NAPTR, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.").unwrap(),
        );
    }

    #[test]
    fn caa_and_uri() {
        let wire = cat(&[&[0, 9], b"issuewild", b"letsencrypt.org"]);
        rt(RrType::CAA, "0 \"issuewild\" \"letsencrypt.org\"", &wire);
        parses(RrType::CAA, "0 issuewild \"letsencrypt.org\"", &wire);
        parses(RrType::CAA, "0 issuewild letsencrypt.org", &wire);
        rt(RrType::CAA, "128 \"tbs\" \"\"", &cat(&[&[128, 3], b"tbs"]));
        rt(
            RrType::CAA,
            "0 \"iodef\" \"mailto:security@example.com\"",
            &cat(&[&[0, 5], b"iodef", b"mailto:security@example.com"]),
        );
        let long = "v".repeat(300);
        rt(RrType::CAA, &format!("0 \"issue\" \"{long}\""), &cat(&[&[0, 5], b"issue", long.as_bytes()]));
        assert!(p(RrType::CAA, "0 issue").is_err());
        assert!(p(RrType::CAA, "256 issue x").is_err());
        rt(
            RrType::URI,
            "10 1 \"ftp://ftp1.example.com/public\"",
            &cat(&[&h("000a 0001"), b"ftp://ftp1.example.com/public"]),
        );
        parses(
            RrType::URI,
            "10 1 ftp://ftp1.example.com/public",
            &cat(&[&h("000a 0001"), b"ftp://ftp1.example.com/public"]),
        );
        assert!(p(RrType::URI, "10 1").is_err());
    }

    #[test]
    fn dnssec() {
        let ds = cat(&[&h("ec45 05 01"), &h("2BB183AF5F22588179A53B0A98631FAD1A292118")]);
        for t in [RrType::DS, RrType::CDS, RrType::DLV, RrType::TA] {
            rt(t, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118", &ds);
            parses(t, "60485 RSASHA1 1 2bb183af5f22588179a5 3b0a98631fad1a292118", &ds);
            parses(t, "60485 5 1 ( 2BB183AF5F225881 79A53B0A98631FAD1A292118 )", &ds);
        }
        assert!(reason(RrType::DS, "60485 5 1").contains("expected digest"));
        assert!(reason(RrType::DS, "60485 5 1 ABC").contains("odd number"));
        assert!(reason(RrType::DS, "60485 5 1 XY").contains("hex"));
        assert!(reason(RrType::DS, "60485 BOGUS 1 AB").contains("algorithm"));

        let key = cat(&[&h("0100 03 05"), &key_bytes()]);
        for t in [RrType::DNSKEY, RrType::CDNSKEY, RrType::KEY] {
            rt(t, &format!("256 3 5 {KEY_B64}"), &key);
            let (a, b) = KEY_B64.split_at(40);
            parses(t, &format!("256 3 RSASHA1 ( {a}\n {b} )"), &key);
        }
        assert!(p(RrType::DNSKEY, "256 3 5").is_err());
        assert!(p(RrType::DNSKEY, "256 3 5 AQ=").is_err());
        assert!(p(RrType::DNSKEY, "256 3 5 AR==").is_err()); // non-zero unused bits
        assert!(p(RrType::DNSKEY, "256 3 5 A===").is_err());
        assert!(p(RrType::DNSKEY, "256 3 5 AQ==AQ==").is_err());
        parses(RrType::DNSKEY, "256 3 5 AQ", &h("0100 03 05 01"));

        let sig = cat(&[
            &h("0001 08 02 00000e10"),
            &1_700_000_000u32.to_be_bytes(),
            &1_690_000_000u32.to_be_bytes(),
            &h("3039"),
            &n("example.com"),
            &key_bytes(),
        ]);
        for t in [RrType::RRSIG, RrType::SIG] {
            rt(t, &format!("A 8 2 3600 1700000000 1690000000 12345 example.com. {KEY_B64}"), &sig);
        }
        // YYYYMMDDHHmmSS times, TTL units, mnemonic algorithm
        let mut dated = sig.clone();
        dated[8..12].copy_from_slice(&1_672_531_200u32.to_be_bytes());
        dated[12..16].copy_from_slice(&951_827_696u32.to_be_bytes());
        parses(
            RrType::RRSIG,
            &format!("a RSASHA256 2 1h 20230101000000 20000229123456 12345 Example.COM {KEY_B64}"),
            &dated,
        );
        assert_eq!(
            show(RrType::RRSIG, &dated),
            format!("A 8 2 3600 1672531200 951827696 12345 example.com. {KEY_B64}")
        );
        let t = RrType::RRSIG;
        assert!(reason(t, &format!("A 8 2 3600 20230230000000 1 1 e. {KEY_B64}")).contains("expiration"));
        assert!(reason(t, &format!("A 8 2 3600 19691231235959 1 1 e. {KEY_B64}")).contains("expiration"));
        assert!(reason(t, &format!("A 8 2 3600 4294967296 1 1 e. {KEY_B64}")).contains("expiration"));
        assert!(reason(t, &format!("BOGUS 8 2 3600 1 1 1 e. {KEY_B64}")).contains("type covered"));
        parses(t, &format!("TYPE65280 8 2 3600 21060207062816 0 1 e. {KEY_B64}"), &{
            let mut w = cat(&[&h("ff00 08 02 00000e10 00000000 00000000 0001"), &n("e"), &key_bytes()]);
            w[8..12].copy_from_slice(&0u32.to_be_bytes()); // 2^32 wraps to 0 (serial arithmetic)
            w
        });
        assert_eq!(sig_time("20000229000000"), Some(951_782_400));
        assert_eq!(sig_time("19000229000000"), None);
        assert_eq!(sig_time("20240229235959"), Some(1_709_251_199));
    }

    #[test]
    fn type_bitmaps() {
        let bitmap = cat(&[&h("00 07 62 00 00 00 00 03 80"), &h("01 01 40"), &[4, 27], &[0; 26], &[0x20]]);
        let wire = cat(&[&n("next.example.com"), &bitmap]);
        parses(RrType::NSEC, "next.example.com. A NS SOA RRSIG NSEC DNSKEY TYPE1234 CAA", &wire);
        rt(RrType::NSEC, "next.example.com. A NS SOA RRSIG NSEC DNSKEY CAA TYPE1234", &wire);
        parses(RrType::NSEC, "Next.Example.com caa type1234 dnskey nsec rrsig soa ns a A", &wire);
        rt(RrType::NSEC, "next.example.com.", &n("next.example.com"));
        rt(RrType::NSEC, "a. TYPE0 TYPE65535", &cat(&[&n("a"), &h("00 01 80 ff 20"), &[0; 31], &[1]]));
        assert!(reason(RrType::NSEC, "a. A BOGUS").contains("unknown type \"BOGUS\""));

        let hash = h("174eb2409fe28bcb4887a1836f957f0a8425e27b");
        let w3 = cat(&[&h("01 00 000a 04 aabbccdd 14"), &hash, &h("00 06 40 00 00 00 00 02")]);
        rt(RrType::NSEC3, "1 0 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG", &w3);
        parses(RrType::NSEC3, "1 0 10 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr RRSIG A", &w3);
        let w3e = cat(&[&h("01 01 0000 00 14"), &hash]);
        rt(RrType::NSEC3, "1 1 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR", &w3e);
        assert!(p(RrType::NSEC3, "1 0 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJ A").is_err());
        assert!(p(RrType::NSEC3, "1 0 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJW A").is_err());
        assert!(p(RrType::NSEC3, "1 0 10 AABBCCD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR").is_err());
        assert!(p(RrType::NSEC3, "1 0 10 -").is_err());

        rt(RrType::NSEC3PARAM, "1 0 10 AABBCCDD", &h("01 00 000a 04 aabbccdd"));
        rt(RrType::NSEC3PARAM, "1 0 0 -", &h("01 00 0000 00"));
        assert!(p(RrType::NSEC3PARAM, "1 0 0 - extra").is_err());

        // RFC 7477 example
        rt(RrType::CSYNC, "66 3 A NS AAAA", &h("00000042 0003 00 04 60 00 00 08"));
    }

    #[test]
    fn hex_types() {
        let d = "D2ABDE240D7CD3EE6B4B28C54DF034B97983A1D16E8A410E4561CB106618E971";
        rt(RrType::TLSA, &format!("3 1 1 {d}"), &cat(&[&[3, 1, 1], &h(d)]));
        rt(RrType::SMIMEA, &format!("3 1 1 {d}"), &cat(&[&[3, 1, 1], &h(d)]));
        parses(RrType::TLSA, &format!("3 1 1 {} {}", &d[..20].to_lowercase(), &d[20..]), &cat(&[&[3, 1, 1], &h(d)]));
        rt(
            RrType::SSHFP,
            "4 2 D2ABDE240D7CD3EE6B4B28C54DF034B97983A1D16E8A410E4561CB106618E971",
            &cat(&[&[4, 2], &h(d)]),
        );
        rt(RrType::ZONEMD, &format!("2018031900 1 1 {d}"), &cat(&[&2_018_031_900u32.to_be_bytes(), &[1, 1], &h(d)]));
        assert!(p(RrType::TLSA, "3 1 1").is_err());
    }

    #[test]
    fn base64_types() {
        let dhcid = "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA=";
        rt(RrType::DHCID, dhcid, &h("000201636fc0b8271c82825bb1ac5c41cf5351aa69b4febd94e8f17cdb95000da48c40"));
        rt(RrType::OPENPGPKEY, KEY_B64, &key_bytes());
        rt(RrType::CERT, &format!("1 0 0 {KEY_B64}"), &cat(&[&h("0001 0000 00"), &key_bytes()]));
        parses(RrType::CERT, &format!("PKIX 0 RSASHA256 {KEY_B64}"), &cat(&[&h("0001 0000 08"), &key_bytes()]));
        assert!(p(RrType::CERT, "1 0 0").is_err());
        assert!(p(RrType::DHCID, "").is_err());

        let key = "AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ==";
        let kb = h("010351537986ed35533b6064478eeeb27b5bd74dae149b6e81ba3a0521af82ab7801");
        rt(RrType::IPSECKEY, &format!("10 1 2 192.0.2.38 {key}"), &cat(&[&[10, 1, 2, 192, 0, 2, 38], &kb]));
        rt(RrType::IPSECKEY, &format!("10 0 2 . {key}"), &cat(&[&[10, 0, 2], &kb]));
        rt(
            RrType::IPSECKEY,
            &format!("10 3 2 mygateway.example.com. {key}"),
            &cat(&[&[10, 3, 2], &n("mygateway.example.com"), &kb]),
        );
        let v6 = cat(&[&[10, 2, 2], &h("20010db8000080020000000020000001"), &kb]);
        parses(RrType::IPSECKEY, &format!("10 2 2 2001:0DB8:0:8002::2000:1 {key}"), &v6);
        assert_eq!(show(RrType::IPSECKEY, &v6), format!("10 2 2 2001:db8:0:8002::2000:1 {key}"));
        rt(RrType::IPSECKEY, "10 1 0 192.0.2.38", &[10, 1, 0, 192, 0, 2, 38]);
        assert!(p(RrType::IPSECKEY, "10 0 2 x.example. AQ==").is_err());
        assert!(p(RrType::IPSECKEY, "10 4 2 . AQ==").is_err());
        parses(
            RrType::IPSECKEY,
            &format!("10 3 2 MyGateway.Example.com {key}"),
            &cat(&[&[10, 3, 2], &n("mygateway.example.com"), &kb]),
        );
    }

    #[test]
    fn svcb_https() {
        let foo = n("foo.example.com");
        let t = RrType::SVCB;
        rt(
            t,
            "1 foo.example.com. alpn=\"h2,h3\" port=53 ipv4hint=192.0.2.1",
            &cat(&[&[0, 1], &foo, &h("0001 0006 026832 026833  0003 0002 0035  0004 0004 c0000201")]),
        );
        parses(
            RrType::HTTPS,
            "1 foo.example.com. ipv4hint=192.0.2.1 port=\"53\" alpn=h2,h3",
            &cat(&[&[0, 1], &foo, &h("0001 0006 026832 026833  0003 0002 0035  0004 0004 c0000201")]),
        );
        // RFC 9460 appendix D
        rt(t, "0 foo.example.com.", &cat(&[&[0, 0], &foo]));
        rt(t, "1 .", &[0, 1, 0]);
        rt(t, "16 foo.example.com. port=53", &cat(&[&[0, 16], &foo, &h("0003 0002 0035")]));
        rt(t, "1 foo.example.com. key667=\"hello\"", &cat(&[&[0, 1], &foo, &h("029b 0005 68656c6c6f")]));
        parses(t, "1 foo.example.com. key667=hello", &cat(&[&[0, 1], &foo, &h("029b 0005 68656c6c6f")]));
        rt(
            t,
            "1 foo.example.com. key667=\"hello\\210qoo\"",
            &cat(&[&[0, 1], &foo, &h("029b 0009 68656c6c6fd2716f6f")]),
        );
        let v6 =
            cat(&[&[0, 1], &foo, &h("0006 0020 20010db8000000000000000000000001 20010db8000000000000000000530001")]);
        parses(t, "1 foo.example.com. ipv6hint=\"2001:db8::1,2001:db8::53:1\"", &v6);
        assert_eq!(show(t, &v6), "1 foo.example.com. ipv6hint=2001:db8::1,2001:db8::53:1");
        parses(
            t,
            "1 example.com. ipv6hint=\"2001:db8:122:344::192.0.2.33\"",
            &cat(&[&[0, 1], &n("example.com"), &h("0006 0010 20010db80122034400000000c0000221")]),
        );
        let org = n("foo.example.org");
        let mand =
            cat(&[&[0, 16], &org, &h("0000 0004 0001 0004  0001 0009 026832 05 68332d3139  0004 0004 c0000201")]);
        parses(t, "16 foo.example.org. alpn=h2,h3-19 mandatory=ipv4hint,alpn ipv4hint=192.0.2.1", &mand);
        assert_eq!(show(t, &mand), "16 foo.example.org. mandatory=alpn,ipv4hint alpn=\"h2,h3-19\" ipv4hint=192.0.2.1");
        let esc = cat(&[&[0, 16], &org, &h("0001 000c 08 665c6f6f2c626172 02 6832")]);
        rt(t, "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\"", &esc);
        parses(t, "16 foo.example.org. alpn=f\\\\\\092oo\\092,bar,h2", &esc);
        // the remaining keys
        let all = cat(&[
            &[0, 1],
            &foo,
            &h("0002 0000  0005 0003 010203  0007 0010"),
            b"/dns-query{?dns}",
            &h("0008 0000  ff00 0000  ffff 0002 2220"),
        ]);
        rt(t, "1 foo.example.com. no-default-alpn ech=AQID dohpath=\"/dns-query{?dns}\" ohttp key65280 key65535=\"\\\" \"", &all);
        parses(t, "1 foo.example.com. key65535=\"\\034 \" key65280 key8 key7=/dns-query{?dns} key5=AQID key2", &all);
        rt(RrType::HTTPS, "1 . ech=\"\"", &h("0001 00 0005 0000"));
        // RFC 9460 D.3 failure cases
        for bad in [
            "1 foo.example.com. key123=abc key123=def",
            "1 foo.example.com. mandatory",
            "1 foo.example.com. alpn",
            "1 foo.example.com. port",
            "1 foo.example.com. ipv4hint",
            "1 foo.example.com. ipv6hint",
            "1 foo.example.com. no-default-alpn=abc",
            "1 foo.example.com. mandatory=mandatory",
            "1 foo.example.com. ipv6hint=1.2.3.4",
            "1 foo.example.com. ipv6hint=example.com",
            "1 foo.example.com. mandatory=ipv4hint,ipv4hint",
            "1 foo.example.com. port=65536",
            "1 foo.example.com. alpn=h2,,h3",
            "1 foo.example.com. bogus=1",
            "1 foo.example.com. key65536=1",
            "1 foo.example.com. ech=!!",
        ] {
            assert!(p(t, bad).is_err(), "{bad}");
        }
        assert!(reason(t, "1 foo.example.com. key123=abc key123=def").contains("twice"));
    }

    #[test]
    fn loc() {
        let lat = (1u32 << 31) + 51 * 3_600_000 + 30 * 60_000 + 12_748;
        let lon = (1u32 << 31) - (7 * 60_000 + 39_611);
        let wire = cat(&[&[0, 0, 0, 0], &lat.to_be_bytes(), &lon.to_be_bytes(), &10_000_000u32.to_be_bytes()]);
        rt(RrType::LOC, "51 30 12.748 N 0 7 39.611 W 0.00m 0.00m 0.00m 0.00m", &wire);
        // RFC 1876 example: defaults for the precisions
        let lat = (1u32 << 31) + 42 * 3_600_000 + 21 * 60_000 + 54_000;
        let lon = (1u32 << 31) - (71 * 3_600_000 + 6 * 60_000 + 18_000);
        let alt = 10_000_000u32 - 2_400;
        let mit = cat(&[&[0, 0x33, 0x16, 0x13], &lat.to_be_bytes(), &lon.to_be_bytes(), &alt.to_be_bytes()]);
        parses(RrType::LOC, "42 21 54 N 71 06 18 W -24m 30m", &mit);
        assert_eq!(show(RrType::LOC, &mit), "42 21 54.000 N 71 6 18.000 W -24.00m 30m 10000m 10m");
        parses(RrType::LOC, "42 21 54.000 n 71 6 18.000 w -24.00 30 10000 10", &mit);
        let south = cat(&[
            &[0, 0x12, 0x16, 0x13],
            &((1u32 << 31) - 90 * 3_600_000).to_be_bytes(),
            &((1u32 << 31) + 180 * 3_600_000).to_be_bytes(),
            &u32::MAX.to_be_bytes(),
        ]);
        rt(RrType::LOC, "90 0 0.000 S 180 0 0.000 E 42849672.95m 1m 10000m 10m", &south);
        parses(RrType::LOC, "90 S 180 E 42849672.95", &south);
        rt(
            RrType::LOC,
            "0 0 0.000 N 0 0 0.005 E -100000.00m 0.05m 0.90m 90000000m",
            &cat(&[
                &[0, 0x50, 0x91, 0x99],
                &(1u32 << 31).to_be_bytes(),
                &((1u32 << 31) + 5).to_be_bytes(),
                &0u32.to_be_bytes(),
            ]),
        );
        for bad in [
            "91 N 0 E 0m",
            "90 1 N 0 E 0m",
            "0 60 N 0 E 0m",
            "0 0 60 N 0 E 0m",
            "0 0 1.0001 N 0 E 0m",
            "0 N 181 E 0m",
            "0 E 0 N 0m",
            "0 N 0 E",
            "0 N 0 E -100000.01m",
            "0 N 0 E 42849672.96m",
            "0 N 0 E 0m 90000000.01m",
            "0 N 0 E 0m 1m 1m 1m 1m",
            "0 N 0 E 0m x",
            "0 N 0 E 184467440737095516.15m",
            "0 N 0 E 92233720368547758.07m",
            "0 N 0 E -92233720368547758.08m",
        ] {
            assert!(p(RrType::LOC, bad).is_err(), "{bad}");
        }
        // size truncated to one significant digit, like BIND
        assert_eq!(p(RrType::LOC, "0 N 0 E 0m 15m").unwrap()[1], 0x13);
    }

    #[test]
    fn generic_form() {
        let unknown = RrType(65280);
        rt(unknown, "\\# 4 0a000001", &[10, 0, 0, 1]);
        parses(unknown, "\\# 4 0A 00 00 01", &[10, 0, 0, 1]);
        parses(unknown, "\\# 4 0a 00 00 01 ", &[10, 0, 0, 1]); // wdns style
        parses(unknown, "  \\#  4 ( 0a00 0001 )", &[10, 0, 0, 1]);
        rt(unknown, "\\# 0", &[]);
        assert_eq!(reason(unknown, "10.0.0.1").split(':').next(), Some("TYPE65280"));
        assert!(reason(unknown, "\\# 4 0a0000").contains("length says 4"));
        assert!(reason(unknown, "\\# 4 0a000001ff").contains("length says 4"));
        assert!(reason(unknown, "\\# 0 00").contains("length says 0"));
        assert!(reason(unknown, "\\# 4 0a00000").contains("odd"));
        assert!(reason(unknown, "\\#").contains("length"));
        assert!(reason(unknown, "\\# x").contains("length"));
        assert!(reason(unknown, "\\# 65536").contains("length"));
        // known types: validated and canonicalised, then rendered specifically
        parses(RrType::A, "\\# 4 0a000001", &[10, 0, 0, 1]);
        assert_eq!(show(RrType::A, &p(RrType::A, "\\# 4 0a000001").unwrap()), "10.0.0.1");
        assert!(reason(RrType::A, "\\# 3 0a0000").contains("in \\# generic rdata"));
        parses(RrType::MX, "\\# 9 000a 024d58 02 4f 52 00", &cat(&[&[0, 10], &n("mx.or")]));
        assert!(p(RrType::MX, "\\# 4 000ac00c").is_err()); // compression pointer
        parses(RrType::TXT, "\\# 0", &[]);
        assert_eq!(show(RrType::TXT, &[]), "\\# 0");
        // types without a specific format accept only the generic form
        for t in [RrType::NULL, RrType::WKS, RrType::APL, RrType::HIP, RrType::OPT] {
            rt(t, "\\# 3 010203", &[1, 2, 3]);
            assert!(reason(t, "1 2 3").contains("generic form"));
        }
        rt(RrType::NULL, "\\# 0", &[]);
        let big = format!("\\# 65535 {}", "ab".repeat(65535));
        assert_eq!(p(unknown, &big).unwrap().len(), 65535);
    }

    #[test]
    fn output_is_appended_and_kept_on_error() {
        let mut out = b"xy".to_vec();
        assert!(parse(RrType::MX, "10 a..b", &mut out).is_err());
        assert_eq!(out, b"xy");
        parse(RrType::A, "1.2.3.4", &mut out).unwrap();
        assert_eq!(out, b"xy\x01\x02\x03\x04");
    }

    #[test]
    fn encoders_and_decoders() {
        use crate::rdata::present::{write_base32hex, write_base64};
        let vectors = [
            ("", "", ""),
            ("f", "Zg==", "CO"),
            ("fo", "Zm8=", "CPNG"),
            ("foo", "Zm9v", "CPNMU"),
            ("foob", "Zm9vYg==", "CPNMUOG"),
            ("fooba", "Zm9vYmE=", "CPNMUOJ1"),
            ("foobar", "Zm9vYmFy", "CPNMUOJ1E8"),
        ];
        for (plain, b64, b32) in vectors {
            let mut s = String::new();
            write_base64(plain.as_bytes(), &mut s);
            assert_eq!(s, b64);
            let mut s = String::new();
            write_base32hex(plain.as_bytes(), &mut s);
            assert_eq!(s, b32);
            let mut v = Vec::new();
            let mut d = Base64Decoder::default();
            d.push(b64, &mut v).unwrap();
            d.finish(&mut v).unwrap();
            assert_eq!(v, plain.as_bytes());
            let mut v = Vec::new();
            base32hex_decode(&b32.to_lowercase(), &mut v).unwrap();
            assert_eq!(v, plain.as_bytes());
        }
        let mut v = Vec::new();
        assert!(base32hex_decode("C", &mut v).is_err());
        assert!(base32hex_decode("CP", &mut v).is_err()); // unused bits set
        assert!(base32hex_decode("CPN", &mut v).is_err());
        assert!(base32hex_decode("CW", &mut v).is_err());
        assert_eq!(ttl("1w2d3h4m5s"), Some(604_800 + 2 * 86_400 + 3 * 3_600 + 4 * 60 + 5));
        assert_eq!(ttl("4294967295"), Some(u32::MAX));
        assert_eq!(ttl("4294967296"), None);
        assert_eq!(ttl("1h30"), None);
        assert_eq!(ttl("h"), None);
        assert_eq!(ttl(""), None);
    }

    /// A deterministic xorshift64 generator.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    /// Types to exercise: every known type plus a few unknown ones.
    fn all_types() -> Vec<RrType> {
        KNOWN_TYPES.iter().map(|&(n, _)| RrType(n)).chain([RrType(0), RrType(65280), RrType(65535)]).collect()
    }

    /// Checks the parse/present/canonicalize contract for one parsed rdata.
    fn check_parsed(t: RrType, text: &str, wire: &[u8]) {
        let mut c = Vec::new();
        canonicalize(t, wire, &mut c).unwrap_or_else(|e| panic!("{t} {text:?} parsed to non-canonical {wire:?}: {e}"));
        assert_eq!(c, wire, "{t} {text:?}: parse output not canonical");
        let shown = show(t, wire);
        assert_eq!(
            p(t, &shown).unwrap_or_else(|e| panic!("{t} {shown:?} (from {text:?}): {e}")),
            wire,
            "{t} {shown:?}"
        );
    }

    #[test]
    fn garbage_text_never_panics() {
        let alphabet: Vec<&str> = vec![
            " ",
            " ",
            "\t",
            "\"",
            "\\",
            "\\#",
            "(",
            ")",
            "=",
            ",",
            ".",
            "-",
            ":",
            ";",
            "0",
            "1",
            "2",
            "5",
            "9",
            "10",
            "255",
            "65535",
            "4294967296",
            "a",
            "A",
            "x",
            "N",
            "S",
            "E",
            "W",
            "m",
            "AQ==",
            "==",
            "é",
            "例",
            "\u{0}",
            "\u{7f}",
            "alpn",
            "port",
            "key1",
            "mandatory",
            "example.com.",
            "..",
            "ipv4hint",
            "1.2.3.4",
            "::1",
            "TYPE1",
            "RRSIG",
            "20230101000000",
            "\\0",
            "\\255",
            "\\256",
            "-",
            "ff",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let types = all_types();
        let mut ok = 0;
        for i in 0..30_000 {
            let len = rng.below(12);
            let text: String = (0..len).map(|_| alphabet[rng.below(alphabet.len())]).collect();
            let t = types[i % types.len()];
            if let Ok(wire) = p(t, &text) {
                ok += 1;
                check_parsed(t, &text, &wire);
            }
        }
        assert!(ok > 100, "only {ok} random texts parsed");
        // arbitrary characters: control, non-ASCII, any plane
        for i in 0..20_000 {
            let len = rng.below(24);
            let text: String = (0..len)
                .filter_map(|_| {
                    let limit = [0x80, 0x800, 0x11_0000][rng.below(3)];
                    char::from_u32(rng.below(limit) as u32)
                })
                .collect();
            let t = types[i % types.len()];
            if let Ok(wire) = p(t, &text) {
                check_parsed(t, &text, &wire);
            }
        }
        // structured mutations of valid presentations
        let samples = sample_texts();
        for i in 0..20_000 {
            let (t, text) = samples[i % samples.len()];
            let mut b: Vec<char> = text.chars().collect();
            for _ in 0..=rng.below(3) {
                match rng.below(4) {
                    0 if !b.is_empty() => {
                        let at = rng.below(b.len());
                        b.remove(at);
                    }
                    1 => {
                        let at = rng.below(b.len() + 1);
                        let s = alphabet[rng.below(alphabet.len())];
                        for (k, ch) in s.chars().enumerate() {
                            b.insert(at + k, ch);
                        }
                    }
                    2 if !b.is_empty() => {
                        let at = rng.below(b.len());
                        b.truncate(at);
                    }
                    _ => {}
                }
            }
            let text: String = b.into_iter().collect();
            if let Ok(wire) = p(t, &text) {
                check_parsed(t, &text, &wire);
            }
        }
    }

    fn sample_texts() -> Vec<(RrType, &'static str)> {
        vec![
            (RrType::A, "192.0.2.1"),
            (RrType::AAAA, "2001:db8::1"),
            (RrType::MX, "10 mail.example.com."),
            (RrType::SOA, "ns.icann.org. noc.dns.icann.org. 2022091303 7200 3600 1209600 3600"),
            (RrType::TXT, "\"part one\" \"part two\""),
            (RrType::TXT, "v=spf1 -all"),
            (RrType::HINFO, "\"INTEL-386\" \"Windows\""),
            (RrType::SRV, "0 5 5060 sip.example.com."),
            (RrType::NAPTR, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."),
            (RrType::CAA, "0 \"issuewild\" \"letsencrypt.org\""),
            (RrType::DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
            (RrType::DNSKEY, "256 3 5 AQPSKmynfzW4kyBv015MUG2DeIQ3Cbl+BBZH4b/0PY1kxkmvHjcZc8nokfzj31GajIQKY+5Cpt=="),
            (RrType::RRSIG, "A 8 2 3600 1700000000 1690000000 12345 example.com. AQPSKmynfzW4kyBv"),
            (RrType::NSEC, "next.example.com. A NS SOA RRSIG NSEC DNSKEY TYPE1234 CAA"),
            (RrType::NSEC3, "1 0 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG"),
            (RrType::NSEC3PARAM, "1 0 10 -"),
            (RrType::TLSA, "3 1 1 D2ABDE240D7CD3EE6B4B28C54DF034B97983A1D16E8A410E4561CB106618E971"),
            (RrType::SSHFP, "4 2 D2ABDE240D7CD3EE"),
            (RrType::HTTPS, "1 foo.example.com. alpn=\"h2,h3\" port=53 ipv4hint=192.0.2.1 mandatory=alpn,port"),
            (RrType::SVCB, "16 foo.example.org. alpn=\"f\\\\\\\\oo\\\\,bar,h2\" key667=\"hello\\210qoo\" ech=AQID"),
            (RrType::URI, "10 1 \"ftp://ftp1.example.com/public\""),
            (RrType::LOC, "51 30 12.748 N 0 7 39.611 W 0.00m 0.00m 0.00m 0.00m"),
            (RrType::IPSECKEY, "10 3 2 mygateway.example.com. AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ=="),
            (RrType::EUI48, "00-00-5e-00-53-2a"),
            (RrType::CSYNC, "66 3 A NS AAAA"),
            (RrType::ZONEMD, "2018031900 1 1 D2ABDE240D7CD3EE6B4B28C5"),
            (RrType::CERT, "1 0 0 AQID"),
            (RrType(65280), "\\# 4 0a000001"),
            (RrType::PX, "10 map822.example. mapx400.example."),
        ]
    }
}
