//! Alerts: what one says (watchlist, entry, kind, the record, when it was raised), the bounded
//! ring of recent alerts the API answers from, and reading older ones back from the alerts
//! journal (the NDJSON file every alert is appended to).

use std::collections::VecDeque;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::list::AlertKind;
use crate::WatchError;

/// The record an alert is about, as written to the store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertRecord {
    /// Owner name.
    pub rrname: String,
    /// Record type mnemonic.
    pub rrtype: String,
    /// The RRset's rdata in presentation format.
    pub rdata: Vec<String>,
    /// Zone cut the data came from, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bailiwick: Option<String>,
    /// First seen (epoch seconds) in this write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen (epoch seconds) in this write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// Observations in this write.
    pub count: u64,
    /// Sensors that reported it in this write.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensors: Vec<String>,
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    /// Sequence number within the run of the process that raised it.
    pub id: u64,
    /// When it was raised (epoch seconds).
    pub raised: u64,
    /// The watchlist.
    pub watchlist: String,
    /// The entry that matched, as written in the list.
    pub entry: String,
    /// The entry's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// What happened.
    pub kind: AlertKind,
    /// Where the entry matched: `rrname`, `rdata` (a name inside the rdata) or `address`.
    pub matched_in: String,
    /// The matching value (the name or address).
    pub matched: String,
    /// For `new_resolution`: the rdata items the name never had before.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub new_rdata: Vec<String>,
    /// For `detection`: the ATT&CK technique id (`T1584.002`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub technique: Option<String>,
    /// For `detection`: its score and why, one line each.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// The record.
    pub record: AlertRecord,
}

/// What a reader of alerts wants.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertFilter {
    /// Raised at or after this time (epoch seconds).
    pub since: Option<u64>,
    /// Only this watchlist's.
    pub watchlist: Option<String>,
    /// Only alerts of these kinds (all when empty).
    pub kinds: Vec<AlertKind>,
    /// At most this many (the newest of those selected).
    pub limit: usize,
}

impl AlertFilter {
    /// True if `a` is selected (the limit aside).
    pub fn matches(&self, a: &Alert) -> bool {
        self.since.is_none_or(|s| a.raised >= s)
            && self.watchlist.as_deref().is_none_or(|w| a.watchlist == w)
            && (self.kinds.is_empty() || self.kinds.contains(&a.kind))
    }
}

/// Alerts read back, oldest first.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertPage {
    /// The alerts.
    pub alerts: Vec<Alert>,
    /// True if more alerts matched than the limit allowed (the oldest were left out).
    pub limited: bool,
    /// Where they came from: `memory` (the ring) or `journal` (the file).
    pub source: &'static str,
}

/// The most recent alerts, bounded.
pub struct Ring {
    cap: usize,
    items: VecDeque<Alert>,
    /// True once an alert was pushed out.
    evicted: bool,
}

impl Ring {
    /// A ring holding at most `cap` alerts.
    pub fn new(cap: usize) -> Ring {
        Ring { cap: cap.max(1), items: VecDeque::new(), evicted: false }
    }

    /// Adds an alert, dropping the oldest when full.
    pub fn push(&mut self, a: Alert) {
        if self.items.len() == self.cap {
            self.items.pop_front();
            self.evicted = true;
        }
        self.items.push_back(a);
    }

    /// True if the ring holds every alert `f` selects (nothing older was pushed out, or the
    /// oldest kept one is not newer than `since`).
    pub fn covers(&self, f: &AlertFilter) -> bool {
        if !self.evicted {
            return true;
        }
        match (f.since, self.items.front()) {
            (Some(s), Some(oldest)) => oldest.raised < s,
            // without `since` the newest `limit` are wanted
            (None, _) => self.items.iter().filter(|a| f.matches(a)).count() >= f.limit,
            (Some(_), None) => false,
        }
    }

    /// The newest `f.limit` alerts `f` selects, oldest first.
    pub fn select(&self, f: &AlertFilter) -> AlertPage {
        let mut picked: Vec<Alert> =
            self.items.iter().rev().filter(|a| f.matches(a)).take(f.limit + 1).cloned().collect();
        let limited = picked.len() > f.limit;
        picked.truncate(f.limit);
        picked.reverse();
        AlertPage { alerts: picked, limited, source: "memory" }
    }

    /// Number of alerts held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True if it holds none.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// Reads the alerts journal at `path` (NDJSON, one alert per line) and returns the newest
/// `f.limit` alerts `f` selects, oldest first. Lines that are not alerts (a torn last line
/// after a crash) are skipped. A missing file has no alerts.
pub fn read_journal(path: &Path, f: &AlertFilter) -> Result<AlertPage, WatchError> {
    let file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(AlertPage { alerts: Vec::new(), limited: false, source: "journal" })
        }
        Err(e) => return Err(WatchError::Io { what: format!("opening alerts journal {}", path.display()), error: e }),
    };
    let mut kept: VecDeque<Alert> = VecDeque::new();
    let mut limited = false;
    for line in std::io::BufReader::new(file).split(b'\n') {
        let line = line.map_err(|e| WatchError::Io { what: format!("reading {}", path.display()), error: e })?;
        let Ok(a) = serde_json::from_slice::<Alert>(&line) else { continue };
        if f.matches(&a) {
            kept.push_back(a);
            if kept.len() > f.limit {
                kept.pop_front();
                limited = true;
            }
        }
    }
    Ok(AlertPage { alerts: kept.into(), limited, source: "journal" })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn alert(id: u64, raised: u64, list: &str) -> Alert {
        Alert {
            id,
            raised,
            watchlist: list.into(),
            entry: "*.example.com".into(),
            label: None,
            kind: AlertKind::FirstMatch,
            matched_in: "rrname".into(),
            matched: "www.example.com.".into(),
            new_rdata: vec![],
            technique: None,
            reasons: Vec::new(),
            record: AlertRecord {
                rrname: "www.example.com.".into(),
                rrtype: "A".into(),
                rdata: vec!["192.0.2.1".into()],
                bailiwick: None,
                time_first: Some(raised),
                time_last: Some(raised),
                count: 1,
                sensors: vec![],
            },
        }
    }

    #[test]
    fn the_ring_keeps_the_newest_and_knows_what_it_lost() {
        let mut r = Ring::new(3);
        for i in 0..5 {
            r.push(alert(i, 100 + i, if i % 2 == 0 { "even" } else { "odd" }));
        }
        assert_eq!(r.len(), 3);
        let all = AlertFilter { limit: 10, ..Default::default() };
        let p = r.select(&all);
        assert_eq!(p.alerts.iter().map(|a| a.id).collect::<Vec<_>>(), vec![2, 3, 4]);
        assert!(!p.limited);
        assert!(!r.covers(&all), "two were evicted and 10 are wanted");
        let two = AlertFilter { limit: 2, ..Default::default() };
        assert!(r.covers(&two));
        let p = r.select(&two);
        assert_eq!((p.alerts.iter().map(|a| a.id).collect::<Vec<_>>(), p.limited), (vec![3, 4], true));
        assert!(r.covers(&AlertFilter { since: Some(103), limit: 10, ..Default::default() }));
        assert!(!r.covers(&AlertFilter { since: Some(101), limit: 10, ..Default::default() }));
        let even = AlertFilter { watchlist: Some("even".into()), limit: 10, ..Default::default() };
        assert_eq!(r.select(&even).alerts.iter().map(|a| a.id).collect::<Vec<_>>(), vec![2, 4]);
        let mut r = Ring::new(10);
        for i in 0..4 {
            let mut a = alert(i, 100 + i, "l");
            if i % 2 == 1 {
                a.kind = AlertKind::Detection;
            }
            r.push(a);
        }
        let kinds = |k: Vec<AlertKind>| AlertFilter { kinds: k, limit: 10, ..Default::default() };
        let ids = |f: &AlertFilter| r.select(f).alerts.iter().map(|a| a.id).collect::<Vec<_>>();
        assert_eq!(ids(&kinds(vec![AlertKind::Detection])), vec![1, 3]);
        assert_eq!(ids(&kinds(vec![AlertKind::FirstMatch, AlertKind::Detection])), vec![0, 1, 2, 3]);
        assert_eq!(ids(&kinds(vec![AlertKind::IpNewName])), Vec::<u64>::new());
    }

    #[test]
    fn the_journal_is_read_back_skipping_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.ndjson");
        let missing = read_journal(&p, &AlertFilter { limit: 5, ..Default::default() }).unwrap();
        assert!(missing.alerts.is_empty());
        let mut text = String::new();
        for i in 0..6 {
            text.push_str(&serde_json::to_string(&alert(i, 100 + i, "l")).unwrap());
            text.push('\n');
        }
        text.push_str("{\"id\":99,\"raised\""); // torn by a crash
        std::fs::write(&p, text).unwrap();
        let page = read_journal(&p, &AlertFilter { since: Some(102), limit: 3, ..Default::default() }).unwrap();
        assert_eq!(page.alerts.iter().map(|a| a.id).collect::<Vec<_>>(), vec![3, 4, 5]);
        assert!(page.limited);
        assert_eq!(page.source, "journal");
        let page = read_journal(&p, &AlertFilter { since: Some(104), limit: 3, ..Default::default() }).unwrap();
        assert_eq!((page.alerts.len(), page.limited), (2, false));
    }
}
