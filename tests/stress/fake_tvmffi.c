/* SPDX-License-Identifier: Apache-2.0 */
/* A fake libtvm_ffi.so (SONAME libtvm_ffi.so) exporting the symbols the
 * loader resolves (src/loader/tvmffi.c resolve_api), built twice: version
 * 0.FAKE_MINOR.0 with every symbol, and with FAKE_NO_ENV_SET_STREAM missing
 * TVMFFIEnvSetStream. The stubs are never meant to be called. */
#include <stddef.h>
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

typedef struct fake_version {
  uint32_t major, minor, patch;
} fake_version;

EXPORT void TVMFFIGetVersion(fake_version *out);
EXPORT int TVMFFIObjectIncRef(void *obj);
EXPORT int TVMFFIObjectDecRef(void *obj);
EXPORT void TVMFFIErrorMoveFromRaised(void **out);
EXPORT void *TVMFFIEnvGetStream(int32_t device_type, int32_t device_id);
EXPORT int TVMFFITensorFromDLPackVersioned(void *from, int32_t align, int32_t contiguous, void **out);
EXPORT int TVMFFIFunctionGetGlobal(const void *name, void **out);
EXPORT int TVMFFIFunctionCall(void *func, void *args, int32_t num_args, void *result);

void TVMFFIGetVersion(fake_version *out) {
  out->major = 0;
  out->minor = FAKE_MINOR;
  out->patch = FAKE_MINOR == 1 ? 3 : 0;
}
int TVMFFIObjectIncRef(void *obj) { return obj ? 0 : -1; }
int TVMFFIObjectDecRef(void *obj) { return obj ? 0 : -1; }
void TVMFFIErrorMoveFromRaised(void **out) { *out = NULL; }
void *TVMFFIEnvGetStream(int32_t device_type, int32_t device_id) {
  (void)device_type;
  (void)device_id;
  return NULL;
}
int TVMFFITensorFromDLPackVersioned(void *from, int32_t align, int32_t contiguous, void **out) {
  (void)from;
  (void)align;
  (void)contiguous;
  *out = NULL;
  return -1;
}
int TVMFFIFunctionGetGlobal(const void *name, void **out) {
  (void)name;
  *out = NULL;
  return 0;
}
int TVMFFIFunctionCall(void *func, void *args, int32_t num_args, void *result) {
  (void)func;
  (void)args;
  (void)num_args;
  (void)result;
  return -1;
}
#ifndef FAKE_NO_ENV_SET_STREAM
EXPORT int TVMFFIEnvSetStream(int32_t device_type, int32_t device_id, void *stream, void **opt_out_prev);
int TVMFFIEnvSetStream(int32_t device_type, int32_t device_id, void *stream, void **opt_out_prev) {
  (void)device_type;
  (void)device_id;
  (void)stream;
  if (opt_out_prev) *opt_out_prev = NULL;
  return 0;
}
#endif
