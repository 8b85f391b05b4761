/* SPDX-License-Identifier: Apache-2.0 */
/* The sampling check of `flashinfer-c run` (cli_run_sampling, cli.h):
 * softmax with per-row temperatures against float64, then top-p sampling
 * from the result twice with one Philox (seed, offset): the ids must be
 * identical and inside each row's top-p set. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "checks/cudart_dyn.h"
#include "checks/reference.h"
#include "cli/cli.h"

#define RS_B 6
#define RS_V 1000
#define RS_TOL 1e-5 /* float32 softmax, relative L2 */
#define RS_TOP_P 0.8

typedef struct rs_bufs {
  const cudart_dyn *cuda;
  void *logits, *probs, *temp, *ws, *ids;
} rs_bufs;

static void rs_free(rs_bufs *b) {
  void *all[] = {b->logits, b->probs, b->temp, b->ws, b->ids};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i]) b->cuda->Free(all[i]);
}

static fic_tensor rs_tensor(void *data, int dev, int32_t ndim, const int64_t *shape, fic_dtype dt) {
  fic_tensor t = {data, {FIC_DEVICE_CUDA, dev}, ndim, dt, shape, NULL, 0};
  return t;
}

/* float64 softmax of each row of x / temp[row]. */
static void rs_reference(const float *x, const float *temp, double *want) {
  for (int b = 0; b < RS_B; b++) {
    double m = -INFINITY, s = 0;
    for (int j = 0; j < RS_V; j++) m = fmax(m, x[b * RS_V + j] / (double)temp[b]);
    for (int j = 0; j < RS_V; j++) s += exp(x[b * RS_V + j] / (double)temp[b] - m);
    for (int j = 0; j < RS_V; j++) want[b * RS_V + j] = exp(x[b * RS_V + j] / (double)temp[b] - m) / s;
  }
}

/* Is `id` in the smallest set of most probable tokens of `p` with mass >= RS_TOP_P (with slack for rounding)? */
static int rs_in_top_p(const double *p, int32_t id) {
  if (id < 0 || id >= RS_V) return 0;
  double above = 0;
  for (int j = 0; j < RS_V; j++) above += p[j] > p[id] ? p[j] : 0;
  return above < RS_TOP_P + 1e-4;
}

static int rs_sample_twice(fic_runtime *rt, rs_bufs *b, int dev, void *stream, ref_rng *rng, int32_t *ids) {
  int64_t sp[2] = {RS_B, RS_V}, so[1] = {RS_B};
  fic_tensor probs = rs_tensor(b->probs, dev, 2, sp, FIC_F32), out = rs_tensor(b->ids, dev, 1, so, FIC_I32);
  fic_sampling_params p;
  fic_philox gen;
  fic_sampling_params_init(&p);
  fic_philox_init(&gen, ref_rng_next(rng));
  p.probs = &probs, p.output = &out, p.top_p = RS_TOP_P;
  fic_philox_next(&gen, RS_B * 32, &p.philox_seed, &p.philox_offset);
  for (int k = 0; k < 2; k++) {
    fic_status s = fic_top_p_sampling_from_probs(rt, &p, stream);
    if (s != FIC_OK) {
      printf("  top_p_sampling_from_probs: %s: %s  FAIL\n", fic_status_string(s), fic_last_error_message());
      return 1;
    }
    if (b->cuda->StreamSynchronize(stream) != 0 ||
        b->cuda->Memcpy(ids + k * RS_B, b->ids, RS_B * sizeof(int32_t), CUDART_DYN_D2H) != 0)
      return 2;
  }
  return 0;
}

int cli_run_sampling(fic_runtime *rt, const cudart_dyn *cuda, int dev, void *stream, ref_rng *rng) {
  float *x = malloc(sizeof(float) * RS_B * RS_V), temp[RS_B];
  double *want = malloc(sizeof(double) * RS_B * RS_V), *got = malloc(sizeof(double) * RS_B * RS_V);
  float *y = malloc(sizeof(float) * RS_B * RS_V);
  int32_t ids[2 * RS_B];
  rs_bufs b = {cuda, NULL, NULL, NULL, NULL, NULL};
  int rc = 2;
  if (!x || !want || !got || !y) goto out;
  for (int i = 0; i < RS_B * RS_V; i++) x[i] = (float)(3.0 * ref_rng_normal(rng));
  for (int i = 0; i < RS_B; i++) temp[i] = (float)(0.5 + ref_rng_uniform(rng));
  size_t bytes = sizeof(float) * RS_B * RS_V;
  if (cuda->Malloc(&b.logits, bytes) || cuda->Malloc(&b.probs, bytes) || cuda->Malloc(&b.temp, sizeof temp) ||
      cuda->Malloc(&b.ws, 1 << 20) || cuda->Malloc(&b.ids, sizeof ids) ||
      cuda->Memcpy(b.logits, x, bytes, CUDART_DYN_H2D) || cuda->Memcpy(b.temp, temp, sizeof temp, CUDART_DYN_H2D))
    goto out;
  int64_t sl[2] = {RS_B, RS_V}, st[1] = {RS_B}, sw[1] = {1 << 20};
  fic_tensor lg = rs_tensor(b.logits, dev, 2, sl, FIC_F32), pr = rs_tensor(b.probs, dev, 2, sl, FIC_F32),
             tt = rs_tensor(b.temp, dev, 1, st, FIC_F32), ws = rs_tensor(b.ws, dev, 1, sw, FIC_U8);
  fic_status s = fic_softmax(rt, &ws, &lg, &pr, &tt, 1.0, 0, stream);
  rc = 1;
  if (s != FIC_OK) {
    printf("  softmax: %s: %s  FAIL\n", fic_status_string(s), fic_last_error_message());
    goto out;
  }
  if (cuda->StreamSynchronize(stream) || cuda->Memcpy(y, b.probs, bytes, CUDART_DYN_D2H)) goto out;
  for (int i = 0; i < RS_B * RS_V; i++) got[i] = y[i];
  rs_reference(x, temp, want);
  ref_err e = ref_compare(got, want, (size_t)RS_B * RS_V);
  int ok = e.nonfinite == 0 && e.rel_l2 <= RS_TOL;
  printf("  softmax %dx%d, per-row temperature: rel_l2 %.2e (tol %.0e)  %s\n", RS_B, RS_V, e.rel_l2, RS_TOL,
         ok ? "ok" : "FAIL");
  int sr = rs_sample_twice(rt, &b, dev, stream, rng, ids);
  if (sr) {
    rc = sr;
    goto out;
  }
  int same = memcmp(ids, ids + RS_B, sizeof ids / 2) == 0, inside = 1;
  for (int i = 0; i < RS_B; i++) inside &= rs_in_top_p(want + i * RS_V, ids[i]);
  printf("  top_p_sampling p=%.1f: same ids for one (seed, offset) %s, inside the top-p sets %s\n", RS_TOP_P,
         same ? "ok" : "FAIL", inside ? "ok" : "FAIL");
  rc = ok && same && inside ? 0 : 1;
out:
  rs_free(&b);
  free(x), free(want), free(got), free(y);
  return rc;
}
