//! Every metric dnsledger exports: name, type, labels and meaning. Components record under
//! these names; [`describe`] registers the help texts so `/metrics` carries `# HELP` lines, and
//! the operations documentation lists the same table. Store engine figures are named by the
//! backend (`Store::gauges`) and described there.

/// A metric's Prometheus type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only goes up (resets at restart).
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution in buckets.
    Histogram,
}

/// One exported metric.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// Metric name.
    pub name: &'static str,
    /// Its type.
    pub kind: Kind,
    /// Its labels.
    pub labels: &'static [&'static str],
    /// What it counts.
    pub help: &'static str,
}

const fn def(name: &'static str, kind: Kind, labels: &'static [&'static str], help: &'static str) -> Def {
    Def { name, kind, labels, help }
}

use Kind::*;

/// HTTP requests answered, by route and status code.
pub const HTTP_REQUESTS: &str = "dnsledger_http_requests_total";
/// Time from request to the end of the response body, by route.
pub const HTTP_DURATION: &str = "dnsledger_http_request_duration_seconds";
/// Connections and requests a server limit cut short, by reason.
pub const HTTP_LIMITED: &str = "dnsledger_http_limited_total";
/// Requests refused by a key's quota or validity.
pub const QUOTA_REJECTIONS: &str = "dnsledger_quota_rejections_total";
/// Observations accepted, by source.
pub const INGEST_OBSERVATIONS: &str = "dnsledger_ingest_observations_total";
/// Input records (lines, frames) received, by source.
pub const INGEST_RECORDS: &str = "dnsledger_ingest_records_total";
/// Input records refused as malformed, by source and reason.
pub const INGEST_REJECTED: &str = "dnsledger_ingest_rejected_total";
/// Input records well-formed but carrying nothing to store, by source and reason.
pub const INGEST_SKIPPED: &str = "dnsledger_ingest_skipped_total";
/// Aggregated bytes waiting for the next store write, by source.
pub const INGEST_PENDING: &str = "dnsledger_ingest_pending_bytes";
/// Store writes that failed (and are retried) for a stream source.
pub const INGEST_WRITE_ERRORS: &str = "dnsledger_ingest_write_errors_total";
/// dnstap connections accepted, by listener.
pub const DNSTAP_CONNECTIONS: &str = "dnsledger_dnstap_connections_total";
/// Store writes, by result.
pub const STORE_WRITES: &str = "dnsledger_store_writes_total";
/// Store writes that failed because the disk is full.
pub const STORE_NO_SPACE: &str = "dnsledger_store_no_space_total";
/// Time one store write takes (until durable).
pub const STORE_WRITE_SECONDS: &str = "dnsledger_store_write_seconds";
/// Records merged into the store.
pub const STORE_RECORDS: &str = "dnsledger_store_records_written_total";
/// Observations those records stood for.
pub const STORE_OBSERVATIONS: &str = "dnsledger_store_observations_written_total";
/// Whether the store answered its last health check.
pub const STORE_UP: &str = "dnsledger_store_up";
/// Frames the capture handle delivered, by interface.
pub const CAPTURE_RECEIVED: &str = "dnsledger_capture_received_total";
/// Frames lost before the sensor saw them, by interface and by whom (kernel, interface).
pub const CAPTURE_DROPPED: &str = "dnsledger_capture_dropped_total";
/// Frames the sensor decoded.
pub const SENSOR_FRAMES: &str = "dnsledger_sensor_frames_total";
/// DNS messages found in them.
pub const SENSOR_DNS: &str = "dnsledger_sensor_dns_messages_total";
/// DNS responses among them.
pub const SENSOR_RESPONSES: &str = "dnsledger_sensor_responses_total";
/// Responses whose query was not seen.
pub const SENSOR_UNMATCHED: &str = "dnsledger_sensor_unmatched_responses_total";
/// RRsets kept as observations.
pub const SENSOR_RRSETS: &str = "dnsledger_sensor_rrsets_total";
/// Malformed DNS messages, by reason.
pub const SENSOR_MALFORMED: &str = "dnsledger_sensor_malformed_total";
/// Frames the decoder dropped (not DNS, truncated, fragments given up, TCP gaps…), by reason.
pub const SENSOR_DECODE_DROPS: &str = "dnsledger_sensor_decode_dropped_total";
/// Responses with nothing to keep, by reason.
pub const SENSOR_SKIPPED: &str = "dnsledger_sensor_skipped_responses_total";
/// Batches handed to the output, by outcome (stored, sent, spooled, refused).
pub const SENSOR_BATCHES: &str = "dnsledger_sensor_batches_total";
/// Batches waiting in the spool for the collector.
pub const SENSOR_SPOOL: &str = "dnsledger_sensor_spool_batches";
/// Configuration reloads (SIGHUP), by result.
pub const RELOADS: &str = "dnsledger_reloads_total";
/// Reloads of the server's TLS certificate (SIGHUP), by result.
pub const TLS_RELOADS: &str = "dnsledger_tls_reloads_total";
/// notAfter of the server's TLS certificate (Unix seconds).
pub const TLS_CERT_NOT_AFTER: &str = "dnsledger_tls_cert_not_after_seconds";
/// Seconds until the server's TLS certificate expires (negative once expired).
pub const TLS_CERT_EXPIRES_IN: &str = "dnsledger_tls_cert_expires_in_seconds";
/// Connections to the HTTPS port that never became TLS sessions, by reason.
pub const TLS_HANDSHAKE_FAILURES: &str = "dnsledger_tls_handshake_failures_total";
/// Requests to upstream platforms (federated lookups, pulls), by upstream and result.
pub const UPSTREAM_REQUESTS: &str = "dnsledger_upstream_requests_total";
/// Upstream requests of federated lookups cut short because the lookup's client went away.
pub const UPSTREAM_CANCELLED: &str = "dnsledger_upstream_cancelled_total";
/// Sightings pulled from upstreams into the store, by upstream.
pub const UPSTREAM_PULLED: &str = "dnsledger_upstream_pulled_sightings_total";
/// Watchlist alerts raised, by watchlist and kind.
pub const WATCH_ALERTS: &str = "dnsledger_watch_alerts_total";
/// Alerts handed to, delivered by and dropped by each alert sink.
pub const WATCH_SINK_ALERTS: &str = "dnsledger_watch_sink_alerts_total";
/// Failed delivery attempts of each alert sink.
pub const WATCH_SINK_ERRORS: &str = "dnsledger_watch_sink_errors_total";
/// Written records that matched a watchlist entry (and were checked against the store).
pub const WATCH_MATCHED: &str = "dnsledger_watch_matched_records_total";
/// Time spent checking one written batch against the watchlists.
pub const WATCH_CHECK_SECONDS: &str = "dnsledger_watch_check_seconds";
/// Batches whose check against the store failed (written without alerts).
pub const WATCH_CHECK_ERRORS: &str = "dnsledger_watch_check_errors_total";
/// Watchlist files that failed to load.
pub const WATCH_LOAD_ERRORS: &str = "dnsledger_watch_load_errors_total";
/// Watchlists in force.
pub const WATCH_LISTS: &str = "dnsledger_watch_lists";
/// Watchlist entries in force.
pub const WATCH_ENTRIES: &str = "dnsledger_watch_entries";
/// Always 1, labelled with the version.
pub const BUILD_INFO: &str = "dnsledger_build_info";

/// The catalogue.
pub const ALL: &[Def] = &[
    def(HTTP_REQUESTS, Counter, &["route", "status"], "HTTP requests answered, by route and status code."),
    def(HTTP_DURATION, Histogram, &["route"], "Time from request to the end of the response body, by route."),
    def(
        HTTP_LIMITED,
        Counter,
        &["reason"],
        "Connections and requests a server limit cut short, by reason (header_timeout, body_timeout, body_too_large, connection_cap, connection_cap_per_address, body_queued, body_queue_timeout, query_timeout).",
    ),
    def(
        QUOTA_REJECTIONS,
        Counter,
        &["reason"],
        "Queries refused by a key's quota or validity (quota, burst, expired, disabled, offset).",
    ),
    def(
        INGEST_RECORDS,
        Counter,
        &["source"],
        "Input records (lines, frames, request bodies' lines) received, by source.",
    ),
    def(INGEST_OBSERVATIONS, Counter, &["source"], "Observations accepted, by source."),
    def(INGEST_REJECTED, Counter, &["source", "reason"], "Input records refused as malformed, by source and reason."),
    def(
        INGEST_SKIPPED,
        Counter,
        &["source", "reason"],
        "Input records that were well-formed but had nothing to store, by source and reason.",
    ),
    def(
        INGEST_PENDING,
        Gauge,
        &["source"],
        "Aggregated bytes a stream source holds for its next store write (queue depth).",
    ),
    def(INGEST_WRITE_ERRORS, Counter, &["source"], "Store writes of a stream source that failed and are retried."),
    def(DNSTAP_CONNECTIONS, Counter, &["listener"], "dnstap connections accepted, by listener."),
    def(STORE_WRITES, Counter, &["result"], "Store writes, by result (ok, error)."),
    def(
        STORE_NO_SPACE,
        Counter,
        &[],
        "Store writes that failed because the disk holding the store is full (ENOSPC); also counted as errors.",
    ),
    def(STORE_WRITE_SECONDS, Histogram, &[], "Time one store write takes, until it is durable."),
    def(STORE_RECORDS, Counter, &[], "Records merged into the store."),
    def(STORE_OBSERVATIONS, Counter, &[], "Observations the merged records stood for."),
    def(STORE_UP, Gauge, &[], "1 if the store answered its last health check, else 0."),
    def(CAPTURE_RECEIVED, Counter, &["interface"], "Frames the capture handles delivered, by interface."),
    def(
        CAPTURE_DROPPED,
        Counter,
        &["interface", "by"],
        "Frames lost before the sensor saw them, by interface and by whom (kernel, interface).",
    ),
    def(SENSOR_FRAMES, Counter, &[], "Frames the sensor decoded."),
    def(SENSOR_DNS, Counter, &[], "DNS messages found in the frames."),
    def(SENSOR_RESPONSES, Counter, &[], "DNS responses among them."),
    def(SENSOR_UNMATCHED, Counter, &[], "Responses whose query the sensor did not see."),
    def(SENSOR_RRSETS, Counter, &[], "RRsets kept as observations."),
    def(SENSOR_MALFORMED, Counter, &["reason"], "Malformed DNS messages, by reason."),
    def(
        SENSOR_DECODE_DROPS,
        Counter,
        &["reason"],
        "Frames the decoder dropped, by reason (not DNS, truncated, fragments, TCP gaps, ...).",
    ),
    def(SENSOR_SKIPPED, Counter, &["reason"], "Responses with nothing to keep, by reason."),
    def(
        SENSOR_BATCHES,
        Counter,
        &["outcome"],
        "Batches the sensor output handled, by outcome (stored, written, sent, spooled, refused).",
    ),
    def(SENSOR_SPOOL, Gauge, &[], "Batches waiting in the sensor's spool for the collector."),
    def(
        RELOADS,
        Counter,
        &["result"],
        "Reloads on SIGHUP (API keys, watchlists), by result (ok, error: any part failed).",
    ),
    def(TLS_RELOADS, Counter, &["result"], "Reloads of the server's TLS certificate on SIGHUP, by result (ok, error)."),
    def(TLS_CERT_NOT_AFTER, Gauge, &[], "notAfter of the TLS certificate served now, in Unix seconds (set on start and on SIGHUP)."),
    def(
        TLS_CERT_EXPIRES_IN,
        Gauge,
        &[],
        "Seconds until the TLS certificate served now expires, negative once expired (updated hourly and on SIGHUP).",
    ),
    def(
        TLS_HANDSHAKE_FAILURES,
        Counter,
        &["reason"],
        "Connections to the HTTPS port that did not become TLS sessions, by reason (plain_http, timeout, tls).",
    ),
    def(
        UPSTREAM_REQUESTS,
        Counter,
        &["upstream", "result"],
        "Lookups sent to upstream platforms, by upstream and result (ok, limited, timeout, quota, status, connection, garbage, truncated, failed, unsupported, config, cancelled).",
    ),
    def(
        UPSTREAM_CANCELLED,
        Counter,
        &["upstream"],
        "Upstream requests of federated lookups cancelled because the client went away (connection closed, paging stopped), by upstream.",
    ),
    def(
        UPSTREAM_PULLED,
        Counter,
        &["upstream"],
        "Sightings added to the store by pulls from upstream platforms (0 for answers pulled before), by upstream.",
    ),
    def(WATCH_ALERTS, Counter, &["watchlist", "kind"], "Watchlist alerts raised, by watchlist and kind."),
    def(
        WATCH_SINK_ALERTS,
        Counter,
        &["sink", "outcome"],
        "Alerts per alert sink, by outcome (raised: handed to the sink; delivered; dropped: queue full or given up).",
    ),
    def(WATCH_SINK_ERRORS, Counter, &["sink"], "Failed delivery attempts of each alert sink (retried or not)."),
    def(
        WATCH_MATCHED,
        Counter,
        &[],
        "Written records that matched a watchlist entry and were checked against the store.",
    ),
    def(WATCH_CHECK_SECONDS, Histogram, &[], "Time spent checking one written batch against the watchlists."),
    def(WATCH_CHECK_ERRORS, Counter, &[], "Batches whose check against the store failed (written without alerts)."),
    def(WATCH_LOAD_ERRORS, Counter, &[], "Watchlist files that failed to load (the version loaded before stays)."),
    def(WATCH_LISTS, Gauge, &[], "Watchlists in force."),
    def(WATCH_ENTRIES, Gauge, &[], "Watchlist entries in force."),
    def(BUILD_INFO, Gauge, &["version"], "Always 1; the label is the dnsledger version."),
];

/// Registers the help text of every catalogued metric with the installed recorder.
pub fn describe() {
    for d in ALL {
        match d.kind {
            Counter => metrics::describe_counter!(d.name, d.help),
            Gauge => metrics::describe_gauge!(d.name, d.help),
            Histogram => metrics::describe_histogram!(d.name, metrics::Unit::Seconds, d.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        let mut seen = std::collections::HashSet::new();
        for d in ALL {
            assert!(seen.insert(d.name), "{} listed twice", d.name);
            assert!(d.name.starts_with("dnsledger_"), "{}", d.name);
            assert!(d.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", d.name);
            assert_eq!(
                d.kind == Counter,
                d.name.ends_with("_total"),
                "{}: counters and only counters end in _total",
                d.name
            );
            if d.kind == Histogram {
                assert!(d.name.ends_with("_seconds"), "{}", d.name);
            }
            assert!(d.help.ends_with('.'), "{}", d.name);
        }
    }
}
