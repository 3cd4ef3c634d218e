//! `dnsledger analyze lookback FILE|-`: every stored match of a batch of indicators (plain
//! text, a MISP event or a STIX 2.1 bundle), on the local store or through a server's
//! `POST /api/v1/analytics/lookback`.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use dnsledger_analytics::indicators::InputFormat;
use dnsledger_analytics::lookback::{self, LookbackOptions};
use dnsledger_analytics::{to_json, Limits, Window};
use dnsledger_model::time::{self, format_human, parse_time};
use dnsledger_store::Store;
use serde_json::Value;

/// `dnsledger analyze lookback` arguments.
#[derive(clap::Args, Debug)]
pub struct LookbackArgs {
    /// Indicators: a file, or `-` for stdin.
    input: PathBuf,
    /// Input format: text, misp or stix (guessed when not given).
    #[arg(long, value_name = "FORMAT")]
    format: Option<String>,
    /// Only records seen on or after T.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    from: Option<String>,
    /// Only records seen on or before T.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    to: Option<String>,
    /// Domains also match the names below them.
    #[arg(long)]
    below: bool,
    /// List indicators without matches too.
    #[arg(long)]
    misses: bool,
    /// Most records listed over the whole batch.
    #[arg(long, value_name = "N", default_value_t = lookback::DEFAULT_MAX_MATCHES)]
    max_matches: usize,
    /// Worker threads (local store; 0 = one per core).
    #[arg(long, value_name = "N", default_value_t = 0)]
    threads: usize,
}

fn read_input(path: &PathBuf) -> anyhow::Result<String> {
    let mut s = String::new();
    if path.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut s).context("reading indicators from stdin")?;
    } else {
        s = std::fs::read_to_string(path).with_context(|| format!("reading indicators from {}", path.display()))?;
    }
    Ok(s)
}

fn t(v: &Option<String>) -> anyhow::Result<Option<u64>> {
    v.as_deref().map(|s| parse_time(s, time::now())).transpose().map_err(|e| anyhow!(e))
}

fn input_format(l: &LookbackArgs) -> anyhow::Result<Option<InputFormat>> {
    l.format
        .as_deref()
        .map(|f| InputFormat::parse(f).ok_or_else(|| anyhow!("--format: expected text, misp or stix, got {f:?}")))
        .transpose()
}

/// Runs the lookback on the local store; `limit` records listed and `max_scanned` read per
/// indicator.
pub fn local(store: &dyn Store, l: &LookbackArgs, limit: u64, max_scanned: Option<u64>) -> anyhow::Result<Value> {
    let input = read_input(&l.input)?;
    let opts = LookbackOptions {
        window: Window { from: t(&l.from)?, to: t(&l.to)? },
        below: l.below,
        per_indicator: Limits {
            max_scanned: max_scanned.unwrap_or(lookback::DEFAULT_MAX_SCANNED_PER_INDICATOR),
            max_results: if limit == 0 { usize::MAX } else { usize::try_from(limit).unwrap_or(usize::MAX) },
        },
        max_matches: l.max_matches,
        include_misses: l.misses,
        threads: l.threads,
    };
    Ok(to_json(&lookback::lookback_input(store, &input, input_format(l)?, &opts)?))
}

/// Posts the batch to a server's lookback route.
pub fn remote(
    base: &str,
    key: Option<&str>,
    ca_file: Option<&std::path::Path>,
    l: &LookbackArgs,
    limit: u64,
    max_scanned: Option<u64>,
) -> anyhow::Result<Value> {
    let input = read_input(&l.input)?;
    input_format(l)?;
    let mut params = vec![format!("limit={limit}"), format!("max_matches={}", l.max_matches)];
    if let Some(m) = max_scanned {
        params.push(format!("max_scanned={m}"));
    }
    for (k, v) in [("format", &l.format), ("from", &l.from), ("to", &l.to)] {
        if let Some(v) = v {
            params.push(format!("{k}={}", crate::analyze::enc(v)));
        }
    }
    if l.below {
        params.push("below=1".into());
    }
    if l.misses {
        params.push("misses=1".into());
    }
    let url = format!("{}/api/v1/analytics/lookback?{}", base.trim_end_matches('/'), params.join("&"));
    let agent = crate::https::agent(ca_file)?;
    let mut req = agent.post(&url);
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    let mut resp = req.send(input.as_bytes()).map_err(crate::https::failed(&url))?;
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
            a.iter().map(|x| x.as_str().unwrap_or_default().to_string()).collect::<Vec<_>>().join(" ")
        }
        _ => "-".into(),
    }
}

fn tm(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_u64).map_or_else(|| "-".into(), format_human)
}

/// Prints the report as a table: a summary, then per indicator its matches.
pub fn print_table(r: &Value) {
    println!(
        "{} indicators ({}): {} with matches, {} without, {} records matched; {} rejected; {} ms",
        s(r, "indicators"),
        s(r, "format"),
        s(r, "hits"),
        s(r, "misses"),
        s(r, "matches"),
        s(r, "rejected_count"),
        s(r, "elapsed_ms")
    );
    println!(
        "\n{:<40} {:<8} {:>7} {:>9} {:<20} {:<20}  position",
        "indicator", "kind", "matches", "count", "first seen", "last seen"
    );
    for res in r.get("results").and_then(Value::as_array).into_iter().flatten() {
        println!(
            "{:<40} {:<8} {:>7} {:>9} {:<20} {:<20}  {}",
            s(res, "indicator"),
            s(res, "kind"),
            s(res, "matches"),
            s(res, "count"),
            tm(res, "first_seen"),
            tm(res, "last_seen"),
            s(res, "position")
        );
        for rec in res.get("records").and_then(Value::as_array).into_iter().flatten() {
            let times = match (rec.get("time_first"), rec.get("zone_time_first")) {
                (Some(_), _) => (tm(rec, "time_first"), tm(rec, "time_last")),
                (None, Some(_)) => (tm(rec, "zone_time_first"), tm(rec, "zone_time_last")),
                _ => ("-".into(), "-".into()),
            };
            println!(
                "    {} {} {}  ({} .. {}, {}x)",
                s(rec, "rrname"),
                s(rec, "rrtype"),
                s(rec, "rdata"),
                times.0,
                times.1,
                s(rec, "count")
            );
        }
    }
    let rejected: Vec<&Value> = r.get("rejected").and_then(Value::as_array).into_iter().flatten().collect();
    if !rejected.is_empty() {
        println!("\nrejected:");
        for x in rejected {
            println!("  {}: {:?}: {}", s(x, "position"), s(x, "item"), s(x, "reason"));
        }
    }
}
