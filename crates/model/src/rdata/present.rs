//! Rendering canonical wire rdata to presentation text, following the conventions of DNSDB's
//! wdns printer (`shared/reference/dnsdb-api.md` §2.7): fields joined by single spaces, names as
//! FQDNs with a trailing dot, character-strings always double-quoted, DS/TLSA/SSHFP/ZONEMD hex
//! upper-case without spaces, keys and signatures in one base64 string, RRSIG times as epochs.
//!
//! Rendering never fails: rdata that does not fit its type's layout, or that is not in the one
//! form [`super::parse()`] would give back byte for byte (an empty TXT, a DS without digest, a
//! type bitmap with trailing zero octets, …), and every type without a specific format (NULL,
//! WKS, unknown types) is rendered in RFC 3597 generic form `\# <len> <hex>` with the hex as one
//! lower-case string.
//!
//! Also owns the text encoders the module shares: hex, base64 and base32hex (RFC 4648), and
//! the quoting of character-strings.

use std::fmt::Write;
use std::net::{Ipv4Addr, Ipv6Addr};

use super::canon::{bitmap_types, check_svc_params, loc_prec_to_cm, Cursor, SVC_KEY_NAMES};
use crate::rrtype::RrType;

/// Appends the presentation form of `wire` rdata of type `rrtype`; malformed rdata is rendered
/// in RFC 3597 generic form.
pub fn present(rrtype: RrType, wire: &[u8], out: &mut String) {
    let start = out.len();
    let mut w = Fields { out: &mut *out, start };
    if render(rrtype, wire, &mut w).is_none() {
        out.truncate(start);
        write_generic(wire, out);
    }
}

/// Appends the RFC 3597 generic form `\# <len> <hex>` (`\# 0` for empty rdata).
pub(super) fn write_generic(wire: &[u8], out: &mut String) {
    let _ = write!(out, "\\# {}", wire.len());
    if !wire.is_empty() {
        out.push(' ');
        write_hex(wire, false, out);
    }
}

/// The output of one rendering: [`Fields::field`] separates fields with single spaces.
struct Fields<'o> {
    out: &'o mut String,
    start: usize,
}

impl Fields<'_> {
    /// The output, after a separating space unless this is the first field.
    fn field(&mut self) -> &mut String {
        if self.out.len() > self.start {
            self.out.push(' ');
        }
        self.out
    }

    fn num(&mut self, n: impl std::fmt::Display) {
        let _ = write!(self.field(), "{n}");
    }

    fn name(&mut self, c: &mut Cursor<'_>) -> Option<()> {
        let name = c.name().ok()?;
        name.write_presentation(self.field());
        Some(())
    }

    fn charstring(&mut self, c: &mut Cursor<'_>) -> Option<()> {
        let s = c.charstring()?;
        write_quoted(s, self.field());
        Some(())
    }

    /// Upper-case hex of the non-empty remainder.
    fn hex_rest(&mut self, c: &mut Cursor<'_>) -> Option<()> {
        let rest = c.rest();
        if rest.is_empty() {
            return None;
        }
        write_hex(rest, true, self.field());
        Some(())
    }

    /// Base64 of the non-empty remainder.
    fn base64_rest(&mut self, c: &mut Cursor<'_>) -> Option<()> {
        let rest = c.rest();
        if rest.is_empty() {
            return None;
        }
        write_base64(rest, self.field());
        Some(())
    }

    /// The types of a type bitmap, each as its own field.
    fn types(&mut self, c: &mut Cursor<'_>) -> Option<()> {
        for t in bitmap_types(c.rest())? {
            let _ = write!(self.field(), "{}", RrType(t));
        }
        Some(())
    }
}

/// Renders `wire` specifically for its type; `None` if it has to be generic.
fn render(rrtype: RrType, wire: &[u8], w: &mut Fields<'_>) -> Option<()> {
    let mut c = Cursor::new(wire);
    let c = &mut c;
    match rrtype {
        RrType::A => {
            let b: [u8; 4] = c.take(4)?.try_into().ok()?;
            w.num(Ipv4Addr::from(b));
        }
        RrType::AAAA => {
            let b: [u8; 16] = c.take(16)?.try_into().ok()?;
            w.num(Ipv6Addr::from(b));
        }
        RrType::NS
        | RrType::MD
        | RrType::MF
        | RrType::CNAME
        | RrType::MB
        | RrType::MG
        | RrType::MR
        | RrType::PTR
        | RrType::DNAME => w.name(c)?,
        RrType::SOA => {
            w.name(c)?;
            w.name(c)?;
            for _ in 0..5 {
                w.num(c.u32()?);
            }
        }
        RrType::MX | RrType::AFSDB | RrType::RT | RrType::KX => {
            w.num(c.u16()?);
            w.name(c)?;
        }
        RrType::MINFO | RrType::RP => {
            w.name(c)?;
            w.name(c)?;
        }
        RrType::PX => {
            w.num(c.u16()?);
            w.name(c)?;
            w.name(c)?;
        }
        RrType::TXT | RrType::SPF => {
            // Zero strings has no presentation that parses back to it: generic `\# 0`.
            if c.is_empty() {
                return None;
            }
            while !c.is_empty() {
                w.charstring(c)?;
            }
        }
        RrType::HINFO => {
            w.charstring(c)?;
            w.charstring(c)?;
        }
        RrType::SRV => {
            w.num(c.u16()?);
            w.num(c.u16()?);
            w.num(c.u16()?);
            w.name(c)?;
        }
        RrType::NAPTR => {
            w.num(c.u16()?);
            w.num(c.u16()?);
            w.charstring(c)?;
            w.charstring(c)?;
            w.charstring(c)?;
            w.name(c)?;
        }
        RrType::CAA => {
            w.num(c.u8()?);
            w.charstring(c)?;
            write_quoted(c.rest(), w.field());
        }
        RrType::DS | RrType::CDS | RrType::DLV | RrType::TA => {
            w.num(c.u16()?);
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.hex_rest(c)?;
        }
        RrType::SSHFP => {
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.hex_rest(c)?;
        }
        RrType::DNSKEY | RrType::CDNSKEY | RrType::KEY => {
            w.num(c.u16()?);
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.base64_rest(c)?;
        }
        RrType::RRSIG | RrType::SIG => {
            w.num(RrType(c.u16()?));
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.num(c.u32()?);
            w.num(c.u32()?);
            w.num(c.u32()?);
            w.num(c.u16()?);
            w.name(c)?;
            w.base64_rest(c)?;
        }
        RrType::NSEC => {
            w.name(c)?;
            w.types(c)?;
        }
        RrType::NSEC3 | RrType::NSEC3PARAM => {
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.num(c.u16()?);
            let salt = c.charstring()?;
            if salt.is_empty() {
                w.field().push('-');
            } else {
                write_hex(salt, true, w.field());
            }
            if rrtype == RrType::NSEC3 {
                let hash = c.charstring()?;
                if hash.is_empty() {
                    return None;
                }
                write_base32hex(hash, w.field());
                w.types(c)?;
            }
        }
        RrType::TLSA | RrType::SMIMEA => {
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.hex_rest(c)?;
        }
        RrType::SVCB | RrType::HTTPS => {
            w.num(c.u16()?);
            w.name(c)?;
            svc_params(c.rest(), w)?;
        }
        RrType::URI => {
            w.num(c.u16()?);
            w.num(c.u16()?);
            write_quoted(c.rest(), w.field());
        }
        RrType::OPENPGPKEY | RrType::DHCID => w.base64_rest(c)?,
        RrType::CSYNC => {
            w.num(c.u32()?);
            w.num(c.u16()?);
            w.types(c)?;
        }
        RrType::ZONEMD => {
            w.num(c.u32()?);
            w.num(c.u8()?);
            w.num(c.u8()?);
            w.hex_rest(c)?;
        }
        RrType::EUI48 | RrType::EUI64 => {
            let len = if rrtype == RrType::EUI48 { 6 } else { 8 };
            let b = c.take(len)?;
            let o = w.field();
            for (i, &x) in b.iter().enumerate() {
                if i > 0 {
                    o.push('-');
                }
                write_hex(&[x], false, o);
            }
        }
        RrType::CERT => {
            w.num(c.u16()?);
            w.num(c.u16()?);
            w.num(c.u8()?);
            w.base64_rest(c)?;
        }
        RrType::IPSECKEY => {
            w.num(c.u8()?);
            let gateway_type = c.u8()?;
            w.num(gateway_type);
            w.num(c.u8()?);
            match gateway_type {
                0 => w.field().push('.'),
                1 => {
                    let b: [u8; 4] = c.take(4)?.try_into().ok()?;
                    w.num(Ipv4Addr::from(b));
                }
                2 => {
                    let b: [u8; 16] = c.take(16)?.try_into().ok()?;
                    w.num(Ipv6Addr::from(b));
                }
                3 => w.name(c)?,
                _ => return None,
            }
            let key = c.rest();
            if !key.is_empty() {
                write_base64(key, w.field());
            }
        }
        RrType::LOC => loc(c, w)?,
        _ => return None,
    }
    c.is_empty().then_some(())
}

/// Renders SvcParams (already in wire order) as `key=value` fields, RFC 9460 §7 syntax.
fn svc_params(b: &[u8], w: &mut Fields<'_>) -> Option<()> {
    check_svc_params(b).ok()?;
    let mut c = Cursor::new(b);
    while !c.is_empty() {
        let key = c.u16()?;
        let len = c.u16()? as usize;
        let v = c.take(len)?;
        let o = w.field();
        write_svc_key(key, o);
        match key {
            0 => {
                o.push('=');
                for (i, pair) in v.chunks_exact(2).enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    if let &[hi, lo] = pair {
                        write_svc_key(u16::from_be_bytes([hi, lo]), o);
                    }
                }
            }
            1 => {
                o.push_str("=\"");
                let mut ids = Cursor::new(v);
                let mut first = true;
                while let Some(id) = ids.charstring() {
                    if !first {
                        o.push(',');
                    }
                    first = false;
                    // Two levels of escaping: value-list (`,` and `\`), then character-string.
                    for &x in id {
                        match x {
                            b',' => o.push_str("\\\\,"),
                            b'\\' => o.push_str("\\\\\\\\"),
                            b'"' => o.push_str("\\\""),
                            0x20..=0x7e => o.push(x as char),
                            _ => write_ddd(x, o),
                        }
                    }
                }
                o.push('"');
            }
            2 | 8 => {}
            3 => {
                let p: [u8; 2] = v.try_into().ok()?;
                let _ = write!(o, "={}", u16::from_be_bytes(p));
            }
            4 | 6 => {
                o.push('=');
                let size = if key == 4 { 4 } else { 16 };
                for (i, a) in v.chunks_exact(size).enumerate() {
                    if i > 0 {
                        o.push(',');
                    }
                    if let Ok(b) = <[u8; 4]>::try_from(a) {
                        let _ = write!(o, "{}", Ipv4Addr::from(b));
                    } else if let Ok(b) = <[u8; 16]>::try_from(a) {
                        let _ = write!(o, "{}", Ipv6Addr::from(b));
                    }
                }
            }
            5 if !v.is_empty() => {
                o.push('=');
                write_base64(v, o);
            }
            _ if v.is_empty() && key != 5 => {}
            _ => {
                o.push('=');
                write_quoted(v, o);
            }
        }
    }
    Some(())
}

/// Appends a SvcParamKey's presentation name (`keyNNNNN` for keys without a name).
pub(super) fn write_svc_key(key: u16, out: &mut String) {
    match SVC_KEY_NAMES.get(usize::from(key)) {
        Some(name) => out.push_str(name),
        None => {
            let _ = write!(out, "key{key}");
        }
    }
}

/// Renders LOC version 0 in RFC 1876 form: `d m s.sss N|S d m s.sss E|W alt siz hp vp`.
fn loc(c: &mut Cursor<'_>, w: &mut Fields<'_>) -> Option<()> {
    if c.u8()? != 0 {
        return None;
    }
    let size = loc_prec_to_cm(c.u8()?)?;
    let hp = loc_prec_to_cm(c.u8()?)?;
    let vp = loc_prec_to_cm(c.u8()?)?;
    let lat = c.u32()?;
    let lon = c.u32()?;
    let alt = c.u32()?;
    loc_angle(lat, 90, ('N', 'S'), w)?;
    loc_angle(lon, 180, ('E', 'W'), w)?;
    let alt_cm = i64::from(alt) - 10_000_000;
    let sign = if alt_cm < 0 { "-" } else { "" };
    let a = alt_cm.unsigned_abs();
    let _ = write!(w.field(), "{sign}{}.{:02}m", a / 100, a % 100);
    for cm in [size, hp, vp] {
        let o = w.field();
        if cm >= 100 {
            let _ = write!(o, "{}m", cm / 100);
        } else {
            let _ = write!(o, "0.{cm:02}m");
        }
    }
    Some(())
}

/// One LOC coordinate (thousandths of an arc second offset from 2^31) as `d m s.sss H`.
fn loc_angle(v: u32, max_deg: u32, (pos, neg): (char, char), w: &mut Fields<'_>) -> Option<()> {
    let (hemi, off) = if v >= 1 << 31 { (pos, v - (1 << 31)) } else { (neg, (1 << 31) - v) };
    if off > max_deg * 3_600_000 {
        return None;
    }
    w.num(off / 3_600_000);
    w.num(off % 3_600_000 / 60_000);
    let _ = write!(w.field(), "{}.{:03}", off % 60_000 / 1000, off % 1000);
    w.field().push(hemi);
    Some(())
}

/// Appends a character-string double-quoted: `"` and `\` backslash-escaped, octets outside
/// printable ASCII as `\DDD`.
pub(super) fn write_quoted(s: &[u8], out: &mut String) {
    out.push('"');
    for &b in s {
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x20..=0x7e => out.push(b as char),
            _ => write_ddd(b, out),
        }
    }
    out.push('"');
}

/// Appends `\DDD` (three decimal digits) for an octet.
fn write_ddd(b: u8, out: &mut String) {
    let _ = write!(out, "\\{b:03}");
}

/// Appends hex digits, upper- or lower-case, without separators.
pub(super) fn write_hex(bytes: &[u8], upper: bool, out: &mut String) {
    let digits: &[u8; 16] = if upper { b"0123456789ABCDEF" } else { b"0123456789abcdef" };
    out.reserve(bytes.len() * 2);
    for &b in bytes {
        out.push(digits[usize::from(b >> 4)] as char);
        out.push(digits[usize::from(b & 0x0f)] as char);
    }
}

/// The standard base64 alphabet (RFC 4648 §4).
pub(super) const BASE64_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Appends standard base64 with `=` padding.
pub(super) fn write_base64(bytes: &[u8], out: &mut String) {
    let sym = |v: u32| BASE64_ALPHABET[(v & 63) as usize] as char;
    out.reserve(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let (b0, b1, b2, n) = match *chunk {
            [a, b, c] => (a, b, c, 3),
            [a, b] => (a, b, 0, 2),
            [a] => (a, 0, 0, 1),
            _ => continue,
        };
        let v = u32::from(b0) << 16 | u32::from(b1) << 8 | u32::from(b2);
        out.push(sym(v >> 18));
        out.push(sym(v >> 12));
        out.push(if n > 1 { sym(v >> 6) } else { '=' });
        out.push(if n > 2 { sym(v) } else { '=' });
    }
}

/// The base32hex alphabet (RFC 4648 §7), upper case.
pub(super) const BASE32HEX_ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHIJKLMNOPQRSTUV";

/// Appends base32hex, upper case, without padding (as NSEC3 uses it).
pub(super) fn write_base32hex(bytes: &[u8], out: &mut String) {
    let mut acc: u32 = 0;
    let mut bits = 0u32;
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32HEX_ALPHABET[((acc >> bits) & 31) as usize] as char);
        }
        acc &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(BASE32HEX_ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::Name;
    use crate::rdata::Rdata;

    fn show(t: RrType, wire: &[u8]) -> String {
        let mut s = String::new();
        present(t, wire, &mut s);
        s
    }

    fn n(s: &str) -> Vec<u8> {
        Name::from_presentation(s).unwrap().as_wire().to_vec()
    }

    #[test]
    fn generic_form() {
        assert_eq!(show(RrType(65280), &[10, 0, 0, 1]), "\\# 4 0a000001");
        assert_eq!(show(RrType(65280), &[]), "\\# 0");
        assert_eq!(show(RrType::NULL, &[0xde, 0xad, 0xBE, 0xef]), "\\# 4 deadbeef");
        assert_eq!(show(RrType::WKS, &[192, 0, 2, 1, 6, 0x40]), "\\# 6 c00002010640");
        assert_eq!(show(RrType::OPT, &[1]), "\\# 1 01");
    }

    #[test]
    fn specific_forms() {
        assert_eq!(show(RrType::A, &[192, 0, 2, 1]), "192.0.2.1");
        let v4mapped = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1];
        assert_eq!(show(RrType::AAAA, &v4mapped), "::ffff:192.0.2.1");
        assert_eq!(show(RrType::CNAME, &n("WWW.Example.com")), "www.example.com.");
        assert_eq!(show(RrType::CNAME, b"\x03a b\x07example\x00"), "a\\032b.example.");
        assert_eq!(show(RrType::TXT, b"\x00\x00"), "\"\" \"\"");
        assert_eq!(show(RrType::TXT, b"\x03\"\\\x7f"), "\"\\\"\\\\\\127\"");
        assert_eq!(
            show(RrType::CAA, b"\x80\x05issueca.example; account=\"x\""),
            "128 \"issue\" \"ca.example; account=\\\"x\\\"\""
        );
        assert_eq!(show(RrType::NSEC3PARAM, &[1, 0, 0, 10, 0]), "1 0 10 -");
        assert_eq!(show(RrType::SVCB, &[0, 0, 0]), "0 .");
        assert_eq!(show(RrType::HTTPS, b"\x00\x01\x00\x00\x01\x00\x03\x02h2"), "1 . alpn=\"h2\"");
        assert_eq!(show(RrType::HTTPS, b"\x00\x01\x00\x00\x01\x00\x03\x02\"\xff"), "1 . alpn=\"\\\"\\255\"");
        assert_eq!(show(RrType::SVCB, b"\x00\x01\x00\x00\x00\x00\x04\x00\x03\x00\x09"), "1 . mandatory=port,key9");
        assert_eq!(show(RrType::SVCB, b"\x00\x01\x00\x00\x09\x00\x00"), "1 . key9");
        assert_eq!(
            show(RrType::RRSIG, b"\xff\x00\x08\x02\x00\x00\x0e\x10\x00\x00\x00\x02\x00\x00\x00\x01\x30\x39\x00\x01"),
            "TYPE65280 8 2 3600 2 1 12345 . AQ=="
        );
        assert_eq!(show(RrType::NSEC, b"\x00\x00\x01\x40\x01\x01\x40"), ". A CAA");
        // output is appended; a fallback only replaces what this call wrote
        let mut s = String::from("prefix ");
        present(RrType::MX, b"\x00\x0a\x00", &mut s);
        assert_eq!(s, "prefix 10 .");
        present(RrType::MX, b"\x00\x0a\x01", &mut s);
        assert_eq!(s, "prefix 10 .\\# 3 000a01");
        assert_eq!(Rdata::Wire(vec![0, 10, 0]).to_presentation(RrType::MX), "10 .");
    }

    #[test]
    fn malformed_is_generic() {
        let cases: &[(RrType, &[u8])] = &[
            (RrType::A, &[10, 0, 0]),
            (RrType::A, &[10, 0, 0, 1, 2]),
            (RrType::AAAA, &[0; 15]),
            (RrType::NS, &[]),
            (RrType::NS, b"\xc0\x0c"),
            (RrType::NS, b"\x01a\x00\x00"),
            (RrType::NS, b"\x01a"),
            (RrType::NS, b"\x41a\x00"),
            (RrType::MX, b"\x00"),
            (RrType::MX, b"\x00\x0a"),
            (RrType::SOA, b"\x00\x00\x00\x00\x00\x01"),
            (RrType::TXT, &[]),
            (RrType::TXT, b"\x05a"),
            (RrType::HINFO, b"\x01a"),
            (RrType::HINFO, b"\x01a\x01b\x01c"),
            (RrType::SRV, b"\x00\x00\x00\x00\x00"),
            (RrType::NAPTR, b"\x00\x01\x00\x01\x00\x00\x00"),
            (RrType::CAA, b"\x00\x09issue"),
            (RrType::DS, b"\x00\x01\x05\x01"),
            (RrType::DNSKEY, b"\x01\x00\x03\x05"),
            (RrType::RRSIG, b"\x00\x01\x08\x02\x00\x00\x0e\x10\x00\x00\x00\x02\x00\x00\x00\x01\x30\x39\x00"),
            (RrType::NSEC, b"\x00\x00\x02\x40\x00"),
            (RrType::NSEC, b"\x00\x01\x01\x40\x00\x01\x40"),
            (RrType::NSEC, b"\x00\x00\x00"),
            (RrType::NSEC, b"\x00\x00\x21\x40"),
            (RrType::NSEC3, b"\x01\x00\x00\x0a\x00\x00"),
            (RrType::NSEC3PARAM, b"\x01\x00\x00\x0a\x01"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x03\x00\x02\x00\x35\x00\x01\x00\x03\x02h2"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x01\x00\x01\x00"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x03\x00\x03\x00\x35\x00"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x02\x00\x01\x00"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x04\x00\x05\x01\x02\x03\x04\x05"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x00\x00\x04\x00\x03\x00\x01"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x00\x00\x02\x00\x00"),
            (RrType::SVCB, b"\x00\x01\x00\x00\x03\x00\x02\x00"),
            (RrType::TLSA, b"\x03\x01\x01"),
            (RrType::SSHFP, b"\x04"),
            (RrType::EUI48, &[1, 2, 3, 4, 5]),
            (RrType::EUI64, &[1, 2, 3, 4, 5, 6]),
            (RrType::IPSECKEY, b"\x0a\x04\x02"),
            (RrType::IPSECKEY, b"\x0a\x01\x02\xc0\x00"),
            (RrType::CSYNC, b"\x00\x00\x00\x01\x00"),
            (RrType::ZONEMD, b"\x00\x00\x00\x01\x01\x01"),
            (RrType::OPENPGPKEY, &[]),
            (RrType::LOC, &[1; 16]),
            (RrType::LOC, &[0; 15]),
            (RrType::LOC, &[0, 0xa0, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (RrType::LOC, &[0, 0x01, 0, 0, 0x80, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (RrType::LOC, &[0, 0, 0, 0, 0xff, 0, 0, 0, 0x80, 0, 0, 0, 0, 0, 0, 0]),
            (RrType::LOC, &[0, 0, 0, 0, 0x80, 0, 0, 0, 0x00, 0, 0, 0, 0, 0, 0, 0]),
        ];
        for &(t, wire) in cases {
            let mut expected = String::new();
            write_generic(wire, &mut expected);
            assert_eq!(show(t, wire), expected, "{t} {wire:?}");
        }
    }
}
