#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# check_imports.sh MODULE.so LIBTVM_FFI.so
# Exit 0 iff every undefined TVMFFI* dynamic symbol of MODULE.so is exported
# (defined) by LIBTVM_FFI.so; exit 1 naming the missing ones; 2 on usage errors.
set -euo pipefail
export LC_ALL=C
if [[ $# -ne 2 ]]; then
  echo "usage: $0 MODULE.so LIBTVM_FFI.so" >&2; exit 2
fi
mod=$1 lib=$2
for f in "$mod" "$lib"; do
  [[ -r $f ]] || { echo "check_imports.sh: cannot read $f" >&2; exit 2; }
done
command -v nm >/dev/null || { echo "check_imports.sh: nm (binutils) not found" >&2; exit 2; }

# nm -D prints "  U name[@VERSION]" / "addr T name[@@VERSION]"; strip versions.
imports=$(nm -D --undefined-only "$mod" | awk '{print $NF}' | sed 's/@.*//' | grep '^TVMFFI' | sort -u || true)
exports=$(nm -D --defined-only "$lib" | awk '{print $NF}' | sed 's/@.*//' | grep '^TVMFFI' | sort -u || true)
[[ -n $exports ]] || { echo "check_imports.sh: $lib exports no TVMFFI* symbols" >&2; exit 2; }

echo "module : $mod"
echo "runtime: $lib ($(wc -l <<<"$exports") TVMFFI* exports)"
echo "TVMFFI* imports of module ($(grep -c . <<<"$imports" || true)):"
[[ -n $imports ]] && sed 's/^/  /' <<<"$imports"
missing=$(comm -23 <(printf '%s\n' "$imports" | sed '/^$/d') <(printf '%s\n' "$exports"))
if [[ -n $missing ]]; then
  echo "MISSING from runtime ($(wc -l <<<"$missing")):"
  sed 's/^/  /' <<<"$missing"
  exit 1
fi
echo "OK: all TVMFFI* imports are exported by the runtime"
