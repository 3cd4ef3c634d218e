//! Rendering records for people and programs: an aligned table, COF NDJSON, or CSV (one row
//! per rdata item, RRset aggregates repeated on each row of the set).

use std::io::{self, Write};

use dnsledger_model::time::format_human;

use crate::RecordView;

/// Output formats of `dnsledger query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned columns for reading.
    Table,
    /// One COF JSON object per line.
    Json,
    /// Comma-separated values with a header row.
    Csv,
}

impl OutputFormat {
    /// Parses `table`, `json`/`ndjson`/`cof` or `csv`.
    pub fn parse(s: &str) -> Option<OutputFormat> {
        match s.to_ascii_lowercase().as_str() {
            "table" | "text" => Some(OutputFormat::Table),
            "json" | "ndjson" | "cof" => Some(OutputFormat::Json),
            "csv" => Some(OutputFormat::Csv),
            _ => None,
        }
    }
}

/// Receives records one by one and writes them out.
pub trait RecordSink {
    /// Writes one record.
    fn record(&mut self, v: &RecordView) -> io::Result<()>;
    /// Ends the output; `limited` says whether more records matched than were shown.
    fn finish(&mut self, limited: bool) -> io::Result<()>;
}

/// A sink writing `format` to `w`.
pub fn sink<'a>(format: OutputFormat, w: Box<dyn Write + 'a>) -> Box<dyn RecordSink + 'a> {
    match format {
        OutputFormat::Table => Box::new(Table { w, rows: Vec::new(), records: 0 }),
        OutputFormat::Json => Box::new(Json { w }),
        OutputFormat::Csv => Box::new(Csv { w, header: false }),
    }
}

struct Json<'a> {
    w: Box<dyn Write + 'a>,
}

impl RecordSink for Json<'_> {
    fn record(&mut self, v: &RecordView) -> io::Result<()> {
        serde_json::to_writer(&mut self.w, v)?;
        self.w.write_all(b"\n")
    }
    fn finish(&mut self, _limited: bool) -> io::Result<()> {
        self.w.flush()
    }
}

/// CSV columns, in order.
pub const CSV_COLUMNS: [&str; 12] = [
    "rrname",
    "rrtype",
    "rdata",
    "bailiwick",
    "count",
    "time_first",
    "time_last",
    "zone_time_first",
    "zone_time_last",
    "ttl_min",
    "ttl_max",
    "sensors",
];

/// Quotes a CSV field when it holds a comma, quote, CR or LF (RFC 4180).
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

struct Csv<'a> {
    w: Box<dyn Write + 'a>,
    header: bool,
}

impl RecordSink for Csv<'_> {
    fn record(&mut self, v: &RecordView) -> io::Result<()> {
        if !self.header {
            writeln!(self.w, "{}", CSV_COLUMNS.join(","))?;
            self.header = true;
        }
        let opt = |x: Option<u64>| x.map(|t| t.to_string()).unwrap_or_default();
        let sensors = if v.sensors.is_empty() { v.sensor_id.clone().unwrap_or_default() } else { v.sensors.join(" ") };
        for rd in shown_rdata(v).iter() {
            let fields = [
                csv_field(&v.rrname),
                csv_field(&v.rrtype),
                csv_field(rd),
                csv_field(v.bailiwick.as_deref().unwrap_or("")),
                v.count.to_string(),
                opt(v.time_first),
                opt(v.time_last),
                opt(v.zone_time_first),
                opt(v.zone_time_last),
                opt(v.ttl_min.map(u64::from)),
                opt(v.ttl_max.map(u64::from)),
                csv_field(&sensors),
            ];
            writeln!(self.w, "{}", fields.join(","))?;
        }
        Ok(())
    }
    fn finish(&mut self, _limited: bool) -> io::Result<()> {
        if !self.header {
            writeln!(self.w, "{}", CSV_COLUMNS.join(","))?;
        }
        self.w.flush()
    }
}

struct Table<'a> {
    w: Box<dyn Write + 'a>,
    rows: Vec<[String; 7]>,
    records: u64,
}

const TABLE_HEADER: [&str; 7] =
    ["RRNAME", "TYPE", "RDATA", "COUNT", "FIRST SEEN (UTC)", "LAST SEEN (UTC)", "BAILIWICK"];

impl RecordSink for Table<'_> {
    fn record(&mut self, v: &RecordView) -> io::Result<()> {
        self.records += 1;
        let (first, last) = match (v.time_first.zip(v.time_last), v.zone_time_first.zip(v.zone_time_last)) {
            (Some((a, b)), _) => (format_human(a), format_human(b)),
            (None, Some((a, b))) => (format!("{} (zone)", format_human(a)), format!("{} (zone)", format_human(b))),
            (None, None) => (String::new(), String::new()),
        };
        for (i, rd) in shown_rdata(v).iter().enumerate() {
            if i == 0 {
                self.rows.push([
                    v.rrname.clone(),
                    v.rrtype.clone(),
                    rd.clone(),
                    v.count.to_string(),
                    first.clone(),
                    last.clone(),
                    v.bailiwick.clone().unwrap_or_default(),
                ]);
            } else {
                self.rows.push([
                    String::new(),
                    String::new(),
                    rd.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]);
            }
        }
        Ok(())
    }

    fn finish(&mut self, limited: bool) -> io::Result<()> {
        if self.rows.is_empty() {
            writeln!(self.w, "no records")?;
            return self.w.flush();
        }
        let mut widths = TABLE_HEADER.map(|h| h.chars().count());
        for r in &self.rows {
            for (w, c) in widths.iter_mut().zip(r.iter()) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: [&str; 7], w: &mut dyn Write| -> io::Result<()> {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i == 3 {
                    s.push_str(&format!("{:>width$}", c, width = widths[i]));
                } else if i == 6 {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{:<width$}", c, width = widths[i]));
                }
                if i < 6 {
                    s.push_str("  ");
                }
            }
            writeln!(w, "{}", s.trim_end())
        };
        line(TABLE_HEADER, &mut self.w)?;
        for r in std::mem::take(&mut self.rows) {
            line([&r[0], &r[1], &r[2], &r[3], &r[4], &r[5], &r[6]], &mut self.w)?;
        }
        writeln!(
            self.w,
            "\n{} record{}{}",
            self.records,
            if self.records == 1 { "" } else { "s" },
            if limited { " (limit reached: more records match; raise --limit)" } else { "" }
        )?;
        self.w.flush()
    }
}

/// The rdata column values of a record: its rdata, or `(NXDOMAIN)`/`(NODATA)` for a negative answer.
fn shown_rdata(v: &RecordView) -> std::borrow::Cow<'_, [String]> {
    match &v.negative {
        Some(n) if v.rdata.is_empty() => std::borrow::Cow::Owned(vec![format!("({n})")]),
        _ => std::borrow::Cow::Borrowed(&v.rdata),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> RecordView {
        RecordView {
            count: 3,
            time_first: Some(1704067200),
            time_last: Some(1704070800),
            zone_time_first: None,
            zone_time_last: None,
            rrname: "www.example.com.".into(),
            rrtype: "TXT".into(),
            bailiwick: Some("example.com.".into()),
            rdata: vec!["\"a, \\\"b\\\"\"".into(), "\"c\"".into()],
            ttl_min: Some(60),
            ttl_max: Some(300),
            sensor_id: Some("s1".into()),
            sensors: vec![],
            active_days: vec![["2024-01-01".into(), "2024-01-01".into()]],
            negative: None,
        }
    }

    fn render(f: OutputFormat, limited: bool) -> String {
        let mut buf = Vec::new();
        {
            let mut s = sink(f, Box::new(&mut buf));
            s.record(&view()).unwrap();
            s.finish(limited).unwrap();
        }
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn json_is_cof() {
        let out = render(OutputFormat::Json, false);
        let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(v["rrname"], "www.example.com.");
        assert_eq!(v["time_first"], 1704067200);
        assert_eq!(v["rdata"][1], "\"c\"");
        assert_eq!(v["sensor_id"], "s1");
        assert!(v.get("zone_time_first").is_none());
        let back: RecordView = serde_json::from_str(out.trim()).unwrap();
        assert_eq!(back, view());
    }

    #[test]
    fn csv_rows_per_rdata_and_quoting() {
        let out = render(OutputFormat::Csv, false);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], CSV_COLUMNS.join(","));
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].starts_with("www.example.com.,TXT,\"\"\"a, \\\"\"b\\\"\"\"\"\",example.com.,3,1704067200"),
            "{}",
            lines[1]
        );
        assert!(lines[2].contains(",\"\"\"c\"\"\","));
    }

    #[test]
    fn table_aligns_and_reports_limits() {
        let out = render(OutputFormat::Table, true);
        assert!(out.starts_with("RRNAME"));
        assert!(out.contains("2024-01-01 00:00:00"));
        assert!(out.contains("1 record (limit reached"));
        let empty = {
            let mut buf = Vec::new();
            sink(OutputFormat::Table, Box::new(&mut buf)).finish(false).unwrap();
            String::from_utf8(buf).unwrap()
        };
        assert_eq!(empty, "no records\n");
    }
}
