#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build FlashInfer 0.6.3 TVM-FFI kernel modules (norm, page, cascade,
# quantization, rope, sampling, topk, *_and_mul, fa2 batch decode/prefill,
# gdn_prefill_sm90) for sm_90a from the flashinfer-python wheel sources, with
# FlashInfer's own JIT sources and flags (flashinfer/jit/{core,cpp_ext,norm,gdn,
# page,...,activation}.py, jit/attention/modules.py), and pack them into a test
# flashinfer_jit_cache wheel.  Everything is written OUTSIDE the repo.
# See README.md in this folder.
# shellcheck disable=SC2054,SC2034,SC2016  # commas in -gencode, namerefs, literal $( ) in generated scripts
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

FI_VERSION=0.6.3
TVM_FFI_HDR_VERSION=0.1.8.post2   # headers the modules are compiled against
TVM_FFI_RT_VERSION=0.1.3          # pinned runtime; used for the import check
declare -A WHEEL_SHA256=(
  [flashinfer_python-$FI_VERSION]=0fe2de934a4b3690c543dafb03f38d7bb4a762431abe8ae4f7292d6fef10c65d
  [apache_tvm_ffi-$TVM_FFI_HDR_VERSION]=ef922ef3ed971a4e161a0385ef9f67af379d52b0d83d62c08b79f6707b6660b5
  [apache_tvm_ffi-$TVM_FFI_RT_VERSION]=48ad3df2224f1b0943344895c6cba2f3f0a53bc67ddafdd3e9d7a34f56100aa9
)
# Default attention configurations (bf16 q/kv/o, head dim 128, int32 indices,
# posenc 0, no swa, no logits cap); any other batch_decode_with_kv_cache_* /
# fa2 batch_prefill_with_kv_cache_*_f16qk_* URI is accepted via --modules.
ATTN_SUFFIX=dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False
DECODE_DEFAULT=batch_decode_with_kv_cache_$ATTN_SUFFIX
PREFILL_DEFAULT=batch_prefill_with_kv_cache_${ATTN_SUFFIX}_f16qk_False
ALL_MODULES="norm gdn_prefill_sm90 page cascade quantization rope sampling silu_and_mul topk $DECODE_DEFAULT $PREFILL_DEFAULT"

CACHE_ROOT=${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}
WHEELS=$CACHE_ROOT/wheels
OUT=
JOBS=$(nproc 2>/dev/null || echo 1)
MODULES=$ALL_MODULES
KEEP_BUILD=0
NO_WHEEL=0
ONLY=
CUDA_HOME=${CUDA_HOME:-/usr/local/cuda}
CXX=${CXX:-c++}
NVCC=$CUDA_HOME/bin/nvcc

usage() {
  cat <<EOF
usage: $0 [--wheels DIR] [--out DIR] [--jobs N] [--modules "norm page ..."]
          [--keep-build] [--no-wheel] [--only GLOB]

  --wheels DIR   wheel directory (default \$FLASHINFER_C_DEV_CACHE/wheels =
                 $WHEELS). Missing wheels are fetched with 'pip download';
                 with all three wheels present no network is used.
  --out DIR      output dir (default \$FLASHINFER_C_DEV_CACHE/modules/<key>)
  --jobs N       parallel nvcc processes (default: nproc = $JOBS)
  --modules L    space-separated list (default: all of these):
                 $ALL_MODULES
                 also accepted: gelu_and_mul, gelu_tanh_and_mul and any other
                 batch_decode_with_kv_cache_* / fa2 batch_prefill_with_kv_cache_*_f16qk_*
                 URI (see README.md)
  --keep-build   keep objects/logs in OUT/.build after a successful link
  --no-wheel     do not (re)pack the flashinfer_jit_cache wheel
  --only GLOB    test mode: compile only the TUs whose basename matches GLOB
                 (e.g. 'gdn_prefill_kernel_bf16_g0b0a0i0.cu'); no link, no
                 wheel; objects stay in OUT/.build and are reused later
Env: CUDA_HOME (default /usr/local/cuda), CXX (default c++), FLASHINFER_C_DEV_CACHE.
EOF
}

die() { echo "build.sh: ERROR: $*" >&2; exit 1; }
log() { echo "build.sh: $*" >&2; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --wheels) WHEELS=${2:?--wheels needs a value}; shift 2 ;;
    --wheels=*) WHEELS=${1#*=}; shift ;;
    --out) OUT=${2:?--out needs a value}; shift 2 ;;
    --out=*) OUT=${1#*=}; shift ;;
    --jobs|-j) JOBS=${2:?--jobs needs a value}; shift 2 ;;
    --jobs=*) JOBS=${1#*=}; shift ;;
    --modules) MODULES=${2:?--modules needs a value}; shift 2 ;;
    --modules=*) MODULES=${1#*=}; shift ;;
    --keep-build) KEEP_BUILD=1; shift ;;
    --no-wheel) NO_WHEEL=1; shift ;;
    --only) ONLY=${2:?--only needs a value}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ $JOBS =~ ^[1-9][0-9]*$ ]] || die "--jobs must be a positive integer (got '$JOBS')"
# family_of MODULE -> prints the build family (how sources/flags are made) or fails
family_of() {
  case $1 in
    norm|gdn_prefill_sm90) echo "$1" ;;
    page|cascade|quantization|rope|sampling|topk) echo plain ;;
    silu_and_mul|gelu_and_mul|gelu_tanh_and_mul) echo act ;;
    batch_decode_with_kv_cache_dtype_q_*) echo decode ;;
    batch_prefill_with_kv_cache_dtype_q_*_f16qk_True|batch_prefill_with_kv_cache_dtype_q_*_f16qk_False)
      echo prefill_fa2 ;;
    *) return 1 ;;
  esac
}
for m in $MODULES; do
  family_of "$m" >/dev/null \
    || die "unknown module '$m' (known: $ALL_MODULES, gelu_and_mul, gelu_tanh_and_mul, other batch_decode/fa2 batch_prefill URIs)"
  case $(family_of "$m") in
    decode|prefill_fa2)
      python3 "$HERE/gen_sources.py" --check-uri "$m" || die "module '$m' is not a valid FlashInfer 0.6.3 URI" ;;
  esac
done
[[ -n ${MODULES// /} ]] || die "--modules is empty"

# ---------------------------------------------------------------- toolchain
[[ -x $NVCC ]] || die "nvcc not found at $NVCC (set CUDA_HOME)"
command -v "$CXX" >/dev/null || die "host compiler '$CXX' not found (set CXX)"
command -v python3 >/dev/null || die "python3 not found"
command -v nm >/dev/null || die "nm (binutils) not found"
NVCC_VERSION_TXT=$("$NVCC" --version)
NVCC_RELEASE=$(sed -n 's/.*release \([0-9]*\.[0-9]*\),.*/\1/p' <<<"$NVCC_VERSION_TXT")
NVCC_FULL=$(sed -n 's/.*, V\([0-9.]*\).*/\1/p' <<<"$NVCC_VERSION_TXT")
[[ -n $NVCC_RELEASE && -n $NVCC_FULL ]] || die "cannot parse 'nvcc --version' output"
# FlashInfer adds -static-global-template-stub=false only for CUDA >= 12.8
# (cpp_ext.build_cuda_cflags); sm_90a needs >= 12.3 anyway (aot.detect_sm_capabilities).
NVCC_MAJ=${NVCC_RELEASE%%.*}; NVCC_MIN=${NVCC_RELEASE#*.}
(( NVCC_MAJ > 12 || (NVCC_MAJ == 12 && NVCC_MIN >= 8) )) \
  || die "nvcc $NVCC_RELEASE is too old (this script assumes CUDA >= 12.8)"
CU_TAG=cu${NVCC_MAJ}${NVCC_MIN}                        # 13.0 -> cu130
CXX_VERSION=$("$CXX" --version | head -n1)
PY_INCLUDE=$(python3 -c 'import sysconfig; print(sysconfig.get_path("include"))')

# ------------------------------------------------------------------- wheels
sha256_of() { python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$1"; }

pip_cmd() {
  if command -v pip >/dev/null; then pip "$@"; else python3 -m pip "$@"; fi
}

# find_wheel DIST VERSION -> prints path; downloads when missing; verifies sha256
find_wheel() {
  local dist=$1 ver=$2 f=
  local key=$dist-$ver
  shopt -s nullglob
  local cands=("$WHEELS/$dist-$ver-"*.whl)
  shopt -u nullglob
  for c in "${cands[@]}"; do
    case $c in *-py3-none-any.whl|*manylinux*x86_64*.whl) f=$c; break ;; esac
  done
  if [[ -z $f ]]; then
    mkdir -p "$WHEELS"
    local pkg=${dist//_/-}
    log "wheel $key not in $WHEELS; running pip download ..."
    if [[ $dist == apache_tvm_ffi ]]; then
      pip_cmd download --no-deps --only-binary=:all: --platform manylinux_2_28_x86_64 \
        --python-version 3.10 "$pkg==$ver" -d "$WHEELS" >&2 \
        || die "pip download $pkg==$ver failed (no network? put the wheel into $WHEELS or pass --wheels DIR)"
    else
      pip_cmd download --no-deps "$pkg==$ver" -d "$WHEELS" >&2 \
        || die "pip download $pkg==$ver failed (no network? put the wheel into $WHEELS or pass --wheels DIR)"
    fi
    shopt -s nullglob
    cands=("$WHEELS/$dist-$ver-"*.whl)
    shopt -u nullglob
    for c in "${cands[@]}"; do
      case $c in *-py3-none-any.whl|*manylinux*x86_64*.whl) f=$c; break ;; esac
    done
    [[ -n $f ]] || die "pip download did not produce a $key wheel in $WHEELS"
  fi
  local want=${WHEEL_SHA256[$key]} got
  got=$(sha256_of "$f")
  [[ $got == "$want" ]] || die "sha256 mismatch for $f: got $got, expected $want"
  echo "$f"
}

FI_WHEEL=$(find_wheel flashinfer_python "$FI_VERSION")
HDR_WHEEL=$(find_wheel apache_tvm_ffi "$TVM_FFI_HDR_VERSION")
RT_WHEEL=$(find_wheel apache_tvm_ffi "$TVM_FFI_RT_VERSION")
log "flashinfer wheel : $FI_WHEEL"
log "tvm-ffi headers  : $HDR_WHEEL"
log "tvm-ffi runtime  : $RT_WHEEL (sha256 verified)"

# ------------------------------------------------------- temp source tree
TMP=$(mktemp -d "${TMPDIR:-/tmp}/fi-kmod.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
case $TMP in "$HERE"*|"$(cd "$HERE/../.." && pwd)"*) die "temp dir $TMP is inside the repo; set TMPDIR" ;; esac
FI_DATA=$TMP/src/flashinfer/data       # == flashinfer.jit.env.FLASHINFER_DATA
TVMFFI_INC=$TMP/src/tvm_ffi/include    # == tvm_ffi.libinfo.find_include_path()
GEN=$TMP/generated                     # == FLASHINFER_GEN_SRC_DIR

# ------------------------------------------------------------------ flags
# cpp_ext.get_system_includes + build_common_cflags
common_cflags=(
  -DPy_LIMITED_API=0x03090000            # not Py_GIL_DISABLED
  -D_GLIBCXX_USE_CXX11_ABI=1             # torch._C._GLIBCXX_USE_CXX11_ABI (torch>=2.7 wheels)
  -isystem "$PY_INCLUDE"                 # sysconfig.get_path("include")
  -isystem "$CUDA_HOME/include"
  -isystem "$CUDA_HOME/include/cccl"
  -isystem "$TVMFFI_INC"                 # tvm_ffi.libinfo.find_include_path()
  -isystem "$TVMFFI_INC"                 # tvm_ffi.libinfo.find_dlpack_include_path() (same dir in wheel)
  -isystem "$FI_DATA/include"            # FLASHINFER_INCLUDE_DIR
  -isystem "$FI_DATA/csrc"               # FLASHINFER_CSRC_DIR
  -isystem "$FI_DATA/cutlass/include"    # CUTLASS_INCLUDE_DIRS[0]
  -isystem "$FI_DATA/cutlass/tools/util/include"  # CUTLASS_INCLUDE_DIRS[1]
  -isystem "$FI_DATA/spdlog/include"     # SPDLOG_INCLUDE_DIR
)
# cpp_ext.build_cuda_cflags (CC unset -> no -ccbin)
cuda_base=("${common_cflags[@]}" --compiler-options=-fPIC --expt-relaxed-constexpr
           -static-global-template-stub=false)
# CompilationContext.get_nvcc_flags_list() with FLASHINFER_CUDA_ARCH_LIST="9.0a"
global_arch=(-gencode=arch=compute_90a,code=sm_90a)
global_common=(-DFLASHINFER_ENABLE_FP8_E8M0 -DFLASHINFER_ENABLE_FP4_E2M1)
# core.gen_jit_spec (non-debug; FLASHINFER_NVCC_THREADS unset -> 1)
jit_spec=(--threads=1 -use_fast_math -DFLASHINFER_ENABLE_F16 -DFLASHINFER_ENABLE_BF16
          -DFLASHINFER_ENABLE_FP8_E4M3 -DFLASHINFER_ENABLE_FP8_E5M2 -DNDEBUG -O3)
# core.sm90a_nvcc_flags
sm90a_nvcc_flags=(-gencode=arch=compute_90a,code=sm_90a -DCUTE_SM90_EXTENDED_MMA_SHAPES_ENABLED
                  "${global_common[@]}")

# norm.gen_norm_module: no -gencode/-std in module flags -> global flags (arch
# included) + "-std=c++17" prepended to the jit_spec list.
norm_cuda_cflags=("${cuda_base[@]}" "${global_arch[@]}" "${global_common[@]}"
                  -std=c++17 "${jit_spec[@]}" -DENABLE_BF16 -DENABLE_FP8)
# gdn.gen_gdn_prefill_sm90_module: module has -gencode -> global non-arch flags
# only; module has -std -> no -std=c++17.
gdn_prefill_sm90_cuda_cflags=("${cuda_base[@]}" "${global_common[@]}" "${jit_spec[@]}"
                  "${sm90a_nvcc_flags[@]}" -DFLAT_SM90A_ENABLED -std=c++20)
# page/cascade/quantization/rope/sampling/topk (jit/<family>.py), the activation
# modules (jit/activation.py) and the fa2 decode/prefill modules
# (jit/attention/modules.py gen_customize_batch_{decode,prefill}_module) all call
# gen_jit_spec(name, sources) with no extra flags: global flags + -std=c++17 + jit_spec.
plain_cuda_cflags=("${cuda_base[@]}" "${global_arch[@]}" "${global_common[@]}"
                   -std=c++17 "${jit_spec[@]}")

# cpp_ext.generate_ninja_build_for_op (rule link: $cxx $in $ldflags -o $out)
ldflags=(-shared "-L$CUDA_HOME/lib64" "-L$CUDA_HOME/lib64/stubs" -lcudart -lcuda)

# Source lists (basenames, in FlashInfer's order).
norm_sources=(norm.cu flashinfer_norm_binding.cu)
gdn_prefill_sm90_sources=()
for dtype_name in half bf16; do
  for g in 0 1; do for b in 0 1; do for a in 0 1; do for i in 0 1; do
    gdn_prefill_sm90_sources+=("gdn_prefill_kernel_${dtype_name}_g${g}b${b}a${a}i${i}.cu")
  done; done; done; done
done
gdn_prefill_sm90_sources+=(gdn_prefill_launcher.cu prefill_kernel_delta_rule_sm90.cu)

# sources_of MODULE -> fills SRCS with the TU basenames in FlashInfer's order
sources_of() {
  local m=$1
  case $(family_of "$m") in
    norm) SRCS=("${norm_sources[@]}") ;;
    gdn_prefill_sm90) SRCS=("${gdn_prefill_sm90_sources[@]}") ;;
    plain)   # jit/{page,cascade,quantization,rope,sampling,topk}.py
      case $m in
        sampling) SRCS=(sampling.cu renorm.cu flashinfer_sampling_binding.cu) ;;
        *) SRCS=("$m.cu" "flashinfer_${m}_binding.cu") ;;
      esac ;;
    act) SRCS=("$m.cu") ;;   # jit/activation.py gen_act_and_mul_module
    decode) SRCS=(batch_decode_kernel.cu batch_decode.cu batch_decode_jit_binding.cu) ;;
    prefill_fa2)
      SRCS=()
      local mm
      for mm in 0 1 2 3; do
        SRCS+=("batch_prefill_paged_kernel_mask_$mm.cu" "batch_prefill_ragged_kernel_mask_$mm.cu")
      done
      SRCS+=(batch_prefill.cu batch_prefill_jit_binding.cu) ;;
  esac
}
# cflags_var MODULE -> name of the array holding its nvcc flags
cflags_var() {
  case $(family_of "$1") in
    norm|gdn_prefill_sm90) echo "${1}_cuda_cflags" ;;
    *) echo plain_cuda_cflags ;;
  esac
}
# generator_hashes MODULE -> hashes of the repo scripts that write its sources
generator_hashes() {
  case $(family_of "$1") in
    gdn_prefill_sm90) sha256_of "$HERE/render_jinja.py" | sed 's/^/render_jinja.py /' ;;
    act|decode|prefill_fa2)
      sha256_of "$HERE/render_jinja.py" | sed 's/^/render_jinja.py /'
      sha256_of "$HERE/gen_sources.py" | sed 's/^/gen_sources.py /' ;;
  esac
}

# ---------------------------------------------------------- cache key
# Hash of everything that determines the binaries, with machine-specific
# paths replaced by placeholders.
canon() { sed -e "s#$TMP#<tmp>#g" -e "s#$CUDA_HOME#<cuda>#g" -e "s#$PY_INCLUDE#<py_include>#g"; }
manifest_module() {
  local fv
  fv=$(cflags_var "$1")
  local -n fl=$fv
  sources_of "$1"
  echo "[$1] cuda_cflags: ${fl[*]}"
  echo "[$1] sources: ${SRCS[*]}"
  generator_hashes "$1" | sed "s/^/[$1] generator: /"
}
manifest_header() {
  echo "flashinfer_python $FI_VERSION ${WHEEL_SHA256[flashinfer_python-$FI_VERSION]}"
  echo "tvm_ffi_headers $TVM_FFI_HDR_VERSION ${WHEEL_SHA256[apache_tvm_ffi-$TVM_FFI_HDR_VERSION]}"
  echo "nvcc $NVCC_FULL"
  echo "cxx $CXX_VERSION"
  echo "ldflags: ${ldflags[*]}"
}
# The cache key covers every default module; each built module also gets its
# own manifest (<out>/<m>/flags-manifest.txt) that decides whether it is a hit.
manifest() {
  manifest_header
  for m in $ALL_MODULES; do manifest_module "$m"; done
}
module_manifest() { { manifest_header; manifest_module "$1"; } | canon; }
MANIFEST=$(manifest | canon)
FLAGS_HASH=$(printf '%s\n' "$MANIFEST" | python3 -c 'import hashlib,sys; print(hashlib.sha256(sys.stdin.buffer.read()).hexdigest()[:12])')
KEY=fi${FI_VERSION}-tvmffi${TVM_FFI_HDR_VERSION}-nvcc${NVCC_FULL}-sm90a-${FLAGS_HASH}
OUT=${OUT:-$CACHE_ROOT/modules/$KEY}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
REPO_ROOT=$(cd "$HERE/../.." && pwd)
case $OUT/ in "$REPO_ROOT"/*) die "output dir $OUT is inside the repo" ;; esac
# A built module whose manifest differs from ours was made with other flags,
# sources or toolchain: refuse to mix it into this output dir.
for m in $MODULES; do
  mf=$OUT/$m/flags-manifest.txt
  if [[ -f $mf ]]; then
    [[ $(cat "$mf") == "$(module_manifest "$m")" ]] \
      || die "$OUT/$m was built with a different flag set/toolchain (see $mf); use another --out"
  elif [[ -f $OUT/$m/$m.so ]]; then
    die "$OUT/$m/$m.so has no flags-manifest.txt (older build.sh); use another --out"
  fi
done
printf '%s\n' "$MANIFEST" > "$OUT/flags-manifest.txt"   # all default modules (the key's input)
log "cache key        : $KEY"
log "output dir       : $OUT"

# ---------------------------------------------------------- unpack sources
unpacked=0
unpack_sources() {
  (( unpacked )) && return 0
  log "unpacking sources to $TMP/src ..."
  python3 - "$FI_WHEEL" "$HDR_WHEEL" "$TMP/src" <<'PY'
import sys, zipfile
fi, hdr, dest = sys.argv[1:4]
with zipfile.ZipFile(fi) as z:
    z.extractall(dest, [n for n in z.namelist() if (n.startswith("flashinfer/data/")
                        and n.split("/")[2] in ("csrc", "include", "cutlass", "spdlog"))
                        or n.startswith("flashinfer/jit/")])   # gen_sources.py reads jit/*.py
with zipfile.ZipFile(hdr) as z:
    z.extractall(dest, [n for n in z.namelist() if n.startswith("tvm_ffi/include/")])
PY
  [[ -f $TVMFFI_INC/tvm/ffi/extra/cuda/device_guard.h ]] \
    || die "tvm-ffi $TVM_FFI_HDR_VERSION headers lack tvm/ffi/extra/cuda/device_guard.h"
  unpacked=1
}

# prepare_sources MODULE -> fills SRC_PATHS
prepare_sources() {
  local m=$1 s
  SRC_PATHS=()
  sources_of "$m"
  case $(family_of "$m") in
    norm|plain)
      for s in "${SRCS[@]}"; do SRC_PATHS+=("$FI_DATA/csrc/$s"); done ;;
    act|decode|prefill_fa2)
      # jit/activation.py, jit/attention/modules.py: sources (and config.inc)
      # are written to FLASHINFER_GEN_SRC_DIR[/<uri>]; gen_sources.py renders
      # the wheel's templates there and prints the TU paths in order.
      local gd=$GEN listing
      [[ $(family_of "$m") == act ]] || gd=$GEN/$m
      listing=$(python3 "$HERE/gen_sources.py" --fi-root "$TMP/src/flashinfer" --gen-dir "$gd" "$m") \
        || die "[$m] generating sources failed"
      mapfile -t SRC_PATHS <<<"$listing"
      ;;
    gdn_prefill_sm90)
      # gdn.gen_gdn_prefill_sm90_module: render 32 instantiations + copy 2 files
      local gd=$GEN/$m tmpl=$FI_DATA/csrc/gdn_prefill_sm90_kernel_inst.jinja
      mkdir -p "$gd"
      local dtype_name dtype g b a i tf=(false true)
      for dtype_name in half bf16; do
        [[ $dtype_name == half ]] && dtype=half || dtype=nv_bfloat16
        for g in 0 1; do for b in 0 1; do for a in 0 1; do for i in 0 1; do
          local f=$gd/gdn_prefill_kernel_${dtype_name}_g${g}b${b}a${a}i${i}.cu
          python3 "$HERE/render_jinja.py" "$tmpl" "$f" dtype=$dtype is_gva="${tf[$g]}" \
            needs_beta="${tf[$b]}" needs_alpha="${tf[$a]}" init_state="${tf[$i]}" \
            || die "rendering $f failed"
          SRC_PATHS+=("$f")
        done; done; done; done
      done
      for s in gdn_prefill_launcher.cu prefill_kernel_delta_rule_sm90.cu; do
        cp "$FI_DATA/csrc/$s" "$gd/$s"; SRC_PATHS+=("$gd/$s")
      done ;;
  esac
  (( ${#SRC_PATHS[@]} == ${#SRCS[@]} )) || die "internal: $m source count mismatch"
  for (( s = 0; s < ${#SRCS[@]}; s++ )); do
    [[ $(basename "${SRC_PATHS[s]}") == "${SRCS[s]}" ]] || die "internal: $m source list mismatch"
  done
}

# ---------------------------------------------------------------- build
now() { date +%s; }
build_module() {
  local m=$1 so=$OUT/$1/$1.so
  if [[ -f $so && -z $ONLY ]]; then
    log "[$m] cache hit: $so"
    return 0
  fi
  unpack_sources
  prepare_sources "$m"
  local cv
  cv=$(cflags_var "$m")
  local -n cflags=$cv
  local bdir=$OUT/.build/$m
  mkdir -p "$bdir/cmds"
  rm -f "$bdir"/cmds/*.sh
  # objects left by an interrupted build are reused only if made with the same manifest
  if [[ ! -f $bdir/flags-manifest.txt || $(cat "$bdir/flags-manifest.txt") != "$(module_manifest "$m")" ]]; then
    rm -f "$bdir"/*.cuda.o "$bdir"/*.cuda.o.d
    module_manifest "$m" > "$bdir/flags-manifest.txt"
  fi
  local objs=() n=0 s obj t0
  for s in "${SRC_PATHS[@]}"; do
    obj=$bdir/$(basename "${s%.cu}").cuda.o          # JitSpec.get_object_paths naming
    objs+=("$obj")
    n=$((n + 1))
    local tmpo=${obj%.cuda.o}.tmp.cuda.o name
    name=$(basename "$s")
    # shellcheck disable=SC2053
    if [[ -n $ONLY && $name != $ONLY ]]; then continue; fi
    if [[ -f $obj ]]; then continue; fi                 # resume an interrupted build
    {
      echo "#!/usr/bin/env bash"
      printf 't0=$(date +%%s)\n'
      printf 'if '; printf '%q ' "$NVCC" --generate-dependencies-with-compile \
        --dependency-output "$obj.d" "${cflags[@]}" -c "$s" -o "$tmpo"
      printf '> %q 2>&1; then\n' "$bdir/$name.log"
      printf '  mv %q %q\n' "$tmpo" "$obj"
      printf '  echo "build.sh: [%s] compiled %s ($(( $(date +%%s) - t0 ))s)" >&2\n' "$m" "$name"
      printf 'else\n  echo "build.sh: [%s] FAILED to compile %s:" >&2; cat %q >&2; exit 255\nfi\n' \
        "$m" "$name" "$bdir/$name.log"
    } > "$bdir/cmds/$(printf '%03d' "$n")-$name.sh"
  done
  local todo
  todo=$(find "$bdir/cmds" -name '*.sh' | wc -l)
  log "[$m] compiling $todo of ${#SRC_PATHS[@]} translation units with $JOBS jobs ..."
  t0=$(now)
  if (( todo > 0 )); then
    find "$bdir/cmds" -name '*.sh' -print0 | sort -z \
      | xargs -0 -n1 -P "$JOBS" bash \
      || die "[$m] compilation failed (logs in $bdir; finished objects are kept and reused on rerun)"
  fi
  local tc=$(( $(now) - t0 ))
  if [[ -n $ONLY ]]; then
    log "[$m] --only: compiled $todo TU(s) in ${tc}s; objects in $bdir (not linked)"
    return 0
  fi
  log "[$m] linking ..."
  mkdir -p "$OUT/$m"
  local link=("$CXX" "${objs[@]}" "${ldflags[@]}" -o "$so.tmp")
  "${link[@]}" > "$bdir/link.log" 2>&1 || { cat "$bdir/link.log" >&2; die "[$m] link failed"; }
  mv "$so.tmp" "$so"
  module_manifest "$m" > "$OUT/$m/flags-manifest.txt"
  {
    echo "module: $m"
    echo "key: $KEY"
    echo "built: $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(hostname) ($(nproc) cores, --jobs $JOBS)"
    echo "compile wall time: ${tc}s for $todo TUs"
    echo "nvcc: $NVCC_FULL; cxx: $CXX_VERSION"
    echo "compile command (per TU):"
    printf ' %q' "$NVCC" --generate-dependencies-with-compile --dependency-output '<obj>.d' \
      "${cflags[@]}" -c '<src>' -o '<obj>'; echo
    echo "link command:"; printf ' %q' "${link[@]}"; echo
    echo "exports:"; nm -D --defined-only "$so" | awk '$NF ~ /^__tvm_ffi_/ {print "  " $NF}'
  } | canon > "$OUT/$m/build-info.txt"
  (( KEEP_BUILD )) || rm -rf "$bdir"
  log "[$m] built $so ($(stat -c %s "$so") bytes) in $(( $(now) - t0 ))s"
}

T_START=$(now)
for m in $MODULES; do build_module "$m"; done
if [[ -n $ONLY ]]; then log "--only given: skipping import check and wheel"; exit 0; fi
rmdir "$OUT/.build" 2>/dev/null || true

# --------------------------------------------------- import check vs 0.1.3
RT_DIR=$CACHE_ROOT/tvm-ffi-$TVM_FFI_RT_VERSION
RT_LIB=$RT_DIR/libtvm_ffi.so
if [[ ! -f $RT_LIB ]]; then
  mkdir -p "$RT_DIR"
  python3 - "$RT_WHEEL" "$RT_LIB" <<'PY' || die "cannot extract libtvm_ffi.so from $RT_WHEEL"
import sys, zipfile, os
whl, dst = sys.argv[1:3]
with zipfile.ZipFile(whl) as z, open(dst + ".tmp", "wb") as f:
    f.write(z.read("tvm_ffi/lib/libtvm_ffi.so"))
os.replace(dst + ".tmp", dst)
PY
fi
for m in $MODULES; do
  "$HERE/check_imports.sh" "$OUT/$m/$m.so" "$RT_LIB" >&2 \
    || die "[$m] imports TVMFFI symbols missing from tvm-ffi $TVM_FFI_RT_VERSION runtime"
done

# ------------------------------------------------------------------ wheel
WHEEL_VERSION=$FI_VERSION+$CU_TAG
if (( ! NO_WHEEL )); then
  python3 "$HERE/make_wheel.py" --modules-dir "$OUT" --version "$WHEEL_VERSION" >&2 \
    || die "packing the wheel failed"
fi

echo "key: $KEY"
echo "out: $OUT"
for m in $MODULES; do
  [[ -f $OUT/$m/$m.so ]] && echo "module: $OUT/$m/$m.so ($(stat -c %s "$OUT/$m/$m.so") bytes)"
done
WHL=$OUT/flashinfer_jit_cache-$WHEEL_VERSION-cp39-abi3-manylinux_2_28_x86_64.whl
[[ -f $WHL ]] && echo "wheel: $WHL ($(stat -c %s "$WHL") bytes)"
echo "tvm-ffi $TVM_FFI_RT_VERSION runtime: $RT_LIB"
log "done in $(( $(now) - T_START ))s"
