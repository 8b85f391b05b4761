/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the GPU tests: skip without a GPU, checked CUDA calls,
 * device buffers, fresh seeds, runtimes over the real-kernel wheel. */
#ifndef FIC_TEST_GPU_UTIL_H
#define FIC_TEST_GPU_UTIL_H

#include <cuda_runtime_api.h>

#include "checks/reference.h"
#include "kt_util.h"

/* Skip the calling test (with a message) unless a CUDA GPU is present. */
void gpu_require(void);
/* Compute capability major of device 0 (after gpu_require). */
int gpu_cc_major(void);
int gpu_sm_count(void);

#define CK(expr) gpu_check((expr), #expr, __LINE__)
void gpu_check(cudaError_t e, const char *expr, int line);

/* A seed from $FIC_TEST_SEED or the clock, printed so a failure can be replayed. */
uint64_t gpu_seed(const char *test);

void *gpu_alloc(size_t bytes);
void *gpu_upload(const void *host, size_t bytes);
void gpu_download(void *host, const void *dev, size_t bytes);

/* A CUDA tensor on device 0 over `data` (shape copied into the descriptor). */
kt_desc gpu_desc(void *data, fic_dtype dtype, int32_t ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);

/* A runtime over the real-kernel wheel holding `modules`, preloaded; skips
 * the test (with the reason) when the wheel is not configured or lacks a
 * module. gpu_open_lazy leaves the modules unloaded. */
kt_runtime *gpu_open(const char *const *modules);
kt_runtime *gpu_open_lazy(const char *const *modules);
/* The group's runtime over the one module `module`, opened (preloaded) by the
 * first test that asks; skips without a GPU. Pair with kt_setup_empty and
 * kt_teardown as the group fixtures. */
fic_runtime *gpu_group_rt(void **state, const char *module);

/* As gpu_group_rt, over the wheel with the page/cascade/attention modules
 * (kt_attn_wheel: FIC_ATTN_WHEEL), holding `modules` (NULL-terminated);
 * skips when that wheel is not configured or lacks one of them. */
fic_runtime *gpu_group_rt_attn(void **state, const char *const *modules);

/* A preloaded runtime over `wheel` holding `modules`; skips the test with
 * "SKIPPED: <no_wheel> (see above)" when wheel is NULL and with
 * "SKIPPED: <wheel> lacks <lacks> (see above)" when it does not open. */
kt_runtime *gpu_open_wheel(const char *wheel, const char *const *modules, const char *no_wheel, const char *lacks);

/* Device workspaces of FlashInfer's sizes. */
typedef struct gpu_ws {
  void *fbuf, *ibuf, *hbuf;
  fic_attention_workspace *ws;
} gpu_ws;
void gpu_ws_new(fic_runtime *rt, gpu_ws *w);
void gpu_ws_free(gpu_ws *w);

/* Random batches: an integer in [lo, hi]; int64 values narrowed to a new
 * int32 array (at least one element); 0..n-1, shuffled when `shuffle`. */
int64_t gpu_rand_in(ref_rng *r, int64_t lo, int64_t hi);
int32_t *gpu_to_i32(const int64_t *x, int64_t n);
int64_t *gpu_permutation(ref_rng *r, int64_t n, int shuffle);

fic_dtype gpu_half_dtype(ref_half kind);
/* Download n half values and decode them. */
void gpu_get_half(ref_half kind, const void *dev, double *out, size_t n);
void gpu_get_f32(const void *dev, double *out, size_t n);
/* Upload doubles as float32 (returns the device pointer). */
void *gpu_put_f32(const double *x, size_t n);

/* Fail unless rel_l2 <= tol and everything is finite; prints the errors. */
void gpu_expect_close(const char *what, const double *got, const double *want, size_t n, double tol);

/* Relative L2 tolerances against float64 (see docs/kernels.md). */
#define GPU_NORM_TOL(kind) ((kind) == REF_BF16 ? 6e-3 : 1e-3)
#define GPU_GDN_TOL(kind) ((kind) == REF_BF16 ? 2e-2 : 5e-3)

#endif
