//! The standard `process_*` figures of the running process, read from `/proc/self` (Linux):
//! CPU seconds, resident and virtual memory, threads, open and maximum file descriptors, start
//! time. Rendered straight into the exposition text (CPU seconds are fractional, which the
//! `metrics` facade's integer counters cannot carry).

use std::fmt::Write;

/// Figures of one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcessStats {
    /// User plus system CPU time, in seconds.
    pub cpu_seconds: f64,
    /// Resident set size, in bytes.
    pub resident_bytes: u64,
    /// Peak resident set size, in bytes.
    pub resident_peak_bytes: u64,
    /// Virtual memory size, in bytes.
    pub virtual_bytes: u64,
    /// Threads.
    pub threads: u64,
    /// Open file descriptors.
    pub open_fds: u64,
    /// The soft limit on file descriptors.
    pub max_fds: u64,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: f64,
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn page_size() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p > 0 {
        p as u64
    } else {
        4096
    }
}

/// Reads the figures; `None` where `/proc` is not there or not as expected.
pub fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // the command name may hold spaces and parentheses: fields start after the last ')'
    let rest = stat.get(stat.rfind(')')? + 2..)?;
    let f: Vec<&str> = rest.split_ascii_whitespace().collect();
    // rest[0] is field 3 (state): utime is field 14, stime 15, num_threads 20, starttime 22,
    // vsize 23, rss 24
    let field = |n: usize| f.get(n - 3).and_then(|v| v.parse::<u64>().ok());
    let ticks = clock_ticks();
    let mut s = ProcessStats {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        threads: field(20)?,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_size(),
        ..ProcessStats::default()
    };
    if let Ok(st) = std::fs::read_to_string("/proc/stat") {
        if let Some(btime) =
            st.lines().find_map(|l| l.strip_prefix("btime ")).and_then(|v| v.trim().parse::<f64>().ok())
        {
            s.start_time_seconds = btime + field(22)? as f64 / ticks;
        }
    }
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let kib = |key: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(key))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        };
        s.resident_peak_bytes = kib("VmHWM:").unwrap_or(0) * 1024;
    }
    s.open_fds = std::fs::read_dir("/proc/self/fd").map(|d| d.count() as u64).unwrap_or(0);
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes into the struct we own.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) } == 0 {
        s.max_fds = lim.rlim_cur;
    }
    Some(s)
}

/// Appends the figures in Prometheus text format.
pub fn render(out: &mut String) {
    let Some(s) = read() else { return };
    let mut put = |name: &str, kind: &str, help: &str, v: f64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    };
    put("process_cpu_seconds_total", "counter", "User and system CPU time spent, in seconds.", s.cpu_seconds);
    put("process_resident_memory_bytes", "gauge", "Resident memory size, in bytes.", s.resident_bytes as f64);
    put(
        "process_resident_memory_max_bytes",
        "gauge",
        "Peak resident memory size, in bytes.",
        s.resident_peak_bytes as f64,
    );
    put("process_virtual_memory_bytes", "gauge", "Virtual memory size, in bytes.", s.virtual_bytes as f64);
    put("process_threads", "gauge", "Threads of the process.", s.threads as f64);
    put("process_open_fds", "gauge", "Open file descriptors.", s.open_fds as f64);
    put("process_max_fds", "gauge", "Limit on open file descriptors.", s.max_fds as f64);
    put(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process, seconds since the Unix epoch.",
        s.start_time_seconds,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_of_this_process_are_plausible() {
        let s = read().expect("/proc is mounted on Linux");
        assert!(s.resident_bytes > 1 << 20, "{s:?}");
        assert!(s.resident_peak_bytes >= s.resident_bytes, "{s:?}");
        assert!(s.threads >= 1 && s.open_fds >= 3 && s.max_fds >= s.open_fds, "{s:?}");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64();
        assert!(s.start_time_seconds > now - 3600.0 && s.start_time_seconds <= now + 1.0, "{s:?}");
        let mut text = String::new();
        render(&mut text);
        assert!(text.contains("# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total "), "{text}");
    }
}
