//! Time: epoch seconds, the time formats users and logs write, and DNSDB-style time fences.

use crate::aggregate::Aggregate;

/// Seconds since the Unix epoch, UTC.
pub type Timestamp = u64;

/// Seconds in a day; per-day activity uses `t / DAY`.
pub const DAY: u64 = 86_400;

/// Why a time could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad time {0:?}: expected epoch seconds, -SECONDS, RFC 3339, YYYY-MM-DD[ HH:MM:SS] or a duration like 1w2d3h")]
pub struct TimeError(pub String);

/// The current time in epoch seconds.
pub fn now() -> Timestamp {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Parses a time as users write it: epoch seconds (fractions dropped), a negative number of
/// seconds before `now`, RFC 3339, `YYYY-MM-DD`, `YYYY-MM-DD HH:MM:SS` (UTC), or a relative
/// duration such as `1w2d3h4m5s` (meaning that long before `now`).
pub fn parse_time(s: &str, now: Timestamp) -> Result<Timestamp, TimeError> {
    let t = s.trim();
    let err = || TimeError(s.to_string());
    if t.is_empty() {
        return Err(err());
    }
    if let Some(rest) = t.strip_prefix('-') {
        if let Ok(secs) = rest.parse::<u64>() {
            return Ok(now.saturating_sub(secs));
        }
        return Err(err());
    }
    if t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<u64>().map_err(|_| err());
    }
    if let Some((int, frac)) = t.split_once('.') {
        if !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit()) && frac.bytes().all(|b| b.is_ascii_digit()) {
            return int.parse::<u64>().map_err(|_| err());
        }
    }
    if let Some(d) = parse_duration(t) {
        return Ok(now.saturating_sub(d));
    }
    parse_datetime(t).ok_or_else(err)
}

/// Parses `1w2d3h4m5s`-style durations (each unit at most once, in any order).
pub fn parse_duration(s: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut num: Option<u64> = None;
    let mut any = false;
    for c in s.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add(d as u64)?);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            'w' => 7 * DAY,
            'd' => DAY,
            'h' => 3600,
            'm' => 60,
            's' => 1,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
        any = true;
    }
    if num.is_some() || !any {
        return None;
    }
    Some(total)
}

/// Parses RFC 3339 timestamps and UTC civil dates/times; `None` if the text is neither.
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return u64::try_from(ts.as_second()).ok();
    }
    // Civil forms are taken as UTC: "2024-01-01", "2024-01-01 10:00:00", "2024-01-01T10:00:00".
    let dt: jiff::civil::DateTime = if s.len() == 10 {
        s.parse::<jiff::civil::Date>().ok()?.to_datetime(jiff::civil::Time::midnight())
    } else {
        s.replacen(' ', "T", 1).parse().ok()?
    };
    let ts = dt.to_zoned(jiff::tz::TimeZone::UTC).ok()?.timestamp();
    u64::try_from(ts.as_second()).ok()
}

/// Formats epoch seconds as RFC 3339 UTC (`2024-01-01T00:00:00Z`).
pub fn format_rfc3339(t: Timestamp) -> String {
    match i64::try_from(t).ok().and_then(|t| jiff::Timestamp::from_second(t).ok()) {
        Some(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        None => t.to_string(),
    }
}

/// Formats epoch seconds as `YYYY-MM-DD HH:MM:SS` UTC, for tables.
pub fn format_human(t: Timestamp) -> String {
    match i64::try_from(t).ok().and_then(|t| jiff::Timestamp::from_second(t).ok()) {
        Some(ts) => ts.strftime("%Y-%m-%d %H:%M:%S").to_string(),
        None => t.to_string(),
    }
}

/// The four DNSDB time fences; bounds are inclusive.
///
/// A record's times are its sensor times when it has them, else its zone-file times (the
/// preference dnsdbq applies client-side). A record without any time never passes a fence.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeFence {
    /// Keep records first seen at or after this time.
    pub first_after: Option<Timestamp>,
    /// Keep records first seen at or before this time.
    pub first_before: Option<Timestamp>,
    /// Keep records last seen at or after this time.
    pub last_after: Option<Timestamp>,
    /// Keep records last seen at or before this time.
    pub last_before: Option<Timestamp>,
}

impl TimeFence {
    /// True if no bound is set.
    pub fn is_open(&self) -> bool {
        *self == TimeFence::default()
    }

    /// True if a record with these aggregated times passes every set bound.
    pub fn matches(&self, agg: &Aggregate) -> bool {
        if self.is_open() {
            return true;
        }
        let Some((first, last)) = agg.effective_times() else {
            return false;
        };
        self.first_after.is_none_or(|t| first >= t)
            && self.first_before.is_none_or(|t| first <= t)
            && self.last_after.is_none_or(|t| last >= t)
            && self.last_before.is_none_or(|t| last <= t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_time_forms() {
        let now = 1_800_000_000;
        assert_eq!(parse_time("1704067200", now).unwrap(), 1704067200);
        assert_eq!(parse_time("1704067200.75", now).unwrap(), 1704067200);
        assert_eq!(parse_time("-86400", now).unwrap(), now - 86400);
        assert_eq!(parse_time("2024-01-01", now).unwrap(), 1704067200);
        assert_eq!(parse_time("2024-01-01 01:00:00", now).unwrap(), 1704070800);
        assert_eq!(parse_time("2024-01-01T01:00:00Z", now).unwrap(), 1704070800);
        assert_eq!(parse_time("2024-01-01T02:00:00+01:00", now).unwrap(), 1704070800);
        assert_eq!(parse_time("1d", now).unwrap(), now - DAY);
        assert_eq!(parse_time("1w2d3h4m5s", now).unwrap(), now - (9 * DAY + 3 * 3600 + 4 * 60 + 5));
        for bad in ["", "yesterday", "2024-13-01", "1x", "-", "-1d", "12:00"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert_eq!(format_rfc3339(1704067200), "2024-01-01T00:00:00Z");
        assert_eq!(format_human(1704070800), "2024-01-01 01:00:00");
    }

    #[test]
    fn fences_are_inclusive_and_prefer_sensor_times() {
        let mut a = Aggregate::default();
        a.observe_sensor(100, 200, 1);
        let f = |fa, fb, la, lb| TimeFence { first_after: fa, first_before: fb, last_after: la, last_before: lb };
        assert!(f(Some(100), None, None, None).matches(&a));
        assert!(!f(Some(101), None, None, None).matches(&a));
        assert!(f(None, Some(100), None, None).matches(&a));
        assert!(!f(None, Some(99), None, None).matches(&a));
        assert!(f(None, None, Some(200), None).matches(&a));
        assert!(!f(None, None, Some(201), None).matches(&a));
        assert!(f(None, None, None, Some(200)).matches(&a));
        assert!(!f(None, None, None, Some(199)).matches(&a));
        // zone times are used only when there are no sensor times
        let mut z = Aggregate::default();
        z.observe_zone(500, 600, 1);
        assert!(f(Some(500), None, None, Some(600)).matches(&z));
        a.observe_zone(500, 600, 1);
        assert!(!f(Some(500), None, None, None).matches(&a));
        assert!(!f(Some(1), None, None, None).matches(&Aggregate::default()));
        assert!(TimeFence::default().matches(&Aggregate::default()));
    }
}
