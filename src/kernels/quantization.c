/* SPDX-License-Identifier: Apache-2.0 */
/* quantization.so of FlashInfer 0.6.3 (csrc/quantization.cu,
 * include/flashinfer/quantization.cuh): packbits, segment_packbits.
 *
 * The wrappers check only that x (and the indptrs) are contiguous CUDA
 * tensors and the bit order string. The checks below add: x is bytes (the
 * kernel reads bool), y is uint8 of the right size (packbits) on x's device,
 * the indptrs are int32 (the kernel casts them) with matching sizes. The
 * wrappers have no device guard: fic__call selects x's device. n == 0
 * (packbits) and B == 0 (segment_packbits) launch an empty grid, which CUDA
 * refuses (segment_packbits would not even report it): they return before
 * the call. Not checked (they live on the GPU): indptr values. */
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/module_names.h"
#include "kernels/validate.h"

static fic_status check_bitorder(fic_bitorder bitorder, const char **name) {
  if (bitorder != FIC_BITORDER_BIG && bitorder != FIC_BITORDER_LITTLE)
    return fic__fail_arg("bitorder", "bitorder must be FIC_BITORDER_BIG (0) or FIC_BITORDER_LITTLE (1), got %d",
                         (int)bitorder);
  *name = bitorder == FIC_BITORDER_BIG ? "big" : "little";
  return FIC_OK;
}

/* A 1-D contiguous tensor of `dtypes` on ref's device. */
static fic_status check_1d(fic_vt *vt, const fic_tensor *t, const char *name, const fic_dtype *dtypes, int n,
                           const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, 1, 1));
  FIC_CHECK(fic__vt_dtype(vt, dtypes, n));
  if (ref) FIC_CHECK(fic__vt_same_device(vt, ref));
  return fic__vt_contiguous(vt);
}

static const fic_dtype k_bits_types[] = {FIC_DT_BOOL8, FIC_DT_U8};
static const fic_dtype k_u8[] = {FIC_DT_U8};
static const fic_dtype k_i32[] = {FIC_DT_I32};

static fic_status call_quant(fic_runtime *rt, int slot, const char *name, const fic_any *args, int32_t n,
                             const fic_vt *x, void *stream) {
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, slot, FIC__MOD_QUANTIZATION, name, stream, &fn));
  return fic__call(fn, args, n, x->t.device.device_id, stream, NULL);
}

fic_status fic_packbits(fic_runtime *rt, const fic_tensor *x, fic_bitorder bitorder, const fic_tensor *y,
                        void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  const char *order = "big";
  FIC_CHECK(check_bitorder(bitorder, &order));
  fic_vt xv, yv;
  FIC_CHECK(check_1d(&xv, x, "x", k_bits_types, 2, NULL));
  FIC_CHECK(check_1d(&yv, y, "y", k_u8, 1, &xv));
  FIC_CHECK(fic__vt_dim(&yv, 0, (xv.t.shape[0] + 7) / 8, "ceil(x.shape[0] / 8)"));
  if (xv.numel == 0) return FIC_OK;
  fic_any args[3] = {fic__any_ptr_tensor(&xv.t), fic__any_string(order), fic__any_ptr_tensor(&yv.t)};
  return call_quant(rt, FIC_SLOT_PACKBITS, "packbits", args, 3, &xv, stream);
}

fic_status fic_segment_packbits(fic_runtime *rt, const fic_tensor *x, const fic_tensor *input_indptr,
                                const fic_tensor *output_indptr, fic_bitorder bitorder, const fic_tensor *y,
                                void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  const char *order = "big";
  FIC_CHECK(check_bitorder(bitorder, &order));
  fic_vt xv, in, out, yv;
  FIC_CHECK(check_1d(&xv, x, "x", k_bits_types, 2, NULL));
  FIC_CHECK(check_1d(&in, input_indptr, "input_indptr", k_i32, 1, &xv));
  FIC_CHECK(fic__vt_dim_positive(&in, 0, "batch size + 1"));
  FIC_CHECK(check_1d(&out, output_indptr, "output_indptr", k_i32, 1, &xv));
  FIC_CHECK(fic__vt_dim(&out, 0, in.t.shape[0], "batch size + 1, input_indptr.shape[0]"));
  FIC_CHECK(check_1d(&yv, y, "y", k_u8, 1, &xv));
  if (in.t.shape[0] - 1 > INT32_MAX)
    return fic__fail_arg("input_indptr", "input_indptr.shape[0] - 1 (segments) must be at most %d", INT32_MAX);
  if (in.t.shape[0] == 1) return FIC_OK;
  fic_any args[5] = {fic__any_ptr_tensor(&xv.t), fic__any_ptr_tensor(&in.t), fic__any_ptr_tensor(&out.t),
                     fic__any_string(order), fic__any_ptr_tensor(&yv.t)};
  return call_quant(rt, FIC_SLOT_SEGMENT_PACKBITS, "segment_packbits", args, 5, &xv, stream);
}
