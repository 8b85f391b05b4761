/* SPDX-License-Identifier: Apache-2.0 */
/* Helper kernels for bench_gpu (compiled by nvcc from bench_gpu_kernels.cu).
 * Plain C interface: streams are cudaStream_t passed as void *, errors are
 * cudaError_t values returned as int (0 = cudaSuccess). */
#ifndef BENCH_GPU_KERNELS_H
#define BENCH_GPU_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum { BGK_F16 = 0, BGK_BF16 = 1, BGK_F32 = 2 };

/* The address of an empty __global__ void f(void), for cudaLaunchKernel. */
const void *bgk_empty_kernel(void);

/* One thread that spins until *flag == gen (flag in mapped host memory) or
 * timeout_ns passes (then *timed_out = 1). Keeps the stream busy so that
 * work enqueued behind it waits, and the host never waits for the GPU. */
int bgk_launch_gate(volatile unsigned *flag_dev, unsigned gen, unsigned long long timeout_ns, unsigned *timed_out_dev,
                    void *stream);

/* Fill n elements of kind BGK_* with uniform values in [lo, hi) from a hash
 * of (seed, index). */
int bgk_fill_uniform(void *p, size_t n, int kind, float lo, float hi, uint64_t seed, void *stream);

/* *count += number of 16-bit words that differ between a and b (n words). */
int bgk_count_diff16(const void *a, const void *b, size_t n, unsigned long long *count_dev, void *stream);

/* *count += number of non-finite values among n f16 or bf16 elements. */
int bgk_count_nonfinite16(const void *p, size_t n, int kind, unsigned long long *count_dev, void *stream);

#ifdef __cplusplus
}
#endif
#endif
