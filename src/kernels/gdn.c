/* Gated delta rule prefill: gdn_prefill_sm90.so of FlashInfer 0.6.3
 * (csrc/gdn_prefill_launcher.cu, include/flashinfer/flat/).
 *
 * Why the checks go further than the wrapper's:
 *  - The kernel ignores every stride (it derives token and head strides from
 *    the head counts), so q, k, v, output, states, alpha and beta must be
 *    contiguous; the wrapper does not check input_state's layout or device.
 *  - TMA needs 16-byte aligned bases; the workspace holds one 64-byte
 *    aligned 128-byte TMA descriptor per SM and its size is never checked.
 *  - The wrapper reads the *current* CUDA device for the SM count and the
 *    architecture; fic__call makes the tensors' device current.
 * Not checked (it lives on the GPU): cu_seqlens must be 0 = c0 <= c1 <= ...
 * <= cN = T. On a GPU other than SM 9.x the wrapper raises, and that error
 * comes back as FIC_ERR_KERNEL. */
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/validate.h"

/* The head size is fixed at 128: can_implement() would accept any multiple
 * of 8 up to the tile's 128, but the state is addressed with the tile's
 * compile-time 128 x 128 layout (HeadSizeQK/HeadSizeV in
 * flat_collective_tma_warpspecialized_delta_rule.hpp), so a smaller head
 * would read and write the states out of bounds. */
#define FIC_GDN_HEAD_SIZE 128
#define FIC_GDN_TMA_ALIGN 16

fic_status fic_gdn_prefill_workspace_size(int32_t sm_count, size_t *bytes) {
  if (!bytes) return fic__fail_arg("bytes", "bytes must not be NULL");
  if (sm_count <= 0) return fic__fail_arg("sm_count", "sm_count must be > 0, got %d", (int)sm_count);
  *bytes = (size_t)sm_count * FIC_GDN_WORKSPACE_PER_SM;
  return FIC_OK;
}

/* A dense CUDA tensor of fixed rank on q's device, TMA-aligned. */
static fic_status check_dense(fic_vt *vt, const fic_tensor *t, const char *name, int32_t ndim, const fic_vt *ref,
                              unsigned align) {
  FIC_CHECK(fic__vt_init(vt, t, name, ndim, ndim));
  if (ref) FIC_CHECK(fic__vt_same_device(vt, ref));
  FIC_CHECK(fic__vt_contiguous(vt));
  return fic__vt_aligned(vt, align, "TMA and vector accesses");
}

/* The head layout: GQA (Hq >= Hv: Hk == Hv, Hq a multiple of Hv) or GVA
 * (Hv > Hq: Hk == Hq, Hv a multiple of Hq), as the launcher checks. */
static fic_status check_heads(int64_t hq, int64_t hk, int64_t hv) {
  if (hq <= 0) return fic__fail_arg("q", "q.shape[1] (query heads) must be > 0, got %lld", (long long)hq);
  if (hk <= 0) return fic__fail_arg("k", "k.shape[1] (key heads) must be > 0, got %lld", (long long)hk);
  if (hv <= 0) return fic__fail_arg("v", "v.shape[1] (value heads) must be > 0, got %lld", (long long)hv);
  if (hq >= hv) {
    if (hk != hv)
      return fic__fail_arg("k",
                           "k.shape[1] must equal v.shape[1] (%lld) when q has at least as many heads (GQA), got %lld",
                           (long long)hv, (long long)hk);
    if (hq % hv != 0)
      return fic__fail_arg("q", "q.shape[1] (%lld) must be a multiple of v.shape[1] (%lld) for GQA", (long long)hq,
                           (long long)hv);
  } else {
    if (hk != hq)
      return fic__fail_arg("k", "k.shape[1] must equal q.shape[1] (%lld) when v has more heads (GVA), got %lld",
                           (long long)hq, (long long)hk);
    if (hv % hq != 0)
      return fic__fail_arg("v", "v.shape[1] (%lld) must be a multiple of q.shape[1] (%lld) for GVA", (long long)hv,
                           (long long)hq);
  }
  return FIC_OK;
}

/* Optional [T, H] f32 gate (alpha or beta). */
static fic_status check_gate(fic_vt *vt, const fic_tensor *t, const char *name, const fic_vt *q, int64_t tokens,
                             int64_t heads) {
  static const fic_dtype f32[] = {FIC_DT_F32};
  FIC_CHECK(check_dense(vt, t, name, 2, q, 4));
  FIC_CHECK(fic__vt_dtype(vt, f32, 1));
  FIC_CHECK(fic__vt_dim(vt, 0, tokens, "tokens, q.shape[0]"));
  return fic__vt_dim(vt, 1, heads, "max(q heads, v heads)");
}

fic_status fic_gdn_prefill(fic_runtime *rt, const fic_tensor *output, const fic_tensor *output_state,
                           const fic_tensor *q, const fic_tensor *k, const fic_tensor *v, const fic_tensor *cu_seqlens,
                           const fic_tensor *input_state, const fic_tensor *alpha, const fic_tensor *beta, double scale,
                           const fic_tensor *workspace, void *stream) {
  static const fic_dtype halfs[] = {FIC_DT_F16, FIC_DT_BF16}, f32[] = {FIC_DT_F32}, i64[] = {FIC_DT_I64},
                         u8[] = {FIC_DT_U8};
  fic_vt vq, vk, vv, vo, vs, vcu, vis, va, vb, vw;
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  FIC_CHECK(fic__check_finite("scale", scale, 0, 0));

  FIC_CHECK(check_dense(&vq, q, "q", 3, NULL, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(fic__vt_dtype(&vq, halfs, 2));
  int64_t tokens = vq.t.shape[0], head_size = vq.t.shape[2];
  /* No empty call: the final states would still have to be written. */
  FIC_CHECK(fic__vt_dim_positive(&vq, 0, "tokens"));
  if (head_size != FIC_GDN_HEAD_SIZE)
    return fic__fail_arg(
        "q", "q.shape[2] (head size) must be %d, the only size FlashInfer 0.6.3's kernel supports, got %lld",
        FIC_GDN_HEAD_SIZE, (long long)head_size);
  FIC_CHECK(check_dense(&vk, k, "k", 3, &vq, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(check_dense(&vv, v, "v", 3, &vq, FIC_GDN_TMA_ALIGN));
  const fic_vt *qkv[3] = {&vq, &vk, &vv};
  for (int i = 1; i < 3; i++) {
    FIC_CHECK(fic__vt_same_dtype(qkv[i], &vq));
    FIC_CHECK(fic__vt_dim(qkv[i], 0, tokens, "tokens, q.shape[0]"));
    FIC_CHECK(fic__vt_dim(qkv[i], 2, head_size, "head size, q.shape[2]"));
  }
  int64_t hq = vq.t.shape[1], hk = vk.t.shape[1], hv = vv.t.shape[1];
  FIC_CHECK(check_heads(hq, hk, hv));
  int64_t heads = hq > hv ? hq : hv;

  FIC_CHECK(check_dense(&vo, output, "output", 3, &vq, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(fic__vt_same_dtype(&vo, &vq));
  FIC_CHECK(fic__vt_dim(&vo, 0, tokens, "tokens, q.shape[0]"));
  FIC_CHECK(fic__vt_dim(&vo, 1, heads, "max(q heads, v heads)"));
  FIC_CHECK(fic__vt_dim(&vo, 2, head_size, "head size, q.shape[2]"));

  FIC_CHECK(check_dense(&vcu, cu_seqlens, "cu_seqlens", 1, &vq, 8));
  FIC_CHECK(fic__vt_dtype(&vcu, i64, 1));
  if (vcu.t.shape[0] < 2)
    return fic__fail_arg("cu_seqlens", "cu_seqlens must hold N+1 >= 2 offsets, got %lld", (long long)vcu.t.shape[0]);
  int64_t seqs = vcu.t.shape[0] - 1;

  FIC_CHECK(check_dense(&vs, output_state, "output_state", 4, &vq, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(fic__vt_dtype(&vs, f32, 1));
  FIC_CHECK(fic__vt_dim(&vs, 0, seqs, "sequences, cu_seqlens.shape[0] - 1"));
  FIC_CHECK(fic__vt_dim(&vs, 1, heads, "max(q heads, v heads)"));
  FIC_CHECK(fic__vt_dim(&vs, 2, head_size, "head size, q.shape[2]"));
  FIC_CHECK(fic__vt_dim(&vs, 3, head_size, "head size, q.shape[2]"));
  if (input_state) {
    FIC_CHECK(check_dense(&vis, input_state, "input_state", 4, &vq, FIC_GDN_TMA_ALIGN));
    FIC_CHECK(fic__vt_dtype(&vis, f32, 1));
    FIC_CHECK(fic__vt_same_shape(&vis, &vs));
  }
  if (alpha) FIC_CHECK(check_gate(&va, alpha, "alpha", &vq, tokens, heads));
  if (beta) FIC_CHECK(check_gate(&vb, beta, "beta", &vq, tokens, heads));

  FIC_CHECK(check_dense(&vw, workspace, "workspace", 1, &vq, FIC_GDN_WORKSPACE_ALIGN));
  FIC_CHECK(fic__vt_dtype(&vw, u8, 1));
  if (vw.numel < FIC_GDN_WORKSPACE_PER_SM)
    return fic__fail_arg("workspace", "workspace must hold at least %d bytes per SM, got %lld bytes",
                         FIC_GDN_WORKSPACE_PER_SM, (long long)vw.numel);

  const struct fic_function *fn;
  FIC_CHECK(fic__kernel_function(rt, FIC_SLOT_GDN_PREFILL, FIC_MODULE_GDN_PREFILL, "gdn_prefill", stream, &fn));
  /* After the module load, so the CUDA runtime is there to ask; 0 = unknown. */
  int sms = fic__kernel_sm_count(vq.t.device.device_id);
  if (sms > 0 && vw.numel < (int64_t)sms * FIC_GDN_WORKSPACE_PER_SM)
    return fic__fail_arg(
        "workspace", "workspace must hold at least %lld bytes (fic_gdn_prefill_workspace_size for %d SMs), got %lld",
        (long long)sms * FIC_GDN_WORKSPACE_PER_SM, sms, (long long)vw.numel);

  fic_any args[11] = {fic__any_ptr_tensor(&vo.t),
                      fic__any_ptr_tensor(&vs.t),
                      fic__any_ptr_tensor(&vq.t),
                      fic__any_ptr_tensor(&vk.t),
                      fic__any_ptr_tensor(&vv.t),
                      fic__any_ptr_tensor(&vcu.t),
                      input_state ? fic__any_ptr_tensor(&vis.t) : fic__any_none(),
                      alpha ? fic__any_ptr_tensor(&va.t) : fic__any_none(),
                      beta ? fic__any_ptr_tensor(&vb.t) : fic__any_none(),
                      fic__any_float(scale),
                      fic__any_ptr_tensor(&vw.t)};
  return fic__call(fn, args, 11, vq.t.device.device_id, stream, NULL);
}
