/* SPDX-License-Identifier: Apache-2.0 */
/* See tensor.h. FlashInfer and TVM-FFI read shape and strides without
 * checks: a negative extent or a NULL shape would be read as a huge size. */
#include "ffi/tensor.h"

#include "common/error.h"

static fic_status check_extents(const fic_tensor *t, const char *name, int64_t *numel) {
  int64_t n = 1;
  for (int32_t i = 0; i < t->ndim; i++) {
    int64_t e = t->shape[i];
    if (e < 0) return fic__fail_arg(name, "%s.shape[%d] must be >= 0, got %lld", name, (int)i, (long long)e);
    if (e != 0 && n > INT64_MAX / e) return fic__fail_arg(name, "%s has too many elements", name);
    n *= e;
  }
  *numel = n;
  return FIC_OK;
}

fic_status fic__tensor_check(const fic_tensor *t, const char *name, int32_t max_ndim, int64_t *strides,
                             int64_t *numel) {
  if (!t) return fic__fail_arg(name, "%s must not be NULL", name);
  if (t->ndim < 0 || t->ndim > max_ndim)
    return fic__fail_arg(name, "%s has ndim %d; 0 to %d supported here%s", name, (int)t->ndim, (int)max_ndim,
                         t->strides ? "" : " with NULL strides (pass strides explicitly)");
  if (t->ndim > 0 && !t->shape) return fic__fail_arg(name, "%s.shape must not be NULL", name);
  if (t->byte_offset != 0)
    return fic__fail_arg(name,
                         "%s.byte_offset must be 0, got %llu: FlashInfer ignores it; add the offset to %s.data instead",
                         name, (unsigned long long)t->byte_offset, name);
  FIC_CHECK(check_extents(t, name, numel));
  if (!t->strides) {
    int64_t s = 1;
    for (int32_t i = t->ndim - 1; i >= 0; i--) {
      strides[i] = s;
      s *= t->shape[i]; /* TVM-FFI's IsContiguous() rule, which the wrappers check */
    }
  }
  return FIC_OK;
}
