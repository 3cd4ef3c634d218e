//! Temporal patterns over the per-day activity the store keeps for every record
//! (`DayHistory`: the days a record was seen on, as runs):
//!
//! - [`timeline`]: the activity of a name (or `*.zone`) per record and per name, bucketed by
//!   day, week or month, as a records × buckets matrix a console can draw as a heatmap.
//! - [`fastflux`]: a fast-flux score for a name, a zone or the names on an address, from the
//!   published features (distinct addresses, networks and ASNs, TTLs, churn, names sharing
//!   the addresses), each factor shown with its weight.
//! - [`dormancy`]: silences longer than a threshold followed by renewed activity, and bursts of
//!   new names under a registered domain; [`scan_revived`]: the registered domains of the whole
//!   store that came back from dormancy within a window (one pass, like `newly`).
//!
//! What a day means: a record is active on a day when it was seen that day. Records imported
//! pre-aggregated (feeds, `first/last/count` lines) mark only their first and last days, so the
//! days in between are unknown, not silent: a timeline shows them as inactive and a dormancy
//! between them may only mean that the data came from such a feed (docs/analytics.md).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::ops::ControlFlow;

use dnsledger_model::time::DAY;
use dnsledger_model::{Aggregate, Name, Record, RrType, TimeFence, TypeFilter};
use dnsledger_store::{IpRange, NameMatch, NegativeFilter, RdataQuery, RdataTarget, RrsetQuery, Store};
use serde::Serialize;

use crate::newly::Level;
use crate::{day_of, registered_domain, AnalyticsError, Budget, Enricher, Evidence, Infra, IpInfo, Limits, Window};

/// Default silence, in days, after which renewed activity is a revival.
pub const DEFAULT_GAP_DAYS: u32 = 90;
/// Most buckets in a timeline; a finer bucket size giving more is coarsened.
pub const MAX_BUCKETS: usize = 1000;
/// Evidence records kept per gap, burst or revived domain.
pub const EVIDENCE_PER_ITEM: usize = 5;
/// Default multiple of a domain's baseline of new names per day that makes a day a burst.
pub const DEFAULT_BURST_FACTOR: f64 = 10.0;
/// Default least new names on a day for it to be a burst.
pub const DEFAULT_BURST_MIN: u64 = 5;
/// Most addresses whose other names a fast-flux score looks up.
pub const MAX_SHARING_PROBES: usize = 100;
/// Default most names counted per address when looking for names sharing it.
pub const DEFAULT_FLUX_FANOUT: usize = 200;

/// Parses a silence threshold: a number of days (`90`) or a duration (`90d`, `12w`), at least
/// one day.
pub fn parse_gap(s: &str) -> Result<u32, AnalyticsError> {
    let s = s.trim();
    let days = match s.parse::<u64>() {
        Ok(d) => Some(d),
        Err(_) => dnsledger_model::time::parse_duration(s).map(|secs| secs / DAY),
    };
    match days.and_then(|d| u32::try_from(d).ok()) {
        Some(d) if d >= 1 => Ok(d),
        _ => Err(AnalyticsError::Input(format!(
            "gap: expected days (90) or a duration of at least a day (90d), got {s:?}"
        ))),
    }
}

// ---------------------------------------------------------------------------------------
// day arithmetic

/// The days of a record's activity: its day runs, or its first and last days when it has none.
fn record_runs(agg: &Aggregate) -> Vec<(u32, u32)> {
    let runs = agg.days.runs();
    if !runs.is_empty() {
        return runs.to_vec();
    }
    match agg.effective_times() {
        Some((f, l)) => merge_runs(vec![(day_of(f), day_of(f)), (day_of(l), day_of(l))]),
        None => Vec::new(),
    }
}

/// Sorts and joins overlapping or adjacent runs.
fn merge_runs(mut runs: Vec<(u32, u32)>) -> Vec<(u32, u32)> {
    runs.sort_unstable();
    let mut out: Vec<(u32, u32)> = Vec::with_capacity(runs.len());
    for (a, b) in runs {
        match out.last_mut() {
            Some(l) if a <= l.1.saturating_add(1) => l.1 = l.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

/// The runs cut to the days `lo..=hi`.
fn clamp_runs(runs: &[(u32, u32)], lo: u32, hi: u32) -> Vec<(u32, u32)> {
    runs.iter().filter(|&&(a, b)| b >= lo && a <= hi).map(|&(a, b)| (a.max(lo), b.min(hi))).collect()
}

fn day_count(runs: &[(u32, u32)]) -> u64 {
    runs.iter().map(|&(a, b)| (b - a) as u64 + 1).sum()
}

fn day_start(d: u32) -> u64 {
    d as u64 * DAY
}

fn day_end(d: u32) -> u64 {
    d as u64 * DAY + DAY - 1
}

fn epoch_date() -> jiff::civil::Date {
    jiff::civil::Date::constant(1970, 1, 1)
}

/// The civil date of a day number.
fn date_of(d: u32) -> Option<jiff::civil::Date> {
    epoch_date().checked_add(jiff::Span::new().try_days(d as i64).ok()?).ok()
}

/// The day number of a civil date.
fn day_number(date: jiff::civil::Date) -> Option<u32> {
    let days = epoch_date().until(date).ok()?.get_days();
    u32::try_from(days).ok()
}

// ---------------------------------------------------------------------------------------
// timeline

/// How long a timeline bucket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BucketSize {
    /// One UTC day.
    Day,
    /// One ISO week (Monday to Sunday, UTC).
    Week,
    /// One calendar month (UTC).
    Month,
}

impl BucketSize {
    /// Parses `day`, `week` or `month`.
    pub fn parse(s: &str) -> Option<BucketSize> {
        match s {
            "day" | "d" => Some(BucketSize::Day),
            "week" | "w" => Some(BucketSize::Week),
            "month" | "m" => Some(BucketSize::Month),
            _ => None,
        }
    }

    /// The size a span of days gets when none is asked for: days up to three months, weeks
    /// up to two years, months beyond.
    pub fn auto(span_days: u64) -> BucketSize {
        match span_days {
            0..=92 => BucketSize::Day,
            93..=731 => BucketSize::Week,
            _ => BucketSize::Month,
        }
    }

    fn coarser(self) -> Option<BucketSize> {
        match self {
            BucketSize::Day => Some(BucketSize::Week),
            BucketSize::Week => Some(BucketSize::Month),
            BucketSize::Month => None,
        }
    }

    /// The first day of the bucket holding day `d`.
    fn start_of(self, d: u32) -> u32 {
        match self {
            BucketSize::Day => d,
            // day 0 (1970-01-01) was a Thursday: Monday-based weeks start 3 days before
            BucketSize::Week => d.saturating_sub((d + 3) % 7),
            BucketSize::Month => date_of(d).and_then(|x| day_number(x.first_of_month())).unwrap_or(d),
        }
    }

    /// The first day of the bucket after the one starting on `start`.
    fn next(self, start: u32) -> u32 {
        match self {
            BucketSize::Day => start.saturating_add(1),
            BucketSize::Week => start.saturating_add(7),
            BucketSize::Month => date_of(start)
                .and_then(|x| x.checked_add(jiff::Span::new().months(1)).ok())
                .and_then(day_number)
                .unwrap_or(start.saturating_add(31)),
        }
    }

    /// The buckets (first day, last day) covering `lo..=hi`.
    fn buckets(self, lo: u32, hi: u32, max: usize) -> Option<Vec<(u32, u32)>> {
        let mut out = Vec::new();
        let mut s = self.start_of(lo);
        while s <= hi {
            if out.len() >= max {
                return None;
            }
            let n = self.next(s);
            out.push((s, n.saturating_sub(1)));
            if n <= s {
                break;
            }
            s = n;
        }
        Some(out)
    }

    fn label(self, start: u32) -> String {
        let Some(d) = date_of(start) else { return start.to_string() };
        match self {
            BucketSize::Day => d.strftime("%Y-%m-%d").to_string(),
            BucketSize::Week => {
                let w = d.iso_week_date();
                format!("{}-W{:02}", w.year(), w.week())
            }
            BucketSize::Month => d.strftime("%Y-%m").to_string(),
        }
    }
}

/// Active days per bucket of some runs (buckets sorted, disjoint).
fn cells(runs: &[(u32, u32)], buckets: &[(u32, u32)]) -> Vec<u32> {
    let mut out = vec![0u32; buckets.len()];
    for &(a, b) in runs {
        let mut i = buckets.partition_point(|&(_, end)| end < a);
        while i < buckets.len() && buckets[i].0 <= b {
            let (s, e) = buckets[i];
            out[i] += b.min(e) - a.max(s) + 1;
            i += 1;
        }
    }
    out
}

/// What a timeline asks for.
#[derive(Debug, Clone, Default)]
pub struct TimelineOptions {
    /// Types included (default: all but DNSSEC).
    pub types: TypeFilter,
    /// Only activity inside this window (records overlapping it, days cut to it).
    pub window: Window,
    /// Bucket size; `None` picks one from the span ([`BucketSize::auto`]).
    pub bucket: Option<BucketSize>,
    /// Bounds.
    pub limits: Limits,
}

/// One bucket of a timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Bucket {
    /// `2024-01-05`, `2024-W01` or `2024-01`.
    pub label: String,
    /// Start (epoch seconds, inclusive).
    pub start: u64,
    /// End (epoch seconds, inclusive).
    pub end: u64,
    /// Records active on at least one day of the bucket.
    pub active_records: u64,
    /// Names with at least one record active in the bucket.
    pub active_names: u64,
}

/// One record's row of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineRow {
    /// Owner name.
    pub name: String,
    /// Its registered domain.
    pub domain: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Rdata, presentation format.
    pub rdata: Vec<String>,
    /// First seen (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// Observations over the record's whole life (not per bucket: the store keeps one count).
    pub count: u64,
    /// Days the record was active (inside the window).
    pub active_days: u64,
    /// Active days in each bucket (the heatmap row).
    pub cells: Vec<u32>,
    /// The bucket holding all of the record's active days, when one does: its whole `count`
    /// belongs to that bucket. `None` when its activity spans buckets (the count cannot be
    /// split without guessing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub count_bucket: Option<usize>,
}

/// One name's row: the days any of its records was active.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameRow {
    /// Owner name.
    pub name: String,
    /// Its registered domain.
    pub domain: String,
    /// Its records in the timeline.
    pub records: u64,
    /// Active days in each bucket.
    pub cells: Vec<u32>,
}

/// The activity of a name or zone over time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    /// The name or wildcard asked for.
    pub query: String,
    /// The window applied.
    pub window: Window,
    /// Bucket size used.
    pub bucket: BucketSize,
    /// What a cell counts.
    pub meaning: &'static str,
    /// The buckets, oldest first (the matrix columns).
    pub buckets: Vec<Bucket>,
    /// Per record, by first seen (the matrix rows).
    pub rows: Vec<TimelineRow>,
    /// Per owner name.
    pub names: Vec<NameRow>,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

const CELL_MEANING: &str = "a cell is the number of days in the bucket on which the record (or any record of the \
    name) was seen; the store keeps one observation count per record, so counts are per record (count_bucket \
    says when all of a record's days fall in one bucket); feed records mark only their first and last days";

/// Reads the records of `m` overlapping `window`, at most `limits.max_results` of them.
fn read_records(
    store: &dyn Store,
    m: &NameMatch,
    types: TypeFilter,
    window: Window,
    limits: &Limits,
    budget: &mut Budget,
    notes: &mut Vec<String>,
) -> Result<Vec<Record>, AnalyticsError> {
    let q = RrsetQuery {
        name: m.clone(),
        types,
        bailiwick: None,
        fence: window.fence(),
        negative: NegativeFilter::Exclude,
    };
    let mut out = Vec::new();
    let mut more = 0u64;
    budget.rrset(store, &q, |r| {
        if out.len() < limits.max_results {
            out.push(r);
        } else {
            more += 1;
        }
        ControlFlow::Continue(())
    })?;
    if more > 0 {
        notes.push(format!("{more} records beyond the first {} left out", limits.max_results));
    }
    Ok(out)
}

fn budget_note(budget: &Budget, limits: &Limits, notes: &mut Vec<String>) {
    if budget.exhausted {
        notes.push(format!(
            "stopped after reading {} records (max_scanned); the answer may be incomplete",
            limits.max_scanned
        ));
    }
}

/// The activity timeline of `name` (`name`, `*.zone` or `prefix.*`).
pub fn timeline(store: &dyn Store, name: &str, opts: &TimelineOptions) -> Result<Timeline, AnalyticsError> {
    opts.window.validate()?;
    let m = NameMatch::parse(name).map_err(|e| AnalyticsError::Input(format!("name {name:?}: {e}")))?;
    let mut budget = Budget::new(&opts.limits);
    let mut notes = Vec::new();
    let mut recs = read_records(store, &m, opts.types, opts.window, &opts.limits, &mut budget, &mut notes)?;
    budget_note(&budget, &opts.limits, &mut notes);
    recs.sort_by(|a, b| a.agg.effective_times().cmp(&b.agg.effective_times()).then_with(|| a.rrname.cmp(&b.rrname)));
    let (wlo, whi) = (opts.window.from.map_or(0, day_of), opts.window.to.map_or(u32::MAX, day_of));
    let runs: Vec<Vec<(u32, u32)>> = recs.iter().map(|r| clamp_runs(&record_runs(&r.agg), wlo, whi)).collect();
    let lo = runs.iter().filter_map(|r| r.first().map(|x| x.0)).min();
    let hi = runs.iter().filter_map(|r| r.last().map(|x| x.1)).max();
    let mut size = opts.bucket.unwrap_or(BucketSize::Day);
    let mut spans = Vec::new();
    if let (Some(lo), Some(hi)) = (lo, hi) {
        if opts.bucket.is_none() {
            size = BucketSize::auto((hi - lo) as u64 + 1);
        }
        loop {
            if let Some(b) = size.buckets(lo, hi, MAX_BUCKETS) {
                spans = b;
                break;
            }
            match size.coarser() {
                Some(c) => {
                    notes.push(format!("more than {MAX_BUCKETS} {size:?} buckets: coarsened to {c:?}").to_lowercase());
                    size = c;
                }
                None => {
                    // more than MAX_BUCKETS months: keep the most recent ones
                    let start = size.buckets(lo, hi, usize::MAX).unwrap_or_default();
                    let cut = start.len().saturating_sub(MAX_BUCKETS);
                    notes.push(format!("{} months of activity: only the last {MAX_BUCKETS} shown", start.len()));
                    spans = start[cut..].to_vec();
                    break;
                }
            }
        }
    }
    let mut rows = Vec::with_capacity(recs.len());
    let mut per_name: BTreeMap<Name, (u64, Vec<(u32, u32)>)> = BTreeMap::new();
    for (r, rr) in recs.iter().zip(&runs) {
        let c = cells(rr, &spans);
        let nonzero: Vec<usize> = c.iter().enumerate().filter(|(_, v)| **v > 0).map(|(i, _)| i).collect();
        let times = r.agg.effective_times();
        let name = r.rrname.to_string();
        rows.push(TimelineRow {
            domain: registered_domain(&name),
            name,
            rrtype: r.rrtype.to_string(),
            rdata: r.rdata_strings(),
            time_first: times.map(|t| t.0),
            time_last: times.map(|t| t.1),
            count: r.agg.count,
            active_days: day_count(rr),
            count_bucket: if nonzero.len() == 1 && day_count(rr) == day_count(&record_runs(&r.agg)) {
                Some(nonzero[0])
            } else {
                None
            },
            cells: c,
        });
        let e = per_name.entry(r.rrname.clone()).or_default();
        e.0 += 1;
        e.1.extend_from_slice(rr);
    }
    let names: Vec<NameRow> = per_name
        .into_iter()
        .map(|(n, (records, rr))| {
            let name = n.to_string();
            NameRow { domain: registered_domain(&name), name, records, cells: cells(&merge_runs(rr), &spans) }
        })
        .collect();
    let buckets = spans
        .iter()
        .enumerate()
        .map(|(i, &(s, e))| Bucket {
            label: size.label(s),
            start: day_start(s),
            end: day_end(e),
            active_records: rows.iter().filter(|r| r.cells[i] > 0).count() as u64,
            active_names: names.iter().filter(|n| n.cells[i] > 0).count() as u64,
        })
        .collect();
    Ok(Timeline {
        query: m.to_string(),
        window: opts.window,
        bucket: size,
        meaning: CELL_MEANING,
        buckets,
        rows,
        names,
        scanned: budget.scanned,
        limited: !notes.is_empty(),
        notes,
    })
}

// ---------------------------------------------------------------------------------------
// fast flux

/// What a fast-flux score asks for.
#[derive(Debug, Clone)]
pub struct FluxOptions {
    /// Only records overlapping this window.
    pub window: Window,
    /// Most names counted per address when looking for the names sharing it.
    pub fanout: usize,
    /// Bounds.
    pub limits: Limits,
}

impl Default for FluxOptions {
    fn default() -> Self {
        FluxOptions { window: Window::default(), fanout: DEFAULT_FLUX_FANOUT, limits: Limits::default() }
    }
}

/// One factor of the score.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Factor {
    /// Factor name.
    pub factor: &'static str,
    /// The measured feature (`None`: unknown, e.g. no ASN database).
    pub value: Option<f64>,
    /// The feature mapped to [0, 1] (`None` when unknown; the factor is then left out and the
    /// other weights renormalised).
    pub score: Option<f64>,
    /// Its weight in the score.
    pub weight: f64,
    /// How the value maps to the score, and the published feature it follows.
    pub basis: &'static str,
}

/// The measured features.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FluxFeatures {
    /// Names with A/AAAA records in the set.
    pub names: u64,
    /// Distinct addresses.
    pub addresses: u64,
    /// Of which IPv4.
    pub ipv4: u64,
    /// Of which IPv6.
    pub ipv6: u64,
    /// Distinct /24 (IPv4) and /48 (IPv6) networks.
    pub prefixes: u64,
    /// Distinct ASNs (`None`: no ASN database).
    pub asns: Option<u64>,
    /// Addresses without a known ASN.
    pub asn_unknown: u64,
    /// Distinct countries of the addresses (when known).
    pub countries: u64,
    /// Lowest TTL of the address records.
    pub ttl_min: Option<u32>,
    /// Highest TTL of the address records.
    pub ttl_max: Option<u32>,
    /// Days on which any address record was active.
    pub active_days: u64,
    /// Distinct addresses per active day.
    pub addresses_per_day: f64,
    /// Fraction of the addresses seen on a single day only.
    pub single_day_fraction: f64,
    /// Names outside the set seen on the same addresses (counted up to the fan-out per address).
    pub sharing_names: u64,
    /// Their registered domains.
    pub sharing_domains: u64,
}

/// An address of the set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FluxAddress {
    /// The address.
    pub address: String,
    /// Its /24 or /48.
    pub prefix: String,
    /// ASN, organisation and country, when the databases know them.
    #[serde(flatten)]
    pub info: IpInfo,
    /// Shared-infrastructure tag, if listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<String>,
    /// Names of the set that pointed to it.
    pub names: Vec<String>,
    /// First seen.
    pub first: u64,
    /// Last seen.
    pub last: u64,
    /// Days active.
    pub active_days: u64,
    /// Names outside the set on it (`None`: not looked up, beyond [`MAX_SHARING_PROBES`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_names: Option<u64>,
}

/// A fast-flux assessment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FluxReport {
    /// The name, wildcard or address asked about.
    pub query: String,
    /// The window applied.
    pub window: Window,
    /// Registered domains of the names.
    pub domains: Vec<String>,
    /// The features.
    pub features: FluxFeatures,
    /// Each factor, its score and weight.
    pub factors: Vec<Factor>,
    /// Weighted mean of the known factor scores.
    pub raw_score: f64,
    /// The score after the CDN-likeness discount, in [0, 1].
    pub score: f64,
    /// `fast-flux-like` (score ≥ 0.6), `suspicious` (≥ 0.35), `benign-looking`, or
    /// `no-addresses`.
    pub verdict: &'static str,
    /// Why the pattern looks like a CDN or a stable service; with any reason the score is half
    /// the raw score (once, however many reasons).
    pub cdn_like: Vec<String>,
    /// The addresses, most recently seen first.
    pub addresses: Vec<FluxAddress>,
    /// The address records.
    pub evidence: Vec<Evidence>,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why, and what is unknown.
    pub notes: Vec<String>,
}

/// `x / (x + half)`: 0 at 0, 0.5 at `half`, towards 1 beyond.
fn sat(x: f64, half: f64) -> f64 {
    if x <= 0.0 {
        0.0
    } else {
        x / (x + half)
    }
}

fn prefix_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v) => {
            let o = v.octets();
            format!("{}.{}.{}.0/24", o[0], o[1], o[2])
        }
        IpAddr::V6(v) => {
            let s = v.segments();
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        }
    }
}

#[derive(Default)]
struct AddrAcc {
    names: BTreeSet<String>,
    runs: Vec<(u32, u32)>,
    first: u64,
    last: u64,
}

/// Scores how much the A/AAAA records of `target` (a name, `*.zone`, `prefix.*`, or an
/// address/prefix/range whose names are taken) look like fast flux.
pub fn fastflux(
    store: &dyn Store,
    target: &str,
    enricher: &Enricher,
    infra: &Infra,
    opts: &FluxOptions,
) -> Result<FluxReport, AnalyticsError> {
    opts.window.validate()?;
    let limits = opts.limits;
    let mut budget = Budget::new(&limits);
    let mut notes = Vec::new();
    let is_addr = |r: &Record| r.rrtype == RrType::A || r.rrtype == RrType::AAAA;
    let mut recs: Vec<Record> = Vec::new();
    let query;
    if let Ok(range) = IpRange::parse(target) {
        // the names on the address(es), then every address of those names
        query = range.to_string();
        let q = RdataQuery { target: RdataTarget::Ip(range), types: TypeFilter::Any, fence: opts.window.fence() };
        let mut names: BTreeSet<Name> = BTreeSet::new();
        let mut more = false;
        budget.rdata(store, &q, target, |r| {
            if names.len() < limits.max_results || names.contains(&r.rrname) {
                names.insert(r.rrname);
            } else {
                more = true;
            }
            ControlFlow::Continue(())
        })?;
        if more {
            notes.push(format!(
                "more than {} names on {query}: the first {} scored",
                limits.max_results, limits.max_results
            ));
        }
        for n in names {
            let m = NameMatch::Exact(n);
            let got = read_records(store, &m, TypeFilter::Any, opts.window, &limits, &mut budget, &mut notes)?;
            recs.extend(got.into_iter().filter(is_addr));
        }
    } else {
        let m = NameMatch::parse(target).map_err(|e| {
            AnalyticsError::Input(format!("{target:?} is neither an address, a prefix nor a name: {e}"))
        })?;
        query = m.to_string();
        let q = RrsetQuery {
            name: m,
            types: TypeFilter::Any,
            bailiwick: None,
            fence: opts.window.fence(),
            negative: NegativeFilter::Exclude,
        };
        let mut more = 0u64;
        budget.rrset(store, &q, |r| {
            if is_addr(&r) {
                if recs.len() < limits.max_results {
                    recs.push(r);
                } else {
                    more += 1;
                }
            }
            ControlFlow::Continue(())
        })?;
        if more > 0 {
            notes.push(format!("{more} address records beyond the first {} left out", limits.max_results));
        }
    }

    let set_names: BTreeSet<String> = recs.iter().map(|r| r.rrname.to_string()).collect();
    let domains: BTreeSet<String> = set_names.iter().map(|n| registered_domain(n)).collect();
    let mut addrs: BTreeMap<IpAddr, AddrAcc> = BTreeMap::new();
    let mut ttl: Option<(u32, u32)> = None;
    let mut all_runs = Vec::new();
    for r in &recs {
        let runs = record_runs(&r.agg);
        let Some((f, l)) = r.agg.effective_times() else { continue };
        if let Some((a, b)) = r.agg.ttl {
            ttl = Some(ttl.map_or((a, b), |(x, y)| (x.min(a), y.max(b))));
        }
        for ip in r.rdata.iter().filter_map(|d| d.ip(r.rrtype)) {
            let e = addrs.entry(ip).or_insert_with(|| AddrAcc { first: f, last: l, ..Default::default() });
            e.names.insert(r.rrname.to_string());
            e.runs.extend_from_slice(&runs);
            e.first = e.first.min(f);
            e.last = e.last.max(l);
        }
        all_runs.extend_from_slice(&runs);
    }
    let active_days = day_count(&merge_runs(all_runs));

    // names sharing the addresses: the most recently seen addresses first
    let mut order: Vec<IpAddr> = addrs.keys().copied().collect();
    order.sort_by_key(|ip| std::cmp::Reverse(addrs.get(ip).map_or(0, |a| a.last)));
    if order.len() > MAX_SHARING_PROBES {
        notes.push(format!(
            "names sharing the addresses looked up for the {MAX_SHARING_PROBES} most recently seen of {} addresses",
            order.len()
        ));
    }
    let mut other_names: BTreeSet<String> = BTreeSet::new();
    let mut per_addr_other: HashMap<IpAddr, u64> = HashMap::new();
    let mut fanout_hit = 0usize;
    for ip in order.iter().take(MAX_SHARING_PROBES) {
        let q = RdataQuery {
            target: RdataTarget::Ip(IpRange::single(*ip)),
            types: TypeFilter::Any,
            fence: opts.window.fence(),
        };
        let mut here: BTreeSet<String> = BTreeSet::new();
        budget.rdata(store, &q, &ip.to_string(), |r| {
            let n = r.rrname.to_string();
            if !set_names.contains(&n) {
                here.insert(n);
            }
            if here.len() > opts.fanout {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })?;
        if here.len() > opts.fanout {
            fanout_hit += 1;
        }
        per_addr_other.insert(*ip, here.len() as u64);
        other_names.extend(here);
    }
    if fanout_hit > 0 {
        notes.push(format!("{fanout_hit} addresses have more than {} other names (counted up to that)", opts.fanout));
    }
    let sharing_domains: BTreeSet<String> = other_names.iter().map(|n| registered_domain(n)).collect();

    // enrichment
    let infos: BTreeMap<IpAddr, IpInfo> = addrs.keys().map(|ip| (*ip, enricher.lookup(*ip))).collect();
    let has_asn = enricher.has_asn();
    let asn_set: BTreeSet<u32> = infos.values().filter_map(|i| i.asn).collect();
    let asn_unknown = infos.values().filter(|i| i.asn.is_none()).count() as u64;
    let countries: BTreeSet<&str> = infos.values().filter_map(|i| i.country.as_deref()).collect();
    let prefixes: BTreeSet<String> = addrs.keys().map(|ip| prefix_of(*ip)).collect();
    let n = addrs.len() as u64;
    let single = addrs.values().filter(|a| day_count(&merge_runs(a.runs.clone())) == 1).count() as u64;
    let features = FluxFeatures {
        names: set_names.len() as u64,
        addresses: n,
        ipv4: addrs.keys().filter(|ip| ip.is_ipv4()).count() as u64,
        ipv6: addrs.keys().filter(|ip| ip.is_ipv6()).count() as u64,
        prefixes: prefixes.len() as u64,
        asns: (has_asn && !asn_set.is_empty()).then_some(asn_set.len() as u64),
        asn_unknown,
        countries: countries.len() as u64,
        ttl_min: ttl.map(|t| t.0),
        ttl_max: ttl.map(|t| t.1),
        active_days,
        addresses_per_day: if active_days > 0 { n as f64 / active_days as f64 } else { 0.0 },
        single_day_fraction: if n > 0 { single as f64 / n as f64 } else { 0.0 },
        sharing_names: other_names.len() as u64,
        sharing_domains: sharing_domains.len() as u64,
    };
    let factors = flux_factors(&features);
    let (num, den) = factors
        .iter()
        .filter_map(|f| f.score.map(|s| (s * f.weight, f.weight)))
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let raw_score = if den > 0.0 { num / den } else { 0.0 };

    // benign CDN-looking patterns
    let mut cdn_like = Vec::new();
    if n >= 2 {
        let mut per_asn: BTreeMap<u32, u64> = BTreeMap::new();
        for a in infos.values().filter_map(|i| i.asn) {
            *per_asn.entry(a).or_default() += 1;
        }
        if let Some((asn, top)) = per_asn.iter().max_by_key(|(_, c)| **c) {
            if *top as f64 >= 0.8 * n as f64 {
                cdn_like.push(format!("{top} of {n} addresses in one AS (AS{asn})"));
            }
        }
        let listed = addrs
            .keys()
            .filter(|ip| infra.address(**ip).is_some_and(|t| t.starts_with("cdn:") || t.starts_with("cloud:")))
            .count() as u64;
        if listed as f64 >= 0.8 * n as f64 {
            cdn_like.push(format!("{listed} of {n} addresses in listed CDN/cloud ranges"));
        }
    }
    if let Some((lo, _)) = ttl {
        if lo >= 3600 {
            cdn_like.push(format!("long TTLs (lowest {lo} s)"));
        }
    }
    let score = if cdn_like.is_empty() { raw_score } else { raw_score * 0.5 };
    let verdict = if n == 0 {
        "no-addresses"
    } else if score >= 0.6 {
        "fast-flux-like"
    } else if score >= 0.35 {
        "suspicious"
    } else {
        "benign-looking"
    };

    let mut addresses: Vec<FluxAddress> = order
        .iter()
        .filter_map(|ip| {
            let a = addrs.get(ip)?;
            Some(FluxAddress {
                address: ip.to_string(),
                prefix: prefix_of(*ip),
                info: infos.get(ip).cloned().unwrap_or_default(),
                shared: infra.address(*ip).map(str::to_string),
                names: a.names.iter().take(crate::shared::EVIDENCE_PER_DOMAIN).cloned().collect(),
                first: a.first,
                last: a.last,
                active_days: day_count(&merge_runs(a.runs.clone())),
                other_names: per_addr_other.get(ip).copied(),
            })
        })
        .collect();
    if addresses.len() > limits.max_results {
        notes.push(format!("{} addresses, first {} listed", addresses.len(), limits.max_results));
        addresses.truncate(limits.max_results);
    }
    let evidence: Vec<Evidence> = recs.iter().take(limits.max_results).map(Evidence::from_record).collect();
    budget_note(&budget, &limits, &mut notes);
    // the notes so far are bounds that were hit; what follows only says what is unknown
    let limited = !notes.is_empty();
    if set_names.len() > 1 {
        notes.push(format!(
            "{} names scored as one set: the features describe their addresses together",
            set_names.len()
        ));
    }
    if !has_asn {
        notes.push("no ASN database configured ([analytics] asn_mmdb): the ASN factor is unknown and left out".into());
    } else if asn_unknown > 0 {
        notes.push(format!("{asn_unknown} of {n} addresses have no ASN in the database"));
    }
    Ok(FluxReport {
        query,
        window: opts.window,
        domains: domains.into_iter().collect(),
        features,
        factors,
        raw_score,
        score,
        verdict,
        cdn_like,
        addresses,
        evidence,
        scanned: budget.scanned,
        limited,
        notes,
    })
}

/// The factors of the score (weights sum to 1; see docs/analytics.md "Fast flux").
fn flux_factors(f: &FluxFeatures) -> Vec<Factor> {
    let n = f.addresses as f64;
    let many = f.addresses >= 2;
    vec![
        Factor {
            factor: "addresses",
            value: Some(n),
            score: Some(sat(n - 1.0, 8.0)),
            weight: 0.20,
            basis: "distinct A/AAAA addresses (Holz et al. 2008 n_A; FluXOR: number of distinct A records); \
                    x/(x+8) of the addresses beyond the first",
        },
        Factor {
            factor: "networks",
            value: Some(f.prefixes as f64),
            score: Some(sat(f.prefixes as f64 - 1.0, 4.0)),
            weight: 0.20,
            basis: "distinct /24 (IPv4) and /48 (IPv6) networks (FluXOR: number of distinct networks); \
                    x/(x+4) of the networks beyond the first",
        },
        Factor {
            factor: "asns",
            value: f.asns.map(|a| a as f64),
            score: f.asns.map(|a| sat(a as f64 - 1.0, 2.0)),
            weight: 0.25,
            basis: "distinct autonomous systems (Holz et al. 2008 n_ASN; FluXOR: number of distinct \
                    autonomous systems); x/(x+2) of the ASNs beyond the first; unknown without an ASN database",
        },
        Factor {
            factor: "ttl",
            value: f.ttl_max.map(f64::from),
            score: f.ttl_max.map(|t| {
                let t = f64::from(t.max(30));
                ((86_400f64 / t).ln() / (86_400f64 / 30.0).ln()).clamp(0.0, 1.0)
            }),
            weight: 0.10,
            basis: "the highest TTL of the address records (FluXOR: time-to-live); 1 at 30 s or less, \
                    0 at one day or more, log-linear between",
        },
        Factor {
            factor: "single_day",
            value: Some(f.single_day_fraction),
            score: Some(if many { f.single_day_fraction } else { 0.0 }),
            weight: 0.10,
            basis: "churn: the fraction of the addresses seen on one day only (0 for a single address)",
        },
        Factor {
            factor: "addresses_per_day",
            value: Some(f.addresses_per_day),
            score: Some(if f.active_days > 0 { sat((n - 1.0) / f.active_days as f64, 2.0) } else { 0.0 }),
            weight: 0.05,
            basis: "churn: new addresses per active day, x/(x+2) of (addresses - 1) / active days",
        },
        Factor {
            factor: "sharing_domains",
            value: Some(f.sharing_domains as f64),
            score: Some(sat(f.sharing_domains as f64, 5.0)),
            weight: 0.10,
            basis: "other registered domains on the same addresses (FluXOR: number of distinct resolved \
                    names; a flux network serves many domains); x/(x+5)",
        },
    ]
}

// ---------------------------------------------------------------------------------------
// dormancy, revival, bursts

/// What a dormancy analysis asks for.
#[derive(Debug, Clone)]
pub struct DormancyOptions {
    /// Silence (days without any record seen) that counts as dormancy.
    pub gap_days: u32,
    /// `Domain`: the registered domain of the name and every name below it; `Hostname`: the
    /// name (or wildcard) as given.
    pub level: Level,
    /// A day is a burst when its new names are at least this multiple of the baseline…
    pub burst_factor: f64,
    /// …and at least this many.
    pub burst_min: u64,
    /// Bounds.
    pub limits: Limits,
}

impl Default for DormancyOptions {
    fn default() -> Self {
        DormancyOptions {
            gap_days: DEFAULT_GAP_DAYS,
            level: Level::Domain,
            burst_factor: DEFAULT_BURST_FACTOR,
            burst_min: DEFAULT_BURST_MIN,
            limits: Limits::default(),
        }
    }
}

/// A period of activity (days with sightings, joined).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActivityRun {
    /// Start of its first day (epoch seconds).
    pub first: u64,
    /// End of its last day.
    pub last: u64,
    /// Days in it.
    pub days: u64,
}

/// A silence longer than the threshold, and the activity that ended it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// End of the last active day before the silence.
    pub silent_from: u64,
    /// Start of the day activity came back.
    pub revived_at: u64,
    /// Days without activity.
    pub days: u64,
    /// Records active on the last day before.
    pub before: Vec<Evidence>,
    /// Records active on the day of the revival.
    pub after: Vec<Evidence>,
}

/// A day with far more new names than usual.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Burst {
    /// Start of the day.
    pub day: u64,
    /// Names first seen that day.
    pub new_names: u64,
    /// New names per day on the other days of the domain's life (its first day aside).
    pub baseline: f64,
    /// Some of the new names.
    pub sample: Vec<String>,
    /// Their records first seen that day.
    pub evidence: Vec<Evidence>,
}

/// The dormancy and bursts of a domain or name.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DormancyReport {
    /// The name as asked.
    pub query: String,
    /// What was analysed: the registered domain (domain level) or the name/wildcard.
    pub subject: String,
    /// Domain or hostname level.
    pub level: Level,
    /// The silence threshold, days.
    pub gap_days: u32,
    /// First seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<u64>,
    /// Last seen.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
    /// Days with activity.
    pub active_days: u64,
    /// Distinct owner names.
    pub names: u64,
    /// Records read for it.
    pub records: u64,
    /// The activity, as runs of days (most recent [`Limits::max_results`]).
    pub activity: Vec<ActivityRun>,
    /// Silences of at least `gap_days` followed by activity, oldest first.
    pub gaps: Vec<Gap>,
    /// Days of bursts of new names, oldest first.
    pub bursts: Vec<Burst>,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

/// Gaps of at least `gap` days between merged runs: (last active day, revival day).
fn gaps_of(runs: &[(u32, u32)], gap: u32) -> Vec<(u32, u32)> {
    runs.windows(2).filter(|w| w[1].0 - w[0].1 > gap.max(1)).map(|w| (w[0].1, w[1].0)).collect()
}

fn subject_matches(level: Level, name: &str) -> Result<(String, Vec<NameMatch>), AnalyticsError> {
    match level {
        Level::Domain => {
            let bare = name.trim_start_matches("*.");
            let reg = registered_domain(bare);
            let zone =
                Name::from_presentation(&reg).map_err(|e| AnalyticsError::Input(format!("domain {reg:?}: {e}")))?;
            Ok((reg, vec![NameMatch::Exact(zone.clone()), NameMatch::Below(zone)]))
        }
        Level::Hostname => {
            let m = NameMatch::parse(name).map_err(|e| AnalyticsError::Input(format!("name {name:?}: {e}")))?;
            Ok((m.to_string(), vec![m]))
        }
    }
}

fn rrset_query(m: NameMatch, fence: TimeFence) -> RrsetQuery {
    RrsetQuery { name: m, types: TypeFilter::All, bailiwick: None, fence, negative: NegativeFilter::Exclude }
}

/// The silences and bursts of `name`'s registered domain (or of the name, at hostname level).
pub fn dormancy(store: &dyn Store, name: &str, opts: &DormancyOptions) -> Result<DormancyReport, AnalyticsError> {
    if !(opts.burst_factor.is_finite() && opts.burst_factor > 0.0) {
        return Err(AnalyticsError::Input(format!("burst factor must be positive, got {}", opts.burst_factor)));
    }
    if opts.gap_days == 0 {
        return Err(AnalyticsError::Input("gap must be at least one day".into()));
    }
    let limits = opts.limits;
    let (subject, matches) = subject_matches(opts.level, name)?;
    let mut budget = Budget::new(&limits);
    let mut notes = Vec::new();

    // pass 1: the activity, each name's first day, the span
    let mut runs = Vec::new();
    let mut first_day: HashMap<Name, u32> = HashMap::new();
    let mut times: Option<(u64, u64)> = None;
    let mut records = 0u64;
    for m in &matches {
        budget.rrset(store, &rrset_query(m.clone(), TimeFence::default()), |r| {
            let rr = record_runs(&r.agg);
            if let (Some(&(d, _)), Some((f, l))) = (rr.first(), r.agg.effective_times()) {
                records += 1;
                times = Some(times.map_or((f, l), |(a, b)| (a.min(f), b.max(l))));
                let e = first_day.entry(r.rrname).or_insert(d);
                *e = (*e).min(d);
                runs.extend(rr);
                if runs.len() > 1 << 16 {
                    runs = merge_runs(std::mem::take(&mut runs));
                }
            }
            ControlFlow::Continue(())
        })?;
    }
    let runs = merge_runs(runs);
    let gap_list = gaps_of(&runs, opts.gap_days);

    // bursts: new names per day against the mean of the other days (the first day aside)
    let mut per_day: BTreeMap<u32, u64> = BTreeMap::new();
    for d in first_day.values() {
        *per_day.entry(*d).or_default() += 1;
    }
    let mut burst_days: Vec<(u32, u64, f64)> = Vec::new();
    if let (Some(&(lo, _)), Some(&(_, hi))) = (runs.first(), runs.last()) {
        let total: u64 = per_day.values().sum();
        let first_n = per_day.get(&lo).copied().unwrap_or(0);
        let other_days = ((hi - lo) as u64).saturating_sub(1).max(1) as f64;
        for (&d, &k) in per_day.iter().filter(|(d, _)| **d != lo) {
            let baseline = (total - first_n - k) as f64 / other_days;
            if k >= opts.burst_min && k as f64 >= opts.burst_factor * baseline {
                burst_days.push((d, k, baseline));
            }
        }
    }
    if burst_days.len() > limits.max_results {
        notes.push(format!("{} burst days, first {} listed", burst_days.len(), limits.max_results));
        burst_days.truncate(limits.max_results);
    }
    // pass 2: evidence for the gap edges and the burst days
    let edge_days: BTreeSet<u32> = gap_list.iter().flat_map(|&(a, b)| [a, b]).collect();
    let burst_set: BTreeSet<u32> = burst_days.iter().map(|b| b.0).collect();
    let mut on_day: BTreeMap<u32, Vec<Evidence>> = BTreeMap::new();
    let mut new_on_day: BTreeMap<u32, (BTreeSet<String>, Vec<Evidence>)> = BTreeMap::new();
    if !edge_days.is_empty() || !burst_set.is_empty() {
        for m in &matches {
            budget.rrset(store, &rrset_query(m.clone(), TimeFence::default()), |r| {
                let rr = record_runs(&r.agg);
                for &d in &edge_days {
                    if rr.iter().any(|&(a, b)| a <= d && d <= b) {
                        let v = on_day.entry(d).or_default();
                        if v.len() < EVIDENCE_PER_ITEM {
                            v.push(Evidence::from_record(&r));
                        }
                    }
                }
                if let Some(&(d, _)) = rr.first() {
                    if burst_set.contains(&d) && first_day.get(&r.rrname) == Some(&d) {
                        let e = new_on_day.entry(d).or_default();
                        if e.0.len() < crate::shared::EVIDENCE_PER_DOMAIN {
                            e.0.insert(r.rrname.to_string());
                        }
                        if e.1.len() < EVIDENCE_PER_ITEM {
                            e.1.push(Evidence::from_record(&r));
                        }
                    }
                }
                ControlFlow::Continue(())
            })?;
        }
    }
    let mut gaps: Vec<Gap> = gap_list
        .iter()
        .map(|&(a, b)| Gap {
            silent_from: day_end(a),
            revived_at: day_start(b),
            days: (b - a - 1) as u64,
            before: on_day.get(&a).cloned().unwrap_or_default(),
            after: on_day.get(&b).cloned().unwrap_or_default(),
        })
        .collect();
    if gaps.len() > limits.max_results {
        notes.push(format!("{} gaps, first {} listed", gaps.len(), limits.max_results));
        gaps.truncate(limits.max_results);
    }
    let bursts = burst_days
        .into_iter()
        .map(|(d, k, baseline)| {
            let (sample, evidence) = new_on_day.remove(&d).unwrap_or_default();
            Burst { day: day_start(d), new_names: k, baseline, sample: sample.into_iter().collect(), evidence }
        })
        .collect();
    let mut activity: Vec<ActivityRun> = runs
        .iter()
        .map(|&(a, b)| ActivityRun { first: day_start(a), last: day_end(b), days: (b - a) as u64 + 1 })
        .collect();
    if activity.len() > limits.max_results {
        notes.push(format!("{} runs of activity, the last {} listed", activity.len(), limits.max_results));
        activity.drain(..activity.len() - limits.max_results);
    }
    budget_note(&budget, &limits, &mut notes);
    Ok(DormancyReport {
        query: name.to_string(),
        subject,
        level: opts.level,
        gap_days: opts.gap_days,
        first_seen: times.map(|t| t.0),
        last_seen: times.map(|t| t.1),
        active_days: day_count(&runs),
        names: first_day.len() as u64,
        records,
        activity,
        gaps,
        bursts,
        scanned: budget.scanned,
        limited: !notes.is_empty(),
        notes,
    })
}

/// A registered domain that came back from dormancy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevivedItem {
    /// Registered domain.
    pub domain: String,
    /// Start of the day it came back (the latest revival inside the window).
    pub revived_at: u64,
    /// End of its last active day before the silence.
    pub silent_from: u64,
    /// Days of silence.
    pub gap_days: u64,
    /// First seen ever.
    pub first_seen: u64,
    /// Last seen.
    pub last_seen: u64,
    /// Distinct owner names.
    pub names: u64,
    /// Revivals (silences of at least the threshold ending inside the window).
    pub revivals: u64,
    /// Records active on the day it came back.
    pub evidence: Vec<Evidence>,
}

/// The registered domains that came back from dormancy within a window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RevivedReport {
    /// Revival days inside this window count.
    pub window: Window,
    /// The silence threshold, days.
    pub gap_days: u32,
    /// Domains, by revival time.
    pub items: Vec<RevivedItem>,
    /// Records read.
    pub scanned: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

struct DomainAcc {
    domain: String,
    last_name: Option<Name>,
    names: u64,
    runs: Vec<(u32, u32)>,
    first: u64,
    last: u64,
}

impl DomainAcc {
    fn new(domain: String) -> DomainAcc {
        DomainAcc { domain, last_name: None, names: 0, runs: Vec::new(), first: u64::MAX, last: 0 }
    }

    fn add(&mut self, r: &Record, f: u64, l: u64) {
        if self.last_name.as_ref() != Some(&r.rrname) {
            self.names += 1;
            self.last_name = Some(r.rrname.clone());
        }
        self.first = self.first.min(f);
        self.last = self.last.max(l);
        self.runs.extend(record_runs(&r.agg));
        if self.runs.len() > 1 << 14 {
            self.runs = merge_runs(std::mem::take(&mut self.runs));
        }
    }

    /// The latest revival inside `lo..=hi` (days), with the number of revivals there.
    fn revival(self, gap: u32, lo: u32, hi: u32) -> Option<RevivedItem> {
        let gaps = gaps_of(&merge_runs(self.runs), gap);
        let inside: Vec<&(u32, u32)> = gaps.iter().filter(|(_, b)| lo <= *b && *b <= hi).collect();
        let &&(a, b) = inside.last()?;
        Some(RevivedItem {
            domain: self.domain,
            revived_at: day_start(b),
            silent_from: day_end(a),
            gap_days: (b - a - 1) as u64,
            first_seen: self.first,
            last_seen: self.last,
            names: self.names,
            revivals: inside.len() as u64,
            evidence: Vec::new(),
        })
    }
}

/// One pass over every RRset record, grouped by registered domain (adjacent in store order),
/// listing the domains whose activity resumed within `window` after at least `gap_days` of
/// silence; then one lookup per listed domain for the records of its revival day.
pub fn scan_revived(
    store: &dyn Store,
    window: Window,
    gap_days: u32,
    limits: Limits,
) -> Result<RevivedReport, AnalyticsError> {
    window.validate()?;
    if gap_days == 0 {
        return Err(AnalyticsError::Input("gap must be at least one day".into()));
    }
    let (lo, hi) = (window.from.map_or(0, day_of), window.to.map_or(u32::MAX, day_of));
    let mut budget = Budget::new(&limits);
    let mut items: Vec<RevivedItem> = Vec::new();
    let mut more = 0u64;
    let mut cur: Option<DomainAcc> = None;
    {
        let mut emit = |acc: DomainAcc, items: &mut Vec<RevivedItem>| {
            if let Some(it) = acc.revival(gap_days, lo, hi) {
                if items.len() < limits.max_results {
                    items.push(it);
                } else {
                    more += 1;
                }
            }
        };
        budget.rrset(store, &rrset_query(NameMatch::Below(Name::root()), TimeFence::default()), |r| {
            let Some((f, l)) = r.agg.effective_times() else { return ControlFlow::Continue(()) };
            let same = cur.as_ref().is_some_and(|g| {
                g.last_name.as_ref() == Some(&r.rrname) || registered_domain(&r.rrname.to_string()) == g.domain
            });
            if !same {
                if let Some(g) = cur.take() {
                    emit(g, &mut items);
                }
                cur = Some(DomainAcc::new(registered_domain(&r.rrname.to_string())));
            }
            if let Some(g) = cur.as_mut() {
                g.add(&r, f, l);
            }
            ControlFlow::Continue(())
        })?;
        if let Some(g) = cur.take() {
            if !budget.exhausted {
                emit(g, &mut items);
            }
        }
    }
    let mut notes = Vec::new();
    if more > 0 {
        notes.push(format!("{more} more revived domains beyond the first {} found", limits.max_results));
    }
    if budget.exhausted {
        notes.push(format!(
            "stopped after reading {} records (max_scanned): names later in the store were not examined",
            limits.max_scanned
        ));
    }
    // evidence: the records active on each revival day
    let mut ev_budget = Budget::new(&limits);
    for it in &mut items {
        let Ok(zone) = Name::from_presentation(&it.domain) else { continue };
        let d = day_of(it.revived_at);
        let fence = TimeFence { first_before: Some(day_end(d)), last_after: Some(day_start(d)), ..Default::default() };
        for m in [NameMatch::Exact(zone.clone()), NameMatch::Below(zone)] {
            let ev = &mut it.evidence;
            ev_budget.rrset(store, &rrset_query(m, fence), |r| {
                if record_runs(&r.agg).iter().any(|&(a, b)| a <= d && d <= b) {
                    ev.push(Evidence::from_record(&r));
                }
                if ev.len() >= EVIDENCE_PER_ITEM {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            if it.evidence.len() >= EVIDENCE_PER_ITEM {
                break;
            }
        }
    }
    if ev_budget.exhausted {
        notes.push(format!("evidence reading stopped after {} records (max_scanned)", limits.max_scanned));
    }
    items.sort_by(|a, b| a.revived_at.cmp(&b.revived_at).then_with(|| a.domain.cmp(&b.domain)));
    Ok(RevivedReport {
        window,
        gap_days,
        items,
        scanned: budget.scanned + ev_budget.scanned,
        limited: !notes.is_empty(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use dnsledger_model::{Observation, Rdata};
    use dnsledger_store::Batch;

    use super::*;
    use crate::enrich::testdb;
    use crate::testutil::{put, store, D, JAN1};

    /// One observation of `name TYPE rdata` at `t` with `ttl`.
    fn obs(s: &dyn Store, name: &str, ty: &str, rdata: &str, t: u64, ttl: u32) {
        let rrtype = RrType::parse(ty).unwrap();
        let mut o = Observation {
            rrname: Name::from_presentation(name).unwrap(),
            rrtype,
            rdata: std::iter::once(Rdata::parse(rrtype, rdata).unwrap()).collect(),
            time_first: t,
            time_last: t,
            ttl: Some(ttl),
            count: 1,
            sensor: Some("s".into()),
            ..Observation::default()
        };
        let mut b = Batch::new();
        b.add(&mut o);
        s.write(&b).unwrap();
    }

    #[test]
    fn buckets_and_calendar() {
        // 2024-01-01 (day 19723) is a Monday
        let d0 = day_of(JAN1);
        assert_eq!(BucketSize::Week.start_of(d0 + 6), d0);
        assert_eq!(BucketSize::Week.start_of(d0 + 7), d0 + 7);
        assert_eq!(BucketSize::Month.start_of(d0 + 40), d0 + 31);
        assert_eq!(BucketSize::Month.next(d0 + 31), d0 + 60); // 2024 is a leap year
        assert_eq!(BucketSize::Week.label(d0), "2024-W01");
        assert_eq!(BucketSize::Month.label(d0 + 31), "2024-02");
        assert_eq!(BucketSize::auto(41), BucketSize::Day);
        assert_eq!(BucketSize::auto(400), BucketSize::Week);
        assert_eq!(BucketSize::auto(1000), BucketSize::Month);
        let b = BucketSize::Week.buckets(d0 + 2, d0 + 15, 10).unwrap();
        assert_eq!(b, vec![(d0, d0 + 6), (d0 + 7, d0 + 13), (d0 + 14, d0 + 20)]);
        assert!(BucketSize::Day.buckets(d0, d0 + 10, 5).is_none());
        assert_eq!(cells(&[(d0 + 5, d0 + 8), (d0 + 14, d0 + 14)], &b), vec![2, 2, 1]);
        assert_eq!(merge_runs(vec![(5, 6), (1, 2), (3, 4), (9, 9)]), vec![(1, 6), (9, 9)]);
        assert_eq!(merge_runs(vec![(5, 6), (1, 3)]), vec![(1, 3), (5, 6)]);
        assert_eq!(gaps_of(&[(1, 2), (10, 11), (13, 14)], 5), vec![(2, 10)]);
        assert_eq!((parse_gap("90").unwrap(), parse_gap("12w").unwrap(), parse_gap("36h").unwrap()), (90, 84, 1));
        assert!(parse_gap("5h").is_err() && parse_gap("0").is_err() && parse_gap("soon").is_err());
    }

    #[test]
    fn timeline_per_record_and_name() {
        let (_d, s) = store();
        let s = &*s;
        for d in [0, 1, 2, 40] {
            put(s, "www.example.com", "A", &["192.0.2.1"], JAN1 + d * D + 60, JAN1 + d * D + 60, "s");
        }
        for _ in 0..3 {
            put(s, "www.example.com", "A", &["192.0.2.2"], JAN1 + 10 * D, JAN1 + 10 * D, "s");
        }
        put(s, "mail.example.com", "MX", &["10 mx.example.com."], JAN1 + 3 * D, JAN1 + 3 * D, "s");

        let t = timeline(s, "www.example.com", &TimelineOptions::default()).unwrap();
        assert_eq!(t.bucket, BucketSize::Day);
        assert_eq!(t.buckets.len(), 41);
        assert_eq!(t.buckets[0].label, "2024-01-01");
        assert_eq!(t.rows.len(), 2);
        let r1 = &t.rows[0];
        assert_eq!((r1.rdata[0].as_str(), r1.active_days, r1.count, r1.count_bucket), ("192.0.2.1", 4, 4, None));
        assert_eq!(&r1.cells[..4], &[1, 1, 1, 0]);
        assert_eq!(r1.cells[40], 1);
        assert_eq!(r1.domain, "example.com");
        let r2 = &t.rows[1];
        assert_eq!((r2.count, r2.count_bucket, r2.cells[10]), (3, Some(10), 1));
        assert_eq!(t.names.len(), 1);
        assert_eq!(t.names[0].cells.iter().sum::<u32>(), 5);
        assert_eq!((t.buckets[10].active_records, t.buckets[5].active_records), (1, 0));
        assert!(!t.limited);

        let week = TimelineOptions { bucket: Some(BucketSize::Week), ..Default::default() };
        let t = timeline(s, "www.example.com", &week).unwrap();
        assert_eq!(t.buckets.len(), 6);
        assert_eq!(t.rows[0].cells, vec![3, 0, 0, 0, 0, 1]);
        let month = TimelineOptions { bucket: Some(BucketSize::Month), ..Default::default() };
        let t = timeline(s, "*.example.com", &month).unwrap();
        assert_eq!(t.buckets.iter().map(|b| b.label.as_str()).collect::<Vec<_>>(), vec!["2024-01", "2024-02"]);
        assert_eq!(t.names.len(), 2);
        assert_eq!(t.buckets[0].active_names, 2);

        // the window cuts the days; a record's count is no longer attributable
        let w = TimelineOptions { window: Window { from: Some(JAN1 + 5 * D), to: None }, ..Default::default() };
        let t = timeline(s, "www.example.com", &w).unwrap();
        assert_eq!(t.buckets[0].label, "2024-01-11");
        let r1 = t.rows.iter().find(|r| r.rdata[0] == "192.0.2.1").unwrap();
        assert_eq!((r1.active_days, r1.count_bucket), (1, None));

        // a day bucket over four years is coarsened
        put(s, "www.example.com", "A", &["192.0.2.3"], JAN1 + 1500 * D, JAN1 + 1500 * D, "s");
        let day = TimelineOptions { bucket: Some(BucketSize::Day), ..Default::default() };
        let t = timeline(s, "www.example.com", &day).unwrap();
        assert_eq!(t.bucket, BucketSize::Week);
        assert!(t.limited && t.notes[0].contains("coarsened"), "{:?}", t.notes);
        assert!(t.buckets.len() <= MAX_BUCKETS);

        let tight = TimelineOptions { limits: Limits { max_scanned: 100, max_results: 1 }, ..Default::default() };
        let t = timeline(s, "www.example.com", &tight).unwrap();
        assert!(t.limited && t.rows.len() == 1);
        assert!(timeline(s, "bad..name", &TimelineOptions::default()).is_err());
    }

    fn flux_store(s: &dyn Store) {
        // 30 addresses over four ASNs and 16 networks, each seen on one day, TTL 60
        for i in 0..30u64 {
            let ip = match i % 4 {
                0 => format!("192.0.2.{}", i + 1),
                1 => format!("203.0.113.{}", i + 1),
                2 => format!("198.18.{i}.1"),
                _ => format!("198.19.{i}.1"),
            };
            obs(s, "flux.example.net", "A", &ip, JAN1 + (i / 3) * D + 100, 60);
            if i < 2 {
                obs(s, "a.other-flux.test", "A", &ip, JAN1 + D, 60);
                obs(s, "b.third-flux.test", "A", &ip, JAN1 + D, 60);
            }
        }
        // a CDN-like name: 12 addresses of one AS, all seen every day, TTL 300
        for d in 0..10u64 {
            for i in 1..=12 {
                obs(s, "www.example.org", "A", &format!("198.51.100.{i}"), JAN1 + d * D, 300);
            }
        }
        // a static name: one address for two months, TTL 3600
        for d in (0..60u64).step_by(5) {
            obs(s, "static.example.org", "A", "192.0.2.200", JAN1 + d * D, 3600);
        }
    }

    #[test]
    fn fast_flux_scores() {
        let dir = tempfile::tempdir().unwrap();
        let e = Enricher::open(
            Some(&testdb::make(dir.path(), "geolite2-asn", testdb::NETS)),
            Some(&testdb::make(dir.path(), "geolite2-country", testdb::NETS)),
        )
        .unwrap();
        let (_d, s) = store();
        let s = &*s;
        flux_store(s);
        let infra = Infra::builtin();
        let o = FluxOptions::default();

        let f = fastflux(s, "flux.example.net", &e, &infra, &o).unwrap();
        let ft = &f.features;
        assert_eq!((ft.addresses, ft.prefixes, ft.asns, ft.asn_unknown), (30, 16, Some(4), 0));
        assert_eq!((ft.ttl_min, ft.ttl_max, ft.active_days), (Some(60), Some(60), 10));
        assert_eq!(ft.single_day_fraction, 1.0);
        assert_eq!((ft.sharing_names, ft.sharing_domains), (2, 2));
        assert_eq!(ft.countries, 4);
        assert_eq!(f.domains, vec!["example.net"]);
        assert!(f.score >= 0.6 && f.verdict == "fast-flux-like", "{} {:?}", f.score, f.factors);
        assert!(f.cdn_like.is_empty());
        assert!((f.factors.iter().map(|x| x.weight).sum::<f64>() - 1.0).abs() < 1e-9);
        let a = f.addresses.iter().find(|a| a.address == "198.18.2.1").unwrap();
        assert_eq!(
            (a.info.asn, a.prefix.as_str(), a.info.country.as_deref()),
            (Some(64510), "198.18.2.0/24", Some("RU"))
        );
        assert_eq!(f.evidence.len(), 30);
        assert!(!f.limited, "{:?}", f.notes);

        let cdn = fastflux(s, "www.example.org", &e, &infra, &o).unwrap();
        assert_eq!((cdn.features.addresses, cdn.features.asns), (12, Some(1)));
        assert!(cdn.cdn_like.iter().any(|r| r.contains("one AS (AS64501)")), "{:?}", cdn.cdn_like);
        assert!(cdn.score < 0.35 && cdn.verdict == "benign-looking", "{}", cdn.score);
        assert!((cdn.score - cdn.raw_score * 0.5).abs() < 1e-9);

        let st = fastflux(s, "static.example.org", &e, &infra, &o).unwrap();
        assert_eq!(st.features.addresses, 1);
        assert!(st.cdn_like.iter().any(|r| r.contains("long TTLs")));
        assert!(st.score < cdn.score && st.score < 0.1, "{}", st.score);

        // without an ASN database the factor is unknown, said so, and left out
        let no = fastflux(s, "flux.example.net", &Enricher::none(), &infra, &o).unwrap();
        assert_eq!(no.features.asns, None);
        assert_eq!(no.factors.iter().find(|x| x.factor == "asns").unwrap().score, None);
        assert!(no.notes.iter().any(|n| n.contains("no ASN database")) && !no.limited);
        assert!(no.score >= 0.6);

        // listed CDN ranges discount too
        let mut infra2 = Infra::builtin();
        infra2.add_text("198.51.100.0/24 cdn:test\n", "test").unwrap();
        let cdn2 = fastflux(s, "www.example.org", &Enricher::none(), &infra2, &o).unwrap();
        assert!(cdn2.cdn_like.iter().any(|r| r.contains("CDN/cloud")), "{:?}", cdn2.cdn_like);
        assert_eq!(cdn2.addresses[0].shared.as_deref(), Some("cdn:test"));

        // over the names on an address range, and over a zone
        let r = fastflux(s, "198.18.0.0/15", &e, &infra, &o).unwrap();
        assert_eq!(r.features.names, 1);
        assert_eq!(r.features.addresses, 30);
        let z = fastflux(s, "*.example.org", &e, &infra, &o).unwrap();
        assert_eq!((z.features.names, z.features.addresses), (2, 13));
        assert!(fastflux(s, "bad..name", &e, &infra, &o).is_err());
        let none = fastflux(s, "absent.example.com", &e, &infra, &o).unwrap();
        assert_eq!((none.verdict, none.score), ("no-addresses", 0.0));

        let tight = FluxOptions { limits: Limits { max_scanned: 10, max_results: 100 }, ..Default::default() };
        let t = fastflux(s, "flux.example.net", &e, &infra, &tight).unwrap();
        assert!(t.limited && t.notes.iter().any(|n| n.contains("max_scanned")));
    }

    fn dormant_store(s: &dyn Store) {
        // old.example.com: active days 0-5, silent, back on day 200 with a burst of new names
        for d in 0..6u64 {
            put(s, "www.old.example.com", "A", &["192.0.2.1"], JAN1 + d * D, JAN1 + d * D, "s");
        }
        put(s, "mail.old.example.com", "A", &["192.0.2.2"], JAN1 + 2 * D, JAN1 + 2 * D, "s");
        put(s, "www.old.example.com", "A", &["192.0.2.1"], JAN1 + 200 * D, JAN1 + 201 * D, "s");
        for i in 0..8 {
            put(
                s,
                &format!("x{i}.old.example.com"),
                "A",
                &["203.0.113.9"],
                JAN1 + 200 * D + 7,
                JAN1 + 200 * D + 7,
                "s",
            );
        }
        // steady.example.org: seen every 30 days
        for d in (0..250u64).step_by(30) {
            put(s, "steady.example.org", "A", &["192.0.2.3"], JAN1 + d * D, JAN1 + d * D, "s");
        }
        // quiet.test: day 10, back on day 120
        put(s, "quiet.test", "NS", &["ns1.quiet.test."], JAN1 + 10 * D, JAN1 + 10 * D, "s");
        put(s, "www.quiet.test", "A", &["192.0.2.4"], JAN1 + 120 * D, JAN1 + 120 * D, "s");
    }

    #[test]
    fn dormancy_and_bursts() {
        let (_d, s) = store();
        let s = &*s;
        dormant_store(s);
        let r = dormancy(s, "www.old.example.com", &DormancyOptions::default()).unwrap();
        assert_eq!((r.subject.as_str(), r.names, r.active_days), ("example.com", 10, 8));
        assert_eq!(r.gaps.len(), 1, "{:?}", r.gaps);
        let g = &r.gaps[0];
        assert_eq!((g.silent_from, g.revived_at, g.days), (JAN1 + 6 * D - 1, JAN1 + 200 * D, 194));
        assert_eq!(g.before[0].rrname, "www.old.example.com.");
        assert!(g.after.len() == EVIDENCE_PER_ITEM && g.after.iter().any(|e| e.rrname == "www.old.example.com."));
        assert_eq!(r.bursts.len(), 1);
        let b = &r.bursts[0];
        // baseline: mail (first seen on day 2) is the only new name of the other 200 days
        assert_eq!((b.day, b.new_names, b.baseline), (JAN1 + 200 * D, 8, 1.0 / 200.0));
        assert_eq!(b.sample.len(), 8);
        assert!(b.evidence.iter().all(|e| e.rrname.starts_with('x')));
        assert_eq!(r.activity.len(), 2);
        assert_eq!(r.first_seen, Some(JAN1));
        assert!(!r.limited);

        // a longer threshold: no dormancy; a higher burst floor: no burst
        let o = DormancyOptions { gap_days: 200, burst_min: 9, ..Default::default() };
        let r = dormancy(s, "old.example.com", &o).unwrap();
        assert!(r.gaps.is_empty() && r.bursts.is_empty());
        // hostname level: one name, same gap, no burst
        let o = DormancyOptions { level: Level::Hostname, ..Default::default() };
        let r = dormancy(s, "www.old.example.com", &o).unwrap();
        assert_eq!((r.names, r.gaps.len(), r.bursts.len()), (1, 1, 0));
        // steady activity is not dormancy
        let r = dormancy(s, "steady.example.org", &DormancyOptions::default()).unwrap();
        assert!(r.gaps.is_empty() && r.active_days == 9);
        assert!(dormancy(s, "x.test", &DormancyOptions { gap_days: 0, ..Default::default() }).is_err());
        let tight = DormancyOptions { limits: Limits { max_scanned: 3, max_results: 10 }, ..Default::default() };
        assert!(dormancy(s, "old.example.com", &tight).unwrap().limited);
    }

    #[test]
    fn revived_domains_of_the_store() {
        let (_d, s) = store();
        let s = &*s;
        dormant_store(s);
        let all = scan_revived(s, Window { from: Some(JAN1), to: None }, DEFAULT_GAP_DAYS, Limits::default()).unwrap();
        let got: Vec<(&str, u64)> = all.items.iter().map(|i| (i.domain.as_str(), i.gap_days)).collect();
        assert_eq!(got, vec![("quiet.test", 109), ("example.com", 194)]);
        let q = &all.items[0];
        assert_eq!((q.revived_at, q.names, q.revivals), (JAN1 + 120 * D, 2, 1));
        assert_eq!(q.evidence.len(), 1);
        assert_eq!(q.evidence[0].rrname, "www.quiet.test.");
        assert_eq!(all.items[1].evidence.len(), EVIDENCE_PER_ITEM);
        assert!(!all.limited);

        let w = Window { from: Some(JAN1 + 150 * D), to: Some(JAN1 + 250 * D) };
        let r = scan_revived(s, w, DEFAULT_GAP_DAYS, Limits::default()).unwrap();
        assert_eq!(r.items.iter().map(|i| i.domain.as_str()).collect::<Vec<_>>(), vec!["example.com"]);
        let r = scan_revived(s, Window { from: Some(JAN1), to: None }, 150, Limits::default()).unwrap();
        assert_eq!(r.items.len(), 1);
        let r = scan_revived(s, Window { from: Some(JAN1), to: None }, 90, Limits { max_scanned: 5, max_results: 10 })
            .unwrap();
        assert!(r.limited && r.notes.iter().any(|n| n.contains("max_scanned")));
        let r =
            scan_revived(s, Window { from: Some(JAN1), to: None }, 90, Limits { max_scanned: 1000, max_results: 1 })
                .unwrap();
        assert!(r.limited && r.items.len() == 1);
        assert!(scan_revived(s, Window { from: Some(2), to: Some(1) }, 90, Limits::default()).is_err());
    }
}
