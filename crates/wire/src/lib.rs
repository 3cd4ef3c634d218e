//! DNS response messages (wire format) to passive-DNS observations.
//!
//! This crate owns the step from one captured DNS response to the RRsets the passive DNS store
//! keeps: parsing and validating the message, grouping records into RRsets, deciding which of
//! them the answering server can vouch for (the *bailiwick rule*), and turning NXDOMAIN/NODATA
//! responses into negative observations. The packet sensor calls it for every response it
//! captures; the dnstap collector will too. It also offers [`peek_header`] and
//! [`question_key`] for pairing queries with responses without parsing them.
//!
//! # What is accepted
//!
//! Only responses (QR=1) with opcode QUERY, exactly one question of class IN, TC=0 and RCODE
//! NOERROR or NXDOMAIN carry data; other well-formed messages return a [`Skip`] reason. Zone
//! transfers (qtype AXFR/IXFR) are skipped too. Records of a class other than IN, and records
//! of meta types (OPT, TSIG, TKEY, types 128–255 such as ANY/AXFR/IXFR, and type 0) are
//! ignored.
//!
//! A malformed message is rejected whole with a [`WireError`] and nothing is emitted:
//! truncated header, question or records, an RDLENGTH past the end, compression pointers that
//! do not point strictly backwards (this rejects loops and forward pointers) or into the
//! header, a name that follows more than 128 pointers (no encoder needs more: a name has at
//! most 127 labels; longer chains of pointers to pointers are pointer bombs), names over 255
//! octets, unknown label types, and rdata that does not fit its type's layout (`bad_rdata`, as
//! validated by `dnsledger_model::rdata::canonicalize`). Octets after the last counted record
//! are ignored.
//!
//! # Normalisation
//!
//! Owner names and the names inside rdata are decompressed and lower-cased. Names inside rdata
//! are decompressed for NS, MD, MF, CNAME, SOA, MB, MG, MR, PTR, MINFO, MX (RFC 1035), and —
//! where compression is illegal but seen in practice — RP, AFSDB, RT, PX, NAPTR, SRV, KX,
//! DNAME, the SIG/RRSIG signer, the NSEC next name and the SVCB/HTTPS target. Other rdata is
//! taken as it is. Every rdata is validated and canonicalised by the model
//! (`dnsledger_model::rdata::canonicalize`, what `Rdata::from_wire` does); for A/AAAA and the
//! layouts made only of fixed fields and names (NS, CNAME, SOA, MX, SRV, …) the decompressing
//! walk produces the identical canonical form directly, which the tests check against the
//! model. Records are grouped into RRsets per section by (owner, type),
//! wherever they appear in the section (RRSIGs are grouped by owner like any other type); the
//! rdata of a set is de-duplicated and sorted, its TTL is the smallest TTL of its records
//! (TTLs above 2^31-1 count as 0, RFC 2181 §8).
//!
//! # The answer chain
//!
//! Starting from the question name, the CNAME records of the answer section are followed (a
//! DNAME at a proper ancestor of the current name is followed too, synthesising the CNAME
//! target as RFC 6672 does); the walk stops at a loop, after 16 steps, at a CNAME RRset with
//! more than one distinct target, or when nothing continues it. It is not followed for qtype
//! CNAME or ANY. Answer RRsets are kept only when their owner is on that chain (plus the DNAME
//! RRsets used, and RRSIGs at their owners); others are unsolicited, the shape of cache
//! poisoning, and are dropped ([`Extracted::dropped_off_chain`]).
//!
//! # The bailiwick rule
//!
//! Every response is attributed to one zone Z, the *bailiwick*, found in this order:
//!
//! 1. [`MessageMeta::zone_hint`], when the source knows the zone (dnstap `query_zone`).
//! 2. AA set and an SOA RRset in the authority section whose owner is the last name of the
//!    answer chain or an ancestor of it (failing that, the question name or an ancestor): Z is
//!    that owner.
//! 3. AA set and an NS RRset in the authority section whose owner is the question name or an
//!    ancestor of it (the deepest one): Z is that owner.
//! 4. AA clear, no answer records, no SOA in the authority section, and an NS RRset there whose
//!    owner C is the question name or an ancestor of it (the deepest one): a referral to the
//!    child zone C. The server is authoritative for some ancestor of C; Z is the parent of C,
//!    the deepest zone it can vouch for. An upward referral (C is the root) leaves Z unknown.
//! 5. AA set but nothing in the authority section to tell the zone (minimal responses): a
//!    **heuristic** — Z is the registrable domain (eTLD+1, public suffix list) of the question
//!    name when the question name is at or below it, otherwise the question name itself (for
//!    qtype DS, which the parent zone serves, the same is done for the parent of the name).
//! 6. Otherwise (AA clear and not a referral: typically a recursive resolver answering a
//!    client) no zone is known: only the answer chain and negative answers are kept, with no
//!    bailiwick; the authority and additional sections are the resolver's cache contents,
//!    vouched for by no zone, and are dropped ([`Extracted::dropped_unvouched`]).
//!
//! When Z is known, every RRset kept — answer chain, authority (SOA, NS, DS, NSEC…) and
//! additional (glue) sections — must have its owner equal to Z or below it; the others are
//! dropped ([`Extracted::dropped_out_of_bailiwick`]). So a CNAME chain leaving the zone keeps
//! the in-zone CNAME and drops the target's records; a referral from the `com.` servers to
//! `example.com.` keeps the `example.com.` NS and DS RRsets and the glue under `com.`, but not
//! glue for names under `net.`. Every observation emitted carries bailiwick Z (`None` in case
//! 6).
//!
//! # Negative answers
//!
//! With [`ExtractOptions::negative`]: an NXDOMAIN gives one observation for the *last* name of
//! the answer chain (after CNAMEs the NXDOMAIN applies to the final target, RFC 6604) and the
//! qtype, with [`Negative::NxDomain`] and no rdata. A NOERROR response gives
//! [`Negative::NoData`] for (last chain name, qtype) when the answer holds no RRset of the
//! qtype at that name and the response is authoritative (AA) or carries an SOA in the authority
//! section — so neither a referral (AA clear, no SOA) nor a lame empty answer counts; never for
//! qtype ANY. Meta qtypes (0, OPT, 128–254) get no negative observation. The TTL of a negative observation is the SOA MINIMUM capped by the SOA record's
//! TTL, when an SOA at or above the name is in the authority section (otherwise no TTL).
//! Negative observations obey the bailiwick rule and the type filter (on the qtype) like
//! positive ones, and carry bailiwick Z (`None` when unknown).
//!
//! # mDNS responses
//!
//! Multicast DNS responses (RFC 6762) answer no particular question: they carry no question
//! section (§6) and announce records unsolicited, each responder speaking for the names it
//! owns. They are read by [`Extractor::extract_mdns`], which the sensor calls for UDP
//! messages from source port 5353 (the port every mDNS response must come from, §6 and
//! §11); port 53 traffic keeps the rules above. The differences:
//!
//! - A question section, when present (legacy unicast responses repeat the query), is read
//!   past and ignored; there is no answer chain and no negative observation (mDNS denies
//!   records with NSEC records, §6.1, and those are kept as records).
//! - The top bit of each record's class is the cache-flush bit (§10.2) and is masked off;
//!   then only class IN is kept, as above. TC is ignored (§18.5); an RCODE or opcode other
//!   than 0 skips the message (§18.3, §18.11).
//! - **Bailiwick rule for mDNS:** every RRset's bailiwick is its own owner name. There is no
//!   zone server on a link: each responder is authoritative only for its own records, and
//!   any host may announce any name under `local.` (or a reverse-mapping name), so no record
//!   vouches for another and a wider zone such as `local.` would claim more than anyone
//!   answered for. Every RRset of the answer, authority and additional sections is kept
//!   (subject to [`ExtractOptions`]); records with TTL 0 ("goodbye" announcements, §10.1)
//!   are kept as sightings with TTL 0.
//!
//! # Cost
//!
//! The message is parsed by this crate's own bounds-checked reader (not `domain`'s, which the
//! tests use as an independent builder and as a differential oracle: every message this reader
//! accepts in 200k fuzzed rounds must parse record for record with `domain`): it needs
//! strictly-backwards pointers, decompression inside rdata for the types above, and no
//! allocation. Names already decoded are reused through a small per-message cache, so a
//! compression pointer costs one copy. Apart from the observation handed to `emit` (one
//! owner-name allocation per RRset; rdata buffers are recycled), extraction allocates nothing
//! once the [`Extractor`]'s buffers are warm.

mod extract;
mod wire;

#[cfg(test)]
mod tests;

use std::fmt;

use dnsledger_model::{Name, TypeSet};

pub use dnsledger_model::time::Timestamp;
pub use dnsledger_model::{Negative, Observation};
pub use extract::{Extractor, Rrset};
pub use wire::{peek_header, question_key, Header};

/// What an [`Extractor`] emits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtractOptions {
    /// Emit NXDOMAIN/NODATA observations (default false).
    pub negative: bool,
    /// Which rrtypes to keep (default all); negatives are filtered on the qtype.
    pub types: TypeSet,
    /// Keep in-bailiwick authority-section RRsets (default true).
    pub authority: bool,
    /// Keep in-bailiwick additional-section RRsets (default true).
    pub additional: bool,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions { negative: false, types: TypeSet::all(), authority: true, additional: true }
    }
}

/// What the caller knows about a response besides its bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct MessageMeta<'a> {
    /// Epoch seconds of the sighting.
    pub time: Timestamp,
    /// The zone the server answered from, when the source knows it (dnstap `query_zone`).
    pub zone_hint: Option<&'a Name>,
}

/// How the bailiwick of a response was determined (see the crate docs for the rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZoneSource {
    /// Rule 1: the caller's [`MessageMeta::zone_hint`].
    Hint,
    /// Rule 2: the owner of an SOA in the authority section of an authoritative answer.
    Soa,
    /// Rule 3: the owner of an NS RRset in the authority section of an authoritative answer.
    Ns,
    /// Rule 4: the parent of the child zone of a referral.
    Referral,
    /// Rule 5 (heuristic): the registrable domain of the question name, or the name itself.
    Registrable,
    /// Rule 6: no zone known; only the answer chain (and negatives) kept, without bailiwick.
    Unknown,
    /// mDNS ([`Extractor::extract_mdns`]): no zone; every RRset's bailiwick is its own owner.
    Owner,
}

impl ZoneSource {
    /// A stable snake_case label for counters.
    pub fn as_str(self) -> &'static str {
        match self {
            ZoneSource::Hint => "hint",
            ZoneSource::Soa => "soa",
            ZoneSource::Ns => "ns",
            ZoneSource::Referral => "referral",
            ZoneSource::Registrable => "registrable",
            ZoneSource::Unknown => "unknown",
            ZoneSource::Owner => "owner",
        }
    }
}

/// What one call to [`Extractor::extract`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extracted {
    /// Positive RRsets emitted.
    pub rrsets: u32,
    /// The negative observation emitted, if any.
    pub negative: Option<Negative>,
    /// RRsets (and negatives) dropped because their owner is not at or below the zone.
    pub dropped_out_of_bailiwick: u32,
    /// Answer RRsets dropped because their owner is not on the CNAME/DNAME chain.
    pub dropped_off_chain: u32,
    /// Authority/additional RRsets dropped because no zone vouches for them (rule 6).
    pub dropped_unvouched: u32,
    /// How the zone was determined; the zone itself is [`Extractor::zone`].
    pub zone: ZoneSource,
}

/// Why a well-formed message carries nothing to store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// QR=0: a query.
    NotResponse,
    /// An opcode other than QUERY.
    Opcode(u8),
    /// TC=1: the sections may be incomplete.
    Truncated,
    /// An RCODE other than NOERROR/NXDOMAIN (SERVFAIL, REFUSED, FORMERR, …), including the
    /// extended RCODEs of EDNS (BADVERS, BADCOOKIE, …: the OPT record's high bits, RFC 6891).
    Rcode(u16),
    /// QDCOUNT=0.
    NoQuestion,
    /// QDCOUNT>1.
    MultipleQuestions,
    /// A question class other than IN.
    Class(u16),
    /// A zone transfer (qtype AXFR or IXFR).
    ZoneTransfer,
}

impl Skip {
    /// A stable snake_case label for counters.
    pub fn as_str(self) -> &'static str {
        match self {
            Skip::NotResponse => "not_response",
            Skip::Opcode(_) => "opcode",
            Skip::Truncated => "truncated_tc",
            Skip::Rcode(_) => "rcode",
            Skip::NoQuestion => "no_question",
            Skip::MultipleQuestions => "multiple_questions",
            Skip::Class(_) => "class",
            Skip::ZoneTransfer => "zone_transfer",
        }
    }
}

/// A malformed message, rejected whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DNS message ({reason}): {detail}")]
pub struct WireError {
    /// Stable snake_case reason for counters: `truncated`, `rdlength_overrun`, `bad_pointer`,
    /// `name_too_long`, `bad_label_type`, `bad_rdata` (and `bad_name`, which valid input cannot
    /// produce).
    pub reason: &'static str,
    /// Human-readable detail (offsets, the rdata error).
    pub detail: String,
}

impl WireError {
    /// An error with a reason and formatted detail.
    pub(crate) fn new(reason: &'static str, detail: fmt::Arguments<'_>) -> WireError {
        WireError { reason, detail: detail.to_string() }
    }
}
