//! The HTTP client of the commands that talk to a running server (`query`, `analyze` and
//! `backup` with `--server`): an agent trusting the system's CAs plus `--ca-file`, and request
//! errors that say which host failed TLS and why (see `dnsledger-tls`).

use std::path::Path;

/// An agent that returns statuses as values, trusting the system's CAs and `ca_file`.
pub fn agent(ca_file: Option<&Path>) -> anyhow::Result<ureq::Agent> {
    Ok(dnsledger_tls::client::agent_config(ca_file)?.http_status_as_error(false).build().into())
}

/// Turns a failed request to `url` into an error naming it (and, for TLS, the host and why).
pub fn failed(url: &str) -> impl FnOnce(ureq::Error) -> anyhow::Error + '_ {
    move |e| anyhow::anyhow!("requesting {url}: {}", dnsledger_tls::client::describe(&e, url))
}
