//! Hostile input: random bytes and damaged valid frames and files must never panic.

use std::io::Cursor;

use super::*;
use crate::synth::tcp_flags::ACK;
use crate::synth::{PcapNgWriter, PcapWriter};
use crate::FileSource;

const LINKTYPES: [LinkType; 10] = [
    LinkType::Ethernet,
    LinkType::LinuxSll,
    LinkType::LinuxSll2,
    LinkType::Raw,
    LinkType::Ipv4,
    LinkType::Ipv6,
    LinkType::Null,
    LinkType::Loop,
    LinkType::Other(1234),
    LinkType::Other(0xffff_ffff),
];

fn valid_frames() -> Vec<Frame> {
    let mut out = Vec::new();
    let mut fb = FrameBuilder::new();
    let links = [
        Link::Ethernet { vlans: &[] },
        Link::Ethernet { vlans: &[7, 8] },
        Link::Sll,
        Link::Sll2,
        Link::Null,
        Link::Loop,
        Link::Raw,
    ];
    let msg = dns(1, true, "hostile.example");
    let mut tcp_payload = (msg.len() as u16).to_be_bytes().to_vec();
    tcp_payload.extend_from_slice(&msg);
    for link in &links {
        for (src, dst) in [(v4(1, 2, 3, 4), v4(5, 6, 7, 8)), (v6(1), v6(2))] {
            let ip = IpSpec { src, dst, id: 3, hop_by_hop: src.is_ipv6() };
            out.push(Frame::new(0, link.linktype(), fb.frame(link, &ip, &L4::Udp { sport: 53, dport: 9 }, &msg)));
            let tcp = L4::Tcp { sport: 9, dport: 53, seq: 1, ack: 0, flags: ACK };
            out.push(Frame::new(0, link.linktype(), fb.frame(link, &ip, &tcp, &tcp_payload)));
            let mut big = msg.clone();
            big.resize(1500, 9);
            let mut pkt = Vec::new();
            synth::ip_packet(&mut pkt, &ip, &L4::Udp { sport: 53, dport: 9 }, &big);
            for f in synth::fragment(&pkt, 3, 77) {
                out.push(Frame::new(0, link.linktype(), fb.wrap(link, &f)));
            }
        }
    }
    out
}

#[test]
fn random_and_damaged_frames_never_panic() {
    let mut rng = Rng::new(0x5eed);
    let valid = valid_frames();
    let cfg = DecoderConfig { max_flows: 64, max_flow_bytes: 2048, max_fragments: 32, ..DecoderConfig::default() };
    let mut d = Decoder::new(cfg);
    let mut delivered = 0u64;
    for i in 0..200_000u64 {
        let ts = (i * 997) as Micros;
        let (linktype, mut data, orig_len) = match rng.below(3) {
            0 => {
                let lt = LINKTYPES[rng.below(LINKTYPES.len())];
                let n = rng.below(200);
                (lt, rng.bytes(n), rng.next() as u32)
            }
            1 => {
                let f = &valid[rng.below(valid.len())];
                let cut = rng.below(f.data.len() + 1);
                (f.linktype, f.data[..cut].to_vec(), f.orig_len)
            }
            _ => {
                let f = &valid[rng.below(valid.len())];
                let mut data = f.data.clone();
                for _ in 0..1 + rng.below(4) {
                    let at = rng.below(data.len());
                    data[at] = rng.next() as u8;
                }
                (f.linktype, data, f.orig_len)
            }
        };
        if rng.below(50) == 0 {
            data.clear();
        }
        let p = Packet { index: i, ts, linktype, data: &data, orig_len };
        d.packet(&p, &mut |_| delivered += 1);
    }
    d.finish(&mut |_| delivered += 1);
    assert!(delivered > 0);
    assert!(d.stats().frames == 200_000);
}

#[test]
fn random_and_damaged_files_never_panic() {
    let mut rng = Rng::new(99);
    let valid = valid_frames();
    let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
    for f in &valid {
        w.write(1, &f.data).unwrap();
    }
    let pcap = w.into_inner().unwrap();
    let mut w = PcapNgWriter::new(Vec::new(), true).unwrap();
    w.add_interface(LinkType::Ethernet, 9, 0).unwrap();
    w.add_interface(LinkType::Raw, 0x80 | 30, 100).unwrap();
    for (i, f) in valid.iter().enumerate() {
        w.write((i % 2) as u32, 1, &f.data[..f.data.len().min(100)]).unwrap();
    }
    let ng = w.into_inner().unwrap();
    for i in 0..3000 {
        let mut data = match i % 3 {
            0 => pcap.clone(),
            1 => ng.clone(),
            _ => {
                let n = rng.below(300);
                let mut d = rng.bytes(n);
                if n >= 4 && rng.below(2) == 0 {
                    d[..4].copy_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a]);
                }
                d
            }
        };
        for _ in 0..rng.below(6) {
            if !data.is_empty() {
                let at = rng.below(data.len());
                data[at] = rng.next() as u8;
            }
        }
        let cut = rng.below(data.len() + 1);
        data.truncate(cut);
        let mut s = FileSource::from_reader(Box::new(Cursor::new(data)), "fuzz".into()).unwrap();
        let mut n = 0u64;
        let _ = s.for_each(&mut |p| n += p.data.len() as u64);
    }
}
