#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs everything flashinfer-c needs to build and test on a fresh Debian
# machine, and fetches the pinned apache-tvm-ffi 0.1.3 wheel (real
# libtvm_ffi.so + C/C++ headers for the test module) into a cache outside the
# repository. Idempotent: a second run only checks.
#
# Prints, as its last line, the directory where the wheel is unpacked
# (pass it to CMake as -DFIC_TVMFFI_ROOT=...).
set -euo pipefail

DEV_CACHE="${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}"
TVMFFI_VERSION=0.1.3
TVMFFI_WHEEL=apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl
TVMFFI_SHA256=48ad3df2224f1b0943344895c6cba2f3f0a53bc67ddafdd3e9d7a34f56100aa9

log() { echo "setup: $*" >&2; }

APT_PACKAGES=(build-essential cmake pkg-config git python3 python3-pip zip unzip
              libzip-dev libcurl4-openssl-dev libssl-dev libcmocka-dev
              clang libclang-rt-14-dev clang-format valgrind)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

mkdir -p "$DEV_CACHE/wheels"
wheel="$DEV_CACHE/wheels/$TVMFFI_WHEEL"
if [ ! -f "$wheel" ] || ! echo "$TVMFFI_SHA256  $wheel" | sha256sum -c --quiet - >/dev/null 2>&1; then
  log "downloading apache-tvm-ffi==$TVMFFI_VERSION with pip"
  rm -f "$wheel"
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
      --python-version 3.10 "apache-tvm-ffi==$TVMFFI_VERSION" -d "$tmp" >&2
  mv "$tmp/$TVMFFI_WHEEL" "$wheel.tmp" && rm -rf "$tmp"
  echo "$TVMFFI_SHA256  $wheel.tmp" | sha256sum -c --quiet - >&2 || { log "SHA-256 mismatch for $TVMFFI_WHEEL"; rm -f "$wheel.tmp"; exit 1; }
  mv "$wheel.tmp" "$wheel"
fi

root="$DEV_CACHE/apache_tvm_ffi-$TVMFFI_VERSION"
if [ ! -f "$root/.complete" ]; then
  rm -rf "$root.tmp" && mkdir -p "$root.tmp"
  unzip -q "$wheel" -d "$root.tmp"
  rm -rf "$root" && mv "$root.tmp" "$root" && touch "$root/.complete"
fi
log "tvm-ffi $TVMFFI_VERSION ready in $root"
echo "$root"
