/* SPDX-License-Identifier: Apache-2.0 */
#include "bench_util.h"

#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gpu_kernels.h"

cudaStream_t g_stream;
int g_gate_timeouts;
static unsigned *g_gate_flag, *g_gate_flag_dev, *g_gate_to, *g_gate_to_dev, g_gate_gen;

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

void bench_device_init(cudaEvent_t *ev0, cudaEvent_t *ev1, int n) {
  CK(cudaSetDevice(0));
  gate_init();
  for (int i = 0; i < n; ++i) {
    CK(cudaEventCreate(&ev0[i]));
    CK(cudaEventCreate(&ev1[i]));
  }
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
