//! `dnsledger import`: files into the embedded store, with progress and a summary.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dnsledger_ingest::{import, ImportOptions, Input, LineError, Progress, Reporter, Summary};
use dnsledger_sources::{Format, SourceOptions};
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};

use crate::StoreArgs;

/// Exit status when `--strict` is given and lines were rejected.
const EXIT_REJECTED: u8 = 3;
/// Rejected lines printed in full before the rest are only counted.
const ERRORS_SHOWN: u64 = 50;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
FORMATS:
  passivedns  gamelinux/passivedns logs: `ts||client||server||class||query||type||answer||ttl||count`
              (the default -f SMcsCQTAtn layout) and its -j JSON lines. Alias: gamelinux.
  ndjson      dnsledger NDJSON observations (docs/formats.md); COF records import as they are.
  Without --format the format is guessed from the first lines.

RESUMING:
  A file's progress is stored with the data it completes. If an import is interrupted, running it
  again continues after the last stored batch; a fully imported file is skipped (use --force to
  import it again); a file that grew since is imported from where the last import ended.

EXIT STATUS:
  0 success, 1 error (nothing after the failing batch was stored), 3 lines rejected with --strict.")]
pub struct ImportArgs {
    /// Files to import; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,

    /// Input format: passivedns or ndjson (default: guessed).
    #[arg(long, short = 'F', value_parser = parse_format)]
    format: Option<Format>,

    /// Sensor/source id recorded with observations that do not carry one.
    #[arg(long)]
    sensor: Option<String>,

    /// Exit with status 3 if any line was rejected (the rest is still imported).
    #[arg(long)]
    strict: bool,

    /// Import files again even if they were fully imported before.
    #[arg(long)]
    force: bool,

    /// Parser threads (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,

    /// Do not show progress.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Do not fsync each batch (faster bulk loads; a machine crash may lose the last batches).
    #[arg(long)]
    no_sync: bool,

    /// Write a batch once about this many MiB of aggregated records are pending.
    #[arg(long, default_value_t = 256)]
    batch_mib: usize,

    #[command(flatten)]
    store: StoreArgs,
}

fn parse_format(s: &str) -> Result<Format, String> {
    Format::parse(s).ok_or_else(|| format!("unknown format {s:?}: expected passivedns or ndjson"))
}

/// Progress on a terminal (a bar) or as periodic lines, and rejected lines with file:line.
struct Console {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    last_line: Instant,
    errors: u64,
}

impl Console {
    fn new(quiet: bool, total: Option<u64>) -> Console {
        let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let bar = match total {
                Some(t) => indicatif::ProgressBar::new(t),
                None => indicatif::ProgressBar::no_length(),
            };
            let style = indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {bytes}/{total_bytes} ({bytes_per_sec}) {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
            bar.set_style(style);
            bar
        });
        Console { bar, quiet, last_line: Instant::now(), errors: 0 }
    }
}

impl Reporter for Console {
    fn progress(&mut self, p: &Progress) {
        let rate = p.observations as f64 / p.elapsed.as_secs_f64().max(1e-6);
        if let Some(bar) = &self.bar {
            bar.set_position(p.bytes);
            bar.set_message(format!("{} lines, {} obs, {:.0} obs/s", p.lines, p.observations, rate));
        } else if !self.quiet && self.last_line.elapsed() >= Duration::from_secs(5) {
            self.last_line = Instant::now();
            let pct = p
                .total_bytes
                .filter(|&t| t > 0)
                .map(|t| format!(" ({:.1}%)", p.bytes as f64 * 100.0 / t as f64))
                .unwrap_or_default();
            eprintln!(
                "import: {} bytes{pct}, {} lines, {} observations, {:.0} obs/s",
                p.bytes, p.lines, p.observations, rate
            );
        }
    }

    fn error(&mut self, e: &LineError) {
        self.errors += 1;
        let msg = if self.errors <= ERRORS_SHOWN {
            Some(format!("{e}"))
        } else if self.errors == ERRORS_SHOWN + 1 {
            Some("(further rejected lines are only counted; see the summary)".to_string())
        } else {
            None
        };
        if let Some(m) = msg {
            match &self.bar {
                Some(bar) => bar.suspend(|| eprintln!("{m}")),
                None => eprintln!("{m}"),
            }
        }
    }
}

fn print_summary(s: &Summary) {
    if s.already_imported {
        eprintln!("{}: already imported completely; nothing to do (use --force to import it again)", s.origin);
        return;
    }
    let secs = s.elapsed.as_secs_f64().max(1e-6);
    eprintln!("{}: {}", s.origin, s.format.map(Format::name).unwrap_or("?"));
    if let Some((off, lines)) = s.resumed_from {
        eprintln!("  resumed after byte {off} (line {lines}) of an earlier import");
    }
    eprintln!("  lines read            {}", s.lines);
    eprintln!("  observations accepted {}", s.observations);
    eprintln!("  lines rejected        {}", s.rejected_total());
    for (reason, n) in &s.rejected {
        eprintln!("    {reason:<20} {n}");
    }
    if !s.skipped.is_empty() {
        eprintln!("  lines skipped         {}", s.skipped.values().sum::<u64>());
        for (reason, n) in &s.skipped {
            eprintln!("    {reason:<20} {n}");
        }
    }
    eprintln!(
        "  records touched       {} (in {} batch{})",
        s.records,
        s.batches,
        if s.batches == 1 { "" } else { "es" }
    );
    eprintln!("  elapsed               {:.2} s", secs);
    eprintln!(
        "  rate                  {:.0} obs/s, {:.1} MB/s",
        s.observations as f64 / secs,
        s.bytes as f64 / secs / 1e6
    );
}

/// Runs `dnsledger import`.
pub fn run(a: ImportArgs) -> anyhow::Result<ExitCode> {
    let store =
        RocksStore::open(&a.store.data_dir, RocksStoreOptions { sync_writes: !a.no_sync, ..Default::default() })
            .with_context(|| format!("opening store {}", a.store.data_dir.display()))?;
    let mut opts = ImportOptions {
        format: a.format,
        source: SourceOptions { sensor: a.sensor.clone(), ..Default::default() },
        force: a.force,
        max_batch_bytes: a.batch_mib.max(1) << 20,
        ..ImportOptions::default()
    };
    if let Some(t) = a.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        opts.threads = t;
    }
    let mut rejected = 0;
    for f in &a.files {
        let input = Input::from_arg(f);
        let total = match &input {
            Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
            Input::Stdin => None,
        };
        let mut console = Console::new(a.quiet, total);
        let result = import(&store, &input, &opts, &mut console);
        if let Some(bar) = &console.bar {
            bar.finish_and_clear();
        }
        let summary = result.with_context(|| format!("importing {f}"))?;
        if !a.quiet {
            print_summary(&summary);
        }
        rejected += summary.rejected_total();
    }
    if a.strict && rejected > 0 {
        eprintln!("dnsledger: {rejected} line(s) rejected (--strict)");
        return Ok(ExitCode::from(EXIT_REJECTED));
    }
    Ok(ExitCode::SUCCESS)
}
