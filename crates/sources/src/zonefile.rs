//! RFC 1035 §5 zone (master) files, as BIND (`named-compilezone -o -`, hand-written zones),
//! NSD (`nsd-checkzone -p`) and `dig axfr` write them. Each RRset becomes one zone observation.
//!
//! Syntax read (RFC 1035 §5.1, RFC 2308 §4 for `$TTL`, RFC 3597 §5 for `\# len hex`):
//! - `$ORIGIN name` (a relative name is appended to the current origin), `$TTL ttl`,
//!   `$INCLUDE file [origin]` (see below); `$GENERATE` (a BIND extension) and unknown directives
//!   are rejected;
//! - owner names: absolute (trailing dot), relative (the current origin is appended), `@` (the
//!   origin), or omitted (the line starts with a blank: the previous record's owner);
//! - TTL and class in either order, both optional; TTLs in seconds or BIND units (`1h30m`, `2d`);
//!   classes IN, CH/CHAOS, HS/HESIOD, CS, NONE, `CLASS<n>`; only IN is kept: records of other
//!   classes are skipped (`class not IN`), an omitted class is the previous record's (IN at first);
//! - `(` … `)` spanning lines, `;` comments (not inside quoted strings or after a backslash),
//!   quoted strings with `\"`, `\\` and `\DDD` escapes (a quoted string must end on its line);
//! - rdata of every type [`Rdata::parse`] reads (A, AAAA, NS, CNAME, SOA, MX, TXT, SPF, PTR, SRV,
//!   NAPTR, CAA, DS, DNSKEY, RRSIG, NSEC, NSEC3, NSEC3PARAM, TLSA, SSHFP, SVCB, HTTPS, DNAME,
//!   HINFO, RP, LOC, URI, AFSDB, KX, RT, PX, MINFO, IPSECKEY, …), and RFC 3597 `\# len hex` for
//!   any type (`TYPE<n>` mnemonics too). Relative names inside rdata (NS/CNAME/PTR/DNAME targets,
//!   MX/AFSDB/KX/RT exchanges, SOA MNAME/RNAME, RP, MINFO, PX, SRV/SVCB/HTTPS targets, NAPTR
//!   replacement, NSEC next owner, RRSIG signer, IPSECKEY name gateway) are made absolute with the
//!   current origin first; unquoted TXT/SPF words are separate character-strings, as in zone files.
//!
//! TTL of a record without one (BIND's rules): the `$TTL` value if a `$TTL` line was seen, else
//! the previous record's TTL (RFC 1035), else for an SOA its MINIMUM field; otherwise the record
//! is rejected (`bad ttl`). The records of one RRset keep the first record's TTL (as BIND does).
//!
//! Observations: one per RRset — the records of one owner and type that follow each other in the
//! file; the same owner and type appearing again after other records becomes a separate
//! observation (zone files written by tools keep RRsets together). `zone` is true, both times are
//! `opts.zone_time` (default: the time the parser was created), `ttl` is the record's, `count` 1,
//! `sensor` is `opts.sensor`. The bailiwick is the zone apex: the owner of the last SOA record seen,
//! or before any SOA the origin given with `opts.origin`, else the first `$ORIGIN`; records whose
//! owner lies outside a known apex are skipped (`out of zone`, as BIND ignores them); with no apex
//! known at all the bailiwick is unknown (None).
//!
//! The parser is sequential and keeps state across lines (origin, TTLs, previous owner, an open
//! parenthesised record, the RRset being built). An RRset is emitted when a record of another
//! owner or type arrives, and by [`LineParser::finish`], which the pipeline calls after every chunk
//! of lines: it emits the RRset built so far but keeps the text of a record whose parentheses are
//! still open, so a record split across chunks is read whole. (An RRset whose records straddle a
//! chunk end is therefore emitted as two observations; the pipeline's chunks are 4 MiB.) Input
//! that ends inside parentheses leaves that record unread (nothing can tell the last chunk from
//! the others); an `$INCLUDE`d file that ends inside parentheses is rejected
//! (`unbalanced parenthesis`).
//!
//! `$INCLUDE` is refused (`include refused`) unless `opts.include_dir` is set; a relative path is
//! taken relative to that directory, and the file must resolve (symlinks and `..` followed) inside
//! it. Includes nest at most [`MAX_INCLUDE_DEPTH`] deep. The included file is read with the given
//! origin (or the current one), which is restored afterwards (RFC 1035 §5.1); `$TTL` set inside
//! stays in force. Its observations are emitted as part of the `$INCLUDE` line; if some of its
//! records are rejected, the `$INCLUDE` line is rejected with the first error prefixed by
//! `file:line:` and the number of further errors.

use std::path::{Path, PathBuf};

use dnsledger_model::time::Timestamp;
use dnsledger_model::{Name, Observation, Rdata, RrType};

use crate::{LineOutcome, LineParser, ParseError, SourceOptions};

/// How deep `$INCLUDE` files may nest.
pub const MAX_INCLUDE_DEPTH: u32 = 8;

/// Longest text of one parenthesised record before it is taken as an unclosed parenthesis.
const MAX_RECORD_BYTES: usize = 1 << 20;

/// One token of a record: a byte range of the record's text.
#[derive(Clone, Copy, Debug)]
struct Tok {
    start: usize,
    end: usize,
    quoted: bool,
}

/// The origin, TTL, class and apex state carried from record to record.
struct State {
    /// The current origin and its presentation form (with trailing dot).
    origin: Option<(Name, String)>,
    /// The `$TTL` value.
    default_ttl: Option<u32>,
    /// The previous record's TTL.
    last_ttl: Option<u32>,
    /// The previous record's class was IN.
    last_class_in: bool,
    /// The zone apex (the bailiwick of the records).
    apex: Option<Name>,
}

/// Parser for zone files (sequential: keeps state from line to line).
pub struct ZoneParser {
    sensor: Option<String>,
    zone_time: Timestamp,
    include_dir: Option<PathBuf>,
    include_depth: u32,
    st: State,
    /// The owner of the latest record (what a blank owner field stands for).
    owner: Name,
    has_owner: bool,
    /// Text of a record whose parentheses are still open, and its tokens so far.
    pending: Vec<u8>,
    pending_lines: u32,
    toks: Vec<Tok>,
    depth: u32,
    /// The RRset being built (valid if `building`).
    obs: Observation,
    building: bool,
    /// Scratch: rebuilt rdata text, and an absolutised name.
    text: String,
    name_buf: Vec<u8>,
}

impl ZoneParser {
    /// A parser with the options' origin, zone time (default: now), sensor and include directory.
    pub fn new(opts: &SourceOptions) -> ZoneParser {
        let origin = opts.origin.clone().map(|n| {
            let text = n.to_presentation();
            (n, text)
        });
        let st = State { apex: opts.origin.clone(), origin, default_ttl: None, last_ttl: None, last_class_in: true };
        ZoneParser {
            sensor: opts.sensor.clone(),
            zone_time: opts.zone_time.unwrap_or_else(dnsledger_model::time::now),
            include_dir: opts.include_dir.clone(),
            include_depth: 0,
            st,
            owner: Name::root(),
            has_owner: false,
            pending: Vec::new(),
            pending_lines: 0,
            toks: Vec::new(),
            depth: 0,
            obs: Observation::default(),
            building: false,
            text: String::new(),
            name_buf: Vec::new(),
        }
    }

    /// Drops a half-read parenthesised record.
    fn reset_record(&mut self) {
        self.pending.clear();
        self.pending_lines = 0;
        self.toks.clear();
        self.depth = 0;
    }

    /// One physical line (see [`LineParser::parse_line`]).
    fn line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if self.depth > 0 {
            let from = self.pending.len() + 1;
            self.pending.push(b'\n');
            self.pending.extend_from_slice(line);
            self.pending_lines += 1;
            if self.pending.len() > MAX_RECORD_BYTES {
                let lines = self.pending_lines;
                self.reset_record();
                return Err(ParseError::new(
                    "unbalanced parenthesis",
                    format!("a record spans {lines} lines and more than {MAX_RECORD_BYTES} bytes: missing ')'?"),
                ));
            }
            if let Err(e) = lex(&self.pending, from, &mut self.depth, &mut self.toks) {
                let lines = self.pending_lines;
                self.reset_record();
                return Err(began(e, lines));
            }
            if self.depth > 0 {
                return Ok(LineOutcome::Skipped("continued record"));
            }
            let buf = std::mem::take(&mut self.pending);
            let lines = self.pending_lines;
            let r = self.record(&buf, emit).map_err(|e| began(e, lines));
            self.pending = buf;
            self.reset_record();
            return r;
        }
        self.toks.clear();
        if let Err(e) = lex(line, 0, &mut self.depth, &mut self.toks) {
            self.reset_record();
            return Err(e);
        }
        if self.depth > 0 {
            self.pending.clear();
            self.pending.extend_from_slice(line);
            self.pending_lines = 0;
            return Ok(LineOutcome::Skipped("continued record"));
        }
        let r = self.record(line, emit);
        self.toks.clear();
        r
    }

    /// A complete record or directive whose tokens are in `self.toks`.
    fn record(&mut self, buf: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        let toks = std::mem::take(&mut self.toks);
        let r = self.record_toks(buf, &toks, emit);
        self.toks = toks;
        r
    }

    /// The work of [`ZoneParser::record`] on the record's text `buf` and its tokens.
    fn record_toks(
        &mut self,
        buf: &[u8],
        toks: &[Tok],
        emit: &mut dyn FnMut(&mut Observation),
    ) -> Result<LineOutcome, ParseError> {
        let text = |t: &Tok| buf.get(t.start..t.end).unwrap_or_default();
        let Some(first) = toks.first() else {
            let comment = buf.iter().find(|c| !c.is_ascii_whitespace()) == Some(&b';');
            return Ok(LineOutcome::Skipped(if comment { "comment" } else { "empty line" }));
        };
        let owner_blank = matches!(buf.first(), Some(b' ' | b'\t'));
        if !owner_blank && !first.quoted && text(first).first() == Some(&b'$') {
            return self.directive(buf, toks, emit);
        }
        // owner
        let mut i = 0;
        if owner_blank {
            if !self.has_owner {
                return Err(ParseError::new("bad rrname", "the record has no owner name and no record precedes it"));
            }
        } else {
            let t = text(first);
            absolutize(t, &self.st, &mut self.name_buf)
                .map_err(|e| ParseError::new("bad rrname", format!("owner {}: {e}", shown(t))))?;
            self.owner
                .set_from_presentation(&self.name_buf)
                .map_err(|e| ParseError::new("bad rrname", format!("owner {}: {e}", shown(&self.name_buf))))?;
            self.has_owner = true;
            i = 1;
        }
        // TTL and class, in either order
        let (mut ttl, mut class) = (None, None);
        while let Some(t) = toks.get(i).filter(|t| !t.quoted) {
            let t = text(t);
            if ttl.is_none() && t.first().is_some_and(u8::is_ascii_digit) {
                ttl = Some(parse_ttl(t).ok_or_else(|| ParseError::new("bad ttl", format!("bad TTL {}", shown(t))))?);
            } else if class.is_none() {
                match class_is_in(t) {
                    Some(is_in) => class = Some(is_in),
                    None => break,
                }
            } else {
                break;
            }
            i += 1;
        }
        let ty_tok = toks.get(i).ok_or_else(|| ParseError::new("missing field", "the record has no type"))?;
        let ty_text = text(ty_tok);
        let ty = RrType::parse_bytes(ty_text)
            .filter(|_| !ty_tok.quoted)
            .ok_or_else(|| ParseError::new("unknown rrtype", format!("unknown type {}", shown(ty_text))))?;
        let rdata_toks = toks.get(i + 1..).unwrap_or_default();
        let is_in = class.unwrap_or(self.st.last_class_in);
        self.st.last_class_in = is_in;
        if !is_in {
            if let Some(t) = ttl {
                self.st.last_ttl = Some(t);
            }
            return Ok(LineOutcome::Skipped("class not IN"));
        }
        if rdata_toks.is_empty() {
            return Err(ParseError::new("bad rdata", format!("{ty} record without rdata")));
        }
        self.rdata_text(buf, ty, rdata_toks)?;
        let rd = Rdata::parse(ty, &self.text)
            .map_err(|e| ParseError::new("bad rdata", format!("{e}: {}", shown(self.text.as_bytes()))))?;
        let ttl = match ttl.or(self.st.default_ttl).or(self.st.last_ttl) {
            Some(t) => t,
            None if ty == RrType::SOA => {
                soa_minimum(&rd).ok_or_else(|| ParseError::new("bad rdata", "SOA rdata without MINIMUM"))?
            }
            None => {
                return Err(ParseError::new(
                    "bad ttl",
                    "the record has no TTL and there is no $TTL or earlier record to take it from",
                ))
            }
        };
        self.st.last_ttl = Some(ttl);
        if ty == RrType::SOA && self.st.apex.as_ref() != Some(&self.owner) {
            self.st.apex = Some(self.owner.clone());
        }
        if let Some(apex) = &self.st.apex {
            if !self.owner.is_subdomain_of(apex) {
                return Ok(LineOutcome::Skipped("out of zone"));
            }
        }
        let mut n = 0;
        if !(self.building && self.obs.rrtype == ty && self.obs.rrname == self.owner) {
            n = self.flush(emit);
            let o = &mut self.obs;
            o.rrname.clone_from(&self.owner);
            o.rrtype = ty;
            o.rdata.clear();
            o.bailiwick.clone_from(&self.st.apex);
            o.time_first = self.zone_time;
            o.time_last = self.zone_time;
            o.zone = true;
            o.ttl = Some(ttl);
            o.count = 1;
            o.negative = None;
            if o.sensor != self.sensor {
                o.sensor.clone_from(&self.sensor);
            }
            self.building = true;
        }
        self.obs.rdata.push(rd);
        Ok(LineOutcome::Observations(n))
    }

    /// Emits the RRset being built, if any; returns how many observations were emitted.
    fn flush(&mut self, emit: &mut dyn FnMut(&mut Observation)) -> u32 {
        if !self.building {
            return 0;
        }
        self.building = false;
        emit(&mut self.obs);
        1
    }

    /// Rebuilds the rdata text for [`Rdata::parse`]: relative names made absolute, unquoted
    /// TXT words quoted, comments and parentheses gone.
    fn rdata_text(&mut self, buf: &[u8], ty: RrType, toks: &[Tok]) -> Result<(), ParseError> {
        self.text.clear();
        let text = |t: &Tok| buf.get(t.start..t.end).unwrap_or_default();
        let generic = toks.first().is_some_and(|t| !t.quoted && text(t) == b"\\#");
        let names: &[usize] = if generic { &[] } else { name_fields(ty, toks.get(1).map(text)) };
        let quote_words = !generic && matches!(ty, RrType::TXT | RrType::SPF);
        for (k, t) in toks.iter().enumerate() {
            let raw = text(t);
            if k > 0 {
                self.text.push(' ');
            }
            if !t.quoted && names.contains(&k) {
                absolutize(raw, &self.st, &mut self.name_buf)
                    .map_err(|e| ParseError::new("bad rdata", format!("{ty} name {}: {e}", shown(raw))))?;
                push_utf8(&mut self.text, &self.name_buf)?;
            } else if quote_words && memchr::memchr(b'"', raw).is_none() {
                self.text.push('"');
                push_utf8(&mut self.text, raw)?;
                self.text.push('"');
            } else {
                push_utf8(&mut self.text, raw)?;
            }
        }
        Ok(())
    }

    /// `$ORIGIN`, `$TTL`, `$INCLUDE`.
    fn directive(
        &mut self,
        buf: &[u8],
        toks: &[Tok],
        emit: &mut dyn FnMut(&mut Observation),
    ) -> Result<LineOutcome, ParseError> {
        let text = |t: &Tok| buf.get(t.start..t.end).unwrap_or_default();
        let name = toks.first().map(text).unwrap_or_default();
        let args = toks.get(1..).unwrap_or_default();
        let arg = |k: usize, what: &str| {
            args.get(k).map(text).ok_or_else(|| {
                ParseError::new("bad directive", format!("{} needs {what}", String::from_utf8_lossy(name)))
            })
        };
        let at_most = |k: usize| {
            if args.len() > k {
                Err(ParseError::new(
                    "bad directive",
                    format!("{} takes at most {k} argument(s), got {}", String::from_utf8_lossy(name), args.len()),
                ))
            } else {
                Ok(())
            }
        };
        if name.eq_ignore_ascii_case(b"$ORIGIN") {
            let t = arg(0, "a domain name")?;
            at_most(1)?;
            let origin =
                self.absolute_name(t).map_err(|e| ParseError::new("bad directive", format!("$ORIGIN: {e}")))?;
            if self.st.apex.is_none() {
                self.st.apex = Some(origin.clone());
            }
            let text = origin.to_presentation();
            self.st.origin = Some((origin, text));
            Ok(LineOutcome::Skipped("directive"))
        } else if name.eq_ignore_ascii_case(b"$TTL") {
            let t = arg(0, "a TTL")?;
            at_most(1)?;
            let ttl = parse_ttl(t).ok_or_else(|| ParseError::new("bad ttl", format!("$TTL {}", shown(t))))?;
            self.st.default_ttl = Some(ttl);
            Ok(LineOutcome::Skipped("directive"))
        } else if name.eq_ignore_ascii_case(b"$INCLUDE") {
            let file = args
                .first()
                .map(|t| {
                    let raw = text(t);
                    if t.quoted {
                        raw.get(1..raw.len().saturating_sub(1)).unwrap_or_default()
                    } else {
                        raw
                    }
                })
                .ok_or_else(|| ParseError::new("bad directive", "$INCLUDE needs a file name"))?;
            at_most(2)?;
            let origin = match args.get(1).map(text) {
                Some(t) => Some(
                    self.absolute_name(t)
                        .map_err(|e| ParseError::new("bad directive", format!("$INCLUDE origin: {e}")))?,
                ),
                None => None,
            };
            let file = String::from_utf8_lossy(file).into_owned();
            self.include(&file, origin, emit)
        } else if name.eq_ignore_ascii_case(b"$GENERATE") {
            Err(ParseError::new("bad directive", "$GENERATE (a BIND extension) is not supported"))
        } else {
            Err(ParseError::new("bad directive", format!("unknown directive {}", shown(name))))
        }
    }

    /// A name from a directive argument, made absolute with the current origin.
    fn absolute_name(&mut self, t: &[u8]) -> Result<Name, String> {
        absolutize(t, &self.st, &mut self.name_buf).map_err(|e| format!("{}: {e}", shown(t)))?;
        let mut n = Name::root();
        n.set_from_presentation(&self.name_buf).map_err(|e| format!("{}: {e}", shown(&self.name_buf)))?;
        Ok(n)
    }

    /// Reads an `$INCLUDE`d file (see the module documentation for the rules).
    fn include(
        &mut self,
        file: &str,
        origin: Option<Name>,
        emit: &mut dyn FnMut(&mut Observation),
    ) -> Result<LineOutcome, ParseError> {
        let Some(dir) = self.include_dir.clone() else {
            return Err(ParseError::new(
                "include refused",
                format!("$INCLUDE {file:?} refused: pass --allow-include DIR to read included files from DIR"),
            ));
        };
        if self.include_depth >= MAX_INCLUDE_DEPTH {
            return Err(ParseError::new(
                "include refused",
                format!("$INCLUDE {file:?}: includes nest deeper than {MAX_INCLUDE_DEPTH}"),
            ));
        }
        let path = resolve_include(&dir, file)?;
        let bytes = std::fs::read(&path)
            .map_err(|e| ParseError::new("include failed", format!("$INCLUDE {file:?}: {}: {e}", path.display())))?;
        let saved_origin = self.st.origin.clone();
        if let Some(o) = origin {
            let text = o.to_presentation();
            self.st.origin = Some((o, text));
        }
        self.include_depth += 1;
        let (mut n, mut errors, mut first) = (0u32, 0u64, None);
        let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        let mut last_line = 0;
        for (k, line) in body.split(|&b| b == b'\n').enumerate() {
            last_line = k + 1;
            match self.line(line, emit) {
                Ok(LineOutcome::Observations(m)) => n += m,
                Ok(LineOutcome::Skipped(_)) => {}
                Err(e) => {
                    errors += 1;
                    if first.is_none() {
                        first = Some(ParseError::new(e.reason, format!("{file}:{}: {}", k + 1, e.detail)));
                    }
                }
            }
        }
        if self.depth > 0 {
            self.reset_record();
            errors += 1;
            if first.is_none() {
                first = Some(ParseError::new(
                    "unbalanced parenthesis",
                    format!("{file}:{last_line}: the file ends inside parentheses"),
                ));
            }
        }
        self.include_depth -= 1;
        self.st.origin = saved_origin;
        match first {
            None => Ok(LineOutcome::Observations(n)),
            Some(mut e) => {
                if errors > 1 {
                    e.detail.push_str(&format!(" (and {} more rejected lines in {file})", errors - 1));
                }
                Err(e)
            }
        }
    }
}

/// The canonical path of an included file, which must lie inside `dir`.
fn resolve_include(dir: &Path, file: &str) -> Result<PathBuf, ParseError> {
    let failed = |what: String| ParseError::new("include failed", what);
    let dir = std::fs::canonicalize(dir)
        .map_err(|e| failed(format!("$INCLUDE {file:?}: include directory {}: {e}", dir.display())))?;
    let path = std::fs::canonicalize(dir.join(file)).map_err(|e| failed(format!("$INCLUDE {file:?}: {e}")))?;
    if !path.starts_with(&dir) {
        return Err(ParseError::new(
            "include refused",
            format!(
                "$INCLUDE {file:?} resolves to {}, outside the allowed directory {}",
                path.display(),
                dir.display()
            ),
        ));
    }
    if !path.is_file() {
        return Err(failed(format!("$INCLUDE {file:?}: {} is not a file", path.display())));
    }
    Ok(path)
}

/// Prefixes an error of a record that began `lines` lines above with that fact.
fn began(mut e: ParseError, lines: u32) -> ParseError {
    if lines > 0 {
        e.detail.push_str(&format!(" (in the record that began {lines} lines above)"));
    }
    e
}

/// Appends `b` to `s` if it is UTF-8 (rdata text must be).
fn push_utf8(s: &mut String, b: &[u8]) -> Result<(), ParseError> {
    let t = std::str::from_utf8(b).map_err(|_| ParseError::new("bad rdata", format!("not UTF-8: {}", shown(b))))?;
    s.push_str(t);
    Ok(())
}

/// At most 60 bytes of `b`, quoted, for error messages.
fn shown(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b.get(..60).unwrap_or(b));
    if b.len() > 60 {
        format!("{s:?}…")
    } else {
        format!("{s:?}")
    }
}

/// Splits `buf[from..]` into tokens, tracking parenthesis depth across calls.
fn lex(buf: &[u8], from: usize, depth: &mut u32, toks: &mut Vec<Tok>) -> Result<(), ParseError> {
    let mut i = from;
    while let Some(&c) = buf.get(i) {
        match c {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b';' => match memchr::memchr(b'\n', buf.get(i..).unwrap_or_default()) {
                Some(p) => i += p,
                None => return Ok(()),
            },
            b'(' => {
                *depth += 1;
                i += 1;
            }
            b')' => {
                if *depth == 0 {
                    return Err(ParseError::new("unbalanced parenthesis", "')' without '('"));
                }
                *depth -= 1;
                i += 1;
            }
            _ => {
                // a token; double quotes group blanks and specials until the closing quote,
                // also inside a token (`alpn="h2,h3"`)
                let start = i;
                let mut in_quotes = false;
                while let Some(&c) = buf.get(i) {
                    match c {
                        b'\\' => i = (i + 2).min(buf.len()),
                        b'"' => {
                            in_quotes = !in_quotes;
                            i += 1;
                        }
                        b'\n' if in_quotes => break,
                        _ if in_quotes => i += 1,
                        b' ' | b'\t' | b'\r' | b'\n' | b';' | b'(' | b')' => break,
                        _ => i += 1,
                    }
                }
                if in_quotes {
                    return Err(ParseError::new(
                        "unterminated string",
                        format!(
                            "a quoted string does not end on its line: {}",
                            shown(buf.get(start..i).unwrap_or_default())
                        ),
                    ));
                }
                toks.push(Tok { start, end: i, quoted: buf.get(start) == Some(&b'"') });
            }
        }
    }
    Ok(())
}

/// True if a presentation name ends with an unescaped dot (is fully qualified).
fn is_absolute(t: &[u8]) -> bool {
    match t.split_last() {
        Some((b'.', rest)) => rest.iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0,
        _ => false,
    }
}

/// Writes `t` as an absolute name into `out`: `@` is the origin, relative names get it appended.
fn absolutize(t: &[u8], st: &State, out: &mut Vec<u8>) -> Result<(), &'static str> {
    out.clear();
    if is_absolute(t) {
        out.extend_from_slice(t);
        return Ok(());
    }
    let (_, origin) = st.origin.as_ref().ok_or("relative name with no origin (no $ORIGIN line, no --origin)")?;
    if t == b"@" {
        out.extend_from_slice(origin.as_bytes());
        return Ok(());
    }
    out.extend_from_slice(t);
    if origin != "." {
        out.push(b'.');
    }
    out.extend_from_slice(origin.as_bytes());
    Ok(())
}

/// `Some(true)` for class IN, `Some(false)` for another class, `None` if `t` is not a class.
fn class_is_in(t: &[u8]) -> Option<bool> {
    const OTHERS: [&[u8]; 6] = [b"CH", b"CHAOS", b"HS", b"HESIOD", b"CS", b"NONE"];
    if t.eq_ignore_ascii_case(b"IN") {
        return Some(true);
    }
    if OTHERS.iter().any(|c| t.eq_ignore_ascii_case(c)) {
        return Some(false);
    }
    let digits = t.get(..5).filter(|p| p.eq_ignore_ascii_case(b"CLASS")).and(t.get(5..))?;
    let n = crate::parse_u64(digits).filter(|&n| n <= 65535)?;
    Some(n == 1)
}

/// A TTL in seconds or with BIND units (`1w2d3h4m5s`, any order, case-insensitive).
fn parse_ttl(t: &[u8]) -> Option<u32> {
    if let Some(v) = crate::parse_u64(t) {
        return u32::try_from(v).ok();
    }
    let (mut total, mut num) = (0u64, None::<u64>);
    for &c in t {
        if c.is_ascii_digit() {
            num = Some(num.unwrap_or(0).checked_mul(10)?.checked_add(u64::from(c - b'0'))?);
            continue;
        }
        let unit = match c.to_ascii_lowercase() {
            b'w' => 604_800,
            b'd' => 86_400,
            b'h' => 3_600,
            b'm' => 60,
            b's' => 1,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
    }
    if num.is_some() {
        return None;
    }
    u32::try_from(total).ok()
}

/// The MINIMUM field of SOA rdata (its last four octets).
fn soa_minimum(rd: &Rdata) -> Option<u32> {
    let b = rd.bytes();
    let tail: [u8; 4] = b.get(b.len().checked_sub(4)?..)?.try_into().ok()?;
    Some(u32::from_be_bytes(tail))
}

/// Positions (among the rdata fields) of the domain names a type's rdata holds; `second` is the
/// second field (IPSECKEY has a name only for gateway type 3).
fn name_fields(ty: RrType, second: Option<&[u8]>) -> &'static [usize] {
    match ty {
        RrType::NS
        | RrType::MD
        | RrType::MF
        | RrType::CNAME
        | RrType::MB
        | RrType::MG
        | RrType::MR
        | RrType::PTR
        | RrType::DNAME
        | RrType::NSEC => &[0],
        RrType::SOA | RrType::MINFO | RrType::RP => &[0, 1],
        RrType::MX | RrType::AFSDB | RrType::RT | RrType::KX | RrType::SVCB | RrType::HTTPS => &[1],
        RrType::PX => &[1, 2],
        RrType::SRV => &[3],
        RrType::NAPTR => &[5],
        RrType::RRSIG | RrType::SIG => &[7],
        RrType::IPSECKEY if second == Some(b"3") => &[3],
        _ => &[],
    }
}

impl LineParser for ZoneParser {
    fn parse_line(&mut self, line: &[u8], emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        self.line(line, emit)
    }

    /// Emits the RRset built so far; keeps the text of a record whose parentheses are open.
    fn finish(&mut self, emit: &mut dyn FnMut(&mut Observation)) -> Result<LineOutcome, ParseError> {
        Ok(LineOutcome::Observations(self.flush(emit)))
    }
}

/// True if one of the first few non-blank, non-comment lines of `sample` is a `$ORIGIN` or `$TTL`
/// directive or an SOA record (`owner [ttl] [class] SOA …`, or with a blank owner).
pub fn sniff(sample: &[u8]) -> bool {
    let mut seen = 0;
    for line in sample.split(|&b| b == b'\n') {
        let content = line.split(|&b| b == b';').next().unwrap_or_default();
        let trimmed = content.trim_ascii();
        if trimmed.is_empty() || trimmed.starts_with(b"#") {
            continue;
        }
        seen += 1;
        if seen > 5 {
            return false;
        }
        let mut words = trimmed.split(|c| c.is_ascii_whitespace()).filter(|w| !w.is_empty());
        let Some(first) = words.next() else { continue };
        if first.eq_ignore_ascii_case(b"$ORIGIN") || first.eq_ignore_ascii_case(b"$TTL") {
            return words.next().is_some();
        }
        // owner (absent when the line starts with a blank), then TTL/class, then SOA
        let owner_blank = matches!(line.first(), Some(b' ' | b'\t'));
        let mut w = first;
        let mut rest = words;
        if !owner_blank {
            if first.starts_with(b"{") || first.starts_with(b"\"") {
                continue;
            }
            match rest.next() {
                Some(x) => w = x,
                None => continue,
            }
        }
        for _ in 0..2 {
            let ttl_or_class = parse_ttl(w).is_some() || class_is_in(w).is_some();
            if !ttl_or_class {
                break;
            }
            match rest.next() {
                Some(x) => w = x,
                None => break,
            }
        }
        if w.eq_ignore_ascii_case(b"SOA") && rest.next().is_some() {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Timestamp = 1_700_000_000;

    fn opts() -> SourceOptions {
        SourceOptions { sensor: Some("zones".into()), zone_time: Some(T), ..Default::default() }
    }

    /// Parses `text` line by line; returns observations (after `finish`), outcomes and errors.
    fn run_with(opts: &SourceOptions, text: &str) -> (Vec<Observation>, Vec<Result<LineOutcome, ParseError>>) {
        let mut p = ZoneParser::new(opts);
        let mut out = Vec::new();
        let mut outcomes = Vec::new();
        for line in text.lines() {
            outcomes.push(p.parse_line(line.as_bytes(), &mut |o| out.push(o.clone())));
        }
        let f = p.finish(&mut |o| out.push(o.clone()));
        assert!(f.is_ok());
        (out, outcomes)
    }

    fn run(text: &str) -> Vec<Observation> {
        let (obs, outcomes) = run_with(&opts(), text);
        for o in &outcomes {
            assert!(o.is_ok(), "{o:?}");
        }
        obs
    }

    fn errors(text: &str) -> Vec<ParseError> {
        run_with(&opts(), text).1.into_iter().filter_map(Result::err).collect()
    }

    /// (owner, type, ttl, rdata...) of an observation.
    fn show(o: &Observation) -> String {
        let rd: Vec<String> = o.rdata.iter().map(|r| r.to_presentation(o.rrtype)).collect();
        let ty = o.rrtype.mnemonic().map(str::to_string).unwrap_or_else(|| format!("TYPE{}", o.rrtype.0));
        format!("{} {} {} {}", o.rrname, o.ttl.unwrap_or(0), ty, rd.join(" | "))
    }

    fn shows(obs: &[Observation]) -> Vec<String> {
        obs.iter().map(show).collect()
    }

    // A hand-written BIND-style zone: $ORIGIN/$TTL, @, relative names, blank owners, TTL units,
    // class/TTL in both orders, a parenthesised SOA with comments, quoted strings with escapes.
    const BIND_ZONE: &str = r#"; example.com zone, BIND master file style
$ORIGIN example.com.
$TTL 1h
@   IN  SOA ns1 hostmaster (
        2024010101 ; serial
        2h         ; refresh
        15m        ; retry
        2w         ; expire
        300 )      ; minimum
    IN  NS  ns1
    IN  NS  ns2.example.net.
    IN  MX  10 mail
    IN  MX  20 mail.backup.example.org.
    IN  TXT "v=spf1 mx -all"
ns1 300 IN A 192.0.2.53
ns1 IN 300 AAAA 2001:db8::53
mail        A   192.0.2.25
www     1h30m   CNAME   @
ftp     CNAME   www
txt     TXT "semi;colon" "quote\"d" back\\slash "\065BC" unquoted words
_sip._udp   SRV 0 5 5060 sip
sip     A   192.0.2.60
sub     NS  ns.sub
ns.sub  A   192.0.2.70
ptr     PTR host.example.net.
"#;

    #[test]
    fn reads_a_bind_style_zone() {
        let obs = run(BIND_ZONE);
        assert_eq!(
            shows(&obs),
            [
                "example.com. 3600 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 900 1209600 300",
                "example.com. 3600 NS ns1.example.com. | ns2.example.net.",
                "example.com. 3600 MX 10 mail.example.com. | 20 mail.backup.example.org.",
                "example.com. 3600 TXT \"v=spf1 mx -all\"",
                "ns1.example.com. 300 A 192.0.2.53",
                "ns1.example.com. 300 AAAA 2001:db8::53",
                "mail.example.com. 3600 A 192.0.2.25",
                "www.example.com. 5400 CNAME example.com.",
                "ftp.example.com. 3600 CNAME www.example.com.",
                "txt.example.com. 3600 TXT \"semi;colon\" \"quote\\\"d\" \"back\\\\slash\" \"ABC\" \"unquoted\" \"words\"",
                "_sip._udp.example.com. 3600 SRV 0 5 5060 sip.example.com.",
                "sip.example.com. 3600 A 192.0.2.60",
                "sub.example.com. 3600 NS ns.sub.example.com.",
                "ns.sub.example.com. 3600 A 192.0.2.70",
                "ptr.example.com. 3600 PTR host.example.net.",
            ]
        );
        for o in &obs {
            assert!(o.zone);
            assert_eq!((o.time_first, o.time_last, o.count), (T, T, 1));
            assert_eq!(o.bailiwick.as_ref().map(Name::to_string).as_deref(), Some("example.com."));
            assert_eq!(o.sensor.as_deref(), Some("zones"));
            assert_eq!(o.negative, None);
        }
    }

    #[test]
    fn line_outcomes_and_rrset_emission_points() {
        let text = "$ORIGIN example.org.\n$TTL 60\n\n; comment\n@ SOA ns h 1 2 3 4 5\n@ NS a\n  NS b\nx A 192.0.2.1\nx (\n A\n 192.0.2.2 )\n";
        let (obs, outcomes) = run_with(&opts(), text);
        let outcomes: Vec<_> = outcomes.into_iter().map(Result::unwrap).collect();
        use LineOutcome::*;
        assert_eq!(
            outcomes,
            [
                Skipped("directive"),
                Skipped("directive"),
                Skipped("empty line"),
                Skipped("comment"),
                Observations(0),
                Observations(1), // the SOA RRset is complete when NS starts
                Observations(0),
                Observations(1), // NS RRset
                Skipped("continued record"),
                Skipped("continued record"),
                Observations(0), // same RRset as x A 192.0.2.1
            ]
        );
        // finish emitted the last RRset
        assert_eq!(shows(&obs).last().map(String::as_str), Some("x.example.org. 60 A 192.0.2.1 | 192.0.2.2"));
        assert_eq!(obs.len(), 3);
    }

    #[test]
    fn noncontiguous_rrset_records_are_separate_observations() {
        let obs = run("$ORIGIN a.example.\n$TTL 5\nx A 192.0.2.1\ny A 192.0.2.3\nx A 192.0.2.2\n");
        assert_eq!(
            shows(&obs),
            ["x.a.example. 5 A 192.0.2.1", "y.a.example. 5 A 192.0.2.3", "x.a.example. 5 A 192.0.2.2"]
        );
    }

    #[test]
    fn ttl_defaults() {
        // no $TTL: the previous record's TTL (RFC 1035); SOA without any: its MINIMUM
        let obs = run("$ORIGIN t.example.\n@ IN SOA ns h 1 2 3 4 77\na A 192.0.2.1\nb 10 A 192.0.2.2\nc A 192.0.2.3\n");
        assert_eq!(obs.iter().map(|o| o.ttl.unwrap_or(0)).collect::<Vec<_>>(), [77, 77, 10, 10]);
        // with $TTL, records without TTL take $TTL, not the previous explicit one
        let obs = run("$ORIGIN t.example.\n$TTL 2d\na 10 A 192.0.2.1\nb A 192.0.2.2\n");
        assert_eq!(obs.iter().map(|o| o.ttl.unwrap_or(0)).collect::<Vec<_>>(), [10, 172800]);
        // an RRset keeps its first record's TTL
        let obs = run("$ORIGIN t.example.\na 10 A 192.0.2.1\na 20 A 192.0.2.2\n");
        assert_eq!(shows(&obs), ["a.t.example. 10 A 192.0.2.1 | 192.0.2.2"]);
        // nothing to take a TTL from
        let e = errors("$ORIGIN t.example.\na A 192.0.2.1\n");
        assert_eq!((e.len(), e[0].reason), (1, "bad ttl"));
    }

    #[test]
    fn origin_rules() {
        // relative $ORIGIN, @ in rdata, $ORIGIN root, names with escaped dots
        let obs =
            run("$TTL 1\n$ORIGIN example.\n$ORIGIN sub\nw CNAME @\na\\.b A 192.0.2.2\nc\\\\.example. A 192.0.2.3\n");
        assert_eq!(
            shows(&obs),
            ["w.sub.example. 1 CNAME sub.example.", "a\\.b.sub.example. 1 A 192.0.2.2", "c\\\\.example. 1 A 192.0.2.3"]
        );
        // the root as origin
        let obs = run("$TTL 1\n$ORIGIN .\nroot-rel A 192.0.2.1\n");
        assert_eq!(shows(&obs), ["root-rel. 1 A 192.0.2.1"]);
        assert_eq!(obs[0].bailiwick.as_ref().map(Name::to_string).as_deref(), Some("."));
        // opts.origin is the origin before any $ORIGIN, and the apex
        let o = SourceOptions { origin: Name::from_presentation("zone.example").ok(), ..opts() };
        let (obs, _) = run_with(&o, "$TTL 9\n@ NS ns\nwww A 192.0.2.9\n");
        assert_eq!(shows(&obs), ["zone.example. 9 NS ns.zone.example.", "www.zone.example. 9 A 192.0.2.9"]);
        assert!(obs.iter().all(|o| o.bailiwick.as_ref().map(Name::to_string).as_deref() == Some("zone.example.")));
        // relative names without any origin
        let e = errors("$TTL 1\nwww A 192.0.2.1\n");
        assert_eq!(e[0].reason, "bad rrname");
        assert!(e[0].detail.contains("relative name with no origin"), "{}", e[0]);
        let e = errors("$TTL 1\nwww.example. CNAME other\n");
        assert_eq!(e[0].reason, "bad rdata");
        assert!(e[0].detail.contains("relative name with no origin"), "{}", e[0]);
        // absolute names only: fine without origin, bailiwick unknown
        let obs = run("$TTL 1\nwww.example. CNAME other.example.\n");
        assert_eq!((obs.len(), obs[0].bailiwick.is_none()), (1, true));
    }

    #[test]
    fn bailiwick_and_out_of_zone_data() {
        let text = "$ORIGIN example.net.\n$TTL 60\nbefore A 192.0.2.1\n@ SOA ns h 1 2 3 4 5\nin A 192.0.2.2\nns.other.example. A 192.0.2.3\n$ORIGIN example.org.\n@ SOA ns h 1 2 3 4 5\nx A 192.0.2.4\n";
        let (obs, outcomes) = run_with(&opts(), text);
        assert_eq!(outcomes.get(5), Some(&Ok(LineOutcome::Skipped("out of zone"))));
        let got: Vec<(String, Option<String>)> =
            obs.iter().map(|o| (o.rrname.to_string(), o.bailiwick.as_ref().map(Name::to_string))).collect();
        let b = |s: &str| Some(s.to_string());
        assert_eq!(
            got,
            [
                ("before.example.net.".into(), b("example.net.")),
                ("example.net.".into(), b("example.net.")),
                ("in.example.net.".into(), b("example.net.")),
                ("example.org.".into(), b("example.org.")),
                ("x.example.org.".into(), b("example.org.")),
            ]
        );
    }

    // Shaped like `named-compilezone -o -` / `dig axfr` output of a DNSSEC-signed zone: absolute
    // names, explicit TTL and class on every line, tabs, RRSIG dates, split base64, NSEC3.
    const SIGNED_ZONE: &str =
        "signed.example.\t\t3600\tIN SOA\tns1.signed.example. admin.signed.example. 7 3600 900 604800 300
signed.example.\t\t3600\tIN RRSIG\tSOA 13 2 3600 20240201000000 20240101000000 4711 signed.example. AQIDBAUG ( BwgJCgsM
\t\t\t\t\tDQ4PEA== )
signed.example.\t\t3600\tIN NS\tns1.signed.example.
signed.example.\t\t3600\tIN DNSKEY\t257 3 13 (
\t\t\t\tAwEAAa2b3c4d5e6f7g8h9i0j ; key id = 4711
\t\t\t\tQUJDREVGR0g= )
signed.example.\t\t3600\tIN DNSKEY\t256 3 ECDSAP256SHA256 AwEAAbbbbbbb
signed.example.\t\t3600\tIN NSEC3PARAM 1 0 0 -
signed.example.\t\t3600\tIN CDS\t4711 13 2 0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9
child.signed.example.\t3600\tIN DS\t12345 8 2 49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD
child.signed.example.\t3600\tIN NS\tns.child.signed.example.
ns1.signed.example.\t3600\tIN A\t192.0.2.1
ns1.signed.example.\t3600\tIN RRSIG\tA 13 3 3600 20240201000000 20240101000000 4711 signed.example. YWJjZA==
0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.signed.example. 300 IN NSEC3 1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG
www.signed.example.\t3600\tIN NSEC\tsigned.example. A AAAA RRSIG NSEC
_443._tcp.www.signed.example. 3600 IN TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6
www.signed.example.\t3600\tIN SSHFP\t4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789
www.signed.example.\t3600\tIN HTTPS\t1 . alpn=\"h2,h3\" ipv4hint=192.0.2.80
svc.signed.example.\t3600\tIN SVCB\t1 pool.svc.signed.example. port=8443
";

    #[test]
    fn reads_a_signed_zone() {
        let obs = run(SIGNED_ZONE);
        assert_eq!(
            shows(&obs),
            [
                "signed.example. 3600 SOA ns1.signed.example. admin.signed.example. 7 3600 900 604800 300",
                "signed.example. 3600 RRSIG SOA 13 2 3600 1706745600 1704067200 4711 signed.example. AQIDBAUGBwgJCgsMDQ4PEA==",
                "signed.example. 3600 NS ns1.signed.example.",
                "signed.example. 3600 DNSKEY 257 3 13 AwEAAa2b3c4d5e6f7g8h9i0jQUJDREVGR0g= | 256 3 13 AwEAAbbbbbbb",
                "signed.example. 3600 NSEC3PARAM 1 0 0 -",
                "signed.example. 3600 CDS 4711 13 2 0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5F60718293A4B5C6D7E8F9",
                "child.signed.example. 3600 DS 12345 8 2 49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD46E6C4B45C55D4AC49FD",
                "child.signed.example. 3600 NS ns.child.signed.example.",
                "ns1.signed.example. 3600 A 192.0.2.1",
                "ns1.signed.example. 3600 RRSIG A 13 3 3600 1706745600 1704067200 4711 signed.example. YWJjZA==",
                "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.signed.example. 300 NSEC3 1 0 0 - 2T7B4G4VSA5SMI47K61MV5BV1A22BOJR A RRSIG",
                "www.signed.example. 3600 NSEC signed.example. A AAAA RRSIG NSEC",
                "_443._tcp.www.signed.example. 3600 TLSA 3 1 1 0C72AC70B745AC19998811B131D662C9AC69DBDBE7CB23E5B514B56664C5D3D6",
                "www.signed.example. 3600 SSHFP 4 2 123456789ABCDEF67890123456789ABCDEF67890123456789ABCDEF123456789",
                "www.signed.example. 3600 HTTPS 1 . alpn=\"h2,h3\" ipv4hint=192.0.2.80",
                "svc.signed.example. 3600 SVCB 1 pool.svc.signed.example. port=8443",
            ]
        );
        assert!(obs.iter().all(|o| o.bailiwick.as_ref().map(Name::to_string).as_deref() == Some("signed.example.")));
    }

    #[test]
    fn relative_names_inside_rdata_of_every_name_type() {
        let text = r#"$ORIGIN r.example.
$TTL 10
@ SOA ns mbox.admin 1 2 3 4 5
a NS ns
b CNAME t
c DNAME t
d PTR t
e MX 5 mx
f AFSDB 1 afs
g KX 2 kx
h RT 3 rt
i RP mbox txt
j SRV 1 2 3 tgt
k NAPTR 100 10 "S" "SIP+D2U" "" _sip._udp
l SVCB 1 pool port=53
m HTTPS 0 alias
n NSEC next A NSEC
o RRSIG A 8 3 300 20240101000000 20231201000000 1 signer AQID
p PX 1 map822 mapx400
q MINFO rmail email
r IPSECKEY 10 3 2 gw AQID
s IPSECKEY 10 1 2 192.0.2.1 AQID
"#;
        let obs = run(text);
        let got: Vec<String> =
            shows(&obs).into_iter().skip(1).map(|s| s.split_once(' ').map(|x| x.1.to_string()).unwrap_or(s)).collect();
        assert_eq!(
            got,
            [
                "10 NS ns.r.example.",
                "10 CNAME t.r.example.",
                "10 DNAME t.r.example.",
                "10 PTR t.r.example.",
                "10 MX 5 mx.r.example.",
                "10 AFSDB 1 afs.r.example.",
                "10 KX 2 kx.r.example.",
                "10 RT 3 rt.r.example.",
                "10 RP mbox.r.example. txt.r.example.",
                "10 SRV 1 2 3 tgt.r.example.",
                "10 NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.r.example.",
                "10 SVCB 1 pool.r.example. port=53",
                "10 HTTPS 0 alias.r.example.",
                "10 NSEC next.r.example. A NSEC",
                "10 RRSIG A 8 3 300 1704067200 1701388800 1 signer.r.example. AQID",
                "10 PX 1 map822.r.example. mapx400.r.example.",
                "10 MINFO rmail.r.example. email.r.example.",
                "10 IPSECKEY 10 3 2 gw.r.example. AQID",
                "10 IPSECKEY 10 1 2 192.0.2.1 AQID",
            ]
        );
        assert_eq!(show(&obs[0]), "r.example. 10 SOA ns.r.example. mbox.admin.r.example. 1 2 3 4 5");
    }

    #[test]
    fn other_types_and_generic_rdata() {
        let text = r#"$ORIGIN o.example.
$TTL 10
a CAA 0 issue "ca.example.net"
b HINFO "PC Intel" Linux
c LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m
d URI 10 1 "https://www.example.com/"
e SPF "v=spf1 -all"
f TYPE65280 \# 3 0A0B0C
g A \# 4 C0000201
h TXT \# 4 03616263
i 10 IN TYPE1 192.0.2.9
j RRSIG A 8 3 300 1706745600 1704067200 1 signer.o.example. AQID
"#;
        assert_eq!(
            shows(&run(text)),
            [
                "a.o.example. 10 CAA 0 \"issue\" \"ca.example.net\"",
                "b.o.example. 10 HINFO \"PC Intel\" \"Linux\"",
                "c.o.example. 10 LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m",
                "d.o.example. 10 URI 10 1 \"https://www.example.com/\"",
                "e.o.example. 10 SPF \"v=spf1 -all\"",
                "f.o.example. 10 TYPE65280 \\# 3 0a0b0c",
                "g.o.example. 10 A 192.0.2.1",
                "h.o.example. 10 TXT \"abc\"",
                "i.o.example. 10 A 192.0.2.9",
                "j.o.example. 10 RRSIG A 8 3 300 1706745600 1704067200 1 signer.o.example. AQID",
            ]
        );
    }

    #[test]
    fn classes() {
        let (obs, outcomes) = run_with(
            &opts(),
            "$ORIGIN c.example.\n$TTL 5\nversion CH TXT \"9.18\"\n  TXT \"still CH\"\nx IN A 192.0.2.1\ny CLASS1 A 192.0.2.2\nz HS A 192.0.2.3\n",
        );
        let skipped: Vec<_> = outcomes.iter().filter(|o| **o == Ok(LineOutcome::Skipped("class not IN"))).collect();
        assert_eq!(skipped.len(), 3);
        assert_eq!(shows(&obs), ["x.c.example. 5 A 192.0.2.1", "y.c.example. 5 A 192.0.2.2"]);
    }

    #[test]
    fn precise_errors() {
        let one = |text: &str| {
            let e = errors(text);
            assert_eq!(e.len(), 1, "{text}: {e:?}");
            e.into_iter().next().unwrap_or_else(|| ParseError::new("", ""))
        };
        let e = one("$ORIGIN e.example.\n$TTL 1\nx FOO 1\n");
        assert_eq!((e.reason, e.detail.as_str()), ("unknown rrtype", "unknown type \"FOO\""));
        let e = one("$ORIGIN e.example.\nx 1x A 192.0.2.1\n");
        assert_eq!((e.reason, e.detail.as_str()), ("bad ttl", "bad TTL \"1x\""));
        let e = one("$TTL forever\n");
        assert_eq!(e.reason, "bad ttl");
        let e = one("$ORIGIN e.example.\n$TTL 1\nx A 192.0.2.1 )\n");
        assert_eq!(e.reason, "unbalanced parenthesis");
        let e = one("$ORIGIN e.example.\n$TTL 1\nx TXT \"open\n");
        assert_eq!(e.reason, "unterminated string");
        let e = one("$ORIGIN e.example.\n$TTL 1\nx A 192.0.2.300\n");
        assert_eq!(e.reason, "bad rdata");
        assert!(e.detail.contains("192.0.2.300"), "{e}");
        let e = one("$ORIGIN e.example.\n$TTL 1\nx A\n");
        assert_eq!(e.reason, "bad rdata");
        let e = one("$ORIGIN e.example.\n$TTL 1\nx 5 IN\n");
        assert_eq!(e.reason, "missing field");
        let e = one("$TTL 1\n  A 192.0.2.1\n");
        assert_eq!(e.reason, "bad rrname");
        let e = one("$ORIGIN a..b.\n");
        assert_eq!(e.reason, "bad directive");
        let e = one("$GENERATE 1-10 h$ A 192.0.2.$\n");
        assert_eq!(e.reason, "bad directive");
        let e = one("$FOO bar\n");
        assert_eq!((e.reason, e.detail.as_str()), ("bad directive", "unknown directive \"$FOO\""));
        let e = one("$TTL 1 2\n");
        assert_eq!(e.reason, "bad directive");
        let e = one("$INCLUDE other.zone\n");
        assert_eq!(e.reason, "include refused");
        assert!(e.detail.contains("--allow-include"), "{e}");
        // an error in a multi-line record says where the record began
        let e = one("$ORIGIN e.example.\n$TTL 1\nx SOA ns h (\n1 2 3\n4 bad )\n");
        assert_eq!(e.reason, "bad rdata");
        assert!(e.detail.ends_with("(in the record that began 2 lines above)"), "{e}");
        // lines after an error are read normally
        let (obs, _) = run_with(&opts(), "$ORIGIN e.example.\n$TTL 1\nx A nope\ny A 192.0.2.1\n");
        assert_eq!(shows(&obs), ["y.e.example. 1 A 192.0.2.1"]);
    }

    #[test]
    fn finish_keeps_an_open_record_and_emits_complete_rrsets() {
        let mut p = ZoneParser::new(&opts());
        let mut out = Vec::new();
        let feed = |p: &mut ZoneParser, l: &str, out: &mut Vec<Observation>| {
            p.parse_line(l.as_bytes(), &mut |o| out.push(o.clone()))
        };
        for l in ["$ORIGIN f.example.", "$TTL 7", "a A 192.0.2.1", "b SOA ns h ( 1 2"] {
            assert!(feed(&mut p, l, &mut out).is_ok());
        }
        // chunk ends inside the parenthesised SOA: the A RRset is complete, the SOA is kept
        assert_eq!(p.finish(&mut |o| out.push(o.clone())), Ok(LineOutcome::Observations(1)));
        assert_eq!(shows(&out), ["a.f.example. 7 A 192.0.2.1"]);
        assert_eq!(feed(&mut p, "  3 4 5 )", &mut out), Ok(LineOutcome::Observations(0)));
        assert_eq!(p.finish(&mut |o| out.push(o.clone())), Ok(LineOutcome::Observations(1)));
        assert_eq!(p.finish(&mut |o| out.push(o.clone())), Ok(LineOutcome::Observations(0)));
        assert_eq!(shows(&out)[1], "b.f.example. 7 SOA ns.f.example. h.f.example. 1 2 3 4 5");
    }

    #[test]
    fn sniffs_zone_files() {
        assert!(sniff(b"; zone\n\n$ORIGIN example.com.\n@ IN SOA ns h 1 2 3 4 5\n"));
        assert!(sniff(b"$TTL 3600\n"));
        assert!(sniff(b"; <<>> DiG 9.18 <<>> axfr example.com\n;; global options: +cmd\nexample.com.\t3600\tIN\tSOA\tns1.example.com. h.example.com. 1 2 3 4 5\n"));
        assert!(sniff(b"example.com. IN 3600 SOA ns1 h (\n"));
        assert!(sniff(b"@ SOA ns h 1 2 3 4 5\n"));
        assert!(!sniff(b"1704067200.000000||10.0.0.1||10.0.0.53||IN||www.example.com.||SOA||x||300||1\n"));
        assert!(!sniff(br#"{"rrname":"a.","rrtype":"SOA","rdata":"ns h 1 2 3 4 5","time":1}"#));
        assert!(!sniff(b"#separator \\x09\n#fields\tts\tquery\tqtype_name\n1\twww.example.com\tSOA\n"));
        assert!(!sniff(b"www.example.com. 300 IN A 192.0.2.1\n"));
        assert!(!sniff(b"$TTL\n"));
        assert!(!sniff(b"a\nb\nc\nd\ne\n$ORIGIN late.example.\n"));
        assert!(!sniff(b""));
    }

    fn temp_dir(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("dnsledger-zonefile-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let _ = std::fs::create_dir_all(&d);
        d
    }

    #[test]
    fn includes() {
        let dir = temp_dir("inc");
        let w = |p: &str, s: &str| std::fs::write(dir.join(p), s).map_err(|e| e.to_string());
        assert_eq!(w("hosts.inc", "www A 192.0.2.80\n  AAAA 2001:db8::80\n"), Ok(()));
        assert_eq!(w("sub.inc", "$INCLUDE hosts.inc\nmail ( A\n 192.0.2.25 )\n"), Ok(()));
        assert_eq!(w("bad.inc", "ok A 192.0.2.1\nx FOO 1\ny A nope\n"), Ok(()));
        assert_eq!(w("open.inc", "x SOA ns h ( 1 2 3\n"), Ok(()));
        assert_eq!(w("self.inc", "$INCLUDE self.inc\n"), Ok(()));
        let _ = std::fs::create_dir_all(dir.join("d"));
        let zone = "$ORIGIN i.example.\n$TTL 60\n@ SOA ns h 1 2 3 4 5\n$INCLUDE hosts.inc\n$INCLUDE \"sub.inc\" sub\nafter CNAME www\n";
        let o = SourceOptions { include_dir: Some(dir.clone()), ..opts() };
        let (obs, outcomes) = run_with(&o, zone);
        assert_eq!(outcomes.get(3), Some(&Ok(LineOutcome::Observations(2))), "{outcomes:?}");
        assert_eq!(
            shows(&obs),
            [
                "i.example. 60 SOA ns.i.example. h.i.example. 1 2 3 4 5",
                "www.i.example. 60 A 192.0.2.80",
                "www.i.example. 60 AAAA 2001:db8::80",
                "www.sub.i.example. 60 A 192.0.2.80",
                "www.sub.i.example. 60 AAAA 2001:db8::80",
                "mail.sub.i.example. 60 A 192.0.2.25",
                // the origin is back to i.example. after the include
                "after.i.example. 60 CNAME www.i.example.",
            ]
        );
        // errors inside an included file name the file and line; good records still count
        let (obs, outcomes) = run_with(&o, "$ORIGIN i.example.\n$TTL 60\n$INCLUDE bad.inc\n");
        let e = outcomes.get(2).and_then(|r| r.clone().err()).unwrap_or_else(|| ParseError::new("", ""));
        assert_eq!(e.reason, "unknown rrtype");
        assert_eq!(e.detail, "bad.inc:2: unknown type \"FOO\" (and 1 more rejected lines in bad.inc)");
        assert_eq!(shows(&obs), ["ok.i.example. 60 A 192.0.2.1"]);
        let run_err = |zone: &str| {
            run_with(&o, zone).1.into_iter().find_map(Result::err).unwrap_or_else(|| ParseError::new("", ""))
        };
        let e = run_err("$ORIGIN i.example.\n$TTL 60\n$INCLUDE open.inc\n");
        assert_eq!(
            (e.reason, e.detail.as_str()),
            ("unbalanced parenthesis", "open.inc:1: the file ends inside parentheses")
        );
        // escapes: .. and absolute paths outside, a symlink pointing outside, missing files, dirs
        let e = run_err("$INCLUDE ../../etc/passwd\n");
        assert_eq!(e.reason, "include refused");
        assert!(e.detail.contains("outside the allowed directory"), "{e}");
        let e = run_err("$INCLUDE /etc/passwd\n");
        assert_eq!(e.reason, "include refused");
        #[cfg(unix)]
        {
            let _ = std::os::unix::fs::symlink("/etc/passwd", dir.join("link.inc"));
            let e = run_err("$INCLUDE link.inc\n");
            assert_eq!(e.reason, "include refused");
        }
        assert_eq!(run_err("$INCLUDE missing.inc\n").reason, "include failed");
        assert_eq!(run_err("$INCLUDE d\n").reason, "include failed");
        // nesting limit
        let e = run_err("$INCLUDE self.inc\n");
        assert_eq!(e.reason, "include refused");
        assert!(e.detail.contains("nest deeper than 8"), "{e}");
        assert!(e.detail.starts_with("self.inc:1: self.inc:1: "), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unclosed_parenthesis_does_not_grow_without_bound() {
        let mut p = ZoneParser::new(&opts());
        let _ = p.parse_line(b"$ORIGIN u.example.", &mut |_| {});
        let _ = p.parse_line(b"x TXT (", &mut |_| {});
        let long = vec![b'a'; 4096];
        let mut err = None;
        for _ in 0..400 {
            if let Err(e) = p.parse_line(&long, &mut |_| {}) {
                err = Some(e);
                break;
            }
        }
        assert_eq!(err.map(|e| e.reason), Some("unbalanced parenthesis"));
        // the parser is usable afterwards
        let mut n = 0;
        assert_eq!(p.parse_line(b"y 5 A 192.0.2.1", &mut |_| n += 1), Ok(LineOutcome::Observations(0)));
        assert_eq!(p.finish(&mut |_| n += 1), Ok(LineOutcome::Observations(1)));
    }

    #[test]
    fn mutated_lines_never_panic() {
        let samples: Vec<&str> = BIND_ZONE.lines().chain(SIGNED_ZONE.lines()).collect();
        let mut p = ZoneParser::new(&opts());
        crate::testing::mutate_all(&samples, 8000, |l| {
            let _ = p.parse_line(l, &mut |_| {});
            if l.len() % 7 == 0 {
                let _ = p.finish(&mut |_| {});
            }
            let _ = sniff(l);
        });
    }

    /// Cross-check with NSD: `nsd-checkzone -p` canonicalises a zone; both readings must agree.
    #[test]
    #[ignore = "needs nsd-checkzone; run with --ignored"]
    fn agrees_with_nsd_checkzone() {
        let dir = temp_dir("nsd");
        let bind = format!("{BIND_ZONE}long TXT ( \"one\"\n  \"two\" ) ; split\n");
        for (apex, zone) in [("example.com", bind.as_str()), ("signed.example", SIGNED_ZONE)] {
            let path = dir.join(format!("{apex}.zone"));
            assert!(std::fs::write(&path, zone).is_ok());
            let out = std::process::Command::new("nsd-checkzone").arg("-p").arg(apex).arg(&path).output();
            let out = match out {
                Ok(o) if o.status.success() => o.stdout,
                other => panic!("nsd-checkzone failed: {other:?}"),
            };
            let printed = String::from_utf8_lossy(&out).into_owned();
            let norm = |obs: Vec<Observation>| {
                let mut v: Vec<String> = obs
                    .into_iter()
                    .map(|mut o| {
                        o.normalize_rdata();
                        show(&o)
                    })
                    .collect();
                v.sort();
                v
            };
            let mine = norm(run(zone));
            let (theirs, outcomes) = run_with(&opts(), &printed);
            assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}\n{printed}");
            let theirs = norm(theirs);
            println!("{apex}: {} RRsets agree; nsd printed:\n{printed}", mine.len());
            assert!(mine.len() > 10);
            assert_eq!(mine, theirs, "nsd printed:\n{printed}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    #[ignore = "timing; run with --ignored --nocapture"]
    fn speed() {
        let mut text = String::from("$ORIGIN speed.example.\n$TTL 300\n@ SOA ns h 1 2 3 4 5\n");
        for i in 0..100_000 {
            text.push_str(&format!("host{i} IN A 192.0.{}.{}\n", i / 256 % 256, i % 256));
            if i % 4 == 0 {
                text.push_str(&format!("  IN AAAA 2001:db8::{i:x}\n"));
            }
            if i % 10 == 0 {
                text.push_str(&format!("alias{i} 60 IN CNAME host{i}\n"));
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        let mut p = ZoneParser::new(&opts());
        let mut it = lines.iter().cycle();
        crate::ndjson::tests::time_per_call("zone", lines.len() as u32, || {
            if let Some(l) = it.next() {
                let _ = p.parse_line(l.as_bytes(), &mut |o| {
                    std::hint::black_box(o);
                });
            }
        });
    }
}
