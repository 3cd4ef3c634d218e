//! The analytics API (native JSON, see `dnsledger_analytics`):
//!
//! - `GET /api/v1/analytics/history/{name}` — per rrtype intervals, CNAME chains; `type`,
//!   `after`/`before` (window), `at=T`, `from=T1&to=T2` (changes), `depth` (CNAME links).
//! - `GET /api/v1/analytics/shared/{ip | ip/len | ip-ip | ASnnn}` — names and registered domains
//!   that pointed there (an ASN: every network the ASN database gives it); `from`, `to` (window), `fanout`.
//! - `GET /api/v1/analytics/cohosted/{domain}` — the domain's addresses, then the other
//!   registered domains on them; `from`, `to`, `fanout`.
//! - `GET /api/v1/analytics/new?since=T&until=T[&level=domain|hostname][&source=index|scan]`
//!   — names first seen in the window. Domain level answers from a first-seen index rebuilt
//!   when older than its maximum age; hostname level (or `source=scan`) reads the store.
//! - `timeline/{name}`, `fastflux/{name | ip | prefix}`, `dormancy/{name}`, `revived?since=T`:
//!   temporal patterns (routes in `analytics_temporal`).
//!
//! - `GET /api/v1/analytics/cluster?seed=S[&seed=S...]` — the graph around seed domains and
//!   addresses, its communities and maliciousness scores from the label lists; `hops`,
//!   `fanout`, `max_nodes`, `from`, `to`; `format=misp` (with `cluster=ID`, default the
//!   highest-scored cluster holding a seed) answers the cluster as a MISP event.
//! - `GET /api/v1/analytics/detect?since=T[&until=T]` — ATT&CK detections (T1583.001,
//!   T1584.001, T1584.002) over activity in the window; `kind` (repeatable), `established`
//!   (days), `min_score`.
//!
//! Every route takes `limit` (items per list, 0 = server maximum) and `max_scanned` (records
//! read); answers say `limited` and why in `notes`. Times are as for lookups (epoch seconds,
//! negative = relative, RFC 3339, `YYYY-MM-DD`).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use dnsledger_analytics::cluster::{self, ClusterOptions};
use dnsledger_analytics::detect::{self, DetectOptions, Kind};
use dnsledger_analytics::history::{self, HistoryOptions};
use dnsledger_analytics::labels::Labels;
use dnsledger_analytics::newly::{self, FirstSeenIndex, Level};
use dnsledger_analytics::shared::{self, DEFAULT_FANOUT};
use dnsledger_analytics::{to_json, AnalyticsError, Enricher, Infra, Limits, Window};
use dnsledger_model::time::{self, parse_time};
use dnsledger_model::TypeFilter;

use crate::auth;
use crate::native::error;
use crate::paths::{self, param};
use crate::AppState;

const PREFIX: &str = "/api/v1/analytics/";
/// Domains of a cluster exported to MISP scoring at least this are flagged for detection.
pub const CLUSTER_TO_IDS_SCORE: f64 = 0.5;
/// Default records read per analysis.
pub const DEFAULT_MAX_SCANNED: u64 = 1_000_000;
/// Default records read by a pass for new domains (a whole-store pass).
pub const DEFAULT_NEW_MAX_SCANNED: u64 = 100_000_000;
/// Default age after which the first-seen index is rebuilt, seconds.
pub const DEFAULT_INDEX_MAX_AGE: u64 = 300;

/// Settings of the analytics routes.
#[derive(Clone)]
pub struct AnalyticsConfig {
    /// Shared-infrastructure lists (shipped ones plus the user's).
    pub infra: Arc<Infra>,
    /// Rebuild the first-seen index when it is older than this (seconds).
    pub index_max_age: u64,
    /// Label lists the clustering scores from.
    pub labels: Arc<Labels>,
    /// ASN/country databases (`[analytics] asn_mmdb`, `country_mmdb`), opened once.
    pub enricher: Arc<Enricher>,
}

impl Default for AnalyticsConfig {
    fn default() -> Self {
        AnalyticsConfig {
            infra: Arc::new(Infra::system()),
            index_max_age: DEFAULT_INDEX_MAX_AGE,
            labels: Arc::new(Labels::empty()),
            enricher: Arc::new(Enricher::none()),
        }
    }
}

#[derive(Clone)]
pub(crate) struct AnState {
    pub(crate) app: AppState,
    pub(crate) cfg: AnalyticsConfig,
    index: Arc<Mutex<Option<Arc<FirstSeenIndex>>>>,
}

/// The analytics routes with the shipped shared-infrastructure lists.
pub fn routes(state: AppState) -> Router {
    routes_with(state, AnalyticsConfig::default())
}

/// The analytics routes with these settings.
pub fn routes_with(state: AppState, cfg: AnalyticsConfig) -> Router {
    let st = AnState { app: state, cfg, index: Arc::default() };
    Router::new().route("/api/v1/analytics/{*rest}", get(handle)).with_state(st)
}

pub(crate) type Pairs = Vec<(String, String)>;

pub(crate) fn bad(msg: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, msg)
}

pub(crate) fn time_param(pairs: &Pairs, key: &str) -> Result<Option<u64>, Response> {
    param(pairs, key)
        .filter(|v| !v.is_empty())
        .map(|v| parse_time(v, time::now()).map_err(|e| bad(format!("{key}: {e}"))))
        .transpose()
}

pub(crate) fn num_param(pairs: &Pairs, key: &str) -> Result<Option<u64>, Response> {
    param(pairs, key)
        .filter(|v| !v.is_empty())
        .map(|v| v.trim().parse::<u64>().map_err(|_| bad(format!("{key}: expected a non-negative integer, got {v:?}"))))
        .transpose()
}

pub(crate) fn limits(st: &AppState, pairs: &Pairs, scanned_default: u64) -> Result<Limits, Response> {
    let max = st.config.max_limit;
    let results = match num_param(pairs, "limit")? {
        None => st.config.default_limit.min(max).min(1000),
        Some(0) => max,
        Some(n) => n.min(max),
    };
    let scanned = num_param(pairs, "max_scanned")?.filter(|n| *n > 0).unwrap_or(scanned_default);
    Ok(Limits { max_scanned: scanned, max_results: usize::try_from(results).unwrap_or(usize::MAX) })
}

pub(crate) fn window(pairs: &Pairs, from: &str, to: &str) -> Result<Window, Response> {
    Ok(Window { from: time_param(pairs, from)?, to: time_param(pairs, to)? })
}

pub(crate) fn answer(r: Result<serde_json::Value, AnalyticsError>) -> Response {
    match r {
        Ok(v) => Json(v).into_response(),
        Err(AnalyticsError::Input(m)) => bad(m),
        Err(e) => {
            tracing::error!(error = %e, "analytics failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

pub(crate) async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T, Response> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| error(StatusCode::INTERNAL_SERVER_ERROR, format!("analytics task failed: {e}")))
}

async fn handle(State(st): State<AnState>, uri: Uri, headers: HeaderMap) -> Response {
    let caller = match auth::native_caller(&st.app, &headers) {
        Ok(c) => c,
        Err(r) => return r,
    };
    if let Err(r) = auth::charge(&st.app, &caller, time::now()) {
        return r;
    }
    let rest = uri.path().strip_prefix(PREFIX).unwrap_or("");
    let segs = match paths::segments(rest) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let pairs = paths::query_pairs(uri.query());
    let r = match segs.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["history", name] => history_route(&st, name.to_string(), &pairs).await,
        ["shared", range] => shared_route(&st, range.to_string(), &pairs, false).await,
        ["cohosted", domain] => shared_route(&st, domain.to_string(), &pairs, true).await,
        ["new"] => new_route(&st, &pairs).await,
        ["cluster"] => cluster_route(&st, &pairs).await,
        ["detect"] => detect_route(&st, &pairs).await,
        ["timeline", name] => crate::analytics_temporal::timeline(&st, name.to_string(), &pairs).await,
        ["fastflux", target] => crate::analytics_temporal::fastflux(&st, target.to_string(), &pairs).await,
        ["dormancy", name] => crate::analytics_temporal::dormancy(&st, name.to_string(), &pairs).await,
        ["revived"] => crate::analytics_temporal::revived(&st, &pairs).await,
        _ => Err(error(
            StatusCode::NOT_FOUND,
            format!(
                "no analytics route {}: history/NAME, shared/IP, cohosted/DOMAIN, new, timeline/NAME, \
                 fastflux/NAME, dormancy/NAME, revived, cluster or detect",
                uri.path()
            ),
        )),
    };
    r.unwrap_or_else(|e| e)
}

async fn history_route(st: &AnState, name: String, pairs: &Pairs) -> Result<Response, Response> {
    let types = match param(pairs, "type") {
        None | Some("") => TypeFilter::Any,
        Some(t) => TypeFilter::parse(t).map_err(|e| bad(format!("type: {e}")))?,
    };
    let changes = match (time_param(pairs, "from")?, time_param(pairs, "to")?) {
        (Some(a), Some(b)) => Some((a, b)),
        (None, None) => None,
        _ => return Err(bad("changes need both from and to")),
    };
    let opts = HistoryOptions {
        types,
        window: window(pairs, "after", "before")?,
        at: time_param(pairs, "at")?,
        changes,
        cname_depth: num_param(pairs, "depth")?.map_or(history::DEFAULT_CNAME_DEPTH, |d| d.min(32) as usize),
        limits: limits(&st.app, pairs, DEFAULT_MAX_SCANNED)?,
    };
    let store = st.app.store.clone();
    let enricher = st.cfg.enricher.clone();
    Ok(answer(
        blocking(move || {
            history::history(&*store, &name, &opts).map(|mut r| {
                r.enrich(&enricher);
                to_json(&r)
            })
        })
        .await?,
    ))
}

async fn shared_route(st: &AnState, value: String, pairs: &Pairs, cohosted: bool) -> Result<Response, Response> {
    let w = window(pairs, "from", "to")?;
    let fanout = num_param(pairs, "fanout")?.map_or(DEFAULT_FANOUT, |n| n.max(1) as usize);
    let limits = limits(&st.app, pairs, DEFAULT_MAX_SCANNED)?;
    let store = st.app.store.clone();
    let infra = st.cfg.infra.clone();
    let e = st.cfg.enricher.clone();
    Ok(if cohosted {
        answer(
            blocking(move || {
                shared::cohosted(&*store, &value, w, &infra, fanout, limits).map(|mut r| {
                    r.enrich(&e);
                    to_json(&r)
                })
            })
            .await?,
        )
    } else {
        answer(
            blocking(move || {
                match shared::parse_asn(&value) {
                    Some(asn) => shared::shared_asn(&*store, &e, asn, w, &infra, fanout, limits),
                    None => shared::shared(&*store, &value, w, &infra, fanout, limits),
                }
                .map(|mut r| {
                    r.enrich(&e);
                    to_json(&r)
                })
            })
            .await?,
        )
    })
}

async fn new_route(st: &AnState, pairs: &Pairs) -> Result<Response, Response> {
    let w = window(pairs, "since", "until")?;
    if w.from.is_none() {
        return Err(bad("since: required (the start of the window)"));
    }
    let level = match param(pairs, "level") {
        None | Some("") => Level::Domain,
        Some(l) => Level::parse(l).ok_or_else(|| bad(format!("level: expected domain or hostname, got {l:?}")))?,
    };
    let use_index = match param(pairs, "source") {
        None | Some("") | Some("index") => level == Level::Domain,
        Some("scan") => false,
        Some(s) => return Err(bad(format!("source: expected index or scan, got {s:?}"))),
    };
    let limits = limits(&st.app, pairs, DEFAULT_NEW_MAX_SCANNED)?;
    let store = st.app.store.clone();
    if !use_index {
        return Ok(answer(blocking(move || newly::scan_new(&*store, w, level, limits).map(|r| to_json(&r))).await?));
    }
    let slot = st.index.clone();
    let max_age = st.cfg.index_max_age;
    Ok(answer(
        blocking(move || {
            // one build at a time: concurrent requests wait for it rather than scan too
            let mut guard = slot.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let fresh = guard.as_ref().is_some_and(|i| time::now().saturating_sub(i.built_at) <= max_age);
            if !fresh {
                let built = FirstSeenIndex::build(&*store, limits)?;
                tracing::info!(domains = built.len(), scanned = built.scanned, "built the first-seen index");
                *guard = Some(Arc::new(built));
            }
            let index = guard.clone().ok_or_else(|| AnalyticsError::Input("first-seen index unavailable".into()))?;
            drop(guard);
            index.query(&*store, w, limits).map(|r| to_json(&r))
        })
        .await?,
    ))
}

/// Every value of a repeatable parameter, comma-separated lists split.
fn all_params(pairs: &Pairs, key: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .flat_map(|(_, v)| {
            v.split(',').map(str::trim).filter(|x| !x.is_empty()).map(str::to_string).collect::<Vec<_>>()
        })
        .collect()
}

async fn cluster_route(st: &AnState, pairs: &Pairs) -> Result<Response, Response> {
    let seeds = all_params(pairs, "seed");
    if seeds.is_empty() {
        return Err(bad("seed: at least one domain or address"));
    }
    let d = ClusterOptions::default();
    let opts = ClusterOptions {
        window: window(pairs, "from", "to")?,
        hops: num_param(pairs, "hops")?.map_or(d.hops, |n| n as usize),
        fanout: num_param(pairs, "fanout")?.map_or(d.fanout, |n| n.max(1) as usize),
        max_nodes: num_param(pairs, "max_nodes")?.map_or(d.max_nodes, |n| n.clamp(1, 20_000) as usize),
        per_node: d.per_node,
        limits: limits(&st.app, pairs, DEFAULT_MAX_SCANNED)?,
    };
    let store = st.app.store.clone();
    let (infra, labels, e) = (st.cfg.infra.clone(), st.cfg.labels.clone(), st.cfg.enricher.clone());
    let misp = match param(pairs, "format") {
        None | Some("") | Some("json") => false,
        Some("misp") => true,
        Some(f) => return Err(bad(format!("format: expected json or misp, got {f:?}"))),
    };
    let wanted = num_param(pairs, "cluster")?.map(|n| n as usize);
    Ok(answer(
        blocking(move || {
            let mut r = cluster::cluster(&*store, &seeds, &infra, &labels, &opts)?;
            r.enrich(&e);
            if !misp {
                return Ok(to_json(&r));
            }
            let id = wanted.or(r.main_cluster()).ok_or_else(|| AnalyticsError::Input("no cluster to export".into()))?;
            r.misp_event(id, CLUSTER_TO_IDS_SCORE, time::now())
                .ok_or_else(|| AnalyticsError::Input(format!("cluster: no cluster {id}")))
        })
        .await?,
    ))
}

async fn detect_route(st: &AnState, pairs: &Pairs) -> Result<Response, Response> {
    let w = window(pairs, "since", "until")?;
    if w.from.is_none() {
        return Err(bad("since: required (the start of the window)"));
    }
    let kinds = all_params(pairs, "kind")
        .iter()
        .map(|k| {
            Kind::parse(k).ok_or_else(|| {
                let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                bad(format!("kind: expected one of {}, got {k:?}", all.join(", ")))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let min_score = match param(pairs, "min_score").filter(|v| !v.is_empty()) {
        None => detect::DEFAULT_MIN_SCORE,
        Some(v) => v
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| (0.0..=1.0).contains(x))
            .ok_or_else(|| bad(format!("min_score: expected a number from 0 to 1, got {v:?}")))?,
    };
    let opts = DetectOptions {
        window: w,
        established_days: num_param(pairs, "established")?.unwrap_or(detect::DEFAULT_ESTABLISHED_DAYS),
        kinds,
        min_score,
        limits: limits(&st.app, pairs, DEFAULT_NEW_MAX_SCANNED)?,
    };
    let store = st.app.store.clone();
    let infra = st.cfg.infra.clone();
    Ok(answer(blocking(move || detect::detect(&*store, &infra, &opts).map(|r| to_json(&r))).await?))
}
