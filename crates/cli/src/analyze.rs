//! `dnsledger analyze`: historical resolutions, shared IP usage, co-hosted domains and newly
//! observed domains (`dnsledger_analytics`), on the local store or a running server's
//! `/api/v1/analytics/...` routes; a readable table, or the JSON report with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use dnsledger_analytics::export::{collect_records, ExportFormat};
use dnsledger_analytics::history::{self, HistoryOptions};
use dnsledger_analytics::newly::{self, Level};
use dnsledger_analytics::shared::{self, DEFAULT_FANOUT};
use dnsledger_analytics::{to_json, Limits, Window};
use dnsledger_model::time::{self, format_human, parse_time};
use dnsledger_model::TypeFilter;
use dnsledger_store_rocksdb::RocksStoreOptions;
use serde_json::Value;

use crate::backend::StoreArgs;

/// `dnsledger analyze` arguments.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  dnsledger analyze history www.example.com              per-type intervals, CNAME chains
  dnsledger analyze history www.example.com --at 2024-03-01
  dnsledger analyze history '*.example.com' --from 2024-01-01 --to 2024-06-01   what changed
  dnsledger analyze shared 192.0.2.0/24 --from 30d       names and registered domains there
  dnsledger analyze cohosted example.com --fanout 20     other domains on its addresses
  dnsledger analyze new --since 7d --level hostname      first seen in the last week
  dnsledger analyze lookback iocs.txt --below            every match of a list of indicators
  dnsledger analyze lookback event.json --export misp    ... of a MISP event, as a MISP event
  dnsledger analyze shared 192.0.2.0/24 --export stix    the evidence as a STIX 2.1 bundle")]
pub struct AnalyzeArgs {
    #[command(subcommand)]
    what: What,

    /// Print the JSON report instead of a table.
    #[arg(long, global = true)]
    json: bool,

    /// Print the records the answer rests on instead: csv, misp (a MISP event of passive-dns
    /// objects) or stix (a STIX 2.1 bundle).
    #[arg(long, global = true, value_name = "FORMAT", value_parser = parse_export)]
    export: Option<ExportFormat>,

    /// Most items per list (0 = no bound).
    #[arg(short = 'l', long, global = true, default_value_t = 100)]
    limit: u64,

    /// Most records read from the store.
    #[arg(long, global = true, value_name = "N")]
    max_scanned: Option<u64>,

    /// Ask a running `dnsledger serve` at this URL instead of opening the store.
    #[arg(long, global = true, value_name = "URL", env = "DNSLEDGER_SERVER")]
    server: Option<String>,

    /// API key for --server.
    #[arg(long, global = true, value_name = "KEY", env = "DNSLEDGER_API_KEY", hide_env_values = true)]
    key: Option<String>,

    #[command(flatten)]
    store: StoreArgs,
}

#[derive(clap::Subcommand, Debug)]
enum What {
    /// What NAME (or *.zone) resolved to over time, CNAME chains, state at a time, changes.
    History {
        /// Name, `*.zone` or `prefix.*`.
        name: String,
        /// Only this type (mnemonic, ANY, ANY-DNSSEC, ALL).
        #[arg(short = 't', long = "type")]
        rrtype: Option<String>,
        /// What it resolved to at T.
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        at: Option<String>,
        /// Changes from T1 (with --to).
        #[arg(long, value_name = "T1", allow_hyphen_values = true, requires = "to")]
        from: Option<String>,
        /// Changes until T2 (with --from).
        #[arg(long, value_name = "T2", allow_hyphen_values = true, requires = "from")]
        to: Option<String>,
        /// Only records seen on or after T.
        #[arg(short = 'A', long, value_name = "T", allow_hyphen_values = true)]
        after: Option<String>,
        /// Only records seen on or before T.
        #[arg(short = 'B', long, value_name = "T", allow_hyphen_values = true)]
        before: Option<String>,
        /// Longest CNAME chain followed (0: none).
        #[arg(long, default_value_t = history::DEFAULT_CNAME_DEPTH)]
        depth: usize,
    },
    /// Names and registered domains that pointed into IP, IP/LEN or IP-IP.
    Shared(SharedArgs),
    /// The addresses of DOMAIN, then the other registered domains on them.
    Cohosted(SharedArgs),
    /// Registered domains (or hostnames) first seen within a window.
    New {
        /// Window start.
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        since: String,
        /// Window end (default: now).
        #[arg(long, value_name = "T", allow_hyphen_values = true)]
        until: Option<String>,
        /// `domain` (eTLD+1) or `hostname`.
        #[arg(long, default_value = "domain")]
        level: String,
    },
    /// Every stored match of a batch of indicators (text, MISP event or STIX bundle).
    Lookback(crate::analyze_lookback::LookbackArgs),
}

fn parse_export(s: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(s).ok_or_else(|| format!("unknown export format {s:?}: csv, misp or stix"))
}

#[derive(clap::Args, Debug)]
struct SharedArgs {
    /// Address, prefix or range (shared); domain (cohosted).
    value: String,
    /// Window start.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    from: Option<String>,
    /// Window end.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    to: Option<String>,
    /// Addresses with more registered domains are shared infrastructure, not expanded.
    #[arg(long, default_value_t = DEFAULT_FANOUT)]
    fanout: usize,
    /// More shared-infrastructure lists (`ENTRY kind:label` lines; local store only).
    #[arg(long = "infra", value_name = "FILE")]
    infra: Vec<PathBuf>,
}

fn t(v: &Option<String>) -> anyhow::Result<Option<u64>> {
    v.as_deref().map(|s| parse_time(s, time::now())).transpose().map_err(|e| anyhow!(e))
}

/// Percent-encodes one path segment or query value.
pub(crate) fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Runs `dnsledger analyze`.
pub fn run(a: AnalyzeArgs) -> anyhow::Result<ExitCode> {
    let limits = Limits {
        max_scanned: a.max_scanned.unwrap_or(match a.what {
            What::New { .. } => u64::MAX,
            _ => Limits::default().max_scanned,
        }),
        max_results: if a.limit == 0 { usize::MAX } else { a.limit as usize },
    };
    let report = match (&a.server, &a.what) {
        (Some(url), What::Lookback(l)) => {
            crate::analyze_lookback::remote(url, a.key.as_deref(), l, a.limit, a.max_scanned)?
        }
        (Some(url), _) => remote(url, &a)?,
        (None, _) => local(&a, limits)?,
    };
    if let Some(format) = a.export {
        let records = collect_records(&report);
        let title = match (report.get("query").or(report.get("domain")).and_then(Value::as_str), &a.what) {
            (_, What::Lookback(_)) => format!(
                "dnsledger lookback: {} of {} indicators matched",
                report.get("hits").and_then(Value::as_u64).unwrap_or(0),
                report.get("indicators").and_then(Value::as_u64).unwrap_or(0)
            ),
            (Some(q), _) => format!("dnsledger analyze {q}"),
            (None, _) => "dnsledger analyze".to_string(),
        };
        print!("{}", format.render(&records, &title, time::now()));
    } else if a.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_table(&a.what, &report);
    }
    if report.get("limited").and_then(Value::as_bool) == Some(true) {
        for n in report.get("notes").and_then(Value::as_array).into_iter().flatten() {
            eprintln!("dnsledger: limited: {}", n.as_str().unwrap_or_default());
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn local(a: &AnalyzeArgs, limits: Limits) -> anyhow::Result<Value> {
    let (_, store) =
        crate::backend::open_configured(&a.store, RocksStoreOptions { read_only: true, ..Default::default() })?;
    let store = &*store;
    Ok(match &a.what {
        What::History { name, rrtype, at, from, to, after, before, depth } => {
            let opts = HistoryOptions {
                types: rrtype.as_deref().map(TypeFilter::parse).transpose()?.unwrap_or(TypeFilter::Any),
                window: Window { from: t(after)?, to: t(before)? },
                at: t(at)?,
                changes: t(from)?.zip(t(to)?),
                cname_depth: *depth,
                limits,
            };
            to_json(&history::history(store, name, &opts)?)
        }
        What::Shared(s) | What::Cohosted(s) => {
            let mut infra = a.store.load_config()?.analytics.infra()?;
            for f in &s.infra {
                infra.add_file(f)?;
            }
            let w = Window { from: t(&s.from)?, to: t(&s.to)? };
            if matches!(a.what, What::Shared(_)) {
                to_json(&shared::shared(store, &s.value, w, &infra, s.fanout, limits)?)
            } else {
                to_json(&shared::cohosted(store, &s.value, w, &infra, s.fanout, limits)?)
            }
        }
        What::New { since, until, level } => {
            let level = Level::parse(level).ok_or_else(|| anyhow!("--level: expected domain or hostname"))?;
            let w = Window { from: t(&Some(since.clone()))?, to: t(until)? };
            to_json(&newly::scan_new(store, w, level, limits)?)
        }
        What::Lookback(l) => crate::analyze_lookback::local(store, l, a.limit, a.max_scanned)?,
    })
}

fn remote(base: &str, a: &AnalyzeArgs) -> anyhow::Result<Value> {
    let mut params: Vec<(String, String)> = vec![("limit".into(), a.limit.to_string())];
    if let Some(m) = a.max_scanned {
        params.push(("max_scanned".into(), m.to_string()));
    }
    let mut p = |k: &str, v: &Option<String>| {
        if let Some(v) = v {
            params.push((k.to_string(), v.clone()));
        }
    };
    let path = match &a.what {
        What::History { name, rrtype, at, from, to, after, before, depth } => {
            p("type", rrtype);
            p("at", at);
            p("from", from);
            p("to", to);
            p("after", after);
            p("before", before);
            p("depth", &Some(depth.to_string()));
            format!("history/{}", enc(name))
        }
        What::Shared(s) | What::Cohosted(s) => {
            if !s.infra.is_empty() {
                bail!("--infra applies to the local store; the server uses its own lists");
            }
            p("from", &s.from);
            p("to", &s.to);
            p("fanout", &Some(s.fanout.to_string()));
            let kind = if matches!(a.what, What::Shared(_)) { "shared" } else { "cohosted" };
            format!("{kind}/{}", enc(&s.value))
        }
        What::New { since, until, level } => {
            p("since", &Some(since.clone()));
            p("until", until);
            p("level", &Some(level.clone()));
            "new".to_string()
        }
        What::Lookback(_) => bail!("lookback batches are posted (analyze_lookback::remote)"),
    };
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
    let url = format!("{}/api/v1/analytics/{path}?{}", base.trim_end_matches('/'), query.join("&"));
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut req = agent.get(&url);
    if let Some(k) = &a.key {
        req = req.header("X-API-Key", k);
    }
    let mut resp = req.call().with_context(|| format!("requesting {url}"))?;
    let status = resp.status();
    let body =
        resp.body_mut().with_config().limit(1 << 30).read_to_string().with_context(|| format!("reading {url}"))?;
    let doc: Value = serde_json::from_str(&body).with_context(|| format!("server answered {status} with non-JSON"))?;
    if !status.is_success() {
        bail!("server answered {status}: {}", doc.get("error").and_then(Value::as_str).unwrap_or(body.trim()));
    }
    Ok(doc)
}

fn s(v: &Value, k: &str) -> String {
    match v.get(k) {
        Some(Value::String(x)) => x.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(a)) => {
            a.iter().map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_string)).collect::<Vec<_>>().join(" ")
        }
        Some(Value::Bool(b)) => b.to_string(),
        _ => "-".into(),
    }
}

fn tm(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_u64).map_or_else(|| "-".into(), format_human)
}

fn arr<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
    v.get(k).and_then(Value::as_array).into_iter().flatten()
}

fn print_table(what: &What, r: &Value) {
    match what {
        What::History { .. } => {
            println!("{:<32} {:<6} {:<20} {:<20} {:>8}  rdata", "name", "type", "from", "to", "days");
            for ty in arr(r, "types") {
                for rec in arr(ty, "records") {
                    for iv in arr(rec, "intervals") {
                        println!(
                            "{:<32} {:<6} {:<20} {:<20} {:>8}  {}",
                            s(ty, "name"),
                            s(ty, "rrtype"),
                            tm(iv, "first"),
                            tm(iv, "last"),
                            s(iv, "days"),
                            s(rec, "rdata")
                        );
                    }
                }
            }
            if let Some(at) = r.get("at") {
                println!("\nat {}:", tm(at, "time"));
                for ty in arr(at, "types") {
                    let active: Vec<String> = arr(ty, "active").map(|x| s(&x["record"], "rdata")).collect();
                    let line = if active.is_empty() {
                        let n = |k: &str| {
                            ty.get(k).map_or("-".to_string(), |x| {
                                format!(
                                    "{} (until/from {})",
                                    s(&x["record"], "rdata"),
                                    tm(&x["interval"], if k == "before" { "last" } else { "first" })
                                )
                            })
                        };
                        format!("none that day; before: {}; after: {}", n("before"), n("after"))
                    } else {
                        active.join(", ")
                    };
                    println!("  {} {}: {line}", s(ty, "name"), s(ty, "rrtype"));
                }
            }
            if let Some(c) = r.get("changes") {
                println!("\nchanges {} -> {}:", tm(c, "from"), tm(c, "to"));
                for ty in arr(c, "types") {
                    println!(
                        "  {} {}: added [{}] removed [{}] kept [{}]",
                        s(ty, "name"),
                        s(ty, "rrtype"),
                        s(ty, "added"),
                        s(ty, "removed"),
                        s(ty, "kept")
                    );
                }
            }
            for c in arr(r, "cnames") {
                println!("\nCNAME chains from {}:", s(c, "name"));
                for l in arr(c, "links") {
                    println!(
                        "  {} -> {}  ({} .. {})",
                        s(l, "from"),
                        s(l, "to"),
                        tm(&l["evidence"], "time_first"),
                        tm(&l["evidence"], "time_last")
                    );
                }
                for e in arr(c, "addresses") {
                    println!(
                        "  = {} {} {}  ({} .. {})",
                        s(e, "rrname"),
                        s(e, "rrtype"),
                        s(e, "rdata"),
                        tm(e, "time_first"),
                        tm(e, "time_last")
                    );
                }
                if !s(c, "loops").is_empty() && s(c, "loops") != "-" {
                    println!("  loop at {}", s(c, "loops"));
                }
            }
        }
        What::Shared(_) | What::Cohosted(_) => {
            println!("{:<40} {:<20} {:>7}  flag", "address", "shared", "domains");
            for ad in arr(r, "addresses") {
                let flag = if ad["fanout_exceeded"].as_bool() == Some(true) { "fan-out exceeded" } else { "" };
                println!("{:<40} {:<20} {:>7}  {flag}", s(ad, "address"), s(ad, "shared"), s(ad, "domains"));
            }
            let key = if matches!(what, What::Shared(_)) { "domains" } else { "cohosted" };
            println!(
                "\n{:<32} {:<8} {:>5} {:>8} {:<20} {:<20}  addresses",
                "domain", "evidence", "names", "count", "first", "last"
            );
            for d in arr(r, key) {
                println!(
                    "{:<32} {:<8} {:>5} {:>8} {:<20} {:<20}  {}",
                    s(d, "domain"),
                    d.get("strength").and_then(Value::as_str).unwrap_or(""),
                    arr(d, "names").count(),
                    s(d, "count"),
                    tm(d, "time_first"),
                    tm(d, "time_last"),
                    s(d, "addresses")
                );
            }
        }
        What::Lookback(_) => crate::analyze_lookback::print_table(r),
        What::New { .. } => {
            println!("{:<40} {:<20} {:<20} {:>6}  first record", "name", "first seen", "last seen", "names");
            for it in arr(r, "items") {
                let ev = arr(it, "evidence")
                    .next()
                    .map_or("-".to_string(), |e| format!("{} {} {}", s(e, "rrname"), s(e, "rrtype"), s(e, "rdata")));
                println!(
                    "{:<40} {:<20} {:<20} {:>6}  {ev}",
                    s(it, "name"),
                    tm(it, "first_seen"),
                    tm(it, "last_seen"),
                    s(it, "names")
                );
            }
        }
    }
}
