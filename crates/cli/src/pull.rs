//! `dnsledger pull`: backfill from a configured upstream into the store (the pull ledger makes
//! it idempotent; see `dnsledger_federation::pull`), and the scheduled pulls `serve` runs for
//! `[[upstream]]` entries with `pull_every` and `pull_indicators` and/or `pull_watchlists`.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use dnsledger_federation::pull::{self, PullReport};
use dnsledger_federation::{Federation, Upstream, UpstreamQuery};
use dnsledger_store::Store;

use crate::backend::StoreArgs;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  dnsledger pull --config dnsledger.toml --source dnsdb --query rrset/name/example.com/A
  dnsledger pull --config dnsledger.toml --source circl --query rdata/ip/192.0.2.1
  dnsledger pull --config dnsledger.toml --source dnsdb --indicators watch.txt

Pulling the same answer again adds nothing: the store keeps, per upstream and owner name, the
upstream counts it already holds, and writes only what grew. Records are stored with the sensor
id upstream:NAME. The upstream's remaining quota (DNSDB rate_limit) bounds how many queries a
run sends; a 429 stops the run.")]
pub struct PullArgs {
    /// The `[[upstream]]` name in the configuration file.
    #[arg(long, value_name = "NAME")]
    source: String,

    /// A lookup in DNSDB path form: rrset/name/NAME[/TYPE[/BAILIWICK]], rdata/name/NAME[/TYPE],
    /// rdata/ip/IP[,LEN], rrset/raw/HEX, rdata/raw/HEX; repeatable.
    #[arg(long, value_name = "LOOKUP", required_unless_present = "indicators")]
    query: Vec<String>,

    /// A file of lookups, one a line: a name, an address, or a lookup in DNSDB path form.
    #[arg(long, value_name = "FILE")]
    indicators: Option<std::path::PathBuf>,

    /// Print one JSON report per query instead of text.
    #[arg(long)]
    json: bool,

    #[command(flatten)]
    store: StoreArgs,
}

/// Runs `dnsledger pull`.
pub fn run(a: PullArgs) -> anyhow::Result<ExitCode> {
    let file = a.store.load_config()?;
    let problems = dnsledger_federation::config::check_all(&file.upstream);
    if !problems.is_empty() {
        bail!("[[upstream]] configuration: {}", problems.join("; "));
    }
    let fed = Federation::new(file.upstream.clone());
    let up = fed.get(&a.source).ok_or_else(|| {
        let known: Vec<&str> = fed.all().iter().map(|u| u.name()).collect();
        anyhow!(
            "--source {:?}: no such [[upstream]] in the configuration (known: {})",
            a.source,
            if known.is_empty() { "none; pass --config FILE".to_string() } else { known.join(", ") }
        )
    })?;
    let mut queries = Vec::new();
    for q in &a.query {
        queries.push(UpstreamQuery::parse(q).map_err(|e| anyhow!("--query {e}"))?);
    }
    if let Some(p) = &a.indicators {
        let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
        queries.extend(pull::read_indicators(&text).map_err(|e| anyhow!("{}: {e}", p.display()))?);
    }
    let (target, store) = crate::backend::open_configured(&a.store, Default::default())?;
    let reports = pull::pull_many(&*store, up, &queries).context("writing pulled records")?;
    store.flush().context("flushing the store")?;
    let mut failed = 0;
    for r in &reports {
        if r.error.is_some() {
            failed += 1;
        }
        if a.json {
            println!("{}", report_json(up.name(), r));
        } else {
            println!("{}", report_line(r));
        }
    }
    eprintln!(
        "pulled {} of {} lookup(s) from {} into {}",
        reports.len() - failed,
        reports.len(),
        up.name(),
        target.describe()
    );
    Ok(if failed > 0 { ExitCode::FAILURE } else { ExitCode::SUCCESS })
}

fn report_json(upstream: &str, r: &PullReport) -> serde_json::Value {
    serde_json::json!({
        "source": upstream,
        "query": r.query,
        "received": r.received,
        "written": r.written,
        "count_added": r.count_added,
        "limited": r.limited,
        "error": r.error,
    })
}

fn report_line(r: &PullReport) -> String {
    let mut s = format!(
        "{}: {} received, {} record(s) written, +{} sighting(s)",
        r.query, r.received, r.written, r.count_added
    );
    if r.limited {
        s.push_str(", limited by the upstream");
    }
    if let Some(e) = &r.error {
        s.push_str(&format!(" — {e}"));
    }
    s
}

/// Starts one thread per `[[upstream]]` with scheduled pulls: it pulls the indicators file
/// (re-read every round, so edits apply without a restart) right away and then every
/// `pull_every`, until `stop` is set.
pub fn start_scheduled(
    fed: &Federation,
    store: &Arc<dyn Store>,
    watcher: Option<&Arc<dnsledger_watch::Watcher>>,
    stop: &Arc<AtomicBool>,
) -> anyhow::Result<Vec<std::thread::JoinHandle<()>>> {
    let mut threads = Vec::new();
    for up in fed.all() {
        let Some(every) = up.config.pull_interval().map_err(anyhow::Error::msg)? else { continue };
        let file = up.config.pull_indicators.clone();
        let lists = if up.config.pull_watchlists == Some(true) {
            if watcher.is_none() {
                tracing::warn!(upstream = up.name(), "pull_watchlists: no watchlists are configured");
            }
            watcher.cloned()
        } else {
            None
        };
        let (up, store, stop) = (up.clone(), store.clone(), stop.clone());
        tracing::info!(
            upstream = up.name(),
            file = file.as_ref().map(|f| f.display().to_string()),
            watchlists = lists.is_some(),
            every_secs = every.as_secs(),
            "scheduled pulls"
        );
        let t = std::thread::Builder::new()
            .name(format!("pull-{}", up.name()))
            .spawn(move || loop {
                scheduled_round(&up, &*store, file.as_deref(), lists.as_deref());
                let until = Instant::now() + every;
                while Instant::now() < until {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    std::thread::sleep(Duration::from_millis(200).min(until.saturating_duration_since(Instant::now())));
                }
                if stop.load(Ordering::Relaxed) {
                    return;
                }
            })
            .context("starting a scheduled pull thread")?;
        threads.push(t);
    }
    Ok(threads)
}

/// The lookups of the watchlists' entries (a name, `*.zone`, an address, prefix or range each).
fn watchlist_queries(w: &dnsledger_watch::Watcher) -> Vec<dnsledger_federation::UpstreamQuery> {
    let mut seen = std::collections::BTreeSet::new();
    let text: Vec<String> = w
        .lists()
        .iter()
        .flat_map(|l| l.entries.iter().map(|e| e.value.trim().to_string()).collect::<Vec<_>>())
        .filter(|v| seen.insert(v.clone()))
        .collect();
    let mut out = Vec::new();
    for v in text {
        match pull::read_indicators(&v) {
            Ok(q) => out.extend(q),
            Err(e) => tracing::warn!(entry = %v, error = %e, "scheduled pull: watchlist entry not pullable"),
        }
    }
    out
}

fn scheduled_round(
    up: &Upstream,
    store: &dyn Store,
    file: Option<&std::path::Path>,
    lists: Option<&dnsledger_watch::Watcher>,
) {
    let mut queries = Vec::new();
    if let Some(file) = file {
        match std::fs::read_to_string(file).map_err(|e| e.to_string()).and_then(|t| pull::read_indicators(&t)) {
            Ok(q) => queries.extend(q),
            Err(e) => {
                tracing::error!(upstream = up.name(), file = %file.display(), error = %e, "scheduled pull: indicators not read");
            }
        }
    }
    if let Some(w) = lists {
        queries.extend(watchlist_queries(w));
    }
    if queries.is_empty() {
        return;
    }
    match pull::pull_many(store, up, &queries) {
        Ok(reports) => {
            let failed: Vec<&PullReport> = reports.iter().filter(|r| r.error.is_some()).collect();
            let added: u64 = reports.iter().map(|r| r.count_added).sum();
            let written: u64 = reports.iter().map(|r| r.written).sum();
            tracing::info!(
                upstream = up.name(),
                lookups = reports.len(),
                failed = failed.len(),
                written,
                sightings_added = added,
                "scheduled pull done"
            );
            for r in failed {
                tracing::warn!(upstream = up.name(), query = %r.query, error = r.error.as_deref().unwrap_or(""), "scheduled pull incomplete");
            }
        }
        Err(e) => tracing::error!(upstream = up.name(), error = %e, "scheduled pull: store write failed"),
    }
}
