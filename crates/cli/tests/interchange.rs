//! End-to-end: exports (`query --export`, `format=` on lookup routes, `analyze ... --export`)
//! and the historical lookback (`analyze lookback`, `POST /api/v1/analytics/lookback`) on a
//! store written by `dnsledger import`, locally and through a running server, which must
//! answer the same. STIX output goes through the PyPI `stix2` parser (`DNSLEDGER_TEST_PYTHON`).

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use common::corpus::{json, line, D, T0};
use common::{agent, get, ok, post, run, Server};
use serde_json::{json, Value};

fn corpus(path: &Path) {
    let mut s = String::new();
    s += &line(T0 + 3600, "www.victim.test.", "A", "192.0.2.1");
    s += &line(T0 + 65 * D, "www.victim.test.", "A", "198.51.100.7");
    s += &line(T0 + 65 * D, "static.victim.test.", "CNAME", "edge.cdnish.test.");
    s += &line(T0 + 65 * D, "edge.cdnish.test.", "AAAA", "2001:db8::55");
    s += &line(T0 + 66 * D, "mail.evil.co.uk.", "A", "198.51.100.7");
    s += &line(T0 + 67 * D, "evil.co.uk.", "TXT", "\"v=spf1, x\"");
    std::fs::write(path, s).unwrap();
}

fn stix2_parse(bundle: &str) -> String {
    let python = std::env::var("DNSLEDGER_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let script = "import sys, stix2\nb = stix2.parse(sys.stdin.read(), allow_custom=False, version='2.1')\nprint(len(b.objects))";
    let mut child = Command::new(&python)
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {python} (DNSLEDGER_TEST_PYTHON): {e}"));
    child.stdin.take().unwrap().write_all(bundle.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "stix2 rejected: {}\n{bundle}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A MISP event without the fields that depend on the export time.
fn timeless(mut v: Value) -> Value {
    if let Some(e) = v.get_mut("Event").and_then(Value::as_object_mut) {
        for k in ["uuid", "date", "timestamp", "info"] {
            e.remove(k);
        }
        // object and attribute uuids derive from the event's
        for o in e.get_mut("Object").and_then(Value::as_array_mut).into_iter().flatten() {
            o.as_object_mut().unwrap().remove("uuid");
            for a in o.get_mut("Attribute").and_then(Value::as_array_mut).into_iter().flatten() {
                a.as_object_mut().unwrap().remove("uuid");
            }
        }
    }
    v
}

#[test]
fn exports_and_lookback_locally_and_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("pdns.log");
    corpus(&log);
    let d = data.to_str().unwrap();
    ok(&["import", "--format", "passivedns", "--data-dir", d, log.to_str().unwrap()]);

    // CSV: header, one row per rdata item, RFC 3339 times, RFC 4180 quoting, CRLF
    let csv = ok(&["query", "--data-dir", d, "-r", "*.co.uk", "--export", "csv"]);
    let rows: Vec<&str> = csv.split("\r\n").collect();
    assert_eq!(rows[0], "rrname,rrtype,rdata,bailiwick,time_first,time_last,zone_time_first,zone_time_last,count,ttl_min,ttl_max,sensors");
    assert!(
        rows.contains(&"evil.co.uk.,TXT,\"\"\"v=spf1, x\"\"\",,2024-03-08T00:00:00Z,2024-03-08T00:00:00Z,,,1,300,300,"),
        "{csv}"
    );
    assert!(
        rows.contains(&"mail.evil.co.uk.,A,198.51.100.7,,2024-03-07T00:00:00Z,2024-03-07T00:00:00Z,,,1,300,300,"),
        "{csv}"
    );

    // STIX: the names that resolved into 198.51.100.0/24, valid for the stix2 library
    let stix = ok(&["query", "--data-dir", d, "-i", "198.51.100.0/24", "--export", "stix"]);
    let b = json(&stix);
    let values: Vec<&str> = b["objects"].as_array().unwrap().iter().filter_map(|o| o["value"].as_str()).collect();
    assert_eq!(values, ["www.victim.test", "198.51.100.7", "mail.evil.co.uk"]);
    assert_eq!(stix2_parse(&stix), "5"); // 3 SCOs + 2 observed-data

    // MISP: a passive-dns object per record
    let misp = json(&ok(&["query", "--data-dir", d, "-r", "www.victim.test", "--export", "misp"]));
    let objs = misp["Event"]["Object"].as_array().unwrap();
    assert_eq!(objs.len(), 2);
    assert!(objs.iter().all(|o| o["name"] == "passive-dns"));

    // an analysis's evidence exported
    let ev = json(&ok(&["analyze", "--data-dir", d, "shared", "198.51.100.7", "--export", "misp"]));
    let rrnames: Vec<&str> = ev["Event"]["Object"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["Attribute"].as_array().unwrap())
        .filter(|a| a["object_relation"] == "rrname")
        .map(|a| a["value"].as_str().unwrap())
        .collect();
    assert_eq!(rrnames, ["mail.evil.co.uk", "www.victim.test"]);
    let hist = ok(&["analyze", "--data-dir", d, "history", "static.victim.test", "--export", "stix"]);
    // the CNAME and the address its target resolved to
    assert_eq!(stix2_parse(&hist), "5", "{hist}");

    // lookback: text with defanged forms, comments and a bad line
    let iocs = dir.path().join("iocs.txt");
    std::fs::write(
        &iocs,
        "# today\nevil[.]co.uk\nhxxp://www.victim.test/login\n203.0.113.9\n198.51.100.0/24\n1.2.3\n*.cdnish.test\n",
    )
    .unwrap();
    let i = iocs.to_str().unwrap();
    let lb = json(&ok(&["analyze", "--data-dir", d, "--json", "lookback", i]));
    assert_eq!(
        (lb["indicators"].as_u64(), lb["hits"].as_u64(), lb["rejected_count"].as_u64()),
        (Some(5), Some(4), Some(1))
    );
    let got: Vec<(&str, u64)> = lb["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["indicator"].as_str().unwrap(), r["matches"].as_u64().unwrap()))
        .collect();
    assert_eq!(got, [("evil.co.uk", 1), ("www.victim.test", 2), ("198.51.100.0/24", 2), ("*.cdnish.test", 1)]);
    assert_eq!(lb["results"][1]["first_seen"], T0 + 3600);
    assert_eq!(lb["results"][1]["last_seen"], T0 + 65 * D);
    assert_eq!(lb["rejected"][0]["position"], "line 6");
    let below = json(&ok(&["analyze", "--data-dir", d, "--json", "lookback", i, "--below"]));
    assert_eq!(below["results"][0]["matches"], 2, "evil.co.uk and mail.evil.co.uk");
    let table = ok(&["analyze", "--data-dir", d, "lookback", i]);
    assert!(table.contains("198.51.100.0/24") && table.contains("line 6"), "{table}");

    // MISP and STIX inputs, from stdin too
    let event = json!({"Event": {"info": "case", "Attribute": [
        {"type": "ip-dst|port", "value": "192.0.2.1|443"},
        {"type": "sha256", "value": "00"}
    ], "Object": [{"name": "domain-ip", "Attribute": [{"type": "domain", "object_relation": "domain", "value": "mail.evil.co.uk"}]}]}});
    let misp_file = dir.path().join("event.json");
    std::fs::write(&misp_file, event.to_string()).unwrap();
    let lb = json(&ok(&["analyze", "--data-dir", d, "--json", "lookback", misp_file.to_str().unwrap()]));
    assert_eq!(lb["format"], "misp");
    assert_eq!(lb["hits"], 2);
    assert_eq!(lb["ignored"]["sha256"], 1);
    let bundle = json!({"type": "bundle", "id": "bundle--6b1c8a7e-2f0e-4c55-9f4a-3c1d2e3f4a5b", "objects": [
        {"type": "indicator", "pattern_type": "stix", "pattern": "[domain-name:value = 'edge.cdnish.test'] OR [ipv6-addr:value = '2001:db8::/32']"}
    ]});
    let mut child = common::bin()
        .args(["analyze", "--data-dir", d, "--json", "lookback", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(bundle.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lb = json(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(lb["format"], "stix");
    let got: Vec<&str> = lb["results"].as_array().unwrap().iter().map(|r| r["indicator"].as_str().unwrap()).collect();
    assert_eq!(got, ["edge.cdnish.test", "2001:db8::/32"]);
    // the lookback's matches exported
    let st = ok(&["analyze", "--data-dir", d, "lookback", i, "--export", "stix"]);
    stix2_parse(&st);
    // errors: unreadable JSON is refused, not a panic
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{\"Event\": ").unwrap();
    assert!(!run(&["analyze", "--data-dir", d, "lookback", bad.to_str().unwrap()]).status.success());

    // through the server: the same answers
    let srv = Server::start(&data, &[]);
    let u = srv.url.as_str();
    for (args, fmt) in [(&["-r", "*.co.uk"][..], "csv"), (&["-i", "198.51.100.0/24"][..], "stix")] {
        let mut l = vec!["query", "--data-dir", d, "--export", fmt];
        l.extend_from_slice(args);
        let mut r = vec!["query", "--server", u, "--export", fmt];
        r.extend_from_slice(args);
        let (lo, ro) = (ok(&l), ok(&r));
        if fmt == "csv" {
            assert_eq!(lo, ro);
        } else {
            // created/modified differ with the export time; the objects' ids do not
            let ids = |s: &str| -> Vec<String> {
                json(s)["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_string()).collect()
            };
            assert_eq!(ids(&lo), ids(&ro));
        }
    }
    let mut resp = agent().get(&format!("{u}/api/v1/lookup/rrset/name/www.victim.test?format=csv")).call().unwrap();
    assert_eq!(
        resp.headers().get("content-type").unwrap().to_str().unwrap(),
        "text/csv; charset=utf-8; header=present"
    );
    let body = resp.body_mut().read_to_string().unwrap();
    assert_eq!(body.matches("\r\n").count(), 3, "{body}");
    let (status, body) = get(&format!("{u}/api/v1/lookup/rrset/name/www.victim.test?format=misp"));
    assert_eq!(status, 200);
    let local_misp = json(&ok(&["query", "--data-dir", d, "-r", "www.victim.test", "--export", "misp"]));
    assert_eq!(timeless(json(&body)), timeless(local_misp));
    let (status, body) = get(&format!("{u}/api/v1/lookup/rdata/ip/198.51.100.7?format=stix"));
    assert_eq!(status, 200);
    stix2_parse(&body);
    let (status, _) = get(&format!("{u}/api/v1/lookup/rrset/name/www.victim.test?format=xml"));
    assert_eq!(status, 400);

    // lookback over HTTP, through the CLI and directly
    let comparable = |mut v: Value| {
        v.as_object_mut().unwrap().remove("elapsed_ms");
        v
    };
    for args in [
        &["lookback", i][..],
        &["lookback", i, "--below", "--misses"][..],
        &["lookback", i, "--from", "2024-03-07"][..],
    ] {
        let mut l = vec!["analyze", "--data-dir", d, "--json"];
        l.extend_from_slice(args);
        let mut r = vec!["analyze", "--server", u, "--json"];
        r.extend_from_slice(args);
        assert_eq!(comparable(json(&ok(&r))), comparable(json(&ok(&l))), "{args:?}");
    }
    let (status, body) =
        post(&format!("{u}/api/v1/analytics/lookback?format=misp"), event.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["hits"], 2);
    let (status, body) = post(&format!("{u}/api/v1/analytics/lookback?export=csv"), b"mail.evil.co.uk\n").unwrap();
    assert_eq!(status, 200);
    assert!(body.starts_with("rrname,rrtype") && body.contains("mail.evil.co.uk.,A,198.51.100.7"), "{body}");
    let (status, body) = post(&format!("{u}/api/v1/analytics/lookback?format=stix"), b"not json").unwrap();
    assert_eq!(status, 400, "{body}");
    let (status, _) =
        post(&format!("{u}/api/v1/analytics/lookback?from=2024-05-01&to=2024-01-01"), b"x.example").unwrap();
    assert_eq!(status, 400);
    assert!(srv.terminate());
}
