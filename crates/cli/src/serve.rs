//! `dnsledger serve`: the HTTP server on the embedded store, until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use dnsledger_server::{AppState, ServerConfig};
use dnsledger_store::Store;
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

use std::path::PathBuf;

use dnsledger_keys::KeyStore;
use dnsledger_server::auth::{Denied, KeyAuthority, KeyLimits};

use crate::config::Config;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
ROUTES (native JSON API):
  GET  /api/v1/lookup/rrset/name/{owner}[/{rrtype}[/{bailiwick}]]   also rrset/raw, rdata/name, rdata/ip, rdata/raw
       ?limit=N&offset=N&time_first_after=T&time_first_before=T&time_last_after=T&time_last_before=T&format=json|ndjson
  POST /api/v1/observations?format=ndjson|passivedns&sensor=ID     ingest; answered once durable
  GET  /api/v1/stats   GET /healthz

EXAMPLE:
  dnsledger serve --demo &
  curl -s http://127.0.0.1:8053/api/v1/lookup/rrset/name/www.example.com
  dnsledger query --server http://127.0.0.1:8053 -i 203.0.113.0/24")]
pub struct ServeArgs {
    /// Configuration file (TOML; see docs/configuration.md). Flags override it.
    #[arg(long, env = "DNSLEDGER_CONFIG")]
    config: Option<PathBuf>,

    /// Address to listen on [default: 127.0.0.1:8053]; non-loopback only with API keys.
    #[arg(long, env = "DNSLEDGER_LISTEN")]
    listen: Option<SocketAddr>,

    /// API key file (`dnsledger key add`); without one the API is open, on loopback only.
    #[arg(long, env = "DNSLEDGER_KEYS_FILE")]
    keys_file: Option<PathBuf>,

    /// Load a small bundled sample if the store is empty, to try dnsledger out.
    #[arg(long)]
    demo: bool,

    /// Do not fsync each ingested batch before acknowledging it.
    #[arg(long)]
    no_sync: bool,

    /// Most results one lookup may return [default: 1000000] (`limit=0` asks for this many;
    /// keys may lower it).
    #[arg(long)]
    results_max: Option<u64>,

    /// Largest accepted request body, in MiB [default: 64].
    #[arg(long)]
    max_body_mib: Option<usize>,

    /// Directory of the embedded store [default: ./dnsledger-data].
    #[arg(long, env = "DNSLEDGER_DATA_DIR")]
    data_dir: Option<PathBuf>,
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
    let file = match &a.config {
        Some(p) => Config::load(p)?,
        None => Config::default(),
    };
    let data_dir = a.data_dir.clone().or(file.store.data_dir).unwrap_or_else(|| PathBuf::from("./dnsledger-data"));
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
    let store = RocksStore::open(&data_dir, RocksStoreOptions { sync_writes: !a.no_sync, ..Default::default() })
        .with_context(|| format!("opening store {}", data_dir.display()))?;
    if a.demo {
        let n = crate::demo::load_if_empty(&store)?;
        if n > 0 {
            eprintln!("dnsledger: loaded {n} demo observations into the empty store");
        }
    }
    let store: Arc<dyn Store> = Arc::new(store);
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
        eprintln!("dnsledger: store {}, listening on http://{local}", data_dir.display());
        eprintln!("dnsledger: try: curl http://{local}/api/v1/lookup/rrset/name/www.example.com");
        dnsledger_server::serve(listener, state, shutdown_signal()).await
    });
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
