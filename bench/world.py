#!/usr/bin/env python3
"""A synthetic DNS world with ground truth, for evaluating dnsledger's clustering and detections.

Usage: world.py OUTDIR [--seed 7] [--benign 20000] [--families 30]

Writes into OUTDIR:
  observations.log   passivedns (gamelinux `||`) lines, 180 days from 2024-01-01
  truth.json         every registered domain's class (benign/malicious), family and hosting;
                     the shadowed domains, hijacked zones, dangling aliases and benign provider
                     migrations; the evaluation window; which families are held out
  labels.txt         what an analyst starts from: 30% of the domains of the training families
                     (malicious:train) and 10% of the established benign domains (benign:toplist)
  infra.txt          the CDN and cloud address ranges and the parking name servers, as a user
                     would list them from the providers' published ranges

Everything is generated here from a seed; no list is downloaded or copied. The benign side
follows how sites are hosted: behind CDNs (CNAME into the CDN's edge names, edge addresses
shared by thousands of sites), on clouds (an address or two per site), on shared hosting (a
hundred sites per address, the hoster's name servers), on dedicated addresses, and parked;
name servers at a handful of large DNS providers; some sites retire, some move DNS provider,
some are new in the window. The malicious side follows published campaign behaviour:
families of generated-looking or keyword names registered in bursts, short-lived, on a
bulletproof hoster's few addresses (hosters serve several families), on the family's own
name servers or the hoster's, some fast-flux over botnet addresses with short TTLs, some
hiding a few domains behind a CDN; some families shadow compromised established domains
(random subdomains pointing at their server) and some hijack delegations of established
domains for a few days. Benign misconfiguration gives dangling CNAMEs (a storage-bucket target
deleted while the alias stays), with decoys where both end together.
"""
import argparse
import json
import os
import random

DAY = 86400
T0 = 1_704_067_200  # 2024-01-01T00:00:00Z
END = 180
WINDOW = (150, 179)

WORDS = ("blue river tech soft data cloud green shop media star home city art food travel health auto smart "
         "pro net web land sun moon tree rock fast bright clear north south east west gold silver prime "
         "nova core peak wave stone bridge garden market studio lab works hub point line craft field "
         "ocean forest mountain valley harbor metro urban rural fresh pure bold happy lucky royal").split()
TLDS = ["com"] * 10 + ["net"] * 3 + ["org"] * 3 + ["de", "fr", "co.uk", "nl", "io", "info", "it", "es"]
KEYWORDS = "login secure update verify account support service online mail bank pay auth portal".split()
CONS = "bcdfghjklmnpqrstvwxz"
VOW = "aeiou"


class World:
    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.lines = []
        self.used = set()
        self.truth = {"domains": {}, "shadowed": {}, "hijacked": {}, "dangling": [], "dangling_decoys": [],
                      "migrations": [], "window": [T0 + WINDOW[0] * DAY, T0 + WINDOW[1] * DAY + DAY - 1]}

    # -- observations -------------------------------------------------------------------------
    def emit(self, name, rtype, rdata, first, last, ttl=300, extra=3):
        """Sightings of one record on its first and last day and a few days between."""
        r = self.rng
        days = {first, last}
        if last > first + 1:
            days.update(r.randint(first, last) for _ in range(extra))
        for d in sorted(days):
            ts = T0 + d * DAY + r.randrange(DAY)
            self.lines.append((ts, f"{ts}.000000||10.0.0.1||10.0.0.53||IN||{name}.||{rtype}||{rdata}||{ttl}||1"))

    def a(self, name, ip, first, last, ttl=300, extra=3):
        self.emit(name, "AAAA" if ":" in ip else "A", ip, first, last, ttl, extra)

    # -- names and addresses ------------------------------------------------------------------
    def fresh(self, make):
        for _ in range(1000):
            d = make()
            if d not in self.used:
                self.used.add(d)
                return d
        raise SystemExit("name space exhausted")

    def benign_name(self):
        r = self.rng
        return self.fresh(lambda: "".join(r.sample(WORDS, r.choice((2, 2, 3)))) + r.choice(("", "", "", "hq", "24", "online"))
                          + "." + r.choice(TLDS))

    def mal_name(self, style):
        r = self.rng
        tld = r.choice(("com", "net", "info", "biz", "top", "xyz", "ru", "cc"))
        if style == "random":
            make = lambda: "".join(r.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(r.randint(12, 20))) + "." + tld
        elif style == "hex":
            make = lambda: "".join(r.choice("0123456789abcdef") for _ in range(16)) + "." + tld
        elif style == "pseudo":
            make = lambda: "".join(r.choice(CONS) + r.choice(VOW) for _ in range(r.randint(4, 6))) + "." + tld
        elif style == "dictionary":
            make = lambda: r.choice(WORDS) + r.choice(WORDS) + "." + tld
        else:  # keyword phishing
            make = lambda: f"{r.choice(KEYWORDS)}-{r.choice(WORDS)}{r.choice(('', '-' + r.choice(KEYWORDS)))}.{tld}"
        return self.fresh(make)

    def ip_in(self, prefix16, i=None):
        r = self.rng
        n = r.randrange(65536) if i is None else i
        return f"{prefix16}.{n // 256}.{n % 256}"

    def random_ip(self):
        r = self.rng
        return f"{r.randint(11, 223)}.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}"


def build(w, n_benign, n_families):
    r = w.rng
    # providers ----------------------------------------------------------------------------
    cdns = [{"name": f"cdnprov{i}.net", "prefix": f"{23 + i}.{40 + i}", "edges": 400} for i in range(4)]
    clouds = [{"prefix": f"{52 + i}.{10 + i}"} for i in range(3)]
    hosters = [{"ns": f"ns1.hoster{i}.net", "ips": [w.random_ip() for _ in range(4)]} for i in range(60)]
    dnsprov = [f"dnsprov{i}.net" for i in range(10)]
    parking = {"ns": ["ns1.parkingco1.com", "ns2.parkingco1.com"], "ips": [w.random_ip() for _ in range(3)]}
    bph = [{"prefix": f"{185 + i // 4}.{100 + i}", "ns": f"ns1.bphost{i}.{r.choice(('ru', 'su', 'cc'))}"}
           for i in range(8)]
    w.infra = ["# kind: cdn:lab"] + [f"{c['prefix']}.0.0/16" for c in cdns]
    w.infra += ["# cloud provider ranges"] + [f"{c['prefix']}.0.0/16 cloud:lab" for c in clouds]
    w.infra += ["# parking name servers"] + [f"{n} parking:lab" for n in parking["ns"]]

    benign = []
    for _ in range(n_benign):
        d = w.benign_name()
        new = r.random() < 0.05
        start = r.randint(*WINDOW) if new else r.randint(0, 100)
        end = END if r.random() > 0.03 else r.randint(start, END)
        cat = r.choices(["cdn", "cloud", "shared", "dedicated", "parked"], [28, 20, 30, 20, 2])[0]
        info = {"class": "benign", "hosting": cat, "new": new, "first_day": start}
        w.truth["domains"][d] = info
        names = [d, "www." + d] + (["mail." + d] if r.random() < 0.5 else []) + \
                ([r.choice(("api", "blog", "shop", "cdn", "static")) + "." + d] if r.random() < 0.3 else [])
        ns_prov = r.choice(dnsprov)
        ns = [f"ns1.{ns_prov}", f"ns2.{ns_prov}"]
        if cat == "cdn":
            c = r.choice(cdns)
            e = r.randrange(c["edges"])
            edge = f"{d.split('.')[0]}.edge{e}.{c['name']}"
            ips = [w.ip_in(c["prefix"], e * 2), w.ip_in(c["prefix"], e * 2 + 1)]
            for n in names[1:]:
                w.emit(n, "CNAME", edge + ".", start, end)
            for ip in ips:
                w.a(edge, ip, start, end)
                w.a(d, ip, start, end)
            if r.random() < 0.5:
                ns = [f"ns.{c['name']}"]
        elif cat == "cloud":
            c = r.choice(clouds)
            ip = w.ip_in(c["prefix"])
            for n in names:
                w.a(n, ip, start, end)
        elif cat == "shared":
            h = r.choice(hosters)
            ip = r.choice(h["ips"])
            for n in names:
                w.a(n, ip, start, end)
            ns = [h["ns"]]
        elif cat == "dedicated":
            ip = w.random_ip()
            for n in names:
                w.a(n, ip, start, end)
        else:
            for ip in parking["ips"][:2]:
                w.a(d, ip, start, end)
            ns = parking["ns"]
        info["ns"] = ns
        # a provider migration in the window (a benign delegation change)
        if not new and end == END and r.random() < 0.02 and cat in ("dedicated", "cloud"):
            day = r.randint(WINDOW[0] + 2, WINDOW[1] - 2)
            other = r.choice([p for p in dnsprov if p != ns_prov])
            for n in ns:
                w.emit(d, "NS", n + ".", start, day - 1)
            for n in (f"ns1.{other}", f"ns2.{other}"):
                w.emit(d, "NS", n + ".", day, END)
            w.truth["migrations"].append(d)
        else:
            for n in ns:
                w.emit(d, "NS", n + ".", start, end)
        # dangling storage aliases, and decoys that end together or stay alive
        if not new and end == END and r.random() < 0.02:
            bucket = f"{d.split('.')[0]}-assets.cloudstore{r.randrange(3)}.net"
            kind = r.choice(("dangling", "dangling", "both-end", "alive"))
            alias = "assets." + d
            bucket_end = r.randint(110, 130) if kind == "dangling" else (r.randint(110, 130) if kind == "both-end" else END)
            alias_end = END if kind != "both-end" else bucket_end
            w.emit(alias, "CNAME", bucket + ".", start, alias_end)
            w.a(bucket, w.ip_in(clouds[0]["prefix"]), start, bucket_end)
            (w.truth["dangling"] if kind == "dangling" else w.truth["dangling_decoys"]).append(alias)
        benign.append(d)

    established = [d for d in benign if not w.truth["domains"][d]["new"] and w.truth["domains"][d]["first_day"] < 50]
    families = []
    for f in range(n_families):
        style = r.choice(("random", "hex", "pseudo", "dictionary", "keyword"))
        host = r.choice(bph)
        fam = {"id": f, "style": style, "bph": host["prefix"], "held_out": f % 3 == 0,
               "fast_flux": r.random() < 0.2, "short_lived": r.random() < 0.7,
               "own_ns": r.random() < 0.6, "domains": []}
        ips = [w.ip_in(host["prefix"], r.randrange(512)) for _ in range(r.randint(2, 6))]
        ns_dom = w.mal_name("pseudo") if fam["own_ns"] else None
        ns = [f"ns1.{ns_dom}", f"ns2.{ns_dom}"] if ns_dom else [host["ns"]]
        if ns_dom:
            w.truth["domains"][ns_dom] = {"class": "malicious", "family": f, "role": "name servers", "new": True,
                                          "first_day": WINDOW[0]}
            for n in ns:
                w.a(n, ips[0], WINDOW[0], END)
        botnet = [w.random_ip() for _ in range(300)] if fam["fast_flux"] else []
        burst = r.randint(WINDOW[0], WINDOW[1] - 6)
        for _ in range(r.randint(10, 60)):
            d = w.mal_name(style)
            start = burst + r.randint(0, 5)
            end = min(END, start + r.randint(1, 5)) if fam["short_lived"] else END
            w.truth["domains"][d] = {"class": "malicious", "family": f, "new": True, "first_day": start}
            fam["domains"].append(d)
            names = [d, "www." + d] + ([r.choice(KEYWORDS) + "." + d] if r.random() < 0.4 else [])
            if fam["fast_flux"]:
                for n in names:
                    for day in range(start, end + 1):
                        for ip in r.sample(botnet, 4):
                            w.a(n, ip, day, day, ttl=60, extra=0)
            elif r.random() < 0.08:
                c = r.choice(cdns)
                e = r.randrange(c["edges"])
                edge = f"{d.split('.')[0]}.edge{e}.{c['name']}"
                for n in names:
                    w.emit(n, "CNAME", edge + ".", start, end)
                w.a(edge, w.ip_in(c["prefix"], e * 2), start, end)
            else:
                mine = r.sample(ips, min(len(ips), r.randint(1, 3)))
                for n in names:
                    for ip in mine:
                        w.a(n, ip, start, end)
            for n in ns:
                w.emit(d, "NS", n + ".", start, end)
        # shadowing: random subdomains of compromised established domains
        if r.random() < 0.25:
            for victim in r.sample(established, r.randint(5, 15)):
                subs = []
                for _ in range(r.randint(1, 3)):
                    sub = "".join(r.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(r.randint(8, 16)))
                    name = f"{sub}.{victim}"
                    day = r.randint(WINDOW[0], WINDOW[1] - 3)
                    w.a(name, r.choice(ips), day, day + r.randint(0, 2))
                    subs.append(name)
                w.truth["shadowed"].setdefault(victim, []).extend(subs)
            fam["shadowing"] = True
        # delegation hijack of established domains for a few days
        if r.random() < 0.15:
            for victim in r.sample(established, r.randint(1, 3)):
                day = r.randint(WINDOW[0], WINDOW[1] - 4)
                for n in ns:
                    w.emit(victim, "NS", n + ".", day, day + r.randint(1, 3))
                w.truth["hijacked"][victim] = f
            fam["hijack"] = True
        families.append(fam)
    w.truth["families"] = families

    # labels: 30% of the training families' domains, 10% of established benign domains
    labels = ["# kind: malicious:train"]
    for fam in families:
        if not fam["held_out"]:
            ds = fam["domains"]
            labels += sorted(r.sample(ds, max(1, int(len(ds) * 0.3))))
    labels += ["# benign allow list"] + [f"{d} benign:toplist" for d in sorted(r.sample(established, len(established) // 10))]
    w.labels = labels


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--benign", type=int, default=20000)
    ap.add_argument("--families", type=int, default=30)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    w = World(a.seed)
    build(w, a.benign, a.families)
    w.lines.sort()
    with open(os.path.join(a.out, "observations.log"), "w") as f:
        for _, line in w.lines:
            f.write(line + "\n")
    with open(os.path.join(a.out, "truth.json"), "w") as f:
        json.dump(w.truth, f, indent=1, sort_keys=True)
    with open(os.path.join(a.out, "labels.txt"), "w") as f:
        f.write("\n".join(w.labels) + "\n")
    with open(os.path.join(a.out, "infra.txt"), "w") as f:
        f.write("\n".join(w.infra) + "\n")
    mal = sum(1 for d in w.truth["domains"].values() if d["class"] == "malicious")
    print(json.dumps({"observations": len(w.lines), "domains": len(w.truth["domains"]), "malicious": mal,
                      "families": len(w.truth["families"]), "shadowed": len(w.truth["shadowed"]),
                      "hijacked": len(w.truth["hijacked"]), "dangling": len(w.truth["dangling"]),
                      "migrations": len(w.truth["migrations"])}))


main()
