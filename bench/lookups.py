#!/usr/bin/env python3
"""Lookup latency and correctness against a running `dnsledger serve`.

Usage: lookups.py URL OBS_FILE META_JSON [NQ]
       lookups.py --balboa GRAPHQL_URL META_JSON NQ     (the latency part, against balboa)

- latency: NQ exact-name and NQ address lookups (the generator's sampled names and IPs), sequential
  over one keep-alive HTTP/1.1 connection after 50 warm-ups, the same method
  ../shared/tools/bench_balboa.sh uses for balboa; prints p50/p90/p99 in ms.
- correctness: for 200 sampled names, recomputes first/last/count per (rrname, rrtype, rdata) from the
  passivedns input file independently and compares with what the server returns.
Prints one JSON object.
"""
import http.client
import ipaddress
import socket
import json
import statistics
import sys
import time
import urllib.parse


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        raise RuntimeError("HTTP %d for %s: %r" % (r.status, path, body[:200]))
    return json.loads(body)


class RawClient:
    """Minimal keep-alive HTTP/1.1 client (Content-Length bodies only): measures the server with
    less client overhead than http.client, whose header parsing costs ~0.1-0.2 ms per request."""

    def __init__(self, host, port):
        self.s = socket.create_connection((host, port))
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def get(self, path, body=None):
        if body is None:
            self.s.sendall(b"GET " + path.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        else:
            self.s.sendall(b"POST " + path.encode() + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           b"Content-Length: %d\r\n\r\n" % len(body) + body)
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(65536)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        n, chunked = None, False
        for line in head.split(b"\r\n")[1:]:
            k, _, v = line.partition(b":")
            k, v = k.strip().lower(), v.strip().lower()
            if k == b"content-length":
                n = int(v)
            elif k == b"transfer-encoding" and v == b"chunked":
                chunked = True
        if not head.startswith(b"HTTP/1.1 200"):
            raise RuntimeError("unexpected response %r" % head[:100])
        if not chunked:
            return self._take(n or 0)
        body = b""
        while True:
            while b"\r\n" not in self.buf:
                self.buf += self.s.recv(65536)
            size, self.buf = self.buf.split(b"\r\n", 1)
            size = int(size.split(b";")[0], 16)
            body += self._take(size + 2)[:size]
            if size == 0:
                return body

    def _take(self, n):
        while len(self.buf) < n:
            self.buf += self.s.recv(65536)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def norm_rdata(rrtype, rd):
    if rrtype in ("A", "AAAA"):
        return str(ipaddress.ip_address(rd))
    return rd.lower()


def balboa(url, meta_path, nq):
    """The same two latency measurements against balboa's GraphQL endpoint."""
    u = urllib.parse.urlparse(url)
    meta = json.load(open(meta_path))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    raw = RawClient(u.hostname, u.port)
    res = {}
    for kind, vals, q in (("name", meta["query_rrnames"][:nq], 'entries(rrname: "%s")'),
                          ("ip", meta["query_rdata_ips"][:nq], 'entries(rdata: "%s")')):
        body = lambda v: json.dumps({"query": "{ %s { rrname rrtype rdata time_first time_last count } }" % (q % v)})
        for v in vals[:50]:
            conn.request("POST", "/query", body=body(v), headers={"Content-Type": "application/json"})
            conn.getresponse().read()
        lat = []
        for v in vals:
            t = time.perf_counter()
            conn.request("POST", "/query", body=body(v), headers={"Content-Type": "application/json"})
            r = conn.getresponse()
            r.read()
            lat.append((time.perf_counter() - t) * 1000)
        res["%s_p50_ms" % kind] = round(statistics.median(lat), 3)
        res["%s_p99_ms" % kind] = round(pct(lat, 99), 3)
        lat = []
        for v in vals:
            t = time.perf_counter()
            raw.get("/query", body(v).encode())
            lat.append((time.perf_counter() - t) * 1000)
        res["%s_raw_p50_ms" % kind] = round(statistics.median(lat), 3)
        res["%s_raw_p99_ms" % kind] = round(pct(lat, 99), 3)
    print(json.dumps(res))


def main():
    if sys.argv[1] == "--balboa":
        return balboa(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    url, obs_path, meta_path = sys.argv[1:4]
    nq = int(sys.argv[4]) if len(sys.argv) > 4 else 1000
    u = urllib.parse.urlparse(url)
    meta = json.load(open(meta_path))
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
    res = {}
    kinds = (("name", meta["query_rrnames"][:nq], "/api/v1/lookup/rrset/name/%s"),
             ("ip", meta["query_rdata_ips"][:nq], "/api/v1/lookup/rdata/ip/%s"))
    for kind, vals, tmpl in kinds:
        for v in vals[:50]:
            get(conn, tmpl % urllib.parse.quote(v, safe=""))
        lat, rows = [], []
        for v in vals:
            t = time.perf_counter()
            doc = get(conn, tmpl % urllib.parse.quote(v, safe=""))
            lat.append((time.perf_counter() - t) * 1000)
            rows.append(len(doc["records"]))
        res["%s_p50_ms" % kind] = round(statistics.median(lat), 3)
        res["%s_p90_ms" % kind] = round(pct(lat, 90), 3)
        res["%s_p99_ms" % kind] = round(pct(lat, 99), 3)
        res["%s_rows_mean" % kind] = round(sum(rows) / len(rows), 2)
        res["%s_empty" % kind] = sum(1 for r in rows if r == 0)
        raw = RawClient(u.hostname, u.port)
        lat = []
        for v in vals:
            t = time.perf_counter()
            raw.get(tmpl % urllib.parse.quote(v, safe=""))
            lat.append((time.perf_counter() - t) * 1000)
        res["%s_raw_p50_ms" % kind] = round(statistics.median(lat), 3)
        res["%s_raw_p99_ms" % kind] = round(pct(lat, 99), 3)
    # correctness: independent recomputation from the input file
    names = set(meta["query_rrnames"][:200])
    exp = {}
    with open(obs_path) as f:
        for line in f:
            p = line.rstrip("\n").split("||")
            if len(p) != 9:
                continue
            name = p[4].rstrip(".").lower()
            if name not in names:
                continue
            ts = int(p[0].split(".")[0])
            k = (name, p[5], norm_rdata(p[5], p[6]))
            c, lo, hi = exp.get(k, (0, ts, ts))
            exp[k] = (c + int(p[8]), min(lo, ts), max(hi, ts))
    got = {}
    for name in names:
        doc = get(conn, "/api/v1/lookup/rrset/name/%s?limit=0" % urllib.parse.quote(name, safe=""))
        for r in doc["records"]:
            for rd in r["rdata"]:
                k = (r["rrname"].rstrip("."), r["rrtype"], norm_rdata(r["rrtype"], rd))
                c, lo, hi = got.get(k, (0, r["time_first"], r["time_last"]))
                got[k] = (c + r["count"], min(lo, r["time_first"]), max(hi, r["time_last"]))
    mismatches = [k for k in exp if exp[k] != got.get(k)] + [k for k in got if k not in exp]
    res["check_names"] = len(names)
    res["check_tuples"] = len(exp)
    res["check_mismatches"] = len(mismatches)
    if mismatches:
        res["check_examples"] = [[list(k), exp.get(k), got.get(k)] for k in mismatches[:5]]
    print(json.dumps(res))


if __name__ == "__main__":
    main()
