//! End-to-end TLS: `dnsledger serve` over HTTPS with certificates made at test time by a test
//! CA, the CLI trusting it through `--ca-file` (and refusing without it, saying why), a plain-HTTP
//! client on the HTTPS port, the certificate swapped on SIGHUP, and a federation upstream that is
//! itself an HTTPS `dnsledger serve`. (The sensor's HTTPS collector is in tests/sensor.rs.)

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::tls::{agent, Ca};
use common::{ok, run, Server};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Runs `dnsledger query --server URL [--ca-file CA] -i 203.0.113.0/24 -f json -l 3`.
fn query(url: &str, ca: Option<&Path>) -> std::process::Output {
    let mut args = vec!["query", "--server", url, "-i", "203.0.113.0/24", "-f", "json", "-l", "3"];
    if let Some(ca) = ca {
        args.extend(["--ca-file", s(ca)]);
    }
    run(&args)
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs() as i64
}

/// notAfter of a PEM certificate in Unix seconds, as `openssl x509` and `date` read it.
fn not_after(cert: &Path) -> i64 {
    let out = Command::new("openssl").args(["x509", "-noout", "-enddate", "-in", s(cert)]).output().expect("openssl");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let when = text.trim().strip_prefix("notAfter=").unwrap_or_else(|| panic!("no notAfter in {text:?}"));
    let out = Command::new("date").args(["-u", "-d", when, "+%s"]).output().expect("date");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap_or_else(|_| panic!("date cannot read {when:?}"))
}

/// `/metrics` over HTTPS, trusting `ca`.
fn metrics(url: &str, ca: &Path) -> String {
    let mut r = agent(ca).get(format!("{url}/metrics")).call().expect("metrics over HTTPS");
    r.body_mut().read_to_string().expect("body")
}

#[test]
fn https_server_cli_trust_plain_http_and_certificate_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (ca1, ca2) = (Ca::new(d, "ca1"), Ca::new(d, "ca2"));
    let (c1, k1) = ca1.issue("one");
    // the second certificate lives longer, so the expiry metric shows which one is served
    let (c2, k2) = ca2.issue_days("two", 30);
    // the server reads copies, so a reload can swap what they hold
    let (cert, key) = (d.join("server.pem"), d.join("server.key"));
    std::fs::copy(&c1, &cert).expect("copy");
    std::fs::copy(&k1, &key).expect("copy");
    let server = Server::start(&d.join("store"), &["--demo", "--tls-cert", s(&cert), "--tls-key", s(&key)]);
    let url = server.url.clone();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    // the certificate's notAfter, as openssl reads it, and the time left, in /metrics
    let m = metrics(&url, &ca1.pem);
    assert_eq!(common::figure(&m, "dnsledger_tls_cert_not_after_seconds"), not_after(&c1) as f64, "{m}");
    let left = common::figure(&m, "dnsledger_tls_cert_expires_in_seconds");
    assert!((left - (not_after(&c1) - unix_now()) as f64).abs() < 120.0, "{left}\n{m}");

    // the CLI with the CA file
    let out = query(&url, Some(&ca1.pem));
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 3);
    // without it (the system's CAs do not know the test CA), or with another CA: refused, saying why
    for ca in [None, Some(ca2.pem.as_path())] {
        let out = query(&url, ca);
        let err = stderr(&out);
        assert!(!out.status.success(), "{err}");
        assert!(err.contains("TLS with 127.0.0.1") && err.contains("not signed by a trusted CA"), "{err}");
    }
    // a CA file that is not one: named, with the problem
    let out = query(&url, Some(&k1));
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("one.key") && err.contains("no PEM CERTIFICATE"), "{err}");

    // a plain-HTTP client on the HTTPS port gets a 400 that says so, at once
    let plain = url.replacen("https://", "http://", 1);
    let t = Instant::now();
    let (status, body) = common::get(&format!("{plain}/healthz"));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("https://"), "{body}");
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // a client that connects and says nothing delays nobody
    let idle = std::net::TcpStream::connect(url.trim_start_matches("https://")).expect("connect");
    let t = Instant::now();
    assert!(query(&url, Some(&ca1.pem)).status.success());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    drop(idle);
    // an https:// URL pointing at a plain-HTTP server fails clearly too
    let http_only = TcpListener::bind("127.0.0.1:0").expect("bind");
    let http_url = format!("https://{}", http_only.local_addr().expect("addr"));
    let answering = std::thread::spawn(move || {
        if let Ok((mut c, _)) = http_only.accept() {
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    let err = stderr(&query(&http_url, None));
    assert!(err.contains("did not answer in TLS"), "{err}");
    answering.join().expect("thread");

    // SIGHUP swaps the certificate: the next connection gets the one signed by CA 2
    std::fs::copy(&c2, &cert).expect("copy");
    std::fs::copy(&k2, &key).expect("copy");
    let hup = || {
        let pid = server.child.id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().expect("kill").success());
    };
    hup();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !query(&url, Some(&ca2.pem)).status.success() {
        assert!(Instant::now() < deadline, "the new certificate is not served after SIGHUP");
        std::thread::sleep(Duration::from_millis(50));
    }
    let err = stderr(&query(&url, Some(&ca1.pem)));
    assert!(err.contains("not signed by a trusted CA"), "the old certificate is still served: {err}");

    // a broken certificate file keeps the one served before, and the metrics say so
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").expect("write");
    hup();
    let tls2 = agent(&ca2.pem);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut r = tls2.get(format!("{url}/metrics")).call().expect("metrics over HTTPS");
        let m = r.body_mut().read_to_string().expect("body");
        if common::figure(&m, "dnsledger_tls_reloads_total{result=\"error\"}") == 1.0 {
            assert_eq!(common::figure(&m, "dnsledger_tls_reloads_total{result=\"ok\"}"), 1.0, "{m}");
            // the expiry is that of the certificate the good reload put in place
            assert_eq!(common::figure(&m, "dnsledger_tls_cert_not_after_seconds"), not_after(&c2) as f64, "{m}");
            assert!(common::figure(&m, "dnsledger_tls_cert_expires_in_seconds") > 29.0 * 86_400.0, "{m}");
            assert!(common::figure(&m, "dnsledger_tls_handshake_failures_total{reason=\"plain_http\"}") >= 1.0, "{m}");
            break;
        }
        assert!(Instant::now() < deadline, "no failed reload counted:\n{m}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(query(&url, Some(&ca2.pem)).status.success());
    // a key that does not belong to the certificate is refused at start, naming the file
    let out = run(&["serve", "--data-dir", s(&d.join("other")), "--tls-cert", s(&c1), "--tls-key", s(&k2)]);
    let err = stderr(&out);
    assert!(!out.status.success() && err.contains("two.key") && err.contains("does not match"), "{err}");
    assert!(server.terminate(), "serve did not stop cleanly");
}

#[test]
fn federation_upstream_over_https() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let (ca_up, ca_local) = (Ca::new(d, "caup"), Ca::new(d, "calocal"));
    let (up_cert, up_key) = ca_up.issue("upstream");
    let (local_cert, local_key) = ca_local.issue("local");

    // the upstream: an HTTPS dnsledger with an API key, holding one record
    let up_data = d.join("up");
    let nd = d.join("up.ndjson");
    std::fs::write(
        &nd,
        r#"{"rrname":"www.example.com","rrtype":"A","rdata":["192.0.2.1"],"bailiwick":"example.com","time_first":1000,"time_last":2000,"count":10}"#
            .to_string()
            + "\n",
    )
    .expect("write");
    ok(&["import", "--format", "ndjson", "--sensor", "up-1", "--data-dir", s(&up_data), s(&nd)]);
    let keys = d.join("keys.toml");
    let key = ok(&["key", "add", "fed", "--keys-file", s(&keys)]).trim().to_string();
    let upstream =
        Server::start(&up_data, &["--keys-file", s(&keys), "--tls-cert", s(&up_cert), "--tls-key", s(&up_key)]);
    assert!(upstream.url.starts_with("https://"), "{}", upstream.url);

    // the local server, itself on HTTPS, with the upstream once with its CA and once without
    let cfg = d.join("local.toml");
    std::fs::write(
        &cfg,
        format!(
            "[server]\ntls_cert = {:?}\ntls_key = {:?}\n\n\
             [[upstream]]\nname = \"up\"\nkind = \"dnsdb\"\nurl = {:?}\napi_key = {key:?}\nca_file = {:?}\n\n\
             [[upstream]]\nname = \"noca\"\nkind = \"dnsdb\"\nurl = {:?}\napi_key = {key:?}\n",
            s(&local_cert),
            s(&local_key),
            upstream.url,
            s(&ca_up.pem),
            upstream.url
        ),
    )
    .expect("config");
    let report = ok(&["config", "check", s(&cfg)]);
    assert!(report.contains("server: https://127.0.0.1:8053"), "{report}");
    let local = Server::start(&d.join("local"), &["--config", s(&cfg)]);
    assert!(local.url.starts_with("https://"), "{}", local.url);

    let tls = agent(&ca_local.pem);
    let get = |path: &str| {
        let mut r = tls.get(format!("{}/api/v1/lookup/{path}", local.url)).call().expect("lookup over HTTPS");
        assert_eq!(r.status().as_u16(), 200);
        let body = r.body_mut().read_to_string().expect("body");
        serde_json::from_str::<serde_json::Value>(&body).expect("json")
    };
    let doc = get("rrset/name/www.example.com?sources=local,up");
    let records = doc["records"].as_array().expect("records");
    assert_eq!(records.len(), 1, "{doc}");
    assert_eq!(records[0]["count"], 10, "{doc}");
    assert!(doc.to_string().contains("\"up\""), "{doc}");
    // without the CA file the upstream's certificate does not verify: reported, not fatal
    let doc = get("rrset/name/www.example.com?sources=local,noca");
    assert_eq!(doc["records"].as_array().map(Vec::len), Some(0), "{doc}");
    let text = doc.to_string();
    assert!(text.contains("noca") && text.contains("not signed by a trusted CA"), "{doc}");
    // the CLI through the local HTTPS server
    let out = ok(&[
        "query",
        "--server",
        &local.url,
        "--ca-file",
        s(&ca_local.pem),
        "-r",
        "www.example.com",
        "--sources",
        "local,up",
        "-f",
        "json",
    ]);
    assert!(out.contains("192.0.2.1"), "{out}");
    assert!(local.terminate() && upstream.terminate());
}
