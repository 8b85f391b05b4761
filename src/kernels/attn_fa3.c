/* SPDX-License-Identifier: Apache-2.0 */
/* FA3 batch prefill (FlashInfer 0.6.3 `batch_prefill_with_kv_cache_..._sm90`:
 * csrc/batch_prefill_sm90_jit_binding.cu, csrc/batch_prefill_sm90.cu), what
 * differs from FA2:
 *  - the plan (BatchPrefillWithKVCacheSM90Plan, 16 arguments) reads
 *    qo_indptr, kv_indptr and kv_len_arr on the host and USES kv_len_arr:
 *    the runs take every sequence's KV length from the schedule it writes,
 *    so paged KV needs the exact lengths (from the last-page lengths, as
 *    Python's get_seq_lens computes them), not FA2's upper bound;
 *  - the runs' extra parameters (flashinfer/jit/attention/modules.py,
 *    gen_batch_prefill_module, fa3 branch for 16-bit q: four optional tensors
 *    maybe_prefix_len_ptr, maybe_token_pos_in_items_ptr,
 *    maybe_max_item_len_ptr, maybe_scale_v, then logits_soft_cap, sm_scale,
 *    scale_v_scalar, token_pos_in_items_len), passed as prefill.py's
 *    registered paged_run / ragged_run pass them: None for the tensors, 1.0
 *    for scale_v_scalar (_split_scale_param(None)), 0 items. There is no
 *    RoPE scale or theta (posenc is always 0 on FA3).
 * The backend rule (fic__fa3_unfit) adds to Python's
 * determine_attention_backend what the AOT wheel and the kernels need: no
 * mixed q/kv dtypes (aot.py gen_fa3 builds none), the four head-dim pairs
 * gen_fa3 builds, and NHD for ragged K/V (BatchPrefillWithRaggedKVCacheSM90Run
 * reads num_kv_heads as k.size(1) and nnz_kv as k.size(0) whatever the
 * layout, so HND would be read wrongly). */
#include <stdlib.h>

#include "kernels/attention.h"

static int same_dtype(fic_dtype a, fic_dtype b) { return fic__dtype_eq(a, b); }

const char *fic__fa3_unfit(const fic__fa3_query *q, const char **field) {
  static const fic_dtype halfs[] = {FIC_DT_F16, FIC_DT_BF16};
  int half_q = same_dtype(q->q, halfs[0]) || same_dtype(q->q, halfs[1]);
  *field = "kv_dtype";
  if (!half_q || !same_dtype(q->q, q->kv))
    return "FA3 has no mixed q/kv dtypes (FlashInfer's AOT build makes FA3 modules for q = kv = float16 or bfloat16 "
           "only)";
  *field = "o_dtype";
  if (!same_dtype(q->o, q->q)) return "FA3 modules of 16-bit queries write o_dtype = q_dtype";
  int64_t qk = q->head_dim_qk, vo = q->head_dim_vo;
  *field = "head_dim_qk";
  if (!((qk == vo && (qk == 64 || qk == 128 || qk == 256)) || (qk == 192 && vo == 128)))
    return "FA3 head dims (qk/vo) are 64/64, 128/128, 192/128 or 256/256";
  /* FlashInfer 0.6.3's paged FA3 mainloop (hopper/sparse_mainloop.cuh)
   * static_asserts HEAD_DIM_QK == HEAD_DIM_VO and its dispatch returns
   * cudaErrorNotSupported otherwise: 192/128 runs ragged only. */
  *field = "head_dim_vo";
  if (!q->ragged && qk != vo)
    return "FA3's paged run needs head_dim_qk == head_dim_vo (192/128 runs on ragged K/V only)";
  *field = "kv_layout";
  if (q->ragged && q->kv_layout != FIC_KV_LAYOUT_NHD)
    return "FA3's ragged run reads K/V as NHD [tokens, kv_heads, head_dim] only";
  *field = "kv_last_page_len";
  if (!q->ragged && !q->kv_last_page_len)
    return "FA3's paged plan needs each sequence's exact KV length: set kv_last_page_len (HOST [batch_size])";
  *field = NULL;
  return NULL;
}

fic_status fic__fa3_plan(fic_runtime *rt, fic_attention_plan *pl, const fic__attn_prefill_plan_in *in, void *stream) {
  const struct fic_function *plan_fn;
  FIC_CHECK(fic__attn_plan_fn(rt, pl, FIC__ATTN_EXPORT_PLAN, stream, &plan_fn));
  FIC_CHECK(fic__attn_plan_fn(rt, pl, in->ragged ? FIC__ATTN_EXPORT_RAGGED_RUN : FIC__ATTN_EXPORT_PAGED_RUN, stream,
                              &pl->run));
  int32_t *kv_len = malloc((size_t)in->batch * sizeof *kv_len);
  if (!kv_len) return fic__fail(FIC_ERR_NO_MEMORY, "allocating %lld kv lengths", (long long)in->batch);
  /* prefill.py: ragged kv_indptr[1:] - kv_indptr[:-1]; paged get_seq_lens
   * (page.py): max(pages - 1, 0) * page_size + last_page_len (validated by
   * the caller to fit, 0 for a sequence without pages). */
  for (int64_t i = 0; i < in->batch; i++) {
    int64_t n = (int64_t)in->kv_indptr[i + 1] - in->kv_indptr[i];
    kv_len[i] = (int32_t)(in->ragged ? n : n == 0 ? 0 : (n - 1) * in->page_size + in->kv_last_page_len[i]);
  }
  fic__attn_buffer bufs[3];
  fic_any args[16];
  fic__attn_prefill_plan_head(pl, &pl->ws->int_buf.t, in, kv_len, bufs, args);
  fic_status st = fic__attn_call_plan(pl, plan_fn, args, 16, stream);
  free(kv_len);
  return st;
}

fic_status fic__fa3_run(const fic_attention_plan *pl, const fic__attn_run_args *a, int ragged, void *stream) {
  fic_any args[24];
  int n = fic__attn_prefill_run_head(pl, a, ragged, pl->causal ? 1 : 0, args);
  args[n++] = fic__any_bool(a->pdl);
  for (int i = 0; i < 4; i++) args[n++] = fic__any_none(); /* prefix len, token pos, max item len, scale_v */
  args[n++] = fic__any_float(pl->soft_cap);
  args[n++] = fic__any_float(a->sm_scale);
  args[n++] = fic__any_float(1.0); /* scale_v_scalar */
  args[n++] = fic__any_int(0);     /* token_pos_in_items_len */
  return fic__call(pl->run, args, n, pl->device_id, stream, NULL);
}
