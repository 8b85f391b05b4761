#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the attention benchmarks of issue #13 in one go on a CUDA machine with
# no network, from what bench/prepare_attention.sh put into .device/ and
# .whl/ (carry: [".device", ".whl"]):
#   1. the machine -> machine.txt
#   2. FlashInfer's Python package (+ tvm-ffi) into /tmp/site
#   3. bench_attention (flashinfer-c: typed, generic, raw safe call; d2d copy)
#   4. the same two modules placed where FlashInfer loads prebuilt (AOT)
#      modules from (flashinfer/data/aot/<name>/<name>.so), then
#      bench/bench_attention_py.py (FlashInfer's Python wrappers)
#   5. with the time left (FIC_DEADLINE_S after the start, default 280 s):
#      FlashInfer's own JIT build of both modules in a fresh process, timed
#   6. bench/attn_table.py: Markdown tables (printed last)
# Results: $OUT/results.tgz (CSVs, logs, tables.md), $OUT/run.log, $OUT/tables.md.
# Prefill only (FA2 and, with the wheel's bf16/hd128 `_sm90` module on SM 9.0, FA3; both sides):
#   FIC_C_ARGS="--only prefill" FIC_PY_ARGS="--only-prefill" FIC_SKIP_JIT=1 bash bench/run_attention_bench.sh
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DEV=${FIC_DEVICE_DIR:-.device}
KEEP=${FIC_BENCH_OUT:-${OUT:-bench-attn-out}}
DEADLINE=${FIC_DEADLINE_S:-280}
R=/tmp/fic-attn-results
mkdir -p "$KEEP" "$R"
LOG="$KEEP/run.log"
T0=$(date +%s)
step() { echo "== [$(($(date +%s) - T0)) s] $*" | tee -a "$LOG"; }

# shellcheck source=bench/device_env.sh
. bench/device_env.sh
WHEEL=$(realpath "$DEV/attn.whl")
TVM=$(realpath "$(ls "$DEV"/wheels/apache_tvm_ffi-0.1.3-*.whl)")

run_c() {
  step "bench_attention (flashinfer-c) ${FIC_C_ARGS:-}"
  # shellcheck disable=SC2086
  LD_LIBRARY_PATH="$FIC_LD" "$DEV/build/bench/bench_attention" --jit-cache-wheel "$WHEEL" --tvmffi-wheel "$TVM" \
    --out "$R" ${FIC_QUICK:+--quick} ${FIC_C_ARGS:-} 2>&1 | tee "$R/bench_attention.log" >>"$LOG"
}

run_py() {
  step "FlashInfer Python (same modules, loaded as prebuilt)"
  # the two modules of the wheel, where FlashInfer loads prebuilt (AOT) modules from
  install_aot "$WHEEL" batch_ 2>&1 | tee -a "$LOG"
  # shellcheck disable=SC2086
  PYTHONUNBUFFERED=1 python3 bench/bench_attention_py.py --out "$R" ${FIC_QUICK:+--quick} ${FIC_PY_ARGS:-} 2>&1 |
    tee "$R/bench_attention_py.log" >>"$LOG"
  echo "FlashInfer JIT cache after the Python benchmark (empty: no module was JIT-built):" >>"$R/bench_attention_py.log"
  find /tmp/fi-ws -name '*.so' >>"$R/bench_attention_py.log" 2>&1
}
if [ "${FIC_ORDER:-c-first}" = py-first ]; then
  run_py
  run_c
else
  run_c
  run_py
fi

left=$((DEADLINE - ($(date +%s) - T0)))
if [ "$left" -gt 30 ] && [ -z "${FIC_SKIP_JIT:-}" ]; then
  step "FlashInfer JIT build of both modules (fresh process, empty JIT cache, $left s at most)"
  rm -rf /tmp/site/flashinfer/data/aot/batch_*
  FLASHINFER_WORKSPACE_BASE=/tmp/fi-jit PYTHONUNBUFFERED=1 timeout "$left" \
    python3 bench/bench_attention_py.py --jit-build --out "$R" 2>&1 | tail -n 30 | tee "$R/jit_build.log" >>"$LOG"
  echo "jit build exit: ${PIPESTATUS[0]}" | tee -a "$R/jit_build.log" "$LOG"
else
  step "no time left for FlashInfer's JIT build ($left s)"
fi

step "tables"
python3 bench/attn_table.py "$R" >"$R/tables.md" 2>&1
cp "$R/tables.md" "$R/machine.txt" "$KEEP/"
tar -C "$R" -czf "$KEEP/results.tgz" .
step "done"
for f in bench_attention.log bench_attention_py.log; do echo "--- $f (tail)"; tail -n 8 "$R/$f"; done
cat "$R/tables.md"
