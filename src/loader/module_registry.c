/* SPDX-License-Identifier: Apache-2.0 */
/* One loaded copy of each kernel module per process.
 *
 * Two runtimes with different cache directories extract the same module to
 * two paths. dlopen() of the second path loads a second copy, and that copy
 * is broken: CUTLASS keeps "already initialised" flags in function-local
 * statics of inline templates, which the toolchain emits as STB_GNU_UNIQUE
 * symbols, shared process-wide even under RTLD_LOCAL. The second copy then
 * skips cudaFuncSetAttribute(MaxDynamicSharedMemorySize) for its own kernels
 * and their launches fail with cudaErrorInvalidValue (seen with
 * gdn_prefill_sm90 on an H100). So modules are keyed by name and content
 * hash: the same build is reused, a different build of a loaded module is
 * refused. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/artifacts.h"
#include "common/error.h"
#include "loader/loader.h"

typedef struct loaded_module {
  char name[FIC_MODULE_NAME_MAX];
  char sha256[65];
  char path[FIC_PATH_MAX];
  void *handle;
} loaded_module;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
/* No bound on the number of modules: a table of pointers to records
 * allocated one by one, grown by doubling (under g_lock, like every read). */
static loaded_module **g_loaded;
static size_t g_count, g_cap;

static fic_status grow_locked(void) {
  if (g_count < g_cap) return FIC_OK;
  size_t cap = g_cap ? 2 * g_cap : 64;
  loaded_module **grown = realloc(g_loaded, cap * sizeof *grown);
  if (!grown) return fic__fail(FIC_ERR_NO_MEMORY, "growing the table of loaded modules to %zu", cap);
  g_loaded = grown;
  g_cap = cap;
  return FIC_OK;
}

static fic_status acquire_locked(const char *name, const char *path, const char *sha256, void **handle) {
  for (size_t i = 0; i < g_count; ++i) {
    loaded_module *m = g_loaded[i];
    if (strcmp(m->name, name) != 0) continue;
    if (sha256[0] && strcmp(m->sha256, sha256) == 0) {
      *handle = m->handle;
      return FIC_OK;
    }
    return fic__fail(FIC_ERR_UNSUPPORTED,
                     "module %s is already loaded in this process from %s (sha256 %.16s...); a different build "
                     "(%s, sha256 %.16s...) cannot be loaded beside it: kernel modules share process-wide state",
                     name, m->path, m->sha256, path, sha256[0] ? sha256 : "unknown");
  }
  FIC_CHECK(grow_locked());
  loaded_module *m = calloc(1, sizeof *m);
  if (!m) return fic__fail(FIC_ERR_NO_MEMORY, "allocating the record of module %s", name);
  void *h = NULL;
  fic_status st = fic__module_open(path, &h);
  if (st != FIC_OK) {
    free(m);
    return st;
  }
  g_loaded[g_count++] = m;
  snprintf(m->name, sizeof m->name, "%s", name);
  snprintf(m->sha256, sizeof m->sha256, "%s", sha256);
  snprintf(m->path, sizeof m->path, "%s", path);
  m->handle = h;
  *handle = h;
  return FIC_OK;
}

fic_status fic__module_acquire(const char *name, const char *path, const char *sha256, void **handle) {
  pthread_mutex_lock(&g_lock);
  fic_status st = acquire_locked(name, path, sha256 ? sha256 : "", handle);
  pthread_mutex_unlock(&g_lock);
  return st;
}
