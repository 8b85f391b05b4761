/* SPDX-License-Identifier: Apache-2.0 */
/* The env stream is set for the call and restored after it, on every path,
 * per thread; many threads call at once. The test module reports the stream
 * it sees through TVMFFIEnvGetStream, as a FlashInfer kernel would. */
#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "ffi_fixture.h"

static int64_t stream_seen(fic_runtime *rt, int64_t device, int32_t set_device, void *stream) {
  fic_arg a = fic_arg_int(device);
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "current_stream"), &a, 1, set_device, stream, &r));
  return r.v.i;
}

/* On a machine with a CUDA runtime and fewer GPUs than `device`, a call with
 * a tensor on that device must fail with FIC_ERR_CUDA (cudaSetDevice refuses
 * the ordinal) and leave the stream table as it was; elsewhere it succeeds.
 * Returns 1 if it ran. */
static int device_usable(fic_runtime *rt, int32_t device) {
  /* A CUDA tensor makes the library switch to its device (the module only
   * reads the descriptor, never the memory). */
  int64_t shape[1] = {4};
  fic_tensor t = {(void *)(uintptr_t)0xdead0000, {FIC_DEVICE_CUDA, device}, 1, FIC_F32, shape, NULL, 0};
  fic_arg a = fic_arg_tensor(&t);
  fic_result r;
  fic_status st = fic_function_call(ffi_fn(rt, "stream_of"), &a, 1, -1, (void *)(uintptr_t)0x5000, &r);
  if (st == FIC_OK) return 1;
  assert_int_equal(st, FIC_ERR_CUDA);
  assert_non_null(strstr(fic_last_error_message(), "cudaSetDevice"));
  assert_int_equal(stream_seen(rt, device, -1, NULL), 0); /* restored on the error path */
  print_message("device %d does not exist here: checked the error path instead\n", (int)device);
  return 0;
}

static void test_stream_set_for_the_call_and_restored(void **state) {
  fic_runtime *rt = ((ffi_fixture *)*state)->rt;
  void *s1 = (void *)(uintptr_t)0x1000, *s2 = (void *)(uintptr_t)0x2000;
  assert_int_equal(stream_seen(rt, 0, -1, NULL), 0); /* nothing set on a fresh thread */
  assert_int_equal(stream_seen(rt, 0, 0, s1), 0x1000);
  assert_int_equal(stream_seen(rt, 0, -1, NULL), 0); /* restored to NULL */
  if (!device_usable(rt, 1)) return;
  assert_int_equal(stream_seen(rt, 1, 1, s2), 0x2000);
  assert_int_equal(stream_seen(rt, 0, 1, s2), 0); /* device 0 untouched by a device-1 call */
  assert_int_equal(stream_seen(rt, 1, -1, NULL), 0);
}

static void test_stream_restored_on_error(void **state) {
  fic_runtime *rt = ((ffi_fixture *)*state)->rt;
  fic_arg a = fic_arg_string("boom");
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "raise_value_error"), &a, 1, 0, (void *)(uintptr_t)0x3000, NULL),
                    FIC_ERR_KERNEL);
  assert_int_equal(stream_seen(rt, 0, -1, NULL), 0);
  fic_arg wrong = fic_arg_float(1.0);
  FIC_ASSERT_STATUS(fic_function_call(ffi_fn(rt, "echo_int"), &wrong, 1, 0, (void *)(uintptr_t)0x3000, NULL),
                    FIC_ERR_KERNEL);
  assert_int_equal(stream_seen(rt, 0, -1, NULL), 0);
}

static void test_stream_taken_from_first_cuda_tensor(void **state) {
  fic_runtime *rt = ((ffi_fixture *)*state)->rt;
  /* The module only reads the descriptor, never the memory. */
  int64_t shape[1] = {4};
  if (!device_usable(rt, 2)) return;
  fic_tensor t = {(void *)(uintptr_t)0xdead0000, {FIC_DEVICE_CUDA, 2}, 1, FIC_F32, shape, NULL, 0};
  fic_arg a = fic_arg_tensor(&t);
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(ffi_fn(rt, "stream_of"), &a, 1, -1, (void *)(uintptr_t)0x4000, &r));
  assert_int_equal(r.v.i, 0x4000);
  assert_int_equal(stream_seen(rt, 2, -1, NULL), 0);
}

typedef struct worker {
  fic_runtime *rt;
  int id;
  int failures;
} worker;

static void *worker_main(void *p) {
  worker *w = p;
  fic_function *cur = NULL, *add = NULL;
  if (fic_function_get(w->rt, "fic_test", "current_stream", NULL, &cur) != FIC_OK ||
      fic_function_get(w->rt, "fic_test", "add_int", NULL, &add) != FIC_OK) {
    w->failures++;
    return NULL;
  }
  void *mine = (void *)(uintptr_t)(0x10000 * (w->id + 1));
  for (int i = 0; i < 2000; ++i) {
    fic_arg dev = fic_arg_int(0);
    fic_result r;
    if (fic_function_call(cur, &dev, 1, 0, mine, &r) != FIC_OK || r.v.i != (int64_t)(uintptr_t)mine) w->failures++;
    fic_arg two[2] = {fic_arg_int(i), fic_arg_int(w->id)};
    if (fic_function_call(add, two, 2, -1, NULL, &r) != FIC_OK || r.v.i != i + w->id) w->failures++;
    fic_arg wrong = fic_arg_float(0.5);
    if (i % 100 == 0) {
      if (fic_function_call(add, &wrong, 1, 0, mine, NULL) != FIC_ERR_KERNEL ||
          strcmp(fic_last_error_kind(), "TypeError") != 0)
        w->failures++;
    }
  }
  return NULL;
}

static void test_many_threads(void **state) {
  fic_runtime *rt = ((ffi_fixture *)*state)->rt;
  enum { N = 8 };
  pthread_t th[N];
  worker w[N];
  for (int i = 0; i < N; ++i) {
    w[i] = (worker){rt, i, 0};
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &w[i]), 0);
  }
  for (int i = 0; i < N; ++i) {
    pthread_join(th[i], NULL);
    assert_int_equal(w[i].failures, 0);
  }
}

static void *fail_in_thread(void *p) {
  fic_runtime *rt = p;
  fic_function *fn = NULL;
  fic_function_get(rt, "fic_test", "does_not_exist", NULL, &fn);
  return (void *)(uintptr_t)fic_last_error_status();
}

static void test_error_record_is_per_thread(void **state) {
  fic_runtime *rt = ((ffi_fixture *)*state)->rt;
  fic_clear_error();
  pthread_t t;
  void *ret = NULL;
  assert_int_equal(pthread_create(&t, NULL, fail_in_thread, rt), 0);
  pthread_join(t, &ret);
  assert_int_equal((int)(uintptr_t)ret, FIC_ERR_NOT_FOUND);
  assert_int_equal(fic_last_error_status(), FIC_OK);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_stream_set_for_the_call_and_restored), cmocka_unit_test(test_stream_restored_on_error),
      cmocka_unit_test(test_stream_taken_from_first_cuda_tensor),  cmocka_unit_test(test_many_threads),
      cmocka_unit_test(test_error_record_is_per_thread),
  };
  return cmocka_run_group_tests(tests, ffi_fixture_setup, ffi_fixture_teardown);
}
