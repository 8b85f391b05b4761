/* SPDX-License-Identifier: Apache-2.0 */
/* rope.so, the activation modules and quantization.so on a real GPU against
 * float64 references (src/checks/reference.c), on fresh random data (seed
 * printed; replay with FIC_TEST_SEED=<seed>). Needs the wheel with the real
 * modules (FIC_ATTN_WHEEL, as test_gpu_page_cascade); every test skips,
 * saying why, without a GPU or that wheel.
 *
 * RoPE: all five calls, f16 and bf16, int32 and int64 positions, NeoX and
 * interleaved, full and partial rotary_dim, head sizes 64..512, in place and
 * out of place (outputs poisoned first), Llama 3.1 positions past its 8192
 * old context. Each element is checked against its own bound:
 *  - elements past rotary_dim are copied: they must be EXACT;
 *  - rotated elements: |got - want| <= 1.5 (u |want| + (e_j + 2^-22) |pair|) + 1e-7,
 *    u the output's rounding (2^-11 f16, 2^-8 bf16), |pair| = hypot(a, b)
 *    of the element's input pair (an angle error e moves the result by at
 *    most e |pair|), and e_j the kernel's angle error for pair j at position
 *    p: 0 with a cos/sin cache (the f32 values are the reference's too), else
 *      e_j = |p f_j| (1e-6 + 4e-6 y_j) + 4e-6 rad,  y_j = 2j / rotary_dim:
 *    the f32 product p * f_j and the 1/(2 pi) scaling before MUFU.SIN/COS
 *    (2^-24 relative each, 2^-23 with round-towards-zero), ex2.approx's
 *    2^-22.5 and lg2.approx's ~2^-22 absolute error times y |log2 theta| <= 19
 *    in __powf (about 1e-6 y relative after the f32 product rounding), and
 *    MUFU.SIN/COS's 2^-21.4 absolute error: about twice the sum (4x for the
 *    y term).
 * Activations: silu, gelu (erf) and gelu_tanh against float64:
 *   |got - want| <= 1.5 (u |want| + c |x y|) + 1e-7,
 * c = 4e-6 for silu/gelu (f32 __expf / erff, a few ulp) and 3e-4 for
 * gelu_tanh (tanh.approx.f32: relative error 2^-10.99, halved by the 0.5 in
 * the cdf). Bit packing: compared EXACTLY, both bit orders, bool and uint8
 * input, segments of length 0..40. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

static const char *const k_modules[] = {"rope", "silu_and_mul", "gelu_and_mul", "gelu_tanh_and_mul", "quantization",
                                        NULL};

#define POISON16 0x7bffu /* f16 65504, bf16 2.6e36: finite and far from any result */

static double unit_round(ref_half kind) { return kind == REF_BF16 ? ldexp(1, -8) : ldexp(1, -11); }

static void *xalloc(size_t bytes) {
  void *p = calloc(1, bytes ? bytes : 1);
  assert_non_null(p);
  return p;
}

/* ------------------------------------------------------------ RoPE */

enum { V_ROPE, V_POS_IDS, V_LLAMA, V_LLAMA_POS_IDS, V_COS_SIN };
static const char *const k_variant_names[] = {"apply_rope", "apply_rope_pos_ids", "apply_llama31_rope",
                                              "apply_llama31_rope_pos_ids", "apply_rope_pos_ids_cos_sin_cache"};

typedef struct rope_case {
  int variant, interleave, in_place, i64;
  ref_half kind;
  int64_t nnz, hq, hk, d, rot, batch, max_pos;
  int64_t *pos;    /* [nnz] position of each token */
  int64_t *indptr; /* [batch + 1] (indptr variants) */
  int64_t *offsets;
} rope_case;

/* Requests of 0..12 tokens at random offsets, or random positions. */
static void rope_positions(ref_rng *r, rope_case *c) {
  int64_t span = c->variant == V_LLAMA || c->variant == V_LLAMA_POS_IDS ? 20000 : 4096;
  if (c->variant == V_COS_SIN) span = c->max_pos;
  c->batch = 1 + (int64_t)(ref_rng_next(r) % 6);
  c->indptr = xalloc(((size_t)c->batch + 1) * sizeof(int64_t));
  c->offsets = xalloc((size_t)c->batch * sizeof(int64_t));
  for (int64_t b = 0; b < c->batch; b++) c->indptr[b + 1] = c->indptr[b] + (int64_t)(ref_rng_next(r) % 13);
  c->nnz = c->indptr[c->batch];
  c->pos = xalloc((size_t)(c->nnz ? c->nnz : 1) * sizeof(int64_t));
  for (int64_t b = 0; b < c->batch; b++) {
    int64_t len = c->indptr[b + 1] - c->indptr[b];
    c->offsets[b] = (int64_t)(ref_rng_next(r) % (uint64_t)(span - len));
    for (int64_t i = 0; i < len; i++)
      c->pos[c->indptr[b] + i] = c->variant == V_ROPE || c->variant == V_LLAMA
                                     ? c->offsets[b] + i
                                     : (int64_t)(ref_rng_next(r) % (uint64_t)span);
  }
}

static rope_case rope_random(ref_rng *r, int variant, int rep) {
  static const int64_t dims[] = {64, 128, 256, 512};
  rope_case c;
  memset(&c, 0, sizeof c);
  c.variant = variant, c.kind = rep % 2 ? REF_BF16 : REF_F16, c.i64 = rep / 2 % 2;
  c.interleave = rep / 4 % 2, c.in_place = rep % 3 == 0;
  c.d = dims[ref_rng_next(r) % 4];
  c.hq = 1 + (int64_t)(ref_rng_next(r) % 8), c.hk = 1 + (int64_t)(ref_rng_next(r) % 4);
  int64_t vec = c.d / 32 > 8 ? c.d / 32 : 8, mult = c.interleave ? vec : 2 * vec;
  c.rot = rep % 5 == 1 ? mult * (1 + (int64_t)(ref_rng_next(r) % (uint64_t)(c.d / mult))) : c.d; /* partial */
  c.max_pos = 3000;
  rope_positions(r, &c);
  return c;
}

static void rope_case_free(rope_case *c) { free(c->pos), free(c->indptr), free(c->offsets); }

/* An index array on the device in the case's dtype. */
static void *put_index(const rope_case *c, const int64_t *v, size_t n) {
  if (c->i64) return gpu_upload(v, n * 8);
  int32_t *t = xalloc(n * 4);
  for (size_t i = 0; i < n; i++) t[i] = (int32_t)v[i];
  void *d = gpu_upload(t, n * 4);
  free(t);
  return d;
}

/* cos_sin_cache [max_pos, rot] f32 of random angles; `exact` the stored values. */
static void *put_cache(ref_rng *r, const rope_case *c, double *exact) {
  size_t half = (size_t)c->rot / 2, n = (size_t)c->max_pos * (size_t)c->rot;
  float *f = xalloc(n * 4);
  for (size_t p = 0; p < (size_t)c->max_pos; p++)
    for (size_t j = 0; j < half; j++) {
      double a = 2 * 3.14159265358979323846 * ref_rng_uniform(r);
      f[p * (size_t)c->rot + j] = (float)cos(a), f[p * (size_t)c->rot + half + j] = (float)sin(a);
    }
  for (size_t i = 0; i < n; i++) exact[i] = f[i];
  void *d = gpu_alloc(n * 4 + 32); /* the interleaved kernel reads up to 32 bytes past a row */
  CK(cudaMemcpy(d, f, n * 4, cudaMemcpyHostToDevice));
  free(f);
  return d;
}

typedef struct rope_dev {
  void *q, *k, *qr, *kr, *i0, *i1, *cache;
} rope_dev;

static fic_status rope_launch(fic_runtime *rt, const rope_case *c, const rope_dev *d) {
  fic_dtype dt = gpu_half_dtype(c->kind), it = c->i64 ? FIC_I64 : FIC_I32;
  kt_desc q = gpu_desc(d->q, dt, 3, c->nnz, c->hq, c->d, 0), k = gpu_desc(d->k, dt, 3, c->nnz, c->hk, c->d, 0);
  kt_desc qr = gpu_desc(d->qr, dt, 3, c->nnz, c->hq, c->d, 0), kr = gpu_desc(d->kr, dt, 3, c->nnz, c->hk, c->d, 0);
  int by_pos = c->variant != V_ROPE && c->variant != V_LLAMA;
  kt_desc i0 = gpu_desc(d->i0, it, 1, by_pos ? c->nnz : c->batch + 1, 0, 0, 0);
  kt_desc i1 = gpu_desc(d->i1, it, 1, c->batch, 0, 0, 0);
  if (c->variant == V_COS_SIN) {
    kt_desc cache = gpu_desc(d->cache, FIC_F32, 2, c->max_pos, c->rot, 0, 0);
    return fic_apply_rope_pos_ids_cos_sin_cache(rt, kt_t(&q), kt_t(&k), kt_t(&qr), kt_t(&kr), kt_t(&cache), kt_t(&i0),
                                                c->interleave ? FIC_ROPE_LAYOUT_INTERLEAVED : FIC_ROPE_LAYOUT_NEOX,
                                                NULL);
  }
  fic_rope_params p;
  int llama = c->variant == V_LLAMA || c->variant == V_LLAMA_POS_IDS;
  FIC_ASSERT_OK(llama ? fic_llama31_rope_params_init(&p) : fic_rope_params_init(&p));
  p.q = kt_t(&q), p.k = kt_t(&k), p.q_rope = kt_t(&qr), p.k_rope = kt_t(&kr);
  p.rotary_dim = c->rot == c->d ? 0 : c->rot;
  p.layout = c->interleave ? FIC_ROPE_LAYOUT_INTERLEAVED : FIC_ROPE_LAYOUT_NEOX;
  if (!llama) p.rope_theta = 1e4 * (1 + (double)(c->hq % 3)), p.rope_scale = c->hk % 2 ? 1.0 : 2.0;
  if (by_pos)
    p.pos_ids = kt_t(&i0);
  else
    p.indptr = kt_t(&i0), p.offsets = kt_t(&i1);
  switch (c->variant) {
    case V_ROPE:
      return fic_apply_rope(rt, &p, NULL);
    case V_POS_IDS:
      return fic_apply_rope_pos_ids(rt, &p, NULL);
    case V_LLAMA:
      return fic_apply_llama31_rope(rt, &p, NULL);
    default:
      return fic_apply_llama31_rope_pos_ids(rt, &p, NULL);
  }
}

/* The frequencies the call above asked for (NULL for the cache). */
static void rope_freqs(const rope_case *c, double *freq) {
  int llama = c->variant == V_LLAMA || c->variant == V_LLAMA_POS_IDS;
  ref_rope_freq_params fp = {5e5, 8.0, 1, 1.0, 4.0, 8192.0};
  if (!llama) fp.llama31 = 0, fp.theta = 1e4 * (1 + (double)(c->hq % 3)), fp.scale = c->hk % 2 ? 1.0 : 2.0;
  ref_rope_freqs(&fp, (size_t)c->rot, freq);
}

/* Every element against its bound (header comment); returns the worst ratio. */
static double rope_check(const char *what, const rope_case *c, const double *x, const double *got, const double *want,
                         size_t heads, const double *freq) {
  size_t half = (size_t)c->rot / 2, bad = 0, D = (size_t)c->d;
  double u = unit_round(c->kind), worst = 0;
  for (size_t t = 0; t < (size_t)c->nnz; t++)
    for (size_t h = 0; h < heads; h++)
      for (size_t e = 0; e < D; e++) {
        size_t i = (t * heads + h) * D + e;
        double bound = 0;
        if (e < (size_t)c->rot) {
          size_t j = c->interleave ? e / 2 : e % half;
          size_t ia = c->interleave ? 2 * j : j, ib = c->interleave ? 2 * j + 1 : j + half;
          double pair = hypot(x[i - e + ia], x[i - e + ib]), ang = 0;
          if (freq) ang = fabs((double)c->pos[t] * freq[j]) * (1e-6 + 4e-6 * (2.0 * j / (double)c->rot)) + 4e-6;
          bound = 1.5 * (u * fabs(want[i]) + (ang + ldexp(1, -22)) * pair) + 1e-7;
        }
        double err = fabs(got[i] - want[i]);
        if (!(err <= bound) && !bad++)
          print_message("  %s: first failure token %zu head %zu elem %zu: got %.6g want %.6g (bound %.3g)\n", what, t,
                        h, e, got[i], want[i], bound);
        if (bound > 0 && err / bound > worst) worst = err / bound;
      }
  if (bad) fail_msg("%s: %zu elements outside their bound", what, bad);
  return worst;
}

static void rope_compare(const rope_case *c, const rope_dev *d, const double *xq, const double *xk,
                         const double *cache) {
  size_t nq = (size_t)(c->nnz * c->hq * c->d), nk = (size_t)(c->nnz * c->hk * c->d);
  double *gq = xalloc(nq * 8), *gk = xalloc(nk * 8), *wq = xalloc(nq * 8), *wk = xalloc(nk * 8);
  double *freq = xalloc((size_t)c->rot * 8);
  gpu_get_half(c->kind, d->qr, gq, nq), gpu_get_half(c->kind, d->kr, gk, nk);
  const double *f = c->variant == V_COS_SIN ? NULL : freq;
  if (f) rope_freqs(c, freq);
  ref_rope(xq, wq, (size_t)c->nnz, (size_t)c->hq, (size_t)c->d, (size_t)c->rot, c->interleave, c->pos, f, cache);
  ref_rope(xk, wk, (size_t)c->nnz, (size_t)c->hk, (size_t)c->d, (size_t)c->rot, c->interleave, c->pos, f, cache);
  char what[160];
  snprintf(what, sizeof what, "%s %s %s %s rot %lld/%lld%s nnz %lld Hq %lld Hk %lld", k_variant_names[c->variant],
           ref_half_name(c->kind), c->i64 ? "i64" : "i32", c->interleave ? "interleaved" : "neox", (long long)c->rot,
           (long long)c->d, c->in_place ? " in place" : "", (long long)c->nnz, (long long)c->hq, (long long)c->hk);
  double wq_ratio = rope_check(what, c, xq, gq, wq, (size_t)c->hq, f);
  double wk_ratio = rope_check(what, c, xk, gk, wk, (size_t)c->hk, f);
  print_message("  %-100s worst err/bound %.3f\n", what, wq_ratio > wk_ratio ? wq_ratio : wk_ratio);
  free(gq), free(gk), free(wq), free(wk), free(freq);
}

static void rope_run_case(fic_runtime *rt, ref_rng *r, rope_case *c) {
  size_t nq = (size_t)(c->nnz * c->hq * c->d), nk = (size_t)(c->nnz * c->hk * c->d);
  uint16_t *bq = xalloc(nq * 2 + 2), *bk = xalloc(nk * 2 + 2), *poison = xalloc((nq > nk ? nq : nk) * 2 + 2);
  double *xq = xalloc(nq * 8 + 8), *xk = xalloc(nk * 8 + 8), *cache = NULL;
  ref_half_random(r, c->kind, bq, xq, nq, 0.0, 1.0), ref_half_random(r, c->kind, bk, xk, nk, 0.0, 1.0);
  for (size_t i = 0; i < (nq > nk ? nq : nk); i++) poison[i] = POISON16;
  rope_dev d = {gpu_upload(bq, nq * 2), gpu_upload(bk, nk * 2), NULL, NULL, NULL, NULL, NULL};
  d.qr = c->in_place ? d.q : gpu_upload(poison, nq * 2), d.kr = c->in_place ? d.k : gpu_upload(poison, nk * 2);
  int by_pos = c->variant != V_ROPE && c->variant != V_LLAMA;
  d.i0 = by_pos ? put_index(c, c->pos, (size_t)c->nnz) : put_index(c, c->indptr, (size_t)c->batch + 1);
  d.i1 = put_index(c, c->offsets, (size_t)c->batch);
  if (c->variant == V_COS_SIN) {
    cache = xalloc((size_t)(c->max_pos * c->rot) * 8);
    d.cache = put_cache(r, c, cache);
  }
  FIC_ASSERT_OK(rope_launch(rt, c, &d));
  CK(cudaDeviceSynchronize());
  rope_compare(c, &d, xq, xk, cache);
  void *all[] = {d.q, d.k, d.i0, d.i1, d.cache, c->in_place ? NULL : d.qr, c->in_place ? NULL : d.kr};
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
    if (all[i]) CK(cudaFree(all[i]));
  free(bq), free(bk), free(poison), free(xq), free(xk), free(cache);
}

static void rope_variant(void **state, int variant) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed(k_variant_names[variant]));
  for (int rep = 0; rep < 10; rep++) {
    rope_case c = rope_random(&r, variant, rep);
    rope_run_case(rt, &r, &c);
    rope_case_free(&c);
  }
}

static void test_apply_rope(void **state) { rope_variant(state, V_ROPE); }
static void test_apply_rope_pos_ids(void **state) { rope_variant(state, V_POS_IDS); }
static void test_apply_llama31_rope(void **state) { rope_variant(state, V_LLAMA); }
static void test_apply_llama31_rope_pos_ids(void **state) { rope_variant(state, V_LLAMA_POS_IDS); }
static void test_apply_rope_cos_sin_cache(void **state) { rope_variant(state, V_COS_SIN); }

/* ------------------------------------------------------------ activations */

typedef fic_status (*act_fn)(fic_runtime *, const fic_tensor *, const fic_tensor *, int, void *);

static void act_case(fic_runtime *rt, ref_rng *r, ref_act act, act_fn fn, ref_half kind, size_t rows, size_t d) {
  size_t n = rows * 2 * d;
  uint16_t *bits = xalloc(n * 2);
  double *x = xalloc(n * 8), *got = xalloc(rows * d * 8 + 8), *want = xalloc(rows * d * 8 + 8);
  ref_half_random(r, kind, bits, x, n, 0.0, 2.0);
  void *din = gpu_upload(bits, n * 2), *dout = gpu_alloc(rows * d * 2);
  kt_desc in = gpu_desc(din, gpu_half_dtype(kind), 2, (int64_t)rows, (int64_t)(2 * d), 0, 0);
  kt_desc out = gpu_desc(dout, gpu_half_dtype(kind), 2, (int64_t)rows, (int64_t)d, 0, 0);
  FIC_ASSERT_OK(fn(rt, kt_t(&out), kt_t(&in), (int)(rows % 2), NULL));
  CK(cudaDeviceSynchronize());
  gpu_get_half(kind, dout, got, rows * d);
  ref_act_and_mul(act, x, want, rows, d);
  double c = act == REF_ACT_GELU_TANH ? 3e-4 : 4e-6, u = unit_round(kind), worst = 0;
  size_t bad = 0;
  for (size_t i = 0; i < rows * d; i++) {
    size_t row = i / d, col = i % d;
    double xy = fabs(x[row * 2 * d + col] * x[row * 2 * d + d + col]);
    double bound = 1.5 * (u * fabs(want[i]) + c * xy) + 1e-7, err = fabs(got[i] - want[i]);
    if (!(err <= bound) && !bad++)
      print_message("  first failure row %zu col %zu: got %.6g want %.6g (bound %.3g)\n", row, col, got[i], want[i],
                    bound);
    if (err / bound > worst) worst = err / bound;
  }
  static const char *const names[] = {"silu_and_mul", "gelu_and_mul", "gelu_tanh_and_mul"};
  print_message("  %-18s %s rows %zu d %zu: worst err/bound %.3f\n", names[act], ref_half_name(kind), rows, d, worst);
  if (bad) fail_msg("%s: %zu of %zu elements outside their bound", names[act], bad, rows * d);
  CK(cudaFree(din)), CK(cudaFree(dout));
  free(bits), free(x), free(got), free(want);
}

static void test_activations(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("activations"));
  static const act_fn fns[] = {fic_silu_and_mul, fic_gelu_and_mul, fic_gelu_tanh_and_mul};
  static const size_t dims[] = {8, 64, 136, 4096, 8200}; /* 8200 / 8 > 1024 threads: the tail loop */
  for (int a = 0; a < 3; a++)
    for (int i = 0; i < 5; i++)
      act_case(rt, &r, (ref_act)a, fns[a], (i + a) % 2 ? REF_BF16 : REF_F16, 1 + ref_rng_next(&r) % 9, dims[i]);
}

/* ------------------------------------------------------------ bit packing */

static void expect_bytes(const char *what, const uint8_t *got, const uint8_t *want, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i]) fail_msg("%s: byte %zu of %zu is 0x%02x, want 0x%02x", what, i, n, got[i], want[i]);
  print_message("  %-40s %zu bytes exact\n", what, n);
}

static void packbits_case(fic_runtime *rt, ref_rng *r, size_t n, int little, int as_u8) {
  uint8_t *x = xalloc(n), *want = xalloc((n + 7) / 8 + 1), *got = xalloc((n + 7) / 8 + 1);
  for (size_t i = 0; i < n; i++) x[i] = (uint8_t)(ref_rng_next(r) & 1);
  ref_packbits(x, n, little, want);
  void *dx = gpu_upload(x, n), *dy = gpu_alloc((n + 7) / 8);
  CK(cudaMemset(dy, 0xee, (n + 7) / 8));
  fic_dtype dt = as_u8 ? FIC_U8 : FIC_DTYPE(FIC_DTYPE_BOOL, 8, 1);
  kt_desc tx = gpu_desc(dx, dt, 1, (int64_t)n, 0, 0, 0), ty = gpu_desc(dy, FIC_U8, 1, (int64_t)(n + 7) / 8, 0, 0, 0);
  FIC_ASSERT_OK(fic_packbits(rt, kt_t(&tx), little ? FIC_BITORDER_LITTLE : FIC_BITORDER_BIG, kt_t(&ty), NULL));
  CK(cudaDeviceSynchronize());
  gpu_download(got, dy, (n + 7) / 8);
  char what[64];
  snprintf(what, sizeof what, "packbits n %zu %s %s", n, little ? "little" : "big", as_u8 ? "uint8" : "bool");
  expect_bytes(what, got, want, (n + 7) / 8);
  CK(cudaFree(dx)), CK(cudaFree(dy));
  free(x), free(want), free(got);
}

static void segment_case(fic_runtime *rt, ref_rng *r, int32_t B, int little) {
  int32_t *in = xalloc(((size_t)B + 1) * 4), *out = xalloc(((size_t)B + 1) * 4);
  for (int32_t b = 0; b < B; b++) {
    int32_t len = (int32_t)(ref_rng_next(r) % 41);
    in[b + 1] = in[b] + len, out[b + 1] = out[b] + (len + 7) / 8;
  }
  size_t n = (size_t)in[B], m = (size_t)out[B];
  uint8_t *x = xalloc(n + 1), *want = xalloc(m + 1), *got = xalloc(m + 1);
  for (size_t i = 0; i < n; i++) x[i] = (uint8_t)(ref_rng_next(r) & 1);
  for (int32_t b = 0; b < B; b++) ref_packbits(x + in[b], (size_t)(in[b + 1] - in[b]), little, want + out[b]);
  void *dx = gpu_upload(x, n + 1), *din = gpu_upload(in, ((size_t)B + 1) * 4);
  void *dout = gpu_upload(out, ((size_t)B + 1) * 4), *dy = gpu_alloc(m + 1);
  kt_desc tx = gpu_desc(dx, FIC_DTYPE(FIC_DTYPE_BOOL, 8, 1), 1, (int64_t)n, 0, 0, 0);
  kt_desc ti = gpu_desc(din, FIC_I32, 1, B + 1, 0, 0, 0), to = gpu_desc(dout, FIC_I32, 1, B + 1, 0, 0, 0);
  kt_desc ty = gpu_desc(dy, FIC_U8, 1, (int64_t)m, 0, 0, 0);
  FIC_ASSERT_OK(fic_segment_packbits(rt, kt_t(&tx), kt_t(&ti), kt_t(&to),
                                     little ? FIC_BITORDER_LITTLE : FIC_BITORDER_BIG, kt_t(&ty), NULL));
  CK(cudaDeviceSynchronize());
  gpu_download(got, dy, m);
  char what[64];
  snprintf(what, sizeof what, "segment_packbits B %d %s", (int)B, little ? "little" : "big");
  expect_bytes(what, got, want, m);
  CK(cudaFree(dx)), CK(cudaFree(din)), CK(cudaFree(dout)), CK(cudaFree(dy));
  free(in), free(out), free(x), free(want), free(got);
}

static void test_packbits(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("packbits"));
  static const size_t sizes[] = {1, 7, 8, 9, 2047, 2048, 2049, 100003};
  for (int i = 0; i < 8; i++) packbits_case(rt, &r, sizes[i], i % 2, i / 2 % 2);
  static const int32_t batches[] = {1, 2, 17, 64};
  for (int i = 0; i < 4; i++) segment_case(rt, &r, batches[i], i % 2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_apply_rope),
      cmocka_unit_test(test_apply_rope_pos_ids),
      cmocka_unit_test(test_apply_llama31_rope),
      cmocka_unit_test(test_apply_llama31_rope_pos_ids),
      cmocka_unit_test(test_apply_rope_cos_sin_cache),
      cmocka_unit_test(test_activations),
      cmocka_unit_test(test_packbits),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
