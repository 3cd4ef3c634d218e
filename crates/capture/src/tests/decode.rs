//! Link layers, IP, UDP and fragment reassembly.

use super::*;

const LINKS: [Link<'static>; 8] = [
    Link::Ethernet { vlans: &[] },
    Link::Ethernet { vlans: &[100] },
    Link::Ethernet { vlans: &[100, 200] },
    Link::Ethernet { vlans: &[1, 2, 3] },
    Link::Sll,
    Link::Sll2,
    Link::Null,
    Link::Loop,
];

fn one(frames: &[Frame]) -> (Vec<Got>, DecodeStats) {
    decode_all(DecoderConfig::default(), frames)
}

#[test]
fn every_link_type_and_ip_version() {
    let msg = dns(1, false, "example.org");
    let pairs = [(v4(10, 1, 2, 3), v4(10, 3, 2, 1)), (v6(10), v6(20))];
    let mut fb = FrameBuilder::new();
    for link in LINKS.iter().chain([Link::Raw].iter()) {
        for (src, dst) in pairs {
            for hbh in [false, true] {
                let ip = IpSpec { src, dst, id: 1, hop_by_hop: hbh && src.is_ipv6() };
                let f = fb.frame(link, &ip, &L4::Udp { sport: 40000, dport: 53 }, &msg);
                let (got, st) = one(&[Frame::new(5, link.linktype(), f)]);
                assert_eq!(got.len(), 1, "{link:?} {src} hbh={hbh}: {st:?}");
                let g = &got[0];
                assert_eq!((g.src, g.dst, g.sport, g.dport, g.tcp, g.ts), (src, dst, 40000, 53, false, 5));
                assert_eq!(g.data, msg);
                assert_eq!(st.dns_udp, 1);
            }
        }
    }
    // LINKTYPE_IPV4 / LINKTYPE_IPV6 carry the same raw packets.
    let p4 = udp_packet(pairs[0].0, pairs[0].1, 53, 1234, 0, &msg);
    let p6 = udp_packet(pairs[1].0, pairs[1].1, 53, 1234, 0, &msg);
    let (got, _) = one(&[Frame::new(0, LinkType::Ipv4, &p4), Frame::new(0, LinkType::Ipv6, &p6)]);
    assert_eq!(got.len(), 2);
    // DLT_NULL written by a big-endian host.
    let mut null_be = 2u32.to_be_bytes().to_vec();
    null_be.extend_from_slice(&p4);
    assert_eq!(one(&[Frame::new(0, LinkType::Null, &null_be)]).0.len(), 1);
}

#[test]
fn skips_are_counted_by_reason() {
    let msg = dns(1, true, "example.org");
    let eth = Link::Ethernet { vlans: &[] };
    let good = udp_frame(&eth, v4(1, 1, 1, 1), v4(2, 2, 2, 2), 53, 999, &msg);
    let other_port = udp_frame(&eth, v4(1, 1, 1, 1), v4(2, 2, 2, 2), 80, 999, &msg);
    let mut arp = good.clone();
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    let mut icmp = good.clone();
    icmp[14 + 9] = 1;
    let mut cut = Frame::new(0, LinkType::Ethernet, &good[..good.len() - 4]);
    cut.orig_len = good.len() as u32;
    let short_ip = Frame::new(0, LinkType::Ethernet, &good[..good.len() - 4]);
    let mut bad_ihl = good.clone();
    bad_ihl[14] = 0x44;
    let (got, st) = one(&[
        Frame::new(0, LinkType::Ethernet, &good),
        Frame::new(0, LinkType::Ethernet, &other_port),
        Frame::new(0, LinkType::Ethernet, &arp),
        Frame::new(0, LinkType::Ethernet, &icmp),
        Frame::new(0, LinkType::Other(147), &good),
        Frame::new(0, LinkType::Ethernet, &good[..10]),
        cut,
        short_ip,
        Frame::new(0, LinkType::Ethernet, &bad_ihl),
    ]);
    assert_eq!(got.len(), 1);
    let want = [
        ("frames", 9),
        ("dns_udp", 1),
        ("not_dns_port", 1),
        ("not_ip", 1),
        ("not_udp_tcp", 1),
        ("unsupported_linktype", 1),
        ("truncated_link", 1),
        ("truncated_capture", 1),
        ("truncated_ip", 1),
        ("bad_ip_header", 1),
    ];
    for (name, n) in want {
        assert_eq!(st.iter().find(|(k, _)| *k == name).map(|(_, v)| v), Some(n), "{name}: {st:?}");
    }
}

#[test]
fn udp_length_mismatch_and_ethernet_padding() {
    let msg = dns(1, false, "a.b");
    let eth = Link::Ethernet { vlans: &[] };
    let good = udp_frame(&eth, v4(1, 1, 1, 1), v4(2, 2, 2, 2), 5000, 53, &msg);
    // Padding after the IP datagram is ignored.
    let mut padded = good.clone();
    padded.resize(good.len() + 20, 0);
    // UDP length says 4 bytes less than the IP payload: use the UDP length.
    let mut shorter = good.clone();
    let ulen_at = 14 + 20 + 4;
    let ulen = u16::from_be_bytes([good[ulen_at], good[ulen_at + 1]]);
    shorter[ulen_at..ulen_at + 2].copy_from_slice(&(ulen - 4).to_be_bytes());
    // UDP length says more than the IP payload: use the IP payload.
    let mut longer = good.clone();
    longer[ulen_at..ulen_at + 2].copy_from_slice(&(ulen + 100).to_be_bytes());
    let (got, st) = one(&[
        Frame::new(0, LinkType::Ethernet, &padded),
        Frame::new(0, LinkType::Ethernet, &shorter),
        Frame::new(0, LinkType::Ethernet, &longer),
    ]);
    assert_eq!(got[0].data, msg);
    assert_eq!(got[1].data, &msg[..msg.len() - 4]);
    assert_eq!(got[2].data, msg);
    assert_eq!(st.udp_length_mismatch, 2);
}

fn big_datagram(v6addr: bool, id: u16) -> (Vec<u8>, Vec<u8>) {
    let mut payload = dns(id, true, "frag.example");
    payload.resize(3000, 0xab);
    let (s, d) = if v6addr { (v6(1), v6(2)) } else { (v4(192, 0, 2, 53), v4(198, 51, 100, 9)) };
    (udp_packet(s, d, 53, 40000, id, &payload), payload)
}

fn frag_frames(frags: &[Vec<u8>], link: &Link<'_>, ts: Micros) -> Vec<Frame> {
    let mut fb = FrameBuilder::new();
    frags.iter().map(|f| Frame::new(ts, link.linktype(), fb.wrap(link, f))).collect()
}

#[test]
fn fragments_in_order_reversed_duplicated() {
    for v6addr in [false, true] {
        let (pkt, payload) = big_datagram(v6addr, 7);
        let frags = synth::fragment(&pkt, 4, 99);
        assert_eq!(frags.len(), 4);
        let link = Link::Ethernet { vlans: &[] };
        let fr = frag_frames(&frags, &link, 1);
        let mut reversed = fr.clone();
        reversed.reverse();
        let duplicated: Vec<Frame> = fr.iter().flat_map(|f| [f.clone(), f.clone()]).collect();
        for (name, frames) in [("in order", fr.clone()), ("reversed", reversed), ("duplicated", duplicated)] {
            let (got, st) = one(&frames);
            assert_eq!(got.len(), 1, "{name} v6={v6addr}: {st:?}");
            assert_eq!(got[0].data, payload);
            assert_eq!(st.ip_reassembled, 1);
            if name == "duplicated" {
                // The copy of the last fragment arrives after completion and starts a new datagram.
                assert_eq!((st.fragments_duplicate, st.fragments_dropped_at_end), (3, 1));
            } else {
                assert_eq!(st.fragments_dropped_at_end, 0);
            }
        }
    }
}

#[test]
fn overlapping_fragments_drop_the_datagram() {
    for v6addr in [false, true] {
        let (pkt, _) = big_datagram(v6addr, 8);
        let four = synth::fragment(&pkt, 4, 5);
        let three = synth::fragment(&pkt, 3, 5);
        let link = Link::Raw;
        // The first fragment of one split plus the rest of another: extents overlap but differ.
        let mut frags = vec![three[0].clone()];
        frags.extend_from_slice(&four[1..]);
        let (got, st) = one(&frag_frames(&frags, &link, 1));
        assert!(got.is_empty(), "v6={v6addr}");
        assert_eq!(st.fragments_overlap, 1);
        assert_eq!(st.ip_reassembled, 0);
    }
}

#[test]
fn fragment_timeout_and_limit() {
    let link = Link::Raw;
    let (pkt, payload) = big_datagram(false, 9);
    let frags = synth::fragment(&pkt, 3, 0);
    // First fragment at t=0, the rest 31 s later: the first expires, the datagram never completes.
    let mut frames = frag_frames(&frags[..1], &link, 0);
    frames.extend(frag_frames(&frags[1..], &link, 31_000_000));
    let (got, st) = one(&frames);
    assert!(got.is_empty());
    assert_eq!(st.fragments_dropped_timeout, 1);
    assert_eq!(st.fragments_dropped_at_end, 2);

    // Limit 4 fragments: first fragments of 10 datagrams, then one whole datagram still reassembles.
    let cfg = DecoderConfig { max_fragments: 4, ..DecoderConfig::default() };
    let mut frames = Vec::new();
    for id in 100..110 {
        let (p, _) = big_datagram(false, id);
        frames.extend(frag_frames(&synth::fragment(&p, 3, 0)[..1], &link, 1));
    }
    frames.extend(frag_frames(&frags, &link, 2));
    let mut d = Decoder::new(cfg);
    let mut got = Vec::new();
    for (i, f) in frames.iter().enumerate() {
        d.packet(&f.packet(i as u64), &mut |p| got.push(Got::of(p)));
        assert!(d.fragments_held() <= 4);
    }
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].data, payload);
    assert_eq!(d.stats().fragments_dropped_limit, 9);
}

#[test]
fn fragments_with_bad_lengths_are_counted() {
    let (pkt, _) = big_datagram(false, 3);
    let mut frags = synth::fragment(&pkt, 3, 0);
    // Make a middle fragment's payload not a multiple of 8 while "more fragments" is set.
    let f = &mut frags[1];
    f.pop();
    let total = (f.len() as u16).to_be_bytes();
    f[2..4].copy_from_slice(&total);
    let (got, st) = one(&frag_frames(&frags, &Link::Raw, 0));
    assert!(got.is_empty());
    assert!(st.fragments_bad >= 1, "{st:?}");
}

/// An IPv4 fragment of a datagram from 192.0.2.53 (`host` picks the destination), hand-built so
/// that offsets and lengths can be anything.
fn raw_fragment(host: u8, id: u16, offset: usize, more: bool, piece: &[u8]) -> Frame {
    let mut p = vec![0x45, 0];
    p.extend(((20 + piece.len()) as u16).to_be_bytes());
    p.extend(id.to_be_bytes());
    p.extend((((offset / 8) as u16) | if more { 0x2000 } else { 0 }).to_be_bytes());
    p.extend([64, 17, 0, 0, 192, 0, 2, 53, 198, 51, 100, host]);
    p.extend_from_slice(piece);
    Frame::new(1, LinkType::Raw, &p)
}

/// Found in review while writing the `defrag` fuzz target: when the datagram a fragment
/// extends was the oldest and got evicted to make room, the room was computed for its old
/// extent, and the datagram then restarted from nothing and grew past the byte cap.
#[test]
fn fragment_byte_cap_holds_when_the_growing_datagram_is_evicted() {
    let cfg = DecoderConfig { max_fragment_bytes: 3000, ..DecoderConfig::default() };
    let frames = [
        raw_fragment(1, 1, 0, true, &[1; 1000]),    // A: 1000 bytes held
        raw_fragment(2, 2, 0, true, &[2; 1504]),    // B: 2504 held
        raw_fragment(1, 1, 1000, true, &[3; 1400]), // A grows to 2400: A (oldest) and B must go
        raw_fragment(3, 3, 0, true, &[4; 8]),
        raw_fragment(1, 1, 2400, true, &[5; 1000]), // past the cap on its own: dropped alone
    ];
    let mut d = Decoder::new(cfg);
    for (i, f) in frames.iter().enumerate() {
        d.packet(&f.packet(i as u64 + 1), &mut |_| panic!("nothing completes"));
        assert!(d.fragment_bytes_held() <= 3000, "frame {i}: {} bytes held", d.fragment_bytes_held());
    }
    assert_eq!(d.fragment_bytes_held(), 2408);
    assert_eq!(d.fragments_held(), 2);
    // A's first fragment and B were evicted; the fragment too large for the cap was dropped
    assert_eq!(d.stats().fragments_dropped_limit, 3);
}

/// Fragments reaching past 65535 octets, and a last fragment ending before data already held,
/// drop the datagram and are counted; a datagram of exactly 65535 octets still reassembles.
#[test]
fn fragments_past_the_largest_datagram() {
    let (got, st) = one(&[raw_fragment(1, 1, 0, true, &[0; 64]), raw_fragment(1, 1, 65528, false, &[0; 16])]);
    assert!(got.is_empty());
    assert_eq!(st.fragments_bad, 2, "{st:?}");
    let (got, st) = one(&[raw_fragment(1, 2, 64, true, &[0; 64]), raw_fragment(1, 2, 8, false, &[0; 16])]);
    assert!(got.is_empty());
    assert_eq!(st.fragments_bad, 2, "{st:?}");
    // 65535 octets of UDP: port 53, length field 65535 (the IP payload the fragments carry)
    let mut dg = vec![0, 53, 0x9c, 0x40, 0xff, 0xff, 0, 0];
    dg.resize(65_535, 7);
    let mut frames = Vec::new();
    for off in (0..dg.len()).step_by(1480) {
        let end = (off + 1480).min(dg.len());
        frames.push(raw_fragment(1, 3, off, end < dg.len(), &dg[off..end]));
    }
    let (got, st) = one(&frames);
    assert_eq!(got.len(), 1, "{st:?}");
    assert_eq!(got[0].data.len(), 65_535 - 8);
}
