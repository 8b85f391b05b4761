#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""One launch each of FlashInfer's RMSNorm kernels at the largest benchmark
shape, for Nsight Compute: why gemma_rmsnorm and rmsnorm reach about two
thirds of the device-to-device copy bandwidth on the H200 while
fused_add_rmsnorm reaches nearly all of it (docs/benchmarks.md).

run_gpu_bench.sh (FIC_SECTIONS=ncu) installs flashinfer-c's norm.so as
FlashInfer's prebuilt module first, so the binary profiled is the one
bench_gpu calls, and runs:
  ncu --clock-control none -k regex:RMSNorm --launch-skip 3 --launch-count 3 --metrics ... python3 bench/ncu_norm.py
(3 warm-up launches, then one launch of each kernel).
"""
import torch
import flashinfer

B, H = 16384, 8192
x = torch.rand(B, H, dtype=torch.float16, device="cuda") * 4 - 2
r = torch.rand(B, H, dtype=torch.float16, device="cuda") * 2 - 1
w = torch.rand(H, dtype=torch.float16, device="cuda") - 0.5
o = torch.empty_like(x)
for _ in range(2):  # warm-up: 3 RMSNorm launches in all (skipped by ncu)
    flashinfer.gemma_rmsnorm(x, w, 1e-6, out=o, enable_pdl=False)
flashinfer.rmsnorm(x, w, 1e-6, out=o, enable_pdl=False)
torch.cuda.synchronize()
flashinfer.gemma_rmsnorm(x, w, 1e-6, out=o, enable_pdl=False)
flashinfer.rmsnorm(x, w, 1e-6, out=o, enable_pdl=False)
flashinfer.fused_add_rmsnorm(x, r, w, 1e-6, enable_pdl=False)
torch.cuda.synchronize()
print("ncu_norm: done", flashinfer.jit.norm.gen_norm_module().get_library_path())
