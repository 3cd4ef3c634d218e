//! One packet-processing thread: frames → DNS payloads (capture) → query/response matching →
//! RRsets (wire) → the deduplication cache (a [`Batch`]), handed to the output when full or
//! due.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use dnsledger_capture::{Decoder, DnsPayload, Packet, Transport};
use dnsledger_model::Observation;
use dnsledger_store::Batch;
use dnsledger_wire::{Extractor, MessageMeta, Rrset};

use crate::matcher::{Matched, Matcher, Transaction};
use crate::output::client_prefix;
use crate::replay::{Replay, Replayed};
use crate::SensorOptions;

/// Malformed messages logged per reason (all are counted).
const LOGGED_PER_REASON: u64 = 5;

/// Counters of one worker (added up over workers for the summary).
#[derive(Debug, Clone, Default)]
pub struct WorkerStats {
    /// DNS messages seen (queries and responses).
    pub dns_messages: u64,
    /// Responses seen.
    pub responses: u64,
    /// Responses used (extracted).
    pub responses_used: u64,
    /// Responses counted by replaying an identical earlier response's RRsets.
    pub replayed: u64,
    /// Responses not used because their query was not seen (`--require-query` only).
    pub responses_without_query: u64,
    /// RRsets (and negative answers) added to the cache.
    pub rrsets: u64,
    /// Negative answers added.
    pub negative: u64,
    /// RRsets dropped by the bailiwick rule.
    pub out_of_bailiwick: u64,
    /// Answer RRsets dropped because they were not on the question's CNAME chain.
    pub off_chain: u64,
    /// Authority/additional RRsets dropped because no zone vouches for them (resolver answers).
    pub unvouched: u64,
    /// Responses that carry nothing to store, by reason (TC set, SERVFAIL, …).
    pub skipped: BTreeMap<String, u64>,
    /// Malformed messages, by reason.
    pub errors: BTreeMap<String, u64>,
    /// Batches handed to the output.
    pub batches: u64,
}

impl WorkerStats {
    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &WorkerStats) {
        self.dns_messages += o.dns_messages;
        self.responses += o.responses;
        self.responses_used += o.responses_used;
        self.replayed += o.replayed;
        self.responses_without_query += o.responses_without_query;
        self.rrsets += o.rrsets;
        self.negative += o.negative;
        self.out_of_bailiwick += o.out_of_bailiwick;
        self.off_chain += o.off_chain;
        self.unvouched += o.unvouched;
        for (k, v) in &o.skipped {
            *self.skipped.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &o.errors {
            *self.errors.entry(k.clone()).or_default() += v;
        }
        self.batches += o.batches;
    }
}

/// The per-message half of a worker (everything but the decoder, which lends it payloads).
struct State {
    matcher: Matcher,
    extractor: Extractor,
    replay: Replay,
    batch: Batch,
    sensor_id: Option<u16>,
    sensor: Option<String>,
    record_clients: bool,
    require_query: bool,
    mdns: bool,
    prefix: Vec<u8>,
    /// (record index, TTL) per RRset of the response being extracted (reused).
    records: Vec<(u32, Option<u32>)>,
    /// The record key being built (reused).
    key: Vec<u8>,
    /// Sightings of a replayed response not yet added to their records, and their time: they
    /// are added when the next message comes (or the batch is handed on), so the cache misses
    /// on those records, prefetched when the replay was found, overlap decoding the next frame.
    deferred: Vec<(u32, Option<u32>)>,
    deferred_time: u64,
    frame: u64,
    origin: String,
    stats: WorkerStats,
    /// When the cache is handed on ([`Worker::maybe_flush`]): each new batch is sized for it.
    cache_bytes: usize,
}

impl State {
    /// Adds the deferred sightings to their records.
    fn apply_deferred(&mut self) {
        for &(index, ttl) in &self.deferred {
            self.batch.repeat(index, self.deferred_time, ttl);
        }
        self.deferred.clear();
    }

    fn new_batch(&mut self) -> Batch {
        self.apply_deferred();
        let old = std::mem::replace(&mut self.batch, Batch::sized_for(self.cache_bytes));
        self.replay.clear();
        self.sensor_id = self.sensor.as_deref().map(|s| self.batch.local_sensor(s));
        old
    }

    fn payload(&mut self, p: &DnsPayload<'_>) {
        if !self.deferred.is_empty() {
            self.apply_deferred();
        }
        let Some(h) = dnsledger_wire::peek_header(p.data) else {
            self.error("short_header", "message shorter than a DNS header".into(), p);
            return;
        };
        self.stats.dns_messages += 1;
        let tcp = matches!(p.transport, Transport::Tcp);
        // mDNS responses (RFC 6762: always from port 5353) have no question to start from.
        let mdns = h.qr && self.mdns && !tcp && p.sport == 5353;
        // A response whose bytes (all but the id) repeat one extracted before gives the same
        // RRsets: count it against them without extracting again (unicast only: the replay
        // table does not tell the two extraction modes apart). It is fingerprinted first and
        // its table slots prefetched, so that matching it to its query overlaps their misses.
        if h.qr && self.record_clients {
            client_prefix(p.dst, p.src, &mut self.prefix);
        }
        let fingerprint = if h.qr && !mdns {
            let f = self.replay.fingerprint(p.data, &self.prefix);
            if let Some(f) = &f {
                self.replay.prefetch(f);
            }
            f
        } else {
            None
        };
        let question = dnsledger_wire::question_key(p.data).unwrap_or(0);
        if !h.qr {
            let t = Transaction { client: (p.src, p.sport), server: (p.dst, p.dport), tcp, id: h.id, question };
            self.matcher.query(&t, p.ts);
            return;
        }
        self.stats.responses += 1;
        let t = Transaction { client: (p.dst, p.dport), server: (p.src, p.sport), tcp, id: h.id, question };
        if self.matcher.response(&t, p.ts) == Matched::Unmatched && self.require_query {
            self.stats.responses_without_query += 1;
            return;
        }
        let time = u64::try_from(p.ts / 1_000_000).unwrap_or(0);
        let meta = MessageMeta { time, zone_hint: None };
        if let Some(hit) = fingerprint.as_ref().and_then(|f| self.replay.replay(f)) {
            for (index, ttl) in hit.records() {
                self.batch.prefetch(index);
                self.deferred.push((index, ttl));
            }
            self.deferred_time = time;
            self.stats.responses_used += 1;
            self.stats.replayed += 1;
            self.stats.rrsets += hit.len() as u64;
            self.stats.negative += u64::from(hit.negative);
            self.stats.out_of_bailiwick += u64::from(hit.dropped.0);
            self.stats.off_chain += u64::from(hit.dropped.1);
            self.stats.unvouched += u64::from(hit.dropped.2);
            return;
        }
        let batch = &mut self.batch;
        let prefix = &self.prefix;
        let sensor = self.sensor_id;
        let mut records = std::mem::take(&mut self.records);
        records.clear();
        let mut negative = 0u32;
        let r = if mdns {
            self.extractor.extract_mdns(p.data, &meta, &mut |obs: &mut Observation| {
                negative += u32::from(obs.negative.is_some());
                let ttl = obs.ttl;
                records.push((batch.add_keyed(prefix, obs, sensor), ttl));
            })
        } else {
            // unicast: each RRset's record key straight from the extractor's buffers
            let key = &mut self.key;
            self.extractor.extract_rrsets(p.data, &meta, &mut |x: &Rrset<'_>| {
                negative += u32::from(x.negative.is_some());
                key.clear();
                key.extend_from_slice(prefix);
                x.write_key(key);
                records.push((batch.add_sighting(key, time, x.ttl, sensor), x.ttl));
            })
        };
        match r {
            Ok(Ok(x)) => {
                self.stats.responses_used += 1;
                self.stats.rrsets += records.len() as u64;
                self.stats.negative += u64::from(negative);
                self.stats.out_of_bailiwick += u64::from(x.dropped_out_of_bailiwick);
                self.stats.off_chain += u64::from(x.dropped_off_chain);
                self.stats.unvouched += u64::from(x.dropped_unvouched);
                if let Some(f) = fingerprint {
                    let dropped = (x.dropped_out_of_bailiwick, x.dropped_off_chain, x.dropped_unvouched);
                    self.replay.insert(f, Replayed { records: &records, negative, dropped });
                }
            }
            Ok(Err(skip)) => {
                let reason = match skip {
                    dnsledger_wire::Skip::Rcode(r) => rcode_name(r),
                    other => other.as_str(),
                };
                *self.stats.skipped.entry(reason.to_string()).or_default() += 1;
            }
            Err(e) => self.error(e.reason, e.detail, p),
        }
        self.records = records;
    }

    fn error(&mut self, reason: &str, detail: String, p: &DnsPayload<'_>) {
        let n = self.stats.errors.entry(reason.to_string()).or_default();
        *n += 1;
        if *n <= LOGGED_PER_REASON {
            tracing::warn!(
                "{}: frame {}: {} {}:{} -> {}:{}: malformed DNS message ({reason}): {detail}{}",
                self.origin,
                self.frame,
                if matches!(p.transport, Transport::Tcp) { "tcp" } else { "udp" },
                fmt_ip(p.src),
                p.sport,
                fmt_ip(p.dst),
                p.dport,
                if *n == LOGGED_PER_REASON { " (further ones of this reason only counted)" } else { "" }
            );
        }
    }
}

fn rcode_name(r: u16) -> &'static str {
    match r {
        1 => "rcode_formerr",
        2 => "rcode_servfail",
        4 => "rcode_notimp",
        5 => "rcode_refused",
        6 => "rcode_yxdomain",
        7 => "rcode_yxrrset",
        8 => "rcode_nxrrset",
        9 => "rcode_notauth",
        10 => "rcode_notzone",
        16 => "rcode_badvers",
        17 => "rcode_badkey",
        18 => "rcode_badtime",
        19 => "rcode_badmode",
        20 => "rcode_badname",
        21 => "rcode_badalg",
        22 => "rcode_badtrunc",
        23 => "rcode_badcookie",
        _ => "rcode_other",
    }
}

fn fmt_ip(ip: IpAddr) -> String {
    match ip {
        IpAddr::V6(a) => format!("[{a}]"),
        IpAddr::V4(a) => a.to_string(),
    }
}

/// A worker: its decoder, matcher, extractor and cache, and where full caches go.
pub struct Worker<'s> {
    decoder: Decoder,
    state: State,
    flush_every: Duration,
    last_flush: Instant,
    last_expire: i64,
    since_check: u32,
    send: &'s mut dyn FnMut(Batch),
}

impl<'s> Worker<'s> {
    /// A worker for shard `shard` (index, count) that hands batches to `send`.
    pub fn new(opts: &SensorOptions, shard: Option<(u32, u32)>, send: &'s mut dyn FnMut(Batch)) -> Worker<'s> {
        let mut cfg = opts.decoder.clone();
        cfg.shard = shard;
        let workers = shard.map(|s| s.1).unwrap_or(1).max(1) as usize;
        let cache_bytes = (opts.cache_bytes / workers).max(1 << 20);
        let mut state = State {
            matcher: Matcher::new(opts.max_pending_queries, opts.query_timeout_us),
            extractor: Extractor::new(opts.extract.clone()),
            replay: Replay::default(),
            batch: Batch::new(),
            sensor_id: None,
            sensor: opts.sensor.clone(),
            record_clients: opts.record_clients,
            require_query: opts.require_query,
            mdns: opts.mdns,
            prefix: Vec::new(),
            records: Vec::new(),
            key: Vec::new(),
            deferred: Vec::new(),
            deferred_time: 0,
            frame: 0,
            origin: String::new(),
            stats: WorkerStats::default(),
            cache_bytes,
        };
        state.new_batch();
        Worker {
            decoder: Decoder::new(cfg),
            state,
            flush_every: opts.flush_every,
            last_flush: Instant::now(),
            last_expire: i64::MIN,
            since_check: 0,
            send,
        }
    }

    /// Sets the input name used in messages.
    pub fn set_origin(&mut self, origin: &str) {
        self.state.origin = origin.to_string();
    }

    /// Processes one frame.
    pub fn frame(&mut self, p: &Packet<'_>) {
        self.state.frame = p.index;
        let state = &mut self.state;
        self.decoder.packet(p, &mut |pl| state.payload(pl));
        if p.ts.saturating_sub(self.last_expire) >= 1_000_000 {
            self.last_expire = p.ts;
            let state = &mut self.state;
            self.decoder.expire(p.ts, &mut |pl| state.payload(pl));
        }
        self.since_check += 1;
        if self.since_check >= 1024 {
            self.since_check = 0;
            self.maybe_flush();
        }
    }

    /// Hands the cache to the output if it is full or due (also called while idle).
    pub fn maybe_flush(&mut self) {
        if self.state.batch.approx_bytes() >= self.state.cache_bytes
            || (self.last_flush.elapsed() >= self.flush_every && !self.state.batch.is_empty())
        {
            self.flush();
        }
    }

    /// Hands the cache to the output now.
    pub fn flush(&mut self) {
        self.last_flush = Instant::now();
        if self.state.batch.is_empty() {
            return;
        }
        let b = self.state.new_batch();
        self.state.stats.batches += 1;
        (self.send)(b);
    }

    /// End of input: drains the decoder and matcher, flushes, returns the counters.
    pub fn finish(mut self) -> (WorkerStats, dnsledger_capture::DecodeStats, crate::matcher::MatchStats) {
        let state = &mut self.state;
        self.decoder.finish(&mut |pl| state.payload(pl));
        self.state.matcher.finish();
        self.flush();
        (self.state.stats.clone(), self.decoder.stats().clone(), self.state.matcher.stats())
    }

    /// Current counters (for periodic reports).
    pub fn stats(&self) -> (&WorkerStats, &dnsledger_capture::DecodeStats, crate::matcher::MatchStats) {
        (&self.state.stats, self.decoder.stats(), self.state.matcher.stats())
    }
}
