//! Query/response matching.
//!
//! passivedns remembers one transaction id per UDP 5-tuple and drops every response whose id
//! is not the last query's, which loses answers whenever a client keeps several queries in
//! flight on one socket (11% of the responses in our reference capture). Here every query in
//! flight is its own entry, keyed by the full transaction identity — client and server address
//! and port, transport, DNS id and question — so any number of queries may share a socket.
//!
//! Matching never decides whether a response is used: a response whose query was not seen
//! (capture started mid-flight, asymmetric routing, query lost by the kernel) is still used and
//! counted as unmatched, unless the sensor is told to require the query (`--require-query`,
//! a defence for taps that might see forged, unsolicited responses).

use std::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::net::IpAddr;

use hashbrown::HashMap;

/// Passes a precomputed 64-bit hash through (keys are already seeded hashes).
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The identity of one transaction, as seen from the client's side.
#[derive(Debug, Clone, Copy)]
pub struct Transaction {
    /// The client (query source, response destination).
    pub client: (IpAddr, u16),
    /// The server (query destination, response source).
    pub server: (IpAddr, u16),
    /// True for TCP.
    pub tcp: bool,
    /// DNS message id.
    pub id: u16,
    /// Fingerprint of the question section.
    pub question: u64,
}

/// What matching said about a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Matched {
    /// Its query was seen; the time the query was sent (µs).
    Query(i64),
    /// No query in flight had this identity.
    Unmatched,
}

/// Counters of the matcher.
#[derive(Debug, Clone, Copy, Default)]
pub struct MatchStats {
    /// Queries seen.
    pub queries: u64,
    /// Retransmitted queries (same identity while the first was still in flight).
    pub query_retransmits: u64,
    /// Responses whose query was in flight.
    pub matched: u64,
    /// Responses without a query in flight.
    pub unmatched: u64,
    /// Queries that timed out unanswered.
    pub unanswered: u64,
    /// Queries not tracked because the table was full of live entries.
    pub untracked: u64,
}

impl MatchStats {
    /// Adds another matcher's counters.
    pub fn merge(&mut self, o: &MatchStats) {
        let fields = [
            (&mut self.queries, o.queries),
            (&mut self.query_retransmits, o.query_retransmits),
            (&mut self.matched, o.matched),
            (&mut self.unmatched, o.unmatched),
            (&mut self.unanswered, o.unanswered),
            (&mut self.untracked, o.untracked),
        ];
        for (a, b) in fields {
            *a += b;
        }
    }
}

/// The table of queries in flight: bounded, expired by packet time.
pub struct Matcher {
    pending: HashMap<u64, i64, BuildHasherDefault<PassThrough>>,
    hasher: foldhash::fast::RandomState,
    max_pending: usize,
    timeout: i64,
    last_sweep: i64,
    stats: MatchStats,
}

impl Matcher {
    /// A matcher holding at most `max_pending` queries for at most `timeout_us` µs each.
    pub fn new(max_pending: usize, timeout_us: i64) -> Matcher {
        Matcher {
            pending: HashMap::default(),
            hasher: foldhash::fast::RandomState::default(),
            max_pending: max_pending.max(1),
            timeout: timeout_us.max(1),
            last_sweep: i64::MIN,
            stats: MatchStats::default(),
        }
    }

    fn key(&self, t: &Transaction) -> u64 {
        let mut h = self.hasher.build_hasher();
        hash_ip(&mut h, t.client.0);
        hash_ip(&mut h, t.server.0);
        h.write_u64(
            (u64::from(t.client.1) << 48) | (u64::from(t.server.1) << 32) | (u64::from(t.id) << 16) | u64::from(t.tcp),
        );
        h.write_u64(t.question);
        h.finish()
    }

    /// Records a query sent at `ts` (µs).
    pub fn query(&mut self, t: &Transaction, ts: i64) {
        self.stats.queries += 1;
        self.maybe_sweep(ts);
        let k = self.key(t);
        if self.pending.len() >= self.max_pending && !self.pending.contains_key(&k) {
            self.sweep(ts);
            if self.pending.len() >= self.max_pending {
                self.stats.untracked += 1;
                return;
            }
        }
        if self.pending.insert(k, ts).is_some() {
            self.stats.query_retransmits += 1;
        }
    }

    /// Pairs a response seen at `ts` (µs) with its query, removing the query from the table.
    pub fn response(&mut self, t: &Transaction, ts: i64) -> Matched {
        self.maybe_sweep(ts);
        match self.pending.remove(&self.key(t)) {
            Some(q) => {
                self.stats.matched += 1;
                Matched::Query(q)
            }
            None => {
                self.stats.unmatched += 1;
                Matched::Unmatched
            }
        }
    }

    fn maybe_sweep(&mut self, now: i64) {
        // at most one sweep per timeout/4 of packet time
        if now.saturating_sub(self.last_sweep) >= self.timeout / 4 {
            self.sweep(now);
        }
    }

    fn sweep(&mut self, now: i64) {
        self.last_sweep = now;
        let deadline = now.saturating_sub(self.timeout);
        let before = self.pending.len();
        self.pending.retain(|_, &mut ts| ts >= deadline);
        self.stats.unanswered += (before - self.pending.len()) as u64;
    }

    /// End of input: every query still in flight counts as unanswered.
    pub fn finish(&mut self) {
        self.stats.unanswered += self.pending.len() as u64;
        self.pending.clear();
    }

    /// Queries in flight now.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The counters.
    pub fn stats(&self) -> MatchStats {
        self.stats
    }
}

fn hash_ip(h: &mut impl Hasher, ip: IpAddr) {
    match ip {
        IpAddr::V4(a) => h.write_u32(u32::from(a)),
        IpAddr::V6(a) => h.write_u128(u128::from(a)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx(id: u16, port: u16) -> Transaction {
        Transaction {
            client: ("192.0.2.1".parse().unwrap(), port),
            server: ("192.0.2.53".parse().unwrap(), 53),
            tcp: false,
            id,
            question: 7,
        }
    }

    #[test]
    fn many_queries_in_flight_on_one_socket_all_match() {
        let mut m = Matcher::new(1000, 5_000_000);
        for id in 0..100 {
            m.query(&tx(id, 4000), 1_000);
        }
        // answered in reverse order: passivedns would keep only id 99
        for id in (0..100).rev() {
            assert_eq!(m.response(&tx(id, 4000), 2_000), Matched::Query(1_000));
        }
        assert_eq!(m.stats().matched, 100);
        assert_eq!(m.response(&tx(5, 4000), 3_000), Matched::Unmatched);
        assert_eq!(m.response(&tx(5, 4001), 3_000), Matched::Unmatched);
    }

    #[test]
    fn identity_includes_question_and_transport() {
        let mut m = Matcher::new(10, 5_000_000);
        m.query(&tx(1, 4000), 0);
        assert_eq!(m.response(&Transaction { question: 8, ..tx(1, 4000) }, 1), Matched::Unmatched);
        assert_eq!(m.response(&Transaction { tcp: true, ..tx(1, 4000) }, 1), Matched::Unmatched);
        assert_eq!(m.response(&tx(1, 4000), 1), Matched::Query(0));
    }

    #[test]
    fn bounded_and_expired_by_packet_time() {
        let mut m = Matcher::new(3, 1_000_000);
        for id in 0..5 {
            m.query(&tx(id, 1), 0);
        }
        assert_eq!(m.pending(), 3);
        assert_eq!(m.stats().untracked, 2);
        // two seconds later the old ones have expired and make room
        m.query(&tx(9, 1), 2_000_000);
        assert_eq!(m.pending(), 1);
        assert_eq!(m.stats().unanswered, 3);
        m.finish();
        assert_eq!(m.stats().unanswered, 4);
    }
}
