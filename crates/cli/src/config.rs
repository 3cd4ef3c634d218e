//! The configuration file (`--config FILE`, TOML). Command-line flags override it; every
//! setting has a default, so the file is optional.
//!
//! ```toml
//! [store]
//! kind = "rocksdb"                         # or "clickhouse"
//! data_dir = "/var/lib/dnsledger"          # the embedded store (kind = "rocksdb")
//!
//! [store.clickhouse]                       # kind = "clickhouse", `clickhouse init`, `migrate`
//! urls = ["http://ch1:8123", "http://ch2:8123"]   # one per shard; or
//! # shards = [["http://ch1a:8123", "http://ch1b:8123"]]   # replicas per shard
//! database = "dnsledger"
//! cluster = "pdns"                         # the remote_servers cluster (needed with several servers)
//! replicated = false                       # Replicated* tables (ZooKeeper/Keeper)
//! user = "dnsledger"
//! password = "…"                           # env DNSLEDGER_CLICKHOUSE_PASSWORD overrides
//! max_rows_per_insert = 500000
//! timeout_secs = 120
//! retries = 5
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
use std::time::Duration;

use anyhow::{bail, Context};
use dnsledger_store_clickhouse::ClickHouseOptions;
use serde::Deserialize;

/// Environment variable whose value replaces `[store.clickhouse] password`.
pub const PASSWORD_ENV: &str = "DNSLEDGER_CLICKHOUSE_PASSWORD";

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
    /// Which backend holds the records.
    #[serde(default)]
    pub kind: StoreKind,
    /// Directory of the embedded store.
    pub data_dir: Option<PathBuf>,
    /// `[store.clickhouse]`: where and how to reach ClickHouse.
    pub clickhouse: Option<ClickHouseSection>,
}

/// `[store] kind`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// The embedded RocksDB store in `data_dir`.
    #[default]
    Rocksdb,
    /// ClickHouse over HTTP, as `[store.clickhouse]` describes.
    Clickhouse,
}

/// `[store.clickhouse]`.
#[derive(Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClickHouseSection {
    /// HTTP URL of each shard (single-replica shards).
    pub urls: Option<Vec<String>>,
    /// HTTP URLs of each shard's replicas.
    pub shards: Option<Vec<Vec<String>>>,
    /// Database holding dnsledger's tables.
    pub database: Option<String>,
    /// The `remote_servers` cluster the servers form.
    pub cluster: Option<String>,
    /// Replicated tables (ZooKeeper/Keeper).
    pub replicated: Option<bool>,
    /// ClickHouse user.
    pub user: Option<String>,
    /// ClickHouse password (the environment variable [`PASSWORD_ENV`] overrides it).
    pub password: Option<String>,
    /// Most rows one insert carries.
    pub max_rows_per_insert: Option<usize>,
    /// Timeout of one HTTP request, in seconds.
    pub timeout_secs: Option<u64>,
    /// Attempts per insert before a write fails.
    pub retries: Option<u32>,
}

impl std::fmt::Debug for ClickHouseSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClickHouseSection")
            .field("urls", &self.urls)
            .field("shards", &self.shards)
            .field("database", &self.database)
            .field("cluster", &self.cluster)
            .field("replicated", &self.replicated)
            .field("user", &self.user)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .field("max_rows_per_insert", &self.max_rows_per_insert)
            .field("timeout_secs", &self.timeout_secs)
            .field("retries", &self.retries)
            .finish()
    }
}

/// Command-line settings that replace `[store.clickhouse]` ones.
#[derive(Debug, Default, Clone)]
pub struct ClickHouseOverrides {
    /// One URL per shard; a value with commas lists the replicas of one shard.
    pub urls: Vec<String>,
    /// Database.
    pub database: Option<String>,
    /// Cluster.
    pub cluster: Option<String>,
    /// Replicated tables (only ever switched on from the command line).
    pub replicated: bool,
}

/// Checks one ClickHouse URL's shape.
fn check_url(u: &str) -> anyhow::Result<()> {
    if u.starts_with("https://") {
        bail!(
            "ClickHouse URL {u:?}: this build speaks plain HTTP to ClickHouse; keep the servers on a private \
             network or put a TLS-terminating proxy on the collector's side"
        );
    }
    match u.strip_prefix("http://") {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => bail!("ClickHouse URL {u:?}: expected http://HOST:PORT (the HTTP interface, default port 8123)"),
    }
}

impl ClickHouseSection {
    /// Checks what can be checked in the section alone: `urls` or `shards`, not both, and no
    /// empty lists.
    fn check(&self) -> anyhow::Result<()> {
        match (&self.urls, &self.shards) {
            (Some(_), Some(_)) => {
                bail!("[store.clickhouse]: give either urls (one per shard) or shards (replicas per shard), not both")
            }
            (Some(u), None) if u.is_empty() => bail!("[store.clickhouse] urls is empty"),
            (None, Some(s)) if s.is_empty() || s.iter().any(Vec::is_empty) => {
                bail!("[store.clickhouse] shards: every shard needs at least one URL")
            }
            _ => {}
        }
        for u in self.urls.iter().flatten().chain(self.shards.iter().flatten().flatten()) {
            check_url(u).context("[store.clickhouse]")?;
        }
        if self.timeout_secs == Some(0) {
            bail!("[store.clickhouse] timeout_secs must be at least 1");
        }
        if self.max_rows_per_insert == Some(0) {
            bail!("[store.clickhouse] max_rows_per_insert must be at least 1");
        }
        if self.database.as_deref() == Some("") {
            bail!("[store.clickhouse] database is empty");
        }
        Ok(())
    }

    /// The store options: this section, then `over` on top, then the password from the
    /// environment. Fails on deployments that cannot work (several servers without a cluster,
    /// replicas without `replicated`).
    pub fn options(&self, over: &ClickHouseOverrides) -> anyhow::Result<ClickHouseOptions> {
        self.resolve(over, std::env::var(PASSWORD_ENV).ok())
    }

    /// [`ClickHouseSection::options`] with the environment's password given.
    fn resolve(&self, over: &ClickHouseOverrides, env_password: Option<String>) -> anyhow::Result<ClickHouseOptions> {
        self.check()?;
        let mut o = ClickHouseOptions::default();
        if !over.urls.is_empty() {
            o.shards = Vec::new();
            for u in &over.urls {
                let replicas: Vec<String> =
                    u.split(',').map(str::trim).filter(|r| !r.is_empty()).map(String::from).collect();
                if replicas.is_empty() {
                    bail!("ClickHouse URL {u:?} is empty");
                }
                for r in &replicas {
                    check_url(r)?;
                }
                o.shards.push(replicas);
            }
        } else if let Some(urls) = &self.urls {
            o.shards = urls.iter().map(|u| vec![u.clone()]).collect();
        } else if let Some(shards) = &self.shards {
            o.shards = shards.clone();
        }
        if let Some(d) = over.database.as_ref().or(self.database.as_ref()) {
            if d.is_empty() {
                bail!("the ClickHouse database name is empty");
            }
            o.database = d.clone();
        }
        o.cluster = over.cluster.clone().or_else(|| self.cluster.clone()).filter(|c| !c.is_empty());
        o.replicated = over.replicated || self.replicated.unwrap_or(false);
        o.user = self.user.clone();
        o.password = env_password.or_else(|| self.password.clone());
        if let Some(n) = self.max_rows_per_insert {
            o.max_rows_per_insert = n;
        }
        if let Some(t) = self.timeout_secs {
            o.timeout = Duration::from_secs(t);
        }
        if let Some(r) = self.retries {
            o.retries = r;
        }
        let servers: usize = o.shards.iter().map(Vec::len).sum();
        if o.cluster.is_none() && o.shards.len() > 1 {
            bail!(
                "{} ClickHouse shards but no cluster: set [store.clickhouse] cluster (or --cluster) to the \
                 remote_servers cluster they form",
                o.shards.len()
            );
        }
        if o.cluster.is_none() && servers > 1 {
            bail!(
                "{servers} ClickHouse replicas but no cluster: set [store.clickhouse] cluster (or --cluster) to the \
                 remote_servers cluster they form"
            );
        }
        if o.shards.iter().any(|s| s.len() > 1) && !o.replicated {
            bail!("a ClickHouse shard with several replicas needs replicated = true (or --replicated)");
        }
        Ok(o)
    }
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
        if let Some(ch) = &c.store.clickhouse {
            ch.check().with_context(|| format!("config {}", path.display()))?;
        }
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

    /// Reads the file if one is named, else the defaults.
    pub fn load_opt(path: Option<&Path>) -> anyhow::Result<Config> {
        match path {
            Some(p) => Config::load(p),
            None => Ok(Config::default()),
        }
    }

    /// The ClickHouse store options from `[store.clickhouse]` (defaults if absent) and `over`.
    pub fn clickhouse(&self, over: &ClickHouseOverrides) -> anyhow::Result<ClickHouseOptions> {
        self.store.clickhouse.clone().unwrap_or_default().options(over)
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

    fn parse(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dnsledger.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(&p)
    }

    fn err_of<T: std::fmt::Debug>(r: anyhow::Result<T>) -> String {
        format!("{:#}", r.unwrap_err())
    }

    #[test]
    fn store_kind_defaults_to_rocksdb() {
        let c = parse("[store]\ndata_dir = \"/d\"\n").unwrap();
        assert_eq!(c.store.kind, StoreKind::Rocksdb);
        assert!(c.store.clickhouse.is_none());
        let c = parse("[store]\nkind = \"clickhouse\"\n").unwrap();
        assert_eq!(c.store.kind, StoreKind::Clickhouse);
        // no section: one local server, database dnsledger
        let o = c.clickhouse(&ClickHouseOverrides::default()).unwrap();
        assert_eq!(o.shards, vec![vec!["http://127.0.0.1:8123".to_string()]]);
        assert_eq!(o.database, "dnsledger");
        let e = err_of(parse("[store]\nkind = \"cassandra\"\n"));
        assert!(e.contains("unknown variant") && e.contains("clickhouse"), "{e}");
    }

    #[test]
    fn clickhouse_section_parses_every_setting() {
        let c = parse(
            "[store]\nkind = \"clickhouse\"\n[store.clickhouse]\nurls = [\"http://a:8123\", \"http://b:8123/\"]\n\
             database = \"pdns\"\ncluster = \"c2\"\nuser = \"u\"\npassword = \"s3cret\"\n\
             max_rows_per_insert = 1000\ntimeout_secs = 7\nretries = 2\n",
        )
        .unwrap();
        let section = c.store.clickhouse.clone().unwrap();
        let o = section.resolve(&ClickHouseOverrides::default(), None).unwrap();
        assert_eq!(o.shards, vec![vec!["http://a:8123".to_string()], vec!["http://b:8123/".to_string()]]);
        assert_eq!(o.database, "pdns");
        assert_eq!(o.cluster.as_deref(), Some("c2"));
        assert!(!o.replicated);
        assert_eq!(o.user.as_deref(), Some("u"));
        assert_eq!(o.password.as_deref(), Some("s3cret"));
        assert_eq!(o.max_rows_per_insert, 1000);
        assert_eq!(o.timeout, Duration::from_secs(7));
        assert_eq!(o.retries, 2);
        // the environment's password wins; the password never shows in debug output
        let o = section.resolve(&ClickHouseOverrides::default(), Some("from-env".into())).unwrap();
        assert_eq!(o.password.as_deref(), Some("from-env"));
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("s3cret") && dbg.contains("redacted"), "{dbg}");

        let c = parse(
            "[store.clickhouse]\nshards = [[\"http://a1:8123\", \"http://a2:8123\"]]\ncluster = \"r\"\nreplicated = true\n",
        )
        .unwrap();
        let o = c.clickhouse(&ClickHouseOverrides::default()).unwrap();
        assert_eq!(o.shards, vec![vec!["http://a1:8123".to_string(), "http://a2:8123".to_string()]]);
        assert!(o.replicated);
    }

    #[test]
    fn command_line_overrides_the_section() {
        let c = parse("[store.clickhouse]\nurls = [\"http://a:8123\"]\ndatabase = \"x\"\ncluster = \"c\"\n").unwrap();
        let over = ClickHouseOverrides {
            urls: vec!["http://r1:8123,http://r2:8123".into()],
            database: Some("y".into()),
            cluster: Some("rc".into()),
            replicated: true,
        };
        let o = c.clickhouse(&over).unwrap();
        assert_eq!(o.shards, vec![vec!["http://r1:8123".to_string(), "http://r2:8123".to_string()]]);
        assert_eq!((o.database.as_str(), o.cluster.as_deref(), o.replicated), ("y", Some("rc"), true));
    }

    #[test]
    fn bad_clickhouse_combinations_are_refused() {
        let e = err_of(parse("[store.clickhouse]\nurls = [\"http://a:1\"]\nshards = [[\"http://b:1\"]]\n"));
        assert!(e.contains("not both"), "{e}");
        let e = err_of(parse("[store.clickhouse]\nurls = []\n"));
        assert!(e.contains("urls is empty"), "{e}");
        let e = err_of(parse("[store.clickhouse]\nshards = [[\"http://a:1\"], []]\n"));
        assert!(e.contains("at least one URL"), "{e}");
        let e = err_of(parse("[store.clickhouse]\nurls = [\"ch1:8123\"]\n"));
        assert!(e.contains("http://HOST:PORT"), "{e}");
        let e = err_of(parse("[store.clickhouse]\nurls = [\"https://ch1:8443\"]\n"));
        assert!(e.contains("plain HTTP"), "{e}");
        let e = err_of(parse("[store.clickhouse]\ntimeout_secs = 0\n"));
        assert!(e.contains("timeout_secs"), "{e}");
        let e = err_of(parse("[store.clickhouse]\nurl = \"http://a:1\"\n"));
        assert!(e.contains("unknown field"), "{e}");

        let c = parse("[store.clickhouse]\nurls = [\"http://a:1\", \"http://b:1\"]\n").unwrap();
        let e = err_of(c.clickhouse(&ClickHouseOverrides::default()));
        assert!(e.contains("2 ClickHouse shards but no cluster"), "{e}");
        let with_cluster = ClickHouseOverrides { cluster: Some("c".into()), ..Default::default() };
        assert_eq!(c.clickhouse(&with_cluster).unwrap().shards.len(), 2);

        let c = parse("[store.clickhouse]\nshards = [[\"http://a:1\", \"http://b:1\"]]\ncluster = \"c\"\n").unwrap();
        let e = err_of(c.clickhouse(&ClickHouseOverrides::default()));
        assert!(e.contains("needs replicated = true"), "{e}");
        let over = ClickHouseOverrides { urls: vec!["http://a:1,http://b:1".into()], ..Default::default() };
        let e = err_of(Config::default().clickhouse(&over));
        assert!(e.contains("replicas but no cluster"), "{e}");
        let over = ClickHouseOverrides { urls: vec![",".into()], ..Default::default() };
        assert!(err_of(Config::default().clickhouse(&over)).contains("empty"));
    }
}
