#!/usr/bin/env bash
# DNSDB-API load benchmark: requests/s and latency under concurrent load from a separate process
# (wrk), and the streaming rate of a large result.
#
# Usage: bench/api.sh [COUNT]          (default 10000000: the store bench/import.sh built)
#   CONNS=32 DURATION=10 THREADS=2     wrk settings
# Needs bench/out/db-COUNT and bench/out/obs-COUNT.meta.json (run bench/import.sh COUNT first).
# Each kind of lookup cycles through 1000 different values from the generator's samples:
#   exact   /dnsdb/v2/lookup/rrset/name/NAME
#   ip      /dnsdb/v2/lookup/rdata/ip/IP
#   cidr24  /dnsdb/v2/lookup/rdata/ip/A.B.C.0,24
#   lwild   /dnsdb/v2/lookup/rrset/name/*.REGISTERED-DOMAIN
# and the streaming rate is measured with one `rdata/ip/0.0.0.0,0?limit=0` (every A record).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
OUT="${OUT:-$ROOT/bench/out}"
N="${1:-10000000}"
CONNS="${CONNS:-32}"; DURATION="${DURATION:-10}"; THREADS="${THREADS:-2}"
DB="$OUT/db-$N"; META="$OUT/obs-$N.meta.json"
[ -d "$DB" ] && [ -s "$META" ] || { echo "run bench/import.sh $N first" >&2; exit 1; }
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh"); export ROCKSDB_LIB_DIR
(cd "$ROOT" && cargo build --release --locked -q)
BIN="$ROOT/target/release/dnsledger"

python3 - "$META" "$OUT" <<'PY'
import json, sys, urllib.parse
meta = json.load(open(sys.argv[1])); out = sys.argv[2]
q = lambda s: urllib.parse.quote(s, safe="")
names, ips = meta["query_rrnames"], meta["query_rdata_ips"]
def apex(n):
    parts = n.split(".")
    k = 3 if ".".join(parts[-2:]) == "co.uk" else 2
    return ".".join(parts[-k:])
kinds = {
    "exact": ["/dnsdb/v2/lookup/rrset/name/%s" % q(n) for n in names],
    "ip": ["/dnsdb/v2/lookup/rdata/ip/%s" % ip for ip in ips],
    "cidr24": ["/dnsdb/v2/lookup/rdata/ip/%s.0,24" % ".".join(ip.split(".")[:3]) for ip in ips],
    "lwild": ["/dnsdb/v2/lookup/rrset/name/%s" % q("*." + apex(n)) for n in names],
}
for k, paths in kinds.items():
    open("%s/paths-%s.txt" % (out, k), "w").write("\n".join(paths) + "\n")
PY
cat > "$OUT/paths.lua" <<'LUA'
local paths = {}
for line in io.lines(os.getenv("PATHS")) do paths[#paths + 1] = line end
local i = math.random(#paths)
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], { ["Accept"] = "application/x-ndjson" })
end
LUA

log="$OUT/api-serve.log"
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$DB" 2> "$log" &
spid=$!
trap 'kill $spid 2>/dev/null || true' EXIT
url=""
for _ in $(seq 1 100); do
  url=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //') || true
  [ -n "$url" ] && break; sleep 0.1
done
[ -n "$url" ] || { echo "serve did not start" >&2; exit 1; }

printf "%-8s %10s %10s %10s %10s %10s\n" kind req/s p50 p90 p99 errors
for k in exact ip cidr24 lwild; do
  # warm the block cache with one pass over the paths
  PATHS="$OUT/paths-$k.txt" wrk -t1 -c1 -d2s -s "$OUT/paths.lua" "$url" > /dev/null
  res=$(PATHS="$OUT/paths-$k.txt" wrk -t"$THREADS" -c"$CONNS" -d"${DURATION}s" --latency -s "$OUT/paths.lua" "$url")
  rps=$(echo "$res" | awk '/Requests\/sec/ {print $2}')
  p50=$(echo "$res" | awk '$1=="50%" {print $2}'); p90=$(echo "$res" | awk '$1=="90%" {print $2}')
  p99=$(echo "$res" | awk '$1=="99%" {print $2}')
  errs=$(echo "$res" | awk '/Non-2xx|Socket errors/ {print}' | tr '\n' ' ')
  printf "%-8s %10s %10s %10s %10s %10s\n" "$k" "$rps" "$p50" "$p90" "$p99" "${errs:-0}"
done

start=$(date +%s.%N)
records=$(curl -s "$url/dnsdb/v2/lookup/rdata/ip/0.0.0.0,0?limit=0" | grep -c '"obj"')
end=$(date +%s.%N)
python3 -c "import sys; r, s, e = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]); print('stream: %d records in %.2f s = %.0f records/s' % (r, e - s, r / (e - s)))" "$records" "$start" "$end"
