#!/usr/bin/env bash
# CPU and memory of the long-running processes, idle and under load: `dnsledger serve` (a
# collector) and `dnsledger sensor -i lo` (live capture), with DCSO balboa measured on the same
# ingest in the same run.
#
# Usage: bench/resources.sh
#   WINDOW=15         seconds of each measurement window
#   QPS=10000         DNS queries per second of the live traffic the sensor watches
#   BALBOA=1          also run ../shared/tools/bench_balboa.sh on the same 1M-line feed (0 = skip)
#   OUT=bench/out     corpora and results (results in OUT/resources/)
# Needs root: live capture on lo, and ../shared/tools/make_corpus.sh (nsd + unbound + dnsperf on
# 127.53.0.1-3:53) makes the traffic. Loopback only.
#
# serve: a fresh embedded store, then
#   idle-empty    WINDOW s with no requests
#   ingest        the seed-42 1M-observation passivedns file (../shared/tools/gen_observations.py,
#                 98 MB) in ONE HTTP POST, as balboa's gamelinux feeder takes it: wall, CPU s, peak RSS
#   idle-full     WINDOW s idle with the 1M observations stored
#   lookups       WINDOW s of wrk (2 threads, 32 connections) on exact-name DNSDB lookups: req/s, CPU %
# sensor (live capture on lo, port 53, into a local store):
#   idle          WINDOW s without DNS traffic
#   loaded        resolver traffic: dnsperf -> unbound -> nsd at QPS (both legs on lo), about
#                 WINDOW s: CPU %, RSS, frames received and dropped (from its /metrics)
# Every figure is /proc of that process only (bench/procwatch.py): CPU % of one core, RSS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${OUT:-$ROOT/bench/out}"; mkdir -p "$OUT/resources"; OUT="$(cd "$OUT" && pwd)"
WINDOW="${WINDOW:-15}"; QPS="${QPS:-10000}"; BALBOA="${BALBOA:-1}"
RES="$OUT/resources/results.jsonl"; : > "$RES"
[ "$(id -u)" = 0 ] || { echo "run as root (live capture on lo, make_corpus.sh)" >&2; exit 1; }
command -v wrk >/dev/null || apt-get install -y -q wrk >/dev/null
ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh"); export ROCKSDB_LIB_DIR
(cd "$ROOT" && cargo build --release --locked -q -p dnsledger)
BIN="$ROOT/target/release/dnsledger"
W="$(mktemp -d "$OUT/resources/run.XXXXXX")"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$W"; }
trap cleanup EXIT
watch() { python3 "$ROOT/bench/procwatch.py" "$@" | tee -a "$RES"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

OBS="$OUT/obs-1000000.txt"; META="$OUT/obs-1000000.meta.json"
if [ ! -s "$OBS" ]; then
  python3 "$SHARED/tools/gen_observations.py" --format gamelinux --count 1000000 --out "$OBS" --meta "$META" >&2
fi

echo "== serve" >&2
PORT=$(free_port)
"$BIN" serve --data-dir "$W/db" --listen "127.0.0.1:$PORT" --max-body-mib 256 2>"$W/serve.log" &
SPID=$!; PIDS+=("$SPID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break; sleep 0.1; done
watch "$SPID" "$WINDOW" serve-idle-empty
t0=$(date +%s.%N)
curl -sf --data-binary @"$OBS" "http://127.0.0.1:$PORT/api/v1/observations?format=passivedns&sensor=bench" > "$W/ingest.out"
t1=$(date +%s.%N)
python3 - "$SPID" "$t0" "$t1" "$W/ingest.out" <<'PY' | tee -a "$RES"
import json, os, sys
pid, t0, t1 = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
tick = os.sysconf("SC_CLK_TCK")
rest = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
cpu = (int(rest[11]) + int(rest[12])) / tick
hwm = [int(l.split()[1]) / 1024 for l in open(f"/proc/{pid}/status") if l.startswith("VmHWM")][0]
out = json.load(open(sys.argv[4]))
print(json.dumps({"label": "serve-ingest-1M", "seconds": round(t1 - t0, 1), "observations": out["observations"],
                  "obs_per_s": round(out["observations"] / (t1 - t0)), "cpu_s_total": round(cpu, 2),
                  "hwm_MiB": round(hwm, 1)}))
PY
sleep 2
watch "$SPID" "$WINDOW" serve-idle-full
NAME=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["query_rrnames"][0])' "$META")
wrk -t2 -c32 -d"${WINDOW}s" "http://127.0.0.1:$PORT/dnsdb/v2/lookup/rrset/name/$NAME" > "$W/wrk.out" &
KPID=$!
sleep 1
watch "$SPID" "$((WINDOW - 2))" serve-lookups
wait "$KPID"
RPS=$(awk '/Requests\/sec/ {print $2}' "$W/wrk.out")
echo "{\"label\": \"serve-lookups-rate\", \"requests_per_s\": $RPS}" | tee -a "$RES"
kill -TERM "$SPID"; wait "$SPID" || true

echo "== sensor" >&2
MPORT=$(free_port)
"$BIN" sensor -i lo --port 53 --data-dir "$W/sensor-db" --metrics-listen "127.0.0.1:$MPORT" --stats-secs 3600 \
  2>"$W/sensor.log" &
NPID=$!; PIDS+=("$NPID")
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$MPORT/healthz" >/dev/null && break; sleep 0.1; done
watch "$NPID" "$WINDOW" sensor-idle
QUERIES=$((QPS * (WINDOW + 5)))
QPS="$QPS" DNSTAP=0 DNSPERF_TIME=$((WINDOW + 5)) bash "$SHARED/tools/make_corpus.sh" "$QUERIES" "$W/corpus" \
  > "$W/corpus.log" 2>&1 &
CPID=$!
# measure once the servers are up and dnsperf runs
for _ in $(seq 300); do pgrep -x dnsperf >/dev/null && break; sleep 0.1; done
sleep 2
watch "$NPID" "$WINDOW" sensor-loaded
curl -sf "http://127.0.0.1:$MPORT/metrics" > "$W/sensor.metrics"
wait "$CPID" || { tail -20 "$W/corpus.log" >&2; echo "make_corpus.sh failed" >&2; exit 1; }
python3 - "$W/sensor.metrics" <<'PY' | tee -a "$RES"
import json, sys
m = {}
for l in open(sys.argv[1]):
    if l and not l.startswith("#"):
        k, _, v = l.rstrip().rpartition(" ")
        if k:
            m[k] = float(v)
g = lambda k: int(m.get(k, 0))
print(json.dumps({"label": "sensor-counters", "received": g('dnsledger_capture_received_total{interface="lo"}'),
                  "dropped_kernel": g('dnsledger_capture_dropped_total{interface="lo",by="kernel"}'),
                  "responses": g("dnsledger_sensor_responses_total"), "rrsets": g("dnsledger_sensor_rrsets_total")}))
PY
kill -INT "$NPID"; wait "$NPID" || true

if [ "$BALBOA" = "1" ]; then
  echo "== balboa (same 1M feed, one HTTP POST)" >&2
  rm -f "$OUT/balboa/results-gamelinux.jsonl"
  RUNS=1 FEED=gamelinux NQ=50 OBS="$OBS" META="$META" bash "$SHARED/tools/bench_balboa.sh" "$OUT/balboa" >&2
  python3 - "$OUT/balboa/results-gamelinux.jsonl" <<'PY' | tee -a "$RES"
import json, sys
b = json.loads(open(sys.argv[1]).readlines()[-1])
print(json.dumps({"label": "balboa-ingest-1M", "seconds": b["ingest_wall_s"], "obs_per_s": b["obs_per_s"],
                  "cpu_s_total": round(b["frontend_cpu_s"] + b["backend_cpu_s"], 2),
                  "hwm_MiB": round(b["frontend_VmHWM_MiB"] + b["backend_VmHWM_MiB"], 1)}))
PY
fi

python3 - "$RES" <<'PY'
import json, sys
rows = {r["label"]: r for r in map(json.loads, open(sys.argv[1]))}
print("\n%-22s %8s %8s %9s %9s  %s" % ("process/state", "CPU %", "CPU s", "RSS MiB", "peak MiB", "work"))
for k in ("serve-idle-empty", "serve-ingest-1M", "serve-idle-full", "serve-lookups", "sensor-idle", "sensor-loaded", "balboa-ingest-1M"):
    r = rows.get(k)
    if not r:
        continue
    work = ""
    if k.endswith("ingest-1M"):
        work = "%d obs/s, %.1f s" % (r["obs_per_s"], r["seconds"])
    if k == "serve-lookups":
        work = "%.0f lookups/s" % rows["serve-lookups-rate"]["requests_per_s"]
    if k == "sensor-loaded":
        c = rows["sensor-counters"]
        work = "%d frames, %d dropped, %d responses" % (c["received"], c["dropped_kernel"], c["responses"])
    print("%-22s %8s %8s %9s %9s  %s" % (k, r.get("cpu_pct", "-"), r.get("cpu_s", r.get("cpu_s_total", "-")),
                                          r.get("rss_MiB", "-"), r.get("hwm_MiB", "-"), work))
d, b = rows.get("serve-ingest-1M"), rows.get("balboa-ingest-1M")
if d and b:
    print("\ndnsledger vs balboa on the same 1M ingest: %.1fx faster, %.1fx less CPU, %.1fx less peak memory"
          % (b["seconds"] / d["seconds"], b["cpu_s_total"] / d["cpu_s_total"], b["hwm_MiB"] / d["hwm_MiB"]))
PY
