//! dnsledger's own NDJSON observation format (one JSON object per line), documented in
//! `docs/formats.md`. It is a superset of a COF record (the passive DNS Common Output Format,
//! draft-dulaunoy-dnsop-passive-dns-cof-12, summarised in `shared/reference/dnsdb-api.md` §5),
//! so COF exports import as they are.
//!
//! ```json
//! {"rrname":"www.example.com.","rrtype":"A","rdata":["192.0.2.1","192.0.2.2"],
//!  "bailiwick":"example.com.","time":1704067200,"ttl":300,"count":1,"sensor":"fra-1"}
//! ```
//!
//! This module also owns the record reading shared with [`crate::dnsdb`] ([`Record`], [`fill`]):
//! DNSDB rrset and rdata objects are COF records too.
//!
//! COF as servers really emit it is read leniently (each point has a test):
//! - numbers as JSON strings (`"count":"19"`, `"time_first":"1696798385"`, `"rrtype":"28"`);
//!   float times (fractions dropped);
//! - names with or without the trailing dot; `rdata` as one string or an array of strings;
//! - `rrtype` as a mnemonic, `TYPE<n>`, or a number (JSON number or digit string);
//! - times as epoch seconds or RFC 3339 strings; without `time_first`/`time_last`, the COF
//!   millisecond fields `time_first_ms`/`time_last_ms` or PyPDNS's `time_first_rfc3339`/
//!   `time_last_rfc3339` are used;
//! - optional `bailiwick` (empty or `null` means unknown), `sensor_id`, `zone_time_first`/
//!   `zone_time_last`; `origin` (a URI naming the answering system, not a sensor) and any other
//!   unknown field are ignored; `null` counts as absent for every field;
//! - the CIRCL web-page example of a domain query has `rrname` and `rdata` swapped
//!   (`{"rrtype":"A","rrname":"185.194.93.14","rdata":"circl.lu"}`): when a single `rdata` string
//!   does not parse for the type but `rrname` does, and `rdata` is a valid name, the two are
//!   exchanged. For name-valued types (NS, CNAME, PTR) a swap cannot be told apart from a real
//!   record and is taken as written.
//!
//! The line's own sensor (`sensor`/`sensor_id`) wins over `--sensor`, which is the default for
//! lines without one (a dnsledger export carries many sensors).

use std::borrow::Cow;
use std::fmt;

use dnsledger_model::{Name, Negative, Observation, Rdata, RrType};
use serde::de::{self, Deserializer, SeqAccess, Visitor};

use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// Parser for NDJSON observations.
pub struct NdjsonParser {
    sensor: Option<String>,
    obs: Observation,
}

impl NdjsonParser {
    /// A parser recording `opts.sensor` for lines that name no sensor.
    pub fn new(opts: &SourceOptions) -> NdjsonParser {
        NdjsonParser { sensor: opts.sensor.clone(), obs: Observation::default() }
    }
}

/// A JSON string, borrowed from the line unless it contains escapes.
pub(crate) struct JStr<'a>(pub(crate) Cow<'a, str>);

impl std::ops::Deref for JStr<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

struct JStrVisitor;

impl<'de> Visitor<'de> for JStrVisitor {
    type Value = JStr<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<JStr<'de>, E> {
        Ok(JStr(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<JStr<'de>, E> {
        Ok(JStr(Cow::Owned(v.to_string())))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<JStr<'de>, E> {
        Ok(JStr(Cow::Owned(v)))
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for JStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(JStrVisitor)
    }
}

/// A JSON number or a string holding one (COF servers quote numbers).
pub(crate) enum Num<'a> {
    /// A non-negative integer.
    U(u64),
    /// A negative integer.
    I(i64),
    /// A number with a fraction or exponent.
    F(f64),
    /// A string (digits, a decimal, an RFC 3339 time or a mnemonic).
    S(Cow<'a, str>),
}

struct NumVisitor;

impl<'de> Visitor<'de> for NumVisitor {
    type Value = Num<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a number or a string")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num<'de>, E> {
        Ok(Num::U(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num<'de>, E> {
        Ok(if v >= 0 { Num::U(v as u64) } else { Num::I(v) })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num<'de>, E> {
        Ok(Num::F(v))
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Num<'de>, E> {
        Ok(Num::S(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Num<'de>, E> {
        Ok(Num::S(Cow::Owned(v.to_string())))
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Num<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumVisitor)
    }
}

impl fmt::Display for Num<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Num::U(v) => write!(f, "{v}"),
            Num::I(v) => write!(f, "{v}"),
            Num::F(v) => write!(f, "{v}"),
            Num::S(s) => write!(f, "{s:?}"),
        }
    }
}

/// One string or an array of strings.
pub(crate) enum Strs<'a> {
    /// A single string.
    One(Cow<'a, str>),
    /// An array of strings.
    Many(Vec<JStr<'a>>),
}

impl Strs<'_> {
    /// The number of strings.
    pub(crate) fn len(&self) -> usize {
        match self {
            Strs::One(_) => 1,
            Strs::Many(v) => v.len(),
        }
    }

    /// The `i`-th string.
    pub(crate) fn get(&self, i: usize) -> Option<&str> {
        match self {
            Strs::One(s) if i == 0 => Some(s),
            Strs::One(_) => None,
            Strs::Many(v) => v.get(i).map(|s| &*s.0),
        }
    }
}

struct StrsVisitor;

impl<'de> Visitor<'de> for StrsVisitor {
    type Value = Strs<'de>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string or an array of strings")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Strs<'de>, E> {
        Ok(Strs::One(Cow::Borrowed(v)))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Strs<'de>, E> {
        Ok(Strs::One(Cow::Owned(v.to_string())))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strs<'de>, A::Error> {
        let mut v = Vec::with_capacity(seq.size_hint().unwrap_or(4).min(64));
        while let Some(s) = seq.next_element::<JStr<'de>>()? {
            v.push(s);
        }
        Ok(Strs::Many(v))
    }
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Strs<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrsVisitor)
    }
}

/// One JSON line: a dnsledger/COF/DNSDB record, possibly wrapped in (or being) a DNSDB SAF line.
#[derive(serde::Deserialize, Default)]
pub(crate) struct Record<'a> {
    #[serde(borrow)]
    pub(crate) rrname: Option<JStr<'a>>,
    #[serde(borrow)]
    pub(crate) rrtype: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) rdata: Option<Strs<'a>>,
    #[serde(borrow, alias = "rdata_raw")]
    pub(crate) raw_rdata: Option<Strs<'a>>,
    #[serde(borrow)]
    pub(crate) bailiwick: Option<JStr<'a>>,
    #[serde(borrow)]
    pub(crate) negative: Option<JStr<'a>>,
    #[serde(borrow)]
    pub(crate) time: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) time_first: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) time_last: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) time_first_ms: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) time_last_ms: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) time_first_rfc3339: Option<JStr<'a>>,
    #[serde(borrow)]
    pub(crate) time_last_rfc3339: Option<JStr<'a>>,
    #[serde(borrow)]
    pub(crate) zone_time_first: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) zone_time_last: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) ttl: Option<Num<'a>>,
    #[serde(borrow)]
    pub(crate) count: Option<Num<'a>>,
    #[serde(borrow, alias = "sensor_id")]
    pub(crate) sensor: Option<JStr<'a>>,
    /// DNSDB summarize results carry this (they describe a result set, not an RRset).
    pub(crate) num_results: Option<de::IgnoredAny>,
    /// DNSDB SAF condition (`begin`, `ongoing`, `succeeded`, `limited`, `failed`).
    #[serde(borrow)]
    pub(crate) cond: Option<JStr<'a>>,
    /// DNSDB SAF message.
    #[serde(borrow)]
    pub(crate) msg: Option<JStr<'a>>,
    /// DNSDB SAF payload.
    #[serde(borrow)]
    pub(crate) obj: Option<Box<Record<'a>>>,
}

fn int(field: &'static str, v: &Num<'_>) -> Result<u64, ParseError> {
    let bad = || ParseError::new("bad field", format!("{field}: expected a non-negative integer, got {v}"));
    match v {
        Num::U(u) => Ok(*u),
        Num::F(f) if *f >= 0.0 && f.is_finite() && *f < 1.8e19 => Ok(*f as u64),
        Num::F(_) | Num::I(_) => Err(bad()),
        Num::S(s) => s.trim().parse::<u64>().map_err(|_| bad()),
    }
}

fn time(field: &'static str, v: &Num<'_>) -> Result<u64, ParseError> {
    match v {
        Num::S(s) if !s.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') => {
            dnsledger_model::time::parse_datetime(s.trim()).ok_or_else(|| {
                ParseError::new("bad time", format!("{field}: {s:?} is neither epoch seconds nor RFC 3339"))
            })
        }
        Num::S(s) => s
            .trim()
            .split('.')
            .next()
            .and_then(|i| i.parse::<u64>().ok())
            .ok_or_else(|| ParseError::new("bad time", format!("{field}: {s:?}"))),
        other => int(field, other).map_err(|e| ParseError::new("bad time", e.detail)),
    }
}

/// A COF `*_ms` time (epoch milliseconds) in seconds.
fn time_ms(field: &'static str, v: &Num<'_>) -> Result<u64, ParseError> {
    match v {
        Num::S(s) if !s.trim().bytes().all(|b| b.is_ascii_digit() || b == b'.') => time(field, v),
        _ => Ok(time(field, v)? / 1000),
    }
}

fn rfc3339(field: &'static str, s: &str) -> Result<u64, ParseError> {
    dnsledger_model::time::parse_datetime(s.trim())
        .ok_or_else(|| ParseError::new("bad time", format!("{field}: {s:?} is not RFC 3339")))
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let val = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes().chunks(2).map(|p| Some(val(*p.first()?)? << 4 | val(*p.get(1)?)?)).collect()
}

fn rrtype(v: &Num<'_>) -> Result<RrType, ParseError> {
    let unknown = || ParseError::new("unknown rrtype", v.to_string());
    match v {
        Num::U(n) => u16::try_from(*n).map(RrType).map_err(|_| unknown()),
        Num::I(_) | Num::F(_) => Err(unknown()),
        Num::S(s) => {
            let t = s.trim();
            if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
                return t.parse::<u16>().map(RrType).map_err(|_| unknown());
            }
            RrType::parse_bytes(t.as_bytes()).ok_or_else(unknown)
        }
    }
}

/// The sensor and zone time ranges a record carries (at least one of them).
type Times = (Option<(u64, u64)>, Option<(u64, u64)>);

fn pair(a: Option<u64>, b: Option<u64>) -> Option<(u64, u64)> {
    match (a, b) {
        (Some(a), Some(b)) => Some((a.min(b), a.max(b))),
        (Some(a), None) | (None, Some(a)) => Some((a, a)),
        (None, None) => None,
    }
}

fn times(rec: &Record<'_>) -> Result<Times, ParseError> {
    let opt = |field, v: &Option<Num<'_>>| v.as_ref().map(|v| time(field, v)).transpose();
    let sensor = if let Some(t) = &rec.time {
        let t = time("time", t)?;
        Some((t, t))
    } else if rec.time_first.is_some() || rec.time_last.is_some() {
        pair(opt("time_first", &rec.time_first)?, opt("time_last", &rec.time_last)?)
    } else if rec.time_first_ms.is_some() || rec.time_last_ms.is_some() {
        let ms = |field, v: &Option<Num<'_>>| v.as_ref().map(|v| time_ms(field, v)).transpose();
        pair(ms("time_first_ms", &rec.time_first_ms)?, ms("time_last_ms", &rec.time_last_ms)?)
    } else {
        let s = |field, v: &Option<JStr<'_>>| v.as_ref().map(|v| rfc3339(field, v)).transpose();
        pair(s("time_first_rfc3339", &rec.time_first_rfc3339)?, s("time_last_rfc3339", &rec.time_last_rfc3339)?)
    };
    let zone = pair(opt("zone_time_first", &rec.zone_time_first)?, opt("zone_time_last", &rec.zone_time_last)?);
    if sensor.is_none() && zone.is_none() {
        return Err(ParseError::new("missing field", "time (or time_first/time_last, zone_time_first/zone_time_last)"));
    }
    Ok((sensor, zone))
}

/// Parses `rdata` text items for `ty` into `obs.rdata`.
fn push_rdata(obs: &mut Observation, ty: RrType, items: &Strs<'_>) -> Result<(), ParseError> {
    for i in 0..items.len() {
        let item = items.get(i).unwrap_or_default();
        let rd = Rdata::parse(ty, item).map_err(|e| ParseError::new("bad rdata", format!("{e}: {item:?}")))?;
        obs.rdata.push(rd);
    }
    Ok(())
}

/// Fills `obs` from a record and emits it: once for sensor times, once for zone times (a record
/// with both adds its count once, to the sensor observation). Returns the number of emits.
/// `default_sensor` is used when the record names no sensor.
pub(crate) fn fill(
    rec: &Record<'_>,
    obs: &mut Observation,
    default_sensor: &Option<String>,
    emit: &mut dyn FnMut(&mut Observation),
) -> Result<u32, ParseError> {
    let mut rrname: &str = rec.rrname.as_deref().ok_or_else(|| ParseError::new("missing field", "rrname"))?;
    let ty = rrtype(rec.rrtype.as_ref().ok_or_else(|| ParseError::new("missing field", "rrtype"))?)?;
    obs.rrtype = ty;
    obs.rdata.clear();
    if let Some(r) = &rec.rdata {
        match (r, push_rdata(obs, ty, r)) {
            (_, Ok(())) => {}
            (Strs::One(s), Err(e)) => {
                // CIRCL's documented example swaps rrname and rdata; take it only when the
                // written reading is impossible and the swapped one is valid.
                match Rdata::parse(ty, rrname) {
                    Ok(rd) if Name::from_presentation(s).is_ok() => {
                        obs.rdata.push(rd);
                        rrname = s;
                    }
                    _ => return Err(e),
                }
            }
            (_, Err(e)) => return Err(e),
        }
    }
    obs.rrname
        .set_from_presentation(rrname.as_bytes())
        .map_err(|e| ParseError::new("bad rrname", format!("{e}: {rrname:?}")))?;
    if let Some(r) = &rec.raw_rdata {
        for i in 0..r.len() {
            let item = r.get(i).unwrap_or_default();
            let bytes = decode_hex(item)
                .ok_or_else(|| ParseError::new("bad rdata", format!("raw_rdata is not hex: {item:?}")))?;
            let rd = Rdata::from_wire(ty, &bytes).map_err(|e| ParseError::new("bad rdata", e.to_string()))?;
            obs.rdata.push(rd);
        }
    }
    match rec.bailiwick.as_deref() {
        None | Some("") => obs.bailiwick = None,
        Some(b) => {
            let bad = |e| ParseError::new("bad bailiwick", format!("{e}: {b:?}"));
            match &mut obs.bailiwick {
                Some(n) => n.set_from_presentation(b.as_bytes()).map_err(bad)?,
                None => obs.bailiwick = Some(Name::from_presentation(b).map_err(bad)?),
            }
        }
    }
    obs.negative = match rec.negative.as_deref() {
        None => None,
        Some(n) => Some(Negative::parse(n).ok_or_else(|| {
            ParseError::new("bad field", format!("negative: expected NXDOMAIN or NODATA, got {n:?}"))
        })?),
    };
    match (obs.negative.is_some(), obs.rdata.is_empty()) {
        (false, true) => return Err(ParseError::new("missing field", "rdata (or raw_rdata)")),
        (true, false) => return Err(ParseError::new("bad field", "negative: a negative answer has no rdata")),
        _ => {}
    }
    obs.ttl = match &rec.ttl {
        Some(t) => Some(u32::try_from(int("ttl", t)?).map_err(|_| ParseError::new("bad field", "ttl: above 2^32-1"))?),
        None => None,
    };
    let count = match &rec.count {
        Some(c) => int("count", c)?,
        None => 1,
    };
    if count == 0 {
        return Err(ParseError::new("bad field", "count: 0"));
    }
    let (sensor_times, zone_times) = times(rec)?;
    match rec.sensor.as_deref() {
        Some(s) if !s.is_empty() => {
            if obs.sensor.as_deref() != Some(s) {
                obs.sensor = Some(s.to_string());
            }
        }
        _ => {
            if obs.sensor != *default_sensor {
                obs.sensor.clone_from(default_sensor);
            }
        }
    }
    let mut n = 0;
    if let Some((a, b)) = sensor_times {
        obs.zone = false;
        obs.time_first = a;
        obs.time_last = b;
        obs.count = count;
        emit(obs);
        n += 1;
    }
    if let Some((a, b)) = zone_times {
        obs.zone = true;
        obs.time_first = a;
        obs.time_last = b;
        // a record carrying both kinds of time counts its sightings once
        obs.count = if n == 0 { count } else { 0 };
        emit(obs);
        n += 1;
    }
    Ok(n)
}

/// Reads one JSON object line into a [`Record`].
pub(crate) fn read_record(line: &[u8]) -> Result<Record<'_>, ParseError> {
    serde_json::from_slice(line).map_err(|e| ParseError::new("bad json", e.to_string()))
}

impl LineParser for NdjsonParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        let rec = read_record(line)?;
        fill(&rec, &mut self.obs, &self.sensor, emit).map(LineOutcome::Observations)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Vec<Observation>, ParseError> {
        let mut p = NdjsonParser::new(&SourceOptions { sensor: Some("default".into()), ..Default::default() });
        let mut out = Vec::new();
        p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()))?;
        Ok(out)
    }

    fn one(line: &str) -> Observation {
        let v = parse(line).unwrap_or_else(|e| panic!("{line}: {e}"));
        assert_eq!(v.len(), 1, "{line}");
        v.into_iter().next().unwrap_or_default()
    }

    fn rdata(o: &Observation) -> Vec<String> {
        o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect()
    }

    #[test]
    fn full_record() {
        let v = parse(r#"{"rrname":"WWW.Example.com","rrtype":"A","rdata":["192.0.2.2","192.0.2.1"],"bailiwick":"example.com","time":1704067200,"ttl":300,"count":3,"sensor":"fra-1"}"#).unwrap();
        assert_eq!(v.len(), 1);
        let o = &v[0];
        assert_eq!(o.rrname.to_string(), "www.example.com.");
        assert_eq!(o.rdata.len(), 2);
        assert_eq!(o.bailiwick.as_ref().unwrap().to_string(), "example.com.");
        assert_eq!((o.time_first, o.time_last, o.ttl, o.count), (1704067200, 1704067200, Some(300), 3));
        assert_eq!(o.sensor.as_deref(), Some("fra-1"));
    }

    #[test]
    fn cof_records_and_deviations() {
        // a COF record with both time kinds yields a sensor and a zone observation
        let v = parse(r#"{"count":5,"time_first":"1600000000","time_last":1700000000,"zone_time_first":1500000000,"zone_time_last":1500000100,"rrname":"x.example","rrtype":"NS","rdata":"ns1.example.net"}"#).unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].zone, v[0].time_first, v[0].time_last, v[0].count), (false, 1600000000, 1700000000, 5));
        assert_eq!((v[1].zone, v[1].time_first, v[1].count), (true, 1500000000, 0));
        assert_eq!(v[0].sensor.as_deref(), Some("default"));
        let v =
            parse(r#"{"rrname":"x.example","rrtype":28,"rdata":"2001:db8::1","time":"2024-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(v[0].rrtype, RrType::AAAA);
        assert_eq!(v[0].time_first, 1704067200);
        let v = parse(r#"{"rrname":"x.example","rrtype":"TYPE65280","raw_rdata":"0a0b","time":1.5}"#).unwrap();
        assert_eq!(v[0].rdata[0], Rdata::Wire(vec![10, 11]));
    }

    #[test]
    fn cof_numbers_as_strings() {
        // shaped like the CIRCL pdns service page example: every number a JSON string
        let o = one(
            r#"{"rrtype": "A", "rrname": "www.circl.example", "rdata": "192.0.2.14", "count": "19", "time_first": "1696798385", "time_last": "1697890824"}"#,
        );
        assert_eq!(o.rrname.to_string(), "www.circl.example.");
        assert_eq!(rdata(&o), ["192.0.2.14"]);
        assert_eq!((o.count, o.time_first, o.time_last, o.zone), (19, 1696798385, 1697890824, false));
        assert_eq!((o.bailiwick.is_none(), o.ttl), (true, None));
        // rrtype as a digit string, as a JSON number, as TYPE<n>
        assert_eq!(one(r#"{"rrname":"a.example","rrtype":"28","rdata":"2001:db8::1","time":1}"#).rrtype, RrType::AAAA);
        assert_eq!(one(r#"{"rrname":"a.example","rrtype":15,"rdata":"10 mx.example","time":1}"#).rrtype, RrType::MX);
        assert_eq!(one(r#"{"rrname":"a.example","rrtype":"type1","rdata":"192.0.2.1","time":1}"#).rrtype, RrType::A);
        assert_eq!(one(r#"{"rrname":"a.example","rrtype":"aaaa","rdata":"::1","time":1}"#).rrtype, RrType::AAAA);
        // ttl as a string; float and string-float times keep the seconds
        let o = one(
            r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","ttl":"300","time_first":1.9e9,"time_last":"1900000001.75"}"#,
        );
        assert_eq!((o.ttl, o.time_first, o.time_last), (Some(300), 1_900_000_000, 1_900_000_001));
    }

    #[test]
    fn cof_names_rdata_shapes_and_extra_fields() {
        // names without trailing dots, rdata embedded names without dots, array rdata
        let o = one(
            r#"{"rrname":"example.org","rrtype":"MX","rdata":["10 mx1.example.org","20 mx2.example.org."],"bailiwick":"example.org","time_first":10,"time_last":20}"#,
        );
        assert_eq!(o.rrname.to_string(), "example.org.");
        assert_eq!(rdata(&o), ["10 mx1.example.org.", "20 mx2.example.org."]);
        assert_eq!(o.bailiwick.as_ref().map(Name::to_string).as_deref(), Some("example.org."));
        // origin, sensor_id, unknown fields (objects, arrays, booleans) and nulls
        let o = one(
            r#"{"rrname":"a.example.","rrtype":"A","rdata":["192.0.2.1"],"time_first":1,"time_last":2,"origin":"https://pdns.example/query/","sensor_id":"circl-7","meta":{"x":[1,2,{"y":true}]},"futureField":null,"bailiwick":null,"ttl":null,"count":null}"#,
        );
        assert_eq!(o.sensor.as_deref(), Some("circl-7"));
        assert_eq!((o.count, o.ttl, o.bailiwick.is_none()), (1, None, true));
        // an empty bailiwick means unknown; an empty sensor falls back to the default
        let o = one(r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","time":5,"bailiwick":"","sensor":""}"#);
        assert_eq!((o.bailiwick.is_none(), o.sensor.as_deref()), (true, Some("default")));
        // escaped JSON strings (not borrowable) work the same
        let o = one(r#"{"rrname":"a\u002eexample","rrtype":"TXT","rdata":"\"v=spf1 -all\"","time":5}"#);
        assert_eq!(o.rrname.to_string(), "a.example.");
        assert_eq!(rdata(&o), ["\"v=spf1 -all\""]);
    }

    #[test]
    fn cof_alternative_times() {
        // COF additional fields: epoch milliseconds
        let o = one(
            r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","time_first_ms":1704067200123,"time_last_ms":"1704067260999"}"#,
        );
        assert_eq!((o.time_first, o.time_last), (1704067200, 1704067260));
        // PyPDNS's CIRCL extension fields
        let o = one(
            r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","time_first_rfc3339":"2024-01-01T00:00:00Z","time_last_rfc3339":"2024-01-02T00:00:00+00:00"}"#,
        );
        assert_eq!((o.time_first, o.time_last), (1704067200, 1704153600));
        // time_first/time_last (even as RFC 3339 strings) win over the alternative fields
        let o = one(
            r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","time_first":"2024-01-01T00:00:00Z","time_last":"2024-01-01T00:01:00Z","time_first_ms":5}"#,
        );
        assert_eq!((o.time_first, o.time_last), (1704067200, 1704067260));
        // reversed times are put in order
        let o = one(r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","time_first":20,"time_last":10}"#);
        assert_eq!((o.time_first, o.time_last), (10, 20));
        // zone times only
        let o = one(
            r#"{"rrname":"a.example","rrtype":"A","rdata":"192.0.2.1","zone_time_first":"7","zone_time_last":9,"count":4}"#,
        );
        assert_eq!((o.zone, o.time_first, o.time_last, o.count), (true, 7, 9, 4));
    }

    #[test]
    fn circl_swapped_rrname_and_rdata() {
        // shaped like the CIRCL service page's domain query example
        let o = one(
            r#"{"rrtype": "A", "rrname": "192.0.2.14", "rdata": "circl.example", "count": "19", "time_first": "1696798385", "time_last": "1697890824"}"#,
        );
        assert_eq!((o.rrname.to_string().as_str(), rdata(&o)), ("circl.example.", vec!["192.0.2.14".to_string()]));
        let o = one(
            r#"{"rrtype": "AAAA", "rrname": "2001:db8:93::14", "rdata": "circl.example", "count": "18", "time_first": "1", "time_last": "2"}"#,
        );
        assert_eq!((o.rrname.to_string().as_str(), rdata(&o)), ("circl.example.", vec!["2001:db8:93::14".to_string()]));
        let o = one(
            r#"{"rrtype": "MX", "rrname": "10 mx.circl.example", "rdata": "circl.example", "count": "149", "time_first": "1", "time_last": "2"}"#,
        );
        assert_eq!(
            (o.rrname.to_string().as_str(), rdata(&o)),
            ("circl.example.", vec!["10 mx.circl.example.".to_string()])
        );
        // name-valued types are taken as written (a swap is indistinguishable)
        let o = one(r#"{"rrtype": "NS", "rrname": "ns1.dns.example", "rdata": "circl.example", "time": 1}"#);
        assert_eq!(
            (o.rrname.to_string().as_str(), rdata(&o)),
            ("ns1.dns.example.", vec!["circl.example.".to_string()])
        );
        // no swap when both readings are impossible: the original error stands
        let e = parse(r#"{"rrtype": "A", "rrname": "host.example", "rdata": "circl.example", "time": 1}"#).unwrap_err();
        assert_eq!(e.reason, "bad rdata");
        assert!(e.detail.contains("circl.example"), "{e}");
        // arrays are never swapped
        let e = parse(r#"{"rrtype": "A", "rrname": "192.0.2.1", "rdata": ["circl.example"], "time": 1}"#).unwrap_err();
        assert_eq!(e.reason, "bad rdata");
    }

    #[test]
    fn rejections() {
        let reason = |l: &str| parse(l).unwrap_err().reason;
        assert_eq!(reason("{"), "bad json");
        assert_eq!(reason(r#"{"rrtype":"A","rdata":"1.2.3.4","time":1}"#), "missing field");
        assert_eq!(reason(r#"{"rrname":"a.","rdata":"1.2.3.4","time":1}"#), "missing field");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","time":1}"#), "missing field");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4"}"#), "missing field");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.999","time":1}"#), "bad rdata");
        assert_eq!(reason(r#"{"rrname":"a..b","rrtype":"A","rdata":"1.2.3.4","time":1}"#), "bad rrname");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"NOPE","rdata":"1.2.3.4","time":1}"#), "unknown rrtype");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"70000","rdata":"1.2.3.4","time":1}"#), "unknown rrtype");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":-1,"rdata":"1.2.3.4","time":1}"#), "unknown rrtype");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":"yesterday"}"#), "bad time");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":-5}"#), "bad time");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time_first_ms":"x"}"#), "bad time");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time_first_rfc3339":"5"}"#), "bad time");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1,"count":0}"#), "bad field");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1,"count":"many"}"#), "bad field");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1,"ttl":4294967296}"#), "bad field");
        assert_eq!(
            reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1,"bailiwick":"a..b"}"#),
            "bad bailiwick"
        );
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","raw_rdata":"zz","time":1}"#), "bad rdata");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","raw_rdata":"0a0","time":1}"#), "bad rdata");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":5,"time":1}"#), "bad json");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":[5],"time":1}"#), "bad json");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":[],"time":1}"#), "missing field");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","negative":"MAYBE","time":1}"#), "bad field");
        assert_eq!(
            reason(r#"{"rrname":"a.","rrtype":"A","negative":"NXDOMAIN","rdata":"1.2.3.4","time":1}"#),
            "bad field"
        );
        let v = parse(r#"{"rrname":"gone.example","rrtype":"AAAA","negative":"NODATA","time":5}"#).unwrap();
        assert_eq!(v[0].negative, Some(dnsledger_model::Negative::NoData));
        assert!(v[0].rdata.is_empty());
        assert_eq!(reason(r#"[1,2]"#), "bad json");
        assert_eq!(parse("   ").unwrap_or_default().len(), 0);
    }

    #[test]
    fn skips_blank_and_comment_lines() {
        let mut p = NdjsonParser::new(&SourceOptions::default());
        let mut n = 0;
        assert_eq!(p.parse_line(b"", &mut |_| n += 1), Ok(LineOutcome::Skipped("empty line")));
        assert_eq!(p.parse_line(b"# exported", &mut |_| n += 1), Ok(LineOutcome::Skipped("comment")));
        assert_eq!(n, 0);
    }

    #[test]
    fn mutated_lines_never_panic() {
        let samples = [
            r#"{"rrname":"WWW.Example.com","rrtype":"A","rdata":["192.0.2.2","192.0.2.1"],"bailiwick":"example.com","time":1704067200,"ttl":300,"count":3,"sensor":"fra-1"}"#,
            r#"{"count":5,"time_first":"1600000000","time_last":1700000000,"zone_time_first":1500000000,"zone_time_last":1500000100,"rrname":"x.example","rrtype":"NS","rdata":"ns1.example.net"}"#,
            r#"{"rrtype": "MX", "rrname": "10 mx.circl.example", "rdata": "circl.example", "count": "149", "time_first": "1", "time_last": "2"}"#,
            r#"{"rrname":"x.example","rrtype":"TYPE65280","raw_rdata":"0a0b","time_first_ms":1704067200123}"#,
        ];
        let mut p = NdjsonParser::new(&SourceOptions::default());
        crate::testing::mutate_all(&samples, 5000, |l| {
            let _ = p.parse_line(l, &mut |_| {});
        });
    }

    /// Nanoseconds this thread has run on a CPU (Linux schedstat; 0 elsewhere), so timings are
    /// not inflated by other processes on a busy machine.
    pub(crate) fn cpu_ns() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
            .unwrap_or(0)
    }

    /// Runs `f` `n` times; prints wall-clock and on-CPU nanoseconds per call.
    pub(crate) fn time_per_call(what: &str, n: u32, mut f: impl FnMut()) {
        let (t, c) = (std::time::Instant::now(), cpu_ns());
        for _ in 0..n {
            f();
        }
        let wall = t.elapsed().as_nanos() / u128::from(n);
        let cpu = (cpu_ns().saturating_sub(c)) / u64::from(n);
        println!("{what}: {cpu} ns/line on CPU ({wall} ns/line wall clock)");
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn speed() {
        let line = br#"{"rrname":"www.example.com.","rrtype":"A","rdata":["192.0.2.2","192.0.2.1"],"bailiwick":"example.com.","time_first":1704067200,"time_last":1704067300,"ttl":300,"count":3}"#;
        let mut p = NdjsonParser::new(&SourceOptions::default());
        time_per_call("ndjson", 300_000, || {
            let _ = p.parse_line(line, &mut |o| {
                std::hint::black_box(o);
            });
        });
    }
}
