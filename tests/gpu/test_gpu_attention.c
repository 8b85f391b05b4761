/* SPDX-License-Identifier: Apache-2.0 */
/* Batch decode and batch prefill (FlashInfer 0.6.3's bf16 / head dim 128
 * modules built by tools/kernel-modules) on a real GPU against the float64
 * reference (src/checks/reference.c, ref_attention), on fresh random data
 * (the seed is printed; rerun with FIC_TEST_SEED=<seed>):
 *  - random non-contiguous page tables drawn from a larger pool of pages,
 *    page sizes 1 and 16, partial last pages, batch 1 to 64, lengths 1 to
 *    2048, GQA ratios 1, 4, 7 (tensor-core decode), 8, NHD and HND, LSE;
 *  - prefill paged and ragged, causal and not;
 *  - two plans back to back on one workspace, the first one's copy still
 *    queued behind a long stream of work when the second plan writes the
 *    page-locked buffer (the workspace's event makes that safe);
 *  - a CUDA graph captured once and replayed with new page-table contents in
 *    the same buffers: bit-identical to an eager run.
 * Outputs are poisoned (all-ones bits: NaN in bf16 and f32) before each run.
 * Tolerances: tests/gpu/attn_batch.h. Head dims 64/256, window, soft cap,
 * f16, e4m3 KV and custom masks: test_gpu_attention_variants.c; CUDA graphs
 * replayed after re-plans with new lengths: test_gpu_attention_graphs.c. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_batch.h"

/* ---- plan and run ---- */

static fic_attention_plan *plan_batch(fic_runtime *rt, fic_attention_workspace *ws, const kv_batch *b, int graph,
                                      cudaStream_t s) {
  fic_attention_plan *plan = NULL;
  FIC_ASSERT_OK(at_plan(rt, ws, b, graph, s, &plan));
  if (b->c.max_qo) { /* prefill: the backend asked for (AUTO must choose FA3 in the FA3 group: SM 9.0, module present)
                      */
    fic_attention_backend got = FIC_ATTENTION_BACKEND_AUTO;
    FIC_ASSERT_OK(fic_attention_plan_backend(plan, &got));
    int want = b->c.backend == AT_AUTO ? FIC_ATTENTION_BACKEND_FA3
               : b->c.backend          ? b->c.backend
                                       : FIC_ATTENTION_BACKEND_FA2;
    if ((int)got != want) fail_msg("%s: planned on backend %d, want %d", b->c.name, (int)got, want);
  }
  return plan;
}

static fic_status run_batch(const fic_attention_plan *plan, kv_batch *b, void *out, cudaStream_t s) {
  at_descs d = at_make_descs(b);
  d.out.t.data = out;
  return at_run(plan, b, &d, s);
}

static void check_batch(const kv_batch *b, const void *out, const char *what) { at_check(b, out, b->dlse, what); }

static void run_case(fic_runtime *rt, const attn_case *c, ref_rng *r) {
  gpu_ws w;
  gpu_ws_new(rt, &w);
  kv_batch b;
  kv_batch_new(&b, c, r);
  print_message("%s: batch %lld, heads %lld/%lld, page %lld, %s, %lld rows, %lld pages of a pool of %lld\n", c->name,
                (long long)c->batch, (long long)c->hq, (long long)c->hkv, (long long)c->page, c->layout ? "HND" : "NHD",
                (long long)b.rows, (long long)b.pages, (long long)b.pool);
  fic_attention_plan *plan = plan_batch(rt, w.ws, &b, 0, NULL);
  FIC_ASSERT_OK(run_batch(plan, &b, b.dout, NULL));
  CK(cudaDeviceSynchronize());
  check_batch(&b, b.dout, "eager");
  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  kv_batch_free(&b);
  gpu_ws_free(&w);
}

/* ---- cases ---- */

static void run_cases(void **state, const char *test, const attn_case *cases, size_t n) {
  fic_runtime *rt = at_group_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed(test));
  for (size_t i = 0; i < n; i++) run_case(rt, &cases[i], &r);
}

static void test_decode(void **state) {
  static const attn_case cases[] = {
      {"decode g1 p1 NHD", 1, 32, 32, 1, FIC_KV_LAYOUT_NHD, 64, 0, 0, 0, .dim = 128},
      {"decode g4 p16 HND", 7, 32, 8, 16, FIC_KV_LAYOUT_HND, 2048, 0, 0, 0, .dim = 128},
      {"decode g7 p16 NHD (tensor cores)", 64, 28, 4, 16, FIC_KV_LAYOUT_NHD, 512, 0, 0, 0, .dim = 128},
      {"decode g8 p1 HND", 33, 64, 8, 1, FIC_KV_LAYOUT_HND, 300, 0, 0, 0, .dim = 128},
      {"decode g4 p16 NHD use_tensor_cores", 5, 32, 8, 16, FIC_KV_LAYOUT_NHD, 1000, 0, 0, 1, .dim = 128},
      {"decode g2 p16 NHD short", 16, 16, 8, 16, FIC_KV_LAYOUT_NHD, 17, 0, 0, 0, .dim = 128},
  };
  run_cases(state, "test_decode", cases, sizeof cases / sizeof cases[0]);
}

static void test_prefill_paged(void **state) {
  static const attn_case cases[] = {
      {"prefill paged causal g1 p16 NHD", 3, 16, 16, 16, FIC_KV_LAYOUT_NHD, 700, 200, 1, 0, .dim = 128},
      {"prefill paged g4 p1 HND", 5, 32, 8, 1, FIC_KV_LAYOUT_HND, 300, 64, 0, 0, .dim = 128},
      {"prefill paged causal g7 p16 HND", 4, 28, 4, 16, FIC_KV_LAYOUT_HND, 2048, 128, 1, 0, .dim = 128},
      {"prefill paged g8 p16 NHD", 8, 64, 8, 16, FIC_KV_LAYOUT_NHD, 500, 33, 0, 0, .dim = 128},
  };
  run_cases(state, "test_prefill_paged", cases, sizeof cases / sizeof cases[0]);
}

static void test_prefill_ragged(void **state) {
  static const attn_case cases[] = {
      {"prefill ragged causal g4 NHD", 4, 32, 8, 0, FIC_KV_LAYOUT_NHD, 600, 300, 1, 0, .dim = 128},
      {"prefill ragged g1 HND", 3, 8, 8, 0, FIC_KV_LAYOUT_HND, 200, 50, 0, 0, .dim = 128},
      {"prefill ragged causal g7 HND", 2, 28, 4, 0, FIC_KV_LAYOUT_HND, 1000, 1000, 1, 0, .dim = 128},
  };
  run_cases(state, "test_prefill_ragged", cases, sizeof cases / sizeof cases[0]);
}

/* Keep `s` busy for a while (a few ms of memsets), so that work queued
 * after this has not run when the host carries on. */
static void *g_busy;
static void keep_busy(cudaStream_t s) {
  const size_t bytes = (size_t)1 << 30;
  if (!g_busy) g_busy = gpu_alloc(bytes);
  for (int i = 0; i < 16; i++) CK(cudaMemsetAsync(g_busy, i, bytes, s));
}

/* Plan A, run A, plan B (another page table and other lengths) and run B
 * back to back on one workspace and one stream with no host sync. A's copy
 * out of the page-locked buffer is still queued behind the busy work when
 * plan B's host scheduling runs: without the workspace's event B would
 * overwrite A's schedule before A's copy read it. */
static void test_plans_back_to_back(void **state) {
  fic_runtime *rt = at_group_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_plans_back_to_back"));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  static const attn_case ca = {"reuse A", 24, 32, 8, 16, FIC_KV_LAYOUT_NHD, 1500, 0, 0, 0, .dim = 128};
  static const attn_case cb = {"reuse B", 40, 32, 8, 16, FIC_KV_LAYOUT_NHD, 300, 0, 0, 0, .dim = 128};
  static const attn_case pa = {"reuse prefill A", 6, 32, 8, 16, FIC_KV_LAYOUT_HND, 900, 100, 1, 0, .dim = 128};
  const attn_case *pairs[2][2] = {{&ca, &cb}, {&pa, &cb}};
  for (int k = 0; k < 2; k++) {
    gpu_ws w;
    gpu_ws_new(rt, &w);
    kv_batch a, b;
    kv_batch_new(&a, pairs[k][0], &r);
    kv_batch_new(&b, pairs[k][1], &r);
    CK(cudaDeviceSynchronize());
    keep_busy(s);
    fic_attention_plan *plan_a = plan_batch(rt, w.ws, &a, 0, s);
    FIC_ASSERT_OK(run_batch(plan_a, &a, a.dout, s));
    fic_attention_plan *plan_b = plan_batch(rt, w.ws, &b, 0, s);
    FIC_ASSERT_OK(run_batch(plan_b, &b, b.dout, s));
    /* A was superseded by B on this workspace: running it again is refused. */
    KT_EXPECT_ARG(run_batch(plan_a, &a, a.dout, s), "plan", "superseded");
    CK(cudaStreamSynchronize(s));
    check_batch(&a, a.dout, "first of two plans");
    check_batch(&b, b.dout, "second of two plans");
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan_a));
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan_b));
    kv_batch_free(&a);
    kv_batch_free(&b);
    gpu_ws_free(&w);
  }
  CK(cudaStreamDestroy(s));
}

/* Plan with enable_cuda_graph outside capture, capture one run, replay it
 * after writing new page-table contents into the same buffers. */
static void graph_case(fic_runtime *rt, const attn_case *c, ref_rng *r) {
  gpu_ws w;
  gpu_ws_new(rt, &w);
  kv_batch b;
  kv_batch_new(&b, c, r);
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  fic_attention_plan *plan = plan_batch(rt, w.ws, &b, 1, s);
  size_t out_bytes = (size_t)(b.rows * c->hq * b.dim_vo * 2);
  void *eager = gpu_alloc(out_bytes);
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamSynchronize(s));
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  FIC_ASSERT_OK(run_batch(plan, &b, b.dout, s));
  CK(cudaStreamEndCapture(s, &graph));
  CK(cudaGraphInstantiate(&exec, graph, 0));
  for (int round = 0; round < 2; round++) {
    if (round) kv_batch_new_pages(&b, r);
    kv_batch_poison(&b);
    CK(cudaMemset(eager, 0xff, out_bytes));
    CK(cudaDeviceSynchronize()); /* memsets on the legacy stream, the graph on a non-blocking one */
    CK(cudaGraphLaunch(exec, s));
    CK(cudaStreamSynchronize(s));
    check_batch(&b, b.dout, round ? "graph replay, new page table" : "graph replay");
    FIC_ASSERT_OK(run_batch(plan, &b, eager, s));
    CK(cudaStreamSynchronize(s));
    at_expect_same_bits(b.dout, eager, out_bytes, c->name);
  }
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));
  CK(cudaStreamDestroy(s));
  CK(cudaFree(eager));
  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  kv_batch_free(&b);
  gpu_ws_free(&w);
}

static void test_cuda_graph(void **state) {
  fic_runtime *rt = at_group_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_cuda_graph"));
  static const attn_case cases[] = {
      {"graph decode g4 p16 NHD", 16, 32, 8, 16, FIC_KV_LAYOUT_NHD, 800, 0, 0, 0, .dim = 128},
      {"graph decode g7 p16 HND (tensor cores)", 8, 28, 4, 16, FIC_KV_LAYOUT_HND, 400, 0, 0, 0, .dim = 128},
      {"graph prefill paged causal g4 p16 NHD", 4, 32, 8, 16, FIC_KV_LAYOUT_NHD, 500, 64, 1, 0, .dim = 128},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) graph_case(rt, &cases[i], &r);
}

/* ---- FA3 (SM 9.0, the module from FIC_FA3_WHEEL) ---- */

static kt_runtime *g_fa2_for_fa3; /* the FA2 wheel's runtime, for the comparison */
static int g_fa2_tried;

static fic_runtime *fa3_rt(void **state) {
  gpu_require();
  if (*state) return ((kt_runtime *)*state)->rt;
  if (gpu_cc_major() != 9) {
    print_message("SKIPPED: FA3 modules hold sm_90a code only; this GPU has compute capability %d.x\n", gpu_cc_major());
    skip();
  }
  static const char *const modules[] = {KT_ATTN_FA3_MODULE, NULL};
  kt_runtime *k = gpu_open_wheel(kt_fa3_wheel(), modules, "FIC_FA3_WHEEL is not set: no wheel with " KT_ATTN_FA3_MODULE,
                                 KT_ATTN_FA3_MODULE);
  *state = k;
  return k->rt;
}

/* A runtime over the FA2 wheel (FIC_ATTN_WHEEL), opened once; NULL without it. */
static fic_runtime *fa2_rt_for_compare(void) {
  if (!g_fa2_tried) {
    g_fa2_tried = 1;
    static const char *const modules[] = {KT_ATTN_PREFILL_MODULE, NULL};
    const char *wheel = kt_attn_wheel();
    g_fa2_for_fa3 = wheel ? kt_try_open(wheel, modules) : NULL;
  }
  return g_fa2_for_fa3 ? g_fa2_for_fa3->rt : NULL;
}

static int fa3_teardown(void **state) {
  kt_close(g_fa2_for_fa3);
  g_fa2_for_fa3 = NULL;
  return kt_teardown(state);
}

/* GQA 4 (32 query heads over 8), bf16, head dim 128; rows cross FA3's
 * 128-row query tiles. */
static void test_fa3_prefill(void **state) {
  fic_runtime *rt = fa3_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_fa3_prefill"));
  static const attn_case cases[] = {
      {"fa3 paged causal g4 p1 NHD", 5, 32, 8, 1, FIC_KV_LAYOUT_NHD, 300, 64, 1, 0, .dim = 128,
       .backend = FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged g4 p16 NHD", 8, 32, 8, 16, FIC_KV_LAYOUT_NHD, 700, 200, 0, 0, .dim = 128,
       .backend = FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged causal g4 p16 HND", 4, 32, 8, 16, FIC_KV_LAYOUT_HND, 2048, 150, 1, 0, .dim = 128,
       .backend = FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged g4 p1 HND", 3, 32, 8, 1, FIC_KV_LAYOUT_HND, 200, 50, 0, 0, .dim = 128,
       .backend = FIC_ATTENTION_BACKEND_FA3},
      {"fa3 ragged causal g4 NHD", 4, 32, 8, 0, FIC_KV_LAYOUT_NHD, 600, 300, 1, 0, .dim = 128,
       .backend = FIC_ATTENTION_BACKEND_FA3},
      {"fa3 ragged g4 NHD", 6, 32, 8, 0, FIC_KV_LAYOUT_NHD, 1000, 129, 0, 0, .dim = 128,
       .backend = FIC_ATTENTION_BACKEND_FA3},
      {"fa3 paged causal g4 p16 NHD (AUTO)", 6, 32, 8, 16, FIC_KV_LAYOUT_NHD, 800, 150, 1, 0, .dim = 128,
       .backend = AT_AUTO},
      {"fa3 ragged g4 NHD (AUTO)", 2, 32, 8, 0, FIC_KV_LAYOUT_NHD, 300, 100, 0, 0, .dim = 128, .backend = AT_AUTO},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_case(rt, &cases[i], &r);
}

/* One batch through FA3 and FA2 (each on its own runtime and workspace):
 * each against the reference, then FA3 against FA2. */
static void fa3_vs_fa2_case(fic_runtime *rt3, fic_runtime *rt2, const attn_case *c, ref_rng *r) {
  gpu_ws w[2];
  gpu_ws_new(rt3, &w[0]);
  gpu_ws_new(rt2, &w[1]);
  kv_batch b;
  kv_batch_new(&b, c, r);
  size_t n = (size_t)(b.rows * c->hq * 128), nl = (size_t)(b.rows * c->hq);
  double *out[2], *lse[2];
  for (int k = 0; k < 2; k++) {
    out[k] = malloc(n * sizeof(double)), lse[k] = malloc(nl * sizeof(double));
    assert_true(out[k] && lse[k]);
    b.c.backend = k ? 0 : FIC_ATTENTION_BACKEND_FA3;
    kv_batch_poison(&b);
    fic_attention_plan *plan = plan_batch(k ? rt2 : rt3, w[k].ws, &b, 0, NULL);
    FIC_ASSERT_OK(run_batch(plan, &b, b.dout, NULL));
    CK(cudaDeviceSynchronize());
    check_batch(&b, b.dout, k ? "FA2" : "FA3");
    gpu_get_half(REF_BF16, b.dout, out[k], n);
    gpu_get_f32(b.dlse, lse[k], nl);
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  }
  char label[160];
  snprintf(label, sizeof label, "%s: FA3 out vs FA2 out", c->name);
  gpu_expect_close(label, out[0], out[1], n, AT_OUT_TOL);
  snprintf(label, sizeof label, "%s: FA3 lse vs FA2 lse", c->name);
  gpu_expect_close(label, lse[0], lse[1], nl, AT_LSE_TOL);
  for (int k = 0; k < 2; k++) free(out[k]), free(lse[k]), gpu_ws_free(&w[k]);
  kv_batch_free(&b);
}

static void test_fa3_vs_fa2(void **state) {
  fic_runtime *rt3 = fa3_rt(state), *rt2 = fa2_rt_for_compare();
  if (!rt2) {
    print_message("SKIPPED: no FA2 wheel (FIC_ATTN_WHEEL) with %s to compare with (see above)\n",
                  KT_ATTN_PREFILL_MODULE);
    skip();
  }
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_fa3_vs_fa2"));
  static const attn_case cases[] = {
      {"compare paged causal g4 p16 NHD", 6, 32, 8, 16, FIC_KV_LAYOUT_NHD, 900, 200, 1, 0, .dim = 128, .backend = 0},
      {"compare paged g4 p1 HND", 4, 32, 8, 1, FIC_KV_LAYOUT_HND, 400, 100, 0, 0, .dim = 128, .backend = 0},
      {"compare ragged causal g4 NHD", 3, 32, 8, 0, FIC_KV_LAYOUT_NHD, 700, 260, 1, 0, .dim = 128, .backend = 0},
      {"compare ragged g4 NHD", 5, 32, 8, 0, FIC_KV_LAYOUT_NHD, 500, 80, 0, 0, .dim = 128, .backend = 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) fa3_vs_fa2_case(rt3, rt2, &cases[i], &r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),         cmocka_unit_test(test_prefill_paged),
      cmocka_unit_test(test_prefill_ragged), cmocka_unit_test(test_plans_back_to_back),
      cmocka_unit_test(test_cuda_graph),
  };
  const struct CMUnitTest fa3[] = {cmocka_unit_test(test_fa3_prefill), cmocka_unit_test(test_fa3_vs_fa2)};
  int rc = cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
  int rc3 = fic_test_run_group("fa3", fa3, sizeof fa3 / sizeof fa3[0], kt_setup_empty, fa3_teardown);
  if (g_busy) cudaFree(g_busy);
  return kt_groups_status(rc, rc3);
}
