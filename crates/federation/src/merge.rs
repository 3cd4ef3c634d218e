//! Merging answers from several sources into one set of records.
//!
//! Records are keyed by the store's own record key — (rrname, rrtype, bailiwick, sorted rdata
//! set), names and rdata normalised by the same parsers and encoders as stored data — so an
//! upstream's `WWW.Example.COM.` and our `www.example.com.` are one record. Rdata (inverse)
//! lookups carry no bailiwick on any side, so there the key is (rrname, rrtype, rdata).
//!
//! Per key: first seen is the minimum, last seen the maximum (sensor and zone times apart),
//! TTL ranges widen, and counts are **summed**. Summing is the chosen semantics because the
//! sources are distinct sensor networks: a sighting counted by DNSDB's sensors and one counted
//! by ours are different observations, and the total is what was seen across all of them. It
//! double counts in one case: records earlier pulled from an upstream into the local store
//! (`dnsledger pull`, stored with sensor `upstream:NAME`) and asked again from that upstream.
//! [`Merger::discount_pulled`] removes exactly that share, using the pull ledger, so a
//! federated answer counts every upstream sighting once (see docs/federation.md).
//!
//! Each merged record lists the sources that saw it, in the order the sources were given
//! ([`Merger::order_sources`]).

use std::collections::HashMap;

use dnsledger_model::{Observation, Record, RecordKey};
use dnsledger_query::RecordView;
use dnsledger_store::{Store, StoreError};

/// A record with the sources that saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedRecord {
    /// The merged record.
    pub record: Record,
    /// Source names (`local` and upstream names) that returned it.
    pub sources: Vec<String>,
}

impl MergedRecord {
    /// The record as users read it (native JSON), with its `sources`.
    pub fn view(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(RecordView::from_record(&self.record)).unwrap_or_default();
        if let Some(m) = v.as_object_mut() {
            m.insert("sources".into(), serde_json::Value::from(self.sources.clone()));
        }
        v
    }
}

/// Folds records from several sources together (see the module docs).
#[derive(Debug, Default)]
pub struct Merger {
    /// Rdata (inverse) lookup: records are rdata views (no bailiwick, one item).
    inverse: bool,
    index: HashMap<Vec<u8>, usize>,
    records: Vec<MergedRecord>,
    scratch: Vec<u8>,
}

impl Merger {
    /// An empty merger.
    pub fn new() -> Merger {
        Merger::default()
    }

    /// An empty merger for an rdata (inverse) lookup, whose records are rdata views.
    pub fn inverse() -> Merger {
        Merger { inverse: true, ..Merger::default() }
    }

    /// Number of distinct records so far.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True if no record was added.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The merged record at `i` (an index [`Merger::add_record`] or
    /// [`Merger::add_observation`] returned; valid until [`Merger::order_sources`]).
    pub fn get(&self, i: usize) -> Option<&MergedRecord> {
        self.records.get(i)
    }

    fn slot(&mut self, key: Vec<u8>, make: impl FnOnce() -> Record, source: &str) -> (&mut Record, bool, usize) {
        let (i, fresh) = match self.index.get(&key) {
            Some(&i) => (i, false),
            None => {
                let i = self.records.len();
                self.records.push(MergedRecord { record: make(), sources: Vec::new() });
                self.index.insert(key, i);
                (i, true)
            }
        };
        let m = &mut self.records[i];
        if !m.sources.iter().any(|s| s == source) {
            m.sources.push(source.to_string());
        }
        (&mut m.record, fresh, i)
    }

    /// Adds a record of the local store; returns the index of the merged record it went into.
    pub fn add_record(&mut self, source: &str, r: Record) -> usize {
        let mut key = std::mem::take(&mut self.scratch);
        key.clear();
        let mut rdata = r.rdata.clone();
        rdata.sort_unstable();
        rdata.dedup();
        match r.negative {
            Some(n) => RecordKey::write_negative(&r.rrname, r.rrtype, r.bailiwick.as_ref(), n, &mut key),
            None => RecordKey::write(&r.rrname, r.rrtype, r.bailiwick.as_ref(), &rdata, &mut key),
        }
        let agg = r.agg.clone();
        let sensors = r.sensors.clone();
        let (rec, fresh, i) = self.slot(key.clone(), || r, source);
        if !fresh {
            rec.agg.merge(&agg);
            for s in sensors {
                if !rec.sensors.contains(&s) {
                    rec.sensors.push(s);
                }
            }
        }
        self.scratch = key;
        i
    }

    /// Adds an upstream observation; returns the index of the merged record it went into.
    pub fn add_observation(&mut self, source: &str, obs: &Observation) -> usize {
        let mut obs = obs.clone();
        obs.normalize_rdata();
        let mut key = std::mem::take(&mut self.scratch);
        key.clear();
        obs.write_key(&mut key);
        let (rec, _, i) = self.slot(
            key.clone(),
            || Record {
                rrname: obs.rrname.clone(),
                rrtype: obs.rrtype,
                bailiwick: obs.bailiwick.clone(),
                rdata: obs.rdata.to_vec(),
                agg: Default::default(),
                sensors: Vec::new(),
                negative: obs.negative,
            },
            source,
        );
        obs.add_to(&mut rec.agg, None);
        self.scratch = key;
        i
    }

    /// Removes from local records the counts earlier pulled from `upstream` and stored
    /// locally, for records `upstream` also answered now (so they are not counted twice).
    /// Reads the pull ledger of each owner name involved once.
    pub fn discount_pulled(&mut self, store: &dyn Store, upstream: &str) -> Result<u64, StoreError> {
        self.discount_pulled_changed(store, upstream).map(|(n, _)| n)
    }

    /// [`Merger::discount_pulled`], also returning the indices of the records it changed (a
    /// streamed lookup sends those again).
    pub fn discount_pulled_changed(
        &mut self,
        store: &dyn Store,
        upstream: &str,
    ) -> Result<(u64, Vec<usize>), StoreError> {
        let mut changed = Vec::new();
        let label = crate::sensor_label(upstream);
        let mut ledgers: HashMap<String, crate::pull::Ledger> = HashMap::new();
        let mut removed = 0u64;
        let mut key = Vec::new();
        let inverse = self.inverse;
        for (i, m) in self.records.iter_mut().enumerate() {
            let both = m.sources.iter().any(|s| s == crate::LOCAL) && m.sources.iter().any(|s| s == upstream);
            if !both || !m.record.sensors.contains(&label) {
                continue;
            }
            let owner = m.record.rrname.to_presentation();
            if !ledgers.contains_key(&owner) {
                ledgers.insert(owner.clone(), crate::pull::Ledger::load(store, upstream, &owner)?);
            }
            let Some(ledger) = ledgers.get(&owner) else { continue };
            key.clear();
            let mut rdata = m.record.rdata.clone();
            rdata.sort_unstable();
            RecordKey::write(&m.record.rrname, m.record.rrtype, m.record.bailiwick.as_ref(), &rdata, &mut key);
            let credited = if inverse { ledger.credited_inverse(&key) } else { ledger.credited(&key) };
            let take = credited.min(m.record.agg.count);
            m.record.agg.count -= take;
            removed += take;
            if take > 0 {
                changed.push(i);
            }
        }
        Ok((removed, changed))
    }

    /// Puts each record's sources in the order of `order` (the order sources were asked in;
    /// they answer in any order), and the records by their first source, so an answer does not
    /// depend on which upstream was faster (records of one source keep that source's order).
    /// Names not in `order` go last.
    pub fn order_sources(&mut self, order: &[String]) {
        let rank = |s: &String| order.iter().position(|o| o == s).unwrap_or(order.len());
        for m in &mut self.records {
            m.sources.sort_by_key(rank);
        }
        let mut perm: Vec<usize> = (0..self.records.len()).collect();
        perm.sort_by_key(|&i| self.records[i].sources.first().map_or(order.len(), rank));
        let mut new_pos = vec![0; perm.len()];
        for (new, &old) in perm.iter().enumerate() {
            new_pos[old] = new;
        }
        let mut old_records: Vec<Option<MergedRecord>> =
            std::mem::take(&mut self.records).into_iter().map(Some).collect();
        self.records = perm.iter().filter_map(|&old| old_records[old].take()).collect();
        for pos in self.index.values_mut() {
            *pos = new_pos[*pos];
        }
    }

    /// The merged records, in the order first seen, and whether `limit` cut them.
    pub fn finish(self, limit: Option<u64>) -> (Vec<MergedRecord>, bool) {
        let mut out = self.records;
        let limited = limit.is_some_and(|l| out.len() as u64 > l);
        if let Some(l) = limit {
            out.truncate(l as usize);
        }
        (out, limited)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Rdata, RrType};

    fn obs(name: &str, ip: &str, first: u64, last: u64, count: u64) -> Observation {
        let mut o = Observation {
            rrname: Name::from_presentation(name).unwrap(),
            rrtype: RrType::A,
            bailiwick: Some(Name::from_presentation("example.com").unwrap()),
            time_first: first,
            time_last: last,
            count,
            ..Default::default()
        };
        o.rdata.push(Rdata::parse(RrType::A, ip).unwrap());
        o
    }

    #[test]
    fn min_max_sum_and_sources() {
        let mut m = Merger::new();
        m.add_observation("local", &obs("www.example.com", "192.0.2.1", 100, 200, 3));
        m.add_observation("dnsdb", &obs("WWW.Example.COM.", "192.0.2.1", 50, 150, 10));
        m.add_observation("dnsdb", &obs("www.example.com", "192.0.2.2", 10, 20, 1));
        m.add_observation("circl", &obs("www.example.com", "192.0.2.1", 120, 300, 2));
        let (out, limited) = m.finish(None);
        assert!(!limited);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].record.agg.count, 15);
        assert_eq!(out[0].record.agg.seen, Some((50, 300)));
        assert_eq!(out[0].sources, vec!["local", "dnsdb", "circl"]);
        assert_eq!(out[1].sources, vec!["dnsdb"]);
        let v = out[0].view();
        assert_eq!(v["sources"][1], "dnsdb");
        assert_eq!(v["count"], 15);
        let mut m = Merger::new();
        m.add_observation("a", &obs("a.example.com", "192.0.2.1", 1, 2, 1));
        m.add_observation("a", &obs("b.example.com", "192.0.2.1", 1, 2, 1));
        let (out, limited) = m.finish(Some(1));
        assert!(limited && out.len() == 1);
        // sources and records follow the order sources were asked in, whoever answered first
        let mut m = Merger::new();
        m.add_observation("b", &obs("b.example.com", "192.0.2.1", 1, 2, 1));
        m.add_observation("a", &obs("a.example.com", "192.0.2.1", 1, 2, 1));
        m.add_observation("a", &obs("b.example.com", "192.0.2.1", 1, 2, 1));
        m.order_sources(&["a".to_string(), "b".to_string()]);
        m.add_observation("b", &obs("a.example.com", "192.0.2.1", 1, 2, 1));
        let (out, _) = m.finish(None);
        let got: Vec<(String, Vec<String>, u64)> =
            out.iter().map(|r| (r.record.rrname.to_presentation(), r.sources.clone(), r.record.agg.count)).collect();
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![("b.example.com.".to_string(), s(&["a", "b"]), 2), ("a.example.com.".to_string(), s(&["a", "b"]), 2)]
        );
    }
}
