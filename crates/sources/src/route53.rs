//! AWS Route 53 query logs: Resolver query logs (which carry answers) become observations;
//! public hosted zone query logs (which do not) are recognised and rejected.
//!
//! # Resolver query logs
//!
//! One JSON object per line, as Route 53 Resolver query logging delivers them to S3 or Kinesis
//! Data Firehose, with the fields of the Route 53 Developer Guide, "Values that appear in
//! Resolver query logs" (log format version 1.1) and its "Resolver query log example":
//!
//! ```json
//! {"version":"1.100000","account_id":"111122223333","region":"eu-west-1","vpc_id":"vpc-0abc",
//!  "query_timestamp":"2024-01-01T00:00:00Z","query_name":"www.example.com.","query_type":"A",
//!  "query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"cdn.example.net.","Type":"CNAME",
//!  "Class":"IN"},{"Rdata":"192.0.2.1","Type":"A","Class":"IN"}],"srcaddr":"10.0.0.5",
//!  "srcport":"40000","transport":"UDP","srcids":{"instance":"i-0123"}}
//! ```
//!
//! What becomes of a record:
//! - The answers carry no owner names and no TTLs. They are given in response order, so the
//!   owners are rebuilt along the CNAME chain: the first records belong to `query_name`, and
//!   each CNAME moves the chain to its target (`www -> cdn -> A` gives a CNAME RRset for `www`
//!   and an A RRset for `cdn`). Records are grouped into one observation per owner and type;
//!   `ttl` is unknown (`None`), no bailiwick is known. An RRSIG goes to the owner of the RRset
//!   it covers; a DNAME's owner is derived from the CNAME it synthesizes. A chain that cannot
//!   be followed (a CNAME after other data of the same owner, a DNAME without its CNAME) is
//!   rejected as `bad answer` rather than guessed.
//! - `rcode` NXDOMAIN, and NOERROR without data of the queried type at the end of the chain
//!   (NODATA), are negative answers: with `SourceOptions::negative` they become negative
//!   observations of the last name of the chain and the queried type (CNAMEs on the way are
//!   still positive observations); otherwise they are skipped as `negative answer`. Other
//!   rcodes (SERVFAIL, REFUSED, ...) are skipped as `failed query`.
//! - DNS Firewall: when `firewall_rule_action` is `BLOCK`, the answer is the firewall's
//!   synthesized response (NXDOMAIN, NODATA or an OVERRIDE CNAME), not DNS data, and the
//!   record is skipped as `blocked by DNS firewall`. `ALERT` and `ALLOW` answers are real and
//!   kept.
//! - Sensor: `SourceOptions::sensor` if given, else the record's `vpc_id` (the VPC whose
//!   Resolver answered: a stable vantage point, unlike instance ids or source addresses).
//! - The CloudWatch Logs forms are accepted too: a subscription / Firehose envelope
//!   (`{"messageType":"DATA_MESSAGE",...,"logEvents":[{"id":...,"timestamp":...,"message":"{...}"}]}`,
//!   one line yielding the records of all its events; `CONTROL_MESSAGE`s are skipped), several
//!   such objects back to back on one line (as Firehose writes them), and the lines of a
//!   CloudWatch Logs export to S3 (`<timestamp> <message>`).
//!
//! # Public hosted zone query logs
//!
//! Space-separated text, per the Developer Guide, "Public DNS query logging", "Values that
//! appear in DNS query logs": log format version, query timestamp, hosted zone id, query name,
//! query type, response code, protocol, edge location, resolver IP, EDNS client subnet
//! (`1.0 2017-12-13T08:16:02.130Z Z123412341234 example.com A NOERROR UDP FRA6 192.168.1.1 -`).
//! They record only the query and the response code, never the answer, so every such line
//! (bare, inside a CloudWatch envelope or behind an export timestamp) is rejected with the
//! reason `no answers` and a detail saying so: a whole file of them shows up as one clear
//! rejection category in the import summary.
//!
//! What the three cloud formats share is in `crate::cloud`.

use dnsledger_model::Observation;

use crate::cloud::*;
use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// Parser for Route 53 Resolver query logs (and recogniser of public hosted zone query logs).
pub struct Route53Parser {
    sensor: Option<String>,
    negative: bool,
    obs: Observation,
    sets: Rrsets,
}

impl Route53Parser {
    /// A parser honouring `opts.sensor` and `opts.negative`.
    pub fn new(opts: &SourceOptions) -> Route53Parser {
        Route53Parser {
            sensor: opts.sensor.clone(),
            negative: opts.negative,
            obs: Observation::default(),
            sets: Rrsets::new(),
        }
    }

    /// One Resolver query log record, or a CloudWatch envelope of them.
    fn json(&mut self, text: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let mut objects = serde_json::Deserializer::from_slice(text).into_iter::<Record<'_>>();
        let first = match objects.next() {
            Some(r) => r.map_err(bad_json)?,
            None => return Err(ParseError::new("bad json", "no JSON object")),
        };
        let Some(second) = objects.next() else {
            return self.record(&first, emit);
        };
        // Firehose writes CloudWatch envelopes back to back without a separator.
        let mut tally = Tally::default();
        tally.add(self.record(&first, emit));
        tally.add(second.map_err(bad_json).and_then(|r| self.record(&r, emit)));
        for r in objects {
            tally.add(r.map_err(bad_json).and_then(|r| self.record(&r, emit)));
        }
        tally.finish("JSON object")
    }

    fn record(&mut self, r: &Record<'_>, emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        if let Some(events) = &r.log_events {
            if r.message_type.as_ref().and_then(Scalar::as_str) == Some("CONTROL_MESSAGE") {
                return Ok(LineOutcome::Skipped("control message"));
            }
            let mut tally = Tally::default();
            for ev in events {
                let outcome = match ev.message.as_ref().and_then(Scalar::as_str) {
                    Some(m) => self.message(m.trim().as_bytes(), emit),
                    None => Err(ParseError::new("missing field", "logEvents[].message")),
                };
                tally.add(outcome);
            }
            return tally.finish("log event");
        }
        self.resolver_record(r, emit)
    }

    /// The `message` of a CloudWatch log event: a Resolver record or a public zone line.
    fn message(&mut self, m: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        if m.first() == Some(&b'{') {
            let r: Record<'_> = serde_json::from_slice(m).map_err(bad_json)?;
            if r.log_events.is_some() {
                return Err(ParseError::new("bad field", "logEvents[].message: a nested envelope"));
            }
            return self.resolver_record(&r, emit);
        }
        if let Some(zone) = public_zone_line(m) {
            return Err(no_answers(zone));
        }
        Err(ParseError::new(
            "unrecognized line",
            format!(
                "log event message is neither a Resolver query log record nor a public zone query log line: {:?}",
                lossy(m)
            ),
        ))
    }

    fn resolver_record(
        &mut self,
        r: &Record<'_>,
        emit: &mut dyn FnMut(&mut Observation),
    ) -> Result<LineOutcome, ParseError> {
        let qname = r.query_name.as_ref().ok_or_else(|| ParseError::new("missing field", "query_name"))?;
        let qname = qname.as_str().ok_or_else(|| bad_field("query_name", qname))?;
        if let Some(action) = r.firewall_rule_action.as_ref().and_then(Scalar::as_str) {
            if action.eq_ignore_ascii_case("BLOCK") {
                return Ok(LineOutcome::Skipped("blocked by DNS firewall"));
            }
        }
        let rcode = match &r.rcode {
            Some(rc) => Rcode::from_scalar("rcode", rc)?,
            None => return Err(ParseError::new("missing field", "rcode")),
        };
        if rcode == Rcode::Failed {
            return Ok(LineOutcome::Skipped("failed query"));
        }
        let qtype = r.query_type.as_ref().ok_or_else(|| ParseError::new("missing field", "query_type"))?;
        let qtype = qtype.rrtype().ok_or_else(|| ParseError::new("unknown rrtype", format!("query_type {qtype}")))?;
        if let Some(class) = r.query_class.as_ref().and_then(Scalar::as_str) {
            if !class.is_empty() && !class.eq_ignore_ascii_case("IN") {
                return Err(ParseError::new("unsupported class", format!("query_class {class:?}")));
            }
        }
        let ts = r.query_timestamp.as_ref().ok_or_else(|| ParseError::new("missing field", "query_timestamp"))?;
        let time = ts
            .as_str()
            .and_then(parse_time)
            .ok_or_else(|| ParseError::new("bad time", format!("query_timestamp {ts} is not RFC 3339")))?;

        let mut chain = Chain::start(&mut self.sets, qname)?;
        for (i, a) in r.answers.iter().flatten().enumerate() {
            let field = |f: &str| format!("answers[{i}].{f}");
            let rrtype = a
                .rrtype
                .as_ref()
                .and_then(Scalar::as_str)
                .ok_or_else(|| ParseError::new("missing field", field("Type")))?;
            let rdata = a
                .rdata
                .as_ref()
                .and_then(Scalar::as_str)
                .ok_or_else(|| ParseError::new("missing field", field("Rdata")))?;
            let class = a.class.as_ref().and_then(Scalar::as_str);
            chain.push(&mut self.sets, Answer { rrtype, class, rdata, ttl: None, owner: None })?;
        }
        chain.finish()?;

        let obs = &mut self.obs;
        obs.bailiwick = None;
        obs.time_first = time;
        obs.time_last = time;
        obs.zone = false;
        obs.count = 1;
        set_sensor(obs, &self.sensor, r.vpc_id.as_ref().and_then(Scalar::as_str));
        Ok(finish_response(&mut self.sets, obs, qtype, rcode, self.negative, emit))
    }
}

impl LineParser for Route53Parser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = match crate::content(line) {
            Ok(l) => l,
            Err(skip) => return Ok(skip),
        };
        if line.first() == Some(&b'{') {
            return self.json(line, emit);
        }
        // a CloudWatch Logs export line: "<timestamp> <message>"
        if let Some((ts, rest)) = split_token(line) {
            if looks_like_timestamp(ts) && rest.first() == Some(&b'{') {
                return self.json(rest, emit);
            }
        }
        if let Some(zone) = public_zone_line(line) {
            return Err(no_answers(zone));
        }
        Err(ParseError::new(
            "unrecognized line",
            format!("neither a Resolver query log JSON record nor a public zone query log line: {:?}", lossy(line)),
        ))
    }
}

/// True if `line` is a Resolver query log record, a CloudWatch envelope of Route 53 logs, or a
/// public hosted zone query log line (bare or behind a CloudWatch export timestamp).
pub fn sniff(line: &[u8]) -> bool {
    let l = line.trim_ascii();
    let has = |k: &[u8]| memchr::memmem::find(l, k).is_some();
    if l.first() == Some(&b'{') {
        return (has(b"\"query_timestamp\"") && has(b"\"query_name\""))
            || (has(b"\"logEvents\"") && (has(b"query_timestamp") || has(b"/aws/route53/")));
    }
    if public_zone_line(l).is_some() {
        return true;
    }
    match split_token(l) {
        Some((ts, rest)) => looks_like_timestamp(ts) && rest.first() == Some(&b'{') && sniff(rest),
        None => false,
    }
}

json_fields! {
    /// The fields of a Resolver query log record (and of the CloudWatch envelope around it).
    struct Record<'a> {
        query_timestamp: Scalar<'a> = b"query_timestamp",
        query_name: Scalar<'a> = b"query_name",
        query_type: Scalar<'a> = b"query_type",
        query_class: Scalar<'a> = b"query_class",
        rcode: Scalar<'a> = b"rcode",
        answers: Vec<R53Answer<'a>> = b"answers",
        vpc_id: Scalar<'a> = b"vpc_id",
        firewall_rule_action: Scalar<'a> = b"firewall_rule_action",
        log_events: Vec<LogEvent<'a>> = b"logEvents",
        message_type: Scalar<'a> = b"messageType",
    }
}

json_fields! {
    /// One element of `answers`.
    struct R53Answer<'a> {
        rdata: Scalar<'a> = b"Rdata",
        rrtype: Scalar<'a> = b"Type",
        class: Scalar<'a> = b"Class",
    }
}

json_fields! {
    /// One element of a CloudWatch envelope's `logEvents`.
    struct LogEvent<'a> {
        message: Scalar<'a> = b"message",
    }
}

/// If `line` is a public hosted zone query log line (optionally behind a CloudWatch export
/// timestamp), its hosted zone id.
fn public_zone_line(line: &[u8]) -> Option<&[u8]> {
    let mut toks = line.split(|&b| b == b' ' || b == b'\t').filter(|t| !t.is_empty());
    let mut version = toks.next()?;
    if looks_like_timestamp(version) {
        version = toks.next()?;
    }
    let (major, minor) = split_at_byte(version, b'.')?;
    if major.is_empty() || minor.is_empty() || !major.iter().chain(minor).all(u8::is_ascii_digit) {
        return None;
    }
    if !looks_like_timestamp(toks.next()?) {
        return None;
    }
    let zone = toks.next()?;
    if zone.first() != Some(&b'Z') || !zone.iter().all(u8::is_ascii_alphanumeric) {
        return None;
    }
    // query name, type, rcode, protocol, edge location, resolver IP (and the EDNS client subnet)
    (toks.count() >= 6).then_some(zone)
}

fn no_answers(zone: &[u8]) -> ParseError {
    ParseError::new(
        "no answers",
        format!(
            "a Route 53 public hosted zone query log line (hosted zone {}): these logs record only the query and \
             its response code, not the answer records, so they cannot become passive DNS records (Route 53 \
             Resolver query logs carry answers)",
            lossy(zone)
        ),
    )
}

/// `YYYY-MM-DDTHH:MM:SS...`
pub(crate) fn looks_like_timestamp(t: &[u8]) -> bool {
    t.len() >= 19
        && t.get(4) == Some(&b'-')
        && t.get(7) == Some(&b'-')
        && matches!(t.get(10), Some(b'T' | b't'))
        && t.get(13) == Some(&b':')
        && t.iter().take(4).all(u8::is_ascii_digit)
}

/// The first blank-separated token and the rest (leading blanks removed).
fn split_token(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let p = memchr::memchr2(b' ', b'\t', line)?;
    Some((line.get(..p)?, line.get(p + 1..)?.trim_ascii_start()))
}

fn split_at_byte(b: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let p = memchr::memchr(sep, b)?;
    Some((b.get(..p)?, b.get(p + 1..)?))
}

fn bad_json(e: serde_json::Error) -> ParseError {
    ParseError::new("bad json", e.to_string())
}

/// CPU time (this thread's user + system time, from /proc) per call of `f` over `lines`,
/// cycled for about two seconds: wall time misleads on a machine shared with other jobs.
#[cfg(test)]
pub(crate) fn per_line_cpu_ns(lines: &[&str], mut f: impl FnMut(&[u8])) -> f64 {
    fn cpu_ticks() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
        let after_comm = stat.rsplit(')').next().unwrap_or("");
        let fields: Vec<&str> = after_comm.split_whitespace().collect();
        // fields 14 and 15 of stat(5) (utime, stime) are 12 and 13 after the command name
        fields.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
            + fields.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
    }
    let n = 1_000_000;
    let start = cpu_ticks();
    for i in 0..n {
        f(lines[i % lines.len()].as_bytes());
    }
    // clock ticks are 1/100 s on Linux
    (cpu_ticks() - start) as f64 * 1e7 / n as f64
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Negative, Rdata, RrType};
    use std::borrow::Cow;

    fn opts(negative: bool) -> SourceOptions {
        SourceOptions { negative, ..Default::default() }
    }

    fn run(p: &mut Route53Parser, line: &str) -> (Result<LineOutcome, ParseError>, Vec<Observation>) {
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()));
        (r, out)
    }

    fn parse(line: &str) -> (Result<LineOutcome, ParseError>, Vec<Observation>) {
        run(&mut Route53Parser::new(&opts(false)), line)
    }

    fn ok(line: &str) -> Vec<Observation> {
        let (r, v) = parse(line);
        assert_eq!(r, Ok(LineOutcome::Observations(v.len() as u32)), "{line}");
        v
    }

    fn name(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn rd(t: RrType, s: &str) -> Rdata {
        Rdata::parse(t, s).unwrap()
    }

    // Shapes follow the Route 53 Developer Guide, "Values that appear in Resolver query logs"
    // and "Resolver query log example" (field names, order and value formats); values are ours.
    const CNAME_CHAIN: &str = r#"{"version":"1.100000","account_id":"111122223333","region":"eu-west-1","vpc_id":"vpc-0a1b2c3d","query_timestamp":"2024-03-05T10:20:30Z","query_name":"www.shop.example.","query_type":"A","query_class":"IN","rcode":"NOERROR","answers":[{"Rdata":"shop.cdn.example.net.","Type":"CNAME","Class":"IN"},{"Rdata":"edge7.cdn.example.net.","Type":"CNAME","Class":"IN"},{"Rdata":"192.0.2.10","Type":"A","Class":"IN"},{"Rdata":"192.0.2.11","Type":"A","Class":"IN"}],"srcaddr":"10.1.2.3","srcport":"51234","transport":"UDP","srcids":{"instance":"i-0123456789abcdef0"}}"#;
    const NXDOMAIN: &str = r#"{"version":"1.100000","account_id":"111122223333","region":"eu-west-1","vpc_id":"vpc-0a1b2c3d","query_timestamp":"2024-03-05T10:20:31.250Z","query_name":"missing.example.","query_type":"AAAA","query_class":"IN","rcode":"NXDOMAIN","answers":[],"srcaddr":"10.1.2.3","srcport":"51235","transport":"UDP","srcids":{}}"#;
    const NODATA: &str = r#"{"version":"1.100000","account_id":"111122223333","region":"eu-west-1","vpc_id":"vpc-0a1b2c3d","query_timestamp":"2024-03-05T10:20:32Z","query_name":"v4only.example.","query_type":"AAAA","query_class":"IN","rcode":"NOERROR","answers":[],"srcaddr":"10.1.2.3","srcport":"51236","transport":"UDP","srcids":{"instance":"i-0123456789abcdef0"}}"#;
    const BLOCKED: &str = r#"{"srcaddr":"10.1.2.3","vpc_id":"vpc-0a1b2c3d","answers":[{"Rdata":"198.51.100.99","Type":"A","Class":"IN"}],"firewall_rule_group_id":"rslvr-frg-0123456789abcdef","firewall_rule_action":"BLOCK","query_name":"bad.example.","firewall_domain_list_id":"rslvr-fdl-0123456789abcdef","query_class":"IN","srcids":{"instance":"i-0123456789abcdef0"},"rcode":"NOERROR","query_type":"A","transport":"UDP","version":"1.100000","account_id":"111122223333","srcport":"56067","query_timestamp":"2024-03-05T10:20:33Z","region":"eu-west-1"}"#;
    const ALERT: &str = r#"{"srcaddr":"10.1.2.3","vpc_id":"vpc-0a1b2c3d","answers":[{"Rdata":"host.example.org.","Type":"PTR","Class":"IN"}],"firewall_rule_group_id":"rslvr-frg-0123456789abcdef","firewall_rule_action":"ALERT","query_name":"10.2.0.192.in-addr.arpa.","firewall_domain_list_id":"rslvr-fdl-0123456789abcdef","query_class":"IN","srcids":{"instance":"i-0123456789abcdef0","resolver_endpoint":"rslvr-in-0123456789abcdef"},"rcode":"NOERROR","query_type":"PTR","transport":"UDP","version":"1.100000","account_id":"111122223333","srcport":"56067","query_timestamp":"2024-03-05T10:20:34Z","region":"eu-west-1"}"#;
    // Route 53 Developer Guide, "Public DNS query logging", "Query log example" (our values).
    const PUBLIC: &str =
        "1.0 2024-03-05T10:20:35.130Z Z0123456789ABC www.example.com A NOERROR UDP FRA56-C1 192.0.2.53 -";
    const PUBLIC_ECS: &str =
        "1.0 2024-03-05T10:20:36.235Z Z0123456789ABC example.com AAAA NOERROR TCP IAD89-C3 2001:db8::53 2001:db8:abcd::/48";

    #[test]
    fn cname_chain_is_rebuilt_into_rrsets() {
        let v = ok(CNAME_CHAIN);
        assert_eq!(v.len(), 3);
        assert_eq!((v[0].rrname.clone(), v[0].rrtype), (name("www.shop.example"), RrType::CNAME));
        assert_eq!(v[0].rdata.to_vec(), vec![rd(RrType::CNAME, "shop.cdn.example.net.")]);
        assert_eq!((v[1].rrname.clone(), v[1].rrtype), (name("shop.cdn.example.net"), RrType::CNAME));
        assert_eq!(v[1].rdata.to_vec(), vec![rd(RrType::CNAME, "edge7.cdn.example.net.")]);
        assert_eq!((v[2].rrname.clone(), v[2].rrtype), (name("edge7.cdn.example.net"), RrType::A));
        assert_eq!(v[2].rdata.to_vec(), vec![rd(RrType::A, "192.0.2.10"), rd(RrType::A, "192.0.2.11")]);
        for o in &v {
            assert_eq!((o.time_first, o.time_last, o.ttl, o.count), (1709634030, 1709634030, None, 1));
            assert_eq!((o.bailiwick.clone(), o.zone, o.negative), (None, false, None));
            assert_eq!(o.sensor.as_deref(), Some("vpc-0a1b2c3d"));
        }
        // a configured sensor wins over the VPC id
        let mut p = Route53Parser::new(&SourceOptions { sensor: Some("aws-eu".into()), ..Default::default() });
        let (_, v) = run(&mut p, CNAME_CHAIN);
        assert!(v.iter().all(|o| o.sensor.as_deref() == Some("aws-eu")));
    }

    #[test]
    fn negative_answers() {
        assert_eq!(parse(NXDOMAIN).0, Ok(LineOutcome::Skipped("negative answer")));
        assert_eq!(parse(NODATA).0, Ok(LineOutcome::Skipped("negative answer")));
        let mut p = Route53Parser::new(&opts(true));
        let (r, v) = run(&mut p, NXDOMAIN);
        assert_eq!(r, Ok(LineOutcome::Observations(1)));
        assert_eq!(
            (v[0].rrname.clone(), v[0].rrtype, v[0].negative),
            (name("missing.example"), RrType::AAAA, Some(Negative::NxDomain))
        );
        assert!(v[0].rdata.is_empty());
        assert_eq!((v[0].time_first, v[0].ttl), (1709634031, None));
        let (_, v) = run(&mut p, NODATA);
        assert_eq!(
            (v[0].rrname.clone(), v[0].rrtype, v[0].negative),
            (name("v4only.example"), RrType::AAAA, Some(Negative::NoData))
        );
        // a CNAME into a name that does not exist: the CNAME is data, the NXDOMAIN is at its target
        let line = NXDOMAIN
            .replace(r#""answers":[]"#, r#""answers":[{"Rdata":"gone.example.net.","Type":"CNAME","Class":"IN"}]"#);
        assert_eq!(parse(&line).1.len(), 1);
        let (r, v) = run(&mut p, &line);
        assert_eq!(r, Ok(LineOutcome::Observations(2)));
        assert_eq!((v[0].rrtype, v[0].negative), (RrType::CNAME, None));
        assert_eq!(
            (v[1].rrname.clone(), v[1].rrtype, v[1].negative),
            (name("gone.example.net"), RrType::AAAA, Some(Negative::NxDomain))
        );
        // the positive line after a negative one carries no leftover negative flag
        let (_, v) = run(&mut p, CNAME_CHAIN);
        assert!(v.iter().all(|o| o.negative.is_none()));
        let fail = NODATA.replace("\"NOERROR\"", "\"SERVFAIL\"");
        assert_eq!(run(&mut p, &fail).0, Ok(LineOutcome::Skipped("failed query")));
    }

    #[test]
    fn firewall_actions() {
        assert_eq!(parse(BLOCKED).0, Ok(LineOutcome::Skipped("blocked by DNS firewall")));
        let v = ok(ALERT);
        assert_eq!(v.len(), 1);
        assert_eq!((v[0].rrname.clone(), v[0].rrtype), (name("10.2.0.192.in-addr.arpa"), RrType::PTR));
        assert_eq!(v[0].rdata.to_vec(), vec![rd(RrType::PTR, "host.example.org.")]);
    }

    #[test]
    fn public_zone_logs_are_rejected_as_carrying_no_answers() {
        for line in [PUBLIC, PUBLIC_ECS, &format!("2024-03-05T10:20:35.130Z {PUBLIC}")] {
            let e = parse(line).0.unwrap_err();
            assert_eq!(e.reason, "no answers");
            assert!(e.detail.contains("Z0123456789ABC") && e.detail.contains("public hosted zone"), "{}", e.detail);
            assert!(sniff(line.as_bytes()), "{line}");
        }
        assert_eq!(crate::Format::sniff(format!("{PUBLIC}\n").as_bytes()), Some(crate::Format::Route53));
    }

    #[test]
    fn cloudwatch_forms() {
        // CloudWatch Logs subscription filter data (Amazon CloudWatch Logs User Guide,
        // "Subscription filters"): the record is the event's message, as a JSON string.
        let msg = serde_json::to_string(CNAME_CHAIN).unwrap();
        let nx = serde_json::to_string(NXDOMAIN).unwrap();
        let env = format!(
            r#"{{"messageType":"DATA_MESSAGE","owner":"111122223333","logGroup":"/aws/route53/resolver","logStream":"vpc-0a1b2c3d_abc","subscriptionFilters":["all"],"logEvents":[{{"id":"1","timestamp":1709634030000,"message":{msg}}},{{"id":"2","timestamp":1709634031000,"message":{nx}}}]}}"#
        );
        assert!(sniff(env.as_bytes()));
        let (r, v) = parse(&env);
        assert_eq!(r, Ok(LineOutcome::Observations(3)));
        assert_eq!(v[2].rrname, name("edge7.cdn.example.net"));
        // Firehose concatenates envelopes without a separator
        let (r, v) = parse(&format!("{env}{env}"));
        assert_eq!((r, v.len()), (Ok(LineOutcome::Observations(6)), 6));
        let control = r#"{"messageType":"CONTROL_MESSAGE","owner":"CloudwatchLogs","logGroup":"","logStream":"","subscriptionFilters":[],"logEvents":[{"id":"","timestamp":1709634030000,"message":"CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}"#;
        assert_eq!(parse(control).0, Ok(LineOutcome::Skipped("control message")));
        // public zone lines inside an envelope are still "no answers"
        let pubenv = format!(
            r#"{{"messageType":"DATA_MESSAGE","logGroup":"/aws/route53/example.com","logEvents":[{{"id":"1","timestamp":1,"message":"{PUBLIC}"}}]}}"#
        );
        assert!(sniff(pubenv.as_bytes()));
        let e = parse(&pubenv).0.unwrap_err();
        assert_eq!(e.reason, "no answers");
        assert!(e.detail.starts_with("log event 1 of 1: "), "{}", e.detail);
        // a broken event among good ones: the others are kept and the line says so
        let bad = format!(
            r#"{{"messageType":"DATA_MESSAGE","logEvents":[{{"id":"1","timestamp":1,"message":{msg}}},{{"id":"2","timestamp":1,"message":"{{\"query_name\":\"x.\"}}"}}]}}"#
        );
        let (r, v) = parse(&bad);
        let e = r.unwrap_err();
        assert_eq!((e.reason, v.len()), ("missing field", 3));
        assert!(e.detail.starts_with("log event 2 of 2: ") && e.detail.contains("3 observations"), "{}", e.detail);
        // an export to S3 puts the event time before the message
        let (r, v) = parse(&format!("2024-03-05T10:20:30.000Z {CNAME_CHAIN}"));
        assert_eq!((r, v.len()), (Ok(LineOutcome::Observations(3)), 3));
    }

    #[test]
    fn owners_of_dname_and_rrsig() {
        let line = CNAME_CHAIN.replace(
            r#""answers":[{"Rdata":"shop.cdn.example.net.","Type":"CNAME","Class":"IN"},{"Rdata":"edge7.cdn.example.net.","Type":"CNAME","Class":"IN"},"#,
            r#""answers":[{"Rdata":"shop.example.net.","Type":"DNAME","Class":"IN"},{"Rdata":"www.shop.example.net.","Type":"CNAME","Class":"IN"},{"Rdata":"CNAME 13 4 300 20240401000000 20240301000000 12345 example. AAAA","Type":"RRSIG","Class":"IN"},"#,
        );
        let v = ok(&line);
        let got: Vec<(String, RrType)> = v.iter().map(|o| (o.rrname.to_string(), o.rrtype)).collect();
        assert_eq!(
            got,
            vec![
                ("shop.example.".to_string(), RrType::DNAME),
                ("www.shop.example.".to_string(), RrType::CNAME),
                ("www.shop.example.".to_string(), RrType::RRSIG),
                ("www.shop.example.net.".to_string(), RrType::A),
            ]
        );
        assert_eq!(v[0].rdata.to_vec(), vec![rd(RrType::DNAME, "shop.example.net.")]);
    }

    #[test]
    fn rejections() {
        let reason = |l: &str| parse(l).0.unwrap_err().reason;
        assert_eq!(reason(&CNAME_CHAIN.replace("\"192.0.2.10\"", "\"192.0.2.300\"")), "bad rdata");
        assert_eq!(reason(&CNAME_CHAIN.replace("\"Type\":\"A\"", "\"Type\":\"BOGUS\"")), "unknown rrtype");
        assert_eq!(reason(&CNAME_CHAIN.replace("\"query_type\":\"A\"", "\"query_type\":\"NOPE\"")), "unknown rrtype");
        assert_eq!(reason(&CNAME_CHAIN.replace("2024-03-05T10:20:30Z", "yesterday")), "bad time");
        assert_eq!(reason(&CNAME_CHAIN.replace("www.shop.example.", "www..shop")), "bad rrname");
        assert_eq!(reason(&CNAME_CHAIN.replace("\"query_name\":\"www.shop.example.\",", "")), "missing field");
        assert_eq!(reason(&CNAME_CHAIN.replace("\"rcode\":\"NOERROR\",", "")), "missing field");
        assert_eq!(reason(&CNAME_CHAIN.replace("\"Class\":\"IN\"}]", "\"Class\":\"CH\"}]")), "unsupported class");
        assert_eq!(
            reason(&CNAME_CHAIN.replace("\"query_class\":\"IN\"", "\"query_class\":\"HS\"")),
            "unsupported class"
        );
        assert_eq!(reason(&CNAME_CHAIN[..100]), "bad json");
        assert_eq!(reason("hello world"), "unrecognized line");
        // A before the CNAME of the same name: the chain cannot be followed
        let swapped = r#"{"query_timestamp":"2024-03-05T10:20:30Z","query_name":"a.example.","query_type":"A","rcode":"NOERROR","answers":[{"Rdata":"192.0.2.1","Type":"A","Class":"IN"},{"Rdata":"b.example.","Type":"CNAME","Class":"IN"}]}"#;
        assert_eq!(reason(swapped), "bad answer");
        let lonely_dname = r#"{"query_timestamp":"2024-03-05T10:20:30Z","query_name":"a.example.","query_type":"A","rcode":"NOERROR","answers":[{"Rdata":"example.net.","Type":"DNAME","Class":"IN"}]}"#;
        assert_eq!(reason(lonely_dname), "bad answer");
        assert_eq!(parse("").0, Ok(LineOutcome::Skipped("empty line")));
        assert_eq!(parse("# note").0, Ok(LineOutcome::Skipped("comment")));
    }

    #[test]
    fn sniffing() {
        for l in [CNAME_CHAIN, NXDOMAIN, BLOCKED, PUBLIC] {
            assert!(sniff(l.as_bytes()), "{l}");
            assert_eq!(crate::Format::sniff(l.as_bytes()), Some(crate::Format::Route53), "{l}");
        }
        assert!(!sniff(br#"{"rrname":"a.","rrtype":"A","rdata":"1.2.3.4","time":1}"#));
        assert!(!sniff(br#"{"query_name":"a.","rcode":0}"#));
        assert!(!sniff(b"1.0 some text"));
    }

    #[test]
    fn time_fast_path_matches_jiff() {
        for t in [
            "1970-01-01T00:00:00Z",
            "2000-02-29T23:59:59Z",
            "2024-03-05T10:20:31.250Z",
            "2021-12-11T22:46:23.123456789Z",
            "2100-12-31T12:00:00z",
            "1999-12-31T23:59:59.9Z",
        ] {
            assert_eq!(fast_utc(t.as_bytes()), dnsledger_model::time::parse_datetime(t), "{t}");
            assert!(fast_utc(t.as_bytes()).is_some(), "{t}");
        }
        for t in ["2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z", "2024-01-01T00:00:00.Z"] {
            assert_eq!(fast_utc(t.as_bytes()), None, "{t}");
            assert_eq!(parse_time(t), None, "{t}");
        }
        assert_eq!(parse_time("2024-03-05T11:20:30+01:00"), Some(1709634030));
    }

    #[test]
    fn scalars_and_rcodes() {
        let s: Scalar<'_> = serde_json::from_str("\"a\\u0062\"").unwrap();
        assert_eq!(s, Scalar::Str(Cow::Owned("ab".into())));
        let s: Scalar<'_> = serde_json::from_str("\"ab\"").unwrap();
        assert!(matches!(s, Scalar::Str(Cow::Borrowed("ab"))));
        assert_eq!(Rcode::from_scalar("x", &Scalar::Uint(3)), Ok(Rcode::NxDomain));
        assert_eq!(Rcode::from_scalar("x", &Scalar::Str("NoError".into())), Ok(Rcode::NoError));
        assert_eq!(Rcode::from_scalar("x", &Scalar::Str("REFUSED".into())), Ok(Rcode::Failed));
        assert_eq!(Rcode::from_scalar("x", &Scalar::Uint(2)), Ok(Rcode::Failed));
        assert_eq!(Rcode::from_scalar("x", &Scalar::Int(-1)).unwrap_err().reason, "bad field");
        assert_eq!(Scalar::Str("TYPE65".into()).rrtype(), Some(RrType::HTTPS));
        assert_eq!(Scalar::Uint(28).rrtype(), Some(RrType::AAAA));
        assert_eq!(Scalar::Str("65".into()).rrtype(), Some(RrType::HTTPS));
    }

    #[test]
    fn mutated_lines_never_panic() {
        let env = format!(
            r#"{{"messageType":"DATA_MESSAGE","logEvents":[{{"id":"1","timestamp":1,"message":{}}}]}}"#,
            serde_json::to_string(CNAME_CHAIN).unwrap()
        );
        let samples = [CNAME_CHAIN, NXDOMAIN, NODATA, BLOCKED, ALERT, PUBLIC, PUBLIC_ECS, &env];
        let mut p = Route53Parser::new(&opts(true));
        crate::testing::mutate_all(&samples, 5000, |l| {
            let _ = p.parse_line(l, &mut |_| {});
            let _ = sniff(l);
        });
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn speed() {
        let lines = [CNAME_CHAIN, NXDOMAIN, ALERT, NODATA];
        let mut p = Route53Parser::new(&opts(true));
        let mut obs = 0u64;
        let ns = per_line_cpu_ns(&lines, |l| {
            let _ = p.parse_line(l, &mut |_| obs += 1);
        });
        let base = per_line_cpu_ns(&lines, |l| {
            let _ = serde_json::from_slice::<serde::de::IgnoredAny>(l);
        });
        println!(
            "route53: {ns:.0} ns/line of CPU ({obs} observations); serde_json IgnoredAny on the same lines: {base:.0}"
        );
    }
}
