//! `dnsledger sensor`: DNS traffic from pcap/pcapng files or a live interface into observations.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use dnsledger_capture::live::{dns_filter, LiveOptions};
use dnsledger_capture::DecoderConfig;
use dnsledger_model::TypeFilter;
use dnsledger_sensor::output::{FileFormat, FileSink, HttpOptions, HttpSink, Sink, StoreSink};
use dnsledger_sensor::{Input, LiveRun, SensorOptions, Summary};
use dnsledger_store_rocksdb::RocksStoreOptions;
use dnsledger_wire::ExtractOptions;

use crate::backend::StoreArgs;

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
  file outputs with --record-clients.

EXIT STATUS:
  0 success, 1 error, 3 an input file was damaged (what came before the damage was used).")]
pub struct SensorArgs {
    /// pcap/pcapng files to read (`-` for stdin; repeatable; glob patterns are expanded).
    #[arg(short = 'r', long = "read", value_name = "FILE", conflicts_with = "interface")]
    read: Vec<String>,

    /// Capture live from this interface.
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interface: Option<String>,

    /// BPF filter for live capture (default: the DNS ports, plus IP fragments).
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,

    /// Bytes captured per frame.
    #[arg(long, default_value_t = 65535)]
    snaplen: i32,

    /// Do not put the interface in promiscuous mode.
    #[arg(long)]
    no_promisc: bool,

    /// Kernel capture buffer per handle, in MiB.
    #[arg(long, default_value_t = 32)]
    buffer_mib: i32,

    /// Spread live capture over N threads with a PACKET_FANOUT group (Linux).
    #[arg(long, value_name = "N", default_value_t = 1)]
    capture_threads: usize,

    /// PACKET_FANOUT group id (default: derived from the process id).
    #[arg(long, value_name = "ID")]
    fanout_group: Option<u16>,

    /// DNS server port (UDP and TCP; repeatable).
    #[arg(long = "port", value_name = "PORT", default_values_t = [53])]
    ports: Vec<u16>,

    /// Also decode mDNS (5353). mDNS responses carry no question section, which the
    /// extraction needs: they are counted (`no_question`) but not stored yet.
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

    /// Sections to keep: answer, authority, additional (comma-separated).
    #[arg(long, value_name = "LIST", default_value = "answer,authority,additional")]
    sections: String,

    /// Record types to keep (comma-separated mnemonics; default all).
    #[arg(long, value_name = "LIST")]
    types: Option<String>,

    /// Use only responses whose query was seen (against forged, unsolicited responses).
    #[arg(long)]
    require_query: bool,

    /// Keep client and server addresses (file outputs only; the store never holds them).
    #[arg(long)]
    record_clients: bool,

    /// Sensor name recorded with every observation.
    #[arg(long, env = "DNSLEDGER_SENSOR")]
    sensor: Option<String>,

    /// Deduplication cache size, in MiB, before a batch is written (peak memory is about
    /// four times this: the batch being filled, the one being written, and their indexes).
    #[arg(long, default_value_t = 24)]
    cache_mib: usize,

    /// Longest time, in seconds, a sighting waits in the cache before it is written.
    #[arg(long, default_value_t = 10)]
    flush_secs: u64,

    /// Send to this collector (`dnsledger serve`) instead of a local store.
    #[arg(long, value_name = "URL", conflicts_with = "output")]
    server: Option<String>,

    /// API key for the collector.
    #[arg(long, env = "DNSLEDGER_API_KEY", hide_env_values = true)]
    key: Option<String>,

    /// Where batches wait while the collector is unreachable.
    #[arg(long, value_name = "DIR", default_value = "./dnsledger-spool")]
    spool_dir: PathBuf,

    /// Write observations to this file (`-` for stdout) instead of a store.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<String>,

    /// Format of --output: ndjson or passivedns.
    #[arg(long, value_name = "FORMAT", default_value = "ndjson")]
    output_format: String,

    /// Seconds between counter reports during live capture.
    #[arg(long, default_value_t = 60)]
    stats_secs: u64,

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
        let mut ports = self.ports.clone();
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
        for s in self.sections.split(',').map(str::trim).filter(|s| !s.is_empty()) {
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
            extract.types = TypeFilter::parse(t).map_err(|e| anyhow::anyhow!("--types: {e}"))?;
        }
        let decoder = DecoderConfig { udp_ports: ports.clone(), tcp_ports: ports, ..DecoderConfig::default() };
        Ok(SensorOptions {
            decoder,
            extract,
            sensor: self.sensor.clone().filter(|s| !s.is_empty()),
            record_clients: self.record_clients,
            require_query: self.require_query,
            cache_bytes: self.cache_mib.max(1) << 20,
            flush_every: Duration::from_secs(self.flush_secs.max(1)),
            threads: self.threads.max(1),
            ..SensorOptions::default()
        })
    }

    fn sink(&self) -> anyhow::Result<Box<dyn Sink>> {
        if let Some(path) = &self.output {
            let format = match self.output_format.as_str() {
                "ndjson" => FileFormat::Ndjson,
                "passivedns" | "gamelinux" => FileFormat::Passivedns,
                f => bail!("--output-format: unknown format {f:?} (ndjson, passivedns)"),
            };
            return Ok(Box::new(FileSink::create(path, format, self.record_clients)?));
        }
        if self.record_clients {
            bail!("--record-clients needs --output: the store and collectors do not keep client addresses");
        }
        if let Some(url) = &self.server {
            return Ok(Box::new(HttpSink::new(HttpOptions {
                url: url.clone(),
                key: self.key.clone(),
                spool_dir: self.spool_dir.clone(),
                sensor: self.sensor.clone().unwrap_or_else(|| "sensor".into()),
                timeout: Duration::from_secs(30),
            })?));
        }
        let (_, store) = crate::backend::open_configured(
            &self.store,
            // a sensor only writes: a small block cache and write buffer keep its memory bounded
            RocksStoreOptions {
                sync_writes: !self.no_sync,
                cache_bytes: 8 << 20,
                write_buffer_bytes: 16 << 20,
                ..Default::default()
            },
        )?;
        Ok(Box::new(StoreSink::new(store)))
    }
}

/// Runs `dnsledger sensor`.
pub fn run(a: SensorArgs) -> anyhow::Result<ExitCode> {
    let opts = a.options()?;
    if a.read.is_empty() && a.interface.is_none() {
        bail!("nothing to read: give -r FILE (pcap/pcapng, `-` for stdin) or -i INTERFACE");
    }
    let sink = a.sink()?;
    let summary = if let Some(iface) = &a.interface {
        let stop = Arc::new(AtomicBool::new(false));
        for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
            signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
        }
        let threads = a.capture_threads.max(1);
        let fanout = (threads > 1).then(|| a.fanout_group.unwrap_or((std::process::id() & 0xffff) as u16));
        let live = LiveRun {
            capture: LiveOptions {
                interface: iface.clone(),
                bpf: a.bpf.clone().unwrap_or_else(|| dns_filter(&opts.decoder.udp_ports, &opts.decoder.tcp_ports)),
                snaplen: a.snaplen,
                promiscuous: !a.no_promisc,
                buffer_bytes: a.buffer_mib.clamp(1, 2047) << 20,
                timeout_ms: 100,
                fanout,
            },
            threads,
            report_every: Duration::from_secs(a.stats_secs.max(1)),
        };
        dnsledger_sensor::run_live(&live, &opts, sink, stop)?
    } else {
        dnsledger_sensor::run_files(&expand(&a.read)?, &opts, sink)?
    };
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
