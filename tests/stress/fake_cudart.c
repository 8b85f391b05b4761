/* SPDX-License-Identifier: Apache-2.0 */
/* A fake libcudart exporting everything src/loader/cudart.c resolves, for the
 * capture-refusal test without a GPU: cudaStreamIsCapturing reports an active
 * capture while FIC_FAKE_CUDART_CAPTURING=1. FIC_FAKE_CUDART_CC=<major><minor>
 * (e.g. 90) makes cudaDeviceGetAttribute report that compute capability
 * (bench/bench_plan_host.c --sm90); otherwise every attribute is 0. Nothing
 * else does anything. */
#include <stdlib.h>
#include <string.h>

#define EXPORT __attribute__((visibility("default")))

EXPORT int cudaGetDevice(int *device);
EXPORT int cudaSetDevice(int device);
EXPORT int cudaGetDeviceCount(int *count);
EXPORT int cudaDeviceGetAttribute(int *value, int attr, int device);
EXPORT int cudaRuntimeGetVersion(int *version);
EXPORT int cudaDriverGetVersion(int *version);
EXPORT int cudaStreamIsCapturing(void *stream, int *status);
EXPORT const char *cudaGetErrorString(int error);
EXPORT int cudaEventCreateWithFlags(void **event, unsigned flags);
EXPORT int cudaEventRecord(void *event, void *stream);
EXPORT int cudaEventSynchronize(void *event);
EXPORT int cudaEventDestroy(void *event);
EXPORT int cudaMemcpyAsync(void *dst, const void *src, size_t bytes, int kind, void *stream);

int cudaGetDevice(int *device) {
  *device = 0;
  return 0;
}
int cudaSetDevice(int device) { return device == 0 ? 0 : 101; }
int cudaGetDeviceCount(int *count) {
  *count = 0;
  return 0;
}
int cudaDeviceGetAttribute(int *value, int attr, int device) {
  (void)device;
  const char *cc = getenv("FIC_FAKE_CUDART_CC");
  int v = cc ? atoi(cc) : 0;
  *value = attr == 75 ? v / 10 : attr == 76 ? v % 10 : 0; /* cudaDevAttrComputeCapabilityMajor / Minor */
  return 0;
}
int cudaRuntimeGetVersion(int *version) {
  *version = 13000;
  return 0;
}
int cudaDriverGetVersion(int *version) {
  *version = 13000;
  return 0;
}
int cudaStreamIsCapturing(void *stream, int *status) {
  (void)stream;
  const char *v = getenv("FIC_FAKE_CUDART_CAPTURING");
  *status = v && strcmp(v, "1") == 0; /* cudaStreamCaptureStatusActive */
  return 0;
}
const char *cudaGetErrorString(int error) { return error ? "fake error" : "no error"; }
/* The attention workspace's events: resolved by the loader, unused here. */
int cudaEventCreateWithFlags(void **event, unsigned flags) {
  (void)flags;
  *event = NULL;
  return 0;
}
int cudaEventRecord(void *event, void *stream) {
  (void)event, (void)stream;
  return 0;
}
int cudaEventSynchronize(void *event) {
  (void)event;
  return 0;
}
int cudaEventDestroy(void *event) {
  (void)event;
  return 0;
}
int cudaMemcpyAsync(void *dst, const void *src, size_t bytes, int kind, void *stream) {
  (void)dst, (void)src, (void)bytes, (void)kind, (void)stream;
  return 0;
}
