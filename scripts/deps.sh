#!/usr/bin/env bash
# Installs the Debian packages dnsledger needs: to build (RocksDB from Debian, libclang for its
# bindings, Node.js/npm for the web console) and, with --test, what the test suite uses; with
# --clickhouse, only the ClickHouse servers and ZooKeeper that scripts/clickhouse.sh runs.
# Installs only what is missing; uses sudo when not root; keeps the installed packages from
# starting their own services. Prints the ROCKSDB_LIB_DIR to export (also set in
# .cargo/config.toml for amd64).
set -euo pipefail

build_pkgs=(librocksdb-dev libclang-dev libpcap-dev pkg-config python3)
# Node.js and npm build the web console (crates/console/build.rs runs `npm ci` and esbuild in
# web/); Debian's packages unless a node and npm are on the PATH already (e.g. NodeSource's).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  build_pkgs+=(nodejs npm)
fi
# clickhouse-server/-client 18.16 and zookeeper (with Java): the servers of scripts/clickhouse.sh;
# curl: its readiness and sanity checks, and the ClickHouse tests' clean-up.
clickhouse_pkgs=(clickhouse-server clickhouse-client zookeeper curl)
# dnsdbq: the DNSDB client; unbound, nsd, bind9, knot: real dnstap senders; dnstap-ldns, fstrm-bin: interop;
# publicsuffix: the Public Suffix List the analyses read dynamic-DNS suffixes from;
# openssl: the TLS tests' certificates (made at test time); ca-certificates: the system CA store.
# chromium: the headless browser the web console's end-to-end test drives (crates/cli/tests/console.rs).
test_pkgs=(openssl ca-certificates dnsdbq unbound nsd bind9 bind9-dnsutils knot knot-module-dnstap dnstap-ldns fstrm-bin publicsuffix chromium "${clickhouse_pkgs[@]}")

mode="${1:-}"
case "$mode" in
  "") pkgs=("${build_pkgs[@]}") ;;
  --test) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}") ;;
  --clickhouse) pkgs=("${clickhouse_pkgs[@]}") ;;
  *) echo "usage: $0 [--test | --clickhouse]" >&2; exit 2 ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "deps: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # the DNS servers and ClickHouse the tests start themselves must not be started as services
  # (on ports 53, 8123, 9000): a policy-rc.d that denies every start, unless one exists already
  own_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $sudo tee /usr/sbin/policy-rc.d >/dev/null
    $sudo chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  rc=0
  if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    $sudo apt-get update -q >&2
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2 || rc=$?
  fi
  [ "$own_policy" = 0 ] || $sudo rm -f /usr/sbin/policy-rc.d
  [ "$rc" = 0 ] || exit "$rc"
  if [ -d /run/systemd/system ]; then
    $sudo systemctl disable --now --quiet named.service knot.service nsd.service unbound.service \
      clickhouse-server.service 2>/dev/null || true
  fi
fi

if [ "$mode" = --clickhouse ]; then
  exit 0
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: cargo not found; install a Rust toolchain (rustup) first" >&2
  exit 1
fi

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
echo "/usr/lib/$multiarch"
