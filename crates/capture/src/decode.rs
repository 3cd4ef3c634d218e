//! Frame decoding: link layers, IPv4/IPv6, sharding, UDP and the hand-off to defragmentation and TCP.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::defrag::{Defrag, FragKey};
use crate::stats::DecodeStats;
use crate::tcp::{FlowKey, TcpTable};
use crate::{LinkType, Micros, Packet};

/// Decoding configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecoderConfig {
    /// UDP ports carrying DNS; a datagram is DNS if its source or destination port is in the set.
    pub udp_ports: Vec<u16>,
    /// TCP ports carrying DNS; a segment is DNS if its source or destination port is in the set.
    pub tcp_ports: Vec<u16>,
    /// `(index, count)`: keep only the flows whose symmetric hash modulo `count` is `index`.
    pub shard: Option<(u32, u32)>,
    /// Cap on TCP stream directions held at once (the least recently active is evicted).
    pub max_flows: usize,
    /// Cap on bytes buffered per TCP stream direction.
    pub max_flow_bytes: usize,
    /// Cap on bytes buffered by all TCP stream directions together (the least recently active
    /// are evicted when it is passed): without it, `max_flows` streams each holding a partial
    /// message could hold `max_flows * max_flow_bytes`.
    pub max_tcp_bytes: usize,
    /// Idle TCP stream directions expire after this long (packet time).
    pub flow_timeout: Micros,
    /// Cap on IP fragments held at once (oldest datagrams are dropped first).
    pub max_fragments: usize,
    /// Cap on IP fragment payload bytes held at once.
    pub max_fragment_bytes: usize,
    /// Incomplete datagrams are dropped after this long (packet time).
    pub fragment_timeout: Micros,
}

impl Default for DecoderConfig {
    fn default() -> Self {
        DecoderConfig {
            udp_ports: vec![53],
            tcp_ports: vec![53],
            shard: None,
            max_flows: 65_536,
            max_flow_bytes: 256 << 10,
            max_tcp_bytes: 64 << 20,
            flow_timeout: 60_000_000,
            max_fragments: 16_384,
            max_fragment_bytes: 32 << 20,
            fragment_timeout: 30_000_000,
        }
    }
}

/// Transport protocol a DNS payload arrived on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// One UDP datagram.
    Udp,
    /// One length-delimited message of a TCP stream (the 2-byte prefix is not included).
    Tcp,
}

/// A DNS message payload found in traffic (one UDP datagram payload, or one length-delimited message from a TCP stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnsPayload<'a> {
    /// Time of the packet that completed the payload.
    pub ts: Micros,
    /// Source address.
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// UDP or TCP.
    pub transport: Transport,
    /// The DNS message bytes.
    pub data: &'a [u8],
}

/// Source and destination addresses of an IP packet; IPv4 is stored IPv4-mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Addrs {
    pub src: [u8; 16],
    pub dst: [u8; 16],
    pub v6: bool,
}

impl Addrs {
    fn v4(src: [u8; 4], dst: [u8; 4]) -> Addrs {
        let map = |a: [u8; 4]| Ipv4Addr::from(a).to_ipv6_mapped().octets();
        Addrs { src: map(src), dst: map(dst), v6: false }
    }

    /// Converts one stored address back to an `IpAddr`.
    pub fn ip(a: &[u8; 16], v6: bool) -> IpAddr {
        let v6a = Ipv6Addr::from(*a);
        match (v6, v6a.to_ipv4_mapped()) {
            (false, Some(v4)) => IpAddr::V4(v4),
            _ => IpAddr::V6(v6a),
        }
    }
}

/// 65536-bit port set.
#[derive(Clone)]
struct PortSet(Box<[u64; 1024]>);

impl PortSet {
    fn new(ports: &[u16]) -> PortSet {
        let mut bits = Box::new([0u64; 1024]);
        for &p in ports {
            if let Some(w) = bits.get_mut(usize::from(p >> 6)) {
                *w |= 1 << (p & 63);
            }
        }
        PortSet(bits)
    }

    #[inline]
    fn contains(&self, p: u16) -> bool {
        self.0.get(usize::from(p >> 6)).is_some_and(|w| w >> (p & 63) & 1 == 1)
    }
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?))
}

#[inline]
fn be32(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(d.get(at..at + 4)?.try_into().ok()?))
}

#[inline]
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[inline]
fn fold(a: &[u8; 16]) -> u64 {
    let (hi, lo) = a.split_at(8);
    let hi = u64::from_le_bytes(hi.try_into().unwrap_or([0; 8]));
    let lo = u64::from_le_bytes(lo.try_into().unwrap_or([0; 8]));
    hi.rotate_left(29) ^ lo
}

/// Symmetric flow hash: A->B and B->A give the same value. Fixed (unseeded) so that all shards agree.
#[inline]
pub(crate) fn flow_hash(a: &Addrs, sport: u16, dport: u16) -> u64 {
    let end = |ip: &[u8; 16], port: u16| mix(fold(ip) ^ u64::from(port).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    mix(end(&a.src, sport).wrapping_add(end(&a.dst, dport)))
}

/// Hash of a fragmented datagram: addresses, IP id and protocol, so all its fragments share a shard.
#[inline]
pub(crate) fn frag_hash(a: &Addrs, id: u32, proto: u8) -> u64 {
    mix(mix(fold(&a.src)).wrapping_add(mix(fold(&a.dst))) ^ (u64::from(id) << 8 | u64::from(proto)))
}

/// What the IP layer found after the headers.
struct Ip<'a> {
    addrs: Addrs,
    proto: u8,
    payload: &'a [u8],
}

/// Decodes frames into DNS payloads: link layers, IP, defragmentation, UDP and DNS-over-TCP reassembly.
pub struct Decoder {
    udp_ports: PortSet,
    tcp_ports: PortSet,
    shard: Option<(u64, u64)>,
    stats: DecodeStats,
    defrag: Defrag,
    tcp: TcpTable,
    next_expire: Micros,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder").field("shard", &self.shard).field("stats", &self.stats).finish_non_exhaustive()
    }
}

/// How often (packet time) [`Decoder::packet`] runs [`Decoder::expire`] by itself.
const AUTO_EXPIRE_EVERY: Micros = 1_000_000;

impl Decoder {
    /// Creates a decoder; a shard count of 0 is treated as 1.
    pub fn new(cfg: DecoderConfig) -> Decoder {
        let shard = cfg.shard.map(|(i, n)| (u64::from(i), u64::from(n.max(1))));
        Decoder {
            udp_ports: PortSet::new(&cfg.udp_ports),
            tcp_ports: PortSet::new(&cfg.tcp_ports),
            shard,
            stats: DecodeStats::default(),
            defrag: Defrag::new(cfg.max_fragments, cfg.max_fragment_bytes, cfg.fragment_timeout),
            tcp: TcpTable::new(cfg.max_flows, cfg.max_flow_bytes, cfg.max_tcp_bytes, cfg.flow_timeout),
            next_expire: Micros::MIN,
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &DecodeStats {
        &self.stats
    }

    /// TCP stream directions currently held.
    pub fn tcp_flows(&self) -> usize {
        self.tcp.len()
    }

    /// TCP payload bytes currently buffered over all stream directions.
    pub fn tcp_buffered_bytes(&self) -> usize {
        self.tcp.buffered_bytes()
    }

    /// IP fragments currently held.
    pub fn fragments_held(&self) -> usize {
        self.defrag.fragments()
    }

    /// Bytes of partial datagrams currently held (capped by [`DecoderConfig::max_fragment_bytes`]).
    pub fn fragment_bytes_held(&self) -> usize {
        self.defrag.bytes()
    }

    /// Decodes one frame; calls `emit` for every complete DNS payload it yields (zero or more).
    /// Also runs [`Decoder::expire`] once per second of packet time.
    pub fn packet(&mut self, p: &Packet<'_>, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        self.stats.frames += 1;
        self.stats.bytes += p.data.len() as u64;
        if p.ts >= self.next_expire {
            self.next_expire = p.ts.saturating_add(AUTO_EXPIRE_EVERY);
            self.expire(p.ts, emit);
        }
        let Some(l3) = self.link(p) else { return };
        let cut = p.orig_len as usize > p.data.len();
        self.ip(l3, cut, p.ts, emit);
    }

    /// Expires idle TCP flows and stale fragments older than `now - timeout` (packet time).
    pub fn expire(&mut self, now: Micros, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        self.defrag.expire(now, &mut self.stats);
        self.tcp.expire(now, &mut self.stats, emit);
    }

    /// End of input: flushes what can still be delivered and counts the rest as dropped with its reason.
    pub fn finish(&mut self, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        self.defrag.clear(&mut self.stats);
        self.tcp.finish(&mut self.stats, emit);
    }

    /// Strips the link layer; returns the IP packet.
    #[inline]
    fn link<'a>(&mut self, p: &Packet<'a>) -> Option<&'a [u8]> {
        let d = p.data;
        let st = &mut self.stats;
        let (et, off) = match p.linktype {
            LinkType::Ethernet => (be16(d, 12), 14),
            LinkType::LinuxSll => (be16(d, 14), 16),
            LinkType::LinuxSll2 => (be16(d, 0).filter(|_| d.len() >= 20), 20),
            LinkType::Raw | LinkType::Ipv4 | LinkType::Ipv6 => return Some(d),
            LinkType::Null | LinkType::Loop => {
                let Some(raw) = d.get(..4) else {
                    st.truncated_link += 1;
                    return None;
                };
                let b: [u8; 4] = raw.try_into().unwrap_or([0; 4]);
                let mut af = if p.linktype == LinkType::Loop { u32::from_be_bytes(b) } else { u32::from_le_bytes(b) };
                if af > 0xffff {
                    af = af.swap_bytes();
                }
                return match af {
                    2 | 10 | 24 | 28 | 30 => d.get(4..),
                    _ => {
                        st.not_ip += 1;
                        None
                    }
                };
            }
            LinkType::Other(_) => {
                st.unsupported_linktype += 1;
                return None;
            }
        };
        let (Some(mut et), mut off) = (et, off) else {
            st.truncated_link += 1;
            return None;
        };
        // 802.1Q, 802.1ad and the older QinQ tag types; bounded so a frame of tags ends quickly.
        for _ in 0..8 {
            if !matches!(et, 0x8100 | 0x88a8 | 0x9100 | 0x9200) {
                break;
            }
            let Some(next) = be16(d, off + 2) else {
                st.truncated_link += 1;
                return None;
            };
            et = next;
            off += 4;
        }
        match et {
            0x0800 | 0x86dd => match d.get(off..) {
                Some(ip) => Some(ip),
                None => {
                    st.truncated_link += 1;
                    None
                }
            },
            _ => {
                st.not_ip += 1;
                None
            }
        }
    }

    /// Counts a datagram that is longer than the captured bytes.
    fn short(&mut self, cut: bool) {
        if cut {
            self.stats.truncated_capture += 1;
        } else {
            self.stats.truncated_ip += 1;
        }
    }

    #[inline]
    fn ip(&mut self, d: &[u8], cut: bool, ts: Micros, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        match d.first().map(|b| b >> 4) {
            Some(4) => self.ipv4(d, cut, ts, emit),
            Some(6) => self.ipv6(d, cut, ts, emit),
            Some(_) => self.stats.bad_ip_header += 1,
            None => self.stats.truncated_link += 1,
        }
    }

    #[inline]
    fn ipv4(&mut self, d: &[u8], cut: bool, ts: Micros, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        let Some(h) = d.get(..20) else { return self.short(cut) };
        let ihl = usize::from(h[0] & 0x0f) * 4;
        let total = usize::from(u16::from_be_bytes([h[2], h[3]]));
        if ihl < 20 || total < ihl {
            self.stats.bad_ip_header += 1;
            return;
        }
        let Some(pkt) = d.get(..total) else { return self.short(cut) };
        let payload = pkt.get(ihl..).unwrap_or(&[]);
        let frag = u16::from_be_bytes([h[6], h[7]]);
        let proto = h[9];
        let addrs = Addrs::v4([h[12], h[13], h[14], h[15]], [h[16], h[17], h[18], h[19]]);
        if frag & 0x3fff != 0 {
            let id = u32::from(u16::from_be_bytes([h[4], h[5]]));
            let offset = usize::from(frag & 0x1fff) * 8;
            let key = FragKey { addrs, id, proto };
            return self.fragment(key, offset, frag & 0x2000 != 0, payload, ts, emit);
        }
        self.transport(Ip { addrs, proto, payload }, true, ts, emit);
    }

    #[inline]
    fn ipv6(&mut self, d: &[u8], cut: bool, ts: Micros, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        let Some(h) = d.get(..40) else { return self.short(cut) };
        let plen = usize::from(u16::from_be_bytes([h[4], h[5]]));
        if plen == 0 {
            // Jumbograms (payload length 0 plus a hop-by-hop option) are not DNS.
            self.stats.bad_ip_header += 1;
            return;
        }
        let Some(pkt) = d.get(..40 + plen) else { return self.short(cut) };
        let mut src = [0u8; 16];
        let mut dst = [0u8; 16];
        src.copy_from_slice(&h[8..24]);
        dst.copy_from_slice(&h[24..40]);
        let addrs = Addrs { src, dst, v6: true };
        let Some((proto, off)) = ipv6_ext(h[6], pkt, 40) else {
            self.stats.bad_ip_header += 1;
            return;
        };
        if proto == 44 {
            let (Some(next), Some(fo), Some(id)) = (pkt.get(off).copied(), be16(pkt, off + 2), be32(pkt, off + 4))
            else {
                self.stats.bad_ip_header += 1;
                return;
            };
            let payload = pkt.get(off + 8..).unwrap_or(&[]);
            let offset = usize::from(fo & 0xfff8);
            let more = fo & 1 != 0;
            if offset == 0 && !more {
                // Atomic fragment (RFC 6946): not fragmented at all.
                return match ipv6_ext(next, payload, 0) {
                    Some((proto, off)) if proto != 44 => {
                        let payload = payload.get(off..).unwrap_or(&[]);
                        self.transport(Ip { addrs, proto, payload }, true, ts, emit)
                    }
                    _ => self.stats.bad_ip_header += 1,
                };
            }
            return self.fragment(FragKey { addrs, id, proto: next }, offset, more, payload, ts, emit);
        }
        let payload = pkt.get(off..).unwrap_or(&[]);
        self.transport(Ip { addrs, proto, payload }, true, ts, emit);
    }

    fn fragment(
        &mut self,
        key: FragKey,
        offset: usize,
        more: bool,
        payload: &[u8],
        ts: Micros,
        emit: &mut dyn FnMut(&DnsPayload<'_>),
    ) {
        self.stats.ip_fragments += 1;
        if let Some((i, n)) = self.shard {
            if frag_hash(&key.addrs, key.id, key.proto) % n != i {
                self.stats.other_shard += 1;
                return;
            }
        }
        let Some(datagram) = self.defrag.add(key, offset, more, payload, ts, &mut self.stats) else { return };
        self.stats.ip_reassembled += 1;
        let (proto, off) = if key.addrs.v6 {
            match ipv6_ext(key.proto, &datagram, 0) {
                Some((p, off)) if p != 44 => (p, off),
                _ => {
                    self.stats.bad_ip_header += 1;
                    self.defrag.recycle(datagram);
                    return;
                }
            }
        } else {
            (key.proto, 0)
        };
        let payload = datagram.get(off..).unwrap_or(&[]);
        self.transport(Ip { addrs: key.addrs, proto, payload }, false, ts, emit);
        self.defrag.recycle(datagram);
    }

    #[inline]
    fn transport(&mut self, ip: Ip<'_>, check_shard: bool, ts: Micros, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        let d = ip.payload;
        let is_udp = match ip.proto {
            17 => true,
            6 => false,
            _ => {
                self.stats.not_udp_tcp += 1;
                return;
            }
        };
        let (Some(sport), Some(dport)) = (be16(d, 0), be16(d, 2)) else {
            self.stats.bad_transport_header += 1;
            return;
        };
        let ports = if is_udp { &self.udp_ports } else { &self.tcp_ports };
        if !ports.contains(sport) && !ports.contains(dport) {
            self.stats.not_dns_port += 1;
            return;
        }
        if let (true, Some((i, n))) = (check_shard, self.shard) {
            if flow_hash(&ip.addrs, sport, dport) % n != i {
                self.stats.other_shard += 1;
                return;
            }
        }
        if is_udp {
            let Some(ulen) = be16(d, 4).map(usize::from).filter(|&l| l >= 8) else {
                self.stats.bad_transport_header += 1;
                return;
            };
            if ulen != d.len() {
                self.stats.udp_length_mismatch += 1;
            }
            let data = d.get(8..ulen.min(d.len())).unwrap_or(&[]);
            if data.is_empty() {
                self.stats.udp_empty += 1;
                return;
            }
            self.stats.dns_udp += 1;
            let a = &ip.addrs;
            emit(&DnsPayload {
                ts,
                src: Addrs::ip(&a.src, a.v6),
                dst: Addrs::ip(&a.dst, a.v6),
                sport,
                dport,
                transport: Transport::Udp,
                data,
            });
        } else {
            let (Some(seq), Some(&doff), Some(&flags)) = (be32(d, 4), d.get(12), d.get(13)) else {
                self.stats.bad_transport_header += 1;
                return;
            };
            let doff = usize::from(doff >> 4) * 4;
            let Some(payload) = d.get(doff..).filter(|_| doff >= 20) else {
                self.stats.bad_transport_header += 1;
                return;
            };
            self.stats.tcp_segments += 1;
            let key = FlowKey { addrs: ip.addrs, sport, dport };
            self.tcp.segment(key, seq, flags, payload, ts, &mut self.stats, emit);
        }
    }
}

/// Walks IPv6 extension headers from `nh` at `off`; stops at a fragment header or an upper-layer protocol.
/// Returns the protocol and its offset, or `None` for a malformed chain.
fn ipv6_ext(mut nh: u8, pkt: &[u8], mut off: usize) -> Option<(u8, usize)> {
    for _ in 0..16 {
        let len = match nh {
            0 | 43 | 60 | 135 | 139 | 140 => (usize::from(*pkt.get(off + 1)?) + 1) * 8,
            51 => (usize::from(*pkt.get(off + 1)?) + 2) * 4,
            _ => return Some((nh, off)),
        };
        nh = *pkt.get(off)?;
        off += len;
        if off > pkt.len() {
            return None;
        }
    }
    None
}
