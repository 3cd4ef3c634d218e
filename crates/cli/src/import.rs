//! `dnsledger import`: files into the embedded store, with progress and a summary.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use dnsledger_ingest::{import, ImportError, ImportOptions, Input, LineError, Progress, Reporter, Summary};
use dnsledger_sources::{Format, SourceOptions};
use dnsledger_store::Store;
use dnsledger_store_rocksdb::RocksStoreOptions;

use crate::backend::StoreArgs;

/// Exit status when `--strict` is given and lines were rejected.
const EXIT_REJECTED: u8 = 3;
/// Rejected lines printed in full before the rest are only counted.
const ERRORS_SHOWN: u64 = 50;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
FORMATS (docs/collectors.md describes each):
  passivedns    gamelinux/passivedns `||` logs (-f SMcsCQTAtn) and -j JSON lines. Alias: gamelinux.
  ndjson        dnsledger NDJSON observations; COF (passive DNS Common Output Format). Alias: cof.
  dnsdb         DNSDB exports: SAF streams and NDJSON rrset/rdata objects. Alias: saf.
  zeek          Zeek dns.log, TSV (header-driven) or JSON.
  suricata      Suricata EVE dns events (v1, v2 detailed and grouped, v3). Alias: eve.
  gopassivedns  gopassivedns JSON lines.
  packetbeat    packetbeat DNS events.
  route53       AWS Route 53 Resolver query logs (public hosted zone logs carry no answers).
  gcp           Google Cloud DNS query logs (Cloud Logging JSON).
  azure         Azure Firewall DNS proxy and Azure DNS query logs (see the docs for which carry answers).
  zone          RFC 1035 zone files (zone times; --zone-time, --origin, --allow-include).
  dnstap        dnstap Frame Streams files (as written by Unbound, BIND, Knot, NSD, fstrm_capture).
  batch         dnsledger sensor batches (files a sensor spooled, `*.dlb.gz`).
  Without --format the format is guessed from the first bytes. gzip-compressed input is read as is.

RESUMING:
  A file's progress is stored with the data it completes. If an import is interrupted, running it
  again continues after the last stored batch; a fully imported file is skipped (use --force to
  import it again); a file that grew since is imported from where the last import ended.
  Zone files have no usable mid-file checkpoint and are re-read from the start.

FOLLOWING:
  --follow keeps reading files as they grow (like tail -F): new complete lines are stored every
  --flush-secs, a file replaced by log rotation is finished and the new one read from its start,
  a truncated file is read again from its start. SIGINT/SIGTERM stop after storing what was read.
  From standard input, lines are stored at least every --flush-secs while the stream stays open.

EXIT STATUS:
  0 success, 1 error (nothing after the failing batch was stored), 3 lines rejected with --strict.")]
pub struct ImportArgs {
    /// Files to import; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<String>,

    /// Input format (see FORMATS; default: guessed from the first bytes).
    #[arg(long, short = 'F', value_parser = parse_format)]
    format: Option<InputFormat>,

    /// Keep negative answers (NXDOMAIN, NODATA) where the source logs them.
    #[arg(long)]
    negative: bool,

    /// Zone files: the time recorded as zone first/last seen (default: now).
    #[arg(long, value_name = "TIME")]
    zone_time: Option<String>,

    /// Zone files: the origin before any $ORIGIN line.
    #[arg(long, value_name = "NAME")]
    origin: Option<String>,

    /// Zone files: allow $INCLUDE of files inside this directory (refused otherwise).
    #[arg(long, value_name = "DIR")]
    allow_include: Option<std::path::PathBuf>,

    /// Keep reading files as they grow, across rotation, until SIGINT/SIGTERM.
    #[arg(long, short = 'f')]
    follow: bool,

    /// With --follow or a stdin stream: store what was read at least this often.
    #[arg(long, default_value_t = 5, value_name = "SECS")]
    flush_secs: u64,

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

    /// Check everything imported against the watchlists ([analytics] watch_dir, or watchlists/
    /// in the data dir) and raise alerts to the journal and the lists' sinks.
    #[arg(long)]
    watch: bool,

    /// Write a batch once about this many MiB of aggregated records are pending.
    #[arg(long, default_value_t = 256)]
    batch_mib: usize,

    #[command(flatten)]
    store: StoreArgs,
}

/// A `--format` value: a line/frame format, or sensor batch files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InputFormat {
    /// One of the parsed formats.
    Parsed(Format),
    /// dnsledger sensor batch files.
    Batch,
}

fn parse_format(s: &str) -> Result<InputFormat, String> {
    if s.eq_ignore_ascii_case("batch") {
        return Ok(InputFormat::Batch);
    }
    Format::parse(s).map(InputFormat::Parsed).ok_or_else(|| {
        let names: Vec<&str> = Format::ALL.iter().map(|(_, n)| *n).chain(["batch"]).collect();
        format!("unknown format {s:?}: expected one of {}", names.join(", "))
    })
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
    if s.interrupted {
        eprintln!("  interrupted: what was read is stored; run the import again to continue");
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
    let file = a.store.load_config()?;
    let target = a.store.target(&file)?;
    let store = crate::backend::open(&target, RocksStoreOptions { sync_writes: !a.no_sync, ..Default::default() })?;
    let watcher = if a.watch {
        let w = crate::watch::open_watcher(&file, &target)?.ok_or_else(|| {
            anyhow::anyhow!("--watch: no watch directory (set [analytics] watch_dir for a ClickHouse store)")
        })?;
        if w.lists().is_empty() && !a.quiet {
            eprintln!("--watch: no watchlists in {}", w.dir().path().display());
        }
        Some(w)
    } else {
        None
    };
    let store: Arc<dyn Store> = match &watcher {
        Some(w) => Arc::new(dnsledger_watch::WatchingStore::new(store, w.clone())),
        None => store,
    };
    let result = run_on(&a, &*store);
    if let Some(w) = watcher {
        w.close(Duration::from_secs(30));
        if !a.quiet {
            eprintln!("watch: {} alert(s) raised (journal {})", w.raised(), w.journal_path().display());
        }
    }
    result
}

/// The import itself, on the (possibly watched) store.
fn run_on(a: &ImportArgs, store: &dyn Store) -> anyhow::Result<ExitCode> {
    let now = dnsledger_model::time::now();
    let zone_time = match &a.zone_time {
        Some(t) => {
            Some(dnsledger_model::time::parse_time(t, now).map_err(|e| anyhow::anyhow!("--zone-time {t:?}: {e}"))?)
        }
        None => None,
    };
    let origin = match &a.origin {
        Some(o) => {
            Some(dnsledger_model::Name::from_presentation(o).map_err(|e| anyhow::anyhow!("--origin {o:?}: {e}"))?)
        }
        None => None,
    };
    let include_dir = match &a.allow_include {
        Some(d) => Some(std::fs::canonicalize(d).with_context(|| format!("--allow-include {}", d.display()))?),
        None => None,
    };
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let mut opts = ImportOptions {
        format: match a.format {
            Some(InputFormat::Parsed(f)) => Some(f),
            _ => None,
        },
        source: SourceOptions { sensor: a.sensor.clone(), negative: a.negative, zone_time, origin, include_dir },
        force: a.force,
        max_batch_bytes: a.batch_mib.max(1) << 20,
        flush_every: Duration::from_secs(a.flush_secs.max(1)),
        stop: Some(stop.clone()),
        ..ImportOptions::default()
    };
    if let Some(t) = a.threads {
        if t == 0 {
            bail!("--threads must be at least 1");
        }
        opts.threads = t;
    }
    if a.follow {
        if a.files.iter().any(|f| f == "-") {
            bail!("--follow tails files; standard input is read until it closes without it");
        }
        if a.format == Some(InputFormat::Batch) {
            bail!("--follow tails growing logs; batch files are whole files");
        }
        return follow(store, a, opts, &stop);
    }
    let mut tally = Tally::default();
    for f in &a.files {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let input = Input::from_arg(f);
        let batch = match (&input, a.format) {
            (_, Some(InputFormat::Batch)) => true,
            (Input::File(p), None) => head_of(p).is_some_and(|h| dnsledger_ingest::is_batch_file(&h)),
            _ => false,
        };
        let result = match &input {
            Input::File(p) if batch => dnsledger_ingest::import_batch_file(store, p, a.force),
            _ => {
                let total = match &input {
                    Input::File(p) => std::fs::metadata(p).ok().map(|m| m.len()),
                    Input::Stdin => None,
                };
                let mut console = Console::new(a.quiet, total);
                let r = import(store, &input, &opts, &mut console);
                if let Some(bar) = &console.bar {
                    bar.finish_and_clear();
                }
                r
            }
        };
        tally.add(f, result, a.quiet)?;
    }
    Ok(tally.exit(a.strict))
}

/// What a run of several imports amounted to.
#[derive(Default)]
struct Tally {
    rejected: u64,
    damaged: u64,
}

impl Tally {
    /// Reports one import's result; a damaged input is reported and counted, other errors stop the run.
    fn add(&mut self, f: &str, result: Result<Summary, ImportError>, quiet: bool) -> anyhow::Result<()> {
        match result {
            Ok(summary) => {
                if !quiet {
                    print_summary(&summary);
                }
                self.rejected += summary.rejected_total();
            }
            Err(ImportError::Damaged { origin, offset, reason, summary }) => {
                if !quiet {
                    print_summary(&summary);
                }
                eprintln!("dnsledger: {origin}: damaged at byte {offset}: {reason} (everything before it was stored)");
                self.rejected += summary.rejected_total();
                self.damaged += 1;
            }
            Err(e) => return Err(anyhow::Error::new(e).context(format!("importing {f}"))),
        }
        Ok(())
    }

    fn exit(&self, strict: bool) -> ExitCode {
        if self.damaged > 0 {
            eprintln!("dnsledger: {} damaged input(s)", self.damaged);
            return ExitCode::from(EXIT_REJECTED);
        }
        if strict && self.rejected > 0 {
            eprintln!("dnsledger: {} line(s) rejected (--strict)", self.rejected);
            return ExitCode::from(EXIT_REJECTED);
        }
        ExitCode::SUCCESS
    }
}

/// The first bytes of a file, for telling batch files from logs.
fn head_of(p: &std::path::Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut head = Vec::new();
    std::fs::File::open(p).ok()?.take(512).read_to_end(&mut head).ok()?;
    Some(head)
}

/// One file being tailed: the handle opened last and the inode it refers to.
struct Tailed {
    path: std::path::PathBuf,
    file: Option<(std::fs::File, u64)>,
}

/// `--follow`: imports what was appended to each file every `--flush-secs`, across rotation.
fn follow(store: &dyn Store, a: &ImportArgs, mut opts: ImportOptions, stop: &AtomicBool) -> anyhow::Result<ExitCode> {
    use std::os::unix::fs::MetadataExt;
    opts.hold_partial = true;
    let poll = opts.flush_every;
    let mut tailed: Vec<Tailed> =
        a.files.iter().map(|f| Tailed { path: std::path::PathBuf::from(f), file: None }).collect();
    let mut tally = Tally::default();
    let mut total = (0u64, 0u64);
    if !a.quiet {
        eprintln!("following {} file(s); SIGINT or SIGTERM stops", tailed.len());
    }
    loop {
        let stopping = stop.load(Ordering::Relaxed);
        for t in &mut tailed {
            let current = std::fs::metadata(&t.path).ok().map(|m| m.ino());
            if t.file.is_none() {
                // not there yet (or gone): open when it appears
                match (current, std::fs::File::open(&t.path)) {
                    (Some(ino), Ok(f)) => t.file = Some((f, ino)),
                    _ => continue,
                }
            }
            let Some((handle, ino)) = &t.file else { continue };
            let rotated = current != Some(*ino);
            // a rotated file is complete: its last line is read even without a newline
            let o = ImportOptions { hold_partial: !rotated, ..opts.clone() };
            let handle = handle.try_clone().with_context(|| format!("{}", t.path.display()))?;
            let mut console = Console::new(true, None);
            match dnsledger_ingest::import_file(store, &t.path, handle, &o, &mut console) {
                Ok(s) if s.lines > 0 || s.rejected_total() > 0 => {
                    total.0 += s.lines;
                    total.1 += s.observations;
                    if !a.quiet {
                        eprintln!(
                            "{}: +{} lines, +{} observations, {} rejected (total {} lines, {} observations)",
                            s.origin,
                            s.lines,
                            s.observations,
                            s.rejected_total(),
                            total.0,
                            total.1
                        );
                    }
                    tally.rejected += s.rejected_total();
                }
                Ok(_) => {}
                Err(e @ ImportError::Damaged { .. }) => tally.add(&t.path.display().to_string(), Err(e), true)?,
                Err(e) => return Err(anyhow::Error::new(e).context(format!("following {}", t.path.display()))),
            }
            if rotated {
                if !a.quiet {
                    eprintln!("{}: rotated; reading the new file from its start", t.path.display());
                }
                t.file = None;
            }
        }
        if stopping {
            break;
        }
        let until = Instant::now() + poll;
        while Instant::now() < until && !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(tally.exit(a.strict))
}
