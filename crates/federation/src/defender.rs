//! Microsoft Defender Threat Intelligence passive DNS, through Microsoft Graph's security API.
//!
//! Requests and answers follow the Microsoft Graph v1.0 reference pages "List passiveDns"
//! (`GET /security/threatIntelligence/hosts/{hostId}/passiveDns`, a forward lookup),
//! "List passiveDnsReverse" (`…/hosts/{hostId}/passiveDnsReverse`, a reverse lookup) and the
//! `passiveDnsRecord` resource type: an OData collection `{"value":[…],"@odata.nextLink":…}`
//! of records with `id`, `firstSeenDateTime`, `lastSeenDateTime`, `collectedDateTime` (ISO 8601
//! UTC), `recordType`, `parentHost` `{"id":…}` and `artifact` `{"@odata.type":…,"id":…}`.
//!
//! - What can be asked: `rrset/name` of one exact name (forward: rrname = `parentHost.id`,
//!   rdata = `artifact.id`), and `rdata/ip` of one address or `rdata/name` of one exact name
//!   (reverse: rrname = `artifact.id`, rdata = `parentHost.id`, the host asked about). Other
//!   kinds are reported as unsupported. Types, time fences and the limit are applied to the
//!   answer; there is no bailiwick and no count (each record counts as one sighting).
//! - Paging: `@odata.nextLink` is followed until absent or the limit is reached. A next link
//!   must stay on the configured URL's scheme and host: the bearer token is never sent
//!   elsewhere.
//! - Credentials: the OAuth 2.0 client-credentials grant (`grant_type=client_credentials`,
//!   `client_id`, `client_secret` = the key, `scope`, form-encoded POST to `token_url`, by
//!   default the Microsoft identity platform's v2.0 endpoint of `tenant_id`). The token is
//!   cached per upstream until a minute before `expires_in`; a 401 from Graph drops it and the
//!   request is retried once with a fresh one. Tokens and secrets never appear in errors or
//!   logs.
//! - Throttling: a 429 with `Retry-After` (seconds or an HTTP date) is waited out and retried while that fits
//!   in the upstream's `timeout_secs` (counted from the start of the lookup), at most
//!   [`MAX_RETRIES`] times; otherwise it is reported as quota exhaustion with the delay asked.
//!
//! Hand-written rather than an OAuth crate: the grant is one form POST and one JSON answer,
//! and the upstream's agent (timeouts, TLS roots, connection reuse) must carry it.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use dnsledger_model::time::parse_datetime;
use dnsledger_model::{Aggregate, Observation, TypeFilter};
use dnsledger_sources::ndjson::NdjsonParser;
use dnsledger_sources::{LineParser, SourceOptions};
use serde::Deserialize;

use crate::config::Secret;
use crate::http::{self, UpstreamError};
use crate::query::{encode_segment, QueryKind, UpstreamQuery};
use crate::{Fetched, Upstream};

/// The scope asked for unless configured (Microsoft Graph's application permissions).
pub const DEFAULT_SCOPE: &str = "https://graph.microsoft.com/.default";
/// Most pages followed for one query.
const MAX_PAGES: u64 = 10_000;
/// Most 429 waits for one request.
pub const MAX_RETRIES: u32 = 3;
/// A cached token is renewed this long before it expires.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// Longest a token is kept, whatever its `expires_in` says.
const MAX_TOKEN_LIFE: Duration = Duration::from_secs(24 * 3600);
/// Largest page or token answer read.
const MAX_BODY: u64 = 64 << 20;

/// An access token and when it stops being used.
struct Token {
    value: Secret,
    renew_at: Instant,
}

/// The upstream's cached access token (one per [`Upstream`]).
#[derive(Default)]
pub(crate) struct TokenCache(Mutex<Option<Token>>);

impl TokenCache {
    fn get(&self) -> Option<Secret> {
        let g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.as_ref().filter(|t| Instant::now() < t.renew_at).map(|t| t.value.clone())
    }

    fn set(&self, value: Secret, expires_in: Duration) {
        // a lifetime beyond a day (or one that would overflow the clock) is taken as a day
        let life = expires_in.min(MAX_TOKEN_LIFE).saturating_sub(TOKEN_MARGIN);
        let renew_at = Instant::now() + life;
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(Token { value, renew_at });
    }

    fn clear(&self) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }
}

/// The token endpoint of an upstream.
pub fn token_url(up: &Upstream) -> Result<String, UpstreamError> {
    match (&up.config.token_url, &up.config.tenant_id) {
        (Some(u), _) => Ok(u.clone()),
        (None, Some(t)) if !t.is_empty() => {
            Ok(format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", encode_segment(t)))
        }
        _ => {
            Err(UpstreamError::Config(format!("upstream {:?}: kind defender needs tenant_id or token_url", up.name())))
        }
    }
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    token_type: Option<String>,
    expires_in: Option<serde_json::Value>,
    error: Option<String>,
    error_description: Option<String>,
}

/// A valid access token: the cached one, or a new one from the token endpoint.
fn token(up: &Upstream, agent: &ureq::Agent) -> Result<Secret, UpstreamError> {
    if let Some(t) = up.token.get() {
        return Ok(t);
    }
    let client_id = up
        .config
        .client_id
        .clone()
        .ok_or_else(|| UpstreamError::Config(format!("upstream {:?}: kind defender needs client_id", up.name())))?;
    let secret = match up.config.key() {
        Ok(Some(k)) => k,
        Ok(None) => {
            return Err(UpstreamError::Config(format!(
                "upstream {:?}: no client secret (api_key or api_key_env)",
                up.name()
            )))
        }
        Err(e) => return Err(UpstreamError::Config(e)),
    };
    let url = token_url(up)?;
    let scope = up.config.scope.clone().unwrap_or_else(|| DEFAULT_SCOPE.to_string());
    let timeout = up.config.timeout();
    up.pace()?;
    let mut resp = agent
        .post(&url)
        .header("Accept", "application/json")
        .send_form([
            ("grant_type", "client_credentials"),
            ("client_id", client_id.as_str()),
            ("client_secret", secret.expose()),
            ("scope", scope.as_str()),
        ])
        .map_err(|e| UpstreamError::from_ureq(e, timeout, &url))?;
    let status = resp.status().as_u16();
    if status == 429 {
        http::check_status(&mut resp)?;
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
        .map_err(|e| UpstreamError::from_ureq(e, timeout, &url))?;
    let answer: Result<TokenAnswer, _> = serde_json::from_slice(&body);
    if !(200..300).contains(&status) {
        // the identity platform explains refusals as {"error":…,"error_description":…}
        let why = match &answer {
            Ok(TokenAnswer { error: Some(e), error_description: d, .. }) => {
                let d = d.as_deref().and_then(|d| d.lines().next()).unwrap_or("").chars().take(200).collect::<String>();
                if d.is_empty() {
                    e.clone()
                } else {
                    format!("{e}: {d}")
                }
            }
            _ => String::from_utf8_lossy(&body).lines().next().unwrap_or("").chars().take(200).collect(),
        };
        return Err(UpstreamError::Status {
            status,
            message: format!("token endpoint refused the credentials: {why}"),
        });
    }
    let answer = answer.map_err(|e| UpstreamError::Garbage(format!("token endpoint: not a token answer: {e}")))?;
    let value = answer
        .access_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| UpstreamError::Garbage("token endpoint: no access_token in its answer".into()))?;
    if let Some(t) = answer.token_type.filter(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(UpstreamError::Garbage(format!("token endpoint: token_type {t:?}, expected Bearer")));
    }
    // a number, or a number in a string (both are seen in OAuth servers)
    let expires_in = match &answer.expires_in {
        Some(serde_json::Value::Number(n)) => n.as_u64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| UpstreamError::Garbage("token endpoint: no usable expires_in in its answer".into()))?;
    let token = Secret::new(value);
    up.token.set(token.clone(), Duration::from_secs(expires_in));
    Ok(token)
}

/// `scheme://authority` of a URL (for checking that next links stay on the upstream).
fn origin(url: &str) -> &str {
    let after = url.find("://").map_or(0, |i| i + 3);
    let end = url[after..].find(['/', '?', '#']).map_or(url.len(), |i| after + i);
    &url[..end]
}

/// One GET of a Graph URL with the bearer token: a 401 renews the token once; a 429 is waited
/// out while `Retry-After` fits before `deadline`. Returns the body.
fn get(
    up: &Upstream,
    agent: &ureq::Agent,
    url: &str,
    deadline: Instant,
    notes: &mut Vec<String>,
) -> Result<Vec<u8>, UpstreamError> {
    let timeout = up.config.timeout();
    let mut renewed = false;
    let mut waits = 0u32;
    loop {
        let token = token(up, agent)?;
        up.pace()?;
        let mut resp = agent
            .get(url)
            .header("Accept", "application/json")
            .header("Authorization", &format!("Bearer {}", token.expose()))
            .call()
            .map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url))?;
        let status = resp.status().as_u16();
        if status == 401 && !renewed {
            // expired or revoked before its announced end: one fresh token, one retry
            up.token.clear();
            renewed = true;
            let _ = resp.body_mut().with_config().limit(4096).read_to_vec();
            notes.push("access token refused (401): renewed once".into());
            continue;
        }
        if status == 429 {
            if let Some(after) = http::retry_after(&resp) {
                if waits < MAX_RETRIES && Instant::now().checked_add(after).is_some_and(|t| t < deadline) {
                    waits += 1;
                    let _ = resp.body_mut().with_config().limit(4096).read_to_vec();
                    notes.push(format!("throttled (429): waited {} s as Retry-After asked", after.as_secs()));
                    match crate::cancel::current() {
                        Some(c) if c.sleep(after) => return Err(UpstreamError::Cancelled),
                        Some(_) => {}
                        None => std::thread::sleep(after),
                    }
                    continue;
                }
            }
        }
        http::check_status(&mut resp)?;
        return resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY)
            .read_to_vec()
            .map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url));
    }
}

#[derive(Deserialize)]
struct Page {
    value: Vec<PassiveDnsRecord>,
    #[serde(rename = "@odata.nextLink", default)]
    next_link: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PassiveDnsRecord {
    first_seen_date_time: Option<String>,
    last_seen_date_time: Option<String>,
    record_type: Option<String>,
    parent_host: Option<Reference>,
    artifact: Option<Reference>,
}

#[derive(Deserialize)]
struct Reference {
    id: Option<String>,
}

/// Runs a lookup (see the module docs).
pub fn fetch(
    up: &Upstream,
    agent: &ureq::Agent,
    q: &UpstreamQuery,
    emit: &mut dyn FnMut(Observation),
) -> Result<Fetched, UpstreamError> {
    let reverse = match q.kind {
        QueryKind::RrsetName if !q.value.contains('*') && q.bailiwick.is_none() => false,
        QueryKind::RdataIp if !q.value.contains([',', '/', '-']) => true,
        QueryKind::RdataName if !q.value.contains('*') => true,
        _ => {
            return Err(UpstreamError::Unsupported(format!(
                "Defender TI answers one exact name (forward or reverse) or one address, not {}",
                q.display()
            )))
        }
    };
    let types = match q.rrtype.as_deref() {
        None => TypeFilter::Any,
        Some(t) => TypeFilter::parse(t).map_err(|_| UpstreamError::Unsupported(format!("rrtype {t:?}")))?,
    };
    let start = Instant::now();
    let deadline = start + up.config.timeout();
    let host = q.value.trim_end_matches('.');
    let base = http::base(&up.config);
    let mut url = format!(
        "{base}/security/threatIntelligence/hosts/{}/{}",
        encode_segment(host),
        if reverse { "passiveDnsReverse" } else { "passiveDns" }
    );
    let limit = q.limit.map_or(up.config.limit(), |l| l.min(up.config.limit()));
    let mut parser = NdjsonParser::new(&SourceOptions::default());
    let mut fetched = Fetched::default();
    let mut unreadable = 0u64;
    let mut notes = Vec::new();
    let mut pages = 0u64;
    'pages: loop {
        pages += 1;
        let body = get(up, agent, &url, deadline, &mut notes)?;
        let page: Page = serde_json::from_slice(&body)
            .map_err(|e| UpstreamError::Garbage(format!("not a passiveDnsRecord collection (page {pages}): {e}")))?;
        let n = page.value.len();
        for (i, r) in page.value.into_iter().enumerate() {
            let (Some(first), Some(last)) = (
                r.first_seen_date_time.as_deref().and_then(parse_datetime),
                r.last_seen_date_time.as_deref().and_then(parse_datetime),
            ) else {
                unreadable += 1;
                continue;
            };
            let parent = r.parent_host.and_then(|h| h.id).unwrap_or_else(|| host.to_string());
            let Some(artifact) = r.artifact.and_then(|a| a.id) else {
                unreadable += 1;
                continue;
            };
            let Some(rrtype) = r.record_type else {
                unreadable += 1;
                continue;
            };
            let (rrname, rdata) = if reverse { (artifact, parent) } else { (parent, artifact) };
            // a COF line, so the record is read (names, types, rdata) exactly as imported COF is
            let line = serde_json::json!({
                "rrname": rrname, "rrtype": rrtype, "rdata": [rdata],
                "time_first": first, "time_last": last, "count": 1,
            })
            .to_string();
            let mut kept = false;
            let res = parser.parse_line(line.as_bytes(), &mut |obs| {
                let mut agg = Aggregate::default();
                obs.add_to(&mut agg, None);
                if types.matches(obs.rrtype) && q.fence.matches(&agg) {
                    kept = true;
                    emit(obs.clone());
                }
            });
            if res.is_err() {
                unreadable += 1;
            }
            if kept {
                fetched.records += 1;
                if fetched.records >= limit {
                    fetched.limited = i + 1 < n || page.next_link.is_some();
                    break 'pages;
                }
            }
        }
        match page.next_link {
            None => break,
            Some(next) if origin(&next) == origin(base) => {
                if pages >= MAX_PAGES {
                    fetched.limited = true;
                    notes.push(format!("stopped after {MAX_PAGES} pages"));
                    break;
                }
                url = next;
            }
            Some(next) => {
                return Err(UpstreamError::Garbage(format!(
                    "@odata.nextLink leaves the upstream ({}): not followed",
                    origin(&next)
                )))
            }
        }
    }
    if pages > 1 {
        notes.push(format!("{pages} pages"));
    }
    if unreadable > 0 {
        notes.push(format!("{unreadable} record(s) could not be read and were left out"));
    }
    fetched.notes = notes;
    Ok(fetched)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absurd_lifetimes_do_not_overflow() {
        let c = TokenCache::default();
        c.set(Secret::new("t"), Duration::from_secs(u64::MAX));
        assert_eq!(c.get().map(|t| t.expose().to_string()), Some("t".into()));
        c.set(Secret::new("t"), Duration::ZERO);
        assert!(c.get().is_none(), "a token that expires now is not used");
        c.clear();
        assert!(c.get().is_none());
    }

    #[test]
    fn origins() {
        assert_eq!(origin("https://graph.example.net/v1.0/security/x?a=1"), "https://graph.example.net");
        assert_eq!(origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(origin("http://127.0.0.1:8080?x"), "http://127.0.0.1:8080");
        assert_ne!(origin("https://graph.example.net.evil.example/v1.0"), origin("https://graph.example.net/v1.0"));
    }
}
