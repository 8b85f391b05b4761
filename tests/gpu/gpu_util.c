/* SPDX-License-Identifier: Apache-2.0 */
#include "gpu_util.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

void gpu_check(cudaError_t e, const char *expr, int line) {
  if (e != cudaSuccess) fail_msg("line %d: %s -> %s: %s", line, expr, cudaGetErrorName(e), cudaGetErrorString(e));
}

void gpu_require(void) {
  int n = 0;
  cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess || n == 0) {
    print_message("SKIPPED: no CUDA GPU (%s)\n", e != cudaSuccess ? cudaGetErrorString(e) : "0 devices");
    skip();
  }
  CK(cudaSetDevice(0));
}

int gpu_cc_major(void) {
  int v = 0;
  CK(cudaDeviceGetAttribute(&v, cudaDevAttrComputeCapabilityMajor, 0));
  return v;
}

int gpu_sm_count(void) {
  int v = 0;
  CK(cudaDeviceGetAttribute(&v, cudaDevAttrMultiProcessorCount, 0));
  return v;
}

uint64_t gpu_seed(const char *test) {
  const char *env = getenv("FIC_TEST_SEED");
  uint64_t seed = env && *env ? strtoull(env, NULL, 0) : ((uint64_t)time(NULL) * 2654435761u) ^ (uint64_t)clock();
  print_message("%s: seed %" PRIu64 " (rerun with FIC_TEST_SEED=%" PRIu64 ")\n", test, seed, seed);
  return seed;
}

void *gpu_alloc(size_t bytes) {
  void *p = NULL;
  CK(cudaMalloc(&p, bytes ? bytes : 1));
  return p;
}

void *gpu_upload(const void *host, size_t bytes) {
  void *p = gpu_alloc(bytes);
  CK(cudaMemcpy(p, host, bytes, cudaMemcpyHostToDevice));
  return p;
}

void gpu_download(void *host, const void *dev, size_t bytes) {
  CK(cudaMemcpy(host, dev, bytes, cudaMemcpyDeviceToHost));
}

kt_desc gpu_desc(void *data, fic_dtype dtype, int32_t ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  return kt_cuda((uintptr_t)data, dtype, ndim, d0, d1, d2, d3);
}

kt_runtime *gpu_open_lazy(const char *const *modules) {
  const char *wheel = kt_norm_wheel();
  kt_runtime *k = wheel ? kt_try_open(wheel, modules) : NULL;
  if (!k && wheel && fic_last_error_status() != FIC_ERR_NOT_FOUND)
    fail_msg("fic_runtime_open: %s", fic_last_error_message()); /* a real failure, not a missing module */
  if (!k) {
    print_message("SKIPPED: no runtime with the real kernels (see above)\n");
    skip();
  }
  return k;
}

kt_runtime *gpu_open(const char *const *modules) {
  kt_runtime *k = gpu_open_lazy(modules);
  FIC_ASSERT_OK(fic_runtime_preload(k->rt, NULL));
  return k;
}

fic_runtime *gpu_group_rt(void **state, const char *module) {
  gpu_require();
  if (!*state) {
    const char *modules[] = {module, NULL};
    *state = gpu_open(modules);
  }
  return ((kt_runtime *)*state)->rt;
}

fic_runtime *gpu_group_rt_attn(void **state, const char *const *modules) {
  gpu_require();
  if (!*state) {
    const char *wheel = kt_attn_wheel();
    kt_runtime *k = wheel ? kt_try_open(wheel, modules) : NULL;
    if (!k) {
      print_message("SKIPPED: no runtime over a wheel with the page/cascade modules (see above)\n");
      skip();
    }
    *state = k;
    FIC_ASSERT_OK(fic_runtime_preload(k->rt, NULL));
  }
  return ((kt_runtime *)*state)->rt;
}

kt_runtime *gpu_open_wheel(const char *wheel, const char *const *modules, const char *no_wheel, const char *lacks) {
  if (!wheel) {
    print_message("SKIPPED: %s (see above)\n", no_wheel);
    skip();
  }
  kt_runtime *k = kt_try_open(wheel, modules);
  if (!k) {
    print_message("SKIPPED: %s lacks %s (see above)\n", wheel, lacks);
    skip();
  }
  FIC_ASSERT_OK(fic_runtime_preload(k->rt, NULL));
  return k;
}

void gpu_ws_new(fic_runtime *rt, gpu_ws *w) {
  fic_attention_workspace_desc d;
  FIC_ASSERT_OK(fic_attention_workspace_desc_init(&d));
  FIC_ASSERT_OK(fic_attention_workspace_sizes(&d.float_bytes, &d.int_bytes, &d.host_bytes));
  w->fbuf = gpu_alloc(d.float_bytes);
  w->ibuf = gpu_alloc(d.int_bytes);
  CK(cudaHostAlloc(&w->hbuf, d.host_bytes, cudaHostAllocDefault));
  d.float_buffer = w->fbuf, d.int_buffer = w->ibuf, d.host_buffer = w->hbuf;
  FIC_ASSERT_OK(fic_attention_workspace_create(rt, &d, &w->ws));
}

void gpu_ws_free(gpu_ws *w) {
  FIC_ASSERT_OK(fic_attention_workspace_destroy(w->ws)); /* waits for the last plan's copy */
  CK(cudaFree(w->fbuf));
  CK(cudaFree(w->ibuf));
  CK(cudaFreeHost(w->hbuf));
}

int64_t gpu_rand_in(ref_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(ref_rng_uniform(r) * (double)(hi - lo + 1));
}

int32_t *gpu_to_i32(const int64_t *x, int64_t n) {
  int32_t *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
  assert_non_null(y);
  for (int64_t i = 0; i < n; i++) y[i] = (int32_t)x[i];
  return y;
}

int64_t *gpu_permutation(ref_rng *r, int64_t n, int shuffle) {
  int64_t *perm = malloc((size_t)(n > 0 ? n : 1) * sizeof *perm);
  assert_non_null(perm);
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0 && shuffle; i--) {
    int64_t j = gpu_rand_in(r, 0, i), t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
  return perm;
}

fic_dtype gpu_half_dtype(ref_half kind) { return kind == REF_BF16 ? FIC_BF16 : FIC_F16; }

void gpu_get_half(ref_half kind, const void *dev, double *out, size_t n) {
  uint16_t *h = malloc(n * 2 + 2);
  assert_non_null(h);
  gpu_download(h, dev, n * 2);
  ref_half_decode(kind, h, out, n);
  free(h);
}

void gpu_get_f32(const void *dev, double *out, size_t n) {
  float *f = malloc(n * 4 + 4);
  assert_non_null(f);
  gpu_download(f, dev, n * 4);
  for (size_t i = 0; i < n; i++) out[i] = f[i];
  free(f);
}

void *gpu_put_f32(const double *x, size_t n) {
  float *f = malloc(n * 4 + 4);
  assert_non_null(f);
  for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
  void *p = gpu_upload(f, n * 4);
  free(f);
  return p;
}

void gpu_expect_close(const char *what, const double *got, const double *want, size_t n, double tol) {
  ref_err e = ref_compare(got, want, n);
  print_message("  %-48s max_abs %.3e rel_l2 %.3e (tol %.0e)%s\n", what, e.max_abs, e.rel_l2, tol,
                e.nonfinite ? " NON-FINITE" : "");
  if (e.nonfinite || !(e.rel_l2 <= tol))
    fail_msg("%s: rel_l2 %.3e > %.0e (max_abs %.3e at %zu: got %g want %g, %zu non-finite)", what, e.rel_l2, tol,
             e.max_abs, e.worst, got[e.worst], want[e.worst], e.nonfinite);
}
