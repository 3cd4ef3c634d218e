#!/usr/bin/env bash
# Benchmark of `dnsledger sensor` (pcap -> observations): packet rate, memory, an independent
# correctness count with tshark, gamelinux/passivedns measured in the same run, and a
# random-subdomain flood.
#
# Usage: bench/sensor.sh
#   STEPS="build corpus perf store check peer flood"   steps to run (default: all, in this order)
#   QUERIES=1000000      dnsperf queries for the corpus (1000000 = the reference corpus of
#                        ../shared/reference/peers.md)
#   RUNS=3               runs per configuration (the median wall time is reported)
#   THREADS=$(nproc)     --threads of the all-cores run
#   CHECK_PACKETS=0      check on the first N packets only (0 = the whole pcap); tshark needs
#                        ~2 min for the 2.3M-packet corpus on a 2-core machine
#   PASSIVEDNS=PATH      passivedns binary (default: `command -v passivedns`); not in Debian, build it
#                        yourself from the gamelinux/passivedns sources, with JSON output enabled
#   PEER_FLAGS="-X 46CDNPRSMnTO"   passivedns type flags for the corpus runs (peers.md "text-all")
#   PEER_FLOOD=1         also run passivedns once on the flood (NXDOMAIN logging on, -X ...x)
#   PEER_TIMEOUT=300     stop that flood run after this many seconds (0 = never): passivedns slows
#                        down as its cache fills (measured: 4.27M of the 10M pairs in 14 min, RSS 861 MiB)
#   FLOOD_NAMES=10000000 unique names in the flood (query + NXDOMAIN response per name)
#   DNSLEDGER=PATH       binary to measure (default target/release/dnsledger, built by the build step)
#   OUT=bench/out        cached corpus, flood and results (results in OUT/sensor/)
#
# Steps:
#   build   cargo build --release --locked -p dnsledger
#   corpus  OUT/corpus/dns-lo.pcap via ../shared/tools/make_corpus.sh QUERIES (needs root and
#           127.53.0.1-3:53 free; made once, the time is kept in OUT/corpus/make_corpus.seconds)
#   perf    `sensor -r PCAP --output /dev/null`, single-threaded and --threads THREADS, RUNS each,
#           wall and max RSS from /usr/bin/time -v; counters from --summary-json
#   store   one run into a local store (--data-dir in a temporary directory under OUT)
#   check   tshark counts the distinct (rrname, rrtype, rdata) answer tuples of every DNS response
#           (bench/sensor_check.py, cached per pcap) and they are compared with the NDJSON of
#           `sensor --sections answer`
#   peer    passivedns -r PCAP, RUNS runs: pkts/s, max RSS, lines, its "UDP failed" count; when no
#           binary is found the reference figures of peers.md are quoted (not measured here)
#   flood   OUT/flood/flood-N.pcap by bench/gen_flood.py (made once), then
#           `sensor --negative --output /dev/null` and into a store: frames/s, max RSS
# Finally a table of all figures with the targets (>= 5M frames/s on one core, 0 responses dropped
# for in-flight reasons, max RSS <= 256 MiB on the flood). Loopback and local files only.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SHARED="${SHARED:-$ROOT/../shared}"
OUT="${OUT:-$ROOT/bench/out}"
STEPS="${STEPS:-build corpus perf store check peer flood}"
QUERIES="${QUERIES:-1000000}"
RUNS="${RUNS:-3}"
THREADS="${THREADS:-$(nproc)}"
CHECK_PACKETS="${CHECK_PACKETS:-0}"
PEER_FLAGS="${PEER_FLAGS:--X 46CDNPRSMnTO}"
PEER_FLOOD="${PEER_FLOOD:-1}"
PEER_TIMEOUT="${PEER_TIMEOUT:-300}"
FLOOD_NAMES="${FLOOD_NAMES:-10000000}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
W="$OUT/sensor"            # results of this script
mkdir -p "$W"
RES="$W/results.jsonl"     # one JSON object per measured configuration
: > "$RES"
CHECKER="$ROOT/bench/sensor_check.py"
BIN="${DNSLEDGER:-$ROOT/target/release/dnsledger}"
CORPUS="$OUT/corpus"
PCAP="$CORPUS/dns-lo.pcap"

step() { case " $STEPS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
log() { printf '\n== %s\n' "$*" >&2; }
die() { echo "sensor.sh: $*" >&2; exit 1; }

# temporary stores and peer output live under one directory in OUT (same disk as the data),
# removed on exit, also on error or Ctrl-C
TMPROOT=$(mktemp -d "$OUT/tmp.sensor.XXXXXX")
trap 'rm -rf "$TMPROOT"' EXIT
trap 'exit 130' INT TERM
scratch() { mktemp -d "$TMPROOT/run.XXXXXX"; }

need_pkg() { # COMMAND PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "$1 is missing: apt-get install $2 (as root)"
  echo "installing $2 (for $1)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -q "$2" >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q "$2" >/dev/null; } \
    || die "could not install $2"
  command -v "$1" >/dev/null 2>&1 || die "$2 installed but $1 not found"
}
command -v python3 >/dev/null || die "python3 is needed"
need_pkg /usr/bin/time time

# /usr/bin/time -v FILE -> "wall_s user_s sys_s maxrss_kb exit"
tv() {
  awk -F': ' '
    /Elapsed \(wall clock\)/ { n = split($2, p, ":"); w = 0; for (i = 1; i <= n; i++) w = w * 60 + p[i] }
    /User time/ { u = $2 } /System time/ { s = $2 } /Maximum resident set size/ { r = $2 } /Exit status/ { e = $2 }
    END { printf "%.3f %s %s %s %s\n", w, u, s, r, e }' "$1"
}
# median line (by the first field) of the given lines
median() { sort -n | awk '{ l[NR] = $0 } END { print l[int((NR + 1) / 2)] }'; }
# packets in a classic pcap, cached next to it
pcap_packets() {
  local p=$1 c="$1.packets" sz
  sz=$(stat -c %s "$p")
  if [ -s "$c" ] && [ "$(cut -d' ' -f1 "$c")" = "$sz" ]; then cut -d' ' -f2 "$c"; return; fi
  local n; n=$(python3 "$CHECKER" count-pcap "$p")
  echo "$sz $n" > "$c"; echo "$n"
}
# record one configuration: NAME TIMEFILE_LINE(wall user sys rss exit) SUMMARY_JSON PACKETS [extra JSON]
record() {
  local extra='{}'; [ $# -ge 5 ] && extra=$5
  python3 - "$1" "$2" "$3" "$4" "$extra" >> "$RES" <<'PY'
import json, os, sys
name, tl, summ, packets, extra = sys.argv[1:6]
wall, user, sys_, rss, ex = tl.split()
r = {"name": name, "wall_s": float(wall), "cpu_s": round(float(user) + float(sys_), 2),
     "max_rss_MiB": round(int(rss) / 1024, 1), "exit": int(ex), "packets": int(packets),
     "pkts_per_s": round(int(packets) / float(wall)) if float(wall) > 0 else None}
if summ != "-" and os.path.exists(summ):
    s = json.load(open(summ))
    r["summary"] = s
    r["records"] = s.get("records_out")
r.update(json.loads(extra))
print(json.dumps(r))
PY
}
show() { tail -1 "$RES" | python3 -c '
import json, sys
r = json.loads(sys.stdin.read())
s = r.get("summary", {})
print("%-26s wall %7.2f s  %11s pkts/s  max RSS %7.1f MiB  records %s  responses %s  errors %s" % (
    r["name"], r["wall_s"], "{:,}".format(r["pkts_per_s"] or 0), r["max_rss_MiB"], r.get("records", r.get("lines", "-")),
    s.get("responses", "-"), sum((s.get("errors") or {}).values()) if s else "-"))' >&2; }

# ------------------------------------------------------------------ build
HAVE_SENSOR=0
if step build; then
  log "build"
  command -v cargo >/dev/null || die "cargo is needed"
  ROCKSDB_LIB_DIR=$("$ROOT/scripts/deps.sh"); export ROCKSDB_LIB_DIR
  (cd "$ROOT" && cargo build --release --locked -q -p dnsledger) || die "cargo build failed"
fi
if [ -x "$BIN" ] && "$BIN" sensor --help >/dev/null 2>&1; then HAVE_SENSOR=1; else
  echo "NOTE: $BIN has no 'sensor' command (yet): dnsledger runs are skipped, corpus/check/peer/flood data still made" >&2
fi

# ------------------------------------------------------------------ corpus
if step corpus; then
  log "corpus"
  if [ ! -s "$PCAP" ]; then
    [ "$(id -u)" = 0 ] || die "the corpus needs root (make_corpus.sh: tcpdump on lo, port 53, apt-get)"
    [ -x "$SHARED/tools/make_corpus.sh" ] || [ -f "$SHARED/tools/make_corpus.sh" ] || die "$SHARED/tools/make_corpus.sh not found"
    mkdir -p "$CORPUS"
    t0=$(date +%s.%N)
    bash "$SHARED/tools/make_corpus.sh" "$QUERIES" "$CORPUS" > "$CORPUS/make_corpus.log" 2>&1 \
      || { tail -20 "$CORPUS/make_corpus.log" >&2; die "make_corpus.sh failed (log: $CORPUS/make_corpus.log)"; }
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f\n", b - a }' > "$CORPUS/make_corpus.seconds"
  fi
  [ -s "$PCAP" ] || die "no corpus at $PCAP"
  echo "corpus: $PCAP, $(stat -c %s "$PCAP") bytes, $(pcap_packets "$PCAP") packets; make_corpus.sh took $(cat "$CORPUS/make_corpus.seconds" 2>/dev/null || echo '?') s when it was made" >&2
fi
[ -s "$PCAP" ] || die "no corpus at $PCAP (run with the corpus step)"
PACKETS=$(pcap_packets "$PCAP")

# ------------------------------------------------------------------ dnsledger on the corpus
run_sensor() { # NAME PCAP PACKETS DIR -- sensor args...
  local name=$1 pcap=$2 packets=$3 dir=$4; shift 5
  local tf="$dir/$name.time" sj="$dir/$name.summary.json"
  rm -f "$sj"
  /usr/bin/time -v -o "$tf" "$BIN" sensor -r "$pcap" --summary-json "$sj" -q "$@" > "$dir/$name.log" 2>&1 \
    || { tail -5 "$dir/$name.log" >&2; echo "sensor run $name failed (log: $dir/$name.log)" >&2; }
  echo "$(tv "$tf") $name"
}
if step perf && [ "$HAVE_SENSOR" = 1 ]; then
  log "perf: corpus, $RUNS runs each, output to /dev/null"
  for cfg in "st:1" "mt:$THREADS"; do
    tag=${cfg%%:*}; thr=${cfg#*:}
    lines=""
    for i in $(seq 1 "$RUNS"); do
      l=$(run_sensor "corpus-$tag-$i" "$PCAP" "$PACKETS" "$W" -- --threads "$thr" --output /dev/null)
      echo "  run $i: $l" >&2
      lines+="$l"$'\n'
    done
    med=$(printf '%s' "$lines" | median)
    mname=${med##* }
    record "corpus --threads $thr" "${med% *}" "$W/$mname.summary.json" "$PACKETS" \
      "{\"kind\": \"corpus-$tag\", \"threads\": $thr, \"walls\": [$(printf '%s' "$lines" | awk '{print $1}' | paste -sd,)]}"
    show
  done
fi

if step store && [ "$HAVE_SENSOR" = 1 ]; then
  log "store: corpus into a local store (--data-dir)"
  d=$(scratch)
  l=$(run_sensor "corpus-store" "$PCAP" "$PACKETS" "$W" -- --data-dir "$d/db")
  disk=$(du -sb "$d/db" 2>/dev/null | cut -f1 || echo 0)
  record "corpus --data-dir" "${l% *}" "$W/corpus-store.summary.json" "$PACKETS" "{\"kind\": \"corpus-store\", \"store_bytes\": ${disk:-0}}"
  show
  rm -rf "$d"
fi

# ------------------------------------------------------------------ independent check with tshark
if step check; then
  log "check: tshark independent count (ANSWER section)"
  need_pkg tshark tshark
  need_pkg editcap wireshark-common
  CHK_PCAP="$PCAP"; CHK_N="$PACKETS"; ktag=all
  if [ "$CHECK_PACKETS" != 0 ] && [ "$CHECK_PACKETS" -lt "$PACKETS" ]; then
    CHK_PCAP="$W/check/prefix-$(stat -c %s "$PCAP")-$CHECK_PACKETS.pcap"; CHK_N=$CHECK_PACKETS; ktag=$CHECK_PACKETS
    mkdir -p "$W/check"
    [ -s "$CHK_PCAP" ] || { editcap -F pcap -r "$PCAP" "$CHK_PCAP.tmp" "1-$CHECK_PACKETS" && mv "$CHK_PCAP.tmp" "$CHK_PCAP"; }
  fi
  TPFX="$W/check/tshark-$(stat -c %s "$PCAP")-$ktag"
  mkdir -p "$W/check"
  if [ ! -s "$TPFX.tsv" ] || [ ! -s "$TPFX.json" ]; then
    echo "tshark over $CHK_N packets (cached afterwards in $TPFX.*)" >&2
    /usr/bin/time -v -o "$TPFX.time" python3 "$CHECKER" tshark "$CHK_PCAP" "$TPFX" > "$TPFX.log"
  fi
  python3 - "$TPFX.json" "$TPFX.time" >&2 <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
rss = [l.split(":")[1].strip() for l in open(sys.argv[2]) if "Maximum resident" in l] if sys.argv[2] else []
print("tshark: %d frames with responses, %d responses %s, answer RRs %d, distinct answer tuples %d %s (%.0f s, %s)" % (
    s["frames"], s["responses"], s["rcodes"], s["answer_rrs"], s["distinct_answer_tuples"],
    s["distinct_answer_tuples_by_type"], s["seconds"], "checker max RSS %s kB" % rss[0] if rss else ""))
PY
  if [ "$HAVE_SENSOR" = 1 ]; then
    l=$(run_sensor "check" "$CHK_PCAP" "$CHK_N" "$W" -- --sections answer --output "$W/check.ndjson" --output-format ndjson)
    python3 "$CHECKER" compare "$TPFX" "$W/check.ndjson" "$W/check.summary.json" "$W/check.result.json" >&2
    record "check (--sections answer)" "${l% *}" "$W/check.summary.json" "$CHK_N" \
      "{\"kind\": \"check\", \"check\": $(cat "$W/check.result.json")}"
  else
    echo "(dnsledger sensor not available: comparison skipped)" >&2
  fi
fi

# ------------------------------------------------------------------ peer: gamelinux/passivedns
peer_run() { # NAME PCAP TIMEOUT_S FLAGS...   (TIMEOUT_S 0 = none; on timeout passivedns gets SIGINT and
  local name=$1 pcap=$2 tmo=$3; shift 3   # exits as at the end of a pcap: flushes and prints its stats)
  local d; d=$(scratch)
  local pre=()
  [ "$tmo" != 0 ] && pre=(timeout -s INT -k 120 "$tmo")
  /usr/bin/time -v -o "$d/time" "${pre[@]}" "$PDNS" -r "$pcap" -l "$d/out.log" -L "$d/nxd.log" -p "$d/pid" "$@" > "$d/stdout" 2>&1 \
    || { [ "$tmo" != 0 ] && grep -q 'Exit status: 124' "$d/time"; } || { tail -5 "$d/stdout" >&2; echo "passivedns $name failed" >&2; }
  local lines nxd
  lines=$(wc -l < "$d/out.log" 2>/dev/null || echo 0); nxd=$(wc -l < "$d/nxd.log" 2>/dev/null || echo 0)
  stat_of() { awk -F: -v k="$1" 'index($0, k) { gsub(/ /, "", $2); v = $2 } END { print v + 0 }' "$d/stdout"; }
  # wall user sys rss exit lines nxd udp decoded failed pcap_packets_read
  echo "$(tv "$d/time") ${lines:-0} ${nxd:-0} $(stat_of 'over IPv4/UDP') $(stat_of 'over UDP decoded') $(stat_of 'over UDP failed') $(stat_of 'received from libpcap')"
  rm -rf "$d"
}
peer_record() { # NAME PACKETS KIND LINES...
  local name=$1 packets=$2 kind=$3 lines=$4 med timedout=false
  med=$(printf '%s' "$lines" | median)
  set -- $med   # wall user sys rss exit lines nxd udp decoded failed pcap_packets_read
  [ "$5" = 124 ] && timedout=true
  [ "${11:-0}" -gt 0 ] && packets=${11}   # packets passivedns actually read (less than the pcap on a timeout)
  record "$name" "$1 $2 $3 $4 $5" - "$packets" "{\"kind\": \"$kind\", \"lines\": $6, \"nxd_lines\": $7, \"udp_packets\": $8, \"udp_decoded\": $9, \"udp_failed\": ${10}, \"timed_out\": $timedout, \"walls\": [$(printf '%s' "$lines" | awk '{print $1}' | paste -sd,)]}"
  show
  echo "  passivedns stats: packets read $packets, DNS packets over IPv4/UDP $8, decoded $9, failed ${10} (responses it could not pair: the TID-per-5-tuple loss)" >&2
  [ "$timedout" = false ] || echo "  passivedns did NOT finish: stopped after the ${PEER_TIMEOUT}s limit (PEER_TIMEOUT); figures are for the part it read" >&2
}
PDNS="${PASSIVEDNS:-$(command -v passivedns || true)}"
if step peer; then
  log "peer: gamelinux/passivedns"
  if [ -n "$PDNS" ] && [ -x "$PDNS" ]; then
    echo "passivedns: $PDNS ($("$PDNS" -V 2>&1 | grep -o 'PassiveDNS [0-9.]*' | head -1)), flags: $PEER_FLAGS" >&2
    lines=""
    for i in $(seq 1 "$RUNS"); do
      # shellcheck disable=SC2086
      l=$(peer_run "corpus-$i" "$PCAP" 0 $PEER_FLAGS); echo "  run $i: $l" >&2; lines+="$l"$'\n'
    done
    peer_record "passivedns $PEER_FLAGS" "$PACKETS" peer-corpus "$lines"
  else
    echo "passivedns not found (set PASSIVEDNS=/path/to/passivedns): NOT MEASURED in this run." >&2
    echo "Reference, ../shared/reference/peers.md (2-core Debian 12, shared machine, other pcap run): passivedns 1.2.1" >&2
    echo "  -X 46CDNPRSMnTO: 535,369 pkts/s single-threaded, max RSS 45.3 MiB; default flags: 536,620 pkts/s, 43.0 MiB;" >&2
    echo "  126,962 responses 'UDP failed' (of 1,148,387 UDP DNS packets)" >&2
    echo '{"name": "passivedns (reference, NOT measured)", "kind": "peer-reference", "pkts_per_s": 535369, "max_rss_MiB": 45.3, "udp_failed": 126962, "packets": 2296734, "wall_s": 4.29}' >> "$RES"
  fi
fi

# ------------------------------------------------------------------ flood
if step flood; then
  log "flood: $FLOOD_NAMES random-subdomain NXDOMAIN pairs"
  FLOOD="$OUT/flood/flood-$FLOOD_NAMES.pcap"
  mkdir -p "$OUT/flood"
  if [ ! -s "$FLOOD" ]; then
    python3 "$ROOT/bench/gen_flood.py" --names "$FLOOD_NAMES" --out "$FLOOD" > "$FLOOD.gen.json" || die "gen_flood.py failed"
  fi
  echo "flood: $FLOOD, $(stat -c %s "$FLOOD") bytes; generator: $(cat "$FLOOD.gen.json" 2>/dev/null)" >&2
  FPK=$((2 * FLOOD_NAMES))
  if [ "$HAVE_SENSOR" = 1 ]; then
    l=$(run_sensor "flood-null" "$FLOOD" "$FPK" "$W" -- --negative --output /dev/null)
    record "flood --negative /dev/null" "${l% *}" "$W/flood-null.summary.json" "$FPK" "{\"kind\": \"flood-null\", \"expected_negative\": $FLOOD_NAMES}"
    show
    d=$(scratch)
    l=$(run_sensor "flood-store" "$FLOOD" "$FPK" "$W" -- --negative --data-dir "$d/db")
    disk=$(du -sb "$d/db" 2>/dev/null | cut -f1 || echo 0)
    record "flood --negative --data-dir" "${l% *}" "$W/flood-store.summary.json" "$FPK" "{\"kind\": \"flood-store\", \"expected_negative\": $FLOOD_NAMES, \"store_bytes\": ${disk:-0}}"
    show
    rm -rf "$d"
  fi
  if [ "$PEER_FLOOD" = 1 ] && [ -n "$PDNS" ] && [ -x "$PDNS" ]; then
    # shellcheck disable=SC2086
    l=$(peer_run flood "$FLOOD" "$PEER_TIMEOUT" $PEER_FLAGS"x")
    peer_record "passivedns ${PEER_FLAGS}x, flood" "$FPK" peer-flood "$l"$'\n'
  fi
fi

# ------------------------------------------------------------------ summary
log "summary"
python3 - "$RES" <<'PY'
import json, re, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
def k(kind): return next((r for r in rows if r.get("kind") == kind), None)
def fmt(v, f="{:,}"):
    return "-" if v is None else f.format(v)
print("%-40s %9s %12s %10s %12s %12s %s" % ("configuration", "wall s", "pkts/s", "RSS MiB", "records", "responses", "errors / notes"))
for r in rows:
    s = r.get("summary") or {}
    if r["kind"].startswith("peer"):
        note = "lines %s, NXD lines %s, UDP failed %s" % (fmt(r.get("lines")), fmt(r.get("nxd_lines")), fmt(r.get("udp_failed")))
        if r.get("timed_out"):
            note += "; DID NOT FINISH (stopped by PEER_TIMEOUT, pkts/s over the part read)"
        if r["kind"] == "peer-reference":
            note = "NOT MEASURED here: peers.md figure; UDP failed %s" % fmt(r.get("udp_failed"))
        recs = r.get("lines")
    else:
        note = json.dumps(s.get("errors") or {}, sort_keys=True)
        if "store_bytes" in r:
            note += " store %.1f MB" % (r["store_bytes"] / 1e6)
        if "expected_negative" in r:
            note += " negative %s/%s" % (fmt(s.get("negative")), fmt(r["expected_negative"]))
        if r.get("exit"):
            note += " EXIT STATUS %d" % r["exit"]
        if s.get("frames_per_sec"):
            note += " (own frames/s %s)" % fmt(round(s["frames_per_sec"]))
        recs = r.get("records")
    print("%-40s %9.2f %12s %10.1f %12s %12s %s" % (r["name"][:40], r["wall_s"], fmt(r.get("pkts_per_s")), r["max_rss_MiB"],
                                                   fmt(recs), fmt(s.get("responses")), note))
st, mt, peer = k("corpus-st"), k("corpus-mt"), k("peer-corpus") or k("peer-reference")
if peer:
    lab = "" if peer["kind"] == "peer-corpus" else " (peer NOT measured in this run: peers.md reference)"
    for r in (st, mt):
        if r and r.get("pkts_per_s"):
            print("ratio dnsledger %s / passivedns: %.1fx pkts/s; max RSS %.1f vs %.1f MiB%s" % (
                r["name"], r["pkts_per_s"] / peer["pkts_per_s"], r["max_rss_MiB"], peer["max_rss_MiB"], lab))
print()
print("targets")
def verdict(ok): return "-" if ok is None else ("PASS" if ok else "FAIL")
fps = st.get("pkts_per_s") if st else None
print("  >= 5,000,000 frames/s on one core (corpus, wall clock of the whole process): %s  %s" % (fmt(fps), verdict(None if fps is None else fps >= 5e6)))
if st:
    errs = (st.get("summary") or {}).get("errors") or {}
    inflight = {e: c for e, c in errs.items() if re.search(r"flight|tid|pending|evict|overflow|drop|queue", e, re.I)}
    s = st.get("summary") or {}
    print("  0 responses dropped for in-flight reasons: %d dropped (error reasons %s; unmatched %s is not a drop)  %s" % (
        sum(inflight.values()), json.dumps(errs, sort_keys=True), fmt(s.get("unmatched_responses")), verdict(sum(inflight.values()) == 0)))
else:
    print("  0 responses dropped for in-flight reasons: not measured")
chk = k("check")
if chk:
    c = chk["check"]
    print("  responses seen: tshark %s, dnsledger %s %s; answer tuples only-tshark %s, only-dnsledger %s" % (
        fmt(c["tshark_responses"]), fmt(c["our_responses"]), verdict(c["tshark_responses"] == c["our_responses"]),
        fmt(c["only_tshark"]), fmt(c["only_ours"])))
if peer:
    print("  contrast: passivedns lost %s responses as 'UDP failed' (one remembered TID per 5-tuple)%s" % (
        fmt(peer.get("udp_failed")), "" if peer["kind"] == "peer-corpus" else " [peers.md reference, not measured]"))
for kind in ("flood-null", "flood-store"):
    r = k(kind)
    if r:
        print("  max RSS <= 256 MiB on the flood (%s): %.1f MiB, %s frames/s  %s" % (kind, r["max_rss_MiB"], fmt(r.get("pkts_per_s")), verdict(r["max_rss_MiB"] <= 256)))
pf = k("peer-flood")
if pf:
    print("  contrast: passivedns on the flood: %.1f MiB max RSS, %s pkts/s, %s NXDOMAIN lines%s" % (pf["max_rss_MiB"], fmt(pf["pkts_per_s"]),
          fmt(pf.get("nxd_lines")), " (did not finish: stopped after %.0f s)" % pf["wall_s"] if pf.get("timed_out") else ""))
print("\nresults: %s" % sys.argv[1])
PY
