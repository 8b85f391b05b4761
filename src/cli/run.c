/* SPDX-License-Identifier: Apache-2.0 */
/* The `run` verb of the CLI (cli_run, cli.h): open a runtime (preparing the artifacts), print
 * where everything is, and, when a GPU is there, run gemma_rmsnorm and
 * gdn_prefill on fresh random data against the float64 references in
 * reference.c, with CUDA-event timings. Uses only the public API plus a
 * dlopen'ed libcudart (cudart_dyn.c), so it runs where no toolkit is
 * installed and says "no GPU" rather than failing where none is present. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checks/cudart_dyn.h"
#include "checks/reference.h"
#include "cli/cli.h"
#include "flashinfer_c.h"

enum { ST_OK = 0, ST_MISMATCH = 1, ST_SETUP = 2 };

/* Tolerances on relative L2 error against float64. Norms: output rounding
 * dominates (measured on H100: f16 2.1e-4, bf16 1.7e-3). GDN: the chunked
 * tensor-core algorithm rounds intermediates to the input type. */
#define ST_NORM_TOL_F16 1e-3
#define ST_NORM_TOL_BF16 6e-3
#define ST_GDN_TOL_F16 5e-3
#define ST_GDN_TOL_BF16 2e-2
#define ST_MERGE_TOL_F16 2e-3 /* merge_state: f16 output rounding (rms ~3e-4) */
#define ST_MAX_ALLOCS 16

typedef struct st_ctx {
  fic_runtime *rt;
  cudart_dyn cuda;
  int dev, cc_major, cc_minor, sms;
  void *stream;
  ref_rng rng;
  int iters;
  int result; /* worst ST_* so far */
} st_ctx;

typedef struct st_arena {
  void *p[ST_MAX_ALLOCS];
  int n;
} st_arena;

static double now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void note(st_ctx *c, int result) {
  if (result > c->result) c->result = result;
}

static int cuda_ok(st_ctx *c, int err, const char *what) {
  if (err == 0) return 1;
  fprintf(stderr, "run: %s: CUDA error %d: %s\n", what, err, cudart_dyn_error(&c->cuda, err));
  note(c, ST_SETUP);
  return 0;
}

/* cudaMalloc + upload (host may be NULL: zero-fill). NULL on failure. */
static void *dev_put(st_ctx *c, st_arena *a, const void *host, size_t bytes) {
  void *p = NULL;
  if (a->n == ST_MAX_ALLOCS || !cuda_ok(c, c->cuda.Malloc(&p, bytes ? bytes : 1), "cudaMalloc")) return NULL;
  a->p[a->n++] = p;
  int err = host ? c->cuda.Memcpy(p, host, bytes, CUDART_DYN_H2D) : c->cuda.Memset(p, 0, bytes);
  return cuda_ok(c, err, "upload") ? p : NULL;
}

static void arena_free(st_ctx *c, st_arena *a) {
  while (a->n) c->cuda.Free(a->p[--a->n]);
}

static fic_tensor tensor(void *data, int dev, int32_t ndim, const int64_t *shape, fic_dtype dtype) {
  fic_tensor t = {data, {FIC_DEVICE_CUDA, dev}, ndim, dtype, shape, NULL, 0};
  return t;
}

static fic_dtype half_dtype(ref_half kind) { return kind == REF_BF16 ? FIC_BF16 : FIC_F16; }

static void print_kernel_error(const char *what, fic_status s) {
  fprintf(stderr, "run: %s failed: %s: %s\n", what, fic_status_string(s), fic_last_error_message());
}

/* Time `iters` back-to-back calls: GPU time per call from CUDA events, host
 * time per call from the clock (the calls are asynchronous). */
typedef fic_status (*st_call_fn)(st_ctx *c, void *user);
static void time_calls(st_ctx *c, st_call_fn call, void *user, int iters, double *gpu_us, double *host_us) {
  void *e0 = NULL, *e1 = NULL;
  *gpu_us = *host_us = -1;
  if (iters <= 0 || !cuda_ok(c, c->cuda.EventCreate(&e0), "cudaEventCreate")) return;
  if (!cuda_ok(c, c->cuda.EventCreate(&e1), "cudaEventCreate")) goto out;
  for (int i = 0; i < 3; i++) (void)call(c, user); /* warm-up */
  c->cuda.EventRecord(e0, c->stream);
  double t0 = now_us();
  for (int i = 0; i < iters; i++) (void)call(c, user);
  double t1 = now_us();
  c->cuda.EventRecord(e1, c->stream);
  float ms = 0;
  if (cuda_ok(c, c->cuda.EventSynchronize(e1), "cudaEventSynchronize") &&
      cuda_ok(c, c->cuda.EventElapsedTime(&ms, e0, e1), "cudaEventElapsedTime")) {
    *gpu_us = ms * 1e3 / iters;
    *host_us = (t1 - t0) / iters;
  }
out:
  if (e1) c->cuda.EventDestroy(e1);
  c->cuda.EventDestroy(e0);
}

/* ------------------------------------------------------------ gemma_rmsnorm */

typedef struct norm_case {
  fic_tensor out, in, w;
  double eps;
} norm_case;

static fic_status call_gemma(st_ctx *c, void *user) {
  norm_case *k = user;
  return fic_gemma_rmsnorm(c->rt, &k->out, &k->in, &k->w, k->eps, 0, c->stream);
}

static void gemma_case(st_ctx *c, ref_half kind, size_t rows, size_t hidden) {
  size_t n = rows * hidden;
  uint16_t *hin = malloc(n * 2), *hw = malloc(hidden * 2), *hout = malloc(n * 2);
  double *din = malloc(n * 8), *dw = malloc(hidden * 8), *want = malloc(n * 8), *got = malloc(n * 8);
  st_arena a = {{0}, 0};
  if (!hin || !hw || !hout || !din || !dw || !want || !got) {
    fprintf(stderr, "run: out of host memory\n");
    note(c, ST_SETUP);
    goto out;
  }
  ref_half_random(&c->rng, kind, hin, din, n, 0.0, 1.0);
  ref_half_random(&c->rng, kind, hw, dw, hidden, 0.0, 0.5);
  void *pin = dev_put(c, &a, hin, n * 2), *pw = dev_put(c, &a, hw, hidden * 2), *pout = dev_put(c, &a, NULL, n * 2);
  if (!pin || !pw || !pout) goto out;
  int64_t shape[2] = {(int64_t)rows, (int64_t)hidden}, wshape[1] = {(int64_t)hidden};
  norm_case k = {tensor(pout, c->dev, 2, shape, half_dtype(kind)), tensor(pin, c->dev, 2, shape, half_dtype(kind)),
                 tensor(pw, c->dev, 1, wshape, half_dtype(kind)), 1e-6};
  fic_status s = call_gemma(c, &k);
  if (s != FIC_OK) {
    print_kernel_error("gemma_rmsnorm", s);
    note(c, ST_MISMATCH);
    goto out;
  }
  if (!cuda_ok(c, c->cuda.StreamSynchronize(c->stream), "sync") ||
      !cuda_ok(c, c->cuda.Memcpy(hout, pout, n * 2, CUDART_DYN_D2H), "download"))
    goto out;
  ref_half_decode(kind, hout, got, n);
  ref_rmsnorm(din, dw, want, rows, hidden, k.eps, 1.0);
  ref_err e = ref_compare(got, want, n);
  double tol = kind == REF_BF16 ? ST_NORM_TOL_BF16 : ST_NORM_TOL_F16;
  int ok = e.nonfinite == 0 && e.rel_l2 <= tol;
  double gpu_us, host_us;
  time_calls(c, call_gemma, &k, c->iters, &gpu_us, &host_us);
  printf(
      "  gemma_rmsnorm %-4s %5zux%-5zu max_abs %.2e rel_l2 %.2e (tol %.0e) %s  gpu %7.1f us/call  host %5.1f us/call\n",
      ref_half_name(kind), rows, hidden, e.max_abs, e.rel_l2, tol, ok ? "ok  " : "FAIL", gpu_us, host_us);
  if (!ok) note(c, ST_MISMATCH);
out:
  arena_free(c, &a);
  free(hin), free(hw), free(hout), free(din), free(dw), free(want), free(got);
}

/* ------------------------------------------------------------- gdn_prefill */

typedef struct gdn_spec {
  ref_half kind;
  size_t hq, hk, hv;
  const int64_t *lens;
  size_t num_seqs;
  int with_alpha, with_beta, with_state;
  double scale;
} gdn_spec;

typedef struct gdn_case {
  fic_tensor out, state, q, k, v, cu, in_state, alpha, beta, ws;
  int with_alpha, with_beta, with_state;
  double scale;
} gdn_case;

static fic_status call_gdn(st_ctx *c, void *user) {
  gdn_case *g = user;
  fic_gdn_prefill_params p;
  fic_gdn_prefill_params_init(&p);
  p.output = &g->out, p.output_state = &g->state, p.q = &g->q, p.k = &g->k, p.v = &g->v, p.cu_seqlens = &g->cu;
  p.input_state = g->with_state ? &g->in_state : NULL;
  p.alpha = g->with_alpha ? &g->alpha : NULL;
  p.beta = g->with_beta ? &g->beta : NULL;
  p.scale = g->scale;
  p.workspace = &g->ws;
  return fic_gdn_prefill(c->rt, &p, c->stream);
}

static float *to_f32(const double *x, size_t n) {
  float *f = malloc(n * sizeof *f);
  if (f)
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
  return f;
}

/* Host side of one gdn_prefill case: sizes, the inputs (as uploaded and as
 * the exact doubles the reference sees), room for the results, and the shapes
 * the tensors point at. */
typedef struct gdn_host {
  size_t d, heads, n, t, nq, nk, nv, no, ns, ng;
  int64_t cu[17];
  int64_t sq[3], sk[3], sv[3], so[3], ss[4], scu[1], sg[2], sw[1];
  uint16_t *hq, *hk, *hv, *ho;
  double *dq, *dk, *dv, *dalpha, *dbeta, *dstate0, *want_o, *want_s, *got;
  float *falpha, *fbeta, *fstate0, *fstate;
} gdn_host;

static void gdn_host_free(gdn_host *h) {
  free(h->hq), free(h->hk), free(h->hv), free(h->ho), free(h->dq), free(h->dk), free(h->dv), free(h->dalpha);
  free(h->dbeta), free(h->dstate0), free(h->want_o), free(h->want_s), free(h->got), free(h->falpha), free(h->fbeta);
  free(h->fstate0), free(h->fstate);
}

/* Sizes and buffers; 0, or -1 (noted) when out of memory. */
static int gdn_host_alloc(st_ctx *c, const gdn_spec *sp, gdn_host *h) {
  memset(h, 0, sizeof *h);
  h->d = 128, h->heads = sp->hq > sp->hv ? sp->hq : sp->hv, h->n = sp->num_seqs;
  for (size_t i = 0; i < h->n && i < 16; i++) h->cu[i + 1] = h->cu[i] + sp->lens[i];
  h->t = (size_t)h->cu[h->n];
  h->nq = h->t * sp->hq * h->d, h->nk = h->t * sp->hk * h->d, h->nv = h->t * sp->hv * h->d;
  h->no = h->t * h->heads * h->d, h->ns = h->n * h->heads * h->d * h->d, h->ng = h->t * h->heads;
  h->hq = malloc(h->nq * 2), h->hk = malloc(h->nk * 2), h->hv = malloc(h->nv * 2), h->ho = malloc(h->no * 2);
  h->dq = malloc(h->nq * 8), h->dk = malloc(h->nk * 8), h->dv = malloc(h->nv * 8), h->dalpha = malloc(h->ng * 8);
  h->dbeta = malloc(h->ng * 8), h->dstate0 = malloc(h->ns * 8), h->want_o = malloc(h->no * 8);
  h->want_s = malloc(h->ns * 8), h->got = malloc((h->no > h->ns ? h->no : h->ns) * 8), h->fstate = malloc(h->ns * 4);
  if (h->hq && h->hk && h->hv && h->ho && h->dq && h->dk && h->dv && h->dalpha && h->dbeta && h->dstate0 && h->want_o &&
      h->want_s && h->got && h->fstate)
    return 0;
  fprintf(stderr, "run: out of host memory\n");
  note(c, ST_SETUP);
  return -1;
}

/* FlashInfer's tests: q, v ~ N(0, 1); k L2-normalised per head; gates in (0, 1). */
static int gdn_random_inputs(st_ctx *c, const gdn_spec *sp, gdn_host *h) {
  ref_half_random(&c->rng, sp->kind, h->hq, h->dq, h->nq, 0, 1);
  for (size_t i = 0; i < h->nk; i++) h->dk[i] = ref_rng_normal(&c->rng);
  ref_l2_normalize(h->dk, h->t * sp->hk, h->d);
  for (size_t i = 0; i < h->nk; i++) {
    h->hk[i] = ref_half_from_double(sp->kind, h->dk[i]);
    h->dk[i] = ref_half_to_double(sp->kind, h->hk[i]);
  }
  ref_half_random(&c->rng, sp->kind, h->hv, h->dv, h->nv, 0, 1);
  ref_uniform(&c->rng, h->dalpha, h->ng, 0.9, 1.0);
  ref_uniform(&c->rng, h->dbeta, h->ng, 0.0, 1.0);
  for (size_t i = 0; i < h->ns; i++) h->dstate0[i] = 0.1 * ref_rng_normal(&c->rng);
  h->falpha = to_f32(h->dalpha, h->ng), h->fbeta = to_f32(h->dbeta, h->ng), h->fstate0 = to_f32(h->dstate0, h->ns);
  if (!h->falpha || !h->fbeta || !h->fstate0) return -1;
  /* The reference sees exactly the float32 values the kernel gets. */
  for (size_t i = 0; i < h->ng; i++) h->dalpha[i] = h->falpha[i], h->dbeta[i] = h->fbeta[i];
  for (size_t i = 0; i < h->ns; i++) h->dstate0[i] = h->fstate0[i];
  return 0;
}

static void set_shape(int64_t *shape, int64_t a, int64_t b, int64_t c, int64_t d) {
  shape[0] = a, shape[1] = b, shape[2] = c, shape[3] = d;
}

/* Upload the inputs into `a` and describe every tensor in `g`; 0 or -1. */
static int gdn_upload(st_ctx *c, st_arena *a, const gdn_spec *sp, gdn_host *h, gdn_case *g) {
  size_t ws_bytes = 0;
  if (fic_gdn_prefill_workspace_size(c->sms > 0 ? c->sms : 1, &ws_bytes) != FIC_OK) return -1;
  int64_t t = (int64_t)h->t, heads = (int64_t)h->heads, d = (int64_t)h->d, n = (int64_t)h->n, tmp[4];
  set_shape(tmp, t, (int64_t)sp->hq, d, 0), memcpy(h->sq, tmp, sizeof h->sq);
  set_shape(tmp, t, (int64_t)sp->hk, d, 0), memcpy(h->sk, tmp, sizeof h->sk);
  set_shape(tmp, t, (int64_t)sp->hv, d, 0), memcpy(h->sv, tmp, sizeof h->sv);
  set_shape(tmp, t, heads, d, 0), memcpy(h->so, tmp, sizeof h->so);
  set_shape(h->ss, n, heads, d, d);
  h->scu[0] = n + 1, h->sg[0] = t, h->sg[1] = heads, h->sw[0] = (int64_t)ws_bytes;
  void *pq = dev_put(c, a, h->hq, h->nq * 2), *pk = dev_put(c, a, h->hk, h->nk * 2),
       *pv = dev_put(c, a, h->hv, h->nv * 2), *po = dev_put(c, a, NULL, h->no * 2),
       *ps = dev_put(c, a, NULL, h->ns * 4), *pcu = dev_put(c, a, h->cu, (h->n + 1) * 8),
       *ps0 = dev_put(c, a, h->fstate0, h->ns * 4), *pa = dev_put(c, a, h->falpha, h->ng * 4),
       *pb = dev_put(c, a, h->fbeta, h->ng * 4), *pw = dev_put(c, a, NULL, ws_bytes);
  if (!pq || !pk || !pv || !po || !ps || !pcu || !ps0 || !pa || !pb || !pw) return -1;
  fic_dtype dt = half_dtype(sp->kind);
  g->out = tensor(po, c->dev, 3, h->so, dt), g->state = tensor(ps, c->dev, 4, h->ss, FIC_F32);
  g->q = tensor(pq, c->dev, 3, h->sq, dt), g->k = tensor(pk, c->dev, 3, h->sk, dt);
  g->v = tensor(pv, c->dev, 3, h->sv, dt), g->cu = tensor(pcu, c->dev, 1, h->scu, FIC_I64);
  g->in_state = tensor(ps0, c->dev, 4, h->ss, FIC_F32), g->alpha = tensor(pa, c->dev, 2, h->sg, FIC_F32);
  g->beta = tensor(pb, c->dev, 2, h->sg, FIC_F32), g->ws = tensor(pw, c->dev, 1, h->sw, FIC_U8);
  g->with_alpha = sp->with_alpha, g->with_beta = sp->with_beta, g->with_state = sp->with_state, g->scale = sp->scale;
  return 0;
}

/* After a successful call: compare with the float64 reference, time, print. */
static void gdn_check(st_ctx *c, const gdn_spec *sp, gdn_host *h, gdn_case *g) {
  if (!cuda_ok(c, c->cuda.StreamSynchronize(c->stream), "sync")) return;
  ref_gdn p = {h->n,
               h->cu,
               sp->hq,
               sp->hk,
               sp->hv,
               h->d,
               h->dq,
               h->dk,
               h->dv,
               sp->with_alpha ? h->dalpha : NULL,
               sp->with_beta ? h->dbeta : NULL,
               sp->with_state ? h->dstate0 : NULL,
               sp->scale};
  if (ref_gdn_prefill(&p, h->want_o, h->want_s) != 0) {
    fprintf(stderr, "run: bad gdn reference configuration\n");
    note(c, ST_SETUP);
    return;
  }
  double tol = sp->kind == REF_BF16 ? ST_GDN_TOL_BF16 : ST_GDN_TOL_F16;
  if (!cuda_ok(c, c->cuda.Memcpy(h->ho, g->out.data, h->no * 2, CUDART_DYN_D2H), "download")) return;
  ref_half_decode(sp->kind, h->ho, h->got, h->no);
  ref_err eo = ref_compare(h->got, h->want_o, h->no);
  if (!cuda_ok(c, c->cuda.Memcpy(h->fstate, g->state.data, h->ns * 4, CUDART_DYN_D2H), "download")) return;
  for (size_t i = 0; i < h->ns; i++) h->got[i] = h->fstate[i];
  ref_err es = ref_compare(h->got, h->want_s, h->ns);
  int ok = eo.nonfinite == 0 && es.nonfinite == 0 && eo.rel_l2 <= tol && es.rel_l2 <= tol;
  double gpu_us, host_us;
  time_calls(c, call_gdn, g, c->iters / 10 + 1, &gpu_us, &host_us);
  printf(
      "  gdn_prefill %-4s heads %zu/%zu/%zu T=%zu N=%zu%s%s%s  out rel_l2 %.2e  state rel_l2 %.2e (tol %.0e) %s"
      "  gpu %7.1f us/call  host %5.1f us/call\n",
      ref_half_name(sp->kind), sp->hq, sp->hk, sp->hv, h->t, h->n, sp->with_alpha ? " alpha" : "",
      sp->with_beta ? " beta" : "", sp->with_state ? " input_state" : "", eo.rel_l2, es.rel_l2, tol, ok ? "ok" : "FAIL",
      gpu_us, host_us);
  if (!ok) note(c, ST_MISMATCH);
}

/* One case. `check` = 0 on a GPU the kernel does not support: call once
 * and report what the kernel says. */
static void gdn_run(st_ctx *c, const gdn_spec *sp, int check) {
  gdn_host h;
  st_arena a = {{0}, 0};
  gdn_case g;
  memset(&g, 0, sizeof g);
  if (gdn_host_alloc(c, sp, &h) == 0 && gdn_random_inputs(c, sp, &h) == 0 && gdn_upload(c, &a, sp, &h, &g) == 0) {
    fic_status s = call_gdn(c, &g);
    if (!check && s == FIC_OK)
      printf("  gdn_prefill: the call succeeded on this non-SM90 GPU (unexpected; not checked)\n");
    else if (!check)
      printf("  gdn_prefill: not supported on SM %d.%d, as expected; the kernel says: %s [%s]\n", c->cc_major,
             c->cc_minor, fic_last_error_message(), fic_status_string(s));
    else if (s != FIC_OK)
      print_kernel_error("gdn_prefill", s), note(c, ST_MISMATCH);
    else
      gdn_check(c, sp, &h, &g);
  }
  arena_free(c, &a);
  gdn_host_free(&h);
}

static void gdn_cases(st_ctx *c) {
  static const int64_t lens_a[] = {37, 64, 130}, lens_b[] = {100, 1};
  const gdn_spec specs[] = {
      {REF_BF16, 4, 2, 2, lens_a, 3, 1, 1, 1, 0.0}, /* GQA, all optional inputs */
      {REF_F16, 4, 2, 2, lens_a, 3, 1, 1, 1, 0.0},
      {REF_F16, 2, 2, 4, lens_b, 2, 1, 0, 0, 0.5},  /* GVA, alpha only, explicit scale */
      {REF_BF16, 2, 2, 4, lens_b, 2, 0, 1, 0, 0.0}, /* GVA, beta only */
  };
  int check = c->cc_major == 9;
  if (!check) {
    gdn_run(c, &specs[0], 0);
    return;
  }
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) gdn_run(c, &specs[i], 1);
}

/* ------------------------------------------------------------ page + cascade */

/* One append: 3 requests (prior lengths 5, 0, 17; appending 4, 9, 1) into
 * 16-entry pages drawn in reverse order from a poisoned pool of 8, NHD, f16,
 * H 4, D 128; the caches must equal the float64 scatter exactly. */
#define PG_B 3
#define PG_PAGES 8
#define PG_PS 16
#define PG_H 4
#define PG_D 128
#define PG_ELEMS ((size_t)PG_PAGES * PG_PS * PG_H * PG_D)

static int page_tables(int32_t *indptr, int32_t *last, int32_t *indices, int32_t *bi, int32_t *pos, int32_t *nnz) {
  static const int32_t prior[PG_B] = {5, 0, 17}, added[PG_B] = {4, 9, 1};
  int32_t append_indptr[PG_B + 1] = {0}, seq[PG_B];
  indptr[0] = 0;
  for (int b = 0; b < PG_B; b++) {
    int32_t len = prior[b] + added[b], pages = (len + PG_PS - 1) / PG_PS;
    indptr[b + 1] = indptr[b] + pages, last[b] = len - (pages - 1) * PG_PS;
    append_indptr[b + 1] = append_indptr[b] + added[b];
  }
  for (int i = 0; i < PG_PAGES; i++) indices[i] = PG_PAGES - 1 - i;
  *nnz = append_indptr[PG_B];
  return fic_paged_kv_seq_lens(indptr, last, PG_PS, PG_B, seq) == FIC_OK &&
         fic_batch_indices_positions(append_indptr, seq, PG_B, bi, pos, *nnz) == FIC_OK;
}

static void page_check(st_ctx *c) {
  int32_t indptr[PG_B + 1], last[PG_B], indices[PG_PAGES], bi[64], pos[64], nnz = 0;
  uint16_t *hk = malloc(64 * PG_H * PG_D * 2), *hc = malloc(PG_ELEMS * 2);
  double *kx = malloc(64 * PG_H * PG_D * 8), *want = malloc(PG_ELEMS * 8), *got = malloc(PG_ELEMS * 8);
  st_arena a = {{0}, 0};
  if (!hk || !hc || !kx || !want || !got || !page_tables(indptr, last, indices, bi, pos, &nnz)) {
    fprintf(stderr, "run: page setup failed: %s\n", fic_last_error_message());
    note(c, ST_SETUP);
    goto out;
  }
  ref_half_random(&c->rng, REF_F16, hk, kx, (size_t)nnz * PG_H * PG_D, 0.0, 1.0);
  for (size_t i = 0; i < PG_ELEMS; i++) hc[i] = 0x5555; /* poison: every slot not appended must keep it */
  ref_half_decode(REF_F16, hc, want, PG_ELEMS);
  ref_paged_kv rc = {PG_H, PG_D, PG_PS, 0, indices, indptr};
  ref_append_paged_kv(&rc, want, kx, bi, pos, (size_t)nnz);
  void *dk = dev_put(c, &a, hk, (size_t)nnz * PG_H * PG_D * 2), *dc = dev_put(c, &a, hc, PG_ELEMS * 2);
  void *dv = dev_put(c, &a, hc, PG_ELEMS * 2), *dbi = dev_put(c, &a, bi, (size_t)nnz * 4);
  void *dpos = dev_put(c, &a, pos, (size_t)nnz * 4), *didx = dev_put(c, &a, indices, sizeof indices);
  void *dptr = dev_put(c, &a, indptr, sizeof indptr), *dlast = dev_put(c, &a, last, sizeof last);
  if (!dk || !dc || !dv || !dbi || !dpos || !didx || !dptr || !dlast) goto out;
  int64_t sk[3] = {nnz, PG_H, PG_D}, sc[4] = {PG_PAGES, PG_PS, PG_H, PG_D}, sn[1] = {nnz}, sp[1] = {indptr[PG_B]},
          sb1[1] = {PG_B + 1}, sb[1] = {PG_B};
  fic_tensor k = tensor(dk, c->dev, 3, sk, FIC_F16), kc = tensor(dc, c->dev, 4, sc, FIC_F16),
             vc = tensor(dv, c->dev, 4, sc, FIC_F16), tbi = tensor(dbi, c->dev, 1, sn, FIC_I32),
             tpos = tensor(dpos, c->dev, 1, sn, FIC_I32), tidx = tensor(didx, c->dev, 1, sp, FIC_I32),
             tptr = tensor(dptr, c->dev, 1, sb1, FIC_I32), tlast = tensor(dlast, c->dev, 1, sb, FIC_I32);
  fic_append_paged_kv_cache_params p;
  fic_append_paged_kv_cache_params_init(&p);
  p.append_key = &k, p.append_value = &k, p.batch_indices = &tbi, p.positions = &tpos;
  p.paged_k_cache = &kc, p.paged_v_cache = &vc, p.kv_indices = &tidx, p.kv_indptr = &tptr, p.kv_last_page_len = &tlast;
  fic_status s = fic_append_paged_kv_cache(c->rt, &p, c->stream);
  if (s != FIC_OK) {
    print_kernel_error("append_paged_kv_cache", s);
    note(c, ST_MISMATCH);
    goto out;
  }
  if (!cuda_ok(c, c->cuda.StreamSynchronize(c->stream), "cudaStreamSynchronize") ||
      !cuda_ok(c, c->cuda.Memcpy(hc, dv, PG_ELEMS * 2, CUDART_DYN_D2H), "download"))
    goto out;
  ref_half_decode(REF_F16, hc, got, PG_ELEMS);
  size_t bad = 0;
  for (size_t i = 0; i < PG_ELEMS; i++) bad += got[i] != want[i];
  printf("  append_paged_kv_cache NHD f16 page %d, %d entries: %zu of %zu cache elements differ  %s\n", PG_PS, nnz, bad,
         PG_ELEMS, bad ? "FAIL" : "ok");
  if (bad) note(c, ST_MISMATCH);
out:
  arena_free(c, &a);
  free(hk), free(hc), free(kx), free(want), free(got);
}

/* merge_state of two random states (f16, seq 7, H 4, D 128) against the
 * float64 log-sum-exp merge. */
#define MS_ROWS (7 * 4)
#define MS_D 128
static void merge_check(st_ctx *c) {
  size_t nv = MS_ROWS * MS_D;
  uint16_t *hv = malloc(2 * nv * 2);
  float hs[2 * MS_ROWS];
  double *v = malloc(2 * nv * 8), s[2 * MS_ROWS], *want = malloc(nv * 8), ws[MS_ROWS], *got = malloc(nv * 8);
  st_arena a = {{0}, 0};
  if (!hv || !v || !want || !got) goto out;
  ref_half_random(&c->rng, REF_F16, hv, v, 2 * nv, 0.0, 1.0);
  for (size_t i = 0; i < 2 * MS_ROWS; i++) hs[i] = (float)(4.0 * ref_rng_normal(&c->rng)), s[i] = hs[i];
  ref_merge_state(v, s, v + nv, s + MS_ROWS, want, ws, MS_ROWS, 1, MS_D);
  void *dv = dev_put(c, &a, hv, 2 * nv * 2), *ds = dev_put(c, &a, hs, sizeof hs);
  void *dm = dev_put(c, &a, NULL, nv * 2), *dsm = dev_put(c, &a, NULL, MS_ROWS * 4);
  if (!dv || !ds || !dm || !dsm) goto out;
  int64_t shv[3] = {7, 4, MS_D}, shs[2] = {7, 4};
  fic_tensor va = tensor(dv, c->dev, 3, shv, FIC_F16), vb = tensor((char *)dv + nv * 2, c->dev, 3, shv, FIC_F16),
             sa = tensor(ds, c->dev, 2, shs, FIC_F32), sb = tensor((char *)ds + MS_ROWS * 4, c->dev, 2, shs, FIC_F32),
             vm = tensor(dm, c->dev, 3, shv, FIC_F16), sm = tensor(dsm, c->dev, 2, shs, FIC_F32);
  fic_status st = fic_merge_state(c->rt, &va, &sa, &vb, &sb, &vm, &sm, c->stream);
  if (st != FIC_OK) {
    print_kernel_error("merge_state", st);
    note(c, ST_MISMATCH);
    goto out;
  }
  if (!cuda_ok(c, c->cuda.StreamSynchronize(c->stream), "cudaStreamSynchronize") ||
      !cuda_ok(c, c->cuda.Memcpy(hv, dm, nv * 2, CUDART_DYN_D2H), "download"))
    goto out;
  ref_half_decode(REF_F16, hv, got, nv);
  ref_err e = ref_compare(got, want, nv);
  int ok = e.nonfinite == 0 && e.rel_l2 <= ST_MERGE_TOL_F16;
  printf("  merge_state f16 7x4x128: rel_l2 %.2e (tol %.0e)  %s\n", e.rel_l2, ST_MERGE_TOL_F16, ok ? "ok" : "FAIL");
  if (!ok) note(c, ST_MISMATCH);
out:
  arena_free(c, &a);
  free(hv), free(v), free(want), free(got);
}

static void page_cascade_checks(st_ctx *c) {
  if (!cli_has_module(c->rt, "page"))
    printf("append_paged_kv_cache: not run (module page not prepared; add it with --modules ...,page,cascade)\n");
  else
    page_check(c);
  if (!cli_has_module(c->rt, "cascade"))
    printf("merge_state: not run (module cascade not prepared; add it with --modules ...,page,cascade)\n");
  else
    merge_check(c);
}

/* ------------------------------------------------------------------ main */

static void usage(const char *verb) {
  printf("usage: flashinfer-c %s [--seed N] [--iters N] [--modules m1,m2]\n", verb);
  printf(
      "  Prepares the artifacts (the tool's options, else the environment), prints\n"
      "  their paths and, for each kernel whose module the wheel lacks, how to get it;\n"
      "  if a GPU is present, checks gemma_rmsnorm and gdn_prefill (those whose modules\n"
      "  are there) against float64 references and times them, and a bf16 batch decode\n"
      "  when its module (head dim 128) is prepared.\n"
      "  --seed N      RNG seed (default: from the clock; printed)\n"
      "  --iters N     timed calls per shape (default 200)\n"
      "  --modules L   comma-separated modules to prepare up front (strict; default: norm and\n"
      "                gdn_prefill_sm90, each extracted if the wheel holds it)\n"
      "exit status: 0 passed (or no GPU, or modules missing), 1 mismatch or kernel error, 2 setup failed\n");
}

/* --seed, --iters, --help (--modules is a common option, main.c). -1: usage
 * printed, exit with *rc. */
static int parse_run_args(st_ctx *c, int argc, char **argv, uint64_t *seed, int *rc) {
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      usage(argv[0]);
      *rc = ST_OK;
      return -1;
    } else if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
      *seed = strtoull(argv[++i], NULL, 0);
    } else if (!strcmp(argv[i], "--iters") && i + 1 < argc) {
      c->iters = atoi(argv[++i]);
    } else {
      fprintf(stderr, "run: unknown argument '%s'\n", argv[i]);
      usage(argv[0]);
      *rc = ST_SETUP;
      return -1;
    }
  }
  return 0;
}

/* Load libcudart and pick GPU 0. 1: ready; 0: no GPU (said so); -1: setup error. */
static int open_gpu(st_ctx *c) {
  const char *cudart_path = NULL;
  if (fic_runtime_path(c->rt, FIC_PATH_LIBCUDART, &cudart_path) != FIC_OK) cudart_path = NULL;
  char err[1024];
  int ndev = 0;
  if (cudart_dyn_open(&c->cuda, cudart_path, err, sizeof err) != 0) {
    printf("no CUDA runtime (%s): artifacts prepared; GPU checks skipped\n", err);
    return 0;
  }
  int e = c->cuda.GetDeviceCount(&ndev);
  if (e != 0 || ndev == 0) {
    printf("no GPU (%s): artifacts prepared; GPU checks skipped\n",
           e ? cudart_dyn_error(&c->cuda, e) : "cudaGetDeviceCount returned 0");
    return 0;
  }
  int rtv = 0, drv = 0;
  c->cuda.RuntimeGetVersion(&rtv);
  c->cuda.DriverGetVersion(&drv);
  c->cuda.DeviceGetAttribute(&c->cc_major, FIC_CUDA_ATTR_CC_MAJOR, c->dev);
  c->cuda.DeviceGetAttribute(&c->cc_minor, FIC_CUDA_ATTR_CC_MINOR, c->dev);
  c->cuda.DeviceGetAttribute(&c->sms, FIC_CUDA_ATTR_SM_COUNT, c->dev);
  printf("GPU 0 of %d: SM %d.%d, %d SMs; CUDA runtime %d, driver %d\n", ndev, c->cc_major, c->cc_minor, c->sms, rtv,
         drv);
  if (!cuda_ok(c, c->cuda.SetDevice(c->dev), "cudaSetDevice") ||
      !cuda_ok(c, c->cuda.StreamCreateWithFlags(&c->stream, CUDART_DYN_STREAM_NON_BLOCKING), "cudaStreamCreate"))
    return -1;
  return 1;
}

/* Each kernel whose module was prepared; the others were reported missing. */
static void run_kernels(st_ctx *c, const fic_config *cfg) {
  double t0 = now_us();
  fic_status s = fic_runtime_preload(c->rt, cfg->modules);
  double t1 = now_us();
  if (s != FIC_OK)
    printf("preload: %s: %s (continuing; calls load lazily)\n", fic_status_string(s), fic_last_error_message());
  else
    printf("modules loaded in %.1f ms\n", (t1 - t0) / 1e3);
  static const size_t shapes[][2] = {{1, 4096}, {3, 1536}, {33, 3072}, {7, 4000}, {5, 1001}, {512, 4096}};
  if (!cli_has_module(c->rt, "norm")) {
    printf("gemma_rmsnorm: not run (module norm not prepared)\n");
  } else {
    printf("gemma_rmsnorm vs float64 (eps 1e-6):\n");
    for (int k = 0; k < 2; k++)
      for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        gemma_case(c, k ? REF_BF16 : REF_F16, shapes[i][0], shapes[i][1]);
  }
  if (!cli_has_module(c->rt, "gdn_prefill_sm90")) {
    printf("gdn_prefill: not run (module gdn_prefill_sm90 not prepared)\n");
  } else {
    printf("gdn_prefill vs float64 (head size 128):\n");
    gdn_cases(c);
  }
  page_cascade_checks(c);
  if (!cli_has_module(c->rt, "sampling")) {
    printf("sampling: not run (module sampling not prepared; add it with --modules ...,sampling)\n");
  } else {
    printf("sampling (softmax vs float64, top-p sampling):\n");
    note(c, cli_run_sampling(c->rt, &c->cuda, c->dev, c->stream, &c->rng));
  }
  if (!cli_has_module(c->rt, CLI_DECODE_MODULE)) {
    printf("batch decode: not run (module %s not prepared)\n", CLI_DECODE_MODULE);
  } else {
    printf("batch decode vs float64 (paged KV, shuffled pages):\n");
    note(c, cli_run_decode(c->rt, &c->cuda, c->dev, c->stream, &c->rng));
  }
  if (!cli_has_module(c->rt, CLI_PREFILL_MODULE)) {
    printf("batch prefill: not run (module %s not prepared)\n", CLI_PREFILL_MODULE);
  } else {
    printf("batch prefill vs float64 (paged KV, shuffled pages, causal):\n");
    note(c, cli_run_prefill(c->rt, &c->cuda, c->dev, c->stream, &c->rng));
  }
}

int cli_run(const fic_config *base, int argc, char **argv) {
  st_ctx c;
  memset(&c, 0, sizeof c);
  c.iters = 200;
  uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)clock() << 32);
  int rc = ST_OK;
  if (parse_run_args(&c, argc, argv, &seed, &rc) != 0) return rc;
  ref_rng_seed(&c.rng, seed);

  const char *version = "?";
  fic_version(NULL, &version);
  printf("flashinfer-c %s run (seed %" PRIu64 ")\n", version, seed);

  double t0 = now_us();
  fic_status s = fic_runtime_open(base, &c.rt);
  double t1 = now_us();
  if (s != FIC_OK) {
    cli_report("preparing artifacts", s);
    return ST_SETUP;
  }
  printf("artifacts ready in %.1f ms:\n", (t1 - t0) / 1e3);
  cli_print_paths(c.rt, 1);
  cli_print_modules(c.rt, base);

  int gpu = open_gpu(&c);
  if (gpu < 0) c.result = ST_SETUP;
  if (gpu > 0) {
    run_kernels(&c, base);
    c.cuda.StreamDestroy(c.stream);
  }
  fic_runtime_close(c.rt);
  if (gpu > 0 || gpu < 0)
    printf("run: %s\n", c.result == ST_OK ? "PASSED" : (c.result == ST_MISMATCH ? "FAILED" : "SETUP ERROR"));
  return c.result;
}
