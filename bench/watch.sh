#!/usr/bin/env bash
# Cost of watchlists on ingest: `dnsledger import` of the same generated log into a fresh store
# without and with `--watch` and a 10,000-entry watchlist, whole process.
#
# Usage: bench/watch.sh [COUNT]          (default: 2000000 responses)
# Reported: wall and CPU (user + system) seconds per run and their medians; on a shared machine
# the CPU figure is the steadier one.
#   OUT=bench/out   where the input, the list and the stores go
#   RUNS=3          runs of each; the median wall time is reported
#   BIN=target/release/dnsledger
#
# The log comes from bench/gen_logs.py (zeek TSV: 200k names `hostN.domK.example.com`, 60k
# addresses in 10.0.0.0/16, one response in ten through a CNAME to `edgeN.cdn.example.net`).
# The list: 4,000 `*.zoneK.example.org` zones, 4,000 single addresses in 198.18.0.0/15 and 1,000
# /24 prefixes in 172.16.0.0/12 that never match, plus 500 `*.domK.example.com` zones and 500
# single 10.0.x.y addresses that do — every record is matched against all 10,000 entries, and
# the matching ones are checked against the store (one RRset lookup each) and raise alerts into
# the journal.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/out}/watch"
RUNS="${RUNS:-3}"
COUNT="${1:-2000000}"
BIN="${BIN:-$ROOT/target/release/dnsledger}"
mkdir -p "$OUT"
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
log="$OUT/zeek-$COUNT.log"
[ -s "$log" ] || python3 "$ROOT/bench/gen_logs.py" zeek "$COUNT" "$log"

python3 - "$OUT/list.json" <<'PY'
import json, sys
e = []
e += [{"value": f"*.zone{k}.example.org"} for k in range(4000)]
e += [{"value": f"198.{18 + (k >> 16)}.{(k >> 8) & 255}.{k & 255}"} for k in range(4000)]
e += [{"value": f"172.{16 + (k >> 8)}.{k & 255}.0/24"} for k in range(1000)]
e += [{"value": f"*.dom{k * 397}.example.com", "label": "matches"} for k in range(500)]
e += [{"value": f"10.0.{(k * 113 >> 8) & 255}.{k * 113 & 255}", "label": "matches"} for k in range(500)]
json.dump({"description": "bench/watch.sh", "entries": e}, open(sys.argv[1], "w"))
print(len(e), "entries")
PY

run() { # name, extra args...
  local name=$1; shift
  local walls=() cpus=()
  for r in $(seq "$RUNS"); do
    local db="$OUT/db-$name"
    rm -rf "$db" "$OUT/watchdir"
    mkdir -p "$OUT/watchdir"
    [ "$name" = watch ] && cp "$OUT/list.json" "$OUT/watchdir/bench.json"
    printf '[analytics]\nwatch_dir = "%s"\n' "$OUT/watchdir" > "$OUT/config.toml"
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/time-$name.txt" \
      "$BIN" import --config "$OUT/config.toml" --format zeek --no-sync -q --data-dir "$db" "$@" "$log" 2> "$OUT/stderr-$name.txt"
    read -r wall user sys rss < "$OUT/time-$name.txt"
    walls+=("$wall")
    cpus+=("$(echo "$user + $sys" | bc)")
    alerts=0
    [ -f "$OUT/watchdir/alerts.ndjson" ] && alerts=$(wc -l < "$OUT/watchdir/alerts.ndjson")
    echo "$name run $r: wall ${wall}s cpu $(echo "$user + $sys" | bc)s rss ${rss}KB alerts $alerts"
  done
  printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" > "$OUT/median-$name.txt"
  printf '%s\n' "${cpus[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p" > "$OUT/cpu-$name.txt"
}
run plain
run watch --watch
plain=$(cat "$OUT/median-plain.txt"); watch=$(cat "$OUT/median-watch.txt")
echo "median wall: plain ${plain}s, --watch with 10,000 entries ${watch}s, overhead $(echo "scale=1; ($watch - $plain) * 100 / $plain" | bc)%"
plain=$(cat "$OUT/cpu-plain.txt"); watch=$(cat "$OUT/cpu-watch.txt")
echo "median CPU:  plain ${plain}s, --watch with 10,000 entries ${watch}s, overhead $(echo "scale=1; ($watch - $plain) * 100 / $plain" | bc)%"
