/* SPDX-License-Identifier: Apache-2.0 */
/* Paged-KV attention (batch decode, batch prefill) of FlashInfer 0.6.3:
 * the workspace object, the plan object and what plan and run share.
 * attn_workspace.c orders plans on the page-locked buffer; attn_plan.c
 * validates, picks the module and plans; attn_run.c checks a run against
 * its plan and calls it; attn_fa3.c holds what differs for FA3 (`_sm90`)
 * prefill: the backend rule and the plan's and runs' argument lists. */
#ifndef FIC_KERNELS_ATTENTION_H
#define FIC_KERNELS_ATTENTION_H

#include <pthread.h>
#include <stdatomic.h>

#include "ffi/call.h"
#include "kernels/kernels.h"
#include "kernels/module_names.h"
#include "kernels/validate.h"

/* FlashInfer's defaults (decode.py / prefill.py): 128 MiB float workspace,
 * 8 MiB int workspace and as much page-locked host memory. */
#define FIC_ATTN_FLOAT_WORKSPACE_BYTES ((size_t)128 << 20)
#define FIC_ATTN_INT_WORKSPACE_BYTES ((size_t)8 << 20)
#define FIC_ATTN_HOST_WORKSPACE_BYTES ((size_t)8 << 20)
/* FlashInfer's allocator aligns its offsets to 16 bytes from the base. */
#define FIC_ATTN_WORKSPACE_ALIGN 16

/* The CUDA event calls the workspace makes: the loaded libcudart's, or a
 * test's fake (fic__attn_workspace_set_event_ops). */
typedef struct fic__event_ops {
  int (*create)(void **event, unsigned flags);
  int (*record)(void *event, void *stream);
  int (*synchronize)(void *event);
  int (*destroy)(void *event);
  const char *(*error_string)(int error);
  /* cudaMemcpyAsync: the tensor-core decode plan's qo_indptr (0.2.0). */
  int (*memcpy_async)(void *dst, const void *src, size_t bytes, int kind, void *stream);
} fic__event_ops;

/* A 1-D byte tensor over one of the caller's buffers (immutable after create). */
typedef struct fic__attn_buffer {
  fic_tensor t;
  int64_t shape[1];
  int64_t strides[1];
} fic__attn_buffer;

/* The exports a plan resolves (fic__attn_plan_fn). */
typedef enum fic__attn_export {
  FIC__ATTN_EXPORT_PLAN = 0,
  FIC__ATTN_EXPORT_RUN,        /* decode and MLA */
  FIC__ATTN_EXPORT_PAGED_RUN,  /* prefill */
  FIC__ATTN_EXPORT_RAGGED_RUN, /* prefill */
  FIC__ATTN_EXPORT_COUNT
} fic__attn_export;

/* What a module pick depends on: the module parameters wanted (backend
 * zero), the backend the caller asked for, whether FA3 can run the plan's
 * parameters (fic__fa3_unfit; 0 for decode), and the device's compute
 * capability. Compared with memcmp: build it over memset zeros. */
typedef struct fic__attn_pick_key {
  fic__attn_params want;
  int64_t backend; /* fic_attention_backend */
  int32_t fa3_fit;
  int32_t cc;
} fic__attn_pick_key;

/* A successful module pick a workspace remembers, so that the next plan
 * with the same key skips naming the module, looking it up (a missing FA3
 * module is a look in the wheel each time) and resolving its exports.
 * Immutable once published, except `fns`, filled as resolved (racing
 * stores write the same pointer). Freed with the workspace. */
typedef struct fic__attn_pick {
  struct fic__attn_pick *next;
  fic__attn_pick_key key;
  fic__attn_backend backend;
  _Atomic(const struct fic_function *) fns[FIC__ATTN_EXPORT_COUNT];
  char module[FIC__MODULE_NAME_CAP];
} fic__attn_pick;

/* At most this many picks per workspace (a serving loop uses a few). */
#define FIC__ATTN_MAX_PICKS 64

struct fic_attention_workspace {
  fic_runtime *rt;
  fic_attention_workspace_desc desc;
  fic__attn_buffer float_buf, int_buf, host_buf; /* host_buf is a CPU tensor */
  pthread_mutex_t lock;                          /* serialises plans */
  fic__event_ops ev;
  void *event;                     /* created by the first record */
  int event_pending;               /* recorded after a plan, not yet waited for */
  int broken;                      /* an event call failed: the buffer's state is unknown */
  _Atomic uint64_t generation;     /* plans made so far; a plan runs only while it is the last */
  _Atomic(fic__attn_pick *) picks; /* lock-free list, newest first (pushed with CAS) */
  _Atomic int num_picks;
};

/* Before a plan writes the page-locked buffer: take the lock, wait for the
 * previous plan's copy (a host wait only if it has not run yet). On failure
 * the lock is not held. */
fic_status fic__attn_ws_plan_begin(fic_attention_workspace *ws);
/* After the plan's call (`called`: the upstream plan ran, so the buffers may
 * have changed): record the event on `stream` when the call succeeded,
 * advance the generation, release the lock. *generation receives the new
 * plan's generation. */
fic_status fic__attn_ws_plan_end(fic_attention_workspace *ws, void *stream, int succeeded, uint64_t *generation);
/* The pick remembered for `key`, or NULL. */
fic__attn_pick *fic__attn_pick_find(fic_attention_workspace *ws, const fic__attn_pick_key *key);
/* Remember that `key` picked `module` with `backend`; NULL (nothing
 * remembered, nothing recorded) when out of memory or at the limit. */
fic__attn_pick *fic__attn_pick_add(fic_attention_workspace *ws, const fic__attn_pick_key *key,
                                   fic__attn_backend backend, const char *module);
/* Replace the event calls (tests). */
void fic__attn_workspace_set_event_ops(fic_attention_workspace *ws, const fic__event_ops *ops);

typedef enum fic__attn_kind {
  FIC__ATTN_KIND_DECODE = 0,     /* batch_decode_* plan/run */
  FIC__ATTN_KIND_DECODE_TC,      /* decode through the prefill module (tensor cores) */
  FIC__ATTN_KIND_PREFILL_PAGED,  /* batch_prefill_* plan/paged_run */
  FIC__ATTN_KIND_PREFILL_RAGGED, /* batch_prefill_* plan/ragged_run */
  FIC__ATTN_KIND_MLA             /* batch_mla_attention_* plan/run (attn_mla.c) */
} fic__attn_kind;

struct fic_attention_plan {
  fic_runtime *rt; /* releases `info`: destroy does not touch the workspace */
  fic_attention_workspace *ws;
  uint64_t generation;
  fic__attn_kind kind;
  fic__attn_backend backend; /* the module's: FA3 only for prefill kinds */
  const struct fic_function *run;
  fic__attn_pick *pick; /* the workspace's record of this plan's module pick, or NULL */
  fic_any info;         /* the plan's Array<int64_t>, owned: released once by destroy */
  char module[FIC__MODULE_NAME_CAP];
  int64_t batch, qo_heads, kv_heads, head_dim_qk, head_dim_vo, page_size;
  int64_t kv_layout, window_left, causal, cuda_graph;
  int64_t total_rows; /* rows of q and out */
  int64_t kv_total;   /* kv_indptr[batch]: pages (paged) or tokens (ragged) */
  double soft_cap;
  fic_dtype q_dtype, kv_dtype, o_dtype;
  int32_t device_id;
  int pdl_auto; /* compute capability >= 9 */
  /* MLA plans: the latent cache's two parts and the plan's sm_scale */
  int64_t head_dim_ckv, head_dim_kpe;
  double sm_scale;
  /* Tensor-core decode: arange(batch + 1) in the int workspace's tail,
   * written by the plan (fic__attn_tail_*); the run's qo_indptr. */
  fic__attn_buffer qo_arange;
  /* Prefill: the fewest bytes a packed custom mask can hold (every
   * sequence's ceil(qo_len * kv_len / 8) with kv_len at its smallest:
   * exact for ragged KV, last pages of one token for paged KV). */
  int64_t mask_min_bytes;
};

/* ---- shared by the plan files (attn_plan.c defines them) ---- */

/* out, rt and ws non-NULL, ws made on rt; *out = NULL. */
fic_status fic__attn_plan_start(fic_runtime *rt, fic_attention_workspace *ws, fic_attention_plan **out);
/* A zeroed plan of `kind` on `ws` (FIC_ERR_NO_MEMORY). */
fic_status fic__attn_plan_new(fic_attention_workspace *ws, fic__attn_kind kind, fic_attention_plan **out);
/* Call the upstream plan `fn` under the workspace's ordering; on success the
 * plan owns the returned Array. */
fic_status fic__attn_call_plan(fic_attention_plan *p, const struct fic_function *fn, const fic_any *args, int32_t n,
                               void *stream);
/* On failure destroy `p` and return `st`; else *out = p. */
fic_status fic__attn_plan_finish(fic_attention_plan *p, fic_status st, fic_attention_plan **out);
/* Export `name` of `module`. */
fic_status fic__attn_get_fn(fic_runtime *rt, const char *module, const char *name, void *stream,
                            const struct fic_function **out);
/* Export `e` of the plan's module: from the plan's pick when resolved
 * before, else fic__attn_get_fn (remembered in the pick). */
fic_status fic__attn_plan_fn(fic_runtime *rt, fic_attention_plan *pl, fic__attn_export e, void *stream,
                             const struct fic_function **out);
/* A host (CPU) 1-D tensor over `data`; shape and stride live in `store`. */
void fic__attn_host_tensor(fic__attn_buffer *store, const void *data, fic_dtype dtype, int64_t n);
/* `failure` (module `want` is not in the wheel) replaced, when the wheel can
 * be listed, by a message naming what it has for the nearest parameters. */
fic_status fic__attn_module_missing(fic_runtime *rt, const fic__attn_params *want, fic_status failure);
/* Plan parameter checks naming `name`: a flag (0 or 1), an int in [1,
 * INT32_MAX], a host indptr of batch + 1 entries (0 first, non-decreasing). */
fic_status fic__attn_check_flag(const char *name, int64_t v);
fic_status fic__attn_check_positive(const char *name, int64_t v);
fic_status fic__attn_check_indptr(const char *name, const int32_t *indptr, int64_t batch);
/* total_num_rows: 0 becomes `rows` (qo_indptr[batch_size]); else it must be
 * in [rows, INT32_MAX] and >= 1. */
fic_status fic__attn_check_total_rows(int64_t *total_num_rows, int64_t rows);

/* ---- shared by the run files (attn_run.c) ---- */

/* `pl` is still its workspace's current plan (a later plan on the same
 * workspace overwrote its schedule otherwise). */
fic_status fic__attn_plan_current(const fic_attention_plan *pl);
/* ---- shared by attn_run.c and attn_fa3.c ---- */

/* A run's validated tensors and scalars (attn_run.c fills them). */
typedef struct fic__attn_run_args {
  fic_vt q, k, v, qo_indptr, kv_indptr, kv_indices, last_page_len, out, lse;
  const fic_tensor *lse_given;
  const fic_any *mask; /* [2] custom mask and mask indptr objects, or NULL */
  double sm_scale, rope_rcp_scale, rope_rcp_theta;
  int pdl;
} fic__attn_run_args;

/* The arguments every batch prefill run starts with, FA2 and FA3 alike
 * (attn_run.c): writes 13 (ragged) or 15 (paged) into args, returns the count. */
int fic__attn_prefill_run_head(const fic_attention_plan *pl, const fic__attn_run_args *a, int ragged, int mask_mode,
                               fic_any *args);

/* A batch prefill plan's inputs, FA2 and FA3 (host arrays as the caller
 * gave them). kv_last_page_len: FA3 paged only; tail: FA2 only. */
typedef struct fic__attn_prefill_plan_in {
  const int32_t *qo_indptr, *kv_indptr, *kv_last_page_len;
  int64_t total_rows, batch, hq, hkv, page_size, cuda_graph, dqk, dvo, causal, window_left;
  int ragged;
  const struct fic__attn_tail *tail; /* tensor-core decode: FlashInfer gets the int workspace less the tail */
} fic__attn_prefill_plan_in;

/* The 16 arguments every batch prefill plan starts with, FA2's PrefillPlan
 * and FA3's SM90Plan alike (attn_plan.c): the workspaces with `int_ws` as
 * the int workspace FlashInfer sees, host qo_indptr, kv_indptr and `kv_len`
 * (over `bufs`, which must outlive the call), then the shape. */
void fic__attn_prefill_plan_head(const fic_attention_plan *pl, const fic_tensor *int_ws,
                                 const fic__attn_prefill_plan_in *in, const int32_t *kv_len, fic__attn_buffer bufs[3],
                                 fic_any *args);

/* ---- FA3 prefill (attn_fa3.c) ---- */

/* What the FA3 rule reads from a prefill plan's parameters. */
typedef struct fic__fa3_query {
  fic_dtype q, kv, o;
  int64_t head_dim_qk, head_dim_vo, ragged, kv_layout;
  const int32_t *kv_last_page_len; /* paged: needed for the exact KV lengths */
} fic__fa3_query;

/* NULL when FA3 can run `q` (the device and the wheel aside); otherwise
 * why not, with *field the parameter to name. */
const char *fic__fa3_unfit(const fic__fa3_query *q, const char **field);

/* BatchPrefillWithKVCacheSM90Plan's 16 arguments; resolves the plan's run. */
fic_status fic__fa3_plan(fic_runtime *rt, fic_attention_plan *pl, const fic__attn_prefill_plan_in *in, void *stream);
/* The FA3 paged_run (24) or ragged_run (22) call of a 16-bit module. */
fic_status fic__fa3_run(const fic_attention_plan *pl, const fic__attn_run_args *a, int ragged, void *stream);

/* The int workspace's tail holding a tensor-core decode plan's
 * arange(batch + 1): bytes (16-byte multiple) and offset from the base. */
typedef struct fic__attn_tail {
  size_t offset, bytes;
  int64_t batch;
} fic__attn_tail;

/* The tail for `batch` in `ws`; FIC_ERR_INVALID_ARGUMENT when the int
 * workspace cannot hold it with room to spare. */
fic_status fic__attn_tail_plan(const fic_attention_workspace *ws, int64_t batch, fic__attn_tail *tail);
/* Under the plan's lock, after FlashInfer's plan: write the arange into the
 * page-locked buffer's tail and copy it to the int workspace on `stream`
 * (ordered before the workspace's event, like FlashInfer's own copy). */
fic_status fic__attn_tail_write(fic_attention_workspace *ws, const fic__attn_tail *tail, void *stream);
/* A device int32 [batch + 1] tensor over the tail, in `store`. */
void fic__attn_tail_tensor(const fic_attention_workspace *ws, const fic__attn_tail *tail, fic__attn_buffer *store);

/* A prefill run's custom mask (attn_mask.c). */
typedef struct fic__attn_mask {
  fic_vt bits, offsets;
  fic_dl_managed_versioned storage[2]; /* the Tensor objects' headers: outlive the call */
} fic__attn_mask;

/* Both given, the plan non-causal, shapes/dtypes/devices right. */
fic_status fic__attn_mask_check(fic__attn_mask *m, const fic_attention_plan *pl, const fic_tensor *mask,
                                const fic_tensor *indptr);
/* The two Tensor objects for the run's Optional<ffi::Tensor> arguments;
 * release them with fic__attn_mask_release after the call. */
fic_status fic__attn_mask_objects(fic__attn_mask *m, const fic_attention_plan *pl, fic_any objs[2]);
void fic__attn_mask_release(fic__attn_mask *m, const fic_attention_plan *pl, fic_any objs[2]);

#endif
