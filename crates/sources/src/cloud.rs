//! Helpers the cloud DNS log parsers share ([`crate::route53`], [`crate::gcp`], [`crate::azure`]):
//! `json_fields!` (JSON objects read with raw-byte key matching), `Scalar` JSON values borrowed
//! when possible, `Rrsets` (records grouped into RRsets and emitted through one reused
//! [`Observation`]), `Chain` (owners rebuilt from ordered, owner-less answers),
//! `finish_response` (negative answers), `Tally` (several records on one line) and a fast
//! RFC 3339 time parser.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use dnsledger_model::{Name, Negative, Observation, Rdata, RrType};
use serde::de::{Deserialize, Deserializer, Visitor};

use crate::route53::looks_like_timestamp;
use crate::{LineOutcome, ParseError};

/// Declares a struct of optional JSON object fields, read with keys compared as raw bytes
/// (quicker than serde's derived field matching, which validates every key as UTF-8); other
/// keys are skipped, a repeated key keeps its last value. Each field is `name: Type = b"key"`
/// (or several keys separated by `|`); the struct holds `Option<Type>` for it.
macro_rules! json_fields {
    ($(#[$m:meta])* struct $name:ident<$lt:lifetime> { $($field:ident : $ty:ty = $($key:literal)|+ ,)* }) => {
        $(#[$m])*
        #[derive(Default)]
        struct $name<$lt> {
            $($field: Option<$ty>,)*
            _borrows: std::marker::PhantomData<&$lt ()>,
        }

        impl<'de: $lt, $lt> serde::Deserialize<'de> for $name<$lt> {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<$lt>(std::marker::PhantomData<&$lt ()>);
                impl<'de: $lt, $lt> serde::de::Visitor<'de> for V<$lt> {
                    type Value = $name<$lt>;
                    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                        f.write_str(concat!("a JSON object (", stringify!($name), ")"))
                    }
                    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<$name<$lt>, M::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<$crate::cloud::RawKey<'de>>()? {
                            match key.as_bytes() {
                                $($($key)|+ => out.$field = map.next_value()?,)*
                                _ => {
                                    map.next_value::<serde::de::IgnoredAny>()?;
                                }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V(std::marker::PhantomData))
            }
        }
    };
}
pub(crate) use json_fields;

/// Longest CNAME chain followed when looking for the name an answer ends at.
const MAX_CHAIN: usize = 16;

/// An object key as raw bytes (escapes decoded, UTF-8 not checked), borrowed when possible.
pub(crate) struct RawKey<'a>(Cow<'a, [u8]>);

impl RawKey<'_> {
    /// The key's bytes.
    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for RawKey<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<RawKey<'a>, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawKey<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_bytes<E: serde::de::Error>(self, v: &'de [u8]) -> Result<RawKey<'a>, E> {
                Ok(RawKey(Cow::Borrowed(v)))
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<RawKey<'a>, E> {
                Ok(RawKey(Cow::Owned(v.to_vec())))
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<RawKey<'a>, E> {
                Ok(RawKey(Cow::Borrowed(v.as_bytes())))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawKey<'a>, E> {
                Ok(RawKey(Cow::Owned(v.as_bytes().to_vec())))
            }
        }
        d.deserialize_bytes(V(PhantomData))
    }
}

/// A JSON scalar as cloud logs write it (the same field may be a string in one export and a
/// number in another); strings are borrowed from the line when they contain no escapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// A non-negative integer.
    Uint(u64),
    /// A negative integer.
    Int(i64),
    /// A number with a fraction or exponent.
    Float(f64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl Scalar<'_> {
    /// The string, if this is one.
    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Scalar::Str(s) => Some(s),
            _ => None,
        }
    }

    /// A non-negative integer given as a number or as a decimal string.
    pub(crate) fn as_u64(&self) -> Option<u64> {
        match self {
            Scalar::Uint(u) => Some(*u),
            Scalar::Float(f) if *f >= 0.0 && f.fract() == 0.0 && *f < 1.8e19 => Some(*f as u64),
            Scalar::Str(s) => crate::parse_u64(s.trim().as_bytes()),
            _ => None,
        }
    }

    /// A boolean given as `true`/`false` or as the strings `"true"`/`"false"`.
    pub(crate) fn as_bool(&self) -> Option<bool> {
        match self {
            Scalar::Bool(b) => Some(*b),
            Scalar::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Scalar::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// A record type given as a mnemonic (any case), `TYPE<n>` or a number.
    pub(crate) fn rrtype(&self) -> Option<RrType> {
        match self {
            Scalar::Str(s) => parse_rrtype(s),
            other => other.as_u64().and_then(|n| u16::try_from(n).ok()).map(RrType),
        }
    }
}

impl fmt::Display for Scalar<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scalar::Str(s) => write!(f, "{s:?}"),
            Scalar::Uint(u) => write!(f, "{u}"),
            Scalar::Int(i) => write!(f, "{i}"),
            Scalar::Float(x) => write!(f, "{x}"),
            Scalar::Bool(b) => write!(f, "{b}"),
            Scalar::Null => f.write_str("null"),
        }
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Scalar<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Scalar<'a>, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Scalar<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string, number, boolean or null")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Str(Cow::Owned(v)))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Uint(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Scalar<'a>, E> {
                Ok(if v >= 0 { Scalar::Uint(v as u64) } else { Scalar::Int(v) })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Float(v))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Bool(v))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }
            fn visit_none<E: serde::de::Error>(self) -> Result<Scalar<'a>, E> {
                Ok(Scalar::Null)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Parses a record type: mnemonic (any case), `TYPE<n>`, or a plain number.
pub(crate) fn parse_rrtype(s: &str) -> Option<RrType> {
    let s = s.trim();
    RrType::parse_bytes(s.as_bytes())
        .or_else(|| s.bytes().all(|b| b.is_ascii_digit()).then(|| s.parse::<u16>().ok().map(RrType)).flatten())
}

/// Parses one rdata item in presentation format, naming the type and text on failure.
pub(crate) fn parse_rdata(rrtype: RrType, text: &str) -> Result<Rdata, ParseError> {
    Rdata::parse(rrtype, text).map_err(|e| ParseError::new("bad rdata", format!("{rrtype} {text:?}: {e}")))
}

/// A field with a value of the wrong kind.
pub(crate) fn bad_field(field: &str, value: &Scalar<'_>) -> ParseError {
    ParseError::new("bad field", format!("{field}: unexpected value {value}"))
}

/// Text for error details.
pub(crate) fn lossy(b: &[u8]) -> Cow<'_, str> {
    const MAX: usize = 200;
    let b = b.get(..MAX).unwrap_or(b);
    String::from_utf8_lossy(b)
}

/// Sets the observation's sensor: the configured one, else the log's own id, else none
/// (without allocating when it is unchanged from the previous line).
pub(crate) fn set_sensor(obs: &mut Observation, configured: &Option<String>, own: Option<&str>) {
    let want = configured.as_deref().or(own.filter(|s| !s.is_empty()));
    if obs.sensor.as_deref() != want {
        obs.sensor = want.map(str::to_string);
    }
}

/// Parses an RFC 3339 time to epoch seconds: a fast path for UTC (`...Z`, any fraction),
/// [`dnsledger_model::time::parse_datetime`] for everything else.
pub(crate) fn parse_time(s: &str) -> Option<u64> {
    fast_utc(s.as_bytes()).or_else(|| dnsledger_model::time::parse_datetime(s.trim()))
}

pub(crate) fn fast_utc(b: &[u8]) -> Option<u64> {
    if b.len() < 20 || !looks_like_timestamp(b) || b.get(16) != Some(&b':') {
        return None;
    }
    let num = |from: usize, to: usize| -> Option<u64> { crate::parse_u64(b.get(from..to)?) };
    let (y, mo, d, h, mi, s) = (num(0, 4)?, num(5, 7)?, num(8, 10)?, num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = b.get(19..)?;
    if rest.first() == Some(&b'.') {
        let digits = rest.iter().skip(1).take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = rest.get(1 + digits..)?;
    }
    if !matches!(rest, b"Z" | b"z") || !(1..=12).contains(&mo) || d == 0 || h > 23 || mi > 59 || s > 59 {
        return None;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    if d > *month_days.get(usize::try_from(mo - 1).ok()?)? {
        return None;
    }
    // days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil)
    let (y, mo, d) = (y as i64, mo as i64, d as i64);
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((mo + 9) % 12) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + (h * 3600 + mi * 60 + s) as i64).ok()
}

/// The response code of a logged answer, as far as passive DNS cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rcode {
    /// NOERROR (0).
    NoError,
    /// NXDOMAIN (3).
    NxDomain,
    /// Any other code: the query failed; its answer, if any, is not used.
    Failed,
}

impl Rcode {
    /// Reads an rcode given as a name (`NOERROR`, `NoError`, `NXDOMAIN`, ...) or a number.
    pub(crate) fn from_scalar(field: &str, v: &Scalar<'_>) -> Result<Rcode, ParseError> {
        if let Some(s) = v.as_str() {
            let s = s.trim();
            if s.eq_ignore_ascii_case("NOERROR") {
                return Ok(Rcode::NoError);
            }
            if s.eq_ignore_ascii_case("NXDOMAIN") {
                return Ok(Rcode::NxDomain);
            }
            if !s.is_empty() && !s.bytes().all(|b| b.is_ascii_digit()) {
                return Ok(Rcode::Failed);
            }
        }
        match v.as_u64() {
            Some(0) => Ok(Rcode::NoError),
            Some(3) => Ok(Rcode::NxDomain),
            Some(n) if n <= 0xfff => Ok(Rcode::Failed),
            _ => Err(bad_field(field, v)),
        }
    }
}

/// One answer record as a log gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer<'x> {
    /// Record type text.
    pub rrtype: &'x str,
    /// Class text, if the log gives one.
    pub class: Option<&'x str>,
    /// Rdata in presentation format.
    pub rdata: &'x str,
    /// TTL, if the log gives one.
    pub ttl: Option<u32>,
    /// Owner name, if the log gives one (else the owner follows from the CNAME chain).
    pub owner: Option<&'x str>,
}

/// The records of one answer, grouped into RRsets by (owner, type). Buffers are reused from
/// line to line; owner index 0 is the query name.
#[derive(Default)]
pub(crate) struct Rrsets {
    owners: Vec<Name>,
    n_owners: usize,
    groups: Vec<Group>,
    n_groups: usize,
}

#[derive(Default)]
struct Group {
    owner: usize,
    rrtype: RrType,
    ttl: Option<u32>,
    rdata: Vec<Rdata>,
    /// For a CNAME RRset: the owner index of its (first) target.
    next: Option<usize>,
}

impl Rrsets {
    /// An empty set.
    pub(crate) fn new() -> Rrsets {
        Rrsets::default()
    }

    /// Forgets the previous answer (keeping the buffers).
    pub(crate) fn clear(&mut self) {
        self.n_owners = 0;
        for g in self.groups.iter_mut().take(self.n_groups) {
            g.rdata.clear();
        }
        self.n_groups = 0;
    }

    /// The index of an owner name given in presentation format (the same name, same index).
    pub(crate) fn owner(&mut self, text: &str) -> Result<usize, ParseError> {
        if self.n_owners == self.owners.len() {
            self.owners.push(Name::root());
        }
        let slot = self.n_owners;
        let parsed = match self.owners.get_mut(slot) {
            Some(n) => n.set_from_presentation(text.trim().as_bytes()),
            None => return Err(ParseError::new("bad rrname", "owner table")),
        };
        parsed.map_err(|e| ParseError::new("bad rrname", format!("{e}: {text:?}")))?;
        Ok(self.intern(slot))
    }

    /// A CNAME's rdata and the owner index of its target (parsed once for both).
    pub(crate) fn cname_target(&mut self, text: &str) -> Result<(usize, Rdata), ParseError> {
        let target = self.owner(text).map_err(|e| ParseError::new("bad rdata", format!("CNAME {}", e.detail)))?;
        let name = self.name(target).ok_or_else(|| ParseError::new("bad rdata", "CNAME target table"))?;
        Ok((target, Rdata::name(name)))
    }

    /// The index of an owner name already parsed.
    fn owner_name(&mut self, name: Name) -> usize {
        if self.n_owners == self.owners.len() {
            self.owners.push(Name::root());
        }
        let slot = self.n_owners;
        if let Some(n) = self.owners.get_mut(slot) {
            *n = name;
        }
        self.intern(slot)
    }

    /// Returns the index of an earlier equal owner, or makes `slot` (the next free one) used.
    fn intern(&mut self, slot: usize) -> usize {
        let (used, rest) = self.owners.split_at(slot);
        if let Some(new) = rest.first() {
            if let Some(i) = used.iter().position(|n| n == new) {
                return i;
            }
        }
        self.n_owners = slot + 1;
        slot
    }

    /// The owner with this index.
    pub(crate) fn name(&self, owner: usize) -> Option<&Name> {
        self.owners.get(..self.n_owners)?.get(owner)
    }

    /// Adds one record; `next` is the owner index of a CNAME's target.
    pub(crate) fn add(&mut self, owner: usize, rrtype: RrType, ttl: Option<u32>, rdata: Rdata, next: Option<usize>) {
        let n = self.n_groups;
        if let Some(g) = self.groups.iter_mut().take(n).find(|g| g.owner == owner && g.rrtype == rrtype) {
            g.ttl = match (g.ttl, ttl) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            g.rdata.push(rdata);
            g.next = g.next.or(next);
            return;
        }
        if n == self.groups.len() {
            self.groups.push(Group::default());
        }
        if let Some(g) = self.groups.get_mut(n) {
            g.owner = owner;
            g.rrtype = rrtype;
            g.ttl = ttl;
            g.rdata.clear();
            g.rdata.push(rdata);
            g.next = next;
            self.n_groups = n + 1;
        }
    }

    fn used(&self) -> &[Group] {
        self.groups.get(..self.n_groups).unwrap_or(&[])
    }

    /// True if the answer has an RRset of this owner and type.
    pub(crate) fn has(&self, owner: usize, rrtype: RrType) -> bool {
        self.used().iter().any(|g| g.owner == owner && g.rrtype == rrtype)
    }

    /// The name the CNAME chain starting at `start` ends at.
    pub(crate) fn chain_end(&self, start: usize) -> usize {
        let mut cur = start;
        for _ in 0..MAX_CHAIN {
            match self.used().iter().find(|g| g.owner == cur && g.rrtype == RrType::CNAME).and_then(|g| g.next) {
                Some(next) if next != cur => cur = next,
                _ => break,
            }
        }
        cur
    }

    /// Drops the RRsets for which `keep(owner, type)` is false.
    pub(crate) fn retain(&mut self, keep: impl Fn(&Name, RrType) -> bool) {
        let mut i = 0;
        while i < self.n_groups {
            let Some(g) = self.groups.get(i) else { break };
            let owner_ok = self.owners.get(g.owner).is_some_and(|n| keep(n, g.rrtype));
            if owner_ok {
                i += 1;
            } else {
                let g = self.groups.remove(i);
                self.groups.push(g);
                self.n_groups -= 1;
            }
        }
    }

    /// Drops the RRset of this owner and type, if there is one.
    pub(crate) fn drop_rrset(&mut self, owner: usize, rrtype: RrType) {
        if let Some(i) = self.used().iter().position(|g| g.owner == owner && g.rrtype == rrtype) {
            let g = self.groups.remove(i);
            self.groups.push(g);
            self.n_groups -= 1;
        }
    }

    /// Emits one observation per RRset (moving the rdata into `obs`); the caller has set the
    /// fields common to the answer (times, count, sensor, zone, bailiwick).
    pub(crate) fn emit(&mut self, obs: &mut Observation, emit: &mut dyn FnMut(&mut Observation)) -> u32 {
        let mut n = 0;
        for g in self.groups.iter_mut().take(self.n_groups) {
            let Some(owner) = self.owners.get(g.owner) else { continue };
            obs.rrname.clone_from(owner);
            obs.rrtype = g.rrtype;
            obs.ttl = g.ttl;
            obs.negative = None;
            obs.rdata.clear();
            obs.rdata.extend(g.rdata.drain(..));
            emit(obs);
            n += 1;
        }
        n
    }
}

/// Rebuilds owners for answers logged in response order without owner names (Route 53, Azure
/// DNS security policy): records belong to the current name of the CNAME chain, starting at
/// the query name; a CNAME moves the chain to its target.
pub(crate) struct Chain {
    cur: usize,
    last_cname_owner: Option<usize>,
    last_dname_owner: Option<usize>,
    pending_dname: Option<(Name, Rdata, Option<u32>)>,
}

impl Chain {
    /// Clears `sets` and starts at the query name (owner index 0).
    pub(crate) fn start(sets: &mut Rrsets, qname: &str) -> Result<Chain, ParseError> {
        sets.clear();
        let q = sets.owner(qname)?;
        Ok(Chain { cur: q, last_cname_owner: None, last_dname_owner: None, pending_dname: None })
    }

    /// Adds the next answer record.
    pub(crate) fn push(&mut self, sets: &mut Rrsets, a: Answer<'_>) -> Result<(), ParseError> {
        let rrtype =
            parse_rrtype(a.rrtype).ok_or_else(|| ParseError::new("unknown rrtype", format!("{:?}", a.rrtype)))?;
        if let Some(class) = a.class {
            let class = class.trim();
            if !class.is_empty() && !class.eq_ignore_ascii_case("IN") {
                return Err(ParseError::new("unsupported class", format!("{class:?} ({rrtype} record)")));
            }
        }
        let text = a.rdata.trim();
        if let Some(owner) = a.owner {
            let o = sets.owner(owner)?;
            let (rd, next) = if rrtype == RrType::CNAME {
                let (target, rd) = sets.cname_target(text)?;
                (rd, Some(target))
            } else {
                (parse_rdata(rrtype, text)?, None)
            };
            sets.add(o, rrtype, a.ttl, rd, next);
            return Ok(());
        }
        match rrtype {
            RrType::CNAME => {
                let (target, rd) = sets.cname_target(text)?;
                if sets.used().iter().any(|g| g.owner == self.cur && !matches!(g.rrtype, RrType::CNAME | RrType::RRSIG))
                {
                    return Err(ParseError::new(
                        "bad answer",
                        format!("CNAME {text:?} follows other records of the same name; the owners cannot be rebuilt"),
                    ));
                }
                if let Some((dname_target, drd, dttl)) = self.pending_dname.take() {
                    let d = dname_owner(sets.name(self.cur), sets.name(target), &dname_target)?;
                    let di = sets.owner_name(d);
                    sets.add(di, RrType::DNAME, dttl, drd, None);
                    self.last_dname_owner = Some(di);
                }
                sets.add(self.cur, RrType::CNAME, a.ttl, rd, Some(target));
                self.last_cname_owner = Some(self.cur);
                self.cur = target;
            }
            RrType::DNAME => {
                if self.pending_dname.is_some() {
                    return Err(dname_without_cname());
                }
                let rd = parse_rdata(rrtype, text)?;
                let target = Name::from_presentation(text)
                    .map_err(|e| ParseError::new("bad rdata", format!("DNAME {text:?}: {e}")))?;
                self.pending_dname = Some((target, rd, a.ttl));
            }
            _ => {
                if self.pending_dname.is_some() {
                    return Err(dname_without_cname());
                }
                let rd = parse_rdata(rrtype, text)?;
                let owner = if rrtype == RrType::RRSIG {
                    let covered = text.split_ascii_whitespace().next().and_then(parse_rrtype);
                    match covered {
                        Some(RrType::CNAME) => self.last_cname_owner,
                        Some(RrType::DNAME) => self.last_dname_owner,
                        _ => None,
                    }
                    .unwrap_or(self.cur)
                } else {
                    self.cur
                };
                sets.add(owner, rrtype, a.ttl, rd, None);
            }
        }
        Ok(())
    }

    /// Checks that nothing is left pending.
    pub(crate) fn finish(self) -> Result<(), ParseError> {
        match self.pending_dname {
            Some(_) => Err(dname_without_cname()),
            None => Ok(()),
        }
    }
}

fn dname_without_cname() -> ParseError {
    ParseError::new("bad answer", "a DNAME not followed by the CNAME it synthesizes; its owner cannot be known")
}

/// The owner of a DNAME, from the name being resolved (`o`), the synthesized CNAME's target
/// (`c`) and the DNAME target (`t`): `c` is `o` with the DNAME owner replaced by `t`.
fn dname_owner(o: Option<&Name>, c: Option<&Name>, t: &Name) -> Result<Name, ParseError> {
    let err = || ParseError::new("bad answer", "a DNAME whose synthesized CNAME does not match it");
    let (o, c) = (o.ok_or_else(err)?, c.ok_or_else(err)?);
    if !c.is_subdomain_of(t) {
        return Err(err());
    }
    let prefix = c.label_count().checked_sub(t.label_count()).ok_or_else(err)?;
    if o.label_count() < prefix || !o.labels().take(prefix).eq(c.labels().take(prefix)) {
        return Err(err());
    }
    Name::from_labels(o.labels().skip(prefix)).map_err(|_| err())
}

/// True for query types that ask for no RRset of their own (no NODATA for them).
fn meta_type(t: RrType) -> bool {
    matches!(t, RrType::ANY | RrType::AXFR | RrType::IXFR | RrType::MAILA | RrType::MAILB | RrType::OPT) || t.0 == 0
}

/// Emits the grouped RRsets and, for NXDOMAIN / NODATA, the negative answer (or counts it as
/// skipped). `obs` must carry the fields common to the answer; `sets` owner 0 is the query name.
pub(crate) fn finish_response(
    sets: &mut Rrsets,
    obs: &mut Observation,
    qtype: RrType,
    rcode: Rcode,
    negative: bool,
    emit: &mut dyn FnMut(&mut Observation),
) -> LineOutcome {
    let end = sets.chain_end(0);
    let neg = match rcode {
        Rcode::NxDomain => Some(Negative::NxDomain),
        Rcode::NoError if !meta_type(qtype) && !sets.has(end, qtype) && !sets.has(0, qtype) => Some(Negative::NoData),
        _ => None,
    };
    let mut n = sets.emit(obs, emit);
    if let Some(kind) = neg {
        match sets.name(end) {
            Some(owner) if negative => {
                obs.rrname.clone_from(owner);
                obs.rrtype = qtype;
                obs.rdata.clear();
                obs.ttl = None;
                obs.negative = Some(kind);
                emit(obs);
                obs.negative = None;
                n += 1;
            }
            _ if n == 0 => return LineOutcome::Skipped("negative answer"),
            _ => {}
        }
    }
    if n == 0 {
        return LineOutcome::Skipped("empty answer");
    }
    LineOutcome::Observations(n)
}

/// Outcomes of the several records one line can hold (a CloudWatch envelope, an Azure
/// `records` blob, a JSON array): observations are summed; the first rejection wins (its
/// detail says which record it was and how many observations the others gave); else, with no
/// observation, the first skip reason.
#[derive(Default)]
pub(crate) struct Tally {
    records: u32,
    observations: u32,
    error: Option<(u32, ParseError)>,
    skip: Option<&'static str>,
}

impl Tally {
    /// Counts one record's outcome.
    pub(crate) fn add(&mut self, r: Result<LineOutcome, ParseError>) {
        self.records += 1;
        match r {
            Ok(LineOutcome::Observations(n)) => self.observations += n,
            Ok(LineOutcome::Skipped(why)) => {
                self.skip.get_or_insert(why);
            }
            Err(e) => {
                if self.error.is_none() {
                    self.error = Some((self.records, e));
                }
            }
        }
    }

    /// The line's outcome; `what` names a record in messages ("log event", "record").
    pub(crate) fn finish(self, what: &str) -> Result<LineOutcome, ParseError> {
        match self.error {
            Some((i, mut e)) => {
                let kept = match self.observations {
                    0 => String::new(),
                    n => format!(" ({n} observations from the line's other {what}s were kept)"),
                };
                e.detail = format!("{what} {i} of {}: {}{kept}", self.records, e.detail);
                Err(e)
            }
            None if self.observations > 0 => Ok(LineOutcome::Observations(self.observations)),
            None => Ok(LineOutcome::Skipped(self.skip.unwrap_or("empty envelope"))),
        }
    }
}
