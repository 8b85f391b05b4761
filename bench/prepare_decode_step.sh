#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On the build machine: what bench/run_decode_step_bench.sh needs on the GPU
# machine, in .device/ and .whl/ (git-ignored): everything
# bench/prepare_device.sh puts there, plus the decode_step example and a
# jit-cache wheel holding every module one decode step needs (norm, rope,
# page, silu_and_mul, sampling, bf16/hd128 batch_decode and FA2
# batch_prefill; default: the "full" wheel of `bash scripts/gpu-check.sh
# prepare`). Then, with the device tool:
#   run: bash bench/run_decode_step_bench.sh   carry: [".device", ".whl"]
#
# usage: bench/prepare_decode_step.sh [BUILD_DIR] [WHEEL]     (default build-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
WHEEL=${2:-$(ls .gpucheck/full/flashinfer_jit_cache-*.whl 2>/dev/null | head -1)}
EX="$BUILD/examples/decode_step/decode_step"
[ -x "$EX" ] || { echo "prepare_decode_step: $EX not built" >&2; exit 2; }
[ -n "$WHEEL" ] && [ -f "$WHEEL" ] || {
  echo "prepare_decode_step: no jit-cache wheel; run 'bash scripts/gpu-check.sh prepare' or pass one" >&2
  exit 2
}
missing=$(python3 - "$WHEEL" <<'PY'
import os, sys, zipfile
have = {os.path.basename(n)[:-3] for n in zipfile.ZipFile(sys.argv[1]).namelist() if n.endswith(".so")}
need = ["norm", "rope", "page", "silu_and_mul", "sampling",
        "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_"
        "head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False",
        "batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_"
        "head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False"]
print(" ".join(n for n in need if n not in have))
PY
)
[ -z "$missing" ] || { echo "prepare_decode_step: $WHEEL lacks: $missing" >&2; exit 2; }
bash bench/prepare_device.sh "$BUILD"
mkdir -p .device/build/examples/decode_step
cp "$EX" .device/build/examples/decode_step/
cp "$WHEEL" .device/decode.whl
du -sh .device .whl
total=$(du -sck .device .whl | tail -1 | cut -f1)
[ "$total" -le $((64 * 1024)) ] || { echo "prepare_decode_step: .device + .whl = ${total} KiB, over the 64 MiB carry limit" >&2; exit 1; }
