//! The key file (TOML) and the usage file (JSON): parsing with locations, validation, and
//! atomic writes (temporary file, fsync, rename, fsync of the directory), mode 0600.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::secret::{self, Hash};
use crate::KeyError;

/// The key file format version this crate reads and writes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Largest accepted `burst_size`: each key remembers the times of its last `burst_size` queries.
pub(crate) const MAX_BURST_SIZE: u64 = 1_000_000;
/// TOML integers are signed 64-bit; larger numbers could not be written back.
const MAX_INT: u64 = i64::MAX as u64;

const HEADER: &str = "\
# dnsledger API keys, managed with `dnsledger key add|list|rotate|remove`.
# Secrets are never stored: `hash` is sha256:<salt hex>:<hex of SHA-256(salt || secret)>.
# Per key: daily_limit (queries per UTC day; absent = unlimited), results_max (absent = the
# server's maximum), offset_max (absent = up to results_max; 0 = offsets not allowed),
# burst_size + burst_window (queries per sliding window of seconds), expires (epoch seconds),
# flex (may use Flex search), disabled, admin (may call the admin API, e.g. online backups).
";

/// One `[[key]]` table as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct KeyRecord {
    pub name: String,
    pub id: String,
    pub hash: String,
    pub created: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub daily_limit: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub results_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset_max: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst_window: Option<u64>,
    #[serde(default = "yes")]
    pub flex: bool,
    #[serde(default)]
    pub disabled: bool,
    /// May call the admin API (`POST /api/v1/admin/...`); written only when true.
    #[serde(default, skip_serializing_if = "is_false")]
    pub admin: bool,
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    key: Vec<toml::Spanned<KeyRecord>>,
}

#[derive(Serialize)]
struct OutFile<'a> {
    version: u32,
    key: &'a [KeyRecord],
}

/// A validated key: its record plus what is parsed out of it.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub record: KeyRecord,
    pub hash: Hash,
    pub burst: Option<(u64, u64)>,
}

/// `path:line:column` for a byte offset into `text`.
fn location(path: &Path, text: &str, offset: usize) -> String {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map(|l| l.chars().count()).unwrap_or(0) + 1;
    format!("{}:{line}:{column}", path.display())
}

/// True if `name` is 1 to 64 of `A-Z a-z 0-9 . _ -`.
pub(crate) fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// Checks one record; the message names the field at fault.
pub(crate) fn validate(r: &KeyRecord) -> Result<Entry, String> {
    if !valid_name(&r.name) {
        return Err(format!("name {:?}: use 1 to 64 of A-Z a-z 0-9 . _ -", r.name));
    }
    if !secret::is_id(&r.id) {
        return Err(format!("id {:?}: expected 8 characters of a-z 2-7", r.id));
    }
    let hash = Hash::parse(&r.hash)?;
    let ints = [
        ("created", Some(r.created)),
        ("expires", r.expires),
        ("daily_limit", r.daily_limit),
        ("results_max", r.results_max),
        ("offset_max", r.offset_max),
        ("burst_size", r.burst_size),
        ("burst_window", r.burst_window),
    ];
    for (field, v) in ints {
        if v.is_some_and(|v| v > MAX_INT) {
            return Err(format!("{field}: at most {MAX_INT}"));
        }
    }
    if r.results_max == Some(0) {
        return Err("results_max: must be at least 1 (leave it out for the server's maximum)".into());
    }
    let burst = match (r.burst_size, r.burst_window) {
        (None, None) => None,
        (Some(size), Some(window)) => {
            if size == 0 || size > MAX_BURST_SIZE {
                return Err(format!("burst_size: must be 1 to {MAX_BURST_SIZE}"));
            }
            if window == 0 {
                return Err("burst_window: must be at least 1 second".into());
            }
            Some((size, window))
        }
        _ => return Err("burst_size and burst_window must be given together".into()),
    };
    Ok(Entry { record: r.clone(), hash, burst })
}

/// Parses and validates key file text; errors carry `path:line:column`.
pub(crate) fn parse(path: &Path, text: &str) -> Result<Vec<Entry>, KeyError> {
    let raw: RawFile = toml::from_str(text).map_err(|e| KeyError::Format {
        location: match e.span() {
            Some(span) => location(path, text, span.start),
            None => path.display().to_string(),
        },
        message: e.message().trim().to_string(),
    })?;
    if let Some(v) = raw.version.filter(|&v| v != FORMAT_VERSION) {
        return Err(KeyError::Format {
            location: path.display().to_string(),
            message: format!("version {v} is not supported (this dnsledger reads version {FORMAT_VERSION})"),
        });
    }
    let mut entries: Vec<Entry> = Vec::with_capacity(raw.key.len());
    for spanned in raw.key {
        let at = location(path, text, spanned.span().start);
        let record = spanned.into_inner();
        let entry = validate(&record).map_err(|message| KeyError::Format {
            location: at.clone(),
            message: format!("key {:?}: {message}", record.name),
        })?;
        let dup = |what: &str, value: &str| KeyError::Format {
            location: at.clone(),
            message: format!("key {:?}: {what} {value:?} is used by an earlier key", record.name),
        };
        if entries.iter().any(|e| e.record.name == record.name) {
            return Err(dup("name", &record.name));
        }
        if entries.iter().any(|e| e.record.id == record.id) {
            return Err(dup("id", &record.id));
        }
        entries.push(entry);
    }
    Ok(entries)
}

/// Reads and parses the key file; `Ok(None)` if it does not exist.
pub(crate) fn read(path: &Path) -> Result<Option<Vec<Entry>>, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => {
            let text = String::from_utf8(bytes).map_err(|e| KeyError::Format {
                location: path.display().to_string(),
                message: format!("not UTF-8 text (byte {})", e.utf8_error().valid_up_to()),
            })?;
            parse(path, &text).map(Some)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(KeyError::read(path, e)),
    }
}

/// The key file text for these records.
pub(crate) fn render(records: &[KeyRecord]) -> Result<String, KeyError> {
    let body = toml::to_string(&OutFile { version: FORMAT_VERSION, key: records })
        .map_err(|e| KeyError::Format { location: "key file".into(), message: e.to_string() })?;
    Ok(format!("{HEADER}\n{body}"))
}

/// Replaces `path` with `bytes` atomically: a temporary file in the same directory (mode 0600),
/// fsynced, renamed over `path`, then the directory fsynced. Readers see the old or the new
/// file, never a mix; on error the old file is untouched and the temporary file removed.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), KeyError> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path.file_name().ok_or_else(|| KeyError::write(path, std::io::ErrorKind::InvalidInput.into()))?;
    let mut rnd = [0u8; 6];
    secret::fill_random(&mut rnd)?;
    let tmp =
        dir.join(format!(".{}.tmp-{}-{}", file_name.to_string_lossy(), std::process::id(), secret::hex_encode(&rnd)));
    let result = (|| {
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut f = opts.open(&tmp).map_err(|e| KeyError::write(path, e))?;
        f.write_all(bytes).map_err(|e| KeyError::write(path, e))?;
        f.sync_all().map_err(|e| KeyError::write(path, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| KeyError::write(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // make the rename itself durable
    #[cfg(unix)]
    std::fs::File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| KeyError::write(&dir, e))?;
    Ok(())
}

/// What identifies one version of a file: modification time, length and inode. Every write by
/// [`write_atomic`] makes a new inode, so changes within one clock tick are seen too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
    inode: u64,
}

/// The file's current [`Stamp`]; `None` if it cannot be read.
pub(crate) fn stamp(path: &Path) -> Option<Stamp> {
    let m = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&m);
    #[cfg(not(unix))]
    let inode = 0;
    Some(Stamp { modified: m.modified().ok(), len: m.len(), inode })
}

/// Usage counters as saved in `<keys>.usage`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct UsageFile {
    pub version: u32,
    /// When the file was written (epoch seconds).
    pub saved: u64,
    /// Per key name.
    pub keys: std::collections::BTreeMap<String, SavedUsage>,
}

/// One key's saved daily counter.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SavedUsage {
    /// The key's `created`, so a removed and re-added name does not inherit the old count.
    pub created: u64,
    /// The UTC day (epoch seconds / 86400) the count belongs to.
    pub day: u64,
    /// Queries charged on that day.
    pub used: u64,
}

/// Reads the usage file; an absent file is empty.
pub(crate) fn read_usage(path: &Path) -> Result<UsageFile, KeyError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| KeyError::Usage {
            path: path.to_path_buf(),
            message: format!("line {} column {}: {e}", e.line(), e.column()),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(UsageFile::default()),
        Err(e) => Err(KeyError::read(path, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(name: &str) -> KeyRecord {
        KeyRecord {
            name: name.into(),
            id: "abcdefgh".into(),
            hash: format!("sha256:{}:{}", "00".repeat(16), "11".repeat(32)),
            created: 1_700_000_000,
            expires: None,
            daily_limit: Some(10),
            results_max: None,
            offset_max: None,
            burst_size: None,
            burst_window: None,
            flex: true,
            disabled: false,
            admin: false,
        }
    }

    #[test]
    fn names() {
        for ok in ["a", "alice", "team.ops-1_x", &"x".repeat(64)] {
            assert!(valid_name(ok), "{ok}");
        }
        for bad in ["", "a b", "ä", "a/b", &"x".repeat(65)] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn render_parse_round_trip() {
        let mut b = record("bob");
        b.id = "bcdefghi".into();
        b.daily_limit = None;
        b.expires = Some(1_800_000_000);
        b.burst_size = Some(10);
        b.burst_window = Some(300);
        b.offset_max = Some(0);
        b.flex = false;
        b.admin = true;
        let records = vec![record("alice"), b];
        let text = render(&records).unwrap();
        assert!(text.starts_with("# dnsledger API keys"));
        // `admin` appears only where it is set, so files of keys without it read as before
        assert_eq!(text.matches("admin = true").count(), 1, "{text}");
        assert!(!text.contains("admin = false"), "{text}");
        let back: Vec<KeyRecord> = parse(Path::new("k.toml"), &text).unwrap().into_iter().map(|e| e.record).collect();
        assert_eq!(back, records);
    }

    #[test]
    fn malformed_files_report_path_line_and_column() {
        let p = Path::new("/etc/keys.toml");
        let err = |text: &str| parse(p, text).unwrap_err().to_string();
        let e = err("version = 1\n\n[[key]]\nname = \"a\"\nid = = 3\n");
        assert!(e.starts_with("/etc/keys.toml:5:"), "{e}");
        let good = render(&[record("alice")]).unwrap();
        let e = err(&good.replace("daily_limit = 10", "daily_limt = 10"));
        assert!(e.starts_with("/etc/keys.toml:") && e.contains("daily_limt"), "{e}");
        let line = good.lines().position(|l| l.starts_with("daily_limit")).unwrap() + 1;
        assert!(e.starts_with(&format!("/etc/keys.toml:{line}:")), "{e}");
        let e = err(&good.replace("daily_limit = 10", "daily_limit = -1"));
        assert!(e.starts_with(&format!("/etc/keys.toml:{line}:")), "{e}");
        // semantic errors point at the key's table and name it
        let key_line = good.lines().position(|l| l.starts_with("name = ")).unwrap() + 1;
        let e = err(&good.replace("daily_limit = 10", "burst_size = 10"));
        assert!(e.contains("key \"alice\": burst_size and burst_window must be given together"), "{e}");
        let at: usize = e.split(':').nth(1).unwrap().parse().unwrap();
        assert!(at <= key_line && at >= key_line - 1, "{e} (name on line {key_line})");
        let e = err(&good.replace("sha256:", "md5:"));
        assert!(e.contains("key \"alice\": hash:"), "{e}");
        let e = err(&format!("{good}\n{}", good.replace("# ", "#").replace("version = 1", "")));
        assert!(e.contains("name \"alice\" is used by an earlier key"), "{e}");
        let e = err("version = 2\n");
        assert!(e.contains("version 2 is not supported"), "{e}");
        let e = err("[[key]]\nname = \"a\"\n");
        assert!(e.contains("missing field"), "{e}");
        // columns count characters, not bytes
        let e = err("# äöü\nid = = 3\n");
        assert!(e.starts_with("/etc/keys.toml:2:"), "{e}");
        let e = err("x = \"äöü\" = 3\n");
        assert!(e.starts_with("/etc/keys.toml:1:11:"), "{e}");
        // an empty file is an empty key set
        assert!(parse(p, "").unwrap().is_empty());
    }

    #[test]
    fn validation() {
        assert!(validate(&record("alice")).is_ok());
        let mut r = record("a b");
        assert!(validate(&r).unwrap_err().contains("name"));
        r = record("a");
        r.id = "ABCDEFGH".into();
        assert!(validate(&r).unwrap_err().contains("id"));
        r = record("a");
        r.results_max = Some(0);
        assert!(validate(&r).unwrap_err().contains("results_max"));
        r = record("a");
        r.burst_size = Some(0);
        r.burst_window = Some(10);
        assert!(validate(&r).unwrap_err().contains("burst_size"));
        r.burst_size = Some(1);
        r.burst_window = Some(0);
        assert!(validate(&r).unwrap_err().contains("burst_window"));
        r.burst_window = None;
        assert!(validate(&r).unwrap_err().contains("together"));
        r = record("a");
        r.daily_limit = Some(u64::MAX);
        assert!(validate(&r).unwrap_err().contains("daily_limit"));
    }

    #[test]
    fn atomic_write_replaces_whole_files_with_mode_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keys.toml");
        write_atomic(&path, b"first").unwrap();
        write_atomic(&path, b"second").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
        // a failing rename (the target is a non-empty directory) leaves no temporary file behind
        let blocked = dir.path().join("blocked");
        std::fs::create_dir(&blocked).unwrap();
        std::fs::write(blocked.join("x"), b"x").unwrap();
        let e = write_atomic(&blocked, b"new").unwrap_err();
        assert!(e.to_string().contains("blocked"), "{e}");
        let names: Vec<String> =
            std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
        assert_eq!(names.len(), 2, "{names:?}");
        assert_eq!(std::fs::read(&path).unwrap(), b"second");
    }
}
