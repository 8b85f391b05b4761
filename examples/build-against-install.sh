#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Installs the build in BUILD_DIR into a temporary prefix, then builds the
# example consumer against it twice: with find_package (CMake) and with
# pkg-config, and runs both.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${1:-build}"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$BUILD_DIR" --prefix "$prefix" >/dev/null
libdir=$(dirname "$(find "$prefix" -name 'libflashinfer-c.so' | head -1)")
cmake -S examples/consumer -B "$prefix/consumer-build" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer-build" >/dev/null
LD_LIBRARY_PATH="$libdir" "$prefix/consumer-build/consumer" | head -3
PKG_CONFIG_PATH="$libdir/pkgconfig" cc -std=c11 -Wall -Werror examples/consumer/main.c -o "$prefix/consumer-pc" \
  $(PKG_CONFIG_PATH="$libdir/pkgconfig" pkg-config --cflags --libs flashinfer-c)
LD_LIBRARY_PATH="$libdir" "$prefix/consumer-pc" | head -1
readelf -d "$libdir/libflashinfer-c.so" | grep -q 'SONAME.*libflashinfer-c.so.0' && echo "SONAME libflashinfer-c.so.0"
# Only fic_ symbols are exported.
bad=$(nm -D --defined-only "$libdir/libflashinfer-c.so" | awk '$2 ~ /[TDB]/ {print $3}' | grep -v '^fic_' || true)
[ -z "$bad" ] || { echo "unexpected exported symbols: $bad"; exit 1; }
echo "exports: $(nm -D --defined-only "$libdir/libflashinfer-c.so" | awk '$2 ~ /T/' | wc -l) fic_ functions"
