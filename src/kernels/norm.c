/* SPDX-License-Identifier: Apache-2.0 */
/* The norm.so kernels of FlashInfer 0.6.3 (csrc/norm.cu, include/flashinfer/norm.cuh).
 *
 * What the checks below protect against, beyond the wrapper's own checks:
 *  - The wrappers never check the dtype of `out`/`output`/`weight`/`residual`
 *    against `input`: a mismatch would reinterpret the bytes.
 *  - gemma_rmsnorm never checks `out`'s last-dim contiguity or device;
 *    layernorm ignores strides entirely (it indexes row * hidden).
 *  - The rmsnorm kernels load VEC = gcd(8, hidden) elements at a time and
 *    compute offsets in 32-bit arithmetic: a misaligned row or a tensor past
 *    2^32 elements would be a misaligned-address fault or a wrong address.
 * An empty batch is a no-op (the kernels would fail to launch a zero grid). */
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/validate.h"

static const fic_dtype k_half_types[] = {FIC_DT_F16, FIC_DT_BF16};

static int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* Row layout the vectorised kernels need: base aligned to VEC elements, row
 * strides multiples of VEC, offsets within 32 bits. VEC = gcd(16 bytes /
 * sizeof(half), hidden) as in norm.cuh (the fp8 output uses the same VEC). */
static fic_status check_rows(const fic_vt *vt, int64_t hidden) {
  int64_t vec = gcd64(8, hidden);
  unsigned elem = vt->t.dtype.bits / 8u;
  FIC_CHECK(fic__vt_last_contiguous(vt));
  FIC_CHECK(fic__vt_aligned(vt, (unsigned)vec * elem, "the kernel's vector loads and stores"));
  FIC_CHECK(fic__vt_outer_strides_multiple(vt, vec, "every row must stay aligned for vector loads"));
  return fic__vt_offsets_fit(vt, UINT32_MAX, "the kernel indexes with 32-bit offsets");
}

static fic_status check_weight(fic_vt *w, const fic_tensor *weight, const char *name, const fic_vt *in,
                               int64_t hidden) {
  FIC_CHECK(fic__vt_init(w, weight, name, 1, 1));
  FIC_CHECK(fic__vt_same_device(w, in));
  FIC_CHECK(fic__vt_same_dtype(w, in));
  FIC_CHECK(fic__vt_dim(w, 0, hidden, "the hidden size, input's last dimension"));
  return check_rows(w, hidden);
}

static fic_status check_common(fic_runtime *rt, double eps) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  return fic__check_finite("eps", eps, 1, 0);
}

/* input [batch, hidden] (or [batch, heads, head_dim] when allow_3d) f16/bf16. */
static fic_status check_input(fic_vt *in, const fic_tensor *input, const char *name, int allow_3d) {
  FIC_CHECK(fic__vt_init(in, input, name, 2, allow_3d ? 3 : 2));
  FIC_CHECK(fic__vt_dtype(in, k_half_types, 2));
  FIC_CHECK(fic__vt_dim_positive(in, in->t.ndim - 1, "the hidden size"));
  return check_rows(in, in->t.shape[in->t.ndim - 1]);
}

/* A tensor of input's shape and device (dtype checked by the caller). */
static fic_status check_like(fic_vt *vt, const fic_tensor *t, const char *name, const fic_vt *in) {
  FIC_CHECK(fic__vt_init(vt, t, name, in->t.ndim, in->t.ndim));
  FIC_CHECK(fic__vt_same_device(vt, in));
  FIC_CHECK(fic__vt_same_shape(vt, in));
  return check_rows(vt, in->t.shape[in->t.ndim - 1]);
}

static fic_status call_norm(fic_runtime *rt, int slot, const char *name, const fic_any *args, int32_t n,
                            const fic_vt *in, void *stream) {
  if (in->numel == 0) return FIC_OK; /* empty batch: nothing to launch */
  const struct fic_function *fn;
  FIC_CHECK(fic__kernel_function(rt, slot, FIC_MODULE_NORM, name, stream, &fn));
  return fic__call(fn, args, n, in->t.device.device_id, stream, NULL);
}

/* rmsnorm / gemma_rmsnorm: (out, input, weight, eps, enable_pdl). */
static fic_status rmsnorm_like(fic_runtime *rt, int slot, const char *name, int allow_3d, const fic_tensor *out,
                               const fic_tensor *input, const fic_tensor *weight, double eps, int enable_pdl,
                               void *stream) {
  fic_vt vo, vi, vw;
  FIC_CHECK(check_common(rt, eps));
  FIC_CHECK(check_input(&vi, input, "input", allow_3d));
  FIC_CHECK(check_like(&vo, out, "out", &vi));
  FIC_CHECK(fic__vt_same_dtype(&vo, &vi));
  FIC_CHECK(check_weight(&vw, weight, "weight", &vi, vi.t.shape[vi.t.ndim - 1]));
  fic_any args[5] = {fic__any_ptr_tensor(&vo.t), fic__any_ptr_tensor(&vi.t), fic__any_ptr_tensor(&vw.t),
                     fic__any_float(eps), fic__any_bool(enable_pdl)};
  return call_norm(rt, slot, name, args, 5, &vi, stream);
}

fic_status fic_rmsnorm(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, const fic_tensor *weight,
                       double eps, int enable_pdl, void *stream) {
  return rmsnorm_like(rt, FIC_SLOT_RMSNORM, "rmsnorm", 1, out, input, weight, eps, enable_pdl, stream);
}

fic_status fic_gemma_rmsnorm(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, const fic_tensor *weight,
                             double eps, int enable_pdl, void *stream) {
  return rmsnorm_like(rt, FIC_SLOT_GEMMA_RMSNORM, "gemma_rmsnorm", 0, out, input, weight, eps, enable_pdl, stream);
}

/* fused_add_rmsnorm / gemma_fused_add_rmsnorm: (input, residual, weight, eps, enable_pdl). */
static fic_status fused_add_like(fic_runtime *rt, int slot, const char *name, const fic_tensor *input,
                                 const fic_tensor *residual, const fic_tensor *weight, double eps, int enable_pdl,
                                 void *stream) {
  fic_vt vi, vr, vw;
  FIC_CHECK(check_common(rt, eps));
  FIC_CHECK(check_input(&vi, input, "input", 0));
  FIC_CHECK(check_like(&vr, residual, "residual", &vi));
  FIC_CHECK(fic__vt_same_dtype(&vr, &vi));
  FIC_CHECK(check_weight(&vw, weight, "weight", &vi, vi.t.shape[1]));
  fic_any args[5] = {fic__any_ptr_tensor(&vi.t), fic__any_ptr_tensor(&vr.t), fic__any_ptr_tensor(&vw.t),
                     fic__any_float(eps), fic__any_bool(enable_pdl)};
  return call_norm(rt, slot, name, args, 5, &vi, stream);
}

fic_status fic_fused_add_rmsnorm(fic_runtime *rt, const fic_tensor *input, const fic_tensor *residual,
                                 const fic_tensor *weight, double eps, int enable_pdl, void *stream) {
  return fused_add_like(rt, FIC_SLOT_FUSED_ADD_RMSNORM, "fused_add_rmsnorm", input, residual, weight, eps, enable_pdl,
                        stream);
}

fic_status fic_gemma_fused_add_rmsnorm(fic_runtime *rt, const fic_tensor *input, const fic_tensor *residual,
                                       const fic_tensor *weight, double eps, int enable_pdl, void *stream) {
  return fused_add_like(rt, FIC_SLOT_GEMMA_FUSED_ADD_RMSNORM, "gemma_fused_add_rmsnorm", input, residual, weight, eps,
                        enable_pdl, stream);
}

/* The quantised output: fp8 (e4m3fn or e5m2; the module is built with both). */
static fic_status check_fp8_out(fic_vt *vo, const fic_tensor *out, const char *name, const fic_vt *in) {
  static const fic_dtype fp8[] = {FIC_DT_F8E4M3FN, FIC_DT_F8E5M2};
  FIC_CHECK(fic__vt_init(vo, out, name, 2, 2));
  FIC_CHECK(fic__vt_dtype(vo, fp8, 2));
  FIC_CHECK(fic__vt_same_device(vo, in));
  FIC_CHECK(fic__vt_same_shape(vo, in));
  return check_rows(vo, in->t.shape[1]);
}

fic_status fic_rmsnorm_quant(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, const fic_tensor *weight,
                             double scale, double eps, int enable_pdl, void *stream) {
  fic_vt vo, vi, vw;
  FIC_CHECK(check_common(rt, eps));
  FIC_CHECK(fic__check_finite("scale", scale, 0, 1));
  FIC_CHECK(check_input(&vi, input, "input", 0));
  FIC_CHECK(check_fp8_out(&vo, out, "out", &vi));
  FIC_CHECK(check_weight(&vw, weight, "weight", &vi, vi.t.shape[1]));
  fic_any args[6] = {fic__any_ptr_tensor(&vo.t), fic__any_ptr_tensor(&vi.t), fic__any_ptr_tensor(&vw.t),
                     fic__any_float(scale),      fic__any_float(eps),        fic__any_bool(enable_pdl)};
  return call_norm(rt, FIC_SLOT_RMSNORM_QUANT, "rmsnorm_quant", args, 6, &vi, stream);
}

fic_status fic_fused_add_rmsnorm_quant(fic_runtime *rt, const fic_tensor *output, const fic_tensor *input,
                                       const fic_tensor *residual, const fic_tensor *weight, double scale, double eps,
                                       int enable_pdl, void *stream) {
  fic_vt vo, vi, vr, vw;
  FIC_CHECK(check_common(rt, eps));
  FIC_CHECK(fic__check_finite("scale", scale, 0, 1));
  FIC_CHECK(check_input(&vi, input, "input", 0));
  FIC_CHECK(check_like(&vr, residual, "residual", &vi));
  FIC_CHECK(fic__vt_same_dtype(&vr, &vi));
  FIC_CHECK(check_fp8_out(&vo, output, "output", &vi));
  FIC_CHECK(check_weight(&vw, weight, "weight", &vi, vi.t.shape[1]));
  fic_any args[7] = {fic__any_ptr_tensor(&vo.t), fic__any_ptr_tensor(&vi.t), fic__any_ptr_tensor(&vr.t),
                     fic__any_ptr_tensor(&vw.t), fic__any_float(scale),      fic__any_float(eps),
                     fic__any_bool(enable_pdl)};
  return call_norm(rt, FIC_SLOT_FUSED_ADD_RMSNORM_QUANT, "fused_add_rmsnorm_quant", args, 7, &vi, stream);
}

/* layernorm(Tensor out, Tensor input, Tensor gamma, Tensor beta, double eps):
 * its parameters are owning `Tensor`s, which refuse a plain DLTensor pointer,
 * so each argument is wrapped in a TVM-FFI Tensor object that borrows the
 * caller's memory (this allocates four small objects inside libtvm_ffi per
 * call; the other kernels allocate nothing). The kernel indexes row * hidden
 * and loads pairs when hidden is even (bf16x2 / float2), hence contiguity
 * and 4-/8-byte alignment. */
fic_status fic_layernorm(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, const fic_tensor *gamma,
                         const fic_tensor *beta, double eps, void *stream) {
  static const fic_dtype bf16[] = {FIC_DT_BF16}, f32[] = {FIC_DT_F32};
  fic_vt vo, vi, vg, vb;
  FIC_CHECK(check_common(rt, eps));
  FIC_CHECK(fic__vt_init(&vi, input, "input", 2, 2));
  FIC_CHECK(fic__vt_dtype(&vi, bf16, 1));
  FIC_CHECK(fic__vt_dim_positive(&vi, 1, "the hidden size"));
  FIC_CHECK(fic__vt_contiguous(&vi));
  FIC_CHECK(fic__vt_init(&vo, out, "out", 2, 2));
  FIC_CHECK(fic__vt_dtype(&vo, bf16, 1));
  FIC_CHECK(fic__vt_same_device(&vo, &vi));
  FIC_CHECK(fic__vt_same_shape(&vo, &vi));
  FIC_CHECK(fic__vt_contiguous(&vo));
  int64_t hidden = vi.t.shape[1];
  int paired = hidden % 2 == 0;
  fic_vt *per_param[2] = {&vg, &vb};
  const fic_tensor *params[2] = {gamma, beta};
  const char *names[2] = {"gamma", "beta"};
  for (int i = 0; i < 2; i++) {
    FIC_CHECK(fic__vt_init(per_param[i], params[i], names[i], 1, 1));
    FIC_CHECK(fic__vt_dtype(per_param[i], f32, 1));
    FIC_CHECK(fic__vt_same_device(per_param[i], &vi));
    FIC_CHECK(fic__vt_dim(per_param[i], 0, hidden, "the hidden size, input's last dimension"));
    FIC_CHECK(fic__vt_contiguous(per_param[i]));
    FIC_CHECK(fic__vt_aligned(per_param[i], paired ? 8 : 4, "the kernel's float2 loads"));
  }
  FIC_CHECK(fic__vt_aligned(&vi, paired ? 4 : 2, "the kernel's bfloat16x2 loads"));
  FIC_CHECK(fic__vt_aligned(&vo, paired ? 4 : 2, "the kernel's bfloat16x2 stores"));
  FIC_CHECK(fic__vt_offsets_fit(&vi, INT32_MAX, "the kernel indexes with 32-bit int offsets"));
  if (vi.numel == 0) return FIC_OK;

  const struct fic_function *fn;
  FIC_CHECK(fic__kernel_function(rt, FIC_SLOT_LAYERNORM, FIC_MODULE_NORM, "layernorm", stream, &fn));
  const fic_vt *order[4] = {&vo, &vi, &vg, &vb};
  fic_dl_managed_versioned storage[4];
  fic_any args[5];
  int made = 0;
  fic_status st = FIC_OK;
  for (; made < 4; made++) {
    st = fic__tensor_object(rt, &order[made]->t, &storage[made], &args[made]);
    if (st != FIC_OK) goto release;
  }
  args[4] = fic__any_float(eps);
  st = fic__call(fn, args, 5, vi.t.device.device_id, stream, NULL);
release:
  for (int i = 0; i < made; i++) fic__object_release(rt, &args[i]);
  return st;
}
