//! DNS-over-TCP reassembly.

use super::*;
use crate::synth::tcp_flags::{ACK, FIN, PSH, RST, SYN};

/// One direction of a TCP connection, building frames.
struct Conn {
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    fb: FrameBuilder,
}

impl Conn {
    fn new(src: IpAddr, dst: IpAddr, sport: u16, dport: u16) -> Conn {
        Conn { src, dst, sport, dport, fb: FrameBuilder::new() }
    }

    fn client() -> Conn {
        Conn::new(v4(10, 0, 0, 1), v4(10, 0, 0, 2), 40000, 53)
    }

    fn seg(&mut self, ts: Micros, seq: u32, flags: u8, payload: &[u8]) -> Frame {
        let l4 = L4::Tcp { sport: self.sport, dport: self.dport, seq, ack: 1, flags };
        let f = self.fb.frame(&Link::Ethernet { vlans: &[] }, &IpSpec::new(self.src, self.dst), &l4, payload);
        Frame::new(ts, LinkType::Ethernet, f)
    }
}

/// Length-prefixed messages.
fn framed(msgs: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for m in msgs {
        out.extend_from_slice(&(m.len() as u16).to_be_bytes());
        out.extend_from_slice(m);
    }
    out
}

fn msgs(n: u16) -> Vec<Vec<u8>> {
    (0..n).map(|i| dns(i, true, &format!("host{i}.example.net"))).collect()
}

fn datas(got: &[Got]) -> Vec<Vec<u8>> {
    got.iter().map(|g| g.data.clone()).collect()
}

const ISN: u32 = 1000;

fn syn(c: &mut Conn) -> Frame {
    c.seg(0, ISN, SYN, &[])
}

#[test]
fn one_message_in_one_segment() {
    let mut c = Conn::client();
    let m = msgs(1);
    let (got, st) = decode_all(DecoderConfig::default(), &[syn(&mut c), c.seg(1, ISN + 1, PSH | ACK, &framed(&m))]);
    assert_eq!(datas(&got), m);
    let g = &got[0];
    assert_eq!((g.src, g.dst, g.sport, g.dport, g.tcp, g.ts), (c.src, c.dst, 40000, 53, true, 1));
    assert_eq!(st.dns_tcp_messages, 1);
    assert_eq!(st.tcp_dropped_bytes, 0);
}

#[test]
fn length_prefix_split_one_plus_one() {
    let mut c = Conn::client();
    let m = msgs(1);
    let s = framed(&m);
    let mut frames = vec![syn(&mut c)];
    let cuts = [0, 1, 2, 10, s.len()];
    for w in cuts.windows(2) {
        frames.push(c.seg(1, ISN + 1 + w[0] as u32, ACK, &s[w[0]..w[1]]));
    }
    let (got, _) = decode_all(DecoderConfig::default(), &frames);
    assert_eq!(datas(&got), m);
}

#[test]
fn three_messages_in_one_segment() {
    let mut c = Conn::client();
    let m = msgs(3);
    let (got, _) = decode_all(DecoderConfig::default(), &[syn(&mut c), c.seg(1, ISN + 1, ACK, &framed(&m))]);
    assert_eq!(datas(&got), m);
}

/// Splits a stream into `n` segments starting at `seq`.
fn split(c: &mut Conn, seq: u32, stream: &[u8], n: usize) -> Vec<Frame> {
    let size = stream.len().div_ceil(n);
    stream
        .chunks(size)
        .enumerate()
        .map(|(i, ch)| c.seg(1 + i as Micros, seq.wrapping_add((i * size) as u32), ACK, ch))
        .collect()
}

#[test]
fn message_over_four_segments_out_of_order() {
    let mut c = Conn::client();
    let mut m = msgs(1);
    m[0].resize(2000, 7);
    let segs = split(&mut c, ISN + 1, &framed(&m), 4);
    for order in [[2, 0, 3, 1], [3, 2, 1, 0], [1, 3, 2, 0]] {
        let mut frames = vec![syn(&mut c)];
        frames.extend(order.iter().map(|&i| segs[i].clone()));
        let (got, st) = decode_all(DecoderConfig::default(), &frames);
        assert_eq!(datas(&got), m, "{order:?}");
        assert!(st.tcp_out_of_order >= 1);
        assert_eq!(st.tcp_holes_skipped, 0);
    }
}

#[test]
fn retransmissions_do_not_duplicate() {
    let mut c = Conn::client();
    let m = msgs(4);
    let s = framed(&m);
    let h = s.len() / 2;
    let frames = vec![
        syn(&mut c),
        c.seg(1, ISN + 1, ACK, &s[..h]),
        c.seg(2, ISN + 1, ACK, &s[..h]),                          // exact retransmission
        c.seg(3, ISN + 1 + 10, ACK, &s[10..h + 20]),              // overlapping, extends by 20
        c.seg(4, ISN + 1 + h as u32 + 40, ACK, &s[h + 40..]),     // out of order
        c.seg(5, ISN + 1 + h as u32 + 40, ACK, &s[h + 40..]),     // its retransmission while held
        c.seg(6, ISN + 1 + h as u32 - 5, ACK, &s[h - 5..h + 45]), // fills the gap, overlapping both sides
        c.seg(7, ISN, SYN, &[]),                                  // retransmitted SYN
        c.seg(8, ISN + 1, ACK, &s),                               // everything again
    ];
    let (got, st) = decode_all(DecoderConfig::default(), &frames);
    assert_eq!(datas(&got), m);
    let want = h + (h - 10) + (s.len() - (h + 40)) + 25 + 5 + s.len();
    assert_eq!(st.tcp_retransmitted_bytes as usize, want, "{st:?}");
}

#[test]
fn unfilled_hole_resyncs_on_the_next_message() {
    let mut c = Conn::client();
    let m = msgs(6);
    let s = framed(&m);
    let segs = split(&mut c, ISN + 1, &s, 20);
    // Drop a segment inside message 2 (find which messages it touches).
    let size = s.len().div_ceil(20);
    let mut bounds = vec![0];
    for x in &m {
        bounds.push(bounds.last().unwrap() + 2 + x.len());
    }
    let lost = (bounds[2] + 3) / size + 1; // a segment strictly inside message 2
    let (lo, hi) = (lost * size, (lost + 1) * size);
    let broken: Vec<usize> = (0..m.len()).filter(|&i| bounds[i] < hi && bounds[i + 1] > lo).collect();
    let mut frames = vec![syn(&mut c)];
    frames.extend(segs.iter().enumerate().filter(|(i, _)| *i != lost).map(|(_, f)| f.clone()));
    let fin = c.seg(100, ISN + 1 + s.len() as u32, FIN | ACK, &[]);
    frames.push(fin);
    let (got, st) = decode_all(DecoderConfig::default(), &frames);
    let want: Vec<Vec<u8>> =
        m.iter().enumerate().filter(|(i, _)| !broken.contains(i)).map(|(_, x)| x.clone()).collect();
    assert!(!broken.is_empty() && want.len() >= 4, "{broken:?}");
    assert_eq!(datas(&got), want);
    assert_eq!(st.tcp_holes_skipped, 1);
    assert_eq!(st.tcp_flows_closed, 1);

    // Without FIN, a small buffer cap gives up on the hole once enough data is held behind it.
    let many = msgs(60);
    let s = framed(&many);
    let segs = split(&mut c, ISN + 1, &s, 120);
    let mut frames = vec![syn(&mut c)];
    frames.extend(segs.iter().enumerate().filter(|(i, _)| *i != 3).map(|(_, f)| f.clone()));
    let cfg = DecoderConfig { max_flow_bytes: 1024, ..DecoderConfig::default() };
    let mut d = Decoder::new(cfg);
    let mut got = Vec::new();
    for f in &frames {
        d.packet(&f.packet(0), &mut |p| got.push(Got::of(p)));
        assert!(d.tcp_buffered_bytes() <= 1024);
    }
    assert!(got.len() >= 50, "{}", got.len());
    assert!(d.stats().tcp_holes_skipped >= 1);
    let all: std::collections::HashSet<Vec<u8>> = many.into_iter().collect();
    assert!(got.iter().all(|g| all.contains(&g.data)), "a broken message was delivered");
}

#[test]
fn endless_streams_stay_within_the_cap() {
    let cap = 4096;
    let cfg = DecoderConfig { max_flow_bytes: cap, ..DecoderConfig::default() };
    // A message that announces 60000 bytes and keeps going, then a normal message after it.
    let mut c = Conn::client();
    let mut d = Decoder::new(cfg.clone());
    let mut got = Vec::new();
    d.packet(&syn(&mut c).packet(1), &mut |p| got.push(Got::of(p)));
    let mut stream = 60000u16.to_be_bytes().to_vec();
    stream.resize(60002, 0x41);
    let tail = framed(&msgs(1));
    stream.extend_from_slice(&tail);
    let mut seq = ISN + 1;
    for ch in stream.chunks(1000) {
        d.packet(&c.seg(1, seq, ACK, ch).packet(2), &mut |p| got.push(Got::of(p)));
        seq += ch.len() as u32;
        assert!(d.tcp_buffered_bytes() <= cap);
    }
    assert_eq!(datas(&got), msgs(1), "the message after the oversized one is delivered");
    assert_eq!(d.stats().tcp_bytes_over_cap, 60002);

    // Mid-stream junk that never looks like DNS.
    let mut rng = Rng::new(5);
    let mut c = Conn::new(v4(10, 0, 0, 3), v4(10, 0, 0, 4), 1111, 53);
    let mut seq = 77u32;
    for _ in 0..200 {
        let mut ch = rng.bytes(1400);
        for b in ch.iter_mut().skip(4).step_by(2) {
            *b |= 0x40; // sets the Z bit or large counts wherever a header could start
        }
        d.packet(&c.seg(2, seq, ACK, &ch).packet(3), &mut |_| {});
        seq += 1400;
        assert!(d.tcp_buffered_bytes() <= cap);
    }
    // Out-of-order data behind a hole that never fills.
    let mut c = Conn::new(v4(10, 0, 0, 5), v4(10, 0, 0, 6), 2222, 53);
    d.packet(&syn(&mut c).packet(4), &mut |_| {});
    for i in 0..200u32 {
        d.packet(&c.seg(3, ISN + 1 + 5000 + i * 1000, ACK, &[0x42; 1000]).packet(5), &mut |_| {});
        assert!(d.tcp_buffered_bytes() <= cap);
    }
}

#[test]
fn many_unfinished_streams_stay_within_the_total_cap() {
    // 300 connections, each announcing a 60,000-byte message and sending 40,000 bytes of it:
    // 12 MB unfinished in all, against a 1 MiB cap for the whole table
    let cap = 1 << 20;
    let cfg = DecoderConfig { max_flow_bytes: 64 << 10, max_tcp_bytes: cap, ..DecoderConfig::default() };
    let mut d = Decoder::new(cfg);
    let mut stream = 60000u16.to_be_bytes().to_vec();
    stream.resize(40002, 0x41);
    for i in 0..300u16 {
        let mut c = Conn::new(v4(10, 1, (i >> 8) as u8, i as u8), v4(10, 0, 0, 1), 20000 + i, 53);
        d.packet(&syn(&mut c).packet(1), &mut |_| {});
        let mut seq = ISN + 1;
        for ch in stream.chunks(1400) {
            d.packet(&c.seg(1, seq, ACK, ch).packet(2), &mut |_| {});
            seq += ch.len() as u32;
            assert!(d.tcp_buffered_bytes() <= cap, "{} bytes buffered", d.tcp_buffered_bytes());
        }
    }
    let st = d.stats();
    assert!(st.tcp_flows_evicted_memory >= 250, "{st:?}");
    assert_eq!(st.tcp_flows_evicted, st.tcp_flows_evicted_memory);
    // a complete message on a new connection still gets through
    let mut c = Conn::new(v4(10, 2, 0, 1), v4(10, 0, 0, 1), 30000, 53);
    let mut got = Vec::new();
    d.packet(&syn(&mut c).packet(1), &mut |p| got.push(Got::of(p)));
    d.packet(&c.seg(2, ISN + 1, ACK | PSH, &framed(&msgs(1))).packet(3), &mut |p| got.push(Got::of(p)));
    assert_eq!(datas(&got), msgs(1));
}

#[test]
fn flow_table_cap_evicts_oldest() {
    let cfg = DecoderConfig { max_flows: 4, ..DecoderConfig::default() };
    let mut d = Decoder::new(cfg);
    let part = framed(&msgs(1));
    for i in 0..10u16 {
        let mut c = Conn::new(v4(10, 1, 0, i as u8), v4(10, 0, 0, 2), 3000 + i, 53);
        d.packet(&syn(&mut c).packet(1), &mut |_| {});
        d.packet(&c.seg(1, ISN + 1, ACK, &part[..10]).packet(2), &mut |_| {});
        assert!(d.tcp_flows() <= 4);
    }
    assert_eq!(d.stats().tcp_flows_evicted, 6);
    assert_eq!(d.stats().tcp_dropped_bytes, 60);
}

#[test]
fn fin_and_rst_free_state_and_idle_flows_expire() {
    let m = msgs(2);
    let s = framed(&m);
    let mut c = Conn::client();
    let mut r = Conn::new(c.dst, c.src, c.dport, c.sport);
    let mut d = Decoder::new(DecoderConfig::default());
    let mut got = Vec::new();
    d.packet(&syn(&mut c).packet(1), &mut |p| got.push(Got::of(p)));
    d.packet(&r.seg(0, 5000, SYN | ACK, &[]).packet(2), &mut |p| got.push(Got::of(p)));
    assert_eq!(d.tcp_flows(), 2);
    d.packet(&c.seg(1, ISN + 1, ACK | FIN, &s).packet(3), &mut |p| got.push(Got::of(p)));
    assert_eq!(d.tcp_flows(), 1);
    d.packet(&r.seg(1, 5001, ACK, &s[..5]).packet(4), &mut |p| got.push(Got::of(p)));
    d.packet(&r.seg(1, 5006, RST, &[]).packet(5), &mut |p| got.push(Got::of(p)));
    assert_eq!(d.tcp_flows(), 0);
    assert_eq!(datas(&got), m);
    assert_eq!(d.stats().tcp_flows_closed, 2);
    assert_eq!(d.stats().tcp_dropped_bytes, 5);

    // Idle expiry (packet time), through the periodic expiry in `packet`.
    let mut c = Conn::new(v4(10, 9, 9, 9), v4(10, 0, 0, 2), 4444, 53);
    d.packet(&c.seg(10_000_000, 1, ACK, &s[..3]).packet(6), &mut |_| {});
    assert_eq!(d.tcp_flows(), 1);
    d.packet(&c.seg(71_000_001, 999_999, ACK, &[]).packet(7), &mut |_| {}); // a pure ACK of an unknown flow
    let mut other = Conn::new(v4(10, 9, 9, 8), v4(10, 0, 0, 2), 4444, 53);
    d.packet(&other.seg(71_000_002, 1, ACK, &[]).packet(8), &mut |_| {});
    assert_eq!(d.tcp_flows(), 0);
    assert_eq!(d.stats().tcp_flows_expired, 1);
}

#[test]
fn sequence_wrap_around() {
    let m = msgs(3);
    let s = framed(&m);
    let mut c = Conn::client();
    let isn = u32::MAX - 40;
    let mut frames = vec![c.seg(0, isn, SYN, &[])];
    let mut segs = split(&mut c, isn.wrapping_add(1), &s, 6);
    segs.swap(1, 2);
    frames.extend(segs);
    let (got, st) = decode_all(DecoderConfig::default(), &frames);
    assert_eq!(datas(&got), m);
    assert_eq!(st.tcp_holes_skipped, 0);
}

#[test]
fn mid_stream_start() {
    let m = msgs(3);
    let s = framed(&m);
    let mut c = Conn::new(v6(1), v6(2), 53, 5555);
    // Starts at a message boundary: everything is delivered.
    let (got, _) = decode_all(DecoderConfig::default(), &[c.seg(0, 123, ACK, &s)]);
    assert_eq!(datas(&got), m);
    assert!(got[0].src.is_ipv6());
    // Starts inside the first message: resynchronises on the second.
    let start = 2 + m[0].len() / 2;
    let (got, st) = decode_all(DecoderConfig::default(), &[c.seg(0, 123, ACK, &s[start..])]);
    assert_eq!(datas(&got), m[1..].to_vec());
    assert_eq!(st.tcp_resync_skipped_bytes as usize, 2 + m[0].len() - start);
}

#[test]
fn bad_length_prefix_resyncs() {
    let m = msgs(2);
    let mut s = vec![0, 3, 1, 2, 3];
    s.extend_from_slice(&framed(&m));
    let mut c = Conn::client();
    let (got, st) = decode_all(DecoderConfig::default(), &[syn(&mut c), c.seg(1, ISN + 1, ACK, &s)]);
    assert_eq!(datas(&got), m);
    assert_eq!(st.tcp_bad_length, 1);
}

/// Found in review while writing the `tcp_reassembly` fuzz target: a partial message growing from
/// in-order bytes while out-of-order segments are held could push one stream direction to 1.5
/// times its cap, because only the arrival of a held segment enforced it. Now the gap is given
/// up as soon as either grows past the cap.
#[test]
fn stream_cap_holds_when_in_order_bytes_grow_behind_held_segments() {
    let cap = 1000;
    let cfg = DecoderConfig { max_flow_bytes: cap, ..DecoderConfig::default() };
    let mut c = Conn::client();
    let mut partial = 900u16.to_be_bytes().to_vec(); // a 900-octet message, 798 of it sent
    partial.extend(dns(1, true, "big.example"));
    partial.resize(800, 0);
    let frames = [
        syn(&mut c),
        c.seg(1, ISN + 1 + 1500, ACK, &[9; 400]), // held: 400 + overhead, under cap / 2
        c.seg(2, ISN + 1, ACK, &partial),
    ];
    let mut d = Decoder::new(cfg);
    for (i, f) in frames.iter().enumerate() {
        d.packet(&f.packet(i as u64 + 1), &mut |_| {});
        assert!(d.tcp_buffered_bytes() <= cap, "frame {i}: {} bytes buffered", d.tcp_buffered_bytes());
    }
    assert_eq!(d.stats().tcp_holes_skipped, 1);
    assert_eq!(d.stats().tcp_dropped_bytes, 800);
}

/// Hostile length prefixes: 0xffff over the cap is skipped by its length, a prefix under the
/// 12-octet header resynchronises, and the messages after both still arrive.
#[test]
fn oversized_and_undersized_length_prefixes() {
    let cfg = DecoderConfig { max_flow_bytes: 1000, ..DecoderConfig::default() };
    let mut c = Conn::client();
    let m = msgs(2);
    let mut stream = vec![0xff, 0xff];
    stream.extend(std::iter::repeat_n(0u8, 0xffff));
    stream.extend(framed(&m[..1]));
    stream.extend([0, 5, 0xff, 0xff, 0xff, 0xff, 0xff]);
    stream.extend(framed(&m[1..]));
    let mut frames = vec![syn(&mut c)];
    for (i, chunk) in stream.chunks(1400).enumerate() {
        frames.push(c.seg(1 + i as i64, ISN + 1 + (i * 1400) as u32, ACK, chunk));
    }
    let (got, st) = decode_all(cfg, &frames);
    assert_eq!(datas(&got), m, "{st:?}");
    assert_eq!(st.tcp_bytes_over_cap, 0x10001);
    assert_eq!(st.tcp_bad_length, 1);
}
