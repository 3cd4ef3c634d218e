#!/usr/bin/env bash
# Import throughput of every collector format, whole process, on generated inputs.
#
# Usage: bench/import_formats.sh [COUNT] [FORMAT...]   (default: 1000000, every format)
#   OUT=bench/out   where inputs and stores go (inputs are kept and reused)
#   RUNS=3          runs per format; the median is reported
#   BIN=path        the dnsledger binary to measure (default: a release build of this tree, in
#                   $CARGO_TARGET_DIR or target/), e.g. to compare two builds
#   BALBOA=1        also import the shared seed-42 corpus (../shared/tools/gen_observations.py) in
#                   the two formats DCSO balboa reads (gopassivedns, suricata) with dnsledger and
#                   with balboa 2.0.0 (../shared/tools/bench_balboa.sh, RUNS=1), and print the
#                   ratio; BALBOA=0 skips it
#
# For each format, bench/gen_logs.py writes COUNT responses (one line each; zone files: COUNT
# records; dnstap: COUNT frames) and `dnsledger import --format F --no-sync` reads them into a
# fresh store. Reported: records (lines or frames) per second and observations per second from
# the wall time, CPU seconds, and peak RSS (/usr/bin/time). Targets (issue 5): >= 500k lines/s
# for line formats, >= 1M frames/s for dnstap, on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/out}/formats"
RUNS="${RUNS:-3}"
BALBOA="${BALBOA:-1}"
SHARED="${SHARED:-$ROOT/../shared}"
COUNT="${1:-1000000}"
shift || true
FORMATS=("$@")
[ ${#FORMATS[@]} -gt 0 ] || FORMATS=(zeek zeek-json suricata gopassivedns packetbeat route53 gcp azure cof dnsdb zone dnstap)
mkdir -p "$OUT"
ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh")
export ROCKSDB_LIB_DIR
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
if [ -z "${BIN:-}" ]; then
  (cd "$ROOT" && cargo build --release --locked -q)
  BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/dnsledger"
fi

printf '%-13s %9s %10s %12s %12s %8s %8s\n' format records "MiB" "records/s" "obs/s" "CPU s" "RSS MiB"
for fmt in "${FORMATS[@]}"; do
  input="$OUT/$fmt-$COUNT.log"
  [ -s "$input" ] || python3 "$ROOT/bench/gen_logs.py" "$fmt" "$COUNT" "$input"
  cli_fmt=${fmt%-json}
  [ "$cli_fmt" = cof ] && cli_fmt=ndjson
  rates=()
  for _ in $(seq "$RUNS"); do
    store="$OUT/store-$fmt"
    rm -rf "$store"
    /usr/bin/time -f '%e %U %S %M' -o "$OUT/time.txt" \
      "$BIN" import --data-dir "$store" --format "$cli_fmt" --no-sync "$input" 2> "$OUT/import.err" || {
        echo "$fmt: import failed:"; cat "$OUT/import.err"; exit 1; }
    read -r wall user sys rss < "$OUT/time.txt"
    rates+=("$wall $user $sys $rss")
  done
  # median by wall time
  med=$(printf '%s\n' "${rates[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  read -r wall user sys rss <<< "$med"
  # the summary (stderr is not a terminal, so no progress bar) has the counts; every run has the same
  obs=$(awk '/observations accepted/ {print $3}' "$OUT/import.err")
  recs=$(awk '/lines read/ {print $3}' "$OUT/import.err")
  mib=$(du -m "$input" | cut -f1)
  python3 - "$fmt" "$recs" "$obs" "$wall" "$user" "$sys" "$rss" "$mib" <<'PY'
import sys
fmt, recs, obs, wall, user, sys_, rss, mib = sys.argv[1:]
wall = max(float(wall), 1e-3)
print(f"{fmt:<13} {int(recs):>9} {int(mib):>10} {int(recs)/wall:>12.0f} {int(obs)/wall:>12.0f} "
      f"{float(user)+float(sys_):>8.2f} {int(rss)/1024:>8.1f}")
PY
done

[ "$BALBOA" = 1 ] || exit 0
echo
echo "same files as DCSO balboa 2.0.0 (shared seed-42 corpus, 1M observations; balboa: unix-socket feeder until its sentinel is visible)"
printf '%-13s %14s %14s %8s\n' feed "dnsledger obs/s" "balboa obs/s" ratio
for feed in gopassivedns suricata; do
  input="$OUT/shared-$feed-1M.log"
  meta="$OUT/shared-$feed-1M.meta.json"
  [ -s "$input" ] && [ -s "$meta" ] || python3 "$SHARED/tools/gen_observations.py" --format "$feed" --out "$input" --meta "$meta" >/dev/null 2>&1
  walls=()
  for _ in $(seq "$RUNS"); do
    rm -rf "$OUT/store-shared"
    /usr/bin/time -f '%e' -o "$OUT/time.txt" "$BIN" import --data-dir "$OUT/store-shared" --format "$feed" --no-sync -q "$input"
    walls+=("$(cat "$OUT/time.txt")")
  done
  wall=$(printf '%s\n' "${walls[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")
  bdir="$OUT/balboa-$feed"
  rm -rf "$bdir"; mkdir -p "$bdir"
  RUNS=1 FEED="$feed" OBS="$input" META="$meta" NQ=50 bash "$SHARED/tools/bench_balboa.sh" "$bdir" > "$bdir/bench.log" 2>&1 || {
    echo "$feed: balboa benchmark failed (see $bdir/bench.log)"; continue; }
  python3 - "$feed" "$(wc -l < "$input")" "$wall" "$bdir/results-$feed.jsonl" <<'PY'
import json, sys
feed, lines, wall, res = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
b = [json.loads(l) for l in open(res) if l.strip()][-1]
ours = lines / max(wall, 1e-3)
theirs = b["observations"] / max(b["ingest_wall_s"], 1e-3)
print(f"{feed:<13} {ours:>14.0f} {theirs:>14.0f} {ours / theirs:>7.1f}x")
PY
done
