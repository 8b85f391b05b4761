/* SPDX-License-Identifier: Apache-2.0 */
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
#include <string.h>

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

fic_status fic_gdn_prefill_params_init(fic_gdn_prefill_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  return FIC_OK;
}

/* The caller's struct over the defaults: a struct_size from an older release
 * copies only the fields it has; every field is 8 bytes wide, so a size that
 * is not a multiple of 8 would split one. */
_Static_assert(sizeof(fic_gdn_prefill_params) % 8 == 0, "fic_gdn_prefill_params fields are 8 bytes wide");
static fic_status load_params(const fic_gdn_prefill_params *in, fic_gdn_prefill_params *out) {
  FIC_CHECK(fic_gdn_prefill_params_init(out));
  return fic__load_params(in, out, sizeof *out, "params", "fic_gdn_prefill_params_init");
}

/* Validated descriptors of one call (stack copies with strides filled in). */
typedef struct gdn_args {
  fic_vt q, k, v, out, state, cu, in_state, alpha, beta, ws;
  int64_t tokens, heads, seqs;
} gdn_args;

/* q, k, v: same dtype, tokens and head size; a valid head layout. */
static fic_status check_qkv(gdn_args *a, const fic_gdn_prefill_params *p) {
  static const fic_dtype halfs[] = {FIC_DT_F16, FIC_DT_BF16};
  FIC_CHECK(check_dense(&a->q, p->q, "q", 3, NULL, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(fic__vt_dtype(&a->q, halfs, 2));
  /* No empty call: the final states would still have to be written. */
  FIC_CHECK(fic__vt_dim_positive(&a->q, 0, "tokens"));
  a->tokens = a->q.t.shape[0];
  int64_t head_size = a->q.t.shape[2];
  if (head_size != FIC_GDN_HEAD_SIZE)
    return fic__fail_arg(
        "q", "q.shape[2] (head size) must be %d, the only size FlashInfer 0.6.3's kernel supports, got %lld",
        FIC_GDN_HEAD_SIZE, (long long)head_size);
  FIC_CHECK(check_dense(&a->k, p->k, "k", 3, &a->q, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(check_dense(&a->v, p->v, "v", 3, &a->q, FIC_GDN_TMA_ALIGN));
  const fic_vt *kv[2] = {&a->k, &a->v};
  for (int i = 0; i < 2; i++) {
    FIC_CHECK(fic__vt_same_dtype(kv[i], &a->q));
    FIC_CHECK(fic__vt_dim(kv[i], 0, a->tokens, "tokens, q.shape[0]"));
    FIC_CHECK(fic__vt_dim(kv[i], 2, head_size, "head size, q.shape[2]"));
  }
  int64_t hq = a->q.t.shape[1], hk = a->k.t.shape[1], hv = a->v.t.shape[1];
  FIC_CHECK(check_heads(hq, hk, hv));
  a->heads = hq > hv ? hq : hv;
  return FIC_OK;
}

/* output and cu_seqlens, which gives the number of sequences. */
static fic_status check_output(gdn_args *a, const fic_gdn_prefill_params *p) {
  static const fic_dtype i64[] = {FIC_DT_I64};
  FIC_CHECK(check_dense(&a->out, p->output, "output", 3, &a->q, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(fic__vt_same_dtype(&a->out, &a->q));
  FIC_CHECK(fic__vt_dim(&a->out, 0, a->tokens, "tokens, q.shape[0]"));
  FIC_CHECK(fic__vt_dim(&a->out, 1, a->heads, "max(q heads, v heads)"));
  FIC_CHECK(fic__vt_dim(&a->out, 2, FIC_GDN_HEAD_SIZE, "head size, q.shape[2]"));
  FIC_CHECK(check_dense(&a->cu, p->cu_seqlens, "cu_seqlens", 1, &a->q, 8));
  FIC_CHECK(fic__vt_dtype(&a->cu, i64, 1));
  if (a->cu.t.shape[0] < 2)
    return fic__fail_arg("cu_seqlens", "cu_seqlens must hold N+1 >= 2 offsets, got %lld", (long long)a->cu.t.shape[0]);
  a->seqs = a->cu.t.shape[0] - 1;
  return FIC_OK;
}

/* The kernel addresses a state as a (D, D, H, N) layout with int offsets
 * (flat_collective_tma_warpspecialized_delta_rule.hpp, kv_load/kv_store;
 * num_seqs and num_sab_heads are int32_t): the largest offset,
 * N*H*D*D - 1, must fit in INT32_MAX, so N*H <= 2^31 / (D*D) = 131072 for
 * D = 128. Beyond it the offsets wrap and the kernel writes outside the
 * state tensors. */
#define FIC_GDN_MAX_STATE_ELEMENTS ((int64_t)INT32_MAX + 1)

static fic_status check_state_size(const fic_vt *state) {
  if (state->numel <= FIC_GDN_MAX_STATE_ELEMENTS) return FIC_OK;
  int64_t per_head = (int64_t)FIC_GDN_HEAD_SIZE * FIC_GDN_HEAD_SIZE;
  return fic__fail_arg(state->name,
                       "%s holds %lld elements (sequences x heads = %lld); FlashInfer 0.6.3's kernel addresses the "
                       "state with 32-bit offsets, so sequences x heads must be at most %lld (%lld elements): split "
                       "the batch",
                       state->name, (long long)state->numel, (long long)(state->numel / per_head),
                       (long long)(FIC_GDN_MAX_STATE_ELEMENTS / per_head), (long long)FIC_GDN_MAX_STATE_ELEMENTS);
}

static fic_status check_states(gdn_args *a, const fic_gdn_prefill_params *p) {
  static const fic_dtype f32[] = {FIC_DT_F32};
  FIC_CHECK(check_dense(&a->state, p->output_state, "output_state", 4, &a->q, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(fic__vt_dtype(&a->state, f32, 1));
  FIC_CHECK(fic__vt_dim(&a->state, 0, a->seqs, "sequences, cu_seqlens.shape[0] - 1"));
  FIC_CHECK(fic__vt_dim(&a->state, 1, a->heads, "max(q heads, v heads)"));
  FIC_CHECK(fic__vt_dim(&a->state, 2, FIC_GDN_HEAD_SIZE, "head size, q.shape[2]"));
  FIC_CHECK(fic__vt_dim(&a->state, 3, FIC_GDN_HEAD_SIZE, "head size, q.shape[2]"));
  FIC_CHECK(check_state_size(&a->state));
  if (!p->input_state) return FIC_OK;
  FIC_CHECK(check_dense(&a->in_state, p->input_state, "input_state", 4, &a->q, FIC_GDN_TMA_ALIGN));
  FIC_CHECK(fic__vt_dtype(&a->in_state, f32, 1));
  return fic__vt_same_shape(&a->in_state, &a->state);
}

/* The workspace, before the module load (dtype, alignment, one SM's worth)
 * and after it (the device's SM count, once the CUDA runtime is there). */
static fic_status check_workspace(gdn_args *a, const fic_gdn_prefill_params *p) {
  static const fic_dtype u8[] = {FIC_DT_U8};
  FIC_CHECK(check_dense(&a->ws, p->workspace, "workspace", 1, &a->q, FIC_GDN_WORKSPACE_ALIGN));
  FIC_CHECK(fic__vt_dtype(&a->ws, u8, 1));
  if (a->ws.numel < FIC_GDN_WORKSPACE_PER_SM)
    return fic__fail_arg("workspace", "workspace must hold at least %d bytes per SM, got %lld bytes",
                         FIC_GDN_WORKSPACE_PER_SM, (long long)a->ws.numel);
  return FIC_OK;
}

static fic_status check_workspace_sms(const gdn_args *a) {
  int sms = fic__kernel_sm_count(a->q.t.device.device_id); /* 0 = unknown */
  if (sms <= 0 || a->ws.numel >= (int64_t)sms * FIC_GDN_WORKSPACE_PER_SM) return FIC_OK;
  return fic__fail_arg("workspace",
                       "workspace must hold at least %lld bytes (fic_gdn_prefill_workspace_size for %d SMs), got %lld",
                       (long long)sms * FIC_GDN_WORKSPACE_PER_SM, sms, (long long)a->ws.numel);
}

static fic_status check_args(gdn_args *a, const fic_gdn_prefill_params *p) {
  FIC_CHECK(fic__check_finite("scale", p->scale, 0, 0));
  FIC_CHECK(check_qkv(a, p));
  FIC_CHECK(check_output(a, p));
  FIC_CHECK(check_states(a, p));
  if (p->alpha) FIC_CHECK(check_gate(&a->alpha, p->alpha, "alpha", &a->q, a->tokens, a->heads));
  if (p->beta) FIC_CHECK(check_gate(&a->beta, p->beta, "beta", &a->q, a->tokens, a->heads));
  return check_workspace(a, p);
}

static fic_any optional_tensor(const void *given, const fic_vt *vt) {
  return given ? fic__any_ptr_tensor(&vt->t) : fic__any_none();
}

fic_status fic_gdn_prefill(fic_runtime *rt, const fic_gdn_prefill_params *params, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_gdn_prefill_params p;
  FIC_CHECK(load_params(params, &p));
  gdn_args a;
  FIC_CHECK(check_args(&a, &p));
  const struct fic_function *fn;
  FIC_CHECK(fic__kernel_function(rt, FIC_SLOT_GDN_PREFILL, FIC_MODULE_GDN_PREFILL, "gdn_prefill", stream, &fn));
  FIC_CHECK(check_workspace_sms(&a));
  /* The 0.6.3 wrapper's 11 parameters, in its order (csrc/gdn_prefill_launcher.cu). */
  fic_any args[11] = {fic__any_ptr_tensor(&a.out.t),
                      fic__any_ptr_tensor(&a.state.t),
                      fic__any_ptr_tensor(&a.q.t),
                      fic__any_ptr_tensor(&a.k.t),
                      fic__any_ptr_tensor(&a.v.t),
                      fic__any_ptr_tensor(&a.cu.t),
                      optional_tensor(p.input_state, &a.in_state),
                      optional_tensor(p.alpha, &a.alpha),
                      optional_tensor(p.beta, &a.beta),
                      fic__any_float(p.scale),
                      fic__any_ptr_tensor(&a.ws.t)};
  return fic__call(fn, args, 11, a.q.t.device.device_id, stream, NULL);
}
