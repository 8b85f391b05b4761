/* SPDX-License-Identifier: Apache-2.0 */
/* bench_plan_host: the host cost of the typed attention plan/run against
 * the generic fic_function_call of the same export and the raw TVM-FFI safe
 * call, on a machine WITHOUT a GPU (issue #13; docs/benchmarks.md section
 * 6). A proxy for bench_attention's host-cost section, to profile the
 * library's own share with perf/callgrind:
 *
 *   - the modules are do-nothing stand-ins with the real exports' parameter
 *     types (tests/modules/fic_test_attn_mock.cc, under the real FA2 bf16/
 *     hd128 decode and prefill names in a fixture wheel), so TVM-FFI's
 *     argument conversion is the real one and the kernels' own work (the
 *     scheduler, the launches) is absent from every path alike;
 *   - libcudart is the stress tests' fake (tests/stress/fake_cudart.c,
 *     through FLASHINFER_C_CUDART): the event, device and attribute calls
 *     return at once, so what is measured is the library's code, not the
 *     CUDA runtime's (on the H200 those calls add ~0.7 us per plan);
 *   - the workspace is host memory and the "device" tensors fake addresses
 *     that nothing reads.
 *
 * Shapes as bench_attention: bf16, head dim 128, 32 query / 8 KV heads, NHD,
 * page size 16; decode b=1 ctx=1k (plan and run), decode b=64 and b=256
 * plans, causal paged prefill 4x256 (plan and run). Each plan replaces the
 * previous one (destroy / release) as a serving loop does. Per case: --rounds
 * rounds of --calls calls per path, the order of the paths rotated each
 * round; median (min-max) ns per call.
 *
 * usage: bench_plan_host [--wheel W] [--tvmffi-wheel T] [--cudart LIB]
 *                        [--calls N] [--rounds R] [--csv FILE]
 *                        [--sm90] [--loop CASE PATH SECONDS]
 * --loop runs one case on one path (typed, generic, raw) for SECONDS, for
 * `perf record -g` / `perf stat`; CASE is decode-plan, decode-run,
 * prefill-plan or prefill-run (b=1 and 4x256). Defaults for the three paths
 * are this build tree's (FIC_BENCH_* below). --sm90 makes the fake report
 * compute capability 9.0 and the typed prefill plan pass kv_last_page_len
 * (as an SM 9.0 caller does for FA3): its AUTO backend then looks for the
 * FA3 module, which the fixture wheel lacks, and falls back to FA2. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_host.h"
#include "flashinfer_c.h"

#define HQ 32
#define HKV 8
#define HD 128
#define PAGE 16

#define DECODE_MOD                                                                                             \
  "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_" \
  "vo_128_posenc_0_use_swa_False_use_logits_cap_False"
#define PREFILL_MOD                                                                                             \
  "batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_" \
  "vo_128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False"

/* Fake device addresses: distinct, aligned, never dereferenced. */
static uintptr_t g_next_dev = (uintptr_t)1 << 40;
static void *fake_dev(void) { return (void *)(g_next_dev += (uintptr_t)1 << 30); }

/* ---- the raw safe call (bench_host.h) ---- */

static raw_attn raw;

/* ---- the workspace (host memory; the "device" buffers are never touched) ---- */

static struct {
  fic_attention_workspace *ws;
  tens ft, it, ht;
} W;

static void workspace_init(fic_runtime *rt) {
  const size_t bytes = (size_t)1 << 20;
  fic_attention_workspace_desc d;
  FK(fic_attention_workspace_desc_init(&d));
  d.float_buffer = aligned_alloc(256, bytes), d.int_buffer = aligned_alloc(256, bytes);
  d.host_buffer = aligned_alloc(256, bytes);
  if (!d.float_buffer || !d.int_buffer || !d.host_buffer) die("out of memory");
  d.float_bytes = d.int_bytes = d.host_bytes = bytes;
  FK(fic_attention_workspace_create(rt, &d, &W.ws));
  int64_t n = (int64_t)bytes;
  tens_set(&W.ft, d.float_buffer, FIC_DEVICE_CUDA, FIC_U8, 1, &n);
  tens_set(&W.it, d.int_buffer, FIC_DEVICE_CUDA, FIC_U8, 1, &n);
  tens_set(&W.ht, d.host_buffer, FIC_DEVICE_CPU, FIC_U8, 1, &n);
}

/* ---- one batch: host indptrs and fake device tensors ---- */

typedef struct batch {
  int64_t batch, kv_len, qo_len, rows, pages_per_seq, pages;
  int32_t *qo_indptr_h, *kv_indptr_h, *last_h, *kv_len_h;
  tens qo_indptr, kv_indptr, last, indices, q, out, k, v;
} batch;

static void batch_new(batch *b, int64_t nb, int64_t kv_len, int64_t qo_len) {
  memset(b, 0, sizeof *b);
  b->batch = nb, b->kv_len = kv_len, b->qo_len = qo_len, b->rows = nb * qo_len;
  b->pages_per_seq = (kv_len + PAGE - 1) / PAGE;
  b->pages = nb * b->pages_per_seq;
  b->qo_indptr_h = malloc((size_t)(nb + 1) * 4), b->kv_indptr_h = malloc((size_t)(nb + 1) * 4);
  b->last_h = malloc((size_t)nb * 4), b->kv_len_h = malloc((size_t)nb * 4);
  if (!b->qo_indptr_h || !b->kv_indptr_h || !b->last_h || !b->kv_len_h) die("out of memory");
  for (int64_t i = 0; i <= nb; i++) {
    b->qo_indptr_h[i] = (int32_t)(i * qo_len);
    b->kv_indptr_h[i] = (int32_t)(i * b->pages_per_seq);
  }
  for (int64_t i = 0; i < nb; i++) {
    b->last_h[i] = (int32_t)(kv_len - (b->pages_per_seq - 1) * PAGE);
    b->kv_len_h[i] = (int32_t)kv_len;
  }
  vec_i32(&b->qo_indptr, fake_dev(), FIC_DEVICE_CUDA, nb + 1);
  vec_i32(&b->kv_indptr, fake_dev(), FIC_DEVICE_CUDA, nb + 1);
  vec_i32(&b->last, fake_dev(), FIC_DEVICE_CUDA, nb);
  vec_i32(&b->indices, fake_dev(), FIC_DEVICE_CUDA, b->pages);
  const int64_t qs[3] = {b->rows, HQ, HD}, ks[4] = {b->pages, PAGE, HKV, HD};
  tens_set(&b->q, fake_dev(), FIC_DEVICE_CUDA, FIC_BF16, 3, qs);
  tens_set(&b->out, fake_dev(), FIC_DEVICE_CUDA, FIC_BF16, 3, qs);
  tens_set(&b->k, fake_dev(), FIC_DEVICE_CUDA, FIC_BF16, 4, ks);
  tens_set(&b->v, fake_dev(), FIC_DEVICE_CUDA, FIC_BF16, 4, ks);
}

/* ---- the three paths ---- */

typedef enum { PATH_TYPED, PATH_GENERIC, PATH_RAW, PATH_COUNT } path_kind;
static const char *const path_name[PATH_COUNT] = {"typed", "generic", "raw"};

typedef struct planned {
  fic_attention_plan *plan; /* typed */
  fic_result info;          /* generic */
  fic_arg raw_info;         /* raw */
} planned;

static fic_function *g_fn_decode_plan, *g_fn_decode_run, *g_fn_prefill_plan, *g_fn_prefill_run;

/* The arguments bench_attention passes (decode.py / prefill.py's). */
static int decode_plan_args(fic_arg *a, const batch *b, tens *indptr, tens *eq, tens *ek) {
  vec_i32(indptr, b->kv_indptr_h, FIC_DEVICE_CPU, b->batch + 1);
  const int64_t zero = 0;
  tens_set(eq, NULL, FIC_DEVICE_CPU, FIC_BF16, 1, &zero);
  tens_set(ek, NULL, FIC_DEVICE_CPU, FIC_BF16, 1, &zero);
  int n = 0;
  a[n++] = fic_arg_tensor(&W.ft.t), a[n++] = fic_arg_tensor(&W.it.t), a[n++] = fic_arg_tensor(&W.ht.t);
  a[n++] = fic_arg_tensor(&indptr->t), a[n++] = fic_arg_int(b->batch), a[n++] = fic_arg_int(HQ);
  a[n++] = fic_arg_int(HKV), a[n++] = fic_arg_int(PAGE), a[n++] = fic_arg_bool(0), a[n++] = fic_arg_int(-1);
  a[n++] = fic_arg_float(0.0), a[n++] = fic_arg_int(HD), a[n++] = fic_arg_int(HD);
  a[n++] = fic_arg_tensor(&eq->t), a[n++] = fic_arg_tensor(&ek->t);
  return n;
}
typedef struct prefill_plan_store {
  tens qo, kv, len;
} prefill_plan_store;
static int prefill_plan_args(fic_arg *a, const batch *b, prefill_plan_store *s) {
  vec_i32(&s->qo, b->qo_indptr_h, FIC_DEVICE_CPU, b->batch + 1);
  vec_i32(&s->kv, b->kv_indptr_h, FIC_DEVICE_CPU, b->batch + 1);
  vec_i32(&s->len, b->kv_len_h, FIC_DEVICE_CPU, b->batch);
  int n = 0;
  a[n++] = fic_arg_tensor(&W.ft.t), a[n++] = fic_arg_tensor(&W.it.t), a[n++] = fic_arg_tensor(&W.ht.t);
  a[n++] = fic_arg_tensor(&s->qo.t), a[n++] = fic_arg_tensor(&s->kv.t), a[n++] = fic_arg_tensor(&s->len.t);
  a[n++] = fic_arg_int(b->rows), a[n++] = fic_arg_int(b->batch), a[n++] = fic_arg_int(HQ);
  a[n++] = fic_arg_int(HKV), a[n++] = fic_arg_int(PAGE), a[n++] = fic_arg_bool(0), a[n++] = fic_arg_int(HD);
  a[n++] = fic_arg_int(HD), a[n++] = fic_arg_bool(1), a[n++] = fic_arg_int(-1), a[n++] = fic_arg_int(-1);
  a[n++] = fic_arg_bool(0), a[n++] = fic_arg_int(0);
  return n;
}

static fic_runtime *g_rt;
static int g_sm90;

static fic_status typed_plan(const batch *b, int decode, fic_attention_plan **out) {
  if (decode) {
    fic_batch_decode_plan_params p;
    fic_batch_decode_plan_params_init(&p);
    p.kv_indptr = b->kv_indptr_h, p.batch_size = b->batch, p.num_qo_heads = HQ, p.num_kv_heads = HKV;
    p.head_dim = HD, p.page_size = PAGE, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
    return fic_batch_decode_plan(g_rt, W.ws, &p, NULL, out);
  }
  fic_batch_prefill_plan_params p;
  fic_batch_prefill_plan_params_init(&p);
  p.qo_indptr = b->qo_indptr_h, p.kv_indptr = b->kv_indptr_h, p.batch_size = b->batch, p.num_qo_heads = HQ;
  p.num_kv_heads = HKV, p.head_dim_qk = HD, p.page_size = PAGE, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
  p.causal = 1;
  if (g_sm90) p.kv_last_page_len = b->last_h;
  return fic_batch_prefill_plan(g_rt, W.ws, &p, NULL, out);
}

static int do_plan(path_kind path, const batch *b, int decode, planned *pl) {
  if (path == PATH_TYPED) {
    fic_attention_plan_destroy(pl->plan);
    pl->plan = NULL;
    return typed_plan(b, decode, &pl->plan) != FIC_OK;
  }
  fic_arg a[19];
  tens indptr, eq, ek;
  prefill_plan_store ps;
  int n = decode ? decode_plan_args(a, b, &indptr, &eq, &ek) : prefill_plan_args(a, b, &ps);
  if (path == PATH_GENERIC) {
    fic_result_release(&pl->info);
    return fic_function_call(decode ? g_fn_decode_plan : g_fn_prefill_plan, a, n, 0, NULL, &pl->info) != FIC_OK;
  }
  raw_release(&raw.ffi, &pl->raw_info);
  return raw_call(&raw.ffi, decode ? raw.decode_plan : raw.prefill_plan, a, n, &pl->raw_info, NULL);
}

static int decode_run_args(fic_arg *a, const batch *b, fic_arg info) {
  int n = 0;
  a[n++] = fic_arg_tensor(&W.ft.t), a[n++] = fic_arg_tensor(&W.it.t), a[n++] = info;
  a[n++] = fic_arg_tensor(&b->q.t), a[n++] = fic_arg_tensor(&b->k.t), a[n++] = fic_arg_tensor(&b->v.t);
  a[n++] = fic_arg_tensor(&b->kv_indptr.t), a[n++] = fic_arg_tensor(&b->indices.t);
  a[n++] = fic_arg_tensor(&b->last.t), a[n++] = fic_arg_tensor(&b->out.t), a[n++] = fic_arg_none();
  a[n++] = fic_arg_int(FIC_KV_LAYOUT_NHD), a[n++] = fic_arg_int(-1), a[n++] = fic_arg_bool(1);
  a[n++] = fic_arg_none(), a[n++] = fic_arg_float(0.0), a[n++] = fic_arg_float(1.0 / sqrt((double)HD));
  a[n++] = fic_arg_float(1.0), a[n++] = fic_arg_float(1e-4);
  return n;
}
static int prefill_run_args(fic_arg *a, const batch *b, fic_arg info) {
  int n = 0;
  a[n++] = fic_arg_tensor(&W.ft.t), a[n++] = fic_arg_tensor(&W.it.t), a[n++] = info;
  a[n++] = fic_arg_tensor(&b->q.t), a[n++] = fic_arg_tensor(&b->k.t), a[n++] = fic_arg_tensor(&b->v.t);
  a[n++] = fic_arg_tensor(&b->qo_indptr.t), a[n++] = fic_arg_tensor(&b->kv_indptr.t);
  a[n++] = fic_arg_tensor(&b->indices.t), a[n++] = fic_arg_tensor(&b->last.t);
  a[n++] = fic_arg_tensor(&b->out.t), a[n++] = fic_arg_none(), a[n++] = fic_arg_int(1) /* causal */;
  a[n++] = fic_arg_int(FIC_KV_LAYOUT_NHD), a[n++] = fic_arg_int(-1), a[n++] = fic_arg_bool(1);
  for (int i = 0; i < 6; i++) a[n++] = fic_arg_none();
  a[n++] = fic_arg_float(0.0), a[n++] = fic_arg_float(1.0 / sqrt((double)HD)), a[n++] = fic_arg_float(1.0);
  a[n++] = fic_arg_float(1e-4), a[n++] = fic_arg_int(0);
  return n;
}
static int do_run(path_kind path, const planned *pl, const batch *b, int decode) {
  if (path == PATH_TYPED) {
    if (decode) {
      fic_batch_decode_run_params r;
      fic_batch_decode_run_params_init(&r);
      r.q = &b->q.t, r.k_cache = &b->k.t, r.v_cache = &b->v.t, r.kv_indptr = &b->kv_indptr.t;
      r.kv_indices = &b->indices.t, r.kv_last_page_len = &b->last.t, r.out = &b->out.t;
      return fic_batch_decode_run(pl->plan, &r, NULL) != FIC_OK;
    }
    fic_batch_prefill_run_params r;
    fic_batch_prefill_run_params_init(&r);
    r.q = &b->q.t, r.k = &b->k.t, r.v = &b->v.t, r.qo_indptr = &b->qo_indptr.t, r.kv_indptr = &b->kv_indptr.t;
    r.kv_indices = &b->indices.t, r.kv_last_page_len = &b->last.t, r.out = &b->out.t;
    return fic_batch_prefill_run(pl->plan, &r, NULL) != FIC_OK;
  }
  fic_arg a[27];
  fic_arg info = path == PATH_GENERIC ? fic_arg_object(&pl->info) : pl->raw_info;
  int n = decode ? decode_run_args(a, b, info) : prefill_run_args(a, b, info);
  if (path == PATH_GENERIC)
    return fic_function_call(decode ? g_fn_decode_run : g_fn_prefill_run, a, n, 0, NULL, NULL) != FIC_OK;
  return raw_call(&raw.ffi, decode ? raw.decode_run : raw.prefill_run, a, n, NULL, NULL);
}
static void planned_free(planned *pl) {
  fic_attention_plan_destroy(pl->plan);
  fic_result_release(&pl->info);
  raw_release(&raw.ffi, &pl->raw_info);
  memset(pl, 0, sizeof *pl);
  pl->raw_info = fic_arg_none();
}

/* ---- timing ---- */

typedef struct bench_case {
  const char *label;
  int decode, run;
  batch b;
} bench_case;

/* `calls` plans or runs of `c` on `path`, ns per call. */
static double time_calls(const bench_case *c, path_kind path, planned *pl, long calls) {
  double t0 = now_ns();
  for (long i = 0; i < calls; i++) {
    int bad = c->run ? do_run(path, pl, &c->b, c->decode) : do_plan(path, &c->b, c->decode, pl);
    if (bad) die("%s on the %s path failed: %s", c->label, path_name[path], fic_last_error_message());
  }
  return (now_ns() - t0) / (double)calls;
}

static void prepare(const bench_case *c, path_kind path, planned *pl) {
  memset(pl, 0, sizeof *pl);
  pl->raw_info = fic_arg_none();
  /* A run needs its path's plan (made once); a plan needs nothing. */
  if (c->run && do_plan(path, &c->b, c->decode, pl)) die("planning %s: %s", c->label, fic_last_error_message());
}

int main(int argc, char **argv) {
  bench_name = "bench_plan_host";
  const char *wheel = FIC_BENCH_ATTN_MOCK_WHEEL, *tvmffi = FIC_BENCH_TVMFFI_WHEEL, *cudart = FIC_BENCH_FAKE_CUDART;
  const char *csv = NULL, *loop_case = NULL, *loop_path = NULL;
  long calls = 20000, rounds = 7;
  double loop_s = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    int more = i + 1 < argc;
    if (!strcmp(a, "--wheel") && more)
      wheel = argv[++i];
    else if (!strcmp(a, "--tvmffi-wheel") && more)
      tvmffi = argv[++i];
    else if (!strcmp(a, "--cudart") && more)
      cudart = argv[++i];
    else if (!strcmp(a, "--calls") && more)
      calls = atol(argv[++i]);
    else if (!strcmp(a, "--rounds") && more)
      rounds = atol(argv[++i]);
    else if (!strcmp(a, "--csv") && more)
      csv = argv[++i];
    else if (!strcmp(a, "--sm90"))
      g_sm90 = 1;
    else if (!strcmp(a, "--loop") && i + 3 < argc)
      loop_case = argv[++i], loop_path = argv[++i], loop_s = atof(argv[++i]);
    else
      die("unknown or incomplete argument %s (see the header of bench/bench_plan_host.c)", a);
  }
  if (calls < 1 || rounds < 1 || rounds > 99) die("--calls >= 1, --rounds in [1, 99]");
  /* Before anything loads libcudart: the fake, by absolute path. */
  if (setenv("FLASHINFER_C_CUDART", cudart, 1) != 0 || (g_sm90 && setenv("FIC_FAKE_CUDART_CC", "90", 1) != 0))
    die("setenv");

  char cache[] = "/tmp/bench_plan_host.XXXXXX";
  if (!mkdtemp(cache)) die("mkdtemp");
  fic_config cfg;
  FK(fic_config_init(&cfg));
  cfg.cache_dir = cache, cfg.jit_cache_wheel = wheel, cfg.tvmffi_wheel = tvmffi, cfg.offline = 1;
  FK(fic_runtime_open(&cfg, &g_rt));
  const char *const mods[] = {DECODE_MOD, PREFILL_MOD, NULL};
  FK(fic_runtime_preload(g_rt, mods));
  workspace_init(g_rt);
  FK(fic_function_get(g_rt, DECODE_MOD, "plan", NULL, &g_fn_decode_plan));
  FK(fic_function_get(g_rt, DECODE_MOD, "run", NULL, &g_fn_decode_run));
  FK(fic_function_get(g_rt, PREFILL_MOD, "plan", NULL, &g_fn_prefill_plan));
  FK(fic_function_get(g_rt, PREFILL_MOD, "paged_run", NULL, &g_fn_prefill_run));
  raw_attn_init(&raw, g_rt, DECODE_MOD, PREFILL_MOD);

  bench_case cases[] = {{"decode plan b=1", 1, 0, {0}},   {"decode plan b=64", 1, 0, {0}},
                        {"decode plan b=256", 1, 0, {0}}, {"prefill plan 4x256", 0, 0, {0}},
                        {"decode run b=1", 1, 1, {0}},    {"prefill run 4x256", 0, 1, {0}}};
  const int ncases = (int)(sizeof cases / sizeof cases[0]);
  batch_new(&cases[0].b, 1, 1024, 1);
  batch_new(&cases[1].b, 64, 8192, 1);
  batch_new(&cases[2].b, 256, 8192, 1);
  batch_new(&cases[3].b, 4, 256, 256);
  batch_new(&cases[4].b, 1, 1024, 1);
  batch_new(&cases[5].b, 4, 256, 256);

  if (loop_case) {
    int ci = !strcmp(loop_case, "decode-plan")    ? 0
             : !strcmp(loop_case, "prefill-plan") ? 3
             : !strcmp(loop_case, "decode-run")   ? 4
             : !strcmp(loop_case, "prefill-run")  ? 5
                                                  : -1;
    int pi = -1;
    for (int p = 0; p < PATH_COUNT; p++)
      if (!strcmp(loop_path, path_name[p])) pi = p;
    if (ci < 0 || pi < 0)
      die("--loop CASE PATH SECONDS: CASE decode-plan|decode-run|prefill-plan|prefill-run, PATH typed|generic|raw");
    planned pl;
    prepare(&cases[ci], (path_kind)pi, &pl);
    double end = now_ns() + loop_s * 1e9, ns = 0;
    long n = 0;
    while (now_ns() < end) ns += time_calls(&cases[ci], (path_kind)pi, &pl, calls), n++;
    printf("%s %s: %.1f ns per call (%ld x %ld calls)\n", cases[ci].label, loop_path, ns / (double)n, n, calls);
    planned_free(&pl);
  } else {
    FILE *f = csv ? fopen(csv, "w") : NULL;
    if (csv && !f) die("cannot write %s", csv);
    if (f) fprintf(f, "case,path,ns_med,ns_min,ns_max,calls,rounds\n");
    printf("ns per call, median (min-max) of %ld rounds x %ld calls; mock modules, fake libcudart, no GPU\n", rounds,
           calls);
    printf("%-20s %22s %22s %22s %8s %8s\n", "case", "typed", "generic", "raw", "typ-gen", "typ/raw");
    for (int ci = 0; ci < ncases; ci++) {
      const bench_case *c = &cases[ci];
      double v[PATH_COUNT][99];
      planned pl[PATH_COUNT];
      for (int p = 0; p < PATH_COUNT; p++) {
        prepare(c, (path_kind)p, &pl[p]);
        time_calls(c, (path_kind)p, &pl[p], calls / 10 + 1); /* warm up */
      }
      for (long r = 0; r < rounds; r++)
        for (int k = 0; k < PATH_COUNT; k++) {
          int p = (int)((k + r) % PATH_COUNT);
          v[p][r] = time_calls(c, (path_kind)p, &pl[p], calls);
        }
      double med[PATH_COUNT];
      char cell[PATH_COUNT][40];
      for (int p = 0; p < PATH_COUNT; p++) {
        med[p] = quantile(v[p], (int)rounds, 0.5); /* sorts v[p]: min and max below */
        snprintf(cell[p], sizeof cell[p], "%.0f (%.0f-%.0f)", med[p], v[p][0], v[p][rounds - 1]);
        if (f)
          fprintf(f, "%s,%s,%.1f,%.1f,%.1f,%ld,%ld\n", c->label, path_name[p], med[p], v[p][0], v[p][rounds - 1], calls,
                  rounds);
        planned_free(&pl[p]);
      }
      printf("%-20s %22s %22s %22s %+8.0f %7.2fx\n", c->label, cell[0], cell[1], cell[2], med[0] - med[1],
             med[0] / med[2]);
    }
    if (f) fclose(f);
  }
  FK(fic_attention_workspace_destroy(W.ws));
  FK(fic_runtime_close(g_rt));
  char rm[64];
  snprintf(rm, sizeof rm, "rm -rf %s", cache);
  if (system(rm) != 0) fprintf(stderr, "bench_plan_host: could not remove %s\n", cache);
  return 0;
}
