/* SPDX-License-Identifier: Apache-2.0 */
/* bench_attention: flashinfer-c's side of the attention benchmarks (issue
 * #13), bf16, head dim 128, GQA 32/8, paged KV (NHD, page size 16), on
 * FlashInfer 0.6.3's batch_decode_..._bf16_..._head_dim_qk_128_... (CUDA-core
 * decode) and FA2 batch_prefill_..._bf16_..._head_dim_qk_128_..._f16qk_False
 * modules. bench/bench_attention_py.py measures FlashInfer's Python wrappers
 * on the same shapes; bench/run_attention_bench.sh runs both.
 *
 *   0. correctness: typed run == raw safe call bitwise, both near a float64
 *      host reference (decode and causal prefill, small batches);
 *   1. host cost per plan and per run: typed fic_batch_*_plan/run vs the
 *      generic fic_function_call vs the raw __tvm_ffi_plan/run safe call
 *      (dlsym'ed, the floor for any caller of the module);
 *   2. decode GPU time and KV-read GB/s, batch x context grid, vs a
 *      device-to-device copy measured in the same run;
 *   3. causal prefill GPU time and TFLOP/s at a few (batch, length) points,
 *      FA2 (typed, raw) and FA3 (the `_sm90` module, typed; its output checked
 *      against FA2's on the same inputs first; skipped with a message where
 *      the wheel lacks the module or the GPU is not SM 9.0).
 *
 *   4. --breakdown: the typed plan's CUDA calls timed alone, and plans timed
 *      with the previous plan's copy already done ("settled").
 *
 * usage: bench_attention --jit-cache-wheel W --tvmffi-wheel T [--out DIR]
 *                        [--cache-dir DIR] [--quick] [--no-host] [--breakdown]
 *                        [--only prefill|decode]
 * Writes attn_check.csv, attn_host.csv, attn_decode.csv, attn_prefill.csv,
 * attn_copy.csv (and attn_breakdown.csv) and prints a table. Exits 1 if a correctness check fails.
 * --only prefill: the prefill checks and the prefill GPU times only (attn_check.csv, attn_prefill.csv);
 * --only decode: the decode checks, the copy and the decode GPU times only. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gpu_kernels.h"
#include "bench_util.h"
#include "flashinfer_c.h"

#define HQ 32
#define HKV 8
#define HD 128
#define PAGE 16
#define MAX_REPS 64
#define MAX_ROT 32
#define DECODE_MOD                                                                                         \
  "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_" \
  "dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False"
#define PREFILL_MOD                                                                                         \
  "batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_" \
  "dim_vo_128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False"
/* FA3 (PREFILL_MOD "_sm90") is not preloaded: the typed plan loads it on first use. */

/* ---- utilities ---- */

static struct {
  const char *jit, *tvmffi, *out, *cache, *only;
  int quick, no_host, breakdown;
} opt = {NULL, NULL, "bench-attn-out", "/tmp/fic-attn-cache", NULL, 0, 0, 0};

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--quick") || !strcmp(a, "--no-host") || !strcmp(a, "--breakdown")) {
      if (!strcmp(a, "--quick")) opt.quick = 1;
      if (!strcmp(a, "--no-host")) opt.no_host = 1;
      if (!strcmp(a, "--breakdown")) opt.breakdown = 1;
      continue;
    }
    if (i + 1 >= argc) die("%s needs a value", a);
    if (!strcmp(a, "--jit-cache-wheel"))
      opt.jit = argv[++i];
    else if (!strcmp(a, "--tvmffi-wheel"))
      opt.tvmffi = argv[++i];
    else if (!strcmp(a, "--out"))
      opt.out = argv[++i];
    else if (!strcmp(a, "--cache-dir"))
      opt.cache = argv[++i];
    else if (!strcmp(a, "--only")) {
      opt.only = argv[++i];
      if (strcmp(opt.only, "prefill") && strcmp(opt.only, "decode")) die("--only takes prefill or decode");
    } else
      die("unknown option %s", a);
  }
  if (!opt.jit || !opt.tvmffi)
    die("usage: bench_attention --jit-cache-wheel W --tvmffi-wheel T [--out DIR] [--quick] [--only prefill|decode]");
}
/* Whether a section runs: all without --only, else the one named. */
static int section(const char *name) { return !opt.only || !strcmp(opt.only, name); }

static FILE *csv_open(const char *name, const char *header) { return bench_csv_open(opt.out, name, header, 0); }

/* ---- device state: stream, gate, events ---- */

static cudaEvent_t g_ev0[MAX_REPS], g_ev1[MAX_REPS];

static void device_init(void) { bench_device_init(g_ev0, g_ev1, MAX_REPS); }
static void *upload_i32(const int32_t *x, int64_t n) {
  void *d = dalloc((size_t)n * 4);
  CK(cudaMemcpy(d, x, (size_t)n * 4, cudaMemcpyHostToDevice));
  return d;
}

/* ---- tensors ---- */

/* ---- the raw TVM-FFI safe call (bench_host.h) ---- */

static raw_attn raw;

/* ---- the workspace (shared by every path: typed, generic and raw) ---- */

static struct {
  void *fbuf, *ibuf, *hbuf;
  size_t fbytes, ibytes, hbytes;
  tens ft, it, ht;
  fic_attention_workspace *ws;
} W;

static void workspace_init(fic_runtime *rt) {
  fic_attention_workspace_desc d;
  FK(fic_attention_workspace_desc_init(&d));
  FK(fic_attention_workspace_sizes(&d.float_bytes, &d.int_bytes, &d.host_bytes));
  W.fbytes = d.float_bytes, W.ibytes = d.int_bytes, W.hbytes = d.host_bytes;
  W.fbuf = dalloc(W.fbytes);
  W.ibuf = dalloc(W.ibytes);
  CK(cudaHostAlloc(&W.hbuf, W.hbytes, cudaHostAllocDefault));
  d.float_buffer = W.fbuf, d.int_buffer = W.ibuf, d.host_buffer = W.hbuf;
  FK(fic_attention_workspace_create(rt, &d, &W.ws));
  int64_t n;
  n = (int64_t)W.fbytes, tens_set(&W.ft, W.fbuf, FIC_DEVICE_CUDA, FIC_U8, 1, &n);
  n = (int64_t)W.ibytes, tens_set(&W.it, W.ibuf, FIC_DEVICE_CUDA, FIC_U8, 1, &n);
  n = (int64_t)W.hbytes, tens_set(&W.ht, W.hbuf, FIC_DEVICE_CPU, FIC_U8, 1, &n);
}

/* ---- the KV cache pool and one batch over it ---- */

static struct {
  void *k, *v;
  int64_t pages;
  tens kt, vt;
} P;

static void pool_init(int64_t pages) {
  size_t elems = (size_t)pages * PAGE * HKV * HD;
  P.pages = pages;
  P.k = dalloc(elems * 2);
  P.v = dalloc(elems * 2);
  CK(bgk_fill_uniform(P.k, elems, BGK_BF16, -1.f, 1.f, 11, g_stream));
  CK(bgk_fill_uniform(P.v, elems, BGK_BF16, -1.f, 1.f, 12, g_stream));
  CK(cudaStreamSynchronize(g_stream));
  const int64_t sh[4] = {pages, PAGE, HKV, HD};
  tens_set(&P.kt, P.k, FIC_DEVICE_CUDA, FIC_BF16, 4, sh);
  tens_set(&P.vt, P.v, FIC_DEVICE_CUDA, FIC_BF16, 4, sh);
}

/* A batch of `batch` sequences of `kv_len` tokens each (`qo_len` query rows
 * each; decode: 1). kv_indices rotate over `rot` disjoint page ranges of the
 * pool so that repeated runs do not read a cache-resident KV. */
typedef struct batch {
  int64_t batch, kv_len, qo_len, rows, pages_per_seq, pages, rot;
  int32_t *qo_indptr_h, *kv_indptr_h, *last_h, *indices_h;
  void *qo_indptr_d, *kv_indptr_d, *last_d, *indices_d[MAX_ROT], *q, *out, *out2;
  tens qo_indptr, kv_indptr, last, indices[MAX_ROT], qt, ot, ot2;
} batch;

static int64_t rotations(int64_t pages, int64_t bytes_per_rot) {
  int64_t r = (int64_t)(256.0 * 1024 * 1024 / (double)bytes_per_rot) + 1; /* > 4x the 60 MB L2 */
  if (r > MAX_ROT) r = MAX_ROT;
  if (r > P.pages / pages) r = P.pages / pages;
  return r < 1 ? 1 : r;
}
static void batch_indptrs(batch *b) {
  b->qo_indptr_h = malloc((size_t)(b->batch + 1) * 4);
  b->kv_indptr_h = malloc((size_t)(b->batch + 1) * 4);
  b->last_h = malloc((size_t)b->batch * 4);
  b->indices_h = malloc((size_t)b->pages * 4);
  if (!b->qo_indptr_h || !b->kv_indptr_h || !b->last_h || !b->indices_h) die("out of host memory");
  for (int64_t i = 0; i <= b->batch; i++) {
    b->qo_indptr_h[i] = (int32_t)(i * b->qo_len);
    b->kv_indptr_h[i] = (int32_t)(i * b->pages_per_seq);
  }
  for (int64_t i = 0; i < b->batch; i++) b->last_h[i] = (int32_t)(b->kv_len - (b->pages_per_seq - 1) * PAGE);
}
static void batch_new(batch *b, int64_t nb, int64_t kv_len, int64_t qo_len) {
  memset(b, 0, sizeof *b);
  b->batch = nb, b->kv_len = kv_len, b->qo_len = qo_len, b->rows = nb * qo_len;
  b->pages_per_seq = (kv_len + PAGE - 1) / PAGE;
  b->pages = nb * b->pages_per_seq;
  if (b->pages > P.pages) die("pool too small for batch %lld x %lld", (long long)nb, (long long)kv_len);
  b->rot = rotations(b->pages, b->pages * PAGE * HKV * HD * 4);
  batch_indptrs(b);
  b->qo_indptr_d = upload_i32(b->qo_indptr_h, nb + 1);
  b->kv_indptr_d = upload_i32(b->kv_indptr_h, nb + 1);
  b->last_d = upload_i32(b->last_h, nb);
  vec_i32(&b->qo_indptr, b->qo_indptr_d, FIC_DEVICE_CUDA, nb + 1);
  vec_i32(&b->kv_indptr, b->kv_indptr_d, FIC_DEVICE_CUDA, nb + 1);
  vec_i32(&b->last, b->last_d, FIC_DEVICE_CUDA, nb);
  for (int64_t r = 0; r < b->rot; r++) {
    for (int64_t i = 0; i < b->pages; i++) b->indices_h[i] = (int32_t)(r * b->pages + i);
    b->indices_d[r] = upload_i32(b->indices_h, b->pages);
    vec_i32(&b->indices[r], b->indices_d[r], FIC_DEVICE_CUDA, b->pages);
  }
  for (int64_t i = 0; i < b->pages; i++) b->indices_h[i] = (int32_t)i; /* rotation 0, for the reference */
  size_t qe = (size_t)b->rows * HQ * HD;
  b->q = dalloc(qe * 2), b->out = dalloc(qe * 2), b->out2 = dalloc(qe * 2);
  CK(bgk_fill_uniform(b->q, qe, BGK_BF16, -1.f, 1.f, 13 + (uint64_t)nb * 7 + (uint64_t)kv_len, g_stream));
  CK(cudaStreamSynchronize(g_stream));
  const int64_t sh[3] = {b->rows, HQ, HD};
  tens_set(&b->qt, b->q, FIC_DEVICE_CUDA, FIC_BF16, 3, sh);
  tens_set(&b->ot, b->out, FIC_DEVICE_CUDA, FIC_BF16, 3, sh);
  tens_set(&b->ot2, b->out2, FIC_DEVICE_CUDA, FIC_BF16, 3, sh);
}
static void batch_free(batch *b) {
  CK(cudaFree(b->qo_indptr_d));
  CK(cudaFree(b->kv_indptr_d));
  CK(cudaFree(b->last_d));
  for (int64_t r = 0; r < b->rot; r++) CK(cudaFree(b->indices_d[r]));
  CK(cudaFree(b->q));
  CK(cudaFree(b->out));
  CK(cudaFree(b->out2));
  free(b->qo_indptr_h), free(b->kv_indptr_h), free(b->last_h), free(b->indices_h);
}

/* ---- the three paths: plan ---- */

typedef enum { PATH_TYPED, PATH_GENERIC, PATH_RAW, PATH_COUNT } path_kind;
static const char *const path_name[PATH_COUNT] = {"flashinfer-c typed", "generic fic_function_call", "raw safe call"};

typedef struct planned {
  fic_attention_plan *plan; /* typed */
  fic_result info;          /* generic: the plan's Array */
  fic_arg raw_info;         /* raw: the plan's Array (kind = its type index) */
} planned;

static fic_function *g_fn_decode_plan, *g_fn_decode_run, *g_fn_prefill_plan, *g_fn_prefill_run;

/* The decode plan's 15 arguments (decode.py's BatchDecodeWithPagedKVCacheWrapper.plan). */
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
/* The FA2 plan's 19 arguments (prefill.py), causal, paged. */
typedef struct prefill_plan_store {
  tens qo, kv, len;
  int32_t *kv_len;
} prefill_plan_store;
static int prefill_plan_args(fic_arg *a, const batch *b, prefill_plan_store *s) {
  for (int64_t i = 0; i < b->batch; i++) s->kv_len[i] = (int32_t)b->kv_len;
  vec_i32(&s->qo, b->qo_indptr_h, FIC_DEVICE_CPU, b->batch + 1);
  vec_i32(&s->kv, b->kv_indptr_h, FIC_DEVICE_CPU, b->batch + 1);
  vec_i32(&s->len, s->kv_len, FIC_DEVICE_CPU, b->batch);
  int n = 0;
  a[n++] = fic_arg_tensor(&W.ft.t), a[n++] = fic_arg_tensor(&W.it.t), a[n++] = fic_arg_tensor(&W.ht.t);
  a[n++] = fic_arg_tensor(&s->qo.t), a[n++] = fic_arg_tensor(&s->kv.t), a[n++] = fic_arg_tensor(&s->len.t);
  a[n++] = fic_arg_int(b->rows), a[n++] = fic_arg_int(b->batch), a[n++] = fic_arg_int(HQ);
  a[n++] = fic_arg_int(HKV), a[n++] = fic_arg_int(PAGE), a[n++] = fic_arg_bool(0), a[n++] = fic_arg_int(HD);
  a[n++] = fic_arg_int(HD), a[n++] = fic_arg_bool(1), a[n++] = fic_arg_int(-1), a[n++] = fic_arg_int(-1);
  a[n++] = fic_arg_bool(0), a[n++] = fic_arg_int(0);
  return n;
}

/* 1: the typed prefill plan uses FA3 (the `_sm90` module), 0: FA2. */
static int g_fa3;

static fic_status typed_plan(fic_runtime *rt, const batch *b, int decode, fic_attention_plan **out) {
  if (decode) {
    fic_batch_decode_plan_params p;
    fic_batch_decode_plan_params_init(&p);
    p.kv_indptr = b->kv_indptr_h, p.batch_size = b->batch, p.num_qo_heads = HQ, p.num_kv_heads = HKV;
    p.head_dim = HD, p.page_size = PAGE, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
    return fic_batch_decode_plan(rt, W.ws, &p, g_stream, out);
  }
  fic_batch_prefill_plan_params p;
  fic_batch_prefill_plan_params_init(&p);
  p.qo_indptr = b->qo_indptr_h, p.kv_indptr = b->kv_indptr_h, p.batch_size = b->batch, p.num_qo_heads = HQ;
  p.num_kv_heads = HKV, p.head_dim_qk = HD, p.page_size = PAGE, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
  p.causal = 1;
  p.backend = g_fa3 ? FIC_ATTENTION_BACKEND_FA3 : FIC_ATTENTION_BACKEND_FA2;
  if (g_fa3) p.kv_last_page_len = b->last_h; /* FA3's plan needs the exact KV lengths */
  return fic_batch_prefill_plan(rt, W.ws, &p, g_stream, out);
}

/* One plan through `path`, replacing (releasing) the previous one in *pl, as
 * a serving loop does each step. Returns 0 on success. */
static int do_plan(fic_runtime *rt, path_kind path, const batch *b, int decode, planned *pl, prefill_plan_store *ps) {
  if (path == PATH_TYPED) {
    fic_attention_plan_destroy(pl->plan);
    pl->plan = NULL;
    return typed_plan(rt, b, decode, &pl->plan) != FIC_OK;
  }
  fic_arg a[19];
  tens indptr, eq, ek;
  int n = decode ? decode_plan_args(a, b, &indptr, &eq, &ek) : prefill_plan_args(a, b, ps);
  if (path == PATH_GENERIC) {
    fic_result_release(&pl->info);
    return fic_function_call(decode ? g_fn_decode_plan : g_fn_prefill_plan, a, n, 0, g_stream, &pl->info) != FIC_OK;
  }
  raw_release(&raw.ffi, &pl->raw_info);
  return raw_call(&raw.ffi, decode ? raw.decode_plan : raw.prefill_plan, a, n, &pl->raw_info, g_stream);
}

/* ---- the three paths: run ---- */

static int decode_run_args(fic_arg *a, const batch *b, int rot, const tens *out, fic_arg info) {
  int n = 0;
  a[n++] = fic_arg_tensor(&W.ft.t), a[n++] = fic_arg_tensor(&W.it.t), a[n++] = info;
  a[n++] = fic_arg_tensor(&b->qt.t), a[n++] = fic_arg_tensor(&P.kt.t), a[n++] = fic_arg_tensor(&P.vt.t);
  a[n++] = fic_arg_tensor(&b->kv_indptr.t), a[n++] = fic_arg_tensor(&b->indices[rot].t);
  a[n++] = fic_arg_tensor(&b->last.t), a[n++] = fic_arg_tensor(&out->t), a[n++] = fic_arg_none();
  a[n++] = fic_arg_int(FIC_KV_LAYOUT_NHD), a[n++] = fic_arg_int(-1), a[n++] = fic_arg_bool(1);
  a[n++] = fic_arg_none(), a[n++] = fic_arg_float(0.0), a[n++] = fic_arg_float(1.0 / sqrt((double)HD));
  a[n++] = fic_arg_float(1.0), a[n++] = fic_arg_float(1e-4);
  return n;
}
static int prefill_run_args(fic_arg *a, const batch *b, int rot, const tens *out, fic_arg info) {
  int n = 0;
  a[n++] = fic_arg_tensor(&W.ft.t), a[n++] = fic_arg_tensor(&W.it.t), a[n++] = info;
  a[n++] = fic_arg_tensor(&b->qt.t), a[n++] = fic_arg_tensor(&P.kt.t), a[n++] = fic_arg_tensor(&P.vt.t);
  a[n++] = fic_arg_tensor(&b->qo_indptr.t), a[n++] = fic_arg_tensor(&b->kv_indptr.t);
  a[n++] = fic_arg_tensor(&b->indices[rot].t), a[n++] = fic_arg_tensor(&b->last.t);
  a[n++] = fic_arg_tensor(&out->t), a[n++] = fic_arg_none(), a[n++] = fic_arg_int(1) /* causal */;
  a[n++] = fic_arg_int(FIC_KV_LAYOUT_NHD), a[n++] = fic_arg_int(-1), a[n++] = fic_arg_bool(1);
  for (int i = 0; i < 6; i++) a[n++] = fic_arg_none();
  a[n++] = fic_arg_float(0.0), a[n++] = fic_arg_float(1.0 / sqrt((double)HD)), a[n++] = fic_arg_float(1.0);
  a[n++] = fic_arg_float(1e-4), a[n++] = fic_arg_int(0);
  return n;
}
static fic_status typed_run(const planned *pl, const batch *b, int decode, int rot, const tens *out) {
  if (decode) {
    fic_batch_decode_run_params r;
    fic_batch_decode_run_params_init(&r);
    r.q = &b->qt.t, r.k_cache = &P.kt.t, r.v_cache = &P.vt.t, r.kv_indptr = &b->kv_indptr.t;
    r.kv_indices = &b->indices[rot].t, r.kv_last_page_len = &b->last.t, r.out = &out->t;
    return fic_batch_decode_run(pl->plan, &r, g_stream);
  }
  fic_batch_prefill_run_params r;
  fic_batch_prefill_run_params_init(&r);
  r.q = &b->qt.t, r.k = &P.kt.t, r.v = &P.vt.t, r.qo_indptr = &b->qo_indptr.t, r.kv_indptr = &b->kv_indptr.t;
  r.kv_indices = &b->indices[rot].t, r.kv_last_page_len = &b->last.t, r.out = &out->t;
  return fic_batch_prefill_run(pl->plan, &r, g_stream);
}
static int do_run(path_kind path, const planned *pl, const batch *b, int decode, int rot, const tens *out) {
  if (path == PATH_TYPED) return typed_run(pl, b, decode, rot, out) != FIC_OK;
  fic_arg a[27];
  fic_arg info = path == PATH_GENERIC ? fic_arg_object(&pl->info) : pl->raw_info;
  int n = decode ? decode_run_args(a, b, rot, out, info) : prefill_run_args(a, b, rot, out, info);
  if (path == PATH_GENERIC)
    return fic_function_call(decode ? g_fn_decode_run : g_fn_prefill_run, a, n, 0, g_stream, NULL) != FIC_OK;
  return raw_call(&raw.ffi, decode ? raw.decode_run : raw.prefill_run, a, n, NULL, g_stream);
}
static void planned_free(planned *pl) {
  fic_attention_plan_destroy(pl->plan);
  fic_result_release(&pl->info);
  raw_release(&raw.ffi, &pl->raw_info);
  memset(pl, 0, sizeof *pl);
  pl->raw_info = fic_arg_none();
}

/* ---- correctness: float64 reference on the host ---- */

static uint16_t *download16(const void *d, size_t n) {
  uint16_t *h = malloc(n * 2);
  if (!h) die("out of host memory");
  CK(cudaMemcpy(h, d, n * 2, cudaMemcpyDeviceToHost));
  return h;
}
/* Row `row` of sequence `s` (query position qpos in it), head h: attention over
 * the sequence's first `visible` tokens. Accumulates squared error and norm. */
static void ref_row(const batch *b, const uint16_t *q, const uint16_t *k, const uint16_t *v, const uint16_t *o,
                    int64_t s, int64_t row, int64_t h, int64_t visible, double *err, double *norm) {
  double *sc = malloc((size_t)visible * sizeof *sc), mx = -1e300, sum = 0, acc[HD] = {0};
  int64_t kvh = h / (HQ / HKV);
  for (int64_t t = 0; t < visible; t++) {
    int64_t page = b->indices_h[b->kv_indptr_h[s] + t / PAGE], slot = t % PAGE;
    size_t off = ((size_t)(page * PAGE + slot) * HKV + (size_t)kvh) * HD;
    double d = 0;
    for (int i = 0; i < HD; i++)
      d += (double)bf2f(q[((size_t)row * HQ + (size_t)h) * HD + (size_t)i]) * bf2f(k[off + (size_t)i]);
    sc[t] = d / sqrt((double)HD);
    if (sc[t] > mx) mx = sc[t];
  }
  for (int64_t t = 0; t < visible; t++) {
    int64_t page = b->indices_h[b->kv_indptr_h[s] + t / PAGE], slot = t % PAGE;
    size_t off = ((size_t)(page * PAGE + slot) * HKV + (size_t)kvh) * HD;
    double w = exp(sc[t] - mx);
    sum += w;
    for (int i = 0; i < HD; i++) acc[i] += w * bf2f(v[off + (size_t)i]);
  }
  for (int i = 0; i < HD; i++) {
    double want = acc[i] / sum, got = bf2f(o[((size_t)row * HQ + (size_t)h) * HD + (size_t)i]);
    *err += (got - want) * (got - want);
    *norm += want * want;
  }
  free(sc);
}
static double ref_error(const batch *b, int decode) {
  size_t qe = (size_t)b->rows * HQ * HD, ke = (size_t)P.pages * PAGE * HKV * HD;
  if (ke > (size_t)(b->pages + 64) * PAGE * HKV * HD) ke = (size_t)(b->pages + 64) * PAGE * HKV * HD;
  uint16_t *q = download16(b->q, qe), *o = download16(b->out, qe), *k = download16(P.k, ke), *v = download16(P.v, ke);
  double err = 0, norm = 0;
  for (int64_t s = 0; s < b->batch; s++)
    for (int64_t i = 0; i < b->qo_len; i++)
      for (int64_t h = 0; h < HQ; h++) {
        int64_t visible = decode ? b->kv_len : b->kv_len - b->qo_len + i + 1; /* causal, bottom-right aligned */
        ref_row(b, q, k, v, o, s, s * b->qo_len + i, h, visible, &err, &norm);
      }
  free(q), free(o), free(k), free(v);
  return sqrt(err / norm);
}
static int same_bits(const void *x, const void *y, size_t bytes) {
  void *a = malloc(bytes), *c = malloc(bytes);
  if (!a || !c) die("out of host memory");
  CK(cudaMemcpy(a, x, bytes, cudaMemcpyDeviceToHost));
  CK(cudaMemcpy(c, y, bytes, cudaMemcpyDeviceToHost));
  int same = memcmp(a, c, bytes) == 0;
  free(a), free(c);
  return same;
}
/* Typed and raw give bitwise the same output, the generic path too, and all
 * are near the float64 reference. Outputs are poisoned (0xFF: NaN) first. */
static void check_case(fic_runtime *rt, int64_t nb, int64_t len, int decode, FILE *log) {
  batch b;
  batch_new(&b, nb, len, decode ? 1 : len);
  size_t bytes = (size_t)b.rows * HQ * HD * 2;
  planned pl[PATH_COUNT];
  memset(pl, 0, sizeof pl);
  double e = 0;
  for (int p = 0; p < PATH_COUNT; p++) {
    prefill_plan_store ps = {.kv_len = malloc((size_t)nb * 4)};
    tens *dst = p == PATH_TYPED ? &b.ot : &b.ot2;
    CK(cudaMemset(dst->t.data, 0xFF, bytes));
    if (do_plan(rt, (path_kind)p, &b, decode, &pl[p], &ps))
      die("%s plan failed: %s", path_name[p], fic_last_error_message());
    if (do_run((path_kind)p, &pl[p], &b, decode, 0, dst))
      die("%s run failed: %s", path_name[p], fic_last_error_message());
    CK(cudaStreamSynchronize(g_stream));
    free(ps.kv_len);
    if (p == PATH_TYPED)
      e = ref_error(&b, decode);
    else if (!same_bits(b.out, b.out2, bytes))
      die("%s %lldx%lld: %s output differs from the typed run", decode ? "decode" : "prefill", (long long)nb,
          (long long)len, path_name[p]);
  }
  for (int p = 0; p < PATH_COUNT; p++) planned_free(&pl[p]);
  printf("check %-7s batch %3lld len %5lld: typed == generic == raw bitwise; rel. L2 error vs float64 %.2e\n",
         decode ? "decode" : "prefill", (long long)nb, (long long)len, e);
  fprintf(log, "%s,%lld,%lld,%.3e\n", decode ? "decode" : "prefill", (long long)nb, (long long)len, e);
  batch_free(&b);
  if (!(e < 1e-2)) die("relative L2 error %.3e over 1e-2", e);
}

/* ---- host cost ---- */

#define ROUNDS 7
/* Mean host ns per plan over `n` back-to-back plans (each replacing the last). */
static double plan_round(fic_runtime *rt, path_kind path, const batch *b, int decode, int n) {
  planned pl;
  memset(&pl, 0, sizeof pl);
  prefill_plan_store ps = {.kv_len = malloc((size_t)b->batch * 4)};
  double t0 = now_ns();
  for (int i = 0; i < n; i++)
    if (do_plan(rt, path, b, decode, &pl, &ps)) die("%s plan failed: %s", path_name[path], fic_last_error_message());
  double t1 = now_ns();
  CK(cudaStreamSynchronize(g_stream));
  planned_free(&pl);
  free(ps.kv_len);
  return (t1 - t0) / n;
}
/* Mean host ns per run over n runs, enqueued in chunks behind the gate. */
static double run_round(path_kind path, const planned *pl, const batch *b, int decode, int n) {
  const int chunk = 128;
  double total = 0;
  for (int done = 0; done < n; done += chunk) {
    gate_close();
    double t0 = now_ns();
    for (int i = 0; i < chunk; i++)
      if (do_run(path, pl, b, decode, 0, &b->ot)) die("%s run failed: %s", path_name[path], fic_last_error_message());
    double t1 = now_ns();
    gate_open();
    CK(cudaStreamSynchronize(g_stream));
    gate_check("host cost of runs");
    total += t1 - t0;
  }
  return total / n;
}
/* Plan cost at (nb, len); run cost too when `runs` (at shapes whose GPU time
 * stays small, so that the gated chunks drain quickly: the run's host cost
 * does not depend on the lengths). */
static void host_cost(fic_runtime *rt, int decode, int64_t nb, int64_t len, int runs, FILE *csv) {
  batch b;
  batch_new(&b, nb, len, decode ? 1 : len);
  const char *fam = decode ? "decode" : "prefill";
  int nplan = opt.quick ? 200 : 1000, nrun = opt.quick ? 512 : 2048;
  double pv[PATH_COUNT][ROUNDS], rv[PATH_COUNT][ROUNDS];
  planned pl[PATH_COUNT];
  memset(pl, 0, sizeof pl);
  prefill_plan_store ps = {.kv_len = malloc((size_t)nb * 4)};
  for (int p = 0; p < PATH_COUNT; p++) { /* warm-up */
    plan_round(rt, (path_kind)p, &b, decode, 20);
    if (do_plan(rt, (path_kind)p, &b, decode, &pl[p], &ps)) die("plan failed: %s", fic_last_error_message());
  }
  for (int r = 0; r < ROUNDS; r++)
    for (int k = 0; k < PATH_COUNT; k++) { /* rotate the order each round */
      int p = (k + r) % PATH_COUNT;
      pv[p][r] = plan_round(rt, (path_kind)p, &b, decode, nplan);
    }
  /* runs: re-plan each path after the plan rounds (a later plan supersedes
   * the typed one; raw/generic plans stay valid as long as the int buffer
   * holds their schedule, which the last plan of the same shape rewrote) */
  for (int p = 0; p < PATH_COUNT; p++)
    if (do_plan(rt, (path_kind)p, &b, decode, &pl[p], &ps)) die("plan failed: %s", fic_last_error_message());
  for (int p = 0; p < PATH_COUNT && runs; p++) run_round((path_kind)p, &pl[p], &b, decode, 256);
  for (int r = 0; r < ROUNDS; r++)
    for (int k = 0; k < PATH_COUNT; k++) {
      int p = (k + r) % PATH_COUNT;
      rv[p][r] = runs ? run_round((path_kind)p, &pl[p], &b, decode, nrun) : NAN;
    }
  for (int p = 0; p < PATH_COUNT; p++) {
    double pm = quantile(pv[p], ROUNDS, 0.5), pmin = pv[p][0], pmax = pv[p][ROUNDS - 1];
    double rm = quantile(rv[p], ROUNDS, 0.5), rmin = rv[p][0], rmax = rv[p][ROUNDS - 1];
    fprintf(csv, "%s,%lld,%lld,%s,%.3f,%.3f,%.3f,%.3f,%.3f,%.3f\n", fam, (long long)nb, (long long)len, path_name[p],
            pm / 1e3, pmin / 1e3, pmax / 1e3, rm / 1e3, rmin / 1e3, rmax / 1e3);
    printf("host %-7s b=%-3lld len=%-5lld %-26s plan %8.2f us (%.2f-%.2f)  run %6.2f us (%.2f-%.2f)\n", fam,
           (long long)nb, (long long)len, path_name[p], pm / 1e3, pmin / 1e3, pmax / 1e3, rm / 1e3, rmin / 1e3,
           rmax / 1e3);
    planned_free(&pl[p]);
  }
  free(ps.kv_len);
  batch_free(&b);
}

/* ---- GPU time ---- */

typedef struct timing {
  double med, p10, p90;
} timing;
/* Per-run event pairs, all enqueued behind the gate; kv_indices rotate. */
static timing gpu_time(path_kind path, const planned *pl, const batch *b, int decode, int reps) {
  for (int i = 0; i < 3; i++)
    if (do_run(path, pl, b, decode, (int)(i % b->rot), &b->ot)) die("run failed: %s", fic_last_error_message());
  CK(cudaStreamSynchronize(g_stream));
  double v[MAX_REPS];
  gate_close();
  for (int i = 0; i < reps; i++) {
    CK(cudaEventRecord(g_ev0[i], g_stream));
    if (do_run(path, pl, b, decode, (int)(i % b->rot), &b->ot)) die("run failed: %s", fic_last_error_message());
    CK(cudaEventRecord(g_ev1[i], g_stream));
  }
  gate_open();
  CK(cudaStreamSynchronize(g_stream));
  gate_check("gpu time");
  for (int i = 0; i < reps; i++) {
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, g_ev0[i], g_ev1[i]));
    v[i] = ms * 1e3;
  }
  timing t = {quantile(v, reps, 0.5), quantile(v, reps, 0.1), quantile(v, reps, 0.9)};
  return t;
}
static timing time_case(fic_runtime *rt, path_kind path, const batch *b, int decode, int reps) {
  planned pl;
  memset(&pl, 0, sizeof pl);
  prefill_plan_store ps = {.kv_len = malloc((size_t)b->batch * 4)};
  if (do_plan(rt, path, b, decode, &pl, &ps)) die("plan failed: %s", fic_last_error_message());
  timing t = gpu_time(path, &pl, b, decode, reps);
  planned_free(&pl);
  free(ps.kv_len);
  return t;
}

static double g_copy_gbs;
static void bench_copy(FILE *csv) {
  size_t bytes = (size_t)2 << 30;
  void *a = dalloc(bytes), *c = dalloc(bytes);
  CK(cudaMemsetAsync(a, 1, bytes, g_stream));
  for (int i = 0; i < 3; i++) CK(cudaMemcpyAsync(c, a, bytes, cudaMemcpyDeviceToDevice, g_stream));
  double v[20];
  for (int i = 0; i < 20; i++) {
    CK(cudaEventRecord(g_ev0[i], g_stream));
    CK(cudaMemcpyAsync(c, a, bytes, cudaMemcpyDeviceToDevice, g_stream));
    CK(cudaEventRecord(g_ev1[i], g_stream));
  }
  CK(cudaStreamSynchronize(g_stream));
  for (int i = 0; i < 20; i++) {
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, g_ev0[i], g_ev1[i]));
    v[i] = ms * 1e3;
  }
  double med = quantile(v, 20, 0.5);
  g_copy_gbs = 2.0 * (double)bytes / (med * 1e3); /* read + write, GB/s */
  fprintf(csv, "d2d_copy,%zu,%.2f,%.1f\n", bytes, med, g_copy_gbs);
  printf("d2d copy %zu MiB: %.1f us, %.1f GB/s (read + write)\n", bytes >> 20, med, g_copy_gbs);
  CK(cudaFree(a));
  CK(cudaFree(c));
}

static void bench_decode(fic_runtime *rt, FILE *csv) {
  static const int64_t bs[] = {1, 16, 64, 256}, lens[] = {1024, 8192, 32768};
  int reps = opt.quick ? 10 : 30;
  for (size_t i = 0; i < sizeof bs / sizeof *bs; i++)
    for (size_t j = 0; j < sizeof lens / sizeof *lens; j++) {
      batch b;
      batch_new(&b, bs[i], lens[j], 1);
      double kv_bytes = (double)b.batch * (double)b.kv_len * HKV * HD * 2 * 2;
      timing t = time_case(rt, PATH_TYPED, &b, 1, reps), r = time_case(rt, PATH_RAW, &b, 1, reps);
      double gbs = kv_bytes / (t.med * 1e3);
      fprintf(csv, "%lld,%lld,%.0f,%lld,%.2f,%.2f,%.2f,%.2f,%.1f,%.3f\n", (long long)b.batch, (long long)b.kv_len,
              kv_bytes, (long long)b.rot, t.med, t.p10, t.p90, r.med, gbs, gbs / g_copy_gbs);
      printf("decode b=%-3lld ctx=%-5lld typed %9.2f us (raw %9.2f)  %7.1f GB/s  %.2fx copy\n", (long long)b.batch,
             (long long)b.kv_len, t.med, r.med, gbs, gbs / g_copy_gbs);
      fflush(stdout);
      batch_free(&b);
    }
}

static int g_fa3_off; /* FA3 not measured: no `_sm90` module in the wheel, not SM 9.0, or a failure */
static int g_failed;  /* a correctness check or an FA3 call failed: exit 1 at the end */

/* FA3 through the typed API on b (rotation 0) against FA2's output on the
 * same inputs, both outputs poisoned (NaN) first. Returns 1 where FA3 is to
 * be timed; *err: the relative L2 difference (NAN where FA3 did not run).
 * A plan refused with FIC_ERR_NOT_FOUND / FIC_ERR_UNSUPPORTED turns FA3 off
 * with one line; any other failure, or a difference over 1e-2, also marks
 * the run failed. */
static int fa3_check(fic_runtime *rt, const batch *b, double *err) {
  size_t n = (size_t)b->rows * HQ * HD;
  planned pl;
  memset(&pl, 0, sizeof pl);
  *err = NAN;
  CK(cudaMemset(b->out, 0xFF, n * 2));
  CK(cudaMemset(b->out2, 0xFF, n * 2));
  g_fa3 = 0;
  if (typed_plan(rt, b, 0, &pl.plan) != FIC_OK) die("FA2 plan failed: %s", fic_last_error_message());
  if (typed_run(&pl, b, 0, 0, &b->ot) != FIC_OK) die("FA2 run failed: %s", fic_last_error_message());
  CK(cudaStreamSynchronize(g_stream));
  planned_free(&pl);
  g_fa3 = 1;
  fic_status st = typed_plan(rt, b, 0, &pl.plan);
  g_fa3 = 0;
  if (st != FIC_OK) {
    g_fa3_off = 1;
    if (st == FIC_ERR_NOT_FOUND || st == FIC_ERR_UNSUPPORTED) {
      printf("prefill FA3: not measured (%s: %s)\n", fic_status_name(st), fic_last_error_message());
    } else {
      printf("prefill FA3: plan FAILED (%s: %s); FA3 not measured\n", fic_status_name(st), fic_last_error_message());
      g_failed = 1;
    }
    planned_free(&pl);
    return 0;
  }
  fic_attention_backend be = FIC_ATTENTION_BACKEND_AUTO;
  FK(fic_attention_plan_backend(pl.plan, &be));
  if (be != FIC_ATTENTION_BACKEND_FA3) die("the FA3 plan runs backend %d", (int)be);
  st = typed_run(&pl, b, 0, 0, &b->ot2);
  if (st != FIC_OK) {
    printf("prefill FA3: run FAILED (%s: %s); FA3 not measured\n", fic_status_name(st), fic_last_error_message());
    planned_free(&pl);
    g_fa3_off = 1, g_failed = 1;
    return 0;
  }
  CK(cudaStreamSynchronize(g_stream));
  planned_free(&pl);
  uint16_t *o2 = download16(b->out, n), *o3 = download16(b->out2, n);
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    double x = bf2f(o3[i]), y = bf2f(o2[i]);
    num += (x - y) * (x - y);
    den += y * y;
  }
  free(o2), free(o3);
  *err = sqrt(num / den);
  int ok = *err <= 1e-2; /* false for NaN */
  printf("check prefill FA3 batch %3lld len %5lld: rel. L2 difference vs FA2 %.2e%s\n", (long long)b->batch,
         (long long)b->kv_len, *err, ok ? "" : " FAILED (over 1e-2): FA3 not timed here");
  if (!ok) g_failed = 1;
  return ok;
}

static void bench_prefill(fic_runtime *rt, FILE *csv) {
  static const int64_t pts[][2] = {{1, 1024}, {1, 4096}, {1, 16384}, {16, 1024}, {4, 8192}};
  int reps = opt.quick ? 10 : 20;
  for (size_t i = 0; i < sizeof pts / sizeof *pts; i++) {
    batch b;
    batch_new(&b, pts[i][0], pts[i][1], pts[i][1]);
    /* causal: row i sees i + 1 keys; QK^T and PV, 2 flops per multiply-add each */
    double flops = (double)b.batch * HQ * 4.0 * HD * ((double)b.kv_len * (double)(b.kv_len + 1) / 2.0);
    double e3 = NAN;
    int fa3 = !g_fa3_off && fa3_check(rt, &b, &e3);
    timing t = time_case(rt, PATH_TYPED, &b, 0, reps), r = time_case(rt, PATH_RAW, &b, 0, reps), t3 = {NAN, NAN, NAN};
    if (fa3) {
      g_fa3 = 1;
      t3 = time_case(rt, PATH_TYPED, &b, 0, reps);
      g_fa3 = 0;
    }
    double tf = flops / (t.med * 1e-6) / 1e12, tf3 = flops / (t3.med * 1e-6) / 1e12;
    fprintf(csv, "%lld,%lld,%.0f,%lld,%.2f,%.2f,%.2f,%.2f,%.1f", (long long)b.batch, (long long)b.kv_len, flops,
            (long long)b.rot, t.med, t.p10, t.p90, r.med, tf);
    if (fa3)
      fprintf(csv, ",%.2f,%.2f,%.2f,%.1f,%.3e\n", t3.med, t3.p10, t3.p90, tf3, e3);
    else if (!isnan(e3))
      fprintf(csv, ",,,,,%.3e\n", e3);
    else
      fprintf(csv, ",,,,,\n");
    printf("prefill b=%-3lld len=%-5lld typed %9.2f us (raw %9.2f)  %6.1f TFLOP/s", (long long)b.batch,
           (long long)b.kv_len, t.med, r.med, tf);
    if (fa3)
      printf("  | FA3 typed %9.2f us  %6.1f TFLOP/s  %.2fx FA2\n", t3.med, tf3, tf3 / tf);
    else
      printf("  | FA3 -\n");
    fflush(stdout);
    batch_free(&b);
  }
}

/* ---- host-cost breakdown (second run): plans with the previous plan's
 * copy already done, and the CUDA calls the typed plan adds ---- */

/* Mean host ns of one plan timed alone, the stream drained before each (not
 * timed): the typed plan's wait for the previous plan's copy then returns at
 * once, as in a serving loop where a step's GPU work separates the plans. */
static double settled_plan_round(fic_runtime *rt, path_kind path, const batch *b, int decode, int n) {
  planned pl;
  memset(&pl, 0, sizeof pl);
  prefill_plan_store ps = {.kv_len = malloc((size_t)b->batch * 4)};
  double total = 0;
  for (int i = 0; i < n; i++) {
    CK(cudaStreamSynchronize(g_stream));
    double t0 = now_ns();
    if (do_plan(rt, path, b, decode, &pl, &ps)) die("%s plan failed: %s", path_name[path], fic_last_error_message());
    total += now_ns() - t0;
  }
  CK(cudaStreamSynchronize(g_stream));
  planned_free(&pl);
  free(ps.kv_len);
  return total / n;
}
static void settled_plans(fic_runtime *rt, int decode, int64_t nb, int64_t len, FILE *csv) {
  batch b;
  batch_new(&b, nb, len, decode ? 1 : len);
  double v[PATH_COUNT][ROUNDS];
  for (int p = 0; p < PATH_COUNT; p++) settled_plan_round(rt, (path_kind)p, &b, decode, 50);
  for (int r = 0; r < ROUNDS; r++)
    for (int k = 0; k < PATH_COUNT; k++) {
      int p = (k + r) % PATH_COUNT;
      v[p][r] = settled_plan_round(rt, (path_kind)p, &b, decode, 1000);
    }
  for (int p = 0; p < PATH_COUNT; p++) {
    double m = quantile(v[p], ROUNDS, 0.5);
    fprintf(csv, "settled_plan,%s,%lld,%lld,%s,%.3f,%.3f,%.3f\n", decode ? "decode" : "prefill", (long long)nb,
            (long long)len, path_name[p], m / 1e3, v[p][0] / 1e3, v[p][ROUNDS - 1] / 1e3);
    printf("settled plan %-7s b=%-3lld len=%-5lld %-26s %8.2f us (%.2f-%.2f)\n", decode ? "decode" : "prefill",
           (long long)nb, (long long)len, path_name[p], m / 1e3, v[p][0] / 1e3, v[p][ROUNDS - 1] / 1e3);
  }
  batch_free(&b);
}
/* ns per call of the CUDA runtime calls the typed plan adds: cudaEventRecord,
 * cudaEventSynchronize on a completed event, cudaDeviceGetAttribute. */
static void cuda_call_costs(FILE *csv) {
  cudaEvent_t ev;
  CK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
  const int n = 20000;
  double t0 = now_ns();
  for (int i = 0; i < n; i++) CK(cudaEventRecord(ev, g_stream));
  double rec = (now_ns() - t0) / n;
  CK(cudaStreamSynchronize(g_stream));
  t0 = now_ns();
  for (int i = 0; i < n; i++) CK(cudaEventSynchronize(ev));
  double syn = (now_ns() - t0) / n;
  int major = 0;
  t0 = now_ns();
  for (int i = 0; i < n; i++) CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0));
  double attr = (now_ns() - t0) / n;
  /* a plan's H2D copy followed at once by a wait for it: the round trip the
   * back-to-back typed plans pay */
  static char host_src[4096];
  void *pinned = NULL, *dst = dalloc(4096);
  CK(cudaHostAlloc(&pinned, 4096, cudaHostAllocDefault));
  memcpy(pinned, host_src, sizeof host_src);
  t0 = now_ns();
  for (int i = 0; i < 2000; i++) {
    CK(cudaMemcpyAsync(dst, pinned, 4096, cudaMemcpyHostToDevice, g_stream));
    CK(cudaEventRecord(ev, g_stream));
    CK(cudaEventSynchronize(ev));
  }
  double rt = (now_ns() - t0) / 2000;
  fprintf(csv,
          "cudaEventRecord,,,,%.3f,,\ncudaEventSynchronize_done,,,,%.3f,,\ncudaDeviceGetAttribute,,,,%.3f,,\n"
          "h2d_4KiB_copy_record_wait,,,,%.3f,,\n",
          rec / 1e3, syn / 1e3, attr / 1e3, rt / 1e3);
  printf(
      "cudaEventRecord %.3f us, cudaEventSynchronize (done) %.3f us, cudaDeviceGetAttribute %.3f us, "
      "4 KiB H2D copy + record + wait %.3f us\n",
      rec / 1e3, syn / 1e3, attr / 1e3, rt / 1e3);
  CK(cudaFreeHost(pinned));
  CK(cudaFree(dst));
  CK(cudaEventDestroy(ev));
}
static void breakdown(fic_runtime *rt) {
  FILE *f = csv_open("attn_breakdown.csv", "what,family,batch,len,path,us_med,us_min,us_max");
  cuda_call_costs(f);
  settled_plans(rt, 1, 1, 1024, f);
  settled_plans(rt, 1, 64, 8192, f);
  settled_plans(rt, 0, 4, 256, f);
  fclose(f);
}

static fic_runtime *open_runtime(void) {
  static const char *const mods[] = {DECODE_MOD, PREFILL_MOD, NULL};
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.cache_dir = opt.cache, cfg.jit_cache_wheel = opt.jit, cfg.tvmffi_wheel = opt.tvmffi;
  cfg.modules = mods, cfg.offline = 1;
  fic_runtime *rt = NULL;
  FK(fic_runtime_open(&cfg, &rt));
  FK(fic_runtime_preload(rt, mods));
  FK(fic_function_get(rt, DECODE_MOD, "plan", NULL, &g_fn_decode_plan));
  FK(fic_function_get(rt, DECODE_MOD, "run", NULL, &g_fn_decode_run));
  FK(fic_function_get(rt, PREFILL_MOD, "plan", NULL, &g_fn_prefill_plan));
  FK(fic_function_get(rt, PREFILL_MOD, "paged_run", NULL, &g_fn_prefill_run));
  return rt;
}

int main(int argc, char **argv) {
  bench_name = "bench_attention";
  parse(argc, argv);
  device_init();
  fic_runtime *rt = open_runtime();
  raw_attn_init(&raw, rt, DECODE_MOD, PREFILL_MOD);
  workspace_init(rt);
  pool_init(256 * 32768 / PAGE + 64); /* the largest decode batch, 256 x 32k tokens: 34 GB of K and V */
  FILE *f = csv_open("attn_check.csv", "family,batch,len,rel_l2_vs_f64");
  if (section("decode")) {
    check_case(rt, 3, 777, 1, f);
    check_case(rt, 7, 100, 1, f);
  }
  if (section("prefill")) {
    check_case(rt, 2, 200, 0, f);
    check_case(rt, 1, 333, 0, f);
  }
  fclose(f);
  if (opt.breakdown) breakdown(rt);
  if (!opt.no_host && !opt.only) {
    f = csv_open("attn_host.csv",
                 "family,batch,len,path,plan_us_med,plan_us_min,plan_us_max,run_us_med,run_us_min,run_us_max");
    host_cost(rt, 1, 1, 1024, 1, f);
    host_cost(rt, 1, 64, 8192, 0, f);
    host_cost(rt, 1, 256, 8192, 0, f);
    host_cost(rt, 0, 4, 256, 1, f);
    host_cost(rt, 0, 64, 1024, 0, f);
    fclose(f);
  }
  if (section("decode")) {
    f = csv_open("attn_copy.csv", "what,bytes,us_med,gbs");
    bench_copy(f);
    fclose(f);
    f = csv_open("attn_decode.csv", "batch,ctx,kv_bytes,rotations,us_med,us_p10,us_p90,raw_us_med,gbs,of_copy");
    bench_decode(rt, f);
    fclose(f);
  }
  if (section("prefill")) {
    /* fa3_*: the typed FA3 plan+run (empty where not measured); fa3_rel_l2_vs_fa2: its output vs FA2's */
    f = csv_open("attn_prefill.csv",
                 "batch,len,flops,rotations,us_med,us_p10,us_p90,raw_us_med,tflops,fa3_us_med,fa3_us_p10,fa3_us_p90,"
                 "fa3_tflops,fa3_rel_l2_vs_fa2");
    bench_prefill(rt, f);
    fclose(f);
  }
  FK(fic_attention_workspace_destroy(W.ws));
  fic_runtime_close(rt);
  printf("gate timeouts: %d\n", g_gate_timeouts);
  if (g_failed) printf("FAILED: an FA3 check or call failed (see above)\n");
  return g_gate_timeouts ? 2 : g_failed ? 1 : 0;
}
