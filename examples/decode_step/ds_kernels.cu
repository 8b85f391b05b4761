// SPDX-License-Identifier: Apache-2.0
// Kernels of examples/decode_step that no FlashInfer module provides.
#include <cuda_bf16.h>

#include "ds_kernels.h"

__global__ void ds_fill_hash_kernel(__nv_bfloat16 *dst, size_t n, uint32_t seed, uint32_t stream, uint64_t index0,
                                    float scale, float offset) {
  for (size_t i = blockIdx.x * (size_t)blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
    uint32_t x = ds_hash(seed, stream, (uint32_t)(index0 + i));
    float u = (float)(x >> 8) * 5.9604644775390625e-8f; /* 2^-24: exact */
    /* _rn intrinsics: no contraction into an FMA, so the float32 roundings
     * are those of the specification (and of PyTorch's separate ops). */
    float t = __fsub_rn(__fmul_rn(2.0f, u), 1.0f);
    float v = offset == 0.0f ? __fmul_rn(t, scale) : __fadd_rn(offset, __fmul_rn(t, scale));
    dst[i] = __float2bfloat16_rn(v);
  }
}

extern "C" cudaError_t ds_fill_hash_bf16(void *dst, size_t n, uint32_t seed, uint32_t stream, uint64_t index0,
                                         float scale, float offset, cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  size_t blocks = (n + 255) / 256;
  if (blocks > 65536) blocks = 65536;
  ds_fill_hash_kernel<<<(unsigned)blocks, 256, 0, s>>>((__nv_bfloat16 *)dst, n, seed, stream, index0, scale, offset);
  return cudaGetLastError();
}

// One block per row, 16-byte vectors.
__global__ void ds_gather_rows_kernel(uint4 *dst, const uint4 *src, const int32_t *idx, int64_t vecs) {
  const int64_t r = blockIdx.x;
  const uint4 *from = src + (int64_t)idx[r] * vecs;
  uint4 *to = dst + r * vecs;
  for (int64_t j = threadIdx.x; j < vecs; j += blockDim.x) to[j] = from[j];
}

extern "C" cudaError_t ds_gather_rows_bf16(void *dst, const void *src, const int32_t *idx, int64_t rows, int64_t cols,
                                           cudaStream_t s) {
  if (rows == 0) return cudaSuccess;
  ds_gather_rows_kernel<<<(unsigned)rows, 256, 0, s>>>((uint4 *)dst, (const uint4 *)src, idx, cols / 8);
  return cudaGetLastError();
}
