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

/* ---- runtime and workspace ---- */

static fic_runtime *attn_rt(void **state) {
  gpu_require();
  if (*state) return ((kt_runtime *)*state)->rt;
  const char *wheel = kt_attn_wheel();
  if (!wheel) {
    print_message("SKIPPED: no wheel with the attention modules (see above)\n");
    skip();
  }
  static const char *const modules[] = {KT_ATTN_DECODE_MODULE, KT_ATTN_PREFILL_MODULE, NULL};
  kt_runtime *k = kt_try_open(wheel, modules);
  if (!k) {
    print_message("SKIPPED: %s lacks the bf16/hd128 decode or FA2 prefill module (see above)\n", wheel);
    skip();
  }
  FIC_ASSERT_OK(fic_runtime_preload(k->rt, NULL)); /* no module load during graph capture */
  *state = k;
  return k->rt;
}

static fic_attention_plan *plan_batch(fic_runtime *rt, fic_attention_workspace *ws, const kv_batch *b, int graph,
                                      cudaStream_t s) {
  fic_attention_plan *plan = NULL;
  FIC_ASSERT_OK(at_plan(rt, ws, b, graph, s, &plan));
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
  at_ws_new(rt, &w);
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
  at_ws_free(&w);
}

/* ---- cases ---- */

static void run_cases(void **state, const char *test, const attn_case *cases, size_t n) {
  fic_runtime *rt = attn_rt(state);
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
  fic_runtime *rt = attn_rt(state);
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
    at_ws_new(rt, &w);
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
    at_ws_free(&w);
  }
  CK(cudaStreamDestroy(s));
}

/* Plan with enable_cuda_graph outside capture, capture one run, replay it
 * after writing new page-table contents into the same buffers. */
static void graph_case(fic_runtime *rt, const attn_case *c, ref_rng *r) {
  gpu_ws w;
  at_ws_new(rt, &w);
  kv_batch b;
  kv_batch_new(&b, c, r);
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  fic_attention_plan *plan = plan_batch(rt, w.ws, &b, 1, s);
  size_t out_bytes = (size_t)(b.rows * c->hq * b.dim * 2);
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
  at_ws_free(&w);
}

static void test_cuda_graph(void **state) {
  fic_runtime *rt = attn_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_cuda_graph"));
  static const attn_case cases[] = {
      {"graph decode g4 p16 NHD", 16, 32, 8, 16, FIC_KV_LAYOUT_NHD, 800, 0, 0, 0, .dim = 128},
      {"graph decode g7 p16 HND (tensor cores)", 8, 28, 4, 16, FIC_KV_LAYOUT_HND, 400, 0, 0, 0, .dim = 128},
      {"graph prefill paged causal g4 p16 NHD", 4, 32, 8, 16, FIC_KV_LAYOUT_NHD, 500, 64, 1, 0, .dim = 128},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) graph_case(rt, &cases[i], &r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode),         cmocka_unit_test(test_prefill_paged),
      cmocka_unit_test(test_prefill_ragged), cmocka_unit_test(test_plans_back_to_back),
      cmocka_unit_test(test_cuda_graph),
  };
  int rc = cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
  if (g_busy) cudaFree(g_busy);
  return rc;
}
