#!/usr/bin/env python3
"""Random-subdomain ("water torture") flood pcap for the `dnsledger sensor` benchmark (stdlib only).

Usage: gen_flood.py [--names N] [--out FILE] [--start EPOCH] [--gap-us US]
  --names N     unique query names = query/response pairs (default 10,000,000 -> 20M packets, ~2.5 GB)
  --out FILE    pcap to write (default flood-N.pcap); written as FILE.tmp and renamed when complete
  --start EPOCH timestamp of the first packet (default 1798761600 = 2027-01-01T00:00:00Z)
  --gap-us US   microseconds between pairs (default 10 = 100k queries/s); the response follows its
                query after US/2

Each pair is, over Ethernet/IPv4/UDP (classic pcap, little-endian, microsecond timestamps,
linktype 1, zero MACs as on loopback):
  query     127.53.0.2:<port> -> 127.53.0.1:53, RD=0, "<10 hex>.victim.example. A IN"
  response  127.53.0.1:53 -> 127.53.0.2:<port>, QR AA, rcode NXDOMAIN, the question echoed,
            authority: "victim.example. 3600 IN SOA ns1.victim.example. hostmaster.victim.example.
            2027010101 7200 3600 1209600 60" (owner and rdata names compressed), so it is in bailiwick.
The 10-hex-digit label is an invertible scramble of the pair number (odd multiplier mod 2^40, xor
a constant), so all N names are distinct and look random. Source port and DNS id vary per pair
(every query/response pair has its own id; ports cycle over 1024..65023). IPv4 ids are 0 with DF
set, so the IPv4 header checksum is a constant; the UDP checksum is 0 (none), which IPv4 allows.
The packets of one pair are laid out from constant byte strings with one struct.pack_into per pair
and written in chunks of 65,536 pairs.
"""
import argparse
import os
import struct
import sys
import time

ZONE = b"\x06victim\x07example\x00"
LABEL_LEN = 10
MASK40 = (1 << 40) - 1
MUL = 0x9E3779B97F & MASK40 | 1  # odd -> bijective mod 2^40
XOR = 0x5DEECE66D & MASK40
CLIENT = bytes([127, 53, 0, 2])
SERVER = bytes([127, 53, 0, 1])


def ip_checksum(h):
    s = sum(struct.unpack("!10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, payload_len):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000, 64, 17, 0, src, dst)
    return h[:10] + struct.pack("!H", ip_checksum(h)) + h[12:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--names", type=int, default=10_000_000)
    ap.add_argument("--out")
    ap.add_argument("--start", type=int, default=1798761600)
    ap.add_argument("--gap-us", type=int, default=10)
    a = ap.parse_args()
    n = a.names
    if n < 1 or n > MASK40:
        sys.exit("--names must be in 1..2^40")
    out = a.out or "flood-%d.pcap" % n
    t0 = time.time()

    eth = b"\x00" * 12 + b"\x08\x00"
    # --- query: header(12) + qname(1+10+16) + qtype/qclass(4)
    q_tail = ZONE + struct.pack("!HH", 1, 1)
    q_dns_len = 12 + 1 + LABEL_LEN + len(q_tail)
    q_udp_len = 8 + q_dns_len
    q_ip = ipv4(CLIENT, SERVER, q_udp_len)
    q_caplen = 14 + 20 + q_udp_len
    # layout after sport: dport, len, csum | id | flags qd an ns ar, label-length | label | tail
    q_c1 = struct.pack("<II", q_caplen, q_caplen) + eth + q_ip          # before sport
    q_c2 = struct.pack("!HHH", 53, q_udp_len, 0)                        # after sport, before id
    q_c3 = struct.pack("!HHHHH", 0x0000, 1, 0, 0, 0) + bytes([LABEL_LEN])  # after id, before label
    # --- response: question echoed, authority SOA
    # offsets inside the DNS message: question name at 12, zone suffix at 12+1+LABEL_LEN
    zone_ptr = struct.pack("!H", 0xC000 | (12 + 1 + LABEL_LEN))
    soa_rdata = (b"\x03ns1" + zone_ptr + b"\x0ahostmaster" + zone_ptr +
                 struct.pack("!IIIII", 2027010101, 7200, 3600, 1209600, 60))
    soa_rr = zone_ptr + struct.pack("!HHIH", 6, 1, 3600, len(soa_rdata)) + soa_rdata
    r_tail = q_tail + soa_rr
    r_dns_len = 12 + 1 + LABEL_LEN + len(r_tail)
    r_udp_len = 8 + r_dns_len
    r_ip = ipv4(SERVER, CLIENT, r_udp_len)
    r_caplen = 14 + 20 + r_udp_len
    r_c1 = struct.pack("<II", r_caplen, r_caplen) + eth + r_ip + struct.pack("!H", 53)  # before dport
    r_c2 = struct.pack("!HH", r_udp_len, 0)                               # after dport, before id
    # flags: QR=1 opcode 0 AA=1 TC=0 RD=0 | RA=0 rcode=3
    r_c3 = struct.pack("!HHHHH", 0x8403, 1, 0, 1, 0) + bytes([LABEL_LEN])

    fmt = ("<II%ds2s%ds2s%ds%ds%ds" % (len(q_c1), len(q_c2), len(q_c3), LABEL_LEN, len(q_tail)) +
           "II%ds2s%ds2s%ds%ds%ds" % (len(r_c1), len(r_c2), len(r_c3), LABEL_LEN, len(r_tail)))
    S = struct.Struct(fmt)
    pair = S.size
    assert pair == 16 + q_caplen + 16 + r_caplen, (pair, q_caplen, r_caplen)
    be16 = [struct.pack("!H", i) for i in range(65536)]
    pack_into = S.pack_into
    gap = a.gap_us
    half = gap // 2
    start_us = a.start * 1_000_000
    chunk = 65536
    buf = bytearray(pair * chunk)
    tmp = out + ".tmp"
    with open(tmp, "wb", buffering=0) as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        i = 0
        while i < n:
            m = min(chunk, n - i)
            off = 0
            for k in range(i, i + m):
                label = b"%010x" % (((k * MUL) & MASK40) ^ XOR)
                port = be16[1024 + k % 64000]
                qid = be16[(k * 40503 + 7) & 0xFFFF]
                tq = start_us + k * gap
                tr = tq + half
                pack_into(buf, off,
                          tq // 1_000_000, tq % 1_000_000, q_c1, port, q_c2, qid, q_c3, label, q_tail,
                          tr // 1_000_000, tr % 1_000_000, r_c1, port, r_c2, qid, r_c3, label, r_tail)
                off += pair
            f.write(memoryview(buf)[:off])
            i += m
    os.replace(tmp, out)
    dt = time.time() - t0
    size = os.path.getsize(out)
    print('{"names": %d, "packets": %d, "bytes": %d, "seconds": %.1f, "query_frame": %d, "response_frame": %d, "file": "%s"}'
          % (n, 2 * n, size, dt, q_caplen, r_caplen, out))


if __name__ == "__main__":
    main()
