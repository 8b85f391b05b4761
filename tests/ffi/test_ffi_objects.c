/* SPDX-License-Identifier: Apache-2.0 */
/* Object arguments and results through the real libtvm_ffi.so 0.1.3 and the
 * C++ test module, as FlashInfer's attention plan/run needs them: a plan's
 * Array<int64_t> read and passed back to run, Arrays built from C ints,
 * Tensor objects for Optional<ffi::Tensor> parameters, host (CPU) tensors
 * alone or beside CUDA ones. Reference counts are checked by reading the
 * object header (strong count: low 32 bits at +0), and valgrind runs this
 * test in CI (leaks and double releases). */
#include <stdint.h>
#include <string.h>

#include "ffi_fixture.h"

static fic_runtime *rt_of(void **state) { return ((ffi_fixture *)*state)->rt; }

static uint32_t strong_count(const fic_result *r) {
  uint64_t combined;
  memcpy(&combined, r->v.obj, sizeof combined);
  return (uint32_t)(combined & 0xffffffffu);
}

static fic_result call1(fic_runtime *rt, const char *name, fic_arg a) {
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, name), &a, 1, -1, NULL, &r));
  return r;
}

/* An Array<int64_t> result holds exactly {a, b}; then release it. */
static void assert_pair_and_release(fic_result *r, int64_t a, int64_t b) {
  int64_t got[2];
  size_t n = 0;
  FIC_ASSERT_OK(fic_result_array_i64(r, got, 2, &n));
  assert_int_equal(n, 2);
  assert_int_equal(got[0], a);
  assert_int_equal(got[1], b);
  FIC_ASSERT_OK(fic_result_release(r));
}

static void test_plan_round_trip(void **state) {
  fic_runtime *rt = rt_of(state);
  const int64_t sizes[] = {0, 1, 10, 15, 40};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; ++k) {
    int64_t n = sizes[k];
    fic_result plan = call1(rt, "make_plan", fic_arg_int(n));
    assert_int_equal(plan.kind, FIC_KIND_ARRAY);
    size_t count = 999;
    FIC_ASSERT_OK(fic_result_array_i64(&plan, NULL, 0, &count));
    assert_int_equal(count, (size_t)n);
    int64_t values[64];
    FIC_ASSERT_OK(fic_result_array_i64(&plan, values, 64, &count));
    int64_t want = 0;
    for (int64_t i = 0; i < n; ++i) {
      assert_int_equal(values[i], 10 * i + 1);
      want += 10 * i + 1;
    }
    /* run takes the plan back, borrowed: our one reference stays ours. */
    for (int rep = 0; rep < 3; ++rep) {
      fic_result sum = call1(rt, "sum_plan", fic_arg_object(&plan));
      assert_int_equal(sum.kind, FIC_KIND_INT);
      assert_int_equal(sum.v.i, want);
      assert_int_equal(strong_count(&plan), 1);
    }
    FIC_ASSERT_OK(fic_result_release(&plan));
    assert_int_equal(plan.kind, FIC_KIND_NONE);
    FIC_ASSERT_OK(fic_result_release(&plan)); /* released once: a second call is a no-op */
  }
}

static void test_array_reader_errors(void **state) {
  fic_runtime *rt = rt_of(state);
  size_t count = 0;
  int64_t out[4] = {-7, -7, -7, -7};
  fic_result plan = call1(rt, "make_plan", fic_arg_int(6));
  FIC_ASSERT_STATUS(fic_result_array_i64(NULL, out, 4, &count), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "result");
  FIC_ASSERT_STATUS(fic_result_array_i64(&plan, out, 4, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "count");
  /* Capacity too small: nothing written, the size needed reported. */
  FIC_ASSERT_STATUS(fic_result_array_i64(&plan, out, 4, &count), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "capacity");
  assert_int_equal(count, 6);
  for (int i = 0; i < 4; ++i) assert_int_equal(out[i], -7);
  FIC_ASSERT_OK(fic_result_release(&plan));

  /* Not an Array: an int, a String object. */
  fic_result i = call1(rt, "echo_int", fic_arg_int(5));
  FIC_ASSERT_STATUS(fic_result_array_i64(&i, out, 4, &count), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "result");
  fic_result s = call1(rt, "long_string", fic_arg_int(100));
  FIC_ASSERT_STATUS(fic_result_array_i64(&s, out, 4, &count), FIC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(fic_last_error_message(), "not an Array"));
  FIC_ASSERT_OK(fic_result_release(&s));

  /* An Array whose cells are not ints, even for a count query. */
  fic_result strs = call1(rt, "make_string_array", fic_arg_int(3));
  assert_int_equal(strs.kind, FIC_KIND_ARRAY);
  count = 0;
  FIC_ASSERT_STATUS(fic_result_array_i64(&strs, NULL, 0, &count), FIC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(fic_last_error_message(), "result[0]"));
  assert_int_equal(count, 0);
  /* Passed to Array<int64_t>, the wrapper refuses it itself. */
  fic_arg a = fic_arg_object(&strs);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "sum_plan"), &a, 1, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_string_equal(fic_last_error_kind(), "TypeError");
  assert_int_equal(strong_count(&strs), 1);
  FIC_ASSERT_OK(fic_result_release(&strs));
}

static void test_array_new(void **state) {
  fic_runtime *rt = rt_of(state);
  const int64_t v[] = {7, -3, INT64_MAX, INT64_MIN, 0};
  fic_result arr;
  FIC_ASSERT_OK(fic_array_i64_new(rt, v, 5, &arr));
  assert_int_equal(arr.kind, FIC_KIND_ARRAY);
  assert_int_equal(strong_count(&arr), 1);
  int64_t back[5];
  size_t count = 0;
  FIC_ASSERT_OK(fic_result_array_i64(&arr, back, 5, &count));
  assert_int_equal(count, 5);
  assert_memory_equal(back, v, sizeof v);
  FIC_ASSERT_OK(fic_result_release(&arr));

  /* A plan rebuilt from its ints is accepted by run like the original. */
  int64_t big[100], want = 0;
  for (int i = 0; i < 100; ++i) want += big[i] = 3 * i - 50;
  FIC_ASSERT_OK(fic_array_i64_new(rt, big, 100, &arr)); /* more cells than the stack buffer */
  fic_result sum = call1(rt, "sum_plan", fic_arg_object(&arr));
  assert_int_equal(sum.v.i, want);
  assert_int_equal(strong_count(&arr), 1);
  FIC_ASSERT_OK(fic_result_release(&arr));

  FIC_ASSERT_OK(fic_array_i64_new(rt, NULL, 0, &arr));
  FIC_ASSERT_OK(fic_result_array_i64(&arr, NULL, 0, &count));
  assert_int_equal(count, 0);
  FIC_ASSERT_OK(fic_result_release(&arr));

  fic_result untouched = {FIC_KIND_INT, 0, {0}};
  untouched.v.i = 42;
  FIC_ASSERT_STATUS(fic_array_i64_new(NULL, v, 5, &untouched), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "rt");
  FIC_ASSERT_STATUS(fic_array_i64_new(rt, v, 5, NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_array_i64_new(rt, NULL, 2, &untouched), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "values");
  FIC_ASSERT_STATUS(fic_array_i64_new(rt, v, (size_t)INT32_MAX + 1, &untouched), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "n");
  assert_int_equal(untouched.kind, FIC_KIND_INT);
  assert_int_equal(untouched.v.i, 42);
}

static void test_object_argument_kinds(void **state) {
  fic_runtime *rt = rt_of(state);
  /* A String object (65) passes. */
  fic_result s = call1(rt, "long_string", fic_arg_int(300));
  fic_result len = call1(rt, "string_size", fic_arg_object(&s));
  assert_int_equal(len.v.i, 300);
  assert_int_equal(strong_count(&s), 1);
  FIC_ASSERT_OK(fic_result_release(&s));

  /* A Shape object (69) is refused before the call, naming its index. */
  fic_result shape = call1(rt, "make_shape", fic_arg_int(3));
  assert_int_equal(shape.kind, 69);
  fic_arg args[2] = {fic_arg_int(1), fic_arg_object(&shape)};
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "add_int"), args, 2, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "args[1]");
  assert_non_null(strstr(fic_last_error_message(), "type index 69"));
  assert_int_equal(strong_count(&shape), 1);
  FIC_ASSERT_OK(fic_result_release(&shape));

  /* Memory whose header claims an unregistered index: refused, not passed
   * (TVM-FFI would exit() looking it up). */
  uint64_t fake[4] = {1, 13, 0, 0};
  fic_result fr = {FIC_KIND_OBJECT, 0, {0}};
  fr.v.obj = fake;
  args[1] = fic_arg_object(&fr);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "add_int"), args, 2, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(fic_last_error_message(), "type index 13"));

  /* Results that hold no object (an int, a small string, NULL) give an
   * argument the call refuses. */
  fic_result small = call1(rt, "echo_string", fic_arg_string("abc"));
  assert_int_equal(small.kind, FIC_KIND_SMALL_STRING);
  fic_result i = call1(rt, "echo_int", fic_arg_int(9));
  const fic_result *holders[3] = {&small, &i, NULL};
  for (int k = 0; k < 3; ++k) {
    fic_arg a = fic_arg_object(holders[k]);
    assert_int_equal(a.kind, FIC_KIND_OBJECT);
    FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "string_size"), &a, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
    assert_string_equal(fic_last_error_argument(), "args[0]");
    assert_non_null(strstr(fic_last_error_message(), "holds no object"));
  }
}

static void test_optional_tensor_object(void **state) {
  fic_runtime *rt = rt_of(state);
  float x[6] = {1, 2, 3, 4, 5, 6};
  int64_t shape[2] = {2, 3}, tshape[2] = {3, 2}, tstrides[2] = {1, 3};
  fic_tensor t = ffi_cpu_f32(x, 2, shape, NULL);
  fic_result r = call1(rt, "opt_tensor_numel", fic_arg_tensor_object(NULL));
  assert_int_equal(r.v.i, -1);
  r = call1(rt, "opt_tensor_numel", fic_arg_tensor_object(&t));
  assert_int_equal(r.v.i, 6);
  /* As upstream: a DLTensor* is no Optional<ffi::Tensor>. */
  fic_arg plain = fic_arg_tensor(&t);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "opt_tensor_numel"), &plain, 1, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_string_equal(fic_last_error_kind(), "TypeError");

  /* Filled-in strides and a transposed view reach the Tensor object; while
   * the call runs the object has two references: ours and the callee's. */
  fic_tensor views[2] = {t, ffi_cpu_f32(x, 2, tshape, tstrides)};
  for (int k = 0; k < 2; ++k) {
    fic_result info = call1(rt, "tensor_object_info", fic_arg_tensor_object(&views[k]));
    assert_pair_and_release(&info, 21, 2);
  }
}

/* Every path releases the Tensor objects the call made exactly once; a leak
 * or a second release shows under valgrind (CI) or ASan. */
static void test_tensor_objects_released_on_failure(void **state) {
  fic_runtime *rt = rt_of(state);
  float x[4] = {0};
  int32_t ix[4] = {0};
  int64_t shape[1] = {4};
  fic_tensor t = ffi_cpu_f32(x, 1, shape, NULL);
  fic_tensor ti = {ix, {FIC_DEVICE_CPU, 0}, 1, FIC_I32, shape, NULL, 0};
  /* The wrapper raises (int32 where float32 is required). */
  fic_arg a = fic_arg_tensor_object(&ti);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "tensor_object_info"), &a, 1, -1, NULL, NULL), FIC_ERR_KERNEL);
  assert_non_null(strstr(fic_last_error_message(), "float32 tensor required"));
  /* A later argument is refused after a tensor object was made. */
  fic_arg two[2] = {fic_arg_tensor_object(&t), fic_arg_tensor(NULL)};
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "check_same_len"), two, 2, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "args[1]");
  /* Too many tensor objects for one call: the 16 made are released. */
  fic_arg many[17];
  for (int k = 0; k < 17; ++k) many[k] = fic_arg_tensor_object(&t);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "noop"), many, 17, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "args[16]");
  /* A malformed descriptor is refused like a plain tensor's. */
  int64_t neg[1] = {-1};
  fic_tensor bad = ffi_cpu_f32(x, 1, neg, NULL);
  a = fic_arg_tensor_object(&bad);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "opt_tensor_numel"), &a, 1, -1, NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "args[0]");
}

static void test_host_tensors(void **state) {
  fic_runtime *rt = rt_of(state);
  int32_t indptr[5] = {0, 3, 7, 7, 12};
  int64_t shape[1] = {5};
  fic_tensor host = {indptr, {FIC_DEVICE_CPU, 0}, 1, FIC_I32, shape, NULL, 0};
  /* Only host tensors: no device is involved, the stream argument is unused. */
  fic_arg a = fic_arg_tensor(&host);
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "host_sum_i32"), &a, 1, -1, (void *)(uintptr_t)0x7000, &r));
  assert_int_equal(r.v.i, 29);

  /* Host first, then a CUDA tensor (a plan's indptr and workspace): the
   * device and its stream come from the first CUDA tensor, not the first
   * tensor. The module reads the CUDA descriptor only, never its memory. */
  int64_t dshape[1] = {16};
  fic_tensor dev = {(void *)(uintptr_t)0xdead0000, {FIC_DEVICE_CUDA, 0}, 1, FIC_U8, dshape, NULL, 0};
  fic_arg mixed[2] = {fic_arg_tensor(&host), fic_arg_tensor(&dev)};
  fic_status st = fic_function_call(ffi_fn(rt, "host_sum_and_stream"), mixed, 2, -1, (void *)(uintptr_t)0x7000, &r);
  if (st == FIC_ERR_CUDA) skip(); /* a CUDA runtime is loaded but has no device 0 */
  FIC_ASSERT_OK(st);
  assert_pair_and_release(&r, 29, 0x7000);
  /* The stream of cuda:0 is restored after the call. */
  fic_arg d0 = fic_arg_int(0);
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "current_stream"), &d0, 1, -1, NULL, &r));
  assert_int_equal(r.v.i, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_plan_round_trip),
      cmocka_unit_test(test_array_reader_errors),
      cmocka_unit_test(test_array_new),
      cmocka_unit_test(test_object_argument_kinds),
      cmocka_unit_test(test_optional_tensor_object),
      cmocka_unit_test(test_tensor_objects_released_on_failure),
      cmocka_unit_test(test_host_tensors),
  };
  return cmocka_run_group_tests(tests, ffi_fixture_setup, ffi_fixture_teardown);
}
