/* SPDX-License-Identifier: Apache-2.0 */
/* Loading modules and resolving functions. Slow paths take rt->lock; hits
 * are lock-free (acquire loads of pointers published with release stores). */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cuda_abi.h"
#include "common/error.h"
#include "loader/loader.h"
#include "runtime/runtime.h"
#include "runtime/signatures.h"

static fic_module *find_module(fic_runtime *rt, const char *name) {
  for (size_t i = 0; i < rt->num_modules; ++i)
    if (strcmp(rt->modules[i]->name, name) == 0) return rt->modules[i];
  return NULL;
}

static fic_status refuse_if_capturing(const char *module, void *stream);

/* Append a record for `name` (prepared by the artifact layer) to the table. */
static fic_status add_module(fic_runtime *rt, const char *name, const fic_artifact_module *am, fic_module **out) {
  if (rt->num_modules == rt->cap_modules) {
    size_t cap = rt->cap_modules ? 2 * rt->cap_modules : 16;
    fic_module **grown = realloc(rt->modules, cap * sizeof *grown);
    if (!grown) return fic__fail(FIC_ERR_NO_MEMORY, "growing the module table to %zu modules", cap);
    rt->modules = grown;
    rt->cap_modules = cap;
  }
  fic_module *m = calloc(1, sizeof *m);
  if (!m) return fic__fail(FIC_ERR_NO_MEMORY, "allocating the record of module %s", name);
  snprintf(m->name, sizeof m->name, "%s", name);
  snprintf(m->path, sizeof m->path, "%s", am->path);
  snprintf(m->sha256, sizeof m->sha256, "%s", am->sha256);
  rt->modules[rt->num_modules++] = m;
  *out = m;
  return FIC_OK;
}

fic_status fic__runtime_module_locked(fic_runtime *rt, const char *name, void *stream, fic_module **out) {
  *out = find_module(rt, name);
  if (*out) return FIC_OK;
  /* The cache may lack it: an extraction is file I/O under a lock, which a
   * graph capture must not wait for either. */
  FIC_CHECK(refuse_if_capturing(name, stream));
  fic_artifact_module am;
  FIC_CHECK(fic__artifacts_module(rt->artifacts, name, &am));
  return add_module(rt, name, &am, out);
}

/* A module load inside CUDA graph capture would run module constructors and
 * cudart initialisation during capture; refuse it with a specific error. */
static fic_status refuse_if_capturing(const char *module, void *stream) {
  const fic_cudart_api *cudart = fic__cudart();
  if (!cudart) return FIC_OK;
  int status = FIC_CUDA_CAPTURE_STATUS_NONE;
  if (cudart->StreamIsCapturing(stream, &status) == 0 && status != FIC_CUDA_CAPTURE_STATUS_NONE)
    return fic__fail(FIC_ERR_CAPTURING,
                     "module %s is not loaded and stream %p is capturing a CUDA graph; call "
                     "fic_runtime_preload() before capture",
                     module, stream);
  return FIC_OK;
}

/* Caller holds rt->lock. */
static fic_status load_module_locked(fic_runtime *rt, fic_module *m, void *stream) {
  if (m->handle) return FIC_OK;
  FIC_CHECK(refuse_if_capturing(m->name, stream));
  /* Kernel modules need libcudart.so.13; a module that does not (the test
   * module) still loads when it is absent, so only a failed dlopen reports
   * it, and this attempt leaves the thread's error record alone. */
  if (!fic__cudart()) {
    fic_error_divert saved;
    fic__error_divert_begin(&saved, NULL, 0);
    fic__cudart_load(NULL);
    fic__error_divert_end(&saved);
  }
  return fic__module_acquire(m->name, m->path, m->sha256, &m->handle);
}

fic_status fic_runtime_preload(fic_runtime *rt, const char *const *modules) {
  if (!rt) return fic__fail_arg("rt", "rt is NULL");
  pthread_mutex_lock(&rt->lock);
  fic_status st = FIC_OK;
  if (!modules) {
    for (size_t i = 0; st == FIC_OK && i < rt->num_modules; ++i) st = load_module_locked(rt, rt->modules[i], NULL);
  } else {
    for (size_t i = 0; st == FIC_OK && modules[i]; ++i) {
      fic_module *m = NULL;
      st = fic__runtime_module_locked(rt, modules[i], NULL, &m);
      if (st == FIC_OK) st = load_module_locked(rt, m, NULL);
    }
  }
  pthread_mutex_unlock(&rt->lock);
  return st;
}

static const struct fic_function *find_function(fic_runtime *rt, const char *module, const char *name) {
  for (fic_function_node *n = atomic_load_explicit(&rt->functions, memory_order_acquire); n; n = n->next)
    if (strcmp(n->fn.module, module) == 0 && strcmp(n->fn.name, name) == 0) return &n->fn;
  return NULL;
}

static fic_status resolve_locked(fic_runtime *rt, const char *module, const char *name, void *stream,
                                 const struct fic_function **out) {
  const struct fic_function *hit = find_function(rt, module, name);
  if (hit) {
    *out = hit;
    return FIC_OK;
  }
  fic_module *m = NULL;
  FIC_CHECK(fic__runtime_module_locked(rt, module, stream, &m));
  FIC_CHECK(load_module_locked(rt, m, stream));
  char symbol[FIC_MODULE_NAME_MAX + 16];
  if (snprintf(symbol, sizeof symbol, "__tvm_ffi_%s", name) >= (int)sizeof symbol)
    return fic__fail_arg("name", "function name too long");
  dlerror();
  void *sym = dlsym(m->handle, symbol); /* through the module's own handle: names repeat across modules */
  if (!sym) return fic__fail(FIC_ERR_NOT_FOUND, "module %s (%s) exports no %s", module, m->path, symbol);
  fic_function_node *node = calloc(1, sizeof *node);
  if (!node) return fic__fail(FIC_ERR_NO_MEMORY, "allocating a function record");
  *(void **)&node->fn.call = sym;
  node->fn.module = m->name;
  node->fn.arity = fic__signature_arity(module, name);
  snprintf(node->fn.name, sizeof node->fn.name, "%s", name);
  node->next = atomic_load_explicit(&rt->functions, memory_order_relaxed);
  atomic_store_explicit(&rt->functions, node, memory_order_release);
  *out = &node->fn;
  return FIC_OK;
}

static fic_status resolve(fic_runtime *rt, const char *module, const char *name, void *stream,
                          const struct fic_function **out) {
  const struct fic_function *hit = find_function(rt, module, name);
  if (hit) {
    *out = hit;
    return FIC_OK;
  }
  pthread_mutex_lock(&rt->lock);
  fic_status st = resolve_locked(rt, module, name, stream, out);
  pthread_mutex_unlock(&rt->lock);
  return st;
}

fic_status fic_function_get(fic_runtime *rt, const char *module, const char *name, void *stream, fic_function **out) {
  if (!out) return fic__fail_arg("out", "out is NULL");
  *out = NULL;
  if (!rt) return fic__fail_arg("rt", "rt is NULL");
  if (!module || !*module) return fic__fail_arg("module", "module name is NULL or empty");
  if (!name || !*name) return fic__fail_arg("name", "function name is NULL or empty");
  const struct fic_function *fn = NULL;
  fic_status st = resolve(rt, module, name, stream, &fn);
  if (st == FIC_OK) *out = (fic_function *)fn;
  return st;
}

fic_status fic__kernel_function(fic_runtime *rt, int slot, const char *module, const char *name, void *stream,
                                const struct fic_function **out) {
  const struct fic_function *fn = atomic_load_explicit(&rt->kernel_slots[slot], memory_order_acquire);
  if (fn) {
    *out = fn;
    return FIC_OK;
  }
  FIC_CHECK(resolve(rt, module, name, stream, &fn));
  atomic_store_explicit(&rt->kernel_slots[slot], fn, memory_order_release);
  *out = fn;
  return FIC_OK;
}
