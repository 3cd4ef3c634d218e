//! The dnstap protobuf messages, written by hand as `prost` derives.
//!
//! This module owns the Rust form of the public dnstap schema, `dnstap.proto` from
//! <https://github.com/dnstap/dnstap.pb> (proto2, CC0): the same messages, field numbers, wire
//! types and enum values (`optional` fields are `Option`, `required` ones plain values; enums
//! are carried as `i32` as prost does, with typed getters). It is kept in sync with the schema by
//! hand; the round-trip tests below pin the field numbers and wire types byte for byte.
//!
//! Decoding never panics: prost returns a [`prost::DecodeError`] for truncated or malformed
//! input. prost does not enforce proto2 `required` fields: a missing `type` decodes as the enum's
//! first value (proto2's default), MESSAGE for `Dnstap.type` and AUTH_QUERY for `Message.type`;
//! [`Dnstap::is_message`] also checks that the message is there.

/// The top-level dnstap payload (`message Dnstap`): one frame of a `protobuf:dnstap.Dnstap` stream.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Dnstap {
    /// DNS server identity (typically what an NSID query returns), field 1.
    #[prost(bytes = "vec", optional, tag = "1")]
    pub identity: Option<Vec<u8>>,
    /// DNS server version (typically what `version.bind` returns), field 2.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub version: Option<Vec<u8>>,
    /// Free-form annotation of the payload, field 3.
    #[prost(bytes = "vec", optional, tag = "3")]
    pub extra: Option<Vec<u8>>,
    /// Which of the payload fields is filled in ([`dnstap::Type`]), field 15 (required).
    #[prost(enumeration = "dnstap::Type", required, tag = "15")]
    pub r#type: i32,
    /// The DNS message event, when `type` is MESSAGE, field 14.
    #[prost(message, optional, tag = "14")]
    pub message: Option<Message>,
}

impl Dnstap {
    /// True if `type` is MESSAGE and the message is present.
    pub fn is_message(&self) -> bool {
        self.r#type == dnstap::Type::Message as i32 && self.message.is_some()
    }
}

/// Nested types of [`Dnstap`].
pub mod dnstap {
    /// `Dnstap.Type`: which payload field is filled in.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// The `message` field holds a [`super::Message`].
        Message = 1,
    }
}

/// `SocketFamily`: how the address fields of a [`Message`] are to be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SocketFamily {
    /// IPv4: addresses are 4 octets.
    Inet = 1,
    /// IPv6: addresses are 16 octets.
    Inet6 = 2,
}

/// `SocketProtocol`: the transport that carried the DNS message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum SocketProtocol {
    /// DNS over UDP (RFC 1035 §4.2.1).
    Udp = 1,
    /// DNS over TCP (RFC 1035 §4.2.2).
    Tcp = 2,
    /// DNS over TLS (RFC 7858).
    Dot = 3,
    /// DNS over HTTPS (RFC 8484).
    Doh = 4,
    /// DNSCrypt over UDP.
    DnsCryptUdp = 5,
    /// DNSCrypt over TCP.
    DnsCryptTcp = 6,
    /// DNS over QUIC (RFC 9250).
    Doq = 7,
}

/// `HttpProtocol`: the HTTP version of a DNS-over-HTTPS message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum HttpProtocol {
    /// HTTP/1.
    Http1 = 1,
    /// HTTP/2.
    Http2 = 2,
    /// HTTP/3.
    Http3 = 3,
}

/// `Policy`: an operator policy (e.g. RPZ) applied while processing the message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Policy {
    /// Kind of policy, e.g. `RPZ`, field 1.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// The rule matched (for RPZ the rule's owner name in wire format), field 2.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub rule: Option<Vec<u8>>,
    /// The action taken ([`policy::Action`]), field 3.
    #[prost(enumeration = "policy::Action", optional, tag = "3")]
    pub action: Option<i32>,
    /// What matched the rule ([`policy::Match`]), field 4.
    #[prost(enumeration = "policy::Match", optional, tag = "4")]
    pub r#match: Option<i32>,
    /// The matched value (format depends on `match`), field 5.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub value: Option<Vec<u8>>,
}

/// Nested types of [`Policy`].
pub mod policy {
    /// `Policy.Match`: what part of the exchange triggered the policy.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Match {
        /// The question name.
        Qname = 1,
        /// The client address.
        ClientIp = 2,
        /// An address in an A/AAAA RRset of the response.
        ResponseIp = 3,
        /// An authoritative name server, by name.
        NsName = 4,
        /// An authoritative name server, by address.
        NsIp = 5,
    }

    /// `Policy.Action`: what the policy did.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Action {
        /// Answered NXDOMAIN.
        Nxdomain = 1,
        /// Answered with an empty answer section.
        Nodata = 2,
        /// Left the response alone.
        Pass = 3,
        /// Did not answer.
        Drop = 4,
        /// Truncated the UDP response.
        Truncate = 5,
        /// Answered with local data.
        LocalData = 6,
    }
}

/// `Message`: one wire-format DNS message event and its metadata.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Message {
    /// Which end of which exchange this is ([`message::Type`]), field 1 (required).
    #[prost(enumeration = "message::Type", required, tag = "1")]
    pub r#type: i32,
    /// [`SocketFamily`] of the address fields, field 2.
    #[prost(enumeration = "SocketFamily", optional, tag = "2")]
    pub socket_family: Option<i32>,
    /// [`SocketProtocol`] that carried the message, field 3.
    #[prost(enumeration = "SocketProtocol", optional, tag = "3")]
    pub socket_protocol: Option<i32>,
    /// Address of the initiator (4 or 16 octets), field 4.
    #[prost(bytes = "vec", optional, tag = "4")]
    pub query_address: Option<Vec<u8>>,
    /// Address of the responder (4 or 16 octets), field 5.
    #[prost(bytes = "vec", optional, tag = "5")]
    pub response_address: Option<Vec<u8>>,
    /// Port of the initiator, field 6.
    #[prost(uint32, optional, tag = "6")]
    pub query_port: Option<u32>,
    /// Port of the responder, field 7.
    #[prost(uint32, optional, tag = "7")]
    pub response_port: Option<u32>,
    /// When the query was sent or received, epoch seconds, field 8.
    #[prost(uint64, optional, tag = "8")]
    pub query_time_sec: Option<u64>,
    /// Nanoseconds part of `query_time_sec`, field 9 (fixed32).
    #[prost(fixed32, optional, tag = "9")]
    pub query_time_nsec: Option<u32>,
    /// The query message, wire format, verbatim, field 10.
    #[prost(bytes = "vec", optional, tag = "10")]
    pub query_message: Option<Vec<u8>>,
    /// The zone ("bailiwick") the query was sent to, an uncompressed wire-format name, field 11.
    #[prost(bytes = "vec", optional, tag = "11")]
    pub query_zone: Option<Vec<u8>>,
    /// When the response was sent or received, epoch seconds, field 12.
    #[prost(uint64, optional, tag = "12")]
    pub response_time_sec: Option<u64>,
    /// Nanoseconds part of `response_time_sec`, field 13 (fixed32).
    #[prost(fixed32, optional, tag = "13")]
    pub response_time_nsec: Option<u32>,
    /// The response message, wire format, verbatim, field 14.
    #[prost(bytes = "vec", optional, tag = "14")]
    pub response_message: Option<Vec<u8>>,
    /// Operator policy applied, field 15.
    #[prost(message, optional, tag = "15")]
    pub policy: Option<Policy>,
    /// [`HttpProtocol`] for DNS over HTTPS, field 16.
    #[prost(enumeration = "HttpProtocol", optional, tag = "16")]
    pub http_protocol: Option<i32>,
}

/// Nested types of [`Message`].
pub mod message {
    /// `Message.Type`: which end of which exchange the message was logged at.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
    #[repr(i32)]
    pub enum Type {
        /// A query received by an authoritative server.
        AuthQuery = 1,
        /// A response sent by an authoritative server.
        AuthResponse = 2,
        /// A query sent by a resolver to an authoritative server.
        ResolverQuery = 3,
        /// A response received by a resolver from an authoritative server.
        ResolverResponse = 4,
        /// A query received by a recursive server from a client.
        ClientQuery = 5,
        /// A response sent by a recursive server to a client.
        ClientResponse = 6,
        /// A query sent by a server to an upstream recursive server.
        ForwarderQuery = 7,
        /// A response received by a server from an upstream recursive server.
        ForwarderResponse = 8,
        /// A query sent by a stub resolver.
        StubQuery = 9,
        /// A response received by a stub resolver.
        StubResponse = 10,
        /// A query sent by a DNS tool.
        ToolQuery = 11,
        /// A response received by a DNS tool.
        ToolResponse = 12,
        /// A dynamic update request (RFC 2136) received by an authoritative server.
        UpdateQuery = 13,
        /// A dynamic update response sent by an authoritative server.
        UpdateResponse = 14,
    }

    impl Type {
        /// The schema's name of the value, e.g. `RESOLVER_RESPONSE`.
        pub fn as_str(self) -> &'static str {
            match self {
                Type::AuthQuery => "AUTH_QUERY",
                Type::AuthResponse => "AUTH_RESPONSE",
                Type::ResolverQuery => "RESOLVER_QUERY",
                Type::ResolverResponse => "RESOLVER_RESPONSE",
                Type::ClientQuery => "CLIENT_QUERY",
                Type::ClientResponse => "CLIENT_RESPONSE",
                Type::ForwarderQuery => "FORWARDER_QUERY",
                Type::ForwarderResponse => "FORWARDER_RESPONSE",
                Type::StubQuery => "STUB_QUERY",
                Type::StubResponse => "STUB_RESPONSE",
                Type::ToolQuery => "TOOL_QUERY",
                Type::ToolResponse => "TOOL_RESPONSE",
                Type::UpdateQuery => "UPDATE_QUERY",
                Type::UpdateResponse => "UPDATE_RESPONSE",
            }
        }

        /// True for the response ends of the exchanges (even schema values).
        pub fn is_response(self) -> bool {
            (self as i32) % 2 == 0
        }
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;

    /// A RESOLVER_RESPONSE with every field set (values made up for the test).
    fn full() -> Dnstap {
        Dnstap {
            identity: Some(b"ns-a".to_vec()),
            version: Some(b"v1".to_vec()),
            extra: Some(vec![0xff]),
            r#type: dnstap::Type::Message as i32,
            message: Some(Message {
                r#type: message::Type::ResolverResponse as i32,
                socket_family: Some(SocketFamily::Inet as i32),
                socket_protocol: Some(SocketProtocol::Doq as i32),
                query_address: Some(vec![127, 0, 0, 1]),
                response_address: Some(vec![192, 0, 2, 1]),
                query_port: Some(40000),
                response_port: Some(53),
                query_time_sec: Some(1_700_000_000),
                query_time_nsec: Some(5),
                query_message: Some(vec![1, 2]),
                query_zone: Some(b"\x03com\x00".to_vec()),
                response_time_sec: Some(1_700_000_001),
                response_time_nsec: Some(6),
                response_message: Some(vec![3, 4]),
                policy: Some(Policy {
                    r#type: Some("RPZ".into()),
                    rule: Some(b"\x01x\x00".to_vec()),
                    action: Some(policy::Action::LocalData as i32),
                    r#match: Some(policy::Match::NsIp as i32),
                    value: Some(vec![9]),
                }),
                http_protocol: Some(HttpProtocol::Http3 as i32),
            }),
        }
    }

    #[test]
    fn field_numbers_and_wire_types() {
        // Hand-assembled from dnstap.proto: key = (field << 3) | wire type.
        let m = Message {
            r#type: 4,
            socket_family: Some(1),
            query_time_nsec: Some(0x0102_0304),
            query_zone: Some(vec![0]),
            response_time_sec: Some(300),
            http_protocol: Some(2),
            ..Message::default()
        };
        let d = Dnstap { r#type: 1, identity: Some(b"a".to_vec()), message: Some(m), ..Dnstap::default() };
        let bytes = d.encode_to_vec();
        let inner: &[u8] = &[
            0x08, 4, // type = 1 varint
            0x10, 1, // socket_family = 2 varint
            0x4d, 0x04, 0x03, 0x02, 0x01, // query_time_nsec = 9 fixed32
            0x5a, 1, 0, // query_zone = 11 bytes
            0x60, 0xac, 0x02, // response_time_sec = 12 varint 300
            0x80, 0x01, 2, // http_protocol = 16 varint
        ];
        let mut want = vec![0x0a, 1, b'a']; // identity = 1 bytes
        want.extend_from_slice(&[0x72, inner.len() as u8]); // message = 14 bytes
        want.extend_from_slice(inner);
        want.extend_from_slice(&[0x78, 1]); // type = 15 varint
        assert_eq!(bytes, want);
        assert_eq!(Dnstap::decode(&want[..]).ok(), Some(d));
    }

    #[test]
    fn round_trip_and_getters() {
        let d = full();
        let back = Dnstap::decode(&d.encode_to_vec()[..]).ok();
        assert_eq!(back.as_ref(), Some(&d));
        let m = back.and_then(|d| d.message).unwrap_or_default();
        assert_eq!(m.r#type(), message::Type::ResolverResponse);
        assert_eq!(m.socket_protocol(), SocketProtocol::Doq);
        assert_eq!(m.http_protocol(), HttpProtocol::Http3);
        assert!(m.r#type().is_response());
        assert_eq!(m.r#type().as_str(), "RESOLVER_RESPONSE");
        assert_eq!(message::Type::try_from(13).ok(), Some(message::Type::UpdateQuery));
        assert!(message::Type::try_from(15).is_err());
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        let good = full().encode_to_vec();
        for cut in 0..good.len() {
            let _ = Dnstap::decode(&good[..cut]);
        }
        assert!(Dnstap::decode(&[0x72, 0x05, 0x08][..]).is_err());
        assert!(Dnstap::decode(&[0xff; 12][..]).is_err());
        let mut seed = 0x1234_5678_9abc_def0_u64;
        for _ in 0..5000 {
            let mut b = good.clone();
            for _ in 0..3 {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let i = (seed % b.len() as u64) as usize;
                if let Some(x) = b.get_mut(i) {
                    *x = (seed >> 32) as u8;
                }
            }
            let _ = Dnstap::decode(&b[..]);
        }
    }
}
