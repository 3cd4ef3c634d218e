//! Resource record types: numbers, mnemonics (IANA registry), `TYPE<n>` generic names, and the
//! `ANY` / `ANY-DNSSEC` filters DNSDB defines.

use std::fmt;

/// A DNS resource record type (the 16-bit TYPE field).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct RrType(pub u16);

macro_rules! rrtypes {
    ($($name:ident = $num:expr, $mn:expr;)*) => {
        impl RrType {
            $(
                #[doc = concat!("The ", $mn, " record type.")]
                pub const $name: RrType = RrType($num);
            )*
        }
        /// Every (number, mnemonic) pair known to dnsledger, sorted by number.
        pub const KNOWN_TYPES: &[(u16, &str)] = &[$(($num, $mn)),*];
    };
}

rrtypes! {
    A = 1, "A";
    NS = 2, "NS";
    MD = 3, "MD";
    MF = 4, "MF";
    CNAME = 5, "CNAME";
    SOA = 6, "SOA";
    MB = 7, "MB";
    MG = 8, "MG";
    MR = 9, "MR";
    NULL = 10, "NULL";
    WKS = 11, "WKS";
    PTR = 12, "PTR";
    HINFO = 13, "HINFO";
    MINFO = 14, "MINFO";
    MX = 15, "MX";
    TXT = 16, "TXT";
    RP = 17, "RP";
    AFSDB = 18, "AFSDB";
    X25 = 19, "X25";
    ISDN = 20, "ISDN";
    RT = 21, "RT";
    NSAP = 22, "NSAP";
    NSAP_PTR = 23, "NSAP-PTR";
    SIG = 24, "SIG";
    KEY = 25, "KEY";
    PX = 26, "PX";
    GPOS = 27, "GPOS";
    AAAA = 28, "AAAA";
    LOC = 29, "LOC";
    NXT = 30, "NXT";
    EID = 31, "EID";
    NIMLOC = 32, "NIMLOC";
    SRV = 33, "SRV";
    ATMA = 34, "ATMA";
    NAPTR = 35, "NAPTR";
    KX = 36, "KX";
    CERT = 37, "CERT";
    A6 = 38, "A6";
    DNAME = 39, "DNAME";
    SINK = 40, "SINK";
    OPT = 41, "OPT";
    APL = 42, "APL";
    DS = 43, "DS";
    SSHFP = 44, "SSHFP";
    IPSECKEY = 45, "IPSECKEY";
    RRSIG = 46, "RRSIG";
    NSEC = 47, "NSEC";
    DNSKEY = 48, "DNSKEY";
    DHCID = 49, "DHCID";
    NSEC3 = 50, "NSEC3";
    NSEC3PARAM = 51, "NSEC3PARAM";
    TLSA = 52, "TLSA";
    SMIMEA = 53, "SMIMEA";
    HIP = 55, "HIP";
    NINFO = 56, "NINFO";
    RKEY = 57, "RKEY";
    TALINK = 58, "TALINK";
    CDS = 59, "CDS";
    CDNSKEY = 60, "CDNSKEY";
    OPENPGPKEY = 61, "OPENPGPKEY";
    CSYNC = 62, "CSYNC";
    ZONEMD = 63, "ZONEMD";
    SVCB = 64, "SVCB";
    HTTPS = 65, "HTTPS";
    DSYNC = 66, "DSYNC";
    SPF = 99, "SPF";
    UINFO = 100, "UINFO";
    UID = 101, "UID";
    GID = 102, "GID";
    UNSPEC = 103, "UNSPEC";
    NID = 104, "NID";
    L32 = 105, "L32";
    L64 = 106, "L64";
    LP = 107, "LP";
    EUI48 = 108, "EUI48";
    EUI64 = 109, "EUI64";
    TKEY = 249, "TKEY";
    TSIG = 250, "TSIG";
    IXFR = 251, "IXFR";
    AXFR = 252, "AXFR";
    MAILB = 253, "MAILB";
    MAILA = 254, "MAILA";
    ANY = 255, "ANY";
    URI = 256, "URI";
    CAA = 257, "CAA";
    AVC = 258, "AVC";
    DOA = 259, "DOA";
    AMTRELAY = 260, "AMTRELAY";
    RESINFO = 261, "RESINFO";
    WALLET = 262, "WALLET";
    TA = 32768, "TA";
    DLV = 32769, "DLV";
}

/// Why an rrtype mnemonic was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown rrtype {0:?}")]
pub struct UnknownRrType(pub String);

impl RrType {
    /// The IANA mnemonic, if this type has one.
    pub fn mnemonic(self) -> Option<&'static str> {
        KNOWN_TYPES.binary_search_by_key(&self.0, |&(n, _)| n).ok().map(|i| KNOWN_TYPES[i].1)
    }

    /// Parses a mnemonic (case-insensitive) or `TYPE<n>`.
    pub fn parse(s: &str) -> Result<RrType, UnknownRrType> {
        RrType::parse_bytes(s.as_bytes()).ok_or_else(|| UnknownRrType(s.to_string()))
    }

    /// Parses a mnemonic or `TYPE<n>` from bytes; `None` if unknown.
    pub fn parse_bytes(s: &[u8]) -> Option<RrType> {
        // Fast path for the types that dominate passive DNS traffic.
        match s {
            b"A" | b"a" => return Some(RrType::A),
            b"AAAA" | b"aaaa" => return Some(RrType::AAAA),
            b"CNAME" | b"cname" => return Some(RrType::CNAME),
            b"NS" | b"ns" => return Some(RrType::NS),
            b"MX" | b"mx" => return Some(RrType::MX),
            b"TXT" | b"txt" => return Some(RrType::TXT),
            b"PTR" | b"ptr" => return Some(RrType::PTR),
            b"SOA" | b"soa" => return Some(RrType::SOA),
            _ => {}
        }
        if s.len() > 4 && s[..4].eq_ignore_ascii_case(b"TYPE") && s[4..].iter().all(u8::is_ascii_digit) {
            return std::str::from_utf8(&s[4..]).ok()?.parse::<u16>().ok().map(RrType);
        }
        KNOWN_TYPES.iter().find(|(_, m)| m.as_bytes().eq_ignore_ascii_case(s)).map(|&(n, _)| RrType(n))
    }

    /// True for the DNSSEC types DNSDB's `ANY-DNSSEC` selects (and `ANY` excludes).
    pub fn is_dnssec(self) -> bool {
        matches!(
            self,
            RrType::DS
                | RrType::RRSIG
                | RrType::NSEC
                | RrType::DNSKEY
                | RrType::NSEC3
                | RrType::NSEC3PARAM
                | RrType::DLV
                | RrType::CDS
                | RrType::CDNSKEY
                | RrType::TA
        )
    }
}

impl fmt::Display for RrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mnemonic() {
            Some(m) => f.write_str(m),
            None => write!(f, "TYPE{}", self.0),
        }
    }
}

impl fmt::Debug for RrType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for RrType {
    type Err = UnknownRrType;
    fn from_str(s: &str) -> Result<RrType, UnknownRrType> {
        RrType::parse(s)
    }
}

/// Which rrtypes a lookup selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TypeFilter {
    /// Every type except the DNSSEC ones (DNSDB `ANY`, the default).
    #[default]
    Any,
    /// Only the DNSSEC types (DNSDB `ANY-DNSSEC`).
    AnyDnssec,
    /// Every type, DNSSEC included.
    All,
    /// Exactly one type.
    Only(RrType),
}

impl TypeFilter {
    /// Parses `ANY`, `ANY-DNSSEC`, `ALL` or a single type mnemonic.
    pub fn parse(s: &str) -> Result<TypeFilter, UnknownRrType> {
        if s.eq_ignore_ascii_case("ANY") {
            Ok(TypeFilter::Any)
        } else if s.eq_ignore_ascii_case("ANY-DNSSEC") {
            Ok(TypeFilter::AnyDnssec)
        } else if s.eq_ignore_ascii_case("ALL") {
            Ok(TypeFilter::All)
        } else {
            RrType::parse(s).map(TypeFilter::Only)
        }
    }

    /// True if `t` passes the filter.
    pub fn matches(self, t: RrType) -> bool {
        match self {
            TypeFilter::Any => !t.is_dnssec(),
            TypeFilter::AnyDnssec => t.is_dnssec(),
            TypeFilter::All => true,
            TypeFilter::Only(x) => x == t,
        }
    }
}

/// A union of [`TypeFilter`]s: a type passes if any member lets it through (the sensor's
/// `--types A,AAAA,NS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeSet(Vec<TypeFilter>);

impl TypeSet {
    /// Parses a comma-separated list of what [`TypeFilter::parse`] takes; an empty list is `ALL`.
    pub fn parse(s: &str) -> Result<TypeSet, UnknownRrType> {
        let v = s
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(TypeFilter::parse)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(if v.is_empty() { TypeSet::all() } else { TypeSet(v) })
    }

    /// Every type.
    pub fn all() -> TypeSet {
        TypeSet(vec![TypeFilter::All])
    }

    /// True if `t` passes one of the filters.
    pub fn matches(&self, t: RrType) -> bool {
        self.0.iter().any(|f| f.matches(t))
    }
}

impl Default for TypeSet {
    fn default() -> Self {
        TypeSet::all()
    }
}

impl From<TypeFilter> for TypeSet {
    fn from(f: TypeFilter) -> TypeSet {
        TypeSet(vec![f])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_sets_are_unions() {
        let s = TypeSet::parse("A, aaaa,NS").unwrap();
        assert!(s.matches(RrType::A) && s.matches(RrType::AAAA) && s.matches(RrType::NS));
        assert!(!s.matches(RrType::MX));
        assert!(TypeSet::parse("").unwrap().matches(RrType::MX));
        let e = TypeSet::parse("A,NOTATYPE").unwrap_err();
        assert!(e.to_string().contains("NOTATYPE"), "{e}");
        let d = TypeSet::parse("ANY-DNSSEC,A").unwrap();
        assert!(d.matches(RrType::A) && d.matches(RrType::RRSIG) && !d.matches(RrType::MX));
    }

    #[test]
    fn table_is_sorted_and_unique() {
        assert!(KNOWN_TYPES.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn parse_and_display() {
        assert_eq!(RrType::parse("a").unwrap(), RrType::A);
        assert_eq!(RrType::parse("Https").unwrap(), RrType::HTTPS);
        assert_eq!(RrType::parse("nsap-ptr").unwrap(), RrType::NSAP_PTR);
        assert_eq!(RrType::parse("TYPE65280").unwrap(), RrType(65280));
        assert_eq!(RrType::parse("type1").unwrap(), RrType::A);
        assert!(RrType::parse("TYPE70000").is_err());
        assert!(RrType::parse("BOGUS").is_err());
        assert_eq!(RrType(65280).to_string(), "TYPE65280");
        assert_eq!(RrType::CAA.to_string(), "CAA");
    }

    #[test]
    fn filters() {
        assert!(TypeFilter::Any.matches(RrType::A));
        assert!(!TypeFilter::Any.matches(RrType::RRSIG));
        assert!(TypeFilter::AnyDnssec.matches(RrType::DS));
        assert!(!TypeFilter::AnyDnssec.matches(RrType::MX));
        assert_eq!(TypeFilter::parse("any-dnssec").unwrap(), TypeFilter::AnyDnssec);
        assert_eq!(TypeFilter::parse("mx").unwrap(), TypeFilter::Only(RrType::MX));
    }
}
