#!/usr/bin/env bash
# The main job: build the tool, then prepare the pinned artifacts and run
# gemma_rmsnorm and gdn_prefill against float64 CPU references
# (`flashinfer-c run`). Without a GPU it prepares the artifacts and says so.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=$(bash scripts/build.sh)
exec "$BUILD_DIR/flashinfer-c" run "$@"
