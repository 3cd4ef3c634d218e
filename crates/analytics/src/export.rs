//! Exports of records — a lookup's answer, an analysis's evidence, a lookback's matches — in
//! the interchange formats analysts load into other tools:
//!
//! - [`csv`]: RFC 4180 CSV (CRLF line ends, fields quoted when they hold a comma, quote, CR or
//!   LF), a header row, one row per rdata item, times in RFC 3339 UTC;
//! - [`misp_event`]: a MISP event (`{"Event": {…}}`, as MISP's event import and PyMISP's
//!   `MISPEvent.load` read it) holding one `passive-dns` object per record, attribute relations
//!   and types as the MISP object template says (`shared/reference/dnsdb-api.md` §6), plus
//!   tags and any extra event attributes a caller adds (the clustering analysis adds a
//!   cluster's domains and addresses this way);
//! - [`stix_bundle`]: a STIX 2.1 bundle of `domain-name` SCOs with `resolves_to_refs` (A/AAAA
//!   to `ipv4-addr`/`ipv6-addr`, CNAME/DNAME to `domain-name`) and one `observed-data` per
//!   record with its first/last seen and count.
//!
//! Every id is deterministic: STIX SCO ids are UUIDv5 over the canonical JSON of their `value`
//! in the STIX namespace (STIX 2.1 §2.9), and the other ids (MISP event, objects and
//! attributes, STIX `observed-data` and bundle) are UUIDv5 over their content in dnsledger's
//! own namespace, so exporting the same records twice gives the same document and MISP
//! updates an event instead of duplicating it. CSV quoting is four lines, not worth a
//! dependency; UUIDv5 comes from the `uuid` crate.

use std::collections::HashMap;
use std::fmt::Write as _;

use dnsledger_model::time::format_rfc3339;
use dnsledger_model::Record;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::Evidence;

/// The namespace of STIX 2.1 deterministic SCO ids (STIX 2.1 §2.9).
pub const STIX_SCO_NAMESPACE: Uuid = Uuid::from_u128(0x00abedb4_aa42_466c_9c01_fed23315a9b7);
/// dnsledger's namespace for the other deterministic ids of its exports.
pub const DNSLEDGER_NAMESPACE: Uuid = Uuid::from_u128(0x6c1d3a52_0f7e_5b8a_9a51_d4e5c0a1b2c3);
/// The MISP `passive-dns` object template's uuid.
pub const MISP_PASSIVE_DNS_TEMPLATE: &str = "b77b7b1c-66ab-4a41-8da4-83810f6d2d6c";
/// The MISP `passive-dns` object template's version.
pub const MISP_PASSIVE_DNS_VERSION: &str = "5";
/// Largest `number_observed` STIX 2.1 allows.
pub const STIX_MAX_OBSERVED: u64 = 999_999_999;

/// One record as exported: the fields of a lookup record or of an analysis's evidence. It
/// deserialises from the JSON records of the native lookup API and from analysis evidence, so
/// exports can be made from a server's answers too.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRecord {
    /// Owner name (presentation format, trailing dot).
    pub rrname: String,
    /// Type mnemonic.
    pub rrtype: String,
    /// Rdata items in presentation format.
    #[serde(default)]
    pub rdata: Vec<String>,
    /// Bailiwick, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bailiwick: Option<String>,
    /// First seen by sensors, logs or feeds (epoch seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_first: Option<u64>,
    /// Last seen by sensors, logs or feeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_last: Option<u64>,
    /// First seen in a zone file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_time_first: Option<u64>,
    /// Last seen in a zone file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_time_last: Option<u64>,
    /// Observations.
    #[serde(default)]
    pub count: u64,
    /// Lowest TTL seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_min: Option<u32>,
    /// Highest TTL seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_max: Option<u32>,
    /// Sensors that saw it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sensors: Vec<String>,
    /// The first sensor (COF `sensor_id`; the native API gives `sensors` only when several).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sensor_id: Option<String>,
}

impl ExportRecord {
    /// The export form of a stored record.
    pub fn from_record(r: &Record) -> ExportRecord {
        ExportRecord {
            rrname: r.rrname.to_presentation(),
            rrtype: r.rrtype.to_string(),
            rdata: r.rdata_strings(),
            bailiwick: r.bailiwick.as_ref().map(|b| b.to_presentation()),
            time_first: r.agg.seen.map(|s| s.0),
            time_last: r.agg.seen.map(|s| s.1),
            zone_time_first: r.agg.zone.map(|s| s.0),
            zone_time_last: r.agg.zone.map(|s| s.1),
            count: r.agg.count,
            ttl_min: r.agg.ttl.map(|t| t.0),
            ttl_max: r.agg.ttl.map(|t| t.1),
            sensors: r.sensors.clone(),
            sensor_id: None,
        }
    }

    /// The export form of an analysis's evidence (its times are the record's effective
    /// times: sensor times, else zone-file times).
    pub fn from_evidence(e: &Evidence) -> ExportRecord {
        ExportRecord {
            rrname: e.rrname.clone(),
            rrtype: e.rrtype.clone(),
            rdata: e.rdata.clone(),
            bailiwick: e.bailiwick.clone(),
            time_first: e.time_first,
            time_last: e.time_last,
            count: e.count,
            ..ExportRecord::default()
        }
    }

    /// Reads a record from the JSON of a native lookup record or of evidence; `None` when
    /// `v` is not one (no `rrname`/`rrtype` strings or malformed fields).
    pub fn from_json(v: &Value) -> Option<ExportRecord> {
        let o = v.as_object()?;
        if !o.get("rrname")?.is_string() || !o.get("rrtype")?.is_string() || !o.contains_key("rdata") {
            return None;
        }
        let mut o = o.clone();
        if let Some(Value::String(s)) = o.get("rdata") {
            let one = Value::Array(vec![Value::String(s.clone())]);
            o.insert("rdata".into(), one);
        }
        let mut r: ExportRecord = serde_json::from_value(Value::Object(o)).ok()?;
        r.normalize();
        Some(r)
    }

    /// Folds `sensor_id` into `sensors`.
    fn normalize(&mut self) {
        if let Some(s) = self.sensor_id.take() {
            if !self.sensors.contains(&s) {
                self.sensors.insert(0, s);
            }
        }
    }

    /// Sensor times if present, else zone-file times.
    pub fn times(&self) -> Option<(u64, u64)> {
        match (self.time_first, self.time_last, self.zone_time_first, self.zone_time_last) {
            (Some(a), Some(b), _, _) => Some((a, b)),
            (_, _, Some(a), Some(b)) => Some((a, b)),
            _ => None,
        }
    }

    pub(crate) fn key(&self) -> String {
        format!(
            "{}\u{0}{}\u{0}{}\u{0}{}",
            self.rrname,
            self.rrtype,
            self.bailiwick.as_deref().unwrap_or(""),
            self.rdata.join("\u{1}")
        )
    }
}

/// The records in an analysis report (its JSON form): every object carrying `rrname`, `rrtype`
/// and `rdata` (evidence, lookback matches), and the per-record objects of a history report
/// (`rdata` and `count` under an object naming `name` and `rrtype`). Duplicates (the same
/// owner, type, bailiwick and rdata) are kept once, first occurrence first.
pub fn collect_records(report: &Value) -> Vec<ExportRecord> {
    fn walk(v: &Value, ctx: Option<(&str, &str)>, seen: &mut HashMap<String, ()>, out: &mut Vec<ExportRecord>) {
        match v {
            Value::Array(a) => a.iter().for_each(|x| walk(x, ctx, seen, out)),
            Value::Object(o) => {
                let rec = ExportRecord::from_json(v).or_else(|| {
                    let (name, ty) = ctx?;
                    if !(o.contains_key("rdata") && o.contains_key("count")) {
                        return None;
                    }
                    let mut with = o.clone();
                    with.insert("rrname".into(), Value::String(name.to_string()));
                    with.insert("rrtype".into(), Value::String(ty.to_string()));
                    ExportRecord::from_json(&Value::Object(with))
                });
                if let Some(r) = rec {
                    if seen.insert(r.key(), ()).is_none() {
                        out.push(r);
                    }
                    return;
                }
                let here = match (o.get("name").and_then(Value::as_str), o.get("rrtype").and_then(Value::as_str)) {
                    (Some(n), Some(t)) => Some((n, t)),
                    _ => ctx,
                };
                o.values().for_each(|x| walk(x, here, seen, out));
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(report, None, &mut HashMap::new(), &mut out);
    out
}

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// RFC 4180 CSV.
    Csv,
    /// A MISP event of `passive-dns` objects.
    Misp,
    /// A STIX 2.1 bundle.
    Stix,
}

impl ExportFormat {
    /// Parses `csv`, `misp` or `stix` (any case).
    pub fn parse(s: &str) -> Option<ExportFormat> {
        match s.to_ascii_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "misp" => Some(ExportFormat::Misp),
            "stix" | "stix2" | "stix2.1" => Some(ExportFormat::Stix),
            _ => None,
        }
    }

    /// `csv`, `misp` or `stix`.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Misp => "misp",
            ExportFormat::Stix => "stix",
        }
    }

    /// The HTTP content type of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8; header=present",
            ExportFormat::Misp | ExportFormat::Stix => "application/json",
        }
    }

    /// Renders `records`; `title` names the MISP event, `now` (epoch seconds) is the export
    /// time (MISP event date and timestamp, STIX `created`/`modified`).
    pub fn render(self, records: &[ExportRecord], title: &str, now: u64) -> String {
        match self {
            ExportFormat::Csv => csv(records),
            ExportFormat::Misp => pretty(&misp_event(title, &[], records, &[], now)),
            ExportFormat::Stix => pretty(&stix_bundle(records, now)),
        }
    }
}

fn pretty(v: &Value) -> String {
    // a Value of strings, numbers and lists always serialises
    let mut s = serde_json::to_string_pretty(v).unwrap_or_default();
    s.push('\n');
    s
}

/// CSV columns, in order.
pub const CSV_HEADER: [&str; 12] = [
    "rrname",
    "rrtype",
    "rdata",
    "bailiwick",
    "time_first",
    "time_last",
    "zone_time_first",
    "zone_time_last",
    "count",
    "ttl_min",
    "ttl_max",
    "sensors",
];

/// Quotes a field when it holds a comma, quote, CR or LF, doubling inner quotes (RFC 4180 §2).
pub fn csv_quote(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

/// The CSV header line (with its CRLF).
pub fn csv_header() -> String {
    format!("{}\r\n", CSV_HEADER.join(","))
}

/// Appends the CSV rows of one record: one per rdata item (one with an empty rdata for a
/// record without any), times in RFC 3339 UTC, sensors separated by spaces.
pub fn csv_rows(r: &ExportRecord, out: &mut String) {
    let t = |x: Option<u64>| x.map(format_rfc3339).unwrap_or_default();
    let n = |x: Option<u32>| x.map(|v| v.to_string()).unwrap_or_default();
    let empty = [String::new()];
    let items: &[String] = if r.rdata.is_empty() { &empty } else { &r.rdata };
    for rd in items {
        let fields = [
            csv_quote(&r.rrname).into_owned(),
            csv_quote(&r.rrtype).into_owned(),
            csv_quote(rd).into_owned(),
            csv_quote(r.bailiwick.as_deref().unwrap_or("")).into_owned(),
            t(r.time_first),
            t(r.time_last),
            t(r.zone_time_first),
            t(r.zone_time_last),
            r.count.to_string(),
            n(r.ttl_min),
            n(r.ttl_max),
            csv_quote(&r.sensors.join(" ")).into_owned(),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
}

/// The records as CSV with a header row.
pub fn csv(records: &[ExportRecord]) -> String {
    let mut out = csv_header();
    for r in records {
        csv_rows(r, &mut out);
    }
    out
}

/// An event-level MISP attribute (an indicator a caller adds beside the `passive-dns`
/// objects, e.g. a cluster's domains).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MispAttribute {
    /// MISP category (`Network activity`, `Other`…).
    pub category: String,
    /// MISP attribute type (`domain`, `hostname`, `ip-dst`, `text`…).
    pub kind: String,
    /// The value.
    pub value: String,
    /// Free comment.
    pub comment: String,
    /// Whether it is meant for detection (IDS flag).
    pub to_ids: bool,
}

fn v5(ns: &Uuid, parts: &[&str]) -> Uuid {
    Uuid::new_v5(ns, parts.join("\u{0}").as_bytes())
}

fn misp_time(t: u64) -> String {
    // MISP's datetime attributes take ISO 8601; an explicit UTC offset is what PyMISP writes
    format_rfc3339(t).replace('Z', "+00:00")
}

fn misp_attr(parent: &Uuid, index: usize, relation: &str, kind: &str, category: &str, value: String) -> Value {
    json!({
        "uuid": v5(parent, &[&index.to_string(), relation, &value]).to_string(),
        "object_relation": relation,
        "type": kind,
        "category": category,
        "value": value,
        "to_ids": false,
        "disable_correlation": false,
        "distribution": "5",
    })
}

/// One MISP `passive-dns` object for a record (relations and attribute types as the template
/// says); `event` seeds its deterministic uuids.
pub fn misp_passive_dns_object(r: &ExportRecord, event: &Uuid) -> Value {
    let bare = |s: &str| s.strip_suffix('.').filter(|x| !x.is_empty()).unwrap_or(s).to_string();
    let uuid = v5(event, &["passive-dns", &r.key()]);
    let mut attrs = Vec::new();
    let mut add = |rel: &str, kind: &str, cat: &str, value: String| {
        let i = attrs.len();
        attrs.push(misp_attr(&uuid, i, rel, kind, cat, value));
    };
    add("rrname", "text", "Network activity", bare(&r.rrname));
    add("rrtype", "text", "Network activity", r.rrtype.clone());
    for rd in &r.rdata {
        add("rdata", "text", "Network activity", rd.clone());
    }
    if let Some(b) = &r.bailiwick {
        add("bailiwick", "domain", "Network activity", bare(b));
    }
    if let (Some(a), Some(b)) = (r.time_first, r.time_last) {
        add("time_first", "datetime", "Other", misp_time(a));
        add("time_last", "datetime", "Other", misp_time(b));
    }
    if let (Some(a), Some(b)) = (r.zone_time_first, r.zone_time_last) {
        add("zone_time_first", "datetime", "Other", misp_time(a));
        add("zone_time_last", "datetime", "Other", misp_time(b));
    }
    add("count", "counter", "Other", r.count.to_string());
    if let Some(s) = r.sensors.first() {
        add("sensor_id", "text", "Other", s.clone());
    }
    if r.sensors.len() > 1 || r.ttl_min.is_some() {
        let mut text = String::new();
        if r.sensors.len() > 1 {
            let _ = write!(text, "sensors: {}", r.sensors.join(" "));
        }
        if let (Some(a), Some(b)) = (r.ttl_min, r.ttl_max) {
            let _ = write!(text, "{}ttl: {a}..{b}", if text.is_empty() { "" } else { "; " });
        }
        add("text", "text", "Other", text);
    }
    json!({
        "name": "passive-dns",
        "meta-category": "network",
        "description": "Passive DNS records as expressed in draft-dulaunoy-dnsop-passive-dns-cof-07.",
        "template_uuid": MISP_PASSIVE_DNS_TEMPLATE,
        "template_version": MISP_PASSIVE_DNS_VERSION,
        "uuid": uuid.to_string(),
        "distribution": "5",
        "sharing_group_id": "0",
        "comment": "",
        "Attribute": attrs,
    })
}

/// A MISP event named `title` with `tags`, one `passive-dns` object per record and the
/// `extra` event attributes; `now` (epoch seconds) is its date and timestamp. The event is
/// unpublished, distribution "your organisation only", threat level "undefined", analysis
/// "initial" — the importing analyst decides the rest. Its uuid is derived from the title,
/// the time and the records, its objects' and attributes' uuids from the event's.
pub fn misp_event(title: &str, tags: &[String], records: &[ExportRecord], extra: &[MispAttribute], now: u64) -> Value {
    let mut seed = vec![title.to_string(), now.to_string()];
    seed.extend(records.iter().map(ExportRecord::key));
    seed.extend(extra.iter().map(|a| format!("{}={}", a.kind, a.value)));
    let event = v5(&DNSLEDGER_NAMESPACE, &seed.iter().map(String::as_str).collect::<Vec<_>>());
    let attributes: Vec<Value> = extra
        .iter()
        .enumerate()
        .map(|(i, a)| {
            json!({
                "uuid": v5(&event, &["attribute", &i.to_string(), &a.kind, &a.value]).to_string(),
                "type": a.kind,
                "category": a.category,
                "value": a.value,
                "comment": a.comment,
                "to_ids": a.to_ids,
                "distribution": "5",
            })
        })
        .collect();
    let objects: Vec<Value> = records.iter().map(|r| misp_passive_dns_object(r, &event)).collect();
    let tags: Vec<Value> = tags.iter().map(|t| json!({ "name": t })).collect();
    let date = format_rfc3339(now).get(..10).unwrap_or("1970-01-01").to_string();
    json!({
        "Event": {
            "uuid": event.to_string(),
            "info": title,
            "date": date,
            "timestamp": now.to_string(),
            "published": false,
            "threat_level_id": "4",
            "analysis": "0",
            "distribution": "0",
            "Tag": tags,
            "Attribute": attributes,
            "Object": objects,
        }
    })
}

/// The STIX id of an SCO: `<type>--<UUIDv5 over {"value":…}>` (STIX 2.1 §2.9).
pub fn stix_sco_id(kind: &str, value: &str) -> String {
    let canonical = json!({ "value": value }).to_string();
    format!("{kind}--{}", Uuid::new_v5(&STIX_SCO_NAMESPACE, canonical.as_bytes()))
}

fn stix_time(t: u64) -> String {
    format_rfc3339(t)
}

fn stix_created(t: u64) -> String {
    // created/modified carry millisecond precision (STIX 2.1 §3.2)
    format_rfc3339(t).replace('Z', ".000Z")
}

/// A domain name as STIX wants it: no trailing dot.
fn stix_domain(name: &str) -> String {
    name.strip_suffix('.').filter(|x| !x.is_empty()).unwrap_or(name).to_string()
}

/// The SCOs of a bundle, deduplicated by id, in first-seen order.
#[derive(Default)]
struct Scos {
    order: Vec<String>,
    objects: HashMap<String, Map<String, Value>>,
}

impl Scos {
    fn add(&mut self, kind: &str, value: &str) -> String {
        let id = stix_sco_id(kind, value);
        if !self.objects.contains_key(&id) {
            let mut o = Map::new();
            o.insert("type".into(), kind.into());
            o.insert("spec_version".into(), "2.1".into());
            o.insert("id".into(), id.clone().into());
            o.insert("value".into(), value.into());
            self.objects.insert(id.clone(), o);
            self.order.push(id.clone());
        }
        id
    }

    fn resolves_to(&mut self, from: &str, to: &str) {
        if let Some(o) = self.objects.get_mut(from) {
            let refs = o.entry("resolves_to_refs").or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(a) = refs {
                if !a.iter().any(|x| x == to) {
                    a.push(to.into());
                }
            }
        }
    }
}

/// A STIX 2.1 bundle of the records: per record the owner's `domain-name`, the addresses
/// (A/AAAA) or alias targets (CNAME/DNAME) it resolved to, linked by `resolves_to_refs`, and
/// an `observed-data` with the record's first/last seen, its count (clamped to 1..999 999 999)
/// and the SCOs as `object_refs`. Records of other types contribute their owner name only
/// (STIX has no standard reference for NS, MX, …); records without times have no
/// `observed-data`. `now` is the `created`/`modified` time.
pub fn stix_bundle(records: &[ExportRecord], now: u64) -> Value {
    let mut scos = Scos::default();
    let mut observed = Vec::new();
    for r in records {
        let owner = scos.add("domain-name", &stix_domain(&r.rrname));
        let mut refs = vec![owner.clone()];
        for rd in &r.rdata {
            let target = match r.rrtype.as_str() {
                "A" => rd.parse::<std::net::Ipv4Addr>().ok().map(|ip| scos.add("ipv4-addr", &ip.to_string())),
                "AAAA" => rd.parse::<std::net::Ipv6Addr>().ok().map(|ip| scos.add("ipv6-addr", &ip.to_string())),
                "CNAME" | "DNAME" => Some(scos.add("domain-name", &stix_domain(rd))),
                _ => None,
            };
            if let Some(t) = target {
                scos.resolves_to(&owner, &t);
                if !refs.contains(&t) {
                    refs.push(t);
                }
            }
        }
        let Some((first, last)) = r.times() else { continue };
        let id = format!("observed-data--{}", v5(&DNSLEDGER_NAMESPACE, &["observed-data", &r.key()]));
        observed.push(json!({
            "type": "observed-data",
            "spec_version": "2.1",
            "id": id,
            "created": stix_created(now),
            "modified": stix_created(now),
            "first_observed": stix_time(first.min(last)),
            "last_observed": stix_time(first.max(last)),
            "number_observed": r.count.clamp(1, STIX_MAX_OBSERVED),
            "object_refs": refs,
        }));
    }
    let mut objects: Vec<Value> = Vec::with_capacity(scos.order.len() + observed.len());
    for id in &scos.order {
        if let Some(o) = scos.objects.remove(id) {
            objects.push(Value::Object(o));
        }
    }
    objects.extend(observed);
    let ids: Vec<&str> = objects.iter().filter_map(|o| o.get("id").and_then(Value::as_str)).collect();
    let bundle = v5(&DNSLEDGER_NAMESPACE, &[&["bundle"], ids.as_slice()].concat());
    json!({ "type": "bundle", "id": format!("bundle--{bundle}"), "objects": objects })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{put, store, D, JAN1};
    use dnsledger_store::{NameMatch, NegativeFilter, RrsetQuery, Store};

    fn records(store: &dyn Store, name: &str) -> Vec<ExportRecord> {
        let q = RrsetQuery {
            name: NameMatch::parse(name).unwrap(),
            types: dnsledger_model::TypeFilter::Any,
            bailiwick: None,
            fence: Default::default(),
            negative: NegativeFilter::Exclude,
        };
        let mut out = Vec::new();
        store
            .lookup_rrset(&q, &mut |r| {
                out.push(ExportRecord::from_record(&r));
                std::ops::ControlFlow::Continue(())
            })
            .unwrap();
        out
    }

    fn sample() -> (tempfile::TempDir, Vec<ExportRecord>) {
        let (dir, s) = store();
        put(&*s, "www.example.com", "A", &["192.0.2.1", "192.0.2.2"], JAN1, JAN1 + 3 * D, "fra-1");
        put(&*s, "www.example.com", "AAAA", &["2001:db8::1"], JAN1 + D, JAN1 + 2 * D, "ams-2");
        put(&*s, "alias.example.com", "CNAME", &["www.example.com."], JAN1, JAN1 + D, "fra-1");
        put(&*s, "example.com", "TXT", &["\"v=spf1 a,b \\\"q\\\"\""], JAN1, JAN1, "fra-1");
        let mut r = records(&*s, "*.example.com");
        r.extend(records(&*s, "example.com"));
        (dir, r)
    }

    #[test]
    fn csv_quotes_and_rows() {
        let (_d, recs) = sample();
        let out = csv(&recs);
        let lines: Vec<&str> = out.split("\r\n").collect();
        assert_eq!(lines[0], CSV_HEADER.join(","));
        // a row per rdata item: 2 A, 1 AAAA, 1 CNAME, 1 TXT, then the empty tail after the last CRLF
        assert_eq!(lines.len(), 1 + 5 + 1, "{out}");
        assert_eq!(*lines.last().unwrap(), "");
        assert!(out.contains("www.example.com.,A,192.0.2.2,example.com.,2024-01-01T00:00:00Z,2024-01-04T00:00:00Z,,,1,300,300,fra-1\r\n"), "{out}");
        // the TXT rdata holds a comma and quotes: quoted, inner quotes doubled
        assert!(out.contains("example.com.,TXT,\"\"\"v=spf1 a,b \\\"\"q\\\"\"\"\"\",example.com."), "{out}");
        assert_eq!(csv_quote("plain"), "plain");
        assert_eq!(csv_quote("a\nb"), "\"a\nb\"");
        assert_eq!(csv(&[]), csv_header());
    }

    /// The relations and MISP attribute types of the `passive-dns` template, as the
    /// interface reference lists them (shared/reference/dnsdb-api.md §6).
    const TEMPLATE: [(&str, &str); 14] = [
        ("rrname", "text"),
        ("rrtype", "text"),
        ("rdata", "text"),
        ("raw_rdata", "text"),
        ("time_first", "datetime"),
        ("time_last", "datetime"),
        ("time_first_ms", "datetime"),
        ("time_last_ms", "datetime"),
        ("zone_time_first", "datetime"),
        ("zone_time_last", "datetime"),
        ("count", "counter"),
        ("bailiwick", "domain"),
        ("sensor_id", "text"),
        ("origin", "text"),
    ];

    #[test]
    fn misp_objects_follow_the_template() {
        let (_d, recs) = sample();
        let extra = vec![MispAttribute {
            category: "Network activity".into(),
            kind: "domain".into(),
            value: "example.com".into(),
            comment: "cluster member".into(),
            to_ids: false,
        }];
        let ev = misp_event("cluster 7", &["tlp:amber".into()], &recs, &extra, JAN1 + 10 * D);
        let e = &ev["Event"];
        assert_eq!(e["info"], "cluster 7");
        assert_eq!(e["date"], "2024-01-11");
        assert_eq!(e["Tag"][0]["name"], "tlp:amber");
        assert_eq!(e["Attribute"][0]["type"], "domain");
        let objs = e["Object"].as_array().unwrap();
        assert_eq!(objs.len(), recs.len());
        let mut uuids = std::collections::HashSet::new();
        for o in objs {
            assert_eq!(o["name"], "passive-dns");
            assert_eq!(o["meta-category"], "network");
            assert_eq!(o["template_uuid"], MISP_PASSIVE_DNS_TEMPLATE);
            assert!(uuids.insert(o["uuid"].as_str().unwrap().to_string()));
            let attrs = o["Attribute"].as_array().unwrap();
            for a in attrs {
                let rel = a["object_relation"].as_str().unwrap();
                let ty = a["type"].as_str().unwrap();
                let expected =
                    TEMPLATE.iter().find(|(r, _)| *r == rel).map(|(_, t)| *t).or((rel == "text").then_some("text"));
                assert_eq!(Some(ty), expected, "relation {rel} has type {ty}");
                assert!(a["value"].is_string(), "{a}");
                assert!(uuids.insert(a["uuid"].as_str().unwrap().to_string()));
            }
            // required relations
            for req in ["rrname", "rrtype", "rdata"] {
                assert!(attrs.iter().any(|a| a["object_relation"] == req), "{req} missing in {o}");
            }
        }
        let www_a =
            objs.iter().find(|o| o["Attribute"].as_array().unwrap().iter().any(|a| a["value"] == "192.0.2.2")).unwrap();
        let vals = |rel: &str| -> Vec<String> {
            www_a["Attribute"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|a| a["object_relation"] == rel)
                .map(|a| a["value"].as_str().unwrap().to_string())
                .collect()
        };
        assert_eq!(vals("rrname"), ["www.example.com"]);
        assert_eq!(vals("rdata"), ["192.0.2.1", "192.0.2.2"]);
        assert_eq!(vals("time_first"), ["2024-01-01T00:00:00+00:00"]);
        assert_eq!(vals("count"), ["1"]);
        assert_eq!(vals("sensor_id"), ["fra-1"]);
        // deterministic
        assert_eq!(ev, misp_event("cluster 7", &["tlp:amber".into()], &recs, &extra, JAN1 + 10 * D));
        assert_ne!(ev["Event"]["uuid"], misp_event("cluster 8", &[], &recs, &[], JAN1)["Event"]["uuid"]);
    }

    #[test]
    fn stix_ids_are_the_specs() {
        // the examples of the reference (computed by the stix2 library)
        assert_eq!(stix_sco_id("domain-name", "www.example.com"), "domain-name--3b96539c-807f-59c9-b4df-fe1865757b1e");
        assert_eq!(stix_sco_id("ipv4-addr", "93.184.216.34"), "ipv4-addr--e9778aa6-5cd6-5a44-a746-7d375d1db1e0");
    }

    #[test]
    fn stix_bundle_links_names_to_addresses() {
        let (_d, recs) = sample();
        let b = stix_bundle(&recs, JAN1);
        assert_eq!(b["type"], "bundle");
        let objs = b["objects"].as_array().unwrap();
        let find = |ty: &str, v: &str| objs.iter().find(|o| o["type"] == ty && o["value"] == v).cloned();
        let www = find("domain-name", "www.example.com").unwrap();
        let refs: Vec<&str> = www["resolves_to_refs"].as_array().unwrap().iter().map(|x| x.as_str().unwrap()).collect();
        assert_eq!(refs.len(), 3, "{www}");
        assert!(refs.contains(&stix_sco_id("ipv4-addr", "192.0.2.1").as_str()));
        assert!(refs.contains(&stix_sco_id("ipv6-addr", "2001:db8::1").as_str()));
        let alias = find("domain-name", "alias.example.com").unwrap();
        assert_eq!(alias["resolves_to_refs"][0], www["id"]);
        // the TXT owner has no resolutions: no empty list
        assert!(find("domain-name", "example.com").unwrap().get("resolves_to_refs").is_none());
        let od: Vec<&Value> = objs.iter().filter(|o| o["type"] == "observed-data").collect();
        assert_eq!(od.len(), recs.len());
        let a = od.iter().find(|o| o["object_refs"].as_array().unwrap().len() == 3).unwrap();
        assert_eq!(a["first_observed"], "2024-01-01T00:00:00Z");
        assert_eq!(a["last_observed"], "2024-01-04T00:00:00Z");
        assert_eq!(a["number_observed"], 1);
        assert_eq!(a["created"], "2024-01-01T00:00:00.000Z");
        // every SCO once
        let mut ids: Vec<&str> = objs.iter().map(|o| o["id"].as_str().unwrap()).collect();
        let n = ids.len();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n);
        assert_eq!(b, stix_bundle(&recs, JAN1));
        let mut big = recs[0].clone();
        big.count = 5_000_000_000;
        assert_eq!(
            stix_bundle(&[big], JAN1)["objects"].as_array().unwrap().last().unwrap()["number_observed"],
            STIX_MAX_OBSERVED
        );
    }

    /// The bundle passes the `stix2` library's parser (PyPI `stix2`, strict: no custom
    /// content), run with the test Python (`DNSLEDGER_TEST_PYTHON`, set up by scripts/test.sh).
    #[test]
    fn stix_bundle_parses_with_the_stix2_library() {
        let (_d, recs) = sample();
        let b = stix_bundle(&recs, JAN1 + 5 * D).to_string();
        let python = std::env::var("DNSLEDGER_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let script = r#"
import sys, stix2
b = stix2.parse(sys.stdin.read(), allow_custom=False, version="2.1")
kinds = sorted({o.type for o in b.objects})
ods = [o for o in b.objects if o.type == "observed-data"]
assert all(o.first_observed <= o.last_observed for o in ods)
print(len(b.objects), ",".join(kinds))
"#;
        let mut child = std::process::Command::new(&python)
            .args(["-c", script])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python} (DNSLEDGER_TEST_PYTHON): {e}"));
        use std::io::Write;
        child.stdin.take().unwrap().write_all(b.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "stix2 rejected the bundle: {}\n{b}", String::from_utf8_lossy(&out.stderr));
        // www, alias (its CNAME target is www), example.com; 2 ipv4, 1 ipv6; 4 observed-data
        assert_eq!(stdout.trim(), "10 domain-name,ipv4-addr,ipv6-addr,observed-data", "{b}");
    }

    #[test]
    fn records_collected_from_reports() {
        let report = json!({
            "types": [{"name": "www.example.com.", "rrtype": "A", "records": [
                {"rdata": ["192.0.2.1"], "count": 3, "time_first": 1, "time_last": 2, "sensors": ["s1"], "intervals": []}
            ]}],
            "cnames": [{"name": "x", "links": [{"evidence": {"rrname": "a.example.", "rrtype": "CNAME", "rdata": ["www.example.com."], "count": 1}}],
                        "addresses": [{"rrname": "www.example.com.", "rrtype": "A", "rdata": ["192.0.2.1"], "count": 3, "time_first": 1, "time_last": 2}]}],
            "from_lookup": {"rrname": "b.example.", "rrtype": "TXT", "rdata": "\"x\"", "count": 1, "sensor_id": "s9"},
        });
        let recs = collect_records(&report);
        let names: Vec<(&str, &str)> = recs.iter().map(|r| (r.rrname.as_str(), r.rrtype.as_str())).collect();
        // serde_json keeps key order (preserve_order): types, cnames, from_lookup; the A record once
        assert_eq!(names, [("www.example.com.", "A"), ("a.example.", "CNAME"), ("b.example.", "TXT")]);
        assert_eq!(recs[0].sensors, ["s1"]);
        assert_eq!(recs[2].rdata, ["\"x\""]);
        assert_eq!(recs[2].sensors, ["s9"]);
        assert!(collect_records(&json!({"rrname": 1})).is_empty());
    }
}
