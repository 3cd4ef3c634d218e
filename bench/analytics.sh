#!/usr/bin/env bash
# Graph analyses over the 10M-observation embedded store of bench/import.sh: latency of 2-hop
# cluster expansions (target: p50 <= 200 ms) and the time of one detection pass.
#
# Usage: bench/analytics.sh [COUNT]      (default 10000000; the store bench/out/db-COUNT is
#                                          made by bench/import.sh COUNT when missing)
#   NQ=200    expansions measured       HOPS=2   domain-to-domain pivots
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/out}"
N="${1:-10000000}"
NQ="${NQ:-200}"
HOPS="${HOPS:-2}"
ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh")
export ROCKSDB_LIB_DIR
[ -d "$OUT/db-$N" ] || BALBOA=0 "$ROOT/bench/import.sh" "$N"
(cd "$ROOT" && cargo build --release --locked -q)
BIN="$ROOT/target/release/dnsledger"
PORT=18093
"$BIN" serve --data-dir "$OUT/db-$N" --listen "127.0.0.1:$PORT" 2> "$OUT/analytics-serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "store: $OUT/db-$N; $(nproc) cores"
python3 "$ROOT/bench/analytics.py" "http://127.0.0.1:$PORT" "$OUT/obs-$N.meta.json" "$NQ" "$HOPS" | tee "$OUT/analytics.json"
