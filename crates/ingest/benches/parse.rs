//! Parse + pre-aggregation throughput of one thread, without a store:
//! `cargo bench -p dnsledger-ingest --bench parse -- FILE [FORMAT]`.
//! Prints lines/s and distinct records; FILE defaults to a generated passivedns sample.

use std::time::Instant;

use dnsledger_sources::{Format, SourceOptions};

fn generated() -> Vec<u8> {
    let mut out = Vec::new();
    let mut x: u64 = 42;
    for i in 0..1_000_000u64 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let name = x % 200_000;
        let ip = x % 60_000;
        out.extend_from_slice(
            format!(
                "{}.{:06}||127.0.0.1||127.0.0.53||IN||host{}.dom{}.example.com.||A||10.{}.{}.{}||300||1\n",
                1704067200 + i / 12,
                i % 1_000_000,
                name % 7,
                name,
                ip >> 16,
                (ip >> 8) & 255,
                ip & 255
            )
            .as_bytes(),
        );
    }
    out
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let data = match args.first() {
        Some(p) => std::fs::read(p)
            .expect("reading the input file (benches run in the crate directory: give an absolute path)"),
        None => generated(),
    };
    let format = args.get(1).and_then(|f| Format::parse(f)).or_else(|| Format::sniff(&data)).expect("format");
    let mut parser = format.parser(&SourceOptions::default());
    let t = Instant::now();
    let r = dnsledger_ingest::parse_input(format, parser.as_mut(), &data, "bench");
    let secs = t.elapsed().as_secs_f64();
    println!(
        "parse+aggregate ({}, 1 thread): {} lines in {:.3} s = {:.0} lines/s, {:.0} ns/line, {} distinct records, {} rejected",
        format.name(),
        r.lines,
        secs,
        r.lines as f64 / secs,
        secs * 1e9 / r.lines.max(1) as f64,
        r.batch.len(),
        r.rejected.values().sum::<u64>()
    );
}
