//! Operations on a live store: online backups (RocksDB checkpoints), engine gauges for
//! monitoring, and the verifying reads of `dnsledger check`.
//!
//! **Backups.** A checkpoint is RocksDB's consistent copy of an open database: it stops file
//! deletions, flushes the memtables, then hard-links every live SST file into the new
//! directory (copies them when it is on another filesystem) and copies the manifest, the
//! options and the write-ahead logs up to the point it was taken. Writes go on meanwhile and
//! are simply not part of it. SST files never change once written, so a hard link costs no
//! space until the store's compactions delete its own name for the file. The directory then
//! gets [`BACKUP_MANIFEST`], and everything written is fsynced.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use dnsledger_model::{Aggregate, Name, Rdata, Record, RrType};
use dnsledger_store::layout::{KvSource, ScanFn};
use dnsledger_store::{BackupInfo, Gauge, ScanStats, StoreError};
use rocksdb::checkpoint::Checkpoint;
use rocksdb::ReadOptions;

use crate::{engine, RocksStore, SCHEMA};

/// The file a backup directory describes itself in (JSON: format, creation time, dnsledger
/// version, store schema, files and bytes of the checkpoint).
pub const BACKUP_MANIFEST: &str = "dnsledger-backup.json";
/// The `format` of [`BACKUP_MANIFEST`].
pub const BACKUP_FORMAT: &str = "dnsledger-backup-1";

/// Engine figures exported as gauges: (RocksDB property, metric name, help).
const PROPERTIES: [(&str, &str, &str); 11] = [
    (
        "rocksdb.cur-size-all-mem-tables",
        "dnsledger_store_memtable_bytes",
        "Bytes in the embedded store's memtables, active and waiting to be flushed.",
    ),
    (
        "rocksdb.num-immutable-mem-table",
        "dnsledger_store_immutable_memtables",
        "Memtables of the embedded store waiting to be flushed.",
    ),
    (
        "rocksdb.estimate-pending-compaction-bytes",
        "dnsledger_store_pending_compaction_bytes",
        "Bytes the embedded store's compactions estimate they must rewrite to reach steady state.",
    ),
    (
        "rocksdb.compaction-pending",
        "dnsledger_store_compaction_pending",
        "1 if the embedded store has at least one compaction pending.",
    ),
    ("rocksdb.num-running-compactions", "dnsledger_store_running_compactions", "Compactions running now."),
    ("rocksdb.num-running-flushes", "dnsledger_store_running_flushes", "Memtable flushes running now."),
    (
        "rocksdb.live-sst-files-size",
        "dnsledger_store_live_sst_bytes",
        "Bytes of the SST files the embedded store reads from.",
    ),
    (
        "rocksdb.estimate-num-keys",
        "dnsledger_store_estimated_keys",
        "Estimated keys in the embedded store (records, index entries, metadata).",
    ),
    ("rocksdb.block-cache-usage", "dnsledger_store_block_cache_bytes", "Bytes held in the block cache."),
    (
        "rocksdb.is-write-stopped",
        "dnsledger_store_write_stopped",
        "1 while the embedded store stops writes until compactions catch up.",
    ),
    (
        "rocksdb.actual-delayed-write-rate",
        "dnsledger_store_delayed_write_rate_bytes",
        "Rate (bytes/s) writes are slowed to while compactions catch up; 0 when not slowed.",
    ),
];
/// Levels whose file counts are summed (RocksDB's default `num_levels`).
const LEVELS: usize = 7;

fn property(store: &RocksStore, name: &str) -> Option<u64> {
    match store.db.property_int_value(name) {
        Ok(Some(v)) => Some(v),
        // some properties exist only as text
        _ => store.db.property_value(name).ok().flatten().and_then(|s| s.trim().parse().ok()),
    }
}

/// The engine gauges (properties only: cheap enough for every scrape).
pub(crate) fn gauges(store: &RocksStore) -> Vec<Gauge> {
    let mut out: Vec<Gauge> = PROPERTIES
        .iter()
        .filter_map(|&(prop, name, help)| property(store, prop).map(|v| Gauge { name, help, value: v as f64 }))
        .collect();
    let files: Option<u64> = (0..LEVELS).map(|l| property(store, &format!("rocksdb.num-files-at-level{l}"))).sum();
    if let Some(n) = files {
        out.push(Gauge {
            name: "dnsledger_store_sst_files",
            help: "SST files the embedded store reads from, over all levels.",
            value: n as f64,
        });
    }
    out.push(Gauge {
        name: "dnsledger_store_corrupt_merge_operands",
        help: "Stored values that failed to decode while merging since the store was opened.",
        value: store.corrupt.load(std::sync::atomic::Ordering::Relaxed) as f64,
    });
    let r = store.retention();
    for (name, help, n) in [
        (
            "dnsledger_store_expired_records",
            "Records the retention compaction filter dropped since the store was opened.",
            &r.records,
        ),
        (
            "dnsledger_store_expired_index_entries",
            "Inverse-index entries the retention compaction filter dropped since the store was opened.",
            &r.index_entries,
        ),
        (
            "dnsledger_store_expired_names",
            "Names-index entries swept after their records expired, since the store was opened.",
            &r.names,
        ),
    ] {
        out.push(Gauge { name, help, value: n.load(std::sync::atomic::Ordering::Relaxed) as f64 });
    }
    let cutoff = r.cutoff();
    if cutoff > 0 {
        out.push(Gauge {
            name: "dnsledger_store_retention_cutoff_seconds",
            help: "Records last seen before this unix time are expired.",
            value: cutoff as f64,
        });
    }
    out
}

fn io_err(dest: &Path, what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Engine(format!("backup to {}: {what}: {e}", dest.display()))
}

/// Regular files of `dir`: (count, bytes, hard-linked ones).
fn totals(dir: &Path) -> std::io::Result<(u64, u64, u64)> {
    let (mut files, mut bytes, mut linked) = (0, 0, 0);
    for e in std::fs::read_dir(dir)? {
        let m = e?.metadata()?;
        if m.is_file() {
            files += 1;
            bytes += m.len();
            #[cfg(unix)]
            if std::os::unix::fs::MetadataExt::nlink(&m) > 1 {
                linked += 1;
            }
        }
    }
    Ok((files, bytes, linked))
}

/// fsyncs a directory (so the names created in it are durable).
pub(crate) fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// Makes a checkpoint of the open store in the new directory `dest` (see the module docs).
pub(crate) fn backup(store: &RocksStore, dest: &Path) -> Result<BackupInfo, StoreError> {
    if store.opts.read_only {
        return Err(io_err(dest, "the store is open read-only", "a checkpoint needs the store opened for writing"));
    }
    if dest.symlink_metadata().is_ok() {
        return Err(io_err(dest, "refusing to write", "it exists already"));
    }
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).map_err(|e| io_err(dest, "creating its parent directory", e))?;
    let started = dnsledger_model::time::now();
    let cp = Checkpoint::new(&store.db).map_err(|e| engine("preparing a checkpoint", e))?;
    cp.create_checkpoint(dest).map_err(|e| io_err(dest, "checkpoint", e))?;
    let finish = || -> Result<BackupInfo, StoreError> {
        let (files, bytes, linked) = totals(dest).map_err(|e| io_err(dest, "reading the checkpoint", e))?;
        let manifest = format!(
            "{{\n  \"format\": \"{BACKUP_FORMAT}\",\n  \"created\": \"{}\",\n  \"created_epoch\": {started},\n  \
             \"dnsledger_version\": \"{}\",\n  \"store_schema\": \"{}\",\n  \"files\": {files},\n  \
             \"bytes\": {bytes}\n}}\n",
            dnsledger_model::time::format_rfc3339(started),
            env!("CARGO_PKG_VERSION"),
            String::from_utf8_lossy(SCHEMA),
        );
        let path = dest.join(BACKUP_MANIFEST);
        let mut f = std::fs::File::create_new(&path).map_err(|e| io_err(dest, "writing the manifest", e))?;
        f.write_all(manifest.as_bytes())
            .and_then(|()| f.sync_all())
            .map_err(|e| io_err(dest, "writing the manifest", e))?;
        sync_dir(dest).map_err(|e| io_err(dest, "syncing the directory", e))?;
        sync_dir(&parent).map_err(|e| io_err(dest, "syncing its parent directory", e))?;
        Ok(BackupInfo { path: dest.to_path_buf(), bytes, files, linked })
    };
    finish().inspect_err(|_| {
        // a checkpoint without its manifest is not a backup
        let _ = std::fs::remove_dir_all(dest);
    })
}

/// The store as a [`KvSource`] whose scans verify the checksum of every block they read and
/// leave the block cache alone: what `dnsledger check` reads through. See
/// [`RocksStore::verified`].
pub struct Verified<'a>(pub(crate) &'a RocksStore);

impl KvSource for Verified<'_> {
    fn scan(
        &self,
        start: &[u8],
        end: Option<&[u8]>,
        stats: &mut ScanStats,
        f: &mut ScanFn<'_>,
    ) -> Result<ControlFlow<()>, StoreError> {
        let mut ro = ReadOptions::default();
        ro.set_verify_checksums(true);
        ro.fill_cache(false);
        ro.set_readahead_size(2 << 20);
        self.0.scan_with(ro, start, end, stats, f)
    }

    fn record(
        &self,
        rrname: Name,
        rrtype: RrType,
        bailiwick: Option<Name>,
        rdata: Vec<Rdata>,
        agg: Aggregate,
    ) -> Record {
        self.0.record(rrname, rrtype, bailiwick, rdata, agg)
    }

    fn sensor_name(&self, id: u16) -> Option<String> {
        self.0.sensor_name(id)
    }
}

/// Problems with the SST files the store's current version lists: missing, or of another size
/// than the store recorded.
pub(crate) fn verify_files(store: &RocksStore) -> Result<Vec<String>, StoreError> {
    let files = store.db.live_files().map_err(|e| engine("listing live files", e))?;
    let mut out = Vec::new();
    for f in files {
        let path = store.path.join(f.name.trim_start_matches('/'));
        match std::fs::metadata(&path) {
            Ok(m) if m.len() == f.size as u64 => {}
            Ok(m) => out.push(format!("{}: {} bytes, the store recorded {}", path.display(), m.len(), f.size)),
            Err(e) => out.push(format!("{}: {e}", path.display())),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{P_IP, P_RRSET};
    use crate::RocksStoreOptions;
    use dnsledger_model::{Negative, Observation};
    use dnsledger_store::layout::survey::{check, survey, CheckOptions, CheckReport};
    use dnsledger_store::{Batch, NameMatch, NegativeFilter, RrsetQuery, Store};
    use std::sync::atomic::{AtomicBool, Ordering};

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn open_with(dir: &Path, ingest_threshold: usize) -> RocksStore {
        RocksStore::open(
            dir,
            RocksStoreOptions {
                cache_bytes: 8 << 20,
                write_buffer_bytes: 16 << 20,
                ingest_threshold,
                ..Default::default()
            },
        )
        .unwrap()
    }

    fn read_only(dir: &Path) -> RocksStore {
        RocksStore::open(dir, RocksStoreOptions { read_only: true, ..Default::default() }).unwrap()
    }

    /// Observation `i` of a varied corpus: addresses, names in rdata (bare and inside MX),
    /// text rdata, escapes, unknown types, negative answers, zone data, sensors.
    fn varied(i: u64) -> Observation {
        let owner = match i % 5 {
            0 => format!("h{}.example.com", i % 97),
            1 => format!("a\\000b.{}.example.net", i % 13),
            2 => format!("_sip._tcp.s{}.example.org", i % 7),
            3 => format!("dot\\.ted{}.example.com", i % 11),
            _ => "example.com".to_string(),
        };
        let (rrtype, rdata) = match i % 9 {
            0 | 1 => (RrType::A, vec![Rdata::ipv4(std::net::Ipv4Addr::from(0xC000_0200 + (i % 300) as u32))]),
            2 => (RrType::AAAA, vec![Rdata::ipv6(std::net::Ipv6Addr::from(0x2001_0db8_u128 << 96 | (i % 50) as u128))]),
            3 => (RrType::NS, vec![Rdata::name(&n(&format!("ns{}.dnsprov.net", i % 4)))]),
            4 => {
                let mut w = (10 * (i % 3) as u16).to_be_bytes().to_vec();
                w.extend_from_slice(n(&format!("mx{}.example.net", i % 5)).as_wire());
                (RrType::MX, vec![Rdata::Wire(w)])
            }
            5 => (RrType::MX, vec![Rdata::Text(format!("mx{}.lossy.example.", i % 3))]),
            6 => (RrType::TXT, vec![Rdata::Wire(vec![3, b'a', b'b', (i % 256) as u8])]),
            7 => (RrType(65_280), vec![Rdata::Wire(vec![(i % 7) as u8; 3])]),
            _ => (RrType::CNAME, vec![Rdata::name(&n(&format!("t{}.example.com", i % 9)))]),
        };
        let mut o = Observation {
            rrname: n(&owner),
            rrtype,
            rdata: rdata.into_iter().collect(),
            bailiwick: i.is_multiple_of(3).then(|| n("example.com")),
            time_first: 1_600_000_000 + i * 37,
            time_last: 1_600_000_000 + i * 41,
            ttl: Some((i % 600) as u32),
            count: 1 + i % 4,
            sensor: (!i.is_multiple_of(4)).then(|| ["fra-1", "ams-2", "nyc-3"][(i % 3) as usize].to_string()),
            zone: i.is_multiple_of(17),
            ..Observation::default()
        };
        if i.is_multiple_of(23) {
            o.rdata.clear();
            o.negative = Some(if i.is_multiple_of(2) { Negative::NxDomain } else { Negative::NoData });
        }
        o
    }

    fn write_range(store: &RocksStore, range: std::ops::Range<u64>, checkpoint: Option<&str>) {
        let mut b = Batch::new();
        for i in range.clone() {
            b.add(&mut varied(i));
        }
        if let Some(src) = checkpoint {
            b.set_checkpoint(src, range.end.to_string().into_bytes());
        }
        store.write(&b).unwrap();
    }

    fn full_check(store: &RocksStore) -> CheckReport {
        let opts = CheckOptions { max_problems: 20, registered_sensors: Some(store.stats().unwrap().sensors) };
        check(&store.verified(), &opts, &mut |_| {}).unwrap()
    }

    #[test]
    fn a_store_written_through_the_wal_and_sst_ingestion_checks_clean() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with(dir.path(), 500);
        for start in (0..6000).step_by(250) {
            // batches of 250 go through the WAL, of 1000 (every fourth) through SST ingestion
            write_range(&store, start..start + 250, Some("file:a"));
            if start.is_multiple_of(1000) {
                write_range(&store, start..start + 1000, None);
            }
        }
        let r = full_check(&store);
        assert!(r.is_clean(), "{:#?}", r.problems);
        assert!(r.indexes.iter().all(|a| a.expected > 0 && a.keys_agree && a.values_agree), "{:?}", r.indexes);
        let s = &r.survey;
        assert!(s.complete);
        assert!(s.negative.contains_key("NXDOMAIN") && s.negative.contains_key("NODATA"));
        assert_eq!(s.schema.as_deref(), Some("dnsledger-store-1"));
        assert_eq!(s.registered_sensors, 3);
        assert_eq!(s.sensors.iter().filter_map(|x| x.name.as_deref()).collect::<Vec<_>>(), ["ams-2", "nyc-3", "fra-1"]);
        assert_eq!(s.checkpoints.len(), 1);
        assert_eq!(s.checkpoints[0].progress, b"6000");
        // the fast survey sees the same figures
        assert_eq!(&survey(&store, &mut |_| {}).unwrap(), s);
        // compaction changes nothing the check sees
        store.compact().unwrap();
        assert_eq!(full_check(&store), r);
        assert!(store.verify_files().unwrap().is_empty());
    }

    #[test]
    fn corruption_written_through_the_engine_is_reported() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with(dir.path(), 1 << 20);
        write_range(&store, 0..2000, None);
        let mut rrset = None;
        let mut ip = None;
        let _ = store.scan(&[], None, &mut ScanStats::default(), &mut |k, _, _| {
            match k[0] {
                P_RRSET if rrset.is_none() => rrset = Some(k.to_vec()),
                P_IP if ip.is_none() => ip = Some(k.to_vec()),
                _ => {}
            }
            ControlFlow::Continue(())
        });
        let (rrset, ip) = (rrset.unwrap(), ip.unwrap());
        store.db.put(&rrset, b"\x7fnot an aggregate").unwrap();
        store.db.delete(&ip).unwrap();
        store.db.put(b"\x01\x05\x01", Aggregate::default().to_bytes()).unwrap();
        let r = full_check(&store);
        let by_key = |k: &[u8]| r.problems.iter().find(|p| p.key.as_deref() == Some(k)).map(|p| p.kind);
        assert_eq!(by_key(&rrset), Some("undecodable value"), "{:#?}", r.problems);
        assert_eq!(by_key(b"\x01\x05\x01"), Some("undecodable key"), "{:#?}", r.problems);
        let address = r.indexes.iter().find(|a| a.index == "address").unwrap();
        assert_eq!(address.present + 1, address.expected);
        assert!(r.problems.iter().any(|p| p.reason.starts_with("index address:")), "{:#?}", r.problems);
    }

    #[test]
    fn flipped_bytes_in_an_sst_file_are_reported_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = open_with(dir.path(), 1 << 20);
            write_range(&store, 0..5000, None);
            store.compact().unwrap();
        }
        let mut ssts: Vec<PathBuf> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "sst"))
            .collect();
        ssts.sort_by_key(|p| std::fs::metadata(p).unwrap().len());
        let victim = ssts.pop().unwrap();
        let mut bytes = std::fs::read(&victim).unwrap();
        // data blocks come first in a table file; its index and footer stay intact
        for b in &mut bytes[200..216] {
            *b ^= 0x5a;
        }
        std::fs::write(&victim, &bytes).unwrap();
        let store = read_only(dir.path());
        let r = full_check(&store);
        assert!(!r.is_clean());
        let engine: Vec<_> = r.problems.iter().filter(|p| p.kind == "engine").collect();
        assert_eq!(engine.len(), 1, "{:#?}", r.problems);
        assert!(engine[0].reason.contains("Corruption"), "{}", engine[0].reason);
        assert!(!r.survey.complete && r.indexes.is_empty());
        // lookups through the normal path report the engine error too, without panicking
        let q = RrsetQuery {
            name: NameMatch::parse("*.example.com").unwrap(),
            types: dnsledger_model::TypeFilter::All,
            bailiwick: None,
            fence: dnsledger_model::TimeFence::default(),
            negative: NegativeFilter::Include,
        };
        let _ = store.lookup_rrset(&q, &mut |_| ControlFlow::Continue(()));
    }

    #[test]
    fn backups_are_consistent_while_writes_continue() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with(&dir.path().join("store"), 300);
        write_range(&store, 0..1000, Some("writer"));
        let stop = AtomicBool::new(false);
        let dest = dir.path().join("backups").join("b1");
        let info = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut at: u64 = 1000;
                while !stop.load(Ordering::Relaxed) {
                    // alternately through the WAL and as ingested SST files
                    let len = if at.is_multiple_of(2) { 100 } else { 400 };
                    write_range(&store, at..at + len, Some("writer"));
                    at += len;
                }
                at
            });
            std::thread::sleep(std::time::Duration::from_millis(300));
            let info = store.backup(&dest).unwrap();
            std::thread::sleep(std::time::Duration::from_millis(100));
            stop.store(true, Ordering::Relaxed);
            let end = writer.join().unwrap();
            assert!(end > 1000);
            info
        });
        assert_eq!(info.path, dest);
        assert!(info.files >= 4 && info.bytes > 0, "{info:?}");
        assert!(info.linked > 0, "SST files on the same filesystem are hard links: {info:?}");
        let manifest = std::fs::read_to_string(dest.join(BACKUP_MANIFEST)).unwrap();
        assert!(manifest.contains("\"format\": \"dnsledger-backup-1\""), "{manifest}");
        assert!(manifest.contains("\"store_schema\": \"dnsledger-store-1\""), "{manifest}");
        assert!(manifest.contains(&format!("\"files\": {}", info.files)), "{manifest}");
        assert!(manifest.contains(&format!("\"bytes\": {}", info.bytes)), "{manifest}");
        // a second backup to the same place is refused
        let e = store.backup(&dest).unwrap_err().to_string();
        assert!(e.contains("exists already"), "{e}");

        // the backup holds exactly the batches up to its checkpoint: each batch is atomic
        let b = read_only(&dest);
        let upto: u64 = String::from_utf8(b.checkpoint("writer").unwrap().unwrap()).unwrap().parse().unwrap();
        assert!(upto >= 1000);
        let r = full_check(&b);
        assert!(r.is_clean(), "{:#?}", r.problems);
        // rebuild the expected store from the same batches and compare the figures
        let expect_dir = tempfile::tempdir().unwrap();
        let expect = open_with(expect_dir.path(), 300);
        write_range(&expect, 0..1000, Some("writer"));
        let mut at: u64 = 1000;
        while at < upto {
            let len = if at.is_multiple_of(2) { 100 } else { 400 };
            write_range(&expect, at..at + len, Some("writer"));
            at += len;
        }
        assert_eq!(at, upto);
        let (mut got, mut want) = (r.survey, full_check(&expect).survey);
        // the backup's registry and checkpoint are the same; entries counts agree too
        got.checkpoints.clear();
        want.checkpoints.clear();
        assert_eq!(got, want);
        // a read-only store cannot make checkpoints
        let e = b.backup(&dir.path().join("b2")).unwrap_err().to_string();
        assert!(e.contains("read-only"), "{e}");
    }

    #[test]
    fn gauges_read_engine_properties() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with(dir.path(), 1 << 20);
        write_range(&store, 0..3000, None);
        store.flush().unwrap();
        let g = store.gauges();
        let names: Vec<&str> = g.iter().map(|g| g.name).collect();
        for want in [
            "dnsledger_store_memtable_bytes",
            "dnsledger_store_pending_compaction_bytes",
            "dnsledger_store_running_compactions",
            "dnsledger_store_running_flushes",
            "dnsledger_store_compaction_pending",
            "dnsledger_store_live_sst_bytes",
            "dnsledger_store_sst_files",
            "dnsledger_store_estimated_keys",
            "dnsledger_store_block_cache_bytes",
        ] {
            assert!(names.contains(&want), "{want} missing from {names:?}");
        }
        let mut unique = names.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), names.len());
        assert!(g.iter().all(|g| g.name.starts_with("dnsledger_store_") && !g.help.is_empty()));
        let value = |n: &str| g.iter().find(|g| g.name == n).map(|g| g.value).unwrap();
        assert!(value("dnsledger_store_sst_files") >= 1.0);
        assert!(value("dnsledger_store_live_sst_bytes") > 0.0);
        assert!(value("dnsledger_store_estimated_keys") > 1000.0);
    }

    #[test]
    fn a_read_only_check_survives_the_writers_compactions() {
        let dir = tempfile::tempdir().unwrap();
        let writer = open_with(dir.path(), 300);
        for start in (0..4000).step_by(400) {
            write_range(&writer, start..start + 400, None);
            writer.flush().unwrap();
        }
        let reader = read_only(dir.path());
        let before = full_check(&reader);
        assert!(before.is_clean(), "{:#?}", before.problems);
        let files_before: Vec<String> = writer.db.live_files().unwrap().into_iter().map(|f| f.name).collect();
        // the writer rewrites every file (the reader's files are deleted from the directory)
        write_range(&writer, 4000..5000, None);
        writer.compact().unwrap();
        let files_after: Vec<String> = writer.db.live_files().unwrap().into_iter().map(|f| f.name).collect();
        assert!(files_before.iter().all(|f| !files_after.contains(f)), "{files_before:?} {files_after:?}");
        assert!(files_before.iter().all(|f| !dir.path().join(f.trim_start_matches('/')).exists()));
        // the reader still sees its version, whole
        let again = full_check(&reader);
        assert!(again.is_clean(), "{:#?}", again.problems);
        assert_eq!(again.survey, before.survey);
    }

    #[test]
    fn sensor_names_come_from_the_registry() {
        let dir = tempfile::tempdir().unwrap();
        let store = open_with(dir.path(), 1 << 20);
        write_range(&store, 0..10, None);
        let names: Vec<Option<String>> = (0..4).map(|id| store.sensor_name(id)).collect();
        assert_eq!(names, [Some("ams-2".into()), Some("nyc-3".into()), Some("fra-1".into()), None]);
    }
}
