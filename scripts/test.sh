#!/usr/bin/env bash
# Runs the whole test suite: installs what the build and the tests need (Debian packages), then
# formatting and lint checks, then every unit and end-to-end test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROCKSDB_LIB_DIR=$(scripts/deps.sh --test)
export ROCKSDB_LIB_DIR
export CARGO_TERM_COLOR=never

# Python clients the end-to-end tests drive (CIRCL's PyPDNS), in a venv of their own.
venv=target/test-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pypdns" 2>/dev/null; then
  echo "== python test venv ($venv)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check pypdns==2.3.2
fi
export DNSLEDGER_TEST_PYTHON="$PWD/$venv/bin/python"

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== all tests passed"
