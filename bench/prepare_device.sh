#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On the build machine: put into .device/ and .whl/ (both git-ignored via
# .git/info/exclude) what bench/run_gpu_bench.sh needs on a GPU machine that
# has no network and no libzip/libcurl: the built bench_gpu and library, the
# shared libraries they need (not glibc), the tvm-ffi wheels, the norm module
# (and gdn_prefill_sm90 when given), FlashInfer's Python wheel and the
# CPython 3.12 tvm-ffi wheel it needs. Then, with the device tool:
#   run: bash bench/run_gpu_bench.sh      carry: [".device", ".whl"]
#
# usage: bench/prepare_device.sh [BUILD_DIR]     (default build-bench)
# environment:
#   FIC_GDN_SO    a built gdn_prefill_sm90.so to carry
#   FIC_GDN_OBJS  a .tgz of a partial gdn build (tools/kernel-modules .build
#                 objects) for run_gpu_bench.sh to finish
#   FLASHINFER_C_DEV_CACHE  the dev cache (default ~/.cache/flashinfer-c-dev)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build-bench}
DEV=.device
CACHE=${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}
[ -x "$BUILD/bench/bench_gpu" ] || { echo "prepare_device: $BUILD/bench/bench_gpu not built" >&2; exit 2; }
for p in /.device/ /.whl/; do
  grep -qx "$p" .git/info/exclude 2>/dev/null || echo "$p" >>.git/info/exclude
done

rm -rf "$DEV"
mkdir -p "$DEV/build/bench" "$DEV/wheels" "$DEV/modules/norm" .whl
cp "$BUILD/bench/bench_gpu" "$DEV/build/bench/"
cp -L "$BUILD/libflashinfer-c.so.0" "$DEV/build/"
bash scripts/device-libs.sh "$BUILD/libflashinfer-c.so.0" "$DEV/libs" >/dev/null
rm -f "$DEV"/libs/libresolv.so.* "$DEV"/libs/linux-vdso* # glibc's own: the GPU machine's must be used
cp "$CACHE"/wheels/apache_tvm_ffi-0.1.3-cp310-*.whl "$CACHE"/wheels/apache_tvm_ffi-0.1.8.post2-cp310-*.whl "$DEV/wheels/"
cp "$(ls -t "$CACHE"/modules/*/norm/norm.so | head -1)" "$DEV/modules/norm/"
if [ -n "${FIC_GDN_SO:-}" ]; then
  mkdir -p "$DEV/modules/gdn_prefill_sm90"
  cp "$FIC_GDN_SO" "$DEV/modules/gdn_prefill_sm90/gdn_prefill_sm90.so"
fi
[ -n "${FIC_GDN_OBJS:-}" ] && cp "$FIC_GDN_OBJS" "$DEV/gdn-objs.tgz"

# FlashInfer's Python package and the tvm-ffi it needs, for CPython 3.12.
[ -f .whl/flashinfer_python-0.6.3-py3-none-any.whl ] ||
  cp "$CACHE/wheels/flashinfer_python-0.6.3-py3-none-any.whl" .whl/
ls .whl/apache_tvm_ffi-0.1.8.post2-cp312-*.whl >/dev/null 2>&1 ||
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 -d .whl apache-tvm-ffi==0.1.8.post2
du -sh "$DEV" .whl
