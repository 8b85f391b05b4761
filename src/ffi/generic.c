/* The generic call API: any exported function, arguments built with the
 * fic_arg_* constructors. Arguments are checked here, before the wrapper
 * sees them, because a wrong type index or a malformed tensor can crash the
 * process inside TVM-FFI (an unregistered index makes TVMFFIGetTypeInfo call
 * exit(); NULL strides are dereferenced by TensorView::stride()). */
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "ffi/call.h"
#include "ffi/tensor.h"
#include "loader/loader.h"

#define FIC_MAX_ARGS 64
#define FIC_MAX_FILLED_DIMS 8 /* rank up to which NULL strides are filled in */

/* fic_arg/fic_result and fic_any must be the same 16 bytes. */
_Static_assert(sizeof(fic_arg) == sizeof(fic_any), "fic_arg layout");
_Static_assert(sizeof(fic_result) == sizeof(fic_any), "fic_result layout");
_Static_assert(offsetof(fic_arg, v) == offsetof(fic_any, v), "fic_arg payload offset");
_Static_assert(offsetof(fic_result, v) == offsetof(fic_any, v), "fic_result payload offset");

/* A tensor argument: the shared descriptor rule; NULL strides are filled in
 * a copy (up to rank FIC_MAX_FILLED_DIMS), because TVM-FFI reads them. */
static fic_status tensor_arg(const fic_tensor *t, int index, fic_dl_tensor *filled, int64_t *strides, fic_any *any) {
  char arg[32];
  snprintf(arg, sizeof arg, "args[%d]", index);
  int64_t numel;
  FIC_CHECK(fic__tensor_check(t, arg, t && t->strides ? 64 : FIC_MAX_FILLED_DIMS, strides, &numel));
  if (!t->strides && t->ndim > 0) {
    memcpy(filled, t, sizeof *filled);
    filled->strides = strides;
    any->v.v_ptr = filled;
  }
  return FIC_OK;
}

fic_status fic_function_call(const fic_function *fn, const fic_arg *args, int32_t num_args, int32_t device_id,
                             void *stream, fic_result *result) {
  if (!fn) return fic__fail_arg("fn", "fn is NULL");
  if (num_args < 0 || num_args > FIC_MAX_ARGS)
    return fic__fail_arg("num_args", "num_args is %d (0..%d)", (int)num_args, FIC_MAX_ARGS);
  if (num_args > 0 && !args) return fic__fail_arg("args", "args is NULL");
  if (device_id < -1) return fic__fail_arg("device_id", "device_id is %d (-1 or a CUDA ordinal)", (int)device_id);

  fic_any anys[FIC_MAX_ARGS];
  /* Copies of tensors whose strides were NULL, with row-major strides. */
  fic_dl_tensor filled[FIC_MAX_ARGS];
  int64_t filled_strides[FIC_MAX_ARGS][FIC_MAX_FILLED_DIMS];
  int32_t dev = device_id;
  int has_cuda_tensor = 0; /* only then does the current device matter */
  for (int32_t i = 0; i < num_args; ++i) {
    memcpy(&anys[i], &args[i], sizeof anys[i]);
    switch (args[i].kind) {
      case FIC_KIND_NONE:
      case FIC_KIND_INT:
      case FIC_KIND_BOOL:
      case FIC_KIND_FLOAT:
      case FIC_KIND_DTYPE:
      case FIC_KIND_DEVICE:
        break;
      case FIC_KIND_STRING:
        if (!args[i].v.s) return fic__fail_arg("args", "args[%d] is a string argument with a NULL pointer", (int)i);
        break;
      case FIC_KIND_TENSOR: {
        const fic_tensor *t = args[i].v.p;
        FIC_CHECK(tensor_arg(t, (int)i, &filled[i], filled_strides[i], &anys[i]));
        if (t->device.device_type == FIC_DEVICE_CUDA) {
          has_cuda_tensor = 1;
          if (dev < 0) dev = t->device.device_id;
        }
        break;
      }
      default:
        return fic__fail_arg("args", "args[%d] has kind %d, which is not an argument kind", (int)i, (int)args[i].kind);
    }
    anys[i].small_len = 0;
  }
  return fic__call_ex((const struct fic_function *)fn, anys, num_args, dev, stream, has_cuda_tensor, (fic_any *)result);
}

fic_status fic_result_string(const fic_result *result, const char **data, size_t *size) {
  if (!result || !data || !size) return fic__fail_arg("result", "result, data and size must not be NULL");
  if (result->kind == FIC_KIND_SMALL_STRING) {
    *data = result->v.small;
    *size = result->small_len;
    return FIC_OK;
  }
  if (result->kind == FIC_TI_STR && result->v.obj) {
    const char *base = (const char *)result->v.obj;
    memcpy(data, base + FIC_STR_DATA_OFFSET, sizeof *data);
    memcpy(size, base + FIC_STR_DATA_OFFSET + sizeof(const char *), sizeof *size);
    return FIC_OK;
  }
  return fic__fail_arg("result", "result holds kind %d, not a string", (int)result->kind);
}

fic_status fic_result_release(fic_result *result) {
  if (!result) return FIC_OK;
  if (result->kind >= FIC_KIND_OBJECT && result->v.obj) {
    const fic_tvm_api *api = fic__tvmffi_api();
    if (!api) return fic__fail(FIC_ERR_INTERNAL, "result holds an object but libtvm_ffi is not loaded");
    api->ObjectDecRef(result->v.obj);
  }
  memset(result, 0, sizeof *result);
  return FIC_OK;
}
