//! End-to-end: the temporal analyses (`analyze timeline | fastflux | dormancy | revived`) and
//! ASN/country enrichment from configured .mmdb files, on a store written by `dnsledger
//! import`, locally and through a running server, which must answer the same. The databases
//! are written at test time by crates/analytics/tests/make_mmdb.py (PyPI mmdb-writer, in the
//! venv of scripts/test.sh, found through DNSLEDGER_TEST_PYTHON).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::corpus::{json, line_ttl as line, D, T0};
use common::{get, ok, run, Server};
use serde_json::Value;

fn corpus(path: &Path) {
    let mut s = String::new();
    // flux.example.net: 24 addresses over four ASNs, each seen on one day, TTL 60
    for i in 0..24u64 {
        let ip = match i % 4 {
            0 => format!("192.0.2.{}", i + 1),
            1 => format!("203.0.113.{}", i + 1),
            2 => format!("198.18.{i}.1"),
            _ => format!("198.19.{i}.1"),
        };
        s += &line(T0 + (i / 3) * D + 60, "flux.example.net.", "A", &ip, 60);
    }
    // www.example.org: eight addresses of one AS, every day for ten days, TTL 300
    for d in 0..10u64 {
        for i in 1..=8 {
            s += &line(T0 + d * D + 120, "www.example.org.", "A", &format!("198.51.100.{i}"), 300);
        }
    }
    // old.example.com: days 0-3, silent, back on day 200 with six new names
    for d in 0..4u64 {
        s += &line(T0 + d * D + 30, "www.old.example.com.", "A", "192.0.2.100", 3600);
    }
    s += &line(T0 + 200 * D + 30, "www.old.example.com.", "A", "192.0.2.100", 3600);
    for i in 0..6 {
        s += &line(T0 + 200 * D + 90, &format!("n{i}.old.example.com."), "A", "203.0.113.200", 300);
    }
    std::fs::write(path, s).unwrap();
}

fn mmdb(dir: &Path, shape: &str) -> PathBuf {
    let python = std::env::var("DNSLEDGER_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../analytics/tests/make_mmdb.py");
    let out = dir.join(format!("{shape}.mmdb"));
    let r = Command::new(&python)
        .arg(&script)
        .args([shape, out.to_str().unwrap()])
        .args([
            "192.0.2.0/24=64500:Example Hosting:DE",
            "198.51.100.0/24=64501:Example CDN:US",
            "203.0.113.0/24=64502:Example Transit:NL",
            "198.18.0.0/16=64510:Example Flux One:RU",
            "198.19.0.0/16=64511:Example Flux Two:BR",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        r.status.success(),
        "make_mmdb.py needs mmdb-writer (scripts/test.sh; DNSLEDGER_TEST_PYTHON): {}",
        String::from_utf8_lossy(&r.stderr)
    );
    out
}

fn comparable(v: Value) -> Value {
    common::corpus::without(v, &["notes", "limited", "scanned"])
}

#[test]
fn temporal_analyses_locally_and_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("pdns.log");
    corpus(&log);
    let d = data.to_str().unwrap();
    ok(&["import", "--format", "passivedns", "--data-dir", d, log.to_str().unwrap()]);

    // the configured databases open, and config check says what they are
    mmdb(dir.path(), "geolite2-asn");
    mmdb(dir.path(), "geolite2-country");
    let cfg = dir.path().join("dnsledger.toml");
    std::fs::write(&cfg, "[analytics]\nasn_mmdb = \"geolite2-asn.mmdb\"\ncountry_mmdb = \"geolite2-country.mmdb\"\n")
        .unwrap();
    let c = cfg.to_str().unwrap();
    let check = ok(&["config", "check", c]);
    assert!(check.contains("GeoLite2-ASN") && check.contains("GeoLite2-Country"), "{check}");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[analytics]\nasn_mmdb = \"absent.mmdb\"\n").unwrap();
    let out = run(&["config", "check", broken.to_str().unwrap()]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("absent.mmdb"));

    let local = |args: &[&str]| -> Value {
        let mut all = vec!["analyze", "--config", c, "--data-dir", d, "--json"];
        all.extend_from_slice(args);
        json(&ok(&all))
    };

    // fast flux: the flux name scores high with its ASNs known; the CDN-like one is discounted
    let f = local(&["fastflux", "flux.example.net"]);
    assert_eq!(f["verdict"], "fast-flux-like", "{f}");
    assert_eq!((f["features"]["addresses"].as_u64(), f["features"]["asns"].as_u64()), (Some(24), Some(4)));
    assert!(f["addresses"].as_array().unwrap().iter().all(|a| a["asn"].is_u64() && a["country"].is_string()));
    let cdn = local(&["fastflux", "www.example.org"]);
    assert_eq!(cdn["verdict"], "benign-looking");
    assert!(cdn["cdn_like"][0].as_str().unwrap().contains("AS64501"), "{cdn}");
    assert!(cdn["score"].as_f64().unwrap() < f["score"].as_f64().unwrap());
    // without the databases the ASN factor is unknown and the report says so
    let plain = json(&ok(&["analyze", "--data-dir", d, "--json", "fastflux", "flux.example.net"]));
    assert!(plain["features"]["asns"].is_null());
    assert!(plain["notes"][0].as_str().unwrap().contains("no ASN database"));

    // enrichment of the shared-IP answer
    let sh = local(&["shared", "198.51.100.0/24"]);
    assert_eq!(sh["addresses"][0]["asn"], 64501);
    assert_eq!(sh["addresses"][0]["as_org"], "Example CDN");

    // timeline: daily buckets over ten days for the CDN-like name, one row per address
    let t = local(&["timeline", "www.example.org"]);
    assert_eq!(t["bucket"], "day");
    assert_eq!(t["buckets"].as_array().unwrap().len(), 10);
    assert_eq!(t["rows"].as_array().unwrap().len(), 8);
    assert!(t["rows"][0]["cells"].as_array().unwrap().iter().all(|c| c == 1));
    let t = local(&["timeline", "*.old.example.com", "--bucket", "month"]);
    let labels: Vec<&str> = t["buckets"].as_array().unwrap().iter().map(|b| b["label"].as_str().unwrap()).collect();
    assert_eq!(labels.first().copied(), Some("2024-01"));
    assert_eq!(labels.last().copied(), Some("2024-07"));

    // dormancy: silent 196 days, back with a burst of six new names
    let dm = local(&["dormancy", "www.old.example.com"]);
    assert_eq!(dm["subject"], "example.com");
    assert_eq!(dm["gaps"][0]["days"], 196);
    assert_eq!(dm["bursts"][0]["new_names"], 6);
    let rv = local(&["revived", "--since", "2024-06-01"]);
    let doms: Vec<&str> = rv["items"].as_array().unwrap().iter().map(|i| i["domain"].as_str().unwrap()).collect();
    assert_eq!(doms, vec!["example.com"]);
    assert!(!local(&["revived", "--since", "2024-06-01", "--gap", "200d"])["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|_| true));

    // readable tables
    let table = ok(&["analyze", "--config", c, "--data-dir", d, "fastflux", "flux.example.net"]);
    assert!(table.contains("fast-flux-like") && table.contains("Example Flux One"), "{table}");
    let table = ok(&["analyze", "--data-dir", d, "dormancy", "old.example.com"]);
    assert!(table.contains("196 days") && table.contains("burst on 2024-07-19"), "{table}");

    // the server, with the same configuration, answers the same
    let srv = Server::start(&data, &["--config", c]);
    let u = srv.url.as_str();
    let remote = |args: &[&str]| -> Value {
        let mut all = vec!["analyze", "--server", u, "--json"];
        all.extend_from_slice(args);
        json(&ok(&all))
    };
    for args in [
        &["timeline", "*.example.org", "--bucket", "week"][..],
        &["fastflux", "flux.example.net"][..],
        &["fastflux", "198.18.0.0/15"][..],
        &["dormancy", "old.example.com", "--gap", "30"][..],
        &["revived", "--since", "2024-01-01", "--until", "2024-12-31"][..],
        &["shared", "198.51.100.1"][..],
        &["history", "flux.example.net"][..],
    ] {
        assert_eq!(comparable(remote(args)), comparable(local(args)), "{args:?}");
    }
    let h = remote(&["history", "flux.example.net"]);
    assert_eq!(h["address_info"]["198.18.2.1"]["asn"], 64510);

    // HTTP errors
    for (path, status) in [
        ("revived", 400),
        ("revived?since=2024-01-01&gap=1h", 400),
        ("timeline/www.example.org?bucket=year", 400),
        ("dormancy/old.example.com?burst_factor=-1", 400),
        ("fastflux/not..a..name", 400),
    ] {
        let (got, body) = get(&format!("{u}/api/v1/analytics/{path}"));
        assert_eq!(got, status, "{path}: {body}");
    }
    let (status, body) = get(&format!("{u}/api/v1/analytics/fastflux/flux.example.net?max_scanned=3"));
    assert_eq!(status, 200);
    assert_eq!(json(&body)["limited"], true);
    assert!(srv.terminate());
}
