/* SPDX-License-Identifier: Apache-2.0 */
/* sampling.so of FlashInfer 0.6.3 (csrc/sampling.cu): the seven calls that
 * draw one id per row, and the Philox generator.
 *
 * What the checks add to the wrapper's (sampling.h): the probabilities and
 * the per-row arrays are read as float32 (top_k arrays as the id type)
 * whatever their dtype; the output's length is the batch, never compared
 * with the probabilities' rows (without indices, extra output rows read past
 * the probabilities); the scalars k, p and min_p are used as given. */
#include "kernels/sampling.h"

#include <string.h>

static const fic_dtype k_id_types[] = {FIC_DT_I32, FIC_DT_I64};

fic_status fic_philox_init(fic_philox *gen, uint64_t seed) {
  if (!gen) return fic__fail_arg("gen", "gen must not be NULL");
  gen->seed = seed, gen->offset = 0;
  return FIC_OK;
}

fic_status fic_philox_next(fic_philox *gen, uint64_t increment, uint64_t *seed, uint64_t *offset) {
  if (!gen) return fic__fail_arg("gen", "gen must not be NULL");
  if (!seed || !offset) return fic__fail_arg(seed ? "offset" : "seed", "seed and offset must not be NULL");
  if (increment > UINT64_MAX - 3) return fic__fail_arg("increment", "increment must be below 2^64 - 3");
  /* sampling.py get_seed_and_offset: offset += (increment + 3) // 4 * 4, return the new offset. */
  gen->offset += (increment + 3) / 4 * 4;
  *seed = gen->seed, *offset = gen->offset;
  return FIC_OK;
}

fic_status fic_sampling_params_init(fic_sampling_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  params->top_p = 1.0;
  params->deterministic = 1;
  params->filter_order = FIC_FILTER_TOP_K_FIRST;
  return FIC_OK;
}

_Static_assert(sizeof(fic_sampling_params) % 8 == 0, "fields are 8 bytes wide");

/* What each call reads, validated. */
typedef struct smp_args {
  fic_sampling_params p;
  fic_vt probs, output, indices, k_arr, p_arr, minp_arr;
} smp_args;

/* output [batch_out] int32/int64; indices [batch_out] of its dtype, or batch_out == rows. */
static fic_status check_output(smp_args *a) {
  FIC_CHECK(fic__vt_init(&a->output, a->p.output, "output", 1, 1));
  FIC_CHECK(fic__vt_dtype(&a->output, k_id_types, 2));
  FIC_CHECK(fic__vt_same_device(&a->output, &a->probs));
  FIC_CHECK(fic__vt_contiguous(&a->output));
  if (!a->p.indices) return fic__vt_dim(&a->output, 0, a->probs.t.shape[0], "rows of probs");
  return fic__smp_vec(&a->indices, a->p.indices, "indices", a->output.t.dtype, a->output.t.shape[0], "length of output",
                      &a->probs);
}

/* params, probs and output; `logits` names the rows "logits" in errors. */
static fic_status check_common(smp_args *a, const fic_sampling_params *in, const char *rows_name) {
  FIC_CHECK(fic_sampling_params_init(&a->p));
  FIC_CHECK(fic__load_params(in, &a->p, sizeof a->p, "params", "fic_sampling_params_init"));
  if (a->p.deterministic != 0 && a->p.deterministic != 1)
    return fic__fail_arg("deterministic", "deterministic must be 0 or 1, got %lld", (long long)a->p.deterministic);
  FIC_CHECK(fic__smp_rows(&a->probs, a->p.probs, rows_name, fic__smp_f32, 1, NULL));
  return check_output(a);
}

/* A per-row array [rows] of `dtype`; with indices, each output row must have one. */
static fic_status check_arr(smp_args *a, fic_vt *vt, const fic_tensor *t, const char *name, fic_dtype dtype) {
  FIC_CHECK(fic__smp_vec(vt, t, name, dtype, a->probs.t.shape[0], "rows of probs", &a->probs));
  if (a->output.t.shape[0] > a->probs.t.shape[0])
    return fic__fail_arg(name, "%s has %lld entries but output has %lld rows: the kernel reads one per output row",
                         name, (long long)a->probs.t.shape[0], (long long)a->output.t.shape[0]);
  return FIC_OK;
}

static fic_status check_top_k(smp_args *a, fic_dtype arr_dtype) {
  if (a->p.top_k_arr) return check_arr(a, &a->k_arr, a->p.top_k_arr, "top_k_arr", arr_dtype);
  return fic__smp_top_k("top_k", a->p.top_k, a->probs.t.shape[1]);
}

static fic_status check_top_p(smp_args *a) {
  static const fic_dtype f32 = FIC_DT_F32;
  if (a->p.top_p_arr) return check_arr(a, &a->p_arr, a->p.top_p_arr, "top_p_arr", f32);
  return fic__smp_top_p("top_p", a->p.top_p);
}

/* The arguments every sampling export starts with: probs, output, indices. */
static void head_args(const smp_args *a, fic_any *args) {
  args[0] = fic__any_ptr_tensor(&a->probs.t);
  args[1] = fic__any_ptr_tensor(&a->output.t);
  args[2] = fic__smp_opt(&a->indices, a->p.indices != NULL);
}

/* ... and end with: deterministic, philox_seed, philox_offset. */
static void tail_args(const smp_args *a, fic_any *args) {
  args[0] = fic__any_bool((int)a->p.deterministic);
  args[1] = fic__any_int((int64_t)a->p.philox_seed);
  args[2] = fic__any_int((int64_t)a->p.philox_offset);
}

/* sampling_from_probs / _from_logits: (rows, output, indices, det, seed, offset). */
static fic_status plain_sampling(fic_runtime *rt, const fic_sampling_params *params, int logits, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  smp_args a;
  FIC_CHECK(check_common(&a, params, logits ? "logits" : "probs"));
  if (a.output.numel == 0) return FIC_OK;
  fic_any args[6];
  head_args(&a, args);
  tail_args(&a, args + 3);
  return fic__smp_call(rt, logits ? FIC_SLOT_SAMPLING_FROM_LOGITS : FIC_SLOT_SAMPLING_FROM_PROBS, 0,
                       logits ? "sampling_from_logits" : "sampling_from_probs", args, 6, &a.probs, stream);
}

fic_status fic_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream) {
  return plain_sampling(rt, params, 0, stream);
}

fic_status fic_sampling_from_logits(fic_runtime *rt, const fic_sampling_params *params, void *stream) {
  return plain_sampling(rt, params, 1, stream);
}

/* The 8-argument exports: (probs, output, indices, arr, val, det, seed, offset). */
static fic_status call_filtered(fic_runtime *rt, const smp_args *a, const fic_vt *arr, int has_arr, fic_any val,
                                int slot, const char *name, void *stream) {
  if (a->output.numel == 0) return FIC_OK;
  fic_any args[8];
  head_args(a, args);
  args[3] = fic__smp_opt(arr, has_arr);
  args[4] = val;
  tail_args(a, args + 5);
  return fic__smp_call(rt, slot, 0, name, args, 8, &a->probs, stream);
}

fic_status fic_top_p_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  smp_args a;
  FIC_CHECK(check_common(&a, params, "probs"));
  FIC_CHECK(check_top_p(&a));
  return call_filtered(rt, &a, &a.p_arr, a.p.top_p_arr != NULL, fic__any_float(a.p.top_p_arr ? 0 : a.p.top_p),
                       FIC_SLOT_TOP_P_SAMPLING, "top_p_sampling_from_probs", stream);
}

fic_status fic_top_k_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  smp_args a;
  FIC_CHECK(check_common(&a, params, "probs"));
  /* TopKSamplingFromProbKernel reads top_k_arr as the id type (sampling.cuh). */
  FIC_CHECK(check_top_k(&a, a.output.t.dtype));
  return call_filtered(rt, &a, &a.k_arr, a.p.top_k_arr != NULL, fic__any_int(a.p.top_k_arr ? 0 : a.p.top_k),
                       FIC_SLOT_TOP_K_SAMPLING, "top_k_sampling_from_probs", stream);
}

fic_status fic_min_p_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream) {
  static const fic_dtype f32 = FIC_DT_F32;
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  smp_args a;
  FIC_CHECK(check_common(&a, params, "probs"));
  if (a.p.min_p_arr)
    FIC_CHECK(check_arr(&a, &a.minp_arr, a.p.min_p_arr, "min_p_arr", f32));
  else
    FIC_CHECK(fic__smp_min_p("min_p", a.p.min_p));
  return call_filtered(rt, &a, &a.minp_arr, a.p.min_p_arr != NULL, fic__any_float(a.p.min_p_arr ? 0 : a.p.min_p),
                       FIC_SLOT_MIN_P_SAMPLING, "min_p_sampling_from_probs", stream);
}

/* The fused kernel: top_k_val crosses as a double (sic, csrc/sampling.cu). */
static fic_status joint_top_k_top_p(fic_runtime *rt, smp_args *a, void *stream) {
  FIC_CHECK(check_top_k(a, a->output.t.dtype));
  FIC_CHECK(check_top_p(a));
  if (a->output.numel == 0) return FIC_OK;
  fic_any args[10];
  head_args(a, args);
  args[3] = fic__smp_opt(&a->k_arr, a->p.top_k_arr != NULL);
  args[4] = fic__any_float(a->p.top_k_arr ? 0 : (double)a->p.top_k);
  args[5] = fic__smp_opt(&a->p_arr, a->p.top_p_arr != NULL);
  args[6] = fic__any_float(a->p.top_p_arr ? 0 : a->p.top_p);
  tail_args(a, args + 7);
  return fic__smp_call(rt, FIC_SLOT_TOP_K_TOP_P_SAMPLING, 0, "top_k_top_p_sampling_from_probs", args, 10, &a->probs,
                       stream);
}

/* FlashInfer's default (sampling.py, filter_apply_order="top_k_first"):
 * top_k_renorm_probs into renorm_buffer, then top-p sampling from it. */
static fic_status top_k_first(fic_runtime *rt, smp_args *a, void *stream) {
  static const fic_dtype i32 = FIC_DT_I32;
  fic_vt buf, states;
  FIC_CHECK(check_top_k(a, i32));
  FIC_CHECK(check_top_p(a));
  FIC_CHECK(fic__smp_rows(&buf, a->p.renorm_buffer, "renorm_buffer", fic__smp_f32, 1, &a->probs));
  FIC_CHECK(fic__vt_same_shape(&buf, &a->probs));
  FIC_CHECK(fic__smp_row_states(&states, a->p.row_states, &a->probs));
  if (a->output.numel == 0) return FIC_OK;
  FIC_CHECK(fic_top_k_renorm_probs(rt, &a->probs.t, &buf.t, a->p.top_k_arr ? &a->k_arr.t : NULL, a->p.top_k, &states.t,
                                   stream));
  fic_sampling_params p = a->p;
  p.struct_size = sizeof p;
  p.probs = &buf.t, p.output = &a->output.t, p.indices = a->p.indices ? &a->indices.t : NULL;
  p.top_p_arr = a->p.top_p_arr ? &a->p_arr.t : NULL;
  return fic_top_p_sampling_from_probs(rt, &p, stream);
}

fic_status fic_top_k_top_p_sampling_from_probs(fic_runtime *rt, const fic_sampling_params *params, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  smp_args a;
  FIC_CHECK(check_common(&a, params, "probs"));
  if (a.p.filter_order == FIC_FILTER_JOINT) return joint_top_k_top_p(rt, &a, stream);
  if (a.p.filter_order != FIC_FILTER_TOP_K_FIRST)
    return fic__fail_arg("filter_order",
                         "filter_order must be FIC_FILTER_TOP_K_FIRST (0) or FIC_FILTER_JOINT (1), "
                         "got %lld",
                         (long long)a.p.filter_order);
  return top_k_first(rt, &a, stream);
}
