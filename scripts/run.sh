#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The main job: build the tool, then prepare the pinned artifacts and run
# gemma_rmsnorm and gdn_prefill against float64 CPU references
# (`flashinfer-c run`). Without a GPU it prepares the artifacts and says so.
#
# Where the pinned 2 GB jit-cache wheel cannot be downloaded (no route to its
# release host, or FLASHINFER_C_OFFLINE=1) and FLASHINFER_C_JIT_CACHE_WHEEL is
# not set, it says so and uses a wheel built from FlashInfer 0.6.3's sources
# by tools/kernel-modules/build.sh instead (norm.so is built in about 20 s; a
# cached gdn_prefill_sm90.so is included when one exists). `run` then runs
# every kernel whose module the wheel holds and prints one line per missing
# module saying how to get it. Exit status: 0 unless a kernel that ran gave a
# wrong result or failed (or nothing could be prepared).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=$(bash scripts/build.sh)
TOOL="$BUILD_DIR/flashinfer-c"
# The pinned tvm-ffi wheel scripts/setup.sh fetched: a read-only seed, so it is never downloaded twice.
DEV_WHEELS="${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}/wheels"
[ -d "$DEV_WHEELS" ] && export FLASHINFER_C_SEED_DIRS="${FLASHINFER_C_SEED_DIRS:+$FLASHINFER_C_SEED_DIRS:}$DEV_WHEELS"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if [ -z "${FLASHINFER_C_JIT_CACHE_WHEEL:-}${FLASHINFER_RS_JIT_CACHE_WHEEL:-}" ] && ! "$TOOL" fetch >"$log" 2>&1; then
  echo "run: the pinned wheels could not be fetched:" >&2
  tail -2 "$log" >&2
  echo "run: falling back to a jit-cache wheel built from FlashInfer 0.6.3 sources (tools/kernel-modules)" >&2
  out=$(bash tools/kernel-modules/build.sh --modules norm 2>&1 | tee /dev/stderr | sed -n 's/^out: //p' | tail -1)
  wheel=$(ls -t "$out"/flashinfer_jit_cache-*.whl 2>/dev/null | head -1 || true)
  [ -n "$wheel" ] || { echo "run: no wheel was built" >&2; exit 1; }
  export FLASHINFER_C_JIT_CACHE_WHEEL="$wheel"
  echo "run: FLASHINFER_C_JIT_CACHE_WHEEL=$wheel" >&2
fi
"$TOOL" run "$@"
