/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step's state and the functions its files share. */
#ifndef DS_H
#define DS_H

#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <time.h>

#include "config.h"
#include "flashinfer_c.h"

/* Fatal errors (GPU-side failures after the configuration was accepted): print
 * and exit 1. */
void ds_die(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));
#define CK(call)                                                                                       \
  do {                                                                                                 \
    cudaError_t e_ = (call);                                                                           \
    if (e_ != cudaSuccess) ds_die("%s:%d: %s: %s", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
  } while (0)
#define FK(call)                                                                                             \
  do {                                                                                                       \
    fic_status s_ = (call);                                                                                  \
    if (s_ != FIC_OK)                                                                                        \
      ds_die("%s:%d: %s: %s: %s", __FILE__, __LINE__, #call, fic_status_name(s_), fic_last_error_message()); \
  } while (0)
#define BK(call)                                                                                                \
  do {                                                                                                          \
    cublasStatus_t b_ = (call);                                                                                 \
    if (b_ != CUBLAS_STATUS_SUCCESS) ds_die("%s:%d: %s: cuBLAS status %d", __FILE__, __LINE__, #call, (int)b_); \
  } while (0)

/* A tensor descriptor with its own shape and strides. */
typedef struct ds_tensor {
  fic_tensor t;
  int64_t shape[4], strides[4];
} ds_tensor;
/* strides NULL: contiguous row-major. */
void ds_tens(ds_tensor *d, const void *data, fic_dtype dtype, int ndim, const int64_t *shape, const int64_t *strides);

typedef struct ds_layer {
  void *attn_norm, *w_qkv, *w_o, *mlp_norm, *w_gu, *w_down; /* bf16, PyTorch [out, in] */
  void *k_cache, *v_cache;                                  /* bf16 [num_pages, page_size, kv_heads, head_dim] */
} ds_layer;

/* ---- --host-profile: where an eager step's host time goes ---- */
typedef enum ds_prof_cat {
  DS_P_SLOT,     /* waiting for the staging slot's last copy (cudaEventSynchronize) */
  DS_P_TABLE,    /* host page table, positions (the changed part only) */
  DS_P_UPLOAD,   /* cudaMemcpyAsync of the changed range + cudaEventRecord */
  DS_P_PLAN,     /* fic_attention_plan_destroy + fic_batch_decode_plan */
  DS_P_GATHER,   /* embedding gather kernel */
  DS_P_RMSNORM,  /* fic_rmsnorm */
  DS_P_G_QKV,    /* GEMM h W_qkv^T */
  DS_P_ROPE,     /* fic_apply_llama31_rope_pos_ids */
  DS_P_APPEND,   /* fic_append_paged_kv_cache */
  DS_P_ATTN,     /* fic_batch_decode_run (prefill: fic_batch_prefill_run) */
  DS_P_G_O,      /* GEMM attn W_o^T */
  DS_P_ADDNORM,  /* fic_fused_add_rmsnorm */
  DS_P_G_GU,     /* GEMM o W_gu^T */
  DS_P_SILU,     /* fic_silu_and_mul */
  DS_P_G_DOWN,   /* GEMM a W_down^T */
  DS_P_G_LM,     /* GEMM LM head (f32 out) */
  DS_P_SOFTMAX,  /* fic_softmax */
  DS_P_SAMPLING, /* fic_top_k_top_p_sampling_from_probs */
  DS_P_N
} ds_prof_cat;
extern const char *const ds_prof_names[DS_P_N];
typedef struct ds_prof {
  int on;
  int64_t steps, total_ns, ns[DS_P_N], calls[DS_P_N];
  double median_ms; /* the profiled steps' median total */
} ds_prof;
/* CLOCK_MONOTONIC in ns (vDSO, ~20-30 ns a read). */
static inline int64_t ds_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
/* Bracket a call: t = ds_prof_begin(p); call; ds_prof_end(p, cat, t). Off: one
 * predictable branch each, no clock read. */
static inline int64_t ds_prof_begin(const ds_prof *p) { return p->on ? ds_ns() : 0; }
static inline void ds_prof_end(ds_prof *p, ds_prof_cat cat, int64_t t0) {
  if (p->on) {
    p->ns[cat] += ds_ns() - t0;
    p->calls[cat]++;
  }
}

/* ---- matrix products ---- */
/* The GEMM kinds (one cuBLASLt plan per kind and row count). */
typedef enum ds_gemm_kind { DS_GEMM_QKV, DS_GEMM_O, DS_GEMM_GU, DS_GEMM_DOWN, DS_GEMM_LM, DS_GEMM_KINDS } ds_gemm_kind;
/* y[rows, out] = x[rows, in] @ w[out, in]^T through cublasLtMatmul with
 * everything fixed at creation: the operation and layout descriptors and the
 * algorithm (cuBLASLt's first heuristic choice for this shape, the model's
 * 32 MiB workspace, 256-byte aligned operands). Eager steps and the captured
 * graph run the same algorithm on the same workspace, hence the same bits. */
typedef struct ds_gemm_plan {
  ds_gemm_kind kind;
  int64_t rows, in, out;
  int f32_out;
  cublasLtMatmulDesc_t op;
  cublasLtMatrixLayout_t a, b, c;
  cublasLtMatmulAlgo_t algo;
  size_t ws_bytes; /* what the algorithm needs (<= the model's workspace) */
  int algo_id, tile, stages, splitk, reduction;
} ds_gemm_plan;

/* Staging slots for the per-step index tables (page-locked, reused round robin,
 * each guarded by an event recorded after its copy). */
#define DS_SLOTS 4

/* Offsets (int32 elements) of the index tables inside the table buffer. */
typedef struct ds_table_layout {
  int64_t ids, qo_indptr, kv_indptr, kv_indices, last, batch_idx, positions, last_rows, total;
} ds_table_layout;
/* The tables of a forward of `rows` tokens over `seqs` sequences, in this
 * order: qo_indptr, batch_idx, ids, last_rows (fixed during decode), then
 * kv_indices, kv_indptr, last, positions (what a decode step changes), so that
 * a step uploads one contiguous tail. */
ds_table_layout ds_layout(const ds_config *c, int64_t rows, int64_t seqs);

/* A forward's index views (device tensors inside the table buffer). */
typedef struct ds_views {
  int64_t rows, seqs;
  ds_tensor qo_indptr, kv_indptr, kv_indices, last, batch_idx, positions;
  const int32_t *ids, *last_rows; /* device */
} ds_views;

typedef struct ds_model {
  ds_config *c;
  fic_runtime *rt;
  cudaStream_t stream;
  cublasHandle_t blas;
  cublasLtHandle_t lt;
  void *blas_ws;
  size_t blas_ws_bytes;
  ds_gemm_plan *gplan; /* --gemm lt: the plans made so far */
  int n_gplan, cap_gplan;
  ds_gemm_plan *gcur[DS_GEMM_KINDS]; /* the last plan used per kind (decode: always a hit) */
  int pdl;
  int64_t qkv_dim; /* (q_heads + 2 kv_heads) * head_dim */

  void *embed, *final_norm, *lm_head;
  ds_layer *layer;
  ds_tensor k_cache_t, v_cache_t; /* shape shared by all layers (data set per layer) */

  int64_t max_rows; /* rows of the activation buffers */
  void *resid, *h, *qkv, *attn, *o, *gu, *act, *d, *last_h;
  float *logits, *probs, *renorm;
  void *row_states, *softmax_ws;
  size_t softmax_ws_bytes;
  int32_t *ids;       /* [batch]: decode input ids = the sampling output */
  int32_t *tokens;    /* [steps, batch]: the sampled ids of a recorded run */
  uint32_t *prompt;   /* host [batch * context] prompt ids */
  int32_t *page_perm; /* host [batch * pages_per_seq] */
  int64_t *ctx;       /* host [batch] prompt lengths */

  int32_t *tab_dev;
  int32_t *tab_host[DS_SLOTS];
  cudaEvent_t tab_ev[DS_SLOTS];
  int slot;
  int64_t tab_cap;
  int32_t *arange; /* host 0..batch */
  int32_t *seq_lens;
  /* What the device table holds for the decode step (incremental uploads):
   * dec_valid 0 after a prefill or ds_decode_begin (the next step uploads
   * everything); dec_pages[i] sequence i's pages, dec_indptr their offsets. */
  int dec_valid;
  int32_t *dec_pages, *dec_indptr;

  void *ws_float, *ws_int, *ws_host;
  fic_attention_workspace *ws;
  fic_attention_plan *plan;

  fic_philox gen;
  uint64_t philox_seed, philox_offset; /* what the next sampling call uses */
  int greedy;                          /* sampling of this run */
  int plan_cuda_graph;                 /* decode plans with enable_cuda_graph */

  ds_views dec; /* the decode step's views (fixed buffers) */
  cudaGraphExec_t graph;

  ds_prof prof; /* --host-profile */

  /* check mode: layer-0 outputs of the prefill (host, bf16 bits) */
  uint16_t *hook_resid, *hook_h;
} ds_model;

/* model.c */
void ds_model_init(ds_model *m, ds_config *c, fic_runtime *rt);
void ds_model_free(ds_model *m);
void ds_fill_kv_random(ds_model *m);
/* forward.c */
void ds_gemm_init(ds_model *m); /* --gemm lt: the decode shapes' plans (model init) */
void ds_gemm_free(ds_model *m);
const char *ds_gemm_name(int kind);            /* ds_gemm_kind's name */
void ds_prefill(ds_model *m);                  /* all sequences; samples the first decode input into m->ids */
void ds_decode_begin(ds_model *m, int greedy); /* reset Philox; drop the graph */
void ds_decode_prepare(ds_model *m, int step); /* host table, upload, plan (outside any capture) */
void ds_decode_launch(ds_model *m);            /* the step's kernels (eager, or being captured) */
void ds_graph_capture(ds_model *m);
void ds_graph_replay(ds_model *m);
/* One whole step: prepare, then launch (graph: capture at the first graph step, then replay). */
void ds_decode_step(ds_model *m, int step, int use_graph, int record);
/* reference.c: --check's float64 comparison; 0 when within tolerance. */
typedef struct ds_ref_inputs {
  const int32_t *first;  /* [batch] the prefill's sampled ids (step 0's input) */
  const int32_t *tokens; /* [steps, batch] the GPU's sampled ids */
  const float *logits;   /* [3, batch, vocab] the GPU's logits of decode steps 0..2 */
} ds_ref_inputs;
int ds_reference_check(ds_model *m, const ds_ref_inputs *in);
/* bench.c */
double ds_now_ms(void);
double ds_median(double *v, int n);
void ds_bench(ds_model *m);
void ds_json_tokens(ds_model *m, const int32_t *tokens, int greedy, const char *mode);

#endif
