//! Historical resolutions of a name or `*.zone`: per rrtype, each RRset's activity as
//! intervals (one per run of days with sightings, so a record seen in January and again in
//! June has two), CNAME chains followed to their addresses, what the name resolved to at a time,
//! and what changed between two times.
//!
//! "At `T`" is day-granular, as the stored activity is: a record is active at `T` when it was
//! seen on `T`'s UTC day. The *state* of an rrtype at `T` (used for changes) is its records
//! active at `T`, or, when none is, those of the latest interval ending before `T` (the last
//! known answer). Feed records imported pre-aggregated mark only their first and last days, so
//! their intervals are those two days.

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::net::IpAddr;
use std::ops::ControlFlow;

use dnsledger_model::{Name, Record, RrType, TypeFilter};
use dnsledger_store::{NameMatch, NegativeFilter, RrsetQuery, Store};
use serde::Serialize;

use crate::{day_of, intervals, AnalyticsError, Budget, Enricher, Evidence, IpInfo, Limits, Window};

/// Longest CNAME chain followed by default.
pub const DEFAULT_CNAME_DEPTH: usize = 8;
/// Most names whose CNAME chains one history follows.
pub const MAX_CHAIN_STARTS: usize = 50;

/// What a history asks for.
#[derive(Debug, Clone)]
pub struct HistoryOptions {
    /// Types listed (default: all but DNSSEC).
    pub types: TypeFilter,
    /// Only records overlapping this window.
    pub window: Window,
    /// Answer "what did it resolve to at this time".
    pub at: Option<u64>,
    /// Answer "what changed between these times".
    pub changes: Option<(u64, u64)>,
    /// Longest CNAME chain followed (0: none).
    pub cname_depth: usize,
    /// Bounds.
    pub limits: Limits,
}

impl Default for HistoryOptions {
    fn default() -> Self {
        HistoryOptions {
            types: TypeFilter::Any,
            window: Window::default(),
            at: None,
            changes: None,
            cname_depth: DEFAULT_CNAME_DEPTH,
            limits: Limits::default(),
        }
    }
}

/// One period of activity of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Interval {
    /// Start (epoch seconds): first sighting, or the start of the run's first day.
    pub first: u64,
    /// End: last sighting, or the end of the run's last day.
    pub last: u64,
    /// Days in the run.
    pub days: u64,
}

/// The history of one RRset.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordHistory {
    /// Rdata of the RRset, presentation format.
    pub rdata: Vec<String>,
    /// Zone the data came from, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bailiwick: Option<String>,
    /// First seen (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// Observations.
    pub count: u64,
    /// Lowest TTL seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_min: Option<u32>,
    /// Highest TTL seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl_max: Option<u32>,
    /// Sensors that saw it.
    pub sensors: Vec<String>,
    /// Periods of activity, oldest first.
    pub intervals: Vec<Interval>,
}

/// The records of one type of one name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeHistory {
    /// Owner name.
    pub name: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Its RRsets, by first seen.
    pub records: Vec<RecordHistory>,
}

/// A record active in one interval, as the answer for a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sighting {
    /// The record.
    pub record: Evidence,
    /// The interval of its activity that answers.
    pub interval: Interval,
}

/// What one type of one name resolved to at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtType {
    /// Owner name.
    pub name: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Records seen on that day.
    pub active: Vec<Sighting>,
    /// When none was: the interval that ended last before.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub before: Option<Sighting>,
    /// When none was: the interval that started first after.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after: Option<Sighting>,
}

/// How the rdata of one type of one name changed between two times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TypeChanges {
    /// Owner name.
    pub name: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Rdata in the later state only.
    pub added: Vec<String>,
    /// Rdata in the earlier state only.
    pub removed: Vec<String>,
    /// Rdata in both.
    pub kept: Vec<String>,
    /// The records forming the earlier state.
    pub from_state: Vec<Sighting>,
    /// The records forming the later state.
    pub to_state: Vec<Sighting>,
}

/// One CNAME link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainLink {
    /// Depth of `from` (0 = the starting name).
    pub depth: usize,
    /// The alias.
    pub from: String,
    /// Its target.
    pub to: String,
    /// The CNAME record.
    pub evidence: Evidence,
}

/// The CNAME chains from one name, followed to the addresses at their ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CnameResolution {
    /// The starting name.
    pub name: String,
    /// Every link followed, breadth first.
    pub links: Vec<ChainLink>,
    /// A/AAAA records of the names the chains reach.
    pub addresses: Vec<Evidence>,
    /// Names met again along a chain (loops), not followed twice.
    pub loops: Vec<String>,
    /// True if some chain was longer than the depth allowed.
    pub depth_limited: bool,
}

/// A name's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct History {
    /// The name or wildcard asked for.
    pub query: String,
    /// The window applied.
    pub window: Window,
    /// Per name and type, the RRsets and their intervals.
    pub types: Vec<TypeHistory>,
    /// The answer for `at`, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<AtAnswer>,
    /// The changes between two times, when asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub changes: Option<ChangesAnswer>,
    /// CNAME chains followed from the names that have CNAMEs.
    pub cnames: Vec<CnameResolution>,
    /// ASN and country of the A/AAAA addresses in the answer, when enrichment databases know
    /// them (filled by [`History::enrich`]).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub address_info: BTreeMap<String, IpInfo>,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

/// What the name resolved to at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AtAnswer {
    /// The time asked for.
    pub time: u64,
    /// Per name and type.
    pub types: Vec<AtType>,
}

/// What changed between two times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangesAnswer {
    /// The earlier time.
    pub from: u64,
    /// The later time.
    pub to: u64,
    /// Per name and type (types without any change are listed too, with only `kept`).
    pub types: Vec<TypeChanges>,
}

/// Builds the history of `name` (`name`, `*.zone` or `prefix.*`).
pub fn history(store: &dyn Store, name: &str, opts: &HistoryOptions) -> Result<History, AnalyticsError> {
    opts.window.validate()?;
    if let Some((a, b)) = opts.changes {
        if a > b {
            return Err(AnalyticsError::Input(format!("changes: from ({a}) is after to ({b})")));
        }
    }
    let m = NameMatch::parse(name).map_err(|e| AnalyticsError::Input(format!("name {name:?}: {e}")))?;
    let mut budget = Budget::new(&opts.limits);
    let mut notes = Vec::new();
    let q = RrsetQuery {
        name: m.clone(),
        types: opts.types,
        bailiwick: None,
        fence: opts.window.fence(),
        negative: NegativeFilter::Exclude,
    };
    let mut groups: BTreeMap<(Name, u16), Vec<Record>> = BTreeMap::new();
    let mut dropped = 0u64;
    budget.rrset(store, &q, |r| {
        let g = groups.entry((r.rrname.clone(), r.rrtype.0)).or_default();
        if g.len() >= opts.limits.max_results {
            dropped += 1;
        } else {
            g.push(r);
        }
        ControlFlow::Continue(())
    })?;
    if dropped > 0 {
        notes.push(format!("{dropped} RRsets beyond {} per name and type left out", opts.limits.max_results));
    }
    for g in groups.values_mut() {
        g.sort_by_key(|r| r.agg.effective_times().map(|t| t.0));
    }

    let types: Vec<TypeHistory> = groups
        .iter()
        .map(|((n, t), recs)| TypeHistory {
            name: n.to_string(),
            rrtype: RrType(*t).to_string(),
            records: recs.iter().map(record_history).collect(),
        })
        .collect();

    let at = opts.at.map(|t| AtAnswer {
        time: t,
        types: groups
            .iter()
            .map(|((n, ty), recs)| {
                let active = active_at(recs, t);
                let (before, after) = if active.is_empty() { neighbours(recs, t) } else { (None, None) };
                AtType { name: n.to_string(), rrtype: RrType(*ty).to_string(), active, before, after }
            })
            .collect(),
    });

    let changes = opts.changes.map(|(from, to)| ChangesAnswer {
        from,
        to,
        types: groups
            .iter()
            .map(|((n, ty), recs)| {
                let (s1, s2) = (state_at(recs, from), state_at(recs, to));
                let set = |s: &[Sighting]| -> BTreeSet<String> {
                    s.iter().flat_map(|x| x.record.rdata.iter().cloned()).collect()
                };
                let (a, b) = (set(&s1), set(&s2));
                TypeChanges {
                    name: n.to_string(),
                    rrtype: RrType(*ty).to_string(),
                    added: b.difference(&a).cloned().collect(),
                    removed: a.difference(&b).cloned().collect(),
                    kept: a.intersection(&b).cloned().collect(),
                    from_state: s1,
                    to_state: s2,
                }
            })
            .collect(),
    });

    let mut cnames = Vec::new();
    if opts.cname_depth > 0 {
        let starts: Vec<&Name> = groups
            .keys()
            .filter(|(_, t)| *t == RrType::CNAME.0)
            .map(|(n, _)| n)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if starts.len() > MAX_CHAIN_STARTS {
            notes.push(format!("CNAME chains followed from the first {MAX_CHAIN_STARTS} of {} aliases", starts.len()));
        }
        for start in starts.into_iter().take(MAX_CHAIN_STARTS) {
            cnames.push(follow_cnames(store, start, opts, &mut budget)?);
        }
    }
    if budget.exhausted {
        notes.push(format!(
            "stopped after reading {} records (max_scanned); the history may be incomplete",
            opts.limits.max_scanned
        ));
    }
    Ok(History {
        query: m.to_string(),
        window: opts.window,
        types,
        at,
        changes,
        cnames,
        address_info: BTreeMap::new(),
        scanned: budget.scanned,
        limited: !notes.is_empty(),
        notes,
    })
}

impl History {
    /// Looks up the ASN and country of every A/AAAA address of the answer (its records and
    /// the ends of its CNAME chains) into `address_info`.
    pub fn enrich(&mut self, enricher: &Enricher) {
        if enricher.is_empty() {
            return;
        }
        let own = self
            .types
            .iter()
            .filter(|t| t.rrtype == "A" || t.rrtype == "AAAA")
            .flat_map(|t| t.records.iter().flat_map(|r| r.rdata.iter()));
        let chained = self.cnames.iter().flat_map(|c| c.addresses.iter().flat_map(|e| e.rdata.iter()));
        let ips: BTreeSet<IpAddr> = own.chain(chained).filter_map(|d| d.parse().ok()).collect();
        for ip in ips {
            let info = enricher.lookup(ip);
            if !info.is_empty() {
                self.address_info.insert(ip.to_string(), info);
            }
        }
    }
}

fn record_history(r: &Record) -> RecordHistory {
    let times = r.agg.effective_times();
    RecordHistory {
        rdata: r.rdata_strings(),
        bailiwick: r.bailiwick.as_ref().map(Name::to_string),
        time_first: times.map(|t| t.0),
        time_last: times.map(|t| t.1),
        count: r.agg.count,
        ttl_min: r.agg.ttl.map(|t| t.0),
        ttl_max: r.agg.ttl.map(|t| t.1),
        sensors: r.sensors.clone(),
        intervals: intervals(&r.agg).into_iter().map(|(first, last, days)| Interval { first, last, days }).collect(),
    }
}

fn sightings(recs: &[Record]) -> impl Iterator<Item = Sighting> + '_ {
    recs.iter().flat_map(|r| {
        let ev = Evidence::from_record(r);
        intervals(&r.agg)
            .into_iter()
            .map(move |(first, last, days)| Sighting { record: ev.clone(), interval: Interval { first, last, days } })
    })
}

fn covers(i: &Interval, t: u64) -> bool {
    let d = day_of(t);
    day_of(i.first) <= d && d <= day_of(i.last)
}

fn active_at(recs: &[Record], t: u64) -> Vec<Sighting> {
    sightings(recs).filter(|s| covers(&s.interval, t)).collect()
}

fn neighbours(recs: &[Record], t: u64) -> (Option<Sighting>, Option<Sighting>) {
    let before = sightings(recs).filter(|s| s.interval.last < t).max_by_key(|s| s.interval.last);
    let after = sightings(recs).filter(|s| s.interval.first > t).min_by_key(|s| s.interval.first);
    (before, after)
}

/// The records active at `t`, else those of the latest interval ending before it.
fn state_at(recs: &[Record], t: u64) -> Vec<Sighting> {
    let active = active_at(recs, t);
    if !active.is_empty() {
        return active;
    }
    let last_end = sightings(recs).filter(|s| s.interval.last < t).map(|s| day_of(s.interval.last)).max();
    match last_end {
        Some(d) => sightings(recs).filter(|s| s.interval.last < t && day_of(s.interval.last) == d).collect(),
        None => Vec::new(),
    }
}

/// Follows CNAMEs from `start` breadth first, to `opts.cname_depth` links, detecting loops.
fn follow_cnames(
    store: &dyn Store,
    start: &Name,
    opts: &HistoryOptions,
    budget: &mut Budget,
) -> Result<CnameResolution, AnalyticsError> {
    let mut res = CnameResolution {
        name: start.to_string(),
        links: Vec::new(),
        addresses: Vec::new(),
        loops: Vec::new(),
        depth_limited: false,
    };
    let mut seen: HashSet<Name> = HashSet::from([start.clone()]);
    let mut queue: VecDeque<(Name, usize)> = VecDeque::from([(start.clone(), 0)]);
    let keep = |r: &Record| {
        opts.at.is_none_or(|t| {
            intervals(&r.agg).iter().any(|&(f, l, d)| covers(&Interval { first: f, last: l, days: d }, t))
        })
    };
    while let Some((name, depth)) = queue.pop_front() {
        let q = RrsetQuery {
            name: NameMatch::Exact(name.clone()),
            types: TypeFilter::Any,
            bailiwick: None,
            fence: opts.window.fence(),
            negative: NegativeFilter::Exclude,
        };
        let mut recs = Vec::new();
        budget.rrset(store, &q, |r| {
            if (r.rrtype == RrType::CNAME || (depth > 0 && (r.rrtype == RrType::A || r.rrtype == RrType::AAAA)))
                && keep(&r)
            {
                recs.push(r);
            }
            ControlFlow::Continue(())
        })?;
        for r in recs {
            if r.rrtype != RrType::CNAME {
                if res.addresses.len() < opts.limits.max_results {
                    res.addresses.push(Evidence::from_record(&r));
                }
                continue;
            }
            let ev = Evidence::from_record(&r);
            for target in r.rdata.iter().filter_map(|d| d.indexed_name(RrType::CNAME)) {
                if res.links.len() >= opts.limits.max_results {
                    break;
                }
                res.links.push(ChainLink {
                    depth,
                    from: name.to_string(),
                    to: target.to_string(),
                    evidence: ev.clone(),
                });
                if !seen.insert(target.clone()) {
                    if !res.loops.contains(&target.to_string()) {
                        res.loops.push(target.to_string());
                    }
                } else if depth + 1 >= opts.cname_depth {
                    res.depth_limited = true;
                } else {
                    queue.push_back((target, depth + 1));
                }
            }
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{put, store, D, JAN1};

    #[test]
    fn intervals_at_and_changes() {
        let (_d, s) = store();
        let s = &*s;
        // seen in January, again in June
        put(s, "www.example.com", "A", &["192.0.2.1"], JAN1 + 10, JAN1 + 10, "s1");
        put(s, "www.example.com", "A", &["192.0.2.1"], JAN1 + D, JAN1 + D, "s1");
        put(s, "www.example.com", "A", &["192.0.2.1"], JAN1 + 160 * D, JAN1 + 160 * D + 5, "s2");
        // from February to April another address
        for d in [40, 41, 100] {
            put(s, "www.example.com", "A", &["198.51.100.7"], JAN1 + d * D, JAN1 + d * D, "s1");
        }
        put(s, "www.example.com", "MX", &["10 mx.example.com."], JAN1, JAN1, "s1");
        put(s, "other.example.com", "A", &["192.0.2.9"], JAN1, JAN1, "s1");

        let h = history(s, "www.example.com", &HistoryOptions::default()).unwrap();
        assert!(!h.limited);
        let a = h.types.iter().find(|t| t.rrtype == "A").unwrap();
        assert_eq!(a.records.len(), 2);
        let first = &a.records[0];
        assert_eq!(first.rdata, vec!["192.0.2.1"]);
        assert_eq!(first.intervals.len(), 2, "{:?}", first.intervals);
        assert_eq!(first.intervals[0], Interval { first: JAN1 + 10, last: JAN1 + 2 * D - 1, days: 2 });
        assert_eq!(first.intervals[1].first, JAN1 + 160 * D);
        assert_eq!(first.count, 3);
        assert_eq!(first.sensors, vec!["s1", "s2"]);
        assert_eq!(first.ttl_min, Some(300));
        assert_eq!(a.records[1].intervals.len(), 2); // days 40-41 and 100
        assert!(h.types.iter().any(|t| t.rrtype == "MX"));
        assert!(h.types.iter().all(|t| t.name == "www.example.com."));

        // at a time inside the February run: the 198.51.100.7 record; on a quiet day: neighbours
        let opts = |at, changes| HistoryOptions { at, changes, ..Default::default() };
        let h = history(s, "www.example.com", &opts(Some(JAN1 + 40 * D + 3600), None)).unwrap();
        let at = h.at.unwrap();
        let a = at.types.iter().find(|t| t.rrtype == "A").unwrap();
        assert_eq!(a.active.len(), 1);
        assert_eq!(a.active[0].record.rdata, vec!["198.51.100.7"]);
        let h = history(s, "www.example.com", &opts(Some(JAN1 + 120 * D), None)).unwrap();
        let a = h.at.unwrap().types.into_iter().find(|t| t.rrtype == "A").unwrap();
        assert!(a.active.is_empty());
        assert_eq!(a.before.unwrap().record.rdata, vec!["198.51.100.7"]);
        assert_eq!(a.after.unwrap().interval.first, JAN1 + 160 * D);

        // changes: January (192.0.2.1) -> Feb 10 (198.51.100.7) -> June (192.0.2.1 again)
        let h = history(s, "www.example.com", &opts(None, Some((JAN1 + 3600, JAN1 + 40 * D)))).unwrap();
        let c = h.changes.unwrap();
        let a = c.types.iter().find(|t| t.rrtype == "A").unwrap();
        assert_eq!(a.added, vec!["198.51.100.7"]);
        assert_eq!(a.removed, vec!["192.0.2.1"]);
        assert!(a.kept.is_empty());
        // a quiet day takes the last known state
        let h = history(s, "www.example.com", &opts(None, Some((JAN1 + 120 * D, JAN1 + 161 * D)))).unwrap();
        let a = h.changes.unwrap().types.into_iter().find(|t| t.rrtype == "A").unwrap();
        assert_eq!((a.added, a.removed), (vec!["192.0.2.1".to_string()], vec!["198.51.100.7".to_string()]));
        assert!(history(s, "www.example.com", &opts(None, Some((5, 4)))).is_err());

        // wildcard
        let h = history(s, "*.example.com", &HistoryOptions::default()).unwrap();
        assert!(h.types.iter().any(|t| t.name == "other.example.com."));
        // window excludes June
        let w = HistoryOptions { window: Window { from: Some(JAN1 + 150 * D), to: None }, ..Default::default() };
        let h = history(s, "other.example.com", &w).unwrap();
        assert!(h.types.is_empty());
    }

    #[test]
    fn cname_chains_loops_and_depth() {
        let (_d, s) = store();
        let s = &*s;
        put(s, "www.shop.test", "CNAME", &["edge.cdn.test."], JAN1, JAN1, "s");
        put(s, "edge.cdn.test", "CNAME", &["pop1.cdn.test."], JAN1, JAN1, "s");
        put(s, "pop1.cdn.test", "A", &["192.0.2.50"], JAN1, JAN1 + D, "s");
        put(s, "pop1.cdn.test", "AAAA", &["2001:db8::50"], JAN1, JAN1, "s");
        put(s, "loop1.shop.test", "CNAME", &["loop2.shop.test."], JAN1, JAN1, "s");
        put(s, "loop2.shop.test", "CNAME", &["loop1.shop.test."], JAN1, JAN1, "s");

        let h = history(s, "www.shop.test", &HistoryOptions::default()).unwrap();
        let c = &h.cnames[0];
        assert_eq!(c.links.len(), 2);
        assert_eq!((c.links[1].from.as_str(), c.links[1].to.as_str()), ("edge.cdn.test.", "pop1.cdn.test."));
        let addrs: Vec<&str> = c.addresses.iter().map(|e| e.rdata[0].as_str()).collect();
        assert_eq!(addrs, vec!["192.0.2.50", "2001:db8::50"]);
        assert!(c.loops.is_empty() && !c.depth_limited);

        let h = history(s, "loop1.shop.test", &HistoryOptions::default()).unwrap();
        assert_eq!(h.cnames[0].loops, vec!["loop1.shop.test."]);

        let short = HistoryOptions { cname_depth: 1, ..Default::default() };
        let h = history(s, "www.shop.test", &short).unwrap();
        assert!(h.cnames[0].depth_limited);
        assert!(h.cnames[0].addresses.is_empty());

        // at a time when the CNAME was not active, nothing is followed
        let later = HistoryOptions { at: Some(JAN1 + 30 * D), ..Default::default() };
        assert!(history(s, "www.shop.test", &later).unwrap().cnames[0].links.is_empty());

        // the scan budget is reported
        let tight = HistoryOptions { limits: Limits { max_scanned: 1, max_results: 10 }, ..Default::default() };
        let h = history(s, "www.shop.test", &tight).unwrap();
        assert!(h.limited && h.notes.iter().any(|n| n.contains("max_scanned")), "{:?}", h.notes);
    }
}
