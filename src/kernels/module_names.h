/* SPDX-License-Identifier: Apache-2.0 */
/* FlashInfer 0.6.3 kernel module names, computed from a call's parameters
 * exactly as FlashInfer's AOT build (flashinfer/aot.py) names the modules of
 * the flashinfer_jit_cache wheel, and parsed back.
 *
 * The wheel holds `jit_cache/<name>/<name>.so`; the attention kernels are
 * compiled per (dtypes, head dims, flags), so the library must find the one
 * module whose name encodes the caller's parameters, spelled the way Python
 * spells it: dtype tokens f16/bf16/e4m3/e5m2/i32..., booleans `True`/`False`
 * (lower-case only in batch_attention), integers in decimal. The rules are in
 * docs/kernels.md ("Module names"). Nothing here allocates, loads or reads
 * the environment. */
#ifndef FIC_KERNELS_MODULE_NAMES_H
#define FIC_KERNELS_MODULE_NAMES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "artifacts/artifacts.h"
#include "common/error.h"
#include "flashinfer_c.h"

/* A buffer this size holds any name produced here, NUL included (the longest
 * real one is 174 characters): the artifact layer's limit on module names. */
#define FIC__MODULE_NAME_CAP FIC_MODULE_NAME_MAX

/* FlashInfer's file-name token of a dtype ("bf16", "e4m3", "i32": jit/utils.py
 * filename_safe_dtype_map), or NULL when it has none. */
const char *fic__dtype_token(fic_dtype d);

/* ---- attention: decode, prefill, batch attention, attention sink, MLA ---- */

typedef enum fic__attn_family {
  FIC__ATTN_SINGLE_DECODE,   /* single_decode_with_kv_cache_... */
  FIC__ATTN_BATCH_DECODE,    /* batch_decode_with_kv_cache_... */
  FIC__ATTN_SINGLE_PREFILL,  /* single_prefill_with_kv_cache_... */
  FIC__ATTN_BATCH_PREFILL,   /* batch_prefill_with_kv_cache_... (paged KV) */
  FIC__ATTN_BATCH_ATTENTION, /* batch_attention_with_kv_cache_... (persistent) */
  FIC__ATTN_PREFILL_SINK,    /* batch_prefill_with_attention_sink_kv_cache_... */
  FIC__ATTN_BATCH_MLA,       /* batch_mla_attention_... */
  FIC__ATTN_FAMILY_COUNT
} fic__attn_family;

/* FA2 modules run on every architecture of the wheel; FA3 modules carry the
 * `_sm90` suffix and hold sm_90a code only. */
typedef enum fic__attn_backend { FIC__BACKEND_FA2 = 0, FIC__BACKEND_FA3 = 1 } fic__attn_backend;

/* One struct for every attention family: they share these parameters, and a
 * parameter a family's name does not encode must stay zero (false, 0, or the
 * all-zero dtype), so that a name maps to exactly one parameter set. */
typedef struct fic__attn_params {
  fic__attn_family family;
  fic__attn_backend backend;
  fic_dtype dtype_q, dtype_kv, dtype_o; /* f16, bf16, fp8 e4m3fn / e5m2 */
  fic_dtype dtype_idx;                  /* int32 or int64; zero for the single_* families */
  int32_t head_dim_qk, head_dim_vo;     /* MLA: head_dim_ckv, head_dim_kpe */
  int32_t pos_encoding;                 /* 0 none, 1 RoPE in the kernel, 2 ALiBi */
  bool use_sliding_window;              /* window_left >= 0 */
  bool use_logits_soft_cap;             /* logits_soft_cap > 0 */
  bool use_fp16_qk_reduction;           /* prefill families only */
  bool use_profiler;                    /* batch attention and MLA only */
} fic__attn_params;

/* Write the module name of `p` into `buf` (cap bytes, NUL-terminated).
 * FIC_ERR_INVALID_ARGUMENT, with `buf` untouched, when `p` is a combination
 * FlashInfer cannot build (no FA3 decode, fp8 queries on FA2, mixed q/kv
 * dtypes on FA3, ...) or the name does not fit. */
fic_status fic__attn_module_name(const fic__attn_params *p, char *buf, size_t cap);

/* The parameters `name` encodes. FIC_ERR_INVALID_ARGUMENT, with `*out`
 * untouched, when `name` is not an attention module name this file can
 * produce. Parsing then naming gives back `name` exactly. */
fic_status fic__attn_module_parse(const char *name, fic__attn_params *out);

/* The same two without recording an error: false where they would fail.
 * For scanning a wheel's module list, where most names do not match. */
bool fic__attn_module_name_quiet(const fic__attn_params *p, char *buf, size_t cap);
bool fic__attn_module_match(const char *name, fic__attn_params *out);

/* Short family label for messages ("batch prefill"). */
const char *fic__attn_family_label(fic__attn_family family);

/* ---- XQA (decode for paged KV, SM 9.0+) and XQA MLA ---- */

typedef struct fic__xqa_params {
  bool mla;                 /* xqa_mla_...: fp8 only, head dim 576, group 128 */
  fic_dtype dtype_input;    /* f16/bf16 (MLA: e4m3) */
  fic_dtype dtype_kv_cache; /* f16/bf16/e4m3/int8 (MLA: e4m3) */
  fic_dtype dtype_output;   /* zero for MLA */
  int32_t page_size;        /* 16, 32, 64 or 128 */
  int32_t head_dim;         /* multiple of 16 in [16, 256] (MLA: 576) */
  int32_t head_group_ratio; /* query heads per KV head (MLA: 128) */
  bool use_sliding_window;  /* false for MLA */
  bool use_spec_dec;        /* must equal q_seq_len > 1; false for MLA */
  int32_t spec_q_seq_len;   /* >= 1; zero for MLA */
} fic__xqa_params;

fic_status fic__xqa_module_name(const fic__xqa_params *p, char *buf, size_t cap);
fic_status fic__xqa_module_parse(const char *name, fic__xqa_params *out);

/* ---- modules whose name has no parameters ---- */

typedef enum fic__fixed_module {
  FIC__MOD_PAGE,              /* append_paged_kv_cache, ... */
  FIC__MOD_CASCADE,           /* merge_state, ... */
  FIC__MOD_SAMPLING,          /* softmax, sampling_from_probs, ... */
  FIC__MOD_TOPK,              /* radix_topk, ... */
  FIC__MOD_ROPE,              /* apply_rope, ... */
  FIC__MOD_SILU_AND_MUL,      /* activation */
  FIC__MOD_GELU_AND_MUL,      /* activation */
  FIC__MOD_GELU_TANH_AND_MUL, /* activation */
  FIC__MOD_QUANTIZATION,      /* packbits, segment_packbits */
  FIC__MOD_NORM,              /* rmsnorm, layernorm, ... */
  FIC__MOD_GDN_PREFILL_SM90,  /* gdn_prefill (sm_90a only) */
  FIC__MOD_FIXED_COUNT
} fic__fixed_module;

fic_status fic__fixed_module_name(fic__fixed_module m, char *buf, size_t cap);
fic_status fic__fixed_module_parse(const char *name, fic__fixed_module *out);

/* ---- choosing the module for a call from a wheel's list ---- */

/* Pick the module for `want` (its `backend` is ignored) among `names`
 * (`count` module names of a wheel): FA3 (`_sm90`) on an SM 9.0 GPU when the
 * family has FA3 modules, q and kv share a dtype, pos_encoding is 0, there is
 * no fp16 QK reduction, and that module is in the list; FA2 otherwise.
 * On success `*chosen` is `want` with the backend picked and `name` holds
 * the module name. FIC_ERR_NOT_FOUND when neither is in the list, with a
 * message naming what the list has for the nearest parameters;
 * FIC_ERR_INVALID_ARGUMENT when `want` is no buildable combination at all. */
fic_status fic__attn_pick_module(const char *const *names, size_t count, const fic__attn_params *want, int sm_major,
                                 int sm_minor, fic__attn_params *chosen, char *name, size_t cap);

#endif
