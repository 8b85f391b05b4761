#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On the build machine: what bench/run_attention_bench.sh needs on the GPU
# machine, in .device/ and .whl/ (git-ignored): everything
# bench/prepare_device.sh puts there, plus bench_attention and a jit-cache
# wheel holding the bf16/hd128 batch_decode and FA2 batch_prefill modules
# (default: the "full" wheel of `bash scripts/gpu-check.sh prepare`). Then,
# with the device tool:  run: bash bench/run_attention_bench.sh   carry: [".device", ".whl"]
#
# usage: bench/prepare_attention.sh [BUILD_DIR] [ATTN_WHEEL]     (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
WHEEL=${2:-$(ls .gpucheck/full/flashinfer_jit_cache-*.whl 2>/dev/null | head -1)}
[ -x "$BUILD/bench/bench_attention" ] || { echo "prepare_attention: $BUILD/bench/bench_attention not built" >&2; exit 2; }
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || {
  echo "prepare_attention: no wheel with the attention modules; run 'bash scripts/gpu-check.sh prepare' or pass one" >&2
  exit 2
}
bash bench/prepare_device.sh "$BUILD"
cp "$BUILD/bench/bench_attention" .device/build/bench/
cp "$WHEEL" .device/attn.whl
du -sh .device .whl
