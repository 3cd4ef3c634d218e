//! Decoder counters.

macro_rules! decode_stats {
    ($($(#[doc = $doc:literal])* $name:ident,)*) => {
        /// Counters: frames, bytes, and one counter per skip/drop reason, plus TCP/defrag activity.
        ///
        /// Every reader (shard) counts `frames` and `bytes` for all frames it saw, so merged shard stats
        /// count each frame once per shard; `other_shard` tells how many each shard left to the others.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct DecodeStats {
            $($(#[doc = $doc])* pub $name: u64,)*
        }

        impl DecodeStats {
            /// All counters with stable snake_case names, in a fixed order.
            pub fn iter(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
                [$((stringify!($name), self.$name),)*].into_iter()
            }

            /// Adds `other`'s counters to these (for per-thread stats).
            pub fn merge(&mut self, other: &DecodeStats) {
                $(self.$name += other.$name;)*
            }
        }
    };
}

decode_stats! {
    /// Frames given to the decoder.
    frames,
    /// Captured bytes given to the decoder.
    bytes,
    /// UDP DNS payloads delivered.
    dns_udp,
    /// DNS-over-TCP messages delivered.
    dns_tcp_messages,
    /// Frames of a link type the decoder does not handle.
    unsupported_linktype,
    /// Frames too short for their link-layer header.
    truncated_link,
    /// Frames whose link layer does not carry IPv4 or IPv6 (ARP, LLDP, ...).
    not_ip,
    /// Frames cut by the capture snapshot length before the end of the IP datagram.
    truncated_capture,
    /// IP datagrams longer than the captured frame although the frame was not cut by the snapshot length.
    truncated_ip,
    /// IP headers that are invalid (version, header length, total length, extension headers).
    bad_ip_header,
    /// IP datagrams carrying neither UDP nor TCP (ICMP, ESP, ...).
    not_udp_tcp,
    /// UDP or TCP headers that are short or invalid.
    bad_transport_header,
    /// UDP length field disagreeing with the IP payload length (the smaller one is used).
    udp_length_mismatch,
    /// UDP datagrams on a DNS port with an empty payload.
    udp_empty,
    /// UDP/TCP packets with neither port in the configured DNS port sets.
    not_dns_port,
    /// Packets or fragments that belong to another shard.
    other_shard,
    /// IP fragments received.
    ip_fragments,
    /// Datagrams reassembled from fragments.
    ip_reassembled,
    /// Fragments identical to one already held (ignored).
    fragments_duplicate,
    /// Datagrams dropped because fragments overlapped (anything but an exact duplicate).
    fragments_overlap,
    /// Fragments dropped with a datagram that was inconsistent (offsets, lengths) or overlapping.
    fragments_bad,
    /// Fragments dropped because their datagram did not complete within the timeout.
    fragments_dropped_timeout,
    /// Fragments dropped because the fragment pool was full (oldest datagrams go first).
    fragments_dropped_limit,
    /// Fragments still incomplete at the end of input.
    fragments_dropped_at_end,
    /// TCP segments on a DNS port.
    tcp_segments,
    /// TCP stream directions created.
    tcp_flows_created,
    /// TCP payload bytes already received (retransmissions, overlaps), trimmed.
    tcp_retransmitted_bytes,
    /// TCP segments that arrived ahead of a gap and were held.
    tcp_out_of_order,
    /// Gaps in a TCP stream given up on (the stream resynchronises after them).
    tcp_holes_skipped,
    /// TCP bytes skipped while looking for a plausible DNS message start.
    tcp_resync_skipped_bytes,
    /// DNS-over-TCP length prefixes that cannot be a DNS message (shorter than a DNS header).
    tcp_bad_length,
    /// TCP stream directions evicted because the flow table was full.
    tcp_flows_evicted,
    /// TCP stream directions evicted because the bytes buffered by all of them passed the
    /// table's total cap (`max_tcp_bytes`); also counted in `tcp_flows_evicted`.
    tcp_flows_evicted_memory,
    /// TCP stream directions expired after being idle.
    tcp_flows_expired,
    /// TCP stream directions closed by FIN or RST.
    tcp_flows_closed,
    /// TCP bytes dropped because a stream direction hit its buffer cap.
    tcp_bytes_over_cap,
    /// Buffered TCP bytes discarded without yielding a message (partial messages at a hole or close).
    tcp_dropped_bytes,
}
