//! Lookups over any ordered key-value source laid out as [`super::keys`] describes: prefix and
//! range scans, streaming records to the visitor as the source yields them. Inverse-index
//! entries that differ only in bailiwick are adjacent and are folded into one rdata record
//! before fences are applied.

use std::net::IpAddr;
use std::ops::ControlFlow;

use super::keys::{
    bailiwick_len, name_key_len, prefix_successor, rdata_from_parts, rdata_len, split_record_key, NAMES_OWNER,
    NAMES_TARGET, P_IP, P_NAME, P_NAMES, P_RAW, P_RRSET, RDATA_BARE, RDATA_FULL,
};
use super::KvSource;
use crate::{IpRange, NameMatch, RdataQuery, RdataTarget, RrsetQuery, ScanStats, StoreError, Visitor};
use dnsledger_model::key::{KeyError, TAG_NEGATIVE};
use dnsledger_model::{Aggregate, Name, Negative, Rdata, RrType, TypeFilter};

/// Types whose rdata carries a name the rdata-name index finds it by (used by raw lookups).
fn name_indexed_types() -> impl Iterator<Item = RrType> {
    dnsledger_model::rrtype::KNOWN_TYPES
        .iter()
        .map(|&(n, _)| RrType(n))
        .filter(|&t| dnsledger_model::rdata::has_indexed_name(t))
}

/// Folds adjacent index entries that differ only in bailiwick into one rdata record.
#[derive(Default)]
struct Folder {
    group: Vec<u8>,
    agg: Option<Aggregate>,
}

type Emit<'e> = dyn FnMut(&[u8], Aggregate, &mut ScanStats) -> ControlFlow<()> + 'e;

impl Folder {
    fn push(&mut self, group: &[u8], value: &[u8], stats: &mut ScanStats, emit: &mut Emit<'_>) -> ControlFlow<()> {
        let Ok(agg) = Aggregate::decode(value) else {
            stats.corrupt += 1;
            return ControlFlow::Continue(());
        };
        if self.agg.is_some() && self.group == group {
            if let Some(a) = self.agg.as_mut() {
                a.merge(&agg);
            }
            return ControlFlow::Continue(());
        }
        let flow = match self.agg.take() {
            Some(prev) => emit(&self.group, prev, stats),
            None => ControlFlow::Continue(()),
        };
        self.group.clear();
        self.group.extend_from_slice(group);
        self.agg = Some(agg);
        flow
    }

    fn finish(mut self, stats: &mut ScanStats, emit: &mut Emit<'_>) -> ControlFlow<()> {
        match self.agg.take() {
            Some(a) => emit(&self.group, a, stats),
            None => ControlFlow::Continue(()),
        }
    }
}

/// How a scanned inverse-index key (without its key-space byte) groups.
enum Group {
    /// The key's first `n` bytes identify its rdata record (the rest is the bailiwick).
    Len(usize),
    /// Not selected (e.g. another rrtype).
    Skip,
    /// Undecodable.
    Corrupt,
}

/// Lookups over one key-value source.
pub(super) struct Reader<'a> {
    pub(super) src: &'a dyn KvSource,
}

impl Reader<'_> {
    /// Scans inverse-index keys, folding entries of one rdata record (differing only in
    /// bailiwick) before handing each record to `emit`.
    fn scan_folded(
        &self,
        start: &[u8],
        prefix: &[u8],
        upper: Option<Vec<u8>>,
        stats: &mut ScanStats,
        group: impl Fn(&[u8]) -> Group,
        emit: &mut Emit<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut fold = Folder::default();
        let flow = self.scan(start, prefix, upper, stats, |k, v, stats| {
            let k = &k[1..];
            match group(k) {
                Group::Len(n) => fold.push(&k[..n], v, stats, emit),
                Group::Skip => ControlFlow::Continue(()),
                Group::Corrupt => {
                    stats.corrupt += 1;
                    ControlFlow::Continue(())
                }
            }
        })?;
        if flow.is_break() {
            return Ok(flow);
        }
        Ok(fold.finish(stats, emit))
    }

    /// Visits entries from `start` while they start with `prefix` (and stay below `upper`).
    fn scan(
        &self,
        start: &[u8],
        prefix: &[u8],
        upper: Option<Vec<u8>>,
        stats: &mut ScanStats,
        mut f: impl FnMut(&[u8], &[u8], &mut ScanStats) -> ControlFlow<()>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let end = match (upper, prefix_successor(prefix)) {
            (Some(u), Some(p)) => Some(u.min(p)),
            (u, p) => u.or(p),
        };
        self.src.scan(start, end.as_deref(), stats, &mut |k, v, stats| {
            if !k.starts_with(prefix) {
                return ControlFlow::Break(());
            }
            f(k, v, stats)
        })
    }

    /// Scans RRset records; `start`/`prefix` include the key-space byte.
    fn scan_rrsets(
        &self,
        start: &[u8],
        prefix: &[u8],
        q: &RrsetQuery,
        bailiwick: Option<&[u8]>,
        stats: &mut ScanStats,
        visit: &mut Visitor<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        self.scan(start, prefix, None, stats, |k, v, stats| {
            let Ok(parts) = split_record_key(&k[1..]) else {
                stats.corrupt += 1;
                return ControlFlow::Continue(());
            };
            if !q.types.matches(parts.rrtype) || bailiwick.is_some_and(|b| b != parts.bailiwick) {
                return ControlFlow::Continue(());
            }
            let negative = match parts.rdata.first() {
                Some(&(TAG_NEGATIVE, [code], _)) => Negative::from_code(*code),
                _ => None,
            };
            if !q.negative.matches(negative.is_some()) {
                return ControlFlow::Continue(());
            }
            let Ok(agg) = Aggregate::decode(v) else {
                stats.corrupt += 1;
                return ControlFlow::Continue(());
            };
            if !q.fence.matches(&agg) {
                return ControlFlow::Continue(());
            }
            let decoded = (|| -> Result<_, KeyError> {
                let (rrname, _) = Name::decode_key(parts.rname, true)?;
                let (bw, _) = dnsledger_model::key::read_bailiwick(parts.bailiwick)?;
                let rdata = if negative.is_some() {
                    Vec::new()
                } else {
                    parts
                        .rdata
                        .iter()
                        .map(|&(tag, octets, _)| rdata_from_parts(tag, octets))
                        .collect::<Result<Vec<_>, _>>()?
                };
                Ok((rrname, bw, rdata))
            })();
            match decoded {
                Ok((rrname, bw, rdata)) => {
                    stats.returned += 1;
                    let mut r = self.src.record(rrname, parts.rrtype, bw, rdata, agg);
                    r.negative = negative;
                    visit(r)
                }
                Err(_) => {
                    stats.corrupt += 1;
                    ControlFlow::Continue(())
                }
            }
        })
    }

    fn scan_exact_rrsets(
        &self,
        n: &Name,
        q: &RrsetQuery,
        bw_enc: Option<&[u8]>,
        stats: &mut ScanStats,
        visit: &mut Visitor<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut prefix = vec![P_RRSET];
        n.write_key(true, &mut prefix);
        if let TypeFilter::Only(t) = q.types {
            prefix.extend_from_slice(&t.0.to_be_bytes());
            if let Some(b) = bw_enc {
                prefix.extend_from_slice(b);
            }
        }
        self.scan_rrsets(&prefix, &prefix, q, bw_enc, stats, visit)
    }

    /// Visits names of the names key space under `tag` that extend `base` to the right.
    fn scan_names_starting(
        &self,
        tag: u8,
        base: &Name,
        stats: &mut ScanStats,
        mut f: impl FnMut(Name, &mut ScanStats) -> Result<ControlFlow<()>, StoreError>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut prefix = vec![P_NAMES, tag];
        base.write_key_prefix(false, &mut prefix);
        let mut resume = prefix.clone();
        resume.push(1);
        let mut names = Vec::new();
        // Names are collected in chunks so no iterator is open while nested scans run.
        loop {
            names.clear();
            let mut last = None;
            let _full = self.scan(&resume, &prefix, None, stats, |k, _, stats| {
                match Name::decode_key(&k[2..], false) {
                    Ok((n, _)) => names.push(n),
                    Err(_) => stats.corrupt += 1,
                }
                last = Some(k.to_vec());
                if names.len() >= 1024 {
                    ControlFlow::Break(())
                } else {
                    ControlFlow::Continue(())
                }
            })?;
            for n in names.drain(..) {
                if f(n, stats)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
            match last {
                Some(mut k) => {
                    k.push(0);
                    resume = k;
                }
                None => return Ok(ControlFlow::Continue(())),
            }
        }
    }

    /// Scans rdata-name entries under a key prefix (with key-space byte), folding bailiwicks.
    fn scan_rdata_names(
        &self,
        start: &[u8],
        prefix: &[u8],
        q: &RdataQuery,
        only_rdata: Option<&[u8]>,
        stats: &mut ScanStats,
        visit: &mut Visitor<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut emit = |group: &[u8], agg: Aggregate, stats: &mut ScanStats| -> ControlFlow<()> {
            if !q.fence.matches(&agg) {
                return ControlFlow::Continue(());
            }
            match decode_name_group(group) {
                Ok((rrname, rrtype, rdata)) => {
                    if only_rdata.is_some_and(|want| !matches!(&rdata, Rdata::Wire(w) if w == want)) {
                        return ControlFlow::Continue(());
                    }
                    stats.returned += 1;
                    visit(self.src.record(rrname, rrtype, None, vec![rdata], agg))
                }
                Err(_) => {
                    stats.corrupt += 1;
                    ControlFlow::Continue(())
                }
            }
        };
        let group = |k: &[u8]| match split_name_entry(k) {
            Ok((len, rrtype)) if q.types.matches(rrtype) => Group::Len(len),
            Ok(_) => Group::Skip,
            Err(_) => Group::Corrupt,
        };
        self.scan_folded(start, prefix, None, stats, group, &mut emit)
    }

    fn scan_exact_rdata_names(
        &self,
        t: &Name,
        q: &RdataQuery,
        stats: &mut ScanStats,
        visit: &mut Visitor<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut prefix = vec![P_NAME];
        t.write_key(true, &mut prefix);
        if let TypeFilter::Only(ty) = q.types {
            prefix.extend_from_slice(&ty.0.to_be_bytes());
        }
        self.scan_rdata_names(&prefix, &prefix, q, None, stats, visit)
    }

    fn lookup_ip(
        &self,
        q: &RdataQuery,
        range: &IpRange,
        stats: &mut ScanStats,
        visit: &mut Visitor<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let (fam, start, end): (u8, Vec<u8>, Vec<u8>) = match (range.start, range.end) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (4, a.octets().to_vec(), b.octets().to_vec()),
            (IpAddr::V6(a), IpAddr::V6(b)) => (6, a.octets().to_vec(), b.octets().to_vec()),
            _ => return Ok(ControlFlow::Continue(())),
        };
        let alen = start.len();
        let rrtype = if fam == 4 { RrType::A } else { RrType::AAAA };
        let mut skey = vec![P_IP, fam];
        skey.extend_from_slice(&start);
        let mut upper = vec![P_IP, fam];
        upper.extend_from_slice(&end);
        let upper = prefix_successor(&upper).unwrap_or_else(|| vec![P_IP, fam + 1]);
        let mut emit = |group: &[u8], agg: Aggregate, stats: &mut ScanStats| -> ControlFlow<()> {
            if !q.fence.matches(&agg) {
                return ControlFlow::Continue(());
            }
            let Some(ip) = group.get(1..1 + alen) else {
                stats.corrupt += 1;
                return ControlFlow::Continue(());
            };
            match Name::decode_key(&group[1 + alen..], true) {
                Ok((rrname, _)) => {
                    stats.returned += 1;
                    visit(self.src.record(rrname, rrtype, None, vec![Rdata::Wire(ip.to_vec())], agg))
                }
                Err(_) => {
                    stats.corrupt += 1;
                    ControlFlow::Continue(())
                }
            }
        };
        let group = |k: &[u8]| match k.get(1 + alen..).map(name_key_len) {
            Some(Ok(n)) => Group::Len(1 + alen + n),
            _ => Group::Corrupt,
        };
        self.scan_folded(&skey, &[P_IP, fam], Some(upper), stats, group, &mut emit)
    }

    fn lookup_raw(
        &self,
        q: &RdataQuery,
        bytes: &[u8],
        stats: &mut ScanStats,
        visit: &mut Visitor<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let allows = |t: RrType| match q.types {
            TypeFilter::Only(x) => x == t,
            TypeFilter::All => true,
            other => other.matches(t),
        };
        let ip = match bytes.len() {
            4 if allows(RrType::A) => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
            16 if allows(RrType::AAAA) => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
            _ => None,
        };
        if let Some(ip) = ip {
            if self.lookup_ip(q, &IpRange::single(ip), stats, visit)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        let wire = Rdata::Wire(bytes.to_vec());
        for t in name_indexed_types().filter(|&t| allows(t)) {
            if let Some(target) = wire.indexed_name(t) {
                let mut prefix = vec![P_NAME];
                target.write_key(true, &mut prefix);
                prefix.extend_from_slice(&t.0.to_be_bytes());
                let sub = RdataQuery { types: TypeFilter::Only(t), ..q.clone() };
                if self.scan_rdata_names(&prefix, &prefix, &sub, Some(bytes), stats, visit)?.is_break() {
                    return Ok(ControlFlow::Break(()));
                }
            }
        }
        let mut prefix = vec![P_RAW];
        wire.encode(&mut prefix);
        let elen = prefix.len() - 1;
        if let TypeFilter::Only(t) = q.types {
            prefix.extend_from_slice(&t.0.to_be_bytes());
        }
        let mut emit = |group: &[u8], agg: Aggregate, stats: &mut ScanStats| -> ControlFlow<()> {
            if !q.fence.matches(&agg) {
                return ControlFlow::Continue(());
            }
            let Some(t) = group.get(elen..elen + 2) else {
                stats.corrupt += 1;
                return ControlFlow::Continue(());
            };
            let rrtype = RrType(u16::from_be_bytes([t[0], t[1]]));
            match Name::decode_key(&group[elen + 2..], true) {
                Ok((rrname, _)) => {
                    stats.returned += 1;
                    visit(self.src.record(rrname, rrtype, None, vec![Rdata::Wire(bytes.to_vec())], agg))
                }
                Err(_) => {
                    stats.corrupt += 1;
                    ControlFlow::Continue(())
                }
            }
        };
        let group = |k: &[u8]| {
            let Some(t) = k.get(elen..elen + 2) else { return Group::Corrupt };
            if !allows(RrType(u16::from_be_bytes([t[0], t[1]]))) {
                return Group::Skip;
            }
            match k.get(elen + 2..).map(name_key_len) {
                Some(Ok(n)) => Group::Len(elen + 2 + n),
                _ => Group::Corrupt,
            }
        };
        self.scan_folded(&prefix, &prefix, None, stats, group, &mut emit)
    }

    /// Every rdata record: addresses, rdata names, then raw rdata (wire and text).
    fn lookup_all_rdata(
        &self,
        q: &RdataQuery,
        stats: &mut ScanStats,
        visit: &mut Visitor<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        for spec in
            [IpRange::cidr(IpAddr::from([0u8; 4]), 0), IpRange::cidr(IpAddr::from([0u8; 16]), 0)].into_iter().flatten()
        {
            let want = if spec.start.is_ipv4() { RrType::A } else { RrType::AAAA };
            if q.types.matches(want) && self.lookup_ip(q, &spec, stats, visit)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        let prefix = [P_NAME];
        if self.scan_rdata_names(&prefix, &prefix, q, None, stats, visit)?.is_break() {
            return Ok(ControlFlow::Break(()));
        }
        let mut emit = |group: &[u8], agg: Aggregate, stats: &mut ScanStats| -> ControlFlow<()> {
            if !q.fence.matches(&agg) {
                return ControlFlow::Continue(());
            }
            let decoded = (|| -> Result<(Rdata, RrType, Name), KeyError> {
                let (rdata, elen) = Rdata::decode(group)?;
                let t = group.get(elen..elen + 2).ok_or(KeyError::Layout("missing rrtype"))?;
                let (rrname, _) = Name::decode_key(&group[elen + 2..], true)?;
                Ok((rdata, RrType(u16::from_be_bytes([t[0], t[1]])), rrname))
            })();
            match decoded {
                Ok((rdata, rrtype, rrname)) => {
                    stats.returned += 1;
                    visit(self.src.record(rrname, rrtype, None, vec![rdata], agg))
                }
                Err(_) => {
                    stats.corrupt += 1;
                    ControlFlow::Continue(())
                }
            }
        };
        let group = |k: &[u8]| {
            let parsed = (|| -> Result<(usize, RrType), KeyError> {
                let elen = rdata_len(k)?;
                let t = k.get(elen..elen + 2).ok_or(KeyError::Layout("missing rrtype"))?;
                Ok((elen + 2 + name_key_len(&k[elen + 2..])?, RrType(u16::from_be_bytes([t[0], t[1]]))))
            })();
            match parsed {
                Ok((len, rrtype)) if q.types.matches(rrtype) => Group::Len(len),
                Ok(_) => Group::Skip,
                Err(_) => Group::Corrupt,
            }
        };
        self.scan_folded(&[P_RAW], &[P_RAW], None, stats, group, &mut emit)
    }

    /// RRset lookup (the `Store` trait method).
    pub(super) fn lookup_rrset(&self, q: &RrsetQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        let mut stats = ScanStats::default();
        let bw_enc = q.bailiwick.as_ref().map(|b| {
            let mut v = Vec::new();
            dnsledger_model::key::write_bailiwick(Some(b), &mut v);
            v
        });
        let bw = bw_enc.as_deref();
        let _stopped = match &q.name {
            NameMatch::Exact(n) => self.scan_exact_rrsets(n, q, bw, &mut stats, visit)?,
            NameMatch::Below(z) => {
                let mut prefix = vec![P_RRSET];
                z.write_key_prefix(true, &mut prefix);
                let mut start = prefix.clone();
                start.push(1);
                self.scan_rrsets(&start, &prefix, q, bw, &mut stats, visit)?
            }
            NameMatch::Starting(base) => self.scan_names_starting(NAMES_OWNER, base, &mut stats, |name, stats| {
                self.scan_exact_rrsets(&name, q, bw, stats, visit)
            })?,
        };
        Ok(stats)
    }

    /// Rdata lookup (the `Store` trait method).
    pub(super) fn lookup_rdata(&self, q: &RdataQuery, visit: &mut Visitor<'_>) -> Result<ScanStats, StoreError> {
        let mut stats = ScanStats::default();
        let _stopped = match &q.target {
            RdataTarget::Ip(range) => self.lookup_ip(q, range, &mut stats, visit)?,
            RdataTarget::Raw(bytes) => self.lookup_raw(q, bytes, &mut stats, visit)?,
            RdataTarget::Any => self.lookup_all_rdata(q, &mut stats, visit)?,
            RdataTarget::Name(NameMatch::Exact(t)) => self.scan_exact_rdata_names(t, q, &mut stats, visit)?,
            RdataTarget::Name(NameMatch::Below(z)) => {
                let mut prefix = vec![P_NAME];
                z.write_key_prefix(true, &mut prefix);
                let mut start = prefix.clone();
                start.push(1);
                self.scan_rdata_names(&start, &prefix, q, None, &mut stats, visit)?
            }
            RdataTarget::Name(NameMatch::Starting(base)) => {
                self.scan_names_starting(NAMES_TARGET, base, &mut stats, |name, stats| {
                    self.scan_exact_rdata_names(&name, q, stats, visit)
                })?
            }
        };
        Ok(stats)
    }
}

/// Splits an rdata-name key (without key-space byte): (length without bailiwick, rrtype).
fn split_name_entry(k: &[u8]) -> Result<(usize, RrType), KeyError> {
    let tl = name_key_len(k)?;
    let t = k.get(tl..tl + 2).ok_or(KeyError::Layout("missing rrtype"))?;
    let rrtype = RrType(u16::from_be_bytes([t[0], t[1]]));
    let mut pos = tl + 2;
    pos += name_key_len(k.get(pos..).ok_or(KeyError::Layout("missing rrname"))?)?;
    match k.get(pos) {
        Some(&RDATA_BARE) => pos += 1,
        Some(&RDATA_FULL) => pos += 1 + rdata_len(&k[pos + 1..])?,
        _ => return Err(KeyError::Layout("bad rdata kind")),
    }
    bailiwick_len(&k[pos..])?;
    Ok((pos, rrtype))
}

/// Decodes an rdata-name group (key without key-space byte and bailiwick).
fn decode_name_group(group: &[u8]) -> Result<(Name, RrType, Rdata), KeyError> {
    let (target, tl) = Name::decode_key(group, true)?;
    let t = group.get(tl..tl + 2).ok_or(KeyError::Layout("missing rrtype"))?;
    let rrtype = RrType(u16::from_be_bytes([t[0], t[1]]));
    let rest = &group[tl + 2..];
    let (rrname, used) = Name::decode_key(rest, true)?;
    let rdata = match rest.get(used) {
        Some(&RDATA_BARE) => Rdata::name(&target),
        Some(&RDATA_FULL) => Rdata::decode(&rest[used + 1..])?.0,
        _ => return Err(KeyError::Layout("bad rdata kind")),
    };
    Ok((rrname, rrtype, rdata))
}
