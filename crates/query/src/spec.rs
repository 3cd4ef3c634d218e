//! Lookups as users write them (the same five kinds as DNSDB: rrset by name or raw name, rdata
//! by name, address or raw bytes), parsed into store queries with clear errors.

use dnsledger_model::{Name, RrType, TimeFence, TypeFilter};
use dnsledger_store::{IpRange, NameMatch, RdataQuery, RdataTarget, RrsetQuery};

/// A lookup ready to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// RRsets by owner name.
    Rrset(RrsetQuery),
    /// Rdata records (inverse lookup).
    Rdata(RdataQuery),
}

impl Lookup {
    /// True for lookups of one exact key (a name, an address, raw bytes): their cost is bounded
    /// by the records of that key, not by a range scan.
    pub fn is_point(&self) -> bool {
        match self {
            Lookup::Rrset(q) => matches!(q.name, NameMatch::Exact(_)),
            Lookup::Rdata(q) => match &q.target {
                RdataTarget::Ip(r) => r.start == r.end,
                RdataTarget::Name(n) => matches!(n, NameMatch::Exact(_)),
                RdataTarget::Raw(_) => true,
                RdataTarget::Any => false,
            },
        }
    }
}

/// Why a lookup could not be built; the message is meant for the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LookupError(pub String);

fn err(msg: impl Into<String>) -> LookupError {
    LookupError(msg.into())
}

/// Parses a type filter: `ANY`, `ANY-DNSSEC`, `ALL`, a mnemonic or `TYPE<n>`.
pub fn parse_types(s: Option<&str>) -> Result<TypeFilter, LookupError> {
    match s {
        None | Some("") => Ok(TypeFilter::Any),
        Some(t) => TypeFilter::parse(t).map_err(|_| err(format!("unknown rrtype {t:?}"))),
    }
}

/// Parses an owner name pattern (`name`, `*.name`, `name.*`).
pub fn parse_name_match(s: &str) -> Result<NameMatch, LookupError> {
    if s.contains('*') && !(s.starts_with("*.") || s == "*" || s == "*." || s.ends_with(".*") || s.ends_with(".*.")) {
        return Err(err(format!(
            "bad name {s:?}: a wildcard is only allowed as a leading \"*.\" or a trailing \".*\""
        )));
    }
    NameMatch::parse(s).map_err(|e| err(format!("bad name {s:?}: {e}")))
}

/// Decodes an even-length hex string.
pub fn parse_hex(s: &str) -> Result<Vec<u8>, LookupError> {
    let s = s.trim();
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return Err(err(format!("bad hex {s:?}: need an even number of hex digits")));
    }
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes()
        .chunks(2)
        .map(|p| Some(digit(p[0])? << 4 | digit(p[1])?))
        .collect::<Option<Vec<u8>>>()
        .ok_or_else(|| err(format!("bad hex {s:?}: not a hex digit")))
}

/// RRsets by owner name, optional type and bailiwick.
pub fn rrset_name(
    name: &str,
    types: Option<&str>,
    bailiwick: Option<&str>,
    fence: TimeFence,
) -> Result<Lookup, LookupError> {
    let bailiwick = match bailiwick {
        None | Some("") => None,
        Some(b) => Some(Name::from_presentation(b).map_err(|e| err(format!("bad bailiwick {b:?}: {e}")))?),
    };
    Ok(Lookup::Rrset(RrsetQuery {
        name: parse_name_match(name)?,
        types: parse_types(types)?,
        bailiwick,
        fence,
        negative: Default::default(),
    }))
}

/// RRsets by owner name given as wire-format hex.
pub fn rrset_raw(hex: &str, types: Option<&str>, fence: TimeFence) -> Result<Lookup, LookupError> {
    let wire = parse_hex(hex)?;
    let name = Name::from_wire(&wire).map_err(|e| err(format!("bad raw name {hex:?}: {e}")))?;
    Ok(Lookup::Rrset(RrsetQuery {
        name: NameMatch::Exact(name),
        types: parse_types(types)?,
        bailiwick: None,
        fence,
        negative: Default::default(),
    }))
}

/// Rdata records naming a domain (NS/CNAME/PTR targets, MX exchanges, …).
pub fn rdata_name(name: &str, types: Option<&str>, fence: TimeFence) -> Result<Lookup, LookupError> {
    Ok(Lookup::Rdata(RdataQuery {
        target: RdataTarget::Name(parse_name_match(name)?),
        types: parse_types(types)?,
        fence,
    }))
}

/// Rdata records holding an address in a range (`IP`, `IP/len`, `IP,len`, `IP-IP`).
pub fn rdata_ip(spec: &str, types: Option<&str>, fence: TimeFence) -> Result<Lookup, LookupError> {
    let range = IpRange::parse(spec).map_err(|e| err(e.to_string()))?;
    let types = parse_types(types)?;
    if let TypeFilter::Only(t) = types {
        if t != RrType::A && t != RrType::AAAA {
            return Err(err(format!("rrtype {t} is not valid for an address lookup (A, AAAA or ANY)")));
        }
    }
    Ok(Lookup::Rdata(RdataQuery { target: RdataTarget::Ip(range), types: TypeFilter::All, fence }))
}

/// Rdata records equal to raw wire bytes given as hex.
pub fn rdata_raw(hex: &str, types: Option<&str>, fence: TimeFence) -> Result<Lookup, LookupError> {
    Ok(Lookup::Rdata(RdataQuery { target: RdataTarget::Raw(parse_hex(hex)?), types: parse_types(types)?, fence }))
}

/// True if `s` looks like an address, prefix or range rather than a name.
pub fn looks_like_ip(s: &str) -> bool {
    IpRange::parse(s).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_lookups() {
        let f = TimeFence::default();
        assert!(matches!(rrset_name("*.example.com", Some("A"), None, f), Ok(Lookup::Rrset(_))));
        assert!(rrset_name("a.*.example.com", None, None, f).is_err());
        assert!(rrset_name("example.com", Some("NOPE"), None, f).is_err());
        assert!(rrset_name("example.com", None, Some("a..b"), f).is_err());
        assert!(rdata_ip("1.2.3.0/24", Some("A"), f).is_ok());
        assert!(rdata_ip("1.2.3.0/24", Some("MX"), f).is_err());
        assert!(rdata_ip("1.2.3.0/33", None, f).is_err());
        assert_eq!(parse_hex("0a0B").unwrap(), vec![10, 11]);
        assert!(parse_hex("abc").is_err());
        assert!(parse_hex("zz").is_err());
        assert!(rrset_raw("0366736902696f00", None, f).is_ok());
        assert!(rrset_raw("0366", None, f).is_err());
        assert!(looks_like_ip("10.0.0.1-10.0.0.5"));
        assert!(!looks_like_ip("example.com"));
    }
}
