//! Synthetic frames and capture files, for tests and benchmarks.
//!
//! Builders append into caller-owned buffers ([`FrameBuilder`] reuses one), so generating millions of
//! frames allocates nothing per frame. Lengths and checksums are correct; give the writers a
//! `BufWriter` when writing to a file.

use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr};

use crate::{LinkType, Micros};

/// TCP flag bits for [`L4::Tcp`].
pub mod tcp_flags {
    /// FIN: no more data from sender.
    pub const FIN: u8 = 0x01;
    /// SYN: synchronise sequence numbers.
    pub const SYN: u8 = 0x02;
    /// RST: reset the connection.
    pub const RST: u8 = 0x04;
    /// PSH: push function.
    pub const PSH: u8 = 0x08;
    /// ACK: acknowledgment field significant.
    pub const ACK: u8 = 0x10;
}

/// Writes a legacy pcap file.
#[derive(Debug)]
pub struct PcapWriter<W: Write> {
    w: W,
    nanos: bool,
    be: bool,
}

impl<W: Write> PcapWriter<W> {
    /// Writes a microsecond, little-endian header with snapshot length 262144.
    pub fn new(w: W, linktype: LinkType) -> io::Result<Self> {
        Self::with_options(w, linktype, false, false, 262_144)
    }

    /// Writes a header with the given timestamp precision, byte order and snapshot length.
    pub fn with_options(mut w: W, linktype: LinkType, nanos: bool, big_endian: bool, snaplen: u32) -> io::Result<Self> {
        let magic: u32 = if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 };
        let mut h = [0u8; 24];
        let be = big_endian;
        put32(&mut h[0..4], magic, be);
        put16(&mut h[4..6], 2, be);
        put16(&mut h[6..8], 4, be);
        put32(&mut h[16..20], snaplen, be);
        put32(&mut h[20..24], linktype.to_dlt(), be);
        w.write_all(&h)?;
        Ok(PcapWriter { w, nanos, be })
    }

    /// Writes one frame captured whole.
    pub fn write(&mut self, ts: Micros, frame: &[u8]) -> io::Result<()> {
        self.write_with_orig_len(ts, frame, frame.len() as u32)
    }

    /// Writes one frame whose wire length was `orig_len` (larger when cut by a snapshot length).
    pub fn write_with_orig_len(&mut self, ts: Micros, frame: &[u8], orig_len: u32) -> io::Result<()> {
        let sec = ts.div_euclid(1_000_000) as u32;
        let us = ts.rem_euclid(1_000_000) as u32;
        let mut h = [0u8; 16];
        put32(&mut h[0..4], sec, self.be);
        put32(&mut h[4..8], if self.nanos { us * 1000 } else { us }, self.be);
        put32(&mut h[8..12], frame.len() as u32, self.be);
        put32(&mut h[12..16], orig_len, self.be);
        self.w.write_all(&h)?;
        self.w.write_all(frame)
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Writes a minimal pcapng file: section headers, interface descriptions with `if_tsresol`, packets.
#[derive(Debug)]
pub struct PcapNgWriter<W: Write> {
    w: W,
    be: bool,
    tsresol: Vec<u8>,
    body: Vec<u8>,
}

impl<W: Write> PcapNgWriter<W> {
    /// Starts a file with a section header block in the given byte order.
    pub fn new(w: W, big_endian: bool) -> io::Result<Self> {
        let mut s = PcapNgWriter { w, be: big_endian, tsresol: Vec::new(), body: Vec::new() };
        s.new_section(big_endian)?;
        Ok(s)
    }

    /// Starts a new section (new byte order, no interfaces).
    pub fn new_section(&mut self, big_endian: bool) -> io::Result<()> {
        self.be = big_endian;
        self.tsresol.clear();
        let mut b = [0u8; 16];
        put32(&mut b[0..4], 0x1a2b_3c4d, self.be);
        put16(&mut b[4..6], 1, self.be);
        b[8..16].copy_from_slice(&[0xff; 8]);
        self.block(0x0A0D_0D0A, &b)
    }

    /// Declares an interface; `tsresol` is the `if_tsresol` byte (6 = microseconds, 9 = nanoseconds,
    /// 0x80 | n = 2^-n seconds). Returns its interface id.
    pub fn add_interface(&mut self, linktype: LinkType, tsresol: u8, snaplen: u32) -> io::Result<u32> {
        let mut b = [0u8; 20];
        put16(&mut b[0..2], linktype.to_dlt() as u16, self.be);
        put32(&mut b[4..8], snaplen, self.be);
        put16(&mut b[8..10], 9, self.be);
        put16(&mut b[10..12], 1, self.be);
        b[12] = tsresol;
        // opt_endofopt at b[16..20] is already zero.
        self.block(1, &b)?;
        self.tsresol.push(tsresol);
        Ok(self.tsresol.len() as u32 - 1)
    }

    /// Writes an Enhanced Packet Block.
    pub fn write(&mut self, iface: u32, ts: Micros, frame: &[u8]) -> io::Result<()> {
        let resol = self.tsresol.get(iface as usize).copied().unwrap_or(6);
        let units = micros_to_units(ts, resol);
        let mut h = [0u8; 20];
        put32(&mut h[0..4], iface, self.be);
        put32(&mut h[4..8], (units >> 32) as u32, self.be);
        put32(&mut h[8..12], units as u32, self.be);
        put32(&mut h[12..16], frame.len() as u32, self.be);
        put32(&mut h[16..20], frame.len() as u32, self.be);
        self.block_parts(6, &h, frame)
    }

    /// Writes a Simple Packet Block (interface 0, no timestamp).
    pub fn write_simple(&mut self, frame: &[u8]) -> io::Result<()> {
        let mut h = [0u8; 4];
        put32(&mut h, frame.len() as u32, self.be);
        self.block_parts(3, &h, frame)
    }

    /// Writes any block (the body is padded to 4 bytes), e.g. statistics or custom blocks.
    pub fn block(&mut self, block_type: u32, body: &[u8]) -> io::Result<()> {
        self.block_parts(block_type, body, &[])
    }

    fn block_parts(&mut self, block_type: u32, a: &[u8], b: &[u8]) -> io::Result<()> {
        let body_len = (a.len() + b.len()).next_multiple_of(4);
        let total = (12 + body_len) as u32;
        self.body.clear();
        let mut h = [0u8; 8];
        put32(&mut h[0..4], block_type, self.be);
        put32(&mut h[4..8], total, self.be);
        self.body.extend_from_slice(&h);
        self.body.extend_from_slice(a);
        self.body.extend_from_slice(b);
        self.body.resize(8 + body_len, 0);
        let mut t = [0u8; 4];
        put32(&mut t, total, self.be);
        self.body.extend_from_slice(&t);
        self.w.write_all(&self.body)
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> io::Result<W> {
        self.w.flush()?;
        Ok(self.w)
    }
}

fn micros_to_units(ts: Micros, resol: u8) -> u64 {
    let ts = ts.max(0) as u64;
    let n = u32::from(resol & 0x7f);
    if resol & 0x80 != 0 {
        return ((u128::from(ts) << n) / 1_000_000) as u64;
    }
    if n >= 6 {
        ts.saturating_mul(10u64.saturating_pow(n - 6))
    } else {
        ts / 10u64.pow(6 - n)
    }
}

fn put16(b: &mut [u8], v: u16, be: bool) {
    b.copy_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

fn put32(b: &mut [u8], v: u32, be: bool) {
    b.copy_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
}

/// Link layer to wrap an IP packet in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link<'a> {
    /// Ethernet II; VLAN ids outermost first (two or more tags: the outer one is 802.1ad, QinQ).
    Ethernet {
        /// VLAN ids, outermost first.
        vlans: &'a [u16],
    },
    /// Linux cooked capture v1.
    Sll,
    /// Linux cooked capture v2.
    Sll2,
    /// BSD loopback (address family little-endian, as written by a little-endian host).
    Null,
    /// OpenBSD loopback (address family big-endian).
    Loop,
    /// No link header (LINKTYPE_RAW).
    Raw,
}

impl Link<'_> {
    /// Capture link type of frames built with this link.
    pub fn linktype(&self) -> LinkType {
        match self {
            Link::Ethernet { .. } => LinkType::Ethernet,
            Link::Sll => LinkType::LinuxSll,
            Link::Sll2 => LinkType::LinuxSll2,
            Link::Null => LinkType::Null,
            Link::Loop => LinkType::Loop,
            Link::Raw => LinkType::Raw,
        }
    }
}

/// Transport header to build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L4 {
    /// UDP.
    Udp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
    },
    /// TCP with a 20-byte header.
    Tcp {
        /// Source port.
        sport: u16,
        /// Destination port.
        dport: u16,
        /// Sequence number.
        seq: u32,
        /// Acknowledgment number.
        ack: u32,
        /// Flags, see [`tcp_flags`].
        flags: u8,
    },
}

/// IP header to build; `src` and `dst` must be of the same family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpSpec {
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// IPv4 identification (ignored for IPv6).
    pub id: u16,
    /// IPv6 only: insert an 8-byte hop-by-hop options header.
    pub hop_by_hop: bool,
}

impl IpSpec {
    /// A header between two addresses with id 0 and no extension header.
    pub fn new(src: IpAddr, dst: IpAddr) -> IpSpec {
        IpSpec { src, dst, id: 0, hop_by_hop: false }
    }
}

/// Builds frames into one reused buffer.
#[derive(Debug, Default, Clone)]
pub struct FrameBuilder {
    buf: Vec<u8>,
}

impl FrameBuilder {
    /// An empty builder.
    pub fn new() -> FrameBuilder {
        FrameBuilder::default()
    }

    /// Builds link header, IP, transport header and payload; returns the frame.
    pub fn frame(&mut self, link: &Link<'_>, ip: &IpSpec, l4: &L4, payload: &[u8]) -> &[u8] {
        self.buf.clear();
        link_header(&mut self.buf, link, ip.src.is_ipv6());
        ip_packet(&mut self.buf, ip, l4, payload);
        &self.buf
    }

    /// Wraps an existing IP packet (for example a fragment) in a link header; returns the frame.
    pub fn wrap(&mut self, link: &Link<'_>, packet: &[u8]) -> &[u8] {
        self.buf.clear();
        link_header(&mut self.buf, link, packet.first().is_some_and(|b| b >> 4 == 6));
        self.buf.extend_from_slice(packet);
        &self.buf
    }
}

/// Appends a link-layer header for an IPv4 or IPv6 packet.
pub fn link_header(out: &mut Vec<u8>, link: &Link<'_>, ipv6: bool) {
    let ethertype: u16 = if ipv6 { 0x86dd } else { 0x0800 };
    let af: u32 = if ipv6 { 24 } else { 2 };
    match link {
        Link::Ethernet { vlans } => {
            out.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]);
            for (i, vid) in vlans.iter().enumerate() {
                let tpid: u16 = if i == 0 && vlans.len() > 1 { 0x88a8 } else { 0x8100 };
                out.extend_from_slice(&tpid.to_be_bytes());
                out.extend_from_slice(&(vid & 0x0fff).to_be_bytes());
            }
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Link::Sll => {
            out.extend_from_slice(&[0, 0, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 0x01, 0, 0]);
            out.extend_from_slice(&ethertype.to_be_bytes());
        }
        Link::Sll2 => {
            out.extend_from_slice(&ethertype.to_be_bytes());
            out.extend_from_slice(&[0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 0x02, 0, 0, 0, 0, 0x01, 0, 0]);
        }
        Link::Null => out.extend_from_slice(&af.to_le_bytes()),
        Link::Loop => out.extend_from_slice(&af.to_be_bytes()),
        Link::Raw => {}
    }
}

/// Ones' complement sum of 16-bit big-endian words (odd trailing byte padded).
fn sum16(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u32::from(u16::from_be_bytes([c[0], c[1]]));
    }
    if let [b] = chunks.remainder() {
        acc += u32::from(*b) << 8;
    }
    acc
}

fn fold_sum(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Appends an IPv4 or IPv6 packet carrying UDP or TCP with correct lengths and checksums.
pub fn ip_packet(out: &mut Vec<u8>, ip: &IpSpec, l4: &L4, payload: &[u8]) {
    let (l4_len, proto) = match l4 {
        L4::Udp { .. } => (8 + payload.len(), 17u8),
        L4::Tcp { .. } => (20 + payload.len(), 6u8),
    };
    let start = out.len();
    let pseudo = match (ip.src, ip.dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let total = (20 + l4_len) as u16;
            out.extend_from_slice(&[0x45, 0]);
            out.extend_from_slice(&total.to_be_bytes());
            out.extend_from_slice(&ip.id.to_be_bytes());
            out.extend_from_slice(&[0, 0, 64, proto, 0, 0]);
            out.extend_from_slice(&s.octets());
            out.extend_from_slice(&d.octets());
            let ck = fold_sum(sum16(0, &out[start..]));
            out[start + 10..start + 12].copy_from_slice(&ck.to_be_bytes());
            let acc = sum16(sum16(0, &s.octets()), &d.octets());
            acc + u32::from(proto) + l4_len as u32
        }
        (s, d) => {
            let to6 = |a: IpAddr| match a {
                IpAddr::V4(v4) => v4.to_ipv6_mapped(),
                IpAddr::V6(v6) => v6,
            };
            let (s, d) = (to6(s).octets(), to6(d).octets());
            let ext = if ip.hop_by_hop { 8 } else { 0 };
            out.extend_from_slice(&[0x60, 0, 0, 0]);
            out.extend_from_slice(&((ext + l4_len) as u16).to_be_bytes());
            out.extend_from_slice(&[if ip.hop_by_hop { 0 } else { proto }, 64]);
            out.extend_from_slice(&s);
            out.extend_from_slice(&d);
            if ip.hop_by_hop {
                // Next header, length 0 (8 bytes in all), then one PadN option with 4 bytes of padding.
                out.extend_from_slice(&[proto, 0, 1, 4, 0, 0, 0, 0]);
            }
            sum16(sum16(0, &s), &d) + l4_len as u32 + u32::from(proto)
        }
    };
    let l4_start = out.len();
    match *l4 {
        L4::Udp { sport, dport } => {
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.extend_from_slice(&(l4_len as u16).to_be_bytes());
            out.extend_from_slice(&[0, 0]);
        }
        L4::Tcp { sport, dport, seq, ack, flags } => {
            out.extend_from_slice(&sport.to_be_bytes());
            out.extend_from_slice(&dport.to_be_bytes());
            out.extend_from_slice(&seq.to_be_bytes());
            out.extend_from_slice(&ack.to_be_bytes());
            out.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
        }
    }
    out.extend_from_slice(payload);
    let mut ck = fold_sum(sum16(pseudo, &out[l4_start..]));
    if proto == 17 && ck == 0 {
        ck = 0xffff;
    }
    let at = l4_start + if proto == 17 { 6 } else { 16 };
    out[at..at + 2].copy_from_slice(&ck.to_be_bytes());
}

/// Splits an IPv4 or IPv6 packet built by [`ip_packet`] into up to `n` fragments (payload pieces are
/// multiples of 8 bytes); IPv6 fragments use identification `id`. A packet too short to be IP is returned
/// unchanged.
pub fn fragment(packet: &[u8], n: usize, id: u32) -> Vec<Vec<u8>> {
    let v6 = packet.first().is_some_and(|b| b >> 4 == 6);
    // Unfragmentable part: the IPv4 header, or the IPv6 header plus a hop-by-hop header.
    let (unfrag, next_at) = if v6 {
        if packet.get(6) == Some(&0) {
            let hbh = (usize::from(packet.get(41).copied().unwrap_or(0)) + 1) * 8;
            (40 + hbh, 40)
        } else {
            (40, 6)
        }
    } else {
        (usize::from(packet.first().copied().unwrap_or(0x45) & 0x0f) * 4, 0)
    };
    if packet.len() < unfrag.max(20) || (v6 && packet.len() < next_at + 1) {
        return vec![packet.to_vec()];
    }
    let (head, body) = packet.split_at(unfrag);
    let piece = body.len().div_ceil(n.max(1)).next_multiple_of(8).max(8);
    let mut frags = Vec::new();
    let mut off = 0;
    for chunk in body.chunks(piece) {
        let more = off + chunk.len() < body.len();
        let mut f = head.to_vec();
        if v6 {
            let next = f[next_at];
            f[next_at] = 44;
            let plen = (f.len() - 40 + 8 + chunk.len()) as u16;
            f[4..6].copy_from_slice(&plen.to_be_bytes());
            f.extend_from_slice(&[next, 0]);
            f.extend_from_slice(&((off as u16) | u16::from(more)).to_be_bytes());
            f.extend_from_slice(&id.to_be_bytes());
        } else {
            let total = (f.len() + chunk.len()) as u16;
            f[2..4].copy_from_slice(&total.to_be_bytes());
            let fo = (off / 8) as u16 | if more { 0x2000 } else { 0 };
            f[6..8].copy_from_slice(&fo.to_be_bytes());
            f[10..12].copy_from_slice(&[0, 0]);
            let ck = fold_sum(sum16(0, &f));
            f[10..12].copy_from_slice(&ck.to_be_bytes());
        }
        f.extend_from_slice(chunk);
        frags.push(f);
        off += chunk.len();
    }
    frags
}

/// Appends a DNS message: one question (`qname`, `qtype`, class IN); a response carries one A record per
/// address in `answers` (compressed owner name).
pub fn dns_message(out: &mut Vec<u8>, id: u16, response: bool, qname: &str, qtype: u16, answers: &[Ipv4Addr]) {
    let flags: u16 = if response { 0x8180 } else { 0x0100 };
    let an = if response { answers.len() as u16 } else { 0 };
    for v in [id, flags, 1, an, 0, 0] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    for label in qname.split('.').filter(|l| !l.is_empty()) {
        let l = &label.as_bytes()[..label.len().min(63)];
        out.push(l.len() as u8);
        out.extend_from_slice(l);
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&1u16.to_be_bytes());
    if response {
        for a in answers {
            out.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0x0e, 0x10, 0, 4]);
            out.extend_from_slice(&a.octets());
        }
    }
}
