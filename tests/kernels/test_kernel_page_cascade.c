/* SPDX-License-Identifier: Apache-2.0 */
/* page.so and cascade.so through the typed API, with no GPU.
 *  - Validation: every bad argument comes back as FIC_ERR_INVALID_ARGUMENT
 *    naming it, before any module is touched. The runtime holds only the
 *    test module, so a call that passes validation reaches the module
 *    look-up and fails with FIC_ERR_NOT_FOUND: that proves the checks accept
 *    it (and nothing reaches a GPU with the fake pointers).
 *  - The host helpers fic_batch_indices_positions and fic_paged_kv_seq_lens
 *    against hand-worked cases, a naive reference on random cases, and every
 *    bad input (nothing written).
 *  - With the real modules (FIC_ATTN_WHEEL; skipped without): the exports
 *    resolve, the arity table guards the generic path, and the wrappers' own
 *    errors come back decoded. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "checks/reference.h"
#include "kt_util.h"

#define A_KEY 0x7f0000100000u
#define A_VAL 0x7f0000200000u
#define A_KC 0x7f0001000000u
#define A_VC 0x7f0002000000u
#define A_BI 0x7f0000300000u
#define A_POS 0x7f0000400000u
#define A_IDX 0x7f0000500000u
#define A_PTR 0x7f0000600000u
#define A_LAST 0x7f0000700000u

static const fic_dtype F8E4M3 = {FIC_DTYPE_FLOAT8_E4M3FN, 8, 1};
static const fic_dtype F8E5M2 = {FIC_DTYPE_FLOAT8_E5M2, 8, 1};

static int setup(void **state) {
  static const char *const modules[] = {"fic_test", NULL};
  *state = kt_open(fic_test_env("FIC_TEST_JIT_WHEEL"), modules);
  return 0;
}

static fic_runtime *RT(void **state) { return ((kt_runtime *)*state)->rt; }

/* ------------------------------------------------------------ append_paged_kv_cache */

/* nnz entries of H heads, D dims; P pages of `page` entries; B requests. */
typedef struct page_fx {
  kt_desc key, value, kc, vc, bi, pos, idx, ptr, last;
  fic_append_paged_kv_cache_params p;
} page_fx;

static page_fx page_make(fic_dtype dt, int hnd, int64_t nnz, int64_t H, int64_t D, int64_t P, int64_t page) {
  page_fx f;
  f.key = kt_cuda(A_KEY, dt, 3, nnz, H, D, 0);
  f.value = kt_cuda(A_VAL, dt, 3, nnz, H, D, 0);
  f.kc = hnd ? kt_cuda(A_KC, dt, 4, P, H, page, D) : kt_cuda(A_KC, dt, 4, P, page, H, D);
  f.vc = hnd ? kt_cuda(A_VC, dt, 4, P, H, page, D) : kt_cuda(A_VC, dt, 4, P, page, H, D);
  f.bi = kt_cuda(A_BI, FIC_I32, 1, nnz, 0, 0, 0);
  f.pos = kt_cuda(A_POS, FIC_I32, 1, nnz, 0, 0, 0);
  f.idx = kt_cuda(A_IDX, FIC_I32, 1, P, 0, 0, 0);
  f.ptr = kt_cuda(A_PTR, FIC_I32, 1, 3, 0, 0, 0);
  f.last = kt_cuda(A_LAST, FIC_I32, 1, 2, 0, 0, 0);
  fic_append_paged_kv_cache_params_init(&f.p);
  f.p.kv_layout = hnd ? FIC_KV_LAYOUT_HND : FIC_KV_LAYOUT_NHD;
  return f;
}

static fic_status append(fic_runtime *rt, page_fx *f) {
  f->p.append_key = kt_t(&f->key), f->p.append_value = kt_t(&f->value);
  f->p.paged_k_cache = kt_t(&f->kc), f->p.paged_v_cache = kt_t(&f->vc);
  f->p.batch_indices = kt_t(&f->bi), f->p.positions = kt_t(&f->pos);
  f->p.kv_indices = kt_t(&f->idx), f->p.kv_indptr = kt_t(&f->ptr), f->p.kv_last_page_len = kt_t(&f->last);
  return fic_append_paged_kv_cache(rt, &f->p, NULL);
}

#define FX() page_make(FIC_F16, 0, 5, 4, 128, 8, 16)

static void test_append_accepts(void **state) {
  fic_runtime *rt = RT(state);
  page_fx f = FX();
  KT_EXPECT_STATUS(append(rt, &f), FIC_ERR_NOT_FOUND);
  const fic_dtype types[] = {FIC_BF16, F8E4M3, F8E5M2};
  for (int i = 0; i < 3; i++) {
    f = page_make(types[i], i % 2, 7, 8, i == 1 ? 64 : 256, 4, 1);
    KT_EXPECT_STATUS(append(rt, &f), FIC_ERR_NOT_FOUND);
  }
  f = page_make(FIC_F16, 1, 5, 2, 512, 3, 16); /* HND, D 512 */
  KT_EXPECT_STATUS(append(rt, &f), FIC_ERR_NOT_FOUND);
  f = FX();
  kt_strides(&f.key, 4 * 128 * 2, 128, 1, 0); /* padded rows: last dim contiguous is enough */
  KT_EXPECT_STATUS(append(rt, &f), FIC_ERR_NOT_FOUND);
  f = page_make(FIC_F16, 0, 0, 4, 128, 8, 16); /* nothing to append: no module needed */
  FIC_ASSERT_OK(append(rt, &f));
}

static void test_append_params(void **state) {
  fic_runtime *rt = RT(state);
  page_fx f = FX();
  KT_EXPECT_ARG(fic_append_paged_kv_cache(NULL, &f.p, NULL), "rt", NULL);
  KT_EXPECT_ARG(fic_append_paged_kv_cache(rt, NULL, NULL), "params", NULL);
  KT_EXPECT_ARG(fic_append_paged_kv_cache_params_init(NULL), "params", NULL);
  size_t bad[] = {0, 12, sizeof f.p + 8};
  for (int i = 0; i < 3; i++) {
    f = FX();
    append(rt, &f);
    f.p.struct_size = bad[i];
    KT_EXPECT_ARG(fic_append_paged_kv_cache(rt, &f.p, NULL), "params", "struct_size");
  }
  f = FX();
  f.p.kv_layout = 2;
  KT_EXPECT_ARG(append(rt, &f), "kv_layout", "FIC_KV_LAYOUT_NHD");
  /* An older, shorter struct gets the defaults for the rest (here: NULL tensors). */
  f = FX();
  append(rt, &f);
  f.p.struct_size = 8 * 5;
  KT_EXPECT_ARG(fic_append_paged_kv_cache(rt, &f.p, NULL), "paged_k_cache", "NULL");
}

static void test_append_key_value(void **state) {
  fic_runtime *rt = RT(state);
  page_fx f = FX();
  f.key.t.ndim = 2;
  KT_EXPECT_ARG(append(rt, &f), "append_key", "3-D");
  f = FX(), f.key.t.dtype = FIC_F32;
  KT_EXPECT_ARG(append(rt, &f), "append_key", "float16");
  f = page_make(FIC_F16, 0, 5, 4, 96, 8, 16);
  KT_EXPECT_ARG(append(rt, &f), "append_key", "64, 128, 256 or 512");
  f = page_make(FIC_F16, 0, 5, 65, 128, 8, 16); /* 16 threads per head: at most 64 heads */
  KT_EXPECT_ARG(append(rt, &f), "append_key", "at most 64 heads");
  f = page_make(FIC_F16, 0, 5, 0, 128, 8, 16);
  KT_EXPECT_ARG(append(rt, &f), "append_key", "heads");
  f = FX(), kt_strides(&f.key, 4 * 256, 256, 2, 0);
  KT_EXPECT_ARG(append(rt, &f), "append_key", "last dimension");
  f = FX(), f.key.t.data = (void *)(A_KEY + 8);
  KT_EXPECT_ARG(append(rt, &f), "append_key", "aligned");
  f = FX(), kt_strides(&f.key, 4 * 132, 132, 1, 0);
  KT_EXPECT_ARG(append(rt, &f), "append_key", "multiple of 8");
  f = FX(), f.value.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(append(rt, &f), "append_value", "dtype of append_key");
  f = FX(), f.value.shape[0] = 6;
  KT_EXPECT_ARG(append(rt, &f), "append_value", "shape of append_key");
  f = FX(), f.value.t.device.device_id = 1;
  KT_EXPECT_ARG(append(rt, &f), "append_value", "device");
  f = FX(), f.key.t.device.device_type = FIC_DEVICE_CPU;
  KT_EXPECT_ARG(append(rt, &f), "append_key", "CUDA");
}

static void test_append_caches(void **state) {
  fic_runtime *rt = RT(state);
  page_fx f = FX();
  f.kc.t.dtype = FIC_BF16, f.vc.t.dtype = FIC_BF16; /* the kernel reads keys as the cache type */
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "dtype of append_key");
  f = FX(), f.kc.t.ndim = 3;
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "4-D");
  f = FX(), f.kc.shape[2] = 8, f.vc.shape[2] = 8;
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "heads");
  f = FX(), f.kc.shape[3] = 64, f.vc.shape[3] = 64;
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "head size");
  f = FX(), f.kc.shape[1] = 0, f.vc.shape[1] = 0;
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "page size");
  f = FX(), f.kc.shape[0] = 0, f.vc.shape[0] = 0;
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "no pages");
  f = FX(), f.vc.shape[0] = 9;
  KT_EXPECT_ARG(append(rt, &f), "paged_v_cache", "shape of paged_k_cache");
  f = FX(), kt_strides(&f.vc, 2 * 16 * 4 * 128, 4 * 128, 128, 1); /* pages 2 apart */
  KT_EXPECT_ARG(append(rt, &f), "paged_v_cache", "strides of paged_k_cache");
  f = FX(), f.vc.t.device.device_id = 2;
  KT_EXPECT_ARG(append(rt, &f), "paged_v_cache", "device");
  f = FX(), kt_strides(&f.kc, (int64_t)1 << 33, 512, 128, 1), kt_strides(&f.vc, (int64_t)1 << 33, 512, 128, 1);
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "32 bits");
  f = FX(), kt_strides(&f.kc, 16 * 512, 512, 128, 2), kt_strides(&f.vc, 16 * 512, 512, 128, 2);
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "last dimension");
  /* NHD-shaped caches with the HND layout: heads are read from shape[1]. */
  f = FX(), f.p.kv_layout = FIC_KV_LAYOUT_HND;
  KT_EXPECT_ARG(append(rt, &f), "paged_k_cache", "heads");
}

static void test_append_indices(void **state) {
  fic_runtime *rt = RT(state);
  page_fx f = FX();
  f.bi.t.dtype = FIC_I64;
  KT_EXPECT_ARG(append(rt, &f), "batch_indices", "int64");
  f = FX(), f.pos.t.dtype = FIC_I64;
  KT_EXPECT_ARG(append(rt, &f), "positions", "int32");
  f = FX(), f.idx.t.dtype = FIC_F32;
  KT_EXPECT_ARG(append(rt, &f), "kv_indices", "int32");
  f = FX(), f.bi.shape[0] = 4;
  KT_EXPECT_ARG(append(rt, &f), "batch_indices", "must be 5");
  f = FX(), f.pos.shape[0] = 6;
  KT_EXPECT_ARG(append(rt, &f), "positions", "must be 5");
  f = FX(), f.ptr.shape[0] = 2;
  KT_EXPECT_ARG(append(rt, &f), "kv_indptr", "batch size + 1");
  f = FX(), f.last.t.ndim = 2, f.last.shape[1] = 1;
  KT_EXPECT_ARG(append(rt, &f), "kv_last_page_len", "1-D");
  f = FX(), f.pos.t.device.device_id = 1;
  KT_EXPECT_ARG(append(rt, &f), "positions", "device");
  f = FX(), f.idx.t.device.device_type = FIC_DEVICE_CPU;
  KT_EXPECT_ARG(append(rt, &f), "kv_indices", "CUDA");
  f = FX(), kt_strides(&f.bi, 2, 0, 0, 0);
  KT_EXPECT_ARG(append(rt, &f), "batch_indices", "contiguous");
  f = FX(), f.ptr.t.data = NULL;
  KT_EXPECT_ARG(append(rt, &f), "kv_indptr", "NULL");
  f = FX(), f.idx.shape[0] = ((int64_t)UINT32_MAX / 16) + 1;
  KT_EXPECT_ARG(append(rt, &f), "kv_indices", "32-bit");
}

/* ------------------------------------------------------------ append_paged_mla_kv_cache */

typedef struct mla_fx {
  kt_desc ckv, kpe, ckv_cache, kpe_cache, bi, pos, idx, ptr, last;
  fic_append_paged_mla_kv_cache_params p;
} mla_fx;

static mla_fx mla_make(fic_dtype dt, int64_t nnz, int64_t P, int64_t page) {
  mla_fx f;
  f.ckv = kt_cuda(A_KEY, dt, 2, nnz, 512, 0, 0);
  f.kpe = kt_cuda(A_VAL, dt, 2, nnz, 64, 0, 0);
  f.ckv_cache = kt_cuda(A_KC, dt, 3, P, page, 512, 0);
  f.kpe_cache = kt_cuda(A_VC, dt, 3, P, page, 64, 0);
  f.bi = kt_cuda(A_BI, FIC_I32, 1, nnz, 0, 0, 0);
  f.pos = kt_cuda(A_POS, FIC_I32, 1, nnz, 0, 0, 0);
  f.idx = kt_cuda(A_IDX, FIC_I32, 1, P, 0, 0, 0);
  f.ptr = kt_cuda(A_PTR, FIC_I32, 1, 3, 0, 0, 0);
  f.last = kt_cuda(A_LAST, FIC_I32, 1, 2, 0, 0, 0);
  fic_append_paged_mla_kv_cache_params_init(&f.p);
  return f;
}

static fic_status mla(fic_runtime *rt, mla_fx *f) {
  f->p.append_ckv = kt_t(&f->ckv), f->p.append_kpe = kt_t(&f->kpe);
  f->p.ckv_cache = kt_t(&f->ckv_cache), f->p.kpe_cache = kt_t(&f->kpe_cache);
  f->p.batch_indices = kt_t(&f->bi), f->p.positions = kt_t(&f->pos);
  f->p.kv_indices = kt_t(&f->idx), f->p.kv_indptr = kt_t(&f->ptr), f->p.kv_last_page_len = kt_t(&f->last);
  return fic_append_paged_mla_kv_cache(rt, &f->p, NULL);
}

static void test_mla(void **state) {
  fic_runtime *rt = RT(state);
  mla_fx f = mla_make(FIC_BF16, 5, 4, 16);
  KT_EXPECT_STATUS(mla(rt, &f), FIC_ERR_NOT_FOUND);
  f = mla_make(F8E4M3, 5, 4, 1);
  KT_EXPECT_STATUS(mla(rt, &f), FIC_ERR_NOT_FOUND);
  f = mla_make(FIC_BF16, 0, 4, 16);
  FIC_ASSERT_OK(mla(rt, &f));
  KT_EXPECT_ARG(fic_append_paged_mla_kv_cache(NULL, &f.p, NULL), "rt", NULL);
  KT_EXPECT_ARG(fic_append_paged_mla_kv_cache(rt, NULL, NULL), "params", NULL);
  f.p.struct_size = 3;
  KT_EXPECT_ARG(fic_append_paged_mla_kv_cache(rt, &f.p, NULL), "params", "struct_size");
  f = mla_make(FIC_BF16, 5, 4, 16), f.ckv.shape[1] = 256;
  KT_EXPECT_ARG(mla(rt, &f), "append_ckv", "512");
  f = mla_make(FIC_F32, 5, 4, 16);
  KT_EXPECT_ARG(mla(rt, &f), "append_ckv", "bfloat16");
  f = mla_make(FIC_BF16, 5, 4, 16), f.kpe.shape[1] = 32;
  KT_EXPECT_ARG(mla(rt, &f), "append_kpe", "64");
  f = mla_make(FIC_BF16, 5, 4, 16), f.kpe.shape[0] = 4;
  KT_EXPECT_ARG(mla(rt, &f), "append_kpe", "appended entries");
  f = mla_make(FIC_BF16, 5, 4, 16), f.kpe.t.dtype = FIC_F16;
  KT_EXPECT_ARG(mla(rt, &f), "append_kpe", "dtype of append_ckv");
  f = mla_make(FIC_BF16, 5, 4, 16), f.ckv_cache.shape[2] = 576;
  KT_EXPECT_ARG(mla(rt, &f), "ckv_cache", "512");
  f = mla_make(FIC_BF16, 5, 4, 16), f.kpe_cache.shape[0] = 3;
  KT_EXPECT_ARG(mla(rt, &f), "kpe_cache", "pages");
  f = mla_make(FIC_BF16, 5, 4, 16), f.kpe_cache.shape[1] = 8;
  KT_EXPECT_ARG(mla(rt, &f), "kpe_cache", "page size");
  f = mla_make(FIC_BF16, 5, 4, 16), f.kpe_cache.t.device.device_id = 3; /* the wrapper never checks this one */
  KT_EXPECT_ARG(mla(rt, &f), "kpe_cache", "device");
  f = mla_make(FIC_BF16, 5, 4, 16), f.ckv.t.data = (void *)(A_KEY + 2);
  KT_EXPECT_ARG(mla(rt, &f), "append_ckv", "aligned");
  f = mla_make(FIC_BF16, 5, 4, 16), f.bi.t.dtype = FIC_I64;
  KT_EXPECT_ARG(mla(rt, &f), "batch_indices", "int64");
  f = mla_make(FIC_BF16, 5, 4, 16), f.last.shape[0] = 3;
  KT_EXPECT_ARG(mla(rt, &f), "kv_indptr", "batch size + 1");
}

/* ------------------------------------------------------------ cascade */

typedef struct state_fx {
  kt_desc v, s;
} state_fx;

static state_fx st_make(uintptr_t at, fic_dtype dt, int64_t seq, int64_t H, int64_t D) {
  state_fx f = {kt_cuda(at, dt, 3, seq, H, D, 0), kt_cuda(at + 0x10000000u, FIC_F32, 2, seq, H, 0, 0)};
  return f;
}

static fic_status merge(fic_runtime *rt, state_fx *a, state_fx *b, state_fx *m) {
  return fic_merge_state(rt, kt_t(&a->v), kt_t(&a->s), kt_t(&b->v), kt_t(&b->s), kt_t(&m->v), kt_t(&m->s), NULL);
}

#define ST3(dt, seq, H, D) \
  state_fx a = st_make(A_KEY, dt, seq, H, D), b = st_make(A_VAL, dt, seq, H, D), m = st_make(A_KC, dt, seq, H, D)

static void test_merge_state(void **state) {
  fic_runtime *rt = RT(state);
  {
    ST3(FIC_F16, 7, 4, 128);
    KT_EXPECT_STATUS(merge(rt, &a, &b, &m), FIC_ERR_NOT_FOUND);
    KT_EXPECT_ARG(fic_merge_state(NULL, kt_t(&a.v), kt_t(&a.s), kt_t(&b.v), kt_t(&b.s), kt_t(&m.v), kt_t(&m.s), NULL),
                  "rt", NULL);
    KT_EXPECT_ARG(fic_merge_state(rt, kt_t(&a.v), kt_t(&a.s), kt_t(&b.v), kt_t(&b.s), kt_t(&m.v), NULL, NULL),
                  "s_merged", "NULL");
  }
  {
    ST3(FIC_BF16, 0, 4, 128); /* empty: nothing to do */
    FIC_ASSERT_OK(merge(rt, &a, &b, &m));
  }
  struct {
    int what;
    const char *arg, *substr;
  } cases[] = {{0, "v_a", "float16"},
               {1, "s_a", "float32"},
               {2, "v_b", "shape of v_a"},
               {3, "s_b", "must be 7"},
               {4, "v_merged", "dtype of v_a"},
               {5, "s_merged", "contiguous"},
               {6, "v_a", "64, 128, 256 or 512"},
               {7, "v_a", "at most 64"},
               {8, "v_a", "contiguous"},
               {9, "v_merged", "device"},
               {10, "v_b", "aligned"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    ST3(FIC_F16, 7, 4, 128);
    switch (cases[i].what) {
      case 0:
        a.v.t.dtype = FIC_F32;
        break;
      case 1:
        a.s.t.dtype = FIC_F16;
        break;
      case 2:
        b.v.shape[1] = 2;
        break;
      case 3:
        b.s.shape[0] = 6;
        break;
      case 4:
        m.v.t.dtype = FIC_BF16;
        break;
      case 5:
        kt_strides(&m.s, 8, 1, 0, 0);
        break;
      case 6:
        a = st_make(A_KEY, FIC_F16, 7, 4, 96);
        break;
      case 7:
        a = st_make(A_KEY, FIC_F16, 7, 65, 128);
        break;
      case 8:
        kt_strides(&a.v, 4 * 256, 256, 1, 0);
        break;
      case 9:
        m.v.t.device.device_id = 1;
        break;
      default:
        b.v.t.data = (void *)(A_VAL + 8);
        break;
    }
    KT_EXPECT_ARG(merge(rt, &a, &b, &m), cases[i].arg, cases[i].substr);
  }
}

static void test_merge_state_in_place(void **state) {
  fic_runtime *rt = RT(state);
  state_fx v = st_make(A_KEY, FIC_BF16, 9, 8, 64), o = st_make(A_VAL, FIC_BF16, 9, 8, 64);
  kt_desc mask = kt_cuda(A_IDX, FIC_U8, 1, 9, 0, 0, 0);
  KT_EXPECT_STATUS(fic_merge_state_in_place(rt, kt_t(&v.v), kt_t(&v.s), kt_t(&o.v), kt_t(&o.s), NULL, NULL),
                   FIC_ERR_NOT_FOUND);
  KT_EXPECT_STATUS(fic_merge_state_in_place(rt, kt_t(&v.v), kt_t(&v.s), kt_t(&o.v), kt_t(&o.s), kt_t(&mask), NULL),
                   FIC_ERR_NOT_FOUND);
  mask.shape[0] = 8;
  KT_EXPECT_ARG(fic_merge_state_in_place(rt, kt_t(&v.v), kt_t(&v.s), kt_t(&o.v), kt_t(&o.s), kt_t(&mask), NULL), "mask",
                "must be 9");
  mask.shape[0] = 9, mask.t.dtype = FIC_F32;
  KT_EXPECT_ARG(fic_merge_state_in_place(rt, kt_t(&v.v), kt_t(&v.s), kt_t(&o.v), kt_t(&o.s), kt_t(&mask), NULL), "mask",
                "uint8");
  mask.t.dtype = FIC_U8, mask.t.device.device_id = 1;
  KT_EXPECT_ARG(fic_merge_state_in_place(rt, kt_t(&v.v), kt_t(&v.s), kt_t(&o.v), kt_t(&o.s), kt_t(&mask), NULL), "mask",
                "device");
  o.v.t.dtype = FIC_F16;
  KT_EXPECT_ARG(fic_merge_state_in_place(rt, kt_t(&v.v), kt_t(&v.s), kt_t(&o.v), kt_t(&o.s), NULL, NULL), "v_other",
                "dtype of v");
  o.v.t.dtype = FIC_BF16, o.s.shape[1] = 4;
  KT_EXPECT_ARG(fic_merge_state_in_place(rt, kt_t(&v.v), kt_t(&v.s), kt_t(&o.v), kt_t(&o.s), NULL, NULL), "s_other",
                "must be 8");
  KT_EXPECT_ARG(fic_merge_state_in_place(rt, kt_t(&v.v), NULL, kt_t(&o.v), kt_t(&o.s), NULL, NULL), "s", "NULL");
}

static void test_merge_states(void **state) {
  fic_runtime *rt = RT(state);
  kt_desc v = kt_cuda(A_KEY, FIC_F16, 4, 6, 3, 4, 256), s = kt_cuda(A_VAL, FIC_F32, 3, 6, 3, 4, 0),
          vm = kt_cuda(A_KC, FIC_F16, 3, 6, 4, 256, 0), sm = kt_cuda(A_VC, FIC_F32, 2, 6, 4, 0, 0);
#define MS() fic_merge_states(rt, kt_t(&v), kt_t(&s), kt_t(&vm), kt_t(&sm), NULL)
  KT_EXPECT_STATUS(MS(), FIC_ERR_NOT_FOUND);
  v.t.ndim = 3;
  KT_EXPECT_ARG(MS(), "v", "4-D");
  v.t.ndim = 4, v.shape[1] = 0;
  KT_EXPECT_ARG(MS(), "v", "number of states");
  v.shape[1] = 3, s.shape[1] = 2;
  KT_EXPECT_ARG(MS(), "s", "must be 3");
  s.shape[1] = 3, vm.shape[1] = 3;
  KT_EXPECT_ARG(MS(), "v_merged", "heads");
  vm.shape[1] = 4, vm.t.dtype = FIC_BF16;
  KT_EXPECT_ARG(MS(), "v_merged", "dtype of v");
  vm.t.dtype = FIC_F16, sm.shape[0] = 5;
  KT_EXPECT_ARG(MS(), "s_merged", "must be 6");
  sm.shape[0] = 6, v.shape[3] = 32;
  KT_EXPECT_ARG(MS(), "v", "64, 128, 256 or 512");
  v.shape[3] = 256, v.shape[0] = 0, s.shape[0] = 0, vm.shape[0] = 0, sm.shape[0] = 0;
  FIC_ASSERT_OK(MS()); /* empty: nothing to do */
#undef MS
}

/* ------------------------------------------------------------ host helpers */

static void expect_i32(const int32_t *got, const int32_t *want, size_t n, const char *what) {
  for (size_t i = 0; i < n; i++)
    if (got[i] != want[i]) fail_msg("%s[%zu] = %d, want %d", what, i, (int)got[i], (int)want[i]);
}

static void test_batch_indices_hand_worked(void **state) {
  (void)state;
  /* flashinfer.get_batch_indices_positions's docstring example. */
  const int32_t indptr[] = {0, 1, 3, 6, 10}, seq[] = {5, 5, 5, 5};
  const int32_t want_b[] = {0, 1, 1, 2, 2, 2, 3, 3, 3, 3}, want_p[] = {4, 3, 4, 2, 3, 4, 1, 2, 3, 4};
  int32_t b[10], p[10];
  FIC_ASSERT_OK(fic_batch_indices_positions(indptr, seq, 4, b, p, 10));
  expect_i32(b, want_b, 10, "batch_indices");
  expect_i32(p, want_p, 10, "positions");
  /* append_paged_kv_cache's docstring: 45 + 8 + 25 + 22 entries, page size 16. */
  const int32_t kv_indptr[] = {0, 3, 4, 6, 8}, last[] = {13, 8, 9, 6}, want_len[] = {45, 8, 25, 22};
  int32_t lens[4], ind2[] = {0, 45, 53, 78, 100}, bb[100], pp[100];
  FIC_ASSERT_OK(fic_paged_kv_seq_lens(kv_indptr, last, 16, 4, lens));
  expect_i32(lens, want_len, 4, "seq_lens");
  FIC_ASSERT_OK(fic_batch_indices_positions(ind2, lens, 4, bb, pp, 100));
  assert_int_equal(bb[44], 0), assert_int_equal(pp[44], 44);
  assert_int_equal(bb[45], 1), assert_int_equal(pp[45], 0);
  assert_int_equal(bb[99], 3), assert_int_equal(pp[99], 21);
  /* Empty requests, and a request with no pages at all. */
  const int32_t ind3[] = {0, 0, 2, 2}, seq3[] = {0, 7, 3}, want_b3[] = {1, 1}, want_p3[] = {5, 6};
  FIC_ASSERT_OK(fic_batch_indices_positions(ind3, seq3, 3, b, p, 2));
  expect_i32(b, want_b3, 2, "batch_indices"), expect_i32(p, want_p3, 2, "positions");
  const int32_t kv3[] = {5, 5, 6}, last3[] = {0, 1}, want3[] = {0, 1};
  FIC_ASSERT_OK(fic_paged_kv_seq_lens(kv3, last3, 1, 2, lens));
  expect_i32(lens, want3, 2, "seq_lens");
  FIC_ASSERT_OK(fic_batch_indices_positions(ind3, NULL, 0, NULL, NULL, 0)); /* no requests */
}

/* Naive references: the definitions, element by element. */
static void naive_positions(const int32_t *indptr, const int32_t *seq, int32_t B, int32_t *b_out, int32_t *p_out) {
  for (int32_t b = 0; b < B; b++)
    for (int32_t k = 0; k < indptr[b + 1] - indptr[b]; k++) {
      b_out[indptr[b] + k] = b;
      p_out[indptr[b] + k] = seq[b] - (indptr[b + 1] - indptr[b]) + k; /* the last appended is at seq-1 */
    }
}

static void test_host_helpers_random(void **state) {
  (void)state;
  ref_rng r;
  uint64_t seed = (uint64_t)time(NULL);
  print_message("seed %llu\n", (unsigned long long)seed);
  ref_rng_seed(&r, seed);
  for (int it = 0; it < 200; it++) {
    int32_t B = (int32_t)(ref_rng_next(&r) % 40), page = (int32_t)(1 + ref_rng_next(&r) % 32);
    int32_t kv_indptr[41], last[40], lens[40], want_len[40], indptr[41];
    kv_indptr[0] = (int32_t)(ref_rng_next(&r) % 5), indptr[0] = 0;
    for (int32_t b = 0; b < B; b++) {
      int32_t pages = (int32_t)(ref_rng_next(&r) % 6);
      kv_indptr[b + 1] = kv_indptr[b] + pages;
      last[b] = pages ? (int32_t)(1 + ref_rng_next(&r) % page) : 0;
      want_len[b] = (pages > 1 ? pages - 1 : 0) * page + last[b];
      indptr[b + 1] = indptr[b] + (int32_t)(want_len[b] ? ref_rng_next(&r) % (uint64_t)(want_len[b] + 1) : 0);
    }
    FIC_ASSERT_OK(fic_paged_kv_seq_lens(kv_indptr, last, page, B, lens));
    expect_i32(lens, want_len, (size_t)B, "seq_lens");
    int32_t nnz = indptr[B], *b1 = calloc((size_t)nnz + 1, 4), *p1 = calloc((size_t)nnz + 1, 4),
            *b2 = calloc((size_t)nnz + 1, 4), *p2 = calloc((size_t)nnz + 1, 4);
    FIC_ASSERT_OK(fic_batch_indices_positions(indptr, lens, B, b1, p1, nnz));
    naive_positions(indptr, lens, B, b2, p2);
    expect_i32(b1, b2, (size_t)nnz, "batch_indices");
    expect_i32(p1, p2, (size_t)nnz, "positions");
    free(b1), free(p1), free(b2), free(p2);
  }
}

/* Every bad input is refused, naming it, and nothing is written. */
static void test_host_helpers_bad_input(void **state) {
  (void)state;
  int32_t b[8], p[8], lens[4];
  const int32_t ok_ptr[] = {0, 2, 5}, ok_seq[] = {4, 3};
  memset(b, 0x5a, sizeof b), memset(p, 0x5a, sizeof p), memset(lens, 0x5a, sizeof lens);
  KT_EXPECT_ARG(fic_batch_indices_positions(NULL, ok_seq, 2, b, p, 5), "append_indptr", "NULL");
  KT_EXPECT_ARG(fic_batch_indices_positions(ok_ptr, NULL, 2, b, p, 5), "seq_lens", "NULL");
  KT_EXPECT_ARG(fic_batch_indices_positions(ok_ptr, ok_seq, 2, NULL, p, 5), "batch_indices", "NULL");
  KT_EXPECT_ARG(fic_batch_indices_positions(ok_ptr, ok_seq, 2, b, NULL, 5), "positions", "NULL");
  KT_EXPECT_ARG(fic_batch_indices_positions(ok_ptr, ok_seq, -1, b, p, 5), "batch_size", ">= 0");
  KT_EXPECT_ARG(fic_batch_indices_positions(ok_ptr, ok_seq, 2, b, p, 4), "nnz", "append_indptr[batch_size] (5)");
  const int32_t not_zero[] = {1, 2, 5}, decreasing[] = {0, 3, 2}, short_seq[] = {4, 2};
  KT_EXPECT_ARG(fic_batch_indices_positions(not_zero, ok_seq, 2, b, p, 5), "append_indptr", "[0] must be 0");
  KT_EXPECT_ARG(fic_batch_indices_positions(decreasing, ok_seq, 2, b, p, 2), "append_indptr", "never decrease");
  KT_EXPECT_ARG(fic_batch_indices_positions(ok_ptr, short_seq, 2, b, p, 5), "seq_lens", "at least the 3 entries");
  const int32_t kv_ptr[] = {0, 2, 3}, last[] = {4, 1}, big_last[] = {4, 5}, neg_last[] = {-1, 1};
  const int32_t kv_dec[] = {0, 2, 1}, kv_empty[] = {0, 0, 1}, huge[] = {0, 70000, 70001};
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(NULL, last, 4, 2, lens), "kv_indptr", "NULL");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_ptr, NULL, 4, 2, lens), "kv_last_page_len", "NULL");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_ptr, last, 4, 2, NULL), "seq_lens", "NULL");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_ptr, last, 0, 2, lens), "page_size", "> 0");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_ptr, last, 4, -2, lens), "batch_size", ">= 0");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_dec, last, 4, 2, lens), "kv_indptr", "never decrease");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_ptr, big_last, 4, 2, lens), "kv_last_page_len", "[0, 4]");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_ptr, neg_last, 4, 2, lens), "kv_last_page_len", "got -1");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(kv_empty, last, 4, 2, lens), "kv_last_page_len", "[0, 0]");
  KT_EXPECT_ARG(fic_paged_kv_seq_lens(huge, last, 65536, 2, lens), "kv_indptr", "more than");
  for (int i = 0; i < 8; i++) assert_int_equal(b[i], 0x5a5a5a5a), assert_int_equal(p[i], 0x5a5a5a5a);
  for (int i = 0; i < 4; i++) assert_int_equal(lens[i], 0x5a5a5a5a);
}

/* ------------------------------------------------------------ the real modules */

static int setup_real(void **state) {
  static const char *const modules[] = {"page", "cascade", NULL};
  const char *wheel = kt_attn_wheel();
  *state = wheel ? kt_try_open(wheel, modules) : NULL;
  return 0;
}

static fic_runtime *need_real(void **state) { return kt_need_rt(state, "no wheel with the real page/cascade modules"); }

/* The wrappers raise InternalError for their own checks. */
#define EXPECT_KERNEL(call, substr) KT_EXPECT_KERNEL((call), "InternalError", (substr))

static void page_args(page_fx *f, fic_arg *args) {
  kt_desc *d[9] = {&f->key, &f->value, &f->bi, &f->pos, &f->kc, &f->vc, &f->idx, &f->ptr, &f->last};
  for (int i = 0; i < 9; i++) args[i] = fic_arg_tensor(kt_t(d[i]));
  args[9] = fic_arg_int(f->p.kv_layout);
}

static void test_real_exports_and_arity(void **state) {
  fic_runtime *rt = need_real(state);
  fic_function *ap = kt_fn(rt, "page", "append_paged_kv_cache");
  kt_fn(rt, "page", "append_paged_mla_kv_cache");
  kt_fn(rt, "cascade", "merge_state");
  kt_fn(rt, "cascade", "merge_state_in_place");
  kt_fn(rt, "cascade", "merge_states");
  page_fx f = FX();
  fic_arg args[10];
  page_args(&f, args);
  KT_EXPECT_STATUS(fic_function_call(ap, args, 9, -1, NULL, NULL), FIC_ERR_ABI);
  assert_non_null(strstr(fic_last_error_message(), "10"));
  ST3(FIC_F16, 7, 4, 128);
  fic_arg margs[6] = {fic_arg_tensor(kt_t(&a.v)), fic_arg_tensor(kt_t(&a.s)), fic_arg_tensor(kt_t(&b.v)),
                      fic_arg_tensor(kt_t(&b.s)), fic_arg_tensor(kt_t(&m.v)), fic_arg_tensor(kt_t(&m.s))};
  KT_EXPECT_STATUS(fic_function_call(kt_fn(rt, "cascade", "merge_state"), margs, 5, -1, NULL, NULL), FIC_ERR_ABI);
  KT_EXPECT_STATUS(fic_function_call(kt_fn(rt, "cascade", "merge_states"), margs, 6, -1, NULL, NULL), FIC_ERR_ABI);
  KT_EXPECT_STATUS(fic_function_call(kt_fn(rt, "cascade", "merge_state_in_place"), margs, 6, -1, NULL, NULL),
                   FIC_ERR_ABI);
}

/* The wrappers' own checks, reached through the generic path (our
 * validation would refuse these calls first). */
static void test_real_wrapper_errors(void **state) {
  fic_runtime *rt = need_real(state);
  fic_function *ap = kt_fn(rt, "page", "append_paged_kv_cache");
  page_fx f = FX();
  fic_arg args[10];
  f.key.t.device.device_type = FIC_DEVICE_CPU;
  page_args(&f, args);
  /* append_key is never checked for CUDA itself, only against append_value's device. */
  EXPECT_KERNEL(fic_function_call(ap, args, 10, -1, NULL, NULL),
                "append_value.device().device_type == append_key.device().device_type (2 vs. 1)");
  f = FX(), f.bi.t.device.device_type = FIC_DEVICE_CPU;
  page_args(&f, args);
  EXPECT_KERNEL(fic_function_call(ap, args, 10, -1, NULL, NULL), "batch_indices must be a CUDA tensor");
  f = FX(), f.ptr.shape[0] = 4;
  page_args(&f, args);
  EXPECT_KERNEL(fic_function_call(ap, args, 10, -1, NULL, NULL), "kv_indptr.size(0) == batch_size + 1");
  f = FX(), f.kc.shape[2] = 8, f.vc.shape[2] = 8;
  page_args(&f, args);
  EXPECT_KERNEL(fic_function_call(ap, args, 10, -1, NULL, NULL), "append_key.size(1) == num_heads");
  ST3(FIC_F16, 7, 4, 128);
  b.v.shape[1] = 2;
  fic_arg margs[6] = {fic_arg_tensor(kt_t(&a.v)), fic_arg_tensor(kt_t(&a.s)), fic_arg_tensor(kt_t(&b.v)),
                      fic_arg_tensor(kt_t(&b.s)), fic_arg_tensor(kt_t(&m.v)), fic_arg_tensor(kt_t(&m.s))};
  EXPECT_KERNEL(fic_function_call(kt_fn(rt, "cascade", "merge_state"), margs, 6, -1, NULL, NULL),
                "v_a.size(1) and v_b.size(1) mismatch");
}

/* A valid typed call passes our checks and the wrapper's, then fails where
 * it first needs CUDA: an error with the wrapper's message, not a crash.
 * Skipped where a GPU is present (the fake pointers would be launched on). */
static void test_real_valid_call_without_gpu(void **state) {
  fic_runtime *rt = need_real(state);
  kt_skip_if_gpu(rt);
  page_fx f = FX();
  fic_status s = append(rt, &f);
  print_message("no-GPU append: %s: %s: %s\n", fic_status_string(s), fic_last_error_kind(), fic_last_error_message());
  assert_true(s == FIC_ERR_KERNEL || s == FIC_ERR_CUDA);
  /* Without a driver the wrapper's device guard raises (cudaSetDevice). */
  if (s == FIC_ERR_KERNEL) assert_non_null(strstr(fic_last_error_message(), "CUDA"));
  ST3(FIC_BF16, 7, 4, 128);
  s = merge(rt, &a, &b, &m);
  print_message("no-GPU merge_state: %s: %s: %s\n", fic_status_string(s), fic_last_error_kind(),
                fic_last_error_message());
  assert_true(s == FIC_ERR_KERNEL || s == FIC_ERR_CUDA);
}

int main(void) {
  const struct CMUnitTest validation[] = {
      cmocka_unit_test(test_append_accepts),      cmocka_unit_test(test_append_params),
      cmocka_unit_test(test_append_key_value),    cmocka_unit_test(test_append_caches),
      cmocka_unit_test(test_append_indices),      cmocka_unit_test(test_mla),
      cmocka_unit_test(test_merge_state),         cmocka_unit_test(test_merge_state_in_place),
      cmocka_unit_test(test_merge_states),        cmocka_unit_test(test_batch_indices_hand_worked),
      cmocka_unit_test(test_host_helpers_random), cmocka_unit_test(test_host_helpers_bad_input),
  };
  const struct CMUnitTest real[] = {
      cmocka_unit_test(test_real_exports_and_arity),
      cmocka_unit_test(test_real_wrapper_errors),
      cmocka_unit_test(test_real_valid_call_without_gpu),
  };
  return kt_groups_status(cmocka_run_group_tests(validation, setup, kt_teardown),
                          cmocka_run_group_tests(real, setup_real, kt_teardown));
}
