//! [`WatchingStore`]: a [`Store`] decorator that checks every written batch against the
//! watchlists and raises alerts once the write succeeded.
//!
//! Per write: every record key is matched ([`crate::Matcher`]); only records that match an
//! entry are looked at further, with one RRset lookup of their owner name and type in the
//! inner store, made **before** the write (afterwards the store already holds them). From
//! that lookup:
//! - `first_match`: no stored record has the same owner, type, bailiwick and rdata set;
//! - `new_resolution` (entries matching the owner name): rdata items the name never had for
//!   the type, whatever the bailiwick;
//! - `ip_new_name` (address entries): none of the name's stored A/AAAA rdata lies in the
//!   entry's address range, i.e. the name never pointed there before.
//!
//! Alerts are raised only when the inner write returned Ok. A lookup that fails is logged and
//! counted (`dnsledger_watch_check_errors_total`) and the batch is written without alerts:
//! watching never stops ingest.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use dnsledger_model::{Aggregate, Name, Rdata, RecordKey, TypeFilter};
use dnsledger_store::{
    BackupInfo, Batch, Gauge, NameMatch, NegativeFilter, RdataQuery, RrsetQuery, ScanStats, Store, StoreError,
    StoreStats, Visitor, WriteStats,
};
use dnsledger_telemetry::catalog;

use crate::alert::{Alert, AlertRecord};
use crate::list::AlertKind;
use crate::matcher::{Hit, Matcher, On};
use crate::watcher::{Pending, Watcher};

/// Wraps a store; writes are checked against the watcher's lists, everything else passes through.
pub struct WatchingStore {
    inner: Arc<dyn Store>,
    watcher: Arc<Watcher>,
}

impl WatchingStore {
    /// Watches the writes to `inner` with `watcher`.
    pub fn new(inner: Arc<dyn Store>, watcher: Arc<Watcher>) -> WatchingStore {
        WatchingStore { inner, watcher }
    }

    /// The watcher.
    pub fn watcher(&self) -> &Arc<Watcher> {
        &self.watcher
    }

    /// Decides the alerts of `batch` against the inner store as it is now.
    fn decide(&self, m: &Matcher, batch: &Batch) -> Result<Vec<Pending>, StoreError> {
        let mut hits: Vec<Hit> = Vec::new();
        let mut pending = Vec::new();
        let mut matched = 0u64;
        for (key, agg) in batch.records() {
            hits.clear();
            if m.match_key(key, &mut hits).is_none() || hits.is_empty() {
                continue;
            }
            matched += 1;
            self.decide_record(m, batch, key, agg, &hits, &mut pending)?;
        }
        metrics::counter!(catalog::WATCH_MATCHED).increment(matched);
        Ok(pending)
    }

    fn decide_record(
        &self,
        m: &Matcher,
        batch: &Batch,
        key: &[u8],
        agg: &Aggregate,
        hits: &[Hit],
        out: &mut Vec<Pending>,
    ) -> Result<(), StoreError> {
        let Ok(rk) = RecordKey::decode(key) else { return Ok(()) };
        // every stored RRset of this owner and type, all bailiwicks
        let q = RrsetQuery {
            name: NameMatch::Exact(rk.rrname.clone()),
            types: TypeFilter::Only(rk.rrtype),
            bailiwick: None,
            fence: Default::default(),
            negative: NegativeFilter::Exclude,
        };
        let mut stored: Vec<(Option<Name>, Vec<Rdata>)> = Vec::new();
        self.inner.lookup_rrset(&q, &mut |r| {
            stored.push((r.bailiwick, r.rdata));
            std::ops::ControlFlow::Continue(())
        })?;
        let exists = stored.iter().any(|(b, r)| *b == rk.bailiwick && *r == rk.rdata);
        let known: HashSet<&Rdata> = stored.iter().flat_map(|(_, r)| r.iter()).collect();
        let key_hash = {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut h);
            h.finish()
        };
        let mut decided: HashSet<(u32, AlertKind)> = HashSet::new();
        for hit in hits {
            let e = m.entry(hit.entry);
            let list = &m.lists()[e.list as usize];
            let entry = &list.entries[e.index as usize];
            let (matched_in, matched) = match hit.on {
                On::Rrname => ("rrname", rk.rrname.to_presentation()),
                On::RdataName(i) => (
                    "rdata",
                    rk.rdata
                        .get(i as usize)
                        .and_then(|r| r.indexed_name(rk.rrtype))
                        .map(|n| n.to_presentation())
                        .unwrap_or_default(),
                ),
                On::Address(i) => (
                    "address",
                    rk.rdata.get(i as usize).and_then(|r| r.ip(rk.rrtype)).map(|a| a.to_string()).unwrap_or_default(),
                ),
            };
            let mut kinds: Vec<(AlertKind, Vec<String>)> = Vec::new();
            if !exists && list.wants(AlertKind::FirstMatch) {
                kinds.push((AlertKind::FirstMatch, Vec::new()));
            }
            if hit.on == On::Rrname && list.wants(AlertKind::NewResolution) {
                let fresh: Vec<String> =
                    rk.rdata.iter().filter(|r| !known.contains(r)).map(|r| r.to_presentation(rk.rrtype)).collect();
                if !fresh.is_empty() {
                    kinds.push((AlertKind::NewResolution, fresh));
                }
            }
            if let (On::Address(_), Some(range)) = (hit.on, e.range) {
                let seen_there =
                    known.iter().any(|r| r.ip(rk.rrtype).is_some_and(|a| range.start <= a && a <= range.end));
                if !seen_there && list.wants(AlertKind::IpNewName) {
                    kinds.push((AlertKind::IpNewName, Vec::new()));
                }
            }
            for (kind, new_rdata) in kinds {
                // one alert per list, kind and record, whichever entry matched first
                if !decided.insert((e.list, kind)) {
                    continue;
                }
                out.push(Pending {
                    list: list.clone(),
                    key_hash,
                    alert: Alert {
                        id: 0,
                        raised: 0,
                        watchlist: list.name.clone(),
                        entry: entry.value.clone(),
                        label: entry.label.clone(),
                        kind,
                        matched_in: matched_in.to_string(),
                        matched: matched.clone(),
                        new_rdata,
                        technique: None,
                        reasons: Vec::new(),
                        record: record_of(&rk, agg, batch),
                    },
                });
            }
        }
        Ok(())
    }
}

/// The alert's view of a record being written.
fn record_of(rk: &RecordKey, agg: &Aggregate, batch: &Batch) -> AlertRecord {
    let times = agg.effective_times();
    AlertRecord {
        rrname: rk.rrname.to_presentation(),
        rrtype: rk.rrtype.to_string(),
        rdata: rk.rdata.iter().map(|r| r.to_presentation(rk.rrtype)).collect(),
        bailiwick: rk.bailiwick.as_ref().map(Name::to_presentation),
        time_first: times.map(|t| t.0),
        time_last: times.map(|t| t.1),
        count: agg.count,
        sensors: agg.sensors.ids().iter().filter_map(|id| batch.sensor_names().get(*id as usize).cloned()).collect(),
    }
}

impl Store for WatchingStore {
    fn write(&self, batch: &Batch) -> Result<WriteStats, StoreError> {
        let m = self.watcher.matcher();
        if m.is_empty() {
            return self.inner.write(batch);
        }
        let t = Instant::now();
        let pending = match self.decide(&m, batch) {
            Ok(p) => p,
            Err(e) => {
                metrics::counter!(catalog::WATCH_CHECK_ERRORS).increment(1);
                tracing::warn!(error = %e, "watchlists: checking a batch against the store failed; written without alerts");
                Vec::new()
            }
        };
        metrics::histogram!(catalog::WATCH_CHECK_SECONDS).record(t.elapsed().as_secs_f64());
        let stats = self.inner.write(batch)?;
        if !pending.is_empty() {
            self.watcher.raise(pending);
        }
        Ok(stats)
    }
    fn lookup_rrset(&self, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        self.inner.lookup_rrset(q, visit)
    }
    fn lookup_rdata(&self, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        self.inner.lookup_rdata(q, visit)
    }
    fn checkpoint(&self, source: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.checkpoint(source)
    }
    fn stats(&self) -> Result<StoreStats, StoreError> {
        self.inner.stats()
    }
    fn flush(&self) -> Result<(), StoreError> {
        self.inner.flush()
    }
    fn compact(&self) -> Result<(), StoreError> {
        self.inner.compact()
    }
    fn health(&self) -> Result<(), StoreError> {
        self.inner.health()
    }
    fn gauges(&self) -> Vec<Gauge> {
        self.inner.gauges()
    }
    fn backup(&self, dest: &Path) -> Result<BackupInfo, StoreError> {
        self.inner.backup(dest)
    }
    fn expire(&self, before: u64) -> Result<dnsledger_store::ExpireReport, StoreError> {
        self.inner.expire(before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::{Entry, Watchlist};
    use crate::{AlertFilter, WatchSettings};
    use dnsledger_model::{Observation, RrType};
    use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions};
    use std::time::Duration;

    fn obs(name: &str, t: RrType, rdata: &[&str], sensor: &str) -> Observation {
        Observation {
            rrname: Name::from_presentation(name).unwrap(),
            rrtype: t,
            rdata: rdata.iter().map(|r| Rdata::parse(t, r).unwrap()).collect(),
            time_first: 1_700_000_000,
            time_last: 1_700_000_100,
            count: 2,
            sensor: Some(sensor.into()),
            ..Observation::default()
        }
    }

    fn batch(items: &[Observation]) -> Batch {
        let mut b = Batch::new();
        for o in items {
            b.add(&mut o.clone());
        }
        b
    }

    struct Setup {
        _dir: tempfile::TempDir,
        store: WatchingStore,
    }

    fn setup(lists: &[Watchlist]) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let inner = RocksStore::open(dir.path().join("db"), RocksStoreOptions::default()).unwrap();
        let watcher = Watcher::open(WatchSettings {
            dir: dir.path().join("watch"),
            journal: None,
            sinks: Vec::new(),
            ring: None,
        })
        .unwrap();
        for l in lists {
            watcher.put(l.clone()).unwrap();
        }
        Setup { store: WatchingStore::new(Arc::new(inner), watcher), _dir: dir }
    }

    fn list(name: &str, values: &[&str], kinds: &[AlertKind]) -> Watchlist {
        let mut w = Watchlist::new(name);
        w.entries = values.iter().map(|v| Entry { value: v.to_string(), label: Some(format!("label {v}")) }).collect();
        if !kinds.is_empty() {
            w.kinds = kinds.to_vec();
        }
        w
    }

    fn all(s: &Setup) -> Vec<Alert> {
        s.store.watcher().alerts(&AlertFilter { limit: 1000, ..Default::default() }).unwrap().alerts
    }

    /// (kind, matched, rdata) of the alerts raised since `from`.
    fn summary(alerts: &[Alert]) -> Vec<(String, String, String)> {
        let mut v: Vec<_> =
            alerts.iter().map(|a| (a.kind.to_string(), a.matched.clone(), a.record.rdata.join(" "))).collect();
        v.sort();
        v
    }

    #[test]
    fn the_three_kinds_fire_once_each_and_only_for_news() {
        let s = setup(&[list("names", &["*.example.com"], &[]), list("nets", &["192.0.2.0/24"], &[])]);
        // a first sighting: first_match and new_resolution for the name, first_match and
        // ip_new_name for the address
        s.store.write(&batch(&[obs("www.example.com", RrType::A, &["192.0.2.1"], "s1")])).unwrap();
        let a = all(&s);
        assert_eq!(a.len(), 4, "{a:#?}");
        let names: Vec<&Alert> = a.iter().filter(|x| x.watchlist == "names").collect();
        assert_eq!(
            summary(&names.iter().map(|x| (*x).clone()).collect::<Vec<_>>()),
            vec![
                ("first_match".into(), "www.example.com.".into(), "192.0.2.1".into()),
                ("new_resolution".into(), "www.example.com.".into(), "192.0.2.1".into()),
            ]
        );
        let first = names.iter().find(|x| x.kind == AlertKind::FirstMatch).unwrap();
        assert_eq!(first.entry, "*.example.com");
        assert_eq!(first.label.as_deref(), Some("label *.example.com"));
        assert_eq!(first.matched_in, "rrname");
        assert_eq!(first.record.rrtype, "A");
        assert_eq!(first.record.sensors, vec!["s1".to_string()]);
        assert_eq!(
            (first.record.time_first, first.record.time_last, first.record.count),
            (Some(1_700_000_000), Some(1_700_000_100), 2)
        );
        assert!(first.raised > 0 && first.id > 0);
        let nets: Vec<&Alert> = a.iter().filter(|x| x.watchlist == "nets").collect();
        assert_eq!(nets.len(), 2);
        assert!(nets.iter().all(|x| x.matched_in == "address" && x.matched == "192.0.2.1"));
        assert!(nets.iter().any(|x| x.kind == AlertKind::IpNewName));

        // the same record again: nothing new
        s.store.write(&batch(&[obs("www.example.com", RrType::A, &["192.0.2.1"], "s2")])).unwrap();
        assert_eq!(all(&s).len(), 4);

        // the name gains an address outside the watched net, in a new RRset
        s.store.write(&batch(&[obs("www.example.com", RrType::A, &["192.0.2.1", "198.51.100.7"], "s1")])).unwrap();
        let a = all(&s);
        let fresh = &a[4..];
        let mut kinds: Vec<(String, String)> =
            fresh.iter().map(|x| (x.watchlist.clone(), x.kind.to_string())).collect();
        kinds.sort();
        assert_eq!(
            kinds,
            vec![
                ("names".into(), "first_match".into()),
                ("names".into(), "new_resolution".into()),
                // a new RRset containing the watched address, but the name pointed there before
                ("nets".into(), "first_match".into()),
            ]
        );
        let nr = fresh.iter().find(|x| x.kind == AlertKind::NewResolution).unwrap();
        assert_eq!(nr.new_rdata, vec!["198.51.100.7".to_string()], "only the new address");

        // another name moves into the watched net: ip_new_name (and its first_match)
        s.store.write(&batch(&[obs("mail.example.org", RrType::A, &["192.0.2.200"], "s1")])).unwrap();
        let a = all(&s);
        assert_eq!(
            summary(&a[7..]),
            vec![
                ("first_match".into(), "192.0.2.200".into(), "192.0.2.200".into()),
                ("ip_new_name".into(), "192.0.2.200".into(), "192.0.2.200".into()),
            ]
        );
        // ... pointing at another address of the same net is not a new name for the net
        s.store.write(&batch(&[obs("mail.example.org", RrType::A, &["192.0.2.201"], "s1")])).unwrap();
        let a = all(&s);
        assert_eq!(summary(&a[9..]), vec![("first_match".into(), "192.0.2.201".into(), "192.0.2.201".into())]);
        // records that match nothing raise nothing
        s.store.write(&batch(&[obs("www.example.net", RrType::A, &["203.0.113.1"], "s1")])).unwrap();
        assert_eq!(all(&s).len(), 10);
    }

    #[test]
    fn kinds_can_be_chosen_and_names_in_rdata_match() {
        let s = setup(&[list("ns", &["ns1.example.net"], &[AlertKind::FirstMatch])]);
        s.store
            .write(&batch(&[obs("example.org", RrType::NS, &["ns1.example.net.", "ns2.example.org."], "s")]))
            .unwrap();
        let a = all(&s);
        assert_eq!(a.len(), 1, "{a:#?}");
        assert_eq!((a[0].matched_in.as_str(), a[0].matched.as_str()), ("rdata", "ns1.example.net."));
        // new_resolution is not wanted: the owner ns1.example.net gaining an address raises only first_match
        s.store.write(&batch(&[obs("ns1.example.net", RrType::A, &["192.0.2.9"], "s")])).unwrap();
        let a = all(&s);
        assert_eq!(a.len(), 2);
        assert_eq!(a[1].kind, AlertKind::FirstMatch);
    }

    /// A store whose writes fail: no alert may be raised for what was not stored.
    struct Failing(Arc<dyn Store>);

    impl Store for Failing {
        fn write(&self, _: &Batch) -> Result<WriteStats, StoreError> {
            Err(StoreError::Engine("disk full".into()))
        }
        fn lookup_rrset(&self, q: &RrsetQuery, v: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
            self.0.lookup_rrset(q, v)
        }
        fn lookup_rdata(&self, q: &RdataQuery, v: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
            self.0.lookup_rdata(q, v)
        }
        fn checkpoint(&self, s: &str) -> Result<Option<Vec<u8>>, StoreError> {
            self.0.checkpoint(s)
        }
        fn stats(&self) -> Result<StoreStats, StoreError> {
            self.0.stats()
        }
        fn flush(&self) -> Result<(), StoreError> {
            Ok(())
        }
        fn compact(&self) -> Result<(), StoreError> {
            Ok(())
        }
    }

    #[test]
    fn failed_writes_raise_nothing_and_alerts_reach_the_journal() {
        let s = setup(&[list("names", &["www.example.com"], &[])]);
        let failing = WatchingStore::new(Arc::new(Failing(s.store.inner.clone())), s.store.watcher().clone());
        let b = batch(&[obs("www.example.com", RrType::A, &["192.0.2.1"], "s")]);
        assert!(failing.write(&b).is_err());
        assert!(all(&s).is_empty());
        s.store.write(&b).unwrap();
        assert_eq!(all(&s).len(), 2);
        let w = s.store.watcher().clone();
        let journal = w.journal_path().to_path_buf();
        w.close(Duration::from_secs(10));
        let page = crate::alert::read_journal(&journal, &AlertFilter { limit: 10, ..Default::default() }).unwrap();
        assert_eq!(page.alerts, all(&s));
    }

    #[test]
    fn reloads_keep_the_old_version_of_a_broken_file() {
        let s = setup(&[list("a", &["www.example.com"], &[]), list("b", &["192.0.2.1"], &[])]);
        let w = s.store.watcher().clone();
        std::fs::write(w.dir().file("a"), "{ broken").unwrap();
        std::fs::remove_file(w.dir().file("b")).unwrap();
        let mut c = list("c", &["*.example.net"], &[]);
        c.name = String::new();
        std::fs::write(w.dir().file("c"), c.to_json()).unwrap();
        let r = w.reload().unwrap();
        assert_eq!(r.errors.len(), 1);
        let names: Vec<String> = w.lists().iter().map(|l| l.name.clone()).collect();
        assert_eq!(names, vec!["a".to_string(), "c".to_string()], "a kept, b gone, c new");
        assert_eq!(w.get("a").unwrap().entries[0].value, "www.example.com");
        assert_eq!(w.load_errors().len(), 1);
        // a list naming a sink that is not configured is refused
        let mut bad = list("d", &["x.example"], &[]);
        bad.sinks = vec!["nowhere".into()];
        assert!(w.put(bad).is_err());
        assert!(w.remove("a").unwrap());
        assert!(w.get("a").is_none());
    }
}
