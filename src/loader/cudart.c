/* SPDX-License-Identifier: Apache-2.0 */
/* Finding libcudart.so.13. Kernel modules name it in DT_NEEDED with no
 * RPATH, so unless it is on the dynamic linker's path their dlopen fails.
 * Loading it first by absolute path makes the later DT_NEEDED lookup match
 * the already-loaded soname. Every place tried is recorded for the error
 * message and for fic_diagnose(). */
#include <dirent.h>
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/env.h"
#include "common/error.h"
#include "common/lazy.h"
#include "loader/loader.h"

#define CUDART_SONAME "libcudart.so.13"

static fic_lazy g_loaded = FIC_LAZY_INIT; /* publishes &g_api */
static fic_cudart_api g_api;
static char g_path[4096];
static char g_tried[8192];

static void note_tried(const char *place, const char *why) {
  size_t len = strlen(g_tried);
  snprintf(g_tried + len, sizeof g_tried - len, "%s%s (%s)", len ? "\n" : "", place, why);
}

static void *try_open(const char *path) {
  void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  if (h) return h;
  const char *err = dlerror();
  note_tried(path, access(path, F_OK) == 0 ? (err ? err : "dlopen failed") : "no such file");
  return NULL;
}

static void *try_dir(const char *dir) {
  if (!dir || !*dir) return NULL;
  char path[4096];
  snprintf(path, sizeof path, "%s/%s", dir, CUDART_SONAME);
  return try_open(path);
}

/* pip's CUDA 13 wheels: <site-packages>/nvidia/cu13/lib and nvidia/cuda_runtime/lib. */
static void *try_pip_layout(const char *prefix) {
  if (!prefix || !*prefix) return NULL;
  char libdir[4096];
  snprintf(libdir, sizeof libdir, "%s/lib", prefix);
  DIR *d = opendir(libdir);
  if (!d) return NULL;
  void *h = NULL;
  struct dirent *e;
  while (!h && (e = readdir(d)) != NULL) {
    if (strncmp(e->d_name, "python3", 7) != 0) continue;
    static const char *const subdirs[] = {"nvidia/cu13/lib", "nvidia/cuda_runtime/lib"};
    for (size_t i = 0; !h && i < 2; ++i) {
      char dir[4096];
      snprintf(dir, sizeof dir, "%s/%s/site-packages/%s", libdir, e->d_name, subdirs[i]);
      h = try_dir(dir);
    }
  }
  closedir(d);
  return h;
}

static void *find_handle(void) {
  g_tried[0] = '\0';
  void *h = dlopen(CUDART_SONAME, RTLD_NOW | RTLD_NOLOAD);
  if (h) return h;
  note_tried("already loaded in the process", "no");
  const char *explicit_path = fic__env("FLASHINFER_C_CUDART");
  /* An explicit path is authoritative: if it does not load, say so rather
   * than silently take another copy from the search. */
  if (explicit_path) return try_open(explicit_path);
  h = dlopen(CUDART_SONAME, RTLD_NOW | RTLD_GLOBAL);
  if (h) return h;
  note_tried("the dynamic linker's search path (LD_LIBRARY_PATH, ld.so.cache, system dirs)", "not found");
  static const char *const env_roots[] = {"CUDA_HOME", "CUDA_PATH", "CUDA_ROOT"};
  for (size_t i = 0; i < 3; ++i) {
    const char *root = fic__env(env_roots[i]);
    if (!root) continue;
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/lib64", root);
    if ((h = try_dir(dir))) return h;
    snprintf(dir, sizeof dir, "%s/lib", root);
    if ((h = try_dir(dir))) return h;
  }
  static const char *const fixed[] = {"/usr/local/cuda/lib64",
                                      "/usr/local/cuda/targets/x86_64-linux/lib",
                                      "/usr/local/cuda/targets/sbsa-linux/lib",
                                      "/usr/local/cuda-13/lib64",
                                      "/usr/lib/x86_64-linux-gnu",
                                      "/usr/lib/aarch64-linux-gnu"};
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; ++i)
    if ((h = try_dir(fixed[i]))) return h;
  static const char *const prefixes[] = {"VIRTUAL_ENV", "CONDA_PREFIX"};
  for (size_t i = 0; i < 2; ++i)
    if ((h = try_pip_layout(fic__env(prefixes[i])))) return h;
  return try_pip_layout("/usr/local");
}

static fic_status resolve_api(void *h) {
  struct {
    const char *name;
    void **slot;
  } syms[] = {
      {"cudaGetDevice", (void **)&g_api.GetDevice},
      {"cudaSetDevice", (void **)&g_api.SetDevice},
      {"cudaGetDeviceCount", (void **)&g_api.GetDeviceCount},
      {"cudaDeviceGetAttribute", (void **)&g_api.DeviceGetAttribute},
      {"cudaRuntimeGetVersion", (void **)&g_api.RuntimeGetVersion},
      {"cudaDriverGetVersion", (void **)&g_api.DriverGetVersion},
      {"cudaStreamIsCapturing", (void **)&g_api.StreamIsCapturing},
      {"cudaGetErrorString", (void **)&g_api.GetErrorString},
      {"cudaEventCreateWithFlags", (void **)&g_api.EventCreateWithFlags},
      {"cudaEventRecord", (void **)&g_api.EventRecord},
      {"cudaEventSynchronize", (void **)&g_api.EventSynchronize},
      {"cudaEventDestroy", (void **)&g_api.EventDestroy},
      {"cudaMemcpyAsync", (void **)&g_api.MemcpyAsync},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; ++i) {
    void *sym = dlsym(h, syms[i].name);
    if (!sym) return fic__fail(FIC_ERR_SYMBOL, "%s has no symbol %s", g_path, syms[i].name);
    *syms[i].slot = sym;
  }
  return FIC_OK;
}

static fic_status load_init(void *unused) {
  (void)unused;
  void *h = find_handle();
  if (!h)
    return fic__fail(FIC_ERR_CUDART_NOT_FOUND,
                     "%s not found; set FLASHINFER_C_CUDART to its path or add its directory to "
                     "LD_LIBRARY_PATH. Tried:\n%s",
                     CUDART_SONAME, g_tried);
  struct link_map *lm = NULL;
  snprintf(g_path, sizeof g_path, "%s", CUDART_SONAME);
  if (dlinfo(h, RTLD_DI_LINKMAP, &lm) == 0 && lm && lm->l_name && *lm->l_name)
    snprintf(g_path, sizeof g_path, "%s", lm->l_name);
  return resolve_api(h);
}

fic_status fic__cudart_load(const fic_cudart_api **out) {
  const void *api = NULL;
  fic_status st = fic__lazy_get(&g_loaded, load_init, NULL, &g_api, &api);
  if (st == FIC_OK && out) *out = api;
  return st;
}

const fic_cudart_api *fic__cudart(void) { return fic__lazy_peek(&g_loaded); }

/* g_tried is rewritten by every failed load attempt, under the lazy's lock:
 * copy it out under that lock too. */
static void copy_locked(char *dst, size_t size, const char *src) {
  if (!dst || !size) return;
  pthread_mutex_lock(&g_loaded.lock);
  snprintf(dst, size, "%s", src);
  pthread_mutex_unlock(&g_loaded.lock);
}

/* Written once before the load is published, never after. */
const char *fic__cudart_path(void) { return fic__cudart() ? g_path : ""; }

void fic__cudart_tried(char *buf, size_t size) { copy_locked(buf, size, g_tried); }

fic_status fic__module_open(const char *path, void **handle) {
  void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char *err = dlerror();
    if (err && strstr(err, CUDART_SONAME)) {
      char tried[sizeof g_tried];
      copy_locked(tried, sizeof tried, g_tried);
      return fic__fail(FIC_ERR_CUDART_NOT_FOUND, "dlopen(%s): %s. Tried:\n%s", path, err, tried);
    }
    return fic__fail(FIC_ERR_DLOPEN, "dlopen(%s): %s", path, err ? err : "unknown error");
  }
  *handle = h;
  return FIC_OK;
}
