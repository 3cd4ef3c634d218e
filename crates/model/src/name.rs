//! Domain names: normalisation from presentation or wire format, presentation output, and the
//! order-preserving key encodings the stores index names by.
//!
//! A [`Name`] always holds a *normalised* name in uncompressed wire format: ASCII letters are
//! lower case, internationalised labels are A-labels (`xn--…`), the root label terminates it.
//! Presentation output follows DNSDB (wdns): FQDN with a trailing dot, `.` and `\` escaped with a
//! backslash inside labels, bytes outside `!`..`~` as `\DDD`.

use std::fmt;

/// Maximum length of a name in wire format, root label included (RFC 1035 §2.3.4).
pub const MAX_NAME_WIRE: usize = 255;
/// Maximum length of one label (RFC 1035 §2.3.4).
pub const MAX_LABEL: usize = 63;

/// Why a name was rejected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The text was empty.
    #[error("empty name")]
    Empty,
    /// Two dots in a row, or a leading dot.
    #[error("empty label in name")]
    EmptyLabel,
    /// A label longer than 63 octets.
    #[error("label longer than 63 octets")]
    LabelTooLong,
    /// More than 255 octets in wire format.
    #[error("name longer than 255 octets")]
    NameTooLong,
    /// A backslash escape that is not `\X` or `\DDD` with DDD <= 255.
    #[error("bad escape sequence in name")]
    BadEscape,
    /// Wire data ended inside the name.
    #[error("truncated name")]
    Truncated,
    /// A compression pointer where an uncompressed name is required.
    #[error("compression pointer in uncompressed name")]
    Pointer,
    /// A label type other than a normal label (0b01, 0b10 prefixes).
    #[error("unsupported label type")]
    BadLabelType,
    /// A store key that does not hold a valid name encoding.
    #[error("corrupt name key")]
    BadKey,
}

/// A normalised, fully qualified domain name in lower-case uncompressed wire format.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Name {
    wire: Vec<u8>,
}

impl Default for Name {
    fn default() -> Self {
        Name::root()
    }
}

impl Name {
    /// The root name `.`.
    pub fn root() -> Name {
        Name { wire: vec![0] }
    }

    /// Parses and normalises a name in presentation format (trailing dot optional).
    pub fn from_presentation(text: &str) -> Result<Name, NameError> {
        let mut n = Name { wire: Vec::with_capacity(text.len() + 2) };
        n.set_from_presentation(text.as_bytes())?;
        Ok(n)
    }

    /// Re-uses this name's buffer for a parsed presentation-format name; root on error.
    pub fn set_from_presentation(&mut self, text: &[u8]) -> Result<(), NameError> {
        let r = parse_presentation(text, &mut self.wire);
        if r.is_err() {
            self.wire.clear();
            self.wire.push(0);
        }
        r
    }

    /// Reads an uncompressed wire-format name at the start of `buf`; returns it and its length.
    pub fn from_wire_prefix(buf: &[u8]) -> Result<(Name, usize), NameError> {
        let mut wire = Vec::with_capacity(buf.len().min(MAX_NAME_WIRE));
        let used = copy_wire_lower(buf, &mut wire)?;
        Ok((Name { wire }, used))
    }

    /// Makes this name the uncompressed wire-format name that fills `buf` exactly, as
    /// [`Name::from_wire`] builds it, reusing this name's buffer (no allocation when it is
    /// large enough). On error the name is the root.
    pub fn assign_wire(&mut self, buf: &[u8]) -> Result<(), NameError> {
        match copy_wire_lower(buf, &mut self.wire) {
            Ok(used) if used == buf.len() => Ok(()),
            r => {
                self.wire.clear();
                self.wire.push(0);
                Err(r.err().unwrap_or(NameError::BadKey))
            }
        }
    }

    /// Builds a name from an uncompressed wire-format name that must fill `buf` exactly.
    pub fn from_wire(buf: &[u8]) -> Result<Name, NameError> {
        let (n, used) = Name::from_wire_prefix(buf)?;
        if used != buf.len() {
            return Err(NameError::BadKey);
        }
        Ok(n)
    }

    /// Builds a name from labels given leaf first (each 1..=63 octets); lower-cases them.
    pub fn from_labels<'a, I: IntoIterator<Item = &'a [u8]>>(labels: I) -> Result<Name, NameError> {
        let mut wire = Vec::new();
        for l in labels {
            if l.is_empty() {
                return Err(NameError::EmptyLabel);
            }
            if l.len() > MAX_LABEL {
                return Err(NameError::LabelTooLong);
            }
            wire.push(l.len() as u8);
            wire.extend(l.iter().map(u8::to_ascii_lowercase));
        }
        wire.push(0);
        if wire.len() > MAX_NAME_WIRE {
            return Err(NameError::NameTooLong);
        }
        Ok(Name { wire })
    }

    /// The name in uncompressed wire format, root label included.
    pub fn as_wire(&self) -> &[u8] {
        &self.wire
    }

    /// True for the root name.
    pub fn is_root(&self) -> bool {
        self.wire.len() == 1
    }

    /// Labels from the leaf towards the root (the empty root label is not returned).
    pub fn labels(&self) -> Labels<'_> {
        Labels { wire: &self.wire, pos: 0 }
    }

    /// Number of labels, not counting the root.
    pub fn label_count(&self) -> usize {
        self.labels().count()
    }

    /// The name without its leftmost label (`None` for the root).
    pub fn parent(&self) -> Option<Name> {
        let first = *self.wire.first()? as usize;
        if first == 0 {
            return None;
        }
        Some(Name { wire: self.wire[first + 1..].to_vec() })
    }

    /// True if this name equals `zone` or lies below it.
    pub fn is_subdomain_of(&self, zone: &Name) -> bool {
        let mut pos = 0;
        loop {
            if self.wire[pos..] == zone.wire[..] {
                return true;
            }
            let len = self.wire[pos] as usize;
            if len == 0 {
                return false;
            }
            pos += len + 1;
        }
    }

    /// Appends the presentation form (FQDN with trailing dot, wdns escaping) to `out`.
    pub fn write_presentation(&self, out: &mut String) {
        if self.is_root() {
            out.push('.');
            return;
        }
        for label in self.labels() {
            write_label_presentation(label, out);
            out.push('.');
        }
    }

    /// The presentation form as a new string.
    pub fn to_presentation(&self) -> String {
        let mut s = String::with_capacity(self.wire.len() + 1);
        self.write_presentation(&mut s);
        s
    }

    /// Appends the order-preserving, self-delimiting key encoding of the name.
    ///
    /// Each label's octets are escaped (`0x00` → `01 01`, `0x01` → `01 02`) and followed by
    /// `0x00`; one more `0x00` ends the name. With `reversed`, labels go from the root down, so
    /// all names below a zone share the zone's key prefix ([`Name::write_key_prefix`]).
    pub fn write_key(&self, reversed: bool, out: &mut Vec<u8>) {
        self.write_key_prefix(reversed, out);
        out.push(0);
    }

    /// The key encoding without the final terminator: every key of a name strictly below
    /// (reversed) or strictly right-extending (forward) this one starts with it, followed by a
    /// non-zero byte.
    pub fn write_key_prefix(&self, reversed: bool, out: &mut Vec<u8>) {
        write_wire_key_prefix(&self.wire, reversed, out);
    }

    /// Decodes a key written by [`Name::write_key`]; returns the name and the bytes consumed.
    pub fn decode_key(key: &[u8], reversed: bool) -> Result<(Name, usize), NameError> {
        let mut labels: smallvec::SmallVec<[(usize, usize); 16]> = smallvec::SmallVec::new();
        let mut raw: Vec<u8> = Vec::with_capacity(key.len());
        let mut i = 0;
        loop {
            let start = raw.len();
            loop {
                let b = *key.get(i).ok_or(NameError::BadKey)?;
                i += 1;
                match b {
                    0 => break,
                    1 => {
                        let e = *key.get(i).ok_or(NameError::BadKey)?;
                        i += 1;
                        raw.push(match e {
                            1 => 0,
                            2 => 1,
                            _ => return Err(NameError::BadKey),
                        });
                    }
                    b => raw.push(b),
                }
            }
            let len = raw.len() - start;
            if len == 0 {
                break;
            }
            if len > MAX_LABEL {
                return Err(NameError::BadKey);
            }
            labels.push((start, len));
        }
        let mut wire = Vec::with_capacity(raw.len() + labels.len() + 1);
        let mut push = |&(s, l): &(usize, usize)| {
            wire.push(l as u8);
            wire.extend_from_slice(&raw[s..s + l]);
        };
        if reversed {
            labels.iter().rev().for_each(&mut push);
        } else {
            labels.iter().for_each(&mut push);
        }
        wire.push(0);
        if wire.len() > MAX_NAME_WIRE {
            return Err(NameError::BadKey);
        }
        Ok((Name { wire }, i))
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_presentation())
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name({})", self)
    }
}

impl std::str::FromStr for Name {
    type Err = NameError;
    fn from_str(s: &str) -> Result<Name, NameError> {
        Name::from_presentation(s)
    }
}

/// Iterator over the labels of a [`Name`], leaf first.
pub struct Labels<'a> {
    wire: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Labels<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        let len = *self.wire.get(self.pos)? as usize;
        if len == 0 {
            return None;
        }
        let label = self.wire.get(self.pos + 1..self.pos + 1 + len)?;
        self.pos += len + 1;
        Some(label)
    }
}

/// Appends the key encoding of a name given in normalised wire format (lower-cased,
/// uncompressed, as [`Name::as_wire`] gives it): what [`Name::write_key`] appends for that
/// name. Lets a caller holding names in its own buffers build keys without a [`Name`]. A
/// malformed `wire` is encoded up to where it stops making sense.
pub fn write_wire_key(wire: &[u8], reversed: bool, out: &mut Vec<u8>) {
    write_wire_key_prefix(wire, reversed, out);
    out.push(0);
}

/// [`Name::write_key_prefix`] of a name in normalised wire format.
fn write_wire_key_prefix(wire: &[u8], reversed: bool, out: &mut Vec<u8>) {
    let mut labels: smallvec::SmallVec<[&[u8]; 16]> = smallvec::SmallVec::new();
    let mut pos = 0;
    while let Some(&len) = wire.get(pos).filter(|&&l| l != 0) {
        let Some(label) = wire.get(pos + 1..pos + 1 + usize::from(len)) else { break };
        if !reversed {
            push_key_label(label, out);
        } else {
            labels.push(label);
        }
        pos += 1 + usize::from(len);
    }
    for label in labels.iter().rev() {
        push_key_label(label, out);
    }
}

fn push_key_label(label: &[u8], out: &mut Vec<u8>) {
    // labels are short (63 octets at most, most under 16): a plain scan beats a memchr2 call
    if label.iter().all(|&b| b > 1) {
        out.extend_from_slice(label);
        out.push(0);
        return;
    }
    for &b in label {
        match b {
            0 => out.extend_from_slice(&[1, 1]),
            1 => out.extend_from_slice(&[1, 2]),
            b => out.push(b),
        }
    }
    out.push(0);
}

/// Appends one label in presentation form (wdns escaping rules).
pub fn write_label_presentation(label: &[u8], out: &mut String) {
    for &b in label {
        match b {
            b'.' => out.push_str("\\."),
            b'\\' => out.push_str("\\\\"),
            0x21..=0x7e => out.push(b as char),
            _ => {
                out.push('\\');
                out.push((b'0' + b / 100) as char);
                out.push((b'0' + (b / 10) % 10) as char);
                out.push((b'0' + b % 10) as char);
            }
        }
    }
}

/// Copies an uncompressed wire name from `buf` into `out`, lower-casing; returns bytes used.
fn copy_wire_lower(buf: &[u8], out: &mut Vec<u8>) -> Result<usize, NameError> {
    out.clear();
    let mut pos = 0;
    loop {
        let len = *buf.get(pos).ok_or(NameError::Truncated)? as usize;
        match len & 0xc0 {
            0 => {}
            0xc0 => return Err(NameError::Pointer),
            _ => return Err(NameError::BadLabelType),
        }
        if pos + 1 + len > buf.len() {
            return Err(NameError::Truncated);
        }
        if out.len() + 1 + len > MAX_NAME_WIRE {
            return Err(NameError::NameTooLong);
        }
        out.push(len as u8);
        out.extend(buf[pos + 1..pos + 1 + len].iter().map(u8::to_ascii_lowercase));
        pos += 1 + len;
        if len == 0 {
            return Ok(pos);
        }
    }
}

/// Parses presentation text into normalised wire format in `out`.
fn parse_presentation(text: &[u8], out: &mut Vec<u8>) -> Result<(), NameError> {
    out.clear();
    if text.is_empty() {
        return Err(NameError::Empty);
    }
    if text == b"." {
        out.push(0);
        return Ok(());
    }
    if text.is_ascii() && memchr::memchr(b'\\', text).is_none() {
        return parse_plain(text, out);
    }
    let mut i = 0;
    let mut label_start = 0; // index of the length byte of the current label in `out`
    let mut non_ascii = false;
    out.push(0);
    while i < text.len() {
        let c = text[i];
        match c {
            b'.' => {
                let len = out.len() - label_start - 1;
                if len == 0 {
                    return Err(NameError::EmptyLabel);
                }
                finish_label(out, label_start, non_ascii)?;
                non_ascii = false;
                label_start = out.len();
                out.push(0);
                i += 1;
            }
            b'\\' => {
                let (b, used) = parse_escape(&text[i + 1..])?;
                out.push(b.to_ascii_lowercase());
                i += 1 + used;
            }
            _ => {
                if c >= 0x80 {
                    non_ascii = true;
                }
                out.push(c.to_ascii_lowercase());
                i += 1;
            }
        }
    }
    // Text that ended with an unescaped dot leaves an empty label open: that is the root.
    if out.len() - label_start - 1 > 0 {
        finish_label(out, label_start, non_ascii)?;
        out.push(0);
    }
    if out.len() > MAX_NAME_WIRE {
        return Err(NameError::NameTooLong);
    }
    Ok(())
}

/// The fast path of [`parse_presentation`] for ASCII text without escapes (almost every name).
fn parse_plain(text: &[u8], out: &mut Vec<u8>) -> Result<(), NameError> {
    let body = text.strip_suffix(b".").unwrap_or(text);
    if body.len() + 2 > MAX_NAME_WIRE {
        return Err(NameError::NameTooLong);
    }
    out.reserve(body.len() + 2);
    for label in body.split(|&b| b == b'.') {
        if label.is_empty() {
            return Err(NameError::EmptyLabel);
        }
        if label.len() > MAX_LABEL {
            return Err(NameError::LabelTooLong);
        }
        out.push(label.len() as u8);
        out.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    out.push(0);
    Ok(())
}

/// Closes the label whose length byte is at `start`: IDNA conversion, then length checks.
fn finish_label(out: &mut Vec<u8>, start: usize, non_ascii: bool) -> Result<(), NameError> {
    if non_ascii {
        if let Ok(u) = std::str::from_utf8(&out[start + 1..]) {
            if let Ok(ascii) = idna::domain_to_ascii(u) {
                if !ascii.is_empty() {
                    out.truncate(start);
                    // IDNA maps ideographic full stops to '.', so one label may become several.
                    for part in ascii.split('.') {
                        if part.is_empty() {
                            return Err(NameError::EmptyLabel);
                        }
                        if part.len() > MAX_LABEL {
                            return Err(NameError::LabelTooLong);
                        }
                        out.push(part.len() as u8);
                        out.extend(part.bytes().map(|b| b.to_ascii_lowercase()));
                    }
                    if out.len() > MAX_NAME_WIRE {
                        return Err(NameError::NameTooLong);
                    }
                    return Ok(());
                }
            }
        }
        // Not valid UTF-8 or not IDNA-convertible: kept as raw octets.
    }
    let len = out.len() - start - 1;
    if len > MAX_LABEL {
        return Err(NameError::LabelTooLong);
    }
    if out.len() > MAX_NAME_WIRE {
        return Err(NameError::NameTooLong);
    }
    out[start] = len as u8;
    Ok(())
}

/// Parses what follows a backslash: `DDD` (decimal octet) or any single character.
/// Returns the octet and the number of input bytes used.
pub fn parse_escape(rest: &[u8]) -> Result<(u8, usize), NameError> {
    match rest {
        [a, b, c, ..] if a.is_ascii_digit() && b.is_ascii_digit() && c.is_ascii_digit() => {
            let v = (a - b'0') as u32 * 100 + (b - b'0') as u32 * 10 + (c - b'0') as u32;
            if v > 255 {
                return Err(NameError::BadEscape);
            }
            Ok((v as u8, 3))
        }
        [d, ..] if d.is_ascii_digit() => Err(NameError::BadEscape),
        [c, ..] => Ok((*c, 1)),
        [] => Err(NameError::BadEscape),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        Name::from_presentation(s).unwrap()
    }

    #[test]
    fn normalises_case_and_trailing_dot() {
        assert_eq!(n("WWW.Example.COM").to_string(), "www.example.com.");
        assert_eq!(n("www.example.com."), n("www.example.com"));
        assert_eq!(n(".").to_string(), ".");
        assert!(n(".").is_root());
    }

    #[test]
    fn assigning_wire_agrees_with_building_and_leaves_the_root_on_error() {
        let mut x = n("a-much-longer-name.example.org");
        for wire in [&b"\x03WWW\x07Example\x00"[..], b"\x00", b"\x01a\x00", b"\x03abc\x00trailing"] {
            let built = Name::from_wire(wire);
            let assigned = x.assign_wire(wire);
            assert_eq!(assigned.err(), built.as_ref().err().cloned(), "{wire:?}");
            assert_eq!(x, built.unwrap_or_else(|_| Name::root()), "{wire:?}");
        }
        for bad in [&b"\x03ab"[..], b"\xc0\x0c", b"\x41x\x00", b""] {
            x = n("www.example");
            assert!(x.assign_wire(bad).is_err(), "{bad:?}");
            assert!(x.is_root());
        }
    }

    #[test]
    fn idn_to_a_labels() {
        assert_eq!(n("bücher.example").to_string(), "xn--bcher-kva.example.");
        assert_eq!(n("BÜCHER.example.").to_string(), "xn--bcher-kva.example.");
        assert_eq!(n("рф").to_string(), "xn--p1ai.");
        // ideographic full stop maps to a label separator under UTS 46
        assert_eq!(n("例え。テスト").label_count(), 2);
    }

    #[test]
    fn escapes_round_trip() {
        let x = n("a\\.b.c\\\\d.\\000\\255x.example");
        assert_eq!(x.label_count(), 4);
        assert_eq!(x.to_string(), "a\\.b.c\\\\d.\\000\\255x.example.");
        assert_eq!(n(&x.to_string()), x);
        assert_eq!(n("sp\\ ace.example").to_string(), "sp\\032ace.example.");
        assert_eq!(n("\\065BC.example").to_string(), "abc.example.");
    }

    #[test]
    fn rejects_bad_names() {
        assert_eq!(Name::from_presentation(""), Err(NameError::Empty));
        assert_eq!(Name::from_presentation("a..b"), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_presentation(".a"), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_presentation("a.."), Err(NameError::EmptyLabel));
        assert_eq!(Name::from_presentation(&"a".repeat(64)), Err(NameError::LabelTooLong));
        let long = vec!["abcdefghi"; 26].join(".");
        assert_eq!(Name::from_presentation(&long), Err(NameError::NameTooLong));
        assert_eq!(Name::from_presentation("a\\256"), Err(NameError::BadEscape));
        assert_eq!(Name::from_presentation("a\\25"), Err(NameError::BadEscape));
        assert_eq!(Name::from_presentation("a\\"), Err(NameError::BadEscape));
        // 63-octet labels and a 255-octet name are fine
        assert!(Name::from_presentation(&"a".repeat(63)).is_ok());
        let max = format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(61));
        assert_eq!(n(&max).as_wire().len(), 255);
        let over = format!("{}.{}.{}.{}", "a".repeat(63), "b".repeat(63), "c".repeat(63), "d".repeat(62));
        assert_eq!(Name::from_presentation(&over), Err(NameError::NameTooLong));
    }

    #[test]
    fn wire_round_trip_and_errors() {
        let x = n("www.Example.com");
        let (y, used) = Name::from_wire_prefix(b"\x03WWW\x07example\x03com\x00rest").unwrap();
        assert_eq!(used, 17);
        assert_eq!(x, y);
        assert_eq!(Name::from_wire_prefix(b"\x03ww"), Err(NameError::Truncated));
        assert_eq!(Name::from_wire_prefix(b"\xc0\x0c"), Err(NameError::Pointer));
        assert_eq!(Name::from_wire_prefix(b"\x41a"), Err(NameError::BadLabelType));
        assert_eq!(Name::from_wire(b"\x01a\x00x"), Err(NameError::BadKey));
    }

    #[test]
    fn subdomains_and_parents() {
        let x = n("a.b.example.com");
        assert!(x.is_subdomain_of(&n("example.com")));
        assert!(x.is_subdomain_of(&x));
        assert!(x.is_subdomain_of(&Name::root()));
        assert!(!x.is_subdomain_of(&n("ample.com")));
        assert!(!n("example.com").is_subdomain_of(&x));
        assert_eq!(x.parent().unwrap(), n("b.example.com"));
        assert_eq!(Name::root().parent(), None);
    }

    #[test]
    fn keys_round_trip_and_order() {
        for s in ["www.example.com", ".", "a\\000b.\\001.x", "xn--p1ai"] {
            let name = n(s);
            for rev in [true, false] {
                let mut k = Vec::new();
                name.write_key(rev, &mut k);
                k.extend_from_slice(b"tail");
                let (back, used) = Name::decode_key(&k, rev).unwrap();
                assert_eq!(back, name, "{s} rev={rev}");
                assert_eq!(&k[used..], b"tail");
            }
        }
        // reversed keys: a zone's prefix covers exactly the names strictly below it
        let key = |s: &str| {
            let mut k = Vec::new();
            n(s).write_key(true, &mut k);
            k
        };
        let mut prefix = Vec::new();
        n("example.com").write_key_prefix(true, &mut prefix);
        assert!(key("www.example.com").starts_with(&prefix));
        assert!(key("a.b.example.com").starts_with(&prefix));
        assert!(key("example.com").starts_with(&prefix)); // but followed by 0x00 ...
        assert_eq!(key("example.com")[prefix.len()], 0);
        assert_ne!(key("www.example.com")[prefix.len()], 0);
        assert!(!key("www.examples.com").starts_with(&prefix));
        // hierarchical order: zone, then its children, then the next sibling zone
        let mut v = vec![key("examples.com"), key("www.example.com"), key("example.com"), key("a.example.com")];
        v.sort();
        assert_eq!(v, vec![key("example.com"), key("a.example.com"), key("www.example.com"), key("examples.com")]);
        assert!(Name::decode_key(b"abc", true).is_err());
        assert!(Name::decode_key(b"a\x01\x03\x00\x00", true).is_err());
    }
}
