#!/usr/bin/env bash
# Fuzzes every target in fuzz/fuzz_targets (cargo-fuzz / libFuzzer, nightly toolchain) for a while each.
#
# Usage: bench/fuzz.sh [SECS] [TARGET...]     (default: 60 s, every target, one after the other)
#
# Seeds each target's corpus (fuzz/corpus/TARGET, kept between runs, not in git): collector formats
# from bench/gen_logs.py, hostile packets, messages, handshakes and API paths from
# bench/gen_hostile.py. Builds the targets with optimisations and debug assertions (so the
# `debug_assert!` cap checks in the parsers are live), runs each for SECS seconds (a single input
# taking over 10 s counts as a timeout; 2 GiB RSS as an OOM) and prints, per target: executions,
# exec/s, corpus size, and the crashes, timeouts and OOMs of this run; then a summary line. Exits
# non-zero if any target crashed, timed out or ran out of memory. An input that did is left in
# fuzz/artifacts/TARGET/ (reproduce: cargo +nightly fuzz run -O --debug-assertions TARGET FILE);
# turn it into a regression test beside the parser it broke. Logs: fuzz/artifacts/TARGET.log.
# Installs cargo-fuzz and a nightly toolchain when missing. Where no nightly toolchain can be had
# (or FUZZ_STABLE=1), builds the targets with the stable toolchain instead: libFuzzer's coverage
# instrumentation (the flags cargo-fuzz passes) without its address sanitizer, which in safe Rust
# mostly guards the C side; panics, timeouts and OOMs are caught the same way. Reproduce then
# with: fuzz/target/HOST/release/TARGET FILE.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SECS="${1:-60}"
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  for f in "$ROOT"/fuzz/fuzz_targets/*.rs; do TARGETS+=("$(basename "$f" .rs)"); done
fi
STABLE="${FUZZ_STABLE:-0}"
if [ "$STABLE" != 1 ]; then
  if command -v rustup >/dev/null && ! rustup toolchain list | grep -q '^nightly'; then
    rustup toolchain install nightly --profile minimal || STABLE=1
  fi
  [ "$STABLE" = 1 ] || command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked || STABLE=1
fi
[ "$STABLE" = 1 ] && echo "fuzz.sh: stable toolchain (FUZZ_STABLE=1, or no nightly to be had): coverage instrumentation without a sanitizer" >&2

# seeds: a whole small file (headers included) and single records, per format
gen_of() { # target -> gen_logs.py format(s)
  case "$1" in
    parse_zeek) echo "zeek zeek-json" ;;
    parse_ndjson) echo "cof" ;;
    sniff) echo "zeek suricata route53 gcp azure cof dnsdb zone dnstap" ;;
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
    dns_message|pcap|defrag|tcp_reassembly|dnstap_handshake|api_query)
      python3 "$ROOT/bench/gen_hostile.py" "$ROOT/fuzz/corpus" "$t" ;;
  esac
  # libFuzzer cannot start from an empty corpus directory
  [ -n "$(ls -A "$dir")" ] || printf '\0' > "$dir/empty"
done

cd "$ROOT/fuzz"
HOST=$(rustc -vV | sed -n 's/^host: //p')
if [ "$STABLE" = 1 ]; then
  # only the target artifacts are instrumented (--target keeps build scripts and proc macros out)
  RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks" \
    cargo build --release --target "$HOST" --bins >&2
else
  cargo +nightly fuzz build -O --debug-assertions >&2
fi
printf '%-18s %12s %9s %8s %8s %9s %6s\n' target execs "exec/s" corpus crashes timeouts ooms
total_execs=0
total_bad=0
for t in "${TARGETS[@]}"; do
  log="$ROOT/fuzz/artifacts/$t.log"
  mkdir -p "$ROOT/fuzz/artifacts/$t"
  mark="$ROOT/fuzz/artifacts/.$t.start"
  touch "$mark"
  start=$(date +%s)
  opts=(-max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
  if [ "$STABLE" = 1 ]; then
    "$ROOT/fuzz/target/$HOST/release/$t" "$ROOT/fuzz/corpus/$t" -artifact_prefix="$ROOT/fuzz/artifacts/$t/" \
      "${opts[@]}" > "$log" 2>&1 || true
  else
    cargo +nightly fuzz run -O --debug-assertions "$t" -- "${opts[@]}" > "$log" 2>&1 || true
  fi
  took=$(( $(date +%s) - start ))
  [ "$took" -gt 0 ] || took=1
  # executions: the final stats line, or the last status line when the run stopped early
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tr -d '#' | tail -1 || true)
  [ -n "$runs" ] || runs=0
  count() { find "$ROOT/fuzz/artifacts/$t" -type f -name "$1-*" -newer "$mark" | wc -l; }
  crashes=$(count crash)
  timeouts=$(count timeout)
  ooms=$(count oom)
  # a crash that left no file (e.g. the build failed) still counts
  if [ "$crashes" -eq 0 ] && [ "$timeouts" -eq 0 ] && [ "$ooms" -eq 0 ] && ! grep -q 'Done [0-9]* runs' "$log"; then
    crashes=1
  fi
  corpus=$(find "$ROOT/fuzz/corpus/$t" -type f | wc -l)
  total_execs=$((total_execs + runs))
  total_bad=$((total_bad + crashes + timeouts + ooms))
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1 || true)
  [ -n "$rate" ] || rate=$((runs / took))
  printf '%-18s %12s %9s %8s %8s %9s %6s\n' "$t" "$runs" "$rate" "$corpus" "$crashes" "$timeouts" "$ooms"
  rm -f "$mark"
done
echo "${#TARGETS[@]} targets, $SECS s each, $total_execs total execs, $total_bad total crashes/timeouts/ooms (inputs in fuzz/artifacts/TARGET/)"
[ "$total_bad" -eq 0 ]
