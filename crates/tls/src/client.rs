//! The trust of dnsledger's HTTP clients (ureq over rustls): the system's CA certificates (read
//! once through `rustls-native-certs`: Debian's `ca-certificates` bundle, or `SSL_CERT_FILE` /
//! `SSL_CERT_DIR` when set) plus the certificates of an optional CA file, and readable messages
//! for the certificate failures a person has to act on.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};

use crate::TlsError;

/// The system's CA certificates, read at first use.
fn system_roots() -> Arc<Vec<Certificate<'static>>> {
    static ROOTS: OnceLock<Arc<Vec<Certificate<'static>>>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!(error = %e, "reading the system's CA certificates");
            }
            if found.certs.is_empty() {
                tracing::warn!(
                    "no system CA certificates found (install ca-certificates, or set SSL_CERT_FILE); \
                     only CA files given with --ca-file / ca_file are trusted"
                );
            }
            Arc::new(found.certs.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()).collect())
        })
        .clone()
}

/// Reads the certificates of a PEM CA file, checking each can serve as a trust anchor.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |why: String| TlsError::CaFile { path: path.to_path_buf(), why };
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut certs = Vec::new();
    for (i, c) in CertificateDer::pem_slice_iter(&bytes).enumerate() {
        let c = c.map_err(|e| err(format!("PEM block {}: {e}", i + 1)))?;
        let mut store = RootCertStore::empty();
        store.add(c.clone()).map_err(|e| err(format!("certificate {}: {e}", i + 1)))?;
        certs.push(c);
    }
    if certs.is_empty() {
        return Err(err("no PEM CERTIFICATE block in it".into()));
    }
    Ok(certs)
}

/// The TLS settings of one client: the system's CAs, plus those of `ca_file` when given.
pub fn tls_config(ca_file: Option<&Path>) -> Result<TlsConfig, TlsError> {
    let system = system_roots();
    let roots = match ca_file {
        None => RootCerts::Specific(system),
        Some(path) => {
            let extra = read_ca_file(path)?;
            let mut all: Vec<Certificate<'static>> = Vec::with_capacity(system.len() + extra.len());
            all.extend(system.iter().cloned());
            all.extend(extra.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()));
            RootCerts::Specific(Arc::new(all))
        }
    };
    Ok(TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(crate::provider())
        .root_certs(roots)
        .build())
}

/// An agent configuration builder with the TLS settings of [`tls_config`]; the caller adds its
/// timeouts and the like.
pub fn agent_config(
    ca_file: Option<&Path>,
) -> Result<ureq::config::ConfigBuilder<ureq::typestate::AgentScope>, TlsError> {
    Ok(ureq::Agent::config_builder().tls_config(tls_config(ca_file)?))
}

/// The rustls error inside a ureq error, if the failure was TLS.
fn rustls_error(e: &ureq::Error) -> Option<&rustls::Error> {
    match e {
        ureq::Error::Rustls(r) => Some(r),
        ureq::Error::Io(io) => io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()),
        _ => None,
    }
}

/// The host of `url` (for messages).
fn host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    authority.rsplit_once('@').map_or(authority, |(_, h)| h)
}

/// Says why a TLS connection to `host` failed, if `e` is a TLS failure.
pub fn explain_tls(e: &rustls::Error, host: &str) -> String {
    use rustls::Error as E;
    let why = match e {
        E::InvalidCertificate(c) => match c {
            CertificateError::UnknownIssuer => {
                "its certificate is not signed by a trusted CA (neither in the system's \
                                                CA store nor in the CA file given with --ca-file / ca_file)"
                    .to_string()
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("its certificate is not valid for the name {host} ({c})")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("its certificate has expired ({c})")
            }
            CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                format!("its certificate is not valid yet ({c}); check the clocks")
            }
            CertificateError::Revoked => "its certificate is revoked".to_string(),
            CertificateError::BadSignature => "its certificate's signature does not verify".to_string(),
            other => format!("its certificate was refused: {other}"),
        },
        E::InvalidMessage(_) => "it did not answer in TLS (a plain-HTTP server? then use an http:// URL)".to_string(),
        other => other.to_string(),
    };
    format!("TLS with {host} failed: {why}")
}

/// A one-line description of a failed request to `url`: for TLS failures, which host and why
/// its certificate was refused; otherwise ureq's own message.
pub fn describe(e: &ureq::Error, url: &str) -> String {
    match rustls_error(e) {
        Some(r) => explain_tls(r, host(url)),
        None => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_urls() {
        assert_eq!(host("https://collector.example.net:8443/api/v1/x?y=1"), "collector.example.net:8443");
        assert_eq!(host("https://user:pw@db.example.com"), "db.example.com");
        assert_eq!(host("db.example.com/x"), "db.example.com");
    }

    #[test]
    fn ca_file_errors_name_the_file_and_the_problem() {
        let dir = std::env::temp_dir().join(format!("dnsledger-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let e = tls_config(Some(&missing)).unwrap_err().to_string();
        assert!(e.contains("missing.pem"), "{e}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = tls_config(Some(&empty)).unwrap_err().to_string();
        assert!(e.contains("no PEM CERTIFICATE"), "{e}");
        let garbage = dir.join("garbage.pem");
        std::fs::write(&garbage, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap();
        let e = tls_config(Some(&garbage)).unwrap_err().to_string();
        assert!(e.contains("garbage.pem") && e.contains("certificate 1"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn explanations_say_why() {
        let e = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let m = explain_tls(&e, "collector.example.net");
        assert!(m.contains("collector.example.net") && m.contains("not signed by a trusted CA"), "{m}");
        let e = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert!(explain_tls(&e, "h").contains("plain-HTTP"));
    }
}
