//! The record key: the canonical byte identity of an RRset record, shared by the in-memory
//! aggregation and by stores (it is the RocksDB `rrset` key as is).
//!
//! Layout: `rrname` (reversed-label key encoding, see [`Name::write_key`]) · rrtype (u16 BE) ·
//! bailiwick (`0x00` if unknown, else `0x01` and its reversed key) · each rdata of the sorted
//! set ([`Rdata::encode`]). Keys of one owner name are contiguous, and keys of all names below
//! a zone share the zone's reversed-name prefix.

use crate::name::{Name, NameError};
use crate::observation::Negative;
use crate::rdata::{Rdata, RdataError};
use crate::rrtype::RrType;

/// Why a record key could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// A name inside the key is corrupt.
    #[error("corrupt key: {0}")]
    Name(#[from] NameError),
    /// An rdata item inside the key is corrupt.
    #[error("corrupt key: {0}")]
    Rdata(#[from] RdataError),
    /// The key ended early or has a bad tag.
    #[error("corrupt key: {0}")]
    Layout(&'static str),
}

/// The item tag that marks a negative-answer key (wire rdata is 0, text rdata 1).
pub const TAG_NEGATIVE: u8 = 2;

/// A decoded record key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordKey {
    /// Owner name.
    pub rrname: Name,
    /// Record type.
    pub rrtype: RrType,
    /// Bailiwick, if known.
    pub bailiwick: Option<Name>,
    /// The sorted rdata set (empty for a negative answer).
    pub rdata: Vec<Rdata>,
    /// Set for a negative-answer key.
    pub negative: Option<Negative>,
}

impl RecordKey {
    /// Appends the key for these parts; `rdata` must already be sorted and de-duplicated.
    pub fn write(rrname: &Name, rrtype: RrType, bailiwick: Option<&Name>, rdata: &[Rdata], out: &mut Vec<u8>) {
        write_head(rrname.as_wire(), rrtype, bailiwick, out);
        for r in rdata {
            r.encode(out);
        }
    }

    /// Appends the key [`RecordKey::write`] gives for an RRset held as wire parts: `owner`
    /// in normalised wire format (see [`crate::name::write_wire_key`]) and `rdata` the
    /// canonical wire items (each one a [`Rdata::Wire`]), sorted and de-duplicated.
    pub fn write_wire<'a>(
        owner: &[u8],
        rrtype: RrType,
        bailiwick: Option<&Name>,
        rdata: impl IntoIterator<Item = &'a [u8]>,
        out: &mut Vec<u8>,
    ) {
        write_head(owner, rrtype, bailiwick, out);
        for r in rdata {
            Rdata::encode_wire(r, out);
        }
    }

    /// [`RecordKey::write_negative`] for an owner in normalised wire format.
    pub fn write_negative_wire(owner: &[u8], rrtype: RrType, bailiwick: Option<&Name>, n: Negative, out: &mut Vec<u8>) {
        write_head(owner, rrtype, bailiwick, out);
        out.extend_from_slice(&[TAG_NEGATIVE, 0, 1, n.code()]);
    }

    /// Appends the key of a negative answer for (`rrname`, `rrtype`).
    pub fn write_negative(rrname: &Name, rrtype: RrType, bailiwick: Option<&Name>, n: Negative, out: &mut Vec<u8>) {
        RecordKey::write_negative_wire(rrname.as_wire(), rrtype, bailiwick, n, out);
    }

    /// Appends this key's encoding.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self.negative {
            Some(n) => RecordKey::write_negative(&self.rrname, self.rrtype, self.bailiwick.as_ref(), n, out),
            None => RecordKey::write(&self.rrname, self.rrtype, self.bailiwick.as_ref(), &self.rdata, out),
        }
    }

    /// Decodes a full key.
    pub fn decode(key: &[u8]) -> Result<RecordKey, KeyError> {
        let (rrname, mut pos) = Name::decode_key(key, true)?;
        let t = key.get(pos..pos + 2).ok_or(KeyError::Layout("missing rrtype"))?;
        let rrtype = RrType(u16::from_be_bytes([t[0], t[1]]));
        pos += 2;
        let (bailiwick, used) = read_bailiwick(&key[pos..])?;
        pos += used;
        if key.get(pos) == Some(&TAG_NEGATIVE) {
            let n = match key.get(pos..) {
                Some(&[TAG_NEGATIVE, 0, 1, code]) => Negative::from_code(code),
                _ => None,
            };
            let n = n.ok_or(KeyError::Layout("bad negative-answer marker"))?;
            return Ok(RecordKey { rrname, rrtype, bailiwick, rdata: Vec::new(), negative: Some(n) });
        }
        let mut rdata = Vec::new();
        while pos < key.len() {
            let (r, used) = Rdata::decode(&key[pos..])?;
            rdata.push(r);
            pos += used;
        }
        Ok(RecordKey { rrname, rrtype, bailiwick, rdata, negative: None })
    }
}

/// Appends what every key starts with: the owner name's reversed-name key (from its
/// normalised wire form), the type and the bailiwick.
fn write_head(owner: &[u8], rrtype: RrType, bailiwick: Option<&Name>, out: &mut Vec<u8>) {
    crate::name::write_wire_key(owner, true, out);
    out.extend_from_slice(&rrtype.0.to_be_bytes());
    write_bailiwick(bailiwick, out);
}

/// Appends an optional bailiwick: `0x00`, or `0x01` followed by its reversed-name key.
pub fn write_bailiwick(bailiwick: Option<&Name>, out: &mut Vec<u8>) {
    match bailiwick {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            b.write_key(true, out);
        }
    }
}

/// Reads what [`write_bailiwick`] wrote; returns it and the bytes consumed.
pub fn read_bailiwick(buf: &[u8]) -> Result<(Option<Name>, usize), KeyError> {
    match buf.first() {
        Some(0) => Ok((None, 1)),
        Some(1) => {
            let (n, used) = Name::decode_key(&buf[1..], true)?;
            Ok((Some(n), used + 1))
        }
        _ => Err(KeyError::Layout("bad bailiwick tag")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let k = RecordKey {
            rrname: Name::from_presentation("www.example.com").unwrap(),
            rrtype: RrType::A,
            bailiwick: Some(Name::from_presentation("example.com").unwrap()),
            rdata: vec![Rdata::Wire(vec![192, 0, 2, 1]), Rdata::Wire(vec![192, 0, 2, 2])],
            negative: None,
        };
        let mut b = Vec::new();
        k.encode(&mut b);
        assert_eq!(RecordKey::decode(&b).unwrap(), k);
        let k2 = RecordKey { bailiwick: None, rdata: vec![Rdata::Text("x y".into())], ..k };
        b.clear();
        k2.encode(&mut b);
        assert_eq!(RecordKey::decode(&b).unwrap(), k2);
        for cut in 0..b.len() - 1 {
            // every strict prefix either fails or decodes to something else, never panics
            if let Ok(d) = RecordKey::decode(&b[..cut]) {
                assert_ne!(d, k2);
            }
        }
        let k3 = RecordKey { rdata: vec![], negative: Some(Negative::NoData), ..k2 };
        b.clear();
        k3.encode(&mut b);
        assert_eq!(RecordKey::decode(&b).unwrap(), k3);
        b.push(0);
        assert!(RecordKey::decode(&b).is_err());
    }
}
