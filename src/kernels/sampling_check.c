/* SPDX-License-Identifier: Apache-2.0 */
/* Shared checks of the sampling and top-k calls (sampling.h). */
#include <math.h>

#include "kernels/module_names.h"
#include "kernels/sampling.h"

const fic_dtype fic__smp_f32[1] = {FIC_DT_F32};
const fic_dtype fic__smp_floats[3] = {FIC_DT_F32, FIC_DT_F16, FIC_DT_BF16};

static int64_t gcd64(int64_t a, int64_t b) {
  while (b) {
    int64_t t = a % b;
    a = b, b = t;
  }
  return a;
}

/* The kernels cast the data pointer without looking at the dtype. */
fic_status fic__smp_float32(const fic_vt *vt) {
  static const fic_dtype f32 = FIC_DT_F32;
  if (!fic__dtype_eq(vt->t.dtype, f32)) {
    char got[48];
    return fic__fail_arg(vt->name,
                         "%s must be float32, got %s: FlashInfer's kernel reads it as float32 without checking the "
                         "dtype (convert it first, as FlashInfer's Python does)",
                         vt->name, fic__dtype_name(vt->t.dtype, got, sizeof got));
  }
  return FIC_OK;
}

static fic_status check_float_dtype(const fic_vt *vt, const fic_dtype *types, int n) {
  return n == 1 ? fic__smp_float32(vt) : fic__vt_dtype(vt, types, n);
}

fic_status fic__smp_rows(fic_vt *vt, const fic_tensor *t, const char *name, const fic_dtype *types, int n,
                         const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, 2, 2));
  FIC_CHECK(check_float_dtype(vt, types, n));
  if (ref) FIC_CHECK(fic__vt_same_device(vt, ref));
  FIC_CHECK(fic__vt_contiguous(vt));
  int64_t rows = vt->t.shape[0], vocab = vt->t.shape[1];
  if (rows > INT32_MAX || vocab > INT32_MAX)
    return fic__fail_arg(name, "%s is [%lld, %lld]: the kernels take both extents as 32-bit values", name,
                         (long long)rows, (long long)vocab);
  if (rows > 0 && vocab == 0) return fic__fail_arg(name, "%s.shape[1] (vocabulary) must be > 0", name);
  int64_t elem = vt->t.dtype.bits / 8, vec = vocab > 0 ? gcd64(16 / elem, vocab) : 1;
  return fic__vt_aligned(vt, (unsigned)(vec * elem), "the kernel's vector loads");
}

fic_status fic__smp_vec(fic_vt *vt, const fic_tensor *t, const char *name, fic_dtype dtype, int64_t len,
                        const char *what, const fic_vt *ref) {
  FIC_CHECK(fic__vt_init(vt, t, name, 1, 1));
  if (dtype.bits == 32 && dtype.code == FIC_DTYPE_FLOAT)
    FIC_CHECK(fic__smp_float32(vt));
  else
    FIC_CHECK(fic__vt_dtype(vt, &dtype, 1));
  FIC_CHECK(fic__vt_same_device(vt, ref));
  FIC_CHECK(fic__vt_contiguous(vt));
  return fic__vt_dim(vt, 0, len, what);
}

fic_status fic__smp_row_states(fic_vt *vt, const fic_tensor *t, const fic_vt *ref) {
  static const fic_dtype u8[] = {FIC_DT_U8};
  FIC_CHECK(fic__vt_init(vt, t, "row_states", 1, 1));
  FIC_CHECK(fic__vt_dtype(vt, u8, 1));
  FIC_CHECK(fic__vt_same_device(vt, ref));
  FIC_CHECK(fic__vt_contiguous(vt));
  FIC_CHECK(fic__vt_aligned(vt, 16, "the kernel's row states"));
  /* One state per CTA group, at most one group per SM; unknown SM count: FlashInfer's 1 MiB. */
  int sms = fic__kernel_sm_count(ref->t.device.device_id);
  int64_t need = sms > 0 ? (int64_t)sms * FIC__RADIX_ROW_STATE_BYTES : (int64_t)FIC_TOPK_ROW_STATES_BYTES;
  if (vt->t.shape[0] < need)
    return fic__fail_arg("row_states", "row_states holds %lld bytes; the top-k kernels need at least %lld here",
                         (long long)vt->t.shape[0], (long long)need);
  return FIC_OK;
}

fic_status fic__smp_top_k(const char *name, int64_t k, int64_t max) {
  if (k < 1 || k > max)
    return fic__fail_arg(name,
                         "%s must be in [1, %lld] (the vocabulary), got %lld (FlashInfer does not check it; its "
                         "result for such a k is unspecified)",
                         name, (long long)max, (long long)k);
  return FIC_OK;
}

fic_status fic__smp_top_p(const char *name, double p) {
  if (!(p > 0 && p <= 1))
    return fic__fail_arg(name,
                         "%s must be in (0, 1], got %g (FlashInfer does not check it; its result for such a p is "
                         "unspecified)",
                         name, p);
  return FIC_OK;
}

fic_status fic__smp_min_p(const char *name, double p) {
  if (!(p >= 0 && p <= 1)) return fic__fail_arg(name, "%s must be in [0, 1], got %g", name, p);
  return FIC_OK;
}

fic_status fic__smp_call(fic_runtime *rt, int slot, int topk, const char *name, const fic_any *args, int32_t n,
                         const fic_vt *ref, void *stream) {
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, slot, topk ? FIC__MOD_TOPK : FIC__MOD_SAMPLING, name, stream, &fn));
  return fic__call(fn, args, n, ref->t.device.device_id, stream, NULL);
}
