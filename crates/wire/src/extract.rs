//! The [`Extractor`]: one response message in, its RRsets (and negative answer) out.

use dnsledger_model::rdata::canonicalize;
use dnsledger_model::{Name, Negative, Observation, Rdata, RecordKey, RrType};

use crate::wire::{
    decompress_rdata, has_compressible_names, is_simple_layout, is_subdomain, parent, peek_header, read_name,
    suffix_labels, Buf, Ctx, Header, NameCache, Out, HEADER_LEN,
};
use crate::{ExtractOptions, Extracted, MessageMeta, Skip, WireError, ZoneSource};

/// Longest CNAME/DNAME chain followed from the question name.
const MAX_CHAIN: usize = 16;
/// Most spare rdata buffers kept for reuse.
const MAX_SPARE: usize = 64;

const ANSWER: u8 = 0;
const AUTHORITY: u8 = 1;
const ADDITIONAL: u8 = 2;

/// A range of one of the extractor's arenas.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Span {
    start: u32,
    len: u32,
}

impl Span {
    fn of(start: usize, end: usize) -> Span {
        Span { start: start as u32, len: (end - start) as u32 }
    }
    fn get(self, buf: &[u8]) -> &[u8] {
        let s = self.start as usize;
        buf.get(s..s + self.len as usize).unwrap_or_default()
    }
    /// True if both spans of `buf` hold the same bytes (without comparing for equal spans).
    fn same(self, other: Span, buf: &[u8]) -> bool {
        self == other || (self.len == other.len && self.get(buf) == other.get(buf))
    }
}

/// One parsed resource record (owner in the name arena, canonical rdata in the rdata arena).
#[derive(Debug, Clone, Copy)]
struct Rr {
    section: u8,
    rtype: RrType,
    owner: Span,
    ttl: u32,
    rdata: Span,
}

/// One RRset: a run of `order` holding the records of one (section, owner, type).
#[derive(Debug, Clone, Copy)]
struct Set {
    section: u8,
    rtype: RrType,
    owner: Span,
    first: u32,
    end: u32,
    ttl: u32,
}

/// Where [`Extractor::run`] hands each RRset: filled into an observation, or as a view.
enum Emit<'e> {
    Observation(&'e mut dyn FnMut(&mut Observation)),
    Rrset(&'e mut dyn FnMut(&Rrset<'_>)),
}

/// One RRset (or the negative answer) of a response, viewed in the extractor's buffers, as
/// [`Extractor::extract_rrsets`] hands it out. It stands for the [`Observation`]
/// [`Extractor::extract`] would emit (whose count is 1 and whose times are the message's).
#[derive(Debug, Clone, Copy)]
pub struct Rrset<'a> {
    /// Owner name, normalised wire format (lower-cased, uncompressed).
    pub owner: &'a [u8],
    /// Record type (the question type for a negative answer).
    pub rrtype: RrType,
    /// The smallest TTL of the set; for a negative answer the SOA's negative TTL, if any.
    pub ttl: Option<u32>,
    /// Set only for the negative answer.
    pub negative: Option<Negative>,
    /// The zone the responding server answers for (see the crate docs).
    pub bailiwick: Option<&'a Name>,
    rdata: &'a [u8],
    items: &'a [Span],
}

impl<'a> Rrset<'a> {
    /// The canonical wire rdata items, sorted and de-duplicated (none for a negative answer).
    pub fn rdata(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let rdata = self.rdata;
        self.items.iter().map(move |s| s.get(rdata))
    }

    /// Appends the record key of the observation this RRset stands for (what
    /// `Observation::write_key` appends for it).
    pub fn write_key(&self, out: &mut Vec<u8>) {
        match self.negative {
            Some(n) => RecordKey::write_negative_wire(self.owner, self.rrtype, self.bailiwick, n, out),
            None => RecordKey::write_wire(self.owner, self.rrtype, self.bailiwick, self.rdata(), out),
        }
    }
}

/// Puts in `items` the rdata of the records of `set`, sorted by their octets and
/// de-duplicated: the order `Observation::normalize_rdata` gives their [`Rdata::Wire`] values.
fn sorted_items(items: &mut Vec<Span>, set: &Set, (order, rrs, rdata): (&[u32], &[Rr], &[u8])) {
    items.clear();
    for &i in order.get(set.first as usize..set.end as usize).unwrap_or_default() {
        if let Some(rr) = rrs.get(i as usize) {
            items.push(rr.rdata);
        }
    }
    if items.len() > 1 {
        items.sort_unstable_by(|a, b| a.get(rdata).cmp(b.get(rdata)));
        items.dedup_by(|a, b| a.get(rdata) == b.get(rdata));
    }
}

/// Turns DNS response messages into observations; holds buffers reused from one message to
/// the next, so one extractor per thread (it is cheap to create, but reuse it).
pub struct Extractor {
    opts: ExtractOptions,
    /// Name arena: the question name, owner names, synthesised chain names, the zone.
    names: Vec<u8>,
    /// Canonical rdata of every record kept for consideration.
    rdata: Vec<u8>,
    /// Decompressed rdata before validation.
    scratch: Vec<u8>,
    rrs: Vec<Rr>,
    order: Vec<u32>,
    sets: Vec<Set>,
    chain: Vec<Span>,
    dname_owners: Vec<Span>,
    /// Names already decoded in the current message, by offset.
    cache: NameCache,
    /// Rdata buffers taken back from the observation, reused for the next RRset.
    spare: Vec<Vec<u8>>,
    /// The rdata items of the RRset handed out as an [`Rrset`], sorted.
    items: Vec<Span>,
    obs: Observation,
    zone: Option<Name>,
    /// Upper eight bits of the RCODE from the OPT record of the message being read.
    ext_rcode: u8,
}

impl Extractor {
    /// An extractor with the given options.
    pub fn new(opts: ExtractOptions) -> Extractor {
        Extractor {
            opts,
            names: Vec::with_capacity(1024),
            rdata: Vec::with_capacity(2048),
            scratch: Vec::with_capacity(512),
            rrs: Vec::with_capacity(32),
            order: Vec::with_capacity(32),
            sets: Vec::with_capacity(32),
            chain: Vec::with_capacity(MAX_CHAIN + 1),
            dname_owners: Vec::new(),
            spare: Vec::new(),
            items: Vec::with_capacity(32),
            cache: NameCache::new(),
            obs: Observation::default(),
            zone: None,
            ext_rcode: 0,
        }
    }

    /// The options this extractor was created with.
    pub fn options(&self) -> &ExtractOptions {
        &self.opts
    }

    /// The zone (bailiwick) of the last message extracted; `None` when unknown or skipped.
    pub fn zone(&self) -> Option<&Name> {
        self.zone.as_ref()
    }

    /// Extracts the RRsets this response contributes; calls `emit` once per RRset and once for
    /// a negative answer.
    ///
    /// The [`Observation`] passed to `emit` is reused between calls (clone what you keep): rdata
    /// de-duplicated and sorted, `count` 1, `time_first` = `time_last` = `meta.time`, `ttl` the
    /// smallest TTL of the set, `bailiwick` the zone (see the crate docs), `sensor` `None`,
    /// `negative` set only for the negative answer. Nothing is emitted unless the whole message
    /// parses and validates. Returns `Ok(Err(skip))` for well-formed messages that carry
    /// nothing to store.
    pub fn extract(
        &mut self,
        msg: &[u8],
        meta: &MessageMeta<'_>,
        emit: &mut dyn FnMut(&mut Observation),
    ) -> Result<Result<Extracted, Skip>, WireError> {
        self.run(msg, meta, &mut Emit::Observation(emit))
    }

    /// [`Extractor::extract`], handing out each RRset (and the negative answer) as an
    /// [`Rrset`] view of the extractor's buffers instead of filling an [`Observation`]: the
    /// same RRsets and counts, without copying names and rdata into owned values. A caller
    /// that only needs record keys ([`Rrset::write_key`]) saves that work; the sensor does.
    pub fn extract_rrsets(
        &mut self,
        msg: &[u8],
        meta: &MessageMeta<'_>,
        emit: &mut dyn FnMut(&Rrset<'_>),
    ) -> Result<Result<Extracted, Skip>, WireError> {
        self.run(msg, meta, &mut Emit::Rrset(emit))
    }

    fn run(
        &mut self,
        msg: &[u8],
        meta: &MessageMeta<'_>,
        emit: &mut Emit<'_>,
    ) -> Result<Result<Extracted, Skip>, WireError> {
        let prev_zone = self.zone.take();
        let h = match response_header(msg)? {
            Ok(h) => h,
            Err(skip) => return Ok(Err(skip)),
        };
        if h.tc {
            return Ok(Err(Skip::Truncated));
        }
        if h.rcode != 0 && h.rcode != 3 {
            return Ok(Err(Skip::Rcode(u16::from(h.rcode))));
        }
        match h.qdcount {
            0 => return Ok(Err(Skip::NoQuestion)),
            1 => {}
            _ => return Ok(Err(Skip::MultipleQuestions)),
        }
        self.clear();

        // Question.
        let mut out = Out { buf: &mut self.names, id: Buf::Names, names: &[], rdata: &[] };
        let qend = read_name(msg, HEADER_LEN, msg.len(), &mut out, &mut self.cache, Ctx::Owner)?;
        let qname = Span::of(0, self.names.len());
        let Some(&[t0, t1, c0, c1]) = msg.get(qend..qend + 4) else {
            return Err(WireError::new("truncated", format_args!("question ends at {}", msg.len())));
        };
        let qtype = RrType(u16::from_be_bytes([t0, t1]));
        let qclass = u16::from_be_bytes([c0, c1]);
        if qclass != 1 {
            return Ok(Err(Skip::Class(qclass)));
        }
        if qtype == RrType::AXFR || qtype == RrType::IXFR {
            return Ok(Err(Skip::ZoneTransfer));
        }

        self.ext_rcode = 0;
        self.parse_records(msg, qend + 4, [h.ancount, h.nscount, h.arcount], CLASS_ALL)?;
        if self.ext_rcode != 0 {
            // RFC 6891: the OPT TTL's high byte extends the header RCODE (BADVERS = 16, …);
            // the header's 0 or 3 then means something else entirely.
            return Ok(Err(Skip::Rcode((u16::from(self.ext_rcode) << 4) | u16::from(h.rcode))));
        }
        self.group();
        self.walk_chain(qname, qtype);

        // The zone.
        let last = self.chain.last().copied().unwrap_or(qname);
        let has_answer = self.rrs.iter().any(|r| r.section == ANSWER);
        let mut soa_any = false;
        for s in &self.sets {
            soa_any |= s.section == AUTHORITY && s.rtype == RrType::SOA;
        }
        let (zone, source) = if let Some(hint) = meta.zone_hint {
            let start = self.names.len();
            self.names.extend_from_slice(hint.as_wire());
            (Some(Span::of(start, self.names.len())), ZoneSource::Hint)
        } else if h.aa {
            if let Some(s) = self.authority_soa(last).or_else(|| self.authority_soa(qname)) {
                (Some(s.owner), ZoneSource::Soa)
            } else if let Some(s) = self.authority_ns(qname) {
                (Some(s.owner), ZoneSource::Ns)
            } else {
                // DS lives on the parent side of a zone cut: start from the parent's name.
                let base = match qname.get(&self.names).first() {
                    Some(&l) if qtype == RrType::DS && l != 0 => {
                        Span { start: qname.start + 1 + u32::from(l), len: qname.len - 1 - u32::from(l) }
                    }
                    _ => qname,
                };
                (Some(self.registrable(base)), ZoneSource::Registrable)
            }
        } else if !has_answer && !soa_any {
            match self.authority_ns(qname).and_then(|s| parent(s.owner.get(&self.names)).map(|p| (s, p.len()))) {
                Some((s, plen)) => {
                    let end = (s.owner.start + s.owner.len) as usize;
                    (Some(Span::of(end - plen, end)), ZoneSource::Referral)
                }
                None => (None, ZoneSource::Unknown),
            }
        } else {
            (None, ZoneSource::Unknown)
        };
        if let Some(z) = zone {
            let zw = z.get(&self.names);
            self.zone = match prev_zone {
                Some(p) if p.as_wire() == zw => Some(p),
                _ => Some(Name::from_wire(zw).map_err(|e| WireError::new("bad_name", format_args!("zone: {e}")))?),
            };
        }

        let mut out = Extracted {
            rrsets: 0,
            negative: None,
            dropped_out_of_bailiwick: 0,
            dropped_off_chain: 0,
            dropped_unvouched: 0,
            zone: source,
        };
        let zone_wire = zone.map(|z| z.get(&self.names));

        // Positive RRsets.
        for set in &self.sets {
            let owner = set.owner.get(&self.names);
            match set.section {
                ANSWER => {
                    let on_chain = self.chain.iter().any(|c| c.same(set.owner, &self.names))
                        || (matches!(set.rtype, RrType::DNAME | RrType::RRSIG)
                            && self.dname_owners.iter().any(|d| d.same(set.owner, &self.names)));
                    if !on_chain {
                        out.dropped_off_chain += 1;
                        continue;
                    }
                }
                AUTHORITY | ADDITIONAL => {
                    let wanted = if set.section == AUTHORITY { self.opts.authority } else { self.opts.additional };
                    if !wanted {
                        continue;
                    }
                    if zone.is_none() {
                        out.dropped_unvouched += 1;
                        continue;
                    }
                }
                _ => continue,
            }
            if let Some(z) = zone_wire {
                if !is_subdomain(owner, z) {
                    out.dropped_out_of_bailiwick += 1;
                    continue;
                }
            }
            if !self.opts.types.matches(set.rtype) {
                continue;
            }
            match emit {
                Emit::Observation(emit) => {
                    let obs = &mut self.obs;
                    fill_rrset(obs, &mut self.spare, set, owner, (&self.order, &self.rrs, &self.rdata))?;
                    finish(obs, &self.zone, meta);
                    emit(obs);
                }
                Emit::Rrset(emit) => {
                    sorted_items(&mut self.items, set, (&self.order, &self.rrs, &self.rdata));
                    emit(&Rrset {
                        owner,
                        rrtype: set.rtype,
                        ttl: Some(set.ttl),
                        negative: None,
                        bailiwick: self.zone.as_ref(),
                        rdata: &self.rdata,
                        items: &self.items,
                    });
                }
            }
            out.rrsets += 1;
        }

        // Negative answer.
        // Negatives only for data types (and ANY for NXDOMAIN), not for meta qtypes.
        let data_qtype = qtype.0 != 0 && qtype != RrType::OPT && !(128..=254).contains(&qtype.0);
        if self.opts.negative && data_qtype && self.opts.types.matches(qtype) {
            let last_wire = last.get(&self.names);
            let kind = if h.rcode == 3 {
                Some(Negative::NxDomain)
            } else if qtype != RrType::ANY && (h.aa || soa_any) && !self.has_data(last, qtype) {
                // A referral has AA clear and no SOA, so it never gets here.
                Some(Negative::NoData)
            } else {
                None
            };
            if let Some(kind) = kind {
                if zone_wire.is_some_and(|z| !is_subdomain(last_wire, z)) {
                    out.dropped_out_of_bailiwick += 1;
                } else {
                    let ttl = self.authority_soa(last).and_then(|s| {
                        let i = *self.order.get(s.first as usize)? as usize;
                        let rd = self.rrs.get(i)?.rdata.get(&self.rdata);
                        let min = rd.get(rd.len().checked_sub(4)?..)?;
                        Some(u32::from_be_bytes(min.try_into().ok()?).min(s.ttl))
                    });
                    match emit {
                        Emit::Observation(emit) => {
                            let obs = &mut self.obs;
                            recycle(obs, &mut self.spare);
                            set_name(&mut obs.rrname, last_wire)?;
                            obs.rrtype = qtype;
                            obs.ttl = ttl;
                            obs.negative = Some(kind);
                            finish(obs, &self.zone, meta);
                            emit(obs);
                        }
                        Emit::Rrset(emit) => emit(&Rrset {
                            owner: last_wire,
                            rrtype: qtype,
                            ttl,
                            negative: Some(kind),
                            bailiwick: self.zone.as_ref(),
                            rdata: &self.rdata,
                            items: &[],
                        }),
                    }
                    out.negative = Some(kind);
                }
            }
        }
        Ok(Ok(out))
    }

    /// Extracts the RRsets of a multicast DNS response (RFC 6762), which has no question to
    /// start from: every record speaks for its own name.
    ///
    /// Rules (see the crate docs, "mDNS responses"): QR=1, opcode 0 and RCODE 0 (others are
    /// skipped, as RFC 6762 §18.3 and §18.11 have receivers ignore them); TC is ignored
    /// (§18.5); questions, if any, are read past and ignored (§6); the cache-flush bit is
    /// masked off every record's class (§10.2); records of class IN are grouped into RRsets
    /// per section, and every RRset of the answer, authority (when
    /// [`ExtractOptions::authority`]) and additional (when [`ExtractOptions::additional`])
    /// sections is emitted with its own owner name as its bailiwick. No CNAME chain is
    /// walked and no negative observation is made (mDNS says "no such record" with NSEC
    /// records, which are emitted as records). [`Extractor::zone`] is `None` afterwards.
    pub fn extract_mdns(
        &mut self,
        msg: &[u8],
        meta: &MessageMeta<'_>,
        emit: &mut dyn FnMut(&mut Observation),
    ) -> Result<Result<Extracted, Skip>, WireError> {
        self.zone = None;
        let h = match response_header(msg)? {
            Ok(h) => h,
            Err(skip) => return Ok(Err(skip)),
        };
        if h.rcode != 0 {
            return Ok(Err(Skip::Rcode(u16::from(h.rcode))));
        }
        self.clear();

        // Questions (a response to a legacy unicast query repeats it): read past, ignored.
        let mut pos = HEADER_LEN;
        for _ in 0..h.qdcount {
            let mut out = Out { buf: &mut self.names, id: Buf::Names, names: &[], rdata: &[] };
            pos = read_name(msg, pos, msg.len(), &mut out, &mut self.cache, Ctx::Owner)? + 4;
            if pos > msg.len() {
                return Err(WireError::new("truncated", format_args!("question ends at {}", msg.len())));
            }
        }
        self.ext_rcode = 0;
        self.parse_records(msg, pos, [h.ancount, h.nscount, h.arcount], CLASS_MDNS)?;
        if self.ext_rcode != 0 {
            return Ok(Err(Skip::Rcode(u16::from(self.ext_rcode) << 4)));
        }
        self.group();

        let mut out = Extracted {
            rrsets: 0,
            negative: None,
            dropped_out_of_bailiwick: 0,
            dropped_off_chain: 0,
            dropped_unvouched: 0,
            zone: ZoneSource::Owner,
        };
        for set in &self.sets {
            let wanted = match set.section {
                ANSWER => true,
                AUTHORITY => self.opts.authority,
                _ => self.opts.additional,
            };
            if !wanted || !self.opts.types.matches(set.rtype) {
                continue;
            }
            let owner = set.owner.get(&self.names);
            let obs = &mut self.obs;
            fill_rrset(obs, &mut self.spare, set, owner, (&self.order, &self.rrs, &self.rdata))?;
            if obs.bailiwick.as_ref() != Some(&obs.rrname) {
                obs.bailiwick = Some(obs.rrname.clone());
            }
            stamp(obs, meta);
            emit(obs);
            out.rrsets += 1;
        }
        Ok(Ok(out))
    }

    /// Empties the per-message arenas and the name cache for the next message.
    fn clear(&mut self) {
        self.names.clear();
        self.rdata.clear();
        self.rrs.clear();
        self.order.clear();
        self.sets.clear();
        self.chain.clear();
        self.dname_owners.clear();
        self.cache.next_message();
    }

    /// Parses the answer, authority and additional sections into `rrs`, validating every
    /// record that is not ignored.
    /// `class_mask` is applied to every record's class before it is compared with IN.
    fn parse_records(
        &mut self,
        msg: &[u8],
        mut pos: usize,
        counts: [u16; 3],
        class_mask: u16,
    ) -> Result<(), WireError> {
        for (section, count) in (0u8..).zip(counts) {
            for _ in 0..count {
                let mut owner_start = self.names.len();
                let mut owner_end = 0;
                // An owner that is only a pointer to a name decoded before shares its bytes.
                if let (Some(&hi), Some(&lo)) = (msg.get(pos), msg.get(pos + 1)) {
                    let target = (usize::from(hi & 0x3f) << 8) | usize::from(lo);
                    if hi & 0xc0 == 0xc0 && (HEADER_LEN..pos).contains(&target) {
                        if let Some((start, len)) = self.cache.in_names(target) {
                            (owner_start, owner_end) = (start, start + len);
                            pos += 2;
                        }
                    }
                }
                if owner_end == 0 {
                    let mut out = Out { buf: &mut self.names, id: Buf::Names, names: &[], rdata: &self.rdata };
                    pos = read_name(msg, pos, msg.len(), &mut out, &mut self.cache, Ctx::Owner)?;
                    owner_end = self.names.len();
                }
                let Some(&[t0, t1, c0, c1, l0, l1, l2, l3, r0, r1]) = msg.get(pos..pos + 10) else {
                    return Err(WireError::new(
                        "truncated",
                        format_args!("record header at {pos} past the end ({})", msg.len()),
                    ));
                };
                let rtype = RrType(u16::from_be_bytes([t0, t1]));
                let class = u16::from_be_bytes([c0, c1]) & class_mask;
                let ttl = u32::from_be_bytes([l0, l1, l2, l3]);
                let rdlen = usize::from(u16::from_be_bytes([r0, r1]));
                let rd_start = pos + 10;
                let rd_end = rd_start + rdlen;
                if rd_end > msg.len() {
                    return Err(WireError::new(
                        "rdlength_overrun",
                        format_args!("rdata at {rd_start} of {rdlen} octets past the end ({})", msg.len()),
                    ));
                }
                pos = rd_end;
                if rtype == RrType::OPT && section == 2 {
                    self.ext_rcode = (ttl >> 24) as u8;
                }
                if class != 1 || rtype.0 == 0 || (128..=255).contains(&rtype.0) {
                    // Ignored. The owner stays in the arena: the name cache may refer to it.
                    continue;
                }
                let owner = Span::of(owner_start, owner_end);
                let r_start = self.rdata.len();
                let raw = msg.get(rd_start..rd_end).unwrap_or_default();
                let res = if (rtype == RrType::A && rdlen == 4) || (rtype == RrType::AAAA && rdlen == 16) {
                    // Addresses are canonical as they are (what `canonicalize` checks: the length).
                    self.rdata.extend_from_slice(raw);
                    Ok(())
                } else if is_simple_layout(rtype) {
                    // Decompressed straight into the arena; canonical when complete.
                    let mut out = Out { buf: &mut self.rdata, id: Buf::Rdata, names: &self.names, rdata: &[] };
                    if decompress_rdata(msg, rtype, rd_start, rd_end, &mut out, &mut self.cache)? {
                        Ok(())
                    } else {
                        // Let the model report what is wrong.
                        self.scratch.clear();
                        self.scratch.extend_from_slice(self.rdata.get(r_start..).unwrap_or_default());
                        self.rdata.truncate(r_start);
                        canonicalize(rtype, &self.scratch, &mut self.rdata)
                    }
                } else if has_compressible_names(rtype) {
                    self.scratch.clear();
                    let mut out =
                        Out { buf: &mut self.scratch, id: Buf::Scratch, names: &self.names, rdata: &self.rdata };
                    decompress_rdata(msg, rtype, rd_start, rd_end, &mut out, &mut self.cache)?;
                    canonicalize(rtype, &self.scratch, &mut self.rdata)
                } else {
                    canonicalize(rtype, raw, &mut self.rdata)
                };
                if let Err(e) = res {
                    return Err(WireError::new("bad_rdata", format_args!("record at {owner_start}: {e}")));
                }
                let ttl = if ttl > 0x7fff_ffff { 0 } else { ttl };
                self.rrs.push(Rr { section, rtype, owner, ttl, rdata: Span::of(r_start, self.rdata.len()) });
            }
        }
        Ok(())
    }

    /// Groups `rrs` into `sets` by (section, type, owner).
    fn group(&mut self) {
        let (rrs, names) = (&self.rrs, &self.names);
        self.order.extend(0..rrs.len() as u32);
        let cmp = |a: &Rr, b: &Rr| {
            a.section.cmp(&b.section).then(a.rtype.cmp(&b.rtype)).then_with(|| {
                if a.owner == b.owner {
                    std::cmp::Ordering::Equal
                } else {
                    a.owner.get(names).cmp(b.owner.get(names))
                }
            })
        };
        self.order.sort_unstable_by(|&a, &b| match (rrs.get(a as usize), rrs.get(b as usize)) {
            (Some(x), Some(y)) => cmp(x, y).then(a.cmp(&b)),
            _ => a.cmp(&b),
        });
        let mut i = 0;
        while let Some(rr) = self.order.get(i).and_then(|&x| rrs.get(x as usize)) {
            let mut end = i + 1;
            let mut ttl = rr.ttl;
            while let Some(next) = self.order.get(end).and_then(|&x| rrs.get(x as usize)) {
                if cmp(rr, next).is_ne() {
                    break;
                }
                ttl = ttl.min(next.ttl);
                end += 1;
            }
            self.sets.push(Set {
                section: rr.section,
                rtype: rr.rtype,
                owner: rr.owner,
                first: i as u32,
                end: end as u32,
                ttl,
            });
            i = end;
        }
    }

    /// Follows CNAME/DNAME records of the answer section from the question name into `chain`.
    fn walk_chain(&mut self, qname: Span, qtype: RrType) {
        self.chain.push(qname);
        if qtype == RrType::CNAME || qtype == RrType::ANY {
            return;
        }
        let has_dname = self.sets.iter().any(|s| s.section == ANSWER && s.rtype == RrType::DNAME);
        for _ in 0..MAX_CHAIN {
            let Some(cur) = self.chain.last().copied() else { return };
            let cur_wire = cur.get(&self.names);
            let cname = self.answer_set(cur, RrType::CNAME);
            // The deepest DNAME at a proper ancestor of the current name.
            let mut dname: Option<Set> = None;
            for s in self.sets.iter().filter(|_| has_dname) {
                let o = s.owner.get(&self.names);
                if s.section == ANSWER
                    && s.rtype == RrType::DNAME
                    && o.len() < cur_wire.len()
                    && is_subdomain(cur_wire, o)
                    && dname.is_none_or(|b| b.owner.len < s.owner.len)
                {
                    dname = Some(*s);
                }
            }
            let start = self.names.len();
            // The target the DNAME synthesises (RFC 6672), written at `start`.
            let mut synth: Option<Span> = None;
            if let Some(set) = dname {
                let prefix_len = cur.len as usize - set.owner.len as usize;
                if let Some(target) = self.single_rdata(&set) {
                    if prefix_len + target.len as usize <= 255 {
                        let from = cur.start as usize;
                        self.names.extend_from_within(from..from + prefix_len);
                        self.names.extend_from_slice(target.get(&self.rdata));
                        synth = Some(Span::of(start, self.names.len()));
                    }
                }
            }
            let next = if let Some(set) = cname {
                let Some(target) = self.single_rdata(&set) else { return };
                if let (Some(d), Some(sy)) = (dname, synth) {
                    if sy.get(&self.names) == target.get(&self.rdata) {
                        self.dname_owners.push(d.owner);
                    }
                }
                self.names.truncate(start);
                self.names.extend_from_slice(target.get(&self.rdata));
                Span::of(start, self.names.len())
            } else if let (Some(d), Some(sy)) = (dname, synth) {
                self.dname_owners.push(d.owner);
                sy
            } else {
                return;
            };
            if self.chain.iter().any(|c| c.same(next, &self.names)) {
                self.names.truncate(start);
                return;
            }
            self.chain.push(next);
        }
    }

    /// The answer RRset of `rtype` at `owner`.
    fn answer_set(&self, owner: Span, rtype: RrType) -> Option<Set> {
        self.sets.iter().find(|s| s.section == ANSWER && s.rtype == rtype && s.owner.same(owner, &self.names)).copied()
    }

    /// True if the answer section holds an RRset of `rtype` at `owner`.
    fn has_data(&self, owner: Span, rtype: RrType) -> bool {
        self.answer_set(owner, rtype).is_some()
    }

    /// The rdata (in the rdata arena) of a set whose records all carry the same rdata.
    fn single_rdata(&self, set: &Set) -> Option<Span> {
        let idx = self.order.get(set.first as usize..set.end as usize)?;
        let mut it = idx.iter().filter_map(|&i| self.rrs.get(i as usize)).map(|r| r.rdata);
        let first = it.next()?;
        it.all(|r| r.get(&self.rdata) == first.get(&self.rdata)).then_some(first)
    }

    /// The authority-section SOA RRset whose owner is `name` or an ancestor (the deepest).
    fn authority_soa(&self, name: Span) -> Option<Set> {
        self.deepest_authority(name, RrType::SOA)
    }

    /// The authority-section NS RRset whose owner is `name` or an ancestor (the deepest).
    fn authority_ns(&self, name: Span) -> Option<Set> {
        self.deepest_authority(name, RrType::NS)
    }

    fn deepest_authority(&self, name: Span, rtype: RrType) -> Option<Set> {
        let n = name.get(&self.names);
        let mut best: Option<Set> = None;
        for s in &self.sets {
            if s.section == AUTHORITY
                && s.rtype == rtype
                && is_subdomain(n, s.owner.get(&self.names))
                && best.is_none_or(|b| b.owner.len < s.owner.len)
            {
                best = Some(*s);
            }
        }
        best
    }

    /// Rule 5: the registrable domain of `qname` (a suffix of it), or `qname` itself.
    fn registrable(&self, qname: Span) -> Span {
        let wire = qname.get(&self.names);
        let mut text = [0u8; 256];
        let mut n = 0;
        let mut pos = 0;
        while let Some(&len) = wire.get(pos) {
            if len == 0 {
                break;
            }
            let Some(label) = wire.get(pos + 1..pos + 1 + len as usize) else { return qname };
            if label.contains(&b'.') {
                return qname;
            }
            if n > 0 {
                let Some(dot) = text.get_mut(n) else { return qname };
                *dot = b'.';
                n += 1;
            }
            let Some(dst) = text.get_mut(n..n + label.len()) else { return qname };
            dst.copy_from_slice(label);
            n += label.len();
            pos += 1 + len as usize;
        }
        let Some(domain) = text.get(..n).and_then(psl::domain) else { return qname };
        let labels = domain.as_bytes().iter().filter(|&&b| b == b'.').count() + 1;
        let suffix = suffix_labels(wire, labels);
        let end = (qname.start + qname.len) as usize;
        Span::of(end - suffix.len(), end)
    }
}

/// Record classes compared as they are (unicast DNS).
const CLASS_ALL: u16 = 0xffff;
/// Record classes without the mDNS cache-flush bit (the top bit, RFC 6762 §10.2).
const CLASS_MDNS: u16 = 0x7fff;

/// The header of a standard-query response, or why the message is skipped (a query, another
/// opcode); an error if it is shorter than a header.
fn response_header(msg: &[u8]) -> Result<Result<Header, Skip>, WireError> {
    let Some(h) = peek_header(msg) else {
        return Err(WireError::new("truncated", format_args!("{} octets, shorter than the header", msg.len())));
    };
    if !h.qr {
        return Ok(Err(Skip::NotResponse));
    }
    if h.opcode != 0 {
        return Ok(Err(Skip::Opcode(h.opcode)));
    }
    Ok(Ok(h))
}

/// Moves the observation's rdata buffers to the spare pool.
fn recycle(obs: &mut Observation, spare: &mut Vec<Vec<u8>>) {
    for r in obs.rdata.drain(..) {
        if let Rdata::Wire(mut v) = r {
            if spare.len() < MAX_SPARE {
                v.clear();
                spare.push(v);
            }
        }
    }
}

/// Sets `slot` to the normalised wire name `wire`, allocating only if it differs.
fn set_name(slot: &mut Name, wire: &[u8]) -> Result<(), WireError> {
    if slot.as_wire() != wire {
        slot.assign_wire(wire).map_err(|e| WireError::new("bad_name", format_args!("{e}")))?;
    }
    Ok(())
}

/// Fills `obs` with the RRset `set` owned by `owner`: its type, its records' rdata (from
/// `order`, `rrs` and the rdata arena, in buffers taken from `spare`) and its TTL.
fn fill_rrset(
    obs: &mut Observation,
    spare: &mut Vec<Vec<u8>>,
    set: &Set,
    owner: &[u8],
    (order, rrs, rdata): (&[u32], &[Rr], &[u8]),
) -> Result<(), WireError> {
    recycle(obs, spare);
    set_name(&mut obs.rrname, owner)?;
    obs.rrtype = set.rtype;
    for &i in order.get(set.first as usize..set.end as usize).unwrap_or_default() {
        if let Some(rr) = rrs.get(i as usize) {
            let mut v = spare.pop().unwrap_or_default();
            v.extend_from_slice(rr.rdata.get(rdata));
            obs.rdata.push(Rdata::Wire(v));
        }
    }
    obs.normalize_rdata();
    obs.ttl = Some(set.ttl);
    obs.negative = None;
    Ok(())
}

/// Fills the fields every emitted observation shares: the bailiwick `zone`, then [`stamp`].
fn finish(obs: &mut Observation, zone: &Option<Name>, meta: &MessageMeta<'_>) {
    if obs.bailiwick != *zone {
        obs.bailiwick.clone_from(zone);
    }
    stamp(obs, meta);
}

/// Fills the message time and the fields of a single wire sighting.
fn stamp(obs: &mut Observation, meta: &MessageMeta<'_>) {
    obs.time_first = meta.time;
    obs.time_last = meta.time;
    obs.zone = false;
    obs.count = 1;
    obs.sensor = None;
}
