/* SPDX-License-Identifier: Apache-2.0 */
/* Batch MLA (fic_batch_mla_plan / fic_batch_mla_run) without a GPU: every
 * plan validation error names its argument; a run is checked against its
 * plan (made by hand from the internal struct) and says which field
 * differs; MLA and decode/prefill plans refuse each other's runs; and, with
 * a wheel holding the real bf16 MLA modules ($FIC_MLA_WHEEL or CMake's
 * FIC_MLA_WHEEL), the exports' arities, our exact argument lists (they reach
 * the wrapper's body: the device guard fails without a GPU) and the plan
 * info length (MLAPlanInfo: 18) are checked against the real modules.
 * tests/gpu/test_gpu_mla.c runs them for real. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kt_attn.h"
#include "kt_util.h"

#define A_QN 0x7f0000100000u
#define A_QP 0x7f0000200000u
#define A_CKV 0x7f0000300000u
#define A_KPE 0x7f0000400000u
#define A_IDX 0x7f0000500000u
#define A_OUT 0x7f0000600000u
#define A_LSE 0x7f0000700000u
#define A_FLOAT 0x7f0000800000u
#define A_INT 0x7f0000900000u

#define ROWS 6
#define HEADS 16
#define CKV 512
#define KPE 64
#define PAGE 16
#define PAGES 12

/* ---- hand-made workspace and plan ---- */

typedef struct fixture {
  fic_runtime *rt;
  fic_attention_workspace *ws;
  fic_attention_plan plan;
  kt_desc qn, qp, ckv, kpe, idx, out, lse;
} fixture;

/* batch 4, 16 heads, 512/64, page 16, bf16, 6 query rows, 10 pages in kv_indptr. */
static void fake_mla_plan(fic_attention_plan *pl, fic_attention_workspace *ws) {
  memset(pl, 0, sizeof *pl);
  pl->rt = ws->rt;
  pl->ws = ws;
  pl->generation = atomic_load(&ws->generation);
  pl->kind = FIC__ATTN_KIND_MLA;
  pl->batch = 4, pl->qo_heads = HEADS, pl->kv_heads = 1, pl->page_size = PAGE;
  pl->head_dim_qk = CKV + KPE, pl->head_dim_vo = CKV, pl->head_dim_ckv = CKV, pl->head_dim_kpe = KPE;
  pl->sm_scale = 0.07, pl->window_left = -1, pl->total_rows = ROWS, pl->kv_total = 10;
  pl->q_dtype = FIC_BF16, pl->kv_dtype = FIC_BF16, pl->o_dtype = FIC_BF16;
}

static void good_tensors(fixture *f) {
  f->qn = kt_cuda(A_QN, FIC_BF16, 3, ROWS, HEADS, CKV, 0);
  f->qp = kt_cuda(A_QP, FIC_BF16, 3, ROWS, HEADS, KPE, 0);
  f->ckv = kt_cuda(A_CKV, FIC_BF16, 3, PAGES, PAGE, CKV, 0);
  f->kpe = kt_cuda(A_KPE, FIC_BF16, 3, PAGES, PAGE, KPE, 0);
  f->idx = kt_cuda(A_IDX, FIC_I32, 1, 10, 0, 0, 0);
  f->out = kt_cuda(A_OUT, FIC_BF16, 3, ROWS, HEADS, CKV, 0);
  f->lse = kt_cuda(A_LSE, FIC_F32, 2, ROWS, HEADS, 0, 0);
}

static fixture *fixture_new(void) {
  fixture *f = calloc(1, sizeof *f);
  assert_non_null(f);
  f->rt = kt_fake_runtime();
  f->ws = kt_fake_ws(f->rt);
  fake_mla_plan(&f->plan, f->ws);
  good_tensors(f);
  return f;
}

static void fixture_free(fixture *f) {
  kt_fake_ws_free(f->ws);
  free(f->rt);
  free(f);
}

static fic_batch_mla_run_params mla_run(fixture *f) {
  fic_batch_mla_run_params p;
  FIC_ASSERT_OK(fic_batch_mla_run_params_init(&p));
  p.q_nope = kt_t(&f->qn), p.q_pe = kt_t(&f->qp), p.ckv_cache = kt_t(&f->ckv), p.kpe_cache = kt_t(&f->kpe);
  p.kv_indices = kt_t(&f->idx), p.out = kt_t(&f->out), p.lse = kt_t(&f->lse);
  return p;
}

/* Run fixture f's plan with its good tensors after `mutate` (which sees the
 * fixture as g_ and the params as p_): refused, naming `arg`. */
#define RUN_EXPECT(f, mutate, arg, substr)                                \
  do {                                                                    \
    fixture g_ = *(f);                                                    \
    fic_batch_mla_run_params p_ = mla_run(&g_);                           \
    mutate;                                                               \
    KT_EXPECT_ARG(fic_batch_mla_run(&(f)->plan, &p_, NULL), arg, substr); \
  } while (0)

static void test_mla_run_mismatch(void **state) {
  (void)state;
  fixture *f = fixture_new();
  RUN_EXPECT(f, g_.qn.shape[0] = 5, "q_nope", "q_nope.shape[0] is 5, but the plan has total_num_rows = 6");
  RUN_EXPECT(f, g_.qn.shape[1] = 8, "q_nope", "q_nope.shape[1] is 8, but the plan has num_heads = 16");
  RUN_EXPECT(f, g_.qn.shape[2] = 576, "q_nope", "q_nope.shape[2] is 576, but the plan has head_dim_ckv = 512");
  RUN_EXPECT(f, g_.qn.t.dtype = FIC_F16, "q_nope", "q_nope has dtype float16, but the plan has q_dtype = bfloat16");
  RUN_EXPECT(f, g_.qn.t.device.device_id = 1, "q_nope", "q_nope is on cuda:1, but the plan's workspace is on cuda:0");
  RUN_EXPECT(f, g_.qn.t.ndim = 2, "q_nope", "3-D");
  RUN_EXPECT(f, p_.q_nope = NULL, "q_nope", "must not be NULL");
  RUN_EXPECT(f, g_.qp.shape[2] = 32, "q_pe", "q_pe.shape[2] is 32, but the plan has head_dim_kpe = 64");
  RUN_EXPECT(f, g_.qp.t.dtype = FIC_F16, "q_pe", "but the plan has q_dtype = bfloat16");
  RUN_EXPECT(f, g_.ckv.shape[1] = 1, "ckv_cache", "ckv_cache.shape[1] is 1, but the plan has page_size = 16");
  RUN_EXPECT(f, g_.ckv.shape[2] = 576, "ckv_cache", "ckv_cache.shape[2] is 576, but the plan has head_dim_ckv = 512");
  RUN_EXPECT(f, g_.ckv.t.dtype = FIC_F16, "ckv_cache", "but the plan has kv_dtype = bfloat16");
  RUN_EXPECT(f, g_.kpe.shape[2] = 576, "kpe_cache", "kpe_cache.shape[2] is 576, but the plan has head_dim_kpe = 64");
  RUN_EXPECT(f, g_.kpe.shape[0] = 11, "kpe_cache", "kpe_cache has 11 pages, ckv_cache 12");
  RUN_EXPECT(f, g_.kpe.t.device.device_id = 2, "kpe_cache", "cuda:2");
  RUN_EXPECT(f, g_.out.shape[2] = 64, "out", "out.shape[2] is 64, but the plan has head_dim_ckv = 512");
  RUN_EXPECT(f, g_.out.t.dtype = FIC_F16, "out", "but the plan has o_dtype = bfloat16");
  RUN_EXPECT(f, g_.idx.shape[0] = 9, "kv_indices", "kv_indices holds 9 entries, but the plan's kv_indptr ends at 10");
  RUN_EXPECT(f, g_.idx.t.dtype = FIC_I64, "kv_indices", "int32");
  RUN_EXPECT(f, p_.kv_indices = NULL, "kv_indices", "must not be NULL");
  RUN_EXPECT(f, g_.lse.shape[1] = 8, "lse", "num_heads");
  RUN_EXPECT(f, g_.lse.shape[0] = 5, "lse", "total_num_rows");
  RUN_EXPECT(f, g_.lse.t.dtype = FIC_BF16, "lse", "float32");
  RUN_EXPECT(f, (kt_strides(&g_.lse, 32, 1, 0, 0), p_.lse = kt_t(&g_.lse)), "lse", "contiguous");
  /* Layouts the kernels cannot take. */
  RUN_EXPECT(f, (kt_strides(&g_.qn, HEADS * CKV, CKV, 2, 0), p_.q_nope = kt_t(&g_.qn)), "q_nope",
             "contiguous in its last dimension");
  RUN_EXPECT(f, g_.qn.t.data = (void *)(A_QN + 8), "q_nope", "16-byte aligned");
  RUN_EXPECT(f, (kt_strides(&g_.out, HEADS * 516, 516, 1, 0), p_.out = kt_t(&g_.out)), "out",
             "out.strides[1] must be a multiple of 8");
  RUN_EXPECT(f, (g_.ckv.shape[0] = 600000, g_.kpe.shape[0] = 600000), "ckv_cache",
             "offsets must stay below 4294967296");
  RUN_EXPECT(f, p_.sm_scale = -1, "sm_scale", ">= 0");
  RUN_EXPECT(f, p_.lse_base_e = 2, "lse_base_e", "0 or 1");
  RUN_EXPECT(f, p_.struct_size = 0, "params", "struct_size is 0");
  RUN_EXPECT(f, p_.struct_size = sizeof p_ + 8, "params", "in steps of 8");
  fixture_free(f);
}

/* The layouts MLA callers use: q_nope/q_pe as views of one [rows, heads,
 * 576] tensor and the caches as views of one [pages, page_size, 576] cache
 * pass every tensor check (the run then stops at the last scalar check). */
static void test_mla_run_views_pass_checks(void **state) {
  (void)state;
  fixture *f = fixture_new();
  fixture g = *f;
  kt_strides(&g.qn, HEADS * 576, 576, 1, 0);
  kt_strides(&g.qp, HEADS * 576, 576, 1, 0);
  g.qp.t.data = (void *)(A_QN + CKV * 2);
  kt_strides(&g.ckv, PAGE * 576, 576, 1, 0);
  kt_strides(&g.kpe, PAGE * 576, 576, 1, 0);
  g.kpe.t.data = (void *)(A_CKV + CKV * 2);
  fic_batch_mla_run_params p = mla_run(&g);
  p.lse_base_e = 7;
  KT_EXPECT_ARG(fic_batch_mla_run(&f->plan, &p, NULL), "lse_base_e", "got 7");
  p.lse = NULL; /* optional */
  KT_EXPECT_ARG(fic_batch_mla_run(&f->plan, &p, NULL), "lse_base_e", "got 7");
  fixture_free(f);
}

static void test_mla_plan_kinds(void **state) {
  (void)state;
  fixture *f = fixture_new();
  fic_batch_mla_run_params p = mla_run(f);
  KT_EXPECT_ARG(fic_batch_mla_run(NULL, &p, NULL), "plan", "must not be NULL");
  KT_EXPECT_ARG(fic_batch_mla_run(&f->plan, NULL, NULL), "params", "must not be NULL");
  fic_batch_decode_run_params d;
  FIC_ASSERT_OK(fic_batch_decode_run_params_init(&d));
  KT_EXPECT_ARG(fic_batch_decode_run(&f->plan, &d, NULL), "plan", "batch MLA plan; run it with fic_batch_mla_run");
  fic_batch_prefill_run_params pr;
  FIC_ASSERT_OK(fic_batch_prefill_run_params_init(&pr));
  KT_EXPECT_ARG(fic_batch_prefill_run(&f->plan, &pr, NULL), "plan", "batch MLA plan; run it with fic_batch_mla_run");
  atomic_fetch_add(&f->ws->generation, 3);
  KT_EXPECT_ARG(fic_batch_mla_run(&f->plan, &p, NULL), "plan", "superseded: 3 later plan(s)");
  f->plan.generation = atomic_load(&f->ws->generation);
  f->plan.kind = FIC__ATTN_KIND_DECODE;
  KT_EXPECT_ARG(fic_batch_mla_run(&f->plan, &p, NULL), "plan", "batch decode plan; run it with fic_batch_decode_run");
  f->plan.kind = FIC__ATTN_KIND_PREFILL_RAGGED;
  KT_EXPECT_ARG(fic_batch_mla_run(&f->plan, &p, NULL), "plan", "batch prefill plan; run it with fic_batch_prefill_run");
  fixture_free(f);
}

/* ---- plan validation ---- */

static const int32_t k_qo[5] = {0, 1, 3, 4, 6};
static const int32_t k_kv[5] = {0, 3, 5, 9, 10};
static const int32_t k_len[4] = {40, 17, 64, 1};

static fic_batch_mla_plan_params mla_plan(void) {
  fic_batch_mla_plan_params p;
  FIC_ASSERT_OK(fic_batch_mla_plan_params_init(&p));
  p.qo_indptr = k_qo, p.kv_indptr = k_kv, p.kv_len = k_len, p.batch_size = 4, p.num_heads = HEADS;
  p.page_size = PAGE, p.sm_scale = 0.07, p.q_dtype = p.kv_dtype = FIC_BF16;
  return p;
}

/* Plan with good parameters (p_; writable copies qo_, kv_, len_) after
 * `mutate`: refused naming `arg`, no plan out, nothing reached the workspace. */
#define PLAN_EXPECT(f, mutate, arg, substr)                                             \
  do {                                                                                  \
    fic_batch_mla_plan_params p_ = mla_plan();                                          \
    int32_t qo_[5], kv_[5], len_[4];                                                    \
    memcpy(qo_, k_qo, sizeof qo_), memcpy(kv_, k_kv, sizeof kv_);                       \
    memcpy(len_, k_len, sizeof len_);                                                   \
    p_.qo_indptr = qo_, p_.kv_indptr = kv_, p_.kv_len = len_;                           \
    mutate;                                                                             \
    fic_attention_plan *out_ = (fic_attention_plan *)1;                                 \
    KT_EXPECT_ARG(fic_batch_mla_plan((f)->rt, (f)->ws, &p_, NULL, &out_), arg, substr); \
    assert_null(out_);                                                                  \
    assert_int_equal(atomic_load(&(f)->ws->generation), 0);                             \
  } while (0)

static void test_mla_plan_validation(void **state) {
  (void)state;
  fixture *f = fixture_new();
  fic_batch_mla_plan_params p = mla_plan();
  fic_attention_plan *out = NULL;
  KT_EXPECT_ARG(fic_batch_mla_plan(f->rt, f->ws, &p, NULL, NULL), "out", NULL);
  KT_EXPECT_ARG(fic_batch_mla_plan(NULL, f->ws, &p, NULL, &out), "rt", NULL);
  KT_EXPECT_ARG(fic_batch_mla_plan(f->rt, NULL, &p, NULL, &out), "ws", NULL);
  KT_EXPECT_ARG(fic_batch_mla_plan(f->rt, f->ws, NULL, NULL, &out), "params", NULL);
  PLAN_EXPECT(f, p_.struct_size = 12, "params", "struct_size is 12");
  PLAN_EXPECT(f, p_.struct_size = 8, "batch_size", "must be in [1,"); /* an older caller gets the defaults */
  PLAN_EXPECT(f, p_.batch_size = 0, "batch_size", "got 0");
  PLAN_EXPECT(f, p_.qo_indptr = NULL, "qo_indptr", "host array");
  PLAN_EXPECT(f, qo_[2] = 0, "qo_indptr", "qo_indptr[1] = 1 > qo_indptr[2] = 0");
  PLAN_EXPECT(f, kv_[0] = 1, "kv_indptr", "kv_indptr[0] must be 0, got 1");
  PLAN_EXPECT(f, p_.kv_indptr = NULL, "kv_indptr", "host array");
  PLAN_EXPECT(f, p_.num_heads = 0, "num_heads", "got 0");
  PLAN_EXPECT(f, p_.head_dim_ckv = 500, "head_dim_ckv", "multiple of 64");
  PLAN_EXPECT(f, p_.head_dim_kpe = 0, "head_dim_kpe", "got 0");
  PLAN_EXPECT(f, p_.page_size = 0, "page_size", "got 0");
  PLAN_EXPECT(f, p_.causal = 2, "causal", "0 or 1");
  PLAN_EXPECT(f, p_.backend = 3, "backend", "got 3");
  PLAN_EXPECT(f, p_.sm_scale = 0, "sm_scale", "must not be 0");
  PLAN_EXPECT(f, p_.sm_scale = -0.1, "sm_scale", ">= 0");
  PLAN_EXPECT(f, p_.sm_scale = 1.0 / 0.0, "sm_scale", "finite");
  PLAN_EXPECT(f, p_.q_dtype = FIC_F32, "q_dtype", "float16 or bfloat16, got float32");
  PLAN_EXPECT(f, p_.kv_dtype = FIC_F16, "kv_dtype", "must equal q_dtype (bfloat16)");
  PLAN_EXPECT(f, p_.kv_dtype = FIC_F8_E4M3FN, "kv_dtype", "got float8_e4m3fn");
  PLAN_EXPECT(f, p_.o_dtype = FIC_F32, "o_dtype", "got float32");
  PLAN_EXPECT(f, p_.reserved0 = 1, "reserved0", "must be 0");
  PLAN_EXPECT(f, p_.total_num_rows = 5, "total_num_rows", "[qo_indptr[batch_size] = 6,");
  PLAN_EXPECT(f, p_.kv_len = NULL, "kv_len", "host array of batch_size int32");
  PLAN_EXPECT(f, len_[1] = 33, "kv_len", "kv_len[1] = 33 must be in [0, 32]: kv_indptr gives sequence 1 2 pages of 16");
  PLAN_EXPECT(f, len_[0] = -1, "kv_len", "kv_len[0] = -1");
  PLAN_EXPECT(f, (p_.causal = 1, len_[1] = 1), "kv_len",
              "kv_len[1] = 1 is less than the sequence's 2 query rows: FlashInfer's causal MLA needs qo_len <= kv_len");
  PLAN_EXPECT(f, (p_.page_size = 1 << 29, kv_[4] = 10), "kv_indptr", "address tokens in 32 bits");
  PLAN_EXPECT(f, p_.num_heads = 1 << 29, "num_heads", "counts it in int32");
  /* 6 sequences of 3000 rows x 256 heads: 768000 packed rows each, in
   * tiles of 128 (two-CTA clusters): 36000 work items at least. */
  int32_t qo_big[7], kv_big[7], len_big[6];
  for (int i = 0; i <= 6; i++) qo_big[i] = 3000 * i, kv_big[i] = 200 * i;
  for (int i = 0; i < 6; i++) len_big[i] = 3200;
  PLAN_EXPECT(
      f, (p_.batch_size = 6, p_.qo_indptr = qo_big, p_.kv_indptr = kv_big, p_.kv_len = len_big, p_.num_heads = 256),
      "qo_indptr", "FlashInfer's MLA schedule holds 16384: split the batch");
  fixture_free(f);
}

static void test_mla_params_init(void **state) {
  (void)state;
  KT_EXPECT_ARG(fic_batch_mla_plan_params_init(NULL), "params", NULL);
  KT_EXPECT_ARG(fic_batch_mla_run_params_init(NULL), "params", NULL);
  fic_batch_mla_plan_params p;
  FIC_ASSERT_OK(fic_batch_mla_plan_params_init(&p));
  assert_int_equal(p.struct_size, sizeof p);
  assert_int_equal(p.head_dim_ckv, 512);
  assert_int_equal(p.head_dim_kpe, 64);
  assert_int_equal(p.backend, FIC_ATTENTION_BACKEND_AUTO);
  assert_true(p.causal == 0 && p.sm_scale == 0 && p.total_num_rows == 0 && p.o_dtype.bits == 0);
  fic_batch_mla_run_params r;
  FIC_ASSERT_OK(fic_batch_mla_run_params_init(&r));
  assert_int_equal(r.struct_size, sizeof r);
  assert_true(r.sm_scale == 0 && r.lse_base_e == 0 && r.lse == NULL);
}

/* ---- the real modules ($FIC_MLA_WHEEL) ---- */

static int real_setup(void **state) {
  static const char *const modules[] = {KT_MLA_MODULE_BF16, NULL};
  const char *wheel = kt_mla_wheel();
  *state = wheel ? kt_try_open(wheel, modules) : NULL;
  return 0;
}

static fic_runtime *need_real(void **state) {
  return kt_need_rt(state, "no wheel with the real bf16 MLA module (FIC_MLA_WHEEL)");
}

static _Alignas(64) unsigned char g_host[1 << 20];

static fic_attention_workspace *real_ws(fic_runtime *rt) {
  fic_attention_workspace_desc d;
  FIC_ASSERT_OK(fic_attention_workspace_desc_init(&d));
  d.float_buffer = (void *)A_FLOAT, d.float_bytes = 64 << 20;
  d.int_buffer = (void *)A_INT, d.int_bytes = sizeof g_host;
  d.host_buffer = g_host, d.host_bytes = sizeof g_host;
  fic_attention_workspace *ws = NULL;
  FIC_ASSERT_OK(fic_attention_workspace_create(rt, &d, &ws));
  return ws;
}

/* The exports take 9 and 15 arguments, in the FA2 module and (when the
 * wheel has it) the FA3 one. */
static void test_real_mla_arities(void **state) {
  fic_runtime *rt = need_real(state);
  const char *modules[2] = {KT_MLA_MODULE_BF16, KT_MLA_MODULE_BF16_SM90};
  fic_arg args[16];
  for (int i = 0; i < 16; i++) args[i] = fic_arg_none();
  for (int m = 0; m < 2; m++) {
    const char *path = NULL;
    if (m == 1 && fic_runtime_module_path(rt, modules[m], &path) != FIC_OK) {
      print_message("(the wheel has no %s: FA3 arities not checked)\n", modules[m]);
      continue;
    }
    static const struct {
      const char *name;
      int arity;
    } fns[] = {{"plan", 9}, {"run", 15}};
    for (int i = 0; i < 2; i++) {
      fic_function *fn = kt_fn(rt, modules[m], fns[i].name);
      KT_EXPECT_STATUS(fic_function_call(fn, args, fns[i].arity - 1, -1, NULL, NULL), FIC_ERR_ABI);
      char want[64];
      snprintf(want, sizeof want, "takes %d arguments", fns[i].arity);
      assert_non_null(strstr(fic_last_error_message(), want));
    }
  }
}

/* What the wrappers raise without a usable GPU: their device guard fails. */
static void expect_no_gpu_error(fic_status s, const char *what) {
  print_message("%s: %s [%s] %s\n", what, fic_status_name(s), fic_last_error_kind(), s ? fic_last_error_message() : "");
  if (s != FIC_ERR_KERNEL) fail_msg("%s: got %s, want FIC_ERR_KERNEL", what, fic_status_name(s));
  assert_non_null(strstr(fic_last_error_message(), "CUDA"));
}

/* Our plan and run argument lists convert (a wrong count or kind would be a
 * TypeError before the body), and the run's body first rebuilds MLAPlanInfo
 * from the Array: 18 values. */
static void test_real_mla_argument_lists(void **state) {
  fic_runtime *rt = need_real(state);
  kt_skip_if_gpu(rt);
  fic_attention_workspace *ws = real_ws(rt);
  fic_batch_mla_plan_params pp = mla_plan();
  pp.backend = FIC_ATTENTION_BACKEND_FA2;
  fic_attention_plan *out = NULL;
  expect_no_gpu_error(fic_batch_mla_plan(rt, ws, &pp, NULL, &out), "MLA plan");
  assert_null(out);
  assert_int_equal(atomic_load(&ws->generation), 1);
  for (size_t len = 18; len >= 17; len--) {
    fixture *f = fixture_new();
    fic_attention_plan pl;
    fake_mla_plan(&pl, ws);
    fic_function *run = kt_fn(rt, KT_MLA_MODULE_BF16, "run");
    pl.run = (const struct fic_function *)run;
    int64_t zeros[18] = {0};
    fic_result info;
    FIC_ASSERT_OK(fic_array_i64_new(rt, zeros, len, &info));
    memcpy(&pl.info, &info, sizeof pl.info);
    fic_batch_mla_run_params p = mla_run(f);
    fic_status s = fic_batch_mla_run(&pl, &p, NULL);
    fic__object_release(rt, &pl.info);
    if (len == 18) {
      expect_no_gpu_error(s, "MLA run");
    } else {
      KT_EXPECT_STATUS(s, FIC_ERR_KERNEL);
      assert_non_null(strstr(fic_last_error_message(), "vec.size() should be 18, but got 17"));
    }
    fixture_free(f);
  }
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

/* f16 on a bf16-only wheel: the nearest-module message, and nothing
 * reached the workspace. */
static void test_real_mla_missing_module(void **state) {
  fic_runtime *rt = need_real(state);
  fic_attention_workspace *ws = real_ws(rt);
  fic_batch_mla_plan_params p = mla_plan();
  p.q_dtype = p.kv_dtype = FIC_F16;
  const char *path = NULL;
  if (fic_runtime_module_path(rt,
                              "batch_mla_attention_dtype_q_f16_dtype_kv_f16_dtype_o_f16_dtype_idx_i32_head_dim_ckv_"
                              "512_head_dim_kpe_64_profiler_False",
                              &path) == FIC_OK) {
    FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
    print_message("SKIPPED: the wheel has the f16 MLA module too\n");
    skip();
  }
  fic_attention_plan *out = NULL;
  KT_EXPECT_STATUS(fic_batch_mla_plan(rt, ws, &p, NULL, &out), FIC_ERR_NOT_FOUND);
  print_message("f16 MLA: %s\n", fic_last_error_message());
  assert_null(out);
  assert_int_equal(atomic_load(&ws->generation), 0);
  FIC_ASSERT_OK(fic_attention_workspace_destroy(ws));
}

int main(void) {
  const struct CMUnitTest cpu[] = {
      cmocka_unit_test(test_mla_params_init),  cmocka_unit_test(test_mla_plan_validation),
      cmocka_unit_test(test_mla_run_mismatch), cmocka_unit_test(test_mla_run_views_pass_checks),
      cmocka_unit_test(test_mla_plan_kinds),
  };
  const struct CMUnitTest real[] = {
      cmocka_unit_test(test_real_mla_arities),
      cmocka_unit_test(test_real_mla_argument_lists),
      cmocka_unit_test(test_real_mla_missing_module),
  };
  int failed = fic_test_run_group("mla", cpu, sizeof cpu / sizeof cpu[0], NULL, NULL);
  int real_failed = fic_test_run_group("mla_real_modules", real, sizeof real / sizeof real[0], real_setup, kt_teardown);
  return failed + (real_failed == 77 ? 0 : real_failed);
}
