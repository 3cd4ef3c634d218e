//! Sharding: the union of all shards equals the unsharded output, each flow in exactly one shard.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::synth::tcp_flags::{ACK, SYN};

fn mixed_capture() -> Vec<Frame> {
    let mut rng = Rng::new(42);
    let mut fb = FrameBuilder::new();
    let mut frames = Vec::new();
    let eth = Link::Ethernet { vlans: &[] };
    for i in 0..300u32 {
        let v6addr = i % 3 == 0;
        let (client, server) = if v6addr {
            (v6(1000 + i as u16), v6(53))
        } else {
            (v4(10, (i >> 8) as u8, i as u8, 1), v4(192, 0, 2, (i % 7) as u8))
        };
        let sport = 1024 + rng.below(60000) as u16;
        let q = dns(i as u16, false, &format!("q{i}.example"));
        let r = dns(i as u16, true, &format!("q{i}.example"));
        let ts = i64::from(i) * 1000;
        match i % 4 {
            0 | 1 => {
                let f = fb.frame(&eth, &IpSpec::new(client, server), &L4::Udp { sport, dport: 53 }, &q);
                frames.push(Frame::new(ts, LinkType::Ethernet, f));
                let f = fb.frame(&eth, &IpSpec::new(server, client), &L4::Udp { sport: 53, dport: sport }, &r);
                frames.push(Frame::new(ts + 1, LinkType::Ethernet, f));
            }
            2 => {
                // Fragmented response.
                let mut big = r.clone();
                big.resize(2500, 1);
                let pkt = udp_packet(server, client, 53, sport, i as u16, &big);
                for f in synth::fragment(&pkt, 3, i) {
                    frames.push(Frame::new(ts + 2, LinkType::Raw, &f));
                }
            }
            _ => {
                // TCP: query and response with handshake.
                let up = |seq: u32, flags: u8, p: &[u8], fb: &mut FrameBuilder| {
                    let l4 = L4::Tcp { sport, dport: 53, seq, ack: 0, flags };
                    Frame::new(ts, LinkType::Ethernet, fb.frame(&eth, &IpSpec::new(client, server), &l4, p))
                };
                let down = |seq: u32, flags: u8, p: &[u8], fb: &mut FrameBuilder| {
                    let l4 = L4::Tcp { sport: 53, dport: sport, seq, ack: 0, flags };
                    Frame::new(ts, LinkType::Ethernet, fb.frame(&eth, &IpSpec::new(server, client), &l4, p))
                };
                let mut qf = (q.len() as u16).to_be_bytes().to_vec();
                qf.extend_from_slice(&q);
                let mut rf = (r.len() as u16).to_be_bytes().to_vec();
                rf.extend_from_slice(&r);
                frames.push(up(100, SYN, &[], &mut fb));
                frames.push(down(900, SYN | ACK, &[], &mut fb));
                frames.push(up(101, ACK, &qf, &mut fb));
                frames.push(down(901, ACK, &rf[..7], &mut fb));
                frames.push(down(908, ACK, &rf[7..], &mut fb));
            }
        }
    }
    frames
}

/// Unordered endpoint pair of a payload.
fn flow(g: &Got) -> (IpAddr, u16, IpAddr, u16) {
    let (a, b) = ((g.src, g.sport), (g.dst, g.dport));
    let (x, y) = if a <= b { (a, b) } else { (b, a) };
    (x.0, x.1, y.0, y.1)
}

#[test]
fn shards_partition_the_payloads() {
    let frames = mixed_capture();
    let (all, st) = decode_all(DecoderConfig::default(), &frames);
    assert_eq!(all.len(), 75 * 2 * 2 + 75 + 75 * 2, "{st:?}");
    let mut want = all.clone();
    want.sort();
    for count in [1u32, 2, 3, 8] {
        let mut union = Vec::new();
        let mut owner: HashMap<(IpAddr, u16, IpAddr, u16), u32> = HashMap::new();
        let mut nonempty = HashSet::new();
        for index in 0..count {
            let cfg = DecoderConfig { shard: Some((index, count)), ..DecoderConfig::default() };
            let (got, st) = decode_all(cfg, &frames);
            assert_eq!(st.frames as usize, frames.len());
            for g in &got {
                let prev = owner.insert(flow(g), index);
                assert!(prev.is_none() || prev == Some(index), "flow {:?} in shards {prev:?} and {index}", flow(g));
            }
            if !got.is_empty() {
                nonempty.insert(index);
            }
            union.extend(got);
        }
        union.sort();
        assert_eq!(union, want, "count={count}");
        assert_eq!(nonempty.len() as u32, count, "every shard gets some traffic");
    }
}
