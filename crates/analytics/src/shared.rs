//! Shared IP usage: the names and registered domains that pointed into an address or prefix
//! over a window ([`shared`]), and the domains co-hosted with a domain ([`cohosted`]).
//!
//! Addresses in a shared-infrastructure range ([`Infra`]) are flagged (`shared: "cdn:…"`) and
//! co-hosting through them is weak evidence; an address with more than `fanout` registered
//! domains is reported as shared infrastructure and not expanded.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::ops::ControlFlow;

use dnsledger_model::{Name, Record, RrType, TypeFilter};
use dnsledger_store::{IpRange, NameMatch, NegativeFilter, RdataQuery, RdataTarget, RrsetQuery, Store};
use serde::Serialize;

use crate::{registered_domain, AnalyticsError, Budget, Enricher, Evidence, Infra, IpInfo, Limits, Window};

/// Default fan-out cap: an address with more registered domains is shared infrastructure.
pub const DEFAULT_FANOUT: usize = 50;
/// Most networks of one ASN searched.
pub const MAX_ASN_NETWORKS: usize = 10_000;
/// Evidence records kept per domain.
pub const EVIDENCE_PER_DOMAIN: usize = 10;

/// An address and what is known of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressUse {
    /// The address.
    pub address: String,
    /// Shared-infrastructure tag (`cdn:cloudflare`, `sinkhole:loopback`…), if listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
    /// Registered domains seen on it (counted up to the fan-out cap + 1).
    pub domains: usize,
    /// True if more than the fan-out cap of registered domains used it.
    pub fanout_exceeded: bool,
    /// ASN, AS organisation and country, when an enrichment database knows them.
    #[serde(flatten)]
    pub info: IpInfo,
}

/// Fills in the ASN and country of each address from `enricher`.
fn enrich_addresses(addresses: &mut [AddressUse], enricher: &Enricher) {
    if enricher.is_empty() {
        return;
    }
    for a in addresses {
        if let Ok(ip) = a.address.parse::<IpAddr>() {
            a.info = enricher.lookup(ip);
        }
    }
}

/// A registered domain and its names on the addresses asked about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainUse {
    /// Registered domain (eTLD+1).
    pub domain: String,
    /// Shared-infrastructure tag of the domain itself (a dynamic-DNS suffix…), if listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
    /// Its names seen there.
    pub names: Vec<String>,
    /// The addresses they pointed to.
    pub addresses: Vec<String>,
    /// Observations summed over the evidence.
    pub count: u64,
    /// First seen there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen there.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// `strong`, or `weak` when every address linking it is shared infrastructure (co-hosting only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub strength: Option<&'static str>,
    /// The records (first [`EVIDENCE_PER_DOMAIN`]).
    pub evidence: Vec<Evidence>,
}

impl DomainUse {
    fn new(domain: String, infra: &Infra) -> DomainUse {
        let shared = Name::from_presentation(&domain).ok().and_then(|n| infra.name(&n).map(str::to_string));
        DomainUse {
            domain,
            shared,
            names: Vec::new(),
            addresses: Vec::new(),
            count: 0,
            time_first: None,
            time_last: None,
            strength: None,
            evidence: Vec::new(),
        }
    }

    fn add(&mut self, r: &Record, address: &str) {
        let ev = Evidence::from_record(r);
        let name = ev.rrname.clone();
        if let Err(i) = self.names.binary_search(&name) {
            self.names.insert(i, name);
        }
        if let Err(i) = self.addresses.binary_search_by(|a| a.as_str().cmp(address)) {
            self.addresses.insert(i, address.to_string());
        }
        self.count = self.count.saturating_add(ev.count);
        if let (Some(f), Some(l)) = (ev.time_first, ev.time_last) {
            self.time_first = Some(self.time_first.map_or(f, |x| x.min(f)));
            self.time_last = Some(self.time_last.map_or(l, |x| x.max(l)));
        }
        if self.evidence.len() < EVIDENCE_PER_DOMAIN {
            self.evidence.push(ev);
        }
    }
}

/// Names and domains that pointed into an address range.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SharedReport {
    /// The address, prefix or range asked about.
    pub query: String,
    /// The window applied.
    pub window: Window,
    /// Addresses seen, with their flags.
    pub addresses: Vec<AddressUse>,
    /// Registered domains, most names first.
    pub domains: Vec<DomainUse>,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

impl SharedReport {
    /// Adds the ASN and country of each address (nothing without databases).
    pub fn enrich(&mut self, enricher: &Enricher) {
        enrich_addresses(&mut self.addresses, enricher);
    }
}

fn ip_of(r: &Record) -> Option<IpAddr> {
    r.rdata.first().and_then(|d| d.ip(r.rrtype))
}

/// The names that pointed into `range` over `window`, grouped by registered domain.
pub fn shared(
    store: &dyn Store,
    range: &str,
    window: Window,
    infra: &Infra,
    fanout: usize,
    limits: Limits,
) -> Result<SharedReport, AnalyticsError> {
    window.validate()?;
    let r = IpRange::parse(range).map_err(|e| AnalyticsError::Input(e.to_string()))?;
    shared_in(store, r.to_string(), &[r], window, infra, fanout, limits, Vec::new())
}

/// The names that pointed into the networks the ASN database assigns to `asn` over `window`,
/// grouped by registered domain (one inverse lookup per network, at most
/// [`MAX_ASN_NETWORKS`] networks).
pub fn shared_asn(
    store: &dyn Store,
    enricher: &Enricher,
    asn: u32,
    window: Window,
    infra: &Infra,
    fanout: usize,
    limits: Limits,
) -> Result<SharedReport, AnalyticsError> {
    window.validate()?;
    let (nets, more) = enricher.networks_of(asn, MAX_ASN_NETWORKS)?;
    let mut notes = Vec::new();
    if nets.is_empty() {
        notes.push(format!("the ASN database assigns no network to AS{asn}"));
    }
    if more {
        notes.push(format!("AS{asn} has more than {MAX_ASN_NETWORKS} networks: the first were searched"));
    }
    shared_in(store, format!("AS{asn}"), &nets, window, infra, fanout, limits, notes)
}

/// Parses `AS64500` / `as64500` (an ASN query of the shared-IP analysis).
pub fn parse_asn(s: &str) -> Option<u32> {
    let t = s.trim();
    let digits = t.strip_prefix("AS").or_else(|| t.strip_prefix("as"))?;
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

#[allow(clippy::too_many_arguments)]
fn shared_in(
    store: &dyn Store,
    query: String,
    ranges: &[IpRange],
    window: Window,
    infra: &Infra,
    fanout: usize,
    limits: Limits,
    mut notes: Vec<String>,
) -> Result<SharedReport, AnalyticsError> {
    let mut budget = Budget::new(&limits);
    let mut domains: BTreeMap<String, DomainUse> = BTreeMap::new();
    let mut per_addr: BTreeMap<IpAddr, BTreeSet<String>> = BTreeMap::new();
    for r in ranges {
        let q = RdataQuery { target: RdataTarget::Ip(*r), types: TypeFilter::Any, fence: window.fence() };
        budget.rdata(store, &q, &r.to_string(), |rec| {
            let Some(ip) = ip_of(&rec) else { return ControlFlow::Continue(()) };
            let d = registered_domain(&rec.rrname.to_string());
            let set = per_addr.entry(ip).or_default();
            if set.len() <= fanout {
                set.insert(d.clone());
            }
            domains.entry(d.clone()).or_insert_with(|| DomainUse::new(d, infra)).add(&rec, &ip.to_string());
            ControlFlow::Continue(())
        })?;
        if budget.exhausted {
            break;
        }
    }
    if budget.exhausted {
        notes.push(format!("stopped after reading {} records (max_scanned)", limits.max_scanned));
    }
    let mut addresses: Vec<AddressUse> = per_addr
        .into_iter()
        .map(|(ip, ds)| AddressUse {
            address: ip.to_string(),
            shared: infra.address(ip).map(str::to_string),
            domains: ds.len(),
            fanout_exceeded: ds.len() > fanout,
            info: IpInfo::default(),
        })
        .collect();
    if addresses.len() > limits.max_results {
        notes.push(format!("{} addresses, first {} listed", addresses.len(), limits.max_results));
        addresses.truncate(limits.max_results);
    }
    let mut domains: Vec<DomainUse> = domains.into_values().collect();
    domains.sort_by(|a, b| b.names.len().cmp(&a.names.len()).then(b.count.cmp(&a.count)).then(a.domain.cmp(&b.domain)));
    if domains.len() > limits.max_results {
        notes.push(format!("{} registered domains, first {} listed", domains.len(), limits.max_results));
        domains.truncate(limits.max_results);
    }
    Ok(SharedReport { query, window, addresses, domains, scanned: budget.scanned, limited: !notes.is_empty(), notes })
}

/// The domains co-hosted with one domain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CohostedReport {
    /// The registered domain asked about.
    pub domain: String,
    /// The window applied.
    pub window: Window,
    /// The domain's own A/AAAA records in the window.
    pub own: Vec<Evidence>,
    /// Its addresses, flagged; those over the fan-out cap were not expanded.
    pub addresses: Vec<AddressUse>,
    /// Other registered domains on those addresses, strong evidence first.
    pub cohosted: Vec<DomainUse>,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

impl CohostedReport {
    /// Adds the ASN and country of each address (nothing without databases).
    pub fn enrich(&mut self, enricher: &Enricher) {
        enrich_addresses(&mut self.addresses, enricher);
    }
}

/// The addresses of `domain` (and its subdomains) over `window`, then the other registered
/// domains on those addresses.
pub fn cohosted(
    store: &dyn Store,
    domain: &str,
    window: Window,
    infra: &Infra,
    fanout: usize,
    limits: Limits,
) -> Result<CohostedReport, AnalyticsError> {
    window.validate()?;
    let name = Name::from_presentation(domain).map_err(|e| AnalyticsError::Input(format!("domain {domain:?}: {e}")))?;
    let reg = registered_domain(&name.to_string());
    let zone = Name::from_presentation(&reg).map_err(|e| AnalyticsError::Input(format!("domain {reg:?}: {e}")))?;
    let mut budget = Budget::new(&limits);
    let mut notes = Vec::new();
    let mut own = Vec::new();
    let mut addrs: BTreeSet<IpAddr> = BTreeSet::new();
    for m in [NameMatch::Exact(zone.clone()), NameMatch::Below(zone.clone())] {
        let q = RrsetQuery {
            name: m,
            types: TypeFilter::Any,
            bailiwick: None,
            fence: window.fence(),
            negative: NegativeFilter::Exclude,
        };
        budget.rrset(store, &q, |r| {
            if r.rrtype == RrType::A || r.rrtype == RrType::AAAA {
                for d in &r.rdata {
                    if let Some(ip) = d.ip(r.rrtype) {
                        addrs.insert(ip);
                    }
                }
                if own.len() < limits.max_results {
                    own.push(Evidence::from_record(&r));
                }
            }
            ControlFlow::Continue(())
        })?;
    }
    if addrs.len() > limits.max_results {
        notes.push(format!("{} addresses, first {} expanded", addrs.len(), limits.max_results));
    }
    let mut addresses = Vec::new();
    let mut others: BTreeMap<String, (DomainUse, bool)> = BTreeMap::new();
    for ip in addrs.into_iter().take(limits.max_results) {
        let shared_tag = infra.address(ip).map(str::to_string);
        let q =
            RdataQuery { target: RdataTarget::Ip(IpRange::single(ip)), types: TypeFilter::Any, fence: window.fence() };
        let mut ds: BTreeSet<String> = BTreeSet::new();
        let mut recs: Vec<(String, Record)> = Vec::new();
        budget.rdata(store, &q, &ip.to_string(), |r| {
            let d = registered_domain(&r.rrname.to_string());
            ds.insert(d.clone());
            if ds.len() > fanout {
                return ControlFlow::Break(());
            }
            if d != reg {
                recs.push((d, r));
            }
            ControlFlow::Continue(())
        })?;
        let exceeded = ds.len() > fanout;
        addresses.push(AddressUse {
            address: ip.to_string(),
            shared: shared_tag.clone(),
            domains: ds.len(),
            fanout_exceeded: exceeded,
            info: IpInfo::default(),
        });
        if exceeded {
            notes.push(format!("{ip}: more than {fanout} registered domains, reported as shared infrastructure"));
            continue;
        }
        let weak = shared_tag.is_some();
        for (d, r) in recs {
            let e = others.entry(d.clone()).or_insert_with(|| (DomainUse::new(d, infra), false));
            e.0.add(&r, &ip.to_string());
            e.1 |= !weak;
        }
    }
    if budget.exhausted {
        notes.push(format!("stopped after reading {} records (max_scanned)", limits.max_scanned));
    }
    let mut cohosted: Vec<DomainUse> = others
        .into_values()
        .map(|(mut d, strong)| {
            d.strength = Some(if strong { "strong" } else { "weak" });
            d
        })
        .collect();
    cohosted.sort_by(|a, b| {
        (a.strength != Some("strong"))
            .cmp(&(b.strength != Some("strong")))
            .then(b.addresses.len().cmp(&a.addresses.len()))
            .then(a.domain.cmp(&b.domain))
    });
    if cohosted.len() > limits.max_results {
        notes.push(format!("{} co-hosted domains, first {} listed", cohosted.len(), limits.max_results));
        cohosted.truncate(limits.max_results);
    }
    Ok(CohostedReport {
        domain: reg,
        window,
        own,
        addresses,
        cohosted,
        scanned: budget.scanned,
        limited: !notes.is_empty(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{put, store, D, JAN1};

    #[test]
    fn shared_groups_by_registered_domain() {
        let (_d, s) = store();
        let s = &*s;
        put(s, "www.alpha.co.uk", "A", &["192.0.2.10"], JAN1, JAN1 + D, "s");
        put(s, "mail.alpha.co.uk", "A", &["192.0.2.11"], JAN1 + 5 * D, JAN1 + 6 * D, "s");
        put(s, "beta.com", "A", &["192.0.2.10"], JAN1 + 100 * D, JAN1 + 100 * D, "s");
        put(s, "host.dyndns.org", "A", &["192.0.2.12"], JAN1, JAN1, "s");
        put(s, "elsewhere.net", "A", &["198.51.100.1"], JAN1, JAN1, "s");
        let mut infra = Infra::builtin();
        infra.add_text("dyndns.org dyndns:test\n", "test").unwrap();
        let r = shared(s, "192.0.2.0/24", Window::default(), &infra, DEFAULT_FANOUT, Limits::default()).unwrap();
        let names: Vec<&str> = r.domains.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(names, vec!["alpha.co.uk", "beta.com", "host.dyndns.org"]);
        let alpha = &r.domains[0];
        assert_eq!(alpha.names, vec!["mail.alpha.co.uk.", "www.alpha.co.uk."]);
        assert_eq!(alpha.addresses, vec!["192.0.2.10", "192.0.2.11"]);
        assert_eq!((alpha.time_first, alpha.time_last, alpha.count), (Some(JAN1), Some(JAN1 + 6 * D), 2));
        assert_eq!(alpha.evidence.len(), 2);
        assert_eq!(r.domains[2].shared.as_deref(), Some("dyndns:test"));
        assert_eq!(r.addresses.len(), 3);
        assert_eq!(r.addresses[0].domains, 2);

        // the window keeps January only
        let jan = Window { from: Some(JAN1), to: Some(JAN1 + 30 * D) };
        let r = shared(s, "192.0.2.10", jan, &infra, DEFAULT_FANOUT, Limits::default()).unwrap();
        assert_eq!(r.domains.len(), 1);
        assert!(shared(s, "nonsense", jan, &infra, 5, Limits::default()).is_err());
        // a tiny result bound is reported
        let r = shared(s, "192.0.2.0/24", Window::default(), &infra, 5, Limits { max_scanned: 100, max_results: 1 })
            .unwrap();
        assert!(r.limited && r.domains.len() == 1, "{:?}", r.notes);
    }

    #[test]
    fn cohosting_flags_shared_infrastructure_and_caps_fanout() {
        let (_d, s) = store();
        let s = &*s;
        // evil.test shares a dedicated address with bad.test, a CDN address with shop.test,
        // and a busy address with many domains.
        put(s, "www.evil.test", "A", &["192.0.2.66"], JAN1, JAN1, "s");
        put(s, "bad.test", "A", &["192.0.2.66"], JAN1 + D, JAN1 + D, "s");
        put(s, "evil.test", "A", &["104.16.0.1"], JAN1, JAN1, "s");
        put(s, "shop.test", "A", &["104.16.0.1"], JAN1, JAN1, "s");
        put(s, "cdn.evil.test", "AAAA", &["2001:db8::77"], JAN1, JAN1, "s");
        for i in 0..6 {
            put(s, &format!("d{i}.test"), "AAAA", &["2001:db8::77"], JAN1, JAN1, "s");
        }
        let mut infra = Infra::builtin();
        infra.add_text("104.16.0.0/12 cdn:test\n", "test").unwrap();
        let r = cohosted(s, "www.evil.test", Window::default(), &infra, 4, Limits::default()).unwrap();
        assert_eq!(r.domain, "evil.test");
        assert_eq!(r.own.len(), 3);
        let cdn = r.addresses.iter().find(|a| a.address == "104.16.0.1").unwrap();
        assert_eq!(cdn.shared.as_deref(), Some("cdn:test"));
        let busy = r.addresses.iter().find(|a| a.address == "2001:db8::77").unwrap();
        assert!(busy.fanout_exceeded);
        let got: Vec<(&str, Option<&str>)> = r.cohosted.iter().map(|d| (d.domain.as_str(), d.strength)).collect();
        assert_eq!(got, vec![("bad.test", Some("strong")), ("shop.test", Some("weak"))]);
        assert!(r.notes.iter().any(|n| n.contains("shared infrastructure")));
        assert_eq!(r.cohosted[0].evidence[0].rrname, "bad.test.");
    }

    #[test]
    fn shared_by_asn_searches_every_network_of_the_as() {
        use crate::enrich::testdb;
        let dir = tempfile::tempdir().unwrap();
        let nets = &[
            "192.0.2.0/25=64500:Example Hosting:DE",
            "203.0.113.0/24=64500:Example Hosting:DE",
            "198.51.100.0/24=64501:Other:US",
            "2001:db8::/32=64500:Example Hosting:DE",
        ];
        let e = Enricher::open(Some(&testdb::make(dir.path(), "geolite2-asn", nets)), None).unwrap();
        let (_d, s) = store();
        put(&*s, "a.one.test", "A", &["192.0.2.5"], JAN1, JAN1, "s1");
        put(&*s, "b.two.test", "A", &["203.0.113.9"], JAN1, JAN1, "s1");
        put(&*s, "c.three.test", "AAAA", &["2001:db8::7"], JAN1, JAN1, "s1");
        put(&*s, "outside.test", "A", &["192.0.2.200"], JAN1, JAN1, "s1");
        put(&*s, "other.test", "A", &["198.51.100.1"], JAN1, JAN1, "s1");
        let r = shared_asn(&*s, &e, 64500, Window::default(), &Infra::empty(), 50, Limits::default()).unwrap();
        assert_eq!(r.query, "AS64500");
        let doms: Vec<&str> = r.domains.iter().map(|d| d.domain.as_str()).collect();
        assert_eq!(doms.len(), 3, "{r:#?}");
        for d in ["one.test", "two.test", "three.test"] {
            assert!(doms.contains(&d), "{d} missing from {doms:?}");
        }
        let r = shared_asn(&*s, &e, 65000, Window::default(), &Infra::empty(), 50, Limits::default()).unwrap();
        assert!(r.domains.is_empty() && r.notes[0].contains("no network"));
        assert!(shared_asn(&*s, &Enricher::none(), 64500, Window::default(), &Infra::empty(), 50, Limits::default())
            .is_err());
        assert_eq!(parse_asn("AS64500"), Some(64500));
        assert_eq!(parse_asn("as1"), Some(1));
        assert_eq!(parse_asn("AS"), None);
        assert_eq!(parse_asn("64500"), None);
    }
}
