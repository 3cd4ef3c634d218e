//! A real dnstap peer: Unbound resolving from NSD, sending dnstap to our `Listener`.
//!
//! Each test starts NSD (authoritative for a small test zone: A, AAAA, a CNAME chain, MX, TXT,
//! NS, and a name that does not exist) and Unbound (recursive, with a stub zone pointing at NSD
//! and dnstap of client and resolver queries and responses), both on 127.0.0.1 with free
//! unprivileged ports and run as the current user (`username: ""`, `chroot: ""`), in a fresh
//! temporary directory. Unbound's dnstap goes to a `dnsledger_dnstap::Listener` over a unix
//! socket, or over TCP (`dnstap-ip`, `dnstap-tls: no`; Unbound ≥ 1.11). The test queries Unbound
//! over UDP with messages it builds itself, waits for the frames, decodes them with
//! `DnstapParser` and checks that RESOLVER_RESPONSE frames give the zone's RRsets with the zone
//! as bailiwick (from `query_zone`) and CLIENT_RESPONSE frames give only the answer chains,
//! without bailiwick. Unbound is stopped with SIGTERM, so its STOP/FINISH exchange is checked too.
//! Every process is stopped by PID, also when the test fails (a drop guard).
//!
//! Needs the Debian packages `nsd` and `unbound` (the test panics naming them when missing) and
//! `procps` for `kill` (SIGTERM). The configuration follows `../shared/tools/make_corpus.sh` and
//! the unbound.conf(5) / nsd.conf(5) manual pages of Debian 12.

use std::collections::BTreeSet;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use dnsledger_dnstap::{Dnstap, Endpoint, Listener, ListenerConfig, MessageType, ProstMessage};
use dnsledger_model::Observation;
use dnsledger_sources::dnstap::DnstapParser;
use dnsledger_sources::{LineOutcome, LineParser, SourceOptions};

const ZONE: &str = "tapzone.example";
const IDENTITY: &str = "tap-test";

/// The test zone (RFC 1035 master file syntax).
const ZONE_FILE: &str = "$ORIGIN tapzone.example.
$TTL 300
@     3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 60
@     3600 IN NS  ns1
ns1   3600 IN A   127.0.0.1
@      300 IN MX  10 mail
mail   300 IN A   192.0.2.25
@      300 IN TXT \"v=spf1 -all\"
www    300 IN CNAME web
web    300 IN CNAME host
host   120 IN A   192.0.2.10
host   120 IN A   192.0.2.11
host   120 IN AAAA 2001:db8::10
";

/// The queries sent to Unbound: (name, qtype).
const QUERIES: [(&str, u16); 6] = [
    ("www.tapzone.example", 1),
    ("tapzone.example", 15),
    ("tapzone.example", 16),
    ("tapzone.example", 2),
    ("host.tapzone.example", 28),
    ("nx.tapzone.example", 1),
];

/// Finds a daemon; panics naming the Debian package when it is missing.
fn binary(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from));
    for d in dirs {
        let p = d.join(name);
        if p.is_file() {
            return p;
        }
    }
    panic!("`{name}` not found: this test needs the Debian package `{package}` (apt-get install -y {package})");
}

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        let p = std::env::temp_dir().join(format!("dnsledger-tap-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Started daemons, killed by PID on drop (also when an assertion fails).
#[derive(Default)]
struct Procs(Vec<(&'static str, Child)>);

impl Procs {
    fn start(&mut self, name: &'static str, cmd: &mut Command) {
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::piped()).spawn();
        self.0.push((name, child.unwrap_or_else(|e| panic!("starting {name}: {e}"))));
    }

    /// SIGTERM to one daemon and wait (up to 10 s) for it to exit.
    fn terminate(&mut self, name: &str) {
        let Some(i) = self.0.iter().position(|(n, _)| *n == name) else { return };
        let (_, mut child) = self.0.remove(i);
        let sent = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        let sent = sent.unwrap_or_else(|e| panic!("running `kill` (Debian package procps): {e}"));
        if sent.success() {
            let t = Instant::now();
            while t.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Fails if a daemon has exited already (with its stderr).
    fn check_running(&mut self) {
        for (name, c) in &mut self.0 {
            if let Ok(Some(status)) = c.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = c.stderr.take() {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("{name} exited early ({status}): {err}");
            }
        }
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        for (_, c) in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A loopback port free for both UDP and TCP.
fn free_port() -> u16 {
    for _ in 0..50 {
        let Ok(t) = TcpListener::bind("127.0.0.1:0") else { continue };
        let Ok(port) = t.local_addr().map(|a| a.port()) else { continue };
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free loopback port");
}

fn wire_name(s: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for l in s.split('.').filter(|l| !l.is_empty()) {
        v.push(l.len() as u8);
        v.extend_from_slice(l.as_bytes());
    }
    v.push(0);
    v
}

/// Sends one query (RD set) over UDP and returns the response's RCODE.
fn query(server: SocketAddr, id: u16, name: &str, qtype: u16, tries: u32) -> Option<u8> {
    let sock = UdpSocket::bind("127.0.0.1:0").ok()?;
    sock.set_read_timeout(Some(Duration::from_millis(500))).ok()?;
    let mut q = id.to_be_bytes().to_vec();
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    q.extend(wire_name(name));
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&[0, 1]);
    let mut buf = [0u8; 4096];
    for _ in 0..tries {
        sock.send_to(&q, server).ok()?;
        while let Ok((n, _)) = sock.recv_from(&mut buf) {
            if n >= 12 && buf[..2] == id.to_be_bytes() && buf[2] & 0x80 != 0 {
                return Some(buf[3] & 0x0f);
            }
        }
    }
    None
}

fn show(o: &Observation) -> String {
    let rdata: Vec<String> = o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect();
    format!(
        "{} {} [{}] bw={} sensor={} neg={}",
        o.rrname,
        o.rrtype,
        rdata.join(" | "),
        o.bailiwick.as_ref().map(|b| b.to_string()).unwrap_or_else(|| "-".into()),
        o.sensor.as_deref().unwrap_or("-"),
        o.negative.map(|n| n.as_str()).unwrap_or("-")
    )
}

fn message_type(payload: &[u8]) -> Option<MessageType> {
    Dnstap::decode(payload).ok()?.message.and_then(|m| MessageType::try_from(m.r#type).ok())
}

enum Transport {
    Unix,
    Tcp,
}

fn run(transport: Transport) {
    let nsd = binary("nsd", "nsd");
    let unbound = binary("unbound", "unbound");
    let dir = TempDir::new(match transport {
        Transport::Unix => "unix",
        Transport::Tcp => "tcp",
    });
    let d = dir.0.display().to_string();
    let (nsd_port, ub_port) = (free_port(), free_port());

    // dnstap receiver first: Unbound connects to it at start.
    let frames: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let sink = Arc::clone(&frames);
    let endpoint = match transport {
        Transport::Unix => Endpoint::Unix(dir.0.join("dnstap.sock")),
        Transport::Tcp => Endpoint::Tcp(SocketAddr::from(([127, 0, 0, 1], 0))),
    };
    let listener = Listener::bind(&endpoint, ListenerConfig::default()).unwrap_or_else(|e| panic!("bind: {e}"));
    let dnstap_conf = match listener.endpoint() {
        Endpoint::Unix(p) => format!("  dnstap-socket-path: \"{}\"\n", p.display()),
        Endpoint::Tcp(a) => format!("  dnstap-ip: {}@{}\n  dnstap-tls: no\n", a.ip(), a.port()),
    };
    let handle = listener
        .spawn(move |p, _| sink.lock().unwrap_or_else(|e| e.into_inner()).push(p.to_vec()))
        .unwrap_or_else(|e| panic!("listener: {e}"));

    let write = |name: &str, text: &str| {
        std::fs::write(dir.0.join(name), text).unwrap_or_else(|e| panic!("writing {name}: {e}"));
    };
    write(&format!("{ZONE}.zone"), ZONE_FILE);
    write(
        "nsd.conf",
        &format!(
            "server:\n  ip-address: 127.0.0.1\n  port: {nsd_port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
             database: \"\"\n  zonesdir: \"{d}\"\n  pidfile: \"{d}/nsd.pid\"\n  xfrdfile: \"{d}/xfrd.state\"\n  \
             zonelistfile: \"{d}/zone.list\"\n  xfrdir: \"{d}\"\n  logfile: \"{d}/nsd.log\"\n  server-count: 1\n  \
             verbosity: 0\n\nremote-control:\n  control-enable: no\n\nzone:\n  name: {ZONE}\n  zonefile: {ZONE}.zone\n"
        ),
    );
    // Root hints point at a loopback address nothing answers on: only the stub zone resolves.
    write("root.hints", ".  3600000 NS a.root.invalid.\na.root.invalid. 3600000 A 127.0.0.2\n");
    write(
        "unbound.conf",
        &format!(
            "server:\n  verbosity: 1\n  interface: 127.0.0.1\n  port: {ub_port}\n  outgoing-interface: 127.0.0.1\n  \
             do-ip6: no\n  access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n  username: \"\"\n  \
             chroot: \"\"\n  directory: \"{d}\"\n  pidfile: \"{d}/unbound.pid\"\n  logfile: \"{d}/unbound.log\"\n  \
             use-syslog: no\n  root-hints: \"{d}/root.hints\"\n  module-config: \"iterator\"\n  num-threads: 1\n  \
             qname-minimisation: no\n  target-fetch-policy: \"0 0 0 0 0\"\n  prefetch: no\n  \
             minimal-responses: no\n\nremote-control:\n  control-enable: no\n\n\
             stub-zone:\n  name: \"{ZONE}\"\n  stub-addr: 127.0.0.1@{nsd_port}\n\n\
             dnstap:\n  dnstap-enable: yes\n{dnstap_conf}  dnstap-send-identity: yes\n  \
             dnstap-identity: \"{IDENTITY}\"\n  dnstap-send-version: yes\n  \
             dnstap-log-client-query-messages: yes\n  dnstap-log-client-response-messages: yes\n  \
             dnstap-log-resolver-query-messages: yes\n  dnstap-log-resolver-response-messages: yes\n"
        ),
    );

    let mut procs = Procs::default();
    procs.start("nsd", Command::new(&nsd).arg("-d").arg("-c").arg(dir.0.join("nsd.conf")));
    let nsd_addr = SocketAddr::from(([127, 0, 0, 1], nsd_port));
    let t = Instant::now();
    while query(nsd_addr, 1, ZONE, 6, 1) != Some(0) {
        procs.check_running();
        assert!(t.elapsed() < Duration::from_secs(8), "nsd does not answer on {nsd_addr}");
    }
    procs.start("unbound", Command::new(&unbound).arg("-d").arg("-c").arg(dir.0.join("unbound.conf")));
    let ub_addr = SocketAddr::from(([127, 0, 0, 1], ub_port));
    let t = Instant::now();
    while query(ub_addr, 2, "ns1.tapzone.example", 1, 1) != Some(0) {
        procs.check_running();
        assert!(t.elapsed() < Duration::from_secs(8), "unbound does not answer on {ub_addr}");
    }
    let t0 = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    for (i, (name, qtype)) in QUERIES.iter().enumerate() {
        let want = if name.starts_with("nx.") { 3 } else { 0 };
        assert_eq!(query(ub_addr, 100 + i as u16, name, *qtype, 4), Some(want), "{name} type {qtype}");
    }

    // Wait for Unbound's client responses (one per query, plus the readiness probes).
    let client_responses = || {
        let f = frames.lock().unwrap_or_else(|e| e.into_inner());
        f.iter().filter(|p| message_type(p) == Some(MessageType::ClientResponse)).count()
    };
    let t = Instant::now();
    while client_responses() < QUERIES.len() + 1 {
        assert!(t.elapsed() < Duration::from_secs(8), "only {} client responses arrived", client_responses());
        std::thread::sleep(Duration::from_millis(50));
    }
    // An orderly stop: Unbound sends STOP and waits for FINISH.
    procs.terminate("unbound");
    let t = Instant::now();
    while handle.stats().stopped < 1 && t.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let errors = handle.recent_errors();
    let stats = handle.stop();
    procs.terminate("nsd");
    let t1 = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    assert_eq!((stats.accepted, stats.stopped, stats.error_total()), (1, 1, 0), "{stats:?} {errors:?}");

    // Decode.
    let frames = std::mem::take(&mut *frames.lock().unwrap_or_else(|e| e.into_inner()));
    let mut parser = DnstapParser::new(&SourceOptions { negative: true, ..SourceOptions::default() });
    let mut resolver = BTreeSet::new();
    let mut client = BTreeSet::new();
    let mut skipped = BTreeSet::new();
    for p in &frames {
        let mtype = message_type(p);
        let mut obs = Vec::new();
        let r = parser.parse_line(p, &mut |o| {
            assert!((t0.saturating_sub(1)..=t1).contains(&o.time_first), "time {} outside the test", o.time_first);
            obs.push(show(o));
        });
        match r {
            Ok(LineOutcome::Observations(n)) => assert_eq!(n as usize, obs.len()),
            Ok(LineOutcome::Skipped(why)) => {
                skipped.insert((mtype.map(MessageType::as_str).unwrap_or("?"), why));
            }
            Err(e) => panic!("frame of {mtype:?} rejected: {e}"),
        }
        match mtype {
            Some(MessageType::ResolverResponse) => {
                // Unbound names the delegation point it asked: that is where the bailiwick comes from.
                let zone = Dnstap::decode(&p[..]).ok().and_then(|d| d.message).and_then(|m| m.query_zone);
                assert_eq!(zone, Some(wire_name(ZONE)));
                resolver.extend(obs);
            }
            Some(MessageType::ClientResponse) => client.extend(obs),
            other => assert!(obs.is_empty(), "{other:?} gave {obs:?}"),
        }
    }
    assert!(skipped.contains(&("CLIENT_QUERY", "dnstap query")), "{skipped:?}");
    assert!(skipped.contains(&("RESOLVER_QUERY", "dnstap query")), "{skipped:?}");

    let r = |s: &str| format!("{s} bw={ZONE}. sensor={IDENTITY} neg=-");
    for want in [
        r("www.tapzone.example. CNAME [web.tapzone.example.]"),
        r("web.tapzone.example. CNAME [host.tapzone.example.]"),
        r("host.tapzone.example. A [192.0.2.10 | 192.0.2.11]"),
        r("host.tapzone.example. AAAA [2001:db8::10]"),
        r("tapzone.example. MX [10 mail.tapzone.example.]"),
        r("tapzone.example. TXT [\"v=spf1 -all\"]"),
        r("tapzone.example. NS [ns1.tapzone.example.]"),
        r("tapzone.example. SOA [ns1.tapzone.example. hostmaster.tapzone.example. 2024010101 7200 3600 1209600 60]"),
        format!("nx.tapzone.example. A [] bw={ZONE}. sensor={IDENTITY} neg=NXDOMAIN"),
    ] {
        assert!(resolver.contains(&want), "missing {want:?} in resolver observations {resolver:#?}");
    }
    // Everything Unbound heard from NSD is in the zone it asked.
    assert!(resolver.iter().all(|o| o.contains(&format!(" bw={ZONE}. sensor={IDENTITY} "))), "{resolver:#?}");

    // The client side: answer chains only, no bailiwick; the readiness probe's A for ns1 too.
    let c = |s: &str| format!("{s} bw=- sensor={IDENTITY} neg=-");
    let want: BTreeSet<String> = [
        c("www.tapzone.example. CNAME [web.tapzone.example.]"),
        c("web.tapzone.example. CNAME [host.tapzone.example.]"),
        c("host.tapzone.example. A [192.0.2.10 | 192.0.2.11]"),
        c("host.tapzone.example. AAAA [2001:db8::10]"),
        c("tapzone.example. MX [10 mail.tapzone.example.]"),
        c("tapzone.example. TXT [\"v=spf1 -all\"]"),
        c("tapzone.example. NS [ns1.tapzone.example.]"),
        c("ns1.tapzone.example. A [127.0.0.1]"),
        format!("nx.tapzone.example. A [] bw=- sensor={IDENTITY} neg=NXDOMAIN"),
    ]
    .into_iter()
    .collect();
    assert_eq!(client, want);
    drop(procs);
    drop(dir);
}

#[test]
fn unbound_dnstap_over_unix_socket() {
    run(Transport::Unix);
}

#[test]
fn unbound_dnstap_over_tcp() {
    run(Transport::Tcp);
}
