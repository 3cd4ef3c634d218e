#!/usr/bin/env python3
"""Samples one process's CPU time and memory from /proc for a while.

    procwatch.py PID SECONDS [LABEL]

Prints one JSON object: label, seconds, cpu_s (user+system CPU spent in the window), cpu_pct
(of one core), rss_MiB (at the end), rss_max_MiB (highest of the 4-per-second samples) and
hwm_MiB (the kernel's peak RSS of the whole life so far, VmHWM)."""
import json
import os
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def cpu(pid):
    f = open(f"/proc/{pid}/stat").read()
    rest = f[f.rfind(")") + 2:].split()
    return (int(rest[11]) + int(rest[12])) / TICK  # utime, stime (fields 14, 15)


def mem(pid):
    d = {}
    for line in open(f"/proc/{pid}/status"):
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            d[k] = int(v.split()[0]) / 1024
    return d


def main():
    pid, secs = int(sys.argv[1]), float(sys.argv[2])
    label = sys.argv[3] if len(sys.argv) > 3 else str(pid)
    c0, t0 = cpu(pid), time.monotonic()
    rss_max = 0.0
    while time.monotonic() - t0 < secs:
        rss_max = max(rss_max, mem(pid)["VmRSS"])
        time.sleep(0.25)
    c1, t1 = cpu(pid), time.monotonic()
    m = mem(pid)
    rss_max = max(rss_max, m["VmRSS"])
    print(json.dumps({"label": label, "seconds": round(t1 - t0, 1), "cpu_s": round(c1 - c0, 2),
                      "cpu_pct": round(100 * (c1 - c0) / (t1 - t0), 1), "rss_MiB": round(m["VmRSS"], 1),
                      "rss_max_MiB": round(rss_max, 1), "hwm_MiB": round(m["VmHWM"], 1)}))


if __name__ == "__main__":
    main()
