//! dnsledger's scale-out store, on ClickHouse over HTTP.
//!
//! ClickHouse holds the same ordered key-value layout as the embedded store
//! (`dnsledger_store::layout`): one `AggregatingMergeTree` table ordered by the binary entry
//! key, whose columns are the aggregate states of [`Aggregate`] (`sum` of counts, `min`/`max`
//! of first/last seen, zone times and TTLs, `groupUniqArrayArray` of active days and sensor
//! names) and, for metadata entries, an `argMax` of the value by version. Writers insert plain
//! rows into a `Null` table whose materialized view turns each insert block into states, so
//! ingest never reads before it writes; merges and reads combine states (`-Merge`). Every
//! lookup is then the same range scan the embedded store runs, so both backends return the
//! same records in the same order ([`dnsledger_store::layout::lookup_rrset`]).
//!
//! **Scale-out.** With several shards, writers hash each entry key to a shard and insert
//! straight into that shard's local table, one insert per shard per batch, in parallel. Reads
//! page through every shard's local table in parallel and merge the pages by key, folding the
//! states a key has on several shards, which saves the `Distributed` table's second hop (the
//! `entries_all` table is still created, for SQL users). With `replicated`, tables are `ReplicatedAggregatingMergeTree`
//! (ZooKeeper, or ClickHouse Keeper on current releases) and writes may go to any replica.
//!
//! **Exactly once.** One insert is one block, and ClickHouse writes a block as one part,
//! atomically. Every insert carries a marker entry (`batch/<writer>/<sequence>` in the
//! metadata space) in the same block, so after an insert whose outcome is unknown (timeout,
//! connection reset, server restart) the writer asks the shard whether the marker is there and
//! sends the insert again only if it is not: a retried batch is neither lost nor counted twice.
//! Inserts are capped at [`ClickHouseOptions::max_rows_per_insert`] rows, below ClickHouse's
//! `max_insert_block_size`, so a block is never split.
//!
//! **Retention.** Expiry is a mutation on every shard deleting the record and inverse-index
//! keys whose merged last-seen time is before the cutoff
//! (`ALTER TABLE … DELETE WHERE key IN (SELECT … GROUP BY key HAVING …)`), waited for until
//! done; lookups skip such keys from the moment the retention applies, as on the embedded
//! store. A second mutation per shard then deletes the names-index entries whose name no
//! record uses any more, on every shard, as the embedded store's prune does; how it stays
//! safe while writers keep inserting is in `src/store/sweep.rs`. Why not a table TTL or
//! partition drops: 18.16 has no TTL, and on current releases a TTL would still be wrong here.
//! A key's rows are partial aggregate states, one per insert block, that merges fold
//! together only eventually, and a TTL judges each stored row alone (a TTL merge may rewrite
//! one old part by itself). The old partial state of a record that was seen again yesterday
//! would be dropped while the record lives on, losing its first-seen time and part of its
//! count; expiry has to decide on the key's merged last-seen time, which only a `GROUP BY
//! key` over all its rows gives. Partition drops fail for the same reason: `entries` is not
//! partitioned by time because a key's states span all time. And names-index and metadata
//! rows carry no time at all.
//!
//! **SQL dialect.** Only SQL that runs unchanged on ClickHouse 18.16 (Debian 12) and current
//! releases is used: no `SimpleAggregateFunction`, no query parameters, no `LowCardinality`,
//! keys as escaped string literals compared with `>=`/`<` (the primary-key range form both
//! versions index), results as `RowBinary`.
//!
//! **Why hand-written HTTP and RowBinary.** The official `clickhouse` crate needs
//! `with_validation(false)` on 18.16 and pulls in an async runtime for what is a handful of
//! `POST`s; the blocking `ureq` client the sensor already uses, plus a RowBinary encoder and
//! decoder for the four column types the schema has (String, UInt32, UInt64, Array), is less
//! code than the adaptation layer would be.

mod http;
mod rowbinary;
pub mod schema;
mod store;

#[cfg(test)]
mod tests;

use std::time::Duration;

pub use schema::{init, InitReport, SCHEMA_VERSION};
pub use store::{ClickHouseStore, EntryWriter};

/// How to reach and lay out a ClickHouse deployment.
#[derive(Debug, Clone)]
pub struct ClickHouseOptions {
    /// HTTP URLs per shard: each shard is a list of replicas (writes and reads use the first
    /// that answers). One shard with one URL is a single node.
    pub shards: Vec<Vec<String>>,
    /// Database holding dnsledger's tables (created by [`init`]).
    pub database: String,
    /// The `remote_servers` cluster the shards form; reads go through a `Distributed` table
    /// over it. Required with more than one shard.
    pub cluster: Option<String>,
    /// Create `ReplicatedAggregatingMergeTree` tables (needs ZooKeeper/Keeper and the
    /// `{shard}`/`{replica}` macros on every server).
    pub replicated: bool,
    /// User name (ClickHouse `default` if unset).
    pub user: Option<String>,
    /// Password (never logged).
    pub password: Option<String>,
    /// PEM file of extra CA certificates to trust for https:// URLs, beside the system's.
    pub ca_file: Option<std::path::PathBuf>,
    /// Most rows one insert carries; larger batches are sent as several atomic inserts.
    pub max_rows_per_insert: usize,
    /// Timeout of one HTTP request.
    pub timeout: Duration,
    /// Attempts per insert before a write fails (with the exactly-once check in between).
    pub retries: u32,
    /// Keep records last seen within this many seconds: lookups skip older ones at once,
    /// `Store::expire` (`dnsledger prune`) deletes them (`None`: keep everything).
    pub retention_secs: Option<u64>,
}

impl Default for ClickHouseOptions {
    fn default() -> Self {
        ClickHouseOptions {
            shards: vec![vec!["http://127.0.0.1:8123".into()]],
            database: "dnsledger".into(),
            cluster: None,
            replicated: false,
            user: None,
            password: None,
            ca_file: None,
            max_rows_per_insert: 500_000,
            timeout: Duration::from_secs(120),
            retries: 5,
            retention_secs: None,
        }
    }
}

impl ClickHouseOptions {
    /// Options for single-replica shards given one URL each.
    pub fn with_urls(urls: impl IntoIterator<Item = impl Into<String>>) -> ClickHouseOptions {
        ClickHouseOptions { shards: urls.into_iter().map(|u| vec![u.into()]).collect(), ..Default::default() }
    }
}
