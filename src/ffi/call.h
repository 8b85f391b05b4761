/* SPDX-License-Identifier: Apache-2.0 */
/* The internal call path (defined in call.c), used by the generic API
 * (generic.c) and the typed kernels (src/kernels): the layer above the
 * runtime, which resolves the functions it calls. */
#ifndef FIC_FFI_CALL_H
#define FIC_FFI_CALL_H

#include "common/tvm_ffi_abi.h"
#include "runtime/runtime.h"

/* The call path: set the env stream of (CUDA, device_id) to `stream` (when
 * device_id >= 0), make device_id current if the CUDA runtime is loaded,
 * call, restore both, decode an error. `args` must hold only registered type
 * indices. `result` (may be NULL) is zeroed first; the caller releases it. */
fic_status fic__call(const struct fic_function *fn, const fic_any *args, int32_t num_args, int32_t device_id,
                     void *stream, fic_any *result);
/* The same; set_device = 0 leaves the thread's current CUDA device alone
 * (calls with no CUDA tensor: asking for the device costs microseconds in a
 * process without a CUDA context). */
fic_status fic__call_ex(const struct fic_function *fn, const fic_any *args, int32_t num_args, int32_t device_id,
                        void *stream, int set_device, fic_any *result);

/* For parameters typed `Tensor` (an owning object, e.g. norm's layernorm):
 * wrap a caller's tensor in a TVM-FFI Tensor object that borrows its memory.
 * `storage` must outlive the object; release it with fic__object_release. */
fic_status fic__tensor_object(const fic_runtime *rt, const fic_tensor *t, fic_dl_managed_versioned *storage,
                              fic_any *out);
void fic__object_release(const fic_runtime *rt, fic_any *value);
/* Release an error a runtime helper raised on this thread, if any. */
void fic__drop_raised_error(const fic_tvm_api *api);
/* The same, for callers that hold the loaded API rather than a runtime. */
fic_status fic__tensor_object_api(const fic_tvm_api *api, const fic_tensor *t, fic_dl_managed_versioned *storage,
                                  fic_any *out);
void fic__object_release_api(const fic_tvm_api *api, fic_any *value);

#endif
