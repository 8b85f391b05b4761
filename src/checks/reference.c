/* SPDX-License-Identifier: Apache-2.0 */
/* Float64 references and numeric helpers (see reference.h). Written for
 * clarity, not speed: the GPU tests keep their problem sizes such that these
 * loops take well under a second. */
#include "checks/reference.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ RNG */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void ref_rng_seed(ref_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&seed);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t ref_rng_next(ref_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double ref_rng_uniform(ref_rng *r) { return (double)(ref_rng_next(r) >> 11) * 0x1.0p-53; }

double ref_rng_normal(ref_rng *r) {
  /* Box-Muller; 1 - u keeps log() away from 0. */
  double u = 1.0 - ref_rng_uniform(r), v = ref_rng_uniform(r);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* ---------------------------------------------------------- conversions */

static uint32_t float_bits(float f) {
  uint32_t x;
  memcpy(&x, &f, sizeof x);
  return x;
}

static float bits_float(uint32_t x) {
  float f;
  memcpy(&f, &x, sizeof f);
  return f;
}

uint16_t ref_f16_from_float(float f) {
  uint32_t x = float_bits(f), sign = (x >> 16) & 0x8000u, a = x & 0x7fffffffu;
  if (a >= 0x7f800000u) return (uint16_t)(sign | (a > 0x7f800000u ? 0x7e00u : 0x7c00u));
  if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* >= 65520 rounds to inf */
  if (a < 0x38800000u) {                                   /* below 2^-14: subnormal */
    /* a * 2^24 is exact in float; rint rounds to nearest even. */
    return (uint16_t)(sign | (uint32_t)lrintf(bits_float(a) * 16777216.0f));
  }
  uint32_t h = ((((a >> 23) - 127 + 15) << 10) | ((a & 0x7fffffu) >> 13));
  uint32_t rem = a & 0x1fffu;
  if (rem > 0x1000u || (rem == 0x1000u && (h & 1u))) h++;
  return (uint16_t)(sign | h);
}

float ref_f16_to_float(uint16_t h) {
  uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
  if (e == 0) {
    float v = (float)m * 0x1.0p-24f;
    return sign ? -v : v;
  }
  if (e == 31) return bits_float(sign | 0x7f800000u | (m << 13));
  return bits_float(sign | ((e - 15 + 127) << 23) | (m << 13));
}

uint16_t ref_bf16_from_float(float f) {
  uint32_t x = float_bits(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((x >> 16) | 0x40u); /* quiet NaN */
  x += 0x7fffu + ((x >> 16) & 1u);
  return (uint16_t)(x >> 16);
}

float ref_bf16_to_float(uint16_t h) { return bits_float((uint32_t)h << 16); }

double ref_fp8_e4m3fn_to_double(uint8_t b) {
  int sign = b >> 7, e = (b >> 3) & 0xf, m = b & 7;
  double v;
  if (e == 15 && m == 7) return NAN; /* e4m3fn has no inf */
  if (e == 0)
    v = ldexp(m / 8.0, -6);
  else
    v = ldexp(1.0 + m / 8.0, e - 7);
  return sign ? -v : v;
}

double ref_fp8_e5m2_to_double(uint8_t b) {
  int sign = b >> 7, e = (b >> 2) & 0x1f, m = b & 3;
  double v;
  if (e == 31)
    v = m ? NAN : INFINITY;
  else if (e == 0)
    v = ldexp(m / 4.0, -14);
  else
    v = ldexp(1.0 + m / 4.0, e - 15);
  return sign ? -v : v;
}

uint8_t ref_fp8_from_double(double x, int e5m2) {
  if (isnan(x)) return 0x7f; /* a NaN in both formats */
  uint8_t best = 0;
  double best_d = INFINITY;
  for (int b = 0; b < 256; b++) {
    double v = e5m2 ? ref_fp8_e5m2_to_double((uint8_t)b) : ref_fp8_e4m3fn_to_double((uint8_t)b);
    if (!isfinite(v) || (signbit(v) != signbit(x) && v != 0)) continue;
    double d = fabs(v - x);
    if (d < best_d || (d == best_d && (b & 1) == 0 && (best & 1) == 1)) best = (uint8_t)b, best_d = d;
  }
  return best; /* beyond the largest finite value: the largest finite value (saturation) */
}

double ref_fp8_ulp(double x, int e5m2) {
  int mant_bits = e5m2 ? 2 : 3, min_exp = e5m2 ? -14 : -6;
  double a = fabs(x);
  int e = a > 0 ? ilogb(a) : min_exp;
  if (e < min_exp) e = min_exp;
  return ldexp(1.0, e - mant_bits);
}

const char *ref_half_name(ref_half kind) { return kind == REF_BF16 ? "bf16" : "f16"; }

uint16_t ref_half_from_double(ref_half kind, double x) {
  /* Via float: the double rounding this allows differs from a direct
   * rounding only on exact float ties, which the tests never produce. */
  return kind == REF_BF16 ? ref_bf16_from_float((float)x) : ref_f16_from_float((float)x);
}

double ref_half_to_double(ref_half kind, uint16_t h) {
  return kind == REF_BF16 ? ref_bf16_to_float(h) : ref_f16_to_float(h);
}

void ref_half_decode(ref_half kind, const uint16_t *in, double *out, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = ref_half_to_double(kind, in[i]);
}

void ref_half_random(ref_rng *r, ref_half kind, uint16_t *bits, double *exact, size_t n, double mean, double stddev) {
  for (size_t i = 0; i < n; i++) {
    bits[i] = ref_half_from_double(kind, mean + stddev * ref_rng_normal(r));
    if (exact) exact[i] = ref_half_to_double(kind, bits[i]);
  }
}

void ref_uniform(ref_rng *r, double *out, size_t n, double lo, double hi) {
  for (size_t i = 0; i < n; i++) out[i] = lo + (hi - lo) * ref_rng_uniform(r);
}

/* --------------------------------------------------------------- errors */

ref_err ref_compare(const double *got, const double *want, size_t n) {
  ref_err e = {0, 0, 0, 0};
  double num = 0, den = 0;
  for (size_t i = 0; i < n; i++) {
    if (!isfinite(got[i])) {
      e.nonfinite++;
      continue;
    }
    double d = fabs(got[i] - want[i]);
    if (d > e.max_abs) {
      e.max_abs = d;
      e.worst = i;
    }
    num += d * d;
    den += want[i] * want[i];
  }
  e.rel_l2 = den > 0 ? sqrt(num / den) : sqrt(num);
  if (e.nonfinite) e.rel_l2 = INFINITY;
  return e;
}

size_t ref_count_outside(const double *got, const double *want, size_t n, double atol, double rtol) {
  size_t bad = 0;
  for (size_t i = 0; i < n; i++)
    if (!(fabs(got[i] - want[i]) <= atol + rtol * fabs(want[i]))) bad++;
  return bad;
}

/* ---------------------------------------------------------------- norms */

void ref_rmsnorm(const double *in, const double *w, double *out, size_t rows, size_t hidden, double eps,
                 double weight_bias) {
  for (size_t r = 0; r < rows; r++) {
    const double *x = in + r * hidden;
    double ss = 0;
    for (size_t i = 0; i < hidden; i++) ss += x[i] * x[i];
    double inv = 1.0 / sqrt(ss / (double)hidden + eps);
    for (size_t i = 0; i < hidden; i++) out[r * hidden + i] = x[i] * inv * (weight_bias + w[i]);
  }
}

void ref_fused_add_rmsnorm(const double *in, const double *res, const double *w, double *out, double *res_out,
                           size_t rows, size_t hidden, double eps, double weight_bias) {
  for (size_t r = 0; r < rows; r++) {
    double ss = 0;
    for (size_t i = 0; i < hidden; i++) {
      double x = in[r * hidden + i] + res[r * hidden + i];
      res_out[r * hidden + i] = x;
      ss += x * x;
    }
    double inv = 1.0 / sqrt(ss / (double)hidden + eps);
    for (size_t i = 0; i < hidden; i++) out[r * hidden + i] = res_out[r * hidden + i] * inv * (weight_bias + w[i]);
  }
}

void ref_layernorm(const double *in, const double *gamma, const double *beta, double *out, size_t rows, size_t hidden,
                   double eps) {
  for (size_t r = 0; r < rows; r++) {
    const double *x = in + r * hidden;
    double mean = 0, var = 0;
    for (size_t i = 0; i < hidden; i++) mean += x[i];
    mean /= (double)hidden;
    for (size_t i = 0; i < hidden; i++) var += (x[i] - mean) * (x[i] - mean);
    var /= (double)hidden;
    double inv = 1.0 / sqrt(var + eps);
    for (size_t i = 0; i < hidden; i++) out[r * hidden + i] = (x[i] - mean) * inv * gamma[i] + beta[i];
  }
}

void ref_quant_clamp(const double *x, double *out, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) {
    double y = x[i] / scale;
    out[i] = y > 448.0 ? 448.0 : (y < -448.0 ? -448.0 : y);
  }
}

/* ------------------------------------------------------ gated delta rule */

void ref_l2_normalize(double *x, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; r++) {
    double ss = 0;
    for (size_t i = 0; i < d; i++) ss += x[r * d + i] * x[r * d + i];
    double inv = ss > 0 ? 1.0 / sqrt(ss) : 0;
    for (size_t i = 0; i < d; i++) x[r * d + i] *= inv;
  }
}

int ref_gdn_prefill(const ref_gdn *p, double *out, double *state) {
  size_t hq = p->hq, hk = p->hk, hv = p->hv, d = p->d;
  if (!hq || !hk || !hv || !d) return -1;
  int gqa = hq >= hv;
  if (gqa ? (hk != hv || hq % hv) : (hk != hq || hv % hq)) return -1;
  size_t heads = gqa ? hq : hv, ratio = gqa ? hq / hv : hv / hq;
  double scale = p->scale != 0 ? p->scale : 1.0 / sqrt((double)d);
  if (p->cu_seqlens[0] != 0) return -1;
  for (size_t n = 0; n < p->num_seqs; n++)
    if (p->cu_seqlens[n + 1] < p->cu_seqlens[n]) return -1;

  double *u = malloc(d * sizeof *u);
  if (!u) return -1;
  for (size_t n = 0; n < p->num_seqs; n++) {
    for (size_t h = 0; h < heads; h++) {
      size_t qh = gqa ? h : h / ratio, kh = h / ratio, vh = gqa ? h / ratio : h;
      double *s = state + (n * heads + h) * d * d; /* s[v * d + k] */
      if (p->input_state)
        memcpy(s, p->input_state + (n * heads + h) * d * d, d * d * sizeof *s);
      else
        memset(s, 0, d * d * sizeof *s);
      for (int64_t t = p->cu_seqlens[n]; t < p->cu_seqlens[n + 1]; t++) {
        const double *qv = p->q + ((size_t)t * hq + qh) * d, *kv = p->k + ((size_t)t * hk + kh) * d,
                     *vv = p->v + ((size_t)t * hv + vh) * d;
        double a = p->alpha ? p->alpha[(size_t)t * heads + h] : 1.0;
        double b = p->beta ? p->beta[(size_t)t * heads + h] : 1.0;
        for (size_t i = 0; i < d * d; i++) s[i] *= a;
        for (size_t vi = 0; vi < d; vi++) {
          double sk = 0;
          for (size_t ki = 0; ki < d; ki++) sk += s[vi * d + ki] * kv[ki];
          u[vi] = b * (vv[vi] - sk);
        }
        double *o = out + ((size_t)t * heads + h) * d;
        for (size_t vi = 0; vi < d; vi++) {
          double sq = 0;
          for (size_t ki = 0; ki < d; ki++) {
            s[vi * d + ki] += u[vi] * kv[ki];
            sq += s[vi * d + ki] * qv[ki];
          }
          o[vi] = scale * sq;
        }
      }
    }
  }
  free(u);
  return 0;
}

void ref_append_paged_kv(const ref_paged_kv *c, double *cache, const double *append, const int32_t *batch_indices,
                         const int32_t *positions, size_t nnz) {
  size_t H = c->num_heads, D = c->head_dim, ps = c->page_size;
  size_t stride_page = ps * H * D, stride_n = c->hnd ? D : H * D, stride_h = c->hnd ? ps * D : D;
  for (size_t i = 0; i < nnz; i++) {
    size_t slot = (size_t)c->indptr[batch_indices[i]] * ps + (size_t)positions[i];
    size_t page = (size_t)c->indices[slot / ps], entry = slot % ps;
    for (size_t h = 0; h < H; h++)
      for (size_t d = 0; d < D; d++)
        cache[page * stride_page + h * stride_h + entry * stride_n + d] = append[(i * H + h) * D + d];
  }
}

/* One merge of n states whose v rows are `v_stride` apart and s `s_stride` apart. */
static void merge_n(const double *v, const double *s, size_t n, size_t v_stride, size_t s_stride, size_t dim,
                    double *v_out, double *s_out) {
  double m = -INFINITY, sum = 0;
  for (size_t k = 0; k < n; k++) m = fmax(m, s[k * s_stride]);
  for (size_t d = 0; d < dim; d++) v_out[d] = 0;
  for (size_t k = 0; k < n; k++) {
    double w = isinf(m) ? 0 : exp2(s[k * s_stride] - m);
    sum += w;
    for (size_t d = 0; d < dim; d++) v_out[d] += w * v[k * v_stride + d];
  }
  for (size_t d = 0; d < dim; d++) v_out[d] = sum > 0 ? v_out[d] / sum : 0;
  *s_out = sum > 0 ? log2(sum) + m : -INFINITY;
}

void ref_merge_state(const double *v_a, const double *s_a, const double *v_b, const double *s_b, double *v_out,
                     double *s_out, size_t seq, size_t heads, size_t dim) {
  for (size_t r = 0; r < seq * heads; r++) {
    double m = fmax(s_a[r], s_b[r]), wa = exp2(s_a[r] - m), wb = exp2(s_b[r] - m);
    for (size_t d = 0; d < dim; d++) v_out[r * dim + d] = (wa * v_a[r * dim + d] + wb * v_b[r * dim + d]) / (wa + wb);
    s_out[r] = log2(wa + wb) + m;
  }
}

void ref_merge_states(const double *v, const double *s, size_t seq, size_t n, size_t heads, size_t dim, double *v_out,
                      double *s_out) {
  for (size_t p = 0; p < seq; p++)
    for (size_t h = 0; h < heads; h++)
      merge_n(v + (p * n * heads + h) * dim, s + p * n * heads + h, n, heads * dim, heads, dim,
              v_out + (p * heads + h) * dim, s_out + p * heads + h);
}

/* ---- attention ---- */

static int attn_visible(const ref_attn *p, size_t b, int64_t qo_len, int64_t kv_len, int64_t i, int64_t j) {
  if (p->mask && !p->mask[b][i * kv_len + j]) return 0;
  if (p->causal && j + qo_len > kv_len + i) return 0;
  if (p->window_left >= 0 && j + qo_len + p->window_left < kv_len + i) return 0;
  return 1;
}

/* One query row of one head: out[d_vo], *lse. Returns -1 if it sees nothing. */
static int attn_row(const ref_attn *p, size_t b, int64_t qo_len, int64_t i, const double *q, size_t kvh, double *out,
                    double *lse, double *scores) {
  int64_t kv_len = p->kv_len[b];
  double scale = p->sm_scale > 0 ? p->sm_scale : 1.0 / sqrt((double)p->d_qk), m = -INFINITY;
  for (int64_t j = 0; j < kv_len; j++) {
    scores[j] = -INFINITY;
    if (!attn_visible(p, b, qo_len, kv_len, i, j)) continue;
    const double *k = p->k[b] + ((size_t)j * p->hkv + kvh) * p->d_qk;
    double s = 0;
    for (size_t d = 0; d < p->d_qk; d++) s += q[d] * k[d];
    s *= scale;
    if (p->soft_cap > 0) s = p->soft_cap * tanh(s / p->soft_cap);
    scores[j] = s;
    if (s > m) m = s;
  }
  if (m == -INFINITY) return -1;
  double sum = 0;
  for (size_t d = 0; d < p->d_vo; d++) out[d] = 0;
  for (int64_t j = 0; j < kv_len; j++) {
    if (scores[j] == -INFINITY) continue;
    double w = exp(scores[j] - m);
    const double *v = p->v[b] + ((size_t)j * p->hkv + kvh) * p->d_vo;
    sum += w;
    for (size_t d = 0; d < p->d_vo; d++) out[d] += w * v[d];
  }
  for (size_t d = 0; d < p->d_vo; d++) out[d] /= sum;
  if (lse) *lse = (m + log(sum)) / log(2.0);
  return 0;
}

int ref_attention(const ref_attn *p, double *out, double *lse) {
  if (!p->hkv || p->hq % p->hkv) return -1;
  int64_t max_kv = 0;
  for (size_t b = 0; b < p->batch; b++) {
    if (p->qo_indptr[b + 1] < p->qo_indptr[b]) return -1;
    if (p->kv_len[b] > max_kv) max_kv = p->kv_len[b];
  }
  double *scores = malloc((size_t)(max_kv > 0 ? max_kv : 1) * sizeof *scores);
  if (!scores) return -1;
  size_t group = p->hq / p->hkv;
  int rc = 0;
  for (size_t b = 0; b < p->batch && rc == 0; b++) {
    int64_t qo_len = p->qo_indptr[b + 1] - p->qo_indptr[b];
    for (int64_t i = 0; i < qo_len && rc == 0; i++) {
      size_t row = (size_t)(p->qo_indptr[b] + i);
      for (size_t h = 0; h < p->hq && rc == 0; h++)
        rc = attn_row(p, b, qo_len, i, p->q + (row * p->hq + h) * p->d_qk, h / group, out + (row * p->hq + h) * p->d_vo,
                      lse ? lse + row * p->hq + h : NULL, scores);
    }
  }
  free(scores);
  return rc;
}

/* ---- RoPE */

void ref_rope_freqs(const ref_rope_freq_params *p, size_t rotary_dim, double *freq) {
  const double pi = 3.14159265358979323846;
  for (size_t j = 0; j < rotary_dim / 2; j++) {
    double w = pow(p->theta, -2.0 * (double)j / (double)rotary_dim), s = 0.0;
    if (p->llama31) {
      double lo = p->low_freq_factor, hi = p->high_freq_factor;
      s = p->old_context_length * w / (2 * pi * (hi - lo)) - lo / (hi - lo);
      s = s < 0 ? 0 : s > 1 ? 1 : s;
    }
    freq[j] = (1 - s) * w / p->scale + s * w;
  }
}

/* One head: pairs (a, b) at element indices (ia, ib) of pair j. */
static void rope_head(const double *x, double *out, size_t head_dim, size_t rotary_dim, int interleave,
                      const double *cs, const double *sn) {
  memcpy(out, x, head_dim * sizeof *out);
  size_t half = rotary_dim / 2;
  for (size_t j = 0; j < half; j++) {
    size_t ia = interleave ? 2 * j : j, ib = interleave ? 2 * j + 1 : j + half;
    out[ia] = x[ia] * cs[j] - x[ib] * sn[j];
    out[ib] = x[ib] * cs[j] + x[ia] * sn[j];
  }
}

void ref_rope(const double *x, double *out, size_t rows, size_t heads, size_t head_dim, size_t rotary_dim,
              int interleave, const int64_t *pos, const double *freq, const double *cos_sin) {
  size_t half = rotary_dim / 2;
  double *cs = malloc((half + 1) * 2 * sizeof *cs);
  if (!cs) return;
  double *sn = cs + half + 1;
  for (size_t r = 0; r < rows; r++) {
    for (size_t j = 0; j < half; j++) {
      if (cos_sin) {
        cs[j] = cos_sin[(size_t)pos[r] * rotary_dim + j];
        sn[j] = cos_sin[(size_t)pos[r] * rotary_dim + half + j];
      } else {
        cs[j] = cos((double)pos[r] * freq[j]);
        sn[j] = sin((double)pos[r] * freq[j]);
      }
    }
    for (size_t h = 0; h < heads; h++) {
      size_t off = (r * heads + h) * head_dim;
      rope_head(x + off, out + off, head_dim, rotary_dim, interleave, cs, sn);
    }
  }
  free(cs);
}

/* ---- Gated activations */

double ref_act_value(ref_act act, double x) {
  switch (act) {
    case REF_ACT_SILU:
      return x / (1 + exp(-x));
    case REF_ACT_GELU:
      return 0.5 * x * (1 + erf(x / sqrt(2.0)));
    default:
      return 0.5 * x * (1 + tanh(sqrt(2.0 / 3.14159265358979323846) * (x + 0.044715 * x * x * x)));
  }
}

void ref_act_and_mul(ref_act act, const double *in, double *out, size_t rows, size_t d) {
  for (size_t r = 0; r < rows; r++)
    for (size_t i = 0; i < d; i++) out[r * d + i] = ref_act_value(act, in[r * 2 * d + i]) * in[r * 2 * d + d + i];
}

/* ---- Bit packing */

void ref_packbits(const uint8_t *x, size_t n, int little, uint8_t *out) {
  for (size_t i = 0; i < (n + 7) / 8; i++) {
    unsigned byte = 0;
    for (size_t b = 0; b < 8 && 8 * i + b < n; b++)
      if (x[8 * i + b]) byte |= 1u << (little ? b : 7 - b);
    out[i] = (uint8_t)byte;
  }
}
