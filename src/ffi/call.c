/* SPDX-License-Identifier: Apache-2.0 */
/* The per-call path: stream set/restore, device switch, safe call, error
 * decoding. Takes no lock, reads no environment, does no I/O, allocates
 * nothing. */
#include "ffi/call.h"

#include <string.h>

#include "common/cuda_abi.h"
#include "common/error.h"
#include "loader/loader.h"

#define KDL_CUDA 2

static const char *cell_bytes(const void *obj, size_t offset, size_t *len) {
  const char *base = (const char *)obj;
  const char *data;
  memcpy(&data, base + offset, sizeof data);
  memcpy(len, base + offset + sizeof(const char *), sizeof *len);
  if (!data) *len = 0;
  return data;
}

/* Release an error a runtime helper raised, so it cannot leak or be taken
 * later for a kernel's error (the slot is per thread). */
void fic__drop_raised_error(const fic_tvm_api *api) {
  void *err = NULL;
  api->ErrorMoveFromRaised(&err);
  if (err) api->ObjectDecRef(err);
}

/* Take the error raised on this thread, copy it into our record, release it. */
static fic_status decode_error(const fic_tvm_api *api, const struct fic_function *fn, int rc) {
  if (rc == -2)
    return fic__fail_kernel("EnvErrorAlreadySet", 18, "the environment reported a pending error (code -2)", 50, NULL,
                            0);
  void *err = NULL;
  api->ErrorMoveFromRaised(&err);
  if (!err) {
    fic__fail(FIC_ERR_KERNEL, "%s returned %d but raised no error object", fn->name, rc);
    return FIC_ERR_KERNEL;
  }
  int32_t type_index;
  memcpy(&type_index, (const char *)err + FIC_OBJ_TYPE_INDEX_OFFSET, sizeof type_index);
  fic_status st;
  if (type_index != FIC_TI_ERROR) {
    st = fic__fail(FIC_ERR_KERNEL, "%s returned %d with a raised object of type index %d, not an Error", fn->name, rc,
                   (int)type_index);
  } else {
    size_t kl, ml, bl;
    const char *kind = cell_bytes(err, FIC_ERR_KIND_OFFSET, &kl);
    const char *msg = cell_bytes(err, FIC_ERR_MSG_OFFSET, &ml);
    const char *bt = cell_bytes(err, FIC_ERR_BT_OFFSET, &bl);
    st = fic__fail_kernel(kind, kl, msg, ml, bt, bl);
  }
  api->ObjectDecRef(err);
  return st;
}

fic_status fic__call(const struct fic_function *fn, const fic_any *args, int32_t num_args, int32_t device_id,
                     void *stream, fic_any *result) {
  return fic__call_ex(fn, args, num_args, device_id, stream, 1, result);
}

fic_status fic__call_ex(const struct fic_function *fn, const fic_any *args, int32_t num_args, int32_t device_id,
                        void *stream, int set_device, fic_any *result) {
  const fic_tvm_api *api = fic__tvmffi_api();
  if (!api) return fic__fail(FIC_ERR_INTERNAL, "libtvm_ffi is not loaded");
  if (fn->arity >= 0 && num_args != fn->arity)
    return fic__fail(FIC_ERR_ABI, "%s takes %d arguments in the pinned FlashInfer build, got %d", fn->name,
                     (int)fn->arity, (int)num_args);
  fic_any local;
  fic_any *res = result ? result : &local;
  memset(res, 0, sizeof *res); /* the callee releases what `result` held: it must be None */

  void *prev_stream = NULL;
  int stream_set = 0, prev_device = -1;
  const fic_cudart_api *cudart = fic__cudart();
  if (device_id >= 0) {
    if (api->EnvSetStream(KDL_CUDA, device_id, stream, &prev_stream) != 0) {
      fic__drop_raised_error(api);
      return fic__fail(FIC_ERR_INTERNAL, "TVMFFIEnvSetStream(cuda:%d) failed", (int)device_id);
    }
    stream_set = 1;
    /* Wrappers without a device guard (gdn_prefill in 0.6.3) launch on the
     * thread's current device: make it the tensors' device for the call. */
    if (set_device && cudart && cudart->GetDevice(&prev_device) == FIC_CUDA_SUCCESS && prev_device != device_id) {
      int rc = cudart->SetDevice(device_id);
      if (rc != FIC_CUDA_SUCCESS) {
        api->EnvSetStream(KDL_CUDA, device_id, prev_stream, NULL);
        return fic__fail(FIC_ERR_CUDA, "cudaSetDevice(%d): %s", (int)device_id, cudart->GetErrorString(rc));
      }
    } else {
      prev_device = -1;
    }
  }

  int rc = fn->call(NULL, args, num_args, res);

  if (prev_device >= 0) cudart->SetDevice(prev_device);
  if (stream_set) api->EnvSetStream(KDL_CUDA, device_id, prev_stream, NULL);

  if (rc == 0) {
    if (!result && local.type_index >= FIC_TI_STATIC_OBJECT_BEGIN) api->ObjectDecRef(local.v.v_obj);
    return FIC_OK;
  }
  memset(res, 0, sizeof *res);
  return decode_error(api, fn, rc);
}

fic_status fic__tensor_object_api(const fic_tvm_api *api, const fic_tensor *t, fic_dl_managed_versioned *storage,
                                  fic_any *out) {
  if (!api) return fic__fail(FIC_ERR_INTERNAL, "libtvm_ffi is not loaded");
  memset(storage, 0, sizeof *storage);
  storage->version.major = 1;
  storage->version.minor = 2;
  memcpy(&storage->dl_tensor, t, sizeof storage->dl_tensor);
  void *handle = NULL;
  /* No alignment or contiguity demands here: the kernel checks what it needs. */
  if (api->TensorFromDLPackVersioned(storage, 0, 0, &handle) != 0 || !handle) {
    fic__drop_raised_error(api);
    return fic__fail(FIC_ERR_INTERNAL, "TVMFFITensorFromDLPackVersioned failed");
  }
  memset(out, 0, sizeof *out);
  out->type_index = FIC_TI_TENSOR;
  out->v.v_obj = handle;
  return FIC_OK;
}

fic_status fic__tensor_object(const fic_runtime *rt, const fic_tensor *t, fic_dl_managed_versioned *storage,
                              fic_any *out) {
  return fic__tensor_object_api(rt->tvm, t, storage, out);
}

void fic__object_release_api(const fic_tvm_api *api, fic_any *value) {
  if (api && value && value->type_index >= FIC_TI_STATIC_OBJECT_BEGIN && value->v.v_obj)
    api->ObjectDecRef(value->v.v_obj);
  if (value) memset(value, 0, sizeof *value);
}

void fic__object_release(const fic_runtime *rt, fic_any *value) { fic__object_release_api(rt->tvm, value); }
