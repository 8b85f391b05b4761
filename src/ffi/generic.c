/* SPDX-License-Identifier: Apache-2.0 */
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
_Static_assert((int)FIC_KIND_TENSOR_OBJECT == (int)FIC_TI_TENSOR, "a tensor-object argument is passed as a Tensor");
_Static_assert((int)FIC_KIND_ARRAY == (int)FIC_TI_ARRAY, "FIC_KIND_ARRAY is the Array type index");
_Static_assert(sizeof(fic_arg) == sizeof(fic_any), "fic_arg layout");
_Static_assert(sizeof(fic_result) == sizeof(fic_any), "fic_result layout");
_Static_assert(offsetof(fic_arg, v) == offsetof(fic_any, v), "fic_arg payload offset");
_Static_assert(offsetof(fic_result, v) == offsetof(fic_any, v), "fic_result payload offset");

#define FIC_MAX_TENSOR_OBJECTS 16 /* FIC_KIND_TENSOR_OBJECT arguments per call */

/* Everything one call converts its arguments into; lives on the stack. */
typedef struct call_args {
  fic_any anys[FIC_MAX_ARGS];
  /* Copies of tensors whose strides were NULL, with row-major strides. */
  fic_dl_tensor filled[FIC_MAX_ARGS];
  int64_t filled_strides[FIC_MAX_ARGS][FIC_MAX_FILLED_DIMS];
  /* Tensor objects made for FIC_KIND_TENSOR_OBJECT arguments: released after the call. */
  fic_dl_managed_versioned storage[FIC_MAX_TENSOR_OBJECTS];
  int32_t owned[FIC_MAX_TENSOR_OBJECTS]; /* indices into anys */
  int num_owned;
  int32_t device;      /* the caller's device_id, else the first CUDA tensor's */
  int has_cuda_tensor; /* only then does the current device matter */
} call_args;

static void arg_name(char *buf, size_t size, int index) { snprintf(buf, size, "args[%d]", index); }

/* A tensor argument: the shared descriptor rule; NULL strides are filled in
 * a copy (up to rank FIC_MAX_FILLED_DIMS), because TVM-FFI reads them. The
 * first CUDA tensor picks the device when the caller gave none; host (CPU)
 * tensors never do. */
static fic_status tensor_arg(call_args *c, const fic_tensor *t, int index) {
  char arg[32];
  arg_name(arg, sizeof arg, index);
  int64_t numel;
  FIC_CHECK(fic__tensor_check(t, arg, t && t->strides ? 64 : FIC_MAX_FILLED_DIMS, c->filled_strides[index], &numel));
  if (!t->strides && t->ndim > 0) {
    memcpy(&c->filled[index], t, sizeof c->filled[index]);
    c->filled[index].strides = c->filled_strides[index];
    c->anys[index].v.v_ptr = &c->filled[index];
  }
  if (t->device.device_type == FIC_DEVICE_CUDA) {
    c->has_cuda_tensor = 1;
    if (c->device < 0) c->device = t->device.device_id;
  }
  return FIC_OK;
}

/* A tensor for an `Optional<ffi::Tensor>`/`ffi::Tensor` parameter: the same
 * rule, then a Tensor object over the (filled-in) descriptor, owned here. */
static fic_status tensor_object_arg(call_args *c, const fic_tensor *t, int index) {
  if (c->num_owned == FIC_MAX_TENSOR_OBJECTS) {
    char arg[32];
    arg_name(arg, sizeof arg, index);
    return fic__fail_arg(arg, "%s: more than %d tensor-object arguments in one call", arg, FIC_MAX_TENSOR_OBJECTS);
  }
  FIC_CHECK(tensor_arg(c, t, index));
  const fic_tensor *desc = c->anys[index].v.v_ptr;
  int k = c->num_owned;
  FIC_CHECK(fic__tensor_object_api(fic__tvmffi_api(), desc, &c->storage[k], &c->anys[index]));
  c->owned[k] = index;
  c->num_owned = k + 1;
  return FIC_OK;
}

/* A borrowed object: only kinds whose conversion is known to be safe. The
 * type index is read from the object header, so the cell always matches it
 * (TVM-FFI trusts the cell; an unregistered index makes it exit()). */
static fic_status object_arg(call_args *c, const void *obj, int index) {
  char arg[32];
  arg_name(arg, sizeof arg, index);
  if (!obj) return fic__fail_arg(arg, "%s is an object argument that holds no object", arg);
  int32_t type_index;
  memcpy(&type_index, (const char *)obj + FIC_OBJ_TYPE_INDEX_OFFSET, sizeof type_index);
  if (type_index != FIC_TI_STR && type_index != FIC_TI_TENSOR && type_index != FIC_TI_ARRAY)
    return fic__fail_arg(arg,
                         "%s is an object of type index %d; only String (65), Tensor (70) and Array (71) objects "
                         "may be passed",
                         arg, (int)type_index);
  c->anys[index].type_index = type_index;
  return FIC_OK;
}

static fic_status convert_arg(call_args *c, const fic_arg *a, int index) {
  memcpy(&c->anys[index], a, sizeof c->anys[index]);
  c->anys[index].small_len = 0;
  switch (a->kind) {
    case FIC_KIND_NONE:
    case FIC_KIND_INT:
    case FIC_KIND_BOOL:
    case FIC_KIND_FLOAT:
    case FIC_KIND_DTYPE:
    case FIC_KIND_DEVICE:
      return FIC_OK;
    case FIC_KIND_STRING:
      if (!a->v.s) return fic__fail_arg("args", "args[%d] is a string argument with a NULL pointer", index);
      return FIC_OK;
    case FIC_KIND_TENSOR:
      return tensor_arg(c, a->v.p, index);
    case FIC_KIND_TENSOR_OBJECT:
      return tensor_object_arg(c, a->v.p, index);
    case FIC_KIND_OBJECT:
      return object_arg(c, a->v.p, index);
    default:
      return fic__fail_arg("args", "args[%d] has kind %d, which is not an argument kind", index, (int)a->kind);
  }
}

fic_status fic_function_call(const fic_function *fn, const fic_arg *args, int32_t num_args, int32_t device_id,
                             void *stream, fic_result *result) {
  if (!fn) return fic__fail_arg("fn", "fn is NULL");
  if (num_args < 0 || num_args > FIC_MAX_ARGS)
    return fic__fail_arg("num_args", "num_args is %d (0..%d)", (int)num_args, FIC_MAX_ARGS);
  if (num_args > 0 && !args) return fic__fail_arg("args", "args is NULL");
  if (device_id < -1) return fic__fail_arg("device_id", "device_id is %d (-1 or a CUDA ordinal)", (int)device_id);

  call_args c;
  c.num_owned = 0;
  c.device = device_id;
  c.has_cuda_tensor = 0;
  fic_status st = FIC_OK;
  for (int32_t i = 0; i < num_args && st == FIC_OK; ++i) st = convert_arg(&c, &args[i], (int)i);
  if (st == FIC_OK)
    st = fic__call_ex((const struct fic_function *)fn, c.anys, num_args, c.device, stream, c.has_cuda_tensor,
                      (fic_any *)result);
  /* Once, on every path. The callee dropped the references it took (its
   * storage is on this stack: FlashInfer's wrappers keep no Tensor past the call). */
  for (int k = 0; k < c.num_owned; ++k) fic__object_release_api(fic__tvmffi_api(), &c.anys[c.owned[k]]);
  return st;
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
