/* SPDX-License-Identifier: Apache-2.0 */
/* cascade.so of FlashInfer 0.6.3 (csrc/cascade.cu,
 * include/flashinfer/attention/cascade.cuh): merge_state,
 * merge_state_in_place, merge_states.
 *
 * What the checks add to the wrapper's: the outputs (v_merged, s_merged)
 * are never checked at all, yet the kernels write them as dense tensors of
 * the input's dtype; every tensor is indexed as dense (strides ignored) with
 * 32-bit offsets; D must be 64, 128, 256 or 512 and (D / vector) x H threads
 * fit one block of 1024; s is read as float32 and the mask as bytes. An
 * empty sequence launches an empty grid, which CUDA refuses, so it returns
 * before the call. */
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/module_names.h"
#include "kernels/validate.h"

static const fic_dtype k_v_types[] = {FIC_DT_F16, FIC_DT_BF16};

/* A dense tensor of rank `ndim` on ref's device (dtype of `ref` when
 * same_dtype), 16-byte aligned for the kernels' vector loads (4 for s). */
static fic_status check_dense(fic_vt *vt, const fic_tensor *t, const char *name, int32_t ndim, const fic_vt *ref,
                              int same_dtype) {
  static const fic_dtype f32[] = {FIC_DT_F32};
  FIC_CHECK(fic__vt_init(vt, t, name, ndim, ndim));
  if (ref) FIC_CHECK(fic__vt_same_device(vt, ref));
  if (same_dtype && ref)
    FIC_CHECK(fic__vt_same_dtype(vt, ref));
  else if (same_dtype)
    FIC_CHECK(fic__vt_dtype(vt, k_v_types, 2));
  else
    FIC_CHECK(fic__vt_dtype(vt, f32, 1));
  FIC_CHECK(fic__vt_contiguous(vt));
  FIC_CHECK(fic__vt_aligned(vt, same_dtype ? 16 : 4, "the kernel's vector loads"));
  return fic__vt_offsets_fit(vt, UINT32_MAX, "the kernels index with 32-bit offsets");
}

/* v [..., H, D]: D a compiled head size, the block's threads <= 1024. */
static fic_status check_head(const fic_vt *v) {
  int32_t nd = v->t.ndim;
  int64_t heads = v->t.shape[nd - 2], dim = v->t.shape[nd - 1];
  if (dim != 64 && dim != 128 && dim != 256 && dim != 512)
    return fic__fail_arg(v->name, "%s.shape[%d] (head size) must be 64, 128, 256 or 512, got %lld", v->name,
                         (int)nd - 1, (long long)dim);
  int64_t vec = dim / 32 > 8 ? dim / 32 : 8; /* max(16 bytes / 2, D / 32) */
  if (dim / vec * heads > 1024)
    return fic__fail_arg(v->name,
                         "%s has %lld heads: the kernel runs %lld threads per head in one block, so at most %lld",
                         v->name, (long long)heads, (long long)(dim / vec), (long long)(1024 / (dim / vec)));
  if (v->t.shape[0] > INT32_MAX)
    return fic__fail_arg(v->name, "%s.shape[0] (sequence) must be at most %d", v->name, INT32_MAX);
  return FIC_OK;
}

/* s [seq, H] (or [seq, n, H]) matching v's leading dimensions. */
static fic_status check_lse(fic_vt *s, const fic_tensor *t, const char *name, const fic_vt *v) {
  FIC_CHECK(check_dense(s, t, name, v->t.ndim - 1, v, 0));
  for (int32_t i = 0; i < v->t.ndim - 1; i++) FIC_CHECK(fic__vt_dim(s, i, v->t.shape[i], "v's leading dimensions"));
  return FIC_OK;
}

/* A state (v [seq, H, D], s [seq, H]) like `ref_v` (or the first when NULL). */
static fic_status check_state(fic_vt *v, fic_vt *s, const fic_tensor *vt, const fic_tensor *st, const char *vname,
                              const char *sname, const fic_vt *ref_v) {
  FIC_CHECK(check_dense(v, vt, vname, 3, ref_v, 1));
  if (ref_v)
    FIC_CHECK(fic__vt_same_shape(v, ref_v));
  else
    FIC_CHECK(check_head(v));
  return check_lse(s, st, sname, v);
}

static fic_status call_cascade(fic_runtime *rt, int slot, const char *name, const fic_any *args, int32_t n,
                               const fic_vt *v, void *stream) {
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, slot, FIC__MOD_CASCADE, name, stream, &fn));
  return fic__call(fn, args, n, v->t.device.device_id, stream, NULL);
}

fic_status fic_merge_state(fic_runtime *rt, const fic_tensor *v_a, const fic_tensor *s_a, const fic_tensor *v_b,
                           const fic_tensor *s_b, const fic_tensor *v_merged, const fic_tensor *s_merged,
                           void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt va, sa, vb, sb, vm, sm;
  FIC_CHECK(check_state(&va, &sa, v_a, s_a, "v_a", "s_a", NULL));
  FIC_CHECK(check_state(&vb, &sb, v_b, s_b, "v_b", "s_b", &va));
  FIC_CHECK(check_state(&vm, &sm, v_merged, s_merged, "v_merged", "s_merged", &va));
  if (va.numel == 0) return FIC_OK;
  fic_any args[6] = {fic__any_ptr_tensor(&va.t), fic__any_ptr_tensor(&sa.t), fic__any_ptr_tensor(&vb.t),
                     fic__any_ptr_tensor(&sb.t), fic__any_ptr_tensor(&vm.t), fic__any_ptr_tensor(&sm.t)};
  return call_cascade(rt, FIC_SLOT_MERGE_STATE, "merge_state", args, 6, &va, stream);
}

static fic_status check_mask(fic_vt *m, const fic_tensor *mask, const fic_vt *v) {
  static const fic_dtype bytes[] = {FIC_DT_U8, FIC_DT_BOOL8};
  FIC_CHECK(fic__vt_init(m, mask, "mask", 1, 1));
  FIC_CHECK(fic__vt_dtype(m, bytes, 2));
  FIC_CHECK(fic__vt_same_device(m, v));
  FIC_CHECK(fic__vt_contiguous(m));
  return fic__vt_dim(m, 0, v->t.shape[0], "sequence length, v.shape[0]");
}

fic_status fic_merge_state_in_place(fic_runtime *rt, const fic_tensor *v, const fic_tensor *s,
                                    const fic_tensor *v_other, const fic_tensor *s_other, const fic_tensor *mask,
                                    void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt vv, sv, vo, so, mv;
  FIC_CHECK(check_state(&vv, &sv, v, s, "v", "s", NULL));
  FIC_CHECK(check_state(&vo, &so, v_other, s_other, "v_other", "s_other", &vv));
  if (mask) FIC_CHECK(check_mask(&mv, mask, &vv));
  if (vv.numel == 0) return FIC_OK;
  fic_any args[5] = {fic__any_ptr_tensor(&vv.t), fic__any_ptr_tensor(&sv.t), fic__any_ptr_tensor(&vo.t),
                     fic__any_ptr_tensor(&so.t), mask ? fic__any_ptr_tensor(&mv.t) : fic__any_none()};
  return call_cascade(rt, FIC_SLOT_MERGE_STATE_IN_PLACE, "merge_state_in_place", args, 5, &vv, stream);
}

/* v [seq, n, H, D] with n >= 1; the large-n path puts H on gridDim.y. */
static fic_status check_states_v(fic_vt *v, const fic_tensor *t) {
  FIC_CHECK(check_dense(v, t, "v", 4, NULL, 1));
  FIC_CHECK(check_head(v));
  FIC_CHECK(fic__vt_dim_positive(v, 1, "number of states"));
  if (v->t.shape[2] > 65535)
    return fic__fail_arg("v", "v.shape[2] (heads) must be at most 65535, got %lld", (long long)v->t.shape[2]);
  return FIC_OK;
}

fic_status fic_merge_states(fic_runtime *rt, const fic_tensor *v, const fic_tensor *s, const fic_tensor *v_merged,
                            const fic_tensor *s_merged, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt vv, sv, vm, sm;
  FIC_CHECK(check_states_v(&vv, v));
  FIC_CHECK(check_lse(&sv, s, "s", &vv));
  FIC_CHECK(check_dense(&vm, v_merged, "v_merged", 3, &vv, 1));
  FIC_CHECK(fic__vt_dim(&vm, 0, vv.t.shape[0], "sequence length, v.shape[0]"));
  FIC_CHECK(fic__vt_dim(&vm, 1, vv.t.shape[2], "heads, v.shape[2]"));
  FIC_CHECK(fic__vt_dim(&vm, 2, vv.t.shape[3], "head size, v.shape[3]"));
  FIC_CHECK(check_lse(&sm, s_merged, "s_merged", &vm));
  if (vv.numel == 0) return FIC_OK;
  fic_any args[4] = {fic__any_ptr_tensor(&vv.t), fic__any_ptr_tensor(&sv.t), fic__any_ptr_tensor(&vm.t),
                     fic__any_ptr_tensor(&sm.t)};
  return call_cascade(rt, FIC_SLOT_MERGE_STATES, "merge_states", args, 4, &vv, stream);
}
