//! `dnsledger serve`: the HTTP server on the configured store (embedded or ClickHouse), until
//! SIGINT/SIGTERM.

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
  GET  /api/v1/lookup/rrset/name/{owner}[/{rrtype}[/{bailiwick}]]   also rrset/raw, rdata/name, rdata/ip, rdata/raw
       ?limit=N&offset=N&time_first_after=T&time_first_before=T&time_last_after=T&time_last_before=T&format=json|ndjson
  POST /api/v1/observations?format=F&sensor=ID     ingest any import format (or batch); answered once durable
  GET  /api/v1/stats   GET /healthz

STREAMS:
  --dnstap-unix PATH / --dnstap-tcp ADDR accept dnstap from resolvers and authoritative servers
  (Unbound, BIND, Knot, PowerDNS, NSD); [[listener]] sections in the config file do the same with
  more settings (docs/collectors.md). What arrives is stored at least every second.

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

    /// API key file (`dnsledger key add`); without one the API is open, on loopback only.
    #[arg(long, env = "DNSLEDGER_KEYS_FILE")]
    keys_file: Option<PathBuf>,

    /// Load a small bundled sample if the store is empty, to try dnsledger out.
    #[arg(long)]
    demo: bool,

    /// Do not fsync each ingested batch before acknowledging it (embedded store).
    #[arg(long)]
    no_sync: bool,

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
}

/// A running stream listener: its socket server, the collector behind it, and its flusher.
struct RunningListener {
    name: String,
    handle: dnsledger_dnstap::ListenerHandle,
    collector: Arc<StreamCollector>,
    flusher: std::thread::JoinHandle<()>,
}

/// Binds every configured listener and starts it; fails if any cannot start.
fn start_listeners(
    specs: &[ListenerSection],
    store: &Arc<dyn Store>,
    stop: &Arc<AtomicBool>,
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
        eprintln!("dnsledger: {name} (dnstap, Frame Streams)");
        let (c, stop) = (collector.clone(), stop.clone());
        let flusher = std::thread::Builder::new()
            .name("dnstap-flush".into())
            .spawn(move || c.run_flusher(&stop))
            .context("starting the listener flusher")?;
        running.push(RunningListener { name, handle, collector, flusher });
    }
    Ok(running)
}

/// Stops the listeners, stores what they still hold, and logs their counters.
fn stop_listeners(running: Vec<RunningListener>, stop: &AtomicBool) {
    let mut stopped = Vec::new();
    for l in running {
        let net = l.handle.stop();
        stopped.push((l.name, net, l.collector, l.flusher));
    }
    stop.store(true, Ordering::Relaxed);
    for (name, net, collector, flusher) in stopped {
        let _ = flusher.join();
        let s = collector.stats();
        eprintln!(
            "dnsledger: {name}: {} connection(s), {} frames, {} observations, {} rejected, {} skipped, {} connection error(s)",
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

/// Runs `dnsledger serve`.
pub fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let file = a.store.load_config()?;
    let target = a.store.target(&file)?;
    let listen = a.listen.or(file.server.listen).unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8053)));
    let results_max = a.results_max.or(file.server.results_max).unwrap_or(1_000_000).max(1);
    let max_body_mib = a.max_body_mib.or(file.server.max_body_mib).unwrap_or(64);
    let keys: Option<Arc<dyn KeyAuthority>> = match a.keys_file.clone().or(file.server.keys_file) {
        Some(path) => {
            let ks = KeyStore::load(&path).with_context(|| format!("loading API keys from {}", path.display()))?;
            ks.set_server_results_max(results_max);
            eprintln!("dnsledger: {} API key(s) from {}", ks.len(), path.display());
            Some(Arc::new(Keys(Arc::new(ks))))
        }
        None => None,
    };
    let store: Arc<dyn Store> =
        crate::backend::open(&target, RocksStoreOptions { sync_writes: !a.no_sync, ..Default::default() })?;
    if a.demo {
        let n = crate::demo::load_if_empty(&*store)?;
        if n > 0 {
            eprintln!("dnsledger: loaded {n} demo observations into the empty store");
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
    let running = start_listeners(&listeners, &store, &listener_stop)?;
    let config =
        ServerConfig { listen, max_body_bytes: max_body_mib << 20, max_limit: results_max, ..ServerConfig::default() };
    let state = AppState::new(store.clone(), config, keys);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("dnsledger-http")
        .build()?;
    let result = rt.block_on(async {
        let listener = dnsledger_server::bind(&state).await?;
        let local = listener.local_addr()?;
        eprintln!("dnsledger: store {}, listening on http://{local}", target.describe());
        eprintln!("dnsledger: try: curl http://{local}/api/v1/lookup/rrset/name/www.example.com");
        dnsledger_server::serve(listener, state, shutdown_signal()).await
    });
    stop_listeners(running, &listener_stop);
    store.flush().context("flushing store at shutdown")?;
    result?;
    eprintln!("dnsledger: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
