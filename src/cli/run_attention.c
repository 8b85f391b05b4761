/* SPDX-License-Identifier: Apache-2.0 */
/* The attention checks of `flashinfer-c run` (cli_run_decode and
 * cli_run_prefill, cli.h): one bf16 / head dim 128 batch over a shuffled
 * paged KV cache, decode (one query row per sequence) or causal prefill
 * (1..RD_MAX_QO rows per sequence, FA2), planned and run through the public
 * API, against the float64 reference. The page-locked buffer is plain host
 * memory here (cudaMemcpyAsync stages pageable memory; the workspace's
 * ordering holds either way). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/cudart_dyn.h"
#include "checks/reference.h"
#include "cli/cli.h"

#define RD_D 128
#define RD_BATCH 8
#define RD_HQ 32
#define RD_HKV 8
#define RD_PAGE 16
#define RD_MAX_LEN 1024
#define RD_MAX_QO 64    /* prefill: query rows per sequence, at most its keys (causal) */
#define RD_TOL 1e-2     /* bf16 output rounding, ~2e-3 (docs/kernels.md) */
#define RD_LSE_TOL 1e-3 /* fp32 LSE from the same bf16 inputs */
#define RD_BUFS 12

typedef struct rd_case {
  int prefill;
  int64_t qo_indptr[RD_BATCH + 1], kv_len[RD_BATCH], last[RD_BATCH];
  int32_t qo_indptr32[RD_BATCH + 1], kv_indptr[RD_BATCH + 1], *indices, *last32;
  int64_t pages, pool, rows;
  uint16_t *q, *k, *v;
  double *dq, *ks[RD_BATCH], *vs[RD_BATCH];
  const cudart_dyn *cuda;
  void *dev[RD_BUFS];
  int ndev;
} rd_case;

static void *rd_put(rd_case *c, const void *host, size_t bytes) {
  void *p = NULL;
  if (c->ndev == RD_BUFS || c->cuda->Malloc(&p, bytes ? bytes : 1) != 0) return NULL;
  c->dev[c->ndev++] = p;
  if (host && c->cuda->Memcpy(p, host, bytes, CUDART_DYN_H2D) != 0) return NULL;
  return p;
}

/* Lengths, a shuffled page table over a pool with spare pages, random q/k/v. */
static int rd_make(rd_case *c, ref_rng *r) {
  c->kv_indptr[0] = 0;
  for (int b = 0; b < RD_BATCH; b++) {
    c->kv_len[b] = 1 + (int64_t)(ref_rng_uniform(r) * RD_MAX_LEN);
    int64_t qo_max = c->kv_len[b] < RD_MAX_QO ? c->kv_len[b] : RD_MAX_QO;
    c->qo_indptr[b + 1] = c->qo_indptr[b] + (c->prefill ? 1 + (int64_t)(ref_rng_uniform(r) * (double)qo_max) : 1);
    c->qo_indptr32[b + 1] = (int32_t)c->qo_indptr[b + 1];
    c->kv_indptr[b + 1] = c->kv_indptr[b] + (int32_t)((c->kv_len[b] + RD_PAGE - 1) / RD_PAGE);
    c->last[b] = c->kv_len[b] - (int64_t)(c->kv_indptr[b + 1] - c->kv_indptr[b] - 1) * RD_PAGE;
  }
  c->pages = c->kv_indptr[RD_BATCH];
  c->pool = c->pages + 7;
  c->rows = c->qo_indptr[RD_BATCH];
  size_t cache = (size_t)c->pool * RD_PAGE * RD_HKV * RD_D, qn = (size_t)c->rows * RD_HQ * RD_D;
  c->indices = malloc((size_t)c->pool * sizeof *c->indices);
  c->last32 = malloc(RD_BATCH * sizeof *c->last32);
  c->q = malloc(qn * 2), c->k = malloc(cache * 2), c->v = malloc(cache * 2), c->dq = malloc(qn * sizeof(double));
  if (!c->indices || !c->last32 || !c->q || !c->k || !c->v || !c->dq) return -1;
  for (int64_t i = 0; i < c->pool; i++) c->indices[i] = (int32_t)i;
  for (int64_t i = c->pool - 1; i > 0; i--) {
    int64_t j = (int64_t)(ref_rng_uniform(r) * (double)(i + 1));
    int32_t t = c->indices[i];
    c->indices[i] = c->indices[j], c->indices[j] = t;
  }
  for (int b = 0; b < RD_BATCH; b++) c->last32[b] = (int32_t)c->last[b];
  ref_half_random(r, REF_BF16, c->q, c->dq, qn, 0, 1);
  ref_half_random(r, REF_BF16, c->k, NULL, cache, 0, 1);
  ref_half_random(r, REF_BF16, c->v, NULL, cache, 0, 1);
  return 0;
}

/* Each sequence's keys and values, densely (NHD cache), for the reference. */
static int rd_gather(rd_case *c) {
  for (int b = 0; b < RD_BATCH; b++) {
    size_t n = (size_t)c->kv_len[b] * RD_HKV * RD_D;
    c->ks[b] = malloc(n * sizeof(double)), c->vs[b] = malloc(n * sizeof(double));
    if (!c->ks[b] || !c->vs[b]) return -1;
    for (int64_t t = 0; t < c->kv_len[b]; t++) {
      size_t at = ((size_t)c->indices[c->kv_indptr[b] + t / RD_PAGE] * RD_PAGE + (size_t)(t % RD_PAGE)) * RD_HKV * RD_D;
      ref_half_decode(REF_BF16, c->k + at, c->ks[b] + t * RD_HKV * RD_D, RD_HKV * RD_D);
      ref_half_decode(REF_BF16, c->v + at, c->vs[b] + t * RD_HKV * RD_D, RD_HKV * RD_D);
    }
  }
  return 0;
}

static void rd_free(rd_case *c) {
  while (c->ndev) c->cuda->Free(c->dev[--c->ndev]);
  for (int b = 0; b < RD_BATCH; b++) free(c->ks[b]), free(c->vs[b]);
  free(c->indices), free(c->last32), free(c->q), free(c->k), free(c->v), free(c->dq);
}

static fic_tensor rd_tensor(void *data, int dev, int32_t ndim, const int64_t *shape, fic_dtype dtype) {
  fic_tensor t = {data, {FIC_DEVICE_CUDA, dev}, ndim, dtype, shape, NULL, 0};
  return t;
}

/* The decode or causal prefill plan, then its run, on `ws`. */
typedef struct rd_tensors {
  fic_tensor q, k, v, qo, kv, idx, last, out, lse;
} rd_tensors;

static fic_status rd_plan_run(const rd_case *c, fic_runtime *rt, fic_attention_workspace *ws, const rd_tensors *t,
                              void *stream, fic_attention_plan **plan) {
  fic_status s;
  if (!c->prefill) {
    fic_batch_decode_plan_params pp;
    fic_batch_decode_run_params rp;
    fic_batch_decode_plan_params_init(&pp);
    fic_batch_decode_run_params_init(&rp);
    pp.kv_indptr = c->kv_indptr, pp.batch_size = RD_BATCH, pp.num_qo_heads = RD_HQ, pp.num_kv_heads = RD_HKV;
    pp.head_dim = RD_D, pp.page_size = RD_PAGE, pp.q_dtype = pp.kv_dtype = FIC_BF16;
    rp.q = &t->q, rp.k_cache = &t->k, rp.v_cache = &t->v, rp.kv_indptr = &t->kv, rp.kv_indices = &t->idx;
    rp.kv_last_page_len = &t->last, rp.out = &t->out, rp.lse = &t->lse;
    s = fic_batch_decode_plan(rt, ws, &pp, stream, plan);
    return s == FIC_OK ? fic_batch_decode_run(*plan, &rp, stream) : s;
  }
  fic_batch_prefill_plan_params pp;
  fic_batch_prefill_run_params rp;
  fic_batch_prefill_plan_params_init(&pp);
  fic_batch_prefill_run_params_init(&rp);
  pp.qo_indptr = c->qo_indptr32, pp.kv_indptr = c->kv_indptr, pp.batch_size = RD_BATCH, pp.num_qo_heads = RD_HQ;
  pp.num_kv_heads = RD_HKV, pp.head_dim_qk = RD_D, pp.page_size = RD_PAGE, pp.q_dtype = pp.kv_dtype = FIC_BF16;
  pp.causal = 1, pp.backend = FIC_ATTENTION_BACKEND_FA2; /* the module tools/kernel-modules builds */
  rp.q = &t->q, rp.k = &t->k, rp.v = &t->v, rp.qo_indptr = &t->qo, rp.kv_indptr = &t->kv, rp.kv_indices = &t->idx;
  rp.kv_last_page_len = &t->last, rp.out = &t->out, rp.lse = &t->lse;
  s = fic_batch_prefill_plan(rt, ws, &pp, stream, plan);
  return s == FIC_OK ? fic_batch_prefill_run(*plan, &rp, stream) : s;
}

/* Plan and run on the device; out/lse downloaded into `got`/`got_lse`. */
static int rd_device(rd_case *c, fic_runtime *rt, int dev, void *stream, double *got, double *got_lse) {
  size_t fb, ib, hb, qn = (size_t)c->rows * RD_HQ * RD_D, cache = (size_t)c->pool * RD_PAGE * RD_HKV * RD_D;
  size_t ln = (size_t)c->rows * RD_HQ;
  fic_attention_workspace_sizes(&fb, &ib, &hb);
  fic_attention_workspace_desc d;
  fic_attention_workspace_desc_init(&d);
  void *host = aligned_alloc(64, hb);
  d.float_buffer = rd_put(c, NULL, fb), d.int_buffer = rd_put(c, NULL, ib), d.host_buffer = host;
  d.float_bytes = fb, d.int_bytes = ib, d.host_bytes = hb, d.device_id = dev;
  void *pq = rd_put(c, c->q, qn * 2), *pk = rd_put(c, c->k, cache * 2), *pv = rd_put(c, c->v, cache * 2);
  void *pind = rd_put(c, c->kv_indptr, sizeof c->kv_indptr), *pidx = rd_put(c, c->indices, (size_t)c->pages * 4);
  void *plast = rd_put(c, c->last32, RD_BATCH * 4), *pout = rd_put(c, NULL, qn * 2);
  void *plse = rd_put(c, NULL, ln * 4), *pqo = rd_put(c, c->qo_indptr32, sizeof c->qo_indptr32);
  if (!host || !d.float_buffer || !d.int_buffer || !pq || !pk || !pv || !pind || !pidx || !plast || !pout || !plse ||
      !pqo) {
    free(host);
    return 2;
  }
  int64_t qs[3] = {c->rows, RD_HQ, RD_D}, cs[4] = {c->pool, RD_PAGE, RD_HKV, RD_D}, is[1] = {RD_BATCH + 1};
  int64_t xs[1] = {c->pages}, ls[1] = {RD_BATCH}, es[2] = {c->rows, RD_HQ};
  rd_tensors t = {rd_tensor(pq, dev, 3, qs, FIC_BF16),   rd_tensor(pk, dev, 4, cs, FIC_BF16),
                  rd_tensor(pv, dev, 4, cs, FIC_BF16),   rd_tensor(pqo, dev, 1, is, FIC_I32),
                  rd_tensor(pind, dev, 1, is, FIC_I32),  rd_tensor(pidx, dev, 1, xs, FIC_I32),
                  rd_tensor(plast, dev, 1, ls, FIC_I32), rd_tensor(pout, dev, 3, qs, FIC_BF16),
                  rd_tensor(plse, dev, 2, es, FIC_F32)};
  fic_attention_workspace *ws = NULL;
  fic_attention_plan *plan = NULL;
  fic_status s = fic_attention_workspace_create(rt, &d, &ws);
  if (s == FIC_OK) s = rd_plan_run(c, rt, ws, &t, stream, &plan);
  if (s != FIC_OK)
    fprintf(stderr, "run: batch %s failed: %s: %s\n", c->prefill ? "prefill" : "decode", fic_status_string(s),
            fic_last_error_message());
  int ok = s == FIC_OK && c->cuda->StreamSynchronize(stream) == 0;
  uint16_t *hout = malloc(qn * 2);
  float *hlse = malloc(ln * 4);
  ok = ok && hout && hlse && c->cuda->Memcpy(hout, pout, qn * 2, CUDART_DYN_D2H) == 0 &&
       c->cuda->Memcpy(hlse, plse, ln * 4, CUDART_DYN_D2H) == 0;
  if (ok) ref_half_decode(REF_BF16, hout, got, qn);
  for (size_t i = 0; ok && i < ln; i++) got_lse[i] = hlse[i];
  fic_attention_plan_destroy(plan);
  fic_attention_workspace_destroy(ws);
  free(hout), free(hlse), free(host);
  return ok ? 0 : 1;
}

static int rd_check(fic_runtime *rt, const cudart_dyn *cuda, int dev, void *stream, ref_rng *rng, int prefill) {
  rd_case c;
  memset(&c, 0, sizeof c);
  c.cuda = cuda, c.prefill = prefill;
  int rc = rd_make(&c, rng) != 0 || rd_gather(&c) != 0 ? 2 : 0;
  size_t qn = (size_t)c.rows * RD_HQ * RD_D, ln = (size_t)c.rows * RD_HQ;
  double *got = malloc(qn * sizeof *got), *want = malloc(qn * sizeof *want);
  double *got_lse = malloc(ln * sizeof *got_lse), *want_lse = malloc(ln * sizeof *want_lse);
  if (!got || !want || !got_lse || !want_lse) rc = 2;
  if (rc == 0) rc = rd_device(&c, rt, dev, stream, got, got_lse);
  const double *ks[RD_BATCH], *vs[RD_BATCH];
  for (int b = 0; b < RD_BATCH; b++) ks[b] = c.ks[b], vs[b] = c.vs[b];
  ref_attn p = {RD_BATCH, RD_HQ, RD_HKV, RD_D, RD_D, c.qo_indptr, c.kv_len, c.dq, ks, vs, 0, prefill, -1, 0, NULL};
  if (rc == 0 && ref_attention(&p, want, want_lse) != 0) rc = 2;
  if (rc == 0) {
    ref_err e = ref_compare(got, want, qn), el = ref_compare(got_lse, want_lse, ln);
    int ok = !e.nonfinite && !el.nonfinite && e.rel_l2 <= RD_TOL && el.rel_l2 <= RD_LSE_TOL;
    printf(
        "  batch %s bf16 %dx%d/%d heads, %lld rows, page %d, %lld pages: rel_l2 %.2e (tol %.0e), lse rel_l2 %.2e "
        "(tol %.0e) %s\n",
        prefill ? "prefill (FA2, causal)" : "decode", RD_BATCH, RD_HQ, RD_HKV, (long long)c.rows, RD_PAGE,
        (long long)c.pages, e.rel_l2, RD_TOL, el.rel_l2, RD_LSE_TOL, ok ? "ok" : "FAIL");
    rc = ok ? 0 : 1;
  }
  rd_free(&c);
  free(got), free(want), free(got_lse), free(want_lse);
  return rc;
}

int cli_run_decode(fic_runtime *rt, const cudart_dyn *cuda, int dev, void *stream, ref_rng *rng) {
  return rd_check(rt, cuda, dev, stream, rng, 0);
}

int cli_run_prefill(fic_runtime *rt, const cudart_dyn *cuda, int dev, void *stream, ref_rng *rng) {
  return rd_check(rt, cuda, dev, stream, rng, 1);
}
