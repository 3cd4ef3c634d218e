//! Enrichment of addresses: the autonomous system (number and organisation) and the country
//! of an IP address, from MaxMind-format (`.mmdb`) databases named in the configuration
//! (`[analytics] asn_mmdb`, `country_mmdb`). Each file is opened once, memory-mapped, and
//! shared by every analysis through an `Arc<Enricher>`; without files, [`Enricher::none`]
//! answers nothing and reports say the ASN is unknown.
//!
//! Reading uses the `maxminddb` crate. Records are decoded leniently because the published
//! database families lay out the same facts differently (see [`IpInfo`] for the fields read):
//!
//! - GeoLite2-ASN and DB-IP ASN Lite: `autonomous_system_number` (any unsigned width, or text
//!   `AS64500`) and `autonomous_system_organization`;
//! - GeoLite2-Country/-City and DB-IP Country/City Lite: `country.iso_code`, else
//!   `registered_country.iso_code`;
//! - ip-location-db (iptoasn, geo-whois-asn) country files: `country_code`;
//! - files carrying the ASN as text with the organisation beside it: `asn` (`AS64500` or a
//!   number) and `as_name`/`as_org`/`organization`, with `country_code` (or a two-letter
//!   `country`) in the same record.
//!
//! A database with both facts in one record may be named for both keys, or for one: the ASN
//! comes from the ASN database, else from the country database, and the country the other way
//! round.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use maxminddb::{Mmap, Reader};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use dnsledger_store::IpRange;

use crate::AnalyticsError;

/// What the databases say about one address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpInfo {
    /// Autonomous system number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    /// Autonomous system organisation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_org: Option<String>,
    /// ISO 3166 two-letter country code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl IpInfo {
    /// True if nothing is known.
    pub fn is_empty(&self) -> bool {
        self.asn.is_none() && self.as_org.is_none() && self.country.is_none()
    }
}

/// The fields read from a record, whatever the database family (unknown fields are skipped).
#[derive(Debug, Default, Deserialize)]
struct Raw {
    autonomous_system_number: Option<Value>,
    autonomous_system_organization: Option<Value>,
    asn: Option<Value>,
    as_name: Option<Value>,
    as_org: Option<Value>,
    organization: Option<Value>,
    country: Option<Value>,
    registered_country: Option<Value>,
    country_code: Option<Value>,
}

/// An ASN from a number or `AS64500`/`64500` text.
fn asn_of(v: &Value) -> Option<u32> {
    match v {
        Value::Number(n) => n.as_u64().and_then(|x| u32::try_from(x).ok()),
        Value::String(s) => {
            let t = s.trim();
            let digits = t.strip_prefix("AS").or_else(|| t.strip_prefix("as")).unwrap_or(t);
            digits.parse().ok()
        }
        _ => None,
    }
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

/// A two-letter code from a string, or the `iso_code` of a map.
fn country_of(v: &Value) -> Option<String> {
    let s = match v {
        Value::Object(m) => m.get("iso_code").and_then(Value::as_str)?,
        Value::String(s) => s.as_str(),
        _ => return None,
    };
    let s = s.trim();
    (s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| s.to_ascii_uppercase())
}

impl Raw {
    fn asn(&self) -> Option<u32> {
        self.autonomous_system_number.as_ref().and_then(asn_of).or_else(|| self.asn.as_ref().and_then(asn_of))
    }

    fn org(&self) -> Option<String> {
        [&self.autonomous_system_organization, &self.as_name, &self.as_org, &self.organization]
            .into_iter()
            .flatten()
            .find_map(text)
    }

    fn country(&self) -> Option<String> {
        [&self.country, &self.country_code, &self.registered_country].into_iter().flatten().find_map(country_of)
    }
}

/// The address range of a database network; IPv4 networks of an IPv6 database (stored under
/// `::/96`) come back as IPv4.
fn range_of(net: ipnetwork::IpNetwork) -> Option<IpRange> {
    match net {
        ipnetwork::IpNetwork::V4(n) => IpRange::cidr(IpAddr::V4(n.network()), u32::from(n.prefix())),
        ipnetwork::IpNetwork::V6(n) => {
            let bits = u128::from(n.network());
            if n.prefix() >= 96 && bits >> 32 == 0 {
                let v4 = std::net::Ipv4Addr::from((bits & 0xffff_ffff) as u32);
                IpRange::cidr(IpAddr::V4(v4), u32::from(n.prefix()) - 96)
            } else {
                IpRange::cidr(IpAddr::V6(n.network()), u32::from(n.prefix()))
            }
        }
    }
}

/// One open database.
struct Db {
    path: PathBuf,
    reader: Reader<Mmap>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("path", &self.path).field("type", &self.reader.metadata().database_type).finish()
    }
}

impl Db {
    fn open(path: &Path, role: &str) -> Result<Db, AnalyticsError> {
        // SAFETY: the mapping is read-only and private to this process. Replacing the file by
        // renaming a new one over it (how database updates are installed) leaves this mapping
        // on the old file; truncating it in place while mapped would fault on read (SIGBUS),
        // which docs/analytics.md warns about.
        let reader = unsafe { Reader::open_mmap(path) }
            .map_err(|e| AnalyticsError::Input(format!("{role} database {}: {e}", path.display())))?;
        Ok(Db { path: path.to_path_buf(), reader })
    }

    fn raw(&self, ip: IpAddr) -> Option<Raw> {
        // a lookup that fails (an IPv6 address in an IPv4-only file, a corrupt record) is
        // treated as "not in the database": enrichment never fails an analysis
        self.reader.lookup(ip).ok()?.decode::<Raw>().ok().flatten()
    }

    fn describe(&self, role: &str) -> String {
        let m = self.reader.metadata();
        format!(
            "{role}: {} ({}, IPv{}, {} nodes, built {})",
            self.path.display(),
            m.database_type,
            m.ip_version,
            m.node_count,
            dnsledger_model::time::format_rfc3339(m.build_epoch)
        )
    }
}

/// ASN and country lookups over the configured databases; cheap to share behind an `Arc`.
#[derive(Debug, Default)]
pub struct Enricher {
    asn: Option<Db>,
    country: Option<Db>,
}

impl Enricher {
    /// No databases: every lookup is empty.
    pub fn none() -> Enricher {
        Enricher::default()
    }

    /// Opens the databases given (either may be absent); the error names the file and why.
    pub fn open(asn: Option<&Path>, country: Option<&Path>) -> Result<Enricher, AnalyticsError> {
        Ok(Enricher {
            asn: asn.map(|p| Db::open(p, "ASN")).transpose()?,
            country: country.map(|p| Db::open(p, "country")).transpose()?,
        })
    }

    /// True if no database is open.
    pub fn is_empty(&self) -> bool {
        self.asn.is_none() && self.country.is_none()
    }

    /// True if an ASN database is open (else ASNs are unknown, not absent).
    pub fn has_asn(&self) -> bool {
        self.asn.is_some()
            || self
                .country
                .as_ref()
                .is_some_and(|d| d.reader.metadata().database_type.to_ascii_lowercase().contains("asn"))
    }

    /// What the databases say about `ip` (empty when unconfigured or not found).
    pub fn lookup(&self, ip: IpAddr) -> IpInfo {
        let a = self.asn.as_ref().and_then(|d| d.raw(ip));
        let c = self.country.as_ref().and_then(|d| d.raw(ip));
        let (a, c) = (a.as_ref(), c.as_ref());
        let asn = a.and_then(Raw::asn).or_else(|| c.and_then(Raw::asn));
        IpInfo {
            asn,
            as_org: a.and_then(Raw::org).or_else(|| c.and_then(Raw::org)),
            country: c.and_then(Raw::country).or_else(|| a.and_then(Raw::country)),
        }
    }

    /// The networks the ASN database assigns to `asn` (the ASN database, else the country
    /// database when it carries ASNs), at most `cap` of them; the flag says whether more were
    /// left out. A whole-database walk: about a second for a full-size ASN database.
    pub fn networks_of(&self, asn: u32, cap: usize) -> Result<(Vec<IpRange>, bool), AnalyticsError> {
        let db = match (&self.asn, &self.country) {
            (Some(d), _) => d,
            (None, Some(d)) if self.has_asn() => d,
            _ => {
                return Err(AnalyticsError::Input(format!(
                    "AS{asn}: no ASN database configured ([analytics] asn_mmdb)"
                )))
            }
        };
        let bad = |e: maxminddb::MaxMindDbError| {
            AnalyticsError::Input(format!("reading ASN database {}: {e}", db.path.display()))
        };
        let mut out = Vec::new();
        for item in db.reader.networks(maxminddb::WithinOptions::default()).map_err(bad)? {
            let item = item.map_err(bad)?;
            let Some(raw) = item.decode::<Raw>().ok().flatten() else { continue };
            if raw.asn() != Some(asn) {
                continue;
            }
            let net = item.network().map_err(bad)?;
            let Some(range) = range_of(net) else { continue };
            if out.len() >= cap {
                return Ok((out, true));
            }
            out.push(range);
        }
        Ok((out, false))
    }

    /// One line per open database (path, type, IP version, size, build time), for `config check`.
    pub fn describe(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(d) = &self.asn {
            out.push(d.describe("asn_mmdb"));
        }
        if let Some(d) = &self.country {
            out.push(d.describe("country_mmdb"));
        }
        out
    }
}

#[cfg(test)]
pub(crate) mod testdb {
    //! Test databases written at test time by `tests/make_mmdb.py` (mmdb-writer).

    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// Runs the generator with the test venv's Python (`DNSLEDGER_TEST_PYTHON`, else `python3`).
    pub fn make(dir: &Path, shape: &str, nets: &[&str]) -> PathBuf {
        let python = std::env::var("DNSLEDGER_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/make_mmdb.py");
        let out = dir.join(format!("{shape}.mmdb"));
        let r = Command::new(&python)
            .arg(&script)
            .arg(shape)
            .arg(&out)
            .args(nets)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        assert!(
            r.status.success(),
            "{python} {} failed (needs the PyPI package mmdb-writer, installed by scripts/test.sh; \
             set DNSLEDGER_TEST_PYTHON): {}",
            script.display(),
            String::from_utf8_lossy(&r.stderr)
        );
        out
    }

    /// The networks the tests use.
    pub const NETS: &[&str] = &[
        "192.0.2.0/24=64500:Example Hosting:DE",
        "198.51.100.0/24=64501:Example CDN:US",
        "203.0.113.0/24=64502:Example Transit:NL",
        "198.18.0.0/16=64510:Example Flux One:RU",
        "198.19.0.0/16=64511:Example Flux Two:BR",
        "2001:db8::/32=64503:Example Six:FR",
    ];
}

#[cfg(test)]
mod tests {
    use super::testdb::{make, NETS};
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn every_shape_decodes() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let geo_asn = make(d, "geolite2-asn", NETS);
        let geo_cc = make(d, "geolite2-country", NETS);
        let e = Enricher::open(Some(&geo_asn), Some(&geo_cc)).unwrap();
        assert!(e.has_asn() && !e.is_empty());
        let i = e.lookup(ip("192.0.2.7"));
        assert_eq!(i, IpInfo { asn: Some(64500), as_org: Some("Example Hosting".into()), country: Some("DE".into()) });
        assert_eq!(e.lookup(ip("2001:db8::5")).asn, Some(64503));
        assert_eq!(e.lookup(ip("198.19.4.1")).country.as_deref(), Some("BR"));
        assert!(e.lookup(ip("10.0.0.1")).is_empty());
        let lines = e.describe();
        assert!(lines[0].contains("GeoLite2-ASN") && lines[1].contains("GeoLite2-Country"), "{lines:?}");

        // a 16-bit number, a country_code field, text ASNs with the country in the same file
        let u16 = make(d, "asn-u16", NETS);
        let cc = make(d, "country-code", NETS);
        let e = Enricher::open(Some(&u16), Some(&cc)).unwrap();
        let i = e.lookup(ip("203.0.113.9"));
        assert_eq!((i.asn, i.country.as_deref()), (Some(64502), Some("NL")));
        let both = make(d, "asn-string", NETS);
        for e in [Enricher::open(Some(&both), None).unwrap(), Enricher::open(None, Some(&both)).unwrap()] {
            let i = e.lookup(ip("198.51.100.1"));
            assert_eq!(i, IpInfo { asn: Some(64501), as_org: Some("Example CDN".into()), country: Some("US".into()) });
        }

        // unconfigured: nothing, and says so
        let n = Enricher::none();
        assert!(n.is_empty() && !n.has_asn() && n.lookup(ip("192.0.2.7")).is_empty());

        // a missing or broken file is an error naming the file
        let err = Enricher::open(Some(&d.join("absent.mmdb")), None).unwrap_err().to_string();
        assert!(err.contains("ASN database") && err.contains("absent.mmdb"), "{err}");
        let junk = d.join("junk.mmdb");
        std::fs::write(&junk, b"not a database").unwrap();
        let err = Enricher::open(None, Some(&junk)).unwrap_err().to_string();
        assert!(err.contains("country database") && err.contains("junk.mmdb"), "{err}");
    }

    #[test]
    fn shared_and_history_answers_are_enriched() {
        use crate::testutil::{put, store, JAN1};
        use crate::{history, shared, Infra, Limits, Window};
        let dir = tempfile::tempdir().unwrap();
        let e = Enricher::open(Some(&make(dir.path(), "geolite2-asn", NETS)), None).unwrap();
        let (_d, s) = store();
        let s = &*s;
        put(s, "www.example.com", "A", &["192.0.2.10"], JAN1, JAN1, "s");
        put(s, "alias.example.com", "CNAME", &["edge.example.net."], JAN1, JAN1, "s");
        put(s, "edge.example.net", "AAAA", &["2001:db8::1"], JAN1, JAN1, "s");
        put(s, "other.example.org", "A", &["192.0.2.10"], JAN1, JAN1, "s");
        let infra = Infra::builtin();
        let mut r = shared::shared(s, "192.0.2.10", Window::default(), &infra, 50, Limits::default()).unwrap();
        assert_eq!(r.addresses[0].info, IpInfo::default());
        r.enrich(&e);
        assert_eq!(
            (r.addresses[0].info.asn, r.addresses[0].info.as_org.as_deref()),
            (Some(64500), Some("Example Hosting"))
        );
        let v = crate::to_json(&r);
        assert_eq!(v["addresses"][0]["asn"], 64500);
        let mut c = shared::cohosted(s, "example.com", Window::default(), &infra, 50, Limits::default()).unwrap();
        c.enrich(&e);
        assert_eq!(c.addresses[0].info.asn, Some(64500));
        let mut h = history::history(s, "*.example.com", &history::HistoryOptions::default()).unwrap();
        assert!(crate::to_json(&h).get("address_info").is_none());
        h.enrich(&e);
        assert_eq!(h.address_info["192.0.2.10"].asn, Some(64500));
        assert_eq!(h.address_info["2001:db8::1"].asn, Some(64503));
        // without databases nothing is added
        let mut h = history::history(s, "www.example.com", &history::HistoryOptions::default()).unwrap();
        h.enrich(&Enricher::none());
        assert!(h.address_info.is_empty());
    }

    #[test]
    fn lenient_fields() {
        assert_eq!(asn_of(&Value::from("AS64500")), Some(64500));
        assert_eq!(asn_of(&Value::from(" 64501 ")), Some(64501));
        assert_eq!(asn_of(&Value::from(1u64 << 40)), None);
        assert_eq!(country_of(&serde_json::json!({"iso_code": "de"})), Some("DE".into()));
        assert_eq!(country_of(&Value::from("United States")), None);
    }
}
