//! `dnsledger sensor`: DNS traffic from pcap/pcapng files or a live interface into observations.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use dnsledger_capture::live::{dns_filter, LiveOptions};
use dnsledger_capture::DecoderConfig;
use dnsledger_model::TypeSet;
use dnsledger_sensor::output::{FileFormat, FileSink, HttpOptions, HttpSink, Sink, StoreSink};
use dnsledger_sensor::pseudonym::ClientHasher;
use dnsledger_sensor::{Input, LiveProgress, LiveRun, SensorOptions, Summary};
use dnsledger_store_rocksdb::RocksStoreOptions;
use dnsledger_wire::ExtractOptions;

use crate::backend::StoreArgs;
use crate::config::{Config, SensorSection};

/// Exit status when an input file was damaged (frames before the damage were used).
const EXIT_DAMAGED: u8 = 3;

#[derive(clap::Args, Debug)]
#[command(after_help = "\
INPUTS:
  -r reads pcap and pcapng files (any link type of Ethernet/VLAN, Linux SLL/SLL2, raw IP, NULL/LOOP);
  `-` reads standard input; patterns such as 'dns-*.pcap' are expanded. -i captures live (libpcap;
  needs CAP_NET_RAW) until SIGINT/SIGTERM, then flushes everything.

WHAT IS KEPT:
  Responses only (queries are matched to responses, every response is used). Answer RRsets on the
  question's CNAME chain, and authority/additional RRsets inside the responding server's zone (the
  bailiwick rule, see crates/wire). --negative also keeps NXDOMAIN and NODATA answers.

OUTPUTS:
  the embedded store (default, --data-dir), a collector (--server URL [--key K]; batches are gzip
  compressed, sent once each, and spooled to --spool-dir while the collector is unreachable), or a
  file (--output FILE|-, NDJSON or passivedns lines). Client addresses are never recorded, except in
  file outputs with --record-clients, and then as keyed-hash tokens with --client-hash-key-file.

EXIT STATUS:
  0 success, 1 error, 3 an input file was damaged (what came before the damage was used).")]
pub struct SensorArgs {
    /// pcap/pcapng files to read (`-` for stdin; repeatable; glob patterns are expanded).
    #[arg(short = 'r', long = "read", value_name = "FILE", conflicts_with = "interface")]
    read: Vec<String>,

    /// Capture live from this interface.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: Option<String>,

    /// BPF filter for live capture [default: the DNS ports, plus IP fragments].
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,

    /// Bytes captured per frame [default: 65535].
    #[arg(long)]
    snaplen: Option<i32>,

    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,

    /// Kernel capture buffer per handle, in MiB [default: 32].
    #[arg(long)]
    buffer_mib: Option<i32>,

    /// Spread live capture over N threads with a PACKET_FANOUT group (Linux) [default: 1].
    #[arg(long, value_name = "N")]
    capture_threads: Option<usize>,

    /// PACKET_FANOUT group id (default: derived from the process id).
    #[arg(long, value_name = "ID")]
    fanout_group: Option<u16>,

    /// DNS server port (UDP and TCP; repeatable) [default: 53].
    #[arg(long = "port", value_name = "PORT")]
    ports: Vec<u16>,

    /// Also decode mDNS (5353). Responses from port 5353 carry no question: each record is
    /// stored with its own name as bailiwick (docs/sensor.md).
    #[arg(long)]
    mdns: bool,

    /// Also decode LLMNR (5355).
    #[arg(long)]
    llmnr: bool,

    /// Worker threads for file inputs (each keeps a share of the flows).
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// Keep NXDOMAIN and NODATA answers as negative observations.
    #[arg(long)]
    negative: bool,

    /// Sections to keep, comma-separated [default: answer,authority,additional].
    #[arg(long, value_name = "LIST")]
    sections: Option<String>,

    /// Record types to keep (comma-separated mnemonics; default all).
    #[arg(long, value_name = "LIST")]
    types: Option<String>,

    /// Use only responses whose query was seen (against forged, unsolicited responses).
    #[arg(long)]
    require_query: bool,

    /// With a local store: check what is written against the watchlists ([analytics]
    /// watch_dir, or watchlists/ in the data dir) and raise alerts to the journal and the
    /// lists' sinks.
    #[arg(long)]
    watch: bool,

    /// Keep client and server addresses (file outputs only; the store never holds them).
    #[arg(long)]
    record_clients: bool,

    /// With --record-clients: write a keyed hash (HMAC-SHA256 with the key in FILE, first 16
    /// bytes as hex) instead of each client address; the same address and key always give
    /// the same token. FILE holds at least 32 bytes and is not accessible to other users.
    #[arg(long, value_name = "FILE")]
    client_hash_key_file: Option<PathBuf>,

    /// Sensor name recorded with every observation.
    #[arg(long, env = "DNSLEDGER_SENSOR")]
    sensor: Option<String>,

    /// Deduplication cache size, in MiB, before a batch is written (peak memory is about
    /// four times this: the batch being filled, the one being written, and their indexes)
    /// [default: 24].
    #[arg(long)]
    cache_mib: Option<usize>,

    /// Longest time, in seconds, a sighting waits in the cache before it is written [default: 10].
    #[arg(long)]
    flush_secs: Option<u64>,

    /// Send to this collector (`dnsledger serve`) instead of a local store.
    #[arg(long, value_name = "URL", conflicts_with = "output")]
    server: Option<String>,

    /// PEM file of extra CA certificates to trust for an https:// collector (a private CA or a
    /// self-signed collector), beside the system's.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,

    /// API key for the collector.
    #[arg(long, env = "DNSLEDGER_API_KEY", hide_env_values = true)]
    key: Option<String>,

    /// Where batches wait while the collector is unreachable [default: ./dnsledger-spool].
    #[arg(long, value_name = "DIR")]
    spool_dir: Option<PathBuf>,

    /// Write observations to this file (`-` for stdout) instead of a store.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<String>,

    /// Format of --output: ndjson or passivedns.
    #[arg(long, value_name = "FORMAT", default_value = "ndjson")]
    output_format: String,

    /// Seconds between counter reports in the log during live capture [default: 60].
    #[arg(long)]
    stats_secs: Option<u64>,

    /// Serve Prometheus metrics (`/metrics`) on this address during live capture.
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<std::net::SocketAddr>,

    /// Write every counter as JSON to this file at exit.
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,

    /// Print no summary.
    #[arg(long, short = 'q')]
    quiet: bool,

    /// Do not fsync each batch written to the local store.
    #[arg(long)]
    no_sync: bool,

    #[command(flatten)]
    store: StoreArgs,
}

fn expand(args: &[String]) -> anyhow::Result<Vec<Input>> {
    let mut out = Vec::new();
    for a in args {
        let is_pattern = a.contains(['*', '?', '[']) && !std::path::Path::new(a).exists();
        if !is_pattern {
            out.push(Input::from_arg(a));
            continue;
        }
        let mut found: Vec<PathBuf> =
            glob::glob(a).with_context(|| format!("pattern {a:?}"))?.filter_map(Result::ok).collect();
        if found.is_empty() {
            bail!("{a}: no file matches");
        }
        found.sort();
        out.extend(found.into_iter().map(Input::File));
    }
    Ok(out)
}

impl SensorArgs {
    fn options(&self) -> anyhow::Result<SensorOptions> {
        let mut ports = if self.ports.is_empty() { vec![53] } else { self.ports.clone() };
        if self.mdns {
            ports.push(5353);
        }
        if self.llmnr {
            ports.push(5355);
        }
        ports.sort_unstable();
        ports.dedup();
        let mut extract = ExtractOptions { negative: self.negative, ..ExtractOptions::default() };
        let mut answer = false;
        extract.authority = false;
        extract.additional = false;
        let sections = self.sections.as_deref().unwrap_or("answer,authority,additional");
        for s in sections.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match s {
                "answer" => answer = true,
                "authority" => extract.authority = true,
                "additional" => extract.additional = true,
                other => bail!("--sections: unknown section {other:?} (answer, authority, additional)"),
            }
        }
        if !answer {
            bail!("--sections must include answer");
        }
        if let Some(t) = &self.types {
            extract.types = TypeSet::parse(t).map_err(|e| anyhow::anyhow!("--types: {e}"))?;
        }
        let decoder = DecoderConfig { udp_ports: ports.clone(), tcp_ports: ports, ..DecoderConfig::default() };
        Ok(SensorOptions {
            decoder,
            extract,
            sensor: self.sensor.clone().filter(|s| !s.is_empty()),
            record_clients: self.record_clients,
            require_query: self.require_query,
            mdns: self.mdns,
            cache_bytes: self.cache_mib.unwrap_or(24).max(1) << 20,
            flush_every: Duration::from_secs(self.flush_secs.unwrap_or(10).max(1)),
            threads: self.threads.max(1),
            ..SensorOptions::default()
        })
    }

    /// Where observations go, and the watcher checking them when `--watch` is given.
    fn sink(&self, file: &Config) -> anyhow::Result<(Box<dyn Sink>, Option<Watched>)> {
        if self.watch && (self.output.is_some() || self.server.is_some()) {
            bail!("--watch applies to a local store; a collector checks its own watchlists");
        }
        if let Some(path) = &self.output {
            let format = match self.output_format.as_str() {
                "ndjson" => FileFormat::Ndjson,
                "passivedns" | "gamelinux" => FileFormat::Passivedns,
                f => bail!("--output-format: unknown format {f:?} (ndjson, passivedns)"),
            };
            let mut sink = FileSink::create(path, format, self.record_clients)?;
            if let Some(key) = &self.client_hash_key_file {
                if !self.record_clients {
                    bail!("--client-hash-key-file applies with --record-clients (without it no client address is written)");
                }
                sink = sink.with_client_hasher(ClientHasher::load(key)?);
            }
            return Ok((Box::new(sink), None));
        }
        if self.record_clients {
            bail!("--record-clients needs --output: the store and collectors do not keep client addresses");
        }
        if let Some(url) = &self.server {
            return Ok((
                Box::new(HttpSink::new(HttpOptions {
                    url: url.clone(),
                    ca_file: self.ca_file.clone(),
                    key: self.key.clone(),
                    spool_dir: self.spool_dir.clone().unwrap_or_else(|| PathBuf::from("./dnsledger-spool")),
                    sensor: self.sensor.clone().unwrap_or_else(|| "sensor".into()),
                    timeout: Duration::from_secs(30),
                })?),
                None,
            ));
        }
        let (target, store) = crate::backend::open_configured(
            &self.store,
            // a sensor only writes: a small block cache and write buffer keep its memory bounded
            RocksStoreOptions {
                sync_writes: !self.no_sync,
                cache_bytes: 8 << 20,
                write_buffer_bytes: 16 << 20,
                ..Default::default()
            },
        )?;
        if !self.watch {
            return Ok((Box::new(StoreSink::new(store)), None));
        }
        let w = crate::watch::open_watcher(file, &target)?
            .ok_or_else(|| anyhow::anyhow!("--watch: no watch directory (set [analytics] watch_dir)"))?;
        let store: Arc<dyn dnsledger_store::Store> = Arc::new(dnsledger_watch::WatchingStore::new(store, w.clone()));
        Ok((Box::new(StoreSink::new(store)), Some(w)))
    }
}

impl SensorArgs {
    /// Fills what the command line left unset from the configuration file's `[sensor]`.
    fn apply(&mut self, c: &SensorSection) {
        let or = |flag: &mut bool, v: Option<bool>| *flag = *flag || v.unwrap_or(false);
        if self.sensor.is_none() {
            self.sensor.clone_from(&c.name);
        }
        if self.read.is_empty() && self.interface.is_none() {
            self.interface.clone_from(&c.interface);
        }
        self.bpf = self.bpf.take().or_else(|| c.bpf.clone());
        self.snaplen = self.snaplen.or(c.snaplen);
        self.no_promisc = self.no_promisc || c.promiscuous == Some(false);
        self.buffer_mib = self.buffer_mib.or(c.buffer_mib);
        self.capture_threads = self.capture_threads.or(c.capture_threads);
        self.fanout_group = self.fanout_group.or(c.fanout_group);
        if self.ports.is_empty() {
            self.ports = c.ports.clone().unwrap_or_default();
        }
        or(&mut self.mdns, c.mdns);
        or(&mut self.llmnr, c.llmnr);
        or(&mut self.negative, c.negative);
        or(&mut self.require_query, c.require_query);
        self.sections = self.sections.take().or_else(|| c.sections.as_ref().map(|v| v.join(",")));
        self.types = self.types.take().or_else(|| c.types.as_ref().map(|v| v.join(",")));
        self.cache_mib = self.cache_mib.or(c.cache_mib);
        self.flush_secs = self.flush_secs.or(c.flush_secs);
        if self.output.is_none() && self.server.is_none() {
            self.server.clone_from(&c.server);
        }
        if self.key.is_none() {
            self.key.clone_from(&c.key);
        }
        self.spool_dir = self.spool_dir.take().or_else(|| c.spool_dir.clone());
        self.client_hash_key_file = self.client_hash_key_file.take().or_else(|| c.client_hash_key_file.clone());
        self.ca_file = self.ca_file.take().or_else(|| c.ca_file.clone());
        self.stats_secs = self.stats_secs.or(c.stats_secs);
        self.metrics_listen = self.metrics_listen.or(c.metrics_listen);
    }
}

/// Publishes a live capture's counters into the metrics registry (run at each scrape).
fn collect_live(interface: &str, p: &LiveProgress) {
    use dnsledger_telemetry::catalog as c;
    let s = p.snapshot();
    let iface = || interface.to_string();
    if let Some((received, kernel, by_iface)) = s.live {
        metrics::counter!(c::CAPTURE_RECEIVED, "interface" => iface()).absolute(received);
        metrics::counter!(c::CAPTURE_DROPPED, "interface" => iface(), "by" => "kernel").absolute(kernel);
        metrics::counter!(c::CAPTURE_DROPPED, "interface" => iface(), "by" => "interface").absolute(by_iface);
    }
    metrics::counter!(c::SENSOR_FRAMES).absolute(s.frames());
    metrics::counter!(c::SENSOR_DNS).absolute(s.work.dns_messages);
    metrics::counter!(c::SENSOR_RESPONSES).absolute(s.work.responses);
    metrics::counter!(c::SENSOR_UNMATCHED).absolute(s.matching.unmatched);
    metrics::counter!(c::SENSOR_RRSETS).absolute(s.work.rrsets);
    for (reason, n) in &s.work.errors {
        metrics::counter!(c::SENSOR_MALFORMED, "reason" => reason.clone()).absolute(*n);
    }
    for (reason, n) in &s.work.skipped {
        metrics::counter!(c::SENSOR_SKIPPED, "reason" => reason.clone()).absolute(*n);
    }
    for (reason, n) in s.decode.iter().filter(|(k, _)| !matches!(*k, "frames" | "bytes")) {
        metrics::counter!(c::SENSOR_DECODE_DROPS, "reason" => reason).absolute(n);
    }
}

/// The watchlists a local-store sensor checks its writes against (`--watch`).
type Watched = Arc<dnsledger_watch::Watcher>;

/// Runs `dnsledger sensor`.
pub fn run(mut a: SensorArgs) -> anyhow::Result<ExitCode> {
    let file = a.store.load_config()?;
    a.apply(&file.sensor);
    let opts = a.options()?;
    if a.read.is_empty() && a.interface.is_none() {
        bail!("nothing to read: give -r FILE (pcap/pcapng, `-` for stdin) or -i INTERFACE");
    }
    let (sink, watcher) = a.sink(&file)?;
    let summary = if let Some(iface) = &a.interface {
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
        }
        let threads = a.capture_threads.unwrap_or(1).max(1);
        let progress = Arc::new(LiveProgress::default());
        if let Some(addr) = a.metrics_listen {
            let metrics = dnsledger_telemetry::registry::install().map_err(anyhow::Error::msg)?;
            let (p, name) = (progress.clone(), iface.clone());
            metrics.add_collector(move || collect_live(&name, &p));
            let ep = crate::metrics_endpoint::spawn(addr, metrics)?;
            tracing::info!("metrics on http://{}/metrics", ep.local);
        }
        let fanout = (threads > 1).then(|| a.fanout_group.unwrap_or((std::process::id() & 0xffff) as u16));
        let live = LiveRun {
            capture: LiveOptions {
                interface: iface.clone(),
                bpf: a.bpf.clone().unwrap_or_else(|| dns_filter(&opts.decoder.udp_ports, &opts.decoder.tcp_ports)),
                snaplen: a.snaplen.unwrap_or(65535),
                promiscuous: !a.no_promisc,
                buffer_bytes: a.buffer_mib.unwrap_or(32).clamp(1, 2047) << 20,
                timeout_ms: 100,
                fanout,
            },
            threads,
            report_every: Duration::from_secs(a.stats_secs.unwrap_or(60).max(1)),
            progress: Some(progress),
        };
        dnsledger_sensor::run_live(&live, &opts, sink, stop)?
    } else {
        dnsledger_sensor::run_files(&expand(&a.read)?, &opts, sink)?
    };
    if let Some(w) = watcher {
        w.close(Duration::from_secs(30));
        if !a.quiet {
            eprintln!("watch: {} alert(s) raised (journal {})", w.raised(), w.journal_path().display());
        }
    }
    if let Some(p) = &a.summary_json {
        std::fs::write(p, serde_json::to_string_pretty(&summary.to_json())? + "\n")
            .with_context(|| format!("writing {}", p.display()))?;
    }
    if !a.quiet {
        print_summary(&summary);
    }
    if !summary.input_errors.is_empty() {
        for e in &summary.input_errors {
            eprintln!("dnsledger: input damaged: {e}");
        }
        return Ok(ExitCode::from(EXIT_DAMAGED));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(s: &Summary) {
    let j = s.to_json();
    let g = |k: &str| j.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let secs = s.elapsed.as_secs_f64();
    eprintln!(
        "{} frames in {:.2} s ({:.0} frames/s): {} DNS messages, {} queries, {} responses ({} matched, {} without a seen query), {} used",
        s.frames(),
        secs,
        if secs > 0.0 { s.frames() as f64 / secs } else { 0.0 },
        g("dns_messages"),
        g("queries"),
        g("responses"),
        g("matched"),
        g("unmatched_responses"),
        g("responses_used"),
    );
    eprintln!(
        "{} RRsets kept ({} negative); dropped {} outside the bailiwick, {} off the CNAME chain",
        g("rrsets"),
        g("negative"),
        g("out_of_bailiwick"),
        g("off_chain"),
    );
    if let Some((r, d, i)) = s.live {
        eprintln!("capture: {r} received, {d} dropped by the kernel, {i} dropped by the interface");
    }
    let skipped = &s.work.skipped;
    if !skipped.is_empty() {
        let parts: Vec<String> = skipped.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!("responses with nothing to keep: {}", parts.join(", "));
    }
    if !s.work.errors.is_empty() {
        let parts: Vec<String> = s.work.errors.iter().map(|(k, v)| format!("{k} {v}")).collect();
        eprintln!("malformed DNS messages: {}", parts.join(", "));
    }
    let drops: Vec<String> = s
        .decode
        .iter()
        .filter(|(k, v)| *v > 0 && !matches!(*k, "frames" | "bytes"))
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    if !drops.is_empty() {
        eprintln!("decoder: {}", drops.join(", "));
    }
    if let Some(o) = &s.output {
        eprintln!("{o}");
    }
}
