/* SPDX-License-Identifier: Apache-2.0 */
/* A batch of sequences over a paged (or ragged) KV cache for the GPU
 * attention tests: random lengths and non-contiguous page tables, caches in
 * bf16, f16 or e4m3, the device buffers, plans and runs through the typed
 * API, and the check against the float64 reference (src/checks/reference.c,
 * ref_attention, which implements FlashInfer's window, soft cap, custom mask
 * and base-2 LSE; see reference.h). */
#ifndef FIC_TEST_ATTN_BATCH_H
#define FIC_TEST_ATTN_BATCH_H

#include "gpu_util.h"

/* Element types of q (and out) and of the KV cache. */
enum { AT_BF16 = 0, AT_F16 = 1, AT_E4M3 = 2 };

/* Tolerances (relative L2 against float64). The output is rounded to 16
 * bits (bf16: relative error <= 2^-9, about 2e-3) and the tensor-core
 * kernels also round the softmax weights before P.V (another ~2e-3): 1e-2
 * leaves a margin of 2.5 to 5 while any wrong mask, page, head mapping or
 * scale gives errors of order 1. The LSE is fp32 from the same inputs:
 * 1e-3; with a soft cap FlashInfer's tanh is the fast approximation
 * (relative error ~2^-11 on logits of order cap): 3e-3. */
#define AT_AUTO (-1) /* attn_case.backend: let the library choose */
#define AT_OUT_TOL 1e-2
#define AT_LSE_TOL 1e-3
#define AT_LSE_TOL_CAP 3e-3

typedef struct attn_case {
  const char *name;
  int64_t batch, hq, hkv, page; /* page 0: ragged KV */
  int64_t layout;
  int64_t max_kv, max_qo; /* max_qo 0: decode (one row per sequence) */
  int causal, tensor_cores;
  /* Zero means the default for each of these. */
  int64_t dim;            /* head dim: 128 */
  int q_type, kv_type;    /* AT_BF16; kv also AT_F16 or AT_E4M3 */
  int windowed;           /* 1: window_left below is used */
  int64_t window_left;    /* keys visible: j >= kv_len - qo_len + i - window_left */
  double soft_cap;        /* 0: none */
  double k_scale;         /* 0: 1. FlashInfer's wrappers fold k_scale into sm_scale */
  int custom_mask;        /* prefill: a random mask, every row keeps a key */
  int64_t long_kv;        /* > 0: sequences 1 and 2 (batch >= 4) get this many keys */
  const int64_t *kv_lens; /* [batch]: these lengths instead of random ones */
  const int64_t *qo_lens; /* [batch]: these query rows (prefill) */
  int64_t total_num_rows; /* prefill plan's total_num_rows (0: the rows) */
  int backend;            /* prefill: 0 FA2 (forced), FIC_ATTENTION_BACKEND_FA3 (forced), AT_AUTO */
  int64_t dim_vo;         /* prefill: head dim of V and out (0: dim); q and K use dim */
} attn_case;

typedef struct kv_batch {
  attn_case c;
  int64_t dim, dim_vo;                                      /* q/K, and V/out head dims */
  int64_t qsize, kvsize;                                    /* bytes per element */
  int64_t *qo_indptr, *kv_len, *kv_indptr, *indices, *last; /* host, int64 */
  int32_t *qo_indptr32, *kv_indptr32, *last32;              /* host, for the plan */
  int64_t rows, pages, pool;                                /* pool: pages allocated (>= pages) */
  unsigned char *k_bytes, *v_bytes;                         /* the cache as stored */
  double *q, **k_seq, **v_seq;                              /* what the reference reads (V: dim_vo) */
  uint16_t *q_bits;
  uint8_t **mask_seq;   /* custom mask per sequence [qo_len * kv_len] */
  int64_t *mask_indptr; /* bytes, [batch + 1] */
  uint8_t *mask_packed; /* little bit order, each sequence from a byte */
  void *dq, *dk, *dv, *dqo, *dkvi, *dind, *dlast, *dout, *dlse, *dmask, *dmask_indptr;
} kv_batch;

/* Fresh random contents on the device (outputs poisoned: all-ones bits). */
void kv_batch_new(kv_batch *b, const attn_case *c, ref_rng *r);
void kv_batch_free(kv_batch *b);
void kv_batch_poison(kv_batch *b);
/* New cache contents and a fresh page table, same lengths, same buffers. */
void kv_batch_new_pages(kv_batch *b, ref_rng *r);

fic_dtype at_q_dtype(const attn_case *c);
fic_dtype at_kv_dtype(const attn_case *c);
double at_sm_scale(const kv_batch *b);

/* The run's tensors over `b`'s buffers. */
typedef struct at_descs {
  kt_desc q, k, v, qo, kvi, ind, last, out, lse, mask, mask_indptr;
} at_descs;
at_descs at_make_descs(const kv_batch *b);

/* Plan `b` on `ws`. Returns the status (FIC_ERR_NOT_FOUND: no module). */
fic_status at_plan(fic_runtime *rt, fic_attention_workspace *ws, const kv_batch *b, int graph, cudaStream_t s,
                   fic_attention_plan **out);
/* Run over the tensors `d` (at_make_descs, maybe pointed elsewhere). */
fic_status at_run(const fic_attention_plan *plan, const kv_batch *b, at_descs *d, cudaStream_t s);
/* Compare out and lse at these device pointers with the reference. */
void at_check(const kv_batch *b, const void *out, const void *lse, const char *what);

/* The group's runtime over FIC_ATTN_WHEEL with the bf16/hd128 decode and
 * FA2 prefill modules, opened (preloaded) by the first test that asks;
 * skips without a GPU, the wheel or a module. Teardown: kt_teardown. */
fic_runtime *at_group_rt(void **state);

void at_expect_same_bits(const void *x, const void *y, size_t bytes, const char *what);

#endif
