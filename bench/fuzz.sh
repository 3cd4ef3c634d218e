#!/usr/bin/env bash
# Fuzzes every collector format (cargo-fuzz / libFuzzer, nightly toolchain) for a while each.
#
# Usage: bench/fuzz.sh [SECS] [TARGET...]     (default: 60 s, every target in fuzz/fuzz_targets)
#
# Seeds each target's corpus (fuzz/corpus/TARGET, kept between runs) with small generated inputs
# of its format (bench/gen_logs.py), builds the targets with optimisations and debug assertions,
# runs each for SECS seconds, and prints executions, exec/s, corpus size and crashes per target.
# A crash leaves its input in fuzz/artifacts/TARGET/; turn it into a regression test beside the
# parser it broke. Installs cargo-fuzz and a nightly toolchain when missing.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in "$ROOT"/fuzz/fuzz_targets/*.rs; do TARGETS+=("$(basename "$f" .rs)"); done
fi
command -v rustup >/dev/null && { rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal; }
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

# seeds: a whole small file (headers included) and single records, per format
gen_of() { # target -> gen_logs.py format(s)
  case "$1" in
    parse_zeek) echo "zeek zeek-json" ;;
    parse_ndjson) echo "cof" ;;
    parse_sniff|sniff) echo "zeek suricata route53 gcp azure cof dnsdb zone dnstap" ;;
    parse_*) echo "${1#parse_}" ;;
  esac
}
for t in "${TARGETS[@]}"; do
  dir="$ROOT/fuzz/corpus/$t"
  mkdir -p "$dir"
  [ -z "$(ls -A "$dir")" ] || continue
  for g in $(gen_of "$t"); do
    if python3 "$ROOT/bench/gen_logs.py" "$g" 20 "$dir/$g-file" 2>/dev/null; then
      if [ "$g" != dnstap ] && [ "$g" != zone ] && [ "$g" != zeek ]; then
        split -l 3 -a 3 "$dir/$g-file" "$dir/$g-lines-"
      fi
    fi
  done
  case "$t" in
    parse_passivedns)
      printf '1704067200.000000||10.0.0.1||10.0.0.53||IN||www.example.com.||A||192.0.2.1||300||2\n' > "$dir/pdns-1"
      printf '{"timestamp_s":1704067200,"timestamp_ms":5,"client":"10.0.0.1","server":"10.0.0.53","class":"IN","query":"a.example.","type":"A","answer":"192.0.2.1","ttl":60,"count":1}\n' > "$dir/pdns-json" ;;
  esac
done

cd "$ROOT/fuzz"
cargo +nightly fuzz build -O --debug-assertions >&2
printf '%-18s %12s %10s %8s %8s\n' target execs "exec/s" corpus crashes
total_crashes=0
for t in "${TARGETS[@]}"; do
  log="$ROOT/fuzz/artifacts/$t.log"
  mkdir -p "$ROOT/fuzz/artifacts/$t"
  cargo +nightly fuzz run -O --debug-assertions "$t" -- -max_total_time="$SECS" -rss_limit_mb=2048 \
    -max_len=65536 > "$log" 2>&1 || true
  runs=$(grep -o 'Done [0-9]* runs' "$log" | awk '{print $2}' | tail -1)
  crashes=$(find "$ROOT/fuzz/artifacts/$t" -type f \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' \) | wc -l)
  corpus=$(find "$ROOT/fuzz/corpus/$t" -type f | wc -l)
  [ -n "$runs" ] || runs=0
  total_crashes=$((total_crashes + crashes))
  printf '%-18s %12s %10s %8s %8s\n' "$t" "$runs" "$((runs / SECS))" "$corpus" "$crashes"
done
echo "total crashes: $total_crashes (inputs in fuzz/artifacts/TARGET/)"
