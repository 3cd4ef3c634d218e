//! Writing batches: the entries a record contributes to each key space, and the two ways they
//! reach RocksDB, both atomic and durable when they return:
//!
//! - small batches (HTTP ingest, sensors) go through a `WriteBatch` and the WAL;
//! - large batches (file imports) are written as sorted SST files with merge operands and
//!   ingested in one `IngestExternalFile` call. That skips the memtable and the WAL, the bulk
//!   of RocksDB's cost per key, and is still atomic because every key space shares one column
//!   family. Parallel threads build the files: RRsets; the inverse indexes, as two files of
//!   disjoint key ranges; names and metadata.

use std::path::Path;

use dnsledger_model::Aggregate;
use dnsledger_store::layout::keys::{self, P_RRSET};
use dnsledger_store::layout::{
    checkpoint_key, for_each_entry, owner_name_key, rdata_entries, target_name_entries, Entries, EntryValue,
};
use dnsledger_store::{Batch, StoreError, WriteStats};
use rocksdb::{IngestExternalFileOptions, Options, SstFileWriter, WriteBatch, WriteOptions, DB};

use crate::{corrupt, engine};

/// The encoded aggregate of a batch record, with batch-local sensor ids mapped to store ids.
pub fn encode_value(agg: &Aggregate, sensor_ids: &[u16], out: &mut Vec<u8>) {
    out.clear();
    if agg.sensors.is_empty() {
        agg.encode(out);
    } else {
        let mut a = agg.clone();
        a.sensors.remap(|id| sensor_ids.get(id as usize).copied().unwrap_or(id));
        a.encode(out);
    }
}

/// Writes a batch through a `WriteBatch` (WAL, memtable).
pub fn write_batch(db: &DB, batch: &Batch, sensor_ids: &[u16], sync: bool) -> Result<WriteStats, StoreError> {
    let mut wb = WriteBatch::default();
    let mut vbuf = Vec::with_capacity(64);
    let stats = for_each_entry(batch, &mut |key, value| {
        match value {
            EntryValue::Merge(agg) => {
                encode_value(agg, sensor_ids, &mut vbuf);
                wb.merge(key, &vbuf);
            }
            EntryValue::Put(v) => wb.put(key, v),
        }
        Ok(())
    })?;
    let mut wo = WriteOptions::default();
    wo.set_sync(sync);
    db.write_opt(wb, &wo).map_err(|e| engine("writing batch", e))?;
    Ok(stats)
}

/// Writes a batch as four SST files (RRsets; inverse indexes in two key ranges; names and
/// metadata), built on parallel threads, and ingests them atomically.
pub fn ingest_batch(
    db: &DB,
    opts: &Options,
    dir: &Path,
    batch: &Batch,
    sensor_ids: &[u16],
) -> Result<WriteStats, StoreError> {
    std::fs::create_dir_all(dir).map_err(|e| StoreError::Engine(format!("creating {}: {e}", dir.display())))?;
    let seq = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    let paths = [
        dir.join(format!("{seq}-1-rrset.sst")),
        dir.join(format!("{seq}-2-rdata.sst")),
        dir.join(format!("{seq}-3-rdata.sst")),
        dir.join(format!("{seq}-4-names.sst")),
    ];
    let t0 = std::time::Instant::now();
    let records = batch.sorted_records();
    let sorted = t0.elapsed();
    let result = std::thread::scope(|s| {
        let a = s.spawn(|| write_rrset_sst(opts, &paths[0], &records, sensor_ids));
        let c = s.spawn(|| {
            let mut entries = Entries::default();
            let mut kbuf = Vec::with_capacity(256);
            let mut last_name: &[u8] = &[];
            for (i, (rkey, _)) in records.iter().enumerate() {
                let parts = keys::split_record_key(rkey).map_err(corrupt)?;
                if parts.rname != last_name {
                    owner_name_key(parts.rname, &mut kbuf)?;
                    entries.push(&kbuf, false, i);
                    last_name = parts.rname;
                }
                target_name_entries(&parts, i, &mut entries, &mut kbuf)?;
            }
            let meta: Vec<(Vec<u8>, Vec<u8>)> =
                batch.checkpoints().iter().map(|(s, p)| (checkpoint_key(s), p.clone())).collect();
            let order = dnsledger_store::sort_order(entries.len(), |i| entries.key(i));
            write_entries_sst(opts, &paths[3], &entries, &order, &records, sensor_ids, meta)
        });
        let b = (|| {
            // each merge entry carries its record's encoded aggregate beside its key, encoded
            // here in record order (the records are read in sequence, not once per entry in
            // key order, which is a cache miss per entry on a large batch)
            let mut entries = Entries::default();
            let mut one = Entries::default();
            let mut kbuf = Vec::with_capacity(256);
            let mut vbuf = Vec::with_capacity(64);
            for (i, (rkey, agg)) in records.iter().enumerate() {
                let parts = keys::split_record_key(rkey).map_err(corrupt)?;
                one.clear();
                rdata_entries(&parts, i, &mut one, &mut kbuf)?;
                if !one.is_empty() {
                    encode_value(agg, sensor_ids, &mut vbuf);
                    entries.extend_with_value(&one, &vbuf);
                }
            }
            // The largest index of most batches: sorted and written as two files of disjoint key
            // ranges, the upper one on a thread of its own, so that the end of the write does
            // not wait for one thread alone.
            let (low, high) = split_at_median(&entries);
            let sorted_part = |part: &[u32]| -> Vec<u32> {
                dnsledger_store::sort_order(part.len(), |i| entries.key(part[i] as usize))
                    .into_iter()
                    .map(|i| part[i as usize])
                    .collect()
            };
            std::thread::scope(|s| {
                let upper = s.spawn(|| {
                    let order = sorted_part(&high);
                    write_entries_sst(opts, &paths[2], &entries, &order, &records, sensor_ids, Vec::new())
                });
                let order = sorted_part(&low);
                let lower = write_entries_sst(opts, &paths[1], &entries, &order, &records, sensor_ids, Vec::new());
                let upper = upper.join().map_err(|_| StoreError::Engine("SST writer thread panicked".into()))?;
                Ok::<_, StoreError>((lower?, upper?))
            })
        })();
        let panicked = || StoreError::Engine("SST writer thread panicked".into());
        let a = a.join().map_err(|_| panicked())?;
        let c = c.join().map_err(|_| panicked())?;
        tracing::debug!(?sorted, built = ?t0.elapsed(), "SST files built");
        let (b1, b2) = b?;
        Ok::<_, StoreError>([a?, b1, b2, c?])
    });
    let cleanup = || {
        for p in &paths {
            let _ = std::fs::remove_file(p);
        }
    };
    let counts = match result {
        Ok(x) => x,
        Err(e) => {
            cleanup();
            return Err(e);
        }
    };
    let files: Vec<&std::path::PathBuf> = paths.iter().zip(counts).filter(|(_, n)| *n > 0).map(|(p, _)| p).collect();
    if !files.is_empty() {
        let mut io = IngestExternalFileOptions::default();
        io.set_move_files(true);
        let r = db.ingest_external_file_opts(&io, files).map_err(|e| engine("ingesting batch", e));
        cleanup();
        r?;
        tracing::debug!(total = ?t0.elapsed(), "SST files ingested");
    } else {
        cleanup();
    }
    Ok(WriteStats {
        records: counts[0],
        index_entries: counts[1] + counts[2] + counts[3],
        observations: batch.observations(),
    })
}

fn write_rrset_sst(
    opts: &Options,
    path: &Path,
    records: &[(&[u8], &Aggregate)],
    sensor_ids: &[u16],
) -> Result<u64, StoreError> {
    if records.is_empty() {
        return Ok(0);
    }
    let mut w = SstFileWriter::create(opts);
    w.open(path).map_err(|e| engine("creating SST", e))?;
    let mut key = Vec::with_capacity(256);
    let mut vbuf = Vec::with_capacity(64);
    for (rkey, agg) in records {
        key.clear();
        key.push(P_RRSET);
        key.extend_from_slice(rkey);
        encode_value(agg, sensor_ids, &mut vbuf);
        w.merge(&key, &vbuf).map_err(|e| engine("writing SST", e))?;
    }
    w.finish().map_err(|e| engine("finishing SST", e))?;
    Ok(records.len() as u64)
}

/// Splits the entries into those whose keys sort below a pivot and the rest (entries with
/// equal keys land on the same side): the pivot is the median of a sample of the keys, so the
/// two sides are about the same size.
fn split_at_median(entries: &Entries) -> (Vec<u32>, Vec<u32>) {
    let n = entries.len();
    if n < 1 << 14 {
        return ((0..n as u32).collect(), Vec::new());
    }
    let step = n / 1024;
    let mut sample: Vec<&[u8]> = (0..n).step_by(step).map(|i| entries.key(i)).collect();
    sample.sort_unstable();
    let pivot = sample[sample.len() / 2];
    let (mut low, mut high) = (Vec::with_capacity(n / 2 + n / 8), Vec::with_capacity(n / 2 + n / 8));
    for i in 0..n {
        if entries.key(i) < pivot {
            low.push(i as u32);
        } else {
            high.push(i as u32);
        }
    }
    (low, high)
}

/// Writes the entries in `order` (their key order), merging equal keys, followed by `meta`
/// puts (whose keys sort after every entry's).
fn write_entries_sst(
    opts: &Options,
    path: &Path,
    entries: &Entries,
    order: &[u32],
    records: &[(&[u8], &Aggregate)],
    sensor_ids: &[u16],
    mut meta: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<u64, StoreError> {
    meta.sort();
    if order.is_empty() && meta.is_empty() {
        return Ok(0);
    }
    let mut w = SstFileWriter::create(opts);
    w.open(path).map_err(|e| engine("creating SST", e))?;
    let mut vbuf = Vec::with_capacity(64);
    let mut written = 0u64;
    let mut i = 0;
    while i < order.len() {
        let first = order[i] as usize;
        let key = entries.key(first);
        let (merge, rec) = (entries.is_merge(first), entries.record(first));
        // Equal keys (an address in several RRsets of one name, a name seen twice) fold here.
        let mut j = i + 1;
        while j < order.len() && entries.key(order[j] as usize) == key {
            j += 1;
        }
        if merge {
            let stored = entries.value(first);
            let value: &[u8] = if j - i == 1 && !stored.is_empty() {
                stored
            } else if j - i == 1 {
                encode_value(records[rec].1, sensor_ids, &mut vbuf);
                &vbuf
            } else {
                let mut acc = Aggregate::default();
                for &o in &order[i..j] {
                    acc.merge(records[entries.record(o as usize)].1);
                }
                encode_value(&acc, sensor_ids, &mut vbuf);
                &vbuf
            };
            w.merge(key, value).map_err(|e| engine("writing SST", e))?;
        } else {
            w.put(key, []).map_err(|e| engine("writing SST", e))?;
        }
        written += 1;
        i = j;
    }
    for (k, v) in &meta {
        w.put(k, v).map_err(|e| engine("writing SST", e))?;
        written += 1;
    }
    w.finish().map_err(|e| engine("finishing SST", e))?;
    Ok(written)
}
