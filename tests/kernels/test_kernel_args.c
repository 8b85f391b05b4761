/* SPDX-License-Identifier: Apache-2.0 */
/* Argument validation of every typed kernel function, through the public
 * API, with no GPU: each bad argument must come back as
 * FIC_ERR_INVALID_ARGUMENT naming it, before any module is touched. The
 * runtime holds only the test module, so arguments that pass validation
 * reach the module look-up and fail with FIC_ERR_NOT_FOUND: that proves the
 * checks accept them (and that nothing reaches a GPU with fake pointers). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kt_util.h"

/* Fake, well-aligned device addresses (never dereferenced). */
#define A_IN 0x7f0000100000u
#define A_OUT 0x7f0000200000u
#define A_W 0x7f0000300000u
#define A_RES 0x7f0000400000u
#define A_X 0x7f0000500000u

static const fic_dtype F8E4M3 = {FIC_DTYPE_FLOAT8_E4M3FN, 8, 1};

static int setup(void **state) {
  static const char *const modules[] = {"fic_test", NULL};
  *state = kt_open(fic_test_env("FIC_TEST_JIT_WHEEL"), modules);
  return 0;
}

static fic_runtime *RT(void **state) { return ((kt_runtime *)*state)->rt; }

/* ------------------------------------------------------------ rmsnorm family */

typedef struct norm_fx {
  kt_desc out, in, w, res;
} norm_fx;

static norm_fx norm_fx_make(fic_dtype dt, int64_t batch, int64_t hidden) {
  norm_fx f = {kt_cuda(A_OUT, dt, 2, batch, hidden, 0, 0), kt_cuda(A_IN, dt, 2, batch, hidden, 0, 0),
               kt_cuda(A_W, dt, 1, hidden, 0, 0, 0), kt_cuda(A_RES, dt, 2, batch, hidden, 0, 0)};
  return f;
}

static fic_status rms(fic_runtime *rt, norm_fx *f) {
  return fic_rmsnorm(rt, kt_t(&f->out), kt_t(&f->in), kt_t(&f->w), 1e-6, 0, NULL);
}
static fic_status gemma(fic_runtime *rt, norm_fx *f) {
  return fic_gemma_rmsnorm(rt, kt_t(&f->out), kt_t(&f->in), kt_t(&f->w), 1e-6, 1, NULL);
}

static void test_rmsnorm_descriptor_checks(void **state) {
  fic_runtime *rt = RT(state);
  norm_fx f = norm_fx_make(FIC_F16, 3, 256);
  KT_EXPECT_STATUS(rms(rt, &f), FIC_ERR_NOT_FOUND); /* valid: reaches the (absent) module */

  KT_EXPECT_ARG(fic_rmsnorm(NULL, kt_t(&f.out), kt_t(&f.in), kt_t(&f.w), 1e-6, 0, NULL), "rt", NULL);
  KT_EXPECT_ARG(fic_rmsnorm(rt, kt_t(&f.out), NULL, kt_t(&f.w), 1e-6, 0, NULL), "input", "must not be NULL");
  KT_EXPECT_ARG(fic_rmsnorm(rt, NULL, kt_t(&f.in), kt_t(&f.w), 1e-6, 0, NULL), "out", "must not be NULL");
  KT_EXPECT_ARG(fic_rmsnorm(rt, kt_t(&f.out), kt_t(&f.in), NULL, 1e-6, 0, NULL), "weight", "must not be NULL");
  KT_EXPECT_ARG(fic_rmsnorm(rt, kt_t(&f.out), kt_t(&f.in), kt_t(&f.w), NAN, 0, NULL), "eps", "finite");
  KT_EXPECT_ARG(fic_rmsnorm(rt, kt_t(&f.out), kt_t(&f.in), kt_t(&f.w), -1e-6, 0, NULL), "eps", ">= 0");
  KT_EXPECT_ARG(fic_rmsnorm(rt, kt_t(&f.out), kt_t(&f.in), kt_t(&f.w), INFINITY, 0, NULL), "eps", "finite");

  norm_fx g = f;
  g.in.t.ndim = 1;
  KT_EXPECT_ARG(rms(rt, &g), "input", "2-D to 3-D, got 1-D");
  g = f, g.in.t.ndim = 4;
  KT_EXPECT_ARG(rms(rt, &g), "input", "got 4-D");
  g = f, g.in.t.device.device_type = FIC_DEVICE_CPU;
  KT_EXPECT_ARG(rms(rt, &g), "input", "must be a CUDA tensor");
  g = f, g.in.t.device.device_id = -1;
  KT_EXPECT_ARG(rms(rt, &g), "input", "device_id");
  g = f, g.in.t.byte_offset = 16;
  KT_EXPECT_ARG(rms(rt, &g), "input", "byte_offset must be 0");
  g = f, g.in.t.dtype = FIC_F32;
  KT_EXPECT_ARG(rms(rt, &g), "input", "must be float16 or bfloat16, got float32");
  g = f, g.in.t.dtype.lanes = 2;
  KT_EXPECT_ARG(rms(rt, &g), "input", "lanes");
  g = f, g.in.shape[0] = -1;
  KT_EXPECT_ARG(rms(rt, &g), "input", "shape[0] must be >= 0");
  g = f, g.in.t.data = NULL;
  KT_EXPECT_ARG(rms(rt, &g), "input", "data must not be NULL");
  g = f;
  kt_t(&g.in);
  g.in.t.shape = NULL;
  KT_EXPECT_ARG(fic_rmsnorm(rt, kt_t(&g.out), &g.in.t, kt_t(&g.w), 1e-6, 0, NULL), "input", "shape must not be NULL");
  g = f, kt_strides(&g.in, 256, -1, 0, 0);
  KT_EXPECT_ARG(rms(rt, &g), "input", "strides[1] must be >= 0");
  g = f, g.in.shape[1] = 0, g.out.shape[1] = 0, g.w.shape[0] = 0;
  KT_EXPECT_ARG(rms(rt, &g), "input", "hidden size");
}

static void test_rmsnorm_shape_dtype_device(void **state) {
  fic_runtime *rt = RT(state);
  norm_fx f = norm_fx_make(FIC_BF16, 3, 256), g;
  g = f, g.out.t.dtype = FIC_F16;
  KT_EXPECT_ARG(rms(rt, &g), "out", "dtype of input (bfloat16), got float16");
  g = f, g.out.shape[0] = 4;
  KT_EXPECT_ARG(rms(rt, &g), "out", "shape of input [3, 256], got [4, 256]");
  g = f, g.out.t.ndim = 3, g.out.shape[2] = 1;
  KT_EXPECT_ARG(rms(rt, &g), "out", "2-D");
  g = f, g.out.t.device.device_id = 1;
  KT_EXPECT_ARG(rms(rt, &g), "out", "device of input (cuda:0), got cuda:1");
  g = f, g.w.shape[0] = 128;
  KT_EXPECT_ARG(rms(rt, &g), "weight", "must be 256");
  g = f, g.w.t.ndim = 2, g.w.shape[1] = 1;
  KT_EXPECT_ARG(rms(rt, &g), "weight", "1-D");
  g = f, g.w.t.dtype = FIC_F16;
  KT_EXPECT_ARG(rms(rt, &g), "weight", "dtype of input");
  g = f, g.w.t.device.device_id = 2;
  KT_EXPECT_ARG(rms(rt, &g), "weight", "device of input");
  g = f, kt_strides(&g.w, 2, 0, 0, 0);
  KT_EXPECT_ARG(rms(rt, &g), "weight", "contiguous in its last dimension");
}

static void test_rmsnorm_layout(void **state) {
  fic_runtime *rt = RT(state);
  norm_fx f = norm_fx_make(FIC_F16, 3, 256), g;
  /* Row strides: any multiple of VEC = gcd(8, hidden) is fine. */
  g = f, kt_strides(&g.in, 512, 1, 0, 0);
  KT_EXPECT_STATUS(rms(rt, &g), FIC_ERR_NOT_FOUND);
  g = f, kt_strides(&g.in, 256, 2, 0, 0);
  KT_EXPECT_ARG(rms(rt, &g), "input", "contiguous in its last dimension");
  g = f, kt_strides(&g.out, 260, 1, 0, 0);
  KT_EXPECT_ARG(rms(rt, &g), "out", "multiple of 8");
  g = f, g.in.t.data = (void *)(A_IN + 2);
  KT_EXPECT_ARG(rms(rt, &g), "input", "16-byte aligned");
  g = f, g.w.t.data = (void *)(A_W + 8);
  KT_EXPECT_ARG(rms(rt, &g), "weight", "16-byte aligned");
  /* hidden 1001: VEC 1, so 2-byte alignment and any row stride will do. */
  g = norm_fx_make(FIC_F16, 3, 1001);
  g.in.t.data = (void *)(A_IN + 2);
  kt_strides(&g.out, 1003, 1, 0, 0);
  KT_EXPECT_STATUS(rms(rt, &g), FIC_ERR_NOT_FOUND);
  /* hidden 12: VEC 4, 8-byte alignment. */
  g = norm_fx_make(FIC_F16, 3, 12);
  g.in.t.data = (void *)(A_IN + 8);
  KT_EXPECT_STATUS(rms(rt, &g), FIC_ERR_NOT_FOUND);
  g.in.t.data = (void *)(A_IN + 4);
  KT_EXPECT_ARG(rms(rt, &g), "input", "8-byte aligned");
  /* Offsets past 2^32 elements would wrap in the kernel's 32-bit indexing. */
  g = norm_fx_make(FIC_F16, (int64_t)1 << 30, 8);
  KT_EXPECT_ARG(rms(rt, &g), "input", "too large");
  g = norm_fx_make(FIC_F16, 3, 8);
  kt_strides(&g.out, (int64_t)1 << 31, 1, 0, 0);
  KT_EXPECT_ARG(rms(rt, &g), "out", "too large");
}

static void test_rmsnorm_3d_and_empty(void **state) {
  fic_runtime *rt = RT(state);
  norm_fx f = norm_fx_make(FIC_F16, 4, 8);
  f.in = kt_cuda(A_IN, FIC_F16, 3, 4, 8, 128, 0);
  f.out = kt_cuda(A_OUT, FIC_F16, 3, 4, 8, 128, 0);
  f.w = kt_cuda(A_W, FIC_F16, 1, 128, 0, 0, 0);
  KT_EXPECT_STATUS(rms(rt, &f), FIC_ERR_NOT_FOUND); /* per-head form */
  norm_fx g = f;
  kt_strides(&g.in, 8 * 256, 256, 1, 0); /* strided heads (e.g. a slice of qkv) */
  KT_EXPECT_STATUS(rms(rt, &g), FIC_ERR_NOT_FOUND);
  g = f, kt_strides(&g.in, 8 * 128, 130, 1, 0);
  KT_EXPECT_ARG(rms(rt, &g), "input", "multiple of 8");
  g = f, g.w.shape[0] = 64;
  KT_EXPECT_ARG(rms(rt, &g), "weight", "must be 128");
  g = f, g.out.t.ndim = 2;
  KT_EXPECT_ARG(rms(rt, &g), "out", "3-D");
  KT_EXPECT_ARG(gemma(rt, &f), "input", "must be 2-D, got 3-D"); /* gemma: 2-D only */
  /* An empty batch is a no-op that never needs the module. */
  g = norm_fx_make(FIC_F16, 0, 256);
  KT_EXPECT_STATUS(rms(rt, &g), FIC_OK);
  KT_EXPECT_STATUS(gemma(rt, &g), FIC_OK);
  g.in.t.data = g.out.t.data = NULL;
  KT_EXPECT_STATUS(rms(rt, &g), FIC_OK);
}

static void test_fused_add(void **state) {
  fic_runtime *rt = RT(state);
  norm_fx f = norm_fx_make(FIC_BF16, 5, 2048), g;
#define FA(x) fic_fused_add_rmsnorm(rt, kt_t(&(x).in), kt_t(&(x).res), kt_t(&(x).w), 1e-5, 0, NULL)
#define GFA(x) fic_gemma_fused_add_rmsnorm(rt, kt_t(&(x).in), kt_t(&(x).res), kt_t(&(x).w), 1e-5, 0, NULL)
  KT_EXPECT_STATUS(FA(f), FIC_ERR_NOT_FOUND);
  KT_EXPECT_STATUS(GFA(f), FIC_ERR_NOT_FOUND);
  KT_EXPECT_ARG(fic_fused_add_rmsnorm(NULL, kt_t(&f.in), kt_t(&f.res), kt_t(&f.w), 1e-5, 0, NULL), "rt", NULL);
  KT_EXPECT_ARG(fic_fused_add_rmsnorm(rt, kt_t(&f.in), NULL, kt_t(&f.w), 1e-5, 0, NULL), "residual", "NULL");
  KT_EXPECT_ARG(fic_gemma_fused_add_rmsnorm(rt, kt_t(&f.in), kt_t(&f.res), kt_t(&f.w), NAN, 0, NULL), "eps", NULL);
  g = f, g.res.shape[1] = 1024;
  KT_EXPECT_ARG(FA(g), "residual", "shape of input");
  g = f, g.res.t.dtype = FIC_F16;
  KT_EXPECT_ARG(GFA(g), "residual", "dtype of input");
  g = f, g.res.t.device.device_id = 1;
  KT_EXPECT_ARG(FA(g), "residual", "device of input");
  g = f, g.in.t.ndim = 3, g.in.shape[2] = 4;
  KT_EXPECT_ARG(FA(g), "input", "must be 2-D, got 3-D");
  g = f, g.w.shape[0] = 2047;
  KT_EXPECT_ARG(GFA(g), "weight", "must be 2048");
  g = f, g.res.t.data = (void *)(A_RES + 4);
  KT_EXPECT_ARG(FA(g), "residual", "aligned");
  g = f, kt_strides(&g.res, 4096, 1, 0, 0);
  KT_EXPECT_STATUS(FA(g), FIC_ERR_NOT_FOUND);
  g = norm_fx_make(FIC_BF16, 0, 2048);
  KT_EXPECT_STATUS(GFA(g), FIC_OK);
#undef FA
#undef GFA
}

static void test_quant(void **state) {
  fic_runtime *rt = RT(state);
  norm_fx f = norm_fx_make(FIC_F16, 4, 4096), g;
  f.out.t.dtype = F8E4M3;
#define RQ(x, scale) fic_rmsnorm_quant(rt, kt_t(&(x).out), kt_t(&(x).in), kt_t(&(x).w), (scale), 1e-6, 0, NULL)
#define FQ(x, scale) \
  fic_fused_add_rmsnorm_quant(rt, kt_t(&(x).out), kt_t(&(x).in), kt_t(&(x).res), kt_t(&(x).w), (scale), 1e-6, 0, NULL)
  KT_EXPECT_STATUS(RQ(f, 0.5), FIC_ERR_NOT_FOUND);
  KT_EXPECT_STATUS(FQ(f, 2.0), FIC_ERR_NOT_FOUND);
  g = f, g.out.t.dtype = FIC_F8_E5M2; /* e5m2 is built too */
  KT_EXPECT_STATUS(RQ(g, 1.0), FIC_ERR_NOT_FOUND);
  KT_EXPECT_ARG(RQ(f, 0.0), "scale", "must not be 0");
  KT_EXPECT_ARG(FQ(f, NAN), "scale", "finite");
  KT_EXPECT_ARG(RQ(f, INFINITY), "scale", "finite");
  g = f, g.out.t.dtype = FIC_F16;
  KT_EXPECT_ARG(RQ(g, 1.0), "out", "float8_e4m3fn or float8_e5m2, got float16");
  KT_EXPECT_ARG(FQ(g, 1.0), "output", "float8_e4m3fn or float8_e5m2");
  g = f, g.out.shape[1] = 2048;
  KT_EXPECT_ARG(RQ(g, 1.0), "out", "shape of input");
  g = f, g.in.t.ndim = 3, g.in.shape[2] = 2;
  KT_EXPECT_ARG(RQ(g, 1.0), "input", "must be 2-D, got 3-D");
  g = f, kt_strides(&g.out, 4100, 1, 0, 0);
  KT_EXPECT_ARG(RQ(g, 1.0), "out", "multiple of 8");
  g = f, g.out.t.data = (void *)(A_OUT + 4);
  KT_EXPECT_ARG(FQ(g, 1.0), "output", "8-byte aligned"); /* VEC 8 fp8 bytes */
  g = f, g.res.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(FQ(g, 1.0), "residual", "dtype of input");
  g = f, g.w.shape[0] = 8;
  KT_EXPECT_ARG(FQ(g, 1.0), "weight", "must be 4096");
#undef RQ
#undef FQ
}

static void test_layernorm(void **state) {
  fic_runtime *rt = RT(state);
  kt_desc out = kt_cuda(A_OUT, FIC_BF16, 2, 6, 768, 0, 0), in = kt_cuda(A_IN, FIC_BF16, 2, 6, 768, 0, 0),
          gamma = kt_cuda(A_W, FIC_F32, 1, 768, 0, 0, 0), beta = kt_cuda(A_X, FIC_F32, 1, 768, 0, 0, 0);
#define LN(o, i, g, b, eps) fic_layernorm(rt, kt_t(&(o)), kt_t(&(i)), kt_t(&(g)), kt_t(&(b)), (eps), NULL)
  KT_EXPECT_STATUS(LN(out, in, gamma, beta, 1e-5), FIC_ERR_NOT_FOUND);
  KT_EXPECT_ARG(fic_layernorm(NULL, kt_t(&out), kt_t(&in), kt_t(&gamma), kt_t(&beta), 1e-5, NULL), "rt", NULL);
  KT_EXPECT_ARG(fic_layernorm(rt, kt_t(&out), kt_t(&in), NULL, kt_t(&beta), 1e-5, NULL), "gamma", "NULL");
  KT_EXPECT_ARG(fic_layernorm(rt, kt_t(&out), kt_t(&in), kt_t(&gamma), NULL, 1e-5, NULL), "beta", "NULL");
  KT_EXPECT_ARG(LN(out, in, gamma, beta, -1.0), "eps", NULL);
  kt_desc x = in;
  x.t.dtype = FIC_F16;
  KT_EXPECT_ARG(LN(out, x, gamma, beta, 1e-5), "input", "must be bfloat16, got float16");
  x = out, x.t.dtype = FIC_F32;
  KT_EXPECT_ARG(LN(x, in, gamma, beta, 1e-5), "out", "must be bfloat16");
  x = gamma, x.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(LN(out, in, x, beta, 1e-5), "gamma", "must be float32, got bfloat16");
  x = beta, x.shape[0] = 767;
  KT_EXPECT_ARG(LN(out, in, gamma, x, 1e-5), "beta", "must be 768");
  x = beta, x.t.device.device_id = 3;
  KT_EXPECT_ARG(LN(out, in, gamma, x, 1e-5), "beta", "device of input");
  /* The kernel ignores strides: a padded row is refused, not misread. */
  x = in, kt_strides(&x, 1024, 1, 0, 0);
  KT_EXPECT_ARG(LN(out, x, gamma, beta, 1e-5), "input", "contiguous (row-major)");
  x = out, kt_strides(&x, 1024, 1, 0, 0);
  KT_EXPECT_ARG(LN(x, in, gamma, beta, 1e-5), "out", "contiguous (row-major)");
  x = out, x.shape[0] = 5;
  KT_EXPECT_ARG(LN(x, in, gamma, beta, 1e-5), "out", "shape of input");
  x = gamma, x.t.data = (void *)(A_W + 4);
  KT_EXPECT_ARG(LN(out, in, x, beta, 1e-5), "gamma", "8-byte aligned");
  x = in, x.t.data = (void *)(A_IN + 2);
  KT_EXPECT_ARG(LN(out, x, gamma, beta, 1e-5), "input", "4-byte aligned");
  /* Odd hidden: scalar path, 2-/4-byte alignment suffices. */
  kt_desc o2 = kt_cuda(A_OUT + 2, FIC_BF16, 2, 6, 767, 0, 0), i2 = kt_cuda(A_IN + 2, FIC_BF16, 2, 6, 767, 0, 0),
          g2 = kt_cuda(A_W + 4, FIC_F32, 1, 767, 0, 0, 0), b2 = kt_cuda(A_X + 4, FIC_F32, 1, 767, 0, 0, 0);
  KT_EXPECT_STATUS(LN(o2, i2, g2, b2, 1e-5), FIC_ERR_NOT_FOUND);
  kt_desc o0 = kt_cuda(0, FIC_BF16, 2, 0, 768, 0, 0), i0 = kt_cuda(0, FIC_BF16, 2, 0, 768, 0, 0);
  KT_EXPECT_STATUS(LN(o0, i0, gamma, beta, 1e-5), FIC_OK);
#undef LN
}

/* ----------------------------------------------------------------- gdn_prefill */

typedef struct gdn_fx {
  kt_desc out, state, q, k, v, cu, in_state, alpha, beta, ws;
  int use_in_state, use_alpha, use_beta;
  double scale;
} gdn_fx;

static gdn_fx gdn_fx_make(fic_dtype dt, int64_t T, int64_t N, int64_t hq, int64_t hk, int64_t hv, int64_t D) {
  int64_t H = hq > hv ? hq : hv;
  gdn_fx f;
  memset(&f, 0, sizeof f);
  f.out = kt_cuda(0x7f1000000000u, dt, 3, T, H, D, 0);
  f.state = kt_cuda(0x7f1100000000u, FIC_F32, 4, N, H, D, D);
  f.q = kt_cuda(0x7f1200000000u, dt, 3, T, hq, D, 0);
  f.k = kt_cuda(0x7f1300000000u, dt, 3, T, hk, D, 0);
  f.v = kt_cuda(0x7f1400000000u, dt, 3, T, hv, D, 0);
  f.cu = kt_cuda(0x7f1500000000u, FIC_I64, 1, N + 1, 0, 0, 0);
  f.in_state = kt_cuda(0x7f1600000000u, FIC_F32, 4, N, H, D, D);
  f.alpha = kt_cuda(0x7f1700000000u, FIC_F32, 2, T, H, 0, 0);
  f.beta = kt_cuda(0x7f1800000000u, FIC_F32, 2, T, H, 0, 0);
  f.ws = kt_cuda(0x7f1900000000u, FIC_U8, 1, 132 * 128, 0, 0, 0);
  f.use_in_state = f.use_alpha = f.use_beta = 1;
  return f;
}

static fic_gdn_prefill_params gdn_params(gdn_fx *f) {
  fic_gdn_prefill_params p;
  FIC_ASSERT_OK(fic_gdn_prefill_params_init(&p));
  p.output = kt_t(&f->out);
  p.output_state = kt_t(&f->state);
  p.q = kt_t(&f->q);
  p.k = kt_t(&f->k);
  p.v = kt_t(&f->v);
  p.cu_seqlens = kt_t(&f->cu);
  p.input_state = f->use_in_state ? kt_t(&f->in_state) : NULL;
  p.alpha = f->use_alpha ? kt_t(&f->alpha) : NULL;
  p.beta = f->use_beta ? kt_t(&f->beta) : NULL;
  p.scale = f->scale;
  p.workspace = kt_t(&f->ws);
  return p;
}

static fic_status gdn(fic_runtime *rt, gdn_fx *f) {
  fic_gdn_prefill_params p = gdn_params(f);
  return fic_gdn_prefill(rt, &p, NULL);
}

static void test_gdn_valid_layouts(void **state) {
  fic_runtime *rt = RT(state);
  gdn_fx f = gdn_fx_make(FIC_BF16, 300, 3, 4, 2, 2, 128); /* GQA */
  KT_EXPECT_STATUS(gdn(rt, &f), FIC_ERR_NOT_FOUND);
  f.use_in_state = f.use_alpha = f.use_beta = 0;
  KT_EXPECT_STATUS(gdn(rt, &f), FIC_ERR_NOT_FOUND);
  f = gdn_fx_make(FIC_F16, 17, 1, 2, 2, 8, 128); /* GVA */
  f.scale = 0.25;
  KT_EXPECT_STATUS(gdn(rt, &f), FIC_ERR_NOT_FOUND);
  f = gdn_fx_make(FIC_F16, 5, 2, 3, 3, 3, 128); /* equal heads */
  KT_EXPECT_STATUS(gdn(rt, &f), FIC_ERR_NOT_FOUND);
  /* The kernel's state layout is fixed at 128 x 128: any other head size is refused. */
  f = gdn_fx_make(FIC_F16, 5, 2, 3, 3, 3, 64);
  KT_EXPECT_ARG(gdn(rt, &f), "q", "must be 128");
}

static void test_gdn_tensor_checks(void **state) {
  fic_runtime *rt = RT(state);
  const gdn_fx f = gdn_fx_make(FIC_BF16, 300, 3, 4, 2, 2, 128);
  gdn_fx g;
  g = f;
  fic_gdn_prefill_params p = gdn_params(&g);
  KT_EXPECT_ARG(fic_gdn_prefill(NULL, &p, NULL), "rt", NULL);
  g = f, g.scale = NAN;
  KT_EXPECT_ARG(gdn(rt, &g), "scale", "finite");
  g = f, p = gdn_params(&g), p.q = NULL;
  KT_EXPECT_ARG(fic_gdn_prefill(rt, &p, NULL), "q", "NULL");
  g = f, p = gdn_params(&g), p.workspace = NULL;
  KT_EXPECT_ARG(fic_gdn_prefill(rt, &p, NULL), "workspace", "NULL");
  g = f, g.q.t.dtype = FIC_F32;
  KT_EXPECT_ARG(gdn(rt, &g), "q", "float16 or bfloat16");
  g = f, g.q.t.ndim = 2;
  KT_EXPECT_ARG(gdn(rt, &g), "q", "3-D");
  g = f, g.q.shape[0] = 0;
  KT_EXPECT_ARG(gdn(rt, &g), "q", "tokens");
  g = f, g.q.shape[2] = g.k.shape[2] = g.v.shape[2] = 136;
  KT_EXPECT_ARG(gdn(rt, &g), "q", "head size");
  g = f, g.q.shape[2] = 96;
  KT_EXPECT_ARG(gdn(rt, &g), "q", "must be 128");
  g = f, g.q.t.data = (void *)(0x7f1200000000u + 8);
  KT_EXPECT_ARG(gdn(rt, &g), "q", "16-byte aligned");
  g = f, kt_strides(&g.q, 4 * 256, 256, 1, 0);
  KT_EXPECT_ARG(gdn(rt, &g), "q", "contiguous (row-major)");
  g = f, g.k.t.dtype = FIC_F16;
  KT_EXPECT_ARG(gdn(rt, &g), "k", "dtype of q");
  g = f, g.k.shape[0] = 299;
  KT_EXPECT_ARG(gdn(rt, &g), "k", "tokens");
  g = f, g.v.shape[2] = 64;
  KT_EXPECT_ARG(gdn(rt, &g), "v", "head size");
  g = f, g.v.t.device.device_id = 1;
  KT_EXPECT_ARG(gdn(rt, &g), "v", "device of q");
  g = f, g.out.t.dtype = FIC_F16;
  KT_EXPECT_ARG(gdn(rt, &g), "output", "dtype of q");
  g = f, g.out.shape[1] = 2;
  KT_EXPECT_ARG(gdn(rt, &g), "output", "max(q heads, v heads)");
  g = f, g.out.t.byte_offset = 256;
  KT_EXPECT_ARG(gdn(rt, &g), "output", "byte_offset");
  g = f, g.cu.t.dtype = FIC_I32;
  KT_EXPECT_ARG(gdn(rt, &g), "cu_seqlens", "int64, got int32");
  g = f, g.cu.shape[0] = 1;
  KT_EXPECT_ARG(gdn(rt, &g), "cu_seqlens", "N+1 >= 2");
  g = f, g.cu.t.device.device_type = FIC_DEVICE_CPU;
  KT_EXPECT_ARG(gdn(rt, &g), "cu_seqlens", "CUDA tensor");
  g = f, g.state.shape[0] = 4;
  KT_EXPECT_ARG(gdn(rt, &g), "output_state", "sequences");
  g = f, g.state.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(gdn(rt, &g), "output_state", "float32");
  g = f, g.state.shape[3] = 64;
  KT_EXPECT_ARG(gdn(rt, &g), "output_state", "head size");
  g = f, g.in_state.shape[1] = 2;
  KT_EXPECT_ARG(gdn(rt, &g), "input_state", "shape of output_state");
  g = f, g.in_state.t.device.device_type = FIC_DEVICE_CPU;
  KT_EXPECT_ARG(gdn(rt, &g), "input_state", "CUDA tensor");
  g = f, kt_strides(&g.in_state, 4 * 128 * 128, 128 * 128, 1, 128); /* transposed [V,K] -> [K,V] view */
  KT_EXPECT_ARG(gdn(rt, &g), "input_state", "contiguous");
  g = f, g.alpha.shape[1] = 2;
  KT_EXPECT_ARG(gdn(rt, &g), "alpha", "max(q heads, v heads)");
  g = f, g.beta.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(gdn(rt, &g), "beta", "float32");
  g = f, g.beta.shape[0] = 10;
  KT_EXPECT_ARG(gdn(rt, &g), "beta", "tokens");
  g = f, g.ws.t.dtype = FIC_I32;
  KT_EXPECT_ARG(gdn(rt, &g), "workspace", "uint8");
  g = f, g.ws.shape[0] = 64;
  KT_EXPECT_ARG(gdn(rt, &g), "workspace", "128 bytes per SM");
  g = f, g.ws.t.data = (void *)(0x7f1900000000u + 16);
  KT_EXPECT_ARG(gdn(rt, &g), "workspace", "64-byte aligned");
}

static void test_gdn_heads(void **state) {
  fic_runtime *rt = RT(state);
  gdn_fx g;
  g = gdn_fx_make(FIC_F16, 8, 1, 4, 2, 1, 128); /* GQA needs k heads == v heads */
  KT_EXPECT_ARG(gdn(rt, &g), "k", "GQA");
  g = gdn_fx_make(FIC_F16, 8, 1, 3, 2, 2, 128); /* 3 is no multiple of 2 */
  KT_EXPECT_ARG(gdn(rt, &g), "q", "multiple of v.shape[1]");
  g = gdn_fx_make(FIC_F16, 8, 1, 2, 1, 4, 128); /* GVA needs k heads == q heads */
  KT_EXPECT_ARG(gdn(rt, &g), "k", "GVA");
  g = gdn_fx_make(FIC_F16, 8, 1, 2, 2, 5, 128);
  KT_EXPECT_ARG(gdn(rt, &g), "v", "multiple of q.shape[1]");
  g = gdn_fx_make(FIC_F16, 8, 1, 4, 2, 2, 128);
  g.k.shape[1] = 0;
  KT_EXPECT_ARG(gdn(rt, &g), "k", "heads");
}

/* FlashInfer 0.6.3 addresses the states with 32-bit element offsets: the
 * largest, N*H*128*128 - 1, must fit in INT32_MAX, so N*H <= 131072. The
 * descriptors are fake: validation must refuse before anything is called. */
static void test_gdn_state_offsets_fit_int32(void **state) {
  fic_runtime *rt = RT(state);
  gdn_fx g = gdn_fx_make(FIC_BF16, 1 << 17, 1 << 15, 4, 4, 4, 128); /* N*H = 131072: the last offset is INT32_MAX */
  KT_EXPECT_STATUS(gdn(rt, &g), FIC_ERR_NOT_FOUND);
  g = gdn_fx_make(FIC_BF16, 1 << 17, (1 << 15) + 1, 4, 4, 4, 128); /* one sequence more */
  KT_EXPECT_ARG(gdn(rt, &g), "output_state", "at most 131072");
  g = gdn_fx_make(FIC_BF16, 1 << 17, 131073, 1, 1, 1, 128);
  g.use_in_state = 0;
  KT_EXPECT_ARG(gdn(rt, &g), "output_state", "32-bit offsets");
}

/* struct_size: an older (smaller) struct is read only up to its size, the
 * rest taking defaults; 0, larger or field-splitting sizes are refused. */
static void test_gdn_params_struct_size(void **state) {
  fic_runtime *rt = RT(state);
  gdn_fx f = gdn_fx_make(FIC_BF16, 300, 3, 4, 2, 2, 128);
  fic_gdn_prefill_params p = gdn_params(&f);
  KT_EXPECT_STATUS(fic_gdn_prefill(rt, &p, NULL), FIC_ERR_NOT_FOUND); /* valid: reaches the module look-up */
  /* A struct that ends before `workspace`: the library must not read the
   * caller's workspace field, so the default (NULL) is refused. */
  p.struct_size = offsetof(fic_gdn_prefill_params, workspace);
  KT_EXPECT_ARG(fic_gdn_prefill(rt, &p, NULL), "workspace", "NULL");
  /* Ending before `scale`: the caller's NaN is not read; the default 0 passes. */
  p = gdn_params(&f), p.scale = NAN, p.struct_size = offsetof(fic_gdn_prefill_params, scale);
  KT_EXPECT_ARG(fic_gdn_prefill(rt, &p, NULL), "workspace", "NULL");
  p = gdn_params(&f), p.struct_size = 0;
  KT_EXPECT_ARG(fic_gdn_prefill(rt, &p, NULL), "params", "struct_size is 0");
  p.struct_size = sizeof p + 8;
  KT_EXPECT_ARG(fic_gdn_prefill(rt, &p, NULL), "params", "fic_gdn_prefill_params_init");
  p.struct_size = sizeof p - 4;
  KT_EXPECT_ARG(fic_gdn_prefill(rt, &p, NULL), "params", "struct_size");
  KT_EXPECT_ARG(fic_gdn_prefill(rt, NULL, NULL), "params", "NULL");
  KT_EXPECT_ARG(fic_gdn_prefill_params_init(NULL), "params", "NULL");
  FIC_ASSERT_OK(fic_gdn_prefill_params_init(&p));
  assert_int_equal(p.struct_size, sizeof p);
  assert_null(p.input_state);
  assert_true(p.scale == 0.0);
}

static void test_gdn_workspace_size(void **state) {
  (void)state;
  size_t bytes = 0;
  KT_EXPECT_STATUS(fic_gdn_prefill_workspace_size(132, &bytes), FIC_OK);
  assert_int_equal(bytes, 132 * 128);
  KT_EXPECT_ARG(fic_gdn_prefill_workspace_size(0, &bytes), "sm_count", "> 0");
  KT_EXPECT_ARG(fic_gdn_prefill_workspace_size(-3, &bytes), "sm_count", NULL);
  KT_EXPECT_ARG(fic_gdn_prefill_workspace_size(1, NULL), "bytes", NULL);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_rmsnorm_descriptor_checks),
      cmocka_unit_test(test_rmsnorm_shape_dtype_device),
      cmocka_unit_test(test_rmsnorm_layout),
      cmocka_unit_test(test_rmsnorm_3d_and_empty),
      cmocka_unit_test(test_fused_add),
      cmocka_unit_test(test_quant),
      cmocka_unit_test(test_layernorm),
      cmocka_unit_test(test_gdn_valid_layouts),
      cmocka_unit_test(test_gdn_tensor_checks),
      cmocka_unit_test(test_gdn_heads),
      cmocka_unit_test(test_gdn_state_offsets_fit_int32),
      cmocka_unit_test(test_gdn_params_struct_size),
      cmocka_unit_test(test_gdn_workspace_size),
  };
  return cmocka_run_group_tests(tests, setup, kt_teardown);
}
