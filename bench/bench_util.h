/* SPDX-License-Identifier: Apache-2.0 */
/* What the GPU benchmarks (bench_gpu, bench_attention, bench_layer) share:
 * fatal-error reporting, the host clock and quantiles, dlsym, device memory,
 * and the stream "gate" that holds queued work until the host has enqueued
 * a whole measurement (so host timings never wait for the GPU and GPU
 * timings never include host gaps). Each program sets bench_name first. */
#ifndef FIC_BENCH_UTIL_H
#define FIC_BENCH_UTIL_H

#include <cuda_runtime_api.h>
#include <stddef.h>
#include <stdint.h>

#include "flashinfer_c.h"

/* The program's name, the prefix of its messages. */
extern const char *bench_name;

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define CK(call)                                                                                    \
  do {                                                                                              \
    cudaError_t e_ = (cudaError_t)(call);                                                           \
    if (e_ != cudaSuccess) die("%s:%d: %s: %s", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
  } while (0)
#define FK(call)                                                                                            \
  do {                                                                                                      \
    fic_status s_ = (call);                                                                                 \
    if (s_ != FIC_OK)                                                                                       \
      die("%s:%d: %s: %s: %s", __FILE__, __LINE__, #call, fic_status_string(s_), fic_last_error_message()); \
  } while (0)

/* CLOCK_MONOTONIC in nanoseconds. */
double now_ns(void);
/* Sorts v in place; returns the q-quantile (nearest rank). */
double quantile(double *v, int n, double q);
/* A bfloat16 bit pattern as a float. */
float bf2f(uint16_t h);
/* dlsym(h, name), or die naming it. */
void *sym_or_die(void *h, const char *name);
/* The dlopen handle of `module` as the runtime loaded it (for raw calls). */
void *module_handle(fic_runtime *rt, const char *module);
/* The handle of libtvm_ffi that defines TVMFFIEnvSetStream. */
void *tvm_ffi_handle(fic_runtime *rt);
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
