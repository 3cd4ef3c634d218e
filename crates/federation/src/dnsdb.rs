//! DNSDB API v2 client (`shared/reference/dnsdb-api.md` §1–2): `GET
//! {url}/dnsdb/v2/lookup/{kind}/{value}[/{type}[/{bailiwick}]]` with `X-API-Key`, `limit` and the
//! four time fences, answered as a SAF stream that is decoded line by line as it arrives (the
//! records inside `obj` by `dnsledger-sources`' DNSDB parser), and `GET /dnsdb/v2/rate_limit`
//! for the key's quota.
//!
//! SAF rules enforced: the first line must be `begin`; `limited` ends a complete-but-cut
//! answer, `failed` an answer the server gave up on (records before it are kept, the failure
//! is reported); a stream that ends without a terminator is *truncated*. HTTP 429 is quota
//! exhaustion; other statuses carry the body's first line (DNSDB sends no SAF on errors).

use dnsledger_model::Observation;
use dnsledger_sources::dnsdb::DnsdbParser;
use dnsledger_sources::{LineParser, SourceOptions};
use serde::Deserialize;

use crate::http::{self, UpstreamError};
use crate::query::UpstreamQuery;
use crate::{Fetched, Upstream};

/// A DNSDB key's quota as `rate_limit` reports it (`None` = `n/a`/`unlimited`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quota {
    /// Queries the key may make per period.
    pub limit: Option<u64>,
    /// Queries left.
    pub remaining: Option<u64>,
    /// When the period resets (epoch seconds).
    pub reset: Option<u64>,
    /// Most results per query.
    pub results_max: Option<u64>,
    /// Burst quota: queries per window.
    pub burst: Option<(u64, u64)>,
}

#[derive(Deserialize)]
struct SafLine<'a> {
    #[serde(borrow, default)]
    cond: Option<std::borrow::Cow<'a, str>>,
    #[serde(default)]
    msg: Option<String>,
    #[serde(default)]
    obj: Option<serde::de::IgnoredAny>,
}

fn key(up: &Upstream) -> Result<String, UpstreamError> {
    match up.config.key() {
        Ok(Some(k)) => Ok(k.expose().to_string()),
        Ok(None) => Err(UpstreamError::Config(format!("upstream {:?}: no api_key or api_key_env", up.name()))),
        Err(e) => Err(UpstreamError::Config(e)),
    }
}

/// Runs a lookup (see the module docs).
pub fn fetch(
    up: &Upstream,
    agent: &ureq::Agent,
    q: &UpstreamQuery,
    emit: &mut dyn FnMut(Observation),
) -> Result<Fetched, UpstreamError> {
    let key = key(up)?;
    let timeout = up.config.timeout();
    let limit = q.limit.map_or(up.config.limit(), |l| l.min(up.config.limit()));
    let mut url = format!("{}/dnsdb/v2/lookup/{}?limit={limit}&swclient=dnsledger", http::base(&up.config), q.path());
    for (k, v) in q.fence_params() {
        url.push_str(&format!("&{k}={v}"));
    }
    up.pace()?;
    let mut resp = agent
        .get(&url)
        .header("X-API-Key", &key)
        .header("Accept", "application/x-ndjson")
        .call()
        .map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url))?;
    http::check_status(&mut resp)?;
    let mut parser = DnsdbParser::new(&SourceOptions::default());
    let records = std::cell::Cell::new(0u64);
    let mut fetched = Fetched::default();
    let mut begun = false;
    let mut ended: Option<Result<(), UpstreamError>> = None;
    let mut rejected = 0u64;
    let rdata = q.kind.is_rdata();
    http::for_each_line(resp.body_mut().as_reader(), timeout, &|| records.get(), &mut |line| {
        let saf: SafLine<'_> = serde_json::from_slice(line)
            .map_err(|e| UpstreamError::Garbage(format!("not a SAF line after {} record(s): {e}", records.get())))?;
        match saf.cond.as_deref() {
            Some("begin") => {
                begun = true;
                return Ok(true);
            }
            _ if !begun => return Err(UpstreamError::Garbage("the answer does not start with a SAF begin".into())),
            Some("succeeded") => {
                ended = Some(Ok(()));
                return Ok(false);
            }
            Some("limited") => {
                fetched.limited = true;
                fetched.notes.push(saf.msg.unwrap_or_else(|| "result limit reached".into()));
                ended = Some(Ok(()));
                return Ok(false);
            }
            Some("failed") => {
                ended = Some(Err(UpstreamError::Failed(saf.msg.unwrap_or_else(|| "no reason given".into()))));
                return Ok(false);
            }
            None | Some("ongoing") => {}
            Some(other) => return Err(UpstreamError::Garbage(format!("unknown SAF cond {other:?}"))),
        }
        if saf.obj.is_none() {
            return Ok(true); // keepalive or notice
        }
        records.set(records.get() + 1);
        let outcome = parser.parse_line(line, &mut |obs| {
            let mut o = obs.clone();
            if rdata {
                o.bailiwick = None;
            }
            emit(o)
        });
        if outcome.is_err() {
            rejected += 1;
        }
        Ok(true)
    })?;
    fetched.records = records.get();
    if rejected > 0 {
        fetched.notes.push(format!("{rejected} record(s) could not be read and were left out"));
    }
    match ended {
        Some(Ok(())) => Ok(fetched),
        Some(Err(e)) => Err(e),
        None if !begun => Err(UpstreamError::Garbage("an empty answer (no SAF begin)".into())),
        None => Err(UpstreamError::Truncated(format!(
            "no SAF terminator after {} record(s): the stream was cut",
            fetched.records
        ))),
    }
}

/// Asks `rate_limit` for the key's quota.
pub fn quota(up: &Upstream, agent: &ureq::Agent) -> Result<Quota, UpstreamError> {
    let key = key(up)?;
    let timeout = up.config.timeout();
    up.pace()?;
    let url = format!("{}/dnsdb/v2/rate_limit", http::base(&up.config));
    let mut resp = agent
        .get(&url)
        .header("X-API-Key", &key)
        .header("Accept", "application/x-ndjson")
        .call()
        .map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url))?;
    http::check_status(&mut resp)?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 10)
        .read_to_string()
        .map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url))?;
    parse_quota(&body)
}

/// Parses a `rate_limit` answer.
pub fn parse_quota(body: &str) -> Result<Quota, UpstreamError> {
    let v: serde_json::Value =
        serde_json::from_str(body.trim()).map_err(|e| UpstreamError::Garbage(format!("rate_limit: {e}")))?;
    let rate = v.get("rate").ok_or_else(|| UpstreamError::Garbage("rate_limit: no \"rate\" object".into()))?;
    let int = |k: &str| rate.get(k).and_then(serde_json::Value::as_u64);
    Ok(Quota {
        limit: int("limit"),
        remaining: int("remaining"),
        reset: int("reset"),
        results_max: int("results_max"),
        burst: int("burst_size").zip(int("burst_window")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas() {
        let q = parse_quota("{\"rate\":{\"reset\":1433980800,\"limit\":1000,\"remaining\":999}}\n").unwrap();
        assert_eq!((q.limit, q.remaining, q.reset), (Some(1000), Some(999), Some(1433980800)));
        let q = parse_quota("{\"rate\":{\"reset\":\"n/a\",\"limit\":\"unlimited\",\"remaining\":\"n/a\",\"burst_size\":10,\"burst_window\":300}}").unwrap();
        assert_eq!((q.limit, q.remaining, q.burst), (None, None, Some((10, 300))));
        assert!(parse_quota("{}").is_err());
        assert!(parse_quota("<html>").is_err());
    }
}
