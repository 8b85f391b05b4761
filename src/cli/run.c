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
  return fic_gdn_prefill(c->rt, &g->out, &g->state, &g->q, &g->k, &g->v, &g->cu, g->with_state ? &g->in_state : NULL,
                         g->with_alpha ? &g->alpha : NULL, g->with_beta ? &g->beta : NULL, g->scale, &g->ws, c->stream);
}

static float *to_f32(const double *x, size_t n) {
  float *f = malloc(n * sizeof *f);
  if (f)
    for (size_t i = 0; i < n; i++) f[i] = (float)x[i];
  return f;
}

/* Returns 0 when done (pass or fail noted), -1 when the module is missing. */
static int gdn_run(st_ctx *c, const gdn_spec *sp, int check) {
  const size_t d = 128, heads = sp->hq > sp->hv ? sp->hq : sp->hv, N = sp->num_seqs;
  int64_t cu[17] = {0};
  for (size_t i = 0; i < N && i < 16; i++) cu[i + 1] = cu[i] + sp->lens[i];
  size_t T = (size_t)cu[N], nq = T * sp->hq * d, nk = T * sp->hk * d, nv = T * sp->hv * d, no = T * heads * d,
         ns = N * heads * d * d, ng = T * heads;
  int rc = 0;
  st_arena a = {{0}, 0};
  uint16_t *hq = malloc(nq * 2), *hk = malloc(nk * 2), *hv = malloc(nv * 2), *ho = malloc(no * 2);
  double *dq = malloc(nq * 8), *dk = malloc(nk * 8), *dv = malloc(nv * 8), *dalpha = malloc(ng * 8),
         *dbeta = malloc(ng * 8), *dstate0 = malloc(ns * 8), *want_o = malloc(no * 8), *want_s = malloc(ns * 8),
         *got = malloc((no > ns ? no : ns) * 8);
  float *falpha = NULL, *fbeta = NULL, *fstate0 = NULL, *fstate = malloc(ns * 4);
  if (!hq || !hk || !hv || !ho || !dq || !dk || !dv || !dalpha || !dbeta || !dstate0 || !want_o || !want_s || !got ||
      !fstate) {
    fprintf(stderr, "run: out of host memory\n");
    note(c, ST_SETUP);
    goto out;
  }
  /* FlashInfer's tests: q, v ~ N(0, 1); k L2-normalised per head; gates in (0, 1). */
  ref_half_random(&c->rng, sp->kind, hq, dq, nq, 0, 1);
  for (size_t i = 0; i < nk; i++) dk[i] = ref_rng_normal(&c->rng);
  ref_l2_normalize(dk, T * sp->hk, d);
  for (size_t i = 0; i < nk; i++) {
    hk[i] = ref_half_from_double(sp->kind, dk[i]);
    dk[i] = ref_half_to_double(sp->kind, hk[i]);
  }
  ref_half_random(&c->rng, sp->kind, hv, dv, nv, 0, 1);
  ref_uniform(&c->rng, dalpha, ng, 0.9, 1.0);
  ref_uniform(&c->rng, dbeta, ng, 0.0, 1.0);
  for (size_t i = 0; i < ns; i++) dstate0[i] = 0.1 * ref_rng_normal(&c->rng);
  falpha = to_f32(dalpha, ng), fbeta = to_f32(dbeta, ng), fstate0 = to_f32(dstate0, ns);
  if (!falpha || !fbeta || !fstate0) goto out;
  for (size_t i = 0; i < ng; i++) dalpha[i] = falpha[i], dbeta[i] = fbeta[i];
  for (size_t i = 0; i < ns; i++) dstate0[i] = fstate0[i];

  size_t ws_bytes = 0;
  if (fic_gdn_prefill_workspace_size(c->sms > 0 ? c->sms : 1, &ws_bytes) != FIC_OK) goto out;
  int64_t sq[3] = {(int64_t)T, (int64_t)sp->hq, (int64_t)d}, sk[3] = {(int64_t)T, (int64_t)sp->hk, (int64_t)d},
          sv[3] = {(int64_t)T, (int64_t)sp->hv, (int64_t)d}, so[3] = {(int64_t)T, (int64_t)heads, (int64_t)d},
          ss[4] = {(int64_t)N, (int64_t)heads, (int64_t)d, (int64_t)d}, scu[1] = {(int64_t)N + 1},
          sg[2] = {(int64_t)T, (int64_t)heads}, sw[1] = {(int64_t)ws_bytes};
  fic_dtype dt = half_dtype(sp->kind);
  void *pq = dev_put(c, &a, hq, nq * 2), *pk = dev_put(c, &a, hk, nk * 2), *pv = dev_put(c, &a, hv, nv * 2),
       *po = dev_put(c, &a, NULL, no * 2), *ps = dev_put(c, &a, NULL, ns * 4), *pcu = dev_put(c, &a, cu, (N + 1) * 8),
       *ps0 = dev_put(c, &a, fstate0, ns * 4), *pa = dev_put(c, &a, falpha, ng * 4),
       *pb = dev_put(c, &a, fbeta, ng * 4), *pw = dev_put(c, &a, NULL, ws_bytes);
  if (!pq || !pk || !pv || !po || !ps || !pcu || !ps0 || !pa || !pb || !pw) goto out;
  gdn_case g = {tensor(po, c->dev, 3, so, dt),
                tensor(ps, c->dev, 4, ss, FIC_F32),
                tensor(pq, c->dev, 3, sq, dt),
                tensor(pk, c->dev, 3, sk, dt),
                tensor(pv, c->dev, 3, sv, dt),
                tensor(pcu, c->dev, 1, scu, FIC_I64),
                tensor(ps0, c->dev, 4, ss, FIC_F32),
                tensor(pa, c->dev, 2, sg, FIC_F32),
                tensor(pb, c->dev, 2, sg, FIC_F32),
                tensor(pw, c->dev, 1, sw, FIC_U8),
                sp->with_alpha,
                sp->with_beta,
                sp->with_state,
                sp->scale};
  fic_status s = call_gdn(c, &g);
  if (!check) {
    if (s == FIC_OK) {
      printf("  gdn_prefill: the call succeeded on this non-SM90 GPU (unexpected; not checked)\n");
    } else {
      printf("  gdn_prefill: not supported on SM %d.%d, as expected; the kernel says: %s [%s]\n", c->cc_major,
             c->cc_minor, fic_last_error_message(), fic_status_string(s));
      if (s == FIC_ERR_NOT_FOUND) rc = -1;
    }
    goto out;
  }
  if (s == FIC_ERR_NOT_FOUND) {
    printf("  gdn_prefill: skipped: %s\n", fic_last_error_message());
    rc = -1;
    goto out;
  }
  if (s != FIC_OK) {
    print_kernel_error("gdn_prefill", s);
    note(c, ST_MISMATCH);
    goto out;
  }
  if (!cuda_ok(c, c->cuda.StreamSynchronize(c->stream), "sync")) goto out;
  ref_gdn p = {N,
               cu,
               sp->hq,
               sp->hk,
               sp->hv,
               d,
               dq,
               dk,
               dv,
               sp->with_alpha ? dalpha : NULL,
               sp->with_beta ? dbeta : NULL,
               sp->with_state ? dstate0 : NULL,
               sp->scale};
  if (ref_gdn_prefill(&p, want_o, want_s) != 0) {
    fprintf(stderr, "run: bad gdn reference configuration\n");
    note(c, ST_SETUP);
    goto out;
  }
  double tol = sp->kind == REF_BF16 ? ST_GDN_TOL_BF16 : ST_GDN_TOL_F16;
  if (!cuda_ok(c, c->cuda.Memcpy(ho, po, no * 2, CUDART_DYN_D2H), "download")) goto out;
  ref_half_decode(sp->kind, ho, got, no);
  ref_err eo = ref_compare(got, want_o, no);
  if (!cuda_ok(c, c->cuda.Memcpy(fstate, ps, ns * 4, CUDART_DYN_D2H), "download")) goto out;
  for (size_t i = 0; i < ns; i++) got[i] = fstate[i];
  ref_err es = ref_compare(got, want_s, ns);
  int ok = eo.nonfinite == 0 && es.nonfinite == 0 && eo.rel_l2 <= tol && es.rel_l2 <= tol;
  double gpu_us, host_us;
  time_calls(c, call_gdn, &g, c->iters / 10 + 1, &gpu_us, &host_us);
  printf(
      "  gdn_prefill %-4s heads %zu/%zu/%zu T=%zu N=%zu%s%s%s  out rel_l2 %.2e  state rel_l2 %.2e (tol %.0e) %s"
      "  gpu %7.1f us/call  host %5.1f us/call\n",
      ref_half_name(sp->kind), sp->hq, sp->hk, sp->hv, T, N, sp->with_alpha ? " alpha" : "",
      sp->with_beta ? " beta" : "", sp->with_state ? " input_state" : "", eo.rel_l2, es.rel_l2, tol, ok ? "ok" : "FAIL",
      gpu_us, host_us);
  if (!ok) note(c, ST_MISMATCH);
out:
  arena_free(c, &a);
  free(hq), free(hk), free(hv), free(ho), free(dq), free(dk), free(dv), free(dalpha), free(dbeta), free(dstate0);
  free(want_o), free(want_s), free(got), free(falpha), free(fbeta), free(fstate0), free(fstate);
  return rc;
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
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++)
    if (gdn_run(c, &specs[i], 1) < 0) return;
}

/* ------------------------------------------------------------------ main */

static void usage(const char *verb) {
  printf("usage: flashinfer-c %s [--seed N] [--iters N] [--modules m1,m2]\n", verb);
  printf(
      "  Prepares the artifacts (the tool's options, else the environment), prints\n"
      "  their paths and, for each kernel whose module the wheel lacks, how to get it;\n"
      "  if a GPU is present, checks gemma_rmsnorm and gdn_prefill (those whose modules\n"
      "  are there) against float64 references and times them.\n"
      "  --seed N      RNG seed (default: from the clock; printed)\n"
      "  --iters N     timed calls per shape (default 200)\n"
      "  --modules L   comma-separated modules to prepare (strict; default: norm,gdn_prefill_sm90,\n"
      "                those the wheel holds)\n"
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
  c->cuda.DeviceGetAttribute(&c->cc_major, CUDART_DYN_ATTR_CC_MAJOR, c->dev);
  c->cuda.DeviceGetAttribute(&c->cc_minor, CUDART_DYN_ATTR_CC_MINOR, c->dev);
  c->cuda.DeviceGetAttribute(&c->sms, CUDART_DYN_ATTR_SM_COUNT, c->dev);
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
