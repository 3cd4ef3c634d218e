//! The Defender TI client against a loopback server that plays both the token endpoint and
//! Microsoft Graph, answering in the shapes of the Graph v1.0 reference ("List passiveDns",
//! "List passiveDnsReverse", the passiveDnsRecord resource) and of the client-credentials
//! token answer: OData paging through `@odata.nextLink`, a token revoked before its announced
//! expiry (401 → one renewal), 429 with `Retry-After` (waited out when it fits, reported as
//! quota when not), garbage, a next link that leaves the upstream, a refused secret; and the
//! connection count, showing that the upstream's one agent reuses its connection.

mod common;

use std::sync::{Arc, Mutex};

use common::{reply, serve, Fake, Req};
use dnsledger_federation::config::Secret;
use dnsledger_federation::{Kind, Upstream, UpstreamConfig, UpstreamError, UpstreamQuery};
use dnsledger_model::Observation;

const SECRET: &str = "s3cret-value";

/// One passiveDnsRecord as the Graph reference shows it.
fn record(id: &str, ty: &str, parent: &str, artifact_type: &str, artifact: &str, first: &str, last: &str) -> String {
    format!(
        r##"{{"@odata.type":"#microsoft.graph.security.passiveDnsRecord","id":"{id}","firstSeenDateTime":"{first}","lastSeenDateTime":"{last}","collectedDateTime":"2024-03-07T13:59:34.735Z","recordType":"{ty}","parentHost":{{"id":"{parent}"}},"artifact":{{"@odata.type":"#microsoft.graph.security.{artifact_type}","id":"{artifact}"}}}}"##
    )
}

struct Graph {
    fake: Fake,
    /// The token the server accepts now (None = every token refused until a new one is issued).
    valid: Arc<Mutex<Option<String>>>,
}

fn graph() -> Graph {
    let valid: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let issued = Arc::new(Mutex::new(0u32));
    let throttled_once = Arc::new(Mutex::new(false));
    let v = valid.clone();
    let fake = serve(move |req: &Req| {
        let json = [("Content-Type", "application/json")];
        if req.method == "POST" && req.path == "/tenant-1/oauth2/v2.0/token" {
            let ok = req.form("grant_type").as_deref() == Some("client_credentials")
                && req.form("client_id").as_deref() == Some("app-id")
                && req.form("scope").as_deref() == Some("https://graph.microsoft.com/.default");
            if !ok || req.form("client_secret").as_deref() != Some(SECRET) {
                return reply(
                    "401 Unauthorized",
                    &json,
                    r#"{"error":"invalid_client","error_description":"The client secret is not valid.\r\nTrace ID: 0"}"#,
                );
            }
            let mut n = issued.lock().unwrap();
            *n += 1;
            let token = format!("tok-{n}");
            *v.lock().unwrap() = Some(token.clone());
            return reply(
                "200 OK",
                &json,
                &format!(
                    r#"{{"token_type":"Bearer","expires_in":3599,"ext_expires_in":3599,"access_token":"{token}"}}"#
                ),
            );
        }
        let bearer = req.header("authorization").and_then(|a| a.strip_prefix("Bearer ")).map(str::to_string);
        if bearer.is_none() || bearer != *v.lock().unwrap() {
            return reply(
                "401 Unauthorized",
                &json,
                r#"{"error":{"code":"InvalidAuthenticationToken","message":"Access token has expired or is not yet valid."}}"#,
            );
        }
        let base = "/v1.0/security/threatIntelligence/hosts";
        let p = req.path.as_str();
        let first = record(
            "r1",
            "A",
            "www.example.com",
            "ipAddress",
            "192.0.2.1",
            "2022-04-18T10:31:12Z",
            "2023-03-07T13:19:35Z",
        );
        let second = record(
            "r2",
            "A",
            "www.example.com",
            "ipAddress",
            "192.0.2.2",
            "2023-01-01T00:00:00Z",
            "2023-06-01T00:00:00.5Z",
        );
        let cname = record(
            "r3",
            "CNAME",
            "www.example.com",
            "hostname",
            "cdn.example.net",
            "2021-01-01T00:00:00Z",
            "2021-02-01T00:00:00Z",
        );
        if p == format!("{base}/www.example.com/passiveDns") {
            let host = req.header("host").unwrap_or("");
            let next = format!("http://{host}{base}/www.example.com/passiveDns?$skiptoken=page2");
            return reply(
                "200 OK",
                &json,
                &format!(r#"{{"@odata.context":"x","value":[{first},{cname}],"@odata.nextLink":"{next}"}}"#),
            );
        }
        if p == format!("{base}/www.example.com/passiveDns?$skiptoken=page2") {
            return reply("200 OK", &json, &format!(r#"{{"value":[{second}]}}"#));
        }
        if p == format!("{base}/192.0.2.1/passiveDnsReverse") {
            let rev = record(
                "r4",
                "A",
                "192.0.2.1",
                "hostname",
                "mail.example.org",
                "2024-01-01T00:00:00Z",
                "2024-02-01T00:00:00Z",
            );
            return reply("200 OK", &json, &format!(r#"{{"value":[{rev}]}}"#));
        }
        if p == format!("{base}/throttled.example/passiveDns") {
            let mut once = throttled_once.lock().unwrap();
            if !*once {
                *once = true;
                return reply(
                    "429 Too Many Requests",
                    &[("Retry-After", "1")],
                    r#"{"error":{"code":"TooManyRequests"}}"#,
                );
            }
            return reply("200 OK", &json, &format!(r#"{{"value":[{first}]}}"#));
        }
        if p == format!("{base}/busy.example/passiveDns") {
            return reply(
                "429 Too Many Requests",
                &[("Retry-After", "120")],
                r#"{"error":{"code":"TooManyRequests"}}"#,
            );
        }
        if p == format!("{base}/garbage.example/passiveDns") {
            return reply("200 OK", &[("Content-Type", "text/html")], "<html>maintenance</html>");
        }
        if p == format!("{base}/escape.example/passiveDns") {
            return reply(
                "200 OK",
                &json,
                &format!(r#"{{"value":[{first}],"@odata.nextLink":"http://192.0.2.9/v1.0/steal"}}"#),
            );
        }
        reply("404 Not Found", &json, r#"{"error":{"code":"NotFound"}}"#)
    });
    Graph { fake, valid }
}

fn upstream(g: &Graph, secret: &str) -> Upstream {
    let mut c = UpstreamConfig::new("defender", Kind::Defender, &format!("{}/v1.0", g.fake.url));
    c.client_id = Some("app-id".into());
    c.tenant_id = Some("tenant-1".into());
    c.token_url = Some(format!("{}/tenant-1/oauth2/v2.0/token", g.fake.url));
    c.api_key = Some(Secret::new(secret));
    c.timeout_secs = Some(10);
    assert!(c.problems().is_empty(), "{:?}", c.problems());
    Upstream::new(c)
}

fn fetch(up: &Upstream, q: &str) -> (Result<dnsledger_federation::Fetched, UpstreamError>, Vec<Observation>) {
    let mut got = Vec::new();
    let r = up.fetch(&UpstreamQuery::parse(q).unwrap(), &mut |o| got.push(o));
    (r, got)
}

fn shown(got: &[Observation]) -> Vec<(String, String, String, u64, u64, u64)> {
    got.iter()
        .map(|o| {
            (
                o.rrname.to_presentation(),
                o.rrtype.to_string(),
                o.rdata[0].to_presentation(o.rrtype),
                o.time_first,
                o.time_last,
                o.count,
            )
        })
        .collect()
}

#[test]
fn defender_pages_tokens_throttling_and_garbage() {
    let g = graph();
    let up = upstream(&g, SECRET);

    // forward lookup over two pages; one token; one connection for token + both pages
    let (r, got) = fetch(&up, "rrset/name/www.example.com");
    let f = r.unwrap();
    assert_eq!((f.records, f.limited), (3, false), "{f:?}");
    let s = |a: &str| a.to_string();
    assert_eq!(
        shown(&got),
        vec![
            (s("www.example.com."), s("A"), s("192.0.2.1"), 1650277872, 1678195175, 1),
            (s("www.example.com."), s("CNAME"), s("cdn.example.net."), 1609459200, 1612137600, 1),
            (s("www.example.com."), s("A"), s("192.0.2.2"), 1672531200, 1685577600, 1),
        ]
    );
    assert!(got.iter().all(|o| o.bailiwick.is_none()));
    assert_eq!(g.fake.count("/tenant-1/oauth2"), 1);
    assert_eq!(g.fake.connections(), 1, "token and both pages on one kept-alive connection");

    // the type is applied to the answer; the cached token is used again
    let (r, got) = fetch(&up, "rrset/name/www.example.com/CNAME");
    assert_eq!(r.unwrap().records, 1);
    assert_eq!(got[0].rdata[0].to_presentation(got[0].rrtype), "cdn.example.net.");
    // a limit cuts the answer and says so
    let mut q = UpstreamQuery::parse("rrset/name/www.example.com").unwrap();
    q.limit = Some(1);
    let f = up.fetch(&q, &mut |_| {}).unwrap();
    assert!(f.limited && f.records == 1, "{f:?}");
    assert_eq!(g.fake.count("/tenant-1/oauth2"), 1, "the token is cached");

    // reverse lookup: rrname is the artifact, rdata the host asked about
    let (r, got) = fetch(&up, "rdata/ip/192.0.2.1");
    assert_eq!(r.unwrap().records, 1);
    assert_eq!(shown(&got)[0].0, "mail.example.org.");
    assert_eq!(shown(&got)[0].2, "192.0.2.1");

    // the server revokes the token before its announced expiry: 401, one renewal, answer
    *g.valid.lock().unwrap() = None;
    let (r, got) = fetch(&up, "rdata/ip/192.0.2.1");
    let f = r.unwrap();
    assert_eq!((f.records, got.len()), (1, 1));
    assert!(f.notes.iter().any(|n| n.contains("401")), "{f:?}");
    assert_eq!(g.fake.count("/tenant-1/oauth2"), 2);

    // 429 with a Retry-After that fits the timeout: waited out, retried once
    let (r, got) = fetch(&up, "rrset/name/throttled.example");
    let f = r.unwrap();
    assert_eq!(got.len(), 1);
    assert!(f.notes.iter().any(|n| n.contains("Retry-After")), "{f:?}");
    assert_eq!(g.fake.count("/v1.0/security/threatIntelligence/hosts/throttled.example"), 2);
    // ...and one that does not fit: quota, with the delay asked, no waiting
    let (r, _) = fetch(&up, "rrset/name/busy.example");
    assert!(matches!(&r, Err(UpstreamError::Quota(m)) if m.contains("retry after 120 s")), "{r:?}");
    assert_eq!(g.fake.count("/v1.0/security/threatIntelligence/hosts/busy.example"), 1);

    // garbage and a next link to another host
    let (r, _) = fetch(&up, "rrset/name/garbage.example");
    assert!(matches!(r, Err(UpstreamError::Garbage(_))), "{r:?}");
    let (r, got) = fetch(&up, "rrset/name/escape.example");
    assert!(matches!(&r, Err(UpstreamError::Garbage(m)) if m.contains("nextLink")), "{r:?}");
    assert_eq!(got.len(), 1, "records before the bad link were delivered");
    assert!(!g.fake.requests.lock().unwrap().iter().any(|r| r.path.contains("steal")));

    // what Graph cannot ask is unsupported, not guessed
    for q in ["rrset/name/*.example.com", "rdata/ip/192.0.2.0,24", "rrset/raw/076578616d706c6503636f6d00"] {
        let (r, _) = fetch(&up, q);
        assert!(matches!(r, Err(UpstreamError::Unsupported(_))), "{q}: {r:?}");
    }
    // all of the above (15 requests: 2 tokens, 13 Graph requests) over the one connection
    assert_eq!(g.fake.requests.lock().unwrap().len(), 15);
    assert_eq!(g.fake.connections(), 1);
}

#[test]
fn defender_refused_secret_is_reported_without_the_secret() {
    let g = graph();
    let up = upstream(&g, "wrong-secret");
    let (r, _) = fetch(&up, "rrset/name/www.example.com");
    let e = r.unwrap_err();
    assert!(
        matches!(&e, UpstreamError::Status { status: 401, message } if message.contains("invalid_client")),
        "{e:?}"
    );
    let text = format!("{e} {e:?} {up:?}");
    assert!(!text.contains("wrong-secret"), "{text}");
    // no Graph request was sent without a token
    assert_eq!(g.fake.count("/v1.0"), 0);
    // configuration problems name the fields
    let c = UpstreamConfig::new("d", Kind::Defender, "https://graph.example.net/v1.0");
    let p = c.problems().join("\n");
    assert!(p.contains("client_id") && p.contains("tenant_id"), "{p}");
    let mut c = UpstreamConfig::new("x", Kind::Dnsdb, "https://dnsdb.example.net");
    c.client_id = Some("a".into());
    assert!(c.problems().join("\n").contains("defender only"));
}
