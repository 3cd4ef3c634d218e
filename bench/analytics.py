#!/usr/bin/env python3
"""Latency of the graph analyses against a running `dnsledger serve`.

Usage: analytics.py URL META_JSON [NQ] [HOPS]

- cluster: NQ expansions (`/api/v1/analytics/cluster?seed=S&hops=HOPS`), seeds alternating
  between the generator's sampled names and addresses, sequential over one keep-alive
  HTTP/1.1 connection after 5 warm-ups; prints p50/p90/p99 in ms and the median graph size.
- detect: one whole-store pass (`/api/v1/analytics/detect?since=...`), wall time.
Prints one JSON object.
"""
import http.client
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
        raise SystemExit(f"{path}: HTTP {r.status}: {body[:300]!r}")
    return json.loads(body)


def main():
    url, meta_path = sys.argv[1], sys.argv[2]
    nq = int(sys.argv[3]) if len(sys.argv) > 3 else 200
    hops = int(sys.argv[4]) if len(sys.argv) > 4 else 2
    meta = json.load(open(meta_path))
    names = [n.rstrip(".") for n in meta["query_rrnames"]]
    ips = list(meta.get("query_rdata_ips") or [])
    seeds = []
    for i in range(nq + 5):
        pool = ips if (i % 2 and ips) else names
        seeds.append(pool[(i // 2) % len(pool)])
    u = urllib.parse.urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=600)
    lat, nodes, edges, limited = [], [], [], 0
    for i, s in enumerate(seeds):
        q = urllib.parse.urlencode({"seed": s, "hops": hops, "limit": 10})
        t = time.perf_counter()
        r = get(conn, f"/api/v1/analytics/cluster?{q}")
        dt = (time.perf_counter() - t) * 1000
        if i < 5:
            continue
        lat.append(dt)
        nodes.append(len(r["nodes"]))
        edges.append(len(r["edges"]))
        limited += bool(r["limited"])
    since = meta["args"]["start"]
    t = time.perf_counter()
    d = get(conn, f"/api/v1/analytics/detect?since={since}&limit=10")
    detect_s = time.perf_counter() - t
    print(json.dumps({
        "cluster": {
            "queries": len(lat), "hops": hops,
            "p50_ms": round(pct(lat, 50), 1), "p90_ms": round(pct(lat, 90), 1), "p99_ms": round(pct(lat, 99), 1),
            "median_nodes": statistics.median(nodes), "median_edges": statistics.median(edges),
            "max_nodes": max(nodes), "limited": limited,
        },
        "detect": {"seconds": round(detect_s, 2), "records": d["scanned"], "domains": d["domains"],
                   "counts": d["counts"]},
    }))


main()
