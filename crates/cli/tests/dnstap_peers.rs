//! End-to-end with real DNS servers from Debian writing dnstap: BIND (`dnstap-output file`) and
//! Knot (`mod-dnstap` with a file sink) answer authoritatively for a test zone on loopback; the
//! files they write are imported with `dnsledger import --format dnstap` and the zone's records
//! must come out with the zone as bailiwick. The servers are required: a missing one fails the
//! test with the Debian package to install (the test command installs them).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::ok;

const ZONE: &str = "\
$ORIGIN example.test.
$TTL 3600
@       IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300
        IN NS  ns1
ns1     IN A   127.0.0.1
www     IN A   192.0.2.80
www     IN A   192.0.2.81
alias   IN CNAME www
mail    IN AAAA 2001:db8::25
@       IN MX  10 mail
@       IN TXT \"v=spf1 -all\"
";

/// Kills the server on drop, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        if let Ok(None) = self.0.try_wait() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

impl Running {
    /// SIGTERM, then wait for a clean exit (the dnstap writer closes its file on shutdown).
    fn stop(mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.0.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("DNS server did not stop on SIGTERM");
    }
}

fn require(binary: &str, package: &str) -> PathBuf {
    let p = PathBuf::from(binary);
    assert!(p.exists(), "{binary} is missing: install the Debian package `{package}` (scripts/deps.sh --test does)");
    p
}

fn free_port() -> u16 {
    // a port free for both UDP and TCP on loopback
    loop {
        let t = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = t.local_addr().expect("addr").port();
        if std::net::UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Queries the server with dig (no recursion) until it answers, then asks each name.
fn query_all(port: u16) {
    let dig = require("/usr/bin/dig", "bind9-dnsutils");
    let ask = |name: &str, t: &str| {
        Command::new(&dig)
            .args(["+norec", "+time=1", "+tries=1", "-p", &port.to_string(), "@127.0.0.1", name, t])
            .stdout(Stdio::piped())
            .output()
            .expect("dig")
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = ask("www.example.test", "A");
        if String::from_utf8_lossy(&out.stdout).contains("192.0.2.80") {
            break;
        }
        assert!(Instant::now() < deadline, "server never answered: {}", String::from_utf8_lossy(&out.stdout));
        std::thread::sleep(Duration::from_millis(200));
    }
    for (n, t) in [
        ("alias.example.test", "A"),
        ("example.test", "MX"),
        ("example.test", "TXT"),
        ("example.test", "NS"),
        ("nx.example.test", "A"),
    ] {
        ask(n, t);
    }
}

fn query_json(data: &str, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = vec!["query", "--data-dir", data, "-f", "json", "-l", "0"];
    a.extend_from_slice(args);
    ok(&a).lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

/// Imports `tap` and checks the zone's records with their bailiwick.
fn check_import(dir: &Path, tap: &Path, sensor: &str) {
    let data = dir.join("store");
    let d = data.to_str().expect("utf-8");
    let out = common::run(&[
        "import",
        "--format",
        "dnstap",
        "--negative",
        "--sensor",
        sensor,
        "--data-dir",
        d,
        tap.to_str().expect("utf-8"),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    let www = query_json(d, &["-r", "www.example.test/A"]);
    assert_eq!(www.len(), 1, "{www:?}\n{err}");
    assert_eq!(www[0]["rdata"], serde_json::json!(["192.0.2.80", "192.0.2.81"]), "{err}");
    assert_eq!(www[0]["bailiwick"], "example.test.", "{www:?}");
    assert_eq!(www[0]["sensor_id"], sensor);
    let alias = query_json(d, &["-r", "alias.example.test/CNAME"]);
    assert_eq!(alias.len(), 1, "{err}");
    assert_eq!(alias[0]["rdata"], serde_json::json!(["www.example.test."]));
    let mx = query_json(d, &["-r", "example.test/MX"]);
    assert_eq!(mx[0]["rdata"], serde_json::json!(["10 mail.example.test."]), "{mx:?}");
    let txt = query_json(d, &["-r", "example.test/TXT"]);
    assert_eq!(txt[0]["rdata"], serde_json::json!(["\"v=spf1 -all\""]), "{txt:?}");
    // the zone's NS RRset (answer or authority section) is in bailiwick and kept
    let ns = query_json(d, &["-r", "example.test/NS"]);
    assert_eq!(ns.len(), 1, "{ns:?}");
    // NXDOMAIN kept as a negative answer (native API / query --negative)
    let nx = query_json(d, &["-r", "nx.example.test", "--negative", "only"]);
    assert_eq!(nx.len(), 1, "{nx:?}");
}

#[test]
fn bind_writes_dnstap_files_we_import() {
    let named = require("/usr/sbin/named", "bind9");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("example.test.zone"), ZONE).expect("zone");
    let port = free_port();
    let tap = d.join("named.dnstap");
    let conf = format!(
        "options {{
    directory \"{dir}\";
    pid-file \"{dir}/named.pid\";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    dnstap {{ auth response; }};
    dnstap-output file \"{tap}\";
    dnstap-identity \"bind-test\";
}};
controls {{ }};
zone \"example.test\" {{ type primary; file \"{dir}/example.test.zone\"; }};
",
        dir = d.display(),
        tap = tap.display()
    );
    std::fs::write(d.join("named.conf"), conf).expect("conf");
    let server = Running(
        Command::new(named)
            .args(["-g", "-c"])
            .arg(d.join("named.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting named"),
    );
    query_all(port);
    server.stop();
    check_import(d, &tap, "bind");
}

#[test]
fn knot_writes_dnstap_files_we_import() {
    let knotd = require("/usr/sbin/knotd", "knot");
    require("/usr/lib/x86_64-linux-gnu/knot/modules-3.2/dnstap.so", "knot-module-dnstap");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("example.test.zone"), ZONE).expect("zone");
    let port = free_port();
    let tap = d.join("knot.dnstap");
    let conf = format!(
        "server:
    rundir: \"{dir}\"
    listen: 127.0.0.1@{port}
    identity: knot-test
database:
    storage: \"{dir}\"
mod-dnstap:
  - id: tap
    sink: \"{tap}\"
    log-queries: off
    log-responses: on
template:
  - id: default
    storage: \"{dir}\"
    global-module: mod-dnstap/tap
zone:
  - domain: example.test
    file: example.test.zone
",
        dir = d.display(),
        tap = tap.display()
    );
    std::fs::write(d.join("knot.conf"), conf).expect("conf");
    let server = Running(
        Command::new(knotd)
            .args(["-c"])
            .arg(d.join("knot.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting knotd"),
    );
    query_all(port);
    server.stop();
    check_import(d, &tap, "knot");
}

/// Waits until `path` exists (a unix socket the server creates).
fn wait_for(path: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !path.exists() {
        assert!(Instant::now() < deadline, "{} never appeared", path.display());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The records a native lookup returns.
fn records(url: &str, path: &str) -> Vec<serde_json::Value> {
    common::lookup(url, path)["records"].as_array().cloned().unwrap_or_default()
}

/// The required peer of the dnstap listener: NSD answers for the zone and sends AUTH_RESPONSE
/// dnstap to one `dnsledger serve` socket; Unbound resolves from NSD and sends RESOLVER_RESPONSE
/// and CLIENT_RESPONSE dnstap to another; a client queries Unbound; the records must be found
/// through the HTTP API, with the zone as bailiwick where the sender knew it, and every sender
/// must end its stream cleanly (STOP/FINISH) when stopped.
#[test]
fn unbound_and_nsd_stream_dnstap_into_serve() {
    let nsd = require("/usr/sbin/nsd", "nsd");
    let unbound = require("/usr/sbin/unbound", "unbound");
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let ds = d.display().to_string();
    std::fs::write(d.join("example.test.zone"), ZONE).expect("zone");
    let (nsd_port, ub_port) = (free_port(), free_port());
    let (ub_sock, nsd_sock) = (d.join("unbound.tap"), d.join("nsd.tap"));
    let server = common::Server::start(
        &d.join("store"),
        &["--dnstap-unix", ub_sock.to_str().expect("utf-8"), "--dnstap-unix", nsd_sock.to_str().expect("utf-8")],
    );
    wait_for(&ub_sock);
    wait_for(&nsd_sock);
    std::fs::write(
        d.join("nsd.conf"),
        format!(
            "server:\n  ip-address: 127.0.0.1\n  port: {nsd_port}\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  \
             database: \"\"\n  zonesdir: \"{ds}\"\n  pidfile: \"{ds}/nsd.pid\"\n  xfrdfile: \"{ds}/xfrd.state\"\n  \
             zonelistfile: \"{ds}/zone.list\"\n  xfrdir: \"{ds}\"\n  logfile: \"{ds}/nsd.log\"\n  server-count: 1\n\n\
             remote-control:\n  control-enable: no\n\n\
             dnstap:\n  dnstap-enable: yes\n  dnstap-socket-path: \"{}\"\n  dnstap-send-identity: yes\n  \
             dnstap-identity: \"nsd-test\"\n  dnstap-log-auth-response-messages: yes\n\n\
             zone:\n  name: example.test\n  zonefile: example.test.zone\n",
            nsd_sock.display()
        ),
    )
    .expect("nsd.conf");
    std::fs::write(d.join("root.hints"), ".  3600000 NS a.root.invalid.\na.root.invalid. 3600000 A 127.0.0.2\n")
        .expect("hints");
    std::fs::write(
        d.join("unbound.conf"),
        format!(
            "server:\n  interface: 127.0.0.1\n  port: {ub_port}\n  outgoing-interface: 127.0.0.1\n  do-ip6: no\n  \
             access-control: 127.0.0.0/8 allow\n  do-not-query-localhost: no\n  username: \"\"\n  chroot: \"\"\n  \
             directory: \"{ds}\"\n  pidfile: \"{ds}/unbound.pid\"\n  logfile: \"{ds}/unbound.log\"\n  use-syslog: no\n  \
             root-hints: \"{ds}/root.hints\"\n  module-config: \"iterator\"\n  num-threads: 1\n  \
             qname-minimisation: no\n  target-fetch-policy: \"0 0 0 0 0\"\n  local-zone: \"test.\" nodefault\n\n\
             remote-control:\n  control-enable: no\n\n\
             stub-zone:\n  name: \"example.test\"\n  stub-addr: 127.0.0.1@{nsd_port}\n\n\
             dnstap:\n  dnstap-enable: yes\n  dnstap-socket-path: \"{}\"\n  dnstap-send-identity: yes\n  \
             dnstap-identity: \"unbound-test\"\n  dnstap-log-client-response-messages: yes\n  \
             dnstap-log-resolver-response-messages: yes\n",
            ub_sock.display()
        ),
    )
    .expect("unbound.conf");
    let nsd_run = Running(
        Command::new(nsd)
            .arg("-d")
            .arg("-c")
            .arg(d.join("nsd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nsd"),
    );
    let ub_run = Running(
        Command::new(unbound)
            .arg("-d")
            .arg("-c")
            .arg(d.join("unbound.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("unbound"),
    );
    // recursive queries through Unbound (which asks NSD)
    let dig = require("/usr/bin/dig", "bind9-dnsutils");
    let ask = |name: &str, t: &str| {
        let out = Command::new(&dig)
            .args(["+time=1", "+tries=1", "-p", &ub_port.to_string(), "@127.0.0.1", name, t])
            .output()
            .expect("dig");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = ask("alias.example.test", "A");
        if answer.contains("192.0.2.81") {
            break;
        }
        let log = |f: &str| std::fs::read_to_string(d.join(f)).unwrap_or_default();
        assert!(
            Instant::now() < deadline,
            "unbound never answered: {answer}\nunbound.log:\n{}\nnsd.log:\n{}",
            log("unbound.log"),
            log("nsd.log")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    ask("example.test", "MX");
    ask("nx.example.test", "A");
    // everything arrives within a few flush intervals
    let deadline = Instant::now() + Duration::from_secs(20);
    let www = loop {
        let r = records(&server.url, "rrset/name/www.example.test/A");
        let mx = records(&server.url, "rrset/name/example.test/MX");
        let both = r
            .iter()
            .any(|x| x["bailiwick"] == "example.test." && x["sensors"].as_array().is_some_and(|s| s.len() == 2));
        if both && r.iter().any(|x| x.get("bailiwick").is_none()) && !mx.is_empty() {
            break r;
        }
        assert!(Instant::now() < deadline, "records did not arrive: {r:?}");
        std::thread::sleep(Duration::from_millis(250));
    };
    // the zone's answer as NSD gave it (AUTH_RESPONSE) and as Unbound heard it (RESOLVER_RESPONSE):
    // one record with the zone as bailiwick, seen by both senders
    let zoned: Vec<_> = www.iter().filter(|x| x["bailiwick"] == "example.test.").collect();
    assert_eq!(zoned.len(), 1, "{www:?}");
    assert_eq!(zoned[0]["rdata"], serde_json::json!(["192.0.2.80", "192.0.2.81"]));
    let mut sensors: Vec<String> = zoned[0]["sensors"]
        .as_array()
        .expect("two sensors")
        .iter()
        .filter_map(|s| s.as_str().map(String::from))
        .collect();
    sensors.sort();
    assert_eq!(sensors, ["nsd-test", "unbound-test"], "{www:?}");
    // Unbound's answer to its client: no bailiwick (a recursive answer), the chain kept
    let alias = records(&server.url, "rrset/name/alias.example.test/CNAME");
    assert!(alias.iter().any(|x| x["rdata"] == serde_json::json!(["www.example.test."])), "{alias:?}");
    ub_run.stop();
    nsd_run.stop();
    assert!(server.terminate(), "serve did not stop cleanly");
}
