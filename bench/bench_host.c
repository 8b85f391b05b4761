/* SPDX-License-Identifier: Apache-2.0 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, RTLD_DEFAULT, RTLD_NOLOAD */
#endif
#include "bench_host.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *bench_name = "bench";

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

FILE *bench_csv_open(const char *dir, const char *name, const char *header, int append) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  int exists = access(path, F_OK) == 0;
  FILE *f = fopen(path, append ? "a" : "w");
  if (!f) die("cannot write %s: %s", path, strerror(errno));
  if (!append || !exists) fprintf(f, "%s\n", header);
  return f;
}

void *sym_or_die(void *h, const char *name) {
  dlerror();
  void *s = dlsym(h, name);
  if (!s) die("dlsym(%s): %s", name, dlerror());
  return s;
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

void tens_set(tens *x, void *data, int dev_type, fic_dtype dt, int nd, const int64_t *shape) {
  memset(x, 0, sizeof *x);
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; i--) {
    x->shape[i] = shape[i];
    x->strides[i] = s;
    s *= shape[i];
  }
  x->t.data = data;
  x->t.device.device_type = dev_type;
  x->t.device.device_id = 0;
  x->t.ndim = nd;
  x->t.dtype = dt;
  x->t.shape = x->shape;
  x->t.strides = x->strides;
}

void vec_i32(tens *x, void *data, int dev_type, int64_t n) { tens_set(x, data, dev_type, FIC_I32, 1, &n); }

#define SYM(dst, h, name)               \
  do {                                  \
    void *s_ = sym_or_die((h), (name)); \
    memcpy(&(dst), &s_, sizeof(s_));    \
  } while (0)

void raw_ffi_init(raw_ffi *r, fic_runtime *rt) {
  void *th = tvm_ffi_handle(rt);
  SYM(r->set_stream, th, "TVMFFIEnvSetStream");
  SYM(r->move_raised, th, "TVMFFIErrorMoveFromRaised");
  SYM(r->decref, th, "TVMFFIObjectDecRef");
}

raw_fn raw_export(fic_runtime *rt, const char *module, const char *name) {
  char sym[128];
  snprintf(sym, sizeof sym, "__tvm_ffi_%s", name);
  raw_fn f;
  SYM(f, module_handle(rt, module), sym);
  return f;
}

int raw_call(const raw_ffi *r, raw_fn f, const fic_arg *args, int32_t n, fic_arg *res, void *stream) {
  fic_arg none = fic_arg_none();
  void *prev = NULL;
  r->set_stream(FIC_DEVICE_CUDA, 0, stream, &prev);
  int rc = f(NULL, args, n, res ? res : &none);
  r->set_stream(FIC_DEVICE_CUDA, 0, prev, NULL);
  if (rc != 0) {
    void *err = NULL;
    r->move_raised(&err);
    if (err) r->decref(err);
  }
  return rc;
}

void raw_release(const raw_ffi *r, fic_arg *obj) {
  if (obj->kind >= 64 && obj->v.p) r->decref((void *)obj->v.p);
  *obj = fic_arg_none();
}

void raw_attn_init(raw_attn *r, fic_runtime *rt, const char *decode_module, const char *prefill_module) {
  raw_ffi_init(&r->ffi, rt);
  r->decode_plan = raw_export(rt, decode_module, "plan"), r->decode_run = raw_export(rt, decode_module, "run");
  r->prefill_plan = raw_export(rt, prefill_module, "plan");
  r->prefill_run = raw_export(rt, prefill_module, "paged_run");
}
