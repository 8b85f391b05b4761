/* SPDX-License-Identifier: Apache-2.0 */
/* Argument checks for the typed kernels (see validate.h). Only the failure
 * paths format text; the success paths are a few compares per tensor. */
#include "kernels/validate.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "ffi/tensor.h"

int fic__dtype_eq(fic_dtype a, fic_dtype b) { return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes; }

const char *fic__dtype_name(fic_dtype d, char *buf, size_t size) {
  static const struct {
    fic_dtype d;
    const char *name;
  } known[] = {
      {{FIC_DTYPE_FLOAT, 16, 1}, "float16"}, {{FIC_DTYPE_BFLOAT, 16, 1}, "bfloat16"},
      {{FIC_DTYPE_FLOAT, 32, 1}, "float32"}, {{FIC_DTYPE_FLOAT, 64, 1}, "float64"},
      {{FIC_DTYPE_INT, 32, 1}, "int32"},     {{FIC_DTYPE_INT, 64, 1}, "int64"},
      {{FIC_DTYPE_UINT, 8, 1}, "uint8"},     {{FIC_DTYPE_INT, 8, 1}, "int8"},
      {{FIC_DTYPE_BOOL, 8, 1}, "bool"},      {FIC_DT_F8E4M3FN, "float8_e4m3fn"},
      {FIC_DT_F8E5M2, "float8_e5m2"},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (fic__dtype_eq(known[i].d, d)) {
      snprintf(buf, size, "%s", known[i].name);
      return buf;
    }
  snprintf(buf, size, "dtype(code=%u,bits=%u,lanes=%u)", d.code, d.bits, d.lanes);
  return buf;
}

/* "[3, 1536]" */
static const char *format_dims(const int64_t *dims, int32_t n, char *buf, size_t size) {
  size_t used = 0;
  int w = snprintf(buf, size, "[");
  used = w > 0 ? (size_t)w : 0;
  for (int32_t i = 0; i < n && used < size; i++) {
    w = snprintf(buf + used, size - used, i ? ", %lld" : "%lld", (long long)dims[i]);
    if (w > 0) used += (size_t)w;
  }
  if (used < size) snprintf(buf + used, size - used, "]");
  return buf;
}

fic_status fic__vt_init(fic_vt *vt, const fic_tensor *t, const char *name, int32_t min_ndim, int32_t max_ndim) {
  vt->name = name;
  if (!t) return fic__fail_arg(name, "%s must not be NULL", name);
  if (t->ndim < min_ndim || t->ndim > max_ndim) {
    if (min_ndim == max_ndim)
      return fic__fail_arg(name, "%s must be %d-D, got %d-D", name, (int)min_ndim, (int)t->ndim);
    return fic__fail_arg(name, "%s must be %d-D to %d-D, got %d-D", name, (int)min_ndim, (int)max_ndim, (int)t->ndim);
  }
  int64_t numel = 0;
  FIC_CHECK(fic__tensor_check(t, name, FIC_VT_MAX_NDIM, vt->strides, &numel));
  if (t->device.device_type != FIC_DEVICE_CUDA)
    return fic__fail_arg(name, "%s must be a CUDA tensor (device_type %d), got device_type %d", name, FIC_DEVICE_CUDA,
                         (int)t->device.device_type);
  if (t->device.device_id < 0)
    return fic__fail_arg(name, "%s.device.device_id must be >= 0, got %d", name, (int)t->device.device_id);
  if (t->dtype.lanes != 1) return fic__fail_arg(name, "%s.dtype.lanes must be 1, got %u", name, t->dtype.lanes);
  if (numel > 0 && !t->data) return fic__fail_arg(name, "%s.data must not be NULL", name);

  vt->t = *t;
  vt->numel = numel;
  if (t->strides) {
    /* The kernels index forwards from data: a negative stride would reach before it. */
    for (int32_t i = 0; i < t->ndim; i++)
      if (t->strides[i] < 0)
        return fic__fail_arg(name, "%s.strides[%d] must be >= 0, got %lld", name, (int)i, (long long)t->strides[i]);
    memcpy(vt->strides, t->strides, (size_t)t->ndim * sizeof(int64_t));
  }
  vt->t.strides = vt->strides;
  return FIC_OK;
}

fic_status fic__vt_dtype(const fic_vt *vt, const fic_dtype *allowed, int n) {
  for (int i = 0; i < n; i++)
    if (fic__dtype_eq(vt->t.dtype, allowed[i])) return FIC_OK;
  char want[128] = "", got[48], one[48];
  size_t used = 0;
  for (int i = 0; i < n && used < sizeof want; i++) {
    int w = snprintf(want + used, sizeof want - used, "%s%s", i == 0 ? "" : (i == n - 1 ? " or " : ", "),
                     fic__dtype_name(allowed[i], one, sizeof one));
    if (w > 0) used += (size_t)w;
  }
  return fic__fail_arg(vt->name, "%s must be %s, got %s", vt->name, want,
                       fic__dtype_name(vt->t.dtype, got, sizeof got));
}

fic_status fic__vt_same_dtype(const fic_vt *vt, const fic_vt *ref) {
  if (fic__dtype_eq(vt->t.dtype, ref->t.dtype)) return FIC_OK;
  char a[48], b[48];
  return fic__fail_arg(vt->name, "%s must have the dtype of %s (%s), got %s", vt->name, ref->name,
                       fic__dtype_name(ref->t.dtype, a, sizeof a), fic__dtype_name(vt->t.dtype, b, sizeof b));
}

fic_status fic__vt_same_device(const fic_vt *vt, const fic_vt *ref) {
  if (vt->t.device.device_type == ref->t.device.device_type && vt->t.device.device_id == ref->t.device.device_id)
    return FIC_OK;
  return fic__fail_arg(vt->name, "%s must be on the device of %s (cuda:%d), got cuda:%d", vt->name, ref->name,
                       (int)ref->t.device.device_id, (int)vt->t.device.device_id);
}

fic_status fic__vt_same_shape(const fic_vt *vt, const fic_vt *ref) {
  int same = vt->t.ndim == ref->t.ndim;
  for (int32_t i = 0; same && i < vt->t.ndim; i++) same = vt->t.shape[i] == ref->t.shape[i];
  if (same) return FIC_OK;
  char a[160], b[160];
  return fic__fail_arg(vt->name, "%s must have the shape of %s %s, got %s", vt->name, ref->name,
                       format_dims(ref->t.shape, ref->t.ndim, a, sizeof a),
                       format_dims(vt->t.shape, vt->t.ndim, b, sizeof b));
}

fic_status fic__vt_dim(const fic_vt *vt, int dim, int64_t want, const char *what) {
  if (vt->t.shape[dim] == want) return FIC_OK;
  return fic__fail_arg(vt->name, "%s.shape[%d] must be %lld (%s), got %lld", vt->name, dim, (long long)want, what,
                       (long long)vt->t.shape[dim]);
}

fic_status fic__vt_dim_positive(const fic_vt *vt, int dim, const char *what) {
  if (vt->t.shape[dim] > 0) return FIC_OK;
  return fic__fail_arg(vt->name, "%s.shape[%d] (%s) must be > 0, got %lld", vt->name, dim, what,
                       (long long)vt->t.shape[dim]);
}

fic_status fic__vt_last_contiguous(const fic_vt *vt) {
  int32_t last = vt->t.ndim - 1;
  if (last < 0 || vt->t.shape[last] <= 1 || vt->strides[last] == 1) return FIC_OK;
  return fic__fail_arg(vt->name, "%s must be contiguous in its last dimension (stride 1), got stride %lld", vt->name,
                       (long long)vt->strides[last]);
}

fic_status fic__vt_contiguous(const fic_vt *vt) {
  int64_t want = 1;
  int ok = 1;
  for (int32_t i = vt->t.ndim - 1; i >= 0 && ok; i--) {
    if (vt->t.shape[i] > 1 && vt->strides[i] != want) ok = 0;
    want *= vt->t.shape[i] > 0 ? vt->t.shape[i] : 1;
  }
  if (ok || vt->numel == 0) return FIC_OK;
  char s[160], st[160];
  return fic__fail_arg(
      vt->name, "%s must be contiguous (row-major): the kernel ignores strides; got shape %s, strides %s", vt->name,
      format_dims(vt->t.shape, vt->t.ndim, s, sizeof s), format_dims(vt->strides, vt->t.ndim, st, sizeof st));
}

fic_status fic__vt_aligned(const fic_vt *vt, unsigned bytes, const char *why) {
  if (bytes <= 1 || vt->numel == 0 || (uintptr_t)vt->t.data % bytes == 0) return FIC_OK;
  return fic__fail_arg(vt->name, "%s.data must be %u-byte aligned (%s), got %p", vt->name, bytes, why, vt->t.data);
}

fic_status fic__vt_outer_strides_multiple(const fic_vt *vt, int64_t mult, const char *why) {
  if (mult <= 1 || vt->numel == 0) return FIC_OK;
  for (int32_t i = 0; i + 1 < vt->t.ndim; i++)
    if (vt->t.shape[i] > 1 && vt->strides[i] % mult != 0)
      return fic__fail_arg(vt->name, "%s.strides[%d] must be a multiple of %lld (%s), got %lld", vt->name, (int)i,
                           (long long)mult, why, (long long)vt->strides[i]);
  return FIC_OK;
}

fic_status fic__vt_offsets_fit(const fic_vt *vt, uint64_t max, const char *why) {
  if (vt->numel == 0) return FIC_OK;
  uint64_t off = 0;
  for (int32_t i = 0; i < vt->t.ndim; i++) {
    uint64_t span = (uint64_t)(vt->t.shape[i] - 1), stride = (uint64_t)vt->strides[i];
    if (span && stride > (max - off) / span) {
      return fic__fail_arg(vt->name, "%s is too large: element offsets must stay below %llu (%s)", vt->name,
                           (unsigned long long)max + 1, why);
    }
    off += span * stride;
  }
  return FIC_OK;
}

fic_status fic__check_finite(const char *name, double x, int nonnegative, int nonzero) {
  if (!isfinite(x)) return fic__fail_arg(name, "%s must be finite, got %g", name, x);
  if (nonnegative && x < 0) return fic__fail_arg(name, "%s must be >= 0, got %g", name, x);
  if (nonzero && x == 0) return fic__fail_arg(name, "%s must not be 0", name);
  return FIC_OK;
}

fic_status fic__params_reset(void *params, size_t size, const char *name) {
  if (!params) return fic__fail_arg(name, "%s must not be NULL", name);
  memset(params, 0, size);
  memcpy(params, &size, sizeof size); /* struct_size is every params struct's first field */
  return FIC_OK;
}

fic_status fic__load_params(const void *in, void *out, size_t full, const char *name, const char *init) {
  if (!in) return fic__fail_arg(name, "%s must not be NULL", name);
  size_t size;
  memcpy(&size, in, sizeof size); /* struct_size is every params struct's first field */
  if (size < sizeof size || size > full || size % 8 != 0)
    return fic__fail_arg(name,
                         "%s->struct_size is %zu; set it with %s() (this library knows sizes 8 to %zu, in steps of 8)",
                         name, size, init, full);
  memcpy(out, in, size);
  memcpy(out, &full, sizeof full); /* the full struct from here on: defaults past the caller's size */
  return FIC_OK;
}
