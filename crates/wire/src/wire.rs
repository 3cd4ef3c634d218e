//! Low-level, bounds-checked reading of DNS wire format: the header, (compressed) names, the
//! question fingerprint, and decompression of the names embedded in rdata.
//!
//! Nothing here panics on input: every read goes through `get`, and every failure is a
//! [`WireError`] with a stable reason.

use dnsledger_model::RrType;

use crate::WireError;

/// Length of the fixed DNS header.
pub(crate) const HEADER_LEN: usize = 12;
/// Maximum length of a name in wire format (RFC 1035 §2.3.4).
const MAX_NAME: usize = 255;
/// Most compression pointers followed in one name. A name has at most 127 labels, so a
/// pointer before each and one more is all a real encoder can use; pointers to pointers add
/// nothing but work (a chain of them walked once per record is a pointer bomb).
const MAX_POINTERS: usize = 128;

/// Header fields read without parsing the message (for the sensor's query/response matching).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Message id.
    pub id: u16,
    /// QR bit: true for a response.
    pub qr: bool,
    /// OPCODE (0 = QUERY).
    pub opcode: u8,
    /// AA bit: authoritative answer.
    pub aa: bool,
    /// TC bit: truncated.
    pub tc: bool,
    /// RD bit: recursion desired.
    pub rd: bool,
    /// RA bit: recursion available.
    pub ra: bool,
    /// The 4-bit header RCODE (extended RCODE bits from EDNS are not included).
    pub rcode: u8,
    /// Number of questions.
    pub qdcount: u16,
    /// Number of answer-section records.
    pub ancount: u16,
    /// Number of authority-section records.
    pub nscount: u16,
    /// Number of additional-section records.
    pub arcount: u16,
}

/// Reads the 12-octet header; `None` if the message is shorter.
pub fn peek_header(msg: &[u8]) -> Option<Header> {
    let h: &[u8; HEADER_LEN] = msg.get(..HEADER_LEN)?.try_into().ok()?;
    let u16_at = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    let (f1, f2) = (h[2], h[3]);
    Some(Header {
        id: u16_at(0),
        qr: f1 & 0x80 != 0,
        opcode: (f1 >> 3) & 0x0f,
        aa: f1 & 0x04 != 0,
        tc: f1 & 0x02 != 0,
        rd: f1 & 0x01 != 0,
        ra: f2 & 0x80 != 0,
        rcode: f2 & 0x0f,
        qdcount: u16_at(4),
        ancount: u16_at(6),
        nscount: u16_at(8),
        arcount: u16_at(10),
    })
}

/// A cheap 64-bit fingerprint of the question section (qname lower-cased, qtype, qclass), or
/// `None` when there is not exactly one question or it does not parse; used to pair queries
/// with responses.
///
/// The question name must be uncompressed (a pointer there could only point into the header).
/// The fingerprint is not keyed: do not use it where an attacker benefits from collisions
/// beyond mismatching a query and its response.
pub fn question_key(msg: &[u8]) -> Option<u64> {
    if msg.get(4..6)? != [0, 1] {
        return None;
    }
    // Find the end of the name, label by label.
    let mut pos = HEADER_LEN;
    loop {
        let len = *msg.get(pos)? as usize;
        if len & 0xc0 != 0 {
            return None;
        }
        pos += 1 + len;
        if pos - HEADER_LEN > MAX_NAME {
            return None;
        }
        if len == 0 {
            break;
        }
    }
    // Then hash the question eight octets at a time, the name lower-cased (length octets are
    // below 64, so lower-casing the name's octets leaves them as they are).
    let question = msg.get(HEADER_LEN..pos + 4)?;
    let mut buf = [0u8; MAX_NAME + 4 + 7];
    buf.get_mut(..question.len())?.copy_from_slice(question);
    buf.get_mut(..pos - HEADER_LEN)?.make_ascii_lowercase();
    let mut hash = Hasher::new();
    for word in buf.get(..question.len().div_ceil(8) * 8)?.chunks_exact(8) {
        let mut w = [0u8; 8];
        w.copy_from_slice(word);
        hash.word(u64::from_le_bytes(w));
    }
    hash.word(question.len() as u64);
    Some(hash.finish())
}

/// A small multiply-rotate hash (FxHash-like, over 64-bit words) with a final avalanche.
struct Hasher(u64);

impl Hasher {
    fn new() -> Hasher {
        Hasher(0x243f_6a88_85a3_08d3)
    }
    #[inline]
    fn word(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
    fn finish(self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        x ^ (x >> 33)
    }
}

/// Where a name is read: owner/question names, or inside rdata (truncation there is an rdata
/// layout error).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ctx {
    /// A question or owner name.
    Owner,
    /// A name embedded in rdata.
    Rdata,
}

fn truncated(ctx: Ctx, at: usize) -> WireError {
    match ctx {
        Ctx::Owner => WireError::new("truncated", format_args!("message ends inside a name at offset {at}")),
        Ctx::Rdata => WireError::new("bad_rdata", format_args!("name runs past the rdata at offset {at}")),
    }
}

/// Which buffer decoded names are written to (and cached in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Buf {
    /// The extractor's name arena (question and owner names).
    Names,
    /// The extractor's canonical rdata arena.
    Rdata,
    /// A scratch buffer whose contents are copied elsewhere: not cached.
    Scratch,
}

/// Where a name is decoded to: the buffer written, and read-only views of the others (the one
/// being written is passed as an empty slice).
pub(crate) struct Out<'a> {
    /// The buffer written.
    pub buf: &'a mut Vec<u8>,
    /// Which buffer `buf` is.
    pub id: Buf,
    /// The name arena, unless it is `buf`.
    pub names: &'a [u8],
    /// The rdata arena, unless it is `buf`.
    pub rdata: &'a [u8],
}

/// One cached decoded name suffix: the name found at message offset `off`.
#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    gen: u32,
    off: u16,
    buf: u8,
    len: u8,
    start: u32,
}

const CACHE_SLOTS: usize = 256;

/// A direct-mapped cache from message offsets to names already decoded from there, so that
/// compression pointers are resolved by one copy instead of a second walk. Entries are valid
/// for one message (generation counter); a miss just walks the labels again.
pub(crate) struct NameCache {
    slots: Vec<Slot>,
    gen: u32,
    pending: Vec<(u16, u32)>,
}

impl NameCache {
    /// An empty cache.
    pub(crate) fn new() -> NameCache {
        NameCache { slots: vec![Slot::default(); CACHE_SLOTS], gen: 1, pending: Vec::with_capacity(32) }
    }

    /// Invalidates every entry (call before each message).
    pub(crate) fn next_message(&mut self) {
        self.gen = self.gen.wrapping_add(1);
        if self.gen == 0 {
            self.slots.iter_mut().for_each(|s| *s = Slot::default());
            self.gen = 1;
        }
    }

    /// The (start, length) in the name arena of the name decoded from message offset `off`.
    pub(crate) fn in_names(&self, off: usize) -> Option<(usize, usize)> {
        self.get(off).filter(|s| s.buf == 0).map(|s| (s.start as usize, usize::from(s.len)))
    }

    fn get(&self, off: usize) -> Option<Slot> {
        let s = *self.slots.get(off % CACHE_SLOTS)?;
        (s.gen == self.gen && usize::from(s.off) == off).then_some(s)
    }

    /// Records the suffixes whose labels were read in place into `id`, now that the name ends
    /// at `end` in that buffer.
    fn commit(&mut self, id: Buf, end: usize) {
        let buf = match id {
            Buf::Names => 0,
            Buf::Rdata => 1,
            Buf::Scratch => return,
        };
        for &(off, start) in &self.pending {
            let len = end.saturating_sub(start as usize);
            if let (Ok(len), Some(slot)) = (u8::try_from(len), self.slots.get_mut(usize::from(off) % CACHE_SLOTS)) {
                *slot = Slot { gen: self.gen, off, buf, len, start };
            }
        }
    }
}

/// Appends a cached name to `out`; false if the cached range is not available.
fn copy_cached(out: &mut Out<'_>, slot: Slot) -> bool {
    let (start, len) = (slot.start as usize, usize::from(slot.len));
    let id = if slot.buf == 0 { Buf::Names } else { Buf::Rdata };
    if id == out.id {
        if start + len > out.buf.len() {
            return false;
        }
        out.buf.extend_from_within(start..start + len);
        return true;
    }
    let src = if id == Buf::Names { out.names } else { out.rdata };
    match src.get(start..start + len) {
        Some(b) => {
            out.buf.extend_from_slice(b);
            true
        }
        None => false,
    }
}

/// Reads a possibly compressed name starting at `pos`, appending it lower-cased and
/// uncompressed to `out`. The in-place part of the name must end before `end` (the end of the
/// rdata, or of the message). Returns the offset just after the in-place part.
///
/// Compression pointers must point strictly backwards: the first one below the start of the
/// name, every further one below the previous target, and never into the header. This rejects
/// loops and forward pointers, and bounds the work per name. A pointer to an offset a name was
/// already decoded from is resolved from `cache` (the result is the same as walking again).
pub(crate) fn read_name(
    msg: &[u8],
    pos: usize,
    end: usize,
    out: &mut Out<'_>,
    cache: &mut NameCache,
    ctx: Ctx,
) -> Result<usize, WireError> {
    let mut p = pos;
    let mut bound = end.min(msg.len());
    let mut limit = pos;
    let mut after: Option<usize> = None;
    let mut total = 0usize;
    let mut pointers = 0usize;
    cache.pending.clear();
    loop {
        if p >= bound {
            return Err(truncated(ctx, p));
        }
        let b = *msg.get(p).ok_or_else(|| truncated(ctx, p))?;
        match b & 0xc0 {
            0x00 => {
                let len = b as usize;
                total += len + 1;
                if total > MAX_NAME {
                    return Err(WireError::new("name_too_long", format_args!("name longer than 255 octets at {pos}")));
                }
                if let Ok(off) = u16::try_from(p) {
                    cache.pending.push((off, out.buf.len() as u32));
                }
                if len == 0 {
                    out.buf.push(0);
                    cache.commit(out.id, out.buf.len());
                    return Ok(after.unwrap_or(p + 1));
                }
                let label_end = p + 1 + len;
                if label_end > bound {
                    return Err(truncated(ctx, p));
                }
                let label = msg.get(p + 1..label_end).ok_or_else(|| truncated(ctx, p))?;
                let at = out.buf.len();
                out.buf.push(b);
                out.buf.extend_from_slice(label);
                if let Some(copied) = out.buf.get_mut(at + 1..) {
                    copied.make_ascii_lowercase();
                }
                p = label_end;
            }
            0xc0 => {
                if p + 1 >= bound {
                    return Err(truncated(ctx, p));
                }
                let lo = *msg.get(p + 1).ok_or_else(|| truncated(ctx, p))?;
                let target = (usize::from(b & 0x3f) << 8) | usize::from(lo);
                if target < HEADER_LEN || target >= limit {
                    return Err(WireError::new(
                        "bad_pointer",
                        format_args!("compression pointer at {p} to {target} is not strictly backwards"),
                    ));
                }
                pointers += 1;
                if pointers > MAX_POINTERS {
                    return Err(WireError::new(
                        "bad_pointer",
                        format_args!("name at {pos} follows more than {MAX_POINTERS} compression pointers"),
                    ));
                }
                if after.is_none() {
                    after = Some(p + 2);
                }
                if let Some(slot) = cache.get(target) {
                    if total + usize::from(slot.len) > MAX_NAME {
                        return Err(WireError::new(
                            "name_too_long",
                            format_args!("name longer than 255 octets at {pos}"),
                        ));
                    }
                    if copy_cached(out, slot) {
                        cache.commit(out.id, out.buf.len());
                        return Ok(after.unwrap_or(p + 2));
                    }
                }
                limit = target;
                p = target;
                bound = msg.len();
            }
            _ => {
                return Err(WireError::new("bad_label_type", format_args!("label type {:#04x} at {p}", b & 0xc0)));
            }
        }
    }
}

/// True if the normalised wire name `name` equals `zone` or lies below it.
pub(crate) fn is_subdomain(name: &[u8], zone: &[u8]) -> bool {
    if zone.len() > name.len() {
        return false;
    }
    let mut pos = 0;
    loop {
        let Some(rest) = name.get(pos..) else { return false };
        if rest.len() < zone.len() {
            return false;
        }
        if rest == zone {
            return true;
        }
        match rest.first() {
            Some(&len) if len != 0 => pos += len as usize + 1,
            _ => return false,
        }
    }
}

/// Number of labels of a normalised wire name (root not counted).
pub(crate) fn label_count(name: &[u8]) -> usize {
    let mut pos = 0;
    let mut n = 0;
    while let Some(&len) = name.get(pos) {
        if len == 0 {
            break;
        }
        n += 1;
        pos += len as usize + 1;
    }
    n
}

/// The suffix of a normalised wire name holding its last `labels` labels.
pub(crate) fn suffix_labels(name: &[u8], labels: usize) -> &[u8] {
    let skip = label_count(name).saturating_sub(labels);
    let mut pos = 0;
    for _ in 0..skip {
        match name.get(pos) {
            Some(&len) => pos += len as usize + 1,
            None => break,
        }
    }
    name.get(pos..).unwrap_or(name)
}

/// The name without its leftmost label (`None` for the root).
pub(crate) fn parent(name: &[u8]) -> Option<&[u8]> {
    let len = *name.first()? as usize;
    if len == 0 {
        return None;
    }
    name.get(len + 1..)
}

/// True for the rrtypes whose rdata may carry compressed names that are decompressed here:
/// RFC 1035 types plus those where compression is seen in practice (see the crate docs).
pub(crate) fn has_compressible_names(t: RrType) -> bool {
    matches!(
        t,
        RrType::NS
            | RrType::MD
            | RrType::MF
            | RrType::CNAME
            | RrType::SOA
            | RrType::MB
            | RrType::MG
            | RrType::MR
            | RrType::PTR
            | RrType::MINFO
            | RrType::MX
            | RrType::RP
            | RrType::AFSDB
            | RrType::RT
            | RrType::PX
            | RrType::NAPTR
            | RrType::SRV
            | RrType::KX
            | RrType::DNAME
            | RrType::SIG
            | RrType::RRSIG
            | RrType::NSEC
            | RrType::SVCB
            | RrType::HTTPS
    )
}

/// True for the name-bearing types whose layout is only fixed fields and names: once their
/// names are decompressed and lower-cased and the rdata is consumed exactly, the result is
/// their canonical form (what `dnsledger_model::rdata::canonicalize` produces).
pub(crate) fn is_simple_layout(t: RrType) -> bool {
    has_compressible_names(t)
        && !matches!(t, RrType::NAPTR | RrType::SIG | RrType::RRSIG | RrType::NSEC | RrType::SVCB | RrType::HTTPS)
}

/// Copies the rdata at `start..end` of `msg` to `out`, decompressing the embedded names of the
/// types listed in [`has_compressible_names`]. Fields that do not fit are copied as they are,
/// so that the model's validation reports the layout error.
///
/// Returns true when every field of the type's layout was present and the rdata was consumed
/// exactly (meaningful for [`is_simple_layout`] types: their output is then canonical).
pub(crate) fn decompress_rdata(
    msg: &[u8],
    t: RrType,
    start: usize,
    end: usize,
    out: &mut Out<'_>,
    cache: &mut NameCache,
) -> Result<bool, WireError> {
    let mut d = Decomp { msg, pos: start, end, out, cache, ok: true };
    // (fixed octets, character-strings, names) before the rest of the rdata.
    let (fixed, strings, names) = match t {
        RrType::SOA | RrType::MINFO | RrType::RP => (0, 0, 2),
        RrType::MX | RrType::AFSDB | RrType::RT | RrType::KX | RrType::SVCB | RrType::HTTPS => (2, 0, 1),
        RrType::PX => (2, 0, 2),
        RrType::SRV => (6, 0, 1),
        RrType::NAPTR => (4, 3, 1),
        RrType::SIG | RrType::RRSIG => (18, 0, 1),
        _ if has_compressible_names(t) => (0, 0, 1),
        _ => (0, 0, 0),
    };
    if d.fixed(fixed) && (0..strings).all(|_| d.charstring()) {
        for _ in 0..names {
            d.name()?;
        }
        if t == RrType::SOA {
            d.fixed(20);
        }
    }
    let exact = d.ok && d.pos == d.end;
    d.rest();
    Ok(exact)
}

/// The state of one rdata decompression.
struct Decomp<'a, 'o, 'c> {
    msg: &'a [u8],
    pos: usize,
    end: usize,
    out: &'o mut Out<'c>,
    cache: &'o mut NameCache,
    /// False once a field was missing.
    ok: bool,
}

impl Decomp<'_, '_, '_> {
    /// Copies `n` octets; false (and nothing copied) if fewer remain.
    fn fixed(&mut self, n: usize) -> bool {
        match self.msg.get(self.pos..self.pos + n) {
            Some(b) if self.pos + n <= self.end => {
                self.out.buf.extend_from_slice(b);
                self.pos += n;
                true
            }
            _ => {
                self.ok = false;
                false
            }
        }
    }

    /// Copies a length-prefixed character-string; false if it does not fit.
    fn charstring(&mut self) -> bool {
        match self.msg.get(self.pos) {
            Some(&len) if self.pos < self.end => self.fixed(1 + len as usize),
            _ => {
                self.ok = false;
                false
            }
        }
    }

    /// Reads and decompresses one name; an empty remainder is left to validation.
    fn name(&mut self) -> Result<(), WireError> {
        if self.pos >= self.end {
            self.ok = false;
            return Ok(());
        }
        self.pos = read_name(self.msg, self.pos, self.end, self.out, self.cache, Ctx::Rdata)?;
        Ok(())
    }

    /// Copies whatever is left of the rdata.
    fn rest(&mut self) {
        if let Some(b) = self.msg.get(self.pos..self.end) {
            self.out.buf.extend_from_slice(b);
        }
        self.pos = self.end;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::rdata::canonicalize;

    /// For the simple layouts the extractor does not call the model's `canonicalize`: check on
    /// mutated and random rdata that the walk accepts exactly what `canonicalize` accepts and
    /// produces the same bytes.
    #[test]
    fn simple_layouts_match_the_model() {
        let types = [
            RrType::NS,
            RrType::MD,
            RrType::MF,
            RrType::CNAME,
            RrType::MB,
            RrType::MG,
            RrType::MR,
            RrType::PTR,
            RrType::DNAME,
            RrType::SOA,
            RrType::MINFO,
            RrType::RP,
            RrType::MX,
            RrType::AFSDB,
            RrType::RT,
            RrType::KX,
            RrType::PX,
            RrType::SRV,
        ];
        for &t in &types {
            assert!(is_simple_layout(t), "{t}");
        }
        let samples: [&[u8]; 6] = [
            b"\x03NS1\x07Example\x03com\x00",
            b"\x00\x0a\x04Mail\x07example\x00",
            b"\x01a\x00\x01B\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05",
            b"\x00\x01\x00\x02\x00\x03\x03SIP\x00",
            b"\x00\x01\x01a\x00\x01b\x00",
            b"\x00",
        ];
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut agreed = 0;
        for round in 0..100_000 {
            let t = types[round % types.len()];
            let mut rd = samples[(rnd() % samples.len() as u64) as usize].to_vec();
            for _ in 0..rnd() % 3 {
                let i = (rnd() % (rd.len() as u64 + 1)) as usize;
                match rnd() % 4 {
                    0 => rd.truncate(i),
                    1 if i < rd.len() => rd[i] = rnd() as u8 % 8,
                    2 if i < rd.len() => rd[i] ^= 0x20,
                    _ => rd.insert(i, rnd() as u8 % 4),
                }
            }
            let mut msg = vec![0u8; HEADER_LEN];
            msg.extend_from_slice(&rd);
            let mut buf = Vec::new();
            let mut out = Out { buf: &mut buf, id: Buf::Scratch, names: &[], rdata: &[] };
            let exact = decompress_rdata(&msg, t, HEADER_LEN, msg.len(), &mut out, &mut NameCache::new());
            let mut model = Vec::new();
            let model_ok = canonicalize(t, &rd, &mut model).is_ok();
            match exact {
                Ok(true) => {
                    assert!(model_ok, "{t} {rd:02x?}: walk accepted, model rejected");
                    assert_eq!(buf, model, "{t} {rd:02x?}");
                    agreed += 1;
                }
                _ => assert!(!model_ok, "{t} {rd:02x?}: model accepted, walk rejected"),
            }
        }
        assert!(agreed > 10_000, "{agreed}");
    }

    #[test]
    fn subdomain_helpers() {
        let www = b"\x03www\x07example\x03com\x00";
        let ex = b"\x07example\x03com\x00";
        assert!(is_subdomain(www, ex));
        assert!(is_subdomain(ex, ex));
        assert!(is_subdomain(www, b"\x00"));
        assert!(!is_subdomain(ex, www));
        assert!(!is_subdomain(b"\x03www\x08xexample\x03com\x00", ex));
        assert!(!is_subdomain(b"\x03com\x00", b"\x02om\x00"));
        assert_eq!(label_count(www), 3);
        assert_eq!(label_count(b"\x00"), 0);
        assert_eq!(suffix_labels(www, 2), ex);
        assert_eq!(suffix_labels(www, 5), www);
        assert_eq!(parent(www), Some(&ex[..]));
        assert_eq!(parent(b"\x00"), None);
    }
}
