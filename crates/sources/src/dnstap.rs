//! dnstap: one Frame Streams data frame payload (an encoded `Dnstap` protobuf message) in,
//! the RRsets of its DNS response out.
//!
//! The format is the public dnstap schema (`dnstap.proto`, <https://github.com/dnstap/dnstap.pb>),
//! carried in Frame Streams (content type `protobuf:dnstap.Dnstap`); the protocol layer (framing,
//! files, sockets, the prost types) is the `dnsledger-dnstap` crate. The ingest pipeline cuts
//! files into frames and hands each payload here as one "line".
//!
//! What a frame turns into:
//! - Response events carry data: `AUTH_RESPONSE`, `RESOLVER_RESPONSE`, `FORWARDER_RESPONSE`,
//!   `CLIENT_RESPONSE`, and also `STUB_RESPONSE` and `TOOL_RESPONSE` (a stub's or tool's view of a
//!   server's answer is still an answer; the bailiwick rule decides what of it can be kept).
//!   Their `response_message` (DNS wire format) goes through `dnsledger-wire`'s [`Extractor`]:
//!   one observation per RRset kept (answer chain; authority and additional sections only under
//!   a known zone), plus NXDOMAIN/NODATA as negative observations with `--negative`.
//! - Query events (`*_QUERY`, including `UPDATE_QUERY`) are skipped (`dnstap query`),
//!   `UPDATE_RESPONSE` too (`dnstap update response`: dynamic update replies carry no data),
//!   unknown message types (`unknown dnstap message type`), payloads whose `type` is not MESSAGE
//!   or that lack the message (`not a dnstap message`), and responses without
//!   `response_message` (`no response message`).
//! - Time: `response_time_sec`, else `query_time_sec`; with neither the frame is rejected
//!   (`missing field`).
//! - Bailiwick (the rule of `crates/wire/src/lib.rs`, summarised in `docs/sensor.md`): the
//!   `query_zone` field is the zone the server was asked as (for a resolver, the delegation point
//!   whose servers it queried; for an authoritative server such as NSD, the zone it answered
//!   from). It is passed as the extractor's zone hint for `RESOLVER_RESPONSE` and
//!   `AUTH_RESPONSE`, and for `FORWARDER_RESPONSE` only when the response has AA set: an
//!   upstream *recursive* server vouches for no zone, so its answer keeps only the answer chain
//!   without bailiwick, like every `CLIENT_RESPONSE`/`STUB_RESPONSE`/`TOOL_RESPONSE` (no hint;
//!   their zone comes from the message itself when it is authoritative). Without `query_zone`
//!   the zone is found from the message as the wire crate documents.
//! - Sensor: `--sensor` when given, else the `identity` field when present, non-empty and valid
//!   UTF-8 (what `dnstap-identity` configures in Unbound, `identity` in Knot/BIND), else none.
//!
//! Skip reasons of well-formed DNS messages with nothing to store are the wire crate's
//! ([`Skip::as_str`], with the RCODE named: `rcode_servfail`, `rcode_refused`, …); a response
//! that yields nothing is `negative answer` (NXDOMAIN, or no answer records, without
//! `--negative` or when no negative can be stated) or `dropped by bailiwick rule`. Rejections:
//! `bad protobuf` (the payload does not decode), `bad field` (`query_zone` is not a wire-format
//! name), `missing field` (no time), `bad dns message` (the wire crate's reason and detail).
//!
//! Cost: the payload is decoded with `dnsledger-dnstap`'s zero-copy [`DnstapView`] (same
//! semantics as the prost types, checked by a differential test there; prost's owned decode
//! allocating every bytes field cost about as much as the DNS extraction on the Unbound corpus);
//! the sensor string and the zone hint are cached across frames, and the extractor reuses its
//! buffers, so a frame allocates only the observations' owner names (in the extractor).

use dnsledger_dnstap::{DnstapView, Frame, MessageType};
use dnsledger_model::{Name, Observation};
use dnsledger_wire::{ExtractOptions, Extractor, MessageMeta, Skip};

use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// dnstap `Dnstap.Type` MESSAGE.
const TYPE_MESSAGE: i32 = 1;

/// Parser for dnstap frame payloads.
pub struct DnstapParser {
    extractor: Extractor,
    /// `--sensor`, which wins over the identity field.
    opt_sensor: Option<String>,
    /// The sensor of the current frame, swapped into each observation while it is emitted.
    sensor: Option<String>,
    /// Raw `query_zone` of the last hint and its parsed name.
    zone_raw: Vec<u8>,
    zone: Option<Name>,
}

impl DnstapParser {
    /// A parser honouring `opts.sensor` and `opts.negative`.
    pub fn new(opts: &SourceOptions) -> DnstapParser {
        let eo = ExtractOptions { negative: opts.negative, ..ExtractOptions::default() };
        DnstapParser {
            extractor: Extractor::new(eo),
            opt_sensor: opts.sensor.clone(),
            sensor: opts.sensor.clone(),
            zone_raw: Vec::new(),
            zone: None,
        }
    }

    /// Points `self.sensor` at this frame's sensor without allocating when it did not change.
    fn set_sensor(&mut self, identity: Option<&[u8]>) {
        if self.opt_sensor.is_some() {
            if self.sensor != self.opt_sensor {
                self.sensor.clone_from(&self.opt_sensor);
            }
            return;
        }
        let id = identity.filter(|i| !i.is_empty()).and_then(|i| std::str::from_utf8(i).ok());
        if self.sensor.as_deref() != id {
            self.sensor = id.map(str::to_owned);
        }
    }

    /// The zone hint for `query_zone`, parsed once per distinct value.
    fn zone_hint(&mut self, raw: &[u8]) -> Result<&Name, ParseError> {
        if self.zone.is_none() || self.zone_raw != raw {
            self.zone = None;
            let name = Name::from_wire(raw)
                .map_err(|e| ParseError::new("bad field", format!("query_zone {}: {e}", hex(raw))))?;
            self.zone_raw.clear();
            self.zone_raw.extend_from_slice(raw);
            self.zone = Some(name);
        }
        self.zone.as_ref().ok_or_else(|| ParseError::new("bad field", "query_zone"))
    }
}

fn hex(b: &[u8]) -> String {
    use std::fmt::Write;
    let mut s = String::with_capacity(b.len().min(64) * 2 + 3);
    for x in b.iter().take(64) {
        let _ = write!(s, "{x:02x}");
    }
    if b.len() > 64 {
        s.push_str("...");
    }
    s
}

/// Counter label of an RCODE the extractor skipped.
fn rcode_reason(r: u16) -> &'static str {
    match r {
        1 => "rcode_formerr",
        2 => "rcode_servfail",
        4 => "rcode_notimp",
        5 => "rcode_refused",
        _ => "rcode_other",
    }
}

impl LineParser for DnstapParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let d = DnstapView::decode(line)
            .map_err(|e| ParseError::new("bad protobuf", format!("dnstap payload of {} octets: {e}", line.len())))?;
        let Some(m) = d.message.filter(|_| d.r#type == TYPE_MESSAGE) else {
            return Ok(LineOutcome::Skipped("not a dnstap message"));
        };
        let Ok(mtype) = MessageType::try_from(m.r#type) else {
            return Ok(LineOutcome::Skipped("unknown dnstap message type"));
        };
        let hint_allowed = match mtype {
            MessageType::AuthResponse | MessageType::ResolverResponse | MessageType::ForwarderResponse => true,
            MessageType::ClientResponse | MessageType::StubResponse | MessageType::ToolResponse => false,
            MessageType::UpdateResponse => return Ok(LineOutcome::Skipped("dnstap update response")),
            _ => return Ok(LineOutcome::Skipped("dnstap query")),
        };
        let Some(msg) = m.response_message.filter(|r| !r.is_empty()) else {
            return Ok(LineOutcome::Skipped("no response message"));
        };
        let Some(time) = m.response_time_sec.or(m.query_time_sec) else {
            return Err(ParseError::new(
                "missing field",
                format!("{}: neither response_time_sec nor query_time_sec is set", mtype.as_str()),
            ));
        };
        let header = dnsledger_wire::peek_header(msg);
        // A forwarder's upstream is a recursive server: its zone is vouched for only by an
        // authoritative answer.
        let hint_allowed = hint_allowed && (mtype != MessageType::ForwarderResponse || header.is_some_and(|h| h.aa));
        let zone_raw = m.query_zone.filter(|z| hint_allowed && !z.is_empty());
        if let Some(raw) = zone_raw {
            self.zone_hint(raw)?;
        }
        self.set_sensor(d.identity);
        let meta = MessageMeta { time, zone_hint: if zone_raw.is_some() { self.zone.as_ref() } else { None } };
        let sensor = &mut self.sensor;
        let mut n = 0u32;
        let r = self.extractor.extract(msg, &meta, &mut |obs: &mut Observation| {
            std::mem::swap(&mut obs.sensor, sensor);
            emit(obs);
            std::mem::swap(&mut obs.sensor, sensor);
            n += 1;
        });
        match r {
            Ok(Ok(x)) => {
                if n > 0 {
                    return Ok(LineOutcome::Observations(n));
                }
                let nxdomain = header.is_some_and(|h| h.rcode == 3);
                let no_answer = header.is_some_and(|h| h.ancount == 0);
                // An empty answer whose authority section was only the resolver's (unvouched)
                // is a negative answer too; records from outside the zone are not.
                if nxdomain || (no_answer && x.dropped_out_of_bailiwick == 0) {
                    Ok(LineOutcome::Skipped("negative answer"))
                } else {
                    Ok(LineOutcome::Skipped("dropped by bailiwick rule"))
                }
            }
            Ok(Err(Skip::Rcode(r))) => Ok(LineOutcome::Skipped(rcode_reason(r))),
            Ok(Err(skip)) => Ok(LineOutcome::Skipped(skip.as_str())),
            Err(e) => Err(ParseError::new("bad dns message", format!("{} {}: {}", mtype.as_str(), e.reason, e.detail))),
        }
    }
}

/// True if `sample` starts like a dnstap Frame Streams file: the escape sequence and a START
/// control frame naming the content type `protobuf:dnstap.Dnstap`.
pub fn sniff(sample: &[u8]) -> bool {
    match dnsledger_dnstap::next_frame(sample) {
        Ok(Some((Frame::Control(c), _))) => {
            c.kind == dnsledger_dnstap::ControlKind::Start
                && c.content_types().any(|ct| ct == dnsledger_dnstap::DNSTAP_CONTENT_TYPE)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use dnsledger_dnstap::proto::{dnstap, message, Message, SocketFamily, SocketProtocol};
    use dnsledger_dnstap::{Dnstap, ProstMessage};

    use super::*;

    // ------------------------------------------------------------ samples
    // DNS messages are laid out as RFC 1035 §4.1 describes (uncompressed names); dnstap payloads
    // are `Dnstap` messages with the fields dnstap.proto recommends per type, as Unbound fills
    // them (identity, version, socket family/protocol, addresses, times, query_zone for
    // resolver messages, the response message).

    fn wire_name(s: &str) -> Vec<u8> {
        let mut v = Vec::new();
        for l in s.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
            v.push(l.len() as u8);
            v.extend_from_slice(l.as_bytes());
        }
        v.push(0);
        v
    }

    /// One record: owner, type, TTL, rdata.
    struct Rr(&'static str, u16, u32, Vec<u8>);

    fn a(ip: [u8; 4]) -> Vec<u8> {
        ip.to_vec()
    }

    fn soa(mname: &str, rname: &str, minimum: u32) -> Vec<u8> {
        let mut v = wire_name(mname);
        v.extend(wire_name(rname));
        for x in [2024010101u32, 7200, 3600, 1209600, minimum] {
            v.extend_from_slice(&x.to_be_bytes());
        }
        v
    }

    /// A DNS message: header flags, one question, three sections.
    fn dns(flags: u16, qname: &str, qtype: u16, an: &[Rr], ns: &[Rr], ar: &[Rr]) -> Vec<u8> {
        let mut m = vec![0xbe, 0xef];
        m.extend_from_slice(&flags.to_be_bytes());
        for n in [1, an.len(), ns.len(), ar.len()] {
            m.extend_from_slice(&(n as u16).to_be_bytes());
        }
        m.extend(wire_name(qname));
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for Rr(owner, t, ttl, rdata) in an.iter().chain(ns).chain(ar) {
            m.extend(wire_name(owner));
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&1u16.to_be_bytes());
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            m.extend_from_slice(rdata);
        }
        m
    }

    const QR_AA: u16 = 0x8400;
    const QR_RD_RA: u16 = 0x8180;

    /// `www.example.com. A`: a CNAME chain inside the zone, NS and glue, and glue for a name
    /// outside the zone.
    fn www_answer(flags: u16) -> Vec<u8> {
        dns(
            flags,
            "www.example.com",
            1,
            &[
                Rr("www.example.com", 5, 300, wire_name("web.example.com")),
                Rr("web.example.com", 1, 60, a([192, 0, 2, 11])),
                Rr("web.example.com", 1, 120, a([192, 0, 2, 10])),
            ],
            &[
                Rr("example.com", 2, 3600, wire_name("ns1.example.com")),
                Rr("example.com", 2, 3600, wire_name("ns.other.net")),
            ],
            &[Rr("ns1.example.com", 1, 3600, a([192, 0, 2, 53])), Rr("ns.other.net", 1, 3600, a([198, 51, 100, 1]))],
        )
    }

    /// `nx.example.com. A` answered NXDOMAIN with the zone's SOA (TTL 3600, MINIMUM 900).
    fn nxdomain() -> Vec<u8> {
        dns(
            QR_AA | 3,
            "nx.example.com",
            1,
            &[],
            &[Rr("example.com", 6, 3600, soa("ns1.example.com", "hostmaster.example.com", 900))],
            &[],
        )
    }

    struct F {
        mtype: message::Type,
        identity: Option<&'static [u8]>,
        zone: Option<&'static str>,
        response: Option<Vec<u8>>,
        rtime: Option<u64>,
        qtime: Option<u64>,
    }

    impl F {
        fn new(mtype: message::Type, response: Vec<u8>) -> F {
            F {
                mtype,
                identity: Some(b"resolver-1"),
                zone: None,
                response: Some(response),
                rtime: Some(1_704_067_201),
                qtime: Some(1_704_067_200),
            }
        }
        fn zone(mut self, z: &'static str) -> F {
            self.zone = Some(z);
            self
        }
        fn bytes(&self) -> Vec<u8> {
            Dnstap {
                identity: self.identity.map(<[u8]>::to_vec),
                version: Some(b"unbound 1.17.1".to_vec()),
                extra: None,
                r#type: dnstap::Type::Message as i32,
                message: Some(Message {
                    r#type: self.mtype as i32,
                    socket_family: Some(SocketFamily::Inet as i32),
                    socket_protocol: Some(SocketProtocol::Udp as i32),
                    query_address: Some(vec![127, 0, 0, 1]),
                    response_address: Some(vec![192, 0, 2, 53]),
                    query_port: Some(33000),
                    response_port: Some(53),
                    query_time_sec: self.qtime,
                    query_time_nsec: Some(1),
                    query_zone: self.zone.map(wire_name),
                    response_time_sec: self.rtime,
                    response_time_nsec: Some(2),
                    response_message: self.response.clone(),
                    ..Message::default()
                }),
            }
            .encode_to_vec()
        }
    }

    fn show(o: &Observation) -> String {
        let rdata: Vec<String> = o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect();
        format!(
            "{} {} [{}] ttl={:?} bw={} t={}/{} n={} sensor={:?} neg={:?}",
            o.rrname,
            o.rrtype,
            rdata.join(" | "),
            o.ttl,
            o.bailiwick.as_ref().map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
            o.time_first,
            o.time_last,
            o.count,
            o.sensor,
            o.negative.map(|n| n.as_str())
        )
    }

    fn run_with(opts: &SourceOptions, payload: &[u8]) -> (Result<LineOutcome, ParseError>, Vec<String>) {
        let mut p = DnstapParser::new(opts);
        run(&mut p, payload)
    }

    fn run(p: &mut DnstapParser, payload: &[u8]) -> (Result<LineOutcome, ParseError>, Vec<String>) {
        let mut out = Vec::new();
        let r = p.parse_line(payload, &mut |o| out.push(show(o)));
        out.sort();
        (r, out)
    }

    fn parse(payload: &[u8]) -> (Result<LineOutcome, ParseError>, Vec<String>) {
        run_with(&SourceOptions::default(), payload)
    }

    // ------------------------------------------------------------ tests

    #[test]
    fn resolver_response_uses_query_zone_as_bailiwick() {
        let (r, obs) = parse(&F::new(message::Type::ResolverResponse, www_answer(QR_AA)).zone("example.com").bytes());
        assert_eq!(r, Ok(LineOutcome::Observations(4)));
        let s = "t=1704067201/1704067201 n=1 sensor=Some(\"resolver-1\") neg=None";
        assert_eq!(
            obs,
            vec![
                // The NS RRset's owner is in the zone, whatever its targets; the glue for
                // ns.other.net. is not.
                format!("example.com. NS [ns.other.net. | ns1.example.com.] ttl=Some(3600) bw=example.com. {s}"),
                format!("ns1.example.com. A [192.0.2.53] ttl=Some(3600) bw=example.com. {s}"),
                format!("web.example.com. A [192.0.2.10 | 192.0.2.11] ttl=Some(60) bw=example.com. {s}"),
                format!("www.example.com. CNAME [web.example.com.] ttl=Some(300) bw=example.com. {s}"),
            ]
        );
    }

    #[test]
    fn referral_from_the_parent_keeps_delegation_and_glue_under_the_hint() {
        let referral = dns(
            0x8000,
            "www.example.com",
            1,
            &[],
            &[Rr("example.com", 2, 172800, wire_name("ns1.example.com"))],
            &[
                Rr("ns1.example.com", 1, 172800, a([192, 0, 2, 53])),
                Rr("ns.other.net", 1, 172800, a([198, 51, 100, 1])),
            ],
        );
        let (r, obs) = parse(&F::new(message::Type::ResolverResponse, referral).zone("com").bytes());
        assert_eq!(r, Ok(LineOutcome::Observations(2)));
        let s = "t=1704067201/1704067201 n=1 sensor=Some(\"resolver-1\") neg=None";
        assert_eq!(
            obs,
            vec![
                format!("example.com. NS [ns1.example.com.] ttl=Some(172800) bw=com. {s}"),
                format!("ns1.example.com. A [192.0.2.53] ttl=Some(172800) bw=com. {s}"),
            ]
        );
    }

    #[test]
    fn client_response_keeps_only_the_answer_chain_without_bailiwick() {
        for t in [message::Type::ClientResponse, message::Type::StubResponse, message::Type::ToolResponse] {
            // A query_zone on these types is not a zone the answer comes from: ignored.
            let (r, obs) = parse(&F::new(t, www_answer(QR_RD_RA)).zone("example.com").bytes());
            assert_eq!(r, Ok(LineOutcome::Observations(2)), "{t:?}");
            let s = "t=1704067201/1704067201 n=1 sensor=Some(\"resolver-1\") neg=None";
            assert_eq!(
                obs,
                vec![
                    format!("web.example.com. A [192.0.2.10 | 192.0.2.11] ttl=Some(60) bw=- {s}"),
                    format!("www.example.com. CNAME [web.example.com.] ttl=Some(300) bw=- {s}"),
                ],
                "{t:?}"
            );
        }
    }

    #[test]
    fn auth_response_without_zone_finds_it_in_the_message() {
        let (r, obs) = parse(&F::new(message::Type::AuthResponse, www_answer(QR_AA)).bytes());
        assert_eq!(r, Ok(LineOutcome::Observations(4)));
        assert!(obs.iter().all(|o| o.contains(" bw=example.com. ")), "{obs:?}");
        let (r, obs) = parse(&F::new(message::Type::AuthResponse, www_answer(QR_AA)).zone("www.example.com").bytes());
        assert_eq!(r, Ok(LineOutcome::Observations(1)));
        assert_eq!(obs.len(), 1);
        assert!(obs[0].starts_with("www.example.com. CNAME [web.example.com.] ttl=Some(300) bw=www.example.com. "));
    }

    #[test]
    fn forwarder_response_takes_the_zone_only_when_authoritative() {
        let f = |flags| parse(&F::new(message::Type::ForwarderResponse, www_answer(flags)).zone("example.com").bytes());
        let (r, obs) = f(QR_RD_RA);
        assert_eq!(r, Ok(LineOutcome::Observations(2)));
        assert!(obs.iter().all(|o| o.contains(" bw=- ")), "{obs:?}");
        let (r, obs) = f(QR_AA);
        assert_eq!(r, Ok(LineOutcome::Observations(4)));
        assert!(obs.iter().all(|o| o.contains(" bw=example.com. ")), "{obs:?}");
    }

    #[test]
    fn negative_answers() {
        let s = "t=1704067201/1704067201 n=1 sensor=Some(\"resolver-1\")";
        let soa = format!(
            "example.com. SOA [ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 900] \
             ttl=Some(3600) bw=example.com. {s} neg=None"
        );
        let nx = format!("nx.example.com. A [] ttl=Some(900) bw=example.com. {s} neg=Some(\"NXDOMAIN\")");
        let negative = SourceOptions { negative: true, ..SourceOptions::default() };
        // From the zone's server: the SOA is in-zone data; the NXDOMAIN itself only with --negative.
        let frame = F::new(message::Type::ResolverResponse, nxdomain()).zone("example.com").bytes();
        assert_eq!(parse(&frame), (Ok(LineOutcome::Observations(1)), vec![soa.clone()]));
        assert_eq!(run_with(&negative, &frame), (Ok(LineOutcome::Observations(2)), vec![soa, nx]));
        // From a resolver to its client: nothing but the negative answer, without bailiwick.
        let mut client = nxdomain();
        client[2..4].copy_from_slice(&(QR_RD_RA | 3).to_be_bytes());
        let frame = F::new(message::Type::ClientResponse, client).bytes();
        assert_eq!(parse(&frame), (Ok(LineOutcome::Skipped("negative answer")), vec![]));
        assert_eq!(
            run_with(&negative, &frame),
            (
                Ok(LineOutcome::Observations(1)),
                vec![format!("nx.example.com. A [] ttl=Some(900) bw=- {s} neg=Some(\"NXDOMAIN\")")]
            )
        );
        // NODATA: the name exists, no AAAA.
        let mut nodata = dns(QR_RD_RA, "web.example.com", 28, &[], &[Rr("example.com", 6, 600, soa_rdata())], &[]);
        let frame = F::new(message::Type::ClientResponse, nodata.clone()).bytes();
        assert_eq!(parse(&frame), (Ok(LineOutcome::Skipped("negative answer")), vec![]));
        assert_eq!(
            run_with(&negative, &frame),
            (
                Ok(LineOutcome::Observations(1)),
                vec![format!("web.example.com. AAAA [] ttl=Some(600) bw=- {s} neg=Some(\"NODATA\")")]
            )
        );
        // An empty answer that is neither authoritative nor carries an SOA states nothing.
        nodata.truncate(12 + 17 + 4);
        nodata[9] = 0;
        let frame = F::new(message::Type::ClientResponse, nodata).bytes();
        assert_eq!(run_with(&negative, &frame), (Ok(LineOutcome::Skipped("negative answer")), vec![]));
    }

    fn soa_rdata() -> Vec<u8> {
        soa("ns1.example.com", "hostmaster.example.com", 900)
    }

    #[test]
    fn answers_outside_the_zone_are_dropped() {
        // The resolver asked the example.com servers, which answered for example.net.
        let m = dns(QR_AA, "www.example.net", 1, &[Rr("www.example.net", 1, 60, a([203, 0, 113, 9]))], &[], &[]);
        let frame = F::new(message::Type::ResolverResponse, m).zone("example.com").bytes();
        assert_eq!(parse(&frame), (Ok(LineOutcome::Skipped("dropped by bailiwick rule")), vec![]));
    }

    #[test]
    fn time_falls_back_to_the_query_time() {
        let mut f = F::new(message::Type::ClientResponse, www_answer(QR_RD_RA));
        f.rtime = None;
        let (r, obs) = parse(&f.bytes());
        assert_eq!(r, Ok(LineOutcome::Observations(2)));
        assert!(obs.iter().all(|o| o.contains(" t=1704067200/1704067200 ")), "{obs:?}");
        f.qtime = None;
        assert_eq!(
            parse(&f.bytes()).0,
            Err(ParseError::new(
                "missing field",
                "CLIENT_RESPONSE: neither response_time_sec nor query_time_sec is set"
            ))
        );
    }

    #[test]
    fn sensor_from_option_then_identity() {
        let mut f = F::new(message::Type::ClientResponse, www_answer(QR_RD_RA));
        let opts = SourceOptions { sensor: Some("fra-1".into()), ..SourceOptions::default() };
        let (_, obs) = run_with(&opts, &f.bytes());
        assert!(obs.iter().all(|o| o.contains(" sensor=Some(\"fra-1\") ")), "{obs:?}");
        // One parser, identities changing from frame to frame.
        let mut p = DnstapParser::new(&SourceOptions::default());
        for (id, want) in [
            (Some(&b"resolver-1"[..]), "Some(\"resolver-1\")"),
            (Some(&b"resolver-1"[..]), "Some(\"resolver-1\")"),
            (Some(&b"r2"[..]), "Some(\"r2\")"),
            (Some(&b""[..]), "None"),
            (Some(&b"\xff\xfe"[..]), "None"),
            (None, "None"),
            (Some(&b"r3"[..]), "Some(\"r3\")"),
        ] {
            f.identity = id;
            let (r, obs) = run(&mut p, &f.bytes());
            assert_eq!(r, Ok(LineOutcome::Observations(2)));
            assert!(obs.iter().all(|o| o.contains(&format!(" sensor={want} "))), "{id:?}: {obs:?}");
        }
    }

    #[test]
    fn skips_with_reasons() {
        let skip = |b: Vec<u8>| parse(&b);
        for t in [
            message::Type::AuthQuery,
            message::Type::ResolverQuery,
            message::Type::ClientQuery,
            message::Type::ForwarderQuery,
            message::Type::StubQuery,
            message::Type::ToolQuery,
            message::Type::UpdateQuery,
        ] {
            assert_eq!(skip(F::new(t, www_answer(QR_AA)).bytes()), (Ok(LineOutcome::Skipped("dnstap query")), vec![]));
        }
        assert_eq!(
            skip(F::new(message::Type::UpdateResponse, www_answer(QR_AA)).bytes()),
            (Ok(LineOutcome::Skipped("dnstap update response")), vec![])
        );
        let mut f = F::new(message::Type::ResolverResponse, vec![]);
        assert_eq!(skip(f.bytes()), (Ok(LineOutcome::Skipped("no response message")), vec![]));
        f.response = None;
        assert_eq!(skip(f.bytes()), (Ok(LineOutcome::Skipped("no response message")), vec![]));
        // An empty payload (type MESSAGE by proto2 default, no message), no message, or a payload
        // type other than MESSAGE.
        assert_eq!(skip(Vec::new()), (Ok(LineOutcome::Skipped("not a dnstap message")), vec![]));
        let d = Dnstap { r#type: 1, ..Dnstap::default() };
        assert_eq!(skip(d.encode_to_vec()), (Ok(LineOutcome::Skipped("not a dnstap message")), vec![]));
        let mut other = Dnstap::decode(&F::new(message::Type::ClientResponse, www_answer(QR_RD_RA)).bytes()[..]);
        if let Ok(d) = other.as_mut() {
            d.r#type = 2;
        }
        let other = other.map(|d| d.encode_to_vec()).unwrap_or_default();
        assert_eq!(skip(other), (Ok(LineOutcome::Skipped("not a dnstap message")), vec![]));
        let d = Dnstap { r#type: 1, message: Some(Message { r#type: 99, ..Message::default() }), ..Dnstap::default() };
        assert_eq!(skip(d.encode_to_vec()), (Ok(LineOutcome::Skipped("unknown dnstap message type")), vec![]));
        // DNS-level skips.
        let servfail = dns(0x8182, "www.example.com", 1, &[], &[], &[]);
        assert_eq!(
            skip(F::new(message::Type::ClientResponse, servfail).bytes()),
            (Ok(LineOutcome::Skipped("rcode_servfail")), vec![])
        );
        let refused = dns(0x8005, "www.example.com", 1, &[], &[], &[]);
        assert_eq!(
            skip(F::new(message::Type::ResolverResponse, refused).zone("example.com").bytes()),
            (Ok(LineOutcome::Skipped("rcode_refused")), vec![])
        );
        let tc = dns(0x8600, "www.example.com", 1, &[], &[], &[]);
        assert_eq!(
            skip(F::new(message::Type::ResolverResponse, tc).bytes()),
            (Ok(LineOutcome::Skipped("truncated_tc")), vec![])
        );
        let query_bytes = dns(0x0100, "www.example.com", 1, &[], &[], &[]);
        assert_eq!(
            skip(F::new(message::Type::ClientResponse, query_bytes).bytes()),
            (Ok(LineOutcome::Skipped("not_response")), vec![])
        );
    }

    #[test]
    fn rejections_with_reasons() {
        assert_eq!(parse(b"\x0a\x05ab").0.map_err(|e| e.reason), Err("bad protobuf"),);
        let e = parse(b"\x0a\x05ab").0.err().map(|e| e.detail).unwrap_or_default();
        assert!(e.starts_with("dnstap payload of 4 octets: "), "{e}");
        let mut cut = www_answer(QR_AA);
        cut.truncate(40);
        let e = parse(&F::new(message::Type::ResolverResponse, cut).bytes()).0.err();
        assert_eq!(e.as_ref().map(|e| e.reason), Some("bad dns message"));
        assert!(e.map(|e| e.detail).unwrap_or_default().starts_with("RESOLVER_RESPONSE truncated: "));
        let mut f = F::new(message::Type::ResolverResponse, www_answer(QR_AA));
        f.zone = Some("example.com");
        let mut bytes = f.bytes();
        // Turn the query_zone's first label length (7) into a compression pointer (0xc0).
        let at = bytes.windows(13).position(|w| w == wire_name("example.com")).unwrap_or(0);
        bytes[at] = 0xc0;
        assert_eq!(
            parse(&bytes).0,
            Err(ParseError::new(
                "bad field",
                "query_zone c06578616d706c6503636f6d00: compression pointer in uncompressed name"
            ))
        );
    }

    #[test]
    fn zone_hint_cache_follows_the_frames() {
        let mut p = DnstapParser::new(&SourceOptions::default());
        for zone in ["example.com", "example.com", "com", "example.com"] {
            let (r, obs) = run(&mut p, &F::new(message::Type::ResolverResponse, www_answer(QR_AA)).zone(zone).bytes());
            assert_eq!(r, Ok(LineOutcome::Observations(4)), "{zone}");
            assert!(obs.iter().all(|o| o.contains(&format!(" bw={zone}. "))), "{zone}: {obs:?}");
        }
        // No zone on the next frame: no stale hint.
        let (_, obs) = run(&mut p, &F::new(message::Type::ResolverResponse, www_answer(QR_RD_RA)).bytes());
        assert!(obs.iter().all(|o| o.contains(" bw=- ")), "{obs:?}");
    }

    #[test]
    fn sniffs_dnstap_files_only() {
        let mut w = dnsledger_dnstap::Writer::new(Vec::new(), dnsledger_dnstap::DNSTAP_CONTENT_TYPE).ok();
        if let Some(w) = w.as_mut() {
            w.write_frame(&F::new(message::Type::ClientResponse, www_answer(QR_RD_RA)).bytes()).ok();
        }
        let file = w.and_then(|w| w.finish().ok()).unwrap_or_default();
        assert!(sniff(&file));
        assert!(sniff(&file[..42]));
        assert!(!sniff(&file[..41]));
        let other = dnsledger_dnstap::Writer::new(Vec::new(), b"protobuf:other").ok().and_then(|w| w.finish().ok());
        assert!(!sniff(&other.unwrap_or_default()));
        assert!(!sniff(b"{\"rrname\":\"a.\"}"));
        assert!(!sniff(b""));
        assert!(!sniff(&[0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 3]));
        assert_eq!(crate::Format::sniff(&file), Some(crate::Format::Dnstap));
    }

    #[test]
    fn mutated_frames_never_panic() {
        let samples = [
            F::new(message::Type::ResolverResponse, www_answer(QR_AA)).zone("example.com").bytes(),
            F::new(message::Type::ClientResponse, www_answer(QR_RD_RA)).bytes(),
            F::new(message::Type::ResolverResponse, nxdomain()).zone("example.com").bytes(),
        ];
        let opts = SourceOptions { negative: true, ..SourceOptions::default() };
        let mut p = DnstapParser::new(&opts);
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut rnd = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut outcomes = [0u32; 3];
        for i in 0..6000 {
            let mut b = samples[i % samples.len()].clone();
            if i % 4 == 0 {
                let cut = (rnd() % b.len() as u64) as usize;
                b.truncate(cut);
            } else {
                for _ in 0..(1 + rnd() % 3) {
                    let at = (rnd() % b.len() as u64) as usize;
                    b[at] = rnd() as u8;
                }
            }
            let mut n = 0u32;
            let r = p.parse_line(&b, &mut |o| {
                n += 1;
                assert!(o.rdata.is_empty() == o.negative.is_some());
            });
            match r {
                Ok(LineOutcome::Observations(k)) => {
                    assert_eq!(k, n);
                    outcomes[0] += 1;
                }
                Ok(LineOutcome::Skipped(_)) => outcomes[1] += 1,
                Err(_) => outcomes[2] += 1,
            }
        }
        // The mutations reach every outcome.
        assert!(outcomes.iter().all(|&n| n > 100), "{outcomes:?}");
    }

    /// CPU time of this thread in ns (`/proc/thread-self/schedstat`), so timings hold on a busy machine.
    fn cpu_ns() -> u64 {
        std::fs::read_to_string("/proc/thread-self/schedstat")
            .ok()
            .and_then(|s| s.split_whitespace().next().and_then(|n| n.parse().ok()))
            .unwrap_or(0)
    }

    /// Decodes the Unbound corpus: `cargo test -p dnsledger-sources --release -- --ignored dnstap_corpus --nocapture`.
    #[test]
    #[ignore = "reads bench/out/corpus/dns-lo.dnstap.fstrm (300 MB)"]
    fn dnstap_corpus() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../bench/out/corpus/dns-lo.dnstap.fstrm");
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        // Cut the frames first so the timing below is the parser's alone.
        let mut frames: Vec<&[u8]> = Vec::new();
        let mut at = 0;
        while let Ok(Some((f, n))) = dnsledger_dnstap::next_frame(&bytes[at..]) {
            if let Frame::Data(p) = f {
                frames.push(p);
            }
            at += n;
        }
        assert_eq!(at, bytes.len(), "frames end before the file");
        let mut types = std::collections::BTreeMap::<&str, u64>::new();
        for f in &frames {
            let t = Dnstap::decode(*f)
                .ok()
                .and_then(|d| d.message)
                .and_then(|m| MessageType::try_from(m.r#type).ok())
                .map(MessageType::as_str)
                .unwrap_or("?");
            *types.entry(t).or_default() += 1;
        }
        let mut p = DnstapParser::new(&SourceOptions { negative: true, ..SourceOptions::default() });
        let mut obs = 0u64;
        let mut with_bw = 0u64;
        let mut outcomes = std::collections::BTreeMap::<String, u64>::new();
        let (t0, c0) = (std::time::Instant::now(), cpu_ns());
        for f in &frames {
            let r = p.parse_line(f, &mut |o| {
                obs += 1;
                with_bw += u64::from(o.bailiwick.is_some());
            });
            let k = match r {
                Ok(LineOutcome::Observations(_)) => "observations".to_string(),
                Ok(LineOutcome::Skipped(s)) => format!("skipped: {s}"),
                Err(e) => format!("error: {}", e.reason),
            };
            *outcomes.entry(k).or_default() += 1;
        }
        let (dt, cpu) = (t0.elapsed(), cpu_ns() - c0);
        println!("frames: {}", frames.len());
        println!("message types: {types:?}");
        println!("outcomes: {outcomes:#?}");
        println!("observations: {obs} ({with_bw} with bailiwick)");
        let n = frames.len() as f64;
        println!(
            "parse: {:.2} s wall, {:.2} s cpu, {:.0} ns/frame cpu, {:.2} M frames/s per core",
            dt.as_secs_f64(),
            cpu as f64 / 1e9,
            cpu as f64 / n,
            n / (cpu as f64 / 1e9) / 1e6
        );
        // Decoding alone, for comparison.
        let c0 = cpu_ns();
        let mut sum = 0usize;
        for f in &frames {
            sum += Dnstap::decode(*f).map(|d| d.message.map(|m| m.r#type as usize).unwrap_or(0)).unwrap_or(0);
        }
        println!("prost decode alone: {:.0} ns/frame cpu ({sum})", (cpu_ns() - c0) as f64 / n);
        let c0 = cpu_ns();
        let mut sum = 0usize;
        for f in &frames {
            sum += DnstapView::decode(f).map(|d| d.message.map(|m| m.r#type as usize).unwrap_or(0)).unwrap_or(0);
        }
        println!("view decode alone: {:.0} ns/frame cpu ({sum})", (cpu_ns() - c0) as f64 / n);
        // The same on the first 10,000 frames, hot in cache.
        let hot = &frames[..frames.len().min(10_000)];
        let c0 = cpu_ns();
        let mut sum = 0usize;
        for _ in 0..100 {
            for f in hot {
                sum += DnstapView::decode(f).map(|d| d.message.map(|m| m.r#type as usize).unwrap_or(0)).unwrap_or(0);
            }
        }
        println!("view decode, cached: {:.0} ns/frame cpu ({sum})", (cpu_ns() - c0) as f64 / (hot.len() * 100) as f64);
        // Machine calibration: a byte-at-a-time checksum over the same frames.
        let c0 = cpu_ns();
        let mut x = 0u32;
        for _ in 0..100 {
            for f in hot {
                for &b in std::hint::black_box(*f) {
                    x = x.rotate_left(5) ^ u32::from(b);
                }
            }
        }
        let bytes: usize = hot.iter().map(|f| f.len()).sum();
        println!(
            "calibration: {:.2} ns/octet serial checksum, {} octets/frame ({x})",
            (cpu_ns() - c0) as f64 / (bytes * 100) as f64,
            bytes / hot.len()
        );
        let c0 = cpu_ns();
        let mut k = 0u64;
        for _ in 0..10 {
            for f in hot {
                if let Ok(LineOutcome::Observations(n)) = p.parse_line(f, &mut |_| {}) {
                    k += u64::from(n);
                }
            }
        }
        println!("parse, cached: {:.0} ns/frame cpu ({k})", (cpu_ns() - c0) as f64 / (hot.len() * 10) as f64);
        assert!(!outcomes.keys().any(|k| k.starts_with("error")), "{outcomes:?}");
    }
}
