/* SPDX-License-Identifier: Apache-2.0 */
/* Checks shared by page.so's two appends (page.c, page_mla.c). */
#ifndef FIC_KERNELS_PAGE_ARGS_H
#define FIC_KERNELS_PAGE_ARGS_H

#include "kernels/validate.h"

typedef struct fic__page_index_tensors {
  const fic_tensor *batch_indices, *positions, *kv_indices, *kv_indptr, *kv_last_page_len;
} fic__page_index_tensors;

typedef struct fic__page_index_args {
  fic_vt batch_indices, positions, kv_indices, kv_indptr, kv_last_page_len;
} fic__page_index_args;

/* batch_indices and positions [nnz], kv_indices, kv_indptr [B+1] and
 * kv_last_page_len [B]: 1-D contiguous int32 on ref's device; the page ids
 * times page_size fit the kernel's 32-bit entry offsets. */
fic_status fic__page_check_indices(fic__page_index_args *ix, const fic__page_index_tensors *t, const fic_vt *ref,
                                   int64_t nnz, int64_t page_size);
/* An appended tensor or a cache of rank `ndim`: a cache dtype (that of `ref`
 * and on its device when ref is given), last dimension contiguous, and when
 * vec > 0 aligned for the kernel's copies of `vec` elements. */
fic_status fic__page_check_data(fic_vt *vt, const fic_tensor *t, const char *name, int32_t ndim, const fic_vt *ref,
                                int64_t vec);
/* Every stride fits the kernel's uint32 fields. */
fic_status fic__page_check_strides_u32(const fic_vt *vt);
/* nnz fits int32 and, when non-zero, the cache has pages. */
fic_status fic__page_check_nnz(const fic_vt *append, const fic_vt *cache);

#endif
