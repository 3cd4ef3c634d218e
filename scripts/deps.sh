#!/usr/bin/env bash
# Installs the Debian packages dnsledger needs: to build (RocksDB from Debian, libclang for its
# bindings) and, with --test, what the test suite uses. Installs only what is missing; uses sudo
# when not root. Prints the ROCKSDB_LIB_DIR to export (also set in .cargo/config.toml for amd64).
set -euo pipefail

build_pkgs=(librocksdb-dev libclang-dev libpcap-dev pkg-config python3)
test_pkgs=(dnsdbq)

pkgs=("${build_pkgs[@]}")
if [ "${1:-}" = "--test" ]; then
  pkgs+=("${test_pkgs[@]}")
fi

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
  if ! $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2; then
    $sudo apt-get update -q >&2
    $sudo apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: cargo not found; install a Rust toolchain (rustup) first" >&2
  exit 1
fi

multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
echo "/usr/lib/$multiarch"
