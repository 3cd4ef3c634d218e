//! dnsledger's telemetry: what its processes tell operators about themselves.
//!
//! - [`logging`]: `tracing` output as text or JSON lines, with levels per module.
//! - [`registry`]: the process-wide Prometheus registry. Library crates record through the
//!   `metrics` facade (`metrics::counter!(…)`, cheap and a no-op when nothing is installed); the
//!   binary installs [`registry::Metrics`] once, which renders the Prometheus text exposition for
//!   `/metrics`. Figures that live in a component's own counters (sensor workers, stream
//!   collectors, the store engine) are copied in by collectors registered with
//!   [`registry::Metrics::add_collector`], run at each scrape, so hot paths never touch a shared
//!   atomic per packet.
//! - [`catalog`]: every dnsledger metric's name, type and help text, in one place (the docs
//!   table is checked against it).
//! - [`process`]: the standard `process_*` figures (CPU, memory, file descriptors, threads).
//! - [`store`]: a [`dnsledger_store::Store`] wrapper that times writes.
//!
//! `metrics` and `metrics-exporter-prometheus` are the mainstream Rust pair (the exporter's HTTP
//! listener and push gateway are left out: our servers mount `/metrics` themselves). Process
//! figures are read from `/proc` by hand: they are a few lines, and the crates that do it pull
//! in far more than they save.

pub mod catalog;
pub mod logging;
pub mod process;
pub mod registry;
pub mod store;

pub use registry::Metrics;
