/* SPDX-License-Identifier: Apache-2.0 */
/* Batch MLA (fic_batch_mla_plan / fic_batch_mla_run) on a real GPU against a
 * float64 reference, on fresh random data (the seed is printed; rerun with
 * FIC_TEST_SEED=<seed>). The modules come from a wheel named by
 * FIC_MLA_WHEEL (or CMake's -DFIC_MLA_WHEEL): FlashInfer's own JIT builds
 * them on the GPU machine (tools/kernel-modules/jit_on_device.py) as
 *   batch_mla_attention_dtype_q_bf16_..._profiler_False       (FA2, required)
 *   batch_mla_attention_dtype_q_bf16_..._profiler_False_sm90  (FA3, optional)
 * Every case runs on FA2, and on FA3 too on an SM 9.0 GPU when the wheel has
 * it; one case runs with the default backend (AUTO).
 *
 * The reference is ref_attention with one KV head of 576 = 512 + 64:
 *   k_j = [ckv_j, kpe_j], v_j = ckv_j, q = [q_nope, q_pe],
 *   score = sm_scale * q.k, causal: row i of a sequence of qo_len rows and
 *   kv_len keys sees key j iff j + qo_len <= kv_len + i; LSE base 2.
 * Cases: random shuffled page tables over a pool 1.5x larger, page sizes 1
 * and 64 with partial last pages, batch 1 to 16, 16 and 128 heads, decode
 * (one row per sequence) and a few rows per sequence (causal and not),
 * q_nope/q_pe and ckv/kpe both as separate tensors and as views of one
 * 576-wide tensor (the layout DeepSeek implementations use). A second test
 * fills the caches with fic_append_paged_mla_kv_cache (the page module of
 * FIC_ATTN_WHEEL, on its own runtime) and attends over them.
 * Outputs are poisoned (all-ones bits: NaN) before each run.
 * Tolerances as tests/gpu/test_gpu_attention.c: relative L2 1e-2 for the
 * bf16 output (bf16 rounding of the output and of the softmax weights before
 * P.V), 1e-3 for the fp32 LSE. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

#define CKV 512
#define KPE 64
#define QK (CKV + KPE)
#define OUT_TOL 1e-2
#define LSE_TOL 1e-3

/* ---- runtime and backends ---- */

typedef struct mla_state {
  kt_runtime *k;
  int fa3; /* SM 9.0 and the wheel has the _sm90 module */
} mla_state;

static int teardown(void **state) {
  mla_state *s = *state;
  if (s) kt_close(s->k), free(s);
  *state = NULL;
  return 0;
}

static mla_state *mla_rt(void **state) {
  gpu_require();
  if (*state) return *state;
  static const char *const modules[] = {KT_MLA_MODULE_BF16, NULL};
  kt_runtime *k =
      gpu_open_wheel(kt_mla_wheel(), modules, "no wheel with the MLA modules: set FIC_MLA_WHEEL", KT_MLA_MODULE_BF16);
  mla_state *s = calloc(1, sizeof *s);
  assert_non_null(s);
  s->k = k;
  int minor = 0;
  CK(cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0));
  const char *path = NULL;
  s->fa3 =
      gpu_cc_major() == 9 && minor == 0 && fic_runtime_module_path(k->rt, KT_MLA_MODULE_BF16_SM90, &path) == FIC_OK;
  print_message("MLA backends: FA2%s\n", s->fa3 ? " and FA3 (_sm90)" : " only (no SM 9.0 GPU or no _sm90 module)");
  *state = s;
  return s;
}

/* ---- a batch ---- */

typedef struct mla_case {
  const char *name;
  int64_t batch, heads, page, max_kv;
  int64_t max_qo; /* 0: decode */
  int causal;
  int views; /* q_nope/q_pe and ckv/kpe as views of one 576-wide tensor each */
} mla_case;

typedef struct mla_batch {
  mla_case c;
  int64_t *qo_indptr, *kv_len, *kv_indptr, *indices; /* host int64 */
  int32_t *qo32, *kv32, *len32;                      /* host int32, for the plan */
  int64_t rows, pages, pool;
  uint16_t *q_bits;  /* [rows, heads, 576]: q_nope | q_pe */
  uint16_t *kv_bits; /* [pool * page, 576]: ckv | kpe per token slot */
  double sm_scale;
  void *dq, *dq_pe, *dkv, *dkpe, *dind, *dout, *dlse; /* dq_pe / dkpe: separate layout only */
} mla_batch;

/* kv in [1, max_kv] (with more than 2 sequences the first has 1 key and the
 * last max_kv); rows in [1, min(kv, max_qo)], so a causal row sees a key. */
static void make_lengths(mla_batch *b, ref_rng *r) {
  const mla_case *c = &b->c;
  b->qo_indptr = calloc((size_t)c->batch + 1, sizeof(int64_t));
  b->kv_len = calloc((size_t)c->batch, sizeof(int64_t));
  b->kv_indptr = calloc((size_t)c->batch + 1, sizeof(int64_t));
  for (int64_t i = 0; i < c->batch; i++) {
    int64_t kv = gpu_rand_in(r, 1, c->max_kv);
    if (c->batch > 2 && (i == 0 || i == c->batch - 1)) kv = i == 0 ? 1 : c->max_kv;
    int64_t qo = c->max_qo ? gpu_rand_in(r, 1, kv < c->max_qo ? kv : c->max_qo) : 1;
    b->kv_len[i] = kv;
    b->qo_indptr[i + 1] = b->qo_indptr[i] + qo;
    b->kv_indptr[i + 1] = b->kv_indptr[i] + (kv + c->page - 1) / c->page;
  }
  b->rows = b->qo_indptr[c->batch];
  b->pages = b->kv_indptr[c->batch];
  b->qo32 = gpu_to_i32(b->qo_indptr, c->batch + 1);
  b->kv32 = gpu_to_i32(b->kv_indptr, c->batch + 1);
  b->len32 = gpu_to_i32(b->kv_len, c->batch);
}

/* `pages` distinct page ids out of a pool of 1.5x + 3, shuffled. */
static void make_page_table(mla_batch *b, ref_rng *r) {
  b->pool = b->pages + b->pages / 2 + 3;
  b->indices = gpu_permutation(r, b->pool, 1); /* the first `pages` entries are used */
}

/* Upload `rows` rows of 576 as one buffer (views) or as a [rows, 512] and a
 * [rows, 64] buffer (separate). */
static void upload_split(const uint16_t *bits, size_t rows, int views, void **d512, void **d64) {
  if (views) {
    *d512 = gpu_upload(bits, rows * QK * 2);
    *d64 = NULL;
    return;
  }
  uint16_t *a = malloc(rows * CKV * 2 + 2), *e = malloc(rows * KPE * 2 + 2);
  assert_true(a && e);
  for (size_t i = 0; i < rows; i++) {
    memcpy(a + i * CKV, bits + i * QK, CKV * 2);
    memcpy(e + i * KPE, bits + i * QK + CKV, KPE * 2);
  }
  *d512 = gpu_upload(a, rows * CKV * 2);
  *d64 = gpu_upload(e, rows * KPE * 2);
  free(a), free(e);
}

static void poison(mla_batch *b) {
  CK(cudaMemset(b->dout, 0xff, (size_t)(b->rows * b->c.heads * CKV * 2)));
  CK(cudaMemset(b->dlse, 0xff, (size_t)(b->rows * b->c.heads * 4)));
}

static void mla_batch_new(mla_batch *b, const mla_case *c, ref_rng *r) {
  memset(b, 0, sizeof *b);
  b->c = *c;
  b->sm_scale = 1.0 / sqrt(128.0 + 64.0); /* DeepSeek: the head dim before absorption */
  make_lengths(b, r);
  make_page_table(b, r);
  size_t qn = (size_t)(b->rows * c->heads) * QK, kvn = (size_t)(b->pool * c->page) * QK;
  b->q_bits = malloc(qn * 2);
  b->kv_bits = malloc(kvn * 2);
  assert_true(b->q_bits && b->kv_bits);
  ref_half_random(r, REF_BF16, b->q_bits, NULL, qn, 0, 1);
  ref_half_random(r, REF_BF16, b->kv_bits, NULL, kvn, 0, 1);
  upload_split(b->q_bits, (size_t)(b->rows * c->heads), c->views, &b->dq, &b->dq_pe);
  upload_split(b->kv_bits, (size_t)(b->pool * c->page), c->views, &b->dkv, &b->dkpe);
  int32_t *ind = gpu_to_i32(b->indices, b->pages);
  b->dind = gpu_upload(ind, (size_t)b->pages * 4);
  free(ind);
  b->dout = gpu_alloc((size_t)(b->rows * c->heads * CKV * 2));
  b->dlse = gpu_alloc((size_t)(b->rows * c->heads * 4));
  poison(b);
}

static void mla_batch_free(mla_batch *b) {
  void *dev[] = {b->dq, b->dq_pe, b->dkv, b->dkpe, b->dind, b->dout, b->dlse};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) CK(cudaFree(dev[i]));
  free(b->qo_indptr), free(b->kv_len), free(b->kv_indptr), free(b->indices);
  free(b->qo32), free(b->kv32), free(b->len32), free(b->q_bits), free(b->kv_bits);
}

/* ---- plan, run, reference ---- */

static fic_attention_plan *plan_batch(fic_runtime *rt, fic_attention_workspace *ws, const mla_batch *b,
                                      int64_t backend) {
  fic_batch_mla_plan_params p;
  FIC_ASSERT_OK(fic_batch_mla_plan_params_init(&p));
  p.qo_indptr = b->qo32, p.kv_indptr = b->kv32, p.kv_len = b->len32, p.batch_size = b->c.batch;
  p.num_heads = b->c.heads, p.page_size = b->c.page, p.causal = b->c.causal, p.sm_scale = b->sm_scale;
  p.q_dtype = p.kv_dtype = FIC_BF16, p.backend = backend;
  fic_attention_plan *plan = NULL;
  FIC_ASSERT_OK(fic_batch_mla_plan(rt, ws, &p, NULL, &plan));
  return plan;
}

typedef struct descs {
  kt_desc qn, qp, ckv, kpe, ind, out, lse;
} descs;

static descs make_descs(const mla_batch *b) {
  const mla_case *c = &b->c;
  descs d;
  int64_t H = c->heads, P = c->page;
  if (c->views) {
    d.qn = gpu_desc(b->dq, FIC_BF16, 3, b->rows, H, CKV, 0);
    d.qp = gpu_desc((uint16_t *)b->dq + CKV, FIC_BF16, 3, b->rows, H, KPE, 0);
    kt_strides(&d.qn, H * QK, QK, 1, 0);
    kt_strides(&d.qp, H * QK, QK, 1, 0);
    d.ckv = gpu_desc(b->dkv, FIC_BF16, 3, b->pool, P, CKV, 0);
    d.kpe = gpu_desc((uint16_t *)b->dkv + CKV, FIC_BF16, 3, b->pool, P, KPE, 0);
    kt_strides(&d.ckv, P * QK, QK, 1, 0);
    kt_strides(&d.kpe, P * QK, QK, 1, 0);
  } else {
    d.qn = gpu_desc(b->dq, FIC_BF16, 3, b->rows, H, CKV, 0);
    d.qp = gpu_desc(b->dq_pe, FIC_BF16, 3, b->rows, H, KPE, 0);
    d.ckv = gpu_desc(b->dkv, FIC_BF16, 3, b->pool, P, CKV, 0);
    d.kpe = gpu_desc(b->dkpe, FIC_BF16, 3, b->pool, P, KPE, 0);
  }
  d.ind = gpu_desc(b->dind, FIC_I32, 1, b->pages, 0, 0, 0);
  d.out = gpu_desc(b->dout, FIC_BF16, 3, b->rows, H, CKV, 0);
  d.lse = gpu_desc(b->dlse, FIC_F32, 2, b->rows, H, 0, 0);
  return d;
}

static fic_status run_batch(const fic_attention_plan *plan, mla_batch *b, int lse_base_e) {
  descs d = make_descs(b);
  fic_batch_mla_run_params p;
  FIC_ASSERT_OK(fic_batch_mla_run_params_init(&p));
  p.q_nope = kt_t(&d.qn), p.q_pe = kt_t(&d.qp), p.ckv_cache = kt_t(&d.ckv), p.kpe_cache = kt_t(&d.kpe);
  p.kv_indices = kt_t(&d.ind), p.out = kt_t(&d.out), p.lse = kt_t(&d.lse), p.lse_base_e = lse_base_e;
  return fic_batch_mla_run(plan, &p, NULL);
}

/* The float64 reference from the bits as stored: sequence s's token t is
 * slot t % page of page indices[kv_indptr[s] + t / page]. */
static void reference(const mla_batch *b, double *want, double *want_lse) {
  const mla_case *c = &b->c;
  size_t qn = (size_t)(b->rows * c->heads) * QK;
  double *q = malloc(qn * sizeof *q);
  double **k = calloc((size_t)c->batch, sizeof *k), **v = calloc((size_t)c->batch, sizeof *v);
  assert_true(q && k && v);
  ref_half_decode(REF_BF16, b->q_bits, q, qn);
  for (int64_t s = 0; s < c->batch; s++) {
    size_t n = (size_t)b->kv_len[s];
    k[s] = malloc((n ? n : 1) * QK * sizeof(double));
    v[s] = malloc((n ? n : 1) * CKV * sizeof(double));
    assert_true(k[s] && v[s]);
    for (int64_t t = 0; t < b->kv_len[s]; t++) {
      int64_t slot = b->indices[b->kv_indptr[s] + t / c->page] * c->page + t % c->page;
      ref_half_decode(REF_BF16, b->kv_bits + (size_t)slot * QK, k[s] + (size_t)t * QK, QK);
      memcpy(v[s] + (size_t)t * CKV, k[s] + (size_t)t * QK, CKV * sizeof(double));
    }
  }
  ref_attn p = {(size_t)c->batch,
                (size_t)c->heads,
                1,
                QK,
                CKV,
                b->qo_indptr,
                b->kv_len,
                q,
                (const double *const *)k,
                (const double *const *)v,
                b->sm_scale,
                c->causal,
                -1,
                0,
                NULL};
  assert_int_equal(ref_attention(&p, want, want_lse), 0);
  for (int64_t s = 0; s < c->batch; s++) free(k[s]), free(v[s]);
  free(k), free(v), free(q);
}

static void check_batch(const mla_batch *b, const double *want, const double *want_lse, const char *what,
                        double lse_scale) {
  size_t n = (size_t)(b->rows * b->c.heads) * CKV, nl = (size_t)(b->rows * b->c.heads);
  double *got = malloc(n * sizeof *got), *got_lse = malloc(nl * sizeof *got_lse), *wl = malloc(nl * sizeof *wl);
  assert_true(got && got_lse && wl);
  gpu_get_half(REF_BF16, b->dout, got, n);
  gpu_get_f32(b->dlse, got_lse, nl);
  for (size_t i = 0; i < nl; i++) wl[i] = want_lse[i] * lse_scale;
  char label[192];
  snprintf(label, sizeof label, "%s %s out", b->c.name, what);
  gpu_expect_close(label, got, want, n, OUT_TOL);
  snprintf(label, sizeof label, "%s %s lse", b->c.name, what);
  gpu_expect_close(label, got_lse, wl, nl, LSE_TOL);
  free(got), free(got_lse), free(wl);
}

static const char *backend_name(int64_t backend) {
  return backend == FIC_ATTENTION_BACKEND_FA3 ? "FA3" : backend == FIC_ATTENTION_BACKEND_FA2 ? "FA2" : "AUTO";
}

/* One case on each backend in `backends` (n of them): plan, run, compare. */
static void run_case(fic_runtime *rt, const mla_case *c, ref_rng *r, const int64_t *backends, int n) {
  gpu_ws w;
  gpu_ws_new(rt, &w);
  mla_batch b;
  mla_batch_new(&b, c, r);
  print_message("%s: batch %lld, %lld heads, page %lld, %lld rows, %lld pages of a pool of %lld%s%s\n", c->name,
                (long long)c->batch, (long long)c->heads, (long long)c->page, (long long)b.rows, (long long)b.pages,
                (long long)b.pool, c->causal ? ", causal" : "", c->views ? ", 576-wide views" : "");
  size_t n_out = (size_t)(b.rows * c->heads) * CKV, nl = (size_t)(b.rows * c->heads);
  double *want = malloc(n_out * sizeof *want), *want_lse = malloc(nl * sizeof *want_lse);
  assert_true(want && want_lse);
  reference(&b, want, want_lse);
  for (int i = 0; i < n; i++) {
    fic_attention_plan *plan = plan_batch(rt, w.ws, &b, backends[i]);
    poison(&b);
    FIC_ASSERT_OK(run_batch(plan, &b, 0));
    CK(cudaDeviceSynchronize());
    check_batch(&b, want, want_lse, backend_name(backends[i]), 1.0);
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  }
  free(want), free(want_lse);
  mla_batch_free(&b);
  gpu_ws_free(&w);
}

static void run_cases(void **state, const char *test, const mla_case *cases, size_t n) {
  mla_state *s = mla_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed(test));
  const int64_t backends[2] = {FIC_ATTENTION_BACKEND_FA2, FIC_ATTENTION_BACKEND_FA3};
  for (size_t i = 0; i < n; i++) run_case(s->k->rt, &cases[i], &r, backends, s->fa3 ? 2 : 1);
}

/* ---- tests ---- */

static void test_mla_decode(void **state) {
  static const mla_case cases[] = {
      {"decode h16 p1", 1, 16, 1, 64, 0, 0, 0},           {"decode h128 p64", 16, 128, 64, 1000, 0, 0, 0},
      {"decode h16 p64 views", 9, 16, 64, 3000, 0, 0, 1}, {"decode h128 p1 views", 5, 128, 1, 300, 0, 0, 1},
      {"decode h16 p1 b16", 16, 16, 1, 700, 0, 0, 0},
  };
  run_cases(state, "test_mla_decode", cases, sizeof cases / sizeof cases[0]);
}

static void test_mla_multi_token(void **state) {
  static const mla_case cases[] = {
      {"rows<=4 h16 p1 causal", 12, 16, 1, 500, 4, 1, 0},
      {"rows<=3 h128 p64 causal views", 4, 128, 64, 700, 3, 1, 1},
      {"rows<=5 h16 p64", 16, 16, 64, 2000, 5, 0, 0},
      {"rows<=8 h128 p1", 3, 128, 1, 200, 8, 0, 1},
      {"rows<=6 h16 p64 causal b1", 1, 16, 64, 130, 6, 1, 0},
  };
  run_cases(state, "test_mla_multi_token", cases, sizeof cases / sizeof cases[0]);
}

/* The default backend (AUTO: FA3 on SM 9.0 when present), the plan's
 * sm_scale overridden at run time, and the natural-log LSE. */
static void test_mla_auto_and_options(void **state) {
  mla_state *s = mla_rt(state);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_mla_auto_and_options"));
  static const mla_case c = {"auto h128 p64 causal", 6, 128, 64, 900, 2, 1, 0};
  gpu_ws w;
  gpu_ws_new(s->k->rt, &w);
  mla_batch b;
  mla_batch_new(&b, &c, &r);
  size_t n_out = (size_t)(b.rows * c.heads) * CKV, nl = (size_t)(b.rows * c.heads);
  double *want = malloc(n_out * sizeof *want), *want_lse = malloc(nl * sizeof *want_lse);
  assert_true(want && want_lse);
  reference(&b, want, want_lse);
  fic_attention_plan *plan = plan_batch(s->k->rt, w.ws, &b, FIC_ATTENTION_BACKEND_AUTO);
  FIC_ASSERT_OK(run_batch(plan, &b, 0));
  CK(cudaDeviceSynchronize());
  check_batch(&b, want, want_lse, "AUTO", 1.0);
  poison(&b);
  FIC_ASSERT_OK(run_batch(plan, &b, 1));
  CK(cudaDeviceSynchronize());
  check_batch(&b, want, want_lse, "AUTO, natural-log LSE", log(2.0));
  /* A plan made with another sm_scale, corrected at run time. */
  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  double right = b.sm_scale;
  b.sm_scale = 0.5;
  plan = plan_batch(s->k->rt, w.ws, &b, FIC_ATTENTION_BACKEND_AUTO);
  descs d = make_descs(&b);
  fic_batch_mla_run_params p;
  FIC_ASSERT_OK(fic_batch_mla_run_params_init(&p));
  p.q_nope = kt_t(&d.qn), p.q_pe = kt_t(&d.qp), p.ckv_cache = kt_t(&d.ckv), p.kpe_cache = kt_t(&d.kpe);
  p.kv_indices = kt_t(&d.ind), p.out = kt_t(&d.out), p.lse = kt_t(&d.lse), p.sm_scale = right;
  poison(&b);
  FIC_ASSERT_OK(fic_batch_mla_run(plan, &p, NULL));
  CK(cudaDeviceSynchronize());
  check_batch(&b, want, want_lse, "AUTO, sm_scale given at run", 1.0);
  FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  free(want), free(want_lse);
  mla_batch_free(&b);
  gpu_ws_free(&w);
}

/* Append then attend: the caches start zeroed and are filled by
 * fic_append_paged_mla_kv_cache (module page of FIC_ATTN_WHEEL, on a runtime
 * of its own), then MLA reads them. The reference reads what was appended. */
static void test_mla_append_then_attend(void **state) {
  mla_state *s = mla_rt(state);
  const char *attn_wheel = kt_attn_wheel();
  static const char *const page_modules[] = {"page", NULL};
  kt_runtime *pk = attn_wheel ? kt_try_open(attn_wheel, page_modules) : NULL;
  if (!pk) {
    print_message("SKIPPED: no wheel with the page module (FIC_ATTN_WHEEL) for the append\n");
    skip();
  }
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("test_mla_append_then_attend"));
  static const mla_case c = {"append+attend h16 p64", 7, 16, 64, 400, 3, 1, 0};
  gpu_ws w;
  gpu_ws_new(s->k->rt, &w);
  mla_batch b;
  mla_batch_new(&b, &c, &r);
  /* Zero the caches, then append each sequence's tokens in order. */
  size_t slots = (size_t)(b.pool * c.page);
  CK(cudaMemset(b.dkv, 0, slots * CKV * 2));
  CK(cudaMemset(b.dkpe, 0, slots * KPE * 2));
  int64_t nnz = 0;
  for (int64_t i = 0; i < c.batch; i++) nnz += b.kv_len[i];
  int32_t *append_indptr = calloc((size_t)c.batch + 1, 4), *bi = malloc((size_t)nnz * 4),
          *pos = malloc((size_t)nnz * 4);
  int32_t *last = malloc((size_t)c.batch * 4);
  uint16_t *app = malloc((size_t)nnz * QK * 2);
  assert_true(append_indptr && bi && pos && last && app);
  for (int64_t i = 0; i < c.batch; i++) {
    append_indptr[i + 1] = append_indptr[i] + (int32_t)b.kv_len[i];
    last[i] = (int32_t)(b.kv_len[i] - (b.kv_indptr[i + 1] - b.kv_indptr[i] - 1) * c.page);
    for (int64_t t = 0; t < b.kv_len[i]; t++) { /* the appended row: what the reference will read at that slot */
      int64_t slot = b.indices[b.kv_indptr[i] + t / c.page] * c.page + t % c.page;
      memcpy(app + (size_t)(append_indptr[i] + t) * QK, b.kv_bits + (size_t)slot * QK, QK * 2);
    }
  }
  FIC_ASSERT_OK(fic_batch_indices_positions(append_indptr, b.len32, (int32_t)c.batch, bi, pos, nnz));
  void *dapp_ckv, *dapp_kpe;
  upload_split(app, (size_t)nnz, 0, &dapp_ckv, &dapp_kpe);
  void *dbi = gpu_upload(bi, (size_t)nnz * 4), *dpos = gpu_upload(pos, (size_t)nnz * 4);
  void *dkvi = gpu_upload(b.kv32, (size_t)(c.batch + 1) * 4), *dlast = gpu_upload(last, (size_t)c.batch * 4);
  kt_desc a_ckv = gpu_desc(dapp_ckv, FIC_BF16, 2, nnz, CKV, 0, 0),
          a_kpe = gpu_desc(dapp_kpe, FIC_BF16, 2, nnz, KPE, 0, 0);
  kt_desc t_bi = gpu_desc(dbi, FIC_I32, 1, nnz, 0, 0, 0), t_pos = gpu_desc(dpos, FIC_I32, 1, nnz, 0, 0, 0);
  kt_desc t_kvi = gpu_desc(dkvi, FIC_I32, 1, c.batch + 1, 0, 0, 0),
          t_last = gpu_desc(dlast, FIC_I32, 1, c.batch, 0, 0, 0);
  descs d = make_descs(&b);
  fic_append_paged_mla_kv_cache_params ap;
  FIC_ASSERT_OK(fic_append_paged_mla_kv_cache_params_init(&ap));
  ap.append_ckv = kt_t(&a_ckv), ap.append_kpe = kt_t(&a_kpe), ap.batch_indices = kt_t(&t_bi);
  ap.positions = kt_t(&t_pos), ap.ckv_cache = kt_t(&d.ckv), ap.kpe_cache = kt_t(&d.kpe);
  ap.kv_indices = kt_t(&d.ind), ap.kv_indptr = kt_t(&t_kvi), ap.kv_last_page_len = kt_t(&t_last);
  FIC_ASSERT_OK(fic_append_paged_mla_kv_cache(pk->rt, &ap, NULL));
  CK(cudaDeviceSynchronize());
  size_t n_out = (size_t)(b.rows * c.heads) * CKV, nl = (size_t)(b.rows * c.heads);
  double *want = malloc(n_out * sizeof *want), *want_lse = malloc(nl * sizeof *want_lse);
  assert_true(want && want_lse);
  reference(&b, want, want_lse);
  const int64_t backends[2] = {FIC_ATTENTION_BACKEND_FA2, FIC_ATTENTION_BACKEND_FA3};
  for (int i = 0; i < (s->fa3 ? 2 : 1); i++) {
    fic_attention_plan *plan = plan_batch(s->k->rt, w.ws, &b, backends[i]);
    poison(&b);
    FIC_ASSERT_OK(run_batch(plan, &b, 0));
    CK(cudaDeviceSynchronize());
    check_batch(&b, want, want_lse, backend_name(backends[i]), 1.0);
    FIC_ASSERT_OK(fic_attention_plan_destroy(plan));
  }
  void *dev[] = {dapp_ckv, dapp_kpe, dbi, dpos, dkvi, dlast};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++) CK(cudaFree(dev[i]));
  free(append_indptr), free(bi), free(pos), free(last), free(app), free(want), free(want_lse);
  mla_batch_free(&b);
  gpu_ws_free(&w);
  kt_close(pk);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_mla_decode),
      cmocka_unit_test(test_mla_multi_token),
      cmocka_unit_test(test_mla_auto_and_options),
      cmocka_unit_test(test_mla_append_then_attend),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, teardown);
}
