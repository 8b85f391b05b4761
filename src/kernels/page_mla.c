/* SPDX-License-Identifier: Apache-2.0 */
/* append_paged_mla_kv_cache of page.so (FlashInfer 0.6.3, csrc/page.cu,
 * AppendPagedKVMlaCache in include/flashinfer/page.cuh). The kernel is
 * compiled for ckv 512 and kpe 64 only, copies 2 elements per thread and
 * keeps the page and entry strides of both caches in uint32; the wrapper
 * never checks kpe_cache's device nor the caches' page counts. See page.c
 * for what is shared with append_paged_kv_cache. */
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/module_names.h"
#include "kernels/page_args.h"

#define FIC_MLA_CKV_DIM 512
#define FIC_MLA_KPE_DIM 64
#define FIC_MLA_VEC 2

typedef struct mla_args {
  fic_vt ckv, kpe, ckv_cache, kpe_cache;
  fic__page_index_args ix;
} mla_args;

static fic_status check_appended(mla_args *a, const fic_append_paged_mla_kv_cache_params *p) {
  FIC_CHECK(fic__page_check_data(&a->ckv, p->append_ckv, "append_ckv", 2, NULL, FIC_MLA_VEC));
  FIC_CHECK(fic__vt_dim(&a->ckv, 1, FIC_MLA_CKV_DIM, "the compressed KV size FlashInfer 0.6.3 supports"));
  FIC_CHECK(fic__page_check_data(&a->kpe, p->append_kpe, "append_kpe", 2, &a->ckv, FIC_MLA_VEC));
  FIC_CHECK(fic__vt_dim(&a->kpe, 0, a->ckv.t.shape[0], "appended entries, append_ckv.shape[0]"));
  return fic__vt_dim(&a->kpe, 1, FIC_MLA_KPE_DIM, "the rope part's size FlashInfer 0.6.3 supports");
}

static fic_status check_caches(mla_args *a, const fic_append_paged_mla_kv_cache_params *p) {
  FIC_CHECK(fic__page_check_data(&a->ckv_cache, p->ckv_cache, "ckv_cache", 3, &a->ckv, FIC_MLA_VEC));
  FIC_CHECK(fic__vt_dim_positive(&a->ckv_cache, 1, "page size"));
  FIC_CHECK(fic__vt_dim(&a->ckv_cache, 2, FIC_MLA_CKV_DIM, "append_ckv.shape[1]"));
  FIC_CHECK(fic__page_check_data(&a->kpe_cache, p->kpe_cache, "kpe_cache", 3, &a->ckv, FIC_MLA_VEC));
  FIC_CHECK(fic__vt_dim(&a->kpe_cache, 0, a->ckv_cache.t.shape[0], "pages, ckv_cache.shape[0]"));
  FIC_CHECK(fic__vt_dim(&a->kpe_cache, 1, a->ckv_cache.t.shape[1], "page size, ckv_cache.shape[1]"));
  FIC_CHECK(fic__vt_dim(&a->kpe_cache, 2, FIC_MLA_KPE_DIM, "append_kpe.shape[1]"));
  FIC_CHECK(fic__page_check_strides_u32(&a->ckv_cache));
  FIC_CHECK(fic__page_check_strides_u32(&a->kpe_cache));
  return fic__page_check_nnz(&a->ckv, &a->ckv_cache);
}

fic_status fic_append_paged_mla_kv_cache(fic_runtime *rt, const fic_append_paged_mla_kv_cache_params *params,
                                         void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  FIC_LOAD_PARAMS(fic_append_paged_mla_kv_cache_params, p, params);
  mla_args a;
  FIC_CHECK(check_appended(&a, &p));
  FIC_CHECK(check_caches(&a, &p));
  fic__page_index_tensors t = {p.batch_indices, p.positions, p.kv_indices, p.kv_indptr, p.kv_last_page_len};
  FIC_CHECK(fic__page_check_indices(&a.ix, &t, &a.ckv, a.ckv.t.shape[0], a.ckv_cache.t.shape[1]));
  if (a.ckv.t.shape[0] == 0) return FIC_OK;
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, FIC_SLOT_APPEND_PAGED_MLA_KV_CACHE, FIC__MOD_PAGE,
                                       "append_paged_mla_kv_cache", stream, &fn));
  /* The 0.6.3 wrapper's 9 parameters, in its order (csrc/page.cu). */
  fic_any args[9] = {fic__any_ptr_tensor(&a.ckv.t),
                     fic__any_ptr_tensor(&a.kpe.t),
                     fic__any_ptr_tensor(&a.ix.batch_indices.t),
                     fic__any_ptr_tensor(&a.ix.positions.t),
                     fic__any_ptr_tensor(&a.ckv_cache.t),
                     fic__any_ptr_tensor(&a.kpe_cache.t),
                     fic__any_ptr_tensor(&a.ix.kv_indices.t),
                     fic__any_ptr_tensor(&a.ix.kv_indptr.t),
                     fic__any_ptr_tensor(&a.ix.kv_last_page_len.t)};
  return fic__call(fn, args, 9, a.ckv.t.device.device_id, stream, NULL);
}
