//! Keyed hashing of client addresses (`--client-hash-key-file`): under `--record-clients`, file
//! outputs write a token instead of each client address, so analysts can still tell one client
//! from another and follow one across files and runs, without the address itself.
//!
//! The token is HMAC-SHA256 keyed with the secret key file's bytes, over the address octets (4
//! for IPv4 — an IPv4-mapped IPv6 address counts as the IPv4 address — 16 for IPv6), truncated
//! to its first 16 bytes and written as 32 lower-case hex digits. The same address under the
//! same key always gives the same token; without the key, tokens cannot be computed for
//! candidate addresses (a plain hash of the 2^32 IPv4 addresses could be reversed in minutes).
//!
//! The key file must hold at least [`MIN_KEY_BYTES`] bytes (one trailing newline is not part
//! of the key, so `openssl rand -hex 32 > key` works) and must not be readable or writable by
//! other users.

use std::net::IpAddr;
use std::path::Path;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Fewest key bytes accepted.
pub const MIN_KEY_BYTES: usize = 32;

/// Bytes of the HMAC kept in a token (written as twice as many hex digits).
pub const TOKEN_BYTES: usize = 16;

/// Why a key file was refused.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// It could not be read.
    #[error("client hash key file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The read error.
        source: std::io::Error,
    },
    /// It is too short to be a secret.
    #[error("client hash key file {path}: {len} bytes of key; at least {MIN_KEY_BYTES} are needed (e.g. `openssl rand -hex 32 > {path}`)")]
    TooShort {
        /// The file.
        path: String,
        /// Key bytes found.
        len: usize,
    },
    /// Other users may read or change it.
    #[error("client hash key file {path}: mode {mode:o} lets other users read or change the key; `chmod 600 {path}`")]
    Exposed {
        /// The file.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
}

/// Replaces client addresses with keyed-hash tokens.
#[derive(Clone)]
pub struct ClientHasher {
    mac: Hmac<Sha256>,
}

impl std::fmt::Debug for ClientHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientHasher { key: <secret> }")
    }
}

impl ClientHasher {
    /// A hasher with this key (at least [`MIN_KEY_BYTES`] bytes; `None` if shorter).
    pub fn from_key(key: &[u8]) -> Option<ClientHasher> {
        if key.len() < MIN_KEY_BYTES {
            return None;
        }
        // HMAC takes keys of any length
        Hmac::<Sha256>::new_from_slice(key).ok().map(|mac| ClientHasher { mac })
    }

    /// Loads the key from `path`, refusing a short key or a file other users can access.
    pub fn load(path: &Path) -> Result<ClientHasher, KeyFileError> {
        let shown = path.display().to_string();
        let io = |source| KeyFileError::Io { path: shown.clone(), source };
        let meta = std::fs::metadata(path).map_err(io)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o007 != 0 {
                return Err(KeyFileError::Exposed { path: shown, mode });
            }
        }
        #[cfg(not(unix))]
        let _ = meta;
        let bytes = std::fs::read(path).map_err(io)?;
        let key = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let key = key.strip_suffix(b"\r").unwrap_or(key);
        ClientHasher::from_key(key).ok_or(KeyFileError::TooShort { path: shown, len: key.len() })
    }

    /// The token standing for `addr`.
    pub fn token(&self, addr: IpAddr) -> String {
        let mut mac = self.mac.clone();
        match addr {
            IpAddr::V4(a) => mac.update(&a.octets()),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => mac.update(&v4.octets()),
                None => mac.update(&a.octets()),
            },
        }
        let out = mac.finalize().into_bytes();
        let mut s = String::with_capacity(TOKEN_BYTES * 2);
        for b in &out[..TOKEN_BYTES] {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    fn key_file(dir: &Path, content: &[u8], mode: u32) -> std::path::PathBuf {
        let p = dir.join(format!("key-{mode:o}-{}", content.len()));
        std::fs::File::create(&p).unwrap().write_all(content).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    #[test]
    fn tokens_match_an_independent_hmac_and_correlate() {
        let dir = tempfile::tempdir().unwrap();
        let key = b"0123456789abcdef0123456789abcdef-dnsledger-test";
        let h = ClientHasher::load(&key_file(dir.path(), &[&key[..], b"\n"].concat(), 0o600)).unwrap();
        let a: IpAddr = "192.0.2.7".parse().unwrap();
        let t = h.token(a);
        assert_eq!(t.len(), 32);
        assert!(t.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        // same address, same key: same token; the mapped form is the same client
        assert_eq!(h.token(a), t);
        assert_eq!(h.token("::ffff:192.0.2.7".parse().unwrap()), t);
        assert_ne!(h.token("192.0.2.8".parse().unwrap()), t);
        // another key: another token
        let other = ClientHasher::from_key(b"another key of at least thirty-two bytes").unwrap();
        assert_ne!(other.token(a), t);
        // the documented construction, computed by openssl
        let hexkey: String = key.iter().map(|b| format!("{b:02x}")).collect();
        for (addr, octets) in [
            ("192.0.2.7", vec![192u8, 0, 2, 7]),
            ("2001:db8::1", "2001:db8::1".parse::<std::net::Ipv6Addr>().unwrap().octets().to_vec()),
        ] {
            let msg = dir.path().join("msg");
            std::fs::write(&msg, &octets).unwrap();
            let out = std::process::Command::new("openssl")
                .args(["dgst", "-sha256", "-mac", "HMAC", "-macopt", &format!("hexkey:{hexkey}")])
                .arg(&msg)
                .output()
                .expect("openssl is needed for this test (apt-get install openssl)");
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            let text = String::from_utf8(out.stdout).unwrap();
            let full = text.trim().rsplit(' ').next().unwrap().to_string();
            assert_eq!(h.token(addr.parse().unwrap()), full[..32], "{addr}: {text}");
        }
    }

    #[test]
    fn short_or_exposed_key_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let short = key_file(dir.path(), b"0123456789abcdef0123456789abcde\n", 0o600);
        let e = ClientHasher::load(&short).unwrap_err();
        assert!(matches!(e, KeyFileError::TooShort { len: 31, .. }), "{e}");
        let long = [b'k'; 40];
        for mode in [0o644, 0o604, 0o602] {
            let e = ClientHasher::load(&key_file(dir.path(), &long, mode)).unwrap_err();
            assert!(matches!(e, KeyFileError::Exposed { .. }), "{mode:o}: {e}");
            assert!(e.to_string().contains("chmod 600"), "{e}");
        }
        assert!(ClientHasher::load(&key_file(dir.path(), &long, 0o640)).is_ok());
        let e = ClientHasher::load(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(e, KeyFileError::Io { .. }), "{e}");
        assert!(format!("{:?}", ClientHasher::from_key(&long).unwrap()).contains("<secret>"));
    }
}
