# SPDX-License-Identifier: Apache-2.0
# Sourced by the GPU machine's benchmark runners (run_attention_bench.sh,
# run_layer_bench.sh) once they have set R (results), LOG, DEV (the carried
# .device folder) and step(): records the machine in $R/machine.txt, installs
# the carried Python wheels (.whl/) into /tmp/site for FlashInfer's Python
# side, and sets FIC_LD, the LD_LIBRARY_PATH the C side runs with (the
# carried libraries, then the first libcudart.so.13 found).
step "machine"
{
  date -u +%Y-%m-%dT%H:%M:%SZ
  uname -srm
  grep -E '^PRETTY_NAME=' /etc/os-release
  lscpu | grep -E 'Model name|^CPU\(s\)'
  grep MemTotal /proc/meminfo
  nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,clocks.sm,clocks.mem,power.limit,pstate,persistence_mode --format=csv
  nvcc --version | tail -2
  python3 -c 'import sys, torch; print("python", sys.version.split()[0]); print("torch", torch.__version__, "cuda", torch.version.cuda)'
  echo "commit: $(git rev-parse HEAD 2>/dev/null || echo unknown)"
} >"$R/machine.txt" 2>&1

step "python packages"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  >>"$LOG" 2>&1 || step "pip install failed"
export PYTHONPATH=/tmp/site${PYTHONPATH:+:$PYTHONPATH}
export FLASHINFER_WORKSPACE_BASE=/tmp/fi-ws
python3 -c 'import importlib.metadata as m; print("flashinfer-python", m.version("flashinfer-python"), "apache-tvm-ffi", m.version("apache-tvm-ffi"))' \
  >>"$R/machine.txt" 2>&1

FIC_LD="$(realpath "$DEV/libs")"
for d in /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 \
  $(python3 -c 'import site; print(" ".join(p + "/nvidia/cu13/lib " + p + "/nvidia/cuda_runtime/lib" for p in site.getsitepackages()))' 2>/dev/null); do
  [ -e "$d/libcudart.so.13" ] && FIC_LD="$FIC_LD:$d" && break
done

# install_aot WHEEL [PREFIX]: every module of the jit-cache wheel (whose name
# starts with PREFIX) copied to flashinfer/data/aot/<name>/<name>.so, where
# FlashInfer 0.6.3's Python loads prebuilt modules from, so both sides of a
# benchmark run the same .so files. Prints one "aot: <file>" line each.
install_aot() {
  python3 -c '
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
for n in z.namelist():
    base = os.path.basename(n)
    if base.startswith(sys.argv[2]) and base.endswith(".so"):
        d = os.path.join("/tmp/site/flashinfer/data/aot", base[:-3])
        os.makedirs(d, exist_ok=True)
        open(os.path.join(d, base), "wb").write(z.read(n))
        print("aot:", base)
' "$1" "${2:-}"
}
