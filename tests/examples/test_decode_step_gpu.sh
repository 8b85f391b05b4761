#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# examples/decode_step on a GPU: --check (float64 reference of layer 0 and of
# the first 3 decode steps' logits, greedy eager == graph bit for bit, sampled
# ids in range), then a greedy run with --eager and one with the graph, each
# writing --json, whose tokens must be identical. Skips (77) without a GPU,
# without a wheel holding every module it needs, or without cuBLAS.
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

out=$("$bin" --check "${common[@]}" 2>&1)
rc=$?
echo "$out"
[ "$rc" = 0 ] || skip_or_fail "$rc" "$out"
grep -q "^check: passed" <<<"$out" || { echo "FAIL: no 'check: passed' line"; exit 1; }

# Greedy, small shape, --json: eager and graph must give the same tokens.
for mode in eager graph; do
  flags=(--small --greedy --batch 4 --context 64 --steps 12 --layers 2 --json "$tmp/$mode.json")
  [ "$mode" = eager ] && flags+=(--eager)
  out=$("$bin" "${flags[@]}" "${common[@]}" 2>&1)
  rc=$?
  echo "$out"
  [ "$rc" = 0 ] || skip_or_fail "$rc" "$out"
  grep '"phase":"tokens"' "$tmp/$mode.json" >"$tmp/$mode.tokens"
  for phase in '"phase":"prefill"' '"mode":"eager"'; do
    grep -q "$phase" "$tmp/$mode.json" || { echo "FAIL: $mode run wrote no $phase object"; exit 1; }
  done
done
grep -q '"mode":"graph"' "$tmp/graph.json" || { echo "FAIL: graph run wrote no graph object"; exit 1; }
if ! cmp -s "$tmp/eager.tokens" "$tmp/graph.tokens"; then
  echo "FAIL: greedy tokens differ between --eager and the graph:"
  cat "$tmp/eager.tokens" "$tmp/graph.tokens"
  exit 1
fi
echo "greedy tokens identical with and without the CUDA graph: $(cat "$tmp/graph.tokens")"
