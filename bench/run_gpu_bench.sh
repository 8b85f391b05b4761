#!/usr/bin/env bash
# Runs the GPU benchmarks of issue #5 on a CUDA machine: bench_gpu (host cost,
# gemma_rmsnorm bandwidth, gdn_prefill, start-up), two fresh-process start-up
# runs, then bench/plot.py if matplotlib is there (otherwise run it later,
# anywhere, on the CSVs).
#
# usage: bench/run_gpu_bench.sh [--jit-cache-wheel W] [--tvmffi-wheel T] [-- bench_gpu options...]
# environment:
#   FIC_JIT_CACHE_WHEEL (or FLASHINFER_C_JIT_CACHE_WHEEL)  flashinfer_jit_cache wheel
#   FIC_TVMFFI_WHEEL    (or FLASHINFER_C_TVMFFI_WHEEL)     apache_tvm_ffi wheel
#   FIC_BUILD_DIR   build folder holding bench/bench_gpu (default build)
#   FIC_BENCH_OUT   where the CSVs and the log go (default bench-gpu-out)
#   FIC_BENCH_IMG   where plot.py writes PNGs (default docs/img)
# Extra options after -- go to bench_gpu (e.g. -- --quick, -- --chunk 128).
set -euo pipefail
cd "$(dirname "$0")/.."

JIT="${FIC_JIT_CACHE_WHEEL:-${FLASHINFER_C_JIT_CACHE_WHEEL:-}}"
TVM="${FIC_TVMFFI_WHEEL:-${FLASHINFER_C_TVMFFI_WHEEL:-}}"
while [ $# -gt 0 ]; do
  case "$1" in
    --jit-cache-wheel) JIT="$2"; shift 2 ;;
    --tvmffi-wheel) TVM="$2"; shift 2 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[ -n "$JIT" ] && [ -f "$JIT" ] || { echo "run_gpu_bench: no jit-cache wheel (FIC_JIT_CACHE_WHEEL or --jit-cache-wheel): '$JIT'" >&2; exit 2; }
[ -n "$TVM" ] && [ -f "$TVM" ] || { echo "run_gpu_bench: no tvm-ffi wheel (FIC_TVMFFI_WHEEL or --tvmffi-wheel): '$TVM'" >&2; exit 2; }
JIT=$(realpath "$JIT"); TVM=$(realpath "$TVM")

BUILD_DIR="${FIC_BUILD_DIR:-build}"
BIN="$BUILD_DIR/bench/bench_gpu"
OUT="${FIC_BENCH_OUT:-bench-gpu-out}"
IMG="${FIC_BENCH_IMG:-docs/img}"
[ -x "$BIN" ] || { echo "run_gpu_bench: $BIN not found; build it with: cmake --build $BUILD_DIR --target bench_gpu" >&2; exit 2; }
mkdir -p "$OUT"

# libcudart.so.13 must be loadable; look in the usual places if it is not.
if ldd "$BIN" | grep -q "libcudart.so.13 => not found"; then
  for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda-13*/lib64 /usr/local/cuda-13*/lib \
           /usr/lib/x86_64-linux-gnu $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/lib " + p + "/nvidia/cuda_runtime/lib" for p in site.getsitepackages()))' 2>/dev/null); do
    if [ -e "$d/libcudart.so.13" ]; then
      export LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
      echo "run_gpu_bench: using libcudart.so.13 from $d" >&2
      break
    fi
  done
fi
export LD_LIBRARY_PATH="$(realpath "$BUILD_DIR")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
ldd "$BIN" | grep "not found" && { echo "run_gpu_bench: unresolved libraries (above)" >&2; exit 1; }

# The log starts with the machine; at most 8 files land in $OUT (6 CSVs,
# bench_gpu.log, tables.md), as the GPU machine returns no more.
{
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "host: $(uname -srm), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git status --porcelain 2>/dev/null | grep -q . && echo ' (dirty tree)')"
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem --format=csv
  echo "jit_cache_wheel: $JIT ($(stat -c %s "$JIT") bytes)"
  echo "tvmffi_wheel: $TVM"
  echo "bench_gpu: $BIN $*"
  echo
} > "$OUT/bench_gpu.log" 2>&1 || true
cat "$OUT/bench_gpu.log"

# 1-4 in one run (its stdout table goes to the log too).
"$BIN" --jit-cache-wheel "$JIT" --tvmffi-wheel "$TVM" --out "$OUT" "$@" 2>&1 | tee -a "$OUT/bench_gpu.log"

# Start-up in fresh processes: cold (empty cache: extraction), then warm (cache hit).
tmp=$(mktemp -d "${TMPDIR:-/tmp}/fic-startup-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo
echo "-- start-up in fresh processes" | tee -a "$OUT/bench_gpu.log"
"$BIN" --startup-only --cache-dir "$tmp/cache" --label "fresh-process cold (extraction)" \
  --jit-cache-wheel "$JIT" --tvmffi-wheel "$TVM" --out "$OUT" 2>&1 | tee -a "$OUT/bench_gpu.log"
"$BIN" --startup-only --cache-dir "$tmp/cache" --label "fresh-process warm (cache hit)" \
  --jit-cache-wheel "$JIT" --tvmffi-wheel "$TVM" --out "$OUT" 2>&1 | tail -n 1 | tee -a "$OUT/bench_gpu.log"

echo
if python3 -c "import matplotlib" 2>/dev/null; then
  python3 bench/plot.py "$OUT" --img-dir "$IMG" --markdown | tee "$OUT/tables.md"
else
  python3 bench/plot.py "$OUT" --markdown --no-plots > "$OUT/tables.md" 2>/dev/null || true
  echo "matplotlib is not installed here: CSVs are in $OUT; make the plots later with"
  echo "  python3 bench/plot.py $OUT --img-dir $IMG --markdown"
fi
echo "results: $OUT (bench_gpu.log, *.csv, tables.md)"
