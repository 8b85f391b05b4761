/* bench_gpu: the GPU benchmarks of issue #5, in one run.
 *
 *   1. host cost per call of fic_gemma_rmsnorm vs a raw __tvm_ffi_gemma_rmsnorm
 *      safe call of the same module and vs cudaLaunchKernel of an empty kernel;
 *   2. gemma_rmsnorm bandwidth (f16, bf16) through the API and through the raw
 *      safe call, vs a device-to-device cudaMemcpyAsync measured in the same run;
 *   3. gdn_prefill tokens/s at the Qwen3-Next shape (skipped, with the reason,
 *      when the module is absent or the GPU is not SM90);
 *   4. start-up: fic_runtime_open cold and warm, time to the first kernel call,
 *      peak RSS.
 *
 * usage: bench_gpu --jit-cache-wheel W --tvmffi-wheel T [--out DIR] [--quick]
 *                  [--device N] [--calls N] [--rounds N] [--chunk N] [--reps N]
 *                  [--gdn-seqs N] [--no-gdn] [--tmp DIR]
 *        bench_gpu --startup-only --cache-dir DIR --label L --jit-cache-wheel W
 *                  --tvmffi-wheel T [--out DIR]
 *          (one open + first call in this fresh process; appends to startup.csv)
 *
 * Prints a table on stdout and writes CSV files into --out (default
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
#include "flashinfer_c.h"

/* ------------------------------------------------------------------------ */
/* Utilities                                                                 */
/* ------------------------------------------------------------------------ */

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Sorts v in place; returns the q-quantile (nearest rank). */
static double quantile(double *v, int n, double q) {
  qsort(v, (size_t)n, sizeof(double), cmp_double);
  int i = (int)(q * (n - 1) + 0.5);
  return v[i < 0 ? 0 : (i >= n ? n - 1 : i)];
}

static void die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench_gpu: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

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
static float bf2f(uint16_t h) {
  uint32_t bits = (uint32_t)h << 16;
  float f;
  memcpy(&f, &bits, 4);
  return f;
}

/* ------------------------------------------------------------------------ */
/* Options                                                                   */
/* ------------------------------------------------------------------------ */

static struct {
  const char *jit, *tvmffi, *out, *tmp, *cache_dir, *label;
  int quick, device, rounds, chunk, reps, gdn_seqs, no_gdn, startup_only;
  long calls;
} opt;

static void usage(const char *argv0) __attribute__((noreturn));
static void usage(const char *argv0) {
  fprintf(stderr,
          "usage: %s --jit-cache-wheel W --tvmffi-wheel T [--out DIR] [--quick] [--device N]\n"
          "          [--calls N] [--rounds N] [--chunk N] [--reps N] [--gdn-seqs N] [--no-gdn] [--tmp DIR]\n"
          "       %s --startup-only --cache-dir DIR --label L --jit-cache-wheel W --tvmffi-wheel T [--out DIR]\n",
          argv0, argv0);
  exit(2);
}

static void parse(int argc, char **argv) {
  opt.out = "bench-gpu-out";
  opt.tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
  opt.label = "fresh-process";
  opt.gdn_seqs = 4;
  opt.chunk = 256;
  for (int i = 1; i < argc; ++i) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    const char **str = NULL;
    int *num = NULL;
    if (!strcmp(a, "--jit-cache-wheel"))
      str = &opt.jit;
    else if (!strcmp(a, "--tvmffi-wheel"))
      str = &opt.tvmffi;
    else if (!strcmp(a, "--out"))
      str = &opt.out;
    else if (!strcmp(a, "--tmp"))
      str = &opt.tmp;
    else if (!strcmp(a, "--cache-dir"))
      str = &opt.cache_dir;
    else if (!strcmp(a, "--label"))
      str = &opt.label;
    else if (!strcmp(a, "--device"))
      num = &opt.device;
    else if (!strcmp(a, "--rounds"))
      num = &opt.rounds;
    else if (!strcmp(a, "--chunk"))
      num = &opt.chunk;
    else if (!strcmp(a, "--reps"))
      num = &opt.reps;
    else if (!strcmp(a, "--gdn-seqs"))
      num = &opt.gdn_seqs;
    else if (!strcmp(a, "--calls")) {
      if (!v) usage(argv[0]);
      opt.calls = atol(v);
      ++i;
      continue;
    } else if (!strcmp(a, "--quick")) {
      opt.quick = 1;
      continue;
    } else if (!strcmp(a, "--no-gdn")) {
      opt.no_gdn = 1;
      continue;
    } else if (!strcmp(a, "--startup-only")) {
      opt.startup_only = 1;
      continue;
    } else {
      usage(argv[0]);
    }
    if (!v) usage(argv[0]);
    if (str) *str = v;
    if (num) *num = atoi(v);
    ++i;
  }
  if (!opt.jit || !opt.tvmffi) usage(argv[0]);
  if (opt.startup_only && !opt.cache_dir) usage(argv[0]);
  if (opt.calls <= 0) opt.calls = opt.quick ? 5000 : 20000;
  if (opt.rounds <= 0) opt.rounds = opt.quick ? 3 : 7;
  if (opt.reps <= 0) opt.reps = opt.quick ? 30 : 100;
  if (opt.reps > 200) opt.reps = 200;
  if (opt.reps < 5) opt.reps = 5;
  if (opt.chunk < 1) opt.chunk = 1;
  if (opt.gdn_seqs < 1) opt.gdn_seqs = 1;
}

static FILE *csv_open(const char *name, const char *header, int append) {
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", opt.out, name);
  int exists = access(path, F_OK) == 0;
  FILE *f = fopen(path, append ? "a" : "w");
  if (!f) die("cannot write %s: %s", path, strerror(errno));
  if (!append || !exists) fprintf(f, "%s\n", header);
  return f;
}

/* ------------------------------------------------------------------------ */
/* Device state: stream, gate, events                                        */
/* ------------------------------------------------------------------------ */

static cudaStream_t g_stream;
static unsigned *g_gate_flag, *g_gate_flag_dev, *g_gate_to, *g_gate_to_dev, g_gate_gen;
static unsigned long long *g_count, *g_count_dev;
static int g_gate_timeouts;
#define MAX_REPS 200
static cudaEvent_t g_ev0[MAX_REPS], g_ev1[MAX_REPS];

static void device_init(void) {
  CK(cudaStreamCreateWithFlags(&g_stream, cudaStreamNonBlocking));
  CK(cudaHostAlloc((void **)&g_gate_flag, 2 * sizeof(unsigned), cudaHostAllocMapped));
  g_gate_to = g_gate_flag + 1;
  CK(cudaHostGetDevicePointer((void **)&g_gate_flag_dev, g_gate_flag, 0));
  g_gate_to_dev = g_gate_flag_dev + 1;
  __atomic_store_n(g_gate_flag, 0u, __ATOMIC_SEQ_CST);
  __atomic_store_n(g_gate_to, 0u, __ATOMIC_SEQ_CST);
  CK(cudaMalloc((void **)&g_count_dev, sizeof *g_count_dev));
  CK(cudaHostAlloc((void **)&g_count, sizeof *g_count, cudaHostAllocDefault));
  for (int i = 0; i < MAX_REPS; ++i) {
    CK(cudaEventCreate(&g_ev0[i]));
    CK(cudaEventCreate(&g_ev1[i]));
  }
}

/* Hold the stream: work enqueued after this waits until gate_open(), so the
 * host never waits for the GPU and the GPU never waits for the host. */
static void gate_close(void) {
  ++g_gate_gen;
  CK(bgk_launch_gate(g_gate_flag_dev, g_gate_gen, 5000000000ull, g_gate_to_dev, g_stream));
}
static void gate_open(void) { __atomic_store_n(g_gate_flag, g_gate_gen, __ATOMIC_SEQ_CST); }
/* After a synchronize: did the gate give up waiting (the host blocked on a
 * full launch queue)? The measurement is then polluted: warn. */
static void gate_check(const char *what) {
  if (__atomic_load_n(g_gate_to, __ATOMIC_SEQ_CST)) {
    __atomic_store_n(g_gate_to, 0u, __ATOMIC_SEQ_CST);
    ++g_gate_timeouts;
    fprintf(stderr, "bench_gpu: warning: gate kernel timed out during %s (launch queue full?)\n", what);
  }
}

static void *dalloc(size_t bytes) {
  void *p = NULL;
  CK(cudaMalloc(&p, bytes ? bytes : 1));
  return p;
}

static unsigned long long count_diff16(const void *a, const void *b, size_t n) {
  CK(cudaMemsetAsync(g_count_dev, 0, sizeof *g_count_dev, g_stream));
  CK(bgk_count_diff16(a, b, n, g_count_dev, g_stream));
  CK(cudaMemcpyAsync(g_count, g_count_dev, sizeof *g_count, cudaMemcpyDeviceToHost, g_stream));
  CK(cudaStreamSynchronize(g_stream));
  return *g_count;
}
static unsigned long long count_nonfinite16(const void *p, size_t n, int kind) {
  CK(cudaMemsetAsync(g_count_dev, 0, sizeof *g_count_dev, g_stream));
  CK(bgk_count_nonfinite16(p, n, kind, g_count_dev, g_stream));
  CK(cudaMemcpyAsync(g_count, g_count_dev, sizeof *g_count, cudaMemcpyDeviceToHost, g_stream));
  CK(cudaStreamSynchronize(g_stream));
  return *g_count;
}

/* GPU time of one launch: per-call event pairs, all enqueued behind the gate
 * so host launch cost never shows; med/p10/p90 in us. Also the "stream"
 * time: the same calls back to back without the gate, total / reps, which
 * includes whatever launch rate the host sustains. */
typedef int (*launch_fn)(void *ctx, int i);
typedef struct timing {
  double med_us, p10_us, p90_us, stream_us;
} timing;

static timing time_gpu(launch_fn f, void *ctx, int reps, int warm, const char *what) {
  timing t;
  double v[MAX_REPS];
  if (reps > MAX_REPS) reps = MAX_REPS;
  for (int i = 0; i < warm; ++i)
    if (f(ctx, i)) die("%s: warm-up call failed: %s", what, fic_last_error_message());
  CK(cudaStreamSynchronize(g_stream));
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
  CK(cudaEventRecord(g_ev0[0], g_stream));
  for (int i = 0; i < reps; ++i)
    if (f(ctx, i)) die("%s: call failed: %s", what, fic_last_error_message());
  CK(cudaEventRecord(g_ev1[0], g_stream));
  CK(cudaStreamSynchronize(g_stream));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, g_ev0[0], g_ev1[0]));
  t.stream_us = ms * 1e3 / reps;
  return t;
}

/* ------------------------------------------------------------------------ */
/* The raw TVM-FFI safe call, built by hand                                  */
/* ------------------------------------------------------------------------ */

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
  raw_safe_call_fn gemma_rmsnorm;
  raw_set_stream_fn set_stream;
  raw_move_raised_fn move_raised;
  raw_decref_fn decref;
  int same_handle;
} raw;

static void *sym_or_die(void *h, const char *name) {
  dlerror();
  void *s = dlsym(h, name);
  if (!s) die("dlsym(%s): %s", name, dlerror());
  return s;
}

static void raw_init(fic_runtime *rt) {
  static const char *const norm_only[] = {"norm", NULL};
  FK(fic_runtime_preload(rt, norm_only));
  const char *path = NULL, *tvm = NULL;
  FK(fic_runtime_module_path(rt, "norm", &path));
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD); /* the handle the runtime holds */
  raw.same_handle = h != NULL;
  if (!h) h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) die("dlopen(%s): %s", path, dlerror());
  void *s = sym_or_die(h, "__tvm_ffi_gemma_rmsnorm");
  memcpy(&raw.gemma_rmsnorm, &s, sizeof s);
  void *th = RTLD_DEFAULT;
  void *ss = dlsym(th, "TVMFFIEnvSetStream");
  if (!ss && fic_runtime_path(rt, FIC_PATH_LIBTVM_FFI, &tvm) == FIC_OK) {
    th = dlopen(tvm, RTLD_NOW | RTLD_NOLOAD);
    if (th) ss = dlsym(th, "TVMFFIEnvSetStream");
  }
  if (!ss) die("TVMFFIEnvSetStream not found");
  memcpy(&raw.set_stream, &ss, sizeof ss);
  s = sym_or_die(th, "TVMFFIErrorMoveFromRaised");
  memcpy(&raw.move_raised, &s, sizeof s);
  s = sym_or_die(th, "TVMFFIObjectDecRef");
  memcpy(&raw.decref, &s, sizeof s);
}

/* One raw call: set the env stream, call, restore (as the library does). */
static int raw_gemma_rmsnorm(raw_dltensor *out, raw_dltensor *in, raw_dltensor *w, double eps, int dev) {
  raw_any args[5];
  args[0].type_index = 7, args[0].zero_padding = 0, args[0].v.v_ptr = out;
  args[1].type_index = 7, args[1].zero_padding = 0, args[1].v.v_ptr = in;
  args[2].type_index = 7, args[2].zero_padding = 0, args[2].v.v_ptr = w;
  args[3].type_index = 3, args[3].zero_padding = 0, args[3].v.v_float64 = eps;
  args[4].type_index = 2, args[4].zero_padding = 0, args[4].v.v_int64 = 0;
  raw_any res;
  res.type_index = 0, res.zero_padding = 0, res.v.v_int64 = 0;
  void *prev = NULL;
  raw.set_stream(2, dev, g_stream, &prev);
  int rc = raw.gemma_rmsnorm(NULL, args, 5, &res);
  raw.set_stream(2, dev, prev, NULL);
  if (rc != 0) {
    void *err = NULL;
    raw.move_raised(&err);
    if (err) raw.decref(err);
  }
  return rc;
}

/* ------------------------------------------------------------------------ */
/* gemma_rmsnorm buffers (rotated to defeat L2)                              */
/* ------------------------------------------------------------------------ */

#define MAX_BUF 64
typedef struct norm_set {
  int kind; /* BGK_F16 / BGK_BF16 */
  int64_t batch, hidden;
  int nbuf;
  void *in[MAX_BUF], *out[MAX_BUF], *w;
  int64_t shape2[2], shape1[1], stride2[2], stride1[1];
  fic_tensor t_in[MAX_BUF], t_out[MAX_BUF], t_w;
  raw_dltensor r_in[MAX_BUF], r_out[MAX_BUF], r_w;
  fic_runtime *rt;
  fic_function *fn;
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

static void norm_alloc(norm_set *s, fic_runtime *rt, fic_function *fn, int dev, int kind, int64_t batch, int64_t hidden,
                       size_t l2_bytes, uint64_t seed) {
  memset(s, 0, sizeof *s);
  s->rt = rt;
  s->fn = fn;
  s->dev = dev;
  s->kind = kind;
  s->batch = batch;
  s->hidden = hidden;
  s->shape2[0] = batch;
  s->shape2[1] = hidden;
  s->stride2[0] = hidden;
  s->stride2[1] = 1;
  s->shape1[0] = hidden;
  s->stride1[0] = 1;
  size_t bytes = norm_elems(s) * 2;
  size_t want = 4 * l2_bytes / (2 * bytes) + 1; /* >= 4x L2 of distinct input+output, capped */
  s->nbuf = want < 2 ? 2 : (want > MAX_BUF ? MAX_BUF : (int)want);
  fic_dtype dt = kind == BGK_F16 ? FIC_F16 : FIC_BF16;
  for (int i = 0; i < s->nbuf; ++i) {
    s->in[i] = dalloc(bytes);
    s->out[i] = dalloc(bytes);
    CK(bgk_fill_uniform(s->in[i], norm_elems(s), kind, -2.0f, 2.0f, seed * 131 + (uint64_t)i, g_stream));
    CK(cudaMemsetAsync(s->out[i], 0, bytes, g_stream));
    s->t_in[i] = fic_t(s->in[i], dev, 2, dt, s->shape2);
    s->t_out[i] = fic_t(s->out[i], dev, 2, dt, s->shape2);
    s->r_in[i] = raw_tensor(s->in[i], dev, 2, dt, s->shape2, s->stride2);
    s->r_out[i] = raw_tensor(s->out[i], dev, 2, dt, s->shape2, s->stride2);
  }
  s->w = dalloc((size_t)hidden * 2);
  CK(bgk_fill_uniform(s->w, (size_t)hidden, kind, -0.5f, 0.5f, seed * 131 + 1000, g_stream));
  s->t_w = fic_t(s->w, dev, 1, dt, s->shape1);
  s->r_w = raw_tensor(s->w, dev, 1, dt, s->shape1, s->stride1);
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

static int launch_fic(void *ctx, int i) {
  norm_set *s = ctx;
  int b = i % s->nbuf;
  return fic_gemma_rmsnorm(s->rt, &s->t_out[b], &s->t_in[b], &s->t_w, EPS, 0, g_stream) != FIC_OK;
}
static int launch_raw(void *ctx, int i) {
  norm_set *s = ctx;
  int b = i % s->nbuf;
  return raw_gemma_rmsnorm(&s->r_out[b], &s->r_in[b], &s->r_w, EPS, s->dev) != 0;
}
static int launch_copy(void *ctx, int i) {
  norm_set *s = ctx;
  int b = i % s->nbuf;
  return cudaMemcpyAsync(s->out[b], s->in[b], norm_elems(s) * 2, cudaMemcpyDeviceToDevice, g_stream) != cudaSuccess;
}

/* Our output (out[0]) vs the raw call's (out[1]) from the same input[0]. */
static unsigned long long ours_vs_raw(norm_set *s) {
  if (fic_gemma_rmsnorm(s->rt, &s->t_out[0], &s->t_in[0], &s->t_w, EPS, 0, g_stream) != FIC_OK)
    die("fic_gemma_rmsnorm failed: %s", fic_last_error_message());
  if (raw_gemma_rmsnorm(&s->r_out[1], &s->r_in[0], &s->r_w, EPS, s->dev) != 0) die("raw safe call failed");
  return count_diff16(s->out[0], s->out[1], norm_elems(s));
}

/* ------------------------------------------------------------------------ */
/* 0. Correctness: our call == raw call bitwise, and both near a reference   */
/* ------------------------------------------------------------------------ */

static double ref_check(norm_set *s) {
  size_t n = norm_elems(s);
  unsigned long long diff = ours_vs_raw(s);
  if (diff) die("our output and the raw call's differ in %llu of %zu elements", diff, n);
  uint16_t *x = malloc(n * 2), *y = malloc(n * 2), *w = malloc((size_t)s->hidden * 2);
  if (!x || !y || !w) die("out of host memory");
  CK(cudaMemcpy(x, s->in[0], n * 2, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(y, s->out[0], n * 2, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(w, s->w, (size_t)s->hidden * 2, cudaMemcpyDeviceToHost));
  float (*cv)(uint16_t) = s->kind == BGK_F16 ? h2f : bf2f;
  double num = 0, den = 0;
  size_t zeros = 0;
  for (int64_t b = 0; b < s->batch; ++b) {
    double ss = 0;
    for (int64_t h = 0; h < s->hidden; ++h) {
      double v = cv(x[b * s->hidden + h]);
      ss += v * v;
    }
    double r = 1.0 / sqrt(ss / (double)s->hidden + EPS);
    for (int64_t h = 0; h < s->hidden; ++h) {
      double ref = cv(x[b * s->hidden + h]) * r * (1.0 + cv(w[h]));
      double got = cv(y[b * s->hidden + h]);
      if (!isfinite(got)) die("non-finite gemma_rmsnorm output");
      zeros += got == 0.0;
      num += (got - ref) * (got - ref);
      den += ref * ref;
    }
  }
  free(x);
  free(y);
  free(w);
  if (zeros == n) die("gemma_rmsnorm output is all zeros");
  return sqrt(num / den);
}

/* ------------------------------------------------------------------------ */
/* 1. Host cost per call                                                     */
/* ------------------------------------------------------------------------ */

enum { M_RAW, M_FIC, M_GENERIC, M_EMPTY, M_COUNT };
static const char *const method_name[M_COUNT] = {"raw_safe_call", "fic_gemma_rmsnorm", "fic_function_call",
                                                 "cudaLaunchKernel_empty"};

/* Runs c calls of method m back to back; returns the number that failed. */
static long run_calls(int m, long c, norm_set *s) {
  long bad = 0;
  switch (m) {
    case M_RAW:
      for (long i = 0; i < c; ++i) bad += raw_gemma_rmsnorm(&s->r_out[0], &s->r_in[0], &s->r_w, EPS, s->dev) != 0;
      break;
    case M_FIC:
      for (long i = 0; i < c; ++i)
        bad += fic_gemma_rmsnorm(s->rt, &s->t_out[0], &s->t_in[0], &s->t_w, EPS, 0, g_stream) != FIC_OK;
      break;
    case M_GENERIC:
      for (long i = 0; i < c; ++i) {
        fic_arg a[5] = {fic_arg_tensor(&s->t_out[0]), fic_arg_tensor(&s->t_in[0]), fic_arg_tensor(&s->t_w),
                        fic_arg_float(EPS), fic_arg_bool(0)};
        bad += fic_function_call(s->fn, a, 5, s->dev, g_stream, NULL) != FIC_OK;
      }
      break;
    default: {
      const void *k = bgk_empty_kernel();
      dim3 one = {1, 1, 1};
      void *no_args[1] = {NULL};
      for (long i = 0; i < c; ++i) bad += cudaLaunchKernel(k, one, one, no_args, 0, g_stream) != cudaSuccess;
      break;
    }
  }
  return bad;
}

typedef struct overhead_result {
  double med[M_COUNT], min[M_COUNT], max[M_COUNT];
} overhead_result;

static void bench_overhead(norm_set *s, overhead_result *res) {
  int R = opt.rounds;
  double *v = calloc((size_t)(M_COUNT * R), sizeof(double));
  if (!v) die("out of memory");
  FILE *f = csv_open("overhead.csv", "method,round,calls,ns_per_call", 0);
  for (int m = 0; m < M_COUNT; ++m) /* warm-up */
    if (run_calls(m, 200, s)) die("%s warm-up failed: %s", method_name[m], fic_last_error_message());
  CK(cudaStreamSynchronize(g_stream));
  for (int r = 0; r < R; ++r) {
    for (int k = 0; k < M_COUNT; ++k) {
      int m = (k + r) % M_COUNT; /* rotate the order between rounds */
      double total = 0;
      long done = 0, bad = 0;
      while (done < opt.calls) {
        long c = opt.calls - done < opt.chunk ? opt.calls - done : opt.chunk;
        gate_close(); /* nothing enqueued below runs yet: the launch queue never drains or fills */
        double t0 = now_ns();
        bad += run_calls(m, c, s);
        double t1 = now_ns();
        gate_open();
        CK(cudaStreamSynchronize(g_stream));
        gate_check(method_name[m]);
        total += t1 - t0;
        done += c;
      }
      if (bad) die("%s: %ld calls failed: %s", method_name[m], bad, fic_last_error_message());
      v[m * R + r] = total / (double)opt.calls;
      fprintf(f, "%s,%d,%ld,%.1f\n", method_name[m], r, opt.calls, v[m * R + r]);
    }
  }
  fclose(f);
  for (int m = 0; m < M_COUNT; ++m) {
    res->med[m] = quantile(v + m * R, R, 0.5);
    res->min[m] = v[m * R];
    res->max[m] = v[m * R + R - 1];
  }
  free(v);
  f = csv_open("overhead_summary.csv", "method,median_ns,min_ns,max_ns,ratio_vs_raw,ratio_vs_empty", 0);
  for (int m = 0; m < M_COUNT; ++m)
    fprintf(f, "%s,%.1f,%.1f,%.1f,%.3f,%.3f\n", method_name[m], res->med[m], res->min[m], res->max[m],
            res->med[m] / res->med[M_RAW], res->med[m] / res->med[M_EMPTY]);
  fclose(f);
}

/* ------------------------------------------------------------------------ */
/* 2. Bandwidth                                                              */
/* ------------------------------------------------------------------------ */

typedef struct bw_row {
  int kind;
  int64_t batch, hidden;
  int nbuf;
  double bytes, copy_bytes;
  timing fic, raw, copy;
} bw_row;

static void bench_bandwidth(fic_runtime *rt, fic_function *fn, int dev, size_t l2, bw_row *rows, int *nrows) {
  static const int64_t shapes[][2] = {{1, 4096}, {512, 4096}, {2048, 8192}, {8192, 8192}, {16384, 8192}};
  int n = 0;
  int warm = opt.quick ? 3 : 10;
  for (int kind = BGK_F16; kind <= BGK_BF16; ++kind) {
    for (size_t k = 0; k < sizeof shapes / sizeof shapes[0]; ++k) {
      norm_set s;
      norm_alloc(&s, rt, fn, dev, kind, shapes[k][0], shapes[k][1], l2, 1234 + 17 * k + 100 * (uint64_t)kind);
      bw_row *r = &rows[n++];
      r->kind = kind;
      r->batch = s.batch;
      r->hidden = s.hidden;
      r->nbuf = s.nbuf;
      /* kernel: input read + output written + weight read; the copy moves
       * the input once (read + write): the same traffic less the weight */
      r->bytes = 2.0 * (double)norm_elems(&s) * 2 + (double)s.hidden * 2;
      r->copy_bytes = 2.0 * (double)norm_elems(&s) * 2;
      r->fic = time_gpu(launch_fic, &s, opt.reps, warm, "fic gemma_rmsnorm");
      r->raw = time_gpu(launch_raw, &s, opt.reps, warm, "raw gemma_rmsnorm");
      r->copy = time_gpu(launch_copy, &s, opt.reps, warm, "d2d copy");
      unsigned long long diff = ours_vs_raw(&s);
      if (diff)
        die("%lldx%lld: our output differs from the raw call's in %llu elements", (long long)s.batch,
            (long long)s.hidden, diff);
      if (count_nonfinite16(s.out[0], norm_elems(&s), kind)) die("non-finite gemma_rmsnorm output");
      norm_free(&s);
    }
  }
  *nrows = n;
  FILE *f = csv_open("norm_bandwidth.csv",
                     "dtype,batch,hidden,path,gpu_us_median,gpu_us_p10,gpu_us_p90,stream_us,bytes,gbps,"
                     "frac_of_copy,buffers,identical_to_raw",
                     0);
  for (int i = 0; i < n; ++i) {
    const bw_row *r = &rows[i];
    const char *dt = r->kind == BGK_F16 ? "f16" : "bf16";
    double copy_gbps = r->copy_bytes / (r->copy.med_us * 1e3);
    const timing *t[3] = {&r->fic, &r->raw, &r->copy};
    const char *names[3] = {"fic", "raw", "d2d_copy"};
    for (int j = 0; j < 3; ++j) {
      double bytes = j == 2 ? r->copy_bytes : r->bytes;
      double gbps = bytes / (t[j]->med_us * 1e3);
      fprintf(f, "%s,%lld,%lld,%s,%.3f,%.3f,%.3f,%.3f,%.0f,%.1f,%.4f,%d,1\n", dt, (long long)r->batch,
              (long long)r->hidden, names[j], t[j]->med_us, t[j]->p10_us, t[j]->p90_us, t[j]->stream_us, bytes, gbps,
              gbps / copy_gbps, r->nbuf);
    }
  }
  fclose(f);
}

/* ------------------------------------------------------------------------ */
/* 3. gdn_prefill                                                            */
/* ------------------------------------------------------------------------ */

typedef struct gdn_ctx {
  fic_runtime *rt;
  fic_tensor out, state, q, k, v, cu, alpha, beta, ws;
} gdn_ctx;

static int launch_gdn(void *ctx, int i) {
  gdn_ctx *g = ctx;
  (void)i;
  return fic_gdn_prefill(g->rt, &g->out, &g->state, &g->q, &g->k, &g->v, &g->cu, NULL, &g->alpha, &g->beta, 0.0, &g->ws,
                         g_stream) != FIC_OK;
}

typedef struct gdn_row {
  int64_t tokens;
  int seqs;
  timing t;
  unsigned long long nonfinite;
} gdn_row;

/* Fills rows; on a failure, writes the reason into why and stops. */
static void bench_gdn(fic_runtime *rt, int dev, int sms, gdn_row *rows, int *nrows, char *why, size_t why_size) {
  enum { HQ = 16, HK = 16, HV = 32, HO = 32, D = 128 };
  static const int64_t full[] = {1024, 2048, 4096, 8192, 16384, 32768, 65536};
  static const int64_t quick[] = {1024, 4096, 16384};
  const int64_t *lens = opt.quick ? quick : full;
  int nlens = opt.quick ? 3 : 7;
  size_t ws_bytes = 0;
  FK(fic_gdn_prefill_workspace_size(sms, &ws_bytes));
  int N = opt.gdn_seqs;
  *nrows = 0;
  FILE *f = csv_open("gdn_prefill.csv",
                     "total_tokens,num_seqs,gpu_ms_median,gpu_ms_p10,gpu_ms_p90,tokens_per_s,nonfinite_outputs", 0);
  for (int li = 0; li < nlens; ++li) {
    int64_t T = lens[li];
    gdn_ctx g;
    memset(&g, 0, sizeof g);
    g.rt = rt;
    int64_t sh_q[3] = {T, HQ, D}, sh_k[3] = {T, HK, D}, sh_v[3] = {T, HV, D}, sh_o[3] = {T, HO, D};
    int64_t sh_s[4] = {N, HO, D, D}, sh_cu[1] = {N + 1}, sh_ab[2] = {T, HO}, sh_ws[1] = {(int64_t)ws_bytes};
    size_t tok = (size_t)T;
    void *q = dalloc(tok * HQ * D * 2), *k = dalloc(tok * HK * D * 2), *v = dalloc(tok * HV * D * 2);
    void *o = dalloc(tok * HO * D * 2), *st = dalloc((size_t)N * HO * D * D * 4);
    void *al = dalloc(tok * HO * 4), *be = dalloc(tok * HO * 4), *ws = dalloc(ws_bytes);
    void *cu = dalloc((size_t)(N + 1) * sizeof(int64_t));
    int64_t *cu_h = malloc((size_t)(N + 1) * sizeof(int64_t));
    if (!cu_h) die("out of memory");
    for (int i = 0; i <= N; ++i) cu_h[i] = T * i / N;
    CK(cudaMemcpy(cu, cu_h, (size_t)(N + 1) * sizeof(int64_t), cudaMemcpyHostToDevice));
    free(cu_h);
    /* q, k rows of roughly unit norm (as after Qwen3-Next's L2 norm); gates in (0.9, 1) */
    CK(bgk_fill_uniform(q, tok * HQ * D, BGK_BF16, -0.15f, 0.15f, 11 + (uint64_t)T, g_stream));
    CK(bgk_fill_uniform(k, tok * HK * D, BGK_BF16, -0.15f, 0.15f, 12 + (uint64_t)T, g_stream));
    CK(bgk_fill_uniform(v, tok * HV * D, BGK_BF16, -1.0f, 1.0f, 13 + (uint64_t)T, g_stream));
    CK(bgk_fill_uniform(al, tok * HO, BGK_F32, 0.90f, 1.0f, 14 + (uint64_t)T, g_stream));
    CK(bgk_fill_uniform(be, tok * HO, BGK_F32, 0.0f, 1.0f, 15 + (uint64_t)T, g_stream));
    CK(cudaMemsetAsync(ws, 0, ws_bytes ? ws_bytes : 1, g_stream));
    CK(cudaStreamSynchronize(g_stream));
    g.q = fic_t(q, dev, 3, FIC_BF16, sh_q);
    g.k = fic_t(k, dev, 3, FIC_BF16, sh_k);
    g.v = fic_t(v, dev, 3, FIC_BF16, sh_v);
    g.out = fic_t(o, dev, 3, FIC_BF16, sh_o);
    g.state = fic_t(st, dev, 4, FIC_F32, sh_s);
    g.cu = fic_t(cu, dev, 1, FIC_I64, sh_cu);
    g.alpha = fic_t(al, dev, 2, FIC_F32, sh_ab);
    g.beta = fic_t(be, dev, 2, FIC_F32, sh_ab);
    g.ws = fic_t(ws, dev, 1, FIC_U8, sh_ws);
    int failed = launch_gdn(&g, 0);
    if (failed) {
      snprintf(why, why_size, "fic_gdn_prefill failed at %lld tokens: %s: %s", (long long)T,
               fic_status_string(fic_last_error_status()), fic_last_error_message());
    }
    CK(cudaStreamSynchronize(g_stream));
    if (!failed) {
      gdn_row *r = &rows[(*nrows)++];
      r->tokens = T;
      r->seqs = N;
      r->t = time_gpu(launch_gdn, &g, opt.quick ? 5 : 10, 2, "gdn_prefill");
      r->nonfinite = count_nonfinite16(o, tok * HO * D, BGK_BF16);
      fprintf(f, "%lld,%d,%.4f,%.4f,%.4f,%.0f,%llu\n", (long long)T, N, r->t.med_us / 1e3, r->t.p10_us / 1e3,
              r->t.p90_us / 1e3, (double)T / (r->t.med_us * 1e-6), r->nonfinite);
    }
    void *all[] = {q, k, v, o, st, al, be, ws, cu};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; ++i) CK(cudaFree(all[i]));
    if (failed) break;
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
  if (fic_gemma_rmsnorm(s->rt, &s->t_out[0], &s->t_in[0], &s->t_w, EPS, 0, g_stream) != FIC_OK)
    die("first call failed: %s", fic_last_error_message());
  double t1 = now_ns();
  CK(cudaStreamSynchronize(g_stream));
  double t2 = now_ns();
  if (fic_gemma_rmsnorm(s->rt, &s->t_out[0], &s->t_in[0], &s->t_w, EPS, 0, g_stream) != FIC_OK)
    die("second call failed: %s", fic_last_error_message());
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
  fic_status st = open_rt(cache, NULL, &rt);
  *ms = (now_ns() - t0) / 1e6;
  *modules = NULL;
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

static int startup_only(void) {
  double t0 = now_ns();
  CK(cudaSetDevice(opt.device));
  CK(cudaFree(NULL));
  double cuda_init_ms = (now_ns() - t0) / 1e6;
  device_init();
  norm_set s;
  norm_alloc(&s, NULL, NULL, opt.device, BGK_F16, 1, 4096, 0, 7);
  startup_row row = {opt.label, 0, 0, 0, 0, 0};
  char cache[4096], skip[1024] = "";
  snprintf(cache, sizeof cache, "%s", opt.cache_dir);
  mkdir(cache, 0755);
  const char *const *modules = NULL;
  fic_runtime *rt = open_timed(cache, NULL, &modules, &row.open_ms, skip, sizeof skip);
  s.rt = rt;
  first_call(&s, &row);
  row.rss_mb = peak_rss_mb();
  FILE *f = csv_open("startup.csv", STARTUP_HEADER, 1);
  startup_csv(f, &row, cuda_init_ms);
  fclose(f);
  print_startup_header();
  print_startup(&row);
  norm_free(&s);
  fic_runtime_close(rt);
  return 0;
}

/* ------------------------------------------------------------------------ */
/* main                                                                      */
/* ------------------------------------------------------------------------ */

int main(int argc, char **argv) {
  parse(argc, argv);
  mkdir(opt.out, 0755);
  setvbuf(stdout, NULL, _IOLBF, 0);
  if (opt.startup_only) return startup_only();

  int ndev = 0;
  double rss0 = peak_rss_mb();
  cudaError_t ce = cudaGetDeviceCount(&ndev);
  if (ce != cudaSuccess || ndev <= opt.device)
    die("no CUDA device %d (%s)", opt.device, ce != cudaSuccess ? cudaGetErrorString(ce) : "too few devices");
  double t0 = now_ns();
  CK(cudaSetDevice(opt.device));
  CK(cudaFree(NULL));
  double cuda_init_ms = (now_ns() - t0) / 1e6;
  double rss_cuda = peak_rss_mb();
  struct cudaDeviceProp prop;
  CK(cudaGetDeviceProperties(&prop, opt.device));
  int cc_major = 0, cc_minor = 0, sms = 0, l2 = 0, drv = 0, rtv = 0;
  CK(cudaDeviceGetAttribute(&cc_major, cudaDevAttrComputeCapabilityMajor, opt.device));
  CK(cudaDeviceGetAttribute(&cc_minor, cudaDevAttrComputeCapabilityMinor, opt.device));
  CK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, opt.device));
  CK(cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, opt.device));
  CK(cudaDriverGetVersion(&drv));
  CK(cudaRuntimeGetVersion(&rtv));
  device_init();

  /* ---- 4. start-up: cold open (extraction), first call, warm open ---- */
  char pattern[4096], cache[4096];
  snprintf(pattern, sizeof pattern, "%s/fic-bench-gpu-XXXXXX", opt.tmp);
  snprintf(cache, sizeof cache, "%s", pattern);
  if (!mkdtemp(cache)) die("mkdtemp(%s): %s", cache, strerror(errno));
  char gdn_skip_buf[2048] = "";
  const char *gdn_skip = NULL;
  startup_row cold = {"in-process cold (extraction)", 0, 0, 0, 0, 0};
  startup_row warm = {"in-process warm (cache hit)", 0, 0, 0, 0, 0};
  const char *const *modules = NULL;
  norm_set s1;
  norm_alloc(&s1, NULL, NULL, opt.device, BGK_F16, 1, 4096, 0, 7);
  fic_runtime *rt = open_timed(cache, pattern, &modules, &cold.open_ms, gdn_skip_buf, sizeof gdn_skip_buf);
  if (modules) gdn_skip = gdn_skip_buf;
  double rss_open = peak_rss_mb();
  s1.rt = rt;
  first_call(&s1, &cold);
  cold.rss_mb = peak_rss_mb();
  fic_runtime *rt2 = NULL;
  t0 = now_ns();
  FK(open_rt(cache, modules, &rt2));
  warm.open_ms = (now_ns() - t0) / 1e6;
  s1.rt = rt2;
  first_call(&s1, &warm);
  warm.rss_mb = peak_rss_mb();
  norm_free(&s1);

  const char *p_norm = rt_module_path(rt, "norm"), *p_gdn = rt_module_path(rt, "gdn_prefill_sm90");
  const char *p_tvm = rt_path(rt, FIC_PATH_LIBTVM_FFI), *p_cudart = rt_path(rt, FIC_PATH_LIBCUDART);
  if (!gdn_skip && !p_gdn[0]) gdn_skip = "gdn_prefill_sm90 is not in the runtime";
  if (!gdn_skip && access(p_gdn, R_OK) != 0) gdn_skip = "gdn_prefill_sm90.so was not extracted";
  if (!gdn_skip && !(cc_major == 9 && cc_minor == 0)) {
    snprintf(gdn_skip_buf, sizeof gdn_skip_buf, "the GPU is sm_%d%d; gdn_prefill_sm90 needs sm_90", cc_major, cc_minor);
    gdn_skip = gdn_skip_buf;
  }
  if (!gdn_skip && opt.no_gdn) gdn_skip = "--no-gdn given";
  Dl_info di;
  memset(&di, 0, sizeof di);
  void *launch_sym = dlsym(RTLD_DEFAULT, "cudaLaunchKernel");
  if (launch_sym) dladdr(launch_sym, &di);

  raw_init(rt);
  fic_function *fn = NULL;
  FK(fic_function_get(rt, "norm", "gemma_rmsnorm", g_stream, &fn));

  /* ---- 0. correctness: nothing is reported from a broken run ---- */
  double err[2];
  for (int kind = BGK_F16; kind <= BGK_BF16; ++kind) {
    norm_set s;
    norm_alloc(&s, rt, fn, opt.device, kind, 33, 3072, 0, 99 + (uint64_t)kind);
    err[kind] = ref_check(&s);
    norm_free(&s);
    if (err[kind] > (kind == BGK_F16 ? 2e-3 : 1e-2))
      die("%s gemma_rmsnorm relative L2 error %.3g vs a float64 reference: too large", kind == BGK_F16 ? "f16" : "bf16",
          err[kind]);
  }
  printf("correctness: ours == raw safe call bitwise; rel. L2 error vs float64: f16 %.2e, bf16 %.2e\n", err[0], err[1]);

  /* ---- 1. host cost ---- */
  overhead_result ov;
  {
    norm_set s;
    norm_alloc(&s, rt, fn, opt.device, BGK_F16, 1, 4096, 0, 5);
    bench_overhead(&s, &ov);
    norm_free(&s);
  }
  printf("host cost: done\n");

  /* ---- 2. bandwidth ---- */
  bw_row bw[16];
  int nbw = 0;
  bench_bandwidth(rt, fn, opt.device, (size_t)l2, bw, &nbw);
  printf("bandwidth: done\n");

  /* ---- 3. gdn_prefill ---- */
  gdn_row gr[8];
  int ngr = 0;
  char gdn_why[2048] = "";
  double gdn_load_ms = 0;
  if (!gdn_skip) { /* the module's first load, timed apart from the kernel */
    static const char *const gdn_only[] = {"gdn_prefill_sm90", NULL};
    t0 = now_ns();
    if (fic_runtime_preload(rt, gdn_only) != FIC_OK) {
      snprintf(gdn_skip_buf, sizeof gdn_skip_buf, "preload failed: %s", fic_last_error_message());
      gdn_skip = gdn_skip_buf;
    }
    gdn_load_ms = (now_ns() - t0) / 1e6;
  }
  if (!gdn_skip) bench_gdn(rt, opt.device, sms, gr, &ngr, gdn_why, sizeof gdn_why);
  if (gdn_skip) {
    FILE *f = csv_open("gdn_prefill.csv",
                       "total_tokens,num_seqs,gpu_ms_median,gpu_ms_p10,gpu_ms_p90,tokens_per_s,nonfinite_outputs", 0);
    fclose(f);
  }

  double rss_end = peak_rss_mb();

  /* ---- CSVs: environment and start-up ---- */
  FILE *f = csv_open("env.csv", "key,value", 0);
  unsigned vnum = 0;
  const char *vstr = "";
  fic_version(&vnum, &vstr);
  fprintf(f, "gpu,\"%s\"\ncompute_capability,%d.%d\nsms,%d\nl2_bytes,%d\n", prop.name, cc_major, cc_minor, sms, l2);
  fprintf(f, "cuda_driver,%d\ncuda_runtime,%d\nflashinfer_c,%s\nquick,%d\n", drv, rtv, vstr, opt.quick);
  fprintf(f, "calls_per_round,%ld\nrounds,%d\nchunk,%d\nreps,%d\ngdn_seqs,%d\n", opt.calls, opt.rounds, opt.chunk,
          opt.reps, opt.gdn_seqs);
  fprintf(f, "jit_cache_wheel,\"%s\"\ntvmffi_wheel,\"%s\"\nnorm_so,\"%s\"\ngdn_so,\"%s\"\n", opt.jit, opt.tvmffi,
          p_norm, p_gdn);
  fprintf(f, "libtvm_ffi,\"%s\"\nlibcudart_runtime,\"%s\"\nlibcudart_bench,\"%s\"\n", p_tvm, p_cudart,
          di.dli_fname ? di.dli_fname : "?");
  fprintf(f, "raw_dlopen_same_handle,%d\ngate_timeouts,%d\n", raw.same_handle, g_gate_timeouts);
  fprintf(f, "rel_l2_err_f16,%.3g\nrel_l2_err_bf16,%.3g\ncuda_init_ms,%.3f\n", err[0], err[1], cuda_init_ms);
  fprintf(f, "rss_mb_start,%.1f\nrss_mb_after_cuda_init,%.1f\nrss_mb_after_cold_open,%.1f\nrss_mb_peak,%.1f\n", rss0,
          rss_cuda, rss_open, rss_end);
  fprintf(f, "gdn_load_ms,%.3f\ngdn_skipped,\"%s\"\n", gdn_load_ms, gdn_skip ? gdn_skip : gdn_why);
  fclose(f);
  f = csv_open("startup.csv", STARTUP_HEADER, 0);
  startup_csv(f, &cold, cuda_init_ms);
  startup_csv(f, &warm, cuda_init_ms);
  fclose(f);

  /* ---- the table ---- */
  printf("\n== flashinfer-c GPU benchmark: %s (sm_%d%d, %d SMs, L2 %d MB), driver %d, runtime %d%s\n", prop.name,
         cc_major, cc_minor, sms, l2 >> 20, drv, rtv, opt.quick ? ", QUICK RUN" : "");
  printf("cudart: library %s; bench %s\n", p_cudart, di.dli_fname ? di.dli_fname : "?");
  printf("correctness: ours == raw safe call bitwise at every shape; rel. L2 error vs float64: f16 %.2e, bf16 %.2e\n",
         err[0], err[1]);
  printf(
      "\n-- 1. host cost per call: gemma_rmsnorm 1x4096 f16, %ld calls x %d rounds (chunks of %d behind a gate "
      "kernel)\n",
      opt.calls, opt.rounds, opt.chunk);
  printf("%-24s %10s %10s %10s %8s %9s\n", "method", "median ns", "min ns", "max ns", "vs raw", "vs empty");
  for (int m = 0; m < M_COUNT; ++m)
    printf("%-24s %10.0f %10.0f %10.0f %7.2fx %8.2fx\n", method_name[m], ov.med[m], ov.min[m], ov.max[m],
           ov.med[m] / ov.med[M_RAW], ov.med[m] / ov.med[M_EMPTY]);
  double r_raw = ov.med[M_FIC] / ov.med[M_RAW], r_empty = ov.med[M_FIC] / ov.med[M_EMPTY];
  printf("targets: fic_gemma_rmsnorm within 10%% of raw: %.2fx %s; under 2x an empty launch: %.2fx %s\n", r_raw,
         r_raw <= 1.10 ? "PASS" : "FAIL", r_empty, r_empty < 2.0 ? "PASS" : "FAIL");
  printf("\n-- 2. gemma_rmsnorm bandwidth (GPU time per call, CUDA events, median of %d; bytes = read + written)\n",
         opt.reps);
  printf("%-5s %-11s %9s %7s %9s %7s %9s %7s %8s %10s %5s\n", "dtype", "shape", "fic us", "GB/s", "raw us", "GB/s",
         "copy us", "GB/s", "of copy", "stream us", "bufs");
  for (int i = 0; i < nbw; ++i) {
    const bw_row *r = &bw[i];
    char shape[32];
    snprintf(shape, sizeof shape, "%lldx%lld", (long long)r->batch, (long long)r->hidden);
    double g_fic = r->bytes / (r->fic.med_us * 1e3), g_raw = r->bytes / (r->raw.med_us * 1e3),
           g_copy = r->copy_bytes / (r->copy.med_us * 1e3);
    printf("%-5s %-11s %9.2f %7.0f %9.2f %7.0f %9.2f %7.0f %7.0f%% %10.2f %5d\n", r->kind == BGK_F16 ? "f16" : "bf16",
           shape, r->fic.med_us, g_fic, r->raw.med_us, g_raw, r->copy.med_us, g_copy, 100.0 * g_fic / g_copy,
           r->fic.stream_us, r->nbuf);
  }
  printf("\n-- 3. gdn_prefill (Qwen3-Next: q=k=16, v=32 heads, D=128, bf16, %d equal sequences, no initial state)\n",
         opt.gdn_seqs);
  if (ngr == 0) {
    printf("skipped: %s\n", gdn_skip ? gdn_skip : gdn_why);
  } else {
    printf("module load (preload) %.1f ms\n", gdn_load_ms);
    printf("%8s %10s %14s %10s\n", "tokens", "GPU ms", "tokens/s", "nonfinite");
    for (int i = 0; i < ngr; ++i)
      printf("%8lld %10.3f %14.0f %10llu\n", (long long)gr[i].tokens, gr[i].t.med_us / 1e3,
             (double)gr[i].tokens / (gr[i].t.med_us * 1e-6), gr[i].nonfinite);
    if (gdn_why[0]) printf("stopped early: %s\n", gdn_why);
  }
  printf("\n-- 4. start-up (CUDA context init %.1f ms, before and not included below)\n", cuda_init_ms);
  print_startup_header();
  print_startup(&cold);
  print_startup(&warm);
  printf("peak RSS: %.0f MB at start, %.0f MB after CUDA init, %.0f MB after cold open, %.0f MB at the end\n", rss0,
         rss_cuda, rss_open, rss_end);
  if (g_gate_timeouts)
    printf("WARNING: the gate kernel timed out %d times; rerun with a smaller --chunk/--reps\n", g_gate_timeouts);
  printf("CSV files in %s\n", opt.out);

  fic_runtime_close(rt2);
  fic_runtime_close(rt);
  rm_rf(cache);
  return 0;
}
