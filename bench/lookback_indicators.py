#!/usr/bin/env python3
"""Draws a lookback batch from a gamelinux/passivedns corpus (gen_observations.py output).

Usage: lookback_indicators.py CORPUS COUNT HIT_SHARE [SEED] > indicators.txt

HIT_SHARE of the indicators come from the data: owner names (exact), `*.zone` wildcards of
their parent zones, and the addresses they resolved to; the rest are random names (random
letters under common TLDs), random IPv4/IPv6 addresses and random /24 prefixes, which are
almost all absent from the store. A few are written defanged (`[.]`) as feeds do. Seeded,
standard library only; writes the batch to stdout, the mix to stderr.
"""
import random
import string
import sys


def main():
    corpus, count, share = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 7
    rng = random.Random(seed)
    want = int(count * share)
    # reservoir samples of owner names and addresses
    names, addrs = [], []
    seen = 0
    with open(corpus, encoding="utf-8", errors="replace") as f:
        for line in f:
            p = line.split("||")
            if len(p) < 7:
                continue
            seen += 1
            name, rtype, answer = p[4], p[5], p[6]
            for pool, value in ((names, name), (addrs, answer if rtype in ("A", "AAAA") else None)):
                if value is None:
                    continue
                if len(pool) < want:
                    pool.append(value)
                else:
                    j = rng.randrange(seen)
                    if j < want:
                        pool[j] = value
    out = []
    kinds = {"name": 0, "wildcard": 0, "address": 0, "random-name": 0, "random-ip": 0, "random-cidr": 0}
    for _ in range(want):
        r = rng.random()
        if r < 0.6 and names:
            out.append(rng.choice(names).rstrip("."))
            kinds["name"] += 1
        elif r < 0.7 and names:
            labels = rng.choice(names).rstrip(".").split(".")
            out.append("*." + ".".join(labels[1:]) if len(labels) > 2 else ".".join(labels))
            kinds["wildcard"] += 1
        elif addrs:
            out.append(rng.choice(addrs))
            kinds["address"] += 1
    tlds = ["com", "net", "org", "de", "io", "info", "ru", "nl"]
    while len(out) < count:
        r = rng.random()
        if r < 0.5:
            label = "".join(rng.choice(string.ascii_lowercase + string.digits) for _ in range(rng.randint(6, 14)))
            host = rng.choice(["", "www.", "login.", "cdn."])
            out.append(f"{host}{label}.{rng.choice(tlds)}")
            kinds["random-name"] += 1
        elif r < 0.85:
            out.append("%d.%d.%d.%d" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255), rng.randint(1, 254)))
            kinds["random-ip"] += 1
        elif r < 0.95:
            out.append("2001:db8:%x:%x::%x" % (rng.randint(0, 0xFFFF), rng.randint(0, 0xFFFF), rng.randint(1, 0xFFFF)))
            kinds["random-ip"] += 1
        else:
            out.append("%d.%d.%d.0/24" % (rng.randint(1, 223), rng.randint(0, 255), rng.randint(0, 255)))
            kinds["random-cidr"] += 1
    rng.shuffle(out)
    w = sys.stdout.write
    w("# lookback benchmark batch (bench/lookback_indicators.py)\n")
    for i, v in enumerate(out):
        w((v.replace(".", "[.]", 1) if i % 20 == 0 else v) + "\n")
    print(f"{len(out)} indicators: {kinds}", file=sys.stderr)


if __name__ == "__main__":
    main()
