/* SPDX-License-Identifier: Apache-2.0 */
/* fic_diagnose(): everything a bug report needs, in one text. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "artifacts/artifacts.h"
#include "common/cuda_abi.h"
#include "common/error.h"
#include "loader/loader.h"
#include "runtime/runtime.h"

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

/* The places a failed libcudart search tried, one per line, each indented. */
static void add_cuda_tried(text *t) {
  char tried[8192];
  fic__cudart_tried(tried, sizeof tried);
  add(t, "libcudart: not found\n  tried:\n");
  for (const char *line = tried; *line;) {
    size_t len = strcspn(line, "\n");
    add(t, "    %.*s\n", (int)len, line);
    line += len + (line[len] == '\n');
  }
}

static void add_cuda(text *t) {
  const fic_cudart_api *cu = NULL;
  /* A missing libcudart is a finding here, not a failure of fic_diagnose. */
  fic_error_divert saved;
  fic__error_divert_begin(&saved, NULL, 0);
  fic_status st = fic__cudart_load(&cu);
  fic__error_divert_end(&saved);
  if (st != FIC_OK) {
    add_cuda_tried(t);
    return;
  }
  int rt_ver = 0, drv_ver = 0, count = 0;
  cu->RuntimeGetVersion(&rt_ver);
  cu->DriverGetVersion(&drv_ver);
  add(t, "libcudart: %s (runtime %d.%d)\n", fic__cudart_path(), rt_ver / 1000, (rt_ver % 1000) / 10);
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
    cu->DeviceGetAttribute(&major, FIC_CUDA_ATTR_CC_MAJOR, d);
    cu->DeviceGetAttribute(&minor, FIC_CUDA_ATTR_CC_MINOR, d);
    cu->DeviceGetAttribute(&sms, FIC_CUDA_ATTR_SM_COUNT, d);
    add(t, "  gpu %d: compute capability %d.%d, %d SMs%s\n", d, major, minor, sms,
        major == 9 ? "" : " (gdn_prefill_sm90 needs 9.x)");
  }
}

static void add_tvmffi(text *t) {
  fic_tvm_version tv;
  const char *tpath = "";
  int reused = 0;
  fic_error_divert saved;
  fic__error_divert_begin(&saved, NULL, 0);
  fic_status st = fic__tvmffi_info(&tv, &tpath, &reused);
  fic__error_divert_end(&saved);
  if (st == FIC_OK)
    add(t, "tvm-ffi: %u.%u.%u from %s%s\n", tv.major, tv.minor, tv.patch, tpath,
        reused ? " (reused: already in the process)" : "");
  else
    add(t, "tvm-ffi: not loaded\n");
}

static void add_runtime(text *t, const fic_runtime *rt) {
  const fic_artifacts *a = rt->artifacts;
  add(t, "cache root: %s\nartifact dir: %s%s\n", a->cache_root, a->artifact_dir,
      a->cache_hit ? " (warm: reused)" : " (cold: extracted now)");
  add(t, "jit-cache wheel: %s\ntvm-ffi wheel: %s\n", a->jit_cache_wheel[0] ? a->jit_cache_wheel : "(not needed)",
      a->tvmffi_wheel[0] ? a->tvmffi_wheel : "(not needed)");
  /* Module handles are written under rt->lock by concurrent first calls. The
   * lock is not part of the runtime's logical state, so the cast is sound. */
  pthread_mutex_t *lock = (pthread_mutex_t *)&rt->lock;
  pthread_mutex_lock(lock);
  for (size_t i = 0; i < rt->num_modules; ++i)
    add(t, "module %s: %s%s\n", rt->modules[i]->name, rt->modules[i]->path, rt->modules[i]->handle ? " (loaded)" : "");
  pthread_mutex_unlock(lock);
}

static void add_default_cache_root(text *t) {
  char root[FIC_PATH_MAX], why[512];
  fic_error_divert saved;
  fic__error_divert_begin(&saved, why, sizeof why);
  fic_status st = fic__cache_root(NULL, root, sizeof root);
  fic__error_divert_end(&saved);
  if (st == FIC_OK)
    add(t, "cache root: %s\n", root);
  else
    add(t, "cache root: unknown (%s)\n", why);
}

fic_status fic_diagnose(const fic_runtime *rt, char *buf, size_t size, size_t *needed) {
  if (!buf && size) return fic__fail_arg("buf", "buf is NULL but size is %zu", size);
  text t = {buf, size, 0};
  if (buf && size) buf[0] = '\0';
  const char *ver = "";
  fic_version(NULL, &ver);
  add(&t, "flashinfer-c: %s\n", ver);
  add_tvmffi(&t);
  add_cuda(&t);
  if (rt)
    add_runtime(&t, rt);
  else
    add_default_cache_root(&t);
  if (needed) *needed = t.len + 1;
  return FIC_OK;
}
