//! The process-wide Prometheus registry: a `metrics` recorder installed once, collectors that
//! copy component counters in at scrape time, and the text exposition.

use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets of every `*_seconds` metric: 100 µs to 60 s.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// A function run before each scrape to bring figures up to date.
type Collector = Box<dyn Fn() + Send + Sync>;

/// The installed registry.
pub struct Metrics {
    handle: PrometheusHandle,
    collectors: Mutex<Vec<(u64, Collector)>>,
    next_id: Mutex<u64>,
}

/// Identifies a registered collector, for [`Metrics::remove_collector`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollectorId(u64);

static GLOBAL: OnceLock<Result<Arc<Metrics>, String>> = OnceLock::new();

/// Installs the registry as the process's `metrics` recorder (once; later calls return the same
/// registry) and records `dnsledger_build_info`.
pub fn install() -> Result<Arc<Metrics>, String> {
    GLOBAL
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
                .map_err(|e| format!("metrics buckets: {e}"))?
                .build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).map_err(|e| format!("installing the metrics recorder: {e}"))?;
            crate::catalog::describe();
            metrics::gauge!(crate::catalog::BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
            Ok(Arc::new(Metrics { handle, collectors: Mutex::new(Vec::new()), next_id: Mutex::new(0) }))
        })
        .clone()
}

/// The registry, if [`install`] ran.
pub fn installed() -> Option<Arc<Metrics>> {
    GLOBAL.get().and_then(|r| r.as_ref().ok()).cloned()
}

impl Metrics {
    /// Registers `f` to run before every scrape (it typically copies a component's counters in
    /// with `counter!(…).absolute(n)` and `gauge!(…).set(x)`).
    pub fn add_collector(&self, f: impl Fn() + Send + Sync + 'static) -> CollectorId {
        let mut next = self.next_id.lock().unwrap_or_else(PoisonError::into_inner);
        *next += 1;
        let id = *next;
        self.collectors.lock().unwrap_or_else(PoisonError::into_inner).push((id, Box::new(f)));
        CollectorId(id)
    }

    /// Unregisters a collector (its figures stay at their last values).
    pub fn remove_collector(&self, id: CollectorId) {
        self.collectors.lock().unwrap_or_else(PoisonError::into_inner).retain(|(i, _)| *i != id.0);
    }

    /// Runs the collectors and renders every metric in the Prometheus text format (0.0.4).
    pub fn render(&self) -> String {
        for (_, c) in self.collectors.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            c();
        }
        self.handle.run_upkeep();
        let mut out = self.handle.render();
        crate::process::render(&mut out);
        out
    }
}

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_and_collected_figures_are_rendered_with_help() {
        let m = install().unwrap();
        assert!(Arc::ptr_eq(&m, &install().unwrap()), "one registry per process");
        metrics::counter!(crate::catalog::HTTP_REQUESTS, "route" => "test", "status" => "200").increment(3);
        metrics::histogram!(crate::catalog::STORE_WRITE_SECONDS).record(0.003);
        let id = m.add_collector(|| metrics::counter!(crate::catalog::SENSOR_FRAMES).absolute(42));
        let text = m.render();
        assert!(text.contains("dnsledger_http_requests_total{route=\"test\",status=\"200\"} 3"), "{text}");
        assert!(text.contains("# HELP dnsledger_http_requests_total HTTP requests answered"), "{text}");
        assert!(text.contains("dnsledger_store_write_seconds_bucket{le=\"0.005\"} 1"), "{text}");
        assert!(text.contains("dnsledger_store_write_seconds_bucket{le=\"0.0025\"} 0"), "{text}");
        assert!(text.contains("dnsledger_sensor_frames_total 42"), "{text}");
        assert!(text.contains("dnsledger_build_info{version=\""), "{text}");
        assert!(text.contains("process_resident_memory_bytes "), "{text}");
        m.remove_collector(id);
        // counters never go back: an absolute value below the last one is ignored
        metrics::counter!(crate::catalog::SENSOR_FRAMES).absolute(7);
        assert!(m.render().contains("dnsledger_sensor_frames_total 42"));
        metrics::counter!(crate::catalog::SENSOR_FRAMES).absolute(50);
        assert!(m.render().contains("dnsledger_sensor_frames_total 50"));
    }
}
