#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# examples/decode_step refuses bad configurations with exit code 2 and a
# one-line message, before opening the runtime or touching a GPU (the first
# cases pass a wheel path that does not exist: the configuration error must
# come first). Runs anywhere; no GPU needed.
set -uo pipefail
bin=${1:?usage: test_decode_step_config.sh DECODE_STEP}
fails=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nowheel=(--jit-cache-wheel /nonexistent/jit.whl --tvmffi-wheel /nonexistent/tvm.whl --cache-dir "$tmp/cache")

# expect NAME RC PATTERN ARGS...: exit code RC and PATTERN (grep -E) in the one stderr line.
expect() {
  local name=$1 want_rc=$2 pattern=$3
  shift 3
  local out rc
  out=$("$bin" "$@" 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" != "$want_rc" ] || ! grep -Eq -e "$pattern" <<<"$out" || [ "$(wc -l <<<"$out")" != 1 ]; then
    echo "FAIL $name: exit $rc (want $want_rc), stderr: $out (want one line matching: $pattern)"
    fails=$((fails + 1))
  else
    echo "ok   $name: $out"
  fi
}

expect "head counts" 2 "num_q_heads 6 is not a multiple of num_kv_heads 4" --q-heads 6 --kv-heads 4 "${nowheel[@]}"
expect "head counts (small)" 2 "num_q_heads 4 is not a multiple of num_kv_heads 3" --small --kv-heads 3 "${nowheel[@]}"
expect "head_dim" 2 "head_dim 96 has no attention module" --head-dim 96 "${nowheel[@]}"
expect "cache too small" 2 "KV cache too small: 100 pages of 16 tokens cannot hold 8 sequences of 1024 prompt \+ 16 decode tokens \(65 pages each, 520 in all\)" \
  --pages 100 "${nowheel[@]}"
expect "cache too small (page size)" 2 "KV cache too small: 127 pages of 64 tokens" \
  --page-size 64 --batch 8 --context 1000 --steps 24 --pages 127 "${nowheel[@]}"
expect "batch range" 2 "--batch 0 is out of range" --batch 0 "${nowheel[@]}"
expect "batch range (high)" 2 "--batch 5000 is out of range" --batch 5000 "${nowheel[@]}"
expect "context range" 2 "--context 0 is out of range" --context 0 "${nowheel[@]}"
expect "steps range" 2 "--steps 0 is out of range" --steps 0 "${nowheel[@]}"
expect "check steps" 2 "--check needs --steps >= 3" --check --steps 2 "${nowheel[@]}"
expect "page size range" 2 "--page-size 0 is out of range" --page-size 0 "${nowheel[@]}"
expect "layers range" 2 "--layers 0 is out of range" --layers 0 "${nowheel[@]}"
expect "not a number" 2 "--batch: 'x8' is not an integer" --batch x8 "${nowheel[@]}"
expect "fill" 2 "--fill takes 'prefill' or 'random'" --fill zeros "${nowheel[@]}"
expect "gemm" 2 "--gemm takes 'lt' or 'ex'" --gemm cublas "${nowheel[@]}"
expect "gemm (no value)" 2 "--gemm takes 'lt' or 'ex'" --gemm
expect "unknown flag" 2 "unknown option '--frobnicate'" --frobnicate
expect "no wheel" 2 "cannot open the flashinfer-c runtime .*FIC_ERR_NOT_FOUND" "${nowheel[@]}"

# A missing module: the norm-only test wheel has norm but no attention module.
norm=${FIC_NORM_WHEEL:-${FIC_TEST_NORM_WHEEL:-}}
tvm=${FIC_TEST_TVMFFI_WHEEL:-}
if [ -n "$norm" ] && [ -f "$norm" ] && [ -n "$tvm" ] && [ -f "$tvm" ]; then
  expect "missing decode module" 2 \
    "missing module: module batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False is not in" \
    --fill random --jit-cache-wheel "$norm" --tvmffi-wheel "$tvm" --cache-dir "$tmp/cache"
  expect "missing prefill module (head_dim 256)" 2 \
    "missing module: module batch_(decode|prefill)_with_kv_cache_.*head_dim_qk_256" \
    --head-dim 256 --jit-cache-wheel "$norm" --tvmffi-wheel "$tvm" --cache-dir "$tmp/cache"
else
  echo "skip missing-module cases: no norm-only wheel (FIC_NORM_WHEEL) or tvm-ffi wheel configured"
fi

[ "$fails" = 0 ] || { echo "$fails case(s) failed"; exit 1; }
echo "all cases passed"
