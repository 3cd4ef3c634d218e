#!/usr/bin/env bash
# Import throughput of every collector format, whole process, on generated inputs.
#
# Usage: bench/import_formats.sh [COUNT] [FORMAT...]   (default: 1000000, every format)
#   OUT=bench/out   where inputs and stores go (inputs are kept and reused)
#   RUNS=3          runs per format; the median is reported
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
COUNT="${1:-1000000}"
shift || true
FORMATS=("$@")
[ ${#FORMATS[@]} -gt 0 ] || FORMATS=(zeek zeek-json suricata gopassivedns packetbeat route53 gcp azure cof dnsdb zone dnstap)
mkdir -p "$OUT"
ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh")
export ROCKSDB_LIB_DIR
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
(cd "$ROOT" && cargo build --release --locked -q)
BIN="$ROOT/target/release/dnsledger"

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
