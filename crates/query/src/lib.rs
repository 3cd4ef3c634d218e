//! The query engine: lookups as users write them, run against any [`Store`] with offset,
//! limit and truncation detection, and rendered as records users read (table, COF NDJSON,
//! CSV). The server and the CLI share all of it.

pub mod output;
pub mod sort;
pub mod spec;

use std::ops::ControlFlow;

use dnsledger_model::{time, Record};
use dnsledger_store::{ScanStats, Store, StoreError};
use serde::{Deserialize, Serialize};

pub use sort::{run_sorted, Sort, SortError};
pub use spec::{Lookup, LookupError};

/// How many records a lookup returns at most, and how many it skips first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Records to skip before returning any.
    pub offset: u64,
    /// Most records to return; `None` for no limit.
    pub limit: Option<u64>,
}

impl Default for Window {
    fn default() -> Self {
        Window { offset: 0, limit: Some(10_000) }
    }
}

/// How a lookup ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Outcome {
    /// Records handed to the caller.
    pub returned: u64,
    /// True if more records matched than the window let through.
    pub limited: bool,
    /// True if the caller stopped the lookup early.
    pub stopped: bool,
    /// True if the lookup ran past its deadline and was stopped there (see [`run_until`]).
    pub timed_out: bool,
    /// What the store read.
    pub scan: ScanStats,
}

/// Which records of a lookup's answer are kept. Applied as the store yields records and before
/// `offset` and `limit`, so paging and truncation walk the filtered answer, never one page of
/// it. The default keeps every record.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordFilter {
    /// Keep only records seen by this sensor (its name as given at ingest). A record remembers
    /// at most `dnsledger_model::aggregate::MAX_SENSORS` sensors: one seen by more may miss later ones.
    pub sensor: Option<String>,
}

impl RecordFilter {
    /// True if the filter keeps every record.
    pub fn is_empty(&self) -> bool {
        self.sensor.is_none()
    }

    /// True if `r` is kept.
    pub fn keeps(&self, r: &Record) -> bool {
        self.sensor.as_ref().is_none_or(|s| r.sensors.iter().any(|x| x == s))
    }
}

/// Runs `lookup` on `store`, calling `emit` for each record inside `window`. Reads one record
/// past the limit to tell whether the result was truncated. `emit` may stop the lookup.
pub fn run(
    store: &dyn Store,
    lookup: &Lookup,
    window: Window,
    emit: &mut dyn FnMut(Record) -> ControlFlow<()>,
) -> Result<Outcome, StoreError> {
    run_filtered(store, lookup, window, &RecordFilter::default(), emit)
}

/// [`run`], keeping only the records `filter` keeps; `offset` and `limit` count kept records.
pub fn run_filtered(
    store: &dyn Store,
    lookup: &Lookup,
    window: Window,
    filter: &RecordFilter,
    emit: &mut dyn FnMut(Record) -> ControlFlow<()>,
) -> Result<Outcome, StoreError> {
    run_until(store, lookup, window, filter, None, emit)
}

/// Like [`run_filtered`], but stops once `deadline` has passed, with [`Outcome::timed_out`]
/// set. The clock is read for every record the store hands over (kept, skipped by `offset` or
/// not), so a scan that yields records stops within one record of the deadline; a store scan
/// that reads many entries without yielding any (time fences that exclude almost everything)
/// is checked only when the next record arrives.
pub fn run_until(
    store: &dyn Store,
    lookup: &Lookup,
    window: Window,
    filter: &RecordFilter,
    deadline: Option<std::time::Instant>,
    emit: &mut dyn FnMut(Record) -> ControlFlow<()>,
) -> Result<Outcome, StoreError> {
    let mut out = Outcome::default();
    let mut skipped = 0u64;
    let mut visit = |r: Record| {
        if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
            out.timed_out = true;
            return ControlFlow::Break(());
        }
        if !filter.keeps(&r) {
            return ControlFlow::Continue(());
        }
        if skipped < window.offset {
            skipped += 1;
            return ControlFlow::Continue(());
        }
        if window.limit.is_some_and(|l| out.returned >= l) {
            out.limited = true;
            return ControlFlow::Break(());
        }
        out.returned += 1;
        if emit(r).is_break() {
            out.stopped = true;
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    };
    out.scan = match lookup {
        Lookup::Rrset(q) => store.lookup_rrset(q, &mut visit)?,
        Lookup::Rdata(q) => store.lookup_rdata(q, &mut visit)?,
    };
    Ok(out)
}

/// A record as users see it: presentation strings and plain numbers. Its JSON form is a COF
/// record (draft-dulaunoy-dnsop-passive-dns-cof) with dnsledger extensions (`ttl_min`,
/// `ttl_max`, `sensors`, `active_days`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordView {
    /// Number of observations.
    pub count: u64,
    /// First seen by sensors/logs (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen by sensors/logs (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// First seen in a zone file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_time_first: Option<u64>,
    /// Last seen in a zone file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_time_last: Option<u64>,
    /// Owner name, FQDN with trailing dot.
    pub rrname: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Bailiwick, for RRset records whose zone is known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bailiwick: Option<String>,
    /// Rdata in presentation format.
    pub rdata: Vec<String>,
    /// Lowest TTL seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_min: Option<u32>,
    /// Highest TTL seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_max: Option<u32>,
    /// First sensor that saw it (COF `sensor_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_id: Option<String>,
    /// Every sensor that saw it, when more than one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensors: Vec<String>,
    /// Days with activity, as inclusive `[first, last]` runs of `YYYY-MM-DD` dates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub active_days: Vec<[String; 2]>,
    /// `NXDOMAIN` or `NODATA` for a negative-answer record (its `rdata` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub negative: Option<String>,
}

impl RecordView {
    /// Renders a stored record.
    pub fn from_record(r: &Record) -> RecordView {
        let day = |d: u32| time::format_rfc3339(d as u64 * time::DAY)[..10].to_string();
        RecordView {
            count: r.agg.count,
            time_first: r.agg.seen.map(|s| s.0),
            time_last: r.agg.seen.map(|s| s.1),
            zone_time_first: r.agg.zone.map(|s| s.0),
            zone_time_last: r.agg.zone.map(|s| s.1),
            rrname: r.rrname.to_presentation(),
            rrtype: r.rrtype.to_string(),
            bailiwick: r.bailiwick.as_ref().map(|b| b.to_presentation()),
            rdata: r.rdata_strings(),
            ttl_min: r.agg.ttl.map(|t| t.0),
            ttl_max: r.agg.ttl.map(|t| t.1),
            sensor_id: r.sensors.first().cloned(),
            sensors: if r.sensors.len() > 1 { r.sensors.clone() } else { Vec::new() },
            active_days: r.agg.days.runs().iter().map(|&(a, b)| [day(a), day(b)]).collect(),
            negative: r.negative.map(|n| n.as_str().to_string()),
        }
    }

    /// Sensor times if present, else zone times.
    pub fn times(&self) -> Option<(u64, u64)> {
        match (self.time_first, self.time_last, self.zone_time_first, self.zone_time_last) {
            (Some(a), Some(b), _, _) => Some((a, b)),
            (_, _, Some(a), Some(b)) => Some((a, b)),
            _ => None,
        }
    }
}
