//! A minimal capture writer for the end-to-end tests (sensor, crash, disk-full): legacy pcap
//! files of Ethernet frames carrying IPv4 UDP or TCP, built byte by byte (independent of the
//! capture crate), and the DNS A response the crash and disk-full tests capture.

use std::path::Path;

/// DNS name in wire format (no compression).
pub fn wire_name(out: &mut Vec<u8>, n: &str) {
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

/// The Internet checksum of `data` (RFC 1071).
pub fn csum(data: &[u8]) -> u16 {
    let mut s: u32 = 0;
    for c in data.chunks(2) {
        s += u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]));
    }
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

/// An IPv4 packet (no options, don't-fragment) from `src` to `dst` carrying `payload` of
/// protocol `proto`.
pub fn ipv4(src: [u8; 4], dst: [u8; 4], proto: u8, payload: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0x40, 0, 64, proto, 0, 0];
    h[2..4].copy_from_slice(&((20 + payload.len()) as u16).to_be_bytes());
    h.extend_from_slice(&src);
    h.extend_from_slice(&dst);
    let c = csum(&h);
    h[10..12].copy_from_slice(&c.to_be_bytes());
    h.extend_from_slice(payload);
    h
}

/// An Ethernet frame carrying the IPv4 packet `ip`.
pub fn ethernet(ip: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00];
    f.extend_from_slice(ip);
    f
}

/// A frame of a UDP datagram (no checksum, allowed over IPv4) from `src` to `dst`.
pub fn udp(src: ([u8; 4], u16), dst: ([u8; 4], u16), dns: &[u8]) -> Vec<u8> {
    let mut u = Vec::with_capacity(8 + dns.len());
    u.extend_from_slice(&src.1.to_be_bytes());
    u.extend_from_slice(&dst.1.to_be_bytes());
    u.extend_from_slice(&((8 + dns.len()) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u.extend_from_slice(dns);
    ethernet(&ipv4(src.0, dst.0, 17, &u))
}

/// A frame of a TCP segment from `src` to `dst` with sequence number `seq`, `flags` (FIN 0x01,
/// SYN 0x02, PSH 0x08, ACK 0x10) and `data` (no checksum: captures do not check it).
pub fn tcp(src: ([u8; 4], u16), dst: ([u8; 4], u16), seq: u32, flags: u8, data: &[u8]) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&src.1.to_be_bytes());
    t.extend_from_slice(&dst.1.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes());
    t.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    t.extend_from_slice(data);
    ethernet(&ipv4(src.0, dst.0, 6, &t))
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

    /// Appends the Ethernet frame `f` captured at `ts` (seconds since the epoch, rounded to
    /// the microsecond).
    pub fn frame(&mut self, ts: f64, f: &[u8]) -> &mut Pcap {
        let us = (ts * 1e6).round() as u64;
        self.0.extend_from_slice(&((us / 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&((us % 1_000_000) as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(&(f.len() as u32).to_le_bytes());
        self.0.extend_from_slice(f);
        self
    }

    /// Appends a DNS message sent at `ts` from a resolver (10.0.0.53:53) to a client
    /// (10.0.0.7:40000) over UDP.
    pub fn dns(&mut self, ts: f64, dns: &[u8]) -> &mut Pcap {
        self.frame(ts, &udp(([10, 0, 0, 53], 53), ([10, 0, 0, 7], 40000), dns))
    }

    /// The capture's bytes so far.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// Writes the capture to `p`.
    pub fn write(&self, p: &Path) {
        std::fs::write(p, &self.0).expect("writing pcap");
    }
}
