/* SPDX-License-Identifier: Apache-2.0 */
/* The thread's error record across calls that succeed while something inside
 * them fails and is tolerated (the header: "a successful call never clears
 * it"), and fic_diagnose racing first-time module loads (run under
 * ThreadSanitizer by .ci/run: it reported the unlocked reads of a module's
 * handle and of libcudart's search list). libcudart is made unfindable
 * (FLASHINFER_C_CUDART names a missing file), so the first module load and
 * fic_diagnose both meet a failed libcudart search: the case that cleared
 * the record. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "ffi_fixture.h"

#define THREADS 4
#define ROUNDS 8

/* Leave a recognisable failure in this thread's record. */
static void record_failure(void) {
  fic_function *fn = NULL;
  assert_int_equal(fic_function_get(NULL, "fic_test", "noop", NULL, &fn), FIC_ERR_INVALID_ARGUMENT);
  assert_int_equal(fic_last_error_status(), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(fic_last_error_argument(), "rt");
}

static void expect_failure_kept(const char *after) {
  if (fic_last_error_status() != FIC_ERR_INVALID_ARGUMENT || strcmp(fic_last_error_argument(), "rt") != 0)
    fail_msg("after %s the record holds %s ('%s', argument '%s'), not the earlier failure", after,
             fic_status_string(fic_last_error_status()), fic_last_error_message(), fic_last_error_argument());
}

static void test_success_keeps_record_across_first_load(void **state) {
  (void)state;
  ffi_fixture *f = NULL;
  ffi_fixture_setup((void **)&f);
  record_failure();
  /* First function_get on this runtime: loads the module (and tries libcudart). */
  fic_function *fn = NULL;
  FIC_ASSERT_OK(fic_function_get(f->rt, "fic_test", "add_int", NULL, &fn));
  expect_failure_kept("a first-time fic_function_get");
  fic_arg args[2] = {fic_arg_int(2), fic_arg_int(3)};
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(fn, args, 2, -1, NULL, &r));
  assert_int_equal(r.v.i, 5);
  expect_failure_kept("a successful fic_function_call");
  ffi_fixture_teardown((void **)&f);
}

static void test_diagnose_keeps_record(void **state) {
  (void)state;
  ffi_fixture *f = NULL;
  ffi_fixture_setup((void **)&f);
  size_t needed = 0;
  record_failure();
  FIC_ASSERT_OK(fic_diagnose(f->rt, NULL, 0, &needed));
  expect_failure_kept("fic_diagnose(rt)");
  char *text = malloc(needed);
  assert_non_null(text);
  FIC_ASSERT_OK(fic_diagnose(f->rt, text, needed, NULL));
  assert_non_null(strstr(text, "libcudart: not found"));
  free(text);
  /* Without a runtime the default cache root is reported; no record change either. */
  FIC_ASSERT_OK(fic_diagnose(NULL, NULL, 0, &needed));
  expect_failure_kept("fic_diagnose(NULL)");
  ffi_fixture_teardown((void **)&f);
}

typedef struct race {
  fic_runtime *rt;
  int load; /* 1: resolve a function (first one loads the module); 0: diagnose */
  fic_status st;
} race;

static void *race_thread(void *arg) {
  race *r = arg;
  if (r->load) {
    fic_function *fn = NULL;
    r->st = fic_function_get(r->rt, "fic_test", "noop", NULL, &fn);
  } else {
    char text[4096];
    r->st = fic_diagnose(r->rt, text, sizeof text, NULL);
    if (r->st == FIC_OK && !strstr(text, "module fic_test:")) r->st = FIC_ERR_INTERNAL;
  }
  return NULL;
}

/* Diagnose threads read the module table and libcudart's search list while
 * loader threads load the module and search for libcudart. */
static void test_diagnose_races_module_loads(void **state) {
  (void)state;
  for (int round = 0; round < ROUNDS; round++) {
    ffi_fixture *f = NULL;
    ffi_fixture_setup((void **)&f);
    pthread_t th[THREADS];
    race r[THREADS];
    for (int i = 0; i < THREADS; i++) {
      r[i] = (race){f->rt, i % 2, FIC_ERR_INTERNAL};
      assert_int_equal(pthread_create(&th[i], NULL, race_thread, &r[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) {
      assert_int_equal(pthread_join(th[i], NULL), 0);
      if (r[i].st != FIC_OK)
        fail_msg("round %d thread %d (%s): %s", round, i, r[i].load ? "load" : "diagnose", fic_status_string(r[i].st));
    }
    ffi_fixture_teardown((void **)&f);
  }
}

int main(void) {
  fic_test_clean_env();
  setenv("FLASHINFER_C_CUDART", "/nonexistent/libcudart.so.13", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_success_keeps_record_across_first_load),
      cmocka_unit_test(test_diagnose_keeps_record),
      cmocka_unit_test(test_diagnose_races_module_loads),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
