//! A minimal capture writer for the crash and disk-full tests: legacy pcap files of DNS A
//! responses over UDP/IPv4/Ethernet, built byte by byte (independent of the capture crate).

use std::path::Path;

/// DNS name in wire format (no compression).
fn wire_name(out: &mut Vec<u8>, n: &str) {
    for l in n.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(l.len() as u8);
        out.extend_from_slice(l.as_bytes());
    }
    out.push(0);
}

/// A recursive resolver's response (QR RD RA, NOERROR) to `name A` with one A record.
pub fn a_response(id: u16, name: &str, addr: [u8; 4], ttl: u32) -> Vec<u8> {
    let mut m = Vec::with_capacity(64);
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x8180u16.to_be_bytes());
    for n in [1u16, 1, 0, 0] {
        m.extend_from_slice(&n.to_be_bytes());
    }
    wire_name(&mut m, name);
    m.extend_from_slice(&[0, 1, 0, 1]); // A IN
    m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]); // pointer to the question, A IN
    m.extend_from_slice(&ttl.to_be_bytes());
    m.extend_from_slice(&[0, 4]);
    m.extend_from_slice(&addr);
    m
}

/// `dns` in a UDP datagram from 10.0.0.53:53 to 10.0.0.7:40000, in IPv4, in Ethernet.
fn frame(dns: &[u8]) -> Vec<u8> {
    let mut udp = Vec::with_capacity(8 + dns.len());
    udp.extend_from_slice(&53u16.to_be_bytes());
    udp.extend_from_slice(&40000u16.to_be_bytes());
    udp.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
    udp.extend_from_slice(&[0, 0]); // no UDP checksum (allowed over IPv4)
    udp.extend_from_slice(dns);
    let mut ip = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 53, 10, 0, 0, 7];
    ip[2..4].copy_from_slice(&((20 + udp.len()) as u16).to_be_bytes());
    let mut s: u32 = ip.chunks(2).map(|c| u32::from(u16::from_be_bytes([c[0], c[1]]))).sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    ip[10..12].copy_from_slice(&(!(s as u16)).to_be_bytes());
    ip.extend_from_slice(&udp);
    let mut f = vec![2, 0, 0, 0, 0, 7, 2, 0, 0, 0, 0, 53, 0x08, 0x00];
    f.extend_from_slice(&ip);
    f
}

/// A legacy pcap file (microseconds, little-endian, Ethernet) being built.
pub struct Pcap(Vec<u8>);

impl Pcap {
    /// An empty capture (header only).
    pub fn new() -> Pcap {
        let mut h = Vec::with_capacity(1 << 16);
        h.extend_from_slice(&0xa1b2c3d4u32.to_le_bytes());
        h.extend_from_slice(&2u16.to_le_bytes());
        h.extend_from_slice(&4u16.to_le_bytes());
        h.extend_from_slice(&[0; 8]);
        h.extend_from_slice(&65535u32.to_le_bytes());
        h.extend_from_slice(&1u32.to_le_bytes());
        Pcap(h)
    }

    /// Appends a DNS message sent at `ts` (seconds since the epoch, microsecond resolution).
    pub fn dns(&mut self, ts: f64, dns: &[u8]) -> &mut Pcap {
        let f = frame(dns);
        let us = (ts * 1e6).round() as u64;
        self.0.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&f);
        self
    }

    /// Writes the capture to `p`.
    pub fn write(&self, p: &Path) {
        std::fs::write(p, &self.0).expect("writing pcap");
    }
}
