//! The certificate `dnsledger serve` presents: read from a PEM certificate chain and a PEM
//! private key, checked to match, and swapped atomically on reload (a reload that fails keeps the
//! certificate served before). Handshakes pick the current one through rustls' certificate
//! resolver, so connections already open keep theirs and new ones get the new one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::TlsError;

/// The server's certificate chain and key, reloadable from their files.
#[derive(Debug)]
pub struct ServerCert {
    cert_path: PathBuf,
    key_path: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

/// Reads and checks a certificate chain and its key.
fn load(cert_path: &Path, key_path: &Path) -> Result<CertifiedKey, TlsError> {
    let cert_err = |why: String| TlsError::Cert { path: cert_path.to_path_buf(), why };
    let key_err = |why: String| TlsError::Key { path: key_path.to_path_buf(), why };
    let bytes = std::fs::read(cert_path).map_err(|e| cert_err(e.to_string()))?;
    let chain = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| cert_err(format!("not PEM: {e}")))?;
    if chain.is_empty() {
        return Err(cert_err("no PEM CERTIFICATE block in it".into()));
    }
    let bytes = std::fs::read(key_path).map_err(|e| key_err(e.to_string()))?;
    let key = PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|e| key_err(format!("no usable PEM private key (PKCS#8, PKCS#1 or SEC1): {e}")))?;
    CertifiedKey::from_der(chain, key, &crate::provider()).map_err(|e| match e {
        rustls::Error::InconsistentKeys(_) => {
            key_err(format!("does not match the certificate in {}", cert_path.display()))
        }
        rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidMessage(_) => cert_err(e.to_string()),
        other => key_err(other.to_string()),
    })
}

impl ServerCert {
    /// Loads the certificate chain (end-entity first) and the private key; fails if either
    /// cannot be read or they do not belong together.
    pub fn load(cert_path: &Path, key_path: &Path) -> Result<Arc<ServerCert>, TlsError> {
        let ck = load(cert_path, key_path)?;
        Ok(Arc::new(ServerCert {
            cert_path: cert_path.to_path_buf(),
            key_path: key_path.to_path_buf(),
            current: RwLock::new(Arc::new(ck)),
        }))
    }

    /// Reads the files again and serves the new certificate from the next handshake on; on
    /// error the certificate served before stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let ck = Arc::new(load(&self.cert_path, &self.key_path)?);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = ck;
        Ok(())
    }

    /// The validity period of the end-entity certificate served now (an error if its DER
    /// cannot be read; rustls accepted it, so that would be an odd certificate).
    pub fn validity(&self) -> Result<crate::validity::Validity, crate::validity::ValidityError> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner()).clone();
        let leaf = current.cert.first().ok_or(crate::validity::ValidityError("empty certificate chain"))?;
        crate::validity::validity(leaf.as_ref())
    }

    /// The certificate file.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// The rustls server configuration presenting this certificate: TLS 1.2 and 1.3 only (rustls
    /// has nothing older), no client certificates, ALPN `http/1.1`.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(crate::provider())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError::Cert { path: self.cert_path.clone(), why: e.to_string() })?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for ServerCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current.read().unwrap_or_else(|p| p.into_inner()).clone())
    }
}
