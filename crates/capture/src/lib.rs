//! dnsledger's packet layer: turns pcap/pcapng files and live interfaces into DNS message payloads.
//!
//! This crate owns everything between raw frames and DNS wire messages:
//! - [`FileSource`] reads legacy pcap and pcapng files. Regular files are memory-mapped and frames are
//!   borrowed from the mapping (zero copy); pipes and stdin are streamed through one reusable buffer so
//!   memory stays constant. Both formats are parsed by hand (they are tiny and stable) so that every
//!   error can name the file, the frame number and the byte offset, and so that the per-frame cost is a
//!   handful of loads.
//! - [`live::LiveSource`] captures from an interface through libpcap (BPF, TPACKET_V3 ring, and an
//!   optional `PACKET_FANOUT` group for several reader processes/threads).
//! - [`Decoder`] slices link layers (Ethernet with VLAN/QinQ, Linux SLL/SLL2, raw IP, NULL/LOOP), IPv4 and
//!   IPv6 (extension headers), reassembles IP fragments in a bounded pool, and yields [`DnsPayload`]s for
//!   UDP datagrams and DNS-over-TCP messages. Header slicing is hand written too: it lets the decoder
//!   take the sharding decision right after the IP header and count every skipped frame by reason,
//!   without a per-packet allocation.
//! - DNS over TCP is reassembled here rather than by a general TCP library: DNS needs only in-order
//!   bytes split on the RFC 7766 two-byte length prefix, and owning it lets us bound memory per flow and
//!   per table, deliver messages straight from the segment when no buffering is needed, and resynchronise
//!   on a plausible DNS header after capture loss instead of giving up on the flow.
//! - [`synth`] builds frames and capture files for tests and benchmarks.
//!
//! Malformed input never panics: every reason a frame or byte is skipped has a counter in
//! [`DecodeStats`]. Checksums are not verified (offloading makes locally sent packets look broken).

#![warn(missing_docs)]

mod decode;
mod defrag;
mod file;
pub mod live;
mod stats;
pub mod synth;
mod tcp;

use std::io;

pub use decode::{Decoder, DecoderConfig, DnsPayload, Transport};
pub use file::{FileFormat, FileSource, FileSummary};
pub use stats::DecodeStats;

/// Packet time, microseconds since the Unix epoch.
pub type Micros = i64;

/// One captured frame, borrowed from the file mapping or the capture buffer.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    /// 1-based frame number in its source.
    pub index: u64,
    /// Capture time.
    pub ts: Micros,
    /// Link layer of `data`.
    pub linktype: LinkType,
    /// Captured bytes (possibly cut by the snapshot length).
    pub data: &'a [u8],
    /// Length of the frame on the wire.
    pub orig_len: u32,
}

/// Link-layer header type of a capture (pcap LINKTYPE_* values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// Ethernet II (LINKTYPE_ETHERNET 1).
    Ethernet,
    /// Linux cooked capture v1 (LINKTYPE_LINUX_SLL 113).
    LinuxSll,
    /// Linux cooked capture v2 (LINKTYPE_LINUX_SLL2 276).
    LinuxSll2,
    /// Raw IPv4 or IPv6 chosen by the version nibble (LINKTYPE_RAW 101, and DLT_RAW 12 and 14).
    Raw,
    /// Raw IPv4 (LINKTYPE_IPV4 228).
    Ipv4,
    /// Raw IPv6 (LINKTYPE_IPV6 229).
    Ipv6,
    /// BSD loopback, 4-byte address family in the capturing host's byte order (LINKTYPE_NULL 0).
    Null,
    /// OpenBSD loopback, 4-byte address family in network byte order (LINKTYPE_LOOP 108).
    Loop,
    /// Any other link type; frames are counted as `unsupported_linktype`.
    Other(u32),
}

impl LinkType {
    /// Maps a pcap LINKTYPE/DLT number to a link type.
    pub fn from_dlt(dlt: u32) -> LinkType {
        match dlt {
            1 => LinkType::Ethernet,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            101 | 12 | 14 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            n => LinkType::Other(n),
        }
    }

    /// The LINKTYPE number written to capture files.
    pub fn to_dlt(self) -> u32 {
        match self {
            LinkType::Ethernet => 1,
            LinkType::LinuxSll => 113,
            LinkType::LinuxSll2 => 276,
            LinkType::Raw => 101,
            LinkType::Ipv4 => 228,
            LinkType::Ipv6 => 229,
            LinkType::Null => 0,
            LinkType::Loop => 108,
            LinkType::Other(n) => n,
        }
    }
}

/// Errors of files and live captures; each message names its source.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// Opening, mapping or reading failed.
    #[error("{name}: {source}")]
    Io {
        /// File or stream name.
        name: String,
        /// Underlying error.
        #[source]
        source: io::Error,
    },
    /// The input does not start like a pcap or pcapng file.
    #[error("{name}: not a pcap or pcapng file: {reason}")]
    NotCapture {
        /// File or stream name.
        name: String,
        /// What was found instead.
        reason: String,
    },
    /// A truncated or corrupt record; frames before it were delivered.
    #[error("{name}: bad capture data at frame {frame}, byte offset {offset}: {reason}")]
    Corrupt {
        /// File or stream name.
        name: String,
        /// 1-based number of the frame that could not be read.
        frame: u64,
        /// Byte offset of the bad record (or header) in the input.
        offset: u64,
        /// What is wrong.
        reason: String,
    },
    /// The capture interface does not exist.
    #[error("interface {interface:?}: no such device ({message})")]
    NoSuchDevice {
        /// Interface name.
        interface: String,
        /// libpcap's message.
        message: String,
    },
    /// Live capture is not permitted for this process.
    #[error("interface {interface:?}: permission denied, live capture needs root or CAP_NET_RAW ({message})")]
    Permission {
        /// Interface name.
        interface: String,
        /// libpcap's message.
        message: String,
    },
    /// libpcap rejected the BPF filter expression.
    #[error("invalid BPF filter {filter:?}: {message}")]
    BadFilter {
        /// The filter expression.
        filter: String,
        /// libpcap's message.
        message: String,
    },
    /// Any other live-capture failure.
    #[error("live capture on {interface:?}: {message}")]
    Live {
        /// Interface name.
        interface: String,
        /// What failed.
        message: String,
    },
}

#[cfg(test)]
mod tests;
