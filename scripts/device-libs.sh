#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Copies the shared libraries libflashinfer-c needs (libzip, libcurl and their
# dependencies, not glibc) into DIR, for a GPU machine that has none of them
# installed. Use with LD_LIBRARY_PATH=DIR there.
set -euo pipefail
lib=${1:?usage: device-libs.sh LIBFLASHINFER_C DIR}; dir=${2:?usage: device-libs.sh LIBFLASHINFER_C DIR}
mkdir -p "$dir"
ldd "$lib" | awk '/=> \// {print $3}' | grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
  while read -r f; do cp -L "$f" "$dir/"; done
ls "$dir"
