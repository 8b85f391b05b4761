#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On the build machine: what bench/run_layer_bench.sh needs on the GPU
# machine, in .device/ and .whl/ (git-ignored): everything
# bench/prepare_device.sh puts there, plus bench_layer and a jit-cache wheel
# holding the rope, silu_and_mul and sampling modules (default: the "full"
# wheel of `bash scripts/gpu-check.sh prepare`). Then, with the device tool:
#   run: bash bench/run_layer_bench.sh   carry: [".device", ".whl"]
#
# usage: bench/prepare_layer.sh [BUILD_DIR] [WHEEL]     (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
WHEEL=${2:-$(ls .gpucheck/full/flashinfer_jit_cache-*.whl 2>/dev/null | head -1)}
[ -x "$BUILD/bench/bench_layer" ] || { echo "prepare_layer: $BUILD/bench/bench_layer not built" >&2; exit 2; }
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || {
  echo "prepare_layer: no wheel with rope/silu_and_mul/sampling; run 'bash scripts/gpu-check.sh prepare' or pass one" >&2
  exit 2
}
bash bench/prepare_device.sh "$BUILD"
cp "$BUILD/bench/bench_layer" .device/build/bench/
cp "$WHEEL" .device/layer.whl
du -sh .device .whl
