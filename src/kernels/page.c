/* SPDX-License-Identifier: Apache-2.0 */
/* page.so of FlashInfer 0.6.3 (csrc/page.cu, include/flashinfer/page.cuh):
 * append_paged_kv_cache and append_paged_mla_kv_cache.
 *
 * What the checks below add to the wrapper's:
 *  - The kernel reads the appended keys as the cache's element type and the
 *    index tensors as int32 (FlashInfer's Python casts them first), but the
 *    wrapper checks neither: a dtype mismatch would copy garbage.
 *  - It never checks the V cache's shape, the positions' / batch indices'
 *    devices, or (MLA) the kpe cache's device.
 *  - The kernels copy 16-byte vectors (MLA: 2 elements), keep the cache
 *    strides in uint32 and form page offsets in 32 bits; the launch has
 *    (D / vector) x H threads, at most 1024; nnz == 0 launches an empty grid,
 *    which CUDA refuses, so it returns before the call.
 * Not checked (they live on the GPU): index values. An out-of-range page id,
 * batch index or position writes outside the caches. */
#include <stdint.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/module_names.h"
#include "kernels/page_args.h"

static const fic_dtype k_cache_types[] = {FIC_DT_F16, FIC_DT_BF16, FIC_DT_F8E4M3FN, FIC_DT_F8E5M2};

fic_status fic_append_paged_kv_cache_params_init(fic_append_paged_kv_cache_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  params->kv_layout = FIC_KV_LAYOUT_NHD;
  return FIC_OK;
}

fic_status fic_append_paged_mla_kv_cache_params_init(fic_append_paged_mla_kv_cache_params *params) {
  FIC_CHECK(fic__params_reset(params, sizeof *params, "params"));
  return FIC_OK;
}

_Static_assert(sizeof(fic_append_paged_kv_cache_params) % 8 == 0, "fields are 8 bytes wide");
_Static_assert(sizeof(fic_append_paged_mla_kv_cache_params) % 8 == 0, "fields are 8 bytes wide");

/* A 1-D contiguous int32 tensor on `ref`'s device; int64 gets its own hint. */
static fic_status check_index(fic_vt *vt, const fic_tensor *t, const char *name, const fic_vt *ref) {
  static const fic_dtype i32[] = {FIC_DT_I32};
  FIC_CHECK(fic__vt_init(vt, t, name, 1, 1));
  if (vt->t.dtype.code == FIC_DTYPE_INT && vt->t.dtype.bits == 64)
    return fic__fail_arg(name, "%s must be int32, got int64: FlashInfer's page kernels read int32 indices", name);
  FIC_CHECK(fic__vt_dtype(vt, i32, 1));
  FIC_CHECK(fic__vt_same_device(vt, ref));
  return fic__vt_contiguous(vt);
}

/* batch_indices, positions [nnz]; kv_indices; kv_indptr [B+1];
 * kv_last_page_len [B], B >= 0. Writes the batch size. */
fic_status fic__page_check_indices(fic__page_index_args *ix, const fic__page_index_tensors *t, const fic_vt *ref,
                                   int64_t nnz, int64_t page_size) {
  FIC_CHECK(check_index(&ix->batch_indices, t->batch_indices, "batch_indices", ref));
  FIC_CHECK(fic__vt_dim(&ix->batch_indices, 0, nnz, "appended entries, the appended tensors' shape[0]"));
  FIC_CHECK(check_index(&ix->positions, t->positions, "positions", ref));
  FIC_CHECK(fic__vt_dim(&ix->positions, 0, nnz, "appended entries, the appended tensors' shape[0]"));
  FIC_CHECK(check_index(&ix->kv_indices, t->kv_indices, "kv_indices", ref));
  FIC_CHECK(check_index(&ix->kv_last_page_len, t->kv_last_page_len, "kv_last_page_len", ref));
  FIC_CHECK(check_index(&ix->kv_indptr, t->kv_indptr, "kv_indptr", ref));
  FIC_CHECK(fic__vt_dim(&ix->kv_indptr, 0, ix->kv_last_page_len.t.shape[0] + 1,
                        "batch size + 1, kv_last_page_len.shape[0] + 1"));
  /* page = indptr[b] * page_size + position, in 32-bit unsigned arithmetic. */
  if (ix->kv_indices.t.shape[0] > (int64_t)UINT32_MAX / page_size)
    return fic__fail_arg("kv_indices",
                         "kv_indices holds %lld page ids of %lld entries: the kernel addresses entries with 32-bit "
                         "offsets, so at most %lld page ids are allowed",
                         (long long)ix->kv_indices.t.shape[0], (long long)page_size,
                         (long long)((int64_t)UINT32_MAX / page_size));
  return FIC_OK;
}

/* The kernel's vector: max(16 bytes, D/32 elements); D / vector threads per head. */
static int64_t vector_elems(int64_t head_dim, unsigned elem_bytes) {
  int64_t v16 = 16 / (int64_t)elem_bytes, vd = head_dim / 32;
  return v16 > vd ? v16 : vd;
}

/* An appended tensor or a cache: supported dtype (that of `ref` if given),
 * ref's device, last dimension contiguous, 16-byte vectors aligned. */
fic_status fic__page_check_data(fic_vt *vt, const fic_tensor *t, const char *name, int32_t ndim, const fic_vt *ref,
                                int64_t vec) {
  FIC_CHECK(fic__vt_init(vt, t, name, ndim, ndim));
  if (ref) {
    FIC_CHECK(fic__vt_same_dtype(vt, ref));
    FIC_CHECK(fic__vt_same_device(vt, ref));
  } else {
    FIC_CHECK(fic__vt_dtype(vt, k_cache_types, 4));
  }
  FIC_CHECK(fic__vt_last_contiguous(vt));
  if (vec <= 0) return FIC_OK;
  unsigned bytes = (unsigned)(vec * (vt->t.dtype.bits / 8));
  FIC_CHECK(fic__vt_aligned(vt, bytes > 16 ? 16 : bytes, "the kernel's vector copies"));
  return fic__vt_outer_strides_multiple(vt, bytes > 16 ? 16 / (vt->t.dtype.bits / 8) : vec,
                                        "every row must stay aligned for vector copies");
}

/* The caches' strides are kept in uint32 by the kernel's paged_kv_t. */
fic_status fic__page_check_strides_u32(const fic_vt *vt) {
  for (int32_t i = 0; i < vt->t.ndim; i++)
    if ((uint64_t)vt->strides[i] > UINT32_MAX)
      return fic__fail_arg(vt->name, "%s.strides[%d] is %lld: the kernel keeps cache strides in 32 bits", vt->name,
                           (int)i, (long long)vt->strides[i]);
  return FIC_OK;
}

fic_status fic__page_check_nnz(const fic_vt *append, const fic_vt *cache) {
  int64_t nnz = append->t.shape[0];
  if (nnz > INT32_MAX)
    return fic__fail_arg(append->name, "%s.shape[0] (appended entries) must be at most %d, got %lld", append->name,
                         INT32_MAX, (long long)nnz);
  if (nnz > 0 && cache->t.shape[0] == 0)
    return fic__fail_arg(cache->name, "%s has no pages, but %lld entries are to be appended", cache->name,
                         (long long)nnz);
  return FIC_OK;
}

typedef struct append_args {
  fic_vt key, value, k_cache, v_cache;
  fic__page_index_args ix;
} append_args;

/* K and V caches: 4-D, the key's dtype, identical shapes and strides. */
static fic_status check_caches(append_args *a, const fic_append_paged_kv_cache_params *p, int64_t vec) {
  FIC_CHECK(fic__page_check_data(&a->k_cache, p->paged_k_cache, "paged_k_cache", 4, &a->key, vec));
  FIC_CHECK(fic__page_check_data(&a->v_cache, p->paged_v_cache, "paged_v_cache", 4, &a->key, vec));
  FIC_CHECK(fic__vt_same_shape(&a->v_cache, &a->k_cache));
  if (memcmp(a->v_cache.strides, a->k_cache.strides, 4 * sizeof(int64_t)) != 0)
    return fic__fail_arg("paged_v_cache",
                         "paged_v_cache must have the strides of paged_k_cache (the kernel reads "
                         "one set of strides for both)");
  FIC_CHECK(fic__page_check_strides_u32(&a->k_cache));
  return fic__page_check_nnz(&a->key, &a->k_cache);
}

/* The cache's page_size / heads / head_dim per layout match the key's. */
static fic_status check_cache_dims(const append_args *a, int64_t layout, int64_t *page_size) {
  int hnd = layout == FIC_KV_LAYOUT_HND;
  const char *what_heads = "heads, append_key.shape[1]", *what_dim = "head size, append_key.shape[2]";
  FIC_CHECK(fic__vt_dim(&a->k_cache, hnd ? 1 : 2, a->key.t.shape[1], what_heads));
  FIC_CHECK(fic__vt_dim(&a->k_cache, 3, a->key.t.shape[2], what_dim));
  FIC_CHECK(fic__vt_dim_positive(&a->k_cache, hnd ? 2 : 1, "page size"));
  *page_size = a->k_cache.t.shape[hnd ? 2 : 1];
  return FIC_OK;
}

/* append_key [nnz, H, D], D in {64, 128, 256, 512}, (D / vector) x H <= 1024 threads. */
static fic_status check_key(append_args *a, const fic_append_paged_kv_cache_params *p, int64_t *vec) {
  FIC_CHECK(fic__page_check_data(&a->key, p->append_key, "append_key", 3, NULL, 0));
  int64_t heads = a->key.t.shape[1], dim = a->key.t.shape[2];
  FIC_CHECK(fic__vt_dim_positive(&a->key, 1, "heads"));
  if (dim != 64 && dim != 128 && dim != 256 && dim != 512)
    return fic__fail_arg("append_key", "append_key.shape[2] (head size) must be 64, 128, 256 or 512, got %lld",
                         (long long)dim);
  *vec = vector_elems(dim, a->key.t.dtype.bits / 8);
  if (dim / *vec * heads > 1024)
    return fic__fail_arg("append_key",
                         "append_key has %lld heads: the kernel runs %lld threads per head in one block of at most "
                         "1024, so at most %lld heads",
                         (long long)heads, (long long)(dim / *vec), (long long)(1024 / (dim / *vec)));
  FIC_CHECK(fic__page_check_data(&a->key, p->append_key, "append_key", 3, NULL, *vec));
  FIC_CHECK(fic__page_check_data(&a->value, p->append_value, "append_value", 3, &a->key, *vec));
  return fic__vt_same_shape(&a->value, &a->key);
}

static fic_status check_append(append_args *a, const fic_append_paged_kv_cache_params *p) {
  if (p->kv_layout != FIC_KV_LAYOUT_NHD && p->kv_layout != FIC_KV_LAYOUT_HND)
    return fic__fail_arg("kv_layout", "kv_layout must be FIC_KV_LAYOUT_NHD (0) or FIC_KV_LAYOUT_HND (1), got %lld",
                         (long long)p->kv_layout);
  int64_t vec = 0, page_size = 0;
  FIC_CHECK(check_key(a, p, &vec));
  FIC_CHECK(check_caches(a, p, vec));
  FIC_CHECK(check_cache_dims(a, p->kv_layout, &page_size));
  fic__page_index_tensors t = {p->batch_indices, p->positions, p->kv_indices, p->kv_indptr, p->kv_last_page_len};
  return fic__page_check_indices(&a->ix, &t, &a->key, a->key.t.shape[0], page_size);
}

fic_status fic_append_paged_kv_cache(fic_runtime *rt, const fic_append_paged_kv_cache_params *params, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  FIC_LOAD_PARAMS(fic_append_paged_kv_cache_params, p, params);
  append_args a;
  FIC_CHECK(check_append(&a, &p));
  if (a.key.t.shape[0] == 0) return FIC_OK;
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, FIC_SLOT_APPEND_PAGED_KV_CACHE, FIC__MOD_PAGE, "append_paged_kv_cache",
                                       stream, &fn));
  /* The 0.6.3 wrapper's 10 parameters, in its order (csrc/page.cu). */
  fic_any args[10] = {fic__any_ptr_tensor(&a.key.t),
                      fic__any_ptr_tensor(&a.value.t),
                      fic__any_ptr_tensor(&a.ix.batch_indices.t),
                      fic__any_ptr_tensor(&a.ix.positions.t),
                      fic__any_ptr_tensor(&a.k_cache.t),
                      fic__any_ptr_tensor(&a.v_cache.t),
                      fic__any_ptr_tensor(&a.ix.kv_indices.t),
                      fic__any_ptr_tensor(&a.ix.kv_indptr.t),
                      fic__any_ptr_tensor(&a.ix.kv_last_page_len.t),
                      fic__any_int(p.kv_layout)};
  return fic__call(fn, args, 10, a.key.t.device.device_id, stream, NULL);
}
