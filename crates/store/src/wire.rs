//! The batch transfer format: how a sensor ships a pre-aggregated [`Batch`] to a
//! `dnsledger serve` collector (`POST /api/v1/observations?format=batch`).
//!
//! Shipping aggregates rather than re-rendered text keeps everything the sensor measured (count,
//! first/last seen, TTL range, active days, negative answers) and costs no presentation
//! round trip. Layout, all integers little-endian:
//!
//! ```text
//! "DLB1"                                   magic and version
//! u16 n_sensors, then n × (u16 len, UTF-8 name)   batch-local sensor ids index this list
//! u64 observations                          sightings the batch stands for
//! u32 n_records, then n × (u32 key_len, record key, u32 value_len, aggregate)
//! ```
//!
//! Decoding validates every record key ([`RecordKey::decode`]) and aggregate, and every sensor
//! id against the sensor list, so a hostile or corrupt body is refused whole with the offset of
//! the first problem and never reaches the store.

use dnsledger_model::{Aggregate, RecordKey};

use crate::Batch;

/// Magic and version at the start of an encoded batch.
pub const MAGIC: &[u8; 4] = b"DLB1";
/// Media type of the format (sent as `Content-Type`).
pub const MEDIA_TYPE: &str = "application/x-dnsledger-batch";

/// Why an encoded batch was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad batch at byte {offset}: {reason}")]
pub struct DecodeError {
    /// Offset of the problem in the body.
    pub offset: usize,
    /// What was wrong.
    pub reason: String,
}

/// Appends the encoding of `batch` (its checkpoints are not shipped).
pub fn encode(batch: &Batch, out: &mut Vec<u8>) {
    out.extend_from_slice(MAGIC);
    let names = batch.sensor_names();
    out.extend_from_slice(&(names.len() as u16).to_le_bytes());
    for n in names {
        let b = &n.as_bytes()[..n.len().min(u16::MAX as usize)];
        out.extend_from_slice(&(b.len() as u16).to_le_bytes());
        out.extend_from_slice(b);
    }
    out.extend_from_slice(&batch.observations().to_le_bytes());
    out.extend_from_slice(&(batch.len() as u32).to_le_bytes());
    let mut v = Vec::with_capacity(64);
    for (key, agg) in batch.records() {
        out.extend_from_slice(&(key.len() as u32).to_le_bytes());
        out.extend_from_slice(key);
        v.clear();
        agg.encode(&mut v);
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(&v);
    }
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: impl Into<String>) -> DecodeError {
        DecodeError { offset: self.pos, reason: reason.into() }
    }
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        match end {
            Some(end) => {
                let s = &self.buf[self.pos..end];
                self.pos = end;
                Ok(s)
            }
            None => Err(self.err(format!("truncated {what}"))),
        }
    }
    fn u16(&mut self, what: &str) -> Result<u16, DecodeError> {
        let b = self.take(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self, what: &str) -> Result<u32, DecodeError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self, what: &str) -> Result<u64, DecodeError> {
        let b = self.take(8, what)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
}

/// Decodes and validates an encoded batch.
pub fn decode(buf: &[u8]) -> Result<Batch, DecodeError> {
    let mut r = Reader { buf, pos: 0 };
    if r.take(4, "magic")? != MAGIC {
        return Err(DecodeError { offset: 0, reason: "not a dnsledger batch (bad magic)".into() });
    }
    let n_sensors = r.u16("sensor count")? as usize;
    let mut batch = Batch::new();
    for i in 0..n_sensors {
        let len = r.u16("sensor name length")? as usize;
        let name = std::str::from_utf8(r.take(len, "sensor name")?).map_err(|_| r.err("sensor name is not UTF-8"))?;
        if name.is_empty() {
            return Err(r.err("empty sensor name"));
        }
        if batch.local_sensor(name) as usize != i {
            return Err(r.err(format!("duplicate sensor name {name:?}")));
        }
    }
    let observations = r.u64("observation count")?;
    let n = r.u32("record count")? as usize;
    for _ in 0..n {
        let at = r.pos;
        let klen = r.u32("key length")? as usize;
        let key = r.take(klen, "record key")?;
        RecordKey::decode(key).map_err(|e| DecodeError { offset: at, reason: e.to_string() })?;
        let vlen = r.u32("aggregate length")? as usize;
        let at = r.pos;
        let agg = Aggregate::decode(r.take(vlen, "aggregate")?)
            .map_err(|e| DecodeError { offset: at, reason: format!("bad aggregate: {}", e.0) })?;
        if agg.sensors.ids().iter().any(|&id| id as usize >= n_sensors) {
            return Err(DecodeError { offset: at, reason: "aggregate names an unknown sensor".into() });
        }
        batch.add_aggregate(key, &agg);
    }
    if r.pos != buf.len() {
        return Err(r.err("trailing bytes after the last record"));
    }
    batch.set_observations(observations);
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dnsledger_model::{Name, Negative, Observation, Rdata, RrType};

    fn sample() -> Batch {
        let mut b = Batch::new();
        for (i, name) in ["www.example.com", "mail.example.com", "www.example.com"].iter().enumerate() {
            let mut o = Observation {
                rrname: Name::from_presentation(name).unwrap(),
                rrtype: RrType::A,
                rdata: [Rdata::Wire(vec![192, 0, 2, i as u8])].into_iter().collect(),
                bailiwick: Some(Name::from_presentation("example.com").unwrap()),
                time_first: 100 + i as u64,
                time_last: 100 + i as u64,
                ttl: Some(300),
                sensor: Some(if i == 1 { "s2" } else { "s1" }.into()),
                ..Observation::default()
            };
            b.add(&mut o);
        }
        let mut nx = Observation {
            rrname: Name::from_presentation("gone.example.com").unwrap(),
            negative: Some(Negative::NxDomain),
            time_first: 7,
            time_last: 7,
            ..Observation::default()
        };
        b.add(&mut nx);
        b
    }

    #[test]
    fn round_trip() {
        let b = sample();
        let mut enc = Vec::new();
        encode(&b, &mut enc);
        let d = decode(&enc).unwrap();
        assert_eq!(d.sensor_names(), b.sensor_names());
        assert_eq!(d.observations(), 4);
        let a: Vec<_> = b.records().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        let c: Vec<_> = d.records().map(|(k, v)| (k.to_vec(), v.clone())).collect();
        assert_eq!(a, c);
    }

    #[test]
    fn hostile_bodies_are_refused_never_panic() {
        let mut enc = Vec::new();
        encode(&sample(), &mut enc);
        for cut in 0..enc.len() {
            assert!(decode(&enc[..cut]).is_err(), "prefix of {cut} bytes accepted");
        }
        let err = |b: &[u8]| decode(b).err().expect("refused");
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut m = enc.clone();
            for _ in 0..3 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let i = (x as usize) % m.len();
                m[i] = (x >> 32) as u8;
            }
            let _ = decode(&m);
        }
        let e = err(b"DLB1\x00\x00");
        assert!(e.to_string().contains("truncated observation count"), "{e}");
        assert!(err(b"nope").reason.contains("magic"));
    }
}
