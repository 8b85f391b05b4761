/* SPDX-License-Identifier: Apache-2.0 */
/* sampling.so and topk.so on a GPU (label gpu; seeds printed, replay with
 * FIC_TEST_SEED). Deterministic kernels are compared exactly or against
 * float64; the random ones are tested as random:
 *  - with a fixed (seed, offset) the output is identical run to run;
 *  - many rows of one distribution give an empirical distribution that
 *    passes a chi-square test (false-alarm rate below 1e-8 per case, below
 *    1e-6 for the whole file: see chi2_limit), and never a token outside
 *    the filtered support;
 *  - speculative sampling accepts with the constructed probability.
 * Each case is a few launches over at most 32768 rows: seconds in all. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

static const char *const k_modules[] = {"sampling", "topk", NULL};

#define ROWS 4096
#define REPEATS 8 /* 32768 draws per distribution */

/* ------------------------------------------------------------ statistics */

/* The chi-square critical value at upper-tail probability 1e-8 for `df`
 * degrees of freedom, by Wilson-Hilferty: df (1 - 2/(9 df) + z sqrt(2/(9 df)))^3
 * with z = 5.612 (the standard normal's 1 - 1e-8 quantile). It is within
 * 1.5% of the exact quantile for df >= 30 and above it for small df (df = 4:
 * 46.6 against the exact 43.1; df = 1 to 3000 checked against the
 * incomplete gamma function), i.e. conservative. Bins are pooled until each
 * expects >= 10 draws, where the chi-square approximation of Pearson's
 * statistic holds well; the 1.15 margin covers what remains of that
 * approximation and the kernel's float32 arithmetic (relative errors near
 * 1e-6 per probability, far below the 1/sqrt(32768) sampling noise). So a
 * correct kernel fails one case with probability below 1e-8, and the
 * file's 14 chi-square cases, the speculative acceptance bound (1e-7) and
 * the draft == target bound (below 1e-7) together below 1e-6 per run. */
static double chi2_limit(int df) {
  double a = 2.0 / (9.0 * df), z = 5.612;
  double c = 1.0 - a + z * sqrt(a);
  return 1.15 * df * c * c * c;
}

/* Counts of `n` ids in [0, vocab); fails on an id outside the range or the
 * target's support (target[i] == 0), then on the chi-square bound. */
static void expect_distribution(const char *what, const int32_t *ids, int64_t n, const double *target, int vocab) {
  int64_t *count = calloc((size_t)vocab, sizeof *count);
  assert_non_null(count);
  double mass = 0;
  for (int i = 0; i < vocab; i++) mass += target[i];
  for (int64_t j = 0; j < n; j++) {
    if (ids[j] < 0 || ids[j] >= vocab)
      fail_msg("%s: draw %lld is id %d, outside the vocabulary", what, (long long)j, ids[j]);
    if (target[ids[j]] == 0)
      fail_msg("%s: draw %lld is id %d, outside the filtered support", what, (long long)j, ids[j]);
    count[ids[j]]++;
  }
  /* Bins of consecutive supported tokens expecting >= 10 draws; a remainder joins the last bin. */
  double *be = calloc((size_t)vocab, sizeof *be), *bo = calloc((size_t)vocab, sizeof *bo), chi2 = 0;
  assert_true(be && bo);
  int bins = 0;
  for (int i = 0; i < vocab; i++) {
    if (target[i] == 0) continue;
    be[bins] += n * target[i] / mass, bo[bins] += (double)count[i];
    if (be[bins] >= 10) bins++;
  }
  if (bins < vocab && be[bins] > 0) {
    if (bins > 0)
      be[bins - 1] += be[bins], bo[bins - 1] += bo[bins];
    else
      bins = 1;
  }
  for (int b = 0; b < bins; b++) chi2 += (bo[b] - be[b]) * (bo[b] - be[b]) / be[b];
  free(be), free(bo);
  free(count);
  int df = bins > 1 ? bins - 1 : 1;
  print_message("  %-44s chi2 %.1f over %d dof (limit %.1f)\n", what, chi2, df, chi2_limit(df));
  if (bins > 1 && !(chi2 <= chi2_limit(df))) fail_msg("%s: chi2 %.1f > %.1f (%d dof)", what, chi2, chi2_limit(df), df);
}

/* ------------------------------------------------------------ fixtures */

/* One distribution of `vocab` distinct float32 probabilities (log-normal weights). */
static void random_probs(ref_rng *r, float *p, double *exact, int vocab) {
  double s = 0;
  for (int i = 0; i < vocab; i++) exact[i] = exp(1.5 * ref_rng_normal(r)), s += exact[i];
  for (int i = 0; i < vocab; i++) p[i] = (float)(exact[i] / s), exact[i] = p[i];
}

/* `rows` copies of p on the device. */
static float *upload_rows(const float *p, int vocab, int rows) {
  float *h = malloc(sizeof(float) * (size_t)vocab * rows);
  assert_non_null(h);
  for (int r = 0; r < rows; r++) memcpy(h + (size_t)r * vocab, p, sizeof(float) * vocab);
  float *d = gpu_upload(h, sizeof(float) * (size_t)vocab * rows);
  free(h);
  return d;
}

/* Indices of p sorted by decreasing probability. */
static const double *g_sort_key;
static int by_prob_desc(const void *a, const void *b) {
  double x = g_sort_key[*(const int *)a], y = g_sort_key[*(const int *)b];
  return x < y ? 1 : x > y ? -1 : 0;
}
static void order_desc(const double *p, int vocab, int *order) {
  for (int i = 0; i < vocab; i++) order[i] = i;
  g_sort_key = p;
  qsort(order, (size_t)vocab, sizeof *order, by_prob_desc);
}

/* target = p on the `keep` most probable tokens, 0 elsewhere. */
static void keep_top(const double *p, const int *order, int vocab, int keep, double *target) {
  for (int i = 0; i < vocab; i++) target[i] = 0;
  for (int i = 0; i < keep; i++) target[order[i]] = p[order[i]];
}

/* The top-p set's size for a p halfway between two cumulative masses (so
 * float32 rounding cannot move the boundary), and that p. */
static int top_p_cut(const double *p, const int *order, int vocab, double want, double *top_p) {
  double cum = 0, total = 0;
  for (int i = 0; i < vocab; i++) total += p[i];
  for (int j = 0; j < vocab; j++) {
    double prev = cum;
    cum += p[order[j]] / total;
    if (cum >= want && j > 0) {
      *top_p = (prev + cum) / 2;
      return j + 1;
    }
  }
  *top_p = 1.0;
  return vocab;
}

typedef struct smp_run {
  fic_runtime *rt;
  float *probs;
  int vocab;
  int32_t *out;
  fic_philox gen;
} smp_run;

typedef fic_status (*smp_fn)(fic_runtime *, const fic_sampling_params *, void *);

/* REPEATS launches over ROWS copies, each with the next (seed, offset) of
 * the generator; the ids of all draws in `ids` (ROWS * REPEATS). */
static void draw(smp_run *s, smp_fn fn, fic_sampling_params *p, int32_t *ids) {
  kt_desc pr = gpu_desc(s->probs, FIC_F32, 2, ROWS, s->vocab, 0, 0), out = gpu_desc(s->out, FIC_I32, 1, ROWS, 0, 0, 0);
  p->probs = kt_t(&pr), p->output = kt_t(&out);
  for (int k = 0; k < REPEATS; k++) {
    FIC_ASSERT_OK(fic_philox_next(&s->gen, ROWS * 32, &p->philox_seed, &p->philox_offset));
    FIC_ASSERT_OK(fn(s->rt, p, NULL));
    CK(cudaDeviceSynchronize());
    gpu_download(ids + (size_t)k * ROWS, s->out, sizeof(int32_t) * ROWS);
  }
}

static smp_run run_make(fic_runtime *rt, ref_rng *r, int vocab, float *p, double *exact) {
  smp_run s = {rt, NULL, vocab, gpu_alloc(sizeof(int32_t) * ROWS), {0, 0}};
  random_probs(r, p, exact, vocab);
  s.probs = upload_rows(p, vocab, ROWS);
  FIC_ASSERT_OK(fic_philox_init(&s.gen, ref_rng_next(r)));
  return s;
}

static void run_free(smp_run *s) {
  CK(cudaFree(s->probs));
  CK(cudaFree(s->out));
}

static fic_runtime *RTG(void **state) { return gpu_group_rt_attn(state, k_modules); }

/* ------------------------------------------------------------ tests */

static void test_softmax(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("softmax"));
  const int shapes[][2] = {{7, 1000}, {3, 32000}, {200, 30000}}; /* the second takes the split-vocabulary path */
  for (int c = 0; c < 3; c++) {
    int b = shapes[c][0], v = shapes[c][1];
    size_t n = (size_t)b * v, wsb = 0;
    double *x = malloc(n * sizeof *x), *want = malloc(n * sizeof *want), *got = malloc(n * sizeof *got);
    double temp[200];
    for (size_t i = 0; i < n; i++) x[i] = (float)(3 * ref_rng_normal(&r));
    for (int i = 0; i < b; i++) temp[i] = (float)(0.3 + 1.5 * ref_rng_uniform(&r));
    FIC_ASSERT_OK(fic_softmax_workspace_size(b, v, &wsb));
    void *dx = gpu_put_f32(x, n), *dy = gpu_alloc(n * 4), *dt = gpu_put_f32(temp, (size_t)b),
         *dws = gpu_alloc(wsb + 16);
    kt_desc lg = gpu_desc(dx, FIC_F32, 2, b, v, 0, 0), out = gpu_desc(dy, FIC_F32, 2, b, v, 0, 0);
    kt_desc tarr = gpu_desc(dt, FIC_F32, 1, b, 0, 0, 0), ws = gpu_desc(dws, FIC_U8, 1, (int64_t)wsb + 16, 0, 0, 0);
    for (int per_row = 0; per_row < 2; per_row++) {
      FIC_ASSERT_OK(fic_softmax(rt, kt_t(&ws), kt_t(&lg), kt_t(&out), per_row ? kt_t(&tarr) : NULL, 0.7, 0, NULL));
      CK(cudaDeviceSynchronize());
      gpu_get_f32(dy, got, n);
      for (int i = 0; i < b; i++) {
        double t = per_row ? temp[i] : 0.7, m = -INFINITY, s = 0;
        const double *row = x + (size_t)i * v;
        for (int j = 0; j < v; j++) m = fmax(m, row[j] / t);
        for (int j = 0; j < v; j++) s += exp(row[j] / t - m);
        for (int j = 0; j < v; j++) want[(size_t)i * v + j] = exp(row[j] / t - m) / s;
      }
      char what[64];
      snprintf(what, sizeof what, "softmax [%d, %d] %s temperature", b, v, per_row ? "per-row" : "scalar");
      gpu_expect_close(what, got, want, n, 5e-5);
    }
    CK(cudaFree(dx)), CK(cudaFree(dy)), CK(cudaFree(dt)), CK(cudaFree(dws));
    free(x), free(want), free(got);
  }
}

/* top_k_renorm / top_p_renorm / top_k_mask: kept set exactly, mass renormalised. */
static void test_renorm_and_mask_exact(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("renorm_and_mask"));
  enum { B = 64, V = 5000 };
  float *p = malloc(sizeof(float) * B * V);
  double *ex = malloc(sizeof(double) * B * V), *got = malloc(sizeof(double) * B * V);
  int *order = malloc(sizeof(int) * V), keep[B];
  double top_p[B];
  for (int i = 0; i < B; i++) random_probs(&r, p + i * V, ex + i * V, V);
  float *dp = gpu_upload(p, sizeof(float) * B * V), *dout = gpu_alloc(sizeof(float) * B * V);
  void *dst = gpu_alloc(FIC_TOPK_ROW_STATES_BYTES);
  CK(cudaMemset(dst, 0, FIC_TOPK_ROW_STATES_BYTES));
  kt_desc in = gpu_desc(dp, FIC_F32, 2, B, V, 0, 0), out = gpu_desc(dout, FIC_F32, 2, B, V, 0, 0);
  kt_desc st = gpu_desc(dst, FIC_U8, 1, FIC_TOPK_ROW_STATES_BYTES, 0, 0, 0);
  for (int mode = 0; mode < 3; mode++) {
    int k = 1 + (int)(ref_rng_uniform(&r) * 200);
    if (mode == 0) FIC_ASSERT_OK(fic_top_k_renorm_probs(rt, kt_t(&in), kt_t(&out), NULL, k, kt_t(&st), NULL));
    if (mode == 2) FIC_ASSERT_OK(fic_top_k_mask_logits(rt, kt_t(&in), kt_t(&out), NULL, k, kt_t(&st), NULL));
    for (int i = 0; i < B; i++) {
      order_desc(ex + i * V, V, order);
      keep[i] = mode == 1 ? top_p_cut(ex + i * V, order, V, 0.3 + 0.6 * ref_rng_uniform(&r), &top_p[i]) : k;
    }
    if (mode == 1) {
      double tp[B];
      memcpy(tp, top_p, sizeof tp);
      void *dtp = gpu_put_f32(tp, B);
      kt_desc tarr = gpu_desc(dtp, FIC_F32, 1, B, 0, 0, 0);
      FIC_ASSERT_OK(fic_top_p_renorm_probs(rt, kt_t(&in), kt_t(&out), kt_t(&tarr), 0, NULL));
      CK(cudaDeviceSynchronize());
      CK(cudaFree(dtp));
    }
    CK(cudaDeviceSynchronize());
    gpu_get_f32(dout, got, (size_t)B * V);
    for (int i = 0; i < B; i++) {
      const double *x = ex + i * V, *y = got + i * V;
      order_desc(x, V, order);
      double kept_mass = 0, out_mass = 0;
      char *in_set = calloc(V, 1);
      for (int j = 0; j < keep[i]; j++) in_set[order[j]] = 1, kept_mass += x[order[j]];
      for (int j = 0; j < V; j++) {
        if (mode == 2) {
          if (in_set[j] ? y[j] != x[j] : !(isinf(y[j]) && y[j] < 0))
            fail_msg("mask row %d token %d: got %g (input %g, kept %d)", i, j, y[j], x[j], in_set[j]);
          continue;
        }
        if (!in_set[j] && y[j] != 0) fail_msg("renorm %d row %d token %d outside the set kept %g", mode, i, j, y[j]);
        if (in_set[j] && fabs(y[j] - x[j] / kept_mass) > 1e-5 * x[j] / kept_mass + 1e-9)
          fail_msg("renorm %d row %d token %d: %g, want %g", mode, i, j, y[j], x[j] / kept_mass);
        out_mass += y[j];
      }
      free(in_set);
      if (mode != 2 && fabs(out_mass - 1) > 1e-4) fail_msg("renorm %d row %d: mass %g", mode, i, out_mass);
    }
    print_message("  %s: kept sets and renormalised mass exact on %d rows\n",
                  mode == 0   ? "top_k_renorm_probs"
                  : mode == 1 ? "top_p_renorm_probs"
                              : "top_k_mask_logits",
                  B);
  }
  CK(cudaFree(dp)), CK(cudaFree(dout)), CK(cudaFree(dst));
  free(p), free(ex), free(got), free(order);
}

/* Same (seed, offset): same ids; the next offset: different ids. */
static void test_reproducible(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("reproducible"));
  float p[1000];
  double ex[1000];
  smp_run s = run_make(rt, &r, 1000, p, ex);
  int32_t *a = malloc(sizeof(int32_t) * ROWS), *b = malloc(sizeof(int32_t) * ROWS);
  fic_sampling_params sp;
  fic_sampling_params_init(&sp);
  sp.top_p = 0.9;
  kt_desc pr = gpu_desc(s.probs, FIC_F32, 2, ROWS, 1000, 0, 0), out = gpu_desc(s.out, FIC_I32, 1, ROWS, 0, 0, 0);
  sp.probs = kt_t(&pr), sp.output = kt_t(&out);
  FIC_ASSERT_OK(fic_philox_next(&s.gen, ROWS * 32, &sp.philox_seed, &sp.philox_offset));
  for (int rep = 0; rep < 3; rep++) {
    FIC_ASSERT_OK(fic_top_p_sampling_from_probs(rt, &sp, NULL));
    CK(cudaDeviceSynchronize());
    gpu_download(rep == 0 ? a : b, s.out, sizeof(int32_t) * ROWS);
    if (rep == 1) assert_memory_equal(a, b, sizeof(int32_t) * ROWS);
    if (rep == 1) FIC_ASSERT_OK(fic_philox_next(&s.gen, ROWS * 32, &sp.philox_seed, &sp.philox_offset));
  }
  /* 4096 draws over ~1000 tokens: equal by chance with probability far below 1e-100. */
  assert_memory_not_equal(a, b, sizeof(int32_t) * ROWS);
  print_message("  top_p_sampling: identical for one (seed, offset), different for the next offset\n");
  free(a), free(b);
  run_free(&s);
}

static void test_distributions(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("distributions"));
  static const int vocabs[] = {32, 257, 1000};
  int32_t *ids = malloc(sizeof(int32_t) * ROWS * REPEATS);
  for (int vi = 0; vi < 3; vi++) {
    int v = vocabs[vi], order[1000];
    float p[1000];
    double ex[1000], target[1000];
    smp_run s = run_make(rt, &r, v, p, ex);
    order_desc(ex, v, order);
    char what[96];
    fic_sampling_params sp;
    fic_sampling_params_init(&sp);
    draw(&s, fic_sampling_from_probs, &sp, ids);
    snprintf(what, sizeof what, "sampling_from_probs V=%d", v);
    expect_distribution(what, ids, ROWS * REPEATS, ex, v);

    fic_sampling_params_init(&sp), sp.top_k = 10;
    draw(&s, fic_top_k_sampling_from_probs, &sp, ids);
    keep_top(ex, order, v, 10, target);
    snprintf(what, sizeof what, "top_k_sampling k=10 V=%d", v);
    expect_distribution(what, ids, ROWS * REPEATS, target, v);

    fic_sampling_params_init(&sp);
    int n = top_p_cut(ex, order, v, 0.6, &sp.top_p);
    draw(&s, fic_top_p_sampling_from_probs, &sp, ids);
    keep_top(ex, order, v, n, target);
    snprintf(what, sizeof what, "top_p_sampling p=%.4f (%d kept) V=%d", sp.top_p, n, v);
    expect_distribution(what, ids, ROWS * REPEATS, target, v);

    /* min_p halfway between two ratios to the maximum near 0.2. */
    fic_sampling_params_init(&sp);
    int m = 1;
    while (m < v - 1 && ex[order[m]] / ex[order[0]] >= 0.2) m++;
    sp.min_p = (ex[order[m - 1]] + ex[order[m]]) / 2 / ex[order[0]];
    draw(&s, fic_min_p_sampling_from_probs, &sp, ids);
    keep_top(ex, order, v, m, target);
    snprintf(what, sizeof what, "min_p_sampling min_p=%.4f (%d kept) V=%d", sp.min_p, m, v);
    expect_distribution(what, ids, ROWS * REPEATS, target, v);
    run_free(&s);
  }
  free(ids);
}

/* softmax(logits) sampling, and the top-k-first composition (renorm, then top-p). */
static void test_logits_and_top_k_first(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("logits_and_top_k_first"));
  enum { V = 500 };
  int order[V];
  float p[V], lg[V];
  double ex[V], target[V];
  int32_t *ids = malloc(sizeof(int32_t) * ROWS * REPEATS);
  smp_run s = run_make(rt, &r, V, p, ex);
  order_desc(ex, V, order);
  /* logits = log p + 3: softmax gives p back (up to float32 rounding). */
  for (int i = 0; i < V; i++) lg[i] = (float)(log(ex[i]) + 3);
  float *probs = s.probs;
  s.probs = upload_rows(lg, V, ROWS);
  fic_sampling_params sp;
  fic_sampling_params_init(&sp);
  draw(&s, fic_sampling_from_logits, &sp, ids);
  expect_distribution("sampling_from_logits V=500", ids, ROWS * REPEATS, ex, V);
  CK(cudaFree(s.probs));
  s.probs = probs;

  /* top-k first: top-p over the k = 40 largest, renormalised. */
  double sub[V];
  keep_top(ex, order, V, 40, sub);
  fic_sampling_params_init(&sp), sp.top_k = 40;
  int n = top_p_cut(sub, order, V, 0.5, &sp.top_p);
  void *buf = gpu_alloc(sizeof(float) * ROWS * V), *st = gpu_alloc(FIC_TOPK_ROW_STATES_BYTES);
  CK(cudaMemset(st, 0, FIC_TOPK_ROW_STATES_BYTES));
  kt_desc bd = gpu_desc(buf, FIC_F32, 2, ROWS, V, 0, 0),
          sd = gpu_desc(st, FIC_U8, 1, FIC_TOPK_ROW_STATES_BYTES, 0, 0, 0);
  sp.renorm_buffer = kt_t(&bd), sp.row_states = kt_t(&sd);
  draw(&s, fic_top_k_top_p_sampling_from_probs, &sp, ids);
  keep_top(ex, order, V, n, target);
  char what[96];
  snprintf(what, sizeof what, "top_k_top_p (top-k first) k=40 p=%.4f (%d kept)", sp.top_p, n);
  expect_distribution(what, ids, ROWS * REPEATS, target, V);
  /* joint: never outside the top 40. */
  sp.filter_order = FIC_FILTER_JOINT;
  draw(&s, fic_top_k_top_p_sampling_from_probs, &sp, ids);
  keep_top(ex, order, V, 40, target);
  for (int64_t j = 0; j < ROWS * REPEATS; j++)
    if (ids[j] < 0 || ids[j] >= V || target[ids[j]] == 0)
      fail_msg("joint top-k/top-p drew %d, outside the top 40", ids[j]);
  print_message("  top_k_top_p (joint): every draw within the top 40\n");
  CK(cudaFree(buf)), CK(cudaFree(st));
  free(ids);
  run_free(&s);
}

/* Per-row top_k (int32 ids, so an int32 array) and int64 indices. */
static void test_per_row_and_indices(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("per_row_and_indices"));
  enum { V = 300 };
  int order[V];
  float p[V];
  double ex[V];
  smp_run s = run_make(rt, &r, V, p, ex);
  order_desc(ex, V, order);
  int32_t *k = malloc(sizeof(int32_t) * ROWS), *ids = malloc(sizeof(int32_t) * ROWS);
  for (int i = 0; i < ROWS; i++) k[i] = 1 + i % 20;
  void *dk = gpu_upload(k, sizeof(int32_t) * ROWS);
  kt_desc karr = gpu_desc(dk, FIC_I32, 1, ROWS, 0, 0, 0), pr = gpu_desc(s.probs, FIC_F32, 2, ROWS, V, 0, 0);
  kt_desc out = gpu_desc(s.out, FIC_I32, 1, ROWS, 0, 0, 0);
  fic_sampling_params sp;
  fic_sampling_params_init(&sp);
  sp.probs = kt_t(&pr), sp.output = kt_t(&out), sp.top_k_arr = kt_t(&karr);
  FIC_ASSERT_OK(fic_philox_next(&s.gen, ROWS * 32, &sp.philox_seed, &sp.philox_offset));
  FIC_ASSERT_OK(fic_top_k_sampling_from_probs(rt, &sp, NULL));
  CK(cudaDeviceSynchronize());
  gpu_download(ids, s.out, sizeof(int32_t) * ROWS);
  int rank[V];
  for (int i = 0; i < V; i++) rank[order[i]] = i;
  for (int i = 0; i < ROWS; i++)
    if (ids[i] < 0 || ids[i] >= V || rank[ids[i]] >= k[i]) fail_msg("row %d (k=%d) drew %d", i, k[i], ids[i]);
  print_message("  top_k_sampling with per-row k: every draw within its row's top k\n");
  /* Two one-hot rows and int64 indices choosing between them: exact ids. */
  float onehot[2 * V] = {0};
  onehot[5] = 1, onehot[V + 17] = 1;
  void *doh = gpu_upload(onehot, sizeof onehot);
  int64_t idx[64], got[64];
  for (int i = 0; i < 64; i++) idx[i] = i % 3 == 0;
  void *didx = gpu_upload(idx, sizeof idx), *dout = gpu_alloc(sizeof got);
  kt_desc oh = gpu_desc(doh, FIC_F32, 2, 2, V, 0, 0), id = gpu_desc(didx, FIC_I64, 1, 64, 0, 0, 0);
  kt_desc o64 = gpu_desc(dout, FIC_I64, 1, 64, 0, 0, 0);
  fic_sampling_params_init(&sp);
  sp.probs = kt_t(&oh), sp.output = kt_t(&o64), sp.indices = kt_t(&id);
  FIC_ASSERT_OK(fic_sampling_from_probs(rt, &sp, NULL));
  CK(cudaDeviceSynchronize());
  gpu_download(got, dout, sizeof got);
  for (int i = 0; i < 64; i++) assert_int_equal(got[i], idx[i] ? 17 : 5);
  print_message("  sampling_from_probs with int64 indices: every row drew its one-hot token\n");
  CK(cudaFree(dk)), CK(cudaFree(doh)), CK(cudaFree(didx)), CK(cudaFree(dout));
  free(k), free(ids);
  run_free(&s);
}

/* draft == target: all n accepted. draft one-hot on token 0 with target
 * mass q there: the first token is accepted with probability q, and a
 * rejection resamples from relu(target - draft), which excludes token 0. */
static void test_speculative(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("chain_speculative_sampling"));
  enum { B = 8192, N = 3, V = 64 };
  float *draft = calloc((size_t)B * N * V, 4), *target = calloc((size_t)B * (N + 1) * V, 4);
  int32_t *ids = malloc(sizeof(int32_t) * B * N), *out = malloc(sizeof(int32_t) * B * (N + 1));
  int32_t *acc = malloc(sizeof(int32_t) * B), *emit = malloc(sizeof(int32_t) * B);
  float row[V];
  double ex[V];
  for (int pass = 0; pass < 2; pass++) {
    double q = 0.3;
    random_probs(&r, row, ex, V);
    for (int b = 0; b < B; b++)
      for (int t = 0; t <= N; t++) {
        float *tg = target + ((size_t)b * (N + 1) + t) * V;
        memcpy(tg, row, sizeof row);
        if (pass == 1) { /* target mass q on token 0, the rest scaled */
          double rest = 1 - row[0];
          for (int i = 1; i < V; i++) tg[i] = (float)(row[i] / rest * (1 - q));
          tg[0] = (float)q;
        }
        if (t == N) continue;
        float *dr = draft + ((size_t)b * N + t) * V;
        if (pass == 0)
          memcpy(dr, tg, sizeof row), ids[b * N + t] = (b + t) % V;
        else
          memset(dr, 0, sizeof row), dr[0] = 1, ids[b * N + t] = 0;
      }
    void *dd = gpu_upload(draft, sizeof(float) * B * N * V), *dt = gpu_upload(target, sizeof(float) * B * (N + 1) * V);
    void *di = gpu_upload(ids, sizeof(int32_t) * B * N), *dout = gpu_alloc(sizeof(int32_t) * B * (N + 1));
    void *dacc = gpu_alloc(sizeof(int32_t) * B), *demit = gpu_alloc(sizeof(int32_t) * B);
    CK(cudaMemset(dacc, 0, sizeof(int32_t) * B)), CK(cudaMemset(demit, 0, sizeof(int32_t) * B));
    kt_desc a = gpu_desc(dd, FIC_F32, 3, B, N, V, 0), c = gpu_desc(di, FIC_I32, 2, B, N, 0, 0);
    kt_desc t = gpu_desc(dt, FIC_F32, 3, B, N + 1, V, 0), o = gpu_desc(dout, FIC_I32, 2, B, N + 1, 0, 0);
    kt_desc ac = gpu_desc(dacc, FIC_I32, 1, B, 0, 0, 0), em = gpu_desc(demit, FIC_I32, 1, B, 0, 0, 0);
    fic_chain_speculative_sampling_params sp;
    fic_chain_speculative_sampling_params_init(&sp);
    sp.draft_probs = kt_t(&a), sp.draft_token_ids = kt_t(&c), sp.target_probs = kt_t(&t);
    sp.output_token_ids = kt_t(&o), sp.output_accepted_token_num = kt_t(&ac),
    sp.output_emitted_draft_token_num = kt_t(&em);
    fic_philox g;
    fic_philox_init(&g, ref_rng_next(&r));
    FIC_ASSERT_OK(fic_philox_next(&g, (uint64_t)B * (N + 1), &sp.philox_seed, &sp.philox_offset));
    FIC_ASSERT_OK(fic_chain_speculative_sampling(rt, &sp, NULL));
    CK(cudaDeviceSynchronize());
    gpu_download(out, dout, sizeof(int32_t) * B * (N + 1));
    gpu_download(emit, demit, sizeof(int32_t) * B), gpu_download(acc, dacc, sizeof(int32_t) * B);
    int64_t first_accepted = 0, rejected_rows = 0;
    for (int b = 0; b < B; b++) {
      const int32_t *ob = out + (size_t)b * (N + 1);
      if (pass == 0) {
        rejected_rows += emit[b] != N;
        for (int i = 0; i < emit[b]; i++) assert_int_equal(ob[i], ids[b * N + i]);
        assert_true(ob[emit[b]] >= 0 && ob[emit[b]] < V);
        continue;
      }
      first_accepted += emit[b] > 0;
      if (emit[b] == 0 && (ob[0] <= 0 || ob[0] >= V))
        fail_msg("row %d: rejected, then resampled %d (token 0 excluded)", b, ob[0]);
      if (emit[b] < N && ob[emit[b]] == 0) fail_msg("row %d: resampled token 0 at %d (excluded)", b, emit[b]);
      for (int i = emit[b] + 1; i <= N; i++) assert_int_equal(ob[i], -1);
    }
    if (pass == 1) {
      /* Binomial(B, q), about normal at B q = 2458: |rate - q| > 5.33 sd has probability about 1e-7. */
      double rate = (double)first_accepted / B, sd = sqrt(q * (1 - q) / B);
      print_message("  speculative: first-token acceptance %.4f, want %.2f +- %.4f\n", rate, q, 5.33 * sd);
      if (fabs(rate - q) > 5.33 * sd) fail_msg("acceptance rate %.4f, want %.2f", rate, q);
    } else {
      /* The kernel accepts when u * p < q with u in (0, 1] (curand_uniform):
       * with p == q a u within ~2^-24 of 1 rejects (u * p rounds to p), about
       * 1e-7 per token, so 0.002 rejected rows are expected among 8192 x 3
       * tokens; more than 2 happens with probability below 1e-7. */
      print_message("  speculative: draft == target: %lld of %d rows rejected a token (float32 edge, <= 2)\n",
                    (long long)rejected_rows, B);
      if (rejected_rows > 2) fail_msg("draft == target: %lld rows rejected a draft token", (long long)rejected_rows);
    }
    CK(cudaFree(dd)), CK(cudaFree(dt)), CK(cudaFree(di)), CK(cudaFree(dout)), CK(cudaFree(dacc)), CK(cudaFree(demit));
  }
  free(draft), free(target), free(ids), free(out), free(acc), free(emit);
}

/* radix_topk: the returned set is exactly the k largest (distinct values). */
static void test_radix_topk(void **state) {
  fic_runtime *rt = RTG(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("radix_topk"));
  enum { B = 16, V = 20000, K = 256 };
  float *x = malloc(sizeof(float) * B * V);
  double *ex = malloc(sizeof(double) * V);
  int *order = malloc(sizeof(int) * V);
  int32_t *idx = malloc(sizeof(int32_t) * B * K);
  for (int i = 0; i < B * V; i++) x[i] = (float)ref_rng_normal(&r);
  void *dx = gpu_upload(x, sizeof(float) * B * V), *di = gpu_alloc(sizeof(int32_t) * B * K);
  void *dv = gpu_alloc(sizeof(float) * B * K), *ds = gpu_alloc(FIC_TOPK_ROW_STATES_BYTES);
  CK(cudaMemset(ds, 0, FIC_TOPK_ROW_STATES_BYTES));
  kt_desc in = gpu_desc(dx, FIC_F32, 2, B, V, 0, 0), oi = gpu_desc(di, FIC_I32, 2, B, K, 0, 0);
  kt_desc ov = gpu_desc(dv, FIC_F32, 2, B, K, 0, 0), st = gpu_desc(ds, FIC_U8, 1, FIC_TOPK_ROW_STATES_BYTES, 0, 0, 0);
  FIC_ASSERT_OK(fic_radix_topk(rt, kt_t(&in), kt_t(&oi), kt_t(&ov), kt_t(&st), K, NULL));
  CK(cudaDeviceSynchronize());
  gpu_download(idx, di, sizeof(int32_t) * B * K);
  for (int b = 0; b < B; b++) {
    for (int i = 0; i < V; i++) ex[i] = x[b * V + i];
    order_desc(ex, V, order);
    char *top = calloc(V, 1);
    for (int i = 0; i < K; i++) top[order[i]] = 1;
    for (int i = 0; i < K; i++) {
      int32_t t = idx[b * K + i];
      if (t < 0 || t >= V || top[t] != 1)
        fail_msg("radix_topk row %d: %d is not among the %d largest (or repeated)", b, t, K);
      top[t] = 2;
    }
    free(top);
  }
  int ok = -1;
  FIC_ASSERT_OK(fic_can_implement_filtered_topk(rt, 0, &ok));
  print_message("  radix_topk: exact top-%d sets on %d rows; filtered top-k supported: %d\n", K, B, ok);
  CK(cudaFree(dx)), CK(cudaFree(di)), CK(cudaFree(dv)), CK(cudaFree(ds));
  free(x), free(ex), free(order), free(idx);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_softmax),
      cmocka_unit_test(test_renorm_and_mask_exact),
      cmocka_unit_test(test_reproducible),
      cmocka_unit_test(test_distributions),
      cmocka_unit_test(test_logits_and_top_k_first),
      cmocka_unit_test(test_per_row_and_indices),
      cmocka_unit_test(test_speculative),
      cmocka_unit_test(test_radix_topk),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
