//! pcap/pcapng reading through the synth writers.

use std::io::{Cursor, Write};

use super::*;
use crate::synth::{PcapNgWriter, PcapWriter};
use crate::{CaptureError, FileFormat, FileSource, FileSummary};

#[derive(Debug, PartialEq, Eq)]
struct Read {
    index: u64,
    ts: Micros,
    linktype: LinkType,
    data: Vec<u8>,
    orig_len: u32,
}

fn read_all(src: &mut FileSource) -> (Vec<Read>, Result<FileSummary, CaptureError>) {
    let mut out = Vec::new();
    let r = src.for_each(&mut |p| {
        out.push(Read { index: p.index, ts: p.ts, linktype: p.linktype, data: p.data.to_vec(), orig_len: p.orig_len })
    });
    (out, r)
}

/// Reads `bytes` both memory-mapped (temp file) and streamed; checks both agree and returns one result.
fn read_both(bytes: &[u8]) -> (Vec<Read>, Result<FileSummary, CaptureError>) {
    let mut tmp = tempfile::NamedTempFile::new().unwrap();
    tmp.write_all(bytes).unwrap();
    tmp.flush().unwrap();
    let mut mapped = FileSource::open(tmp.path()).unwrap();
    let (a, ra) = read_all(&mut mapped);
    let mut streamed = FileSource::from_reader(Box::new(Cursor::new(bytes.to_vec())), "stream".into()).unwrap();
    let (b, rb) = read_all(&mut streamed);
    assert_eq!(a, b);
    match (&ra, &rb) {
        (Ok(x), Ok(y)) => assert_eq!(x, y),
        (
            Err(CaptureError::Corrupt { frame: f1, offset: o1, reason: r1, .. }),
            Err(CaptureError::Corrupt { frame: f2, offset: o2, reason: r2, .. }),
        ) => assert_eq!((f1, o1, r1), (f2, o2, r2)),
        (Err(CaptureError::NotCapture { reason: r1, .. }), Err(CaptureError::NotCapture { reason: r2, .. })) => {
            assert_eq!(r1, r2)
        }
        other => panic!("mapped and streamed reads differ: {other:?}"),
    }
    (a, ra)
}

fn frames() -> Vec<Vec<u8>> {
    let l = Link::Ethernet { vlans: &[] };
    (0..3u16)
        .map(|i| udp_frame(&l, v4(10, 0, 0, 1), v4(10, 0, 0, 2), 1000 + i, 53, &dns(i, false, "a.example")))
        .collect()
}

#[test]
fn pcap_round_trip_all_variants() {
    let ts = [1_700_000_000_123_456i64, 1_700_000_001_000_001, 1_700_000_002_999_999];
    for nanos in [false, true] {
        for be in [false, true] {
            let mut w = PcapWriter::with_options(Vec::new(), LinkType::Ethernet, nanos, be, 65535).unwrap();
            for (t, f) in ts.iter().zip(frames()) {
                w.write(*t, &f).unwrap();
            }
            let bytes = w.into_inner().unwrap();
            let (got, sum) = read_both(&bytes);
            let sum = sum.unwrap();
            assert_eq!(sum.format, Some(FileFormat::Pcap));
            assert_eq!(sum.frames, 3);
            assert_eq!(got.len(), 3);
            for (i, (g, f)) in got.iter().zip(frames()).enumerate() {
                assert_eq!(g.index, i as u64 + 1);
                assert_eq!(g.ts, ts[i], "nanos={nanos} be={be}");
                assert_eq!(g.linktype, LinkType::Ethernet);
                assert_eq!(g.data, f);
                assert_eq!(g.orig_len as usize, f.len());
            }
        }
    }
}

#[test]
fn pcapng_two_interfaces_sections_and_skipped_blocks() {
    let eth = frames();
    let raw = udp_packet(v6(1), v6(2), 5353, 53, 0, &dns(9, false, "b.example"));
    for be in [false, true] {
        let mut w = PcapNgWriter::new(Vec::new(), be).unwrap();
        let i0 = w.add_interface(LinkType::Ethernet, 6, 0).unwrap();
        let i1 = w.add_interface(LinkType::Raw, 9, 65535).unwrap();
        w.write(i0, 1_000_000, &eth[0]).unwrap();
        w.block(0x0000_0BAD, b"custom block").unwrap();
        w.write(i1, 2_000_001, &raw).unwrap();
        w.block(5, &[0u8; 24]).unwrap(); // interface statistics
        w.write_simple(&eth[1]).unwrap();
        // A second section in the other byte order with a binary-resolution interface.
        w.new_section(!be).unwrap();
        let j = w.add_interface(LinkType::LinuxSll2, 0x80 | 20, 0).unwrap();
        w.write(j, 3_500_000, &eth[2]).unwrap();
        let bytes = w.into_inner().unwrap();
        let (got, sum) = read_both(&bytes);
        let sum = sum.unwrap();
        assert_eq!(sum.format, Some(FileFormat::PcapNg));
        assert_eq!((sum.frames, sum.skipped_blocks), (4, 2));
        let summary: Vec<(u64, Micros, LinkType)> = got.iter().map(|g| (g.index, g.ts, g.linktype)).collect();
        assert_eq!(
            summary,
            vec![
                (1, 1_000_000, LinkType::Ethernet),
                (2, 2_000_001, LinkType::Raw),
                (3, 2_000_001, LinkType::Ethernet), // SPB: no timestamp, previous one kept
                (4, 3_500_000, LinkType::LinuxSll2),
            ]
        );
        assert_eq!(got[1].data, raw);
        assert_eq!(got[2].data, eth[1]);
        assert_eq!(got[3].data, eth[2]);
    }
}

#[test]
fn truncated_pcap_reports_frame_and_offset_after_earlier_frames() {
    let mut w = PcapWriter::new(Vec::new(), LinkType::Ethernet).unwrap();
    let fs = frames();
    for f in &fs {
        w.write(0, f).unwrap();
    }
    let bytes = w.into_inner().unwrap();
    let third = 24 + 2 * 16 + fs[0].len() + fs[1].len();
    for cut in [bytes.len() - 5, third + 7] {
        let (got, r) = read_both(&bytes[..cut]);
        assert_eq!(got.len(), 2);
        match r {
            Err(e @ CaptureError::Corrupt { frame: 3, offset, .. }) if offset == third as u64 => {
                let msg = e.to_string();
                assert!(msg.contains("frame 3") && msg.contains(&format!("offset {third}")), "{msg}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn truncated_pcapng_reports_frame_and_offset() {
    let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
    let i = w.add_interface(LinkType::Ethernet, 6, 0).unwrap();
    let fs = frames();
    let mut offsets = Vec::new();
    let mut bytes_so_far = 28 + 32; // SHB + IDB
    for f in &fs {
        offsets.push(bytes_so_far);
        w.write(i, 0, f).unwrap();
        bytes_so_far += 32 + f.len().next_multiple_of(4);
    }
    let bytes = w.into_inner().unwrap();
    assert_eq!(bytes.len(), bytes_so_far);
    let (got, r) = read_both(&bytes[..bytes.len() - 3]);
    assert_eq!(got.len(), 2);
    assert!(matches!(r, Err(CaptureError::Corrupt { frame: 3, offset, .. }) if offset == offsets[2] as u64));
    // A corrupted block length in the middle: error at that block, frame 2.
    let mut bad = bytes.clone();
    bad[offsets[1] + 4] ^= 0x01;
    let (got, r) = read_both(&bad);
    assert_eq!(got.len(), 1);
    assert!(matches!(r, Err(CaptureError::Corrupt { frame: 2, offset, .. }) if offset == offsets[1] as u64), "{r:?}");
}

#[test]
fn caplen_over_snaplen_is_an_error() {
    let mut w = PcapWriter::with_options(Vec::new(), LinkType::Ethernet, false, false, 60).unwrap();
    let fs = frames();
    w.write(0, &fs[0][..60]).unwrap();
    w.write(0, &fs[1]).unwrap();
    let bytes = w.into_inner().unwrap();
    let (got, r) = read_both(&bytes);
    assert_eq!(got.len(), 1);
    let e = r.unwrap_err();
    assert!(matches!(e, CaptureError::Corrupt { frame: 2, offset: 100, .. }), "{e}");
    assert!(e.to_string().contains("snapshot length"), "{e}");
}

#[test]
fn garbage_empty_and_header_only() {
    let (got, r) = read_both(b"this is not a capture file at all");
    assert!(got.is_empty());
    let e = r.unwrap_err();
    assert!(matches!(e, CaptureError::NotCapture { .. }), "{e}");
    assert!(e.to_string().contains("not a pcap or pcapng file"), "{e}");
    let (_, r) = read_both(&[0x1f, 0x8b, 8, 0, 0, 0]);
    assert!(r.unwrap_err().to_string().contains("gzip"));

    let (got, r) = read_both(&[]);
    assert!(got.is_empty());
    assert_eq!(r.unwrap(), FileSummary::default());

    let header = PcapWriter::new(Vec::new(), LinkType::Raw).unwrap().into_inner().unwrap();
    let (_, r) = read_both(&header);
    assert_eq!(r.unwrap().format, Some(FileFormat::Pcap));
    let (_, r) = read_both(&header[..10]);
    assert!(matches!(r, Err(CaptureError::Corrupt { frame: 1, offset: 0, .. })), "{r:?}");
}

#[test]
fn streaming_handles_blocks_larger_than_the_buffer_and_short_reads() {
    /// Returns at most 7 bytes per read.
    struct Dribble(Cursor<Vec<u8>>);
    impl std::io::Read for Dribble {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(7);
            self.0.read(&mut buf[..n])
        }
    }
    let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
    let i = w.add_interface(LinkType::Raw, 6, 0).unwrap();
    let big = vec![0x45u8; 3 << 20];
    w.write(i, 5, &big).unwrap();
    w.write(i, 6, &frames()[0]).unwrap();
    let bytes = w.into_inner().unwrap();
    let mut s = FileSource::from_reader(Box::new(Cursor::new(bytes.clone())), "big".into()).unwrap();
    let (got, r) = read_all(&mut s);
    assert_eq!(r.unwrap().frames, 2);
    assert_eq!(got[0].data.len(), big.len());
    let small = &bytes[..28 + 32];
    let mut s = FileSource::from_reader(Box::new(Dribble(Cursor::new(small.to_vec()))), "dribble".into()).unwrap();
    assert_eq!(read_all(&mut s).1.unwrap().frames, 0);
}

#[test]
fn synth_frames_pass_an_independent_parser() {
    use etherparse::{NetSlice, SlicedPacket, TransportSlice};
    let payload = dns(7, true, "www.example.com");
    let mut fb = FrameBuilder::new();
    let link = Link::Ethernet { vlans: &[5, 6] };
    for (src, dst) in [(v4(192, 0, 2, 1), v4(198, 51, 100, 2)), (v6(1), v6(2))] {
        for l4 in [L4::Udp { sport: 53, dport: 3333 }, L4::Tcp { sport: 53, dport: 3333, seq: 9, ack: 7, flags: 0x18 }]
        {
            for hbh in [false, true] {
                let ip = IpSpec { src, dst, id: 77, hop_by_hop: hbh && src.is_ipv6() };
                let f = fb.frame(&link, &ip, &l4, &payload);
                let s = SlicedPacket::from_ethernet(f).unwrap();
                let (src4, dst4, src6, dst6);
                match s.net.unwrap() {
                    NetSlice::Ipv4(v4s) => {
                        let h = v4s.header().to_header();
                        assert_eq!(h.header_checksum, h.calc_header_checksum());
                        (src4, dst4, src6, dst6) = (Some(h.source), Some(h.destination), None, None);
                    }
                    NetSlice::Ipv6(v6s) => {
                        let h = v6s.header();
                        (src4, dst4, src6, dst6) = (None, None, Some(h.source()), Some(h.destination()));
                    }
                    NetSlice::Arp(_) => panic!("arp"),
                }
                match s.transport.unwrap() {
                    TransportSlice::Udp(u) => {
                        assert_eq!(u.payload(), &payload[..]);
                        let h = u.to_header();
                        let want = match (src4, dst4, src6, dst6) {
                            (Some(a), Some(b), ..) => h.calc_checksum_ipv4_raw(a, b, u.payload()).unwrap(),
                            (_, _, Some(a), Some(b)) => h.calc_checksum_ipv6_raw(a, b, u.payload()).unwrap(),
                            _ => unreachable!(),
                        };
                        assert_eq!(u.checksum(), want);
                    }
                    TransportSlice::Tcp(t) => {
                        assert_eq!(t.payload(), &payload[..]);
                        let want = match (src4, dst4, src6, dst6) {
                            (Some(a), Some(b), ..) => t.calc_checksum_ipv4(a, b).unwrap(),
                            (_, _, Some(a), Some(b)) => t.calc_checksum_ipv6(a, b).unwrap(),
                            _ => unreachable!(),
                        };
                        assert_eq!(t.checksum(), want);
                    }
                    _ => panic!("transport"),
                }
            }
        }
    }
}

/// Hostile pcapng block lengths and layouts (bench/gen_hostile.py writes the same shapes as
/// fuzz seeds): every reader (mapped, streamed, in memory) agrees, delivers the frames before
/// the damage, and reports the damage as an error rather than panicking or allocating the
/// bogus length.
#[test]
fn hostile_pcapng_blocks_agree_between_readers() {
    let frame = udp_frame(
        &Link::Ethernet { vlans: &[] },
        v4(192, 0, 2, 53),
        v4(198, 51, 100, 1),
        53,
        4000,
        &dns(1, true, "a.example"),
    );
    let good = {
        let mut w = PcapNgWriter::new(Vec::new(), false).unwrap();
        w.add_interface(LinkType::Ethernet, 6, 0).unwrap();
        w.write(0, 1, &frame).unwrap();
        w.into_inner().unwrap()
    };
    let epb_len_at = good.len() - (12 + 20 + frame.len().next_multiple_of(4)) + 4;
    let with_len = |len: u32| {
        let mut v = good.clone();
        v[epb_len_at..epb_len_at + 4].copy_from_slice(&len.to_le_bytes());
        v
    };
    let mut several = PcapNgWriter::new(Vec::new(), false).unwrap();
    for _ in 0..3 {
        several.add_interface(LinkType::Ethernet, 9, 0).unwrap();
    }
    several.block(0x0bad_c0de, b"unknown block type").unwrap();
    several.write(2, 5, &frame).unwrap();
    several.write(7, 6, &frame).unwrap(); // no interface 7
    let several = several.into_inner().unwrap();
    let cases: [(&str, Vec<u8>, usize, bool); 6] = [
        ("bogus odd length", with_len(13), 0, false),
        ("length under the minimum", with_len(8), 0, false),
        ("huge length", with_len(0x7fff_fff0), 0, false),
        ("zero length", with_len(0), 0, false),
        ("cut inside the block", good[..good.len() - 3].to_vec(), 0, false),
        ("unknown block, several interfaces, bad interface id", several, 1, false),
    ];
    for (what, bytes, frames_before, ok) in cases {
        let (got, res) = read_both(&bytes);
        assert_eq!(got.len(), frames_before, "{what}: {res:?}");
        assert_eq!(res.is_ok(), ok, "{what}: {res:?}");
        let mut mem = FileSource::from_bytes(bytes.clone(), "mem".into());
        let (got_mem, res_mem) = read_all(&mut mem);
        assert_eq!(got_mem, got, "{what}: in-memory reader");
        assert_eq!(res_mem.is_ok(), ok, "{what}");
    }
}

/// Found by the `pcap` fuzz target (an OOM: a 2.27 GB allocation from a 169-octet input): the
/// legacy header's snapshot length is any u32, and a streamed reader grew its buffer to the
/// captured length a record claimed, as long as it was under that snapshot length. A record over
/// the 64 MiB block limit is now corrupt, in every reader, after the frames before it.
#[test]
fn huge_snapshot_length_does_not_size_the_stream_buffer() {
    let mut w = PcapWriter::with_options(Vec::new(), LinkType::Ethernet, false, false, 0x8787_8787).unwrap();
    let fs = frames();
    w.write(0, &fs[0]).unwrap();
    let mut bytes = w.into_inner().unwrap();
    let at = bytes.len();
    bytes.extend([0; 8]);
    bytes.extend(0x8000_0000u32.to_le_bytes()); // captured length 2 GiB
    bytes.extend(0x8000_0000u32.to_le_bytes());
    bytes.extend([0; 64]);
    let (got, r) = read_both(&bytes);
    assert_eq!(got.len(), 1);
    let e = r.unwrap_err();
    assert!(matches!(e, CaptureError::Corrupt { frame: 2, offset, .. } if offset == at as u64), "{e}");
    assert!(e.to_string().contains("over the limit"), "{e}");
    let (got, r) = read_all(&mut FileSource::from_bytes(bytes, "mem".into()));
    assert_eq!((got.len(), r.is_err()), (1, true));
}
