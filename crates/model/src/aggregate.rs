//! The aggregate a record carries (first/last seen, count, TTL range, per-day activity,
//! sensors) and its merge rule, which is associative and commutative so stores can apply it
//! as a blind write (RocksDB merge operator, ClickHouse aggregate states).

use smallvec::SmallVec;

use crate::time::{Timestamp, DAY};

/// Most activity runs kept per record; beyond it the closest runs are joined (gaps filled).
pub const MAX_DAY_RUNS: usize = 256;
/// Most sensors remembered per record; later sensors beyond it are not added.
pub const MAX_SENSORS: usize = 16;

/// Why a stored value could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("corrupt aggregate value: {0}")]
pub struct ValueError(pub &'static str);

/// The days on which a record was seen, as sorted, disjoint, non-adjacent inclusive runs of
/// day numbers (days since the epoch). Continuous activity costs a few bytes whatever its
/// length; a record seen every other day for years keeps its most recent detail up to
/// [`MAX_DAY_RUNS`] runs, after which the smallest gaps are filled in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DayHistory {
    runs: SmallVec<[(u32, u32); 2]>,
}

impl DayHistory {
    /// The runs as `(first_day, last_day)` pairs, inclusive, ascending.
    pub fn runs(&self) -> &[(u32, u32)] {
        &self.runs
    }

    /// Builds a history from runs (any order, may overlap).
    pub fn from_runs(runs: impl IntoIterator<Item = (u32, u32)>) -> DayHistory {
        let mut h = DayHistory::default();
        for (a, b) in runs {
            h.add_run(a.min(b), a.max(b));
        }
        h
    }

    /// True if no day is recorded.
    pub fn is_empty(&self) -> bool {
        self.runs.is_empty()
    }

    /// Number of distinct days recorded.
    pub fn day_count(&self) -> u64 {
        self.runs.iter().map(|&(a, b)| (b - a) as u64 + 1).sum()
    }

    /// True if `day` is recorded.
    pub fn contains(&self, day: u32) -> bool {
        self.runs.iter().any(|&(a, b)| a <= day && day <= b)
    }

    /// Marks the day containing `t`.
    pub fn add_time(&mut self, t: Timestamp) {
        let d = (t / DAY).min(u32::MAX as u64) as u32;
        self.add_run(d, d);
    }

    /// Marks an inclusive run of days.
    pub fn add_run(&mut self, first: u32, last: u32) {
        // Fast path: extends or repeats the newest run (the common case for live data).
        if let Some(lastrun) = self.runs.last_mut() {
            if first >= lastrun.0 && first <= lastrun.1.saturating_add(1) {
                lastrun.1 = lastrun.1.max(last);
                return;
            }
            if first > lastrun.1 {
                self.runs.push((first, last));
                self.cap();
                return;
            }
        } else {
            self.runs.push((first, last));
            return;
        }
        let other = DayHistory { runs: smallvec::smallvec![(first, last)] };
        self.union(&other);
    }

    /// Adds every day of `other`.
    pub fn union(&mut self, other: &DayHistory) {
        if other.runs.is_empty() {
            return;
        }
        if self.runs.is_empty() {
            self.runs = other.runs.clone();
            return;
        }
        let mut out: SmallVec<[(u32, u32); 2]> = SmallVec::with_capacity(self.runs.len() + other.runs.len());
        let (mut i, mut j) = (0, 0);
        while i < self.runs.len() || j < other.runs.len() {
            let next = if j >= other.runs.len() || (i < self.runs.len() && self.runs[i].0 <= other.runs[j].0) {
                i += 1;
                self.runs[i - 1]
            } else {
                j += 1;
                other.runs[j - 1]
            };
            match out.last_mut() {
                Some(l) if next.0 <= l.1.saturating_add(1) => l.1 = l.1.max(next.1),
                _ => out.push(next),
            }
        }
        self.runs = out;
        self.cap();
    }

    fn cap(&mut self) {
        while self.runs.len() > MAX_DAY_RUNS {
            let mut best = 0;
            let mut best_gap = u32::MAX;
            for i in 0..self.runs.len() - 1 {
                let gap = self.runs[i + 1].0 - self.runs[i].1;
                if gap < best_gap {
                    best_gap = gap;
                    best = i;
                }
            }
            self.runs[best].1 = self.runs[best + 1].1;
            self.runs.remove(best + 1);
        }
    }
}

/// The sensors (store-assigned 16-bit ids) that saw a record, ascending, at most [`MAX_SENSORS`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SensorSet {
    ids: SmallVec<[u16; 2]>,
}

impl SensorSet {
    /// The ids, ascending.
    pub fn ids(&self) -> &[u16] {
        &self.ids
    }

    /// True if no sensor is recorded.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Adds a sensor id (ignored once the set is full).
    pub fn insert(&mut self, id: u16) {
        if let Err(pos) = self.ids.binary_search(&id) {
            if self.ids.len() < MAX_SENSORS {
                self.ids.insert(pos, id);
            }
        }
    }

    /// Adds every id of `other`.
    pub fn union(&mut self, other: &SensorSet) {
        for &id in &other.ids {
            self.insert(id);
        }
    }

    /// Rewrites every id through `f` (used to map batch-local ids to store ids).
    pub fn remap(&mut self, mut f: impl FnMut(u16) -> u16) {
        let old = std::mem::take(&mut self.ids);
        for id in old {
            self.insert(f(id));
        }
    }
}

/// What a record knows about its sightings. Merging is min/max/sum/union, so it is
/// associative and commutative, and merging the same aggregate twice is the only way to
/// double-count.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Aggregate {
    /// Number of observations.
    pub count: u64,
    /// First and last time seen by sensors, logs or feeds.
    pub seen: Option<(Timestamp, Timestamp)>,
    /// First and last time seen in an imported zone file.
    pub zone: Option<(Timestamp, Timestamp)>,
    /// Lowest and highest TTL seen.
    pub ttl: Option<(u32, u32)>,
    /// Days with activity.
    pub days: DayHistory,
    /// Sensors that reported it.
    pub sensors: SensorSet,
}

fn widen(slot: &mut Option<(u64, u64)>, first: u64, last: u64) {
    let (first, last) = (first.min(last), first.max(last));
    *slot = Some(match *slot {
        Some((a, b)) => (a.min(first), b.max(last)),
        None => (first, last),
    });
}

impl Aggregate {
    /// Counts `count` sightings by a sensor/log/feed between `first` and `last`.
    ///
    /// The days of `first` and `last` are marked active; days in between are not, since a
    /// pre-aggregated feed record does not say when in between it was seen.
    pub fn observe_sensor(&mut self, first: Timestamp, last: Timestamp, count: u64) {
        widen(&mut self.seen, first, last);
        self.count = self.count.saturating_add(count);
        self.days.add_time(first.min(last));
        self.days.add_time(first.max(last));
    }

    /// Counts `count` sightings in zone files between `first` and `last`.
    pub fn observe_zone(&mut self, first: Timestamp, last: Timestamp, count: u64) {
        widen(&mut self.zone, first, last);
        self.count = self.count.saturating_add(count);
        self.days.add_time(first.min(last));
        self.days.add_time(first.max(last));
    }

    /// Widens the TTL range with `ttl`.
    pub fn observe_ttl(&mut self, ttl: u32) {
        self.ttl = Some(match self.ttl {
            Some((a, b)) => (a.min(ttl), b.max(ttl)),
            None => (ttl, ttl),
        });
    }

    /// Merges another aggregate of the same record into this one.
    pub fn merge(&mut self, o: &Aggregate) {
        self.count = self.count.saturating_add(o.count);
        if let Some((a, b)) = o.seen {
            widen(&mut self.seen, a, b);
        }
        if let Some((a, b)) = o.zone {
            widen(&mut self.zone, a, b);
        }
        if let Some((a, b)) = o.ttl {
            self.ttl = Some(match self.ttl {
                Some((x, y)) => (x.min(a), y.max(b)),
                None => (a, b),
            });
        }
        self.days.union(&o.days);
        self.sensors.union(&o.sensors);
    }

    /// The times fences and sorting use: sensor times if present, else zone times.
    pub fn effective_times(&self) -> Option<(Timestamp, Timestamp)> {
        self.seen.or(self.zone)
    }

    /// Appends the compact stored encoding (a flags byte, then LEB128 varints).
    pub fn encode(&self, out: &mut Vec<u8>) {
        let flags = FORMAT_V1
            | if self.seen.is_some() { HAS_SEEN } else { 0 }
            | if self.zone.is_some() { HAS_ZONE } else { 0 }
            | if self.ttl.is_some() { HAS_TTL } else { 0 };
        out.push(flags);
        put_varint(out, self.count);
        for (a, b) in [self.seen, self.zone].into_iter().flatten() {
            put_varint(out, a);
            put_varint(out, b - a);
        }
        if let Some((a, b)) = self.ttl {
            put_varint(out, a as u64);
            put_varint(out, (b - a) as u64);
        }
        put_varint(out, self.days.runs.len() as u64);
        let mut prev = 0u32;
        for &(a, b) in &self.days.runs {
            put_varint(out, (a - prev) as u64);
            put_varint(out, (b - a) as u64);
            prev = b;
        }
        put_varint(out, self.sensors.ids.len() as u64);
        let mut prev = 0u16;
        for &id in &self.sensors.ids {
            put_varint(out, (id - prev) as u64);
            prev = id;
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(24);
        self.encode(&mut v);
        v
    }

    /// Decodes a value written by [`Aggregate::encode`], checking every bound.
    pub fn decode(buf: &[u8]) -> Result<Aggregate, ValueError> {
        let mut r = Reader { buf, pos: 1 };
        let flags = *buf.first().ok_or(ValueError("empty"))?;
        if flags & FORMAT_MASK != FORMAT_V1 {
            return Err(ValueError("unknown format version"));
        }
        let mut a = Aggregate { count: r.varint()?, ..Aggregate::default() };
        if flags & HAS_SEEN != 0 {
            let first = r.varint()?;
            a.seen = Some((first, first.checked_add(r.varint()?).ok_or(ValueError("time overflow"))?));
        }
        if flags & HAS_ZONE != 0 {
            let first = r.varint()?;
            a.zone = Some((first, first.checked_add(r.varint()?).ok_or(ValueError("time overflow"))?));
        }
        if flags & HAS_TTL != 0 {
            let lo = u32::try_from(r.varint()?).map_err(|_| ValueError("ttl overflow"))?;
            let hi = lo
                .checked_add(u32::try_from(r.varint()?).map_err(|_| ValueError("ttl overflow"))?)
                .ok_or(ValueError("ttl overflow"))?;
            a.ttl = Some((lo, hi));
        }
        let nruns = r.varint()? as usize;
        if nruns > MAX_DAY_RUNS {
            return Err(ValueError("too many day runs"));
        }
        let mut prev = 0u32;
        for i in 0..nruns {
            let start = prev.checked_add(r.small(u32::MAX as u64)? as u32).ok_or(ValueError("day overflow"))?;
            let end = start.checked_add(r.small(u32::MAX as u64)? as u32).ok_or(ValueError("day overflow"))?;
            if i > 0 && start <= prev.saturating_add(1) {
                return Err(ValueError("day runs out of order"));
            }
            a.days.runs.push((start, end));
            prev = end;
        }
        let nsensors = r.varint()? as usize;
        if nsensors > MAX_SENSORS {
            return Err(ValueError("too many sensors"));
        }
        let mut prev = 0u16;
        for i in 0..nsensors {
            let id = prev.checked_add(r.small(u16::MAX as u64)? as u16).ok_or(ValueError("sensor overflow"))?;
            if i > 0 && id == prev {
                return Err(ValueError("duplicate sensor"));
            }
            a.sensors.ids.push(id);
            prev = id;
        }
        if r.pos != buf.len() {
            return Err(ValueError("trailing bytes"));
        }
        Ok(a)
    }

    /// The latest time (sensor or zone) in an encoded aggregate, read without decoding the
    /// rest: what retention compares with its cutoff. `None` if the value has no times or does
    /// not decode that far.
    pub fn last_seen_encoded(buf: &[u8]) -> Option<Timestamp> {
        let flags = *buf.first()?;
        if flags & FORMAT_MASK != FORMAT_V1 {
            return None;
        }
        let mut pos = 1;
        let mut next = || -> Option<u64> {
            let (v, n) = get_varint(buf.get(pos..)?)?;
            pos += n;
            Some(v)
        };
        next()?; // count
        let mut last = None;
        for present in [flags & HAS_SEEN != 0, flags & HAS_ZONE != 0] {
            if present {
                let first = next()?;
                let t = first.checked_add(next()?)?;
                last = Some(last.map_or(t, |l: u64| l.max(t)));
            }
        }
        last
    }

    /// The merge operator: folds encoded operands into an encoded existing value. Operands
    /// that fail to decode are skipped and counted in the returned number, so one corrupt
    /// value never blocks the rest of a record.
    pub fn merge_encoded<'a>(
        existing: Option<&[u8]>,
        operands: impl IntoIterator<Item = &'a [u8]>,
    ) -> (Vec<u8>, usize) {
        let mut bad = 0;
        let mut acc = match existing.map(Aggregate::decode) {
            Some(Ok(a)) => a,
            Some(Err(_)) => {
                bad += 1;
                Aggregate::default()
            }
            None => Aggregate::default(),
        };
        for op in operands {
            match Aggregate::decode(op) {
                Ok(a) => acc.merge(&a),
                Err(_) => bad += 1,
            }
        }
        (acc.to_bytes(), bad)
    }
}

const FORMAT_V1: u8 = 0x10;
const FORMAT_MASK: u8 = 0xf0;
const HAS_SEEN: u8 = 0x01;
const HAS_ZONE: u8 = 0x02;
const HAS_TTL: u8 = 0x04;

/// Appends `v` as an unsigned LEB128 varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads an unsigned LEB128 varint at the start of `buf`; returns it and the bytes used.
pub fn get_varint(buf: &[u8]) -> Option<(u64, usize)> {
    let mut v: u64 = 0;
    for (i, &b) in buf.iter().enumerate().take(10) {
        let part = (b & 0x7f) as u64;
        if i == 9 && part > 1 {
            return None;
        }
        v |= part << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl Reader<'_> {
    fn varint(&mut self) -> Result<u64, ValueError> {
        let rest = self.buf.get(self.pos..).ok_or(ValueError("truncated"))?;
        let (v, used) = get_varint(rest).ok_or(ValueError("truncated or overlong varint"))?;
        self.pos += used;
        Ok(v)
    }
    fn small(&mut self, max: u64) -> Result<u64, ValueError> {
        let v = self.varint()?;
        if v > max {
            return Err(ValueError("value out of range"));
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_seen_reads_the_latest_sensor_or_zone_time() {
        let mut a = Aggregate::default();
        assert_eq!(Aggregate::last_seen_encoded(&a.to_bytes()), None);
        a.observe_sensor(1_600_000_000, 1_650_000_000, 3);
        a.observe_ttl(300);
        assert_eq!(Aggregate::last_seen_encoded(&a.to_bytes()), Some(1_650_000_000));
        a.observe_zone(1_500_000_000, 1_700_000_000, 1);
        assert_eq!(Aggregate::last_seen_encoded(&a.to_bytes()), Some(1_700_000_000));
        let mut z = Aggregate::default();
        z.observe_zone(10, 20, 1);
        assert_eq!(Aggregate::last_seen_encoded(&z.to_bytes()), Some(20));
        let enc = a.to_bytes();
        for cut in 0..3 {
            assert_eq!(Aggregate::last_seen_encoded(&enc[..cut]), None);
        }
    }

    fn agg(first: u64, last: u64, count: u64) -> Aggregate {
        let mut a = Aggregate::default();
        a.observe_sensor(first, last, count);
        a
    }

    #[test]
    fn merge_is_min_max_sum() {
        let mut a = agg(1000, 2000, 3);
        a.observe_ttl(300);
        let mut b = agg(500, 1500, 4);
        b.observe_ttl(60);
        b.sensors.insert(7);
        a.merge(&b);
        assert_eq!(a.seen, Some((500, 2000)));
        assert_eq!(a.count, 7);
        assert_eq!(a.ttl, Some((60, 300)));
        assert_eq!(a.sensors.ids(), &[7]);
    }

    #[test]
    fn merge_is_associative_and_commutative() {
        let mut xs = [agg(10 * DAY, 12 * DAY, 1), agg(3 * DAY, 3 * DAY, 2), agg(40 * DAY, 41 * DAY, 5)];
        xs[0].observe_zone(1, 2, 1);
        xs[1].sensors.insert(3);
        xs[2].sensors.insert(1);
        xs[2].observe_ttl(5);
        let fold = |order: &[usize]| {
            let mut acc = Aggregate::default();
            for &i in order {
                acc.merge(&xs[i]);
            }
            acc
        };
        let a = fold(&[0, 1, 2]);
        assert_eq!(a, fold(&[2, 1, 0]));
        assert_eq!(a, fold(&[1, 2, 0]));
        // (x+y)+z == x+(y+z)
        let mut yz = xs[1].clone();
        yz.merge(&xs[2]);
        let mut x_yz = xs[0].clone();
        x_yz.merge(&yz);
        assert_eq!(a, x_yz);
        assert_eq!(a.days.runs(), &[(0, 0), (3, 3), (10, 10), (12, 12), (40, 41)]);
        assert_eq!(a.days.day_count(), 6);
    }

    #[test]
    fn encode_round_trip() {
        let mut a = agg(1_704_067_200, 1_704_153_600, 12345);
        a.observe_zone(1_600_000_000, 1_700_000_000, 2);
        a.observe_ttl(30);
        a.observe_ttl(86400);
        a.sensors.insert(2);
        a.sensors.insert(600);
        let b = a.to_bytes();
        assert_eq!(Aggregate::decode(&b).unwrap(), a);
        let plain = agg(5, 5, 1);
        assert_eq!(Aggregate::decode(&plain.to_bytes()).unwrap(), plain);
        assert!(plain.to_bytes().len() <= 8, "{:?}", plain.to_bytes());
        assert_eq!(Aggregate::decode(&Aggregate::default().to_bytes()).unwrap(), Aggregate::default());
    }

    #[test]
    fn decode_rejects_garbage_without_panicking() {
        let good = agg(1_704_067_200, 1_704_153_600, 3).to_bytes();
        for cut in 0..good.len() {
            assert!(Aggregate::decode(&good[..cut]).is_err());
        }
        let mut seed = 0x9e3779b97f4a7c15u64;
        for _ in 0..20000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len).map(|i| (seed >> (i % 8 * 8)) as u8 ^ i as u8).collect();
            let _ = Aggregate::decode(&bytes);
        }
        let (v, bad) = Aggregate::merge_encoded(Some(b"\xff"), [good.as_slice(), b"\x10".as_slice()]);
        assert_eq!(bad, 2);
        assert_eq!(Aggregate::decode(&v).unwrap().count, 3);
    }

    #[test]
    fn day_history_runs_and_cap() {
        let mut h = DayHistory::default();
        for d in [5, 6, 7, 9, 3, 4, 8] {
            h.add_run(d, d);
        }
        assert_eq!(h.runs(), &[(3, 9)]);
        let mut h = DayHistory::default();
        for d in 0..(MAX_DAY_RUNS as u32 + 50) {
            h.add_run(d * 2, d * 2);
        }
        assert_eq!(h.runs().len(), MAX_DAY_RUNS);
        assert!(h.contains(0) && h.contains(2 * (MAX_DAY_RUNS as u32 + 49)));
        let mut big = DayHistory::from_runs([(100, 200), (150, 300), (10, 20)]);
        assert_eq!(big.runs(), &[(10, 20), (100, 300)]);
        big.union(&DayHistory::from_runs([(21, 99)]));
        assert_eq!(big.runs(), &[(10, 300)]);
    }

    #[test]
    fn sensor_set_is_bounded() {
        let mut s = SensorSet::default();
        for i in (0..40).rev() {
            s.insert(i);
        }
        assert_eq!(s.ids().len(), MAX_SENSORS);
        assert!(s.ids().windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn varints() {
        for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(get_varint(&b), Some((v, b.len())));
        }
        assert_eq!(get_varint(&[0x80; 11]), None);
        assert_eq!(get_varint(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02]), None);
    }
}
