#!/usr/bin/env bash
# Runs the whole test suite: installs what the build and the tests need (Debian packages), then
# formatting and lint checks, then every unit and end-to-end test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
ROCKSDB_LIB_DIR=$(scripts/deps.sh --test)
export ROCKSDB_LIB_DIR
export CARGO_TERM_COLOR=never

# Python packages the tests use, in a venv of their own: CIRCL's PyPDNS (a client the end-to-end
# tests drive), the OASIS stix2 library (its parser validates the STIX 2.1 exports), chDB
# (a current ClickHouse engine in-process, for the SQL dialect check; about 0.9 GB with its
# pandas/pyarrow dependencies, about a minute to install) and mmdb-writer (writes the .mmdb
# databases of the enrichment tests: crates/analytics/tests/make_mmdb.py).
venv=target/test-venv
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import pypdns, stix2, chdb, mmdb_writer" 2>/dev/null; then
  echo "== python test venv ($venv)"
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check pypdns==2.3.2 stix2==3.0.2 chdb==4.4.0 mmdb-writer==0.2.7
fi
export DNSLEDGER_TEST_PYTHON="$PWD/$venv/bin/python"

# ClickHouse 18.16 (Debian) on loopback for the ClickHouse store's tests: a single node, a
# 2-shard cluster and ZooKeeper for its replicated variant (scripts/clickhouse.sh), stopped and
# deleted when this script exits, however it exits.
chdir=target/test-clickhouse
scripts/clickhouse.sh clean "$chdir"
trap 'scripts/clickhouse.sh clean "$chdir" || true' EXIT
echo "== clickhouse servers ($chdir)"
if ! scripts/clickhouse.sh start "$chdir" >/dev/null; then
  echo "== the ClickHouse test servers did not start (see above)" >&2
  exit 1
fi
eval "$(scripts/clickhouse.sh env "$chdir")"

# The web console: its sources' unit tests (Node's test runner). Its npm packages (esbuild,
# the chart and graph libraries, playwright-core for the browser test) are installed by
# crates/console/build.rs (`npm ci` in web/) when cargo builds; Debian's chromium by deps.sh.
echo "== web console unit tests"
if [ ! -d web/node_modules ] || [ web/package-lock.json -nt web/node_modules/.package-lock.json ]; then
  (cd web && npm ci --no-audit --no-fund)
fi
(cd web && npm test)

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
# the Debian package built from this tree, installed for real, its services run and purged
echo "== package test"
scripts/package-test.sh
echo "== all tests passed"
