#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# examples/decode_step on a GPU, for --gemm lt (cublasLtMatmul) and --gemm ex
# (cublasGemmEx) each: --check (float64 reference of layer 0 and of the first
# 3 decode steps' logits, greedy eager == graph bit for bit, sampled ids in
# range), then a greedy run with --eager and one with the graph, each writing
# --json, whose tokens must be identical; then a --host-profile run (its table
# and its JSON object). Skips (77) without a GPU, without a wheel holding
# every module it needs, or without cuBLAS.
set -uo pipefail
bin=${1:?usage: test_decode_step_gpu.sh DECODE_STEP}
wheel=${FIC_ATTN_WHEEL:-${FIC_TEST_ATTN_WHEEL:-}}
tvm=${FIC_TEST_TVMFFI_WHEEL:-}
if [ -z "$wheel" ] || [ ! -f "$wheel" ] || [ -z "$tvm" ] || [ ! -f "$tvm" ]; then
  echo "SKIP: no jit-cache wheel with the attention modules (FIC_ATTN_WHEEL) or no tvm-ffi wheel"
  exit 77
fi
if ldd "$bin" 2>/dev/null | grep -q "not found"; then
  echo "SKIP: decode_step cannot load its libraries here:"
  ldd "$bin" | grep "not found"
  exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=(--jit-cache-wheel "$wheel" --tvmffi-wheel "$tvm" --cache-dir "$tmp/cache")

# skip_or_fail RC OUTPUT: 3 (no GPU) and a missing module skip; anything else non-zero fails.
skip_or_fail() {
  if [ "$1" = 3 ]; then echo "SKIP: no CUDA device"; exit 77; fi
  if [ "$1" = 2 ] && grep -q "missing module" <<<"$2"; then echo "SKIP: $2"; exit 77; fi
  echo "FAIL: exit $1"
  exit 1
}

# Both matrix-product paths: cublasLtMatmul (algorithms fixed at start-up, the
# default) and cublasGemmEx; each must pass --check (float64 tolerances,
# eager == graph bit for bit) and give identical greedy tokens with and
# without the graph.
for gemm in lt ex; do
  out=$("$bin" --check --gemm "$gemm" "${common[@]}" 2>&1)
  rc=$?
  echo "$out"
  [ "$rc" = 0 ] || skip_or_fail "$rc" "$out"
  grep -q "^check: passed" <<<"$out" || { echo "FAIL: --gemm $gemm: no 'check: passed' line"; exit 1; }

  # Greedy, small shape, --json: eager and graph must give the same tokens.
  for mode in eager graph; do
    j="$tmp/$gemm.$mode"
    flags=(--small --greedy --batch 4 --context 64 --steps 12 --layers 2 --gemm "$gemm" --json "$j.json")
    [ "$mode" = eager ] && flags+=(--eager)
    out=$("$bin" "${flags[@]}" "${common[@]}" 2>&1)
    rc=$?
    echo "$out"
    [ "$rc" = 0 ] || skip_or_fail "$rc" "$out"
    grep '"phase":"tokens"' "$j.json" | sed 's/"gemm":"[a-z]*",//; s/"mode":"[a-z]*",//' >"$j.tokens"
    for phase in '"phase":"prefill"' '"phase":"decode","mode":"eager"' "\"gemm\":\"$gemm\""; do
      grep -q "$phase" "$j.json" || { echo "FAIL: --gemm $gemm $mode run wrote no $phase object"; exit 1; }
    done
  done
  grep -q '"phase":"decode","mode":"graph"' "$tmp/$gemm.graph.json" || {
    echo "FAIL: --gemm $gemm graph run wrote no graph object"
    exit 1
  }
  if ! cmp -s "$tmp/$gemm.eager.tokens" "$tmp/$gemm.graph.tokens"; then
    echo "FAIL: --gemm $gemm: greedy tokens differ between --eager and the graph:"
    cat "$tmp/$gemm.eager.tokens" "$tmp/$gemm.graph.tokens"
    exit 1
  fi
  echo "--gemm $gemm: greedy tokens identical with and without the CUDA graph: $(cat "$tmp/$gemm.graph.tokens")"
done
# lt and ex may pick different algorithms (bf16 near-ties may flip): reported only.
if cmp -s "$tmp/lt.graph.tokens" "$tmp/ex.graph.tokens"; then
  echo "greedy tokens: --gemm lt == --gemm ex"
else
  echo "note: greedy tokens differ between --gemm lt and --gemm ex (different GEMM algorithms)"
fi

# --host-profile: the per-call table and one "host_profile" JSON object.
out=$("$bin" --small --eager --steps 4 --layers 2 --fill random --host-profile --json "$tmp/prof.json" "${common[@]}" 2>&1)
rc=$?
echo "$out"
[ "$rc" = 0 ] || skip_or_fail "$rc" "$out"
for want in "host profile: eager step" "decode_plan" "gemm_qkv" "decode_run" "sampling" "cuBLASLt qkv"; do
  grep -q "$want" <<<"$out" || { echo "FAIL: --host-profile printed no '$want'"; exit 1; }
done
grep -q '"phase":"host_profile"' "$tmp/prof.json" || { echo "FAIL: --host-profile wrote no host_profile object"; exit 1; }
echo "host profile: ok"
