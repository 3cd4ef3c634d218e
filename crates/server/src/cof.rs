//! CIRCL passive DNS compatibility: `GET /pdns/query/{value}` answering Common Output Format
//! records (draft-dulaunoy-dnsop-passive-dns-cof) as NDJSON, the way CIRCL's service and its
//! clients (PyPDNS, `dnsdbq -u circl`) expect.
//!
//! - `value` is an IP address (records whose rdata is that address) or a name (records owned
//!   by it; `*.zone` and `prefix.*` wildcards work too). CIDR and ranges are not part of COF.
//! - One line per (rrname, rrtype, rdata) tuple, as the draft requires: RRsets are split into
//!   their rdata items and items seen in several RRsets or bailiwicks are summed (count) and
//!   widened (times). `rdata` is a one-element array, times are integers.
//! - Authentication is HTTP Basic with the API key as password (any user name), or the key
//!   alone in `Authorization`, as PyPDNS sends it with `auth_token`.
//! - Paging follows CIRCL's service v2: request headers `dribble-paginate-count` and
//!   `dribble-paginate-cursor` (an integer), response header `x-dribble-cursor` with the next
//!   cursor while more records remain; `dribble-filter-rrtype` selects one type.

use std::collections::HashMap;
use std::ops::ControlFlow;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use dnsledger_model::{Aggregate, Record, RrType, TimeFence};
use dnsledger_query::{spec, Lookup, Window};
use serde_json::{Map, Value};

use crate::auth;
use crate::paths;
use crate::AppState;

const PREFIX: &str = "/pdns/query/";

fn error(status: StatusCode, msg: &str) -> Response {
    (status, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], format!("{msg}\n")).into_response()
}

/// `GET /pdns/query/{value}`.
pub async fn handle(State(st): State<AppState>, uri: Uri, headers: HeaderMap) -> Response {
    let raw = uri.path().trim_start_matches('/').strip_prefix(&PREFIX[1..]).unwrap_or("");
    let value = match query_value(raw) {
        Ok(v) => v,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    let caller = match auth::cof_caller(&st, &headers) {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let header_str = |k: &str| headers.get(k).and_then(|v| v.to_str().ok()).map(str::trim).filter(|v| !v.is_empty());
    let rrtype = header_str("dribble-filter-rrtype");
    let results_max = auth::results_max(&st, &caller);
    let page = match header_str("dribble-paginate-count").map(str::parse::<u64>) {
        None => None,
        Some(Ok(n)) if n > 0 => Some(n.min(results_max)),
        Some(_) => return error(StatusCode::BAD_REQUEST, "Error: dribble-paginate-count must be a positive integer"),
    };
    let cursor = match header_str("dribble-paginate-cursor").map(str::parse::<i64>) {
        None => 0,
        Some(Ok(n)) => n.max(0) as u64,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "Error: dribble-paginate-cursor must be an integer"),
    };
    let lookup = match lookup_of(&value, rrtype) {
        Ok(l) => l,
        Err(e) => return error(StatusCode::BAD_REQUEST, &e),
    };
    // Only well-formed queries count against the quota.
    if let Err(resp) = auth::charge(&st, &caller, dnsledger_model::time::now()) {
        return resp;
    }
    let store = st.store.clone();
    let take = page.unwrap_or(results_max);
    let deadline = st.config.query_deadline();
    let job = tokio::task::spawn_blocking(move || tuples(&*store, &lookup, cursor, take, results_max, deadline));
    let (lines, more) = match job.await {
        Ok(Ok(Some(x))) => x,
        Ok(Ok(None)) => {
            crate::limits::count("query_timeout");
            return error(StatusCode::SERVICE_UNAVAILABLE, &format!("Error: {}", crate::stream::TIMEOUT_MSG));
        }
        Ok(Err(e)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &format!("Error: {e}")),
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, &format!("Error: {e}")),
    };
    let mut resp = (StatusCode::OK, [(header::CONTENT_TYPE, "application/x-ndjson")], lines).into_response();
    if more && page.is_some() {
        if let Ok(v) = HeaderValue::from_str(&(cursor + take).to_string()) {
            resp.headers_mut().insert("x-dribble-cursor", v);
        }
    }
    resp
}

/// The decoded value of a request path after `/pdns/query/`; errors are the 400 message.
pub fn query_value(raw: &str) -> Result<String, String> {
    match paths::percent_decode(raw) {
        Ok(v) if !v.is_empty() && !v.contains('/') => Ok(v),
        Ok(_) => Err("Error: expected /pdns/query/<name or IP address>".to_string()),
        Err(e) => Err(format!("Error: {e}")),
    }
}

/// The lookup a COF query value asks for (an IP address: records with that rdata; otherwise
/// records owned by that name), with the `dribble-filter-rrtype` header's type; errors are the
/// 400 message.
pub fn lookup_of(value: &str, rrtype: Option<&str>) -> Result<Lookup, String> {
    let lookup = if spec::looks_like_ip(value) && !value.contains(['/', ',', '-']) {
        spec::rdata_ip(value, rrtype.filter(|t| !t.eq_ignore_ascii_case("ANY")), TimeFence::default())
    } else {
        spec::rrset_name(value, rrtype, None, TimeFence::default())
    };
    lookup.map_err(|e| format!("Error: {}", e.0))
}

/// The COF lines of tuples `skip..skip+take` of a lookup, and whether more exist. At most
/// `max` tuples are gathered in total. `None` when the lookup ran past `deadline` (tuples are
/// folded across records, so a partial answer would hold wrong counts).
fn tuples(
    store: &dyn dnsledger_store::Store,
    lookup: &Lookup,
    skip: u64,
    take: u64,
    max: u64,
    deadline: Option<std::time::Instant>,
) -> Result<Option<(String, bool)>, dnsledger_store::StoreError> {
    // (rrname, rrtype, rdata) → aggregate, bailiwick, sensors; in first-seen order
    type Tuple = (String, RrType, String);
    let mut order: Vec<Tuple> = Vec::new();
    let mut index: HashMap<Tuple, (Aggregate, Option<String>, Vec<String>)> = HashMap::new();
    let want = skip.saturating_add(take).saturating_add(1).min(max.saturating_add(1));
    let mut last_name = String::new();
    let outcome = dnsledger_query::run_until(
        store,
        lookup,
        Window { offset: 0, limit: None },
        &Default::default(),
        deadline,
        &mut |r: Record| {
            let rrname = r.rrname.to_presentation();
            // stop once enough tuples are known, but only between names: the RRsets of one name are
            // adjacent, and all of them must be folded before its tuples are complete
            if order.len() as u64 > want && rrname != last_name {
                return ControlFlow::Break(());
            }
            last_name.clone_from(&rrname);
            for rd in r.rdata_strings() {
                let key = (rrname.clone(), r.rrtype, rd);
                match index.get_mut(&key) {
                    Some((agg, bw, sensors)) => {
                        agg.merge(&r.agg);
                        if bw.is_none() {
                            bw.clone_from(&r.bailiwick.as_ref().map(|b| b.to_presentation()));
                        }
                        for s in &r.sensors {
                            if !sensors.contains(s) {
                                sensors.push(s.clone());
                            }
                        }
                    }
                    None => {
                        order.push(key.clone());
                        index.insert(
                            key,
                            (r.agg.clone(), r.bailiwick.as_ref().map(|b| b.to_presentation()), r.sensors.clone()),
                        );
                    }
                }
            }
            ControlFlow::Continue(())
        },
    )?;
    if outcome.timed_out {
        return Ok(None);
    }
    let more = order.len() as u64 > skip.saturating_add(take);
    let mut out = String::new();
    for key in order.iter().skip(skip as usize).take(take as usize) {
        let Some((agg, bw, sensors)) = index.get(key) else { continue };
        let mut m = Map::new();
        m.insert("rrname".into(), Value::from(key.0.clone()));
        m.insert("rrtype".into(), Value::from(key.1.to_string()));
        m.insert("rdata".into(), Value::from(vec![key.2.clone()]));
        if let Some((a, b)) = agg.effective_times() {
            m.insert("time_first".into(), Value::from(a));
            m.insert("time_last".into(), Value::from(b));
        }
        m.insert("count".into(), Value::from(agg.count));
        if let Some((a, b)) = agg.zone {
            m.insert("zone_time_first".into(), Value::from(a));
            m.insert("zone_time_last".into(), Value::from(b));
        }
        if let Some(b) = bw {
            m.insert("bailiwick".into(), Value::from(b.clone()));
        }
        if let Some(s) = sensors.first() {
            m.insert("sensor_id".into(), Value::from(s.clone()));
        }
        out.push_str(&Value::Object(m).to_string());
        out.push('\n');
    }
    Ok(Some((out, more)))
}
