/* SPDX-License-Identifier: Apache-2.0 */
/* The slice of the TVM-FFI C ABI (apache-tvm-ffi 0.1.3 .. 0.1.14) that
 * flashinfer-c uses, declared in our own words so the library needs no
 * upstream header. A leaf header (it includes nothing of ours), so the
 * loader, the runtime and src/ffi can all use it. Facts: docs/tvm-ffi-abi.md and the layout checks in
 * src/ffi/abi_checks.c. Enum-typed fields are int32_t on purpose. */
#ifndef FIC_COMMON_TVM_FFI_ABI_H
#define FIC_COMMON_TVM_FFI_ABI_H

#include <stddef.h>
#include <stdint.h>

/* DLPack (v1.x; these layouts have not changed since v0.x). */
typedef struct fic_dl_device {
  int32_t device_type;
  int32_t device_id;
} fic_dl_device;

typedef struct fic_dl_dtype {
  uint8_t code;
  uint8_t bits;
  uint16_t lanes;
} fic_dl_dtype;

typedef struct fic_dl_tensor {
  void *data;
  fic_dl_device device;
  int32_t ndim;
  fic_dl_dtype dtype;
  int64_t *shape;
  int64_t *strides;
  uint64_t byte_offset;
} fic_dl_tensor;

typedef struct fic_dl_version {
  uint32_t major, minor;
} fic_dl_version;

typedef struct fic_dl_managed_versioned {
  fic_dl_version version;
  void *manager_ctx;
  void (*deleter)(struct fic_dl_managed_versioned *self);
  uint64_t flags;
  fic_dl_tensor dl_tensor;
} fic_dl_managed_versioned;

/* Type indices (stable from 0.1.0; 75+ added later are objects too). */
enum {
  FIC_TI_NONE = 0,
  FIC_TI_INT = 1,
  FIC_TI_BOOL = 2,
  FIC_TI_FLOAT = 3,
  FIC_TI_OPAQUE_PTR = 4,
  FIC_TI_DTYPE = 5,
  FIC_TI_DEVICE = 6,
  FIC_TI_DLTENSOR_PTR = 7,
  FIC_TI_RAW_STR = 8,
  FIC_TI_BYTE_ARRAY_PTR = 9,
  FIC_TI_SMALL_STR = 11,
  FIC_TI_SMALL_BYTES = 12,
  FIC_TI_STATIC_OBJECT_BEGIN = 64,
  FIC_TI_STR = 65,
  FIC_TI_BYTES = 66,
  FIC_TI_ERROR = 67,
  FIC_TI_FUNCTION = 68,
  FIC_TI_SHAPE = 69,
  FIC_TI_TENSOR = 70,
  FIC_TI_ARRAY = 71
};

/* The 16-byte value cell. */
typedef struct fic_any {
  int32_t type_index;
  uint32_t small_len; /* zero_padding, or the small string's length */
  union {
    int64_t v_int64;
    double v_float64;
    void *v_ptr;
    const char *v_c_str;
    void *v_obj;
    fic_dl_dtype v_dtype;
    fic_dl_device v_device;
    char v_bytes[8];
    uint64_t v_uint64;
  } v;
} fic_any;

typedef struct fic_byte_array {
  const char *data;
  size_t size;
} fic_byte_array;

typedef struct fic_tvm_version {
  uint32_t major, minor, patch;
} fic_tvm_version;

/* Object header and the cells we read (offsets from the object pointer). */
#define FIC_OBJ_HEADER_SIZE 24
#define FIC_OBJ_TYPE_INDEX_OFFSET 8
#define FIC_ERR_KIND_OFFSET 24
#define FIC_ERR_MSG_OFFSET 40
#define FIC_ERR_BT_OFFSET 56
#define FIC_STR_DATA_OFFSET 24
/* ArrayObj (71): data (TVMFFIAny cells) at +24, size (int64) at +32; the
 * same from 0.1.3 to 0.1.8.post2 and, as TVMFFISeqCell, from 0.1.9. */
#define FIC_ARRAY_DATA_OFFSET 24
#define FIC_ARRAY_SIZE_OFFSET 32

typedef int (*fic_safe_call_fn)(void *handle, const fic_any *args, int32_t num_args, fic_any *result);

/* The functions of libtvm_ffi.so we call, resolved once with dlsym. */
typedef struct fic_tvm_api {
  void (*GetVersion)(fic_tvm_version *out);
  int (*ObjectIncRef)(void *obj);
  int (*ObjectDecRef)(void *obj);
  void (*ErrorMoveFromRaised)(void **out);
  int (*EnvSetStream)(int32_t device_type, int32_t device_id, void *stream, void **opt_out_prev);
  void *(*EnvGetStream)(int32_t device_type, int32_t device_id);
  int (*TensorFromDLPackVersioned)(fic_dl_managed_versioned *from, int32_t require_alignment,
                                   int32_t require_contiguous, void **out);
  /* A registered global function ("ffi.Array"): a new reference, or NULL with 0. */
  int (*FunctionGetGlobal)(const fic_byte_array *name, void **out);
  int (*FunctionCall)(void *func, fic_any *args, int32_t num_args, fic_any *result);
} fic_tvm_api;

#endif
