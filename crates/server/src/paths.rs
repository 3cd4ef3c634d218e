//! Raw request paths and query strings: segments are split on `/` *before* percent-decoding, so
//! an encoded `%2F` stays inside its segment, and decoding errors are reported, not guessed.

use axum::http::StatusCode;
use dnsledger_model::time;
use dnsledger_model::TimeFence;
use dnsledger_query::{spec, Lookup, Window};

/// Splits a raw path (after a route prefix) into percent-decoded segments. Empty segments from
/// doubled or trailing slashes are dropped.
pub fn segments(raw: &str) -> Result<Vec<String>, String> {
    raw.split('/').filter(|s| !s.is_empty()).map(percent_decode).collect()
}

/// Decodes `%XX` escapes (UTF-8 result required).
pub fn percent_decode(s: &str) -> Result<String, String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3).ok_or_else(|| format!("bad percent escape in {s:?}"))?;
            let v = std::str::from_utf8(hex)
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| format!("bad percent escape in {s:?}"))?;
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| format!("path segment {s:?} is not UTF-8"))
}

/// Decoded `key=value` pairs of a query string, in order.
pub fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    match raw {
        Some(q) => form_urlencoded::parse(q.as_bytes()).into_owned().collect(),
        None => Vec::new(),
    }
}

/// The value of the last `key` in `pairs`.
pub fn param<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Parses the four time fences (`time_first_after`, …): epoch seconds, negative seconds
/// relative to now, or any form `dnsledger_model::time::parse_time` accepts.
pub fn fence(pairs: &[(String, String)], now: u64) -> Result<TimeFence, String> {
    let get = |k: &str| -> Result<Option<u64>, String> {
        match param(pairs, k) {
            None | Some("") => Ok(None),
            Some(v) => time::parse_time(v, now).map(Some).map_err(|e| format!("{k}: {e}")),
        }
    };
    Ok(TimeFence {
        first_after: get("time_first_after")?,
        first_before: get("time_first_before")?,
        last_after: get("time_last_after")?,
        last_before: get("time_last_before")?,
    })
}

/// Parses `limit` (0 = `max`) and `offset` against a maximum result count.
pub fn window(pairs: &[(String, String)], default_limit: u64, max_limit: u64) -> Result<Window, String> {
    let num = |k: &str| -> Result<Option<u64>, String> {
        match param(pairs, k) {
            None | Some("") => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{k}: expected a non-negative integer, got {v:?}")),
        }
    };
    let limit = match num("limit")? {
        None => default_limit.min(max_limit),
        Some(0) => max_limit,
        Some(n) => n.min(max_limit),
    };
    Ok(Window { offset: num("offset")?.unwrap_or(0), limit: Some(limit) })
}

/// Builds a lookup from decoded path segments `kind/by/value[/rrtype[/bailiwick]]` (the part
/// after `/lookup/` that the native and DNSDB APIs share); errors carry their HTTP status.
pub fn lookup_from_segments(segs: &[String], fence: TimeFence) -> Result<Lookup, (StatusCode, String)> {
    let bad = |e: spec::LookupError| (StatusCode::BAD_REQUEST, e.0);
    let too_many =
        |max: usize| (StatusCode::BAD_REQUEST, format!("too many path segments: at most {max} after the value"));
    let strs: Vec<&str> = segs.iter().map(String::as_str).collect();
    match strs.as_slice() {
        ["rrset", "name", owner, rest @ ..] => {
            if rest.len() > 2 {
                return Err(too_many(2));
            }
            spec::rrset_name(owner, rest.first().copied(), rest.get(1).copied(), fence).map_err(bad)
        }
        ["rrset", "raw", hex, rest @ ..] if rest.len() <= 1 => {
            spec::rrset_raw(hex, rest.first().copied(), fence).map_err(bad)
        }
        ["rdata", "name", name, rest @ ..] if rest.len() <= 1 => {
            spec::rdata_name(name, rest.first().copied(), fence).map_err(bad)
        }
        ["rdata", "ip", ip, rest @ ..] if rest.len() <= 1 => {
            spec::rdata_ip(ip, rest.first().copied(), fence).map_err(bad)
        }
        ["rdata", "raw", hex, rest @ ..] if rest.len() <= 1 => {
            spec::rdata_raw(hex, rest.first().copied(), fence).map_err(bad)
        }
        ["rrset" | "rdata", "raw" | "name" | "ip", _, ..] => Err(too_many(1)),
        _ => Err((
            StatusCode::NOT_FOUND,
            "unknown lookup: expected rrset/name/…, rrset/raw/…, rdata/name/…, rdata/ip/… or rdata/raw/…".to_string(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_before_decoding() {
        assert_eq!(segments("/rrset/name/a%2Fb.example/A").unwrap(), ["rrset", "name", "a/b.example", "A"]);
        assert_eq!(segments("//x//y/").unwrap(), ["x", "y"]);
        assert_eq!(segments("%2A.example.com").unwrap(), ["*.example.com"]);
        assert!(segments("%zz").is_err());
        assert!(segments("%4").is_err());
        assert!(segments("%ff").is_err());
    }

    #[test]
    fn params() {
        let p = query_pairs(Some("limit=5&time_last_after=-100&offset=2&x=%20y"));
        assert_eq!(param(&p, "x"), Some(" y"));
        let f = fence(&p, 1000).unwrap();
        assert_eq!(f.last_after, Some(900));
        let w = window(&p, 100, 1000).unwrap();
        assert_eq!((w.offset, w.limit), (2, Some(5)));
        let w = window(&query_pairs(Some("limit=0")), 100, 1000).unwrap();
        assert_eq!(w.limit, Some(1000));
        assert!(window(&query_pairs(Some("limit=-1")), 100, 1000).is_err());
        assert!(fence(&query_pairs(Some("time_first_before=soon")), 0).is_err());
    }
}
