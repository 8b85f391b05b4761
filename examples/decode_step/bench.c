/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step: the measurements of the specification, as JSON lines.
 *
 * Timing, kept simple (host clock: CLOCK_MONOTONIC; GPU: CUDA events):
 *   step_ms  S steps issued back to back (index upload + plan + launches or
 *            replay each), one stream sync at the end, divided by S; the
 *            median of 5 such runs. Each run restarts at step 0 (the same
 *            lengths and KV slots), so every run does the same work.
 *   host_ms  one step's issue time, from its start until its last launch
 *            returns, with a stream sync before each step (not timed) so the
 *            launch queue is empty; median over the S steps.
 *   gpu_ms   events recorded right before and after each graph replay (the
 *            upload and the plan come before the first event); median over S
 *            steps; reported in both modes' objects. With --eager (no graph),
 *            the events bracket the eager launches after a sync, so they
 *            include any launch gaps.
 *   prefill  the whole prefill (all chunks: tables, plans, launches), synced,
 *            median of 3.
 *   --host-profile  after the eager measurements (which run with the profile
 *            off), S more eager steps issued as for host_ms, with a clock read
 *            around every call of the step (ds_prof_begin/end: off, one branch
 *            each): time and calls per category, summed over the S steps,
 *            reported per step; "other" is the step's total less the
 *            categories (tensor descriptors, params _init, Philox, loops).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ds.h"

double ds_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

double ds_median(double *v, int n) {
  qsort(v, (size_t)n, sizeof *v, cmp_double);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

const char *const ds_prof_names[DS_P_N] = {
    "slot_wait",    "page_table", "upload",    "decode_plan",  "gather",  "rmsnorm",
    "gemm_qkv",     "rope",       "append_kv", "decode_run",   "gemm_o",  "fused_add_rmsnorm",
    "gemm_gate_up", "silu_mul",   "gemm_down", "gemm_lm_head", "softmax", "sampling"};

/* NULL without --json: nothing is written. */
static FILE *json_open(const ds_config *c) {
  if (!c->json) return NULL;
  FILE *f = fopen(c->json, "a");
  if (!f) ds_die("cannot open --json file %s", c->json);
  fprintf(f, "{\"impl\":\"c\",\"layers\":%d,\"batch\":%d,\"context\":%d,\"steps\":%d,\"gemm\":\"%s\",", c->layers,
          c->batch, c->context, c->steps, c->gemm_lt ? "lt" : "ex");
  return f;
}
static void json_close(FILE *f) {
  fprintf(f, "}\n");
  if (fclose(f)) ds_die("writing the --json file failed");
}

void ds_json_tokens(ds_model *m, const int32_t *tokens, int greedy, const char *mode) {
  const ds_config *c = m->c;
  FILE *f = json_open(c);
  if (!f) return;
  fprintf(f, "\"phase\":\"tokens\",\"mode\":\"%s\",\"greedy\":%s,\"tokens\":[", mode, greedy ? "true" : "false");
  for (int i = 0; i < c->batch; i++) {
    fprintf(f, "%s[", i ? "," : "");
    for (int s = 0; s < c->steps; s++) fprintf(f, "%s%d", s ? "," : "", tokens[(size_t)s * c->batch + i]);
    fprintf(f, "]");
  }
  fprintf(f, "]");
  json_close(f);
}

typedef struct decode_times {
  double step_ms, host_ms, gpu_ms;
} decode_times;

/* One mode's measurements; gpu_ms only when measure_gpu. */
static decode_times measure_decode(ds_model *m, int graph, int measure_gpu) {
  const ds_config *c = m->c;
  const int S = c->steps;
  decode_times t = {0, 0, 0};
  double *v = calloc((size_t)S + 5, sizeof *v);
  if (!v) ds_die("out of host memory");
  m->plan_cuda_graph = graph; /* eager: FlashInfer's default (non-graph) plan */
  ds_decode_begin(m, c->greedy);
  for (int s = 0; s < S; s++) ds_decode_step(m, s, graph, 0); /* warm-up (graph: capture) */
  if (graph && !m->graph) {                                   /* --steps 1: the warm-up step ran eagerly; capture now */
    ds_decode_prepare(m, 0);
    ds_graph_capture(m);
  }
  CK(cudaStreamSynchronize(m->stream));

  double runs[5];
  for (int r = 0; r < 5; r++) {
    double t0 = ds_now_ms();
    for (int s = 0; s < S; s++) ds_decode_step(m, s, graph, 0);
    CK(cudaStreamSynchronize(m->stream));
    runs[r] = (ds_now_ms() - t0) / S;
  }
  t.step_ms = ds_median(runs, 5);

  for (int s = 0; s < S; s++) {
    CK(cudaStreamSynchronize(m->stream));
    double t0 = ds_now_ms();
    ds_decode_step(m, s, graph, 0);
    v[s] = ds_now_ms() - t0;
  }
  CK(cudaStreamSynchronize(m->stream));
  t.host_ms = ds_median(v, S);

  if (!graph && c->host_profile) { /* the same S steps again, each call timed */
    memset(&m->prof, 0, sizeof m->prof);
    for (int s = 0; s < S; s++) {
      CK(cudaStreamSynchronize(m->stream));
      m->prof.on = 1;
      int64_t t0 = ds_ns();
      ds_decode_step(m, s, 0, 0);
      int64_t dt = ds_ns() - t0;
      m->prof.on = 0;
      m->prof.total_ns += dt;
      m->prof.steps++;
      v[s] = (double)dt * 1e-6;
    }
    CK(cudaStreamSynchronize(m->stream));
    m->prof.median_ms = ds_median(v, S);
  }

  if (measure_gpu) {
    cudaEvent_t *ev = calloc((size_t)2 * S, sizeof *ev);
    if (!ev) ds_die("out of host memory");
    for (int i = 0; i < 2 * S; i++) CK(cudaEventCreate(&ev[i]));
    for (int s = 0; s < S; s++) {
      ds_decode_prepare(m, s);
      if (!graph) CK(cudaStreamSynchronize(m->stream));
      CK(cudaEventRecord(ev[2 * s], m->stream));
      if (graph)
        ds_graph_replay(m);
      else
        ds_decode_launch(m);
      CK(cudaEventRecord(ev[2 * s + 1], m->stream));
    }
    CK(cudaStreamSynchronize(m->stream));
    for (int s = 0; s < S; s++) {
      float ms = 0;
      CK(cudaEventElapsedTime(&ms, ev[2 * s], ev[2 * s + 1]));
      v[s] = ms;
    }
    for (int i = 0; i < 2 * S; i++) CK(cudaEventDestroy(ev[i]));
    free(ev);
    t.gpu_ms = ds_median(v, S);
  }
  free(v);
  return t;
}

static void json_decode(ds_model *m, const char *mode, const decode_times *t, double gpu_ms) {
  const ds_config *c = m->c;
  FILE *f = json_open(c);
  if (f) {
    fprintf(f,
            "\"phase\":\"decode\",\"mode\":\"%s\",\"step_ms\":%.6f,\"gpu_ms\":%.6f,\"host_ms\":%.6f,"
            "\"tokens_per_s\":%.3f,\"host_share\":%.6f",
            mode, t->step_ms, gpu_ms, t->host_ms, c->batch / t->step_ms * 1000.0, t->host_ms / t->step_ms);
    json_close(f);
  }
  printf("decode %-5s: step %.3f ms, gpu %.3f ms, host %.3f ms (%.0f%% of the step), %.0f tokens/s\n", mode, t->step_ms,
         gpu_ms, t->host_ms, 100.0 * t->host_ms / t->step_ms, c->batch / t->step_ms * 1000.0);
}

/* --host-profile: the table (stdout) and one JSON object (phase
 * "host_profile"): per category, microseconds and calls per step, and
 * microseconds per call; the cuBLASLt algorithms of the decode GEMMs. */
static void host_profile_report(ds_model *m, double host_ms) {
  const ds_config *c = m->c;
  const ds_prof *p = &m->prof;
  const double n = p->steps > 0 ? (double)p->steps : 1.0;
  int64_t sum = 0;
  for (int k = 0; k < DS_P_N; k++) sum += p->ns[k];
  const double total_us = (double)p->total_ns / n / 1e3, other_us = (double)(p->total_ns - sum) / n / 1e3;
  printf(
      "host profile: eager step, %s, %lld steps (each after a stream sync), %.1f us per step "
      "(median %.1f us; host_ms median without the profile: %.1f us)\n",
      c->gemm_lt ? "cublasLtMatmul" : "cublasGemmEx", (long long)p->steps, total_us, p->median_ms * 1e3, host_ms * 1e3);
  printf("  %-18s %10s %8s %9s %7s\n", "category", "us/step", "calls", "us/call", "share");
  for (int k = 0; k < DS_P_N; k++) {
    if (!p->calls[k]) continue;
    double us = (double)p->ns[k] / n / 1e3;
    printf("  %-18s %10.2f %8.2f %9.2f %6.1f%%\n", ds_prof_names[k], us, (double)p->calls[k] / n,
           (double)p->ns[k] / (double)p->calls[k] / 1e3, total_us > 0 ? 100.0 * us / total_us : 0.0);
  }
  printf("  %-18s %10.2f %8s %9s %6.1f%%\n", "other", other_us, "", "",
         total_us > 0 ? 100.0 * other_us / total_us : 0.0);
  printf("  %-18s %10.2f\n", "total", total_us);
  for (int i = 0; i < m->n_gplan; i++) {
    const ds_gemm_plan *g = &m->gplan[i];
    if (g->rows != c->batch) continue; /* the decode shapes */
    printf(
        "  cuBLASLt %-8s [%lld x %lld] x [%lld x %lld]^T: algo %d, tile %d, stages %d, split-k %d, reduction %d, "
        "workspace %zu B\n",
        ds_gemm_name(g->kind), (long long)g->rows, (long long)g->in, (long long)g->out, (long long)g->in, g->algo_id,
        g->tile, g->stages, g->splitk, g->reduction, g->ws_bytes);
  }
  FILE *f = json_open(c);
  if (!f) return;
  fprintf(f,
          "\"phase\":\"host_profile\",\"mode\":\"eager\",\"profiled_steps\":%lld,\"step_us\":%.3f,"
          "\"step_us_median\":%.3f,\"host_ms\":%.6f,\"other_us\":%.3f,\"categories\":{",
          (long long)p->steps, total_us, p->median_ms * 1e3, host_ms, other_us);
  int first = 1;
  for (int k = 0; k < DS_P_N; k++) {
    if (!p->calls[k]) continue;
    fprintf(f, "%s\"%s\":{\"us_per_step\":%.3f,\"calls_per_step\":%.3f,\"us_per_call\":%.3f}", first ? "" : ",",
            ds_prof_names[k], (double)p->ns[k] / n / 1e3, (double)p->calls[k] / n,
            (double)p->ns[k] / (double)p->calls[k] / 1e3);
    first = 0;
  }
  fprintf(f, "},\"gemm_algos\":[");
  first = 1;
  for (int i = 0; i < m->n_gplan; i++) {
    const ds_gemm_plan *g = &m->gplan[i];
    if (g->rows != c->batch) continue;
    fprintf(f,
            "%s{\"kind\":\"%s\",\"m\":%lld,\"k\":%lld,\"n\":%lld,\"algo\":%d,\"tile\":%d,\"stages\":%d,"
            "\"splitk\":%d,\"reduction\":%d,\"workspace\":%zu}",
            first ? "" : ",", ds_gemm_name(g->kind), (long long)g->rows, (long long)g->in, (long long)g->out,
            g->algo_id, g->tile, g->stages, g->splitk, g->reduction, g->ws_bytes);
    first = 0;
  }
  fprintf(f, "]");
  json_close(f);
}

void ds_bench(ds_model *m) {
  const ds_config *c = m->c;
  if (!c->fill_random) {
    double v[3];
    int64_t tokens = 0;
    for (int i = 0; i < c->batch; i++) tokens += m->ctx[i];
    for (int r = 0; r < 3; r++) {
      CK(cudaStreamSynchronize(m->stream));
      double t0 = ds_now_ms();
      ds_prefill(m);
      CK(cudaStreamSynchronize(m->stream));
      v[r] = ds_now_ms() - t0;
    }
    double ms = ds_median(v, 3);
    FILE *f = json_open(c);
    if (f) {
      fprintf(f, "\"phase\":\"prefill\",\"ms\":%.6f,\"tokens_per_s\":%.3f", ms, (double)tokens / ms * 1000.0);
      json_close(f);
    }
    printf("prefill: %.3f ms, %.0f tokens/s\n", ms, (double)tokens / ms * 1000.0);
  }
  decode_times g = {0, 0, 0}, e;
  if (!c->eager) g = measure_decode(m, 1, 1);
  e = measure_decode(m, 0, c->eager);
  double gpu = c->eager ? e.gpu_ms : g.gpu_ms;
  if (!c->eager) json_decode(m, "graph", &g, gpu);
  json_decode(m, "eager", &e, gpu);
  if (c->host_profile) host_profile_report(m, e.host_ms);
}
