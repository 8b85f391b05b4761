/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step's state and the functions its files share. */
#ifndef DS_H
#define DS_H

#include <cublas_v2.h>
#include <cuda_runtime_api.h>
#include <stdint.h>

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

/* Staging slots for the per-step index tables (page-locked, reused round robin,
 * each guarded by an event recorded after its copy). */
#define DS_SLOTS 4

/* Offsets (int32 elements) of the index tables inside the table buffer. */
typedef struct ds_table_layout {
  int64_t ids, qo_indptr, kv_indptr, kv_indices, last, batch_idx, positions, last_rows, total;
} ds_table_layout;

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
  void *blas_ws;
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

  void *ws_float, *ws_int, *ws_host;
  fic_attention_workspace *ws;
  fic_attention_plan *plan;

  fic_philox gen;
  uint64_t philox_seed, philox_offset; /* what the next sampling call uses */
  int greedy;                          /* sampling of this run */
  int plan_cuda_graph;                 /* decode plans with enable_cuda_graph */

  ds_views dec; /* the decode step's views (fixed buffers) */
  cudaGraphExec_t graph;

  /* check mode: layer-0 outputs of the prefill (host, bf16 bits) */
  uint16_t *hook_resid, *hook_h;
} ds_model;

/* model.c */
void ds_model_init(ds_model *m, ds_config *c, fic_runtime *rt);
void ds_model_free(ds_model *m);
void ds_fill_kv_random(ds_model *m);
/* forward.c */
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
void ds_json_tokens(ds_model *m, const int32_t *tokens, int greedy);

#endif
