//! ClickHouse's RowBinary format for the column types the schema uses: `String` (LEB128
//! length, bytes), `UInt32`/`UInt64` (little-endian), `Array(T)` (LEB128 length, items). The
//! decoder checks every length against what is left, so a truncated or garbled response is an
//! error, never a panic or an over-read.

/// Appends an unsigned LEB128 varint.
pub fn put_varuint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends a `String`.
pub fn put_string(out: &mut Vec<u8>, s: &[u8]) {
    put_varuint(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a `UInt64`.
pub fn put_u64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a `UInt32`.
pub fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Why a response could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed RowBinary response at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Offset in the response.
    pub offset: usize,
    /// What was wrong.
    pub reason: &'static str,
}

/// A reader over a RowBinary response.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Reads `buf` from its start.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// True when every byte has been read.
    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn err(&self, reason: &'static str) -> DecodeError {
        DecodeError { offset: self.pos, reason }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or_else(|| self.err("truncated"))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads a LEB128 varint.
    pub fn varuint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or_else(|| self.err("truncated varint"))?;
            self.pos += 1;
            v |= ((b & 0x7f) as u64) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(self.err("varint too long"))
    }

    /// Reads a `String`.
    pub fn string(&mut self) -> Result<&'a [u8], DecodeError> {
        let n = self.varuint()?;
        let n = usize::try_from(n).map_err(|_| self.err("string length overflows"))?;
        self.take(n)
    }

    /// Reads a `UInt64`.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        let b = self.take(8)?;
        Ok(u64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]))
    }

    /// Reads a `UInt32`.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// Reads the length of an `Array`, checked against the bytes left for items of at least
    /// `min_item` bytes.
    pub fn array_len(&mut self, min_item: usize) -> Result<usize, DecodeError> {
        let n = self.varuint()?;
        let left = (self.buf.len() - self.pos) as u64;
        if n.saturating_mul(min_item as u64) > left {
            return Err(self.err("array longer than the response"));
        }
        Ok(n as usize)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_truncation() {
        let mut b = Vec::new();
        put_string(&mut b, b"\x01a\x00b");
        put_u64(&mut b, u64::MAX);
        put_u32(&mut b, 7);
        put_varuint(&mut b, 300);
        let mut r = Reader::new(&b);
        assert_eq!(r.string().unwrap(), b"\x01a\x00b");
        assert_eq!(r.u64().unwrap(), u64::MAX);
        assert_eq!(r.u32().unwrap(), 7);
        assert_eq!(r.varuint().unwrap(), 300);
        assert!(r.at_end());
        for cut in 0..b.len() {
            let mut r = Reader::new(&b[..cut]);
            let ok = r.string().is_ok() && r.u64().is_ok() && r.u32().is_ok() && r.varuint().is_ok();
            assert!(!ok, "cut {cut} decoded");
        }
        let mut r = Reader::new(&[0xff, 0xff, 0xff, 0x0f]);
        assert!(r.array_len(4).is_err());
    }
}
