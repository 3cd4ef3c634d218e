//! Bounded IPv4/IPv6 fragment reassembly.
//!
//! Datagrams are keyed by (addresses, IP id, protocol). Memory is capped by fragment count and by bytes
//! (the extent of each partial datagram); when a cap is hit the oldest datagrams are dropped first.
//! Any overlap that is not an exact duplicate drops the whole datagram (RFC 5722 style), so overlapping
//! fragments can never smuggle inconsistent bytes into a payload.

use std::collections::VecDeque;

use foldhash::fast::RandomState;
use hashbrown::HashMap;

use crate::decode::Addrs;
use crate::stats::DecodeStats;
use crate::Micros;

/// Largest reassembled IP payload.
const MAX_DATAGRAM: usize = 65_535;
/// Buffers kept for reuse.
const POOL: usize = 64;

/// Identity of a fragmented datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct FragKey {
    pub addrs: Addrs,
    pub id: u32,
    pub proto: u8,
}

struct Datagram {
    gen: u64,
    created: Micros,
    buf: Vec<u8>,
    /// Received byte ranges, sorted, never overlapping.
    ranges: Vec<(usize, usize)>,
    total: Option<usize>,
    received: usize,
    frags: usize,
}

pub(crate) struct Defrag {
    map: HashMap<FragKey, Datagram, RandomState>,
    order: VecDeque<(FragKey, u64)>,
    max_frags: usize,
    max_bytes: usize,
    timeout: Micros,
    frags: usize,
    bytes: usize,
    next_gen: u64,
    pool: Vec<Vec<u8>>,
}

impl Defrag {
    pub fn new(max_frags: usize, max_bytes: usize, timeout: Micros) -> Defrag {
        Defrag {
            map: HashMap::with_hasher(RandomState::default()),
            order: VecDeque::new(),
            max_frags: max_frags.max(1),
            max_bytes,
            timeout,
            frags: 0,
            bytes: 0,
            next_gen: 0,
            pool: Vec::new(),
        }
    }

    pub fn fragments(&self) -> usize {
        self.frags
    }

    /// Bytes held (the extent of every partial datagram), what `max_bytes` caps.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Returns a reassembled datagram's buffer for reuse.
    pub fn recycle(&mut self, mut buf: Vec<u8>) {
        if self.pool.len() < POOL {
            buf.clear();
            self.pool.push(buf);
        }
    }

    fn remove(&mut self, key: &FragKey) -> Option<Datagram> {
        let d = self.map.remove(key)?;
        self.frags -= d.frags;
        self.bytes -= d.buf.len();
        Some(d)
    }

    fn discard(&mut self, key: &FragKey) -> usize {
        match self.remove(key) {
            Some(d) => {
                let n = d.frags;
                self.recycle(d.buf);
                n
            }
            None => 0,
        }
    }

    /// Drops the oldest datagram; false if there is none.
    fn evict_oldest(&mut self, stats: &mut DecodeStats) -> bool {
        while let Some((key, gen)) = self.order.pop_front() {
            if self.map.get(&key).is_some_and(|d| d.gen == gen) {
                stats.fragments_dropped_limit += self.discard(&key) as u64;
                return true;
            }
        }
        false
    }

    /// Adds one fragment (`offset` in bytes); returns the payload once the datagram is complete.
    pub fn add(
        &mut self,
        key: FragKey,
        offset: usize,
        more: bool,
        payload: &[u8],
        ts: Micros,
        stats: &mut DecodeStats,
    ) -> Option<Vec<u8>> {
        let end = offset + payload.len();
        if end > MAX_DATAGRAM || payload.is_empty() || (more && !payload.len().is_multiple_of(8)) {
            stats.fragments_bad += 1 + self.discard(&key) as u64;
            return None;
        }
        if end > self.max_bytes {
            // No eviction can make room: drop this fragment, not everything else.
            stats.fragments_dropped_limit += 1;
            return None;
        }
        loop {
            // Recomputed each round: the eviction may have dropped this very datagram, which
            // then starts again from an empty buffer and grows by the whole `end`.
            let growth = end.saturating_sub(self.map.get(&key).map_or(0, |d| d.buf.len()));
            if self.frags < self.max_frags && self.bytes + growth <= self.max_bytes {
                break;
            }
            if !self.evict_oldest(stats) {
                stats.fragments_dropped_limit += 1;
                return None;
            }
        }
        if !self.map.contains_key(&key) {
            let gen = self.next_gen;
            self.next_gen += 1;
            let buf = self.pool.pop().unwrap_or_default();
            let d = Datagram { gen, created: ts, buf, ranges: Vec::new(), total: None, received: 0, frags: 0 };
            self.map.insert(key, d);
            self.order.push_back((key, gen));
            if self.order.len() > 2 * self.map.len() + 1024 {
                let map = &self.map;
                self.order.retain(|(k, g)| map.get(k).is_some_and(|d| d.gen == *g));
            }
        }
        let d = self.map.get_mut(&key)?;
        let inconsistent = match d.total {
            Some(t) => end > t || (!more && end != t),
            None => !more && d.ranges.last().is_some_and(|&(_, e)| e > end),
        };
        if inconsistent {
            stats.fragments_bad += 1 + self.discard(&key) as u64;
            return None;
        }
        let mut pos = d.ranges.len();
        let mut clash = None;
        for (i, &(s, e)) in d.ranges.iter().enumerate() {
            if offset < e && s < end {
                clash = Some(s == offset && e == end && d.buf.get(s..e) == Some(payload));
                break;
            }
            if s >= end {
                pos = i;
                break;
            }
        }
        match clash {
            Some(true) => {
                stats.fragments_duplicate += 1;
                return None;
            }
            Some(false) => {
                stats.fragments_overlap += 1;
                stats.fragments_bad += 1 + self.discard(&key) as u64;
                return None;
            }
            None => {}
        }
        d.ranges.insert(pos, (offset, end));
        if d.buf.len() < end {
            self.bytes += end - d.buf.len();
            d.buf.resize(end, 0);
        }
        d.buf.get_mut(offset..end)?.copy_from_slice(payload);
        if !more {
            d.total = Some(end);
        }
        d.received += payload.len();
        d.frags += 1;
        self.frags += 1;
        debug_assert!(self.frags <= self.max_frags && self.bytes <= self.max_bytes, "fragment caps exceeded");
        if d.total != Some(d.received) {
            return None;
        }
        self.remove(&key).map(|d| d.buf)
    }

    /// Drops datagrams that started more than the timeout before `now`.
    pub fn expire(&mut self, now: Micros, stats: &mut DecodeStats) {
        let cutoff = now.saturating_sub(self.timeout);
        while let Some(&(key, gen)) = self.order.front() {
            match self.map.get(&key) {
                Some(d) if d.gen == gen => {
                    if d.created > cutoff {
                        break;
                    }
                    stats.fragments_dropped_timeout += self.discard(&key) as u64;
                }
                _ => {}
            }
            self.order.pop_front();
        }
    }

    /// End of input: counts what is still held and frees it.
    pub fn clear(&mut self, stats: &mut DecodeStats) {
        stats.fragments_dropped_at_end += self.frags as u64;
        self.map.clear();
        self.order.clear();
        self.frags = 0;
        self.bytes = 0;
    }
}
