/* SPDX-License-Identifier: Apache-2.0 */
/* decode_step --check: a float64 host reference of the same computation.
 *
 * Weights come back from the GPU as bf16 and are widened; every value the GPU
 * stores as bf16 is rounded to bf16 here at the same point (the projections'
 * outputs, RoPE'd q and k, the attention output, the residual stream, every
 * normalised output, SiLU-and-mul), and fused_add_rmsnorm normalises the
 * unrounded sum as FlashInfer's kernel does. Everything else is float64.
 *
 * Tolerances. bf16 keeps 8 significant bits: one rounding moves a value by at
 * most 2^-9 of itself, and two computations of the same value that differ
 * slightly before a rounding can land one ulp (2^-8 relative, 2^-7 at worst
 * just above a power of two) apart. So an element may differ by one ulp of
 * itself after the last store (the 2^-7 |ref| term) plus what earlier
 * roundings carried in. Those earlier differences enter each projection as
 * independent relative perturbations of about 2^-9 per element; a dot product
 * over K terms of random sign adds them like a random walk, so the result
 * moves by about 2^-9 of its own rms whatever K is (fp32 accumulation of K <=
 * 14336 terms adds ~sqrt(K) 2^-24, negligible). Layer 0's outputs pass through
 * about six rounded intermediates (qkv, rope, attention, o, gate/up, silu,
 * down): a few 2^-9 of the rms, with maxima over ~10^5 elements at ~4-5
 * sigma, plus one-ulp flips of an intermediate carried into a later store (up
 * to 2^-7 of that intermediate); 0.05 x rms (~13 ulps of an rms-sized value)
 * covers that with margin. The logits see every layer plus the final norm and
 * a 512-term LM head with fp32 output: 0.06 x rms x sqrt(layers). A wrong
 * layout, position, page, head mapping or norm gives errors of the order of
 * the rms itself. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds.h"

static double bf(double x) { /* round to bf16 (nearest even), through float */
  float f = (float)x;
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7F800000u) == 0x7F800000u) return f;
  u += 0x7FFFu + ((u >> 16) & 1u);
  u &= 0xFFFF0000u;
  memcpy(&f, &u, 4);
  return f;
}
static double widen(uint16_t h) {
  uint32_t u = (uint32_t)h << 16;
  float f;
  memcpy(&f, &u, 4);
  return f;
}
static double *fetch(const void *dev, size_t n) {
  uint16_t *h = malloc(n * 2);
  double *d = malloc(n * sizeof *d);
  if (!h || !d) ds_die("out of host memory");
  CK(cudaMemcpy(h, dev, n * 2, cudaMemcpyDeviceToHost));
  for (size_t i = 0; i < n; i++) d[i] = widen(h[i]);
  free(h);
  return d;
}

typedef struct ref_layer {
  double *attn_norm, *w_qkv, *w_o, *mlp_norm, *w_gu, *w_down;
  double *k, *v; /* [batch][max_len][kv_heads * head_dim] */
} ref_layer;

typedef struct ref {
  const ds_config *c;
  double *embed, *final_norm, *lm_head, *inv_freq;
  ref_layer *L;
  int64_t max_len;
} ref;

/* y[out] = W[out, in] x[in], rounded to bf16 (or not). */
static void matvec(const double *W, const double *x, double *y, int64_t in, int64_t out, int round) {
  for (int64_t o = 0; o < out; o++) {
    const double *w = W + o * in;
    double s = 0;
    for (int64_t i = 0; i < in; i++) s += w[i] * x[i];
    y[o] = round ? bf(s) : s;
  }
}
static void rmsnorm(const double *x, const double *w, double *out, int64_t n, double eps) {
  double ss = 0;
  for (int64_t i = 0; i < n; i++) ss += x[i] * x[i];
  double r = 1.0 / sqrt(ss / (double)n + eps);
  for (int64_t i = 0; i < n; i++) out[i] = bf(x[i] * r * w[i]);
}
/* resid += x (stored bf16); out = rmsnorm(the unrounded sum) * w. */
static void fused_add_rmsnorm(const double *x, double *resid, const double *w, double *out, int64_t n, double eps) {
  double *s = malloc((size_t)n * sizeof *s);
  if (!s) ds_die("out of host memory");
  for (int64_t i = 0; i < n; i++) {
    s[i] = x[i] + resid[i];
    resid[i] = bf(s[i]);
  }
  rmsnorm(s, w, out, n, eps);
  free(s);
}
/* NEOX RoPE of one head at position pos, in place, rounded to bf16. */
static void rope(const ref *R, double *x, int64_t pos) {
  const int64_t half = R->c->head_dim / 2;
  for (int64_t j = 0; j < half; j++) {
    double a = (double)pos * R->inv_freq[j], cs = cos(a), sn = sin(a);
    double x0 = x[j], x1 = x[j + half];
    x[j] = bf(x0 * cs - x1 * sn);
    x[j + half] = bf(x1 * cs + x0 * sn);
  }
}

/* One token of sequence `seq` at position `pos` through the model. The KV of
 * positions < pos must be in R. out0_resid/out0_h (may be NULL): the residual
 * and the normalised output after layer 0. logits (may be NULL): [vocab]. */
static void token(ref *R, int64_t seq, int64_t pos, int64_t id, double *out0_resid, double *out0_h, double *logits) {
  const ds_config *c = R->c;
  const int64_t H = c->hidden, I = c->mlp, Hq = c->q_heads, Hk = c->kv_heads, D = c->head_dim;
  const int64_t QKV = (Hq + 2 * Hk) * D, group = Hq / Hk;
  double *resid = malloc((size_t)H * 8), *h = malloc((size_t)H * 8), *qkv = malloc((size_t)QKV * 8);
  double *att = malloc((size_t)Hq * D * 8), *o = malloc((size_t)H * 8), *gu = malloc((size_t)2 * I * 8);
  double *act = malloc((size_t)I * 8), *p = malloc((size_t)(pos + 1) * 8);
  if (!resid || !h || !qkv || !att || !o || !gu || !act || !p) ds_die("out of host memory");
  memcpy(resid, R->embed + id * H, (size_t)H * 8);
  rmsnorm(resid, R->L[0].attn_norm, h, H, c->eps);
  for (int l = 0; l < c->layers; l++) {
    ref_layer *L = &R->L[l];
    matvec(L->w_qkv, h, qkv, H, QKV, 1);
    for (int64_t hd = 0; hd < Hq + Hk; hd++) rope(R, qkv + hd * D, pos);
    double *kd = L->k + (seq * R->max_len + pos) * Hk * D, *vd = L->v + (seq * R->max_len + pos) * Hk * D;
    memcpy(kd, qkv + Hq * D, (size_t)Hk * D * 8);
    memcpy(vd, qkv + (Hq + Hk) * D, (size_t)Hk * D * 8);
    const double scale = 1.0 / sqrt((double)D);
    for (int64_t hq = 0; hq < Hq; hq++) {
      const int64_t kh = hq / group;
      const double *q = qkv + hq * D;
      double mx = -INFINITY, sum = 0;
      for (int64_t t = 0; t <= pos; t++) {
        const double *k = L->k + ((seq * R->max_len + t) * Hk + kh) * D;
        double s = 0;
        for (int64_t e = 0; e < D; e++) s += q[e] * k[e];
        p[t] = s * scale;
        if (p[t] > mx) mx = p[t];
      }
      for (int64_t t = 0; t <= pos; t++) sum += (p[t] = exp(p[t] - mx));
      for (int64_t e = 0; e < D; e++) {
        double a = 0;
        for (int64_t t = 0; t <= pos; t++) a += p[t] * L->v[((seq * R->max_len + t) * Hk + kh) * D + e];
        att[hq * D + e] = bf(a / sum);
      }
    }
    matvec(L->w_o, att, o, Hq * D, H, 1);
    fused_add_rmsnorm(o, resid, L->mlp_norm, o, H, c->eps);
    matvec(L->w_gu, o, gu, H, 2 * I, 1);
    for (int64_t i = 0; i < I; i++) act[i] = bf(gu[i] / (1.0 + exp(-gu[i])) * gu[I + i]);
    matvec(L->w_down, act, o, I, H, 1);
    fused_add_rmsnorm(o, resid, l + 1 < c->layers ? R->L[l + 1].attn_norm : R->final_norm, h, H, c->eps);
    if (l == 0 && out0_resid) memcpy(out0_resid, resid, (size_t)H * 8);
    if (l == 0 && out0_h) memcpy(out0_h, h, (size_t)H * 8);
  }
  if (logits) matvec(R->lm_head, h, logits, H, c->vocab, 0);
  free(resid), free(h), free(qkv), free(att), free(o), free(gu), free(act), free(p);
}

typedef struct err_acc {
  double max_abs, max_rel, sum_sq, worst; /* worst: max |g - r| / (2^-7 |r| + tol * rms) */
  int64_t n;
} err_acc;

static void acc_pass1(err_acc *e, double r) { e->sum_sq += r * r, e->n++; }
static void acc_pass2(err_acc *e, double g, double r, double tol) {
  double rms = sqrt(e->sum_sq / (double)(e->n ? e->n : 1)), d = fabs(g - r);
  if (d > e->max_abs) e->max_abs = d;
  double rel = d / fmax(fabs(r), rms);
  if (rel > e->max_rel) e->max_rel = rel;
  double w = d / (ldexp(fabs(r), -7) + tol * rms);
  if (w > e->worst) e->worst = w;
}
static int report(const char *what, const err_acc *e, double tol) {
  double rms = sqrt(e->sum_sq / (double)(e->n ? e->n : 1));
  int ok = e->worst <= 1.0;
  printf("check %-26s max abs %.3e  max rel %.3e  (ref rms %.3f, bound 2^-7|ref| + %.3f rms; %.2f of it) %s\n", what,
         e->max_abs, e->max_rel, rms, tol, e->worst, ok ? "ok" : "FAIL");
  return ok ? 0 : 1;
}

int ds_reference_check(ds_model *m, const ds_ref_inputs *in) {
  const ds_config *c = m->c;
  const int64_t H = c->hidden, V = c->vocab, B = c->batch, D = c->head_dim, Hk = c->kv_heads;
  ref R;
  memset(&R, 0, sizeof R);
  R.c = c;
  R.max_len = c->context + 3;
  R.embed = fetch(m->embed, (size_t)V * H);
  R.final_norm = fetch(m->final_norm, (size_t)H);
  R.lm_head = fetch(m->lm_head, (size_t)V * H);
  R.L = calloc((size_t)c->layers, sizeof *R.L);
  R.inv_freq = malloc((size_t)D / 2 * sizeof *R.inv_freq);
  if (!R.L || !R.inv_freq) ds_die("out of host memory");
  /* Llama 3.1 frequencies (FlashInfer's formula, docs/api.md). */
  for (int64_t j = 0; j < D / 2; j++) {
    double w = pow(c->rope_theta, -2.0 * (double)j / (double)D);
    double s = c->rope_old_ctx * w / (2 * M_PI * (c->rope_high - c->rope_low)) - 1.0 / (c->rope_high / c->rope_low - 1);
    s = s < 0 ? 0 : (s > 1 ? 1 : s);
    R.inv_freq[j] = (1 - s) * w / c->rope_scale + s * w;
  }
  const int64_t qd = c->q_heads * D, QKV = m->qkv_dim, I = c->mlp;
  for (int l = 0; l < c->layers; l++) {
    ds_layer *G = &m->layer[l];
    ref_layer *L = &R.L[l];
    L->attn_norm = fetch(G->attn_norm, (size_t)H);
    L->w_qkv = fetch(G->w_qkv, (size_t)QKV * H);
    L->w_o = fetch(G->w_o, (size_t)H * qd);
    L->mlp_norm = fetch(G->mlp_norm, (size_t)H);
    L->w_gu = fetch(G->w_gu, (size_t)2 * I * H);
    L->w_down = fetch(G->w_down, (size_t)H * I);
    L->k = calloc((size_t)(B * R.max_len * Hk * D), 8);
    L->v = calloc((size_t)(B * R.max_len * Hk * D), 8);
    if (!L->k || !L->v) ds_die("out of host memory");
  }

  /* Prefill: every prompt token, layer 0's outputs compared. */
  int64_t T = 0;
  for (int64_t i = 0; i < B; i++) T += m->ctx[i];
  double *rr = malloc((size_t)(T * H) * 8), *rh = malloc((size_t)(T * H) * 8);
  if (!rr || !rh) ds_die("out of host memory");
  for (int64_t i = 0, row = 0; i < B; i++)
    for (int64_t pos = 0; pos < m->ctx[i]; pos++, row++)
      token(&R, i, pos, m->prompt[i * c->context + pos], rr + row * H, rh + row * H, NULL);
  const double tol0 = 0.05, tol_logits = 0.06 * sqrt((double)c->layers);
  err_acc er = {0, 0, 0, 0, 0}, eh = {0, 0, 0, 0, 0};
  for (int64_t k = 0; k < T * H; k++) acc_pass1(&er, rr[k]), acc_pass1(&eh, rh[k]);
  for (int64_t k = 0; k < T * H; k++) {
    acc_pass2(&er, widen(m->hook_resid[k]), rr[k], tol0);
    acc_pass2(&eh, widen(m->hook_h[k]), rh[k], tol0);
  }
  int fails = report("prefill layer-0 resid", &er, tol0) + report("prefill layer-0 h", &eh, tol0);

  /* Decode steps 0..2, teacher-forced with the GPU's tokens. */
  double *lg = malloc((size_t)V * 8);
  if (!lg) ds_die("out of host memory");
  for (int s = 0; s < 3; s++) {
    err_acc el = {0, 0, 0, 0, 0};
    double *all = malloc((size_t)(B * V) * 8);
    if (!all) ds_die("out of host memory");
    for (int64_t i = 0; i < B; i++) {
      int32_t id = s == 0 ? in->first[i] : in->tokens[(size_t)(s - 1) * B + i];
      token(&R, i, m->ctx[i] + s, id, NULL, NULL, all + i * V);
    }
    for (int64_t k = 0; k < B * V; k++) acc_pass1(&el, all[k]);
    for (int64_t k = 0; k < B * V; k++) acc_pass2(&el, in->logits[(size_t)s * B * V + k], all[k], tol_logits);
    char what[64];
    snprintf(what, sizeof what, "decode step %d logits", s);
    fails += report(what, &el, tol_logits);
    free(all);
  }
  free(lg), free(rr), free(rh);
  for (int l = 0; l < c->layers; l++) {
    ref_layer *L = &R.L[l];
    free(L->attn_norm), free(L->w_qkv), free(L->w_o), free(L->mlp_norm), free(L->w_gu), free(L->w_down);
    free(L->k), free(L->v);
  }
  free(R.L), free(R.embed), free(R.final_norm), free(R.lm_head), free(R.inv_freq);
  return fails ? 1 : 0;
}
