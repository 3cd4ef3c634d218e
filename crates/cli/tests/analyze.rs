//! End-to-end: `dnsledger analyze` on a store written by `dnsledger import`, locally and
//! through a running server's `/api/v1/analytics/...` routes, which must answer the same.

mod common;

use std::path::Path;

use common::corpus::{json, line, D, T0};
use common::{get, ok, run, Server};
use serde_json::Value;

fn corpus(path: &Path) {
    let mut s = String::new();
    // www.victim.test: 192.0.2.1 in January, 198.51.100.7 in March, 192.0.2.1 again in June
    s += &line(T0 + 3600, "www.victim.test.", "A", "192.0.2.1");
    s += &line(T0 + 65 * D, "www.victim.test.", "A", "198.51.100.7");
    s += &line(T0 + 160 * D, "www.victim.test.", "A", "192.0.2.1");
    // a CNAME chain to a CDN address shared with another domain
    s += &line(T0 + 65 * D, "static.victim.test.", "CNAME", "edge.cdnish.test.");
    s += &line(T0 + 65 * D, "edge.cdnish.test.", "A", "104.16.5.5");
    s += &line(T0 + 65 * D, "shop.other.test.", "A", "104.16.5.5");
    // a domain sharing the March address, first seen in March
    s += &line(T0 + 66 * D, "mail.evil.co.uk.", "A", "198.51.100.7");
    s += &line(T0 + 67 * D, "evil.co.uk.", "A", "198.51.100.7");
    std::fs::write(path, s).unwrap();
}

/// The report without the fields that differ between a local run and a server.
fn comparable(v: Value) -> Value {
    common::corpus::without(v, &["notes", "limited", "source", "scanned"])
}

#[test]
fn analyze_locally_and_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("pdns.log");
    corpus(&log);
    let d = data.to_str().unwrap();
    ok(&["import", "--format", "passivedns", "--data-dir", d, log.to_str().unwrap()]);

    // history: two intervals for 192.0.2.1, changes, at
    let h = json(&ok(&[
        "analyze",
        "--data-dir",
        d,
        "--json",
        "history",
        "www.victim.test",
        "--from",
        "2024-01-02",
        "--to",
        "2024-03-10",
    ]));
    let a = h["types"].as_array().unwrap().iter().find(|t| t["rrtype"] == "A").unwrap();
    let first = &a["records"][0];
    assert_eq!(first["rdata"][0], "192.0.2.1");
    assert_eq!(first["intervals"].as_array().unwrap().len(), 2, "{first}");
    let c = &h["changes"]["types"][0];
    assert_eq!((c["added"][0].as_str(), c["removed"][0].as_str()), (Some("198.51.100.7"), Some("192.0.2.1")));
    let at = json(&ok(&["analyze", "--data-dir", d, "--json", "history", "www.victim.test", "--at", "2024-03-06"]));
    assert_eq!(at["at"]["types"][0]["active"][0]["record"]["rdata"][0], "198.51.100.7");

    // CNAME chain followed to the CDN address
    let h = json(&ok(&["analyze", "--data-dir", d, "--json", "history", "static.victim.test"]));
    assert_eq!(h["cnames"][0]["addresses"][0]["rdata"][0], "104.16.5.5");

    // shared: the March address holds two registered domains
    let sh = json(&ok(&["analyze", "--data-dir", d, "--json", "shared", "198.51.100.0/24"]));
    let doms: Vec<&str> = sh["domains"].as_array().unwrap().iter().map(|x| x["domain"].as_str().unwrap()).collect();
    assert_eq!(doms, vec!["evil.co.uk", "victim.test"]);

    // cohosted: evil.co.uk is strong evidence for victim.test; the CDN address is flagged
    let co = json(&ok(&["analyze", "--data-dir", d, "--json", "cohosted", "victim.test"]));
    let strong: Vec<(&str, &str)> = co["cohosted"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["domain"].as_str().unwrap(), x["strength"].as_str().unwrap()))
        .collect();
    assert_eq!(strong, vec![("evil.co.uk", "strong")]);
    let infra = dir.path().join("cdn.txt");
    std::fs::write(&infra, "# kind: cdn:lab\n104.16.0.0/12\n").expect("write");
    let i = infra.to_str().expect("utf-8");
    let co = json(&ok(&["analyze", "--data-dir", d, "--json", "cohosted", "cdnish.test", "--infra", i]));
    assert_eq!(co["addresses"][0]["shared"], "cdn:lab");
    assert_eq!(co["cohosted"][0]["strength"], "weak");

    // new domains in March: evil.co.uk and cdnish.test, other.test; not victim.test
    let nw =
        json(&ok(&["analyze", "--data-dir", d, "--json", "new", "--since", "2024-03-01", "--until", "2024-03-31"]));
    let names: Vec<&str> = nw["items"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["cdnish.test", "other.test", "evil.co.uk"]);

    // a readable table
    let table = ok(&["analyze", "--data-dir", d, "history", "www.victim.test"]);
    assert!(table.contains("www.victim.test.") && table.contains("2024-06-09"), "{table}");

    // errors are reported, not panics
    let bad = run(&["analyze", "--data-dir", d, "shared", "not-an-ip"]);
    assert!(!bad.status.success());

    // the server answers the same
    let srv = Server::start(&data, &[]);
    let u = srv.url.as_str();
    let remote = |args: &[&str]| -> Value {
        let mut all = vec!["analyze", "--server", u, "--json"];
        all.extend_from_slice(args);
        json(&ok(&all))
    };
    let local = |args: &[&str]| -> Value {
        let mut all = vec!["analyze", "--data-dir", d, "--json"];
        all.extend_from_slice(args);
        json(&ok(&all))
    };
    for args in [
        &["history", "*.victim.test", "--at", "2024-03-06"][..],
        &["history", "www.victim.test", "--from", "2024-01-02", "--to", "2024-06-10"][..],
        &["shared", "198.51.100.7"][..],
        &["cohosted", "victim.test", "--fanout", "5"][..],
    ] {
        assert_eq!(comparable(remote(args)), comparable(local(args)), "{args:?}");
    }
    let nw = remote(&["new", "--since", "2024-03-01", "--until", "2024-03-31"]);
    assert_eq!(nw["source"], "index");
    let names: Vec<&str> = nw["items"].as_array().unwrap().iter().map(|x| x["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["cdnish.test", "other.test", "evil.co.uk"]);
    let hn = remote(&["new", "--since", "2024-03-01", "--level", "hostname"]);
    assert_eq!(hn["source"], "scan");
    assert!(hn["items"].as_array().unwrap().iter().any(|x| x["name"] == "mail.evil.co.uk."));

    // HTTP errors
    let (status, body) = get(&format!("{u}/api/v1/analytics/new"));
    assert_eq!(status, 400, "{body}");
    let (status, _) = get(&format!("{u}/api/v1/analytics/shared/nonsense"));
    assert_eq!(status, 400);
    let (status, _) = get(&format!("{u}/api/v1/analytics/nothing"));
    assert_eq!(status, 404);
    let (status, body) = get(&format!("{u}/api/v1/analytics/history/www.victim.test?max_scanned=1"));
    assert_eq!(status, 200);
    assert_eq!(json(&body)["limited"], true);
    assert!(srv.terminate());
}
