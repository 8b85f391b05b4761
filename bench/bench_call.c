/* SPDX-License-Identifier: Apache-2.0 */
/* Host cost of one call through flashinfer-c's generic API vs a raw safe
 * call of the same exported symbol, on the CPU test module (no GPU needed).
 *
 * usage: bench_call JIT_WHEEL TVMFFI_WHEEL [iterations]
 * Prints ns per call (median of 15 rounds) for: raw safe call, fic_function_call
 * with no stream, fic_function_call with a stream set/restored. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "flashinfer_c.h"

typedef int (*safe_call)(void *, const fic_arg *, int32_t, fic_result *);

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

#define ROUNDS 15

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s JIT_WHEEL TVMFFI_WHEEL [iterations]\n", argv[0]);
    return 2;
  }
  long iters = argc > 3 ? atol(argv[3]) : 1000000;
  char cache[] = "/tmp/fic-bench-call-XXXXXX";
  if (!mkdtemp(cache)) return 1;
  static const char *const modules[] = {"fic_test", NULL};
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.cache_dir = cache;
  cfg.jit_cache_wheel = argv[1];
  cfg.tvmffi_wheel = argv[2];
  cfg.modules = modules;
  cfg.offline = 1;
  fic_runtime *rt = NULL;
  if (fic_runtime_open(&cfg, &rt) != FIC_OK) {
    fprintf(stderr, "open: %s\n", fic_last_error_message());
    return 1;
  }
  fic_function *fn = NULL;
  if (fic_function_get(rt, "fic_test", "add_int", NULL, &fn) != FIC_OK) return 1;
  const char *path = NULL;
  fic_runtime_module_path(rt, "fic_test", &path);
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL); /* same handle the runtime holds */
  safe_call raw;
  void *sym = dlsym(h, "__tvm_ffi_add_int");
  memcpy(&raw, &sym, sizeof raw);

  double t_raw[ROUNDS], t_api[ROUNDS], t_stream[ROUNDS];
  int64_t check = 0;
  for (int r = 0; r < ROUNDS; ++r) {
    fic_arg args[2] = {fic_arg_int(1), fic_arg_int(2)};
    fic_result res;
    double t0 = now_ns();
    for (long i = 0; i < iters; ++i) {
      memset(&res, 0, sizeof res);
      raw(NULL, args, 2, &res);
      check += res.v.i;
    }
    double t1 = now_ns();
    for (long i = 0; i < iters; ++i) {
      fic_function_call(fn, args, 2, -1, NULL, &res);
      check += res.v.i;
    }
    double t2 = now_ns();
    for (long i = 0; i < iters; ++i) {
      fic_function_call(fn, args, 2, 0, (void *)0x1000, &res);
      check += res.v.i;
    }
    double t3 = now_ns();
    t_raw[r] = (t1 - t0) / (double)iters;
    t_api[r] = (t2 - t1) / (double)iters;
    t_stream[r] = (t3 - t2) / (double)iters;
  }
  qsort(t_raw, ROUNDS, sizeof(double), cmp);
  qsort(t_api, ROUNDS, sizeof(double), cmp);
  qsort(t_stream, ROUNDS, sizeof(double), cmp);
  printf("iterations per round: %ld, rounds: %d (median shown)\n", iters, ROUNDS);
  printf("raw __tvm_ffi_add_int safe call:        %7.1f ns\n", t_raw[ROUNDS / 2]);
  printf("fic_function_call, no stream:           %7.1f ns (+%.1f ns)\n", t_api[ROUNDS / 2],
         t_api[ROUNDS / 2] - t_raw[ROUNDS / 2]);
  printf("fic_function_call, stream set/restored: %7.1f ns (+%.1f ns)\n", t_stream[ROUNDS / 2],
         t_stream[ROUNDS / 2] - t_raw[ROUNDS / 2]);
  fic_runtime_close(rt);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
  if (system(cmd) != 0) return 1;
  return check == (int64_t)ROUNDS * iters * 9 ? 0 : 1;
}
