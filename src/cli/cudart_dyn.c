/* dlopen-based access to libcudart.so.13 for the self-test (see cudart_dyn.h). */
#include "cli/cudart_dyn.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

int fic_cudart_open(fic_cudart *c, const char *path, char *err, size_t err_size) {
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
#define FIC_SYM(field, name) {name, offsetof(fic_cudart, field)}
      FIC_SYM(GetDeviceCount, "cudaGetDeviceCount"),
      FIC_SYM(SetDevice, "cudaSetDevice"),
      FIC_SYM(DeviceGetAttribute, "cudaDeviceGetAttribute"),
      FIC_SYM(RuntimeGetVersion, "cudaRuntimeGetVersion"),
      FIC_SYM(DriverGetVersion, "cudaDriverGetVersion"),
      FIC_SYM(Malloc, "cudaMalloc"),
      FIC_SYM(Free, "cudaFree"),
      FIC_SYM(Memcpy, "cudaMemcpy"),
      FIC_SYM(Memset, "cudaMemset"),
      FIC_SYM(StreamCreateWithFlags, "cudaStreamCreateWithFlags"),
      FIC_SYM(StreamDestroy, "cudaStreamDestroy"),
      FIC_SYM(StreamSynchronize, "cudaStreamSynchronize"),
      FIC_SYM(EventCreate, "cudaEventCreate"),
      FIC_SYM(EventDestroy, "cudaEventDestroy"),
      FIC_SYM(EventRecord, "cudaEventRecord"),
      FIC_SYM(EventSynchronize, "cudaEventSynchronize"),
      FIC_SYM(EventElapsedTime, "cudaEventElapsedTime"),
      FIC_SYM(GetErrorString, "cudaGetErrorString"),
#undef FIC_SYM
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

const char *fic_cudart_error(const fic_cudart *c, int code) {
  if (c && c->GetErrorString) return c->GetErrorString(code);
  return "CUDA runtime not loaded";
}
