//! Observations (one sighting of an RRset, as sources report it) and records (what queries
//! return: an RRset or rdata item with its aggregate).

use smallvec::SmallVec;

use crate::aggregate::Aggregate;
use crate::key::RecordKey;
use crate::name::Name;
use crate::rdata::Rdata;
use crate::rrtype::RrType;
use crate::time::Timestamp;

/// A negative answer kept as an observation: the queried name does not exist (NXDOMAIN), or it
/// exists but has no data of the queried type (NODATA). Stored under the queried name and type,
/// with no rdata, apart from positive RRsets (lookups return them only when asked).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Negative {
    /// RCODE 3: the name does not exist.
    NxDomain,
    /// NOERROR without data of the queried type (RFC 2308 §2.2).
    NoData,
}

impl Negative {
    /// The upper-case label used in outputs (`NXDOMAIN`, `NODATA`).
    pub fn as_str(self) -> &'static str {
        match self {
            Negative::NxDomain => "NXDOMAIN",
            Negative::NoData => "NODATA",
        }
    }

    /// Parses `NXDOMAIN` / `NODATA` (any case).
    pub fn parse(s: &str) -> Option<Negative> {
        if s.eq_ignore_ascii_case("NXDOMAIN") {
            Some(Negative::NxDomain)
        } else if s.eq_ignore_ascii_case("NODATA") {
            Some(Negative::NoData)
        } else {
            None
        }
    }

    /// The byte stored in record keys.
    pub fn code(self) -> u8 {
        match self {
            Negative::NxDomain => 1,
            Negative::NoData => 2,
        }
    }

    /// The inverse of [`Negative::code`].
    pub fn from_code(b: u8) -> Option<Negative> {
        match b {
            1 => Some(Negative::NxDomain),
            2 => Some(Negative::NoData),
            _ => None,
        }
    }
}

/// One sighting of an RRset (or, for per-RR sources such as passivedns logs, one RR).
///
/// Sources fill these in; pipelines aggregate them by (rrname, rrtype, bailiwick, rdata set).
/// The struct is reusable: parsers overwrite its fields line after line without allocating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Observation {
    /// Owner name.
    pub rrname: Name,
    /// Record type.
    pub rrtype: RrType,
    /// The rdata seen together in one answer; normally one item for per-RR sources.
    pub rdata: SmallVec<[Rdata; 1]>,
    /// The zone the answering server was authoritative for, when the source knows it.
    pub bailiwick: Option<Name>,
    /// First time of the sighting(s).
    pub time_first: Timestamp,
    /// Last time of the sighting(s); equal to `time_first` for a single sighting.
    pub time_last: Timestamp,
    /// True if this comes from a zone file (sets zone times instead of sensor times).
    pub zone: bool,
    /// TTL as seen, if known.
    pub ttl: Option<u32>,
    /// Number of sightings this observation stands for (1 for raw traffic).
    pub count: u64,
    /// Sensor or source id, if any.
    pub sensor: Option<String>,
    /// Set for a negative answer (then `rdata` is empty and `rrtype` is the queried type).
    pub negative: Option<Negative>,
}

impl Default for Observation {
    fn default() -> Self {
        Observation {
            rrname: Name::root(),
            rrtype: RrType::A,
            rdata: SmallVec::new(),
            bailiwick: None,
            time_first: 0,
            time_last: 0,
            zone: false,
            ttl: None,
            count: 1,
            sensor: None,
            negative: None,
        }
    }
}

impl Observation {
    /// Adds what this observation contributes to `agg` (sensor id as assigned by the caller).
    pub fn add_to(&self, agg: &mut Aggregate, sensor_id: Option<u16>) {
        if self.zone {
            agg.observe_zone(self.time_first, self.time_last, self.count);
        } else {
            agg.observe_sensor(self.time_first, self.time_last, self.count);
        }
        if let Some(ttl) = self.ttl {
            agg.observe_ttl(ttl);
        }
        if let Some(id) = sensor_id {
            agg.sensors.insert(id);
        }
    }

    /// Sorts and de-duplicates the rdata set so equal RRsets give equal keys.
    pub fn normalize_rdata(&mut self) {
        if self.rdata.len() > 1 {
            self.rdata.sort_unstable();
            self.rdata.dedup();
        }
    }

    /// Appends the record key (see [`RecordKey`]); call [`Observation::normalize_rdata`] first.
    pub fn write_key(&self, out: &mut Vec<u8>) {
        match self.negative {
            Some(n) => RecordKey::write_negative(&self.rrname, self.rrtype, self.bailiwick.as_ref(), n, out),
            None => RecordKey::write(&self.rrname, self.rrtype, self.bailiwick.as_ref(), &self.rdata, out),
        }
    }
}

/// A record as queries return it: an RRset (with bailiwick, from name lookups) or a single
/// rdata item (without bailiwick, from inverse lookups), with its aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Owner name.
    pub rrname: Name,
    /// Record type.
    pub rrtype: RrType,
    /// Zone cut the data came from; `None` for rdata-view records and unknown bailiwicks.
    pub bailiwick: Option<Name>,
    /// The RRset's rdata (one item for rdata-view records).
    pub rdata: Vec<Rdata>,
    /// First/last seen, count, TTL range, days, sensor ids.
    pub agg: Aggregate,
    /// Names of the sensors in `agg.sensors`, resolved by the store.
    pub sensors: Vec<String>,
    /// Set for a negative-answer record (its `rdata` is empty).
    pub negative: Option<Negative>,
}

impl Record {
    /// The rdata items in presentation format.
    pub fn rdata_strings(&self) -> Vec<String> {
        self.rdata.iter().map(|r| r.to_presentation(self.rrtype)).collect()
    }
}
