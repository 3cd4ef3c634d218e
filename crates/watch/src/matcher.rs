//! The compiled form of every loaded watchlist, checked against each record of a written batch
//! straight from its record key (no decoding of records that match nothing).
//!
//! - Names: one hash table keyed by the reversed-label key encoding of each watched name and
//!   zone ([`Name::write_key_prefix`]), the encoding record keys start with. A record's owner
//!   name is walked label by label from the root, each label boundary is one probe (only as deep
//!   as the deepest watched name), so `www.a.example.com` costs at most four lookups whatever
//!   the number of entries. The names inside rdata (CNAME/NS/MX/SRV/… targets) are matched the
//!   same way.
//! - Addresses: single addresses, prefixes and arbitrary ranges may overlap, so they are cut
//!   into disjoint elementary segments (each holding the entries covering it) in one sorted
//!   array per family; an A/AAAA rdata item costs one binary search. A prefix trie would
//!   answer the same question but cannot hold `a-b` ranges without splitting them into prefixes.
//!
//! Negative-answer records (NXDOMAIN/NODATA) are not matched: they carry no resolution.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use dnsledger_model::key::TAG_NEGATIVE;
use dnsledger_model::rdata::{has_indexed_name, wire_indexed_name};
use dnsledger_model::{Name, RrType};
use dnsledger_store::IpRange;

use crate::list::{Target, Watchlist};

/// Where in a record an entry matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum On {
    /// The owner name.
    Rrname,
    /// The name inside the rdata item at this index of the record's rdata set.
    RdataName(u16),
    /// The address of the rdata item at this index.
    Address(u16),
}

/// One entry matching one record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// The entry (an index into [`Matcher::entry`]).
    pub entry: u32,
    /// Where it matched.
    pub on: On,
}

/// Which watchlist entry an entry id stands for.
#[derive(Debug, Clone)]
pub struct EntryRef {
    /// Index of the list in [`Matcher::lists`].
    pub list: u32,
    /// Index of the entry in the list's `entries`.
    pub index: u32,
    /// For address entries: the range.
    pub range: Option<IpRange>,
}

#[derive(Default)]
struct NameSlot {
    exact: Vec<u32>,
    below: Vec<u32>,
}

type Table = HashMap<Box<[u8]>, NameSlot, foldhash::fast::FixedState>;

/// Integer forms of addresses of one family.
trait Addr: Copy + Ord {
    const MAX: Self;
    fn succ(self) -> Self;
    fn pred(self) -> Self;
}

impl Addr for u32 {
    const MAX: u32 = u32::MAX;
    fn succ(self) -> u32 {
        self.wrapping_add(1)
    }
    fn pred(self) -> u32 {
        self.wrapping_sub(1)
    }
}

impl Addr for u128 {
    const MAX: u128 = u128::MAX;
    fn succ(self) -> u128 {
        self.wrapping_add(1)
    }
    fn pred(self) -> u128 {
        self.wrapping_sub(1)
    }
}

/// Disjoint, sorted segments of one address family, each with the entries covering it.
struct Ranges<T> {
    starts: Vec<T>,
    ends: Vec<T>,
    ids: Vec<Box<[u32]>>,
}

impl<T: Addr> Ranges<T> {
    /// Cuts possibly overlapping inclusive intervals into elementary segments (a sweep over
    /// the sorted start and end+1 points).
    fn build(intervals: &[(T, T, u32)]) -> Ranges<T> {
        // (point, opens?, id): at a point, closings apply before openings
        let mut events: Vec<(T, bool, u32)> = Vec::with_capacity(intervals.len() * 2);
        for &(s, e, id) in intervals {
            events.push((s, true, id));
            if e < T::MAX {
                events.push((e.succ(), false, id));
            }
        }
        events.sort_unstable();
        let mut out: Ranges<T> = Ranges { starts: Vec::new(), ends: Vec::new(), ids: Vec::new() };
        let mut active: BTreeSet<u32> = BTreeSet::new();
        let mut i = 0;
        while i < events.len() {
            let point = events[i].0;
            while i < events.len() && events[i].0 == point {
                let (_, open, id) = events[i];
                if open {
                    active.insert(id);
                } else {
                    active.remove(&id);
                }
                i += 1;
            }
            if active.is_empty() {
                continue;
            }
            // the segment runs until the point before the next event, or to the end of the space
            let end = match events.get(i) {
                Some(&(next, _, _)) => next.pred(),
                None => T::MAX,
            };
            let ids: Box<[u32]> = active.iter().copied().collect();
            // adjacent segments with the same entries are one
            if let (Some(last_end), Some(last_ids)) = (out.ends.last_mut(), out.ids.last()) {
                if *last_ids == ids && last_end.succ() == point {
                    *last_end = end;
                    continue;
                }
            }
            out.starts.push(point);
            out.ends.push(end);
            out.ids.push(ids);
        }
        out
    }

    fn find(&self, x: T) -> &[u32] {
        let i = self.starts.partition_point(|s| *s <= x);
        match i.checked_sub(1) {
            Some(i) if x <= self.ends[i] => &self.ids[i],
            _ => &[],
        }
    }
}

/// Every loaded watchlist, compiled for matching.
pub struct Matcher {
    lists: Vec<Arc<Watchlist>>,
    entries: Vec<EntryRef>,
    names: Table,
    /// Entries `*.` (every name).
    below_root: Vec<u32>,
    /// Labels of the deepest watched name: probing deeper finds nothing.
    max_depth: usize,
    v4: Ranges<u32>,
    v6: Ranges<u128>,
}

impl Matcher {
    /// Compiles `lists` (already validated; entries that do not parse are skipped).
    pub fn new(lists: Vec<Arc<Watchlist>>) -> Matcher {
        let mut entries = Vec::new();
        let mut names = Table::default();
        let mut below_root = Vec::new();
        let mut max_depth = 0;
        let mut v4 = Vec::new();
        let mut v6 = Vec::new();
        let mut key = Vec::new();
        for (li, list) in lists.iter().enumerate() {
            for (ei, e) in list.entries.iter().enumerate() {
                let Ok(target) = e.target() else { continue };
                let id = entries.len() as u32;
                let mut range = None;
                match &target {
                    Target::Name(n) | Target::Below(n) => {
                        let below = matches!(target, Target::Below(_));
                        if below && n.is_root() {
                            below_root.push(id);
                        } else {
                            key.clear();
                            n.write_key_prefix(true, &mut key);
                            let slot = names.entry(key.clone().into_boxed_slice()).or_default();
                            if below {
                                slot.below.push(id);
                            } else {
                                slot.exact.push(id);
                            }
                            max_depth = max_depth.max(n.label_count());
                        }
                    }
                    Target::Addresses(r) => {
                        range = Some(*r);
                        match (r.start, r.end) {
                            (IpAddr::V4(a), IpAddr::V4(b)) => v4.push((u32::from(a), u32::from(b), id)),
                            (IpAddr::V6(a), IpAddr::V6(b)) => v6.push((u128::from(a), u128::from(b), id)),
                            _ => continue,
                        }
                    }
                }
                entries.push(EntryRef { list: li as u32, index: ei as u32, range });
            }
        }
        Matcher { lists, entries, names, below_root, max_depth, v4: Ranges::build(&v4), v6: Ranges::build(&v6) }
    }

    /// The lists compiled in.
    pub fn lists(&self) -> &[Arc<Watchlist>] {
        &self.lists
    }

    /// The entry an id stands for.
    pub fn entry(&self, id: u32) -> &EntryRef {
        &self.entries[id as usize]
    }

    /// Number of entries compiled in.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn has_names(&self) -> bool {
        !self.names.is_empty() || !self.below_root.is_empty()
    }

    /// Probes the reversed name key at the start of `key`; returns the bytes the name took
    /// (its terminator included), or `None` if the key is malformed.
    fn probe_name(&self, key: &[u8], on: On, out: &mut Vec<Hit>) -> Option<usize> {
        let has_names = self.has_names();
        if has_names && key.first().is_some_and(|b| *b != 0) {
            out.extend(self.below_root.iter().map(|&entry| Hit { entry, on }));
        }
        let mut pos = 0;
        let mut depth = 0;
        loop {
            match key.get(pos) {
                None => return None,
                Some(0) => return Some(pos + 1),
                Some(_) => {}
            }
            let end = pos + memchr::memchr(0, &key[pos..])?;
            depth += 1;
            if has_names && depth <= self.max_depth {
                if let Some(slot) = self.names.get(&key[..=end]) {
                    let ids = if key.get(end + 1) == Some(&0) { &slot.exact } else { &slot.below };
                    out.extend(ids.iter().map(|&entry| Hit { entry, on }));
                }
            }
            pos = end + 1;
        }
    }

    /// Appends the entries matching the record with this key (a store record key, see
    /// `dnsledger_model::key`) to `out`; returns the record's type, or `None` for keys that
    /// are malformed or of negative answers (which never match).
    pub fn match_key(&self, key: &[u8], out: &mut Vec<Hit>) -> Option<RrType> {
        let mark = out.len();
        let r = self.match_key_inner(key, out);
        if r.is_none() {
            out.truncate(mark);
        }
        r
    }

    fn match_key_inner(&self, key: &[u8], out: &mut Vec<Hit>) -> Option<RrType> {
        let mut pos = self.probe_name(key, On::Rrname, out)?;
        let t = key.get(pos..pos + 2)?;
        let rrtype = RrType(u16::from_be_bytes([t[0], t[1]]));
        pos += 2;
        match key.get(pos)? {
            0 => pos += 1,
            1 => pos += 1 + skip_name(&key[pos + 1..])?,
            _ => return None,
        }
        if key.get(pos) == Some(&TAG_NEGATIVE) {
            return None;
        }
        let names_in_rdata = self.has_names() && has_indexed_name(rrtype);
        let mut scratch = Vec::new();
        let mut index: u16 = 0;
        while pos < key.len() {
            let head = key.get(pos..pos + 3)?;
            let len = u16::from_be_bytes([head[1], head[2]]) as usize;
            let bytes = key.get(pos + 3..pos + 3 + len)?;
            let on_addr = On::Address(index);
            match (rrtype, head[0], len) {
                (RrType::A, 0, 4) => {
                    let a = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
                    out.extend(self.v4.find(a).iter().map(|&entry| Hit { entry, on: on_addr }));
                }
                (RrType::AAAA, 0, 16) => {
                    let mut b = [0u8; 16];
                    b.copy_from_slice(bytes);
                    out.extend(self.v6.find(u128::from_be_bytes(b)).iter().map(|&entry| Hit { entry, on: on_addr }));
                }
                _ if names_in_rdata => {
                    let name = match head[0] {
                        0 => wire_indexed_name(rrtype, bytes),
                        _ => std::str::from_utf8(bytes)
                            .ok()
                            .map(str::trim)
                            .filter(|t| !t.contains(char::is_whitespace))
                            .and_then(|t| Name::from_presentation(t).ok()),
                    };
                    if let Some(n) = name {
                        scratch.clear();
                        n.write_key(true, &mut scratch);
                        self.probe_name(&scratch, On::RdataName(index), out);
                    }
                }
                _ => {}
            }
            pos += 3 + len;
            index = index.saturating_add(1);
        }
        Some(rrtype)
    }
}

/// The length of a reversed name key (terminator included) at the start of `key`.
fn skip_name(key: &[u8]) -> Option<usize> {
    let mut pos = 0;
    loop {
        if *key.get(pos)? == 0 {
            return Some(pos + 1);
        }
        pos += memchr::memchr(0, &key[pos..])? + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::list::Entry;
    use dnsledger_model::{Rdata, RecordKey};

    fn list(name: &str, values: &[&str]) -> Arc<Watchlist> {
        let mut w = Watchlist::new(name);
        w.entries = values.iter().map(|v| Entry { value: v.to_string(), label: None }).collect();
        Arc::new(w)
    }

    fn key(name: &str, t: RrType, bailiwick: Option<&str>, rdata: &[&str]) -> Vec<u8> {
        let mut r: Vec<Rdata> = rdata.iter().map(|s| Rdata::parse(t, s).unwrap()).collect();
        r.sort();
        let b = bailiwick.map(|b| Name::from_presentation(b).unwrap());
        let mut out = Vec::new();
        RecordKey::write(&Name::from_presentation(name).unwrap(), t, b.as_ref(), &r, &mut out);
        out
    }

    /// (list name, entry value, where) of every hit.
    fn hits(m: &Matcher, k: &[u8]) -> Vec<(String, String, On)> {
        let mut out = Vec::new();
        m.match_key(k, &mut out);
        let mut v: Vec<_> = out
            .iter()
            .map(|h| {
                let e = m.entry(h.entry);
                let l = &m.lists()[e.list as usize];
                (l.name.clone(), l.entries[e.index as usize].value.clone(), h.on)
            })
            .collect();
        v.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        v
    }

    fn h(l: &str, e: &str, on: On) -> (String, String, On) {
        (l.into(), e.into(), on)
    }

    #[test]
    fn names_match_exactly_or_below_a_zone() {
        let m = Matcher::new(vec![
            list("a", &["www.example.com", "*.example.net", "deep.x.y.z.example.org"]),
            list("b", &["*.com"]),
        ]);
        assert_eq!(
            hits(&m, &key("www.example.com", RrType::A, Some("example.com"), &["192.0.2.1"])),
            vec![h("a", "www.example.com", On::Rrname), h("b", "*.com", On::Rrname)]
        );
        assert_eq!(hits(&m, &key("example.com", RrType::A, None, &["192.0.2.1"])), vec![h("b", "*.com", On::Rrname)]);
        // *.zone is strictly below the zone
        assert!(hits(&m, &key("example.net", RrType::A, None, &["192.0.2.1"])).is_empty());
        assert_eq!(
            hits(&m, &key("a.b.example.net", RrType::TXT, None, &["\"x\""])),
            vec![h("a", "*.example.net", On::Rrname)]
        );
        // a longer name sharing a label prefix is not below
        assert!(hits(&m, &key("www.notexample.net", RrType::A, None, &["192.0.2.1"])).is_empty());
        assert!(hits(&m, &key("www.example.co", RrType::A, None, &["192.0.2.1"])).is_empty());
        assert!(hits(&m, &key("www.example.com.evil", RrType::A, None, &["192.0.2.1"])).is_empty());
        assert_eq!(
            hits(&m, &key("deep.x.y.z.example.org", RrType::A, None, &["192.0.2.1"])),
            vec![h("a", "deep.x.y.z.example.org", On::Rrname)]
        );
    }

    #[test]
    fn names_inside_rdata_match_too() {
        let m = Matcher::new(vec![list("a", &["ns1.example.net", "*.cdn.example"])]);
        assert_eq!(
            hits(&m, &key("example.org", RrType::NS, Some("org"), &["ns0.example.org.", "ns1.example.net."])),
            vec![h("a", "ns1.example.net", On::RdataName(1))]
        );
        assert_eq!(
            hits(&m, &key("www.example.org", RrType::CNAME, None, &["edge.cdn.example."])),
            vec![h("a", "*.cdn.example", On::RdataName(0))]
        );
        assert_eq!(
            hits(&m, &key("example.org", RrType::MX, None, &["10 ns1.example.net."])),
            vec![h("a", "ns1.example.net", On::RdataName(0))]
        );
        // text rdata is not searched for names
        assert!(hits(&m, &key("example.org", RrType::TXT, None, &["\"ns1.example.net\""])).is_empty());
    }

    #[test]
    fn addresses_prefixes_and_ranges_overlap() {
        let m = Matcher::new(vec![
            list("a", &["192.0.2.0/24", "192.0.2.7", "198.51.100.10-198.51.100.20", "2001:db8::/32"]),
            list("b", &["192.0.2.0/28", "0.0.0.0/0"]),
        ]);
        let a = |ip: &str| hits(&m, &key("x.example", RrType::A, None, &[ip]));
        assert_eq!(
            a("192.0.2.7"),
            vec![
                h("a", "192.0.2.0/24", On::Address(0)),
                h("a", "192.0.2.7", On::Address(0)),
                h("b", "0.0.0.0/0", On::Address(0)),
                h("b", "192.0.2.0/28", On::Address(0)),
            ]
        );
        assert_eq!(a("192.0.2.16"), vec![h("a", "192.0.2.0/24", On::Address(0)), h("b", "0.0.0.0/0", On::Address(0))]);
        assert_eq!(a("255.255.255.255"), vec![h("b", "0.0.0.0/0", On::Address(0))]);
        assert_eq!(a("0.0.0.0"), vec![h("b", "0.0.0.0/0", On::Address(0))]);
        for (ip, inside) in
            [("198.51.100.9", false), ("198.51.100.10", true), ("198.51.100.20", true), ("198.51.100.21", false)]
        {
            assert_eq!(a(ip).iter().any(|x| x.1.contains('-')), inside, "{ip}");
        }
        let six = hits(&m, &key("x.example", RrType::AAAA, None, &["2001:db8:1::1", "2001:db9::1"]));
        assert_eq!(six, vec![h("a", "2001:db8::/32", On::Address(0))]);
        // an A record's rdata is not read as an address when the type is not A/AAAA
        assert!(hits(&m, &key("x.example", RrType::TXT, None, &["\"abcd\""])).is_empty());
    }

    #[test]
    fn segments_are_disjoint_and_cover_exactly_the_intervals() {
        // brute force against the segment table on a small space
        let iv: Vec<(u32, u32, u32)> = vec![(10, 20, 0), (15, 30, 1), (20, 20, 2), (40, 50, 3), (0, 5, 4), (51, 60, 5)];
        let r = Ranges::build(&iv);
        for x in 0..70u32 {
            let want: Vec<u32> = iv.iter().filter(|(s, e, _)| *s <= x && x <= *e).map(|t| t.2).collect();
            assert_eq!(r.find(x), want.as_slice(), "{x}");
        }
        let top = Ranges::build(&[(u32::MAX - 1, u32::MAX, 0)]);
        assert_eq!(top.find(u32::MAX), &[0]);
        assert!(top.find(u32::MAX - 2).is_empty());
    }

    #[test]
    fn negative_answers_and_malformed_keys_never_match() {
        let m = Matcher::new(vec![list("a", &["www.example.com"])]);
        let mut k = Vec::new();
        RecordKey::write_negative(
            &Name::from_presentation("www.example.com").unwrap(),
            RrType::A,
            None,
            dnsledger_model::Negative::NxDomain,
            &mut k,
        );
        let mut out = Vec::new();
        assert_eq!(m.match_key(&k, &mut out), None);
        assert!(out.is_empty());
        let good = key("www.example.com", RrType::A, None, &["192.0.2.1"]);
        for cut in 1..good.len() - 4 {
            let mut out = Vec::new();
            // truncated keys: no panic; a cut inside the rdata is malformed
            let _ = m.match_key(&good[..cut], &mut out);
        }
        let mut out = Vec::new();
        assert_eq!(m.match_key(&good[..good.len() - 1], &mut out), None);
    }

    /// `cargo test --release -p dnsledger-watch -- --ignored --nocapture matching_cost`: the
    /// cost of matching a 100k-record batch against a 10,000-entry list (figures in
    /// docs/analytics.md).
    #[test]
    #[ignore]
    fn matching_cost() {
        let mut values: Vec<String> = Vec::new();
        values.extend((0..4000).map(|k| format!("*.zone{k}.example.org")));
        values.extend((0..4000u32).map(|k| format!("198.{}.{}.{}", 18 + (k >> 16), (k >> 8) & 255, k & 255)));
        values.extend((0..1000u32).map(|k| format!("172.{}.{}.0/24", 16 + (k >> 8), k & 255)));
        values.extend((0..500u32).map(|k| format!("*.dom{}.example.com", k * 397)));
        values.extend((0..500u32).map(|k| format!("10.0.{}.{}", ((k * 113) >> 8) & 255, (k * 113) & 255)));
        let refs: Vec<&str> = values.iter().map(String::as_str).collect();
        let t = std::time::Instant::now();
        let m = Matcher::new(vec![list("bench", &refs)]);
        let compile = t.elapsed();
        let mut x: u64 = 42;
        let keys: Vec<Vec<u8>> = (0..100_000)
            .map(|i| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let (n, ip) = (x % 200_000, x % 60_000);
                let name = format!("host{}.dom{n}.example.com", n % 7);
                if i % 10 == 3 {
                    key(&name, RrType::CNAME, None, &[&format!("edge{}.cdn.example.net.", n % 97)])
                } else {
                    key(&name, RrType::A, Some("example.com"), &[&format!("10.0.{}.{}", ip >> 8, ip & 255)])
                }
            })
            .collect();
        let mut out = Vec::new();
        let mut matched = 0;
        let t = std::time::Instant::now();
        for _ in 0..10 {
            matched = 0;
            for k in &keys {
                out.clear();
                m.match_key(k, &mut out);
                matched += usize::from(!out.is_empty());
            }
        }
        let per_batch = t.elapsed() / 10;
        println!(
            "10,000 entries compiled in {compile:?}; a 100,000-record batch matched in {per_batch:?} \
             ({:.0} ns/record), {matched} records matched",
            per_batch.as_nanos() as f64 / 100_000.0
        );
        assert!(matched > 0);
    }
}
