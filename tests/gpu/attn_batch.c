/* SPDX-License-Identifier: Apache-2.0 */
#include "attn_batch.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- small helpers ---- */

static void *upload_i32(const int64_t *x, int64_t n) {
  int32_t *y = gpu_to_i32(x, n);
  void *d = gpu_upload(y, (size_t)(n > 0 ? n : 1) * sizeof *y);
  free(y);
  return d;
}

static ref_half q_kind(const attn_case *c) { return c->q_type == AT_F16 ? REF_F16 : REF_BF16; }

fic_dtype at_q_dtype(const attn_case *c) { return c->q_type == AT_F16 ? FIC_F16 : FIC_BF16; }

fic_dtype at_kv_dtype(const attn_case *c) {
  return c->kv_type == AT_E4M3 ? FIC_F8_E4M3FN : c->kv_type == AT_F16 ? FIC_F16 : FIC_BF16;
}

double at_sm_scale(const kv_batch *b) {
  double k_scale = b->c.k_scale > 0 ? b->c.k_scale : 1.0;
  return k_scale / sqrt((double)b->dim);
}

/* ---- lengths, page tables, caches ---- */

/* Lengths: given, or kv in [1, max_kv] (with more than 2 sequences the
 * first has 1 key and the last max_kv; with long_kv sequences 1 and 2 have
 * that many) and prefill rows in [1, min(kv, max_qo)], so that a causal row
 * always sees a key. */
static void make_lengths(kv_batch *b, ref_rng *r) {
  const attn_case *c = &b->c;
  b->qo_indptr = calloc((size_t)c->batch + 1, sizeof(int64_t));
  b->kv_len = calloc((size_t)c->batch, sizeof(int64_t));
  b->kv_indptr = calloc((size_t)c->batch + 1, sizeof(int64_t));
  b->last = calloc((size_t)c->batch, sizeof(int64_t));
  int64_t unit = c->page ? c->page : 1;
  for (int64_t i = 0; i < c->batch; i++) {
    int64_t kv = gpu_rand_in(r, 1, c->max_kv);
    if (c->batch > 2 && (i == 0 || i == c->batch - 1)) kv = i == 0 ? 1 : c->max_kv;
    if (c->long_kv > 0 && c->batch >= 4 && (i == 1 || i == 2)) kv = c->long_kv;
    if (c->kv_lens) kv = c->kv_lens[i];
    int64_t qo = c->max_qo ? gpu_rand_in(r, 1, kv < c->max_qo ? kv : c->max_qo) : 1;
    if (c->qo_lens) qo = c->qo_lens[i];
    b->kv_len[i] = kv;
    b->qo_indptr[i + 1] = b->qo_indptr[i] + qo;
    b->kv_indptr[i + 1] = b->kv_indptr[i] + (kv + unit - 1) / unit;
    b->last[i] = kv - (b->kv_indptr[i + 1] - b->kv_indptr[i] - 1) * unit;
  }
  b->rows = b->qo_indptr[c->batch];
  b->pages = b->kv_indptr[c->batch];
}

/* A random page table: `pages` distinct ids out of a pool of 1.5x + 3, shuffled. */
static void make_page_table(kv_batch *b, ref_rng *r) {
  b->pool = b->c.page ? b->pages + b->pages / 2 + 3 : b->pages;
  b->indices = gpu_permutation(r, b->pool, b->c.page != 0); /* the first `pages` entries are used */
}

/* Element offset of (page, slot, head, 0) in a cache of head dim D (K: dim,
 * V: dim_vo; each cache dense in its own dim) (ragged: page = token, one slot). */
static size_t cache_offset(const kv_batch *b, int64_t page, int64_t slot, int64_t h, int64_t D) {
  int64_t P = b->c.page ? b->c.page : 1, H = b->c.hkv;
  if (!b->c.page) /* ragged: NHD [tokens, H, D], HND [H, tokens, D] */
    return (size_t)(b->c.layout == FIC_KV_LAYOUT_NHD ? page * H + h : h * b->pool + page) * (size_t)D;
  if (b->c.layout == FIC_KV_LAYOUT_NHD) return (size_t)((page * P + slot) * H + h) * (size_t)D;
  return (size_t)((page * H + h) * P + slot) * (size_t)D;
}

static void decode_kv(const kv_batch *b, const unsigned char *bytes, size_t at, double *out, size_t n) {
  if (b->c.kv_type == AT_E4M3) {
    for (size_t i = 0; i < n; i++) out[i] = ref_fp8_e4m3fn_to_double(bytes[at + i]);
    return;
  }
  ref_half_decode(b->c.kv_type == AT_F16 ? REF_F16 : REF_BF16, (const uint16_t *)bytes + at, out, n);
}

/* Gather each sequence's keys and values, densely, for the reference. */
static void gather(kv_batch *b) {
  const attn_case *c = &b->c;
  int64_t unit = c->page ? c->page : 1, D = b->dim, DV = b->dim_vo;
  b->k_seq = calloc((size_t)c->batch, sizeof *b->k_seq);
  b->v_seq = calloc((size_t)c->batch, sizeof *b->v_seq);
  for (int64_t s = 0; s < c->batch; s++) {
    size_t n = (size_t)(b->kv_len[s] * c->hkv * D), nv = (size_t)(b->kv_len[s] * c->hkv * DV);
    b->k_seq[s] = malloc((n ? n : 1) * sizeof(double));
    b->v_seq[s] = malloc((nv ? nv : 1) * sizeof(double));
    for (int64_t t = 0; t < b->kv_len[s]; t++) {
      int64_t page = b->indices[b->kv_indptr[s] + t / unit], slot = t % unit;
      for (int64_t h = 0; h < c->hkv; h++) {
        decode_kv(b, b->k_bytes, cache_offset(b, page, slot, h, D), b->k_seq[s] + (t * c->hkv + h) * D, (size_t)D);
        decode_kv(b, b->v_bytes, cache_offset(b, page, slot, h, DV), b->v_seq[s] + (t * c->hkv + h) * DV, (size_t)DV);
      }
    }
  }
}

/* Elements of a cache of head dim D (K: dim, V: dim_vo). */
static size_t cache_elems(const kv_batch *b, int64_t D) {
  return (size_t)(b->pool * (b->c.page ? b->c.page : 1) * b->c.hkv * D);
}

/* e4m3 codes drawn directly (converting normals through
 * ref_fp8_from_double, a search over 256 codes, is too slow for caches of
 * millions of values): random sign and mantissa, biased exponent 3 to 8,
 * so magnitudes 2^-4 to 3.75 (about N(0, 1)'s scale). */
static uint8_t random_e4m3(ref_rng *r) {
  uint64_t x = ref_rng_next(r);
  unsigned sign = (unsigned)(x & 1), mant = (unsigned)((x >> 1) & 7), exp = 3 + (unsigned)((x >> 4) % 6);
  return (uint8_t)(sign << 7 | exp << 3 | mant);
}

static void random_kv(kv_batch *b, ref_rng *r, unsigned char *bytes, size_t n) {
  if (b->c.kv_type == AT_E4M3) {
    for (size_t i = 0; i < n; i++) bytes[i] = random_e4m3(r);
    return;
  }
  ref_half_random(r, b->c.kv_type == AT_F16 ? REF_F16 : REF_BF16, (uint16_t *)bytes, NULL, n, 0, 1);
}

static void fill_cache(kv_batch *b, ref_rng *r) {
  size_t n = cache_elems(b, b->dim), nv = cache_elems(b, b->dim_vo);
  b->k_bytes = malloc((n ? n : 1) * (size_t)b->kvsize);
  b->v_bytes = malloc((nv ? nv : 1) * (size_t)b->kvsize);
  random_kv(b, r, b->k_bytes, n);
  random_kv(b, r, b->v_bytes, nv);
  gather(b);
}

/* ---- custom masks ---- */

/* Random booleans (about a third visible), every row keeping one key. */
static void make_mask(kv_batch *b, ref_rng *r) {
  const attn_case *c = &b->c;
  b->mask_seq = calloc((size_t)c->batch, sizeof *b->mask_seq);
  b->mask_indptr = calloc((size_t)c->batch + 1, sizeof(int64_t));
  for (int64_t s = 0; s < c->batch; s++) {
    int64_t qo = b->qo_indptr[s + 1] - b->qo_indptr[s], kv = b->kv_len[s];
    uint8_t *m = calloc((size_t)(qo * kv) + 1, 1);
    for (int64_t i = 0; i < qo; i++) {
      for (int64_t j = 0; j < kv; j++) m[i * kv + j] = ref_rng_uniform(r) < 0.35;
      m[i * kv + gpu_rand_in(r, 0, kv - 1)] = 1;
    }
    b->mask_seq[s] = m;
    b->mask_indptr[s + 1] = b->mask_indptr[s] + (qo * kv + 7) / 8;
  }
  int64_t total = b->mask_indptr[c->batch];
  b->mask_packed = calloc((size_t)total + 1, 1);
  for (int64_t s = 0; s < c->batch; s++) { /* segment_packbits, bitorder "little" */
    int64_t n = (b->qo_indptr[s + 1] - b->qo_indptr[s]) * b->kv_len[s];
    uint8_t *out = b->mask_packed + b->mask_indptr[s];
    for (int64_t e = 0; e < n; e++)
      if (b->mask_seq[s][e]) out[e / 8] |= (uint8_t)(1u << (e % 8));
  }
  b->dmask = gpu_upload(b->mask_packed, (size_t)total + 1);
  b->dmask_indptr = upload_i32(b->mask_indptr, c->batch + 1);
}

/* ---- the batch ---- */

void kv_batch_poison(kv_batch *b) {
  CK(cudaMemset(b->dout, 0xff, (size_t)(b->rows * b->c.hq * b->dim_vo * b->qsize)));
  CK(cudaMemset(b->dlse, 0xff, (size_t)(b->rows * b->c.hq * 4)));
}

void kv_batch_new(kv_batch *b, const attn_case *c, ref_rng *r) {
  memset(b, 0, sizeof *b);
  b->c = *c;
  b->dim = c->dim ? c->dim : 128;
  b->dim_vo = c->dim_vo ? c->dim_vo : b->dim;
  if (!c->max_qo && b->dim_vo != b->dim) fail_msg("%s: decode has one head dim (dim_vo must be 0 or dim)", c->name);
  b->qsize = 2;
  b->kvsize = c->kv_type == AT_E4M3 ? 1 : 2;
  make_lengths(b, r);
  make_page_table(b, r);
  fill_cache(b, r);
  size_t qn = (size_t)(b->rows * c->hq * b->dim);
  b->q = malloc(qn * sizeof *b->q);
  b->q_bits = malloc(qn * 2);
  ref_half_random(r, q_kind(c), b->q_bits, b->q, qn, 0, 1);
  b->qo_indptr32 = gpu_to_i32(b->qo_indptr, c->batch + 1);
  b->kv_indptr32 = gpu_to_i32(b->kv_indptr, c->batch + 1);
  b->last32 = gpu_to_i32(b->last, c->batch);
  b->dq = gpu_upload(b->q_bits, qn * 2);
  b->dk = gpu_upload(b->k_bytes, cache_elems(b, b->dim) * (size_t)b->kvsize);
  b->dv = gpu_upload(b->v_bytes, cache_elems(b, b->dim_vo) * (size_t)b->kvsize);
  b->dqo = upload_i32(b->qo_indptr, c->batch + 1);
  b->dkvi = upload_i32(b->kv_indptr, c->batch + 1);
  b->dind = upload_i32(b->indices, b->pages);
  b->dlast = upload_i32(b->last, c->batch);
  b->dout = gpu_alloc((size_t)(b->rows * c->hq * b->dim_vo) * 2);
  b->dlse = gpu_alloc((size_t)(b->rows * c->hq * 4));
  if (c->custom_mask) make_mask(b, r);
  kv_batch_poison(b);
}

static void free_seqs(kv_batch *b) {
  for (int64_t s = 0; s < b->c.batch; s++) free(b->k_seq[s]), free(b->v_seq[s]);
  free(b->k_seq), free(b->v_seq);
}

void kv_batch_new_pages(kv_batch *b, ref_rng *r) {
  free_seqs(b);
  free(b->indices);
  free(b->k_bytes), free(b->v_bytes);
  make_page_table(b, r);
  fill_cache(b, r);
  int32_t *ind = gpu_to_i32(b->indices, b->pages);
  CK(cudaMemcpy(b->dind, ind, (size_t)(b->pages > 0 ? b->pages : 1) * 4, cudaMemcpyHostToDevice));
  free(ind);
  CK(cudaMemcpy(b->dk, b->k_bytes, cache_elems(b, b->dim) * (size_t)b->kvsize, cudaMemcpyHostToDevice));
  CK(cudaMemcpy(b->dv, b->v_bytes, cache_elems(b, b->dim_vo) * (size_t)b->kvsize, cudaMemcpyHostToDevice));
}

void kv_batch_free(kv_batch *b) {
  free_seqs(b);
  void *dev[] = {b->dq, b->dk, b->dv, b->dqo, b->dkvi, b->dind, b->dlast, b->dout, b->dlse, b->dmask, b->dmask_indptr};
  for (size_t i = 0; i < sizeof dev / sizeof dev[0]; i++)
    if (dev[i]) CK(cudaFree(dev[i]));
  if (b->mask_seq)
    for (int64_t s = 0; s < b->c.batch; s++) free(b->mask_seq[s]);
  free(b->mask_seq), free(b->mask_indptr), free(b->mask_packed);
  free(b->qo_indptr), free(b->kv_len), free(b->kv_indptr), free(b->indices), free(b->last);
  free(b->qo_indptr32), free(b->kv_indptr32), free(b->last32), free(b->k_bytes), free(b->v_bytes), free(b->q),
      free(b->q_bits);
}

/* ---- descriptors, plans and runs ---- */

at_descs at_make_descs(const kv_batch *b) {
  const attn_case *c = &b->c;
  at_descs d;
  memset(&d, 0, sizeof d);
  int64_t P = c->page, H = c->hkv, D = b->dim, DV = b->dim_vo;
  fic_dtype qt = at_q_dtype(c), kt = at_kv_dtype(c);
  d.q = gpu_desc(b->dq, qt, 3, b->rows, c->hq, D, 0);
  d.out = gpu_desc(b->dout, qt, 3, b->rows, c->hq, DV, 0);
  d.lse = gpu_desc(b->dlse, FIC_F32, 2, b->rows, c->hq, 0, 0);
  int nhd = c->layout == FIC_KV_LAYOUT_NHD;
  if (P) {
    d.k = gpu_desc(b->dk, kt, 4, b->pool, nhd ? P : H, nhd ? H : P, D);
    d.v = gpu_desc(b->dv, kt, 4, b->pool, nhd ? P : H, nhd ? H : P, DV);
  } else {
    d.k = gpu_desc(b->dk, kt, 3, nhd ? b->pool : H, nhd ? H : b->pool, D, 0);
    d.v = gpu_desc(b->dv, kt, 3, nhd ? b->pool : H, nhd ? H : b->pool, DV, 0);
  }
  d.qo = gpu_desc(b->dqo, FIC_I32, 1, c->batch + 1, 0, 0, 0);
  d.kvi = gpu_desc(b->dkvi, FIC_I32, 1, c->batch + 1, 0, 0, 0);
  d.ind = gpu_desc(b->dind, FIC_I32, 1, b->pages, 0, 0, 0);
  d.last = gpu_desc(b->dlast, FIC_I32, 1, c->batch, 0, 0, 0);
  if (c->custom_mask) {
    d.mask = gpu_desc(b->dmask, FIC_U8, 1, b->mask_indptr[c->batch] + 1, 0, 0, 0);
    d.mask_indptr = gpu_desc(b->dmask_indptr, FIC_I32, 1, c->batch + 1, 0, 0, 0);
  }
  return d;
}

fic_status at_plan(fic_runtime *rt, fic_attention_workspace *ws, const kv_batch *b, int graph, cudaStream_t s,
                   fic_attention_plan **out) {
  const attn_case *c = &b->c;
  int64_t window = c->windowed ? c->window_left : -1;
  if (!c->max_qo) {
    fic_batch_decode_plan_params p;
    FIC_ASSERT_OK(fic_batch_decode_plan_params_init(&p));
    p.kv_indptr = b->kv_indptr32, p.batch_size = c->batch, p.num_qo_heads = c->hq, p.num_kv_heads = c->hkv;
    p.head_dim = b->dim, p.page_size = c->page, p.q_dtype = at_q_dtype(c), p.kv_dtype = at_kv_dtype(c);
    p.kv_layout = c->layout, p.use_tensor_cores = c->tensor_cores, p.enable_cuda_graph = graph;
    p.window_left = window, p.logits_soft_cap = c->soft_cap;
    return fic_batch_decode_plan(rt, ws, &p, s, out);
  }
  fic_batch_prefill_plan_params p;
  FIC_ASSERT_OK(fic_batch_prefill_plan_params_init(&p));
  p.qo_indptr = b->qo_indptr32, p.kv_indptr = b->kv_indptr32, p.batch_size = c->batch;
  p.num_qo_heads = c->hq, p.num_kv_heads = c->hkv, p.head_dim_qk = b->dim, p.head_dim_vo = b->dim_vo;
  p.page_size = c->page, p.ragged = !c->page;
  p.q_dtype = at_q_dtype(c), p.kv_dtype = at_kv_dtype(c), p.kv_layout = c->layout, p.causal = c->causal;
  p.enable_cuda_graph = graph, p.window_left = window, p.logits_soft_cap = c->soft_cap;
  p.total_num_rows = c->total_num_rows;
  p.backend = c->backend == AT_AUTO ? FIC_ATTENTION_BACKEND_AUTO : c->backend ? c->backend : FIC_ATTENTION_BACKEND_FA2;
  p.kv_last_page_len = c->page ? b->last32 : NULL; /* host: FA3's plan takes exact KV lengths */
  return fic_batch_prefill_plan(rt, ws, &p, s, out);
}

fic_status at_run(const fic_attention_plan *plan, const kv_batch *b, at_descs *d, cudaStream_t s) {
  if (!b->c.max_qo) {
    fic_batch_decode_run_params p;
    FIC_ASSERT_OK(fic_batch_decode_run_params_init(&p));
    p.q = kt_t(&d->q), p.k_cache = kt_t(&d->k), p.v_cache = kt_t(&d->v), p.kv_indptr = kt_t(&d->kvi);
    p.kv_indices = kt_t(&d->ind), p.kv_last_page_len = kt_t(&d->last), p.out = kt_t(&d->out), p.lse = kt_t(&d->lse);
    p.sm_scale = at_sm_scale(b); /* no qo_indptr: tensor-core plans keep their own */
    return fic_batch_decode_run(plan, &p, s);
  }
  fic_batch_prefill_run_params p;
  FIC_ASSERT_OK(fic_batch_prefill_run_params_init(&p));
  p.q = kt_t(&d->q), p.k = kt_t(&d->k), p.v = kt_t(&d->v), p.qo_indptr = kt_t(&d->qo), p.kv_indptr = kt_t(&d->kvi);
  if (b->c.page) p.kv_indices = kt_t(&d->ind), p.kv_last_page_len = kt_t(&d->last);
  p.out = kt_t(&d->out), p.lse = kt_t(&d->lse), p.sm_scale = at_sm_scale(b);
  if (b->c.custom_mask) p.custom_mask = kt_t(&d->mask), p.mask_indptr = kt_t(&d->mask_indptr);
  return fic_batch_prefill_run(plan, &p, s);
}

void at_check(const kv_batch *b, const void *out, const void *lse, const char *what) {
  const attn_case *c = &b->c;
  size_t n = (size_t)(b->rows * c->hq * b->dim_vo), nl = (size_t)(b->rows * c->hq);
  double *want = malloc(n * sizeof *want), *want_lse = malloc(nl * sizeof *want_lse);
  double *got = malloc(n * sizeof *got), *got_lse = malloc(nl * sizeof *got_lse);
  ref_attn p;
  memset(&p, 0, sizeof p);
  p.batch = (size_t)c->batch, p.hq = (size_t)c->hq, p.hkv = (size_t)c->hkv;
  p.d_qk = (size_t)b->dim, p.d_vo = (size_t)b->dim_vo;
  p.qo_indptr = b->qo_indptr, p.kv_len = b->kv_len, p.q = b->q;
  p.k = (const double *const *)b->k_seq, p.v = (const double *const *)b->v_seq;
  p.sm_scale = at_sm_scale(b), p.causal = c->causal, p.window_left = c->windowed ? c->window_left : -1;
  p.soft_cap = c->soft_cap;
  p.mask = c->custom_mask ? (const uint8_t *const *)b->mask_seq : NULL;
  assert_int_equal(ref_attention(&p, want, want_lse), 0);
  gpu_get_half(q_kind(c), out, got, n);
  gpu_get_f32(lse, got_lse, nl);
  char label[200];
  snprintf(label, sizeof label, "%s %s out", c->name, what);
  gpu_expect_close(label, got, want, n, AT_OUT_TOL);
  snprintf(label, sizeof label, "%s %s lse (base 2)", c->name, what);
  gpu_expect_close(label, got_lse, want_lse, nl, c->soft_cap > 0 ? AT_LSE_TOL_CAP : AT_LSE_TOL);
  free(want), free(want_lse), free(got), free(got_lse);
}

/* ---- runtime ---- */

fic_runtime *at_group_rt(void **state) {
  gpu_require();
  if (!*state) {
    static const char *const modules[] = {KT_ATTN_DECODE_MODULE, KT_ATTN_PREFILL_MODULE, NULL};
    /* preloaded: no module load during graph capture */
    *state = gpu_open_wheel(kt_attn_wheel(), modules, "no wheel with the attention modules",
                            "the bf16/hd128 decode or FA2 prefill module");
  }
  return ((kt_runtime *)*state)->rt;
}

void at_expect_same_bits(const void *x, const void *y, size_t bytes, const char *what) {
  unsigned char *hx = malloc(bytes), *hy = malloc(bytes);
  gpu_download(hx, x, bytes);
  gpu_download(hy, y, bytes);
  size_t first = bytes;
  for (size_t i = 0; i < bytes && first == bytes; i++)
    if (hx[i] != hy[i]) first = i;
  free(hx), free(hy);
  if (first != bytes) fail_msg("%s: graph replay differs from the eager run at byte %zu", what, first);
  print_message("  %s: graph replay bit-identical to eager (%zu bytes)\n", what, bytes);
}
