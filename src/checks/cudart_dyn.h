/* SPDX-License-Identifier: Apache-2.0 */
/* The few CUDA runtime functions `flashinfer-c run` needs, loaded with
 * dlopen from the libcudart.so.13 the runtime found, so the CLI builds and
 * runs without a CUDA toolkit and reports "no GPU" instead of failing to
 * start. Prototypes are declared here (no CUDA headers); error codes are
 * cudaError_t values (0 = cudaSuccess). */
#ifndef FIC_CHECKS_CUDART_DYN_H
#define FIC_CHECKS_CUDART_DYN_H

#include <stddef.h>

#include "common/cuda_abi.h" /* FIC_CUDA_ATTR_* */

/* cudaMemcpyKind */
enum { CUDART_DYN_H2D = 1, CUDART_DYN_D2H = 2, CUDART_DYN_D2D = 3 };
/* cudaStreamNonBlocking */
enum { CUDART_DYN_STREAM_NON_BLOCKING = 1 };

typedef struct cudart_dyn {
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
} cudart_dyn;

/* dlopen `path` (NULL: "libcudart.so.13") and resolve every function above.
 * Returns 0, or -1 with a reason in `err`. */
int cudart_dyn_open(cudart_dyn *c, const char *path, char *err, size_t err_size);
/* "cudaErrorX: text" for an error code (safe before a successful open). */
const char *cudart_dyn_error(const cudart_dyn *c, int code);

#endif
