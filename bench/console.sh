#!/usr/bin/env bash
# Web console responsiveness with a large answer: one owner name with RECORDS (default 100000)
# records, imported from two sensors' logs into an embedded store; `dnsledger serve` on it; the
# console driven in headless Chromium (bench/console.mjs, playwright-core from web/node_modules)
# measures the time to the first table render, to page N, to a sorted page, to a page of the
# sensor filter (applied by the server) and to a whole-answer CSV export, and the long tasks
# (PerformanceObserver 'longtask', > 50 ms on the main thread) while rendering and scrolling.
#
# Usage: bench/console.sh
#   RECORDS=100000   records of the name           SIZE=1000   records per page (the console's maximum)
#   PROFILE=debug    or release (the binary to measure; release builds are slow on a shared machine)
#   BIN=             a dnsledger binary to use instead of building one
#   CHROMIUM=/usr/bin/chromium      OUT=bench/out
# Prints the figures and writes them to $OUT/console-bench.json.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/out}"
RECORDS="${RECORDS:-100000}"
SIZE="${SIZE:-1000}"
PROFILE="${PROFILE:-debug}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"

ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh")
export ROCKSDB_LIB_DIR
if [ -z "${BIN:-}" ]; then
  flag=()
  [ "$PROFILE" = release ] && flag=(--release)
  (cd "$ROOT" && cargo build "${flag[@]}" -p dnsledger -q)
  TARGET="${CARGO_TARGET_DIR:-target}"
  case "$TARGET" in /*) ;; *) TARGET="$ROOT/$TARGET";; esac
  cp "$TARGET/$PROFILE/dnsledger" "$OUT/dnsledger-console-bench"
  BIN="$OUT/dnsledger-console-bench"
fi
[ -d "$ROOT/web/node_modules/playwright-core" ] || (cd "$ROOT/web" && npm ci --no-audit --no-fund)

db="$OUT/console-db-$RECORDS"
if [ ! -d "$db" ]; then
  echo "generating and importing $RECORDS records of big.example.com" >&2
  # big.example.com A <address>: one record per address, seen 1..5 times over a year; even
  # addresses by sensor bench-a, odd ones by bench-b
  python3 - "$RECORDS" "$OUT/console-a.log" "$OUT/console-b.log" <<'PY'
import sys
n, pa, pb = int(sys.argv[1]), sys.argv[2], sys.argv[3]
t0 = 1_704_067_200
with open(pa, "w") as a, open(pb, "w") as b:
    for i in range(n):
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        out = a if i % 2 == 0 else b
        for k in range(1 + i % 5):
            ts = t0 + (i * 7919 + k * 86_400) % (365 * 86_400)
            out.write(f"{ts}.000000||10.0.0.1||10.0.0.53||IN||big.example.com.||A||{ip}||{60 + i % 3600}||1\n")
PY
  "$BIN" import --format passivedns --sensor bench-a --data-dir "$db.tmp" "$OUT/console-a.log" -q
  "$BIN" import --format passivedns --sensor bench-b --data-dir "$db.tmp" "$OUT/console-b.log" -q
  mv "$db.tmp" "$db"
  rm -f "$OUT/console-a.log" "$OUT/console-b.log"
fi

PORT="${PORT:-18097}"
"$BIN" serve --data-dir "$db" --listen "127.0.0.1:$PORT" 2> "$OUT/console-serve.log" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null || true' EXIT
for _ in $(seq 1 150); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
echo "store: $db ($RECORDS records of big.example.com); binary: $BIN ($PROFILE); $(nproc) cores"
(cd "$ROOT/web" && node "$ROOT/bench/console.mjs" "http://127.0.0.1:$PORT" big.example.com "$RECORDS" "$SIZE") | tee "$OUT/console-bench.json"
