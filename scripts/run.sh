#!/usr/bin/env bash
# Builds dnsledger (installing its Debian build dependencies when missing) and runs
# `dnsledger serve --demo`: the embedded store in ./dnsledger-data (a small sample is loaded if it is
# empty), HTTP on 127.0.0.1:8053. Extra arguments go to `dnsledger serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROCKSDB_LIB_DIR=$(scripts/deps.sh)
export ROCKSDB_LIB_DIR
cargo build --release --locked
exec target/release/dnsledger serve --demo "$@"
