/* SPDX-License-Identifier: Apache-2.0 */
// Helper kernels for bench_gpu: the empty kernel of the launch baseline, a
// gate kernel that holds a stream, random fill, and comparisons.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include "bench_gpu_kernels.h"

__global__ void bgk_empty(void) {}

static __device__ __forceinline__ unsigned long long globaltimer_ns() {
  unsigned long long t;
  asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
  return t;
}

__global__ void bgk_gate(volatile unsigned *flag, unsigned gen, unsigned long long timeout_ns,
                         unsigned *timed_out) {
  unsigned long long t0 = globaltimer_ns();
  while (*flag != gen) {
    if (globaltimer_ns() - t0 > timeout_ns) {
      *timed_out = 1;
      break;
    }
    __nanosleep(500);
  }
}

static __device__ __forceinline__ unsigned long long splitmix64(unsigned long long x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

__global__ void bgk_fill(void *p, size_t n, int kind, float lo, float hi, unsigned long long seed) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
    unsigned long long h = splitmix64(seed ^ splitmix64(i));
    float u = (float)(h >> 40) * (1.0f / 16777216.0f); /* [0,1) from 24 bits */
    float x = lo + (hi - lo) * u;
    if (kind == BGK_F16)
      ((__half *)p)[i] = __float2half_rn(x);
    else if (kind == BGK_BF16)
      ((__nv_bfloat16 *)p)[i] = __float2bfloat16_rn(x);
    else
      ((float *)p)[i] = x;
  }
}

__global__ void bgk_diff16(const unsigned short *a, const unsigned short *b, size_t n,
                           unsigned long long *count) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  unsigned long long c = 0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) c += a[i] != b[i];
  if (c) atomicAdd(count, c);
}

__global__ void bgk_nonfinite16(const unsigned short *p, size_t n, unsigned short mask,
                                unsigned long long *count) {
  size_t stride = (size_t)gridDim.x * blockDim.x;
  unsigned long long c = 0;
  for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride)
    c += (p[i] & mask) == mask;
  if (c) atomicAdd(count, c);
}

static unsigned grid_for(size_t n) {
  size_t g = (n + 255) / 256;
  if (g > 4096) g = 4096;
  return g ? (unsigned)g : 1u;
}

extern "C" {

const void *bgk_empty_kernel(void) { return (const void *)bgk_empty; }

int bgk_launch_gate(volatile unsigned *flag_dev, unsigned gen, unsigned long long timeout_ns,
                    unsigned *timed_out_dev, void *stream) {
  bgk_gate<<<1, 1, 0, (cudaStream_t)stream>>>(flag_dev, gen, timeout_ns, timed_out_dev);
  return (int)cudaGetLastError();
}

int bgk_fill_uniform(void *p, size_t n, int kind, float lo, float hi, uint64_t seed, void *stream) {
  bgk_fill<<<grid_for(n), 256, 0, (cudaStream_t)stream>>>(p, n, kind, lo, hi, (unsigned long long)seed);
  return (int)cudaGetLastError();
}

int bgk_count_diff16(const void *a, const void *b, size_t n, unsigned long long *count_dev, void *stream) {
  bgk_diff16<<<grid_for(n), 256, 0, (cudaStream_t)stream>>>((const unsigned short *)a,
                                                            (const unsigned short *)b, n, count_dev);
  return (int)cudaGetLastError();
}

int bgk_count_nonfinite16(const void *p, size_t n, int kind, unsigned long long *count_dev, void *stream) {
  unsigned short mask = kind == BGK_F16 ? 0x7c00 : 0x7f80;
  bgk_nonfinite16<<<grid_for(n), 256, 0, (cudaStream_t)stream>>>((const unsigned short *)p, n, mask,
                                                                 count_dev);
  return (int)cudaGetLastError();
}

}  // extern "C"
