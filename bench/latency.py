#!/usr/bin/env python3
"""Latency of DNSDB-API lookups against a running `dnsledger serve`, and a digest of every answer.

Usage: latency.py URL PATHS_FILE [NQ]

Sends the first NQ paths of PATHS_FILE (one request path per line) sequentially over one
keep-alive HTTP/1.1 connection, after 20 warm-ups, and prints one JSON object: p50/p90/p99 in
ms, the number of result lines, and a digest of each answer (its lines sorted, so two backends
that return the same records in any order have the same digest). bench/clickhouse.sh compares
the digests of the embedded store and ClickHouse to check that they answer alike.
"""
import hashlib
import http.client
import json
import sys
import time
import urllib.parse


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


def main():
    url, paths_file = sys.argv[1], sys.argv[2]
    nq = int(sys.argv[3]) if len(sys.argv) > 3 else 1000
    u = urllib.parse.urlparse(url)
    paths = [l.strip() for l in open(paths_file) if l.strip()][:nq]
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)

    def get(path):
        conn.request("GET", path, headers={"Accept": "application/x-ndjson"})
        r = conn.getresponse()
        body = r.read()
        if r.status not in (200, 404):
            raise SystemExit("%s: HTTP %d %s" % (path, r.status, body[:200]))
        return body

    for p in paths[:20]:
        get(p)
    lat, lines, digest = [], 0, hashlib.sha256()
    for p in paths:
        t = time.perf_counter()
        body = get(p)
        lat.append((time.perf_counter() - t) * 1000)
        # the SAF framing lines ({"cond":...}) are not records
        recs = sorted(l for l in body.split(b"\n") if l.startswith(b'{"obj"'))
        lines += len(recs)
        digest.update(p.encode() + b"\0" + b"\n".join(recs) + b"\0")
    print(json.dumps({"n": len(paths), "p50_ms": round(pct(lat, 50), 2), "p90_ms": round(pct(lat, 90), 2),
                      "p99_ms": round(pct(lat, 99), 2), "records": lines, "digest": digest.hexdigest()[:16]}))


if __name__ == "__main__":
    main()
