/* SPDX-License-Identifier: Apache-2.0 */
/* What the GPU benchmarks (bench_gpu, bench_attention, bench_layer) share
 * beyond bench_host.h (errors, clock, dlsym, raw calls): device memory,
 * and the stream "gate" that holds queued work until the host has enqueued
 * a whole measurement (so host timings never wait for the GPU and GPU
 * timings never include host gaps). Each program sets bench_name first. */
#ifndef FIC_BENCH_UTIL_H
#define FIC_BENCH_UTIL_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "bench_host.h"
#include "flashinfer_c.h"

#define CK(call)                                                                                    \
  do {                                                                                              \
    cudaError_t e_ = (cudaError_t)(call);                                                           \
    if (e_ != cudaSuccess) die("%s:%d: %s: %s", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
  } while (0)

/* cudaSetDevice(0), gate_init(), and n timing events in each of ev0 and ev1. */
void bench_device_init(cudaEvent_t *ev0, cudaEvent_t *ev1, int n);
/* cudaMalloc of `bytes` (at least 16), or die. */
void *dalloc(size_t bytes);

/* The stream every benchmark enqueues on, and the gate that holds it. */
extern cudaStream_t g_stream;
/* Gate timeouts seen by gate_check (a measurement then waited on a full
 * launch queue: the programs report it). */
extern int g_gate_timeouts;
/* Create g_stream (non-blocking) and the gate's mapped host flags. */
void gate_init(void);
/* Hold g_stream: work enqueued after this waits until gate_open(). */
void gate_close(void);
void gate_open(void);
/* After a synchronize: did the gate give up waiting? Warn and count. */
void gate_check(const char *what);

#endif
