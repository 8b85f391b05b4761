/* SPDX-License-Identifier: Apache-2.0 */
/* Parameter counts of the functions exported by the pinned FlashInfer 0.6.3
 * modules. TVM-FFI wrappers have no default arguments and the counts change
 * between FlashInfer versions (gdn_prefill: 11 in 0.6.3, 14 from 0.6.8), so
 * a call with the wrong count is refused before it reaches the wrapper. */
#include "runtime/signatures.h"

#include <string.h>

static const struct {
  const char *module;
  const char *name;
  int32_t arity;
} k_signatures[] = {
    /* norm.so (csrc/flashinfer_norm_binding.cu) */
    {"norm", "rmsnorm", 5},
    {"norm", "rmsnorm_quant", 6},
    {"norm", "fused_add_rmsnorm", 5},
    {"norm", "fused_add_rmsnorm_quant", 7},
    {"norm", "gemma_rmsnorm", 5},
    {"norm", "gemma_fused_add_rmsnorm", 5},
    {"norm", "layernorm", 5},
    /* gdn_prefill_sm90.so (csrc/gdn_prefill_launcher.cu) */
    {"gdn_prefill_sm90", "gdn_prefill", 11},
    /* page.so (csrc/page.cu, csrc/flashinfer_page_binding.cu) */
    {"page", "append_paged_kv_cache", 10},
    {"page", "append_paged_mla_kv_cache", 9},
    /* cascade.so (csrc/cascade.cu, csrc/flashinfer_cascade_binding.cu) */
    {"cascade", "merge_state", 6},
    {"cascade", "merge_state_in_place", 5},
    {"cascade", "merge_states", 4},
    /* sampling.so (csrc/flashinfer_sampling_binding.cu, sampling.cu, renorm.cu) */
    {"sampling", "softmax", 6},
    {"sampling", "sampling_from_probs", 6},
    {"sampling", "sampling_from_logits", 6},
    {"sampling", "top_p_sampling_from_probs", 8},
    {"sampling", "top_k_sampling_from_probs", 8},
    {"sampling", "min_p_sampling_from_probs", 8},
    {"sampling", "top_k_top_p_sampling_from_probs", 10},
    {"sampling", "top_p_renorm_probs", 4},
    {"sampling", "top_k_renorm_probs", 5},
    {"sampling", "top_k_mask_logits", 5},
    {"sampling", "chain_speculative_sampling", 9},
    /* topk.so (csrc/flashinfer_topk_binding.cu, topk.cu) */
    {"topk", "radix_topk", 5},
    {"topk", "radix_topk_page_table_transform", 7},
    {"topk", "radix_topk_ragged_transform", 6},
    {"topk", "can_implement_filtered_topk", 0},
    /* rope.so (csrc/rope.cu, csrc/flashinfer_rope_binding.cu) */
    {"rope", "apply_rope", 10},
    {"rope", "apply_rope_pos_ids", 9},
    {"rope", "apply_llama31_rope", 13},
    {"rope", "apply_llama31_rope_pos_ids", 12},
    {"rope", "apply_rope_pos_ids_cos_sin_cache", 7},
    /* activations (flashinfer/jit/activation.py's template): (out, input, enable_pdl) */
    {"silu_and_mul", "silu_and_mul", 3},
    {"gelu_and_mul", "gelu_and_mul", 3},
    {"gelu_tanh_and_mul", "gelu_tanh_and_mul", 3},
    /* quantization.so (csrc/quantization.cu) */
    {"quantization", "packbits", 3},
    {"quantization", "segment_packbits", 5},
};

/* Attention modules are named by their parameters, so they are matched by
 * family: the name's prefix, and whether it ends in "_sm90" (FA3, whose
 * lists differ). decode: csrc/batch_decode.cu (14 + 5 ADDITIONAL_FUNC_PARAMS);
 * FA2 prefill: csrc/batch_prefill.cu (run: 14 or 16 + 11 ADDITIONAL); FA3
 * prefill: csrc/batch_prefill_sm90.cu (plan 16; run: 14 or 16 + 8
 * ADDITIONAL for 16-bit q, + 7 for fp8 q, whose entries come first: the
 * first match wins); MLA below. */
static const struct {
  const char *prefix;
  int fa3;
  const char *name;
  int32_t arity;
} k_family_signatures[] = {
    {"batch_decode_with_kv_cache_", 0, "plan", 15},
    {"batch_decode_with_kv_cache_", 0, "run", 19},
    {"batch_prefill_with_kv_cache_", 0, "plan", 19},
    {"batch_prefill_with_kv_cache_", 0, "paged_run", 27},
    {"batch_prefill_with_kv_cache_", 0, "ragged_run", 25},
    /* MLA: csrc/batch_mla_binding.cu and batch_mla_sm90_binding.cu (the FA3 run's
       ADDITIONAL_FUNC_PARAMS are empty without the profiler, the AOT build's) */
    {"batch_mla_attention_", 0, "plan", 9},
    {"batch_mla_attention_", 0, "run", 15},
    {"batch_mla_attention_", 1, "plan", 9},
    {"batch_mla_attention_", 1, "run", 15},
    {"batch_prefill_with_kv_cache_dtype_q_e4m3_", 1, "paged_run", 23},
    {"batch_prefill_with_kv_cache_dtype_q_e4m3_", 1, "ragged_run", 21},
    {"batch_prefill_with_kv_cache_", 1, "plan", 16},
    {"batch_prefill_with_kv_cache_", 1, "paged_run", 24},
    {"batch_prefill_with_kv_cache_", 1, "ragged_run", 22},
};

static int ends_with(const char *s, const char *suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && strcmp(s + n - m, suffix) == 0;
}

int32_t fic__signature_arity(const char *module, const char *name) {
  for (size_t i = 0; i < sizeof k_signatures / sizeof k_signatures[0]; ++i)
    if (strcmp(k_signatures[i].module, module) == 0 && strcmp(k_signatures[i].name, name) == 0)
      return k_signatures[i].arity;
  int fa3 = ends_with(module, "_sm90");
  for (size_t i = 0; i < sizeof k_family_signatures / sizeof k_family_signatures[0]; ++i) {
    const char *prefix = k_family_signatures[i].prefix;
    if (strncmp(module, prefix, strlen(prefix)) == 0 && fa3 == k_family_signatures[i].fa3 &&
        strcmp(k_family_signatures[i].name, name) == 0)
      return k_family_signatures[i].arity;
  }
  return -1;
}
