//! End-to-end: `dnsledger sensor` on captures built byte by byte (the DNS messages here, the
//! frames and pcap files by `common::pcap`: an independent writer, not the capture crate's),
//! into a store, files and a collector, and live on the loopback interface.

mod common;

use std::net::UdpSocket;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pcap::{tcp, udp, wire_name as name, Pcap};
use common::{bin, ok, run, Server};

// ---------------------------------------------------------------- DNS messages

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const SOA: u16 = 6;
const AAAA: u16 = 28;

/// One resource record: owner, type, TTL, rdata.
type Rr = (String, u16, u32, Vec<u8>);

/// A DNS message: header, one question, and the records of its three sections.
struct Msg {
    id: u16,
    flags: u16,
    qname: String,
    qtype: u16,
    rrs: [Vec<Rr>; 3],
}

impl Msg {
    fn query(id: u16, qname: &str, qtype: u16) -> Msg {
        Msg { id, flags: 0x0100, qname: qname.into(), qtype, rrs: Default::default() }
    }
    /// An authoritative response (QR, AA) with `rcode`.
    fn auth(id: u16, qname: &str, qtype: u16, rcode: u16) -> Msg {
        Msg { id, flags: 0x8400 | rcode, qname: qname.into(), qtype, rrs: Default::default() }
    }
    fn rr(mut self, section: usize, owner: &str, t: u16, ttl: u32, rdata: Vec<u8>) -> Msg {
        self.rrs[section].push((owner.into(), t, ttl, rdata));
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&self.id.to_be_bytes());
        m.extend_from_slice(&self.flags.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for s in &self.rrs {
            m.extend_from_slice(&(s.len() as u16).to_be_bytes());
        }
        name(&mut m, &self.qname);
        m.extend_from_slice(&self.qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        for s in &self.rrs {
            for (owner, t, ttl, rd) in s {
                if owner.eq_ignore_ascii_case(&self.qname) {
                    m.extend_from_slice(&[0xc0, 12]); // compression pointer to the question
                } else {
                    name(&mut m, owner);
                }
                m.extend_from_slice(&t.to_be_bytes());
                m.extend_from_slice(&1u16.to_be_bytes());
                m.extend_from_slice(&ttl.to_be_bytes());
                m.extend_from_slice(&(rd.len() as u16).to_be_bytes());
                m.extend_from_slice(rd);
            }
        }
        m
    }
}

fn ip4(s: &str) -> Vec<u8> {
    s.parse::<std::net::Ipv4Addr>().expect("ipv4").octets().to_vec()
}

fn dname(n: &str) -> Vec<u8> {
    let mut v = Vec::new();
    name(&mut v, n);
    v
}

fn soa(zone: &str) -> Vec<u8> {
    let mut v = dname(&format!("ns1.{zone}"));
    v.extend(dname(&format!("hostmaster.{zone}")));
    for x in [2024010101u32, 3600, 600, 86400, 300] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v
}

// ---------------------------------------------------------------- captures (frames: common::pcap)

const CLIENT: [u8; 4] = [10, 0, 0, 7];
const RESOLVER: [u8; 4] = [10, 0, 0, 53];

const T0: f64 = 1_704_067_200.0; // 2024-01-01

/// The main capture: a client with 20 queries in flight on ONE socket, answered in reverse order
/// (passivedns would keep one of them), a CNAME chain, an unsolicited answer, an NXDOMAIN, a
/// NODATA, a SERVFAIL, a malformed response, and a DNS-over-TCP answer split over segments.
fn capture() -> Pcap {
    let c = (CLIENT, 40000);
    let r = (RESOLVER, 53);
    let mut p = Pcap::new();
    for i in 0..20u16 {
        p.frame(T0 + f64::from(i) * 0.001, &udp(c, r, &Msg::query(100 + i, &format!("h{i}.example.com"), A).bytes()));
    }
    for i in (0..20u16).rev() {
        let q = format!("h{i}.example.com");
        let m = Msg::auth(100 + i, &q, A, 0)
            .rr(0, &q, A, 300, ip4(&format!("192.0.2.{i}")))
            .rr(1, "example.com", NS, 3600, dname("ns1.example.com"))
            .rr(2, "ns1.example.com", A, 3600, ip4("192.0.2.53"))
            .rr(2, "ns.elsewhere.net", A, 3600, ip4("198.51.100.1")); // out of bailiwick
        p.frame(T0 + 1.0 + f64::from(20 - i) * 0.001, &udp(r, c, &m.bytes()));
    }
    // CNAME chain inside the zone, plus an unsolicited record not on the chain
    p.frame(T0 + 2.0, &udp(c, r, &Msg::query(7, "www.example.com", A).bytes()));
    let m = Msg::auth(7, "www.example.com", A, 0)
        .rr(0, "www.example.com", CNAME, 300, dname("web.example.com"))
        .rr(0, "web.example.com", A, 300, ip4("192.0.2.80"))
        .rr(0, "web.example.com", A, 300, ip4("192.0.2.81"))
        .rr(0, "evil.example.com", A, 300, ip4("203.0.113.66"))
        .rr(1, "example.com", SOA, 3600, soa("example.com"));
    p.frame(T0 + 2.01, &udp(r, c, &m.bytes()));
    // the same answer again later: counted, not a new record
    p.frame(T0 + 3600.0, &udp(c, (RESOLVER, 53), &Msg::query(8, "www.example.com", A).bytes()));
    let m2 = Msg { id: 8, ..Msg::auth(7, "www.example.com", A, 0) }
        .rr(0, "www.example.com", CNAME, 300, dname("web.example.com"))
        .rr(0, "web.example.com", A, 300, ip4("192.0.2.81"))
        .rr(0, "web.example.com", A, 300, ip4("192.0.2.80"))
        .rr(1, "example.com", SOA, 3600, soa("example.com"));
    p.frame(T0 + 3600.01, &udp(r, c, &m2.bytes()));
    // NXDOMAIN and NODATA
    p.frame(T0 + 4.0, &udp(c, r, &Msg::query(9, "gone.example.com", A).bytes()));
    p.frame(
        T0 + 4.01,
        &udp(r, c, &Msg::auth(9, "gone.example.com", A, 3).rr(1, "example.com", SOA, 3600, soa("example.com")).bytes()),
    );
    p.frame(T0 + 5.0, &udp(c, r, &Msg::query(10, "web.example.com", AAAA).bytes()));
    p.frame(
        T0 + 5.01,
        &udp(
            r,
            c,
            &Msg::auth(10, "web.example.com", AAAA, 0).rr(1, "example.com", SOA, 3600, soa("example.com")).bytes(),
        ),
    );
    // SERVFAIL: nothing to keep
    p.frame(T0 + 6.0, &udp(r, c, &Msg::auth(11, "broken.example.com", A, 2).bytes()));
    // malformed: a compression pointer loop in the answer
    let mut bad = Msg::auth(12, "loop.example.com", A, 0).bytes();
    bad[7] = 1; // ancount = 1
    bad.extend_from_slice(&[0xc0, (bad.len() & 0xff) as u8, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
    p.frame(T0 + 7.0, &udp(r, c, &bad));
    // DNS over TCP: the response's length prefix and body split over three segments, the
    // middle one retransmitted
    let tc = (CLIENT, 40001);
    let q = Msg::query(13, "tcp.example.com", A).bytes();
    let mut qs = (q.len() as u16).to_be_bytes().to_vec();
    qs.extend_from_slice(&q);
    p.frame(T0 + 8.0, &tcp(tc, r, 1000, 0x02, &[])); // SYN
    p.frame(T0 + 8.001, &tcp(r, tc, 5000, 0x12, &[])); // SYN-ACK
    p.frame(T0 + 8.002, &tcp(tc, r, 1001, 0x18, &qs));
    let resp = Msg::auth(13, "tcp.example.com", A, 0).rr(0, "tcp.example.com", A, 300, ip4("192.0.2.113")).bytes();
    let mut rs = (resp.len() as u16).to_be_bytes().to_vec();
    rs.extend_from_slice(&resp);
    p.frame(T0 + 8.01, &tcp(r, tc, 5001, 0x18, &rs[..1]));
    p.frame(T0 + 8.011, &tcp(r, tc, 5002, 0x18, &rs[1..20]));
    p.frame(T0 + 8.012, &tcp(r, tc, 5002, 0x18, &rs[1..20]));
    p.frame(T0 + 8.013, &tcp(r, tc, 5021, 0x18, &rs[20..]));
    p.frame(T0 + 8.02, &tcp(r, tc, 5001 + rs.len() as u32, 0x11, &[])); // FIN
                                                                        // not DNS
    p.frame(T0 + 9.0, &udp(c, (RESOLVER, 123), b"ntp?"));
    p
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).expect("json line")).collect()
}

fn query_json(data: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["query", "--data-dir", data, "-f", "json", "-l", "0"];
    a.extend_from_slice(args);
    json_lines(&ok(&a))
}

#[test]
fn pcap_into_store_every_response_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let data = dir.path().join("store");
    let summary = dir.path().join("summary.json");
    let out = run(&[
        "sensor",
        "-r",
        pcap.to_str().expect("utf-8"),
        "--negative",
        "--sensor",
        "lab-1",
        "--data-dir",
        data.to_str().expect("utf-8"),
        "--summary-json",
        summary.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("json");
    assert_eq!(s["responses"], 27, "{s}");
    assert_eq!(s["matched"], 25, "{s}");
    assert!(
        s["errors"].as_object().is_some_and(|e| e.values().map(|v| v.as_u64().unwrap_or(0)).sum::<u64>() == 1),
        "{s}"
    );
    assert!(err.contains("malformed DNS message"), "{err}");
    let data = data.to_str().expect("utf-8");

    // all 20 in-flight answers on one socket were used
    let hosts = query_json(data, &["-r", "*.example.com", "-t", "A"]);
    let h: Vec<&serde_json::Value> =
        hosts.iter().filter(|r| r["rrname"].as_str().is_some_and(|n| n.starts_with('h'))).collect();
    assert_eq!(h.len(), 20, "{hosts:?}");
    assert!(h.iter().all(|r| r["bailiwick"] == "example.com." && r["sensor_id"] == "lab-1"), "{h:?}");
    // glue in bailiwick kept (seen with each of the 20 answers), out of bailiwick dropped
    let glue = query_json(data, &["-r", "ns1.example.com/A"]);
    assert_eq!(glue.len(), 1);
    assert_eq!(glue[0]["count"], 20);
    assert!(query_json(data, &["-r", "ns.elsewhere.net"]).is_empty());
    // the CNAME chain, one RRset of two addresses, seen twice an hour apart
    let web = query_json(data, &["-r", "web.example.com/A"]);
    assert_eq!(web.len(), 1, "{web:?}");
    assert_eq!(web[0]["rdata"], serde_json::json!(["192.0.2.80", "192.0.2.81"]));
    assert_eq!(web[0]["count"], 2);
    assert_eq!(web[0]["time_first"], 1704067202u64);
    assert_eq!(web[0]["time_last"], 1704070800u64);
    assert_eq!(query_json(data, &["-r", "www.example.com/CNAME"])[0]["rdata"][0], "web.example.com.");
    // the unsolicited record is not stored
    assert!(query_json(data, &["-r", "evil.example.com"]).is_empty());
    assert!(query_json(data, &["-i", "203.0.113.66"]).is_empty());
    // DNS over TCP, reassembled across segments with a retransmission
    assert_eq!(query_json(data, &["-r", "tcp.example.com"])[0]["rdata"][0], "192.0.2.113");
    // negative answers: only when asked for
    assert!(query_json(data, &["-r", "gone.example.com"]).is_empty());
    let neg = query_json(data, &["-r", "*.example.com", "--negative", "only"]);
    let kinds: Vec<(String, String)> = neg
        .iter()
        .map(|r| (r["rrname"].as_str().unwrap_or("").to_string(), r["negative"].as_str().unwrap_or("").to_string()))
        .collect();
    assert!(kinds.contains(&("gone.example.com.".into(), "NXDOMAIN".into())), "{kinds:?}");
    assert!(kinds.contains(&("web.example.com.".into(), "NODATA".into())), "{kinds:?}");
}

#[test]
fn file_outputs_and_reimport() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let p = pcap.to_str().expect("utf-8");
    // NDJSON to stdout, re-importable as it is
    let nd = ok(&["sensor", "-r", p, "--negative", "-o", "-", "-q"]);
    let lines = json_lines(&nd);
    assert!(lines.iter().all(|l| l.get("client").is_none()), "clients recorded without --record-clients");
    assert!(lines.iter().any(|l| l["negative"] == "NXDOMAIN"));
    let ndfile = dir.path().join("obs.ndjson");
    std::fs::write(&ndfile, &nd).expect("write");
    let data = dir.path().join("store");
    let d = data.to_str().expect("utf-8");
    ok(&["import", ndfile.to_str().expect("utf-8"), "--data-dir", d, "-q"]);
    assert_eq!(query_json(d, &["-r", "web.example.com/A"])[0]["count"], 2);
    assert_eq!(query_json(d, &["-r", "gone.example.com", "--negative", "only"]).len(), 1);
    // passivedns lines, with clients when asked
    let pd = ok(&["sensor", "-r", p, "-o", "-", "--output-format", "passivedns", "--record-clients", "-q"]);
    assert!(
        pd.lines().any(|l| l.contains("||10.0.0.7||10.0.0.53||IN||web.example.com.||A||192.0.2.80||300||2")),
        "{pd}"
    );
    // and the passivedns output imports too
    let pdfile = dir.path().join("pdns.log");
    std::fs::write(&pdfile, &pd).expect("write");
    ok(&[
        "import",
        pdfile.to_str().expect("utf-8"),
        "--data-dir",
        dir.path().join("s2").to_str().expect("utf-8"),
        "-q",
    ]);
    // --record-clients is refused where clients cannot be kept
    let out = run(&["sensor", "-r", p, "--record-clients", "--data-dir", d]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--record-clients needs --output"));
}

#[test]
fn client_addresses_become_keyed_hash_tokens_with_a_key_file() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let p = pcap.to_str().expect("utf-8");
    let key = dir.path().join("client.key");
    let hexkey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    std::fs::write(&key, format!("{hexkey}\n")).expect("write");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let k = key.to_str().expect("utf-8");
    // the token of 10.0.0.7, the capture's client: HMAC-SHA256 over its 4 octets keyed with the
    // file's text (newline dropped), first 16 bytes in hex, computed by openssl
    let msg = dir.path().join("msg");
    std::fs::write(&msg, [10u8, 0, 0, 7]).expect("write");
    let keyhex: String = hexkey.bytes().map(|b| format!("{b:02x}")).collect();
    let out = std::process::Command::new("openssl")
        .args(["dgst", "-sha256", "-mac", "HMAC", "-macopt", &format!("hexkey:{keyhex}")])
        .arg(&msg)
        .output()
        .expect("openssl is needed for this test (apt-get install openssl)");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let digest = String::from_utf8(out.stdout).expect("utf-8");
    let token = &digest.trim().rsplit(' ').next().expect("digest")[..32];

    let pd = ok(&[
        "sensor",
        "-r",
        p,
        "-o",
        "-",
        "--output-format",
        "passivedns",
        "--record-clients",
        "--client-hash-key-file",
        k,
        "-q",
    ]);
    let want = format!("||{token}||10.0.0.53||IN||web.example.com.||A||192.0.2.80||300||2");
    assert!(pd.lines().any(|l| l.contains(&want)), "{want} not in {pd}");
    assert!(!pd.contains("||10.0.0.7||"), "{pd}");
    let nd = ok(&["sensor", "-r", p, "-o", "-", "--record-clients", "--client-hash-key-file", k, "-q"]);
    let lines = json_lines(&nd);
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["client"] == token), "{nd}");
    // the hashed passivedns output still imports
    let pdfile = dir.path().join("pdns.log");
    std::fs::write(&pdfile, &pd).expect("write");
    let data = dir.path().join("store");
    let d = data.to_str().expect("utf-8");
    ok(&["import", pdfile.to_str().expect("utf-8"), "--data-dir", d, "-q"]);
    assert_eq!(query_json(d, &["-r", "web.example.com/A"])[0]["count"], 2);

    // refused: a key others can read, a short key, a key without --record-clients
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let out = run(&["sensor", "-r", p, "-o", "-", "--record-clients", "--client-hash-key-file", k]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("chmod 600"), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&key, "short\n").expect("write");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let out = run(&["sensor", "-r", p, "-o", "-", "--record-clients", "--client-hash-key-file", k]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32"), "{}", String::from_utf8_lossy(&out.stderr));
    let out = run(&["sensor", "-r", p, "-o", "-", "--client-hash-key-file", k]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--record-clients"));
}

#[test]
fn damaged_capture_keeps_what_came_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("cut.pcap");
    let full = capture();
    // cut inside the last frames' record
    let cut = full.bytes().len() - 10;
    std::fs::write(&pcap, &full.bytes()[..cut]).expect("write");
    let data = dir.path().join("store");
    let d = data.to_str().expect("utf-8");
    let out = run(&["sensor", "-r", pcap.to_str().expect("utf-8"), "--data-dir", d]);
    assert_eq!(out.status.code(), Some(3), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cut.pcap") && err.contains("frame"), "{err}");
    assert_eq!(query_json(d, &["-r", "web.example.com/A"])[0]["count"], 2);
    // not a capture at all
    let junk = dir.path().join("junk.pcap");
    std::fs::write(&junk, b"this is not a capture file").expect("write");
    let out = run(&["sensor", "-r", junk.to_str().expect("utf-8"), "-o", "-"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.pcap"));
}

#[test]
fn threads_give_the_same_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let p = pcap.to_str().expect("utf-8");
    let sorted = |s: String| {
        let mut v: Vec<String> = s.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    let one = sorted(ok(&["sensor", "-r", p, "--negative", "-o", "-", "-q"]));
    let three = sorted(ok(&["sensor", "-r", p, "--negative", "-o", "-", "-q", "--threads", "3"]));
    assert_eq!(one, three);
}

/// `[sensor]` in the configuration file sets what the flags leave unset; flags win.
#[test]
fn the_sensor_section_of_the_config_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let p = pcap.to_str().expect("utf-8");
    let cfg = dir.path().join("dnsledger.toml");
    std::fs::write(&cfg, "[sensor]\nname = \"from-file\"\ntypes = [\"A\", \"NS\"]\nsections = [\"answer\"]\n")
        .expect("write");
    let c = cfg.to_str().expect("utf-8");
    let lines = json_lines(&ok(&["sensor", "--config", c, "-r", p, "-o", "-", "-q"]));
    assert!(!lines.is_empty());
    assert!(lines.iter().all(|l| l["sensor"] == "from-file"), "{lines:?}");
    let types: std::collections::BTreeSet<&str> = lines.iter().filter_map(|l| l["rrtype"].as_str()).collect();
    assert!(types.iter().all(|t| *t == "A" || *t == "NS") && types.contains("A"), "{types:?}");
    // answer section only: the in-bailiwick glue the default keeps is gone
    assert!(!lines.iter().any(|l| l["rrname"] == "ns1.example.com." && l["rrtype"] == "A"), "{lines:?}");
    // flags override the file
    let lines =
        json_lines(&ok(&["sensor", "--config", c, "-r", p, "-o", "-", "-q", "--sensor", "flag", "--types", "A"]));
    assert!(!lines.is_empty() && lines.iter().all(|l| l["sensor"] == "flag" && l["rrtype"] == "A"), "{lines:?}");
    // a bad value in the file is reported with its place
    std::fs::write(&cfg, "[sensor]\ncache_mib = \"lots\"\n").expect("write");
    let out = run(&["sensor", "--config", c, "-r", p, "-o", "-"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("cache_mib") && err.contains("line 2"), "{err}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

#[test]
fn collector_with_key_spool_and_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let p = pcap.to_str().expect("utf-8");
    let keys = dir.path().join("keys.toml");
    let k = keys.to_str().expect("utf-8");
    let out = run(&["key", "add", "sensor-1", "--keys-file", k]);
    assert!(out.status.success());
    let secret = String::from_utf8(out.stdout).expect("utf-8").trim().to_string();
    let spool = dir.path().join("spool");
    let sp = spool.to_str().expect("utf-8");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let data = dir.path().join("store");

    // collector down: the batch is spooled, nothing is lost
    let out = run(&["sensor", "-r", p, "--server", &url, "--key", &secret, "--spool-dir", sp, "--sensor", "edge"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("wait in"), "{err}");
    let spooled: Vec<_> = std::fs::read_dir(&spool).expect("spool").filter_map(Result::ok).collect();
    assert_eq!(spooled.len(), 1, "{err}");
    let kept = dir.path().join("kept.dlb.gz");
    std::fs::copy(spooled[0].path(), &kept).expect("copy");

    // collector up with keys: a wrong key is refused (and the batch stays spooled)
    let server = Server::start_at(&data, &format!("127.0.0.1:{port}"), &["--keys-file", k]);
    let out = run(&["sensor", "-r", p, "--server", &url, "--key", "dnsl_wrong", "--spool-dir", sp, "-q"]);
    assert!(out.status.success());
    assert_eq!(
        std::fs::read_dir(&spool).expect("spool").filter(|e| e.as_ref().is_ok_and(|e| e.path().is_file())).count(),
        2
    );
    // the right key sends both spooled batches, then the new one
    let out = run(&["sensor", "-r", p, "--server", &url, "--key", &secret, "--spool-dir", sp, "--sensor", "edge"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("3 batches sent"), "{err}");
    // a batch sent again (a lost acknowledgement) is not counted twice
    std::fs::copy(&kept, spool.join(spooled[0].file_name())).expect("copy back");
    let out = run(&[
        "sensor",
        "-r",
        pcap.to_str().expect("utf-8"),
        "--types",
        "TXT",
        "--server",
        &url,
        "--key",
        &secret,
        "--spool-dir",
        sp,
    ]);
    assert!(out.status.success());
    let get = |path: &str| {
        let resp = common::agent()
            .get(format!("{url}/api/v1/lookup/{path}"))
            .header("X-API-Key", &secret)
            .call()
            .expect("lookup");
        let mut resp = resp;
        let body = resp.body_mut().read_to_string().expect("body");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")
    };
    let web = get("rrset/name/web.example.com/A");
    // three sensor runs reached the store once each: 3 x 2 sightings
    assert_eq!(web["records"][0]["count"], 6, "{web}");
    assert_eq!(web["records"][0]["sensor_id"], "edge");
    // without a key the native API refuses
    let (status, _) = common::get(&format!("{url}/api/v1/lookup/rrset/name/web.example.com"));
    assert_eq!(status, 401);
    assert!(server.terminate());
}

/// Live capture on `lo` needs CAP_NET_RAW: the test suite runs as root (CI too); without it this
/// test fails loudly rather than being skipped.
#[test]
fn live_capture_on_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("live.ndjson");
    let server_sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
    let port = server_sock.local_addr().expect("addr").port();
    let summary = dir.path().join("summary.json");
    let mut child = bin()
        .args(["sensor", "-i", "lo", "--port", &port.to_string(), "--stats-secs", "1", "--metrics-listen"])
        .args(["127.0.0.1:0", "-o"])
        .arg(&out_file)
        .arg("--summary-json")
        .arg(&summary)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting the sensor");
    // wait until the capture runs
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for l in std::io::BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    let mut err = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut metrics_url = None;
    loop {
        assert!(Instant::now() < deadline, "capture did not start: {err}");
        match rx.recv_timeout(Duration::from_secs(1)) {
            Ok(l) => {
                err.push_str(&l);
                err.push('\n');
                if let Some(rest) = l.split("metrics on ").nth(1) {
                    metrics_url = Some(rest.trim().to_string());
                }
                if l.contains("capturing on lo") {
                    break;
                }
            }
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {}
            Err(_) => panic!("sensor exited (it needs root / CAP_NET_RAW): {err}"),
        }
    }
    let client = UdpSocket::bind("127.0.0.1:0").expect("bind");
    client.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    server_sock.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
    for id in 1..=5u16 {
        client.send_to(&Msg::query(id, "live.example.org", A).bytes(), ("127.0.0.1", port)).expect("send");
        let mut buf = [0u8; 512];
        let (_, from) = server_sock.recv_from(&mut buf).expect("query arrives");
        let r = Msg::auth(id, "live.example.org", A, 0).rr(0, "live.example.org", A, 60, ip4("192.0.2.99"));
        server_sock.send_to(&r.bytes(), from).expect("reply");
        client.recv_from(&mut buf).expect("response arrives");
    }
    // capture threads publish their counters every second; the endpoint serves them
    let metrics_url = metrics_url.unwrap_or_else(|| panic!("no metrics endpoint announced: {err}"));
    let figure = |text: &str, series: &str| -> u64 {
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (status, text) = common::get(&metrics_url);
        assert_eq!(status, 200, "{text}");
        if figure(&text, "dnsledger_sensor_responses_total") >= 5 || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(figure(&text, "dnsledger_sensor_responses_total"), 5, "{text}");
    assert!(figure(&text, "dnsledger_capture_received_total{interface=\"lo\"}") >= 10, "{text}");
    assert!(text.contains("dnsledger_capture_dropped_total{interface=\"lo\",by=\"kernel\"} 0"), "{text}");
    assert!(figure(&text, "process_resident_memory_bytes") > 0, "{text}");
    std::thread::sleep(Duration::from_millis(300));
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
    let status = child.wait().expect("wait");
    while let Ok(l) = rx.recv_timeout(Duration::from_millis(500)) {
        err.push_str(&l);
        err.push('\n');
    }
    assert!(status.success(), "live sensor failed (it needs root / CAP_NET_RAW): {err}");
    let text = std::fs::read_to_string(&out_file).expect("output");
    let lines = json_lines(&text);
    let rec = lines.iter().find(|l| l["rrname"] == "live.example.org.").unwrap_or_else(|| panic!("{text}\n{err}"));
    assert_eq!(rec["rdata"][0], "192.0.2.99");
    assert_eq!(rec["count"], 5);
    let s: serde_json::Value = serde_json::from_slice(&std::fs::read(&summary).expect("summary")).expect("json");
    assert!(s["live"]["received"].as_u64().unwrap_or(0) >= 10, "{s}");
    assert_eq!(s["matched"], 5, "{s}");
}

#[test]
fn spooled_batches_import_once_whichever_way_they_arrive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let p = pcap.to_str().expect("utf-8");
    let spool = dir.path().join("spool");
    let sp = spool.to_str().expect("utf-8");
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let data = dir.path().join("store");
    let d = data.to_str().expect("utf-8");
    // collector down: one batch spooled
    let out = run(&["sensor", "-r", p, "--server", &url, "--spool-dir", sp, "--sensor", "edge", "-q"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let files: Vec<_> = std::fs::read_dir(&spool)
        .expect("spool")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(files.len(), 1);
    let f = files[0].to_str().expect("utf-8");
    // carried over and imported (format detected)
    let out = run(&["import", f, "--data-dir", d]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let web = query_json(d, &["-r", "web.example.com/A"]);
    assert_eq!(web[0]["count"], 2, "{web:?}");
    // again: already there
    let err = String::from_utf8(run(&["import", f, "--data-dir", d]).stderr).expect("utf-8");
    assert!(err.contains("already imported"), "{err}");
    // the sensor now reaches the collector on the same store and sends the spooled batch: not counted again
    let server = Server::start_at(&data, &format!("127.0.0.1:{port}"), &[]);
    let out = run(&["sensor", "-r", p, "--types", "TXT", "--server", &url, "--spool-dir", sp, "-q"]);
    assert!(out.status.success());
    assert!(server.terminate());
    let web = query_json(d, &["-r", "web.example.com/A"]);
    assert_eq!(web[0]["count"], 2, "{web:?}");
    // a file that is not a batch is refused with its name
    let junk = dir.path().join("junk.dlb.gz");
    std::fs::write(&junk, b"\x1f\x8b\x08\x00junk").expect("write");
    let out = run(&["import", "--format", "batch", junk.to_str().expect("utf-8"), "--data-dir", d]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("junk.dlb.gz"));
}

#[test]
fn collector_over_https_with_a_private_ca() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pcap = d.join("dns.pcap");
    capture().write(&pcap);
    let p = pcap.to_str().expect("utf-8");
    let ca = common::tls::Ca::new(d, "ca");
    let (cert, key) = ca.issue("collector");
    let data = d.join("store");
    let server =
        Server::start(&data, &["--tls-cert", cert.to_str().expect("utf-8"), "--tls-key", key.to_str().expect("utf-8")]);
    assert!(server.url.starts_with("https://127.0.0.1:"), "{}", server.url);
    let spool = d.join("spool");
    let sp = spool.to_str().expect("utf-8");
    let spooled = || std::fs::read_dir(&spool).map(|r| r.filter_map(Result::ok).count()).unwrap_or(0);

    // without the CA the collector's certificate does not verify: the batch waits in the spool
    let out = run(&["sensor", "-r", p, "--server", &server.url, "--spool-dir", sp, "--sensor", "edge"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("not signed by a trusted CA"), "{err}");
    assert_eq!(spooled(), 1, "{err}");

    // with it (from [sensor] ca_file this time) the spooled batch and the new one are delivered
    let cfg = d.join("sensor.toml");
    std::fs::write(&cfg, format!("[sensor]\nca_file = {:?}\n", ca.pem.to_str().expect("utf-8"))).expect("config");
    let out = run(&[
        "sensor",
        "--config",
        cfg.to_str().expect("utf-8"),
        "-r",
        p,
        "--server",
        &server.url,
        "--spool-dir",
        sp,
        "--sensor",
        "edge",
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("2 batches sent"), "{err}");
    assert_eq!(spooled(), 0, "{err}");
    let out = ok(&[
        "query",
        "--server",
        &server.url,
        "--ca-file",
        ca.pem.to_str().expect("utf-8"),
        "-r",
        "web.example.com/A",
        "-f",
        "json",
    ]);
    let web = json_lines(&out);
    // two sensor runs reached the store once each: 2 x 2 sightings
    assert_eq!(web[0]["count"], 4, "{web:?}");
    assert!(server.terminate());
}

#[test]
fn sensor_into_a_local_store_checks_the_watchlists() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("dns.pcap");
    capture().write(&pcap);
    let data = dir.path().join("store");
    std::fs::create_dir_all(data.join("watchlists")).expect("mkdir");
    std::fs::write(
        data.join("watchlists/case.json"),
        r#"{"entries":[{"value":"h3.example.com","label":"case 7"},{"value":"192.0.2.5"}]}"#,
    )
    .expect("watchlist");
    let d = data.to_str().expect("utf-8");
    let p = pcap.to_str().expect("utf-8");
    let out = run(&["sensor", "-r", p, "--watch", "--data-dir", d]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("alert(s) raised"), "{err}");
    let journal = std::fs::read_to_string(data.join("watchlists/alerts.ndjson")).expect("alerts journal");
    let alerts = json_lines(&journal);
    assert!(
        alerts
            .iter()
            .any(|a| a["kind"] == "first_match" && a["matched"] == "h3.example.com." && a["label"] == "case 7"),
        "{journal}"
    );
    assert!(alerts.iter().any(|a| a["matched"] == "192.0.2.5"), "{journal}");
    // the same capture again: the records exist now, nothing new to alert
    let out = run(&["sensor", "-r", p, "--watch", "--data-dir", d]);
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(data.join("watchlists/alerts.ndjson")).expect("journal"), journal);
    // --watch needs a local store
    let bad = run(&["sensor", "-r", p, "--watch", "--output", "-"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("local store"));
}

/// An mDNS response as a printer announces itself (RFC 6762): no question section, a shared
/// PTR record, and SRV/A records with the cache-flush bit (class 0x8001).
fn mdns_announcement() -> Vec<u8> {
    let mut m = vec![0, 0, 0x84, 0, 0, 0, 0, 2, 0, 0, 0, 1];
    let mut rr = |owner: &str, t: u16, class: u16, ttl: u32, rdata: &[u8]| {
        name(&mut m, owner);
        m.extend_from_slice(&t.to_be_bytes());
        m.extend_from_slice(&class.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(rdata);
    };
    const PTR: u16 = 12;
    const SRV: u16 = 33;
    rr("_ipp._tcp.local", PTR, 1, 4500, &dname("printer._ipp._tcp.local"));
    let mut srv = vec![0, 0, 0, 0, 0x02, 0x77]; // priority 0, weight 0, port 631
    srv.extend(dname("printer-host.local"));
    rr("printer._ipp._tcp.local", SRV, 0x8001, 120, &srv);
    rr("printer-host.local", A, 0x8001, 120, &ip4("192.0.2.77"));
    m
}

#[test]
fn mdns_responses_are_stored_with_their_own_names_as_bailiwick() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pcap = dir.path().join("mdns.pcap");
    let host = ([10, 0, 0, 9], 5353);
    let group = ([224, 0, 0, 251], 5353);
    let mut p = Pcap::new();
    p.frame(T0, &udp(host, group, &mdns_announcement()));
    // the same announcement on port 53 stays under the unicast rules: no question, not stored
    p.frame(T0 + 1.0, &udp((RESOLVER, 53), (CLIENT, 40000), &mdns_announcement()));
    p.write(&pcap);
    let pcap = pcap.to_str().expect("utf-8");
    let sensor = |data: &Path, summary: &Path, mdns: bool| -> serde_json::Value {
        let mut a = vec!["sensor", "-r", pcap, "--data-dir", data.to_str().expect("utf-8")];
        a.extend(["--summary-json", summary.to_str().expect("utf-8")]);
        if mdns {
            a.push("--mdns");
        }
        ok(&a);
        serde_json::from_slice(&std::fs::read(summary).expect("summary")).expect("json")
    };

    let data = dir.path().join("store");
    let s = sensor(&data, &dir.path().join("s1.json"), true);
    assert_eq!((s["responses"].as_u64(), s["responses_used"].as_u64()), (Some(2), Some(1)), "{s}");
    assert_eq!(s["skipped"]["no_question"], 1, "{s}");
    let data = data.to_str().expect("utf-8");
    let a = query_json(data, &["-r", "printer-host.local/A"]);
    assert_eq!(a.len(), 1, "{a:?}");
    assert_eq!(a[0]["rdata"], serde_json::json!(["192.0.2.77"]));
    assert_eq!(a[0]["bailiwick"], "printer-host.local.");
    assert_eq!(a[0]["time_first"], 1704067200u64);
    let srv = query_json(data, &["-r", "printer._ipp._tcp.local"]);
    assert_eq!(srv.len(), 1, "{srv:?}");
    assert_eq!(srv[0]["rrtype"], "SRV");
    assert_eq!(srv[0]["rdata"][0], "0 0 631 printer-host.local.");
    assert_eq!(srv[0]["bailiwick"], "printer._ipp._tcp.local.");
    let ptr = query_json(data, &["-r", "_ipp._tcp.local"]);
    assert_eq!(ptr.len(), 1, "{ptr:?}");
    assert_eq!(
        (&ptr[0]["rdata"][0], &ptr[0]["bailiwick"]),
        (&"printer._ipp._tcp.local.".into(), &"_ipp._tcp.local.".into())
    );

    // without --mdns port 5353 is not decoded at all
    let plain = dir.path().join("plain");
    let s = sensor(&plain, &dir.path().join("s2.json"), false);
    assert_eq!(s["responses"], 1, "{s}");
    assert!(query_json(plain.to_str().expect("utf-8"), &["-r", "printer-host.local"]).is_empty());
}
