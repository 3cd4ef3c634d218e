//! `[[upstream]]` configuration entries: which platform, where, with which credentials, how
//! patiently and how often. Credentials come from the file (`api_key`) or from an environment
//! variable the file names (`api_key_env`); [`Secret`] keeps them out of `Debug` output, logs
//! and serialisations.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Seconds an upstream may take to answer one request unless configured.
pub const DEFAULT_TIMEOUT_SECS: u64 = 10;
/// Most records asked of an upstream per query unless configured.
pub const DEFAULT_LIMIT: u64 = 10_000;

/// The protocol an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// DNSDB API v2 (SAF framing, `X-API-Key`).
    Dnsdb,
    /// CIRCL passive DNS (COF NDJSON at `/pdns/query/`, HTTP Basic, `dribble-*` paging).
    Circl,
    /// PassiveTotal passive DNS (`/v2/dns/passive`, HTTP Basic, JSON).
    Passivetotal,
    /// Microsoft Defender Threat Intelligence through Microsoft Graph
    /// (`/security/threatIntelligence/hosts/{host}/passiveDns[Reverse]`, OAuth 2.0 client
    /// credentials, OData paging).
    Defender,
}

impl Kind {
    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Dnsdb => "dnsdb",
            Kind::Circl => "circl",
            Kind::Passivetotal => "passivetotal",
            Kind::Defender => "defender",
        }
    }
}

/// A credential: shown as `***` by `Debug` and serialisation.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }

    /// The credential itself, for the request that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("\"***\"")
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// One `[[upstream]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UpstreamConfig {
    /// Name used in `sources=` lists, `--source` and as the stored sensor id `upstream:NAME`.
    pub name: String,
    /// Protocol.
    pub kind: Kind,
    /// Base URL (`https://host[:port]` or `http://…`; the protocol's paths are appended).
    pub url: String,
    /// PEM file of extra CA certificates to trust for this upstream, beside the system's.
    pub ca_file: Option<PathBuf>,
    /// User name for HTTP Basic (CIRCL, PassiveTotal); DNSDB ignores it.
    pub username: Option<String>,
    /// The API key (DNSDB `X-API-Key`, CIRCL password, PassiveTotal key, Defender client
    /// secret). Prefer `api_key_env`.
    pub api_key: Option<Secret>,
    /// Name of an environment variable holding the API key; wins over `api_key`.
    pub api_key_env: Option<String>,
    /// Defender: the Microsoft Entra tenant (id or domain) whose token endpoint issues tokens.
    pub tenant_id: Option<String>,
    /// Defender: the application (client) id of the app registration.
    pub client_id: Option<String>,
    /// Defender: the OAuth 2.0 token endpoint [default: the Microsoft identity platform's
    /// v2.0 endpoint of `tenant_id`].
    pub token_url: Option<String>,
    /// Defender: the scope asked for [default: `https://graph.microsoft.com/.default`].
    pub scope: Option<String>,
    /// Seconds one request may take (connect to last byte) [default: 10].
    pub timeout_secs: Option<u64>,
    /// Most requests per minute this dnsledger sends to the upstream [default: no local limit].
    pub rate_limit_per_min: Option<u32>,
    /// Most records asked per query [default: 10000].
    pub limit: Option<u64>,
    /// Scheduled pulls inside `dnsledger serve`: how often (`30m`, `6h`, `1d`, or seconds).
    pub pull_every: Option<String>,
    /// Scheduled pulls: a file of indicators, one lookup per line (see docs/federation.md).
    pub pull_indicators: Option<PathBuf>,
    /// Scheduled pulls: also every entry of the watchlists (`dnsledger serve` with watchlists).
    pub pull_watchlists: Option<bool>,
}

impl UpstreamConfig {
    /// A minimal entry (used by tests and programmatic setups).
    pub fn new(name: &str, kind: Kind, url: &str) -> UpstreamConfig {
        UpstreamConfig {
            name: name.to_string(),
            kind,
            url: url.to_string(),
            ca_file: None,
            username: None,
            api_key: None,
            api_key_env: None,
            tenant_id: None,
            client_id: None,
            token_url: None,
            scope: None,
            timeout_secs: None,
            rate_limit_per_min: None,
            limit: None,
            pull_every: None,
            pull_indicators: None,
            pull_watchlists: None,
        }
    }

    /// The per-request timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.unwrap_or(DEFAULT_TIMEOUT_SECS).max(1))
    }

    /// Most records asked per query.
    pub fn limit(&self) -> u64 {
        self.limit.unwrap_or(DEFAULT_LIMIT).max(1)
    }

    /// The API key: the environment variable named by `api_key_env` if set, else `api_key`.
    pub fn key(&self) -> Result<Option<Secret>, String> {
        match &self.api_key_env {
            Some(var) => match std::env::var(var) {
                Ok(v) if !v.is_empty() => Ok(Some(Secret(v))),
                _ => Err(format!(
                    "upstream {:?}: api_key_env names {var:?}, which is not set in the environment",
                    self.name
                )),
            },
            None => Ok(self.api_key.clone()),
        }
    }

    /// The scheduled pull interval, if pulls are configured.
    pub fn pull_interval(&self) -> Result<Option<Duration>, String> {
        match &self.pull_every {
            None => Ok(None),
            Some(s) => match dnsledger_model::time::parse_duration(s).or_else(|| s.trim().parse().ok()) {
                Some(secs) if secs >= 1 => Ok(Some(Duration::from_secs(secs))),
                _ => Err(format!("upstream {:?}: pull_every {s:?}: expected e.g. 30m, 6h, 1d or seconds", self.name)),
            },
        }
    }

    /// Every problem of this entry, as messages naming the field. (A key variable that is not
    /// set in this environment is not one: see [`UpstreamConfig::key`], checked at use.)
    pub fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        let at = format!("[[upstream]] {:?}", self.name);
        if self.name.is_empty()
            || self.name == crate::LOCAL
            || self.name == "all"
            || !self.name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            out.push(format!("{at}: name must be letters, digits, - _ . and not \"local\" or \"all\""));
        }
        if !(self.url.starts_with("http://") || self.url.starts_with("https://")) {
            out.push(format!("{at}: url {:?}: expected https://HOST[:PORT][/PATH] or http://…", self.url));
        }
        if let Some(path) = &self.ca_file {
            if let Err(e) = dnsledger_tls::client::read_ca_file(path) {
                out.push(format!("{at}: ca_file: {e}"));
            }
        }
        if self.kind == Kind::Passivetotal && self.username.is_none() {
            out.push(format!("{at}: kind passivetotal needs username (the account's e-mail) with the API key"));
        }
        if self.kind == Kind::Defender {
            if self.client_id.as_deref().is_none_or(str::is_empty) {
                out.push(format!("{at}: kind defender needs client_id (the app registration's application id)"));
            }
            if self.tenant_id.as_deref().is_none_or(str::is_empty) && self.token_url.is_none() {
                out.push(format!("{at}: kind defender needs tenant_id (or token_url)"));
            }
            if let Some(t) = &self.token_url {
                if !(t.starts_with("http://") || t.starts_with("https://")) {
                    out.push(format!("{at}: token_url {t:?}: expected https://HOST[:PORT]/PATH"));
                }
            }
        } else if self.tenant_id.is_some()
            || self.client_id.is_some()
            || self.token_url.is_some()
            || self.scope.is_some()
        {
            out.push(format!("{at}: tenant_id, client_id, token_url and scope apply to kind defender only"));
        }
        if self.timeout_secs == Some(0) || self.rate_limit_per_min == Some(0) || self.limit == Some(0) {
            out.push(format!("{at}: timeout_secs, rate_limit_per_min and limit must be at least 1"));
        }
        if let Err(e) = self.pull_interval() {
            out.push(e);
        }
        let what = self.pull_indicators.is_some() || self.pull_watchlists == Some(true);
        if self.pull_every.is_some() != what {
            out.push(format!(
                "{at}: scheduled pulls need pull_every and something to pull (pull_indicators, pull_watchlists = true)"
            ));
        }
        out
    }
}

/// Problems of a whole `[[upstream]]` list: each entry's, and duplicate names.
pub fn check_all(list: &[UpstreamConfig]) -> Vec<String> {
    let mut out: Vec<String> = list.iter().flat_map(UpstreamConfig::problems).collect();
    for (i, u) in list.iter().enumerate() {
        if list[..i].iter().any(|o| o.name == u.name) {
            out.push(format!("[[upstream]] {:?}: the name is used twice", u.name));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_show() {
        let mut c = UpstreamConfig::new("farsight", Kind::Dnsdb, "http://127.0.0.1:1");
        c.api_key = Some(Secret::new("s3cr3t-key"));
        let debug = format!("{c:?}");
        assert!(!debug.contains("s3cr3t") && debug.contains("***"), "{debug}");
        let json = serde_json::to_string(&c).unwrap();
        assert!(!json.contains("s3cr3t"), "{json}");
        assert_eq!(c.key().unwrap().unwrap().expose(), "s3cr3t-key");
    }

    #[test]
    fn env_key_and_checks() {
        let mut c = UpstreamConfig::new("circl", Kind::Circl, "ftp://x");
        c.api_key_env = Some("DNSLEDGER_TEST_SURELY_UNSET_VAR".into());
        c.pull_every = Some("often".into());
        let p = c.problems().join("\n");
        assert!(p.contains("url") && p.contains("pull_every"), "{p}");
        assert!(c.key().unwrap_err().contains("not set"));
        let c = UpstreamConfig::new("local", Kind::Dnsdb, "http://a");
        assert!(check_all(&[c.clone(), c]).len() >= 2);
        let mut ok = UpstreamConfig::new("a", Kind::Dnsdb, "http://a");
        ok.pull_every = Some("6h".into());
        ok.pull_indicators = Some("x".into());
        assert_eq!(ok.pull_interval().unwrap(), Some(Duration::from_secs(6 * 3600)));
        assert!(ok.problems().is_empty());
    }
}
