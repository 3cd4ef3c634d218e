//! Tests of the whole crate, built on the `synth` writers.

mod decode;
mod files;
mod hostile;
mod live;
mod shard;
mod tcp;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::synth::{self, FrameBuilder, IpSpec, Link, L4};
use crate::{DecodeStats, Decoder, DecoderConfig, DnsPayload, LinkType, Micros, Packet, Transport};

/// An owned copy of a delivered payload.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Got {
    pub ts: Micros,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub tcp: bool,
    pub data: Vec<u8>,
}

impl Got {
    fn of(p: &DnsPayload<'_>) -> Got {
        Got {
            ts: p.ts,
            src: p.src,
            dst: p.dst,
            sport: p.sport,
            dport: p.dport,
            tcp: p.transport == Transport::Tcp,
            data: p.data.to_vec(),
        }
    }
}

/// A frame owned by a test.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub ts: Micros,
    pub linktype: LinkType,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

impl Frame {
    pub fn new(ts: Micros, linktype: LinkType, data: &[u8]) -> Frame {
        Frame { ts, linktype, data: data.to_vec(), orig_len: data.len() as u32 }
    }

    pub fn packet(&self, index: u64) -> Packet<'_> {
        Packet { index, ts: self.ts, linktype: self.linktype, data: &self.data, orig_len: self.orig_len }
    }
}

/// Runs frames through a decoder (including `finish`); returns the payloads and the stats.
pub(crate) fn decode_all(cfg: DecoderConfig, frames: &[Frame]) -> (Vec<Got>, DecodeStats) {
    let mut d = Decoder::new(cfg);
    let mut got = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        d.packet(&f.packet(i as u64 + 1), &mut |p| got.push(Got::of(p)));
    }
    d.finish(&mut |p| got.push(Got::of(p)));
    (got, d.stats().clone())
}

pub(crate) fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

pub(crate) fn v6(last: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, last))
}

/// A DNS query or response message for `name`.
pub(crate) fn dns(id: u16, response: bool, name: &str) -> Vec<u8> {
    let mut m = Vec::new();
    synth::dns_message(&mut m, id, response, name, 1, &[Ipv4Addr::new(192, 0, 2, 1)]);
    m
}

/// A UDP frame.
pub(crate) fn udp_frame(link: &Link<'_>, src: IpAddr, dst: IpAddr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    FrameBuilder::new().frame(link, &IpSpec::new(src, dst), &L4::Udp { sport, dport }, payload).to_vec()
}

/// A raw IP packet carrying UDP.
pub(crate) fn udp_packet(src: IpAddr, dst: IpAddr, sport: u16, dport: u16, id: u16, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    synth::ip_packet(&mut out, &IpSpec { src, dst, id, hop_by_hop: false }, &L4::Udp { sport, dport }, payload);
    out
}

/// Deterministic xorshift64* generator.
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Decode throughput from a memory-mapped pcap of 1M Ethernet/IPv4/UDP DNS responses.
/// Run: `cargo test -p dnsledger-capture --release -- --ignored --nocapture bench_decode`.
#[test]
#[ignore]
fn bench_decode_1m_udp_frames() {
    use std::io::BufWriter;
    use std::time::Instant;

    const N: usize = 1_000_000;
    let tmp = tempfile::NamedTempFile::new().unwrap();
    {
        let mut w = synth::PcapWriter::new(BufWriter::new(tmp.as_file()), LinkType::Ethernet).unwrap();
        let mut fb = FrameBuilder::new();
        let mut msg = Vec::new();
        let eth = Link::Ethernet { vlans: &[] };
        let answers = [Ipv4Addr::new(192, 0, 2, 1), Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 3)];
        let t = Instant::now();
        for i in 0..N {
            msg.clear();
            synth::dns_message(&mut msg, i as u16, true, "www.example.com", 1, &answers);
            let client = v4(10, (i >> 16) as u8, (i >> 8) as u8, i as u8);
            let ip = IpSpec::new(v4(192, 0, 2, 53), client);
            let f = fb.frame(&eth, &ip, &L4::Udp { sport: 53, dport: 1024 + (i % 50000) as u16 }, &msg);
            w.write(1_700_000_000_000_000 + i as Micros, f).unwrap();
        }
        w.into_inner().unwrap();
        eprintln!("write: {:.1} ns/frame", t.elapsed().as_nanos() as f64 / N as f64);
    }
    let mut src = crate::FileSource::open(tmp.path()).unwrap();
    for round in 0..3 {
        let mut d = Decoder::new(DecoderConfig::default());
        let mut bytes = 0usize;
        let t = Instant::now();
        let sum = src.for_each(&mut |p| d.packet(p, &mut |x| bytes += x.data.len())).unwrap();
        let read_decode = t.elapsed();
        assert_eq!(sum.frames as usize, N);
        assert_eq!(d.stats().dns_udp as usize, N);
        let t = Instant::now();
        let sum = src.for_each(&mut |p| bytes += p.data.len()).unwrap();
        let read_only = t.elapsed();
        let ns = |d: std::time::Duration| d.as_nanos() as f64 / sum.frames as f64;
        eprintln!(
            "round {round}: read+decode {:.1} ns/frame, read only {:.1} ns/frame ({bytes} bytes)",
            ns(read_decode),
            ns(read_only)
        );
    }
}
