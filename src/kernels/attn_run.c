/* SPDX-License-Identifier: Apache-2.0 */
/* Batch decode and batch prefill runs: every tensor checked against the
 * plan it runs (the wrappers check little: a cache of the wrong page size or
 * head count, or an indptr of the wrong length, is read as given), then the
 * export's exact argument list (csrc/batch_decode.cu, csrc/batch_prefill.cu;
 * the ADDITIONAL_FUNC_PARAMS of jit/attention/modules.py; FA3's in
 * attn_fa3.c). A prefill's custom mask goes as Tensor objects (attn_mask.c);
 * the other optional extras (alibi slopes, multi-item scoring) are passed as
 * None. */
#include <math.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/validate.h"

_Static_assert(sizeof(fic_batch_decode_run_params) % 8 == 0, "8-byte fields");
_Static_assert(sizeof(fic_batch_prefill_run_params) % 8 == 0, "8-byte fields");

static void run_defaults(double *rope_scale, double *rope_theta, int64_t *pdl) {
  *rope_scale = 1.0;
  *rope_theta = 1e4;
  *pdl = FIC_PDL_AUTO;
}

fic_status fic_batch_decode_run_params_init(fic_batch_decode_run_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  run_defaults(&params->rope_scale, &params->rope_theta, &params->enable_pdl);
  return FIC_OK;
}

fic_status fic_batch_prefill_run_params_init(fic_batch_prefill_run_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  run_defaults(&params->rope_scale, &params->rope_theta, &params->enable_pdl);
  return FIC_OK;
}

/* ---- checks against the plan ---- */

static fic_status plan_dim(const fic_vt *vt, int dim, int64_t want, const char *field) {
  if (vt->t.shape[dim] == want) return FIC_OK;
  return fic__fail_arg(vt->name, "%s.shape[%d] is %lld, but the plan has %s = %lld", vt->name, dim,
                       (long long)vt->t.shape[dim], field, (long long)want);
}

static fic_status plan_dtype(const fic_vt *vt, fic_dtype want, const char *field) {
  if (fic__dtype_eq(vt->t.dtype, want)) return FIC_OK;
  char a[48], b[48];
  return fic__fail_arg(vt->name, "%s has dtype %s, but the plan has %s = %s", vt->name,
                       fic__dtype_name(vt->t.dtype, a, sizeof a), field, fic__dtype_name(want, b, sizeof b));
}

static fic_status plan_device(const fic_vt *vt, const fic_attention_plan *pl) {
  if (vt->t.device.device_id == pl->device_id) return FIC_OK;
  return fic__fail_arg(vt->name, "%s is on cuda:%d, but the plan's workspace is on cuda:%d", vt->name,
                       (int)vt->t.device.device_id, (int)pl->device_id);
}

/* The kernels keep element strides in uint32_t (paged_kv_t::stride_page,
 * q_stride_n ...; include/flashinfer/page.cuh) and assume a unit stride in
 * the last dimension: a larger stride would be truncated, a wrong address. */
static fic_status strides_fit(const fic_vt *vt) {
  for (int32_t i = 0; i + 1 < vt->t.ndim; i++)
    if ((uint64_t)vt->strides[i] > UINT32_MAX)
      return fic__fail_arg(vt->name, "%s.strides[%d] is %lld; FlashInfer keeps strides in 32 bits (at most %u)",
                           vt->name, (int)i, (long long)vt->strides[i], UINT32_MAX);
  return fic__vt_last_contiguous(vt);
}

/* A 3-D [rows, heads, dim] tensor: q, out, ragged k/v. */
static fic_status check_rows(fic_vt *vt, const fic_tensor *t, const char *name, const fic_attention_plan *pl,
                             fic_dtype dtype, const char *dtype_field, const int64_t want[3],
                             const char *const fields[3]) {
  FIC_CHECK(fic__vt_init(vt, t, name, 3, 3));
  FIC_CHECK(plan_device(vt, pl));
  FIC_CHECK(plan_dtype(vt, dtype, dtype_field));
  for (int d = 0; d < 3; d++)
    if (want[d] >= 0) FIC_CHECK(plan_dim(vt, d, want[d], fields[d]));
  return strides_fit(vt);
}

static fic_status check_q_out(fic_vt *q, fic_vt *o, const fic_tensor *tq, const fic_tensor *to,
                              const fic_attention_plan *pl) {
  static const char *const qf[3] = {"total_num_rows", "num_qo_heads", "head_dim_qk"};
  const char *rows = pl->kind <= FIC__ATTN_KIND_DECODE_TC ? "batch_size" : "total_num_rows";
  const char *const qfields[3] = {rows, qf[1], qf[2]}, *const ofields[3] = {rows, qf[1], "head_dim_vo"};
  const int64_t qs[3] = {pl->total_rows, pl->qo_heads, pl->head_dim_qk};
  const int64_t os[3] = {pl->total_rows, pl->qo_heads, pl->head_dim_vo};
  FIC_CHECK(check_rows(q, tq, "q", pl, pl->q_dtype, "q_dtype", qs, qfields));
  return check_rows(o, to, "out", pl, pl->o_dtype, "o_dtype", os, ofields);
}

/* A paged cache: NHD [pages, page_size, kv_heads, dim], HND [pages, kv_heads, page_size, dim]. */
static fic_status check_cache(fic_vt *vt, const fic_tensor *t, const char *name, const fic_attention_plan *pl,
                              int64_t dim, const char *dim_field) {
  FIC_CHECK(fic__vt_init(vt, t, name, 4, 4));
  FIC_CHECK(plan_device(vt, pl));
  FIC_CHECK(plan_dtype(vt, pl->kv_dtype, "kv_dtype"));
  int hnd = pl->kv_layout == FIC_KV_LAYOUT_HND;
  FIC_CHECK(plan_dim(vt, hnd ? 2 : 1, pl->page_size, hnd ? "page_size (HND layout)" : "page_size (NHD layout)"));
  FIC_CHECK(plan_dim(vt, hnd ? 1 : 2, pl->kv_heads, hnd ? "num_kv_heads (HND layout)" : "num_kv_heads (NHD layout)"));
  FIC_CHECK(plan_dim(vt, 3, dim, dim_field));
  return strides_fit(vt);
}

/* Ragged K/V: NHD [tokens, kv_heads, dim], HND [kv_heads, tokens, dim]. */
static fic_status check_ragged(fic_vt *vt, const fic_tensor *t, const char *name, const fic_attention_plan *pl,
                               int64_t dim, const char *dim_field) {
  int hnd = pl->kv_layout == FIC_KV_LAYOUT_HND;
  const int64_t want[3] = {hnd ? pl->kv_heads : -1, hnd ? -1 : pl->kv_heads, dim};
  const char *const fields[3] = {"num_kv_heads (HND layout)", "num_kv_heads (NHD layout)", dim_field};
  FIC_CHECK(check_rows(vt, t, name, pl, pl->kv_dtype, "kv_dtype", want, fields));
  int64_t tokens = vt->t.shape[hnd ? 1 : 0];
  if (tokens >= pl->kv_total) return FIC_OK;
  return fic__fail_arg(name, "%s holds %lld tokens, but the plan's kv_indptr ends at %lld", name, (long long)tokens,
                       (long long)pl->kv_total);
}

static fic_status same_strides(const fic_vt *v, const fic_vt *k) {
  for (int32_t i = 0; i + 1 < k->t.ndim; i++)
    if (v->strides[i] != k->strides[i])
      return fic__fail_arg(v->name, "%s.strides[%d] is %lld; FlashInfer needs the strides of %s (%lld)", v->name,
                           (int)i, (long long)v->strides[i], k->name, (long long)k->strides[i]);
  return FIC_OK;
}

/* A device int32 vector of `n` entries (n < 0: at least -n). */
static fic_status check_index(fic_vt *vt, const fic_tensor *t, const char *name, const fic_attention_plan *pl,
                              int64_t n, const char *what) {
  static const fic_dtype i32[] = {{FIC_DTYPE_INT, 32, 1}};
  FIC_CHECK(fic__vt_init(vt, t, name, 1, 1));
  FIC_CHECK(plan_device(vt, pl));
  FIC_CHECK(fic__vt_dtype(vt, i32, 1));
  FIC_CHECK(fic__vt_contiguous(vt));
  if (n >= 0) return plan_dim(vt, 0, n, what);
  if (vt->t.shape[0] >= -n) return FIC_OK;
  return fic__fail_arg(name, "%s holds %lld entries, but the plan's kv_indptr ends at %lld", name,
                       (long long)vt->t.shape[0], (long long)-n);
}

static fic_status check_lse(fic_vt *vt, const fic_tensor *t, const fic_attention_plan *pl) {
  static const fic_dtype f32[] = {FIC_DT_F32};
  if (!t) return FIC_OK;
  FIC_CHECK(fic__vt_init(vt, t, "lse", 2, 2));
  FIC_CHECK(plan_device(vt, pl));
  FIC_CHECK(fic__vt_dtype(vt, f32, 1));
  FIC_CHECK(plan_dim(vt, 0, pl->total_rows, pl->kind <= FIC__ATTN_KIND_DECODE_TC ? "batch_size" : "total_num_rows"));
  FIC_CHECK(plan_dim(vt, 1, pl->qo_heads, "num_qo_heads"));
  return fic__vt_contiguous(vt);
}

/* sm_scale, rope_scale, rope_theta, enable_pdl; writes the values passed. */
static fic_status check_scalars(const fic_attention_plan *pl, double *sm_scale, double rope_scale, double rope_theta,
                                int64_t pdl, int *pdl_out) {
  FIC_CHECK(fic__check_finite("sm_scale", *sm_scale, 1, 0));
  FIC_CHECK(fic__check_finite("rope_scale", rope_scale, 1, 1));
  FIC_CHECK(fic__check_finite("rope_theta", rope_theta, 1, 1));
  if (pdl != FIC_PDL_AUTO && pdl != FIC_PDL_OFF && pdl != FIC_PDL_ON)
    return fic__fail_arg("enable_pdl",
                         "enable_pdl must be FIC_PDL_AUTO (-1), FIC_PDL_OFF (0) or FIC_PDL_ON (1), got %lld",
                         (long long)pdl);
  if (*sm_scale == 0) *sm_scale = 1.0 / sqrt((double)pl->head_dim_qk);
  *pdl_out = pdl == FIC_PDL_AUTO ? pl->pdl_auto : (int)pdl;
  return FIC_OK;
}

fic_status fic__attn_plan_current(const fic_attention_plan *pl) {
  uint64_t now = atomic_load_explicit(&pl->ws->generation, memory_order_acquire);
  if (now != pl->generation)
    return fic__fail_arg("plan",
                         "plan was superseded: %llu later plan(s) on its workspace overwrote its schedule; plan again",
                         (unsigned long long)(now - pl->generation));
  return FIC_OK;
}

static fic_status check_plan(const fic_attention_plan *pl, int decode) {
  if (!pl) return fic__fail_arg("plan", "plan must not be NULL");
  if (pl->kind == FIC__ATTN_KIND_MLA)
    return fic__fail_arg("plan", "plan is a batch MLA plan; run it with fic_batch_mla_run");
  int is_decode = pl->kind <= FIC__ATTN_KIND_DECODE_TC;
  if (is_decode != decode)
    return fic__fail_arg("plan", "plan is a batch %s plan; run it with fic_batch_%s_run",
                         is_decode ? "decode" : "prefill", is_decode ? "decode" : "prefill");
  return fic__attn_plan_current(pl);
}

/* ---- the calls ---- */

static fic_any opt(const void *given, const fic_vt *vt) {
  return given ? fic__any_ptr_tensor(&vt->t) : fic__any_none();
}

/* BatchDecodeWithPagedKVCacheRun's 19 arguments. */
static fic_status call_decode(const fic_attention_plan *pl, const fic__attn_run_args *a, void *stream) {
  fic_attention_workspace *ws = pl->ws;
  fic_any args[19] = {fic__any_ptr_tensor(&ws->float_buf.t),
                      fic__any_ptr_tensor(&ws->int_buf.t),
                      pl->info,
                      fic__any_ptr_tensor(&a->q.t),
                      fic__any_ptr_tensor(&a->k.t),
                      fic__any_ptr_tensor(&a->v.t),
                      fic__any_ptr_tensor(&a->kv_indptr.t),
                      fic__any_ptr_tensor(&a->kv_indices.t),
                      fic__any_ptr_tensor(&a->last_page_len.t),
                      fic__any_ptr_tensor(&a->out.t),
                      opt(a->lse_given, &a->lse),
                      fic__any_int(pl->kv_layout),
                      fic__any_int(pl->window_left),
                      fic__any_bool(a->pdl),
                      fic__any_none() /* maybe_alibi_slopes */,
                      fic__any_float(pl->soft_cap),
                      fic__any_float(a->sm_scale),
                      fic__any_float(a->rope_rcp_scale),
                      fic__any_float(a->rope_rcp_theta)};
  return fic__call(pl->run, args, 19, pl->device_id, stream, NULL);
}

/* The first arguments of every batch prefill run, FA2 and FA3 alike
 * (csrc/batch_prefill.cu, batch_prefill_sm90.cu): both workspaces, the
 * plan's Array, q, k, v, the indptrs (paged: indices and last-page lengths
 * too), out, the LSE or None, the MaskMode (0 none, 1 causal, 2 custom), the
 * layout and window_left. Returns how many it wrote (13 or 15). */
int fic__attn_prefill_run_head(const fic_attention_plan *pl, const fic__attn_run_args *a, int ragged, int mask_mode,
                               fic_any *args) {
  fic_attention_workspace *ws = pl->ws;
  int n = 0;
  args[n++] = fic__any_ptr_tensor(&ws->float_buf.t);
  args[n++] = fic__any_ptr_tensor(&ws->int_buf.t);
  args[n++] = pl->info;
  args[n++] = fic__any_ptr_tensor(&a->q.t);
  args[n++] = fic__any_ptr_tensor(&a->k.t);
  args[n++] = fic__any_ptr_tensor(&a->v.t);
  args[n++] = fic__any_ptr_tensor(&a->qo_indptr.t);
  args[n++] = fic__any_ptr_tensor(&a->kv_indptr.t);
  if (!ragged) {
    args[n++] = fic__any_ptr_tensor(&a->kv_indices.t);
    args[n++] = fic__any_ptr_tensor(&a->last_page_len.t);
  }
  args[n++] = fic__any_ptr_tensor(&a->out.t);
  args[n++] = opt(a->lse_given, &a->lse);
  args[n++] = fic__any_int(mask_mode);
  args[n++] = fic__any_int(pl->kv_layout);
  args[n++] = fic__any_int(pl->window_left);
  return n;
}

/* The FA2 paged_run (27) and ragged_run (25) arguments: the shared head,
 * PDL, six optional tensors (the custom mask and its indptr as Tensor
 * objects or None; alibi slopes, prefix length, token positions, max item
 * length: None) and five scalars. */
static fic_status call_prefill(const fic_attention_plan *pl, const fic__attn_run_args *a, int ragged, void *stream) {
  fic_any args[27];
  int n = fic__attn_prefill_run_head(pl, a, ragged, a->mask ? 2 : pl->causal ? 1 : 0, args);
  args[n++] = fic__any_bool(a->pdl);
  args[n++] = a->mask ? a->mask[0] : fic__any_none();
  args[n++] = a->mask ? a->mask[1] : fic__any_none();
  for (int i = 0; i < 4; i++) args[n++] = fic__any_none();
  args[n++] = fic__any_float(pl->soft_cap);
  args[n++] = fic__any_float(a->sm_scale);
  args[n++] = fic__any_float(a->rope_rcp_scale);
  args[n++] = fic__any_float(a->rope_rcp_theta);
  args[n++] = fic__any_int(0); /* token_pos_in_items_len */
  return fic__call(pl->run, args, n, pl->device_id, stream, NULL);
}

/* The LSE and the scalars both runs share. RoPE's scale and theta go to
 * the kernel as reciprocals, as decode.py's and prefill.py's registered ops
 * pass them. */
static fic_status check_tail(fic__attn_run_args *a, const fic_attention_plan *pl, const fic_tensor *lse,
                             double sm_scale, double rope_scale, double rope_theta, int64_t pdl) {
  FIC_CHECK(check_lse(&a->lse, lse, pl));
  a->lse_given = lse;
  a->mask = NULL;
  a->sm_scale = sm_scale;
  FIC_CHECK(check_scalars(pl, &a->sm_scale, rope_scale, rope_theta, pdl, &a->pdl));
  a->rope_rcp_scale = 1.0 / rope_scale;
  a->rope_rcp_theta = 1.0 / rope_theta;
  return FIC_OK;
}

/* The paged-cache tensors both runs share. */
static fic_status check_paged(fic__attn_run_args *a, const fic_attention_plan *pl, const fic_tensor *k,
                              const fic_tensor *v, const fic_tensor *indptr, const fic_tensor *indices,
                              const fic_tensor *last) {
  FIC_CHECK(check_cache(&a->k, k, "k_cache", pl, pl->head_dim_qk, "head_dim_qk"));
  FIC_CHECK(check_cache(&a->v, v, "v_cache", pl, pl->head_dim_vo, "head_dim_vo"));
  FIC_CHECK(same_strides(&a->v, &a->k));
  FIC_CHECK(check_index(&a->kv_indptr, indptr, "kv_indptr", pl, pl->batch + 1, "batch_size + 1"));
  FIC_CHECK(check_index(&a->kv_indices, indices, "kv_indices", pl, -pl->kv_total, NULL));
  return check_index(&a->last_page_len, last, "kv_last_page_len", pl, pl->batch, "batch_size");
}

fic_status fic_batch_decode_run(const fic_attention_plan *plan, const fic_batch_decode_run_params *params,
                                void *stream) {
  FIC_CHECK(check_plan(plan, 1));
  FIC_LOAD_PARAMS(fic_batch_decode_run_params, p, params);
  fic__attn_run_args a;
  FIC_CHECK(check_q_out(&a.q, &a.out, p.q, p.out, plan));
  FIC_CHECK(check_paged(&a, plan, p.k_cache, p.v_cache, p.kv_indptr, p.kv_indices, p.kv_last_page_len));
  FIC_CHECK(check_tail(&a, plan, p.lse, p.sm_scale, p.rope_scale, p.rope_theta, p.enable_pdl));
  if (plan->kind == FIC__ATTN_KIND_DECODE) return call_decode(plan, &a, stream);
  /* Tensor cores: the plan's own arange in the int workspace; a caller's
   * qo_indptr (the 0.2.0 interface) is checked and otherwise ignored. */
  if (p.qo_indptr)
    FIC_CHECK(check_index(&a.qo_indptr, p.qo_indptr, "qo_indptr", plan, plan->batch + 1, "batch_size + 1"));
  FIC_CHECK(fic__vt_init(&a.qo_indptr, &plan->qo_arange.t, "qo_indptr", 1, 1));
  return call_prefill(plan, &a, 0, stream);
}

fic_status fic_batch_prefill_run(const fic_attention_plan *plan, const fic_batch_prefill_run_params *params,
                                 void *stream) {
  FIC_CHECK(check_plan(plan, 0));
  FIC_LOAD_PARAMS(fic_batch_prefill_run_params, p, params);
  fic__attn_run_args a;
  int ragged = plan->kind == FIC__ATTN_KIND_PREFILL_RAGGED;
  FIC_CHECK(check_q_out(&a.q, &a.out, p.q, p.out, plan));
  FIC_CHECK(check_index(&a.qo_indptr, p.qo_indptr, "qo_indptr", plan, plan->batch + 1, "batch_size + 1"));
  if (ragged) {
    FIC_CHECK(check_ragged(&a.k, p.k, "k", plan, plan->head_dim_qk, "head_dim_qk"));
    FIC_CHECK(check_ragged(&a.v, p.v, "v", plan, plan->head_dim_vo, "head_dim_vo"));
    FIC_CHECK(check_index(&a.kv_indptr, p.kv_indptr, "kv_indptr", plan, plan->batch + 1, "batch_size + 1"));
  } else {
    FIC_CHECK(check_paged(&a, plan, p.k, p.v, p.kv_indptr, p.kv_indices, p.kv_last_page_len));
  }
  FIC_CHECK(check_tail(&a, plan, p.lse, p.sm_scale, p.rope_scale, p.rope_theta, p.enable_pdl));
  int masked = p.custom_mask || p.mask_indptr;
  if (plan->backend == FIC__BACKEND_FA3) {
    if (masked)
      return fic__fail_arg("custom_mask",
                           "custom masks run on FA2 only (FA3 has no custom mask mode); this plan uses FA3: plan "
                           "with backend = FIC_ATTENTION_BACKEND_FA2");
    return fic__fa3_run(plan, &a, ragged, stream);
  }
  if (!masked) return call_prefill(plan, &a, ragged, stream);
  fic__attn_mask m;
  FIC_CHECK(fic__attn_mask_check(&m, plan, p.custom_mask, p.mask_indptr));
  fic_any objs[2];
  FIC_CHECK(fic__attn_mask_objects(&m, plan, objs));
  a.mask = objs;
  fic_status st = call_prefill(plan, &a, ragged, stream);
  fic__attn_mask_release(&m, plan, objs);
  return st;
}
