/* SPDX-License-Identifier: Apache-2.0 */
/* topk.so of FlashInfer 0.6.3 (csrc/topk.cu, include/flashinfer/topk.cuh):
 * radix_topk, its page-table and ragged transforms, and
 * can_implement_filtered_topk.
 *
 * What the checks add to the wrapper's: the outputs are written as int32
 * (values: the input's dtype) with no dtype or extent check; k is used as
 * given (k > the row length reads past it); the index tensors are read as
 * int32; row_states is optional upstream, but the multi-CTA path (long
 * rows) uses it unchecked, so it is required here, as FlashInfer's Python
 * always passes one. */
#include <string.h>

#include "kernels/module_names.h"
#include "kernels/sampling.h"

static const fic_dtype k_i32 = FIC_DT_I32;

/* int32 [d0, d1] (contiguous) on ref's device. */
static fic_status check_i32_2d(fic_vt *vt, const fic_tensor *t, const char *name, int64_t d0, int64_t d1,
                               const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, 2, 2));
  FIC_CHECK(fic__vt_dtype(vt, &k_i32, 1));
  FIC_CHECK(fic__vt_same_device(vt, ref));
  FIC_CHECK(fic__vt_contiguous(vt));
  FIC_CHECK(fic__vt_dim(vt, 0, d0, "rows of input"));
  return fic__vt_dim(vt, 1, d1, "top_k");
}

/* input [rows, len] f32/f16/bf16, 1 <= k <= len, row_states. */
static fic_status check_input(fic_vt *in, fic_vt *st, const fic_tensor *input, const fic_tensor *row_states,
                              int64_t top_k) {
  FIC_CHECK(fic__smp_rows(in, input, "input", fic__smp_floats, 3, NULL));
  FIC_CHECK(fic__smp_top_k("top_k", top_k, in->t.shape[1]));
  return fic__smp_row_states(st, row_states, in);
}

fic_status fic_radix_topk(fic_runtime *rt, const fic_tensor *input, const fic_tensor *output_indices,
                          const fic_tensor *output_values, const fic_tensor *row_states, int64_t top_k, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt in, st, idx, val;
  FIC_CHECK(check_input(&in, &st, input, row_states, top_k));
  FIC_CHECK(check_i32_2d(&idx, output_indices, "output_indices", in.t.shape[0], top_k, &in));
  FIC_CHECK(fic__smp_rows(&val, output_values, "output_values", fic__smp_floats, 3, &in));
  FIC_CHECK(fic__vt_same_dtype(&val, &in));
  FIC_CHECK(fic__vt_same_shape(&val, &idx));
  if (in.numel == 0) return FIC_OK;
  fic_any args[5] = {fic__any_ptr_tensor(&in.t), fic__any_ptr_tensor(&idx.t), fic__any_ptr_tensor(&val.t),
                     fic__any_ptr_tensor(&st.t), fic__any_int(top_k)};
  return fic__smp_call(rt, FIC_SLOT_RADIX_TOPK, 1, "radix_topk", args, 5, &in, stream);
}

fic_status fic_radix_topk_page_table_params_init(fic_radix_topk_page_table_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  return FIC_OK;
}

_Static_assert(sizeof(fic_radix_topk_page_table_params) % 8 == 0, "fields are 8 bytes wide");

/* src_page_table int32 [batch, >= max_len], rows contiguous (the kernel reads stride(0)). */
static fic_status check_src_table(fic_vt *vt, const fic_tensor *t, const fic_vt *in) {
  FIC_CHECK(fic__vt_init(vt, t, "src_page_table", 2, 2));
  FIC_CHECK(fic__vt_dtype(vt, &k_i32, 1));
  FIC_CHECK(fic__vt_same_device(vt, in));
  FIC_CHECK(fic__vt_last_contiguous(vt));
  if (vt->t.shape[1] < in->t.shape[1])
    return fic__fail_arg("src_page_table", "src_page_table.shape[1] must be at least input.shape[1] (%lld), got %lld",
                         (long long)in->t.shape[1], (long long)vt->t.shape[1]);
  return FIC_OK;
}

fic_status fic_radix_topk_page_table_transform(fic_runtime *rt, const fic_radix_topk_page_table_params *params,
                                               void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  FIC_LOAD_PARAMS(fic_radix_topk_page_table_params, p, params);
  fic_vt in, st, out, src, r2b, len;
  FIC_CHECK(check_input(&in, &st, p.input, p.row_states, p.top_k));
  int64_t rows = in.t.shape[0];
  FIC_CHECK(check_i32_2d(&out, p.output_page_table, "output_page_table", rows, p.top_k, &in));
  FIC_CHECK(check_src_table(&src, p.src_page_table, &in));
  if (p.row_to_batch) FIC_CHECK(fic__smp_vec(&r2b, p.row_to_batch, "row_to_batch", k_i32, rows, "rows of input", &in));
  FIC_CHECK(fic__smp_vec(&len, p.lengths, "lengths", k_i32, rows, "rows of input", &in));
  if (!p.row_to_batch && src.t.shape[0] < rows)
    return fic__fail_arg("src_page_table", "src_page_table has %lld rows; without row_to_batch it needs %lld",
                         (long long)src.t.shape[0], (long long)rows);
  if (in.numel == 0) return FIC_OK;
  fic_any args[7] = {fic__any_ptr_tensor(&in.t),  fic__any_ptr_tensor(&out.t),
                     fic__any_ptr_tensor(&src.t), fic__smp_opt(&r2b, p.row_to_batch != NULL),
                     fic__any_ptr_tensor(&len.t), fic__any_ptr_tensor(&st.t),
                     fic__any_int(p.top_k)};
  return fic__smp_call(rt, FIC_SLOT_RADIX_TOPK_PAGE_TABLE, 1, "radix_topk_page_table_transform", args, 7, &in, stream);
}

fic_status fic_radix_topk_ragged_transform(fic_runtime *rt, const fic_tensor *input, const fic_tensor *output_indices,
                                           const fic_tensor *offsets, const fic_tensor *lengths,
                                           const fic_tensor *row_states, int64_t top_k, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt in, st, out, off, len;
  FIC_CHECK(check_input(&in, &st, input, row_states, top_k));
  int64_t rows = in.t.shape[0];
  FIC_CHECK(check_i32_2d(&out, output_indices, "output_indices", rows, top_k, &in));
  FIC_CHECK(fic__smp_vec(&off, offsets, "offsets", k_i32, rows, "rows of input", &in));
  FIC_CHECK(fic__smp_vec(&len, lengths, "lengths", k_i32, rows, "rows of input", &in));
  if (in.numel == 0) return FIC_OK;
  fic_any args[6] = {fic__any_ptr_tensor(&in.t),  fic__any_ptr_tensor(&out.t), fic__any_ptr_tensor(&off.t),
                     fic__any_ptr_tensor(&len.t), fic__any_ptr_tensor(&st.t),  fic__any_int(top_k)};
  return fic__smp_call(rt, FIC_SLOT_RADIX_TOPK_RAGGED, 1, "radix_topk_ragged_transform", args, 6, &in, stream);
}

fic_status fic_can_implement_filtered_topk(fic_runtime *rt, int32_t device_id, int *out) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  if (device_id < 0) return fic__fail_arg("device_id", "device_id must be >= 0, got %d", (int)device_id);
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, FIC_SLOT_CAN_FILTERED_TOPK, FIC__MOD_TOPK, "can_implement_filtered_topk",
                                       NULL, &fn));
  fic_any result;
  FIC_CHECK(fic__call(fn, NULL, 0, device_id, NULL, &result));
  if (result.type_index != FIC_KIND_BOOL)
    return fic__fail(FIC_ERR_ABI, "can_implement_filtered_topk returned type %d, expected a Bool",
                     (int)result.type_index);
  *out = result.v.v_int64 != 0;
  return FIC_OK;
}
