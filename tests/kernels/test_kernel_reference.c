/* SPDX-License-Identifier: Apache-2.0 */
/* The float64 references and conversions the GPU tests and the self-test
 * trust (src/checks/reference.c), checked against closed forms and against
 * themselves (chunking, head mapping), on the CPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "checks/reference.h"
#include "test_support.h"

static void test_f16_known_values(void **state) {
  (void)state;
  assert_int_equal(ref_f16_from_float(1.0f), 0x3c00);
  assert_int_equal(ref_f16_from_float(-2.0f), 0xc000);
  assert_int_equal(ref_f16_from_float(65504.0f), 0x7bff);
  assert_int_equal(ref_f16_from_float(65519.0f), 0x7bff);
  assert_int_equal(ref_f16_from_float(65520.0f), 0x7c00); /* ties to even: inf */
  assert_int_equal(ref_f16_from_float(0x1.0p-24f), 0x0001);
  assert_int_equal(ref_f16_from_float(0x1.0p-25f), 0x0000); /* tie to even: 0 */
  assert_int_equal(ref_f16_from_float(0x1.8p-24f), 0x0002); /* tie to even: 2 */
  assert_int_equal(ref_f16_from_float(0.1f), 0x2e66);
  assert_int_equal(ref_f16_from_float(1.0f + 0x1.0p-11f), 0x3c00); /* tie, even stays */
  assert_int_equal(ref_f16_from_float(1.0f + 0x1.8p-10f), 0x3c02); /* tie, odd rounds up */
  assert_true(isnan(ref_f16_to_float(ref_f16_from_float(NAN))));
  assert_true(ref_f16_to_float(0x7c00) == INFINITY);
}

static void test_half_round_trips(void **state) {
  (void)state;
  for (uint32_t h = 0; h < 0x10000; h++) {
    float f = ref_f16_to_float((uint16_t)h);
    if (!isnan(f) && ref_f16_from_float(f) != h) fail_msg("f16 0x%04x -> %g -> 0x%04x", h, f, ref_f16_from_float(f));
    float b = ref_bf16_to_float((uint16_t)h);
    if (!isnan(b) && ref_bf16_from_float(b) != h) fail_msg("bf16 0x%04x -> %g", h, b);
  }
  assert_int_equal(ref_bf16_from_float(1.0f), 0x3f80);
  assert_int_equal(ref_bf16_from_float(1.0f + 0x1.0p-8f), 0x3f80); /* tie to even */
  assert_int_equal(ref_bf16_from_float(1.0f + 0x1.8p-7f), 0x3f82);
}

static void test_fp8(void **state) {
  (void)state;
  assert_true(ref_fp8_e4m3fn_to_double(0x7e) == 448.0);
  assert_true(ref_fp8_e4m3fn_to_double(0xfe) == -448.0);
  assert_true(isnan(ref_fp8_e4m3fn_to_double(0x7f)));
  assert_true(ref_fp8_e4m3fn_to_double(0x01) == 0x1.0p-9);
  assert_true(ref_fp8_e4m3fn_to_double(0x38) == 1.0);
  assert_true(ref_fp8_e5m2_to_double(0x7b) == 57344.0);
  assert_true(ref_fp8_e5m2_to_double(0x3c) == 1.0);
  assert_true(isinf(ref_fp8_e5m2_to_double(0x7c)));
  assert_true(ref_fp8_ulp(1.0, 0) == 0.125);
  assert_true(ref_fp8_ulp(448.0, 0) == 32.0);
  assert_true(ref_fp8_ulp(1e-4, 0) == 0x1.0p-9);
  assert_true(ref_fp8_ulp(1.0, 1) == 0.25);
  double clamped[3], x[3] = {1000.0, -1000.0, 3.0};
  ref_quant_clamp(x, clamped, 3, 2.0);
  assert_true(clamped[0] == 448.0 && clamped[1] == -448.0 && clamped[2] == 1.5);
}

static void test_rng(void **state) {
  (void)state;
  ref_rng a, b;
  ref_rng_seed(&a, 42);
  ref_rng_seed(&b, 42);
  for (int i = 0; i < 100; i++) assert_true(ref_rng_next(&a) == ref_rng_next(&b));
  double sum = 0, sq = 0;
  const int n = 100000;
  for (int i = 0; i < n; i++) {
    double z = ref_rng_normal(&a);
    sum += z, sq += z * z;
    double u = ref_rng_uniform(&b);
    assert_true(u >= 0 && u < 1);
  }
  assert_true(fabs(sum / n) < 0.02);
  assert_true(fabs(sq / n - 1) < 0.02);
}

static void test_norm_references(void **state) {
  (void)state;
  double in[4] = {3, 4, 1, -1}, w[2] = {0.5, 2}, out[4];
  ref_rmsnorm(in, w, out, 2, 2, 0.0, 0.0);
  double r0 = sqrt(12.5);
  assert_true(fabs(out[0] - 3 / r0 * 0.5) < 1e-15 && fabs(out[1] - 4 / r0 * 2) < 1e-15);
  assert_true(fabs(out[2] - 0.5) < 1e-15 && fabs(out[3] + 2) < 1e-15);
  ref_rmsnorm(in, w, out, 2, 2, 0.0, 1.0); /* Gemma: (1 + w) */
  assert_true(fabs(out[1] - 4 / r0 * 3) < 1e-15);
  double res[4] = {1, 1, 1, 1}, res_out[4], fused[4], plain_in[4] = {4, 5, 2, 0}, plain[4];
  ref_fused_add_rmsnorm(in, res, w, fused, res_out, 2, 2, 1e-6, 0.0);
  ref_rmsnorm(plain_in, w, plain, 2, 2, 1e-6, 0.0);
  for (int i = 0; i < 4; i++) assert_true(res_out[i] == plain_in[i] && fabs(fused[i] - plain[i]) < 1e-15);
  double ln_in[3] = {1, 2, 3}, g[3] = {1, 1, 2}, b[3] = {0, 1, 0}, ln[3];
  ref_layernorm(ln_in, g, b, ln, 1, 3, 0.0);
  double sd = sqrt(2.0 / 3.0);
  assert_true(fabs(ln[0] + 1 / sd) < 1e-15 && fabs(ln[1] - 1) < 1e-15 && fabs(ln[2] - 2 / sd) < 1e-15);
}

static void test_compare(void **state) {
  (void)state;
  double want[3] = {1, 2, 2}, got[3] = {1, 2, 3};
  ref_err e = ref_compare(got, want, 3);
  assert_true(e.max_abs == 1 && e.worst == 2 && e.nonfinite == 0);
  assert_true(fabs(e.rel_l2 - 1.0 / 3.0) < 1e-15);
  got[0] = NAN;
  e = ref_compare(got, want, 3);
  assert_true(e.nonfinite == 1 && isinf(e.rel_l2));
  assert_int_equal(ref_count_outside(got, want, 3, 0.5, 0), 2);
}

/* ---- gated delta rule */

typedef struct gdn_data {
  size_t T, hq, hk, hv, d, H;
  double *q, *k, *v, *alpha, *beta;
} gdn_data;

static gdn_data gdn_random(ref_rng *r, size_t T, size_t hq, size_t hk, size_t hv, size_t d) {
  gdn_data g = {T, hq, hk, hv, d, hq > hv ? hq : hv, NULL, NULL, NULL, NULL, NULL};
  g.q = malloc(T * hq * d * 8), g.k = malloc(T * hk * d * 8), g.v = malloc(T * hv * d * 8);
  g.alpha = malloc(T * g.H * 8), g.beta = malloc(T * g.H * 8);
  for (size_t i = 0; i < T * hq * d; i++) g.q[i] = ref_rng_normal(r);
  for (size_t i = 0; i < T * hk * d; i++) g.k[i] = ref_rng_normal(r);
  ref_l2_normalize(g.k, T * hk, d);
  for (size_t i = 0; i < T * hv * d; i++) g.v[i] = ref_rng_normal(r);
  ref_uniform(r, g.alpha, T * g.H, 0.5, 1.0);
  ref_uniform(r, g.beta, T * g.H, 0.0, 1.0);
  return g;
}

static void gdn_free(gdn_data *g) { free(g->q), free(g->k), free(g->v), free(g->alpha), free(g->beta); }

static double max_diff(const double *a, const double *b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i] - b[i]));
  return m;
}

/* One token from a zero state with beta = 1: S = v k^T, o = scale (k.q) v. */
static void test_gdn_single_token(void **state) {
  (void)state;
  ref_rng r;
  ref_rng_seed(&r, 1);
  gdn_data g = gdn_random(&r, 1, 1, 1, 1, 16);
  int64_t cu[2] = {0, 1};
  double out[16], st[256];
  ref_gdn p = {1, cu, 1, 1, 1, 16, g.q, g.k, g.v, g.alpha, NULL, NULL, 0.5};
  assert_int_equal(ref_gdn_prefill(&p, out, st), 0);
  double kq = 0;
  for (int i = 0; i < 16; i++) kq += g.k[i] * g.q[i];
  for (int vi = 0; vi < 16; vi++) {
    assert_true(fabs(out[vi] - 0.5 * kq * g.v[vi]) < 1e-12);
    for (int ki = 0; ki < 16; ki++) assert_true(fabs(st[vi * 16 + ki] - g.v[vi] * g.k[ki]) < 1e-12); /* [V, K] */
  }
  gdn_free(&g);
}

/* Splitting each sequence in two and chaining the state through
 * input_state gives the same outputs and final states. */
static void test_gdn_chaining(void **state) {
  (void)state;
  ref_rng r;
  ref_rng_seed(&r, 2);
  const size_t d = 8, hq = 2, hk = 2, hv = 4, H = 4; /* GVA */
  gdn_data g = gdn_random(&r, 30, hq, hk, hv, d);
  int64_t cu_full[3] = {0, 17, 30};
  double *out_full = malloc(30 * H * d * 8), *st_full = malloc(2 * H * d * d * 8);
  ref_gdn p = {2, cu_full, hq, hk, hv, d, g.q, g.k, g.v, g.alpha, g.beta, NULL, 0};
  assert_int_equal(ref_gdn_prefill(&p, out_full, st_full), 0);

  /* First chunk: tokens 0..9 of seq 0 and 17..22 of seq 1; second: the rest. */
  const size_t first[2][2] = {{0, 10}, {17, 23}}, second[2][2] = {{10, 17}, {23, 30}};
  double *st1 = malloc(2 * H * d * d * 8), *st2 = malloc(2 * H * d * d * 8), *out_split = malloc(30 * H * d * 8);
  const size_t(*parts[2])[2] = {first, second};
  for (int part = 0; part < 2; part++) {
    size_t T = 0;
    for (int n = 0; n < 2; n++) T += parts[part][n][1] - parts[part][n][0];
    gdn_data c = {T,
                  hq,
                  hk,
                  hv,
                  d,
                  H,
                  malloc(T * hq * d * 8),
                  malloc(T * hk * d * 8),
                  malloc(T * hv * d * 8),
                  malloc(T * H * 8),
                  malloc(T * H * 8)};
    int64_t cu[3] = {0, 0, 0};
    size_t at = 0;
    for (int n = 0; n < 2; n++) {
      for (size_t t = parts[part][n][0]; t < parts[part][n][1]; t++, at++) {
        memcpy(c.q + at * hq * d, g.q + t * hq * d, hq * d * 8);
        memcpy(c.k + at * hk * d, g.k + t * hk * d, hk * d * 8);
        memcpy(c.v + at * hv * d, g.v + t * hv * d, hv * d * 8);
        memcpy(c.alpha + at * H, g.alpha + t * H, H * 8);
        memcpy(c.beta + at * H, g.beta + t * H, H * 8);
      }
      cu[n + 1] = (int64_t)at;
    }
    double *o = malloc(T * H * d * 8);
    ref_gdn pc = {2, cu, hq, hk, hv, d, c.q, c.k, c.v, c.alpha, c.beta, part ? st1 : NULL, 0};
    assert_int_equal(ref_gdn_prefill(&pc, o, part ? st2 : st1), 0);
    at = 0;
    for (int n = 0; n < 2; n++)
      for (size_t t = parts[part][n][0]; t < parts[part][n][1]; t++, at++)
        memcpy(out_split + t * H * d, o + at * H * d, H * d * 8);
    free(o);
    gdn_free(&c);
  }
  assert_true(max_diff(out_full, out_split, 30 * H * d) < 1e-12);
  assert_true(max_diff(st_full, st2, 2 * H * d * d) < 1e-12);
  free(out_full), free(st_full), free(st1), free(st2), free(out_split);
  gdn_free(&g);
}

/* GQA: head h reads k/v head h / ratio. Equivalent to single-head runs. */
static void test_gdn_head_mapping(void **state) {
  (void)state;
  ref_rng r;
  ref_rng_seed(&r, 3);
  const size_t d = 8, T = 9;
  for (int gva = 0; gva < 2; gva++) {
    size_t hq = gva ? 1 : 3, hk = 1, hv = gva ? 3 : 1, H = 3;
    gdn_data g = gdn_random(&r, T, hq, hk, hv, d);
    int64_t cu[2] = {0, (int64_t)T};
    double *out = malloc(T * H * d * 8), *st = malloc(H * d * d * 8);
    ref_gdn p = {1, cu, hq, hk, hv, d, g.q, g.k, g.v, g.alpha, g.beta, NULL, 0};
    assert_int_equal(ref_gdn_prefill(&p, out, st), 0);
    for (size_t h = 0; h < H; h++) {
      double q1[9 * 8], v1[9 * 8], a1[9], b1[9], o1[9 * 8], s1[64];
      for (size_t t = 0; t < T; t++) {
        memcpy(q1 + t * d, g.q + (t * hq + (gva ? 0 : h)) * d, d * 8);
        memcpy(v1 + t * d, g.v + (t * hv + (gva ? h : 0)) * d, d * 8);
        a1[t] = g.alpha[t * H + h], b1[t] = g.beta[t * H + h];
      }
      ref_gdn p1 = {1, cu, 1, 1, 1, d, q1, g.k, v1, a1, b1, NULL, 0};
      assert_int_equal(ref_gdn_prefill(&p1, o1, s1), 0);
      for (size_t t = 0; t < T; t++) assert_true(max_diff(o1 + t * d, out + (t * H + h) * d, d) < 1e-12);
      assert_true(max_diff(s1, st + h * d * d, d * d) < 1e-12);
    }
    free(out), free(st);
    gdn_free(&g);
  }
}

/* alpha = 0 forgets everything before the token; beta = 0 never writes. */
static void test_gdn_gates(void **state) {
  (void)state;
  ref_rng r;
  ref_rng_seed(&r, 4);
  const size_t d = 8, T = 5;
  gdn_data g = gdn_random(&r, T, 1, 1, 1, d);
  int64_t cu[2] = {0, (int64_t)T};
  double out[5 * 8], st[64], init[64];
  for (int i = 0; i < 64; i++) init[i] = ref_rng_normal(&r);
  for (size_t t = 0; t < T; t++) g.beta[t] = 0;
  ref_gdn p = {1, cu, 1, 1, 1, d, g.q, g.k, g.v, g.alpha, g.beta, init, 1.0};
  assert_int_equal(ref_gdn_prefill(&p, out, st), 0);
  double decay = 1;
  for (size_t t = 0; t < T; t++) decay *= g.alpha[t];
  for (int i = 0; i < 64; i++) assert_true(fabs(st[i] - decay * init[i]) < 1e-12);
  for (size_t t = 0; t < T; t++) g.alpha[t] = 0, g.beta[t] = 1;
  assert_int_equal(ref_gdn_prefill(&p, out, st), 0);
  for (int vi = 0; vi < 8; vi++)
    for (int ki = 0; ki < 8; ki++) assert_true(fabs(st[vi * 8 + ki] - g.v[4 * d + vi] * g.k[4 * d + ki]) < 1e-12);
  /* Bad layouts are refused. */
  ref_gdn bad = {1, cu, 3, 2, 2, d, g.q, g.k, g.v, NULL, NULL, NULL, 0};
  assert_int_equal(ref_gdn_prefill(&bad, out, st), -1);
  gdn_free(&g);
}

static void test_fp8_encode(void **state) {
  (void)state;
  assert_int_equal(ref_fp8_from_double(1.0, 0), 0x38);
  assert_int_equal(ref_fp8_from_double(-448.0, 0), 0xfe);
  assert_int_equal(ref_fp8_from_double(1000.0, 0), 0x7e); /* saturates */
  assert_int_equal(ref_fp8_from_double(1.0625, 0), 0x38); /* halfway 1 and 1.125: to the even code */
  assert_int_equal(ref_fp8_from_double(1.1875, 0), 0x3a); /* halfway 1.125 and 1.25: to the even code */
  assert_int_equal(ref_fp8_from_double(1.0, 1), 0x3c);
  for (int b = 0; b < 256; b++) { /* every finite code round-trips */
    double v = ref_fp8_e4m3fn_to_double((uint8_t)b), w = ref_fp8_e5m2_to_double((uint8_t)b);
    if (isfinite(v) && v != 0) assert_int_equal(ref_fp8_from_double(v, 0), b);
    if (isfinite(w) && w != 0) assert_int_equal(ref_fp8_from_double(w, 1), b);
  }
}

/* The append scatters by the page table; HND and NHD address differently. */
static void test_append_paged_kv(void **state) {
  (void)state;
  const int32_t indices[] = {2, 0, 1}, indptr[] = {0, 2, 3}, bi[] = {0, 0, 1}, pos[] = {1, 2, 0};
  double app[3 * 2 * 1] = {10, 11, 20, 21, 30, 31}; /* [nnz 3, H 2, D 1] */
  for (int hnd = 0; hnd < 2; hnd++) {
    double cache[3 * 2 * 2 * 1]; /* 3 pages of 2 entries, 2 heads, D 1 */
    for (int i = 0; i < 12; i++) cache[i] = -1;
    ref_paged_kv c = {2, 1, 2, hnd, indices, indptr};
    ref_append_paged_kv(&c, cache, app, bi, pos, 3);
    /* entry 0: request 0 position 1 -> page 2 slot 1; entry 1: position 2 -> page 0 slot 0;
     * entry 2: request 1 position 0 -> page 1 slot 0. */
#define AT(page, slot, h) cache[(page)*4 + (hnd ? (h)*2 + (slot) : (slot)*2 + (h))]
    assert_true(AT(2, 1, 0) == 10 && AT(2, 1, 1) == 11);
    assert_true(AT(0, 0, 0) == 20 && AT(0, 0, 1) == 21);
    assert_true(AT(1, 0, 0) == 30 && AT(1, 0, 1) == 31);
    assert_true(AT(2, 0, 0) == -1 && AT(0, 1, 1) == -1 && AT(1, 1, 0) == -1);
#undef AT
  }
}

/* Merging partial attention states equals attention over all the keys. */
static void test_merge_state_reference(void **state) {
  (void)state;
  const double scores[5] = {0.3, -1.2, 2.0, 0.7, -0.1}, vals[5] = {1, -2, 0.5, 3, 4};
  double full_v = 0, full_sum = 0, va = 0, sa = 0, vb = 0, sb = 0;
  for (int j = 0; j < 5; j++) full_sum += exp(scores[j]), full_v += exp(scores[j]) * vals[j];
  for (int j = 0; j < 2; j++) sa += exp(scores[j]), va += exp(scores[j]) * vals[j];
  for (int j = 2; j < 5; j++) sb += exp(scores[j]), vb += exp(scores[j]) * vals[j];
  double A[1] = {va / sa}, SA[1] = {log2(sa)}, B[1] = {vb / sb}, SB[1] = {log2(sb)}, V[1], S[1];
  ref_merge_state(A, SA, B, SB, V, S, 1, 1, 1);
  assert_true(fabs(V[0] - full_v / full_sum) < 1e-12 && fabs(S[0] - log2(full_sum)) < 1e-12);
  /* merge_states over the 5 single-key states, [seq 1, n 5, H 1, D 1]. */
  double s5[5];
  for (int j = 0; j < 5; j++) s5[j] = scores[j] / log(2.0);
  ref_merge_states(vals, s5, 1, 5, 1, 1, V, S);
  assert_true(fabs(V[0] - full_v / full_sum) < 1e-12 && fabs(S[0] - log2(full_sum)) < 1e-12);
}

/* Attention by hand: 1 head, d = 1, q = 1, keys k_j, values v_j. */
static void test_attention_by_hand(void **state) {
  (void)state;
  const double q[2] = {1, 1}; /* two query rows of one sequence */
  const double k[3] = {0, 1, 2}, v[3] = {10, 20, 30};
  const double *ks[1] = {k}, *vs[1] = {v};
  const int64_t qo_indptr[2] = {0, 2}, kv_len[1] = {3};
  ref_attn p = {1, 1, 1, 1, 1, qo_indptr, kv_len, q, ks, vs, 1.0, 0, -1, 0, NULL};
  double out[2], lse[2];
  assert_int_equal(ref_attention(&p, out, lse), 0);
  double z = exp(0) + exp(1) + exp(2);
  assert_float_equal(out[0], (10 + 20 * exp(1) + 30 * exp(2)) / z, 1e-12);
  assert_float_equal(lse[0], log(z) / log(2.0), 1e-12); /* base 2 */
  /* Causal, bottom-right aligned: row 0 of 2 sees keys 0..1, row 1 sees 0..2. */
  p.causal = 1;
  assert_int_equal(ref_attention(&p, out, lse), 0);
  assert_float_equal(out[0], (10 + 20 * exp(1)) / (1 + exp(1)), 1e-12);
  assert_float_equal(out[1], (10 + 20 * exp(1) + 30 * exp(2)) / z, 1e-12);
  /* Window 0 with causal: each row sees only its own diagonal key. */
  p.window_left = 0;
  assert_int_equal(ref_attention(&p, out, lse), 0);
  assert_float_equal(out[0], 20, 1e-12);
  assert_float_equal(out[1], 30, 1e-12);
  assert_float_equal(lse[1], 2 / log(2.0), 1e-12);
  /* Soft cap 1: scores become tanh(s). */
  p.causal = 0, p.window_left = -1, p.soft_cap = 1;
  assert_int_equal(ref_attention(&p, out, lse), 0);
  double w0 = 1, w1 = exp(tanh(1)), w2 = exp(tanh(2));
  assert_float_equal(out[0], (10 * w0 + 20 * w1 + 30 * w2) / (w0 + w1 + w2), 1e-12);
  /* A custom mask (row-major [qo_len * kv_len]) ANDed with the rest. */
  const uint8_t bits[6] = {1, 0, 1, 0, 0, 1};
  const uint8_t *masks[1] = {bits};
  p.soft_cap = 0, p.mask = masks;
  assert_int_equal(ref_attention(&p, out, lse), 0);
  assert_float_equal(out[0], (10 + 30 * exp(2)) / (1 + exp(2)), 1e-12);
  assert_float_equal(out[1], 30, 1e-12);
  p.mask = NULL, p.soft_cap = 1;
  /* sm_scale 0 means 1/sqrt(d) = 1 here; GQA mismatch and empty rows are refused. */
  p.hq = 2, p.hkv = 3;
  assert_int_equal(ref_attention(&p, out, lse), -1);
  p.hq = p.hkv = 1, p.soft_cap = 0, p.causal = 1;
  const int64_t long_q[2] = {0, 4}; /* 4 rows over 3 keys: causal row 0 sees nothing */
  double q4[4] = {1, 1, 1, 1}, out4[4];
  p.qo_indptr = long_q, p.q = q4;
  assert_int_equal(ref_attention(&p, out4, NULL), -1);
}

/* RoPE, activations and bit packing, worked by hand. */
static void test_rope_reference(void **state) {
  (void)state;
  /* rotary_dim 4 of head_dim 6, theta 16: freq = 1, 16^(-1/2) = 1/4 (scale 1). */
  ref_rope_freq_params fp = {16.0, 1.0, 0, 1, 4, 8192};
  double freq[2];
  ref_rope_freqs(&fp, 4, freq);
  assert_true(fabs(freq[0] - 1) < 1e-15 && fabs(freq[1] - 0.25) < 1e-15);
  const double x[6] = {1, 2, 3, 4, 5, 6};
  const int64_t pos[1] = {2};
  double out[6];
  /* NeoX pairs (0, 2) and (1, 3); interleaved pairs (0, 1) and (2, 3); 4, 5 copied. */
  ref_rope(x, out, 1, 1, 6, 4, 0, pos, freq, NULL);
  assert_true(fabs(out[0] - (1 * cos(2) - 3 * sin(2))) < 1e-12 && fabs(out[2] - (3 * cos(2) + 1 * sin(2))) < 1e-12);
  assert_true(fabs(out[1] - (2 * cos(.5) - 4 * sin(.5))) < 1e-12 && fabs(out[3] - (4 * cos(.5) + 2 * sin(.5))) < 1e-12);
  assert_true(out[4] == 5 && out[5] == 6);
  ref_rope(x, out, 1, 1, 6, 4, 1, pos, freq, NULL);
  assert_true(fabs(out[0] - (1 * cos(2) - 2 * sin(2))) < 1e-12 && fabs(out[1] - (2 * cos(2) + 1 * sin(2))) < 1e-12);
  assert_true(fabs(out[2] - (3 * cos(.5) - 4 * sin(.5))) < 1e-12 && fabs(out[3] - (4 * cos(.5) + 3 * sin(.5))) < 1e-12);
  /* The cache: cos in the first half of the row, sin in the second. */
  const double cache[2 * 4] = {0, 0, 0, 0, 0.5, 0.25, 0.75, 0.125};
  const int64_t one[1] = {1};
  ref_rope(x, out, 1, 1, 6, 4, 0, one, NULL, cache);
  assert_true(fabs(out[0] - (1 * 0.5 - 3 * 0.75)) < 1e-15 && fabs(out[3] - (4 * 0.25 + 2 * 0.125)) < 1e-15);
  /* Llama 3.1 (theta 5e5, scale 8, low 1, high 4, old 8192), rotary_dim 128:
   * wavelength 2 pi / w below 8192 / 4 keeps w, above 8192 divides by 8,
   * between interpolates. */
  ref_rope_freq_params l = {5e5, 8.0, 1, 1.0, 4.0, 8192.0};
  double lf[64];
  ref_rope_freqs(&l, 128, lf);
  const double pi = 3.14159265358979323846;
  for (int j = 0; j < 64; j++) {
    double w = pow(5e5, -2.0 * j / 128), wl = 2 * pi / w, want = w;
    if (wl > 8192.0)
      want = w / 8;
    else if (wl >= 2048.0) {
      double s = (8192.0 / wl - 1) / 3;
      want = (1 - s) * w / 8 + s * w;
    }
    assert_true(fabs(lf[j] - want) <= 1e-12 * want);
  }
  assert_true(lf[0] == 1.0 && fabs(lf[63] - pow(5e5, -126.0 / 128) / 8) < 1e-18);
}

static void test_act_and_pack_reference(void **state) {
  (void)state;
  assert_true(fabs(ref_act_value(REF_ACT_SILU, 1.0) - 0.7310585786300049) < 1e-15);
  assert_true(fabs(ref_act_value(REF_ACT_GELU, 1.0) - 0.8413447460685429) < 1e-15);
  assert_true(fabs(ref_act_value(REF_ACT_GELU_TANH, 1.0) - 0.8411919906082768) < 1e-15);
  const double in[2 * 4] = {1, -2, 3, 0.5, /* row 1 */ 0, 1, -1, 2};
  double out[4];
  ref_act_and_mul(REF_ACT_SILU, in, out, 2, 2);
  assert_true(fabs(out[0] - 0.7310585786300049 * 3) < 1e-15 && out[2] == 0.0);
  const uint8_t bits[11] = {1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1};
  uint8_t y[2];
  ref_packbits(bits, 11, 0, y);
  assert_int_equal(y[0], 0xB3);
  assert_int_equal(y[1], 0xA0);
  ref_packbits(bits, 11, 1, y);
  assert_int_equal(y[0], 0xCD);
  assert_int_equal(y[1], 0x05);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_f16_known_values),
      cmocka_unit_test(test_half_round_trips),
      cmocka_unit_test(test_fp8),
      cmocka_unit_test(test_fp8_encode),
      cmocka_unit_test(test_append_paged_kv),
      cmocka_unit_test(test_merge_state_reference),
      cmocka_unit_test(test_rng),
      cmocka_unit_test(test_norm_references),
      cmocka_unit_test(test_compare),
      cmocka_unit_test(test_gdn_single_token),
      cmocka_unit_test(test_gdn_chaining),
      cmocka_unit_test(test_gdn_head_mapping),
      cmocka_unit_test(test_gdn_gates),
      cmocka_unit_test(test_attention_by_hand),
      cmocka_unit_test(test_rope_reference),
      cmocka_unit_test(test_act_and_pack_reference),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
