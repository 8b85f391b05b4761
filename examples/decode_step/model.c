/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step: device memory, the deterministic weights, the KV cache and its
 * page permutation, the attention workspace, the index-table staging. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"
#include "ds_kernels.h"

void ds_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "decode_step: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(DS_EXIT_CHECK);
}

void ds_tens(ds_tensor *d, const void *data, fic_dtype dtype, int ndim, const int64_t *shape, const int64_t *strides) {
  memset(d, 0, sizeof *d);
  int64_t st = 1;
  for (int i = ndim - 1; i >= 0; i--) {
    d->shape[i] = shape[i];
    d->strides[i] = strides ? strides[i] : st;
    st *= shape[i];
  }
  d->t.data = (void *)data;
  d->t.device.device_type = FIC_DEVICE_CUDA;
  d->t.device.device_id = 0;
  d->t.ndim = ndim;
  d->t.dtype = dtype;
  d->t.shape = d->shape;
  d->t.strides = d->strides;
}

static void *dalloc(size_t bytes) {
  void *p = NULL;
  CK(cudaMalloc(&p, bytes ? bytes : 16));
  return p;
}
static void *halloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 16);
  if (!p) ds_die("out of host memory (%zu bytes)", bytes);
  return p;
}

/* A bf16 tensor of n elements filled per the specification. */
static void *weight(ds_model *m, size_t n, uint32_t stream, float scale, float offset) {
  void *p = dalloc(n * 2);
  CK(ds_fill_hash_bf16(p, n, m->c->seed, stream, 0, scale, offset, m->stream));
  return p;
}
static void *norm_weight(ds_model *m, size_t n, uint32_t stream) { return weight(m, n, stream, 0.1f, 1.0f); }

/* The page permutation: Fisher-Yates over 0 .. n-1 with hash(seed, 9, k) % (n - k). */
static void page_permutation(ds_model *m) {
  const ds_config *c = m->c;
  int64_t n = (int64_t)c->batch * c->pages_per_seq;
  m->page_perm = halloc((size_t)n * sizeof(int32_t));
  for (int64_t i = 0; i < n; i++) m->page_perm[i] = (int32_t)i;
  for (int64_t k = 0; k + 1 < n; k++) {
    int64_t j = k + (int64_t)(ds_hash(c->seed, 9, (uint32_t)k) % (uint32_t)(n - k));
    int32_t t = m->page_perm[k];
    m->page_perm[k] = m->page_perm[j];
    m->page_perm[j] = t;
  }
}

void ds_fill_kv_random(ds_model *m) {
  const ds_config *c = m->c;
  /* Layer l's K cache element e gets uniform(seed, 7, (2l) * E + e), its V
   * cache (2l + 1) * E + e (E: elements per cache; indices mod 2^32), scale 1:
   * uniform bf16 in [-1, 1). Every page is filled, used or not. */
  size_t elems = (size_t)c->num_pages * (size_t)c->page_size * (size_t)c->kv_heads * (size_t)c->head_dim;
  for (int l = 0; l < c->layers; l++) {
    CK(ds_fill_hash_bf16(m->layer[l].k_cache, elems, c->seed, 7, (uint64_t)(2 * l) * elems, 1.0f, 0.0f, m->stream));
    CK(ds_fill_hash_bf16(m->layer[l].v_cache, elems, c->seed, 7, (uint64_t)(2 * l + 1) * elems, 1.0f, 0.0f, m->stream));
  }
  CK(cudaStreamSynchronize(m->stream));
}

/* Table layout for a forward of `rows` tokens over `seqs` sequences (ds.h).
 * The decode step uses it with rows = seqs = batch. */
ds_table_layout ds_layout(const ds_config *c, int64_t rows, int64_t seqs) {
  ds_table_layout L;
  int64_t o = 0;
  /* every table starts 16-byte aligned */
#define PUT(f, n) (L.f = o, o += ((n) + 3) / 4 * 4)
  /* fixed during decode */
  PUT(qo_indptr, seqs + 1);
  PUT(batch_idx, rows);
  PUT(ids, rows);
  PUT(last_rows, seqs);
  /* a decode step's changes: a tail of the table */
  PUT(kv_indices, seqs * c->pages_per_seq);
  PUT(kv_indptr, seqs + 1);
  PUT(last, seqs);
  PUT(positions, rows);
#undef PUT
  L.total = o;
  return L;
}

void ds_model_init(ds_model *m, ds_config *c, fic_runtime *rt) {
  memset(m, 0, sizeof *m);
  m->c = c;
  m->rt = rt;
  const int64_t H = c->hidden, I = c->mlp, V = c->vocab, B = c->batch;
  m->qkv_dim = (c->q_heads + 2 * c->kv_heads) * c->head_dim;
  CK(cudaStreamCreateWithFlags(&m->stream, cudaStreamNonBlocking));
  int dev = 0, major = 0;
  CK(cudaGetDevice(&dev));
  CK(cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev));
  m->pdl = !c->no_pdl && major >= 9; /* FlashInfer's default: PDL on SM 9.0+ */

  /* cuBLAS: one handle on the step's stream with a fixed workspace, so that
   * nothing is allocated during graph capture and eager and graph runs pick
   * the same algorithms. cublasSetStream resets the workspace: set it after. */
  BK(cublasCreate(&m->blas));
  BK(cublasSetStream(m->blas, m->stream));
  m->blas_ws_bytes = (size_t)32 << 20;
  m->blas_ws = dalloc(m->blas_ws_bytes);
  BK(cublasSetWorkspace(m->blas, m->blas_ws, m->blas_ws_bytes));
  /* --gemm lt: cuBLASLt on the same workspace, the decode shapes' algorithms chosen now */
  ds_gemm_init(m);

  /* Weights, streams and scales of the specification. */
  m->embed = weight(m, (size_t)V * H, 1, 1.0f, 0.0f);
  m->final_norm = norm_weight(m, (size_t)H, 2);
  m->lm_head = weight(m, (size_t)V * H, 3, (float)sqrt(3.0 / (double)H), 0.0f);
  m->layer = halloc((size_t)c->layers * sizeof *m->layer);
  size_t cache = (size_t)c->num_pages * (size_t)c->page_size * (size_t)c->kv_heads * (size_t)c->head_dim;
  for (int l = 0; l < c->layers; l++) {
    ds_layer *L = &m->layer[l];
    uint32_t s = 16u + 16u * (uint32_t)l;
    int64_t qd = c->q_heads * c->head_dim;
    L->attn_norm = norm_weight(m, (size_t)H, s + 0);
    L->w_qkv = weight(m, (size_t)m->qkv_dim * H, s + 1, (float)sqrt(3.0 / (double)H), 0.0f);
    L->w_o = weight(m, (size_t)H * qd, s + 2, (float)sqrt(3.0 / (double)qd), 0.0f);
    L->mlp_norm = norm_weight(m, (size_t)H, s + 3);
    L->w_gu = weight(m, (size_t)2 * I * H, s + 4, (float)sqrt(3.0 / (double)H), 0.0f);
    L->w_down = weight(m, (size_t)H * I, s + 5, (float)sqrt(3.0 / (double)I), 0.0f);
    L->k_cache = dalloc(cache * 2);
    L->v_cache = dalloc(cache * 2);
  }
  const int64_t cache_shape[4] = {c->num_pages, c->page_size, c->kv_heads, c->head_dim};
  ds_tens(&m->k_cache_t, m->layer[0].k_cache, FIC_BF16, 4, cache_shape, NULL);
  ds_tens(&m->v_cache_t, m->layer[0].v_cache, FIC_BF16, 4, cache_shape, NULL);

  /* Prompts (host: the tables are built there) and pages. */
  m->ctx = halloc((size_t)B * sizeof *m->ctx);
  int64_t max_chunk_rows = 0;
  for (int64_t i = 0; i < B; i++) m->ctx[i] = ds_seq_context(c, i);
  for (int64_t s0 = 0; s0 < B; s0 += c->seqs_per_chunk) {
    int64_t rows = 0;
    for (int64_t i = s0; i < B && i < s0 + c->seqs_per_chunk; i++) rows += m->ctx[i];
    if (rows > max_chunk_rows) max_chunk_rows = rows;
  }
  m->prompt = halloc((size_t)B * (size_t)c->context * sizeof *m->prompt);
  for (int64_t i = 0; i < B * c->context; i++) m->prompt[i] = ds_hash(c->seed, 5, (uint32_t)i) % (uint32_t)V;
  page_permutation(m);

  /* Activations for the largest forward: a prefill chunk or the decode batch. */
  m->max_rows = c->fill_random ? B : (max_chunk_rows > B ? max_chunk_rows : B);
  const size_t R = (size_t)m->max_rows;
  m->resid = dalloc(R * H * 2);
  m->h = dalloc(R * H * 2);
  m->qkv = dalloc(R * m->qkv_dim * 2);
  m->attn = dalloc(R * c->q_heads * c->head_dim * 2);
  m->o = dalloc(R * H * 2);
  m->gu = dalloc(R * 2 * I * 2);
  m->act = dalloc(R * I * 2);
  m->d = dalloc(R * H * 2);
  m->last_h = dalloc((size_t)B * H * 2);
  m->logits = dalloc((size_t)B * V * 4);
  m->probs = dalloc((size_t)B * V * 4);
  m->renorm = dalloc((size_t)B * V * 4);
  m->row_states = dalloc(FIC_TOPK_ROW_STATES_BYTES);
  CK(cudaMemsetAsync(m->row_states, 0, FIC_TOPK_ROW_STATES_BYTES, m->stream)); /* once, as FlashInfer */
  size_t sw = (size_t)1 << 20, need = 0;
  for (int64_t b = 1; b <= B; b++) { /* the split path's size grows with the rows (<= 128) */
    FK(fic_softmax_workspace_size(b, V, &need));
    if (need > sw) sw = need;
  }
  m->softmax_ws_bytes = sw;
  m->softmax_ws = dalloc(sw);
  m->ids = dalloc((size_t)B * 4);
  m->tokens = dalloc((size_t)c->steps * B * 4);

  /* Index tables: the larger of a prefill chunk's and the decode step's. */
  ds_table_layout lp = ds_layout(c, c->fill_random ? 0 : max_chunk_rows, c->seqs_per_chunk < B ? c->seqs_per_chunk : B);
  ds_table_layout ld = ds_layout(c, B, B);
  m->tab_cap = lp.total > ld.total ? lp.total : ld.total;
  m->tab_dev = dalloc((size_t)m->tab_cap * 4);
  for (int i = 0; i < DS_SLOTS; i++) {
    CK(cudaHostAlloc((void **)&m->tab_host[i], (size_t)m->tab_cap * 4, cudaHostAllocDefault));
    CK(cudaEventCreateWithFlags(&m->tab_ev[i], cudaEventDisableTiming));
    CK(cudaEventRecord(m->tab_ev[i], m->stream));
  }
  m->arange = halloc((size_t)(B + 1) * 4);
  for (int64_t i = 0; i <= B; i++) m->arange[i] = (int32_t)i;
  m->seq_lens = halloc((size_t)B * 4);
  m->dec_pages = halloc((size_t)B * 4);
  m->dec_indptr = halloc((size_t)(B + 1) * 4);

  /* FlashInfer's attention workspace (128 MiB float, 8 MiB int, 8 MiB host). */
  fic_attention_workspace_desc wd;
  FK(fic_attention_workspace_desc_init(&wd));
  FK(fic_attention_workspace_sizes(&wd.float_bytes, &wd.int_bytes, &wd.host_bytes));
  m->ws_float = dalloc(wd.float_bytes);
  m->ws_int = dalloc(wd.int_bytes);
  CK(cudaHostAlloc(&m->ws_host, wd.host_bytes, cudaHostAllocDefault));
  wd.float_buffer = m->ws_float, wd.int_buffer = m->ws_int, wd.host_buffer = m->ws_host;
  wd.device_id = dev;
  FK(fic_attention_workspace_create(rt, &wd, &m->ws));

  if (c->fill_random) ds_fill_kv_random(m);
  CK(cudaStreamSynchronize(m->stream));
}

void ds_model_free(ds_model *m) {
  const ds_config *c = m->c;
  CK(cudaStreamSynchronize(m->stream));
  if (m->graph) CK(cudaGraphExecDestroy(m->graph));
  FK(fic_attention_plan_destroy(m->plan));
  FK(fic_attention_workspace_destroy(m->ws));
  void *dev[] = {m->embed,      m->final_norm, m->lm_head, m->resid,   m->h,        m->qkv,    m->attn,   m->o,
                 m->gu,         m->act,        m->d,       m->last_h,  m->logits,   m->probs,  m->renorm, m->row_states,
                 m->softmax_ws, m->ids,        m->tokens,  m->tab_dev, m->ws_float, m->ws_int, m->blas_ws};
  for (size_t i = 0; i < sizeof dev / sizeof *dev; i++) CK(cudaFree(dev[i]));
  for (int l = 0; l < c->layers; l++) {
    ds_layer *L = &m->layer[l];
    void *p[] = {L->attn_norm, L->w_qkv, L->w_o, L->mlp_norm, L->w_gu, L->w_down, L->k_cache, L->v_cache};
    for (size_t i = 0; i < sizeof p / sizeof *p; i++) CK(cudaFree(p[i]));
  }
  for (int i = 0; i < DS_SLOTS; i++) {
    CK(cudaFreeHost(m->tab_host[i]));
    CK(cudaEventDestroy(m->tab_ev[i]));
  }
  CK(cudaFreeHost(m->ws_host));
  ds_gemm_free(m);
  BK(cublasDestroy(m->blas));
  CK(cudaStreamDestroy(m->stream));
  free(m->layer), free(m->ctx), free(m->prompt), free(m->page_perm), free(m->arange), free(m->seq_lens);
  free(m->dec_pages), free(m->dec_indptr);
  free(m->hook_resid), free(m->hook_h);
}
