#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Configure and build flashinfer-c (after scripts/setup.sh). Environment:
#   FIC_BUILD_DIR   build folder (default build)
#   FIC_SANITIZE    e.g. address,undefined (default none)
#   FIC_CC          C compiler (default: cc; clang for sanitizer builds)
set -euo pipefail
cd "$(dirname "$0")/.."
TVMFFI_ROOT=$(bash scripts/setup.sh)
BUILD_DIR="${FIC_BUILD_DIR:-build}"
args=(-DFIC_TVMFFI_ROOT="$TVMFFI_ROOT" -DFIC_SANITIZE="${FIC_SANITIZE:-}" -DFIC_WERROR=ON)
[ -n "${FIC_CC:-}" ] && args+=(-DCMAKE_C_COMPILER="$FIC_CC")
[ -n "${FIC_CXX:-}" ] && args+=(-DCMAKE_CXX_COMPILER="$FIC_CXX")
# A real norm.so test wheel, when tools/kernel-modules has built one (CPU tests use it).
norm_wheel=$(ls -t "${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}"/modules/*/flashinfer_jit_cache-*.whl 2>/dev/null | head -1 || true)
[ -n "$norm_wheel" ] && args+=(-DFIC_NORM_WHEEL="$norm_wheel")
cmake -S . -B "$BUILD_DIR" "${args[@]}" >&2
cmake --build "$BUILD_DIR" -j"$(nproc)" >&2
echo "$BUILD_DIR"
