//! gamelinux/passivedns logs: the default text layout (`-f SMcsCQTAtn`,
//! `ts||client||server||class||query||type||answer||ttl||count`) and the `-j` JSON lines.
//!
//! What passivedns writes, and what we make of it:
//! - `query` is the owner name of the answer RR (a CNAME target's A record is logged under
//!   the target), so it becomes the rrname; no bailiwick is known.
//! - The first six and the last two fields are split off first, so `||` inside a TXT answer
//!   does not shift columns.
//! - passivedns prints an MX answer as its exchange name only, without the preference. That
//!   rdata has no faithful wire form, so it is kept as text (see `Rdata::Text`) and still
//!   indexed under the exchange name. Other answers that do not parse strictly for their type
//!   are kept as text too, except for types whose syntax is unambiguous (A, AAAA, and the
//!   single-name types), which are rejected when malformed.
//! - Lines from the NXDOMAIN/error log (`-L`, answer `NXDOMAIN`, `SERVFAIL`, …) are negative
//!   answers: skipped and counted, since negative observations are not stored by this format.
//! - `count` is honoured; client and server addresses are not recorded (privacy).

use std::borrow::Cow;
use std::net::Ipv6Addr;

use dnsledger_model::{Name, Observation, Rdata, RrType};

use crate::{parse_u64, LineOutcome, LineParser, ParseError, SourceOptions};

/// rcode names passivedns writes in the answer field of its error log.
const RCODES: [&str; 10] =
    ["NXDOMAIN", "SERVFAIL", "REFUSED", "FORMERR", "NOTIMPL", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"];

/// Parser for passivedns text and JSON lines.
pub struct PassiveDnsParser {
    sensor: Option<String>,
    obs: Observation,
}

impl PassiveDnsParser {
    /// A parser recording `opts.sensor` with each observation.
    pub fn new(opts: &SourceOptions) -> PassiveDnsParser {
        PassiveDnsParser { sensor: opts.sensor.clone(), obs: Observation::default() }
    }
}

fn parse_text(line: &[u8], obs: &mut Observation) -> Result<Option<&'static str>, ParseError> {
    // The first six `||` separators, found with one vectorised scan for '|'.
    let mut f: [&[u8]; 6] = [&[]; 6];
    let mut n = 0;
    let mut start = 0;
    let mut bars = memchr::memchr_iter(b'|', line);
    while n < 6 {
        let Some(p) = bars.next() else {
            return Err(ParseError::new(
                "wrong field count",
                format!("found {} fields, expected 9 (passivedns -f SMcsCQTAtn)", n + 1),
            ));
        };
        if p < start || line.get(p + 1) != Some(&b'|') {
            continue;
        }
        f[n] = &line[start..p];
        n += 1;
        start = p + 2;
        bars.next();
    }
    let rest = &line[start..];
    let (rest, count) =
        rsplit(rest).ok_or_else(|| ParseError::new("wrong field count", "found 7 fields, expected 9"))?;
    let (answer, ttl) =
        rsplit(rest).ok_or_else(|| ParseError::new("wrong field count", "found 8 fields, expected 9"))?;
    let ts = parse_ts(f[0])?;
    let ttl = parse_u64(ttl).and_then(|t| u32::try_from(t).ok()).ok_or_else(|| bad("bad ttl", ttl))?;
    let count = parse_u64(count).ok_or_else(|| bad("bad count", count))?;
    fill(obs, ts, f[3], f[4], f[5], answer, ttl, count)
}

fn parse_json(line: &[u8], obs: &mut Observation) -> Result<Option<&'static str>, ParseError> {
    let j: JsonLine<'_> = serde_json::from_slice(line).map_err(|e| ParseError::new("bad json", e.to_string()))?;
    let class = j.class.as_deref().unwrap_or("IN");
    let ttl =
        u32::try_from(j.ttl.unwrap_or(0)).map_err(|_| ParseError::new("bad ttl", j.ttl.unwrap_or(0).to_string()))?;
    fill(
        obs,
        j.timestamp_s,
        class.as_bytes(),
        j.query.as_bytes(),
        j.rrtype.as_bytes(),
        j.answer.as_bytes(),
        ttl,
        j.count.unwrap_or(1),
    )
}

#[derive(serde::Deserialize)]
struct JsonLine<'a> {
    timestamp_s: u64,
    #[serde(borrow, default)]
    class: Option<Cow<'a, str>>,
    #[serde(borrow)]
    query: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    rrtype: Cow<'a, str>,
    #[serde(borrow)]
    answer: Cow<'a, str>,
    #[serde(default)]
    ttl: Option<u64>,
    #[serde(default)]
    count: Option<u64>,
}

impl LineParser for PassiveDnsParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        let obs = &mut self.obs;
        let r = if line[0] == b'{' { parse_json(line, obs) } else { parse_text(line, obs) };
        match r? {
            None => {
                if obs.sensor != self.sensor {
                    obs.sensor.clone_from(&self.sensor);
                }
                emit(obs);
                Ok(LineOutcome::Observations(1))
            }
            Some(skip) => Ok(LineOutcome::Skipped(skip)),
        }
    }
}

fn bad(reason: &'static str, value: &[u8]) -> ParseError {
    ParseError::new(reason, format!("{:?}", String::from_utf8_lossy(value)))
}

/// Splits at the last `||`: (before, after).
fn rsplit(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let p = memchr::memmem::rfind(b, b"||")?;
    Some((&b[..p], &b[p + 2..]))
}

/// `sec.usec` → seconds.
fn parse_ts(b: &[u8]) -> Result<u64, ParseError> {
    let int = match memchr::memchr(b'.', b) {
        Some(p) => {
            if !b[p + 1..].iter().all(u8::is_ascii_digit) {
                return Err(bad("bad timestamp", b));
            }
            &b[..p]
        }
        None => b,
    };
    parse_u64(int).ok_or_else(|| bad("bad timestamp", b))
}

/// Fills `obs` from the fields common to both layouts; `Ok(Some(reason))` means skip the line.
#[allow(clippy::too_many_arguments)]
fn fill(
    obs: &mut Observation,
    ts: u64,
    class: &[u8],
    query: &[u8],
    rrtype: &[u8],
    answer: &[u8],
    ttl: u32,
    count: u64,
) -> Result<Option<&'static str>, ParseError> {
    if !class.eq_ignore_ascii_case(b"IN") {
        return Err(bad("unsupported class", class));
    }
    let rrtype = RrType::parse_bytes(rrtype).ok_or_else(|| bad("unknown rrtype", rrtype))?;
    if answer.first().is_some_and(u8::is_ascii_uppercase) && RCODES.iter().any(|r| r.as_bytes() == answer) {
        return Ok(Some("negative answer"));
    }
    if count == 0 {
        return Err(ParseError::new("bad count", "0"));
    }
    obs.rrname
        .set_from_presentation(query)
        .map_err(|e| ParseError::new("bad rrname", format!("{e}: {:?}", String::from_utf8_lossy(query))))?;
    obs.rrtype = rrtype;
    obs.bailiwick = None;
    obs.time_first = ts;
    obs.time_last = ts;
    obs.zone = false;
    obs.ttl = Some(ttl);
    obs.count = count;
    set_rdata(obs, rrtype, answer)?;
    Ok(None)
}

/// The wire buffer of `obs`'s single rdata item, cleared, re-using its allocation.
fn single_wire(obs: &mut Observation) -> &mut Vec<u8> {
    obs.rdata.truncate(1);
    if !matches!(obs.rdata.first(), Some(Rdata::Wire(_))) {
        obs.rdata.clear();
        obs.rdata.push(Rdata::Wire(Vec::new()));
    }
    match &mut obs.rdata[0] {
        Rdata::Wire(w) => {
            w.clear();
            w
        }
        Rdata::Text(_) => unreachable!("set to Wire above"),
    }
}

/// Parses a dotted-quad IPv4 address exactly as `std` does (no leading zeros), from bytes.
fn parse_ipv4(b: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = b.split(|&c| c == b'.');
    for slot in out.iter_mut() {
        let p = parts.next()?;
        if p.is_empty() || p.len() > 3 || (p.len() > 1 && p[0] == b'0') || !p.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let v = p.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32);
        *slot = u8::try_from(v).ok()?;
    }
    parts.next().is_none().then_some(out)
}

fn set_rdata(obs: &mut Observation, rrtype: RrType, answer: &[u8]) -> Result<(), ParseError> {
    let bad_rdata =
        |why: String| ParseError::new("bad rdata", format!("{rrtype} {:?}: {why}", String::from_utf8_lossy(answer)));
    match rrtype {
        RrType::A => {
            let ip = parse_ipv4(answer).ok_or_else(|| bad_rdata("not an IPv4 address".into()))?;
            single_wire(obs).extend_from_slice(&ip);
        }
        RrType::AAAA => {
            let ip: Ipv6Addr = std::str::from_utf8(answer)
                .ok()
                .and_then(|a| a.parse().ok())
                .ok_or_else(|| bad_rdata("not an IPv6 address".into()))?;
            single_wire(obs).extend_from_slice(&ip.octets());
        }
        RrType::CNAME | RrType::NS | RrType::PTR | RrType::DNAME => {
            let wire = single_wire(obs);
            let mut name = Name::root();
            name.set_from_presentation(answer).map_err(|e| bad_rdata(e.to_string()))?;
            wire.extend_from_slice(name.as_wire());
        }
        _ => {
            let text = std::str::from_utf8(answer).map_err(|_| bad_rdata("not UTF-8".into()))?;
            let rd = match Rdata::parse(rrtype, text) {
                Ok(r) => r,
                Err(_) => lossy_text(rrtype, text).ok_or_else(|| bad_rdata("empty".into()))?,
            };
            obs.rdata.clear();
            obs.rdata.push(rd);
        }
    }
    Ok(())
}

/// Rdata a lossy log gave that does not parse for its type, kept as text: name-only answers of
/// name-bearing types (an MX exchange without preference) normalised as names, others trimmed.
fn lossy_text(rrtype: RrType, answer: &str) -> Option<Rdata> {
    let trimmed = answer.trim();
    if trimmed.is_empty() {
        return None;
    }
    let text = match Name::from_presentation(trimmed) {
        Ok(n) if dnsledger_model::rdata::has_indexed_name(rrtype) && !trimmed.contains(char::is_whitespace) => {
            n.to_presentation()
        }
        _ => trimmed.to_string(),
    };
    Some(Rdata::Text(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> Result<(LineOutcome, Vec<Observation>), ParseError> {
        let mut p = PassiveDnsParser::new(&SourceOptions { sensor: Some("s1".into()), ..Default::default() });
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()))?;
        Ok((r, out))
    }

    fn one(line: &str) -> Observation {
        let (r, mut v) = parse(line).unwrap();
        assert_eq!(r, LineOutcome::Observations(1));
        v.pop().unwrap()
    }

    #[test]
    fn corpus_lines() {
        let o = one("1795715119.357901||127.53.0.2||127.53.0.1||IN||shop.zuhubto.midata-raka.org.||CNAME||lovisys-exba.org.||30||1");
        assert_eq!(o.rrname.to_string(), "shop.zuhubto.midata-raka.org.");
        assert_eq!(o.rrtype, RrType::CNAME);
        assert_eq!(o.rdata[0], Rdata::name(&Name::from_presentation("lovisys-exba.org").unwrap()));
        assert_eq!((o.time_first, o.ttl, o.count), (1795715119, Some(30), 1));
        assert_eq!(o.sensor.as_deref(), Some("s1"));
        let a = one(
            "1795715145.958936||127.53.0.3||127.53.0.2||IN||mail77.bahubsoft-datami.fr.||A||91.202.37.238||300||11",
        );
        assert_eq!(a.rdata[0], Rdata::Wire(vec![91, 202, 37, 238]));
        assert_eq!(a.count, 11);
        let v6 = one("1704067200.000000||127.0.0.1||127.0.0.53||IN||x.example.||AAAA||2001:db8::1||300||1");
        assert_eq!(v6.rdata[0].ip(RrType::AAAA).unwrap().to_string(), "2001:db8::1");
    }

    #[test]
    fn mx_without_preference_is_kept_as_text() {
        let o = one("1795715119.359323||127.53.0.2||127.53.0.1||IN||www47.lovisys-exba.org.||MX||Mail.lovisys-exba.org.||300||1");
        assert_eq!(o.rdata[0], Rdata::Text("mail.lovisys-exba.org.".into()));
        // a full MX (as other tools write it) parses to wire format
        let full = one("1||a||b||IN||x.example.||MX||10 mail.example.||300||1");
        assert!(matches!(full.rdata[0], Rdata::Wire(_)));
    }

    #[test]
    fn txt_with_separator_inside() {
        let o = one("1||a||b||IN||t.example.||TXT||\"a||b\"||60||2");
        assert_eq!(o.rdata[0].to_presentation(RrType::TXT), "\"a||b\"");
        assert_eq!(o.count, 2);
    }

    #[test]
    fn json_lines() {
        let o = one(
            r#"{"timestamp_s":1795715119,"timestamp_ms":357901,"client":"127.53.0.2","server":"127.53.0.1","class":"IN","query":"shop.zuhubto.midata-raka.org.","type":"CNAME","answer":"lovisys-exba.org.","ttl":30,"count":1}"#,
        );
        assert_eq!(o.rrtype, RrType::CNAME);
        assert_eq!(o.time_first, 1795715119);
        let (r, v) = parse(r#"{"timestamp_s":1795715119,"timestamp_ms":359327,"client":"127.53.0.2","server":"127.53.0.1","class":"IN","query":"nx791159-racloud.exto-syslab.net.","type":"A","answer":"NXDOMAIN","ttl":0,"count":1}"#).unwrap();
        assert_eq!(r, LineOutcome::Skipped("negative answer"));
        assert!(v.is_empty());
    }

    #[test]
    fn rejects_with_reasons() {
        let reason = |l: &str| parse(l).unwrap_err().reason;
        assert_eq!(reason("1||a||b||IN||x.||A||1.2.3||300||1"), "bad rdata");
        assert_eq!(reason("1||a||b||IN||x.||A||1.2.3.4||300"), "wrong field count");
        assert_eq!(reason("1||a||b"), "wrong field count");
        assert_eq!(reason("x||a||b||IN||x.||A||1.2.3.4||300||1"), "bad timestamp");
        assert_eq!(reason("1.x||a||b||IN||x.||A||1.2.3.4||300||1"), "bad timestamp");
        assert_eq!(reason("1||a||b||CH||x.||A||1.2.3.4||300||1"), "unsupported class");
        assert_eq!(reason("1||a||b||IN||x..||A||1.2.3.4||300||1"), "bad rrname");
        assert_eq!(reason("1||a||b||IN||x.||BOGUS||1.2.3.4||300||1"), "unknown rrtype");
        assert_eq!(reason("1||a||b||IN||x.||A||1.2.3.4||-1||1"), "bad ttl");
        assert_eq!(reason("1||a||b||IN||x.||A||1.2.3.4||300||0"), "bad count");
        assert_eq!(reason("1||a||b||IN||x.||CNAME||a..b||300||1"), "bad rdata");
        assert_eq!(reason("{\"timestamp_s\":1"), "bad json");
        assert_eq!(parse("").unwrap().0, LineOutcome::Skipped("empty line"));
        assert_eq!(parse("# header").unwrap().0, LineOutcome::Skipped("comment"));
    }

    #[test]
    fn ipv4_parsing_matches_std() {
        for t in ["0.0.0.0", "255.255.255.255", "1.2.3.4", "192.0.2.10"] {
            assert_eq!(parse_ipv4(t.as_bytes()), Some(t.parse::<std::net::Ipv4Addr>().unwrap().octets()), "{t}");
        }
        for t in ["256.1.1.1", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1..2.3", "", "a.b.c.d", "1.2.3.4 ", "1234.1.1.1"] {
            assert_eq!(parse_ipv4(t.as_bytes()), None, "{t}");
            assert!(t.parse::<std::net::Ipv4Addr>().is_err(), "{t}");
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut seed = 0x2545f4914f6cdd1du64;
        let alphabet = b"|||.IN A 0123456789abcdef:\\\"{}x\xff\x00 ";
        for _ in 0..20000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let len = (seed % 90) as usize;
            let line: Vec<u8> =
                (0..len).map(|i| alphabet[((seed >> (i % 60)) as usize + i) % alphabet.len()]).collect();
            let mut p = PassiveDnsParser::new(&SourceOptions::default());
            let _ = p.parse_line(&line, &mut |_| {});
        }
    }
}
