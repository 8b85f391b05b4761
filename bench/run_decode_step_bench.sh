#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Runs the decode-step benchmark of issue #15 in one go on a CUDA machine with
# no network, from what bench/prepare_decode_step.sh put into .device/ and
# .whl/ (carry: [".device", ".whl"]), from the repository root:
#   0. the machine -> machine.txt; FlashInfer's Python package (+ tvm-ffi)
#      into /tmp/site; every module of the carried jit-cache wheel copied to
#      flashinfer/data/aot/<name>/<name>.so, where FlashInfer loads prebuilt
#      modules from, so both sides run the same .so (FLASHINFER_DISABLE_JIT=1:
#      a missing module fails instead of being JIT-built)
#   a. the C example's --check (small shape), and its greedy tokens with and
#      without the CUDA graph
#   b. greedy tokens, C against Python: 2 layers of the 8B shape, batch 4,
#      context 64, 8 steps, real prefill (bf16 GEMM algorithms may flip
#      near-ties: reported, not failed)
#   c. the decode grid: batch 1, 8, 64, 256 x context 1024, 8192, --fill
#      random, FIC_LAYERS layers (default 4), both stacks, eager and graph; C
#      once with cublasLtMatmul (--gemm lt, its default: algorithms fixed at
#      start-up) and once with cublasGemmEx (--gemm ex) per point; then
#      --host-profile (per-call host time of the eager step) at batch 8,
#      context 1024 (FIC_PROFILE_POINT) with both --gemm settings
#   d. prefill: context 1024 (batch 8) and 8192 (batch 1), both stacks
#   then bench/decode_step_table.py: Markdown tables, goals, plot.
# Results in $OUT (few files): run.log, decode_step.jsonl (every JSON line of
# both sides), tables.md, machine.txt, decode_step.png (if matplotlib is
# there), results.tgz (all logs).
# Environment: FIC_LAYERS (4), FIC_STEPS (16), FIC_GRID ("1:1024,8:1024,...";
# batch:context list), FIC_DEADLINE_S (450: later sections are skipped past it),
# FIC_SKIP (space-separated section letters to skip, e.g. "a b").
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
DEV=${FIC_DEVICE_DIR:-.device}
KEEP=${FIC_BENCH_OUT:-${OUT:-bench-decode-out}}
DEADLINE=${FIC_DEADLINE_S:-450}
LAYERS=${FIC_LAYERS:-4}
STEPS=${FIC_STEPS:-16}
GRID=${FIC_GRID:-1:1024,8:1024,64:1024,256:1024,1:8192,8:8192,64:8192,256:8192}
PREFILL_GRID=${FIC_PREFILL_GRID:-8:1024,1:8192}
R=/tmp/fic-decode-results
rm -rf "$R"
mkdir -p "$KEEP" "$R"
LOG="$KEEP/run.log"
J="$R/decode_step.jsonl"
T0=$(date +%s)
step() { echo "== [$(($(date +%s) - T0)) s] $*" | tee -a "$LOG"; }
left() { echo $((DEADLINE - ($(date +%s) - T0))); }
tl() { local l; l=$(left); [ "$l" -lt 10 ] && l=10; echo "$l"; } # a timeout for one command (never 0: no limit)
skip() { case " ${FIC_SKIP:-} " in *" $1 "*) return 0 ;; esac; [ "$(left)" -lt "${2:-20}" ]; }

# shellcheck source=bench/device_env.sh
. bench/device_env.sh
WHEEL=$(realpath "$DEV/decode.whl")
TVM=$(realpath "$(ls "$DEV"/wheels/apache_tvm_ffi-0.1.3-*.whl)")
BIN="$DEV/build/examples/decode_step/decode_step"
# cuBLAS for the C example (it loads libcublas.so.13 itself): torch's or the toolkit's
for d in $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/lib " + p + "/nvidia/cublas/lib" for p in site.getsitepackages()))' 2>/dev/null) \
  /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64; do
  [ -e "$d/libcublas.so.13" ] && FIC_LD="$FIC_LD:$d" && break
done
echo "LD_LIBRARY_PATH for C: $FIC_LD" >>"$LOG"
export FLASHINFER_DISABLE_JIT=1

# KV cache per layer = 2 (K, V) x B x pages x 16 x 8 heads x 128 x 2 bytes
python3 - "$GRID" "$LAYERS" "$STEPS" <<'EOF' | tee -a "$LOG"
import sys
grid, layers, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
worst = 0
for item in grid.split(","):
    b, l = map(int, item.split(":"))
    kv = 2 * layers * b * ((l + steps + 15) // 16) * 16 * 8 * 128 * 2
    worst = max(worst, kv)
w = (2 * 128256 * 4096 + layers * (6144 * 4096 + 4096 * 4096 + 2 * 14336 * 4096 + 4096 * 14336)) * 2
print("memory: weights %.1f GB, largest KV cache %.1f GB (%d layers): %.1f GB of the GPU's"
      % (w / 1e9, worst / 1e9, layers, (w + worst) / 1e9))
if w + worst > 120e9:
    sys.exit("memory: over 120 GB; lower FIC_LAYERS")
EOF
[ "${PIPESTATUS[0]}" -eq 0 ] || exit 2

step "modules into FlashInfer's prebuilt (AOT) directory"
install_aot "$WHEEL" >>"$LOG" 2>&1
python3 bench/decode_step_py.py --self-test-hash >>"$LOG" 2>&1 || step "pure-Python hash self-test FAILED"

c() { # c LOGNAME ARGS...: the C example, its exit status logged
  local name=$1
  shift
  LD_LIBRARY_PATH="$FIC_LD" timeout "$(tl)" "$BIN" --jit-cache-wheel "$WHEEL" --tvmffi-wheel "$TVM" \
    --cache-dir /tmp/fic-cache "$@" >>"$R/$name.log" 2>&1
  local rc=$?
  echo "C $* -> exit $rc" | tee -a "$LOG" "$R/$name.log"
  return $rc
}
py() { # py LOGNAME ARGS...: the Python side
  local name=$1
  shift
  PYTHONUNBUFFERED=1 timeout "$(tl)" python3 bench/decode_step_py.py "$@" >>"$R/$name.log" 2>&1
  local rc=$?
  echo "python $* -> exit $rc" | tee -a "$LOG" "$R/$name.log"
  return $rc
}
tokcmp() { python3 bench/decode_step_table.py --compare-tokens "$@" 2>&1 | tee -a "$LOG"; }

if ! skip a 60; then
  step "a. C --check (small shape), greedy eager vs graph"
  c check --small --check
  c tok_small --small --greedy --batch 4 --context 64 --steps 16 --fill prefill --json "$R/tok_small_graph.jsonl"
  c tok_small --small --greedy --batch 4 --context 64 --steps 16 --fill prefill --eager --json "$R/tok_small_eager.jsonl"
  tokcmp "$R/tok_small_eager.jsonl" "$R/tok_small_graph.jsonl"
fi

if ! skip b 60; then
  step "b. greedy tokens, C vs Python (2 layers, batch 4, context 64, 8 steps, prefill)"
  TOK=(--layers 2 --batch 4 --context 64 --steps 8 --greedy --fill prefill)
  c tokens "${TOK[@]}" --json "$R/tok_c_graph.jsonl"
  c tokens "${TOK[@]}" --eager --json "$R/tok_c_eager.jsonl"
  py tokens "${TOK[@]}" --both --json "$R/tok_py.jsonl"
  tokcmp "$R/tok_c_graph.jsonl" "$R/tok_py.jsonl"
  tokcmp "$R/tok_c_eager.jsonl" "$R/tok_py.jsonl"
  # only the tokens objects: these 2-layer correctness runs are not the grid's
  # decode/prefill measurements (they must stay out of the tables and goals)
  grep -h '"phase": *"tokens"' "$R"/tok_*.jsonl >>"$J" 2>/dev/null
fi

DEC=(--layers "$LAYERS" --steps "$STEPS" --fill random)
if ! skip c 90; then
  step "c. decode grid $GRID, $LAYERS layers, $STEPS steps: Python (one process, both modes)"
  py decode_py "${DEC[@]}" --grid "$GRID" --both --json "$J"
  step "c. decode grid: C"
  # Per point: the fast settings (--gemm lt: graph and eager), then the same
  # with cublasGemmEx (--gemm ex), which replaces the former second, eager-only
  # run (its eager numbers repeated the first run's): as many processes as
  # before. The objects carry "gemm"; the tables take lt for the main table.
  if LD_LIBRARY_PATH="$FIC_LD" "$BIN" --help 2>&1 | grep -q -- '--grid'; then
    c decode_c "${DEC[@]}" --grid "$GRID" --gemm lt --json "$J"
    c decode_c "${DEC[@]}" --grid "$GRID" --gemm ex --json "$J"
  else
    for bl in ${GRID//,/ }; do
      skip c 20 && break
      c decode_c "${DEC[@]}" --batch "${bl%%:*}" --context "${bl##*:}" --gemm lt --json "$J"
      c decode_c "${DEC[@]}" --batch "${bl%%:*}" --context "${bl##*:}" --gemm ex --json "$J"
    done
  fi
  PP=${FIC_PROFILE_POINT:-8:1024}
  if ! skip c 20; then
    step "c. C host profile of the eager step at batch ${PP%%:*}, context ${PP##*:} (--gemm lt, ex)"
    for g in lt ex; do
      c hostprof "${DEC[@]}" --batch "${PP%%:*}" --context "${PP##*:}" --eager --host-profile --gemm "$g" \
        --json "$R/hostprof.jsonl"
    done
    # only the host_profile objects (the decode objects of these runs repeat the grid's)
    grep -h '"phase": *"host_profile"' "$R/hostprof.jsonl" >>"$J"
    sed -n '/^host profile:/,/^  total/p' "$R/hostprof.log" | tee -a "$LOG"
  fi
fi

if ! skip d 40; then
  step "d. prefill $PREFILL_GRID ($LAYERS layers)"
  PRE=(--layers "$LAYERS" --steps 4 --fill prefill --eager)
  py prefill_py "${PRE[@]}" --grid "$PREFILL_GRID" --json "$R/prefill.jsonl"
  for bl in ${PREFILL_GRID//,/ }; do
    c prefill_c "${PRE[@]}" --batch "${bl%%:*}" --context "${bl##*:}" --json "$R/prefill.jsonl"
  done
  # only the prefill objects: the decode objects of these runs are not the grid's
  grep '"phase": *"prefill"' "$R/prefill.jsonl" >>"$J"
fi

step "FlashInfer JIT cache (empty: no module was JIT-built)"
find /tmp/fi-ws -name '*.so' 2>/dev/null | tee -a "$LOG"
grep -h '^mapped:' "$R"/*.log 2>/dev/null | sort -u | tee -a "$LOG"

step "tables"
python3 bench/decode_step_table.py "$J" --plot "$KEEP/decode_step.png" >"$R/tables.md" 2>>"$LOG"
cp "$R/tables.md" "$R/machine.txt" "$J" "$KEEP/"
tar -C "$R" -czf "$KEEP/results.tgz" .
step "done"
cat "$R/tables.md"
