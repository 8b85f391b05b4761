/* SPDX-License-Identifier: Apache-2.0 */
/* sampling.so of FlashInfer 0.6.3 (csrc/sampling.cu, csrc/renorm.cu):
 * softmax, the renorm/mask calls and chain speculative sampling.
 *
 * What the checks add to the wrapper's (sampling.h): softmax and top-p
 * renorm read every tensor as float32 and never check the output at all;
 * top-k renorm/mask write the output as the input's dtype without checking
 * it, read top_k_arr as int32, and use row_states (one RadixRowState per
 * CTA group) without checking its size; speculative sampling reads the
 * token ids and writes the counts as int32 whatever their dtype. */
#include <string.h>

#include "kernels/sampling.h"

static const fic_dtype k_i32 = FIC_DT_I32, k_f32 = FIC_DT_F32;

/* OnlineSoftmax (sampling.cuh): the split-vocabulary path for small batches
 * over large vocabularies keeps one PartialSoftmaxResult (8 bytes) per
 * (row, 8192-entry slice); the other path needs none. */
fic_status fic_softmax_workspace_size(int64_t batch, int64_t vocab, size_t *bytes) {
  if (!bytes) return fic__fail_arg("bytes", "bytes must not be NULL");
  if (batch < 0 || vocab < 0) return fic__fail_arg(batch < 0 ? "batch" : "vocab", "batch and vocab must be >= 0");
  *bytes = batch <= 128 && vocab >= 24576 ? (size_t)batch * (size_t)((vocab + 8191) / 8192) * 8 : 0;
  return FIC_OK;
}

static fic_status check_workspace(fic_vt *ws, const fic_tensor *t, const fic_vt *logits) {
  static const fic_dtype u8[] = {FIC_DT_U8};
  FIC_CHECK(fic__vt_init(ws, t, "workspace", 1, 1));
  FIC_CHECK(fic__vt_dtype(ws, u8, 1));
  FIC_CHECK(fic__vt_same_device(ws, logits));
  FIC_CHECK(fic__vt_contiguous(ws));
  FIC_CHECK(fic__vt_aligned(ws, 16, "the kernel's partial results"));
  size_t need = 0;
  FIC_CHECK(fic_softmax_workspace_size(logits->t.shape[0], logits->t.shape[1], &need));
  if ((uint64_t)ws->t.shape[0] < need)
    return fic__fail_arg("workspace", "workspace holds %lld bytes; softmax over [%lld, %lld] needs %zu",
                         (long long)ws->t.shape[0], (long long)logits->t.shape[0], (long long)logits->t.shape[1], need);
  return FIC_OK;
}

fic_status fic_softmax(fic_runtime *rt, const fic_tensor *workspace, const fic_tensor *logits, const fic_tensor *output,
                       const fic_tensor *temperature_arr, double temperature, int enable_pdl, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt lg, out, ws, temp;
  FIC_CHECK(fic__smp_rows(&lg, logits, "logits", fic__smp_f32, 1, NULL));
  FIC_CHECK(fic__smp_rows(&out, output, "output", fic__smp_f32, 1, &lg));
  FIC_CHECK(fic__vt_same_shape(&out, &lg));
  FIC_CHECK(check_workspace(&ws, workspace, &lg));
  if (temperature_arr)
    FIC_CHECK(fic__smp_vec(&temp, temperature_arr, "temperature_arr", k_f32, lg.t.shape[0], "rows of logits", &lg));
  else if (!(temperature > 0) || !(temperature < 1e308))
    return fic__fail_arg("temperature", "temperature must be finite and > 0, got %g", temperature);
  if (lg.numel == 0) return FIC_OK;
  fic_any args[6] = {fic__any_ptr_tensor(&ws.t),
                     fic__any_ptr_tensor(&lg.t),
                     fic__any_ptr_tensor(&out.t),
                     fic__smp_opt(&temp, temperature_arr != NULL),
                     fic__any_float(temperature_arr ? 1.0 : temperature),
                     fic__any_bool(enable_pdl)};
  return fic__smp_call(rt, FIC_SLOT_SOFTMAX, 0, "softmax", args, 6, &lg, stream);
}

fic_status fic_top_p_renorm_probs(fic_runtime *rt, const fic_tensor *probs, const fic_tensor *renorm_probs,
                                  const fic_tensor *top_p_arr, double top_p, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt pr, out, arr;
  FIC_CHECK(fic__smp_rows(&pr, probs, "probs", fic__smp_f32, 1, NULL));
  FIC_CHECK(fic__smp_rows(&out, renorm_probs, "renorm_probs", fic__smp_f32, 1, &pr));
  FIC_CHECK(fic__vt_same_shape(&out, &pr));
  if (top_p_arr)
    FIC_CHECK(fic__smp_vec(&arr, top_p_arr, "top_p_arr", k_f32, pr.t.shape[0], "rows of probs", &pr));
  else
    FIC_CHECK(fic__smp_top_p("top_p", top_p));
  if (pr.numel == 0) return FIC_OK;
  fic_any args[4] = {fic__any_ptr_tensor(&pr.t), fic__any_ptr_tensor(&out.t), fic__smp_opt(&arr, top_p_arr != NULL),
                     fic__any_float(top_p_arr ? 0 : top_p)};
  return fic__smp_call(rt, FIC_SLOT_TOP_P_RENORM, 0, "top_p_renorm_probs", args, 4, &pr, stream);
}

/* top_k_renorm_probs / top_k_mask_logits: (in, out, top_k_arr, k, row_states). */
static fic_status top_k_rows(fic_runtime *rt, const fic_tensor *in, const fic_tensor *out, const fic_tensor *k_arr,
                             int64_t top_k, const fic_tensor *row_states, int mask, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt x, y, arr, st;
  FIC_CHECK(fic__smp_rows(&x, in, mask ? "logits" : "probs", fic__smp_floats, 3, NULL));
  FIC_CHECK(fic__smp_rows(&y, out, mask ? "mask_logits" : "renorm_probs", fic__smp_floats, 3, &x));
  FIC_CHECK(fic__vt_same_dtype(&y, &x));
  FIC_CHECK(fic__vt_same_shape(&y, &x));
  if (k_arr)
    FIC_CHECK(fic__smp_vec(&arr, k_arr, "top_k_arr", k_i32, x.t.shape[0], "rows of the input", &x));
  else
    FIC_CHECK(fic__smp_top_k("top_k", top_k, x.t.shape[1]));
  FIC_CHECK(fic__smp_row_states(&st, row_states, &x));
  if (x.numel == 0) return FIC_OK;
  fic_any args[5] = {fic__any_ptr_tensor(&x.t), fic__any_ptr_tensor(&y.t), fic__smp_opt(&arr, k_arr != NULL),
                     fic__any_int(k_arr ? 0 : top_k), fic__any_ptr_tensor(&st.t)};
  return fic__smp_call(rt, mask ? FIC_SLOT_TOP_K_MASK_LOGITS : FIC_SLOT_TOP_K_RENORM, 0,
                       mask ? "top_k_mask_logits" : "top_k_renorm_probs", args, 5, &x, stream);
}

fic_status fic_top_k_renorm_probs(fic_runtime *rt, const fic_tensor *probs, const fic_tensor *renorm_probs,
                                  const fic_tensor *top_k_arr, int64_t top_k, const fic_tensor *row_states,
                                  void *stream) {
  return top_k_rows(rt, probs, renorm_probs, top_k_arr, top_k, row_states, 0, stream);
}

fic_status fic_top_k_mask_logits(fic_runtime *rt, const fic_tensor *logits, const fic_tensor *mask_logits,
                                 const fic_tensor *top_k_arr, int64_t top_k, const fic_tensor *row_states,
                                 void *stream) {
  return top_k_rows(rt, logits, mask_logits, top_k_arr, top_k, row_states, 1, stream);
}

fic_status fic_chain_speculative_sampling_params_init(fic_chain_speculative_sampling_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  params->deterministic = 1;
  return FIC_OK;
}

_Static_assert(sizeof(fic_chain_speculative_sampling_params) % 8 == 0, "fields are 8 bytes wide");

typedef struct spec_args {
  fic_vt draft, ids, target, out, accepted, emitted;
} spec_args;

/* An int32 tensor of rank `ndim` with the given leading extents. */
static fic_status check_i32(fic_vt *vt, const fic_tensor *t, const char *name, int32_t ndim, int64_t d0, int64_t d1,
                            const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, ndim, ndim));
  FIC_CHECK(fic__vt_dtype(vt, &k_i32, 1));
  FIC_CHECK(fic__vt_same_device(vt, ref));
  FIC_CHECK(fic__vt_contiguous(vt));
  FIC_CHECK(fic__vt_dim(vt, 0, d0, "batch, draft_probs.shape[0]"));
  return ndim == 2 ? fic__vt_dim(vt, 1, d1, "draft tokens (+1 for outputs), draft_probs.shape[1]") : FIC_OK;
}

/* draft_probs / target_probs [B, n (+1), vocab] float32, contiguous. */
static fic_status check_probs3(fic_vt *vt, const fic_tensor *t, const char *name, const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, 3, 3));
  FIC_CHECK(fic__smp_float32(vt));
  if (ref) FIC_CHECK(fic__vt_same_device(vt, ref));
  FIC_CHECK(fic__vt_contiguous(vt));
  FIC_CHECK(fic__vt_aligned(vt, 4, "float32 elements"));
  for (int i = 0; i < 3; i++)
    if (vt->t.shape[i] > INT32_MAX)
      return fic__fail_arg(name, "%s.shape[%d] must be at most %d (the kernel's 32-bit extents)", name, i, INT32_MAX);
  return FIC_OK;
}

static fic_status check_spec(spec_args *a, const fic_chain_speculative_sampling_params *p) {
  if (p->deterministic != 0 && p->deterministic != 1)
    return fic__fail_arg("deterministic", "deterministic must be 0 or 1, got %lld", (long long)p->deterministic);
  FIC_CHECK(check_probs3(&a->draft, p->draft_probs, "draft_probs", NULL));
  int64_t b = a->draft.t.shape[0], n = a->draft.t.shape[1];
  if (a->draft.t.shape[2] == 0 && b * n > 0)
    return fic__fail_arg("draft_probs", "draft_probs.shape[2] (vocabulary) must be > 0");
  FIC_CHECK(check_i32(&a->ids, p->draft_token_ids, "draft_token_ids", 2, b, n, &a->draft));
  FIC_CHECK(check_probs3(&a->target, p->target_probs, "target_probs", &a->draft));
  FIC_CHECK(fic__vt_dim(&a->target, 0, b, "batch, draft_probs.shape[0]"));
  FIC_CHECK(fic__vt_dim(&a->target, 1, n + 1, "draft tokens + 1, draft_probs.shape[1] + 1"));
  FIC_CHECK(fic__vt_dim(&a->target, 2, a->draft.t.shape[2], "vocabulary, draft_probs.shape[2]"));
  FIC_CHECK(check_i32(&a->out, p->output_token_ids, "output_token_ids", 2, b, n + 1, &a->draft));
  FIC_CHECK(check_i32(&a->accepted, p->output_accepted_token_num, "output_accepted_token_num", 1, b, 0, &a->draft));
  return check_i32(&a->emitted, p->output_emitted_draft_token_num, "output_emitted_draft_token_num", 1, b, 0,
                   &a->draft);
}

fic_status fic_chain_speculative_sampling(fic_runtime *rt, const fic_chain_speculative_sampling_params *params,
                                          void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  FIC_LOAD_PARAMS(fic_chain_speculative_sampling_params, p, params);
  spec_args a;
  FIC_CHECK(check_spec(&a, &p));
  if (a.draft.t.shape[0] == 0) return FIC_OK;
  fic_any args[9] = {fic__any_ptr_tensor(&a.draft.t),       fic__any_ptr_tensor(&a.ids.t),
                     fic__any_ptr_tensor(&a.target.t),      fic__any_ptr_tensor(&a.out.t),
                     fic__any_ptr_tensor(&a.accepted.t),    fic__any_ptr_tensor(&a.emitted.t),
                     fic__any_bool((int)p.deterministic),   fic__any_int((int64_t)p.philox_seed),
                     fic__any_int((int64_t)p.philox_offset)};
  return fic__smp_call(rt, FIC_SLOT_CHAIN_SPECULATIVE, 0, "chain_speculative_sampling", args, 9, &a.draft, stream);
}
