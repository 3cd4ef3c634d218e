//! End-to-end: `dnsledger analyze cluster` and `analyze detect` on a store written by
//! `dnsledger import`, locally and through a running server (label lists from the
//! configuration file), which must answer the same.

mod common;

use std::path::Path;

use common::corpus::{json, line, D, T0};
use common::{get, ok, run, Server};
use serde_json::Value;

fn corpus(path: &Path) {
    let mut s = String::new();
    // a campaign: three domains rotating over the same two addresses, one name server
    let t = T0 + 200 * D;
    for name in ["www.kit-alpha.test.", "kit-beta.test.", "cdn.kit-gamma.test."] {
        for ip in ["198.51.100.10", "198.51.100.11"] {
            s += &line(t, name, "A", ip);
        }
    }
    for d in ["kit-alpha.test.", "kit-beta.test.", "kit-gamma.test."] {
        s += &line(t, d, "NS", "ns1.bulletproof.test.");
    }
    // an unrelated pair on its own address
    s += &line(t, "www.bakery.test.", "A", "203.0.113.5");
    s += &line(t, "bakery.test.", "A", "203.0.113.5");
    // an established domain (since January) whose zone moves to a never-seen provider in July
    s += &line(T0, "bank.test.", "NS", "ns1.goodprovider.test.");
    s += &line(T0 + 150 * D, "bank.test.", "NS", "ns1.goodprovider.test.");
    s += &line(T0 + 205 * D, "bank.test.", "NS", "ns1.attacker.test.");
    std::fs::write(path, s).unwrap();
}

/// The report without the fields that differ between runs.
fn comparable(v: Value) -> Value {
    common::corpus::without(v, &["elapsed_ms", "scanned", "notes", "limited"])
}

#[test]
fn clusters_and_detections_locally_and_through_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("pdns.log");
    corpus(&log);
    let d = data.to_str().unwrap();
    ok(&["import", "--format", "passivedns", "--data-dir", d, log.to_str().unwrap()]);
    let labels = dir.path().join("labels.txt");
    std::fs::write(&labels, "# kind: malicious:feed\nkit-alpha.test\n").unwrap();
    let config = dir.path().join("dnsledger.toml");
    std::fs::write(&config, "[analytics]\nlabel_files = [\"labels.txt\"]\n").unwrap();
    let c = config.to_str().unwrap();

    // the campaign is one cluster, found from one seed, scored from the label
    let r = json(&ok(&["analyze", "--data-dir", d, "--config", c, "--json", "cluster", "www.kit-alpha.test"]));
    let top = &r["clusters"][0];
    let doms: Vec<&str> = top["domains"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
    assert_eq!(doms[0], "kit-alpha.test", "{top}");
    for x in ["kit-beta.test", "kit-gamma.test"] {
        assert!(doms.contains(&x), "{x} not in {doms:?}");
    }
    assert_eq!(top["malicious"], 1);
    assert!(top["score"].as_f64().unwrap() > 0.3, "{top}");
    assert!(r["nodes"].as_array().unwrap().iter().all(|n| n["value"] != "bakery.test"), "unrelated domain pulled in");
    assert!(r["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] != "network" && e["kind"] != "names")
        .all(|e| !e["evidence"].as_array().unwrap().is_empty()));
    // without labels, no score
    let r0 = json(&ok(&["analyze", "--data-dir", d, "--json", "cluster", "www.kit-alpha.test"]));
    assert_eq!(r0["clusters"][0]["score"], 0.0);
    // --labels adds a list on the command line; a table by default
    let table = ok(&["analyze", "--data-dir", d, "cluster", "198.51.100.11", "--labels", labels.to_str().unwrap()]);
    assert!(table.contains("kit-beta.test") && table.contains("malicious:feed"), "{table}");

    // the campaign's cluster as a MISP event
    let ev =
        json(&ok(&["analyze", "--data-dir", d, "--config", c, "cluster", "www.kit-alpha.test", "--export", "misp"]));
    let attrs = ev["Event"]["Attribute"].as_array().unwrap();
    assert!(attrs.iter().any(|a| a["value"] == "kit-beta.test" && a["type"] == "domain"), "{ev}");
    assert!(attrs.iter().any(|a| a["value"] == "kit-alpha.test" && a["to_ids"] == true), "{ev}");
    assert!(ev["Event"]["Object"].as_array().unwrap().iter().all(|o| o["name"] == "passive-dns"));

    // detections: the delegation change of bank.test in July
    let det =
        json(&ok(&["analyze", "--data-dir", d, "--json", "detect", "--since", "2024-07-01", "--until", "2024-08-01"]));
    let hits: Vec<(&str, &str, &str)> = det["detections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["technique"].as_str().unwrap(), x["kind"].as_str().unwrap(), x["domain"].as_str().unwrap()))
        .collect();
    assert!(hits.contains(&("T1584.002", "delegation-change", "bank.test")), "{det}");
    let only = json(&ok(&[
        "analyze",
        "--data-dir",
        d,
        "--json",
        "detect",
        "--since",
        "2024-07-01",
        "--kind",
        "dangling-cname",
    ]));
    assert_eq!(only["detections"].as_array().unwrap().len(), 0, "{only}");
    let bad = run(&["analyze", "--data-dir", d, "detect", "--since", "2024-07-01", "--kind", "nonsense"]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("shadowing"));

    // the server (labels from its configuration file) answers the same
    let srv = Server::start(&data, &["--config", c]);
    let u = srv.url.as_str();
    let remote = |args: &[&str]| -> Value {
        let mut all = vec!["analyze", "--server", u, "--json"];
        all.extend_from_slice(args);
        json(&ok(&all))
    };
    let local = |args: &[&str]| -> Value {
        let mut all = vec!["analyze", "--data-dir", d, "--config", c, "--json"];
        all.extend_from_slice(args);
        json(&ok(&all))
    };
    for args in [
        &["cluster", "www.kit-alpha.test", "198.51.100.11", "--hops", "1"][..],
        &["detect", "--since", "2024-07-01", "--until", "2024-08-01"][..],
    ] {
        assert_eq!(comparable(remote(args)), comparable(local(args)), "{args:?}");
    }
    let (status, body) = get(&format!("{u}/api/v1/analytics/cluster"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(&format!("{u}/api/v1/analytics/cluster?seed=a..b"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(&format!("{u}/api/v1/analytics/detect?since=2024-07-01&min_score=2"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(&format!("{u}/api/v1/analytics/cluster?seed=www.kit-alpha.test&format=misp"));
    assert_eq!(status, 200, "{body}");
    // the same attributes (their uuids derive from the export time)
    let strip = |v: &Value| -> Vec<(String, String, String)> {
        v["Event"]["Attribute"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| (a["type"].to_string(), a["value"].to_string(), a["comment"].to_string()))
            .collect()
    };
    assert_eq!(strip(&json(&body)), strip(&ev));
    let (status, body) = get(&format!("{u}/api/v1/analytics/cluster?seed=kit-beta.test&format=misp&cluster=999"));
    assert_eq!(status, 400, "{body}");
    let (status, body) = get(&format!("{u}/api/v1/analytics/cluster?seed=kit-beta.test,198.51.100.10&hops=1"));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json(&body)["seeds"].as_array().unwrap().len(), 2);
    assert!(srv.terminate());
}

#[test]
fn scheduled_detections_raise_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let log = dir.path().join("pdns.log");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    // bank.test: delegated for a day to a provider serving nothing else, then back
    let mut s = String::new();
    s += &line(now - 200 * D, "bank.test.", "NS", "ns1.goodprovider.test.");
    s += &line(now - D, "bank.test.", "NS", "ns1.goodprovider.test.");
    s += &line(now - 3 * D, "bank.test.", "NS", "ns1.attacker.test.");
    std::fs::write(&log, s).unwrap();
    let d = data.to_str().unwrap();
    ok(&["import", "--format", "passivedns", "--data-dir", d, log.to_str().unwrap()]);
    let sink = dir.path().join("soc.ndjson");
    let config = dir.path().join("dnsledger.toml");
    std::fs::write(
        &config,
        format!(
            "[analytics]\ndetect_every_secs = 3600\ndetect_window_secs = 604800\ndetect_sinks = [\"soc\"]\n\n\
             [[analytics.watch_sink]]\nkind = \"ndjson\"\nname = \"soc\"\npath = \"{}\"\n",
            sink.display()
        ),
    )
    .unwrap();
    let c = config.to_str().unwrap();
    let check = ok(&["config", "check", c]);
    assert!(check.contains("ATT&CK detections every 3600 s"), "{check}");
    let srv = Server::start(&data, &["--config", c]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let alert = loop {
        let (status, body) = get(&format!("{}/api/v1/alerts?watchlist=attack-detections", srv.url));
        assert_eq!(status, 200, "{body}");
        let doc = json(&body);
        let found = doc["alerts"].as_array().and_then(|a| a.first()).cloned();
        if let Some(a) = found {
            break a;
        }
        assert!(std::time::Instant::now() < deadline, "no detection alert: {body}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    assert_eq!(alert["kind"], "detection", "{alert}");
    assert_eq!(alert["technique"], "T1584.002", "{alert}");
    assert_eq!(alert["entry"], "delegation-change", "{alert}");
    assert_eq!(alert["matched"], "bank.test", "{alert}");
    assert!(alert["reasons"].as_array().unwrap().iter().any(|r| r.as_str().unwrap().contains("attacker.test")));
    assert!(srv.terminate());
    // the sink got it too
    let text = std::fs::read_to_string(&sink).unwrap();
    assert!(text.contains("T1584.002") && text.contains("bank.test"), "{text}");
    // a bad sink name is a configuration error
    std::fs::write(&config, "[analytics]\ndetect_every_secs = 60\ndetect_sinks = [\"nosuch\"]\n").unwrap();
    let bad = run(&["config", "check", c]);
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("nosuch"));
}
