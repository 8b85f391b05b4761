/* SPDX-License-Identifier: Apache-2.0 */
/* The one rule for a tensor descriptor, shared by the generic API
 * (generic.c) and the typed kernels (src/kernels/validate.c), so both agree
 * on what a well-formed tensor is. */
#ifndef FIC_FFI_TENSOR_H
#define FIC_FFI_TENSOR_H

#include <stdint.h>

#include "flashinfer_c.h"

/* `t` (named `name` in messages and fic_last_error_argument) is non-NULL;
 * 0 <= ndim <= max_ndim; shape is non-NULL when ndim > 0; every extent is
 * >= 0 (0: an empty tensor, accepted; negative: refused); the element count
 * fits in int64 (written to *numel); byte_offset is 0 (FlashInfer ignores
 * it). When t->strides is NULL, contiguous row-major strides are written to
 * `strides` (which holds max_ndim entries), as TVM-FFI's IsContiguous()
 * expects them: each stride is the product of the extents after it. */
fic_status fic__tensor_check(const fic_tensor *t, const char *name, int32_t max_ndim, int64_t *strides, int64_t *numel);

#endif
