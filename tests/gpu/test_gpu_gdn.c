/* SPDX-License-Identifier: Apache-2.0 */
/* gdn_prefill (FlashInfer 0.6.3, SM90 only) on a real GPU against the
 * float64 delta-rule reference: output and final state, mixed sequence
 * lengths (incl. tails shorter than the 64-token chunk), GQA and GVA, with
 * and without input_state / alpha / beta, default and explicit scale, and
 * chunked prefill that chains the state through input_state. On a GPU other
 * than SM 9.x the call must fail with the wrapper's decoded error. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

#define D 128

typedef struct gdn_spec {
  ref_half kind;
  size_t hq, hk, hv;
  int64_t lens[6];
  size_t num_seqs;
  int alpha, beta, state;
  double scale;
  double tol_factor; /* 1, or looser for the ungated recurrence */
} gdn_spec;

/* Host and device copies of one problem. */
typedef struct gdn_problem {
  gdn_spec sp;
  size_t T, H, nq, nk, nv, no, ns, ng;
  int64_t cu[7];
  double *q, *k, *v, *alpha, *beta, *state0;
  void *d_q, *d_k, *d_v, *d_alpha, *d_beta, *d_state0, *d_cu, *d_out, *d_state, *d_ws;
  size_t ws_bytes;
} gdn_problem;

/* Round to the storage type and upload; `x` keeps the rounded values. */
static void *put_half(ref_half kind, double *x, size_t n) {
  uint16_t *h = malloc(n * 2 + 2);
  assert_non_null(h);
  for (size_t i = 0; i < n; i++) {
    h[i] = ref_half_from_double(kind, x[i]);
    x[i] = ref_half_to_double(kind, h[i]);
  }
  void *p = gpu_upload(h, n * 2);
  free(h);
  return p;
}

static void *put_f32_rounded(double *x, size_t n) {
  for (size_t i = 0; i < n; i++) x[i] = (float)x[i];
  return gpu_put_f32(x, n);
}

static void problem_make(gdn_problem *p, const gdn_spec *sp, ref_rng *r) {
  memset(p, 0, sizeof *p);
  p->sp = *sp;
  p->H = sp->hq > sp->hv ? sp->hq : sp->hv;
  for (size_t i = 0; i < sp->num_seqs; i++) p->cu[i + 1] = p->cu[i] + sp->lens[i];
  p->T = (size_t)p->cu[sp->num_seqs];
  p->nq = p->T * sp->hq * D, p->nk = p->T * sp->hk * D, p->nv = p->T * sp->hv * D, p->no = p->T * p->H * D;
  p->ns = sp->num_seqs * p->H * D * D, p->ng = p->T * p->H;
  p->q = malloc(p->nq * 8), p->k = malloc(p->nk * 8), p->v = malloc(p->nv * 8);
  p->alpha = malloc(p->ng * 8), p->beta = malloc(p->ng * 8), p->state0 = malloc(p->ns * 8);
  assert_true(p->q && p->k && p->v && p->alpha && p->beta && p->state0);
  /* As FlashInfer's tests: q, v ~ N(0,1), k unit-norm per head; gates in (0,1);
   * alpha near 1 (long memory) stresses the state more than torch.rand. */
  for (size_t i = 0; i < p->nq; i++) p->q[i] = ref_rng_normal(r);
  for (size_t i = 0; i < p->nk; i++) p->k[i] = ref_rng_normal(r);
  ref_l2_normalize(p->k, p->T * sp->hk, D);
  for (size_t i = 0; i < p->nv; i++) p->v[i] = ref_rng_normal(r);
  ref_uniform(r, p->alpha, p->ng, 0.85, 1.0);
  ref_uniform(r, p->beta, p->ng, 0.0, 1.0);
  for (size_t i = 0; i < p->ns; i++) p->state0[i] = 0.2 * ref_rng_normal(r);
  p->d_q = put_half(sp->kind, p->q, p->nq), p->d_k = put_half(sp->kind, p->k, p->nk);
  p->d_v = put_half(sp->kind, p->v, p->nv);
  p->d_alpha = put_f32_rounded(p->alpha, p->ng), p->d_beta = put_f32_rounded(p->beta, p->ng);
  p->d_state0 = put_f32_rounded(p->state0, p->ns);
  p->d_cu = gpu_upload(p->cu, (sp->num_seqs + 1) * 8);
  p->d_out = gpu_alloc(p->no * 2), p->d_state = gpu_alloc(p->ns * 4);
  CK(cudaMemset(p->d_out, 0xff, p->no * 2)); /* NaN: every element must be written */
  CK(cudaMemset(p->d_state, 0xff, p->ns * 4));
  FIC_ASSERT_OK(fic_gdn_prefill_workspace_size(gpu_sm_count(), &p->ws_bytes));
  p->d_ws = gpu_alloc(p->ws_bytes);
}

static void problem_free(gdn_problem *p) {
  void *d[] = {p->d_q, p->d_k, p->d_v, p->d_alpha, p->d_beta, p->d_state0, p->d_cu, p->d_out, p->d_state, p->d_ws};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) CK(cudaFree(d[i]));
  free(p->q), free(p->k), free(p->v), free(p->alpha), free(p->beta), free(p->state0);
}

static fic_status problem_call(fic_runtime *rt, gdn_problem *p, void *stream) {
  /* The wrapper reports a failed launch through cudaGetLastError(), which
   * would also pick up an error left pending by earlier code: make sure none is. */
  CK(cudaGetLastError());
  const gdn_spec *sp = &p->sp;
  fic_dtype dt = gpu_half_dtype(sp->kind);
  int64_t T = (int64_t)p->T, H = (int64_t)p->H, N = (int64_t)sp->num_seqs;
  kt_desc out = gpu_desc(p->d_out, dt, 3, T, H, D, 0), st = gpu_desc(p->d_state, FIC_F32, 4, N, H, D, D),
          q = gpu_desc(p->d_q, dt, 3, T, (int64_t)sp->hq, D, 0), k = gpu_desc(p->d_k, dt, 3, T, (int64_t)sp->hk, D, 0),
          v = gpu_desc(p->d_v, dt, 3, T, (int64_t)sp->hv, D, 0), cu = gpu_desc(p->d_cu, FIC_I64, 1, N + 1, 0, 0, 0),
          st0 = gpu_desc(p->d_state0, FIC_F32, 4, N, H, D, D), a = gpu_desc(p->d_alpha, FIC_F32, 2, T, H, 0, 0),
          b = gpu_desc(p->d_beta, FIC_F32, 2, T, H, 0, 0),
          ws = gpu_desc(p->d_ws, FIC_U8, 1, (int64_t)p->ws_bytes, 0, 0, 0);
  return kt_gdn_prefill(rt, kt_t(&out), kt_t(&st), kt_t(&q), kt_t(&k), kt_t(&v), kt_t(&cu),
                        sp->state ? kt_t(&st0) : NULL, sp->alpha ? kt_t(&a) : NULL, sp->beta ? kt_t(&b) : NULL,
                        sp->scale, kt_t(&ws), stream);
}

static void problem_check(gdn_problem *p, const char *what) {
  const gdn_spec *sp = &p->sp;
  double *want_o = malloc(p->no * 8), *want_s = malloc(p->ns * 8), *got = malloc((p->no > p->ns ? p->no : p->ns) * 8);
  assert_true(want_o && want_s && got);
  ref_gdn ref = {sp->num_seqs,
                 p->cu,
                 sp->hq,
                 sp->hk,
                 sp->hv,
                 D,
                 p->q,
                 p->k,
                 p->v,
                 sp->alpha ? p->alpha : NULL,
                 sp->beta ? p->beta : NULL,
                 sp->state ? p->state0 : NULL,
                 sp->scale};
  assert_int_equal(ref_gdn_prefill(&ref, want_o, want_s), 0);
  char w[192];
  double tol = GPU_GDN_TOL(sp->kind) * sp->tol_factor;
  gpu_get_half(sp->kind, p->d_out, got, p->no);
  snprintf(w, sizeof w, "%s: output", what);
  gpu_expect_close(w, got, want_o, p->no, tol);
  gpu_get_f32(p->d_state, got, p->ns);
  snprintf(w, sizeof w, "%s: final state [N,H,V,K]", what);
  gpu_expect_close(w, got, want_s, p->ns, tol);
  free(want_o), free(want_s), free(got);
}

static const char *describe(const gdn_spec *sp, char *buf, size_t size) {
  snprintf(buf, size, "%s %s %zu/%zu/%zu N=%zu%s%s%s scale=%g", ref_half_name(sp->kind),
           sp->hq >= sp->hv ? "GQA" : "GVA", sp->hq, sp->hk, sp->hv, sp->num_seqs, sp->alpha ? " alpha" : "",
           sp->beta ? " beta" : "", sp->state ? " input_state" : "", sp->scale);
  return buf;
}

static void require_sm90(void) {
  if (gpu_cc_major() != 9) {
    print_message("SKIPPED: gdn_prefill 0.6.3 runs on SM 9.x only (test_non_sm90_error covers this GPU)\n");
    skip();
  }
}

static void test_gdn_against_reference(void **state) {
  gpu_require();
  require_sm90();
  fic_runtime *rt = gpu_group_rt(state, "gdn_prefill_sm90");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("gdn_prefill"));
  const gdn_spec specs[] = {
      {REF_BF16, 4, 2, 2, {37, 64, 130}, 3, 1, 1, 1, 0.0, 1},
      {REF_F16, 4, 2, 2, {37, 64, 130}, 3, 1, 1, 1, 0.0, 1},
      {REF_F16, 6, 2, 2, {61}, 1, 1, 0, 0, 1.0, 1},
      {REF_BF16, 4, 1, 1, {128, 1, 255}, 3, 0, 1, 1, 0.0, 1},
      {REF_F16, 2, 2, 4, {100, 1, 255}, 3, 0, 1, 0, 0.5, 1},
      {REF_BF16, 2, 2, 4, {31, 63, 93, 123, 150}, 5, 1, 1, 1, 0.0, 1},
      {REF_BF16, 16, 16, 32, {64, 128}, 2, 1, 1, 0, 0.0, 1},
      {REF_F16, 1, 1, 1, {511}, 1, 1, 1, 1, 0.0, 1},
      /* No gates at all: FlashInfer's own tests skip it ("amplitude
       * explosion"); kept short, with a looser bound. */
      {REF_F16, 3, 3, 3, {31, 64}, 2, 0, 0, 0, 0.0, 4},
      /* Longer sequences, with and without the optional inputs. */
      {REF_BF16, 2, 2, 4, {190, 300}, 2, 1, 1, 0, 0.0, 1},
      {REF_BF16, 2, 2, 4, {190, 300}, 2, 1, 1, 1, 0.0, 1},
      {REF_F16, 2, 2, 4, {190, 300}, 2, 1, 1, 0, 0.0, 1},
      {REF_BF16, 2, 2, 2, {190, 300}, 2, 1, 1, 0, 0.0, 1},
      {REF_BF16, 2, 2, 4, {128, 256}, 2, 1, 1, 0, 0.0, 1},
      {REF_BF16, 2, 2, 4, {300}, 1, 1, 1, 0, 0.0, 1},
  };
  int failures = 0;
  /* FIC_TEST_GDN_CASES=n runs only the first n cases (for bisecting). */
  const char *limit_env = getenv("FIC_TEST_GDN_CASES");
  size_t limit = limit_env && *limit_env ? (size_t)strtoul(limit_env, NULL, 10) : (size_t)-1;
  for (size_t i = 0; i < sizeof specs / sizeof specs[0] && i < limit; i++) {
    gdn_problem p;
    char what[160];
    problem_make(&p, &specs[i], &r);
    fic_status s = problem_call(rt, &p, NULL);
    if (s != FIC_OK) {
      /* Keep going so that one run shows every failing configuration. */
      print_error("%s: %s: %s\n", describe(&specs[i], what, sizeof what), fic_status_string(s),
                  fic_last_error_message());
      failures++;
      problem_free(&p);
      continue;
    }
    CK(cudaDeviceSynchronize());
    problem_check(&p, describe(&specs[i], what, sizeof what));
    problem_free(&p);
  }
  assert_int_equal(failures, 0);
}

/* Prefill in two chunks, chaining output_state -> input_state, equals one
 * prefill over the whole sequences (and the reference). */
static void test_gdn_chunked_prefill(void **state) {
  gpu_require();
  require_sm90();
  fic_runtime *rt = gpu_group_rt(state, "gdn_prefill_sm90");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("gdn_prefill chunked"));
  const gdn_spec whole = {REF_BF16, 2, 2, 4, {190, 300}, 2, 1, 1, 0, 0.0, 1};
  gdn_problem w, c1, c2;
  problem_make(&w, &whole, &r);
  FIC_ASSERT_OK(problem_call(rt, &w, NULL));
  /* Chunk 1: the first 61 / 128 tokens; chunk 2: the rest, from chunk 1's state. */
  const int64_t split[2] = {61, 128};
  gdn_spec s1 = whole, s2 = whole;
  s1.lens[0] = split[0], s1.lens[1] = split[1];
  s2.lens[0] = whole.lens[0] - split[0], s2.lens[1] = whole.lens[1] - split[1];
  s2.state = 1;
  problem_make(&c1, &s1, &r);
  problem_make(&c2, &s2, &r);
  /* Copy the whole problem's tokens into the chunks (host and device). */
  size_t at1 = 0, at2 = 0;
  const size_t H = w.H;
  for (size_t n = 0; n < 2; n++)
    for (int64_t t = w.cu[n]; t < w.cu[n + 1]; t++) {
      int first = t - w.cu[n] < split[n];
      gdn_problem *c = first ? &c1 : &c2;
      size_t at = first ? at1++ : at2++;
      memcpy(c->q + at * 2 * D, w.q + (size_t)t * 2 * D, 2 * D * 8);
      memcpy(c->k + at * 2 * D, w.k + (size_t)t * 2 * D, 2 * D * 8);
      memcpy(c->v + at * 4 * D, w.v + (size_t)t * 4 * D, 4 * D * 8);
      memcpy(c->alpha + at * H, w.alpha + (size_t)t * H, H * 8);
      memcpy(c->beta + at * H, w.beta + (size_t)t * H, H * 8);
      CK(cudaMemcpy((char *)c->d_q + at * 2 * D * 2, (char *)w.d_q + (size_t)t * 2 * D * 2, 2 * D * 2,
                    cudaMemcpyDeviceToDevice));
      CK(cudaMemcpy((char *)c->d_k + at * 2 * D * 2, (char *)w.d_k + (size_t)t * 2 * D * 2, 2 * D * 2,
                    cudaMemcpyDeviceToDevice));
      CK(cudaMemcpy((char *)c->d_v + at * 4 * D * 2, (char *)w.d_v + (size_t)t * 4 * D * 2, 4 * D * 2,
                    cudaMemcpyDeviceToDevice));
      CK(cudaMemcpy((char *)c->d_alpha + at * H * 4, (char *)w.d_alpha + (size_t)t * H * 4, H * 4,
                    cudaMemcpyDeviceToDevice));
      CK(cudaMemcpy((char *)c->d_beta + at * H * 4, (char *)w.d_beta + (size_t)t * H * 4, H * 4,
                    cudaMemcpyDeviceToDevice));
    }
  FIC_ASSERT_OK(problem_call(rt, &c1, NULL));
  CK(cudaMemcpy(c2.d_state0, c1.d_state, c1.ns * 4, cudaMemcpyDeviceToDevice));
  FIC_ASSERT_OK(problem_call(rt, &c2, NULL));
  CK(cudaDeviceSynchronize());

  double *ws = malloc(w.ns * 8), *cs = malloc(w.ns * 8);
  assert_true(ws && cs);
  gpu_get_f32(w.d_state, ws, w.ns);
  gpu_get_f32(c2.d_state, cs, w.ns);
  gpu_expect_close("chunked vs whole prefill: final state", cs, ws, w.ns, GPU_GDN_TOL(whole.kind));
  problem_check(&w, "whole prefill");
  free(ws), free(cs);
  problem_free(&w), problem_free(&c1), problem_free(&c2);
}

/* The workspace must hold one TMA descriptor per SM of the device. */
static void test_gdn_workspace_too_small(void **state) {
  gpu_require();
  require_sm90();
  fic_runtime *rt = gpu_group_rt(state, "gdn_prefill_sm90");
  ref_rng r;
  ref_rng_seed(&r, 7);
  const gdn_spec sp = {REF_F16, 1, 1, 1, {64}, 1, 1, 1, 0, 0.0, 1};
  gdn_problem p;
  problem_make(&p, &sp, &r);
  p.ws_bytes -= 128;
  KT_EXPECT_ARG(problem_call(rt, &p, NULL), "workspace", "fic_gdn_prefill_workspace_size");
  p.ws_bytes += 128;
  FIC_ASSERT_OK(problem_call(rt, &p, NULL));
  CK(cudaDeviceSynchronize());
  problem_free(&p);
}

/* Elsewhere the wrapper refuses, and the refusal comes back decoded. */
static void test_non_sm90_error(void **state) {
  gpu_require();
  if (gpu_cc_major() == 9) {
    print_message("SKIPPED: this GPU is SM 9.x\n");
    skip();
  }
  fic_runtime *rt = gpu_group_rt(state, "gdn_prefill_sm90");
  ref_rng r;
  ref_rng_seed(&r, 8);
  const gdn_spec sp = {REF_F16, 1, 1, 1, {64}, 1, 1, 1, 0, 0.0, 1};
  gdn_problem p;
  problem_make(&p, &sp, &r);
  fic_status s = problem_call(rt, &p, NULL);
  print_message("non-SM90: %s: %s\n", fic_status_string(s), fic_last_error_message());
  assert_int_equal(s, FIC_ERR_KERNEL);
  assert_non_null(strstr(fic_last_error_message(), "does not support this device"));
  problem_free(&p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_gdn_against_reference),
      cmocka_unit_test(test_gdn_chunked_prefill),
      cmocka_unit_test(test_gdn_workspace_too_small),
      cmocka_unit_test(test_non_sm90_error),
  };
  /* FIC_TEST_FILTER=pattern runs only matching tests (for debugging one case). */
  const char *filter = getenv("FIC_TEST_FILTER");
  if (filter && *filter) cmocka_set_test_filter(filter);
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
