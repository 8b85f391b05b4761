#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Start-up from a 2 GB ZIP64 jit-cache wheel, on a GPU machine (issue #5):
# builds a ~2.2 GB wheel whose norm.so / gdn_prefill_sm90.so members are the
# real modules (placed past 2 GiB, so ZIP64 offsets), then times
#   - `unzip -p` of the three members flashinfer-c extracts, and
#   - bench_gpu --startup-only: cold (extract + load + first gemma_rmsnorm)
#     and warm (cache hit) in fresh processes, with peak RSS.
# usage: bench/run_big_startup.sh JIT_WHEEL TVMFFI_WHEEL OUTDIR   (build/ must hold bench_gpu)
set -euo pipefail
cd "$(dirname "$0")/.."
jit=$1 tvm=$2 out=$3
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
python3 -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); [open(sys.argv[2]+'/'+n.split('/')[-1],'wb').write(z.read(n)) for n in z.namelist() if n.endswith('.so')]" "$jit" "$work"
python3 -c "import zipfile,sys; open(sys.argv[2]+'/libtvm_ffi.so','wb').write(zipfile.ZipFile(sys.argv[1]).read('tvm_ffi/lib/libtvm_ffi.so'))" "$tvm" "$work"
big="$work/flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_x86_64.whl"
python3 bench/make_big_wheel.py "$big" 2.1 \
  flashinfer_jit_cache/jit_cache/norm/norm.so="$work/norm.so" \
  flashinfer_jit_cache/jit_cache/gdn_prefill_sm90/gdn_prefill_sm90.so="$work/gdn_prefill_sm90.so"
ls -l "$big" | tee "$out/big-startup.txt"
sync; echo 3 > /proc/sys/vm/drop_caches 2>/dev/null || true  # cold page cache where allowed
UNZIP_BIN=${UNZIP_BIN:-unzip}  # not UNZIP: Info-ZIP reads that variable as options
t0=$(date +%s.%N)
for m in flashinfer_jit_cache/jit_cache/norm/norm.so flashinfer_jit_cache/jit_cache/gdn_prefill_sm90/gdn_prefill_sm90.so; do
  "$UNZIP_BIN" -p "$big" "$m" > /dev/null
done
t1=$(date +%s.%N)
echo "unzip -p of norm.so + gdn_prefill_sm90.so: $(python3 -c "print(round(($t1 - $t0) * 1000, 1))") ms" | tee -a "$out/big-startup.txt"
for label in cold warm; do
  build/bench/bench_gpu --startup-only --cache-dir "$work/cache" --label "big-$label" --jit-cache-wheel "$big" \
    --tvmffi-wheel "$tvm" --out "$out" 2>&1 | tail -3 | tee -a "$out/big-startup.txt"
done
