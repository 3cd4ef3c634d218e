#!/usr/bin/env python3
"""Hostile fuzz seeds for the packet, message, dnstap and API targets (stdlib only).

    gen_hostile.py CORPUS_DIR [TARGET...]

Writes small hand-shaped inputs into CORPUS_DIR/<target>/ for the cargo-fuzz targets
dns_message, pcap, defrag, tcp_reassembly, dnstap_handshake and api_query (all of them when no
target is named): compression-pointer chains and loops (a "pointer bomb": many records whose
owner points into a deep chain of pointers), names at the maximum compression depth, labels of
63 octets and names of 255 (and one more), malformed SVCB/HTTPS rdata, captures cut short,
pcapng files with bogus block lengths, unknown blocks and several interfaces, IP fragments that
overlap or reach past 65535, TCP streams with holes, retransmissions and oversized length
prefixes, Frame Streams handshakes with oversized or malformed control frames, and API paths
with odd escapes, wildcards, CIDRs and time fences. Each input is prefixed with the option
byte(s) its target reads (see the target's doc comment). The same shapes are checked by the
crates' unit tests (crates/wire, crates/capture, crates/dnstap, crates/server), so the fuzzers
start from them and the test suite guards them on every run."""
import os
import struct
import sys

# ---------------------------------------------------------------- DNS messages


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\x00"


def ptr(off):
    return struct.pack(">H", 0xC000 | off)


def header(qd=1, an=0, ns=0, ar=0, flags=0x8400, ident=0x1234):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def rr(owner, rtype, rdata, ttl=300):
    return owner + struct.pack(">HHIH", rtype, 1, ttl, len(rdata)) + rdata


def question(qname, qtype=1):
    return name(qname) + struct.pack(">HH", qtype, 1)


def pointer_bomb(chain=8000, records=3000):
    """A NULL record whose rdata is a chain of `chain` pointers, each to the one before, then
    `records` A records owned by the last pointer: naive decompression walks the chain for each."""
    msg = bytearray(header(an=1 + records) + question("bomb.example."))
    null_owner = ptr(12)
    rdata_at = len(msg) + len(null_owner) + 10
    body = bytearray(b"\x01a" + ptr(12))  # element 0: "a" + the question name
    prev = rdata_at
    for _ in range(chain):
        here = rdata_at + len(body)
        body += ptr(prev)
        prev = here
    msg += rr(null_owner, 10, bytes(body))
    for i in range(records):
        msg += rr(ptr(prev), 1, bytes([192, 0, 2, i & 255]))
    return bytes(msg)


def depth_chain(steps):
    """A NULL record whose rdata is a chain of one-letter labels, each followed by a pointer to
    the one before (the first to the question name `d.example.`), and a CNAME whose target
    points to the last: the target is 2 * steps + 11 octets long (122 steps: 255, the maximum;
    123: one label too many)."""
    msg = bytearray(header(an=2) + question("d.example."))
    owner = ptr(12)
    rdata_at = len(msg) + len(owner) + 10
    body = bytearray(b"\x01x" + ptr(12))
    prev = rdata_at
    for _ in range(steps - 1):
        here = rdata_at + len(body)
        body += b"\x01x" + ptr(prev)
        prev = here
    msg += rr(owner, 10, bytes(body))
    msg += rr(ptr(12), 5, ptr(prev))
    return bytes(msg)


def pointer_loops():
    q = question("loop.example.")
    base = header(an=1) + q
    at = len(base)
    return {
        "self-loop": base + rr(ptr(at), 1, b"\xc0\x00\x02\x01"),
        "forward": base + rr(ptr(at + 40), 1, b"\xc0\x00\x02\x01"),
        "into-header": base + rr(ptr(2), 1, b"\xc0\x00\x02\x01"),
        "two-step-loop": header(an=1) + b"\xc0\x0e" + b"\xc0\x0c" + struct.pack(">HH", 1, 1),
        "bad-label-type": base + rr(b"\x41abc\x00", 1, b"\xc0\x00\x02\x01"),
        "rdlength-past-end": base + ptr(12) + struct.pack(">HHIH", 1, 1, 300, 400) + b"\x01\x02",
        "counts-past-end": header(an=65535, ns=65535, ar=65535) + q,
    }


def long_names():
    l63 = "a" * 63
    n255 = ".".join([l63, l63, l63, "b" * 61]) + "."  # 1+63+1+63+1+63+1+61+1 = 255
    n256 = ".".join([l63, l63, l63, "b" * 62]) + "."
    out = {}
    for tag, n in (("255", n255), ("256", n256)):
        msg = header(an=1) + question(n) + rr(ptr(12), 1, bytes([192, 0, 2, 1]))
        out["name" + tag] = msg
    out["label64"] = header(an=0) + b"\x40" + b"a" * 64 + b"\x00" + struct.pack(">HH", 1, 1)
    return out


def svcb(priority, target, params):
    out = struct.pack(">H", priority) + name(target)
    for key, value in params:
        out += struct.pack(">HH", key, len(value)) + value
    return out


def bad_svcb():
    cases = {
        "key-order": svcb(1, ".", [(3, b"\x01\xbb"), (1, b"\x02h2")]),
        "duplicate-key": svcb(1, ".", [(3, b"\x01\xbb"), (3, b"\x01\xbb")]),
        "length-past-end": svcb(1, ".", [(1, b"\x02h2")])[:-1] + b"\x00\xff",
        "mandatory-self": svcb(1, ".", [(0, b"\x00\x00")]),
        "mandatory-missing": svcb(1, ".", [(0, b"\x00\x03"), (1, b"\x02h2")]),
        "alpn-empty-id": svcb(1, ".", [(1, b"\x00")]),
        "ipv4hint-odd": svcb(1, ".", [(4, b"\xc0\x00\x02")]),
        "ipv6hint-odd": svcb(1, ".", [(6, b"\x20\x01" * 7)]),
        "port-long": svcb(1, ".", [(3, b"\x01\xbb\x00")]),
        "alias-with-params": svcb(0, "example.net.", [(3, b"\x01\xbb")]),
        "ech-empty": svcb(1, ".", [(5, b"")]),
        "truncated-key": svcb(1, ".", [])[:] + b"\x00",
    }
    out = {}
    for tag, rdata in cases.items():
        for rtype, tname in ((64, "svcb"), (65, "https")):
            msg = header(an=1) + question("svc.example.", rtype) + rr(ptr(12), rtype, rdata)
            out[f"{tname}-{tag}"] = msg
    return out


def dns_seeds():
    seeds = {"pointer-bomb": pointer_bomb(), "pointer-bomb-128": pointer_bomb(126, 500),
             "pointer-bomb-129": pointer_bomb(127, 500)}
    seeds["depth-122"] = depth_chain(122)
    seeds["depth-123"] = depth_chain(123)
    seeds.update(pointer_loops())
    seeds.update(long_names())
    seeds.update(bad_svcb())
    return seeds


def good_response(qname="www.example.com.", addr=(192, 0, 2, 1), ident=0x1234):
    return header(an=1, ident=ident) + question(qname) + rr(ptr(12), 1, bytes(addr))


# ---------------------------------------------------------------- packets and captures


def ipv4(src, dst, proto, payload, ident=1, frag=0):
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                       bytes(src), bytes(dst)) + payload


def ipv6_frag(src_last, payload, ident, offset, more, nh=17):
    src = bytes([0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [0x53])
    dst = bytes([0x20, 0x01, 0x0D, 0xB8] + [0] * 11 + [src_last])
    fh = struct.pack(">BBHI", nh, 0, (offset & 0xFFF8) | int(more), ident)
    return struct.pack(">IHBB", 0x60000000, 8 + len(payload), 44, 64) + src + dst + fh + payload


def udp(sport, dport, payload):
    return struct.pack(">HHHH", sport, dport, 8 + len(payload), 0) + payload


def tcp(sport, dport, seq, flags, payload):
    return struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 0x50, flags | 0x10, 0xFFFF, 0, 0) + payload


SERVER = (192, 0, 2, 53)
CLIENT = (198, 51, 100, 7)


def frag4(datagram, pieces, ident=7, proto=17):
    """IPv4 fragments of `datagram` cut at (offset, length, more) triples."""
    out = []
    for off, length, more in pieces:
        frag = (off // 8) | (0x2000 if more else 0)
        out.append(ipv4(SERVER, CLIENT, proto, datagram[off:off + length].ljust(length, b"\xee"), ident, frag))
    return out


def pcap(frames, linktype=101, magic=0xA1B2C3D4, snaplen=65535, cut=None):
    out = struct.pack("<IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)
    for i, f in enumerate(frames):
        caplen = len(f) if cut is None else min(len(f), cut)
        out += struct.pack("<IIII", 1700000000 + i, 0, caplen, len(f)) + f[:caplen]
    return out


def pcapng_block(btype, body, bogus_len=None):
    pad = (-len(body)) % 4
    total = 12 + len(body) + pad
    first = total if bogus_len is None else bogus_len
    return struct.pack("<II", btype, first) + body + b"\x00" * pad + struct.pack("<I", total)


def shb():
    return pcapng_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))


def idb(linktype, tsresol=None):
    opts = b""
    if tsresol is not None:
        opts = struct.pack("<HH", 9, 1) + bytes([tsresol]) + b"\x00" * 3 + struct.pack("<HH", 0, 0)
    return pcapng_block(1, struct.pack("<HHI", linktype, 0, 0) + opts)


def epb(iface, frame, ts=1700000000_000000):
    return pcapng_block(6, struct.pack("<IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame)) + frame)


def tcp_stream(msgs):
    return b"".join(struct.pack(">H", len(m)) + m for m in msgs)


def pcap_seeds():
    dns = good_response()
    dg = udp(53, 40000, good_response("frag.example.", ident=9) + b"\x00" * 1400)
    raw_udp = ipv4(SERVER, CLIENT, 17, udp(53, 40000, dns))
    stream = tcp_stream([good_response(ident=i) for i in range(1, 5)])
    isn = 1000
    syn = ipv4(SERVER, CLIENT, 6, tcp(53, 40001, isn, 0x02, b""))

    def seg(off, data, flags=0):
        return ipv4(SERVER, CLIENT, 6, tcp(53, 40001, isn + 1 + off, flags, data))

    s = {
        "udp": pcap([raw_udp]),
        "truncated-header": pcap([raw_udp])[:20],
        "truncated-record": pcap([raw_udp])[:-9],
        "caplen-cut": pcap([raw_udp], cut=30),
        "snaplen-zero": pcap([raw_udp], snaplen=0),
        "nanos-bigendian": struct.pack(">IHHiIII", 0xA1B23C4D, 2, 4, 0, 0, 65535, 101)
        + struct.pack(">IIII", 1700000000, 999999999, len(raw_udp), len(raw_udp)) + raw_udp,
        "caplen-huge": pcap([raw_udp])[:24] + struct.pack("<IIII", 0, 0, 0xFFFFFFF0, 0xFFFFFFF0) + raw_udp,
        # fragments: in order, overlapping with different bytes, past 65535, duplicate
        "frag-ok": pcap(frag4(dg, [(0, 512, True), (512, 512, True), (1024, len(dg) - 1024, False)])),
        "frag-overlap": pcap(frag4(dg, [(0, 512, True), (256, 512, True), (768, len(dg) - 768, False)])),
        "frag-past-65535": pcap(frag4(dg, [(0, 512, True), (65528, 64, False)])),
        "frag-duplicate-reversed": pcap(list(reversed(frag4(dg, [(0, 512, True), (0, 512, True),
                                                                 (512, len(dg) - 512, False)])))),
        "frag-v6": pcap([ipv6_frag(7, dg[:512], 77, 0, True), ipv6_frag(7, dg[512:], 77, 512, False)]),
        "frag-v6-tiny-overlap": pcap([ipv6_frag(7, dg[:16], 78, 0, True), ipv6_frag(7, dg[8:], 78, 8, False)]),
        # TCP: in order, a hole, retransmissions, an oversized length prefix, bad length
        "tcp-ok": pcap([syn, seg(0, stream)]),
        "tcp-hole": pcap([syn, seg(0, stream[:10]), seg(40, stream[40:]), seg(0, stream[:10], 0x01)]),
        "tcp-retransmit": pcap([syn, seg(0, stream[:50]), seg(0, stream[:80]), seg(30, stream[30:])]),
        "tcp-out-of-order": pcap([syn] + [seg(o, stream[o:o + 17]) for o in reversed(range(0, len(stream), 17))]),
        "tcp-oversized-prefix": pcap([syn, seg(0, b"\xff\xff" + stream), seg(65537, stream)]),
        "tcp-bad-length": pcap([syn, seg(0, b"\x00\x05hello" + stream)]),
        "tcp-no-syn-midstream": pcap([seg(3, stream[3:])]),
        "tcp-rst": pcap([syn, seg(0, stream[:20]), seg(20, b"", 0x04)]),
    }
    eth = b"\x00" * 12 + b"\x08\x00"
    s["pcapng-interfaces"] = (shb() + idb(101) + idb(1, tsresol=9) + idb(113)
                              + epb(0, raw_udp) + epb(1, eth + raw_udp) + epb(2, b"\x00" * 14 + b"\x08\x00" + raw_udp)
                              + epb(7, raw_udp))
    s["pcapng-unknown-blocks"] = (shb() + pcapng_block(0x0BADC0DE, b"whatever") + idb(101)
                                  + pcapng_block(5, b"\x00" * 20) + epb(0, raw_udp))
    s["pcapng-bogus-length"] = shb() + idb(101) + pcapng_block(6, b"\x00" * 20, bogus_len=13) + epb(0, raw_udp)
    s["pcapng-huge-length"] = shb() + idb(101) + struct.pack("<II", 6, 0x7FFFFFF0) + b"\x00" * 32
    s["pcapng-zero-length"] = shb() + idb(101) + struct.pack("<II", 6, 0) + b"\x00" * 32
    s["pcapng-tsresol-huge"] = shb() + idb(101, tsresol=0x7F) + epb(0, raw_udp, ts=(1 << 64) - 1)
    s["pcapng-no-idb"] = shb() + epb(0, raw_udp)
    s["pcapng-two-sections"] = shb() + idb(101) + epb(0, raw_udp) + shb() + epb(0, raw_udp)
    s["pcapng-truncated"] = (shb() + idb(101) + epb(0, raw_udp))[:-3]
    return {k: b"\x00" + v for k, v in s.items()}  # option byte: chunk size 1 (the slowest reader)


# ---------------------------------------------------------------- Frame Streams

CT = b"protobuf:dnstap.Dnstap"


def control(kind, cts=(), raw_len=None, fields=None):
    body = struct.pack(">I", kind)
    for ct in cts:
        body += struct.pack(">II", 1, len(ct)) + ct
    if fields is not None:
        body += fields
    length = len(body) if raw_len is None else raw_len
    return struct.pack(">II", 0, length) + body


def data_frame(payload):
    return struct.pack(">I", len(payload)) + payload


def fstrm_seeds():
    ready, start, stop = control(4, [CT]), control(2, [CT]), control(3)
    payload = b"\x72\x02\x08\x06"  # a small protobuf: field 14 (message) {type: 6}
    s = {
        "bidirectional": ready + start + data_frame(payload) + stop,
        "unidirectional": start + data_frame(payload) + stop,
        "ready-no-ct": control(4) + start + stop,
        "ready-wrong-ct": control(4, [b"protobuf:other"]) + start + stop,
        "ready-many-ct": control(4, [b"x" * 200, b"y" * 200, CT]) + start + stop,
        "ct-too-long": control(4, [b"z" * 300]) + start,
        "control-too-long": struct.pack(">II", 0, 513) + b"\x00\x00\x00\x04" + b"\x00" * 509,
        "control-short": struct.pack(">II", 0, 2) + b"\x00\x04",
        "control-field-past-end": control(4, fields=struct.pack(">II", 1, 400) + CT),
        "control-unknown-kind": control(9, [CT]) + start,
        "control-unknown-field": control(4, fields=struct.pack(">II", 7, 3) + b"abc") + start + stop,
        "data-before-start": data_frame(payload) + start,
        "oversized-data": ready + start + struct.pack(">I", 0xFFFFFFFF) + payload,
        "data-over-cap": ready + start + struct.pack(">I", 65) + b"\x00" * 65 + stop,
        "second-ready": ready + ready + start,
        "accept-from-peer": control(1, [CT]) + stop,
        "finish-early": ready + start + control(5) + stop,
        "stop-then-more": start + stop + data_frame(payload),
        "eof-mid-frame": ready + start + struct.pack(">I", 40) + b"\x00" * 10,
        "peer-accept": control(1, [CT]) + control(5),
    }
    out = {}
    for tag, v in s.items():
        out["rx-" + tag] = b"\x03" + v  # receiver, 13-octet reads
        out["rx-cap64-" + tag] = b"\x08" + v  # receiver, 1-octet reads, 64-octet frame cap
    out["tx-accept-finish"] = b"\x86" + control(1, [CT]) + control(5)
    out["tx-wrong-accept"] = b"\x86" + control(1, [b"protobuf:other"]) + control(5)
    out["file-start-stop"] = b"\xa6" + start + data_frame(payload) + stop
    out["file-no-stop"] = b"\xa6" + start + data_frame(payload)
    return out


# ---------------------------------------------------------------- API paths

def api_seeds():
    lines = [
        "lookup/rrset/name/www.example.com/A/example.com\nlimit=10&offset=2&time_first_after=-86400",
        "lookup/rrset/name/*.example.com\ntime_last_before=2024-01-01T00:00:00Z&humantime=t",
        "lookup/rrset/name/example.*/ANY-DNSSEC\naggr=f",
        "lookup/rrset/raw/076578616d706c6503636f6d00/TYPE65",
        "lookup/rdata/ip/192.0.2.0,24\nlimit=0",
        "lookup/rdata/ip/192.0.2.0%2F24",
        "lookup/rdata/ip/2001:db8::-2001:db8::ffff",
        "lookup/rdata/ip/2001:db8::%2F129",
        "lookup/rdata/name/ns1.example.net/NS",
        "lookup/rdata/raw/c0000201/A",
        "lookup/rdata/raw/c000020/A",
        "summarize/rrset/name/example.com\nmax_count=5",
        "regex/rrnames/^www%5C.example%5C.(com|net)%24/A\nexclude=test",
        "glob/rdata/*.example.[a-z][!q]*\nexclude=%252A",
        "regex/rrnames/(a{1000}){1000}",
        "lookup/rrset/name/%2A.example.com%252Ffoo",
        "lookup/rrset/name/%zz",
        "lookup/rrset/name/" + "a" * 64 + ".example",
        "lookup/rrset/name/" + ".".join(["a" * 63] * 4),
        "lookup/rrset/name/a..b",
        "lookup/rrset/name/x/A/b/c",
        "ping",
        "rate_limit",
        "lookup/rrset/name/example.com\nlimit=-1&offset=18446744073709551616",
        "lookup/rrset/name/example.com\ntime_first_after=99999999999999999999&time_last_after=-99999999999999999999",
        "lookup/rrset/name/example.com\nhumantime=maybe",
        "192.0.2.1\n\nA",
        "www.example.com\n\nHTTPS",
        "2001:db8::1\n\nANY",
        "10.0.0.0-10.0.0.9",
        "%F0%9F%92%A9.example",
    ]
    return {f"path-{i:02}": line.encode() for i, line in enumerate(lines)}


# ---------------------------------------------------------------- defrag / tcp (structured)

def structured_seeds():
    # these targets read their operations through `arbitrary::Unstructured`: a mode byte
    # (odd: clean, even: hostile) and then operation bytes; seeds give libFuzzer both modes
    # with enough bytes for many operations (patterns that hit caps, duplicates, time jumps)
    out = {}
    for mode in (0, 1):
        for i, pat in enumerate((b"\x00", b"\xff", bytes(range(256)), b"\x08\x00\x10\x00\x01",
                                 b"\x7f\xff\xff\x00" * 3)):
            out[f"mode{mode}-{i}"] = bytes([mode]) + (pat * (2048 // len(pat) + 1))[:2048]
    return out


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    wanted = sys.argv[2:]
    dns = dns_seeds()
    good = {"good": good_response(), "good-nx": header(flags=0x8403) + question("nx.example.")}
    targets = {
        # dns_message: flags byte (bit 0: negative answers) then the message
        "dns_message": {k: b"\x01" + v for k, v in {**dns, **good}.items()},
        "pcap": pcap_seeds(),
        "dnstap_handshake": fstrm_seeds(),
        "api_query": api_seeds(),
        "defrag": structured_seeds(),
        "tcp_reassembly": structured_seeds(),
    }
    for target, seeds in targets.items():
        if wanted and target not in wanted:
            continue
        d = os.path.join(root, target)
        os.makedirs(d, exist_ok=True)
        for tag, data in seeds.items():
            with open(os.path.join(d, "hostile-" + tag), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
