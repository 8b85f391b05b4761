/* SPDX-License-Identifier: Apache-2.0 */
/* Float64 CPU references for the kernels flashinfer-c wraps, plus what a
 * numeric check needs around them: a seeded RNG, float16 / bfloat16 / fp8
 * conversions and error metrics. Shared by `flashinfer-c run` and the
 * tests; plain C, no CUDA. The references follow FlashInfer 0.6.3's math
 * (include/flashinfer/norm.cuh, tests/gdn/reference_delta_rule.py), not its
 * code. */
#ifndef FIC_CHECKS_REFERENCE_H
#define FIC_CHECKS_REFERENCE_H

#include <stddef.h>
#include <stdint.h>

/* ---- RNG: xoshiro256** seeded through splitmix64 (reproducible everywhere). */
typedef struct ref_rng {
  uint64_t s[4];
} ref_rng;

void ref_rng_seed(ref_rng *r, uint64_t seed);
uint64_t ref_rng_next(ref_rng *r);
double ref_rng_uniform(ref_rng *r); /* [0, 1) */
double ref_rng_normal(ref_rng *r);  /* N(0, 1) */

/* ---- Conversions (round to nearest even, like the CUDA intrinsics). */
uint16_t ref_f16_from_float(float x);
float ref_f16_to_float(uint16_t h);
uint16_t ref_bf16_from_float(float x);
float ref_bf16_to_float(uint16_t h);
double ref_fp8_e4m3fn_to_double(uint8_t b);
double ref_fp8_e5m2_to_double(uint8_t b);
/* The fp8 value nearest x (ties to the even code), saturating at the largest
 * finite value; NaN gives a NaN code. */
uint8_t ref_fp8_from_double(double x, int e5m2);
/* The spacing of fp8 values around |x| (one rounding step). */
double ref_fp8_ulp(double x, int e5m2);

/* 16-bit storage formats of the kernels' half-precision tensors. */
typedef enum ref_half { REF_F16 = 0, REF_BF16 = 1 } ref_half;

const char *ref_half_name(ref_half kind);
uint16_t ref_half_from_double(ref_half kind, double x);
double ref_half_to_double(ref_half kind, uint16_t h);
void ref_half_decode(ref_half kind, const uint16_t *in, double *out, size_t n);
/* Fill `bits` with mean + stddev * N(0,1) rounded to `kind`, and `exact`
 * (may be NULL) with the values those bits hold. */
void ref_half_random(ref_rng *r, ref_half kind, uint16_t *bits, double *exact, size_t n, double mean, double stddev);
/* Uniform in [lo, hi), doubles (for f32 tensors: store as float). */
void ref_uniform(ref_rng *r, double *out, size_t n, double lo, double hi);

/* ---- Error metrics. */
typedef struct ref_err {
  double max_abs;   /* max |got - want| */
  double rel_l2;    /* ||got - want|| / ||want|| (||got - want|| when want is 0) */
  size_t worst;     /* index of max_abs */
  size_t nonfinite; /* count of non-finite `got` */
} ref_err;

ref_err ref_compare(const double *got, const double *want, size_t n);
/* Elements with |got - want| > atol + rtol * |want|. */
size_t ref_count_outside(const double *got, const double *want, size_t n, double atol, double rtol);

/* ---- Norms over `rows` rows of `hidden` elements (row-major, dense). */
/* out = in / sqrt(mean(in^2) + eps) * (weight_bias + w); weight_bias 0 for
 * rmsnorm, 1 for the Gemma variants. */
void ref_rmsnorm(const double *in, const double *w, double *out, size_t rows, size_t hidden, double eps,
                 double weight_bias);
/* x = in + res; res_out = x; out = rmsnorm(x) (either output may alias an input). */
void ref_fused_add_rmsnorm(const double *in, const double *res, const double *w, double *out, double *res_out,
                           size_t rows, size_t hidden, double eps, double weight_bias);
/* out = (in - mean) / sqrt(var + eps) * gamma + beta, population variance. */
void ref_layernorm(const double *in, const double *gamma, const double *beta, double *out, size_t rows, size_t hidden,
                   double eps);
/* The fp8 step of the quant variants: clamp(x / scale, -448, 448), before
 * the final rounding to fp8. */
void ref_quant_clamp(const double *x, double *out, size_t n, double scale);

/* ---- Gated delta rule prefill. Per sequence n, head h, token t (in order):
 *   S = alpha_t * S;  u = beta_t * (v_t - S k_t);  S = S + u k_t^T;
 *   o_t = scale * S q_t
 * with S a [D(v), D(k)] matrix (FlashInfer's state layout [N, H, V, K]),
 * S_0 = input_state or 0, alpha/beta 1 when absent, H = max(Hq, Hv).
 * GQA (Hq >= Hv): head h reads q head h, k/v head h / (Hq/Hv).
 * GVA (Hv > Hq): head h reads v head h, q/k head h / (Hv/Hq). */
typedef struct ref_gdn {
  size_t num_seqs;
  const int64_t *cu_seqlens; /* [num_seqs + 1], 0 .. T */
  size_t hq, hk, hv, d;
  const double *q, *k, *v;    /* [T, Hq|Hk|Hv, D] */
  const double *alpha, *beta; /* [T, H] or NULL */
  const double *input_state;  /* [N, H, D, D] or NULL */
  double scale;               /* 0 means 1 / sqrt(D) */
} ref_gdn;

/* out [T, H, D], state [N, H, D, D]. Returns 0, or -1 if the heads are not
 * a GQA/GVA layout or cu_seqlens is not non-decreasing from 0. */
int ref_gdn_prefill(const ref_gdn *p, double *out, double *state);
/* Normalise each D-vector of x [rows, D] to unit L2 norm (FlashInfer's tests
 * do this to k to keep the recurrence stable). */
void ref_l2_normalize(double *x, size_t rows, size_t d);

/* ---- Paged KV cache append (FlashInfer's page.cuh AppendPagedKVCache): entry
 * i of `append` [nnz, H, D] goes to request b = batch_indices[i] at position
 * p = positions[i]: page indices[indptr[b] + p / page_size], slot p % page_size.
 * `cache` [pages, page_size, H, D] (hnd = 0) or [pages, H, page_size, D]
 * (hnd = 1), dense. */
typedef struct ref_paged_kv {
  size_t num_heads, head_dim, page_size;
  int hnd;
  const int32_t *indices, *indptr;
} ref_paged_kv;
void ref_append_paged_kv(const ref_paged_kv *c, double *cache, const double *append, const int32_t *batch_indices,
                         const int32_t *positions, size_t nnz);

/* ---- Attention states (FlashInfer's cascade.cuh): v [.., H, D] and s [.., H],
 * s the base-2 log-sum-exp. Merged: s = log2(2^s_a + 2^s_b), v = (2^s_a v_a +
 * 2^s_b v_b) / 2^s. */
void ref_merge_state(const double *v_a, const double *s_a, const double *v_b, const double *s_b, double *v_out,
                     double *s_out, size_t seq, size_t heads, size_t dim);
/* n states per position: v [seq, n, H, D], s [seq, n, H] -> [seq, H, D], [seq, H]. */
void ref_merge_states(const double *v, const double *s, size_t seq, size_t n, size_t heads, size_t dim, double *v_out,
                      double *s_out);
/* ---- Attention over a KV sequence (FlashInfer 0.6.3's batch decode and
 * batch prefill; include/flashinfer/attention/variants.cuh for the mask,
 * window and soft cap, state.cuh for the LSE). For sequence b with qo_len
 * query rows and kv_len keys, query row i may see key j when
 *   causal:      j + qo_len <= kv_len + i        (bottom-right aligned)
 *   window_left: j + qo_len + window_left >= kv_len + i   (when >= 0)
 *   mask:        mask[b][i * kv_len + j] != 0          (when given)
 * score = sm_scale * q.k, then cap * tanh(score / cap) when soft_cap > 0;
 * out = softmax(scores) v; lse = log2(sum_j exp(score_j)): BASE 2, as
 * FlashInfer returns it (m + log2(d) with scores scaled by log2(e)).
 * GQA: query head h reads kv head h / (hq / hkv). */
typedef struct ref_attn {
  size_t batch, hq, hkv, d_qk, d_vo;
  const int64_t *qo_indptr; /* [batch + 1] rows of q per sequence */
  const int64_t *kv_len;    /* [batch] keys per sequence */
  const double *q;          /* [qo_indptr[batch], hq, d_qk] */
  const double *const *k;   /* per sequence: [kv_len, hkv, d_qk] */
  const double *const *v;   /* per sequence: [kv_len, hkv, d_vo] */
  double sm_scale;          /* 0 means 1 / sqrt(d_qk) */
  int causal;
  int64_t window_left; /* -1: none */
  double soft_cap;     /* 0: none */
  /* Appended: a custom mask (FlashInfer's MaskMode::kCustom, ANDed with
   * causal and the window), per sequence [qo_len * kv_len] row-major,
   * nonzero = visible; NULL: none. */
  const uint8_t *const *mask;
} ref_attn;

/* out [rows, hq, d_vo]; lse [rows, hq] (may be NULL). Returns 0, or -1 if a
 * row sees no key (FlashInfer's output is then undefined: avoid it), the
 * heads are not grouped or the indptr decreases. */
int ref_attention(const ref_attn *p, double *out, double *lse);

/* ---- RoPE (include/flashinfer/pos_enc.cuh). A head's first rotary_dim
 * elements form rotary_dim/2 pairs: NeoX (interleave 0) pairs j with
 * j + rotary_dim/2, interleaved (1) pairs 2j with 2j+1; pair j at position p
 * turns by the angle p * freq[j] (or reads cos/sin from a cache):
 *   a' = a cos - b sin,  b' = b cos + a sin.
 * The other elements are copied. */
typedef struct ref_rope_freq_params {
  double theta, scale; /* plain: theta^(-2j / rotary_dim) / scale */
  int llama31;         /* Llama 3.1's smooth interpolation between w / scale and w */
  double low_freq_factor, high_freq_factor, old_context_length;
} ref_rope_freq_params;

/* freq[j], j < rotary_dim / 2. Llama 3.1: w = theta^(-2j / rotary_dim),
 * s = clamp(old_context_length * w / (2 pi (high - low)) - low / (high - low), 0, 1),
 * freq = (1 - s) w / scale + s w. */
void ref_rope_freqs(const ref_rope_freq_params *p, size_t rotary_dim, double *freq);
/* x, out [rows, heads, head_dim] dense; pos [rows]; cos/sin per pair from
 * freq (cos_sin NULL) or from cos_sin [*, rotary_dim] (cos at [p][j], sin
 * at [p][rotary_dim/2 + j]). out may not alias x. */
void ref_rope(const double *x, double *out, size_t rows, size_t heads, size_t head_dim, size_t rotary_dim,
              int interleave, const int64_t *pos, const double *freq, const double *cos_sin);

/* ---- Gated activations: out[r][i] = act(in[r][i]) * in[r][d + i], in [rows, 2d]. */
typedef enum ref_act { REF_ACT_SILU, REF_ACT_GELU, REF_ACT_GELU_TANH } ref_act;
double ref_act_value(ref_act act, double x);
void ref_act_and_mul(ref_act act, const double *in, double *out, size_t rows, size_t d);

/* ---- Bit packing: byte i of out holds x[8i .. 8i+7] (non-zero = 1), the
 * first in bit 7 (big) or bit 0 (little); the last byte is zero-padded. */
void ref_packbits(const uint8_t *x, size_t n, int little, uint8_t *out);

#endif
