#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Test: every TVMFFI* symbol imported by every kernel module in a jit-cache
# wheel is exported by the pinned tvm-ffi 0.1.3 runtime (so RTLD_NOW loads
# succeed). Also checks that the test module's imports are satisfied.
# usage: check_wheel_imports.sh WHEEL LIBTVM_FFI [MODULE.so ...]
set -euo pipefail
wheel=$1 lib=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
check="$here/../../tools/kernel-modules/check_imports.sh"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# Python's zipfile rather than unzip: machines without Info-ZIP run this too.
python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
z.extractall(sys.argv[2], [n for n in z.namelist() if n.startswith("flashinfer_jit_cache/jit_cache/")])' "$wheel" "$tmp"
mods=$(find "$tmp" -name '*.so' | sort)
[ -n "$mods" ] || { echo "no modules in $wheel"; exit 1; }
n=0
for m in $mods "$@"; do
  bash "$check" "$m" "$lib" >/dev/null || { echo "FAIL: $m imports symbols the runtime lacks"; bash "$check" "$m" "$lib"; exit 1; }
  echo "ok: $(basename "$m")"; n=$((n + 1))
done
echo "$n modules: all TVMFFI* imports satisfied by $(basename "$lib")"
