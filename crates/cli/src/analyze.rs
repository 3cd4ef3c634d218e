//! `dnsledger analyze`: historical resolutions, shared IP usage, co-hosted domains, newly
//! observed domains, temporal patterns (`analyze_temporal`), malicious-domain clusters and ATT&CK
//! detections (`dnsledger_analytics`), on the local store or a running server's
//! `/api/v1/analytics/...` routes; a readable table, or the JSON report with `--json`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use dnsledger_analytics::cluster::{self, ClusterOptions};
use dnsledger_analytics::detect::{self, DetectOptions, Kind};
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
  dnsledger analyze cluster evil.example 198.51.100.7 --labels blocklist.txt
  dnsledger analyze detect --since 30d --kind shadowing   ATT&CK detections in the last 30 days
  dnsledger analyze timeline '*.example.com' --bucket week   activity per record and week
  dnsledger analyze fastflux www.example.com             fast-flux score and its factors
  dnsledger analyze dormancy example.com --gap 90d       silent for months, then back?
  dnsledger analyze revived --since 30d                  domains back from dormancy lately
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

    /// PEM file of extra CA certificates to trust for an https:// --server (a private CA or a
    /// self-signed server), beside the system's.
    #[arg(long, value_name = "FILE", env = "DNSLEDGER_CA_FILE", global = true)]
    ca_file: Option<std::path::PathBuf>,

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
    /// Names and registered domains that pointed into IP, IP/LEN, IP-IP or ASnnn (with an ASN
    /// database configured).
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
    /// The graph of domains, addresses, name servers and CNAME targets around SEEDs, its
    /// clusters and their maliciousness scores from label lists.
    Cluster(ClusterArgs),
    /// ATT&CK detections (T1583.001, T1584.001, T1584.002) over activity in a window.
    Detect(DetectArgs),
    #[command(flatten)]
    Temporal(crate::analyze_temporal::Temporal),
    /// Every stored match of a batch of indicators (text, MISP event or STIX bundle).
    Lookback(crate::analyze_lookback::LookbackArgs),
}

#[derive(clap::Args, Debug)]
struct ClusterArgs {
    /// Seed domains, hostnames or addresses.
    #[arg(required = true)]
    seeds: Vec<String>,
    /// Window start.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    from: Option<String>,
    /// Window end.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    to: Option<String>,
    /// Domain-to-domain pivots from the seeds.
    #[arg(long, default_value_t = cluster::DEFAULT_HOPS)]
    hops: usize,
    /// Addresses and name servers with more registered domains are shared infrastructure.
    #[arg(long, default_value_t = DEFAULT_FANOUT)]
    fanout: usize,
    /// Most nodes in the graph.
    #[arg(long, default_value_t = cluster::DEFAULT_MAX_NODES)]
    max_nodes: usize,
    /// More label lists (`ENTRY verdict:source` lines; local store only).
    #[arg(long = "labels", value_name = "FILE")]
    labels: Vec<PathBuf>,
    /// With `--export misp`: the cluster exported as a MISP event (default: the highest-scored
    /// cluster holding a seed).
    #[arg(long, value_name = "ID")]
    cluster: Option<usize>,
    /// More shared-infrastructure lists (local store only).
    #[arg(long = "infra", value_name = "FILE")]
    infra: Vec<PathBuf>,
}

#[derive(clap::Args, Debug)]
struct DetectArgs {
    /// Window start.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    since: String,
    /// Window end (default: now).
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    until: Option<String>,
    /// Only these detections (new-domain, shadowing, delegation-change, soa-change, dangling-cname).
    #[arg(long = "kind", value_name = "KIND")]
    kinds: Vec<String>,
    /// Days of history before the window that make a domain established.
    #[arg(long, default_value_t = detect::DEFAULT_ESTABLISHED_DAYS)]
    established: u64,
    /// Least score reported (0..1).
    #[arg(long, default_value_t = detect::DEFAULT_MIN_SCORE)]
    min_score: f64,
    /// More shared-infrastructure lists (local store only).
    #[arg(long = "infra", value_name = "FILE")]
    infra: Vec<PathBuf>,
}

fn kinds(v: &[String]) -> anyhow::Result<Vec<Kind>> {
    v.iter()
        .flat_map(|k| k.split(','))
        .map(|k| {
            Kind::parse(k).ok_or_else(|| {
                let all: Vec<&str> = Kind::ALL.iter().map(|k| k.as_str()).collect();
                anyhow!("--kind: expected one of {}, got {k:?}", all.join(", "))
            })
        })
        .collect()
}

fn parse_export(s: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(s).ok_or_else(|| format!("unknown export format {s:?}: csv, misp or stix"))
}

#[derive(clap::Args, Debug)]
struct SharedArgs {
    /// Address, prefix, range or ASN (`AS64500`) for shared; domain for cohosted.
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

pub(crate) fn t(v: &Option<String>) -> anyhow::Result<Option<u64>> {
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
        max_scanned: a.max_scanned.unwrap_or(match &a.what {
            What::New { .. } | What::Detect(_) => u64::MAX,
            What::Temporal(w) if w.whole_store() => u64::MAX,
            _ => Limits::default().max_scanned,
        }),
        max_results: if a.limit == 0 { usize::MAX } else { a.limit as usize },
    };
    let report = match (&a.server, &a.what) {
        (Some(url), What::Lookback(l)) => {
            crate::analyze_lookback::remote(url, a.key.as_deref(), a.ca_file.as_deref(), l, a.limit, a.max_scanned)?
        }
        (Some(url), _) => remote(url, &a)?,
        (None, _) => local(&a, limits)?,
    };
    if let (Some(ExportFormat::Misp), What::Cluster(c)) = (a.export, &a.what) {
        let r: cluster::ClusterReport =
            serde_json::from_value(report.clone()).context("reading the cluster report back")?;
        let id = c.cluster.or(r.main_cluster()).ok_or_else(|| anyhow!("no cluster to export"))?;
        let ev = r
            .misp_event(id, dnsledger_server::analytics::CLUSTER_TO_IDS_SCORE, time::now())
            .ok_or_else(|| anyhow!("no cluster {id}"))?;
        println!("{}", serde_json::to_string_pretty(&ev)?);
    } else if let Some(format) = a.export {
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
            let mut h = history::history(store, name, &opts)?;
            h.enrich(&a.store.load_config()?.analytics.enricher()?);
            to_json(&h)
        }
        What::Shared(s) | What::Cohosted(s) => {
            let config = a.store.load_config()?;
            let mut infra = config.analytics.infra()?;
            let enricher = config.analytics.enricher()?;
            for f in &s.infra {
                infra.add_file(f)?;
            }
            let w = Window { from: t(&s.from)?, to: t(&s.to)? };
            if matches!(a.what, What::Shared(_)) {
                let mut r = match shared::parse_asn(&s.value) {
                    Some(asn) => shared::shared_asn(store, &enricher, asn, w, &infra, s.fanout, limits)?,
                    None => shared::shared(store, &s.value, w, &infra, s.fanout, limits)?,
                };
                r.enrich(&enricher);
                to_json(&r)
            } else {
                let mut r = shared::cohosted(store, &s.value, w, &infra, s.fanout, limits)?;
                r.enrich(&enricher);
                to_json(&r)
            }
        }
        What::New { since, until, level } => {
            let level = Level::parse(level).ok_or_else(|| anyhow!("--level: expected domain or hostname"))?;
            let w = Window { from: t(&Some(since.clone()))?, to: t(until)? };
            to_json(&newly::scan_new(store, w, level, limits)?)
        }
        What::Cluster(c) => {
            let cfg = a.store.load_config()?.analytics;
            let mut infra = cfg.infra()?;
            for f in &c.infra {
                infra.add_file(f)?;
            }
            let mut labels = cfg.labels()?;
            for f in &c.labels {
                labels.add_file(f)?;
            }
            let opts = ClusterOptions {
                window: Window { from: t(&c.from)?, to: t(&c.to)? },
                hops: c.hops,
                fanout: c.fanout.max(1),
                max_nodes: c.max_nodes.max(1),
                limits,
                ..ClusterOptions::default()
            };
            let mut r = cluster::cluster(store, &c.seeds, &infra, &labels, &opts)?;
            r.enrich(&cfg.enricher()?);
            to_json(&r)
        }
        What::Detect(d) => {
            let mut infra = a.store.load_config()?.analytics.infra()?;
            for f in &d.infra {
                infra.add_file(f)?;
            }
            let opts = DetectOptions {
                window: Window { from: t(&Some(d.since.clone()))?, to: t(&d.until)? },
                established_days: d.established,
                kinds: kinds(&d.kinds)?,
                min_score: d.min_score,
                limits,
            };
            to_json(&detect::detect(store, &infra, &opts)?)
        }
        What::Temporal(w) => crate::analyze_temporal::local(w, store, &a.store, limits)?,
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
        What::Cluster(c) => {
            if !c.labels.is_empty() || !c.infra.is_empty() {
                bail!("--labels and --infra apply to the local store; the server uses its own lists");
            }
            for seed in &c.seeds {
                p("seed", &Some(seed.clone()));
            }
            p("from", &c.from);
            p("to", &c.to);
            p("hops", &Some(c.hops.to_string()));
            p("fanout", &Some(c.fanout.to_string()));
            p("max_nodes", &Some(c.max_nodes.to_string()));
            "cluster".to_string()
        }
        What::Detect(d) => {
            if !d.infra.is_empty() {
                bail!("--infra applies to the local store; the server uses its own lists");
            }
            kinds(&d.kinds)?;
            p("since", &Some(d.since.clone()));
            p("until", &d.until);
            for k in &d.kinds {
                p("kind", &Some(k.clone()));
            }
            p("established", &Some(d.established.to_string()));
            p("min_score", &Some(d.min_score.to_string()));
            "detect".to_string()
        }
        What::Temporal(w) => {
            let (path, extra) = crate::analyze_temporal::remote(w)?;
            params.extend(extra);
            path
        }
        What::Lookback(_) => bail!("lookback batches are posted (analyze_lookback::remote)"),
    };
    let query: Vec<String> = params.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
    let url = format!("{}/api/v1/analytics/{path}?{}", base.trim_end_matches('/'), query.join("&"));
    let agent = crate::https::agent(a.ca_file.as_deref())?;
    let mut req = agent.get(&url);
    if let Some(k) = &a.key {
        req = req.header("X-API-Key", k);
    }
    let mut resp = req.call().map_err(crate::https::failed(&url))?;
    let status = resp.status();
    let body =
        resp.body_mut().with_config().limit(1 << 30).read_to_string().with_context(|| format!("reading {url}"))?;
    let doc: Value = serde_json::from_str(&body).with_context(|| format!("server answered {status} with non-JSON"))?;
    if !status.is_success() {
        bail!("server answered {status}: {}", doc.get("error").and_then(Value::as_str).unwrap_or(body.trim()));
    }
    Ok(doc)
}

pub(crate) fn s(v: &Value, k: &str) -> String {
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

pub(crate) fn tm(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_u64).map_or_else(|| "-".into(), format_human)
}

pub(crate) fn arr<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = &'a Value> {
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
        What::Cluster(_) => {
            let nodes: Vec<&Value> = arr(r, "nodes").collect();
            println!("{:>3} {:>6} {:>5}  {:<40} {:<40}  nameservers", "id", "score", "size", "domains", "addresses");
            for c in arr(r, "clusters") {
                let list = |k: &str, n: usize| {
                    let v: Vec<String> = arr(c, k).filter_map(Value::as_str).map(str::to_string).collect();
                    let more = v.len().saturating_sub(n);
                    let mut s = v.into_iter().take(n).collect::<Vec<_>>().join(" ");
                    if more > 0 {
                        s.push_str(&format!(" +{more}"));
                    }
                    s
                };
                println!(
                    "{:>3} {:>6} {:>5}  {:<40} {:<40}  {}{}",
                    s(c, "id"),
                    s(c, "score"),
                    arr(c, "members").count(),
                    list("domains", 3),
                    list("addresses", 3),
                    list("nameservers", 2),
                    if c["has_seed"].as_bool() == Some(true) { "  (seed)" } else { "" }
                );
            }
            println!("\n{:<40} {:<7} {:>6} {:>4}  label / why", "domain", "kind", "score", "cl");
            let mut scored: Vec<&&Value> = nodes.iter().filter(|n| n["kind"] == "domain").collect();
            scored.sort_by(|a, b| b["score"].as_f64().unwrap_or(0.0).total_cmp(&a["score"].as_f64().unwrap_or(0.0)));
            for n in scored {
                let why = match n.get("label") {
                    Some(l) => format!("{}:{} ({})", s(l, "verdict"), s(l, "source"), s(l, "entry")),
                    None => arr(n, "score_evidence")
                        .map(|c| format!("{} {}", s(c, "value"), s(c, "share")))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let kind = if n["seed"].as_bool() == Some(true) { "seed" } else { "domain" };
                println!("{:<40} {:<7} {:>6} {:>4}  {why}", s(n, "value"), kind, s(n, "score"), s(n, "cluster"));
            }
            println!(
                "\n{} nodes, {} edges, modularity {}, {} records read in {} ms",
                nodes.len(),
                arr(r, "edges").count(),
                s(r, "modularity"),
                s(r, "scanned"),
                s(r, "elapsed_ms")
            );
        }
        What::Detect(_) => {
            println!("{:<10} {:<18} {:>5}  {:<32} {:<20}  why", "technique", "kind", "score", "domain", "first seen");
            for d in arr(r, "detections") {
                let reasons: Vec<String> = arr(d, "reasons").filter_map(Value::as_str).map(str::to_string).collect();
                println!(
                    "{:<10} {:<18} {:>5}  {:<32} {:<20}  {}",
                    s(d, "technique"),
                    s(d, "kind"),
                    s(d, "score"),
                    s(d, "domain"),
                    tm(d, "time_first"),
                    reasons.join("; ")
                );
            }
        }
        What::Temporal(w) => crate::analyze_temporal::print_table(w, r),
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
