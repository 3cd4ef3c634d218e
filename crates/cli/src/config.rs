//! The configuration file (`--config FILE`, TOML). Command-line flags override it; every
//! setting has a default, so the file is optional.
//!
//! ```toml
//! [store]
//! data_dir = "/var/lib/dnsledger"
//!
//! [server]
//! listen = "127.0.0.1:8053"
//! keys_file = "/etc/dnsledger/keys.toml"   # API keys (`dnsledger key add`); none = open, loopback only
//! results_max = 1000000                    # most results per lookup
//! max_body_mib = 64                        # largest ingest request
//!
//! [[listener]]                             # stream inputs (repeatable)
//! kind = "dnstap"                          # Frame Streams with the bidirectional handshake
//! unix = "/run/dnsledger/dnstap.sock"      # or tcp = "127.0.0.1:6000"
//! sensor = "resolver-1"                    # default: the dnstap identity
//! negative = false                         # keep NXDOMAIN/NODATA
//! flush_secs = 1                           # store what arrived at least this often
//! allow_remote = false                     # a TCP listener off loopback needs this (dnstap has no authentication)
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[store]`.
    #[serde(default)]
    pub store: StoreSection,
    /// `[server]`.
    #[serde(default)]
    pub server: ServerSection,
    /// `[[listener]]`: stream inputs.
    #[serde(default)]
    pub listener: Vec<ListenerSection>,
}

/// `[[listener]]`: a stream input `dnsledger serve` accepts.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    /// What arrives: `dnstap`.
    pub kind: String,
    /// Unix socket path to listen on.
    pub unix: Option<PathBuf>,
    /// TCP address to listen on.
    pub tcp: Option<SocketAddr>,
    /// Sensor id recorded with the observations.
    pub sensor: Option<String>,
    /// Keep negative answers.
    #[serde(default)]
    pub negative: bool,
    /// Store what arrived at least this often (seconds).
    pub flush_secs: Option<u64>,
    /// Allow a TCP listener on a non-loopback address.
    #[serde(default)]
    pub allow_remote: bool,
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Directory of the embedded store.
    pub data_dir: Option<PathBuf>,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// The API key file.
    pub keys_file: Option<PathBuf>,
    /// Most results one lookup may return.
    pub results_max: Option<u64>,
    /// Largest accepted request body, in MiB.
    pub max_body_mib: Option<usize>,
}

impl Config {
    /// Reads a configuration file; relative paths in it are relative to the file's directory.
    pub fn load(path: &Path) -> anyhow::Result<Config> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
        let mut c: Config = toml::from_str(&text).with_context(|| format!("parsing config {}", path.display()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut Option<PathBuf>| {
            if let Some(x) = p.as_mut() {
                if x.is_relative() {
                    *x = base.join(&*x);
                }
            }
        };
        resolve(&mut c.store.data_dir);
        resolve(&mut c.server.keys_file);
        for l in &mut c.listener {
            resolve(&mut l.unix);
        }
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_resolves_paths() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dnsledger.toml");
        std::fs::write(
            &p,
            "[store]\ndata_dir = \"data\"\n[server]\nlisten = \"127.0.0.1:9053\"\nkeys_file = \"/etc/k.toml\"\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.store.data_dir.unwrap(), dir.path().join("data"));
        assert_eq!(c.server.keys_file.unwrap(), PathBuf::from("/etc/k.toml"));
        assert_eq!(c.server.listen.unwrap().port(), 9053);
        std::fs::write(&p, "[[listener]]\nkind = \"dnstap\"\nunix = \"tap.sock\"\nsensor = \"r1\"\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.listener.len(), 1);
        assert_eq!(c.listener[0].unix.as_deref(), Some(dir.path().join("tap.sock").as_path()));
        std::fs::write(&p, "[server]\nlistne = \"x\"\n").unwrap();
        let err = format!("{:#}", Config::load(&p).unwrap_err());
        assert!(err.contains("unknown field"), "{err}");
    }
}
