/* SPDX-License-Identifier: Apache-2.0 */
/* The typed kernel layer: FlashInfer 0.6.3's norm.so and gdn_prefill_sm90.so
 * behind fic_rmsnorm ... fic_gdn_prefill. Each function validates its
 * arguments (validate.h), resolves its export once into a runtime slot and
 * calls it through fic__call. */
#ifndef FIC_KERNELS_H
#define FIC_KERNELS_H

#include <string.h>

#include "ffi/call.h"

/* Module names, as in flashinfer_jit_cache/jit_cache/<m>/<m>.so. */
#define FIC_MODULE_NORM "norm"
#define FIC_MODULE_GDN_PREFILL "gdn_prefill_sm90"

/* One cache slot per exported function (runtime.h: kernel_slots). */
typedef enum fic_kernel_slot {
  FIC_SLOT_RMSNORM = 0,
  FIC_SLOT_GEMMA_RMSNORM,
  FIC_SLOT_FUSED_ADD_RMSNORM,
  FIC_SLOT_GEMMA_FUSED_ADD_RMSNORM,
  FIC_SLOT_RMSNORM_QUANT,
  FIC_SLOT_FUSED_ADD_RMSNORM_QUANT,
  FIC_SLOT_LAYERNORM,
  FIC_SLOT_GDN_PREFILL,
  FIC_SLOT_APPEND_PAGED_KV_CACHE,
  FIC_SLOT_APPEND_PAGED_MLA_KV_CACHE,
  FIC_SLOT_MERGE_STATE,
  FIC_SLOT_MERGE_STATE_IN_PLACE,
  FIC_SLOT_MERGE_STATES,
  /* sampling.so and topk.so (sampling*.c, topk.c) */
  FIC_SLOT_SOFTMAX,
  FIC_SLOT_SAMPLING_FROM_PROBS,
  FIC_SLOT_SAMPLING_FROM_LOGITS,
  FIC_SLOT_TOP_P_SAMPLING,
  FIC_SLOT_TOP_K_SAMPLING,
  FIC_SLOT_MIN_P_SAMPLING,
  FIC_SLOT_TOP_K_TOP_P_SAMPLING,
  FIC_SLOT_TOP_P_RENORM,
  FIC_SLOT_TOP_K_RENORM,
  FIC_SLOT_TOP_K_MASK_LOGITS,
  FIC_SLOT_CHAIN_SPECULATIVE,
  FIC_SLOT_RADIX_TOPK,
  FIC_SLOT_RADIX_TOPK_PAGE_TABLE,
  FIC_SLOT_RADIX_TOPK_RAGGED,
  FIC_SLOT_CAN_FILTERED_TOPK,
  /* rope.so, the activation modules, quantization.so */
  FIC_SLOT_APPLY_ROPE,
  FIC_SLOT_APPLY_ROPE_POS_IDS,
  FIC_SLOT_APPLY_LLAMA31_ROPE,
  FIC_SLOT_APPLY_LLAMA31_ROPE_POS_IDS,
  FIC_SLOT_APPLY_ROPE_POS_IDS_COS_SIN_CACHE,
  FIC_SLOT_SILU_AND_MUL,
  FIC_SLOT_GELU_AND_MUL,
  FIC_SLOT_GELU_TANH_AND_MUL,
  FIC_SLOT_PACKBITS,
  FIC_SLOT_SEGMENT_PACKBITS,
  FIC_SLOT_COUNT
} fic_kernel_slot;

_Static_assert(FIC_SLOT_COUNT <= FIC_KERNEL_SLOTS, "raise FIC_KERNEL_SLOTS in runtime/runtime.h");

/* Bytes of workspace gdn_prefill needs per SM: one 128-byte TMA descriptor
 * (CollectiveStoreTma::get_workspace_size in FlashInfer 0.6.3). */
#define FIC_GDN_WORKSPACE_PER_SM 128
/* TMA descriptors must be 64-byte aligned. */
#define FIC_GDN_WORKSPACE_ALIGN 64

/* The SM count of CUDA device `device_id`, through the CUDA runtime the
 * loader loaded; cached per device after the first query. 0 when unknown
 * (no runtime yet, no such device, query failed): the caller then skips the
 * checks that need it. */
int fic__kernel_sm_count(int32_t device_id);
/* Its compute capability as major * 10 + minor (90 for SM 9.0), cached the
 * same way; 0 when unknown. */
int fic__kernel_compute_capability(int32_t device_id);
#ifdef FIC_TEST_HOOKS
/* Tests: make fic__kernel_compute_capability answer `cc` for every device
 * (-1: ask the device again). */
void fic__test_set_compute_capability(int cc);
#endif

/* Cells of the argument array, built by the public fic_arg_* constructors
 * (fic_arg and fic_any are the same 16 bytes: checked in src/ffi/generic.c;
 * the validated descriptors are DLTensors, as is fic_tensor). */
static inline fic_any fic__any_from_arg(fic_arg a) {
  fic_any x;
  memcpy(&x, &a, sizeof x);
  return x;
}
static inline fic_any fic__any_ptr_tensor(const void *dl) { return fic__any_from_arg(fic_arg_tensor(dl)); }
static inline fic_any fic__any_none(void) { return fic__any_from_arg(fic_arg_none()); }
static inline fic_any fic__any_float(double x) { return fic__any_from_arg(fic_arg_float(x)); }
static inline fic_any fic__any_bool(int x) { return fic__any_from_arg(fic_arg_bool(x)); }
static inline fic_any fic__any_int(int64_t x) { return fic__any_from_arg(fic_arg_int(x)); }
static inline fic_any fic__any_string(const char *s) { return fic__any_from_arg(fic_arg_string(s)); }

/* Resolve `name` of the fixed-name module `m` (module_names.c) into `slot`. */
fic_status fic__fixed_kernel_function(fic_runtime *rt, int slot, int m, const char *name, void *stream,
                                      const struct fic_function **out);

#endif
