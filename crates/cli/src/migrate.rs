//! `dnsledger migrate --from DIR --to clickhouse`: copies an embedded store into ClickHouse.
//!
//! Both backends hold the same key layout (`dnsledger_store::layout`), so a migration is one
//! ordered scan of the source, opened read-only (a server may keep running on it), whose
//! entries are written as they are: records and inverse-index entries as aggregates (sensor ids
//! translated to names), names-index entries and import checkpoints as puts. The RocksDB
//! schema marker and sensor registry are the embedded store's own and are not copied. Writes
//! go through the ClickHouse store's batched, exactly-once inserts; a full batch blocks the
//! scan until it is stored, so memory stays bounded by `max_rows_per_insert` per shard.

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dnsledger_model::Aggregate;
use dnsledger_store::layout::keys::{P_IP, P_META, P_NAME, P_NAMES, P_RAW, P_RRSET};
use dnsledger_store::layout::{KvSource, CKPT_PREFIX};
use dnsledger_store::{ScanStats, Store};
use dnsledger_store_clickhouse::EntryWriter;
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

use crate::backend::{describe_clickhouse, open_clickhouse};
use crate::clickhouse::ClickHouseArgs;

/// Exit status when entries of the source could not be decoded (everything else was copied).
const EXIT_CORRUPT: u8 = 3;
/// Entries between progress updates.
const PROGRESS_EVERY: u64 = 4096;

/// `dnsledger migrate`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  dnsledger clickhouse init --config dnsledger.toml
  dnsledger migrate --from /var/lib/dnsledger --to clickhouse --config dnsledger.toml
  dnsledger migrate --from ./dnsledger-data --to clickhouse --url http://127.0.0.1:8123 --database pdns

The source is opened read-only, so a server may keep serving it, but what it stores after the
scan passed a key is not copied: stop writers for an exact copy. The target must be initialised
(`dnsledger clickhouse init`) and hold no records: copying into a database that has records adds
the counts together, which --append allows on purpose.")]
pub struct MigrateArgs {
    /// The embedded store to copy (its directory).
    #[arg(long, value_name = "DIR")]
    from: PathBuf,

    /// The store to copy into: clickhouse, as [store.clickhouse] of --config and the flags below say.
    #[arg(long, value_name = "KIND", value_parser = ["clickhouse"])]
    to: String,

    #[command(flatten)]
    target: ClickHouseArgs,

    /// Copy even if the target already holds records (their counts add up).
    #[arg(long)]
    append: bool,

    /// Do not show progress.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Seconds between progress lines when standard error is not a terminal (a terminal gets a
    /// progress bar).
    #[arg(long, value_name = "SECS", default_value_t = 5)]
    progress_secs: u64,
}

/// Entries copied, per key space.
#[derive(Debug, Default)]
struct Counts {
    rrsets: u64,
    ip_index: u64,
    name_index: u64,
    raw_index: u64,
    names: u64,
    checkpoints: u64,
    /// Metadata entries that belong to the embedded store only.
    skipped: u64,
    /// Aggregates that did not decode.
    corrupt: u64,
}

impl Counts {
    fn copied(&self) -> u64 {
        self.rrsets + self.ip_index + self.name_index + self.raw_index + self.names + self.checkpoints
    }
    fn seen(&self) -> u64 {
        self.copied() + self.skipped + self.corrupt
    }
}

/// Copies one source entry into `w`, counting it.
fn copy_entry(
    w: &mut EntryWriter<'_>,
    key: &[u8],
    value: &[u8],
    sensors: &mut Vec<String>,
    n: &mut Counts,
) -> anyhow::Result<()> {
    let Some(&space) = key.first() else {
        n.skipped += 1;
        return Ok(());
    };
    match space {
        P_RRSET | P_IP | P_NAME | P_RAW => {
            let Ok(agg) = Aggregate::decode(value) else {
                n.corrupt += 1;
                return Ok(());
            };
            // ids the registry does not name get the embedded store's placeholder name
            if let Some(&max) = agg.sensors.ids().iter().max() {
                while sensors.len() <= max as usize {
                    sensors.push(format!("sensor-{}", sensors.len()));
                }
            }
            w.merge(key, &agg, sensors)?;
            *match space {
                P_RRSET => &mut n.rrsets,
                P_IP => &mut n.ip_index,
                P_NAME => &mut n.name_index,
                _ => &mut n.raw_index,
            } += 1;
        }
        P_NAMES => {
            w.put(key, value)?;
            n.names += 1;
        }
        P_META if key[1..].starts_with(CKPT_PREFIX) => {
            w.put(key, value)?;
            n.checkpoints += 1;
        }
        _ => n.skipped += 1,
    }
    Ok(())
}

/// Progress: a bar on a terminal, a line every few seconds otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    start: Instant,
    last_line: Option<Instant>,
    every: Duration,
    estimate: u64,
}

impl Progress {
    fn new(quiet: bool, estimate: u64, every: Duration) -> Progress {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = indicatif::ProgressBar::new(estimate.max(1));
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {human_pos}/~{human_len} entries ({per_sec}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress { bar, quiet, start: Instant::now(), last_line: None, every, estimate }
    }

    fn update(&mut self, n: &Counts) {
        let seen = n.seen();
        if let Some(bar) = &self.bar {
            if seen > bar.length().unwrap_or(0) {
                bar.set_length(seen);
            }
            bar.set_position(seen);
            bar.set_message(format!("{} records", n.rrsets));
        } else if !self.quiet && self.last_line.unwrap_or(self.start).elapsed() >= self.every && seen > 0 {
            self.last_line = Some(Instant::now());
            let rate = seen as f64 / self.start.elapsed().as_secs_f64().max(1e-6);
            eprintln!(
                "migrate: {seen} of about {} entries ({} records), {rate:.0} entries/s",
                self.estimate.max(seen),
                n.rrsets
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// True if the target holds any record or index entry.
fn has_records(src: &dyn KvSource) -> anyhow::Result<bool> {
    let mut any = false;
    let _ = src
        .scan(&[P_RRSET], Some(&[P_META]), &mut ScanStats::default(), &mut |_, _, _| {
            any = true;
            ControlFlow::Break(())
        })
        .context("checking whether the target is empty")?;
    Ok(any)
}

/// Runs `dnsledger migrate`.
pub fn run(a: MigrateArgs) -> anyhow::Result<ExitCode> {
    if a.to != "clickhouse" {
        bail!("--to {:?}: only clickhouse is supported", a.to);
    }
    let source = RocksStore::open(&a.from, RocksStoreOptions { read_only: true, ..Default::default() })
        .with_context(|| format!("opening store {}", a.from.display()))?;
    let stats = source.stats().context("reading the source's statistics")?;
    let mut sensors = stats.sensors;
    let opts = a.target.options()?;
    let what = describe_clickhouse(&opts);
    let target = open_clickhouse(&opts)?;
    if !a.append && has_records(&target)? {
        bail!(
            "{what} already holds records: copying into it would add the counts together \
             (use a fresh database, or --append to do so on purpose)"
        );
    }
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    if !a.quiet {
        eprintln!("migrate: {} (about {} entries) -> {what}", a.from.display(), stats.entries);
    }
    let mut progress = Progress::new(a.quiet, stats.entries, Duration::from_secs(a.progress_secs));
    let mut writer = target.entry_writer();
    let mut n = Counts::default();
    let mut failed: Option<anyhow::Error> = None;
    let mut interrupted = false;
    let mut scan_stats = ScanStats::default();
    let scanned = source.scan(&[], None, &mut scan_stats, &mut |k, v, _| {
        if let Err(e) = copy_entry(&mut writer, k, v, &mut sensors, &mut n) {
            failed = Some(e);
            return ControlFlow::Break(());
        }
        if n.seen() % PROGRESS_EVERY == 0 {
            progress.update(&n);
            if stop.load(Ordering::Relaxed) {
                interrupted = true;
                return ControlFlow::Break(());
            }
        }
        ControlFlow::Continue(())
    });
    progress.update(&n);
    progress.finish();
    if let Some(e) = failed {
        return Err(e.context(format!("writing to {what} (the copy is incomplete)")));
    }
    let _ = scanned.with_context(|| format!("reading {} (the copy is incomplete)", a.from.display()))?;
    // what was read is written, also when interrupted
    let written = writer.finish().with_context(|| format!("writing to {what} (the copy is incomplete)"))?;
    let secs = progress.start.elapsed().as_secs_f64().max(1e-6);
    eprintln!(
        "migrate: {} -> {what}: {} entries read, {written} written in {secs:.1} s ({:.0} entries/s)",
        a.from.display(),
        n.seen(),
        n.seen() as f64 / secs
    );
    eprintln!("  rrset records         {}", n.rrsets);
    eprintln!("  address index         {}", n.ip_index);
    eprintln!("  rdata name index      {}", n.name_index);
    eprintln!("  raw rdata index       {}", n.raw_index);
    eprintln!("  names index           {}", n.names);
    eprintln!("  import checkpoints    {}", n.checkpoints);
    eprintln!("  not copied            {} (the embedded store's schema and sensor registry)", n.skipped);
    if interrupted {
        eprintln!(
            "migrate: interrupted: the target holds a partial copy; drop its database, run \
             `dnsledger clickhouse init` and migrate again"
        );
        return Ok(ExitCode::FAILURE);
    }
    if n.corrupt > 0 {
        eprintln!("migrate: {} entries of the source could not be decoded and were not copied", n.corrupt);
        return Ok(ExitCode::from(EXIT_CORRUPT));
    }
    Ok(ExitCode::SUCCESS)
}
