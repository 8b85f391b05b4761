/* SPDX-License-Identifier: Apache-2.0 */
/* The command-line tool's own helpers (not the library's: no fic_ prefix). */
#ifndef FIC_CLI_H
#define FIC_CLI_H
#include "flashinfer_c.h"

/* The most modules --modules takes (the library has no limit; this bounds
 * the tool's static argument table: a module list longer than the 16 KiB
 * buffer is refused anyway). */
#define CLI_MAX_MODULES 1024

/* The `run` verb (run.c). Returns the process exit code. */
int cli_run(const fic_config *base, int argc, char **argv);
/* Print "flashinfer-c: <what>: <status>: <message>" for the last error; returns 1. */
int cli_report(const char *what, fic_status st);
/* A progress bar on stderr for downloads. */
int cli_progress(void *user, const char *what, uint64_t done, uint64_t total);

/* Print the runtime's paths, one per line (libcudart too when with_cudart). */
void cli_print_paths(const fic_runtime *rt, int with_cudart);
/* Print the path of each module prepared: the configured list, else every
 * module a kernel of `run` needs; for each of those the wheel lacks, one line
 * saying how to get it. Returns how many are missing, or -1 when one could not
 * be prepared because the jit-cache wheel is not available (offline, no route
 * to its host): `fetch` then fails, so the main job falls back to a wheel
 * built from sources. */
int cli_print_modules(const fic_runtime *rt, const fic_config *cfg);
/* Is `module` prepared in `rt`? (no error recorded either way) */
int cli_has_module(const fic_runtime *rt, const char *module);

/* The batch decode check of `run` (run_attention.c): the bf16 / head dim 128
 * module tools/kernel-modules builds. Returns 0 passed, 1 mismatch or kernel
 * error, 2 setup failure. */
#define CLI_DECODE_MODULE                                                                                         \
  "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_" \
  "128_posenc_0_use_swa_False_use_logits_cap_False"
struct cudart_dyn;
struct ref_rng;
int cli_run_decode(fic_runtime *rt, const struct cudart_dyn *cuda, int dev, void *stream, struct ref_rng *rng);
/* The causal batch prefill check of `run` (run_attention.c, the FA2 bf16 /
 * head dim 128 module). Returns as cli_run_decode. */
#define CLI_PREFILL_MODULE                                                                                         \
  "batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_" \
  "128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False"
int cli_run_prefill(fic_runtime *rt, const struct cudart_dyn *cuda, int dev, void *stream, struct ref_rng *rng);
/* The sampling check of `run` (run_sampling.c): softmax vs float64, top-p
 * sampling reproducible for one (seed, offset). Returns as cli_run_decode. */
int cli_run_sampling(fic_runtime *rt, const struct cudart_dyn *cuda, int dev, void *stream, struct ref_rng *rng);

#endif
