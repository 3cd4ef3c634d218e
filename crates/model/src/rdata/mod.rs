//! Record data: the canonical stored form, its presentation (DNSDB/wdns style), parsing of
//! presentation text from logs and feeds, and what the inverse indexes extract from it.
//!
//! Rdata is stored as canonical wire format: uncompressed, embedded domain names lower-cased
//! (the name-bearing types of RFC 4034 §6.2 plus SRV, NAPTR, SVCB/HTTPS targets and the
//! IPSECKEY gateway). Rendering
//! happens at query time, in the presentation format of `shared/reference/dnsdb-api.md` §2.7,
//! with RFC 3597 `\# len hex` for types without a specific format.
//!
//! Some log sources give rdata that cannot be turned back into wire format (passivedns prints
//! an MX as its exchange only, without the preference). Such rdata is kept as
//! [`Rdata::Text`]: exactly the (normalised) text the source gave, never invented fields.
//!
//! The presentation code is our own rather than `domain`'s `Display` impls because DNSDB's
//! format differs in details clients compare on (SRV/NAPTR targets with trailing dots, quoted
//! CAA tags, upper-case DS/TLSA hex without parentheses, RRSIG times as epochs), and because
//! parsing log text must be allocation-free on the hot path.

mod canon;
mod parse;
mod present;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::name::{Name, NameError};
use crate::rrtype::RrType;

pub use canon::{canonicalize, has_indexed_name, indexed_name as wire_indexed_name};
pub use parse::{decode_base64, parse};
pub use present::present;

/// Why rdata was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RdataError {
    /// Presentation text that does not parse for the type; says which field and why.
    #[error("bad {rrtype} rdata: {reason}")]
    Syntax {
        /// The record type being parsed.
        rrtype: RrType,
        /// What was wrong, e.g. "expected an IPv4 address".
        reason: String,
    },
    /// Wire data that does not fit the type's layout.
    #[error("malformed {rrtype} rdata: {reason}")]
    Malformed {
        /// The record type being decoded.
        rrtype: RrType,
        /// What was wrong.
        reason: String,
    },
    /// A domain name inside the rdata was invalid.
    #[error("bad name in rdata: {0}")]
    Name(#[from] NameError),
    /// More than 65535 octets.
    #[error("rdata longer than 65535 octets")]
    TooLong,
    /// A stored encoding that is corrupt.
    #[error("corrupt rdata encoding")]
    BadEncoding,
}

impl RdataError {
    /// A syntax error for `rrtype` with a reason.
    pub fn syntax(rrtype: RrType, reason: impl Into<String>) -> RdataError {
        RdataError::Syntax { rrtype, reason: reason.into() }
    }
    /// A wire-format error for `rrtype` with a reason.
    pub fn malformed(rrtype: RrType, reason: impl Into<String>) -> RdataError {
        RdataError::Malformed { rrtype, reason: reason.into() }
    }
}

/// One rdata item as stored.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum Rdata {
    /// Canonical wire format (the normal case).
    Wire(Vec<u8>),
    /// Text from a lossy source that has no faithful wire form; rendered verbatim.
    Text(String),
}

const TAG_WIRE: u8 = 0;
const TAG_TEXT: u8 = 1;

impl Rdata {
    /// Parses presentation text (RFC 1035 master-file syntax, or `\# len hex`) strictly.
    pub fn parse(rrtype: RrType, text: &str) -> Result<Rdata, RdataError> {
        let mut out = Vec::new();
        parse(rrtype, text, &mut out)?;
        Ok(Rdata::Wire(out))
    }

    /// Validates wire rdata for the type and stores its canonical form.
    pub fn from_wire(rrtype: RrType, wire: &[u8]) -> Result<Rdata, RdataError> {
        let mut out = Vec::with_capacity(wire.len());
        canonicalize(rrtype, wire, &mut out)?;
        Ok(Rdata::Wire(out))
    }

    /// An IPv4 address as A rdata.
    pub fn ipv4(ip: Ipv4Addr) -> Rdata {
        Rdata::Wire(ip.octets().to_vec())
    }

    /// An IPv6 address as AAAA rdata.
    pub fn ipv6(ip: Ipv6Addr) -> Rdata {
        Rdata::Wire(ip.octets().to_vec())
    }

    /// A single domain name as rdata (NS, CNAME, PTR, DNAME).
    pub fn name(name: &Name) -> Rdata {
        Rdata::Wire(name.as_wire().to_vec())
    }

    /// Appends the presentation form for the given type.
    pub fn write_presentation(&self, rrtype: RrType, out: &mut String) {
        match self {
            Rdata::Wire(w) => present(rrtype, w, out),
            Rdata::Text(t) => out.push_str(t),
        }
    }

    /// The presentation form for the given type.
    pub fn to_presentation(&self, rrtype: RrType) -> String {
        let mut s = String::new();
        self.write_presentation(rrtype, &mut s);
        s
    }

    /// The stored bytes (wire octets, or the UTF-8 text).
    pub fn bytes(&self) -> &[u8] {
        match self {
            Rdata::Wire(w) => w,
            Rdata::Text(t) => t.as_bytes(),
        }
    }

    /// Appends the self-delimiting stored encoding: tag, u16 big-endian length, bytes.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let (tag, b) = match self {
            Rdata::Wire(w) => (TAG_WIRE, w.as_slice()),
            Rdata::Text(t) => (TAG_TEXT, t.as_bytes()),
        };
        encode_parts(tag, b, out);
    }

    /// Appends what [`Rdata::encode`] appends for `Rdata::Wire(wire)`, without building it.
    pub fn encode_wire(wire: &[u8], out: &mut Vec<u8>) {
        encode_parts(TAG_WIRE, wire, out);
    }

    /// Decodes one item written by [`Rdata::encode`]; returns it and the bytes consumed.
    pub fn decode(buf: &[u8]) -> Result<(Rdata, usize), RdataError> {
        let (tag, bytes, used) = decode_parts(buf)?;
        let r = match tag {
            TAG_WIRE => Rdata::Wire(bytes.to_vec()),
            TAG_TEXT => Rdata::Text(String::from_utf8(bytes.to_vec()).map_err(|_| RdataError::BadEncoding)?),
            _ => return Err(RdataError::BadEncoding),
        };
        Ok((r, used))
    }

    /// The address of A/AAAA rdata.
    pub fn ip(&self, rrtype: RrType) -> Option<IpAddr> {
        match (self, rrtype) {
            (Rdata::Wire(w), RrType::A) => <[u8; 4]>::try_from(w.as_slice()).ok().map(IpAddr::from),
            (Rdata::Wire(w), RrType::AAAA) => <[u8; 16]>::try_from(w.as_slice()).ok().map(IpAddr::from),
            _ => None,
        }
    }

    /// The domain name an inverse rdata-name lookup finds this rdata by, if the type has one:
    /// the target of NS/CNAME/DNAME/PTR, the exchange of MX, the target of SRV/SVCB/HTTPS, the
    /// MNAME of SOA, and so on. For [`Rdata::Text`] it is the text when that parses as a name.
    pub fn indexed_name(&self, rrtype: RrType) -> Option<Name> {
        match self {
            Rdata::Wire(w) => canon::indexed_name(rrtype, w),
            // Lossy sources give name-only text (an MX exchange without preference, …);
            // longer text is not guessed at.
            Rdata::Text(t) if canon::has_indexed_name(rrtype) && !t.trim().contains(char::is_whitespace) => {
                Name::from_presentation(t.trim()).ok()
            }
            Rdata::Text(_) => None,
        }
    }

    /// True if the rdata is exactly the wire form of `name` (NS, CNAME, PTR, DNAME).
    pub fn is_bare_name(&self, name: &Name) -> bool {
        matches!(self, Rdata::Wire(w) if w.as_slice() == name.as_wire())
    }
}

/// Appends `tag`, a u16 big-endian length and `bytes` (truncated to 65535 octets).
pub(crate) fn encode_parts(tag: u8, bytes: &[u8], out: &mut Vec<u8>) {
    let b = &bytes[..bytes.len().min(u16::MAX as usize)];
    out.push(tag);
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// Reads what [`encode_parts`] wrote: tag, bytes, total length consumed.
pub(crate) fn decode_parts(buf: &[u8]) -> Result<(u8, &[u8], usize), RdataError> {
    if buf.len() < 3 {
        return Err(RdataError::BadEncoding);
    }
    let len = u16::from_be_bytes([buf[1], buf[2]]) as usize;
    let bytes = buf.get(3..3 + len).ok_or(RdataError::BadEncoding)?;
    Ok((buf[0], bytes, 3 + len))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode() {
        for r in [Rdata::Wire(vec![1, 2, 3, 4]), Rdata::Text("mail.example.com.".into()), Rdata::Wire(vec![])] {
            let mut b = Vec::new();
            r.encode(&mut b);
            b.push(99);
            let (back, used) = Rdata::decode(&b).unwrap();
            assert_eq!(back, r);
            assert_eq!(used, b.len() - 1);
        }
        assert!(Rdata::decode(&[0, 0, 5, 1]).is_err());
        assert!(Rdata::decode(&[7, 0, 0]).is_err());
    }

    #[test]
    fn ip_and_names() {
        let a = Rdata::parse(RrType::A, "192.0.2.1").unwrap();
        assert_eq!(a.ip(RrType::A), Some("192.0.2.1".parse().unwrap()));
        let mx = Rdata::parse(RrType::MX, "10 Mail.Example.com.").unwrap();
        assert_eq!(mx.indexed_name(RrType::MX).unwrap().to_string(), "mail.example.com.");
        let t = Rdata::Text("mail.example.com.".into());
        assert_eq!(t.indexed_name(RrType::MX).unwrap().to_string(), "mail.example.com.");
        assert_eq!(t.to_presentation(RrType::MX), "mail.example.com.");
    }
}
