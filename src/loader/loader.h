/* SPDX-License-Identifier: Apache-2.0 */
/* Loader layer: libtvm_ffi.so (one per process), libcudart.so.13, kernel
 * modules. Process-global state lives here and is never unloaded: unloading
 * a CUDA module with work in flight is unsafe, and a second libtvm_ffi would
 * split the error and stream tables. */
#ifndef FIC_LOADER_H
#define FIC_LOADER_H

#include "common/tvm_ffi_abi.h"
#include "flashinfer_c.h"

/* Load libtvm_ffi.so from `path` with RTLD_NOW|RTLD_GLOBAL, or reuse the copy
 * already in the process (after a version check). The host's fatal-signal
 * handlers are saved before and restored after the load, because
 * libtvm_ffi installs its own SIGSEGV handler from a constructor. */
fic_status fic__tvmffi_load(const char *path, const fic_tvm_api **out);
/* The loaded API, or NULL. One acquire load. */
const fic_tvm_api *fic__tvmffi_api(void);
/* Version and path of the loaded copy ("" before loading). */
fic_status fic__tvmffi_info(fic_tvm_version *version, const char **path, int *reused);

/* The subset of the CUDA runtime API the library calls, through dlsym. */
typedef struct fic_cudart_api {
  int (*GetDevice)(int *device);
  int (*SetDevice)(int device);
  int (*GetDeviceCount)(int *count);
  int (*DeviceGetAttribute)(int *value, int attr, int device);
  int (*RuntimeGetVersion)(int *version);
  int (*DriverGetVersion)(int *version);
  int (*StreamIsCapturing)(void *stream, int *status);
  const char *(*GetErrorString)(int error);
  /* Events: the attention workspace orders plans on its page-locked buffer (0.2.0). */
  int (*EventCreateWithFlags)(void **event, unsigned flags);
  int (*EventRecord)(void *event, void *stream);
  int (*EventSynchronize)(void *event);
  int (*EventDestroy)(void *event);
  /* The tensor-core decode plan's qo_indptr copy into the int workspace (0.2.0). */
  int (*MemcpyAsync)(void *dst, const void *src, size_t bytes, int kind, void *stream);
} fic_cudart_api;

/* Find and load libcudart.so.13 (already loaded; the dynamic linker's path;
 * $FLASHINFER_C_CUDART; CUDA_HOME, CUDA_PATH, /usr/local/cuda; pip's nvidia
 * layout). Idempotent. FIC_ERR_CUDART_NOT_FOUND lists every place tried. */
fic_status fic__cudart_load(const fic_cudart_api **out);
/* The loaded cudart, or NULL if not (yet) loaded. One acquire load. */
const fic_cudart_api *fic__cudart(void);
/* The path it was loaded from, "" if not loaded. */
const char *fic__cudart_path(void);
/* A copy of the places tried by the last load attempt ('\n'-separated). */
void fic__cudart_tried(char *buf, size_t size);

/* dlopen a kernel module RTLD_NOW|RTLD_LOCAL. */
fic_status fic__module_open(const char *path, void **handle);
/* The process's one copy of module `name` with content `sha256`: loaded from
 * `path` the first time, reused after; a different build of an already
 * loaded module is refused (FIC_ERR_UNSUPPORTED; see module_registry.c). */
fic_status fic__module_acquire(const char *name, const char *path, const char *sha256, void **handle);

#endif
