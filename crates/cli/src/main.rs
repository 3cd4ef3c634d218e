//! `dnsledger`: the command-line entry point. Each subcommand is a thin layer over the library
//! crates: `serve` (server + store), `sensor` (capture pipeline), `import` (ingest pipeline),
//! `query` (query engine, local or against a running server), `key` (API keys), `clickhouse`
//! (schema of the ClickHouse store) and `migrate` (embedded store into ClickHouse). Which store
//! a command uses is decided in [`backend`].

mod backend;
mod clickhouse;
mod config;
mod demo;
mod import;
mod key;
mod migrate;
mod query;
mod sensor;
mod serve;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Passive DNS collection, storage and lookups.
///
/// dnsledger keeps the history of the DNS as it was seen: which name resolved to which data,
/// first and last seen, how often, from which zone and sensor. It imports sensor and resolver
/// logs, stores aggregated records in an embedded RocksDB store or in ClickHouse, and answers
/// lookups from the command line and over HTTP.
#[derive(Parser, Debug)]
#[command(name = "dnsledger", version, propagate_version = true, max_term_width = 110)]
struct Cli {
    /// Log filter, e.g. `info`, `debug`, `dnsledger_server=debug` (env: DNSLEDGER_LOG).
    #[arg(long, global = true, env = "DNSLEDGER_LOG", default_value = "info")]
    log: String,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the query and collector server on the store.
    Serve(serve::ServeArgs),
    /// Turn DNS traffic (pcap/pcapng files, a live interface) into observations.
    Sensor(Box<sensor::SensorArgs>),
    /// Import observation files (passivedns logs, dnsledger NDJSON) into the store.
    Import(import::ImportArgs),
    /// Look records up by name, address or rdata, in a store or on a running server.
    Query(Box<query::QueryArgs>),
    /// Compact the store to its steady-state size (an embedded store's server must not be
    /// running; on ClickHouse this merges each shard's parts).
    Compact(backend::StoreArgs),
    /// Manage API keys: add, list, rotate, remove.
    Key(key::KeyArgs),
    /// Manage the ClickHouse store's schema: `init` creates or migrates the tables.
    Clickhouse(clickhouse::ClickHouseCommand),
    /// Copy an embedded store into ClickHouse, with progress.
    Migrate(migrate::MigrateArgs),
}

/// Runs `dnsledger compact`.
fn compact(a: backend::StoreArgs) -> anyhow::Result<ExitCode> {
    let (target, store) = backend::open_configured(&a, Default::default())?;
    let before = store.stats()?.disk_bytes;
    let t = std::time::Instant::now();
    store.compact()?;
    let after = store.stats()?.disk_bytes;
    eprintln!("compacted {}: {} -> {} bytes in {:.1} s", target.describe(), before, after, t.elapsed().as_secs_f64());
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter =
        tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).init();
    let result = match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Sensor(a) => sensor::run(*a),
        Command::Import(a) => import::run(a),
        Command::Query(a) => query::run(*a),
        Command::Compact(a) => compact(a),
        Command::Key(a) => key::run(a),
        Command::Clickhouse(a) => clickhouse::run(a),
        Command::Migrate(a) => migrate::run(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dnsledger: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
