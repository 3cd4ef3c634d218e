//! dnsledger's own NDJSON observation format (one JSON object per line), documented in
//! `docs/formats.md`. It is a superset of a COF record, so COF exports import as they are.
//!
//! ```json
//! {"rrname":"www.example.com.","rrtype":"A","rdata":["192.0.2.1","192.0.2.2"],
//!  "bailiwick":"example.com.","time":1704067200,"ttl":300,"count":1,"sensor":"fra-1"}
//! ```

use std::borrow::Cow;

use dnsledger_model::{Name, Negative, Observation, Rdata, RrType};

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

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Num<'a> {
    U(u64),
    F(f64),
    #[serde(borrow)]
    S(Cow<'a, str>),
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum OneOrMany<'a> {
    #[serde(borrow)]
    One(Cow<'a, str>),
    #[serde(borrow)]
    Many(Vec<Cow<'a, str>>),
}

impl OneOrMany<'_> {
    fn items(&self) -> Vec<&str> {
        match self {
            OneOrMany::One(s) => vec![s.as_ref()],
            OneOrMany::Many(v) => v.iter().map(|s| s.as_ref()).collect(),
        }
    }
}

#[derive(serde::Deserialize)]
struct Line<'a> {
    #[serde(borrow)]
    rrname: Option<Cow<'a, str>>,
    #[serde(borrow)]
    rrtype: Option<Num<'a>>,
    #[serde(borrow)]
    rdata: Option<OneOrMany<'a>>,
    #[serde(borrow, alias = "rdata_raw")]
    raw_rdata: Option<OneOrMany<'a>>,
    #[serde(borrow)]
    bailiwick: Option<Cow<'a, str>>,
    #[serde(borrow)]
    negative: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Num<'a>>,
    #[serde(borrow)]
    time_first: Option<Num<'a>>,
    #[serde(borrow)]
    time_last: Option<Num<'a>>,
    #[serde(borrow)]
    zone_time_first: Option<Num<'a>>,
    #[serde(borrow)]
    zone_time_last: Option<Num<'a>>,
    #[serde(borrow)]
    ttl: Option<Num<'a>>,
    #[serde(borrow)]
    count: Option<Num<'a>>,
    #[serde(borrow, alias = "sensor_id")]
    sensor: Option<Cow<'a, str>>,
}

fn int(field: &'static str, v: &Num<'_>) -> Result<u64, ParseError> {
    let bad = || ParseError::new("bad field", format!("{field}: expected a non-negative integer"));
    match v {
        Num::U(u) => Ok(*u),
        Num::F(f) if *f >= 0.0 && f.is_finite() && *f < 1.8e19 => Ok(*f as u64),
        Num::F(_) => Err(bad()),
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

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let val = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    s.as_bytes().chunks(2).map(|p| Some(val(p[0])? << 4 | val(p[1])?)).collect()
}

impl LineParser for NdjsonParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        let l: Line<'_> = serde_json::from_slice(line).map_err(|e| ParseError::new("bad json", e.to_string()))?;
        let obs = &mut self.obs;
        let rrname = l.rrname.as_deref().ok_or_else(|| ParseError::new("missing field", "rrname"))?;
        obs.rrname
            .set_from_presentation(rrname.as_bytes())
            .map_err(|e| ParseError::new("bad rrname", format!("{e}: {rrname:?}")))?;
        obs.rrtype = match l.rrtype.as_ref().ok_or_else(|| ParseError::new("missing field", "rrtype"))? {
            Num::U(n) => RrType(u16::try_from(*n).map_err(|_| ParseError::new("unknown rrtype", n.to_string()))?),
            Num::F(f) => return Err(ParseError::new("unknown rrtype", f.to_string())),
            Num::S(s) => RrType::parse(s).map_err(|_| ParseError::new("unknown rrtype", format!("{s:?}")))?,
        };
        obs.bailiwick = match l.bailiwick.as_deref() {
            None | Some("") => None,
            Some(b) => {
                Some(Name::from_presentation(b).map_err(|e| ParseError::new("bad bailiwick", format!("{e}: {b:?}")))?)
            }
        };
        obs.rdata.clear();
        if let Some(r) = &l.rdata {
            for item in r.items() {
                let rd = Rdata::parse(obs.rrtype, item)
                    .map_err(|e| ParseError::new("bad rdata", format!("{e}: {item:?}")))?;
                obs.rdata.push(rd);
            }
        }
        if let Some(r) = &l.raw_rdata {
            for item in r.items() {
                let bytes = decode_hex(item)
                    .ok_or_else(|| ParseError::new("bad rdata", format!("raw_rdata is not hex: {item:?}")))?;
                let rd =
                    Rdata::from_wire(obs.rrtype, &bytes).map_err(|e| ParseError::new("bad rdata", e.to_string()))?;
                obs.rdata.push(rd);
            }
        }
        obs.negative = match l.negative.as_deref() {
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
        obs.ttl = match &l.ttl {
            Some(t) => {
                Some(u32::try_from(int("ttl", t)?).map_err(|_| ParseError::new("bad field", "ttl: above 2^32-1"))?)
            }
            None => None,
        };
        let count = match &l.count {
            Some(c) => int("count", c)?,
            None => 1,
        };
        if count == 0 {
            return Err(ParseError::new("bad field", "count: 0"));
        }
        let sensor_times = match (&l.time, &l.time_first, &l.time_last) {
            (Some(t), _, _) => {
                let t = time("time", t)?;
                Some((t, t))
            }
            (None, Some(a), Some(b)) => Some((time("time_first", a)?, time("time_last", b)?)),
            (None, Some(a), None) | (None, None, Some(a)) => {
                let t = time("time_first/time_last", a)?;
                Some((t, t))
            }
            (None, None, None) => None,
        };
        let zone_times = match (&l.zone_time_first, &l.zone_time_last) {
            (Some(a), Some(b)) => Some((time("zone_time_first", a)?, time("zone_time_last", b)?)),
            (Some(a), None) | (None, Some(a)) => {
                let t = time("zone_time_first/zone_time_last", a)?;
                Some((t, t))
            }
            (None, None) => None,
        };
        if sensor_times.is_none() && zone_times.is_none() {
            return Err(ParseError::new(
                "missing field",
                "time (or time_first/time_last, zone_time_first/zone_time_last)",
            ));
        }
        match l.sensor.as_deref() {
            Some(s) if !s.is_empty() => {
                if obs.sensor.as_deref() != Some(s) {
                    obs.sensor = Some(s.to_string());
                }
            }
            _ => {
                if obs.sensor != self.sensor {
                    obs.sensor.clone_from(&self.sensor);
                }
            }
        }
        let mut n = 0;
        if let Some((a, b)) = sensor_times {
            obs.zone = false;
            obs.time_first = a.min(b);
            obs.time_last = a.max(b);
            obs.count = count;
            emit(obs);
            n += 1;
        }
        if let Some((a, b)) = zone_times {
            obs.zone = true;
            obs.time_first = a.min(b);
            obs.time_last = a.max(b);
            // a record carrying both kinds of time counts its sightings once
            obs.count = if n == 0 { count } else { 0 };
            emit(obs);
            n += 1;
        }
        Ok(LineOutcome::Observations(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<Vec<Observation>, ParseError> {
        let mut p = NdjsonParser::new(&SourceOptions { sensor: Some("default".into()) });
        let mut out = Vec::new();
        p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()))?;
        Ok(out)
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
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":"yesterday"}"#), "bad time");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":-5}"#), "bad time");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1,"count":0}"#), "bad field");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","raw_rdata":"zz","time":1}"#), "bad rdata");
        assert_eq!(reason(r#"{"rrname":"a.","rrtype":"A","negative":"MAYBE","time":1}"#), "bad field");
        assert_eq!(
            reason(r#"{"rrname":"a.","rrtype":"A","negative":"NXDOMAIN","rdata":"1.2.3.4","time":1}"#),
            "bad field"
        );
        let v = parse(r#"{"rrname":"gone.example","rrtype":"AAAA","negative":"NODATA","time":5}"#).unwrap();
        assert_eq!(v[0].negative, Some(dnsledger_model::Negative::NoData));
        assert!(v[0].rdata.is_empty());
        assert_eq!(reason(r#"[1,2]"#), "bad json");
    }
}
