/* SPDX-License-Identifier: Apache-2.0 */
/* page.so and cascade.so on a real GPU against float64 references
 * (src/checks/reference.c), on fresh random data (seed printed; replay with
 * FIC_TEST_SEED=<seed>). Needs the wheel with the real modules: configure
 * with -DFIC_ATTN_WHEEL=<wheel> or set FIC_ATTN_WHEEL=<wheel>; every test
 * skips, saying why, without a GPU or that wheel.
 *
 * append_paged_kv_cache: random batches of 1..33 requests with random prior
 * lengths and appended counts (some zero), page sizes 1 and 16 (partial last
 * pages), page tables drawn from a shuffled pool with spare pages, NHD and
 * HND, f16 / bf16 / e4m3 caches, separate K/V caches and FlashInfer's
 * combined [P, 2, ...] form (K and V pages interleaved: strided caches). The caches are poisoned first and compared
 * EXACTLY, element by element, with the float64 scatter (the kernel copies):
 * every slot not appended to, spare pages included, must keep the poison.
 * The page table and positions come from fic_paged_kv_seq_lens and
 * fic_batch_indices_positions, so the host helpers are exercised too.
 *
 * cascade: partial attention states computed on the host (softmax over a
 * random subset of random scores), merged by merge_state, merge_state_in_place
 * (with and without a mask) and merge_states (1..5 states, both of the
 * kernel's paths), against the float64 log-sum-exp merge: relative L2 below
 * 2e-3 (f16) / 1e-2 (bf16) for v, 1e-5 for s. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_util.h"

#define POISON 0x55 /* as bytes: f16 85.3, bf16 1.5e13, e4m3 13: finite, never appended */
#define MERGE_TOL(kind) ((kind) == REF_BF16 ? 1e-2 : 2e-3)
#define LSE_TOL 1e-5

static const char *const k_modules[] = {"page", "cascade", NULL};

/* ------------------------------------------------------------ element kinds */

typedef enum elem_kind { EK_F16, EK_BF16, EK_E4M3 } elem_kind;
static const char *const k_kind_names[] = {"f16", "bf16", "e4m3"};

static size_t elem_size(elem_kind k) { return k == EK_E4M3 ? 1 : 2; }
static fic_dtype elem_dtype(elem_kind k) { return k == EK_E4M3 ? FIC_F8_E4M3FN : k == EK_BF16 ? FIC_BF16 : FIC_F16; }

/* n random values stored as `k` (bits) and the exact values they hold. */
static void elem_random(ref_rng *r, elem_kind k, void *bits, double *exact, size_t n) {
  if (k != EK_E4M3) {
    ref_half_random(r, k == EK_BF16 ? REF_BF16 : REF_F16, bits, exact, n, 0.0, 1.0);
    return;
  }
  uint8_t *b = bits;
  for (size_t i = 0; i < n; i++) {
    b[i] = ref_fp8_from_double(2.0 * ref_rng_normal(r), 0); /* the float64 value rounded to e4m3 */
    exact[i] = ref_fp8_e4m3fn_to_double(b[i]);
  }
}

static void elem_decode(elem_kind k, const void *bits, double *out, size_t n) {
  if (k != EK_E4M3) {
    ref_half_decode(k == EK_BF16 ? REF_BF16 : REF_F16, bits, out, n);
    return;
  }
  for (size_t i = 0; i < n; i++) out[i] = ref_fp8_e4m3fn_to_double(((const uint8_t *)bits)[i]);
}

/* ------------------------------------------------------------ append_paged_kv_cache */

typedef struct page_case {
  int hnd;
  elem_kind kind;
  int32_t page_size;
  int combined; /* FlashInfer's 5-D form: one buffer [P, 2, page...], K and V pages interleaved */
} page_case;

/* A random batch: lengths, page table from a shuffled pool, append layout. */
typedef struct batch {
  int32_t B, P, H, D, nnz, used;
  int32_t *seq, *appended, *kv_indptr, *kv_last, *kv_indices, *append_indptr, *bi, *pos;
} batch;

static int32_t *ialloc(size_t n) {
  int32_t *p = calloc(n ? n : 1, sizeof *p);
  assert_non_null(p);
  return p;
}

static void batch_free(batch *b) {
  free(b->seq), free(b->appended), free(b->kv_indptr), free(b->kv_last), free(b->kv_indices);
  free(b->append_indptr), free(b->bi), free(b->pos);
}

/* Page table and positions through the public host helpers, checked
 * against the lengths the batch was drawn with. */
static void batch_tables(batch *b, int32_t ps) {
  int32_t *lens = ialloc((size_t)b->B);
  FIC_ASSERT_OK(fic_paged_kv_seq_lens(b->kv_indptr, b->kv_last, ps, b->B, lens));
  for (int32_t i = 0; i < b->B; i++) assert_int_equal(lens[i], b->seq[i]);
  b->bi = ialloc((size_t)b->nnz), b->pos = ialloc((size_t)b->nnz);
  FIC_ASSERT_OK(fic_batch_indices_positions(b->append_indptr, lens, b->B, b->bi, b->pos, b->nnz));
  free(lens);
}

static batch batch_random(ref_rng *r, int32_t ps) {
  static const int32_t heads[] = {1, 4, 8}, dims[] = {64, 128};
  batch b;
  memset(&b, 0, sizeof b);
  b.B = 1 + (int32_t)(ref_rng_next(r) % 33);
  b.H = heads[ref_rng_next(r) % 3], b.D = dims[ref_rng_next(r) % 2];
  b.seq = ialloc((size_t)b.B), b.appended = ialloc((size_t)b.B), b.kv_last = ialloc((size_t)b.B);
  b.kv_indptr = ialloc((size_t)b.B + 1), b.append_indptr = ialloc((size_t)b.B + 1);
  for (int32_t i = 0; i < b.B; i++) {
    b.appended[i] = (int32_t)(ref_rng_next(r) % 20) + (i == 0); /* some requests append nothing */
    b.seq[i] = (int32_t)(ref_rng_next(r) % 50) + b.appended[i];
    int32_t pages = (b.seq[i] + ps - 1) / ps;
    b.kv_last[i] = pages ? b.seq[i] - (pages - 1) * ps : 0;
    b.kv_indptr[i + 1] = b.kv_indptr[i] + pages;
    b.append_indptr[i + 1] = b.append_indptr[i] + b.appended[i];
  }
  b.used = b.kv_indptr[b.B], b.nnz = b.append_indptr[b.B];
  b.P = b.used + 1 + (int32_t)(ref_rng_next(r) % 8); /* spare pages nobody references */
  int32_t *pool = ialloc((size_t)b.P);
  for (int32_t i = 0; i < b.P; i++) pool[i] = i;
  for (int32_t i = b.P - 1; i > 0; i--) { /* Fisher-Yates: a non-contiguous page table */
    int32_t j = (int32_t)(ref_rng_next(r) % (uint64_t)(i + 1)), t = pool[i];
    pool[i] = pool[j], pool[j] = t;
  }
  b.kv_indices = pool; /* the first `used` ids are the table */
  batch_tables(&b, ps);
  return b;
}

/* Exact comparison; names the first slot that differs. */
static void expect_cache(const char *what, const double *got, const double *want, size_t n) {
  size_t bad = 0, first = 0;
  for (size_t i = 0; i < n; i++)
    if (!(got[i] == want[i]) && !bad++) first = i;
  print_message("  %-56s %zu elements, %zu differ\n", what, n, bad);
  if (bad)
    fail_msg("%s: %zu of %zu elements differ from the reference scatter; first at element %zu: got %g want %g", what,
             bad, n, first, got[first], want[first]);
}

typedef struct dev_batch {
  void *key, *value, *kc, *vc, *bi, *pos, *idx, *ptr, *last;
  int combined;
} dev_batch;

/* cache_b: bytes of one cache; combined: one buffer of twice that, V one page after K. */
static dev_batch upload_batch(const batch *b, const void *key, const void *value, const void *poison, size_t cache_b,
                              size_t app_b, int combined, size_t page_b) {
  void *kc = gpu_upload(poison, combined ? 2 * cache_b : cache_b);
  dev_batch d = {gpu_upload(key, app_b),
                 gpu_upload(value, app_b),
                 kc,
                 combined ? (char *)kc + page_b : gpu_upload(poison, cache_b),
                 gpu_upload(b->bi, (size_t)b->nnz * 4),
                 gpu_upload(b->pos, (size_t)b->nnz * 4),
                 gpu_upload(b->kv_indices, (size_t)b->P * 4),
                 gpu_upload(b->kv_indptr, ((size_t)b->B + 1) * 4),
                 gpu_upload(b->kv_last, (size_t)b->B * 4),
                 combined};
  return d;
}

static void free_dev(dev_batch *d) {
  void *all[] = {d->key, d->value, d->kc, d->bi, d->pos, d->idx, d->ptr, d->last, d->vc};
  for (size_t i = 0; i < sizeof all / sizeof all[0] - (d->combined ? 1 : 0); i++) CK(cudaFree(all[i]));
}

static fic_status run_append(fic_runtime *rt, const page_case *c, const batch *b, dev_batch *d) {
  fic_dtype dt = elem_dtype(c->kind);
  int64_t P = b->P, ps = c->page_size, H = b->H, D = b->D;
  kt_desc key = gpu_desc(d->key, dt, 3, b->nnz, H, D, 0), value = gpu_desc(d->value, dt, 3, b->nnz, H, D, 0);
  kt_desc kc = c->hnd ? gpu_desc(d->kc, dt, 4, P, H, ps, D) : gpu_desc(d->kc, dt, 4, P, ps, H, D);
  kt_desc vc = c->hnd ? gpu_desc(d->vc, dt, 4, P, H, ps, D) : gpu_desc(d->vc, dt, 4, P, ps, H, D);
  kt_desc bi = gpu_desc(d->bi, FIC_I32, 1, b->nnz, 0, 0, 0), pos = gpu_desc(d->pos, FIC_I32, 1, b->nnz, 0, 0, 0);
  kt_desc idx = gpu_desc(d->idx, FIC_I32, 1, b->used, 0, 0, 0), ptr = gpu_desc(d->ptr, FIC_I32, 1, b->B + 1, 0, 0, 0);
  kt_desc last = gpu_desc(d->last, FIC_I32, 1, b->B, 0, 0, 0);
  if (c->combined) { /* pages 2 apart; within a page, the layout's dense strides */
    int64_t page = ps * H * D;
    kt_strides(&kc, 2 * page, c->hnd ? ps * D : H * D, D, 1);
    kt_strides(&vc, 2 * page, c->hnd ? ps * D : H * D, D, 1);
  }
  fic_append_paged_kv_cache_params p;
  FIC_ASSERT_OK(fic_append_paged_kv_cache_params_init(&p));
  p.append_key = kt_t(&key), p.append_value = kt_t(&value), p.batch_indices = kt_t(&bi), p.positions = kt_t(&pos);
  p.paged_k_cache = kt_t(&kc), p.paged_v_cache = kt_t(&vc);
  p.kv_indices = kt_t(&idx), p.kv_indptr = kt_t(&ptr), p.kv_last_page_len = kt_t(&last);
  p.kv_layout = c->hnd ? FIC_KV_LAYOUT_HND : FIC_KV_LAYOUT_NHD;
  fic_status s = fic_append_paged_kv_cache(rt, &p, NULL);
  CK(cudaDeviceSynchronize());
  return s;
}

/* Download one cache and compare it with the poisoned reference scatter.
 * Combined: K and V in one buffer of 2P dense pages, K page p at 2p, V at
 * 2p + 1; `app` then holds K's values and `app_v` V's. */
static void check_cache(const page_case *c, const batch *b, const void *dev, const double *app, const double *app_v,
                        const char *what) {
  size_t pages = (size_t)b->P * (c->combined ? 2 : 1), esz = elem_size(c->kind);
  size_t n = pages * (size_t)c->page_size * (size_t)b->H * (size_t)b->D;
  unsigned char *bits = malloc(n * esz);
  double *got = malloc(n * 8), *want = malloc(n * 8);
  int32_t *idx2 = ialloc((size_t)b->P);
  assert_true(bits && got && want);
  memset(bits, POISON, n * esz);
  elem_decode(c->kind, bits, want, n);
  ref_paged_kv rc = {(size_t)b->H, (size_t)b->D, (size_t)c->page_size, c->hnd, b->kv_indices, b->kv_indptr};
  for (int kv = 0; kv < (c->combined ? 2 : 1); kv++) {
    if (c->combined) {
      for (int32_t i = 0; i < b->P; i++) idx2[i] = 2 * b->kv_indices[i] + kv;
      rc.indices = idx2;
    }
    ref_append_paged_kv(&rc, want, kv ? app_v : app, b->bi, b->pos, (size_t)b->nnz);
  }
  gpu_download(bits, dev, n * esz);
  elem_decode(c->kind, bits, got, n);
  expect_cache(what, got, want, n);
  free(bits), free(got), free(want), free(idx2);
}

static void run_page_case(fic_runtime *rt, ref_rng *r, const page_case *c) {
  batch b = batch_random(r, c->page_size);
  size_t na = (size_t)b.nnz * (size_t)b.H * (size_t)b.D, esz = elem_size(c->kind);
  size_t nc = (size_t)b.P * (size_t)c->page_size * (size_t)b.H * (size_t)b.D;
  unsigned char *kbits = malloc(na * esz), *vbits = malloc(na * esz);
  double *kx = malloc(na * 8), *vx = malloc(na * 8);
  assert_true(kbits && vbits && kx && vx);
  elem_random(r, c->kind, kbits, kx, na);
  elem_random(r, c->kind, vbits, vx, na);
  size_t page_b = (size_t)c->page_size * (size_t)b.H * (size_t)b.D * esz;
  unsigned char *poison2 = malloc(2 * nc * esz);
  assert_non_null(poison2);
  memset(poison2, POISON, 2 * nc * esz);
  dev_batch d = upload_batch(&b, kbits, vbits, poison2, nc * esz, na * esz, c->combined, page_b);
  char what[160];
  snprintf(what, sizeof what, "append %s%s %s page %d: B %d, %d pages (%d spare), H %d, D %d, nnz %d",
           c->hnd ? "HND" : "NHD", c->combined ? " combined" : "", k_kind_names[c->kind], (int)c->page_size, (int)b.B,
           (int)b.P, (int)(b.P - b.used), (int)b.H, (int)b.D, (int)b.nnz);
  print_message("%s\n", what);
  FIC_ASSERT_OK(run_append(rt, c, &b, &d));
  if (c->combined) {
    check_cache(c, &b, d.kc, kx, vx, "  combined k/v cache");
  } else {
    check_cache(c, &b, d.kc, kx, NULL, "  k cache");
    check_cache(c, &b, d.vc, vx, NULL, "  v cache");
  }
  free_dev(&d);
  free(kbits), free(vbits), free(poison2), free(kx), free(vx);
  batch_free(&b);
}

static void test_append_paged_kv_cache(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("append_paged_kv_cache"));
  static const int32_t page_sizes[] = {1, 16};
  for (int hnd = 0; hnd < 2; hnd++)
    for (int k = EK_F16; k <= EK_E4M3; k++)
      for (int ps = 0; ps < 2; ps++)
        for (int rep = 0; rep < 2; rep++) {
          page_case c = {hnd, (elem_kind)k, page_sizes[ps], rep == 1};
          run_page_case(rt, &r, &c);
        }
}

/* append_paged_mla_kv_cache: ckv 512 and kpe 64 are each a one-head NHD
 * cache for the reference scatter. */
static void run_mla_case(fic_runtime *rt, ref_rng *r, elem_kind kind, int32_t ps) {
  batch b = batch_random(r, ps);
  size_t esz = elem_size(kind), dims[2] = {512, 64}, nnz = (size_t)b.nnz;
  unsigned char *bits[2];
  double *exact[2];
  void *dapp[2], *dcache[2];
  kt_desc app[2], cache[2];
  for (int i = 0; i < 2; i++) {
    size_t na = nnz * dims[i], nc = (size_t)b.P * (size_t)ps * dims[i];
    bits[i] = malloc((na > nc ? na : nc) * esz), exact[i] = malloc(na * 8);
    assert_true(bits[i] && exact[i]);
    elem_random(r, kind, bits[i], exact[i], na);
    dapp[i] = gpu_upload(bits[i], na * esz);
    memset(bits[i], POISON, nc * esz);
    dcache[i] = gpu_upload(bits[i], nc * esz);
    app[i] = gpu_desc(dapp[i], elem_dtype(kind), 2, b.nnz, (int64_t)dims[i], 0, 0);
    cache[i] = gpu_desc(dcache[i], elem_dtype(kind), 3, b.P, ps, (int64_t)dims[i], 0);
  }
  page_case c = {0, kind, ps, 0};
  dev_batch d = upload_batch(&b, bits[0], bits[0], bits[0], 16, 16, 0, 0); /* index tensors; K/V buffers unused */
  kt_desc bi = gpu_desc(d.bi, FIC_I32, 1, b.nnz, 0, 0, 0), pos = gpu_desc(d.pos, FIC_I32, 1, b.nnz, 0, 0, 0);
  kt_desc idx = gpu_desc(d.idx, FIC_I32, 1, b.used, 0, 0, 0), ptr = gpu_desc(d.ptr, FIC_I32, 1, b.B + 1, 0, 0, 0);
  kt_desc last = gpu_desc(d.last, FIC_I32, 1, b.B, 0, 0, 0);
  fic_append_paged_mla_kv_cache_params p;
  FIC_ASSERT_OK(fic_append_paged_mla_kv_cache_params_init(&p));
  p.append_ckv = kt_t(&app[0]), p.append_kpe = kt_t(&app[1]), p.ckv_cache = kt_t(&cache[0]);
  p.kpe_cache = kt_t(&cache[1]), p.batch_indices = kt_t(&bi), p.positions = kt_t(&pos);
  p.kv_indices = kt_t(&idx), p.kv_indptr = kt_t(&ptr), p.kv_last_page_len = kt_t(&last);
  print_message("append mla %s page %d: B %d, %d pages, nnz %d\n", k_kind_names[kind], (int)ps, (int)b.B, (int)b.P,
                (int)b.nnz);
  FIC_ASSERT_OK(fic_append_paged_mla_kv_cache(rt, &p, NULL));
  CK(cudaDeviceSynchronize());
  for (int i = 0; i < 2; i++) {
    b.H = 1, b.D = (int32_t)dims[i];
    check_cache(&c, &b, dcache[i], exact[i], NULL, i ? "  kpe cache" : "  ckv cache");
    CK(cudaFree(dapp[i])), CK(cudaFree(dcache[i]));
    free(bits[i]), free(exact[i]);
  }
  free_dev(&d);
  batch_free(&b);
}

static void test_append_paged_mla_kv_cache(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("append_paged_mla_kv_cache"));
  for (int k = EK_F16; k <= EK_E4M3; k++)
    for (int ps = 0; ps < 2; ps++) run_mla_case(rt, &r, (elem_kind)k, ps ? 16 : 1);
}

/* ------------------------------------------------------------ cascade */

/* `rows` partial attention states over D: each a softmax over 1..8 random
 * scores of random values; v stored as `kind` (bits, and the exact values),
 * s (base-2 log-sum-exp) stored as float32 (and its exact value). */
static void host_states(ref_rng *r, ref_half kind, size_t rows, size_t D, uint16_t *vbits, double *v, float *s32,
                        double *s) {
  double *acc = malloc(D * 8), *val = malloc(D * 8);
  assert_true(acc && val);
  for (size_t i = 0; i < rows; i++) {
    size_t keys = 1 + (size_t)(ref_rng_next(r) % 8);
    double sum = 0, shift = 4.0 * ref_rng_normal(r); /* states of very different weights */
    memset(acc, 0, D * 8);
    for (size_t k = 0; k < keys; k++) {
      double w = exp(shift + ref_rng_normal(r));
      for (size_t d = 0; d < D; d++) val[d] = ref_rng_normal(r), acc[d] += w * val[d];
      sum += w;
    }
    for (size_t d = 0; d < D; d++) {
      vbits[i * D + d] = ref_half_from_double(kind, acc[d] / sum);
      v[i * D + d] = ref_half_to_double(kind, vbits[i * D + d]);
    }
    s32[i] = (float)log2(sum);
    s[i] = s32[i];
  }
  free(acc), free(val);
}

/* One state on the host and the device. */
typedef struct hstate {
  size_t rows, D;
  uint16_t *vbits;
  float *s32;
  double *v, *s;
  void *dv, *ds;
} hstate;

static hstate state_new(ref_rng *r, ref_half kind, size_t rows, size_t D) {
  hstate h = {rows, D, malloc(rows * D * 2), malloc(rows * 4), malloc(rows * D * 8), malloc(rows * 8), NULL, NULL};
  assert_true(h.vbits && h.s32 && h.v && h.s);
  host_states(r, kind, rows, D, h.vbits, h.v, h.s32, h.s);
  h.dv = gpu_upload(h.vbits, rows * D * 2), h.ds = gpu_upload(h.s32, rows * 4);
  return h;
}

/* Device output buffers filled with garbage: every element must be written. */
static hstate state_out(size_t rows, size_t D) {
  hstate h = {
      rows, D, NULL, NULL, malloc(rows * D * 8), malloc(rows * 8), gpu_alloc(rows * D * 2), gpu_alloc(rows * 4)};
  assert_true(h.v && h.s);
  CK(cudaMemset(h.dv, 0xff, rows * D * 2));
  CK(cudaMemset(h.ds, 0xff, rows * 4));
  return h;
}

static void state_free(hstate *h) {
  free(h->vbits), free(h->s32), free(h->v), free(h->s);
  CK(cudaFree(h->dv)), CK(cudaFree(h->ds));
}

static void expect_state(const char *what, ref_half kind, const hstate *dev, const double *v, const double *s) {
  size_t nv = dev->rows * dev->D;
  double *got_v = malloc(nv * 8), *got_s = malloc(dev->rows * 8);
  assert_true(got_v && got_s);
  gpu_get_half(kind, dev->dv, got_v, nv);
  gpu_get_f32(dev->ds, got_s, dev->rows);
  char line[160];
  snprintf(line, sizeof line, "%s v", what);
  gpu_expect_close(line, got_v, v, nv, MERGE_TOL(kind));
  snprintf(line, sizeof line, "%s s", what);
  gpu_expect_close(line, got_s, s, dev->rows, LSE_TOL);
  free(got_v), free(got_s);
}

static void dims_random(ref_rng *r, size_t *seq, size_t *H, size_t *D) {
  static const size_t heads[] = {1, 4, 8, 32}, dims[] = {64, 128, 256};
  *seq = 1 + (size_t)(ref_rng_next(r) % 40);
  *H = heads[ref_rng_next(r) % 4], *D = dims[ref_rng_next(r) % 3];
}

static void test_merge_state(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("merge_state"));
  for (int rep = 0; rep < 8; rep++) {
    ref_half kind = rep % 2 ? REF_BF16 : REF_F16;
    size_t seq, H, D;
    dims_random(&r, &seq, &H, &D);
    hstate a = state_new(&r, kind, seq * H, D), b = state_new(&r, kind, seq * H, D), m = state_out(seq * H, D);
    kt_desc va = gpu_desc(a.dv, gpu_half_dtype(kind), 3, (int64_t)seq, (int64_t)H, (int64_t)D, 0),
            vb = gpu_desc(b.dv, gpu_half_dtype(kind), 3, (int64_t)seq, (int64_t)H, (int64_t)D, 0),
            vm = gpu_desc(m.dv, gpu_half_dtype(kind), 3, (int64_t)seq, (int64_t)H, (int64_t)D, 0),
            sa = gpu_desc(a.ds, FIC_F32, 2, (int64_t)seq, (int64_t)H, 0, 0),
            sb = gpu_desc(b.ds, FIC_F32, 2, (int64_t)seq, (int64_t)H, 0, 0),
            sm = gpu_desc(m.ds, FIC_F32, 2, (int64_t)seq, (int64_t)H, 0, 0);
    FIC_ASSERT_OK(fic_merge_state(rt, kt_t(&va), kt_t(&sa), kt_t(&vb), kt_t(&sb), kt_t(&vm), kt_t(&sm), NULL));
    CK(cudaDeviceSynchronize());
    ref_merge_state(a.v, a.s, b.v, b.s, m.v, m.s, seq * H, 1, D);
    char what[96];
    snprintf(what, sizeof what, "merge_state %s seq %zu H %zu D %zu", ref_half_name(kind), seq, H, D);
    expect_state(what, kind, &m, m.v, m.s);
    state_free(&a), state_free(&b), state_free(&m);
  }
}

/* In place, with a random mask or none: unmasked positions keep their state. */
static void in_place_case(fic_runtime *rt, ref_rng *r, ref_half kind, int with_mask) {
  size_t seq, H, D;
  dims_random(r, &seq, &H, &D);
  hstate v = state_new(r, kind, seq * H, D), o = state_new(r, kind, seq * H, D), want = state_out(seq * H, D);
  uint8_t *mask = malloc(seq);
  assert_non_null(mask);
  for (size_t i = 0; i < seq; i++) mask[i] = with_mask ? (uint8_t)(ref_rng_next(r) % 2) : 1;
  void *dmask = gpu_upload(mask, seq);
  ref_merge_state(v.v, v.s, o.v, o.s, want.v, want.s, seq * H, 1, D);
  for (size_t p = 0; p < seq; p++)
    if (!mask[p]) {
      memcpy(want.v + p * H * D, v.v + p * H * D, H * D * 8);
      memcpy(want.s + p * H, v.s + p * H, H * 8);
    }
  kt_desc vv = gpu_desc(v.dv, gpu_half_dtype(kind), 3, (int64_t)seq, (int64_t)H, (int64_t)D, 0),
          vo = gpu_desc(o.dv, gpu_half_dtype(kind), 3, (int64_t)seq, (int64_t)H, (int64_t)D, 0),
          sv = gpu_desc(v.ds, FIC_F32, 2, (int64_t)seq, (int64_t)H, 0, 0),
          so = gpu_desc(o.ds, FIC_F32, 2, (int64_t)seq, (int64_t)H, 0, 0),
          dm = gpu_desc(dmask, FIC_U8, 1, (int64_t)seq, 0, 0, 0);
  FIC_ASSERT_OK(
      fic_merge_state_in_place(rt, kt_t(&vv), kt_t(&sv), kt_t(&vo), kt_t(&so), with_mask ? kt_t(&dm) : NULL, NULL));
  CK(cudaDeviceSynchronize());
  char what[96];
  snprintf(what, sizeof what, "merge_state_in_place %s%s seq %zu H %zu D %zu", ref_half_name(kind),
           with_mask ? " masked" : "", seq, H, D);
  expect_state(what, kind, &v, want.v, want.s);
  state_free(&v), state_free(&o), state_free(&want);
  CK(cudaFree(dmask));
  free(mask);
}

static void test_merge_state_in_place(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("merge_state_in_place"));
  for (int rep = 0; rep < 8; rep++) in_place_case(rt, &r, rep % 2 ? REF_BF16 : REF_F16, rep / 2 % 2);
}

/* n states per position; seq below and above n takes both kernel paths. */
static void states_case(fic_runtime *rt, ref_rng *r, ref_half kind, size_t n, size_t seq) {
  size_t H, D, unused;
  dims_random(r, &unused, &H, &D);
  hstate in = state_new(r, kind, seq * n * H, D), out = state_out(seq * H, D);
  ref_merge_states(in.v, in.s, seq, n, H, D, out.v, out.s);
  kt_desc v = gpu_desc(in.dv, gpu_half_dtype(kind), 4, (int64_t)seq, (int64_t)n, (int64_t)H, (int64_t)D),
          s = gpu_desc(in.ds, FIC_F32, 3, (int64_t)seq, (int64_t)n, (int64_t)H, 0),
          vm = gpu_desc(out.dv, gpu_half_dtype(kind), 3, (int64_t)seq, (int64_t)H, (int64_t)D, 0),
          sm = gpu_desc(out.ds, FIC_F32, 2, (int64_t)seq, (int64_t)H, 0, 0);
  FIC_ASSERT_OK(fic_merge_states(rt, kt_t(&v), kt_t(&s), kt_t(&vm), kt_t(&sm), NULL));
  CK(cudaDeviceSynchronize());
  char what[96];
  snprintf(what, sizeof what, "merge_states %s n %zu seq %zu H %zu D %zu", ref_half_name(kind), n, seq, H, D);
  expect_state(what, kind, &out, out.v, out.s);
  state_free(&in), state_free(&out);
}

static void test_merge_states(void **state) {
  fic_runtime *rt = gpu_group_rt_attn(state, k_modules);
  ref_rng r;
  ref_rng_seed(&r, gpu_seed("merge_states"));
  static const size_t seqs[] = {1, 3, 17, 40};
  for (size_t n = 1; n <= 5; n++)
    for (size_t i = 0; i < 4; i++) states_case(rt, &r, (n + i) % 2 ? REF_BF16 : REF_F16, n, seqs[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_append_paged_kv_cache), cmocka_unit_test(test_append_paged_mla_kv_cache),
      cmocka_unit_test(test_merge_state),           cmocka_unit_test(test_merge_state_in_place),
      cmocka_unit_test(test_merge_states),
  };
  return cmocka_run_group_tests(tests, kt_setup_empty, kt_teardown);
}
