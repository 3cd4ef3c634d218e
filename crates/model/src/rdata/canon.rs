//! Validating wire rdata against each type's layout and bringing it to canonical form
//! (uncompressed, embedded domain names lower-cased), plus the name the rdata-name index uses.
//!
//! Also owns the pieces of wire layout the presentation code shares: the bounds-checked
//! [`Cursor`], the NSEC-style type bitmap checks and the SVCB/HTTPS SvcParam value checks.
//!
//! Validation is structural: every field must fit and the rdata must be consumed exactly.
//! Content that is structurally sound but not in the one form presentation can reproduce (a
//! type bitmap with trailing zero octets, an empty DS digest, …) is accepted here and rendered
//! in RFC 3597 generic form by `present`, so that parsing the presentation always gives back
//! the stored bytes.

use super::RdataError;
use crate::name::{Name, NameError};
use crate::rrtype::RrType;

/// Maximum length of rdata (the 16-bit RDLENGTH field).
pub(super) const MAX_RDATA: usize = 65535;

/// A bounds-checked reader over wire rdata; every read returns `None` instead of panicking.
pub(super) struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at the start of `buf`.
    pub(super) fn new(buf: &'a [u8]) -> Cursor<'a> {
        Cursor { buf, pos: 0 }
    }

    /// Octets not read yet.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// True when everything has been read.
    pub(super) fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// The next `n` octets; the cursor does not move if fewer remain.
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// Everything not read yet.
    pub(super) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or_default();
        self.pos = self.buf.len();
        s
    }

    /// One octet.
    pub(super) fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    /// A big-endian u16.
    pub(super) fn u16(&mut self) -> Option<u16> {
        let b: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(u16::from_be_bytes(b))
    }

    /// A big-endian u32.
    pub(super) fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(u32::from_be_bytes(b))
    }

    /// A length-prefixed character-string (its content, without the length octet).
    pub(super) fn charstring(&mut self) -> Option<&'a [u8]> {
        let start = self.pos;
        let n = self.u8()? as usize;
        let s = self.take(n);
        if s.is_none() {
            self.pos = start;
        }
        s
    }

    /// An uncompressed wire name, normalised (lower-cased) by [`Name`].
    pub(super) fn name(&mut self) -> Result<Name, NameError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let (name, used) = Name::from_wire_prefix(rest)?;
        self.pos += used;
        Ok(name)
    }
}

/// Checks the structure of an NSEC-style type bitmap: windows of a number, a length 1..=32
/// and that many octets, until the end.
pub(super) fn check_bitmap(b: &[u8]) -> Result<(), &'static str> {
    let mut c = Cursor::new(b);
    while !c.is_empty() {
        let _window = c.u8().ok_or("truncated type bitmap window")?;
        let len = c.u8().ok_or("truncated type bitmap window")? as usize;
        if !(1..=32).contains(&len) {
            return Err("type bitmap window length not in 1..=32");
        }
        c.take(len).ok_or("truncated type bitmap window")?;
    }
    Ok(())
}

/// The types in a bitmap in the one form presentation reproduces (windows in increasing
/// order, no trailing zero octets); `None` otherwise.
pub(super) fn bitmap_types(b: &[u8]) -> Option<Vec<u16>> {
    let mut c = Cursor::new(b);
    let mut types = Vec::new();
    let mut last: Option<u8> = None;
    while !c.is_empty() {
        let window = c.u8()?;
        if last.is_some_and(|l| window <= l) {
            return None;
        }
        last = Some(window);
        let len = c.u8()? as usize;
        if !(1..=32).contains(&len) {
            return None;
        }
        let bits = c.take(len)?;
        if bits.last() == Some(&0) {
            return None;
        }
        for (i, &octet) in bits.iter().enumerate() {
            for bit in 0..8u16 {
                if octet & (0x80 >> bit) != 0 {
                    types.push((u16::from(window) << 8) | ((i as u16) << 3) | bit);
                }
            }
        }
    }
    Some(types)
}

/// Presentation names of the SvcParamKeys 0..=8 (RFC 9460, RFC 9461 dohpath, RFC 9540 ohttp).
pub(super) const SVC_KEY_NAMES: [&str; 9] =
    ["mandatory", "alpn", "no-default-alpn", "port", "ipv4hint", "ech", "ipv6hint", "dohpath", "ohttp"];

/// Decodes an RFC 1876 LOC size/precision octet (mantissa and power of ten) to centimetres;
/// `None` unless it is the one encoding [`cm_to_loc_prec`] produces for that value.
pub(super) fn loc_prec_to_cm(b: u8) -> Option<u64> {
    let (mantissa, exp) = (u64::from(b >> 4), u32::from(b & 0x0f));
    if mantissa > 9 || exp > 9 {
        return None;
    }
    let cm = mantissa * 10u64.pow(exp);
    (cm_to_loc_prec(cm) == b).then_some(cm)
}

/// Encodes centimetres (at most 9e9) as an RFC 1876 size/precision octet, truncating to one
/// significant digit.
pub(super) fn cm_to_loc_prec(cm: u64) -> u8 {
    let (mut mantissa, mut exp) = (cm, 0u8);
    while mantissa >= 10 && exp < 9 {
        mantissa /= 10;
        exp += 1;
    }
    ((mantissa.min(9) as u8) << 4) | exp
}

/// Checks the SvcParams of SVCB/HTTPS rdata: keys strictly increasing, values well-formed.
pub(super) fn check_svc_params(b: &[u8]) -> Result<(), String> {
    let mut c = Cursor::new(b);
    let mut last: Option<u16> = None;
    while !c.is_empty() {
        let key = c.u16().ok_or("truncated SvcParamKey")?;
        let len = c.u16().ok_or("truncated SvcParam length")? as usize;
        let value = c.take(len).ok_or("truncated SvcParam value")?;
        if last.is_some_and(|l| key <= l) {
            return Err("SvcParamKeys not in strictly increasing order".into());
        }
        last = Some(key);
        check_svc_value(key, value).map_err(|e| format!("SvcParam key{key}: {e}"))?;
    }
    Ok(())
}

/// Checks one SvcParam value against the layout of its key (RFC 9460 §7, RFC 9461, RFC 9540).
pub(super) fn check_svc_value(key: u16, v: &[u8]) -> Result<(), &'static str> {
    match key {
        0 => {
            if v.is_empty() || !v.chunks_exact(2).remainder().is_empty() {
                return Err("mandatory must be a non-empty list of u16 keys");
            }
            let mut last: Option<u16> = None;
            for pair in v.chunks_exact(2) {
                let &[hi, lo] = pair else { continue };
                let k = u16::from_be_bytes([hi, lo]);
                if k == 0 {
                    return Err("mandatory lists itself");
                }
                if last.is_some_and(|l| k <= l) {
                    return Err("mandatory keys not in strictly increasing order");
                }
                last = Some(k);
            }
            Ok(())
        }
        1 => {
            let mut c = Cursor::new(v);
            if c.is_empty() {
                return Err("alpn must not be empty");
            }
            while !c.is_empty() {
                match c.charstring() {
                    Some(id) if !id.is_empty() => {}
                    Some(_) => return Err("empty alpn id"),
                    None => return Err("truncated alpn id"),
                }
            }
            Ok(())
        }
        2 | 8 if !v.is_empty() => Err("value must be empty"),
        3 if v.len() != 2 => Err("port must be 2 octets"),
        4 if v.is_empty() || !v.chunks_exact(4).remainder().is_empty() => {
            Err("ipv4hint must be a non-empty list of addresses")
        }
        6 if v.is_empty() || !v.chunks_exact(16).remainder().is_empty() => {
            Err("ipv6hint must be a non-empty list of addresses")
        }
        _ => Ok(()),
    }
}

/// Validates `wire` for `rrtype` and appends its canonical form to `out`.
///
/// The canonical form is the input with the embedded domain names of the RFC 4034 §6.2 types
/// (plus SRV, NAPTR, SVCB/HTTPS, the SIG/RRSIG signer and NSEC next name, and the IPSECKEY
/// gateway) lower-cased. Types without a known layout pass through unchanged. On error `out`
/// is left as it was.
///
/// The IPSECKEY gateway is lower-cased too although RFC 4034 does not list it: parsing
/// normalises every name, so keeping its case would make stored rdata that cannot round-trip
/// through presentation, and the same record would be stored twice by case.
pub fn canonicalize(rrtype: RrType, wire: &[u8], out: &mut Vec<u8>) -> Result<(), RdataError> {
    if wire.len() > MAX_RDATA {
        return Err(RdataError::TooLong);
    }
    let start = out.len();
    let mut w = Canon { rrtype, c: Cursor::new(wire), out: &mut *out };
    let r = w.run();
    if r.is_err() {
        out.truncate(start);
    }
    r
}

/// The walk over one rdata that validates fields and copies them to the output.
struct Canon<'a, 'o> {
    rrtype: RrType,
    c: Cursor<'a>,
    out: &'o mut Vec<u8>,
}

impl<'a> Canon<'a, '_> {
    fn err(&self, reason: impl std::fmt::Display) -> RdataError {
        RdataError::malformed(self.rrtype, format!("{}: {}", self.rrtype, reason))
    }

    /// Copies `n` fixed octets holding the named fields.
    fn fixed(&mut self, n: usize, field: &str) -> Result<&'a [u8], RdataError> {
        match self.c.take(n) {
            Some(b) => {
                self.out.extend_from_slice(b);
                Ok(b)
            }
            None => Err(self.err(format_args!("truncated in {field}"))),
        }
    }

    fn u8(&mut self, field: &str) -> Result<u8, RdataError> {
        Ok(self.fixed(1, field)?.first().copied().unwrap_or(0))
    }

    /// Copies a name, lower-cased.
    fn name(&mut self, field: &str) -> Result<(), RdataError> {
        match self.c.name() {
            Ok(name) => {
                self.out.extend_from_slice(name.as_wire());
                Ok(())
            }
            Err(e) => Err(self.err(format_args!("{field}: {e}"))),
        }
    }

    fn charstring(&mut self, field: &str) -> Result<&'a [u8], RdataError> {
        match self.c.charstring() {
            Some(s) => {
                self.out.push(s.len() as u8);
                self.out.extend_from_slice(s);
                Ok(s)
            }
            None => Err(self.err(format_args!("truncated in {field}"))),
        }
    }

    fn rest(&mut self) -> &'a [u8] {
        let r = self.c.rest();
        self.out.extend_from_slice(r);
        r
    }

    fn exact(&mut self, n: usize, what: &str) -> Result<(), RdataError> {
        if self.c.remaining() != n {
            return Err(self.err(format_args!("{what} must be {n} octets, got {}", self.c.remaining())));
        }
        self.fixed(n, what).map(|_| ())
    }

    fn bitmap(&mut self) -> Result<(), RdataError> {
        let b = self.rest();
        check_bitmap(b).map_err(|e| self.err(e))
    }

    fn run(&mut self) -> Result<(), RdataError> {
        match self.rrtype {
            RrType::A => self.exact(4, "IPv4 address")?,
            RrType::AAAA => self.exact(16, "IPv6 address")?,
            RrType::EUI48 => self.exact(6, "EUI-48 address")?,
            RrType::EUI64 => self.exact(8, "EUI-64 address")?,
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
                self.fixed(20, "serial/refresh/retry/expire/minimum")?;
            }
            RrType::MX | RrType::AFSDB | RrType::RT | RrType::KX => {
                self.fixed(2, "preference")?;
                self.name("exchange")?;
            }
            RrType::MINFO | RrType::RP => {
                self.name("first name")?;
                self.name("second name")?;
            }
            RrType::PX => {
                self.fixed(2, "preference")?;
                self.name("MAP822")?;
                self.name("MAPX400")?;
            }
            RrType::TXT | RrType::SPF => {
                while !self.c.is_empty() {
                    self.charstring("character-string")?;
                }
            }
            RrType::HINFO => {
                self.charstring("CPU")?;
                self.charstring("OS")?;
            }
            RrType::SRV => {
                self.fixed(6, "priority/weight/port")?;
                self.name("target")?;
            }
            RrType::NAPTR => {
                self.fixed(4, "order/preference")?;
                self.charstring("flags")?;
                self.charstring("services")?;
                self.charstring("regexp")?;
                self.name("replacement")?;
            }
            RrType::CAA => {
                self.fixed(1, "flags")?;
                self.charstring("tag")?;
                self.rest();
            }
            RrType::DS | RrType::CDS | RrType::DLV | RrType::TA => {
                self.fixed(4, "key tag/algorithm/digest type")?;
                self.rest();
            }
            RrType::SSHFP => {
                self.fixed(2, "algorithm/fingerprint type")?;
                self.rest();
            }
            RrType::DNSKEY | RrType::CDNSKEY | RrType::KEY => {
                self.fixed(4, "flags/protocol/algorithm")?;
                self.rest();
            }
            RrType::RRSIG | RrType::SIG => {
                self.fixed(18, "fixed fields")?;
                self.name("signer name")?;
                self.rest();
            }
            RrType::NSEC => {
                self.name("next domain name")?;
                self.bitmap()?;
            }
            RrType::NSEC3 => {
                self.fixed(4, "algorithm/flags/iterations")?;
                self.charstring("salt")?;
                self.charstring("next hashed owner name")?;
                self.bitmap()?;
            }
            RrType::NSEC3PARAM => {
                self.fixed(4, "algorithm/flags/iterations")?;
                self.charstring("salt")?;
            }
            RrType::TLSA | RrType::SMIMEA => {
                self.fixed(3, "usage/selector/matching type")?;
                self.rest();
            }
            RrType::SVCB | RrType::HTTPS => {
                self.fixed(2, "priority")?;
                self.name("target")?;
                let params = self.rest();
                check_svc_params(params).map_err(|e| self.err(e))?;
            }
            RrType::URI => {
                self.fixed(4, "priority/weight")?;
                self.rest();
            }
            RrType::CSYNC => {
                self.fixed(6, "serial/flags")?;
                self.bitmap()?;
            }
            RrType::ZONEMD => {
                self.fixed(6, "serial/scheme/algorithm")?;
                self.rest();
            }
            RrType::CERT => {
                self.fixed(5, "type/key tag/algorithm")?;
                self.rest();
            }
            RrType::IPSECKEY => {
                self.fixed(1, "precedence")?;
                let gateway_type = self.u8("gateway type")?;
                self.fixed(1, "algorithm")?;
                match gateway_type {
                    0 => {}
                    1 => {
                        self.fixed(4, "IPv4 gateway")?;
                    }
                    2 => {
                        self.fixed(16, "IPv6 gateway")?;
                    }
                    3 => self.name("gateway")?,
                    // Unknown gateway type: the rest is opaque.
                    _ => {}
                }
                self.rest();
            }
            RrType::LOC if wire_first(&self.c) == Some(0) => {
                self.exact(16, "LOC version 0 rdata")?;
            }
            _ => {
                self.rest();
            }
        }
        if !self.c.is_empty() {
            return Err(self.err(format_args!("{} trailing octets", self.c.remaining())));
        }
        Ok(())
    }
}

/// The next octet without consuming it.
fn wire_first(c: &Cursor<'_>) -> Option<u8> {
    c.buf.get(c.pos).copied()
}

/// True if rdata of this type carries a name the rdata-name index uses.
pub fn has_indexed_name(rrtype: RrType) -> bool {
    matches!(
        rrtype,
        RrType::NS
            | RrType::MD
            | RrType::MF
            | RrType::CNAME
            | RrType::MB
            | RrType::MG
            | RrType::MR
            | RrType::PTR
            | RrType::DNAME
            | RrType::SOA
            | RrType::MX
            | RrType::AFSDB
            | RrType::RT
            | RrType::KX
            | RrType::SRV
            | RrType::NAPTR
            | RrType::SVCB
            | RrType::HTTPS
            | RrType::RP
            | RrType::MINFO
    )
}

/// The name the rdata-name index uses for this rdata: the target of NS/CNAME/DNAME/PTR (and
/// MD/MF/MB/MG/MR), the exchange of MX/AFSDB/RT/KX, the target of SRV/SVCB/HTTPS, the MNAME of
/// SOA, the replacement of NAPTR, the first name of RP/MINFO. `None` for other types, for a
/// root SVCB/HTTPS target or NAPTR replacement, and for malformed rdata.
pub fn indexed_name(rrtype: RrType, wire: &[u8]) -> Option<Name> {
    let mut c = Cursor::new(wire);
    let name = match rrtype {
        RrType::NS
        | RrType::MD
        | RrType::MF
        | RrType::CNAME
        | RrType::MB
        | RrType::MG
        | RrType::MR
        | RrType::PTR
        | RrType::DNAME => c.name().ok()?,
        RrType::SOA => {
            let n = c.name().ok()?;
            c.name().ok()?;
            c.take(20)?;
            n
        }
        RrType::RP | RrType::MINFO => {
            let n = c.name().ok()?;
            c.name().ok()?;
            n
        }
        RrType::MX | RrType::AFSDB | RrType::RT | RrType::KX => {
            c.take(2)?;
            c.name().ok()?
        }
        RrType::SRV => {
            c.take(6)?;
            c.name().ok()?
        }
        RrType::NAPTR => {
            c.take(4)?;
            c.charstring()?;
            c.charstring()?;
            c.charstring()?;
            c.name().ok()?
        }
        RrType::SVCB | RrType::HTTPS => {
            c.take(2)?;
            let n = c.name().ok()?;
            check_svc_params(c.rest()).ok()?;
            n
        }
        _ => return None,
    };
    if !c.is_empty() || (name.is_root() && matches!(rrtype, RrType::NAPTR | RrType::SVCB | RrType::HTTPS)) {
        return None;
    }
    Some(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdata::{parse, present};
    use crate::rrtype::KNOWN_TYPES;

    fn canon(t: RrType, wire: &[u8]) -> Result<Vec<u8>, RdataError> {
        let mut out = vec![0xEE];
        let r = canonicalize(t, wire, &mut out);
        match r {
            Ok(()) => Ok(out[1..].to_vec()),
            Err(e) => {
                assert_eq!(out, [0xEE], "output changed on error");
                Err(e)
            }
        }
    }

    fn parsed(t: RrType, text: &str) -> Vec<u8> {
        let mut out = Vec::new();
        parse(t, text, &mut out).unwrap_or_else(|e| panic!("{t} {text:?}: {e}"));
        out
    }

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn malformed(t: RrType, wire: &[u8]) -> String {
        match canon(t, wire) {
            Err(RdataError::Malformed { rrtype, reason }) => {
                assert_eq!(rrtype, t);
                reason
            }
            other => panic!("{t} {wire:?}: expected malformed, got {other:?}"),
        }
    }

    #[test]
    fn lower_cases_embedded_names() {
        let cases: &[(RrType, &[u8], &[u8])] = &[
            (RrType::NS, b"\x02NS\x07Example\x00", b"\x02ns\x07example\x00"),
            (RrType::CNAME, b"\x03WWW\x00", b"\x03www\x00"),
            (RrType::DNAME, b"\x01X\x00", b"\x01x\x00"),
            (RrType::PTR, b"\x01X\x00", b"\x01x\x00"),
            (RrType::MD, b"\x01X\x00", b"\x01x\x00"),
            (RrType::MF, b"\x01X\x00", b"\x01x\x00"),
            (RrType::MB, b"\x01X\x00", b"\x01x\x00"),
            (RrType::MG, b"\x01X\x00", b"\x01x\x00"),
            (RrType::MR, b"\x01X\x00", b"\x01x\x00"),
            (RrType::MX, b"\x00\x0a\x04MAIL\x00", b"\x00\x0a\x04mail\x00"),
            (RrType::AFSDB, b"\x00\x01\x01A\x00", b"\x00\x01\x01a\x00"),
            (RrType::RT, b"\x00\x01\x01A\x00", b"\x00\x01\x01a\x00"),
            (RrType::KX, b"\x00\x01\x01A\x00", b"\x00\x01\x01a\x00"),
            (RrType::RP, b"\x01A\x00\x01B\x00", b"\x01a\x00\x01b\x00"),
            (RrType::MINFO, b"\x01A\x00\x01B\x00", b"\x01a\x00\x01b\x00"),
            (RrType::PX, b"\x00\x01\x01A\x00\x01B\x00", b"\x00\x01\x01a\x00\x01b\x00"),
            (
                RrType::SOA,
                b"\x02NS\x00\x04HOST\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05",
                b"\x02ns\x00\x04host\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05",
            ),
            (RrType::SRV, b"\x00\x01\x00\x02\x00\x03\x03SIP\x00", b"\x00\x01\x00\x02\x00\x03\x03sip\x00"),
            (RrType::NAPTR, b"\x00\x01\x00\x02\x01S\x00\x00\x01X\x00", b"\x00\x01\x00\x02\x01S\x00\x00\x01x\x00"),
            (
                RrType::RRSIG,
                b"\x00\x01\x08\x02\x00\x00\x0e\x10\x00\x00\x00\x02\x00\x00\x00\x01\x30\x39\x01E\x00SIG",
                b"\x00\x01\x08\x02\x00\x00\x0e\x10\x00\x00\x00\x02\x00\x00\x00\x01\x30\x39\x01e\x00SIG",
            ),
            (RrType::NSEC, b"\x04NEXT\x00\x00\x01\x40", b"\x04next\x00\x00\x01\x40"),
            (RrType::SVCB, b"\x00\x01\x03FOO\x00\x00\x03\x00\x02\x00\x35", b"\x00\x01\x03foo\x00\x00\x03\x00\x02\x00\x35"),
            (RrType::HTTPS, b"\x00\x00\x03FOO\x00", b"\x00\x00\x03foo\x00"),
            // not names: left alone
            (RrType::TXT, b"\x03ABC", b"\x03ABC"),
            (RrType::CAA, b"\x00\x05ISSUEX.ORG", b"\x00\x05ISSUEX.ORG"),
            (RrType::IPSECKEY, b"\x0a\x03\x02\x02GW\x00\x01", b"\x0a\x03\x02\x02gw\x00\x01"),
            (RrType(65280), b"\x01A\x00", b"\x01A\x00"),
        ];
        for &(t, wire, want) in cases {
            assert_eq!(canon(t, wire).unwrap_or_else(|e| panic!("{t}: {e}")), want, "{t}");
            assert_eq!(canon(t, want).unwrap(), want, "{t} idempotent");
        }
    }

    #[test]
    fn rejects_bad_layouts() {
        assert_eq!(malformed(RrType::A, &[1, 2, 3]), "A: IPv4 address must be 4 octets, got 3");
        assert!(malformed(RrType::A, &[1, 2, 3, 4, 5]).contains("4 octets"));
        assert!(malformed(RrType::AAAA, &[0; 4]).contains("16 octets"));
        assert!(malformed(RrType::EUI48, &[0; 8]).contains("6 octets"));
        assert!(malformed(RrType::NS, b"\xc0\x0c").contains("compression pointer"));
        assert!(malformed(RrType::MX, b"\x00\x0a\x04mail\xc0\x0c").contains("compression pointer"));
        assert!(malformed(RrType::NS, b"\x01a\x00x").contains("1 trailing octets"));
        assert!(malformed(RrType::NS, b"\x05ab").contains("truncated"));
        assert!(malformed(RrType::NS, &[]).contains("truncated"));
        assert!(malformed(RrType::MX, b"\x00").contains("preference"));
        assert!(malformed(RrType::SOA, b"\x00\x00\x00\x00").contains("serial"));
        assert!(malformed(RrType::TXT, b"\x05ab").contains("character-string"));
        assert!(malformed(RrType::HINFO, b"\x01a").contains("OS"));
        assert!(malformed(RrType::NAPTR, b"\x00\x01\x00\x02\x01S\x00\x00").contains("replacement"));
        assert!(malformed(RrType::CAA, b"\x00\x05iss").contains("tag"));
        assert!(malformed(RrType::DS, b"\x00\x01\x05").contains("key tag"));
        assert!(malformed(RrType::RRSIG, &[0; 17]).contains("fixed fields"));
        assert!(malformed(RrType::NSEC, b"\x00\x00\x00").contains("1..=32"));
        assert!(malformed(RrType::NSEC, b"\x00\x00\x21").contains("1..=32"));
        assert!(malformed(RrType::NSEC, b"\x00\x00\x02\x40").contains("truncated"));
        assert!(malformed(RrType::NSEC3, b"\x01\x00\x00\x0a\x05").contains("salt"));
        assert!(malformed(RrType::SVCB, b"\x00\x01\x00\x00\x03\x00\x02\x00\x35\x00\x01\x00\x03\x02h2")
            .contains("increasing"));
        assert!(malformed(RrType::SVCB, b"\x00\x01\x00\x00\x03\x00\x01\x00").contains("port"));
        assert!(malformed(RrType::SVCB, b"\x00\x01\x00\x00\x01\x00\x00").contains("alpn"));
        assert!(malformed(RrType::SVCB, b"\x00\x01\x00\x00\x01").contains("truncated"));
        assert!(malformed(RrType::IPSECKEY, b"\x0a\x01\x02\xc0").contains("IPv4 gateway"));
        assert!(malformed(RrType::LOC, &[0; 15]).contains("16 octets"));
        assert_eq!(canon(RrType::A, &vec![0; 65536]), Err(RdataError::TooLong));
        // structurally fine, even if presentation has to fall back to the generic form
        for (t, w) in [
            (RrType::TXT, &b""[..]),
            (RrType::DS, b"\x00\x01\x05\x01"),
            (RrType::NSEC, b"\x00\x00\x02\x40\x00"),
            (RrType::LOC, b"\x01anything"),
            (RrType::IPSECKEY, b"\x0a\x07\x02opaque"),
            (RrType::NULL, b""),
            (RrType(65280), b"\xc0\x0c"),
        ] {
            assert_eq!(canon(t, w).unwrap(), w, "{t}");
        }
    }

    #[test]
    fn indexed_names() {
        let cases: &[(RrType, &str, Option<&str>)] = &[
            (RrType::NS, "NS1.Example.com.", Some("ns1.example.com.")),
            (RrType::CNAME, "a.example.", Some("a.example.")),
            (RrType::DNAME, "a.example.", Some("a.example.")),
            (RrType::PTR, "a.example.", Some("a.example.")),
            (RrType::MB, "a.example.", Some("a.example.")),
            (RrType::MX, "10 mail.example.com.", Some("mail.example.com.")),
            (RrType::AFSDB, "1 afs.example.", Some("afs.example.")),
            (RrType::RT, "1 rt.example.", Some("rt.example.")),
            (RrType::KX, "1 kx.example.", Some("kx.example.")),
            (RrType::SRV, "0 5 5060 sip.example.com.", Some("sip.example.com.")),
            (RrType::SOA, "ns.icann.org. noc.dns.icann.org. 1 2 3 4 5", Some("ns.icann.org.")),
            (RrType::SVCB, "1 foo.example.com. alpn=h2", Some("foo.example.com.")),
            (RrType::HTTPS, "0 foo.example.com.", Some("foo.example.com.")),
            (RrType::HTTPS, "1 . alpn=h2", None),
            (RrType::NAPTR, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.", Some("_sip._udp.example.com.")),
            (RrType::NAPTR, "100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:x@example.com!\" .", None),
            (RrType::RP, "mbox.example. txt.example.", Some("mbox.example.")),
            (RrType::MINFO, "rm.example. em.example.", Some("rm.example.")),
            (RrType::A, "192.0.2.1", None),
            (RrType::TXT, "\"mail.example.com.\"", None),
            (RrType::PX, "1 a.example. b.example.", None),
            (RrType::NSEC, "next.example. A", None),
        ];
        for &(t, text, want) in cases {
            let wire = parsed(t, text);
            assert_eq!(indexed_name(t, &wire), want.map(n), "{t} {text}");
            if want.is_some() {
                assert!(has_indexed_name(t), "{t}");
            }
        }
        assert_eq!(indexed_name(RrType::MX, b"\x00\x0a\x04mail\x00x"), None);
        assert_eq!(indexed_name(RrType::MX, b"\x00\x0a\xc0\x0c"), None);
        assert_eq!(indexed_name(RrType::SOA, b"\x01a\x00\x01b\x00"), None);
        assert_eq!(indexed_name(RrType::NS, b""), None);
        assert_eq!(indexed_name(RrType::SVCB, b"\x00\x01\x01a\x00\x00\x03\x00\x01\x00"), None);
        for t in [RrType::A, RrType::AAAA, RrType::TXT, RrType::PX, RrType::NSEC, RrType::RRSIG, RrType::IPSECKEY] {
            assert!(!has_indexed_name(t), "{t}");
        }
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

    fn all_types() -> Vec<RrType> {
        KNOWN_TYPES.iter().map(|&(n, _)| RrType(n)).chain([RrType(0), RrType(65280), RrType(65535)]).collect()
    }

    /// Sample rdata of every type with a specific presentation, in canonical wire form.
    fn samples() -> Vec<(RrType, Vec<u8>)> {
        let texts: &[(RrType, &str)] = &[
            (RrType::A, "192.0.2.1"),
            (RrType::AAAA, "2001:db8::53:1"),
            (RrType::NS, "a.iana-servers.net."),
            (RrType::MD, "md.example."),
            (RrType::MF, "mf.example."),
            (RrType::CNAME, "www.example.com."),
            (RrType::MB, "mb.example."),
            (RrType::MG, "mg.example."),
            (RrType::MR, "mr.example."),
            (RrType::PTR, "host.example."),
            (RrType::DNAME, "target.example."),
            (RrType::SOA, "ns.icann.org. noc.dns.icann.org. 2022091303 7200 3600 1209600 3600"),
            (RrType::MX, "10 mail.example.com."),
            (RrType::AFSDB, "1 afs.example."),
            (RrType::RT, "10 relay.example."),
            (RrType::KX, "10 kx.example."),
            (RrType::MINFO, "rm.example. em.example."),
            (RrType::RP, "mbox.example. txt.example."),
            (RrType::PX, "10 map822.example. mapx400.example."),
            (RrType::TXT, "\"v=spf1 -all\" \"\" \"\\000\\\"\\\\\""),
            (RrType::SPF, "\"v=spf1 -all\""),
            (RrType::HINFO, "\"INTEL-386\" \"Windows\""),
            (RrType::SRV, "0 5 5060 sip.example.com."),
            (RrType::NAPTR, "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."),
            (RrType::CAA, "0 \"issuewild\" \"letsencrypt.org\""),
            (RrType::DS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
            (RrType::CDS, "60485 5 1 2BB183AF5F22588179A53B0A98631FAD1A292118"),
            (RrType::DLV, "60485 5 1 2BB183AF"),
            (RrType::TA, "60485 5 1 2BB183AF"),
            (RrType::DNSKEY, "257 3 8 AwEAAag="),
            (RrType::CDNSKEY, "257 3 8 AwEAAag="),
            (RrType::KEY, "256 3 5 AQID"),
            (RrType::RRSIG, "A 8 2 3600 1700000000 1690000000 12345 example.com. AQIDBA=="),
            (RrType::SIG, "NSEC 8 2 3600 1700000000 1690000000 12345 example.com. AQIDBA=="),
            (RrType::NSEC, "next.example.com. A NS SOA RRSIG NSEC DNSKEY TYPE1234 CAA"),
            (RrType::NSEC3, "1 0 10 AABBCCDD 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG"),
            (RrType::NSEC3, "1 1 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR"),
            (RrType::NSEC3PARAM, "1 0 10 AABBCCDD"),
            (RrType::TLSA, "3 1 1 D2ABDE240D7CD3EE6B4B28C54DF034B9"),
            (RrType::SMIMEA, "3 1 1 D2ABDE240D7CD3EE6B4B28C54DF034B9"),
            (RrType::SSHFP, "4 2 D2ABDE240D7CD3EE6B4B28C54DF034B9"),
            (RrType::SVCB, "1 foo.example.com. alpn=\"h2,h3\" port=53 ipv4hint=192.0.2.1"),
            (
                RrType::HTTPS,
                "1 . mandatory=alpn,ipv6hint alpn=\"f\\\\\\\\oo\\\\,bar,h2\" no-default-alpn ech=AQID ipv6hint=2001:db8::1,::1 dohpath=\"/q{?dns}\" ohttp key667=\"hello\\210qoo\"",
            ),
            (RrType::HTTPS, "0 alias.example."),
            (RrType::URI, "10 1 \"ftp://ftp1.example.com/public\""),
            (RrType::OPENPGPKEY, "AQIDBAU="),
            (RrType::CSYNC, "66 3 A NS AAAA"),
            (RrType::ZONEMD, "2018031900 1 1 D2ABDE240D7CD3EE6B4B28C5"),
            (RrType::DHCID, "AAIBY2/AuCccgoJbsaxcQc9TUapptP69lOjxfNuVAA2kjEA="),
            (RrType::EUI48, "00-00-5e-00-53-2a"),
            (RrType::EUI64, "00-00-5e-ef-10-00-00-2a"),
            (RrType::CERT, "1 0 0 AQID"),
            (RrType::IPSECKEY, "10 1 2 192.0.2.38 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ=="),
            (RrType::IPSECKEY, "10 2 2 2001:db8:0:8002::2000:1 AQNRU3mG7TVTO2BkR47usntb102uFJtugbo6BSGvgqt4AQ=="),
            (RrType::IPSECKEY, "10 3 2 gw.example. AQNR"),
            (RrType::IPSECKEY, "10 0 0 ."),
            (RrType::LOC, "51 30 12.748 N 0 7 39.611 W 0.00m 0.00m 0.00m 0.00m"),
            (RrType::LOC, "42 21 54.000 S 71 6 18.000 E -24.00m 30m 10000m 10m"),
            (RrType::NULL, "\\# 3 010203"),
            (RrType::WKS, "\\# 6 c00002010640"),
            (RrType(65280), "\\# 4 0a000001"),
        ];
        texts.iter().map(|&(t, s)| (t, parsed(t, s))).collect()
    }

    /// For canonical `wire`: presentation parses back to exactly `wire`.
    fn round_trips(t: RrType, wire: &[u8]) {
        let mut s = String::new();
        present(t, wire, &mut s);
        let mut back = Vec::new();
        parse(t, &s, &mut back).unwrap_or_else(|e| panic!("{t} {wire:?} rendered as {s:?}: {e}"));
        assert_eq!(back, wire, "{t} rendered as {s:?}");
    }

    #[test]
    fn samples_round_trip() {
        let samples = samples();
        for (t, wire) in &samples {
            assert_eq!(canon(*t, wire).unwrap(), *wire, "{t}");
            round_trips(*t, wire);
            let mut s = String::new();
            present(*t, wire, &mut s);
            let generic_only = matches!(*t, RrType::NULL | RrType::WKS | RrType(65280));
            assert_eq!(s.starts_with("\\#"), generic_only, "{t}: {s}");
        }
        // every known type with a specific presentation has a sample
        for &(t, _) in KNOWN_TYPES {
            let t = RrType(t);
            let mut out = Vec::new();
            let specific = !matches!(parse(t, "", &mut out), Err(RdataError::Syntax { ref reason, .. }) if reason.contains("generic form"));
            if specific {
                assert!(samples.iter().any(|(s, _)| *s == t), "no sample for {t}");
            }
        }
    }

    #[test]
    fn mutated_and_random_wire_round_trips_or_is_rejected() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let samples = samples();
        let types = all_types();
        let mut accepted = 0;
        let mut check = |t: RrType, wire: &[u8]| {
            let mut s = String::new();
            present(t, wire, &mut s);
            assert!(!s.is_empty() && !s.ends_with(' ') && !s.starts_with(' '), "{t}: {s:?}");
            let _ = indexed_name(t, wire);
            if let Ok(c) = canon(t, wire) {
                assert_eq!(canon(t, &c).unwrap(), c, "{t}: canonicalize not idempotent");
                round_trips(t, &c);
                if let Some(name) = indexed_name(t, &c) {
                    assert!(has_indexed_name(t));
                    assert!(!name.as_wire().is_empty());
                }
                accepted += 1;
            }
        };
        for round in 0..60_000 {
            let (t, base) = &samples[round % samples.len()];
            let mut w = base.clone();
            match rng.below(6) {
                0 => w.truncate(rng.below(w.len() + 1)),
                1 if !w.is_empty() => {
                    let i = rng.below(w.len());
                    w[i] = rng.next() as u8;
                }
                2 if !w.is_empty() => {
                    let i = rng.below(w.len());
                    w[i] ^= 0x20; // case flips in names, etc.
                }
                3 => w.push(rng.next() as u8),
                4 => {
                    let i = rng.below(w.len() + 1);
                    w.insert(i, rng.next() as u8);
                }
                _ => {
                    let len = rng.below(40);
                    w = (0..len).map(|_| rng.next() as u8).collect();
                }
            }
            check(*t, &w);
            // the same bytes under another type
            check(types[rng.below(types.len())], &w);
        }
        for len in 0..64 {
            for t in &types {
                let w: Vec<u8> = (0..len).map(|_| (rng.next() % 4) as u8).collect();
                check(*t, &w);
            }
        }
        assert!(accepted > 10_000, "only {accepted} accepted");
    }
}
