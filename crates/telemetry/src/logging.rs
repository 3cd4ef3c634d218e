//! Log output: `tracing` events to standard error (journald keeps them under systemd) as
//! human-readable text or as one JSON object per line, filtered by an `EnvFilter` expression
//! (`info`, `warn,dnsledger_server=debug`, …).

use std::str::FromStr;

/// How log lines look.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// `2026-11-27T08:00:00.000000Z  INFO message key=value`.
    #[default]
    Text,
    /// `{"timestamp":…,"level":"INFO","target":"dnsledger_server",…,"message":…}` per line.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!("unknown log format {other:?} (text, json)")),
        }
    }
}

/// Installs the global subscriber: events matching `filter` go to standard error in `format`.
/// Fails on a filter that does not parse (saying why) or when a subscriber is already set.
pub fn init(filter: &str, format: LogFormat) -> Result<(), String> {
    let env = tracing_subscriber::EnvFilter::try_new(filter).map_err(|e| format!("log filter {filter:?}: {e}"))?;
    // colours only for a person at a terminal, never into journald or files
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(env).with_writer(std::io::stderr).with_ansi(ansi);
    let r = match format {
        LogFormat::Text => builder.with_target(false).try_init(),
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).try_init(),
    };
    r.map_err(|e| format!("installing the log subscriber: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_bad_ones_are_named() {
        assert_eq!("JSON".parse::<LogFormat>(), Ok(LogFormat::Json));
        assert_eq!("text".parse::<LogFormat>(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().unwrap_err().contains("xml"));
    }

    #[test]
    fn a_bad_filter_is_an_error_with_the_filter() {
        let e = init("dnsledger=loud", LogFormat::Text).unwrap_err();
        assert!(e.contains("dnsledger=loud"), "{e}");
    }
}
