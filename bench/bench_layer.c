/* SPDX-License-Identifier: Apache-2.0 */
/* bench_layer: flashinfer-c's side of the RoPE / activation / sampling
 * benchmarks (issue #14) on FlashInfer 0.6.3's rope, silu_and_mul and
 * sampling modules. bench/bench_layer_py.py measures FlashInfer's Python
 * functions on the same problems; bench/run_layer_bench.sh runs both.
 *
 *   0. correctness: each kernel's typed call and the raw safe call of the
 *      same export give bitwise identical outputs (sampling: same ids for
 *      the same Philox seed/offset); softmax rows sum to 1; ids in range.
 *      The sampled ids of one fixed case go to layer_ids.csv, which the
 *      Python side reproduces with the same seed/offset.
 *   1. host cost per call of one small problem each: typed call vs the raw
 *      __tvm_ffi_<name> safe call (dlsym'ed from the module the runtime
 *      loaded) vs an empty cudaLaunchKernel; calls enqueued in chunks behind
 *      a gate kernel so the host never waits for the GPU.
 *   2. sampling throughput: GPU time per call (CUDA events, calls queued
 *      behind the gate) of top_p_sampling_from_probs and
 *      top_k_top_p_sampling_from_probs (top-k first) at vocab 32k/128k/256k,
 *      batch 1/8/64/512, on probabilities = softmax(logits) of logits read
 *      from LOGITS_DIR/logits_<V>.f32 (written here when absent, so both
 *      sides sample the same distributions).
 *
 *   --breakdown: the typed calls' argument validation alone, timed on empty
 *      problems (the calls validate, then return without launching).
 *
 * usage: bench_layer --jit-cache-wheel W --tvmffi-wheel T [--out DIR]
 *                    [--cache-dir DIR] [--logits-dir DIR] [--quick]
 *                    [--breakdown] [--no-host]
 * Exits 1 if a correctness check fails. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_gpu_kernels.h"
#include "bench_util.h"
#include "flashinfer_c.h"

#define MAX_REPS 64
#define ROUNDS 7
#define MAX_BATCH 512
#define TOP_P 0.9
#define TOP_K 50
#define SMALL_VOCAB 32768

static struct {
  const char *jit, *tvmffi, *out, *cache, *logits_dir;
  int quick, breakdown, no_host;
} opt = {NULL, NULL, "bench-layer-out", "/tmp/fic-layer-cache", "/tmp/fic-layer-logits", 0, 0, 0};

static void parse(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--quick") || !strcmp(a, "--breakdown") || !strcmp(a, "--no-host")) {
      opt.quick |= !strcmp(a, "--quick");
      opt.breakdown |= !strcmp(a, "--breakdown");
      opt.no_host |= !strcmp(a, "--no-host");
      continue;
    }
    if (i + 1 >= argc) die("%s needs a value", a);
    const char *v = argv[++i];
    if (!strcmp(a, "--jit-cache-wheel"))
      opt.jit = v;
    else if (!strcmp(a, "--tvmffi-wheel"))
      opt.tvmffi = v;
    else if (!strcmp(a, "--out"))
      opt.out = v;
    else if (!strcmp(a, "--cache-dir"))
      opt.cache = v;
    else if (!strcmp(a, "--logits-dir"))
      opt.logits_dir = v;
    else
      die("unknown option %s", a);
  }
  if (!opt.jit || !opt.tvmffi) die("usage: bench_layer --jit-cache-wheel W --tvmffi-wheel T [--out DIR] [--quick]");
}
static FILE *csv_open(const char *name, const char *header) { return bench_csv_open(opt.out, name, header, 0); }

/* ---- stream, gate, events ---- */

static cudaEvent_t g_ev0[MAX_REPS], g_ev1[MAX_REPS];

static void device_init(void) { bench_device_init(g_ev0, g_ev1, MAX_REPS); }

static void tens_new(tens *x, fic_dtype dt, int nd, const int64_t *shape, size_t elem) {
  size_t n = 1;
  for (int i = 0; i < nd; i++) n *= (size_t)shape[i];
  tens_set(x, dalloc(n * elem), FIC_DEVICE_CUDA, dt, nd, shape);
}

/* ---- raw TVM-FFI safe calls ---- */

enum { K_ROPE, K_SILU, K_SOFTMAX, K_TOP_P, K_TOP_K_RENORM, K_COUNT };
static const char *const k_name[K_COUNT] = {"apply_rope_pos_ids", "silu_and_mul", "softmax",
                                            "top_p_sampling_from_probs", "top_k_renorm_probs"};
static const char *const k_module[K_COUNT] = {"rope", "silu_and_mul", "sampling", "sampling", "sampling"};
static struct {
  raw_ffi ffi;
  raw_fn fn[K_COUNT];
} raw;

static void raw_init(fic_runtime *rt) {
  raw_ffi_init(&raw.ffi, rt);
  for (int k = 0; k < K_COUNT; k++) raw.fn[k] = raw_export(rt, k_module[k], k_name[k]);
}

/* ---- the small problems of the host-cost section ---- */

static struct {
  tens q, k, qr, kr, pos;      /* rope: q [1, 32, 128], k [1, 8, 128] bf16; pos_ids [1] i32 */
  tens act_in, act_out;        /* silu_and_mul: [1, 2 * 4096] -> [1, 4096] bf16 */
  tens logits, sm_out, sm_ws;  /* softmax: [1, 32768] f32, 1 MiB workspace */
  tens probs, ids, renorm, rs; /* top_p: probs [1, 32768] f32 -> ids [1] i32; top_k renorm out, row states */
  uint64_t offset;
} S;

static void small_init(void) {
  const int64_t qs[3] = {1, 32, 128}, ks[3] = {1, 8, 128}, one[1] = {1}, ai[2] = {1, 8192}, ao[2] = {1, 4096};
  const int64_t rows[2] = {1, SMALL_VOCAB}, mib[1] = {1 << 20};
  tens_new(&S.q, FIC_BF16, 3, qs, 2), tens_new(&S.k, FIC_BF16, 3, ks, 2);
  tens_new(&S.qr, FIC_BF16, 3, qs, 2), tens_new(&S.kr, FIC_BF16, 3, ks, 2);
  tens_new(&S.pos, FIC_I32, 1, one, 4);
  tens_new(&S.act_in, FIC_BF16, 2, ai, 2), tens_new(&S.act_out, FIC_BF16, 2, ao, 2);
  tens_new(&S.logits, FIC_F32, 2, rows, 4), tens_new(&S.sm_out, FIC_F32, 2, rows, 4);
  tens_new(&S.sm_ws, FIC_U8, 1, mib, 1);
  tens_new(&S.probs, FIC_F32, 2, rows, 4), tens_new(&S.ids, FIC_I32, 1, one, 4);
  tens_new(&S.renorm, FIC_F32, 2, rows, 4), tens_new(&S.rs, FIC_U8, 1, mib, 1);
  CK(bgk_fill_uniform(S.q.t.data, 32 * 128, BGK_BF16, -1.f, 1.f, 1, g_stream));
  CK(bgk_fill_uniform(S.k.t.data, 8 * 128, BGK_BF16, -1.f, 1.f, 2, g_stream));
  CK(bgk_fill_uniform(S.act_in.t.data, 8192, BGK_BF16, -3.f, 3.f, 3, g_stream));
  CK(bgk_fill_uniform(S.logits.t.data, SMALL_VOCAB, BGK_F32, -8.f, 8.f, 4, g_stream));
  const int32_t pos = 1234;
  CK(cudaMemcpy(S.pos.t.data, &pos, 4, cudaMemcpyHostToDevice));
  CK(cudaMemsetAsync(S.rs.t.data, 0, 1 << 20, g_stream));
  CK(cudaStreamSynchronize(g_stream));
}

/* One call of kernel k through the typed API (raw == 0) or the raw export. */
static int small_call(fic_runtime *rt, int k, int use_raw) {
  fic_arg a[9];
  int n = 0;
  switch (k) {
    case K_ROPE:
      if (!use_raw) {
        fic_rope_params p;
        fic_rope_params_init(&p);
        p.q = &S.q.t, p.k = &S.k.t, p.q_rope = &S.qr.t, p.k_rope = &S.kr.t, p.pos_ids = &S.pos.t;
        return fic_apply_rope_pos_ids(rt, &p, g_stream);
      }
      a[n++] = fic_arg_tensor(&S.q.t), a[n++] = fic_arg_tensor(&S.k.t), a[n++] = fic_arg_tensor(&S.qr.t);
      a[n++] = fic_arg_tensor(&S.kr.t), a[n++] = fic_arg_tensor(&S.pos.t), a[n++] = fic_arg_int(128);
      a[n++] = fic_arg_bool(0), a[n++] = fic_arg_float(1.0), a[n++] = fic_arg_float(1e4);
      break;
    case K_SILU:
      if (!use_raw) return fic_silu_and_mul(rt, &S.act_out.t, &S.act_in.t, 0, g_stream);
      a[n++] = fic_arg_tensor(&S.act_out.t), a[n++] = fic_arg_tensor(&S.act_in.t), a[n++] = fic_arg_bool(0);
      break;
    case K_SOFTMAX:
      if (!use_raw) return fic_softmax(rt, &S.sm_ws.t, &S.logits.t, &S.sm_out.t, NULL, 1.0, 0, g_stream);
      a[n++] = fic_arg_tensor(&S.sm_ws.t), a[n++] = fic_arg_tensor(&S.logits.t), a[n++] = fic_arg_tensor(&S.sm_out.t);
      a[n++] = fic_arg_none(), a[n++] = fic_arg_float(1.0), a[n++] = fic_arg_bool(0);
      break;
    case K_TOP_P:
      if (!use_raw) {
        fic_sampling_params p;
        fic_sampling_params_init(&p);
        p.probs = &S.probs.t, p.output = &S.ids.t, p.top_p = TOP_P, p.philox_seed = 42, p.philox_offset = S.offset;
        return fic_top_p_sampling_from_probs(rt, &p, g_stream);
      }
      a[n++] = fic_arg_tensor(&S.probs.t), a[n++] = fic_arg_tensor(&S.ids.t), a[n++] = fic_arg_none();
      a[n++] = fic_arg_none(), a[n++] = fic_arg_float(TOP_P), a[n++] = fic_arg_bool(1);
      a[n++] = fic_arg_int(42), a[n++] = fic_arg_int((int64_t)S.offset);
      break;
    default:
      if (!use_raw) return fic_top_k_renorm_probs(rt, &S.probs.t, &S.renorm.t, NULL, TOP_K, &S.rs.t, g_stream);
      a[n++] = fic_arg_tensor(&S.probs.t), a[n++] = fic_arg_tensor(&S.renorm.t), a[n++] = fic_arg_none();
      a[n++] = fic_arg_int(TOP_K), a[n++] = fic_arg_tensor(&S.rs.t);
      break;
  }
  return raw_call(&raw.ffi, raw.fn[k], a, n, NULL, g_stream);
}
static void small_call_or_die(fic_runtime *rt, int k, int use_raw) {
  if (small_call(rt, k, use_raw))
    die("%s (%s) failed: %s", k_name[k], use_raw ? "raw" : "typed", use_raw ? "raw call" : fic_last_error_message());
}

/* ---- 0. correctness ---- */

static void *to_host(const tens *x, size_t bytes) {
  void *h = malloc(bytes);
  CK(cudaStreamSynchronize(g_stream));
  CK(cudaMemcpy(h, x->t.data, bytes, cudaMemcpyDeviceToHost));
  return h;
}
/* Output of kernel k (typed, then raw) compared bitwise. */
static int check_kernel(fic_runtime *rt, int k, FILE *csv) {
  const tens *outs[K_COUNT][2] = {
      {&S.qr, &S.kr}, {&S.act_out, NULL}, {&S.sm_out, NULL}, {&S.ids, NULL}, {&S.renorm, NULL}};
  const size_t bytes[K_COUNT][2] = {
      {32 * 128 * 2, 8 * 128 * 2}, {4096 * 2, 0}, {SMALL_VOCAB * 4, 0}, {4, 0}, {SMALL_VOCAB * 4, 0}};
  void *h[2][2] = {{NULL, NULL}, {NULL, NULL}};
  for (int r = 0; r < 2; r++) {
    for (int o = 0; o < 2 && outs[k][o]; o++) CK(cudaMemset(outs[k][o]->t.data, 0xff, bytes[k][o]));
    small_call_or_die(rt, k, r);
    for (int o = 0; o < 2 && outs[k][o]; o++) h[r][o] = to_host(outs[k][o], bytes[k][o]);
  }
  int same = 1;
  for (int o = 0; o < 2 && outs[k][o]; o++) same &= !memcmp(h[0][o], h[1][o], bytes[k][o]);
  double extra = NAN; /* softmax / renorm: row sum; top_p: the id */
  if (k == K_SOFTMAX || k == K_TOP_K_RENORM) {
    extra = 0;
    for (int i = 0; i < SMALL_VOCAB; i++) extra += ((float *)h[0][0])[i];
  } else if (k == K_TOP_P) {
    extra = *(int32_t *)h[0][0];
  }
  int ok = same && (k == K_TOP_P                              ? extra >= 0 && extra < SMALL_VOCAB
                    : (k == K_SOFTMAX || k == K_TOP_K_RENORM) ? fabs(extra - 1) < 1e-3
                                                              : 1);
  fprintf(csv, "%s,%d,%g,%s\n", k_name[k], same, extra, ok ? "ok" : "FAIL");
  printf("check %-26s typed==raw %s  %s%g  %s\n", k_name[k], same ? "bitwise" : "DIFFERENT",
         k == K_TOP_P ? "id " : "sum ", extra, ok ? "ok" : "FAIL");
  for (int r = 0; r < 2; r++)
    for (int o = 0; o < 2; o++) free(h[r][o]);
  return ok;
}

/* ---- 1. host cost ---- */

enum { P_TYPED, P_RAW, P_EMPTY, P_COUNT };
static const char *const p_name[P_COUNT] = {"flashinfer-c typed", "raw safe call (C)", "empty cudaLaunchKernel"};

static double host_round(fic_runtime *rt, int k, int p, int n) {
  const int chunk = 128;
  double total = 0;
  dim3 one = {1, 1, 1};
  void *no_args[1] = {NULL};
  for (int done = 0; done < n; done += chunk) {
    gate_close();
    double t0 = now_ns();
    for (int i = 0; i < chunk; i++) {
      if (p == P_EMPTY)
        CK(cudaLaunchKernel(bgk_empty_kernel(), one, one, no_args, 0, g_stream));
      else
        small_call_or_die(rt, k, p == P_RAW);
    }
    double t1 = now_ns();
    gate_open();
    CK(cudaStreamSynchronize(g_stream));
    gate_check("host cost");
    total += t1 - t0;
  }
  return total / n;
}
static void host_cost(fic_runtime *rt, FILE *csv) {
  int n = opt.quick ? 512 : 2048;
  for (int k = 0; k < K_COUNT; k++) {
    double v[P_COUNT][ROUNDS];
    for (int p = 0; p < P_COUNT; p++) host_round(rt, k, p, 256); /* warm-up */
    for (int r = 0; r < ROUNDS; r++)
      for (int j = 0; j < P_COUNT; j++) { /* rotate the order each round */
        int p = (j + r) % P_COUNT;
        v[p][r] = host_round(rt, k, p, n);
      }
    for (int p = 0; p < P_COUNT; p++) {
      double m = quantile(v[p], ROUNDS, 0.5);
      fprintf(csv, "%s,%s,%.3f,%.3f,%.3f\n", k_name[k], p_name[p], m / 1e3, v[p][0] / 1e3, v[p][ROUNDS - 1] / 1e3);
      printf("host %-26s %-24s %7.2f us (%.2f-%.2f)\n", k_name[k], p_name[p], m / 1e3, v[p][0] / 1e3,
             v[p][ROUNDS - 1] / 1e3);
    }
  }
}

/* ---- --breakdown: validation alone (typed calls on empty problems) ---- */

static int empty_call(fic_runtime *rt, int k, const tens *e) {
  switch (k) {
    case K_ROPE: {
      fic_rope_params p;
      fic_rope_params_init(&p);
      p.q = &e[0].t, p.k = &e[1].t, p.q_rope = &e[2].t, p.k_rope = &e[3].t, p.pos_ids = &e[4].t;
      return fic_apply_rope_pos_ids(rt, &p, g_stream);
    }
    case K_SILU:
      return fic_silu_and_mul(rt, &e[6].t, &e[5].t, 0, g_stream);
    case K_SOFTMAX:
      return fic_softmax(rt, &S.sm_ws.t, &e[7].t, &e[8].t, NULL, 1.0, 0, g_stream);
    case K_TOP_P: {
      fic_sampling_params p;
      fic_sampling_params_init(&p);
      p.probs = &e[7].t, p.output = &e[9].t, p.top_p = TOP_P;
      return fic_top_p_sampling_from_probs(rt, &p, g_stream);
    }
    default:
      return fic_top_k_renorm_probs(rt, &e[7].t, &e[8].t, NULL, TOP_K, &S.rs.t, g_stream);
  }
}
static void breakdown(fic_runtime *rt, FILE *csv) {
  const int64_t q0[3] = {0, 32, 128}, k0[3] = {0, 8, 128}, n0[1] = {0}, ai[2] = {0, 8192}, ao[2] = {0, 4096};
  const int64_t r0[2] = {0, SMALL_VOCAB};
  tens e[10];
  tens_set(&e[0], S.q.t.data, FIC_DEVICE_CUDA, FIC_BF16, 3, q0),
      tens_set(&e[1], S.k.t.data, FIC_DEVICE_CUDA, FIC_BF16, 3, k0);
  tens_set(&e[2], S.qr.t.data, FIC_DEVICE_CUDA, FIC_BF16, 3, q0),
      tens_set(&e[3], S.kr.t.data, FIC_DEVICE_CUDA, FIC_BF16, 3, k0);
  tens_set(&e[4], S.pos.t.data, FIC_DEVICE_CUDA, FIC_I32, 1, n0),
      tens_set(&e[5], S.act_in.t.data, FIC_DEVICE_CUDA, FIC_BF16, 2, ai);
  tens_set(&e[6], S.act_out.t.data, FIC_DEVICE_CUDA, FIC_BF16, 2, ao),
      tens_set(&e[7], S.probs.t.data, FIC_DEVICE_CUDA, FIC_F32, 2, r0);
  tens_set(&e[8], S.renorm.t.data, FIC_DEVICE_CUDA, FIC_F32, 2, r0),
      tens_set(&e[9], S.ids.t.data, FIC_DEVICE_CUDA, FIC_I32, 1, n0);
  const int n = 20000;
  for (int k = 0; k < K_COUNT; k++) {
    double v[ROUNDS];
    for (int r = -1; r < ROUNDS; r++) { /* round -1: warm-up */
      double t0 = now_ns();
      for (int i = 0; i < n; i++)
        if (empty_call(rt, k, e)) die("empty %s failed: %s", k_name[k], fic_last_error_message());
      if (r >= 0) v[r] = (now_ns() - t0) / n;
    }
    double m = quantile(v, ROUNDS, 0.5);
    fprintf(csv, "%s,typed call on an empty problem (validation only),%.1f,%.1f,%.1f\n", k_name[k], m, v[0],
            v[ROUNDS - 1]);
    printf("breakdown %-26s validation only %7.1f ns (%.1f-%.1f)\n", k_name[k], m, v[0], v[ROUNDS - 1]);
  }
}

/* ---- 2. sampling throughput ---- */

static const int64_t k_vocabs[3] = {32768, 131072, 262144};
static const int64_t k_batches[4] = {1, 8, 64, 512};

/* logits [512, V] f32: read from LOGITS_DIR/logits_<V>.f32, or filled
 * uniform in [-8, 8) and written there (for the Python side). */
static void *load_logits(int64_t V) {
  size_t n = (size_t)MAX_BATCH * (size_t)V;
  char path[1024];
  snprintf(path, sizeof path, "%s/logits_%lld.f32", opt.logits_dir, (long long)V);
  float *h = malloc(n * 4);
  void *d = dalloc(n * 4);
  FILE *f = fopen(path, "rb");
  if (f && fread(h, 4, n, f) == n) {
    CK(cudaMemcpy(d, h, n * 4, cudaMemcpyHostToDevice));
  } else {
    CK(bgk_fill_uniform(d, n, BGK_F32, -8.f, 8.f, 100 + (uint64_t)V, g_stream));
    CK(cudaStreamSynchronize(g_stream));
    CK(cudaMemcpy(h, d, n * 4, cudaMemcpyDeviceToHost));
    FILE *w = fopen(path, "wb");
    if (!w || fwrite(h, 4, n, w) != n) die("cannot write %s", path);
    fclose(w);
  }
  if (f) fclose(f);
  free(h);
  return d;
}

typedef struct sampler {
  tens probs, ids, renorm, rs;
  fic_philox gen;
} sampler;

static void sample_once(fic_runtime *rt, sampler *s, int top_k_top_p) {
  fic_sampling_params p;
  FK(fic_sampling_params_init(&p));
  p.probs = &s->probs.t, p.output = &s->ids.t, p.top_p = TOP_P;
  FK(fic_philox_next(&s->gen, (uint64_t)s->probs.t.shape[0] * 32, &p.philox_seed, &p.philox_offset));
  if (top_k_top_p) {
    p.top_k = TOP_K, p.renorm_buffer = &s->renorm.t, p.row_states = &s->rs.t;
    FK(fic_top_k_top_p_sampling_from_probs(rt, &p, g_stream));
  } else {
    FK(fic_top_p_sampling_from_probs(rt, &p, g_stream));
  }
}
static FILE *g_reps_csv; /* every call's GPU time, in call order */
static void gpu_time(fic_runtime *rt, sampler *s, int op, int reps, double *med, double *p10, double *p90) {
  for (int i = 0; i < 3; i++) sample_once(rt, s, op);
  CK(cudaStreamSynchronize(g_stream));
  double v[MAX_REPS];
  gate_close();
  for (int i = 0; i < reps; i++) {
    CK(cudaEventRecord(g_ev0[i], g_stream));
    sample_once(rt, s, op);
    CK(cudaEventRecord(g_ev1[i], g_stream));
  }
  gate_open();
  CK(cudaStreamSynchronize(g_stream));
  gate_check("gpu time");
  for (int i = 0; i < reps; i++) {
    float ms = 0;
    CK(cudaEventElapsedTime(&ms, g_ev0[i], g_ev1[i]));
    v[i] = ms * 1e3;
    fprintf(g_reps_csv, "%s,%lld,%lld,%d,%.3f\n", op ? "top_k_top_p_sampling_from_probs" : "top_p_sampling_from_probs",
            (long long)s->probs.t.shape[1], (long long)s->probs.t.shape[0], i, v[i]);
  }
  *med = quantile(v, reps, 0.5), *p10 = quantile(v, reps, 0.1), *p90 = quantile(v, reps, 0.9);
}
/* The ids of batch 8 at vocab 32k, seed 1234, offset 0 (Python reproduces them). */
static void write_ids(fic_runtime *rt, sampler *s, FILE *csv) {
  for (int op = 0; op < 2; op++) {
    fic_sampling_params p;
    FK(fic_sampling_params_init(&p));
    tens p8 = s->probs, o8 = s->ids;
    p8.shape[0] = 8, o8.shape[0] = 8;
    p8.t.shape = p8.shape, p8.t.strides = p8.strides, o8.t.shape = o8.shape, o8.t.strides = o8.strides;
    p.probs = &p8.t, p.output = &o8.t, p.top_p = TOP_P, p.philox_seed = 1234, p.philox_offset = 0;
    if (op) {
      tens r8 = s->renorm;
      r8.shape[0] = 8, r8.t.shape = r8.shape, r8.t.strides = r8.strides;
      p.top_k = TOP_K, p.renorm_buffer = &r8.t, p.row_states = &s->rs.t;
      FK(fic_top_k_top_p_sampling_from_probs(rt, &p, g_stream));
    } else {
      FK(fic_top_p_sampling_from_probs(rt, &p, g_stream));
    }
    int32_t ids[8];
    CK(cudaStreamSynchronize(g_stream));
    CK(cudaMemcpy(ids, o8.t.data, sizeof ids, cudaMemcpyDeviceToHost));
    fprintf(csv, "%s", op ? "top_k_top_p" : "top_p");
    for (int i = 0; i < 8; i++) fprintf(csv, ",%d", ids[i]);
    fprintf(csv, "\n");
  }
}

static void throughput(fic_runtime *rt, FILE *csv, FILE *ids_csv) {
  int reps = opt.quick ? 10 : 30;
  for (int vi = 0; vi < 3; vi++) {
    int64_t V = k_vocabs[vi];
    void *logits = load_logits(V);
    sampler s;
    const int64_t full[2] = {MAX_BATCH, V}, mib[1] = {1 << 20}, ob[1] = {MAX_BATCH};
    tens lt, ws;
    tens_set(&lt, logits, FIC_DEVICE_CUDA, FIC_F32, 2, full);
    tens_new(&s.probs, FIC_F32, 2, full, 4), tens_new(&s.renorm, FIC_F32, 2, full, 4);
    tens_new(&s.ids, FIC_I32, 1, ob, 4), tens_new(&s.rs, FIC_U8, 1, mib, 1), tens_new(&ws, FIC_U8, 1, mib, 1);
    CK(cudaMemsetAsync(s.rs.t.data, 0, 1 << 20, g_stream));
    FK(fic_softmax(rt, &ws.t, &lt.t, &s.probs.t, NULL, 1.0, 0, g_stream));
    FK(fic_philox_init(&s.gen, 7));
    if (V == 32768) write_ids(rt, &s, ids_csv);
    for (int bi = 0; bi < 4; bi++) {
      int64_t B = k_batches[bi];
      sampler sb = s;
      sb.probs.shape[0] = B, sb.ids.shape[0] = B, sb.renorm.shape[0] = B;
      sb.probs.t.shape = sb.probs.shape, sb.probs.t.strides = sb.probs.strides;
      sb.ids.t.shape = sb.ids.shape, sb.ids.t.strides = sb.ids.strides;
      sb.renorm.t.shape = sb.renorm.shape, sb.renorm.t.strides = sb.renorm.strides;
      for (int op = 0; op < 2; op++) {
        double med, p10, p90;
        gpu_time(rt, &sb, op, reps, &med, &p10, &p90);
        const char *name = op ? "top_k_top_p_sampling_from_probs" : "top_p_sampling_from_probs";
        fprintf(csv, "%s,%lld,%lld,flashinfer-c,%.3f,%.3f,%.3f,%.0f\n", name, (long long)V, (long long)B, med, p10, p90,
                (double)B / (med * 1e-6));
        printf("gpu %-32s V=%-6lld B=%-3lld %9.2f us (p10 %.2f p90 %.2f)  %.3g rows/s\n", name, (long long)V,
               (long long)B, med, p10, p90, (double)B / (med * 1e-6));
      }
    }
    CK(cudaStreamSynchronize(g_stream));
    void *bufs[6] = {logits, s.probs.t.data, s.renorm.t.data, s.ids.t.data, s.rs.t.data, ws.t.data};
    for (int i = 0; i < 6; i++) CK(cudaFree(bufs[i]));
  }
}

static fic_runtime *open_runtime(void) {
  static const char *const mods[] = {"rope", "silu_and_mul", "sampling", NULL};
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.cache_dir = opt.cache, cfg.jit_cache_wheel = opt.jit, cfg.tvmffi_wheel = opt.tvmffi;
  cfg.modules = mods, cfg.offline = 1;
  fic_runtime *rt = NULL;
  FK(fic_runtime_open(&cfg, &rt));
  FK(fic_runtime_preload(rt, mods));
  return rt;
}

int main(int argc, char **argv) {
  bench_name = "bench_layer";
  parse(argc, argv);
  device_init();
  fic_runtime *rt = open_runtime();
  raw_init(rt);
  small_init();
  FK(fic_softmax(rt, &S.sm_ws.t, &S.logits.t, &S.probs.t, NULL, 1.0, 0, g_stream)); /* probs for top_p/top_k */
  FILE *f = csv_open("layer_check.csv", "kernel,typed_eq_raw_bitwise,sum_or_id,result");
  int ok = 1;
  for (int k = 0; k < K_COUNT; k++) ok &= check_kernel(rt, k, f);
  fclose(f);
  if (!ok) die("correctness check failed; no timings");
  if (opt.breakdown) {
    f = csv_open("layer_breakdown.csv", "kernel,what,ns_med,ns_min,ns_max");
    breakdown(rt, f);
    fclose(f);
  }
  if (!opt.no_host) {
    f = csv_open("layer_host.csv", "kernel,path,us_med,us_min,us_max");
    host_cost(rt, f);
    fclose(f);
  }
  f = csv_open("layer_sampling.csv", "op,vocab,batch,impl,us_med,us_p10,us_p90,rows_per_s");
  FILE *ids = csv_open("layer_ids_c.csv", "op,id0,id1,id2,id3,id4,id5,id6,id7");
  g_reps_csv = csv_open("layer_sampling_reps.csv", "op,vocab,batch,rep,us");
  throughput(rt, f, ids);
  fclose(f);
  fclose(ids);
  fclose(g_reps_csv);
  fic_runtime_close(rt);
  printf("gate timeouts: %d\n", g_gate_timeouts);
  return g_gate_timeouts ? 2 : 0;
}
