#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# One device-tool call for a release candidate: the GPU checks
# (scripts/gpu-check.sh), the attention prefill benchmark (FA2 and FA3, both
# stacks) and the decode-step benchmark, sharing one machine start and one
# carried pack (under the tool's 64 MiB).
#
#   here:  bash scripts/gpu-check.sh prepare build [GDN_SO]   (FIC_DEVICE_WHEEL=...)
#          bash bench/prepare_decode_step.sh build-bench
#          cp build-bench/bench/bench_attention .device/build/bench/
#          bash scripts/gpu-final.sh pack
#   there: bash scripts/gpu-final.sh run        (carry: [".gpupack", ".whl"])
#
# `pack` puts .gpucheck into .gpupack/gpucheck.tgz and .device, less what
# .gpucheck already holds (the full wheel, the shared libraries), into
# .gpupack/device.tgz. Files back in $OUT (at most 8): gpucheck-logs.tgz,
# attn-prefill.tgz, and the decode-step runner's run.log, tables.md,
# decode_step.jsonl, decode_step.png, results.tgz.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

pack() {
  bash scripts/gpu-check.sh pack
  tar -czf .gpupack/device.tgz --exclude=.device/decode.whl --exclude=.device/attn.whl --exclude=.device/libs \
    --exclude='.device/wheels/apache_tvm_ffi-0.1.3-*' .device
  du -sh .gpupack .whl
}

run() {
  local out=${OUT:-/tmp/gpu-final-out} rc=0
  mkdir -p "$out"
  OUT=/tmp/gc-logs bash scripts/gpu-check.sh run || rc=1
  tar -C /tmp/gc-logs -czf "$out/gpucheck-logs.tgz" .
  rm -rf .device && tar -xzf .gpupack/device.tgz
  ln -sfn "$(pwd)/.gpucheck/libs" .device/libs
  cp .gpucheck/apache_tvm_ffi-0.1.3-*.whl .device/wheels/
  cp .gpucheck/full/*.whl .device/decode.whl
  ln -sf decode.whl .device/attn.whl
  # Attention prefill, FA2 and FA3, both stacks (bench_attention --only prefill).
  FIC_BENCH_OUT=/tmp/attn-out FIC_QUICK=1 FIC_SKIP_JIT=1 FIC_C_ARGS="--only prefill" FIC_PY_ARGS="--only-prefill" \
    bash bench/run_attention_bench.sh >/dev/null 2>&1 || rc=1
  tar -C /tmp/attn-out -czf "$out/attn-prefill.tgz" .
  tail -n 30 /tmp/attn-out/tables.md 2>/dev/null
  OUT="$out" bash bench/run_decode_step_bench.sh >/dev/null 2>&1 || rc=1
  rm -f "$out/machine.txt"
  tail -n 40 "$out/tables.md" 2>/dev/null
  echo "gpu-final: exit $rc"
  return $rc
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: $0 pack | run" >&2 && exit 2 ;;
esac
