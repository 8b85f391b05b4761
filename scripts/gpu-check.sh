#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The GPU checks of a build made on this machine, run on a GPU machine that
# has no network (so it cannot run scripts/setup.sh): the GPU tests, the CPU
# tests (which behave differently where a GPU exists), and the main job
# (`flashinfer-c run`) with a norm-only wheel and with a wheel holding every
# module the tests build.
#
#   here:  bash scripts/gpu-check.sh prepare [BUILD_DIR] [GDN_SO]
#          (BUILD_DIR: default build, made by scripts/test.sh; GDN_SO: a
#          gdn_prefill_sm90.so built on the GPU machine, optional)
#   there: bash scripts/gpu-check.sh run        (carry: [".gpucheck"])
#   or, to stay under the device tool's 64 MiB: `prepare` then `pack` here
#   (.gpupack/gpucheck.tgz), and there `bash scripts/gpu-check.sh run`
#   with carry [".gpupack"]: run unpacks it first.
#
# The full wheel also holds the modules of $DEV/modules-extra/<key>/ (more
# head dims, window, soft cap, fp8 KV: built with tools/kernel-modules/build.sh
# --out there, kept apart so the CPU tests see the same wheel as CI) and those
# of FIC_DEVICE_WHEEL when set: a wheel of modules built on the GPU machine by
# tools/kernel-modules/jit_on_device.py (fa3, MLA). The GPU tests get the full
# wheel as FIC_ATTN_WHEEL, FIC_FA3_WHEEL and FIC_MLA_WHEEL.
#
# `prepare` puts into .gpucheck/ (ignored by git through .git/info/exclude):
# the build tree without objects, the shared libraries its programs need
# that a bare machine may lack (not glibc, not libstdc++: the GPU machine's
# newer ones must win), the tvm-ffi wheel, the norm-only test wheel, and a
# "full" wheel (norm, gdn_prefill_sm90 when given, and every module the
# CPU tests' module wheel holds: page, cascade, sampling, topk, rope, ...). `run` recreates the build's absolute paths (the repository at
# its build-time path, the dev cache under $HOME) and writes logs to $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
G=.gpucheck
DEV="${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}"

prepare() {
  local build=${1:-build} gdn=${2:-}
  grep -qx "/$G/" .git/info/exclude 2>/dev/null || echo "/$G/" >>.git/info/exclude
  rm -rf "$G" && mkdir -p "$G/libs" "$G/full"
  # (stress tests, fuzzers and benchmarks are not run there)
  tar -C "$build" --exclude='*.o' --exclude='*.a' --exclude='*.d' --exclude='CompilerId*' --exclude=./tests/stress \
    --exclude=./tests/fuzz --exclude=./bench -cf - . | (mkdir -p "$G/build" && tar -C "$G/build" -xf -)
  # Debug info is most of the test binaries' size and is not needed there.
  find "$G/build" -type f \( -perm -u+x -o -name '*.so' -o -name '*.so.*' \) -exec strip --strip-debug {} + 2>/dev/null || true
  find "$G/build" -type f -perm -u+x -exec ldd {} \; 2>/dev/null | awk '/=> \// {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|libstdc\+\+|libgcc_s|libcudart|libcuda|libcublas|libcublasLt|libflashinfer-c)[.-]' |
    grep -v -E 'ld-linux|libresolv' | while read -r f; do cp -L "$f" "$G/libs/"; done
  cp "$DEV"/wheels/apache_tvm_ffi-0.1.3-*.whl "$G/"
  local norm attn
  norm=$(sed -n 's/^FIC_NORM_WHEEL:FILEPATH=//p' "$build/CMakeCache.txt")
  attn=$(ls -t "$DEV"/modules-attn/*/flashinfer_jit_cache-*.whl | head -1)
  cp "$norm" "$G/norm.whl"
  local attn_dir m d
  attn_dir=$(dirname "$attn")
  mkdir -p "$G/mods/norm" && unzip -q -o -j "$norm" "*/norm.so" -d "$G/mods/norm"
  for d in "$attn_dir"/*/ "$DEV/modules-extra/$(basename "$attn_dir")"/*/; do
    m=$(basename "$d")
    [ -f "$d/$m.so" ] && mkdir -p "$G/mods/$m" && cp "$d/$m.so" "$G/mods/$m/"
  done
  if [ -n "${FIC_DEVICE_WHEEL:-}" ]; then
    python3 -c 'import sys, zipfile, os
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    if n.endswith(".so"):
        m = os.path.basename(n)[:-3]
        os.makedirs(os.path.join(sys.argv[2], m), exist_ok=True)
        open(os.path.join(sys.argv[2], m, m + ".so"), "wb").write(z.read(n))' "$FIC_DEVICE_WHEEL" "$G/mods"
  fi
  if [ -n "$gdn" ]; then mkdir -p "$G/mods/gdn_prefill_sm90" && cp "$gdn" "$G/mods/gdn_prefill_sm90/"; fi
  python3 tools/kernel-modules/make_wheel.py --modules-dir "$G/mods" --out "$G/full" >/dev/null
  rm -rf "$G/mods"
  {
    echo "repo=$(pwd)"
    echo "home=$HOME"
    echo "dev=$DEV"
    echo "norm_wheel=$norm"
    echo "attn_wheel=$attn"
    echo "commit='$(git rev-parse HEAD)$(git status --porcelain --untracked-files=no | grep -q . && echo ' (dirty)')'"
  } >"$G/paths"
  du -sh "$G"
}

pack() {
  mkdir -p .gpupack
  grep -qx "/.gpupack/" .git/info/exclude 2>/dev/null || echo "/.gpupack/" >>.git/info/exclude
  tar -czf .gpupack/gpucheck.tgz "$G"
  du -sh .gpupack
}

run() {
  if [ -f .gpupack/gpucheck.tgz ]; then rm -rf "$G" && tar -xzf .gpupack/gpucheck.tgz; fi
  # shellcheck disable=SC1090
  . "$G/paths"
  local here out=${OUT:-/tmp/gpu-check-out}
  here=$(pwd)
  mkdir -p "$out"
  [ "$here" = "$repo" ] || { mkdir -p "$(dirname "$repo")" && rm -rf "$repo" && ln -s "$here" "$repo"; }
  rm -rf build && ln -s "$G/build" build
  mkdir -p "$dev/wheels" "$(dirname "$norm_wheel")" "$(dirname "$attn_wheel")"
  cp "$G"/apache_tvm_ffi-0.1.3-*.whl "$dev/wheels/"
  rm -rf "$dev/apache_tvm_ffi-0.1.3" && mkdir -p "$dev/apache_tvm_ffi-0.1.3"
  python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" "$G"/apache_tvm_ffi-0.1.3-*.whl \
    "$dev/apache_tvm_ffi-0.1.3"
  chmod +x "$dev"/apache_tvm_ffi-0.1.3/tvm_ffi/lib/*.so
  cp "$G/norm.whl" "$norm_wheel"
  # The tests run the Python the build found; point that path at this machine's.
  local py
  py=$(sed -n 's/^_\{0,1\}Python3_EXECUTABLE:[A-Z]*=//p' "$G/build/CMakeCache.txt" | head -1)
  if [ -n "$py" ] && [ ! -x "$py" ]; then mkdir -p "$(dirname "$py")" && ln -sf "$(command -v python3)" "$py"; fi
  local full
  full=$(ls "$G"/full/*.whl)
  cp "$full" "$attn_wheel"
  export LD_LIBRARY_PATH="$here/$G/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # examples/decode_step links libcublas.so.13 (too large to carry): this
  # machine's CUDA toolkit or PyTorch's wheels provide it (else its test skips).
  local d
  for d in /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 \
    $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/lib " + p + "/nvidia/cublas/lib" for p in site.getsitepackages()))' 2>/dev/null); do
    [ -e "$d/libcublas.so.13" ] && export LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$d" && break
  done
  {
    date -u +%Y-%m-%dT%H:%M:%SZ
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
    echo "commit: $commit"
  } | tee "$out/machine.txt"
  local rc=0 cli="$G/build/flashinfer-c" tvm
  tvm=$(ls "$dev"/wheels/apache_tvm_ffi-0.1.3-*.whl)
  # FIC_GPU_CHECK_ONLY=<regex>: only the GPU tests matching it (a short re-check).
  if [ -z "${FIC_GPU_CHECK_ONLY:-}" ]; then main_jobs "$out" "$cli" "$tvm" || rc=1; fi
  echo "== ctest: GPU tests (FIC_NORM_WHEEL and FIC_ATTN_WHEEL = the full wheel)"
  (cd build && FIC_NORM_WHEEL="$attn_wheel" FIC_ATTN_WHEEL="$attn_wheel" FIC_FA3_WHEEL="$attn_wheel" \
    FIC_MLA_WHEEL="$attn_wheel" ctest -L gpu ${FIC_GPU_CHECK_ONLY:+-R "$FIC_GPU_CHECK_ONLY"} -V \
    --timeout 900 >"$out/ctest-gpu.log" 2>&1) || rc=1
  grep -E "^[0-9]+/[0-9]+ Test|tests passed|Skipped|Failed|FAILED" "$out/ctest-gpu.log" | tail -n 20
  if [ -z "${FIC_GPU_CHECK_ONLY:-}" ]; then
    echo "== ctest: CPU labels on the GPU machine"
    (cd build && ctest -L 'kernels|ffi|cli|modules' -j8 --output-on-failure >"$out/ctest-cpu.log" 2>&1) || rc=1
    grep -E "tests passed|Skipped|Failed" "$out/ctest-cpu.log" | tail -n 12
  fi
  echo "gpu-check: exit $rc"
  return $rc
}

# `flashinfer-c run` with the norm-only wheel and with the full wheel.
main_jobs() {
  local out=$1 cli=$2 tvm=$3 rc=0
  echo "== main job, norm-only wheel" | tee "$out/run-norm.log"
  local st=0
  "$cli" run --offline --cache-dir /tmp/gc-norm --jit-cache-wheel "$norm_wheel" --tvmffi-wheel "$tvm" \
    >>"$out/run-norm.log" 2>&1 || st=$?
  echo "exit $st" >>"$out/run-norm.log"
  [ "$st" = 0 ] || rc=1
  tail -n 25 "$out/run-norm.log"
  local mods="norm,page,cascade,sampling,batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False"
  mods="$mods,batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False"
  python3 -c 'import sys, zipfile; sys.exit(not any("gdn_prefill_sm90" in n for n in zipfile.ZipFile(sys.argv[1]).namelist()))' \
    "$attn_wheel" && mods="$mods,gdn_prefill_sm90"
  echo "== main job, full wheel ($mods)" | tee "$out/run-full.log"
  st=0
  "$cli" run --offline --cache-dir /tmp/gc-full --jit-cache-wheel "$attn_wheel" --tvmffi-wheel "$tvm" --modules "$mods" \
    >>"$out/run-full.log" 2>&1 || st=$?
  echo "exit $st" >>"$out/run-full.log"
  [ "$st" = 0 ] || rc=1
  tail -n 40 "$out/run-full.log"
  return $rc
}

case "${1:-}" in
  prepare) shift && prepare "$@" ;;
  pack) pack ;;
  run) run ;;
  *) echo "usage: $0 prepare [BUILD_DIR] [GDN_SO] | pack | run" >&2 && exit 2 ;;
esac
