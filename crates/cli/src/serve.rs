//! `dnsledger serve`: the HTTP server on the configured store (embedded or ClickHouse), until
//! SIGINT/SIGTERM; with `[[upstream]]` entries it answers federated lookups (`sources=`) and
//! runs their scheduled pulls.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use dnsledger_ingest::stream::StreamCollector;
use dnsledger_sources::{Format, SourceOptions};

use anyhow::Context;
use dnsledger_server::{AppState, ServerConfig};
use dnsledger_store::Store;
use dnsledger_store_rocksdb::RocksStoreOptions;

use std::path::PathBuf;

use dnsledger_keys::KeyStore;
use dnsledger_server::auth::{Denied, KeyAuthority, KeyLimits};

use crate::backend::StoreArgs;
use crate::config::ListenerSection;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
ROUTES (native JSON API):
  GET  /api/v1/lookup/rrset/name/{owner}[/{rrtype}[/{bailiwick}]]
       also rrset/raw, rdata/name, rdata/ip, rdata/raw; parameters limit, offset,
       time_first_after, time_first_before, time_last_after, time_last_before, format=json|ndjson
       and sources=local,NAME,... to merge configured [[upstream]] answers (docs/federation.md)
  POST /api/v1/observations?format=F&sensor=ID   ingest any import format (or batch), answered once durable
  POST /api/v1/admin/backup[?name=N]             online backup into --backup-dir (admin key)
  GET|PUT|DELETE /api/v1/watchlists/{name}, GET /api/v1/watchlists, GET /api/v1/alerts
                                                 watchlists checked against everything ingested (docs/analytics.md)
  GET  /api/v1/stats   GET /healthz   GET /readyz   GET /metrics (Prometheus)

STREAMS:
  --dnstap-unix PATH / --dnstap-tcp ADDR accept dnstap from resolvers and authoritative servers
  (Unbound, BIND, Knot, PowerDNS, NSD); [[listener]] sections in the config file do the same with
  more settings (docs/collectors.md). What arrives is stored at least every second.

TLS:
  --tls-cert FILE --tls-key FILE (or [server] tls_cert, tls_key) serve HTTPS only (TLS 1.2+);
  SIGHUP reloads the pair, keeping the old one if the new one is broken (docs/operations.md).

EXAMPLE:
  dnsledger serve --demo &
  curl -s http://127.0.0.1:8053/api/v1/lookup/rrset/name/www.example.com
  dnsledger query --server http://127.0.0.1:8053 -i 203.0.113.0/24")]
pub struct ServeArgs {
    /// The store, and the configuration file (TOML; docs/configuration.md) flags override.
    #[command(flatten)]
    store: StoreArgs,

    /// Address to listen on [default: 127.0.0.1:8053]; non-loopback only with API keys.
    #[arg(long, env = "DNSLEDGER_LISTEN")]
    listen: Option<SocketAddr>,

    /// Serve HTTPS with this certificate chain (PEM, server certificate first) [default: [server]
    /// tls_cert]; reloaded with the key on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key", env = "DNSLEDGER_TLS_CERT")]
    tls_cert: Option<PathBuf>,

    /// The private key (PEM) of --tls-cert [default: [server] tls_key].
    #[arg(long, value_name = "FILE", requires = "tls_cert", env = "DNSLEDGER_TLS_KEY")]
    tls_key: Option<PathBuf>,

    /// API key file (`dnsledger key add`); without one the API is open, on loopback only.
    #[arg(long, env = "DNSLEDGER_KEYS_FILE")]
    keys_file: Option<PathBuf>,

    /// Load a small bundled sample if the store is empty, to try dnsledger out.
    #[arg(long)]
    demo: bool,

    /// Do not fsync each ingested batch before acknowledging it (embedded store).
    #[arg(long)]
    no_sync: bool,

    /// Expire records last seen more than this many days ago: hidden at once, dropped from
    /// disk by compactions (`dnsledger prune` forces one); 0 keeps everything [default:
    /// [store] retention_days, else 0].
    #[arg(long, value_name = "DAYS")]
    retention_days: Option<u64>,

    /// Most results one lookup may return [default: 1000000] (`limit=0` asks for this many;
    /// keys may lower it).
    #[arg(long)]
    results_max: Option<u64>,

    /// Largest accepted request body, in MiB [default: 64].
    #[arg(long)]
    max_body_mib: Option<usize>,

    /// Accept dnstap (Frame Streams, bidirectional) on this unix socket; repeatable.
    #[arg(long, value_name = "PATH")]
    dnstap_unix: Vec<PathBuf>,

    /// Accept dnstap on this TCP address (loopback unless the config allows remote); repeatable.
    #[arg(long, value_name = "ADDR")]
    dnstap_tcp: Vec<SocketAddr>,

    /// Sensor id for observations from --dnstap-* listeners [default: the sender's dnstap identity].
    #[arg(long, value_name = "ID")]
    dnstap_sensor: Option<String>,

    /// Directory online backups (`dnsledger backup --server`) are written into [default:
    /// [server] backup_dir; none refuses them].
    #[arg(long, value_name = "DIR")]
    backup_dir: Option<PathBuf>,
}

/// A running stream listener: its socket server, the collector behind it, and its flusher.
struct RunningListener {
    name: String,
    handle: SharedHandle,
    collector: Arc<StreamCollector>,
    flusher: std::thread::JoinHandle<()>,
}

/// Binds every configured listener and starts it; fails if any cannot start.
fn start_listeners(
    specs: &[ListenerSection],
    store: &Arc<dyn Store>,
    stop: &Arc<AtomicBool>,
    metrics: Option<&Arc<dnsledger_telemetry::Metrics>>,
) -> anyhow::Result<Vec<RunningListener>> {
    let mut running = Vec::new();
    for spec in specs {
        if spec.kind != "dnstap" {
            anyhow::bail!("listener kind {:?}: only \"dnstap\" is supported", spec.kind);
        }
        let endpoint = match (&spec.unix, spec.tcp) {
            (Some(p), None) => dnsledger_dnstap::Endpoint::Unix(p.clone()),
            (None, Some(a)) => {
                if !a.ip().is_loopback() && !spec.allow_remote {
                    anyhow::bail!(
                        "dnstap listener tcp {a}: dnstap has no authentication; listening off loopback needs \
                         allow_remote = true in the [[listener]] section (and a firewall)"
                    );
                }
                dnsledger_dnstap::Endpoint::Tcp(a)
            }
            _ => anyhow::bail!("a [[listener]] needs exactly one of unix = PATH or tcp = ADDR"),
        };
        let listener = dnsledger_dnstap::Listener::bind(&endpoint, dnsledger_dnstap::ListenerConfig::default())
            .with_context(|| format!("dnstap listener {endpoint}"))?;
        let name = format!("dnstap {}", listener.endpoint());
        let opts = SourceOptions { sensor: spec.sensor.clone(), negative: spec.negative, ..Default::default() };
        let flush = Duration::from_secs(spec.flush_secs.unwrap_or(1).max(1));
        let collector = StreamCollector::new(name.clone(), store.clone(), Format::Dnstap, &opts, flush, 64 << 20);
        let c = collector.clone();
        let handle =
            listener.spawn(move |payload, _conn| c.record(payload)).with_context(|| format!("starting {name}"))?;
        let handle: SharedHandle = Arc::new(std::sync::Mutex::new(Some(handle)));
        if let Some(m) = metrics {
            let (n, c, h) = (name.clone(), Arc::downgrade(&collector), handle.clone());
            m.add_collector(move || {
                if let Some(c) = c.upgrade() {
                    collect_listener(&n, &c, &h);
                }
            });
        }
        tracing::info!("{name} (dnstap, Frame Streams)");
        let (c, stop) = (collector.clone(), stop.clone());
        let flusher = std::thread::Builder::new()
            .name("dnstap-flush".into())
            .spawn(move || c.run_flusher(&stop))
            .context("starting the listener flusher")?;
        running.push(RunningListener { name, handle, collector, flusher });
    }
    Ok(running)
}

/// A listener's socket side, shared with the metrics collector until it is stopped.
type SharedHandle = Arc<std::sync::Mutex<Option<dnsledger_dnstap::ListenerHandle>>>;

/// Copies one listener's counters into the metrics registry (run at each scrape).
fn collect_listener(name: &str, collector: &StreamCollector, handle: &SharedHandle) {
    use dnsledger_telemetry::catalog;
    let s = collector.stats();
    let src = || name.to_string();
    metrics::counter!(catalog::INGEST_RECORDS, "source" => src()).absolute(s.records);
    metrics::counter!(catalog::INGEST_OBSERVATIONS, "source" => src()).absolute(s.observations);
    metrics::counter!(catalog::INGEST_WRITE_ERRORS, "source" => src()).absolute(s.write_errors);
    for (reason, n) in &s.rejected {
        metrics::counter!(catalog::INGEST_REJECTED, "source" => src(), "reason" => *reason).absolute(*n);
    }
    for (reason, n) in &s.skipped {
        metrics::counter!(catalog::INGEST_SKIPPED, "source" => src(), "reason" => *reason).absolute(*n);
    }
    metrics::gauge!(catalog::INGEST_PENDING, "source" => src()).set(collector.pending_bytes() as f64);
    let accepted = handle.lock().unwrap_or_else(|p| p.into_inner()).as_ref().map(|h| h.stats().accepted);
    if let Some(n) = accepted {
        metrics::counter!(catalog::DNSTAP_CONNECTIONS, "listener" => src()).absolute(n);
    }
}

/// Stops the listeners, stores what they still hold, and logs their counters.
fn stop_listeners(running: Vec<RunningListener>, stop: &AtomicBool) {
    let mut stopped = Vec::new();
    for l in running {
        let handle = l.handle.lock().unwrap_or_else(|p| p.into_inner()).take();
        let net = handle.map(|h| h.stop()).unwrap_or_default();
        stopped.push((l.name, net, l.collector, l.flusher));
    }
    stop.store(true, Ordering::Relaxed);
    for (name, net, collector, flusher) in stopped {
        let _ = flusher.join();
        let s = collector.stats();
        tracing::info!(
            "{name}: {} connection(s), {} frames, {} observations, {} rejected, {} skipped, {} connection error(s)",
            net.accepted,
            s.records,
            s.observations,
            s.rejected.values().sum::<u64>(),
            s.skipped.values().sum::<u64>(),
            net.error_total()
        );
    }
}

/// `dnsledger-keys` as the server's key authority.
struct Keys(Arc<KeyStore>);

impl KeyAuthority for Keys {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    fn authenticate(&self, presented: &str) -> Option<String> {
        self.0.authenticate(presented).map(|k| k.name().to_string())
    }
    fn charge(&self, key: &str, now: u64) -> Result<(), Denied> {
        let k =
            self.0.key_ref(key).ok_or_else(|| Denied { status: 403, message: "Error: API key not valid".into() })?;
        self.0.charge(&k, now).map_err(|d| Denied { status: d.status, message: d.message })
    }
    fn limits(&self, key: &str) -> KeyLimits {
        match self.0.key_ref(key) {
            Some(k) => {
                let l = self.0.limits(&k);
                KeyLimits { results_max: Some(l.results_max), offset_max: l.offset_max, flex: l.flex }
            }
            None => KeyLimits { results_max: Some(0), offset_max: None, flex: false },
        }
    }
    fn is_admin(&self, key: &str) -> bool {
        self.0.key_ref(key).is_some_and(|k| self.0.is_admin(&k, dnsledger_model::time::now()))
    }
    fn rate_limit_json(&self, key: &str, now: u64) -> String {
        match self.0.key_ref(key) {
            Some(k) => self.0.rate_limit_json(&k, now),
            None => "{\"rate\":{\"reset\":\"n/a\",\"limit\":0,\"remaining\":0}}\n".into(),
        }
    }
    fn tick(&self) -> Result<(), String> {
        self.0.save_usage().map_err(|e| e.to_string())?;
        match self.0.reload_if_changed() {
            Ok(true) => tracing::info!(file = %self.0.path().display(), keys = self.0.len(), "API keys reloaded"),
            Ok(false) => {}
            Err(e) => return Err(format!("{e} (keeping the keys loaded before)")),
        }
        Ok(())
    }
}

/// The connection limits of `[server]`, defaults where unset (0 counts as 1: `config check`
/// refuses it).
fn server_limits(s: &crate::config::ServerSection) -> dnsledger_server::limits::ConnLimits {
    let d = dnsledger_server::limits::ConnLimits::default();
    dnsledger_server::limits::ConnLimits {
        header_read_timeout: s.header_timeout_secs.map_or(d.header_read_timeout, |v| Duration::from_secs(v.max(1))),
        body_read_timeout: s.body_timeout_secs.map_or(d.body_read_timeout, |v| Duration::from_secs(v.max(1))),
        max_connections: s.max_connections.map_or(d.max_connections, |v| v.max(1)),
        max_connections_per_address: s.max_connections_per_address.unwrap_or(d.max_connections_per_address),
        max_body_requests: s.max_body_requests.map_or(d.max_body_requests, |v| v.max(1)),
    }
}

/// Runs `dnsledger serve`.
pub fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = a.store.load_config()?;
    let target = a.store.target(&file)?;
    let listen = a.listen.or(file.server.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8053)));
    let results_max = a.results_max.or(file.server.results_max).unwrap_or(1_000_000).max(1);
    let max_body_mib = a.max_body_mib.or(file.server.max_body_mib).unwrap_or(64);
    let tls = match (
        a.tls_cert.clone().or(file.server.tls_cert.clone()),
        a.tls_key.clone().or(file.server.tls_key.clone()),
    ) {
        (Some(cert), Some(key)) => {
            let c = dnsledger_tls::server::ServerCert::load(&cert, &key)?;
            tracing::info!(cert = %cert.display(), "HTTPS (TLS 1.2 and 1.3)");
            Some(c)
        }
        (None, None) => None,
        _ => anyhow::bail!("[server] tls_cert and tls_key (--tls-cert, --tls-key) go together"),
    };
    if tls.is_none() && !listen.ip().is_loopback() {
        tracing::warn!(
            "listening on {listen} without TLS: API keys and answers travel in clear text (set --tls-cert/--tls-key)"
        );
    }
    let metrics = dnsledger_telemetry::registry::install().map_err(anyhow::Error::msg)?;
    let mut key_store = None;
    let keys: Option<Arc<dyn KeyAuthority>> = match a.keys_file.clone().or(file.server.keys_file.clone()) {
        Some(path) => {
            let ks = KeyStore::load(&path).with_context(|| format!("loading API keys from {}", path.display()))?;
            ks.set_server_results_max(results_max);
            tracing::info!("{} API key(s) from {}", ks.len(), path.display());
            let ks = Arc::new(ks);
            key_store = Some(ks.clone());
            Some(Arc::new(Keys(ks)))
        }
        None => None,
    };
    let retention_secs = match a.retention_days {
        Some(d) => Some(d.saturating_mul(86_400)).filter(|&s| s > 0),
        None => file.store.retention_secs(),
    };
    if let Some(s) = retention_secs {
        tracing::info!(days = s / 86_400, "retention: records last seen longer ago expire");
    }
    let engine = crate::backend::open(
        &target,
        RocksStoreOptions {
            sync_writes: !a.no_sync,
            retention_secs,
            min_free_bytes: file.store.min_free_bytes(),
            ..Default::default()
        },
    )?;
    // watchlists see every write: HTTP ingest, sensor batches and the dnstap listeners
    let watcher = crate::watch::open_watcher(&file, &target)?;
    let engine: Arc<dyn Store> = match &watcher {
        Some(w) => Arc::new(dnsledger_watch::WatchingStore::new(engine, w.clone())),
        None => engine,
    };
    let store: Arc<dyn Store> = Arc::new(dnsledger_telemetry::store::TimedStore::new(engine));
    {
        let s = Arc::downgrade(&store);
        metrics.add_collector(move || {
            if let Some(s) = s.upgrade() {
                // sets dnsledger_store_up (a ping per shard on ClickHouse, with a short timeout)
                let _ = s.health();
                dnsledger_telemetry::store::TimedStore::collect(&*s);
            }
        });
    }
    if a.demo {
        let n = crate::demo::load_if_empty(&*store)?;
        if n > 0 {
            tracing::info!("loaded {n} demo observations into the empty store");
        }
    }
    let mut listeners = file.listener.clone();
    for p in &a.dnstap_unix {
        listeners.push(ListenerSection {
            kind: "dnstap".into(),
            unix: Some(p.clone()),
            sensor: a.dnstap_sensor.clone(),
            ..Default::default()
        });
    }
    for t in &a.dnstap_tcp {
        listeners.push(ListenerSection {
            kind: "dnstap".into(),
            tcp: Some(*t),
            sensor: a.dnstap_sensor.clone(),
            ..Default::default()
        });
    }
    let listener_stop = Arc::new(AtomicBool::new(false));
    let running = start_listeners(&listeners, &store, &listener_stop, Some(&metrics))?;
    let config = ServerConfig {
        listen,
        max_body_bytes: max_body_mib << 20,
        max_limit: results_max,
        backup_dir: a.backup_dir.clone().or(file.server.backup_dir.clone()),
        query_timeout: match file.server.query_timeout_ms {
            Some(0) => None,
            Some(ms) => Some(Duration::from_millis(ms)),
            None => ServerConfig::default().query_timeout,
        },
        limits: server_limits(&file.server),
        ..ServerConfig::default()
    };
    let analytics = dnsledger_server::analytics::AnalyticsConfig {
        infra: Arc::new(file.analytics.infra()?),
        index_max_age: file
            .analytics
            .new_index_max_age_secs
            .unwrap_or(dnsledger_server::analytics::DEFAULT_INDEX_MAX_AGE)
            .max(1),
        labels: Arc::new(file.analytics.labels()?),
        enricher: Arc::new(file.analytics.enricher()?),
    };
    let problems = dnsledger_federation::config::check_all(&file.upstream);
    if !problems.is_empty() {
        anyhow::bail!("[[upstream]] configuration: {}", problems.join("; "));
    }
    let federation = dnsledger_federation::Federation::new(file.upstream.clone());
    if !federation.is_empty() {
        let names: Vec<&str> = federation.all().iter().map(|u| u.name()).collect();
        tracing::info!("upstreams for sources=: {}", names.join(", "));
    }
    let pull_stop = Arc::new(AtomicBool::new(false));
    let pullers = crate::pull::start_scheduled(&federation, &store, watcher.as_ref(), &pull_stop)?;
    let detections = crate::detect_schedule::start(
        store.clone(),
        analytics.infra.clone(),
        watcher.clone(),
        &file.analytics,
        pull_stop.clone(),
    )?;
    let mut state = AppState::new(store.clone(), config, keys)
        .with_metrics(metrics)
        .with_analytics(analytics)
        .with_federation(federation);
    if let Some(w) = &watcher {
        state = state.with_watch(w.clone());
    }
    state.ready.store(false, Ordering::Relaxed);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("dnsledger-http")
        .build()?;
    let result = rt.block_on(async {
        let listener = dnsledger_server::bind(&state).await?;
        let local = listener.local_addr()?;
        let shutdown = shutdown_signal(state.ready.clone())?;
        // installed before the server announces itself: SIGHUP's default action is to exit
        let hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .context("installing the SIGHUP handler")?;
        tokio::spawn(reload_on_hangup(hup, key_store, watcher.clone(), tls.clone()));
        if let Some(cert) = tls.clone() {
            // set before the server announces itself, so the first scrape has it
            report_cert_expiry(&cert);
            tokio::spawn(watch_cert_expiry(cert));
        }
        let scheme = if tls.is_some() { "https" } else { "http" };
        state.ready.store(true, Ordering::Relaxed);
        tracing::info!("store {}, listening on {scheme}://{local}", target.describe());
        tracing::info!("try: curl {scheme}://{local}/api/v1/lookup/rrset/name/www.example.com");
        match &tls {
            Some(cert) => {
                let config = cert.server_config()?;
                dnsledger_server::serve_tls(listener, config, state.clone(), shutdown).await
            }
            None => dnsledger_server::serve(listener, state.clone(), shutdown).await,
        }
        .map_err(anyhow::Error::from)
    });
    stop_listeners(running, &listener_stop);
    pull_stop.store(true, Ordering::Relaxed);
    for p in pullers.into_iter().chain(detections) {
        let _ = p.join();
    }
    store.flush().context("flushing store at shutdown")?;
    if let Some(w) = &watcher {
        // alerts still queued for the journal and the sinks
        w.close(Duration::from_secs(10));
    }
    result?;
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// A certificate expiring sooner than this is warned about in the log.
const CERT_WARN_SECS: i64 = 14 * 86_400;

/// Sets the certificate-expiry gauges from the certificate served now and warns in the log when
/// it expires within [`CERT_WARN_SECS`] (or has expired).
fn report_cert_expiry(cert: &dnsledger_tls::server::ServerCert) {
    use dnsledger_telemetry::catalog::{TLS_CERT_EXPIRES_IN, TLS_CERT_NOT_AFTER};
    match cert.validity() {
        Ok(v) => {
            let now = dnsledger_model::time::now() as i64;
            let left = v.not_after - now;
            metrics::gauge!(TLS_CERT_NOT_AFTER).set(v.not_after as f64);
            metrics::gauge!(TLS_CERT_EXPIRES_IN).set(left as f64);
            if left < CERT_WARN_SECS {
                tracing::warn!(
                    cert = %cert.cert_path().display(),
                    not_after = v.not_after,
                    days_left = left / 86_400,
                    "the TLS certificate expires soon (or has expired): renew it and send SIGHUP"
                );
            }
        }
        Err(e) => {
            tracing::warn!(cert = %cert.cert_path().display(), error = %e, "cannot read the TLS certificate's expiry")
        }
    }
}

/// Keeps the certificate-expiry gauges current every hour after start (the warning repeats
/// daily while it applies).
async fn watch_cert_expiry(cert: Arc<dnsledger_tls::server::ServerCert>) {
    let mut tick = tokio::time::interval(Duration::from_secs(3600));
    tick.tick().await; // the first tick is immediate: start did this one
    let mut hours = 1u64;
    loop {
        tick.tick().await;
        if hours.is_multiple_of(24) {
            report_cert_expiry(&cert);
        } else if let Ok(v) = cert.validity() {
            let left = v.not_after - dnsledger_model::time::now() as i64;
            metrics::gauge!(dnsledger_telemetry::catalog::TLS_CERT_EXPIRES_IN).set(left as f64);
        }
        hours += 1;
    }
}

/// Reloads what can change without a restart on every SIGHUP: the API key file, the
/// watchlist directory and the TLS certificate with its key. A key file that does not parse
/// keeps the keys loaded before; a watchlist file that does not load keeps the version of that
/// list loaded before; a certificate pair that does not load keeps the one served before. Each
/// SIGHUP counts once in `dnsledger_reloads_total` (keys and watchlists: `error` if any part
/// failed); certificate reloads count in `dnsledger_tls_reloads_total`.
async fn reload_on_hangup(
    mut hup: tokio::signal::unix::Signal,
    keys: Option<Arc<KeyStore>>,
    watcher: Option<Arc<dnsledger_watch::Watcher>>,
    tls: Option<Arc<dnsledger_tls::server::ServerCert>>,
) {
    use dnsledger_telemetry::catalog::{RELOADS, TLS_RELOADS};
    while hup.recv().await.is_some() {
        if let Some(cert) = tls.clone() {
            match tokio::task::spawn_blocking(move || cert.reload()).await {
                Ok(Ok(())) => {
                    metrics::counter!(TLS_RELOADS, "result" => "ok").increment(1);
                    tracing::info!("SIGHUP: TLS certificate reloaded");
                    if let Some(cert) = &tls {
                        report_cert_expiry(cert);
                    }
                }
                Ok(Err(e)) => {
                    metrics::counter!(TLS_RELOADS, "result" => "error").increment(1);
                    tracing::error!(error = %e, "SIGHUP: TLS certificate not reloaded (keeping the one served before)");
                }
                Err(e) => tracing::error!(error = %e, "SIGHUP: certificate reload task failed"),
            }
        }
        let mut results: Vec<bool> = Vec::new();
        if let Some(w) = watcher.clone() {
            let ok = match tokio::task::spawn_blocking(move || w.reload()).await {
                Ok(Ok(r)) if r.errors.is_empty() => {
                    tracing::info!(lists = r.lists, entries = r.entries, "SIGHUP: watchlists reloaded");
                    true
                }
                Ok(Ok(r)) => {
                    tracing::error!(
                        lists = r.lists,
                        entries = r.entries,
                        failed = r.errors.len(),
                        "SIGHUP: watchlists reloaded, some files not (their lists stay as loaded before)"
                    );
                    false
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "SIGHUP: watchlists not reloaded (keeping the lists loaded before)");
                    false
                }
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: watchlist reload task failed");
                    false
                }
            };
            results.push(ok);
        }
        if let Some(ks) = keys.clone() {
            let ok = match tokio::task::spawn_blocking(move || ks.reload().map(|()| ks.len())).await {
                Ok(Ok(n)) => {
                    tracing::info!(keys = n, "SIGHUP: API keys reloaded");
                    true
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "SIGHUP: API keys not reloaded (keeping the keys loaded before)");
                    false
                }
                Err(e) => {
                    tracing::error!(error = %e, "SIGHUP: reload task failed");
                    false
                }
            };
            results.push(ok);
        }
        match (results.is_empty(), results.iter().all(|ok| *ok)) {
            (true, _) if tls.is_none() => {
                tracing::info!("SIGHUP: no API key file, watchlists or TLS certificate configured; nothing to reload")
            }
            (true, _) => {}
            (false, true) => metrics::counter!(RELOADS, "result" => "ok").increment(1),
            (false, false) => metrics::counter!(RELOADS, "result" => "error").increment(1),
        }
    }
}

/// Resolves on SIGINT or SIGTERM, marking the server not ready from then on. The handlers are
/// installed when this is called (not when the future is first polled), so a signal that
/// arrives right after the server announced itself is not lost.
fn shutdown_signal(ready: Arc<AtomicBool>) -> anyhow::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {},
            _ = term.recv() => {},
        }
        ready.store(false, Ordering::Relaxed);
        tracing::info!("shutting down: finishing requests, then flushing the store");
    })
}
