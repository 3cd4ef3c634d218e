//! One ClickHouse server over HTTP: statements in the request body, inserts with the
//! statement in the `query` parameter and rows in the body, credentials in headers (never in
//! URLs, so they do not reach logs).

use std::time::Duration;

/// How a request failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    /// The server answered with an error (`Code: NNN, … DB::Exception: …`); nothing was applied
    /// by a failed insert.
    #[error("{url}: HTTP {status}: {message}")]
    Server {
        /// Server URL.
        url: String,
        /// HTTP status.
        status: u16,
        /// ClickHouse's message, trimmed.
        message: String,
    },
    /// The request did not complete (connect error, timeout, reset): an insert may or may not
    /// have been applied.
    #[error("{url}: {message}")]
    Transport {
        /// Server URL.
        url: String,
        /// What went wrong.
        message: String,
    },
}

impl HttpError {
    /// True if the server reported that a table or database does not exist.
    pub fn is_missing_table(&self) -> bool {
        matches!(self, HttpError::Server { message, .. }
            if message.contains("Code: 60,") || message.contains("Code: 81,") || message.contains("UNKNOWN_TABLE") || message.contains("UNKNOWN_DATABASE"))
    }
}

/// Most bytes one response may have (results are paged well below this).
const MAX_RESPONSE: u64 = 1 << 30;

/// A ClickHouse server.
#[derive(Clone)]
pub struct Node {
    /// Base URL, without trailing slash.
    pub url: String,
    agent: ureq::Agent,
    user: Option<String>,
    password: Option<String>,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node").field("url", &self.url).field("user", &self.user).finish_non_exhaustive()
    }
}

impl Node {
    /// A server at `url`; `tls` holds the CAs an https:// URL is verified against.
    pub fn new(
        url: &str,
        user: Option<String>,
        password: Option<String>,
        timeout: Duration,
        tls: &ureq::tls::TlsConfig,
    ) -> Node {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls.clone())
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Node { url: url.trim_end_matches('/').to_string(), agent, user, password }
    }

    fn request(&self, params: &[(&str, &str)]) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
        let mut req = self.agent.post(&self.url);
        for (k, v) in params {
            req = req.query(*k, *v);
        }
        if let Some(u) = &self.user {
            req = req.header("X-ClickHouse-User", u);
        }
        if let Some(p) = &self.password {
            req = req.header("X-ClickHouse-Key", p);
        }
        req
    }

    fn send(&self, req: ureq::RequestBuilder<ureq::typestate::WithBody>, body: &[u8]) -> Result<Vec<u8>, HttpError> {
        let transport = |e: ureq::Error| HttpError::Transport {
            url: self.url.clone(),
            message: dnsledger_tls::client::describe(&e, &self.url),
        };
        let mut resp = req.send(body).map_err(transport)?;
        let status = resp.status().as_u16();
        let bytes = resp.body_mut().with_config().limit(MAX_RESPONSE).read_to_vec().map_err(transport)?;
        if status != 200 {
            let message = String::from_utf8_lossy(&bytes).trim().chars().take(2000).collect();
            return Err(HttpError::Server { url: self.url.clone(), status, message });
        }
        Ok(bytes)
    }

    /// Runs a statement and returns the response body. Reads wait for the end of the query, so
    /// an error part-way through is an error status, not a truncated 200.
    pub fn query(&self, sql: &str) -> Result<Vec<u8>, HttpError> {
        self.send(self.request(&[("wait_end_of_query", "1")]), sql.as_bytes())
    }

    /// Sends `rows` (in the format `insert` names) to an `INSERT … FORMAT …` statement.
    pub fn insert(&self, insert: &str, rows: &[u8], settings: &[(&str, &str)]) -> Result<(), HttpError> {
        let mut params = vec![("query", insert)];
        params.extend_from_slice(settings);
        self.send(self.request(&params), rows).map(drop)
    }

    /// Runs a query whose result is one unsigned integer (`FORMAT TabSeparated`).
    pub fn query_u64(&self, sql: &str) -> Result<u64, HttpError> {
        let body = self.query(sql)?;
        let text = String::from_utf8_lossy(&body);
        text.trim().parse().map_err(|_| HttpError::Server {
            url: self.url.clone(),
            status: 200,
            message: format!("expected a number, got {:?}", text.chars().take(200).collect::<String>()),
        })
    }
}

/// `s` as a ClickHouse string literal: printable ASCII as is, every other byte (and the
/// quote and backslash) as `\xHH`, so binary keys pass unchanged on every version.
pub fn literal(s: &[u8]) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for &b in s {
        if (0x20..0x7f).contains(&b) && b != b'\'' && b != b'\\' {
            out.push(b as char);
        } else {
            out.push_str(&format!("\\x{b:02X}"));
        }
    }
    out.push('\'');
    out
}

/// `s` as a ClickHouse identifier (back-quoted; back-quotes and backslashes escaped).
pub fn ident(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('`');
    for c in s.chars() {
        if c == '`' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('`');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_escape_every_unsafe_byte() {
        assert_eq!(literal(b"\x01ab'\\\x00\xff"), "'\\x01ab\\x27\\x5C\\x00\\xFF'");
        assert_eq!(ident("we`ird"), "`we\\`ird`");
    }
}
