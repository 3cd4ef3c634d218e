//! `dnsledger`: the command-line entry point. Each subcommand is a thin layer over the library
//! crates: `serve` (server + store), `sensor` (capture pipeline), `import` (ingest pipeline),
//! `query` (query engine, local or against a running server, optionally federated), `pull`
//! (backfill from upstreams), `key` (API keys), `clickhouse`
//! (schema of the ClickHouse store) and `migrate` (embedded store into ClickHouse). Which store
//! a command uses is decided in [`backend`].

mod analyze;
mod analyze_lookback;
mod analyze_temporal;
mod backend;
mod backup;
mod clickhouse;
mod config;
mod demo;
mod detect_schedule;
mod generate;
mod https;
mod import;
mod inspect;
mod key;
mod metrics_endpoint;
mod migrate;
mod prune;
mod pull;
mod query;
mod sensor;
mod serve;
mod watch;

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

    /// Log line format: `text`, or `json` (one object per line, for log shippers).
    #[arg(long, global = true, env = "DNSLEDGER_LOG_FORMAT", default_value = "text", value_name = "FORMAT")]
    log_format: dnsledger_telemetry::logging::LogFormat,

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
    /// Backfill: store a configured upstream's answers locally (idempotent, quota-aware).
    Pull(Box<pull::PullArgs>),
    /// Analyses: historical resolutions, shared IP usage, co-hosted and newly observed domains.
    Analyze(Box<analyze::AnalyzeArgs>),
    /// Watchlists checked against everything ingested, and their alerts: list, show, add, remove, alerts.
    Watch(Box<watch::WatchArgs>),
    /// Compact the store to its steady-state size (an embedded store's server must not be
    /// running; on ClickHouse this merges each shard's parts).
    Compact(backend::StoreArgs),
    /// Expire records last seen before a time now, with their index entries; reports what was
    /// dropped (an embedded store's server must not be running).
    Prune(prune::PruneArgs),
    /// Manage API keys: add, list, rotate, remove.
    Key(key::KeyArgs),
    /// Manage the ClickHouse store's schema: `init` creates or migrates the tables.
    Clickhouse(clickhouse::ClickHouseCommand),
    /// Copy an embedded store into ClickHouse, with progress.
    Migrate(migrate::MigrateArgs),
    /// Make a consistent copy of the embedded store, from a running server or a stopped store.
    Backup(backup::BackupArgs),
    /// Put a backup in place as the embedded store (the server must be stopped).
    Restore(backup::RestoreArgs),
    /// Verify a store's integrity: checksums, keys and values that decode, indexes that agree.
    Check(inspect::CheckArgs),
    /// Record counts per type, disk use, oldest and newest data.
    Stats(inspect::StatsArgs),
    /// Check the configuration file, or print a commented example of every setting.
    #[command(subcommand)]
    Config(config::ConfigCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(generate::CompletionsArgs),
    /// Write man pages for dnsledger and every subcommand into a directory.
    Man(generate::ManArgs),
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
    if let Err(e) = dnsledger_telemetry::logging::init(&cli.log, cli.log_format) {
        eprintln!("dnsledger: error: --log / DNSLEDGER_LOG: {e}");
        return ExitCode::FAILURE;
    }
    let result = match cli.command {
        Command::Serve(a) => serve::run(a),
        Command::Sensor(a) => sensor::run(*a),
        Command::Import(a) => import::run(a),
        Command::Query(a) => query::run(*a),
        Command::Pull(a) => pull::run(*a),
        Command::Analyze(a) => analyze::run(*a),
        Command::Watch(a) => watch::run(*a),
        Command::Compact(a) => compact(a),
        Command::Prune(a) => prune::run(a),
        Command::Key(a) => key::run(a),
        Command::Clickhouse(a) => clickhouse::run(a),
        Command::Migrate(a) => migrate::run(a),
        Command::Backup(a) => backup::backup(a),
        Command::Restore(a) => backup::restore(a),
        Command::Check(a) => inspect::check(a),
        Command::Stats(a) => inspect::stats(a),
        Command::Config(a) => config::run(a),
        Command::Completions(a) => generate::completions::<Cli>(a),
        Command::Man(a) => generate::man::<Cli>(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("dnsledger: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
