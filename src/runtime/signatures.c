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
};

int32_t fic__signature_arity(const char *module, const char *name) {
  for (size_t i = 0; i < sizeof k_signatures / sizeof k_signatures[0]; ++i)
    if (strcmp(k_signatures[i].module, module) == 0 && strcmp(k_signatures[i].name, name) == 0)
      return k_signatures[i].arity;
  return -1;
}
