//! `dnsledger-keys`: API keys and their quotas. This crate owns the key file (which keys exist,
//! their salted hashes and limits), authentication of presented secrets, per-key quota
//! accounting (daily and burst), the DNSDB `rate_limit` document, and the persistence of usage
//! counters. It knows nothing about HTTP: the server maps [`Denied`] to a response.
//!
//! # Key file
//!
//! A TOML file chosen by the caller, rewritten atomically (temporary file, fsync, rename,
//! directory fsync) with mode 0600 by [`KeyStore::add`], [`KeyStore::remove`] and
//! [`KeyStore::rotate`]; hand edits are fine and are picked up by [`KeyStore::reload`]:
//!
//! ```toml
//! version = 1
//!
//! [[key]]
//! name = "alice"                # unique, 1-64 of A-Z a-z 0-9 . _ -
//! id = "q7kf2mxa"               # non-secret, part of the token; finds the entry
//! hash = "sha256:<32 hex salt>:<64 hex SHA-256(salt || token)>"
//! created = 1764115200          # epoch seconds
//! expires = 1795651200          # optional; afterwards 401 "Error: Quota is expired"
//! daily_limit = 1000            # optional: queries per UTC day; absent = unlimited
//! results_max = 10000           # optional: absent = the server's maximum
//! offset_max = 3000000          # optional: absent = results_max; 0 = offsets not allowed
//! burst_size = 10               # optional, with burst_window: at most 10 queries
//! burst_window = 300            #   in any 300 seconds (sliding window)
//! flex = true                   # may use Flex search (default true)
//! disabled = false              # 403 while true (default false)
//! admin = true                  # may call the admin API, e.g. online backups (default false)
//! ```
//!
//! # Secrets
//!
//! A token is `dnsl_<id>_<secret>`: 8 base32 characters of key id (40 random bits, not secret)
//! and 32 base32 characters of secret (160 bits from the OS RNG). It is shown once, when made by
//! [`KeyStore::add`] or [`KeyStore::rotate`]; the file keeps only a salted SHA-256 of the whole
//! token. Authentication finds the entry by id, hashes the presented token once and compares
//! digests with [`constant_time_eq`]; an unknown id costs the same hash, so response time does
//! not reveal which ids exist. (A fast hash is right here: the token has 160 random bits, so
//! there is nothing for a slow password hash to protect against guessing.)
//!
//! # Quotas and usage
//!
//! [`KeyStore::charge`] counts a query against the daily quota (reset at 00:00 UTC) and the
//! sliding burst window; refused queries are not counted. Daily counters are kept in memory
//! and saved by [`KeyStore::save_usage`] to `<key file>.usage` (JSON, written atomically), which
//! [`KeyStore::load`] reads back. The server calls it periodically and at shutdown, so a crash
//! loses at most the queries counted since the last save; burst windows are not saved (they
//! are short, and forgetting one only lets a key burst once more after a restart).
//!
//! # Dependencies
//!
//! Each is small, widely used and maintained: `sha2` (RustCrypto's SHA-256, default features
//! off), `getrandom` (the OS RNG directly, so there is no user-space generator to seed; the
//! workspace already had it through `tempfile`), `toml` + `serde` (a key file people can read
//! and edit, with error spans for line numbers), `serde_json` (the usage file), `thiserror`
//! (error types). Constant-time comparison and hex/base32 are a few lines here, not crates.

mod file;
mod secret;

use std::collections::{HashMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};

use file::{Entry, KeyRecord, SavedUsage, UsageFile};

pub use secret::{constant_time_eq, TOKEN_PREFIX};

/// Seconds in a day; daily quotas count per `epoch / DAY` (UTC days).
pub const DAY: u64 = 86_400;
/// The server-wide results cap assumed until [`KeyStore::set_server_results_max`] is called.
pub const DEFAULT_RESULTS_MAX: u64 = 1_000_000;

/// Why the key file or usage file could not be read, written or changed.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Reading or writing a file failed.
    #[error("{action} {}: {error}", path.display())]
    Io {
        /// `reading` or `writing`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// The key file is malformed; `location` is `path:line:column` where known.
    #[error("{location}: {message}")]
    Format {
        /// `path:line:column`, or the path alone.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// The usage file is malformed.
    #[error("{}: {message} (delete the file to reset the usage counters)", path.display())]
    Usage {
        /// The usage file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// No key has this name.
    #[error("{}: no key named {name:?}", path.display())]
    NoSuchKey {
        /// The key file.
        path: PathBuf,
        /// The name asked for.
        name: String,
    },
    /// A key with this name exists already.
    #[error("{}: a key named {name:?} exists already", path.display())]
    Exists {
        /// The key file.
        path: PathBuf,
        /// The name.
        name: String,
    },
    /// A key name outside `[A-Za-z0-9._-]{1,64}`.
    #[error("invalid key name {0:?}: use 1 to 64 of A-Z a-z 0-9 . _ -")]
    BadName(String),
    /// An option given to [`KeyStore::add`] is out of range.
    #[error("key {name:?}: {message}")]
    BadOption {
        /// The key name.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// The OS random number generator failed.
    #[error("the OS random number generator failed: {0}")]
    Random(String),
}

impl KeyError {
    fn read(path: &Path, error: std::io::Error) -> KeyError {
        KeyError::Io { action: "reading", path: path.to_path_buf(), error }
    }

    fn write(path: &Path, error: std::io::Error) -> KeyError {
        KeyError::Io { action: "writing", path: path.to_path_buf(), error }
    }
}

/// A refused query: the HTTP status (DNSDB API v2 §1.5) and a one-line message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {message}")]
pub struct Denied {
    /// 401 expired, 403 disabled or unknown key, 429 daily or burst quota exhausted.
    pub status: u16,
    /// The response body line, e.g. `Error: Quota exhausted`.
    pub message: String,
}

impl Denied {
    fn new(status: u16, message: &str) -> Denied {
        Denied { status, message: message.to_string() }
    }
}

/// What one query of a key may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most results per query: the key's `results_max`, at most the server's maximum.
    pub results_max: u64,
    /// Largest `offset`; `None` when offsets are not allowed (`offset_max = 0`).
    pub offset_max: Option<u64>,
    /// May use Flex search.
    pub flex: bool,
}

/// An authenticated key, as returned by [`KeyStore::authenticate`]; names the key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct KeyRef {
    name: String,
}

impl KeyRef {
    /// The key's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// Settings of a new key ([`KeyStore::add`]); `Default` is unlimited, Flex allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOptions {
    /// Queries per UTC day; `None` = unlimited.
    pub daily_limit: Option<u64>,
    /// Most results per query; `None` = the server's maximum.
    pub results_max: Option<u64>,
    /// Largest offset; `None` = up to `results_max`, `Some(0)` = offsets not allowed.
    pub offset_max: Option<u64>,
    /// `(burst_size, burst_window seconds)`: at most that many queries in any such window.
    pub burst: Option<(u64, u64)>,
    /// Expiry, epoch seconds.
    pub expires: Option<u64>,
    /// May use Flex search.
    pub flex: bool,
    /// Created disabled.
    pub disabled: bool,
    /// May call the admin API (online backups).
    pub admin: bool,
}

impl Default for KeyOptions {
    fn default() -> KeyOptions {
        KeyOptions {
            daily_limit: None,
            results_max: None,
            offset_max: None,
            burst: None,
            expires: None,
            flex: true,
            disabled: false,
            admin: false,
        }
    }
}

/// A key as listed: its settings and today's usage, never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct KeySummary {
    /// Unique name.
    pub name: String,
    /// Non-secret id (the `<id>` in `dnsl_<id>_…`).
    pub id: String,
    /// Creation time, epoch seconds.
    pub created: u64,
    /// Expiry, epoch seconds.
    pub expires: Option<u64>,
    /// Queries per UTC day; `None` = unlimited.
    pub daily_limit: Option<u64>,
    /// Most results per query as configured; `None` = the server's maximum.
    pub results_max: Option<u64>,
    /// Largest offset as configured; `None` = up to results_max, `Some(0)` = not allowed.
    pub offset_max: Option<u64>,
    /// `(burst_size, burst_window)`.
    pub burst: Option<(u64, u64)>,
    /// May use Flex search.
    pub flex: bool,
    /// Refused with 403.
    pub disabled: bool,
    /// May call the admin API.
    pub admin: bool,
    /// Queries charged today (UTC) as far as this process knows (the server's saved counts).
    pub used_today: u64,
}

/// The current time, epoch seconds.
pub fn now_epoch() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// The usage file that belongs to a key file: `<keys>.usage`.
pub fn usage_path(keys_file: &Path) -> PathBuf {
    let mut s = keys_file.as_os_str().to_owned();
    s.push(".usage");
    PathBuf::from(s)
}

/// The validated keys with their lookup tables.
#[derive(Default)]
struct Keys {
    entries: Vec<Entry>,
    by_name: HashMap<String, usize>,
    by_id: HashMap<String, usize>,
}

impl Keys {
    fn new(entries: Vec<Entry>) -> Keys {
        let by_name = entries.iter().enumerate().map(|(i, e)| (e.record.name.clone(), i)).collect();
        let by_id = entries.iter().enumerate().map(|(i, e)| (e.record.id.clone(), i)).collect();
        Keys { entries, by_name, by_id }
    }

    fn get(&self, name: &str) -> Option<&Entry> {
        self.by_name.get(name).map(|&i| &self.entries[i])
    }
}

/// One key's counters.
#[derive(Debug, Clone, Default)]
struct Usage {
    /// The key's `created` (counters of a removed and re-added name are not carried over).
    created: u64,
    /// UTC day of `used`.
    day: u64,
    /// Queries charged on `day`.
    used: u64,
    /// Times of the queries in the current burst window, oldest first.
    burst: VecDeque<u64>,
}

impl Usage {
    fn used_on(&self, day: u64) -> u64 {
        if self.day == day {
            self.used
        } else {
            0
        }
    }
}

/// Salt for the throw-away hash of tokens whose id matches no key.
const DUMMY_SALT: [u8; secret::SALT_LEN] = [0x5a; secret::SALT_LEN];

/// API keys and their usage: thread-safe (`Send + Sync`), share it with an `Arc`.
pub struct KeyStore {
    path: PathBuf,
    keys: RwLock<Keys>,
    usage: Mutex<HashMap<String, Usage>>,
    /// Counters changed since the last [`KeyStore::save_usage`].
    dirty: AtomicBool,
    server_results_max: AtomicU64,
    /// Serialises changes of the key file made through this store.
    writer: Mutex<()>,
    /// The version of the key file the keys in memory were read from.
    stamp: Mutex<Option<file::Stamp>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl KeyStore {
    /// Loads the key file at `path` (it must exist) and the usage counters saved beside it.
    pub fn load(path: impl AsRef<Path>) -> Result<KeyStore, KeyError> {
        let path = path.as_ref();
        let stamp = file::stamp(path);
        let entries = file::read(path)?.ok_or_else(|| KeyError::read(path, std::io::ErrorKind::NotFound.into()))?;
        KeyStore::with_entries(path, entries, stamp)
    }

    /// Like [`KeyStore::load`], but a missing key file is an empty store (created on the first
    /// [`KeyStore::add`]).
    pub fn load_or_empty(path: impl AsRef<Path>) -> Result<KeyStore, KeyError> {
        let path = path.as_ref();
        let stamp = file::stamp(path);
        let entries = file::read(path)?.unwrap_or_default();
        KeyStore::with_entries(path, entries, stamp)
    }

    fn with_entries(path: &Path, entries: Vec<Entry>, stamp: Option<file::Stamp>) -> Result<KeyStore, KeyError> {
        let saved = file::read_usage(&usage_path(path))?;
        let keys = Keys::new(entries);
        let mut usage = HashMap::new();
        for (name, s) in saved.keys {
            if keys.get(&name).is_some_and(|e| e.record.created == s.created) {
                usage.insert(name, Usage { created: s.created, day: s.day, used: s.used, burst: VecDeque::new() });
            }
        }
        Ok(KeyStore {
            path: path.to_path_buf(),
            keys: RwLock::new(keys),
            usage: Mutex::new(usage),
            dirty: AtomicBool::new(false),
            server_results_max: AtomicU64::new(DEFAULT_RESULTS_MAX),
            writer: Mutex::new(()),
            stamp: Mutex::new(stamp),
        })
    }

    fn read_keys(&self) -> RwLockReadGuard<'_, Keys> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the keys (read from the file version `stamp`), keeping the counters of keys that
    /// still exist (same name and `created`).
    fn install(&self, entries: Vec<Entry>, stamp: Option<file::Stamp>) {
        *lock(&self.stamp) = stamp;
        let keys = Keys::new(entries);
        let mut guard = self.keys.write().unwrap_or_else(PoisonError::into_inner);
        let mut usage = lock(&self.usage);
        usage.retain(|name, u| keys.get(name).is_some_and(|e| e.record.created == u.created));
        *guard = keys;
    }

    /// Re-reads the key file. Counters of keys that still exist are kept; on error the keys in
    /// memory stay as they were.
    pub fn reload(&self) -> Result<(), KeyError> {
        let stamp = file::stamp(&self.path);
        let entries =
            file::read(&self.path)?.ok_or_else(|| KeyError::read(&self.path, std::io::ErrorKind::NotFound.into()))?;
        self.install(entries, stamp);
        Ok(())
    }

    /// Reloads the key file if it changed (time, size or inode) since it was last read; a cheap
    /// `stat` otherwise, meant for a timer. Returns whether it reloaded.
    pub fn reload_if_changed(&self) -> Result<bool, KeyError> {
        if file::stamp(&self.path) == *lock(&self.stamp) {
            return Ok(false);
        }
        self.reload()?;
        Ok(true)
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True if there is no key.
    pub fn is_empty(&self) -> bool {
        self.read_keys().entries.is_empty()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.read_keys().entries.len()
    }

    /// Sets the server's results cap: keys without `results_max` get it, larger ones are cut to it.
    pub fn set_server_results_max(&self, n: u64) {
        self.server_results_max.store(n.max(1), Ordering::Relaxed);
    }

    /// The key a presented token belongs to, if the token is valid (disabled and expired keys
    /// authenticate; [`KeyStore::charge`] refuses them).
    pub fn authenticate(&self, presented: &str) -> Option<KeyRef> {
        let keys = self.read_keys();
        let entry = secret::token_id(presented).and_then(|id| keys.by_id.get(id)).map(|&i| &keys.entries[i]);
        match entry {
            Some(e) => e.hash.verify(presented).then(|| KeyRef { name: e.record.name.clone() }),
            None => {
                // the same hash and comparison as a real check, so timing tells nothing about ids
                let d = secret::digest(&DUMMY_SALT, presented);
                std::hint::black_box(constant_time_eq(&d, &[0u8; 32]));
                None
            }
        }
    }

    /// A reference to the key named `name`, if it exists.
    pub fn key_ref(&self, name: &str) -> Option<KeyRef> {
        self.read_keys().get(name).map(|e| KeyRef { name: e.record.name.clone() })
    }

    /// Counts one query at time `now` (epoch seconds) against the key's quotas, or says why not:
    /// 403 unknown or disabled key, 401 expired, 429 daily or burst quota exhausted. A refused
    /// query is not counted.
    pub fn charge(&self, key: &KeyRef, now: u64) -> Result<(), Denied> {
        let keys = self.read_keys();
        let Some(e) = keys.get(&key.name) else {
            return Err(Denied::new(403, "Error: API key not valid"));
        };
        let r = &e.record;
        if r.disabled {
            return Err(Denied::new(403, "Error: API key disabled"));
        }
        if r.expires.is_some_and(|t| now >= t) {
            return Err(Denied::new(401, "Error: Quota is expired"));
        }
        let mut usage = lock(&self.usage);
        let u = usage.entry(key.name.clone()).or_default();
        if u.created != r.created {
            *u = Usage { created: r.created, ..Usage::default() };
        }
        let day = now / DAY;
        // a new UTC day starts a new count (a clock that steps back keeps the later day's count)
        if day > u.day {
            u.day = day;
            u.used = 0;
        }
        if r.daily_limit.is_some_and(|limit| u.used >= limit) {
            return Err(Denied::new(429, "Error: Quota exhausted"));
        }
        if let Some((size, window)) = e.burst {
            while u.burst.front().is_some_and(|&t| t.saturating_add(window) <= now) {
                u.burst.pop_front();
            }
            if u.burst.len() as u64 >= size {
                return Err(Denied::new(429, "Error: Burst quota exhausted"));
            }
            u.burst.push_back(now);
        }
        u.used += 1;
        self.dirty.store(true, Ordering::Relaxed);
        Ok(())
    }

    fn limits_of(&self, e: &Entry) -> Limits {
        let server = self.server_results_max.load(Ordering::Relaxed);
        let results_max = e.record.results_max.unwrap_or(server).min(server);
        let offset_max = match e.record.offset_max {
            Some(0) => None,
            Some(n) => Some(n),
            None => Some(results_max),
        };
        Limits { results_max, offset_max, flex: e.record.flex }
    }

    /// What one query of the key may ask for (nothing, for a key that no longer exists).
    pub fn limits(&self, key: &KeyRef) -> Limits {
        match self.read_keys().get(&key.name) {
            Some(e) => self.limits_of(e),
            None => Limits { results_max: 0, offset_max: None, flex: false },
        }
    }

    /// True if the key may call the admin API (online backups) at time `now`: it is marked
    /// `admin`, and is neither disabled nor expired (admin calls are not charged, so
    /// [`KeyStore::charge`] does not check that for them).
    pub fn is_admin(&self, key: &KeyRef, now: u64) -> bool {
        self.read_keys()
            .get(&key.name)
            .is_some_and(|e| e.record.admin && !e.record.disabled && e.record.expires.is_none_or(|t| now < t))
    }

    /// The DNSDB `rate_limit` answer for the key at time `now`: one line of minified JSON
    /// ending in `\n`, `{"rate":{...}}` with the keys and types of DNSDB API v2.
    pub fn rate_limit_json(&self, key: &KeyRef, now: u64) -> String {
        let keys = self.read_keys();
        let Some(e) = keys.get(&key.name) else {
            return "{\"rate\":{\"reset\":\"n/a\",\"limit\":0,\"remaining\":0}}\n".to_string();
        };
        let r = &e.record;
        let day = now / DAY;
        let used = lock(&self.usage).get(&key.name).filter(|u| u.created == r.created).map_or(0, |u| u.used_on(day));
        let mut fields: Vec<(&str, String)> = Vec::with_capacity(8);
        match r.daily_limit {
            Some(limit) => {
                fields.push(("reset", ((day + 1) * DAY).to_string()));
                if let Some(t) = r.expires {
                    fields.push(("expires", t.to_string()));
                }
                fields.push(("limit", limit.to_string()));
                fields.push(("remaining", limit.saturating_sub(used).to_string()));
            }
            None => {
                fields.push(("reset", "\"n/a\"".into()));
                if let Some(t) = r.expires {
                    fields.push(("expires", t.to_string()));
                }
                fields.push(("limit", "\"unlimited\"".into()));
                fields.push(("remaining", "\"n/a\"".into()));
            }
        }
        let limits = self.limits_of(e);
        fields.push(("results_max", limits.results_max.to_string()));
        fields.push(("offset_max", limits.offset_max.map_or_else(|| "\"n/a\"".into(), |n| n.to_string())));
        if let Some((size, window)) = e.burst {
            fields.push(("burst_size", size.to_string()));
            fields.push(("burst_window", window.to_string()));
        }
        let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
        format!("{{\"rate\":{{{}}}}}\n", body.join(","))
    }

    /// Saves the daily counters to `<keys>.usage` (atomically) if they changed since the last
    /// save. Counts made after the last save are lost if the process dies.
    pub fn save_usage(&self) -> Result<(), KeyError> {
        if !self.dirty.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let snapshot = UsageFile {
            version: 1,
            saved: now_epoch(),
            keys: lock(&self.usage)
                .iter()
                .map(|(name, u)| (name.clone(), SavedUsage { created: u.created, day: u.day, used: u.used }))
                .collect(),
        };
        let path = usage_path(&self.path);
        let result = serde_json::to_vec_pretty(&snapshot)
            .map_err(|e| KeyError::Usage { path: path.clone(), message: e.to_string() })
            .and_then(|mut bytes| {
                bytes.push(b'\n');
                file::write_atomic(&path, &bytes)
            });
        if result.is_err() {
            self.dirty.store(true, Ordering::Relaxed);
        }
        result
    }

    /// Applies `change` to the records as they are on disk now (so edits made meanwhile by
    /// another process are kept), validates, writes the file atomically and installs the result.
    fn change<R>(&self, change: impl FnOnce(&mut Vec<KeyRecord>) -> Result<R, KeyError>) -> Result<R, KeyError> {
        let _writer = lock(&self.writer);
        let mut records: Vec<KeyRecord> =
            file::read(&self.path)?.unwrap_or_default().into_iter().map(|e| e.record).collect();
        let out = change(&mut records)?;
        let mut entries = Vec::with_capacity(records.len());
        for r in &records {
            let e = file::validate(r).map_err(|message| KeyError::BadOption { name: r.name.clone(), message })?;
            entries.push(e);
        }
        file::write_atomic(&self.path, file::render(&records)?.as_bytes())?;
        self.install(entries, file::stamp(&self.path));
        Ok(out)
    }

    /// Creates a key and returns its token: the only time it is ever shown.
    pub fn add(&self, name: &str, opts: &KeyOptions) -> Result<String, KeyError> {
        if !file::valid_name(name) {
            return Err(KeyError::BadName(name.to_string()));
        }
        self.change(|records| {
            if records.iter().any(|r| r.name == name) {
                return Err(KeyError::Exists { path: self.path.clone(), name: name.to_string() });
            }
            let id = unused_id(records)?;
            let token = secret::new_token(&id)?;
            let record = KeyRecord {
                name: name.to_string(),
                id,
                hash: secret::Hash::new(&token)?.to_string(),
                created: now_epoch(),
                expires: opts.expires,
                daily_limit: opts.daily_limit,
                results_max: opts.results_max,
                offset_max: opts.offset_max,
                burst_size: opts.burst.map(|b| b.0),
                burst_window: opts.burst.map(|b| b.1),
                flex: opts.flex,
                disabled: opts.disabled,
                admin: opts.admin,
            };
            file::validate(&record).map_err(|message| KeyError::BadOption { name: name.to_string(), message })?;
            records.push(record);
            Ok(token)
        })
    }

    /// Deletes the key named `name`.
    pub fn remove(&self, name: &str) -> Result<(), KeyError> {
        self.change(|records| {
            let before = records.len();
            records.retain(|r| r.name != name);
            if records.len() == before {
                return Err(KeyError::NoSuchKey { path: self.path.clone(), name: name.to_string() });
            }
            Ok(())
        })
    }

    /// Gives the key a new id and secret (the old token stops working) and returns the new
    /// token; settings and today's usage stay.
    pub fn rotate(&self, name: &str) -> Result<String, KeyError> {
        self.change(|records| {
            let id = unused_id(records)?;
            let r = records
                .iter_mut()
                .find(|r| r.name == name)
                .ok_or_else(|| KeyError::NoSuchKey { path: self.path.clone(), name: name.to_string() })?;
            let token = secret::new_token(&id)?;
            r.id = id;
            r.hash = secret::Hash::new(&token)?.to_string();
            Ok(token)
        })
    }

    /// All keys in file order: settings and today's usage, no secrets or hashes.
    pub fn list(&self) -> Vec<KeySummary> {
        let keys = self.read_keys();
        let usage = lock(&self.usage);
        let day = now_epoch() / DAY;
        keys.entries
            .iter()
            .map(|e| {
                let r = &e.record;
                KeySummary {
                    name: r.name.clone(),
                    id: r.id.clone(),
                    created: r.created,
                    expires: r.expires,
                    daily_limit: r.daily_limit,
                    results_max: r.results_max,
                    offset_max: r.offset_max,
                    burst: e.burst,
                    flex: r.flex,
                    disabled: r.disabled,
                    admin: r.admin,
                    used_today: usage.get(&r.name).filter(|u| u.created == r.created).map_or(0, |u| u.used_on(day)),
                }
            })
            .collect()
    }
}

/// A random key id that no record uses.
fn unused_id(records: &[KeyRecord]) -> Result<String, KeyError> {
    loop {
        let id = secret::new_id()?;
        if !records.iter().any(|r| r.id == id) {
            return Ok(id);
        }
    }
}

#[cfg(test)]
mod tests;
