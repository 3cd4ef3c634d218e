//! DNS-over-TCP stream reassembly (RFC 7766 two-byte length prefix).
//!
//! Each direction of a connection is an independent byte stream of length-prefixed messages. In-order
//! segments that hold whole messages are delivered straight from the segment (no copy); only a partial
//! message is buffered. Segments ahead of a gap are held until the gap fills; when the held bytes pass
//! half of `max_flow_bytes`, or at FIN/RST/idle expiry/eviction, the gap is given up: the stream jumps
//! to the next held segment and resynchronises on the next plausible DNS message start.
//! A message longer than `max_flow_bytes` is skipped by its length without being buffered.
//! The bytes held by all stream directions together are capped too (`max_tcp_bytes`): past it,
//! the least recently active directions are evicted (`tcp_flows_evicted_memory`), so many
//! connections that each never finish a message cannot add up past the cap.

use std::collections::VecDeque;

use foldhash::fast::RandomState;
use hashbrown::HashMap;

use crate::decode::{Addrs, DnsPayload, Transport};
use crate::stats::DecodeStats;
use crate::Micros;

const FIN: u8 = 0x01;
const SYN: u8 = 0x02;
const RST: u8 = 0x04;
/// Bookkeeping bytes charged per held out-of-order segment (so tiny segments cannot exhaust memory).
const SEG_OVERHEAD: usize = 64;

/// One direction of a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FlowKey {
    pub addrs: Addrs,
    pub sport: u16,
    pub dport: u16,
}

impl FlowKey {
    fn reverse(&self) -> FlowKey {
        let a = &self.addrs;
        FlowKey { addrs: Addrs { src: a.dst, dst: a.src, v6: a.v6 }, sport: self.dport, dport: self.sport }
    }
}

/// Where messages go.
struct Out<'a, 'e> {
    key: &'a FlowKey,
    ts: Micros,
    stats: &'a mut DecodeStats,
    emit: &'a mut (dyn FnMut(&DnsPayload<'_>) + 'e),
}

impl Out<'_, '_> {
    fn deliver(&mut self, data: &[u8]) {
        self.stats.dns_tcp_messages += 1;
        let a = &self.key.addrs;
        (self.emit)(&DnsPayload {
            ts: self.ts,
            src: Addrs::ip(&a.src, a.v6),
            dst: Addrs::ip(&a.dst, a.v6),
            sport: self.key.sport,
            dport: self.key.dport,
            transport: Transport::Tcp,
            data,
        });
    }
}

#[inline]
fn be16(d: &[u8], at: usize) -> Option<usize> {
    Some(usize::from(u16::from_be_bytes(d.get(at..at + 2)?.try_into().ok()?)))
}

/// Could a DNS message (with its length prefix) start at `w[0]`? `None`: not enough bytes to tell.
/// Conservative: QUERY/IQUERY/STATUS/NOTIFY/UPDATE opcodes, Z bit clear, rcode <= 10, at most one
/// question, section counts that fit the length, and a question name starting with a plain label.
fn plausible(w: &[u8]) -> Option<bool> {
    let len = be16(w, 0)?;
    let flags = be16(w, 4)?;
    let counts = [be16(w, 6)?, be16(w, 8)?, be16(w, 10)?, be16(w, 12)?];
    let [qd, an, ns, ar] = counts;
    let opcode = (flags >> 11) & 0xf;
    if len < 12 || !matches!(opcode, 0 | 1 | 2 | 4 | 5) || flags & 0x0040 != 0 || flags & 0xf > 10 || qd > 1 {
        return Some(false);
    }
    if 12 + qd * 5 + (an + ns + ar) * 11 > len {
        return Some(false);
    }
    if qd == 1 {
        return Some(*w.get(14)? <= 63);
    }
    Some(true)
}

struct Stream {
    gen: u64,
    last_seen: Micros,
    isn: Option<u32>,
    /// Sequence number of the next in-order byte.
    seq: u32,
    /// The next in-order byte is at a message boundary (or inside the message in `buf`).
    synced: bool,
    /// Bytes still to skip of a message too large to buffer.
    skip: usize,
    /// A partial message when synced; fewer than 15 carried-over bytes while resynchronising.
    buf: Vec<u8>,
    /// Held out-of-order segments, sorted by distance from `seq`.
    ooo: Vec<(u32, Vec<u8>)>,
    ooo_bytes: usize,
}

impl Stream {
    /// Bytes this direction holds (partial message and held segments with their overhead).
    fn held(&self) -> usize {
        self.buf.len() + self.ooo_bytes
    }

    fn segment(&mut self, seq: u32, data: &[u8], max: usize, out: &mut Out<'_, '_>) {
        if data.is_empty() {
            return;
        }
        let rel = seq.wrapping_sub(self.seq) as i32;
        if rel > 0 {
            return self.hold(seq, data, max, out);
        }
        let dup = rel.unsigned_abs() as usize;
        let Some(fresh) = data.get(dup..).filter(|d| !d.is_empty()) else {
            out.stats.tcp_retransmitted_bytes += data.len() as u64;
            return;
        };
        out.stats.tcp_retransmitted_bytes += dup as u64;
        self.in_order(fresh, max, out);
        self.drain(max, out);
        // In-order bytes may have grown the partial message while segments are held.
        self.enforce_cap(max, out);
    }

    /// Gives up gaps until the held segments and the partial message fit the per-stream cap.
    fn enforce_cap(&mut self, max: usize, out: &mut Out<'_, '_>) {
        while !self.ooo.is_empty() && (self.ooo_bytes > max / 2 || self.ooo_bytes + self.buf.len() > max) {
            self.skip_hole(max, out);
        }
        debug_assert!(self.buf.len() <= max, "TCP partial message over the stream cap");
        debug_assert!(self.ooo.is_empty() || self.ooo_bytes + self.buf.len() <= max, "TCP stream over its cap");
    }

    fn hold(&mut self, seq: u32, data: &[u8], max: usize, out: &mut Out<'_, '_>) {
        if self.ooo.iter().any(|(s, d)| *s == seq && d.len() == data.len()) {
            out.stats.tcp_retransmitted_bytes += data.len() as u64;
            return;
        }
        let base = self.seq;
        let dist = |s: u32| s.wrapping_sub(base) as i32;
        let d0 = dist(seq);
        let pos = self.ooo.iter().position(|(s, _)| dist(*s) > d0).unwrap_or(self.ooo.len());
        self.ooo.insert(pos, (seq, data.to_vec()));
        self.ooo_bytes += data.len() + SEG_OVERHEAD;
        out.stats.tcp_out_of_order += 1;
        self.enforce_cap(max, out);
    }

    /// Gives up the gap before the first held segment and continues from that segment.
    fn skip_hole(&mut self, max: usize, out: &mut Out<'_, '_>) {
        let Some(&(seq, _)) = self.ooo.first() else { return };
        out.stats.tcp_holes_skipped += 1;
        out.stats.tcp_dropped_bytes += self.buf.len() as u64;
        self.buf.clear();
        self.skip = 0;
        self.synced = false;
        self.seq = seq;
        self.drain(max, out);
    }

    /// Feeds held segments that have become in order.
    fn drain(&mut self, max: usize, out: &mut Out<'_, '_>) {
        while let Some(&(seq, _)) = self.ooo.first() {
            let rel = seq.wrapping_sub(self.seq) as i32;
            if rel > 0 {
                break;
            }
            let (_, seg) = self.ooo.remove(0);
            self.ooo_bytes = self.ooo_bytes.saturating_sub(seg.len() + SEG_OVERHEAD);
            let dup = rel.unsigned_abs() as usize;
            match seg.get(dup..).filter(|d| !d.is_empty()) {
                Some(fresh) => {
                    out.stats.tcp_retransmitted_bytes += dup as u64;
                    self.in_order(fresh, max, out);
                }
                None => out.stats.tcp_retransmitted_bytes += seg.len() as u64,
            }
        }
    }

    /// End of the stream: delivers what follows any gaps, counts the partial rest.
    fn close(&mut self, max: usize, out: &mut Out<'_, '_>) {
        while !self.ooo.is_empty() {
            self.skip_hole(max, out);
        }
        out.stats.tcp_dropped_bytes += self.buf.len() as u64;
        self.buf = Vec::new();
    }

    /// Consumes in-order bytes.
    fn in_order(&mut self, mut data: &[u8], max: usize, out: &mut Out<'_, '_>) {
        self.seq = self.seq.wrapping_add(data.len() as u32);
        while !data.is_empty() {
            if self.skip > 0 {
                let n = self.skip.min(data.len());
                self.skip -= n;
                data = data.get(n..).unwrap_or(&[]);
                continue;
            }
            if !self.synced {
                data = self.resync(data, out);
                continue;
            }
            if self.buf.is_empty() {
                // Fast path: whole messages straight from the segment.
                while let Some(len) = be16(data, 0) {
                    if len < 12 {
                        out.stats.tcp_bad_length += 1;
                        self.synced = false;
                        break;
                    }
                    let Some(msg) = data.get(2..2 + len) else { break };
                    out.deliver(msg);
                    data = data.get(2 + len..).unwrap_or(&[]);
                }
                if !self.synced || data.is_empty() {
                    continue;
                }
                if let Some(len) = be16(data, 0).filter(|l| 2 + l > max) {
                    out.stats.tcp_bytes_over_cap += (2 + len) as u64;
                    self.skip = 2 + len - data.len();
                    data = &[];
                    continue;
                }
                self.buf.extend_from_slice(data);
                data = &[];
            } else {
                let need = match be16(&self.buf, 0) {
                    Some(len) => (2 + len).saturating_sub(self.buf.len()),
                    None => 2 - self.buf.len().min(2),
                };
                let take = need.min(data.len());
                self.buf.extend_from_slice(data.get(..take).unwrap_or(&[]));
                data = data.get(take..).unwrap_or(&[]);
                let Some(len) = be16(&self.buf, 0) else { continue };
                if len < 12 {
                    out.stats.tcp_bad_length += 1;
                    out.stats.tcp_dropped_bytes += self.buf.len() as u64;
                    self.buf.clear();
                    self.synced = false;
                } else if 2 + len > max {
                    out.stats.tcp_bytes_over_cap += (2 + len) as u64;
                    self.skip = (2 + len).saturating_sub(self.buf.len());
                    self.buf.clear();
                } else if let Some(msg) = self.buf.get(2..2 + len) {
                    out.deliver(msg);
                    self.buf.drain(..2 + len);
                }
            }
        }
    }

    /// Looks for a plausible message start in the carried bytes plus `data`; returns the bytes from the
    /// start found (the stream is then synced), or an empty slice with the tail carried over.
    fn resync<'d>(&mut self, data: &'d [u8], out: &mut Out<'_, '_>) -> &'d [u8] {
        let carry = self.buf.len();
        if carry > 0 {
            let mut tmp = [0u8; 32];
            let take = data.len().min(16);
            let n = carry + take;
            let (a, b) = tmp.split_at_mut(carry.min(16));
            if let (Some(a), Some(b)) = (a.get_mut(..carry), b.get_mut(..take)) {
                a.copy_from_slice(&self.buf);
                b.copy_from_slice(data.get(..take).unwrap_or(&[]));
            }
            for i in 0..carry {
                match plausible(tmp.get(i..n).unwrap_or(&[])) {
                    Some(false) => {}
                    Some(true) => {
                        out.stats.tcp_resync_skipped_bytes += i as u64;
                        self.buf.drain(..i);
                        self.synced = true;
                        return data;
                    }
                    None => {
                        out.stats.tcp_resync_skipped_bytes += i as u64;
                        self.buf.drain(..i);
                        self.buf.extend_from_slice(data);
                        return &[];
                    }
                }
            }
            out.stats.tcp_resync_skipped_bytes += carry as u64;
            self.buf.clear();
        }
        for i in 0..data.len() {
            let rest = data.get(i..).unwrap_or(&[]);
            match plausible(rest) {
                Some(false) => {}
                Some(true) => {
                    out.stats.tcp_resync_skipped_bytes += i as u64;
                    self.synced = true;
                    return rest;
                }
                None => {
                    out.stats.tcp_resync_skipped_bytes += i as u64;
                    self.buf.extend_from_slice(rest);
                    return &[];
                }
            }
        }
        out.stats.tcp_resync_skipped_bytes += data.len() as u64;
        &[]
    }
}

/// All TCP stream directions on DNS ports.
pub(crate) struct TcpTable {
    map: HashMap<FlowKey, Stream, RandomState>,
    /// Creation/activity order for eviction and expiry: (key, generation, last activity when queued).
    order: VecDeque<(FlowKey, u64, Micros)>,
    max_flows: usize,
    max_bytes: usize,
    /// Cap on `held`.
    max_total: usize,
    /// Bytes held by all stream directions ([`Stream::held`] summed).
    held: usize,
    timeout: Micros,
    next_gen: u64,
}

impl TcpTable {
    pub fn new(max_flows: usize, max_bytes: usize, max_total: usize, timeout: Micros) -> TcpTable {
        let max_bytes = max_bytes.max(16);
        TcpTable {
            map: HashMap::with_hasher(RandomState::default()),
            order: VecDeque::new(),
            max_flows: max_flows.max(1),
            max_bytes,
            // room for at least one full direction, so the cap never evicts the only stream
            max_total: max_total.max(max_bytes),
            held: 0,
            timeout,
            next_gen: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn buffered_bytes(&self) -> usize {
        self.map.values().map(|s| s.buf.len() + s.ooo.iter().map(|(_, d)| d.len()).sum::<usize>()).sum()
    }

    /// Removes a stream direction, delivering what it still can.
    fn close(&mut self, key: &FlowKey, ts: Micros, stats: &mut DecodeStats, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        if let Some(mut s) = self.map.remove(key) {
            self.held = self.held.saturating_sub(s.held());
            let ts = if ts == Micros::MIN { s.last_seen } else { ts };
            s.close(self.max_bytes, &mut Out { key, ts, stats, emit });
        }
    }

    fn create(
        &mut self,
        key: FlowKey,
        seq: u32,
        isn: Option<u32>,
        ts: Micros,
        stats: &mut DecodeStats,
        emit: &mut dyn FnMut(&DnsPayload<'_>),
    ) {
        while self.map.len() >= self.max_flows {
            if !self.evict_one(stats, emit) {
                break;
            }
        }
        let gen = self.next_gen;
        self.next_gen += 1;
        let synced = isn.is_some();
        let s =
            Stream { gen, last_seen: ts, isn, seq, synced, skip: 0, buf: Vec::new(), ooo: Vec::new(), ooo_bytes: 0 };
        self.map.insert(key, s);
        self.order.push_back((key, gen, ts));
        stats.tcp_flows_created += 1;
        if self.order.len() > 2 * self.map.len() + 1024 {
            let map = &self.map;
            self.order.retain(|(k, g, _)| map.get(k).is_some_and(|s| s.gen == *g));
        }
    }

    /// Evicts the least recently active stream direction (second-chance queue); false if none.
    fn evict_one(&mut self, stats: &mut DecodeStats, emit: &mut dyn FnMut(&DnsPayload<'_>)) -> bool {
        while let Some((key, gen, stamp)) = self.order.pop_front() {
            match self.map.get(&key) {
                Some(s) if s.gen == gen => {
                    if s.last_seen > stamp {
                        self.order.push_back((key, gen, s.last_seen));
                    } else {
                        stats.tcp_flows_evicted += 1;
                        self.close(&key, Micros::MIN, stats, emit);
                        return true;
                    }
                }
                _ => {}
            }
        }
        false
    }

    /// Handles one TCP segment of a DNS port.
    #[allow(clippy::too_many_arguments)]
    pub fn segment(
        &mut self,
        key: FlowKey,
        seq: u32,
        flags: u8,
        payload: &[u8],
        ts: Micros,
        stats: &mut DecodeStats,
        emit: &mut dyn FnMut(&DnsPayload<'_>),
    ) {
        if flags & RST != 0 {
            for k in [key, key.reverse()] {
                if self.map.contains_key(&k) {
                    stats.tcp_flows_closed += 1;
                    self.close(&k, ts, stats, emit);
                }
            }
            return;
        }
        let mut data_seq = seq;
        if flags & SYN != 0 {
            data_seq = seq.wrapping_add(1);
            match self.map.get(&key) {
                Some(s) if s.isn == Some(seq) => {}
                existing => {
                    if existing.is_some() {
                        stats.tcp_flows_closed += 1;
                        self.close(&key, ts, stats, emit);
                    }
                    self.create(key, data_seq, Some(seq), ts, stats, emit);
                }
            }
        } else if !self.map.contains_key(&key) {
            if payload.is_empty() {
                return;
            }
            self.create(key, seq, None, ts, stats, emit);
        }
        let max = self.max_bytes;
        let Some(s) = self.map.get_mut(&key) else { return };
        let before = s.held();
        s.last_seen = ts;
        s.segment(data_seq, payload, max, &mut Out { key: &key, ts, stats, emit });
        self.held = (self.held + s.held()).saturating_sub(before);
        if flags & FIN != 0 {
            stats.tcp_flows_closed += 1;
            self.close(&key, ts, stats, emit);
        }
        while self.held > self.max_total {
            if !self.evict_one(stats, emit) {
                break;
            }
            stats.tcp_flows_evicted_memory += 1;
        }
    }

    /// Expires stream directions idle since before `now - timeout`.
    pub fn expire(&mut self, now: Micros, stats: &mut DecodeStats, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        let cutoff = now.saturating_sub(self.timeout);
        while let Some(&(key, gen, stamp)) = self.order.front() {
            if stamp > cutoff {
                break;
            }
            self.order.pop_front();
            match self.map.get(&key) {
                Some(s) if s.gen == gen => {
                    if s.last_seen > cutoff {
                        self.order.push_back((key, gen, s.last_seen));
                    } else {
                        stats.tcp_flows_expired += 1;
                        self.close(&key, Micros::MIN, stats, emit);
                    }
                }
                _ => {}
            }
        }
    }

    /// End of input: delivers what follows gaps and drops the rest.
    pub fn finish(&mut self, stats: &mut DecodeStats, emit: &mut dyn FnMut(&DnsPayload<'_>)) {
        let keys: Vec<FlowKey> = self.map.keys().copied().collect();
        for k in keys {
            self.close(&k, Micros::MIN, stats, emit);
        }
        self.order.clear();
    }
}
