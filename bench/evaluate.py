#!/usr/bin/env python3
"""Scores dnsledger's clustering and ATT&CK detections against the ground truth of bench/world.py.

Usage: evaluate.py BIN WORLD_DIR DATA_DIR

1. Clustering: `analyze cluster` seeded with every domain labelled malicious in labels.txt,
   2 hops, the world's infra.txt and labels.txt, over the evaluation window, no node cap.
   Every registered domain not labelled is scored (0 when the graph did not reach it); the
   threshold is swept to report the true-positive rate at 0.1% and 0.5% false-positive rate,
   over all malicious domains and over the held-out families alone (no label of theirs given).
   Name-server domains of families count as malicious. Shadowed and hijacked domains (honest
   domains an adversary used) are neither: they are left out and their mean score reported.
2. Detections: `analyze detect` over the window; precision and recall per kind against the
   truth (new-domain: malicious domains first seen in the window; shadowing: shadowed domains;
   delegation-change: hijacked zones; dangling-cname: dangling aliases).
Prints one JSON object.
"""
import json
import os
import subprocess
import sys
import time


def run(bin_, args):
    t = time.perf_counter()
    out = subprocess.run([bin_] + args, capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"{args[:6]}: {out.stderr[-2000:]}")
    return json.loads(out.stdout), time.perf_counter() - t


def tpr_at(pos, neg, fpr):
    """Highest TPR with FPR <= fpr, thresholds at the scores seen (score > t counts as flagged)."""
    neg_sorted = sorted(neg, reverse=True)
    allowed = int(fpr * len(neg))  # false positives allowed
    # threshold: the (allowed+1)-th highest negative score; flag strictly above it
    t = neg_sorted[allowed] if allowed < len(neg_sorted) else -1.0
    tp = sum(1 for s in pos if s > t)
    fp = sum(1 for s in neg if s > t)
    return {"tpr": round(tp / len(pos), 4) if pos else None, "fpr": round(fp / len(neg), 5) if neg else None,
            "threshold": t}


def main():
    bin_, world, data = sys.argv[1], sys.argv[2], sys.argv[3]
    truth = json.load(open(os.path.join(world, "truth.json")))
    labels = os.path.join(world, "labels.txt")
    infra = os.path.join(world, "infra.txt")
    seeds, labelled = [], set()
    for line in open(labels):
        line = line.split("#")[0].strip()
        if not line:
            continue
        parts = line.split()
        labelled.add(parts[0])
        if len(parts) == 1:  # the malicious:train header applies
            seeds.append(parts[0])
    w0, w1 = truth["window"]
    fam = {f["id"]: f for f in truth["families"]}

    report, secs = run(bin_, ["analyze", "--data-dir", data, "--json", "--limit", "0", "cluster", *seeds,
                              "--labels", labels, "--infra", infra, "--hops", "2", "--max-nodes", "1000000",
                              "--from", str(w0), "--to", str(w1)])
    score = {n["value"]: n["score"] for n in report["nodes"] if n["kind"] == "domain"}
    pos, neg, held, victims = [], [], [], []
    compromised = set(truth["shadowed"]) | set(truth["hijacked"])
    for d, info in truth["domains"].items():
        if d in labelled:
            continue
        if d in compromised:  # honest domains an adversary used: neither class
            victims.append(score.get(d, 0.0))
            continue
        s = score.get(d, 0.0)
        if info["class"] == "malicious":
            pos.append(s)
            if fam[info["family"]]["held_out"]:
                held.append(s)
        else:
            neg.append(s)
    clustering = {
        "seeds": len(seeds), "nodes": len(report["nodes"]), "edges": len(report["edges"]),
        "clusters": len(report["clusters"]), "modularity": report["modularity"],
        "elapsed_ms": report["elapsed_ms"], "wall_s": round(secs, 2), "records_read": report["scanned"],
        "scored_malicious": len(pos), "scored_benign": len(neg), "held_out_malicious": len(held),
        "all": {"at_0.1%": tpr_at(pos, neg, 0.001), "at_0.5%": tpr_at(pos, neg, 0.005)},
        "held_out_families": {"at_0.1%": tpr_at(held, neg, 0.001), "at_0.5%": tpr_at(held, neg, 0.005)},
        "reached_malicious": sum(1 for s in pos if s > 0), "reached_benign": sum(1 for s in neg if s > 0),
        "compromised_victims": len(victims),
        "compromised_mean_score": round(sum(victims) / len(victims), 4) if victims else None,
    }

    det, dsecs = run(bin_, ["analyze", "--data-dir", data, "--json", "--limit", "0", "detect", "--since", str(w0),
                            "--until", str(w1), "--infra", infra])
    got = {}
    for d in det["detections"]:
        got.setdefault(d["kind"], set()).add(d["names"][0].rstrip(".") if d["kind"] == "dangling-cname" else d["domain"])
    new_mal = {d for d, i in truth["domains"].items() if i["class"] == "malicious" and w0 <= 1704067200 + i["first_day"] * 86400 <= w1}
    want = {
        "new-domain": new_mal,
        "shadowing": set(truth["shadowed"]),
        "delegation-change": set(truth["hijacked"]),
        "dangling-cname": set(truth["dangling"]),
    }
    detections = {"wall_s": round(dsecs, 2), "records_read": det["scanned"]}
    for kind, truth_set in want.items():
        g = got.get(kind, set())
        tp = len(g & truth_set)
        detections[kind] = {
            "reported": len(g), "true": len(truth_set), "tp": tp,
            "precision": round(tp / len(g), 4) if g else None,
            "recall": round(tp / len(truth_set), 4) if truth_set else None,
        }
    migrations = set(truth["migrations"])
    detections["delegation-change"]["benign_migrations_flagged"] = len(got.get("delegation-change", set()) & migrations)
    print(json.dumps({"clustering": clustering, "detections": detections}, indent=1))


main()
