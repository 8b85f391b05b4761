/* SPDX-License-Identifier: Apache-2.0 */
/* A batch prefill's custom mask (FlashInfer's MaskMode::kCustom): the
 * packed bits and their per-sequence byte offsets, checked against the plan
 * and passed to the FA2 run as the Optional<ffi::Tensor> maybe_custom_mask
 * and maybe_mask_indptr (Tensor objects: a plain DLTensor* is refused
 * there). The kernel reads bit (qo_idx * kv_len + kv_idx) of the bytes from
 * mask + mask_indptr[b], little bit order (DefaultAttention's LogitsMask,
 * include/flashinfer/attention/variants.cuh); prefill.py packs a bool mask
 * with segment_packbits(bitorder="little"). The offsets live on the device:
 * only the mask's size against the plan's smallest total is checked. */
#include <string.h>

#include "ffi/call.h"
#include "kernels/attention.h"
#include "kernels/validate.h"

static fic_status same_device(const fic_vt *vt, const fic_attention_plan *pl) {
  if (vt->t.device.device_id == pl->device_id) return FIC_OK;
  return fic__fail_arg(vt->name, "%s is on cuda:%d, but the plan's workspace is on cuda:%d", vt->name,
                       (int)vt->t.device.device_id, (int)pl->device_id);
}

static fic_status check_bits(fic_vt *vt, const fic_tensor *t, const fic_attention_plan *pl) {
  const fic_dtype u8[] = {FIC_U8};
  FIC_CHECK(fic__vt_init(vt, t, "custom_mask", 1, 1));
  FIC_CHECK(same_device(vt, pl));
  FIC_CHECK(fic__vt_dtype(vt, u8, 1));
  FIC_CHECK(fic__vt_contiguous(vt));
  if (vt->t.shape[0] >= pl->mask_min_bytes) return FIC_OK;
  return fic__fail_arg("custom_mask",
                       "custom_mask holds %lld bytes, but the plan's sequences need at least %lld (the sum of "
                       "ceil(qo_len * kv_len / 8))",
                       (long long)vt->t.shape[0], (long long)pl->mask_min_bytes);
}

static fic_status check_offsets(fic_vt *vt, const fic_tensor *t, const fic_attention_plan *pl) {
  const fic_dtype i32[] = {FIC_I32};
  FIC_CHECK(fic__vt_init(vt, t, "mask_indptr", 1, 1));
  FIC_CHECK(same_device(vt, pl));
  FIC_CHECK(fic__vt_dtype(vt, i32, 1));
  FIC_CHECK(fic__vt_contiguous(vt));
  return fic__vt_dim(vt, 0, pl->batch + 1, "batch_size + 1");
}

fic_status fic__attn_mask_check(fic__attn_mask *m, const fic_attention_plan *pl, const fic_tensor *mask,
                                const fic_tensor *indptr) {
  if (!mask || !indptr)
    return fic__fail_arg(mask ? "mask_indptr" : "custom_mask",
                         "custom_mask and mask_indptr go together: %s is NULL but %s is given",
                         mask ? "mask_indptr" : "custom_mask", mask ? "custom_mask" : "mask_indptr");
  if (pl->causal)
    return fic__fail_arg("custom_mask",
                         "custom_mask needs a plan made with causal = 0 (FlashInfer's kernel has one mask mode; "
                         "fold causality into the mask)");
  FIC_CHECK(check_bits(&m->bits, mask, pl));
  return check_offsets(&m->offsets, indptr, pl);
}

fic_status fic__attn_mask_objects(fic__attn_mask *m, const fic_attention_plan *pl, fic_any objs[2]) {
  FIC_CHECK(fic__tensor_object(pl->rt, &m->bits.t, &m->storage[0], &objs[0]));
  fic_status st = fic__tensor_object(pl->rt, &m->offsets.t, &m->storage[1], &objs[1]);
  if (st != FIC_OK) fic__object_release(pl->rt, &objs[0]);
  return st;
}

void fic__attn_mask_release(fic__attn_mask *m, const fic_attention_plan *pl, fic_any objs[2]) {
  (void)m;
  fic__object_release(pl->rt, &objs[0]);
  fic__object_release(pl->rt, &objs[1]);
}
