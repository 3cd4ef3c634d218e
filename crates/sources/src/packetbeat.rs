//! Packetbeat DNS transaction events (Elastic Beats, `packetbeat/protos/dns/dns.go`
//! `publishTransaction`/`addDNSToMapStr`/`rrToMapStr`; fields as in the Packetbeat reference
//! "DNS fields" and the ECS `dns.*` field set), one JSON event per line as Packetbeat's file
//! output, Logstash or an Elasticsearch export writes them.
//!
//! Both layouts are read: ECS (Beats 7.x/8.x: `@timestamp`, `type:"dns"`, `event.dataset`,
//! `network.protocol:"dns"`, `dns.type:"answer"|"query"`, names without the trailing dot) and
//! the older one (Beats 5.x/6.x: no `dns.type`, names with the trailing dot, `bytes_out` only
//! when a response was seen). The parts used:
//! `dns.question.{name,type,class}`, `dns.op_code`, `dns.response_code`,
//! `dns.flags.{authoritative,recursion_available,truncated_response}` and
//! `dns.answers[]` `{name, type, class, ttl, data}` with the extra fields of MX
//! (`preference`), SRV (`priority`, `weight`, `port`) and SOA (`rname`, `serial`, `refresh`,
//! `retry`, `expire`, `minimum`), from which those records are rebuilt in full. `ttl` is a
//! string (`"300"`) as Packetbeat writes it, or a number after an ingest pipeline.
//!
//! What an event turns into: the answer chain only (records owned by the question name or a
//! CNAME target reached from it), one observation per (owner, type) RRset with the smallest
//! TTL; `dns.authorities`/`dns.additionals` are ignored (no zone is known; no bailiwick).
//! Names are miekg/dns presentation text (`\DDD` escapes). A TXT record's strings are joined
//! by blanks in `data`: text of at most 255 octets is kept as one string, longer text (which
//! must have been several strings) as [`dnsledger_model::Rdata::Text`]. Records of other types
//! (DNSKEY, DS, RRSIG, NSEC*, and unknown types that Packetbeat prints as raw bytes) are left
//! out. Negative answers as in [`crate::suricata`] (NXDOMAIN at the end of the chain, NODATA
//! for an empty authoritative or recursive NOERROR) when `SourceOptions::negative` is set.
//!
//! Skipped: events of other protocols (`not a dns event`), transactions without a response,
//! opcodes other than QUERY, classes other than IN. Time: `@timestamp` (the request's time).
//! Sensor: `SourceOptions::sensor`, else the first of `host.name`, `observer.hostname`,
//! `agent.hostname`, `beat.hostname` (the machine Packetbeat ran on).

use std::fmt::Write as _;

use dnsledger_model::{Observation, Rdata, RrType};

use crate::sensorlog::{
    finish_response, has_key, has_kv, json_text, missing, parse_time, rrtype_of, set_base, wire, Escapes, Outcome,
    Rcode, Rrsets, Scalar, Text,
};
use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// Parser for Packetbeat DNS events.
pub struct PacketbeatParser {
    sensor: Option<String>,
    negative: bool,
    obs: Observation,
    sets: Rrsets,
    text: String,
    bytes: Vec<u8>,
}

impl PacketbeatParser {
    /// A parser honouring `opts.sensor` and `opts.negative`.
    pub fn new(opts: &SourceOptions) -> PacketbeatParser {
        PacketbeatParser {
            sensor: opts.sensor.clone(),
            negative: opts.negative,
            obs: Observation::default(),
            sets: Rrsets::default(),
            text: String::new(),
            bytes: Vec::new(),
        }
    }
}

#[derive(serde::Deserialize)]
struct Event<'a> {
    #[serde(borrow, rename = "@timestamp")]
    timestamp: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    event: Option<EventField<'a>>,
    #[serde(borrow)]
    network: Option<Network<'a>>,
    #[serde(borrow)]
    dns: Option<Dns<'a>>,
    bytes_out: Option<serde::de::IgnoredAny>,
    #[serde(borrow)]
    host: Option<Hostname<'a>>,
    #[serde(borrow)]
    observer: Option<Hostname<'a>>,
    #[serde(borrow)]
    agent: Option<Hostname<'a>>,
    #[serde(borrow)]
    beat: Option<Hostname<'a>>,
}

#[derive(serde::Deserialize)]
struct EventField<'a> {
    #[serde(borrow)]
    dataset: Option<Text<'a>>,
}

#[derive(serde::Deserialize)]
struct Network<'a> {
    #[serde(borrow)]
    protocol: Option<Text<'a>>,
}

/// `host`, `observer`, `agent`, `beat`: their name fields. An object, or (as Logstash's beats
/// input used to write `host`) a plain string, taken as the name.
#[derive(Default)]
struct Hostname<'a> {
    name: Option<Text<'a>>,
    hostname: Option<Text<'a>>,
}

impl<'de: 'a, 'a> serde::Deserialize<'de> for Hostname<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for V<'a> {
            type Value = Hostname<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object or a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Hostname<'a>, E> {
                Ok(Hostname { name: Some(Text(std::borrow::Cow::Borrowed(v))), hostname: None })
            }
            fn visit_str<E>(self, v: &str) -> Result<Hostname<'a>, E> {
                Ok(Hostname { name: Some(Text(std::borrow::Cow::Owned(v.to_string()))), hostname: None })
            }
            fn visit_unit<E>(self) -> Result<Hostname<'a>, E> {
                Ok(Hostname::default())
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(self, mut m: M) -> Result<Hostname<'a>, M::Error> {
                let mut h = Hostname::default();
                while let Some(k) = m.next_key::<Text<'de>>()? {
                    match &*k {
                        "name" => h.name = m.next_value()?,
                        "hostname" => h.hostname = m.next_value()?,
                        _ => {
                            m.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                }
                Ok(h)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(serde::Deserialize)]
struct Dns<'a> {
    #[serde(borrow, rename = "type")]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    op_code: Option<Text<'a>>,
    #[serde(borrow)]
    response_code: Option<Text<'a>>,
    flags: Option<Flags>,
    #[serde(borrow)]
    question: Option<Question<'a>>,
    #[serde(borrow)]
    answers: Option<Vec<Answer<'a>>>,
}

#[derive(serde::Deserialize)]
struct Flags {
    #[serde(default)]
    authoritative: bool,
    #[serde(default)]
    recursion_available: bool,
    #[serde(default)]
    truncated_response: bool,
}

#[derive(serde::Deserialize)]
struct Question<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    rrtype: Option<Text<'a>>,
    #[serde(borrow)]
    class: Option<Text<'a>>,
}

#[derive(serde::Deserialize)]
struct Answer<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow, rename = "type")]
    rrtype: Option<Text<'a>>,
    #[serde(borrow)]
    class: Option<Text<'a>>,
    #[serde(borrow)]
    ttl: Option<Scalar<'a>>,
    #[serde(borrow)]
    data: Option<Text<'a>>,
    #[serde(borrow)]
    preference: Option<Scalar<'a>>,
    #[serde(borrow)]
    priority: Option<Scalar<'a>>,
    #[serde(borrow)]
    weight: Option<Scalar<'a>>,
    #[serde(borrow)]
    port: Option<Scalar<'a>>,
    #[serde(borrow)]
    rname: Option<Text<'a>>,
    #[serde(borrow)]
    serial: Option<Scalar<'a>>,
    #[serde(borrow)]
    refresh: Option<Scalar<'a>>,
    #[serde(borrow)]
    retry: Option<Scalar<'a>>,
    #[serde(borrow)]
    expire: Option<Scalar<'a>>,
    #[serde(borrow)]
    minimum: Option<Scalar<'a>>,
}

/// A miekg/dns name in presentation text (Packetbeat ≥ 7 drops the trailing dot; the root is "").
fn pname(s: &str) -> &str {
    if s.is_empty() {
        "."
    } else {
        s
    }
}

/// Decodes miekg/dns character-string escapes (`\DDD`, `\X`) into `out`.
fn unescape_text(s: &[u8], out: &mut Vec<u8>) {
    let mut i = 0;
    while let Some(&c) = s.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        match s.get(i + 1..i + 4) {
            Some(d) if d.iter().all(u8::is_ascii_digit) => {
                let v = d.iter().fold(0u32, |a, &c| a * 10 + (c - b'0') as u32);
                out.push(u8::try_from(v).unwrap_or(b'?'));
                i += 4;
            }
            _ => match s.get(i + 1) {
                Some(b't') => {
                    out.push(b'\t');
                    i += 2;
                }
                Some(b'r') => {
                    out.push(b'\r');
                    i += 2;
                }
                Some(b'n') => {
                    out.push(b'\n');
                    i += 2;
                }
                Some(&x) => {
                    out.push(x);
                    i += 2;
                }
                None => {
                    out.push(b'\\');
                    i += 1;
                }
            },
        }
    }
}

/// Presentation text for one answer of a type with extra fields; `None` for types whose data
/// is taken as it is, `Err` if a field the type needs is missing.
fn composed<'t>(a: &Answer<'_>, rrtype: RrType, data: &str, text: &'t mut String) -> Result<Option<&'t str>, String> {
    let need = |v: &Option<Scalar<'_>>, f: &str| v.as_ref().and_then(Scalar::as_u64).ok_or_else(|| format!("no {f}"));
    text.clear();
    match rrtype {
        RrType::MX => match a.preference.as_ref().and_then(Scalar::as_u64) {
            Some(p) => {
                let _ = write!(text, "{p} {}", pname(data));
            }
            None => return Ok(None), // the exchange alone: kept as text
        },
        RrType::SRV => {
            let (p, w, port) = (need(&a.priority, "priority")?, need(&a.weight, "weight")?, need(&a.port, "port")?);
            let _ = write!(text, "{p} {w} {port} {}", pname(data));
        }
        RrType::SOA => {
            let rname = a.rname.as_deref().ok_or("no rname")?;
            let _ = write!(
                text,
                "{} {} {} {} {} {} {}",
                pname(data),
                pname(rname),
                need(&a.serial, "serial")?,
                need(&a.refresh, "refresh")?,
                need(&a.retry, "retry")?,
                need(&a.expire, "expire")?,
                need(&a.minimum, "minimum")?
            );
        }
        _ => return Ok(None),
    }
    Ok(Some(text))
}

/// Types whose data Packetbeat prints as text we can read.
fn supported(t: RrType) -> bool {
    matches!(
        t,
        RrType::A
            | RrType::AAAA
            | RrType::CNAME
            | RrType::NS
            | RrType::PTR
            | RrType::MX
            | RrType::SRV
            | RrType::SOA
            | RrType::TXT
            | RrType::SPF
    )
}

impl PacketbeatParser {
    /// Adds one answer record.
    fn add(&mut self, a: &Answer<'_>) -> Result<(), ParseError> {
        let (Some(name), Some(t)) = (a.name.as_deref(), a.rrtype.as_deref()) else {
            return Err(missing("dns.answers[].name/type"));
        };
        let rrtype = rrtype_of(t.as_bytes()).ok_or_else(|| ParseError::new("unknown rrtype", format!("{t:?}")))?;
        if !supported(rrtype) || a.class.as_deref().is_some_and(|c| c != "IN") {
            return Ok(());
        }
        let data = a.data.as_deref().ok_or_else(|| missing("dns.answers[].data"))?;
        let owner = self
            .sets
            .owner(pname(name).as_bytes(), Escapes::Presentation)
            .map_err(|e| ParseError::new("bad rrname", format!("{e}: {name:?}")))?;
        let ttl = a.ttl.as_ref().and_then(Scalar::as_u64).map(|t| u32::try_from(t).unwrap_or(u32::MAX));
        let bad = |why: String| ParseError::new("bad rdata", format!("{rrtype} {data:?}: {why}"));
        if matches!(rrtype, RrType::TXT | RrType::SPF) {
            self.bytes.clear();
            unescape_text(data.as_bytes(), &mut self.bytes);
            match u8::try_from(self.bytes.len()) {
                Ok(len) => {
                    let w = wire(self.sets.push(owner, rrtype, ttl));
                    w.push(len);
                    w.extend_from_slice(&self.bytes);
                }
                Err(_) => *self.sets.push(owner, rrtype, ttl) = Rdata::Text(data.to_string()),
            }
            return Ok(());
        }
        let text = match composed(a, rrtype, data, &mut self.text).map_err(bad)? {
            Some(t) => t,
            None => pname(data),
        };
        self.sets.push_text(owner, rrtype, ttl, text.as_bytes(), Escapes::Presentation).map_err(bad)
    }
}

impl LineParser for PacketbeatParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        let ev: Event<'_> =
            serde_json::from_str(json_text(line)?).map_err(|e| ParseError::new("bad json", e.to_string()))?;
        let is_dns = ev.kind.as_deref() == Some("dns")
            || ev.event.as_ref().and_then(|e| e.dataset.as_deref()).is_some_and(|d| d == "dns" || d.ends_with(".dns"))
            || ev.network.as_ref().and_then(|n| n.protocol.as_deref()) == Some("dns");
        let Some(dns) = ev.dns.as_ref().filter(|_| is_dns) else {
            return Ok(LineOutcome::Skipped("not a dns event"));
        };
        let answered = match dns.kind.as_deref() {
            Some("answer") => true,
            Some(_) => false,
            None => ev.bytes_out.is_some(), // Beats 5/6: the response's size is logged only if seen
        };
        if !answered {
            return Ok(LineOutcome::Skipped("no response"));
        }
        if dns.op_code.as_deref().is_some_and(|op| !op.eq_ignore_ascii_case("QUERY")) {
            return Ok(LineOutcome::Skipped("not a standard query"));
        }
        let q = dns.question.as_ref();
        if q.and_then(|q| q.class.as_deref()).is_some_and(|c| c != "IN") {
            return Ok(LineOutcome::Skipped("not class IN"));
        }
        let ts = ev.timestamp.as_deref().ok_or_else(|| missing("@timestamp"))?;
        let time =
            parse_time(ts.as_bytes()).ok_or_else(|| ParseError::new("bad time", format!("@timestamp: {ts:?}")))?;
        let qtype = match q.and_then(|q| q.rrtype.as_deref()) {
            Some(t) => Some(
                rrtype_of(t.as_bytes()).ok_or_else(|| ParseError::new("unknown rrtype", format!("question {t:?}")))?,
            ),
            None => None,
        };
        let sensor = self.sensor.as_deref().or_else(|| {
            [
                ev.host.as_ref().and_then(|h| h.name.as_deref()),
                ev.observer.as_ref().and_then(|h| h.hostname.as_deref()),
                ev.agent.as_ref().and_then(|h| h.hostname.as_deref()),
                ev.beat.as_ref().and_then(|h| h.hostname.as_deref()),
            ]
            .into_iter()
            .flatten()
            .find(|s| !s.is_empty())
        });
        set_base(&mut self.obs, time, sensor);
        self.sets.clear();
        let qname = match q.and_then(|q| q.name.as_deref()) {
            Some(n) => Some(
                self.sets
                    .owner(pname(n).as_bytes(), Escapes::Presentation)
                    .map_err(|e| ParseError::new("bad rrname", format!("question {e}: {n:?}")))?,
            ),
            None => None,
        };
        let answers = dns.answers.as_deref().unwrap_or(&[]);
        for a in answers {
            if let Err(e) = self.add(a) {
                self.sets.clear();
                return Err(e);
            }
        }
        let flags = dns.flags.as_ref();
        let o = Outcome {
            rcode: Rcode::from_name(dns.response_code.as_deref().unwrap_or("NOERROR")),
            qtype,
            empty: answers.is_empty(),
            definitive: flags.is_some_and(|f| f.authoritative || f.recursion_available),
            truncated: flags.is_some_and(|f| f.truncated_response),
        };
        Ok(finish_response(&mut self.sets, qname, &o, self.negative, &mut self.obs, emit))
    }
}

/// True if the JSON `line` is a Packetbeat event (a DNS one, or any event of a Packetbeat agent).
pub fn sniff(line: &[u8]) -> bool {
    if !has_key(line, b"@timestamp") {
        return false;
    }
    let dns = has_kv(line, b"type", b"dns") || has_kv(line, b"dataset", b"dns") || has_kv(line, b"protocol", b"dns");
    (dns && has_key(line, b"question")) || has_kv(line, b"type", b"packetbeat")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Negative};

    // An ECS (Beats 8) DNS transaction, field layout as publishTransaction/addDNSToMapStr write
    // it; values are our own.
    const ECS: &str = r#"{"@timestamp":"2024-01-15T10:00:00.123Z","@metadata":{"beat":"packetbeat","type":"_doc","version":"8.11.0"},"type":"dns","status":"OK","method":"QUERY","query":"class IN, type A, www.example.org","resource":"www.example.org","event":{"dataset":"dns","kind":"event","category":["network"],"type":["connection","protocol"],"start":"2024-01-15T10:00:00.123Z","end":"2024-01-15T10:00:00.140Z","duration":17000000},"network":{"type":"ipv4","transport":"udp","protocol":"dns","direction":"egress","community_id":"1:abc=","bytes":140},"source":{"ip":"192.0.2.7","port":53012,"bytes":40},"destination":{"ip":"192.0.2.53","port":53,"bytes":100},"dns":{"id":4711,"op_code":"QUERY","flags":{"authoritative":false,"truncated_response":false,"recursion_desired":true,"recursion_available":true,"authentic_data":false,"checking_disabled":false},"response_code":"NOERROR","header_flags":["RD","RA"],"question":{"name":"www.example.org","type":"A","class":"IN","etld_plus_one":"example.org","registered_domain":"example.org","top_level_domain":"org","subdomain":"www"},"answers_count":3,"answers":[{"name":"www.example.org","type":"CNAME","class":"IN","ttl":"3600","data":"cdn.example.net"},{"name":"cdn.example.net","type":"A","class":"IN","ttl":"60","data":"192.0.2.10"},{"name":"cdn.example.net","type":"A","class":"IN","ttl":"30","data":"192.0.2.11"}],"authorities_count":0,"additionals_count":0,"resolved_ip":["192.0.2.10","192.0.2.11"],"type":"answer"},"host":{"name":"pb-sensor-1"},"agent":{"type":"packetbeat","name":"pb-sensor-1","version":"8.11.0"},"ecs":{"version":"8.0.0"}}"#;

    fn parser(negative: bool) -> PacketbeatParser {
        PacketbeatParser::new(&SourceOptions { negative, ..Default::default() })
    }

    fn run(p: &mut PacketbeatParser, line: &str) -> Result<(LineOutcome, Vec<Observation>), ParseError> {
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()))?;
        Ok((r, out))
    }

    fn obs(line: &str) -> Vec<Observation> {
        let (r, v) = run(&mut parser(false), line).unwrap();
        assert_eq!(r, LineOutcome::Observations(v.len() as u32), "{line}");
        v
    }

    fn skip(line: &str, negative: bool) -> &'static str {
        match run(&mut parser(negative), line).unwrap() {
            (LineOutcome::Skipped(why), v) if v.is_empty() => why,
            other => panic!("not skipped: {:?}", other.0),
        }
    }

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn present(o: &Observation) -> Vec<String> {
        let mut v: Vec<String> = o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect();
        v.sort();
        v
    }

    #[test]
    fn ecs_answer_chain() {
        let v = obs(ECS);
        let got: Vec<_> = v.iter().map(|o| (o.rrname.to_string(), o.rrtype, present(o), o.ttl)).collect();
        assert_eq!(
            got,
            [
                ("www.example.org.".into(), RrType::CNAME, vec!["cdn.example.net.".into()], Some(3600)),
                ("cdn.example.net.".into(), RrType::A, vec!["192.0.2.10".into(), "192.0.2.11".into()], Some(30)),
            ]
        );
        for o in &v {
            assert_eq!((o.time_first, o.time_last, o.count), (1705312800, 1705312800, 1));
            assert_eq!((o.sensor.as_deref(), o.bailiwick.as_ref(), o.negative), (Some("pb-sensor-1"), None, None));
        }
        let mut p = PacketbeatParser::new(&SourceOptions { sensor: Some("cli".into()), ..Default::default() });
        assert_eq!(run(&mut p, ECS).unwrap().1[0].sensor.as_deref(), Some("cli"));
        // Logstash's beats input once wrote `host` as a string
        let host_string = ECS.replace(r#""host":{"name":"pb-sensor-1"}"#, r#""host":"ls-host""#);
        assert_eq!(obs(&host_string)[0].sensor.as_deref(), Some("ls-host"));
    }

    #[test]
    fn pre_ecs_layout_and_record_types() {
        // Beats 6 layout: trailing dots, beat.hostname, bytes_out, no dns.type
        let line = r#"{"@timestamp":"2018-06-01T08:00:00.000Z","beat":{"name":"pb","hostname":"old-sensor","version":"6.3.0"},"type":"dns","transport":"udp","status":"OK","bytes_in":30,"bytes_out":200,"responsetime":12,"method":"QUERY","query":"class IN, type ANY, example.org.","resource":"example.org.","dns":{"id":1,"op_code":"QUERY","flags":{"authoritative":true,"recursion_available":false,"truncated_response":false},"response_code":"NOERROR","question":{"name":"example.org.","type":"ANY","class":"IN","etld_plus_one":"example.org."},"answers_count":6,"answers":[{"name":"example.org.","type":"MX","class":"IN","ttl":300,"data":"mx1.example.org.","preference":10},{"name":"example.org.","type":"SOA","class":"IN","ttl":"3600","data":"ns1.example.org.","rname":"hostmaster.example.org.","serial":2024011501,"refresh":7200,"retry":900,"expire":1209600,"minimum":300},{"name":"example.org.","type":"SRV","class":"IN","ttl":"60","data":"sip.example.org.","priority":10,"weight":5,"port":5060},{"name":"example.org.","type":"TXT","class":"IN","ttl":"60","data":"v=spf1 \"quoted\" \\226\\130\\172 -all"},{"name":"example.org.","type":"AAAA","class":"IN","ttl":"60","data":"2001:db8::1"},{"name":"example.org.","type":"DNSKEY","class":"IN","ttl":"60","flags":"257","protocol":"3","algorithm":"RSASHA256","data":"AwEAAa=="}],"authorities_count":0,"additionals_count":0},"port":53,"client_ip":"192.0.2.7","ip":"192.0.2.53"}"#;
        let v = obs(line);
        let by_type = |t: RrType| v.iter().find(|o| o.rrtype == t).unwrap();
        assert_eq!(v.len(), 5);
        assert!(v.iter().all(|o| o.rrname == n("example.org") && o.sensor.as_deref() == Some("old-sensor")));
        assert_eq!(v[0].time_first, 1527840000);
        assert_eq!(
            (present(by_type(RrType::MX)), by_type(RrType::MX).ttl),
            (vec!["10 mx1.example.org.".into()], Some(300))
        );
        assert_eq!(
            present(by_type(RrType::SOA)),
            ["ns1.example.org. hostmaster.example.org. 2024011501 7200 900 1209600 300"]
        );
        assert_eq!(present(by_type(RrType::SRV)), ["10 5 5060 sip.example.org."]);
        assert_eq!(
            by_type(RrType::TXT).rdata.as_slice(),
            &[Rdata::Wire(b"\x18v=spf1 \"quoted\" \xe2\x82\xac -all".to_vec())]
        );
        assert_eq!(present(by_type(RrType::AAAA)), ["2001:db8::1"]);
        // a request without response (Beats 6: no bytes_out)
        let unanswered = line.replace("\"bytes_out\":200,", "");
        assert_eq!(skip(&unanswered, false), "no response");
    }

    #[test]
    fn negative_and_skips() {
        let nx = r#"{"@timestamp":"2024-01-15T10:00:00Z","type":"dns","dns":{"type":"answer","op_code":"QUERY","flags":{"authoritative":false,"recursion_available":true},"response_code":"NXDOMAIN","question":{"name":"nope.example.org","type":"AAAA","class":"IN"},"answers_count":0,"authorities_count":1}}"#;
        assert_eq!(skip(nx, false), "negative answer");
        let (_, v) = run(&mut parser(true), nx).unwrap();
        assert_eq!(
            (v[0].rrname.clone(), v[0].rrtype, v[0].negative),
            (n("nope.example.org"), RrType::AAAA, Some(Negative::NxDomain))
        );
        let nodata = nx.replace("NXDOMAIN", "NOERROR");
        let (_, v) = run(&mut parser(true), &nodata).unwrap();
        assert_eq!((v.len(), v[0].negative), (1, Some(Negative::NoData)));
        let referral = nodata.replace("\"recursion_available\":true", "\"recursion_available\":false");
        assert_eq!(skip(&referral, true), "no answer");
        assert_eq!(skip(&nx.replace("\"type\":\"answer\"", "\"type\":\"query\""), true), "no response");
        assert_eq!(skip(&nx.replace("\"op_code\":\"QUERY\"", "\"op_code\":\"UPDATE\""), true), "not a standard query");
        assert_eq!(skip(&nx.replace("\"class\":\"IN\"", "\"class\":\"CH\""), true), "not class IN");
        assert_eq!(skip(&nx.replace("NXDOMAIN", "SERVFAIL"), true), "error response");
        let http = r#"{"@timestamp":"2024-01-15T10:00:00Z","type":"http","network":{"protocol":"http"},"http":{}}"#;
        assert_eq!(skip(http, false), "not a dns event");
        assert_eq!(skip("", false), "empty line");
    }

    #[test]
    fn rejections() {
        let reason = |l: &str| run(&mut parser(false), l).unwrap_err().reason;
        assert_eq!(reason("{\"@timestamp\""), "bad json");
        assert_eq!(reason(&ECS.replace("\"data\":\"192.0.2.10\"", "\"data\":\"192.0.2.1000\"")), "bad rdata");
        assert_eq!(
            reason(&ECS.replace(
                "\"name\":\"cdn.example.net\",\"type\":\"A\",\"class\":\"IN\",\"ttl\":\"60\"",
                "\"name\":\"cdn..example.net\",\"type\":\"A\",\"class\":\"IN\",\"ttl\":\"60\""
            )),
            "bad rrname"
        );
        assert_eq!(
            reason(&ECS.replace("2024-01-15T10:00:00.123Z\",\"@metadata", "15/01/2024\",\"@metadata")),
            "bad time"
        );
        assert_eq!(reason(&ECS.replace("\"type\":\"CNAME\"", "\"type\":\"NOPE\"")), "unknown rrtype");
        assert_eq!(reason(&ECS.replace(",\"data\":\"192.0.2.11\"", "")), "missing field");
    }

    #[test]
    fn sniffs() {
        assert!(sniff(ECS.as_bytes()));
        assert!(sniff(br#"{"@timestamp":"2024-01-15T10:00:00Z","type":"flow","agent":{"type":"packetbeat"}}"#));
        assert!(!sniff(br#"{"@timestamp":"2024-01-15T10:00:00Z","message":"hello"}"#));
        assert!(!sniff(br#"{"timestamp":"2024-01-15T10:00:00Z","event_type":"dns","dns":{"type":"answer"}}"#));
    }

    /// Deterministic pseudo-random mutations of valid lines: nothing may panic.
    #[test]
    fn mutated_lines_never_panic() {
        let samples = [
            ECS.to_string(),
            ECS.replace(
                "\"type\":\"A\",\"class\":\"IN\",\"ttl\":\"60\",\"data\":\"192.0.2.10\"",
                "\"type\":\"TXT\",\"class\":\"IN\",\"ttl\":\"60\",\"data\":\"a\\\\0 b\\\\\"",
            ),
        ];
        let samples: Vec<&str> = samples.iter().map(String::as_str).collect();
        for negative in [false, true] {
            let mut p = parser(negative);
            crate::testing::mutate_all(&samples, 3000, |line| {
                let _ = p.parse_line(line, &mut |_| {});
            });
        }
        let mut out = Vec::new();
        unescape_text(b"\\", &mut out);
        unescape_text(b"\\99", &mut out);
        unescape_text(b"\\999x", &mut out);
        assert_eq!(out, b"\\99?x");
    }

    /// Single-thread speed on the ECS event above; run with `--ignored --nocapture`.
    #[test]
    #[ignore]
    fn speed() {
        use crate::suricata::tests::{json_floor, per_line};
        let (ns, obs) = per_line(&mut parser(false), &[ECS.as_bytes()]);
        println!(
            "packetbeat: {ns:.0} ns/line of CPU ({obs} observations per 40k); JSON floor {:.0}",
            json_floor(&[ECS.as_bytes()])
        );
    }
}
