//! End-to-end federation: a second `dnsledger serve` with API keys and quotas is the DNSDB v2
//! (SAF) and CIRCL (COF) upstream; small loopback HTTP servers in this test play a PassiveTotal
//! upstream (answers shaped as the PassiveTotal v2 `/v2/dns/passive` documentation shows) and
//! broken upstreams (down, slow, garbage, a SAF stream cut before its terminator). Checked:
//! merged answers with min/max/sum and `sources`, failures reported while the local answer
//! still arrives (CLI, SAF and native routes), 429s and quotas, pulls stored once, scheduled
//! pulls inside `serve`.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;

use common::{bin, get, ok, Server};
use serde_json::Value;

/// An HTTP server on loopback answering each connection with `respond(request head)`;
/// `None` holds the connection open without answering (a slow upstream).
fn fake(respond: impl Fn(&str) -> Option<Vec<u8>> + Send + Sync + 'static) -> String {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    let respond = std::sync::Arc::new(respond);
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let respond = respond.clone();
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut b = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
                    match s.read(&mut b) {
                        Ok(1) => head.push(b[0]),
                        _ => return,
                    }
                }
                let mut head = String::from_utf8_lossy(&head).into_owned();
                // a request body (a token request's form) is appended to the head
                let len = head
                    .lines()
                    .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().to_string()))
                    .and_then(|v| v.parse::<usize>().ok())
                    .unwrap_or(0);
                let mut body = vec![0; len];
                if s.read_exact(&mut body).is_err() {
                    return;
                }
                head.push_str(&String::from_utf8_lossy(&body));
                match respond(&head) {
                    Some(resp) => {
                        let _ = s.write_all(&resp);
                    }
                    None => std::thread::sleep(Duration::from_secs(10)),
                }
            });
        }
    });
    format!("http://{addr}")
}

fn http(status: &str, ctype: &str, body: &str, length: bool) -> Vec<u8> {
    let len = if length { format!("Content-Length: {}\r\n", body.len()) } else { String::new() };
    format!("HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\n{len}Connection: close\r\n\r\n{body}").into_bytes()
}

/// PassiveTotal's documented answer shape for `GET /v2/dns/passive?query=www.example.com`.
const PT_ANSWER: &str = r#"{"totalRecords":2,"firstSeen":"2023-12-01 00:00:00","lastSeen":"2024-03-01 00:00:00","results":[{"firstSeen":"2023-12-01 00:00:00","lastSeen":"2024-02-01 00:00:00","source":["riskiq"],"value":"www.example.com","collected":"2024-03-02 10:00:00","resolve":"192.0.2.1","recordType":"A","resolveType":"ip","recordHash":"0f1e2d3c"},{"firstSeen":"2024-02-02 00:00:00","lastSeen":"2024-03-01 00:00:00","source":["riskiq","pingly"],"value":"www.example.com","collected":"2024-03-02 10:00:00","resolve":"203.0.113.80","recordType":"A","resolveType":"ip","recordHash":"4b5a6978"}],"queryType":"domain","queryValue":"www.example.com","pager":null}"#;

fn ndjson_file(dir: &Path, name: &str, lines: &[&str]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, lines.join("\n") + "\n").expect("write");
    p.to_str().expect("utf-8").to_string()
}

fn key(keys: &str, name: &str, extra: &[&str]) -> String {
    let mut args = vec!["key", "add", name, "--keys-file", keys];
    args.extend_from_slice(extra);
    ok(&args).trim().to_string()
}

fn lines(s: &str) -> Vec<Value> {
    s.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn by_rdata<'a>(records: &'a [Value], ip: &str) -> &'a Value {
    records.iter().find(|r| r["rdata"][0] == ip).unwrap_or_else(|| panic!("no {ip} in {records:?}"))
}

/// Runs `dnsledger` with the upstream key in the environment; returns (exit code, stdout, stderr).
fn run_env(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("running dnsledger");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn federated_lookups_pulls_and_failures() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();

    // the upstream: its own store, keys with and without quota
    let up_data = d.join("upstream");
    let up_file = ndjson_file(
        d,
        "up.ndjson",
        &[
            r#"{"rrname":"www.example.com","rrtype":"A","rdata":["192.0.2.1"],"bailiwick":"example.com","time_first":1000,"time_last":2000,"count":10}"#,
            r#"{"rrname":"www.example.com","rrtype":"A","rdata":["192.0.2.2"],"bailiwick":"example.com","time_first":1100,"time_last":1200,"count":5}"#,
            r#"{"rrname":"mail.example.com","rrtype":"A","rdata":["192.0.2.25"],"bailiwick":"example.com","time_first":1000,"time_last":1000,"count":2}"#,
            r#"{"rrname":"ftp.example.com","rrtype":"A","rdata":["192.0.2.21"],"bailiwick":"example.com","time_first":1000,"time_last":1000,"count":4}"#,
        ],
    );
    ok(&["import", "--format", "ndjson", "--sensor", "up-1", "--data-dir", up_data.to_str().unwrap(), &up_file]);
    let keys = d.join("keys.toml");
    let keys = keys.to_str().unwrap();
    let big = key(keys, "fed", &[]);
    let tiny = key(keys, "tiny", &["--limit", "2"]);
    let upstream = Server::start(&up_data, &["--keys-file", keys]);

    // the local store
    let local_data = d.join("local");
    let ld = local_data.to_str().unwrap();
    let local_file = ndjson_file(
        d,
        "local.ndjson",
        &[
            r#"{"rrname":"www.example.com","rrtype":"A","rdata":["192.0.2.1"],"bailiwick":"example.com","time_first":1500,"time_last":2500,"count":3}"#,
        ],
    );
    ok(&["import", "--format", "ndjson", "--sensor", "local-1", "--data-dir", ld, &local_file]);

    // broken and PassiveTotal upstreams
    let free = TcpListener::bind("127.0.0.1:0").expect("bind");
    let down = format!("http://{}", free.local_addr().expect("addr"));
    drop(free);
    let slow = fake(|_| None);
    let garbage = fake(|_| Some(http("200 OK", "application/x-ndjson", "<html>maintenance</html>\n", true)));
    let cut = fake(|_| {
        let body = "{\"cond\":\"begin\"}\n{\"obj\":{\"count\":7,\"time_first\":900,\"time_last\":3000,\"rrname\":\"www.example.com.\",\"rrtype\":\"A\",\"bailiwick\":\"example.com.\",\"rdata\":[\"192.0.2.1\"]}}\n{\"obj\":{\"count\":1,\"time_f";
        Some(http("200 OK", "application/x-ndjson", body, false))
    });
    let pt = fake(|head| {
        // HTTP Basic analyst@example.com:pt-key
        let authorised =
            head.lines().any(|l| l.eq_ignore_ascii_case("authorization: Basic YW5hbHlzdEBleGFtcGxlLmNvbTpwdC1rZXk="));
        if !authorised {
            return Some(http("401 Unauthorized", "application/json", "{\"error\":\"unauthorized\"}", true));
        }
        if head.starts_with("GET /v2/dns/passive?query=www.example.com ") {
            Some(http("200 OK", "application/json", PT_ANSWER, true))
        } else {
            Some(http("200 OK", "application/json", "{\"totalRecords\":0,\"results\":[],\"queryValue\":\"x\"}", true))
        }
    });

    // Defender TI through Microsoft Graph: token endpoint and passiveDns, shaped as documented
    let defender = fake(|head| {
        let json = "application/json";
        if head.starts_with("POST /tenant-1/oauth2/v2.0/token ") {
            if !head.contains("client_secret=graph-secret") || !head.contains("grant_type=client_credentials") {
                return Some(http("401 Unauthorized", json, r#"{"error":"invalid_client"}"#, true));
            }
            return Some(http(
                "200 OK",
                json,
                r#"{"token_type":"Bearer","expires_in":3599,"access_token":"tok-1"}"#,
                true,
            ));
        }
        if !head.lines().any(|l| l.eq_ignore_ascii_case("authorization: Bearer tok-1")) {
            return Some(http("401 Unauthorized", json, r#"{"error":{"code":"InvalidAuthenticationToken"}}"#, true));
        }
        if head.starts_with("GET /v1.0/security/threatIntelligence/hosts/www.example.com/passiveDns ") {
            let body = r##"{"value":[{"@odata.type":"#microsoft.graph.security.passiveDnsRecord","id":"d1","firstSeenDateTime":"2024-01-01T00:00:00Z","lastSeenDateTime":"2024-01-31T00:00:00Z","collectedDateTime":"2024-02-01T00:00:00Z","recordType":"A","parentHost":{"id":"www.example.com"},"artifact":{"@odata.type":"#microsoft.graph.security.ipAddress","id":"198.51.100.7"}}]}"##;
            return Some(http("200 OK", json, body, true));
        }
        Some(http("200 OK", json, r#"{"value":[]}"#, true))
    });

    std::env::set_var("DNSLEDGER_TEST_FED_KEY", &big);
    let indicators = ndjson_file(d, "watch.txt", &["# watchlist", "www.example.com", "rrset/name/mail.example.com/A"]);
    let config = d.join("dnsledger.toml");
    let up = &upstream.url;
    std::fs::write(
        &config,
        format!(
            r#"
[[upstream]]
name = "dnsdb"
kind = "dnsdb"
url = "{up}"
api_key_env = "DNSLEDGER_TEST_FED_KEY"
timeout_secs = 5

[[upstream]]
name = "circl"
kind = "circl"
url = "{up}"
username = "analyst"
api_key = "{big}"

[[upstream]]
name = "tiny"
kind = "dnsdb"
url = "{up}"
api_key = "{tiny}"

[[upstream]]
name = "pt"
kind = "passivetotal"
url = "{pt}"
username = "analyst@example.com"
api_key = "pt-key"

[[upstream]]
name = "down"
kind = "dnsdb"
url = "{down}"
api_key = "x"
timeout_secs = 2

[[upstream]]
name = "slow"
kind = "dnsdb"
url = "{slow}"
api_key = "x"
timeout_secs = 1

[[upstream]]
name = "garbage"
kind = "dnsdb"
url = "{garbage}"
api_key = "x"

[[upstream]]
name = "cut"
kind = "dnsdb"
url = "{cut}"
api_key = "x"

[[upstream]]
name = "defender"
kind = "defender"
url = "{defender}/v1.0"
tenant_id = "tenant-1"
client_id = "app-id"
token_url = "{defender}/tenant-1/oauth2/v2.0/token"
api_key = "graph-secret"
"#
        ),
    )
    .expect("config");
    let cfg = config.to_str().unwrap();
    let report = ok(&["config", "check", cfg]);
    assert!(report.contains("upstream dnsdb (dnsdb)"), "{report}");

    // 1. the CLI merges local, DNSDB, COF and PassiveTotal answers
    let (code, out, err) = run_env(&[
        "query",
        "--config",
        cfg,
        "--data-dir",
        ld,
        "-r",
        "www.example.com",
        "-f",
        "json",
        "--sources",
        "local,dnsdb,circl,pt,defender",
    ]);
    assert_eq!(code, 0, "{err}");
    let recs = lines(&out);
    let one = by_rdata(&recs, "192.0.2.1");
    // 3 local + 10 DNSDB + 10 COF (PassiveTotal knows no bailiwick: its records are its own)
    assert_eq!(one["count"], 23, "{one}");
    assert_eq!(one["time_first"], 1000, "{one}");
    assert_eq!(one["time_last"], 2500, "{one}");
    assert_eq!(one["sources"], serde_json::json!(["local", "dnsdb", "circl"]), "{one}");
    let pt_recs: Vec<&Value> = recs.iter().filter(|r| r["sources"] == serde_json::json!(["pt"])).collect();
    assert_eq!(pt_recs.len(), 2, "{recs:?}");
    let pt_new = by_rdata(&recs, "203.0.113.80");
    assert_eq!(pt_new["time_first"], 1706832000, "{pt_new}"); // 2024-02-02
    assert_eq!(by_rdata(&recs, "192.0.2.2")["sources"], serde_json::json!(["dnsdb", "circl"]));
    assert!(err.contains("source pt: 2 record(s)"), "{err}");
    let def = by_rdata(&recs, "198.51.100.7");
    assert_eq!((def["count"].as_u64(), &def["sources"]), (Some(1), &serde_json::json!(["defender"])), "{def}");
    assert_eq!(def["time_first"], 1704067200, "{def}"); // 2024-01-01
    assert!(err.contains("source defender: 1 record(s)"), "{err}");

    // 2. failures are reported, the local answer still arrives; exit code 3 says so
    let (code, out, err) = run_env(&[
        "query",
        "--config",
        cfg,
        "--data-dir",
        ld,
        "-r",
        "www.example.com",
        "-f",
        "json",
        "--sources",
        "local,down,slow,garbage,cut",
    ]);
    assert_eq!(code, 3, "{err}");
    let recs = lines(&out);
    let one = by_rdata(&recs, "192.0.2.1");
    // the cut stream's complete record is kept (3 local + 7)
    assert_eq!((one["count"].as_u64(), &one["sources"]), (Some(10), &serde_json::json!(["local", "cut"])), "{one}");
    for needle in [
        "source down: connection failed",
        "source slow: timed out",
        "source garbage: unreadable answer",
        "source cut: answer cut short",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }

    // 3. quota: `tiny` may make two queries a day
    let (code, out, err) = run_env(&[
        "pull",
        "--config",
        cfg,
        "--data-dir",
        ld,
        "--source",
        "tiny",
        "--json",
        "--indicators",
        &ndjson_file(d, "three.txt", &["a.example.com", "b.example.com", "c.example.com"]),
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let reps = lines(&out);
    assert_eq!(reps.len(), 3);
    assert!(reps[0]["error"].is_null() && reps[1]["error"].is_null(), "{reps:?}");
    assert!(reps[2]["error"].as_str().unwrap().contains("quota"), "{reps:?}");
    // the key is used up: a lookup through it gets a 429, reported, and the local answer arrives
    let (code, out, err) = run_env(&[
        "query",
        "--config",
        cfg,
        "--data-dir",
        ld,
        "-r",
        "www.example.com",
        "-f",
        "json",
        "--sources",
        "local,tiny",
    ]);
    assert_eq!(code, 3);
    assert_eq!(by_rdata(&lines(&out), "192.0.2.1")["count"], 3);
    assert!(err.contains("source tiny: quota exhausted"), "{err}");

    // 4. pulls: stored once, labelled, also through overlapping queries and a cut stream
    let pull = |source: &str, query: &str| -> Value {
        let (code, out, err) =
            run_env(&["pull", "--config", cfg, "--data-dir", ld, "--source", source, "--json", "--query", query]);
        let v: Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out} {err}"));
        assert_eq!(code == 0, v["error"].is_null(), "{v} {err}");
        v
    };
    let p = pull("dnsdb", "rrset/name/www.example.com");
    assert_eq!((p["received"].as_u64(), p["count_added"].as_u64()), (Some(2), Some(15)), "{p}");
    let p = pull("dnsdb", "rrset/name/www.example.com");
    assert_eq!((p["received"].as_u64(), p["count_added"].as_u64()), (Some(2), Some(0)), "{p}");
    let p = pull("dnsdb", "rrset/name/www.example.com/A/example.com");
    assert_eq!(p["count_added"], 0, "{p}");
    let p = pull("cut", "rrset/name/www.example.com");
    assert!(p["error"].as_str().unwrap().contains("cut short"), "{p}");
    assert_eq!(p["count_added"], 7, "{p}");
    assert_eq!(pull("cut", "rrset/name/www.example.com")["count_added"], 0);
    let p = pull("defender", "rrset/name/www.example.com");
    assert_eq!((p["received"].as_u64(), p["count_added"].as_u64()), (Some(1), Some(1)), "{p}");
    assert_eq!(pull("defender", "rrset/name/www.example.com")["count_added"], 0);
    let local_only =
        |d: &str| -> Vec<Value> { lines(&ok(&["query", "--data-dir", d, "-r", "www.example.com", "-f", "json"])) };
    let recs = local_only(ld);
    let one = by_rdata(&recs, "192.0.2.1");
    assert_eq!(one["count"], 3 + 10 + 7, "{one}");
    let sensors: Vec<&str> = one["sensors"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(
        sensors.contains(&"upstream:dnsdb") && sensors.contains(&"upstream:cut") && sensors.contains(&"local-1"),
        "{one}"
    );
    // asking DNSDB again does not count what was pulled from it twice
    let (code, out, err) = run_env(&[
        "query",
        "--config",
        cfg,
        "--data-dir",
        ld,
        "-r",
        "www.example.com",
        "-f",
        "json",
        "--sources",
        "local,dnsdb",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(by_rdata(&lines(&out), "192.0.2.1")["count"], 20);
    assert_eq!(by_rdata(&lines(&out), "192.0.2.2")["count"], 5);

    // 5. the server: SAF and native routes, scheduled pulls
    let mut text = std::fs::read_to_string(&config).unwrap();
    text = text.replacen(
        "timeout_secs = 5\n",
        &format!("timeout_secs = 5\npull_every = \"1h\"\npull_indicators = \"{indicators}\"\npull_watchlists = true\n"),
        1,
    );
    std::fs::write(&config, text).unwrap();
    // a watchlist: its entries are pulled too, and what arrives raises its alerts
    std::fs::create_dir_all(local_data.join("watchlists")).unwrap();
    std::fs::write(local_data.join("watchlists/ops.json"), r#"{"entries":[{"value":"ftp.example.com"}]}"#).unwrap();
    let local = Server::start(&local_data, &["--config", cfg]);
    // the scheduled pull runs at start: mail.example.com arrives, www.example.com is not doubled
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let doc = common::lookup(&local.url, "rrset/name/mail.example.com");
        if doc["returned"] == 1 {
            assert_eq!(doc["records"][0]["sensor_id"], "upstream:dnsdb", "{doc}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "scheduled pull did not store: {doc}");
        std::thread::sleep(Duration::from_millis(200));
    }
    loop {
        let doc = common::lookup(&local.url, "rrset/name/ftp.example.com");
        if doc["returned"] == 1 {
            assert_eq!(doc["records"][0]["count"], 4, "{doc}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "watchlist entry not pulled: {doc}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (status, body) = get(&format!("{}/api/v1/alerts?watchlist=ops", local.url));
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("first_match") && body.contains("ftp.example.com"), "{body}");
    std::thread::sleep(Duration::from_millis(500));
    let doc = common::lookup(&local.url, "rrset/name/www.example.com");
    let recs = doc["records"].as_array().unwrap().clone();
    assert_eq!(by_rdata(&recs, "192.0.2.1")["count"], 20, "{doc}");

    let (status, body) =
        get(&format!("{}/dnsdb/v2/lookup/rrset/name/www.example.com?sources=local,dnsdb,slow,garbage", local.url));
    assert_eq!(status, 200, "{body}");
    let saf = lines(&body);
    assert_eq!(saf[0], serde_json::json!({"cond": "begin"}));
    let term = saf.last().unwrap();
    assert_eq!(term["cond"], "succeeded", "{body}");
    let msg = term["msg"].as_str().unwrap();
    assert!(msg.contains("slow: timed out") && msg.contains("garbage: unreadable"), "{msg}");
    let objs: Vec<&Value> = saf.iter().filter_map(|l| l.get("obj")).collect();
    let one = objs.iter().find(|o| o["rdata"][0] == "192.0.2.1").expect("merged record");
    assert_eq!(one["count"], 20, "{one}");
    assert!(one.get("sources").is_none(), "SAF objects stay DNSDB-shaped: {one}");
    assert!(
        saf.iter().any(|l| l["cond"] == "ongoing" && l["msg"].as_str().unwrap().starts_with("source dnsdb")),
        "{body}"
    );

    let doc = common::lookup(&local.url, "rrset/name/www.example.com?sources=local,dnsdb,cut");
    let recs = doc["records"].as_array().unwrap();
    // pulled earlier, so local too
    assert_eq!(by_rdata(recs, "192.0.2.2")["sources"], serde_json::json!(["local", "dnsdb"]), "{doc}");
    assert_eq!(by_rdata(recs, "192.0.2.1")["count"], 20, "{doc}");
    assert!(doc["errors"][0].as_str().unwrap().starts_with("cut: answer cut short"), "{doc}");
    let rep: Vec<&str> = doc["sources"].as_array().unwrap().iter().map(|r| r["status"].as_str().unwrap()).collect();
    assert_eq!(rep, vec!["ok", "ok", "error"], "{doc}");
    let (status, body) =
        get(&format!("{}/api/v1/lookup/rdata/ip/192.0.2.2?sources=local,dnsdb&format=ndjson", local.url));
    assert_eq!(status, 200, "{body}");
    let nd = lines(&body);
    assert_eq!(nd.len(), 2, "{body}");
    // the inverse view has no bailiwick on either side: the pulled and the asked record are one
    assert_eq!(
        (nd[0]["count"].as_u64(), &nd[0]["sources"]),
        (Some(5), &serde_json::json!(["local", "dnsdb"])),
        "{body}"
    );
    assert!(nd[0].get("bailiwick").is_none(), "{body}");
    assert_eq!(nd[1]["errors"], serde_json::json!([]), "{body}");
    assert_eq!(nd[1]["sources"][1]["source"], "dnsdb", "{body}");
    // streaming mode: SAF records as each source answers, each with a msg naming its source;
    // the last line per record is the merged one
    let (status, body) =
        get(&format!("{}/dnsdb/v2/lookup/rrset/name/www.example.com?sources=local,dnsdb,garbage&stream=1", local.url));
    assert_eq!(status, 200, "{body}");
    let saf = lines(&body);
    assert_eq!(saf[0], serde_json::json!({"cond": "begin"}));
    let recs: Vec<&Value> = saf.iter().filter(|l| l.get("obj").is_some()).collect();
    assert!(recs[0]["msg"].as_str().unwrap().starts_with("from local;"), "{body}");
    let last_one = recs.iter().rev().find(|l| l["obj"]["rdata"][0] == "192.0.2.1").unwrap();
    assert_eq!(last_one["obj"]["count"], 20, "{body}");
    assert_eq!(last_one["msg"], "from dnsdb; sources local,dnsdb; update", "{body}");
    assert!(last_one["obj"].get("sources").is_none(), "SAF objects stay DNSDB-shaped: {body}");
    let term = saf.last().unwrap();
    assert_eq!(term["cond"], "succeeded", "{body}");
    assert!(term["msg"].as_str().unwrap().contains("garbage: unreadable"), "{body}");
    // native: NDJSON with source and update, progress lines, a last summary line
    let (status, body) = get(&format!(
        "{}/api/v1/lookup/rrset/name/www.example.com?sources=local,dnsdb,garbage&merge=stream",
        local.url
    ));
    assert_eq!(status, 200, "{body}");
    let nd = lines(&body);
    // the first record line is the local store's (a failed upstream's progress line may come first)
    let first = nd.iter().find(|l| l.get("rdata").is_some()).expect("a record line");
    assert_eq!((first["source"].as_str(), first["update"].as_bool()), (Some("local"), Some(false)), "{body}");
    let last_one = nd.iter().rev().find(|l| l["rdata"][0] == "192.0.2.1").unwrap();
    assert_eq!((last_one["count"].as_u64(), &last_one["sources"]), (Some(20), &serde_json::json!(["local", "dnsdb"])));
    assert!(
        nd.iter().any(|l| l["progress"]["source"] == "garbage" && l["progress"]["category"] == "garbage"),
        "{body}"
    );
    let summary = nd.last().unwrap();
    assert_eq!(summary["errors"].as_array().map(Vec::len), Some(1), "{body}");
    assert_eq!(summary["limited"], false, "{body}");
    // the CLI, here and through the server: same lines, exit code 3 for the failed source
    for target in [vec!["--data-dir", ld, "--config", cfg], vec!["--server", &local.url]] {
        let mut args =
            vec!["query", "-r", "www.example.com", "-f", "json", "--sources", "local,dnsdb,garbage", "--stream"];
        args.extend(target.iter().copied());
        let (code, out, err) = run_env(&args);
        assert_eq!(code, 3, "{out}{err}");
        let nd = lines(&out);
        let first = nd.iter().find(|l| l.get("rdata").is_some()).expect("a record line");
        assert_eq!(first["source"], "local", "{out}");
        let last_one = nd.iter().rev().find(|l| l["rdata"][0] == "192.0.2.1").unwrap();
        assert_eq!(last_one["count"], 20, "{out}");
        assert!(err.contains("source garbage: unreadable answer"), "{err}");
    }
    let (status, body) =
        get(&format!("{}/api/v1/lookup/rrset/name/www.example.com?sources=local&stream=1&merge=merged", local.url));
    assert_eq!(status, 400, "{body}");

    let (status, body) = get(&format!("{}/api/v1/lookup/rrset/name/www.example.com?sources=local,nosuch", local.url));
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("unknown source"), "{body}");
    // what happened with each upstream is in the metrics
    let (_, metrics) = get(&format!("{}/metrics", local.url));
    for needle in [
        // merged SAF, streamed SAF, streamed native, and the CLI's streamed lookup through the server
        "dnsledger_upstream_requests_total{upstream=\"garbage\",result=\"garbage\"} 4",
        "dnsledger_upstream_requests_total{upstream=\"cut\",result=\"truncated\"} 1",
        // mail.example.com (2) from the indicators file, ftp.example.com (4) from the watchlist
        "dnsledger_upstream_pulled_sightings_total{upstream=\"dnsdb\"} 6",
    ] {
        assert!(metrics.contains(needle), "{needle} not in /metrics:\n{metrics}");
    }
    assert!(local.terminate());
    drop(upstream);
}
