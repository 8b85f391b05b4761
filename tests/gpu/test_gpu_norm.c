/* SPDX-License-Identifier: Apache-2.0 */
/* Every norm kernel through the typed API on a real GPU, against float64
 * references, on fresh random inputs (seed printed), f16 and bf16, over
 * shapes that exercise each vector width (hidden % 8 == 0, % 4, odd),
 * hidden sizes above 8192 (several rounds per thread), padded rows, the
 * per-head 3-D form with strided heads, PDL, and fp8 clamping. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

typedef enum norm_op { OP_RMS, OP_GEMMA, OP_FUSED, OP_GEMMA_FUSED, OP_QUANT, OP_FUSED_QUANT } norm_op;

static const char *const op_names[] = {"rmsnorm",           "gemma_rmsnorm",
                                       "fused_add_rmsnorm", "gemma_fused_add_rmsnorm",
                                       "rmsnorm_quant",     "fused_add_rmsnorm_quant"};

typedef struct norm_case {
  norm_op op;
  ref_half kind;
  int64_t rows, hidden, row_stride; /* row_stride 0: contiguous input */
  int pdl;
  double scale; /* quant only */
  int e5m2;     /* quant only */
} norm_case;

/* Each fp8 value must be within one rounding step of the exact result. */
static void expect_fp8(const char *what, const uint8_t *bits, const double *want, size_t n, int e5m2) {
  size_t bad = 0, first = 0;
  double *got = malloc(n * sizeof *got);
  assert_non_null(got);
  for (size_t i = 0; i < n; i++) {
    got[i] = e5m2 ? ref_fp8_e5m2_to_double(bits[i]) : ref_fp8_e4m3fn_to_double(bits[i]);
    if (!(fabs(got[i] - want[i]) <= ref_fp8_ulp(want[i], e5m2) * 1.0001)) {
      if (!bad) first = i;
      bad++;
    }
  }
  ref_err e = ref_compare(got, want, n);
  print_message("  %-48s max_abs %.3e rel_l2 %.3e, %zu beyond one fp8 step\n", what, e.max_abs, e.rel_l2, bad);
  if (bad)
    fail_msg("%s: %zu values off by more than one fp8 step; first at %zu: got %g want %g", what, bad, first, got[first],
             want[first]);
  free(got);
}

static void run_case(fic_runtime *rt, ref_rng *r, const norm_case *c) {
  const size_t rows = (size_t)c->rows, hidden = (size_t)c->hidden;
  const size_t stride = c->row_stride ? (size_t)c->row_stride : hidden, n = rows * hidden, nin = rows * stride;
  const int fused = c->op == OP_FUSED || c->op == OP_GEMMA_FUSED || c->op == OP_FUSED_QUANT;
  const int quant = c->op == OP_QUANT || c->op == OP_FUSED_QUANT;
  const double bias = (c->op == OP_GEMMA || c->op == OP_GEMMA_FUSED) ? 1.0 : 0.0, eps = 1e-6;
  fic_dtype dt = gpu_half_dtype(c->kind);
  char what[128];
  snprintf(what, sizeof what, "%s %s %zux%zu%s%s", op_names[c->op], ref_half_name(c->kind), rows, hidden,
           c->row_stride ? " padded" : "", c->pdl ? " pdl" : "");

  uint16_t *h_in = malloc(nin * 2), *h_w = malloc(hidden * 2), *h_res = malloc(n * 2);
  double *x = malloc(nin * 8), *w = malloc(hidden * 8), *res = malloc(n * 8), *dense = malloc(n * 8),
         *want = malloc(n * 8), *want_res = malloc(n * 8), *got = malloc(n * 8);
  assert_true(h_in && h_w && h_res && x && w && res && dense && want && want_res && got);
  ref_half_random(r, c->kind, h_in, x, nin, 0.0, 1.0);
  ref_half_random(r, c->kind, h_w, w, hidden, bias ? 0.0 : 1.0, 0.5);
  ref_half_random(r, c->kind, h_res, res, n, 0.0, 1.0);
  for (size_t i = 0; i < rows; i++) memcpy(dense + i * hidden, x + i * stride, hidden * 8);

  void *d_in = gpu_upload(h_in, nin * 2), *d_w = gpu_upload(h_w, hidden * 2), *d_res = gpu_upload(h_res, n * 2);
  void *d_out = gpu_alloc(quant ? n : n * 2);
  CK(cudaMemset(d_out, 0xff, quant ? n : n * 2)); /* NaN-ish garbage: every element must be written */
  kt_desc in = gpu_desc(d_in, dt, 2, c->rows, c->hidden, 0, 0), wt = gpu_desc(d_w, dt, 1, c->hidden, 0, 0, 0),
          rs = gpu_desc(d_res, dt, 2, c->rows, c->hidden, 0, 0),
          out = gpu_desc(d_out, quant ? (fic_dtype){c->e5m2 ? 12 : 10, 8, 1} : dt, 2, c->rows, c->hidden, 0, 0);
  if (c->row_stride) kt_strides(&in, c->row_stride, 1, 0, 0);

  fic_status s = FIC_OK;
  switch (c->op) {
    case OP_RMS:
      s = fic_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&wt), eps, c->pdl, NULL);
      break;
    case OP_GEMMA:
      s = fic_gemma_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&wt), eps, c->pdl, NULL);
      break;
    case OP_FUSED:
      s = fic_fused_add_rmsnorm(rt, kt_t(&in), kt_t(&rs), kt_t(&wt), eps, c->pdl, NULL);
      break;
    case OP_GEMMA_FUSED:
      s = fic_gemma_fused_add_rmsnorm(rt, kt_t(&in), kt_t(&rs), kt_t(&wt), eps, c->pdl, NULL);
      break;
    case OP_QUANT:
      s = fic_rmsnorm_quant(rt, kt_t(&out), kt_t(&in), kt_t(&wt), c->scale, eps, c->pdl, NULL);
      break;
    case OP_FUSED_QUANT:
      s = fic_fused_add_rmsnorm_quant(rt, kt_t(&out), kt_t(&in), kt_t(&rs), kt_t(&wt), c->scale, eps, c->pdl, NULL);
      break;
  }
  if (s != FIC_OK) fail_msg("%s: %s: %s", what, fic_status_string(s), fic_last_error_message());
  CK(cudaDeviceSynchronize());

  if (fused)
    ref_fused_add_rmsnorm(dense, res, w, want, want_res, rows, hidden, eps, bias);
  else
    ref_rmsnorm(dense, w, want, rows, hidden, eps, bias);
  if (quant) {
    ref_quant_clamp(want, want, n, c->scale);
    uint8_t *bits = malloc(n);
    assert_non_null(bits);
    gpu_download(bits, d_out, n);
    expect_fp8(what, bits, want, n, c->e5m2);
    free(bits);
  } else if (fused) {
    /* In place: the normalised rows land in `input` (padding untouched). */
    double *all = malloc(nin * 8);
    assert_non_null(all);
    gpu_get_half(c->kind, d_in, all, nin);
    for (size_t i = 0; i < rows; i++) {
      memcpy(got + i * hidden, all + i * stride, hidden * 8);
      for (size_t j = hidden; j < stride; j++)
        if (all[i * stride + j] != x[i * stride + j]) fail_msg("%s: padding of row %zu was written", what, i);
    }
    free(all);
    gpu_expect_close(what, got, want, n, GPU_NORM_TOL(c->kind));
  } else {
    gpu_get_half(c->kind, d_out, got, n);
    gpu_expect_close(what, got, want, n, GPU_NORM_TOL(c->kind));
  }
  if (fused) {
    char w2[160];
    snprintf(w2, sizeof w2, "%s: residual", what);
    gpu_get_half(c->kind, d_res, got, n);
    gpu_expect_close(w2, got, want_res, n, GPU_NORM_TOL(c->kind));
  }
  CK(cudaFree(d_in)), CK(cudaFree(d_w)), CK(cudaFree(d_res)), CK(cudaFree(d_out));
  free(h_in), free(h_w), free(h_res), free(x), free(w), free(res), free(dense), free(want), free(want_res), free(got);
}

/* hidden: 8-aligned, 4-aligned (VEC 4), odd (VEC 1), > 8192 (several rounds). */
static const int64_t k_shapes[][2] = {{1, 4096}, {3, 1536},  {33, 3072}, {7, 4000}, {5, 1001},
                                      {4, 12},   {2, 16384}, {129, 128}, {1, 7}};

static void run_op(void **state, norm_op op) {
  fic_runtime *rt = gpu_group_rt(state, "norm");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed(op_names[op]));
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++) {
      norm_case c = {op, k ? REF_BF16 : REF_F16, k_shapes[i][0], k_shapes[i][1], 0, 0, 0.5, 0};
      run_case(rt, &r, &c);
    }
  /* Padded rows (a slice of a wider buffer) and PDL. */
  norm_case padded = {op, REF_BF16, 9, 2048, 2048 + 64, 0, 0.5, 0};
  if (op != OP_FUSED_QUANT && op != OP_FUSED && op != OP_GEMMA_FUSED) run_case(rt, &r, &padded);
  if (op == OP_FUSED || op == OP_GEMMA_FUSED) run_case(rt, &r, &padded); /* in place, padding must survive */
  norm_case pdl = {op, REF_F16, 17, 4096, 0, 1, 0.5, 0};
  run_case(rt, &r, &pdl);
}

static void test_rmsnorm(void **state) { run_op(state, OP_RMS); }
static void test_gemma_rmsnorm(void **state) { run_op(state, OP_GEMMA); }
static void test_fused_add_rmsnorm(void **state) { run_op(state, OP_FUSED); }
static void test_gemma_fused_add_rmsnorm(void **state) { run_op(state, OP_GEMMA_FUSED); }

static void test_quant(void **state) {
  run_op(state, OP_QUANT);
  run_op(state, OP_FUSED_QUANT);
  fic_runtime *rt = gpu_group_rt(state, "norm");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("quant extremes"));
  /* A small scale pushes many values past +-448: they must clamp, not overflow. */
  norm_case clamp = {OP_QUANT, REF_F16, 8, 2048, 0, 0, 0.004, 0};
  run_case(rt, &r, &clamp);
  clamp.op = OP_FUSED_QUANT;
  run_case(rt, &r, &clamp);
  norm_case e5m2 = {OP_QUANT, REF_BF16, 8, 2048, 0, 0, 0.25, 1};
  run_case(rt, &r, &e5m2);
  e5m2.op = OP_FUSED_QUANT;
  run_case(rt, &r, &e5m2);
}

/* The per-head form [batch, heads, head_dim]: contiguous, and q sliced out
 * of a fused qkv buffer [batch, 3 * heads, head_dim] (strided heads). */
static void test_rmsnorm_per_head(void **state) {
  fic_runtime *rt = gpu_group_rt(state, "norm");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("rmsnorm per head"));
  static const int64_t shapes[][3] = {{7, 5, 128}, {33, 16, 64}, {2, 3, 100}, {1, 40, 256}};
  for (int k = 0; k < 2; k++)
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
      for (int strided = 0; strided < 2; strided++) {
        ref_half kind = k ? REF_BF16 : REF_F16;
        size_t B = (size_t)shapes[i][0], H = (size_t)shapes[i][1], D = (size_t)shapes[i][2];
        size_t Hbuf = strided ? 3 * H : H, nbuf = B * Hbuf * D, n = B * H * D;
        uint16_t *hbuf = malloc(nbuf * 2), *hw = malloc(D * 2);
        double *buf = malloc(nbuf * 8), *w = malloc(D * 8), *x = malloc(n * 8), *want = malloc(n * 8),
               *got = malloc(n * 8);
        assert_true(hbuf && hw && buf && w && x && want && got);
        ref_half_random(&r, kind, hbuf, buf, nbuf, 0.0, 1.0);
        ref_half_random(&r, kind, hw, w, D, 1.0, 0.3);
        for (size_t b = 0; b < B; b++) memcpy(x + b * H * D, buf + b * Hbuf * D, H * D * 8);
        void *d_buf = gpu_upload(hbuf, nbuf * 2), *d_w = gpu_upload(hw, D * 2), *d_out = gpu_alloc(n * 2);
        kt_desc in = gpu_desc(d_buf, gpu_half_dtype(kind), 3, (int64_t)B, (int64_t)H, (int64_t)D, 0),
                out = gpu_desc(d_out, gpu_half_dtype(kind), 3, (int64_t)B, (int64_t)H, (int64_t)D, 0),
                wt = gpu_desc(d_w, gpu_half_dtype(kind), 1, (int64_t)D, 0, 0, 0);
        if (strided) kt_strides(&in, (int64_t)(Hbuf * D), (int64_t)D, 1, 0);
        FIC_ASSERT_OK(fic_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&wt), 1e-5, 0, NULL));
        CK(cudaDeviceSynchronize());
        gpu_get_half(kind, d_out, got, n);
        ref_rmsnorm(x, w, want, B * H, D, 1e-5, 0.0);
        char what[96];
        snprintf(what, sizeof what, "rmsnorm %s [%zu,%zu,%zu]%s", ref_half_name(kind), B, H, D,
                 strided ? " strided heads" : "");
        gpu_expect_close(what, got, want, n, GPU_NORM_TOL(kind));
        CK(cudaFree(d_buf)), CK(cudaFree(d_w)), CK(cudaFree(d_out));
        free(hbuf), free(hw), free(buf), free(w), free(x), free(want), free(got);
      }
}

static void test_layernorm(void **state) {
  fic_runtime *rt = gpu_group_rt(state, "norm");
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("layernorm"));
  static const int64_t shapes[][2] = {{6, 768}, {3, 1001}, {33, 4096}, {1, 8192}, {4, 2}};
  for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
    size_t rows = (size_t)shapes[i][0], hidden = (size_t)shapes[i][1], n = rows * hidden;
    uint16_t *h_in = malloc(n * 2);
    double *x = malloc(n * 8), *g = malloc(hidden * 8), *b = malloc(hidden * 8), *want = malloc(n * 8),
           *got = malloc(n * 8);
    assert_true(h_in && x && g && b && want && got);
    ref_half_random(&r, REF_BF16, h_in, x, n, 0.5, 2.0); /* non-zero mean */
    ref_uniform(&r, g, hidden, 0.5, 1.5);
    ref_uniform(&r, b, hidden, -0.5, 0.5);
    for (size_t j = 0; j < hidden; j++) g[j] = (float)g[j], b[j] = (float)b[j];
    void *d_in = gpu_upload(h_in, n * 2), *d_out = gpu_alloc(n * 2), *d_g = gpu_put_f32(g, hidden),
         *d_b = gpu_put_f32(b, hidden);
    kt_desc in = gpu_desc(d_in, FIC_BF16, 2, (int64_t)rows, (int64_t)hidden, 0, 0),
            out = gpu_desc(d_out, FIC_BF16, 2, (int64_t)rows, (int64_t)hidden, 0, 0),
            gd = gpu_desc(d_g, FIC_F32, 1, (int64_t)hidden, 0, 0, 0),
            bd = gpu_desc(d_b, FIC_F32, 1, (int64_t)hidden, 0, 0, 0);
    FIC_ASSERT_OK(fic_layernorm(rt, kt_t(&out), kt_t(&in), kt_t(&gd), kt_t(&bd), 1e-5, NULL));
    CK(cudaDeviceSynchronize());
    gpu_get_half(REF_BF16, d_out, got, n);
    ref_layernorm(x, g, b, want, rows, hidden, 1e-5);
    char what[64];
    snprintf(what, sizeof what, "layernorm bf16 %zux%zu", rows, hidden);
    gpu_expect_close(what, got, want, n, GPU_NORM_TOL(REF_BF16));
    CK(cudaFree(d_in)), CK(cudaFree(d_out)), CK(cudaFree(d_g)), CK(cudaFree(d_b));
    free(h_in), free(x), free(g), free(b), free(want), free(got);
  }
}

/* The wrapper's own errors still arrive decoded on a GPU machine, and a
 * refused call leaves the context usable. */
static void test_errors_leave_context_usable(void **state) {
  fic_runtime *rt = gpu_group_rt(state, "norm");
  void *d = gpu_alloc(4096 * 2);
  kt_desc out = gpu_desc(d, FIC_F16, 2, 1, 1024, 0, 0), in = gpu_desc(d, FIC_F16, 2, 1, 1024, 0, 0),
          w = gpu_desc(d, FIC_F16, 1, 512, 0, 0, 0);
  KT_EXPECT_ARG(fic_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, NULL), "weight", "must be 1024");
  w.shape[0] = 1024;
  FIC_ASSERT_OK(fic_rmsnorm(rt, kt_t(&out), kt_t(&in), kt_t(&w), 1e-6, 0, NULL)); /* in place */
  CK(cudaDeviceSynchronize());
  CK(cudaFree(d));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rmsnorm),
      cmocka_unit_test(test_gemma_rmsnorm),
      cmocka_unit_test(test_fused_add_rmsnorm),
      cmocka_unit_test(test_gemma_fused_add_rmsnorm),
      cmocka_unit_test(test_quant),
      cmocka_unit_test(test_rmsnorm_per_head),
      cmocka_unit_test(test_layernorm),
      cmocka_unit_test(test_errors_leave_context_usable),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
