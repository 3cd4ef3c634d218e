//! Indicator batches: domains, `*.zone` wildcards, IPv4/IPv6 addresses, CIDR prefixes and
//! `IP-IP` ranges read from plain text, a MISP event or a STIX 2.1 bundle, for a
//! [lookback](crate::lookback).
//!
//! - **Text**: one indicator per line; `#`, `//` and `;` start comments; the first
//!   whitespace-separated token of a line counts. Defanged forms are refanged (`example[.]com`,
//!   `1.2.3[.]4`, `(.)`, `[dot]`, `hxxp://`, `[:]`), URLs are reduced to their host, IDNs to
//!   their ASCII form.
//! - **MISP** (an `{"Event": …}` document, a bare event, a list of them or a
//!   `{"response": […]}` search answer): event attributes and object attributes of the types
//!   `domain`, `hostname`, `ip-src`, `ip-dst`, `ip-src|port`, `ip-dst|port`, `domain|ip`
//!   (both halves), `hostname|port`, `url`, `uri`, `link`. Other types are counted as ignored.
//! - **STIX 2.1** (a bundle or a list of objects): `domain-name`, `ipv4-addr`, `ipv6-addr` and
//!   `url` SCOs, and `indicator` objects with STIX patterns: every comparison of
//!   `domain-name:value`, `ipv4-addr:value`, `ipv6-addr:value` or `url:value` with `=`, `IN`
//!   or `ISSUBSET` becomes an indicator, whatever the AND/OR/FOLLOWEDBY structure around it
//!   (a lookback looks for any trace of each). The pattern scanner is a small tokenizer of
//!   its own: no maintained Rust crate parses STIX patterns, and only this subset matters.
//!
//! Items that cannot be read are reported with their position and the reason, and counted;
//! they never fail the batch. Only an input that is not the format it claims (JSON that does
//! not parse) is an error.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use dnsledger_model::Name;
use dnsledger_store::IpRange;
use serde::Serialize;
use serde_json::Value;

use crate::AnalyticsError;

/// Most rejected items listed in a batch (all are counted).
pub const MAX_REJECTED_LISTED: usize = 1000;

/// What an indicator selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A domain or host name (and, when a lookback asks, the names below it).
    Domain(Name),
    /// `*.zone`: every name strictly below the zone.
    Below(Name),
    /// An address, prefix or range.
    Ip(IpRange),
}

impl Target {
    /// `domain`, `wildcard`, `ip`, `cidr` or `range`.
    pub fn kind(&self) -> &'static str {
        match self {
            Target::Domain(_) => "domain",
            Target::Below(_) => "wildcard",
            Target::Ip(r) if r.start == r.end => "ip",
            Target::Ip(r) if prefix_len(r).is_some() => "cidr",
            Target::Ip(_) => "range",
        }
    }
}

/// The prefix length of a range that is exactly one CIDR block.
fn prefix_len(r: &IpRange) -> Option<u32> {
    let (span, bits) = match (r.start, r.end) {
        (IpAddr::V4(a), IpAddr::V4(b)) => ((u32::from(a) ^ u32::from(b)) as u128, 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) ^ u128::from(b), 128),
        _ => return None,
    };
    let host = 128 - span.leading_zeros();
    let len = bits - host;
    (IpRange::cidr(r.start, len) == Some(*r)).then_some(len)
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bare = |n: &Name| {
            let s = n.to_presentation();
            s.strip_suffix('.').filter(|x| !x.is_empty()).map(str::to_string).unwrap_or(s)
        };
        match self {
            Target::Domain(n) => write!(f, "{}", bare(n)),
            Target::Below(n) => write!(f, "*.{}", bare(n)),
            Target::Ip(r) => match prefix_len(r) {
                Some(len) if r.start != r.end => write!(f, "{}/{len}", r.start),
                _ => write!(f, "{r}"),
            },
        }
    }
}

/// One indicator of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Indicator {
    /// What it selects.
    pub target: Target,
    /// Where it came from (`line 3`, `Event.Object[2].Attribute[0]`, `objects[5] pattern`).
    pub position: String,
}

/// An item that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejected {
    /// Where it was.
    pub position: String,
    /// The item as given (shortened to 200 characters).
    pub item: String,
    /// Why it was rejected.
    pub reason: String,
}

/// Input formats of indicator batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InputFormat {
    /// One indicator per line.
    Text,
    /// A MISP event (JSON).
    Misp,
    /// A STIX 2.1 bundle (JSON).
    Stix,
}

impl InputFormat {
    /// Parses `text`, `misp` or `stix` (`txt`, `plain`, `stix2` too).
    pub fn parse(s: &str) -> Option<InputFormat> {
        match s.to_ascii_lowercase().as_str() {
            "text" | "txt" | "plain" => Some(InputFormat::Text),
            "misp" => Some(InputFormat::Misp),
            "stix" | "stix2" | "stix2.1" => Some(InputFormat::Stix),
            _ => None,
        }
    }

    /// Guesses the format: JSON with `Event`/`Attribute`/`response` is MISP, JSON with
    /// `objects` or `"type": "bundle"` is STIX, anything else is text.
    pub fn sniff(input: &str) -> InputFormat {
        let t = input.trim_start();
        if !(t.starts_with('{') || t.starts_with('[')) {
            return InputFormat::Text;
        }
        // a cheap look at the top-level keys, without parsing the whole document twice
        let head = &t[..t.len().min(1 << 16)];
        let stix = head.contains("\"objects\"") || head.contains("\"bundle\"") || head.contains("\"spec_version\"");
        let misp = head.contains("\"Event\"") || head.contains("\"Attribute\"") || head.contains("\"response\"");
        match (misp, stix) {
            (true, false) => InputFormat::Misp,
            (false, true) => InputFormat::Stix,
            (true, true) => {
                let (m, s) =
                    (head.find("\"Event\"").unwrap_or(usize::MAX), head.find("\"objects\"").unwrap_or(usize::MAX));
                if m < s {
                    InputFormat::Misp
                } else {
                    InputFormat::Stix
                }
            }
            (false, false) => InputFormat::Stix,
        }
    }
}

/// A parsed batch.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Batch {
    /// The indicators, in input order (duplicates kept: each is answered where it stands).
    pub indicators: Vec<Indicator>,
    /// The first [`MAX_REJECTED_LISTED`] items that could not be read.
    pub rejected: Vec<Rejected>,
    /// All items that could not be read.
    pub rejected_count: usize,
    /// Items of types that are not indicators of names or addresses (MISP `md5`, STIX
    /// `file`…), per type.
    pub ignored: BTreeMap<String, usize>,
}

impl Batch {
    fn reject(&mut self, position: String, item: &str, reason: impl Into<String>) {
        self.rejected_count += 1;
        if self.rejected.len() < MAX_REJECTED_LISTED {
            let item: String = item.chars().take(200).collect();
            self.rejected.push(Rejected { position, item, reason: reason.into() });
        }
    }

    fn ignore(&mut self, kind: &str) {
        *self.ignored.entry(kind.to_string()).or_default() += 1;
    }

    fn add(&mut self, position: String, item: &str) {
        match parse_indicator(item) {
            Ok(target) => self.indicators.push(Indicator { target, position }),
            Err(reason) => self.reject(position, item, reason),
        }
    }
}

/// Parses a batch in `format` (sniffed when `None`).
pub fn parse(input: &str, format: Option<InputFormat>) -> Result<(InputFormat, Batch), AnalyticsError> {
    let format = format.unwrap_or_else(|| InputFormat::sniff(input));
    let batch = match format {
        InputFormat::Text => parse_text(input),
        InputFormat::Misp => parse_misp(&json(input, "MISP")?),
        InputFormat::Stix => parse_stix(&json(input, "STIX")?),
    };
    Ok((format, batch))
}

fn json(input: &str, what: &str) -> Result<Value, AnalyticsError> {
    serde_json::from_str(input.trim_start_matches('\u{feff}')).map_err(|e| {
        AnalyticsError::Input(format!("{what} input is not JSON: {e} (pass format=text for a plain list)"))
    })
}

/// Undoes the usual defanging of indicators.
pub fn refang(s: &str) -> String {
    let mut t = s.trim().to_string();
    for (from, to) in [
        ("[.]", "."),
        ("(.)", "."),
        ("{.}", "."),
        ("[dot]", "."),
        ("(dot)", "."),
        ("[DOT]", "."),
        ("(DOT)", "."),
        ("[:]", ":"),
        ("[://]", "://"),
        ("[/]", "/"),
        ("[@]", "@"),
    ] {
        if t.contains(from) {
            t = t.replace(from, to);
        }
    }
    let lower = t.get(..6).map(str::to_ascii_lowercase).unwrap_or_default();
    for (fanged, scheme) in [("hxxps:", "https:"), ("hxxp:", "http:"), ("fxp:", "ftp:")] {
        if lower.starts_with(fanged) {
            t = format!("{scheme}{}", &t[fanged.len()..]);
            break;
        }
    }
    t
}

/// The host of a URL (`scheme://[user@]host[:port]/…`), brackets of an IPv6 literal removed.
pub fn url_host(url: &str) -> Option<&str> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next()?;
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host =
        if let Some(v6) = hostport.strip_prefix('[') { v6.split_once(']')?.0 } else { hostport.split(':').next()? };
    (!host.is_empty()).then_some(host)
}

/// Parses one indicator: a domain, `*.zone`, an address, `IP/len`, `IP-IP` or a URL (its
/// host), defanged or not.
pub fn parse_indicator(item: &str) -> Result<Target, String> {
    let t = refang(item);
    if t.is_empty() {
        return Err("empty".into());
    }
    let t =
        if t.contains("://") { url_host(&t).ok_or_else(|| "URL without a host".to_string())?.to_string() } else { t };
    let t = t.trim_end_matches('.');
    if t.starts_with(|c: char| c.is_ascii_hexdigit() || c == ':') {
        if let Ok(ip) = t.parse::<IpAddr>() {
            return Ok(Target::Ip(IpRange::single(ip)));
        }
        if t.contains(['/', '-']) || t.contains(':') {
            if let Ok(r) = IpRange::parse(t) {
                return Ok(Target::Ip(r));
            }
        }
    }
    if let Some(zone) = t.strip_prefix("*.") {
        return domain(zone).map(Target::Below);
    }
    if looks_numeric(t) {
        return Err("not a valid IP address, prefix or range".into());
    }
    domain(t).map(Target::Domain)
}

/// Dotted digits, or digits and slashes/dashes only: a broken address, not a name.
fn looks_numeric(t: &str) -> bool {
    !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b"./-,".contains(&b)) && t.contains('.')
}

fn domain(s: &str) -> Result<Name, String> {
    let ascii = if s.is_ascii() {
        s.to_ascii_lowercase()
    } else {
        idna::domain_to_ascii(s).map_err(|_| "not a valid internationalised domain name".to_string())?
    };
    let ascii = ascii.trim_end_matches('.');
    if ascii.is_empty() {
        return Err("empty name".into());
    }
    if ascii.len() > 253 {
        return Err("name longer than 253 characters".into());
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("a single label is not a domain".into());
    }
    for l in &labels {
        if l.is_empty() {
            return Err("empty label".into());
        }
        if l.len() > 63 {
            return Err(format!("label {l:?} longer than 63 characters"));
        }
        if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
            return Err(format!("label {l:?} holds characters a host name cannot"));
        }
    }
    Name::from_presentation(ascii).map_err(|e| e.to_string())
}

/// Reads a plain-text list.
pub fn parse_text(input: &str) -> Batch {
    let mut b = Batch::default();
    for (i, line) in input.lines().enumerate() {
        let line = line.trim_start_matches('\u{feff}');
        let content = strip_comment(line).trim();
        let Some(token) = content.split_whitespace().next() else { continue };
        b.add(format!("line {}", i + 1), token);
    }
    b
}

fn strip_comment(line: &str) -> &str {
    let t = line.trim_start();
    if t.starts_with('#') || t.starts_with("//") || t.starts_with(';') {
        return "";
    }
    // a comment after the item: whitespace then # or //
    for pat in [" #", "\t#", " //", "\t//"] {
        if let Some(i) = line.find(pat) {
            return &line[..i];
        }
    }
    line
}

/// Reads a MISP event, list of events or search answer.
pub fn parse_misp(doc: &Value) -> Batch {
    let mut b = Batch::default();
    let mut events: Vec<(String, &Value)> = Vec::new();
    fn push<'a>(prefix: String, v: &'a Value, events: &mut Vec<(String, &'a Value)>) {
        events.push((prefix, v.get("Event").unwrap_or(v)));
    }
    match doc {
        Value::Array(a) => a.iter().enumerate().for_each(|(i, v)| push(format!("[{i}].Event"), v, &mut events)),
        Value::Object(o) => match o.get("response") {
            Some(Value::Array(a)) => {
                a.iter().enumerate().for_each(|(i, v)| push(format!("response[{i}].Event"), v, &mut events))
            }
            _ => push("Event".to_string(), doc, &mut events),
        },
        _ => b.reject("document".into(), "", "a MISP document is a JSON object or list of events"),
    }
    for (prefix, ev) in events {
        for (i, a) in ev.get("Attribute").and_then(Value::as_array).into_iter().flatten().enumerate() {
            misp_attribute(&mut b, format!("{prefix}.Attribute[{i}]"), a);
        }
        for (i, o) in ev.get("Object").and_then(Value::as_array).into_iter().flatten().enumerate() {
            for (j, a) in o.get("Attribute").and_then(Value::as_array).into_iter().flatten().enumerate() {
                misp_attribute(&mut b, format!("{prefix}.Object[{i}].Attribute[{j}]"), a);
            }
        }
    }
    b
}

fn misp_attribute(b: &mut Batch, pos: String, a: &Value) {
    let kind = a.get("type").and_then(Value::as_str).unwrap_or("");
    let Some(value) = a.get("value").and_then(Value::as_str) else {
        b.reject(pos, &a.to_string(), "attribute without a string value");
        return;
    };
    match kind {
        "domain" | "hostname" | "ip-src" | "ip-dst" | "url" | "uri" | "link" => b.add(pos, value),
        "ip-src|port" | "ip-dst|port" | "hostname|port" => {
            // the port follows the last '|' (IPv6 addresses hold ':', never '|')
            let host = value.rsplit_once('|').map_or(value, |(h, _)| h);
            b.add(pos, host)
        }
        "domain|ip" => match value.split_once('|') {
            Some((d, ip)) => {
                b.add(format!("{pos} domain"), d);
                b.add(format!("{pos} ip"), ip);
            }
            None => b.reject(pos, value, "domain|ip value without '|'"),
        },
        "" => b.reject(pos, value, "attribute without a type"),
        other => b.ignore(other),
    }
}

/// Reads a STIX 2.1 bundle (or a list of STIX objects).
pub fn parse_stix(doc: &Value) -> Batch {
    let mut b = Batch::default();
    let objects: &[Value] = match doc {
        Value::Array(a) => a,
        Value::Object(o) => match o.get("objects") {
            Some(Value::Array(a)) => a,
            _ if o.contains_key("type") => std::slice::from_ref(doc),
            _ => {
                b.reject("document".into(), "", "a STIX document is a bundle with objects");
                return b;
            }
        },
        _ => {
            b.reject("document".into(), "", "a STIX document is a bundle with objects");
            return b;
        }
    };
    for (i, o) in objects.iter().enumerate() {
        let pos = format!("objects[{i}]");
        let kind = o.get("type").and_then(Value::as_str).unwrap_or("");
        match kind {
            "domain-name" | "ipv4-addr" | "ipv6-addr" | "url" => match o.get("value").and_then(Value::as_str) {
                Some(v) => b.add(pos, v),
                None => b.reject(pos, &o.to_string(), format!("{kind} without a value")),
            },
            "indicator" => {
                let pt = o.get("pattern_type").and_then(Value::as_str).unwrap_or("stix");
                let Some(pattern) = o.get("pattern").and_then(Value::as_str) else {
                    b.reject(pos, &o.to_string(), "indicator without a pattern");
                    continue;
                };
                if pt != "stix" {
                    b.reject(pos, pattern, format!("pattern_type {pt:?}: only STIX patterns are read"));
                    continue;
                }
                stix_pattern(&mut b, &pos, pattern);
            }
            "" => b.reject(pos, &o.to_string(), "object without a type"),
            other => b.ignore(other),
        }
    }
    b
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Punct(char),
    Str(String),
    Word(String),
}

fn tokenize(p: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let mut it = p.char_indices().peekable();
    while let Some(&(i, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if "[]()".contains(c) {
            out.push(Tok::Punct(c));
            it.next();
        } else if c == '\'' {
            it.next();
            let mut s = String::new();
            let mut closed = false;
            while let Some((_, c)) = it.next() {
                match c {
                    '\\' => match it.next() {
                        Some((_, e)) => s.push(e),
                        None => return Err("unterminated escape".into()),
                    },
                    '\'' => {
                        closed = true;
                        break;
                    }
                    c => s.push(c),
                }
            }
            if !closed {
                return Err(format!("unterminated string at {i}"));
            }
            out.push(Tok::Str(s));
        } else {
            let mut w = String::new();
            while let Some(&(_, c)) = it.peek() {
                if c.is_whitespace() || "[]()'".contains(c) {
                    break;
                }
                w.push(c);
                it.next();
            }
            // `t'…'` timestamps of START/STOP qualifiers: the prefix word and the string
            out.push(Tok::Word(w));
        }
    }
    Ok(out)
}

/// Extracts the indicators of one STIX pattern.
fn stix_pattern(b: &mut Batch, pos: &str, pattern: &str) {
    let toks = match tokenize(pattern) {
        Ok(t) => t,
        Err(e) => {
            b.reject(format!("{pos} pattern"), pattern, format!("pattern: {e}"));
            return;
        }
    };
    let mut found = 0usize;
    let mut n = 0usize;
    let mut i = 0;
    while i < toks.len() {
        let Tok::Word(path) = &toks[i] else {
            i += 1;
            continue;
        };
        let Some((object, prop)) = path.split_once(':') else {
            i += 1;
            continue;
        };
        if !matches!(object, "domain-name" | "ipv4-addr" | "ipv6-addr" | "url") || prop != "value" {
            if path.contains(':') && !path.starts_with("t'") {
                b.ignore(&format!("pattern {object}:{prop}"));
            }
            i += 1;
            continue;
        }
        let (negated, op_at) = match toks.get(i + 1) {
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("NOT") => (true, i + 2),
            _ => (false, i + 1),
        };
        let op = match toks.get(op_at) {
            Some(Tok::Word(w)) => w.to_ascii_uppercase(),
            _ => String::new(),
        };
        n += 1;
        let here = || format!("{pos} pattern comparison {n}");
        if negated || op == "!=" {
            b.reject(here(), path, "negated comparison: not an indicator to look for");
            i = op_at + 1;
            continue;
        }
        match op.as_str() {
            "=" | "ISSUBSET" => match toks.get(op_at + 1) {
                Some(Tok::Str(v)) => {
                    b.add(here(), v);
                    found += 1;
                    i = op_at + 2;
                }
                _ => {
                    b.reject(here(), path, format!("{op} without a string"));
                    i = op_at + 1;
                }
            },
            "IN" => {
                let mut j = op_at + 1;
                if toks.get(j) != Some(&Tok::Punct('(')) {
                    b.reject(here(), path, "IN without a list");
                    i = j;
                    continue;
                }
                j += 1;
                while let Some(t) = toks.get(j) {
                    match t {
                        Tok::Str(v) => {
                            b.add(here(), v);
                            found += 1;
                        }
                        Tok::Punct(')') => break,
                        _ => {}
                    }
                    j += 1;
                }
                i = j + 1;
            }
            other => {
                let what = if other.is_empty() { "missing operator".to_string() } else { format!("operator {other}") };
                b.reject(here(), path, format!("{what}: only =, IN and ISSUBSET name indicators"));
                i = op_at + 1;
            }
        }
    }
    if found == 0 && n == 0 {
        b.reject(format!("{pos} pattern"), pattern, "no comparison of domain-name, ipv4-addr, ipv6-addr or url values");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> String {
        parse_indicator(s).map(|t| format!("{} {t}", t.kind())).unwrap_or_else(|e| format!("error: {e}"))
    }

    #[test]
    fn single_indicators() {
        assert_eq!(one("Example.COM."), "domain example.com");
        assert_eq!(one("example[.]com"), "domain example.com");
        assert_eq!(one("www(.)example[dot]org"), "domain www.example.org");
        assert_eq!(one("hxxps://evil.example[.]net:8443/x?y=1"), "domain evil.example.net");
        assert_eq!(one("http://user@[2001:db8::1]:80/"), "ip 2001:db8::1");
        assert_eq!(one("*.example.com"), "wildcard *.example.com");
        assert_eq!(one("1.2.3[.]4"), "ip 1.2.3.4");
        assert_eq!(one("192.0.2.77/24"), "cidr 192.0.2.0/24");
        assert_eq!(one("192.0.2.10-192.0.2.20"), "range 192.0.2.10-192.0.2.20");
        assert_eq!(one("192.0.2.0-192.0.2.255"), "cidr 192.0.2.0/24");
        assert_eq!(one("2001:db8::/32"), "cidr 2001:db8::/32");
        assert_eq!(one("2001:db8::1"), "ip 2001:db8::1");
        assert_eq!(one("bücher.example"), "domain xn--bcher-kva.example");
        assert_eq!(one("deadbeef.example.com"), "domain deadbeef.example.com");
        assert!(one("1.2.3").starts_with("error: not a valid IP"), "{}", one("1.2.3"));
        assert!(one("300.1.1.1").starts_with("error"));
        assert!(one("192.0.2.0/33").starts_with("error"));
        assert!(one("malware").starts_with("error: a single label"));
        assert!(one("bad_name!.example").starts_with("error: label"));
        assert!(one("a..example").starts_with("error: empty label"));
        assert!(one("http:///path").starts_with("error: URL without a host"));
    }

    #[test]
    fn text_lists() {
        let input = "# feed of the day\n\nexample[.]com   # phishing\n  192.0.2.1 first seen 2024\n; old\n// also\nnot..valid\n*.evil.example\n10.0.0.0/8\n";
        let (f, b) = parse(input, None).unwrap();
        assert_eq!(f, InputFormat::Text);
        let got: Vec<(String, String)> =
            b.indicators.iter().map(|i| (i.position.clone(), i.target.to_string())).collect();
        assert_eq!(
            got,
            [
                ("line 3".to_string(), "example.com".to_string()),
                ("line 4".into(), "192.0.2.1".into()),
                ("line 8".into(), "*.evil.example".into()),
                ("line 9".into(), "10.0.0.0/8".into()),
            ]
        );
        assert_eq!(b.rejected_count, 1);
        assert_eq!(b.rejected[0].position, "line 7");
        assert_eq!(b.rejected[0].item, "not..valid");
    }

    #[test]
    fn misp_events() {
        let ev = serde_json::json!({"Event": {
            "info": "x",
            "Attribute": [
                {"type": "domain", "value": "bad.example"},
                {"type": "ip-dst|port", "value": "2001:db8::5|443"},
                {"type": "md5", "value": "d41d8cd98f00b204e9800998ecf8427e"},
                {"type": "domain|ip", "value": "c2.example|192.0.2.9"},
                {"type": "hostname", "value": "not a host"},
                {"type": "url", "value": "hxxp://dl.example[.]org/payload.exe"}
            ],
            "Object": [{"name": "domain-ip", "Attribute": [
                {"object_relation": "domain", "type": "domain", "value": "obj.example"},
                {"object_relation": "ip", "type": "ip-dst", "value": "198.51.100.3"},
                {"object_relation": "text", "type": "text", "value": "note"}
            ]}]
        }});
        let text = ev.to_string();
        let (f, b) = parse(&text, None).unwrap();
        assert_eq!(f, InputFormat::Misp);
        let got: Vec<String> = b.indicators.iter().map(|i| i.target.to_string()).collect();
        assert_eq!(
            got,
            ["bad.example", "2001:db8::5", "c2.example", "192.0.2.9", "dl.example.org", "obj.example", "198.51.100.3"]
        );
        assert_eq!(b.indicators[6].position, "Event.Object[0].Attribute[1]");
        assert_eq!(b.rejected_count, 1);
        assert_eq!(b.rejected[0].position, "Event.Attribute[4]");
        assert_eq!(b.ignored.get("md5"), Some(&1));
        assert_eq!(b.ignored.get("text"), Some(&1));
        // a search answer holding the same event
        let wrapped = serde_json::json!({"response": [ev]}).to_string();
        let (_, b2) = parse(&wrapped, Some(InputFormat::Misp)).unwrap();
        assert_eq!(b2.indicators.len(), 7);
        assert_eq!(b2.indicators[0].position, "response[0].Event.Attribute[0]");
        // the event our own export writes: rrname is text (ignored), bailiwick a domain
        assert!(parse("{not json", Some(InputFormat::Misp)).is_err());
    }

    #[test]
    fn stix_bundles_and_patterns() {
        let bundle = serde_json::json!({"type": "bundle", "id": "bundle--1", "objects": [
            {"type": "domain-name", "spec_version": "2.1", "id": "domain-name--x", "value": "sco.example"},
            {"type": "ipv4-addr", "id": "ipv4-addr--x", "value": "203.0.113.5"},
            {"type": "indicator", "pattern_type": "stix",
             "pattern": "[domain-name:value = 'a.example' OR domain-name:value = 'b.ex\\'ample'] OR [ipv4-addr:value ISSUBSET '10.0.0.0/8']"},
            {"type": "indicator", "pattern": "[url:value = 'http://c.example/x'] FOLLOWEDBY [ipv6-addr:value IN ('2001:db8::1', '2001:db8::2')] WITHIN 300 SECONDS"},
            {"type": "indicator", "pattern": "[domain-name:value LIKE '%.d.example']"},
            {"type": "indicator", "pattern": "[file:hashes.MD5 = 'abc']"},
            {"type": "indicator", "pattern_type": "snort", "pattern": "alert tcp any any"},
            {"type": "malware", "id": "malware--x"}
        ]});
        let (f, b) = parse(&bundle.to_string(), None).unwrap();
        assert_eq!(f, InputFormat::Stix);
        let got: Vec<String> = b.indicators.iter().map(|i| i.target.to_string()).collect();
        // b.ex'ample is not a host name: rejected
        assert_eq!(
            got,
            ["sco.example", "203.0.113.5", "a.example", "10.0.0.0/8", "c.example", "2001:db8::1", "2001:db8::2"]
        );
        let reasons: Vec<(&str, &str)> = b.rejected.iter().map(|r| (r.position.as_str(), r.reason.as_str())).collect();
        assert_eq!(reasons.len(), 4, "{reasons:?}");
        assert_eq!(reasons[0].0, "objects[2] pattern comparison 2");
        assert!(reasons[1].1.contains("operator LIKE"), "{reasons:?}");
        assert!(reasons[2].1.contains("no comparison"), "{reasons:?}");
        assert!(reasons[3].1.contains("snort"), "{reasons:?}");
        assert_eq!(b.ignored.get("malware"), Some(&1));
        assert_eq!(b.ignored.get("pattern file:hashes.MD5"), Some(&1));
        assert_eq!(b.rejected_count, 4);
    }

    #[test]
    fn sniffing() {
        assert_eq!(InputFormat::sniff("example.com\n"), InputFormat::Text);
        assert_eq!(InputFormat::sniff(" {\"Event\": {}}"), InputFormat::Misp);
        assert_eq!(InputFormat::sniff("{\"type\":\"bundle\",\"objects\":[]}"), InputFormat::Stix);
    }
}
