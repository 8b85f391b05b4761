/* SPDX-License-Identifier: Apache-2.0 */
/* Batch decode / batch prefill without a GPU: every validation error names
 * its argument; a run is checked against its plan and says which field
 * differs; parameters structs follow the struct_size rules; the workspace
 * orders plans on its page-locked buffer (a fake event API that simulates
 * the asynchronous copy); and, with the real modules built by
 * tools/kernel-modules ($FIC_ATTN_WHEEL, or CMake's FIC_ATTN_WHEEL), the
 * wrappers accept our exact argument lists and their own errors come back
 * decoded. Plans and runs here are made by hand where a GPU would be needed
 * to make them for real (tests/gpu/test_gpu_attention.c runs them). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kt_attn.h"
#include "kt_util.h"

#define A_Q 0x7f0000100000u
#define A_K 0x7f0000200000u
#define A_V 0x7f0000300000u
#define A_IDX 0x7f0000400000u
#define A_OUT 0x7f0000500000u
#define A_LSE 0x7f0000600000u
#define A_FLOAT 0x7f0000700000u
#define A_INT 0x7f0000800000u

/* ---- hand-made workspaces and plans ---- */

static fic_attention_workspace *fake_ws(fic_runtime *rt) {
  fic_attention_workspace *ws = kt_fake_ws(rt);
  ws->desc.int_buffer = (void *)(uintptr_t)A_INT;
  ws->desc.int_bytes = (size_t)8 << 20;
  return ws;
}

/* batch 4, 32 q heads over 8 kv heads, head dim 128, page 16, bf16, NHD,
 * 10 pages in kv_indptr. */
static void fake_plan(fic_attention_plan *pl, fic_attention_workspace *ws, fic__attn_kind kind) {
  memset(pl, 0, sizeof *pl);
  pl->rt = ws->rt;
  pl->ws = ws;
  pl->generation = atomic_load(&ws->generation);
  pl->kind = kind;
  pl->batch = 4, pl->qo_heads = 32, pl->kv_heads = 8, pl->head_dim_qk = 128, pl->head_dim_vo = 128;
  pl->page_size = 16, pl->kv_layout = FIC_KV_LAYOUT_NHD, pl->window_left = -1;
  pl->total_rows = kind <= FIC__ATTN_KIND_DECODE_TC ? 4 : 20;
  pl->kv_total = kind == FIC__ATTN_KIND_PREFILL_RAGGED ? 70 : 10;
  pl->q_dtype = FIC_BF16, pl->kv_dtype = FIC_BF16, pl->o_dtype = FIC_BF16;
  if (kind == FIC__ATTN_KIND_DECODE_TC) {
    fic__attn_tail tail;
    FIC_ASSERT_OK(fic__attn_tail_plan(ws, pl->batch, &tail));
    fic__attn_tail_tensor(ws, &tail, &pl->qo_arange);
  }
}

/* Tensors of a run that matches fake_plan. */
typedef struct run_tensors {
  kt_desc q, k, v, qo_indptr, kv_indptr, kv_indices, last, out, lse;
} run_tensors;

static run_tensors good_tensors(const fic_attention_plan *pl) {
  run_tensors r;
  int64_t rows = pl->total_rows;
  r.q = kt_cuda(A_Q, FIC_BF16, 3, rows, 32, 128, 0);
  r.out = kt_cuda(A_OUT, FIC_BF16, 3, rows, 32, 128, 0);
  if (pl->kind == FIC__ATTN_KIND_PREFILL_RAGGED) {
    r.k = kt_cuda(A_K, FIC_BF16, 3, 70, 8, 128, 0);
    r.v = kt_cuda(A_V, FIC_BF16, 3, 70, 8, 128, 0);
  } else {
    r.k = kt_cuda(A_K, FIC_BF16, 4, 12, 16, 8, 128);
    r.v = kt_cuda(A_V, FIC_BF16, 4, 12, 16, 8, 128);
  }
  r.qo_indptr = kt_cuda(A_IDX, FIC_I32, 1, 5, 0, 0, 0);
  r.kv_indptr = kt_cuda(A_IDX + 64, FIC_I32, 1, 5, 0, 0, 0);
  r.kv_indices = kt_cuda(A_IDX + 128, FIC_I32, 1, 10, 0, 0, 0);
  r.last = kt_cuda(A_IDX + 256, FIC_I32, 1, 4, 0, 0, 0);
  r.lse = kt_cuda(A_LSE, FIC_F32, 2, rows, 32, 0, 0);
  return r;
}

static fic_batch_decode_run_params decode_run(run_tensors *r) {
  fic_batch_decode_run_params p;
  FIC_ASSERT_OK(fic_batch_decode_run_params_init(&p));
  p.q = kt_t(&r->q), p.k_cache = kt_t(&r->k), p.v_cache = kt_t(&r->v), p.kv_indptr = kt_t(&r->kv_indptr);
  p.kv_indices = kt_t(&r->kv_indices), p.kv_last_page_len = kt_t(&r->last), p.out = kt_t(&r->out);
  p.lse = kt_t(&r->lse);
  return p;
}

static fic_batch_prefill_run_params prefill_run(run_tensors *r) {
  fic_batch_prefill_run_params p;
  FIC_ASSERT_OK(fic_batch_prefill_run_params_init(&p));
  p.q = kt_t(&r->q), p.k = kt_t(&r->k), p.v = kt_t(&r->v), p.qo_indptr = kt_t(&r->qo_indptr);
  p.kv_indptr = kt_t(&r->kv_indptr), p.kv_indices = kt_t(&r->kv_indices), p.kv_last_page_len = kt_t(&r->last);
  p.out = kt_t(&r->out), p.lse = kt_t(&r->lse);
  return p;
}

typedef struct fixture {
  fic_runtime *rt;
  fic_attention_workspace *ws;
  fic_attention_plan plan;
  run_tensors r;
} fixture;

static fixture *fixture_new(fic__attn_kind kind) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->rt = kt_fake_runtime();
  f->ws = fake_ws(f->rt);
  fake_plan(&f->plan, f->ws, kind);
  f->r = good_tensors(&f->plan);
  return f;
}

static void fixture_free(fixture *f) {
  kt_fake_ws_free(f->ws);
  free(f->rt);
  free(f);
}

/* ---- run against its plan ---- */

/* Run `family`'s run (decode or prefill) on fixture f's plan with its good
 * tensors after `mutate` (which sees them as r_ and the params as p_). */
#define RUN_EXPECT(family, f, mutate, arg, substr)                               \
  do {                                                                           \
    run_tensors r_ = (f)->r;                                                     \
    fic_batch_##family##_run_params p_ = family##_run(&r_);                      \
    mutate;                                                                      \
    KT_EXPECT_ARG(fic_batch_##family##_run(&(f)->plan, &p_, NULL), arg, substr); \
  } while (0)
#define DECODE_EXPECT(f, mutate, arg, substr) RUN_EXPECT(decode, f, mutate, arg, substr)
#define PREFILL_EXPECT(f, mutate, arg, substr) RUN_EXPECT(prefill, f, mutate, arg, substr)

static void test_decode_run_mismatch(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_DECODE);
  DECODE_EXPECT(f, r_.q.shape[1] = 16, "q", "q.shape[1] is 16, but the plan has num_qo_heads = 32");
  DECODE_EXPECT(f, r_.q.shape[0] = 5, "q", "q.shape[0] is 5, but the plan has batch_size = 4");
  DECODE_EXPECT(f, r_.q.t.dtype = FIC_F16, "q", "q has dtype float16, but the plan has q_dtype = bfloat16");
  DECODE_EXPECT(f, r_.q.t.device.device_id = 1, "q", "q is on cuda:1, but the plan's workspace is on cuda:0");
  DECODE_EXPECT(f, r_.k.shape[1] = 8, "k_cache", "k_cache.shape[1] is 8, but the plan has page_size (NHD layout) = 16");
  DECODE_EXPECT(f, r_.k.shape[2] = 4, "k_cache", "but the plan has num_kv_heads (NHD layout) = 8");
  DECODE_EXPECT(f, r_.v.t.dtype = FIC_F16, "v_cache", "but the plan has kv_dtype = bfloat16");
  DECODE_EXPECT(f, r_.v.shape[3] = 64, "v_cache", "v_cache.shape[3] is 64, but the plan has head_dim_vo = 128");
  DECODE_EXPECT(f, (kt_strides(&r_.v, 2 * 16 * 8 * 128, 8 * 128, 128, 1), p_.v_cache = kt_t(&r_.v)), "v_cache",
                "v_cache.strides[0] is 32768; FlashInfer needs the strides of k_cache (16384)");
  DECODE_EXPECT(f, (kt_strides(&r_.k, (int64_t)1 << 32, 8 * 128, 128, 1), p_.k_cache = kt_t(&r_.k)), "k_cache",
                "k_cache.strides[0] is 4294967296; FlashInfer keeps strides in 32 bits");
  DECODE_EXPECT(f, (kt_strides(&r_.q, 32 * 128, 128, 2, 0), p_.q = kt_t(&r_.q)), "q",
                "contiguous in its last dimension");
  DECODE_EXPECT(f, r_.kv_indptr.shape[0] = 4, "kv_indptr",
                "kv_indptr.shape[0] is 4, but the plan has batch_size + 1 = 5");
  DECODE_EXPECT(f, r_.kv_indptr.t.dtype = FIC_I64, "kv_indptr", "must be int32, got int64");
  DECODE_EXPECT(f, r_.kv_indices.shape[0] = 9, "kv_indices", "holds 9 entries, but the plan's kv_indptr ends at 10");
  DECODE_EXPECT(f, r_.last.shape[0] = 5, "kv_last_page_len", "is 5, but the plan has batch_size = 4");
  DECODE_EXPECT(f, r_.out.shape[2] = 64, "out", "out.shape[2] is 64, but the plan has head_dim_vo = 128");
  DECODE_EXPECT(f, r_.out.t.dtype = FIC_F16, "out", "but the plan has o_dtype = bfloat16");
  DECODE_EXPECT(f, r_.lse.shape[1] = 8, "lse", "lse.shape[1] is 8, but the plan has num_qo_heads = 32");
  DECODE_EXPECT(f, r_.lse.t.dtype = FIC_BF16, "lse", "lse must be float32");
  DECODE_EXPECT(f, p_.sm_scale = -1, "sm_scale", ">= 0");
  DECODE_EXPECT(f, p_.rope_scale = 0, "rope_scale", "must not be 0");
  DECODE_EXPECT(f, p_.rope_theta = 1.0 / 0.0, "rope_theta", "finite");
  DECODE_EXPECT(f, p_.enable_pdl = 2, "enable_pdl", "got 2");
  DECODE_EXPECT(f, p_.q = NULL, "q", "must not be NULL");
  DECODE_EXPECT(f, p_.struct_size = 0, "params", "struct_size is 0");
  DECODE_EXPECT(f, p_.struct_size = 12, "params", "struct_size is 12");
  DECODE_EXPECT(f, p_.struct_size = sizeof p_ + 8, "params", "in steps of 8");
  f->plan.kv_layout = FIC_KV_LAYOUT_HND; /* the NHD cache no longer fits */
  DECODE_EXPECT(f, (void)0, "k_cache", "k_cache.shape[2] is 8, but the plan has page_size (HND layout) = 16");
  fixture_free(f);
}

static void test_decode_run_plan_state(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_DECODE);
  run_tensors r = f->r;
  fic_batch_decode_run_params p = decode_run(&r);
  KT_EXPECT_ARG(fic_batch_decode_run(NULL, &p, NULL), "plan", "must not be NULL");
  KT_EXPECT_ARG(fic_batch_decode_run(&f->plan, NULL, NULL), "params", "must not be NULL");
  atomic_fetch_add(&f->ws->generation, 2); /* two later plans on the workspace */
  KT_EXPECT_ARG(fic_batch_decode_run(&f->plan, &p, NULL), "plan", "superseded: 2 later plan(s)");
  f->plan.generation = atomic_load(&f->ws->generation);
  f->plan.kind = FIC__ATTN_KIND_PREFILL_PAGED;
  KT_EXPECT_ARG(fic_batch_decode_run(&f->plan, &p, NULL), "plan",
                "batch prefill plan; run it with fic_batch_prefill_run");
  /* Tensor cores: a caller's qo_indptr (no longer needed) is still checked. */
  fake_plan(&f->plan, f->ws, FIC__ATTN_KIND_DECODE_TC);
  r.qo_indptr.shape[0] = 4;
  p.qo_indptr = kt_t(&r.qo_indptr);
  KT_EXPECT_ARG(fic_batch_decode_run(&f->plan, &p, NULL), "qo_indptr", "is 4, but the plan has batch_size + 1 = 5");
  fixture_free(f);
}

static void test_prefill_run_mismatch(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_PREFILL_PAGED);
  PREFILL_EXPECT(f, r_.q.shape[0] = 19, "q", "q.shape[0] is 19, but the plan has total_num_rows = 20");
  PREFILL_EXPECT(f, r_.qo_indptr.shape[0] = 6, "qo_indptr", "is 6, but the plan has batch_size + 1 = 5");
  PREFILL_EXPECT(f, p_.kv_indices = NULL, "kv_indices", "must not be NULL");
  PREFILL_EXPECT(f, r_.k.t.ndim = 3, "k_cache", "must be 4-D");
  PREFILL_EXPECT(f, r_.lse.shape[0] = 4, "lse", "lse.shape[0] is 4, but the plan has total_num_rows = 20");
  fic_batch_decode_run_params d;
  FIC_ASSERT_OK(fic_batch_decode_run_params_init(&d));
  KT_EXPECT_ARG(fic_batch_decode_run(&f->plan, &d, NULL), "plan", "batch prefill plan");
  fixture_free(f);
  f = fixture_new(FIC__ATTN_KIND_PREFILL_RAGGED);
  PREFILL_EXPECT(f, r_.k.shape[0] = 69, "k", "k holds 69 tokens, but the plan's kv_indptr ends at 70");
  PREFILL_EXPECT(f, r_.v.shape[1] = 4, "v", "v.shape[1] is 4, but the plan has num_kv_heads (NHD layout) = 8");
  PREFILL_EXPECT(f, r_.v.t.ndim = 4, "v", "must be 3-D");
  f->plan.kv_layout = FIC_KV_LAYOUT_HND;
  PREFILL_EXPECT(f, (void)0, "k", "k.shape[0] is 70, but the plan has num_kv_heads (HND layout) = 8");
  fixture_free(f);
}

/* A custom mask: both tensors or neither, a non-causal plan, uint8 bits of
 * at least the plan's smallest total, int32 [batch + 1] offsets. */
static void test_prefill_custom_mask_checks(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_PREFILL_PAGED);
  f->plan.mask_min_bytes = 30;
  kt_desc bits = kt_cuda(A_IDX + 512, FIC_U8, 1, 30, 0, 0, 0), offs = kt_cuda(A_IDX + 1024, FIC_I32, 1, 5, 0, 0, 0);
#define MASK_EXPECT(mutate, arg, substr)                                                              \
  do {                                                                                                \
    kt_desc b_ = bits, o_ = offs;                                                                     \
    PREFILL_EXPECT(f, (p_.custom_mask = kt_t(&b_), p_.mask_indptr = kt_t(&o_), mutate), arg, substr); \
  } while (0)
  MASK_EXPECT(p_.mask_indptr = NULL, "mask_indptr", "go together: mask_indptr is NULL");
  MASK_EXPECT(p_.custom_mask = NULL, "custom_mask", "go together: custom_mask is NULL");
  MASK_EXPECT(b_.shape[0] = 29, "custom_mask", "holds 29 bytes, but the plan's sequences need at least 30");
  MASK_EXPECT(b_.t.dtype = FIC_I32, "custom_mask", "must be uint8");
  MASK_EXPECT(b_.t.ndim = 2, "custom_mask", "1-D");
  MASK_EXPECT(b_.t.device.device_id = 1, "custom_mask", "is on cuda:1");
  MASK_EXPECT(o_.shape[0] = 4, "mask_indptr", "mask_indptr.shape[0] must be 5 (batch_size + 1), got 4");
  MASK_EXPECT(o_.t.dtype = FIC_I64, "mask_indptr", "must be int32");
  MASK_EXPECT((kt_strides(&b_, 2, 0, 0, 0), p_.custom_mask = kt_t(&b_)), "custom_mask", "contiguous");
  f->plan.causal = 1;
  MASK_EXPECT((void)0, "custom_mask", "causal = 0");
#undef MASK_EXPECT
  fixture_free(f);
}

/* What fic_attention_plan_graph_compatible refuses before it reads the
 * Arrays (those are compared in the real-module group). */
static void test_graph_compatible_checks(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_DECODE);
  fic_attention_plan a = f->plan, b = f->plan;
  a.cuda_graph = b.cuda_graph = 1;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(NULL, &b), "captured", NULL);
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, NULL), "current", NULL);
  a.cuda_graph = 0;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "captured", "enable_cuda_graph = 0");
  a.cuda_graph = 1, b.cuda_graph = 0;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "enable_cuda_graph = 0");
  b.cuda_graph = 1, b.batch = 5;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "batch_size is 5, was 4");
  b.batch = 4, b.total_rows = 8;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "total_num_rows is 8, was 4");
  b.total_rows = 4, b.window_left = 7;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "window_left is 7, was -1");
  b.window_left = -1, b.kv_dtype = FIC_F16;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "dtypes differ");
  b.kv_dtype = FIC_BF16;
  atomic_fetch_add(&f->ws->generation, 1); /* b is superseded */
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "superseded");
  b.generation = atomic_load(&f->ws->generation);
  fic_attention_workspace other = {0};
  b.ws = &other;
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "another workspace");
  fixture_free(f);
}

/* ---- plan validation ---- */

static const int32_t k_kv_indptr[5] = {0, 3, 5, 9, 10};
static const int32_t k_qo_indptr[5] = {0, 5, 10, 15, 20};

static fic_batch_decode_plan_params decode_plan(void) {
  fic_batch_decode_plan_params p;
  FIC_ASSERT_OK(fic_batch_decode_plan_params_init(&p));
  p.kv_indptr = k_kv_indptr, p.batch_size = 4, p.num_qo_heads = 32, p.num_kv_heads = 8, p.head_dim = 128;
  p.page_size = 16, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
  return p;
}

static fic_batch_prefill_plan_params prefill_plan(void) {
  fic_batch_prefill_plan_params p;
  FIC_ASSERT_OK(fic_batch_prefill_plan_params_init(&p));
  p.qo_indptr = k_qo_indptr, p.kv_indptr = k_kv_indptr, p.batch_size = 4, p.num_qo_heads = 32, p.num_kv_heads = 8;
  p.head_dim_qk = 128, p.page_size = 16, p.q_dtype = FIC_BF16, p.kv_dtype = FIC_BF16;
  return p;
}

/* Plan `family` (decode or prefill) with good parameters (p_, kv_indptr in
 * the writable ind_) after `mutate`: refused, naming `arg`, no plan out. */
#define PLAN_EXPECT(family, f, mutate, arg, substr)                                            \
  do {                                                                                         \
    fic_batch_##family##_plan_params p_ = family##_plan();                                     \
    int32_t ind_[5] = {0, 3, 5, 9, 10};                                                        \
    p_.kv_indptr = ind_;                                                                       \
    mutate;                                                                                    \
    fic_attention_plan *out_ = (fic_attention_plan *)1;                                        \
    KT_EXPECT_ARG(fic_batch_##family##_plan((f)->rt, (f)->ws, &p_, NULL, &out_), arg, substr); \
    assert_null(out_);                                                                         \
  } while (0)
#define DPLAN_EXPECT(f, mutate, arg, substr) PLAN_EXPECT(decode, f, mutate, arg, substr)
#define PPLAN_EXPECT(f, mutate, arg, substr) PLAN_EXPECT(prefill, f, mutate, arg, substr)

static void test_decode_plan_validation(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_DECODE);
  fic_batch_decode_plan_params p = decode_plan();
  fic_attention_plan *out = NULL;
  KT_EXPECT_ARG(fic_batch_decode_plan(f->rt, f->ws, &p, NULL, NULL), "out", NULL);
  KT_EXPECT_ARG(fic_batch_decode_plan(NULL, f->ws, &p, NULL, &out), "rt", NULL);
  KT_EXPECT_ARG(fic_batch_decode_plan(f->rt, NULL, &p, NULL, &out), "ws", NULL);
  KT_EXPECT_ARG(fic_batch_decode_plan(f->rt, f->ws, NULL, NULL, &out), "params", NULL);
  fic_runtime *other = kt_fake_runtime();
  KT_EXPECT_ARG(fic_batch_decode_plan(other, f->ws, &p, NULL, &out), "ws", "another runtime");
  free(other);
  DPLAN_EXPECT(f, p_.struct_size = 4, "params", "struct_size is 4");
  /* An older caller's struct (struct_size only) gets every default: batch_size 0. */
  DPLAN_EXPECT(f, p_.struct_size = 8, "batch_size", "must be in [1,");
  DPLAN_EXPECT(f, p_.batch_size = 0, "batch_size", "got 0");
  DPLAN_EXPECT(f, p_.kv_indptr = NULL, "kv_indptr", "host array");
  DPLAN_EXPECT(f, ind_[0] = 1, "kv_indptr", "kv_indptr[0] must be 0, got 1");
  DPLAN_EXPECT(f, ind_[3] = 4, "kv_indptr", "kv_indptr[2] = 5 > kv_indptr[3] = 4");
  DPLAN_EXPECT(f, p_.num_qo_heads = 0, "num_qo_heads", "got 0");
  DPLAN_EXPECT(f, p_.num_kv_heads = -1, "num_kv_heads", "got -1");
  DPLAN_EXPECT(f, p_.num_qo_heads = 30, "num_qo_heads", "(30) must be a multiple of num_kv_heads (8)");
  DPLAN_EXPECT(f, p_.head_dim = 96, "head_dim", "64, 128 or 256");
  DPLAN_EXPECT(f, p_.page_size = 0, "page_size", "got 0");
  DPLAN_EXPECT(f, p_.q_dtype = FIC_F32, "q_dtype", "got float32");
  DPLAN_EXPECT(f, p_.kv_dtype = FIC_I32, "kv_dtype", "float8_e4m3fn");
  DPLAN_EXPECT(f, p_.o_dtype = FIC_F32, "o_dtype", "got float32");
  DPLAN_EXPECT(f, p_.reserved0 = 1, "reserved0", "must be 0");
  DPLAN_EXPECT(f, p_.kv_layout = 2, "kv_layout", "got 2");
  DPLAN_EXPECT(f, p_.window_left = -2, "window_left", "got -2");
  DPLAN_EXPECT(f, p_.logits_soft_cap = -1, "logits_soft_cap", ">= 0");
  DPLAN_EXPECT(f, p_.enable_cuda_graph = 2, "enable_cuda_graph", "0 or 1");
  DPLAN_EXPECT(f, p_.use_tensor_cores = -1, "use_tensor_cores", "0 or 1");
  fixture_free(f);
}

static void test_prefill_plan_validation(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_PREFILL_PAGED);
  int32_t bad[5] = {0, 5, 4, 15, 20};
  PPLAN_EXPECT(f, p_.qo_indptr = NULL, "qo_indptr", "host array");
  PPLAN_EXPECT(f, p_.qo_indptr = bad, "qo_indptr", "qo_indptr[1] = 5 > qo_indptr[2] = 4");
  PPLAN_EXPECT(f, p_.kv_indptr = NULL, "kv_indptr", "host array");
  PPLAN_EXPECT(f, p_.head_dim_qk = 0, "head_dim_qk", "got 0");
  PPLAN_EXPECT(f, p_.head_dim_vo = 192, "head_dim_vo", "got 192");
  PPLAN_EXPECT(f, p_.ragged = 2, "ragged", "0 or 1");
  PPLAN_EXPECT(f, p_.causal = 2, "causal", "0 or 1");
  PPLAN_EXPECT(f, p_.kv_dtype = FIC_I32, "kv_dtype", "(or float8_e4m3fn / float8_e5m2), got int32");
  PPLAN_EXPECT(f, p_.o_dtype = FIC_F8_E4M3FN, "o_dtype", "float16 or bfloat16, got float8_e4m3fn");
  PPLAN_EXPECT(f, p_.total_num_rows = 19, "total_num_rows", "[qo_indptr[batch_size] = 20,");
  PPLAN_EXPECT(f, p_.logits_soft_cap = 0.0 / 0.0, "logits_soft_cap", "finite");
  fixture_free(f);
}

static void test_params_init(void **state) {
  (void)state;
  KT_EXPECT_ARG(fic_batch_decode_plan_params_init(NULL), "params", NULL);
  KT_EXPECT_ARG(fic_batch_decode_run_params_init(NULL), "params", NULL);
  KT_EXPECT_ARG(fic_batch_prefill_plan_params_init(NULL), "params", NULL);
  KT_EXPECT_ARG(fic_batch_prefill_run_params_init(NULL), "params", NULL);
  KT_EXPECT_ARG(fic_attention_workspace_desc_init(NULL), "desc", NULL);
  fic_batch_decode_plan_params dp;
  FIC_ASSERT_OK(fic_batch_decode_plan_params_init(&dp));
  assert_int_equal(dp.struct_size, sizeof dp);
  assert_int_equal(dp.window_left, -1);
  assert_int_equal(dp.kv_layout, FIC_KV_LAYOUT_NHD);
  assert_true(dp.logits_soft_cap == 0 && dp.use_tensor_cores == 0 && dp.enable_cuda_graph == 0);
  fic_batch_decode_run_params dr;
  FIC_ASSERT_OK(fic_batch_decode_run_params_init(&dr));
  assert_true(dr.sm_scale == 0 && dr.rope_scale == 1 && dr.rope_theta == 1e4);
  assert_int_equal(dr.enable_pdl, FIC_PDL_AUTO);
  assert_null(dr.lse);
  fic_batch_prefill_plan_params pp;
  FIC_ASSERT_OK(fic_batch_prefill_plan_params_init(&pp));
  assert_true(pp.window_left == -1 && pp.causal == 0 && pp.ragged == 0 && pp.head_dim_vo == 0);
  fic_batch_prefill_run_params pr;
  FIC_ASSERT_OK(fic_batch_prefill_run_params_init(&pr));
  assert_true(pr.rope_scale == 1 && pr.rope_theta == 1e4 && pr.enable_pdl == FIC_PDL_AUTO);
  size_t fb = 0, ib = 0, hb = 0;
  FIC_ASSERT_OK(fic_attention_workspace_sizes(&fb, &ib, &hb));
  assert_int_equal(fb, (size_t)128 << 20);
  assert_int_equal(ib, (size_t)8 << 20);
  assert_int_equal(hb, (size_t)8 << 20);
  FIC_ASSERT_OK(fic_attention_workspace_sizes(NULL, NULL, NULL));
}

/* ---- workspace ---- */

static _Alignas(64) unsigned char g_host[4096];

static fic_attention_workspace_desc good_desc(void) {
  fic_attention_workspace_desc d;
  FIC_ASSERT_OK(fic_attention_workspace_desc_init(&d));
  d.float_buffer = (void *)A_FLOAT, d.float_bytes = 1 << 20;
  d.int_buffer = (void *)A_INT, d.int_bytes = sizeof g_host;
  d.host_buffer = g_host, d.host_bytes = sizeof g_host;
  return d;
}

#define WS_EXPECT(rt, mutate, arg, substr)                                      \
  do {                                                                          \
    fic_attention_workspace_desc d_ = good_desc();                              \
    mutate;                                                                     \
    fic_attention_workspace *w_ = (fic_attention_workspace *)1;                 \
    KT_EXPECT_ARG(fic_attention_workspace_create((rt), &d_, &w_), arg, substr); \
    assert_null(w_);                                                            \
  } while (0)

static void test_workspace_validation(void **state) {
  (void)state;
  fic_runtime *rt = kt_fake_runtime();
  fic_attention_workspace_desc d = good_desc();
  fic_attention_workspace *ws = NULL;
  KT_EXPECT_ARG(fic_attention_workspace_create(rt, &d, NULL), "out", NULL);
  KT_EXPECT_ARG(fic_attention_workspace_create(NULL, &d, &ws), "rt", NULL);
  KT_EXPECT_ARG(fic_attention_workspace_create(rt, NULL, &ws), "desc", NULL);
  WS_EXPECT(rt, d_.struct_size = 0, "desc", "struct_size is 0");
  WS_EXPECT(rt, d_.float_buffer = NULL, "float_buffer", "must not be NULL");
  WS_EXPECT(rt, d_.float_bytes = 0, "float_buffer", "got 0 bytes");
  WS_EXPECT(rt, d_.int_buffer = (void *)(A_INT + 8), "int_buffer", "16-byte aligned");
  WS_EXPECT(rt, d_.host_buffer = NULL, "host_buffer", "must not be NULL");
  WS_EXPECT(rt, d_.host_bytes = 1024, "host_buffer", "(1024) must be at least desc->int_bytes (4096)");
  WS_EXPECT(rt, d_.device_id = -1, "device_id", "got -1");
  fic_status s = fic_attention_workspace_create(rt, &d, &ws);
  if (s == FIC_ERR_CUDART_NOT_FOUND) {
    free(rt);
    print_message("SKIPPED: no libcudart.so.13 for the workspace's events: %s\n", fic_last_error_message());
    skip();
  }
  FIC_ASSERT_OK(s);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws)); /* never planned: no event, nothing to wait for */
  FIC_ASSERT_OK(fic_attention_workspace_destroy(NULL));
  FIC_ASSERT_OK(fic_attention_plan_destroy(NULL));
  free(rt);
}

/* ---- the page-locked buffer's ordering, through a fake event API ----
 * The fake models one stream: a plan's "copy" (host buffer -> device buffer)
 * is pending until something waits for the event recorded after it; then
 * it runs, reading the host buffer as it is at that moment, exactly the
 * hazard of FlashInfer's cudaMemcpyAsync from page-locked memory. */

typedef struct fake_gpu {
  int creates, records, syncs, destroys;
  int sync_error;   /* returned by the next synchronize */
  int copy_pending; /* a recorded copy that has not run */
  char host[16];    /* the page-locked buffer */
  char device[16];  /* the int workspace */
  void *last_stream;
} fake_gpu;

static fake_gpu g_fake;
static int g_event_token;

static int fake_create(void **event, unsigned flags) {
  assert_int_equal(flags, 2); /* cudaEventDisableTiming */
  g_fake.creates++;
  *event = &g_event_token;
  return 0;
}
static int fake_record(void *event, void *stream) {
  assert_ptr_equal(event, &g_event_token);
  g_fake.records++;
  g_fake.copy_pending = 1; /* the plan's copy was enqueued just before */
  g_fake.last_stream = stream;
  return 0;
}
static int fake_sync(void *event) {
  assert_ptr_equal(event, &g_event_token);
  g_fake.syncs++;
  if (g_fake.sync_error) return g_fake.sync_error;
  if (g_fake.copy_pending) memcpy(g_fake.device, g_fake.host, sizeof g_fake.host);
  g_fake.copy_pending = 0;
  return 0;
}
static int fake_destroy(void *event) {
  assert_ptr_equal(event, &g_event_token);
  g_fake.destroys++;
  return 0;
}
static const char *fake_error_string(int e) { return e == 700 ? "cudaErrorIllegalAddress" : "?"; }

/* cudaMemcpyAsync: records the last copy; fails with g_copy_error. */
static struct {
  void *dst;
  const void *src;
  size_t bytes;
  int kind, calls, error;
  void *stream;
} g_copy;
static int fake_memcpy(void *dst, const void *src, size_t bytes, int kind, void *stream) {
  g_copy.dst = dst, g_copy.src = src, g_copy.bytes = bytes, g_copy.kind = kind, g_copy.stream = stream;
  g_copy.calls++;
  return g_copy.error;
}

static const fic__event_ops k_fake_ops = {fake_create,  fake_record,       fake_sync,
                                          fake_destroy, fake_error_string, fake_memcpy};

/* A fake runtime and a workspace whose CUDA events are the fakes above, with
 * g_fake reset. */
static fic_attention_workspace *fake_events_ws(fic_runtime **rt) {
  memset(&g_fake, 0, sizeof g_fake);
  *rt = kt_fake_runtime();
  fic_attention_workspace *ws = fake_ws(*rt);
  fic__attn_workspace_set_event_ops(ws, &k_fake_ops);
  return ws;
}

/* One plan as the library makes it: begin, write the host buffer, end. */
static fic_status fake_plan_write(fic_attention_workspace *ws, const char *schedule, int succeeded, uint64_t *gen) {
  FIC_CHECK(fic__attn_ws_plan_begin(ws));
  snprintf(g_fake.host, sizeof g_fake.host, "%s", schedule);
  return fic__attn_ws_plan_end(ws, (void *)0x5, succeeded, gen);
}

/* The tensor-core decode's qo_indptr in the int workspace's last bytes:
 * written into the page-locked buffer at the same offset and copied there. */
static void test_decode_tail(void **state) {
  (void)state;
  fic_runtime *rt = kt_fake_runtime();
  fic_attention_workspace *ws = fake_ws(rt);
  static _Alignas(16) unsigned char host[4096];
  ws->desc.host_buffer = host, ws->desc.host_bytes = sizeof host, ws->desc.int_bytes = sizeof host;
  ws->ev = k_fake_ops;
  fic__attn_tail t;
  FIC_ASSERT_OK(fic__attn_tail_plan(ws, 4, &t));
  assert_int_equal(t.bytes, 32); /* 5 int32 rounded up to 16 bytes */
  assert_int_equal(t.offset, sizeof host - 32);
  memset(&g_copy, 0, sizeof g_copy);
  FIC_ASSERT_OK(fic__attn_tail_write(ws, &t, (void *)0x7));
  int32_t got[5];
  memcpy(got, host + t.offset, sizeof got);
  for (int i = 0; i < 5; i++) assert_int_equal(got[i], i);
  assert_int_equal(g_copy.calls, 1);
  assert_ptr_equal(g_copy.dst, (char *)(uintptr_t)A_INT + t.offset);
  assert_ptr_equal(g_copy.src, host + t.offset);
  assert_int_equal(g_copy.bytes, 32);
  assert_int_equal(g_copy.kind, 1); /* cudaMemcpyHostToDevice */
  assert_ptr_equal(g_copy.stream, (void *)0x7);
  fic__attn_buffer b;
  fic__attn_tail_tensor(ws, &t, &b);
  assert_ptr_equal(b.t.data, (char *)(uintptr_t)A_INT + t.offset);
  assert_int_equal(b.t.shape[0], 5);
  assert_int_equal(b.t.device.device_type, FIC_DEVICE_CUDA);
  g_copy.error = 700;
  KT_EXPECT_STATUS(fic__attn_tail_write(ws, &t, NULL), FIC_ERR_CUDA);
  assert_non_null(strstr(fic_last_error_message(), "cudaErrorIllegalAddress"));
  g_copy.error = 0;
  KT_EXPECT_ARG(fic__attn_tail_plan(ws, 1020, &t), "int_buffer", "too small for a tensor-core decode of batch 1020");
  kt_fake_ws_free(ws);
  free(rt);
}

static void test_workspace_orders_plans(void **state) {
  (void)state;
  fic_runtime *rt = NULL;
  fic_attention_workspace *ws = fake_events_ws(&rt);
  uint64_t gen = 0;
  FIC_ASSERT_OK(fake_plan_write(ws, "plan A", 1, &gen));
  assert_int_equal(gen, 1);
  assert_int_equal(g_fake.syncs, 0); /* nothing to wait for before the first plan */
  assert_int_equal(g_fake.creates, 1);
  assert_ptr_equal(g_fake.last_stream, (void *)0x5);
  /* Plan B rewrites the host buffer only after A's copy ran: A's schedule reached the device. */
  FIC_ASSERT_OK(fake_plan_write(ws, "plan B", 1, &gen));
  assert_int_equal(gen, 2);
  assert_int_equal(g_fake.syncs, 1);
  assert_string_equal(g_fake.device, "plan A");
  assert_int_equal(g_fake.creates, 1); /* one event, reused */
  /* A failed plan records nothing but still supersedes the earlier ones. */
  FIC_ASSERT_OK(fake_plan_write(ws, "plan C", 0, &gen));
  assert_int_equal(gen, 3);
  assert_string_equal(g_fake.device, "plan B");
  assert_int_equal(g_fake.records, 2);
  FIC_ASSERT_OK(fake_plan_write(ws, "plan D", 1, &gen));
  assert_int_equal(g_fake.syncs, 2); /* C left nothing pending */
  /* Destroy waits for D's copy: the caller may free the host buffer afterwards. */
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
  assert_string_equal(g_fake.device, "plan D");
  assert_int_equal(g_fake.syncs, 3);
  assert_int_equal(g_fake.destroys, 1);
  free(rt);
}

/* Without the wait, B's schedule would reach the device for A's runs: the
 * fake shows the hazard the workspace exists to prevent. */
static void test_fake_shows_the_hazard(void **state) {
  (void)state;
  memset(&g_fake, 0, sizeof g_fake);
  snprintf(g_fake.host, sizeof g_fake.host, "plan A");
  fake_record(&g_event_token, NULL);
  snprintf(g_fake.host, sizeof g_fake.host, "plan B"); /* a second plan that did not wait */
  fake_sync(&g_event_token);
  assert_string_equal(g_fake.device, "plan B");
}

/* Plans on one workspace from several threads are serialised: no two are
 * ever between begin and end at once, every copy runs before the next
 * plan's write, and every plan gets its own generation. */
#define PLAN_THREADS 4
#define PLANS_PER_THREAD 300
static atomic_int g_inside, g_overlaps;

static void *plan_thread(void *arg) {
  fic_attention_workspace *ws = arg;
  for (int i = 0; i < PLANS_PER_THREAD; i++) {
    uint64_t gen = 0;
    if (fic__attn_ws_plan_begin(ws) != FIC_OK) return NULL;
    if (atomic_fetch_add(&g_inside, 1) != 0) atomic_fetch_add(&g_overlaps, 1);
    if (g_fake.copy_pending) atomic_fetch_add(&g_overlaps, 1); /* the previous copy must have run */
    snprintf(g_fake.host, sizeof g_fake.host, "t%p %d", arg, i);
    atomic_fetch_sub(&g_inside, 1);
    if (fic__attn_ws_plan_end(ws, NULL, 1, &gen) != FIC_OK) return NULL;
  }
  return arg;
}

static void test_workspace_threads(void **state) {
  (void)state;
  fic_runtime *rt = NULL;
  fic_attention_workspace *ws = fake_events_ws(&rt);
  pthread_t t[PLAN_THREADS];
  for (int i = 0; i < PLAN_THREADS; i++) assert_int_equal(pthread_create(&t[i], NULL, plan_thread, ws), 0);
  for (int i = 0; i < PLAN_THREADS; i++) {
    void *ret = NULL;
    assert_int_equal(pthread_join(t[i], &ret), 0);
    assert_ptr_equal(ret, ws);
  }
  assert_int_equal(atomic_load(&g_overlaps), 0);
  assert_int_equal(atomic_load(&ws->generation), PLAN_THREADS * PLANS_PER_THREAD);
  assert_int_equal(g_fake.records, PLAN_THREADS * PLANS_PER_THREAD);
  assert_int_equal(g_fake.syncs, PLAN_THREADS * PLANS_PER_THREAD - 1);
  assert_int_equal(g_fake.creates, 1);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
  free(rt);
}

static void test_workspace_event_failure(void **state) {
  (void)state;
  fic_runtime *rt = NULL;
  fic_attention_workspace *ws = fake_events_ws(&rt);
  uint64_t gen = 0;
  FIC_ASSERT_OK(fake_plan_write(ws, "plan A", 1, &gen));
  g_fake.sync_error = 700;
  KT_EXPECT_STATUS(fake_plan_write(ws, "plan B", 1, &gen), FIC_ERR_CUDA);
  assert_non_null(strstr(fic_last_error_message(), "cudaEventSynchronize failed (cudaErrorIllegalAddress)"));
  assert_string_equal(g_fake.host, "plan A"); /* B never wrote the buffer */
  g_fake.sync_error = 0;
  /* The lock was released, and the workspace stays refused. */
  KT_EXPECT_STATUS(fake_plan_write(ws, "plan C", 1, &gen), FIC_ERR_CUDA);
  assert_non_null(strstr(fic_last_error_message(), "destroy it"));
  assert_int_equal(gen, 1);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
  free(rt);
}

/* ---- the real modules (tools/kernel-modules: bf16, head dim 128, FA2) ---- */

static int real_setup(void **state) {
  static const char *const modules[] = {KT_ATTN_DECODE_MODULE, KT_ATTN_PREFILL_MODULE, NULL};
  const char *wheel = kt_attn_wheel();
  *state = wheel ? kt_try_open(wheel, modules) : NULL;
  return 0;
}

static fic_runtime *need_real(void **state) {
  return kt_need_rt(state, "no wheel with the real bf16/hd128 batch decode and FA2 batch prefill modules");
}

static fic_attention_workspace *real_ws(fic_runtime *rt) {
  fic_attention_workspace_desc d = good_desc();
  fic_attention_workspace *ws = NULL;
  FIC_ASSERT_OK(fic_attention_workspace_create(rt, &d, &ws));
  return ws;
}

/* Combinations neither the bf16/hd128 wheel nor the larger attention test
 * wheel (hd64/256, window, soft cap, f16, e4m3 KV) has: the error names
 * what the wheel has (what is asserted is in both wheels' answers). */
static void test_real_nearest_module(void **state) {
  fic_runtime *rt = need_real(state);
  fic_attention_workspace *ws = real_ws(rt);
  fic_batch_decode_plan_params d = decode_plan();
  fic_attention_plan *out = NULL;
  d.head_dim = 256, d.q_dtype = d.kv_dtype = FIC_F16;
  KT_EXPECT_STATUS(fic_batch_decode_plan(rt, ws, &d, NULL, &out), FIC_ERR_NOT_FOUND);
  assert_non_null(strstr(fic_last_error_message(), "batch decode modules for: "));
  assert_non_null(strstr(fic_last_error_message(), "head dims 128/128"));
  d = decode_plan();
  d.kv_dtype = FIC_F8_E5M2;
  KT_EXPECT_STATUS(fic_batch_decode_plan(rt, ws, &d, NULL, &out), FIC_ERR_NOT_FOUND);
  assert_non_null(strstr(fic_last_error_message(), "q/kv/o/idx bf16/bf16/bf16/i32"));
  fic_batch_prefill_plan_params p = prefill_plan();
  p.logits_soft_cap = 30, p.window_left = 100;
  KT_EXPECT_STATUS(fic_batch_prefill_plan(rt, ws, &p, NULL, &out), FIC_ERR_NOT_FOUND);
  assert_non_null(strstr(fic_last_error_message(), "soft cap no"));
  assert_null(out);
  assert_int_equal(atomic_load(&ws->generation), 0); /* nothing reached the workspace */
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

/* What the wrappers raise on a machine without a usable GPU: the device
 * guard (plan and run both start with one) fails in the CUDA runtime,
 * "cudaErrorInsufficientDriver" without a driver, "cudaErrorNoDevice" with
 * one but no GPU. */
static void expect_no_gpu_error(fic_status s, const char *what) {
  print_message("%s: %s [%s] %s\n", what, fic_status_name(s), fic_last_error_kind(), s ? fic_last_error_message() : "");
  if (s != FIC_ERR_KERNEL) fail_msg("%s: got %s, want FIC_ERR_KERNEL", what, fic_status_name(s));
  assert_string_equal(fic_last_error_kind(), "RuntimeError");
  assert_non_null(strstr(fic_last_error_message(), "CUDA Runtime Error: cudaError"));
}

static void test_real_plan_without_gpu(void **state) {
  fic_runtime *rt = need_real(state);
  kt_skip_if_gpu(rt); /* fake device buffers: the GPU tests plan for real */
  fic_attention_workspace *ws = real_ws(rt);
  fic_batch_decode_plan_params d = decode_plan();
  fic_attention_plan *out = NULL;
  expect_no_gpu_error(fic_batch_decode_plan(rt, ws, &d, NULL, &out), "decode plan");
  d.num_qo_heads = 56; /* group 7: the prefill module's plan */
  expect_no_gpu_error(fic_batch_decode_plan(rt, ws, &d, NULL, &out), "decode plan on tensor cores");
  fic_batch_prefill_plan_params p = prefill_plan();
  expect_no_gpu_error(fic_batch_prefill_plan(rt, ws, &p, NULL, &out), "prefill plan");
  p.ragged = 1;
  expect_no_gpu_error(fic_batch_prefill_plan(rt, ws, &p, NULL, &out), "ragged prefill plan");
  assert_null(out);
  /* Each failed plan still counts: it may have rewritten the buffers. */
  assert_int_equal(atomic_load(&ws->generation), 4);
  assert_int_equal(ws->event_pending, 0);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

/* A run made by hand around the real export and an Array of `info_len`
 * zeros: the wrapper converts every argument before its body runs (a wrong
 * count or kind is a TypeError), and the body first rebuilds the plan info
 * from the Array (a wrong length is FromVector's InternalError). */
static fic_status real_run_mask(fic_runtime *rt, const char *module, const char *fn, fic__attn_kind kind,
                                size_t info_len, int with_mask) {
  fic_attention_workspace *ws = real_ws(rt);
  fic_attention_plan pl;
  fake_plan(&pl, ws, kind);
  fic_function *run = NULL;
  FIC_ASSERT_OK(fic_function_get(rt, module, fn, NULL, &run));
  pl.run = (const struct fic_function *)run;
  int64_t zeros[16] = {0};
  fic_result info;
  FIC_ASSERT_OK(fic_array_i64_new(rt, zeros, info_len, &info));
  memcpy(&pl.info, &info, sizeof pl.info);
  run_tensors r = good_tensors(&pl);
  fic_status s;
  if (kind <= FIC__ATTN_KIND_DECODE_TC) {
    fic_batch_decode_run_params p = decode_run(&r);
    p.qo_indptr = kt_t(&r.qo_indptr);
    s = fic_batch_decode_run(&pl, &p, NULL);
  } else {
    fic_batch_prefill_run_params p = prefill_run(&r);
    kt_desc bits = kt_cuda(A_IDX + 512, FIC_U8, 1, 64, 0, 0, 0), offs = kt_cuda(A_IDX + 1024, FIC_I32, 1, 5, 0, 0, 0);
    if (with_mask) p.custom_mask = kt_t(&bits), p.mask_indptr = kt_t(&offs);
    s = fic_batch_prefill_run(&pl, &p, NULL);
  }
  fic__object_release(rt, &pl.info);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
  return s;
}

static fic_status real_run(fic_runtime *rt, const char *module, const char *fn, fic__attn_kind kind, size_t info_len) {
  return real_run_mask(rt, module, fn, kind, info_len, 0);
}

static void test_real_run_argument_lists(void **state) {
  fic_runtime *rt = need_real(state);
  kt_skip_if_gpu(rt);
  expect_no_gpu_error(real_run(rt, KT_ATTN_DECODE_MODULE, "run", FIC__ATTN_KIND_DECODE, 10), "decode run");
  expect_no_gpu_error(real_run(rt, KT_ATTN_PREFILL_MODULE, "paged_run", FIC__ATTN_KIND_DECODE_TC, 15),
                      "decode on tensor cores");
  expect_no_gpu_error(real_run(rt, KT_ATTN_PREFILL_MODULE, "paged_run", FIC__ATTN_KIND_PREFILL_PAGED, 15),
                      "paged prefill");
  expect_no_gpu_error(real_run(rt, KT_ATTN_PREFILL_MODULE, "ragged_run", FIC__ATTN_KIND_PREFILL_RAGGED, 15),
                      "ragged prefill");
  /* The custom mask as Tensor objects: the wrapper takes them (a plain
   * tensor there would be a TypeError, not the device guard's error). */
  expect_no_gpu_error(real_run_mask(rt, KT_ATTN_PREFILL_MODULE, "paged_run", FIC__ATTN_KIND_PREFILL_PAGED, 15, 1),
                      "paged prefill with a custom mask");
  expect_no_gpu_error(real_run_mask(rt, KT_ATTN_PREFILL_MODULE, "ragged_run", FIC__ATTN_KIND_PREFILL_RAGGED, 15, 1),
                      "ragged prefill with a custom mask");
  /* The plan lengths are the wrappers' (DecodePlanInfo 10, PrefillPlanInfo 15). */
  KT_EXPECT_STATUS(real_run(rt, KT_ATTN_DECODE_MODULE, "run", FIC__ATTN_KIND_DECODE, 9), FIC_ERR_KERNEL);
  assert_non_null(strstr(fic_last_error_message(), "vec.size() should be 10, but got 9"));
  KT_EXPECT_STATUS(real_run(rt, KT_ATTN_PREFILL_MODULE, "paged_run", FIC__ATTN_KIND_PREFILL_PAGED, 10), FIC_ERR_KERNEL);
  assert_non_null(strstr(fic_last_error_message(), "should be 15, but got 10"));
}

/* Two graph plans compare their Arrays: equal passes, one element off is
 * refused naming it (Arrays made by hand; the GPU test makes real ones). */
static void test_real_graph_compatible(void **state) {
  fic_runtime *rt = need_real(state);
  fic_attention_workspace *ws = real_ws(rt);
  fic_attention_plan a, b;
  fake_plan(&a, ws, FIC__ATTN_KIND_PREFILL_PAGED);
  fake_plan(&b, ws, FIC__ATTN_KIND_PREFILL_PAGED);
  a.cuda_graph = b.cuda_graph = 1;
  int64_t x[15], y[15];
  for (int i = 0; i < 15; i++) x[i] = y[i] = 100 + i;
  y[3] = 64;
  fic_result ra, rb;
  FIC_ASSERT_OK(fic_array_i64_new(rt, x, 15, &ra));
  FIC_ASSERT_OK(fic_array_i64_new(rt, x, 15, &rb));
  memcpy(&a.info, &ra, sizeof a.info);
  memcpy(&b.info, &rb, sizeof b.info);
  FIC_ASSERT_OK(fic_attention_plan_graph_compatible(&a, &b));
  FIC_ASSERT_OK(fic_result_release(&rb));
  FIC_ASSERT_OK(fic_array_i64_new(rt, y, 15, &rb));
  memcpy(&b.info, &rb, sizeof b.info);
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "plan Array element 3 is 64, was 103");
  FIC_ASSERT_OK(fic_result_release(&rb));
  FIC_ASSERT_OK(fic_array_i64_new(rt, y, 10, &rb));
  memcpy(&b.info, &rb, sizeof b.info);
  KT_EXPECT_ARG(fic_attention_plan_graph_compatible(&a, &b), "current", "the plan Array's length is 10, was 15");
  FIC_ASSERT_OK(fic_result_release(&rb));
  FIC_ASSERT_OK(fic_result_release(&ra));
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

/* The arity table knows the attention exports by family. */
static void test_real_arities(void **state) {
  fic_runtime *rt = need_real(state);
  static const struct {
    const char *module, *name;
    int arity;
  } cases[] = {{KT_ATTN_DECODE_MODULE, "plan", 15},
               {KT_ATTN_DECODE_MODULE, "run", 19},
               {KT_ATTN_PREFILL_MODULE, "plan", 19},
               {KT_ATTN_PREFILL_MODULE, "paged_run", 27},
               {KT_ATTN_PREFILL_MODULE, "ragged_run", 25}};
  fic_arg args[32];
  for (int i = 0; i < 32; i++) args[i] = fic_arg_none();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fic_function *fn = NULL;
    FIC_ASSERT_OK(fic_function_get(rt, cases[i].module, cases[i].name, NULL, &fn));
    KT_EXPECT_STATUS(fic_function_call(fn, args, cases[i].arity - 1, -1, NULL, NULL), FIC_ERR_ABI);
    char want[64];
    snprintf(want, sizeof want, "takes %d arguments", cases[i].arity);
    assert_non_null(strstr(fic_last_error_message(), want));
  }
}

/* ---- FA3 through a stand-in module (tests/modules/fic_test_fa3.cc): the
 * exports' exact parameter types under the real bf16/hd128 module name; a
 * forced compute capability (a test hook) makes the plan choose it ---- */

#define FA3_MODULE KT_ATTN_FA3_MODULE

static int fa3_setup(void **state) {
  const char *wheel = getenv("FIC_TEST_FA3_MOCK_WHEEL");
  *state = kt_file_exists(wheel) ? kt_try_open(wheel, NULL) : NULL;
  return 0;
}

static int fa3_teardown(void **state) {
  fic__test_set_compute_capability(-1);
  return kt_teardown(state);
}

/* A workspace over fake device buffers whose events are the fake's. */
static fic_attention_workspace *fa3_ws(void **state) {
  fic_runtime *rt = kt_need_rt(state, "no FA3 stand-in wheel (FIC_TEST_FA3_MOCK_WHEEL)");
  fic_attention_workspace_desc d = good_desc();
  fic_attention_workspace *ws = NULL;
  fic_status s = fic_attention_workspace_create(rt, &d, &ws);
  if (s == FIC_ERR_CUDART_NOT_FOUND) {
    print_message("SKIPPED: no libcudart.so.13 for the workspace: %s\n", fic_last_error_message());
    skip();
  }
  FIC_ASSERT_OK(s);
  memset(&g_fake, 0, sizeof g_fake);
  fic__attn_workspace_set_event_ops(ws, &k_fake_ops);
  return ws;
}

static const int32_t k_fa3_kv_indptr[5] = {0, 3, 5, 5, 10}; /* pages; sequence 2 has none */
static const int32_t k_fa3_last[4] = {7, 16, 0, 3};         /* KV lengths 39, 32, 0, 67 */

static fic_batch_prefill_plan_params fa3_params(void) {
  fic_batch_prefill_plan_params p = prefill_plan();
  p.kv_indptr = k_fa3_kv_indptr;
  p.kv_last_page_len = k_fa3_last;
  return p;
}

/* Plan `p` on `ws`; FIC_OK with the plan's backend in *backend. */
static fic_status plan_backend(fic_runtime *rt, fic_attention_workspace *ws, const fic_batch_prefill_plan_params *p,
                               fic_attention_backend *backend) {
  fic_attention_plan *pl = (fic_attention_plan *)1;
  fic_status s = fic_batch_prefill_plan(rt, ws, p, NULL, &pl);
  if (s != FIC_OK) {
    assert_null(pl);
    return s;
  }
  FIC_ASSERT_OK(fic_attention_plan_backend(pl, backend));
  FIC_ASSERT_OK(fic_attention_plan_destroy(pl));
  return FIC_OK;
}

static void expect_fa3(fic_runtime *rt, fic_attention_workspace *ws, const fic_batch_prefill_plan_params *p) {
  fic_attention_backend b = FIC_ATTENTION_BACKEND_AUTO;
  FIC_ASSERT_OK(plan_backend(rt, ws, p, &b));
  assert_int_equal(b, FIC_ATTENTION_BACKEND_FA3);
}

/* The plan went to FA2: the wheel has no FA2 module, so its lookup fails
 * with the nearest-module message (never the FA3 one). */
static void expect_fa2(fic_runtime *rt, fic_attention_workspace *ws, const fic_batch_prefill_plan_params *p,
                       const char *dtypes) {
  fic_attention_backend b;
  KT_EXPECT_STATUS(plan_backend(rt, ws, p, &b), FIC_ERR_NOT_FOUND);
  const char *msg = fic_last_error_message();
  char want[96];
  snprintf(want, sizeof want, "no batch prefill module for q/kv/o/idx %s", dtypes);
  if (!strstr(msg, want) || strstr(msg, "FIC_ATTENTION_BACKEND_FA3")) fail_msg("not the FA2 lookup: %s", msg);
}

static void test_fa3_backend_choice(void **state) {
  fic_attention_workspace *ws = fa3_ws(state);
  fic_runtime *rt = ((kt_runtime *)*state)->rt;
  fic__test_set_compute_capability(90);
  fic_batch_prefill_plan_params p = fa3_params();
  expect_fa3(rt, ws, &p); /* AUTO, SM 9.0, module present */
  p.ragged = 1, p.kv_last_page_len = NULL;
  expect_fa3(rt, ws, &p); /* ragged NHD needs no last-page lengths */
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3;
  expect_fa3(rt, ws, &p);
  /* AUTO falls back to FA2 where FA3 cannot run or is absent. */
  p = fa3_params(), p.kv_dtype = FIC_F8_E4M3FN;
  expect_fa2(rt, ws, &p, "bf16/e4m3/bf16/i32"); /* mixed q/kv: no FA3 module */
  p = fa3_params(), p.kv_last_page_len = NULL;
  expect_fa2(rt, ws, &p, "bf16/bf16/bf16/i32"); /* paged without exact lengths */
  p = fa3_params(), p.ragged = 1, p.kv_layout = FIC_KV_LAYOUT_HND;
  expect_fa2(rt, ws, &p, "bf16/bf16/bf16/i32"); /* FA3's ragged run reads NHD only */
  p = fa3_params(), p.q_dtype = p.kv_dtype = FIC_F16;
  expect_fa2(rt, ws, &p, "f16/f16/f16/i32"); /* no such FA3 module in this wheel */
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA2;
  expect_fa2(rt, ws, &p, "bf16/bf16/bf16/i32");
  fic__test_set_compute_capability(80);
  p = fa3_params();
  expect_fa2(rt, ws, &p, "bf16/bf16/bf16/i32"); /* not SM 9.0 */
  /* A forced FA3 says why it cannot be. */
  fic__test_set_compute_capability(90);
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3, p.kv_dtype = FIC_F8_E4M3FN;
  KT_EXPECT_ARG(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), "kv_dtype",
                "FIC_ATTENTION_BACKEND_FA3: FA3 has no mixed q/kv dtypes");
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3, p.kv_last_page_len = NULL;
  KT_EXPECT_ARG(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), "kv_last_page_len",
                "exact KV length");
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3, p.ragged = 1, p.kv_layout = FIC_KV_LAYOUT_HND;
  KT_EXPECT_ARG(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), "kv_layout", "NHD");
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3, p.o_dtype = FIC_F16;
  KT_EXPECT_ARG(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), "o_dtype", "q_dtype");
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3, p.q_dtype = p.kv_dtype = FIC_F16;
  KT_EXPECT_STATUS(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), FIC_ERR_NOT_FOUND);
  assert_non_null(
      strstr(fic_last_error_message(),
             "FIC_ATTENTION_BACKEND_FA3: the jit-cache wheel has no module batch_prefill_with_kv_cache_dtype_q_"
             "f16_dtype_kv_f16_dtype_o_f16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_128_posenc_0_use_swa_"
             "False_use_logits_cap_False_f16qk_False_sm90"));
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3, p.head_dim_qk = 192, p.head_dim_vo = 128;
  KT_EXPECT_ARG(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), "head_dim_vo",
                "192/128 runs on ragged K/V only"); /* FA3's paged kernels need qk == vo */
  p.backend = FIC_ATTENTION_BACKEND_AUTO;           /* paged 192/128: no FA3, and FA2 has no 192/128 module at all */
  KT_EXPECT_STATUS(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), FIC_ERR_NOT_FOUND);
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3, p.head_dim_qk = 192, p.head_dim_vo = 128;
  p.ragged = 1, p.kv_last_page_len = NULL; /* ragged: the rule accepts it, the stand-in wheel lacks the module */
  KT_EXPECT_STATUS(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), FIC_ERR_NOT_FOUND);
  assert_non_null(strstr(fic_last_error_message(), "head_dim_qk_192_head_dim_vo_128_posenc_0"));
  fic__test_set_compute_capability(80);
  p = fa3_params(), p.backend = FIC_ATTENTION_BACKEND_FA3;
  KT_EXPECT_STATUS(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), FIC_ERR_UNSUPPORTED);
  assert_non_null(strstr(fic_last_error_message(), "cuda:0 has compute capability 8.0"));
  fic__test_set_compute_capability(0);
  KT_EXPECT_STATUS(fic_batch_prefill_plan(rt, ws, &p, NULL, &(fic_attention_plan *){NULL}), FIC_ERR_UNSUPPORTED);
  assert_non_null(strstr(fic_last_error_message(), "compute capability of cuda:0 is unknown"));
  fic__test_set_compute_capability(-1);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

/* The workspace remembers a successful module pick per (parameters,
 * backend asked for, FA3 fitness, compute capability): a repeated plan
 * gets the same module without the look-up, and a plan differing in any
 * of them is picked afresh (never the remembered module). */
static void test_fa3_pick_remembered(void **state) {
  fic_attention_workspace *ws = fa3_ws(state);
  fic_runtime *rt = ((kt_runtime *)*state)->rt;
  fic__test_set_compute_capability(90);
  fic_batch_prefill_plan_params p = fa3_params();
  for (int i = 0; i < 3; i++) expect_fa3(rt, ws, &p);
  fic__test_set_compute_capability(80);
  expect_fa2(rt, ws, &p, "bf16/bf16/bf16/i32"); /* another compute capability */
  fic__test_set_compute_capability(90);
  expect_fa3(rt, ws, &p);
  p.backend = FIC_ATTENTION_BACKEND_FA2;
  expect_fa2(rt, ws, &p, "bf16/bf16/bf16/i32"); /* another backend asked for */
  p = fa3_params(), p.kv_last_page_len = NULL;
  expect_fa2(rt, ws, &p, "bf16/bf16/bf16/i32"); /* FA3 cannot run it */
  p = fa3_params(), p.window_left = 10;         /* another module: not in the wheel at all */
  KT_EXPECT_STATUS(plan_backend(rt, ws, &p, &(fic_attention_backend){0}), FIC_ERR_NOT_FOUND);
  p = fa3_params();
  expect_fa3(rt, ws, &p);
  fic__test_set_compute_capability(-1);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

static void test_fa3_plan_validation(void **state) {
  (void)state;
  fixture *f = fixture_new(FIC__ATTN_KIND_PREFILL_PAGED);
  int32_t last[4] = {7, 16, 0, 3};
  PPLAN_EXPECT(f, p_.backend = 3, "backend", "FIC_ATTENTION_BACKEND_FA3 (2), got 3");
  PPLAN_EXPECT(f, p_.head_dim_qk = 192, "head_dim_vo", "head_dim_vo 128");
  PPLAN_EXPECT(f, (p_.kv_indptr = k_fa3_kv_indptr, p_.kv_last_page_len = last, last[0] = 17), "kv_last_page_len",
               "kv_last_page_len[0] must be in [1, 16] (sequence 0 has 3 page(s) of 16), got 17");
  PPLAN_EXPECT(f, (p_.kv_indptr = k_fa3_kv_indptr, p_.kv_last_page_len = last, last[0] = 0), "kv_last_page_len",
               "got 0");
  last[0] = 7;
  PPLAN_EXPECT(f, (p_.kv_indptr = k_fa3_kv_indptr, p_.kv_last_page_len = last, last[2] = 1), "kv_last_page_len",
               "kv_last_page_len[2] must be in [0, 0] (sequence 2 has 0 page(s)");
  last[2] = 0;
  int32_t big[5] = {0, 1 << 20, 1 << 20, 1 << 20, 1 << 20};
  PPLAN_EXPECT(f, (p_.kv_indptr = big, p_.kv_last_page_len = last, p_.page_size = 4096), "kv_last_page_len",
               "FlashInfer counts them in int32");
  /* Plan objects: the backend getter. */
  fic_attention_backend b = FIC_ATTENTION_BACKEND_AUTO;
  KT_EXPECT_ARG(fic_attention_plan_backend(NULL, &b), "plan", NULL);
  KT_EXPECT_ARG(fic_attention_plan_backend(&f->plan, NULL), "out", NULL);
  FIC_ASSERT_OK(fic_attention_plan_backend(&f->plan, &b));
  assert_int_equal(b, FIC_ATTENTION_BACKEND_FA2);
  f->plan.backend = FIC__BACKEND_FA3;
  FIC_ASSERT_OK(fic_attention_plan_backend(&f->plan, &b));
  assert_int_equal(b, FIC_ATTENTION_BACKEND_FA3);
  fic_batch_prefill_plan_params pp;
  FIC_ASSERT_OK(fic_batch_prefill_plan_params_init(&pp));
  assert_int_equal(pp.backend, FIC_ATTENTION_BACKEND_AUTO);
  assert_null(pp.kv_last_page_len);
  fixture_free(f);
}

/* What the stand-in recorded for its last call. */
static size_t fa3_last_call(fic_runtime *rt, int64_t *out, size_t cap) {
  fic_function *fn = kt_fn(rt, FA3_MODULE, "last_call");
  fic_result r;
  FIC_ASSERT_OK(fic_function_call(fn, NULL, 0, -1, NULL, &r));
  size_t n = 0;
  FIC_ASSERT_OK(fic_result_array_i64(&r, out, cap, &n));
  FIC_ASSERT_OK(fic_result_release(&r));
  assert_true(n <= cap);
  return n;
}

static int64_t dbits(double x) {
  int64_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}

static void expect_record(fic_runtime *rt, const int64_t *want, size_t n, const char *what) {
  int64_t got[128];
  size_t m = fa3_last_call(rt, got, 128);
  for (size_t i = 0; i < n && i < m; i++)
    if (got[i] != want[i])
      fail_msg("%s: argument record [%zu] is %lld, want %lld", what, i, (long long)got[i], (long long)want[i]);
  if (m != n) fail_msg("%s: argument record has %zu entries, want %zu", what, m, n);
}

#define P64(x) ((int64_t)(uintptr_t)(x))

/* The plan's 16 arguments and the runs' 24 / 22 reach the exports with the
 * values and in the order FlashInfer's Python passes them. */
static void test_fa3_argument_lists(void **state) {
  fic_attention_workspace *ws = fa3_ws(state);
  fic_runtime *rt = ((kt_runtime *)*state)->rt;
  fic__test_set_compute_capability(90);
  /* Paged, causal, CUDA graph, 24 rows for 20 query tokens. */
  fic_batch_prefill_plan_params p = fa3_params();
  p.causal = 1, p.enable_cuda_graph = 1, p.total_num_rows = 24, p.backend = FIC_ATTENTION_BACKEND_FA3;
  fic_attention_plan *pl = NULL;
  FIC_ASSERT_OK(fic_batch_prefill_plan(rt, ws, &p, (void *)0x77, &pl));
  assert_ptr_equal(g_fake.last_stream, (void *)0x77); /* the event follows the plan on its stream */
  const int64_t plan_want[] = {16, A_FLOAT, A_INT, P64(g_host), 5,  0,  5, 10, 15, 20, 5, 0,   3,   5, 5, 10,
                               4,  39,      32,    0,           67, 24, 4, 32, 8,  16, 1, 128, 128, 1, -1};
  expect_record(rt, plan_want, sizeof plan_want / sizeof plan_want[0], "paged plan");
  run_tensors r = good_tensors(pl);
  fic_batch_prefill_run_params rp = prefill_run(&r);
  rp.sm_scale = 0.5, rp.enable_pdl = FIC_PDL_OFF;
  FIC_ASSERT_OK(fic_batch_prefill_run(pl, &rp, NULL));
  const int64_t paged_want[] = {24,          A_FLOAT,
                                A_INT,       A_Q,
                                A_K,         A_V,
                                A_IDX,       A_IDX + 64,
                                A_IDX + 128, A_IDX + 256,
                                A_OUT,       9,
                                901,         902,
                                903,         904,
                                905,         906,
                                907,         908,
                                1,           A_LSE,
                                1,           FIC_KV_LAYOUT_NHD,
                                -1,          0,
                                0,           0,
                                0,           0,
                                dbits(0.0),  dbits(0.5),
                                dbits(1.0),  0};
  expect_record(rt, paged_want, sizeof paged_want / sizeof paged_want[0], "paged run");
  /* FA3 has no custom mask mode: a mask on an FA3 plan is refused, naming it. */
  rp.custom_mask = rp.out, rp.mask_indptr = rp.qo_indptr;
  KT_EXPECT_ARG(fic_batch_prefill_run(pl, &rp, NULL), "custom_mask", "FA3 has no custom mask mode");
  rp.custom_mask = rp.mask_indptr = NULL;
  /* The run's checks are the FA2 run's: a mismatch is refused before the call. */
  rp.q = NULL;
  KT_EXPECT_ARG(fic_batch_prefill_run(pl, &rp, NULL), "q", "must not be NULL");
  FIC_ASSERT_OK(fic_attention_plan_destroy(pl));
  /* Ragged NHD, not causal, AUTO, kv in tokens, no LSE; PDL from the plan's device (SM 9.0: on). */
  static const int32_t kv_tokens[5] = {0, 30, 45, 45, 70};
  p = prefill_plan();
  p.ragged = 1, p.kv_indptr = kv_tokens;
  FIC_ASSERT_OK(fic_batch_prefill_plan(rt, ws, &p, NULL, &pl));
  const int64_t ragged_plan_want[] = {16, A_FLOAT, A_INT, P64(g_host), 5,  0,  5, 10, 15, 20, 5, 0,   30,  45, 45, 70,
                                      4,  30,      15,    0,           25, 20, 4, 32, 8,  1,  0, 128, 128, 0,  -1};
  expect_record(rt, ragged_plan_want, sizeof ragged_plan_want / sizeof ragged_plan_want[0], "ragged plan");
  r = good_tensors(pl);
  rp = prefill_run(&r);
  rp.lse = NULL;
  FIC_ASSERT_OK(fic_batch_prefill_run(pl, &rp, NULL));
  const int64_t ragged_want[] = {22,         A_FLOAT,
                                 A_INT,      A_Q,
                                 A_K,        A_V,
                                 A_IDX,      A_IDX + 64,
                                 A_OUT,      9,
                                 901,        902,
                                 903,        904,
                                 905,        906,
                                 907,        908,
                                 1,          0,
                                 0,          FIC_KV_LAYOUT_NHD,
                                 -1,         1,
                                 0,          0,
                                 0,          0,
                                 dbits(0.0), dbits(1.0 / sqrt(128.0)),
                                 dbits(1.0), 0};
  expect_record(rt, ragged_want, sizeof ragged_want / sizeof ragged_want[0], "ragged run");
  FIC_ASSERT_OK(fic_attention_plan_destroy(pl));
  fic__test_set_compute_capability(-1);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

/* The arity table knows the FA3 exports. */
static void test_fa3_arities(void **state) {
  fic_runtime *rt = kt_need_rt(state, "no FA3 stand-in wheel (FIC_TEST_FA3_MOCK_WHEEL)");
  static const struct {
    const char *name;
    int arity;
  } cases[] = {{"plan", 16}, {"paged_run", 24}, {"ragged_run", 22}};
  fic_arg args[32];
  for (int i = 0; i < 32; i++) args[i] = fic_arg_none();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fic_function *fn = kt_fn(rt, FA3_MODULE, cases[i].name);
    KT_EXPECT_STATUS(fic_function_call(fn, args, cases[i].arity + 1, -1, NULL, NULL), FIC_ERR_ABI);
    char want[64];
    snprintf(want, sizeof want, "takes %d arguments", cases[i].arity);
    assert_non_null(strstr(fic_last_error_message(), want));
    /* The right count with the wrong kinds reaches the export's own conversion. */
    KT_EXPECT_KERNEL(fic_function_call(fn, args, cases[i].arity, -1, NULL, NULL), "TypeError", NULL);
  }
}

int main(void) {
  const struct CMUnitTest cpu[] = {
      cmocka_unit_test(test_params_init),
      cmocka_unit_test(test_decode_run_mismatch),
      cmocka_unit_test(test_decode_run_plan_state),
      cmocka_unit_test(test_prefill_run_mismatch),
      cmocka_unit_test(test_prefill_custom_mask_checks),
      cmocka_unit_test(test_decode_tail),
      cmocka_unit_test(test_graph_compatible_checks),
      cmocka_unit_test(test_decode_plan_validation),
      cmocka_unit_test(test_prefill_plan_validation),
      cmocka_unit_test(test_fa3_plan_validation),
      cmocka_unit_test(test_workspace_validation),
      cmocka_unit_test(test_workspace_orders_plans),
      cmocka_unit_test(test_fake_shows_the_hazard),
      cmocka_unit_test(test_workspace_event_failure),
      cmocka_unit_test(test_workspace_threads),
  };
  const struct CMUnitTest real[] = {
      cmocka_unit_test(test_real_nearest_module),     cmocka_unit_test(test_real_plan_without_gpu),
      cmocka_unit_test(test_real_run_argument_lists), cmocka_unit_test(test_real_arities),
      cmocka_unit_test(test_real_graph_compatible),
  };
  const struct CMUnitTest fa3[] = {
      cmocka_unit_test(test_fa3_backend_choice),
      cmocka_unit_test(test_fa3_pick_remembered),
      cmocka_unit_test(test_fa3_argument_lists),
      cmocka_unit_test(test_fa3_arities),
  };
  int failed = fic_test_run_group("attention", cpu, sizeof cpu / sizeof cpu[0], NULL, NULL);
  int fa3_failed =
      fic_test_run_group("attention_fa3_stand_in", fa3, sizeof fa3 / sizeof fa3[0], fa3_setup, fa3_teardown);
  failed += fa3_failed == 77 ? 0 : fa3_failed;
  int real_failed =
      fic_test_run_group("attention_real_modules", real, sizeof real / sizeof real[0], real_setup, kt_teardown);
  /* 77 (all real-module cases skipped, each reported as such) is not a failure of the CPU group. */
  return failed + (real_failed == 77 ? 0 : real_failed);
}
