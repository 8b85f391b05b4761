#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs every GPU benchmark of issues #5 and #12 in one go on a CUDA machine
# with no network, from what bench/prepare_device.sh put into .device/ and
# .whl/:
#   1. the machine: GPU, driver, CUDA, CPU, OS, versions -> machine.txt
#   2. FlashInfer's Python package (+ tvm-ffi) installed into /tmp/site; its
#      JIT cache under /tmp (FLASHINFER_WORKSPACE_BASE); norm JIT-built once
#      (timed); gdn_prefill_sm90 (ours, when present) placed where FlashInfer
#      loads prebuilt modules from (flashinfer/data/aot/), so no JIT build
#   3. bench_gpu (flashinfer-c: typed, raw, generic, empty launch, d2d copy)
#   4. bench/bench_py.py (FlashInfer Python, tvm-ffi direct, PyTorch eager)
#   5. bench/startup.py (fresh processes: fic cold/warm vs import flashinfer)
#   6. bench/plot.py: PNGs and Markdown tables
#   7. FIC_GDN_BUILD=1: if no gdn_prefill_sm90.so was carried, build it with
#      tools/kernel-modules/build.sh in the time left (FIC_DEADLINE_S seconds
#      after the start, default 560), resuming from carried objects
#      (.device/gdn-objs.tgz); then the gdn benchmarks if it finished.
#
# usage: bench/run_gpu_bench.sh [--quick]
# environment:
#   FIC_BENCH_OUT   where the few files to keep go (default $OUT, else bench-gpu-out):
#                   results.tgz (all CSVs, logs, tables.md, PNGs), run.log, machine.txt,
#                   gdn_prefill_sm90.so or gdn-objs.tgz when built here
#   FIC_DEVICE_DIR  the carried folder (default .device)
#   FIC_SECTIONS    which of norm,gdn,startup,probe,ncu to run (default norm,gdn,startup;
#                   probe: bench_gpu --breakdown and bench_py.py --probe-streams;
#                   ncu: Nsight Compute on bench/ncu_norm.py)
#   FIC_GDN_BUILD   1: build gdn_prefill_sm90 here if it was not carried
set -uo pipefail
cd "$(dirname "$0")/.."
QUICK=""
[ "${1:-}" = "--quick" ] && QUICK=--quick
DEV=${FIC_DEVICE_DIR:-.device}
KEEP=${FIC_BENCH_OUT:-${OUT:-bench-gpu-out}}
SECTIONS=${FIC_SECTIONS:-norm,gdn,startup}
DEADLINE=${FIC_DEADLINE_S:-560}
R=/tmp/fic-bench-results
MODS=/tmp/fic-modules
mkdir -p "$KEEP" "$R" "$MODS"
LOG="$KEEP/run.log"
T0=$(date +%s)
step() { echo "== [$(($(date +%s) - T0)) s] $*" | tee -a "$LOG"; }
has() { [[ ",$SECTIONS," == *",$1,"* ]]; }

step "machine"
{
  date -u +%Y-%m-%dT%H:%M:%SZ
  uname -srm
  grep -E '^(PRETTY_NAME)=' /etc/os-release
  ldd --version | head -1
  lscpu | grep -E 'Model name|^CPU\(s\)|Thread|Socket|MHz'
  grep MemTotal /proc/meminfo
  nvidia-smi
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,clocks.sm,clocks.mem,power.limit,pstate,persistence_mode --format=csv
  nvcc --version | tail -2
  python3 -c 'import sys, torch; print("python", sys.version.split()[0]); print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
  dpkg -l 2>/dev/null | grep -E 'libzip|libcurl|libssl3' | awk '{print $2, $3}'
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git status --porcelain 2>/dev/null | grep -q . && echo ' (dirty tree)')"
} >"$KEEP/machine.txt" 2>&1
cp "$KEEP/machine.txt" "$R/"

step "python packages"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  >>"$LOG" 2>&1 || step "pip install failed"
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export FLASHINFER_WORKSPACE_BASE=/tmp/fi-ws
python3 -c 'import importlib.metadata as m; print("flashinfer-python", m.version("flashinfer-python"), "apache-tvm-ffi", m.version("apache-tvm-ffi"))' \
  2>&1 | tee -a "$KEEP/machine.txt" "$R/machine.txt"

# flashinfer-c's binaries and the libraries the machine lacks (for bench_gpu only).
BIN="$DEV/build/bench/bench_gpu"
FIC_LD="$(realpath "$DEV/libs")"
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/lib \
  $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/lib " + p + "/nvidia/cuda_runtime/lib" for p in site.getsitepackages()))' 2>/dev/null); do
  [ -e "$d/libcudart.so.13" ] && FIC_LD="$FIC_LD:$d" && break
done
ldd_out=$(LD_LIBRARY_PATH="$FIC_LD" ldd "$BIN")
echo "$ldd_out" >>"$LOG"
echo "$ldd_out" | grep "not found" && step "bench_gpu: unresolved libraries (above)"
TVM=$(realpath "$(ls "$DEV"/wheels/apache_tvm_ffi-0.1.3-*.whl)")

# The kernel modules: norm (carried), gdn_prefill_sm90 (carried, or built below).
gdn_ready() { [ -f "$MODS/gdn_prefill_sm90/gdn_prefill_sm90.so" ]; }
make_jit_wheel() {
  rm -f "$MODS"/flashinfer_jit_cache-*.whl
  python3 tools/kernel-modules/make_wheel.py --modules-dir "$MODS" --out "$MODS" >>"$LOG" 2>&1
  JIT=$(realpath "$(ls "$MODS"/flashinfer_jit_cache-*.whl)")
  if gdn_ready; then # FlashInfer's Python API loads the same module as a prebuilt (AOT) one
    mkdir -p /tmp/site/flashinfer/data/aot/gdn_prefill_sm90
    cp "$MODS/gdn_prefill_sm90/gdn_prefill_sm90.so" /tmp/site/flashinfer/data/aot/gdn_prefill_sm90/
  fi
}
cp -r "$DEV/modules/." "$MODS/"
make_jit_wheel
step "modules: $(cd "$MODS" && ls -d */ | tr -d / | tr '\n' ' ')"

if has norm || has startup; then
  step "FlashInfer JIT build of norm"
  python3 bench/bench_py.py --jit-build --out "$R" 2>&1 | tee -a "$LOG"
fi

run_bench_gpu() { # NAME bench_gpu-options...
  local name=$1
  shift
  LD_LIBRARY_PATH="$FIC_LD" "$BIN" --jit-cache-wheel "$JIT" --tvmffi-wheel "$TVM" --out "$R" $QUICK "$@" 2>&1 |
    tee "$R/$name.log" | tail -n 60 >>"$LOG"
}
if has norm; then
  step "bench_gpu (flashinfer-c)"
  run_bench_gpu bench_gpu --no-gdn
  step "bench_py (FlashInfer Python, PyTorch)"
  python3 bench/bench_py.py --out "$R" --no-gdn $QUICK 2>&1 | tee "$R/bench_py.log" | tail -n 80 >>"$LOG"
fi
if has startup; then
  step "start-up in fresh processes"
  python3 bench/startup.py --bench-gpu "$(realpath "$BIN")" --jit-cache-wheel "$JIT" --tvmffi-wheel "$TVM" \
    --fic-ld-path "$FIC_LD" --out "$R" --reps "${FIC_STARTUP_REPS:-7}" 2>&1 | tee -a "$LOG"
fi

left=$((DEADLINE - ($(date +%s) - T0)))
if has gdn && ! gdn_ready && [ "${FIC_GDN_BUILD:-0}" = 1 ] && [ "$left" -gt 60 ]; then
  step "building gdn_prefill_sm90 ($left s left)"
  W=/tmp/kmod-wheels B=/tmp/kmod-out
  mkdir -p "$W" "$B"
  cp .whl/flashinfer_python-0.6.3-py3-none-any.whl "$DEV"/wheels/apache_tvm_ffi-0.1.*-cp310-*.whl "$W/"
  [ -f "$DEV/gdn-objs.tgz" ] && tar xzf "$DEV/gdn-objs.tgz" -C "$B"
  t=$(date +%s)
  FLASHINFER_C_DEV_CACHE=/tmp/kmod-cache timeout "$left" tools/kernel-modules/build.sh --wheels "$W" \
    --modules gdn_prefill_sm90 --jobs "$(nproc)" --out "$B" --no-wheel >"$R/gdn_build.log" 2>&1
  rc=$?
  step "gdn build: exit $rc after $(($(date +%s) - t)) s"
  if [ -f "$B/gdn_prefill_sm90/gdn_prefill_sm90.so" ]; then
    mkdir -p "$MODS/gdn_prefill_sm90"
    cp "$B/gdn_prefill_sm90/gdn_prefill_sm90.so" "$MODS/gdn_prefill_sm90/"
    cp "$B/gdn_prefill_sm90/gdn_prefill_sm90.so" "$B/gdn_prefill_sm90/build-info.txt" "$KEEP/" 2>/dev/null
    make_jit_wheel
  else
    # At most 16 MiB a file comes back: split (join with cat gdn-objs.tgz.* > gdn-objs.tgz).
    tar czf - -C "$B" .build 2>/dev/null | split -b 15m - "$KEEP/gdn-objs.tgz." &&
      step "partial gdn objects kept in $(ls "$KEEP" | grep -c gdn-objs) part(s) of gdn-objs.tgz"
  fi
fi
if has gdn && gdn_ready && [ $(($(date +%s) - T0)) -lt $((DEADLINE - 20)) ]; then
  step "gdn_prefill: flashinfer-c"
  run_bench_gpu bench_gpu_gdn --no-norm
  step "gdn_prefill: FlashInfer Python"
  python3 bench/bench_py.py --out "$R" --no-norm $QUICK 2>&1 | tee "$R/bench_py_gdn.log" | tail -n 30 >>"$LOG"
fi

if has probe; then # why figures differ: host-cost breakdown, GPU time by stream, one norm.so for both sides
  step "probe: bench_gpu --breakdown"
  run_bench_gpu bench_gpu_breakdown --breakdown
  tail -n 20 "$R/bench_gpu_breakdown.log"
  step "probe: FlashInfer Python on flashinfer-c's norm.so, legacy vs side stream"
  mkdir -p /tmp/site/flashinfer/data/aot/norm
  cp "$MODS/norm/norm.so" /tmp/site/flashinfer/data/aot/norm/
  python3 bench/bench_py.py --out "$R" --probe-streams 2>&1 | tee "$R/bench_py_probe.log" | tail -n 8
  rm -rf /tmp/site/flashinfer/data/aot/norm
fi

if has ncu; then # where gemma_rmsnorm's time goes at the largest shape (hardware counters)
  step "ncu: FlashInfer's RMSNorm kernels at 16384x8192 f16 (flashinfer-c's norm.so)"
  mkdir -p /tmp/site/flashinfer/data/aot/norm
  cp "$MODS/norm/norm.so" /tmp/site/flashinfer/data/aot/norm/
  NCU=$(command -v ncu || ls /usr/local/cuda/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  "$NCU" --clock-control none --target-processes all -k regex:RMSNorm --launch-skip 3 --launch-count 3 \
    --section SpeedOfLight --section Occupancy --section LaunchStats --section MemoryWorkloadAnalysis \
    --section WarpStateStats --metrics dram__bytes_read.sum,dram__bytes_write.sum \
    python3 bench/ncu_norm.py >"$R/ncu_norm.txt" 2>&1
  step "ncu: exit $?"
  grep -E "RMSNorm|Duration|DRAM Throughput|dram__bytes|Memory Throughput|Achieved Occupancy|Theoretical Occupancy|Block Size|Registers Per|Waves Per|Stall|Warp Cycles Per Issued|ncu_norm|==ERR|==WARN" \
    "$R/ncu_norm.txt" | head -n 90
  rm -rf /tmp/site/flashinfer/data/aot/norm
fi

step "tables and plots"
python3 bench/plot.py "$R" --img-dir "$R/img" --markdown >"$R/tables.md" 2>>"$LOG"
cp "$LOG" "$R/"
tar czf "$KEEP/results.tgz" -C "$R" .
tail -n 120 "$R/tables.md"
step "done"
