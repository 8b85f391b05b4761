/* SPDX-License-Identifier: Apache-2.0 */
/* Build-time checks that our declarations match the TVM-FFI/DLPack ABI on
 * LP64 (docs/tvm-ffi-abi.md). A failure here means a port, not a bug. */
#include <stddef.h>

#include "common/tvm_ffi_abi.h"
#include "flashinfer_c.h"

_Static_assert(sizeof(void *) == 8, "LP64 only");
_Static_assert(sizeof(fic_any) == 16, "TVMFFIAny is 16 bytes");
_Static_assert(offsetof(fic_any, v) == 8, "TVMFFIAny payload at 8");
_Static_assert(sizeof(fic_dl_tensor) == 48, "DLTensor is 48 bytes");
_Static_assert(offsetof(fic_dl_tensor, device) == 8, "DLTensor.device at 8");
_Static_assert(offsetof(fic_dl_tensor, ndim) == 16, "DLTensor.ndim at 16");
_Static_assert(offsetof(fic_dl_tensor, dtype) == 20, "DLTensor.dtype at 20");
_Static_assert(offsetof(fic_dl_tensor, shape) == 24, "DLTensor.shape at 24");
_Static_assert(offsetof(fic_dl_tensor, strides) == 32, "DLTensor.strides at 32");
_Static_assert(offsetof(fic_dl_tensor, byte_offset) == 40, "DLTensor.byte_offset at 40");
_Static_assert(sizeof(fic_dl_managed_versioned) == 80, "DLManagedTensorVersioned is 80 bytes");
_Static_assert(offsetof(fic_dl_managed_versioned, dl_tensor) == 32, "dl_tensor at 32");
/* The public descriptor is a DLTensor. */
_Static_assert(sizeof(fic_tensor) == sizeof(fic_dl_tensor), "fic_tensor size");
_Static_assert(offsetof(fic_tensor, device) == offsetof(fic_dl_tensor, device), "fic_tensor.device");
_Static_assert(offsetof(fic_tensor, ndim) == offsetof(fic_dl_tensor, ndim), "fic_tensor.ndim");
_Static_assert(offsetof(fic_tensor, dtype) == offsetof(fic_dl_tensor, dtype), "fic_tensor.dtype");
_Static_assert(offsetof(fic_tensor, shape) == offsetof(fic_dl_tensor, shape), "fic_tensor.shape");
_Static_assert(offsetof(fic_tensor, strides) == offsetof(fic_dl_tensor, strides), "fic_tensor.strides");
_Static_assert(offsetof(fic_tensor, byte_offset) == offsetof(fic_dl_tensor, byte_offset), "fic_tensor.byte_offset");
_Static_assert((int)FIC_KIND_TENSOR == (int)FIC_TI_DLTENSOR_PTR && (int)FIC_KIND_STRING == (int)FIC_TI_RAW_STR &&
                   (int)FIC_KIND_SMALL_STRING == (int)FIC_TI_SMALL_STR &&
                   (int)FIC_KIND_OBJECT == (int)FIC_TI_STATIC_OBJECT_BEGIN,
               "fic_kind values are TVM-FFI type indices");

/* ISO C forbids an empty translation unit. */
typedef int fic_abi_checks_unit;
