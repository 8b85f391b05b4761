#!/usr/bin/env bash
# The test command: install dependencies, build, run every CPU test with CTest.
# GPU tests (label gpu) run only with FIC_GPU_TESTS=1 on a machine with a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
# The real norm.so from FlashInfer 0.6.3 sources (cached outside the repo; ~minutes on first run).
if [ "${FIC_SKIP_KERNEL_BUILD:-0}" != 1 ]; then
  bash tools/kernel-modules/build.sh --modules norm >&2
fi
BUILD_DIR=$(bash scripts/build.sh)
label_args=(-LE gpu)
[ "${FIC_GPU_TESTS:-0}" = 1 ] && label_args=()
cd "$BUILD_DIR"
ctest --output-on-failure -j"$(nproc)" "${label_args[@]}" ${FIC_CTEST_ARGS:-}
