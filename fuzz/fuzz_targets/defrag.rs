//! Fuzzes IPv4/IPv6 fragment reassembly through the packet decoder (raw IP frames), with
//! fragments derived from the input: which datagram, offset, length, MF flag, IP id, corrupted
//! (overlapping but different) bytes, pieces past the end and past 65535, time jumps, and small
//! caps. Two modes:
//! - hostile: any sequence; the fragment count and byte caps must hold after every frame, no
//!   payload may exceed a UDP datagram, and nothing is held after `finish`;
//! - clean: one datagram cut into non-overlapping pieces sent in a fuzzed order with exact
//!   duplicates; it must come out exactly once and byte for byte.
#![no_main]

use dnsledger_capture::{Decoder, DecoderConfig, LinkType, Packet};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

/// A UDP datagram from port 53 carrying `dns`, as the IP payload to fragment.
fn udp(dns: &[u8], dport: u16) -> Vec<u8> {
    let len = (8 + dns.len()) as u16;
    let mut d = Vec::with_capacity(8 + dns.len());
    d.extend_from_slice(&53u16.to_be_bytes());
    d.extend_from_slice(&dport.to_be_bytes());
    d.extend_from_slice(&len.to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(dns);
    d
}

/// One fragment as a raw IP packet. `offset` is in octets (IPv4 keeps its 8-octet units).
fn fragment(v6: bool, host: u8, id: u32, offset: usize, more: bool, piece: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(48 + piece.len());
    if v6 {
        let plen = (8 + piece.len()) as u16;
        p.extend_from_slice(&[0x60, 0, 0, 0]);
        p.extend_from_slice(&plen.to_be_bytes());
        p.extend_from_slice(&[44, 64]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53]);
        p.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, host]);
        let fo = ((offset as u16) & 0xfff8) | u16::from(more);
        p.extend_from_slice(&[17, 0]);
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&id.to_be_bytes());
    } else {
        let total = (20 + piece.len()) as u16;
        let fo = ((offset / 8) as u16 & 0x1fff) | if more { 0x2000 } else { 0 };
        p.extend_from_slice(&[0x45, 0]);
        p.extend_from_slice(&total.to_be_bytes());
        p.extend_from_slice(&(id as u16).to_be_bytes());
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&[64, 17, 0, 0, 192, 0, 2, 53, 198, 51, 100, host]);
    }
    p.extend_from_slice(piece);
    p
}

fn packet<'a>(index: u64, ts: i64, data: &'a [u8]) -> Packet<'a> {
    Packet { index, ts, linktype: LinkType::Raw, data, orig_len: data.len() as u32 }
}

fn hostile(u: &mut Unstructured<'_>) -> Result<()> {
    let cfg = DecoderConfig {
        max_fragments: u.int_in_range(1..=64)?,
        max_fragment_bytes: u.int_in_range(0..=200_000)?,
        fragment_timeout: u.int_in_range(1..=60_000_000)?,
        ..DecoderConfig::default()
    };
    let (max_frags, max_bytes) = (cfg.max_fragments, cfg.max_fragment_bytes);
    let mut dec = Decoder::new(cfg);
    let dns_len = u.int_in_range(0..=3000)?;
    let dns: Vec<u8> = (0..dns_len).map(|i| (i * 7) as u8).collect();
    let datagrams: Vec<Vec<u8>> = (0..4u16).map(|i| udp(&dns[..dns.len() / (usize::from(i) + 1)], 1000 + i)).collect();
    let mut ts = 0i64;
    let mut index = 0u64;
    let mut emit = |p: &dnsledger_capture::DnsPayload<'_>| assert!(p.data.len() <= 65_535 - 8);
    while !u.is_empty() && index < 512 {
        index += 1;
        let which: u8 = u.arbitrary()?;
        let d = &datagrams[usize::from(which & 3)];
        let v6 = which & 4 != 0;
        let host = (which >> 3) & 3;
        let id = u32::from(u.int_in_range(0u8..=3)?);
        let offset = usize::from(u.arbitrary::<u16>()?) & !7;
        let len = usize::from(u.arbitrary::<u16>()? % 2048);
        let more: bool = u.arbitrary()?;
        let corrupt: bool = u.arbitrary()?;
        ts = ts.saturating_add(i64::from(u.arbitrary::<u16>()?) * 1000);
        let mut piece: Vec<u8> = (offset..offset + len).map(|i| d.get(i).copied().unwrap_or(0xee)).collect();
        if corrupt {
            if let Some(b) = piece.first_mut() {
                *b ^= 0xff;
            }
        }
        let frame = fragment(v6, host, id, offset, more, &piece);
        dec.packet(&packet(index, ts, &frame), &mut emit);
        assert!(dec.fragments_held() <= max_frags, "{} fragments held, cap {max_frags}", dec.fragments_held());
        assert!(
            dec.fragment_bytes_held() <= max_bytes,
            "{} fragment bytes held, cap {max_bytes}",
            dec.fragment_bytes_held()
        );
    }
    dec.finish(&mut emit);
    assert_eq!(dec.fragments_held(), 0);
    assert_eq!(dec.fragment_bytes_held(), 0);
    Ok(())
}

fn clean(u: &mut Unstructured<'_>) -> Result<()> {
    let v6: bool = u.arbitrary()?;
    let dns_len = u.int_in_range(12..=4000)?;
    let dns: Vec<u8> = u.bytes(dns_len.min(u.len()))?.to_vec();
    if dns.len() < 12 {
        return Ok(());
    }
    let d = udp(&dns, 4242);
    // cut points on 8-octet boundaries
    let mut cuts = vec![0usize];
    while *cuts.last().unwrap_or(&0) < d.len() {
        let last = *cuts.last().unwrap_or(&0);
        let step = usize::from(u.int_in_range(1u8..=64)?) * 8;
        cuts.push((last + step).min(d.len()));
    }
    let mut pieces: Vec<(usize, usize)> = cuts.windows(2).map(|w| (w[0], w[1])).collect();
    if pieces.len() < 2 {
        return Ok(()); // a single piece is not a fragment
    }
    // fuzzed order (Fisher-Yates driven by the input) with a few exact duplicates
    for i in (1..pieces.len()).rev() {
        let j = u.int_in_range(0..=i)?;
        pieces.swap(i, j);
    }
    let dups = u.int_in_range(0..=3usize)?;
    // fewer duplicates than pieces, so the duplicates alone never make a second datagram
    for k in 0..dups.min(pieces.len() - 1) {
        let p = pieces[k];
        pieces.push(p);
    }
    let mut dec = Decoder::new(DecoderConfig::default());
    let mut got: Vec<Vec<u8>> = Vec::new();
    for (i, &(s, e)) in pieces.iter().enumerate() {
        let frame = fragment(v6, 9, 0x1234_5678, s, e < d.len(), &d[s..e]);
        dec.packet(&packet(i as u64 + 1, 1_000_000, &frame), &mut |p| got.push(p.data.to_vec()));
    }
    dec.finish(&mut |p| got.push(p.data.to_vec()));
    assert_eq!(got.len(), 1, "a clean datagram is delivered exactly once ({} pieces)", pieces.len());
    assert_eq!(got[0], dns, "reassembled bytes are the original payload");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mode) = u.arbitrary::<bool>() else { return };
    let _ = if mode { clean(&mut u) } else { hostile(&mut u) };
});
