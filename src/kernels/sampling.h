/* SPDX-License-Identifier: Apache-2.0 */
/* Checks shared by the sampling.so and topk.so calls (sampling*.c, topk.c).
 *
 * FlashInfer 0.6.3's sampling wrappers cast every probability, logit and
 * per-row parameter pointer to float* (or the id type) without checking the
 * dtype, never check the output's shape against the probabilities, and take
 * the scalars as they come (k = 0, p = 0 or NaN sample garbage). These
 * helpers close those holes, each failure naming its argument. */
#ifndef FIC_KERNELS_SAMPLING_H
#define FIC_KERNELS_SAMPLING_H

#include "kernels/kernels.h"
#include "kernels/validate.h"

/* sizeof(sampling::RadixRowState) in FlashInfer 0.6.3 (topk.cuh): three
 * 256-bin uint32 histograms and five 4-byte fields. One per CTA group. */
#define FIC__RADIX_ROW_STATE_BYTES (3 * 256 * 4 + 5 * 4)

/* A [rows, vocab] tensor of one of `types` (the first is named in the
 * float32 hint), contiguous, on ref's device (when ref), 16-byte vector
 * loads aligned; rows and vocab fit the kernels' uint32. */
fic_status fic__smp_rows(fic_vt *vt, const fic_tensor *t, const char *name, const fic_dtype *types, int n,
                         const fic_vt *ref);
/* float32, or an error saying the kernel reads float32 unchecked. */
fic_status fic__smp_float32(const fic_vt *vt);
/* A 1-D contiguous tensor of `dtype` and `len` elements on ref's device;
 * `what` says where len comes from. */
fic_status fic__smp_vec(fic_vt *vt, const fic_tensor *t, const char *name, fic_dtype dtype, int64_t len,
                        const char *what, const fic_vt *ref);
/* The top-k row-state buffer: 1-D u8, 16-byte aligned, on ref's device, large enough. */
fic_status fic__smp_row_states(fic_vt *vt, const fic_tensor *t, const fic_vt *ref);
/* k in [1, max] (the scalar top_k); p in (0, 1]; min_p in [0, 1]. */
fic_status fic__smp_top_k(const char *name, int64_t k, int64_t max);
fic_status fic__smp_top_p(const char *name, double p);
fic_status fic__smp_min_p(const char *name, double p);
/* Resolve `name` in module sampling (topk when topk) and call it on ref's device. */
fic_status fic__smp_call(fic_runtime *rt, int slot, int topk, const char *name, const fic_any *args, int32_t n,
                         const fic_vt *ref, void *stream);

/* A float32 [rows, vocab] dtype table (brace initialiser). */
extern const fic_dtype fic__smp_f32[1];
/* float32, float16, bfloat16. */
extern const fic_dtype fic__smp_floats[3];

static inline fic_any fic__smp_opt(const fic_vt *vt, int present) {
  return present ? fic__any_ptr_tensor(&vt->t) : fic__any_none();
}

#endif
