/* SPDX-License-Identifier: Apache-2.0 */
/* Batch decode and batch prefill plans (FlashInfer 0.6.3 csrc/batch_decode.cu,
 * csrc/batch_prefill.cu; arguments as decode.py / prefill.py pass them; the
 * FA3 prefill plan's are in attn_fa3.c).
 *
 * What the checks here add to the wrappers': the indptr arrays are read on
 * the host with no check at all (a wrong length reads past the caller's
 * array; a decreasing one makes the scheduler size its buffers from negative
 * lengths), the decode plan dispatches the group size only over 1, 2, 3, 4
 * and 8 (other sizes go to the tensor-core path here, as Python's
 * use_tensor_cores does), and head dims must match the module's. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/artifacts.h"
#include "common/cuda_abi.h"
#include "kernels/attention.h"
#include "kernels/validate.h"
#include "loader/loader.h"

_Static_assert(sizeof(fic_batch_decode_plan_params) % 8 == 0, "8-byte fields");
_Static_assert(sizeof(fic_batch_prefill_plan_params) % 8 == 0, "8-byte fields");

fic_status fic_batch_decode_plan_params_init(fic_batch_decode_plan_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  params->kv_layout = FIC_KV_LAYOUT_NHD;
  params->window_left = -1;
  return FIC_OK;
}

fic_status fic_batch_prefill_plan_params_init(fic_batch_prefill_plan_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  params->kv_layout = FIC_KV_LAYOUT_NHD;
  params->window_left = -1;
  return FIC_OK;
}

/* ---- checks shared by both plans ---- */

fic_status fic__attn_check_flag(const char *name, int64_t v) {
  if (v == 0 || v == 1) return FIC_OK;
  return fic__fail_arg(name, "%s must be 0 or 1, got %lld", name, (long long)v);
}

fic_status fic__attn_check_positive(const char *name, int64_t v) {
  if (v >= 1 && v <= INT32_MAX) return FIC_OK;
  return fic__fail_arg(name, "%s must be in [1, %d], got %lld", name, INT32_MAX, (long long)v);
}

/* A host indptr of batch + 1 entries: 0 first, non-decreasing. */
fic_status fic__attn_check_indptr(const char *name, const int32_t *indptr, int64_t batch) {
  if (!indptr) return fic__fail_arg(name, "%s must not be NULL (a host array of batch_size + 1 int32)", name);
  if (indptr[0] != 0) return fic__fail_arg(name, "%s[0] must be 0, got %d", name, (int)indptr[0]);
  for (int64_t i = 0; i < batch; i++)
    if (indptr[i + 1] < indptr[i])
      return fic__fail_arg(name, "%s must be non-decreasing: %s[%lld] = %d > %s[%lld] = %d", name, name, (long long)i,
                           (int)indptr[i], name, (long long)(i + 1), (int)indptr[i + 1]);
  return FIC_OK;
}

static fic_status check_heads(int64_t qo, int64_t kv) {
  FIC_CHECK(fic__attn_check_positive("num_qo_heads", qo));
  FIC_CHECK(fic__attn_check_positive("num_kv_heads", kv));
  if (qo % kv != 0)
    return fic__fail_arg("num_qo_heads", "num_qo_heads (%lld) must be a multiple of num_kv_heads (%lld)", (long long)qo,
                         (long long)kv);
  return FIC_OK;
}

static fic_status check_head_dim(const char *name, int64_t d) {
  if (d == 64 || d == 128 || d == 256) return FIC_OK;
  return fic__fail_arg(name, "%s must be 64, 128 or 256 (FlashInfer's AOT head dims), got %lld", name, (long long)d);
}

/* q and o 16-bit floats, kv also fp8 (the AOT build has FA2 prefill and
 * decode modules with e4m3/e5m2 KV; the caller folds k_scale into sm_scale
 * and applies v_scale to the output, as Python does). */
static fic_status check_dtypes(fic_dtype q, fic_dtype kv, fic_dtype *o, uint32_t reserved) {
  static const fic_dtype halfs[] = {FIC_DT_F16, FIC_DT_BF16},
                         kvs[] = {FIC_DT_F16, FIC_DT_BF16, FIC_DT_F8E4M3FN, FIC_DT_F8E5M2};
  char a[48];
  fic_dtype zero = {0, 0, 0};
  if (fic__dtype_eq(*o, zero)) *o = q;
  const fic_dtype *allowed[3] = {halfs, kvs, halfs};
  const int counts[3] = {2, 4, 2};
  const fic_dtype dts[3] = {q, kv, *o};
  static const char *const names[3] = {"q_dtype", "kv_dtype", "o_dtype"};
  for (int i = 0; i < 3; i++) {
    int ok = 0;
    for (int j = 0; j < counts[i]; j++) ok |= fic__dtype_eq(dts[i], allowed[i][j]);
    if (!ok)
      return fic__fail_arg(names[i], "%s must be float16 or bfloat16%s, got %s", names[i],
                           i == 1 ? " (or float8_e4m3fn / float8_e5m2)" : "", fic__dtype_name(dts[i], a, sizeof a));
  }
  if (reserved != 0) return fic__fail_arg("reserved0", "reserved0 must be 0, got %u", reserved);
  return FIC_OK;
}

static fic_status check_common(int64_t layout, int64_t window_left, double soft_cap, int64_t cuda_graph) {
  if (layout != FIC_KV_LAYOUT_NHD && layout != FIC_KV_LAYOUT_HND)
    return fic__fail_arg("kv_layout", "kv_layout must be FIC_KV_LAYOUT_NHD (0) or FIC_KV_LAYOUT_HND (1), got %lld",
                         (long long)layout);
  if (window_left < -1 || window_left > INT32_MAX)
    return fic__fail_arg("window_left", "window_left must be -1 (no window) or in [0, %d], got %lld", INT32_MAX,
                         (long long)window_left);
  FIC_CHECK(fic__check_finite("logits_soft_cap", soft_cap, 1, 0));
  return fic__attn_check_flag("enable_cuda_graph", cuda_graph);
}

/* ---- the module ---- */

/* The wheel's module names, for the nearest-module message. */
typedef struct name_list {
  char **names;
  size_t n, cap;
} name_list;

static int collect_name(void *user, const char *module, uint64_t size) {
  (void)size;
  name_list *l = user;
  if (l->n == l->cap) {
    size_t cap = l->cap ? 2 * l->cap : 1024;
    char **grown = realloc(l->names, cap * sizeof *grown);
    if (!grown) return 1;
    l->names = grown, l->cap = cap;
  }
  if (!(l->names[l->n] = strdup(module))) return 1;
  l->n++;
  return 0;
}

/* `failure` (the module is not in the wheel) replaced, when the runtime
 * knows its wheel, by a message naming what the wheel has for the nearest
 * parameters. */
fic_status fic__attn_module_missing(fic_runtime *rt, const fic__attn_params *want, fic_status failure) {
  const char *wheel = rt->artifacts ? rt->artifacts->jit_cache_wheel : "";
  name_list l = {NULL, 0, 0};
  fic_status st = failure;
  fic_error_divert saved; /* a wheel that cannot be listed keeps the extraction's error */
  fic__error_divert_begin(&saved, NULL, 0);
  int listed = wheel[0] && fic__wheel_list_modules(wheel, collect_name, &l) == FIC_OK;
  fic__error_divert_end(&saved);
  if (listed) {
    fic__attn_params chosen;
    char name[FIC__MODULE_NAME_CAP];
    st = fic__attn_pick_module((const char *const *)l.names, l.n, want, 0, 0, &chosen, name, sizeof name);
    if (st == FIC_OK) st = failure; /* listed after all: keep the extraction's own error */
  }
  for (size_t i = 0; i < l.n; i++) free(l.names[i]);
  free(l.names);
  return st;
}

/* The backend a prefill plan asked for, and what the FA3 rule reads (NULL
 * for decode plans: FA2 only). */
typedef struct backend_request {
  int64_t backend; /* fic_attention_backend */
  const fic__fa3_query *fa3;
} backend_request;

static fic_status fa3_off_sm90(int32_t device, int cc) {
  if (cc == 0)
    return fic__fail(FIC_ERR_UNSUPPORTED,
                     "backend FIC_ATTENTION_BACKEND_FA3 needs a compute capability 9.0 GPU (FA3 modules hold sm_90a "
                     "code only), but the compute capability of cuda:%d is unknown (no such GPU?)",
                     (int)device);
  return fic__fail(FIC_ERR_UNSUPPORTED,
                   "backend FIC_ATTENTION_BACKEND_FA3 needs a compute capability 9.0 GPU (FA3 modules hold sm_90a code "
                   "only), but cuda:%d has compute capability %d.%d; use FIC_ATTENTION_BACKEND_FA2 or AUTO",
                   (int)device, cc / 10, cc % 10);
}

/* FA3 for `want` when the request and the rule allow it: *use = 1, `want`'s
 * backend and `name` set. AUTO falls back silently (*use = 0, the record
 * untouched) where FA3 cannot run or the wheel lacks its module; a forced
 * FA3 fails instead, saying why. */
static fic_status try_fa3(fic_runtime *rt, fic__attn_params *want, const backend_request *req, int32_t device,
                          char *name, int *use) {
  *use = 0;
  int forced = req->backend == FIC_ATTENTION_BACKEND_FA3;
  const char *field = NULL, *why = fic__fa3_unfit(req->fa3, &field);
  if (why) return forced ? fic__fail_arg(field, "backend FIC_ATTENTION_BACKEND_FA3: %s", why) : FIC_OK;
  int cc = fic__kernel_compute_capability(device);
  if (cc != 90) return forced ? fa3_off_sm90(device, cc) : FIC_OK;
  fic__attn_params fa3 = *want;
  fa3.backend = FIC__BACKEND_FA3;
  FIC_CHECK(fic__attn_module_name(&fa3, name, FIC__MODULE_NAME_CAP));
  const char *path = NULL;
  char msg[512] = "";
  fic_error_divert saved;
  fic__error_divert_begin(&saved, msg, sizeof msg);
  fic_status st = fic_runtime_module_path(rt, name, &path);
  fic__error_divert_end(&saved);
  if (st == FIC_ERR_NOT_FOUND && !forced) return FIC_OK;
  if (st == FIC_ERR_NOT_FOUND)
    return fic__fail(FIC_ERR_NOT_FOUND, "backend FIC_ATTENTION_BACKEND_FA3: the jit-cache wheel has no module %s (%s)",
                     name, msg);
  if (st != FIC_OK) return fic__fail(st, "%s", msg);
  *want = fa3;
  *use = 1;
  return FIC_OK;
}

/* The module for `want`, extracted from the wheel on first use: FA3 where
 * `req` allows it (see fic_attention_backend), FA2 otherwise. */
static fic_status pick_module(fic_runtime *rt, fic__attn_params *want, const backend_request *req, int32_t device,
                              char *name) {
  if (req->fa3 && req->backend != FIC_ATTENTION_BACKEND_FA2) {
    int use = 0;
    FIC_CHECK(try_fa3(rt, want, req, device, name, &use));
    if (use) return FIC_OK;
  }
  want->backend = FIC__BACKEND_FA2;
  FIC_CHECK(fic__attn_module_name(want, name, FIC__MODULE_NAME_CAP));
  const char *path = NULL;
  fic_status st = fic_runtime_module_path(rt, name, &path);
  return st == FIC_ERR_NOT_FOUND ? fic__attn_module_missing(rt, want, st) : st;
}

fic_status fic__attn_get_fn(fic_runtime *rt, const char *module, const char *name, void *stream,
                            const struct fic_function **out) {
  fic_function *fn = NULL;
  FIC_CHECK(fic_function_get(rt, module, name, stream, &fn));
  *out = (const struct fic_function *)fn;
  return FIC_OK;
}

fic_status fic__attn_plan_fn(fic_runtime *rt, fic_attention_plan *pl, fic__attn_export e, void *stream,
                             const struct fic_function **out) {
  static const char *const names[FIC__ATTN_EXPORT_COUNT] = {"plan", "run", "paged_run", "ragged_run"};
  const struct fic_function *fn = pl->pick ? atomic_load_explicit(&pl->pick->fns[e], memory_order_acquire) : NULL;
  if (!fn) {
    FIC_CHECK(fic__attn_get_fn(rt, pl->module, names[e], stream, &fn));
    if (pl->pick) atomic_store_explicit(&pl->pick->fns[e], fn, memory_order_release);
  }
  *out = fn;
  return FIC_OK;
}

/* The key of a pick for `want` (backend ignored) on compute capability `cc`. */
static void pick_key(fic__attn_pick_key *key, const fic__attn_params *want, const backend_request *req, int cc) {
  memset(key, 0, sizeof *key);
  memcpy(&key->want, want, sizeof key->want);
  key->want.backend = FIC__BACKEND_FA2;
  key->backend = req->backend;
  const char *field = NULL;
  key->fa3_fit = req->fa3 && !fic__fa3_unfit(req->fa3, &field);
  key->cc = cc;
}

void fic__attn_host_tensor(fic__attn_buffer *store, const void *data, fic_dtype dtype, int64_t n) {
  memset(store, 0, sizeof *store);
  store->shape[0] = n;
  store->strides[0] = 1;
  store->t.data = (void *)data;
  store->t.device.device_type = FIC_DEVICE_CPU;
  store->t.ndim = 1;
  store->t.dtype = dtype;
  store->t.shape = store->shape;
  store->t.strides = store->strides;
}

/* ---- the plan object ---- */

fic_status fic__attn_plan_new(fic_attention_workspace *ws, fic__attn_kind kind, fic_attention_plan **out) {
  fic_attention_plan *p = calloc(1, sizeof *p);
  if (!p) return fic__fail(FIC_ERR_NO_MEMORY, "allocating an attention plan");
  p->rt = ws->rt;
  p->ws = ws;
  p->kind = kind;
  p->device_id = (int32_t)ws->desc.device_id;
  *out = p;
  return FIC_OK;
}

fic_status fic_attention_plan_backend(const fic_attention_plan *plan, fic_attention_backend *out) {
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  if (!plan) return fic__fail_arg("plan", "plan must not be NULL");
  *out = plan->backend == FIC__BACKEND_FA3 ? FIC_ATTENTION_BACKEND_FA3 : FIC_ATTENTION_BACKEND_FA2;
  return FIC_OK;
}

fic_status fic_attention_plan_destroy(fic_attention_plan *plan) {
  if (!plan) return FIC_OK;
  fic__object_release(plan->rt, &plan->info);
  free(plan);
  return FIC_OK;
}

/* Call the upstream plan under the workspace's ordering; on success the
 * plan owns the returned Array. `tail` (tensor-core decode, else NULL): the
 * arange qo_indptr written and copied after FlashInfer's plan, under the
 * same lock and before the same event. */
static fic_status call_plan_tail(fic_attention_plan *p, const struct fic_function *fn, const fic_any *args, int32_t n,
                                 const fic__attn_tail *tail, void *stream) {
  fic_attention_workspace *ws = p->ws;
  FIC_CHECK(fic__attn_ws_plan_begin(ws));
  fic_status st = fic__call(fn, args, n, p->device_id, stream, &p->info);
  int ok = st == FIC_OK && p->info.type_index == FIC_TI_ARRAY;
  if (st == FIC_OK && !ok) {
    fic__object_release(ws->rt, &p->info);
    st = fic__fail(FIC_ERR_ABI, "%s's plan returned type index %d, not an Array", p->module, (int)p->info.type_index);
  }
  if (ok && tail) st = fic__attn_tail_write(ws, tail, stream);
  fic_status ev = fic__attn_ws_plan_end(ws, stream, ok, &p->generation);
  return st != FIC_OK ? st : ev;
}

fic_status fic__attn_call_plan(fic_attention_plan *p, const struct fic_function *fn, const fic_any *args, int32_t n,
                               void *stream) {
  return call_plan_tail(p, fn, args, n, NULL, stream);
}

fic_status fic__attn_plan_finish(fic_attention_plan *p, fic_status st, fic_attention_plan **out) {
  if (st != FIC_OK) {
    fic_attention_plan_destroy(p);
    return st;
  }
  *out = p;
  return FIC_OK;
}

/* ---- batch decode ---- */

static fic_status check_decode(fic_batch_decode_plan_params *p) {
  FIC_CHECK(fic__attn_check_positive("batch_size", p->batch_size));
  FIC_CHECK(fic__attn_check_indptr("kv_indptr", p->kv_indptr, p->batch_size));
  FIC_CHECK(check_heads(p->num_qo_heads, p->num_kv_heads));
  FIC_CHECK(check_head_dim("head_dim", p->head_dim));
  FIC_CHECK(fic__attn_check_positive("page_size", p->page_size));
  FIC_CHECK(check_dtypes(p->q_dtype, p->kv_dtype, &p->o_dtype, p->reserved0));
  FIC_CHECK(check_common(p->kv_layout, p->window_left, p->logits_soft_cap, p->enable_cuda_graph));
  return fic__attn_check_flag("use_tensor_cores", p->use_tensor_cores);
}

/* DISPATCH_GQA_GROUP_SIZE (include/flashinfer/utils.cuh) in the decode kernels. */
static int cuda_core_group(int64_t group) { return group == 1 || group == 2 || group == 3 || group == 4 || group == 8; }

/* What a plan records and its module is chosen from, taken from either
 * parameters struct. */
typedef struct plan_shape {
  int64_t batch, hq, hkv, dqk, dvo, page, layout, window, graph, causal, rows, kv_total;
  double cap;
  fic_dtype q, kv, o;
} plan_shape;

/* A new plan of `kind` recording `sh`, with its module picked from `family`
 * and the backend `req`. */
static fic_status plan_make(fic_runtime *rt, fic_attention_workspace *ws, fic__attn_kind kind, fic__attn_family family,
                            const plan_shape *sh, const backend_request *req, fic_attention_plan **out) {
  fic_attention_plan *pl = NULL;
  FIC_CHECK(fic__attn_plan_new(ws, kind, &pl));
  pl->batch = sh->batch, pl->qo_heads = sh->hq, pl->kv_heads = sh->hkv, pl->head_dim_qk = sh->dqk;
  pl->head_dim_vo = sh->dvo, pl->page_size = sh->page, pl->kv_layout = sh->layout, pl->window_left = sh->window;
  pl->soft_cap = sh->cap, pl->cuda_graph = sh->graph, pl->causal = sh->causal, pl->total_rows = sh->rows;
  pl->kv_total = sh->kv_total, pl->q_dtype = sh->q, pl->kv_dtype = sh->kv, pl->o_dtype = sh->o;
  int cc = fic__kernel_compute_capability(pl->device_id);
  pl->pdl_auto = cc >= 90;
  fic__attn_params m;
  memset(&m, 0, sizeof m);
  m.family = family;
  m.dtype_q = sh->q, m.dtype_kv = sh->kv, m.dtype_o = sh->o, m.dtype_idx = FIC_I32;
  m.head_dim_qk = (int32_t)sh->dqk, m.head_dim_vo = (int32_t)sh->dvo;
  m.use_sliding_window = sh->window >= 0;
  m.use_logits_soft_cap = sh->cap > 0;
  /* The same key picks the same module: only a first pick (or a failing
   * one, which is never remembered) names it and looks it up. */
  fic__attn_pick_key key;
  pick_key(&key, &m, req, cc);
  pl->pick = fic__attn_pick_find(ws, &key);
  if (pl->pick) {
    memcpy(pl->module, pl->pick->module, sizeof pl->module);
    pl->backend = pl->pick->backend;
    *out = pl;
    return FIC_OK;
  }
  fic_status st = pick_module(rt, &m, req, pl->device_id, pl->module);
  if (st != FIC_OK) {
    fic_attention_plan_destroy(pl);
    return st;
  }
  pl->backend = m.backend;
  pl->pick = fic__attn_pick_add(ws, &key, m.backend, pl->module);
  *out = pl;
  return FIC_OK;
}

/* Host arrays of up to this many sequences live on the stack (2 KiB). */
#define FIC__ATTN_STACK_BATCH 512

/* DecodePlan's 15 arguments (decode.py:1094-1121). */
static fic_status decode_cuda_core_plan(fic_runtime *rt, fic_attention_plan *pl, const fic_batch_decode_plan_params *p,
                                        void *stream) {
  const struct fic_function *plan_fn;
  FIC_CHECK(fic__attn_plan_fn(rt, pl, FIC__ATTN_EXPORT_PLAN, stream, &plan_fn));
  FIC_CHECK(fic__attn_plan_fn(rt, pl, FIC__ATTN_EXPORT_RUN, stream, &pl->run));
  fic__attn_buffer indptr, empty_q, empty_kv;
  fic__attn_host_tensor(&indptr, p->kv_indptr, FIC_I32, p->batch_size + 1);
  fic__attn_host_tensor(&empty_q, NULL, p->q_dtype, 0); /* unused by the 0.6.3 plan; Python passes empty CPU tensors */
  fic__attn_host_tensor(&empty_kv, NULL, p->kv_dtype, 0);
  fic_attention_workspace *ws = pl->ws;
  fic_any args[15] = {fic__any_ptr_tensor(&ws->float_buf.t),
                      fic__any_ptr_tensor(&ws->int_buf.t),
                      fic__any_ptr_tensor(&ws->host_buf.t),
                      fic__any_ptr_tensor(&indptr.t),
                      fic__any_int(p->batch_size),
                      fic__any_int(p->num_qo_heads),
                      fic__any_int(p->num_kv_heads),
                      fic__any_int(p->page_size),
                      fic__any_bool((int)p->enable_cuda_graph),
                      fic__any_int(p->window_left),
                      fic__any_float(p->logits_soft_cap),
                      fic__any_int(p->head_dim),
                      fic__any_int(p->head_dim),
                      fic__any_ptr_tensor(&empty_q.t),
                      fic__any_ptr_tensor(&empty_kv.t)};
  return fic__attn_call_plan(pl, plan_fn, args, 15, stream);
}

/* The FA2 prefill plan's 19 arguments (prefill.py:1595-1990; decode.py:1038-1090
 * for the tensor-core decode). kv_len_arr is not read by the FA2 plan in 0.6.3
 * (only FA3's is): for paged KV it gets an upper bound, pages * page_size. */
static fic_status fa2_plan(fic_runtime *rt, fic_attention_plan *pl, const fic__attn_prefill_plan_in *in, void *stream) {
  const struct fic_function *plan_fn;
  FIC_CHECK(fic__attn_plan_fn(rt, pl, FIC__ATTN_EXPORT_PLAN, stream, &plan_fn));
  FIC_CHECK(fic__attn_plan_fn(rt, pl, in->ragged ? FIC__ATTN_EXPORT_RAGGED_RUN : FIC__ATTN_EXPORT_PAGED_RUN, stream,
                              &pl->run));
  int32_t kv_len_stack[FIC__ATTN_STACK_BATCH];
  int32_t *kv_len = in->batch <= FIC__ATTN_STACK_BATCH ? kv_len_stack : malloc((size_t)in->batch * sizeof *kv_len);
  if (!kv_len) return fic__fail(FIC_ERR_NO_MEMORY, "allocating %lld kv lengths", (long long)in->batch);
  for (int64_t i = 0; i < in->batch; i++)
    kv_len[i] = (int32_t)((int64_t)(in->kv_indptr[i + 1] - in->kv_indptr[i]) * (in->ragged ? 1 : in->page_size));
  fic__attn_buffer bufs[3], int_ws = pl->ws->int_buf;
  int_ws.t.shape = int_ws.shape, int_ws.t.strides = int_ws.strides;
  if (in->tail) int_ws.shape[0] = (int64_t)in->tail->offset;
  fic_any args[19];
  fic__attn_prefill_plan_head(pl, &int_ws.t, in, kv_len, bufs, args);
  args[16] = fic__any_int(-1); /* fixed_split_size */
  args[17] = fic__any_bool(0); /* disable_split_kv */
  args[18] = fic__any_int(0);  /* num_colocated_ctas */
  fic_status st = call_plan_tail(pl, plan_fn, args, 19, in->tail, stream);
  if (kv_len != kv_len_stack) free(kv_len);
  return st;
}

/* The tensor-core decode: the prefill module's plan with qo_indptr =
 * arange(batch + 1), which the library also keeps on the device (attn_tail.c). */
static fic_status decode_tensor_core_plan(fic_runtime *rt, fic_attention_plan *pl,
                                          const fic_batch_decode_plan_params *p, void *stream) {
  fic__attn_tail tail;
  FIC_CHECK(fic__attn_tail_plan(pl->ws, p->batch_size, &tail));
  int32_t arange_stack[FIC__ATTN_STACK_BATCH + 1];
  int32_t *arange =
      p->batch_size <= FIC__ATTN_STACK_BATCH ? arange_stack : malloc((size_t)(p->batch_size + 1) * sizeof *arange);
  if (!arange) return fic__fail(FIC_ERR_NO_MEMORY, "allocating qo_indptr");
  for (int64_t i = 0; i <= p->batch_size; i++) arange[i] = (int32_t)i;
  const fic__attn_prefill_plan_in in = {.qo_indptr = arange,
                                        .kv_indptr = p->kv_indptr,
                                        .total_rows = p->batch_size,
                                        .batch = p->batch_size,
                                        .hq = p->num_qo_heads,
                                        .hkv = p->num_kv_heads,
                                        .page_size = p->page_size,
                                        .cuda_graph = p->enable_cuda_graph,
                                        .dqk = p->head_dim,
                                        .dvo = p->head_dim,
                                        .causal = 0,
                                        .window_left = p->window_left,
                                        .ragged = 0,
                                        .tail = &tail};
  fic_status st = fa2_plan(rt, pl, &in, stream);
  if (arange != arange_stack) free(arange);
  if (st == FIC_OK) fic__attn_tail_tensor(pl->ws, &tail, &pl->qo_arange);
  return st;
}

fic_status fic__attn_plan_start(fic_runtime *rt, fic_attention_workspace *ws, fic_attention_plan **out) {
  if (!out) return fic__fail_arg("out", "out must not be NULL");
  *out = NULL;
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  if (!ws) return fic__fail_arg("ws", "ws must not be NULL");
  if (ws->rt != rt) return fic__fail_arg("ws", "ws was created on another runtime");
  return FIC_OK;
}

fic_status fic_batch_decode_plan(fic_runtime *rt, fic_attention_workspace *ws,
                                 const fic_batch_decode_plan_params *params, void *stream, fic_attention_plan **out) {
  FIC_CHECK(fic__attn_plan_start(rt, ws, out));
  FIC_LOAD_PARAMS(fic_batch_decode_plan_params, p, params);
  FIC_CHECK(check_decode(&p));
  int tc = p.use_tensor_cores || !cuda_core_group(p.num_qo_heads / p.num_kv_heads);
  plan_shape sh = {
      p.batch_size,      p.num_qo_heads, p.num_kv_heads,      p.head_dim, p.head_dim,   p.page_size,
      p.kv_layout,       p.window_left,  p.enable_cuda_graph, 0,          p.batch_size, p.kv_indptr[p.batch_size],
      p.logits_soft_cap, p.q_dtype,      p.kv_dtype,          p.o_dtype};
  fic_attention_plan *pl = NULL;
  const backend_request fa2_only = {FIC_ATTENTION_BACKEND_FA2, NULL};
  FIC_CHECK(plan_make(rt, ws, tc ? FIC__ATTN_KIND_DECODE_TC : FIC__ATTN_KIND_DECODE,
                      tc ? FIC__ATTN_BATCH_PREFILL : FIC__ATTN_BATCH_DECODE, &sh, &fa2_only, &pl));
  fic_status st = tc ? decode_tensor_core_plan(rt, pl, &p, stream) : decode_cuda_core_plan(rt, pl, &p, stream);
  return fic__attn_plan_finish(pl, st, out);
}

/* ---- batch prefill ---- */

/* FA2's head dims, or FA3's extra 192/128 pair (the backend rule decides). */
static fic_status check_prefill_head_dims(fic_batch_prefill_plan_params *p) {
  if (p->head_dim_qk == 192) {
    if (p->head_dim_vo == 128) return FIC_OK;
    return fic__fail_arg("head_dim_vo", "head_dim_qk 192 needs head_dim_vo 128 (FA3's only pair with 192), got %lld",
                         (long long)p->head_dim_vo);
  }
  FIC_CHECK(check_head_dim("head_dim_qk", p->head_dim_qk));
  if (p->head_dim_vo == 0) p->head_dim_vo = p->head_dim_qk;
  return check_head_dim("head_dim_vo", p->head_dim_vo);
}

/* Paged KV: each sequence's last page holds 1..page_size entries (none when
 * it has no pages), and its length fits the kernels' int32. */
static fic_status check_last_page_len(const fic_batch_prefill_plan_params *p) {
  if (p->ragged || !p->kv_last_page_len) return FIC_OK;
  for (int64_t i = 0; i < p->batch_size; i++) {
    int64_t pages = (int64_t)p->kv_indptr[i + 1] - p->kv_indptr[i], last = p->kv_last_page_len[i];
    int64_t lo = pages ? 1 : 0, hi = pages ? p->page_size : 0;
    if (last < lo || last > hi)
      return fic__fail_arg("kv_last_page_len",
                           "kv_last_page_len[%lld] must be in [%lld, %lld] (sequence %lld has %lld "
                           "page(s) of %lld), got %lld",
                           (long long)i, (long long)lo, (long long)hi, (long long)i, (long long)pages,
                           (long long)p->page_size, (long long)last);
    if (pages && (pages - 1) * p->page_size + last > INT32_MAX)
      return fic__fail_arg("kv_last_page_len", "sequence %lld holds %lld KV entries; FlashInfer counts them in int32",
                           (long long)i, (long long)((pages - 1) * p->page_size + last));
  }
  return FIC_OK;
}

/* The fewest bytes a packed custom mask for this batch holds: segment b is
 * ceil(qo_len * kv_len / 8) bytes (segment_packbits, prefill.py), kv_len at
 * least (pages - 1) * page_size + 1 for paged KV (the last page's length
 * lives on the device). Saturates at INT64_MAX. */
static int64_t mask_min_bytes(const fic_batch_prefill_plan_params *p) {
  int64_t total = 0;
  for (int64_t b = 0; b < p->batch_size; b++) {
    int64_t qo = p->qo_indptr[b + 1] - p->qo_indptr[b], kv = p->kv_indptr[b + 1] - p->kv_indptr[b];
    if (!p->ragged) kv = kv > 0 ? (kv - 1) * p->page_size + 1 : 0;
    int64_t bytes = (qo * kv + 7) / 8; /* both < 2^31: no overflow */
    if (total > INT64_MAX - bytes) return INT64_MAX;
    total += bytes;
  }
  return total;
}

static fic_status check_prefill(fic_batch_prefill_plan_params *p) {
  FIC_CHECK(fic__attn_check_positive("batch_size", p->batch_size));
  FIC_CHECK(fic__attn_check_indptr("qo_indptr", p->qo_indptr, p->batch_size));
  FIC_CHECK(fic__attn_check_indptr("kv_indptr", p->kv_indptr, p->batch_size));
  FIC_CHECK(check_heads(p->num_qo_heads, p->num_kv_heads));
  FIC_CHECK(check_prefill_head_dims(p));
  FIC_CHECK(fic__attn_check_flag("ragged", p->ragged));
  if (p->ragged) p->page_size = 1; /* prefill.py:2883 */
  FIC_CHECK(fic__attn_check_positive("page_size", p->page_size));
  FIC_CHECK(check_dtypes(p->q_dtype, p->kv_dtype, &p->o_dtype, p->reserved0));
  FIC_CHECK(check_common(p->kv_layout, p->window_left, p->logits_soft_cap, p->enable_cuda_graph));
  FIC_CHECK(fic__attn_check_flag("causal", p->causal));
  if (p->backend != FIC_ATTENTION_BACKEND_AUTO && p->backend != FIC_ATTENTION_BACKEND_FA2 &&
      p->backend != FIC_ATTENTION_BACKEND_FA3)
    return fic__fail_arg(
        "backend",
        "backend must be FIC_ATTENTION_BACKEND_AUTO (0), FIC_ATTENTION_BACKEND_FA2 (1) or FIC_ATTENTION_BACKEND_FA3 "
        "(2), got %lld",
        (long long)p->backend);
  FIC_CHECK(check_last_page_len(p));
  return fic__attn_check_total_rows(&p->total_num_rows, p->qo_indptr[p->batch_size]);
}

fic_status fic_batch_prefill_plan(fic_runtime *rt, fic_attention_workspace *ws,
                                  const fic_batch_prefill_plan_params *params, void *stream, fic_attention_plan **out) {
  FIC_CHECK(fic__attn_plan_start(rt, ws, out));
  FIC_LOAD_PARAMS(fic_batch_prefill_plan_params, p, params);
  FIC_CHECK(check_prefill(&p));
  plan_shape sh = {p.batch_size,        p.num_qo_heads, p.num_kv_heads,   p.head_dim_qk,
                   p.head_dim_vo,       p.page_size,    p.kv_layout,      p.window_left,
                   p.enable_cuda_graph, p.causal,       p.total_num_rows, p.kv_indptr[p.batch_size],
                   p.logits_soft_cap,   p.q_dtype,      p.kv_dtype,       p.o_dtype};
  const fic__fa3_query fq = {.q = p.q_dtype,
                             .kv = p.kv_dtype,
                             .o = p.o_dtype,
                             .head_dim_qk = p.head_dim_qk,
                             .head_dim_vo = p.head_dim_vo,
                             .ragged = p.ragged,
                             .kv_layout = p.kv_layout,
                             .kv_last_page_len = p.kv_last_page_len};
  const backend_request req = {p.backend, &fq};
  fic_attention_plan *pl = NULL;
  FIC_CHECK(plan_make(rt, ws, p.ragged ? FIC__ATTN_KIND_PREFILL_RAGGED : FIC__ATTN_KIND_PREFILL_PAGED,
                      FIC__ATTN_BATCH_PREFILL, &sh, &req, &pl));
  pl->mask_min_bytes = mask_min_bytes(&p);
  const fic__attn_prefill_plan_in in = {.qo_indptr = p.qo_indptr,
                                        .kv_indptr = p.kv_indptr,
                                        .kv_last_page_len = p.kv_last_page_len,
                                        .total_rows = p.total_num_rows,
                                        .batch = p.batch_size,
                                        .hq = p.num_qo_heads,
                                        .hkv = p.num_kv_heads,
                                        .page_size = p.page_size,
                                        .cuda_graph = p.enable_cuda_graph,
                                        .dqk = p.head_dim_qk,
                                        .dvo = p.head_dim_vo,
                                        .causal = p.causal,
                                        .window_left = p.window_left,
                                        .ragged = (int)p.ragged};
  fic_status st = pl->backend == FIC__BACKEND_FA3 ? fic__fa3_plan(rt, pl, &in, stream) : fa2_plan(rt, pl, &in, stream);
  return fic__attn_plan_finish(pl, st, out);
}

/* ---- for the other plan files (attention.h) ---- */

void fic__attn_prefill_plan_head(const fic_attention_plan *pl, const fic_tensor *int_ws,
                                 const fic__attn_prefill_plan_in *in, const int32_t *kv_len, fic__attn_buffer bufs[3],
                                 fic_any *args) {
  fic__attn_host_tensor(&bufs[0], in->qo_indptr, FIC_I32, in->batch + 1);
  fic__attn_host_tensor(&bufs[1], in->kv_indptr, FIC_I32, in->batch + 1);
  fic__attn_host_tensor(&bufs[2], kv_len, FIC_I32, in->batch);
  const fic_attention_workspace *ws = pl->ws;
  args[0] = fic__any_ptr_tensor(&ws->float_buf.t);
  args[1] = fic__any_ptr_tensor(int_ws);
  args[2] = fic__any_ptr_tensor(&ws->host_buf.t);
  args[3] = fic__any_ptr_tensor(&bufs[0].t);
  args[4] = fic__any_ptr_tensor(&bufs[1].t);
  args[5] = fic__any_ptr_tensor(&bufs[2].t);
  args[6] = fic__any_int(in->total_rows);
  args[7] = fic__any_int(in->batch);
  args[8] = fic__any_int(in->hq);
  args[9] = fic__any_int(in->hkv);
  args[10] = fic__any_int(in->ragged ? 1 : in->page_size);
  args[11] = fic__any_bool((int)in->cuda_graph);
  args[12] = fic__any_int(in->dqk);
  args[13] = fic__any_int(in->dvo);
  args[14] = fic__any_bool((int)in->causal);
  args[15] = fic__any_int(in->window_left);
}

fic_status fic__attn_check_total_rows(int64_t *total_num_rows, int64_t rows) {
  if (*total_num_rows == 0) *total_num_rows = rows;
  if (*total_num_rows < rows || *total_num_rows > INT32_MAX || *total_num_rows < 1)
    return fic__fail_arg("total_num_rows",
                         "total_num_rows must be in [qo_indptr[batch_size] = %lld, %d] and >= 1, got %lld",
                         (long long)rows, INT32_MAX, (long long)*total_num_rows);
  return FIC_OK;
}
