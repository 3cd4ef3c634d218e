//! Writing batches: the entries a record contributes to each key space, and the two ways they
//! reach RocksDB, both atomic and durable when they return:
//!
//! - small batches (HTTP ingest, sensors) go through a `WriteBatch` and the WAL;
//! - large batches (file imports) are written as sorted SST files with merge operands and
//!   ingested in one `IngestExternalFile` call. That skips the memtable and the WAL, the bulk
//!   of RocksDB's cost per key, and is still atomic because every key space shares one column
//!   family. Two threads build the two files (RRsets, and everything else) in parallel.

use std::path::Path;

use dnsledger_model::key::TAG_NEGATIVE;
use dnsledger_model::{Aggregate, Name, RrType};
use dnsledger_store::{Batch, StoreError, WriteStats};
use rocksdb::{IngestExternalFileOptions, Options, SstFileWriter, WriteBatch, WriteOptions, DB};

use crate::keys::{
    self, KeyParts, NAMES_OWNER, NAMES_TARGET, P_IP, P_META, P_NAME, P_NAMES, P_RAW, P_RRSET, RDATA_BARE, RDATA_FULL,
};
use crate::{corrupt, engine, CKPT_PREFIX};

/// Index entries: keys in one arena, each with its kind (merge or put) and the record
/// (index into the batch's sorted records) whose aggregate a merge carries.
#[derive(Default)]
pub struct Entries {
    arena: Vec<u8>,
    items: Vec<(usize, u32, bool, u32)>,
}

impl Entries {
    fn push(&mut self, key: &[u8], merge: bool, record: usize) {
        self.items.push((self.arena.len(), key.len() as u32, merge, record as u32));
        self.arena.extend_from_slice(key);
    }

    fn key(&self, i: usize) -> &[u8] {
        let (off, len, _, _) = self.items[i];
        &self.arena[off..off + len as usize]
    }

    fn clear(&mut self) {
        self.arena.clear();
        self.items.clear();
    }
}

/// The name an rdata item is indexed under, from its stored parts (no copy for wire rdata).
fn indexed_target(rrtype: RrType, tag: u8, octets: &[u8]) -> Result<Option<Name>, StoreError> {
    if tag == 0 {
        return Ok(dnsledger_model::rdata::wire_indexed_name(rrtype, octets));
    }
    Ok(keys::rdata_from_parts(tag, octets).map_err(corrupt)?.indexed_name(rrtype))
}

/// Appends the inverse-index entries (address, rdata name, raw rdata; all merges) of a record.
pub fn rdata_entries(
    parts: &KeyParts<'_>,
    record: usize,
    out: &mut Entries,
    kbuf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    for &(tag, octets, enc) in &parts.rdata {
        if tag == TAG_NEGATIVE {
            continue;
        }
        kbuf.clear();
        let is_ip = tag == 0
            && ((parts.rrtype == RrType::A && octets.len() == 4)
                || (parts.rrtype == RrType::AAAA && octets.len() == 16));
        if is_ip {
            kbuf.push(P_IP);
            kbuf.push(if octets.len() == 4 { 4 } else { 6 });
            kbuf.extend_from_slice(octets);
        } else {
            if let Some(target) = indexed_target(parts.rrtype, tag, octets)? {
                kbuf.push(P_NAME);
                target.write_key(true, kbuf);
                kbuf.extend_from_slice(&parts.rrtype.0.to_be_bytes());
                kbuf.extend_from_slice(parts.rname);
                if tag == 0 && octets == target.as_wire() {
                    kbuf.push(RDATA_BARE);
                } else {
                    kbuf.push(RDATA_FULL);
                    kbuf.extend_from_slice(enc);
                }
                kbuf.extend_from_slice(parts.bailiwick);
                out.push(kbuf, true, record);
                continue;
            }
            kbuf.push(P_RAW);
            kbuf.extend_from_slice(enc);
            kbuf.extend_from_slice(&parts.rrtype.0.to_be_bytes());
        }
        kbuf.extend_from_slice(parts.rname);
        kbuf.extend_from_slice(parts.bailiwick);
        out.push(kbuf, true, record);
    }
    Ok(())
}

/// Appends the names-index entries (puts) for the rdata targets of a record.
pub fn target_name_entries(
    parts: &KeyParts<'_>,
    record: usize,
    out: &mut Entries,
    kbuf: &mut Vec<u8>,
) -> Result<(), StoreError> {
    if matches!(parts.rrtype, RrType::A | RrType::AAAA) {
        return Ok(());
    }
    for &(tag, octets, _) in &parts.rdata {
        if tag == TAG_NEGATIVE {
            continue;
        }
        if let Some(target) = indexed_target(parts.rrtype, tag, octets)? {
            kbuf.clear();
            kbuf.push(P_NAMES);
            kbuf.push(NAMES_TARGET);
            target.write_key(false, kbuf);
            out.push(kbuf, false, record);
        }
    }
    Ok(())
}

/// The names-index key of an owner name given as its reversed key: the same escaped labels,
/// in the opposite order (no decoding needed).
fn owner_name_key(rname: &[u8], kbuf: &mut Vec<u8>) -> Result<(), StoreError> {
    kbuf.clear();
    kbuf.push(P_NAMES);
    kbuf.push(NAMES_OWNER);
    let body = rname.strip_suffix(&[0]).ok_or_else(|| StoreError::Corrupt("name key without terminator".into()))?;
    // each label is its escaped bytes followed by 0x00, and escapes never contain 0x00
    for label in body.rsplit(|&b| b == 0).filter(|l| !l.is_empty()) {
        kbuf.extend_from_slice(label);
        kbuf.push(0);
    }
    kbuf.push(0);
    Ok(())
}

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

fn checkpoint_key(source: &str) -> Vec<u8> {
    let mut k = vec![P_META];
    k.extend_from_slice(CKPT_PREFIX);
    k.extend_from_slice(source.as_bytes());
    k
}

/// Writes a batch through a `WriteBatch` (WAL, memtable).
pub fn write_batch(db: &DB, batch: &Batch, sensor_ids: &[u16], sync: bool) -> Result<WriteStats, StoreError> {
    let mut wb = WriteBatch::default();
    let mut stats = WriteStats { observations: batch.observations(), ..WriteStats::default() };
    let mut vbuf = Vec::with_capacity(64);
    let mut kbuf = Vec::with_capacity(256);
    let mut key = Vec::with_capacity(256);
    let mut entries = Entries::default();
    let mut last_name: Vec<u8> = Vec::new();
    for (rkey, agg) in batch.sorted_records() {
        encode_value(agg, sensor_ids, &mut vbuf);
        key.clear();
        key.push(P_RRSET);
        key.extend_from_slice(rkey);
        wb.merge(&key, &vbuf);
        stats.records += 1;
        let parts = keys::split_record_key(rkey).map_err(corrupt)?;
        if parts.rname != last_name.as_slice() {
            owner_name_key(parts.rname, &mut kbuf)?;
            wb.put(&kbuf, []);
            stats.index_entries += 1;
            last_name.clear();
            last_name.extend_from_slice(parts.rname);
        }
        entries.clear();
        rdata_entries(&parts, 0, &mut entries, &mut kbuf)?;
        target_name_entries(&parts, 0, &mut entries, &mut kbuf)?;
        for i in 0..entries.items.len() {
            if entries.items[i].2 {
                wb.merge(entries.key(i), &vbuf);
            } else {
                wb.put(entries.key(i), []);
            }
            stats.index_entries += 1;
        }
    }
    for (source, progress) in batch.checkpoints() {
        wb.put(checkpoint_key(source), progress);
    }
    let mut wo = WriteOptions::default();
    wo.set_sync(sync);
    db.write_opt(wb, &wo).map_err(|e| engine("writing batch", e))?;
    Ok(stats)
}

/// Writes a batch as three SST files (RRsets; inverse indexes; names and metadata), built
/// on parallel threads, and ingests them atomically.
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
        dir.join(format!("{seq}-3-names.sst")),
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
            write_entries_sst(opts, &paths[2], &entries, &records, sensor_ids, meta)
        });
        let b = (|| {
            let mut entries = Entries::default();
            let mut kbuf = Vec::with_capacity(256);
            for (i, (rkey, _)) in records.iter().enumerate() {
                let parts = keys::split_record_key(rkey).map_err(corrupt)?;
                rdata_entries(&parts, i, &mut entries, &mut kbuf)?;
            }
            write_entries_sst(opts, &paths[1], &entries, &records, sensor_ids, Vec::new())
        })();
        let panicked = || StoreError::Engine("SST writer thread panicked".into());
        let a = a.join().map_err(|_| panicked())?;
        let c = c.join().map_err(|_| panicked())?;
        tracing::debug!(?sorted, built = ?t0.elapsed(), "SST files built");
        Ok::<_, StoreError>([a?, b?, c?])
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
    Ok(WriteStats { records: counts[0], index_entries: counts[1] + counts[2], observations: batch.observations() })
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

/// Sorts `entries` and writes them, merging equal keys, followed by `meta` puts (whose keys
/// sort after every entry's).
fn write_entries_sst(
    opts: &Options,
    path: &Path,
    entries: &Entries,
    records: &[(&[u8], &Aggregate)],
    sensor_ids: &[u16],
    mut meta: Vec<(Vec<u8>, Vec<u8>)>,
) -> Result<u64, StoreError> {
    let order = dnsledger_store::sort_order(entries.items.len(), |i| entries.key(i));
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
        let (_, _, merge, rec) = entries.items[first];
        // Equal keys (an address in several RRsets of one name, a name seen twice) fold here.
        let mut j = i + 1;
        while j < order.len() && entries.key(order[j] as usize) == key {
            j += 1;
        }
        if merge {
            if j - i == 1 {
                encode_value(records[rec as usize].1, sensor_ids, &mut vbuf);
            } else {
                let mut acc = Aggregate::default();
                for &o in &order[i..j] {
                    acc.merge(records[entries.items[o as usize].3 as usize].1);
                }
                encode_value(&acc, sensor_ids, &mut vbuf);
            }
            w.merge(key, &vbuf).map_err(|e| engine("writing SST", e))?;
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
