//! The temporal-pattern routes of the analytics API (`dnsledger_analytics::temporal`):
//!
//! - `GET /api/v1/analytics/timeline/{name}?type=&after=&before=&bucket=day|week|month` —
//!   activity per record and per name, bucketed (automatic size by default).
//! - `GET /api/v1/analytics/fastflux/{name | *.zone | ip | ip/len}?from=&to=&fanout=` — the
//!   fast-flux score with its factors, addresses enriched with ASN and country.
//! - `GET /api/v1/analytics/dormancy/{name}?gap=90d&level=domain|hostname&burst_factor=&burst_min=`
//!   — silences followed by activity, and bursts of new names.
//! - `GET /api/v1/analytics/revived?since=T[&until=T][&gap=90d]` — registered domains that came
//!   back from dormancy within the window (a whole-store pass, bounded by `max_scanned`).
//!
//! Parameters `limit` and `max_scanned` as for every analytics route.

use axum::response::Response;
use dnsledger_analytics::newly::Level;
use dnsledger_analytics::temporal::{self, BucketSize, DormancyOptions, FluxOptions, TimelineOptions};
use dnsledger_analytics::to_json;
use dnsledger_model::TypeFilter;

use crate::analytics::{
    answer, bad, blocking, limits, num_param, window, AnState, Pairs, DEFAULT_MAX_SCANNED, DEFAULT_NEW_MAX_SCANNED,
};
use crate::paths::param;

fn gap(pairs: &Pairs) -> Result<u32, Response> {
    match param(pairs, "gap") {
        None | Some("") => Ok(temporal::DEFAULT_GAP_DAYS),
        Some(g) => temporal::parse_gap(g).map_err(|e| bad(e.to_string())),
    }
}

pub(crate) async fn timeline(st: &AnState, name: String, pairs: &Pairs) -> Result<Response, Response> {
    let types = match param(pairs, "type") {
        None | Some("") => TypeFilter::Any,
        Some(t) => TypeFilter::parse(t).map_err(|e| bad(format!("type: {e}")))?,
    };
    let bucket = match param(pairs, "bucket") {
        None | Some("") | Some("auto") => None,
        Some(b) => Some(
            BucketSize::parse(b).ok_or_else(|| bad(format!("bucket: expected day, week, month or auto, got {b:?}")))?,
        ),
    };
    let opts = TimelineOptions {
        types,
        window: window(pairs, "after", "before")?,
        bucket,
        limits: limits(&st.app, pairs, DEFAULT_MAX_SCANNED)?,
    };
    let store = st.app.store.clone();
    Ok(answer(blocking(move || temporal::timeline(&*store, &name, &opts).map(|r| to_json(&r))).await?))
}

pub(crate) async fn fastflux(st: &AnState, target: String, pairs: &Pairs) -> Result<Response, Response> {
    let opts = FluxOptions {
        window: window(pairs, "from", "to")?,
        fanout: num_param(pairs, "fanout")?.map_or(temporal::DEFAULT_FLUX_FANOUT, |n| n.max(1) as usize),
        limits: limits(&st.app, pairs, DEFAULT_MAX_SCANNED)?,
    };
    let store = st.app.store.clone();
    let (enricher, infra) = (st.cfg.enricher.clone(), st.cfg.infra.clone());
    Ok(answer(
        blocking(move || temporal::fastflux(&*store, &target, &enricher, &infra, &opts).map(|r| to_json(&r))).await?,
    ))
}

pub(crate) async fn dormancy(st: &AnState, name: String, pairs: &Pairs) -> Result<Response, Response> {
    let level = match param(pairs, "level") {
        None | Some("") => Level::Domain,
        Some(l) => Level::parse(l).ok_or_else(|| bad(format!("level: expected domain or hostname, got {l:?}")))?,
    };
    let burst_factor = match param(pairs, "burst_factor") {
        None | Some("") => temporal::DEFAULT_BURST_FACTOR,
        Some(f) => f
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite() && *x > 0.0)
            .ok_or_else(|| bad(format!("burst_factor: expected a positive number, got {f:?}")))?,
    };
    let opts = DormancyOptions {
        gap_days: gap(pairs)?,
        level,
        burst_factor,
        burst_min: num_param(pairs, "burst_min")?.unwrap_or(temporal::DEFAULT_BURST_MIN),
        limits: limits(&st.app, pairs, DEFAULT_MAX_SCANNED)?,
    };
    let store = st.app.store.clone();
    Ok(answer(blocking(move || temporal::dormancy(&*store, &name, &opts).map(|r| to_json(&r))).await?))
}

pub(crate) async fn revived(st: &AnState, pairs: &Pairs) -> Result<Response, Response> {
    let w = window(pairs, "since", "until")?;
    if w.from.is_none() {
        return Err(bad("since: required (the start of the window)"));
    }
    let gap_days = gap(pairs)?;
    let limits = limits(&st.app, pairs, DEFAULT_NEW_MAX_SCANNED)?;
    let store = st.app.store.clone();
    Ok(answer(blocking(move || temporal::scan_revived(&*store, w, gap_days, limits).map(|r| to_json(&r))).await?))
}
