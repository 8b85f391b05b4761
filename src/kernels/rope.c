/* SPDX-License-Identifier: Apache-2.0 */
/* rope.so of FlashInfer 0.6.3 (csrc/rope.cu, include/flashinfer/pos_enc.cuh):
 * apply_rope, apply_rope_pos_ids, apply_llama31_rope,
 * apply_llama31_rope_pos_ids, apply_rope_pos_ids_cos_sin_cache.
 *
 * What the checks below add to the wrapper's:
 *  - q_rope / k_rope are never checked at all (only their strides are read),
 *    yet the kernels write them with q's / k's shape and dtype.
 *  - The llama31 wrappers do not even check q/k's last dimension is
 *    contiguous; the pos_ids wrappers never check pos_ids' device.
 *  - The kernels dispatch on D in {64, 128, 256, 512} (cos_sin_cache routes
 *    other D to the RoPE+quantize kernel, which is not validated here and so
 *    refused) and move vectors of v = max(8, D/32) elements: 16-byte aligned
 *    rows, and a rotary_dim that is a multiple of v (NeoX: of 2v, so a vector
 *    never straddles the half), else elements past rotary_dim are rotated or
 *    pairs are mixed up. rotary_dim > D writes past the head.
 *  - The cos/sin rows are loaded as float4 vectors; the interleaved kernel
 *    loads v/2 floats past the end of each row (unused, but past the end of
 *    the cache for its last row: documented, not checkable here).
 *  - Grids: the indptr kernels launch B * (Hq + Hk) blocks, the pos_ids ones
 *    may put Hq + Hk on gridDim.y (at most 65535); an empty grid is a launch
 *    error, so nnz == 0 or B == 0 returns before the call.
 *  - rope_scale 0, theta <= 0 and llama31's high <= low give inf/NaN
 *    frequencies in the kernel's f32 math.
 * Not checked (they live on the GPU): position and indptr values. */
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/module_names.h"
#include "kernels/validate.h"

static const fic_dtype k_rope_types[] = {FIC_DT_F16, FIC_DT_BF16};
static const fic_dtype k_index_types[] = {FIC_DT_I32, FIC_DT_I64};

_Static_assert(sizeof(fic_rope_params) % 8 == 0, "fields are 8 bytes wide");

fic_status fic_rope_params_init(fic_rope_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  params->layout = FIC_ROPE_LAYOUT_NEOX;
  params->rope_scale = 1.0;
  params->rope_theta = 1e4;
  params->low_freq_factor = 1.0;
  params->high_freq_factor = 4.0;
  params->old_context_length = 8192.0;
  return FIC_OK;
}

fic_status fic_llama31_rope_params_init(fic_rope_params *params) {
  FIC_CHECK(fic_rope_params_init(params));
  params->rope_scale = 8.0;
  params->rope_theta = 5e5;
  return FIC_OK;
}

typedef struct rope_args {
  fic_vt q, k, q_rope, k_rope, cache, i0, i1; /* i0/i1: indptr/offsets or pos_ids */
  int64_t rotary_dim;
} rope_args;

/* q or k: [nnz, H, D] f16/bf16 (k: q's dtype, device and nnz, D), last
 * dimension contiguous, rows 16-byte aligned for the kernel's vectors. */
static fic_status check_qk(fic_vt *vt, const fic_tensor *t, const char *name, const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, 3, 3));
  if (ref) {
    FIC_CHECK(fic__vt_same_dtype(vt, ref));
    FIC_CHECK(fic__vt_same_device(vt, ref));
    FIC_CHECK(fic__vt_dim(vt, 0, ref->t.shape[0], "tokens, q.shape[0]"));
    FIC_CHECK(fic__vt_dim(vt, 2, ref->t.shape[2], "head size, q.shape[2]"));
  } else {
    FIC_CHECK(fic__vt_dtype(vt, k_rope_types, 2));
    int64_t d = vt->t.shape[2];
    if (d != 64 && d != 128 && d != 256 && d != 512)
      return fic__fail_arg(name, "%s.shape[2] (head size) must be 64, 128, 256 or 512, got %lld", name, (long long)d);
    if (vt->t.shape[0] > INT32_MAX)
      return fic__fail_arg(name, "%s.shape[0] (tokens) must be at most %d", name, INT32_MAX);
  }
  FIC_CHECK(fic__vt_dim_positive(vt, 1, "heads"));
  FIC_CHECK(fic__vt_last_contiguous(vt));
  FIC_CHECK(fic__vt_aligned(vt, 16, "the kernel's 16-byte vectors"));
  return fic__vt_outer_strides_multiple(vt, 8, "every head must stay 16-byte aligned");
}

/* An output: the shape, dtype and device of its input, same row rules. */
static fic_status check_out(fic_vt *vt, const fic_tensor *t, const char *name, const fic_vt *in) {
  FIC_CHECK(fic__vt_init(vt, t, name, 3, 3));
  FIC_CHECK(fic__vt_same_dtype(vt, in));
  FIC_CHECK(fic__vt_same_device(vt, in));
  FIC_CHECK(fic__vt_same_shape(vt, in));
  FIC_CHECK(fic__vt_last_contiguous(vt));
  FIC_CHECK(fic__vt_aligned(vt, 16, "the kernel's 16-byte vectors"));
  return fic__vt_outer_strides_multiple(vt, 8, "every head must stay 16-byte aligned");
}

/* q, k, q_rope, k_rope; Hq + Hk fit gridDim.y. */
static fic_status check_heads(rope_args *a, const fic_tensor *q, const fic_tensor *k, const fic_tensor *q_rope,
                              const fic_tensor *k_rope) {
  FIC_CHECK(check_qk(&a->q, q, "q", NULL));
  FIC_CHECK(check_qk(&a->k, k, "k", &a->q));
  if (a->q.t.shape[1] + a->k.t.shape[1] > 65535)
    return fic__fail_arg("k", "q.shape[1] + k.shape[1] (heads) must be at most 65535, got %lld",
                         (long long)(a->q.t.shape[1] + a->k.t.shape[1]));
  FIC_CHECK(check_out(&a->q_rope, q_rope, "q_rope", &a->q));
  return check_out(&a->k_rope, k_rope, "k_rope", &a->k);
}

/* rotary_dim: even, <= D, a multiple of the kernel's vector (NeoX: twice it). */
static fic_status check_rotary_dim(const char *name, int64_t rotary_dim, int64_t layout, const fic_vt *q) {
  int64_t d = q->t.shape[2], vec = d / 32 > 8 ? d / 32 : 8;
  int64_t mult = layout == FIC_ROPE_LAYOUT_NEOX ? 2 * vec : vec;
  if (rotary_dim <= 0 || rotary_dim > d)
    return fic__fail_arg(name, "%s must be in [1, %lld] (the head size), got %lld", name, (long long)d,
                         (long long)rotary_dim);
  if (rotary_dim % mult != 0)
    return fic__fail_arg(name,
                         "%s must be a multiple of %lld for head size %lld and the %s layout (the kernel rotates "
                         "vectors of %lld elements), got %lld",
                         name, (long long)mult, (long long)d, layout == FIC_ROPE_LAYOUT_NEOX ? "NeoX" : "interleaved",
                         (long long)vec, (long long)rotary_dim);
  return FIC_OK;
}

static fic_status check_layout(int64_t layout) {
  if (layout != FIC_ROPE_LAYOUT_NEOX && layout != FIC_ROPE_LAYOUT_INTERLEAVED)
    return fic__fail_arg("layout",
                         "layout must be FIC_ROPE_LAYOUT_NEOX (0) or FIC_ROPE_LAYOUT_INTERLEAVED (1), got %lld",
                         (long long)layout);
  return FIC_OK;
}

/* A 1-D contiguous int32/int64 index tensor on q's device (dtype of `ref`). */
static fic_status check_index(fic_vt *vt, const fic_tensor *t, const char *name, const fic_vt *q, const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, 1, 1));
  if (ref)
    FIC_CHECK(fic__vt_same_dtype(vt, ref));
  else
    FIC_CHECK(fic__vt_dtype(vt, k_index_types, 2));
  FIC_CHECK(fic__vt_same_device(vt, q));
  return fic__vt_contiguous(vt);
}

static fic_status must_be_null(const fic_tensor *t, const char *name, const char *call) {
  if (t) return fic__fail_arg(name, "%s must be NULL for %s", name, call);
  return FIC_OK;
}

/* indptr [B+1] and offsets [B] (one dtype), or pos_ids [nnz]. */
static fic_status check_positions(rope_args *a, const fic_rope_params *p, int pos_ids, const char *call) {
  if (pos_ids) {
    FIC_CHECK(must_be_null(p->indptr, "indptr", call));
    FIC_CHECK(must_be_null(p->offsets, "offsets", call));
    FIC_CHECK(check_index(&a->i0, p->pos_ids, "pos_ids", &a->q, NULL));
    return fic__vt_dim(&a->i0, 0, a->q.t.shape[0], "tokens, q.shape[0]");
  }
  FIC_CHECK(must_be_null(p->pos_ids, "pos_ids", call));
  FIC_CHECK(check_index(&a->i1, p->offsets, "offsets", &a->q, NULL));
  FIC_CHECK(check_index(&a->i0, p->indptr, "indptr", &a->q, &a->i1));
  FIC_CHECK(fic__vt_dim(&a->i0, 0, a->i1.t.shape[0] + 1, "batch size + 1, offsets.shape[0] + 1"));
  if (a->i1.t.shape[0] * (a->q.t.shape[1] + a->k.t.shape[1]) > INT32_MAX)
    return fic__fail_arg("offsets", "offsets.shape[0] * (q heads + k heads) must be at most %d (the kernel's grid)",
                         INT32_MAX);
  return FIC_OK;
}

static fic_status check_scalars(const fic_rope_params *p, int llama31) {
  FIC_CHECK(fic__check_finite("rope_scale", p->rope_scale, 0, 1));
  FIC_CHECK(fic__check_finite("rope_theta", p->rope_theta, 1, 1));
  if (!llama31) return FIC_OK;
  FIC_CHECK(fic__check_finite("low_freq_factor", p->low_freq_factor, 1, 1));
  FIC_CHECK(fic__check_finite("high_freq_factor", p->high_freq_factor, 1, 1));
  FIC_CHECK(fic__check_finite("old_context_length", p->old_context_length, 1, 1));
  if (p->high_freq_factor <= p->low_freq_factor)
    return fic__fail_arg("high_freq_factor", "high_freq_factor (%g) must be greater than low_freq_factor (%g)",
                         p->high_freq_factor, p->low_freq_factor);
  return FIC_OK;
}

static fic_status check_rope(rope_args *a, const fic_rope_params *p, int pos_ids, int llama31, const char *call) {
  FIC_CHECK(check_layout(p->layout));
  FIC_CHECK(check_heads(a, p->q, p->k, p->q_rope, p->k_rope));
  a->rotary_dim = p->rotary_dim == 0 ? a->q.t.shape[2] : p->rotary_dim;
  FIC_CHECK(check_rotary_dim("rotary_dim", a->rotary_dim, p->layout, &a->q));
  FIC_CHECK(check_scalars(p, llama31));
  return check_positions(a, p, pos_ids, call);
}

/* The 0.6.3 wrappers' parameters, in their order (csrc/rope.cu). */
static int32_t rope_args_fill(fic_any *args, const rope_args *a, const fic_rope_params *p, int pos_ids, int llama31) {
  int32_t n = 0;
  args[n++] = fic__any_ptr_tensor(&a->q.t);
  args[n++] = fic__any_ptr_tensor(&a->k.t);
  args[n++] = fic__any_ptr_tensor(&a->q_rope.t);
  args[n++] = fic__any_ptr_tensor(&a->k_rope.t);
  args[n++] = fic__any_ptr_tensor(&a->i0.t);
  if (!pos_ids) args[n++] = fic__any_ptr_tensor(&a->i1.t);
  args[n++] = fic__any_int(a->rotary_dim);
  args[n++] = fic__any_bool(p->layout == FIC_ROPE_LAYOUT_INTERLEAVED);
  args[n++] = fic__any_float(p->rope_scale);
  args[n++] = fic__any_float(p->rope_theta);
  if (llama31) {
    args[n++] = fic__any_float(p->low_freq_factor);
    args[n++] = fic__any_float(p->high_freq_factor);
    args[n++] = fic__any_float(p->old_context_length);
  }
  return n;
}

static const struct {
  const char *name, *call;
  int slot, pos_ids, llama31;
} k_rope_calls[4] = {
    {"apply_rope", "fic_apply_rope", FIC_SLOT_APPLY_ROPE, 0, 0},
    {"apply_rope_pos_ids", "fic_apply_rope_pos_ids", FIC_SLOT_APPLY_ROPE_POS_IDS, 1, 0},
    {"apply_llama31_rope", "fic_apply_llama31_rope", FIC_SLOT_APPLY_LLAMA31_ROPE, 0, 1},
    {"apply_llama31_rope_pos_ids", "fic_apply_llama31_rope_pos_ids", FIC_SLOT_APPLY_LLAMA31_ROPE_POS_IDS, 1, 1},
};

static fic_status rope_call(fic_runtime *rt, int which, const fic_rope_params *params, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_rope_params p;
  FIC_CHECK(fic_rope_params_init(&p));
  const char *init = k_rope_calls[which].llama31 ? "fic_llama31_rope_params_init" : "fic_rope_params_init";
  FIC_CHECK(fic__load_params(params, &p, sizeof p, "params", init));
  rope_args a;
  int pos_ids = k_rope_calls[which].pos_ids, llama31 = k_rope_calls[which].llama31;
  FIC_CHECK(check_rope(&a, &p, pos_ids, llama31, k_rope_calls[which].call));
  if (a.q.t.shape[0] == 0 || (!pos_ids && a.i1.t.shape[0] == 0)) return FIC_OK;
  const struct fic_function *fn;
  FIC_CHECK(
      fic__fixed_kernel_function(rt, k_rope_calls[which].slot, FIC__MOD_ROPE, k_rope_calls[which].name, stream, &fn));
  fic_any args[13];
  int32_t n = rope_args_fill(args, &a, &p, pos_ids, llama31);
  return fic__call(fn, args, n, a.q.t.device.device_id, stream, NULL);
}

fic_status fic_apply_rope(fic_runtime *rt, const fic_rope_params *params, void *stream) {
  return rope_call(rt, 0, params, stream);
}

fic_status fic_apply_rope_pos_ids(fic_runtime *rt, const fic_rope_params *params, void *stream) {
  return rope_call(rt, 1, params, stream);
}

fic_status fic_apply_llama31_rope(fic_runtime *rt, const fic_rope_params *params, void *stream) {
  return rope_call(rt, 2, params, stream);
}

fic_status fic_apply_llama31_rope_pos_ids(fic_runtime *rt, const fic_rope_params *params, void *stream) {
  return rope_call(rt, 3, params, stream);
}

/* cos_sin_cache f32 [max_pos, rotary_dim], contiguous, float4-aligned. */
static fic_status check_cache(rope_args *a, const fic_tensor *t, int64_t layout) {
  static const fic_dtype f32[] = {FIC_DT_F32};
  FIC_CHECK(fic__vt_init(&a->cache, t, "cos_sin_cache", 2, 2));
  FIC_CHECK(fic__vt_dtype(&a->cache, f32, 1));
  FIC_CHECK(fic__vt_same_device(&a->cache, &a->q));
  FIC_CHECK(fic__vt_contiguous(&a->cache));
  FIC_CHECK(fic__vt_aligned(&a->cache, 16, "the kernel's float4 loads"));
  a->rotary_dim = a->cache.t.shape[1];
  return check_rotary_dim("cos_sin_cache", a->rotary_dim, layout, &a->q);
}

fic_status fic_apply_rope_pos_ids_cos_sin_cache(fic_runtime *rt, const fic_tensor *q, const fic_tensor *k,
                                                const fic_tensor *q_rope, const fic_tensor *k_rope,
                                                const fic_tensor *cos_sin_cache, const fic_tensor *pos_ids,
                                                fic_rope_layout layout, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  FIC_CHECK(check_layout((int64_t)layout));
  rope_args a;
  FIC_CHECK(check_heads(&a, q, k, q_rope, k_rope));
  FIC_CHECK(check_cache(&a, cos_sin_cache, (int64_t)layout));
  FIC_CHECK(check_index(&a.i0, pos_ids, "pos_ids", &a.q, NULL));
  FIC_CHECK(fic__vt_dim(&a.i0, 0, a.q.t.shape[0], "tokens, q.shape[0]"));
  if (a.q.t.shape[0] == 0) return FIC_OK;
  if (a.cache.t.shape[0] == 0)
    return fic__fail_arg("cos_sin_cache", "cos_sin_cache has no positions, but %lld tokens are to be rotated",
                         (long long)a.q.t.shape[0]);
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, FIC_SLOT_APPLY_ROPE_POS_IDS_COS_SIN_CACHE, FIC__MOD_ROPE,
                                       "apply_rope_pos_ids_cos_sin_cache", stream, &fn));
  fic_any args[7] = {fic__any_ptr_tensor(&a.q.t),
                     fic__any_ptr_tensor(&a.k.t),
                     fic__any_ptr_tensor(&a.q_rope.t),
                     fic__any_ptr_tensor(&a.k_rope.t),
                     fic__any_ptr_tensor(&a.cache.t),
                     fic__any_ptr_tensor(&a.i0.t),
                     fic__any_bool(layout == FIC_ROPE_LAYOUT_INTERLEAVED)};
  return fic__call(fn, args, 7, a.q.t.device.device_id, stream, NULL);
}
