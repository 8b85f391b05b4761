/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step: one forward (prefill chunk or decode step) as launches on the
 * model's stream, the per-step index tables, plans, and the CUDA graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "ds_kernels.h"

/* ---- matrix products: cuBLAS, bf16 inputs, fp32 accumulation ----
 *
 * y[rows, out] = x[rows, in] @ w[out, in]^T (all row-major, contiguous). In
 * cuBLAS's column-major terms: y^T (out x rows) = w^T (out x in; w is in x out
 * with ld in) * x^T (in x rows, ld in). */

static const char *const gemm_names[DS_GEMM_KINDS] = {"qkv", "o", "gate_up", "down", "lm_head"};
static const ds_prof_cat gemm_prof[DS_GEMM_KINDS] = {DS_P_G_QKV, DS_P_G_O, DS_P_G_GU, DS_P_G_DOWN, DS_P_G_LM};

static int algo_cfg(const cublasLtMatmulAlgo_t *algo, cublasLtMatmulAlgoConfigAttributes_t attr) {
  uint32_t v = 0; /* every attribute read here is 32-bit (ID and REDUCTION_SCHEME: uint32, the others enum-sized) */
  size_t got = 0;
  if (cublasLtMatmulAlgoConfigGetAttribute(algo, attr, &v, sizeof v, &got) != CUBLAS_STATUS_SUCCESS) return -1;
  return (int)v;
}

/* Descriptors, layouts and cuBLASLt's first heuristic algorithm for one shape. */
static ds_gemm_plan *gemm_plan_make(ds_model *m, ds_gemm_kind kind, int64_t rows, int64_t in, int64_t out,
                                    int f32_out) {
  if (m->n_gplan == m->cap_gplan) {
    int cap = m->cap_gplan ? 2 * m->cap_gplan : 16;
    ds_gemm_plan *p = realloc(m->gplan, (size_t)cap * sizeof *p);
    if (!p) ds_die("out of host memory");
    /* gcur points into the array: rebase */
    for (int k = 0; k < DS_GEMM_KINDS; k++)
      if (m->gcur[k]) m->gcur[k] = p + (m->gcur[k] - m->gplan);
    m->gplan = p, m->cap_gplan = cap;
  }
  ds_gemm_plan *g = &m->gplan[m->n_gplan];
  memset(g, 0, sizeof *g);
  g->kind = kind, g->rows = rows, g->in = in, g->out = out, g->f32_out = f32_out;
  const cublasOperation_t tA = CUBLAS_OP_T, tB = CUBLAS_OP_N;
  BK(cublasLtMatmulDescCreate(&g->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  BK(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSA, &tA, sizeof tA));
  BK(cublasLtMatmulDescSetAttribute(g->op, CUBLASLT_MATMUL_DESC_TRANSB, &tB, sizeof tB));
  BK(cublasLtMatrixLayoutCreate(&g->a, CUDA_R_16BF, (uint64_t)in, (uint64_t)out, in));  /* w: in x out, ld in */
  BK(cublasLtMatrixLayoutCreate(&g->b, CUDA_R_16BF, (uint64_t)in, (uint64_t)rows, in)); /* x: in x rows, ld in */
  BK(cublasLtMatrixLayoutCreate(&g->c, f32_out ? CUDA_R_32F : CUDA_R_16BF, (uint64_t)out, (uint64_t)rows, out));
  cublasLtMatmulPreference_t pref;
  BK(cublasLtMatmulPreferenceCreate(&pref));
  uint64_t ws = m->blas_ws_bytes;
  BK(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &ws, sizeof ws));
  cublasLtMatmulHeuristicResult_t r;
  int n = 0;
  memset(&r, 0, sizeof r);
  BK(cublasLtMatmulAlgoGetHeuristic(m->lt, g->op, g->a, g->b, g->c, g->c, pref, 1, &r, &n));
  BK(cublasLtMatmulPreferenceDestroy(pref));
  if (n < 1 || r.state != CUBLAS_STATUS_SUCCESS)
    ds_die("cuBLASLt has no algorithm for the %s GEMM [%lld x %lld] x [%lld x %lld]^T (--gemm ex uses cublasGemmEx)",
           gemm_names[kind], (long long)rows, (long long)in, (long long)out, (long long)in);
  g->algo = r.algo, g->ws_bytes = r.workspaceSize;
  g->algo_id = algo_cfg(&g->algo, CUBLASLT_ALGO_CONFIG_ID);
  g->tile = algo_cfg(&g->algo, CUBLASLT_ALGO_CONFIG_TILE_ID);
  g->stages = algo_cfg(&g->algo, CUBLASLT_ALGO_CONFIG_STAGES_ID);
  g->splitk = algo_cfg(&g->algo, CUBLASLT_ALGO_CONFIG_SPLITK_NUM);
  g->reduction = algo_cfg(&g->algo, CUBLASLT_ALGO_CONFIG_REDUCTION_SCHEME);
  m->n_gplan++;
  return g;
}

/* The plan of this kind and row count (decode: the one made at start-up). */
static ds_gemm_plan *gemm_plan(ds_model *m, ds_gemm_kind kind, int64_t rows, int64_t in, int64_t out, int f32_out) {
  ds_gemm_plan *g = m->gcur[kind];
  if (g && g->rows == rows) return g;
  g = NULL;
  for (int i = 0; i < m->n_gplan && !g; i++)
    if (m->gplan[i].kind == kind && m->gplan[i].rows == rows) g = &m->gplan[i];
  if (!g) g = gemm_plan_make(m, kind, rows, in, out, f32_out);
  return m->gcur[kind] = g;
}

static void gemm(ds_model *m, ds_gemm_kind kind, const void *x, const void *w, void *y, int64_t rows, int64_t in,
                 int64_t out) {
  const float alpha = 1.0f, beta = 0.0f;
  const int f32_out = kind == DS_GEMM_LM;
  int64_t t0 = ds_prof_begin(&m->prof);
  if (m->c->gemm_lt) {
    const ds_gemm_plan *g = gemm_plan(m, kind, rows, in, out, f32_out);
    /* the heuristic assumed cuBLASLt's default 256-byte operand alignment */
    if (((uintptr_t)x | (uintptr_t)w | (uintptr_t)y) & 255)
      ds_die("the %s GEMM's operands are not 256-byte aligned", gemm_names[kind]);
    BK(cublasLtMatmul(m->lt, g->op, &alpha, w, g->a, x, g->b, &beta, y, g->c, y, g->c, &g->algo, m->blas_ws,
                      m->blas_ws_bytes, m->stream));
  } else {
    BK(cublasGemmEx(m->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)out, (int)rows, (int)in, &alpha, w, CUDA_R_16BF, (int)in, x,
                    CUDA_R_16BF, (int)in, &beta, y, f32_out ? CUDA_R_32F : CUDA_R_16BF, (int)out, CUBLAS_COMPUTE_32F,
                    CUBLAS_GEMM_DEFAULT));
  }
  ds_prof_end(&m->prof, gemm_prof[kind], t0);
}

void ds_gemm_init(ds_model *m) {
  if (!m->c->gemm_lt) return;
  const ds_config *c = m->c;
  const int64_t B = c->batch, H = c->hidden, I = c->mlp, QD = c->q_heads * c->head_dim;
  BK(cublasLtCreate(&m->lt));
  /* the decode step's five shapes, chosen once here */
  gemm_plan(m, DS_GEMM_QKV, B, H, m->qkv_dim, 0);
  gemm_plan(m, DS_GEMM_O, B, QD, H, 0);
  gemm_plan(m, DS_GEMM_GU, B, H, 2 * I, 0);
  gemm_plan(m, DS_GEMM_DOWN, B, I, H, 0);
  gemm_plan(m, DS_GEMM_LM, B, H, c->vocab, 1);
}

void ds_gemm_free(ds_model *m) {
  for (int i = 0; i < m->n_gplan; i++) {
    ds_gemm_plan *g = &m->gplan[i];
    BK(cublasLtMatrixLayoutDestroy(g->a));
    BK(cublasLtMatrixLayoutDestroy(g->b));
    BK(cublasLtMatrixLayoutDestroy(g->c));
    BK(cublasLtMatmulDescDestroy(g->op));
  }
  free(m->gplan);
  m->gplan = NULL, m->n_gplan = m->cap_gplan = 0;
  if (m->lt) BK(cublasLtDestroy(m->lt));
  m->lt = NULL;
}

const char *ds_gemm_name(int kind) { return gemm_names[kind]; }

/* ---- index tables ---- */

/* The next staging slot, once the copy that last read it has run. */
static int32_t *next_slot(ds_model *m) {
  int64_t t0 = ds_prof_begin(&m->prof);
  m->slot = (m->slot + 1) % DS_SLOTS;
  CK(cudaEventSynchronize(m->tab_ev[m->slot]));
  ds_prof_end(&m->prof, DS_P_SLOT, t0);
  return m->tab_host[m->slot];
}
/* Copy int32 elements [from, to) of the current slot to the same offsets of
 * the device table. */
static void upload(ds_model *m, int64_t from, int64_t to) {
  int64_t t0 = ds_prof_begin(&m->prof);
  CK(cudaMemcpyAsync(m->tab_dev + from, m->tab_host[m->slot] + from, (size_t)(to - from) * 4, cudaMemcpyHostToDevice,
                     m->stream));
  CK(cudaEventRecord(m->tab_ev[m->slot], m->stream));
  ds_prof_end(&m->prof, DS_P_UPLOAD, t0);
}

/* Page table of sequences s0 .. s0+n-1 at lengths len[0..n): kv_indptr,
 * kv_indices (each sequence's first ceil(len / P) pages of its permuted
 * range), kv_last_page_len. */
static void page_table(ds_model *m, int32_t *tab, const ds_table_layout *L, int64_t s0, int64_t n, const int32_t *len) {
  const ds_config *c = m->c;
  int32_t *indptr = tab + L->kv_indptr, *indices = tab + L->kv_indices, *last = tab + L->last;
  indptr[0] = 0;
  for (int64_t j = 0; j < n; j++) {
    int32_t pages = (int32_t)((len[j] + c->page_size - 1) / c->page_size);
    const int32_t *mine = m->page_perm + (s0 + j) * c->pages_per_seq;
    for (int32_t p = 0; p < pages; p++) indices[indptr[j] + p] = mine[p];
    indptr[j + 1] = indptr[j] + pages;
    last[j] = (int32_t)((len[j] - 1) % c->page_size + 1);
  }
}

static void views(ds_model *m, ds_views *v, const ds_table_layout *L, int64_t rows, int64_t seqs) {
  const ds_config *c = m->c;
  int32_t *t = m->tab_dev;
  v->rows = rows, v->seqs = seqs;
  const int64_t s1 = seqs + 1, cap = seqs * c->pages_per_seq;
  ds_tens(&v->qo_indptr, t + L->qo_indptr, FIC_I32, 1, &s1, NULL);
  ds_tens(&v->kv_indptr, t + L->kv_indptr, FIC_I32, 1, &s1, NULL);
  ds_tens(&v->kv_indices, t + L->kv_indices, FIC_I32, 1, &cap, NULL);
  ds_tens(&v->last, t + L->last, FIC_I32, 1, &seqs, NULL);
  ds_tens(&v->batch_idx, t + L->batch_idx, FIC_I32, 1, &rows, NULL);
  ds_tens(&v->positions, t + L->positions, FIC_I32, 1, &rows, NULL);
  v->ids = t + L->ids;
  v->last_rows = t + L->last_rows;
}

/* ---- one forward ---- */

static void rmsnorm_rows(ds_model *m, void *out, const void *in, const void *w, int64_t rows) {
  ds_tensor o, i, wt;
  const int64_t sh[2] = {rows, m->c->hidden};
  ds_tens(&o, out, FIC_BF16, 2, sh, NULL);
  ds_tens(&i, in, FIC_BF16, 2, sh, NULL);
  ds_tens(&wt, w, FIC_BF16, 1, &m->c->hidden, NULL);
  int64_t t0 = ds_prof_begin(&m->prof);
  FK(fic_rmsnorm(m->rt, &o.t, &i.t, &wt.t, m->c->eps, m->pdl, m->stream));
  ds_prof_end(&m->prof, DS_P_RMSNORM, t0);
}
static void fused_add_rmsnorm(ds_model *m, void *x, void *resid, const void *w, int64_t rows) {
  ds_tensor xt, rt, wt;
  const int64_t sh[2] = {rows, m->c->hidden};
  ds_tens(&xt, x, FIC_BF16, 2, sh, NULL);
  ds_tens(&rt, resid, FIC_BF16, 2, sh, NULL);
  ds_tens(&wt, w, FIC_BF16, 1, &m->c->hidden, NULL);
  int64_t t0 = ds_prof_begin(&m->prof);
  FK(fic_fused_add_rmsnorm(m->rt, &xt.t, &rt.t, &wt.t, m->c->eps, m->pdl, m->stream));
  ds_prof_end(&m->prof, DS_P_ADDNORM, t0);
}

/* Layers, final norm: m->d holds the final normalised hidden states of all
 * rows. prefill: the causal prefill plan m->plan; else the decode plan. */
static void forward(ds_model *m, const ds_views *v, int prefill, int hook) {
  const ds_config *c = m->c;
  const int64_t T = v->rows, H = c->hidden, I = c->mlp, Hq = c->q_heads, Hk = c->kv_heads, D = c->head_dim;
  const int64_t QKV = m->qkv_dim;
  ds_prof *pf = &m->prof;
  int64_t t0 = ds_prof_begin(pf);
  CK(ds_gather_rows_bf16(m->resid, m->embed, v->ids, T, H, m->stream));
  ds_prof_end(pf, DS_P_GATHER, t0);
  rmsnorm_rows(m, m->h, m->resid, m->layer[0].attn_norm, T);
  const void *x = m->h;

  ds_tensor q, k, vv, attn, kc = m->k_cache_t, vc = m->v_cache_t;
  const int64_t qs[3] = {T, Hq, D}, ks[3] = {T, Hk, D}, st[3] = {QKV, D, 1};
  ds_tens(&q, m->qkv, FIC_BF16, 3, qs, st);
  ds_tens(&k, (uint16_t *)m->qkv + Hq * D, FIC_BF16, 3, ks, st);
  ds_tens(&vv, (uint16_t *)m->qkv + (Hq + Hk) * D, FIC_BF16, 3, ks, st);
  ds_tens(&attn, m->attn, FIC_BF16, 3, qs, NULL);

  fic_rope_params rp;
  FK(fic_llama31_rope_params_init(&rp));
  rp.q = &q.t, rp.k = &k.t, rp.q_rope = &q.t, rp.k_rope = &k.t, rp.pos_ids = &v->positions.t;
  rp.rope_scale = c->rope_scale, rp.rope_theta = c->rope_theta, rp.low_freq_factor = c->rope_low;
  rp.high_freq_factor = c->rope_high, rp.old_context_length = c->rope_old_ctx;

  fic_append_paged_kv_cache_params ap;
  FK(fic_append_paged_kv_cache_params_init(&ap));
  ap.append_key = &k.t, ap.append_value = &vv.t, ap.batch_indices = &v->batch_idx.t, ap.positions = &v->positions.t;
  ap.paged_k_cache = &kc.t, ap.paged_v_cache = &vc.t, ap.kv_indices = &v->kv_indices.t;
  ap.kv_indptr = &v->kv_indptr.t, ap.kv_last_page_len = &v->last.t, ap.kv_layout = FIC_KV_LAYOUT_NHD;

  ds_tensor gu, act;
  const int64_t gs[2] = {T, 2 * I}, as[2] = {T, I};
  ds_tens(&gu, m->gu, FIC_BF16, 2, gs, NULL);
  ds_tens(&act, m->act, FIC_BF16, 2, as, NULL);
  const double sm_scale = 1.0 / sqrt((double)D);

  for (int l = 0; l < c->layers; l++) {
    ds_layer *L = &m->layer[l];
    kc.t.data = L->k_cache, vc.t.data = L->v_cache;
    gemm(m, DS_GEMM_QKV, x, L->w_qkv, m->qkv, T, H, QKV);
    t0 = ds_prof_begin(pf);
    FK(fic_apply_llama31_rope_pos_ids(m->rt, &rp, m->stream));
    ds_prof_end(pf, DS_P_ROPE, t0);
    t0 = ds_prof_begin(pf);
    FK(fic_append_paged_kv_cache(m->rt, &ap, m->stream));
    ds_prof_end(pf, DS_P_APPEND, t0);
    if (prefill) {
      fic_batch_prefill_run_params r;
      FK(fic_batch_prefill_run_params_init(&r));
      r.q = &q.t, r.k = &kc.t, r.v = &vc.t, r.qo_indptr = &v->qo_indptr.t, r.kv_indptr = &v->kv_indptr.t;
      r.kv_indices = &v->kv_indices.t, r.kv_last_page_len = &v->last.t, r.out = &attn.t, r.sm_scale = sm_scale;
      r.enable_pdl = m->pdl ? FIC_PDL_ON : FIC_PDL_OFF;
      t0 = ds_prof_begin(pf);
      FK(fic_batch_prefill_run(m->plan, &r, m->stream));
      ds_prof_end(pf, DS_P_ATTN, t0);
    } else {
      fic_batch_decode_run_params r;
      FK(fic_batch_decode_run_params_init(&r));
      r.q = &q.t, r.k_cache = &kc.t, r.v_cache = &vc.t, r.kv_indptr = &v->kv_indptr.t;
      r.kv_indices = &v->kv_indices.t, r.kv_last_page_len = &v->last.t, r.out = &attn.t, r.sm_scale = sm_scale;
      r.enable_pdl = m->pdl ? FIC_PDL_ON : FIC_PDL_OFF;
      if (c->tensor_core_decode) r.qo_indptr = &v->qo_indptr.t; /* 0, 1, ..., batch */
      t0 = ds_prof_begin(pf);
      FK(fic_batch_decode_run(m->plan, &r, m->stream));
      ds_prof_end(pf, DS_P_ATTN, t0);
    }
    gemm(m, DS_GEMM_O, m->attn, L->w_o, m->o, T, Hq * D, H);
    fused_add_rmsnorm(m, m->o, m->resid, L->mlp_norm, T);
    gemm(m, DS_GEMM_GU, m->o, L->w_gu, m->gu, T, H, 2 * I);
    t0 = ds_prof_begin(pf);
    FK(fic_silu_and_mul(m->rt, &act.t, &gu.t, m->pdl, m->stream));
    ds_prof_end(pf, DS_P_SILU, t0);
    gemm(m, DS_GEMM_DOWN, m->act, L->w_down, m->d, T, I, H);
    fused_add_rmsnorm(m, m->d, m->resid, l + 1 < c->layers ? m->layer[l + 1].attn_norm : m->final_norm, T);
    x = m->d;
    if (hook && l == 0) { /* --check: resid and h after layer 0, appended at the hook's row offset */
      CK(cudaStreamSynchronize(m->stream));
      size_t off = (size_t)hook - 1;
      CK(cudaMemcpy(m->hook_resid + off * H, m->resid, (size_t)T * H * 2, cudaMemcpyDeviceToHost));
      CK(cudaMemcpy(m->hook_h + off * H, m->d, (size_t)T * H * 2, cudaMemcpyDeviceToHost));
    }
  }
}

/* LM head, softmax, sampling of `rows` final hidden rows into out_ids. */
static void head_and_sample(ds_model *m, const void *hrows, int64_t rows, int32_t *out_ids) {
  const ds_config *c = m->c;
  const int64_t V = c->vocab;
  gemm(m, DS_GEMM_LM, hrows, m->lm_head, m->logits, rows, c->hidden, V);
  ds_tensor lg, pr, rn, ws, rs, out;
  const int64_t sh[2] = {rows, V}, wsb = (int64_t)m->softmax_ws_bytes, rsb = (int64_t)FIC_TOPK_ROW_STATES_BYTES;
  ds_tens(&lg, m->logits, FIC_F32, 2, sh, NULL);
  ds_tens(&pr, m->probs, FIC_F32, 2, sh, NULL);
  ds_tens(&rn, m->renorm, FIC_F32, 2, sh, NULL);
  ds_tens(&ws, m->softmax_ws, FIC_U8, 1, &wsb, NULL);
  ds_tens(&rs, m->row_states, FIC_U8, 1, &rsb, NULL);
  ds_tens(&out, out_ids, FIC_I32, 1, &rows, NULL);
  int64_t t0 = ds_prof_begin(&m->prof);
  FK(fic_softmax(m->rt, &ws.t, &lg.t, &pr.t, NULL, 1.0, m->pdl, m->stream));
  ds_prof_end(&m->prof, DS_P_SOFTMAX, t0);
  fic_sampling_params sp;
  FK(fic_sampling_params_init(&sp));
  sp.probs = &pr.t, sp.output = &out.t;
  sp.top_k = m->greedy ? 1 : 50;
  sp.top_p = m->greedy ? 1.0 : 0.9;
  sp.deterministic = 1;
  sp.philox_seed = m->philox_seed, sp.philox_offset = m->philox_offset;
  sp.filter_order = FIC_FILTER_TOP_K_FIRST; /* FlashInfer's default: top_k_renorm_probs, then top-p sampling */
  sp.renorm_buffer = &rn.t, sp.row_states = &rs.t;
  t0 = ds_prof_begin(&m->prof);
  FK(fic_top_k_top_p_sampling_from_probs(m->rt, &sp, m->stream));
  ds_prof_end(&m->prof, DS_P_SAMPLING, t0);
}

/* Draw the next sampling call's Philox (seed, offset) as FlashInfer's Python
 * does for top_k_top_p_sampling_from_probs (increment rows * 32). */
static void philox_advance(ds_model *m, int64_t rows) {
  FK(fic_philox_next(&m->gen, (uint64_t)rows * 32, &m->philox_seed, &m->philox_offset));
}

/* ---- prefill ---- */

void ds_prefill(ds_model *m) {
  const ds_config *c = m->c;
  m->greedy = c->greedy;
  FK(fic_philox_init(&m->gen, c->seed));
  int64_t hook_row = 0;
  for (int64_t s0 = 0; s0 < c->batch; s0 += c->seqs_per_chunk) {
    int64_t n = c->batch - s0 < c->seqs_per_chunk ? c->batch - s0 : c->seqs_per_chunk, T = 0;
    for (int64_t j = 0; j < n; j++) T += m->ctx[s0 + j];
    ds_table_layout L = ds_layout(c, T, n);
    int32_t *tab = next_slot(m);
    int32_t *qo = tab + L.qo_indptr, *lens = m->seq_lens;
    qo[0] = 0;
    for (int64_t j = 0; j < n; j++) {
      lens[j] = (int32_t)m->ctx[s0 + j];
      qo[j + 1] = qo[j] + lens[j];
      tab[L.last_rows + j] = qo[j + 1] - 1;
      for (int64_t p = 0; p < lens[j]; p++) tab[L.ids + qo[j] + p] = (int32_t)m->prompt[(s0 + j) * c->context + p];
    }
    page_table(m, tab, &L, s0, n, lens);
    /* Append positions 0 .. len-1 of each sequence (its KV length after the append is len). */
    FK(fic_batch_indices_positions(qo, lens, (int32_t)n, tab + L.batch_idx, tab + L.positions, T));
    upload(m, 0, L.total);
    m->dec_valid = 0; /* the decode step's tables were overwritten */
    fic_batch_prefill_plan_params p;
    FK(fic_batch_prefill_plan_params_init(&p));
    p.qo_indptr = qo, p.kv_indptr = tab + L.kv_indptr, p.batch_size = n, p.num_qo_heads = c->q_heads;
    p.num_kv_heads = c->kv_heads, p.head_dim_qk = c->head_dim, p.page_size = c->page_size;
    p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16, p.kv_layout = FIC_KV_LAYOUT_NHD, p.causal = 1;
    FK(fic_attention_plan_destroy(m->plan));
    m->plan = NULL;
    FK(fic_batch_prefill_plan(m->rt, m->ws, &p, m->stream, &m->plan));
    ds_views v;
    views(m, &v, &L, T, n);
    forward(m, &v, 1, m->hook_resid ? (int)(hook_row + 1) : 0);
    hook_row += T;
    CK(ds_gather_rows_bf16(m->last_h, m->d, v.last_rows, n, c->hidden, m->stream));
    philox_advance(m, n);
    head_and_sample(m, m->last_h, n, m->ids + s0);
  }
  FK(fic_attention_plan_destroy(m->plan));
  m->plan = NULL;
}

/* ---- decode ---- */

void ds_decode_begin(ds_model *m, int greedy) {
  m->greedy = greedy;
  FK(fic_philox_init(&m->gen, m->c->seed + 1));
  m->dec_valid = 0; /* the first step uploads every table */
  if (m->graph) CK(cudaGraphExecDestroy(m->graph));
  m->graph = NULL;
  ds_table_layout L = ds_layout(m->c, m->c->batch, m->c->batch);
  views(m, &m->dec, &L, m->c->batch, m->c->batch);
  m->dec.ids = m->ids; /* the sampled ids are the next step's input (no host round trip) */
}

/* The decode step's tables in the next staging slot, and their upload. Only
 * what differs from the device's copy is written and uploaded (the device
 * table persists between steps; the captured graph reads it in place):
 * every step, kv_indptr, kv_last_page_len and positions (O(batch), one
 * contiguous tail of the table); when a sequence's page count changes (it
 * crossed a page boundary, or the run restarted at step 0), also the page ids
 * from that sequence's first page on. After a prefill or ds_decode_begin
 * everything is written and uploaded. The device ends up with the same table
 * as a full rebuild (only the unused capacity after kv_indptr[batch] may hold
 * other stale ids, which no kernel reads). */
static void decode_tables(ds_model *m, int step) {
  const ds_config *c = m->c;
  const int64_t B = c->batch, P = c->page_size;
  ds_table_layout L = ds_layout(c, B, B);
  int32_t *tab = next_slot(m);
  int64_t t0 = ds_prof_begin(&m->prof);
  int32_t *lens = m->seq_lens, *pages = m->dec_pages, *indptr = m->dec_indptr;
  int64_t first = m->dec_valid ? B : 0; /* the first sequence whose pages change */
  for (int64_t i = 0; i < B; i++) {
    lens[i] = (int32_t)(m->ctx[i] + step + 1); /* after the append */
    int32_t np = (int32_t)((lens[i] + P - 1) / P);
    if (np != pages[i] && i < first) first = i;
    pages[i] = np;
  }
  indptr[0] = 0;
  for (int64_t i = first; i < B; i++) {
    indptr[i + 1] = indptr[i] + pages[i];
    memcpy(tab + L.kv_indices + indptr[i], m->page_perm + i * c->pages_per_seq, (size_t)pages[i] * 4);
  }
  memcpy(tab + L.kv_indptr, indptr, (size_t)(B + 1) * 4);
  int32_t *last = tab + L.last;
  for (int64_t i = 0; i < B; i++) last[i] = (int32_t)((lens[i] - 1) % P + 1);
  /* One appended token per sequence at position ctx + step; RoPE reads the same positions. */
  FK(fic_batch_indices_positions(m->arange, lens, (int32_t)B, tab + L.batch_idx, tab + L.positions, B));
  int64_t from = first < B ? L.kv_indices + indptr[first] : L.kv_indptr;
  if (!m->dec_valid) {
    memcpy(tab + L.qo_indptr, m->arange, (size_t)(B + 1) * 4);
    from = 0;
  }
  ds_prof_end(&m->prof, DS_P_TABLE, t0);
  upload(m, from, L.total);
  m->dec_valid = 1;
}

void ds_decode_prepare(ds_model *m, int step) {
  const ds_config *c = m->c;
  const int64_t B = c->batch;
  decode_tables(m, step);
  /* The plan, shared by all layers. With enable_cuda_graph = 1, FlashInfer's
   * DecodePlan (scheduler.cuh) fixes everything a captured run baked in:
   * split_kv and padded_batch_size depend only on batch_size, num_kv_heads and
   * the kernel's occupancy (batch * kv_heads >= max grid: no split,
   * padded = batch; else always split, padded = max_grid / kv_heads, never
   * the lengths), and so do the offsets of request_indices, kv_tile_indices,
   * o_indptr, block_valid_mask and kv_chunk_size in the int workspace and of
   * the partial outputs in the float workspace. A new plan for new lengths
   * only rewrites the contents of those buffers (copied on this stream), which
   * the captured kernels read on replay. The tensor-core decode (a prefill
   * plan) keeps its sizes fixed the same way under enable_cuda_graph. */
  fic_batch_decode_plan_params p;
  FK(fic_batch_decode_plan_params_init(&p));
  p.kv_indptr = m->dec_indptr, p.batch_size = B, p.num_qo_heads = c->q_heads, p.num_kv_heads = c->kv_heads;
  p.head_dim = c->head_dim, p.page_size = c->page_size, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
  p.kv_layout = FIC_KV_LAYOUT_NHD, p.enable_cuda_graph = m->plan_cuda_graph;
  p.use_tensor_cores = c->tensor_core_decode;
  int64_t t0 = ds_prof_begin(&m->prof);
  FK(fic_attention_plan_destroy(m->plan));
  m->plan = NULL;
  FK(fic_batch_decode_plan(m->rt, m->ws, &p, m->stream, &m->plan));
  ds_prof_end(&m->prof, DS_P_PLAN, t0);
  /* Eager: a fresh Philox offset per step. A graph replays the offset captured. */
  if (!m->graph) philox_advance(m, B);
}

void ds_decode_launch(ds_model *m) {
  forward(m, &m->dec, 0, 0);
  head_and_sample(m, m->d, m->c->batch, m->ids);
}

void ds_graph_capture(ds_model *m) {
  cudaGraph_t g = NULL;
  CK(cudaStreamBeginCapture(m->stream, cudaStreamCaptureModeThreadLocal));
  ds_decode_launch(m);
  CK(cudaStreamEndCapture(m->stream, &g));
  CK(cudaGraphInstantiate(&m->graph, g, 0));
  CK(cudaGraphDestroy(g));
}

void ds_graph_replay(ds_model *m) { CK(cudaGraphLaunch(m->graph, m->stream)); }

void ds_decode_step(ds_model *m, int step, int use_graph, int record) {
  ds_decode_prepare(m, step);
  if (!use_graph) {
    ds_decode_launch(m);
  } else {
    if (!m->graph && step > 0) ds_graph_capture(m); /* step 0: the eager warm-up */
    if (m->graph)
      ds_graph_replay(m);
    else
      ds_decode_launch(m);
  }
  if (record)
    CK(cudaMemcpyAsync(m->tokens + (size_t)step * m->c->batch, m->ids, (size_t)m->c->batch * 4,
                       cudaMemcpyDeviceToDevice, m->stream));
}
