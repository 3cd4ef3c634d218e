//! CIRCL's PyPDNS client (PyPI `pypdns`) against the COF route: plain queries, CIRCL's
//! dribble paging, rrtype filters. Python comes from `DNSLEDGER_TEST_PYTHON` (scripts/test.sh
//! points it at a venv with pypdns) or `python3`.

mod common;

use std::fmt::Write as _;
use std::process::Command;

use common::{ok, Server};

fn python() -> String {
    std::env::var("DNSLEDGER_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

fn run_py(script: &str) -> String {
    let out = Command::new(python()).args(["-c", script]).output().expect("running python");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "python failed (is pypdns installed? scripts/test.sh installs it): {err}\nscript:\n{script}"
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn pypdns_queries_pages_and_filters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let mut fixture = String::new();
    // 120 names on one address, so paging by 50 takes three pages
    for i in 0..120 {
        let _ = writeln!(
            fixture,
            r#"{{"rrname":"h{i:03}.shared.example","rrtype":"A","rdata":"203.0.113.66","time":{},"count":{}}}"#,
            1_704_067_200 + i,
            i + 1
        );
    }
    fixture.push_str(
        r#"{"rrname":"www.example.com","rrtype":"A","rdata":["192.0.2.1","192.0.2.2"],"bailiwick":"example.com","time_first":1704067200,"time_last":1704153600,"count":3,"sensor":"fra-1"}
{"rrname":"www.example.com","rrtype":"AAAA","rdata":"2001:db8::1","bailiwick":"example.com","time":1704067200}
"#,
    );
    let path = dir.path().join("fixture.ndjson");
    std::fs::write(&path, fixture).expect("fixture");
    ok(&["import", path.to_str().expect("utf-8"), "--data-dir", data.to_str().expect("utf-8"), "-q"]);
    let server = Server::start(&data, &[]);
    let script = format!(
        r#"
import pypdns
x = pypdns.PyPDNS(url="{url}/pdns/query", basic_auth=("user", "unused-open-server"))
recs = x.query("www.example.com")
print(len(recs))
a = [r for r in recs if r["rrtype"] == "A"]
print(sorted(r["rdata"][0] for r in a))
print(a[0]["count"], a[0]["time_first"].timestamp() if hasattr(a[0]["time_first"], "timestamp") else a[0]["time_first"], a[0]["sensor_id"])
only = list(x.iter_query("www.example.com", filter_rrtype="AAAA"))
print(len(only), only[0].rrtype, only[0].rdata)
pages = list(x.iter_query("203.0.113.66"))
print(len(pages), len(set(p.rrname for p in pages)), sum(p.count for p in pages))
"#,
        url = server.url
    );
    let out = run_py(&script);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "3", "{out}");
    assert_eq!(lines[1], "['192.0.2.1', '192.0.2.2']", "{out}");
    assert!(lines[2].starts_with("3 ") && lines[2].ends_with(" fra-1"), "{out}");
    assert_eq!(lines[3], "1 AAAA ['2001:db8::1']", "{out}");
    assert_eq!(lines[4], format!("120 120 {}", (1..=120).sum::<u64>()), "{out}");
}
