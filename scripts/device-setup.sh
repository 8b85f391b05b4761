#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# On the GPU machine (no network): recreate the paths the carried build folder
# was configured with. The repo copy is linked at its build-time path, the dev
# cache (wheels, unpacked tvm-ffi, kernel-module wheel) is rebuilt from
# .device/, and libraries the GPU machine lacks come from .device/libs.
# usage: source scripts/device-setup.sh BUILD_TIME_REPO_PATH
src_root=${1:?build-time repository path}
here=$(pwd)
if [ "$here" != "$src_root" ] && [ ! -e "$src_root" ]; then
  mkdir -p "$(dirname "$src_root")" && ln -s "$here" "$src_root"
fi
dev=${FLASHINFER_C_DEV_CACHE:-$HOME/.cache/flashinfer-c-dev}
mkdir -p "$dev/wheels"
cp -n .device/wheels/apache_tvm_ffi-*.whl .device/wheels/flashinfer_python-*.whl "$dev/wheels/" 2>/dev/null || true
if [ ! -f "$dev/apache_tvm_ffi-0.1.3/.complete" ]; then
  python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])" \
    "$dev"/wheels/apache_tvm_ffi-0.1.3-*.whl "$dev/apache_tvm_ffi-0.1.3" && touch "$dev/apache_tvm_ffi-0.1.3/.complete"
  chmod +x "$dev/apache_tvm_ffi-0.1.3/tvm_ffi/lib/"*.so
fi
key=$(cat .device/modules-key)
mkdir -p "$dev/modules/$key"
cp -n .device/jit/*.whl "$dev/modules/$key/" 2>/dev/null
export LD_LIBRARY_PATH="$here/.device/libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "device-setup: repo at $src_root, dev cache at $dev, jit wheel $(ls "$dev/modules/$key"/*.whl)"
