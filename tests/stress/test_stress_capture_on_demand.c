/* SPDX-License-Identifier: Apache-2.0 */
/* A module that must be extracted (or loaded) while the caller's stream
 * captures a CUDA graph is refused with FIC_ERR_CAPTURING, and nothing is
 * extracted; after fic_runtime_preload() outside capture, calls during
 * capture resolve without loading. Runs without a GPU: a fake libcudart
 * (fake_cudart.c, through FLASHINFER_C_CUDART) reports the capture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "artifacts/test_hooks.h"
#include "stress_support.h"

static void test_capture_refuses_lazy_extraction(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("capture-on-demand");
  char wheel[4200], root[4200];
  snprintf(wheel, sizeof wheel, "%s/flashinfer_jit_cache-0.0.0+two-py3-none-any.whl", dir);
  snprintf(root, sizeof root, "%s/root", dir);
  const char *mod = fic_test_env("FIC_TEST_MODULE");
  assert_int_equal(fic_test_sh("'%s' '%s' '%s' 'flashinfer_jit_cache/jit_cache/fic_test/fic_test.so=%s' "
                               "'flashinfer_jit_cache/jit_cache/fic_test2/fic_test2.so=%s'",
                               fic_test_env("FIC_TEST_PYTHON"), fic_test_env("FIC_TEST_MAKE_WHEEL"), wheel, mod, mod),
                   0);
  setenv("FLASHINFER_C_CUDART", fic_test_env("FIC_TEST_FAKE_CUDART"), 1);
  setenv("FIC_FAKE_CUDART_CAPTURING", "0", 1);
  fic_config c;
  fic_config_init(&c);
  c.cache_dir = root;
  c.jit_cache_wheel = wheel;
  c.tvmffi_wheel = fic_test_env("FIC_TEST_TVMFFI_WHEEL");
  c.offline = 1;
  fic_runtime *rt = NULL;
  FIC_ASSERT_OK(fic_runtime_open(&c, &rt));
  FIC_ASSERT_OK(fic_runtime_preload(rt, (const char *const[]){"fic_test", NULL})); /* loads the fake cudart too */

  void *stream = (void *)0x1234;
  setenv("FIC_FAKE_CUDART_CAPTURING", "1", 1);
  fic_function *fn = NULL;
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test", "echo_int", stream, &fn)); /* preloaded: no load */
  uint64_t x0 = fic__test_extraction_count();
  FIC_ASSERT_STATUS(fic_function_get(rt, "fic_test2", "echo_int", stream, &fn), FIC_ERR_CAPTURING);
  ST_ASSERT_CONTAINS(fic_last_error_message(), "fic_test2");
  ST_ASSERT_CONTAINS(fic_last_error_message(), "fic_runtime_preload");
  assert_int_equal(fic__test_extraction_count(), x0); /* nothing extracted during capture */
  const char *entry = NULL;
  FIC_ASSERT_OK(fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &entry));
  char mdir[8300];
  snprintf(mdir, sizeof mdir, "%s/modules/fic_test2", entry);
  assert_int_equal(access(mdir, F_OK), -1);

  setenv("FIC_FAKE_CUDART_CAPTURING", "0", 1);
  FIC_ASSERT_OK(fic_runtime_preload(rt, (const char *const[]){"fic_test2", NULL}));
  assert_int_equal(fic__test_extraction_count(), x0 + 1);
  setenv("FIC_FAKE_CUDART_CAPTURING", "1", 1);
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test2", "echo_int", stream, &fn));
  fic_runtime_close(rt);
  unsetenv("FIC_FAKE_CUDART_CAPTURING");
  fic_test_rmtree(dir);
  free(dir);
}

int main(void) {
  st_clean_env();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_capture_refuses_lazy_extraction)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
