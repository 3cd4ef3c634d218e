#!/usr/bin/env python3
"""Hostile inputs for bench/floods.sh (stdlib only): pcap generators and live HTTP attackers.

    floods.py gen-rrset OUT [--records K] [--responses R]
        R query/response pairs over UDP for one name (big.example.net A), each response with K
        distinct A records (K <= 4000 fits one 64 KiB datagram); R*K distinct addresses in all.
    floods.py gen-tcp OUT [--flows F] [--bytes B]
        F TCP connections to port 53, each a SYN and then B bytes of a message whose length
        prefix announces 65,000 bytes, in 1,400-byte segments; no connection ever finishes.
    floods.py ingest URL [--names N] [--batch M] [--key KEY]
        POSTs N unique names (passivedns lines, one A record each) in batches of M lines.
    floods.py rrset-http URL [--records K] [--key KEY]
        POSTs one batch of K distinct A records of one name, then looks the name up (limit=0).
    floods.py slowloris URL [--conns C] [--bodies B] [--seconds S] [--probe-from ADDR]
        C connections dribbling a request head (one byte a second, never finished) and B
        connections dribbling a body (Content-Length 64 MiB, one byte a second) for S seconds,
        while a fresh connection from another address (ADDR, default 127.0.0.2: all of 127/8
        is loopback on Linux; "" = the flood's own) asks /healthz every second.
    floods.py oversize URL [--mib M] [--key KEY]
        POSTs an M MiB body with Content-Length, and another one chunked (no length).

Every command prints one JSON object of what it did and saw.
"""
import argparse
import http.client
import json
import os
import socket
import struct
import sys
import time
import urllib.parse

ETH = b"\x00" * 12 + b"\x08\x00"


def pcap_header():
    return struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)


def ip_checksum(h):
    s = sum(struct.unpack("!10H", h))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def ipv4(src, dst, proto, payload_len):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + payload_len, 0, 0x4000, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", ip_checksum(h)) + h[12:]


def record(out, ts_us, frame):
    out.write(struct.pack("<IIII", ts_us // 1_000_000, ts_us % 1_000_000, len(frame), len(frame)))
    out.write(frame)


def udp_frame(src, dst, sport, dport, payload):
    udp = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    return ETH + ipv4(src, dst, 17, len(udp)) + udp


def tcp_frame(src, dst, sport, dport, seq, flags, payload):
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0 if flags == 0x02 else 1, 5 << 4, flags, 65535, 0, 0) + payload
    return ETH + ipv4(src, dst, 6, len(tcp)) + tcp


def qname(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\x00"


CLIENT, SERVER = bytes([192, 0, 2, 2]), bytes([192, 0, 2, 1])
T0 = 1798761600 * 1_000_000


def gen_rrset(a):
    k, r = a.records, a.responses
    if not 1 <= k <= 4000:
        sys.exit("--records must be in 1..4000 (one UDP datagram)")
    q = qname("big.example.net") + struct.pack("!HH", 1, 1)
    n = 0
    with open(a.out + ".tmp", "wb") as f:
        f.write(pcap_header())
        for i in range(r):
            tid, sport = i & 0xFFFF, 1024 + i % 60000
            query = struct.pack("!HHHHHH", tid, 0x0100, 1, 0, 0, 0) + q
            record(f, T0 + i * 1000, udp_frame(CLIENT, SERVER, sport, 53, query))
            rrs = bytearray()
            for j in range(k):
                addr = 10 << 24 | (i * k + j)
                rrs += struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + struct.pack("!I", addr)
            resp = struct.pack("!HHHHHH", tid, 0x8580, 1, k, 0, 0) + q + bytes(rrs)
            record(f, T0 + i * 1000 + 500, udp_frame(SERVER, CLIENT, 53, sport, resp))
            n += 2
    os.replace(a.out + ".tmp", a.out)
    print(json.dumps({"pcap": a.out, "packets": n, "responses": r, "records_per_response": k,
                      "distinct_records": r * k, "bytes": os.path.getsize(a.out)}))


def gen_tcp(a):
    seg = 1400
    n = 0
    with open(a.out + ".tmp", "wb") as f:
        f.write(pcap_header())
        for i in range(a.flows):
            src = bytes([10, 64 + (i >> 16) % 64, (i >> 8) & 0xFF, i & 0xFF])
            sport = 1024 + i % 60000
            isn = 1000
            ts = T0 + i * 10  # 100k connections a second: none idles out within the capture
            record(f, ts, tcp_frame(src, SERVER, sport, 53, isn, 0x02, b""))
            data = struct.pack("!H", 65000) + b"\x41" * a.bytes
            seq = isn + 1
            for off in range(0, len(data), seg):
                ch = data[off:off + seg]
                record(f, ts + 1, tcp_frame(src, SERVER, sport, 53, seq, 0x10, ch))
                seq += len(ch)
                n += 1
            n += 1
    os.replace(a.out + ".tmp", a.out)
    print(json.dumps({"pcap": a.out, "packets": n, "flows": a.flows, "bytes_per_flow": a.bytes,
                      "unfinished_bytes": a.flows * a.bytes, "bytes": os.path.getsize(a.out)}))


def conn(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port or 80, timeout=600)


def post(url, path, body, key=None, headers=None):
    c = conn(url)
    h = {"Content-Type": "text/plain"}
    if key:
        h["X-API-Key"] = key
    h.update(headers or {})
    c.request("POST", path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def ingest(a):
    t0 = time.monotonic()
    statuses = {}
    sent = 0
    i = 0
    while sent < a.names:
        m = min(a.batch, a.names - sent)
        lines = "".join("1798761600.0||192.0.2.2||192.0.2.1||IN||u%09x.flood.example.||A||198.51.100.%d||60||1\n"
                        % (i + j, (i + j) % 250) for j in range(m))
        st, _ = post(a.url, "/api/v1/observations?format=passivedns&sensor=flood", lines.encode(), a.key)
        statuses[st] = statuses.get(st, 0) + 1
        sent += m
        i += m
    secs = time.monotonic() - t0
    print(json.dumps({"names": a.names, "batch": a.batch, "seconds": round(secs, 1),
                      "names_per_s": round(a.names / secs), "statuses": statuses}))


def rrset_http(a):
    lines = "".join("1798761600.0||192.0.2.2||192.0.2.1||IN||big.example.org.||A||%d.%d.%d.%d||60||1\n"
                    % (10, (j >> 16) & 255, (j >> 8) & 255, j & 255) for j in range(a.records))
    t0 = time.monotonic()
    st, body = post(a.url, "/api/v1/observations?format=passivedns&sensor=rrset", lines.encode(), a.key)
    t1 = time.monotonic()
    c = conn(a.url)
    c.request("GET", "/api/v1/lookup/rrset/name/big.example.org?limit=0&format=ndjson",
              headers={"X-API-Key": a.key} if a.key else {})
    r = c.getresponse()
    got = r.read()
    t2 = time.monotonic()
    rdata = sum(len(json.loads(l).get("rdata", [])) for l in got.splitlines() if l.strip())
    print(json.dumps({"records": a.records, "ingest_status": st, "ingest_s": round(t1 - t0, 2),
                      "lookup_status": r.status, "lookup_bytes": len(got), "lookup_rdata": rdata,
                      "lookup_s": round(t2 - t1, 2)}))


def slowloris(a):
    u = urllib.parse.urlsplit(a.url)
    addr = (u.hostname, u.port or 80)
    socks = []
    refused = 0
    for i in range(a.conns + a.bodies):
        s = socket.socket()
        s.settimeout(5)
        try:
            s.connect(addr)
            if i < a.conns:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            else:
                s.sendall(b"POST /api/v1/observations?format=passivedns HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 67108864\r\n\r\n")
            s.setblocking(False)
            socks.append((s, time.monotonic(), i < a.conns))
        except OSError:
            refused += 1
            s.close()
    closed = {"head": [], "body": []}
    answers = {}
    probes = []
    t0 = time.monotonic()
    while time.monotonic() - t0 < a.seconds:
        live = []
        for s, start, head in socks:
            gone = False
            try:
                data = s.recv(4096)
                if data == b"":
                    gone = True
                else:
                    line = data.split(b"\r\n", 1)[0].decode("latin-1")
                    answers[line] = answers.get(line, 0) + 1
                    gone = True
            except BlockingIOError:
                pass
            except OSError:
                gone = True
            if not gone:
                try:
                    s.send(b"a")
                except BlockingIOError:
                    pass
                except OSError:
                    gone = True
            if gone:
                closed["head" if head else "body"].append(time.monotonic() - start)
                s.close()
            else:
                live.append((s, start, head))
        socks = live
        # a well-behaved client meanwhile
        p0 = time.monotonic()
        try:
            src = (a.probe_from, 0) if a.probe_from else None
            c = http.client.HTTPConnection(*addr, timeout=5, source_address=src)
            c.request("GET", "/healthz")
            ok = c.getresponse().status == 200
            c.close()
        except OSError:
            ok = False
        probes.append((ok, time.monotonic() - p0))
        time.sleep(max(0.0, 1.0 - (time.monotonic() - p0)))
    for s, _, _ in socks:
        s.close()
    med = lambda v: round(sorted(v)[len(v) // 2], 1) if v else None
    good = [d for ok, d in probes if ok]
    print(json.dumps({
        "head_conns": a.conns, "body_conns": a.bodies, "connect_failed": refused, "seconds": a.seconds,
        "heads_closed_by_server": len(closed["head"]), "heads_closed_median_s": med(closed["head"]),
        "bodies_closed_by_server": len(closed["body"]), "bodies_closed_median_s": med(closed["body"]),
        "answers": answers, "still_open_at_end": len(socks),
        "probes": len(probes), "probes_ok": len(good), "probes_from": a.probe_from or "flood address",
        "probe_max_ms": round(max(good) * 1000, 1) if good else None}))


def oversize(a):
    size = a.mib << 20
    chunk = b"x" * (1 << 20)
    out = {"mib": a.mib}
    for mode in ("length", "chunked"):
        u = urllib.parse.urlsplit(a.url)
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
        h = {"X-API-Key": a.key} if a.key else {}
        if mode == "length":
            h["Content-Length"] = str(size)
        else:
            h["Transfer-Encoding"] = "chunked"
        c.putrequest("POST", "/api/v1/observations?format=passivedns")
        for k, v in h.items():
            c.putheader(k, v)
        c.endheaders()
        sent = 0
        try:
            while sent < size:
                if mode == "length":
                    c.send(chunk)
                else:
                    c.send(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
                sent += len(chunk)
            if mode == "chunked":
                c.send(b"0\r\n\r\n")
        except OSError:
            pass  # the server answered and closed before the whole body was sent
        try:
            r = c.getresponse()
            out[mode] = {"status": r.status, "sent_mib": sent >> 20}
        except (OSError, http.client.HTTPException) as e:
            out[mode] = {"status": None, "error": str(e), "sent_mib": sent >> 20}
        c.close()
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("gen-rrset"); p.add_argument("out"); p.add_argument("--records", type=int, default=4000)
    p.add_argument("--responses", type=int, default=13)
    p = sub.add_parser("gen-tcp"); p.add_argument("out"); p.add_argument("--flows", type=int, default=20000)
    p.add_argument("--bytes", type=int, default=30000)
    for name in ("ingest", "rrset-http", "slowloris", "oversize"):
        p = sub.add_parser(name); p.add_argument("url"); p.add_argument("--key")
        if name == "ingest":
            p.add_argument("--names", type=int, default=2_000_000); p.add_argument("--batch", type=int, default=100_000)
        if name == "rrset-http":
            p.add_argument("--records", type=int, default=50_000)
        if name == "slowloris":
            p.add_argument("--conns", type=int, default=2000); p.add_argument("--bodies", type=int, default=200)
            p.add_argument("--seconds", type=int, default=45); p.add_argument("--probe-from", default="127.0.0.2")
        if name == "oversize":
            p.add_argument("--mib", type=int, default=65)
    a = ap.parse_args()
    {"gen-rrset": gen_rrset, "gen-tcp": gen_tcp, "ingest": ingest, "rrset-http": rrset_http,
     "slowloris": slowloris, "oversize": oversize}[a.cmd](a)


if __name__ == "__main__":
    main()
