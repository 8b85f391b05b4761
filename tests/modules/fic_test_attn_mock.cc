/* SPDX-License-Identifier: Apache-2.0 */
// Do-nothing stand-ins for FlashInfer 0.6.3's FA2 batch decode and batch
// prefill modules, for timing the host side of plan/run on a machine
// without a GPU (bench/bench_plan_host.c). Built twice: without
// FIC_MOCK_PREFILL it exports the decode module's `plan` and `run`
// (csrc/batch_decode.cu + the generated ADDITIONAL_FUNC_PARAMS), with it the
// prefill module's `plan`, `paged_run` and `ragged_run`
// (csrc/batch_prefill.cu), each with the exact parameter types of the real
// export, through FlashInfer's own export macro: the argument conversion
// TVM-FFI does is the real modules' (a call of the wrong arity or kinds
// fails with a TypeError, as with them). The plans return an Array<int64_t>
// of the size the real plan infos have; nothing is read or written through
// any tensor (the device pointers may be fake).
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/optional.h>

#include <cstdint>

namespace ffi = tvm::ffi;
using ffi::Array;
using ffi::Optional;
using ffi::TensorView;

namespace {

#ifndef FIC_MOCK_PREFILL

// DecodePlanInfo::ToVector: 10 ints.
Array<int64_t> BatchDecodeWithPagedKVCachePlan(TensorView float_workspace_buffer, TensorView int_workspace_buffer,
                                               TensorView page_locked_int_workspace_buffer, TensorView indptr,
                                               int64_t batch_size, int64_t num_qo_heads, int64_t num_kv_heads,
                                               int64_t page_size, bool enable_cuda_graph, int64_t window_left,
                                               double logits_soft_cap, int64_t head_dim_qk, int64_t head_dim_vo,
                                               TensorView empty_q_data, TensorView empty_kv_data) {
  return Array<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
}

void BatchDecodeWithPagedKVCacheRun(TensorView float_workspace_buffer, TensorView int_workspace_buffer,
                                    Array<int64_t> plan_info_vec, TensorView q, TensorView paged_k_cache,
                                    TensorView paged_v_cache, TensorView paged_kv_indptr, TensorView paged_kv_indices,
                                    TensorView paged_kv_last_page_len, TensorView o, Optional<TensorView> maybe_lse,
                                    int64_t kv_layout_code, int64_t window_left, bool enable_pdl,
                                    Optional<ffi::Tensor> maybe_alibi_slopes, double logits_soft_cap, double sm_scale,
                                    double rope_rcp_scale, double rope_rcp_theta) {}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(plan, BatchDecodeWithPagedKVCachePlan);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(run, BatchDecodeWithPagedKVCacheRun);

#else

// PrefillPlanInfo::ToVector: 15 ints.
Array<int64_t> BatchPrefillWithKVCachePlan(TensorView float_workspace_buffer, TensorView int_workspace_buffer,
                                           TensorView page_locked_int_workspace_buffer, TensorView qo_indptr,
                                           TensorView kv_indptr, TensorView kv_len_arr, int64_t total_num_rows,
                                           int64_t batch_size, int64_t num_qo_heads, int64_t num_kv_heads,
                                           int64_t page_size, bool enable_cuda_graph, int64_t head_dim_qk,
                                           int64_t head_dim_vo, bool causal, int64_t window_left,
                                           int64_t fixed_split_size, bool disable_split_kv,
                                           int64_t num_colocated_ctas) {
  return Array<int64_t>{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
}

void BatchPrefillWithRaggedKVCacheRun(TensorView float_workspace_buffer, TensorView int_workspace_buffer,
                                      Array<int64_t> plan_info_vec, TensorView q, TensorView k, TensorView v,
                                      TensorView qo_indptr, TensorView kv_indptr, TensorView o,
                                      Optional<TensorView> maybe_lse, int64_t mask_mode_code, int64_t layout,
                                      int64_t window_left, bool enable_pdl, Optional<ffi::Tensor> maybe_custom_mask,
                                      Optional<ffi::Tensor> maybe_mask_indptr, Optional<ffi::Tensor> maybe_alibi_slopes,
                                      Optional<ffi::Tensor> maybe_prefix_len_ptr,
                                      Optional<ffi::Tensor> maybe_token_pos_in_items_ptr,
                                      Optional<ffi::Tensor> maybe_max_item_len_ptr, double logits_soft_cap,
                                      double sm_scale, double rope_rcp_scale, double rope_rcp_theta,
                                      int64_t token_pos_in_items_len) {}

void BatchPrefillWithPagedKVCacheRun(TensorView float_workspace_buffer, TensorView int_workspace_buffer,
                                     Array<int64_t> plan_info_vec, TensorView q, TensorView paged_k_cache,
                                     TensorView paged_v_cache, TensorView qo_indptr, TensorView paged_kv_indptr,
                                     TensorView paged_kv_indices, TensorView paged_kv_last_page_len, TensorView o,
                                     Optional<TensorView> maybe_lse, int64_t mask_mode_code, int64_t layout,
                                     int64_t window_left, bool enable_pdl, Optional<ffi::Tensor> maybe_custom_mask,
                                     Optional<ffi::Tensor> maybe_mask_indptr, Optional<ffi::Tensor> maybe_alibi_slopes,
                                     Optional<ffi::Tensor> maybe_prefix_len_ptr,
                                     Optional<ffi::Tensor> maybe_token_pos_in_items_ptr,
                                     Optional<ffi::Tensor> maybe_max_item_len_ptr, double logits_soft_cap,
                                     double sm_scale, double rope_rcp_scale, double rope_rcp_theta,
                                     int64_t token_pos_in_items_len) {}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(plan, BatchPrefillWithKVCachePlan);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(ragged_run, BatchPrefillWithRaggedKVCacheRun);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(paged_run, BatchPrefillWithPagedKVCacheRun);

#endif
