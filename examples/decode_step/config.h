/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step's configuration: flags, the model shape, and the checks made
 * before any GPU work (config.c). Pure C: no CUDA, no runtime. */
#ifndef DS_CONFIG_H
#define DS_CONFIG_H

#include <stddef.h>
#include <stdint.h>

/* Exit statuses. */
enum { DS_EXIT_OK = 0, DS_EXIT_CHECK = 1, DS_EXIT_CONFIG = 2, DS_EXIT_NO_GPU = 3 };

#define DS_MAX_MODULES 8
#define DS_MODULE_NAME 256
/* Tokens per prefill forward (the specification's chunk bound). */
#define DS_PREFILL_TOKENS 16384

typedef struct ds_config {
  /* the specification's flags */
  int layers, batch, context, steps, page_size;
  int fill_random, greedy, eager, small, check;
  uint32_t seed;
  const char *json;
  /* runtime (NULL: the FLASHINFER_C_* environment, see fic_config) */
  const char *jit_wheel, *tvmffi_wheel, *cache_dir;
  /* extras: shape overrides (0: the shape's value), total KV pages (0: exactly
   * enough), programmatic dependent launch (default on where supported) */
  int64_t q_heads, kv_heads, head_dim, pages;
  int no_pdl;
  /* matrix products: 1 cublasLtMatmul with per-shape descriptors and algorithm
   * fixed at start-up (default), 0 cublasGemmEx (--gemm ex); --host-profile:
   * a per-call host-time breakdown of the eager steps */
  int gemm_lt, host_profile;
  /* the model shape (filled by ds_config_finish) */
  int64_t hidden, mlp, vocab;
  double eps, rope_theta, rope_scale, rope_low, rope_high, rope_old_ctx;
  /* derived */
  int64_t pages_per_seq; /* ceil((context + steps) / page_size) */
  int64_t num_pages;     /* pages in each layer's K (and V) cache */
  int64_t seqs_per_chunk;
  int tensor_core_decode; /* group size outside {1,2,3,4,8}: decode through the prefill module */
  int given_batch, given_context, given_steps;
} ds_config;

/* Parse argv. 0 on success (or --help printed: *done = 1); DS_EXIT_CONFIG with
 * the message in err otherwise. */
int ds_parse(int argc, char **argv, ds_config *c, int *done, char *err, size_t n);
/* Fill the shape and the derived values, then check everything that can be
 * checked without a runtime. 0 or DS_EXIT_CONFIG with a one-line message. */
int ds_config_finish(ds_config *c, char *err, size_t n);
/* Prompt length of sequence i: context, or in check mode max(1, context - 7 i). */
int64_t ds_seq_context(const ds_config *c, int64_t i);
/* The modules this run needs, NULL-terminated in names (storage in buf). */
int ds_modules(const ds_config *c, char buf[DS_MAX_MODULES][DS_MODULE_NAME], const char *names[DS_MAX_MODULES + 1]);
void ds_usage(const char *prog);

#endif
