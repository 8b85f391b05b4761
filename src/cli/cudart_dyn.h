/* The few CUDA runtime functions `flashinfer-c selftest` needs, loaded with
 * dlopen from the libcudart.so.13 the runtime found, so the CLI builds and
 * runs without a CUDA toolkit and reports "no GPU" instead of failing to
 * start. Prototypes are declared here (no CUDA headers); error codes are
 * cudaError_t values (0 = cudaSuccess). */
#ifndef FIC_CLI_CUDART_DYN_H
#define FIC_CLI_CUDART_DYN_H

#include <stddef.h>

#include "common/cuda_abi.h" /* FIC_CUDA_ATTR_* */

/* cudaMemcpyKind */
enum { FIC_CUDA_H2D = 1, FIC_CUDA_D2H = 2, FIC_CUDA_D2D = 3 };
/* cudaStreamNonBlocking */
enum { FIC_CUDA_STREAM_NON_BLOCKING = 1 };

typedef struct fic_cudart {
  void *handle;
  int (*GetDeviceCount)(int *count);
  int (*SetDevice)(int device);
  int (*DeviceGetAttribute)(int *value, int attr, int device);
  int (*RuntimeGetVersion)(int *version);
  int (*DriverGetVersion)(int *version);
  int (*Malloc)(void **ptr, size_t size);
  int (*Free)(void *ptr);
  int (*Memcpy)(void *dst, const void *src, size_t count, int kind);
  int (*Memset)(void *ptr, int value, size_t count);
  int (*StreamCreateWithFlags)(void **stream, unsigned flags);
  int (*StreamDestroy)(void *stream);
  int (*StreamSynchronize)(void *stream);
  int (*EventCreate)(void **event);
  int (*EventDestroy)(void *event);
  int (*EventRecord)(void *event, void *stream);
  int (*EventSynchronize)(void *event);
  int (*EventElapsedTime)(float *ms, void *start, void *end);
  const char *(*GetErrorString)(int error);
} fic_cudart;

/* dlopen `path` (NULL: "libcudart.so.13") and resolve every function above.
 * Returns 0, or -1 with a reason in `err`. */
int fic_cudart_open(fic_cudart *c, const char *path, char *err, size_t err_size);
/* "cudaErrorX: text" for an error code (safe before a successful open). */
const char *fic_cudart_error(const fic_cudart *c, int code);

#endif
