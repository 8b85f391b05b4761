/* SPDX-License-Identifier: Apache-2.0 */
/* The tensor-core decode's qo_indptr, kept by the library: FlashInfer's
 * decode through the prefill module (decode.py, use_tensor_cores) runs with
 * qo_indptr = arange(batch + 1) on the device. Python allocates it; here the
 * plan writes it into the page-locked buffer's last bytes and copies them,
 * on the plan's stream, into the same offsets of the int workspace, which
 * FlashInfer's plan is told is that much shorter (its allocator then never
 * reaches the tail). No device memory is allocated and no cudart is linked:
 * the copy is the workspace's cudaMemcpyAsync, resolved at run time.
 *
 * Ordering: the tail is written under the workspace's lock after the wait
 * for the previous plan's copy, and the workspace's event is recorded after
 * this copy, so the next plan cannot rewrite the tail under it. Every
 * tensor-core decode plan with the same batch size writes the same bytes at
 * the same offset, so a captured CUDA graph keeps reading valid data. */
#include <string.h>

#include "common/cuda_abi.h"
#include "kernels/attention.h"
#include "kernels/validate.h"

/* Leave FlashInfer something of the int workspace; whether it is enough is
 * its plan's to say (an overflow there is FIC_ERR_KERNEL naming the array). */
#define TAIL_MIN_LEFT ((size_t)FIC_ATTN_WORKSPACE_ALIGN)

fic_status fic__attn_tail_plan(const fic_attention_workspace *ws, int64_t batch, fic__attn_tail *tail) {
  size_t need = (size_t)(batch + 1) * sizeof(int32_t);
  size_t bytes = (need + FIC_ATTN_WORKSPACE_ALIGN - 1) / FIC_ATTN_WORKSPACE_ALIGN * FIC_ATTN_WORKSPACE_ALIGN;
  size_t have = ws->desc.int_bytes / FIC_ATTN_WORKSPACE_ALIGN * FIC_ATTN_WORKSPACE_ALIGN;
  if (have < bytes + TAIL_MIN_LEFT)
    return fic__fail_arg("int_buffer",
                         "the int workspace (%zu bytes) is too small for a tensor-core decode of batch %lld: its last "
                         "%zu bytes hold qo_indptr and FlashInfer needs more than %zu before them",
                         ws->desc.int_bytes, (long long)batch, bytes, TAIL_MIN_LEFT);
  tail->offset = have - bytes;
  tail->bytes = bytes;
  tail->batch = batch;
  return FIC_OK;
}

fic_status fic__attn_tail_write(fic_attention_workspace *ws, const fic__attn_tail *tail, void *stream) {
  int32_t *host = (int32_t *)((char *)ws->desc.host_buffer + tail->offset);
  for (int64_t i = 0; i <= tail->batch; i++) host[i] = (int32_t)i;
  if (!ws->ev.memcpy_async)
    return fic__fail(FIC_ERR_CUDA, "no cudaMemcpyAsync to copy the tensor-core decode's qo_indptr");
  int rc = ws->ev.memcpy_async((char *)ws->desc.int_buffer + tail->offset, host, tail->bytes,
                               FIC_CUDA_MEMCPY_HOST_TO_DEVICE, stream);
  if (rc == FIC_CUDA_SUCCESS) return FIC_OK;
  return fic__fail(FIC_ERR_CUDA, "cudaMemcpyAsync of the tensor-core decode's qo_indptr (%zu bytes) failed: %s",
                   tail->bytes, ws->ev.error_string ? ws->ev.error_string(rc) : "?");
}

void fic__attn_tail_tensor(const fic_attention_workspace *ws, const fic__attn_tail *tail, fic__attn_buffer *store) {
  memset(store, 0, sizeof *store);
  store->shape[0] = tail->batch + 1;
  store->strides[0] = 1;
  store->t.data = (char *)ws->desc.int_buffer + tail->offset;
  store->t.device.device_type = FIC_DEVICE_CUDA;
  store->t.device.device_id = (int32_t)ws->desc.device_id;
  store->t.ndim = 1;
  store->t.dtype = FIC_I32;
  store->t.shape = store->shape;
  store->t.strides = store->strides;
}
