#!/usr/bin/env python3
"""Writes crates/cli/data/demo.ndjson: the small sample `dnsledger serve --demo` loads.

Deterministic (seed 7). Only reserved names (.example, .test, example.com/net/org) and
documentation addresses (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) are used.
The data tells a few stories an analyst can explore:
  - www.example.com moves hosting in mid-2024 (A and AAAA change, a CDN CNAME appears);
  - flux.malware.test is fast-flux: many short-TTL A records across 203.0.113.0/24;
  - 203.0.113.66 hosts a cluster of look-alike phishing names;
  - victim.example has its delegation changed to attacker name servers (ATT&CK T1584.002);
  - dormant.example is silent for months, then returns on new infrastructure.
Usage: scripts/gen-demo-data.py [OUT]
"""
import json
import random
import sys

rng = random.Random(7)
DAY = 86400
T0 = 1704067200  # 2024-01-01
out = []


def obs(rrname, rrtype, rdata, first, last, count, ttl=300, bailiwick=None, sensor=None):
    rec = {"rrname": rrname, "rrtype": rrtype, "rdata": rdata if isinstance(rdata, list) else [rdata],
           "time_first": first, "time_last": last, "count": count, "ttl": ttl}
    if bailiwick:
        rec["bailiwick"] = bailiwick
    rec["sensor"] = sensor or rng.choice(["sensor-fra", "sensor-nyc"])
    out.append(rec)


def daily(rrname, rrtype, rdata, start_day, end_day, per_day=(20, 200), ttl=300, bailiwick=None, step=1):
    for d in range(start_day, end_day + 1, step):
        t = T0 + d * DAY + rng.randrange(DAY // 2)
        obs(rrname, rrtype, rdata, t, t + rng.randrange(DAY // 2), rng.randint(*per_day), ttl, bailiwick)


# www.example.com moves from 192.0.2.10 to a CDN in June
daily("www.example.com.", "A", "192.0.2.10", 0, 160, ttl=3600, bailiwick="example.com.", step=7)
daily("www.example.com.", "AAAA", "2001:db8:10::10", 0, 160, ttl=3600, bailiwick="example.com.", step=7)
daily("www.example.com.", "CNAME", "www.example.com.cdn.example.net.", 161, 365, ttl=300, bailiwick="example.com.", step=7)
daily("www.example.com.cdn.example.net.", "A", ["198.51.100.20", "198.51.100.21"], 161, 365, ttl=60,
      bailiwick="cdn.example.net.", step=7)
daily("example.com.", "NS", ["ns1.dns.example.net.", "ns2.dns.example.net."], 0, 365, ttl=86400, bailiwick="com.", step=14)
daily("example.com.", "MX", "10 mail.example.com.", 0, 365, ttl=3600, bailiwick="example.com.", step=14)
daily("mail.example.com.", "A", "192.0.2.25", 0, 365, ttl=3600, bailiwick="example.com.", step=14)
daily("example.com.", "TXT", "\"v=spf1 mx -all\"", 0, 365, ttl=3600, bailiwick="example.com.", step=30)
daily("example.com.", "SOA", "ns1.dns.example.net. hostmaster.example.com. 2024010101 7200 3600 1209600 300",
      0, 365, ttl=3600, bailiwick="example.com.", step=30)

# fast flux: one name, many addresses, 60 s TTL, a burst in March
for d in range(60, 75):
    for _ in range(rng.randint(4, 9)):
        ip = "203.0.113.%d" % rng.randint(1, 254)
        t = T0 + d * DAY + rng.randrange(DAY)
        obs("flux.malware.test.", "A", ip, t, t + rng.randrange(3600), rng.randint(1, 30), ttl=60, bailiwick="malware.test.")
daily("malware.test.", "NS", ["ns1.bulletproof.test.", "ns2.bulletproof.test."], 55, 80, ttl=3600, bailiwick="test.")

# phishing cluster on one address
for name in ["login-secure-bank.test.", "secure-login-bank.test.", "bank-verify-account.test.",
             "account-update-bank.test.", "paypa1-login.test.", "micros0ft-support.test."]:
    start = rng.randint(100, 140)
    daily(name, "A", "203.0.113.66", start, start + rng.randint(3, 20), per_day=(1, 40), ttl=300)
    daily(name, "NS", ["ns1.bulletproof.test.", "ns2.bulletproof.test."], start, start + 10, per_day=(1, 5), ttl=3600,
          bailiwick="test.", step=5)
daily("203.0.113.66.in-addr.arpa.", "PTR", "host66.cheap-vps.test.", 100, 160, per_day=(1, 3), ttl=3600, step=10)

# delegation hijack of victim.example (T1584.002)
daily("victim.example.", "NS", ["ns1.provider.example.", "ns2.provider.example."], 0, 200, ttl=86400,
      bailiwick="example.", step=10)
daily("victim.example.", "NS", ["ns1.attacker.test.", "ns2.attacker.test."], 201, 215, ttl=300, bailiwick="example.")
daily("victim.example.", "A", "192.0.2.80", 0, 200, ttl=3600, bailiwick="victim.example.", step=10)
daily("victim.example.", "A", "203.0.113.99", 201, 215, ttl=300, bailiwick="victim.example.")
daily("ns1.attacker.test.", "A", "203.0.113.53", 195, 215, ttl=300)

# dormant domain returning in November
daily("dormant.example.", "A", "192.0.2.200", 0, 30, ttl=3600, step=3)
daily("dormant.example.", "A", "198.51.100.200", 310, 330, ttl=300)
daily("dormant.example.", "MX", "0 .", 310, 330, ttl=300, step=5)

# a name server host, an SRV and a CAA for variety
daily("_sip._udp.example.com.", "SRV", "10 5 5060 sip.example.com.", 0, 365, ttl=3600, step=60)
daily("example.com.", "CAA", "0 issue \"letsencrypt.org\"", 0, 365, ttl=3600, step=60)
daily("ns1.dns.example.net.", "A", "198.51.100.53", 0, 365, ttl=86400, step=30)
daily("ns1.dns.example.net.", "AAAA", "2001:db8:53::1", 0, 365, ttl=86400, step=30)

out.sort(key=lambda r: r["time_first"])
path = sys.argv[1] if len(sys.argv) > 1 else "crates/cli/data/demo.ndjson"
with open(path, "w") as f:
    for r in out:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
print("%d observations -> %s" % (len(out), path), file=sys.stderr)
