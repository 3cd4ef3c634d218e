#!/usr/bin/env bash
# Retention benchmark of the embedded store: how long `dnsledger prune` takes to expire about
# half of a store (two full compactions with the retention compaction filter, then the
# names-index sweep), and what it dropped.
#
# Usage: bench/retention.sh [COUNT]        (default: 1000000 responses)
#   BIN=target/release/dnsledger   the binary to measure (build it first)
#   OUT=bench/out/retention        where the corpus and the store go (the store is recreated)
#
# The corpus is bench/gen_logs.py's Suricata EVE output (COUNT responses one second apart from
# 2024-01-01 over 200k names); `prune --before` is the middle of that span, so records last
# seen in the first half expire. Prints the import and prune lines of dnsledger, wall times,
# the store size before and after, and the result of `dnsledger check` afterwards.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
COUNT="${1:-1000000}"
BIN="${BIN:-$ROOT/target/release/dnsledger}"
OUT="${OUT:-$ROOT/bench/out/retention}"
T0=1704067200
[ -x "$BIN" ] || { echo "no binary at $BIN (cargo build --release, or set BIN)" >&2; exit 1; }
mkdir -p "$OUT"
CORPUS="$OUT/eve-$COUNT.json"
[ -s "$CORPUS" ] || python3 "$ROOT/bench/gen_logs.py" suricata "$COUNT" "$CORPUS"
STORE="$OUT/store"
rm -rf "$STORE"
"$BIN" import --format suricata --data-dir "$STORE" -q "$CORPUS"
"$BIN" compact --data-dir "$STORE"
BEFORE=$((T0 + COUNT / 2))
echo "prune --before $BEFORE (half of the span)"
start=$(date +%s.%N)
"$BIN" prune --data-dir "$STORE" --before "$BEFORE"
end=$(date +%s.%N)
echo "prune wall time: $(echo "$end - $start" | bc) s"
"$BIN" check --data-dir "$STORE" | tail -3
