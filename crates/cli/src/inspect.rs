//! `dnsledger check` and `dnsledger stats`: one pass over a whole store through the shared
//! layout (`dnsledger_store::layout::survey`), on the embedded store or ClickHouse.
//!
//! The embedded store is opened read-only, so both work while `dnsledger serve` holds it: they
//! see the store as it was when they opened it. `check` reads through RocksDB with block
//! checksum verification and without filling the block cache, and also checks that every SST
//! file the store lists is there with its recorded size.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use dnsledger_model::time::format_human;
use dnsledger_model::RrType;
use dnsledger_store::layout::survey::{self, CheckOptions, CheckReport, Survey};
use dnsledger_store::layout::KvSource;
use dnsledger_store::Store;
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
use serde_json::json;

use crate::backend::{describe_clickhouse, open_clickhouse, StoreArgs, Target};

/// `dnsledger check`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Reads every entry of the store once: block checksums (embedded store), every key and value
decodes, keys in order, every sensor id registered, and the address, rdata-name, raw-rdata and
name indexes agree with the RRset records (entries and their counts and times). Exit status 0
when clean, 1 with a report when not. Works while `dnsledger serve` runs: the embedded store is
opened read-only and checked as it was when the check opened it.

EXAMPLES:
  dnsledger check --data-dir /var/lib/dnsledger
  dnsledger check --config /etc/dnsledger/dnsledger.toml --json
  dnsledger check --clickhouse http://ch1:8123 --clickhouse http://ch2:8123")]
pub struct CheckArgs {
    /// The store (embedded directory, or ClickHouse), as for the other commands.
    #[command(flatten)]
    store: StoreArgs,

    /// Print the report as one JSON document.
    #[arg(long)]
    json: bool,

    /// Most problems listed (all are counted).
    #[arg(long, default_value_t = 100, value_name = "N")]
    max_problems: usize,

    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// `dnsledger stats`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Counts RRset records per type (with the observations they stand for), negative records, index
entries, records per sensor, the oldest and newest data, disk use and import checkpoints, from
one pass over the store (read-only: works while `dnsledger serve` runs).")]
pub struct StatsArgs {
    /// The store (embedded directory, or ClickHouse), as for the other commands.
    #[command(flatten)]
    store: StoreArgs,

    /// Print the figures as one JSON document.
    #[arg(long)]
    json: bool,

    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// A store opened for reading the whole of it.
pub enum Opened {
    /// The embedded store, read-only.
    Rocks(RocksStore),
    /// ClickHouse.
    ClickHouse(dnsledger_store_clickhouse::ClickHouseStore),
}

impl Opened {
    /// Opens what `target` names, read-only for the embedded store.
    pub fn open(target: &Target) -> anyhow::Result<Opened> {
        Ok(match target {
            Target::RocksDb(dir) => Opened::Rocks(open_read_only(dir)?),
            Target::ClickHouse(o) => Opened::ClickHouse(open_clickhouse(o)?),
        })
    }

    fn store(&self) -> &dyn Store {
        match self {
            Opened::Rocks(s) => s,
            Opened::ClickHouse(s) => s,
        }
    }
}

/// Opens an embedded store read-only (small cache: whole-store passes do not fill it).
pub fn open_read_only(dir: &std::path::Path) -> anyhow::Result<RocksStore> {
    let opts = RocksStoreOptions { read_only: true, cache_bytes: 8 << 20, ..Default::default() };
    RocksStore::open(dir, opts).with_context(|| format!("opening store {} read-only", dir.display()))
}

/// Progress of a pass: a bar on a terminal, a line every 10 s otherwise, nothing when quiet.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    quiet: bool,
    what: &'static str,
    start: Instant,
    last_line: Instant,
    estimate: u64,
}

impl Progress {
    fn new(what: &'static str, quiet: bool, estimate: u64) -> Progress {
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
        let now = Instant::now();
        Progress { bar, quiet, what, start: now, last_line: now, estimate }
    }

    fn update(&mut self, s: &Survey) {
        if let Some(bar) = &self.bar {
            if s.entries > bar.length().unwrap_or(0) {
                bar.set_length(s.entries);
            }
            bar.set_position(s.entries);
            bar.set_message(format!("{} records", s.records().records));
        } else if !self.quiet && self.last_line.elapsed() >= Duration::from_secs(10) {
            self.last_line = Instant::now();
            let rate = s.entries as f64 / self.start.elapsed().as_secs_f64().max(1e-6);
            eprintln!(
                "{}: {} of about {} entries ({} records), {rate:.0} entries/s",
                self.what,
                s.entries,
                self.estimate.max(s.entries),
                s.records().records
            );
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The check of an embedded store: its SST files, then the verifying pass. File problems
/// come first in the report's list (kind `engine`).
pub fn check_rocks(store: &RocksStore, max_problems: usize, quiet: bool) -> anyhow::Result<(CheckReport, f64)> {
    let missing = store.verify_files().context("listing the store's files")?;
    let stats = store.stats().context("reading the store's figures")?;
    let registered: Vec<String> = stats.sensors.into_iter().filter(|s| !s.is_empty()).collect();
    let (mut report, secs) = run_check(&store.verified(), registered, max_problems, quiet, stats.entries)?;
    for m in missing.into_iter().rev() {
        report.problem_count += 1;
        *report.problem_kinds.entry("engine").or_default() += 1;
        report.problems.insert(
            0,
            survey::Problem { kind: "engine", key: None, reason: format!("SST file missing or damaged: {m}") },
        );
    }
    report.problems.truncate(max_problems);
    Ok((report, secs))
}

fn run_check(
    src: &dyn KvSource,
    registered: Vec<String>,
    max_problems: usize,
    quiet: bool,
    estimate: u64,
) -> anyhow::Result<(CheckReport, f64)> {
    let opts = CheckOptions { max_problems, registered_sensors: Some(registered) };
    let mut progress = Progress::new("check", quiet, estimate);
    let started = Instant::now();
    let report = survey::check(src, &opts, &mut |s| progress.update(s));
    progress.finish();
    Ok((report.context("checking the store")?, started.elapsed().as_secs_f64()))
}

/// Runs `dnsledger check`.
pub fn check(a: CheckArgs) -> anyhow::Result<ExitCode> {
    let config = a.store.load_config()?;
    let target = a.store.target(&config)?;
    let opened = Opened::open(&target)?;
    let (report, secs) = match &opened {
        Opened::Rocks(s) => check_rocks(s, a.max_problems, a.quiet)?,
        Opened::ClickHouse(s) => {
            let stats = s.stats().context("reading the store's figures")?;
            run_check(s, stats.sensors, a.max_problems, a.quiet, stats.entries)?
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&check_json(&target, &report, secs))?);
    } else {
        print!("{}", check_text(&target, &report, secs));
    }
    Ok(if report.is_clean() { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// Runs `dnsledger stats`.
pub fn stats(a: StatsArgs) -> anyhow::Result<ExitCode> {
    let config = a.store.load_config()?;
    let target = a.store.target(&config)?;
    let opened = Opened::open(&target)?;
    let store_stats = opened.store().stats().context("reading the store's figures")?;
    let gauges = opened.store().gauges();
    let mut progress = Progress::new("stats", a.quiet, store_stats.entries);
    let started = Instant::now();
    let result = match &opened {
        Opened::Rocks(s) => survey::survey(s, &mut |x| progress.update(x)),
        Opened::ClickHouse(s) => survey::survey(s, &mut |x| progress.update(x)),
    };
    progress.finish();
    let s = result.context("reading the store")?;
    let secs = started.elapsed().as_secs_f64();
    let view = StatsView { target: &target, s: &s, disk_bytes: store_stats.disk_bytes, gauges: &gauges, secs };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&view.json())?);
    } else {
        print!("{}", view.text());
    }
    Ok(ExitCode::SUCCESS)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Bytes with a binary unit.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[u])
    }
}

fn type_name(t: u16) -> String {
    RrType(t).to_string()
}

fn describe(target: &Target) -> String {
    match target {
        Target::RocksDb(dir) => format!("{} (embedded store)", dir.display()),
        Target::ClickHouse(o) => describe_clickhouse(o),
    }
}

fn range(r: Option<(u64, u64)>) -> String {
    match r {
        Some((a, b)) => format!("{} .. {} UTC", format_human(a), format_human(b)),
        None => "none".into(),
    }
}

fn range_json(r: Option<(u64, u64)>) -> serde_json::Value {
    match r {
        Some((a, b)) => json!({ "first": a, "last": b }),
        None => serde_json::Value::Null,
    }
}

/// The progress stored by file imports (`v1|v2 OFFSET LINES …`), readably.
fn checkpoint_text(progress: &[u8]) -> String {
    let text = String::from_utf8_lossy(progress);
    let f: Vec<&str> = text.split(' ').collect();
    match f.as_slice() {
        [v, offset, lines, ..] if (*v == "v1" || *v == "v2") && offset.parse::<u64>().is_ok() => {
            let done = f.get(5).and_then(|x| x.parse::<u8>().ok()).is_some_and(|flags| flags & 1 != 0);
            let offset: u64 = offset.parse().unwrap_or(0);
            format!(
                "{} read, {} lines{}",
                human_bytes(offset),
                thousands(lines.parse().unwrap_or(0)),
                if done { ", complete" } else { "" }
            )
        }
        _ => text.chars().take(60).collect(),
    }
}

fn survey_json(s: &Survey) -> serde_json::Value {
    let types: serde_json::Map<String, serde_json::Value> = s
        .rrtypes
        .iter()
        .map(|(t, c)| (type_name(*t), json!({ "records": c.records, "observations": c.observations })))
        .collect();
    let negative: serde_json::Map<String, serde_json::Value> = s
        .negative
        .iter()
        .map(|(k, c)| (k.to_string(), json!({ "records": c.records, "observations": c.observations })))
        .collect();
    let total = s.records();
    json!({
        "entries": s.entries,
        "records": total.records,
        "observations": total.observations,
        "rrtypes": types,
        "negative": negative,
        "index": {
            "ipv4": s.index.ipv4,
            "ipv6": s.index.ipv6,
            "rdata_name": s.index.rdata_name,
            "raw_rdata": s.index.raw,
            "owner_names": s.index.owner_names,
            "target_names": s.index.target_names,
        },
        "seen": range_json(s.seen),
        "zone": range_json(s.zone),
        "sensors": s.sensors.iter().map(|x| json!({ "id": x.id, "name": x.name, "records": x.records })).collect::<Vec<_>>(),
        "records_without_sensor": s.without_sensor,
        "checkpoints": s.checkpoints.iter().map(|c| json!({
            "source": c.source,
            "progress": String::from_utf8_lossy(&c.progress),
        })).collect::<Vec<_>>(),
        "sensor_batch_ids": s.batch_ids,
        "schema": s.schema,
        "undecodable": s.undecodable,
        "complete": s.complete,
    })
}

/// The figures `dnsledger stats` prints.
struct StatsView<'a> {
    target: &'a Target,
    s: &'a Survey,
    disk_bytes: u64,
    gauges: &'a [dnsledger_store::Gauge],
    secs: f64,
}

impl StatsView<'_> {
    fn json(&self) -> serde_json::Value {
        let mut v = survey_json(self.s);
        v["store"] = json!(describe(self.target));
        v["disk_bytes"] = json!(self.disk_bytes);
        v["seconds"] = json!((self.secs * 1000.0).round() / 1000.0);
        v["engine"] = self.gauges.iter().map(|g| (g.name.to_string(), json!(g.value))).collect();
        v
    }

    fn text(&self) -> String {
        use std::fmt::Write;
        let s = self.s;
        let total = s.records();
        let negative: u64 = s.negative.values().map(|c| c.records).sum();
        let mut o = String::new();
        let _ = writeln!(o, "store         {}", describe(self.target));
        if let Some(schema) = &s.schema {
            let _ = writeln!(o, "schema        {schema}");
        }
        let sst = self.gauges.iter().find(|g| g.name == "dnsledger_store_live_sst_bytes");
        let _ = write!(o, "disk          {}", human_bytes(self.disk_bytes));
        if let Some(g) = sst.filter(|g| g.value > 0.0) {
            let _ = write!(o, " ({} in live SST files)", human_bytes(g.value as u64));
        }
        o.push('\n');
        let _ = writeln!(
            o,
            "records       {} RRsets ({} negative) standing for {} observations",
            thousands(total.records),
            thousands(negative),
            thousands(total.observations)
        );
        let _ = writeln!(o, "seen          {}", range(s.seen));
        let _ = writeln!(o, "zone files    {}", range(s.zone));
        let _ = writeln!(o, "entries       {} read in {:.1} s", thousands(s.entries), self.secs);
        if s.undecodable > 0 {
            let _ = writeln!(o, "undecodable   {} entries (run `dnsledger check`)", thousands(s.undecodable));
        }
        let _ = writeln!(o, "\n{:<12} {:>14} {:>16}", "TYPE", "RECORDS", "OBSERVATIONS");
        let mut types: Vec<(String, u64, u64)> =
            s.rrtypes.iter().map(|(t, c)| (type_name(*t), c.records, c.observations)).collect();
        types.extend(s.negative.iter().map(|(k, c)| (k.to_string(), c.records, c.observations)));
        types.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (name, records, obs) in &types {
            let _ = writeln!(o, "{name:<12} {:>14} {:>16}", thousands(*records), thousands(*obs));
        }
        let _ = writeln!(o, "\n{:<20} {:>14}", "INDEX", "ENTRIES");
        for (name, n) in [
            ("address IPv4", s.index.ipv4),
            ("address IPv6", s.index.ipv6),
            ("rdata name", s.index.rdata_name),
            ("raw rdata", s.index.raw),
            ("owner names", s.index.owner_names),
            ("target names", s.index.target_names),
        ] {
            let _ = writeln!(o, "{name:<20} {:>14}", thousands(n));
        }
        let _ = writeln!(o, "\n{:<30} {:>14}", "SENSOR", "RECORDS");
        let mut sensors: Vec<(String, u64)> = s
            .sensors
            .iter()
            .map(|x| (x.name.clone().unwrap_or_else(|| format!("(unregistered id {})", x.id)), x.records))
            .collect();
        sensors.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        for (name, n) in &sensors {
            let _ = writeln!(o, "{name:<30} {:>14}", thousands(*n));
        }
        let _ = writeln!(o, "{:<30} {:>14}", "(none)", thousands(s.without_sensor));
        if !s.checkpoints.is_empty() || s.batch_ids > 0 {
            let _ = writeln!(o, "\nIMPORTS");
            for c in &s.checkpoints {
                let _ = writeln!(o, "  {}  {}", c.source, checkpoint_text(&c.progress));
            }
            if s.batch_ids > 0 {
                let _ = writeln!(o, "  {} sensor batches recorded (exactly-once HTTP ingest)", thousands(s.batch_ids));
            }
        }
        o
    }
}

fn check_json(target: &Target, r: &CheckReport, secs: f64) -> serde_json::Value {
    json!({
        "store": describe(target),
        "clean": r.is_clean(),
        "seconds": (secs * 1000.0).round() / 1000.0,
        "problem_count": r.problem_count,
        "problem_kinds": r.problem_kinds,
        "problems": r.problems.iter().map(|p| json!({
            "kind": p.kind,
            "key": p.key.as_deref().map(survey::hex),
            "reason": p.reason,
        })).collect::<Vec<_>>(),
        "indexes": r.indexes.iter().map(|a| json!({
            "index": a.index,
            "expected": a.expected,
            "present": a.present,
            "keys_agree": a.keys_agree,
            "values_agree": a.values_agree,
        })).collect::<Vec<_>>(),
        "survey": survey_json(&r.survey),
    })
}

/// The report `dnsledger check` prints (also used by `restore` for the backup it checks).
pub fn check_text(target: &Target, r: &CheckReport, secs: f64) -> String {
    use std::fmt::Write;
    let s = &r.survey;
    let mut o = String::new();
    let _ = writeln!(o, "check         {}", describe(target));
    let rate = s.entries as f64 / secs.max(1e-6);
    let _ = writeln!(
        o,
        "entries       {} read in {secs:.1} s ({rate:.0}/s){}",
        thousands(s.entries),
        if s.complete { "" } else { ", STOPPED EARLY" }
    );
    let total = s.records();
    let _ = writeln!(
        o,
        "records       {} RRsets, {} index entries",
        thousands(total.records),
        thousands(
            s.index.ipv4 + s.index.ipv6 + s.index.rdata_name + s.index.raw + s.index.owner_names + s.index.target_names
        )
    );
    if !r.indexes.is_empty() {
        let parts: Vec<String> = r
            .indexes
            .iter()
            .map(|a| {
                let state = if !a.keys_agree {
                    format!("DIFFERS ({} expected, {} present)", thousands(a.expected), thousands(a.present))
                } else if !a.values_agree {
                    "VALUES DIFFER".into()
                } else {
                    "ok".into()
                };
                format!("{} {state}", a.index)
            })
            .collect();
        let _ = writeln!(o, "indexes       {}", parts.join(", "));
    }
    let unregistered = s.sensors.iter().filter(|x| x.name.is_none()).count();
    let _ = writeln!(
        o,
        "sensors       {} in use{}",
        s.sensors.len(),
        if unregistered > 0 { format!(", {unregistered} without a registered name") } else { String::new() }
    );
    if r.is_clean() {
        let _ = writeln!(o, "result        clean");
        return o;
    }
    let kinds: Vec<String> = r.problem_kinds.iter().map(|(k, n)| format!("{k} {}", thousands(*n))).collect();
    let _ = writeln!(o, "result        {} problems ({})", thousands(r.problem_count), kinds.join(", "));
    for p in &r.problems {
        let _ = writeln!(o, "  {p}");
    }
    let unlisted = r.problem_count.saturating_sub(r.problems.len() as u64);
    if unlisted > 0 {
        let _ = writeln!(o, "  … and {} more (--max-problems N lists more)", thousands(unlisted));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers_and_checkpoints() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(human_bytes(512), "512 B");
        assert_eq!(human_bytes(3 << 20), "3.00 MiB");
        assert_eq!(checkpoint_text(b"v2 2048 10 10 00ff 1"), "2.00 KiB read, 10 lines, complete");
        assert_eq!(checkpoint_text(b"v1 100 3 10 00ff"), "100 B read, 3 lines");
        assert_eq!(checkpoint_text(b"\x01"), "\u{1}");
    }
}
