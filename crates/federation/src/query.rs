//! A lookup as upstreams are asked it: the five DNSDB query kinds with value, type, bailiwick
//! and time fence, written and parsed in DNSDB's path shape (`rrset/name/example.com/A`), which
//! is also what `dnsledger pull --query` and indicator files take.

use dnsledger_model::TimeFence;
use dnsledger_query::{spec, Lookup};

/// The kinds of lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueryKind {
    /// RRsets by owner name.
    RrsetName,
    /// RRsets by wire-format owner (hex).
    RrsetRaw,
    /// Records whose rdata names a domain.
    RdataName,
    /// Records whose address is in a range.
    RdataIp,
    /// Records whose rdata is these bytes (hex).
    RdataRaw,
}

impl QueryKind {
    /// The DNSDB path spelling (`rrset/name`, …).
    pub fn path(self) -> &'static str {
        match self {
            QueryKind::RrsetName => "rrset/name",
            QueryKind::RrsetRaw => "rrset/raw",
            QueryKind::RdataName => "rdata/name",
            QueryKind::RdataIp => "rdata/ip",
            QueryKind::RdataRaw => "rdata/raw",
        }
    }

    /// Parses `rrset/name` etc.
    pub fn parse(s: &str) -> Option<QueryKind> {
        Some(match s {
            "rrset/name" => QueryKind::RrsetName,
            "rrset/raw" => QueryKind::RrsetRaw,
            "rdata/name" => QueryKind::RdataName,
            "rdata/ip" => QueryKind::RdataIp,
            "rdata/raw" => QueryKind::RdataRaw,
            _ => return None,
        })
    }

    /// True for the rdata (inverse) lookups, whose records carry no bailiwick.
    pub fn is_rdata(self) -> bool {
        matches!(self, QueryKind::RdataName | QueryKind::RdataIp | QueryKind::RdataRaw)
    }
}

/// One lookup, ready to send to any upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamQuery {
    /// What kind of lookup.
    pub kind: QueryKind,
    /// The name, address/range or hex value.
    pub value: String,
    /// Type mnemonic (`ANY` when absent).
    pub rrtype: Option<String>,
    /// Bailiwick (rrset/name only).
    pub bailiwick: Option<String>,
    /// Time fence, sent where the protocol takes one and applied to answers otherwise.
    pub fence: TimeFence,
    /// Most records wanted (the upstream's configured limit applies as well).
    pub limit: Option<u64>,
}

impl UpstreamQuery {
    /// A query of `kind` for `value` with no type, bailiwick, fence or limit.
    pub fn new(kind: QueryKind, value: &str) -> UpstreamQuery {
        UpstreamQuery {
            kind,
            value: value.to_string(),
            rrtype: None,
            bailiwick: None,
            fence: TimeFence::default(),
            limit: None,
        }
    }

    /// Parses `KIND/VALUE[/TYPE[/BAILIWICK]]` as DNSDB paths and dnsdbq batch lines write it
    /// (`rrset/name/example.com/A`, `rdata/ip/192.0.2.0,24`); the lookup is checked the way
    /// local lookups are.
    pub fn parse(s: &str) -> Result<UpstreamQuery, String> {
        let s = s.trim();
        let segs: Vec<String> = s.split('/').map(str::to_string).collect();
        Self::from_segments(&segs, TimeFence::default(), None).map_err(|e| {
            format!("{s:?}: {e} (expected e.g. rrset/name/example.com[/A[/example.com]], rdata/ip/192.0.2.1)")
        })
    }

    /// Builds a query from path segments (`["rrset","name","example.com","A"]`).
    pub fn from_segments(segs: &[String], fence: TimeFence, limit: Option<u64>) -> Result<UpstreamQuery, String> {
        if segs.len() < 3 {
            return Err("too few path segments".into());
        }
        let kind = QueryKind::parse(&format!("{}/{}", segs[0], segs[1]))
            .ok_or_else(|| format!("unknown lookup kind {}/{}", segs[0], segs[1]))?;
        let max = if kind == QueryKind::RrsetName { 5 } else { 4 };
        if segs.len() > max {
            return Err(format!("too many path segments for {}", kind.path()));
        }
        let nonempty = |s: Option<&String>| s.filter(|v| !v.is_empty()).cloned();
        let q = UpstreamQuery {
            kind,
            value: segs[2].clone(),
            rrtype: nonempty(segs.get(3)),
            bailiwick: nonempty(segs.get(4)),
            fence,
            limit,
        };
        q.lookup().map_err(|e| e.0)?;
        Ok(q)
    }

    /// The equivalent local lookup.
    pub fn lookup(&self) -> Result<Lookup, spec::LookupError> {
        let ty = self.rrtype.as_deref();
        match self.kind {
            QueryKind::RrsetName => spec::rrset_name(&self.value, ty, self.bailiwick.as_deref(), self.fence),
            QueryKind::RrsetRaw => spec::rrset_raw(&self.value, ty, self.fence),
            QueryKind::RdataName => spec::rdata_name(&self.value, ty, self.fence),
            QueryKind::RdataIp => spec::rdata_ip(&self.value, ty, self.fence),
            QueryKind::RdataRaw => spec::rdata_raw(&self.value, ty, self.fence),
        }
    }

    /// The path after `/lookup/`, each segment percent-encoded (`rrset/name/example.com/A`).
    pub fn path(&self) -> String {
        let mut p = format!("{}/{}", self.kind.path(), encode_segment(&self.value));
        match (&self.rrtype, &self.bailiwick) {
            (Some(t), Some(b)) => p.push_str(&format!("/{}/{}", encode_segment(t), encode_segment(b))),
            (None, Some(b)) => p.push_str(&format!("/ANY/{}", encode_segment(b))),
            (Some(t), None) => p.push_str(&format!("/{}", encode_segment(t))),
            (None, None) => {}
        }
        p
    }

    /// The query as written in `pull --query` and ledgers (unencoded).
    pub fn display(&self) -> String {
        let mut p = format!("{}/{}", self.kind.path(), self.value);
        if let Some(t) = &self.rrtype {
            p.push('/');
            p.push_str(t);
        }
        if let Some(b) = &self.bailiwick {
            if self.rrtype.is_none() {
                p.push_str("/ANY");
            }
            p.push('/');
            p.push_str(b);
        }
        p
    }

    /// The time-fence parameters (`time_first_after=…`) that are set.
    pub fn fence_params(&self) -> Vec<(&'static str, String)> {
        [
            ("time_first_after", self.fence.first_after),
            ("time_first_before", self.fence.first_before),
            ("time_last_after", self.fence.last_after),
            ("time_last_before", self.fence.last_before),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v.to_string())))
        .collect()
    }
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_writes_paths() {
        let q = UpstreamQuery::parse("rrset/name/*.example.com/A").unwrap();
        assert_eq!(q.kind, QueryKind::RrsetName);
        assert_eq!(q.path(), "rrset/name/%2A.example.com/A");
        assert_eq!(q.display(), "rrset/name/*.example.com/A");
        let q = UpstreamQuery::parse("rdata/ip/192.0.2.0,24").unwrap();
        assert_eq!(q.path(), "rdata/ip/192.0.2.0%2C24");
        let q = UpstreamQuery::parse("rrset/name/example.com/ANY/example.com").unwrap();
        assert_eq!(q.bailiwick.as_deref(), Some("example.com"));
        assert!(UpstreamQuery::parse("rrset/name").is_err());
        assert!(UpstreamQuery::parse("rrset/name/a..b").is_err());
        assert!(UpstreamQuery::parse("rdata/ip/192.0.2.1/MX").is_err());
        assert!(UpstreamQuery::parse("zone/name/x").is_err());
    }
}
