//! Zeek `dns.log`, in Zeek's tab-separated ASCII layout and in its JSON layout
//! (`LogAscii::use_json`).
//!
//! The record is `DNS::Info` of Zeek's `base/protocols/dns/main.zeek` (documented in the Zeek
//! manual, "Logs → dns.log"); the ASCII layout is that of Zeek's ASCII writer and formatter
//! (`src/threading/formatters/Ascii.cc`); the examples in the tests follow the dns.log
//! baselines of Zeek's test suite (`testing/btest/Baseline/scripts.base.protocols.dns.*`).
//!
//! **TSV** is header-driven: `#separator \x09` (hex-escaped), then `#set_separator`,
//! `#empty_field`, `#unset_field`, `#path`, `#open`, `#fields`, `#types`; `#close` at the end.
//! Columns are found by name in `#fields` (`ts`, `query`, `qclass`, `qtype`/`qtype_name`,
//! `rcode`/`rcode_name`, `AA`, `TC`, `RA`, `answers`, `TTLs`, `rejected`, `opcode`), never by
//! position. [`LineParser::prime`] reads the header at the start of the file (chunks after the
//! first carry none); a `#fields` line met later (concatenated logs) replaces it from there on.
//! Values are unescaped (`\xNN`); the unset (`-`) and empty (`(empty)`) markers are compared
//! before unescaping, as the writer escapes values that would equal them.
//! **JSON** lines carry the same fields as keys; `ts` is epoch seconds (a float), epoch
//! milliseconds (`JSON::TS_MILLIS`) or ISO 8601 (`JSON::TS_ISO8601`).
//!
//! **Rebuilding RRsets.** `answers` is the answer section in order and `TTLs` the parallel TTLs,
//! but the record *types* and *owners* are not logged. Zeek renders an A/AAAA record as the
//! address, NS/CNAME/PTR as the name, MX as the exchange only, SRV as the target only, SOA as
//! the MNAME only, TXT/SPF as `TXT <len> <string>` per string (joined by blanks), and other
//! types as fixed texts (`RRSIG <type> <signer>`, `DS 8 2`, `NSEC3`, `<unknown type=N>`, …)
//! or not at all (CAA, HINFO, SVCB/HTTPS). The rule applied:
//! - addresses are A/AAAA, `TXT …`/`SPF …` are rebuilt exactly, both owned by the current owner
//!   (the query name at first);
//! - a bare name is a CNAME owned by the current owner and moves it to the target — unless the
//!   query type is one whose data Zeek prints as a bare name (NS, PTR, MX, SRV, SOA): then
//!   the name is that type's data, owned by the current owner. NS and PTR become wire rdata;
//!   MX, SRV and SOA keep only the name, as text ([`Rdata::Text`]). Exception: a PTR answer that
//!   is itself a reverse-zone name (`…in-addr.arpa`, `…ip6.arpa`) is a CNAME (RFC 2317
//!   classless delegation), as PTR targets are host names. Known limit: a CNAME at the query
//!   name of an NS/PTR/MX/SRV/SOA query is taken as that type's data;
//! - when the query type is not logged (a reply seen without its query), a name is a CNAME only
//!   if an address or TXT/SPF follows it, otherwise it is dropped; for ANY (and MAILA/MAILB)
//!   names are dropped, the types being unknowable; zone transfers are skipped;
//! - everything else (DNSSEC summaries, unknown types, dynamic-update texts) is dropped.
//!
//! One observation per (owner, type) RRset, with the smallest TTL of the set. No bailiwick
//! (Zeek does not record the zone that answered). Times: `ts` (the query's time).
//!
//! Skipped: header lines, records without a query name, `rejected=T`, opcodes other than
//! QUERY, records without reply (rcode unset and no answers), classes other than IN, zone
//! transfers, and — unless `SourceOptions::negative` — NXDOMAIN and NODATA (see
//! [`crate::suricata`] for when an empty NOERROR is NODATA). Sensor: `SourceOptions::sensor`
//! (dns.log has no sensor name).

use std::borrow::Cow;

use dnsledger_model::{Observation, RrType};

use crate::sensorlog::{
    epoch_from_f64, finish_response, is_meta_qtype, json_text, parse_epoch, parse_ipv4, parse_time, set_base, set_name,
    unescape_hex, Escapes, Outcome, Rcode, Rrsets, Scalar, Text,
};
use crate::{parse_u64, LineOutcome, LineParser, ParseError, SourceOptions};

/// Column indexes of the fields used, from `#fields`.
#[derive(Debug, Clone, Default)]
struct Cols {
    ts: Option<usize>,
    query: Option<usize>,
    qclass: Option<usize>,
    qtype: Option<usize>,
    qtype_name: Option<usize>,
    rcode: Option<usize>,
    rcode_name: Option<usize>,
    aa: Option<usize>,
    tc: Option<usize>,
    ra: Option<usize>,
    answers: Option<usize>,
    ttls: Option<usize>,
    rejected: Option<usize>,
    opcode: Option<usize>,
}

/// What the `#` header lines of a TSV log said.
#[derive(Debug, Clone)]
struct Header {
    sep: Vec<u8>,
    set_sep: Vec<u8>,
    empty: Vec<u8>,
    unset: Vec<u8>,
    /// Number of columns; 0 until a `#fields` line was seen.
    nfields: usize,
    cols: Cols,
}

impl Default for Header {
    fn default() -> Header {
        Header {
            sep: b"\t".to_vec(),
            set_sep: b",".to_vec(),
            empty: b"(empty)".to_vec(),
            unset: b"-".to_vec(),
            nfields: 0,
            cols: Cols::default(),
        }
    }
}

impl Header {
    /// Applies one `#` line.
    fn directive(&mut self, line: &[u8]) {
        if let Some(v) = line.strip_prefix(b"#separator ") {
            let mut sep = Vec::new();
            unescape_hex(v, true, &mut sep);
            if !sep.is_empty() {
                self.sep = sep;
            }
            return;
        }
        let Some(p) = find_sep(line, &self.sep) else { return };
        let (key, value) = (&line[..p], &line[p + self.sep.len()..]);
        match key {
            b"#set_separator" => {
                let mut s = Vec::new();
                unescape_hex(value, true, &mut s);
                if !s.is_empty() {
                    self.set_sep = s;
                }
            }
            b"#empty_field" => self.empty = value.to_vec(),
            b"#unset_field" => self.unset = value.to_vec(),
            b"#fields" => {
                let mut cols = Cols::default();
                let mut n = 0;
                for (i, name) in split(value, &self.sep).enumerate() {
                    n = i + 1;
                    let slot = match name {
                        b"ts" => &mut cols.ts,
                        b"query" => &mut cols.query,
                        b"qclass" => &mut cols.qclass,
                        b"qtype" => &mut cols.qtype,
                        b"qtype_name" => &mut cols.qtype_name,
                        b"rcode" => &mut cols.rcode,
                        b"rcode_name" => &mut cols.rcode_name,
                        b"AA" => &mut cols.aa,
                        b"TC" => &mut cols.tc,
                        b"RA" => &mut cols.ra,
                        b"answers" => &mut cols.answers,
                        b"TTLs" => &mut cols.ttls,
                        b"rejected" => &mut cols.rejected,
                        b"opcode" => &mut cols.opcode,
                        _ => continue,
                    };
                    *slot = Some(i);
                }
                self.cols = cols;
                self.nfields = n;
            }
            _ => {}
        }
    }
}

/// The first `sep` in `hay` (one-byte separators, the usual case, without a substring searcher).
fn find_sep(hay: &[u8], sep: &[u8]) -> Option<usize> {
    match sep {
        [c] => memchr::memchr(*c, hay),
        _ => memchr::memmem::find(hay, sep),
    }
}

/// `b` split at every `sep` (a non-empty separator).
fn split<'a>(b: &'a [u8], sep: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(b);
    std::iter::from_fn(move || {
        let r = rest?;
        match find_sep(r, sep) {
            Some(p) if !sep.is_empty() => {
                rest = r.get(p + sep.len()..);
                Some(&r[..p])
            }
            _ => {
                rest = None;
                Some(r)
            }
        }
    })
}

/// What an answer string is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    V4([u8; 4]),
    V6([u8; 16]),
    /// A name (bytes in the arena).
    Name,
    /// An empty string.
    Empty,
    /// TXT rdata in wire form (in the arena).
    Txt,
    /// SPF rdata in wire form (in the arena).
    Spf,
    /// Something Zeek summarises without its data.
    Other,
}

/// One answer string, classified.
#[derive(Debug, Clone, Copy)]
struct Val {
    kind: Kind,
    ttl: Option<u32>,
    start: usize,
    end: usize,
}

/// Texts Zeek's DNS scripts write for records whose data they do not log.
const SUMMARIES: [&[u8]; 14] = [
    b"<unknown type=",
    b"RRSIG ",
    b"DNSKEY ",
    b"NSEC ",
    b"DS ",
    b"NAPTR ",
    b"SSHFP: ",
    b"LOC: ",
    b"pre: ",
    b"del: ",
    b"add: ",
    b"A ",
    b"AAAA ",
    b"A6 ",
];

/// Appends the wire form of `TXT <len> <string>[ TXT <len> <string>…]` (with `tag` = `TXT `
/// or `SPF `) to `out`; false (and `out` unchanged) if `v` is not exactly that.
fn strings_wire(v: &[u8], tag: &[u8], out: &mut Vec<u8>) -> bool {
    let start = out.len();
    let mut rest = v;
    let ok = loop {
        let Some(r) = rest.strip_prefix(tag) else { break false };
        let Some(sp) = memchr::memchr(b' ', r) else { break false };
        let Some(len) = parse_u64(&r[..sp]).and_then(|l| u8::try_from(l).ok()) else { break false };
        let Some(body) = r.get(sp + 1..sp + 1 + len as usize) else { break false };
        out.push(len);
        out.extend_from_slice(body);
        rest = &r[sp + 1 + len as usize..];
        if rest.is_empty() {
            break true;
        }
        match rest.strip_prefix(b" ") {
            Some(r) => rest = r,
            None => break false,
        }
    };
    if !ok {
        out.truncate(start);
    }
    ok
}

/// True for names in the reverse-mapping zones.
fn is_reverse(name: &[u8]) -> bool {
    let n = name.strip_suffix(b".").unwrap_or(name);
    let lower = |suffix: &[u8]| n.len() >= suffix.len() && n[n.len() - suffix.len()..].eq_ignore_ascii_case(suffix);
    lower(b".in-addr.arpa") || lower(b".ip6.arpa")
}

/// Classifies one answer string (already unescaped, in `arena` from `start` to its end).
fn add_val(arena: &mut Vec<u8>, vals: &mut Vec<Val>, start: usize, ttl: Option<u32>) {
    let end = arena.len();
    let v = &arena[start..end];
    let kind = if v.is_empty() {
        Kind::Empty
    } else if let Some(ip) = parse_ipv4(v) {
        Kind::V4(ip)
    } else if let Some(ip) = memchr::memchr(b':', v)
        .and_then(|_| std::str::from_utf8(v).ok())
        .and_then(|s| s.parse::<std::net::Ipv6Addr>().ok())
    {
        Kind::V6(ip.octets())
    } else if v.starts_with(b"TXT ") || v.starts_with(b"SPF ") {
        let (tag, kind): (&[u8], Kind) = if v[0] == b'T' { (b"TXT ", Kind::Txt) } else { (b"SPF ", Kind::Spf) };
        // the wire form goes after the text; the value then spans just the wire form
        let mut w = Vec::new();
        if strings_wire(v, tag, &mut w) {
            arena.extend_from_slice(&w);
            vals.push(Val { kind, ttl, start: end, end: arena.len() });
            return;
        }
        Kind::Other
    } else if v == b"NSEC3"
        || v == b"NSEC3PARAM"
        || v == b"BIND9 signing signal"
        || SUMMARIES.iter().any(|p| v.starts_with(p))
    {
        Kind::Other
    } else {
        Kind::Name
    };
    vals.push(Val { kind, ttl, start, end });
}

/// A name field: borrowed when it has no escapes; `empty` stands for the root.
fn name_field<'x>(v: &'x [u8], empty: &[u8]) -> Cow<'x, [u8]> {
    if v == empty {
        Cow::Borrowed(&[])
    } else if memchr::memchr(b'\\', v).is_none() {
        Cow::Borrowed(v)
    } else {
        let mut q = Vec::new();
        unescape_hex(v, true, &mut q);
        Cow::Owned(q)
    }
}

/// How bare names in the answers are read, by query type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameRule {
    /// A CNAME that moves the owner.
    Cname,
    /// Data of this type, owned by the current owner.
    Data(RrType),
    /// Unknowable: dropped.
    Drop,
    /// A CNAME if an address or TXT/SPF follows, else dropped (query type unknown).
    CnameIfDataFollows,
}

/// The fields of one record, from either layout.
struct Fields<'x> {
    ts: u64,
    query: Option<Cow<'x, [u8]>>,
    qclass: Option<u64>,
    qtype: Option<RrType>,
    rcode: Option<Rcode>,
    aa: bool,
    tc: bool,
    ra: bool,
    rejected: bool,
    opcode: Option<u64>,
}

/// Parser for Zeek dns.log lines (TSV with header, or JSON).
pub struct ZeekParser {
    sensor: Option<String>,
    negative: bool,
    obs: Observation,
    hdr: Header,
    spans: Vec<(usize, usize)>,
    sets: Rrsets,
    vals: Vec<Val>,
    arena: Vec<u8>,
}

impl ZeekParser {
    /// A parser honouring `opts.sensor` and `opts.negative`.
    pub fn new(opts: &SourceOptions) -> ZeekParser {
        ZeekParser {
            sensor: opts.sensor.clone(),
            negative: opts.negative,
            obs: Observation::default(),
            hdr: Header::default(),
            spans: Vec::new(),
            sets: Rrsets::default(),
            vals: Vec::new(),
            arena: Vec::new(),
        }
    }

    /// Turns the classified answers into records of `self.sets`, starting at owner `q`.
    fn resolve(&mut self, q: usize, qtype: Option<RrType>) -> Result<(), ParseError> {
        let rule = match qtype {
            None => NameRule::CnameIfDataFollows,
            Some(t) if is_meta_qtype(t) => NameRule::Drop,
            Some(t @ (RrType::NS | RrType::PTR | RrType::MX | RrType::SRV | RrType::SOA)) => NameRule::Data(t),
            Some(_) => NameRule::Cname,
        };
        let last_data =
            self.vals.iter().rposition(|v| matches!(v.kind, Kind::V4(_) | Kind::V6(_) | Kind::Txt | Kind::Spf));
        let mut cur = q;
        for i in 0..self.vals.len() {
            let v = self.vals[i];
            let bytes = &self.arena[v.start..v.end];
            match v.kind {
                Kind::V4(ip) => self.sets.push_wire(cur, RrType::A, v.ttl, &ip),
                Kind::V6(ip) => self.sets.push_wire(cur, RrType::AAAA, v.ttl, &ip),
                Kind::Txt => self.sets.push_wire(cur, RrType::TXT, v.ttl, bytes),
                Kind::Spf => self.sets.push_wire(cur, RrType::SPF, v.ttl, bytes),
                Kind::Other => {}
                Kind::Name | Kind::Empty => {
                    let as_cname = match rule {
                        NameRule::Cname => true,
                        NameRule::CnameIfDataFollows => last_data.is_some_and(|l| i < l),
                        NameRule::Data(RrType::PTR) => is_reverse(bytes),
                        NameRule::Data(_) | NameRule::Drop => false,
                    };
                    let data_type = match rule {
                        NameRule::Data(t) if !as_cname => Some(t),
                        _ => None,
                    };
                    if (!as_cname && data_type.is_none()) || (as_cname && v.kind == Kind::Empty) {
                        continue;
                    }
                    let bad = |e: dnsledger_model::NameError| {
                        ParseError::new("bad rdata", format!("{e}: {:?}", String::from_utf8_lossy(bytes)))
                    };
                    set_name(&mut self.sets.scratch.name, bytes, Escapes::Raw, &mut self.sets.scratch.buf)
                        .map_err(bad)?;
                    match data_type {
                        Some(t) => {
                            let lossy = !matches!(t, RrType::NS | RrType::PTR);
                            self.sets.push_scratch_name(cur, t, v.ttl, lossy);
                        }
                        None => {
                            self.sets.push_scratch_name(cur, RrType::CNAME, v.ttl, false);
                            cur = self.sets.owner_from_scratch();
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Everything after the fields were read and the answers classified.
    fn process(&mut self, f: Fields<'_>, emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        if f.opcode.is_some_and(|op| op != 0) {
            return Ok(LineOutcome::Skipped("not a standard query"));
        }
        if f.rejected {
            return Ok(LineOutcome::Skipped("rejected query"));
        }
        let Some(query) = f.query else {
            return Ok(LineOutcome::Skipped("no query"));
        };
        if f.rcode.is_none() && self.vals.is_empty() {
            return Ok(LineOutcome::Skipped("unanswered query"));
        }
        if f.qclass.is_some_and(|c| c & 0x7fff != 1) {
            return Ok(LineOutcome::Skipped("not class IN"));
        }
        if f.qtype.is_some_and(|t| matches!(t.0, 251 | 252)) {
            return Ok(LineOutcome::Skipped("zone transfer"));
        }
        set_base(&mut self.obs, f.ts, self.sensor.as_deref());
        self.sets.clear();
        let q = self
            .sets
            .owner(&query, Escapes::Raw)
            .map_err(|e| ParseError::new("bad rrname", format!("query {e}: {:?}", String::from_utf8_lossy(&query))))?;
        if let Err(e) = self.resolve(q, f.qtype) {
            self.sets.clear();
            return Err(e);
        }
        let o = Outcome {
            rcode: f.rcode.unwrap_or(Rcode::NoError),
            qtype: f.qtype,
            empty: self.vals.is_empty(),
            definitive: f.aa || f.ra,
            truncated: f.tc,
        };
        Ok(finish_response(&mut self.sets, Some(q), &o, self.negative, &mut self.obs, emit))
    }

    /// A TSV record.
    fn tsv(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let hdr = &self.hdr;
        if hdr.nfields == 0 {
            return Err(ParseError::new(
                "missing header",
                "a tab-separated dns.log record before any #fields header line",
            ));
        }
        self.spans.clear();
        let mut start = 0;
        if let [c] = hdr.sep.as_slice() {
            for p in memchr::memchr_iter(*c, line) {
                self.spans.push((start, p));
                start = p + 1;
            }
        } else {
            while let Some(p) = line.get(start..).and_then(|rest| find_sep(rest, &hdr.sep)) {
                self.spans.push((start, start + p));
                start += p + hdr.sep.len().max(1);
            }
        }
        self.spans.push((start.min(line.len()), line.len()));
        if self.spans.len() != hdr.nfields {
            return Err(ParseError::new(
                "wrong field count",
                format!("{} fields, the #fields header names {}", self.spans.len(), hdr.nfields),
            ));
        }
        let spans = &self.spans;
        // a set value (None if the column is absent or the value unset)
        let get = |col: Option<usize>| -> Option<&[u8]> {
            let &(a, b) = spans.get(col?)?;
            let v = &line[a..b];
            (v != hdr.unset.as_slice()).then_some(v)
        };
        let num = |col: Option<usize>, name: &str| -> Result<Option<u64>, ParseError> {
            match get(col) {
                None => Ok(None),
                Some(v) => parse_u64(v)
                    .map(Some)
                    .ok_or_else(|| ParseError::new("bad field", format!("{name}: {:?}", String::from_utf8_lossy(v)))),
            }
        };
        let flag = |col: Option<usize>| get(col) == Some(b"T");
        let c = &hdr.cols;
        let ts_text = get(c.ts).ok_or_else(|| ParseError::new("missing field", "ts"))?;
        let ts = parse_epoch(ts_text)
            .ok_or_else(|| ParseError::new("bad time", format!("ts: {:?}", String::from_utf8_lossy(ts_text))))?;
        let qtype = match (num(c.qtype, "qtype")?, get(c.qtype_name)) {
            (Some(t), _) => {
                Some(RrType(u16::try_from(t).map_err(|_| ParseError::new("bad field", format!("qtype: {t}")))?))
            }
            (None, Some(name)) => RrType::parse_bytes(name),
            (None, None) => None,
        };
        let rcode = match (num(c.rcode, "rcode")?, get(c.rcode_name)) {
            (Some(r), _) => Some(Rcode::from_num(r)),
            (None, Some(name)) => Some(Rcode::from_name(&String::from_utf8_lossy(name))),
            (None, None) => None,
        };
        let query = get(c.query).map(|v| name_field(v, &hdr.empty));
        let f = Fields {
            ts,
            query,
            qclass: num(c.qclass, "qclass")?,
            qtype,
            rcode,
            aa: flag(c.aa),
            tc: flag(c.tc),
            ra: flag(c.ra),
            rejected: flag(c.rejected),
            opcode: num(c.opcode, "opcode")?,
        };
        // answers and their TTLs
        self.vals.clear();
        self.arena.clear();
        let answers = get(c.answers).filter(|v| *v != hdr.empty.as_slice());
        if let Some(answers) = answers {
            let mut ttls = get(c.ttls).filter(|v| *v != hdr.empty.as_slice()).map(|t| split(t, &hdr.set_sep));
            for a in split(answers, &hdr.set_sep) {
                let ttl = ttls.as_mut().and_then(Iterator::next).and_then(parse_epoch).map(clamp_ttl);
                let start = self.arena.len();
                if a != hdr.empty.as_slice() {
                    unescape_hex(a, true, &mut self.arena);
                }
                add_val(&mut self.arena, &mut self.vals, start, ttl);
            }
        }
        self.process(f, emit)
    }

    /// A JSON record.
    fn json(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let r: JsonRec<'_> =
            serde_json::from_str(json_text(line)?).map_err(|e| ParseError::new("bad json", e.to_string()))?;
        let ts = r.ts.as_ref().ok_or_else(|| ParseError::new("missing field", "ts"))?;
        let ts = json_time(ts).ok_or_else(|| ParseError::new("bad time", format!("ts: {ts:?}")))?;
        let qtype = match (r.qtype, r.qtype_name.as_deref()) {
            (Some(t), _) => {
                Some(RrType(u16::try_from(t).map_err(|_| ParseError::new("bad field", format!("qtype: {t}")))?))
            }
            (None, Some(name)) => RrType::parse_bytes(name.as_bytes()),
            (None, None) => None,
        };
        let rcode = match (r.rcode, r.rcode_name.as_deref()) {
            (Some(n), _) => Some(Rcode::from_num(n)),
            (None, Some(name)) => Some(Rcode::from_name(name)),
            (None, None) => None,
        };
        let query = r.query.as_deref().map(|q| name_field(q.as_bytes(), b""));
        self.vals.clear();
        self.arena.clear();
        let ttls = r.ttls.as_deref().unwrap_or(&[]);
        for (i, a) in r.answers.iter().flatten().enumerate() {
            let start = self.arena.len();
            unescape_hex(a.as_bytes(), true, &mut self.arena);
            let ttl = ttls.get(i).and_then(|&t| epoch_from_f64(t)).map(clamp_ttl);
            add_val(&mut self.arena, &mut self.vals, start, ttl);
        }
        let f = Fields {
            ts,
            query,
            qclass: r.qclass,
            qtype,
            rcode,
            aa: r.aa,
            tc: r.tc,
            ra: r.ra,
            rejected: r.rejected,
            opcode: r.opcode,
        };
        self.process(f, emit)
    }
}

/// A TTL as a u32 (an interval above 2^32-1 cannot come from the wire).
fn clamp_ttl(t: u64) -> u32 {
    u32::try_from(t).unwrap_or(u32::MAX)
}

/// Epoch seconds from a JSON `ts`: seconds (float), milliseconds (integer), or ISO 8601.
fn json_time(n: &Scalar<'_>) -> Option<u64> {
    // 10^11 seconds is the year 5138: a larger integer is milliseconds
    const MILLIS: u64 = 100_000_000_000;
    match n {
        Scalar::U(u) if *u >= MILLIS => Some(u / 1000),
        Scalar::U(u) => Some(*u),
        Scalar::F(f) if *f >= MILLIS as f64 => epoch_from_f64(f / 1000.0),
        Scalar::F(f) => epoch_from_f64(*f),
        Scalar::S(s) if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') => parse_epoch(s.as_bytes()),
        Scalar::S(s) => parse_time(s.as_bytes()),
        Scalar::I(_) | Scalar::Other => None,
    }
}

#[derive(serde::Deserialize)]
struct JsonRec<'a> {
    #[serde(borrow)]
    ts: Option<Scalar<'a>>,
    #[serde(borrow)]
    query: Option<Text<'a>>,
    qclass: Option<u64>,
    qtype: Option<u64>,
    #[serde(borrow)]
    qtype_name: Option<Text<'a>>,
    rcode: Option<u64>,
    #[serde(borrow)]
    rcode_name: Option<Text<'a>>,
    #[serde(rename = "AA", default)]
    aa: bool,
    #[serde(rename = "TC", default)]
    tc: bool,
    #[serde(rename = "RA", default)]
    ra: bool,
    #[serde(default)]
    rejected: bool,
    opcode: Option<u64>,
    #[serde(borrow)]
    answers: Option<Vec<Text<'a>>>,
    #[serde(rename = "TTLs")]
    ttls: Option<Vec<f64>>,
}

impl LineParser for ZeekParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match line.first() {
            None => Ok(LineOutcome::Skipped("empty line")),
            Some(b'#') => {
                self.hdr.directive(line);
                Ok(LineOutcome::Skipped("header"))
            }
            Some(b'{') => self.json(line, emit),
            Some(_) if line.trim_ascii().is_empty() => Ok(LineOutcome::Skipped("empty line")),
            Some(_) => self.tsv(line, emit),
        }
    }

    fn prime(&mut self, head: &[u8]) {
        self.hdr = Header::default();
        for line in head.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            match line.first() {
                None => continue,
                Some(b'#') => self.hdr.directive(line),
                Some(_) => break,
            }
        }
    }
}

/// True if the input sample starts like a Zeek TSV log (its first line is `#separator …`).
/// Gets the whole sample, not just one line.
pub fn sniff(sample: &[u8]) -> bool {
    let first = sample.split(|&b| b == b'\n').next().unwrap_or(&[]);
    first.starts_with(b"#separator ") || first.starts_with(b"#fields\t")
}

/// True if a JSON `line` looks like a Zeek dns.log JSON record.
pub fn sniff_json(line: &[u8]) -> bool {
    use crate::sensorlog::has_key;
    has_key(line, b"uid")
        && has_key(line, b"id.orig_h")
        && (has_key(line, b"query") || has_key(line, b"qtype_name") || has_key(line, b"trans_id"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Negative, Rdata};

    // Header exactly as Zeek's ASCII writer writes it for dns.log (field list of current Zeek,
    // as in testing/btest/Baseline/scripts.base.protocols.dns.*/dns.log).
    const HEAD: &str = "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tdns\n#open\t2024-01-15-10-00-00\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\ttrans_id\trtt\tquery\tqclass\tqclass_name\tqtype\tqtype_name\trcode\trcode_name\tAA\tTC\tRD\tRA\tZ\tanswers\tTTLs\trejected\topcode\topcode_name\n#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tcount\tinterval\tstring\tcount\tstring\tcount\tstring\tcount\tstring\tbool\tbool\tbool\tbool\tcount\tvector[string]\tvector[interval]\tbool\tcount\tstring\n";

    /// A TSV record: `rest` holds the fields from `query` to `TTLs`, tab-separated.
    fn rec(query_to_ttls: &str) -> String {
        format!("1705312800.123456\tCHhAvVGS1DHFjwGM9\t192.0.2.7\t53012\t192.0.2.53\t53\tudp\t4711\t0.012000\t{query_to_ttls}\tF\t0\tquery")
    }

    fn parser(negative: bool) -> ZeekParser {
        let mut p = ZeekParser::new(&SourceOptions { negative, sensor: Some("zeek-1".into()), ..Default::default() });
        p.prime(HEAD.as_bytes());
        p
    }

    fn run(p: &mut ZeekParser, line: &str) -> Result<(LineOutcome, Vec<Observation>), ParseError> {
        let mut out = Vec::new();
        let r = p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone()))?;
        Ok((r, out))
    }

    fn obs(line: &str) -> Vec<Observation> {
        let (r, v) = run(&mut parser(false), line).unwrap();
        assert_eq!(r, LineOutcome::Observations(v.len() as u32), "{line}");
        v
    }

    fn skip(line: &str, negative: bool) -> &'static str {
        match run(&mut parser(negative), line).unwrap() {
            (LineOutcome::Skipped(why), v) if v.is_empty() => why,
            other => panic!("not skipped: {:?} {:?}", other.0, other.1),
        }
    }

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    fn present(o: &Observation) -> Vec<String> {
        let mut v: Vec<String> = o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect();
        v.sort();
        v
    }

    fn summary(v: &[Observation]) -> Vec<(String, RrType, Vec<String>, Option<u32>)> {
        v.iter().map(|o| (o.rrname.to_string(), o.rrtype, present(o), o.ttl)).collect()
    }

    #[test]
    fn cname_chain_to_addresses() {
        let v = obs(&rec("www.example.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tcdn.example.net,edge.example.net,192.0.2.10,192.0.2.11\t3600.000000,300.000000,60.000000,30.000000"));
        assert_eq!(
            summary(&v),
            [
                ("www.example.org.".into(), RrType::CNAME, vec!["cdn.example.net.".into()], Some(3600)),
                ("cdn.example.net.".into(), RrType::CNAME, vec!["edge.example.net.".into()], Some(300)),
                ("edge.example.net.".into(), RrType::A, vec!["192.0.2.10".into(), "192.0.2.11".into()], Some(30)),
            ]
        );
        for o in &v {
            assert_eq!((o.time_first, o.time_last, o.count, o.zone), (1705312800, 1705312800, 1, false));
            assert_eq!((o.sensor.as_deref(), o.bailiwick.as_ref(), o.negative), (Some("zeek-1"), None, None));
        }
    }

    #[test]
    fn rrsig_and_summaries_are_dropped() {
        // like the duplicate-reponses baseline: a signed CNAME chain
        let v = obs(&rec("www.example.edu\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tT\tF\tF\tF\t1\twww-x.example.edu,RRSIG 5 example.edu,www-y.example.edu,192.0.2.163\t86400.000000,86400.000000,5.000000,21600.000000"));
        assert_eq!(
            summary(&v),
            [
                ("www.example.edu.".into(), RrType::CNAME, vec!["www-x.example.edu.".into()], Some(86400)),
                ("www-x.example.edu.".into(), RrType::CNAME, vec!["www-y.example.edu.".into()], Some(5)),
                ("www-y.example.edu.".into(), RrType::A, vec!["192.0.2.163".into()], Some(21600)),
            ]
        );
        // nothing usable: DS summaries only
        let l = rec("example.edu\t1\tC_INTERNET\t43\tDS\t0\tNOERROR\tF\tF\tT\tT\t2\tDS 5 1,DS 5 2,RRSIG 43 edu\t5.000000,5.000000,5.000000");
        assert_eq!(skip(&l, false), "no usable answers");
    }

    #[test]
    fn txt_and_spf_rebuilt_exactly() {
        // multi-string TXT record behind a CNAME, query type unknown (as in the
        // multiple-txt-strings baseline), and an escaped tab and comma inside a string
        let v = obs(&rec("sel._domainkey.example.com\t-\t-\t-\t-\t0\tNOERROR\tT\tF\tF\tF\t0\tsel._domainkey.example.net,TXT 10 k=rsa; p=A TXT 5 B\\x2cC\\x09D\t900.000000,7200.000000"));
        assert_eq!(v.len(), 2);
        assert_eq!((v[0].rrtype, v[0].rrname.clone()), (RrType::CNAME, n("sel._domainkey.example.com")));
        assert_eq!((v[1].rrtype, v[1].rrname.clone()), (RrType::TXT, n("sel._domainkey.example.net")));
        assert_eq!(v[1].rdata.as_slice(), &[Rdata::Wire(b"\x0ak=rsa; p=A\x05B,C\tD".to_vec())]);
        let v = obs(&rec("mail.example.net\t1\tC_INTERNET\t99\tSPF\t0\tNOERROR\tF\tF\tF\tT\t0\tSPF 19 v=spf1 mx -all test,SPF 0 \t300.000000,300.000000"));
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].rrtype, RrType::SPF);
        assert!(v[0].rdata.contains(&Rdata::Wire(b"\x13v=spf1 mx -all test".to_vec())));
        assert!(v[0].rdata.contains(&Rdata::Wire(b"\x00".to_vec())));
        // a TXT rendering whose length does not match is not rebuilt
        let l = rec("t.example\t1\tC_INTERNET\t16\tTXT\t0\tNOERROR\tF\tF\tF\tT\t0\tTXT 99 short\t300.000000");
        assert_eq!(skip(&l, false), "no usable answers");
    }

    #[test]
    fn name_typed_queries() {
        let v = obs(&rec("example.org\t1\tC_INTERNET\t15\tMX\t0\tNOERROR\tF\tF\tT\tT\t0\tmx1.example.org,mx2.example.org\t300.000000,300.000000"));
        assert_eq!(
            summary(&v),
            [(
                "example.org.".into(),
                RrType::MX,
                vec!["mx1.example.org.".into(), "mx2.example.org.".into()],
                Some(300)
            )]
        );
        assert!(matches!(v[0].rdata[0], Rdata::Text(_)));
        let v = obs(&rec("example.org\t1\tC_INTERNET\t2\tNS\t0\tNOERROR\tT\tF\tF\tF\t0\tns1.example.org,ns2.example.net\t86400.000000,86400.000000"));
        assert_eq!(v[0].rrtype, RrType::NS);
        assert!(v[0].rdata.contains(&Rdata::name(&n("ns2.example.net"))));
        // RFC 2317: the reverse-zone answer is a CNAME, the host name its PTR
        let v = obs(&rec("10.2.0.192.in-addr.arpa\t1\tC_INTERNET\t12\tPTR\t0\tNOERROR\tF\tF\tT\tT\t0\t10.0-25.2.0.192.in-addr.arpa,host.example.org\t600.000000,600.000000"));
        assert_eq!(
            summary(&v),
            [
                (
                    "10.2.0.192.in-addr.arpa.".into(),
                    RrType::CNAME,
                    vec!["10.0-25.2.0.192.in-addr.arpa.".into()],
                    Some(600)
                ),
                ("10.0-25.2.0.192.in-addr.arpa.".into(), RrType::PTR, vec!["host.example.org.".into()], Some(600)),
            ]
        );
        // ANY: addresses belong to the query name, names are unknowable
        let v = obs(&rec("example.org\t1\tC_INTERNET\t255\t*\t0\tNOERROR\tT\tF\tF\tF\t0\tns1.example.org,192.0.2.1,2001:db8::1\t60.000000,60.000000,60.000000"));
        assert_eq!(v.iter().map(|o| o.rrtype).collect::<Vec<_>>(), [RrType::A, RrType::AAAA]);
        assert!(v.iter().all(|o| o.rrname == n("example.org")));
    }

    #[test]
    fn unknown_qtype_and_escapes() {
        // reply without query (as in the flip and mdns-no-assoc baselines): names followed by
        // an address are CNAMEs; a trailing name is dropped
        let v = obs(&rec("a.example\t-\t-\t-\t-\t0\tNOERROR\tT\tF\tF\tF\t0\tb.example,198.51.100.1,c.example\t120.000000,120.000000,120.000000"));
        assert_eq!(
            v.iter().map(|o| (o.rrname.to_string(), o.rrtype)).collect::<Vec<_>>(),
            [("a.example.".to_string(), RrType::CNAME), ("b.example.".to_string(), RrType::A)]
        );
        // \xNN escapes in the query name (a tab and a backslash)
        let v =
            obs(&rec("odd\\x09na\\x5cme.example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t5.000000"));
        assert_eq!(v[0].rrname.as_wire(), b"\x09odd\tna\\me\x07example\x00");
        // the root, written as the empty field
        let v = obs(&rec("(empty)\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t5.000000"));
        assert!(v[0].rrname.is_root());
    }

    #[test]
    fn negative_and_skipped() {
        let nx = rec("nope.example.org\t1\tC_INTERNET\t28\tAAAA\t3\tNXDOMAIN\tF\tF\tT\tT\t0\t-\t-");
        assert_eq!(skip(&nx, false), "negative answer");
        let (r, v) = run(&mut parser(true), &nx).unwrap();
        assert_eq!(r, LineOutcome::Observations(1));
        assert_eq!(
            (v[0].rrname.clone(), v[0].rrtype, v[0].negative),
            (n("nope.example.org"), RrType::AAAA, Some(Negative::NxDomain))
        );
        assert!(v[0].rdata.is_empty());
        let nodata = rec("example.org\t1\tC_INTERNET\t28\tAAAA\t0\tNOERROR\tF\tF\tT\tT\t0\t-\t-");
        let (_, v) = run(&mut parser(true), &nodata).unwrap();
        assert_eq!((v.len(), v[0].negative), (1, Some(Negative::NoData)));
        let referral = rec("example.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tF\tF\t0\t-\t-");
        assert_eq!(skip(&referral, true), "no answer");
        let unanswered = rec("example.org\t1\tC_INTERNET\t1\tA\t-\t-\tF\tF\tT\tF\t0\t-\t-");
        assert_eq!(skip(&unanswered, true), "unanswered query");
        let rejected = rec("example.org\t1\tC_INTERNET\t1\tA\t5\tREFUSED\tF\tF\tT\tF\t0\t-\t-")
            .replace("\tF\t0\tquery", "\tT\t0\tquery");
        assert_eq!(skip(&rejected, true), "rejected query");
        let servfail = rec("example.org\t1\tC_INTERNET\t1\tA\t2\tSERVFAIL\tF\tF\tT\tT\t0\t-\t-");
        assert_eq!(skip(&servfail, true), "error response");
        let update =
            rec("example.org\t-\t-\t-\t-\t0\tNOERROR\tF\tF\tF\tF\t0\tadd: A example.org 192.0.2.1\t1200.000000")
                .replace("\t0\tquery", "\t5\tdynamic-update");
        assert_eq!(skip(&update, true), "not a standard query");
        let noquery = rec("-\t-\t-\t-\t-\t0\tNOERROR\tF\tF\tF\tF\t0\t-\t-");
        assert_eq!(skip(&noquery, true), "no query");
        let chaos = rec("version.bind\t3\tC_CHAOS\t16\tTXT\t0\tNOERROR\tT\tF\tF\tF\t0\tTXT 5 9.9.9\t0.000000");
        assert_eq!(skip(&chaos, true), "not class IN");
        let axfr = rec("example.org\t1\tC_INTERNET\t252\tAXFR\t0\tNOERROR\tT\tF\tF\tF\t0\t192.0.2.1\t0.000000");
        assert_eq!(skip(&axfr, true), "zone transfer");
        for h in HEAD.lines() {
            assert_eq!(skip(h, false), "header");
        }
        assert_eq!(skip("#close\t2024-01-15-11-00-00", false), "header");
        assert_eq!(skip("", false), "empty line");
    }

    #[test]
    fn rejections() {
        let reason = |l: &str| run(&mut parser(false), l).unwrap_err().reason;
        let good = rec("a.example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t5.000000");
        assert_eq!(reason(&good.replace("1705312800.123456", "yesterday")), "bad time");
        assert_eq!(reason(&good.replace("\tudp\t", "\t")), "wrong field count");
        assert_eq!(reason(&good.replace("a.example", "a..example")), "bad rrname");
        assert_eq!(reason(&good.replace("\t1\tA\t", "\tx\tA\t")), "bad field");
        let cname =
            rec("a.example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tb..example,192.0.2.1\t5.000000,5.000000");
        assert_eq!(reason(&cname), "bad rdata");
        let mut fresh = ZeekParser::new(&SourceOptions::default());
        assert_eq!(fresh.parse_line(good.as_bytes(), &mut |_| {}).unwrap_err().reason, "missing header");
        assert_eq!(reason(r#"{"ts":1,"query":"#), "bad json");
        assert_eq!(
            reason(r#"{"query":"a.example","qtype":1,"rcode":0,"answers":["192.0.2.1"],"TTLs":[5.0]}"#),
            "missing field"
        );
    }

    #[test]
    fn header_in_the_middle_and_other_separators() {
        // no prime: the header arrives as lines (first chunk, or concatenated logs)
        let mut p = ZeekParser::new(&SourceOptions::default());
        for h in ["#separator |", "#set_separator|;", "#fields|ts|query|qtype|rcode|answers|TTLs"] {
            assert_eq!(p.parse_line(h.as_bytes(), &mut |_| {}).unwrap(), LineOutcome::Skipped("header"));
        }
        let (r, v) = run(&mut p, "1705312800.5|a.example|1|0|192.0.2.1;192.0.2.2|5.0;7.0").unwrap();
        assert_eq!(r, LineOutcome::Observations(1));
        assert_eq!(
            (present(&v[0]), v[0].ttl, v[0].sensor.clone()),
            (vec!["192.0.2.1".into(), "192.0.2.2".into()], Some(5), None)
        );
        // prime stops at the first record and ignores what follows it
        let mut p = ZeekParser::new(&SourceOptions::default());
        p.prime(
            format!(
                "{HEAD}{}\n#fields\tts\n",
                rec("a.example\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\t192.0.2.1\t5.000000")
            )
            .as_bytes(),
        );
        assert_eq!(p.hdr.nfields, 26);
    }

    #[test]
    fn json_records() {
        // shape of the JSON dns.log example in Zeek's manual (doc/reference/logs/dns.rst)
        let line = r#"{"ts":1705312800.78917,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"192.0.2.7","id.orig_p":36844,"id.resp_h":"192.0.2.53","id.resp_p":53,"proto":"udp","trans_id":20661,"rtt":0.038,"query":"www.example.org","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":2,"answers":["cdn.example.net","192.0.2.150","192.0.2.212"],"TTLs":[60.0,30.0,30.0],"rejected":false,"opcode":0,"opcode_name":"query"}"#;
        let v = obs(line);
        assert_eq!(
            summary(&v),
            [
                ("www.example.org.".into(), RrType::CNAME, vec!["cdn.example.net.".into()], Some(60)),
                ("cdn.example.net.".into(), RrType::A, vec!["192.0.2.150".into(), "192.0.2.212".into()], Some(30)),
            ]
        );
        assert_eq!(v[0].time_first, 1705312800);
        let iso = line.replace("1705312800.78917", "\"2024-01-15T10:00:00.789170Z\"");
        assert_eq!(obs(&iso)[0].time_first, 1705312800);
        let millis = line.replace("1705312800.78917", "1705312800789");
        assert_eq!(obs(&millis)[0].time_first, 1705312800);
        let query_only = r#"{"ts":1705312800.5,"uid":"C1","id.orig_h":"192.0.2.7","query":"zeek.org","qclass":1,"qtype":28,"qtype_name":"AAAA","AA":false,"TC":false,"RD":true,"RA":false,"Z":0,"rejected":false}"#;
        assert_eq!(skip(query_only, true), "unanswered query");
        assert!(sniff_json(line.as_bytes()));
        assert!(!sniff_json(br#"{"uid":"C1","id.orig_h":"192.0.2.7","conn_state":"SF"}"#));
    }

    #[test]
    fn sniffs() {
        assert!(sniff(HEAD.as_bytes()));
        assert!(!sniff(b"# a comment\n#separator \\x09\n"));
        assert!(!sniff(b"{\"ts\":1}"));
    }

    /// Deterministic pseudo-random mutations of valid lines: nothing may panic.
    #[test]
    fn mutated_lines_never_panic() {
        let samples = [
            rec("www.example.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tcdn.example.net,192.0.2.10,RRSIG 5 x,TXT 3 abc\t3600.000000,300.000000,1.0,2.0"),
            rec("10.2.0.192.in-addr.arpa\t1\tC_INTERNET\t12\tPTR\t3\tNXDOMAIN\tF\tF\tT\tT\t0\t10.0-25.2.0.192.in-addr.arpa,h\\x5c.example\t600.000000,600.000000"),
            r#"{"ts":1705312800.78917,"uid":"C","id.orig_h":"192.0.2.7","query":"a.example","qtype":16,"rcode":0,"AA":true,"answers":["b.example","TXT 2 hi SPF 1 x"],"TTLs":[60.0,30.0]}"#.to_string(),
        ];
        let samples: Vec<&str> = samples.iter().map(String::as_str).collect();
        for negative in [false, true] {
            let mut p = parser(negative);
            crate::testing::mutate_all(&samples, 3000, |line| {
                let _ = p.parse_line(line, &mut |_| {});
                p.prime(line);
            });
        }
    }

    /// Single-thread speed on a CNAME-to-A record; run with `--ignored --nocapture`.
    #[test]
    #[ignore]
    fn speed() {
        let line = rec("www.example.org\t1\tC_INTERNET\t1\tA\t0\tNOERROR\tF\tF\tT\tT\t0\tcdn.example.net,192.0.2.10,192.0.2.11\t3600.000000,300.000000,300.000000");
        let json = r#"{"ts":1705312800.78917,"uid":"CHhAvVGS1DHFjwGM9","id.orig_h":"192.0.2.7","id.orig_p":36844,"id.resp_h":"192.0.2.53","id.resp_p":53,"proto":"udp","trans_id":20661,"rtt":0.038,"query":"www.example.org","qclass":1,"qclass_name":"C_INTERNET","qtype":1,"qtype_name":"A","rcode":0,"rcode_name":"NOERROR","AA":false,"TC":false,"RD":true,"RA":true,"Z":2,"answers":["cdn.example.net","192.0.2.150","192.0.2.212"],"TTLs":[60.0,30.0,30.0],"rejected":false,"opcode":0,"opcode_name":"query"}"#;
        use crate::suricata::tests::{json_floor, per_line};
        let (tsv, obs) = per_line(&mut parser(false), &[line.as_bytes()]);
        let (js, _) = per_line(&mut parser(false), &[json.as_bytes()]);
        println!(
            "zeek: tsv {tsv:.0} ns/line of CPU ({obs} observations per 40k), json {js:.0} (JSON floor {:.0})",
            json_floor(&[json.as_bytes()])
        );
    }
}
