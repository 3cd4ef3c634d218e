#!/usr/bin/env bash
# Runs the whole test suite: installs what the build and the tests need (Debian packages), then
# formatting and lint checks, then every unit and end-to-end test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROCKSDB_LIB_DIR=$(scripts/deps.sh --test)
export ROCKSDB_LIB_DIR
export CARGO_TERM_COLOR=never

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== all tests passed"
