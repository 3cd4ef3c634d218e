//! Zero-copy decoding of the dnstap fields a collector needs, for the hot path.
//!
//! [`DnstapView::decode`] reads the same protobuf encoding as [`crate::proto::Dnstap`]
//! (`dnstap.proto`, proto2; protobuf wire format as the public protobuf encoding documentation
//! describes it: varint keys `field << 3 | wire type`, wire types 0 varint, 1 fixed64,
//! 2 length-delimited, 5 fixed32, 3/4 groups) but borrows every bytes field from the input
//! instead of allocating: prost's owned decode spends most of its time allocating the six or so
//! byte fields of a frame. Measured on the Unbound corpus (`bench/out/corpus`, 2.33 M frames,
//! CPU time on the shared 2-core machine, noisy): prost 390–560 ns per frame, the view
//! 130–220 ns (the `dnstap_corpus` test of `dnsledger-sources` prints both).
//!
//! Semantics follow prost's: a later occurrence of a scalar or bytes field replaces an earlier
//! one, repeated occurrences of the embedded `message` merge field by field, unknown fields
//! (and groups) are skipped, a known field with the wrong wire type, a truncated field, an
//! over-long varint, field number 0 and nesting deeper than prost's recursion limit are
//! errors. Enum fields are kept as the raw `i32` (prost does the same). `policy` is kept as
//! its raw encoding. A differential test checks the view against prost on mutated frames.

use std::fmt;

/// Why a payload does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct ViewError {
    /// Offset in the payload (or in the embedded message) where decoding failed.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for ViewError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at offset {}", self.reason, self.offset)
    }
}

/// The `Dnstap` message with borrowed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DnstapView<'a> {
    /// `identity` (1).
    pub identity: Option<&'a [u8]>,
    /// `version` (2).
    pub version: Option<&'a [u8]>,
    /// `extra` (3).
    pub extra: Option<&'a [u8]>,
    /// `type` (15); MESSAGE (1) when absent: proto2's default for an enum is its first value,
    /// and prost decodes it so.
    pub r#type: i32,
    /// `message` (14).
    pub message: Option<MessageView<'a>>,
}

/// The `Message` message with borrowed fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageView<'a> {
    /// `type` (1); AUTH_QUERY (1) when absent (proto2 enum default, as prost decodes it).
    pub r#type: i32,
    /// `socket_family` (2).
    pub socket_family: Option<i32>,
    /// `socket_protocol` (3).
    pub socket_protocol: Option<i32>,
    /// `query_address` (4).
    pub query_address: Option<&'a [u8]>,
    /// `response_address` (5).
    pub response_address: Option<&'a [u8]>,
    /// `query_port` (6).
    pub query_port: Option<u32>,
    /// `response_port` (7).
    pub response_port: Option<u32>,
    /// `query_time_sec` (8).
    pub query_time_sec: Option<u64>,
    /// `query_time_nsec` (9).
    pub query_time_nsec: Option<u32>,
    /// `query_message` (10).
    pub query_message: Option<&'a [u8]>,
    /// `query_zone` (11).
    pub query_zone: Option<&'a [u8]>,
    /// `response_time_sec` (12).
    pub response_time_sec: Option<u64>,
    /// `response_time_nsec` (13).
    pub response_time_nsec: Option<u32>,
    /// `response_message` (14).
    pub response_message: Option<&'a [u8]>,
    /// `policy` (15), undecoded (the last occurrence).
    pub policy_raw: Option<&'a [u8]>,
    /// `http_protocol` (16).
    pub http_protocol: Option<i32>,
}

impl Default for DnstapView<'_> {
    fn default() -> Self {
        DnstapView { identity: None, version: None, extra: None, r#type: 1, message: None }
    }
}

impl Default for MessageView<'_> {
    fn default() -> Self {
        MessageView {
            r#type: 1,
            socket_family: None,
            socket_protocol: None,
            query_address: None,
            response_address: None,
            query_port: None,
            response_port: None,
            query_time_sec: None,
            query_time_nsec: None,
            query_message: None,
            query_zone: None,
            response_time_sec: None,
            response_time_nsec: None,
            response_message: None,
            policy_raw: None,
            http_protocol: None,
        }
    }
}

/// prost's recursion limit for nested messages and groups.
const RECURSION_LIMIT: u32 = 100;

/// One decoded field value.
enum Value<'a> {
    Varint(u64),
    Fixed64,
    Bytes(&'a [u8]),
    Fixed32(u32),
    Group,
}

struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn err(&self, reason: &'static str) -> ViewError {
        ViewError { offset: self.pos, reason }
    }

    #[inline]
    fn varint(&mut self) -> Result<u64, ViewError> {
        // Most varints here (keys, enums, lengths under 128) are one octet.
        if let Some(&b) = self.buf.get(self.pos) {
            if b < 0x80 {
                self.pos += 1;
                return Ok(u64::from(b));
            }
        }
        self.varint_slow()
    }

    fn varint_slow(&mut self) -> Result<u64, ViewError> {
        let mut v: u64 = 0;
        for i in 0..10 {
            let Some(&b) = self.buf.get(self.pos) else { return Err(self.err("truncated varint")) };
            self.pos += 1;
            if i == 9 && b > 1 {
                return Err(self.err("invalid varint"));
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.err("invalid varint"))
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], ViewError> {
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| self.err("buffer underflow"))?;
        let s = self.buf.get(self.pos..end).ok_or_else(|| self.err("buffer underflow"))?;
        self.pos = end;
        Ok(s)
    }

    /// The next field's number and value; `None` at the end.
    #[inline]
    fn field(&mut self, depth: u32) -> Result<Option<(u32, Value<'a>)>, ViewError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let key = u32::try_from(key).map_err(|_| self.err("invalid key value"))?;
        let (tag, wt) = (key >> 3, key & 7);
        if tag == 0 {
            return Err(self.err("invalid tag value: 0"));
        }
        let v = match wt {
            0 => Value::Varint(self.varint()?),
            1 => {
                self.take(8)?;
                Value::Fixed64
            }
            2 => {
                let len = self.varint()?;
                let len = usize::try_from(len).map_err(|_| self.err("buffer underflow"))?;
                Value::Bytes(self.take(len)?)
            }
            3 => {
                self.skip_group(tag, depth)?;
                Value::Group
            }
            4 => return Err(self.err("unexpected end group tag")),
            5 => {
                let b = self.take(4)?;
                Value::Fixed32(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            }
            _ => return Err(self.err("invalid wire type value")),
        };
        Ok(Some((tag, v)))
    }

    fn skip_group(&mut self, tag: u32, depth: u32) -> Result<(), ViewError> {
        if depth >= RECURSION_LIMIT {
            return Err(self.err("recursion limit reached"));
        }
        loop {
            if self.pos >= self.buf.len() {
                return Err(self.err("buffer underflow"));
            }
            let key = self.varint()?;
            let key = u32::try_from(key).map_err(|_| self.err("invalid key value"))?;
            let (t, wt) = (key >> 3, key & 7);
            if t == 0 {
                return Err(self.err("invalid tag value: 0"));
            }
            match wt {
                0 => {
                    self.varint()?;
                }
                1 => {
                    self.take(8)?;
                }
                2 => {
                    let len = self.varint()?;
                    let len = usize::try_from(len).map_err(|_| self.err("buffer underflow"))?;
                    self.take(len)?;
                }
                3 => self.skip_group(t, depth + 1)?,
                4 => {
                    return if t == tag { Ok(()) } else { Err(self.err("unexpected end group tag")) };
                }
                5 => {
                    self.take(4)?;
                }
                _ => return Err(self.err("invalid wire type value")),
            }
        }
    }
}

fn wrong_type(c: &Cursor<'_>) -> ViewError {
    c.err("invalid wire type")
}

impl<'a> DnstapView<'a> {
    /// Decodes a `Dnstap` payload without copying.
    pub fn decode(buf: &'a [u8]) -> Result<DnstapView<'a>, ViewError> {
        let mut d = DnstapView::default();
        let mut c = Cursor { buf, pos: 0 };
        while let Some((tag, v)) = c.field(0)? {
            match (tag, v) {
                (1, Value::Bytes(b)) => d.identity = Some(b),
                (2, Value::Bytes(b)) => d.version = Some(b),
                (3, Value::Bytes(b)) => d.extra = Some(b),
                (15, Value::Varint(x)) => d.r#type = x as i32,
                (14, Value::Bytes(b)) => {
                    let m = d.message.get_or_insert_with(MessageView::default);
                    m.merge(b).map_err(|e| ViewError { offset: c.pos - b.len() + e.offset, reason: e.reason })?;
                }
                (1..=3 | 14 | 15, _) => return Err(wrong_type(&c)),
                _ => {}
            }
        }
        Ok(d)
    }
}

impl<'a> MessageView<'a> {
    /// Decodes an encoded `Message` on top of this one (protobuf merge).
    fn merge(&mut self, buf: &'a [u8]) -> Result<(), ViewError> {
        let mut c = Cursor { buf, pos: 0 };
        while let Some((tag, v)) = c.field(1)? {
            match (tag, v) {
                (1, Value::Varint(x)) => self.r#type = x as i32,
                (2, Value::Varint(x)) => self.socket_family = Some(x as i32),
                (3, Value::Varint(x)) => self.socket_protocol = Some(x as i32),
                (4, Value::Bytes(b)) => self.query_address = Some(b),
                (5, Value::Bytes(b)) => self.response_address = Some(b),
                (6, Value::Varint(x)) => self.query_port = Some(x as u32),
                (7, Value::Varint(x)) => self.response_port = Some(x as u32),
                (8, Value::Varint(x)) => self.query_time_sec = Some(x),
                (9, Value::Fixed32(x)) => self.query_time_nsec = Some(x),
                (10, Value::Bytes(b)) => self.query_message = Some(b),
                (11, Value::Bytes(b)) => self.query_zone = Some(b),
                (12, Value::Varint(x)) => self.response_time_sec = Some(x),
                (13, Value::Fixed32(x)) => self.response_time_nsec = Some(x),
                (14, Value::Bytes(b)) => self.response_message = Some(b),
                (15, Value::Bytes(b)) => {
                    check_policy(b, &c)?;
                    self.policy_raw = Some(b);
                }
                (16, Value::Varint(x)) => self.http_protocol = Some(x as i32),
                (1..=16, _) => return Err(wrong_type(&c)),
                _ => {}
            }
        }
        Ok(())
    }
}

/// Validates an embedded `Policy` as prost would decode it (fields 1–5; `type` must be UTF-8).
fn check_policy(buf: &[u8], outer: &Cursor<'_>) -> Result<(), ViewError> {
    let mut c = Cursor { buf, pos: 0 };
    let at = |e: ViewError| ViewError { offset: outer.pos - buf.len() + e.offset, reason: e.reason };
    while let Some((tag, v)) = c.field(2).map_err(at)? {
        match (tag, v) {
            (1, Value::Bytes(b)) if std::str::from_utf8(b).is_err() => {
                return Err(at(c.err("invalid string value: data is not UTF-8 encoded")));
            }
            (1 | 2 | 5, Value::Bytes(_)) | (3 | 4, Value::Varint(_)) => {}
            (1..=5, _) => return Err(at(wrong_type(&c))),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::proto::{dnstap, message, policy, Dnstap, Message, Policy};

    fn view_as_prost(v: &DnstapView<'_>) -> Dnstap {
        Dnstap {
            identity: v.identity.map(<[u8]>::to_vec),
            version: v.version.map(<[u8]>::to_vec),
            extra: v.extra.map(<[u8]>::to_vec),
            r#type: v.r#type,
            message: v.message.map(|m| Message {
                r#type: m.r#type,
                socket_family: m.socket_family,
                socket_protocol: m.socket_protocol,
                query_address: m.query_address.map(<[u8]>::to_vec),
                response_address: m.response_address.map(<[u8]>::to_vec),
                query_port: m.query_port,
                response_port: m.response_port,
                query_time_sec: m.query_time_sec,
                query_time_nsec: m.query_time_nsec,
                query_message: m.query_message.map(<[u8]>::to_vec),
                query_zone: m.query_zone.map(<[u8]>::to_vec),
                response_time_sec: m.response_time_sec,
                response_time_nsec: m.response_time_nsec,
                response_message: m.response_message.map(<[u8]>::to_vec),
                policy: m.policy_raw.and_then(|p| Policy::decode(p).ok()),
                http_protocol: m.http_protocol,
            }),
        }
    }

    fn sample() -> Dnstap {
        Dnstap {
            identity: Some(b"res-1".to_vec()),
            version: Some(b"unbound 1.17.1".to_vec()),
            extra: None,
            r#type: dnstap::Type::Message as i32,
            message: Some(Message {
                r#type: message::Type::ResolverResponse as i32,
                socket_family: Some(1),
                socket_protocol: Some(1),
                query_address: Some(vec![127, 0, 0, 1]),
                response_address: Some(vec![127, 53, 0, 1]),
                query_port: Some(53000),
                response_port: Some(53),
                query_time_sec: Some(1_764_201_600),
                query_time_nsec: Some(123_456_789),
                query_message: Some(vec![0xab; 40]),
                query_zone: Some(b"\x07example\x03com\x00".to_vec()),
                response_time_sec: Some(1_764_201_601),
                response_time_nsec: Some(987_654_321),
                response_message: Some(vec![0xcd; 90]),
                policy: Some(Policy {
                    r#type: Some("RPZ".into()),
                    rule: Some(vec![1, b'x', 0]),
                    action: Some(policy::Action::Nxdomain as i32),
                    r#match: Some(policy::Match::Qname as i32),
                    value: None,
                }),
                http_protocol: Some(2),
            }),
        }
    }

    #[test]
    fn decodes_every_field_like_prost() {
        let d = sample();
        let bytes = d.encode_to_vec();
        let v = DnstapView::decode(&bytes);
        assert_eq!(v.map(|v| view_as_prost(&v)), Ok(d));
        assert_eq!(DnstapView::decode(&[]), Ok(DnstapView::default()));
    }

    #[test]
    fn merges_repeated_messages_and_skips_unknown_fields() {
        // message { type: 3, query_zone: "\0" } unknown(99, varint) message { type: 4 } type: 1
        let bytes = [0x72, 5, 0x08, 3, 0x5a, 1, 0, 0x98, 0x06, 7, 0x72, 2, 0x08, 4, 0x78, 1];
        let want = Dnstap::decode(&bytes[..]).ok();
        assert_eq!(DnstapView::decode(&bytes).ok().map(|v| view_as_prost(&v)), want);
        assert_eq!(want.and_then(|d| d.message).map(|m| (m.r#type, m.query_zone)), Some((4, Some(vec![0]))));
        // A group (wire types 3/4) in an unknown field (20) is skipped, as prost does; in a known
        // field it is the wrong wire type.
        let group = [0xa3, 0x01, 0x08, 1, 0xa4, 0x01, 0x0a, 1, b'x'];
        assert_eq!(DnstapView::decode(&group).map(|v| v.identity), Ok(Some(&b"x"[..])));
        assert_eq!(Dnstap::decode(&group[..]).ok().and_then(|d| d.identity), Some(b"x".to_vec()));
        let known = [0x0b, 0x08, 1, 0x0c];
        assert!(DnstapView::decode(&known).is_err());
        assert!(Dnstap::decode(&known[..]).is_err());
        // Absent enums are their first value, as proto2 and prost have it.
        assert_eq!(DnstapView::decode(&[0x72, 0]).map(|v| (v.r#type, v.message.map(|m| m.r#type))), Ok((1, Some(1))));
        assert_eq!(
            Dnstap::decode(&[0x72, 0][..]).ok().map(|d| (d.r#type, d.message.map(|m| m.r#type))),
            Some((1, Some(1)))
        );
    }

    #[test]
    fn errors_match_prost() {
        for bad in [
            &[0x72, 5, 0x08][..],                // message overruns
            &[0x08][..],                         // truncated varint (identity as varint: wrong type first)
            &[0x0a, 1][..],                      // bytes overrun
            &[0x78, 0x80][..],                   // truncated varint
            &[0x00, 0][..],                      // field 0
            &[0x0e, 0][..],                      // wire type 6
            &[0x0c][..],                         // end group without start
            &[0x72, 2, 0x4d, 1][..],             // fixed32 truncated
            &[0x72, 2, 0x48, 1][..],             // query_time_nsec as varint: wrong wire type
            &[0x7a, 1, 1][..],                   // type (15) as bytes
            &[0x72, 4, 0x7a, 2, 0x0a, 0xff][..], // policy.type not UTF-8
        ] {
            assert!(Dnstap::decode(bad).is_err(), "prost accepts {bad:?}");
            assert!(DnstapView::decode(bad).is_err(), "view accepts {bad:?}");
        }
    }

    #[test]
    fn differential_against_prost_on_mutations() {
        let good = sample().encode_to_vec();
        let mut seed = 0x0123_4567_89ab_cdef_u64;
        let mut rnd = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let (mut ok, mut err) = (0, 0);
        for i in 0..20_000 {
            let mut b = good.clone();
            if i % 5 == 0 {
                b.truncate((rnd() % b.len() as u64) as usize);
            } else {
                for _ in 0..(1 + rnd() % 3) {
                    let at = (rnd() % b.len() as u64) as usize;
                    b[at] = rnd() as u8;
                }
            }
            let p = Dnstap::decode(&b[..]).ok();
            let v = DnstapView::decode(&b).ok().map(|v| view_as_prost(&v));
            assert_eq!(v, p, "input {b:02x?}");
            if p.is_some() {
                ok += 1;
            } else {
                err += 1;
            }
        }
        assert!(ok > 1000 && err > 1000, "{ok} decoded, {err} rejected");
    }
}
