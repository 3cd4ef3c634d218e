#!/usr/bin/env bash
# Lookup latency of DCSO balboa 2.0.0 measured with bench/lookups.py, i.e. with exactly the clients
# bench/import.sh uses for dnsledger, so the two are comparable in one run.
#
# Usage: bench/balboa_latency.sh OBS META NQ DIR    (OBS: passivedns/gamelinux file)
# Installs balboa with ../shared/tools/setup_balboa.sh, then in a private network namespace (balboa's
# GraphQL port would otherwise listen on every interface): starts backend and frontend, POSTs OBS
# to the gamelinux feeder, waits for the sentinel, measures, stops both by PID. Prints one JSON line.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
SHARED="${SHARED:-$HERE/../../shared}"
OBS="$1"; META="$2"; NQ="$3"; DIR="$4"
mkdir -p "$DIR"; DIR="$(cd "$DIR" && pwd)"
if [ -z "${_IN_NETNS:-}" ]; then
  bash "$SHARED/tools/setup_balboa.sh" "$DIR" >&2
  export _IN_NETNS=1
  exec unshare --net -- bash "$0" "$@"
fi
ip link set lo up
rm -rf "$DIR/lat-db"; mkdir -p "$DIR/lat-db"
balboa-rocksdb -d "$DIR/lat-db" -l 127.0.0.1 -p 4242 > "$DIR/lat-backend.log" 2>&1 & BE=$!
FE=""
trap 'kill $FE $BE 2>/dev/null; wait 2>/dev/null' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/4242) 2>/dev/null && break; sleep 0.1; done
balboa serve -f "$DIR/feeders.yaml" -H 127.0.0.1:4242 -p 8080 -l "$DIR/lat-frontend.log" > /dev/null 2>&1 & FE=$!
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/8080) 2>/dev/null && break; sleep 0.1; done
sleep 1
curl -sS -o /dev/null --data-binary "@$OBS" -H 'X-Sensor-ID: bench' http://127.0.0.1:8081/submit
sentinel=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['sentinel_rrname'])" "$META")
for _ in $(seq 1 6000); do
  curl -s -d "{\"query\":\"{ entries(rrname: \\\"$sentinel\\\") { count } }\"}" http://127.0.0.1:8080/query | grep -q count && break
  sleep 0.1
done
python3 "$HERE/lookups.py" --balboa http://127.0.0.1:8080 "$META" "$NQ"
