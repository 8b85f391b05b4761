/* SPDX-License-Identifier: Apache-2.0 */
/* DeepSeek MLA plan and run over FlashInfer 0.6.3's batch_mla_attention_*
 * modules: FA2 (csrc/batch_mla_{binding,plan,run}.cu) and FA3
 * (batch_mla_sm90_*.cu, `_sm90`), both exporting
 *   plan(float_ws, int_ws, page_locked_ws, qo_indptr, kv_indptr, kv_len,
 *        num_heads, head_dim_o, causal)                            -> Array (18)
 *   run(float_ws, int_ws, plan_info, q_nope, q_pe, ckv_cache, kpe_cache,
 *       kv_indices, o, maybe_lse, mask_mode, num_heads, page_size, sm_scale,
 *       return_lse_base_on_e)
 * (the _sm90 run appends ADDITIONAL_FUNC_PARAMS, empty without the profiler),
 * called as flashinfer/mla.py's BatchMLAPagedAttentionWrapper calls them.
 *
 * What the checks here add to the wrappers', which check only the index
 * dtypes: the three host arrays are read for batch_size (= kv_len's length)
 * entries with no check; MLAPlan (include/flashinfer/attention/scheduler.cuh)
 * writes at most 16384 work items into fixed slots of the int workspace
 * without checking the count; the kernels (mla.cuh, mla_hopper.cuh) form
 * every element offset in 32-bit unsigned arithmetic (page id * page stride
 * included), address a sequence's tokens as kv_indptr * page_size + t in 32
 * bits, load and store rows with 16-byte vector accesses, write the LSE as a
 * contiguous [rows, heads] array whatever its strides, and do not support a
 * causal sequence with more query rows than keys (FlashInfer's tests skip
 * it). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/validate.h"

_Static_assert(sizeof(fic_batch_mla_plan_params) % 8 == 0, "8-byte fields");
_Static_assert(sizeof(fic_batch_mla_run_params) % 8 == 0, "8-byte fields");

#define MLA_MAX_WORKS 16384 /* max_total_num_works in MLAPlan */
#define MLA_TILE_Q 64       /* cta_tile_q: packed (row, head) pairs per tile */
#define MLA_VEC_BYTES 16    /* the kernels' 128-bit loads and stores */
#define MLA_SM_GUESS 1024   /* SMs assumed when the count is unknown */

fic_status fic_batch_mla_plan_params_init(fic_batch_mla_plan_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  params->head_dim_ckv = 512;
  params->head_dim_kpe = 64;
  params->backend = FIC_ATTENTION_BACKEND_AUTO;
  return FIC_OK;
}

fic_status fic_batch_mla_run_params_init(fic_batch_mla_run_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  return FIC_OK;
}

/* ---- plan checks ---- */

static fic_status check_mla_head_dim(const char *name, int64_t d) {
  if (d >= 64 && d <= 1024 && d % 64 == 0) return FIC_OK;
  return fic__fail_arg(name, "%s must be a multiple of 64 in [64, 1024] (FlashInfer builds 512 and 64), got %lld", name,
                       (long long)d);
}

static int is_half(fic_dtype d) { return fic__dtype_eq(d, FIC_F16) || fic__dtype_eq(d, FIC_BF16); }

static fic_status check_mla_dtypes(fic_batch_mla_plan_params *p) {
  char a[48], b[48];
  fic_dtype zero = {0, 0, 0};
  if (!is_half(p->q_dtype))
    return fic__fail_arg("q_dtype", "q_dtype must be float16 or bfloat16, got %s",
                         fic__dtype_name(p->q_dtype, a, sizeof a));
  if (!fic__dtype_eq(p->kv_dtype, p->q_dtype))
    return fic__fail_arg("kv_dtype",
                         "kv_dtype must equal q_dtype (%s): FlashInfer's MLA modules take one input dtype, got %s",
                         fic__dtype_name(p->q_dtype, a, sizeof a), fic__dtype_name(p->kv_dtype, b, sizeof b));
  if (fic__dtype_eq(p->o_dtype, zero)) p->o_dtype = p->q_dtype;
  if (!is_half(p->o_dtype))
    return fic__fail_arg("o_dtype", "o_dtype must be float16 or bfloat16, got %s",
                         fic__dtype_name(p->o_dtype, a, sizeof a));
  if (p->reserved0 != 0) return fic__fail_arg("reserved0", "reserved0 must be 0, got %u", p->reserved0);
  return FIC_OK;
}

static fic_status check_mla_scalars(fic_batch_mla_plan_params *p) {
  FIC_CHECK(fic__attn_check_positive("num_heads", p->num_heads));
  FIC_CHECK(check_mla_head_dim("head_dim_ckv", p->head_dim_ckv));
  FIC_CHECK(check_mla_head_dim("head_dim_kpe", p->head_dim_kpe));
  FIC_CHECK(fic__attn_check_positive("page_size", p->page_size));
  FIC_CHECK(fic__attn_check_flag("causal", p->causal));
  if (p->backend < FIC_ATTENTION_BACKEND_AUTO || p->backend > FIC_ATTENTION_BACKEND_FA3)
    return fic__fail_arg("backend", "backend must be FIC_ATTENTION_BACKEND_AUTO (0), _FA2 (1) or _FA3 (2), got %lld",
                         (long long)p->backend);
  FIC_CHECK(fic__check_finite("sm_scale", p->sm_scale, 1, 1));
  return check_mla_dtypes(p);
}

/* MLAPlan's schedule: clusters of 1 CTA (2 when the batch averages more
 * than 64 packed (row, head) pairs per sequence) of 64 packed rows each; one
 * work item per (sequence, query tile) and KV chunk, into 16384 slots. The
 * chunks of all tiles add up to at most tiles + clusters (each chunk but a
 * tile's last is kv_len_limit >= total KV / clusters long), so that bound is
 * checked. */
static int64_t mla_work_bound(const fic_batch_mla_plan_params *p, int32_t device_id) {
  int64_t packed = 0, tiles = 0;
  for (int64_t b = 0; b < p->batch_size; b++) packed += (int64_t)(p->qo_indptr[b + 1] - p->qo_indptr[b]) * p->num_heads;
  int64_t cluster = packed / p->batch_size > MLA_TILE_Q ? 2 : 1, tile = cluster * MLA_TILE_Q;
  for (int64_t b = 0; b < p->batch_size; b++)
    tiles += ((int64_t)(p->qo_indptr[b + 1] - p->qo_indptr[b]) * p->num_heads + tile - 1) / tile;
  int sms = fic__kernel_sm_count(device_id);
  return tiles + (sms > 0 ? sms : MLA_SM_GUESS) / cluster;
}

/* Per sequence: kv_len within its pages, and (causal) no more query rows
 * than keys; then the 32-bit limits and the schedule's capacity. */
static fic_status check_mla_lengths(const fic_batch_mla_plan_params *p, int32_t device_id) {
  if (!p->kv_len) return fic__fail_arg("kv_len", "kv_len must not be NULL (a host array of batch_size int32)");
  for (int64_t b = 0; b < p->batch_size; b++) {
    int64_t pages = p->kv_indptr[b + 1] - p->kv_indptr[b], qo = p->qo_indptr[b + 1] - p->qo_indptr[b];
    int64_t len = p->kv_len[b], cap = pages * p->page_size;
    if (len < 0 || len > cap)
      return fic__fail_arg(
          "kv_len", "kv_len[%lld] = %lld must be in [0, %lld]: kv_indptr gives sequence %lld %lld pages of %lld",
          (long long)b, (long long)len, (long long)cap, (long long)b, (long long)pages, (long long)p->page_size);
    if (p->causal && qo > len)
      return fic__fail_arg("kv_len",
                           "kv_len[%lld] = %lld is less than the sequence's %lld query rows: FlashInfer's causal MLA "
                           "needs qo_len <= kv_len",
                           (long long)b, (long long)len, (long long)qo);
  }
  int64_t tokens = (int64_t)p->kv_indptr[p->batch_size] * p->page_size;
  if (tokens > (int64_t)UINT32_MAX)
    return fic__fail_arg(
        "kv_indptr",
        "kv_indptr[batch_size] * page_size is %lld; FlashInfer's MLA kernels address tokens in 32 bits "
        "(at most %u)",
        (long long)tokens, UINT32_MAX);
  int64_t rows = p->qo_indptr[p->batch_size];
  if (rows * p->num_heads > INT32_MAX)
    return fic__fail_arg("num_heads",
                         "qo_indptr[batch_size] * num_heads is %lld; FlashInfer's MLA plan counts it in int32",
                         (long long)(rows * p->num_heads));
  int64_t works = mla_work_bound(p, device_id);
  if (works > MLA_MAX_WORKS)
    return fic__fail_arg("qo_indptr",
                         "this batch may need %lld work items (query tiles of 64 or 128 rows x heads, plus one per "
                         "cluster of SMs); FlashInfer's MLA schedule holds %d: split the batch",
                         (long long)works, MLA_MAX_WORKS);
  return FIC_OK;
}

static fic_status check_mla_plan(fic_batch_mla_plan_params *p, int32_t device_id) {
  FIC_CHECK(fic__attn_check_positive("batch_size", p->batch_size));
  FIC_CHECK(fic__attn_check_indptr("qo_indptr", p->qo_indptr, p->batch_size));
  FIC_CHECK(fic__attn_check_indptr("kv_indptr", p->kv_indptr, p->batch_size));
  FIC_CHECK(check_mla_scalars(p));
  FIC_CHECK(fic__attn_check_total_rows(&p->total_num_rows, p->qo_indptr[p->batch_size]));
  return check_mla_lengths(p, device_id);
}

/* ---- the module ---- */

/* Python's determine_mla_backend (flashinfer/utils.py): FA3 on SM 9.x. The
 * `_sm90` modules hold sm_90a code only, so AUTO takes FA3 on SM 9.0 when
 * the wheel has it and FA2 otherwise; an explicit FA3 elsewhere is refused. */
static fic_status pick_mla_uncached(fic_runtime *rt, const fic_batch_mla_plan_params *p, fic_attention_plan *pl,
                                    fic__attn_params m, int cc) {
  int major = cc / 10, minor = cc % 10;
  int sm90 = major == 9 && minor == 0;
  if (p->backend == FIC_ATTENTION_BACKEND_FA3 && major != 0 && !sm90)
    return fic__fail_arg("backend",
                         "backend FIC_ATTENTION_BACKEND_FA3 needs an SM 9.0 GPU (the _sm90 modules hold sm_90a code "
                         "only); cuda:%d is SM %d.%d",
                         (int)pl->device_id, major, minor);
  const char *path = NULL;
  if (p->backend == FIC_ATTENTION_BACKEND_AUTO && sm90) {
    fic__attn_params fa3 = m;
    fa3.backend = FIC__BACKEND_FA3;
    fic_error_divert saved; /* a wheel without the FA3 module falls back to FA2 silently */
    fic__error_divert_begin(&saved, NULL, 0);
    int have = fic__attn_module_name_quiet(&fa3, pl->module, sizeof pl->module) &&
               fic_runtime_module_path(rt, pl->module, &path) == FIC_OK;
    fic__error_divert_end(&saved);
    if (have) {
      pl->backend = FIC__BACKEND_FA3;
      return FIC_OK;
    }
  }
  m.backend = p->backend == FIC_ATTENTION_BACKEND_FA3 ? FIC__BACKEND_FA3 : FIC__BACKEND_FA2;
  FIC_CHECK(fic__attn_module_name(&m, pl->module, sizeof pl->module));
  fic_status st = fic_runtime_module_path(rt, pl->module, &path);
  if (st == FIC_ERR_NOT_FOUND) return fic__attn_module_missing(rt, &m, st);
  pl->backend = m.backend;
  return st;
}

/* The pick above, remembered by the workspace per (parameters, backend
 * asked for, compute capability) once it succeeded (attention.h). */
static fic_status pick_mla_module(fic_runtime *rt, const fic_batch_mla_plan_params *p, fic_attention_plan *pl) {
  fic__attn_params m;
  memset(&m, 0, sizeof m);
  m.family = FIC__ATTN_BATCH_MLA;
  m.dtype_q = p->q_dtype, m.dtype_kv = p->kv_dtype, m.dtype_o = p->o_dtype, m.dtype_idx = FIC_I32;
  m.head_dim_qk = (int32_t)p->head_dim_ckv, m.head_dim_vo = (int32_t)p->head_dim_kpe;
  int cc = fic__kernel_compute_capability(pl->device_id);
  fic__attn_pick_key key;
  memset(&key, 0, sizeof key);
  memcpy(&key.want, &m, sizeof key.want);
  key.backend = p->backend;
  key.cc = cc;
  pl->pick = fic__attn_pick_find(pl->ws, &key);
  if (pl->pick) {
    memcpy(pl->module, pl->pick->module, sizeof pl->module);
    pl->backend = pl->pick->backend;
    return FIC_OK;
  }
  FIC_CHECK(pick_mla_uncached(rt, p, pl, m, cc));
  pl->pick = fic__attn_pick_add(pl->ws, &key, pl->backend, pl->module);
  return FIC_OK;
}

/* MLAPlan's 9 arguments (mla.py plan: the three arrays on the host,
 * head_dim_o = head_dim_ckv). */
static fic_status call_mla_plan(fic_runtime *rt, fic_attention_plan *pl, const fic_batch_mla_plan_params *p,
                                void *stream) {
  const struct fic_function *plan_fn;
  FIC_CHECK(fic__attn_plan_fn(rt, pl, FIC__ATTN_EXPORT_PLAN, stream, &plan_fn));
  FIC_CHECK(fic__attn_plan_fn(rt, pl, FIC__ATTN_EXPORT_RUN, stream, &pl->run));
  fic__attn_buffer qo, kv, len;
  fic__attn_host_tensor(&qo, p->qo_indptr, FIC_I32, p->batch_size + 1);
  fic__attn_host_tensor(&kv, p->kv_indptr, FIC_I32, p->batch_size + 1);
  fic__attn_host_tensor(&len, p->kv_len, FIC_I32, p->batch_size); /* its length is the plan's batch size */
  fic_attention_workspace *ws = pl->ws;
  fic_any args[9] = {fic__any_ptr_tensor(&ws->float_buf.t),
                     fic__any_ptr_tensor(&ws->int_buf.t),
                     fic__any_ptr_tensor(&ws->host_buf.t),
                     fic__any_ptr_tensor(&qo.t),
                     fic__any_ptr_tensor(&kv.t),
                     fic__any_ptr_tensor(&len.t),
                     fic__any_from_arg(fic_arg_int(p->num_heads)),
                     fic__any_from_arg(fic_arg_int(p->head_dim_ckv)),
                     fic__any_bool((int)p->causal)};
  return fic__attn_call_plan(pl, plan_fn, args, 9, stream);
}

fic_status fic_batch_mla_plan(fic_runtime *rt, fic_attention_workspace *ws, const fic_batch_mla_plan_params *params,
                              void *stream, fic_attention_plan **out) {
  FIC_CHECK(fic__attn_plan_start(rt, ws, out));
  FIC_LOAD_PARAMS(fic_batch_mla_plan_params, p, params);
  FIC_CHECK(check_mla_plan(&p, (int32_t)ws->desc.device_id));
  fic_attention_plan *pl = NULL;
  FIC_CHECK(fic__attn_plan_new(ws, FIC__ATTN_KIND_MLA, &pl));
  pl->batch = p.batch_size, pl->qo_heads = p.num_heads, pl->kv_heads = 1, pl->page_size = p.page_size;
  pl->head_dim_qk = p.head_dim_ckv + p.head_dim_kpe, pl->head_dim_vo = p.head_dim_ckv;
  pl->head_dim_ckv = p.head_dim_ckv, pl->head_dim_kpe = p.head_dim_kpe, pl->sm_scale = p.sm_scale;
  pl->causal = p.causal, pl->window_left = -1, pl->total_rows = p.total_num_rows;
  pl->kv_total = p.kv_indptr[p.batch_size], pl->q_dtype = p.q_dtype, pl->kv_dtype = p.kv_dtype;
  pl->o_dtype = p.o_dtype;
  fic_status st = pick_mla_module(rt, &p, pl);
  if (st == FIC_OK) st = call_mla_plan(rt, pl, &p, stream);
  return fic__attn_plan_finish(pl, st, out);
}

/* ---- run checks ---- */

static const char *const k_kind_runs[] = {"decode", "decode", "prefill", "prefill"};

static fic_status check_mla_run_plan(const fic_attention_plan *pl) {
  if (!pl) return fic__fail_arg("plan", "plan must not be NULL");
  if (pl->kind != FIC__ATTN_KIND_MLA) {
    const char *k = (unsigned)pl->kind < 4 ? k_kind_runs[pl->kind] : "non-MLA";
    return fic__fail_arg("plan", "plan is a batch %s plan; run it with fic_batch_%s_run", k, k);
  }
  return fic__attn_plan_current(pl);
}

/* One tensor of the run: `ndim`-D (3 or 2) on the plan's device, of `dtype`
 * (`dtype_field` names the plan's field), with want[d] in dimension d where
 * want[d] >= 0 (`fields[d]` names it). Rows: last dimension contiguous,
 * 16-byte aligned rows, 32-bit offsets. */
typedef struct mla_spec {
  const char *name;
  fic_dtype dtype;
  const char *dtype_field;
  int64_t want[3];
  const char *fields[3];
} mla_spec;

static fic_status check_mla_tensor(fic_vt *vt, const fic_tensor *t, const mla_spec *s, const fic_attention_plan *pl) {
  char a[48], b[48];
  FIC_CHECK(fic__vt_init(vt, t, s->name, 3, 3));
  if (vt->t.device.device_id != pl->device_id)
    return fic__fail_arg(s->name, "%s is on cuda:%d, but the plan's workspace is on cuda:%d", s->name,
                         (int)vt->t.device.device_id, (int)pl->device_id);
  if (!fic__dtype_eq(vt->t.dtype, s->dtype))
    return fic__fail_arg(s->name, "%s has dtype %s, but the plan has %s = %s", s->name,
                         fic__dtype_name(vt->t.dtype, a, sizeof a), s->dtype_field,
                         fic__dtype_name(s->dtype, b, sizeof b));
  for (int d = 0; d < 3; d++)
    if (s->want[d] >= 0 && vt->t.shape[d] != s->want[d])
      return fic__fail_arg(s->name, "%s.shape[%d] is %lld, but the plan has %s = %lld", s->name, d,
                           (long long)vt->t.shape[d], s->fields[d], (long long)s->want[d]);
  FIC_CHECK(fic__vt_last_contiguous(vt));
  FIC_CHECK(fic__vt_aligned(vt, MLA_VEC_BYTES, "FlashInfer's MLA kernels move rows in 16-byte vectors"));
  FIC_CHECK(fic__vt_outer_strides_multiple(vt, MLA_VEC_BYTES / (s->dtype.bits / 8),
                                           "rows must stay 16-byte aligned for the 16-byte vectors"));
  return fic__vt_offsets_fit(vt, UINT32_MAX, "FlashInfer's MLA kernels compute offsets in 32 bits");
}

typedef struct mla_run_args {
  fic_vt q_nope, q_pe, ckv, kpe, indices, out, lse;
  const fic_tensor *lse_given;
  double sm_scale;
} mla_run_args;

static fic_status check_mla_rows(mla_run_args *a, const fic_batch_mla_run_params *p, const fic_attention_plan *pl) {
  const mla_spec nope = {"q_nope",
                         pl->q_dtype,
                         "q_dtype",
                         {pl->total_rows, pl->qo_heads, pl->head_dim_ckv},
                         {"total_num_rows", "num_heads", "head_dim_ckv"}};
  const mla_spec pe = {"q_pe",
                       pl->q_dtype,
                       "q_dtype",
                       {pl->total_rows, pl->qo_heads, pl->head_dim_kpe},
                       {"total_num_rows", "num_heads", "head_dim_kpe"}};
  const mla_spec out = {"out",
                        pl->o_dtype,
                        "o_dtype",
                        {pl->total_rows, pl->qo_heads, pl->head_dim_ckv},
                        {"total_num_rows", "num_heads", "head_dim_ckv"}};
  FIC_CHECK(check_mla_tensor(&a->q_nope, p->q_nope, &nope, pl));
  FIC_CHECK(check_mla_tensor(&a->q_pe, p->q_pe, &pe, pl));
  return check_mla_tensor(&a->out, p->out, &out, pl);
}

static fic_status check_mla_caches(mla_run_args *a, const fic_batch_mla_run_params *p, const fic_attention_plan *pl) {
  const mla_spec ckv = {"ckv_cache",
                        pl->kv_dtype,
                        "kv_dtype",
                        {-1, pl->page_size, pl->head_dim_ckv},
                        {NULL, "page_size", "head_dim_ckv"}};
  FIC_CHECK(check_mla_tensor(&a->ckv, p->ckv_cache, &ckv, pl));
  const mla_spec kpe = {"kpe_cache",
                        pl->kv_dtype,
                        "kv_dtype",
                        {-1, pl->page_size, pl->head_dim_kpe},
                        {NULL, "page_size", "head_dim_kpe"}};
  FIC_CHECK(check_mla_tensor(&a->kpe, p->kpe_cache, &kpe, pl));
  if (a->kpe.t.shape[0] != a->ckv.t.shape[0])
    return fic__fail_arg("kpe_cache", "kpe_cache has %lld pages, ckv_cache %lld: one page id addresses both",
                         (long long)a->kpe.t.shape[0], (long long)a->ckv.t.shape[0]);
  return FIC_OK;
}

static fic_status check_mla_indices(fic_vt *vt, const fic_tensor *t, const fic_attention_plan *pl) {
  static const fic_dtype i32[] = {FIC_DT_I32};
  FIC_CHECK(fic__vt_init(vt, t, "kv_indices", 1, 1));
  if (vt->t.device.device_id != pl->device_id)
    return fic__fail_arg("kv_indices", "kv_indices is on cuda:%d, but the plan's workspace is on cuda:%d",
                         (int)vt->t.device.device_id, (int)pl->device_id);
  FIC_CHECK(fic__vt_dtype(vt, i32, 1));
  FIC_CHECK(fic__vt_contiguous(vt));
  if (vt->t.shape[0] >= pl->kv_total) return FIC_OK;
  return fic__fail_arg("kv_indices", "kv_indices holds %lld entries, but the plan's kv_indptr ends at %lld",
                       (long long)vt->t.shape[0], (long long)pl->kv_total);
}

/* The kernels write lse[row * num_heads + head], ignoring its strides. */
static fic_status check_mla_lse(fic_vt *vt, const fic_tensor *t, const fic_attention_plan *pl) {
  static const fic_dtype f32[] = {FIC_DT_F32};
  if (!t) return FIC_OK;
  FIC_CHECK(fic__vt_init(vt, t, "lse", 2, 2));
  if (vt->t.device.device_id != pl->device_id)
    return fic__fail_arg("lse", "lse is on cuda:%d, but the plan's workspace is on cuda:%d",
                         (int)vt->t.device.device_id, (int)pl->device_id);
  FIC_CHECK(fic__vt_dtype(vt, f32, 1));
  FIC_CHECK(fic__vt_dim(vt, 0, pl->total_rows, "the plan's total_num_rows"));
  FIC_CHECK(fic__vt_dim(vt, 1, pl->qo_heads, "the plan's num_heads"));
  return fic__vt_contiguous(vt);
}

/* BatchMLAPagedAttentionRun's 15 arguments (mla.py run). */
static fic_status call_mla_run(const fic_attention_plan *pl, const mla_run_args *a, int lse_base_e, void *stream) {
  fic_attention_workspace *ws = pl->ws;
  fic_any args[15] = {fic__any_ptr_tensor(&ws->float_buf.t),
                      fic__any_ptr_tensor(&ws->int_buf.t),
                      pl->info,
                      fic__any_ptr_tensor(&a->q_nope.t),
                      fic__any_ptr_tensor(&a->q_pe.t),
                      fic__any_ptr_tensor(&a->ckv.t),
                      fic__any_ptr_tensor(&a->kpe.t),
                      fic__any_ptr_tensor(&a->indices.t),
                      fic__any_ptr_tensor(&a->out.t),
                      a->lse_given ? fic__any_ptr_tensor(&a->lse.t) : fic__any_none(),
                      fic__any_from_arg(fic_arg_int(pl->causal ? 1 : 0)), /* MaskMode: 0 none, 1 causal */
                      fic__any_from_arg(fic_arg_int(pl->qo_heads)),
                      fic__any_from_arg(fic_arg_int(pl->page_size)),
                      fic__any_float(a->sm_scale),
                      fic__any_bool(lse_base_e)};
  return fic__call(pl->run, args, 15, pl->device_id, stream, NULL);
}

fic_status fic_batch_mla_run(const fic_attention_plan *plan, const fic_batch_mla_run_params *params, void *stream) {
  FIC_CHECK(check_mla_run_plan(plan));
  FIC_LOAD_PARAMS(fic_batch_mla_run_params, p, params);
  mla_run_args a;
  FIC_CHECK(check_mla_rows(&a, &p, plan));
  FIC_CHECK(check_mla_caches(&a, &p, plan));
  FIC_CHECK(check_mla_indices(&a.indices, p.kv_indices, plan));
  FIC_CHECK(check_mla_lse(&a.lse, p.lse, plan));
  a.lse_given = p.lse;
  FIC_CHECK(fic__check_finite("sm_scale", p.sm_scale, 1, 0));
  a.sm_scale = p.sm_scale != 0 ? p.sm_scale : plan->sm_scale;
  FIC_CHECK(fic__attn_check_flag("lse_base_e", p.lse_base_e));
  return call_mla_run(plan, &a, (int)p.lse_base_e, stream);
}
