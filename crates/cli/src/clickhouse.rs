//! `dnsledger clickhouse`: schema management of the ClickHouse store. `init` creates the
//! database and tables on every server, or applies the migrations a server lacks; it is
//! idempotent, so running it again after an upgrade is how the schema is migrated.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use dnsledger_store_clickhouse::{ClickHouseOptions, SCHEMA_VERSION};

use crate::backend::describe_clickhouse;
use crate::config::{ClickHouseOverrides, Config};

/// `dnsledger clickhouse …`.
#[derive(clap::Args, Debug)]
pub struct ClickHouseCommand {
    #[command(subcommand)]
    command: Sub,
}

#[derive(clap::Subcommand, Debug)]
enum Sub {
    /// Create (or migrate) the database and tables on every configured server.
    Init(InitArgs),
}

/// Where the ClickHouse store is: `[store.clickhouse]` of the configuration file, with flags on
/// top.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ClickHouseArgs {
    /// Configuration file (TOML; docs/configuration.md) with a [store.clickhouse] section.
    #[arg(long, env = "DNSLEDGER_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// HTTP URL of a shard (repeat once per shard; comma-separate the replicas of a shard)
    /// [default: [store.clickhouse] urls/shards, else http://127.0.0.1:8123].
    #[arg(long, value_name = "URL")]
    pub url: Vec<String>,

    /// Database [default: [store.clickhouse] database, else dnsledger].
    #[arg(long, value_name = "DB")]
    pub database: Option<String>,

    /// The `remote_servers` cluster the servers form (needed with several servers): reads go
    /// through Distributed tables over it.
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,

    /// Replicated tables (ZooKeeper or ClickHouse Keeper; replicas are listed per shard).
    #[arg(long)]
    pub replicated: bool,
}

impl ClickHouseArgs {
    /// The store options: the configuration file's section, then these flags.
    pub fn options(&self) -> anyhow::Result<ClickHouseOptions> {
        let config = Config::load_opt(self.config.as_deref())?;
        config.clickhouse(&ClickHouseOverrides {
            urls: self.url.clone(),
            database: self.database.clone(),
            cluster: self.cluster.clone(),
            replicated: self.replicated,
        })
    }
}

/// `dnsledger clickhouse init`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  one server:
    dnsledger clickhouse init --url http://127.0.0.1:8123
  two shards:
    dnsledger clickhouse init --url http://ch1:8123 --url http://ch2:8123 --cluster pdns
  one shard, two replicas:
    dnsledger clickhouse init --url http://ch1:8123,http://ch2:8123 --cluster pdns_r --replicated
  from [store.clickhouse]:
    dnsledger clickhouse init --config /etc/dnsledger/dnsledger.toml

Every server gets the local tables (entries, entries_in, entries_mv, sensors, schema_version);
with a cluster, Distributed tables over it too. Running init again is safe: servers already at
the current schema version are left alone, older ones are migrated.")]
pub struct InitArgs {
    #[command(flatten)]
    target: ClickHouseArgs,
}

/// Runs `dnsledger clickhouse …`.
pub fn run(a: ClickHouseCommand) -> anyhow::Result<ExitCode> {
    match a.command {
        Sub::Init(a) => init(a),
    }
}

fn init(a: InitArgs) -> anyhow::Result<ExitCode> {
    let opts = a.target.options()?;
    let what = describe_clickhouse(&opts);
    let report = dnsledger_store_clickhouse::init(&opts).with_context(|| format!("initialising {what}"))?;
    print!("{report}");
    eprintln!("dnsledger: {what} is at schema version {SCHEMA_VERSION}");
    Ok(ExitCode::SUCCESS)
}
