#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the RoPE / activation / sampling benchmarks of issue #14 in one go on
# a CUDA machine with no network, from what bench/prepare_layer.sh put into
# .device/ and .whl/ (carry: [".device", ".whl"]):
#   1. the machine -> machine.txt
#   2. FlashInfer's Python package (+ tvm-ffi) into /tmp/site, and every
#      module of the carried jit-cache wheel copied to where FlashInfer loads
#      prebuilt (AOT) modules from (flashinfer/data/aot/<name>/<name>.so), so
#      both sides run the same rope/silu_and_mul/sampling .so
#   3. bench_layer (flashinfer-c typed vs raw safe call; sampling GPU time);
#      it writes the logits both sides sample from to /tmp/fic-layer-logits
#   4. bench/bench_layer_py.py (FlashInfer Python), then the sampled ids of
#      both sides for the same seed/offset compared
#   5. bench/layer_table.py: Markdown tables (printed last)
# Results: $OUT/results.tgz (CSVs, logs, tables.md), $OUT/run.log, $OUT/tables.md.
# Environment: FIC_C_ARGS (extra bench_layer options, e.g. --breakdown),
# FIC_PY_ARGS (extra bench_layer_py.py options, e.g. --same-draws), FIC_QUICK=1,
# FIC_C_AGAIN=1 (bench_layer's sampling section once more after Python, into again/).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DEV=${FIC_DEVICE_DIR:-.device}
KEEP=${FIC_BENCH_OUT:-${OUT:-bench-layer-out}}
R=/tmp/fic-layer-results
mkdir -p "$KEEP" "$R" /tmp/fic-layer-logits
LOG="$KEEP/run.log"
T0=$(date +%s)
step() { echo "== [$(($(date +%s) - T0)) s] $*" | tee -a "$LOG"; }

# shellcheck source=bench/device_env.sh
. bench/device_env.sh
WHEEL=$(realpath "$DEV/layer.whl")
TVM=$(realpath "$(ls "$DEV"/wheels/apache_tvm_ffi-0.1.3-*.whl)")

step "bench_layer (flashinfer-c) ${FIC_C_ARGS:-}"
# shellcheck disable=SC2086
LD_LIBRARY_PATH="$FIC_LD" "$DEV/build/bench/bench_layer" --jit-cache-wheel "$WHEEL" --tvmffi-wheel "$TVM" \
  --out "$R" ${FIC_QUICK:+--quick} ${FIC_C_ARGS:-} 2>&1 | tee "$R/bench_layer.log" >>"$LOG"
echo "bench_layer exit: ${PIPESTATUS[0]}" | tee -a "$LOG"

step "FlashInfer Python (same modules, loaded as prebuilt)"
install_aot "$WHEEL" 2>&1 | tee -a "$LOG"
# shellcheck disable=SC2086
PYTHONUNBUFFERED=1 python3 bench/bench_layer_py.py --out "$R" ${FIC_QUICK:+--quick} ${FIC_PY_ARGS:-} 2>&1 |
  tee "$R/bench_layer_py.log" >>"$LOG"
echo "bench_layer_py exit: ${PIPESTATUS[0]}" | tee -a "$LOG"
echo "FlashInfer JIT cache after the Python benchmark (empty: no module was JIT-built):" >>"$R/bench_layer_py.log"
find /tmp/fi-ws -name '*.so' >>"$R/bench_layer_py.log" 2>&1

if [ -n "${FIC_C_AGAIN:-}" ]; then
  step "bench_layer again, sampling only (run-to-run check) -> again/"
  mkdir -p "$R/again"
  LD_LIBRARY_PATH="$FIC_LD" "$DEV/build/bench/bench_layer" --jit-cache-wheel "$WHEEL" --tvmffi-wheel "$TVM" \
    --out "$R/again" --no-host 2>&1 | tee "$R/again/bench_layer.log" >>"$LOG"
fi

step "same ids for the same seed/offset (C vs Python)"
if cmp "$R/layer_ids_c.csv" "$R/layer_ids_py.csv"; then echo "ids: identical" | tee -a "$LOG" "$R/ids_compare.txt"; else
  echo "ids: DIFFERENT" | tee -a "$LOG" "$R/ids_compare.txt"
  cat "$R/layer_ids_c.csv" "$R/layer_ids_py.csv" | tee -a "$R/ids_compare.txt"
fi

step "tables"
python3 bench/layer_table.py "$R" >"$R/tables.md" 2>&1
cp "$R/tables.md" "$R/machine.txt" "$KEEP/"
tar -C "$R" -czf "$KEEP/results.tgz" .
step "done"
for f in bench_layer.log bench_layer_py.log; do echo "--- $f (tail)"; tail -n 6 "$R/$f"; done
cat "$R/tables.md"
