//! PassiveTotal (RiskIQ, now part of Microsoft Defender Threat Intelligence) passive DNS client.
//! (Defender TI's own API through Microsoft Graph is [`crate::defender`].)
//!
//! The request and answer follow the public PassiveTotal API v2 documentation of
//! `GET /v2/dns/passive` ("Passive DNS: get passive DNS", api.passivetotal.org v2 reference):
//! `query=<domain or IP>` with HTTP Basic credentials (account e-mail as user, API key as
//! password), answered by one JSON document
//!
//! ```json
//! {"totalRecords":1,"firstSeen":"2016-01-01 00:00:00","lastSeen":"2017-01-01 00:00:00",
//!  "results":[{"firstSeen":"2016-01-01 00:00:00","lastSeen":"2017-01-01 00:00:00",
//!              "source":["riskiq"],"value":"example.com","collected":"2017-01-02 00:00:00",
//!              "resolve":"192.0.2.1","recordType":"A","resolveType":"ip","recordHash":"…"}],
//!  "queryType":"domain","queryValue":"example.com","pager":null}
//! ```
//!
//! Field meanings were re-checked against that documentation and PassiveTotal's own Python
//! client (`passivetotal.analyzer.pdns`): per result, `value` is the query value the
//! resolution was found for, `resolve` the other side, and `resolveType` what `resolve` is
//! (`ip`, `domain`, `email`, …). Mapping: for a name query each result is (rrname = `value`,
//! rrtype = `recordType`, rdata = `resolve`); for an address query (rrname = `resolve`, rrtype
//! = `recordType`, rdata = `value`); `value` falls back to the document's `queryValue`, then
//! to the value asked. Times are `firstSeen`/`lastSeen` (UTC `YYYY-MM-DD HH:MM:SS`).
//! PassiveTotal reports no observation count: each resolution counts as one sighting (`count`
//! 1). There is no bailiwick. Only `rrset/name` of one exact name and `rdata/ip` of one
//! address can be asked; types, fences and limits are applied to the answer. A result whose
//! `resolve` is not DNS data (an SOA's contact e-mail) cannot be read and is left out (the
//! report counts them). A non-null `pager` means more pages exist: only the first is read and
//! the answer is marked limited. The answer is one document (not a stream): it is read whole,
//! up to 64 MiB.

use dnsledger_model::time::parse_datetime;
use dnsledger_model::{Aggregate, Observation, TypeFilter};
use dnsledger_sources::ndjson::NdjsonParser;
use dnsledger_sources::{LineParser, SourceOptions};
use serde::Deserialize;

use crate::http::{self, UpstreamError};
use crate::query::{QueryKind, UpstreamQuery};
use crate::{Fetched, Upstream};

/// The answer document.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer {
    results: Vec<Resolution>,
    #[serde(default)]
    query_value: Option<String>,
    #[serde(default)]
    pager: Option<serde_json::Value>,
}

/// One resolution.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Resolution {
    first_seen: String,
    last_seen: String,
    resolve: String,
    record_type: String,
    #[serde(default)]
    value: Option<String>,
}

/// Runs a lookup (see the module docs).
pub fn fetch(
    up: &Upstream,
    agent: &ureq::Agent,
    q: &UpstreamQuery,
    emit: &mut dyn FnMut(Observation),
) -> Result<Fetched, UpstreamError> {
    match q.kind {
        QueryKind::RrsetName if !q.value.contains('*') && q.bailiwick.is_none() => {}
        QueryKind::RdataIp if !q.value.contains([',', '/', '-']) => {}
        _ => {
            return Err(UpstreamError::Unsupported(format!(
                "PassiveTotal answers one exact name or one address, not {}",
                q.display()
            )))
        }
    }
    let user = up.config.username.clone().unwrap_or_default();
    let key = match up.config.key() {
        Ok(Some(k)) => k,
        Ok(None) => return Err(UpstreamError::Config(format!("upstream {:?}: no api_key or api_key_env", up.name()))),
        Err(e) => return Err(UpstreamError::Config(e)),
    };
    let types = match q.rrtype.as_deref() {
        None => TypeFilter::Any,
        Some(t) => TypeFilter::parse(t).map_err(|_| UpstreamError::Unsupported(format!("rrtype {t:?}")))?,
    };
    let timeout = up.config.timeout();
    let url = format!("{}/v2/dns/passive", http::base(&up.config));
    up.pace()?;
    let mut resp = agent
        .get(&url)
        .query("query", &q.value)
        .header("Accept", "application/json")
        .header("Authorization", &http::basic(&user, key.expose()))
        .call()
        .map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url))?;
    http::check_status(&mut resp)?;
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_vec()
        .map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url))?;
    let answer: Answer = serde_json::from_slice(&body)
        .map_err(|e| UpstreamError::Garbage(format!("not a PassiveTotal passive DNS answer: {e}")))?;
    let queried = answer.query_value.unwrap_or_else(|| q.value.clone());
    let limit = q.limit.map_or(up.config.limit(), |l| l.min(up.config.limit()));
    let mut parser = NdjsonParser::new(&SourceOptions::default());
    let mut fetched = Fetched::default();
    let mut unreadable = 0u64;
    for r in &answer.results {
        let (Some(first), Some(last)) = (parse_datetime(&r.first_seen), parse_datetime(&r.last_seen)) else {
            unreadable += 1;
            continue;
        };
        let asked = r.value.as_deref().filter(|v| !v.is_empty()).unwrap_or(queried.as_str());
        let (rrname, rdata) = match q.kind {
            QueryKind::RdataIp => (r.resolve.as_str(), asked),
            _ => (asked, r.resolve.as_str()),
        };
        // a COF line, so the record is read (names, types, rdata) exactly as imported COF is
        let line = serde_json::json!({
            "rrname": rrname, "rrtype": r.record_type, "rdata": [rdata],
            "time_first": first, "time_last": last, "count": 1,
        })
        .to_string();
        let mut kept = false;
        let res = parser.parse_line(line.as_bytes(), &mut |obs| {
            let mut agg = Aggregate::default();
            obs.add_to(&mut agg, None);
            if types.matches(obs.rrtype) && q.fence.matches(&agg) && fetched.records < limit {
                kept = true;
                emit(obs.clone());
            }
        });
        if res.is_err() {
            unreadable += 1;
        }
        if kept {
            fetched.records += 1;
        }
        if fetched.records >= limit {
            fetched.limited = answer.results.len() as u64 > limit;
            break;
        }
    }
    if unreadable > 0 {
        fetched.notes.push(format!("{unreadable} resolution(s) could not be read and were left out"));
    }
    if answer.pager.as_ref().is_some_and(|p| !p.is_null()) {
        fetched.limited = true;
        fetched.notes.push("the answer has more pages (pager): only the first was read".into());
    }
    Ok(fetched)
}
