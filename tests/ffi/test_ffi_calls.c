/* SPDX-License-Identifier: Apache-2.0 */
/* Calls through the real libtvm_ffi.so 0.1.3 into the C++ test module: every
 * argument kind round-trips, results are owned and released once, errors
 * raised by the real runtime are decoded. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ffi_fixture.h"

static fic_runtime *rt_of(void **state) { return ((ffi_fixture *)*state)->rt; }

static void test_scalars_round_trip(void **state) {
  fic_runtime *rt = rt_of(state);
  srand((unsigned)time(NULL));
  for (int i = 0; i < 100; ++i) {
    int64_t x = ((int64_t)rand() << 32) ^ rand();
    fic_arg a = fic_arg_int(x);
    fic_result r;
    FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "echo_int"), &a, 1, -1, NULL, &r));
    assert_int_equal(r.kind, FIC_KIND_INT);
    assert_true(r.v.i == x);
    double d = (double)rand() / 7.0 - 1e5;
    a = fic_arg_float(d);
    FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "echo_float"), &a, 1, -1, NULL, &r));
    assert_int_equal(r.kind, FIC_KIND_FLOAT);
    assert_true(r.v.f == d);
  }
  fic_arg b = fic_arg_bool(1);
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "echo_bool"), &b, 1, -1, NULL, &r));
  assert_int_equal(r.kind, FIC_KIND_BOOL);
  assert_int_equal(r.v.i, 1);
  /* An int is accepted by a float parameter (TVM-FFI's conversion rules). */
  fic_arg i = fic_arg_int(3);
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "echo_float"), &i, 1, -1, NULL, &r));
  assert_true(r.v.f == 3.0);
  fic_arg two[2] = {fic_arg_int(40), fic_arg_int(2)};
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "add_int"), two, 2, -1, NULL, &r));
  assert_int_equal(r.v.i, 42);
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "noop"), NULL, 0, -1, NULL, &r));
  assert_int_equal(r.kind, FIC_KIND_NONE);
}

static void test_dtype_device_round_trip(void **state) {
  fic_runtime *rt = rt_of(state);
  fic_arg a = fic_arg_dtype(FIC_BF16);
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "echo_dtype"), &a, 1, -1, NULL, &r));
  assert_int_equal(r.kind, FIC_KIND_DTYPE);
  assert_int_equal(r.v.dtype.code, FIC_DTYPE_BFLOAT);
  assert_int_equal(r.v.dtype.bits, 16);
  assert_int_equal(r.v.dtype.lanes, 1);
  a = fic_arg_device((fic_device){FIC_DEVICE_CUDA, 3});
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "echo_device"), &a, 1, -1, NULL, &r));
  assert_int_equal(r.kind, FIC_KIND_DEVICE);
  assert_int_equal(r.v.device.device_type, FIC_DEVICE_CUDA);
  assert_int_equal(r.v.device.device_id, 3);
}

static void test_strings_small_and_object(void **state) {
  fic_runtime *rt = rt_of(state);
  const char *inputs[] = {"", "abc", "seven77", "a longer string that is a heap object"};
  for (size_t i = 0; i < 4; ++i) {
    fic_arg a = fic_arg_string(inputs[i]);
    fic_result r;
    FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "echo_string"), &a, 1, -1, NULL, &r));
    const char *data;
    size_t size;
    FIC_ASSERT_OK(fic_result_string(&r, &data, &size));
    assert_int_equal(size, strlen(inputs[i]));
    assert_memory_equal(data, inputs[i], size);
    if (strlen(inputs[i]) > 7)
      assert_true(r.kind >= FIC_KIND_OBJECT);
    else
      assert_int_equal(r.kind, FIC_KIND_SMALL_STRING);
    FIC_ASSERT_OK(fic_result_release(&r));
    assert_int_equal(r.kind, FIC_KIND_NONE);
  }
  /* Not a string: a clear error. */
  fic_result r = {FIC_KIND_INT, 0, {0}};
  const char *data;
  size_t size;
  FIC_ASSERT_STATUS(fic_result_string(&r, &data, &size), FIC_ERR_INVALID_ARGUMENT);
}

static void test_object_result_released(void **state) {
  fic_runtime *rt = rt_of(state);
  for (int i = 0; i < 200; ++i) {
    fic_arg a = fic_arg_int(i % 17);
    fic_result r;
    FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "make_array"), &a, 1, -1, NULL, &r));
    assert_true(r.kind >= FIC_KIND_OBJECT);
    FIC_ASSERT_OK(fic_result_release(&r));
  }
  /* A NULL result pointer: the library releases what the function returned. */
  fic_arg a = fic_arg_int(1000);
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "long_string"), &a, 1, -1, NULL, NULL));
}

static void fill_random(float *x, size_t n) {
  for (size_t i = 0; i < n; ++i) x[i] = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
}

static void test_tensors_contiguous_and_strided(void **state) {
  fic_runtime *rt = rt_of(state);
  enum { R = 5, C = 7 };
  float in[R * C], out[R * C];
  fill_random(in, R * C);
  memset(out, 0, sizeof out);
  int64_t shape[2] = {R, C}, strides[2] = {C, 1};
  fic_tensor ti = ffi_cpu_f32(in, 2, shape, strides), to = ffi_cpu_f32(out, 2, shape, NULL /* filled in */);
  fic_arg args[5] = {fic_arg_tensor(&to), fic_arg_tensor(&ti), fic_arg_float(2.5), fic_arg_bool(1), fic_arg_int(3)};
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "scale_into"), args, 5, -1, NULL, NULL));
  for (int i = 0; i < R * C; ++i) assert_float_equal(out[i], -2.5f * in[i] + 3.0f, 1e-5);

  /* A transposed view: shape [C, R], strides [1, C]. */
  float outt[C * R];
  int64_t tshape[2] = {C, R}, tstrides[2] = {1, C};
  fic_tensor tv = ffi_cpu_f32(in, 2, tshape, tstrides), tout = ffi_cpu_f32(outt, 2, tshape, NULL);
  fic_arg targs[5] = {fic_arg_tensor(&tout), fic_arg_tensor(&tv), fic_arg_float(1.0), fic_arg_bool(0), fic_arg_int(0)};
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "scale_into"), targs, 5, -1, NULL, NULL));
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) assert_float_equal(outt[c * R + r], in[r * C + c], 0);

  /* tensor_sum over fresh data against a double-precision sum. */
  double want = 0;
  for (int i = 0; i < R * C; ++i) want += in[i];
  fic_arg s = fic_arg_tensor(&ti);
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "tensor_sum"), &s, 1, -1, NULL, &r));
  assert_float_equal(r.v.f, want, 1e-9);
}

static void test_optional_tensor(void **state) {
  fic_runtime *rt = rt_of(state);
  float x[6];
  int64_t shape[3] = {1, 2, 3};
  fic_tensor t = ffi_cpu_f32(x, 3, shape, NULL);
  fic_arg a = fic_arg_opt_tensor(NULL);
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "opt_ndim"), &a, 1, -1, NULL, &r));
  assert_int_equal(r.v.i, -1);
  a = fic_arg_opt_tensor(&t);
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "opt_ndim"), &a, 1, -1, NULL, &r));
  assert_int_equal(r.v.i, 3);
}

static void test_wrong_arity_is_type_error(void **state) {
  fic_runtime *rt = rt_of(state);
  fic_arg a = fic_arg_int(1);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "add_int"), &a, 1, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_string_equal(fic_last_error_kind(), "TypeError");
  assert_non_null(strstr(fic_last_error_message(), "Mismatched number of arguments"));
  assert_non_null(strstr(fic_last_error_message(), "Expected 2 but got 1"));
  assert_int_equal(fic_last_error_status(), FIC_ERR_KERNEL);
}

static void test_wrong_type_is_type_error(void **state) {
  fic_runtime *rt = rt_of(state);
  fic_arg a = fic_arg_float(1.5); /* an int64_t parameter rejects a float */
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "echo_int"), &a, 1, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_string_equal(fic_last_error_kind(), "TypeError");
  assert_non_null(strstr(fic_last_error_message(), "Mismatched type on argument #0"));
  /* A string where a tensor is expected. */
  fic_arg s = fic_arg_string("not a tensor");
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "tensor_sum"), &s, 1, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_string_equal(fic_last_error_kind(), "TypeError");
}

static void test_raised_errors_decoded(void **state) {
  fic_runtime *rt = rt_of(state);
  fic_arg a = fic_arg_string("custom message 12345");
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "raise_value_error"), &a, 1, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_string_equal(fic_last_error_kind(), "ValueError");
  assert_non_null(strstr(fic_last_error_message(), "custom message 12345"));
  assert_true(strlen(fic_last_error_backtrace()) > 0);

  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "raise_std_exception"), NULL, 0, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_non_null(strstr(fic_last_error_message(), "plain std::runtime_error"));
  assert_true(strlen(fic_last_error_kind()) > 0);

  float x[4], y[3];
  int64_t s4 = 4, s3 = 3;
  fic_tensor tx = ffi_cpu_f32(x, 1, &s4, NULL), ty = ffi_cpu_f32(y, 1, &s3, NULL);
  fic_arg two[2] = {fic_arg_tensor(&tx), fic_arg_tensor(&ty)};
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "check_same_len"), two, 2, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_string_equal(fic_last_error_kind(), "InternalError");
  assert_non_null(strstr(fic_last_error_message(), "Check failed"));
  assert_non_null(strstr(fic_last_error_message(), "(4 vs. 3)"));
  /* The next successful call leaves the record alone; fic_clear_error resets it. */
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "noop"), NULL, 0, -1, NULL, NULL));
  assert_int_equal(fic_last_error_status(), FIC_ERR_KERNEL);
  FIC_ASSERT_OK(fic_clear_error());
  assert_int_equal(fic_last_error_status(), FIC_OK);
  assert_string_equal(fic_last_error_message(), "");
}

static void test_bad_arguments_rejected_before_the_call(void **state) {
  fic_runtime *rt = rt_of(state);
  fic_function *fn = ffi_fn(rt, "tensor_sum");
  fic_arg a = fic_arg_tensor(NULL);
  FIC_ASSERT_STATUS(fic_function_call(fn, &a, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "args[0]");
  fic_tensor t = {NULL, {FIC_DEVICE_CPU, 0}, 2, FIC_F32, NULL, NULL, 0};
  a = fic_arg_tensor(&t);
  FIC_ASSERT_STATUS(fic_function_call(fn, &a, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  int64_t shape[1] = {4};
  fic_tensor off = {NULL, {FIC_DEVICE_CPU, 0}, 1, FIC_F32, shape, NULL, 16};
  a = fic_arg_tensor(&off);
  FIC_ASSERT_STATUS(fic_function_call(fn, &a, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(fic_last_error_message(), "byte_offset"));
  /* One tensor rule for the generic API and the typed kernels
   * (src/ffi/tensor.c): a negative extent is refused (TVM-FFI would read it
   * as a huge size); a zero extent is an empty tensor, accepted. */
  int64_t neg[2] = {2, -3};
  fic_tensor tneg = {NULL, {FIC_DEVICE_CPU, 0}, 2, FIC_F32, neg, NULL, 0};
  a = fic_arg_tensor(&tneg);
  FIC_ASSERT_STATUS(fic_function_call(fn, &a, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "args[0]");
  assert_non_null(strstr(fic_last_error_message(), "args[0].shape[1] must be >= 0, got -3"));
  int64_t empty[2] = {2, 0};
  fic_tensor tempty = {NULL, {FIC_DEVICE_CPU, 0}, 2, FIC_F32, empty, NULL, 0};
  fic_result r;
  a = fic_arg_tensor(&tempty);
  FIC_ASSERT_OK(fic_function_call(fn, &a, 1, -1, NULL, &r));
  assert_true(r.v.f == 0.0);
  a = fic_arg_tensor(&off);
  /* An unregistered type index would make TVM-FFI exit(); we refuse it. */
  fic_arg bad = {13, 0, {0}};
  FIC_ASSERT_STATUS(fic_function_call(fn, &bad, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  fic_arg objarg = {FIC_KIND_OBJECT, 0, {0}};
  FIC_ASSERT_STATUS(fic_function_call(fn, &objarg, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  fic_arg nullstr = fic_arg_string(NULL);
  FIC_ASSERT_STATUS(fic_function_call(fn, &nullstr, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_function_call(NULL, NULL, 0, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_function_call(fn, NULL, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_function_call(fn, &a, -1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_function_call(fn, &a, 1, -7, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
}

static void test_lookup_errors_and_cache(void **state) {
  fic_runtime *rt = rt_of(state);
  fic_function *fn = (fic_function *)1;
  FIC_ASSERT_STATUS(fic_function_get(rt, "fic_test", "no_such_function", NULL, &fn), FIC_ERR_NOT_FOUND);
  assert_null(fn);
  assert_non_null(strstr(fic_last_error_message(), "__tvm_ffi_no_such_function"));
  FIC_ASSERT_STATUS(fic_function_get(rt, "no_such_module", "x", NULL, &fn), FIC_ERR_NOT_FOUND);
  FIC_ASSERT_STATUS(fic_function_get(NULL, "fic_test", "x", NULL, &fn), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_function_get(rt, NULL, "x", NULL, &fn), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_function_get(rt, "fic_test", "", NULL, &fn), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_function_get(rt, "fic_test", "x", NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_ptr_equal(ffi_fn(rt, "echo_int"), ffi_fn(rt, "echo_int"));
  const char *const list[] = {"fic_test", NULL};
  FIC_ASSERT_OK(fic_runtime_preload(rt, list));
  const char *const missing[] = {"nope", NULL};
  FIC_ASSERT_STATUS(fic_runtime_preload(rt, missing), FIC_ERR_NOT_FOUND);
}

static void test_status_strings_and_version(void **state) {
  (void)state;
  for (int s = 0; s < FIC_STATUS_COUNT; ++s) {
    const char *str = fic_status_string((fic_status)s);
    assert_non_null(str);
    assert_true(strlen(str) > 3);
    assert_string_not_equal(str, "unknown status");
    for (int t = 0; t < s; ++t) assert_string_not_equal(str, fic_status_string((fic_status)t));
  }
  assert_string_equal(fic_status_string((fic_status)999), "unknown status");
  /* Names: one per status, distinct, spelled as the enumerator. */
  for (int s = 0; s < FIC_STATUS_COUNT; ++s) {
    const char *name = fic_status_name((fic_status)s);
    assert_true(strncmp(name, "FIC_", 4) == 0);
    assert_string_not_equal(name, "FIC_UNKNOWN_STATUS");
    for (int t = 0; t < s; ++t) assert_string_not_equal(name, fic_status_name((fic_status)t));
  }
  assert_string_equal(fic_status_name(FIC_OK), "FIC_OK");
  assert_string_equal(fic_status_name(FIC_ERR_KERNEL), "FIC_ERR_KERNEL");
  assert_string_equal(fic_status_name(FIC_ERR_INTERNAL), "FIC_ERR_INTERNAL");
  assert_int_equal(FIC_STATUS_COUNT, FIC_ERR_INTERNAL + 1);
  assert_string_equal(fic_status_name(FIC_STATUS_COUNT), "FIC_UNKNOWN_STATUS");
  assert_string_equal(fic_status_name((fic_status)-1), "FIC_UNKNOWN_STATUS");
  assert_string_equal(fic_status_string((fic_status)-1), "unknown status");
  unsigned n = 0;
  const char *v = NULL;
  FIC_ASSERT_OK(fic_version(&n, &v));
  assert_int_equal(n, FIC_VERSION_NUMBER);
  char want[32];
  snprintf(want, sizeof want, "%d.%d.%d", FIC_VERSION_MAJOR, FIC_VERSION_MINOR, FIC_VERSION_PATCH);
  assert_string_equal(v, want);
}

static void test_paths_and_diagnose(void **state) {
  fic_runtime *rt = rt_of(state);
  const char *p = NULL;
  FIC_ASSERT_OK(fic_runtime_path(rt, FIC_PATH_LIBTVM_FFI, &p));
  assert_non_null(strstr(p, "libtvm_ffi.so"));
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test", &p));
  assert_non_null(strstr(p, "/modules/fic_test/fic_test.so"));
  FIC_ASSERT_STATUS(fic_runtime_module_path(rt, "nothing", &p), FIC_ERR_NOT_FOUND);
  /* A module named like a path kind is a module, never shadowed. */
  FIC_ASSERT_STATUS(fic_runtime_module_path(rt, "cache_root", &p), FIC_ERR_NOT_FOUND);
  FIC_ASSERT_STATUS(fic_runtime_path(rt, FIC_PATH_COUNT, &p), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_runtime_path(rt, (fic_path_kind)-1, &p), FIC_ERR_INVALID_ARGUMENT);
  const char *artifact_dir = NULL;
  FIC_ASSERT_OK(fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &artifact_dir));
  FIC_ASSERT_OK(fic_runtime_path(rt, FIC_PATH_CACHE_ROOT, &p));
  assert_memory_equal(artifact_dir, p, strlen(p)); /* the entry lives under the root */
  char buf[8192];
  size_t needed = 0;
  FIC_ASSERT_OK(fic_diagnose(rt, buf, sizeof buf, &needed));
  assert_non_null(strstr(buf, "tvm-ffi: 0.1.3"));
  assert_non_null(strstr(buf, "module fic_test"));
  assert_int_equal(needed, strlen(buf) + 1);
  char small[16];
  FIC_ASSERT_OK(fic_diagnose(rt, small, sizeof small, &needed));
  assert_int_equal(strlen(small), sizeof small - 1);
  assert_true(needed > sizeof small);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_scalars_round_trip),
      cmocka_unit_test(test_dtype_device_round_trip),
      cmocka_unit_test(test_strings_small_and_object),
      cmocka_unit_test(test_object_result_released),
      cmocka_unit_test(test_tensors_contiguous_and_strided),
      cmocka_unit_test(test_optional_tensor),
      cmocka_unit_test(test_wrong_arity_is_type_error),
      cmocka_unit_test(test_wrong_type_is_type_error),
      cmocka_unit_test(test_raised_errors_decoded),
      cmocka_unit_test(test_bad_arguments_rejected_before_the_call),
      cmocka_unit_test(test_lookup_errors_and_cache),
      cmocka_unit_test(test_status_strings_and_version),
      cmocka_unit_test(test_paths_and_diagnose),
  };
  return cmocka_run_group_tests(tests, ffi_fixture_setup, ffi_fixture_teardown);
}
