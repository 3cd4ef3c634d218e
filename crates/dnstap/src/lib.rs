//! dnstap transport and messages: Frame Streams files and sockets, and the dnstap protobuf types.
//!
//! This crate owns the protocol layer of dnstap and knows nothing about observations (turning a
//! frame's DNS response into RRsets is `dnsledger-sources`' `dnstap` format, with
//! `dnsledger-wire`):
//!
//! - [`proto`]: the messages of the public `dnstap.proto` schema (<https://github.com/dnstap/dnstap.pb>,
//!   CC0) as hand-written `prost` derives: [`Dnstap`], [`Message`], their enums and [`Policy`].
//! - [`fstrm`]: Frame Streams framing as described by the public fstrm protocol notes
//!   (<https://github.com/farsightsec/fstrm>, `fstrm/control.h`): zero-copy slice parsing
//!   ([`next_frame`], `Ok(None)` for a partial frame so chunked readers can carry the rest over),
//!   a file [`Reader`] and [`Writer`] (START, data frames, STOP), and both ends of the
//!   bidirectional socket handshake ([`Receiver`]: READY → ACCEPT → START … STOP → FINISH, also
//!   accepting senders that start with a bare START; [`Sender`]: what a DNS server does).
//! - [`view`]: zero-copy decoding of the same messages ([`DnstapView`]) for the hot path of a
//!   collector: prost's owned decode allocates every bytes field, which dominated the cost on
//!   real Unbound data; the view is checked against prost by a differential test.
//! - [`listener`]: a blocking unix/TCP socket server for dnstap senders ([`Listener`]), with a
//!   connection cap, handshake and idle timeouts, counters, and a stop handle.
//!
//! Why our own Frame Streams code: no maintained Rust crate decodes Frame Streams with the
//! bidirectional handshake — the `dnstap` crate is a sender only and `framestream` an encoder
//! only (see `../shared/reference/crates.md` §4). Why hand-written prost derives: the schema is
//! small and stable, and writing the derives by hand means no `protoc` and no build script at
//! build time; the tests pin the field numbers and wire types byte for byte.
//!
//! Nothing here panics on input: truncated, oversized or malformed frames and protobuf payloads
//! are errors that say where and why.

pub mod fstrm;
pub mod listener;
pub mod proto;
pub mod view;

#[cfg(test)]
mod tests;

pub use fstrm::{
    encode_control, encode_data, next_frame, next_frame_capped, Control, ControlKind, Frame, FrameDecoder, FstrmError,
    FstrmErrorKind, Handshake, Reader, ReaderOptions, Receiver, Sender, Writer, DEFAULT_MAX_FRAME, DNSTAP_CONTENT_TYPE,
    MAX_CONTROL_FRAME,
};
pub use listener::{
    ConnError, ConnInfo, ConnSnapshot, Endpoint, Listener, ListenerConfig, ListenerHandle, ListenerStats,
};
pub use prost::Message as ProstMessage;
pub use proto::{message::Type as MessageType, Dnstap, Message, Policy, SocketFamily, SocketProtocol};
pub use view::{DnstapView, MessageView, ViewError};
