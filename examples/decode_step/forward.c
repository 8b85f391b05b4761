/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step: one forward (prefill chunk or decode step) as launches on the
 * model's stream, the per-step index tables, plans, and the CUDA graph. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "ds_kernels.h"

ds_table_layout ds_layout(const ds_config *c, int64_t rows, int64_t seqs);

/* ---- matrix products: cuBLAS, bf16 inputs, fp32 accumulation ---- */

/* y[rows, out] = x[rows, in] @ w[out, in]^T (all row-major, contiguous). In
 * cuBLAS's column-major terms: y^T (out x rows) = w^T (out x in; w is in x out
 * with ld in) * x^T (in x rows, ld in). */
static void gemm(ds_model *m, const void *x, const void *w, void *y, int64_t rows, int64_t in, int64_t out,
                 int f32_out) {
  const float alpha = 1.0f, beta = 0.0f;
  BK(cublasGemmEx(m->blas, CUBLAS_OP_T, CUBLAS_OP_N, (int)out, (int)rows, (int)in, &alpha, w, CUDA_R_16BF, (int)in, x,
                  CUDA_R_16BF, (int)in, &beta, y, f32_out ? CUDA_R_32F : CUDA_R_16BF, (int)out, CUBLAS_COMPUTE_32F,
                  CUBLAS_GEMM_DEFAULT));
}

/* ---- index tables ---- */

/* The next staging slot, once the copy that last read it has run. */
static int32_t *next_slot(ds_model *m) {
  m->slot = (m->slot + 1) % DS_SLOTS;
  CK(cudaEventSynchronize(m->tab_ev[m->slot]));
  return m->tab_host[m->slot];
}
static void upload(ds_model *m, int64_t n) {
  CK(cudaMemcpyAsync(m->tab_dev, m->tab_host[m->slot], (size_t)n * 4, cudaMemcpyHostToDevice, m->stream));
  CK(cudaEventRecord(m->tab_ev[m->slot], m->stream));
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
  FK(fic_rmsnorm(m->rt, &o.t, &i.t, &wt.t, m->c->eps, m->pdl, m->stream));
}
static void fused_add_rmsnorm(ds_model *m, void *x, void *resid, const void *w, int64_t rows) {
  ds_tensor xt, rt, wt;
  const int64_t sh[2] = {rows, m->c->hidden};
  ds_tens(&xt, x, FIC_BF16, 2, sh, NULL);
  ds_tens(&rt, resid, FIC_BF16, 2, sh, NULL);
  ds_tens(&wt, w, FIC_BF16, 1, &m->c->hidden, NULL);
  FK(fic_fused_add_rmsnorm(m->rt, &xt.t, &rt.t, &wt.t, m->c->eps, m->pdl, m->stream));
}

/* Layers, final norm: m->d holds the final normalised hidden states of all
 * rows. prefill: the causal prefill plan m->plan; else the decode plan. */
static void forward(ds_model *m, const ds_views *v, int prefill, int hook) {
  const ds_config *c = m->c;
  const int64_t T = v->rows, H = c->hidden, I = c->mlp, Hq = c->q_heads, Hk = c->kv_heads, D = c->head_dim;
  const int64_t QKV = m->qkv_dim;
  CK(ds_gather_rows_bf16(m->resid, m->embed, v->ids, T, H, m->stream));
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
    gemm(m, x, L->w_qkv, m->qkv, T, H, QKV, 0);
    FK(fic_apply_llama31_rope_pos_ids(m->rt, &rp, m->stream));
    FK(fic_append_paged_kv_cache(m->rt, &ap, m->stream));
    if (prefill) {
      fic_batch_prefill_run_params r;
      FK(fic_batch_prefill_run_params_init(&r));
      r.q = &q.t, r.k = &kc.t, r.v = &vc.t, r.qo_indptr = &v->qo_indptr.t, r.kv_indptr = &v->kv_indptr.t;
      r.kv_indices = &v->kv_indices.t, r.kv_last_page_len = &v->last.t, r.out = &attn.t, r.sm_scale = sm_scale;
      r.enable_pdl = m->pdl ? FIC_PDL_ON : FIC_PDL_OFF;
      FK(fic_batch_prefill_run(m->plan, &r, m->stream));
    } else {
      fic_batch_decode_run_params r;
      FK(fic_batch_decode_run_params_init(&r));
      r.q = &q.t, r.k_cache = &kc.t, r.v_cache = &vc.t, r.kv_indptr = &v->kv_indptr.t;
      r.kv_indices = &v->kv_indices.t, r.kv_last_page_len = &v->last.t, r.out = &attn.t, r.sm_scale = sm_scale;
      r.enable_pdl = m->pdl ? FIC_PDL_ON : FIC_PDL_OFF;
      if (c->tensor_core_decode) r.qo_indptr = &v->qo_indptr.t; /* 0, 1, ..., batch */
      FK(fic_batch_decode_run(m->plan, &r, m->stream));
    }
    gemm(m, m->attn, L->w_o, m->o, T, Hq * D, H, 0);
    fused_add_rmsnorm(m, m->o, m->resid, L->mlp_norm, T);
    gemm(m, m->o, L->w_gu, m->gu, T, H, 2 * I, 0);
    FK(fic_silu_and_mul(m->rt, &act.t, &gu.t, m->pdl, m->stream));
    gemm(m, m->act, L->w_down, m->d, T, I, H, 0);
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
  gemm(m, hrows, m->lm_head, m->logits, rows, c->hidden, V, 1);
  ds_tensor lg, pr, rn, ws, rs, out;
  const int64_t sh[2] = {rows, V}, wsb = (int64_t)m->softmax_ws_bytes, rsb = (int64_t)FIC_TOPK_ROW_STATES_BYTES;
  ds_tens(&lg, m->logits, FIC_F32, 2, sh, NULL);
  ds_tens(&pr, m->probs, FIC_F32, 2, sh, NULL);
  ds_tens(&rn, m->renorm, FIC_F32, 2, sh, NULL);
  ds_tens(&ws, m->softmax_ws, FIC_U8, 1, &wsb, NULL);
  ds_tens(&rs, m->row_states, FIC_U8, 1, &rsb, NULL);
  ds_tens(&out, out_ids, FIC_I32, 1, &rows, NULL);
  FK(fic_softmax(m->rt, &ws.t, &lg.t, &pr.t, NULL, 1.0, m->pdl, m->stream));
  fic_sampling_params sp;
  FK(fic_sampling_params_init(&sp));
  sp.probs = &pr.t, sp.output = &out.t;
  sp.top_k = m->greedy ? 1 : 50;
  sp.top_p = m->greedy ? 1.0 : 0.9;
  sp.deterministic = 1;
  sp.philox_seed = m->philox_seed, sp.philox_offset = m->philox_offset;
  sp.filter_order = FIC_FILTER_TOP_K_FIRST; /* FlashInfer's default: top_k_renorm_probs, then top-p sampling */
  sp.renorm_buffer = &rn.t, sp.row_states = &rs.t;
  FK(fic_top_k_top_p_sampling_from_probs(m->rt, &sp, m->stream));
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
    upload(m, L.total);
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
  if (m->graph) CK(cudaGraphExecDestroy(m->graph));
  m->graph = NULL;
  ds_table_layout L = ds_layout(m->c, m->c->batch, m->c->batch);
  views(m, &m->dec, &L, m->c->batch, m->c->batch);
  m->dec.ids = m->ids; /* the sampled ids are the next step's input (no host round trip) */
}

void ds_decode_prepare(ds_model *m, int step) {
  const ds_config *c = m->c;
  const int64_t B = c->batch;
  ds_table_layout L = ds_layout(c, B, B);
  int32_t *tab = next_slot(m);
  for (int64_t i = 0; i < B; i++) m->seq_lens[i] = (int32_t)(m->ctx[i] + step + 1); /* after the append */
  page_table(m, tab, &L, 0, B, m->seq_lens);
  /* One appended token per sequence at position ctx + step; RoPE reads the same positions. */
  FK(fic_batch_indices_positions(m->arange, m->seq_lens, (int32_t)B, tab + L.batch_idx, tab + L.positions, B));
  memcpy(tab + L.qo_indptr, m->arange, (size_t)(B + 1) * 4);
  upload(m, L.total);
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
  p.kv_indptr = tab + L.kv_indptr, p.batch_size = B, p.num_qo_heads = c->q_heads, p.num_kv_heads = c->kv_heads;
  p.head_dim = c->head_dim, p.page_size = c->page_size, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
  p.kv_layout = FIC_KV_LAYOUT_NHD, p.enable_cuda_graph = m->plan_cuda_graph;
  p.use_tensor_cores = c->tensor_core_decode;
  FK(fic_attention_plan_destroy(m->plan));
  m->plan = NULL;
  FK(fic_batch_decode_plan(m->rt, m->ws, &p, m->stream, &m->plan));
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
