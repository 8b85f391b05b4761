/* SPDX-License-Identifier: Apache-2.0 */
/* Opens a runtime over the fixture jit-cache wheel (test module) and the real
 * tvm-ffi 0.1.3 wheel, in a fresh cache directory. */
#ifndef FIC_TEST_FFI_FIXTURE_H
#define FIC_TEST_FFI_FIXTURE_H
#include "test_support.h"

typedef struct ffi_fixture {
  char *cache_dir;
  fic_runtime *rt;
} ffi_fixture;

int ffi_fixture_setup(void **state);
int ffi_fixture_teardown(void **state);
/* Resolve fic_test.<name>. */
fic_function *ffi_fn(fic_runtime *rt, const char *name);
/* A float32 CPU tensor descriptor over `data`. */
fic_tensor ffi_cpu_f32(float *data, int32_t ndim, const int64_t *shape, const int64_t *strides);
#endif
