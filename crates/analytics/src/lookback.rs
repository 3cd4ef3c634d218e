//! Historical lookback: every stored trace of a batch of indicators, with times.
//!
//! For each indicator of a [`Batch`](crate::indicators::Batch): a domain gives its own RRsets
//! (and, with `below`, those of every name under it), a `*.zone` wildcard those of the names
//! under the zone, an address, prefix or range the records whose A/AAAA rdata lies in it (the
//! names that resolved there). Each indicator's matches are summarised (first and last seen
//! over all of them, observations, number of matches) and bounded by [`Limits`] per
//! indicator; the whole batch is bounded by [`LookbackOptions::max_matches`] records listed.
//!
//! Lookups are the store's own (prefix seeks on the embedded store), run over worker threads
//! (`std::thread::scope`, as many as cores unless told) taking chunks of the batch in turn.
//! The batch is looked up in the store's key order (reversed names, then addresses), so that
//! neighbouring lookups read blocks already in the cache; results come back in input order. Most indicators of a real batch miss, so the cost of a
//! miss — one seek per lookup — is what sets the rate.

use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use dnsledger_model::TypeFilter;
use dnsledger_store::{NameMatch, NegativeFilter, RdataQuery, RdataTarget, RrsetQuery, Store};
use serde::Serialize;

use crate::export::ExportRecord;
use crate::indicators::{Indicator, InputFormat, Rejected, Target};
use crate::{AnalyticsError, Budget, Limits, Window};

/// Indicators handed to a worker at a time.
const CHUNK: usize = 256;
/// Default bound on the records listed over a whole batch.
pub const DEFAULT_MAX_MATCHES: usize = 100_000;
/// Default bound on the records read per indicator.
pub const DEFAULT_MAX_SCANNED_PER_INDICATOR: u64 = 10_000;
/// Default bound on the records listed per indicator.
pub const DEFAULT_MAX_RESULTS_PER_INDICATOR: usize = 100;

/// How a lookback runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LookbackOptions {
    /// Only records whose first..last seen overlaps this window.
    pub window: Window,
    /// A domain also matches the names below it.
    pub below: bool,
    /// Bounds per indicator: records read (`max_scanned`) and listed (`max_results`).
    pub per_indicator: Limits,
    /// Most records listed over the whole batch (indicators past it are still counted).
    pub max_matches: usize,
    /// List the indicators without any match too.
    pub include_misses: bool,
    /// Worker threads; 0 = one per core.
    pub threads: usize,
}

impl Default for LookbackOptions {
    fn default() -> Self {
        LookbackOptions {
            window: Window::default(),
            below: false,
            per_indicator: Limits {
                max_scanned: DEFAULT_MAX_SCANNED_PER_INDICATOR,
                max_results: DEFAULT_MAX_RESULTS_PER_INDICATOR,
            },
            max_matches: DEFAULT_MAX_MATCHES,
            include_misses: false,
            threads: 0,
        }
    }
}

/// The matches of one indicator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IndicatorResult {
    /// The indicator, normalised (`example.com`, `*.example.com`, `192.0.2.0/24`).
    pub indicator: String,
    /// `domain`, `wildcard`, `ip`, `cidr` or `range`.
    pub kind: &'static str,
    /// Where it was in the input.
    pub position: String,
    /// Matching records read (up to the per-indicator `max_scanned`).
    pub matches: u64,
    /// Observations summed over the matches.
    pub count: u64,
    /// First seen over all matches (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<u64>,
    /// Last seen over all matches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<u64>,
    /// The matching records, in store order (first `max_results`, within the batch bound).
    pub records: Vec<ExportRecord>,
    /// True if a bound cut this indicator's answer short.
    pub limited: bool,
}

/// A lookback's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LookbackReport {
    /// The input format read.
    pub format: InputFormat,
    /// The window applied.
    pub window: Window,
    /// Whether domains matched the names below them.
    pub below: bool,
    /// Indicators looked up.
    pub indicators: usize,
    /// Indicators with at least one match.
    pub hits: usize,
    /// Indicators without any.
    pub misses: usize,
    /// Matching records over the batch.
    pub matches: u64,
    /// Per indicator, in input order: those with matches (all with `include_misses`).
    pub results: Vec<IndicatorResult>,
    /// Input items that could not be read (first ones).
    pub rejected: Vec<Rejected>,
    /// How many input items could not be read.
    pub rejected_count: usize,
    /// Input items of other types, per type.
    pub ignored: std::collections::BTreeMap<String, usize>,
    /// Records read from the store.
    pub scanned: u64,
    /// Wall time of the lookups, milliseconds.
    pub elapsed_ms: u64,
    /// True if a bound cut the answer short (see `notes`).
    pub limited: bool,
    /// What was cut and why.
    pub notes: Vec<String>,
}

/// Looks up one indicator.
fn one(
    store: &dyn Store,
    ind: &Indicator,
    opts: &LookbackOptions,
    listed: &AtomicUsize,
) -> Result<(IndicatorResult, u64), AnalyticsError> {
    let mut budget = Budget::new(&opts.per_indicator);
    // the strings are filled in only for indicators that are reported (most miss)
    let mut res = IndicatorResult {
        indicator: String::new(),
        kind: ind.target.kind(),
        position: String::new(),
        matches: 0,
        count: 0,
        first_seen: None,
        last_seen: None,
        records: Vec::new(),
        limited: false,
    };
    let fence = opts.window.fence();
    let mut batch_full = false;
    let mut take = |r: dnsledger_model::Record| {
        res.matches += 1;
        res.count = res.count.saturating_add(r.agg.count);
        if let Some((f, l)) = r.agg.effective_times() {
            res.first_seen = Some(res.first_seen.map_or(f, |x| x.min(f)));
            res.last_seen = Some(res.last_seen.map_or(l, |x| x.max(l)));
        }
        if res.records.len() < opts.per_indicator.max_results {
            // a batch-wide guard on memory; the exact bound is applied in input order afterwards
            if listed.fetch_add(1, Ordering::Relaxed) < opts.max_matches.saturating_mul(2) {
                res.records.push(ExportRecord::from_record(&r));
            } else {
                batch_full = true;
            }
        }
        ControlFlow::Continue(())
    };
    match &ind.target {
        Target::Domain(name) | Target::Below(name) => {
            let mut matches = Vec::with_capacity(2);
            if matches!(ind.target, Target::Domain(_)) {
                matches.push(NameMatch::Exact(name.clone()));
            }
            if opts.below || matches!(ind.target, Target::Below(_)) {
                matches.push(NameMatch::Below(name.clone()));
            }
            for m in matches {
                let q = RrsetQuery {
                    name: m,
                    types: TypeFilter::Any,
                    bailiwick: None,
                    fence,
                    negative: NegativeFilter::Exclude,
                };
                budget.rrset(store, &q, &mut take)?;
            }
        }
        Target::Ip(range) => {
            let q = RdataQuery { target: RdataTarget::Ip(*range), types: TypeFilter::Any, fence };
            budget.rdata(store, &q, "an address range", &mut take)?;
        }
    }
    res.limited = budget.exhausted || batch_full || res.matches > res.records.len() as u64;
    if res.matches > 0 || opts.include_misses {
        res.indicator = ind.target.to_string();
        res.position.clone_from(&ind.position);
    }
    Ok((res, budget.scanned))
}

/// What a worker hands back for one chunk: (input index, result) of the indicators to report,
/// and the records read.
type ChunkDone = (Vec<(usize, IndicatorResult)>, u64);

/// The order indicators are looked up in: names by their reversed labels (the store's order),
/// then addresses by family and first address.
fn sort_key(t: &Target) -> Vec<u8> {
    let mut k = Vec::with_capacity(32);
    match t {
        Target::Domain(n) | Target::Below(n) => {
            k.push(0);
            n.write_key(true, &mut k);
        }
        Target::Ip(r) => {
            k.push(1);
            match r.start {
                std::net::IpAddr::V4(a) => {
                    k.push(4);
                    k.extend_from_slice(&a.octets());
                }
                std::net::IpAddr::V6(a) => {
                    k.push(6);
                    k.extend_from_slice(&a.octets());
                }
            }
        }
    }
    k
}

/// Looks up every indicator of `batch` (see the module doc).
pub fn lookback(
    store: &dyn Store,
    format: InputFormat,
    batch: &crate::indicators::Batch,
    opts: &LookbackOptions,
) -> Result<LookbackReport, AnalyticsError> {
    opts.window.validate()?;
    let started = std::time::Instant::now();
    let inds = &batch.indicators;
    let threads = match opts.threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(inds.len().div_ceil(CHUNK).max(1));
    // Looked up in key order (reversed names, then addresses), so that neighbouring lookups
    // read neighbouring blocks of the store while they are cached; put back in input order.
    let keys: Vec<Vec<u8>> = inds.iter().map(|i| sort_key(&i.target)).collect();
    let mut order: Vec<usize> = (0..inds.len()).collect();
    order.sort_unstable_by(|&a, &b| keys[a].cmp(&keys[b]));
    drop(keys);
    let next = AtomicUsize::new(0);
    let listed = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let chunks: Mutex<Vec<ChunkDone>> = Mutex::new(Vec::new());
    let first_error: Mutex<Option<AnalyticsError>> = Mutex::new(None);
    let work = || loop {
        if failed.load(Ordering::Relaxed) {
            return;
        }
        let c = next.fetch_add(1, Ordering::Relaxed);
        let start = c * CHUNK;
        if start >= inds.len() {
            return;
        }
        let mut out = Vec::new();
        let mut scanned = 0u64;
        for &i in &order[start..(start + CHUNK).min(inds.len())] {
            match one(store, &inds[i], opts, &listed) {
                Ok((r, s)) => {
                    scanned += s;
                    if r.matches > 0 || opts.include_misses {
                        out.push((i, r));
                    }
                }
                Err(e) => {
                    failed.store(true, Ordering::Relaxed);
                    let mut slot = first_error.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    slot.get_or_insert(e);
                    return;
                }
            }
        }
        chunks.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push((out, scanned));
    };
    if threads <= 1 {
        work();
    } else {
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(work);
            }
        });
    }
    if let Some(e) = first_error.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner) {
        return Err(e);
    }
    let chunks = chunks.into_inner().unwrap_or_else(std::sync::PoisonError::into_inner);
    let mut indexed = Vec::new();
    let mut scanned = 0u64;
    for (rs, s) in chunks {
        scanned += s;
        indexed.extend(rs);
    }
    indexed.sort_unstable_by_key(|x| x.0);
    let mut results: Vec<IndicatorResult> = indexed.into_iter().map(|x| x.1).collect();
    let mut notes = Vec::new();
    let hits = results.iter().filter(|r| r.matches > 0).count();
    let matches: u64 = results.iter().map(|r| r.matches).sum();
    // the batch bound, applied in input order so the answer does not depend on thread timing
    let mut room = opts.max_matches;
    let mut cut = false;
    for r in &mut results {
        if r.records.len() > room {
            r.records.truncate(room);
            r.limited = true;
            cut = true;
        }
        room -= r.records.len();
    }
    if cut {
        notes.push(format!(
            "records listed stop at {} over the batch (max_matches); counts are complete",
            opts.max_matches
        ));
    }
    let limited_inds = results.iter().filter(|r| r.limited).count();
    if limited_inds > 0 {
        notes.push(format!(
            "{limited_inds} indicators have more matches than listed (per indicator: {} listed, {} read)",
            opts.per_indicator.max_results, opts.per_indicator.max_scanned
        ));
    }
    if batch.rejected_count > 0 {
        notes.push(format!("{} input items could not be read (see rejected)", batch.rejected_count));
    }
    Ok(LookbackReport {
        format,
        window: opts.window,
        below: opts.below,
        indicators: inds.len(),
        hits,
        misses: inds.len() - hits,
        matches,
        results,
        rejected: batch.rejected.clone(),
        rejected_count: batch.rejected_count,
        ignored: batch.ignored.clone(),
        scanned,
        elapsed_ms: started.elapsed().as_millis().min(u64::MAX as u128) as u64,
        limited: cut || limited_inds > 0,
        notes,
    })
}

/// Parses `input` (format sniffed unless given) and runs the lookback.
pub fn lookback_input(
    store: &dyn Store,
    input: &str,
    format: Option<InputFormat>,
    opts: &LookbackOptions,
) -> Result<LookbackReport, AnalyticsError> {
    let (format, batch) = crate::indicators::parse(input, format)?;
    lookback(store, format, &batch, opts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{put, store, D, JAN1};

    fn run(store: &dyn Store, input: &str, opts: LookbackOptions) -> LookbackReport {
        lookback_input(store, input, None, &opts).unwrap()
    }

    #[test]
    fn domains_addresses_and_wildcards() {
        let (_d, s) = store();
        put(&*s, "evil.example", "A", &["192.0.2.1"], JAN1, JAN1 + 2 * D, "s1");
        put(&*s, "www.evil.example", "A", &["192.0.2.2"], JAN1 + 10 * D, JAN1 + 12 * D, "s1");
        put(&*s, "cdn.evil.example", "CNAME", &["edge.example.net."], JAN1 + 5 * D, JAN1 + 6 * D, "s2");
        put(&*s, "good.example.org", "A", &["198.51.100.1"], JAN1, JAN1 + 100 * D, "s1");
        put(&*s, "v6.example.org", "AAAA", &["2001:db8::7"], JAN1 + 50 * D, JAN1 + 51 * D, "s1");
        let input =
            "evil[.]example\nmissing.example\n192.0.2.0/24\n*.evil.example\n2001:db8::7\nbroken..x\n198.51.100.1\n";
        let r = run(&*s, input, LookbackOptions::default());
        assert_eq!((r.indicators, r.hits, r.misses, r.rejected_count), (6, 5, 1, 1));
        let got: Vec<(&str, &str, u64)> = r.results.iter().map(|x| (x.indicator.as_str(), x.kind, x.matches)).collect();
        assert_eq!(
            got,
            [
                ("evil.example", "domain", 1),
                ("192.0.2.0/24", "cidr", 2),
                ("*.evil.example", "wildcard", 2),
                ("2001:db8::7", "ip", 1),
                ("198.51.100.1", "ip", 1)
            ]
        );
        let cidr = &r.results[1];
        assert_eq!((cidr.first_seen, cidr.last_seen), (Some(JAN1), Some(JAN1 + 12 * D)));
        let names: Vec<&str> = cidr.records.iter().map(|x| x.rrname.as_str()).collect();
        assert_eq!(names, ["evil.example.", "www.evil.example."]);
        assert_eq!(r.results[0].position, "line 1");
        assert_eq!(r.results[4].position, "line 7");

        // below: the domain gains its subdomains
        let r = run(&*s, "evil.example\n", LookbackOptions { below: true, ..Default::default() });
        assert_eq!(r.results[0].matches, 3);
        assert_eq!((r.results[0].first_seen, r.results[0].last_seen), (Some(JAN1), Some(JAN1 + 12 * D)));

        // a window keeps the records overlapping it
        let w = Window { from: Some(JAN1 + 9 * D), to: Some(JAN1 + 20 * D) };
        let r = run(&*s, "evil.example\n192.0.2.0/24\n", LookbackOptions { window: w, ..Default::default() });
        assert_eq!(r.hits, 1);
        assert_eq!(r.results[0].indicator, "192.0.2.0/24");
        assert_eq!(r.results[0].matches, 1);

        // misses listed on request
        let r =
            run(&*s, "missing.example\nevil.example\n", LookbackOptions { include_misses: true, ..Default::default() });
        assert_eq!(r.results.len(), 2);
        assert_eq!(r.results[0].matches, 0);
        assert!(lookback_input(
            &*s,
            "x.example",
            None,
            &LookbackOptions { window: Window { from: Some(2), to: Some(1) }, ..Default::default() }
        )
        .is_err());
    }

    #[test]
    fn bounds_and_input_order_over_threads() {
        let (_d, s) = store();
        for i in 0..40u64 {
            put(&*s, &format!("h{i}.bulk.example"), "A", &[&format!("203.0.113.{i}")], JAN1 + i, JAN1 + i, "s1");
        }
        // 3000 indicators over many chunks and threads, hits spread through the batch
        let mut input = String::new();
        for i in 0..3000u64 {
            if i % 75 == 0 {
                input += &format!("h{}.bulk.example\n", i / 75);
            } else {
                input += &format!("miss{i}.example.net\n");
            }
        }
        let r = run(&*s, &input, LookbackOptions { threads: 4, ..Default::default() });
        assert_eq!((r.indicators, r.hits), (3000, 40));
        let order: Vec<String> = r.results.iter().map(|x| x.indicator.clone()).collect();
        let expected: Vec<String> = (0..40).map(|i| format!("h{i}.bulk.example")).collect();
        assert_eq!(order, expected);
        assert_eq!(r.results[39].position, "line 2926");

        // per-indicator bound: the /24 has 40 matches, 5 listed; 7 read at most
        let opts = LookbackOptions { per_indicator: Limits { max_scanned: 7, max_results: 5 }, ..Default::default() };
        let r = run(&*s, "203.0.113.0/24\n", opts);
        assert_eq!((r.results[0].matches, r.results[0].records.len()), (7, 5));
        assert!(r.results[0].limited && r.limited);

        // batch bound: 12 records over the batch, in input order
        let opts = LookbackOptions { max_matches: 12, threads: 3, ..Default::default() };
        let list: String = (0..40).map(|i| format!("203.0.113.{i}\n")).collect();
        let r = run(&*s, &list, opts);
        let listed: Vec<usize> = r.results.iter().map(|x| x.records.len()).collect();
        assert_eq!(listed.iter().sum::<usize>(), 12);
        assert!(listed[..12].iter().all(|&n| n == 1) && listed[12..].iter().all(|&n| n == 0), "{listed:?}");
        assert_eq!(r.matches, 40);
        assert!(r.notes.iter().any(|n| n.contains("max_matches")), "{:?}", r.notes);
    }
}
