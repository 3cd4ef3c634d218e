#!/usr/bin/env bash
# Evaluation of clustering and ATT&CK detections on the synthetic world of bench/world.py:
# TPR at 0.1% / 0.5% FPR (all families, and the held-out families no label was given for),
# precision/recall per detection, and the time of each run.
#
# Usage: bench/evaluate.sh [SEED...]        (default: 7 11)
#   BENIGN=20000 FAMILIES=30   size of the world     OUT=bench/out   where worlds and stores go
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/out}"
SEEDS=("$@")
[ ${#SEEDS[@]} -gt 0 ] || SEEDS=(7 11)
ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh")
export ROCKSDB_LIB_DIR
(cd "$ROOT" && cargo build --release --locked -q)
BIN="$ROOT/target/release/dnsledger"
for seed in "${SEEDS[@]}"; do
  W="$OUT/world-$seed"
  rm -rf "$W" && mkdir -p "$W"
  python3 "$ROOT/bench/world.py" "$W" --seed "$seed" --benign "${BENIGN:-20000}" --families "${FAMILIES:-30}" > "$W/world.json"
  "$BIN" import -q --format passivedns --data-dir "$W/db" "$W/observations.log"
  echo "world seed $seed: $(cat "$W/world.json")"
  python3 "$ROOT/bench/evaluate.py" "$BIN" "$W" "$W/db" | tee "$W/evaluation.json"
done
