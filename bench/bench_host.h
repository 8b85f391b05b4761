/* SPDX-License-Identifier: Apache-2.0 */
/* What every benchmark shares, GPU or not (bench_util.h adds the CUDA
 * parts): fatal errors, the host clock and quantiles, dlsym of the modules
 * the runtime loaded, and the raw TVM-FFI safe call of the attention
 * exports (the floor any caller of a module pays). */
#ifndef FIC_BENCH_HOST_H
#define FIC_BENCH_HOST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flashinfer_c.h"

/* The program's name, the prefix of its messages. */
extern const char *bench_name;

void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
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
/* DIR/NAME opened for writing (append: for appending), with `header` as its
 * first line unless it is appended to an existing file; or die. */
FILE *bench_csv_open(const char *dir, const char *name, const char *header, int append);
/* dlsym(h, name), or die naming it. */
void *sym_or_die(void *h, const char *name);
/* The dlopen handle of `module` as the runtime loaded it (for raw calls). */
void *module_handle(fic_runtime *rt, const char *module);
/* The handle of libtvm_ffi that defines TVMFFIEnvSetStream. */
void *tvm_ffi_handle(fic_runtime *rt);

/* A contiguous (row-major) tensor descriptor owning its shape and strides. */
typedef struct tens {
  fic_tensor t;
  int64_t shape[4], strides[4];
} tens;
void tens_set(tens *x, void *data, int dev_type, fic_dtype dt, int nd, const int64_t *shape);
/* A 1-D int32 tensor of n elements. */
void vec_i32(tens *x, void *data, int dev_type, int64_t n);

/* ---- the raw safe call: `__tvm_ffi_<name>` dlsym'ed from the module,
 * arguments as fic_arg (the TVMFFIAny layout: 16 bytes, kind = type index) ---- */

typedef int (*raw_fn)(void *self, const fic_arg *args, int32_t n, fic_arg *result);
/* TVM-FFI's env-stream and error calls, from the libtvm_ffi the runtime loaded. */
typedef struct raw_ffi {
  int (*set_stream)(int32_t device_type, int32_t device_id, void *stream, void **prev);
  void (*move_raised)(void **out);
  int (*decref)(void *obj);
} raw_ffi;

void raw_ffi_init(raw_ffi *r, fic_runtime *rt);
/* `__tvm_ffi_<name>` of `module` as the runtime loaded it, or die. */
raw_fn raw_export(fic_runtime *rt, const char *module, const char *name);
/* Set the env stream (device 0), call, restore it (what any caller must do);
 * a raised error is taken and released. */
int raw_call(const raw_ffi *r, raw_fn f, const fic_arg *args, int32_t n, fic_arg *res, void *stream);
/* Release an object result (kind >= 64) and clear it. */
void raw_release(const raw_ffi *r, fic_arg *obj);

/* The attention benchmarks' raw exports: the decode module's plan/run and
 * the FA2 prefill module's plan/paged_run. */
typedef struct raw_attn {
  raw_ffi ffi;
  raw_fn decode_plan, decode_run, prefill_plan, prefill_run;
} raw_attn;
void raw_attn_init(raw_attn *r, fic_runtime *rt, const char *decode_module, const char *prefill_module);

#endif
