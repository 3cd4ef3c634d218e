//! CIRCL passive DNS client (`shared/reference/dnsdb-api.md` §5): `GET
//! {url}/pdns/query/{value}` with HTTP Basic credentials, answered as COF NDJSON (one line per
//! (rrname, rrtype, rdata)), decoded with `dnsledger-sources`' NDJSON/COF parser as it arrives.
//!
//! - What COF can ask: RRsets by owner name (`rrset/name`, wildcards only if the server takes
//!   them) and records by one address (`rdata/ip` without prefix or range). Other kinds are
//!   reported as unsupported, not guessed.
//! - Paging follows CIRCL's service 2.0: each request sends `dribble-paginate-count` (the page
//!   size) and, after the first, `dribble-paginate-cursor` with the `x-dribble-cursor` the last
//!   answer returned; paging stops when no cursor comes back or the limit is reached. The type
//!   goes out as `dribble-filter-rrtype`.
//! - The bailiwick and the time fence have no COF parameter: they are applied to the answer.
//! - `x-dribble-errors` on an answer is reported as a note.

use dnsledger_model::{Aggregate, Name, Observation, RrType, TypeFilter};
use dnsledger_sources::ndjson::NdjsonParser;
use dnsledger_sources::{LineParser, SourceOptions};

use crate::http::{self, UpstreamError};
use crate::query::{QueryKind, UpstreamQuery};
use crate::{Fetched, Upstream};

/// Records asked per page.
const PAGE: u64 = 1000;
/// Most pages followed for one query (a server whose cursor never ends is cut here).
const MAX_PAGES: u64 = 10_000;

/// Runs a lookup (see the module docs).
pub fn fetch(
    up: &Upstream,
    agent: &ureq::Agent,
    q: &UpstreamQuery,
    emit: &mut dyn FnMut(Observation),
) -> Result<Fetched, UpstreamError> {
    match q.kind {
        QueryKind::RrsetName => {}
        QueryKind::RdataIp if !q.value.contains([',', '/', '-']) => {}
        QueryKind::RdataIp => {
            return Err(UpstreamError::Unsupported("COF takes one address, not a prefix or range".into()))
        }
        k => return Err(UpstreamError::Unsupported(format!("COF has no {} lookup", k.path()))),
    }
    let auth = match up.config.key() {
        Ok(Some(k)) => Some(http::basic(up.config.username.as_deref().unwrap_or("dnsledger"), k.expose())),
        Ok(None) => None,
        Err(e) => return Err(UpstreamError::Config(e)),
    };
    let types = match q.rrtype.as_deref() {
        None => TypeFilter::Any,
        Some(t) => TypeFilter::parse(t).map_err(|_| UpstreamError::Unsupported(format!("rrtype {t:?}")))?,
    };
    let bailiwick = match q.bailiwick.as_deref() {
        Some(b) => Some(Name::from_presentation(b).map_err(|e| UpstreamError::Unsupported(format!("bailiwick: {e}")))?),
        None => None,
    };
    let timeout = up.config.timeout();
    let limit = q.limit.map_or(up.config.limit(), |l| l.min(up.config.limit()));
    let url = format!("{}/pdns/query/{}", http::base(&up.config), crate::query::encode_segment(&q.value));
    let mut parser = NdjsonParser::new(&SourceOptions::default());
    let mut fetched = Fetched::default();
    let mut cursor: Option<String> = None;
    let rdata = q.kind.is_rdata();
    let records = std::cell::Cell::new(0u64);
    for _ in 0..MAX_PAGES {
        let page = PAGE.min(limit - records.get());
        let mut req = agent
            .get(&url)
            .header("Accept", "application/x-ndjson")
            .header("dribble-paginate-count", &page.to_string());
        if let Some(a) = &auth {
            req = req.header("Authorization", a);
        }
        if let Some(c) = &cursor {
            req = req.header("dribble-paginate-cursor", c);
        }
        if let Some(t) = q.rrtype.as_deref().filter(|t| !t.eq_ignore_ascii_case("ANY")) {
            req = req.header("dribble-filter-rrtype", t);
        }
        up.pace()?;
        let mut resp = req.call().map_err(|e| UpstreamError::from_ureq(e, timeout, &up.config.url))?;
        http::check_status(&mut resp)?;
        let header = |k: &str| resp.headers().get(k).and_then(|v| v.to_str().ok()).map(str::to_string);
        let next = header("x-dribble-cursor").filter(|c| !c.is_empty());
        if let Some(e) = header("x-dribble-errors").filter(|e| !e.is_empty() && e != "{}") {
            fetched.notes.push(format!("x-dribble-errors: {e}"));
        }
        let mut on_page = 0u64;
        http::for_each_line(resp.body_mut().as_reader(), timeout, &|| records.get(), &mut |line| {
            // an address lookup's answers are A/AAAA whatever type was asked
            let wanted = |t: RrType| types.matches(t) || (rdata && matches!(t, RrType::A | RrType::AAAA));
            parser
                .parse_line(line, &mut |obs| {
                    if !wanted(obs.rrtype) || (bailiwick.is_some() && obs.bailiwick != bailiwick) {
                        return;
                    }
                    let mut agg = Aggregate::default();
                    obs.add_to(&mut agg, None);
                    if !q.fence.matches(&agg) {
                        return;
                    }
                    let mut o = obs.clone();
                    if rdata {
                        o.bailiwick = None;
                    }
                    emit(o);
                })
                .map_err(|e| {
                    UpstreamError::Garbage(format!("not a COF line after {} record(s): {e}", records.get()))
                })?;
            records.set(records.get() + 1);
            on_page += 1;
            Ok(records.get() < limit)
        })?;
        if records.get() >= limit {
            fetched.limited = next.is_some();
            break;
        }
        match next {
            Some(c) if on_page > 0 => cursor = Some(c),
            _ => break,
        }
    }
    fetched.records = records.get();
    Ok(fetched)
}
