//! Newly observed domains and hostnames: first seen within a window. A registered domain
//! (eTLD+1) is new only if none of its names was seen before the window starts.
//!
//! The store has no time index, and a name's first sighting can only be known by reading all
//! its records, so the answer comes from one pass over the RRset key space ([`scan_new`]).
//! That key space is ordered by reversed owner name, so the records of a hostname, and of a
//! registered domain, are adjacent: the pass keeps one group in memory at a time and its cost
//! is one sequential read of every RRset record (measured in docs/analytics.md). To answer
//! many windows without repeating it, [`FirstSeenIndex`] keeps the first/last seen time of
//! every registered domain from one such pass, sorted by first seen, and answers a window by
//! binary search; the server rebuilds it when it is older than its configured age.

use std::collections::BTreeSet;
use std::ops::ControlFlow;

use dnsledger_model::{Name, Record, TypeFilter};
use dnsledger_store::{NameMatch, NegativeFilter, RrsetQuery, Store};
use serde::Serialize;

use crate::{registered_domain, AnalyticsError, Budget, Evidence, Limits, Window};

/// Names listed per new domain.
pub const NAMES_PER_DOMAIN: usize = 10;

/// What counts as new: a registered domain, or a hostname.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Registered domains (eTLD+1).
    Domain,
    /// Owner names.
    Hostname,
}

impl Level {
    /// Parses `domain` or `hostname`.
    pub fn parse(s: &str) -> Option<Level> {
        match s {
            "domain" => Some(Level::Domain),
            "hostname" | "name" => Some(Level::Hostname),
            _ => None,
        }
    }
}

/// One newly observed domain or hostname.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewItem {
    /// The registered domain, or the hostname.
    pub name: String,
    /// Its registered domain (equal to `name` at domain level).
    pub domain: String,
    /// First seen (epoch seconds).
    pub first_seen: u64,
    /// Last seen.
    pub last_seen: u64,
    /// Distinct owner names seen (hostname level: 1).
    pub names: u64,
    /// Some of its names, earliest first seen first (at most [`NAMES_PER_DOMAIN`]).
    pub sample: Vec<String>,
    /// The record(s) of its first sighting.
    pub evidence: Vec<Evidence>,
}

/// The new domains or hostnames of a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewReport {
    /// Domain or hostname level.
    pub level: Level,
    /// The window.
    pub window: Window,
    /// New items, by first seen.
    pub items: Vec<NewItem>,
    /// Where the answer came from: `scan` (a pass over the store) or `index`.
    pub source: &'static str,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

/// The group of adjacent records being folded.
struct Group {
    key: String,
    domain: String,
    first: u64,
    last: u64,
    names: BTreeSet<(u64, String)>,
    name_count: u64,
    last_name: Option<Name>,
    evidence: Vec<Evidence>,
}

impl Group {
    fn new(key: String, domain: String) -> Group {
        Group {
            key,
            domain,
            first: u64::MAX,
            last: 0,
            names: BTreeSet::new(),
            name_count: 0,
            last_name: None,
            evidence: Vec::new(),
        }
    }

    fn add(&mut self, r: &Record, f: u64, l: u64) {
        if self.last_name.as_ref() != Some(&r.rrname) {
            self.name_count += 1;
            self.last_name = Some(r.rrname.clone());
        }
        if f < self.first {
            self.first = f;
            self.evidence.clear();
        }
        if f == self.first && self.evidence.len() < NAMES_PER_DOMAIN {
            self.evidence.push(Evidence::from_record(r));
        }
        self.last = self.last.max(l);
        self.names.insert((f, r.rrname.to_string()));
        if self.names.len() > NAMES_PER_DOMAIN {
            self.names.pop_last();
        }
    }

    fn item(self) -> NewItem {
        NewItem {
            name: self.key,
            domain: self.domain,
            first_seen: self.first,
            last_seen: self.last,
            names: self.name_count,
            sample: self.names.into_iter().map(|(_, n)| n).collect(),
            evidence: self.evidence,
        }
    }
}

/// One pass over every RRset record, folding adjacent records per registered domain or
/// hostname; `emit` gets each group with a sighting and returns false to stop the pass.
fn fold_all(
    store: &dyn Store,
    level: Level,
    budget: &mut Budget,
    mut emit: impl FnMut(NewItem) -> bool,
) -> Result<(), AnalyticsError> {
    let q = RrsetQuery {
        name: NameMatch::Below(Name::root()),
        types: TypeFilter::All,
        bailiwick: None,
        fence: Default::default(),
        negative: NegativeFilter::Exclude,
    };
    let mut cur: Option<Group> = None;
    let mut stopped = false;
    budget.rrset(store, &q, |r| {
        let Some((f, l)) = r.agg.effective_times() else { return ControlFlow::Continue(()) };
        let same = match (&cur, level) {
            (Some(g), Level::Hostname) => g.last_name.as_ref() == Some(&r.rrname),
            (Some(g), Level::Domain) => {
                g.last_name.as_ref() == Some(&r.rrname) || registered_domain(&r.rrname.to_string()) == g.domain
            }
            (None, _) => false,
        };
        if !same {
            if let Some(g) = cur.take() {
                if !emit(g.item()) {
                    stopped = true;
                    return ControlFlow::Break(());
                }
            }
            let name = r.rrname.to_string();
            let domain = registered_domain(&name);
            let key = if level == Level::Domain { domain.clone() } else { name };
            cur = Some(Group::new(key, domain));
        }
        if let Some(g) = cur.as_mut() {
            g.add(&r, f, l);
        }
        ControlFlow::Continue(())
    })?;
    if let (Some(g), false) = (cur, stopped) {
        emit(g.item());
    }
    Ok(())
}

/// The domains or hostnames first seen within `window`, from one pass over the store.
pub fn scan_new(store: &dyn Store, window: Window, level: Level, limits: Limits) -> Result<NewReport, AnalyticsError> {
    window.validate()?;
    let mut budget = Budget::new(&limits);
    let mut items = Vec::new();
    let mut more = 0u64;
    let inside = |t: u64| window.from.is_none_or(|a| t >= a) && window.to.is_none_or(|b| t <= b);
    fold_all(store, level, &mut budget, |it| {
        if inside(it.first_seen) {
            if items.len() < limits.max_results {
                items.push(it);
            } else {
                more += 1;
            }
        }
        true
    })?;
    items.sort_by(|a, b| a.first_seen.cmp(&b.first_seen).then_with(|| a.name.cmp(&b.name)));
    let mut notes = Vec::new();
    if more > 0 {
        notes.push(format!("{more} more new items beyond the first {} found", limits.max_results));
    }
    if budget.exhausted {
        notes.push(format!(
            "stopped after reading {} records (max_scanned): names later in the store were not examined",
            limits.max_scanned
        ));
    }
    Ok(NewReport { level, window, items, source: "scan", scanned: budget.scanned, limited: !notes.is_empty(), notes })
}

/// First and last seen of every registered domain, sorted by first seen.
#[derive(Debug, Clone, Default)]
pub struct FirstSeenIndex {
    entries: Vec<(u64, u64, u32, Box<str>)>,
    /// Records read to build it.
    pub scanned: u64,
    /// True if the build was cut short by `max_scanned` (the index is then partial).
    pub partial: bool,
    /// When it was built (epoch seconds).
    pub built_at: u64,
}

impl FirstSeenIndex {
    /// Builds the index with one pass over the store.
    pub fn build(store: &dyn Store, limits: Limits) -> Result<FirstSeenIndex, AnalyticsError> {
        let mut budget = Budget::new(&limits);
        let mut entries = Vec::new();
        fold_all(store, Level::Domain, &mut budget, |it| {
            entries.push((it.first_seen, it.last_seen, it.names.min(u32::MAX as u64) as u32, it.name.into_boxed_str()));
            true
        })?;
        entries.sort_unstable();
        Ok(FirstSeenIndex {
            entries,
            scanned: budget.scanned,
            partial: budget.exhausted,
            built_at: dnsledger_model::time::now(),
        })
    }

    /// Registered domains indexed.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if no domain is indexed.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Approximate bytes of memory held.
    pub fn approx_bytes(&self) -> usize {
        self.entries.iter().map(|e| 32 + e.3.len()).sum()
    }

    /// The registered domains first seen within `window`, with the records of their first
    /// sighting read from `store` (one lookup per domain returned).
    pub fn query(&self, store: &dyn Store, window: Window, limits: Limits) -> Result<NewReport, AnalyticsError> {
        window.validate()?;
        let lo = window.from.map_or(0, |a| self.entries.partition_point(|e| e.0 < a));
        let hi = window.to.map_or(self.entries.len(), |b| self.entries.partition_point(|e| e.0 <= b));
        let hits = &self.entries[lo..hi.max(lo)];
        let mut budget = Budget::new(&limits);
        let mut items = Vec::new();
        for (first, last, names, domain) in hits.iter().take(limits.max_results) {
            let mut evidence = Vec::new();
            let mut sample: BTreeSet<String> = BTreeSet::new();
            if let Ok(zone) = Name::from_presentation(domain) {
                let fence = dnsledger_model::TimeFence {
                    first_after: Some(*first),
                    first_before: Some(*first),
                    ..Default::default()
                };
                for m in [NameMatch::Exact(zone.clone()), NameMatch::Below(zone)] {
                    let q = RrsetQuery {
                        name: m,
                        types: TypeFilter::All,
                        bailiwick: None,
                        fence,
                        negative: NegativeFilter::Exclude,
                    };
                    budget.rrset(store, &q, |r| {
                        sample.insert(r.rrname.to_string());
                        evidence.push(Evidence::from_record(&r));
                        if evidence.len() >= NAMES_PER_DOMAIN {
                            ControlFlow::Break(())
                        } else {
                            ControlFlow::Continue(())
                        }
                    })?;
                }
            }
            items.push(NewItem {
                name: domain.to_string(),
                domain: domain.to_string(),
                first_seen: *first,
                last_seen: *last,
                names: *names as u64,
                sample: sample.into_iter().collect(),
                evidence,
            });
        }
        let mut notes = Vec::new();
        if hits.len() > limits.max_results {
            notes.push(format!("{} new domains, first {} listed", hits.len(), limits.max_results));
        }
        if self.partial {
            notes.push("the first-seen index was built from part of the store (max_scanned)".to_string());
        }
        if budget.exhausted {
            notes.push(format!("evidence reading stopped after {} records (max_scanned)", limits.max_scanned));
        }
        notes.push(format!(
            "from the first-seen index built at {} ({} domains); names first seen later are not in it",
            dnsledger_model::time::format_rfc3339(self.built_at),
            self.entries.len()
        ));
        Ok(NewReport {
            level: Level::Domain,
            window,
            items,
            source: "index",
            scanned: budget.scanned,
            limited: notes.len() > 1,
            notes,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{put, store, D, JAN1};

    #[test]
    fn new_domains_and_hostnames() {
        let (_d, s) = store();
        let s = &*s;
        // old.test existed in January; a new hostname of it appears in March
        put(s, "old.test", "A", &["192.0.2.1"], JAN1, JAN1 + 100 * D, "s");
        put(s, "fresh.old.test", "A", &["192.0.2.2"], JAN1 + 65 * D, JAN1 + 66 * D, "s");
        // fresh.co.uk is first seen in March, under two names
        put(s, "www.fresh.co.uk", "A", &["192.0.2.3"], JAN1 + 70 * D, JAN1 + 71 * D, "s");
        put(s, "fresh.co.uk", "MX", &["10 mx.fresh.co.uk."], JAN1 + 64 * D, JAN1 + 64 * D, "s");
        // later.test is first seen after the window
        put(s, "later.test", "A", &["192.0.2.4"], JAN1 + 200 * D, JAN1 + 200 * D, "s");
        let march = Window { from: Some(JAN1 + 60 * D), to: Some(JAN1 + 90 * D) };

        let r = scan_new(s, march, Level::Domain, Limits::default()).unwrap();
        let got: Vec<&str> = r.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(got, vec!["fresh.co.uk"]);
        let f = &r.items[0];
        assert_eq!((f.first_seen, f.last_seen, f.names), (JAN1 + 64 * D, JAN1 + 71 * D, 2));
        assert_eq!(f.evidence[0].rrtype, "MX");
        assert_eq!(f.sample, vec!["fresh.co.uk.", "www.fresh.co.uk."]);
        assert_eq!(r.scanned, 5);

        let r = scan_new(s, march, Level::Hostname, Limits::default()).unwrap();
        let got: Vec<&str> = r.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(got, vec!["fresh.co.uk.", "fresh.old.test.", "www.fresh.co.uk."]);
        assert_eq!(r.items[1].domain, "old.test");

        // the index answers the same, for any window
        let idx = FirstSeenIndex::build(s, Limits::default()).unwrap();
        assert_eq!(idx.len(), 3);
        let r = idx.query(s, march, Limits::default()).unwrap();
        assert_eq!(r.source, "index");
        assert_eq!(r.items.len(), 1);
        assert_eq!(r.items[0].name, "fresh.co.uk");
        assert_eq!(r.items[0].evidence.len(), 1);
        assert_eq!(r.items[0].evidence[0].rrtype, "MX");
        let all = idx.query(s, Window::default(), Limits::default()).unwrap();
        let got: Vec<&str> = all.items.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(got, vec!["old.test", "fresh.co.uk", "later.test"]);

        // bounds are reported
        let r = scan_new(s, Window::default(), Level::Domain, Limits { max_scanned: 2, max_results: 10 }).unwrap();
        assert!(r.limited && r.scanned == 2);
        let r = scan_new(s, Window::default(), Level::Hostname, Limits { max_scanned: 100, max_results: 1 }).unwrap();
        assert!(r.limited && r.items.len() == 1);
        assert!(scan_new(s, Window { from: Some(2), to: Some(1) }, Level::Domain, Limits::default()).is_err());
    }
}
