//! The real `dnsdbq` client (Debian package) against `dnsledger serve`: every query form the
//! reference lists, asserting on what dnsdbq prints (it exits 0 even on HTTP errors).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::{ok, Server};

/// Records with known counts and times (2024-01-01 = 1704067200).
const FIXTURE: &str = r#"{"rrname":"www.example.com","rrtype":"A","rdata":["192.0.2.1"],"bailiwick":"example.com","time_first":1704067200,"time_last":1704153600,"count":10}
{"rrname":"www.example.com","rrtype":"A","rdata":["192.0.2.1","192.0.2.2"],"bailiwick":"example.com","time_first":1706745600,"time_last":1706832000,"count":4}
{"rrname":"www.example.com","rrtype":"AAAA","rdata":["2001:db8::1"],"bailiwick":"example.com","time_first":1704067200,"time_last":1709251200,"count":7}
{"rrname":"mail.example.com","rrtype":"A","rdata":["192.0.2.25"],"bailiwick":"example.com","time_first":1709251200,"time_last":1711929600,"count":3}
{"rrname":"example.com","rrtype":"NS","rdata":["ns1.dns.example.net","ns2.dns.example.net"],"bailiwick":"com","zone_time_first":1704067200,"zone_time_last":1711929600,"count":2}
{"rrname":"example.com","rrtype":"MX","rdata":["10 mail.example.com"],"bailiwick":"example.com","time_first":1704067200,"time_last":1711929600,"count":5}
{"rrname":"www.example.net","rrtype":"CNAME","rdata":["www.example.com"],"bailiwick":"example.net","time_first":1704067200,"time_last":1704067200,"count":1}
{"rrname":"v6.example.org","rrtype":"AAAA","rdata":["2001:db8:ffff::9"],"bailiwick":"example.org","time_first":1704067200,"time_last":1704067200,"count":2}
{"rrname":"far.example.org","rrtype":"A","rdata":["198.51.100.7"],"bailiwick":"example.org","time_first":1704067200,"time_last":1735689600,"count":1}
"#;

struct Env {
    _dir: tempfile::TempDir,
    server: Server,
    config: std::path::PathBuf,
}

fn setup() -> Env {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let fixture = dir.path().join("fixture.ndjson");
    std::fs::write(&fixture, FIXTURE).expect("fixture");
    ok(&["import", fixture.to_str().expect("utf-8"), "--data-dir", data.to_str().expect("utf-8"), "-q"]);
    let server = Server::start(&data, &[]);
    // dnsdbq reads DNSDBQ_SYSTEM / CIRCL_* only when some config file exists (reference §4.1)
    let config = dir.path().join("dnsdbq.conf");
    std::fs::write(&config, "").expect("config");
    Env { _dir: dir, server, config }
}

fn dnsdbq(env: &Env, args: &[&str], stdin: Option<&str>) -> (String, String) {
    let mut cmd = Command::new("dnsdbq");
    cmd.args(args)
        .env("DNSDB_SERVER", &env.server.url)
        .env("DNSDB_API_KEY", "unused-open-server")
        .env("DNSDBQ_CONFIG_FILE", &env.config)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => panic!("cannot run dnsdbq ({e}): install the Debian package dnsdbq (scripts/test.sh does)"),
    };
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    } else {
        drop(child.stdin.take());
    }
    let out = child.wait_with_output().expect("dnsdbq");
    assert!(out.status.success(), "dnsdbq {args:?} exited {}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn json(env: &Env, args: &[&str]) -> Vec<serde_json::Value> {
    let mut a = args.to_vec();
    a.push("-j");
    let (out, err) = dnsdbq(env, &a, None);
    assert!(!err.contains("rror"), "dnsdbq {args:?}: {err}");
    if args.contains(&"-I") {
        // `-I -j` pretty-prints one object
        return vec![serde_json::from_str(&out).expect("dnsdbq -I -j output")];
    }
    out.lines().map(|l| serde_json::from_str(l).expect("dnsdbq -j line")).collect()
}

fn field<'a>(recs: &'a [serde_json::Value], key: &str) -> Vec<&'a str> {
    recs.iter().map(|r| r[key].as_str().unwrap_or("")).collect()
}

#[test]
fn rrset_lookups() {
    let env = setup();
    let a = json(&env, &["-r", "www.example.com/A"]);
    assert_eq!(a.len(), 2);
    assert_eq!(a[0]["rdata"], serde_json::json!(["192.0.2.1"]));
    assert_eq!(a[0]["count"], 10);
    assert_eq!(a[0]["time_first"], 1704067200);
    assert_eq!(a[0]["bailiwick"], "example.com.");
    assert_eq!(a[1]["rdata"], serde_json::json!(["192.0.2.1", "192.0.2.2"]));
    // case and trailing dot do not matter; ANY with a bailiwick
    assert_eq!(json(&env, &["-r", "WWW.Example.COM."]).len(), 3);
    assert_eq!(json(&env, &["-r", "example.com", "-b", "com"]).len(), 1);
    assert_eq!(json(&env, &["-r", "example.com/NS/com"])[0]["zone_time_first"], 1704067200);
    assert_eq!(json(&env, &["-r", "example.com/NS/example.com"]).len(), 0);
    // wildcards
    assert_eq!(
        field(&json(&env, &["-r", "*.example.com"]), "rrname"),
        ["mail.example.com.", "www.example.com.", "www.example.com.", "www.example.com."]
    );
    assert_eq!(
        field(&json(&env, &["-r", "www.example.*"]), "rrname"),
        ["www.example.com.", "www.example.com.", "www.example.com.", "www.example.net."]
    );
    // raw owner name
    let raw = json(&env, &["-R", "03777777076578616d706c6503636f6d00/AAAA"]);
    assert_eq!(raw[0]["rdata"], serde_json::json!(["2001:db8::1"]));
    // the text presentation dnsdbq prints by default
    let (text, _) = dnsdbq(&env, &["-r", "example.com/MX"], None);
    assert!(text.contains(";; count: 5; bailiwick: example.com."), "{text}");
    assert!(text.contains("example.com.  MX  10 mail.example.com."), "{text}");
}

#[test]
fn rdata_lookups() {
    let env = setup();
    let n = json(&env, &["-n", "www.example.com"]);
    assert_eq!(field(&n, "rrname"), ["www.example.net."]);
    assert!(n[0].get("bailiwick").is_none());
    assert_eq!(field(&json(&env, &["-n", "mail.example.com/MX"]), "rrname"), ["example.com."]);
    // single IP: the count sums both RRsets holding it
    let ip = json(&env, &["-i", "192.0.2.1"]);
    assert_eq!(ip.len(), 1);
    assert_eq!(ip[0]["count"], 14);
    assert_eq!(ip[0]["time_last"], 1706832000);
    assert_eq!(json(&env, &["-i", "192.0.2.0/24"]).len(), 3);
    assert_eq!(json(&env, &["-i", "192.0.2.0/31"]).len(), 1);
    assert_eq!(field(&json(&env, &["-i", "2001:db8::/32"]), "rrname"), ["www.example.com.", "v6.example.org."]);
    assert_eq!(json(&env, &["-i", "2001:db8:ffff::/48"]).len(), 1);
    assert_eq!(json(&env, &["-i", "192.0.2.2-192.0.2.30"]).len(), 2);
    assert_eq!(field(&json(&env, &["-N", "c6336407"]), "rrname"), ["far.example.org."]);
}

#[test]
fn fences_limits_offsets_and_summaries() {
    let env = setup();
    // loose: active at some time in February 2024
    let loose = json(&env, &["-r", "*.example.com", "-A", "2024-02-01", "-B", "2024-02-29"]);
    assert_eq!(loose.len(), 2, "{loose:?}");
    // strict: entirely within February
    let strict = json(&env, &["-r", "*.example.com", "-A", "2024-02-01", "-B", "2024-02-29", "-c"]);
    assert_eq!(strict.len(), 1);
    assert_eq!(strict[0]["count"], 4);
    // -l N: dnsdbq stops reading after N records itself
    let (out, _) = dnsdbq(&env, &["-r", "*.example.com", "-l", "2", "-j"], None);
    assert_eq!(out.lines().count(), 2);
    let (_, err) = dnsdbq(&env, &["-r", "*.example.com", "-l", "4", "-j"], None);
    assert!(!err.contains("limit"), "a result that fits must not say limited: {err}");
    let page = json(&env, &["-r", "*.example.com", "-O", "1", "-l", "2"]);
    assert_eq!(field(&page, "rrname"), ["www.example.com.", "www.example.com."]);
    // aggr=f (gravel) returns the stored records
    assert_eq!(json(&env, &["-r", "www.example.com/A", "-g"]).len(), 2);
    // summarize
    let (text, _) = dnsdbq(&env, &["-V", "summarize", "-r", "*.example.com"], None);
    assert!(text.contains(";; count: 24; num_results: 4"), "{text}");
    let s = json(&env, &["-V", "summarize", "-i", "192.0.2.0/24", "-M", "12"]);
    assert_eq!(s[0]["num_results"], 1);
    // rate limit of an open server
    let rate = json(&env, &["-I"]);
    assert_eq!(rate[0]["rate"]["limit"], "unlimited");
    let (text, _) = dnsdbq(&env, &["-I"], None);
    assert!(text.contains("limit: unlimited"), "{text}");
}

#[test]
fn batch_mode_and_circl() {
    let env = setup();
    let input = "rrset/name/www.example.com/AAAA\nrdata/ip/192.0.2.0,24\n$OPTIONS -l 1\nrrset/name/%2A.example.com\nrdata/ip/2001:db8::,32\nrrset/raw/0377777707657861\n";
    let (out, _) = dnsdbq(&env, &["-f", "-j"], Some(input));
    let blocks: Vec<&str> = out.split("--\n").collect();
    assert_eq!(blocks.len(), 6, "{out}");
    assert_eq!(blocks[0].lines().count(), 1);
    assert_eq!(blocks[1].lines().count(), 3);
    assert_eq!(blocks[2].lines().count(), 1, "$OPTIONS -l 1 applies");
    assert_eq!(blocks[3].lines().count(), 1);
    assert_eq!(blocks[4].lines().count(), 0, "a truncated wire name matches nothing");
    let (out, _) = dnsdbq(&env, &["-ff"], Some("rrset/name/example.com/MX\nrdata/name/nothing.example\n"));
    assert!(out.contains("++ rrset/name/example.com/MX") && out.contains("-- NOERROR (no error)"), "{out}");
    assert!(out.contains("-- NOERROR (no results found for query.)"), "{out}");

    // CIRCL mode against the COF route
    let circl = |args: &[&str]| -> String {
        let out = Command::new("dnsdbq")
            .arg("-u")
            .arg("circl")
            .args(args)
            .env("DNSDBQ_CONFIG_FILE", &env.config)
            .env("CIRCL_SERVER", format!("{}/pdns/query", env.server.url))
            .env("CIRCL_AUTH", "user:unused-open-server")
            .output()
            .expect("dnsdbq");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let out = circl(&["-r", "www.example.com", "-j"]);
    let recs: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).expect("cof line")).collect();
    // one line per (rrname, rrtype, rdata): 192.0.2.1 summed over both RRsets
    assert_eq!(recs.len(), 3, "{out}");
    let a1 = recs.iter().find(|r| r["rdata"] == serde_json::json!(["192.0.2.1"])).expect("192.0.2.1");
    assert_eq!(a1["count"], 14);
    let out = circl(&["-i", "198.51.100.7"]);
    assert!(out.contains("far.example.org.  A  198.51.100.7"), "{out}");
}

#[test]
fn server_side_limits_end_in_a_limited_terminator() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let fixture = dir.path().join("fixture.ndjson");
    std::fs::write(&fixture, FIXTURE).expect("fixture");
    ok(&["import", fixture.to_str().expect("utf-8"), "--data-dir", data.to_str().expect("utf-8"), "-q"]);
    let server = Server::start(&data, &["--results-max", "2"]);
    let config = dir.path().join("dnsdbq.conf");
    std::fs::write(&config, "").expect("config");
    let env = Env { _dir: dir, server, config };
    let (out, err) = dnsdbq(&env, &["-r", "*.example.com", "-j"], None);
    assert_eq!(out.lines().count(), 2);
    assert!(err.contains("Database limit: Result limit reached"), "{err}");
    let (out, err) = dnsdbq(&env, &["-r", "www.example.net", "-j"], None);
    assert_eq!(out.lines().count(), 1);
    assert!(!err.contains("limit"), "{err}");
    let rate = json(&env, &["-I"]);
    assert_eq!(rate[0]["rate"]["results_max"], 2);
}

#[test]
fn errors_reach_dnsdbq_as_status_lines() {
    let env = setup();
    for (args, want) in [
        (&["-i", "192.0.2.0/33"][..], "libcurl 400"),
        (&["-r", "www.example.com/NOPE"], "libcurl 400"),
        (&["-R", "abc"], "libcurl 400"),
    ] {
        let (_, err) = dnsdbq(&env, args, None);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

/// A server with API keys; returns the environment and the secrets of keys
/// `full` (unlimited), `small` (3 queries a day, 2 results, offsets up to 1), `noflex`.
fn keyed() -> (Env, String, String, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let fixture = dir.path().join("fixture.ndjson");
    std::fs::write(&fixture, FIXTURE).expect("fixture");
    ok(&["import", fixture.to_str().expect("utf-8"), "--data-dir", data.to_str().expect("utf-8"), "-q"]);
    let keys = dir.path().join("keys.toml");
    let k = keys.to_str().expect("utf-8");
    let full = ok(&["key", "add", "full", "--keys-file", k]).trim().to_string();
    let small =
        ok(&["key", "add", "small", "--limit", "3", "--results-max", "2", "--offset-max", "1", "--keys-file", k])
            .trim()
            .to_string();
    let noflex = ok(&["key", "add", "noflex", "--no-flex", "--keys-file", k]).trim().to_string();
    let server = Server::start(&data, &["--keys-file", k]);
    let config = dir.path().join("dnsdbq.conf");
    std::fs::write(&config, "").expect("config");
    (Env { _dir: dir, server, config }, full, small, noflex)
}

fn dnsdbq_key(env: &Env, key: &str, args: &[&str]) -> (String, String) {
    let out = Command::new("dnsdbq")
        .args(args)
        .env("DNSDB_SERVER", &env.server.url)
        .env("DNSDB_API_KEY", key)
        .env("DNSDBQ_CONFIG_FILE", &env.config)
        .output()
        .expect("dnsdbq");
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn api_keys_quotas_and_limits() {
    let (env, full, small, noflex) = keyed();
    // a valid key works; a wrong or missing one gets 403
    let (out, _) = dnsdbq_key(&env, &full, &["-r", "www.example.com/A", "-j"]);
    assert_eq!(out.lines().count(), 2);
    let (out, err) = dnsdbq_key(&env, "dnsl_aaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", &["-r", "www.example.com"]);
    assert!(out.is_empty() && err.contains("libcurl 403"), "{err}");
    let (status, _) = common::get(&format!("{}/dnsdb/v2/lookup/rrset/name/x.example", env.server.url));
    assert_eq!(status, 403);
    // ping needs no key
    let (status, body) = common::get(&format!("{}/dnsdb/v2/ping", env.server.url));
    assert_eq!((status, body.as_str()), (200, "{\"ping\":\"ok\"}\n"));

    // rate_limit as dnsdbq -I shows it, before and after queries
    let (out, _) = dnsdbq_key(&env, &small, &["-I", "-j"]);
    let rate: serde_json::Value = serde_json::from_str(&out).expect("rate json");
    assert_eq!(rate["rate"]["limit"], 3);
    assert_eq!(rate["rate"]["remaining"], 3);
    assert_eq!(rate["rate"]["results_max"], 2);
    // results_max caps the result and says so
    let (out, err) = dnsdbq_key(&env, &small, &["-r", "*.example.com", "-j"]);
    assert_eq!(out.lines().count(), 2);
    assert!(err.contains("Result limit reached"), "{err}");
    // an offset above the key's maximum: 416
    let (_, err) = dnsdbq_key(&env, &small, &["-r", "*.example.com", "-O", "2", "-l", "1"]);
    assert!(err.contains("libcurl 416"), "{err}");
    let (out, _) = dnsdbq_key(&env, &small, &["-r", "*.example.com", "-O", "1", "-l", "1", "-j"]);
    assert_eq!(out.lines().count(), 1);
    // refused requests were not counted: one query is left
    let (out, _) = dnsdbq_key(&env, &small, &["-r", "example.com/MX", "-j"]);
    assert_eq!(out.lines().count(), 1);
    // the daily quota is spent: 429
    let (out, err) = dnsdbq_key(&env, &small, &["-r", "www.example.com"]);
    assert!(out.is_empty() && err.contains("libcurl 429"), "{err}");
    let (out, _) = dnsdbq_key(&env, &small, &["-I", "-j"]);
    let rate: serde_json::Value = serde_json::from_str(&out).expect("rate json");
    assert_eq!(rate["rate"]["remaining"], 0);
    // Flex needs a key that may use it
    let flex = |key: &str| {
        let resp = common::agent()
            .get(format!("{}/dnsdb/v2/glob/rrnames/*.example.com.", env.server.url))
            .header("X-API-Key", key)
            .call()
            .expect("flex");
        resp.status().as_u16()
    };
    assert_eq!(flex(&noflex), 403);
    assert_eq!(flex(&full), 200);
    // COF with HTTP Basic: key as password
    let circl = |auth: &str| {
        let out = Command::new("dnsdbq")
            .args(["-r", "www.example.com", "-j"])
            .env("DNSDBQ_CONFIG_FILE", &env.config)
            .env("DNSDBQ_SYSTEM", "circl")
            .env("CIRCL_SERVER", format!("{}/pdns/query", env.server.url))
            .env("CIRCL_AUTH", auth)
            .output()
            .expect("dnsdbq");
        (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (out, _) = circl(&format!("anyone:{full}"));
    assert_eq!(out.lines().count(), 3);
    let (out, err) = circl("anyone:wrong");
    assert!(out.is_empty() && err.contains("401"), "{err}");
}

#[test]
fn flex_search() {
    let env = setup();
    let get = |path: &str| {
        let (status, body) = common::get(&format!("{}/dnsdb/v2/{path}", env.server.url));
        assert_eq!(status, 200, "{path}: {body}");
        let lines: Vec<serde_json::Value> = body.lines().map(|l| serde_json::from_str(l).expect("saf line")).collect();
        assert_eq!(lines.first().map(|l| l["cond"].clone()), Some(serde_json::json!("begin")));
        lines
    };
    let objs = |lines: &[serde_json::Value]| -> Vec<String> {
        lines
            .iter()
            .filter_map(|l| l.get("obj"))
            .map(|o| {
                format!(
                    "{} {}",
                    o["rrname"].as_str().or(o["rdata"].as_str()).unwrap_or(""),
                    o["rrtype"].as_str().unwrap_or("")
                )
            })
            .collect()
    };
    let g = get("glob/rrnames/*.example.com.");
    assert_eq!(objs(&g), ["mail.example.com. A", "www.example.com. A", "www.example.com. AAAA"]);
    assert_eq!(g.last().map(|l| l["cond"].clone()), Some(serde_json::json!("succeeded")));
    assert_eq!(objs(&get("glob/rrnames/*.example.com.?exclude=www*")), ["mail.example.com. A"]);
    assert_eq!(objs(&get("regex/rrnames/%5Ewww%5C.example%5C.(com%7Cnet)%5C.%24/CNAME")), ["www.example.net. CNAME"]);
    let r = get("regex/rdata/%5E192%5C.0%5C.2%5C.");
    assert_eq!(objs(&r), ["192.0.2.1 A", "192.0.2.2 A", "192.0.2.25 A"]);
    assert_eq!(r[1]["obj"]["raw_rdata"], "C0000201");
    let limited = get("glob/rdata/*?limit=2");
    assert_eq!(objs(&limited).len(), 2);
    assert_eq!(limited.last().map(|l| l["cond"].clone()), Some(serde_json::json!("limited")));
    let (status, body) = common::get(&format!("{}/dnsdb/v2/regex/rrnames/(unclosed", env.server.url));
    assert_eq!(status, 400, "{body}");
}
