//! dnsledger's watchlists: names and addresses checked against every record as it is
//! ingested, raising alerts when they show up.
//!
//! - [`list`]: a watchlist as written (JSON): entries (names, `*.zone`, addresses, prefixes,
//!   ranges, each with a label), the alert kinds it wants, the sinks it sends to.
//! - [`dir`]: lists on disk, one file per list, written atomically.
//! - [`matcher`]: every list compiled into one structure a batch of 100k records is checked
//!   against in milliseconds, straight from the record keys.
//! - [`store`]: [`WatchingStore`], the [`dnsledger_store::Store`] decorator `serve` and
//!   `import --watch` put around their store; it decides `first_match`, `new_resolution` and
//!   `ip_new_name` alerts against the store before each write and raises them after it.
//! - [`watcher`]: [`Watcher`], the lists in force (reloaded on SIGHUP, edited through the API),
//!   the sinks, the ring of recent alerts and the per-run de-duplication.
//! - [`sink`]: NDJSON file, webhook and syslog delivery, each on its own thread behind a
//!   bounded queue (never blocking ingest; drops counted).
//! - [`alert`]: the alert document, the ring, reading the alerts journal back.
//!
//! This is its own crate rather than a module of `dnsledger-analytics` because it owns I/O
//! (files, HTTP, sockets, threads) where the analytics crate only reads a store.

pub mod alert;
pub mod dir;
pub mod list;
pub mod matcher;
pub mod sink;
pub mod store;
pub mod watcher;

pub use alert::{Alert, AlertFilter, AlertPage, AlertRecord};
pub use dir::WatchDir;
pub use list::{AlertKind, Entry, Watchlist};
pub use matcher::Matcher;
pub use sink::SinkConfig;
pub use store::WatchingStore;
pub use watcher::{LoadReport, WatchSettings, Watcher};

/// Why a watchlist operation failed; the message says what and where.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A list, entry or sink setting is not valid.
    #[error("{0}")]
    Invalid(String),
    /// A file or socket operation failed.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: String,
        /// The system's error.
        error: std::io::Error,
    },
}
