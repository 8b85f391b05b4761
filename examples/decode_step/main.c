/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step: a Llama-3-8B-shaped decoder's prefill and decode steps on
 * flashinfer-c's kernels and cuBLAS (issue #15; the model is specified in
 * README.md). main: configuration checks before any GPU work, then the run,
 * --check, or the measurements. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"

static int config_error(const char *msg) {
  fprintf(stderr, "decode_step: error: %s\n", msg);
  return DS_EXIT_CONFIG;
}

/* Rough device bytes of this configuration (weights, KV cache, activations,
 * workspaces), to refuse a run that cannot fit before allocating. */
static double device_bytes(const ds_config *c) {
  const double H = (double)c->hidden, I = (double)c->mlp, V = (double)c->vocab, B = (double)c->batch;
  const double qkv = (double)((c->q_heads + 2 * c->kv_heads) * c->head_dim), qd = (double)(c->q_heads * c->head_dim);
  double weights = 2 * (2 * V * H + H + c->layers * (qkv * H + H * qd + 2 * H + 2 * I * H + H * I));
  double kv = 2.0 * 2 * c->layers * (double)c->num_pages * c->page_size * (double)c->kv_heads * (double)c->head_dim;
  double rows = c->fill_random ? B : (double)(c->seqs_per_chunk * c->context > B ? c->seqs_per_chunk * c->context : B);
  double act = 2 * rows * (4 * H + qkv + qd + 3 * I) + 12 * B * V;
  return weights + kv + act + (128.0 + 8 + 32 + 2) * (1 << 20);
}

static int run_check(ds_model *m) {
  ds_config *c = m->c;
  const int64_t B = c->batch, V = c->vocab, S = c->steps;
  int64_t T = 0;
  for (int64_t i = 0; i < B; i++) T += m->ctx[i];
  m->hook_resid = calloc((size_t)(T * c->hidden), 2);
  m->hook_h = calloc((size_t)(T * c->hidden), 2);
  int32_t *first = calloc((size_t)B, 4), *first2 = calloc((size_t)B, 4);
  int32_t *tok = calloc((size_t)(S * B), 4), *tok2 = calloc((size_t)(S * B), 4);
  float *logits = calloc((size_t)(3 * B * V), 4);
  if (!m->hook_resid || !m->hook_h || !first || !first2 || !tok || !tok2 || !logits) ds_die("out of host memory");
  int fails = 0;
  printf("check: small shape, %d layers, batch %d, prompt lengths %lld..%lld, %d steps, greedy\n", c->layers, c->batch,
         (long long)m->ctx[B - 1], (long long)m->ctx[0], c->steps);

  /* (a) eager, greedy: layer 0 of the prefill and the logits of steps 0..2
   * against the float64 reference. Decode plans with enable_cuda_graph = 1 in
   * both runs, so eager and graph launch the same kernels with the same
   * schedule and (b) can ask for identical bits. */
  ds_prefill(m);
  CK(cudaMemcpyAsync(first, m->ids, (size_t)B * 4, cudaMemcpyDeviceToHost, m->stream));
  m->plan_cuda_graph = 1;
  ds_decode_begin(m, 1);
  for (int s = 0; s < S; s++) {
    ds_decode_step(m, s, 0, 1);
    if (s < 3)
      CK(cudaMemcpyAsync(logits + (size_t)s * B * V, m->logits, (size_t)(B * V) * 4, cudaMemcpyDeviceToHost,
                         m->stream));
  }
  CK(cudaMemcpyAsync(tok, m->tokens, (size_t)(S * B) * 4, cudaMemcpyDeviceToHost, m->stream));
  CK(cudaStreamSynchronize(m->stream));
  uint16_t *hr = m->hook_resid, *hh = m->hook_h;
  ds_ref_inputs in = {first, tok, logits};
  fails += ds_reference_check(m, &in);
  m->hook_resid = NULL, m->hook_h = NULL; /* later prefills copy nothing */

  /* (b) the same run with the CUDA graph: identical greedy tokens. */
  ds_prefill(m);
  CK(cudaMemcpyAsync(first2, m->ids, (size_t)B * 4, cudaMemcpyDeviceToHost, m->stream));
  ds_decode_begin(m, 1);
  for (int s = 0; s < S; s++) ds_decode_step(m, s, 1, 1);
  CK(cudaMemcpyAsync(tok2, m->tokens, (size_t)(S * B) * 4, cudaMemcpyDeviceToHost, m->stream));
  CK(cudaStreamSynchronize(m->stream));
  int same = !memcmp(first, first2, (size_t)B * 4) && !memcmp(tok, tok2, (size_t)(S * B) * 4);
  printf("check greedy tokens eager == graph (%lld x %lld): %s\n", (long long)B, (long long)S, same ? "ok" : "FAIL");
  if (!same) {
    for (int64_t i = 0; i < B; i++) {
      printf("  seq %lld eager:", (long long)i);
      for (int64_t s = 0; s < S; s++) printf(" %d", tok[s * B + i]);
      printf("\n  seq %lld graph:", (long long)i);
      for (int64_t s = 0; s < S; s++) printf(" %d", tok2[s * B + i]);
      printf("\n");
    }
  }
  fails += !same;
  if (c->json) ds_json_tokens(m, tok2, 1, "graph");

  /* (c) top-k 50 / top-p 0.9 sampling, graph and eager: ids in range. */
  for (int graph = 1; graph >= 0; graph--) {
    ds_decode_begin(m, 0);
    for (int s = 0; s < S; s++) ds_decode_step(m, s, graph, 1);
    CK(cudaMemcpyAsync(tok2, m->tokens, (size_t)(S * B) * 4, cudaMemcpyDeviceToHost, m->stream));
    CK(cudaStreamSynchronize(m->stream));
    int64_t bad = 0;
    for (int64_t k = 0; k < S * B; k++) bad += tok2[k] < 0 || tok2[k] >= V;
    printf("check sampled ids in [0, %lld) (%s, top-k 50, top-p 0.9): %s\n", (long long)V, graph ? "graph" : "eager",
           bad ? "FAIL" : "ok");
    fails += bad != 0;
  }
  free(first), free(first2), free(tok), free(tok2), free(logits);
  free(hr), free(hh);
  printf("check: %s\n", fails ? "FAILED" : "passed");
  return fails ? DS_EXIT_CHECK : DS_EXIT_OK;
}

static int run(ds_model *m) {
  ds_config *c = m->c;
  const int64_t B = c->batch, S = c->steps;
  if (!c->fill_random) {
    double t0 = ds_now_ms();
    ds_prefill(m);
    CK(cudaStreamSynchronize(m->stream));
    printf("prefill: %d sequences of %d tokens in %.1f ms (first run, includes warm-up)\n", c->batch, c->context,
           ds_now_ms() - t0);
  } else {
    /* No prefill: the random cache stands for the prompts; each sequence's
     * first decode input is its last prompt token. */
    int32_t *first = malloc((size_t)B * 4);
    if (!first) ds_die("out of host memory");
    for (int64_t i = 0; i < B; i++) first[i] = (int32_t)m->prompt[i * c->context + m->ctx[i] - 1];
    CK(cudaMemcpy(m->ids, first, (size_t)B * 4, cudaMemcpyHostToDevice));
    free(first);
  }
  /* Both modes plan with enable_cuda_graph = 1 here, so --eager and the graph
   * give the same tokens bit for bit; the eager measurement (bench.c) uses
   * FlashInfer's non-graph plan, as its eager Python wrapper does. */
  m->plan_cuda_graph = 1;
  ds_decode_begin(m, c->greedy);
  double t0 = ds_now_ms();
  for (int s = 0; s < S; s++) ds_decode_step(m, s, !c->eager, 1);
  CK(cudaStreamSynchronize(m->stream));
  double ms = ds_now_ms() - t0;
  int32_t *tok = malloc((size_t)(S * B) * 4);
  if (!tok) ds_die("out of host memory");
  CK(cudaMemcpy(tok, m->tokens, (size_t)(S * B) * 4, cudaMemcpyDeviceToHost));
  printf("decode (%s): %d steps in %.1f ms (first run, includes warm-up and capture)\n", c->eager ? "eager" : "graph",
         c->steps, ms);
  for (int64_t i = 0; i < B && i < 4; i++) {
    printf("  seq %lld:", (long long)i);
    for (int64_t s = 0; s < S && s < 16; s++) printf(" %d", tok[s * B + i]);
    printf("%s\n", S > 16 ? " ..." : "");
  }
  if (c->json) ds_json_tokens(m, tok, c->greedy, c->eager ? "eager" : "graph");
  if (c->json || c->host_profile) ds_bench(m);
  free(tok);
  return DS_EXIT_OK;
}

int main(int argc, char **argv) {
  ds_config c;
  char err[4096] = "";
  int done = 0;
  if (ds_parse(argc, argv, &c, &done, err, sizeof err)) return config_error(err);
  if (done) return DS_EXIT_OK;
  if (ds_config_finish(&c, err, sizeof err)) return config_error(err);

  /* The runtime and every module this run needs, before any GPU work. */
  char buf[DS_MAX_MODULES][DS_MODULE_NAME];
  const char *names[DS_MAX_MODULES + 1];
  ds_modules(&c, buf, names);
  fic_config fc;
  fic_config_init(&fc);
  fc.jit_cache_wheel = c.jit_wheel, fc.tvmffi_wheel = c.tvmffi_wheel, fc.cache_dir = c.cache_dir;
  fic_runtime *rt = NULL;
  if (fic_runtime_open(&fc, &rt) != FIC_OK) {
    snprintf(err, sizeof err, "cannot open the flashinfer-c runtime (%s): %s", fic_status_name(fic_last_error_status()),
             fic_last_error_message());
    return config_error(err);
  }
  if (fic_runtime_preload(rt, names) != FIC_OK) {
    snprintf(err, sizeof err, "missing module: %s (%s)", fic_last_error_message(),
             fic_status_name(fic_last_error_status()));
    fic_runtime_close(rt);
    return config_error(err);
  }

  int ndev = 0;
  cudaError_t ce = cudaGetDeviceCount(&ndev);
  if (ce != cudaSuccess || ndev < 1) {
    fprintf(stderr, "decode_step: no CUDA device: %s\n", ce != cudaSuccess ? cudaGetErrorString(ce) : "none found");
    fic_runtime_close(rt);
    return DS_EXIT_NO_GPU;
  }
  CK(cudaSetDevice(0));
  size_t free_b = 0, total_b = 0;
  CK(cudaMemGetInfo(&free_b, &total_b));
  double need = device_bytes(&c);
  if (need > (double)free_b) {
    snprintf(err, sizeof err, "not enough GPU memory: this configuration needs about %.1f GiB, %.1f GiB free",
             need / (1 << 30), (double)free_b / (1 << 30));
    fic_runtime_close(rt);
    return config_error(err);
  }
  printf(
      "decode_step: %s shape, %d layers, batch %d, context %d, %d steps, page size %d, fill %s, %s%s, %s; "
      "~%.1f GiB of GPU memory\n",
      c.small ? "small" : "Llama-3-8B", c.layers, c.batch, c.context, c.steps, c.page_size,
      c.fill_random ? "random" : "prefill", c.greedy ? "greedy" : "top-k 50 / top-p 0.9",
      c.check ? ", check" : (c.eager ? ", eager" : ", graph"), c.gemm_lt ? "cublasLtMatmul" : "cublasGemmEx",
      need / (1 << 30));

  ds_model m;
  ds_model_init(&m, &c, rt);
  int rc = c.check ? run_check(&m) : run(&m);
  ds_model_free(&m);
  fic_runtime_close(rt);
  return rc;
}
