//! Federation: dnsledger as the one place analysts ask, across other passive DNS platforms.
//!
//! - [`config`]: the `[[upstream]]` entries (name, kind, URL, credentials, timeout, rate limit,
//!   scheduled pulls); credentials never appear in `Debug` output or logs.
//! - [`query`]: a lookup as upstreams are asked it (the DNSDB path shape
//!   `rrset/name/NAME[/TYPE[/BAILIWICK]]`, `rdata/name/…`, `rdata/ip/…`, `rrset/raw`, `rdata/raw`).
//! - Clients, one per protocol: [`dnsdb`] (DNSDB API v2, SAF, `rate_limit`), [`circl`] (CIRCL
//!   COF with `dribble-*` paging), [`passivetotal`] (PassiveTotal v2 passive DNS JSON) and
//!   [`defender`] (Microsoft Defender Threat Intelligence through Microsoft Graph, OAuth 2.0
//!   client credentials, OData paging). Each decodes answers with the feed parsers of
//!   `dnsledger-sources` into [`Observation`]s, so an upstream record and a local one compare
//!   by the same normalised key. Each upstream keeps one HTTP agent for its life, so
//!   consecutive requests reuse an idle keep-alive connection.
//! - [`merge`]: answers merged by (rrname, rrtype, bailiwick, rdata) with min first, max last and
//!   summed counts, each record naming the sources that saw it.
//! - [`federated`]: one lookup run on the local store and several upstreams at once, each with
//!   its own deadline; a failing upstream becomes a report, never a failed lookup. Merged
//!   (exact, sent at the end) or streamed (each source's records as they arrive, re-sent
//!   merged when a later source sees them too).
//! - [`cancel`]: a lookup whose client went away is cancelled — its upstream connections are
//!   closed (blocked reads return at once), paging and waits stop, and
//!   `dnsledger_upstream_cancelled_total{upstream}` counts each upstream request cut short.
//! - [`pull`]: backfill — upstream answers stored locally, labelled `upstream:NAME`, idempotent
//!   through a per-(upstream, owner name) ledger kept in the store's checkpoints.
//!
//! The clients are blocking (`ureq`): callers run them on their own threads (the server uses
//! `spawn_blocking`). `https://` upstreams are verified against the system's CA store plus the
//! entry's `ca_file` (see `dnsledger-tls`).

pub mod cancel;
pub mod circl;
pub mod config;
pub mod defender;
pub mod dnsdb;
pub mod federated;
mod http;
pub mod merge;
pub mod passivetotal;
pub mod pull;
pub mod query;

use std::sync::Arc;

pub use cancel::Cancel;
pub use config::{Kind, UpstreamConfig};
use dnsledger_model::Observation;
pub use federated::{SourceReport, SourceStatus};
pub use http::UpstreamError;
pub use merge::{MergedRecord, Merger};
pub use query::UpstreamQuery;

/// The source name of the local store in `sources=` lists.
pub const LOCAL: &str = "local";

/// The sensor id under which records pulled from upstream `name` are stored.
pub fn sensor_label(name: &str) -> String {
    format!("upstream:{name}")
}

/// What one upstream fetch delivered (the records themselves went to the caller's callback).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fetched {
    /// Records (upstream objects) received.
    pub records: u64,
    /// True if the upstream said it cut the answer at a limit.
    pub limited: bool,
    /// Remarks worth showing (a SAF `msg`, paging details).
    pub notes: Vec<String>,
}

/// A configured upstream with its client state: rate limiter, HTTP agent (one per upstream,
/// reused across requests so connections are kept alive), cached OAuth token (Defender).
pub struct Upstream {
    /// Its configuration (credentials resolved).
    pub config: UpstreamConfig,
    limiter: http::Limiter,
    /// The agent, or why it cannot be built (reported at each use).
    agent: Result<ureq::Agent, UpstreamError>,
    token: defender::TokenCache,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upstream").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Upstream {
    /// A client for `config`.
    pub fn new(config: UpstreamConfig) -> Upstream {
        let limiter = http::Limiter::new(config.rate_limit_per_min);
        let agent = http::agent(&config);
        Upstream { config, limiter, agent, token: defender::TokenCache::default() }
    }

    /// The upstream's name.
    pub fn name(&self) -> &str {
        &self.config.name
    }

    /// Asks the upstream `q`, handing each record to `emit` as it arrives (streamed where the
    /// protocol streams). Records already emitted stay valid when an error follows (e.g. a SAF
    /// stream cut before its terminator).
    pub fn fetch(&self, q: &UpstreamQuery, emit: &mut dyn FnMut(Observation)) -> Result<Fetched, UpstreamError> {
        self.fetch_with(q, &Cancel::new(), emit)
    }

    /// [`Upstream::fetch`] as part of a lookup that `cancel` may cancel: a cancel closes the
    /// connections this fetch uses, stops its paging and waits, and ends it with
    /// [`UpstreamError::Cancelled`] (counted in `dnsledger_upstream_cancelled_total`).
    pub fn fetch_with(
        &self,
        q: &UpstreamQuery,
        cancel: &Cancel,
        emit: &mut dyn FnMut(Observation),
    ) -> Result<Fetched, UpstreamError> {
        let scope = cancel.enter();
        let res = self.agent.clone().and_then(|agent| match self.config.kind {
            Kind::Dnsdb => dnsdb::fetch(self, &agent, q, emit),
            Kind::Circl => circl::fetch(self, &agent, q, emit),
            Kind::Passivetotal => passivetotal::fetch(self, &agent, q, emit),
            Kind::Defender => defender::fetch(self, &agent, q, emit),
        });
        // leaving the scope unbinds the connections (each was read to its end or dropped)
        drop(scope);
        // a cancel turns whatever the cut connection looked like (an error, or a
        // close-delimited body that seems complete) into what it is
        let res = if cancel.is_cancelled() { Err(UpstreamError::Cancelled) } else { res };
        let result = match &res {
            Ok(f) if f.limited => "limited",
            Ok(_) => "ok",
            Err(e) => e.category(),
        };
        metrics::counter!(dnsledger_telemetry::catalog::UPSTREAM_REQUESTS, "upstream" => self.config.name.clone(), "result" => result)
            .increment(1);
        if matches!(res, Err(UpstreamError::Cancelled)) {
            metrics::counter!(dnsledger_telemetry::catalog::UPSTREAM_CANCELLED, "upstream" => self.config.name.clone())
                .increment(1);
            tracing::debug!(upstream = self.name(), query = %q.display(), "upstream lookup cancelled: the client went away");
            return res;
        }
        if let Err(e) = &res {
            tracing::debug!(upstream = self.name(), query = %q.display(), error = %e, "upstream lookup failed");
        }
        res
    }

    /// The upstream's remaining quota, where its protocol reports one (DNSDB `rate_limit`).
    pub fn quota(&self) -> Result<Option<dnsdb::Quota>, UpstreamError> {
        match self.config.kind {
            Kind::Dnsdb => dnsdb::quota(self, &self.agent.clone()?).map(Some),
            Kind::Circl | Kind::Passivetotal | Kind::Defender => Ok(None),
        }
    }

    /// Waits for the local rate limit before a request (fails instead of waiting past the
    /// upstream's timeout); refuses to start a request for a cancelled lookup.
    fn pace(&self) -> Result<(), UpstreamError> {
        let cancel = cancel::current();
        if cancel.as_ref().is_some_and(Cancel::is_cancelled) {
            return Err(UpstreamError::Cancelled);
        }
        self.limiter.wait(self.config.timeout(), cancel.as_ref())
    }
}

/// The configured upstreams, by name.
#[derive(Debug, Clone, Default)]
pub struct Federation {
    upstreams: Vec<Arc<Upstream>>,
}

impl Federation {
    /// Clients for `configs` (names must be unique and not `local`; see [`config::check_all`]).
    pub fn new(configs: Vec<UpstreamConfig>) -> Federation {
        Federation { upstreams: configs.into_iter().map(|c| Arc::new(Upstream::new(c))).collect() }
    }

    /// True if no upstream is configured.
    pub fn is_empty(&self) -> bool {
        self.upstreams.is_empty()
    }

    /// The upstream called `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<Upstream>> {
        self.upstreams.iter().find(|u| u.name() == name)
    }

    /// Every upstream.
    pub fn all(&self) -> &[Arc<Upstream>] {
        &self.upstreams
    }

    /// Parses a `sources=` list (`local,NAME,...`; `all` = local and every upstream): whether
    /// the local store is asked, and which upstreams, in the order given.
    pub fn select(&self, list: &str) -> Result<(bool, Vec<Arc<Upstream>>), String> {
        let mut local = false;
        let mut chosen: Vec<Arc<Upstream>> = Vec::new();
        for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if name == LOCAL {
                local = true;
            } else if name == "all" {
                local = true;
                for u in &self.upstreams {
                    if !chosen.iter().any(|c| c.name() == u.name()) {
                        chosen.push(u.clone());
                    }
                }
            } else {
                let Some(u) = self.get(name) else {
                    let known: Vec<&str> =
                        std::iter::once(LOCAL).chain(self.upstreams.iter().map(|u| u.name())).collect();
                    return Err(format!("sources: unknown source {name:?} (known: {})", known.join(", ")));
                };
                if !chosen.iter().any(|c| c.name() == name) {
                    chosen.push(u.clone());
                }
            }
        }
        if !local && chosen.is_empty() {
            return Err("sources: empty list (give local and/or upstream names)".into());
        }
        Ok((local, chosen))
    }
}
