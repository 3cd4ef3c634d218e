//! `dnsledger analyze timeline | fastflux | dormancy | revived`: the temporal patterns of
//! `dnsledger_analytics::temporal`, on the local store or through a server's routes; the
//! subcommands are flattened into `dnsledger analyze`'s.

use std::path::PathBuf;

use anyhow::{anyhow, bail};
use dnsledger_analytics::newly::Level;
use dnsledger_analytics::temporal::{self, BucketSize, DormancyOptions, FluxOptions, TimelineOptions};
use dnsledger_analytics::{to_json, Limits, Window};
use dnsledger_model::TypeFilter;
use dnsledger_store::Store;
use serde_json::Value;

use crate::analyze::{arr, enc, s, t, tm};
use crate::backend::StoreArgs;

/// The temporal subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum Temporal {
    /// Activity of NAME (or *.zone) per record and per name, by day, week or month.
    Timeline {
        /// Name, `*.zone` or `prefix.*`.
        name: String,
        /// Only this type (mnemonic, ANY, ANY-DNSSEC, ALL).
        #[arg(short = 't', long = "type")]
        rrtype: Option<String>,
        /// Only activity on or after T.
        #[arg(short = 'A', long, value_name = "T", allow_hyphen_values = true)]
        after: Option<String>,
        /// Only activity on or before T.
        #[arg(short = 'B', long, value_name = "T", allow_hyphen_values = true)]
        before: Option<String>,
        /// `day`, `week`, `month` or `auto` (by the span of the activity).
        #[arg(long, default_value = "auto")]
        bucket: String,
    },
    /// Fast-flux score of NAME, *.zone, or the names on IP / IP/LEN, with its factors.
    Fastflux {
        /// Name, `*.zone`, address or prefix.
        target: String,
        /// Window start.
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        from: Option<String>,
        /// Window end.
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        to: Option<String>,
        /// Most names counted per address when looking for names sharing it.
        #[arg(long, default_value_t = temporal::DEFAULT_FLUX_FANOUT)]
        fanout: usize,
        /// More shared-infrastructure lists (`ENTRY kind:label` lines; local store only).
        #[arg(long = "infra", value_name = "FILE")]
        infra: Vec<PathBuf>,
    },
    /// Silences of NAME's registered domain (or of NAME) followed by activity, and bursts of new names.
    Dormancy {
        /// A name; its registered domain is analysed unless --level hostname.
        name: String,
        /// Silence that counts as dormancy: days (90) or a duration (90d, 12w).
        #[arg(long, default_value = "90d")]
        gap: String,
        /// `domain` (the registered domain and every name below it) or `hostname`.
        #[arg(long, default_value = "domain")]
        level: String,
        /// A day is a burst with at least this multiple of the baseline of new names…
        #[arg(long, default_value_t = temporal::DEFAULT_BURST_FACTOR)]
        burst_factor: f64,
        /// …and at least this many new names.
        #[arg(long, default_value_t = temporal::DEFAULT_BURST_MIN)]
        burst_min: u64,
    },
    /// Registered domains that came back from dormancy within a window (a whole-store pass).
    Revived {
        /// Window start.
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        since: String,
        /// Window end (default: open).
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        until: Option<String>,
        /// Silence that counts as dormancy: days (90) or a duration (90d, 12w).
        #[arg(long, default_value = "90d")]
        gap: String,
    },
}

impl Temporal {
    /// True for the whole-store pass (no default bound on records read).
    pub fn whole_store(&self) -> bool {
        matches!(self, Temporal::Revived { .. })
    }
}

fn level(l: &str) -> anyhow::Result<Level> {
    Level::parse(l).ok_or_else(|| anyhow!("--level: expected domain or hostname, got {l:?}"))
}

/// Runs a temporal analysis on the local store.
pub fn local(w: &Temporal, store: &dyn Store, args: &StoreArgs, limits: Limits) -> anyhow::Result<Value> {
    Ok(match w {
        Temporal::Timeline { name, rrtype, after, before, bucket } => {
            let opts = TimelineOptions {
                types: rrtype.as_deref().map(TypeFilter::parse).transpose()?.unwrap_or(TypeFilter::Any),
                window: Window { from: t(after)?, to: t(before)? },
                bucket: match bucket.as_str() {
                    "auto" => None,
                    b => Some(
                        BucketSize::parse(b).ok_or_else(|| anyhow!("--bucket: expected day, week, month or auto"))?,
                    ),
                },
                limits,
            };
            to_json(&temporal::timeline(store, name, &opts)?)
        }
        Temporal::Fastflux { target, from, to, fanout, infra } => {
            let config = args.load_config()?;
            let mut lists = config.analytics.infra()?;
            for f in infra {
                lists.add_file(f)?;
            }
            let enricher = config.analytics.enricher()?;
            let opts = FluxOptions { window: Window { from: t(from)?, to: t(to)? }, fanout: (*fanout).max(1), limits };
            to_json(&temporal::fastflux(store, target, &enricher, &lists, &opts)?)
        }
        Temporal::Dormancy { name, gap, level: l, burst_factor, burst_min } => {
            let opts = DormancyOptions {
                gap_days: temporal::parse_gap(gap)?,
                level: level(l)?,
                burst_factor: *burst_factor,
                burst_min: *burst_min,
                limits,
            };
            to_json(&temporal::dormancy(store, name, &opts)?)
        }
        Temporal::Revived { since, until, gap } => {
            let w = Window { from: t(&Some(since.clone()))?, to: t(until)? };
            to_json(&temporal::scan_revived(store, w, temporal::parse_gap(gap)?, limits)?)
        }
    })
}

/// The route path and query parameters of a temporal analysis on a server.
pub fn remote(w: &Temporal) -> anyhow::Result<(String, Vec<(String, String)>)> {
    let mut params = Vec::new();
    let mut p = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            params.push((k.to_string(), v.clone()));
        }
    };
    let path = match w {
        Temporal::Timeline { name, rrtype, after, before, bucket } => {
            p("type", rrtype);
            p("after", after);
            p("before", before);
            p("bucket", &Some(bucket.clone()));
            format!("timeline/{}", enc(name))
        }
        Temporal::Fastflux { target, from, to, fanout, infra } => {
            if !infra.is_empty() {
                bail!("--infra applies to the local store; the server uses its own lists");
            }
            p("from", from);
            p("to", to);
            p("fanout", &Some(fanout.to_string()));
            format!("fastflux/{}", enc(target))
        }
        Temporal::Dormancy { name, gap, level, burst_factor, burst_min } => {
            p("gap", &Some(gap.clone()));
            p("level", &Some(level.clone()));
            p("burst_factor", &Some(burst_factor.to_string()));
            p("burst_min", &Some(burst_min.to_string()));
            format!("dormancy/{}", enc(name))
        }
        Temporal::Revived { since, until, gap } => {
            p("since", &Some(since.clone()));
            p("until", until);
            p("gap", &Some(gap.clone()));
            "revived".to_string()
        }
    };
    Ok((path, params))
}

fn f2(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_f64).map_or_else(|| "-".into(), |x| format!("{x:.2}"))
}

/// Prints a report as a table.
pub fn print_table(w: &Temporal, r: &Value) {
    match w {
        Temporal::Timeline { .. } => {
            let buckets: Vec<&Value> = arr(r, "buckets").collect();
            println!(
                "{} buckets of one {} from {} to {}; a cell is the number of active days in the bucket",
                buckets.len(),
                s(r, "bucket"),
                buckets.first().map_or("-".into(), |b| s(b, "label")),
                buckets.last().map_or("-".into(), |b| s(b, "label")),
            );
            println!("\n{:<16} {:>8} {:>6}", "bucket", "records", "names");
            for b in &buckets {
                if b["active_records"].as_u64() != Some(0) {
                    println!("{:<16} {:>8} {:>6}", s(b, "label"), s(b, "active_records"), s(b, "active_names"));
                }
            }
            println!(
                "\n{:<32} {:<6} {:<20} {:<20} {:>8} {:>5}  rdata / active buckets",
                "name", "type", "first", "last", "count", "days"
            );
            for row in arr(r, "rows") {
                let active: Vec<String> = arr(row, "cells")
                    .enumerate()
                    .filter(|(_, c)| c.as_u64().unwrap_or(0) > 0)
                    .map(|(i, c)| format!("{}:{c}", buckets.get(i).map_or(i.to_string(), |b| s(b, "label"))))
                    .collect();
                println!(
                    "{:<32} {:<6} {:<20} {:<20} {:>8} {:>5}  {}  [{}]",
                    s(row, "name"),
                    s(row, "rrtype"),
                    tm(row, "time_first"),
                    tm(row, "time_last"),
                    s(row, "count"),
                    s(row, "active_days"),
                    s(row, "rdata"),
                    active.join(" ")
                );
            }
        }
        Temporal::Fastflux { .. } => {
            println!("{}: score {} ({}), raw {}", s(r, "query"), f2(r, "score"), s(r, "verdict"), f2(r, "raw_score"));
            for c in arr(r, "cdn_like") {
                println!("  discounted: {}", c.as_str().unwrap_or_default());
            }
            // when limited, run() prints every note on stderr already
            if r.get("limited").and_then(Value::as_bool) != Some(true) {
                for n in arr(r, "notes") {
                    println!("  note: {}", n.as_str().unwrap_or_default());
                }
            }
            println!("\n{:<18} {:>10} {:>6} {:>7}", "factor", "value", "score", "weight");
            for f in arr(r, "factors") {
                println!("{:<18} {:>10} {:>6} {:>7}", s(f, "factor"), f2(f, "value"), f2(f, "score"), f2(f, "weight"));
            }
            println!(
                "\n{:<40} {:<20} {:>8} {:<24} {:<3} {:>5} {:>6}  names",
                "address", "network", "asn", "as_org", "cc", "days", "others"
            );
            for a in arr(r, "addresses") {
                println!(
                    "{:<40} {:<20} {:>8} {:<24} {:<3} {:>5} {:>6}  {}",
                    s(a, "address"),
                    s(a, "prefix"),
                    s(a, "asn"),
                    s(a, "as_org"),
                    s(a, "country"),
                    s(a, "active_days"),
                    s(a, "other_names"),
                    s(a, "names")
                );
            }
        }
        Temporal::Dormancy { .. } => {
            println!(
                "{} ({} level): {} names, {} active days, first {} last {}; silences of {}+ days:",
                s(r, "subject"),
                s(r, "level"),
                s(r, "names"),
                s(r, "active_days"),
                tm(r, "first_seen"),
                tm(r, "last_seen"),
                s(r, "gap_days")
            );
            for g in arr(r, "gaps") {
                let names = |k: &str| arr(g, k).map(|e| s(e, "rrname")).collect::<Vec<_>>().join(" ");
                println!(
                    "  silent {} -> back {} ({} days); before: {}; after: {}",
                    tm(g, "silent_from"),
                    tm(g, "revived_at"),
                    s(g, "days"),
                    names("before"),
                    names("after")
                );
            }
            for b in arr(r, "bursts") {
                println!(
                    "  burst on {}: {} new names (baseline {}/day): {}",
                    tm(b, "day"),
                    s(b, "new_names"),
                    f2(b, "baseline"),
                    s(b, "sample")
                );
            }
        }
        Temporal::Revived { .. } => {
            println!(
                "{:<40} {:<20} {:<20} {:>6} {:>6}  record that day",
                "domain", "silent from", "back on", "days", "names"
            );
            for it in arr(r, "items") {
                let ev = arr(it, "evidence")
                    .next()
                    .map_or("-".to_string(), |e| format!("{} {} {}", s(e, "rrname"), s(e, "rrtype"), s(e, "rdata")));
                println!(
                    "{:<40} {:<20} {:<20} {:>6} {:>6}  {ev}",
                    s(it, "domain"),
                    tm(it, "silent_from"),
                    tm(it, "revived_at"),
                    s(it, "gap_days"),
                    s(it, "names")
                );
            }
        }
    }
}
