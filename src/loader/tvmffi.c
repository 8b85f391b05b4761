/* SPDX-License-Identifier: Apache-2.0 */
/* Loading libtvm_ffi.so: exactly one copy per process. */
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "common/error.h"
#include "common/lazy.h"
#include "loader/loader.h"

static fic_lazy g_loaded = FIC_LAZY_INIT; /* publishes &g_api */
static fic_tvm_api g_api;
static fic_tvm_version g_version;
static char g_path[4096];
static int g_reused;

/* Signals for which libtvm_ffi (built with backtrace-on-segfault) may install
 * a handler at load time; the host's handlers win. */
static const int k_fatal_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
#define K_NSIG (sizeof k_fatal_signals / sizeof k_fatal_signals[0])

static fic_status resolve(void *handle, const char *name, void **slot) {
  dlerror();
  void *sym = dlsym(handle, name);
  if (!sym) return fic__fail(FIC_ERR_SYMBOL, "libtvm_ffi.so has no symbol %s", name);
  *slot = sym;
  return FIC_OK;
}

static fic_status resolve_api(void *handle, fic_tvm_api *api) {
  /* A table keeps the list in one place; casts through void** are the dlsym idiom. */
  struct {
    const char *name;
    void **slot;
  } syms[] = {
      {"TVMFFIGetVersion", (void **)&api->GetVersion},
      {"TVMFFIObjectIncRef", (void **)&api->ObjectIncRef},
      {"TVMFFIObjectDecRef", (void **)&api->ObjectDecRef},
      {"TVMFFIErrorMoveFromRaised", (void **)&api->ErrorMoveFromRaised},
      {"TVMFFIEnvSetStream", (void **)&api->EnvSetStream},
      {"TVMFFIEnvGetStream", (void **)&api->EnvGetStream},
      {"TVMFFITensorFromDLPackVersioned", (void **)&api->TensorFromDLPackVersioned},
      {"TVMFFIFunctionGetGlobal", (void **)&api->FunctionGetGlobal},
      {"TVMFFIFunctionCall", (void **)&api->FunctionCall},
  };
  for (size_t i = 0; i < sizeof syms / sizeof syms[0]; ++i) FIC_CHECK(resolve(handle, syms[i].name, syms[i].slot));
  return FIC_OK;
}

static fic_status check_version(const fic_tvm_api *api, const char *where) {
  fic_tvm_version v = {0, 0, 0};
  api->GetVersion(&v);
  if (v.major != 0 || v.minor != 1)
    return fic__fail(FIC_ERR_VERSION, "%s reports tvm-ffi %u.%u.%u; flashinfer-c needs 0.1.x", where, v.major, v.minor,
                     v.patch);
  g_version = v;
  return FIC_OK;
}

/* A libtvm_ffi already in the process, visible globally or by soname. */
static void *find_existing(void) {
  void *h = dlopen("libtvm_ffi.so", RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
  if (h) return h;
  dlerror();
  if (dlsym(RTLD_DEFAULT, "TVMFFIGetVersion")) return RTLD_DEFAULT;
  return NULL;
}

static fic_status load_locked(const char *path) {
  void *existing = find_existing();
  if (existing) {
    fic_tvm_api api;
    fic_status st = resolve_api(existing, &api);
    if (st != FIC_OK) {
      fic__fail_context("a libtvm_ffi already in the process is unusable");
      return st;
    }
    FIC_CHECK(check_version(&api, "the libtvm_ffi already loaded in this process"));
    Dl_info info;
    void *addr;
    memcpy(&addr, &api.GetVersion, sizeof addr); /* ISO C has no function-to-object pointer cast */
    snprintf(g_path, sizeof g_path, "%s", dladdr(addr, &info) && info.dli_fname ? info.dli_fname : "(already loaded)");
    g_api = api;
    g_reused = 1;
    return FIC_OK;
  }
  if (!path || !*path) return fic__fail(FIC_ERR_NOT_FOUND, "no libtvm_ffi.so path given");

  struct sigaction saved[K_NSIG];
  for (size_t i = 0; i < K_NSIG; ++i) sigaction(k_fatal_signals[i], NULL, &saved[i]);
  void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
  for (size_t i = 0; i < K_NSIG; ++i) sigaction(k_fatal_signals[i], &saved[i], NULL);
  if (!h) {
    const char *err = dlerror();
    return fic__fail(FIC_ERR_DLOPEN, "dlopen(%s): %s", path, err ? err : "unknown error");
  }
  fic_tvm_api api;
  fic_status st = resolve_api(h, &api);
  if (st != FIC_OK) {
    fic__fail_context("%s", path);
    return st;
  }
  /* On a failure the library stays loaded: unloading a half-initialised runtime is worse. */
  FIC_CHECK(check_version(&api, path));
  g_api = api;
  snprintf(g_path, sizeof g_path, "%s", path);
  g_reused = 0;
  return FIC_OK;
}

static fic_status load_init(void *path) { return load_locked(path); }

fic_status fic__tvmffi_load(const char *path, const fic_tvm_api **out) {
  const void *api = NULL;
  fic_status st = fic__lazy_get(&g_loaded, load_init, (void *)path, &g_api, &api);
  if (st == FIC_OK && out) *out = api;
  return st;
}

const fic_tvm_api *fic__tvmffi_api(void) { return fic__lazy_peek(&g_loaded); }

fic_status fic__tvmffi_info(fic_tvm_version *version, const char **path, int *reused) {
  int loaded = fic__tvmffi_api() != NULL;
  if (version) *version = loaded ? g_version : (fic_tvm_version){0, 0, 0};
  if (path) *path = loaded ? g_path : "";
  if (reused) *reused = loaded ? g_reused : 0;
  return loaded ? FIC_OK : fic__fail(FIC_ERR_NOT_FOUND, "libtvm_ffi.so is not loaded");
}
