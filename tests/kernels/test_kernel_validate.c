/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the validation helpers (src/kernels/validate.c) on edge
 * cases the public-API tests do not reach directly. */
#include <math.h>
#include <string.h>

#include "kernels/validate.h"
#include "runtime/signatures.h"
#include "test_support.h"

static fic_tensor cuda_t(void *data, int32_t ndim, const int64_t *shape, const int64_t *strides, fic_dtype dt) {
  fic_tensor t = {data, {FIC_DEVICE_CUDA, 0}, ndim, dt, shape, strides, 0};
  return t;
}

static void test_strides_filled_when_null(void **state) {
  (void)state;
  int64_t shape[4] = {2, 3, 0, 5};
  fic_tensor t = cuda_t(NULL, 4, shape, NULL, FIC_F16);
  fic_vt vt;
  FIC_ASSERT_OK(fic__vt_init(&vt, &t, "x", 1, 4));
  /* One rule with the generic API (src/ffi/tensor.c): each stride is the
   * product of the extents after it, zeros included, which is what TVM-FFI's
   * IsContiguous() (the wrappers' CHECK_INPUT) accepts for an empty tensor. */
  assert_true(vt.strides[3] == 1 && vt.strides[2] == 5 && vt.strides[1] == 0 && vt.strides[0] == 0);
  assert_ptr_equal(vt.t.strides, vt.strides);
  assert_true(vt.numel == 0); /* empty: NULL data is fine */
  FIC_ASSERT_OK(fic__vt_contiguous(&vt));

  int64_t s2[2] = {4, 5}, given[2] = {7, 1};
  t = cuda_t((void *)0x1000, 2, s2, given, FIC_F16);
  FIC_ASSERT_OK(fic__vt_init(&vt, &t, "x", 2, 2));
  assert_true(vt.strides[0] == 7 && vt.t.strides == vt.strides); /* copied, not aliased */
  assert_int_equal(fic__vt_contiguous(&vt), FIC_ERR_INVALID_ARGUMENT);
}

static void test_contiguity_ignores_unit_dims(void **state) {
  (void)state;
  int64_t shape[3] = {1, 4, 8}, strides[3] = {999, 8, 1};
  fic_tensor t = cuda_t((void *)0x1000, 3, shape, strides, FIC_F32);
  fic_vt vt;
  FIC_ASSERT_OK(fic__vt_init(&vt, &t, "x", 3, 3));
  FIC_ASSERT_OK(fic__vt_contiguous(&vt));
  FIC_ASSERT_OK(fic__vt_last_contiguous(&vt));
  FIC_ASSERT_OK(fic__vt_outer_strides_multiple(&vt, 8, "test"));
}

static void test_offsets_fit(void **state) {
  (void)state;
  int64_t shape[2] = {2, 4}, strides[2] = {(int64_t)UINT32_MAX - 3, 1};
  fic_tensor t = cuda_t((void *)0x1000, 2, shape, strides, FIC_F16);
  fic_vt vt;
  FIC_ASSERT_OK(fic__vt_init(&vt, &t, "x", 2, 2));
  FIC_ASSERT_OK(fic__vt_offsets_fit(&vt, UINT32_MAX, "test")); /* largest offset exactly UINT32_MAX */
  strides[0]++;
  FIC_ASSERT_OK(fic__vt_init(&vt, &t, "x", 2, 2));
  assert_int_equal(fic__vt_offsets_fit(&vt, UINT32_MAX, "test"), FIC_ERR_INVALID_ARGUMENT);
  int64_t huge[2] = {INT64_MAX / 2, 1};
  FIC_ASSERT_OK(fic__vt_init(&vt, &t, "x", 2, 2));
  vt.strides[0] = huge[0];
  assert_int_equal(fic__vt_offsets_fit(&vt, UINT32_MAX, "test"), FIC_ERR_INVALID_ARGUMENT);
}

static void test_numel_overflow(void **state) {
  (void)state;
  int64_t shape[3] = {INT64_MAX / 2, 4, 1};
  fic_tensor t = cuda_t((void *)0x1000, 3, shape, NULL, FIC_F16);
  fic_vt vt;
  assert_int_equal(fic__vt_init(&vt, &t, "big", 3, 3), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "big");
  assert_non_null(strstr(fic_last_error_message(), "too many elements"));
}

static void test_names_and_scalars(void **state) {
  (void)state;
  char buf[48];
  assert_string_equal(fic__dtype_name(FIC_BF16, buf, sizeof buf), "bfloat16");
  assert_string_equal(fic__dtype_name(FIC_F8_E4M3FN, buf, sizeof buf), "float8_e4m3fn");
  assert_string_equal(fic__dtype_name((fic_dtype){17, 4, 2}, buf, sizeof buf), "dtype(code=17,bits=4,lanes=2)");
  FIC_ASSERT_OK(fic__check_finite("eps", 0.0, 1, 0));
  assert_int_equal(fic__check_finite("eps", -0.5, 1, 0), FIC_ERR_INVALID_ARGUMENT);
  assert_int_equal(fic__check_finite("scale", 0.0, 0, 1), FIC_ERR_INVALID_ARGUMENT);
  assert_int_equal(fic__check_finite("scale", -INFINITY, 0, 0), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_OK(fic__check_finite("scale", -2.0, 0, 1));
}

/* The parameter counts of page.so and cascade.so (csrc/page.cu, cascade.cu),
 * which the generic path enforces before a call reaches the wrapper. */
static void test_page_cascade_arity(void **state) {
  (void)state;
  assert_int_equal(fic__signature_arity("page", "append_paged_kv_cache"), 10);
  assert_int_equal(fic__signature_arity("page", "append_paged_mla_kv_cache"), 9);
  assert_int_equal(fic__signature_arity("cascade", "merge_state"), 6);
  assert_int_equal(fic__signature_arity("cascade", "merge_state_in_place"), 5);
  assert_int_equal(fic__signature_arity("cascade", "merge_states"), 4);
  assert_int_equal(fic__signature_arity("cascade", "no_such_export"), -1);
}

/* fic__load_params: the rule every parameters struct shares. */
static void test_load_params(void **state) {
  (void)state;
  struct {
    size_t struct_size;
    int64_t a, b;
  } in = {16, 7, 9}, out = {24, 1, 2};
  FIC_ASSERT_OK(fic__load_params(&in, &out, sizeof out, "params", "x_init"));
  assert_true(out.struct_size == 24 && out.a == 7 && out.b == 2); /* b keeps its default; the full size from here on */
  size_t bad[] = {0, 4, 12, 32};
  for (size_t i = 0; i < 4; i++) {
    in.struct_size = bad[i];
    FIC_ASSERT_STATUS(fic__load_params(&in, &out, sizeof out, "params", "x_init"), FIC_ERR_INVALID_ARGUMENT);
    assert_string_equal(fic_last_error_argument(), "params");
  }
  FIC_ASSERT_STATUS(fic__load_params(NULL, &out, sizeof out, "params", "x_init"), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_OK(fic__params_reset(&out, sizeof out, "params"));
  assert_true(out.struct_size == sizeof out && out.a == 0 && out.b == 0);
  FIC_ASSERT_STATUS(fic__params_reset(NULL, sizeof out, "desc"), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "desc");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_strides_filled_when_null),
      cmocka_unit_test(test_contiguity_ignores_unit_dims),
      cmocka_unit_test(test_offsets_fit),
      cmocka_unit_test(test_numel_overflow),
      cmocka_unit_test(test_names_and_scalars),
      cmocka_unit_test(test_page_cascade_arity),
      cmocka_unit_test(test_load_params),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
