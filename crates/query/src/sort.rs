//! Sorted lookups: the whole (filtered) answer ordered by one column before `offset` and
//! `limit` apply, so page N of a sorted answer is page N of the sorted whole, not a sorted page.
//!
//! Sorting needs every record in memory, so it is bounded: an answer of more than `cap` records
//! is refused with [`SortError::TooMany`] (the caller tells the user to narrow the query or page
//! it unsorted) instead of growing without limit.

use std::cmp::Ordering;
use std::ops::ControlFlow;

use dnsledger_model::Record;
use dnsledger_store::{Store, StoreError};

use crate::{run_until, Lookup, Outcome, RecordFilter, Window};

/// A column a lookup's answer can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// Owner name, in presentation form.
    Rrname,
    /// Record type mnemonic.
    Rrtype,
    /// Rdata in presentation form (the items joined by a space).
    Rdata,
    /// First seen (sensor time, else zone time).
    First,
    /// Last seen (sensor time, else zone time).
    Last,
    /// Number of observations.
    Count,
    /// Smallest TTL seen.
    Ttl,
    /// Names of the sensors that saw the record.
    Sensors,
}

/// An order: a column, ascending or descending. Ties keep the store's order (the sort is stable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    /// The column.
    pub key: SortKey,
    /// Descending when true.
    pub desc: bool,
}

impl Sort {
    /// Parses `KEY` or `-KEY` (descending). Keys: rrname, rrtype, rdata, first (time_first),
    /// last (time_last), count, ttl, sensors.
    pub fn parse(s: &str) -> Result<Sort, String> {
        let s = s.trim();
        let (desc, name) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let key = match name.to_ascii_lowercase().as_str() {
            "rrname" | "name" => SortKey::Rrname,
            "rrtype" | "type" => SortKey::Rrtype,
            "rdata" | "data" => SortKey::Rdata,
            "first" | "time_first" => SortKey::First,
            "last" | "time_last" => SortKey::Last,
            "count" => SortKey::Count,
            "ttl" | "ttl_min" => SortKey::Ttl,
            "sensors" | "sensor" => SortKey::Sensors,
            _ => {
                return Err(format!(
                    "sort: expected rrname, rrtype, rdata, first, last, count, ttl or sensors (with - for \
                     descending), got {s:?}"
                ))
            }
        };
        Ok(Sort { key, desc })
    }

    /// Sorts `records` in place (stable).
    pub fn apply(&self, records: &mut [Record]) {
        match self.key {
            SortKey::Rrname => records.sort_by_cached_key(|r| r.rrname.to_presentation()),
            SortKey::Rrtype => records.sort_by_cached_key(|r| r.rrtype.to_string()),
            SortKey::Rdata => records.sort_by_cached_key(|r| r.rdata_strings().join(" ")),
            SortKey::First => records.sort_by_key(|r| r.agg.effective_times().map(|t| t.0)),
            SortKey::Last => records.sort_by_key(|r| r.agg.effective_times().map(|t| t.1)),
            SortKey::Count => records.sort_by_key(|r| r.agg.count),
            SortKey::Ttl => records.sort_by_key(|r| r.agg.ttl.map(|t| t.0)),
            SortKey::Sensors => records.sort_by_cached_key(|r| r.sensors.join(" ")),
        }
        if self.desc {
            // reverse, then restore the store order of ties so descending is stable too
            reverse_stable(records, |a, b| self.compare(a, b));
        }
    }

    /// The ascending order of two records by this sort's column.
    fn compare(&self, a: &Record, b: &Record) -> Ordering {
        match self.key {
            SortKey::Rrname => a.rrname.to_presentation().cmp(&b.rrname.to_presentation()),
            SortKey::Rrtype => a.rrtype.to_string().cmp(&b.rrtype.to_string()),
            SortKey::Rdata => a.rdata_strings().join(" ").cmp(&b.rdata_strings().join(" ")),
            SortKey::First => a.agg.effective_times().map(|t| t.0).cmp(&b.agg.effective_times().map(|t| t.0)),
            SortKey::Last => a.agg.effective_times().map(|t| t.1).cmp(&b.agg.effective_times().map(|t| t.1)),
            SortKey::Count => a.agg.count.cmp(&b.agg.count),
            SortKey::Ttl => a.agg.ttl.map(|t| t.0).cmp(&b.agg.ttl.map(|t| t.0)),
            SortKey::Sensors => a.sensors.join(" ").cmp(&b.sensors.join(" ")),
        }
    }
}

/// Turns an ascending stable order into a descending stable one: reverses the slice, then
/// reverses each run of equal elements back into their original relative order.
fn reverse_stable(records: &mut [Record], cmp: impl Fn(&Record, &Record) -> Ordering) {
    records.reverse();
    let mut start = 0;
    while start < records.len() {
        let mut end = start + 1;
        while end < records.len() && cmp(&records[start], &records[end]) == Ordering::Equal {
            end += 1;
        }
        records[start..end].reverse();
        start = end;
    }
}

/// Why a sorted lookup gave no answer.
#[derive(Debug)]
pub enum SortError {
    /// The filtered answer holds more records than the cap.
    TooMany {
        /// The cap that was passed.
        cap: u64,
    },
    /// The store failed.
    Store(StoreError),
}

impl std::fmt::Display for SortError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SortError::TooMany { cap } => write!(
                f,
                "sort: the answer holds more than {cap} records, too many to sort; narrow it (type, time \
                 window, sensor) or page it unsorted"
            ),
            SortError::Store(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for SortError {}

/// Runs `lookup` keeping what `filter` keeps, sorts the whole answer by `sort`, then calls
/// `emit` for the records inside `window`. Holds at most `cap` records; a larger answer is
/// refused with [`SortError::TooMany`] before anything is emitted. When reading the answer
/// passes `deadline`, nothing is emitted and the outcome says [`Outcome::timed_out`] (a sort
/// of part of the answer would mislead).
pub fn run_sorted(
    store: &dyn Store,
    lookup: &Lookup,
    window: Window,
    filter: &RecordFilter,
    (sort, cap): (Sort, u64),
    deadline: Option<std::time::Instant>,
    emit: &mut dyn FnMut(Record) -> ControlFlow<()>,
) -> Result<Outcome, SortError> {
    let mut all: Vec<Record> = Vec::new();
    let mut too_many = false;
    let whole = Window { offset: 0, limit: None };
    let scanned = run_until(store, lookup, whole, filter, deadline, &mut |r| {
        if all.len() as u64 >= cap {
            too_many = true;
            return ControlFlow::Break(());
        }
        all.push(r);
        ControlFlow::Continue(())
    })
    .map_err(SortError::Store)?;
    if too_many {
        return Err(SortError::TooMany { cap });
    }
    if scanned.timed_out {
        return Ok(Outcome { timed_out: true, scan: scanned.scan, ..Outcome::default() });
    }
    sort.apply(&mut all);
    let mut out = Outcome { scan: scanned.scan, ..Outcome::default() };
    let skip = usize::try_from(window.offset).unwrap_or(usize::MAX);
    for r in all.into_iter().skip(skip) {
        if window.limit.is_some_and(|l| out.returned >= l) {
            out.limited = true;
            break;
        }
        out.returned += 1;
        if emit(r).is_break() {
            out.stopped = true;
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Aggregate, Name, Rdata, RrType};

    fn rec(name: &str, count: u64, first: u64, last: u64) -> Record {
        let mut agg = Aggregate::default();
        agg.observe_sensor(first, last, count);
        Record {
            rrname: name.parse::<Name>().unwrap(),
            rrtype: RrType::A,
            bailiwick: None,
            rdata: vec![Rdata::ipv4(std::net::Ipv4Addr::new(192, 0, 2, 1))],
            agg,
            sensors: Vec::new(),
            negative: None,
        }
    }

    fn names(rs: &[Record]) -> Vec<String> {
        rs.iter().map(|r| r.rrname.to_presentation()).collect()
    }

    #[test]
    fn parses_keys_and_direction() {
        assert_eq!(Sort::parse("-count").unwrap(), Sort { key: SortKey::Count, desc: true });
        assert_eq!(Sort::parse("time_last").unwrap(), Sort { key: SortKey::Last, desc: false });
        assert_eq!(Sort::parse("+rrname").unwrap(), Sort { key: SortKey::Rrname, desc: false });
        assert!(Sort::parse("size").unwrap_err().contains("expected rrname"));
        assert!(Sort::parse("-").is_err());
    }

    #[test]
    fn descending_is_stable_and_ascending_too() {
        let mut rs = vec![rec("a.", 2, 10, 20), rec("b.", 1, 5, 30), rec("c.", 2, 1, 40), rec("d.", 3, 7, 7)];
        Sort { key: SortKey::Count, desc: false }.apply(&mut rs);
        assert_eq!(names(&rs), ["b.", "a.", "c.", "d."]);
        Sort { key: SortKey::Count, desc: true }.apply(&mut rs);
        assert_eq!(names(&rs), ["d.", "a.", "c.", "b."], "ties keep their order when descending");
        Sort { key: SortKey::First, desc: false }.apply(&mut rs);
        assert_eq!(names(&rs), ["c.", "b.", "d.", "a."]);
        Sort { key: SortKey::Last, desc: true }.apply(&mut rs);
        assert_eq!(names(&rs), ["c.", "b.", "a.", "d."]);
        Sort { key: SortKey::Rrname, desc: true }.apply(&mut rs);
        assert_eq!(names(&rs), ["d.", "c.", "b.", "a."]);
    }
}
