#!/usr/bin/env bash
# Floods and bounds: peak memory of `dnsledger sensor` and `dnsledger serve` under hostile input,
# against the configured caps, with the counters the process reported for what it dropped,
# evicted or cut short. Release build; loopback and local files only.
#
# Usage: bench/floods.sh
#   STEPS="build sensor rrset tcp ingest http"   scenarios to run (default: all, in this order)
#   OUT=/work/tgt-floods/floods     scratch: pcaps and stores (several GB at the defaults;
#                                   everything made here is deleted at the end, KEEP=1 keeps it)
#   FLOOD_NAMES=10000000  unique names of the water-torture pcap (bench/gen_flood.py; ~2.5 GB)
#   SMALL_CACHE_MIB=4     the small dedup cache of the second sensor run (default cache: 24 MiB)
#   RRSET_RECORDS=4000 RRSET_RESPONSES=13   huge RRsets in a pcap (records per response, responses)
#   HTTP_RRSET=50000      A records of one name in one HTTP batch
#   TCP_FLOWS=20000 TCP_BYTES=30000   unfinished DNS-over-TCP connections in a pcap, bytes each
#   INGEST_NAMES=2000000 INGEST_BATCH=100000   unique names POSTed to `serve`, lines per POST
#   SLOW_CONNS=2000 SLOW_BODIES=200 SLOW_SECONDS=45   slowloris against `serve`
#   OVERSIZE_MIB=65       body size of the oversized POSTs (the cap is max_body_mib = 64)
#   BASELINE=PATH         also run the pcap scenarios with this older binary, for comparison
#   DNSLEDGER=PATH        binary to measure (default: $CARGO_TARGET_DIR or target, release)
#
# Scenarios:
#   sensor  `sensor -r flood.pcap --negative` to /dev/null with the default and the small dedup
#           cache, and into a store with the default cache: max RSS (/usr/bin/time -v), batches
#           written, matcher and decoder counters (--summary-json)
#   rrset   responses with RRSET_RECORDS A records each for one name (sensor, into a store), and
#           HTTP_RRSET records of one name in one POST to `serve` then looked up (limit=0)
#   tcp     TCP_FLOWS connections that each send TCP_BYTES of a message that never ends: flow
#           table, per-flow and total TCP buffer caps (tcp_* counters)
#   ingest  INGEST_NAMES unique names into `serve` over HTTP: RocksDB memtables and block cache
#           (128 MiB each), batches of at most max_body_mib
#   http    slowloris (heads and bodies dribbled a byte a second) with a well-behaved client
#           on another address (127.0.0.2) probing /healthz every second, then oversized bodies
#           (413): header/body timeouts, the connection caps (global and per address),
#           dnsledger_http_limited_total{reason}
# Prints one line per run and a table at the end (also OUT/results.jsonl).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TGT="${CARGO_TARGET_DIR:-$ROOT/target}"
OUT="${OUT:-$TGT/floods}"
STEPS="${STEPS:-build sensor rrset tcp ingest http}"
FLOOD_NAMES="${FLOOD_NAMES:-10000000}"
SMALL_CACHE_MIB="${SMALL_CACHE_MIB:-4}"
RRSET_RECORDS="${RRSET_RECORDS:-4000}"
RRSET_RESPONSES="${RRSET_RESPONSES:-13}"
HTTP_RRSET="${HTTP_RRSET:-50000}"
TCP_FLOWS="${TCP_FLOWS:-20000}"
TCP_BYTES="${TCP_BYTES:-30000}"
INGEST_NAMES="${INGEST_NAMES:-2000000}"
INGEST_BATCH="${INGEST_BATCH:-100000}"
SLOW_CONNS="${SLOW_CONNS:-2000}"
SLOW_BODIES="${SLOW_BODIES:-200}"
SLOW_SECONDS="${SLOW_SECONDS:-45}"
OVERSIZE_MIB="${OVERSIZE_MIB:-65}"
BIN="${DNSLEDGER:-$TGT/release/dnsledger}"
PY="$ROOT/bench/floods.py"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
RES="$OUT/results.jsonl"
: > "$RES"
SERVE_PID=""
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$OUT"/*.pcap "$OUT"/run.*; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
log() { printf '\n== %s\n' "$*" >&2; }
die() { echo "floods.sh: $*" >&2; exit 1; }
command -v python3 >/dev/null || die "python3 is needed"
[ -x /usr/bin/time ] || die "/usr/bin/time is needed (apt-get install time)"

# record NAME CAP_TEXT MAX_RSS_MIB COUNTERS_JSON [EXTRA_JSON]
record() {
  python3 - "$@" >> "$RES" <<'PY'
import json, sys
name, cap, rss, counters = sys.argv[1:5]
extra = json.loads(sys.argv[5]) if len(sys.argv) > 5 else {}
r = {"name": name, "cap": cap, "max_rss_MiB": float(rss), "counters": json.loads(counters)}
r.update(extra)
print(json.dumps(r))
PY
  tail -1 "$RES" | python3 -c 'import json,sys; r=json.loads(sys.stdin.read()); print("%-44s max RSS %8.1f MiB  cap: %s\n    %s" % (r["name"], r["max_rss_MiB"], r["cap"], json.dumps(r["counters"], sort_keys=True)))' >&2
}

# sensor_run NAME PCAP ARGS... -> records max RSS and the counters of --summary-json
sensor_run() {
  local name=$1 pcap=$2 bin=${BIN_OVERRIDE:-$BIN}; shift 2
  local d; d=$(mktemp -d "$OUT/run.XXXXXX")
  /usr/bin/time -v -o "$d/time" "$bin" sensor -q -r "$pcap" --summary-json "$d/summary.json" "$@" > "$d/log" 2>&1 \
    || { tail -5 "$d/log" >&2; die "sensor run $name failed"; }
  local rss wall
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$d/time")
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i]; printf "%.1f", w }' "$d/time")
  local counters
  counters=$(python3 - "$d/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
d = s.get("decode", {})
keep = {k: s.get(k) for k in ("frames", "responses", "rrsets", "negative", "batches", "unmatched_responses",
                              "untracked_queries", "unanswered_queries")}
keep["errors"] = s.get("errors")
keep["skipped"] = s.get("skipped")
keep["decode"] = {k: v for k, v in d.items() if v and (k.startswith("tcp_") or "drop" in k or "evict" in k or "over_cap" in k)}
print(json.dumps(keep))
PY
)
  local store_mb=0
  [ -n "${STORE_DIR:-}" ] && [ -d "$STORE_DIR" ] && store_mb=$(du -sm "$STORE_DIR" | cut -f1)
  record "$name" "${CAP_TEXT:-}" "$rss" "$counters" "{\"wall_s\": $wall, \"store_MB\": $store_mb}"
  rm -rf "$d"
}
# For runs into a store (STORE_DIR=the directory given to it, for its size on disk).
STORE_ARG='--data-dir'

# serve_start CONFIG_EXTRA -> SERVE_PID, URL
serve_start() {
  local d; d=$(mktemp -d "$OUT/run.XXXXXX")
  local port; port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$d/config.toml" <<EOF
[store]
data_dir = "$d/db"
[server]
listen = "127.0.0.1:$port"
$1
EOF
  "$BIN" serve --config "$d/config.toml" > "$d/serve.log" 2>&1 &
  SERVE_PID=$!
  URL="http://127.0.0.1:$port"
  SERVE_DIR=$d
  for _ in $(seq 1 100); do
    curl -sf "$URL/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$SERVE_PID" 2>/dev/null || { tail -5 "$d/serve.log" >&2; die "serve did not start"; }
    sleep 0.2
  done
  die "serve did not answer /healthz"
}
# serve_stop NAME CAP_TEXT EXTRA_JSON: records the server's peak RSS (VmHWM) and its counters
serve_stop() {
  local hwm counters
  hwm=$(awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$SERVE_PID/status")
  counters=$(curl -s "$URL/metrics" | python3 -c '
import json, re, sys
out = {}
for line in sys.stdin:
    m = re.match(r"(dnsledger_(?:http_limited_total|ingest_[a-z_]+_total|http_requests_total)(\{[^}]*\})?) ([0-9.e+]+)$", line.strip())
    if m:
        out[m.group(1)] = float(m.group(3))
print(json.dumps(out))')
  kill "$SERVE_PID"; wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=""
  local store_mb; store_mb=$(du -sm "$SERVE_DIR/db" | cut -f1)
  record "$1" "$2" "$hwm" "$counters" "$(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["store_MB"]=int(sys.argv[2]); print(json.dumps(d))' "$3" "$store_mb")"
  rm -rf "$SERVE_DIR"
}
command -v curl >/dev/null || die "curl is needed"

# ------------------------------------------------------------------ build
if step build; then
  log "build (release)"
  ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh"); export ROCKSDB_LIB_DIR
  (cd "$ROOT" && cargo build --release --locked -q -p dnsledger) || die "cargo build failed"
fi
[ -x "$BIN" ] || die "no binary at $BIN"

# ------------------------------------------------------------------ sensor: water torture
if step sensor; then
  log "sensor: $FLOOD_NAMES-name random-subdomain flood"
  FLOOD="$OUT/flood-$FLOOD_NAMES.pcap"
  [ -s "$FLOOD" ] || python3 "$ROOT/bench/gen_flood.py" --names "$FLOOD_NAMES" --out "$FLOOD" >&2
  CAP_TEXT="dedup cache 24 MiB (default), no store" sensor_run "sensor flood, default cache, /dev/null" "$FLOOD" --negative --output /dev/null
  CAP_TEXT="dedup cache $SMALL_CACHE_MIB MiB" sensor_run "sensor flood, ${SMALL_CACHE_MIB} MiB cache, /dev/null" "$FLOOD" --negative --output /dev/null --cache-mib "$SMALL_CACHE_MIB"
  d=$(mktemp -d "$OUT/run.XXXXXX")
  STORE_DIR="$d/db" CAP_TEXT="dedup cache 24 MiB + RocksDB (128 MiB block cache, 128 MiB memtables)" sensor_run "sensor flood, default cache, store" "$FLOOD" --negative --no-sync "$STORE_ARG" "$d/db"
  rm -rf "$d"
  [ "${KEEP:-0}" = 1 ] || rm -f "$FLOOD"
fi

# ------------------------------------------------------------------ huge RRsets
if step rrset; then
  log "huge RRsets: $RRSET_RESPONSES responses x $RRSET_RECORDS A records of one name; $HTTP_RRSET records in one POST"
  P="$OUT/rrset.pcap"
  python3 "$PY" gen-rrset "$P" --records "$RRSET_RECORDS" --responses "$RRSET_RESPONSES" >&2
  d=$(mktemp -d "$OUT/run.XXXXXX")
  STORE_DIR="$d/db" CAP_TEXT="per-message parsing (<= 64 KiB a message), dedup cache 24 MiB" sensor_run "sensor huge RRsets, store" "$P" --no-sync "$STORE_ARG" "$d/db"
  rm -rf "$d" "$P"
  serve_start ""
  r=$(python3 "$PY" rrset-http "$URL" --records "$HTTP_RRSET"); echo "  $r" >&2
  serve_stop "serve: $HTTP_RRSET A records of one name (POST + lookup)" "max_body_mib 64, lookup limit max 1000000, query_timeout 30 s" "$r"
fi

# ------------------------------------------------------------------ never-ending TCP streams
if step tcp; then
  log "TCP: $TCP_FLOWS connections x $TCP_BYTES bytes of a message that never ends"
  P="$OUT/tcp.pcap"
  python3 "$PY" gen-tcp "$P" --flows "$TCP_FLOWS" --bytes "$TCP_BYTES" >&2
  CAP_TEXT="65,536 flows, 256 KiB a flow, 64 MiB all flows, 60 s idle" sensor_run "sensor unfinished TCP streams" "$P" --output /dev/null
  if [ -n "${BASELINE:-}" ]; then
    BIN_OVERRIDE="$BASELINE" CAP_TEXT="baseline binary $BASELINE" sensor_run "BASELINE: sensor unfinished TCP streams" "$P" --output /dev/null
  fi
  rm -f "$P"
fi

# ------------------------------------------------------------------ millions of names over HTTP
if step ingest; then
  log "serve: $INGEST_NAMES unique names over HTTP ingest, $INGEST_BATCH a POST"
  serve_start ""
  r=$(python3 "$PY" ingest "$URL" --names "$INGEST_NAMES" --batch "$INGEST_BATCH"); echo "  $r" >&2
  serve_stop "serve: $INGEST_NAMES unique names (HTTP ingest)" "RocksDB 128 MiB block cache + 128 MiB memtables, bodies <= 64 MiB" "$r"
fi

# ------------------------------------------------------------------ slowloris, oversized bodies
if step http; then
  log "serve: slowloris ($SLOW_CONNS heads, $SLOW_BODIES bodies, ${SLOW_SECONDS} s), then ${OVERSIZE_MIB} MiB bodies"
  ulimit -n 16384 2>/dev/null || ulimit -n "$(ulimit -Hn)"
  serve_start ""
  r=$(python3 "$PY" slowloris "$URL" --conns "$SLOW_CONNS" --bodies "$SLOW_BODIES" --seconds "$SLOW_SECONDS"); echo "  $r" >&2
  o=$(python3 "$PY" oversize "$URL" --mib "$OVERSIZE_MIB"); echo "  $o" >&2
  serve_stop "serve: slowloris + oversized bodies" "header_timeout 30 s, body_timeout 120 s, max_connections 1024, max_connections_per_address 256, max_body_mib 64" \
    "$(python3 -c 'import json,sys; print(json.dumps({"slowloris": json.loads(sys.argv[1]), "oversize": json.loads(sys.argv[2])}))' "$r" "$o")"
fi

# ------------------------------------------------------------------ summary
log "summary"
python3 - "$RES" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print("| scenario | cap | max RSS MiB | counters |")
print("|---|---|---:|---|")
for r in rows:
    c = r["counters"]
    if isinstance(c, dict) and "decode" in c:
        parts = ["batches %s" % c.get("batches")]
        for k in ("unmatched_responses", "untracked_queries"):
            if c.get(k):
                parts.append("%s %s" % (k, c[k]))
        for k, v in sorted((c.get("decode") or {}).items()):
            parts.append("%s %s" % (k, v))
        if c.get("errors"):
            parts.append("errors %s" % json.dumps(c["errors"], sort_keys=True))
        text = ", ".join(parts)
    else:
        text = ", ".join("%s %g" % (k.replace("dnsledger_", ""), v) for k, v in sorted(c.items())
                         if "limited" in k or "rejected" in k or "status=\"4" in k or "status=\"5" in k)
    print("| %s | %s | %.1f | %s |" % (r["name"], r["cap"], r["max_rss_MiB"], text))
print("\nresults: %s" % sys.argv[1])
PY
