/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers for the kernel-layer tests: runtimes over fixture wheels, tensor
 * descriptors that own their shape/stride arrays, and argument-error checks. */
#ifndef FIC_TEST_KT_UTIL_H
#define FIC_TEST_KT_UTIL_H

#include "test_support.h"

typedef struct kt_runtime {
  char *cache_dir;
  fic_runtime *rt;
} kt_runtime;

/* Open a runtime over `wheel` (a flashinfer_jit_cache wheel) holding
 * `modules`, in a fresh cache directory, offline. The tvm-ffi wheel is
 * $FIC_TEST_TVMFFI_WHEEL when that file exists, else the library's default
 * (FLASHINFER_C_TVMFFI_WHEEL), so the tests also run from a copied build.
 * Fails the test if the runtime does not open. */
kt_runtime *kt_open(const char *wheel, const char *const *modules);
/* The same, but NULL (with the reason on stderr) when it does not open,
 * e.g. because the wheel lacks a module. */
kt_runtime *kt_try_open(const char *wheel, const char *const *modules);
void kt_close(kt_runtime *k);
/* cmocka group setup that opens nothing yet (state NULL: the first test
 * that needs a runtime opens it), and the teardown for a kt_runtime state
 * (NULL allowed). */
int kt_setup_empty(void **state);
int kt_teardown(void **state);
/* The runtime in a group state, or skip the test saying `why` it is missing. */
fic_runtime *kt_need_rt(void **state, const char *why);

/* Skip the calling test when a CUDA GPU is present: valid calls with the
 * tests' fake device pointers would be launched on it (the GPU tests cover
 * valid calls there). */
void kt_skip_if_gpu(fic_runtime *rt);

/* The real-kernel wheel: $FIC_NORM_WHEEL (a user override), else
 * $FIC_TEST_NORM_WHEEL (set by CMake when FIC_NORM_WHEEL existed at
 * configure time); NULL (with a message on stderr) when neither names an
 * existing file. */
const char *kt_norm_wheel(void);
/* The wheel with the real page, cascade (and attention) modules:
 * $FIC_ATTN_WHEEL, else $FIC_TEST_ATTN_WHEEL (set by CMake from
 * -DFIC_ATTN_WHEEL or the newest wheel under
 * ~/.cache/flashinfer-c-dev/modules-attn/<build>/); NULL with a message. */
const char *kt_attn_wheel(void);
/* A wheel with the MLA modules (FlashInfer's own JIT builds them:
 * tools/kernel-modules/jit_on_device.py): $FIC_MLA_WHEEL, else
 * $FIC_TEST_MLA_WHEEL (CMake's -DFIC_MLA_WHEEL); NULL with a message. */
const char *kt_mla_wheel(void);
#define KT_MLA_MODULE_BF16                                                                                      \
  "batch_mla_attention_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_ckv_512_head_dim_kpe_64_" \
  "profiler_False"
#define KT_MLA_MODULE_BF16_SM90 KT_MLA_MODULE_BF16 "_sm90"
/* The attention modules that wheel holds (bf16, head dim 128, FA2). */
#define KT_ATTN_DECODE_MODULE                                                                                     \
  "batch_decode_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_" \
  "128_posenc_0_use_swa_False_use_logits_cap_False"
#define KT_ATTN_PREFILL_MODULE                                                                                     \
  "batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_" \
  "128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False"
/* The wheel with the real FA3 batch prefill module (built with FlashInfer's
 * own JIT on an SM 9.0 machine: tools/kernel-modules/jit_on_device.py):
 * $FIC_FA3_WHEEL, else $FIC_TEST_FA3_WHEEL (CMake's -DFIC_FA3_WHEEL); NULL
 * with a message. */
const char *kt_fa3_wheel(void);
#define KT_ATTN_FA3_MODULE                                                                                         \
  "batch_prefill_with_kv_cache_dtype_q_bf16_dtype_kv_bf16_dtype_o_bf16_dtype_idx_i32_head_dim_qk_128_head_dim_vo_" \
  "128_posenc_0_use_swa_False_use_logits_cap_False_f16qk_False_sm90"
int kt_file_exists(const char *path);

/* A tensor descriptor that owns its shape and strides. Refresh the pointers
 * with kt_t() before each use (the struct may have been copied). */
typedef struct kt_desc {
  fic_tensor t;
  int64_t shape[4];
  int64_t strides[4];
  int explicit_strides;
} kt_desc;

/* A CUDA tensor on device 0 at fake address `addr` (never dereferenced by
 * the tests that use it: validation must fail, or the module must be
 * missing, before anything reaches a GPU). */
kt_desc kt_cuda(uintptr_t addr, fic_dtype dtype, int32_t ndim, int64_t d0, int64_t d1, int64_t d2, int64_t d3);
/* Set explicit strides (in elements). */
void kt_strides(kt_desc *d, int64_t s0, int64_t s1, int64_t s2, int64_t s3);
const fic_tensor *kt_t(kt_desc *d);

/* fic_gdn_prefill with the parameters in the 0.6.3 wrapper's order (the
 * tests' tables of cases are written that way); NULL optional tensors. */
fic_status kt_gdn_prefill(fic_runtime *rt, const fic_tensor *output, const fic_tensor *output_state,
                          const fic_tensor *q, const fic_tensor *k, const fic_tensor *v, const fic_tensor *cu_seqlens,
                          const fic_tensor *input_state, const fic_tensor *alpha, const fic_tensor *beta, double scale,
                          const fic_tensor *workspace, void *stream);

/* Assert `s` is FIC_ERR_INVALID_ARGUMENT naming `arg`, with `substr` (may be
 * NULL) in the message. */
void kt_expect_arg(fic_status s, const char *arg, const char *substr, const char *expr, int line);
#define KT_EXPECT_ARG(call, arg, substr) kt_expect_arg((call), (arg), (substr), #call, __LINE__)
/* Assert `s` is `want`. */
void kt_expect_status(fic_status s, fic_status want, const char *expr, int line);
#define KT_EXPECT_STATUS(call, want) kt_expect_status((call), (want), #call, __LINE__)
/* Assert `s` is FIC_ERR_KERNEL raised by the wrapper with error kind `kind`
 * ("InternalError", "TypeError" ...) and `substr` in the message (either may
 * be NULL: not checked). */
void kt_expect_kernel(fic_status s, const char *kind, const char *substr, int line);
#define KT_EXPECT_KERNEL(call, kind, substr) kt_expect_kernel((call), (kind), (substr), __LINE__)
/* `name` of `module` in `rt`, asserted found. */
fic_function *kt_fn(fic_runtime *rt, const char *module, const char *name);
/* The exit status of a binary that ran two cmocka groups: 77 (Skipped) only
 * when both skipped every case, else the failures of the groups that ran. */
int kt_groups_status(int first, int second);

#endif
