//! End-to-end: `dnsledger import` and `dnsledger query` on a real store, and `dnsledger serve`
//! with its native API, driven through the binary.

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{ok, run, Server};

const LOG: &str = "\
1704067200.000000||10.0.0.1||10.0.0.53||IN||WWW.Example.COM.||A||192.0.2.1||300||2
1704070800.500000||10.0.0.1||10.0.0.53||IN||www.example.com.||A||192.0.2.1||60||3
1704153600.000000||10.0.0.1||10.0.0.53||IN||www.example.com.||AAAA||2001:db8::1||300||1
1704153600.000000||10.0.0.1||10.0.0.53||IN||mail.example.com.||A||192.0.2.25||300||1
this line is broken
1704240000.000000||10.0.0.1||10.0.0.53||IN||example.com.||MX||mail.example.com.||300||4
1704240000.000000||10.0.0.1||10.0.0.53||IN||example.com.||TXT||\"v=spf1 -all\"||300||1
1704240000.000000||10.0.0.1||10.0.0.53||IN||bücher.example.||A||192.0.2.200||300||1
1704240000.000000||10.0.0.1||10.0.0.53||IN||x.example.com.||A||192.0.2.999||300||1
1704240000.000000||10.0.0.1||10.0.0.53||IN||alias.example.net.||CNAME||www.example.com.||300||1
1704326400.000000||10.0.0.1||10.0.0.53||IN||v6.example.net.||AAAA||2001:db8:ffff::2||300||1
1704326400.000000||10.0.0.1||10.0.0.53||IN||nx.example.net.||A||NXDOMAIN||0||1
";

fn setup() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("passivedns.log");
    std::fs::write(&log, LOG).expect("write log");
    let data = dir.path().join("store").to_str().expect("utf-8").to_string();
    let out = run(&["import", log.to_str().expect("utf-8"), "--data-dir", &data, "--sensor", "test-sensor"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("passivedns.log:5: wrong field count"), "{err}");
    assert!(err.contains("passivedns.log:9: bad rdata"), "{err}");
    assert!(err.contains("lines read            12"), "{err}");
    assert!(err.contains("observations accepted 9"), "{err}");
    assert!(err.contains("negative answer      1"), "{err}");
    (dir, data)
}

fn json_lines(s: &str) -> Vec<serde_json::Value> {
    s.lines().map(|l| serde_json::from_str(l).expect("json line")).collect()
}

#[test]
fn import_reports_and_query_outputs() {
    let (dir, data) = setup();
    // strict mode exits 3 but still imports what is good (into a second store)
    let strict_data = dir.path().join("strict");
    let out = run(&[
        "import",
        dir.path().join("passivedns.log").to_str().expect("utf-8"),
        "--strict",
        "--data-dir",
        strict_data.to_str().expect("utf-8"),
    ]);
    assert_eq!(out.status.code(), Some(3));
    assert!(ok(&["query", "www.example.com", "--data-dir", strict_data.to_str().expect("utf-8")]).contains("192.0.2.1"));

    // normalisation and merge: two lines of different case and TTL merge into one record
    let recs = json_lines(&ok(&["query", "-r", "www.example.com", "-t", "A", "-f", "json", "--data-dir", &data]));
    assert_eq!(recs.len(), 1);
    let r = &recs[0];
    assert_eq!(r["rrname"], "www.example.com.");
    assert_eq!(r["count"], 5);
    assert_eq!(r["time_first"], 1704067200);
    assert_eq!(r["time_last"], 1704070800);
    assert_eq!(r["ttl_min"], 60);
    assert_eq!(r["ttl_max"], 300);
    assert_eq!(r["sensor_id"], "test-sensor");
    assert_eq!(r["rdata"][0], "192.0.2.1");

    // IDN names are stored as A-labels and found by either form
    let idn = json_lines(&ok(&["query", "bücher.example", "-f", "json", "--data-dir", &data]));
    assert_eq!(idn[0]["rrname"], "xn--bcher-kva.example.");

    // wildcards, CIDR, rdata names
    let below = json_lines(&ok(&["query", "-r", "*.example.com", "-f", "json", "--data-dir", &data]));
    let names: Vec<&str> = below.iter().map(|r| r["rrname"].as_str().unwrap_or_default()).collect();
    assert_eq!(names, ["mail.example.com.", "www.example.com.", "www.example.com."]);
    let right = json_lines(&ok(&["query", "-r", "www.example.*", "-f", "json", "--data-dir", &data]));
    assert_eq!(right.len(), 2);
    let cidr = json_lines(&ok(&["query", "192.0.2.0/24", "-f", "json", "--data-dir", &data]));
    assert_eq!(cidr.len(), 3);
    assert!(cidr.iter().all(|r| r.get("bailiwick").is_none()));
    let v6 = json_lines(&ok(&["query", "-i", "2001:db8::/32", "-f", "json", "--data-dir", &data]));
    assert_eq!(v6.len(), 2);
    let range = json_lines(&ok(&["query", "-i", "2001:db8::2-2001:db8:ffff::2", "-f", "json", "--data-dir", &data]));
    assert_eq!(range.len(), 1);
    let mx = json_lines(&ok(&["query", "-n", "mail.example.com", "-f", "json", "--data-dir", &data]));
    assert_eq!(mx[0]["rrtype"], "MX");
    assert_eq!(mx[0]["count"], 4);
    let cname = json_lines(&ok(&["query", "-n", "www.example.com", "-t", "CNAME", "-f", "json", "--data-dir", &data]));
    assert_eq!(cname[0]["rrname"], "alias.example.net.");
    let raw = json_lines(&ok(&["query", "-N", "c0000201", "-f", "json", "--data-dir", &data]));
    assert_eq!(raw[0]["rrname"], "www.example.com.");
    let txt = ok(&["query", "example.com", "-t", "TXT", "--data-dir", &data]);
    assert!(txt.contains("\"v=spf1 -all\""), "{txt}");

    // time fences: loose overlap versus strict containment
    let during = |extra: &[&str]| {
        let mut args = vec!["query", "-r", "*.example.com", "-f", "json", "--data-dir", &data];
        args.extend_from_slice(extra);
        json_lines(&ok(&args)).len()
    };
    assert_eq!(during(&["-A", "2024-01-02", "-B", "2024-01-03"]), 2);
    assert_eq!(during(&["-A", "2024-01-01 00:30:00", "-B", "2024-01-02", "-c"]), 2);
    assert_eq!(during(&["-A", "2024-01-01 00:30:00", "-B", "2024-01-01 23:00:00", "-c"]), 0);
    assert_eq!(during(&["-A", "2024-01-01 00:30:00", "-B", "2024-01-01 23:00:00"]), 1);
    assert_eq!(during(&["--first-after", "1704067200", "--last-before", "1704070800"]), 1);
    assert_eq!(during(&["--last-after", "1704153601"]), 0);

    // limits and the table and CSV renderings
    let table = ok(&["query", "-r", "*.example.com", "-l", "1", "--data-dir", &data]);
    assert!(table.contains("RRNAME") && table.contains("limit reached"), "{table}");
    let csv = ok(&["query", "example.com", "-f", "csv", "--data-dir", &data]);
    assert!(csv.starts_with("rrname,rrtype,rdata,bailiwick,count"), "{csv}");
    assert!(csv.contains("example.com.,TXT,\"\"\"v=spf1 -all\"\"\""), "{csv}");

    // bad queries are refused with a message, not a crash
    for bad in [
        &["query", "-i", "192.0.2.0/33"][..],
        &["query", "-r", "a.*.b"],
        &["query", "-N", "abc"],
        &["query", "-r", "x", "-t", "NOPE"],
    ] {
        let mut args = bad.to_vec();
        args.extend_from_slice(&["--data-dir", &data]);
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{bad:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains("error"), "{bad:?}");
    }
    let missing = run(&["query", "x.example", "--data-dir", dir.path().join("none").to_str().expect("utf-8")]);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no store here"));
}

#[test]
fn resumes_grown_files_and_reads_stdin() {
    let (dir, data) = setup();
    let log = dir.path().join("passivedns.log");
    let again = run(&["import", log.to_str().expect("utf-8"), "--data-dir", &data]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already imported"));
    // the log grows: only the new line is imported
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).expect("open");
    writeln!(f, "1704500000.000000||10.0.0.1||10.0.0.53||IN||www.example.com.||A||192.0.2.1||300||10").expect("append");
    drop(f);
    let out = run(&["import", log.to_str().expect("utf-8"), "--data-dir", &data]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("resumed after byte") && err.contains("lines read            1\n"), "{err}");
    let r = json_lines(&ok(&["query", "www.example.com", "-t", "A", "-f", "json", "--data-dir", &data]));
    assert_eq!(r[0]["count"], 15);
    assert_eq!(r[0]["time_last"], 1704500000);
    // NDJSON from stdin, with bailiwick, zone times and several rdata in one RRset
    let mut child = common::bin()
        .args(["import", "-", "--format", "ndjson", "--data-dir", &data])
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(
            br#"{"rrname":"ns.example.org","rrtype":"NS","rdata":["b.ns.example.net","a.ns.example.net"],"bailiwick":"org","zone_time_first":1700000000,"zone_time_last":1700086400,"count":2}
{"rrname":"ns.example.org","rrtype":"NS","rdata":["a.ns.example.net","b.ns.example.net"],"bailiwick":"org","zone_time_first":1700500000,"zone_time_last":1700500000}
"#,
        )
        .expect("write");
    assert!(child.wait().expect("wait").success());
    let r = json_lines(&ok(&["query", "ns.example.org", "-b", "org", "-f", "json", "--data-dir", &data]));
    assert_eq!(r.len(), 1);
    assert_eq!(r[0]["rdata"], serde_json::json!(["a.ns.example.net.", "b.ns.example.net."]));
    assert_eq!(r[0]["zone_time_first"], 1700000000);
    assert_eq!(r[0]["zone_time_last"], 1700500000);
    assert_eq!(r[0]["count"], 3);
    assert_eq!(r[0]["bailiwick"], "org.");
}

#[test]
fn serve_native_api_ingest_and_remote_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let server = Server::start(&data, &["--demo"]);
    let url = server.url.clone();

    // the demo sample is there
    let doc = common::lookup(&url, "rrset/name/www.example.com");
    assert!(doc["returned"].as_u64().unwrap_or(0) >= 2, "{doc}");
    assert_eq!(doc["limited"], false);
    let flux = common::lookup(&url, "rrset/name/flux.malware.test/A?limit=5");
    assert_eq!(flux["returned"], 5);
    assert_eq!(flux["limited"], true);
    let shared = common::lookup(&url, "rdata/ip/203.0.113.66");
    assert!(shared["returned"].as_u64().unwrap_or(0) >= 6);
    let ns = common::lookup(&url, "rdata/name/ns1.attacker.test/NS");
    assert_eq!(ns["records"][0]["rrname"], "victim.example.");

    // ingest: passivedns and NDJSON, partial acceptance reported
    let (status, body) = common::post(
        &format!("{url}/api/v1/observations?format=passivedns&sensor=edge-1"),
        b"1704067200.0||a||b||IN||new.example.||A||192.0.2.77||60||3\nbroken line\n",
    )
    .expect("post");
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["observations"], 1);
    assert_eq!(v["rejected"]["wrong field count"], 1);
    assert!(v["errors"][0].as_str().unwrap_or_default().starts_with("line 2:"));
    let (status, _) = common::post(
        &format!("{url}/api/v1/observations"),
        br#"{"rrname":"new.example","rrtype":"A","rdata":"192.0.2.77","time":1704067300}"#,
    )
    .expect("post");
    assert_eq!(status, 200);
    let got = common::lookup(&url, "rrset/name/new.example");
    assert_eq!(got["records"][0]["count"], 4);
    assert_eq!(got["records"][0]["sensor_id"], "edge-1");
    let (status, _) = common::post(&format!("{url}/api/v1/observations?format=passivedns"), b"junk\n").expect("post");
    assert_eq!(status, 400);

    // bad requests get a status and a message
    for (path, want) in [
        ("rdata/ip/192.0.2.0,33", 400),
        ("rrset/name/a..b", 400),
        ("rrset/name/x.example/NOPE", 400),
        ("rrset/raw/abc", 400),
        ("rdata/ip/192.0.2.1/MX", 400),
        ("rrset/name/x/A/b/extra", 400),
        ("nothing/here", 404),
        ("rrset/name/x?limit=-1", 400),
        ("rrset/name/x?time_last_after=soon", 400),
        ("rrset/name/%zz", 400),
    ] {
        let (status, body) = common::get(&format!("{url}/api/v1/lookup/{path}"));
        assert_eq!(status, want, "{path}: {body}");
        assert!(body.contains("\"error\""), "{path}: {body}");
    }
    let (status, body) = common::get(&format!("{url}/healthz"));
    assert_eq!((status, body.as_str()), (200, "ok\n"));

    // the CLI asks the running server
    let out = ok(&["query", "--server", &url, "-i", "203.0.113.0/24", "-f", "json", "-l", "3"]);
    assert_eq!(out.lines().count(), 3);
    let out = ok(&["query", "--server", &url, "-r", "victim.example/NS/example"]);
    assert!(out.contains("ns1.attacker.test."), "{out}");

    // non-loopback listening without keys is refused
    let refused =
        run(&["serve", "--listen", "0.0.0.0:0", "--data-dir", dir.path().join("other").to_str().expect("utf-8")]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not a loopback address"));

    assert!(server.terminate(), "serve did not exit cleanly on SIGTERM");
}
