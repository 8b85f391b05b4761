#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The test command: install dependencies, build, run every CPU test with CTest.
# GPU tests (label gpu) run only with FIC_GPU_TESTS=1 on a machine with a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV="${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}"
# The real kernel modules the CPU tests load, built from FlashInfer 0.6.3's
# sources (cached outside the repo; a few minutes on 2 cores the first time):
# norm.so alone in one wheel (the main job's fallback wheel), and the
# page/cascade/quantization/rope/sampling/topk/activation/decode/prefill
# modules in another (FIC_ATTN_WHEEL).
ATTN_MODULES="page cascade quantization rope sampling topk silu_and_mul gelu_and_mul gelu_tanh_and_mul \
batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False \
batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False"
if [ "${FIC_SKIP_KERNEL_BUILD:-0}" != 1 ]; then
  out=$(bash tools/kernel-modules/build.sh --modules norm 2>&1 | tee /dev/stderr | sed -n 's/^out: //p' | tail -1)
  bash tools/kernel-modules/build.sh --modules "$ATTN_MODULES" --out "$DEV/modules-attn/$(basename "$out")" >&2
fi
BUILD_DIR=$(bash scripts/build.sh)
label_args=(-LE gpu)
[ "${FIC_GPU_TESTS:-0}" = 1 ] && label_args=()
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" "${label_args[@]}" ${FIC_CTEST_ARGS:-}
