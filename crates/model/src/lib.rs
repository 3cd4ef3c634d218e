//! dnsledger's record model: what an observation is, how observations aggregate into records,
//! and the canonical forms of everything stored (names, rrtypes, rdata, keys, times).
//!
//! Data flows one way through dnsledger: sources produce [`Observation`]s, which are
//! aggregated into [`Aggregate`] values keyed by a [`RecordKey`], written to a store, and
//! read back as [`Record`]s by queries. This crate owns those types and their encodings; it
//! does no I/O.

pub mod aggregate;
pub mod key;
pub mod name;
pub mod observation;
pub mod rdata;
pub mod rrtype;
pub mod time;

pub use aggregate::{Aggregate, DayHistory, SensorSet};
pub use key::RecordKey;
pub use name::{Name, NameError};
pub use observation::{Negative, Observation, Record};
pub use rdata::{Rdata, RdataError};
pub use rrtype::{RrType, TypeFilter, TypeSet};
pub use time::TimeFence;
