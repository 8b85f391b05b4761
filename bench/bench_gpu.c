/* SPDX-License-Identifier: Apache-2.0 */
/* bench_gpu: flashinfer-c's side of the GPU benchmarks (issues #5 and #12),
 * in one run. bench/bench_py.py measures FlashInfer's Python API and PyTorch
 * eager the same way; bench/run_gpu_bench.sh runs both.
 *
 *   0. correctness: every kernel through the typed call == the raw safe call
 *      bitwise, and both near a float64 reference;
 *   1. host cost per call of gemma_rmsnorm, rmsnorm and fused_add_rmsnorm
 *      (typed call, raw __tvm_ffi_* safe call of the same module; generic
 *      call for gemma_rmsnorm) vs cudaLaunchKernel of an empty kernel;
 *   2. GPU time and bandwidth of the three kernels (f16, bf16, 1x4096 to
 *      16384x8192) through the typed and the raw call, vs a device-to-device
 *      cudaMemcpyAsync measured in the same run;
 *   3. gdn_prefill at the Qwen3-Next shape, f16 and bf16, 1k to 64k tokens
 *      (skipped, with the reason, when the module is absent or the GPU is
 *      not SM90);
 *   4. start-up in this process: fic_runtime_open cold and warm, first call.
 *
 * usage: bench_gpu --jit-cache-wheel W --tvmffi-wheel T [--out DIR] [--quick]
 *                  [--device N] [--calls N] [--rounds N] [--chunk N] [--reps N]
 *                  [--gdn-seqs N] [--no-gdn] [--no-norm] [--breakdown] [--tmp DIR]
 *          (--breakdown: only the host-cost breakdown of the typed call and
 *          gemma_rmsnorm's GPU time on a non-blocking vs the legacy stream)
 *        bench_gpu --startup-only --cache-dir DIR --label L --jit-cache-wheel W
 *                  --tvmffi-wheel T [--modules norm[,gdn_prefill_sm90]]
 *          (one open + first gemma_rmsnorm call in this fresh process; prints
 *          one "STARTUP,..." CSV line for bench/startup.py)
 *
 * Prints tables on stdout and writes CSV files into --out (default
 * bench-gpu-out). Exits 1 if a correctness check fails: a broken run reports
 * no numbers. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_gpu_kernels.h"
#include "bench_util.h"
#include "flashinfer_c.h"

/* ------------------------------------------------------------------------ */
/* Utilities                                                                 */
/* ------------------------------------------------------------------------ */

static double peak_rss_mb(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_maxrss / 1024.0; /* Linux: KiB */
}

static int rm_cb(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}
static void rm_rf(const char *path) { nftw(path, rm_cb, 16, FTW_DEPTH | FTW_PHYS); }

static float h2f(uint16_t h) {
  uint32_t s = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu, bits;
  if (e == 0) {
    float f = ldexpf((float)m, -24);
    return s ? -f : f;
  }
  bits = e == 31 ? (s | 0x7f800000u | (m << 13)) : (s | ((e + 112u) << 23) | (m << 13));
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static struct {
  const char *jit, *tvmffi, *out, *tmp, *cache_dir, *label, *modules;
  int quick, device, rounds, chunk, reps, gdn_seqs, no_gdn, no_norm, startup_only, breakdown;
  long calls;
} opt;

static void usage(const char *argv0) __attribute__((noreturn));
static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s --jit-cache-wheel W --tvmffi-wheel T [--out DIR] [--quick] [--device N]\n"
          "          [--calls N] [--rounds N] [--chunk N] [--reps N] [--gdn-seqs N] [--no-gdn] [--no-norm]\n"
          "          [--tmp DIR]\n"
          "       %s --startup-only --cache-dir DIR --label L --jit-cache-wheel W --tvmffi-wheel T\n"
          "          [--modules M1,M2]\n",
          argv0, argv0);
  exit(2);
}

/* The option's string slot, or NULL if `a` takes no string. */
static const char **string_option(const char *a) {
  static const struct {
    const char *name;
    const char **slot;
  } table[] = {
      {"--jit-cache-wheel", &opt.jit}, {"--tvmffi-wheel", &opt.tvmffi}, {"--out", &opt.out},        {"--tmp", &opt.tmp},
      {"--cache-dir", &opt.cache_dir}, {"--label", &opt.label},         {"--modules", &opt.modules}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (!strcmp(a, table[i].name)) return table[i].slot;
  return NULL;
}

/* The option's integer slot (numbers) or flag slot (no value), else NULL. */
static int *int_option(const char *a, int *is_flag) {
  static const struct {
    const char *name;
    int *slot, flag;
  } table[] = {{"--device", &opt.device, 0},     {"--rounds", &opt.rounds, 0},
               {"--chunk", &opt.chunk, 0},       {"--reps", &opt.reps, 0},
               {"--gdn-seqs", &opt.gdn_seqs, 0}, {"--quick", &opt.quick, 1},
               {"--no-gdn", &opt.no_gdn, 1},     {"--breakdown", &opt.breakdown, 1},
               {"--no-norm", &opt.no_norm, 1},   {"--startup-only", &opt.startup_only, 1}};
  for (size_t i = 0; i < sizeof table / sizeof table[0]; ++i)
    if (!strcmp(a, table[i].name)) {
      *is_flag = table[i].flag;
      return table[i].slot;
    }
  return NULL;
}

static void set_defaults(void) {
  if (opt.calls <= 0) opt.calls = opt.quick ? 5000 : 20000;
  if (opt.rounds <= 0) opt.rounds = opt.quick ? 3 : 7;
  if (opt.reps <= 0) opt.reps = opt.quick ? 30 : 100;
  if (opt.reps > 200) opt.reps = 200;
  if (opt.reps < 5) opt.reps = 5;
  if (opt.chunk < 1) opt.chunk = 1;
  if (opt.gdn_seqs < 1) opt.gdn_seqs = 1;
}

static void parse(int argc, char **argv) {
  opt.out = "bench-gpu-out";
  opt.tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  opt.label = "fresh-process";
  opt.gdn_seqs = 4;
  opt.chunk = 256;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **str = string_option(a);
    int is_flag = 0, *num = str ? NULL : int_option(a, &is_flag);
    if (num && is_flag) {
      *num = 1;
      continue;
    }
    if (!v || (!str && !num && strcmp(a, "--calls"))) usage(argv[0]);
    if (str)
      *str = v;
    else if (num)
      *num = atoi(v);
    else
      opt.calls = atol(v);
    ++i;
  }
  if (!opt.jit || !opt.tvmffi) usage(argv[0]);
  if (opt.startup_only && !opt.cache_dir) usage(argv[0]);
  set_defaults();
}

static FILE *csv_open(const char *name, const char *header, int append) {
  return bench_csv_open(opt.out, name, header, append);
}

/* ------------------------------------------------------------------------ */
/* Device state: stream, gate, events                                        */
/* ------------------------------------------------------------------------ */

static unsigned long long *g_count, *g_count_dev;
#define MAX_REPS 200
static cudaEvent_t g_ev0[MAX_REPS], g_ev1[MAX_REPS];

static void device_init(void) {
  gate_init();
  CK(cudaMalloc((void **)&g_count_dev, sizeof *g_count_dev));
  CK(cudaHostAlloc((void **)&g_count, sizeof *g_count, cudaHostAllocDefault));
  for (int i = 0; i < MAX_REPS; ++i) {
    CK(cudaEventCreate(&g_ev0[i]));
    CK(cudaEventCreate(&g_ev1[i]));
  }
}

static unsigned long long read_count(void) {
  CK(cudaMemcpyAsync(g_count, g_count_dev, sizeof *g_count, cudaMemcpyDeviceToHost, g_stream));
  CK(cudaStreamSynchronize(g_stream));
  return *g_count;
}
static unsigned long long count_diff16(const void *a, const void *b, size_t n) {
  CK(cudaMemsetAsync(g_count_dev, 0, sizeof *g_count_dev, g_stream));
  CK(bgk_count_diff16(a, b, n, g_count_dev, g_stream));
  return read_count();
}
static unsigned long long count_nonfinite16(const void *p, size_t n, int kind) {
  CK(cudaMemsetAsync(g_count_dev, 0, sizeof *g_count_dev, g_stream));
  CK(bgk_count_nonfinite16(p, n, kind, g_count_dev, g_stream));
  return read_count();
}

/* GPU time of one launch: per-call event pairs, all enqueued behind the gate
 * so host launch cost never shows; med/p10/p90 in us. Also the "stream"
 * time: the same calls back to back without the gate, total / reps, which
 * includes whatever launch rate the host sustains. */
typedef int (*launch_fn)(void *ctx, int i);
typedef struct timing {
  double med_us, p10_us, p90_us, stream_us;
} timing;

static void warm_up(launch_fn f, void *ctx, int warm, const char *what) {
  for (int i = 0; i < warm; ++i)
    if (f(ctx, i)) die("%s: warm-up call failed: %s", what, fic_last_error_message());
  CK(cudaStreamSynchronize(g_stream));
}

static double stream_time_us(launch_fn f, void *ctx, int reps, const char *what) {
  CK(cudaEventRecord(g_ev0[0], g_stream));
  for (int i = 0; i < reps; ++i)
    if (f(ctx, i)) die("%s: call failed: %s", what, fic_last_error_message());
  CK(cudaEventRecord(g_ev1[0], g_stream));
  CK(cudaStreamSynchronize(g_stream));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, g_ev0[0], g_ev1[0]));
  return ms * 1e3 / reps;
}

static timing time_gpu(launch_fn f, void *ctx, int reps, int warm, const char *what) {
  timing t;
  double v[MAX_REPS];
  if (reps > MAX_REPS) reps = MAX_REPS;
  warm_up(f, ctx, warm, what);
  gate_close();
  for (int i = 0; i < reps; ++i) {
    CK(cudaEventRecord(g_ev0[i], g_stream));
    if (f(ctx, i)) die("%s: call failed: %s", what, fic_last_error_message());
    CK(cudaEventRecord(g_ev1[i], g_stream));
  }
  gate_open();
  CK(cudaStreamSynchronize(g_stream));
  gate_check(what);
  for (int i = 0; i < reps; ++i) {
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, g_ev0[i], g_ev1[i]));
    v[i] = ms * 1e3;
  }
  t.p10_us = quantile(v, reps, 0.10);
  t.med_us = quantile(v, reps, 0.50);
  t.p90_us = quantile(v, reps, 0.90);
  t.stream_us = stream_time_us(f, ctx, reps, what);
  return t;
}

/* ------------------------------------------------------------------------ */
/* The norm kernels and the raw TVM-FFI safe call, built by hand             */
/* ------------------------------------------------------------------------ */

/* The kernels measured. gemma_rmsnorm and rmsnorm take (out, input, weight,
 * eps, enable_pdl); fused_add_rmsnorm (input, residual, weight, eps,
 * enable_pdl) and works in place. */
enum { K_GEMMA, K_RMS, K_FUSED, K_COUNT };
static const char *const kernel_name[K_COUNT] = {"gemma_rmsnorm", "rmsnorm", "fused_add_rmsnorm"};

typedef struct raw_dltensor { /* DLTensor */
  void *data;
  struct {
    int32_t device_type, device_id;
  } device;
  int32_t ndim;
  struct {
    uint8_t code, bits;
    uint16_t lanes;
  } dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
} raw_dltensor;

typedef struct raw_any { /* TVMFFIAny: 16 bytes */
  int32_t type_index;
  uint32_t zero_padding;
  union {
    int64_t v_int64;
    double v_float64;
    void *v_ptr;
  } v;
} raw_any;

typedef int (*raw_safe_call_fn)(void *self, const raw_any *args, int32_t num_args, raw_any *result);
typedef int (*raw_set_stream_fn)(int32_t device_type, int32_t device_id, void *stream, void **prev);
typedef void (*raw_move_raised_fn)(void **out);
typedef int (*raw_decref_fn)(void *obj);

static struct {
  raw_safe_call_fn fn[K_COUNT];
  raw_set_stream_fn set_stream;
  raw_move_raised_fn move_raised;
  raw_decref_fn decref;
  int same_handle;
} raw;

static void raw_init(fic_runtime *rt) {
  static const char *const norm_only[] = {"norm", NULL};
  FK(fic_runtime_preload(rt, norm_only));
  const char *path = NULL;
  FK(fic_runtime_module_path(rt, "norm", &path));
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD); /* the handle the runtime holds */
  raw.same_handle = h != NULL;
  if (!h) h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) die("dlopen(%s): %s", path, dlerror());
  for (int k = 0; k < K_COUNT; ++k) {
    char name[128];
    snprintf(name, sizeof name, "__tvm_ffi_%s", kernel_name[k]);
    void *s = sym_or_die(h, name);
    memcpy(&raw.fn[k], &s, sizeof s);
  }
  void *th = tvm_ffi_handle(rt), *s = sym_or_die(th, "TVMFFIEnvSetStream");
  memcpy(&raw.set_stream, &s, sizeof s);
  s = sym_or_die(th, "TVMFFIErrorMoveFromRaised");
  memcpy(&raw.move_raised, &s, sizeof s);
  s = sym_or_die(th, "TVMFFIObjectDecRef");
  memcpy(&raw.decref, &s, sizeof s);
}

/* One raw call of kernel k with (a0, a1, weight, eps, pdl = false): set the
 * env stream, call, restore (as the library does). */
static int raw_norm_call(int k, raw_dltensor *a0, raw_dltensor *a1, raw_dltensor *w, double eps, int dev) {
  raw_any args[5];
  args[0].type_index = 7, args[0].zero_padding = 0, args[0].v.v_ptr = a0;
  args[1].type_index = 7, args[1].zero_padding = 0, args[1].v.v_ptr = a1;
  args[2].type_index = 7, args[2].zero_padding = 0, args[2].v.v_ptr = w;
  args[3].type_index = 3, args[3].zero_padding = 0, args[3].v.v_float64 = eps;
  args[4].type_index = 2, args[4].zero_padding = 0, args[4].v.v_int64 = 0;
  raw_any res;
  res.type_index = 0, res.zero_padding = 0, res.v.v_int64 = 0;
  void *prev = NULL;
  raw.set_stream(2, dev, g_stream, &prev);
  int rc = raw.fn[k](NULL, args, 5, &res);
  raw.set_stream(2, dev, prev, NULL);
  if (rc != 0) {
    void *err = NULL;
    raw.move_raised(&err);
    if (err) raw.decref(err);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* Norm buffers (rotated to defeat L2)                                       */
/* ------------------------------------------------------------------------ */

/* For gemma_rmsnorm and rmsnorm, in[] is the input and out[] the output; for
 * fused_add_rmsnorm, in[] is the input and out[] the residual (both updated
 * in place). */
#define MAX_BUF 64
typedef struct norm_set {
  int kernel;
  int kind; /* BGK_F16 / BGK_BF16 */
  int64_t batch, hidden;
  int nbuf;
  void *in[MAX_BUF], *out[MAX_BUF], *w;
  int64_t shape2[2], shape1[1], stride2[2], stride1[1];
  fic_tensor t_in[MAX_BUF], t_out[MAX_BUF], t_w;
  fic_tensor ts_in, ts_out, ts_w; /* pair 0 with explicit strides (the host-cost breakdown) */
  fic_tensor te_in, te_out;       /* pair 0 with batch 0: validation only, nothing launched */
  int64_t shape_empty[2];
  raw_dltensor r_in[MAX_BUF], r_out[MAX_BUF], r_w;
  fic_runtime *rt;
  fic_function *fn; /* the generic gemma_rmsnorm, or NULL */
  int dev;
} norm_set;

static size_t norm_elems(const norm_set *s) { return (size_t)(s->batch * s->hidden); }

static raw_dltensor raw_tensor(void *data, int dev, int ndim, fic_dtype dt, int64_t *shape, int64_t *strides) {
  raw_dltensor r;
  memset(&r, 0, sizeof r);
  r.data = data;
  r.device.device_type = 2;
  r.device.device_id = dev;
  r.ndim = ndim;
  r.dtype.code = dt.code;
  r.dtype.bits = dt.bits;
  r.dtype.lanes = 1;
  r.shape = shape;
  r.strides = strides;
  return r;
}

static fic_tensor fic_t(void *data, int dev, int ndim, fic_dtype dt, const int64_t *shape) {
  fic_tensor t;
  memset(&t, 0, sizeof t);
  t.data = data;
  t.device.device_type = FIC_DEVICE_CUDA;
  t.device.device_id = dev;
  t.ndim = ndim;
  t.dtype = dt;
  t.shape = shape;
  t.strides = NULL; /* contiguous: the library fills them in */
  return t;
}

typedef struct norm_spec {
  int kernel, kind;
  int64_t batch, hidden;
  size_t l2_bytes; /* 0: two buffers */
  uint64_t seed;
} norm_spec;

/* Random data, never zeros: input in [-2, 2), residual in [-1, 1), weight in
 * [-0.5, 0.5). */
static void norm_fill(norm_set *s, int i, uint64_t seed) {
  size_t n = norm_elems(s);
  CK(bgk_fill_uniform(s->in[i], n, s->kind, -2.0f, 2.0f, seed * 131 + (uint64_t)i, g_stream));
  if (s->kernel == K_FUSED)
    CK(bgk_fill_uniform(s->out[i], n, s->kind, -1.0f, 1.0f, seed * 131 + 500 + (uint64_t)i, g_stream));
  else
    CK(cudaMemsetAsync(s->out[i], 0, n * 2, g_stream));
}

static void norm_alloc(norm_set *s, fic_runtime *rt, fic_function *fn, int dev, const norm_spec *sp) {
  memset(s, 0, sizeof *s);
  s->rt = rt, s->fn = fn, s->dev = dev;
  s->kernel = sp->kernel, s->kind = sp->kind, s->batch = sp->batch, s->hidden = sp->hidden;
  s->shape2[0] = sp->batch, s->shape2[1] = sp->hidden, s->stride2[0] = sp->hidden, s->stride2[1] = 1;
  s->shape1[0] = sp->hidden, s->stride1[0] = 1;
  size_t bytes = norm_elems(s) * 2;
  size_t want = 4 * sp->l2_bytes / (2 * bytes) + 1; /* >= 4x L2 of distinct input+output, capped */
  s->nbuf = want < 2 ? 2 : (want > MAX_BUF ? MAX_BUF : (int)want);
  fic_dtype dt = sp->kind == BGK_F16 ? FIC_F16 : FIC_BF16;
  for (int i = 0; i < s->nbuf; ++i) {
    s->in[i] = dalloc(bytes);
    s->out[i] = dalloc(bytes);
    norm_fill(s, i, sp->seed);
    s->t_in[i] = fic_t(s->in[i], dev, 2, dt, s->shape2);
    s->t_out[i] = fic_t(s->out[i], dev, 2, dt, s->shape2);
    s->r_in[i] = raw_tensor(s->in[i], dev, 2, dt, s->shape2, s->stride2);
    s->r_out[i] = raw_tensor(s->out[i], dev, 2, dt, s->shape2, s->stride2);
  }
  s->w = dalloc((size_t)sp->hidden * 2);
  CK(bgk_fill_uniform(s->w, (size_t)sp->hidden, sp->kind, -0.5f, 0.5f, sp->seed * 131 + 1000, g_stream));
  s->t_w = fic_t(s->w, dev, 1, dt, s->shape1);
  s->r_w = raw_tensor(s->w, dev, 1, dt, s->shape1, s->stride1);
  s->ts_in = s->t_in[0], s->ts_out = s->t_out[0], s->ts_w = s->t_w;
  s->ts_in.strides = s->ts_out.strides = s->stride2, s->ts_w.strides = s->stride1;
  s->shape_empty[0] = 0, s->shape_empty[1] = sp->hidden;
  s->te_in = s->t_in[0], s->te_out = s->t_out[0];
  s->te_in.shape = s->te_out.shape = s->shape_empty;
  CK(cudaStreamSynchronize(g_stream));
}

static void norm_free(norm_set *s) {
  for (int i = 0; i < s->nbuf; ++i) {
    CK(cudaFree(s->in[i]));
    CK(cudaFree(s->out[i]));
  }
  CK(cudaFree(s->w));
}

#define EPS 1e-6

/* The typed call of the set's kernel on buffer pair b; non-zero on failure. */
static int call_fic(norm_set *s, int b) {
  switch (s->kernel) {
    case K_GEMMA:
      return fic_gemma_rmsnorm(s->rt, &s->t_out[b], &s->t_in[b], &s->t_w, EPS, 0, g_stream) != FIC_OK;
    case K_RMS:
      return fic_rmsnorm(s->rt, &s->t_out[b], &s->t_in[b], &s->t_w, EPS, 0, g_stream) != FIC_OK;
    default:
      return fic_fused_add_rmsnorm(s->rt, &s->t_in[b], &s->t_out[b], &s->t_w, EPS, 0, g_stream) != FIC_OK;
  }
}
/* The raw safe call of the same export on buffer pair b. */
static int call_raw(norm_set *s, int b) {
  if (s->kernel == K_FUSED) return raw_norm_call(K_FUSED, &s->r_in[b], &s->r_out[b], &s->r_w, EPS, s->dev) != 0;
  return raw_norm_call(s->kernel, &s->r_out[b], &s->r_in[b], &s->r_w, EPS, s->dev) != 0;
}

static int launch_fic(void *ctx, int i) {
  norm_set *s = ctx;
  return call_fic(s, i % s->nbuf);
}
static int launch_raw(void *ctx, int i) {
  norm_set *s = ctx;
  return call_raw(s, i % s->nbuf);
}
static int launch_copy(void *ctx, int i) {
  norm_set *s = ctx;
  int b = i % s->nbuf;
  return cudaMemcpyAsync(s->out[b], s->in[b], norm_elems(s) * 2, cudaMemcpyDeviceToDevice, g_stream) != cudaSuccess;
}

/* Our call on pair 0 vs the raw call on pair 1, both from pair 0's data
 * (copied into pair 1 first): the number of 16-bit words that differ in
 * every output (the fused kernel writes input and residual). */
static unsigned long long ours_vs_raw(norm_set *s) {
  size_t bytes = norm_elems(s) * 2;
  CK(cudaMemcpyAsync(s->in[1], s->in[0], bytes, cudaMemcpyDeviceToDevice, g_stream));
  CK(cudaMemcpyAsync(s->out[1], s->out[0], bytes, cudaMemcpyDeviceToDevice, g_stream));
  if (call_fic(s, 0)) die("fic_%s failed: %s", kernel_name[s->kernel], fic_last_error_message());
  if (call_raw(s, 1)) die("raw %s safe call failed", kernel_name[s->kernel]);
  unsigned long long d = count_diff16(s->out[0], s->out[1], norm_elems(s));
  if (s->kernel == K_FUSED) d += count_diff16(s->in[0], s->in[1], norm_elems(s));
  return d;
}

/* ------------------------------------------------------------------------ */
/* 0. Correctness: our call == raw call bitwise, and both near a reference   */
/* ------------------------------------------------------------------------ */

typedef struct host_copy {
  uint16_t *x, *r, *y, *w; /* input, residual (fused), output, weight */
} host_copy;

static uint16_t *to_host(const void *dev_ptr, size_t n) {
  uint16_t *h = malloc(n * 2);
  if (!h) die("out of host memory");
  CK(cudaMemcpy(h, dev_ptr, n * 2, cudaMemcpyDeviceToHost));
  return h;
}

/* Relative L2 error of one row's output against float64. */
static void ref_row(const norm_set *s, const host_copy *h, int64_t b, double *num, double *den, size_t *zeros) {
  float (*cv)(uint16_t) = s->kind == BGK_F16 ? h2f : bf2f;
  int64_t H = s->hidden;
  double ss = 0;
  for (int64_t j = 0; j < H; ++j) {
    double v = cv(h->x[b * H + j]) + (h->r ? cv(h->r[b * H + j]) : 0.0);
    ss += v * v;
  }
  double rs = 1.0 / sqrt(ss / (double)H + EPS);
  for (int64_t j = 0; j < H; ++j) {
    double v = cv(h->x[b * H + j]) + (h->r ? cv(h->r[b * H + j]) : 0.0);
    double wf = cv(h->w[j]) + (s->kernel == K_GEMMA ? 1.0 : 0.0);
    double ref = v * rs * wf, got = cv(h->y[b * H + j]);
    if (!isfinite(got)) die("non-finite %s output", kernel_name[s->kernel]);
    *zeros += got == 0.0;
    *num += (got - ref) * (got - ref);
    *den += ref * ref;
  }
}

/* Bitwise equality with the raw call, then the typed call's output against
 * float64 from the same inputs; returns the relative L2 error. */
static double ref_check(norm_set *s) {
  size_t n = norm_elems(s);
  host_copy h = {to_host(s->in[0], n), s->kernel == K_FUSED ? to_host(s->out[0], n) : NULL, NULL,
                 to_host(s->w, (size_t)s->hidden)};
  unsigned long long diff = ours_vs_raw(s);
  if (diff) die("%s: our output and the raw call's differ in %llu of %zu elements", kernel_name[s->kernel], diff, n);
  h.y = to_host(s->kernel == K_FUSED ? s->in[0] : s->out[0], n);
  double num = 0, den = 0;
  size_t zeros = 0;
  for (int64_t b = 0; b < s->batch; ++b) ref_row(s, &h, b, &num, &den, &zeros);
  free(h.x), free(h.r), free(h.y), free(h.w);
  if (zeros == n) die("%s output is all zeros", kernel_name[s->kernel]);
  return sqrt(num / den);
}

/* ------------------------------------------------------------------------ */
/* 1. Host cost per call                                                     */
/* ------------------------------------------------------------------------ */

typedef enum {
  P_RAW,
  P_FIC,
  P_GENERIC,
  P_EMPTY,
  P_RAW_GETDEV,      /* the raw call plus the cudaGetDevice the library makes per call */
  P_FIC_STRIDED,     /* typed call with strides given: no fill-in */
  P_GENERIC_STRIDED, /* generic call with strides given */
  P_FIC_VALIDATE     /* typed call on an empty batch: argument checks only, nothing launched */
} path_kind;
typedef struct method {
  const char *impl;
  int kernel; /* K_*, or -1 for the empty launch */
  path_kind path;
} method;
static const method methods[] = {{"raw_safe_call", K_GEMMA, P_RAW},
                                 {"fic_typed", K_GEMMA, P_FIC},
                                 {"fic_function_call", K_GEMMA, P_GENERIC},
                                 {"raw_safe_call", K_RMS, P_RAW},
                                 {"fic_typed", K_RMS, P_FIC},
                                 {"raw_safe_call", K_FUSED, P_RAW},
                                 {"fic_typed", K_FUSED, P_FIC},
                                 {"cudaLaunchKernel_empty", -1, P_EMPTY}};
enum { M_COUNT = sizeof methods / sizeof methods[0] };
/* --breakdown: where the typed call's time over the raw call goes (gemma_rmsnorm). */
static const method breakdown[] = {{"raw_safe_call", K_GEMMA, P_RAW},
                                   {"raw_plus_cudaGetDevice", K_GEMMA, P_RAW_GETDEV},
                                   {"fic_typed", K_GEMMA, P_FIC},
                                   {"fic_typed_strides_given", K_GEMMA, P_FIC_STRIDED},
                                   {"fic_typed_validation_only", K_GEMMA, P_FIC_VALIDATE},
                                   {"fic_function_call", K_GEMMA, P_GENERIC},
                                   {"fic_function_call_strides_given", K_GEMMA, P_GENERIC_STRIDED},
                                   {"cudaLaunchKernel_empty", -1, P_EMPTY}};
enum { B_COUNT = sizeof breakdown / sizeof breakdown[0], MAX_METHODS = 16 };

static long run_generic(long c, norm_set *s, int strided) {
  const fic_tensor *o = strided ? &s->ts_out : &s->t_out[0], *in = strided ? &s->ts_in : &s->t_in[0];
  const fic_tensor *w = strided ? &s->ts_w : &s->t_w;
  long bad = 0;
  for (long i = 0; i < c; ++i) {
    fic_arg a[5] = {fic_arg_tensor(o), fic_arg_tensor(in), fic_arg_tensor(w), fic_arg_float(EPS), fic_arg_bool(0)};
    bad += fic_function_call(s->fn, a, 5, s->dev, g_stream, NULL) != FIC_OK;
  }
  return bad;
}

static long run_empty(long c) {
  const void *k = bgk_empty_kernel();
  dim3 one = {1, 1, 1};
  void *no_args[1] = {NULL};
  long bad = 0;
  for (long i = 0; i < c; ++i) bad += cudaLaunchKernel(k, one, one, no_args, 0, g_stream) != cudaSuccess;
  return bad;
}

/* The gemma_rmsnorm variants of the breakdown. */
static long run_breakdown_calls(path_kind path, long c, norm_set *s) {
  long bad = 0;
  int dev = -1;
  for (long i = 0; i < c; ++i) {
    if (path == P_RAW_GETDEV)
      bad += (cudaGetDevice(&dev) != cudaSuccess) + call_raw(s, 0);
    else if (path == P_FIC_STRIDED)
      bad += fic_gemma_rmsnorm(s->rt, &s->ts_out, &s->ts_in, &s->ts_w, EPS, 0, g_stream) != FIC_OK;
    else
      bad += fic_gemma_rmsnorm(s->rt, &s->te_out, &s->te_in, &s->t_w, EPS, 0, g_stream) != FIC_OK;
  }
  return bad;
}

/* Runs c calls of method m back to back on pair 0 of its set; returns the
 * number that failed. */
static long run_calls(const method *m, long c, norm_set *sets) {
  norm_set *s = m->kernel >= 0 ? &sets[m->kernel] : NULL;
  long bad = 0;
  switch (m->path) {
    case P_RAW:
      for (long i = 0; i < c; ++i) bad += call_raw(s, 0);
      return bad;
    case P_FIC:
      for (long i = 0; i < c; ++i) bad += call_fic(s, 0);
      return bad;
    case P_GENERIC:
    case P_GENERIC_STRIDED:
      return run_generic(c, s, m->path == P_GENERIC_STRIDED);
    case P_EMPTY:
      return run_empty(c);
    default:
      return run_breakdown_calls(m->path, c, s);
  }
}

/* One round of method m: opt.calls calls in chunks behind the gate; ns per call. */
static double overhead_round(const method *m, norm_set *sets, const char *what) {
  double total = 0;
  long done = 0, bad = 0;
  while (done < opt.calls) {
    long c = opt.calls - done < opt.chunk ? opt.calls - done : opt.chunk;
    gate_close(); /* nothing enqueued below runs yet: the launch queue never drains or fills */
    double t0 = now_ns();
    bad += run_calls(m, c, sets);
    double t1 = now_ns();
    gate_open();
    CK(cudaStreamSynchronize(g_stream));
    gate_check(what);
    total += t1 - t0;
    done += c;
  }
  if (bad) die("%s: %ld calls failed: %s", what, bad, fic_last_error_message());
  return total / (double)opt.calls;
}

typedef struct overhead_result {
  double med[MAX_METHODS], min[MAX_METHODS], max[MAX_METHODS];
} overhead_result;

static const char *method_label(const method *m, char *buf, size_t size) {
  snprintf(buf, size, "%s %s", m->impl, m->kernel >= 0 ? kernel_name[m->kernel] : "");
  return buf;
}

/* Host cost at 1x4096 f16: every method of tab, opt.rounds rounds in a
 * rotated order; per-round means go to the CSV file csv. */
static void bench_overhead(const method *tab, int M, norm_set *sets, const char *csv, overhead_result *res) {
  int R = opt.rounds;
  double *v = calloc((size_t)(M * R), sizeof(double));
  if (!v) die("out of memory");
  FILE *f = csv_open(csv, "impl,kernel,dtype,batch,hidden,round,calls,chunk,ns_per_call", 0);
  char what[96];
  for (int m = 0; m < M; ++m) /* warm-up */
    if (run_calls(&tab[m], 200, sets)) die("%s warm-up failed: %s", tab[m].impl, fic_last_error_message());
  CK(cudaStreamSynchronize(g_stream));
  for (int r = 0; r < R; ++r) {
    for (int k = 0; k < M; ++k) {
      int m = (k + r) % M; /* rotate the order between rounds */
      v[m * R + r] = overhead_round(&tab[m], sets, method_label(&tab[m], what, sizeof what));
      fprintf(f, "%s,%s,f16,1,4096,%d,%ld,%d,%.1f\n", tab[m].impl,
              tab[m].kernel >= 0 ? kernel_name[tab[m].kernel] : "none", r, opt.calls, opt.chunk, v[m * R + r]);
    }
  }
  fclose(f);
  for (int m = 0; m < M; ++m) {
    res->med[m] = quantile(v + m * R, R, 0.5);
    res->min[m] = v[m * R];
    res->max[m] = v[m * R + R - 1];
  }
  free(v);
}

/* ------------------------------------------------------------------------ */
/* 2. GPU time and bandwidth                                                 */
/* ------------------------------------------------------------------------ */

typedef struct bw_row {
  int kernel, kind; /* kernel -1: the d2d copy */
  int64_t batch, hidden;
  int nbuf;
  double bytes;
  timing fic, raw;
} bw_row;

#define MAX_BW 40
static const int64_t bw_shapes[][2] = {{1, 4096}, {512, 4096}, {2048, 8192}, {8192, 8192}, {16384, 8192}};
enum { N_SHAPES = sizeof bw_shapes / sizeof bw_shapes[0] };

/* Bytes the kernel must move: input (and residual) read, output (and
 * residual) written, weight read. The copy moves the input once (read +
 * write). */
static double kernel_bytes(int kernel, const norm_set *s) {
  double n = (double)norm_elems(s) * 2;
  if (kernel < 0) return 2 * n;
  return (kernel == K_FUSED ? 4 * n : 2 * n) + (double)s->hidden * 2;
}

/* Times the typed and raw calls of one kernel (or the copy) at one shape;
 * checks the outputs are bitwise equal and finite afterwards. */
static void bw_measure(bw_row *r, norm_set *s) {
  int warm = opt.quick ? 3 : 10;
  char what[96];
  snprintf(what, sizeof what, "%s %lldx%lld", r->kernel >= 0 ? kernel_name[r->kernel] : "d2d copy", (long long)s->batch,
           (long long)s->hidden);
  r->batch = s->batch, r->hidden = s->hidden, r->nbuf = s->nbuf;
  r->bytes = kernel_bytes(r->kernel, s);
  if (r->kernel < 0) {
    r->fic = time_gpu(launch_copy, s, opt.reps, warm, what);
    r->raw = r->fic;
    return;
  }
  r->fic = time_gpu(launch_fic, s, opt.reps, warm, what);
  r->raw = time_gpu(launch_raw, s, opt.reps, warm, what);
  unsigned long long diff = ours_vs_raw(s);
  if (diff) die("%s: our output differs from the raw call's in %llu elements", what, diff);
  if (count_nonfinite16(r->kernel == K_FUSED ? s->in[0] : s->out[0], norm_elems(s), r->kind))
    die("%s: non-finite output", what);
}

static void write_bw_csv(const bw_row *rows, int n) {
  FILE *f =
      csv_open("norm_gpu_c.csv",
               "impl,kernel,dtype,batch,hidden,gpu_us_median,gpu_us_p10,gpu_us_p90,stream_us,bytes,gbps,buffers", 0);
  for (int i = 0; i < n; ++i) {
    const bw_row *r = &rows[i];
    const char *dt = r->kind == BGK_F16 ? "f16" : "bf16";
    const timing *t[2] = {&r->fic, &r->raw};
    const char *impl[2] = {r->kernel < 0 ? "d2d_copy" : "fic_typed", "raw_safe_call"};
    for (int j = 0; j < (r->kernel < 0 ? 1 : 2); ++j)
      fprintf(f, "%s,%s,%s,%lld,%lld,%.3f,%.3f,%.3f,%.3f,%.0f,%.1f,%d\n", impl[j],
              r->kernel < 0 ? "copy" : kernel_name[r->kernel], dt, (long long)r->batch, (long long)r->hidden,
              t[j]->med_us, t[j]->p10_us, t[j]->p90_us, t[j]->stream_us, r->bytes, r->bytes / (t[j]->med_us * 1e3),
              r->nbuf);
  }
  fclose(f);
}

/* Every kernel (and the copy) x dtype x shape. */
static void bench_bandwidth(fic_runtime *rt, int dev, size_t l2, bw_row *rows, int *nrows) {
  int n = 0;
  for (int kind = BGK_F16; kind <= BGK_BF16; ++kind)
    for (int k = 0; k < N_SHAPES; ++k)
      for (int kernel = -1; kernel < K_COUNT; ++kernel) {
        norm_spec sp = {kernel < 0 ? K_GEMMA : kernel,
                        kind,
                        bw_shapes[k][0],
                        bw_shapes[k][1],
                        l2,
                        1234 + 17 * (uint64_t)k + 100 * (uint64_t)kind + 1000 * (uint64_t)(kernel + 1)};
        norm_set s;
        norm_alloc(&s, rt, NULL, dev, &sp);
        rows[n].kernel = kernel, rows[n].kind = kind;
        bw_measure(&rows[n++], &s);
        norm_free(&s);
      }
  *nrows = n;
  write_bw_csv(rows, n);
}

/* ------------------------------------------------------------------------ */
/* 3. gdn_prefill                                                            */
/* ------------------------------------------------------------------------ */

enum { GDN_HQ = 16, GDN_HK = 16, GDN_HV = 32, GDN_HO = 32, GDN_D = 128 };

typedef struct gdn_ctx {
  fic_runtime *rt;
  int64_t sh_q[3], sh_k[3], sh_v[3], sh_o[3], sh_s[4], sh_cu[1], sh_ab[2], sh_ws[1];
  void *q, *k, *v, *o, *st, *al, *be, *ws, *cu;
  fic_tensor out, state, tq, tk, tv, tcu, alpha, beta, tws;
} gdn_ctx;

static int launch_gdn(void *ctx, int i) {
  gdn_ctx *g = ctx;
  (void)i;
  fic_gdn_prefill_params p;
  fic_gdn_prefill_params_init(&p);
  p.output = &g->out, p.output_state = &g->state, p.q = &g->tq, p.k = &g->tk, p.v = &g->tv, p.cu_seqlens = &g->tcu;
  p.alpha = &g->alpha, p.beta = &g->beta, p.workspace = &g->tws;
  return fic_gdn_prefill(g->rt, &p, g_stream) != FIC_OK;
}

typedef struct gdn_row {
  int kind;
  int64_t tokens;
  int seqs;
  timing t;
  unsigned long long nonfinite;
} gdn_row;

/* Buffers for T tokens in N equal sequences: q, k rows of roughly unit norm
 * (as after Qwen3-Next's L2 norm), v in [-1, 1), gates alpha in [0.9, 1),
 * beta in [0, 1). */
static void gdn_alloc(gdn_ctx *g, fic_runtime *rt, int dev, int kind, int64_t T, int N, size_t ws_bytes) {
  enum { D = GDN_D };
  memset(g, 0, sizeof *g);
  g->rt = rt;
  size_t tok = (size_t)T;
  int64_t sq[3] = {T, GDN_HQ, D}, sk[3] = {T, GDN_HK, D}, sv[3] = {T, GDN_HV, D}, so[3] = {T, GDN_HO, D};
  int64_t ss[4] = {N, GDN_HO, D, D}, sab[2] = {T, GDN_HO};
  memcpy(g->sh_q, sq, sizeof sq), memcpy(g->sh_k, sk, sizeof sk), memcpy(g->sh_v, sv, sizeof sv);
  memcpy(g->sh_o, so, sizeof so), memcpy(g->sh_s, ss, sizeof ss), memcpy(g->sh_ab, sab, sizeof sab);
  g->sh_cu[0] = N + 1, g->sh_ws[0] = (int64_t)ws_bytes;
  g->q = dalloc(tok * GDN_HQ * D * 2), g->k = dalloc(tok * GDN_HK * D * 2), g->v = dalloc(tok * GDN_HV * D * 2);
  g->o = dalloc(tok * GDN_HO * D * 2), g->st = dalloc((size_t)N * GDN_HO * D * D * 4);
  g->al = dalloc(tok * GDN_HO * 4), g->be = dalloc(tok * GDN_HO * 4), g->ws = dalloc(ws_bytes);
  g->cu = dalloc((size_t)(N + 1) * sizeof(int64_t));
  int64_t cu_h[65];
  for (int i = 0; i <= N; ++i) cu_h[i] = T * i / N;
  CK(cudaMemcpy(g->cu, cu_h, (size_t)(N + 1) * sizeof(int64_t), cudaMemcpyHostToDevice));
  CK(bgk_fill_uniform(g->q, tok * GDN_HQ * D, kind, -0.15f, 0.15f, 11 + (uint64_t)T, g_stream));
  CK(bgk_fill_uniform(g->k, tok * GDN_HK * D, kind, -0.15f, 0.15f, 12 + (uint64_t)T, g_stream));
  CK(bgk_fill_uniform(g->v, tok * GDN_HV * D, kind, -1.0f, 1.0f, 13 + (uint64_t)T, g_stream));
  CK(bgk_fill_uniform(g->al, tok * GDN_HO, BGK_F32, 0.90f, 1.0f, 14 + (uint64_t)T, g_stream));
  CK(bgk_fill_uniform(g->be, tok * GDN_HO, BGK_F32, 0.0f, 1.0f, 15 + (uint64_t)T, g_stream));
  CK(cudaMemsetAsync(g->ws, 0, ws_bytes ? ws_bytes : 1, g_stream));
  CK(cudaStreamSynchronize(g_stream));
  fic_dtype dt = kind == BGK_F16 ? FIC_F16 : FIC_BF16;
  g->tq = fic_t(g->q, dev, 3, dt, g->sh_q), g->tk = fic_t(g->k, dev, 3, dt, g->sh_k);
  g->tv = fic_t(g->v, dev, 3, dt, g->sh_v), g->out = fic_t(g->o, dev, 3, dt, g->sh_o);
  g->state = fic_t(g->st, dev, 4, FIC_F32, g->sh_s), g->tcu = fic_t(g->cu, dev, 1, FIC_I64, g->sh_cu);
  g->alpha = fic_t(g->al, dev, 2, FIC_F32, g->sh_ab), g->beta = fic_t(g->be, dev, 2, FIC_F32, g->sh_ab);
  g->tws = fic_t(g->ws, dev, 1, FIC_U8, g->sh_ws);
}

static void gdn_free(gdn_ctx *g) {
  void *all[] = {g->q, g->k, g->v, g->o, g->st, g->al, g->be, g->ws, g->cu};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) CK(cudaFree(all[i]));
}

static const char *const GDN_HEADER =
    "impl,dtype,total_tokens,num_seqs,gpu_ms_median,gpu_ms_p10,gpu_ms_p90,stream_ms,tokens_per_s,nonfinite_outputs";

/* Fills rows (f16 then bf16, every length); on a failure, writes the reason
 * into why and stops. */
static void bench_gdn(fic_runtime *rt, int dev, int sms, gdn_row *rows, int *nrows, char *why, size_t why_size) {
  static const int64_t full[] = {1024, 2048, 4096, 8192, 16384, 32768, 65536};
  static const int64_t quick[] = {1024, 4096, 16384};
  const int64_t *lens = opt.quick ? quick : full;
  int nlens = opt.quick ? 3 : 7, N = opt.gdn_seqs > 64 ? 64 : opt.gdn_seqs;
  size_t ws_bytes = 0;
  FK(fic_gdn_prefill_workspace_size(sms, &ws_bytes));
  *nrows = 0;
  FILE *f = csv_open("gdn_c.csv", GDN_HEADER, 0);
  for (int kind = BGK_F16; kind <= BGK_BF16 && !why[0]; ++kind)
    for (int li = 0; li < nlens && !why[0]; ++li) {
      int64_t T = lens[li];
      gdn_ctx g;
      gdn_alloc(&g, rt, dev, kind, T, N, ws_bytes);
      if (launch_gdn(&g, 0))
        snprintf(why, why_size, "fic_gdn_prefill failed at %lld tokens: %s: %s", (long long)T,
                 fic_status_string(fic_last_error_status()), fic_last_error_message());
      CK(cudaStreamSynchronize(g_stream));
      if (!why[0]) {
        gdn_row *r = &rows[(*nrows)++];
        r->kind = kind, r->tokens = T, r->seqs = N;
        r->t = time_gpu(launch_gdn, &g, opt.quick ? 5 : 20, 2, "gdn_prefill");
        r->nonfinite = count_nonfinite16(g.o, (size_t)T * GDN_HO * GDN_D, kind);
        fprintf(f, "fic_typed,%s,%lld,%d,%.4f,%.4f,%.4f,%.4f,%.0f,%llu\n", kind == BGK_F16 ? "f16" : "bf16",
                (long long)T, N, r->t.med_us / 1e3, r->t.p10_us / 1e3, r->t.p90_us / 1e3, r->t.stream_us / 1e3,
                (double)T / (r->t.med_us * 1e-6), r->nonfinite);
      }
      gdn_free(&g);
    }
  fclose(f);
}

/* ------------------------------------------------------------------------ */
/* 4. Start-up                                                               */
/* ------------------------------------------------------------------------ */

typedef struct startup_row {
  const char *label;
  double open_ms, first_call_host_ms, first_call_done_ms, second_call_host_us, rss_mb;
} startup_row;

/* A runtime path, or "" if it has none. */
static const char *rt_path(const fic_runtime *rt, fic_path_kind what) {
  const char *p = NULL;
  if (fic_runtime_path(rt, what, &p) != FIC_OK || !p) return "";
  return p;
}
static const char *rt_module_path(const fic_runtime *rt, const char *module) {
  const char *p = NULL;
  if (fic_runtime_module_path(rt, module, &p) != FIC_OK || !p) return "";
  return p;
}

static fic_status open_rt(const char *cache, const char *const *modules, fic_runtime **rt) {
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.cache_dir = cache;
  cfg.jit_cache_wheel = opt.jit;
  cfg.tvmffi_wheel = opt.tvmffi;
  cfg.modules = modules;
  cfg.offline = 1;
  return fic_runtime_open(&cfg, rt);
}

/* First gemma_rmsnorm call on a fresh runtime (loads norm.so and the kernel):
 * host time of the call and time until its result is complete. */
static void first_call(norm_set *s, startup_row *row) {
  double t0 = now_ns();
  if (call_fic(s, 0)) die("first call failed: %s", fic_last_error_message());
  double t1 = now_ns();
  CK(cudaStreamSynchronize(g_stream));
  double t2 = now_ns();
  if (call_fic(s, 0)) die("second call failed: %s", fic_last_error_message());
  double t3 = now_ns();
  CK(cudaStreamSynchronize(g_stream));
  row->first_call_host_ms = (t1 - t0) / 1e6;
  row->first_call_done_ms = (t2 - t0) / 1e6;
  row->second_call_host_us = (t3 - t2) / 1e3;
}

static const char *const STARTUP_HEADER =
    "label,cuda_init_ms,open_ms,first_call_host_ms,first_call_done_ms,open_to_first_result_ms,"
    "second_call_host_us,peak_rss_mb";

static void startup_csv(FILE *f, const startup_row *r, double cuda_init_ms) {
  fprintf(f, "%s,%.3f,%.3f,%.3f,%.3f,%.3f,%.2f,%.1f\n", r->label, cuda_init_ms, r->open_ms, r->first_call_host_ms,
          r->first_call_done_ms, r->open_ms + r->first_call_done_ms, r->second_call_host_us, r->rss_mb);
}

static void print_startup(const startup_row *r) {
  printf("%-30s %10.2f %12.2f %14.2f %16.2f %12.1f %8.0f\n", r->label, r->open_ms, r->first_call_host_ms,
         r->first_call_done_ms, r->open_ms + r->first_call_done_ms, r->second_call_host_us, r->rss_mb);
}
static void print_startup_header(void) {
  printf("%-30s %10s %12s %14s %16s %12s %8s\n", "", "open ms", "1st call ms", "1st result ms", "open->result ms",
         "2nd call us", "RSS MB");
}

/* Open with the default modules; if that fails (e.g. a wheel without
 * gdn_prefill_sm90), say why in skip and retry with norm only in a fresh
 * cache directory made from pattern (a mkdtemp template) or, if pattern is
 * NULL, the same directory. */
static fic_runtime *open_timed(char *cache, const char *pattern, const char *const **modules, double *ms, char *skip,
                               size_t skip_size) {
  static const char *const norm_only[] = {"norm", NULL};
  fic_runtime *rt = NULL;
  double t0 = now_ns();
  fic_status st = open_rt(cache, *modules, &rt);
  *ms = (now_ns() - t0) / 1e6;
  if (st == FIC_OK) return rt;
  snprintf(skip, skip_size, "opening with gdn_prefill_sm90 failed: %s", fic_last_error_message());
  fprintf(stderr, "bench_gpu: %s; retrying with norm only\n", skip);
  if (pattern) {
    rm_rf(cache);
    snprintf(cache, 4096, "%s", pattern);
    if (!mkdtemp(cache)) die("mkdtemp(%s): %s", cache, strerror(errno));
  }
  *modules = norm_only;
  t0 = now_ns();
  FK(open_rt(cache, norm_only, &rt));
  *ms = (now_ns() - t0) / 1e6;
  return rt;
}

/* --modules a,b -> {"a", "b", NULL} (at most 7), or NULL for the default. */
static const char *const *modules_from_option(void) {
  static char buf[256];
  static const char *list[8];
  if (!opt.modules) return NULL;
  snprintf(buf, sizeof buf, "%s", opt.modules);
  int n = 0;
  for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok && n < 7; tok = strtok_r(NULL, ",", &save))
    list[n++] = tok;
  list[n] = NULL;
  return list;
}

/* One open + first call in this (fresh) process; one CSV line on stdout. */
static int startup_only(void) {
  double t0 = now_ns();
  CK(cudaSetDevice(opt.device));
  CK(cudaFree(NULL));
  double cuda_init_ms = (now_ns() - t0) / 1e6;
  device_init();
  norm_set s;
  norm_spec sp = {K_GEMMA, BGK_F16, 1, 4096, 0, 7};
  norm_alloc(&s, NULL, NULL, opt.device, &sp);
  startup_row row = {opt.label, 0, 0, 0, 0, 0};
  char cache[4096], skip[1024] = "";
  snprintf(cache, sizeof cache, "%s", opt.cache_dir);
  mkdir(cache, 0755);
  const char *const *modules = modules_from_option();
  fic_runtime *rt = open_timed(cache, NULL, &modules, &row.open_ms, skip, sizeof skip);
  s.rt = rt;
  double t_call = now_ns();
  first_call(&s, &row);
  /* CLOCK_MONOTONIC when the first result was complete: bench/startup.py
   * subtracts the time it started this process. */
  double first_result_mono_ns = t_call + row.first_call_done_ms * 1e6;
  row.rss_mb = peak_rss_mb();
  printf("STARTUP,%.0f,", first_result_mono_ns);
  startup_csv(stdout, &row, cuda_init_ms);
  norm_free(&s);
  fic_runtime_close(rt);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* The run: environment, sections, report                                    */
/* ------------------------------------------------------------------------ */

typedef struct gpu_env {
  struct cudaDeviceProp prop;
  int cc_major, cc_minor, sms, l2, drv, rtv;
  double cuda_init_ms, rss0, rss_cuda, rss_open, rss_end;
  const char *bench_cudart;
} gpu_env;

static void env_init(gpu_env *e) {
  int ndev = 0;
  e->rss0 = peak_rss_mb();
  cudaError_t ce = cudaGetDeviceCount(&ndev);
  if (ce != cudaSuccess || ndev <= opt.device)
    die("no CUDA device %d (%s)", opt.device, ce != cudaSuccess ? cudaGetErrorString(ce) : "too few devices");
  double t0 = now_ns();
  CK(cudaSetDevice(opt.device));
  CK(cudaFree(NULL));
  e->cuda_init_ms = (now_ns() - t0) / 1e6;
  e->rss_cuda = peak_rss_mb();
  CK(cudaGetDeviceProperties(&e->prop, opt.device));
  CK(cudaDeviceGetAttribute(&e->cc_major, cudaDevAttrComputeCapabilityMajor, opt.device));
  CK(cudaDeviceGetAttribute(&e->cc_minor, cudaDevAttrComputeCapabilityMinor, opt.device));
  CK(cudaDeviceGetAttribute(&e->sms, cudaDevAttrMultiProcessorCount, opt.device));
  CK(cudaDeviceGetAttribute(&e->l2, cudaDevAttrL2CacheSize, opt.device));
  CK(cudaDriverGetVersion(&e->drv));
  CK(cudaRuntimeGetVersion(&e->rtv));
  Dl_info di;
  memset(&di, 0, sizeof di);
  void *launch_sym = dlsym(RTLD_DEFAULT, "cudaLaunchKernel");
  if (launch_sym) dladdr(launch_sym, &di);
  e->bench_cudart = di.dli_fname ? di.dli_fname : "?";
  device_init();
}

typedef struct inproc_startup {
  startup_row cold, warm;
  fic_runtime *rt, *rt2;
  char cache[4096];
  const char *gdn_skip;
  char gdn_skip_buf[2048];
} inproc_startup;

/* Cold open (extraction), first call, warm open of the same cache, first call. */
static void startup_in_process(inproc_startup *u) {
  char pattern[4096];
  snprintf(pattern, sizeof pattern, "%s/fic-bench-gpu-XXXXXX", opt.tmp);
  snprintf(u->cache, sizeof u->cache, "%s", pattern);
  if (!mkdtemp(u->cache)) die("mkdtemp(%s): %s", u->cache, strerror(errno));
  u->cold = (startup_row){"in-process cold (extraction)", 0, 0, 0, 0, 0};
  u->warm = (startup_row){"in-process warm (cache hit)", 0, 0, 0, 0, 0};
  const char *const *modules = NULL;
  norm_set s;
  norm_spec sp = {K_GEMMA, BGK_F16, 1, 4096, 0, 7};
  norm_alloc(&s, NULL, NULL, opt.device, &sp);
  u->rt = open_timed(u->cache, pattern, &modules, &u->cold.open_ms, u->gdn_skip_buf, sizeof u->gdn_skip_buf);
  u->gdn_skip = modules ? u->gdn_skip_buf : NULL;
  s.rt = u->rt;
  first_call(&s, &u->cold);
  u->cold.rss_mb = peak_rss_mb();
  double t0 = now_ns();
  FK(open_rt(u->cache, modules, &u->rt2));
  u->warm.open_ms = (now_ns() - t0) / 1e6;
  s.rt = u->rt2;
  first_call(&s, &u->warm);
  u->warm.rss_mb = peak_rss_mb();
  norm_free(&s);
}

/* Why gdn_prefill cannot run here, or NULL. */
static const char *gdn_skip_reason(inproc_startup *u, const gpu_env *e) {
  const char *p_gdn = rt_module_path(u->rt, "gdn_prefill_sm90");
  if (u->gdn_skip) return u->gdn_skip;
  if (opt.no_gdn) return "--no-gdn given";
  if (!p_gdn[0]) return "gdn_prefill_sm90 is not in the runtime";
  if (access(p_gdn, R_OK) != 0) return "gdn_prefill_sm90.so was not extracted";
  if (!(e->cc_major == 9 && e->cc_minor == 0)) {
    snprintf(u->gdn_skip_buf, sizeof u->gdn_skip_buf, "the GPU is sm_%d%d; gdn_prefill_sm90 needs sm_90", e->cc_major,
             e->cc_minor);
    return u->gdn_skip_buf;
  }
  return NULL;
}

/* Typed call == raw call bitwise and near float64, every kernel, f16 and bf16. */
static void check_correctness(fic_runtime *rt, double err[K_COUNT][2]) {
  for (int k = 0; k < K_COUNT; ++k)
    for (int kind = BGK_F16; kind <= BGK_BF16; ++kind) {
      norm_set s;
      norm_spec sp = {k, kind, 33, 3072, 0, 99 + (uint64_t)kind + 10 * (uint64_t)k};
      norm_alloc(&s, rt, NULL, opt.device, &sp);
      err[k][kind] = ref_check(&s);
      norm_free(&s);
      if (err[k][kind] > (kind == BGK_F16 ? 2e-3 : 1e-2))
        die("%s %s relative L2 error %.3g vs a float64 reference: too large", kind == BGK_F16 ? "f16" : "bf16",
            kernel_name[k], err[k][kind]);
    }
  printf("correctness: typed == raw safe call bitwise; rel. L2 error vs float64 (f16/bf16):");
  for (int k = 0; k < K_COUNT; ++k) printf(" %s %.2e/%.2e", kernel_name[k], err[k][0], err[k][1]);
  printf("\n");
}

static void run_overhead(fic_runtime *rt, const method *tab, int M, const char *csv, overhead_result *ov) {
  norm_set sets[K_COUNT];
  fic_function *fn = NULL;
  FK(fic_function_get(rt, "norm", "gemma_rmsnorm", g_stream, &fn));
  for (int k = 0; k < K_COUNT; ++k) {
    norm_spec sp = {k, BGK_F16, 1, 4096, 0, 5 + (uint64_t)k};
    norm_alloc(&sets[k], rt, fn, opt.device, &sp);
  }
  bench_overhead(tab, M, sets, csv, ov);
  for (int k = 0; k < K_COUNT; ++k) norm_free(&sets[k]);
  printf("host cost: done\n");
}

typedef struct gdn_result {
  gdn_row rows[16];
  int n;
  char why[2048];
  double load_ms;
  const char *skip;
} gdn_result;

static void run_gdn(fic_runtime *rt, const gpu_env *e, gdn_result *g, inproc_startup *u) {
  g->n = 0;
  if (!g->skip) { /* the module's first load, timed apart from the kernel */
    static const char *const gdn_only[] = {"gdn_prefill_sm90", NULL};
    double t0 = now_ns();
    if (fic_runtime_preload(rt, gdn_only) != FIC_OK) {
      snprintf(u->gdn_skip_buf, sizeof u->gdn_skip_buf, "preload failed: %s", fic_last_error_message());
      g->skip = u->gdn_skip_buf;
    }
    g->load_ms = (now_ns() - t0) / 1e6;
  }
  if (!g->skip) bench_gdn(rt, opt.device, e->sms, g->rows, &g->n, g->why, sizeof g->why);
  if (g->skip && !opt.no_gdn) fclose(csv_open("gdn_c.csv", GDN_HEADER, 0));
}

/* --breakdown: GPU time of gemma_rmsnorm at small shapes, typed and raw, on
 * our non-blocking stream and on the legacy default stream (PyTorch's). */
static void probe_streams(fic_runtime *rt, size_t l2) {
  static const int64_t shapes[][2] = {{1, 4096}, {512, 4096}};
  FILE *f = csv_open("norm_gpu_c_streams.csv",
                     "impl,stream,kernel,dtype,batch,hidden,gpu_us_median,gpu_us_p10,gpu_us_p90,stream_us", 0);
  cudaStream_t mine = g_stream;
  printf("\n-- GPU time by stream (gemma_rmsnorm f16, median of %d)\n", opt.reps);
  for (int legacy = 0; legacy < 2; ++legacy) {
    g_stream = legacy ? (cudaStream_t)0 : mine;
    for (int k = 0; k < 2; ++k) {
      norm_set s;
      norm_spec sp = {K_GEMMA, BGK_F16, shapes[k][0], shapes[k][1], l2, 77};
      norm_alloc(&s, rt, NULL, opt.device, &sp);
      timing t[3] = {time_gpu(launch_fic, &s, opt.reps, 10, "fic"), time_gpu(launch_raw, &s, opt.reps, 10, "raw"),
                     time_gpu(launch_copy, &s, opt.reps, 10, "copy")};
      const char *impl[3] = {"fic_typed", "raw_safe_call", "d2d_copy"};
      for (int j = 0; j < 3; ++j) {
        fprintf(f, "%s,%s,gemma_rmsnorm,f16,%lld,%lld,%.3f,%.3f,%.3f,%.3f\n", impl[j],
                legacy ? "legacy" : "nonblocking", (long long)s.batch, (long long)s.hidden, t[j].med_us, t[j].p10_us,
                t[j].p90_us, t[j].stream_us);
        printf("%-14s %-12s %lldx%lld %8.3f us\n", impl[j], legacy ? "legacy" : "nonblocking", (long long)s.batch,
               (long long)s.hidden, t[j].med_us);
      }
      norm_free(&s);
    }
  }
  g_stream = mine;
  fclose(f);
}

static void write_env_csv(const gpu_env *e, fic_runtime *rt, double err[K_COUNT][2], const gdn_result *g) {
  FILE *f = csv_open(opt.no_norm ? "env_c_gdn.csv" : "env_c.csv", "key,value", 0); /* a gdn-only run keeps the other */
  unsigned vnum = 0;
  const char *vstr = "";
  fic_version(&vnum, &vstr);
  fprintf(f, "gpu,\"%s\"\ncompute_capability,%d.%d\nsms,%d\nl2_bytes,%d\n", e->prop.name, e->cc_major, e->cc_minor,
          e->sms, e->l2);
  fprintf(f, "cuda_driver,%d\ncuda_runtime,%d\nflashinfer_c,%s\nquick,%d\n", e->drv, e->rtv, vstr, opt.quick);
  fprintf(f, "calls_per_round,%ld\nrounds,%d\nchunk,%d\nreps,%d\ngdn_seqs,%d\n", opt.calls, opt.rounds, opt.chunk,
          opt.reps, opt.gdn_seqs);
  fprintf(f, "jit_cache_wheel,\"%s\"\ntvmffi_wheel,\"%s\"\nnorm_so,\"%s\"\ngdn_so,\"%s\"\n", opt.jit, opt.tvmffi,
          rt_module_path(rt, "norm"), rt_module_path(rt, "gdn_prefill_sm90"));
  fprintf(f, "libtvm_ffi,\"%s\"\nlibcudart_runtime,\"%s\"\nlibcudart_bench,\"%s\"\n", rt_path(rt, FIC_PATH_LIBTVM_FFI),
          rt_path(rt, FIC_PATH_LIBCUDART), e->bench_cudart);
  fprintf(f, "raw_dlopen_same_handle,%d\ngate_timeouts,%d\n", raw.same_handle, g_gate_timeouts);
  for (int k = 0; k < K_COUNT; ++k)
    fprintf(f, "rel_l2_err_%s_f16,%.3g\nrel_l2_err_%s_bf16,%.3g\n", kernel_name[k], err[k][0], kernel_name[k],
            err[k][1]);
  fprintf(f, "cuda_init_ms,%.3f\n", e->cuda_init_ms);
  fprintf(f, "rss_mb_start,%.1f\nrss_mb_after_cuda_init,%.1f\nrss_mb_after_cold_open,%.1f\nrss_mb_peak,%.1f\n", e->rss0,
          e->rss_cuda, e->rss_open, e->rss_end);
  fprintf(f, "gdn_load_ms,%.3f\ngdn_skipped,\"%s\"\n", g->load_ms, g->skip ? g->skip : g->why);
  fclose(f);
}

static void print_overhead(const method *tab, int M, const overhead_result *ov) {
  char label[96];
  printf("\n-- 1. host cost per call: 1x4096 f16, %ld calls x %d rounds (chunks of %d behind a gate kernel)\n",
         opt.calls, opt.rounds, opt.chunk);
  printf("%-40s %10s %10s %10s %8s %9s\n", "method", "median ns", "min ns", "max ns", "vs raw", "vs empty");
  for (int m = 0; m < M; ++m) {
    int raw_m = m; /* the raw method of the same kernel */
    while (raw_m > 0 && tab[raw_m].path != P_RAW) --raw_m;
    if (tab[m].path == P_EMPTY) raw_m = 0;
    printf("%-40s %10.0f %10.0f %10.0f %7.2fx %8.2fx\n", method_label(&tab[m], label, sizeof label), ov->med[m],
           ov->min[m], ov->max[m], ov->med[m] / ov->med[raw_m], ov->med[m] / ov->med[M - 1]);
  }
}

static void print_bandwidth(const bw_row *bw, int nbw) {
  printf("\n-- 2. GPU time per call (CUDA events, median of %d; bytes = read + written)\n", opt.reps);
  printf("%-18s %-5s %-11s %9s %7s %9s %7s %8s %10s %5s\n", "kernel", "dtype", "shape", "fic us", "GB/s", "raw us",
         "GB/s", "of copy", "stream us", "bufs");
  double copy_gbps = 0;
  for (int i = 0; i < nbw; ++i) {
    const bw_row *r = &bw[i];
    char shape[32];
    snprintf(shape, sizeof shape, "%lldx%lld", (long long)r->batch, (long long)r->hidden);
    double g_fic = r->bytes / (r->fic.med_us * 1e3), g_raw = r->bytes / (r->raw.med_us * 1e3);
    if (r->kernel < 0) copy_gbps = g_fic; /* the copy comes first at each shape */
    printf("%-18s %-5s %-11s %9.2f %7.0f %9.2f %7.0f %7.0f%% %10.2f %5d\n",
           r->kernel < 0 ? "d2d copy" : kernel_name[r->kernel], r->kind == BGK_F16 ? "f16" : "bf16", shape,
           r->fic.med_us, g_fic, r->raw.med_us, g_raw, 100.0 * g_fic / copy_gbps, r->fic.stream_us, r->nbuf);
  }
}

static void print_gdn(const gdn_result *g) {
  printf("\n-- 3. gdn_prefill (Qwen3-Next: q=k=16, v=32 heads, D=128, %d equal sequences, no initial state)\n",
         opt.gdn_seqs);
  if (g->n == 0) {
    printf("skipped: %s\n", g->skip ? g->skip : g->why);
    return;
  }
  printf("module load (preload) %.1f ms\n", g->load_ms);
  printf("%-5s %8s %10s %14s %10s\n", "dtype", "tokens", "GPU ms", "tokens/s", "nonfinite");
  for (int i = 0; i < g->n; ++i)
    printf("%-5s %8lld %10.3f %14.0f %10llu\n", g->rows[i].kind == BGK_F16 ? "f16" : "bf16",
           (long long)g->rows[i].tokens, g->rows[i].t.med_us / 1e3,
           (double)g->rows[i].tokens / (g->rows[i].t.med_us * 1e-6), g->rows[i].nonfinite);
  if (g->why[0]) printf("stopped early: %s\n", g->why);
}

static void print_report(const gpu_env *e, const inproc_startup *u, const overhead_result *ov, const bw_row *bw,
                         int nbw, const gdn_result *g) {
  printf("\n== flashinfer-c GPU benchmark: %s (sm_%d%d, %d SMs, L2 %d MB), driver %d, runtime %d%s\n", e->prop.name,
         e->cc_major, e->cc_minor, e->sms, e->l2 >> 20, e->drv, e->rtv, opt.quick ? ", QUICK RUN" : "");
  printf("cudart: library %s; bench %s\n", rt_path(u->rt, FIC_PATH_LIBCUDART), e->bench_cudart);
  if (!opt.no_norm) {
    print_overhead(methods, M_COUNT, ov);
    print_bandwidth(bw, nbw);
  }
  print_gdn(g);
  printf("\n-- 4. start-up in this process (CUDA context init %.1f ms, before and not included below)\n",
         e->cuda_init_ms);
  print_startup_header();
  print_startup(&u->cold);
  print_startup(&u->warm);
  printf("peak RSS: %.0f MB at start, %.0f MB after CUDA init, %.0f MB after cold open, %.0f MB at the end\n", e->rss0,
         e->rss_cuda, e->rss_open, e->rss_end);
  if (g_gate_timeouts)
    printf("WARNING: the gate kernel timed out %d times; rerun with a smaller --chunk/--reps\n", g_gate_timeouts);
  printf("CSV files in %s\n", opt.out);
}

static void write_startup_csv(const inproc_startup *u, double cuda_init_ms) {
  FILE *f = csv_open("startup_inproc.csv", STARTUP_HEADER, 0);
  startup_csv(f, &u->cold, cuda_init_ms);
  startup_csv(f, &u->warm, cuda_init_ms);
  fclose(f);
}

/* --breakdown: the host-cost variants and the stream probe, nothing else. */
static int run_breakdown(const gpu_env *e, inproc_startup *u) {
  static overhead_result ov;
  run_overhead(u->rt, breakdown, B_COUNT, "host_breakdown_c.csv", &ov);
  print_overhead(breakdown, B_COUNT, &ov);
  probe_streams(u->rt, (size_t)e->l2);
  fic_runtime_close(u->rt2);
  fic_runtime_close(u->rt);
  rm_rf(u->cache);
  return 0;
}

int main(int argc, char **argv) {
  bench_name = "bench_gpu";
  parse(argc, argv);
  mkdir(opt.out, 0755);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (opt.startup_only) return startup_only();

  static gpu_env e;
  static inproc_startup u;
  static overhead_result ov;
  static bw_row bw[MAX_BW];
  static gdn_result g;
  static double err[K_COUNT][2];
  int nbw = 0;
  env_init(&e);
  startup_in_process(&u);
  e.rss_open = peak_rss_mb();
  g.skip = gdn_skip_reason(&u, &e);
  raw_init(u.rt);
  check_correctness(u.rt, err);
  if (opt.breakdown) return run_breakdown(&e, &u);
  if (!opt.no_norm) {
    run_overhead(u.rt, methods, M_COUNT, "host_cost_c.csv", &ov);
    bench_bandwidth(u.rt, opt.device, (size_t)e.l2, bw, &nbw);
    printf("bandwidth: done\n");
  }
  run_gdn(u.rt, &e, &g, &u);
  e.rss_end = peak_rss_mb();
  write_env_csv(&e, u.rt, err, &g);
  if (!opt.no_norm) write_startup_csv(&u, e.cuda_init_ms);
  print_report(&e, &u, &ov, bw, nbw, &g);
  fic_runtime_close(u.rt2);
  fic_runtime_close(u.rt);
  rm_rf(u.cache);
  return 0;
}
