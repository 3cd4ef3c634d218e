#!/usr/bin/env bash
# Historical lookback benchmark: a batch of indicators (mostly misses, some real names and
# addresses of the data) looked up in an embedded store of a few million records.
#
# Usage: bench/lookback.sh [INDICATORS...]      (default: 10000 100000)
#   COUNT=4000000     observations of the corpus (../shared/tools/gen_observations.py, seed 42)
#   NAMES=2000000     distinct owner names in it
#   HITS=0.1          share of indicators drawn from the data (the rest are random)
#   THREADS=0         lookback worker threads (0 = one per core)
#   OUT=bench/out     where the corpus, the store and the results go (reused when present)
#   BIN=              a dnsledger binary to use instead of building one
#
# Builds dnsledger (release), generates the corpus and imports it with `dnsledger import` unless
# the store exists, then for each batch size draws the indicators (bench/lookback_indicators.py:
# exact names, `*.zone` wildcards and addresses of the data; random names, addresses and /24s
# that are mostly absent) and runs `dnsledger analyze lookback` on the store, and once more
# through `POST /api/v1/analytics/lookback` of a running `dnsledger serve`. Prints indicators/s
# of the lookups alone (the report's `elapsed_ms`: parse excluded, threads included), of the
# whole command, and the number of indicators that matched. Results: $OUT/lookback-results.jsonl.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${OUT:-$ROOT/bench/out}"
COUNT="${COUNT:-4000000}"
NAMES="${NAMES:-2000000}"
HITS="${HITS:-0.1}"
THREADS="${THREADS:-0}"
SIZES=("$@")
[ ${#SIZES[@]} -gt 0 ] || SIZES=(10000 100000)
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh")
export ROCKSDB_LIB_DIR
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release -p dnsledger -q)
  TARGET="${CARGO_TARGET_DIR:-target}"
  case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET";; esac
  # a private copy: a shared target directory may get another tree's binary meanwhile
  cp "$TARGET/release/dnsledger" "$OUT/dnsledger-lookback"
  BIN="$OUT/dnsledger-lookback"
fi
"$BIN" analyze lookback --help >/dev/null || { echo "$BIN has no 'analyze lookback'" >&2; exit 1; }

obs="$OUT/lookback-obs-$COUNT-$NAMES.txt"
db="$OUT/lookback-db-$COUNT-$NAMES"
if [ ! -s "$obs" ]; then
  echo "generating $COUNT observations over $NAMES names" >&2
  python3 "$SHARED/tools/gen_observations.py" --count "$COUNT" --names "$NAMES" --v4-pool $((NAMES / 3)) \
    --v6-pool $((NAMES / 10)) --span $((365 * 86400)) --format gamelinux --out "$obs.tmp" 2>/dev/null
  mv "$obs.tmp" "$obs"
fi
if [ ! -d "$db" ]; then
  echo "importing into $db" >&2
  "$BIN" import "$obs" --data-dir "$db.tmp" -q
  "$BIN" compact --data-dir "$db.tmp" 2>/dev/null
  mv "$db.tmp" "$db"
fi
records=$("$BIN" stats --data-dir "$db" --json -q | python3 -c 'import json,sys; print(json.load(sys.stdin)["records"])')

RESULTS="$OUT/lookback-results.jsonl"
: > "$RESULTS"
for n in "${SIZES[@]}"; do
  ind="$OUT/lookback-indicators-$n.txt"
  python3 "$ROOT/bench/lookback_indicators.py" "$obs" "$n" "$HITS" > "$ind"
  start=$(date +%s.%N)
  "$BIN" analyze --data-dir "$db" --json -l 5 lookback "$ind" --threads "$THREADS" > "$OUT/lookback-report-$n.json"
  end=$(date +%s.%N)
  # the same batch through the HTTP route
  log="$OUT/lookback-serve.log"
  "$BIN" serve --listen 127.0.0.1:0 --data-dir "$db" 2> "$log" &
  spid=$!
  url=""
  for _ in $(seq 1 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //') || true
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "serve did not start: $(cat "$log")" >&2; kill "$spid"; exit 1; }
  hstart=$(date +%s.%N)
  curl -sf --data-binary @"$ind" "$url/api/v1/analytics/lookback?limit=5&max_matches=1000000" > "$OUT/lookback-http-$n.json"
  hend=$(date +%s.%N)
  kill -TERM "$spid"; wait "$spid" || true
  python3 - "$n" "$start" "$end" "$hstart" "$hend" "$OUT/lookback-report-$n.json" "$OUT/lookback-http-$n.json" \
    "$COUNT" "$records" "$(nproc)" >> "$RESULTS" <<'PY'
import json, sys
n, s, e, hs, he, rep, http, count, records, cores = sys.argv[1:11]
r = json.load(open(rep)); h = json.load(open(http))
wall = float(e) - float(s); hwall = float(he) - float(hs)
ms = max(r["elapsed_ms"], 1)
assert (h["hits"], h["matches"]) == (r["hits"], r["matches"]), "HTTP and CLI answers differ"
print(json.dumps({
    "indicators": r["indicators"], "rejected": r["rejected_count"], "hits": r["hits"], "matches": r["matches"],
    "scanned": r["scanned"], "observations": int(count), "store_records": records, "cores": int(cores),
    "lookup_ms": r["elapsed_ms"], "indicators_per_s": round(r["indicators"] * 1000 / ms),
    "cli_wall_s": round(wall, 3), "cli_indicators_per_s": round(r["indicators"] / wall),
    "http_wall_s": round(hwall, 3), "http_indicators_per_s": round(r["indicators"] / hwall),
    "http_lookup_ms": h["elapsed_ms"],
}))
PY
  tail -1 "$RESULTS" >&2
done
