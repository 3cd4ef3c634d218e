//! [`Watcher`]: the loaded watchlists of a process (compiled into a [`Matcher`]), the sinks
//! and the alerts journal, the ring of recent alerts, and the once-per-run de-duplication of
//! alerts. Shared by the store decorator that raises alerts ([`crate::WatchingStore`]), the
//! API that edits lists and reads alerts, and SIGHUP reloads.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use dnsledger_telemetry::catalog;

use crate::alert::{read_journal, Alert, AlertFilter, AlertPage, Ring};
use crate::dir::{LoadError, WatchDir};
use crate::list::{AlertKind, Watchlist};
use crate::matcher::Matcher;
use crate::sink::{NdjsonWriter, Sink, SinkConfig, SinkStats, JOURNAL};
use crate::WatchError;

/// Alerts kept in memory for the API by default.
pub const DEFAULT_RING: usize = 10_000;
/// Distinct (watchlist, kind, record) alerts remembered for de-duplication before the memory
/// is cleared (8 bytes each).
const SEEN_MAX: usize = 4_000_000;

/// How a [`Watcher`] is set up.
#[derive(Debug, Clone)]
pub struct WatchSettings {
    /// The directory of watchlist files.
    pub dir: PathBuf,
    /// The alerts journal (NDJSON; default `<dir>/alerts.ndjson`).
    pub journal: Option<PathBuf>,
    /// Configured sinks watchlists may name.
    pub sinks: Vec<SinkConfig>,
    /// Alerts kept in memory (default [`DEFAULT_RING`]).
    pub ring: Option<usize>,
}

/// What a (re)load found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadReport {
    /// Lists in force afterwards.
    pub lists: usize,
    /// Entries in force afterwards.
    pub entries: usize,
    /// Files that could not be loaded (a list that was loaded before stays as it was).
    pub errors: Vec<LoadError>,
}

/// An alert decided by a write, before it is raised.
pub(crate) struct Pending {
    pub(crate) list: Arc<Watchlist>,
    pub(crate) key_hash: u64,
    pub(crate) alert: Alert,
}

/// The watchlists, sinks and alerts of a process.
pub struct Watcher {
    dir: WatchDir,
    journal_path: PathBuf,
    sink_names: Vec<String>,
    sinks: HashMap<String, Arc<Sink>>,
    journal: Mutex<NdjsonWriter>,
    journal_stats: Arc<SinkStats>,
    matcher: RwLock<Arc<Matcher>>,
    /// Serialises list changes (API writes, reloads) with each other.
    mutate: Mutex<()>,
    errors: Mutex<Vec<LoadError>>,
    ring: Mutex<Ring>,
    seen: Mutex<HashSet<u64>>,
    seq: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Watcher {
    /// Starts the sinks and loads the lists in `settings.dir` (files that do not load are
    /// logged, counted and reported by [`Watcher::load_errors`]; they do not stop the start).
    pub fn open(settings: WatchSettings) -> Result<Arc<Watcher>, WatchError> {
        let mut sinks = HashMap::new();
        let mut sink_names = Vec::new();
        for cfg in &settings.sinks {
            if sinks.contains_key(cfg.name()) {
                return Err(WatchError::Invalid(format!("watch sink {:?} is configured twice", cfg.name())));
            }
            sinks.insert(cfg.name().to_string(), Sink::start(cfg)?);
            sink_names.push(cfg.name().to_string());
        }
        let journal_path = settings.journal.clone().unwrap_or_else(|| settings.dir.join("alerts.ndjson"));
        let w = Watcher {
            dir: WatchDir::new(&settings.dir),
            journal: Mutex::new(NdjsonWriter::new(journal_path.clone())),
            journal_stats: Arc::default(),
            journal_path,
            sink_names,
            sinks,
            matcher: RwLock::new(Arc::new(Matcher::new(Vec::new()))),
            mutate: Mutex::new(()),
            errors: Mutex::new(Vec::new()),
            ring: Mutex::new(Ring::new(settings.ring.unwrap_or(DEFAULT_RING))),
            seen: Mutex::new(HashSet::new()),
            seq: AtomicU64::new(0),
        };
        let report = w.reload()?;
        tracing::info!(
            dir = %w.dir.path().display(), lists = report.lists, entries = report.entries,
            errors = report.errors.len(), "watchlists loaded"
        );
        Ok(Arc::new(w))
    }

    /// The directory of list files.
    pub fn dir(&self) -> &WatchDir {
        &self.dir
    }

    /// The alerts journal.
    pub fn journal_path(&self) -> &std::path::Path {
        &self.journal_path
    }

    /// Names of the configured sinks.
    pub fn sink_names(&self) -> &[String] {
        &self.sink_names
    }

    /// Every sink (the journal first) with its kind and counters.
    pub fn sink_stats(&self) -> Vec<(String, &'static str, Arc<SinkStats>)> {
        let mut v = vec![(JOURNAL.to_string(), "ndjson", self.journal_stats.clone())];
        for n in &self.sink_names {
            if let Some(s) = self.sinks.get(n) {
                v.push((n.clone(), s.kind(), s.stats.clone()));
            }
        }
        v
    }

    /// The compiled lists in force.
    pub fn matcher(&self) -> Arc<Matcher> {
        self.matcher.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The lists in force, by name.
    pub fn lists(&self) -> Vec<Arc<Watchlist>> {
        self.matcher().lists().to_vec()
    }

    /// List `name`, if loaded.
    pub fn get(&self, name: &str) -> Option<Arc<Watchlist>> {
        self.matcher().lists().iter().find(|l| l.name == name).cloned()
    }

    /// Files that failed at the last (re)load.
    pub fn load_errors(&self) -> Vec<LoadError> {
        lock(&self.errors).clone()
    }

    fn install(&self, lists: BTreeMap<String, Arc<Watchlist>>) -> LoadReport {
        let m = Matcher::new(lists.into_values().collect());
        let report = LoadReport { lists: m.lists().len(), entries: m.len(), errors: Vec::new() };
        metrics::gauge!(catalog::WATCH_LISTS).set(report.lists as f64);
        metrics::gauge!(catalog::WATCH_ENTRIES).set(report.entries as f64);
        *self.matcher.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(m);
        report
    }

    /// Reads the directory again: good files replace their lists, files gone remove theirs,
    /// a file that does not load keeps the list loaded before (if any), logged and counted.
    pub fn reload(&self) -> Result<LoadReport, WatchError> {
        let _g = lock(&self.mutate);
        let (fresh, errors) = self.dir.load_all(&self.sink_names)?;
        let old = self.matcher();
        let mut lists: BTreeMap<String, Arc<Watchlist>> =
            fresh.into_iter().map(|w| (w.name.clone(), Arc::new(w))).collect();
        for e in &errors {
            metrics::counter!(catalog::WATCH_LOAD_ERRORS).increment(1);
            let kept = old.lists().iter().find(|l| l.name == e.name).cloned();
            tracing::error!(
                file = %e.file, error = %e.error,
                "watchlist not loaded{}", if kept.is_some() { " (keeping the version loaded before)" } else { "" }
            );
            if let Some(k) = kept {
                lists.insert(k.name.clone(), k);
            }
        }
        let mut report = self.install(lists);
        report.errors = errors.clone();
        *lock(&self.errors) = errors;
        Ok(report)
    }

    /// Validates `list`, writes its file and puts it in force; true if it is new.
    pub fn put(&self, list: Watchlist) -> Result<bool, WatchError> {
        list.validate(&self.sink_names)?;
        let _g = lock(&self.mutate);
        self.dir.write(&list)?;
        let old = self.matcher();
        let mut lists: BTreeMap<String, Arc<Watchlist>> =
            old.lists().iter().map(|l| (l.name.clone(), l.clone())).collect();
        let created = lists.insert(list.name.clone(), Arc::new(list.clone())).is_none();
        lock(&self.errors).retain(|e| e.name != list.name);
        self.install(lists);
        Ok(created)
    }

    /// Removes list `name` (its file and its entries); false if there was none.
    pub fn remove(&self, name: &str) -> Result<bool, WatchError> {
        let _g = lock(&self.mutate);
        let had_file = self.dir.remove(name)?;
        let old = self.matcher();
        let mut lists: BTreeMap<String, Arc<Watchlist>> =
            old.lists().iter().map(|l| (l.name.clone(), l.clone())).collect();
        let had = lists.remove(name).is_some();
        lock(&self.errors).retain(|e| e.name != name);
        if had {
            self.install(lists);
        }
        Ok(had || had_file)
    }

    /// Alerts `f` selects: from memory when the ring holds them all, else from the journal.
    pub fn alerts(&self, f: &AlertFilter) -> Result<AlertPage, WatchError> {
        {
            let ring = lock(&self.ring);
            if ring.covers(f) {
                return Ok(ring.select(f));
            }
        }
        read_journal(&self.journal_path, f)
    }

    /// Raises what a successful write decided: once per (watchlist, kind, record) per run,
    /// into the ring, the journal (written and synced before this returns, so whoever wrote
    /// the batch knows its alerts are recorded) and the list's sinks (queued).
    pub(crate) fn raise(&self, pending: Vec<Pending>) {
        let now = dnsledger_model::time::now();
        let mut raised = Vec::new();
        for mut p in pending {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (&p.list.name, p.alert.kind, p.key_hash).hash(&mut h);
            let fp = h.finish();
            {
                let mut seen = lock(&self.seen);
                if seen.len() >= SEEN_MAX {
                    seen.clear();
                }
                if !seen.insert(fp) {
                    continue;
                }
            }
            p.alert.id = self.seq.fetch_add(1, Ordering::Relaxed) + 1;
            p.alert.raised = now;
            metrics::counter!(
                catalog::WATCH_ALERTS, "watchlist" => p.list.name.clone(), "kind" => p.alert.kind.as_str()
            )
            .increment(1);
            let a = Arc::new(p.alert);
            lock(&self.ring).push((*a).clone());
            for s in &p.list.sinks {
                if let Some(sink) = self.sinks.get(s) {
                    sink.send(a.clone());
                }
            }
            raised.push(a);
        }
        if raised.is_empty() {
            return;
        }
        let n = raised.len() as u64;
        self.journal_stats.count(JOURNAL, "raised", n);
        match lock(&self.journal).append(&raised) {
            Ok(()) => self.journal_stats.count(JOURNAL, "delivered", n),
            Err(e) => {
                self.journal_stats.error(JOURNAL);
                self.journal_stats.count(JOURNAL, "dropped", n);
                tracing::error!(error = %e, alerts = n, "alerts not written to the journal (they are in the ring and the sinks)");
            }
        }
    }

    /// Raises the alerts of a scheduled detection run (`kind: detection`, with technique and
    /// reasons) under the pseudo-list `source`, into the ring, the journal and `sinks`; once per
    /// (source, detection) per run, whatever the alert's `raised` time.
    pub fn raise_detections(&self, source: &str, sinks: &[String], alerts: Vec<Alert>) {
        let list = Arc::new(Watchlist {
            name: source.to_string(),
            description: Some("scheduled ATT&CK detections".into()),
            kinds: vec![AlertKind::Detection],
            sinks: sinks.to_vec(),
            entries: Vec::new(),
        });
        let pending = alerts
            .into_iter()
            .map(|mut alert| {
                alert.kind = AlertKind::Detection;
                alert.watchlist = source.to_string();
                let mut h = std::collections::hash_map::DefaultHasher::new();
                (&alert.entry, &alert.matched, &alert.record.rrname, &alert.record.rdata, alert.record.time_first)
                    .hash(&mut h);
                Pending { list: list.clone(), key_hash: h.finish(), alert }
            })
            .collect();
        self.raise(pending);
    }

    /// Stops the sinks after they delivered what is queued (waiting up to `wait` for each).
    pub fn close(&self, wait: Duration) {
        for s in self.sinks.values() {
            s.close(wait);
        }
    }

    /// Alerts raised so far in this run.
    pub fn raised(&self) -> u64 {
        self.seq.load(Ordering::Relaxed)
    }
}
