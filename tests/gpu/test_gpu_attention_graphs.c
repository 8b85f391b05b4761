/* SPDX-License-Identifier: Apache-2.0 */
/* CUDA graphs replayed after re-plans with NEW sequence lengths (bf16,
 * head dim 128 modules). A plan made with enable_cuda_graph = 1 outside
 * capture; one run captured over fixed buffers sized for the shape class
 * (decode: the batch; prefill: the batch and total_num_rows rows of q/out);
 * then, for each new set of lengths: re-plan on the same workspace (same
 * batch size, same total_num_rows), check fic_attention_plan_graph_compatible,
 * write the new indptrs, page table, last-page lengths, cache and q into
 * the captured buffers, replay, and compare with the float64 reference and,
 * bit for bit, with an eager run of the new plan over the same buffers.
 *
 * What enable_cuda_graph fixes (scheduler.cuh, 0.6.3): DecodePlan pads the
 * schedule to max_grid_size / num_kv_heads entries when it splits kv (it
 * always does with graphs once batch * num_kv_heads < max_grid_size) and to
 * the batch otherwise; PrefillPlan always splits kv, takes cta_tile_q from
 * the longest query a sequence can have, total_num_rows - batch + 1, and
 * pads to max(2 * SMs / num_kv_heads, tiles of total_num_rows). So the
 * lengths tried are the extremes the captured schedule allows: every
 * sequence of length 1; one sequence of 8192 keys (decode) or of
 * total_num_rows - batch + 1 query rows (prefill, next to 2000 keys); and
 * random ones. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attn_batch.h"

/* The captured buffers: sized for every round's batch. */
typedef struct slot {
  int64_t rows, pool, ind;
  size_t cache_bytes;
  void *dq, *dk, *dv, *dqo, *dkvi, *dind, *dlast, *dout, *dlse, *eager, *eager_lse;
} slot;

static size_t cache_bytes(const kv_batch *b) {
  return (size_t)(b->pool * (b->c.page ? b->c.page : 1) * b->c.hkv * b->dim * b->kvsize);
}

static void slot_new(slot *s, kv_batch *rounds, int n, int64_t rows) {
  memset(s, 0, sizeof *s);
  s->rows = rows;
  for (int i = 0; i < n; i++) {
    if (rounds[i].pool > s->pool) s->pool = rounds[i].pool;
    if (rounds[i].pages > s->ind) s->ind = rounds[i].pages;
    if (cache_bytes(&rounds[i]) > s->cache_bytes) s->cache_bytes = cache_bytes(&rounds[i]);
  }
  const attn_case *c = &rounds[0].c;
  size_t qbytes = (size_t)(rows * c->hq * rounds[0].dim * 2), lbytes = (size_t)(rows * c->hq * 4);
  s->dq = gpu_alloc(qbytes), s->dout = gpu_alloc(qbytes), s->eager = gpu_alloc(qbytes);
  s->dlse = gpu_alloc(lbytes), s->eager_lse = gpu_alloc(lbytes);
  s->dk = gpu_alloc(s->cache_bytes), s->dv = gpu_alloc(s->cache_bytes);
  s->dqo = gpu_alloc((size_t)(c->batch + 1) * 4), s->dkvi = gpu_alloc((size_t)(c->batch + 1) * 4);
  s->dind = gpu_alloc((size_t)s->ind * 4), s->dlast = gpu_alloc((size_t)c->batch * 4);
}

static void slot_free(slot *s) {
  void *dev[] = {s->dq, s->dk, s->dv, s->dqo, s->dkvi, s->dind, s->dlast, s->dout, s->dlse, s->eager, s->eager_lse};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) CK(cudaFree(dev[i]));
}

/* Write b's inputs into the captured buffers (paged caches: a page's
 * address does not depend on the pool size, so b's cache is a prefix). */
static void slot_load(slot *s, const kv_batch *b) {
  const attn_case *c = &b->c;
  CK(cudaMemcpy(s->dq, b->dq, (size_t)(b->rows * c->hq * b->dim * 2), cudaMemcpyDeviceToDevice));
  CK(cudaMemcpy(s->dk, b->dk, cache_bytes(b), cudaMemcpyDeviceToDevice));
  CK(cudaMemcpy(s->dv, b->dv, cache_bytes(b), cudaMemcpyDeviceToDevice));
  CK(cudaMemcpy(s->dqo, b->dqo, (size_t)(c->batch + 1) * 4, cudaMemcpyDeviceToDevice));
  CK(cudaMemcpy(s->dkvi, b->dkvi, (size_t)(c->batch + 1) * 4, cudaMemcpyDeviceToDevice));
  CK(cudaMemcpy(s->dind, b->dind, (size_t)b->pages * 4, cudaMemcpyDeviceToDevice));
  CK(cudaMemcpy(s->dlast, b->dlast, (size_t)c->batch * 4, cudaMemcpyDeviceToDevice));
  size_t qbytes = (size_t)(s->rows * c->hq * b->dim * 2), lbytes = (size_t)(s->rows * c->hq * 4);
  CK(cudaMemset(s->dout, 0xff, qbytes)), CK(cudaMemset(s->eager, 0xff, qbytes));
  CK(cudaMemset(s->dlse, 0xff, lbytes)), CK(cudaMemset(s->eager_lse, 0xff, lbytes));
  CK(cudaDeviceSynchronize()); /* the copies run on the legacy stream; the graph on a non-blocking one */
}

/* The run's tensors over the captured buffers, shaped by their capacity. */
static at_descs slot_descs(const slot *s, const kv_batch *b, int eager) {
  at_descs d = at_make_descs(b);
  d.q.t.data = s->dq, d.q.shape[0] = s->rows;
  d.out.t.data = eager ? s->eager : s->dout, d.out.shape[0] = s->rows;
  d.lse.t.data = eager ? s->eager_lse : s->dlse, d.lse.shape[0] = s->rows;
  d.k.t.data = s->dk, d.k.shape[0] = s->pool;
  d.v.t.data = s->dv, d.v.shape[0] = s->pool;
  d.ind.t.data = s->dind, d.ind.shape[0] = s->ind;
  d.qo.t.data = s->dqo, d.kvi.t.data = s->dkvi, d.last.t.data = s->dlast;
  return d;
}

/* The lengths of one round; NULL kv: random ones. */
typedef struct round_lengths {
  const char *what;
  int64_t kv[16], qo[16];
  int given;
} round_lengths;

static void graph_case(fic_runtime *rt, const attn_case *base, const round_lengths *rounds, int n, ref_rng *r) {
  gpu_ws w;
  gpu_ws_new(rt, &w);
  kv_batch b[4];
  attn_case cases[4];
  for (int i = 0; i < n; i++) {
    cases[i] = *base;
    cases[i].kv_lens = rounds[i].given ? rounds[i].kv : NULL;
    cases[i].qo_lens = rounds[i].given && base->max_qo ? rounds[i].qo : NULL;
    kv_batch_new(&b[i], &cases[i], r);
  }
  int64_t rows = base->max_qo ? base->total_num_rows : base->batch;
  slot s;
  slot_new(&s, b, n, rows);
  cudaStream_t st;
  CK(cudaStreamCreateWithFlags(&st, cudaStreamNonBlocking));
  fic_attention_plan *captured = NULL;
  FIC_ASSERT_OK(at_plan(rt, w.ws, &b[0], 1, st, &captured));
  slot_load(&s, &b[0]);
  CK(cudaStreamSynchronize(st));
  at_descs d = slot_descs(&s, &b[0], 0);
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamBeginCapture(st, cudaStreamCaptureModeThreadLocal));
  FIC_ASSERT_OK(at_run(captured, &b[0], &d, st));
  CK(cudaStreamEndCapture(st, &graph));
  CK(cudaGraphInstantiate(&exec, graph, 0));
  for (int i = 0; i < n; i++) {
    fic_attention_plan *plan = captured;
    if (i > 0) {
      FIC_ASSERT_OK(at_plan(rt, w.ws, &b[i], 1, st, &plan));
      FIC_ASSERT_OK(fic_attention_plan_graph_compatible(captured, plan));
      slot_load(&s, &b[i]);
    }
    CK(cudaGraphLaunch(exec, st));
    CK(cudaStreamSynchronize(st));
    char what[160];
    snprintf(what, sizeof what, "graph replay, %s (%lld rows, %lld pages)", rounds[i].what, (long long)b[i].rows,
             (long long)b[i].pages);
    print_message("%s: %s\n", base->name, what);
    at_check(&b[i], s.dout, s.dlse, what);
    at_descs e = slot_descs(&s, &b[i], 1);
    FIC_ASSERT_OK(at_run(plan, &b[i], &e, st));
    CK(cudaStreamSynchronize(st));
    size_t out_bytes = (size_t)(b[i].rows * base->hq * b[i].dim * 2);
    at_expect_same_bits(s.dout, s.eager, out_bytes, what);
    at_expect_same_bits(s.dlse, s.eager_lse, (size_t)(b[i].rows * base->hq * 4), what);
    if (i > 0) FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  }
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));
  CK(cudaStreamDestroy(st));
  FIC_ASSERT_OK(fic_attention_plan_destroy(captured));
  slot_free(&s);
  for (int i = 0; i < n; i++) kv_batch_free(&b[i]);
  gpu_ws_free(&w);
}

#define ONES16 \
  { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 }

static void test_decode_new_lengths(void **state) {
  fic_runtime *rt = at_group_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_decode_new_lengths"));
  static const round_lengths rounds[] = {
      {"random lengths", {0}, {0}, 0},
      {"every sequence 1 key", ONES16, ONES16, 1},
      {"one sequence of 8192 keys", {8192, 1, 77, 300, 16, 17, 1, 2, 33, 250, 5, 64, 65, 1, 3, 100}, ONES16, 1},
      {"random lengths again", {0}, {0}, 0},
  };
  static const attn_case cases[] = {
      {"graph decode g4 p16 NHD (split kv)", 16, 32, 8, 16, FIC_KV_LAYOUT_NHD, 800, 0, 0, 0, .dim = 128},
      {"graph decode g7 p16 HND (tensor cores)", 8, 28, 4, 16, FIC_KV_LAYOUT_HND, 400, 0, 0, 0, .dim = 128},
      {"graph decode g8 p1 NHD", 4, 64, 8, 1, FIC_KV_LAYOUT_NHD, 300, 0, 0, 0, .dim = 128},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) graph_case(rt, &cases[i], rounds, 4, &r);
}

static void test_prefill_new_lengths(void **state) {
  fic_runtime *rt = at_group_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_prefill_new_lengths"));
  /* batch 4, total_num_rows 256: one sequence may have 253 rows. */
  static const round_lengths rounds[] = {
      {"random lengths", {0}, {0}, 0},
      {"every sequence 1 row over 1 key", ONES16, ONES16, 1},
      {"one sequence of 253 rows over 300 keys", {300, 1, 9, 2000}, {253, 1, 1, 1}, 1},
      {"random lengths again", {0}, {0}, 0},
  };
  static const attn_case cases[] = {
      {"graph prefill paged causal g4 p16 NHD", 4, 32, 8, 16, FIC_KV_LAYOUT_NHD, 500, 64, 1, 0, .total_num_rows = 256},
      {"graph prefill paged g7 p1 HND", 4, 28, 4, 1, FIC_KV_LAYOUT_HND, 300, 48, 0, 0, .total_num_rows = 256},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) graph_case(rt, &cases[i], rounds, 4, &r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_decode_new_lengths),
      cmocka_unit_test(test_prefill_new_lengths),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
