//! Lookup descriptions handed to a [`crate::Store`]: which names, types, bailiwicks, rdata
//! and times a lookup selects. Parsing of user syntax into these lives in `dnsledger-query`.

use std::fmt;
use std::net::IpAddr;

use dnsledger_model::{Name, TimeFence, TypeFilter};

/// How a lookup matches a domain name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NameMatch {
    /// Exactly this name.
    Exact(Name),
    /// Any name strictly below this one (`*.example.com`, left-hand wildcard).
    Below(Name),
    /// Any name whose leftmost labels are these, followed by at least one more label
    /// (`www.example.*`, right-hand wildcard). The name holds the leading labels.
    Starting(Name),
}

impl NameMatch {
    /// Parses `name`, `*.name` or `name.*` (trailing dot optional).
    pub fn parse(s: &str) -> Result<NameMatch, dnsledger_model::NameError> {
        let t = s.trim();
        if t == "*" || t == "*." {
            return Ok(NameMatch::Below(Name::root()));
        }
        if let Some(rest) = t.strip_prefix("*.") {
            return Ok(NameMatch::Below(Name::from_presentation(rest)?));
        }
        if let Some(rest) = t.strip_suffix(".*").or_else(|| t.strip_suffix(".*.")) {
            return Ok(NameMatch::Starting(Name::from_presentation(rest)?));
        }
        Ok(NameMatch::Exact(Name::from_presentation(t)?))
    }

    /// True if `name` is selected.
    pub fn matches(&self, name: &Name) -> bool {
        match self {
            NameMatch::Exact(n) => n == name,
            NameMatch::Below(z) => name != z && name.is_subdomain_of(z),
            NameMatch::Starting(p) => {
                let pl = p.label_count();
                name.label_count() > pl && name.labels().zip(p.labels()).all(|(a, b)| a == b)
            }
        }
    }
}

impl fmt::Display for NameMatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameMatch::Exact(n) => write!(f, "{n}"),
            NameMatch::Below(n) if n.is_root() => write!(f, "*."),
            NameMatch::Below(n) => write!(f, "*.{n}"),
            NameMatch::Starting(n) => write!(f, "{n}*"),
        }
    }
}

/// Which records an RRset lookup returns with respect to negative answers (NXDOMAIN/NODATA
/// observations, which only exist when a sensor was asked to keep them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NegativeFilter {
    /// Positive RRsets only (the DNSDB-compatible default).
    #[default]
    Exclude,
    /// Positive RRsets and negative answers.
    Include,
    /// Negative answers only.
    Only,
}

impl NegativeFilter {
    /// True if a record with this negativity is selected.
    pub fn matches(self, negative: bool) -> bool {
        match self {
            NegativeFilter::Exclude => !negative,
            NegativeFilter::Include => true,
            NegativeFilter::Only => negative,
        }
    }

    /// Parses `exclude`/`include`/`only` (also `no`/`yes`).
    pub fn parse(s: &str) -> Option<NegativeFilter> {
        match s {
            "exclude" | "no" | "false" => Some(NegativeFilter::Exclude),
            "include" | "yes" | "true" => Some(NegativeFilter::Include),
            "only" => Some(NegativeFilter::Only),
            _ => None,
        }
    }
}

/// An RRset lookup by owner name (DNSDB `rrset/name`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrsetQuery {
    /// Owner names selected.
    pub name: NameMatch,
    /// Types selected.
    pub types: TypeFilter,
    /// Only RRsets from this bailiwick, if set.
    pub bailiwick: Option<Name>,
    /// Time fences.
    pub fence: TimeFence,
    /// Negative answers excluded (default), included or alone.
    pub negative: NegativeFilter,
}

/// An inclusive range of addresses of one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpRange {
    /// Lowest address.
    pub start: IpAddr,
    /// Highest address.
    pub end: IpAddr,
}

/// Why an address specification was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IpSpecError {
    /// Not an address, prefix or range.
    #[error("bad address {0:?}: expected an IP, IP/len, IP,len or IP-IP")]
    Syntax(String),
    /// Prefix length beyond 32 (IPv4) or 128 (IPv6).
    #[error("bad prefix length in {0:?}")]
    PrefixLength(String),
    /// A range mixing IPv4 and IPv6, or with start after end.
    #[error("bad range {0:?}: both ends must be the same family, start <= end")]
    Range(String),
}

impl IpRange {
    /// A single address.
    pub fn single(ip: IpAddr) -> IpRange {
        IpRange { start: ip, end: ip }
    }

    /// Parses `IP`, `IP/len`, `IP,len` (DNSDB's form) or `IP-IP`.
    pub fn parse(s: &str) -> Result<IpRange, IpSpecError> {
        let t = s.trim();
        let syntax = || IpSpecError::Syntax(s.to_string());
        if let Some((a, b)) = t.split_once(['/', ',']) {
            let ip: IpAddr = a.trim().parse().map_err(|_| syntax())?;
            let len: u32 = b.trim().parse().map_err(|_| IpSpecError::PrefixLength(s.to_string()))?;
            return IpRange::cidr(ip, len).ok_or_else(|| IpSpecError::PrefixLength(s.to_string()));
        }
        if let Some((a, b)) = t.split_once('-') {
            let start: IpAddr = a.trim().parse().map_err(|_| syntax())?;
            let end: IpAddr = b.trim().parse().map_err(|_| syntax())?;
            if start.is_ipv4() != end.is_ipv4() || start > end {
                return Err(IpSpecError::Range(s.to_string()));
            }
            return Ok(IpRange { start, end });
        }
        t.parse::<IpAddr>().map(IpRange::single).map_err(|_| syntax())
    }

    /// The range covered by `ip/len` (host bits ignored); `None` if `len` is too long.
    pub fn cidr(ip: IpAddr, len: u32) -> Option<IpRange> {
        match ip {
            IpAddr::V4(v4) => {
                if len > 32 {
                    return None;
                }
                let x = u32::from(v4);
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                Some(IpRange {
                    start: IpAddr::from((x & mask).to_be_bytes()),
                    end: IpAddr::from((x | !mask).to_be_bytes()),
                })
            }
            IpAddr::V6(v6) => {
                if len > 128 {
                    return None;
                }
                let x = u128::from(v6);
                let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
                Some(IpRange {
                    start: IpAddr::from((x & mask).to_be_bytes()),
                    end: IpAddr::from((x | !mask).to_be_bytes()),
                })
            }
        }
    }

    /// True if `ip` lies in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        ip.is_ipv4() == self.start.is_ipv4() && self.start <= ip && ip <= self.end
    }
}

impl fmt::Display for IpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.start == self.end {
            write!(f, "{}", self.start)
        } else {
            write!(f, "{}-{}", self.start, self.end)
        }
    }
}

/// What an inverse (rdata) lookup searches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RdataTarget {
    /// A/AAAA rdata within an address range (DNSDB `rdata/ip`).
    Ip(IpRange),
    /// Rdata that names a domain: NS/CNAME/PTR/DNAME targets, MX exchanges, SRV targets…
    /// (DNSDB `rdata/name`).
    Name(NameMatch),
    /// Rdata equal to these wire octets (DNSDB `rdata/raw`).
    Raw(Vec<u8>),
    /// Every rdata record (a full scan, for pattern searches such as DNSDB Flex).
    Any,
}

/// An inverse lookup; results are per rdata item, aggregated over bailiwicks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RdataQuery {
    /// What to search for.
    pub target: RdataTarget,
    /// Types selected.
    pub types: TypeFilter,
    /// Time fences.
    pub fence: TimeFence,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_matches() {
        let n = |s: &str| Name::from_presentation(s).unwrap();
        let below = NameMatch::parse("*.example.com").unwrap();
        assert!(below.matches(&n("www.example.com")));
        assert!(below.matches(&n("a.b.example.com")));
        assert!(!below.matches(&n("example.com")));
        let start = NameMatch::parse("www.example.*").unwrap();
        assert_eq!(start, NameMatch::Starting(n("www.example")));
        assert!(start.matches(&n("www.example.com")));
        assert!(start.matches(&n("www.example.co.uk")));
        assert!(!start.matches(&n("www.example")));
        assert!(!start.matches(&n("www.examples.com")));
        assert_eq!(NameMatch::parse("WWW.example.com.").unwrap(), NameMatch::Exact(n("www.example.com")));
        assert_eq!(below.to_string(), "*.example.com.");
    }

    #[test]
    fn ip_specs() {
        let r = IpRange::parse("192.0.2.77/24").unwrap();
        assert_eq!(r.start.to_string(), "192.0.2.0");
        assert_eq!(r.end.to_string(), "192.0.2.255");
        assert_eq!(IpRange::parse("192.0.2.0,24").unwrap(), r);
        let all = IpRange::parse("0.0.0.0/0").unwrap();
        assert_eq!(all.end.to_string(), "255.255.255.255");
        let v6 = IpRange::parse("2001:db8::/32").unwrap();
        assert_eq!(v6.end.to_string(), "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff");
        assert_eq!(IpRange::parse("2001:db8::1/128").unwrap(), IpRange::single("2001:db8::1".parse().unwrap()));
        assert!(IpRange::parse("192.0.2.0/33").is_err());
        assert!(IpRange::parse("2001:db8::/129").is_err());
        assert!(IpRange::parse("192.0.2.9-192.0.2.1").is_err());
        assert!(IpRange::parse("192.0.2.1-2001:db8::1").is_err());
        assert!(IpRange::parse("1.2.3").is_err());
        assert!(IpRange::parse("1.2.3.4/x").is_err());
        let r = IpRange::parse("10.0.0.1-10.0.0.9").unwrap();
        assert!(r.contains("10.0.0.5".parse().unwrap()));
        assert!(!r.contains("10.0.0.10".parse().unwrap()));
        assert!(!r.contains("::1".parse().unwrap()));
    }
}
