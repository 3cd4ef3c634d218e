//! The store a command works on: the embedded RocksDB store or ClickHouse, chosen by the
//! configuration file's `[store]` section and the command line, opened in one place for
//! `serve`, `import`, `query`, `sensor` and `compact`.
//!
//! Precedence: `--clickhouse URL` selects ClickHouse (other settings from `[store.clickhouse]`);
//! otherwise `[store] kind` decides. For the embedded store the directory is `--data-dir`, then
//! `DNSLEDGER_DATA_DIR`, then `[store] data_dir`, then `./dnsledger-data`. Naming a directory
//! with `--data-dir` while ClickHouse is selected is an error rather than a silent choice.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{bail, Context};
use dnsledger_store::Store;
use dnsledger_store_clickhouse::{ClickHouseOptions, ClickHouseStore};
use dnsledger_store_rocksdb::{RecoveringStore, RocksStore, RocksStoreOptions};

use crate::config::{ClickHouseOverrides, Config, StoreKind};

/// Environment variable naming the embedded store's directory.
pub const DATA_DIR_ENV: &str = "DNSLEDGER_DATA_DIR";
/// The embedded store's directory when nothing names one.
pub const DEFAULT_DATA_DIR: &str = "./dnsledger-data";

/// Options choosing the store (embedded RocksDB or ClickHouse).
#[derive(clap::Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// Configuration file (TOML; docs/configuration.md); its [store] section chooses the store.
    #[arg(long, env = "DNSLEDGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Directory of the embedded store [env: DNSLEDGER_DATA_DIR] [default: [store] data_dir, else
    /// ./dnsledger-data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// Use ClickHouse at this HTTP URL instead of the embedded store: repeat once per shard,
    /// comma-separate the replicas of a shard; other settings come from [store.clickhouse].
    #[arg(long, value_name = "URL")]
    pub clickhouse: Vec<String>,

    /// ClickHouse database [default: [store.clickhouse] database, else dnsledger].
    #[arg(long, value_name = "DB")]
    pub clickhouse_database: Option<String>,
}

/// Where the records live.
#[derive(Debug, Clone)]
pub enum Target {
    /// The embedded store in this directory.
    RocksDb(PathBuf),
    /// A ClickHouse deployment.
    ClickHouse(ClickHouseOptions),
}

impl Target {
    /// A one-line description for messages (never credentials).
    pub fn describe(&self) -> String {
        match self {
            Target::RocksDb(dir) => dir.display().to_string(),
            Target::ClickHouse(o) => describe_clickhouse(o),
        }
    }
}

/// `ClickHouse database DB on URL, …` (with the cluster and replication when set).
pub fn describe_clickhouse(o: &ClickHouseOptions) -> String {
    let servers: Vec<String> = o.shards.iter().map(|s| s.join(" + ")).collect();
    let mut d = format!("ClickHouse database {} on {}", o.database, servers.join(", "));
    if let Some(c) = &o.cluster {
        d.push_str(&format!(" (cluster {c}{})", if o.replicated { ", replicated" } else { "" }));
    } else if o.replicated {
        d.push_str(" (replicated)");
    }
    d
}

impl StoreArgs {
    /// Reads the configuration file named by `--config`, if any.
    pub fn load_config(&self) -> anyhow::Result<Config> {
        Config::load_opt(self.config.as_deref())
    }

    /// Decides which store the command uses, given the loaded configuration.
    pub fn target(&self, config: &Config) -> anyhow::Result<Target> {
        let env_dir = std::env::var_os(DATA_DIR_ENV).filter(|v| !v.is_empty()).map(PathBuf::from);
        self.target_with(config, env_dir)
    }

    fn target_with(&self, config: &Config, env_dir: Option<PathBuf>) -> anyhow::Result<Target> {
        let clickhouse = !self.clickhouse.is_empty() || config.store.kind == StoreKind::Clickhouse;
        if clickhouse {
            if let Some(d) = &self.data_dir {
                let why = if self.clickhouse.is_empty() { "the config's [store] kind" } else { "--clickhouse" };
                bail!(
                    "--data-dir {} names an embedded store, but {why} selects ClickHouse: give one or the other",
                    d.display()
                );
            }
            let over = ClickHouseOverrides {
                urls: self.clickhouse.clone(),
                database: self.clickhouse_database.clone(),
                ..Default::default()
            };
            return Ok(Target::ClickHouse(config.clickhouse(&over)?));
        }
        if self.clickhouse_database.is_some() {
            bail!("--clickhouse-database applies to a ClickHouse store (--clickhouse URL or [store] kind = \"clickhouse\")");
        }
        let dir = self
            .data_dir
            .clone()
            .or(env_dir)
            .or_else(|| config.store.data_dir.clone())
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        Ok(Target::RocksDb(dir))
    }
}

/// Opens the store `target` names; `rocks` are the embedded store's options (for ClickHouse,
/// which has no local state to tune, only their retention applies).
pub fn open(target: &Target, rocks: RocksStoreOptions) -> anyhow::Result<Arc<dyn Store>> {
    Ok(match target {
        // a writer survives a full disk: it reopens the store once space returns
        Target::RocksDb(dir) if !rocks.read_only => {
            Arc::new(RecoveringStore::open(dir, rocks).with_context(|| format!("opening store {}", dir.display()))?)
        }
        Target::RocksDb(dir) => {
            Arc::new(RocksStore::open(dir, rocks).with_context(|| format!("opening store {}", dir.display()))?)
        }
        Target::ClickHouse(o) => {
            Arc::new(open_clickhouse(&ClickHouseOptions { retention_secs: rocks.retention_secs, ..o.clone() })?)
        }
    })
}

/// Opens a ClickHouse store (which checks the schema on every shard).
pub fn open_clickhouse(o: &ClickHouseOptions) -> anyhow::Result<ClickHouseStore> {
    ClickHouseStore::open(o.clone()).with_context(|| format!("opening {}", describe_clickhouse(o)))
}

/// Loads the configuration, decides the store and opens it: what most commands need.
pub fn open_configured(args: &StoreArgs, rocks: RocksStoreOptions) -> anyhow::Result<(Target, Arc<dyn Store>)> {
    let config = args.load_config()?;
    let target = args.target(&config)?;
    let rocks = RocksStoreOptions {
        retention_secs: rocks.retention_secs.or(config.store.retention_secs()),
        min_free_bytes: config.store.min_free_bytes(),
        ..rocks
    };
    let store = open(&target, rocks)?;
    Ok((target, store))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        Config::load(&p).unwrap()
    }

    fn dir(t: anyhow::Result<Target>) -> PathBuf {
        match t.unwrap() {
            Target::RocksDb(d) => d,
            t => panic!("{t:?}"),
        }
    }

    #[test]
    fn chooses_the_store() {
        let none = Config::default();
        let args = StoreArgs::default();
        // embedded: flag, then environment, then config, then the default
        assert_eq!(dir(args.target_with(&none, None)), PathBuf::from(DEFAULT_DATA_DIR));
        let with_dir = config("[store]\ndata_dir = \"/srv/d\"\n");
        assert_eq!(dir(args.target_with(&with_dir, None)), PathBuf::from("/srv/d"));
        let env = Some(PathBuf::from("/env"));
        assert_eq!(dir(args.target_with(&with_dir, env.clone())), PathBuf::from("/env"));
        let flag = StoreArgs { data_dir: Some("/flag".into()), ..Default::default() };
        assert_eq!(dir(flag.target_with(&with_dir, env.clone())), PathBuf::from("/flag"));

        // ClickHouse from the config; the environment's directory does not interfere
        let ch = config(
            "[store]\nkind = \"clickhouse\"\n[store.clickhouse]\nurls = [\"http://a:8123\"]\ndatabase = \"p\"\n",
        );
        match args.target_with(&ch, env.clone()).unwrap() {
            Target::ClickHouse(o) => assert_eq!((o.shards.len(), o.database.as_str()), (1, "p")),
            t => panic!("{t:?}"),
        }
        let e = format!("{:#}", flag.target_with(&ch, None).unwrap_err());
        assert!(e.contains("selects ClickHouse"), "{e}");

        // ClickHouse from the command line, on top of the section
        let cli = StoreArgs {
            clickhouse: vec!["http://b:8123".into()],
            clickhouse_database: Some("q".into()),
            ..Default::default()
        };
        match cli.target_with(&with_dir, None).unwrap() {
            Target::ClickHouse(o) => {
                assert_eq!(o.shards, vec![vec!["http://b:8123".to_string()]]);
                assert_eq!(o.database, "q");
                assert_eq!(describe_clickhouse(&o), "ClickHouse database q on http://b:8123");
            }
            t => panic!("{t:?}"),
        }
        let both = StoreArgs { data_dir: Some("/d".into()), ..cli.clone() };
        assert!(format!("{:#}", both.target_with(&none, None).unwrap_err()).contains("--clickhouse selects"));
        let db_only = StoreArgs { clickhouse_database: Some("q".into()), ..Default::default() };
        assert!(db_only.target_with(&none, None).is_err());
    }
}
