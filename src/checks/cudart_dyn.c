/* SPDX-License-Identifier: Apache-2.0 */
/* dlopen-based access to libcudart.so.13 for the self-test (see cudart_dyn.h). */
#include "checks/cudart_dyn.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int cudart_dyn_open(cudart_dyn *c, const char *path, char *err, size_t err_size) {
  memset(c, 0, sizeof *c);
  if (!path || !*path) path = "libcudart.so.13";
  /* RTLD_LOCAL: the kernel modules resolve their own copy by soname; if the
   * same file is already loaded this returns that one. */
  c->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!c->handle) {
    snprintf(err, err_size, "dlopen %s: %s", path, dlerror());
    return -1;
  }
  static const struct {
    const char *name;
    size_t offset;
  } syms[] = {
#define DYN_SYM(field, name) {name, offsetof(cudart_dyn, field)}
      DYN_SYM(GetDeviceCount, "cudaGetDeviceCount"),
      DYN_SYM(SetDevice, "cudaSetDevice"),
      DYN_SYM(DeviceGetAttribute, "cudaDeviceGetAttribute"),
      DYN_SYM(RuntimeGetVersion, "cudaRuntimeGetVersion"),
      DYN_SYM(DriverGetVersion, "cudaDriverGetVersion"),
      DYN_SYM(Malloc, "cudaMalloc"),
      DYN_SYM(Free, "cudaFree"),
      DYN_SYM(Memcpy, "cudaMemcpy"),
      DYN_SYM(Memset, "cudaMemset"),
      DYN_SYM(StreamCreateWithFlags, "cudaStreamCreateWithFlags"),
      DYN_SYM(StreamDestroy, "cudaStreamDestroy"),
      DYN_SYM(StreamSynchronize, "cudaStreamSynchronize"),
      DYN_SYM(EventCreate, "cudaEventCreate"),
      DYN_SYM(EventDestroy, "cudaEventDestroy"),
      DYN_SYM(EventRecord, "cudaEventRecord"),
      DYN_SYM(EventSynchronize, "cudaEventSynchronize"),
      DYN_SYM(EventElapsedTime, "cudaEventElapsedTime"),
      DYN_SYM(GetErrorString, "cudaGetErrorString"),
#undef DYN_SYM
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; i++) {
    void *fn = dlsym(c->handle, syms[i].name);
    if (!fn) {
      snprintf(err, err_size, "%s has no %s", path, syms[i].name);
      memset(c, 0, sizeof *c); /* the handle stays open: unloading cudart is never safe */
      return -1;
    }
    /* POSIX guarantees object and function pointers convert through void *. */
    memcpy((char *)c + syms[i].offset, &fn, sizeof fn);
  }
  return 0;
}

const char *cudart_dyn_error(const cudart_dyn *c, int code) {
  if (c && c->GetErrorString) return c->GetErrorString(code);
  return "CUDA runtime not loaded";
}
