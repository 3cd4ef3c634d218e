//! Replaying repeated responses.
//!
//! Most responses a sensor sees repeat one it saw moments ago: the same answer to the same
//! question, differing only in the message id and, for a resolver's cached answers, in TTLs
//! that have aged. Extraction (parsing, normalising, the bailiwick rule) depends on nothing
//! else, so such a response yields the same records; the sensor then only adds the sighting to
//! them, without parsing the message again.
//!
//! A response is identified by a 128-bit hash of its bytes after the id with every TTL field
//! zeroed (and of the client prefix under `--record-clients`). Its TTLs are compared with the
//! remembered ones: when every TTL moved by the same amount `d` (the entries aged together),
//! each record's TTL is its remembered TTL minus `d` (an RRset's TTL is the smallest of its
//! records', which shifts with them). Otherwise — an entry was refetched, TTLs at or above
//! 2^31 (read as 0 by extraction), or a negative answer whose TTL comes from the SOA MINIMUM
//! and so does not shift — the response is extracted again.

use std::collections::HashMap;

/// Distinct responses remembered per batch.
pub const REPLAY_MAX: usize = 1 << 16;

/// What one extracted response contributed to the current batch.
#[derive(Debug, Clone, Default)]
pub struct Replayed {
    /// (record index in the batch, TTL) per RRset emitted.
    pub records: Vec<(u32, Option<u32>)>,
    /// Negative answers among them.
    pub negative: u32,
    /// RRsets dropped: outside the bailiwick, off the chain, unvouched.
    pub dropped: (u32, u32, u32),
    /// The TTL of every resource record of the message, in wire order (set by [`Replay::insert`]).
    pub ttls: Vec<u32>,
}

/// A response's identity for replay: its masked hash and its TTLs.
pub struct Fingerprint {
    hash: u128,
    ttls: Vec<u32>,
}

/// Responses already extracted into the current batch.
#[derive(Default)]
pub struct Replay {
    map: HashMap<u128, Replayed>,
    scratch: Vec<u8>,
}

/// Skips a (possibly compressed) name starting at `pos`; returns the position after it.
fn skip_name(msg: &[u8], mut pos: usize) -> Option<usize> {
    loop {
        let len = *msg.get(pos)?;
        match len {
            0 => return Some(pos + 1),
            l if l & 0xc0 == 0xc0 => {
                msg.get(pos + 1)?;
                return Some(pos + 2);
            }
            l if l & 0xc0 == 0 => pos += 1 + l as usize,
            _ => return None,
        }
    }
}

impl Replay {
    /// Forgets everything (the batch the indexes point into was handed on).
    pub fn clear(&mut self) {
        self.map.clear();
    }

    /// The fingerprint of a response, or `None` when its layout cannot be walked (it is then
    /// simply extracted, and extraction reports what is wrong).
    pub fn fingerprint(&mut self, msg: &[u8], prefix: &[u8]) -> Option<Fingerprint> {
        let count = |i: usize| msg.get(i..i + 2).map(|b| u16::from_be_bytes([b[0], b[1]]) as usize);
        let (qd, an, ns, ar) = (count(4)?, count(6)?, count(8)?, count(10)?);
        self.scratch.clear();
        self.scratch.extend_from_slice(msg.get(2..)?);
        let mut pos = 12;
        for _ in 0..qd {
            pos = skip_name(msg, pos)? + 4;
        }
        let rrs = an + ns + ar;
        let mut ttls = Vec::with_capacity(rrs);
        for _ in 0..rrs {
            pos = skip_name(msg, pos)?;
            let f = msg.get(pos..pos + 10)?;
            ttls.push(u32::from_be_bytes([f[4], f[5], f[6], f[7]]));
            // zero the TTL in the copy (which starts at offset 2 of the message)
            self.scratch.get_mut(pos + 2..pos + 6)?.fill(0);
            pos += 10 + u16::from_be_bytes([f[8], f[9]]) as usize;
        }
        if pos > msg.len() {
            return None;
        }
        let mut h = xxhash_rust::xxh3::Xxh3::new();
        h.update(prefix);
        h.update(&(self.scratch.len() as u32).to_le_bytes());
        h.update(&self.scratch);
        Some(Fingerprint { hash: h.digest128(), ttls })
    }

    /// The records of a repeat of an earlier response, with their TTLs as this response has
    /// them; `None` when it must be extracted.
    pub fn replay(&self, f: &Fingerprint) -> Option<(&Replayed, u32)> {
        let e = self.map.get(&f.hash)?;
        if e.ttls.len() != f.ttls.len() || f.ttls.iter().chain(&e.ttls).any(|&t| t >= 1 << 31) {
            return None;
        }
        let d = match (e.ttls.first(), f.ttls.first()) {
            (Some(&old), Some(&new)) => old.checked_sub(new)?,
            _ => 0,
        };
        if e.ttls.iter().zip(&f.ttls).any(|(&old, &new)| old.checked_sub(new) != Some(d)) {
            return None;
        }
        if d != 0 && e.negative > 0 {
            return None;
        }
        if e.records.iter().any(|&(_, t)| t.is_some_and(|t| t < d)) {
            return None;
        }
        Some((e, d))
    }

    /// Remembers what extracting the response of `f` gave.
    pub fn insert(&mut self, f: Fingerprint, mut r: Replayed) {
        if self.map.len() >= REPLAY_MAX {
            self.map.clear();
        }
        r.ttls = f.ttls;
        self.map.insert(f.hash, r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response with a question and two A records of `www.example.com`, TTLs given.
    fn msg(id: u16, ttls: [u32; 2]) -> Vec<u8> {
        let mut m = vec![(id >> 8) as u8, id as u8, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        m.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        for (i, t) in ttls.iter().enumerate() {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 4, 192, 0, 2, i as u8]);
        }
        m
    }

    fn entry(ttl: u32, negative: u32) -> Replayed {
        Replayed { records: vec![(7, Some(ttl))], negative, ..Replayed::default() }
    }

    #[test]
    fn aged_ttls_replay_with_the_shift() {
        let mut r = Replay::default();
        let f = r.fingerprint(&msg(1, [300, 300]), &[]).unwrap();
        r.insert(f, entry(300, 0));
        // another id, both TTLs 40 s older: same records, TTL 260
        let g = r.fingerprint(&msg(2, [260, 260]), &[]).unwrap();
        let (e, d) = r.replay(&g).unwrap();
        assert_eq!((e.records[0].0, d), (7, 40));
        // one record refetched (TTLs moved differently): extract again
        let g = r.fingerprint(&msg(3, [260, 300]), &[]).unwrap();
        assert!(r.replay(&g).is_none());
        // TTLs that grew: extract again
        let g = r.fingerprint(&msg(3, [301, 301]), &[]).unwrap();
        assert!(r.replay(&g).is_none());
        // another client prefix is another response
        let g = r.fingerprint(&msg(1, [300, 300]), &[4, 1, 2, 3, 4]).unwrap();
        assert!(r.replay(&g).is_none());
    }

    #[test]
    fn negative_answers_replay_only_unchanged() {
        let mut r = Replay::default();
        let f = r.fingerprint(&msg(1, [300, 300]), &[]).unwrap();
        r.insert(f, entry(300, 1));
        let same = r.fingerprint(&msg(9, [300, 300]), &[]).unwrap();
        assert!(r.replay(&same).is_some());
        let aged = r.fingerprint(&msg(9, [299, 299]), &[]).unwrap();
        assert!(r.replay(&aged).is_none());
    }

    #[test]
    fn unwalkable_messages_have_no_fingerprint() {
        let mut r = Replay::default();
        let m = msg(1, [300, 300]);
        for cut in 0..m.len() {
            assert!(r.fingerprint(&m[..cut], &[]).is_none(), "prefix {cut}");
        }
        let mut bad = m.clone();
        bad[12] = 0x80; // reserved label type
        assert!(r.fingerprint(&bad, &[]).is_none());
        let mut big = m;
        big[39] = 0xff; // the first TTL >= 2^31: never replayed
        let mut r2 = Replay::default();
        let f = r2.fingerprint(&big, &[]).unwrap();
        r2.insert(f, entry(0, 0));
        let again = r2.fingerprint(&big, &[]).unwrap();
        assert!(r2.replay(&again).is_none());
    }
}
