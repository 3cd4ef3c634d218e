//! Backfill: storing upstream answers in the local store, labelled with their origin (sensor
//! `upstream:NAME`), so later lookups and analyses use them.
//!
//! **Idempotence.** The store merges by adding counts, and an upstream answers with its
//! *aggregate* (all of its sightings so far), so storing an answer twice would double it. Each
//! upstream therefore has a *ledger* per owner name, kept in the store's checkpoints
//! (`upstream/NAME/OWNER`): for every record key, the upstream count already credited to the
//! store. A pull writes only the difference between the upstream's count now and the credited
//! count (times are min/max merges, idempotent by nature), and the updated ledger goes into the
//! same atomic write as the records. So pulling the same answer twice adds nothing; pulling
//! after the upstream saw more adds exactly the new sightings; a pull killed midway either
//! stored its records and ledger together or neither. Keying the ledger by owner name (not
//! by query) means overlapping queries (`example.com` and `example.com/A`, a name and a
//! wildcard) credit each record once. An upstream whose count went down (a reset) is not
//! subtracted: the ledger keeps the higher mark.
//!
//! Rdata (inverse) answers have no bailiwick and are stored as such: they are separate records
//! from the same upstream's RRset answers of that name (the store cannot know which RRset an
//! inverse answer belongs to). The ledger also keeps what each pull added per rdata-view key
//! (rrname, rrtype, one rdata item), which is how inverse lookups see stored data, so a
//! federated inverse lookup can take pulled counts off too. See docs/federation.md.
//!
//! **Quotas.** Before a run of several queries the upstream's remaining quota is read where the
//! protocol reports it (DNSDB `rate_limit`): a run never sends more queries than remain, and a
//! 429 on the way stops the run (the rest is reported as not pulled). The configured
//! `rate_limit_per_min` paces every request.

use std::collections::HashMap;
use std::sync::Mutex;

use dnsledger_model::aggregate::{get_varint, put_varint};
use dnsledger_model::{Aggregate, Observation};
use dnsledger_store::{Batch, Store, StoreError};

use crate::{Upstream, UpstreamError, UpstreamQuery};

/// Serialises ledger read-modify-writes within the process (CLI pulls and scheduled pulls).
static LEDGER_LOCK: Mutex<()> = Mutex::new(());

/// The checkpoint name of `upstream`'s ledger for owner name `owner` (presentation form).
pub fn ledger_source(upstream: &str, owner: &str) -> String {
    format!("upstream/{upstream}/{owner}")
}

/// Upstream counts already credited to the store for one owner name: per record key, and per
/// rdata-view key (rrname, rrtype, one rdata item, no bailiwick — how inverse lookups see the
/// same data, summed over the RRsets holding the item).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ledger {
    credited: HashMap<u128, u64>,
    inverse: HashMap<u128, u64>,
}

fn hash(key: &[u8]) -> u128 {
    xxhash_rust::xxh3::xxh3_128(key)
}

impl Ledger {
    /// Reads the ledger of (`upstream`, `owner`) from `store` (empty if none).
    pub fn load(store: &dyn Store, upstream: &str, owner: &str) -> Result<Ledger, StoreError> {
        match store.checkpoint(&ledger_source(upstream, owner))? {
            Some(bytes) => Ledger::decode(&bytes).ok_or_else(|| {
                StoreError::Corrupt(format!("pull ledger {}: cannot be decoded", ledger_source(upstream, owner)))
            }),
            None => Ok(Ledger::default()),
        }
    }

    /// The count credited for a record key.
    pub fn credited(&self, key: &[u8]) -> u64 {
        self.credited.get(&hash(key)).copied().unwrap_or(0)
    }

    /// The count credited for an rdata-view key (see the type's docs).
    pub fn credited_inverse(&self, view_key: &[u8]) -> u64 {
        self.inverse.get(&hash(view_key)).copied().unwrap_or(0)
    }

    /// Records that `count` is credited for a record key (never lowers a mark).
    pub fn credit(&mut self, key: &[u8], count: u64) {
        let e = self.credited.entry(hash(key)).or_insert(0);
        *e = (*e).max(count);
    }

    /// Adds `added` to the count credited for an rdata-view key.
    pub fn credit_inverse(&mut self, view_key: &[u8], added: u64) {
        let e = self.inverse.entry(hash(view_key)).or_insert(0);
        *e = e.saturating_add(added);
    }

    /// Serialised form: the number of record-key entries, then (16-byte key hash, varint
    /// count) for the record keys and then for the rdata-view keys.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity((self.credited.len() + self.inverse.len()) * 18 + 4);
        put_varint(&mut out, self.credited.len() as u64);
        for map in [&self.credited, &self.inverse] {
            let mut entries: Vec<_> = map.iter().collect();
            entries.sort_unstable();
            for (h, c) in entries {
                out.extend_from_slice(&h.to_le_bytes());
                put_varint(&mut out, *c);
            }
        }
        out
    }

    fn decode(b: &[u8]) -> Option<Ledger> {
        let (n, used) = get_varint(b)?;
        let mut b = &b[used..];
        let mut ledger = Ledger::default();
        let mut i = 0u64;
        while !b.is_empty() {
            let h = u128::from_le_bytes(b.get(..16)?.try_into().ok()?);
            let (c, used) = get_varint(&b[16..])?;
            if i < n { &mut ledger.credited } else { &mut ledger.inverse }.insert(h, c);
            b = &b[16 + used..];
            i += 1;
        }
        (i >= n).then_some(ledger)
    }
}

/// The rdata-view key of one rdata item of a record.
pub fn view_key(
    rrname: &dnsledger_model::Name,
    rrtype: dnsledger_model::RrType,
    item: &dnsledger_model::Rdata,
    out: &mut Vec<u8>,
) {
    out.clear();
    dnsledger_model::RecordKey::write(rrname, rrtype, None, std::slice::from_ref(item), out);
}

/// What pulling one query did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PullReport {
    /// The query, as written.
    pub query: String,
    /// Records the upstream returned.
    pub received: u64,
    /// Distinct records written to the store (times and any new count).
    pub written: u64,
    /// Sightings added to the store's counts (0 when the answer was pulled before).
    pub count_added: u64,
    /// Why the answer is missing or incomplete, if it is (what arrived before is stored).
    pub error: Option<String>,
    /// True if the upstream cut the answer at a limit.
    pub limited: bool,
}

/// Stores `up`'s answer to `q` in `store` (see the module docs).
pub fn pull(store: &dyn Store, up: &Upstream, q: &UpstreamQuery) -> Result<PullReport, StoreError> {
    let mut received: Vec<Observation> = Vec::new();
    let fetched = up.fetch(q, &mut |o| received.push(o));
    let mut report = PullReport { query: q.display(), ..Default::default() };
    match &fetched {
        Ok(f) => {
            report.received = f.records;
            report.limited = f.limited;
        }
        Err(e) => {
            report.received = received.len() as u64;
            report.error = Some(e.to_string());
        }
    }
    let (written, added) = store_answer(store, up.name(), &received)?;
    report.written = written;
    report.count_added = added;
    Ok(report)
}

/// Writes upstream observations through the ledger; returns (records written, count added).
pub fn store_answer(store: &dyn Store, upstream: &str, received: &[Observation]) -> Result<(u64, u64), StoreError> {
    if received.is_empty() {
        return Ok((0, 0));
    }
    // the upstream's aggregate per record key (a record with sensor and zone times arrives as
    // two observations of one key), grouped by owner name
    let mut by_owner: HashMap<String, Vec<(Vec<u8>, Aggregate, Observation)>> = HashMap::new();
    let mut index: HashMap<Vec<u8>, (String, usize)> = HashMap::new();
    for o in received {
        let mut o = o.clone();
        o.normalize_rdata();
        let mut key = Vec::new();
        o.write_key(&mut key);
        match index.get(&key) {
            Some((owner, i)) => {
                if let Some(slot) = by_owner.get_mut(owner).and_then(|v| v.get_mut(*i)) {
                    o.add_to(&mut slot.1, None);
                }
            }
            None => {
                let owner = o.rrname.to_presentation();
                let list = by_owner.entry(owner.clone()).or_default();
                let mut agg = Aggregate::default();
                o.add_to(&mut agg, None);
                index.insert(key.clone(), (owner, list.len()));
                list.push((key, agg, o));
            }
        }
    }
    let _guard = LEDGER_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let mut batch = Batch::new();
    let sensor = batch.local_sensor(&crate::sensor_label(upstream));
    let (mut written, mut added) = (0u64, 0u64);
    for (owner, records) in &by_owner {
        let mut ledger = Ledger::load(store, upstream, owner)?;
        let mut vk = Vec::new();
        for (key, agg, o) in records {
            let credited = ledger.credited(key);
            let mut a = agg.clone();
            a.count = agg.count.saturating_sub(credited);
            a.sensors.insert(sensor);
            added += a.count;
            written += 1;
            batch.add_aggregate(key, &a);
            ledger.credit(key, agg.count);
            if o.negative.is_none() {
                for item in &o.rdata {
                    view_key(&o.rrname, o.rrtype, item, &mut vk);
                    ledger.credit_inverse(&vk, a.count);
                }
            }
        }
        batch.set_checkpoint(&ledger_source(upstream, owner), ledger.encode());
    }
    batch.set_observations(added);
    store.write(&batch)?;
    metrics::counter!(dnsledger_telemetry::catalog::UPSTREAM_PULLED, "upstream" => upstream.to_string())
        .increment(added);
    Ok((written, added))
}

/// Pulls several queries from one upstream, within its remaining quota; stops at the first
/// quota refusal. Returns one report per query (those not sent say why).
pub fn pull_many(store: &dyn Store, up: &Upstream, queries: &[UpstreamQuery]) -> Result<Vec<PullReport>, StoreError> {
    let mut reports = Vec::with_capacity(queries.len());
    let mut budget: Option<u64> = None;
    let mut stop: Option<String> = None;
    if !queries.is_empty() {
        match up.quota() {
            Ok(Some(q)) => {
                budget = q.remaining;
                if q.remaining == Some(0) {
                    stop = Some(format!(
                        "not pulled: the upstream's quota is exhausted{}",
                        q.reset
                            .map(|r| format!(" (resets at {})", dnsledger_model::time::format_rfc3339(r)))
                            .unwrap_or_default()
                    ));
                }
            }
            Ok(None) => {}
            Err(UpstreamError::Quota(m)) => stop = Some(format!("not pulled: quota exhausted: {m}")),
            Err(e) => {
                tracing::warn!(upstream = up.name(), error = %e, "cannot read the upstream's quota; pulling anyway")
            }
        }
    }
    for q in queries {
        if stop.is_none() && budget == Some(0) {
            stop = Some("not pulled: the upstream's remaining quota was used up by this run".into());
        }
        if let Some(why) = &stop {
            reports.push(PullReport { query: q.display(), error: Some(why.clone()), ..Default::default() });
            continue;
        }
        let r = pull(store, up, q)?;
        budget = budget.map(|b| b.saturating_sub(1));
        if r.error.as_deref().is_some_and(|e| e.starts_with("quota exhausted")) {
            stop =
                Some(format!("not pulled: an earlier query hit the quota ({})", r.error.clone().unwrap_or_default()));
        }
        reports.push(r);
    }
    Ok(reports)
}

/// Reads an indicators file: one lookup per line, either a DNSDB-style path
/// (`rrset/name/example.com/A`) or a bare name (RRsets of the name) or address (records pointing
/// to it); `#` comments and blank lines are skipped.
pub fn read_indicators(text: &str) -> Result<Vec<UpstreamQuery>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let l = line.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let q = if l.contains('/') && (l.starts_with("rrset/") || l.starts_with("rdata/")) {
            UpstreamQuery::parse(l)
        } else if dnsledger_query::spec::looks_like_ip(l) {
            UpstreamQuery::parse(&format!("rdata/ip/{l}"))
        } else {
            UpstreamQuery::parse(&format!("rrset/name/{l}"))
        };
        out.push(q.map_err(|e| format!("line {}: {e}", i + 1))?);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Rdata, RrType};
    use dnsledger_query::{spec, Window};

    fn obs(count: u64, last: u64) -> Observation {
        let mut o = Observation {
            rrname: Name::from_presentation("www.example.com").unwrap(),
            rrtype: RrType::A,
            bailiwick: Some(Name::from_presentation("example.com").unwrap()),
            time_first: 100,
            time_last: last,
            count,
            ..Default::default()
        };
        o.rdata.push(Rdata::parse(RrType::A, "192.0.2.1").unwrap());
        o
    }

    /// (count, sensor times, sensors) of each stored record of www.example.com.
    type Stored = Vec<(u64, Option<(u64, u64)>, Vec<String>)>;

    fn stored(store: &dyn Store) -> Stored {
        let l = spec::rrset_name("www.example.com", None, None, Default::default()).unwrap();
        let mut out = Vec::new();
        dnsledger_query::run(store, &l, Window::default(), &mut |r| {
            out.push((r.agg.count, r.agg.seen, r.sensors.clone()));
            std::ops::ControlFlow::Continue(())
        })
        .unwrap();
        out
    }

    #[test]
    fn pulling_twice_stores_once_and_growth_adds_the_difference() {
        let dir = tempfile::tempdir().unwrap();
        let store = dnsledger_store_rocksdb::RocksStore::open(dir.path(), Default::default()).unwrap();
        assert_eq!(store_answer(&store, "dnsdb", &[obs(10, 200)]).unwrap(), (1, 10));
        assert_eq!(store_answer(&store, "dnsdb", &[obs(10, 200)]).unwrap(), (1, 0));
        assert_eq!(stored(&store), vec![(10, Some((100, 200)), vec!["upstream:dnsdb".to_string()])]);
        // the upstream saw 5 more, later
        assert_eq!(store_answer(&store, "dnsdb", &[obs(15, 300)]).unwrap(), (1, 5));
        assert_eq!(stored(&store)[0].0, 15);
        assert_eq!(stored(&store)[0].1, Some((100, 300)));
        // another upstream's ledger is its own
        assert_eq!(store_answer(&store, "circl", &[obs(2, 300)]).unwrap(), (1, 2));
        assert_eq!(stored(&store)[0].0, 17);
        let l = Ledger::load(&store, "dnsdb", "www.example.com.").unwrap();
        // what inverse lookups see of it: 10 + 5 added by the two pulls that added anything
        let o = obs(0, 0);
        let mut vk = Vec::new();
        view_key(&o.rrname, o.rrtype, &o.rdata[0], &mut vk);
        assert_eq!(l.credited_inverse(&vk), 15);
        assert_eq!(Ledger::decode(&l.encode()), Some(l));
        assert_eq!(Ledger::decode(&[]), None);
        assert_eq!(Ledger::decode(&[1, 0, 0]), None);
    }

    #[test]
    fn indicator_files() {
        let q = read_indicators("# watch\nexample.com\n192.0.2.7  # host\nrdata/name/ns1.example.net/NS\n\n").unwrap();
        let shown: Vec<String> = q.iter().map(UpstreamQuery::display).collect();
        assert_eq!(shown, vec!["rrset/name/example.com", "rdata/ip/192.0.2.7", "rdata/name/ns1.example.net/NS"]);
        assert!(read_indicators("ok.example\nbad..name\n").unwrap_err().starts_with("line 2"));
    }
}
