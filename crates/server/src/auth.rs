//! Who is asking, and may they: API keys (DNSDB `X-API-Key`, CIRCL Basic auth) checked against
//! the key store, quotas charged per query, and per-key result limits. Without a key store the
//! server is open, which [`crate::bind`] allows on loopback addresses only.

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;

use crate::dnsdb::text_error;
use crate::AppState;

/// A refusal by the key authority: an HTTP status and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    /// 401 (expired), 403 (disabled or invalid), 429 (quota or burst quota exhausted).
    pub status: u16,
    /// The message, e.g. `Error: Quota exhausted`.
    pub message: String,
}

/// What a key may do per query.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyLimits {
    /// Most results per query (`None`: the server's maximum).
    pub results_max: Option<u64>,
    /// Largest `offset` (`None`: offsets are not allowed).
    pub offset_max: Option<u64>,
    /// May use Flex search.
    pub flex: bool,
}

/// The API-key authority the server asks; implemented by `dnsledger-keys` (through the CLI),
/// kept as a trait so the HTTP layer does not depend on how keys are stored.
pub trait KeyAuthority: Send + Sync {
    /// True if no key is configured.
    fn is_empty(&self) -> bool;
    /// The key id a presented secret belongs to (constant-time check).
    fn authenticate(&self, presented: &str) -> Option<String>;
    /// Counts one query against the key's quotas.
    fn charge(&self, key: &str, now: u64) -> Result<(), Denied>;
    /// The key's per-query limits.
    fn limits(&self, key: &str) -> KeyLimits;
    /// The DNSDB `rate_limit` JSON line (ending in `\n`) for the key.
    fn rate_limit_json(&self, key: &str, now: u64) -> String;
    /// Periodic housekeeping (every minute and at shutdown): persist usage counters, pick up
    /// changes to the key file.
    fn tick(&self) -> Result<(), String>;
    /// True if the key may call the admin API (`/api/v1/admin/...`, e.g. online backups):
    /// marked admin, not disabled, not expired. No key is, unless the authority says so.
    fn is_admin(&self, key: &str) -> bool {
        let _ = key;
        false
    }
}

/// The caller of a request.
pub enum Caller {
    /// No key store is configured: open access (loopback only).
    Open,
    /// An authenticated key (its id).
    Key(String),
}

fn forbidden() -> Response {
    text_error(StatusCode::FORBIDDEN, "Error: API key not valid")
}

/// The caller of a DNSDB request (`X-API-Key`, header names are case-insensitive).
pub fn dnsdb_caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(keys) = &st.keys else { return Ok(Caller::Open) };
    let presented = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::trim).ok_or_else(forbidden)?;
    keys.authenticate(presented).map(Caller::Key).ok_or_else(forbidden)
}

/// The caller of a native API request: `X-API-Key`, `Authorization: Bearer KEY`, or as for COF.
pub fn native_caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    cof_caller(st, headers)
}

/// The caller of a COF request: HTTP Basic with the key as password, or the bare key in
/// `Authorization` (PyPDNS `auth_token`); `X-API-Key` works too.
pub fn cof_caller(st: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let Some(keys) = &st.keys else { return Ok(Caller::Open) };
    let unauthorized = || text_error(StatusCode::UNAUTHORIZED, "Error: not authenticated");
    if let Some(k) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return keys.authenticate(k.trim()).map(Caller::Key).ok_or_else(unauthorized);
    }
    let auth =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::trim).ok_or_else(unauthorized)?;
    let secret = match auth.split_once(' ') {
        Some((scheme, b64)) if scheme.eq_ignore_ascii_case("basic") => {
            let decoded = dnsledger_model::rdata::decode_base64(b64.trim()).ok_or_else(unauthorized)?;
            let text = String::from_utf8(decoded).map_err(|_| unauthorized())?;
            match text.split_once(':') {
                Some((_user, pass)) => pass.to_string(),
                None => text,
            }
        }
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => token.trim().to_string(),
        _ => auth.to_string(),
    };
    keys.authenticate(&secret).map(Caller::Key).ok_or_else(unauthorized)
}

/// Charges one query to the caller's quota.
pub fn charge(st: &AppState, caller: &Caller, now: u64) -> Result<(), Response> {
    match (caller, &st.keys) {
        (Caller::Key(k), Some(keys)) => keys.charge(k, now).map_err(|d| {
            let reason = match d.status {
                429 => "quota",
                401 => "expired",
                403 => "disabled",
                416 => "offset",
                _ => "other",
            };
            metrics::counter!(dnsledger_telemetry::catalog::QUOTA_REJECTIONS, "reason" => reason).increment(1);
            let status = StatusCode::from_u16(d.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
            text_error(status, &d.message)
        }),
        _ => Ok(()),
    }
}

/// The most results one query may return.
pub fn results_max(st: &AppState, caller: &Caller) -> u64 {
    match (caller, &st.keys) {
        (Caller::Key(k), Some(keys)) => {
            keys.limits(k).results_max.unwrap_or(st.config.max_limit).min(st.config.max_limit)
        }
        _ => st.config.max_limit,
    }
}

/// The largest `offset` allowed (`None`: offsets not allowed).
pub fn offset_max(st: &AppState, caller: &Caller) -> Option<u64> {
    match (caller, &st.keys) {
        (Caller::Key(k), Some(keys)) => keys.limits(k).offset_max,
        _ => Some(u64::MAX),
    }
}

/// True if the caller may use Flex search.
pub fn flex_allowed(st: &AppState, caller: &Caller) -> bool {
    match (caller, &st.keys) {
        (Caller::Key(k), Some(keys)) => keys.limits(k).flex,
        _ => true,
    }
}

/// The DNSDB `rate_limit` answer (one JSON line ending in `\n`).
pub fn rate_limit_json(st: &AppState, caller: &Caller, now: u64) -> String {
    match (caller, &st.keys) {
        (Caller::Key(k), Some(keys)) => keys.rate_limit_json(k, now),
        _ => format!(
            "{{\"rate\":{{\"reset\":\"n/a\",\"limit\":\"unlimited\",\"remaining\":\"n/a\",\"results_max\":{}}}}}\n",
            st.config.max_limit
        ),
    }
}

#[cfg(test)]
pub(crate) mod testkeys {
    //! A fixed key authority for route tests.

    use super::{Denied, KeyAuthority, KeyLimits};

    /// Two keys: `admin-secret` (the admin key `ops`) and `user-secret` (`soc`, not admin).
    pub(crate) struct TestKeys;

    impl KeyAuthority for TestKeys {
        fn is_empty(&self) -> bool {
            false
        }
        fn authenticate(&self, presented: &str) -> Option<String> {
            match presented {
                "admin-secret" => Some("ops".into()),
                "user-secret" => Some("soc".into()),
                _ => None,
            }
        }
        fn charge(&self, _key: &str, _now: u64) -> Result<(), Denied> {
            Ok(())
        }
        fn limits(&self, _key: &str) -> KeyLimits {
            KeyLimits { results_max: None, offset_max: None, flex: true }
        }
        fn rate_limit_json(&self, _key: &str, _now: u64) -> String {
            String::new()
        }
        fn tick(&self) -> Result<(), String> {
            Ok(())
        }
        fn is_admin(&self, key: &str) -> bool {
            key == "ops"
        }
    }
}
