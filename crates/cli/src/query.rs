//! `dnsledger query`: lookups against the embedded store or a running server, printed as a
//! table, COF NDJSON or CSV. Flags follow dnsdbq where they overlap (-r -n -i -R -N -t -b -A
//! -B -c -l), so DNSDB users feel at home. `--sources local,NAME,...` merges the answers of
//! configured upstreams (dnsledger-federation) with the local one; `--stream` prints each
//! source's records as they arrive instead (the last line per record is the merged one).

use std::ops::ControlFlow;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context};
use dnsledger_analytics::export::{ExportFormat, ExportRecord};
use dnsledger_model::time::{self, parse_time};
use dnsledger_model::TimeFence;
use dnsledger_query::output::{sink, OutputFormat};
use dnsledger_query::{spec, Lookup, RecordView, Window};
use dnsledger_store::NegativeFilter;
use dnsledger_store_rocksdb::RocksStoreOptions;

use crate::backend::StoreArgs;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  dnsledger query www.example.com                 RRsets of a name (a bare IP/CIDR/range looks up rdata)
  dnsledger query -r '*.example.com' -t A         left-hand wildcard, A only
  dnsledger query -r 'www.example.*'              right-hand wildcard
  dnsledger query -r example.com/NS/com           name/TYPE/BAILIWICK, as in dnsdbq
  dnsledger query -i 192.0.2.0/24 -f csv          names that resolved into a prefix
  dnsledger query -i 192.0.2.10-192.0.2.20        ... or a range (IPv6 too)
  dnsledger query -n ns1.example.net -t NS        names delegated to a name server
  dnsledger query -r example.com -A 2024-01-01 -B 2024-02-01     seen in January (overlap)
  dnsledger query -r example.com -A 2024-01-01 -B 2024-02-01 -c  ... entirely within January

TIMES:
  Epoch seconds, -SECONDS (relative), YYYY-MM-DD, YYYY-MM-DD HH:MM:SS (UTC), RFC 3339, or 1w2d3h.")]
pub struct QueryArgs {
    /// Name, IP, CIDR or range; a name means -r, an address means -i.
    #[arg(value_name = "VALUE", conflicts_with_all = ["rrset", "rdata_name", "ip", "raw_rrset", "raw_rdata"])]
    value: Option<String>,

    /// RRsets owned by NAME (`*.zone` and `prefix.*` wildcards; `NAME/TYPE/BAILIWICK` accepted).
    #[arg(short = 'r', long = "rrset", value_name = "NAME")]
    rrset: Option<String>,

    /// Records whose rdata names NAME: NS/CNAME/PTR targets, MX exchanges, SRV targets…
    #[arg(short = 'n', long = "rdata-name", value_name = "NAME")]
    rdata_name: Option<String>,

    /// Records whose address is IP, in IP/LEN (or IP,LEN), or in the range IP-IP.
    #[arg(short = 'i', long = "ip", value_name = "IP")]
    ip: Option<String>,

    /// RRsets owned by a wire-format name given as hex.
    #[arg(short = 'R', long = "raw-rrset", value_name = "HEX")]
    raw_rrset: Option<String>,

    /// Records whose rdata equals these wire-format bytes (hex).
    #[arg(short = 'N', long = "raw-rdata", value_name = "HEX")]
    raw_rdata: Option<String>,

    /// Record type: a mnemonic, TYPE<n>, ANY (all but DNSSEC, the default) or ANY-DNSSEC.
    #[arg(short = 't', long = "type", value_name = "TYPE")]
    rrtype: Option<String>,

    /// Only RRsets from this zone (with -r).
    #[arg(short = 'b', long = "bailiwick", value_name = "ZONE")]
    bailiwick: Option<String>,

    /// Negative answers (NXDOMAIN/NODATA kept by `sensor --negative`): include them, or show only them (with -r).
    #[arg(long = "negative", value_name = "include|only")]
    negative: Option<String>,

    /// Seen on or after T (with -c: first seen on or after T).
    #[arg(short = 'A', long = "after", value_name = "T", allow_hyphen_values = true)]
    after: Option<String>,

    /// Seen on or before T (with -c: last seen on or before T).
    #[arg(short = 'B', long = "before", value_name = "T", allow_hyphen_values = true)]
    before: Option<String>,

    /// Strict fencing: -A/-B bound the whole first..last interval, not just an overlap.
    #[arg(short = 'c', long = "complete")]
    complete: bool,

    /// First seen on or after T.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    first_after: Option<String>,

    /// First seen on or before T.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    first_before: Option<String>,

    /// Last seen on or after T.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    last_after: Option<String>,

    /// Last seen on or before T.
    #[arg(long, value_name = "T", allow_hyphen_values = true)]
    last_before: Option<String>,

    /// Most records to print (0 = all).
    #[arg(short = 'l', long, default_value_t = 1000)]
    limit: u64,

    /// Records to skip first.
    #[arg(long, default_value_t = 0)]
    offset: u64,

    /// Output: table, json (COF NDJSON) or csv.
    #[arg(short = 'f', long = "format", default_value = "table", value_parser = parse_output)]
    format: OutputFormat,

    /// Export the records instead of -f: csv (RFC 4180, RFC 3339 times), misp (a MISP event of
    /// passive-dns objects) or stix (a STIX 2.1 bundle).
    #[arg(long, value_name = "FORMAT", value_parser = parse_export, conflicts_with = "format")]
    export: Option<ExportFormat>,

    /// Ask a running `dnsledger serve` at this URL instead of opening the store.
    #[arg(long, value_name = "URL", env = "DNSLEDGER_SERVER")]
    server: Option<String>,

    /// PEM file of extra CA certificates to trust for an https:// --server (a private CA or a
    /// self-signed server), beside the system's.
    #[arg(long, value_name = "FILE", env = "DNSLEDGER_CA_FILE")]
    ca_file: Option<std::path::PathBuf>,

    /// Ask these sources and merge their answers: `local` and `[[upstream]]` names (or `all`),
    /// comma-separated; with --server, the server's upstreams. JSON output then names each
    /// record's sources; failed sources are reported on stderr.
    #[arg(long, value_name = "LIST")]
    sources: Option<String>,

    /// With --sources: print each source's records the moment they arrive (local first), each
    /// with the source that produced it, instead of waiting for every source. A record a later
    /// source also saw is printed again with the merged values and all its sources so far: the
    /// last line per record is the merged one (JSON lines carry "source" and "update").
    #[arg(long, requires = "sources")]
    stream: bool,

    #[command(flatten)]
    store: StoreArgs,
}

fn parse_export(s: &str) -> Result<ExportFormat, String> {
    ExportFormat::parse(s).ok_or_else(|| format!("unknown export format {s:?}: csv, misp or stix"))
}

fn parse_output(s: &str) -> Result<OutputFormat, String> {
    OutputFormat::parse(s).ok_or_else(|| format!("unknown output format {s:?}: table, json or csv"))
}

/// The lookup kind and its path segments, as the native API spells them.
struct Target {
    kind: &'static str,
    value: String,
    rrtype: Option<String>,
    bailiwick: Option<String>,
}

impl QueryArgs {
    fn target(&self) -> anyhow::Result<Target> {
        let t = |kind: &'static str, v: &String| Target {
            kind,
            value: v.clone(),
            rrtype: self.rrtype.clone(),
            bailiwick: None,
        };
        let target = if let Some(v) = &self.value {
            if spec::looks_like_ip(v) {
                t("rdata/ip", v)
            } else {
                split_dnsdbq(t("rrset/name", v))
            }
        } else if let Some(v) = &self.rrset {
            split_dnsdbq(t("rrset/name", v))
        } else if let Some(v) = &self.rdata_name {
            split_dnsdbq(t("rdata/name", v))
        } else if let Some(v) = &self.ip {
            t("rdata/ip", v)
        } else if let Some(v) = &self.raw_rrset {
            t("rrset/raw", v)
        } else if let Some(v) = &self.raw_rdata {
            t("rdata/raw", v)
        } else {
            bail!("nothing to look up: give a VALUE or one of -r, -n, -i, -R, -N (see --help)");
        };
        let mut target = target;
        if self.bailiwick.is_some() {
            if target.kind != "rrset/name" {
                bail!("-b/--bailiwick only applies to rrset lookups (-r)");
            }
            target.bailiwick = self.bailiwick.clone();
        }
        Ok(target)
    }

    fn fence(&self) -> anyhow::Result<TimeFence> {
        let now = time::now();
        let t = |v: &Option<String>| -> anyhow::Result<Option<u64>> {
            v.as_deref().map(|s| parse_time(s, now)).transpose().map_err(|e| anyhow!(e))
        };
        let mut f = TimeFence {
            first_after: t(&self.first_after)?,
            first_before: t(&self.first_before)?,
            last_after: t(&self.last_after)?,
            last_before: t(&self.last_before)?,
        };
        let (after, before) = (t(&self.after)?, t(&self.before)?);
        if self.complete {
            f.first_after = f.first_after.or(after);
            f.last_before = f.last_before.or(before);
        } else {
            f.last_after = f.last_after.or(after);
            f.first_before = f.first_before.or(before);
        }
        Ok(f)
    }
}

/// dnsdbq's `NAME/TYPE/BAILIWICK` shorthand (only when the parts after the name are a type).
fn split_dnsdbq(mut t: Target) -> Target {
    let parts: Vec<&str> = t.value.split('/').collect();
    if parts.len() >= 2 && parts.len() <= 3 && dnsledger_model::TypeFilter::parse(parts[1]).is_ok() {
        let (name, ty) = (parts[0].to_string(), parts[1].to_string());
        if t.rrtype.is_none() {
            t.rrtype = Some(ty);
        }
        if parts.len() == 3 && t.kind == "rrset/name" {
            t.bailiwick = Some(parts[2].to_string());
        }
        t.value = name;
    }
    t
}

fn build_lookup(t: &Target, fence: TimeFence) -> Result<Lookup, spec::LookupError> {
    let ty = t.rrtype.as_deref();
    match t.kind {
        "rrset/name" => spec::rrset_name(&t.value, ty, t.bailiwick.as_deref(), fence),
        "rrset/raw" => spec::rrset_raw(&t.value, ty, fence),
        "rdata/name" => spec::rdata_name(&t.value, ty, fence),
        "rdata/ip" => spec::rdata_ip(&t.value, ty, fence),
        _ => spec::rdata_raw(&t.value, ty, fence),
    }
}

/// Percent-encodes one path segment (everything but unreserved characters).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs `dnsledger query`.
pub fn run(a: QueryArgs) -> anyhow::Result<ExitCode> {
    let target = a.target()?;
    let fence = a.fence()?;
    // Validate locally first so a server is not asked nonsense.
    let mut lookup = build_lookup(&target, fence).map_err(|e| anyhow!(e))?;
    if let Some(v) = &a.negative {
        let f = NegativeFilter::parse(v).ok_or_else(|| anyhow!("--negative: expected include or only, got {v:?}"))?;
        match &mut lookup {
            Lookup::Rrset(q) => q.negative = f,
            Lookup::Rdata(_) => bail!("--negative only applies to rrset lookups (-r)"),
        }
    }
    let window = Window { offset: a.offset, limit: (a.limit > 0).then_some(a.limit) };
    if let Some(format) = a.export {
        if a.sources.is_some() {
            bail!("--export cannot be combined with --sources");
        }
        return export(&a, &target, &fence, &lookup, window, format);
    }
    if let Some(list) = &a.sources {
        return federated(&a, list, &target, fence, lookup, window);
    }
    let stdout = std::io::stdout();
    let mut out = sink(a.format, Box::new(std::io::BufWriter::new(stdout.lock())));
    let limited = match &a.server {
        Some(url) => {
            let views = remote(url, &target, &fence, &a)?;
            for v in &views.0 {
                out.record(v)?;
            }
            views.1
        }
        None => {
            // the embedded store is opened read-only, so queries run beside a writer
            let (_, store) =
                crate::backend::open_configured(&a.store, RocksStoreOptions { read_only: true, ..Default::default() })?;
            let mut io_err = None;
            let outcome = dnsledger_query::run(&*store, &lookup, window, &mut |r| match out
                .record(&RecordView::from_record(&r))
            {
                Ok(()) => ControlFlow::Continue(()),
                Err(e) => {
                    io_err = Some(e);
                    ControlFlow::Break(())
                }
            })?;
            if let Some(e) = io_err {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    return Ok(ExitCode::SUCCESS);
                }
                return Err(e.into());
            }
            if outcome.scan.corrupt > 0 {
                eprintln!("dnsledger: warning: {} corrupt entries skipped", outcome.scan.corrupt);
            }
            outcome.limited
        }
    };
    match out.finish(limited) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    if limited && a.format != OutputFormat::Table {
        eprintln!("dnsledger: limit reached: more records match (raise --limit, or --limit 0 for all)");
    }
    Ok(ExitCode::SUCCESS)
}

/// The federated request of `query --sources` run here: the configured upstreams named in
/// `list`, and the embedded store (read-only) when `local` is among them.
fn local_request(
    a: &QueryArgs,
    list: &str,
    t: &Target,
    fence: TimeFence,
    lookup: Lookup,
    window: Window,
) -> anyhow::Result<dnsledger_federation::federated::Request> {
    let file = a.store.load_config()?;
    let problems = dnsledger_federation::config::check_all(&file.upstream);
    if !problems.is_empty() {
        bail!("[[upstream]] configuration: {}", problems.join("; "));
    }
    let fed = dnsledger_federation::Federation::new(file.upstream.clone());
    let (local, upstreams) = fed.select(list).map_err(|e| anyhow!("--{e}"))?;
    let segs: Vec<String> = {
        let mut v: Vec<String> = t.kind.split('/').map(str::to_string).collect();
        v.push(t.value.clone());
        match (&t.rrtype, &t.bailiwick) {
            (Some(ty), Some(b)) => v.extend([ty.clone(), b.clone()]),
            (None, Some(b)) => v.extend(["ANY".to_string(), b.clone()]),
            (Some(ty), None) => v.push(ty.clone()),
            (None, None) => {}
        }
        v
    };
    let query =
        dnsledger_federation::UpstreamQuery::from_segments(&segs, fence, window.limit).map_err(|e| anyhow!(e))?;
    let store = if local {
        let (_, store) =
            crate::backend::open_configured(&a.store, RocksStoreOptions { read_only: true, ..Default::default() })?;
        Some(store)
    } else {
        None
    };
    Ok(dnsledger_federation::federated::Request {
        local: store.map(|s| (s, lookup)),
        upstreams,
        query,
        limit: window.limit,
    })
}

/// One source's report on stderr; returns true if the source failed.
fn report_source(r: &serde_json::Value) -> bool {
    let name = r.get("source").and_then(|s| s.as_str()).unwrap_or("?");
    let n = r.get("records").and_then(|s| s.as_u64()).unwrap_or(0);
    match r.get("error").and_then(|e| e.as_str()) {
        Some(e) => {
            eprintln!("dnsledger: source {name}: {e} ({n} record(s) kept)");
            true
        }
        None => {
            eprintln!("dnsledger: source {name}: {n} record(s)");
            false
        }
    }
}

/// `query --sources --stream`: records printed as each source's answer arrives.
fn federated_stream(
    a: &QueryArgs,
    list: &str,
    t: &Target,
    fence: TimeFence,
    lookup: Lookup,
    window: Window,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let json = a.format == OutputFormat::Json;
    let mut lock = json.then(|| std::io::BufWriter::new(std::io::stdout().lock()));
    let mut out = (!json).then(|| sink(a.format, Box::new(std::io::stdout())));
    let mut failed = false;
    let mut limited = false;
    // one line (a record view with sources, source, update): printed and flushed at once
    let mut print = |v: &serde_json::Value| -> std::io::Result<()> {
        match (&mut lock, &mut out) {
            (Some(lock), _) => {
                serde_json::to_writer(&mut *lock, v)?;
                lock.write_all(b"\n")?;
                lock.flush()
            }
            (None, None) => Ok(()),
            (None, Some(out)) => {
                let r: RecordView = serde_json::from_value(v.clone()).map_err(std::io::Error::other)?;
                out.record(&r)
            }
        }
    };
    let res: std::io::Result<()> = match &a.server {
        Some(url) => {
            let url = format!("{}&stream=1&format=ndjson", remote_url(url, t, &fence, a, Some(list)));
            let agent = crate::https::agent(a.ca_file.as_deref())?;
            let mut resp = agent.get(&url).call().map_err(crate::https::failed(&url))?;
            let status = resp.status();
            if !status.is_success() {
                let body = resp.body_mut().with_config().limit(1 << 20).read_to_string().unwrap_or_default();
                bail!("server answered {status}: {}", body.trim());
            }
            let reader = std::io::BufReader::new(resp.body_mut().as_reader());
            (|| {
                for line in std::io::BufRead::lines(reader) {
                    let line = line?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
                        std::io::Error::other(format!("server sent a line that is not JSON ({e}): {line}"))
                    })?;
                    if let Some(r) = v.get("progress") {
                        failed |= report_source(r);
                    } else if v.get("errors").is_some() && v.get("rrname").is_none() {
                        limited = v.get("limited").and_then(|l| l.as_bool()).unwrap_or(false);
                    } else {
                        print(&v)?;
                    }
                }
                Ok(())
            })()
        }
        None => {
            let req = local_request(a, list, t, fence, lookup, window)?;
            let mut io_err: Option<std::io::Error> = None;
            let answer = dnsledger_federation::federated::run_stream(req, &mut |ev| {
                if io_err.is_some() {
                    return;
                }
                match ev {
                    dnsledger_federation::federated::Streamed::Record { source, record, update } => {
                        let mut v = record.view();
                        if let Some(m) = v.as_object_mut() {
                            m.insert("source".into(), serde_json::json!(source));
                            m.insert("update".into(), serde_json::json!(update));
                        }
                        io_err = print(&v).err();
                    }
                    dnsledger_federation::federated::Streamed::Done(r) => {
                        failed |= report_source(&serde_json::to_value(r).unwrap_or_default());
                    }
                }
            });
            limited = answer.limited;
            io_err.map_or(Ok(()), Err)
        }
    };
    let res = res.and_then(|()| match out.take() {
        Some(mut out) => out.finish(limited),
        None => Ok(()),
    });
    match res {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r?,
    }
    if limited {
        eprintln!("dnsledger: limit reached: more records match (raise --limit, or --limit 0 for all)");
    }
    Ok(if failed { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

/// `query --sources`: a merged lookup, run here on the configured upstreams or on a server.
fn federated(
    a: &QueryArgs,
    list: &str,
    t: &Target,
    fence: TimeFence,
    lookup: Lookup,
    window: Window,
) -> anyhow::Result<ExitCode> {
    if a.offset > 0 {
        bail!("--offset cannot be combined with --sources");
    }
    if a.stream {
        return federated_stream(a, list, t, fence, lookup, window);
    }
    // (record as native JSON with `sources`, the same record for the table/CSV sinks)
    let (records, limited, reports): (Vec<serde_json::Value>, bool, Vec<serde_json::Value>) = match &a.server {
        Some(url) => {
            let doc = remote_doc(url, t, &fence, a, Some(list))?;
            let records = doc.get("records").and_then(|r| r.as_array()).cloned().unwrap_or_default();
            let reports = doc.get("sources").and_then(|r| r.as_array()).cloned().unwrap_or_default();
            (records, doc.get("limited").and_then(|l| l.as_bool()).unwrap_or(false), reports)
        }
        None => {
            let req = local_request(a, list, t, fence, lookup, window)?;
            let answer = dnsledger_federation::federated::run(req, &mut |_| {});
            let reports = answer.reports.iter().map(|r| serde_json::to_value(r).unwrap_or_default()).collect();
            (answer.records.iter().map(|m| m.view()).collect(), answer.limited, reports)
        }
    };
    let stdout = std::io::stdout();
    let mut lock = std::io::BufWriter::new(stdout.lock());
    let write = (|| -> std::io::Result<()> {
        use std::io::Write;
        if a.format == OutputFormat::Json {
            for r in &records {
                serde_json::to_writer(&mut lock, r)?;
                lock.write_all(b"\n")?;
            }
            return lock.flush();
        }
        let mut out = sink(a.format, Box::new(&mut lock));
        for r in &records {
            let v: RecordView = serde_json::from_value(r.clone()).map_err(std::io::Error::other)?;
            out.record(&v)?;
        }
        out.finish(limited)
    })();
    match write {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        r => r?,
    }
    let mut failed = false;
    for r in &reports {
        failed |= report_source(r);
    }
    if limited && a.format != OutputFormat::Table {
        eprintln!("dnsledger: limit reached: more records match (raise --limit, or --limit 0 for all)");
    }
    // partial answers still print; the exit code tells scripts a source failed
    Ok(if failed { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

/// Asks a running server's native API; returns the records and whether they were limited.
fn remote(base: &str, t: &Target, fence: &TimeFence, a: &QueryArgs) -> anyhow::Result<(Vec<RecordView>, bool)> {
    let doc = remote_doc(base, t, fence, a, None)?;
    let records: Vec<RecordView> = serde_json::from_value(doc.get("records").cloned().unwrap_or_default())
        .context("server sent malformed records")?;
    Ok((records, doc.get("limited").and_then(|l| l.as_bool()).unwrap_or(false)))
}

/// `query --export`: the records rendered locally, or the server's own export of them.
fn export(
    a: &QueryArgs,
    target: &Target,
    fence: &TimeFence,
    lookup: &Lookup,
    window: Window,
    format: ExportFormat,
) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let text = match &a.server {
        Some(url) => {
            let url = format!("{}&format={}", remote_url(url, target, fence, a, None), format.name());
            let agent = crate::https::agent(a.ca_file.as_deref())?;
            let mut resp = agent.get(&url).call().map_err(crate::https::failed(&url))?;
            let status = resp.status();
            let body = resp
                .body_mut()
                .with_config()
                .limit(1 << 30)
                .read_to_string()
                .with_context(|| format!("reading {url}"))?;
            if !status.is_success() {
                bail!("server answered {status}: {}", body.trim());
            }
            body
        }
        None => {
            let (_, store) =
                crate::backend::open_configured(&a.store, RocksStoreOptions { read_only: true, ..Default::default() })?;
            let mut records = Vec::new();
            let outcome = dnsledger_query::run(&*store, lookup, window, &mut |r| {
                records.push(ExportRecord::from_record(&r));
                ControlFlow::Continue(())
            })?;
            if outcome.limited {
                eprintln!("dnsledger: limit reached: more records match (raise --limit, or --limit 0 for all)");
            }
            let title = format!("dnsledger {} {}", target.kind, target.value);
            format.render(&records, &title, time::now())
        }
    };
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    Ok(ExitCode::SUCCESS)
}

/// The native API URL of a lookup, with its limit, offset, fences and (for a federated
/// lookup) sources.
fn remote_url(base: &str, t: &Target, fence: &TimeFence, a: &QueryArgs, sources: Option<&str>) -> String {
    let mut url = format!("{}/api/v1/lookup/{}/{}", base.trim_end_matches('/'), t.kind, encode_segment(&t.value));
    match (&t.rrtype, &t.bailiwick) {
        (Some(ty), Some(b)) => url.push_str(&format!("/{}/{}", encode_segment(ty), encode_segment(b))),
        (None, Some(b)) => url.push_str(&format!("/ANY/{}", encode_segment(b))),
        (Some(ty), None) => url.push_str(&format!("/{}", encode_segment(ty))),
        (None, None) => {}
    }
    let mut params = vec![format!("limit={}", if a.limit == 0 { 0 } else { a.limit }), format!("offset={}", a.offset)];
    if let Some(v) = &a.negative {
        params.push(format!("negative={}", encode_segment(v)));
    }
    if let Some(v) = sources {
        params.push(format!("sources={}", encode_segment(v)));
    }
    for (k, v) in [
        ("time_first_after", fence.first_after),
        ("time_first_before", fence.first_before),
        ("time_last_after", fence.last_after),
        ("time_last_before", fence.last_before),
    ] {
        if let Some(v) = v {
            params.push(format!("{k}={v}"));
        }
    }
    url.push('?');
    url.push_str(&params.join("&"));
    url
}

/// The native lookup document of a running server (`sources=` when given).
fn remote_doc(
    base: &str,
    t: &Target,
    fence: &TimeFence,
    a: &QueryArgs,
    sources: Option<&str>,
) -> anyhow::Result<serde_json::Value> {
    let url = remote_url(base, t, fence, a, sources);
    let agent = crate::https::agent(a.ca_file.as_deref())?;
    let mut resp = agent.get(&url).call().map_err(crate::https::failed(&url))?;
    let status = resp.status();
    let body =
        resp.body_mut().with_config().limit(1 << 30).read_to_string().with_context(|| format!("reading {url}"))?;
    let doc: serde_json::Value =
        serde_json::from_str(&body).with_context(|| format!("server answered {status} with non-JSON"))?;
    if !status.is_success() {
        bail!("server answered {status}: {}", doc.get("error").and_then(|e| e.as_str()).unwrap_or(body.trim()));
    }
    if let Some(e) = doc.get("error").and_then(|e| e.as_str()) {
        bail!("server error: {e}");
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dnsdbq_shorthand() {
        let t = split_dnsdbq(Target {
            kind: "rrset/name",
            value: "example.com/NS/com".into(),
            rrtype: None,
            bailiwick: None,
        });
        assert_eq!(
            (t.value.as_str(), t.rrtype.as_deref(), t.bailiwick.as_deref()),
            ("example.com", Some("NS"), Some("com"))
        );
        let t = split_dnsdbq(Target { kind: "rrset/name", value: "a/b.example".into(), rrtype: None, bailiwick: None });
        assert_eq!(t.value, "a/b.example");
        assert_eq!(encode_segment("*.a b/c"), "%2A.a%20b%2Fc");
    }
}
