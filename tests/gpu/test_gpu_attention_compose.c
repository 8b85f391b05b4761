/* SPDX-License-Identifier: Apache-2.0 */
/* Attention calls composed the way an engine composes them, on a real GPU
 * against the float64 reference (src/checks/reference.c, ref_attention), on
 * fresh random data (seed printed; rerun with FIC_TEST_SEED=<seed>). Needs
 * the wheel with page, cascade and the bf16 / head dim 128 batch decode and
 * FA2 batch prefill modules (FIC_ATTN_WHEEL); every case skips, saying why,
 * without a GPU or that wheel.
 *
 *  - append then decode: a shuffled page table (page size 16, partial last
 *    pages, spare pages) over a cache of random contents, NHD and HND;
 *    fic_append_paged_kv_cache writes 1..3 new tokens per sequence (batch
 *    indices and positions from fic_batch_indices_positions; kv_indptr and
 *    kv_last_page_len describe the lengths AFTER the append, as FlashInfer's
 *    append expects: page.cuh's AppendPagedKVCacheKernel writes entry i at
 *    page indices[indptr[b] + pos / page_size], slot pos % page_size, and
 *    page.py's example passes the post-append table), then a batch decode
 *    (GQA 4, CUDA cores) over the same cache: the cache is compared exactly
 *    with the host scatter, the decode with the reference over the old keys
 *    followed by the appended ones;
 *  - chunked prefill: ragged K/V of n keys per sequence split at k; non-causal
 *    FA2 prefill of the same queries over [0, k) and [k, n) with the LSE,
 *    merged by fic_merge_state (cascade.cuh: base-2 LSE, exp2/log2, the same
 *    base prefill.cuh writes: log2(d) + m over scores scaled by log2(e);
 *    v [rows, heads, dim], s [rows, heads]), against one prefill over all n
 *    keys and against the reference;
 *  - threads and streams: 4 threads, each with its own workspace, stream and
 *    batches, making 3 decode plans and runs of different lengths at once on
 *    one runtime; then 2 threads sharing one workspace, each plan + run pair
 *    under a mutex, the next pair's stream waiting (cudaStreamWaitEvent) for
 *    the previous run (the header's contract: plans on a workspace are
 *    serialised by its lock, the caller orders the runs). The threads make
 *    no cmocka calls; the references and checks run after the joins.
 * Outputs are poisoned before each run. Tolerances: attn_batch.h (relative
 * L2: output 1e-2, LSE 1e-3). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_batch.h"

static const char *const k_modules[] = {"page", "cascade", KT_ATTN_DECODE_MODULE, KT_ATTN_PREFILL_MODULE, NULL};

#define HQ 32
#define HKV 8
#define DIM 128
#define PAGE 16

static void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  assert_non_null(p);
  return p;
}

static cudaStream_t new_stream(void) {
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  return s;
}

/* ------------------------------------------------------------ append then decode */

/* Element offset of (page, slot, head, 0) in a paged cache. */
static size_t paged_offset(int64_t layout, int64_t page, int64_t slot, int64_t h) {
  if (layout == FIC_KV_LAYOUT_NHD) return (size_t)(((page * PAGE + slot) * HKV + h) * DIM);
  return (size_t)(((page * HKV + h) * PAGE + slot) * DIM);
}

static void append_decode_case(fic_runtime *rt, ref_rng *r, int64_t batch, int64_t layout) {
  /* Old lengths with the page edges: empty, one short of a page, a full
   * page, a page and a bit; the rest random. */
  static const int64_t edges[] = {0, 15, 16, 14, 31, 32, 1};
  int64_t *old = xmalloc((size_t)batch * 8), *len = xmalloc((size_t)batch * 8);
  int32_t *app_indptr = xmalloc(((size_t)batch + 1) * 4), *seq32 = xmalloc((size_t)batch * 4);
  app_indptr[0] = 0;
  for (int64_t i = 0; i < batch; i++) {
    old[i] = i < (int64_t)(sizeof edges / sizeof edges[0]) ? edges[i] : gpu_rand_in(r, 1, 700);
    int64_t app = gpu_rand_in(r, 1, 3);
    len[i] = old[i] + app;
    seq32[i] = (int32_t)len[i];
    app_indptr[i + 1] = app_indptr[i] + (int32_t)app;
  }
  int64_t nnz = app_indptr[batch];
  char name[96];
  snprintf(name, sizeof name, "append+decode %s B %lld", layout == FIC_KV_LAYOUT_NHD ? "NHD" : "HND", (long long)batch);
  /* The page table for the lengths after the append, the cache random
   * everywhere (the slots about to be written included). */
  attn_case c = {name, batch, HQ, HKV, PAGE, layout, 1, 0, 0, 0, .dim = DIM, .kv_lens = len};
  kv_batch b;
  kv_batch_new(&b, &c, r);

  /* The new tokens, and where they go. */
  size_t na = (size_t)nnz * HKV * DIM;
  uint16_t *kbits = xmalloc(na * 2), *vbits = xmalloc(na * 2);
  double *kx = xmalloc(na * 8), *vx = xmalloc(na * 8);
  ref_half_random(r, REF_BF16, kbits, kx, na, 0, 1);
  ref_half_random(r, REF_BF16, vbits, vx, na, 0, 1);
  int32_t *bi = xmalloc((size_t)nnz * 4), *pos = xmalloc((size_t)nnz * 4);
  FIC_ASSERT_OK(fic_batch_indices_positions(app_indptr, seq32, (int32_t)batch, bi, pos, nnz));
  for (int64_t i = 0; i < batch; i++)
    for (int32_t e = app_indptr[i]; e < app_indptr[i + 1]; e++) {
      assert_int_equal(bi[e], i);
      assert_int_equal(pos[e], old[i] + (e - app_indptr[i]));
    }

  /* Expected: the cache scattered into (bits, exactly) and each sequence's
   * keys for the reference (old keys, then the appended ones). */
  size_t nc = (size_t)b.pool * PAGE * HKV * DIM;
  uint16_t *want_k = xmalloc(nc * 2), *want_v = xmalloc(nc * 2);
  memcpy(want_k, b.k_bytes, nc * 2);
  memcpy(want_v, b.v_bytes, nc * 2);
  for (int64_t e = 0; e < nnz; e++) {
    int64_t s = bi[e], t = pos[e];
    int64_t page = b.indices[b.kv_indptr[s] + t / PAGE];
    for (int64_t h = 0; h < HKV; h++) {
      size_t at = paged_offset(layout, page, t % PAGE, h), from = (size_t)((e * HKV + h) * DIM);
      memcpy(want_k + at, kbits + from, DIM * 2);
      memcpy(want_v + at, vbits + from, DIM * 2);
      memcpy(b.k_seq[s] + (size_t)((t * HKV + h) * DIM), kx + from, DIM * 8);
      memcpy(b.v_seq[s] + (size_t)((t * HKV + h) * DIM), vx + from, DIM * 8);
    }
  }

  void *dkey = gpu_upload(kbits, na * 2), *dval = gpu_upload(vbits, na * 2);
  void *dbi = gpu_upload(bi, (size_t)nnz * 4), *dpos = gpu_upload(pos, (size_t)nnz * 4);
  print_message("%s: %lld appended tokens, %lld pages of a pool of %lld\n", name, (long long)nnz, (long long)b.pages,
                (long long)b.pool);
  CK(cudaDeviceSynchronize()); /* uploads and poison on the legacy stream; the work below on a non-blocking one */
  cudaStream_t s = new_stream();
  gpu_ws w;
  gpu_ws_new(rt, &w);
  at_descs d = at_make_descs(&b);
  kt_desc key = gpu_desc(dkey, FIC_BF16, 3, nnz, HKV, DIM, 0), val = gpu_desc(dval, FIC_BF16, 3, nnz, HKV, DIM, 0);
  kt_desc dbid = gpu_desc(dbi, FIC_I32, 1, nnz, 0, 0, 0), dposd = gpu_desc(dpos, FIC_I32, 1, nnz, 0, 0, 0);
  fic_append_paged_kv_cache_params p;
  FIC_ASSERT_OK(fic_append_paged_kv_cache_params_init(&p));
  p.append_key = kt_t(&key), p.append_value = kt_t(&val), p.batch_indices = kt_t(&dbid), p.positions = kt_t(&dposd);
  p.paged_k_cache = kt_t(&d.k), p.paged_v_cache = kt_t(&d.v);
  p.kv_indices = kt_t(&d.ind), p.kv_indptr = kt_t(&d.kvi), p.kv_last_page_len = kt_t(&d.last);
  p.kv_layout = layout;
  FIC_ASSERT_OK(fic_append_paged_kv_cache(rt, &p, s));
  fic_attention_plan *plan = NULL;
  FIC_ASSERT_OK(at_plan(rt, w.ws, &b, 0, s, &plan)); /* GQA 4, use_tensor_cores 0: the CUDA-core decode */
  FIC_ASSERT_OK(at_run(plan, &b, &d, s));
  CK(cudaStreamSynchronize(s));

  uint16_t *got = xmalloc(nc * 2);
  const uint16_t *wants[2] = {want_k, want_v};
  void *devs[2] = {b.dk, b.dv};
  for (int kv = 0; kv < 2; kv++) {
    gpu_download(got, devs[kv], nc * 2);
    size_t bad = 0, first = 0;
    for (size_t i = 0; i < nc; i++)
      if (got[i] != wants[kv][i] && !bad++) first = i;
    print_message("  %s cache after the append: %zu elements, %zu differ\n", kv ? "v" : "k", nc, bad);
    if (bad)
      fail_msg("%s: %s cache differs from the host scatter at %zu elements, first at %zu", name, kv ? "v" : "k", bad,
               first);
  }
  at_check(&b, b.dout, b.dlse, "decode over old + appended keys");

  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  gpu_ws_free(&w);
  CK(cudaStreamDestroy(s));
  void *dev[] = {dkey, dval, dbi, dpos};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) CK(cudaFree(dev[i]));
  kv_batch_free(&b);
  free(old), free(len), free(app_indptr), free(seq32), free(kbits), free(vbits), free(kx), free(vx);
  free(bi), free(pos), free(want_k), free(want_v), free(got);
}

static void test_append_then_decode(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_append_then_decode"));
  append_decode_case(rt, &r, 16, FIC_KV_LAYOUT_NHD);
  append_decode_case(rt, &r, 16, FIC_KV_LAYOUT_HND);
  append_decode_case(rt, &r, 3, FIC_KV_LAYOUT_HND);
  append_decode_case(rt, &r, 41, FIC_KV_LAYOUT_NHD);
}

/* ------------------------------------------------------------ chunked prefill + merge_state */

/* Element offset of (token t of `total`, head h) in ragged K/V. */
static size_t ragged_offset(int64_t layout, int64_t total, int64_t t, int64_t h) {
  return (size_t)(layout == FIC_KV_LAYOUT_NHD ? t * HKV + h : h * total + t) * DIM;
}

/* One ragged K or V tensor holding keys [from[s], from[s] + n[s]) of each
 * sequence's dense [len, HKV, DIM] bits; indptr [batch + 1] in tokens. */
static uint16_t *ragged_pack(int64_t layout, int64_t batch, uint16_t *const *seq, const int64_t *from, const int64_t *n,
                             int32_t *indptr) {
  indptr[0] = 0;
  for (int64_t s = 0; s < batch; s++) indptr[s + 1] = indptr[s] + (int32_t)n[s];
  int64_t total = indptr[batch];
  uint16_t *out = xmalloc((size_t)total * HKV * DIM * 2);
  for (int64_t s = 0; s < batch; s++)
    for (int64_t t = 0; t < n[s]; t++)
      for (int64_t h = 0; h < HKV; h++)
        memcpy(out + ragged_offset(layout, total, indptr[s] + t, h), seq[s] + ((from[s] + t) * HKV + h) * DIM, DIM * 2);
  return out;
}

/* A ragged K/V pair on the device, its plan, outputs and reference. */
typedef struct chunk {
  const char *what;
  int32_t indptr[65];
  int64_t len[64], total;
  void *dk, *dv, *dkvi, *dout, *dlse;
  fic_attention_plan *plan;
} chunk;

static void chunk_new(chunk *c, const char *what, int64_t layout, int64_t batch, uint16_t *const *kseq,
                      uint16_t *const *vseq, const int64_t *from, const int64_t *n, int64_t rows) {
  memset(c, 0, sizeof *c);
  c->what = what;
  uint16_t *k = ragged_pack(layout, batch, kseq, from, n, c->indptr);
  uint16_t *v = ragged_pack(layout, batch, vseq, from, n, c->indptr);
  memcpy(c->len, n, (size_t)batch * 8);
  c->total = c->indptr[batch];
  size_t bytes = (size_t)c->total * HKV * DIM * 2;
  c->dk = gpu_upload(k, bytes), c->dv = gpu_upload(v, bytes);
  c->dkvi = gpu_upload(c->indptr, ((size_t)batch + 1) * 4);
  c->dout = gpu_alloc((size_t)rows * HQ * DIM * 2), c->dlse = gpu_alloc((size_t)rows * HQ * 4);
  CK(cudaMemset(c->dout, 0xff, (size_t)rows * HQ * DIM * 2));
  CK(cudaMemset(c->dlse, 0xff, (size_t)rows * HQ * 4));
  free(k), free(v);
}

static void chunk_free(chunk *c) {
  void *dev[] = {c->dk, c->dv, c->dkvi, c->dout, c->dlse};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) CK(cudaFree(dev[i]));
  FIC_ASSERT_OK(fic_attention_plan_destroy(c->plan));
}

/* Plan and run the non-causal FA2 ragged prefill of the queries over `c`. */
static void chunk_prefill(fic_runtime *rt, fic_attention_workspace *ws, chunk *c, int64_t layout, int64_t batch,
                          const int32_t *qo_indptr, void *dq, void *dqo, cudaStream_t s) {
  int64_t rows = qo_indptr[batch];
  fic_batch_prefill_plan_params pp;
  FIC_ASSERT_OK(fic_batch_prefill_plan_params_init(&pp));
  pp.qo_indptr = qo_indptr, pp.kv_indptr = c->indptr, pp.batch_size = batch, pp.num_qo_heads = HQ;
  pp.num_kv_heads = HKV, pp.head_dim_qk = DIM, pp.ragged = 1, pp.q_dtype = FIC_BF16, pp.kv_dtype = FIC_BF16;
  pp.kv_layout = layout, pp.causal = 0, pp.backend = FIC_ATTENTION_BACKEND_FA2;
  FIC_ASSERT_OK(fic_batch_prefill_plan(rt, ws, &pp, s, &c->plan));
  int nhd = layout == FIC_KV_LAYOUT_NHD;
  kt_desc q = gpu_desc(dq, FIC_BF16, 3, rows, HQ, DIM, 0), out = gpu_desc(c->dout, FIC_BF16, 3, rows, HQ, DIM, 0);
  kt_desc lse = gpu_desc(c->dlse, FIC_F32, 2, rows, HQ, 0, 0);
  kt_desc k = gpu_desc(c->dk, FIC_BF16, 3, nhd ? c->total : HKV, nhd ? HKV : c->total, DIM, 0);
  kt_desc v = gpu_desc(c->dv, FIC_BF16, 3, nhd ? c->total : HKV, nhd ? HKV : c->total, DIM, 0);
  kt_desc qo = gpu_desc(dqo, FIC_I32, 1, batch + 1, 0, 0, 0), kvi = gpu_desc(c->dkvi, FIC_I32, 1, batch + 1, 0, 0, 0);
  fic_batch_prefill_run_params rp;
  FIC_ASSERT_OK(fic_batch_prefill_run_params_init(&rp));
  rp.q = kt_t(&q), rp.k = kt_t(&k), rp.v = kt_t(&v), rp.qo_indptr = kt_t(&qo), rp.kv_indptr = kt_t(&kvi);
  rp.out = kt_t(&out), rp.lse = kt_t(&lse); /* sm_scale 0: 1/sqrt(128) */
  FIC_ASSERT_OK(fic_batch_prefill_run(c->plan, &rp, s));
}

/* The reference over keys [from[s], from[s] + n[s]) of each sequence. */
static void chunk_reference(int64_t batch, const int64_t *qo_indptr, const double *q, double *const *kx,
                            double *const *vx, const int64_t *from, const int64_t *n, double *out, double *lse) {
  const double **k = xmalloc((size_t)batch * sizeof *k), **v = xmalloc((size_t)batch * sizeof *v);
  for (int64_t s = 0; s < batch; s++) k[s] = kx[s] + from[s] * HKV * DIM, v[s] = vx[s] + from[s] * HKV * DIM;
  ref_attn p;
  memset(&p, 0, sizeof p);
  p.batch = (size_t)batch, p.hq = HQ, p.hkv = HKV, p.d_qk = p.d_vo = DIM;
  p.qo_indptr = qo_indptr, p.kv_len = n, p.q = q, p.k = k, p.v = v;
  p.sm_scale = 1.0 / sqrt((double)DIM), p.window_left = -1;
  assert_int_equal(ref_attention(&p, out, lse), 0);
  free(k), free(v);
}

static void expect_state(const char *label, const char *what, const void *dout, const void *dlse, const double *out,
                         const double *lse, size_t rows) {
  size_t n = rows * HQ * DIM, nl = rows * HQ;
  double *got = xmalloc(n * 8), *got_lse = xmalloc(nl * 8);
  gpu_get_half(REF_BF16, dout, got, n);
  gpu_get_f32(dlse, got_lse, nl);
  char line[200];
  snprintf(line, sizeof line, "%s: %s out", label, what);
  gpu_expect_close(line, got, out, n, AT_OUT_TOL);
  snprintf(line, sizeof line, "%s: %s lse (base 2)", label, what);
  gpu_expect_close(line, got_lse, lse, nl, AT_LSE_TOL);
  free(got), free(got_lse);
}

static void chunked_case(fic_runtime *rt, ref_rng *r, int64_t batch, int64_t max_n, int64_t layout) {
  assert_true(batch <= 64);
  int64_t n[64], ka[64], kb[64], zero[64], qo_indptr[65];
  int32_t qo32[65];
  uint16_t *kseq[64], *vseq[64];
  double *kx[64], *vx[64];
  qo_indptr[0] = 0, qo32[0] = 0;
  for (int64_t s = 0; s < batch; s++) {
    n[s] = gpu_rand_in(r, 2, max_n);
    if (s == 1) n[s] = max_n;
    ka[s] = s == 0 ? 1 : s == 2 ? n[s] - 1 : gpu_rand_in(r, 1, n[s] - 1); /* both edges of the split */
    kb[s] = n[s] - ka[s], zero[s] = 0;
    qo_indptr[s + 1] = qo_indptr[s] + gpu_rand_in(r, 1, 70);
    qo32[s + 1] = (int32_t)qo_indptr[s + 1];
    size_t e = (size_t)n[s] * HKV * DIM;
    kseq[s] = xmalloc(e * 2), vseq[s] = xmalloc(e * 2), kx[s] = xmalloc(e * 8), vx[s] = xmalloc(e * 8);
    ref_half_random(r, REF_BF16, kseq[s], kx[s], e, 0, 1);
    ref_half_random(r, REF_BF16, vseq[s], vx[s], e, 0, 1);
  }
  int64_t rows = qo_indptr[batch];
  size_t nq = (size_t)rows * HQ * DIM, nl = (size_t)rows * HQ;
  uint16_t *qbits = xmalloc(nq * 2);
  double *q = xmalloc(nq * 8);
  ref_half_random(r, REF_BF16, qbits, q, nq, 0, 1);
  void *dq = gpu_upload(qbits, nq * 2), *dqo = gpu_upload(qo32, ((size_t)batch + 1) * 4);
  chunk a, b, full;
  chunk_new(&a, "chunk A [0, k)", layout, batch, kseq, vseq, zero, ka, rows);
  chunk_new(&b, "chunk B [k, n)", layout, batch, kseq, vseq, ka, kb, rows);
  chunk_new(&full, "one pass [0, n)", layout, batch, kseq, vseq, zero, n, rows);
  void *dvm = gpu_alloc(nq * 2), *dsm = gpu_alloc(nl * 4);
  CK(cudaMemset(dvm, 0xff, nq * 2));
  CK(cudaMemset(dsm, 0xff, nl * 4));
  char label[96];
  snprintf(label, sizeof label, "chunked prefill %s B %lld (%lld rows, %lld keys)",
           layout == FIC_KV_LAYOUT_NHD ? "NHD" : "HND", (long long)batch, (long long)rows, (long long)full.total);
  print_message("%s\n", label);

  CK(cudaDeviceSynchronize());
  cudaStream_t s = new_stream();
  gpu_ws w;
  gpu_ws_new(rt, &w);
  /* One stream: each plan's copy and each run are ordered after the last. */
  chunk_prefill(rt, w.ws, &a, layout, batch, qo32, dq, dqo, s);
  chunk_prefill(rt, w.ws, &b, layout, batch, qo32, dq, dqo, s);
  chunk_prefill(rt, w.ws, &full, layout, batch, qo32, dq, dqo, s);
  kt_desc va = gpu_desc(a.dout, FIC_BF16, 3, rows, HQ, DIM, 0), sa = gpu_desc(a.dlse, FIC_F32, 2, rows, HQ, 0, 0);
  kt_desc vb = gpu_desc(b.dout, FIC_BF16, 3, rows, HQ, DIM, 0), sb = gpu_desc(b.dlse, FIC_F32, 2, rows, HQ, 0, 0);
  kt_desc vm = gpu_desc(dvm, FIC_BF16, 3, rows, HQ, DIM, 0), sm = gpu_desc(dsm, FIC_F32, 2, rows, HQ, 0, 0);
  FIC_ASSERT_OK(fic_merge_state(rt, kt_t(&va), kt_t(&sa), kt_t(&vb), kt_t(&sb), kt_t(&vm), kt_t(&sm), s));
  CK(cudaStreamSynchronize(s));

  double *want = xmalloc(nq * 8), *want_lse = xmalloc(nl * 8);
  chunk_reference(batch, qo_indptr, q, kx, vx, zero, ka, want, want_lse);
  expect_state(label, a.what, a.dout, a.dlse, want, want_lse, (size_t)rows);
  chunk_reference(batch, qo_indptr, q, kx, vx, ka, kb, want, want_lse);
  expect_state(label, b.what, b.dout, b.dlse, want, want_lse, (size_t)rows);
  chunk_reference(batch, qo_indptr, q, kx, vx, zero, n, want, want_lse);
  expect_state(label, full.what, full.dout, full.dlse, want, want_lse, (size_t)rows);
  expect_state(label, "merge_state(A, B) vs reference", dvm, dsm, want, want_lse, (size_t)rows);
  /* The merged state against the one pass, both from the GPU. */
  gpu_get_half(REF_BF16, full.dout, want, nq);
  gpu_get_f32(full.dlse, want_lse, nl);
  expect_state(label, "merge_state(A, B) vs one pass", dvm, dsm, want, want_lse, (size_t)rows);

  chunk_free(&a), chunk_free(&b), chunk_free(&full);
  gpu_ws_free(&w);
  CK(cudaStreamDestroy(s));
  CK(cudaFree(dq)), CK(cudaFree(dqo)), CK(cudaFree(dvm)), CK(cudaFree(dsm));
  for (int64_t i = 0; i < batch; i++) free(kseq[i]), free(vseq[i]), free(kx[i]), free(vx[i]);
  free(qbits), free(q), free(want), free(want_lse);
}

static void test_chunked_prefill_merge(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_chunked_prefill_merge"));
  chunked_case(rt, &r, 5, 900, FIC_KV_LAYOUT_NHD);
  chunked_case(rt, &r, 3, 2048, FIC_KV_LAYOUT_HND);
  chunked_case(rt, &r, 17, 300, FIC_KV_LAYOUT_NHD);
}

/* ------------------------------------------------------------ threads and streams */

#define JOBS_PER_THREAD 3

/* One thread's work: its batches planned and run in turn on `ws`. With
 * `lock`, the workspace is shared: each plan + run pair holds the mutex, and
 * its stream first waits for the previous pair's run (`last`). */
typedef struct worker {
  fic_runtime *rt;
  fic_attention_workspace *ws;
  kv_batch *b[JOBS_PER_THREAD];
  fic_attention_plan *plan[JOBS_PER_THREAD];
  pthread_mutex_t *lock;
  cudaEvent_t *last;
  int *has_last;
  fic_status status;
  cudaError_t cuda;
  char message[320];
} worker;

static void worker_fail_status(worker *k, int job, const char *what, fic_status st) {
  k->status = st;
  snprintf(k->message, sizeof k->message, "job %d: %s -> %s: %s", job, what, fic_status_string(st),
           fic_last_error_message());
}

static void worker_fail_cuda(worker *k, int job, const char *what, cudaError_t e) {
  k->cuda = e;
  snprintf(k->message, sizeof k->message, "job %d: %s -> %s", job, what, cudaGetErrorString(e));
}

/* No cmocka calls here (its failures longjmp on the main thread's stack). */
static void *worker_main(void *arg) {
  worker *k = arg;
  cudaStream_t s = NULL;
  cudaError_t e = cudaSetDevice(0);
  if (e == cudaSuccess) e = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  if (e != cudaSuccess) {
    worker_fail_cuda(k, -1, "stream", e);
    return NULL;
  }
  for (int j = 0; j < JOBS_PER_THREAD; j++) {
    kv_batch *b = k->b[j];
    at_descs d = at_make_descs(b);
    if (k->lock) {
      pthread_mutex_lock(k->lock);
      if (*k->has_last && (e = cudaStreamWaitEvent(s, *k->last, 0)) != cudaSuccess) {
        worker_fail_cuda(k, j, "cudaStreamWaitEvent", e);
        pthread_mutex_unlock(k->lock);
        break;
      }
    }
    fic_status st = at_plan(k->rt, k->ws, b, 0, s, &k->plan[j]);
    if (st != FIC_OK) worker_fail_status(k, j, "plan", st);
    if (st == FIC_OK && (st = at_run(k->plan[j], b, &d, s)) != FIC_OK) worker_fail_status(k, j, "run", st);
    if (k->lock) {
      if (st == FIC_OK && (e = cudaEventRecord(*k->last, s)) != cudaSuccess)
        worker_fail_cuda(k, j, "cudaEventRecord", e);
      else if (st == FIC_OK)
        *k->has_last = 1;
      pthread_mutex_unlock(k->lock);
    }
    if (k->status != FIC_OK || k->cuda != cudaSuccess) break;
  }
  e = cudaStreamSynchronize(s);
  if (e != cudaSuccess && k->cuda == cudaSuccess) worker_fail_cuda(k, -1, "cudaStreamSynchronize", e);
  cudaStreamDestroy(s);
  return NULL;
}

/* Batches of GQA 4 (CUDA-core decode), page size 16, different lengths and
 * layouts each time. */
static void make_batches(ref_rng *r, int threads, kv_batch *b, char (*names)[64], const char *tag) {
  static const int64_t max_kv[] = {40, 700, 1800, 300, 1100};
  for (int i = 0; i < threads * JOBS_PER_THREAD; i++) {
    snprintf(names[i], 64, "%s thread %d job %d", tag, i / JOBS_PER_THREAD, i % JOBS_PER_THREAD);
    int64_t batch = gpu_rand_in(r, 1, 24), kv = max_kv[(i + gpu_rand_in(r, 0, 4)) % 5];
    int64_t layout = i % 2 ? FIC_KV_LAYOUT_HND : FIC_KV_LAYOUT_NHD;
    attn_case c = {names[i], batch, HQ, HKV, PAGE, layout, kv, 0, 0, 0, .dim = DIM};
    kv_batch_new(&b[i], &c, r);
  }
}

static void run_workers(worker *k, int threads) {
  pthread_t th[8];
  CK(cudaDeviceSynchronize()); /* uploads and poison (legacy stream) done before the non-blocking streams start */
  for (int i = 0; i < threads; i++) assert_int_equal(pthread_create(&th[i], NULL, worker_main, &k[i]), 0);
  for (int i = 0; i < threads; i++) assert_int_equal(pthread_join(th[i], NULL), 0);
  for (int i = 0; i < threads; i++) {
    if (k[i].status != FIC_OK || k[i].cuda != cudaSuccess) fail_msg("thread %d: %s", i, k[i].message);
    for (int j = 0; j < JOBS_PER_THREAD; j++) {
      at_check(k[i].b[j], k[i].b[j]->dout, k[i].b[j]->dlse, "concurrent");
      FIC_ASSERT_OK(fic_attention_plan_destroy(k[i].plan[j]));
    }
  }
}

static void test_threads_streams(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_threads_streams"));
  enum { OWN = 4, SHARED = 2 };
  kv_batch b[OWN * JOBS_PER_THREAD];
  char names[OWN * JOBS_PER_THREAD][64];
  worker k[OWN];
  gpu_ws w[OWN];

  /* Own workspace, stream and batches per thread. */
  make_batches(&r, OWN, b, names, "own workspace");
  memset(k, 0, sizeof k);
  for (int i = 0; i < OWN; i++) {
    gpu_ws_new(rt, &w[i]);
    k[i].rt = rt, k[i].ws = w[i].ws;
    for (int j = 0; j < JOBS_PER_THREAD; j++) k[i].b[j] = &b[i * JOBS_PER_THREAD + j];
  }
  run_workers(k, OWN);
  print_message("  %d threads x %d decode plans + runs, own workspaces and streams: all match the reference\n", OWN,
                JOBS_PER_THREAD);
  for (int i = 0; i < OWN; i++) gpu_ws_free(&w[i]);
  for (int i = 0; i < OWN * JOBS_PER_THREAD; i++) kv_batch_free(&b[i]);

  /* One workspace shared by two threads, pairs serialised by a mutex. */
  pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
  cudaEvent_t last;
  int has_last = 0;
  CK(cudaEventCreateWithFlags(&last, cudaEventDisableTiming));
  make_batches(&r, SHARED, b, names, "shared workspace");
  gpu_ws_new(rt, &w[0]);
  memset(k, 0, sizeof k);
  for (int i = 0; i < SHARED; i++) {
    k[i].rt = rt, k[i].ws = w[0].ws, k[i].lock = &lock, k[i].last = &last, k[i].has_last = &has_last;
    for (int j = 0; j < JOBS_PER_THREAD; j++) k[i].b[j] = &b[i * JOBS_PER_THREAD + j];
  }
  run_workers(k, SHARED);
  print_message("  %d threads x %d decode plans + runs on one workspace (mutex): all match the reference\n", SHARED,
                JOBS_PER_THREAD);
  gpu_ws_free(&w[0]);
  for (int i = 0; i < SHARED * JOBS_PER_THREAD; i++) kv_batch_free(&b[i]);
  CK(cudaEventDestroy(last));
  pthread_mutex_destroy(&lock);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_then_decode),
      cmocka_unit_test(test_chunked_prefill_merge),
      cmocka_unit_test(test_threads_streams),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
