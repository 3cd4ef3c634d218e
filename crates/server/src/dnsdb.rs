//! DNSDB API v2 compatibility (`/dnsdb/v2/...`), following `shared/reference/dnsdb-api.md`:
//! lookup and summarize for the five query kinds, Flex search, `rate_limit` and `ping`, SAF
//! framing, and the request quirks of the stock `dnsdbq` client.
//!
//! `sources=local,NAME,...` on a lookup merges the answers of configured upstreams (see
//! [`crate::federated`]).
//!
//! Choices where the reference marks behaviour as inferred:
//! - Accept headers are not checked (any value, or none, gets `application/x-ndjson`).
//! - Time fences are inclusive; a record's sensor times are used when present, zone times
//!   otherwise (what dnsdbq does client-side).
//! - `aggr=f` returns the same rows as `aggr=t`: dnsledger stores one aggregate per record (no
//!   per-file time slices), so every record is its own only slice.
//! - A record whose bailiwick is unknown (e.g. imported from passivedns logs) has no `bailiwick`
//!   key rather than an invented one.
//! - After normal percent-decoding, a value that still holds `%2A`, `%2C`, `%2F`, `%3A` or `%25`
//!   is decoded once more (dnsdbq's batch mode escapes lines twice).
//! - Unknown query parameters are ignored; `TYPE<n>` mnemonics are accepted.
//! - Flex regular expressions use the `regex` crate's syntax (a superset of egrep without
//!   back-references) and match anywhere in the presentation string; globs (`*`, `?`, `[...]`)
//!   must match the whole string. Flex results are distinct (rrname, rrtype) or (rdata, rrtype).

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dnsledger_model::time::{self, format_rfc3339};
use dnsledger_model::{Name, Record, RrType, TypeFilter};
use dnsledger_query::{spec, Lookup, Outcome, Window};
use dnsledger_store::{NameMatch, RdataQuery, RdataTarget, RrsetQuery, Store, StoreError};
use serde_json::{json, Map, Value};

use crate::auth;
use crate::paths::{self, param};
use crate::stream::{records_body, Encoder};
use crate::AppState;

const PREFIX: &str = "/dnsdb/v2";
const NDJSON: &str = "application/x-ndjson";

/// A one-line error response as DNSDB sends them (no SAF framing on errors).
pub fn text_error(status: StatusCode, msg: &str) -> Response {
    let mut body = msg.trim_end().to_string();
    body.push('\n');
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
}

fn bad(msg: impl AsRef<str>) -> Response {
    text_error(StatusCode::BAD_REQUEST, &format!("Error: {}", msg.as_ref()))
}

/// Decodes a value segment again if dnsdbq's batch mode escaped it twice.
fn redecode(v: String) -> String {
    let lower = v.to_ascii_lowercase();
    if ["%2a", "%2c", "%2f", "%3a", "%25"].iter().any(|e| lower.contains(e)) {
        paths::percent_decode(&v).unwrap_or(v)
    } else {
        v
    }
}

fn parse_bool(v: Option<&str>, default: bool) -> Result<bool, String> {
    match v.map(str::to_ascii_lowercase).as_deref() {
        None | Some("") => Ok(default),
        Some("t" | "true" | "1" | "yes") => Ok(true),
        Some("f" | "false" | "0" | "no") => Ok(false),
        Some(other) => Err(format!("expected a boolean, got {other:?}")),
    }
}

/// What a request asks for.
#[derive(Debug)]
pub enum Request {
    /// `ping`.
    Ping,
    /// `rate_limit`.
    RateLimit,
    /// A data query.
    Query(Query),
}

/// A data query, fully parsed (whatever the caller may do with it is checked later).
#[derive(Debug)]
pub enum Query {
    /// `lookup/...`.
    Lookup(Lookup),
    /// `summarize/...` with its `max_count`.
    Summarize {
        /// What is summarised.
        lookup: Lookup,
        /// The `max_count` parameter.
        max_count: Option<u64>,
    },
    /// `regex/...` or `glob/...` (Flex).
    Flex {
        /// Matching rdata (true) or owner names (false).
        rdata: bool,
        /// The compiled pattern.
        matcher: Matcher,
        /// The compiled `exclude` pattern.
        exclude: Option<Matcher>,
        /// The rrtype filter.
        types: TypeFilter,
    },
}

/// A request error: the HTTP status and the one-line message DNSDB answers with.
pub type RequestError = (StatusCode, String);

fn bad_request(msg: impl AsRef<str>) -> RequestError {
    (StatusCode::BAD_REQUEST, format!("Error: {}", msg.as_ref()))
}

fn number(pairs: &[(String, String)], key: &str) -> Result<Option<u64>, RequestError> {
    match param(pairs, key).map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| bad_request(format!("{key}: expected a non-negative integer, got {v:?}"))),
    }
}

/// What [`parse`] makes of a request: the query and the parameters checked without a caller.
#[derive(Debug)]
pub struct Parsed {
    /// The request.
    pub request: Request,
    /// The time fences.
    pub fence: dnsledger_model::TimeFence,
    /// `limit` as given (0 means the caller's maximum).
    pub limit: Option<u64>,
    /// `offset` as given.
    pub offset: Option<u64>,
    /// `humantime`.
    pub humantime: bool,
}

/// Parses a request path (after `/dnsdb/v2/`) and query string the way [`handle`] does, without
/// a socket, a store or a caller (for tests and fuzzing); errors are what [`handle`] answers.
pub fn parse(raw_path: &str, query: Option<&str>, now: u64) -> Result<Parsed, RequestError> {
    let segs = paths::segments(raw_path).map_err(bad_request)?;
    let pairs = paths::query_pairs(query);
    let fence = paths::fence(&pairs, now).map_err(bad_request)?;
    let request = parse_request(segs, &pairs, fence)?;
    let limit = number(&pairs, "limit")?;
    let offset = number(&pairs, "offset")?;
    let humantime =
        parse_bool(param(&pairs, "humantime"), false).map_err(|e| bad_request(format!("humantime: {e}")))?;
    parse_bool(param(&pairs, "aggr"), true).map_err(|e| bad_request(format!("aggr: {e}")))?;
    Ok(Parsed { request, fence, limit, offset, humantime })
}

fn parse_request(
    segs: Vec<String>,
    pairs: &[(String, String)],
    fence: dnsledger_model::TimeFence,
) -> Result<Request, RequestError> {
    let not_found = || (StatusCode::NOT_FOUND, "Error: unknown API path".to_string());
    let mut it = segs.into_iter();
    let verb = it.next().ok_or_else(not_found)?;
    // dnsdbq's batch mode escapes twice: decode what is still escaped once more
    let rest: Vec<String> = it.map(redecode).collect();
    match (verb.as_str(), rest.as_slice()) {
        ("ping", []) => Ok(Request::Ping),
        ("rate_limit", []) => Ok(Request::RateLimit),
        ("regex" | "glob", [key, value, ty @ ..]) if ty.len() <= 1 => {
            let rdata = match key.as_str() {
                "rrnames" => false,
                "rdata" => true,
                _ => return Err(not_found()),
            };
            let glob = verb == "glob";
            let types = spec::parse_types(ty.first().map(String::as_str)).map_err(|e| bad_request(e.0))?;
            let matcher = Matcher::new(value, glob).map_err(bad_request)?;
            let exclude = match param(pairs, "exclude").filter(|e| !e.is_empty()) {
                Some(e) => Some(Matcher::new(&redecode(e.to_string()), glob).map_err(bad_request)?),
                None => None,
            };
            Ok(Request::Query(Query::Flex { rdata, matcher, exclude, types }))
        }
        ("lookup" | "summarize", _) => {
            let lookup =
                paths::lookup_from_segments(&rest, fence).map_err(|(status, msg)| (status, format!("Error: {msg}")))?;
            if verb == "lookup" {
                Ok(Request::Query(Query::Lookup(lookup)))
            } else {
                Ok(Request::Query(Query::Summarize { lookup, max_count: number(pairs, "max_count")? }))
            }
        }
        _ => Err(not_found()),
    }
}

/// `GET /dnsdb/v2/...`.
pub async fn handle(State(st): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    let raw = path.strip_prefix(&PREFIX[1..]).unwrap_or("");
    let segs = match paths::segments(raw) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let pairs = paths::query_pairs(uri.query());
    let now = time::now();
    let fence = match paths::fence(&pairs, now) {
        Ok(f) => f,
        Err(e) => return bad(e),
    };
    // the lookup's segments after `lookup/`, for federated lookups (`sources=`)
    let lookup_segs: Vec<String> = segs.iter().skip(1).cloned().map(redecode).collect();
    let query = match parse_request(segs, &pairs, fence) {
        Ok(Request::Ping) => return ndjson_line(json!({"ping": "ok"})),
        Ok(Request::RateLimit) => {
            return match auth::dnsdb_caller(&st, &headers) {
                Ok(caller) => {
                    let body = auth::rate_limit_json(&st, &caller, now);
                    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], body).into_response()
                }
                Err(resp) => resp,
            };
        }
        Ok(Request::Query(q)) => q,
        Err((status, msg)) => return text_error(status, &msg),
    };
    let caller = match auth::dnsdb_caller(&st, &headers) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let results_max = auth::results_max(&st, &caller);
    let limit = match number(&pairs, "limit") {
        Ok(None) => st.config.default_limit.min(results_max),
        Ok(Some(0)) => results_max,
        Ok(Some(n)) => n.min(results_max),
        Err((status, msg)) => return text_error(status, &msg),
    };
    let offset = match number(&pairs, "offset") {
        Ok(n) => n.unwrap_or(0),
        Err((status, msg)) => return text_error(status, &msg),
    };
    if offset > 0 {
        match auth::offset_max(&st, &caller) {
            None => {
                return text_error(StatusCode::RANGE_NOT_SATISFIABLE, "Error: Offsets are not allowed for this key")
            }
            Some(max) if offset > max => {
                return text_error(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    &format!("Error: offset above the maximum of {max}"),
                )
            }
            _ => {}
        }
    }
    let humantime = match parse_bool(param(&pairs, "humantime"), false) {
        Ok(b) => b,
        Err(e) => return bad(format!("humantime: {e}")),
    };
    if let Err(e) = parse_bool(param(&pairs, "aggr"), true) {
        return bad(format!("aggr: {e}"));
    }
    if matches!(query, Query::Flex { .. }) && !auth::flex_allowed(&st, &caller) {
        return text_error(
            StatusCode::FORBIDDEN,
            "Error: The type of API key is not allowed to use the DNSDB Flex API",
        );
    }
    let federated = match (&query, param(&pairs, "sources")) {
        (_, None) => None,
        (Query::Lookup(_), Some(_)) if offset > 0 => return bad("offset cannot be combined with sources"),
        (Query::Lookup(lookup), Some(sources)) => {
            let stream = match crate::federated::stream_mode(param(&pairs, "stream"), param(&pairs, "merge")) {
                Ok(s) => s,
                Err(e) => return bad(e),
            };
            match crate::federated::plan(&st, sources, &lookup_segs, lookup.clone(), fence, Some(limit)) {
                Ok(p) => Some(p.with_stream(stream)),
                Err(e) => return bad(e),
            }
        }
        (_, Some(_)) => return bad("sources: only lookups can ask upstreams"),
    };
    // Only well-formed queries count against the quota.
    if let Err(resp) = auth::charge(&st, &caller, now) {
        return resp;
    }
    if let (Some(plan), Query::Lookup(lookup)) = (federated, &query) {
        let enc = SafEncoder { humantime, rrset: matches!(lookup, Lookup::Rrset(_)) };
        return crate::federated::saf(plan, enc);
    }
    let window = Window { offset, limit: Some(limit) };
    match query {
        Query::Lookup(lookup) => {
            let enc = SafEncoder { humantime, rrset: matches!(lookup, Lookup::Rrset(_)) };
            let body =
                records_body(st.store.clone(), lookup, window, Default::default(), st.config.query_deadline(), enc);
            ([(header::CONTENT_TYPE, NDJSON)], body).into_response()
        }
        Query::Summarize { lookup, max_count } => {
            summarize(st.store.clone(), lookup, limit, max_count, humantime, st.config.query_deadline()).await
        }
        Query::Flex { rdata, matcher, exclude, types } => {
            flex(st.store.clone(), rdata, (matcher, exclude), types, fence, window, st.config.query_deadline()).await
        }
    }
}

fn ndjson_line(v: Value) -> Response {
    let mut body = v.to_string();
    body.push('\n');
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static(NDJSON))], body).into_response()
}

/// Appends `s` as a JSON string.
fn json_str(out: &mut Vec<u8>, s: &str) {
    // serialising a &str into a Vec cannot fail
    let _ = serde_json::to_writer(&mut *out, s);
}

/// Inserts the time fields of an aggregate (sensor then zone times), as integers or RFC 3339.
fn put_times(m: &mut Map<String, Value>, agg: &dnsledger_model::Aggregate, humantime: bool) {
    let t = |v: u64| if humantime { Value::from(format_rfc3339(v)) } else { Value::from(v) };
    if let Some((a, b)) = agg.seen {
        m.insert("time_first".into(), t(a));
        m.insert("time_last".into(), t(b));
    }
    if let Some((a, b)) = agg.zone {
        m.insert("zone_time_first".into(), t(a));
        m.insert("zone_time_last".into(), t(b));
    }
}

/// SAF framing of lookup results: begin, one `obj` line per record, one terminator.
#[derive(Clone)]
struct SafEncoder {
    humantime: bool,
    rrset: bool,
}

impl Encoder for SafEncoder {
    fn begin(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\"cond\":\"begin\"}\n");
    }

    fn record(&mut self, r: &Record, out: &mut Vec<u8>) {
        // Written by hand in DNSDB's key order: count, times, rrname, rrtype, bailiwick, rdata.
        out.extend_from_slice(b"{\"obj\":{\"count\":");
        out.extend_from_slice(r.agg.count.to_string().as_bytes());
        for (kf, kl, times) in
            [("time_first", "time_last", r.agg.seen), ("zone_time_first", "zone_time_last", r.agg.zone)]
        {
            if let Some((a, b)) = times {
                for (k, t) in [(kf, a), (kl, b)] {
                    out.extend_from_slice(b",\"");
                    out.extend_from_slice(k.as_bytes());
                    out.extend_from_slice(b"\":");
                    if self.humantime {
                        json_str(out, &format_rfc3339(t));
                    } else {
                        out.extend_from_slice(t.to_string().as_bytes());
                    }
                }
            }
        }
        out.extend_from_slice(b",\"rrname\":");
        json_str(out, &r.rrname.to_presentation());
        out.extend_from_slice(b",\"rrtype\":");
        json_str(out, &r.rrtype.to_string());
        if self.rrset {
            if let Some(b) = &r.bailiwick {
                out.extend_from_slice(b",\"bailiwick\":");
                json_str(out, &b.to_presentation());
            }
        }
        out.extend_from_slice(b",\"rdata\":[");
        let mut text = String::new();
        for (i, rd) in r.rdata.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            text.clear();
            rd.write_presentation(r.rrtype, &mut text);
            json_str(out, &text);
        }
        out.extend_from_slice(b"]}}\n");
    }

    fn end(&mut self, outcome: &Result<Outcome, StoreError>, out: &mut Vec<u8>) {
        let term = match outcome {
            Ok(o) if o.timed_out => timeout_term(o.returned),
            Ok(o) if o.limited => json!({"cond": "limited", "msg": "Result limit reached"}),
            Ok(_) => json!({"cond": "succeeded"}),
            Err(e) => {
                tracing::error!(error = %e, "DNSDB lookup failed");
                json!({"cond": "failed", "msg": format!("query failed: {e}")})
            }
        };
        let _ = serde_json::to_writer(&mut *out, &term);
        out.push(b'\n');
    }
}

/// The SAF terminator of a lookup stopped at the query timeout: `limited` when some results
/// were sent (they are partial), `failed` when none were.
fn timeout_term(returned: u64) -> Value {
    let cond = if returned > 0 { "limited" } else { "failed" };
    json!({"cond": cond, "msg": crate::stream::TIMEOUT_MSG})
}

/// `summarize`: one `obj` with the totals of the RRsets a lookup would return.
async fn summarize(
    store: Arc<dyn Store>,
    lookup: Lookup,
    limit: u64,
    max_count: Option<u64>,
    humantime: bool,
    deadline: Option<std::time::Instant>,
) -> Response {
    let job = tokio::task::spawn_blocking(move || {
        let mut total = dnsledger_model::Aggregate::default();
        let mut n = 0u64;
        let window = Window { offset: 0, limit: Some(limit) };
        let res = dnsledger_query::run_until(&*store, &lookup, window, &Default::default(), deadline, &mut |r| {
            total.count = total.count.saturating_add(r.agg.count);
            for (slot, from) in [(&mut total.seen, r.agg.seen), (&mut total.zone, r.agg.zone)] {
                if let Some((a, b)) = from {
                    *slot = Some(match *slot {
                        Some((x, y)) => (x.min(a), y.max(b)),
                        None => (a, b),
                    });
                }
            }
            n += 1;
            if max_count.is_some_and(|m| total.count >= m) {
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        (total, n, res)
    });
    let (total, n, res) = match job.await {
        Ok(x) => x,
        Err(e) => return text_error(StatusCode::INTERNAL_SERVER_ERROR, &format!("Error: {e}")),
    };
    let mut out = String::from("{\"cond\":\"begin\"}\n");
    let term = match &res {
        Ok(o) if o.timed_out => {
            crate::limits::count("query_timeout");
            timeout_term(0)
        }
        Ok(o) => {
            let mut m = Map::new();
            m.insert("count".into(), Value::from(total.count));
            m.insert("num_results".into(), Value::from(n));
            put_times(&mut m, &total, humantime);
            out.push_str(&json!({ "obj": Value::Object(m) }).to_string());
            out.push('\n');
            if o.limited {
                json!({"cond": "limited", "msg": "Result limit reached"})
            } else {
                json!({"cond": "succeeded"})
            }
        }
        Err(e) => json!({"cond": "failed", "msg": format!("query failed: {e}")}),
    };
    out.push_str(&term.to_string());
    out.push('\n');
    (StatusCode::OK, [(header::CONTENT_TYPE, NDJSON)], out).into_response()
}

/// A Flex pattern: a regular expression (unanchored) or a glob (anchored).
/// A compiled Flex pattern (regular expression, or a glob translated into one).
#[derive(Debug)]
pub struct Matcher(regex::Regex);

impl Matcher {
    fn new(pattern: &str, glob: bool) -> Result<Matcher, String> {
        let src = if glob { glob_to_regex(pattern) } else { pattern.to_string() };
        regex::RegexBuilder::new(&src)
            .size_limit(1 << 20)
            .build()
            .map(Matcher)
            .map_err(|e| format!("bad {} {pattern:?}: {e}", if glob { "glob" } else { "regex" }))
    }
    fn is_match(&self, s: &str) -> bool {
        self.0.is_match(s)
    }
}

/// Translates a glob (`*`, `?`, `[...]`) into an anchored regular expression.
fn glob_to_regex(g: &str) -> String {
    let mut out = String::from("^");
    let mut chars = g.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => out.push_str(".*"),
            '?' => out.push('.'),
            '[' => {
                let mut class = String::from("[");
                let mut closed = false;
                if chars.peek() == Some(&'!') {
                    chars.next();
                    class.push('^');
                }
                for d in chars.by_ref() {
                    if d == ']' {
                        closed = true;
                        break;
                    }
                    if d == '\\' || d == '[' {
                        class.push('\\');
                    }
                    class.push(d);
                }
                if closed {
                    class.push(']');
                    out.push_str(&class);
                } else {
                    out.push_str(&regex::escape(&class));
                }
            }
            c => out.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    out.push('$');
    out
}

/// Flex search: a scan of every RRset (rrnames) or every rdata record, filtered by pattern.
async fn flex(
    store: Arc<dyn Store>,
    rdata: bool,
    (matcher, exclude): (Matcher, Option<Matcher>),
    types: TypeFilter,
    fence: dnsledger_model::TimeFence,
    window: Window,
    deadline: Option<std::time::Instant>,
) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<axum::body::Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let mut buf = b"{\"cond\":\"begin\"}\n".to_vec();
        let mut seen: HashSet<(String, RrType)> = HashSet::new();
        let mut last: Option<(String, RrType)> = None;
        let mut skipped = 0u64;
        let mut returned = 0u64;
        let mut limited = false;
        let mut timed_out = false;
        let mut gone = false;
        let mut visit = |r: Record| {
            if deadline.is_some_and(|d| std::time::Instant::now() >= d) {
                timed_out = true;
                return ControlFlow::Break(());
            }
            let candidates: Vec<(String, Option<String>)> = if rdata {
                r.rdata
                    .iter()
                    .map(|rd| {
                        let raw = match rd {
                            dnsledger_model::Rdata::Wire(w) => Some(w.iter().map(|b| format!("{b:02X}")).collect()),
                            dnsledger_model::Rdata::Text(_) => None,
                        };
                        (rd.to_presentation(r.rrtype), raw)
                    })
                    .collect()
            } else {
                vec![(r.rrname.to_presentation(), None)]
            };
            for (text, raw) in candidates {
                let key = (text, r.rrtype);
                if last.as_ref() == Some(&key) || seen.contains(&key) {
                    continue;
                }
                if !matcher.is_match(&key.0) || exclude.as_ref().is_some_and(|x| x.is_match(&key.0)) {
                    continue;
                }
                if rdata {
                    seen.insert(key.clone());
                }
                last = Some(key.clone());
                if skipped < window.offset {
                    skipped += 1;
                    continue;
                }
                if window.limit.is_some_and(|l| returned >= l) {
                    limited = true;
                    return ControlFlow::Break(());
                }
                returned += 1;
                let obj = if rdata {
                    let mut m = Map::new();
                    m.insert("rdata".into(), Value::from(key.0));
                    m.insert("rrtype".into(), Value::from(key.1.to_string()));
                    if let Some(raw) = raw {
                        m.insert("raw_rdata".into(), Value::from(raw));
                    }
                    Value::Object(m)
                } else {
                    json!({"rrname": key.0, "rrtype": key.1.to_string()})
                };
                let _ = serde_json::to_writer(&mut buf, &json!({ "obj": obj }));
                buf.push(b'\n');
                if buf.len() >= 32 << 10 && tx.blocking_send(std::mem::take(&mut buf).into()).is_err() {
                    gone = true;
                    return ControlFlow::Break(());
                }
            }
            ControlFlow::Continue(())
        };
        let res = if rdata {
            store.lookup_rdata(&RdataQuery { target: RdataTarget::Any, types, fence }, &mut visit)
        } else {
            store.lookup_rrset(
                &RrsetQuery {
                    name: NameMatch::Below(Name::root()),
                    types,
                    bailiwick: None,
                    fence,
                    negative: Default::default(),
                },
                &mut visit,
            )
        };
        if gone {
            return;
        }
        let term = match res {
            Ok(_) if timed_out => {
                crate::limits::count("query_timeout");
                timeout_term(returned)
            }
            Ok(_) if limited => json!({"cond": "limited", "msg": "Result limit reached"}),
            Ok(_) => json!({"cond": "succeeded"}),
            Err(e) => json!({"cond": "failed", "msg": format!("query failed: {e}")}),
        };
        let _ = serde_json::to_writer(&mut buf, &term);
        buf.push(b'\n');
        let _ = tx.blocking_send(buf.into());
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    ([(header::CONTENT_TYPE, NDJSON)], axum::body::Body::from_stream(stream)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let m = |g: &str, s: &str| Matcher::new(g, true).unwrap().is_match(s);
        assert!(m("*.fsi.io.", "www.fsi.io."));
        assert!(!m("*.fsi.io", "www.fsi.io."));
        assert!(m("w?w.[a-f]si.io.", "www.fsi.io."));
        assert!(m("[!x]ww.*", "www.example."));
        assert!(!m("[!w]ww.*", "www.example."));
        assert!(m("a.b+c.", "a.b+c."));
        assert!(m("unclosed[", "unclosed["));
    }

    #[test]
    fn redecodes_batch_escapes() {
        assert_eq!(redecode("%2A.example.com".into()), "*.example.com");
        assert_eq!(redecode("2001%3Adb8%3A%3A%2C32".into()), "2001:db8::,32");
        assert_eq!(redecode("www.example.com".into()), "www.example.com");
    }

    #[test]
    fn parses_requests_without_a_socket() {
        let status = |path: &str, query: Option<&str>| parse(path, query, 1_000_000).err().map(|e| e.0);
        assert_eq!(status("lookup/rrset/name/www.example.com/A", Some("limit=5&time_first_after=-100")), None);
        assert_eq!(status("ping", None), None);
        assert_eq!(status("pong", None), Some(StatusCode::NOT_FOUND));
        assert_eq!(status("lookup/rrset/name/%zz", None), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("lookup/rrset/name/a/A/b/c", None), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("lookup/rrset/name/a", Some("limit=-1")), Some(StatusCode::BAD_REQUEST));
        assert_eq!(status("lookup/rrset/name/a", Some("humantime=maybe")), Some(StatusCode::BAD_REQUEST));
        // a regex whose compiled form is over the size limit is a 400, not a slow request
        assert_eq!(status("regex/rrnames/(a{1000}){1000}", None), Some(StatusCode::BAD_REQUEST));
        let Ok(p) = parse("lookup/rrset/name/%252A.example.com", Some("time_first_after=10"), 1_000_000) else {
            panic!("double-escaped wildcard")
        };
        let Request::Query(Query::Lookup(l)) = p.request else { panic!("a lookup") };
        let segs = ["rrset", "name", "*.example.com"].map(String::from);
        assert_eq!(paths::lookup_from_segments(&segs, p.fence).ok(), Some(l), "dnsdbq's batch escaping undone");
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(Some("F"), true), Ok(false));
        assert_eq!(parse_bool(Some("True"), false), Ok(true));
        assert_eq!(parse_bool(None, true), Ok(true));
        assert!(parse_bool(Some("maybe"), true).is_err());
    }
}
