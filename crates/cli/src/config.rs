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
//! ca_file = "/etc/dnsledger/ch-ca.pem"     # extra CA certificates for https:// URLs
//!
//! [server]
//! listen = "127.0.0.1:8053"
//! tls_cert = "/etc/dnsledger/tls/cert.pem" # HTTPS: certificate chain and key (PEM), reloaded on SIGHUP
//! tls_key = "/etc/dnsledger/tls/key.pem"
//! keys_file = "/var/lib/dnsledger/keys.toml"   # API keys (`dnsledger key add`); none = open, loopback only
//! results_max = 1000000                    # most results per lookup
//! max_body_mib = 64                        # largest ingest request
//! query_timeout_ms = 30000                 # a lookup running longer is stopped and says so (0 = none)
//! header_timeout_secs = 30                 # a request head (or a keep-alive pause) taking longer: closed
//! body_timeout_secs = 120                  # a request body taking longer: 408
//! max_connections = 1024                   # open HTTP connections; more are closed at once
//! max_connections_per_address = 256        # of them from one client address (IPv6: /64); 0 = no cap
//! max_body_requests = 8                    # requests with a body handled at once; more wait unread
//!
//! [[listener]]                             # stream inputs (repeatable)
//! kind = "dnstap"                          # Frame Streams with the bidirectional handshake
//! unix = "/run/dnsledger/dnstap.sock"      # or tcp = "127.0.0.1:6000"
//! sensor = "resolver-1"                    # default: the dnstap identity
//! negative = false                         # keep NXDOMAIN/NODATA
//! flush_secs = 1                           # store what arrived at least this often
//! allow_remote = false                     # a TCP listener off loopback needs this (dnstap has no authentication)
//!
//! [[upstream]]                             # other passive DNS platforms (repeatable; docs/federation.md)
//! name = "dnsdb"
//! kind = "dnsdb"                           # or "circl", "passivetotal", "defender"
//! url = "https://dnsdb.example.net"
//! ca_file = "/etc/dnsledger/upstream-ca.pem"   # extra CA certificates (optional)
//! api_key_env = "DNSLEDGER_UPSTREAM_DNSDB_KEY"
//! pull_every = "6h"                        # scheduled pulls inside `serve`
//! pull_indicators = "/etc/dnsledger/indicators.txt"
//!
//! [[upstream]]                             # Defender TI through Microsoft Graph
//! name = "defender"
//! kind = "defender"
//! url = "https://graph.microsoft.com/v1.0"
//! tenant_id = "00000000-0000-0000-0000-000000000000"
//! client_id = "00000000-0000-0000-0000-000000000000"
//! api_key_env = "DNSLEDGER_UPSTREAM_DEFENDER_SECRET"   # the client secret
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
#[cfg_attr(test, derive(serde::Serialize))]
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
    /// `[sensor]`: `dnsledger sensor`'s settings.
    #[serde(default)]
    pub sensor: SensorSection,
    /// `[analytics]`: settings of the analyses (`serve` routes and `dnsledger analyze`).
    #[serde(default)]
    pub analytics: AnalyticsSection,
    /// `[[upstream]]`: other passive DNS platforms (federated lookups, pulls).
    #[serde(default)]
    pub upstream: Vec<dnsledger_federation::UpstreamConfig>,
}

/// `[analytics]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct AnalyticsSection {
    /// More shared-infrastructure lists (`ENTRY kind:label` lines), beside the shipped ones.
    pub infra_files: Option<Vec<PathBuf>>,
    /// Rebuild the server's first-seen index when older than this, in seconds.
    pub new_index_max_age_secs: Option<u64>,
    /// Label lists (`ENTRY verdict:source` lines) the clustering scores from.
    pub label_files: Option<Vec<PathBuf>>,
    /// MaxMind-format (.mmdb) database giving the ASN and AS organisation of addresses.
    pub asn_mmdb: Option<PathBuf>,
    /// MaxMind-format (.mmdb) database giving the country of addresses.
    pub country_mmdb: Option<PathBuf>,
    /// Directory of watchlist files (default: `watchlists` in the embedded store's data dir).
    pub watch_dir: Option<PathBuf>,
    /// The alerts journal every alert is appended to (default: `alerts.ndjson` in `watch_dir`).
    pub watch_alerts_file: Option<PathBuf>,
    /// Alerts the server keeps in memory for `/api/v1/alerts`.
    pub watch_recent_alerts: Option<usize>,
    /// `serve` runs the ATT&CK detections this often (seconds) and alerts what they find.
    pub detect_every_secs: Option<u64>,
    /// The window each scheduled detection run looks at, ending now (seconds).
    pub detect_window_secs: Option<u64>,
    /// Least score a scheduled detection must have to raise an alert (0..1).
    pub detect_min_score: Option<f64>,
    /// Alert sinks (`[[analytics.watch_sink]]` names) that receive detection alerts, beside
    /// the journal.
    pub detect_sinks: Option<Vec<String>>,
    /// `[[analytics.watch_sink]]`: alert sinks watchlists may name (ndjson, webhook, syslog).
    pub watch_sink: Option<Vec<dnsledger_watch::SinkConfig>>,
}

impl AnalyticsSection {
    /// The shipped shared-infrastructure lists, the system's dynamic-DNS suffixes, and `infra_files`.
    pub fn infra(&self) -> anyhow::Result<dnsledger_analytics::Infra> {
        let mut infra = dnsledger_analytics::Infra::system();
        for f in self.infra_files.iter().flatten() {
            infra.add_file(f).with_context(|| format!("[analytics] infra_files: {}", f.display()))?;
        }
        Ok(infra)
    }

    /// The label lists of `label_files`.
    pub fn labels(&self) -> anyhow::Result<dnsledger_analytics::labels::Labels> {
        let mut labels = dnsledger_analytics::labels::Labels::empty();
        for f in self.label_files.iter().flatten() {
            labels.add_file(f).with_context(|| format!("[analytics] label_files: {}", f.display()))?;
        }
        Ok(labels)
    }

    /// The ASN/country databases named by `asn_mmdb` and `country_mmdb`, opened (memory-mapped);
    /// an enricher that knows nothing when neither is set.
    pub fn enricher(&self) -> anyhow::Result<dnsledger_analytics::Enricher> {
        dnsledger_analytics::Enricher::open(self.asn_mmdb.as_deref(), self.country_mmdb.as_deref())
            .context("[analytics] asn_mmdb/country_mmdb")
    }
}

/// `[sensor]`: what `dnsledger sensor` does when its flags do not say (flags win). Its Debug
/// output never shows the key.
#[derive(Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct SensorSection {
    /// Sensor name recorded with every observation.
    pub name: Option<String>,
    /// Interface to capture from when no `-r`/`-i` is given.
    pub interface: Option<String>,
    /// BPF filter.
    pub bpf: Option<String>,
    /// Bytes captured per frame.
    pub snaplen: Option<i32>,
    /// Promiscuous mode (default true).
    pub promiscuous: Option<bool>,
    /// Kernel buffer per capture handle, in MiB.
    pub buffer_mib: Option<i32>,
    /// Capture threads (PACKET_FANOUT).
    pub capture_threads: Option<usize>,
    /// PACKET_FANOUT group id.
    pub fanout_group: Option<u16>,
    /// DNS server ports.
    pub ports: Option<Vec<u16>>,
    /// Also mDNS (5353).
    pub mdns: Option<bool>,
    /// Also LLMNR (5355).
    pub llmnr: Option<bool>,
    /// Keep NXDOMAIN/NODATA answers.
    pub negative: Option<bool>,
    /// Sections to keep.
    pub sections: Option<Vec<String>>,
    /// Record types to keep.
    pub types: Option<Vec<String>>,
    /// Use only responses whose query was seen.
    pub require_query: Option<bool>,
    /// Deduplication cache, in MiB.
    pub cache_mib: Option<usize>,
    /// Longest wait of a sighting in the cache, in seconds.
    pub flush_secs: Option<u64>,
    /// Collector URL (`dnsledger serve`) to send batches to.
    pub server: Option<String>,
    /// API key for the collector (env DNSLEDGER_API_KEY overrides).
    pub key: Option<String>,
    /// Spool directory.
    pub spool_dir: Option<PathBuf>,
    /// Key file for keyed hashing of client addresses (`--client-hash-key-file`).
    pub client_hash_key_file: Option<PathBuf>,
    /// PEM file of extra CA certificates to trust for an https:// collector.
    pub ca_file: Option<PathBuf>,
    /// Seconds between counter reports in the log.
    pub stats_secs: Option<u64>,
    /// Address of the `/metrics` endpoint.
    pub metrics_listen: Option<SocketAddr>,
}

/// `[[listener]]`: a stream input `dnsledger serve` accepts.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
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

impl std::fmt::Debug for SensorSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shown = self.clone();
        if shown.key.is_some() {
            shown.key = Some("<redacted>".into());
        }
        // the same fields, printed through a struct without a custom Debug
        write!(
            f,
            "SensorSection {{ name: {:?}, interface: {:?}, server: {:?}, key: {:?}, spool_dir: {:?}, .. }}",
            shown.name, shown.interface, shown.server, shown.key, shown.spool_dir
        )
    }
}

/// `[store]`.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(deny_unknown_fields)]
pub struct StoreSection {
    /// Which backend holds the records.
    #[serde(default)]
    pub kind: StoreKind,
    /// Directory of the embedded store.
    pub data_dir: Option<PathBuf>,
    /// Keep records last seen within this many days; older ones expire (none or 0: forever).
    pub retention_days: Option<u64>,
    /// Free space (MiB) a writer of the embedded store keeps on its filesystem: writes are
    /// refused below it (default 128; 0 turns the reserve off).
    pub min_free_mib: Option<u64>,
    /// `[store.clickhouse]`: where and how to reach ClickHouse.
    pub clickhouse: Option<ClickHouseSection>,
}

impl StoreSection {
    /// The free-space reserve of a writer, in bytes (`min_free_mib`, else the default).
    pub fn min_free_bytes(&self) -> u64 {
        self.min_free_mib.map_or(dnsledger_store_rocksdb::DEFAULT_MIN_FREE_BYTES, |m| m.saturating_mul(1 << 20))
    }

    /// The retention period in seconds, if one is set (`retention_days`, 0 meaning none).
    pub fn retention_secs(&self) -> Option<u64> {
        self.retention_days.filter(|&d| d > 0).map(|d| d.saturating_mul(86_400))
    }
}

/// `[store] kind`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
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
#[cfg_attr(test, derive(serde::Serialize))]
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
    /// PEM file of extra CA certificates to trust for https:// URLs.
    pub ca_file: Option<PathBuf>,
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
            .field("ca_file", &self.ca_file)
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
    match u.strip_prefix("http://").or_else(|| u.strip_prefix("https://")) {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => bail!(
            "ClickHouse URL {u:?}: expected http://HOST:PORT (the HTTP interface, default port 8123) or \
             https://HOST:PORT (its TLS port, usually 8443)"
        ),
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
        o.ca_file = self.ca_file.clone();
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
#[cfg_attr(test, derive(serde::Serialize))]
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
    /// Directory of online backups.
    pub backup_dir: Option<PathBuf>,
    /// Wall-clock time a lookup may run, in milliseconds (0: no deadline).
    pub query_timeout_ms: Option<u64>,
    /// Time a connection may take to send a request head, in seconds.
    pub header_timeout_secs: Option<u64>,
    /// Time a request may take to send its body, in seconds.
    pub body_timeout_secs: Option<u64>,
    /// Most HTTP connections open at once.
    pub max_connections: Option<usize>,
    /// Most HTTP connections open at once from one client address (0: no cap).
    pub max_connections_per_address: Option<usize>,
    /// Most requests with a body (ingest, lookback, watchlist writes) handled at once.
    pub max_body_requests: Option<usize>,
    /// HTTPS: the certificate chain (PEM, end-entity first); needs `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// HTTPS: the certificate's private key (PEM).
    pub tls_key: Option<PathBuf>,
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
        resolve(&mut c.server.backup_dir);
        resolve(&mut c.server.tls_cert);
        resolve(&mut c.server.tls_key);
        resolve(&mut c.sensor.spool_dir);
        resolve(&mut c.sensor.ca_file);
        if let Some(ch) = c.store.clickhouse.as_mut() {
            resolve(&mut ch.ca_file);
        }
        resolve(&mut c.analytics.asn_mmdb);
        resolve(&mut c.analytics.country_mmdb);
        for f in c.analytics.infra_files.iter_mut().chain(c.analytics.label_files.iter_mut()).flatten() {
            if f.is_relative() {
                *f = base.join(&*f);
            }
        }
        resolve(&mut c.analytics.watch_dir);
        resolve(&mut c.analytics.watch_alerts_file);
        for sink in c.analytics.watch_sink.iter_mut().flatten() {
            if let dnsledger_watch::SinkConfig::Ndjson { path, .. } = sink {
                if path.is_relative() {
                    *path = base.join(&*path);
                }
            }
        }
        for l in &mut c.listener {
            resolve(&mut l.unix);
        }
        for u in &mut c.upstream {
            resolve(&mut u.pull_indicators);
            resolve(&mut u.ca_file);
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
        // https:// is accepted (ClickHouse's TLS port)
        parse("[store.clickhouse]\nurls = [\"https://ch1:8443\"]\n").unwrap();
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

/// `dnsledger config ...`.
#[derive(clap::Subcommand, Debug)]
pub enum ConfigCommand {
    /// Read a configuration file and report every problem found in it: syntax, unknown keys,
    /// values that cannot work together, files it names that are missing (exit status 1 if any).
    Check {
        /// The file [env: DNSLEDGER_CONFIG].
        #[arg(env = "DNSLEDGER_CONFIG")]
        file: PathBuf,
    },
    /// Print a commented example of every setting (a starting point: `dnsledger config example >
    /// /etc/dnsledger/dnsledger.toml`).
    Example,
}

/// The commented example `dnsledger config example` prints.
pub const EXAMPLE: &str = include_str!("config-example.toml");

/// Runs `dnsledger config`.
pub fn run(c: ConfigCommand) -> anyhow::Result<std::process::ExitCode> {
    match c {
        ConfigCommand::Example => {
            print!("{EXAMPLE}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        ConfigCommand::Check { file } => {
            let report = check_file(&file);
            for w in &report.warnings {
                eprintln!("warning: {w}");
            }
            for e in &report.errors {
                eprintln!("error: {e}");
            }
            if !report.errors.is_empty() {
                eprintln!("{}: {} error(s), {} warning(s)", file.display(), report.errors.len(), report.warnings.len());
                return Ok(std::process::ExitCode::FAILURE);
            }
            for line in &report.summary {
                println!("{line}");
            }
            eprintln!("{}: OK ({} warning(s))", file.display(), report.warnings.len());
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// What `config check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Problems that stop a command from running as configured.
    pub errors: Vec<String>,
    /// Things that work but are probably not meant.
    pub warnings: Vec<String>,
    /// The effective settings, one line each.
    pub summary: Vec<String>,
}

/// Checks a configuration file as every command would read it, collecting all problems rather
/// than stopping at the first.
pub fn check_file(path: &Path) -> CheckReport {
    let mut r = CheckReport::default();
    let c = match Config::load(path) {
        Ok(c) => c,
        Err(e) => {
            r.errors.push(format!("{e:#}"));
            return r;
        }
    };
    // the store
    match c.store.kind {
        StoreKind::Rocksdb => {
            let dir = c.store.data_dir.clone().unwrap_or_else(|| PathBuf::from(crate::backend::DEFAULT_DATA_DIR));
            if dir.join("CURRENT").exists() {
                r.summary.push(format!("store: embedded, {} (exists)", dir.display()));
            } else if dir.exists() && !dir.is_dir() {
                r.errors.push(format!("[store] data_dir {}: exists and is not a directory", dir.display()));
            } else {
                if !dir.exists() && !dir.parent().is_some_and(|p| p.as_os_str().is_empty() || p.is_dir()) {
                    r.warnings.push(format!(
                        "[store] data_dir {}: its parent directory does not exist either (both are created at first start)",
                        dir.display()
                    ));
                }
                r.summary.push(format!("store: embedded, {} (created at first start)", dir.display()));
            }
        }
        StoreKind::Clickhouse => match c.clickhouse(&ClickHouseOverrides::default()) {
            Ok(o) => r.summary.push(format!("store: {}", crate::backend::describe_clickhouse(&o))),
            Err(e) => r.errors.push(format!("[store.clickhouse]: {e:#}")),
        },
    }
    if let Some(p) = c.store.clickhouse.as_ref().and_then(|ch| ch.ca_file.as_ref()) {
        if let Err(e) = dnsledger_tls::client::read_ca_file(p) {
            r.errors.push(format!("[store.clickhouse] ca_file: {e}"));
        }
    }
    if c.store.kind == StoreKind::Rocksdb && c.store.clickhouse.is_some() {
        r.warnings.push(
            "[store.clickhouse] is set but [store] kind is rocksdb: only `clickhouse init` and `migrate` use it".into(),
        );
    }
    // the server
    let listen = c.server.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8053)));
    let scheme = match (&c.server.tls_cert, &c.server.tls_key) {
        (Some(cert), Some(key)) => {
            if let Err(e) = dnsledger_tls::server::ServerCert::load(cert, key) {
                r.errors.push(format!("[server] tls_cert/tls_key: {e}"));
            }
            "https"
        }
        (None, None) => {
            if !listen.ip().is_loopback() {
                r.warnings.push(format!(
                    "[server] listen {listen}: off loopback without tls_cert/tls_key; API keys and answers travel \
                     in clear text"
                ));
            }
            "http"
        }
        _ => {
            r.errors.push("[server] tls_cert and tls_key go together (the certificate chain and its key)".into());
            "http"
        }
    };
    match &c.server.keys_file {
        Some(k) => match dnsledger_keys::KeyStore::load(k) {
            Ok(ks) => {
                if ks.is_empty() {
                    r.warnings.push(format!("[server] keys_file {}: no keys in it; the API refuses every request", k.display()));
                }
                r.summary.push(format!("server: {scheme}://{listen}, {} API key(s) from {}", ks.len(), k.display()));
            }
            Err(e) => r.errors.push(format!("[server] keys_file: {e}")),
        },
        None if !listen.ip().is_loopback() => r.errors.push(format!(
            "[server] listen {listen}: not a loopback address and no keys_file; the server refuses to start open to the network"
        )),
        None => r.summary.push(format!("server: {scheme}://{listen}, open API (no keys_file)")),
    }
    if c.server.results_max == Some(0) {
        r.errors.push("[server] results_max must be at least 1".into());
    }
    if c.server.max_body_mib == Some(0) {
        r.errors.push("[server] max_body_mib must be at least 1".into());
    }
    for (key, v) in
        [("header_timeout_secs", c.server.header_timeout_secs), ("body_timeout_secs", c.server.body_timeout_secs)]
    {
        if v == Some(0) {
            r.errors.push(format!("[server] {key} must be at least 1"));
        }
    }
    for (key, v) in [("max_connections", c.server.max_connections), ("max_body_requests", c.server.max_body_requests)] {
        if v == Some(0) {
            r.errors.push(format!("[server] {key} must be at least 1"));
        }
    }
    if let Some(per) = c.server.max_connections_per_address {
        let all = c.server.max_connections.unwrap_or(dnsledger_server::limits::ConnLimits::default().max_connections);
        if per > all {
            r.warnings.push(format!(
                "[server] max_connections_per_address ({per}) is above max_connections ({all}): one address can \
                 still take every connection"
            ));
        }
    }
    if let Some(b) = &c.server.backup_dir {
        if !b.is_dir() && !b.parent().is_some_and(Path::is_dir) {
            r.errors.push(format!("[server] backup_dir {}: neither it nor its parent directory exists", b.display()));
        }
    }
    // listeners
    for (i, l) in c.listener.iter().enumerate() {
        let at = format!("[[listener]] #{}", i + 1);
        if l.kind != "dnstap" {
            r.errors.push(format!("{at}: kind {:?}: only \"dnstap\" is supported", l.kind));
        }
        match (&l.unix, l.tcp) {
            (Some(p), None) => {
                if !p.parent().is_some_and(Path::is_dir) {
                    r.warnings.push(format!("{at}: the directory of {} does not exist (yet)", p.display()));
                }
                r.summary.push(format!("listener: dnstap on unix {}", p.display()));
            }
            (None, Some(a)) => {
                if !a.ip().is_loopback() && !l.allow_remote {
                    r.errors.push(format!("{at}: tcp {a} is off loopback; dnstap has no authentication, set allow_remote = true (and firewall it)"));
                }
                r.summary.push(format!("listener: dnstap on tcp {a}"));
            }
            _ => r.errors.push(format!("{at}: needs exactly one of unix = PATH or tcp = ADDR")),
        }
        if l.flush_secs == Some(0) {
            r.errors.push(format!("{at}: flush_secs must be at least 1"));
        }
    }
    // the sensor
    let s = &c.sensor;
    for sec in s.sections.iter().flatten() {
        if !matches!(sec.as_str(), "answer" | "authority" | "additional") {
            r.errors.push(format!("[sensor] sections: unknown section {sec:?} (answer, authority, additional)"));
        }
    }
    if s.sections.as_ref().is_some_and(|v| !v.iter().any(|x| x == "answer")) {
        r.errors.push("[sensor] sections must include \"answer\"".into());
    }
    if let Some(t) = &s.types {
        if let Err(e) = dnsledger_model::TypeSet::parse(&t.join(",")) {
            r.errors.push(format!("[sensor] types: {e}"));
        }
    }
    if s.ports.as_ref().is_some_and(|p| p.is_empty() || p.contains(&0)) {
        r.errors.push("[sensor] ports: give at least one port, none of them 0".into());
    }
    if let Some(u) = &s.server {
        if !(u.starts_with("http://") || u.starts_with("https://")) {
            r.errors.push(format!("[sensor] server {u:?}: expected http://HOST:PORT"));
        }
        if s.key.is_some() {
            r.warnings.push("[sensor] key is in the file: prefer the DNSLEDGER_API_KEY environment variable".into());
        }
    }
    if let Some(p) = &s.ca_file {
        if let Err(e) = dnsledger_tls::client::read_ca_file(p) {
            r.errors.push(format!("[sensor] ca_file: {e}"));
        }
    }
    if s.cache_mib == Some(0) || s.flush_secs == Some(0) || s.stats_secs == Some(0) || s.capture_threads == Some(0) {
        r.errors.push("[sensor] cache_mib, flush_secs, stats_secs and capture_threads must be at least 1".into());
    }
    if let Some(i) = &s.interface {
        r.summary.push(format!(
            "sensor: {} on {i}{}",
            s.name.as_deref().unwrap_or("(unnamed)"),
            s.server.as_deref().map(|u| format!(" -> {u}")).unwrap_or_default()
        ));
    }
    match c.analytics.infra() {
        Ok(i) => r.summary.push(format!("analytics: {} shared-infrastructure entries", i.len())),
        Err(e) => r.errors.push(format!("{e:#}")),
    }
    match c.analytics.labels() {
        Ok(l) if !l.is_empty() => r.summary.push(format!("analytics: {} labelled entries", l.len())),
        Ok(_) => {}
        Err(e) => r.errors.push(format!("{e:#}")),
    }
    match c.analytics.enricher() {
        Ok(e) => r.summary.extend(e.describe().into_iter().map(|d| format!("analytics: {d}"))),
        Err(e) => r.errors.push(format!("{e:#}")),
    }
    if c.analytics.new_index_max_age_secs == Some(0) {
        r.errors.push("[analytics] new_index_max_age_secs must be at least 1".into());
    }
    // upstreams
    r.errors.extend(dnsledger_federation::config::check_all(&c.upstream));
    for u in &c.upstream {
        let at = format!("[[upstream]] {:?}", u.name);
        match u.key() {
            Ok(Some(_)) if u.api_key_env.is_none() => {
                r.warnings.push(format!("{at}: api_key is in the file: prefer api_key_env"))
            }
            Ok(_) => {}
            Err(e) => r.warnings.push(format!("{e} (lookups and pulls of this upstream will fail until it is)")),
        }
        if let Some(p) = &u.pull_indicators {
            match std::fs::read_to_string(p)
                .map_err(|e| e.to_string())
                .and_then(|t| dnsledger_federation::pull::read_indicators(&t))
            {
                Ok(list) => r.summary.push(format!(
                    "upstream {} ({}): {} indicator(s) pulled every {}",
                    u.name,
                    u.kind.as_str(),
                    list.len(),
                    u.pull_every.as_deref().unwrap_or("?")
                )),
                Err(e) => r.warnings.push(format!("{at}: pull_indicators {}: {e}", p.display())),
            }
        } else {
            r.summary.push(format!("upstream {} ({}) at {}", u.name, u.kind.as_str(), u.url));
        }
    }
    r.errors.extend(crate::watch::check_config(&c.analytics));
    let a = &c.analytics;
    if a.detect_every_secs == Some(0) || a.detect_window_secs == Some(0) {
        r.errors.push("[analytics] detect_every_secs and detect_window_secs must be at least 1".into());
    }
    if a.detect_min_score.is_some_and(|s| !(0.0..=1.0).contains(&s)) {
        r.errors.push("[analytics] detect_min_score must be from 0 to 1".into());
    }
    let sinks: Vec<&str> = a.watch_sink.iter().flatten().map(|s| s.name()).collect();
    for s in a.detect_sinks.iter().flatten() {
        if !sinks.contains(&s.as_str()) {
            r.errors.push(format!("[analytics] detect_sinks: no [[analytics.watch_sink]] named {s:?}"));
        }
    }
    if let Some(every) = a.detect_every_secs {
        r.summary.push(format!(
            "analytics: ATT&CK detections every {every} s over the last {} s",
            a.detect_window_secs.unwrap_or(crate::detect_schedule::DEFAULT_WINDOW_SECS)
        ));
    }
    if c.store.clickhouse.as_ref().is_some_and(|ch| ch.password.is_some()) {
        r.warnings.push(format!(
            "[store.clickhouse] password is in the file: prefer the {PASSWORD_ENV} environment variable"
        ));
    }
    r
}

#[cfg(test)]
mod check_tests {
    use super::*;

    /// The example with its commented-out alternatives switched on.
    fn example_uncommented() -> String {
        EXAMPLE
            .lines()
            .map(|l| match l.strip_prefix("# ") {
                Some(rest)
                    if rest
                        .split_once(" = ")
                        .is_some_and(|(k, _)| k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')) =>
                {
                    rest
                }
                _ => l,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn nulls(v: &serde_json::Value, at: &str, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Null => out.push(at.to_string()),
            serde_json::Value::Object(m) => m.iter().for_each(|(k, x)| nulls(x, &format!("{at}.{k}"), out)),
            serde_json::Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| nulls(x, &format!("{at}[{i}]"), out)),
            _ => {}
        }
    }

    #[test]
    fn the_example_names_every_setting() {
        let c: Config = toml::from_str(&example_uncommented()).expect("the example parses");
        let mut missing = Vec::new();
        nulls(&serde_json::to_value(&c).unwrap(), "config", &mut missing);
        // a [[listener]] takes unix or tcp, never both: the example shows one of each
        missing.retain(|m| m != "config.listener[0].tcp" && !m.starts_with("config.listener[1]."));
        assert!(missing.is_empty(), "settings the example does not show: {missing:?}");
    }

    #[test]
    fn the_example_as_printed_passes_the_check_but_for_files_of_another_machine() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dnsledger.toml");
        std::fs::write(&p, EXAMPLE).unwrap();
        let r = check_file(&p);
        // /var/lib/dnsledger/keys.toml and /var/backups are not on the test machine
        for e in &r.errors {
            assert!(e.contains("keys_file") || e.contains("backup_dir") || e.contains("data_dir"), "{e}");
        }
        assert!(r.errors.iter().any(|e| e.contains("keys_file")), "{:?}", r.errors);
    }

    #[test]
    fn enrichment_databases_must_open() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "[analytics]\nasn_mmdb = \"asn.mmdb\"\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.analytics.asn_mmdb.as_deref(), Some(dir.path().join("asn.mmdb").as_path()));
        let r = check_file(&p);
        assert!(r.errors.iter().any(|e| e.contains("asn_mmdb") && e.contains("asn.mmdb")), "{:?}", r.errors);
        std::fs::write(dir.path().join("asn.mmdb"), b"no metadata marker here").unwrap();
        let r = check_file(&p);
        assert!(r.errors.iter().any(|e| e.contains("ASN database")), "{:?}", r.errors);
        assert!(Config::default().analytics.enricher().unwrap().is_empty());
    }

    #[test]
    fn analytics_lists_are_loaded_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("mine.txt"), "# kind:hosting:ours\n198.51.100.0/24\nexample.net parking:ours\n")
            .unwrap();
        let p = dir.path().join("a.toml");
        std::fs::write(&p, "[analytics]\ninfra_files = [\"mine.txt\"]\nnew_index_max_age_secs = 60\n").unwrap();
        let c = Config::load(&p).unwrap();
        let infra = c.analytics.infra().unwrap();
        assert_eq!(infra.len(), dnsledger_analytics::Infra::system().len() + 2);
        assert_eq!(infra.address("198.51.100.7".parse().unwrap()), Some("hosting:ours"));
        let r = check_file(&p);
        assert!(r.errors.is_empty(), "{:?}", r.errors);
        std::fs::write(dir.path().join("mine.txt"), "198.51.100.0/24 not a tag\n").unwrap();
        let r = check_file(&p);
        assert!(r.errors.iter().any(|e| e.contains("infra_files") && e.contains("mine.txt:1")), "{:?}", r.errors);
    }

    #[test]
    fn upstreams_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("u.toml");
        std::fs::write(
            &p,
            "[[upstream]]\nname = \"a\"\nkind = \"dnsdb\"\nurl = \"http://127.0.0.1:1\"\napi_key = \"s3cr3t\"\n\
             pull_every = \"1h\"\npull_indicators = \"watch.txt\"\n\
             [[upstream]]\nname = \"a\"\nkind = \"passivetotal\"\nurl = \"https://pt.example\"\n",
        )
        .unwrap();
        let r = check_file(&p);
        let all = format!("{r:?}");
        assert!(!all.contains("s3cr3t"), "{all}");
        assert!(r.errors.iter().any(|e| e.contains("used twice")), "{r:?}");
        assert!(r.errors.iter().any(|e| e.contains("needs username")), "{r:?}");
        assert!(!r.warnings.iter().any(|w| w.contains("TLS")), "https:// upstreams work: {r:?}");
        assert!(r.warnings.iter().any(|w| w.contains("watch.txt")), "{r:?}");
        std::fs::write(dir.path().join("watch.txt"), "example.com\n192.0.2.1\n").unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.upstream[0].pull_indicators.as_deref(), Some(dir.path().join("watch.txt").as_path()));
        assert!(check_file(&p).summary.iter().any(|s| s.contains("2 indicator(s) pulled every 1h")));
    }

    #[test]
    fn tls_settings_are_checked() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("t.toml");
        // off loopback without TLS: allowed (with keys), but keys travel in clear text
        std::fs::write(&p, "[server]\nlisten = \"0.0.0.0:8053\"\n").unwrap();
        let r = check_file(&p);
        assert!(r.warnings.iter().any(|w| w.contains("clear text")), "{r:?}");
        // half a pair, and files that are not there (relative to the file), each named
        std::fs::write(&p, "[server]\ntls_cert = \"cert.pem\"\n").unwrap();
        assert!(check_file(&p).errors.iter().any(|e| e.contains("go together")));
        std::fs::write(
            &p,
            "[server]\ntls_cert = \"cert.pem\"\ntls_key = \"key.pem\"\n[sensor]\nca_file = \"ca.pem\"\n\
             [store.clickhouse]\nurls = [\"https://ch1:8443\"]\nca_file = \"ch-ca.pem\"\n",
        )
        .unwrap();
        let c = Config::load(&p).unwrap();
        assert_eq!(c.server.tls_key.as_deref(), Some(dir.path().join("key.pem").as_path()));
        assert_eq!(c.clickhouse(&ClickHouseOverrides::default()).unwrap().ca_file, Some(dir.path().join("ch-ca.pem")));
        let r = check_file(&p);
        let errors = r.errors.join("\n");
        for needle in ["cert.pem", "[sensor] ca_file", "ca.pem", "[store.clickhouse] ca_file", "ch-ca.pem"] {
            assert!(errors.contains(needle), "{needle}: {errors}");
        }
        assert!(r.summary.iter().any(|s| s.starts_with("server: https://")), "{r:?}");
    }

    #[test]
    fn a_per_address_cap_above_the_connection_cap_is_warned_about() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        for (text, warned) in [
            ("[server]\nmax_connections_per_address = 2000\n", true), // above the default 1024
            ("[server]\nmax_connections = 4096\nmax_connections_per_address = 2000\n", false),
            ("[server]\nmax_connections = 10\nmax_connections_per_address = 11\n", true),
            ("[server]\nmax_connections_per_address = 0\n", false), // no cap
        ] {
            std::fs::write(&p, text).unwrap();
            let r = check_file(&p);
            assert!(r.errors.is_empty(), "{text}: {:?}", r.errors);
            let w = r.warnings.iter().any(|w| w.contains("max_connections_per_address"));
            assert_eq!(w, warned, "{text}: {:?}", r.warnings);
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.toml");
        std::fs::write(
            &p,
            "[server]\nlisten = \"0.0.0.0:8053\"\nresults_max = 0\n[[listener]]\nkind = \"syslog\"\ntcp = \"192.0.2.1:6000\"\n\
             [sensor]\nsections = [\"authority\"]\ntypes = [\"NOTATYPE\"]\nports = [0]\nserver = \"collector:8053\"\n",
        )
        .unwrap();
        let r = check_file(&p);
        let all = r.errors.join("\n");
        for needle in [
            "not a loopback",
            "results_max",
            "only \"dnstap\"",
            "allow_remote",
            "must include",
            "types",
            "ports",
            "http://HOST",
        ] {
            assert!(all.contains(needle), "{needle:?} missing from:\n{all}");
        }
        std::fs::write(&p, "[server]\nlisten = \"127.0.0.1:8053\"\nlisten_on = 1\n").unwrap();
        let r = check_file(&p);
        assert!(
            r.errors.len() == 1 && r.errors[0].contains("unknown field") && r.errors[0].contains("line 3"),
            "{:?}",
            r.errors
        );
        std::fs::write(&p, "[store]\ndata_dir = \"data\"\n").unwrap();
        let r = check_file(&p);
        assert!(r.errors.is_empty() && r.summary[0].contains("created at first start"), "{r:?}");
    }
}
