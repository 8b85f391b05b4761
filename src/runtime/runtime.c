/* SPDX-License-Identifier: Apache-2.0 */
/* fic_runtime: ties the layers together. open = artifacts, then libtvm_ffi;
 * modules load lazily (functions.c). */
#include "runtime/runtime.h"

#include <stdlib.h>
#include <string.h>

#include "common/error.h"
#include "loader/loader.h"

fic_status fic_config_init(fic_config *config) {
  if (!config) return fic__fail_arg("config", "config is NULL");
  memset(config, 0, sizeof *config);
  config->struct_size = sizeof *config;
  config->lock_timeout_s = 600.0;
  return FIC_OK;
}

/* Copy what the caller's (possibly older, smaller) struct holds. */
fic_status fic__config_copy(const fic_config *in, fic_config *out) {
  fic_config_init(out);
  if (!in) return FIC_OK;
  if (in->struct_size < offsetof(fic_config, lock_timeout_s) || in->struct_size > sizeof *out)
    return fic__fail_arg("config", "config->struct_size is %zu; initialise the config with fic_config_init()",
                         in->struct_size);
  memcpy(out, in, in->struct_size);
  out->struct_size = sizeof *out;
  if (out->lock_timeout_s <= 0) out->lock_timeout_s = 600.0;
  return FIC_OK;
}

fic_status fic_runtime_open(const fic_config *config, fic_runtime **out) {
  if (!out) return fic__fail_arg("out", "out is NULL");
  *out = NULL;
  fic_config cfg;
  fic_status st = fic__config_copy(config, &cfg);
  if (st != FIC_OK) return st;

  fic_runtime *rt = calloc(1, sizeof *rt);
  fic_artifacts *art = calloc(1, sizeof *art);
  if (!rt || !art) {
    free(rt);
    free(art);
    return fic__fail(FIC_ERR_NO_MEMORY, "allocating the runtime");
  }
  rt->artifacts = art;
  pthread_mutex_init(&rt->lock, NULL);
  st = fic__artifacts_open(&cfg, art);
  if (st == FIC_OK) st = fic__tvmffi_load(art->libtvm_ffi, &rt->tvm);
  /* The configured modules are prepared (fic__artifacts_open); put them in the
   * table so that fic_runtime_preload(rt, NULL) loads them. */
  for (const char *const *m = cfg.modules; st == FIC_OK && m && *m; ++m) {
    fic_module *rec = NULL;
    st = fic__runtime_module_locked(rt, *m, NULL, &rec);
  }
  if (st != FIC_OK) {
    fic_runtime_close(rt);
    return st;
  }
  *out = rt;
  return FIC_OK;
}

fic_status fic_runtime_close(fic_runtime *rt) {
  if (!rt) return FIC_OK;
  /* Module handles stay open on purpose (see fic_runtime_close in the header). */
  fic_function_node *n = atomic_load_explicit(&rt->functions, memory_order_acquire);
  while (n) {
    fic_function_node *next = n->next;
    free(n);
    n = next;
  }
  for (size_t i = 0; i < rt->num_modules; ++i) free(rt->modules[i]);
  free(rt->modules);
  pthread_mutex_destroy(&rt->lock);
  fic__artifacts_close(rt->artifacts);
  free(rt->artifacts);
  free(rt);
  return FIC_OK;
}

fic_status fic_runtime_path(const fic_runtime *rt, fic_path_kind what, const char **out) {
  if (!out) return fic__fail_arg("out", "out is NULL");
  *out = NULL;
  if (!rt) return fic__fail_arg("rt", "rt is NULL");
  const fic_artifacts *a = rt->artifacts;
  switch (what) {
    case FIC_PATH_CACHE_ROOT:
      *out = a->cache_root;
      return FIC_OK;
    case FIC_PATH_ARTIFACT_DIR:
      *out = a->artifact_dir;
      return FIC_OK;
    case FIC_PATH_LIBTVM_FFI:
      fic__tvmffi_info(NULL, out, NULL);
      return FIC_OK;
    case FIC_PATH_JIT_CACHE_WHEEL:
      *out = a->jit_cache_wheel;
      return FIC_OK;
    case FIC_PATH_TVMFFI_WHEEL:
      *out = a->tvmffi_wheel;
      return FIC_OK;
    case FIC_PATH_LIBCUDART:
      FIC_CHECK(fic__cudart_load(NULL));
      *out = fic__cudart_path();
      return FIC_OK;
    case FIC_PATH_COUNT:
      break;
  }
  return fic__fail_arg("what", "%d is not a fic_path_kind", (int)what);
}

fic_status fic_runtime_module_path(const fic_runtime *rt, const char *module, const char **out) {
  if (!out) return fic__fail_arg("out", "out is NULL");
  *out = NULL;
  if (!rt) return fic__fail_arg("rt", "rt is NULL");
  if (!module) return fic__fail_arg("module", "module is NULL");
  /* Prepared on first use like a kernel's module (not loaded). The lock is
   * not part of the runtime's logical state, so the cast is sound. */
  fic_runtime *mut = (fic_runtime *)rt;
  fic_module *m = NULL;
  pthread_mutex_lock(&mut->lock);
  fic_status st = fic__runtime_module_locked(mut, module, NULL, &m);
  pthread_mutex_unlock(&mut->lock);
  if (st == FIC_OK) *out = m->path;
  return st;
}
