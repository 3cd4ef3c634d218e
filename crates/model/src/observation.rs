//! Observations (one sighting of an RRset, as sources report it) and records (what queries
//! return: an RRset or rdata item with its aggregate).

use smallvec::SmallVec;

use crate::aggregate::Aggregate;
use crate::key::RecordKey;
use crate::name::Name;
use crate::rdata::Rdata;
use crate::rrtype::RrType;
use crate::time::Timestamp;

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
        RecordKey::write(&self.rrname, self.rrtype, self.bailiwick.as_ref(), &self.rdata, out);
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
}

impl Record {
    /// The rdata items in presentation format.
    pub fn rdata_strings(&self) -> Vec<String> {
        self.rdata.iter().map(|r| r.to_presentation(self.rrtype)).collect()
    }
}
