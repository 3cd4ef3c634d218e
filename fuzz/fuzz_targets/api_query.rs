//! Fuzzes how the HTTP APIs turn a request path and query string into a lookup, without a
//! socket or a store: the DNSDB API v2 (`dnsledger_server::dnsdb::parse`: verbs, the five
//! lookup kinds, Flex regex/glob compilation, time fences, limit/offset, booleans, dnsdbq's
//! double escaping), the native API (`paths`: segments split before percent-decoding, fences,
//! the limit window, `lookup_from_segments`) and the CIRCL COF API (`cof::query_value`,
//! `cof::lookup_of` with the rrtype filter header): names, wildcards, hex, IPs, CIDRs, ranges.
//!
//! Checks: no panic; the limit window never exceeds its maximum; every error carries a 4xx
//! status; a successful DNSDB parse agrees with the native parse of the same lookup path.
//!
//! Input: text lines — path, query string, rrtype header (missing lines are absent).
#![no_main]

use dnsledger_server::{cof, dnsdb, paths};
use libfuzzer_sys::fuzz_target;

const NOW: u64 = 1_700_000_000;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut lines = text.splitn(3, '\n');
    let path = lines.next().unwrap_or("");
    let query = lines.next();
    let rrtype = lines.next();

    // DNSDB v2
    match dnsdb::parse(path, query, NOW) {
        Ok(parsed) => {
            let _ = format!("{parsed:?}");
            if let dnsdb::Request::Query(dnsdb::Query::Lookup(l)) = &parsed.request {
                // the same lookup through the native API's path handling
                let segs = paths::segments(path).expect("DNSDB accepted these segments");
                if !segs.iter().skip(1).any(|s| s.to_ascii_lowercase().contains('%')) {
                    let native = paths::lookup_from_segments(&segs[1..], parsed.fence);
                    assert_eq!(native.as_ref().ok(), Some(l), "DNSDB and native lookups differ for {path:?}");
                }
            }
        }
        Err((status, msg)) => {
            assert!(status.is_client_error(), "{status} for {path:?}: {msg}");
            assert!(msg.starts_with("Error: "));
        }
    }

    // native
    let pairs = paths::query_pairs(query);
    if let Ok(w) = paths::window(&pairs, 100, 1000) {
        assert!(w.limit.is_some_and(|l| l <= 1000));
    }
    let fence = paths::fence(&pairs, NOW);
    if let (Ok(segs), Ok(fence)) = (paths::segments(path), fence) {
        if let Err((status, _)) = paths::lookup_from_segments(&segs, fence) {
            assert!(status.is_client_error());
        }
    }

    // COF
    if let Ok(value) = cof::query_value(path) {
        assert!(!value.is_empty() && !value.contains('/'));
        let _ = cof::lookup_of(&value, rrtype);
    }
});
