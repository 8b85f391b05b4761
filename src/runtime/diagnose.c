/* fic_diagnose(): everything a bug report needs, in one text. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "artifacts/artifacts.h"
#include "common/error.h"
#include "loader/loader.h"
#include "runtime/runtime.h"

#define ATTR_CC_MAJOR 75 /* cudaDevAttrComputeCapabilityMajor */
#define ATTR_CC_MINOR 76
#define ATTR_SM_COUNT 16 /* cudaDevAttrMultiProcessorCount */

typedef struct text {
  char *buf;
  size_t size, len;
} text;

static void add(text *t, const char *fmt, ...) FIC_PRINTF(2, 3);
static void add(text *t, const char *fmt, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n < 0) return;
  size_t len = (size_t)n < sizeof line ? (size_t)n : sizeof line - 1;
  if (t->buf && t->len < t->size) {
    size_t room = t->size - t->len - 1;
    memcpy(t->buf + t->len, line, len < room ? len : room);
    t->buf[t->len + (len < room ? len : room)] = '\0';
  }
  t->len += len;
}

static void add_cuda(text *t) {
  const fic_cudart_api *cu = NULL;
  const char *path = "", *tried = "";
  fic_status st = fic__cudart_load(&cu);
  fic__cudart_info(&path, &tried);
  if (st != FIC_OK) {
    add(t, "libcudart: not found\n  tried:\n");
    /* One place per line, each indented. */
    for (const char *line = tried; *line;) {
      size_t len = strcspn(line, "\n");
      add(t, "    %.*s\n", (int)len, line);
      line += len + (line[len] == '\n');
    }
    fic_clear_error();
    return;
  }
  int rt_ver = 0, drv_ver = 0, count = 0;
  cu->RuntimeGetVersion(&rt_ver);
  cu->DriverGetVersion(&drv_ver);
  add(t, "libcudart: %s (runtime %d.%d)\n", path, rt_ver / 1000, (rt_ver % 1000) / 10);
  if (drv_ver == 0)
    add(t, "driver: none (no NVIDIA driver)\n");
  else
    add(t, "driver: supports CUDA %d.%d\n", drv_ver / 1000, (drv_ver % 1000) / 10);
  int rc = cu->GetDeviceCount(&count);
  if (rc != 0) {
    add(t, "gpus: none (%s)\n", cu->GetErrorString(rc));
    return;
  }
  add(t, "gpus: %d\n", count);
  for (int d = 0; d < count; ++d) {
    int major = 0, minor = 0, sms = 0;
    cu->DeviceGetAttribute(&major, ATTR_CC_MAJOR, d);
    cu->DeviceGetAttribute(&minor, ATTR_CC_MINOR, d);
    cu->DeviceGetAttribute(&sms, ATTR_SM_COUNT, d);
    add(t, "  gpu %d: compute capability %d.%d, %d SMs%s\n", d, major, minor, sms,
        major == 9 ? "" : " (gdn_prefill_sm90 needs 9.x)");
  }
}

fic_status fic_diagnose(const fic_runtime *rt, char *buf, size_t size, size_t *needed) {
  if (!buf && size) return fic__fail_arg("buf", "buf is NULL but size is %zu", size);
  text t = {buf, size, 0};
  if (buf && size) buf[0] = '\0';
  const char *ver = "";
  fic_version(NULL, &ver);
  add(&t, "flashinfer-c: %s\n", ver);
  fic_tvm_version tv;
  const char *tpath = "";
  int reused = 0;
  if (fic__tvmffi_info(&tv, &tpath, &reused) == FIC_OK)
    add(&t, "tvm-ffi: %u.%u.%u from %s%s\n", tv.major, tv.minor, tv.patch, tpath,
        reused ? " (reused: already in the process)" : "");
  else {
    add(&t, "tvm-ffi: not loaded\n");
    fic_clear_error();
  }
  add_cuda(&t);
  if (rt) {
    const fic_artifacts *a = rt->artifacts;
    add(&t, "cache root: %s\nartifact dir: %s%s\n", a->cache_root, a->artifact_dir,
        a->cache_hit ? " (warm: reused)" : " (cold: extracted now)");
    add(&t, "jit-cache wheel: %s\ntvm-ffi wheel: %s\n", a->jit_cache_wheel[0] ? a->jit_cache_wheel : "(not needed)",
        a->tvmffi_wheel[0] ? a->tvmffi_wheel : "(not needed)");
    for (size_t i = 0; i < rt->num_modules; ++i)
      add(&t, "module %s: %s%s\n", rt->modules[i].name, rt->modules[i].path, rt->modules[i].handle ? " (loaded)" : "");
  } else {
    char root[FIC_PATH_MAX];
    if (fic__cache_root(NULL, root, sizeof root) == FIC_OK)
      add(&t, "cache root: %s\n", root);
    else {
      add(&t, "cache root: unknown (%s)\n", fic_last_error_message());
      fic_clear_error();
    }
  }
  if (needed) *needed = t.len + 1;
  return FIC_OK;
}
