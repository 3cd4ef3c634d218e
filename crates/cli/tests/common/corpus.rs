//! Small passive DNS corpora for the analysis tests: gamelinux passivedns lines at chosen
//! times, and reading the reports back.

use serde_json::Value;

/// 2024-01-01T00:00:00Z.
pub const T0: u64 = 1_704_067_200;
/// One day in seconds.
pub const D: u64 = 86_400;

/// One passivedns line: `name TYPE rdata` seen at `ts` with TTL `ttl`.
pub fn line_ttl(ts: u64, name: &str, ty: &str, rdata: &str, ttl: u32) -> String {
    format!("{ts}.000000||10.0.0.1||10.0.0.53||IN||{name}||{ty}||{rdata}||{ttl}||1\n")
}

/// One passivedns line with TTL 300.
pub fn line(ts: u64, name: &str, ty: &str, rdata: &str) -> String {
    line_ttl(ts, name, ty, rdata, 300)
}

/// A command's JSON output, or a panic showing it.
pub fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// A report without the top-level fields that differ between runs or between a local run and
/// a server (times taken, records read, notes).
pub fn without(mut v: Value, keys: &[&str]) -> Value {
    if let Some(o) = v.as_object_mut() {
        for k in keys {
            o.remove(*k);
        }
    }
    v
}
