/* SPDX-License-Identifier: Apache-2.0 */
#include "kt_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "checks/cudart_dyn.h"

int kt_file_exists(const char *path) {
  struct stat st;
  return path && *path && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static fic_status open_in_fresh_cache(const char *wheel, const char *const *modules, kt_runtime **out) {
  kt_runtime *k = calloc(1, sizeof *k);
  assert_non_null(k);
  k->cache_dir = fic_test_mkdtemp("kernels");
  fic_config cfg;
  FIC_ASSERT_OK(fic_config_init(&cfg));
  const char *tvmffi = getenv("FIC_TEST_TVMFFI_WHEEL");
  cfg.cache_dir = k->cache_dir;
  cfg.jit_cache_wheel = wheel;
  cfg.tvmffi_wheel = kt_file_exists(tvmffi) ? tvmffi : NULL;
  cfg.modules = modules;
  cfg.offline = 1;
  fic_status s = fic_runtime_open(&cfg, &k->rt);
  if (s != FIC_OK) {
    fic_test_rmtree(k->cache_dir);
    free(k->cache_dir);
    free(k);
    k = NULL;
  }
  *out = k;
  return s;
}

kt_runtime *kt_open(const char *wheel, const char *const *modules) {
  kt_runtime *k = NULL;
  FIC_ASSERT_OK(open_in_fresh_cache(wheel, modules, &k));
  return k;
}

kt_runtime *kt_try_open(const char *wheel, const char *const *modules) {
  kt_runtime *k = NULL;
  fic_status s = open_in_fresh_cache(wheel, modules, &k);
  if (s != FIC_OK)
    fprintf(stderr, "cannot open a runtime over %s: %s: %s\n", wheel, fic_status_string(s), fic_last_error_message());
  return k;
}

void kt_close(kt_runtime *k) {
  if (!k) return;
  FIC_ASSERT_OK(fic_runtime_close(k->rt));
  fic_test_rmtree(k->cache_dir);
  free(k->cache_dir);
  free(k);
}

/* $user_var (a user override), else $cmake_var (set by CMake), else NULL
 * with a message saying how to provide `what`. */
static const char *wheel_from_env(const char *user_var, const char *cmake_var, const char *what, const char *how) {
  const char *user = getenv(user_var), *cmake = getenv(cmake_var);
  if (kt_file_exists(user)) return user;
  if (kt_file_exists(cmake)) return cmake;
  fprintf(stderr, "no flashinfer_jit_cache wheel with %s: %s (tried '%s', '%s')\n", what, how, user ? user : "",
          cmake ? cmake : "");
  return NULL;
}

const char *kt_norm_wheel(void) {
  return wheel_from_env("FIC_NORM_WHEEL", "FIC_TEST_NORM_WHEEL", "the real norm.so",
                        "build one with tools/kernel-modules/build.sh and configure with -DFIC_NORM_WHEEL=<wheel>, or "
                        "set FIC_NORM_WHEEL=<wheel>");
}

const char *kt_fa3_wheel(void) {
  return wheel_from_env("FIC_FA3_WHEEL", "FIC_TEST_FA3_WHEEL", "the real FA3 (_sm90) bf16/hd128 batch prefill module",
                        "build it on an SM 9.0 machine with tools/kernel-modules/jit_on_device.py and set "
                        "FIC_FA3_WHEEL=<wheel> or configure with -DFIC_FA3_WHEEL=<wheel>");
}

const char *kt_attn_wheel(void) {
  return wheel_from_env("FIC_ATTN_WHEEL", "FIC_TEST_ATTN_WHEEL", "the real page, cascade and attention modules",
                        "build them with tools/kernel-modules and set FIC_ATTN_WHEEL=<wheel> or configure with "
                        "-DFIC_ATTN_WHEEL=<wheel>");
}

const char *kt_mla_wheel(void) {
  return wheel_from_env("FIC_MLA_WHEEL", "FIC_TEST_MLA_WHEEL", "the batch_mla_attention modules",
                        "build them on the GPU machine with tools/kernel-modules/jit_on_device.py and set "
                        "FIC_MLA_WHEEL=<wheel> or configure with -DFIC_MLA_WHEEL=<wheel>");
}

kt_desc kt_cuda(uintptr_t addr, fic_dtype dtype, int32_t ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3) {
  kt_desc d;
  memset(&d, 0, sizeof d);
  d.shape[0] = d0, d.shape[1] = d1, d.shape[2] = d2, d.shape[3] = d3;
  d.t.data = (void *)addr;
  d.t.device.device_type = FIC_DEVICE_CUDA;
  d.t.device.device_id = 0;
  d.t.ndim = ndim;
  d.t.dtype = dtype;
  return d;
}

void kt_strides(kt_desc *d, int64_t s0, int64_t s1, int64_t s2, int64_t s3) {
  d->strides[0] = s0, d->strides[1] = s1, d->strides[2] = s2, d->strides[3] = s3;
  d->explicit_strides = 1;
}

const fic_tensor *kt_t(kt_desc *d) {
  d->t.shape = d->shape;
  d->t.strides = d->explicit_strides ? d->strides : NULL;
  return &d->t;
}

fic_status kt_gdn_prefill(fic_runtime *rt, const fic_tensor *output, const fic_tensor *output_state,
                          const fic_tensor *q, const fic_tensor *k, const fic_tensor *v, const fic_tensor *cu_seqlens,
                          const fic_tensor *input_state, const fic_tensor *alpha, const fic_tensor *beta, double scale,
                          const fic_tensor *workspace, void *stream) {
  fic_gdn_prefill_params p;
  FIC_ASSERT_OK(fic_gdn_prefill_params_init(&p));
  p.output = output, p.output_state = output_state, p.q = q, p.k = k, p.v = v, p.cu_seqlens = cu_seqlens;
  p.input_state = input_state, p.alpha = alpha, p.beta = beta, p.scale = scale, p.workspace = workspace;
  return fic_gdn_prefill(rt, &p, stream);
}

void kt_expect_arg(fic_status s, const char *arg, const char *substr, const char *expr, int line) {
  if (s != FIC_ERR_INVALID_ARGUMENT)
    fail_msg("line %d: %s -> %s (want invalid argument '%s'): %s", line, expr, fic_status_string(s), arg,
             s ? fic_last_error_message() : "");
  if (strcmp(fic_last_error_argument(), arg) != 0)
    fail_msg("line %d: %s names argument '%s', want '%s': %s", line, expr, fic_last_error_argument(), arg,
             fic_last_error_message());
  if (substr && !strstr(fic_last_error_message(), substr))
    fail_msg("line %d: %s: message '%s' lacks '%s'", line, expr, fic_last_error_message(), substr);
}

void kt_expect_status(fic_status s, fic_status want, const char *expr, int line) {
  if (s != want)
    fail_msg("line %d: %s -> %s (want %s): %s", line, expr, fic_status_string(s), fic_status_string(want),
             s ? fic_last_error_message() : "");
}

void kt_expect_kernel(fic_status s, const char *kind, const char *substr, int line) {
  if (s != FIC_ERR_KERNEL)
    fail_msg("line %d: got %s (want kernel error): %s", line, fic_status_string(s), fic_last_error_message());
  if (kind && strcmp(fic_last_error_kind(), kind) != 0)
    fail_msg("line %d: kind '%s', want '%s': %s", line, fic_last_error_kind(), kind, fic_last_error_message());
  if (substr && !strstr(fic_last_error_message(), substr))
    fail_msg("line %d: message '%s' lacks '%s'", line, fic_last_error_message(), substr);
}

fic_function *kt_fn(fic_runtime *rt, const char *module, const char *name) {
  fic_function *f = NULL;
  FIC_ASSERT_OK(fic_function_get(rt, module, name, NULL, &f));
  assert_non_null(f);
  return f;
}

int kt_groups_status(int first, int second) {
  if (first == 77 && second == 77) return 77;
  return (first == 77 ? 0 : first) + (second == 77 ? 0 : second);
}

void kt_skip_if_gpu(fic_runtime *rt) {
  cudart_dyn cuda;
  char err[512];
  int n = 0;
  const char *cudart = NULL;
  if (fic_runtime_path(rt, FIC_PATH_LIBCUDART, &cudart) != FIC_OK) cudart = NULL;
  if (cudart_dyn_open(&cuda, cudart, err, sizeof err) == 0 && cuda.GetDeviceCount(&n) == 0 && n > 0) {
    print_message("SKIPPED: a GPU is present; the GPU tests cover valid calls\n");
    skip();
  }
}

int kt_setup_empty(void **state) {
  *state = NULL;
  return 0;
}

int kt_teardown(void **state) {
  kt_close(*state);
  return 0;
}

fic_runtime *kt_need_rt(void **state, const char *why) {
  if (!*state) {
    print_message("SKIPPED: %s (see above)\n", why);
    skip();
  }
  return ((kt_runtime *)*state)->rt;
}
