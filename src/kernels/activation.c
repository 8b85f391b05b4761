/* SPDX-License-Identifier: Apache-2.0 */
/* The gated activations of FlashInfer 0.6.3: modules silu_and_mul,
 * gelu_and_mul and gelu_tanh_and_mul, one export each, generated from
 * flashinfer/jit/activation.py's template (include/flashinfer/activation.cuh).
 *
 * The wrapper checks nothing but the dtype: it reads d = input.shape[-1] / 2
 * and numel, and launches one block per row of min(d / v, 1024) threads
 * (v = 8 elements, 16 bytes). The checks below add:
 *  - out's dtype, shape ([..., d] with input's leading dimensions) and
 *    device; both tensors contiguous (the kernel ignores strides);
 *  - the 16-byte rule on d, not only 2d: FlashInfer's Python checks
 *    input.shape[-1] * itemsize % 16 == 0, but the kernel loads the second
 *    half (input + d) and stores out rows in 16-byte vectors, so d = 12
 *    (f16) would fault on a misaligned address; d * itemsize >= 16 also
 *    keeps the block non-empty;
 *  - rows fit the grid (at most 2^31 - 1) and d fits the kernel's int.
 * An empty input launches an empty grid, which CUDA refuses: it returns
 * before the call. */
#include <stdint.h>

#include "kernels/kernels.h"
#include "kernels/module_names.h"
#include "kernels/validate.h"

static const fic_dtype k_act_types[] = {FIC_DT_F16, FIC_DT_BF16};

/* input [..., 2d] and out [..., d]: f16/bf16, contiguous, 16-byte rows. */
static fic_status check_act(fic_vt *in, fic_vt *out, const fic_tensor *input, const fic_tensor *output) {
  FIC_CHECK(fic__vt_init(in, input, "input", 1, FIC_VT_MAX_NDIM));
  FIC_CHECK(fic__vt_dtype(in, k_act_types, 2));
  FIC_CHECK(fic__vt_contiguous(in));
  FIC_CHECK(fic__vt_aligned(in, 16, "the kernel's 16-byte vectors"));
  int32_t last = in->t.ndim - 1;
  int64_t width = in->t.shape[last], d = width / 2;
  if (width % 2 != 0 || (d * 2) % 16 != 0)
    return fic__fail_arg("input",
                         "input.shape[%d] must be 2d with d * itemsize a multiple of 16 bytes (d a multiple of 8; the "
                         "kernel moves 16-byte vectors of both halves), got %lld",
                         (int)last, (long long)width);
  if (d > INT32_MAX) return fic__fail_arg("input", "input.shape[%d] / 2 must be at most %d", (int)last, INT32_MAX);
  FIC_CHECK(fic__vt_init(out, output, "out", in->t.ndim, in->t.ndim));
  FIC_CHECK(fic__vt_same_dtype(out, in));
  FIC_CHECK(fic__vt_same_device(out, in));
  for (int32_t i = 0; i < last; i++) FIC_CHECK(fic__vt_dim(out, i, in->t.shape[i], "input's leading dimensions"));
  FIC_CHECK(fic__vt_dim(out, last, d, "half of input's last dimension"));
  FIC_CHECK(fic__vt_contiguous(out));
  FIC_CHECK(fic__vt_aligned(out, 16, "the kernel's 16-byte vectors"));
  if (width > 0 && in->numel / width > INT32_MAX)
    return fic__fail_arg("input", "input has %lld rows: the kernel launches one block per row, at most %d",
                         (long long)(in->numel / width), INT32_MAX);
  return FIC_OK;
}

static fic_status act_and_mul(fic_runtime *rt, int slot, int module, const char *name, const fic_tensor *out,
                              const fic_tensor *input, int enable_pdl, void *stream) {
  if (!rt) return fic__fail_arg("rt", "rt must not be NULL");
  fic_vt in, o;
  FIC_CHECK(check_act(&in, &o, input, out));
  if (in.numel == 0) return FIC_OK;
  const struct fic_function *fn;
  FIC_CHECK(fic__fixed_kernel_function(rt, slot, module, name, stream, &fn));
  fic_any args[3] = {fic__any_ptr_tensor(&o.t), fic__any_ptr_tensor(&in.t), fic__any_bool(enable_pdl != 0)};
  return fic__call(fn, args, 3, in.t.device.device_id, stream, NULL);
}

fic_status fic_silu_and_mul(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, int enable_pdl,
                            void *stream) {
  return act_and_mul(rt, FIC_SLOT_SILU_AND_MUL, FIC__MOD_SILU_AND_MUL, "silu_and_mul", out, input, enable_pdl, stream);
}

fic_status fic_gelu_and_mul(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, int enable_pdl,
                            void *stream) {
  return act_and_mul(rt, FIC_SLOT_GELU_AND_MUL, FIC__MOD_GELU_AND_MUL, "gelu_and_mul", out, input, enable_pdl, stream);
}

fic_status fic_gelu_tanh_and_mul(fic_runtime *rt, const fic_tensor *out, const fic_tensor *input, int enable_pdl,
                                 void *stream) {
  return act_and_mul(rt, FIC_SLOT_GELU_TANH_AND_MUL, FIC__MOD_GELU_TANH_AND_MUL, "gelu_tanh_and_mul", out, input,
                     enable_pdl, stream);
}
