#!/usr/bin/env bash
# Import and lookup benchmark of the embedded store, with DCSO balboa measured in the same run.
#
# Usage: bench/import.sh [COUNT...]        (default: 1000000 10000000)
#   BALBOA=0        skip balboa (default 1: balboa ingests the same 1M-observation file)
#   NQ=1000         lookups per kind for the latency figures
#   OUT=bench/out   where corpora, stores and results go
#
# For each COUNT: generates the seed-42 passivedns (gamelinux) corpus with
# ../shared/tools/gen_observations.py, imports it with `dnsledger import` (whole process:
# wall time, CPU, peak RSS from /usr/bin/time), compacts the store and measures bytes on disk
# per distinct record, starts `dnsledger serve` on loopback and measures exact-name and address
# lookup latency over one keep-alive HTTP connection (bench/lookups.py), and checks first/last/
# count of 200 sampled names against an independent recomputation from the input file.
# balboa (Debian 2.0.0) is run by ../shared/tools/bench_balboa.sh on the 1M file (FEED=gamelinux,
# one HTTP POST) for ingest rate, RSS and disk; its lookup latency is measured again by
# bench/balboa_latency.sh with bench/lookups.py, the same clients used for dnsledger. The
# reference figures of shared/reference/peers.md (gopassivedns socket) are printed for context.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${OUT:-$ROOT/bench/out}"
NQ="${NQ:-1000}"
BALBOA="${BALBOA:-1}"
COUNTS=("$@")
[ ${#COUNTS[@]} -gt 0 ] || COUNTS=(1000000 10000000)
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh")
export ROCKSDB_LIB_DIR
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
(cd "$ROOT" && cargo build --release --locked -q)
BIN="$ROOT/target/release/dnsledger"
RESULTS="$OUT/results.jsonl"
: > "$RESULTS"

corpus() { # COUNT -> generates $OUT/obs-COUNT.txt and .meta.json if missing
  local n=$1
  if [ ! -s "$OUT/obs-$n.txt" ] || [ ! -s "$OUT/obs-$n.meta.json" ]; then
    echo "generating $n observations" >&2
    python3 "$SHARED/tools/gen_observations.py" --count "$n" --format gamelinux \
      --out "$OUT/obs-$n.txt" --meta "$OUT/obs-$n.meta.json" 2>/dev/null
  fi
}

for n in "${COUNTS[@]}"; do
  corpus "$n"
  obs="$OUT/obs-$n.txt"; meta="$OUT/obs-$n.meta.json"; db="$OUT/db-$n"
  rm -rf "$db"
  sync
  /usr/bin/time -f '%e %U %S %M' -o "$OUT/time-$n.txt" "$BIN" import "$obs" --data-dir "$db" -q
  read -r wall user sys rss_kb < "$OUT/time-$n.txt"
  "$BIN" compact --data-dir "$db" 2>/dev/null
  disk=$(du -sb "$db" | cut -f1)
  distinct=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['distinct_rrname_rrtype_rdata'])" "$meta")
  # serve on a free loopback port and measure lookups
  log="$OUT/serve-$n.log"
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$db" 2> "$log" &
  spid=$!
  url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //') || true
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "serve did not start: $(cat "$log")" >&2; kill "$spid"; exit 1; }
  lk=$(python3 "$ROOT/bench/lookups.py" "$url" "$obs" "$meta" "$NQ")
  kill -TERM "$spid"; wait "$spid" || true
  python3 - "$n" "$wall" "$user" "$sys" "$rss_kb" "$disk" "$distinct" "$lk" >> "$RESULTS" <<'PY'
import json, sys
n, wall, user, sys_, rss, disk, distinct, lk = sys.argv[1:9]
r = {"system": "dnsledger", "observations": int(n), "import_wall_s": float(wall), "cpu_s": round(float(user) + float(sys_), 2),
     "obs_per_s": round(int(n) / float(wall)), "peak_rss_MiB": round(int(rss) / 1024, 1),
     "disk_bytes": int(disk), "distinct_records": int(distinct), "bytes_per_record": round(int(disk) / int(distinct), 1)}
r.update(json.loads(lk))
print(json.dumps(r))
PY
  tail -1 "$RESULTS" >&2
done

if [ "$BALBOA" = "1" ]; then
  corpus 1000000
  rm -f "$OUT/balboa/results-gamelinux.jsonl"
  RUNS=1 FEED=gamelinux NQ="$NQ" OBS="$OUT/obs-1000000.txt" META="$OUT/obs-1000000.meta.json" \
    bash "$SHARED/tools/bench_balboa.sh" "$OUT/balboa" >&2
  lat=$(bash "$ROOT/bench/balboa_latency.sh" "$OUT/obs-1000000.txt" "$OUT/obs-1000000.meta.json" "$NQ" "$OUT/balboa" | tail -1)
  python3 - "$OUT/balboa/results-gamelinux.jsonl" "$lat" >> "$RESULTS" <<'PY'
import json, sys
b = json.loads(open(sys.argv[1]).readlines()[-1])
lat = json.loads(sys.argv[2])
r = {"system": "balboa", "observations": b["observations"], "import_wall_s": b["ingest_wall_s"],
     "obs_per_s": b["obs_per_s"], "peak_rss_MiB": b["frontend_rss_peak_MiB"] + b["backend_rss_peak_MiB"],
     "disk_bytes": b.get("db_bytes_after_shutdown", b["db_bytes_after_ingest"]),
     "bench_balboa_name_p50_ms": b.get("q_rrname_ms_p50"), "bench_balboa_name_p99_ms": b.get("q_rrname_ms_p99"),
     "bench_balboa_ip_p50_ms": b.get("q_rdata_ms_p50"), "bench_balboa_ip_p99_ms": b.get("q_rdata_ms_p99")}
r.update(lat)  # latency measured with bench/lookups.py, the client used for dnsledger
print(json.dumps(r))
PY
fi

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
bal = next((r for r in rows if r["system"] == "balboa"), None)
ref = {"obs_per_s": 42931, "name_p50_ms": 0.542, "name_p99_ms": 4.41, "ip_p50_ms": 0.658, "ip_p99_ms": 5.49,
       "bytes_per_record": 190}
print()
print("latency in ms over one keep-alive connection with Python http.client (balboa's method);"
      " [raw]: minimal socket client")
print("%-10s %11s %11s %9s %8s %9s %9s %9s %9s %7s %s" % ("system", "obs", "obs/s", "RSS MiB", "B/rec",
      "name p50", "name p99", "ip p50", "ip p99", "check", "[raw name p50/p99, ip p50/p99]"))
for r in rows:
    one_m = next((x for x in rows if x["system"] == "dnsledger" and x["observations"] == r["observations"]), None)
    bpr = r.get("bytes_per_record") or (round(r["disk_bytes"] / one_m["distinct_records"], 1) if one_m else None)
    chk = "-" if "check_mismatches" not in r else ("ok" if r["check_mismatches"] == 0 else "%d bad" % r["check_mismatches"])
    raw = "" if "name_raw_p50_ms" not in r else "[%s/%s, %s/%s]" % (r["name_raw_p50_ms"], r["name_raw_p99_ms"],
                                                                   r["ip_raw_p50_ms"], r["ip_raw_p99_ms"])
    print("%-10s %11d %11d %9.1f %8s %9s %9s %9s %9s %7s %s" % (r["system"], r["observations"], r["obs_per_s"],
          r["peak_rss_MiB"], bpr, r.get("name_p50_ms"), r.get("name_p99_ms"), r.get("ip_p50_ms"), r.get("ip_p99_ms"), chk, raw))
print("balboa reference (shared/reference/peers.md, gopassivedns socket): %d obs/s, name p50/p99 %.3f/%.2f ms, "
      "ip p50/p99 %.3f/%.2f ms, ~190 B/record" % (ref["obs_per_s"], ref["name_p50_ms"], ref["name_p99_ms"],
      ref["ip_p50_ms"], ref["ip_p99_ms"]))
for r in rows:
    if r["system"] != "dnsledger":
        continue
    b = bal or ref
    print("dnsledger %dM vs balboa: import %.1fx, name p50 %.1fx / p99 %.1fx lower, ip p50 %.1fx / p99 %.1fx lower" % (
        r["observations"] // 1000000, r["obs_per_s"] / b["obs_per_s"],
        b["name_p50_ms"] / r["name_p50_ms"], b["name_p99_ms"] / r["name_p99_ms"],
        b["ip_p50_ms"] / r["ip_p50_ms"], b["ip_p99_ms"] / r["ip_p99_ms"]))
PY
