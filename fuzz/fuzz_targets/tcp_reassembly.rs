//! Fuzzes DNS-over-TCP reassembly through the packet decoder (raw IPv4 frames), with segments
//! derived from the input for a few flows: sequence numbers, SYN/FIN/RST, payloads, out of
//! order, holes, retransmissions and partial overlaps, length prefixes of any size, time jumps
//! and small caps. Two modes:
//! - hostile: any sequence; after every segment the flow count cap holds and no stream
//!   direction buffers more than its cap (the reassembler's debug assertions check each
//!   direction, the target the total); every message delivered has at least a DNS header;
//!   nothing is held after `finish`;
//! - clean: one connection's stream of length-prefixed messages cut into segments sent out of
//!   order with retransmissions but no hole; every message must come out once, in order.
#![no_main]

use dnsledger_capture::{Decoder, DecoderConfig, DnsPayload, LinkType, Packet};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

const SYN: u8 = 0x02;
const FIN: u8 = 0x01;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// One TCP segment as a raw IPv4 packet between 192.0.2.`client` and 192.0.2.53.
fn segment(client: u8, cport: u16, to_server: bool, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let total = (40 + payload.len()) as u16;
    let (src, dst, sport, dport) = if to_server { (client, 53, cport, 53u16) } else { (53, client, 53u16, cport) };
    let mut p = Vec::with_capacity(40 + payload.len());
    p.extend_from_slice(&[0x45, 0]);
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0, 192, 0, 2, src, 192, 0, 2, dst]);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0, 0, 0x50, flags | ACK, 0xff, 0xff, 0, 0, 0, 0]);
    p.extend_from_slice(payload);
    p
}

fn packet<'a>(index: u64, ts: i64, data: &'a [u8]) -> Packet<'a> {
    Packet { index, ts, linktype: LinkType::Raw, data, orig_len: data.len() as u32 }
}

/// The bytes of a stream of `n` length-prefixed messages built from the input.
fn stream(u: &mut Unstructured<'_>, max_total: usize) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut bytes = Vec::new();
    let mut msgs = Vec::new();
    let n = u.int_in_range(1..=16u8)?;
    for i in 0..n {
        let len = usize::from(u.int_in_range(12..=1500u16)?);
        if bytes.len() + 2 + len > max_total {
            break;
        }
        let msg: Vec<u8> = (0..len).map(|k| (k as u8) ^ i).collect();
        bytes.extend_from_slice(&(len as u16).to_be_bytes());
        bytes.extend_from_slice(&msg);
        msgs.push(msg);
    }
    Ok((bytes, msgs))
}

fn hostile(u: &mut Unstructured<'_>) -> Result<()> {
    let cfg = DecoderConfig {
        max_flows: u.int_in_range(1..=8)?,
        max_flow_bytes: u.int_in_range(16..=70_000)?,
        flow_timeout: u.int_in_range(1..=120_000_000)?,
        ..DecoderConfig::default()
    };
    let (max_flows, cap) = (cfg.max_flows, cfg.max_flow_bytes);
    let mut dec = Decoder::new(cfg);
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(stream(u, 20_000)?.0);
    }
    let isn: [u32; 3] = [u.arbitrary()?, u.arbitrary()?, u.arbitrary()?];
    let mut ts = 0i64;
    let mut index = 0u64;
    // whole messages inside one segment are delivered without buffering, whatever the cap
    let mut emit = |p: &DnsPayload<'_>| assert!(p.data.len() >= 12, "a TCP message of {} octets", p.data.len());
    while !u.is_empty() && index < 1024 {
        index += 1;
        let which: u8 = u.arbitrary()?;
        let f = usize::from(which % 3);
        let to_server = which & 0x10 != 0;
        let flags = match (which >> 5) & 7 {
            0 => SYN,
            1 => FIN,
            2 => RST,
            _ => 0,
        };
        ts = ts.saturating_add(i64::from(u.arbitrary::<u16>()?) * 1000);
        let raw: bool = u.arbitrary()?;
        let (seq, payload) = if raw {
            // arbitrary bytes at an arbitrary sequence number
            let seq: u32 = u.arbitrary()?;
            let len = u.int_in_range(0..=600usize)?;
            (seq, u.bytes(len.min(u.len()))?.to_vec())
        } else {
            // a piece of the flow's message stream: ahead, behind, overlapping or past the end
            let s = &streams[f];
            let off = u.int_in_range(0..=s.len() + 64)?;
            let len = u.int_in_range(0..=1600usize)?;
            let piece: Vec<u8> = (off..off + len).map(|i| s.get(i).copied().unwrap_or(0)).collect();
            (isn[f].wrapping_add(1).wrapping_add(off as u32), piece)
        };
        let seq = if flags == SYN { isn[f] } else { seq };
        let frame = segment(10 + f as u8, 40000 + f as u16, to_server, seq, flags, &payload);
        dec.packet(&packet(index, ts, &frame), &mut emit);
        assert!(dec.tcp_flows() <= max_flows, "{} flows, cap {max_flows}", dec.tcp_flows());
        assert!(
            dec.tcp_buffered_bytes() <= dec.tcp_flows() * cap,
            "{} bytes buffered in {} flows, cap {cap} each",
            dec.tcp_buffered_bytes(),
            dec.tcp_flows()
        );
    }
    dec.finish(&mut emit);
    assert_eq!(dec.tcp_flows(), 0);
    assert_eq!(dec.tcp_buffered_bytes(), 0);
    Ok(())
}

fn clean(u: &mut Unstructured<'_>) -> Result<()> {
    let (bytes, msgs) = stream(u, 16_000)?;
    let isn: u32 = u.arbitrary()?;
    // cut into segments, then a fuzzed order with retransmissions of whole or partial segments
    let mut cuts = vec![0usize];
    while *cuts.last().unwrap_or(&0) < bytes.len() {
        let last = *cuts.last().unwrap_or(&0);
        cuts.push((last + u.int_in_range(1..=1400usize)?).min(bytes.len()));
    }
    let mut segs: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    let extra = u.int_in_range(0..=4usize)?;
    for _ in 0..extra {
        let i = u.int_in_range(0..=segs.len() - 1)?;
        let (s, e) = segs[i];
        let e2 = u.int_in_range(s + 1..=e)?;
        segs.push((s, e2));
    }
    if segs.len() > 256 {
        return Ok(());
    }
    for i in (1..segs.len()).rev() {
        let j = u.int_in_range(0..=i)?;
        segs.swap(i, j);
    }
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut got: Vec<Vec<u8>> = Vec::new();
    let syn = segment(7, 5353, false, isn, SYN, &[]);
    dec.packet(&packet(1, 1_000_000, &syn), &mut |p| got.push(p.data.to_vec()));
    for (i, &(s, e)) in segs.iter().enumerate() {
        let seq = isn.wrapping_add(1).wrapping_add(s as u32);
        let frame = segment(7, 5353, false, seq, 0, &bytes[s..e]);
        dec.packet(&packet(i as u64 + 2, 1_000_000, &frame), &mut |p| got.push(p.data.to_vec()));
    }
    dec.finish(&mut |p| got.push(p.data.to_vec()));
    assert_eq!(got, msgs, "every message once, in order ({} segments)", segs.len());
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.arbitrary::<bool>() else { return };
    let _ = if mode { clean(&mut u) } else { hostile(&mut u) };
    let _ = (FIN, RST);
});
