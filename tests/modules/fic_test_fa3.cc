/* SPDX-License-Identifier: Apache-2.0 */
// A stand-in for FlashInfer 0.6.3's FA3 batch prefill module
// (batch_prefill_with_kv_cache_..._sm90, 16-bit q), for machines without an
// SM 9.0 GPU. Its plan, paged_run and ragged_run have the exact parameter
// types of csrc/batch_prefill_sm90_jit_binding.cu with the ADDITIONAL_FUNC_PARAMS
// that flashinfer/jit/attention/modules.py renders for a 16-bit FA3 module,
// exported with FlashInfer's macro: a call whose count or kinds differ fails
// in the real TVM-FFI conversion (TypeError), as with the real module. Each
// call records what it received; `last_call` returns that record, so a test
// can check the values and their order. Nothing is ever dereferenced on a
// device.
#include <tvm/ffi/container/array.h>
#include <tvm/ffi/container/tensor.h>
#include <tvm/ffi/error.h>
#include <tvm/ffi/function.h>
#include <tvm/ffi/optional.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <vector>

namespace ffi = tvm::ffi;
using ffi::Array;
using ffi::Optional;
using ffi::TensorView;

namespace {

std::mutex g_lock;
std::vector<int64_t> g_last;

int64_t bits(double x) {
  int64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

void record(std::vector<int64_t> v) {
  std::lock_guard<std::mutex> g(g_lock);
  g_last = std::move(v);
}

bool is_i32(const TensorView &t) { return t.dtype().code == kDLInt && t.dtype().bits == 32 && t.dtype().lanes == 1; }

// A host int32 vector, as the plan reads it (ICHECKs like FlashInfer's own).
void push_host_i32(std::vector<int64_t> &out, const TensorView &t) {
  TVM_FFI_ICHECK_EQ(t.device().device_type, kDLCPU) << "host tensor required";
  TVM_FFI_ICHECK(is_i32(t)) << "int32 tensor required";
  TVM_FFI_ICHECK_EQ(t.ndim(), 1);
  out.push_back(t.size(0));
  const int32_t *p = static_cast<const int32_t *>(t.data_ptr());
  for (int64_t i = 0; i < t.size(0); ++i) out.push_back(p[i]);
}

int64_t addr(const TensorView &t) { return reinterpret_cast<int64_t>(t.data_ptr()); }

// {9 plan ints} like PrefillPlanSM90Info::ToVector. Records: 16 (arity),
// float/int ws address and device type, host ws device type, qo_indptr,
// kv_indptr, kv_len_arr (each: length then values), then the ten scalars.
Array<int64_t> BatchPrefillWithKVCacheSM90Plan(TensorView float_workspace_buffer, TensorView int_workspace_buffer,
                                               TensorView page_locked_int_workspace_buffer, TensorView qo_indptr,
                                               TensorView kv_indptr, TensorView kv_len_arr, int64_t total_num_rows,
                                               int64_t batch_size, int64_t num_qo_heads, int64_t num_kv_heads,
                                               int64_t page_size, bool enable_cuda_graph, int64_t head_dim_qk,
                                               int64_t head_dim_vo, bool causal, int64_t window_left) {
  TVM_FFI_ICHECK_EQ(float_workspace_buffer.device().device_type, kDLCUDA);
  TVM_FFI_ICHECK_EQ(int_workspace_buffer.device().device_type, kDLCUDA);
  TVM_FFI_ICHECK_EQ(page_locked_int_workspace_buffer.device().device_type, kDLCPU);
  std::vector<int64_t> r = {16, addr(float_workspace_buffer), addr(int_workspace_buffer),
                            addr(page_locked_int_workspace_buffer)};
  push_host_i32(r, qo_indptr);
  push_host_i32(r, kv_indptr);
  push_host_i32(r, kv_len_arr);
  for (int64_t x :
       {total_num_rows, batch_size, num_qo_heads, num_kv_heads, page_size, static_cast<int64_t>(enable_cuda_graph),
        head_dim_qk, head_dim_vo, static_cast<int64_t>(causal), window_left})
    r.push_back(x);
  record(std::move(r));
  return Array<int64_t>{901, 902, 903, 904, 905, 906, 907, 908, 1};
}

// What both runs record after their tensors: the plan's ints, lse address
// (0: None), mask_mode, layout, window_left, enable_pdl, each optional's
// presence (0/1), logits_soft_cap, sm_scale, scale_v_scalar (as bits), and
// token_pos_in_items_len.
void push_tail(std::vector<int64_t> &r, const Array<int64_t> &plan_info_vec, const Optional<TensorView> &maybe_lse,
               int64_t mask_mode_code, int64_t layout, int64_t window_left, bool enable_pdl,
               const Optional<ffi::Tensor> &maybe_prefix_len_ptr,
               const Optional<ffi::Tensor> &maybe_token_pos_in_items_ptr,
               const Optional<ffi::Tensor> &maybe_max_item_len_ptr, const Optional<ffi::Tensor> &maybe_scale_v,
               double logits_soft_cap, double sm_scale, double scale_v_scalar, int64_t token_pos_in_items_len) {
  r.push_back(static_cast<int64_t>(plan_info_vec.size()));
  for (int64_t x : plan_info_vec) r.push_back(x);
  r.push_back(maybe_lse.has_value() ? addr(maybe_lse.value()) : 0);
  for (int64_t x : {mask_mode_code, layout, window_left, static_cast<int64_t>(enable_pdl)}) r.push_back(x);
  for (const Optional<ffi::Tensor> *t :
       {&maybe_prefix_len_ptr, &maybe_token_pos_in_items_ptr, &maybe_max_item_len_ptr, &maybe_scale_v})
    r.push_back(t->has_value() ? 1 : 0);
  r.push_back(bits(logits_soft_cap));
  r.push_back(bits(sm_scale));
  r.push_back(bits(scale_v_scalar));
  r.push_back(token_pos_in_items_len);
}

// Records 22 (arity), the addresses of float ws, int ws, q, k, v, qo_indptr,
// kv_indptr, o, then push_tail.
void BatchPrefillWithRaggedKVCacheSM90Run(
    TensorView float_workspace_buffer, TensorView int_workspace_buffer, Array<int64_t> plan_info_vec, TensorView q,
    TensorView k, TensorView v, TensorView qo_indptr, TensorView kv_indptr, TensorView o,
    Optional<TensorView> maybe_lse, int64_t mask_mode_code, int64_t layout, int64_t window_left, bool enable_pdl,
    Optional<ffi::Tensor> maybe_prefix_len_ptr, Optional<ffi::Tensor> maybe_token_pos_in_items_ptr,
    Optional<ffi::Tensor> maybe_max_item_len_ptr, Optional<ffi::Tensor> maybe_scale_v, double logits_soft_cap,
    double sm_scale, double scale_v_scalar, int64_t token_pos_in_items_len) {
  std::vector<int64_t> r = {22};
  for (const TensorView *t : {&float_workspace_buffer, &int_workspace_buffer, &q, &k, &v, &qo_indptr, &kv_indptr, &o})
    r.push_back(addr(*t));
  push_tail(r, plan_info_vec, maybe_lse, mask_mode_code, layout, window_left, enable_pdl, maybe_prefix_len_ptr,
            maybe_token_pos_in_items_ptr, maybe_max_item_len_ptr, maybe_scale_v, logits_soft_cap, sm_scale,
            scale_v_scalar, token_pos_in_items_len);
  record(std::move(r));
}

// Records 24 (arity), the addresses of float ws, int ws, q, k, v, qo_indptr,
// kv_indptr, kv_indices, last_page_len, o, then push_tail.
void BatchPrefillWithPagedKVCacheSM90Run(
    TensorView float_workspace_buffer, TensorView int_workspace_buffer, Array<int64_t> plan_info_vec, TensorView q,
    TensorView paged_k_cache, TensorView paged_v_cache, TensorView qo_indptr, TensorView paged_kv_indptr,
    TensorView paged_kv_indices, TensorView paged_kv_last_page_len, TensorView o, Optional<TensorView> maybe_lse,
    int64_t mask_mode_code, int64_t layout, int64_t window_left, bool enable_pdl,
    Optional<ffi::Tensor> maybe_prefix_len_ptr, Optional<ffi::Tensor> maybe_token_pos_in_items_ptr,
    Optional<ffi::Tensor> maybe_max_item_len_ptr, Optional<ffi::Tensor> maybe_scale_v, double logits_soft_cap,
    double sm_scale, double scale_v_scalar, int64_t token_pos_in_items_len) {
  std::vector<int64_t> r = {24};
  for (const TensorView *t : {&float_workspace_buffer, &int_workspace_buffer, &q, &paged_k_cache, &paged_v_cache,
                              &qo_indptr, &paged_kv_indptr, &paged_kv_indices, &paged_kv_last_page_len, &o})
    r.push_back(addr(*t));
  push_tail(r, plan_info_vec, maybe_lse, mask_mode_code, layout, window_left, enable_pdl, maybe_prefix_len_ptr,
            maybe_token_pos_in_items_ptr, maybe_max_item_len_ptr, maybe_scale_v, logits_soft_cap, sm_scale,
            scale_v_scalar, token_pos_in_items_len);
  record(std::move(r));
}

Array<int64_t> last_call() {
  std::lock_guard<std::mutex> g(g_lock);
  Array<int64_t> a;
  for (int64_t x : g_last) a.push_back(x);
  return a;
}

}  // namespace

TVM_FFI_DLL_EXPORT_TYPED_FUNC(plan, BatchPrefillWithKVCacheSM90Plan);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(ragged_run, BatchPrefillWithRaggedKVCacheSM90Run);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(paged_run, BatchPrefillWithPagedKVCacheSM90Run);
TVM_FFI_DLL_EXPORT_TYPED_FUNC(last_call, last_call);
