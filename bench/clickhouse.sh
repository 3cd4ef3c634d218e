#!/usr/bin/env bash
# The ClickHouse backend against the embedded store, in one run, on the same corpus.
#
# Usage: bench/clickhouse.sh [COUNT]        (default 10000000)
#   NQ=1000        lookups per kind for the latency figures
#   OUT=bench/out  where the corpus, stores and results go
#
# Starts (with scripts/clickhouse.sh, on loopback) a single ClickHouse server and a 2-shard
# cluster, then for each of: the embedded store, ClickHouse 1 node, ClickHouse 2 shards:
#   - imports the seed-42 passivedns corpus of COUNT observations (../shared/tools/
#     gen_observations.py, the corpus bench/import.sh uses) with `dnsledger import`, timed as a
#     whole process (obs/s, CPU, peak RSS);
#   - serves it with `dnsledger serve` and measures, over one keep-alive connection
#     (bench/latency.py), p50/p90/p99 of NQ exact-name, left-wildcard (`*.registered-domain`),
#     address and /24 lookups through the DNSDB API;
#   - digests every answer, so the run also checks that the three stores answer alike;
#   - compacts (OPTIMIZE FINAL for ClickHouse) and reports bytes on disk per distinct record.
# Prints a table with ClickHouse's ratios to the embedded store.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${OUT:-$ROOT/bench/out}"
NQ="${NQ:-1000}"
N="${1:-10000000}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh" --test)
export ROCKSDB_LIB_DIR
command -v /usr/bin/time >/dev/null || apt-get install -y -q time >/dev/null
(cd "$ROOT" && cargo build --release --locked -q)
BIN="$ROOT/target/release/dnsledger"

obs="$OUT/obs-$N.txt"; meta="$OUT/obs-$N.meta.json"
if [ ! -s "$obs" ] || [ ! -s "$meta" ]; then
  echo "generating $N observations" >&2
  python3 "$SHARED/tools/gen_observations.py" --count "$N" --format gamelinux --out "$obs" --meta "$meta" 2>/dev/null
fi

chdir="$OUT/ch-bench"
"$ROOT/scripts/clickhouse.sh" clean "$chdir" >/dev/null 2>&1 || true
eval "$("$ROOT/scripts/clickhouse.sh" start "$chdir")"
trap '"$ROOT/scripts/clickhouse.sh" clean "$chdir" >/dev/null 2>&1 || true' EXIT

python3 - "$meta" "$OUT" <<'PY'
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
    "lwild": ["/dnsdb/v2/lookup/rrset/name/%s" % q("*." + apex(n)) for n in names],
    "ip": ["/dnsdb/v2/lookup/rdata/ip/%s" % ip for ip in ips],
    "cidr24": ["/dnsdb/v2/lookup/rdata/ip/%s.0,24" % ".".join(ip.split(".")[:3]) for ip in ips],
}
for k, paths in kinds.items():
    open("%s/chbench-paths-%s.txt" % (out, k), "w").write("\n".join(paths) + "\n")
PY

RESULTS="$OUT/clickhouse-results.jsonl"
: > "$RESULTS"
single_url="$DNSLEDGER_TEST_CLICKHOUSE"
IFS=, read -r shard1 shard2 <<< "$DNSLEDGER_TEST_CLICKHOUSE_SHARDS"

run() { # NAME CONFIG-TOML
  local name=$1 cfg="$OUT/chbench-$1.toml"
  printf '%s\n' "$2" > "$cfg"
  if grep -q clickhouse "$cfg"; then
    "$BIN" clickhouse init --config "$cfg" >&2
  else
    rm -rf "$OUT/chbench-db"
  fi
  sync
  /usr/bin/time -f '%e %U %S %M' -o "$OUT/chbench-time.txt" "$BIN" import "$obs" --config "$cfg" -q
  read -r wall user sys rss_kb < "$OUT/chbench-time.txt"
  local log="$OUT/chbench-serve.log" url="" lat="{}"
  "$BIN" serve --config "$cfg" --listen 127.0.0.1:0 2> "$log" &
  local spid=$!
  for _ in $(seq 1 100); do
    url=$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //') || true
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { echo "serve did not start: $(cat "$log")" >&2; kill "$spid"; exit 1; }
  lat=$(for k in exact lwild ip cidr24; do
    printf '%s %s\n' "$k" "$(python3 "$ROOT/bench/latency.py" "$url" "$OUT/chbench-paths-$k.txt" "$NQ")"
  done)
  kill -TERM "$spid"; wait "$spid" || true
  "$BIN" compact --config "$cfg" >/dev/null 2>&1
  local disk
  if grep -q clickhouse "$cfg"; then
    disk=$(for u in $(grep -o 'http://[0-9.:]*' "$cfg" | sort -u); do
      curl -sS "$u/" --data-binary "SELECT sum(bytes_on_disk) FROM system.parts WHERE database = 'chbench' AND active"
    done | awk '{s += $1} END {print s}')
  else
    disk=$(du -sb "$OUT/chbench-db" | cut -f1)
  fi
  python3 - "$name" "$N" "$wall" "$user" "$sys" "$rss_kb" "$disk" "$meta" "$lat" >> "$RESULTS" <<'PY'
import json, sys
name, n, wall, user, sys_, rss, disk, meta, lat = sys.argv[1:10]
distinct = json.load(open(meta))["distinct_rrname_rrtype_rdata"]
r = {"store": name, "observations": int(n), "import_wall_s": float(wall), "cpu_s": round(float(user) + float(sys_), 1),
     "obs_per_s": round(int(n) / float(wall)), "import_rss_MiB": round(int(rss) / 1024, 1),
     "disk_bytes": int(disk), "bytes_per_record": round(int(disk) / distinct, 1)}
for line in lat.strip().splitlines():
    kind, js = line.split(" ", 1)
    r[kind] = json.loads(js)
print(json.dumps(r))
PY
  tail -1 "$RESULTS" >&2
}

run embedded "[store]
kind = \"rocksdb\"
data_dir = \"$OUT/chbench-db\""
run clickhouse-1 "[store]
kind = \"clickhouse\"
[store.clickhouse]
urls = [\"$single_url\"]
database = \"chbench\""
run clickhouse-2-shards "[store]
kind = \"clickhouse\"
[store.clickhouse]
urls = [\"$shard1\", \"$shard2\"]
cluster = \"$DNSLEDGER_TEST_CLICKHOUSE_CLUSTER\"
database = \"chbench\""

python3 - "$RESULTS" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
base = rows[0]
kinds = ["exact", "lwild", "ip", "cidr24"]
print()
print("%-20s %10s %9s %9s %8s  %s" % ("store", "obs/s", "CPU s", "RSS MiB", "B/rec",
      "  ".join("%s p50/p99 ms" % k for k in kinds)))
for r in rows:
    print("%-20s %10d %9.1f %9.1f %8.1f  %s" % (r["store"], r["obs_per_s"], r["cpu_s"], r["import_rss_MiB"],
          r["bytes_per_record"], "  ".join("%9.2f/%-7.2f" % (r[k]["p50_ms"], r[k]["p99_ms"]) for k in kinds)))
print()
for r in rows[1:]:
    same = all(r[k]["digest"] == base[k]["digest"] for k in kinds)
    print("%s vs embedded: ingest %.2fx; p50 %s; answers %s" % (r["store"], r["obs_per_s"] / base["obs_per_s"],
          ", ".join("%s %.1fx" % (k, r[k]["p50_ms"] / base[k]["p50_ms"]) for k in kinds),
          "identical" if same else "DIFFER: " + ", ".join(k for k in kinds if r[k]["digest"] != base[k]["digest"])))
print("targets: >= 400000 obs/s into 2 shards; exact p50 <= 10 ms")
PY
