//! Tests of the extractor on hand-built and `domain`-built messages, hostile input included.

use dnsledger_model::{Name, Observation, Rdata, RrType, TypeFilter, TypeSet};

use crate::{peek_header, question_key, ExtractOptions, Extracted, Extractor, MessageMeta, Negative, Skip, ZoneSource};

const QR: u16 = 0x8000;
const AA: u16 = 0x0400;
const TC: u16 = 0x0200;
const RD: u16 = 0x0100;
const RA: u16 = 0x0080;

const AN: usize = 1;
const NS: usize = 2;
const AR: usize = 3;

/// Offset of the question name: owners written as [`Q`] point to it.
const Q: &[u8] = &[0xc0, 0x0c];

/// A name in wire format, case preserved (unlike `Name`, which lower-cases).
fn w(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.trim_end_matches('.').split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// A compression pointer to `off`.
fn ptr(off: usize) -> Vec<u8> {
    vec![0xc0 | (off >> 8) as u8, off as u8]
}

/// Labels followed by a pointer.
fn wp(labels: &str, off: usize) -> Vec<u8> {
    let mut v = w(labels);
    v.pop();
    v.extend(ptr(off));
    v
}

fn ipv4(s: &str) -> Vec<u8> {
    s.parse::<std::net::Ipv4Addr>().unwrap().octets().to_vec()
}

/// A hand-built DNS message.
struct Msg {
    buf: Vec<u8>,
    counts: [u16; 4],
}

impl Msg {
    fn new(flags: u16) -> Msg {
        let mut buf = vec![0x12, 0x34];
        buf.extend(flags.to_be_bytes());
        buf.extend([0; 8]);
        Msg { buf, counts: [0; 4] }
    }

    /// A response with a question (class IN).
    fn response(flags: u16, qname: &str, qtype: RrType) -> Msg {
        let mut m = Msg::new(QR | flags);
        m.question(&w(qname), qtype, 1);
        m
    }

    fn question(&mut self, name: &[u8], qtype: RrType, class: u16) {
        self.buf.extend_from_slice(name);
        self.buf.extend(qtype.0.to_be_bytes());
        self.buf.extend(class.to_be_bytes());
        self.counts[0] += 1;
    }

    /// Current length: the offset the next name will be written at.
    fn pos(&self) -> usize {
        self.buf.len()
    }

    fn rr_class(&mut self, section: usize, owner: &[u8], t: RrType, class: u16, ttl: u32, rdata: &[u8]) -> usize {
        self.buf.extend_from_slice(owner);
        self.buf.extend(t.0.to_be_bytes());
        self.buf.extend(class.to_be_bytes());
        self.buf.extend(ttl.to_be_bytes());
        self.buf.extend((rdata.len() as u16).to_be_bytes());
        let at = self.buf.len();
        self.buf.extend_from_slice(rdata);
        self.counts[section] += 1;
        at
    }

    /// Appends a record; returns the offset of its rdata.
    fn rr(&mut self, section: usize, owner: &[u8], t: RrType, ttl: u32, rdata: &[u8]) -> usize {
        self.rr_class(section, owner, t, 1, ttl, rdata)
    }

    fn finish(mut self) -> Vec<u8> {
        for (i, c) in self.counts.iter().enumerate() {
            self.buf[4 + 2 * i..6 + 2 * i].copy_from_slice(&c.to_be_bytes());
        }
        self.buf
    }
}

fn soa_rdata(mname: &[u8], rname: &[u8], minimum: u32) -> Vec<u8> {
    let mut v = mname.to_vec();
    v.extend_from_slice(rname);
    for x in [2024010101u32, 7200, 3600, 1209600, minimum] {
        v.extend(x.to_be_bytes());
    }
    v
}

fn n(s: &str) -> Name {
    Name::from_presentation(s).unwrap()
}

/// One observation as text: `owner TYPE rdata|rdata bw=zone ttl=N [NEG]`.
fn show(o: &Observation) -> String {
    let rd: Vec<String> = o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect();
    let bw = o.bailiwick.as_ref().map_or("-".to_string(), |b| b.to_string());
    let ttl = o.ttl.map_or("-".to_string(), |t| t.to_string());
    let neg = o.negative.map_or(String::new(), |x| format!(" {}", x.as_str()));
    format!("{} {} {} bw={} ttl={}{}", o.rrname, o.rrtype, rd.join("|"), bw, ttl, neg)
}

type Outcome = (Result<Result<Extracted, Skip>, crate::WireError>, Vec<Observation>);

fn run_with(ex: &mut Extractor, msg: &[u8], hint: Option<&Name>) -> Outcome {
    let mut got = Vec::new();
    let meta = MessageMeta { time: 1_700_000_000, zone_hint: hint };
    let r = ex.extract(msg, &meta, &mut |o: &mut Observation| got.push(o.clone()));
    rrsets_agree(ex.options(), msg, &meta, &r, &got);
    (r, got)
}

/// `extract_rrsets` gives what `extract` gave: the same outcome, and one `Rrset` per
/// observation, in order, with the same fields and the same record key.
fn rrsets_agree(
    opts: &ExtractOptions,
    msg: &[u8],
    meta: &MessageMeta<'_>,
    r: &Result<Result<Extracted, Skip>, crate::WireError>,
    got: &[Observation],
) {
    let mut ex = Extractor::new(opts.clone());
    let mut seen = 0;
    let r2 = ex.extract_rrsets(msg, meta, &mut |x| {
        let o = got.get(seen).unwrap_or_else(|| panic!("more rrsets than observations from {msg:02x?}"));
        seen += 1;
        assert_eq!(x.owner, o.rrname.as_wire());
        assert_eq!((x.rrtype, x.ttl, x.negative), (o.rrtype, o.ttl, o.negative));
        assert_eq!(x.bailiwick, o.bailiwick.as_ref());
        assert!(x.rdata().eq(o.rdata.iter().map(|r| r.bytes())), "rdata of {msg:02x?}");
        let (mut k1, mut k2) = (Vec::new(), Vec::new());
        o.write_key(&mut k1);
        x.write_key(&mut k2);
        assert_eq!(k1, k2, "record key of {msg:02x?}");
    });
    assert_eq!(seen, got.len(), "as many rrsets as observations from {msg:02x?}");
    assert_eq!(format!("{r:?}"), format!("{r2:?}"));
}

fn run_opts(opts: ExtractOptions, msg: &[u8], hint: Option<&Name>) -> Outcome {
    run_with(&mut Extractor::new(opts), msg, hint)
}

/// Extracts with negatives on; returns the summary and the sorted observation texts.
fn extract(msg: &[u8]) -> (Extracted, Vec<String>) {
    extract_opts(ExtractOptions { negative: true, ..Default::default() }, msg, None)
}

fn extract_opts(opts: ExtractOptions, msg: &[u8], hint: Option<&Name>) -> (Extracted, Vec<String>) {
    let (r, got) = run_opts(opts, msg, hint);
    let e = r.unwrap_or_else(|e| panic!("error: {e}")).unwrap_or_else(|s| panic!("skipped: {s:?}"));
    for o in &got {
        assert_eq!((o.count, o.time_first, o.time_last, o.zone), (1, 1_700_000_000, 1_700_000_000, false));
        assert_eq!(o.sensor, None);
        assert_eq!(o.negative.is_some(), o.rdata.is_empty());
        let mut sorted = o.clone();
        sorted.normalize_rdata();
        assert_eq!(sorted.rdata, o.rdata, "rdata sorted and unique");
        for r in &o.rdata {
            assert_eq!(&Rdata::from_wire(o.rrtype, r.bytes()).unwrap(), r, "canonical rdata");
        }
    }
    let positives = got.iter().filter(|o| o.negative.is_none()).count() as u32;
    assert_eq!(positives, e.rrsets);
    assert_eq!(got.iter().find_map(|o| o.negative), e.negative);
    let mut s: Vec<String> = got.iter().map(show).collect();
    s.sort();
    (e, s)
}

fn error_reason(msg: &[u8]) -> &'static str {
    let (r, got) = run_opts(ExtractOptions { negative: true, ..Default::default() }, msg, None);
    assert!(got.is_empty(), "nothing emitted for a rejected message");
    match r {
        Err(e) => e.reason,
        Ok(x) => panic!("expected an error, got {x:?}"),
    }
}

fn skip_of(msg: &[u8]) -> Skip {
    let (r, got) = run_opts(ExtractOptions::default(), msg, None);
    assert!(got.is_empty());
    r.unwrap().unwrap_err()
}

/// `www.example.com. A` answered authoritatively: two A records, NS in authority, glue.
fn typical_aa() -> Vec<u8> {
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.2"));
    let ex = 16; // "example.com." inside the question name
    let ns1 = m.pos() + 12;
    m.rr(NS, &ptr(ex), RrType::NS, 86400, &wp("ns1", ex));
    let ns2 = m.pos() + 12;
    m.rr(NS, &ptr(ex), RrType::NS, 86400, &w("ns2.example.net"));
    m.rr(AR, &ptr(ns1), RrType::A, 86400, &ipv4("192.0.2.53"));
    m.rr(AR, &ptr(ns2), RrType::A, 86400, &ipv4("198.51.100.53"));
    m.finish()
}

#[test]
fn plain_authoritative_answer() {
    let (e, got) = extract(&typical_aa());
    assert_eq!(
        got,
        [
            "example.com. NS ns1.example.com.|ns2.example.net. bw=example.com. ttl=86400",
            "ns1.example.com. A 192.0.2.53 bw=example.com. ttl=86400",
            "www.example.com. A 192.0.2.1|192.0.2.2 bw=example.com. ttl=300",
        ]
    );
    assert_eq!(e.zone, ZoneSource::Ns);
    assert_eq!((e.rrsets, e.dropped_out_of_bailiwick, e.dropped_off_chain, e.negative), (3, 1, 0, None));
}

#[test]
fn soa_gives_the_zone_and_authority_options() {
    // An AA answer from the sub.example.com zone; SOA in authority tells the zone.
    let mut m = Msg::response(AA, "a.sub.example.com", RrType::TXT);
    m.rr(AN, Q, RrType::TXT, 60, b"\x05hello");
    let sub = 14;
    m.rr(NS, &ptr(sub), RrType::SOA, 600, &soa_rdata(&wp("ns", sub), &wp("hostmaster", sub), 300));
    m.rr(NS, &ptr(sub + 4), RrType::NS, 600, &w("ns.example.com")); // parent zone NS: out of bailiwick
    let msg = m.finish();
    let (e, got) = extract(&msg);
    assert_eq!(e.zone, ZoneSource::Soa);
    assert_eq!(e.dropped_out_of_bailiwick, 1);
    assert_eq!(
        got,
        [
            "a.sub.example.com. TXT \"hello\" bw=sub.example.com. ttl=60",
            "sub.example.com. SOA ns.sub.example.com. hostmaster.sub.example.com. 2024010101 7200 3600 1209600 300 bw=sub.example.com. ttl=600",
        ]
    );
    let (_, got) = extract_opts(ExtractOptions { authority: false, ..Default::default() }, &msg, None);
    assert_eq!(got, ["a.sub.example.com. TXT \"hello\" bw=sub.example.com. ttl=60"]);
}

#[test]
fn cname_chain_inside_zone() {
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    let web = m.pos() + 12;
    m.rr(AN, Q, RrType::CNAME, 3600, &wp("web", 16));
    let cdn = m.pos() + 12;
    m.rr(AN, &ptr(web), RrType::CNAME, 3600, &wp("cdn", 16));
    m.rr(AN, &ptr(cdn), RrType::A, 60, &ipv4("192.0.2.7"));
    m.rr(NS, &ptr(16), RrType::NS, 3600, &wp("ns", 16));
    let (e, got) = extract(&m.finish());
    assert_eq!(
        got,
        [
            "cdn.example.com. A 192.0.2.7 bw=example.com. ttl=60",
            "example.com. NS ns.example.com. bw=example.com. ttl=3600",
            "web.example.com. CNAME cdn.example.com. bw=example.com. ttl=3600",
            "www.example.com. CNAME web.example.com. bw=example.com. ttl=3600",
        ]
    );
    assert_eq!((e.rrsets, e.dropped_off_chain, e.dropped_out_of_bailiwick), (4, 0, 0));
}

fn cname_leaving_zone(flags: u16) -> Vec<u8> {
    let mut m = Msg::response(flags, "www.example.com", RrType::A);
    let tgt = m.pos() + 12;
    m.rr(AN, Q, RrType::CNAME, 3600, &w("edge.cdn.net"));
    m.rr(AN, &ptr(tgt), RrType::A, 20, &ipv4("203.0.113.9"));
    m.rr(NS, &ptr(16), RrType::NS, 3600, &wp("ns", 16));
    m.rr(AR, &wp("ns", 16), RrType::A, 3600, &ipv4("192.0.2.53"));
    m.finish()
}

#[test]
fn cname_leaving_the_zone() {
    // Authoritative server of example.com: the cdn.net target's A is not in its bailiwick.
    let (e, got) = extract(&cname_leaving_zone(AA));
    assert_eq!(
        got,
        [
            "example.com. NS ns.example.com. bw=example.com. ttl=3600",
            "ns.example.com. A 192.0.2.53 bw=example.com. ttl=3600",
            "www.example.com. CNAME edge.cdn.net. bw=example.com. ttl=3600",
        ]
    );
    assert_eq!((e.dropped_out_of_bailiwick, e.dropped_off_chain), (1, 0));
    // A recursive resolver's answer: zone unknown, the whole chain kept, the rest dropped.
    let (e, got) = extract(&cname_leaving_zone(RD | RA));
    assert_eq!(got, ["edge.cdn.net. A 203.0.113.9 bw=- ttl=20", "www.example.com. CNAME edge.cdn.net. bw=- ttl=3600"]);
    assert_eq!(e.zone, ZoneSource::Unknown);
    assert_eq!((e.dropped_out_of_bailiwick, e.dropped_unvouched), (0, 2));
}

#[test]
fn unsolicited_answers_are_dropped() {
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    m.rr(AN, &wp("mail", 16), RrType::A, 300, &ipv4("192.0.2.66")); // in zone, not on the chain
    m.rr(AN, &w("www.bank.example"), RrType::A, 300, &ipv4("203.0.113.66")); // poisoning shape
    m.rr(NS, &ptr(16), RrType::NS, 300, &wp("ns", 16));
    let (e, got) = extract(&m.finish());
    assert_eq!(
        got,
        [
            "example.com. NS ns.example.com. bw=example.com. ttl=300",
            "www.example.com. A 192.0.2.1 bw=example.com. ttl=300",
        ]
    );
    assert_eq!((e.dropped_off_chain, e.dropped_out_of_bailiwick), (2, 0));
}

fn referral() -> Vec<u8> {
    let mut m = Msg::response(0, "www.example.com", RrType::A);
    let ns1 = m.pos() + 12;
    m.rr(NS, &ptr(16), RrType::NS, 172800, &wp("ns1", 16));
    let other = m.pos() + 12;
    m.rr(NS, &ptr(16), RrType::NS, 172800, &w("ns.other.net"));
    m.rr(NS, &ptr(16), RrType::DS, 86400, b"\x30\x39\x08\x02\xaa\xbb");
    m.rr(AR, &ptr(ns1), RrType::A, 172800, &ipv4("192.0.2.53"));
    m.rr(AR, &ptr(ns1), RrType::AAAA, 172800, &[0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]);
    m.rr(AR, &ptr(other), RrType::A, 172800, &ipv4("198.51.100.53"));
    m.finish()
}

#[test]
fn referral_from_com_servers() {
    let (e, got) = extract(&referral());
    assert_eq!(e.zone, ZoneSource::Referral);
    assert_eq!(
        got,
        [
            "example.com. DS 12345 8 2 AABB bw=com. ttl=86400",
            "example.com. NS ns.other.net.|ns1.example.com. bw=com. ttl=172800",
            "ns1.example.com. A 192.0.2.53 bw=com. ttl=172800",
            "ns1.example.com. AAAA 2001:db8::53 bw=com. ttl=172800",
        ]
    );
    assert_eq!((e.dropped_out_of_bailiwick, e.negative), (1, None), "no NODATA for a referral");
    // An upward referral (NS for the root) vouches for nothing.
    let mut m = Msg::response(0, "www.example.com", RrType::A);
    m.rr(NS, b"\x00", RrType::NS, 518400, &w("a.root-servers.net"));
    m.rr(AR, &w("a.root-servers.net"), RrType::A, 518400, &ipv4("198.41.0.4"));
    let (e, got) = extract(&m.finish());
    assert_eq!((e.zone, e.dropped_unvouched, e.negative), (ZoneSource::Unknown, 2, None));
    assert!(got.is_empty());
}

#[test]
fn recursive_resolver_answer() {
    let mut m = Msg::response(RD | RA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 299, &ipv4("192.0.2.1"));
    m.rr(NS, &ptr(16), RrType::NS, 3600, &wp("ns", 16));
    m.rr(AR, &wp("ns", 16), RrType::A, 3600, &ipv4("192.0.2.53"));
    let mut ex = Extractor::new(ExtractOptions::default());
    let (r, got) = run_with(&mut ex, &m.finish(), None);
    let e = r.unwrap().unwrap();
    assert_eq!((e.zone, e.rrsets, e.dropped_unvouched), (ZoneSource::Unknown, 1, 2));
    assert_eq!(got.iter().map(show).collect::<Vec<_>>(), ["www.example.com. A 192.0.2.1 bw=- ttl=299"]);
    assert_eq!(ex.zone(), None);
}

#[test]
fn non_adjacent_records_grouped_sorted_deduplicated() {
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.9"));
    m.rr(AN, Q, RrType::RRSIG, 300, &rrsig_rdata(RrType::A, &ptr(16)));
    m.rr(AN, Q, RrType::A, 100, &ipv4("192.0.2.1"));
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.9"));
    m.rr(AN, Q, RrType::RRSIG, 300, &rrsig_rdata(RrType::A, &ptr(16)));
    m.rr(AN, Q, RrType::A, 200, &ipv4("192.0.2.5"));
    m.rr(NS, &ptr(16), RrType::NS, 300, &wp("ns", 16));
    let (e, got) = extract(&m.finish());
    assert_eq!(
        got,
        [
            "example.com. NS ns.example.com. bw=example.com. ttl=300",
            "www.example.com. A 192.0.2.1|192.0.2.5|192.0.2.9 bw=example.com. ttl=100",
            "www.example.com. RRSIG A 8 3 300 1700000000 1690000000 12345 example.com. AQID bw=example.com. ttl=300",
        ]
    );
    assert_eq!(e.rrsets, 3);
}

fn rrsig_rdata(covered: RrType, signer: &[u8]) -> Vec<u8> {
    let mut v = covered.0.to_be_bytes().to_vec();
    v.extend([8, 3]);
    v.extend(300u32.to_be_bytes());
    v.extend(1_700_000_000u32.to_be_bytes());
    v.extend(1_690_000_000u32.to_be_bytes());
    v.extend(12345u16.to_be_bytes());
    v.extend_from_slice(signer);
    v.extend([1, 2, 3]);
    v
}

#[test]
fn mixed_case_names_normalised() {
    let mut m = Msg::response(AA, "WwW.ExAmPle.COM", RrType::A);
    let tgt = m.pos() + 12;
    m.rr(AN, Q, RrType::CNAME, 60, &wp("Web", 16));
    m.rr(AN, &w("WEB.example.com"), RrType::A, 60, &ipv4("192.0.2.1")); // same name, different case
    m.rr(AN, &ptr(tgt), RrType::A, 60, &ipv4("192.0.2.2"));
    m.rr(NS, &w("EXAMPLE.com"), RrType::NS, 60, &w("NS.Example.COM"));
    let (_, got) = extract(&m.finish());
    assert_eq!(
        got,
        [
            "example.com. NS ns.example.com. bw=example.com. ttl=60",
            "web.example.com. A 192.0.2.1|192.0.2.2 bw=example.com. ttl=60",
            "www.example.com. CNAME web.example.com. bw=example.com. ttl=60",
        ]
    );
}

#[test]
fn compressed_names_inside_rdata() {
    let mut m = Msg::response(AA, "Example.com", RrType::MX);
    let mut mx = vec![0, 10];
    mx.extend(wp("MAIL", 12));
    let mx_at = m.rr(AN, Q, RrType::MX, 300, &mx);
    let mail = mx_at + 2; // "mail.example.com" written inside the MX rdata
    let mut mx2 = vec![0, 20];
    mx2.extend(ptr(mail)); // a pointer to a name inside earlier rdata
    m.rr(AN, Q, RrType::MX, 300, &mx2);
    let mut srv = vec![0, 1, 0, 5, 0x13, 0xc4];
    srv.extend(wp("sip", 12)); // illegal in SRV but seen: decompressed tolerantly
    m.rr(AN, &wp("_sip._udp", 12), RrType::SRV, 300, &srv);
    m.rr(NS, Q, RrType::SOA, 300, &soa_rdata(&wp("NS1", 12), &wp("hostmaster", 12), 60));
    let (e, got) = extract(&m.finish());
    assert_eq!(
        got,
        [
            "example.com. MX 10 mail.example.com.|20 mail.example.com. bw=example.com. ttl=300",
            "example.com. SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 60 bw=example.com. ttl=300",
        ]
    );
    // the SRV owner is not on the chain of an MX query
    assert_eq!(e.dropped_off_chain, 1);
    // SRV queried directly, with a compressed target
    let mut m = Msg::response(AA, "_sip._udp.example.com", RrType::SRV);
    m.rr(AN, Q, RrType::SRV, 300, &srv_with_target(&wp("sip", 22)));
    let mut naptr = vec![0, 100, 0, 10, 1, b'S', 7];
    naptr.extend_from_slice(b"SIP+D2U");
    naptr.push(0);
    naptr.extend(ptr(12));
    m.rr(AN, Q, RrType::NAPTR, 300, &naptr);
    let (_, got) = extract(&m.finish());
    assert_eq!(
        got,
        [
            "_sip._udp.example.com. NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com. bw=example.com. ttl=300",
            "_sip._udp.example.com. SRV 0 5 5060 sip.example.com. bw=example.com. ttl=300",
        ]
    );
}

fn srv_with_target(target: &[u8]) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 5, 0x13, 0xc4];
    v.extend_from_slice(target);
    v
}

fn nxdomain_msg() -> Vec<u8> {
    let mut m = Msg::response(AA | 3, "nope.example.com", RrType::A);
    m.rr(NS, &ptr(17), RrType::SOA, 900, &soa_rdata(&wp("ns", 17), &wp("hostmaster", 17), 3600));
    m.finish()
}

#[test]
fn nxdomain_with_and_without_negative() {
    let msg = nxdomain_msg();
    let (e, got) = extract(&msg);
    assert_eq!(e.negative, Some(Negative::NxDomain));
    assert_eq!(e.zone, ZoneSource::Soa);
    assert_eq!(
        got,
        [
            "example.com. SOA ns.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 3600 bw=example.com. ttl=900",
            "nope.example.com. A  bw=example.com. ttl=900 NXDOMAIN",
        ]
    );
    let (e, got) = extract_opts(ExtractOptions::default(), &msg, None);
    assert_eq!((e.negative, got.len()), (None, 1));
    // the type filter applies to the qtype of a negative answer
    let only_aaaa =
        ExtractOptions { negative: true, types: TypeFilter::Only(RrType::AAAA).into(), ..Default::default() };
    let (e, got) = extract_opts(only_aaaa, &msg, None);
    assert_eq!((e.negative, got.len()), (None, 0));
}

#[test]
fn nxdomain_after_cname_applies_to_the_target() {
    let mut m = Msg::response(AA | 3, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::CNAME, 300, &wp("gone", 16));
    m.rr(NS, &ptr(16), RrType::SOA, 300, &soa_rdata(&wp("ns", 16), &wp("hostmaster", 16), 60));
    let (e, got) = extract(&m.finish());
    assert_eq!(e.negative, Some(Negative::NxDomain));
    assert_eq!(
        got,
        [
            "example.com. SOA ns.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 60 bw=example.com. ttl=300",
            "gone.example.com. A  bw=example.com. ttl=60 NXDOMAIN",
            "www.example.com. CNAME gone.example.com. bw=example.com. ttl=300",
        ]
    );
}

#[test]
fn nodata() {
    let mut m = Msg::response(AA, "www.example.com", RrType::AAAA);
    m.rr(NS, &ptr(16), RrType::SOA, 300, &soa_rdata(&wp("ns", 16), &wp("hostmaster", 16), 60));
    let msg = m.finish();
    let (e, got) = extract(&msg);
    assert_eq!(e.negative, Some(Negative::NoData));
    assert!(got.contains(&"www.example.com. AAAA  bw=example.com. ttl=60 NODATA".to_string()), "{got:?}");
    let (e, _) = extract_opts(ExtractOptions::default(), &msg, None);
    assert_eq!(e.negative, None);
    // NODATA at the end of a CNAME chain
    let mut m = Msg::response(AA, "www.example.com", RrType::AAAA);
    m.rr(AN, Q, RrType::CNAME, 300, &wp("v4only", 16));
    m.rr(NS, &ptr(16), RrType::SOA, 300, &soa_rdata(&wp("ns", 16), &wp("hostmaster", 16), 60));
    let (e, got) = extract(&m.finish());
    assert_eq!(e.negative, Some(Negative::NoData));
    assert!(got.contains(&"v4only.example.com. AAAA  bw=example.com. ttl=60 NODATA".to_string()), "{got:?}");
    // not for qtype ANY, and not when the data is there
    let mut m = Msg::response(AA, "www.example.com", RrType::ANY);
    m.rr(NS, &ptr(16), RrType::SOA, 300, &soa_rdata(&wp("ns", 16), &wp("hostmaster", 16), 60));
    assert_eq!(extract(&m.finish()).0.negative, None);
    assert_eq!(extract(&typical_aa()).0.negative, None);
    // a resolver's NODATA (SOA relayed, no AA): emitted without bailiwick
    let mut m = Msg::response(RD | RA, "www.example.com", RrType::AAAA);
    m.rr(NS, &ptr(16), RrType::SOA, 250, &soa_rdata(&wp("ns", 16), &wp("hostmaster", 16), 60));
    let (e, got) = extract(&m.finish());
    assert_eq!((e.negative, e.dropped_unvouched), (Some(Negative::NoData), 1));
    assert_eq!(got, ["www.example.com. AAAA  bw=- ttl=60 NODATA"]);
    // no negative for a meta qtype
    let mut m = Msg::response(AA | 3, "www.example.com", RrType::MAILB);
    m.rr(NS, &ptr(16), RrType::SOA, 300, &soa_rdata(&wp("ns", 16), &wp("hostmaster", 16), 60));
    assert_eq!(extract(&m.finish()).0.negative, None);
    // a lame, empty non-authoritative answer is not NODATA
    let m = Msg::response(0, "www.example.com", RrType::AAAA);
    assert_eq!(extract(&m.finish()).0.negative, None);
}

#[test]
fn negative_obeys_the_bailiwick_rule() {
    // CNAME to another zone answered NXDOMAIN with the SOA of the qname's zone via zone hint.
    let mut m = Msg::response(AA | 3, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::CNAME, 300, &w("gone.other.net"));
    let msg = m.finish();
    let hint = n("example.com");
    let (e, got) = extract_opts(ExtractOptions { negative: true, ..Default::default() }, &msg, Some(&hint));
    assert_eq!((e.negative, e.dropped_out_of_bailiwick), (None, 1));
    assert_eq!(got, ["www.example.com. CNAME gone.other.net. bw=example.com. ttl=300"]);
}

#[test]
fn zone_hint_is_used() {
    let hint = n("example.com");
    // No AA (dnstap resolver response without flags of interest): the hint still decides.
    let mut m = Msg::response(0, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    m.rr(NS, &ptr(16), RrType::NS, 300, &wp("ns", 16));
    m.rr(AR, &w("ns.elsewhere.org"), RrType::A, 300, &ipv4("192.0.2.99"));
    let msg = m.finish();
    let mut ex = Extractor::new(ExtractOptions::default());
    let (r, got) = run_with(&mut ex, &msg, Some(&hint));
    let e = r.unwrap().unwrap();
    assert_eq!((e.zone, e.rrsets, e.dropped_out_of_bailiwick), (ZoneSource::Hint, 2, 1));
    assert!(got.iter().all(|o| o.bailiwick.as_ref() == Some(&hint)));
    assert_eq!(ex.zone(), Some(&hint));
    // A hint the question is not under: nothing is in bailiwick.
    let other = n("example.org");
    let (r, got) = run_with(&mut ex, &msg, Some(&other));
    assert_eq!(r.unwrap().unwrap().dropped_out_of_bailiwick, 3);
    assert!(got.is_empty());
}

#[test]
fn registrable_domain_heuristic() {
    let mut m = Msg::response(AA, "a.b.example.co.uk", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    let (e, got) = extract(&m.finish());
    assert_eq!(e.zone, ZoneSource::Registrable);
    assert_eq!(got, ["a.b.example.co.uk. A 192.0.2.1 bw=example.co.uk. ttl=300"]);
    // a public suffix itself: the name is its own zone
    let mut m = Msg::response(AA, "co.uk", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    assert_eq!(extract(&m.finish()).1, ["co.uk. A 192.0.2.1 bw=co.uk. ttl=300"]);
    // DS is served by the parent: example.com DS from the com servers
    let mut m = Msg::response(AA, "example.com", RrType::DS);
    m.rr(AN, Q, RrType::DS, 86400, b"\x30\x39\x08\x02\xaa\xbb");
    assert_eq!(extract(&m.finish()).1, ["example.com. DS 12345 8 2 AABB bw=com. ttl=86400"]);
}

#[test]
fn dname_chains() {
    // A DNAME with the synthesised CNAME, as servers send it.
    let mut m = Msg::response(RD | RA, "www.Example.com", RrType::A);
    m.rr(AN, &ptr(16), RrType::DNAME, 300, &w("example.net"));
    m.rr(AN, Q, RrType::CNAME, 300, &w("www.example.net"));
    m.rr(AN, &w("www.example.net"), RrType::A, 300, &ipv4("192.0.2.1"));
    let (e, got) = extract(&m.finish());
    assert_eq!(
        got,
        [
            "example.com. DNAME example.net. bw=- ttl=300",
            "www.example.com. CNAME www.example.net. bw=- ttl=300",
            "www.example.net. A 192.0.2.1 bw=- ttl=300",
        ]
    );
    assert_eq!(e.dropped_off_chain, 0);
    // Without the synthesised CNAME, the chain is synthesised here.
    let mut m = Msg::response(RD | RA, "a.b.example.com", RrType::A);
    m.rr(AN, &ptr(16), RrType::DNAME, 300, &w("example.net"));
    m.rr(AN, &w("a.b.example.net"), RrType::A, 300, &ipv4("192.0.2.2"));
    let (e, got) = extract(&m.finish());
    assert_eq!(got, ["a.b.example.net. A 192.0.2.2 bw=- ttl=300", "example.com. DNAME example.net. bw=- ttl=300"]);
    assert_eq!(e.dropped_off_chain, 0);
}

#[test]
fn unused_dname_and_ttl_high_bit() {
    // A DNAME that does not explain the chain is unsolicited; a TTL above 2^31-1 counts as 0.
    let mut m = Msg::response(RD | RA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 0x8000_0000, &ipv4("192.0.2.1"));
    m.rr(AN, &w("example.org"), RrType::DNAME, 300, &w("example.net"));
    let (e, got) = extract(&m.finish());
    assert_eq!(got, ["www.example.com. A 192.0.2.1 bw=- ttl=0"]);
    assert_eq!(e.dropped_off_chain, 1);
}

#[test]
fn cname_loops_and_long_chains_stop() {
    let mut m = Msg::response(RD | RA, "a.example", RrType::A);
    m.rr(AN, Q, RrType::CNAME, 60, &w("b.example"));
    m.rr(AN, &w("b.example"), RrType::CNAME, 60, &w("a.example"));
    let (e, got) = extract(&m.finish());
    assert_eq!((e.rrsets, got.len()), (2, 2));
    let mut m = Msg::response(RD | RA, "c0.example", RrType::A);
    for i in 0..20 {
        m.rr(AN, &w(&format!("c{i}.example")), RrType::CNAME, 60, &w(&format!("c{}.example", i + 1)));
    }
    let (e, _) = extract(&m.finish());
    assert_eq!((e.rrsets, e.dropped_off_chain), (17, 3));
}

#[test]
fn type_filter() {
    let only_a = ExtractOptions { types: TypeFilter::Only(RrType::A).into(), ..Default::default() };
    let (e, got) = extract_opts(only_a, &typical_aa(), None);
    assert_eq!(
        got,
        [
            "ns1.example.com. A 192.0.2.53 bw=example.com. ttl=86400",
            "www.example.com. A 192.0.2.1|192.0.2.2 bw=example.com. ttl=300"
        ]
    );
    assert_eq!(e.rrsets, 2);
    let dnssec = ExtractOptions { types: TypeFilter::AnyDnssec.into(), ..Default::default() };
    let (_, got) = extract_opts(dnssec, &referral(), None);
    assert_eq!(got, ["example.com. DS 12345 8 2 AABB bw=com. ttl=86400"]);
    let no_additional = ExtractOptions { additional: false, ..Default::default() };
    assert_eq!(extract_opts(no_additional, &typical_aa(), None).1.len(), 2);
}

#[test]
fn ignored_records() {
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    m.rr_class(AN, Q, RrType::A, 3, 300, &ipv4("192.0.2.2")); // class CH
    m.rr(AN, Q, RrType::ANY, 300, b"junk");
    m.rr_class(AR, b"\x00", RrType::OPT, 1232, 0, b"");
    m.rr_class(AR, &w("key.example"), RrType::TSIG, 255, 0, b"whatever");
    let (e, got) = extract(&m.finish());
    assert_eq!((e.rrsets, e.dropped_off_chain), (1, 0));
    assert_eq!(got, ["www.example.com. A 192.0.2.1 bw=example.com. ttl=300"]);
}

#[test]
fn skipped_messages() {
    let typical = typical_aa();
    let with_flags = |set: u16, clear: u16| {
        let mut v = typical.clone();
        let f = (u16::from_be_bytes([v[2], v[3]]) | set) & !clear;
        v[2..4].copy_from_slice(&f.to_be_bytes());
        v
    };
    assert_eq!(skip_of(&with_flags(TC, 0)), Skip::Truncated);
    assert_eq!(skip_of(&with_flags(2, 0)), Skip::Rcode(2));
    assert_eq!(skip_of(&with_flags(5, 0)), Skip::Rcode(5));
    assert_eq!(skip_of(&with_flags(0, QR)), Skip::NotResponse);
    assert_eq!(skip_of(&with_flags(4 << 11, 0)), Skip::Opcode(4));
    let mut m = Msg::new(QR | AA);
    m.question(&w("version.bind"), RrType::TXT, 3);
    m.rr_class(AN, Q, RrType::TXT, 3, 0, b"\x059.9.9");
    assert_eq!(skip_of(&m.finish()), Skip::Class(3));
    assert_eq!(skip_of(&Msg::new(QR).finish()), Skip::NoQuestion);
    let mut m = Msg::new(QR);
    m.question(&w("a.example"), RrType::A, 1);
    m.question(&w("b.example"), RrType::A, 1);
    assert_eq!(skip_of(&m.finish()), Skip::MultipleQuestions);
    assert_eq!(skip_of(&Msg::response(AA, "example.com", RrType::AXFR).finish()), Skip::ZoneTransfer);
    assert_eq!(Skip::Rcode(2).as_str(), "rcode");
    // EDNS extended RCODE: header NOERROR + OPT high bits 1 = BADVERS (16), header NXDOMAIN +
    // 1 = 19: neither is a NODATA nor an NXDOMAIN
    for (header, ext, full) in [(0u16, 1u32, 16u16), (3, 1, 19), (0, 2, 32)] {
        let mut m = Msg::new(QR | AA | header);
        m.question(&w("www.example.com"), RrType::A, 1);
        m.rr_class(AR, &[0], RrType::OPT, 1232, ext << 24, &[]);
        let mut ex = Extractor::new(ExtractOptions { negative: true, ..ExtractOptions::default() });
        let r = ex.extract(&m.finish(), &MessageMeta::default(), &mut |o| panic!("emitted {o:?}"));
        assert_eq!(r.expect("well-formed"), Err(Skip::Rcode(full)));
    }
    // an OPT without extended bits changes nothing
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    m.rr_class(AR, &[0], RrType::OPT, 1232, 0x0000_8000, &[]);
    assert!(matches!(
        Extractor::new(ExtractOptions::default()).extract(&m.finish(), &MessageMeta::default(), &mut |_| {}),
        Ok(Ok(_))
    ));
}

#[test]
fn hostile_pointers_and_lengths() {
    // owner pointing at itself
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    let at = m.pos();
    m.rr(AN, &ptr(at), RrType::A, 1, &ipv4("192.0.2.1"));
    assert_eq!(error_reason(&m.finish()), "bad_pointer");
    // two-pointer cycle: a label then a pointer back to the first owner, which points forward
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    let first = m.pos();
    m.rr(AN, &ptr(first + 16), RrType::A, 1, &ipv4("192.0.2.1"));
    m.rr(AN, &wp("x", first), RrType::A, 1, &ipv4("192.0.2.1"));
    assert_eq!(error_reason(&m.finish()), "bad_pointer");
    // forward pointer, pointer into the header, pointer past the end
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    let at = m.pos();
    m.rr(AN, &ptr(at + 2 + 10 + 4), RrType::A, 1, &ipv4("192.0.2.1"));
    m.buf.extend(w("fwd"));
    assert_eq!(error_reason(&m.finish()), "bad_pointer");
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, &ptr(4), RrType::A, 1, &ipv4("192.0.2.1"));
    assert_eq!(error_reason(&m.finish()), "bad_pointer");
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, &ptr(0x3fff), RrType::A, 1, &ipv4("192.0.2.1"));
    assert_eq!(error_reason(&m.finish()), "bad_pointer");
    // pointer loop inside rdata
    let mut m = Msg::response(AA, "www.example.com", RrType::CNAME);
    let at = m.pos() + 12;
    m.rr(AN, Q, RrType::CNAME, 1, &ptr(at));
    assert_eq!(error_reason(&m.finish()), "bad_pointer");
    // rdlength beyond the end
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 1, &ipv4("192.0.2.1"));
    let mut v = m.finish();
    let l = v.len();
    v[l - 5] = 5;
    assert_eq!(error_reason(&v), "rdlength_overrun");
    // rdata not matching the type, even in a record that would be dropped
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::A, 1, &ipv4("192.0.2.1"));
    m.rr(AR, &w("unrelated.example.org"), RrType::AAAA, 1, &[1, 2, 3]);
    assert_eq!(error_reason(&m.finish()), "bad_rdata");
    // CNAME rdata with a name running past its rdlength
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, Q, RrType::CNAME, 1, b"\x03abc");
    m.buf.extend(b"\x00");
    assert_eq!(error_reason(&m.finish()), "bad_rdata");
    // a name over 255 octets built from legal backward pointers
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    let mut prev = 12;
    for _ in 0..5 {
        let owner = m.pos();
        let mut name = vec![63];
        name.extend([b'a'; 63]);
        name.extend(ptr(prev));
        m.rr(AN, &name, RrType::A, 1, &ipv4("192.0.2.1"));
        prev = owner;
    }
    assert_eq!(error_reason(&m.finish()), "name_too_long");
    // label types 01 and 10
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    m.rr(AN, b"\x41\x00", RrType::A, 1, &ipv4("192.0.2.1"));
    assert_eq!(error_reason(&m.finish()), "bad_label_type");
    // short messages and missing records
    assert_eq!(error_reason(&[0x12, 0x34, 0x80]), "truncated");
    let mut v = typical_aa();
    v[7] += 1; // one more answer than present
    assert!(["truncated", "rdlength_overrun"].contains(&error_reason(&v)));
}

#[test]
fn every_prefix_is_an_error_or_correct() {
    let msgs = [typical_aa(), referral(), nxdomain_msg(), cname_leaving_zone(AA), domain_built()];
    for msg in msgs {
        let full = extract(&msg).1;
        for cut in 0..msg.len() {
            let (r, got) = run_opts(ExtractOptions { negative: true, ..Default::default() }, &msg[..cut], None);
            match r {
                Err(_) => assert!(got.is_empty(), "emitted at cut {cut}"),
                Ok(Err(_)) => panic!("prefix {cut} skipped"),
                Ok(Ok(_)) => panic!("prefix {cut} of {} accepted", msg.len()),
            }
        }
        // trailing octets after the counted records are ignored
        let mut longer = msg.clone();
        longer.extend([0xde, 0xad]);
        assert_eq!(extract(&longer).1, full);
    }
}

/// A deterministic xorshift64 generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Checks the invariants of whatever an extraction of arbitrary bytes emits.
fn check_arbitrary(ex: &mut Extractor, msg: &[u8]) -> bool {
    let mut ok = true;
    let meta = MessageMeta { time: 7, zone_hint: None };
    let mut n = 0u32;
    let mut got = Vec::new();
    let r = ex.extract(msg, &meta, &mut |o: &mut Observation| {
        got.push(o.clone());
        n += 1;
        ok &= Name::from_wire(o.rrname.as_wire()).as_ref() == Ok(&o.rrname);
        ok &= o.rrname.as_wire().iter().all(|b| !b.is_ascii_uppercase());
        for r in &o.rdata {
            ok &= Rdata::from_wire(o.rrtype, r.bytes()).as_ref() == Ok(r);
        }
        if let (Some(z), None) = (&o.bailiwick, o.negative) {
            ok &= o.rrname.is_subdomain_of(z);
        }
    });
    assert!(ok, "bad observation from {msg:02x?}");
    rrsets_agree(ex.options(), msg, &meta, &r, &got);
    match r {
        Ok(Ok(e)) => {
            assert_eq!(e.rrsets + u32::from(e.negative.is_some()), n);
            true
        }
        _ => {
            assert_eq!(n, 0);
            false
        }
    }
}

#[test]
fn fuzz_random_and_mutated_messages() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut ex = Extractor::new(ExtractOptions { negative: true, ..Default::default() });
    let seeds = [typical_aa(), referral(), nxdomain_msg(), cname_leaving_zone(RA), domain_built()];
    let mut accepted = 0;
    for round in 0..200_000 {
        let msg: Vec<u8> = if round % 4 == 0 {
            // random bytes behind a plausible header
            let len = rng.below(120);
            let mut v: Vec<u8> = (0..len).map(|_| if rng.below(3) == 0 { 0xc0 } else { rng.next() as u8 }).collect();
            let hdr = [0, 1, 0x84, 0, 0, 1, 0, rng.below(4) as u8, 0, rng.below(3) as u8, 0, rng.below(3) as u8];
            v.splice(0..0, hdr);
            v
        } else {
            let mut v = seeds[round % seeds.len()].clone();
            for _ in 0..1 + rng.below(3) {
                match rng.below(5) {
                    0 => v.truncate(rng.below(v.len() + 1)),
                    1 if !v.is_empty() => {
                        let i = rng.below(v.len());
                        v[i] = rng.next() as u8;
                    }
                    2 if !v.is_empty() => {
                        let i = rng.below(v.len());
                        v[i] ^= 1 << rng.below(8);
                    }
                    3 => {
                        let i = rng.below(v.len() + 1);
                        v.insert(i, rng.next() as u8);
                    }
                    _ if v.len() > 12 => {
                        let i = 12 + rng.below(v.len() - 12);
                        v.remove(i);
                    }
                    _ => {}
                }
            }
            v
        };
        if check_arbitrary(&mut ex, &msg) {
            accepted += 1;
            domain_agrees(&mut ex, &msg);
        }
    }
    assert!(accepted > 10_000, "only {accepted} accepted");
}

/// Differential check against NLnet Labs' `domain` (the parser the sensor issue names): every
/// message this crate accepts parses with `domain` too, record for record, and every owner
/// name emitted is one `domain` reads in the message.
fn domain_agrees(ex: &mut Extractor, msg: &[u8]) {
    let m = domain::base::Message::from_octets(msg).expect("domain parses the header");
    let (_, answer, authority, additional) = m.sections().expect("domain parses the question");
    let mut owners = std::collections::HashSet::new();
    for section in [answer, authority, additional] {
        for rr in section {
            let rr = rr.unwrap_or_else(|e| panic!("domain rejects a record we accepted ({e}): {msg:02x?}"));
            owners.insert(rr.owner().to_string().to_ascii_lowercase().trim_end_matches('.').to_string());
        }
    }
    let mut emitted = Vec::new();
    let r = ex.extract(msg, &MessageMeta::default(), &mut |o| emitted.push(o.rrname.to_presentation()));
    assert!(matches!(r, Ok(Ok(_))));
    for name in emitted {
        let plain = name.trim_end_matches('.');
        // names with escapes are written differently by the two; compare the plain ones
        if plain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_') {
            let qname = m.first_question().map(|q| q.qname().to_string().to_ascii_lowercase());
            let from_question = qname.as_deref().map(|q| q.trim_end_matches('.')) == Some(plain);
            assert!(owners.contains(plain) || from_question, "{name} not an owner domain reads in {msg:02x?}");
        }
    }
}

#[test]
fn peek_header_fields() {
    let h = peek_header(&typical_aa()).unwrap();
    assert_eq!(
        (h.id, h.qr, h.opcode, h.aa, h.tc, h.rd, h.ra, h.rcode),
        (0x1234, true, 0, true, false, false, false, 0)
    );
    assert_eq!((h.qdcount, h.ancount, h.nscount, h.arcount), (1, 2, 2, 2));
    let h = peek_header(&Msg::new(TC | RD | RA | (5 << 11) | 3).finish()).unwrap();
    assert_eq!((h.qr, h.opcode, h.aa, h.tc, h.rd, h.ra, h.rcode), (false, 5, false, true, true, true, 3));
    assert_eq!(peek_header(&[0; 11]), None);
}

#[test]
fn question_key_folds_ascii_letters_of_the_name_only() {
    // a one-question message whose name is one label: `len` octets of 'x' then `b`
    let msg = |len: usize, b: u8, qtype: u16| {
        let mut m = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, (len + 1) as u8];
        m.extend(std::iter::repeat_n(b'x', len));
        m.push(b);
        m.push(0);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&[0, 1]);
        m
    };
    // every octet value at every offset within an 8-octet word (and across words): an octet
    // and its case twin give one key exactly when both are the same ASCII letter
    for len in 0..20 {
        for b in 0..=255u8 {
            let twin = b ^ 0x20;
            let same = b.eq_ignore_ascii_case(&twin);
            let (k1, k2) = (question_key(&msg(len, b, 1)), question_key(&msg(len, twin, 1)));
            assert!(k1.is_some());
            assert_eq!(k1 == k2, same, "len {len} octet {b:#04x}");
        }
    }
    // qtype and qclass octets are not names: 0x0041 and 0x0061 stay apart
    assert_ne!(question_key(&msg(3, b'a', 0x41)), question_key(&msg(3, b'a', 0x61)));
    assert_ne!(question_key(&msg(6, b'a', 0x41)), question_key(&msg(6, b'a', 0x61)));
}

#[test]
fn question_key_pairs_queries_and_responses() {
    let mut q = Msg::new(RD);
    q.question(&w("WWW.Example.com"), RrType::A, 1);
    let query = q.finish();
    let response = typical_aa();
    assert_eq!(question_key(&query), question_key(&response));
    assert!(question_key(&query).is_some());
    let mut q = Msg::new(RD);
    q.question(&w("www.example.com"), RrType::AAAA, 1);
    assert_ne!(question_key(&q.finish()), question_key(&response));
    let mut q = Msg::new(RD);
    q.question(&w("www.example.org"), RrType::A, 1);
    assert_ne!(question_key(&q.finish()), question_key(&response));
    let mut q = Msg::new(RD);
    q.question(&w("www.example.com"), RrType::A, 3);
    assert_ne!(question_key(&q.finish()), question_key(&response));
    assert_eq!(question_key(&Msg::new(QR).finish()), None);
    assert_eq!(question_key(&response[..20]), None);
    let mut q = Msg::new(RD);
    q.question(Q, RrType::A, 1);
    assert_eq!(question_key(&q.finish()), None);
    for cut in 0..response.len() {
        let _ = question_key(&response[..cut]);
    }
}

#[test]
fn observation_is_reused_and_fields_are_reset() {
    let mut ex = Extractor::new(ExtractOptions { negative: true, ..Default::default() });
    let meta = MessageMeta { time: 5, zone_hint: None };
    for msg in [typical_aa(), nxdomain_msg(), referral(), typical_aa()] {
        let mut seen = Vec::new();
        ex.extract(&msg, &meta, &mut |o: &mut Observation| {
            seen.push(show(o));
            // a careless callback that scribbles on the observation
            o.sensor = Some("x".into());
            o.count = 99;
            o.bailiwick = None;
            o.rdata.clear();
        })
        .unwrap()
        .unwrap();
        let mut seen2 = Vec::new();
        Extractor::new(ExtractOptions { negative: true, ..Default::default() })
            .extract(&msg, &meta, &mut |o: &mut Observation| seen2.push(show(o)))
            .unwrap()
            .unwrap();
        assert_eq!(seen, seen2);
    }
}

/// A response built by `domain`'s `MessageBuilder` with its name compressor (owner names and
/// names inside NS/MX/SOA rdata compressed by an independent implementation).
fn domain_built() -> Vec<u8> {
    use domain::base::iana::{Class, Rcode};
    use domain::base::{MessageBuilder, Name as DName, Serial, StaticCompressor, Ttl};
    use domain::rdata::{Cname, Mx, Ns, Soa, A};
    let name = |s: &str| DName::<Vec<u8>>::vec_from_str(s).unwrap();
    let mut b = MessageBuilder::from_target(StaticCompressor::new(Vec::new())).unwrap();
    b.header_mut().set_id(7);
    b.header_mut().set_qr(true);
    b.header_mut().set_aa(true);
    b.header_mut().set_rcode(Rcode::NOERROR);
    let mut q = b.question();
    q.push((name("Shop.Example.com."), domain::base::iana::Rtype::A)).unwrap();
    let mut a = q.answer();
    a.push((name("shop.example.com."), Class::IN, 300, Cname::new(name("www.example.com.")))).unwrap();
    a.push((name("www.example.com."), Class::IN, 60, A::from_octets(192, 0, 2, 10))).unwrap();
    a.push((name("www.example.com."), Class::IN, 60, A::from_octets(192, 0, 2, 11))).unwrap();
    a.push((name("example.com."), Class::IN, 300, Mx::new(5, name("mx.example.com.")))).unwrap();
    let mut ns = a.authority();
    ns.push((name("example.com."), Class::IN, 3600, Ns::new(name("ns1.example.com.")))).unwrap();
    ns.push((name("example.com."), Class::IN, 3600, Ns::new(name("ns2.example.com.")))).unwrap();
    ns.push((
        name("example.com."),
        Class::IN,
        3600,
        Soa::new(
            name("ns1.example.com."),
            name("hostmaster.example.com."),
            Serial(1),
            Ttl::from_secs(2),
            Ttl::from_secs(3),
            Ttl::from_secs(4),
            Ttl::from_secs(5),
        ),
    ))
    .unwrap();
    let mut ar = ns.additional();
    ar.push((name("ns1.example.com."), Class::IN, 3600, A::from_octets(192, 0, 2, 53))).unwrap();
    ar.finish().as_target().clone()
}

#[test]
fn message_built_by_domain() {
    let msg = domain_built();
    assert!(msg.windows(2).any(|p| p[0] & 0xc0 == 0xc0), "domain compressed names");
    let (e, got) = extract(&msg);
    assert_eq!(e.zone, ZoneSource::Soa);
    assert_eq!(
        got,
        [
            "example.com. NS ns1.example.com.|ns2.example.com. bw=example.com. ttl=3600",
            "example.com. SOA ns1.example.com. hostmaster.example.com. 1 2 3 4 5 bw=example.com. ttl=3600",
            "ns1.example.com. A 192.0.2.53 bw=example.com. ttl=3600",
            "shop.example.com. CNAME www.example.com. bw=example.com. ttl=300",
            "www.example.com. A 192.0.2.10|192.0.2.11 bw=example.com. ttl=60",
        ]
    );
    // the MX at example.com. is not on the chain of a shop.example.com. A query
    assert_eq!(e.dropped_off_chain, 1);
}

/// Prints ns/message for a typical response (question, CNAME + 2 A, 4 NS in authority, glue).
/// Run with `cargo test --release -p dnsledger-wire -- --ignored --nocapture bench`.
#[test]
#[ignore]
fn bench_typical_response() {
    let mut m = Msg::response(AA, "www.example.com", RrType::A);
    let cdn = m.pos() + 12;
    m.rr(AN, Q, RrType::CNAME, 300, &wp("cdn", 16));
    m.rr(AN, &ptr(cdn), RrType::A, 60, &ipv4("192.0.2.1"));
    m.rr(AN, &ptr(cdn), RrType::A, 60, &ipv4("192.0.2.2"));
    let mut ns_at = Vec::new();
    for i in 1..=4 {
        ns_at.push(m.pos() + 12);
        m.rr(NS, &ptr(16), RrType::NS, 86400, &wp(&format!("ns{i}"), 16));
    }
    m.rr(AR, &ptr(ns_at[0]), RrType::A, 86400, &ipv4("192.0.2.53"));
    let msg = m.finish();
    let mut ex = Extractor::new(ExtractOptions::default());
    let meta = MessageMeta { time: 1, zone_hint: None };
    let mut sink = 0usize;
    let iters = 2_000_000u32;
    for _ in 0..iters / 10 {
        ex.extract(&msg, &meta, &mut |o: &mut Observation| sink += o.rdata.len()).unwrap().unwrap();
    }
    let t = std::time::Instant::now();
    for _ in 0..iters {
        ex.extract(std::hint::black_box(&msg), &meta, &mut |o: &mut Observation| sink += o.rdata.len())
            .unwrap()
            .unwrap();
    }
    let ns = t.elapsed().as_nanos() as f64 / f64::from(iters);
    // The same with nothing emitted: parsing, validation, grouping, chain and zone only.
    let mut quiet =
        Extractor::new(ExtractOptions { types: TypeFilter::Only(RrType(65280)).into(), ..Default::default() });
    let t = std::time::Instant::now();
    for _ in 0..iters {
        quiet
            .extract(std::hint::black_box(&msg), &meta, &mut |o: &mut Observation| sink += o.rdata.len())
            .unwrap()
            .unwrap();
    }
    let parse_ns = t.elapsed().as_nanos() as f64 / f64::from(iters);
    let t = std::time::Instant::now();
    for _ in 0..iters {
        sink += question_key(std::hint::black_box(&msg)).unwrap_or(0) as usize & 1;
    }
    let qk = t.elapsed().as_nanos() as f64 / f64::from(iters);
    // Reference on the same machine: `domain` parsing every record, walking owner labels.
    let t = std::time::Instant::now();
    for _ in 0..iters {
        let m = domain::base::Message::from_octets(std::hint::black_box(msg.as_slice())).unwrap();
        for sec in [m.answer().unwrap(), m.authority().unwrap(), m.additional().unwrap()] {
            for rr in sec {
                let rr = rr.unwrap();
                sink += rr.owner().iter().count() + rr.rtype().to_int() as usize + rr.rdlen() as usize;
            }
        }
    }
    let dom = t.elapsed().as_nanos() as f64 / f64::from(iters);
    println!("reference: domain 0.12 parse + walk owners {dom:.0} ns/message");
    println!(
        "{} octets, 4 RRsets emitted: extract {ns:.0} ns/message ({parse_ns:.0} ns without emitting), \
         question_key {qk:.1} ns (sink {sink})",
        msg.len()
    );
}

/// Counts heap allocations made by the current thread (test builds only).
mod alloc_count {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    thread_local! {
        static ALLOCS: Cell<u64> = const { Cell::new(0) };
    }

    /// The system allocator, counting allocations per thread.
    pub struct Counting;

    // SAFETY: forwards every call to `System` unchanged; only a thread-local counter is added.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            ALLOCS.with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.alloc(layout) }
        }
        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: same contract as the caller's.
            unsafe { System.dealloc(ptr, layout) }
        }
        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            ALLOCS.with(|c| c.set(c.get() + 1));
            // SAFETY: same contract as the caller's.
            unsafe { System.realloc(ptr, layout, new_size) }
        }
    }

    #[global_allocator]
    static COUNTING: Counting = Counting;

    /// Allocations made by this thread so far.
    pub fn count() -> u64 {
        ALLOCS.with(Cell::get)
    }
}

#[test]
fn no_allocation_per_message_beyond_the_output() {
    let msg = typical_aa();
    let meta = MessageMeta { time: 1, zone_hint: None };
    // Nothing emitted: no allocation at all once the buffers are warm.
    let mut quiet =
        Extractor::new(ExtractOptions { types: TypeFilter::Only(RrType(65280)).into(), ..Default::default() });
    let mut emitted = 0;
    for _ in 0..3 {
        quiet.extract(&msg, &meta, &mut |_: &mut Observation| emitted += 1).unwrap().unwrap();
    }
    let before = alloc_count::count();
    for _ in 0..100 {
        quiet.extract(&msg, &meta, &mut |_: &mut Observation| emitted += 1).unwrap().unwrap();
    }
    assert_eq!((alloc_count::count() - before, emitted), (0, 0));
    // Emitting 3 RRsets with 3 different owners: one owner name each; rdata buffers are reused.
    let mut ex = Extractor::new(ExtractOptions::default());
    for _ in 0..3 {
        ex.extract(&msg, &meta, &mut |_: &mut Observation| {}).unwrap().unwrap();
    }
    let before = alloc_count::count();
    for _ in 0..100 {
        let e = ex.extract(&msg, &meta, &mut |_: &mut Observation| {}).unwrap().unwrap();
        assert_eq!(e.rrsets, 3);
    }
    let per_message = (alloc_count::count() - before) as f64 / 100.0;
    assert!(per_message <= 3.0, "{per_message} allocations per message");
}

/// A NULL record in the answer whose rdata is a chain of `steps` elements, each a one-letter
/// label and a pointer to the element before (the first points to the question name), and a
/// CNAME at the question name whose target points to the last element: the target name is
/// `2 * steps + len(qname)` octets. Returns the message and the offset of the last element.
fn label_chain(steps: usize) -> (Msg, usize) {
    let mut m = Msg::response(AA, "d.example", RrType::CNAME);
    let rdata_at = m.pos() + Q.len() + 10;
    let mut body = b"\x01x".to_vec();
    body.extend(ptr(12));
    let mut prev = rdata_at;
    for _ in 1..steps {
        let here = rdata_at + body.len();
        body.extend(b"\x01x");
        body.extend(ptr(prev));
        prev = here;
    }
    m.rr(AN, Q, RrType::NULL, 1, &body);
    (m, prev)
}

/// A pointer bomb (tcpdump's dns-zlip shape): an answer whose NULL rdata holds a chain of
/// `chain` pure pointers, each to the one before, then `records` A records owned by the last.
fn pointer_bomb(chain: usize, records: u32) -> Vec<u8> {
    let mut m = Msg::response(AA, "bomb.example", RrType::A);
    let rdata_at = m.pos() + Q.len() + 10;
    let mut body = b"\x01a".to_vec();
    body.extend(ptr(12));
    let mut prev = rdata_at;
    for _ in 0..chain {
        let here = rdata_at + body.len();
        body.extend(ptr(prev));
        prev = here;
    }
    m.rr(AN, Q, RrType::NULL, 1, &body);
    for i in 0..records {
        m.rr(AN, &ptr(prev), RrType::A, 1, &(0xc000_0200 | (i & 255)).to_be_bytes());
    }
    m.finish()
}

/// Found while writing the fuzz seeds: names already decoded are cached by the offsets of their
/// labels, not of pointers, so every record owned by the end of a chain of pointers walked the
/// whole chain again (8k pointers × 3k records in one 64 KiB message). A name now follows at
/// most 128 pointers, which every real encoder stays under.
#[test]
fn pointer_bombs_are_refused() {
    let msg = pointer_bomb(8000, 3000);
    assert!(msg.len() > 60_000);
    assert_eq!(error_reason(&msg), "bad_pointer");
    // the owner's pointer, the chain, and the pointer from "a" to the question name
    assert_eq!(error_reason(&pointer_bomb(127, 10)), "bad_pointer", "129 pointers");
    // 128 pointers: within the limit, parsed as usual; the 256 distinct A records at
    // a.bomb.example are one RRset off the answer chain
    let (r, got) = run_opts(ExtractOptions::default(), &pointer_bomb(126, 2000), None);
    let x = r.expect("well formed").expect("not skipped");
    assert_eq!((x.rrsets, x.dropped_off_chain), (1, 1));
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].rrtype, RrType::NULL);
}

#[test]
fn maximum_compression_depth() {
    // 122 label+pointer steps: a 255-octet CNAME target, the longest legal name
    let (mut m, last) = label_chain(122);
    m.rr(AN, Q, RrType::CNAME, 1, &ptr(last));
    let (x, got) = extract(&m.finish());
    assert_eq!(x.rrsets, 2);
    let cname = got.iter().find(|s| s.contains(" CNAME ")).expect("the CNAME is kept");
    assert!(cname.contains(&format!("{}d.example.", "x.".repeat(122))), "{cname}");
    // one more step is 257 octets
    let (mut m, last) = label_chain(123);
    m.rr(AN, Q, RrType::CNAME, 1, &ptr(last));
    assert_eq!(error_reason(&m.finish()), "name_too_long");
    // 63-octet labels: a 255-octet owner is accepted, 256 rejected, a 64-octet label is not a label
    let l63 = "a".repeat(63);
    let n255 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(61));
    let mut m = Msg::response(AA, &n255, RrType::A);
    m.rr(AN, Q, RrType::A, 1, &ipv4("192.0.2.1"));
    let (x, got) = extract(&m.finish());
    assert_eq!((x.rrsets, got.len()), (1, 1));
    let n256 = format!("{l63}.{l63}.{l63}.{}", "b".repeat(62));
    let mut m = Msg::response(AA, &n256, RrType::A);
    m.rr(AN, Q, RrType::A, 1, &ipv4("192.0.2.1"));
    assert_eq!(error_reason(&m.finish()), "name_too_long");
    let mut m = Msg::new(QR | AA);
    let mut label64 = vec![64];
    label64.extend([b'a'; 64]);
    label64.push(0);
    m.question(&label64, RrType::A, 1);
    assert_eq!(error_reason(&m.finish()), "bad_label_type");
}

/// SVCB/HTTPS rdata: priority, target, then (key, value) parameters.
fn svcb(priority: u16, target: &[u8], params: &[(u16, &[u8])]) -> Vec<u8> {
    let mut v = priority.to_be_bytes().to_vec();
    v.extend_from_slice(target);
    for (k, val) in params {
        v.extend(k.to_be_bytes());
        v.extend((val.len() as u16).to_be_bytes());
        v.extend_from_slice(val);
    }
    v
}

#[test]
fn malformed_svcb_and_https_are_rejected_whole() {
    let root = w(".");
    let mut past_end = svcb(1, &root, &[(1, b"\x02h2")]);
    past_end.truncate(past_end.len() - 1);
    let bad: [(&str, Vec<u8>); 8] = [
        ("keys out of order", svcb(1, &root, &[(3, b"\x01\xbb"), (1, b"\x02h2")])),
        ("duplicate key", svcb(1, &root, &[(3, b"\x01\xbb"), (3, b"\x01\xbb")])),
        ("value past the end", past_end),
        ("mandatory lists itself", svcb(1, &root, &[(0, b"\x00\x00")])),
        ("empty alpn id", svcb(1, &root, &[(1, b"\x00")])),
        ("ipv4hint not a multiple of 4", svcb(1, &root, &[(4, b"\xc0\x00\x02")])),
        ("port of 3 octets", svcb(1, &root, &[(3, b"\x01\xbb\x00")])),
        ("half a key", {
            let mut v = svcb(1, &root, &[]);
            v.push(0);
            v
        }),
    ];
    for t in [RrType::SVCB, RrType::HTTPS] {
        for (what, rdata) in &bad {
            let mut m = Msg::response(AA, "svc.example", t);
            m.rr(AN, Q, t, 300, rdata);
            let (r, got) = run_opts(ExtractOptions::default(), &m.finish(), None);
            assert!(got.is_empty(), "{t} {what}: emitted");
            assert_eq!(r.map(|_| ()).map_err(|e| e.reason), Err("bad_rdata"), "{t} {what}");
        }
        // and a well-formed one passes, so the rejections above are about the defects
        let good = svcb(1, &root, &[(0, b"\x00\x03"), (1, b"\x02h2"), (3, b"\x01\xbb")]);
        let mut m = Msg::response(AA, "svc.example", t);
        m.rr(AN, Q, t, 300, &good);
        assert_eq!(extract(&m.finish()).0.rrsets, 1, "{t} good");
    }
}

// mDNS (RFC 6762): question-less responses, the cache-flush bit, per-record bailiwick.

/// The cache-flush bit of an mDNS record class (RFC 6762 §10.2).
const FLUSH: u16 = 0x8000;

/// Extracts an mDNS response with `opts`.
fn run_mdns(opts: ExtractOptions, msg: &[u8]) -> Outcome {
    let mut ex = Extractor::new(opts);
    let mut got = Vec::new();
    let meta = MessageMeta { time: 1_700_000_000, zone_hint: None };
    let r = ex.extract_mdns(msg, &meta, &mut |o: &mut Observation| got.push(o.clone()));
    assert_eq!(ex.zone(), None);
    (r, got)
}

/// Extracts an mDNS response; returns the summary and the sorted observation texts.
fn mdns_opts(opts: ExtractOptions, msg: &[u8]) -> (Extracted, Vec<String>) {
    let (r, got) = run_mdns(opts, msg);
    let e = r.unwrap_or_else(|e| panic!("error: {e}")).unwrap_or_else(|s| panic!("skipped: {s:?}"));
    assert_eq!(e.zone, ZoneSource::Owner);
    assert_eq!(e.negative, None);
    assert_eq!(got.len() as u32, e.rrsets);
    for o in &got {
        assert_eq!(o.bailiwick.as_ref(), Some(&o.rrname), "an mDNS record speaks for its own name");
        assert_eq!((o.count, o.time_first, o.negative), (1, 1_700_000_000, None));
        for r in &o.rdata {
            assert_eq!(&Rdata::from_wire(o.rrtype, r.bytes()).unwrap(), r, "canonical rdata");
        }
    }
    let mut s: Vec<String> = got.iter().map(show).collect();
    s.sort();
    (e, s)
}

fn mdns(msg: &[u8]) -> (Extracted, Vec<String>) {
    mdns_opts(ExtractOptions::default(), msg)
}

/// A service announcement as a printer sends it: no question, a shared PTR (no flush bit),
/// unique SRV/TXT (flush bit set), addresses and an NSEC in the additional section.
fn mdns_announcement() -> Vec<u8> {
    let mut m = Msg::new(QR | AA);
    let ptr_owner = m.pos(); // "_ipp._tcp.local.", the PTR record's owner
    m.rr(AN, &w("_ipp._tcp.local"), RrType::PTR, 4500, &wp("Printer", ptr_owner));
    let inst = ptr_owner + w("_ipp._tcp.local").len() + 10; // the PTR rdata: "Printer._ipp…"
    let host = m.pos() + 2 + 10 + 6; // the SRV target, written inline below
    let mut srv = vec![0, 0, 0, 0, 0x02, 0x77];
    srv.extend(wp("printer-host", ptr_owner + 10)); // "printer-host.local."
    m.rr_class(AN, &ptr(inst), RrType::SRV, FLUSH | 1, 120, &srv);
    m.rr_class(AN, &ptr(inst), RrType::TXT, FLUSH | 1, 4500, b"\x09txtvers=1\x04rp=x");
    m.rr_class(AR, &ptr(host), RrType::A, FLUSH | 1, 120, &ipv4("192.0.2.7"));
    let mut aaaa = vec![0x20, 0x01, 0x0d, 0xb8];
    aaaa.extend([0; 11]);
    aaaa.push(7);
    m.rr_class(AR, &ptr(host), RrType::AAAA, FLUSH | 1, 120, &aaaa);
    // NSEC: "no other types at this host" (next name = the host itself, bitmap A + AAAA)
    let mut nsec = ptr(host);
    nsec.extend([0, 4, 0x40, 0, 0, 0x08]);
    m.rr_class(AR, &ptr(host), RrType::NSEC, FLUSH | 1, 120, &nsec);
    m.finish()
}

#[test]
fn mdns_records_speak_for_their_own_names() {
    let msg = mdns_announcement();
    let (e, got) = mdns(&msg);
    assert_eq!(e.rrsets, 6);
    assert_eq!(
        got,
        [
            "_ipp._tcp.local. PTR printer._ipp._tcp.local. bw=_ipp._tcp.local. ttl=4500",
            "printer-host.local. A 192.0.2.7 bw=printer-host.local. ttl=120",
            "printer-host.local. AAAA 2001:db8::7 bw=printer-host.local. ttl=120",
            "printer-host.local. NSEC printer-host.local. A AAAA bw=printer-host.local. ttl=120",
            "printer._ipp._tcp.local. SRV 0 0 631 printer-host.local. bw=printer._ipp._tcp.local. ttl=120",
            "printer._ipp._tcp.local. TXT \"txtvers=1\" \"rp=x\" bw=printer._ipp._tcp.local. ttl=4500",
        ]
    );
    // The unicast rules are unchanged: no question, nothing stored.
    assert_eq!(skip_of(&msg), Skip::NoQuestion);
    // Sections and types are filtered as for unicast responses.
    let answers_only = ExtractOptions { additional: false, ..Default::default() };
    assert_eq!(mdns_opts(answers_only, &msg).0.rrsets, 3);
    let addresses = ExtractOptions { types: TypeSet::parse("A,AAAA").unwrap(), ..Default::default() };
    assert_eq!(mdns_opts(addresses, &msg).1.len(), 2);
}

#[test]
fn mdns_cache_flush_bit_is_masked_for_mdns_only() {
    let mut m = Msg::new(QR | AA);
    m.rr_class(AN, &w("host.local"), RrType::A, FLUSH | 1, 120, &ipv4("192.0.2.1"));
    m.rr_class(AN, &w("host.local"), RrType::A, 1, 120, &ipv4("192.0.2.2"));
    m.rr_class(AN, &w("host.local"), RrType::A, FLUSH | 3, 120, &ipv4("192.0.2.3")); // CH: ignored
    m.rr_class(AN, &w("goodbye.local"), RrType::A, FLUSH | 1, 0, &ipv4("192.0.2.9")); // goodbye
    let msg = m.finish();
    let mut ex = Extractor::new(ExtractOptions::default());
    let meta = MessageMeta { time: 1_700_000_000, zone_hint: None };
    let mut got = Vec::new();
    ex.extract_mdns(&msg, &meta, &mut |o: &mut Observation| got.push(show(o))).unwrap().unwrap();
    got.sort();
    assert_eq!(
        got,
        [
            "goodbye.local. A 192.0.2.9 bw=goodbye.local. ttl=0",
            "host.local. A 192.0.2.1|192.0.2.2 bw=host.local. ttl=120"
        ]
    );
    // The same extractor on a unicast response: class 0x8001 is not IN there.
    let mut u = Msg::response(AA, "www.example.com", RrType::A);
    u.rr(AN, Q, RrType::A, 300, &ipv4("192.0.2.1"));
    u.rr_class(AN, Q, RrType::A, FLUSH | 1, 300, &ipv4("192.0.2.2"));
    let (r, got) = run_with(&mut ex, &u.finish(), None);
    assert_eq!(r.unwrap().unwrap().rrsets, 1);
    assert_eq!(got.iter().map(show).collect::<Vec<_>>(), ["www.example.com. A 192.0.2.1 bw=example.com. ttl=300"]);
}

#[test]
fn mdns_questions_are_ignored_and_bad_messages_skipped() {
    // A response to a legacy unicast query repeats the question: ignored, records kept.
    let mut m = Msg::response(AA, "_ipp._tcp.local", RrType::PTR);
    m.rr(AN, Q, RrType::PTR, 4500, &wp("Printer", 12));
    let (_, got) = mdns(&m.finish());
    assert_eq!(got, ["_ipp._tcp.local. PTR printer._ipp._tcp.local. bw=_ipp._tcp.local. ttl=4500"]);
    // TC is ignored on reception (§18.5).
    let mut m = Msg::new(QR | TC);
    m.rr(AN, &w("host.local"), RrType::A, 120, &ipv4("192.0.2.1"));
    assert_eq!(mdns(&m.finish()).0.rrsets, 1);
    // Queries (known-answer lists included), other opcodes and RCODEs are skipped.
    let mut q = Msg::new(0);
    q.question(&w("_ipp._tcp.local"), RrType::PTR, 1);
    q.rr(AN, &w("_ipp._tcp.local"), RrType::PTR, 4500, &w("old._ipp._tcp.local"));
    let skip = |msg: &[u8]| run_mdns(ExtractOptions::default(), msg).0.unwrap().unwrap_err();
    assert_eq!(skip(&q.finish()), Skip::NotResponse);
    assert_eq!(skip(&Msg::new(QR | 0x2800).finish()), Skip::Opcode(5));
    assert_eq!(skip(&Msg::new(QR | 3).finish()), Skip::Rcode(3));
    // An empty response is fine and gives nothing.
    assert_eq!(mdns(&Msg::new(QR | AA).finish()).0.rrsets, 0);
}

#[test]
fn mdns_every_prefix_is_an_error_and_damage_is_rejected_whole() {
    let msg = mdns_announcement();
    let full = mdns(&msg).1;
    for cut in 0..msg.len() {
        let (r, got) = run_mdns(ExtractOptions::default(), &msg[..cut]);
        assert!(r.is_err(), "prefix {cut} of {}: {r:?}", msg.len());
        assert!(got.is_empty(), "emitted at cut {cut}");
    }
    let mut longer = msg.clone();
    longer.extend([0xde, 0xad]);
    assert_eq!(mdns(&longer).1, full);
    // A forward compression pointer in the last record: nothing at all is emitted.
    let mut bad = msg.clone();
    let at = bad.len() - 8;
    bad[at..at + 2].copy_from_slice(&[0xc0, 0xff]);
    let (r, got) = run_mdns(ExtractOptions::default(), &bad);
    assert!(r.is_err() && got.is_empty(), "{r:?}");
    // Random damage never panics and never emits from a rejected message.
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for _ in 0..20_000 {
        let mut m = msg.clone();
        for _ in 0..1 + rng.below(4) {
            let i = rng.below(m.len());
            m[i] = rng.next() as u8;
        }
        let (r, got) = run_mdns(ExtractOptions::default(), &m);
        if r.is_err() {
            assert!(got.is_empty());
        }
    }
}

#[test]
fn question_key_edges() {
    let key = |name: &[u8], t: u16| {
        let mut q = Msg::new(RD);
        q.question(name, RrType(t), 1);
        question_key(&q.finish())
    };
    // only the name is lower-cased: HTTPS (65, 'A') and type 97 ('a') differ
    assert_ne!(key(&w("example.com"), 65), key(&w("example.com"), 97));
    assert_eq!(key(&w("EXAMPLE.com"), 65), key(&w("example.COM"), 65));
    // a name of 255 octets is accepted, one of 257 is not
    let label = "a".repeat(63);
    assert!(key(&w(&format!("{label}.{label}.{label}.{}", "b".repeat(61))), 1).is_some());
    assert!(key(&w(&format!("{label}.{label}.{label}.{}", "b".repeat(63))), 1).is_none());
    // names differing past the first word, or only in their label lengths
    assert_ne!(key(&w("abcdefgh.example"), 1), key(&w("abcdefgh.examplf"), 1));
    assert_ne!(key(&w("a.b"), 1), key(&w("ab"), 1));
    // a question cut short
    let mut q = Msg::new(RD);
    q.question(&w("example.com"), RrType::A, 1);
    let full = q.finish();
    assert!(question_key(&full).is_some());
    assert_eq!(question_key(&full[..full.len() - 1]), None);
}
