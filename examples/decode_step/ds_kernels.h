/* SPDX-License-Identifier: Apache-2.0 */
/* The few kernels no FlashInfer module provides (ds_kernels.cu): the
 * specification's deterministic hash fill, and row gathers (embedding look-up,
 * each sequence's last prefill row). Host-callable from C; every launcher
 * enqueues on `stream` and returns the launch status. */
#ifndef DS_KERNELS_H
#define DS_KERNELS_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __CUDACC__
#define DS_HD __host__ __device__
#else
#define DS_HD
#endif

/* The specification's hash (shared with the host reference and prompt ids). */
static inline DS_HD uint32_t ds_hash(uint32_t seed, uint32_t stream, uint32_t i) {
  uint32_t x = i * 0x9E3779B1u + stream * 0x85EBCA77u + seed;
  x ^= x >> 16;
  x *= 0x7FEB352Du;
  x ^= x >> 15;
  x *= 0x846CA68Bu;
  x ^= x >> 16;
  return x;
}

/* dst[i] (bf16, i < n) = bf16_rn(offset + (2u - 1) * scale), u = uniform(seed,
 * stream, (uint32_t)(index0 + i)), in float32 with no fused multiply-add
 * (offset 0: weights; offset 1, scale 0.1: norm weights). */
cudaError_t ds_fill_hash_bf16(void *dst, size_t n, uint32_t seed, uint32_t stream, uint64_t index0, float scale,
                              float offset, cudaStream_t s);
/* dst[r, :] = src[idx[r], :] for r < rows; bf16 rows of `cols` elements
 * (cols a multiple of 8, rows 16-byte aligned). */
cudaError_t ds_gather_rows_bf16(void *dst, const void *src, const int32_t *idx, int64_t rows, int64_t cols,
                                cudaStream_t s);

#ifdef __cplusplus
}
#endif
#endif
