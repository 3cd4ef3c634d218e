//! End-to-end: retention through the binary.
//!
//! - `dnsledger prune --before T` on an imported store drops what was last seen before `T`
//!   from every lookup route and reports the counts; what was seen since stays;
//! - `dnsledger serve --retention-days N` hides records last seen longer ago at once and
//!   shows its cutoff and the expiry counters in `/metrics`.

mod common;

use common::{get, ok, run, Server};

/// 2020-01-01T00:00:00Z.
const OLD: u64 = 1_577_836_800;

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

/// A passivedns log: old.example.com (A, NS) last seen in 2020, new.example.com now, and
/// both.example.com in 2020 and now.
fn log(recent: u64) -> String {
    let mut s = String::new();
    for (t, name, ty, rdata) in [
        (OLD, "old.example.com.", "A", "192.0.2.10"),
        (OLD, "old.example.com.", "NS", "ns1.old.example.net."),
        (recent, "new.example.com.", "A", "192.0.2.20"),
        (OLD, "both.example.com.", "A", "192.0.2.30"),
        (recent, "both.example.com.", "A", "192.0.2.30"),
    ] {
        s.push_str(&format!("{t}.000000||10.0.0.1||10.0.0.53||IN||{name}||{ty}||{rdata}||300||1\n"));
    }
    s
}

/// `name type` of every record a CLI query prints (COF JSON lines).
fn query(dir: &str, args: &[&str]) -> Vec<String> {
    let mut all = vec!["query", "--data-dir", dir, "-f", "json"];
    all.extend_from_slice(args);
    let out = run(&all);
    let mut v: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let j: serde_json::Value = serde_json::from_str(l).expect("JSON line");
            format!("{} {}", j["rrname"].as_str().unwrap_or("?"), j["rrtype"].as_str().unwrap_or("?"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn prune_drops_what_was_last_seen_before_the_time_from_every_route() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let dir = data.to_str().unwrap();
    let file = tmp.path().join("dns.log");
    std::fs::write(&file, log(now() - 3600)).unwrap();
    ok(&["import", "--data-dir", dir, "--format", "passivedns", file.to_str().unwrap()]);
    assert_eq!(query(dir, &["-r", "old.example.com"]), ["old.example.com. A", "old.example.com. NS"]);

    let out = run(&["prune", "--data-dir", dir, "--before", "2023-01-01"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    // old A and NS; their address and rdata-name entries; the owner and NS target names
    assert!(err.contains("2 records, 2 index entries, 2 names"), "{err}");

    assert!(query(dir, &["-r", "old.example.com"]).is_empty());
    assert!(query(dir, &["-r", "old.example.*"]).is_empty());
    assert!(query(dir, &["-n", "ns1.old.example.net"]).is_empty());
    assert_eq!(query(dir, &["-r", "*.example.com"]), ["both.example.com. A", "new.example.com. A"]);
    assert_eq!(query(dir, &["-i", "192.0.2.0/24"]), ["both.example.com. A", "new.example.com. A"]);
    let check = run(&["check", "--data-dir", dir]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stdout));

    // without --before or a configured retention there is nothing to go by
    let out = run(&["prune", "--data-dir", dir]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--before"));
}

#[test]
fn serve_with_retention_hides_old_records_and_reports_its_cutoff() {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("store");
    let file = tmp.path().join("dns.log");
    std::fs::write(&file, log(now() - 3600)).unwrap();
    ok(&["import", "--data-dir", data.to_str().unwrap(), "--format", "passivedns", file.to_str().unwrap()]);
    let server = Server::start(&data, &["--retention-days", "365"]);
    let (status, body) = get(&format!("{}/api/v1/lookup/rrset/name/old.example.com", server.url));
    assert!(status == 200 || status == 404, "{status} {body}");
    assert!(!body.contains("old.example.com"), "{body}");
    let (_, body) = get(&format!("{}/api/v1/lookup/rdata/ip/192.0.2.0,24", server.url));
    assert!(body.contains("new.example.com") && body.contains("both.example.com"), "{body}");
    assert!(!body.contains("old.example.com"), "{body}");
    let (status, metrics) = get(&format!("{}/metrics", server.url));
    assert_eq!(status, 200, "{metrics}");
    let cutoff = metrics
        .lines()
        .find_map(|l| l.strip_prefix("dnsledger_store_retention_cutoff_seconds "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("no cutoff in {metrics}"));
    assert!((cutoff - (now() - 365 * 86_400) as f64).abs() < 600.0, "{cutoff}");
    assert!(metrics.contains("dnsledger_store_expired_records "), "{metrics}");
}
