/* SPDX-License-Identifier: Apache-2.0 */
/* Streams and CUDA graphs on a real GPU:
 *  - many threads, each on its own stream, and one thread round-robin over
 *    several streams, all give bit-identical results to the default stream;
 *  - our calls captured into a CUDA graph run nothing eagerly (so they went
 *    to the capturing stream) and, replayed on fresh inputs, match eager
 *    calls bit for bit (norms, layernorm's Tensor objects, gdn_prefill);
 *  - during capture, a call that would load a module is refused with
 *    FIC_ERR_CAPTURING and leaves the capture intact. */
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

#define ROWS 64
#define HIDDEN 4096
#define N (ROWS * HIDDEN)
#define THREADS 4
#define ITERS 50

static void *random_half(ref_rng *r, ref_half kind, size_t n, double mean, uint16_t *keep) {
  uint16_t *h = keep ? keep : malloc(n * 2);
  assert_non_null(h);
  ref_half_random(r, kind, h, NULL, n, mean, 1.0);
  void *d = gpu_upload(h, n * 2);
  if (!keep) free(h);
  return d;
}

/* --------------------------------------------------------------- streams */

typedef struct worker {
  fic_runtime *rt;
  void *in, *w, *out;
  fic_status status;
  cudaError_t cuda;
  char message[256];
} worker;

static void *worker_main(void *arg) {
  worker *k = arg;
  cudaStream_t s = NULL;
  k->cuda = cudaSetDevice(0);
  if (k->cuda == cudaSuccess) k->cuda = cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking);
  if (k->cuda != cudaSuccess) return NULL;
  kt_desc in = gpu_desc(k->in, FIC_F16, 2, ROWS, HIDDEN, 0, 0), out = gpu_desc(k->out, FIC_F16, 2, ROWS, HIDDEN, 0, 0),
          w = gpu_desc(k->w, FIC_F16, 1, HIDDEN, 0, 0, 0);
  for (int i = 0; i < ITERS && k->status == FIC_OK; i++) {
    k->status = fic_gemma_rmsnorm(k->rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, s);
    if (k->status != FIC_OK) snprintf(k->message, sizeof k->message, "%s", fic_last_error_message());
  }
  k->cuda = cudaStreamSynchronize(s);
  cudaStreamDestroy(s);
  return NULL;
}

static void test_streams_match_default_stream(void **state) {
  fic_runtime *rt = gpu_group_rt(state, "norm");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("streams"));
  void *in = random_half(&r, REF_F16, N, 0, NULL), *w = random_half(&r, REF_F16, HIDDEN, 0, NULL);
  void *base = gpu_alloc(N * 2);
  kt_desc din = gpu_desc(in, FIC_F16, 2, ROWS, HIDDEN, 0, 0), dbase = gpu_desc(base, FIC_F16, 2, ROWS, HIDDEN, 0, 0),
          dw = gpu_desc(w, FIC_F16, 1, HIDDEN, 0, 0, 0);
  FIC_ASSERT_OK(fic_gemma_rmsnorm(rt, kt_t(&dbase), kt_t(&din), kt_t(&dw), 1e-6, 0, NULL));
  CK(cudaDeviceSynchronize());
  uint16_t *want = malloc(N * 2), *got = malloc(N * 2);
  assert_true(want && got);
  gpu_download(want, base, N * 2);

  /* Threads, one stream each, sharing the runtime. */
  worker k[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&k[i], 0, sizeof k[i]);
    k[i].rt = rt, k[i].in = in, k[i].w = w, k[i].out = gpu_alloc(N * 2);
    CK(cudaMemset(k[i].out, 0, N * 2));
    assert_int_equal(pthread_create(&th[i], NULL, worker_main, &k[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) {
    assert_int_equal(pthread_join(th[i], NULL), 0);
    if (k[i].status != FIC_OK) fail_msg("thread %d: %s: %s", i, fic_status_string(k[i].status), k[i].message);
    CK(k[i].cuda);
    gpu_download(got, k[i].out, N * 2);
    if (memcmp(got, want, N * 2) != 0) fail_msg("thread %d: result differs from the default stream's", i);
    CK(cudaFree(k[i].out));
  }

  /* One thread, round-robin over several streams. */
  cudaStream_t s[THREADS];
  void *outs[THREADS];
  kt_desc douts[THREADS];
  for (int i = 0; i < THREADS; i++) {
    CK(cudaStreamCreateWithFlags(&s[i], cudaStreamNonBlocking));
    outs[i] = gpu_alloc(N * 2);
    douts[i] = gpu_desc(outs[i], FIC_F16, 2, ROWS, HIDDEN, 0, 0);
  }
  for (int it = 0; it < ITERS; it++)
    for (int i = 0; i < THREADS; i++)
      FIC_ASSERT_OK(fic_gemma_rmsnorm(rt, kt_t(&douts[i]), kt_t(&din), kt_t(&dw), 1e-6, 0, s[i]));
  for (int i = 0; i < THREADS; i++) {
    CK(cudaStreamSynchronize(s[i]));
    gpu_download(got, outs[i], N * 2);
    if (memcmp(got, want, N * 2) != 0) fail_msg("stream %d: result differs from the default stream's", i);
    CK(cudaStreamDestroy(s[i]));
    CK(cudaFree(outs[i]));
  }
  print_message("  %d threads x %d calls and %d round-robin streams: identical to the default stream\n", THREADS, ITERS,
                THREADS);
  free(want), free(got);
  CK(cudaFree(in)), CK(cudaFree(w)), CK(cudaFree(base));
}

/* ----------------------------------------------------------------- graphs */

/* The buffers of one set of norm calls (gemma, fused add in place, quant,
 * layernorm), and the calls themselves. */
typedef struct norm_set {
  void *in, *w, *out, *x, *res, *wb, *q8, *ln_in, *ln_out, *gamma, *beta;
} norm_set;

static void norm_set_alloc(norm_set *n) {
  n->in = gpu_alloc(N * 2), n->w = gpu_alloc(HIDDEN * 2), n->out = gpu_alloc(N * 2), n->x = gpu_alloc(N * 2);
  n->res = gpu_alloc(N * 2), n->wb = gpu_alloc(HIDDEN * 2), n->q8 = gpu_alloc(N), n->ln_in = gpu_alloc(N * 2),
  n->ln_out = gpu_alloc(N * 2);
  n->gamma = gpu_alloc(HIDDEN * 4), n->beta = gpu_alloc(HIDDEN * 4);
}

static void norm_set_free(norm_set *n) {
  void *p[] = {n->in, n->w, n->out, n->x, n->res, n->wb, n->q8, n->ln_in, n->ln_out, n->gamma, n->beta};
  for (size_t i = 0; i < sizeof p / sizeof p[0]; i++) CK(cudaFree(p[i]));
}

/* Fresh inputs, written identically into every set. */
static void norm_sets_fill(ref_rng *r, norm_set *sets, int count) {
  uint16_t *h = malloc(N * 2);
  float *f = malloc(HIDDEN * 4);
  assert_true(h && f);
  const size_t offs[6] = {offsetof(norm_set, in),  offsetof(norm_set, w),  offsetof(norm_set, x),
                          offsetof(norm_set, res), offsetof(norm_set, wb), offsetof(norm_set, ln_in)};
  const ref_half kinds[6] = {REF_F16, REF_F16, REF_BF16, REF_BF16, REF_BF16, REF_BF16};
  const size_t sizes[6] = {N, HIDDEN, N, N, HIDDEN, N};
  for (int j = 0; j < 6; j++) {
    ref_half_random(r, kinds[j], h, NULL, sizes[j], 0.0, 1.0);
    for (int i = 0; i < count; i++)
      CK(cudaMemcpy(*(void **)((char *)&sets[i] + offs[j]), h, sizes[j] * 2, cudaMemcpyHostToDevice));
  }
  for (int j = 0; j < 2; j++) {
    for (int i = 0; i < HIDDEN; i++) f[i] = (float)(j ? ref_rng_normal(r) * 0.1 : 1.0 + ref_rng_normal(r) * 0.1);
    for (int i = 0; i < count; i++)
      CK(cudaMemcpy(j ? sets[i].beta : sets[i].gamma, f, HIDDEN * 4, cudaMemcpyHostToDevice));
  }
  free(h), free(f);
}

static void norm_set_call(fic_runtime *rt, norm_set *n, cudaStream_t s) {
  kt_desc in = gpu_desc(n->in, FIC_F16, 2, ROWS, HIDDEN, 0, 0), out = gpu_desc(n->out, FIC_F16, 2, ROWS, HIDDEN, 0, 0),
          w = gpu_desc(n->w, FIC_F16, 1, HIDDEN, 0, 0, 0), x = gpu_desc(n->x, FIC_BF16, 2, ROWS, HIDDEN, 0, 0),
          res = gpu_desc(n->res, FIC_BF16, 2, ROWS, HIDDEN, 0, 0), wb = gpu_desc(n->wb, FIC_BF16, 1, HIDDEN, 0, 0, 0),
          q8 = gpu_desc(n->q8, FIC_F8_E4M3FN, 2, ROWS, HIDDEN, 0, 0),
          lin = gpu_desc(n->ln_in, FIC_BF16, 2, ROWS, HIDDEN, 0, 0),
          lout = gpu_desc(n->ln_out, FIC_BF16, 2, ROWS, HIDDEN, 0, 0),
          g = gpu_desc(n->gamma, FIC_F32, 1, HIDDEN, 0, 0, 0), b = gpu_desc(n->beta, FIC_F32, 1, HIDDEN, 0, 0, 0);
  FIC_ASSERT_OK(fic_gemma_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, s));
  FIC_ASSERT_OK(fic_rmsnorm_quant(rt, kt_t(&q8), kt_t(&in), kt_t(&w), 0.5, 1e-6, 0, s));
  FIC_ASSERT_OK(fic_fused_add_rmsnorm(rt, kt_t(&x), kt_t(&res), kt_t(&wb), 1e-6, 1, s));
  FIC_ASSERT_OK(fic_layernorm(rt, kt_t(&lout), kt_t(&lin), kt_t(&g), kt_t(&b), 1e-5, s));
}

static void expect_same_bytes(const char *what, const void *a, const void *b, size_t bytes) {
  char *ha = malloc(bytes), *hb = malloc(bytes);
  assert_true(ha && hb);
  gpu_download(ha, a, bytes);
  gpu_download(hb, b, bytes);
  if (memcmp(ha, hb, bytes) != 0) fail_msg("%s: graph replay differs from the eager call", what);
  free(ha), free(hb);
}

static void test_graph_replay_matches_eager(void **state) {
  fic_runtime *rt = gpu_group_rt(state, "norm");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("graph"));
  norm_set sets[2]; /* [0] captured, [1] eager */
  norm_set_alloc(&sets[0]), norm_set_alloc(&sets[1]);
  norm_sets_fill(&r, sets, 2);
  CK(cudaMemset(sets[0].out, 0xff, N * 2));
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  norm_set_call(rt, &sets[0], s);
  CK(cudaStreamEndCapture(s, &graph));
  size_t nodes = 0;
  CK(cudaGraphGetNodes(graph, NULL, &nodes));
  print_message("  captured %zu graph nodes\n", nodes);
  assert_true(nodes >= 4);
  /* Nothing ran while capturing: the calls went to the capturing stream. */
  uint16_t probe[8];
  gpu_download(probe, sets[0].out, sizeof probe);
  for (int i = 0; i < 8; i++) assert_int_equal(probe[i], 0xffff);
  CK(cudaGraphInstantiate(&exec, graph, 0));

  for (int replay = 0; replay < 3; replay++) {
    norm_sets_fill(&r, sets, 2);
    CK(cudaGraphLaunch(exec, s));
    norm_set_call(rt, &sets[1], NULL);
    CK(cudaDeviceSynchronize());
    expect_same_bytes("gemma_rmsnorm", sets[0].out, sets[1].out, N * 2);
    expect_same_bytes("rmsnorm_quant", sets[0].q8, sets[1].q8, N);
    expect_same_bytes("fused_add_rmsnorm input", sets[0].x, sets[1].x, N * 2);
    expect_same_bytes("fused_add_rmsnorm residual", sets[0].res, sets[1].res, N * 2);
    expect_same_bytes("layernorm", sets[0].ln_out, sets[1].ln_out, N * 2);
  }
  print_message("  3 replays on fresh inputs: bit-identical to eager calls\n");
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));
  CK(cudaStreamDestroy(s));
  norm_set_free(&sets[0]), norm_set_free(&sets[1]);
}

/* gdn_prefill under capture (SM 9.x and a wheel with the module only). */
static void test_gdn_graph_replay(void **state) {
  gpu_require();
  if (gpu_cc_major() != 9) {
    print_message("SKIPPED: gdn_prefill needs SM 9.x\n");
    skip();
  }
  static const char *const modules[] = {"gdn_prefill_sm90", NULL};
  kt_runtime *k = gpu_open(modules);
  fic_runtime *rt = k->rt;
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("gdn graph"));
  const int64_t T = 200, H = 4, Dh = 128;
  const size_t nqkv = (size_t)(T * H * Dh), ns = (size_t)(2 * H * Dh * Dh);
  size_t ws_bytes = 0;
  FIC_ASSERT_OK(fic_gdn_prefill_workspace_size(gpu_sm_count(), &ws_bytes));
  int64_t cu[3] = {0, 77, T};
  void *d_cu = gpu_upload(cu, sizeof cu), *ws[2] = {gpu_alloc(ws_bytes), gpu_alloc(ws_bytes)};
  void *q = gpu_alloc(nqkv * 2), *kk = gpu_alloc(nqkv * 2), *v = gpu_alloc(nqkv * 2);
  void *out[2] = {gpu_alloc(nqkv * 2), gpu_alloc(nqkv * 2)}, *st[2] = {gpu_alloc(ns * 4), gpu_alloc(ns * 4)};
  uint16_t *h = malloc(nqkv * 2);
  double *kd = malloc(nqkv * 8);
  assert_true(h && kd);
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  kt_desc dq = gpu_desc(q, FIC_BF16, 3, T, H, Dh, 0), dk = gpu_desc(kk, FIC_BF16, 3, T, H, Dh, 0),
          dv = gpu_desc(v, FIC_BF16, 3, T, H, Dh, 0), dcu = gpu_desc(d_cu, FIC_I64, 1, 3, 0, 0, 0);
  kt_desc dout[2], dst[2], dws[2];
  for (int i = 0; i < 2; i++) {
    dout[i] = gpu_desc(out[i], FIC_BF16, 3, T, H, Dh, 0);
    dst[i] = gpu_desc(st[i], FIC_F32, 4, 2, H, Dh, Dh);
    dws[i] = gpu_desc(ws[i], FIC_U8, 1, (int64_t)ws_bytes, 0, 0, 0);
  }
  cudaGraph_t graph;
  cudaGraphExec_t exec;
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  fic_status cs = kt_gdn_prefill(rt, kt_t(&dout[0]), kt_t(&dst[0]), kt_t(&dq), kt_t(&dk), kt_t(&dv), kt_t(&dcu), NULL,
                                 NULL, NULL, 0.0, kt_t(&dws[0]), s);
  cudaError_t ce = cudaStreamEndCapture(s, &graph);
  if (cs != FIC_OK) fail_msg("gdn_prefill under capture: %s: %s", fic_status_string(cs), fic_last_error_message());
  CK(ce);
  CK(cudaGraphInstantiate(&exec, graph, 0));
  for (int replay = 0; replay < 2; replay++) {
    void *dst_buf[3] = {q, kk, v};
    for (int j = 0; j < 3; j++) {
      for (size_t i = 0; i < nqkv; i++) kd[i] = ref_rng_normal(&r);
      if (j == 1) ref_l2_normalize(kd, (size_t)(T * H), (size_t)Dh);
      for (size_t i = 0; i < nqkv; i++) h[i] = ref_half_from_double(REF_BF16, kd[i]);
      CK(cudaMemcpy(dst_buf[j], h, nqkv * 2, cudaMemcpyHostToDevice));
    }
    CK(cudaGraphLaunch(exec, s));
    CK(cudaStreamSynchronize(s));
    FIC_ASSERT_OK(kt_gdn_prefill(rt, kt_t(&dout[1]), kt_t(&dst[1]), kt_t(&dq), kt_t(&dk), kt_t(&dv), kt_t(&dcu), NULL,
                                 NULL, NULL, 0.0, kt_t(&dws[1]), NULL));
    CK(cudaDeviceSynchronize());
    expect_same_bytes("gdn_prefill output", out[0], out[1], nqkv * 2);
    expect_same_bytes("gdn_prefill state", st[0], st[1], ns * 4);
  }
  print_message("  gdn_prefill: 2 graph replays bit-identical to eager calls\n");
  CK(cudaGraphExecDestroy(exec));
  CK(cudaGraphDestroy(graph));
  CK(cudaStreamDestroy(s));
  void *all[] = {d_cu, ws[0], ws[1], q, kk, v, out[0], out[1], st[0], st[1]};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) CK(cudaFree(all[i]));
  free(h), free(kd);
  kt_close(k);
}

/* A runtime whose module is not loaded yet must refuse to load it while the
 * stream is capturing (dlopen + module constructors inside a capture would
 * break it), and the capture must survive the refusal. */
static void test_capture_refuses_module_load(void **state) {
  gpu_group_rt(state, "norm"); /* skips without GPU or wheel */
  static const char *const modules[] = {"norm", NULL};
  kt_runtime *lazy = gpu_open_lazy(modules);
  void *d = gpu_alloc(1024 * 2 * 2);
  kt_desc out = gpu_desc(d, FIC_F16, 2, 1, 1024, 0, 0), in = gpu_desc((char *)d + 2048, FIC_F16, 2, 1, 1024, 0, 0),
          w = gpu_desc((char *)d + 2048, FIC_F16, 1, 1024, 0, 0, 0);
  cudaStream_t s;
  CK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  CK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
  fic_function *fn = NULL;
  fic_status s1 = fic_function_get(lazy->rt, "norm", "gemma_rmsnorm", s, &fn);
  fic_status s2 = fic_gemma_rmsnorm(lazy->rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, s);
  /* The preloaded runtime may still resolve and launch during capture. */
  fic_function *loaded = NULL;
  fic_status s3 = fic_function_get(((kt_runtime *)*state)->rt, "norm", "gemma_rmsnorm", s, &loaded);
  fic_status s4 = fic_gemma_rmsnorm(((kt_runtime *)*state)->rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, s);
  cudaGraph_t graph = NULL;
  cudaError_t end = cudaStreamEndCapture(s, &graph);
  KT_EXPECT_STATUS(s1, FIC_ERR_CAPTURING);
  KT_EXPECT_STATUS(s2, FIC_ERR_CAPTURING);
  KT_EXPECT_STATUS(s3, FIC_OK);
  KT_EXPECT_STATUS(s4, FIC_OK);
  CK(end);
  size_t nodes = 0;
  CK(cudaGraphGetNodes(graph, NULL, &nodes));
  assert_int_equal(nodes, 1); /* only the preloaded runtime's launch */
  CK(cudaGraphDestroy(graph));
  /* Outside the capture the lazy runtime loads on demand. */
  FIC_ASSERT_OK(fic_function_get(lazy->rt, "norm", "gemma_rmsnorm", s, &fn));
  FIC_ASSERT_OK(fic_gemma_rmsnorm(lazy->rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, s));
  CK(cudaStreamSynchronize(s));
  CK(cudaStreamDestroy(s));
  CK(cudaFree(d));
  kt_close(lazy);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_streams_match_default_stream),
      cmocka_unit_test(test_graph_replay_matches_eager),
      cmocka_unit_test(test_gdn_graph_replay),
      cmocka_unit_test(test_capture_refuses_module_load),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
