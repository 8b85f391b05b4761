/* SPDX-License-Identifier: Apache-2.0 */
#include "ffi_fixture.h"

#include <stdlib.h>

int ffi_fixture_setup(void **state) {
  ffi_fixture *f = calloc(1, sizeof *f);
  f->cache_dir = fic_test_mkdtemp("ffi");
  static const char *const modules[] = {"fic_test", NULL};
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.cache_dir = f->cache_dir;
  cfg.jit_cache_wheel = fic_test_env("FIC_TEST_JIT_WHEEL");
  cfg.tvmffi_wheel = fic_test_env("FIC_TEST_TVMFFI_WHEEL");
  cfg.modules = modules;
  cfg.offline = 1;
  FIC_ASSERT_OK(fic_runtime_open(&cfg, &f->rt));
  *state = f;
  return 0;
}

int ffi_fixture_teardown(void **state) {
  ffi_fixture *f = *state;
  FIC_ASSERT_OK(fic_runtime_close(f->rt));
  fic_test_rmtree(f->cache_dir);
  free(f->cache_dir);
  free(f);
  return 0;
}

fic_function *ffi_fn(fic_runtime *rt, const char *name) {
  fic_function *fn = NULL;
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test", name, NULL, &fn));
  assert_non_null(fn);
  return fn;
}

fic_tensor ffi_cpu_f32(float *data, int32_t ndim, const int64_t *shape, const int64_t *strides) {
  fic_tensor t = {data, {FIC_DEVICE_CPU, 0}, ndim, FIC_F32, shape, strides, 0};
  return t;
}
