//! The names-index sweep run after an expiry (`Store::expire`, `dnsledger prune`): deletes the
//! names-index entries whose name no record uses any more, as the embedded store's
//! `sweep_names` does, and re-puts the entries of names written while it ran.
//!
//! Names-index entries are hashed to shards independently of the records they stand for, so
//! whether a name is still used is a question for every shard. The sweep is one mutation per
//! shard, `ALTER TABLE entries DELETE WHERE <names key> AND <its record prefix> NOT IN
//! (<record prefixes on every shard>)`; the names key turned around (labels in the opposite
//! order, as `owner_name_key` does in Rust) is the reversed name key records and rdata-name
//! entries are filed under. Its cost is of the order of the expiry mutation it follows: the
//! subquery (a scan of the record and rdata-name keys of every shard, and a set of their
//! distinct names in the server's memory) runs for each part the mutation rewrites, as the
//! expiry mutation's does.
//!
//! **The race with writers.** A mutation rewrites only the parts that existed when it was
//! queued, and evaluates its `NOT IN` subquery when it runs, after it was queued, so:
//! - an entry inserted after the mutation was queued is never touched;
//! - an older entry goes only if, when the mutation runs, no record of its name exists on any
//!   shard: a record that arrived with it in the same part, or before it, keeps it.
//!
//! The one gap is a batch whose inserts to different shards straddle the mutation: its names
//! entry reached one shard before the mutation was queued, its record another shard after the
//! subquery ran there (a slow or retried insert). So the sweep notes each shard's highest
//! block number before it queues anything, and once the mutations are done re-puts the names
//! entries of every record and rdata-name key in parts holding a newer block (entries are
//! idempotent: a re-put of one that was kept changes nothing). On replicated shards this reads
//! the first replica, so it sees what had reached that replica by then. A record that lands
//! only after that repair, while its names entry landed before the sweep (a writer that
//! stopped between shards for the whole sweep and replayed afterwards), can still lose its
//! names entry: exact and left-hand wildcard lookups never use the names index and still find
//! it, right-hand wildcards find it again with the name's next sighting (every batch puts the
//! names entries of its records), and `dnsledger check` reports the gap until then.
//!
//! A name whose only records were written, with times before the cutoff, after the expiry
//! mutation ran is kept (its records exist, hidden by the cutoff) until the next expiry.

use dnsledger_store::layout::keys::{NAMES_OWNER, NAMES_TARGET, P_NAME, P_NAMES, P_RRSET};
use dnsledger_store::StoreError;

use super::{engine, mutations_sql, tagged, ClickHouseStore, EXPIRE_WAIT};
use crate::http::literal;
use crate::rowbinary::Reader;

/// SQL of a name key with its labels in the opposite order (forward <-> reversed). `expr` is
/// the name key: labels of escaped bytes, each followed by a zero byte, then a final zero
/// byte (the root is a single zero byte). Escapes never contain a zero byte, so splitting at
/// zero bytes yields the labels.
fn flip(expr: &str) -> String {
    let zero = literal(&[0]);
    format!(
        "concat(arrayStringConcat(arrayMap(x -> concat(x, {zero}), arrayReverse(arrayFilter(x -> x != '', \
         splitByChar({zero}, {expr}))))), {zero})"
    )
}

/// SQL of the name key at the start of a record or rdata-name key (after its space byte):
/// the root's single zero byte, or everything through the first pair of zero bytes (labels
/// are never empty, so only the name's end has two).
fn leading_name(key: &str) -> String {
    let zero = literal(&[0]);
    let two = literal(&[0, 0]);
    format!("if(substring({key}, 2, 1) = {zero}, {zero}, substring({key}, 2, position({key}, {two})))")
}

/// SQL condition: `key` lies in the record or rdata-name key space.
fn record_spaces() -> String {
    format!(
        "((key >= {} AND key < {}) OR (key >= {} AND key < {}))",
        literal(&[P_RRSET]),
        literal(&[P_RRSET + 1]),
        literal(&[P_NAME]),
        literal(&[P_NAME + 1])
    )
}

/// SQL condition selecting the names-index entries no record (owner names) or rdata-name
/// entry (target names) uses, reading those from `all` (every shard's keys).
pub(crate) fn stale_names_condition(all: &str) -> String {
    let owner = literal(&[NAMES_OWNER]);
    let target = literal(&[NAMES_TARGET]);
    format!(
        "key >= {lo} AND key < {hi} AND substring(key, 2, 1) IN ({owner}, {target}) \
         AND concat(if(substring(key, 2, 1) = {owner}, {rrset}, {name}), {flipped}) NOT IN \
         (SELECT DISTINCT concat(substring(key, 1, 1), {lead}) FROM {all} WHERE {spaces})",
        lo = literal(&[P_NAMES]),
        hi = literal(&[P_NAMES + 1]),
        rrset = literal(&[P_RRSET]),
        name = literal(&[P_NAME]),
        flipped = flip("substring(key, 3)"),
        lead = leading_name("key"),
        spaces = record_spaces(),
    )
}

/// How many stale names-index entries one server holds.
pub(crate) fn stale_names_count_sql(db: &str, all: &str) -> String {
    format!(
        "SELECT count() FROM (SELECT key FROM {db}.entries WHERE {} GROUP BY key) FORMAT TabSeparated",
        stale_names_condition(all)
    )
}

/// The mutation deleting them on one server.
pub(crate) fn sweep_sql(db: &str, all: &str) -> String {
    format!("ALTER TABLE {db}.entries DELETE WHERE {}", stale_names_condition(all))
}

/// The highest block number of one server's `entries` parts (0 when it has none).
pub(crate) fn max_block_sql(database: &str) -> String {
    format!(
        "SELECT max(max_block_number) FROM system.parts WHERE database = {} AND table = 'entries' AND active \
         FORMAT TabSeparated",
        literal(database.as_bytes())
    )
}

/// The names-index keys of the records and rdata-name entries in one server's parts that
/// hold a block newer than `block`.
pub(crate) fn names_since_sql(db: &str, database: &str, block: u64) -> String {
    format!(
        "SELECT DISTINCT concat({names}, if(substring(key, 1, 1) = {rrset}, {owner}, {target}), {flipped}) \
         FROM {db}.entries WHERE {spaces} AND _part IN (SELECT name FROM system.parts WHERE database = {database} \
         AND table = 'entries' AND active AND max_block_number > {block}) FORMAT RowBinary",
        names = literal(&[P_NAMES]),
        rrset = literal(&[P_RRSET]),
        owner = literal(&[NAMES_OWNER]),
        target = literal(&[NAMES_TARGET]),
        flipped = flip(&leading_name("key")),
        spaces = record_spaces(),
        database = literal(database.as_bytes()),
    )
}

/// What a sweep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SweepReport {
    /// Stale names-index entries counted (and deleted) over the shards.
    pub deleted: u64,
    /// Names-index entries put again for records written during the sweep.
    pub reput: u64,
}

impl ClickHouseStore {
    /// [`Self::sweep_names`], calling `after_mutations` once the deletions are done and
    /// before the entries of names written meanwhile are put again. Tests use it to write
    /// exactly then; anything else calls [`dnsledger_store::Store::expire`].
    #[doc(hidden)]
    pub fn sweep_names_with(
        &self,
        after_mutations: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<u64, StoreError> {
        self.sweep(after_mutations).map(|r| r.deleted)
    }

    /// Deletes the names-index entries no record uses any more, on every shard, then puts
    /// again those of names written meanwhile (see the module documentation).
    pub(crate) fn sweep(
        &self,
        after_mutations: &mut dyn FnMut() -> Result<(), StoreError>,
    ) -> Result<SweepReport, StoreError> {
        let all = self.all_entries_table();
        let mut blocks = Vec::with_capacity(self.shards.len());
        for replicas in &self.shards {
            let block = replicas[0]
                .query_u64(&max_block_sql(&self.opts.database))
                .map_err(|e| engine(&format!("reading the block numbers of {}", replicas[0].url), e))?;
            blocks.push(block);
        }
        let mut report = SweepReport::default();
        let tag = self.mutation_tag("sweep");
        for replicas in &self.shards {
            let node = &replicas[0];
            report.deleted += node
                .query_u64(&stale_names_count_sql(&self.db, &all))
                .map_err(|e| engine(&format!("counting stale names-index entries on {}", node.url), e))?;
            node.query(&tagged(&sweep_sql(&self.db, &all), &tag))
                .map_err(|e| engine(&format!("queueing the names-index sweep on {}", node.url), e))?;
        }
        self.wait_for_mutations("the names-index sweep", &tag)?;
        after_mutations()?;
        let mut writer = self.entry_writer();
        for (replicas, &block) in self.shards.iter().zip(&blocks) {
            let node = &replicas[0];
            let body = node
                .query(&names_since_sql(&self.db, &self.opts.database, block))
                .map_err(|e| engine(&format!("reading the names written during the sweep on {}", node.url), e))?;
            let mut r = Reader::new(&body);
            while !r.at_end() {
                let key =
                    r.string().map_err(|e| StoreError::Corrupt(format!("names written during the sweep: {e}")))?;
                writer.put(key, &[])?;
                report.reput += 1;
            }
        }
        writer.finish()?;
        Ok(report)
    }

    /// The table reads of every shard's keys go to: the `Distributed` table with a cluster,
    /// else the one server's own.
    fn all_entries_table(&self) -> String {
        if self.opts.cluster.is_some() {
            format!("{}.entries_all", self.db)
        } else {
            format!("{}.entries", self.db)
        }
    }

    /// A tag no other mutation carries (see [`tagged`]): `dnsledger-<what>-<writer>-<sequence>`.
    pub(crate) fn mutation_tag(&self, what: &str) -> String {
        format!("dnsledger-{what}-{:016x}-{}", self.writer, self.seq.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }

    /// Waits until the mutation tagged `tag` is listed and done on every shard (its first
    /// replica), and no other mutation of `entries` is pending there (at most [`EXPIRE_WAIT`]).
    pub(crate) fn wait_for_mutations(&self, what: &str, tag: &str) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        for replicas in &self.shards {
            let node = &replicas[0];
            loop {
                let body = node
                    .query(&mutations_sql(&self.opts.database, tag))
                    .map_err(|e| engine(&format!("waiting for {what} on {}", node.url), e))?;
                let text = String::from_utf8_lossy(&body);
                let mut it = text.split_whitespace().map(str::parse::<u64>);
                let (pending, ours) = match (it.next(), it.next()) {
                    (Some(Ok(p)), Some(Ok(o))) => (p, o),
                    _ => {
                        return Err(StoreError::Engine(format!(
                            "waiting for {what} on {}: unexpected answer {text:?} from system.mutations",
                            node.url
                        )))
                    }
                };
                if pending == 0 && ours > 0 {
                    break;
                }
                if started.elapsed() > EXPIRE_WAIT {
                    return Err(StoreError::Engine(format!(
                        "{what} is still running on {} after {} s (it goes on in the background; see \
                         system.mutations)",
                        node.url,
                        EXPIRE_WAIT.as_secs()
                    )));
                }
                std::thread::sleep(std::time::Duration::from_millis(200));
            }
        }
        Ok(())
    }
}
