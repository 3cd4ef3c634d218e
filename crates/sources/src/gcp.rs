//! Google Cloud DNS query logs: Cloud Logging `LogEntry` JSON lines of the log
//! `projects/<project>/logs/dns.googleapis.com%2Fdns_queries` (resource type `dns_query`), as a
//! Cloud Logging sink writes them to Cloud Storage (one entry per line) or a subscriber reads
//! them from Pub/Sub.
//!
//! The shape follows the Cloud DNS documentation, "Logging and monitoring" (the DNS log record
//! format: `jsonPayload` fields and `resource.labels`), and the Cloud Logging `LogEntry`
//! reference:
//!
//! ```json
//! {"insertId":"1x2y3z","jsonPayload":{"authAnswer":false,"protocol":"UDP",
//!  "queryName":"www.example.com.","queryType":"A","responseCode":"NOERROR",
//!  "rdata":"www.example.com.\t300\tIN\tcname\tcdn.example.net.\ncdn.example.net.\t60\tIN\ta\t192.0.2.1",
//!  "serverLatency":3,"sourceIP":"10.128.0.5","sourceNetwork":"default","vmInstanceId":123,
//!  "vmInstanceIdString":"123","vmInstanceName":"123.vm-1","vmProjectId":"my-project","vmZoneName":"us-central1-a"},
//!  "logName":"projects/my-project/logs/dns.googleapis.com%2Fdns_queries",
//!  "receiveTimestamp":"2024-01-01T00:00:01.5Z","resource":{"type":"dns_query","labels":{"location":"us-central1",
//!  "project_id":"my-project","source_type":"gce-vm","target_name":"","target_type":"external"}},
//!  "severity":"INFO","timestamp":"2024-01-01T00:00:00.123456789Z"}
//! ```
//!
//! What becomes of an entry:
//! - `rdata` holds the answer as zone-file lines (`name ttl class type rdata`, tab-separated,
//!   types often lower-case), one per record, separated by newlines. Each line is parsed with
//!   its own owner name and TTL, and the records are grouped into one observation per owner
//!   and type (a CNAME chain gives a CNAME RRset for the alias and the target's RRset under
//!   the target); an RRset's TTL is the smallest of its records'. The time is `timestamp`
//!   (else `receiveTimestamp`), the count 1.
//! - Cloud Logging truncates long `rdata` and marks the cut with a trailing `...`: the
//!   incomplete last line is dropped together with the RRset it belongs to (an RRset missing
//!   records would be a different RRset), the complete RRsets are kept; an entry left with
//!   nothing is skipped as `truncated answer`. A truncated answer is not used to infer
//!   NXDOMAIN/NODATA.
//! - `responseCode` NXDOMAIN, and NOERROR without data of the queried type at the end of the
//!   CNAME chain (NODATA), are negative answers: kept as negative observations (name at the end
//!   of the chain, queried type) with `SourceOptions::negative`, else skipped as `negative
//!   answer`; other response codes are skipped as `failed query`.
//! - `dns64Translated: true` means the AAAA records were synthesized by DNS64 from A records:
//!   they are dropped (the rest of the answer, e.g. CNAMEs, is kept; nothing left: skipped as
//!   `dns64 synthesized`), and no NODATA is inferred.
//! - Bailiwick: none. `resource.labels.target_name` is the managed zone's *resource* name (or
//!   empty) and `target_type` only its kind (`private-zone`, `forwarding-zone`, `external`,
//!   ...); the entry never gives the zone's DNS name, and `authAnswer` says only that the
//!   answer was authoritative.
//! - Sensor: `SourceOptions::sensor` if given, else `resource.labels.project_id` (the project
//!   owning the network or public zone: a stable vantage point; VM names and ids are clients,
//!   not sensors), else `jsonPayload.vmProjectId`.
//! - Other entries (a sink exporting more than DNS queries: audit logs, other services) are
//!   skipped as `not a DNS query entry`. A line holding a JSON array of entries is accepted
//!   too, one line yielding the observations of all of them. The BigQuery export schema is a
//!   different, table-shaped format and is not read.

use dnsledger_model::{Observation, RrType};

use crate::cloud::{
    finish_response, json_fields, lossy, parse_rdata, parse_rrtype, parse_time, set_sensor, Rcode, Rrsets, Scalar,
    Tally,
};
use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// The marker Cloud Logging appends to an `rdata` value it cut short.
const TRUNCATED: &str = "...";

/// Parser for Cloud DNS query log entries.
pub struct GcpParser {
    sensor: Option<String>,
    negative: bool,
    obs: Observation,
    sets: Rrsets,
}

impl GcpParser {
    /// A parser honouring `opts.sensor` and `opts.negative`.
    pub fn new(opts: &SourceOptions) -> GcpParser {
        GcpParser {
            sensor: opts.sensor.clone(),
            negative: opts.negative,
            obs: Observation::default(),
            sets: Rrsets::new(),
        }
    }

    fn entry(&mut self, e: &Entry<'_>, emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let resource_type = e.resource.as_ref().and_then(|r| r.rtype.as_ref()).and_then(Scalar::as_str);
        let log_name = e.log_name.as_ref().and_then(Scalar::as_str).unwrap_or("");
        let is_dns = resource_type == Some("dns_query")
            || log_name.ends_with("/dns.googleapis.com%2Fdns_queries")
            || log_name.ends_with("/dns.googleapis.com/dns_queries");
        if !is_dns {
            return Ok(LineOutcome::Skipped("not a DNS query entry"));
        }
        let p = e.payload.as_ref().ok_or_else(|| ParseError::new("missing field", "jsonPayload"))?;
        let qname = p.query_name.as_ref().ok_or_else(|| ParseError::new("missing field", "jsonPayload.queryName"))?;
        let qname =
            qname.as_str().ok_or_else(|| ParseError::new("bad field", format!("jsonPayload.queryName {qname}")))?;
        let rcode = match &p.response_code {
            Some(rc) => Rcode::from_scalar("jsonPayload.responseCode", rc)?,
            None => return Err(ParseError::new("missing field", "jsonPayload.responseCode")),
        };
        if rcode == Rcode::Failed {
            return Ok(LineOutcome::Skipped("failed query"));
        }
        let qtype = p.query_type.as_ref().ok_or_else(|| ParseError::new("missing field", "jsonPayload.queryType"))?;
        let qtype = qtype
            .rrtype()
            .ok_or_else(|| ParseError::new("unknown rrtype", format!("jsonPayload.queryType {qtype}")))?;
        let ts = e
            .timestamp
            .as_ref()
            .or(e.receive_timestamp.as_ref())
            .ok_or_else(|| ParseError::new("missing field", "timestamp"))?;
        let time =
            ts.as_str().and_then(parse_time).ok_or_else(|| ParseError::new("bad time", format!("timestamp {ts}")))?;

        let sets = &mut self.sets;
        sets.clear();
        sets.owner(qname)?;
        let rdata = match &p.rdata {
            None | Some(Scalar::Null) => "",
            Some(Scalar::Str(s)) => s,
            Some(other) => return Err(ParseError::new("bad field", format!("jsonPayload.rdata {other}"))),
        };
        let truncated = rdata.ends_with(TRUNCATED);
        if truncated {
            read_truncated(sets, rdata.trim_end_matches(TRUNCATED))?;
        } else {
            for line in rdata.split('\n') {
                record_line(sets, line)?;
            }
        }
        let dns64 = p.dns64.as_ref().and_then(Scalar::as_bool).unwrap_or(false);
        if dns64 {
            sets.retain(|_, t| t != RrType::AAAA);
        }

        let obs = &mut self.obs;
        obs.bailiwick = None;
        obs.time_first = time;
        obs.time_last = time;
        obs.zone = false;
        obs.count = 1;
        let project = e.resource.as_ref().and_then(|r| r.labels.as_ref()).and_then(|l| l.project_id.as_ref());
        let own = project.or(p.vm_project.as_ref()).and_then(Scalar::as_str);
        set_sensor(obs, &self.sensor, own);
        if truncated || dns64 {
            return Ok(match sets.emit(obs, emit) {
                0 if truncated => LineOutcome::Skipped("truncated answer"),
                0 => LineOutcome::Skipped("dns64 synthesized"),
                n => LineOutcome::Observations(n),
            });
        }
        Ok(finish_response(sets, obs, qtype, rcode, self.negative, emit))
    }
}

impl LineParser for GcpParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        match line.first() {
            Some(b'{') => {
                let e: Entry<'_> = serde_json::from_slice(line).map_err(bad_json)?;
                self.entry(&e, emit)
            }
            Some(b'[') => {
                let entries: Vec<Entry<'_>> = serde_json::from_slice(line).map_err(bad_json)?;
                let mut tally = Tally::default();
                for e in &entries {
                    tally.add(self.entry(e, emit));
                }
                tally.finish("entry")
            }
            _ => {
                Err(ParseError::new("unrecognized line", format!("not a Cloud Logging JSON entry: {:?}", lossy(line))))
            }
        }
    }
}

/// True if `line` is a Cloud DNS query log entry (or a JSON array starting with one).
pub fn sniff(line: &[u8]) -> bool {
    let l = line.trim_ascii();
    if !matches!(l.first(), Some(b'{' | b'[')) {
        return false;
    }
    let has = |k: &[u8]| memchr::memmem::find(l, k).is_some();
    has(b"dns.googleapis.com%2Fdns_queries")
        || has(b"dns.googleapis.com/dns_queries")
        || (has(b"\"jsonPayload\"") && has(b"\"queryName\"") && has(b"\"responseCode\""))
}

json_fields! {
    /// The parts of a `LogEntry` that matter here.
    struct Entry<'a> {
        payload: Payload<'a> = b"jsonPayload",
        log_name: Scalar<'a> = b"logName",
        resource: Resource<'a> = b"resource",
        timestamp: Scalar<'a> = b"timestamp",
        receive_timestamp: Scalar<'a> = b"receiveTimestamp",
    }
}

json_fields! {
    /// `jsonPayload` of a DNS query entry.
    struct Payload<'a> {
        query_name: Scalar<'a> = b"queryName",
        query_type: Scalar<'a> = b"queryType",
        response_code: Scalar<'a> = b"responseCode",
        rdata: Scalar<'a> = b"rdata",
        dns64: Scalar<'a> = b"dns64Translated",
        vm_project: Scalar<'a> = b"vmProjectId",
    }
}

json_fields! {
    /// The monitored resource (`dns_query`).
    struct Resource<'a> {
        rtype: Scalar<'a> = b"type",
        labels: Labels<'a> = b"labels",
    }
}

json_fields! {
    /// `resource.labels`.
    struct Labels<'a> {
        project_id: Scalar<'a> = b"project_id",
    }
}

fn bad_json(e: serde_json::Error) -> ParseError {
    ParseError::new("bad json", e.to_string())
}

/// The next blank-separated field and the rest of the line.
fn field(s: &str) -> Option<(&str, &str)> {
    let s = s.trim_start_matches([' ', '\t']);
    if s.is_empty() {
        return None;
    }
    match memchr::memchr2(b'\t', b' ', s.as_bytes()) {
        Some(p) => Some((s.get(..p)?, s.get(p..)?)),
        None => Some((s, "")),
    }
}

/// True for class mnemonics; `Some(true)` for IN.
fn class(t: &str) -> Option<bool> {
    if t.eq_ignore_ascii_case("IN") {
        return Some(true);
    }
    let generic = t.len() > 5 && t.get(..5).is_some_and(|c| c.eq_ignore_ascii_case("CLASS"));
    (generic || ["CH", "HS", "CS", "NONE"].iter().any(|c| t.eq_ignore_ascii_case(c))).then_some(false)
}

/// Owner, TTL, type and rdata text of one `rdata` line; `class` is optional.
fn split_line(line: &str) -> Result<(&str, &str, RrType, &str), ParseError> {
    let short =
        || ParseError::new("bad rdata", format!("rdata line {:?}: expected \"name ttl class type rdata\"", line));
    let (owner, rest) = field(line).ok_or_else(short)?;
    let (ttl, rest) = field(rest).ok_or_else(short)?;
    let (mut t, mut rest) = field(rest).ok_or_else(short)?;
    match class(t) {
        Some(true) => (t, rest) = field(rest).ok_or_else(short)?,
        Some(false) => return Err(ParseError::new("unsupported class", format!("{t:?} in rdata line {line:?}"))),
        None => {}
    }
    let rrtype =
        parse_rrtype(t).ok_or_else(|| ParseError::new("unknown rrtype", format!("{t:?} in rdata line {line:?}")))?;
    Ok((owner, ttl, rrtype, rest.trim()))
}

/// Adds the record of one `rdata` line (blank lines are ignored).
fn record_line(sets: &mut Rrsets, line: &str) -> Result<(), ParseError> {
    let line = line.trim_end_matches('\r');
    if line.trim().is_empty() {
        return Ok(());
    }
    let (owner, ttl, rrtype, text) = split_line(line)?;
    let ttl = crate::parse_u64(ttl.as_bytes())
        .and_then(|t| u32::try_from(t).ok())
        .ok_or_else(|| ParseError::new("bad ttl", format!("{ttl:?} in rdata line {line:?}")))?;
    let o = sets.owner(owner)?;
    let (rd, next) = if rrtype == RrType::CNAME {
        let (target, rd) = sets.cname_target(text)?;
        (rd, Some(target))
    } else {
        (parse_rdata(rrtype, text)?, None)
    };
    sets.add(o, rrtype, Some(ttl), rd, next);
    Ok(())
}

/// Reads an `rdata` value that was cut short (the marker already removed): every complete
/// line, then drops the RRset the cut line belongs to (when the cut line is too short to
/// tell, the RRset of the line before it, which the cut line most likely continued).
fn read_truncated(sets: &mut Rrsets, rdata: &str) -> Result<(), ParseError> {
    let (complete, cut) = match rdata.rfind('\n') {
        Some(p) => (rdata.get(..p).unwrap_or(""), rdata.get(p + 1..).unwrap_or("")),
        None => ("", rdata),
    };
    let mut last = None;
    for line in complete.split('\n') {
        record_line(sets, line)?;
        if !line.trim().is_empty() {
            last = Some(line);
        }
    }
    let victim = split_line(cut).ok().or_else(|| last.and_then(|l| split_line(l).ok()));
    if let Some((owner, _, rrtype, _)) = victim {
        if let Ok(o) = sets.owner(owner) {
            sets.drop_rrset(o, rrtype);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use dnsledger_model::{Name, Negative, Rdata};

    use super::*;
    use crate::route53::per_line_cpu_ns;

    fn run(p: &mut GcpParser, line: &str) -> (Result<LineOutcome, ParseError>, Vec<Observation>) {
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()));
        (r, out)
    }

    fn parse(line: &str) -> (Result<LineOutcome, ParseError>, Vec<Observation>) {
        run(&mut GcpParser::new(&SourceOptions::default()), line)
    }

    fn name(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn rd(t: RrType, s: &str) -> Rdata {
        Rdata::parse(t, s).unwrap()
    }

    /// An entry shaped like Cloud DNS query log entries (Cloud DNS "Logging and monitoring",
    /// DNS log record format; field order as Cloud Logging writes them); values are ours.
    fn entry(qname: &str, qtype: &str, rcode: &str, rdata: &str, extra: &str) -> String {
        format!(
            r#"{{"insertId":"5kfd1ge3x9q","jsonPayload":{{"authAnswer":false,"protocol":"UDP","queryName":"{qname}","queryType":"{qtype}","rdata":{rdata},"responseCode":"{rcode}","serverLatency":4,"sourceIP":"10.128.0.7","sourceNetwork":"prod-vpc","vmInstanceId":4823990127746112345,"vmInstanceIdString":"4823990127746112345","vmInstanceName":"281733.web-1","vmProjectId":"shop-prod","vmZoneName":"europe-west1-b"{extra}}},"logName":"projects/shop-net/logs/dns.googleapis.com%2Fdns_queries","receiveTimestamp":"2024-03-05T10:20:31.102934711Z","resource":{{"labels":{{"location":"europe-west1","project_id":"shop-net","source_type":"gce-vm","target_name":"","target_type":"external"}},"type":"dns_query"}},"severity":"INFO","timestamp":"2024-03-05T10:20:30.877012345Z"}}"#,
            rdata = serde_json::to_string(rdata).unwrap()
        )
    }

    fn chain() -> String {
        entry(
            "www.shop.example.",
            "A",
            "NOERROR",
            "www.shop.example.\t300\tIN\tcname\tshop.cdn.example.net.\nshop.cdn.example.net.\t60\tIN\ta\t192.0.2.10\nshop.cdn.example.net.\t30\tIN\ta\t192.0.2.11",
            "",
        )
    }

    #[test]
    fn rdata_lines_become_rrsets() {
        let (r, v) = parse(&chain());
        assert_eq!(r, Ok(LineOutcome::Observations(2)));
        assert_eq!((v[0].rrname.clone(), v[0].rrtype, v[0].ttl), (name("www.shop.example"), RrType::CNAME, Some(300)));
        assert_eq!(v[0].rdata.to_vec(), vec![rd(RrType::CNAME, "shop.cdn.example.net.")]);
        assert_eq!((v[1].rrname.clone(), v[1].rrtype, v[1].ttl), (name("shop.cdn.example.net"), RrType::A, Some(30)));
        assert_eq!(v[1].rdata.to_vec(), vec![rd(RrType::A, "192.0.2.10"), rd(RrType::A, "192.0.2.11")]);
        for o in &v {
            assert_eq!((o.time_first, o.time_last, o.count, o.zone), (1709634030, 1709634030, 1, false));
            assert_eq!((o.bailiwick.clone(), o.negative), (None, None));
            assert_eq!(o.sensor.as_deref(), Some("shop-net"));
        }
        let mut p = GcpParser::new(&SourceOptions { sensor: Some("gcp-eu".into()), ..Default::default() });
        assert!(run(&mut p, &chain()).1.iter().all(|o| o.sensor.as_deref() == Some("gcp-eu")));
    }

    #[test]
    fn other_types_and_spacing() {
        // MX/TXT lines as Cloud DNS writes them (lower-case types, quoted TXT strings)
        let mx = entry(
            "example.org.",
            "MX",
            "NOERROR",
            "example.org.\t3600\tIN\tmx\t10 mx1.example.org.\nexample.org.\t3600\tIN\tmx\t20 mx2.example.org.\n",
            "",
        );
        let (_, v) = parse(&mx);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].rdata.to_vec(),
            vec![rd(RrType::MX, "10 mx1.example.org."), rd(RrType::MX, "20 mx2.example.org.")]
        );
        let txt = entry("example.org.", "TXT", "NOERROR", "example.org.  300 IN txt \"v=spf1 -all\" \"x y\"", "");
        let (_, v) = parse(&txt);
        assert_eq!((v[0].rrtype, v[0].ttl), (RrType::TXT, Some(300)));
        assert_eq!(v[0].rdata.to_vec(), vec![rd(RrType::TXT, "\"v=spf1 -all\" \"x y\"")]);
        // no class column
        let (_, v) = parse(&entry("a.example.", "AAAA", "NOERROR", "a.example.\t20\taaaa\t2001:db8::1", ""));
        assert_eq!(v[0].rdata.to_vec(), vec![rd(RrType::AAAA, "2001:db8::1")]);
    }

    #[test]
    fn negative_answers_and_failures() {
        let nx = entry("nope.shop.example.", "A", "NXDOMAIN", "", "");
        assert_eq!(parse(&nx).0, Ok(LineOutcome::Skipped("negative answer")));
        let mut p = GcpParser::new(&SourceOptions { negative: true, ..Default::default() });
        let (r, v) = run(&mut p, &nx);
        assert_eq!(r, Ok(LineOutcome::Observations(1)));
        assert_eq!(
            (v[0].rrname.clone(), v[0].rrtype, v[0].negative),
            (name("nope.shop.example"), RrType::A, Some(Negative::NxDomain))
        );
        assert!(v[0].rdata.is_empty());
        // NOERROR with only a CNAME to a name without AAAA: NODATA at the target, with the SOA
        let nodata = entry(
            "www.shop.example.",
            "AAAA",
            "NOERROR",
            "www.shop.example.\t300\tIN\tcname\tshop.cdn.example.net.\ncdn.example.net.\t300\tIN\tsoa\tns1.example.net. hostmaster.example.net. 7 3600 600 86400 60",
            "",
        );
        let (r, v) = run(&mut p, &nodata);
        assert_eq!(r, Ok(LineOutcome::Observations(3)));
        assert_eq!((v[1].rrname.clone(), v[1].rrtype, v[1].ttl), (name("cdn.example.net"), RrType::SOA, Some(300)));
        assert_eq!(
            (v[2].rrname.clone(), v[2].rrtype, v[2].negative),
            (name("shop.cdn.example.net"), RrType::AAAA, Some(Negative::NoData))
        );
        assert_eq!(parse(&nodata).0, Ok(LineOutcome::Observations(2)));
        let servfail = entry("x.example.", "A", "SERVFAIL", "", r#","egressError":"timeout""#);
        assert_eq!(parse(&servfail).0, Ok(LineOutcome::Skipped("failed query")));
    }

    #[test]
    fn truncated_rdata() {
        // the shape of a cut value: the last line stops mid-record and "..." follows
        let cut = entry(
            "example.org.",
            "ANY",
            "NOERROR",
            "example.org.\t300\tIN\tmx\t10 mx1.example.org.\nexample.org.\t300\tIN\ttxt\t\"one\"\nexample.org.\t300\tIN\ttxt...",
            "",
        );
        let (r, v) = parse(&cut);
        assert_eq!(r, Ok(LineOutcome::Observations(1)));
        assert_eq!(v[0].rrtype, RrType::MX);
        // cut inside the owner name: the RRset of the line before is dropped
        let cut = entry("example.org.", "TXT", "NOERROR", "example.org.\t300\tIN\ttxt\t\"one\"\nexam...", "");
        assert_eq!(parse(&cut).0, Ok(LineOutcome::Skipped("truncated answer")));
    }

    #[test]
    fn dns64_answers_are_not_data() {
        let syn = entry(
            "v4.example.",
            "AAAA",
            "NOERROR",
            "v4.example.\t60\tIN\tcname\thost.example.net.\nhost.example.net.\t60\tIN\taaaa\t64:ff9b::c000:20a",
            r#","dns64Translated":true"#,
        );
        let mut p = GcpParser::new(&SourceOptions { negative: true, ..Default::default() });
        let (r, v) = run(&mut p, &syn);
        assert_eq!(r, Ok(LineOutcome::Observations(1)));
        assert_eq!(v[0].rrtype, RrType::CNAME);
        let only = entry(
            "v4.example.",
            "AAAA",
            "NOERROR",
            "v4.example.\t60\tIN\taaaa\t64:ff9b::c000:20a",
            r#","dns64Translated":true"#,
        );
        assert_eq!(run(&mut p, &only).0, Ok(LineOutcome::Skipped("dns64 synthesized")));
    }

    #[test]
    fn arrays_and_other_entries() {
        let audit = r#"{"insertId":"abc","logName":"projects/shop-net/logs/cloudaudit.googleapis.com%2Factivity","protoPayload":{"methodName":"dns.changes.create"},"resource":{"type":"dns_managed_zone","labels":{"project_id":"shop-net"}},"timestamp":"2024-03-05T10:20:30Z"}"#;
        assert_eq!(parse(audit).0, Ok(LineOutcome::Skipped("not a DNS query entry")));
        let arr = format!("[{},{audit},{}]", chain(), chain());
        let (r, v) = parse(&arr);
        assert_eq!((r, v.len()), (Ok(LineOutcome::Observations(4)), 4));
        let bad = format!("[{},{}]", chain(), chain().replace("192.0.2.11", "192.0.2.311"));
        let e = parse(&bad).0.unwrap_err();
        assert_eq!(e.reason, "bad rdata");
        assert!(e.detail.starts_with("entry 2 of 2: ") && e.detail.contains("2 observations"), "{}", e.detail);
    }

    #[test]
    fn rejections() {
        let reason = |l: &str| parse(l).0.unwrap_err().reason;
        let c = chain();
        assert_eq!(reason(&c.replace("192.0.2.10", "192.0.2")), "bad rdata");
        assert_eq!(reason(&c.replace("\\t60\\t", "\\tsixty\\t")), "bad ttl");
        assert_eq!(reason(&c.replace("\\tIN\\ta\\t", "\\tCH\\ta\\t")), "unsupported class");
        assert_eq!(reason(&c.replace("\\tIN\\ta\\t", "\\tIN\\tbogus\\t")), "unknown rrtype");
        assert_eq!(reason(&c.replace("\"queryType\":\"A\"", "\"queryType\":\"WHAT\"")), "unknown rrtype");
        assert_eq!(reason(&c.replace("www.shop.example.\\t", "www..shop\\t")), "bad rrname");
        assert_eq!(reason(&c.replace("\"queryName\":\"www.shop.example.\",", "")), "missing field");
        assert_eq!(reason(&c.replace("\"responseCode\":\"NOERROR\",", "")), "missing field");
        assert_eq!(reason(&c.replace("2024-03-05T10:20:30.877012345Z", "soon")), "bad time");
        assert_eq!(reason(&c.replace("\\t300\\tIN\\tcname", "")), "bad rdata");
        assert_eq!(reason(&c[..200]), "bad json");
        assert_eq!(reason("plain text"), "unrecognized line");
        // receiveTimestamp stands in for a missing timestamp
        let (_, v) = parse(&c.replace(",\"timestamp\":\"2024-03-05T10:20:30.877012345Z\"", ""));
        assert_eq!(v[0].time_first, 1709634031);
    }

    #[test]
    fn sniffing() {
        assert!(sniff(chain().as_bytes()));
        assert_eq!(crate::Format::sniff(chain().as_bytes()), Some(crate::Format::Gcp));
        assert!(sniff(format!("[{}]", chain()).as_bytes()));
        assert!(!sniff(br#"{"timestamp":"2024-03-05T10:20:30Z","jsonPayload":{"message":"hello"}}"#));
        assert!(!sniff(br#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1}"#));
    }

    #[test]
    fn mutated_lines_never_panic() {
        let c = chain();
        let nx = entry("nope.example.", "A", "NXDOMAIN", "", "");
        let cut = entry("e.org.", "TXT", "NOERROR", "e.org.\t300\tIN\ttxt\t\"one\"\ne.org.\t300\tIN\ttxt...", "");
        let arr = format!("[{c},{nx}]");
        let mut p = GcpParser::new(&SourceOptions { negative: true, ..Default::default() });
        crate::testing::mutate_all(&[&c, &nx, &cut, &arr], 5000, |l| {
            let _ = p.parse_line(l, &mut |_| {});
            let _ = sniff(l);
        });
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn speed() {
        let c = chain();
        let nx = entry("nope.shop.example.", "A", "NXDOMAIN", "", "");
        let one = entry("api.shop.example.", "A", "NOERROR", "api.shop.example.\t300\tIN\ta\t192.0.2.80", "");
        let lines = [c.as_str(), nx.as_str(), one.as_str(), one.as_str()];
        let mut p = GcpParser::new(&SourceOptions { negative: true, ..Default::default() });
        let mut obs = 0u64;
        let ns = per_line_cpu_ns(&lines, |l| {
            let _ = p.parse_line(l, &mut |_| obs += 1);
        });
        let base = per_line_cpu_ns(&lines, |l| {
            let _ = serde_json::from_slice::<serde::de::IgnoredAny>(l);
        });
        println!(
            "gcp: {ns:.0} ns/line of CPU ({obs} observations); serde_json IgnoredAny on the same lines: {base:.0}"
        );
    }
}
