/* SPDX-License-Identifier: Apache-2.0 */
/* Argument checks shared by the typed kernels. Every failure names the
 * offending argument (fic_last_error_argument) and says what was expected
 * and what was given.
 *
 * FlashInfer's wrappers check less than they read: they read strides
 * unconditionally, ignore byte_offset, never check an output's dtype, and
 * several kernels ignore strides altogether. The checks here close those
 * holes before anything reaches the GPU, where a bad descriptor would be a
 * silent wrong answer or a sticky "illegal address" that kills the context. */
#ifndef FIC_KERNELS_VALIDATE_H
#define FIC_KERNELS_VALIDATE_H

#include <stdint.h>

#include "common/error.h"
#include "flashinfer_c.h"

#define FIC_VT_MAX_NDIM 4

/* Brace initialisers for static dtype tables (the public FIC_F16 ... are
 * compound literals, which a static initialiser may not use). */
// clang-format off
#define FIC_DT_F16 {FIC_DTYPE_FLOAT, 16, 1}
#define FIC_DT_BF16 {FIC_DTYPE_BFLOAT, 16, 1}
#define FIC_DT_F32 {FIC_DTYPE_FLOAT, 32, 1}
#define FIC_DT_I64 {FIC_DTYPE_INT, 64, 1}
#define FIC_DT_I32 {FIC_DTYPE_INT, 32, 1}
#define FIC_DT_BOOL8 {FIC_DTYPE_BOOL, 8, 1}
#define FIC_DT_U8 {FIC_DTYPE_UINT, 8, 1}
#define FIC_DT_F8E4M3FN {FIC_DTYPE_FLOAT8_E4M3FN, 8, 1}
#define FIC_DT_F8E5M2 {FIC_DTYPE_FLOAT8_E5M2, 8, 1}
// clang-format on

/* A validated tensor: a stack copy of the caller's descriptor with strides
 * always filled in (contiguous ones when the caller passed NULL), so the
 * kernel never dereferences a NULL stride array. `t.strides` points into
 * this struct: initialise it in place and never copy it by value. */
typedef struct fic_vt {
  fic_tensor t;
  int64_t strides[FIC_VT_MAX_NDIM];
  int64_t numel;
  const char *name;
} fic_vt;

/* Check what every CUDA tensor argument needs and fill `vt`:
 * non-NULL; min_ndim <= ndim <= max_ndim; shape present and non-negative;
 * device_type CUDA and device_id >= 0; byte_offset 0; lanes 1; data non-NULL
 * unless the tensor is empty; strides non-negative (filled in when NULL). */
fic_status fic__vt_init(fic_vt *vt, const fic_tensor *t, const char *name, int32_t min_ndim, int32_t max_ndim);

/* dtype is one of `allowed` (n entries). */
fic_status fic__vt_dtype(const fic_vt *vt, const fic_dtype *allowed, int n);
/* Same dtype / device / shape as `ref`. */
fic_status fic__vt_same_dtype(const fic_vt *vt, const fic_vt *ref);
fic_status fic__vt_same_device(const fic_vt *vt, const fic_vt *ref);
fic_status fic__vt_same_shape(const fic_vt *vt, const fic_vt *ref);
/* shape[dim] == want; `what` says where `want` comes from ("hidden size of input"). */
fic_status fic__vt_dim(const fic_vt *vt, int dim, int64_t want, const char *what);
/* shape[dim] > 0. */
fic_status fic__vt_dim_positive(const fic_vt *vt, int dim, const char *what);
/* stride[ndim-1] == 1 (or the last extent is <= 1). */
fic_status fic__vt_last_contiguous(const fic_vt *vt);
/* Row-major contiguous (strides of extent-1 dimensions are ignored). */
fic_status fic__vt_contiguous(const fic_vt *vt);
/* data is a multiple of `bytes`; `why` names the reason ("16-byte vector loads"). */
fic_status fic__vt_aligned(const fic_vt *vt, unsigned bytes, const char *why);
/* Every outer stride (dims 0..ndim-2 of extent > 1) is a multiple of `mult`
 * elements, so each row starts as aligned as the base pointer. */
fic_status fic__vt_outer_strides_multiple(const fic_vt *vt, int64_t mult, const char *why);
/* The largest element offset the kernel forms, sum((shape[i]-1)*stride[i]),
 * fits in `max` (FlashInfer's norm kernels index with 32-bit arithmetic). */
fic_status fic__vt_offsets_fit(const fic_vt *vt, uint64_t max, const char *why);

/* A versioned parameters struct (docs/architecture.md, "Conventions"): copy
 * the first in->struct_size bytes of `in` over `out`, which holds the
 * defaults and is `full` bytes. NULL, a size of 0, one larger than `full` or
 * one that is not a multiple of 8 is refused naming `name`; `init` is the
 * public _init function's name for the message. Afterwards out->struct_size is
 * `full`. */
fic_status fic__load_params(const void *in, void *out, size_t full, const char *name, const char *init);
/* A params struct's _init(): zero `size` bytes and set struct_size = size;
 * FIC_ERR_INVALID_ARGUMENT naming `name` when `params` is NULL. */
fic_status fic__params_reset(void *params, size_t size, const char *name);
/* Declare `local` of `type`, fill it with type's defaults (type##_init) and
 * load the caller's struct `in` over them, returning on failure. */
#define FIC_LOAD_PARAMS(type, local, in) \
  type local;                            \
  FIC_CHECK(type##_init(&local));        \
  FIC_CHECK(fic__load_params((in), &local, sizeof local, "params", #type "_init"))

/* A finite double, and optionally >= 0 / != 0. */
fic_status fic__check_finite(const char *name, double x, int nonnegative, int nonzero);

/* "float16", "bfloat16", ..., or "dtype(code=C,bits=B,lanes=L)" written into buf. */
const char *fic__dtype_name(fic_dtype d, char *buf, size_t size);
int fic__dtype_eq(fic_dtype a, fic_dtype b);

#endif
