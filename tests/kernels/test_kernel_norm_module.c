/* SPDX-License-Identifier: Apache-2.0 */
/* The REAL norm.so of FlashInfer 0.6.3, with no GPU needed: its exports
 * resolve, and the errors its wrappers raise before touching the GPU come
 * back decoded (FIC_ERR_KERNEL, kind, message). Our own validation catches
 * all of these first, so the wrapper is reached through the generic API.
 * Skipped (with a message) when no wheel with the real module is configured.
 * Fake device pointers are safe here: every call fails before a launch. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kt_util.h"

#define A_IN 0x7f0000100000u
#define A_OUT 0x7f0000200000u
#define A_W 0x7f0000300000u
#define A_RES 0x7f0000400000u

static int setup(void **state) {
  static const char *const modules[] = {"norm", NULL};
  const char *wheel = kt_norm_wheel();
  *state = wheel ? kt_open(wheel, modules) : NULL;
  return 0;
}

static fic_runtime *need_rt(void **state) { return kt_need_rt(state, "no wheel with the real norm.so"); }

/* A contiguous CUDA tensor with explicit strides (FlashInfer reads them). */
static kt_desc cuda2(uintptr_t addr, fic_dtype dt, int64_t rows, int64_t cols) {
  kt_desc d = kt_cuda(addr, dt, 2, rows, cols, 0, 0);
  kt_strides(&d, cols, 1, 0, 0);
  return d;
}

static kt_desc cuda1(uintptr_t addr, fic_dtype dt, int64_t n) {
  kt_desc d = kt_cuda(addr, dt, 1, n, 0, 0, 0);
  kt_strides(&d, 1, 0, 0, 0);
  return d;
}

/* Expect the wrapper's error: FIC_ERR_KERNEL of `kind` with `substr`. */
#define EXPECT_KERNEL(call, kind, substr) KT_EXPECT_KERNEL((call), (kind), (substr))

static void test_exports_resolve(void **state) {
  fic_runtime *rt = need_rt(state);
  static const char *const names[] = {
      "rmsnorm",       "rmsnorm_quant",           "fused_add_rmsnorm", "fused_add_rmsnorm_quant",
      "gemma_rmsnorm", "gemma_fused_add_rmsnorm", "layernorm"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) kt_fn(rt, "norm", names[i]);
  const char *path = NULL;
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "norm", &path));
  assert_non_null(strstr(path, "norm.so"));
}

static void test_weight_length_mismatch(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_desc out = cuda2(A_OUT, FIC_F16, 3, 256), in = cuda2(A_IN, FIC_F16, 3, 256), w = cuda1(A_W, FIC_F16, 128);
  fic_arg args[5] = {fic_arg_tensor(kt_t(&out)), fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&w)),
                     fic_arg_float(1e-6), fic_arg_bool(0)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "norm", "gemma_rmsnorm"), args, 5, -1, NULL, NULL), "InternalError",
                "Check failed: input.size(1) == weight.size(0) (256 vs. 128)");
  /* The typed API refuses the same call itself, naming the argument. */
  KT_EXPECT_ARG(fic_gemma_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, NULL), "weight", "must be 256");
}

static void test_weight_rank(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_desc out = cuda2(A_OUT, FIC_BF16, 3, 256), in = cuda2(A_IN, FIC_BF16, 3, 256), w = cuda2(A_W, FIC_BF16, 1, 256);
  fic_arg args[5] = {fic_arg_tensor(kt_t(&out)), fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&w)),
                     fic_arg_float(1e-6), fic_arg_bool(0)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "norm", "gemma_rmsnorm"), args, 5, -1, NULL, NULL), "InternalError",
                "Check failed: weight.ndim() == 1 (2 vs. 1) : weight must be a 1D tensor");
}

static void test_rmsnorm_unsupported_rank(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_desc in = kt_cuda(A_IN, FIC_F16, 4, 2, 2, 2, 64), out = kt_cuda(A_OUT, FIC_F16, 4, 2, 2, 2, 64),
          w = cuda1(A_W, FIC_F16, 64);
  kt_strides(&in, 256, 128, 64, 1);
  kt_strides(&out, 256, 128, 64, 1);
  fic_arg args[5] = {fic_arg_tensor(kt_t(&out)), fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&w)),
                     fic_arg_float(1e-6), fic_arg_bool(0)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "norm", "rmsnorm"), args, 5, -1, NULL, NULL), "InternalError",
                "Unsupported input dimension: 4");
}

static void test_fused_add_residual_shape(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_desc in = cuda2(A_IN, FIC_F16, 3, 256), res = cuda2(A_RES, FIC_F16, 4, 256), w = cuda1(A_W, FIC_F16, 256);
  fic_arg args[5] = {fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&res)), fic_arg_tensor(kt_t(&w)),
                     fic_arg_float(1e-6), fic_arg_bool(0)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "norm", "fused_add_rmsnorm"), args, 5, -1, NULL, NULL), "InternalError",
                "Check failed: residual.size(0) == batch_size");
}

static void test_host_tensor_refused(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_desc out = cuda2(A_OUT, FIC_F16, 3, 256), in = cuda2(A_IN, FIC_F16, 3, 256), w = cuda1(A_W, FIC_F16, 256);
  in.t.device.device_type = FIC_DEVICE_CPU;
  fic_arg args[5] = {fic_arg_tensor(kt_t(&out)), fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&w)),
                     fic_arg_float(1e-6), fic_arg_bool(0)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "norm", "rmsnorm"), args, 5, -1, NULL, NULL), "InternalError",
                "input must be a CUDA tensor");
}

static void test_last_dim_not_contiguous(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_desc out = cuda2(A_OUT, FIC_F16, 3, 256), in = cuda2(A_IN, FIC_F16, 3, 256), w = cuda1(A_W, FIC_F16, 256);
  kt_strides(&in, 512, 2, 0, 0);
  fic_arg args[5] = {fic_arg_tensor(kt_t(&out)), fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&w)),
                     fic_arg_float(1e-6), fic_arg_bool(0)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "norm", "rmsnorm"), args, 5, -1, NULL, NULL), "InternalError",
                "must be contiguous at last dimension");
}

static void test_layernorm_needs_tensor_objects(void **state) {
  fic_runtime *rt = need_rt(state);
  /* layernorm takes owning Tensors: a DLTensor pointer is a type error raised
   * by the exported function's own argument conversion. The count (5) is
   * right, so the library's signature table lets the call through. */
  kt_desc out = cuda2(A_OUT, FIC_BF16, 2, 64), in = cuda2(A_IN, FIC_BF16, 2, 64), g = cuda1(A_W, FIC_F32, 64),
          b = cuda1(A_RES, FIC_F32, 64);
  fic_arg args[5] = {fic_arg_tensor(kt_t(&out)), fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&g)),
                     fic_arg_tensor(kt_t(&b)), fic_arg_float(1e-5)};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "norm", "layernorm"), args, 5, -1, NULL, NULL), "TypeError", "ffi.Tensor");
}

/* A wrong count never reaches a FlashInfer wrapper: the signature table of
 * the pinned build refuses it (FIC_ERR_ABI). The wrapper's own arity error
 * (TypeError "Expected N but got M arguments"), for exports the table does
 * not know, is tested on the test module in tests/ffi/test_ffi_calls.c. */
static void test_wrong_arity(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_desc out = cuda2(A_OUT, FIC_F16, 3, 256), in = cuda2(A_IN, FIC_F16, 3, 256), w = cuda1(A_W, FIC_F16, 256);
  fic_arg args[4] = {fic_arg_tensor(kt_t(&out)), fic_arg_tensor(kt_t(&in)), fic_arg_tensor(kt_t(&w)),
                     fic_arg_float(1e-6)};
  KT_EXPECT_STATUS(fic_function_call(kt_fn(rt, "norm", "gemma_rmsnorm"), args, 4, -1, NULL, NULL), FIC_ERR_ABI);
  assert_non_null(strstr(fic_last_error_message(), "takes 5 arguments in the pinned FlashInfer build, got 4"));
}

/* Without a GPU, a fully valid typed call passes our checks and the
 * wrapper's argument conversion and checks, then fails cleanly in the
 * wrapper's device guard: an error, not a crash. A TypeError here would mean
 * the typed call packs an argument the export does not accept. Skipped where
 * a GPU is present (the fake pointers would be launched on). */
static void expect_device_error(fic_status s, const char *what) {
  print_message("no-GPU %s: %s: %s\n", what, fic_status_string(s), fic_last_error_message());
  if (!((s == FIC_ERR_KERNEL && strcmp(fic_last_error_kind(), "TypeError") != 0) || s == FIC_ERR_CUDA))
    fail_msg("%s: %s (%s): %s", what, fic_status_string(s), fic_last_error_kind(), fic_last_error_message());
}

static void test_valid_calls_without_gpu(void **state) {
  fic_runtime *rt = need_rt(state);
  kt_skip_if_gpu(rt);
  const fic_dtype f8 = {10, 8, 1};
  kt_desc out = cuda2(A_OUT, FIC_F16, 3, 256), in = cuda2(A_IN, FIC_F16, 3, 256), w = cuda1(A_W, FIC_F16, 256),
          res = cuda2(A_RES, FIC_F16, 3, 256), q8 = cuda2(A_OUT, f8, 3, 256);
  expect_device_error(fic_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, NULL), "rmsnorm");
  expect_device_error(fic_gemma_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 1, NULL), "gemma_rmsnorm");
  expect_device_error(fic_fused_add_rmsnorm(rt, kt_t(&in), kt_t(&res), kt_t(&w), 1e-6, 0, NULL), "fused_add_rmsnorm");
  expect_device_error(fic_gemma_fused_add_rmsnorm(rt, kt_t(&in), kt_t(&res), kt_t(&w), 1e-6, 0, NULL),
                      "gemma_fused_add_rmsnorm");
  expect_device_error(fic_rmsnorm_quant(rt, kt_t(&q8), kt_t(&in), kt_t(&w), 0.5, 1e-6, 0, NULL), "rmsnorm_quant");
  expect_device_error(fic_fused_add_rmsnorm_quant(rt, kt_t(&q8), kt_t(&in), kt_t(&res), kt_t(&w), 0.5, 1e-6, 0, NULL),
                      "fused_add_rmsnorm_quant");
  kt_desc in3 = kt_cuda(A_IN, FIC_BF16, 3, 2, 4, 128, 0), out3 = kt_cuda(A_OUT, FIC_BF16, 3, 2, 4, 128, 0),
          w3 = cuda1(A_W, FIC_BF16, 128);
  expect_device_error(fic_rmsnorm(rt, kt_t(&out3), kt_t(&in3), kt_t(&w3), 1e-6, 0, NULL), "rmsnorm 3-D");
  kt_desc lout = cuda2(A_OUT, FIC_BF16, 3, 256), lin = cuda2(A_IN, FIC_BF16, 3, 256), g = cuda1(A_W, FIC_F32, 256),
          b = cuda1(A_RES, FIC_F32, 256);
  expect_device_error(fic_layernorm(rt, kt_t(&lout), kt_t(&lin), kt_t(&g), kt_t(&b), 1e-5, NULL), "layernorm");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_exports_resolve),
      cmocka_unit_test(test_weight_length_mismatch),
      cmocka_unit_test(test_weight_rank),
      cmocka_unit_test(test_rmsnorm_unsupported_rank),
      cmocka_unit_test(test_fused_add_residual_shape),
      cmocka_unit_test(test_host_tensor_refused),
      cmocka_unit_test(test_last_dim_not_contiguous),
      cmocka_unit_test(test_layernorm_needs_tensor_objects),
      cmocka_unit_test(test_wrong_arity),
      cmocka_unit_test(test_valid_calls_without_gpu),
  };
  return cmocka_run_group_tests(tests, setup, kt_teardown);
}
