/* SPDX-License-Identifier: Apache-2.0 */
#include "bench_util.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gpu_kernels.h"

const char *bench_name = "bench";
cudaStream_t g_stream;
int g_gate_timeouts;
static unsigned *g_gate_flag, *g_gate_flag_dev, *g_gate_to, *g_gate_to_dev, g_gate_gen;

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", bench_name);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double quantile(double *v, int n, double q) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  int i = (int)(q * (n - 1) + 0.5);
  return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

float bf2f(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, sizeof f);
  return f;
}

void *sym_or_die(void *h, const char *name) {
  dlerror();
  void *s = dlsym(h, name);
  if (!s) die("dlsym(%s): %s", name, dlerror());
  return s;
}

void *dalloc(size_t bytes) {
  void *p = NULL;
  CK(cudaMalloc(&p, bytes ? bytes : 16));
  return p;
}

void gate_init(void) {
  CK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
  CK(cudaHostAlloc((void **)&g_gate_flag, 2 * sizeof(unsigned), cudaHostAllocMapped));
  g_gate_to = g_gate_flag + 1;
  CK(cudaHostGetDevicePointer((void **)&g_gate_flag_dev, g_gate_flag, 0));
  g_gate_to_dev = g_gate_flag_dev + 1;
  __atomic_store_n(g_gate_flag, 0u, __ATOMIC_SEQ_CST);
  __atomic_store_n(g_gate_to, 0u, __ATOMIC_SEQ_CST);
}

void gate_close(void) {
  ++g_gate_gen;
  CK(bgk_launch_gate(g_gate_flag_dev, g_gate_gen, 5000000000ull, g_gate_to_dev, g_stream));
}

void gate_open(void) { __atomic_store_n(g_gate_flag, g_gate_gen, __ATOMIC_SEQ_CST); }

void gate_check(const char *what) {
  if (__atomic_load_n(g_gate_to, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(g_gate_to, 0u, __ATOMIC_SEQ_CST);
    ++g_gate_timeouts;
    fprintf(stderr, "%s: warning: gate kernel timed out during %s (launch queue full?)\n", bench_name, what);
  }
}

void *module_handle(fic_runtime *rt, const char *module) {
  const char *path = NULL;
  FK(fic_runtime_module_path(rt, module, &path));
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD); /* the copy the runtime loaded */
  if (!h) h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) die("dlopen(%s): %s", path, dlerror());
  return h;
}

void *tvm_ffi_handle(fic_runtime *rt) {
  const char *tvm = NULL;
  if (dlsym(RTLD_DEFAULT, "TVMFFIEnvSetStream")) return RTLD_DEFAULT;
  if (fic_runtime_path(rt, FIC_PATH_LIBTVM_FFI, &tvm) == FIC_OK) {
    void *th = dlopen(tvm, RTLD_NOW | RTLD_NOLOAD);
    if (th && dlsym(th, "TVMFFIEnvSetStream")) return th;
  }
  die("TVMFFIEnvSetStream not found");
}
