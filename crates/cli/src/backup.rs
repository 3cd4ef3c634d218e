//! `dnsledger backup` and `dnsledger restore`.
//!
//! A backup is a RocksDB checkpoint of the embedded store plus a manifest
//! (`dnsledger-backup.json`): consistent as of one moment, taken while writes go on, its SST
//! files hard-linked to the store's when on the same filesystem. `backup DEST` makes one of a
//! store no server holds; `backup --server URL` asks the running server, which writes it into
//! its `[server] backup_dir`. `restore` checks a backup (read-only, every checksum, the full
//! integrity check), copies it into place (never hard links: the restored store owns its
//! files), and moves a store that was there aside instead of deleting it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use dnsledger_store::{Store, StoreError};
use dnsledger_store_rocksdb::{RocksStore, RocksStoreOptions, BACKUP_FORMAT, BACKUP_MANIFEST};
use serde_json::json;

use crate::backend::{describe_clickhouse, StoreArgs, Target};
use crate::inspect::{check_rocks, check_text, human_bytes, open_read_only, thousands};

/// `dnsledger backup`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
EXAMPLES:
  dnsledger backup --data-dir /var/lib/dnsledger /srv/backups/2024-06-01     # no server running
  dnsledger backup --server http://127.0.0.1:8053 --key \"$ADMIN_KEY\" --name nightly
  dnsledger check --data-dir /srv/backups/2024-06-01                          # a backup is a store

A backup is consistent as of one moment and taken while writes go on. On the store's filesystem
its SST files are hard links (no extra space until compactions replace the store's own files);
elsewhere they are copies. The store of a running server is locked: back it up through the
server (--server), which writes into its [server] backup_dir. ClickHouse stores are backed up
with ClickHouse's own tools (docs/maintenance.md).")]
pub struct BackupArgs {
    /// The store to back up (its server must not be running; see --server).
    #[command(flatten)]
    store: StoreArgs,

    /// Directory to create for the backup (it must not exist).
    #[arg(value_name = "DEST", required_unless_present = "server", conflicts_with = "server")]
    dest: Option<PathBuf>,

    /// Ask the server at this URL to back up the store it serves, into its [server] backup_dir.
    #[arg(long, value_name = "URL")]
    server: Option<String>,

    /// PEM file of extra CA certificates to trust for an https:// --server (a private CA or a
    /// self-signed server), beside the system's.
    #[arg(long, value_name = "FILE", env = "DNSLEDGER_CA_FILE", requires = "server")]
    ca_file: Option<std::path::PathBuf>,

    /// API key for --server (an admin key, when the server has keys).
    #[arg(long, env = "DNSLEDGER_API_KEY", hide_env_values = true, requires = "server")]
    key: Option<String>,

    /// Name of the backup inside the server's backup_dir [default: the UTC time].
    #[arg(long, value_name = "NAME", requires = "server")]
    name: Option<String>,

    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// `dnsledger restore`.
#[derive(clap::Args, Debug)]
#[command(after_help = "\
Checks the backup first (read-only: block checksums, every key and value, index agreement) and
restores nothing if it has a problem. The copy is made next to the target, fsynced, and renamed
into place, so a failed restore leaves no half-written store. A target that holds files needs
--force, and is then moved aside to DIR.before-restore-<UTC time>, never deleted. The server
must be stopped (a store in use is refused).

EXAMPLE:
  systemctl stop dnsledger
  dnsledger restore /srv/backups/nightly --data-dir /var/lib/dnsledger --force
  systemctl start dnsledger")]
pub struct RestoreArgs {
    /// The backup directory (from `dnsledger backup` or a server's backup_dir).
    #[arg(value_name = "BACKUP")]
    backup: PathBuf,

    /// Where to restore: the embedded store's directory (--data-dir, or --config's [store]).
    #[command(flatten)]
    store: StoreArgs,

    /// Restore over a store directory that holds files, moving it aside first.
    #[arg(long)]
    force: bool,

    /// Most problems of the backup listed if its check fails.
    #[arg(long, default_value_t = 20, value_name = "N")]
    max_problems: usize,

    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

/// The advice for ClickHouse stores, which back themselves up.
fn clickhouse_advice(what: &str, o: &dnsledger_store_clickhouse::ClickHouseOptions) -> String {
    format!(
        "{what} works on the embedded store; the store here is {}. Back ClickHouse up with its own \
         tools: `ALTER TABLE <db>.entries FREEZE` on every shard (18.16), or `BACKUP DATABASE` on current \
         releases, or a replica (see docs/maintenance.md). To load an embedded backup into ClickHouse, \
         restore it into a directory and run `dnsledger migrate --from DIR --to clickhouse`.",
        describe_clickhouse(o)
    )
}

/// True if RocksDB refused to open because another process holds the store's lock.
fn is_lock_error(e: &StoreError) -> bool {
    let text = e.to_string().to_ascii_lowercase();
    text.contains("lock file") || text.contains("/lock:")
}

/// Opens an embedded store for writing, or says it is in use.
fn open_unused(dir: &Path, in_use: impl FnOnce() -> String) -> anyhow::Result<Result<RocksStore, StoreError>> {
    match RocksStore::open(dir, RocksStoreOptions { cache_bytes: 8 << 20, ..Default::default() }) {
        Ok(s) => Ok(Ok(s)),
        Err(e) if is_lock_error(&e) => bail!("{} ({e})", in_use()),
        Err(e) => Ok(Err(e)),
    }
}

/// Runs `dnsledger backup`.
pub fn backup(a: BackupArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = &a.server {
        return backup_remote(url, a.key.as_deref(), a.name.as_deref(), a.json, a.ca_file.as_deref());
    }
    let Some(dest) = a.dest.as_deref() else { bail!("give DEST (a new directory), or --server URL") };
    let config = a.store.load_config()?;
    let dir = match a.store.target(&config)? {
        Target::RocksDb(dir) => dir,
        Target::ClickHouse(o) => bail!(clickhouse_advice("`dnsledger backup`", &o)),
    };
    if !dir.join("CURRENT").exists() {
        bail!("no store at {} (nothing to back up)", dir.display());
    }
    if dest.symlink_metadata().is_ok() {
        bail!("{} exists already: a backup goes into a new directory", dest.display());
    }
    let store = open_unused(&dir, || {
        format!(
            "the store {} is in use, probably by `dnsledger serve`: back it up through the server with \
             `dnsledger backup --server URL [--key ADMIN_KEY] [--name NAME]`",
            dir.display()
        )
    })?
    .with_context(|| format!("opening store {}", dir.display()))?;
    let started = Instant::now();
    let info = store.backup(dest)?;
    let secs = started.elapsed().as_secs_f64();
    report_backup(&info.path.display().to_string(), info.bytes, info.files, info.linked, secs, a.json)?;
    Ok(ExitCode::SUCCESS)
}

fn report_backup(path: &str, bytes: u64, files: u64, linked: u64, secs: f64, json: bool) -> anyhow::Result<()> {
    if json {
        let v = json!({ "path": path, "bytes": bytes, "files": files, "linked": linked, "seconds": secs });
        println!("{}", serde_json::to_string(&v)?);
    } else {
        println!("{path}");
        eprintln!(
            "dnsledger: backup written to {path}: {} files, {} ({} hard-linked to the store) in {secs:.2} s",
            files,
            human_bytes(bytes),
            thousands(linked)
        );
    }
    Ok(())
}

/// `%`-encodes a query value.
fn encode_query(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn backup_remote(
    base: &str,
    key: Option<&str>,
    name: Option<&str>,
    json: bool,
    ca_file: Option<&std::path::Path>,
) -> anyhow::Result<ExitCode> {
    let mut url = format!("{}/api/v1/admin/backup", base.trim_end_matches('/'));
    if let Some(n) = name {
        url.push_str("?name=");
        url.push_str(&encode_query(n));
    }
    // a backup of a large store takes a while; no overall timeout
    let agent = crate::https::agent(ca_file)?;
    let mut req = agent.post(&url);
    if let Some(k) = key {
        req = req.header("X-API-Key", k);
    }
    let mut resp = req.send_empty().map_err(crate::https::failed(&url))?;
    let status = resp.status();
    let body = resp.body_mut().read_to_string().with_context(|| format!("reading the answer of {url}"))?;
    let doc: serde_json::Value = serde_json::from_str(&body)
        .with_context(|| format!("{url} answered {status} with something that is not JSON: {}", body.trim()))?;
    if !status.is_success() {
        let msg = doc.get("error").and_then(|e| e.as_str()).unwrap_or(body.trim());
        bail!("the server refused the backup ({status}): {msg}");
    }
    let num = |k: &str| doc.get(k).and_then(|v| v.as_u64()).unwrap_or(0);
    let path = doc.get("path").and_then(|v| v.as_str()).context("the server's answer names no path")?;
    let secs = doc.get("seconds").and_then(|v| v.as_f64()).unwrap_or(0.0);
    report_backup(path, num("bytes"), num("files"), num("linked"), secs, json)?;
    Ok(ExitCode::SUCCESS)
}

/// `YYYYMMDDTHHMMSSZ` for now, UTC.
fn stamp() -> String {
    dnsledger_model::time::format_rfc3339(dnsledger_model::time::now())
        .chars()
        .filter(|c| *c != '-' && *c != ':')
        .collect()
}

/// `dir` with `suffix` appended to its last component.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut s = dir.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

/// The parent directory of `dir` (`.` for a bare name).
fn parent_of(dir: &Path) -> PathBuf {
    match dir.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Reads the backup's manifest, if it has one, and refuses a format or schema this build
/// does not know.
fn read_manifest(backup: &Path) -> anyhow::Result<Option<serde_json::Value>> {
    let path = backup.join(BACKUP_MANIFEST);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let v: serde_json::Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let format = v.get("format").and_then(|f| f.as_str()).unwrap_or("");
    if format != BACKUP_FORMAT {
        bail!("{}: format {format:?}, this dnsledger reads {BACKUP_FORMAT:?}", path.display());
    }
    Ok(Some(v))
}

/// Copies the files of `from` (not the manifest) into the new directory `to`, fsyncing each;
/// returns (files, bytes).
fn copy_store(from: &Path, to: &Path, quiet: bool) -> anyhow::Result<(u64, u64)> {
    std::fs::create_dir(to).with_context(|| format!("creating {}", to.display()))?;
    let mut entries: Vec<(PathBuf, u64)> = Vec::new();
    for e in std::fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let e = e?;
        let name = e.file_name();
        if name == BACKUP_MANIFEST || name == "LOCK" {
            continue;
        }
        let m = e.metadata()?;
        if !m.is_file() {
            bail!("{}: the backup holds something that is not a file", e.path().display());
        }
        entries.push((e.path(), m.len()));
    }
    let total: u64 = entries.iter().map(|(_, n)| n).sum();
    let bar = (!quiet && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let bar = indicatif::ProgressBar::new(total);
        if let Ok(style) =
            indicatif::ProgressStyle::with_template("{spinner} copying {bar:30} {binary_bytes}/{binary_total_bytes}")
        {
            bar.set_style(style);
        }
        bar
    });
    let mut bytes = 0;
    for (path, len) in &entries {
        let Some(name) = path.file_name() else { continue };
        let dest = to.join(name);
        std::fs::copy(path, &dest).with_context(|| format!("copying {} to {}", path.display(), dest.display()))?;
        std::fs::File::open(&dest).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", dest.display()))?;
        bytes += len;
        if let Some(b) = &bar {
            b.set_position(bytes);
        }
    }
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    sync_dir(to).with_context(|| format!("syncing {}", to.display()))?;
    Ok((entries.len() as u64, bytes))
}

/// True if `dir` exists and holds anything.
fn has_files(dir: &Path) -> anyhow::Result<bool> {
    match std::fs::read_dir(dir) {
        Ok(mut rd) => Ok(rd.next().is_some()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e).with_context(|| format!("reading {}", dir.display())),
    }
}

/// Runs `dnsledger restore`.
pub fn restore(a: RestoreArgs) -> anyhow::Result<ExitCode> {
    let config = a.store.load_config()?;
    let target = a.store.target(&config)?;
    let dir = match &target {
        Target::RocksDb(dir) => dir.clone(),
        Target::ClickHouse(o) => bail!(clickhouse_advice("`dnsledger restore`", o)),
    };
    if !a.backup.join("CURRENT").exists() {
        bail!("{} is not a backup (no RocksDB CURRENT file in it)", a.backup.display());
    }
    let manifest = read_manifest(&a.backup)?;
    match &manifest {
        Some(m) => eprintln!(
            "restore: backup {} made {} by dnsledger {} ({} files, {})",
            a.backup.display(),
            m.get("created").and_then(|v| v.as_str()).unwrap_or("?"),
            m.get("dnsledger_version").and_then(|v| v.as_str()).unwrap_or("?"),
            m.get("files").and_then(|v| v.as_u64()).unwrap_or(0),
            human_bytes(m.get("bytes").and_then(|v| v.as_u64()).unwrap_or(0)),
        ),
        None => eprintln!(
            "restore: {} has no {BACKUP_MANIFEST}; treating it as a store copy and checking it",
            a.backup.display()
        ),
    }
    if std::fs::canonicalize(&a.backup).ok() == std::fs::canonicalize(&dir).ok() {
        bail!("the backup and the target are the same directory");
    }

    // 1. the backup must pass the check
    {
        let b = open_read_only(&a.backup)?;
        let (report, secs) = check_rocks(&b, a.max_problems, a.quiet)?;
        if !report.is_clean() {
            eprint!("{}", check_text(&Target::RocksDb(a.backup.clone()), &report, secs));
            bail!("the backup {} failed its check: nothing was restored", a.backup.display());
        }
        eprintln!(
            "restore: backup checked in {secs:.1} s: {} records, {} entries, clean",
            thousands(report.survey.records().records),
            thousands(report.survey.entries)
        );
    }

    // 2. the target: empty, or (with --force) not in use and moved aside
    let mut aside = None;
    if has_files(&dir)? {
        if !a.force {
            bail!(
                "{} is not empty: stop the server and give --force to move it aside (to {}) and restore",
                dir.display(),
                sibling(&dir, ".before-restore-<UTC time>").display()
            );
        }
        if dir.join("CURRENT").exists() {
            let in_use = || format!("{} is in use, probably by `dnsledger serve`: stop it first", dir.display());
            // opening it for writing takes its lock, which a running server holds; a store
            // that cannot be opened (the reason to restore) is moved aside all the same
            if let Err(e) = open_unused(&dir, in_use)? {
                eprintln!("restore: the current store does not open ({e}); moving it aside");
            }
        }
        let to = sibling(&dir, &format!(".before-restore-{}", stamp()));
        if to.symlink_metadata().is_ok() {
            bail!("{} exists already; try again in a second", to.display());
        }
        std::fs::rename(&dir, &to).with_context(|| format!("moving {} to {}", dir.display(), to.display()))?;
        aside = Some(to);
    } else if dir.exists() {
        std::fs::remove_dir(&dir).with_context(|| format!("removing the empty directory {}", dir.display()))?;
    }

    // 3. copy next to the target, then rename into place
    let parent = parent_of(&dir);
    std::fs::create_dir_all(&parent).with_context(|| format!("creating {}", parent.display()))?;
    let staging = sibling(&dir, &format!(".restoring-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let started = Instant::now();
    let copied = copy_store(&a.backup, &staging, a.quiet).and_then(|n| {
        std::fs::rename(&staging, &dir)
            .with_context(|| format!("moving {} to {}", staging.display(), dir.display()))?;
        sync_dir(&parent).with_context(|| format!("syncing {}", parent.display()))?;
        Ok(n)
    });
    let (files, bytes) = match copied {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            if let Some(old) = &aside {
                if std::fs::rename(old, &dir).is_ok() {
                    return Err(e.context(format!("restore failed; {} is back in place", dir.display())));
                }
                return Err(e.context(format!("restore failed; the previous store is at {}", old.display())));
            }
            return Err(e.context("restore failed"));
        }
    };
    // 4. the restored store opens
    let restored = open_read_only(&dir)?;
    let entries = restored.stats().map(|s| s.entries).unwrap_or(0);
    drop(restored);
    eprintln!(
        "restore: {} restored into {}: {files} files, {} copied in {:.1} s (about {} entries)",
        a.backup.display(),
        dir.display(),
        human_bytes(bytes),
        started.elapsed().as_secs_f64(),
        thousands(entries)
    );
    if let Some(old) = aside {
        eprintln!("restore: the previous store was moved to {} (delete it when no longer needed)", old.display());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_errors_are_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let _held = RocksStore::open(dir.path(), RocksStoreOptions::default()).unwrap();
        let e = RocksStore::open(dir.path(), RocksStoreOptions::default()).err().unwrap();
        assert!(is_lock_error(&e), "{e}");
        assert!(!is_lock_error(&StoreError::Engine("corruption".into())));
        let e = open_unused(dir.path(), || "in use".into()).err().unwrap().to_string();
        assert!(e.starts_with("in use"), "{e}");
    }

    #[test]
    fn names_and_query_encoding() {
        assert_eq!(sibling(Path::new("/srv/db"), ".x"), PathBuf::from("/srv/db.x"));
        assert_eq!(parent_of(Path::new("db")), PathBuf::from("."));
        assert_eq!(encode_query("a b/ü"), "a%20b%2F%C3%BC");
        let s = stamp();
        assert_eq!(s.len(), 16, "{s}");
    }
}
