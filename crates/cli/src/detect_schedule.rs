//! Scheduled ATT&CK detections inside `dnsledger serve`: every `[analytics] detect_every_secs`
//! the detections of `dnsledger_analytics::detect` run over the last `detect_window_secs`, and
//! each detection becomes an alert (`kind: detection`, with its technique id, score and
//! reasons) in the alerts journal, the ring of `/api/v1/alerts` and the sinks named in
//! `detect_sinks`. A detection is alerted once per run of the process.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dnsledger_analytics::detect::{self, DetectOptions, Detection};
use dnsledger_analytics::{Infra, Limits, Window};
use dnsledger_store::Store;
use dnsledger_watch::{Alert, AlertKind, AlertRecord, Watcher};

use crate::config::AnalyticsSection;

/// The pseudo-watchlist detection alerts are filed under.
pub const SOURCE: &str = "attack-detections";
/// Default window of a scheduled run, seconds.
pub const DEFAULT_WINDOW_SECS: u64 = 86_400;

/// The alert a detection raises.
pub fn alert_of(d: &Detection) -> Alert {
    let ev = d.evidence.first();
    let record = AlertRecord {
        rrname: ev.map_or_else(|| d.names.first().cloned().unwrap_or_else(|| d.domain.clone()), |e| e.rrname.clone()),
        rrtype: ev.map_or_else(String::new, |e| e.rrtype.clone()),
        rdata: ev.map_or_else(Vec::new, |e| e.rdata.clone()),
        bailiwick: ev.and_then(|e| e.bailiwick.clone()),
        time_first: Some(d.time_first),
        time_last: Some(d.time_last),
        count: ev.map_or(0, |e| e.count),
        sensors: Vec::new(),
    };
    let mut reasons = vec![format!("score {:.2}", d.score)];
    reasons.extend(d.reasons.iter().cloned());
    Alert {
        id: 0,
        raised: 0,
        watchlist: SOURCE.to_string(),
        entry: d.kind.as_str().to_string(),
        label: Some(d.technique_name.to_string()),
        kind: AlertKind::Detection,
        matched_in: "detection".to_string(),
        matched: d.domain.clone(),
        new_rdata: Vec::new(),
        technique: Some(d.technique.id().to_string()),
        reasons,
        record,
    }
}

/// One run over the window ending now; returns the number of detections found.
pub fn run_once(
    store: &dyn Store,
    infra: &Infra,
    watcher: &Watcher,
    cfg: &AnalyticsSection,
) -> Result<usize, dnsledger_analytics::AnalyticsError> {
    let now = dnsledger_model::time::now();
    let window = cfg.detect_window_secs.unwrap_or(DEFAULT_WINDOW_SECS);
    let opts = DetectOptions {
        window: Window { from: Some(now.saturating_sub(window)), to: Some(now) },
        min_score: cfg.detect_min_score.unwrap_or(detect::DEFAULT_MIN_SCORE),
        limits: Limits { max_scanned: u64::MAX, max_results: usize::MAX },
        ..DetectOptions::default()
    };
    let report = detect::detect(store, infra, &opts)?;
    let alerts: Vec<Alert> = report.detections.iter().map(alert_of).collect();
    let n = alerts.len();
    watcher.raise_detections(SOURCE, cfg.detect_sinks.as_deref().unwrap_or(&[]), alerts);
    Ok(n)
}

/// Starts the scheduled runs when `detect_every_secs` is set: the first right away.
pub fn start(
    store: Arc<dyn Store>,
    infra: Arc<Infra>,
    watcher: Option<Arc<Watcher>>,
    cfg: &AnalyticsSection,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Option<std::thread::JoinHandle<()>>> {
    let Some(every) = cfg.detect_every_secs else { return Ok(None) };
    let Some(watcher) = watcher else {
        anyhow::bail!("[analytics] detect_every_secs: scheduled detections alert through the watchlists, which need a watch_dir with this store");
    };
    let cfg = cfg.clone();
    tracing::info!(
        every_secs = every,
        window_secs = cfg.detect_window_secs.unwrap_or(DEFAULT_WINDOW_SECS),
        "scheduled ATT&CK detections"
    );
    let t = std::thread::Builder::new().name("detections".into()).spawn(move || loop {
        let started = Instant::now();
        match run_once(&*store, &infra, &watcher, &cfg) {
            Ok(n) => {
                tracing::info!(detections = n, secs = started.elapsed().as_secs_f64(), "scheduled detections done")
            }
            Err(e) => tracing::error!(error = %e, "scheduled detections failed"),
        }
        let until = Instant::now() + Duration::from_secs(every.max(1));
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200).min(until.saturating_duration_since(Instant::now())));
        }
    })?;
    Ok(Some(t))
}
