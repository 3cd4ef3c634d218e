//! dnsledger's analytics: the questions analysts ask of passive DNS, answered over any
//! [`Store`] through its ordinary lookups, each answer carrying the records it came from.
//!
//! - [`history`]: what a name (or `*.zone`) resolved to over time, per rrtype as intervals
//!   built from the per-day activity runs, CNAME chains followed to their addresses, the state
//!   at a time `T`, and what changed between two times.
//! - [`shared`]: the names and registered domains (eTLD+1) that pointed into an address or
//!   prefix, and the domains co-hosted with a domain, aware of shared infrastructure
//!   ([`infra`]: CDN ranges, sinkholes, private space, dynamic-DNS suffixes) and with a fan-out
//!   cap.
//! - [`newly`]: registered domains and hostnames first seen within a window.
//! - [`enrich`]: ASN, AS organisation and country of addresses from MaxMind-format databases.
//! - [`temporal`]: activity timelines, fast-flux scoring, dormancy, revival and bursts.
//! - [`export`]: records and evidence as CSV, MISP events (`passive-dns` objects) and STIX 2.1
//!   bundles.
//! - [`indicators`] and [`lookback`]: batches of indicators (text, MISP, STIX) and every
//!   stored trace of each, with times.
//! - [`cluster`] with [`labels`]: the graph of domains, addresses, networks and name servers
//!   around seeds, its communities, and maliciousness scores from label lists.
//! - [`detect`]: ATT&CK detections (T1583.001, T1584.001, T1584.002) over a window.
//!
//! Work is bounded: every function reads at most [`Limits::max_scanned`] records and returns
//! at most [`Limits::max_results`] items per list, and says so (`limited`, `notes`) when a
//! bound was hit.

pub mod cluster;
pub mod detect;
pub mod enrich;
pub mod export;
pub mod history;
pub mod indicators;
pub mod infra;
pub mod labels;
pub mod lookback;
pub mod newly;
pub mod shared;
pub mod temporal;

use std::ops::ControlFlow;

use dnsledger_model::time::DAY;
use dnsledger_model::{Aggregate, Name, Record, TimeFence};
use dnsledger_store::{RdataQuery, RrsetQuery, Store, StoreError};
use serde::Serialize;

pub use enrich::{Enricher, IpInfo};
pub use infra::Infra;

/// Why an analysis failed.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    /// The store failed.
    #[error("{context}: {source}")]
    Store {
        /// What was being read.
        context: String,
        /// The store's error.
        source: StoreError,
    },
    /// The request cannot be answered as given (bad name, address, window).
    #[error("{0}")]
    Input(String),
}

/// Bounds on one analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most records read from the store, over all the lookups of the analysis.
    pub max_scanned: u64,
    /// Most items in each returned list (records of a name, domains, addresses, evidence).
    pub max_results: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_scanned: 1_000_000, max_results: 1_000 }
    }
}

/// A time window; either end may be open. Records count when their first..last seen interval
/// overlaps it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Window {
    /// Start (epoch seconds, inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<u64>,
    /// End (epoch seconds, inclusive).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<u64>,
}

impl Window {
    /// The lookup fence selecting records that overlap the window.
    pub fn fence(&self) -> TimeFence {
        TimeFence { last_after: self.from, first_before: self.to, ..TimeFence::default() }
    }

    /// Checks that `from <= to`.
    pub fn validate(&self) -> Result<(), AnalyticsError> {
        match (self.from, self.to) {
            (Some(a), Some(b)) if a > b => Err(AnalyticsError::Input(format!("window: from ({a}) is after to ({b})"))),
            _ => Ok(()),
        }
    }
}

/// One stored record an answer rests on, with its times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Evidence {
    /// Owner name.
    pub rrname: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Bailiwick, when known (RRset view only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bailiwick: Option<String>,
    /// Rdata in presentation format.
    pub rdata: Vec<String>,
    /// First seen (sensor times, else zone-file times), epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen, epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// Observations.
    pub count: u64,
}

impl Evidence {
    /// The evidence a record gives.
    pub fn from_record(r: &Record) -> Evidence {
        let times = r.agg.effective_times();
        Evidence {
            rrname: r.rrname.to_string(),
            rrtype: r.rrtype.to_string(),
            bailiwick: r.bailiwick.as_ref().map(Name::to_string),
            rdata: r.rdata_strings(),
            time_first: times.map(|t| t.0),
            time_last: times.map(|t| t.1),
            count: r.agg.count,
        }
    }
}

/// The registered domain (eTLD+1, public suffix list) of a name, without the trailing dot;
/// a name that is itself a public suffix (or has no known suffix) stands for itself.
pub fn registered_domain(name: &str) -> String {
    let bare = name.strip_suffix('.').unwrap_or(name);
    match psl::domain_str(bare) {
        Some(d) => d.to_string(),
        None => bare.to_string(),
    }
}

/// A report as a JSON value (reports hold only strings, numbers and lists, so this cannot
/// fail; a failure would give `null`).
pub fn to_json<T: Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
}

/// Counts records read against [`Limits::max_scanned`] across several lookups.
#[derive(Debug, Clone)]
pub(crate) struct Budget {
    left: u64,
    /// Records read so far.
    pub scanned: u64,
    /// True once a lookup was cut short by the budget.
    pub exhausted: bool,
}

impl Budget {
    pub(crate) fn new(limits: &Limits) -> Budget {
        Budget { left: limits.max_scanned, scanned: 0, exhausted: false }
    }

    /// Runs an RRset lookup, handing records to `f` until it or the budget says stop.
    pub(crate) fn rrset(
        &mut self,
        store: &dyn Store,
        q: &RrsetQuery,
        f: impl FnMut(Record) -> ControlFlow<()>,
    ) -> Result<(), AnalyticsError> {
        self.run(f, |visit| store.lookup_rrset(q, visit), || format!("looking up RRsets of {}", q.name))
    }

    /// Runs an rdata lookup, handing records to `f` until it or the budget says stop.
    pub(crate) fn rdata(
        &mut self,
        store: &dyn Store,
        q: &RdataQuery,
        what: &str,
        f: impl FnMut(Record) -> ControlFlow<()>,
    ) -> Result<(), AnalyticsError> {
        self.run(f, |visit| store.lookup_rdata(q, visit), || format!("looking up records of {what}"))
    }

    /// Runs one lookup through the budget; `context` names it in errors.
    fn run(
        &mut self,
        mut f: impl FnMut(Record) -> ControlFlow<()>,
        lookup: impl FnOnce(&mut dnsledger_store::Visitor<'_>) -> Result<dnsledger_store::ScanStats, StoreError>,
        context: impl FnOnce() -> String,
    ) -> Result<(), AnalyticsError> {
        if self.left == 0 {
            self.exhausted = true;
            return Ok(());
        }
        let mut visit = |r: Record| self.take(r, &mut f);
        lookup(&mut visit).map_err(|source| AnalyticsError::Store { context: context(), source })?;
        Ok(())
    }

    fn take(&mut self, r: Record, f: &mut impl FnMut(Record) -> ControlFlow<()>) -> ControlFlow<()> {
        if self.left == 0 {
            self.exhausted = true;
            return ControlFlow::Break(());
        }
        self.left -= 1;
        self.scanned += 1;
        f(r)
    }
}

/// The first day (days since the epoch) of a time.
pub(crate) fn day_of(t: u64) -> u32 {
    (t / DAY).min(u32::MAX as u64) as u32
}

/// The activity intervals of an aggregate: one per run of days with sightings, clamped to the
/// first/last seen times; one interval from first to last seen when no days are recorded.
pub(crate) fn intervals(agg: &Aggregate) -> Vec<(u64, u64, u64)> {
    let Some((tf, tl)) = agg.effective_times() else { return Vec::new() };
    let runs = agg.days.runs();
    if runs.is_empty() {
        return vec![(tf, tl, (tl / DAY).saturating_sub(tf / DAY) + 1)];
    }
    runs.iter()
        .map(|&(a, b)| {
            let (start, end) = (a as u64 * DAY, b as u64 * DAY + DAY - 1);
            let (first, last) = (start.max(tf), end.min(tl));
            let days = (b - a) as u64 + 1;
            if first <= last {
                (first, last, days)
            } else {
                (start, end, days)
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    //! A RocksDB store in a temporary directory, filled through the `Store` trait.

    use std::sync::Arc;

    use dnsledger_model::{Name, Observation, Rdata, RrType};
    use dnsledger_store::{Batch, Store};
    use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

    /// 2024-01-01T00:00:00Z.
    pub const JAN1: u64 = 1_704_067_200;
    /// One day.
    pub const D: u64 = 86_400;

    /// A fresh store and the directory holding it.
    pub fn store() -> (tempfile::TempDir, Arc<dyn Store>) {
        let dir = tempfile::tempdir().unwrap();
        let s = RocksStore::open(dir.path().join("db"), RocksStoreOptions { sync_writes: false, ..Default::default() })
            .unwrap();
        (dir, Arc::new(s))
    }

    /// Writes one observation of `name TYPE rdata...` seen from `first` to `last`.
    pub fn put(store: &dyn Store, name: &str, ty: &str, rdata: &[&str], first: u64, last: u64, sensor: &str) {
        let rrtype = RrType::parse(ty).unwrap();
        let mut o = Observation {
            rrname: Name::from_presentation(name).unwrap(),
            rrtype,
            rdata: rdata.iter().map(|r| Rdata::parse(rrtype, r).unwrap()).collect(),
            bailiwick: Some(Name::from_presentation(&crate::registered_domain(name)).unwrap()),
            time_first: first,
            time_last: last,
            ttl: Some(300),
            count: 1,
            sensor: Some(sensor.to_string()),
            ..Observation::default()
        };
        let mut b = Batch::new();
        b.add(&mut o);
        store.write(&b).unwrap();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_domains() {
        assert_eq!(registered_domain("www.example.co.uk."), "example.co.uk");
        assert_eq!(registered_domain("a.b.example.com"), "example.com");
        assert_eq!(registered_domain("com."), "com");
    }

    #[test]
    fn intervals_follow_day_runs() {
        let mut a = Aggregate::default();
        a.observe_sensor(testutil::JAN1 + 3600, testutil::JAN1 + 3600, 1);
        a.observe_sensor(testutil::JAN1 + 160 * DAY + 60, testutil::JAN1 + 161 * DAY + 60, 1);
        let iv = intervals(&a);
        assert_eq!(iv.len(), 2, "{iv:?}");
        assert_eq!(iv[0], (testutil::JAN1 + 3600, testutil::JAN1 + DAY - 1, 1));
        assert_eq!(iv[1], (testutil::JAN1 + 160 * DAY, testutil::JAN1 + 161 * DAY + 60, 2));
        assert!(intervals(&Aggregate::default()).is_empty());
    }

    #[test]
    fn windows() {
        assert!(Window { from: Some(2), to: Some(1) }.validate().is_err());
        let f = Window { from: Some(1), to: Some(2) }.fence();
        assert_eq!((f.last_after, f.first_before), (Some(1), Some(2)));
    }
}
