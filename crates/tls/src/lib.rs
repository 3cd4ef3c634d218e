//! TLS for dnsledger, in one place so every HTTP client and the server agree on it.
//!
//! - [`client`]: the trust of every outgoing HTTPS request (sensor → collector, ClickHouse,
//!   federation upstreams, `query`/`analyze`/`backup` against a server): the system's CA store
//!   plus an optional CA file per client, for private CAs and self-signed collectors. There is no
//!   switch that turns verification off.
//! - [`server`]: the certificate and key `dnsledger serve` presents, reloadable while serving
//!   (SIGHUP), and the rustls server configuration (TLS 1.2 and 1.3 only).
//!
//! The crypto provider is rustls' `ring` backend for both sides (the lightest build of the
//! maintained providers); it is passed explicitly, never installed as a process-wide default.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

pub mod client;
pub mod server;
pub mod validity;

/// Why a TLS configuration could not be set up.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    /// The extra CA file of a client cannot be used.
    #[error("CA file {}: {why}", path.display())]
    CaFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The server's certificate file cannot be used.
    #[error("TLS certificate {}: {why}", path.display())]
    Cert {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
    /// The server's private key file cannot be used (or does not match the certificate).
    #[error("TLS key {}: {why}", path.display())]
    Key {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// The crypto provider both sides use (rustls' `ring` backend), built once.
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    static PROVIDER: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::ring::default_provider())).clone()
}
