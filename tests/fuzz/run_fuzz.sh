#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Build the libFuzzer harnesses in a clang build folder and fuzz each for a
# fixed time, JOBS at a time, then summarise executions, coverage and findings.
#
#   tests/fuzz/run_fuzz.sh [SECONDS=600] [JOBS=2] [HARNESS ...]
#
# SECONDS=0 fuzzes nothing: it summarises the logs of the last campaign (and
# reports coverage with FIC_FUZZ_COVERAGE=1).
# Environment: FIC_FUZZ_BUILD_DIR (default build-fz), FIC_FUZZ_KNOWN (comma-
# separated ids of findings already reported that oracles calling fz_known()
# tolerate; none does at present), FIC_FUZZ_EXTRA (more libFuzzer flags),
# FIC_FUZZ_COVERAGE=1 (afterwards, replay the corpora through source-coverage
# builds and print llvm-cov's report for src/artifacts).
# Corpora grow in <build>/tests/fuzz/corpus/<h>, crashes land in
# <build>/tests/fuzz/artifacts/<h>-*, logs in <build>/fuzz-logs/<h>.log.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH="${1:-600}"
JOBS="${2:-2}"
shift $(($# > 2 ? 2 : $#))
HARNESSES=("$@")
[ ${#HARNESSES[@]} -eq 0 ] && HARNESSES=(zip extract marker index pipconf config)
BUILD="${FIC_FUZZ_BUILD_DIR:-build-fz}"
COV="${FIC_FUZZ_COVERAGE:-0}"

# clang for C (libFuzzer) and C++ (the test module the seeds carry). A build
# folder configured with other compilers is reset (corpora and logs are kept).
if [ -f "$BUILD/CMakeCache.txt" ] && ! { grep -Eq '^CMAKE_CXX_COMPILER:[A-Z]+=.*clang\+\+' "$BUILD/CMakeCache.txt" &&
  grep -q '^FIC_FUZZ:BOOL=ON' "$BUILD/CMakeCache.txt"; }; then
  rm -rf "$BUILD/CMakeCache.txt" "$BUILD/CMakeFiles"
fi
cmake -S . -B "$BUILD" -DFIC_TVMFFI_ROOT="$(bash scripts/setup.sh)" -DCMAKE_C_COMPILER=clang \
  -DCMAKE_CXX_COMPILER=clang++ -DFIC_FUZZ=ON -DFIC_FUZZ_COVERAGE="$([ "$COV" = 1 ] && echo ON || echo OFF)" >/dev/null
targets=()
for h in "${HARNESSES[@]}"; do
  targets+=("fuzz_$h")
  [ "$COV" = 1 ] && targets+=("fuzz_${h}_cov")
done
cmake --build "$BUILD" -j"$(nproc)" --target "${targets[@]}" >/dev/null

FZ="$BUILD/tests/fuzz"
LOGS="$BUILD/fuzz-logs"
mkdir -p "$LOGS" "$FZ/artifacts"
declare -A MAXLEN=([zip]=2500000 [extract]=262144 [marker]=16384 [index]=16384 [pipconf]=16384 [config]=16384)
declare -A DICT=([zip]=zip [extract]=zip [marker]=marker [index]=index [pipconf]=pipconf [config]=config)

run_one() {
  local h=$1
  mkdir -p "$FZ/corpus/$h"
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$FZ/fuzz_$h" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2560 -max_len="${MAXLEN[$h]}" \
    -dict="tests/fuzz/dict/${DICT[$h]}.dict" -artifact_prefix="$FZ/artifacts/$h-" -print_final_stats=1 \
    -print_coverage=1 ${FIC_FUZZ_EXTRA:-} "$FZ/corpus/$h" "$FZ/seeds/$h" >"$LOGS/$h.log" 2>&1
  echo $? >"$LOGS/$h.rc"
}

if [ "$SECONDS_EACH" -gt 0 ]; then
  echo "fuzzing ${HARNESSES[*]} for ${SECONDS_EACH}s each, $JOBS at a time (logs in $LOGS)"
  running=0
  for h in "${HARNESSES[@]}"; do
    run_one "$h" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then
      wait -n || true
      running=$((running - 1))
    fi
  done
  wait || true
fi

status=0
printf '%-8s %12s %8s %8s %8s %10s %s\n' harness execs exec/s cov ft corpus result
for h in "${HARNESSES[@]}"; do
  log="$LOGS/$h.log"
  [ -f "$log" ] || continue
  rc=$(cat "$LOGS/$h.rc" 2>/dev/null || echo "?")
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  eps=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | awk '{print $2}' | tail -1)
  last=$(grep -E '^#[0-9]+.*cov:' "$log" | tail -1)
  cov=$(echo "$last" | grep -o 'cov: [0-9]*' | awk '{print $2}')
  ft=$(echo "$last" | grep -o 'ft: [0-9]*' | awk '{print $2}')
  corp=$(echo "$last" | grep -o 'corp: [0-9]*/[0-9A-Za-z]*' | awk '{print $2}')
  if [ "$rc" = 0 ]; then
    result=ok
  else
    result="FAILED (rc $rc): $(grep -m1 -E 'oracle failed|ERROR: (Address|Undefined|libFuzzer)|runtime error' "$log" || true)"
    status=1
  fi
  printf '%-8s %12s %8s %8s %8s %10s %s\n' "$h" "${execs:-?}" "${eps:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "$result"
done
ls "$FZ/artifacts" 2>/dev/null | sed 's/^/artifact: /' || true

if [ "$COV" = 1 ]; then
  covdir="$BUILD/fuzz-coverage"
  rm -rf "$covdir" && mkdir -p "$covdir"
  objects=()
  for h in "${HARNESSES[@]}"; do
    LLVM_PROFILE_FILE="$covdir/$h.profraw" "$FZ/fuzz_${h}_cov" -runs=0 -max_len="${MAXLEN[$h]}" \
      "$FZ/corpus/$h" "$FZ/seeds/$h" >"$covdir/$h.log" 2>&1 ||
      { echo "coverage replay of $h failed (see $covdir/$h.log)"; status=1; }
    objects+=(-object "$FZ/fuzz_${h}_cov")
  done
  llvm-profdata merge -sparse "$covdir"/*.profraw -o "$covdir/all.profdata"
  echo
  echo "source coverage of src/artifacts, every corpus replayed once (llvm-cov report):"
  llvm-cov report "${objects[@]:1}" -instr-profile="$covdir/all.profdata" src/artifacts/*.c
fi
exit $status
