//! `dnsledger prune`: expires records last seen before a time now, instead of waiting for the
//! retention setting to take effect through the store's own compactions (docs/maintenance.md).

use std::process::ExitCode;

use anyhow::{bail, Context};
use dnsledger_model::time::{now, parse_time};
use dnsledger_store_rocksdb::RocksStoreOptions;

use crate::backend::{self, StoreArgs};

/// Options of `dnsledger prune`.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Expire records last seen before this time: epoch seconds, YYYY-MM-DD, RFC 3339, or a
    /// duration back from now such as `400d` [default: now minus [store] retention_days].
    #[arg(long, value_name = "TIME")]
    before: Option<String>,

    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `dnsledger prune`.
pub fn run(a: PruneArgs) -> anyhow::Result<ExitCode> {
    let config = a.store.load_config()?;
    let t = now();
    let before = match (&a.before, config.store.retention_secs()) {
        (Some(s), _) => parse_time(s, t).context("--before")?,
        (None, Some(secs)) => t.saturating_sub(secs),
        (None, None) => bail!("give --before TIME, or set [store] retention_days in the configuration"),
    };
    let target = a.store.target(&config)?;
    let store = backend::open(
        &target,
        RocksStoreOptions { retention_secs: config.store.retention_secs(), ..RocksStoreOptions::default() },
    )?;
    let started = std::time::Instant::now();
    let size_before = store.stats()?.disk_bytes;
    let report = store.expire(before).with_context(|| format!("expiring records in {}", target.describe()))?;
    let size_after = store.stats()?.disk_bytes;
    eprintln!(
        "pruned {}: records last seen before {before} expired: {} records, {} index entries, {} names; \
         {size_before} -> {size_after} bytes in {:.1} s ({})",
        target.describe(),
        report.records,
        report.index_entries,
        report.names,
        started.elapsed().as_secs_f64(),
        report.note
    );
    Ok(ExitCode::SUCCESS)
}
