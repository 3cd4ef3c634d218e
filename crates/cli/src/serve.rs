//! `dnsledger serve`: the HTTP server on the embedded store, until SIGINT/SIGTERM.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use dnsledger_server::{AppState, ServerConfig};
use dnsledger_store::Store;
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

use crate::StoreArgs;

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
    /// Address to listen on (loopback unless API keys are configured).
    #[arg(long, default_value = "127.0.0.1:8053", env = "DNSLEDGER_LISTEN")]
    listen: SocketAddr,

    /// Load a small bundled sample if the store is empty, to try dnsledger out.
    #[arg(long)]
    demo: bool,

    /// Do not fsync each ingested batch before acknowledging it.
    #[arg(long)]
    no_sync: bool,

    /// Most results one lookup may return (`limit=0` asks for this many; keys may lower it).
    #[arg(long, default_value_t = 1_000_000)]
    results_max: u64,

    /// Largest accepted request body, in MiB.
    #[arg(long, default_value_t = 64)]
    max_body_mib: usize,

    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `dnsledger serve`.
pub fn run(a: ServeArgs) -> anyhow::Result<ExitCode> {
    let store =
        RocksStore::open(&a.store.data_dir, RocksStoreOptions { sync_writes: !a.no_sync, ..Default::default() })
            .with_context(|| format!("opening store {}", a.store.data_dir.display()))?;
    if a.demo {
        let n = crate::demo::load_if_empty(&store)?;
        if n > 0 {
            eprintln!("dnsledger: loaded {n} demo observations into the empty store");
        }
    }
    let store: Arc<dyn Store> = Arc::new(store);
    let config = ServerConfig {
        listen: a.listen,
        max_body_bytes: a.max_body_mib << 20,
        max_limit: a.results_max.max(1),
        ..ServerConfig::default()
    };
    let state = AppState { store: store.clone(), config: Arc::new(config), keys: None };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name("dnsledger-http")
        .build()?;
    let result = rt.block_on(async {
        let listener = dnsledger_server::bind(&state).await?;
        let local = listener.local_addr()?;
        eprintln!("dnsledger: store {}, listening on http://{local}", a.store.data_dir.display());
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
