/* SPDX-License-Identifier: Apache-2.0 */
/* Batch decode and batch prefill (FlashInfer 0.6.3's bf16 / head dim 128
 * modules built by tools/kernel-modules) on a real GPU against the float64
 * reference (src/checks/reference.c, ref_attention), on fresh random data
 * (the seed is printed; rerun with FIC_TEST_SEED=<seed>):
 *  - random non-contiguous page tables drawn from a larger pool of pages,
 *    page sizes 1 and 16, partial last pages, batch 1 to 64, lengths 1 to
 *    2048, GQA ratios 1, 4, 7 (tensor-core decode), 8, NHD and HND, LSE;
 *  - prefill paged and ragged, causal and not;
 *  - two plans back to back on one workspace, the first one's copy still
 *    queued behind a long stream of work when the second plan writes the
 *    page-locked buffer (the workspace's event makes that safe);
 *  - a CUDA graph captured once and replayed with new page-table contents in
 *    the same buffers: bit-identical to an eager run;
 *  - FA3 (the `_sm90` module, SM 9.0 only, from the wheel named by
 *    FIC_FA3_WHEEL: tools/kernel-modules/jit_on_device.py builds it with
 *    FlashInfer's own JIT): paged (page sizes 1 and 16, NHD and HND) and
 *    ragged (NHD: FA3's ragged run reads no other layout), causal and not,
 *    GQA 4, against the same reference, and against FA2 on the same inputs
 *    (when the FA2 wheel is configured too). The FA2 cases force FA2, so they
 *    test FA2 whatever modules their wheel holds.
 * Outputs are poisoned (all-ones bits: NaN in bf16 and f32) before each run.
 * Tolerance: relative L2 1e-2 for bf16 outputs. The output is rounded to
 * bf16 (relative error <= 2^-9, about 2e-3) and the tensor-core kernels also
 * round the softmax weights to bf16 before P.V (another ~2e-3); 1e-2 leaves
 * a margin of 2.5 to 5 over that while still catching any wrong mask, page,
 * head mapping or scale (those give errors of order 1). The LSE is computed
 * in fp32 from the same bf16 inputs: relative L2 1e-3. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

#define D 128
#define OUT_TOL 1e-2
#define LSE_TOL 1e-3

/* ---- runtime and workspace ---- */

static fic_runtime *attn_rt(void **state) {
  gpu_require();
  if (*state) return ((kt_runtime *)*state)->rt;
  const char *wheel = kt_attn_wheel();
  if (!wheel) {
    print_message("SKIPPED: no wheel with the attention modules (see above)\n");
    skip();
  }
  static const char *const modules[] = {KT_ATTN_DECODE_MODULE, KT_ATTN_PREFILL_MODULE, NULL};
  kt_runtime *k = kt_try_open(wheel, modules);
  if (!k) {
    print_message("SKIPPED: %s lacks the bf16/hd128 decode or FA2 prefill module (see above)\n", wheel);
    skip();
  }
  FIC_ASSERT_OK(fic_runtime_preload(k->rt, NULL)); /* no module load during graph capture */
  *state = k;
  return k->rt;
}

typedef struct gpu_ws {
  void *fbuf, *ibuf, *hbuf;
  fic_attention_workspace *ws;
} gpu_ws;

static void ws_new(fic_runtime *rt, gpu_ws *w) {
  fic_attention_workspace_desc d;
  FIC_ASSERT_OK(fic_attention_workspace_desc_init(&d));
  FIC_ASSERT_OK(fic_attention_workspace_sizes(&d.float_bytes, &d.int_bytes, &d.host_bytes));
  w->fbuf = gpu_alloc(d.float_bytes);
  w->ibuf = gpu_alloc(d.int_bytes);
  CK(cudaHostAlloc(&w->hbuf, d.host_bytes, cudaHostAllocDefault));
  d.float_buffer = w->fbuf, d.int_buffer = w->ibuf, d.host_buffer = w->hbuf;
  FIC_ASSERT_OK(fic_attention_workspace_create(rt, &d, &w->ws));
}

static void ws_free(gpu_ws *w) {
  FIC_ASSERT_OK(fic_attention_workspace_destroy(w->ws)); /* waits for the last plan's copy */
  CK(cudaFree(w->fbuf));
  CK(cudaFree(w->ibuf));
  CK(cudaFreeHost(w->hbuf));
}

/* ---- a batch of sequences over a paged (or ragged) KV cache ---- */

typedef struct attn_case {
  const char *name;
  int64_t batch, hq, hkv, page; /* page 0: ragged KV */
  int64_t layout;
  int64_t max_kv, max_qo; /* max_qo 0: decode (one row per sequence) */
  int causal, tensor_cores;
  int backend; /* prefill: 0 FA2 (forced), FIC_ATTENTION_BACKEND_FA3 (forced), CASE_AUTO */
} attn_case;

#define CASE_AUTO (-1)

typedef struct kv_batch {
  attn_case c;
  int64_t *qo_indptr, *kv_len, *kv_indptr, *indices, *last; /* host, int64 */
  int32_t *qo_indptr32, *kv_indptr32, *last32;              /* host, for the plan */
  int64_t rows, pages, pool;                                /* pool: pages allocated (>= pages) */
  uint16_t *k_bits, *v_bits;                                /* the cache as stored */
  double *q, **k_seq, **v_seq;                              /* what the reference reads */
  uint16_t *q_bits;
  void *dq, *dk, *dv, *dqo, *dkvi, *dind, *dlast, *dout, *dlse;
} kv_batch;

static int64_t rand_in(ref_rng *r, int64_t lo, int64_t hi) {
  return lo + (int64_t)(ref_rng_uniform(r) * (double)(hi - lo + 1));
}

static int32_t *to_i32(const int64_t *x, int64_t n) {
  int32_t *y = malloc((size_t)(n > 0 ? n : 1) * sizeof *y);
  assert_non_null(y);
  for (int64_t i = 0; i < n; i++) y[i] = (int32_t)x[i];
  return y;
}

static void *upload_i32(const int64_t *x, int64_t n) {
  int32_t *y = to_i32(x, n);
  void *d = gpu_upload(y, (size_t)(n > 0 ? n : 1) * sizeof *y);
  free(y);
  return d;
}

/* Lengths: kv in [1, max_kv] (with more than 2 sequences the first has 1
 * key and the last max_kv: both edges every time); prefill rows in
 * [1, min(kv, max_qo)] so a causal row always sees a key. */
static void make_lengths(kv_batch *b, ref_rng *r) {
  const attn_case *c = &b->c;
  b->qo_indptr = calloc((size_t)c->batch + 1, sizeof(int64_t));
  b->kv_len = calloc((size_t)c->batch, sizeof(int64_t));
  b->kv_indptr = calloc((size_t)c->batch + 1, sizeof(int64_t));
  b->last = calloc((size_t)c->batch, sizeof(int64_t));
  int64_t unit = c->page ? c->page : 1;
  for (int64_t i = 0; i < c->batch; i++) {
    int64_t kv = rand_in(r, 1, c->max_kv);
    if (c->batch > 2 && (i == 0 || i == c->batch - 1)) kv = i == 0 ? 1 : c->max_kv;
    int64_t qo = c->max_qo ? rand_in(r, 1, kv < c->max_qo ? kv : c->max_qo) : 1;
    b->kv_len[i] = kv;
    b->qo_indptr[i + 1] = b->qo_indptr[i] + qo;
    b->kv_indptr[i + 1] = b->kv_indptr[i] + (kv + unit - 1) / unit;
    b->last[i] = kv - (b->kv_indptr[i + 1] - b->kv_indptr[i] - 1) * unit;
  }
  b->rows = b->qo_indptr[c->batch];
  b->pages = b->kv_indptr[c->batch];
}

/* A random page table: `pages` distinct ids out of a pool of 1.5x + 3, shuffled. */
static void make_page_table(kv_batch *b, ref_rng *r) {
  b->pool = b->c.page ? b->pages + b->pages / 2 + 3 : b->pages;
  int64_t *perm = malloc((size_t)b->pool * sizeof *perm);
  assert_non_null(perm);
  for (int64_t i = 0; i < b->pool; i++) perm[i] = i;
  for (int64_t i = b->pool - 1; i > 0 && b->c.page; i--) {
    int64_t j = rand_in(r, 0, i), t = perm[i];
    perm[i] = perm[j], perm[j] = t;
  }
  b->indices = perm; /* the first `pages` entries are used */
}

/* Element offset of (page, slot, head, d) in the cache (ragged: page = token, one slot). */
static size_t cache_offset(const kv_batch *b, int64_t page, int64_t slot, int64_t h) {
  int64_t P = b->c.page ? b->c.page : 1, H = b->c.hkv;
  if (!b->c.page) /* ragged: NHD [tokens, H, D], HND [H, tokens, D] */
    return (size_t)(b->c.layout == FIC_KV_LAYOUT_NHD ? page * H + h : h * b->pool + page) * D;
  if (b->c.layout == FIC_KV_LAYOUT_NHD) return (size_t)((page * P + slot) * H + h) * D;
  return (size_t)((page * H + h) * P + slot) * D;
}

/* Gather each sequence's keys and values, densely, for the reference. */
static void gather(kv_batch *b, uint16_t *kb, uint16_t *vb, double ***ks, double ***vs) {
  const attn_case *c = &b->c;
  int64_t unit = c->page ? c->page : 1;
  *ks = calloc((size_t)c->batch, sizeof **ks);
  *vs = calloc((size_t)c->batch, sizeof **vs);
  for (int64_t s = 0; s < c->batch; s++) {
    size_t n = (size_t)(b->kv_len[s] * c->hkv * D);
    (*ks)[s] = malloc(n * sizeof(double));
    (*vs)[s] = malloc(n * sizeof(double));
    for (int64_t t = 0; t < b->kv_len[s]; t++) {
      int64_t page = b->indices[b->kv_indptr[s] + t / unit], slot = t % unit;
      for (int64_t h = 0; h < c->hkv; h++) {
        size_t at = cache_offset(b, page, slot, h), to = (size_t)((t * c->hkv + h) * D);
        ref_half_decode(REF_BF16, kb + at, (*ks)[s] + to, D);
        ref_half_decode(REF_BF16, vb + at, (*vs)[s] + to, D);
      }
    }
  }
}

static size_t cache_elems(const kv_batch *b) { return (size_t)(b->pool * (b->c.page ? b->c.page : 1) * b->c.hkv * D); }

static void fill_cache(kv_batch *b, ref_rng *r) {
  size_t n = cache_elems(b);
  b->k_bits = malloc(n * 2);
  b->v_bits = malloc(n * 2);
  ref_half_random(r, REF_BF16, b->k_bits, NULL, n, 0, 1);
  ref_half_random(r, REF_BF16, b->v_bits, NULL, n, 0, 1);
  gather(b, b->k_bits, b->v_bits, &b->k_seq, &b->v_seq);
}

static void poison_outputs(kv_batch *b) {
  CK(cudaMemset(b->dout, 0xff, (size_t)(b->rows * b->c.hq * D * 2)));
  CK(cudaMemset(b->dlse, 0xff, (size_t)(b->rows * b->c.hq * 4)));
}

static void kv_batch_new(kv_batch *b, const attn_case *c, ref_rng *r) {
  memset(b, 0, sizeof *b);
  b->c = *c;
  make_lengths(b, r);
  make_page_table(b, r);
  fill_cache(b, r);
  size_t qn = (size_t)(b->rows * c->hq * D);
  b->q = malloc(qn * sizeof *b->q);
  b->q_bits = malloc(qn * 2);
  ref_half_random(r, REF_BF16, b->q_bits, b->q, qn, 0, 1);
  b->qo_indptr32 = to_i32(b->qo_indptr, c->batch + 1);
  b->kv_indptr32 = to_i32(b->kv_indptr, c->batch + 1);
  b->last32 = to_i32(b->last, c->batch);
  b->dq = gpu_upload(b->q_bits, qn * 2);
  b->dk = gpu_upload(b->k_bits, cache_elems(b) * 2);
  b->dv = gpu_upload(b->v_bits, cache_elems(b) * 2);
  b->dqo = upload_i32(b->qo_indptr, c->batch + 1);
  b->dkvi = upload_i32(b->kv_indptr, c->batch + 1);
  b->dind = upload_i32(b->indices, b->pages);
  b->dlast = upload_i32(b->last, c->batch);
  b->dout = gpu_alloc(qn * 2);
  b->dlse = gpu_alloc((size_t)(b->rows * c->hq * 4));
  poison_outputs(b);
}

static void free_seqs(kv_batch *b) {
  for (int64_t s = 0; s < b->c.batch; s++) free(b->k_seq[s]), free(b->v_seq[s]);
  free(b->k_seq), free(b->v_seq);
}

static void kv_batch_free(kv_batch *b) {
  free_seqs(b);
  void *dev[] = {b->dq, b->dk, b->dv, b->dqo, b->dkvi, b->dind, b->dlast, b->dout, b->dlse};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) CK(cudaFree(dev[i]));
  free(b->qo_indptr), free(b->kv_len), free(b->kv_indptr), free(b->indices), free(b->last);
  free(b->qo_indptr32), free(b->kv_indptr32), free(b->last32), free(b->k_bits), free(b->v_bits), free(b->q),
      free(b->q_bits);
}

/* ---- descriptors, plans and runs ---- */

typedef struct descs {
  kt_desc q, k, v, qo, kvi, ind, last, out, lse;
} descs;

static descs make_descs(const kv_batch *b) {
  const attn_case *c = &b->c;
  descs d;
  int64_t P = c->page, H = c->hkv;
  d.q = gpu_desc(b->dq, FIC_BF16, 3, b->rows, c->hq, D, 0);
  d.out = gpu_desc(b->dout, FIC_BF16, 3, b->rows, c->hq, D, 0);
  d.lse = gpu_desc(b->dlse, FIC_F32, 2, b->rows, c->hq, 0, 0);
  int nhd = c->layout == FIC_KV_LAYOUT_NHD;
  if (P) {
    d.k = gpu_desc(b->dk, FIC_BF16, 4, b->pool, nhd ? P : H, nhd ? H : P, D);
    d.v = gpu_desc(b->dv, FIC_BF16, 4, b->pool, nhd ? P : H, nhd ? H : P, D);
  } else {
    d.k = gpu_desc(b->dk, FIC_BF16, 3, nhd ? b->pool : H, nhd ? H : b->pool, D, 0);
    d.v = gpu_desc(b->dv, FIC_BF16, 3, nhd ? b->pool : H, nhd ? H : b->pool, D, 0);
  }
  d.qo = gpu_desc(b->dqo, FIC_I32, 1, c->batch + 1, 0, 0, 0);
  d.kvi = gpu_desc(b->dkvi, FIC_I32, 1, c->batch + 1, 0, 0, 0);
  d.ind = gpu_desc(b->dind, FIC_I32, 1, b->pages, 0, 0, 0);
  d.last = gpu_desc(b->dlast, FIC_I32, 1, c->batch, 0, 0, 0);
  return d;
}

static fic_attention_plan *plan_batch(fic_runtime *rt, fic_attention_workspace *ws, const kv_batch *b, int graph,
                                      cudaStream_t s) {
  const attn_case *c = &b->c;
  fic_attention_plan *plan = NULL;
  if (!c->max_qo) {
    fic_batch_decode_plan_params p;
    FIC_ASSERT_OK(fic_batch_decode_plan_params_init(&p));
    p.kv_indptr = b->kv_indptr32, p.batch_size = c->batch, p.num_qo_heads = c->hq, p.num_kv_heads = c->hkv;
    p.head_dim = D, p.page_size = c->page, p.q_dtype = p.kv_dtype = FIC_BF16, p.kv_layout = c->layout;
    p.use_tensor_cores = c->tensor_cores, p.enable_cuda_graph = graph;
    FIC_ASSERT_OK(fic_batch_decode_plan(rt, ws, &p, s, &plan));
    return plan;
  }
  fic_batch_prefill_plan_params p;
  FIC_ASSERT_OK(fic_batch_prefill_plan_params_init(&p));
  p.qo_indptr = b->qo_indptr32, p.kv_indptr = b->kv_indptr32, p.batch_size = c->batch;
  p.num_qo_heads = c->hq, p.num_kv_heads = c->hkv, p.head_dim_qk = D, p.page_size = c->page, p.ragged = !c->page;
  p.q_dtype = p.kv_dtype = FIC_BF16, p.kv_layout = c->layout, p.causal = c->causal, p.enable_cuda_graph = graph;
  p.backend = c->backend == CASE_AUTO ? FIC_ATTENTION_BACKEND_AUTO : c->backend ? c->backend : FIC_ATTENTION_BACKEND_FA2;
  p.kv_last_page_len = c->page ? b->last32 : NULL; /* host: FA3's plan takes exact KV lengths */
  FIC_ASSERT_OK(fic_batch_prefill_plan(rt, ws, &p, s, &plan));
  fic_attention_backend got = FIC_ATTENTION_BACKEND_AUTO;
  FIC_ASSERT_OK(fic_attention_plan_backend(plan, &got));
  /* On SM 9.0 with its module present, AUTO must choose FA3 for these parameters. */
  int want = p.backend == FIC_ATTENTION_BACKEND_AUTO ? FIC_ATTENTION_BACKEND_FA3 : (int)p.backend;
  if ((int)got != want) fail_msg("%s: planned on backend %d, want %d", c->name, (int)got, want);
  return plan;
}

static fic_status run_batch(const fic_attention_plan *plan, kv_batch *b, void *out, cudaStream_t s) {
  descs d = make_descs(b);
  d.out.t.data = out;
  if (!b->c.max_qo) {
    fic_batch_decode_run_params p;
    FIC_ASSERT_OK(fic_batch_decode_run_params_init(&p));
    p.q = kt_t(&d.q), p.k_cache = kt_t(&d.k), p.v_cache = kt_t(&d.v), p.kv_indptr = kt_t(&d.kvi);
    p.kv_indices = kt_t(&d.ind), p.kv_last_page_len = kt_t(&d.last), p.out = kt_t(&d.out), p.lse = kt_t(&d.lse);
    p.qo_indptr = kt_t(&d.qo); /* arange(batch + 1) for a decode batch; read by tensor-core plans only */
    return fic_batch_decode_run(plan, &p, s);
  }
  fic_batch_prefill_run_params p;
  FIC_ASSERT_OK(fic_batch_prefill_run_params_init(&p));
  p.q = kt_t(&d.q), p.k = kt_t(&d.k), p.v = kt_t(&d.v), p.qo_indptr = kt_t(&d.qo), p.kv_indptr = kt_t(&d.kvi);
  if (b->c.page) p.kv_indices = kt_t(&d.ind), p.kv_last_page_len = kt_t(&d.last);
  p.out = kt_t(&d.out), p.lse = kt_t(&d.lse);
  return fic_batch_prefill_run(plan, &p, s);
}

/* Compare out (at `out`) and the LSE with the float64 reference. */
static void check_batch(const kv_batch *b, const void *out, const char *what) {
  const attn_case *c = &b->c;
  size_t n = (size_t)(b->rows * c->hq * D), nl = (size_t)(b->rows * c->hq);
  double *want = malloc(n * sizeof *want), *want_lse = malloc(nl * sizeof *want_lse);
  double *got = malloc(n * sizeof *got), *got_lse = malloc(nl * sizeof *got_lse);
  ref_attn p = {(size_t)c->batch,
                (size_t)c->hq,
                (size_t)c->hkv,
                D,
                D,
                b->qo_indptr,
                b->kv_len,
                b->q,
                (const double *const *)b->k_seq,
                (const double *const *)b->v_seq,
                0,
                c->causal,
                -1,
                0};
  assert_int_equal(ref_attention(&p, want, want_lse), 0);
  gpu_get_half(REF_BF16, out, got, n);
  gpu_get_f32(b->dlse, got_lse, nl);
  char label[160];
  snprintf(label, sizeof label, "%s %s out", c->name, what);
  gpu_expect_close(label, got, want, n, OUT_TOL);
  snprintf(label, sizeof label, "%s %s lse (base 2)", c->name, what);
  gpu_expect_close(label, got_lse, want_lse, nl, LSE_TOL);
  free(want), free(want_lse), free(got), free(got_lse);
}

static void run_case(fic_runtime *rt, const attn_case *c, ref_rng *r) {
  gpu_ws w;
  ws_new(rt, &w);
  kv_batch b;
  kv_batch_new(&b, c, r);
  print_message("%s: batch %lld, heads %lld/%lld, page %lld, %s, %lld rows, %lld pages of a pool of %lld\n", c->name,
                (long long)c->batch, (long long)c->hq, (long long)c->hkv, (long long)c->page, c->layout ? "HND" : "NHD",
                (long long)b.rows, (long long)b.pages, (long long)b.pool);
  fic_attention_plan *plan = plan_batch(rt, w.ws, &b, 0, NULL);
  FIC_ASSERT_OK(run_batch(plan, &b, b.dout, NULL));
  CK(cudaDeviceSynchronize());
  check_batch(&b, b.dout, "eager");
  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  kv_batch_free(&b);
  ws_free(&w);
}

/* ---- cases ---- */

static void run_cases(void **state, const char *test, const attn_case *cases, size_t n) {
  fic_runtime *rt = attn_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed(test));
  for (size_t i = 0; i < n; i++) run_case(rt, &cases[i], &r);
}

static void test_decode(void **state) {
  static const attn_case cases[] = {
      {"decode g1 p1 NHD", 1, 32, 32, 1, FIC_KV_LAYOUT_NHD, 64, 0, 0, 0, 0},
      {"decode g4 p16 HND", 7, 32, 8, 16, FIC_KV_LAYOUT_HND, 2048, 0, 0, 0, 0},
      {"decode g7 p16 NHD (tensor cores)", 64, 28, 4, 16, FIC_KV_LAYOUT_NHD, 512, 0, 0, 0, 0},
      {"decode g8 p1 HND", 33, 64, 8, 1, FIC_KV_LAYOUT_HND, 300, 0, 0, 0, 0},
      {"decode g4 p16 NHD use_tensor_cores", 5, 32, 8, 16, FIC_KV_LAYOUT_NHD, 1000, 0, 0, 1, 0},
      {"decode g2 p16 NHD short", 16, 16, 8, 16, FIC_KV_LAYOUT_NHD, 17, 0, 0, 0, 0},
  };
  run_cases(state, "test_decode", cases, sizeof cases / sizeof cases[0]);
}

static void test_prefill_paged(void **state) {
  static const attn_case cases[] = {
      {"prefill paged causal g1 p16 NHD", 3, 16, 16, 16, FIC_KV_LAYOUT_NHD, 700, 200, 1, 0, 0},
      {"prefill paged g4 p1 HND", 5, 32, 8, 1, FIC_KV_LAYOUT_HND, 300, 64, 0, 0, 0},
      {"prefill paged causal g7 p16 HND", 4, 28, 4, 16, FIC_KV_LAYOUT_HND, 2048, 128, 1, 0, 0},
      {"prefill paged g8 p16 NHD", 8, 64, 8, 16, FIC_KV_LAYOUT_NHD, 500, 33, 0, 0, 0},
  };
  run_cases(state, "test_prefill_paged", cases, sizeof cases / sizeof cases[0]);
}

static void test_prefill_ragged(void **state) {
  static const attn_case cases[] = {
      {"prefill ragged causal g4 NHD", 4, 32, 8, 0, FIC_KV_LAYOUT_NHD, 600, 300, 1, 0, 0},
      {"prefill ragged g1 HND", 3, 8, 8, 0, FIC_KV_LAYOUT_HND, 200, 50, 0, 0, 0},
      {"prefill ragged causal g7 HND", 2, 28, 4, 0, FIC_KV_LAYOUT_HND, 1000, 1000, 1, 0, 0},
  };
  run_cases(state, "test_prefill_ragged", cases, sizeof cases / sizeof cases[0]);
}

/* Keep `s` busy for a while (a few ms of memsets), so that work queued
 * after this has not run when the host carries on. */
static void *g_busy;
static void keep_busy(cudaStream_t s) {
  const size_t bytes = (size_t)1 << 30;
  if (!g_busy) g_busy = gpu_alloc(bytes);
  for (int i = 0; i < 16; i++) CK(cudaMemsetAsync(g_busy, i, bytes, s));
}

/* Plan A, run A, plan B (another page table and other lengths) and run B
 * back to back on one workspace and one stream with no host sync. A's copy
 * out of the page-locked buffer is still queued behind the busy work when
 * plan B's host scheduling runs: without the workspace's event B would
 * overwrite A's schedule before A's copy read it. */
static void test_plans_back_to_back(void **state) {
  fic_runtime *rt = attn_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_plans_back_to_back"));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  static const attn_case ca = {"reuse A", 24, 32, 8, 16, FIC_KV_LAYOUT_NHD, 1500, 0, 0, 0, 0};
  static const attn_case cb = {"reuse B", 40, 32, 8, 16, FIC_KV_LAYOUT_NHD, 300, 0, 0, 0, 0};
  static const attn_case pa = {"reuse prefill A", 6, 32, 8, 16, FIC_KV_LAYOUT_HND, 900, 100, 1, 0, 0};
  const attn_case *pairs[2][2] = {{&ca, &cb}, {&pa, &cb}};
  for (int k = 0; k < 2; k++) {
    gpu_ws w;
    ws_new(rt, &w);
    kv_batch a, b;
    kv_batch_new(&a, pairs[k][0], &r);
    kv_batch_new(&b, pairs[k][1], &r);
    CK(cudaDeviceSynchronize());
    keep_busy(s);
    fic_attention_plan *plan_a = plan_batch(rt, w.ws, &a, 0, s);
    FIC_ASSERT_OK(run_batch(plan_a, &a, a.dout, s));
    fic_attention_plan *plan_b = plan_batch(rt, w.ws, &b, 0, s);
    FIC_ASSERT_OK(run_batch(plan_b, &b, b.dout, s));
    /* A was superseded by B on this workspace: running it again is refused. */
    KT_EXPECT_ARG(run_batch(plan_a, &a, a.dout, s), "plan", "superseded");
    CK(cudaStreamSynchronize(s));
    check_batch(&a, a.dout, "first of two plans");
    check_batch(&b, b.dout, "second of two plans");
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan_a));
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan_b));
    kv_batch_free(&a);
    kv_batch_free(&b);
    ws_free(&w);
  }
  CK(cudaStreamDestroy(s));
}

/* New page-table contents in the same buffers: the same lengths, other
 * pages (a fresh shuffle of the pool) holding fresh values. */
static void new_page_contents(kv_batch *b, ref_rng *r) {
  free_seqs(b);
  free(b->indices);
  free(b->k_bits), free(b->v_bits);
  make_page_table(b, r);
  fill_cache(b, r);
  int32_t *ind = to_i32(b->indices, b->pages);
  CK(cudaMemcpy(b->dind, ind, (size_t)b->pages * 4, cudaMemcpyHostToDevice));
  free(ind);
  CK(cudaMemcpy(b->dk, b->k_bits, cache_elems(b) * 2, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b->dv, b->v_bits, cache_elems(b) * 2, cudaMemcpyHostToDevice));
}

static void expect_same_bits(const void *x, const void *y, size_t bytes, const char *what) {
  unsigned char *hx = malloc(bytes), *hy = malloc(bytes);
  gpu_download(hx, x, bytes);
  gpu_download(hy, y, bytes);
  size_t first = bytes;
  for (size_t i = 0; i < bytes && first == bytes; i++)
    if (hx[i] != hy[i]) first = i;
  free(hx), free(hy);
  if (first != bytes) fail_msg("%s: graph replay differs from the eager run at byte %zu", what, first);
  print_message("  %s: graph replay bit-identical to eager (%zu bytes)\n", what, bytes);
}

/* Plan with enable_cuda_graph outside capture, capture one run, replay it
 * after writing new page-table contents into the same buffers. */
static void graph_case(fic_runtime *rt, const attn_case *c, ref_rng *r) {
  gpu_ws w;
  ws_new(rt, &w);
  kv_batch b;
  kv_batch_new(&b, c, r);
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  fic_attention_plan *plan = plan_batch(rt, w.ws, &b, 1, s);
  size_t out_bytes = (size_t)(b.rows * c->hq * D * 2);
  void *eager = gpu_alloc(out_bytes);
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamSynchronize(s));
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  FIC_ASSERT_OK(run_batch(plan, &b, b.dout, s));
  CK(cudaStreamEndCapture(s, &graph));
  CK(cudaGraphInstantiate(&exec, graph, 0));
  for (int round = 0; round < 2; round++) {
    if (round) new_page_contents(&b, r);
    poison_outputs(&b);
    CK(cudaMemset(eager, 0xff, out_bytes));
    CK(cudaGraphLaunch(exec, s));
    CK(cudaStreamSynchronize(s));
    check_batch(&b, b.dout, round ? "graph replay, new page table" : "graph replay");
    FIC_ASSERT_OK(run_batch(plan, &b, eager, s));
    CK(cudaStreamSynchronize(s));
    expect_same_bits(b.dout, eager, out_bytes, c->name);
  }
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));
  CK(cudaStreamDestroy(s));
  CK(cudaFree(eager));
  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  kv_batch_free(&b);
  ws_free(&w);
}

static void test_cuda_graph(void **state) {
  fic_runtime *rt = attn_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_cuda_graph"));
  static const attn_case cases[] = {
      {"graph decode g4 p16 NHD", 16, 32, 8, 16, FIC_KV_LAYOUT_NHD, 800, 0, 0, 0, 0},
      {"graph decode g7 p16 HND (tensor cores)", 8, 28, 4, 16, FIC_KV_LAYOUT_HND, 400, 0, 0, 0, 0},
      {"graph prefill paged causal g4 p16 NHD", 4, 32, 8, 16, FIC_KV_LAYOUT_NHD, 500, 64, 1, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) graph_case(rt, &cases[i], &r);
}

/* ---- FA3 (SM 9.0, the module from FIC_FA3_WHEEL) ---- */

static kt_runtime *g_fa2_for_fa3; /* the FA2 wheel's runtime, for the comparison */
static int g_fa2_tried;

static fic_runtime *fa3_rt(void **state) {
  gpu_require();
  if (*state) return ((kt_runtime *)*state)->rt;
  if (gpu_cc_major() != 9) {
    print_message("SKIPPED: FA3 modules hold sm_90a code only; this GPU has compute capability %d.x\n", gpu_cc_major());
    skip();
  }
  const char *wheel = kt_fa3_wheel();
  if (!wheel) {
    print_message("SKIPPED: FIC_FA3_WHEEL is not set: no wheel with %s (see above)\n", KT_ATTN_FA3_MODULE);
    skip();
  }
  static const char *const modules[] = {KT_ATTN_FA3_MODULE, NULL};
  kt_runtime *k = kt_try_open(wheel, modules);
  if (!k) {
    print_message("SKIPPED: %s lacks %s (see above)\n", wheel, KT_ATTN_FA3_MODULE);
    skip();
  }
  FIC_ASSERT_OK(fic_runtime_preload(k->rt, NULL));
  *state = k;
  return k->rt;
}

/* A runtime over the FA2 wheel (FIC_ATTN_WHEEL), opened once; NULL without it. */
static fic_runtime *fa2_rt_for_compare(void) {
  if (!g_fa2_tried) {
    g_fa2_tried = 1;
    static const char *const modules[] = {KT_ATTN_PREFILL_MODULE, NULL};
    const char *wheel = kt_attn_wheel();
    g_fa2_for_fa3 = wheel ? kt_try_open(wheel, modules) : NULL;
  }
  return g_fa2_for_fa3 ? g_fa2_for_fa3->rt : NULL;
}

static int fa3_teardown(void **state) {
  kt_close(g_fa2_for_fa3);
  g_fa2_for_fa3 = NULL;
  return kt_teardown(state);
}

/* GQA 4 (32 query heads over 8), bf16, head dim 128; rows cross FA3's
 * 128-row query tiles. */
static void test_fa3_prefill(void **state) {
  fic_runtime *rt = fa3_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_fa3_prefill"));
  static const attn_case cases[] = {
      {"fa3 paged causal g4 p1 NHD", 5, 32, 8, 1, FIC_KV_LAYOUT_NHD, 300, 64, 1, 0, FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged g4 p16 NHD", 8, 32, 8, 16, FIC_KV_LAYOUT_NHD, 700, 200, 0, 0, FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged causal g4 p16 HND", 4, 32, 8, 16, FIC_KV_LAYOUT_HND, 2048, 150, 1, 0, FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged g4 p1 HND", 3, 32, 8, 1, FIC_KV_LAYOUT_HND, 200, 50, 0, 0, FIC_ATTENTION_BACKEND_FA3},
      {"fa3 ragged causal g4 NHD", 4, 32, 8, 0, FIC_KV_LAYOUT_NHD, 600, 300, 1, 0, FIC_ATTENTION_BACKEND_FA3},
      {"fa3 ragged g4 NHD", 6, 32, 8, 0, FIC_KV_LAYOUT_NHD, 1000, 129, 0, 0, FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged causal g4 p16 NHD (AUTO)", 6, 32, 8, 16, FIC_KV_LAYOUT_NHD, 800, 150, 1, 0, CASE_AUTO},
      {"fa3 ragged g4 NHD (AUTO)", 2, 32, 8, 0, FIC_KV_LAYOUT_NHD, 300, 100, 0, 0, CASE_AUTO},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(rt, &cases[i], &r);
}

/* One batch through FA3 and FA2 (each on its own runtime and workspace):
 * each against the reference, then FA3 against FA2. */
static void fa3_vs_fa2_case(fic_runtime *rt3, fic_runtime *rt2, const attn_case *c, ref_rng *r) {
  gpu_ws w[2];
  ws_new(rt3, &w[0]);
  ws_new(rt2, &w[1]);
  kv_batch b;
  kv_batch_new(&b, c, r);
  size_t n = (size_t)(b.rows * c->hq * D), nl = (size_t)(b.rows * c->hq);
  double *out[2], *lse[2];
  for (int k = 0; k < 2; k++) {
    out[k] = malloc(n * sizeof(double)), lse[k] = malloc(nl * sizeof(double));
    assert_true(out[k] && lse[k]);
    b.c.backend = k ? 0 : FIC_ATTENTION_BACKEND_FA3;
    poison_outputs(&b);
    fic_attention_plan *plan = plan_batch(k ? rt2 : rt3, w[k].ws, &b, 0, NULL);
    FIC_ASSERT_OK(run_batch(plan, &b, b.dout, NULL));
    CK(cudaDeviceSynchronize());
    check_batch(&b, b.dout, k ? "FA2" : "FA3");
    gpu_get_half(REF_BF16, b.dout, out[k], n);
    gpu_get_f32(b.dlse, lse[k], nl);
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  }
  char label[160];
  snprintf(label, sizeof label, "%s: FA3 out vs FA2 out", c->name);
  gpu_expect_close(label, out[0], out[1], n, OUT_TOL);
  snprintf(label, sizeof label, "%s: FA3 lse vs FA2 lse", c->name);
  gpu_expect_close(label, lse[0], lse[1], nl, LSE_TOL);
  for (int k = 0; k < 2; k++) free(out[k]), free(lse[k]), ws_free(&w[k]);
  kv_batch_free(&b);
}

static void test_fa3_vs_fa2(void **state) {
  fic_runtime *rt3 = fa3_rt(state), *rt2 = fa2_rt_for_compare();
  if (!rt2) {
    print_message("SKIPPED: no FA2 wheel (FIC_ATTN_WHEEL) with %s to compare with (see above)\n",
                  KT_ATTN_PREFILL_MODULE);
    skip();
  }
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_fa3_vs_fa2"));
  static const attn_case cases[] = {
      {"compare paged causal g4 p16 NHD", 6, 32, 8, 16, FIC_KV_LAYOUT_NHD, 900, 200, 1, 0, 0},
      {"compare paged g4 p1 HND", 4, 32, 8, 1, FIC_KV_LAYOUT_HND, 400, 100, 0, 0, 0},
      {"compare ragged causal g4 NHD", 3, 32, 8, 0, FIC_KV_LAYOUT_NHD, 700, 260, 1, 0, 0},
      {"compare ragged g4 NHD", 5, 32, 8, 0, FIC_KV_LAYOUT_NHD, 500, 80, 0, 0, 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) fa3_vs_fa2_case(rt3, rt2, &cases[i], &r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),         cmocka_unit_test(test_prefill_paged),
      cmocka_unit_test(test_prefill_ragged), cmocka_unit_test(test_plans_back_to_back),
      cmocka_unit_test(test_cuda_graph),
  };
  const struct CMUnitTest fa3[] = {cmocka_unit_test(test_fa3_prefill), cmocka_unit_test(test_fa3_vs_fa2)};
  int rc = cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
  int rc3 = fic_test_run_group("fa3", fa3, sizeof fa3 / sizeof fa3[0], kt_setup_empty, fa3_teardown);
  if (g_busy) cudaFree(g_busy);
  return kt_groups_status(rc, rc3);
}
