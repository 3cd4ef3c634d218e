//! The clients against small loopback HTTP servers that answer as the protocols describe:
//! COF paging through `dribble-*` headers, SAF `limited`/`failed`/keepalive lines, 429 and
//! other statuses, PassiveTotal answers (the shape of the PassiveTotal v2 `/v2/dns/passive`
//! documentation) and their mapping, and the local rate limit.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dnsledger_federation::config::Secret;
use dnsledger_federation::{Kind, Upstream, UpstreamConfig, UpstreamError, UpstreamQuery};
use dnsledger_model::Observation;

/// Serves each connection with `respond(request head)`; returns the base URL and the heads seen.
fn serve(respond: impl Fn(&str) -> String + Send + Sync + 'static) -> (String, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let (respond, log) = (Arc::new(respond), seen.clone());
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            let mut head = Vec::new();
            let mut b = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                if s.read(&mut b).unwrap_or(0) == 0 {
                    break;
                }
                head.push(b[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            log.lock().unwrap().push(head.clone());
            let _ = s.write_all(respond(&head).as_bytes());
        }
    });
    (url, seen)
}

fn reply(status: &str, body: &str) -> String {
    format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
}

fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

fn upstream(kind: Kind, url: &str) -> Upstream {
    let mut c = UpstreamConfig::new("up", kind, url);
    c.username = Some("analyst@example.com".into());
    c.api_key = Some(Secret::new("k3y"));
    c.timeout_secs = Some(5);
    Upstream::new(c)
}

fn fetch(up: &Upstream, q: &str) -> (Result<dnsledger_federation::Fetched, UpstreamError>, Vec<Observation>) {
    let mut got = Vec::new();
    let r = up.fetch(&UpstreamQuery::parse(q).unwrap(), &mut |o| got.push(o));
    (r, got)
}

fn cof(i: u32) -> String {
    format!("{{\"rrname\":\"h{i}.example.com\",\"rrtype\":\"A\",\"rdata\":[\"192.0.2.{i}\"],\"time_first\":1,\"time_last\":2,\"count\":{i}}}\n")
}

#[test]
fn cof_pages_follow_the_dribble_cursor() {
    // 5 records, pages of at most 2: cursors 2 and 4, the last page has no cursor
    let (url, seen) = serve(|head| {
        if header(head, "authorization") != Some("Basic YW5hbHlzdEBleGFtcGxlLmNvbTprM3k=") {
            return reply("401 Unauthorized", "no\n");
        }
        let start: u32 = header(head, "dribble-paginate-cursor").map_or(0, |c| c.parse().unwrap());
        let count: u32 = header(head, "dribble-paginate-count").unwrap().parse().unwrap();
        let end = (start + count.min(2)).min(5);
        let body: String = (start + 1..=end).map(cof).collect();
        let cursor = if end < 5 { format!("x-dribble-cursor: {end}\r\n") } else { String::new() };
        format!("HTTP/1.1 200 OK\r\n{cursor}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
    });
    let up = upstream(Kind::Circl, &url);
    let (r, got) = fetch(&up, "rrset/name/example.com/A");
    let f = r.unwrap();
    assert_eq!((f.records, f.limited, got.len()), (5, false, 5));
    let heads = seen.lock().unwrap().clone();
    assert_eq!(heads.len(), 3, "{heads:?}");
    assert!(heads[0].starts_with("GET /pdns/query/example.com "));
    assert_eq!(header(&heads[0], "dribble-filter-rrtype"), Some("A"));
    assert_eq!(header(&heads[1], "dribble-paginate-cursor"), Some("2"));
    assert_eq!(header(&heads[2], "dribble-paginate-cursor"), Some("4"));
    assert_eq!(got[4].count, 5);
    // COF cannot ask inverse name lookups or prefixes
    let (r, _) = fetch(&up, "rdata/name/ns1.example.net");
    assert!(matches!(r, Err(UpstreamError::Unsupported(_))), "{r:?}");
    let (r, _) = fetch(&up, "rdata/ip/192.0.2.0,24");
    assert!(matches!(r, Err(UpstreamError::Unsupported(_))), "{r:?}");
    // wrong credentials are an error with the status
    let mut bad = UpstreamConfig::new("up", Kind::Circl, &url);
    bad.api_key = Some(Secret::new("wrong"));
    let (r, _) = fetch(&Upstream::new(bad), "rrset/name/example.com");
    assert!(matches!(r, Err(UpstreamError::Status { status: 401, .. })), "{r:?}");
}

#[test]
fn saf_conditions_and_statuses() {
    let obj = "{\"obj\":{\"count\":4,\"time_first\":10,\"time_last\":20,\"rrname\":\"www.example.com.\",\"rrtype\":\"A\",\"bailiwick\":\"example.com.\",\"rdata\":[\"192.0.2.1\"]}}\n";
    let obj = Arc::new(obj.to_string());
    let o = obj.clone();
    let (url, seen) = serve(move |head| {
        let path = head.split(' ').nth(1).unwrap_or("");
        let body = if path.contains("/limited.example") {
            format!("{{\"cond\":\"begin\"}}\n{o}{{\"cond\":\"ongoing\",\"msg\":\"keepalive\"}}\n{{\"cond\":\"limited\",\"msg\":\"Result limit reached\"}}\n")
        } else if path.contains("/failed.example") {
            format!("{{\"cond\":\"begin\"}}\n{o}{{\"cond\":\"failed\",\"msg\":\"query timed out\"}}\n")
        } else if path.contains("/nobegin.example") {
            o.to_string()
        } else if path.contains("/quota.example") {
            return reply("429 Too Many Requests", "Error: Quota exhausted\n");
        } else if path.contains("/missing.example") {
            return reply("404 Not Found", "Error: unknown API path\n");
        } else if path.starts_with("/dnsdb/v2/rate_limit") {
            "{\"rate\":{\"reset\":1700000000,\"limit\":100,\"remaining\":7}}\n".to_string()
        } else {
            format!("{{\"cond\":\"begin\"}}\n{o}{{\"cond\":\"succeeded\"}}\n")
        };
        reply("200 OK", &body)
    });
    let up = upstream(Kind::Dnsdb, &url);
    let (r, got) = fetch(&up, "rrset/name/www.example.com/A");
    assert_eq!(r.unwrap().records, 1);
    assert_eq!((got[0].count, got[0].time_first, got[0].time_last), (4, 10, 20));
    let head = seen.lock().unwrap()[0].clone();
    assert!(head.starts_with("GET /dnsdb/v2/lookup/rrset/name/www.example.com/A?limit=10000"), "{head}");
    assert_eq!(header(&head, "x-api-key"), Some("k3y"));
    let (r, got) = fetch(&up, "rrset/name/limited.example");
    let f = r.unwrap();
    assert!(f.limited && got.len() == 1 && f.notes == vec!["Result limit reached".to_string()], "{f:?}");
    let (r, got) = fetch(&up, "rrset/name/failed.example");
    assert_eq!(r, Err(UpstreamError::Failed("query timed out".into())));
    assert_eq!(got.len(), 1, "records before the failure are delivered");
    let (r, _) = fetch(&up, "rrset/name/nobegin.example");
    assert!(matches!(r, Err(UpstreamError::Garbage(_))), "{r:?}");
    let (r, _) = fetch(&up, "rrset/name/quota.example");
    assert_eq!(r, Err(UpstreamError::Quota("Error: Quota exhausted".into())));
    let (r, _) = fetch(&up, "rrset/name/missing.example");
    assert!(matches!(r, Err(UpstreamError::Status { status: 404, .. })), "{r:?}");
    let q = up.quota().unwrap().unwrap();
    assert_eq!((q.limit, q.remaining, q.reset), (Some(100), Some(7), Some(1700000000)));
    // no key configured: refused before any request
    let (r, _) = fetch(&Upstream::new(UpstreamConfig::new("nokey", Kind::Dnsdb, &url)), "rrset/name/a.example");
    assert!(matches!(r, Err(UpstreamError::Config(_))), "{r:?}");
    // https is a connection like any other (nothing listens on port 1)...
    let (r, _) = fetch(&upstream(Kind::Dnsdb, "https://127.0.0.1:1"), "rrset/name/a.example");
    assert!(matches!(r, Err(UpstreamError::Connection(_))), "{r:?}");
    // ...and a CA file that cannot be read is a configuration error naming it
    let mut cfg = UpstreamConfig::new("badca", Kind::Dnsdb, "https://127.0.0.1:1");
    cfg.api_key = Some(Secret::new("k"));
    cfg.ca_file = Some("/nonexistent/ca.pem".into());
    assert!(cfg.problems().iter().any(|p| p.contains("ca_file") && p.contains("/nonexistent/ca.pem")));
    let (r, _) = fetch(&Upstream::new(cfg), "rrset/name/a.example");
    assert!(matches!(r, Err(UpstreamError::Config(ref m)) if m.contains("/nonexistent/ca.pem")), "{r:?}");
}

#[test]
fn passivetotal_answers_map_to_records() {
    let answer = r#"{"totalRecords":2,"firstSeen":"2024-01-01 00:00:00","lastSeen":"2024-03-01 12:00:00","results":[{"firstSeen":"2024-01-01 00:00:00","lastSeen":"2024-02-01 00:00:00","source":["riskiq"],"value":"192.0.2.1","collected":"2024-03-02 00:00:00","resolve":"www.example.com","recordType":"A","resolveType":"domain","recordHash":"aa"},{"firstSeen":"2024-02-01 00:00:00","lastSeen":"2024-03-01 12:00:00","source":["pingly"],"value":"192.0.2.1","collected":"2024-03-02 00:00:00","resolve":"mail.example.net","recordType":"A","resolveType":"domain","recordHash":"bb"}],"queryType":"ip","queryValue":"192.0.2.1","pager":null}"#;
    let (url, seen) = serve(move |head| {
        if head.starts_with("GET /v2/dns/passive?query=192.0.2.1 ") {
            reply("200 OK", answer)
        } else if head.starts_with("GET /v2/dns/passive?query=paged.example ") {
            // a name answer: `value` is the owner (the query value), `resolve` the address
            reply(
                "200 OK",
                r#"{"totalRecords":9,"results":[{"firstSeen":"2024-01-01 00:00:00","lastSeen":"2024-01-02 00:00:00","source":["riskiq"],"value":"paged.example","collected":"2024-01-03 00:00:00","resolve":"192.0.2.7","recordType":"A","resolveType":"ip","recordHash":"cc"},{"firstSeen":"2024-01-01 00:00:00","lastSeen":"2024-01-02 00:00:00","source":["riskiq"],"value":"paged.example","collected":"2024-01-03 00:00:00","resolve":"hostmaster@paged.example","recordType":"SOA","resolveType":"email","recordHash":"dd"}],"queryType":"domain","queryValue":"paged.example","pager":{"next":"x"}}"#,
            )
        } else if head.starts_with("GET /v2/dns/passive?query=garbage.example ") {
            reply("200 OK", "{\"results\":\"nope\"}")
        } else {
            reply("200 OK", "{\"totalRecords\":0,\"results\":[],\"queryValue\":\"x\",\"pager\":null}")
        }
    });
    let up = upstream(Kind::Passivetotal, &url);
    let (r, got) = fetch(&up, "rdata/ip/192.0.2.1");
    assert_eq!(r.unwrap().records, 2);
    let names: Vec<String> = got.iter().map(|o| o.rrname.to_presentation()).collect();
    assert_eq!(names, vec!["www.example.com.", "mail.example.net."]);
    assert_eq!(got[1].rdata[0].to_presentation(got[1].rrtype), "192.0.2.1");
    assert_eq!((got[1].time_first, got[1].time_last, got[1].count), (1706745600, 1709294400, 1));
    assert_eq!(header(&seen.lock().unwrap()[0], "authorization"), Some("Basic YW5hbHlzdEBleGFtcGxlLmNvbTprM3k="));
    let (r, got) = fetch(&up, "rrset/name/paged.example");
    let f = r.unwrap();
    assert!(f.limited && f.records == 1, "{f:?}");
    assert!(
        f.notes.iter().any(|n| n.contains("pager")) && f.notes.iter().any(|n| n.contains("1 resolution(s)")),
        "{f:?}"
    );
    assert_eq!(got[0].rrname.to_presentation(), "paged.example.");
    assert_eq!(got[0].rdata[0].to_presentation(got[0].rrtype), "192.0.2.7");
    let (r, _) = fetch(&up, "rrset/name/garbage.example");
    assert!(matches!(r, Err(UpstreamError::Garbage(_))), "{r:?}");
    let (r, _) = fetch(&up, "rrset/name/*.example.com");
    assert!(matches!(r, Err(UpstreamError::Unsupported(_))), "{r:?}");
}

#[test]
fn local_rate_limit_spaces_requests() {
    let (url, _) = serve(|_| reply("200 OK", "{\"cond\":\"begin\"}\n{\"cond\":\"succeeded\"}\n"));
    let mut c = UpstreamConfig::new("paced", Kind::Dnsdb, &url);
    c.api_key = Some(Secret::new("k"));
    c.rate_limit_per_min = Some(300); // one per 200 ms
    let up = Upstream::new(c);
    let t = Instant::now();
    for _ in 0..3 {
        fetch(&up, "rrset/name/example.com").0.unwrap();
    }
    assert!(t.elapsed() >= Duration::from_millis(400), "{:?}", t.elapsed());
}
