/* SPDX-License-Identifier: Apache-2.0 */
/* The runtime object: its module table and resolved functions, shared by the
 * generic API (src/ffi) and the typed kernels (src/kernels). The call path
 * itself is in ffi/call.h. */
#ifndef FIC_RUNTIME_H
#define FIC_RUNTIME_H

#include <pthread.h>
#include <stdatomic.h>

#include "artifacts/artifacts.h"
#include "common/tvm_ffi_abi.h"
#include "flashinfer_c.h"

/* Slots for functions the typed kernel API resolves once and then reads
 * without a lock (see fic__kernel_function). */
#define FIC_KERNEL_SLOTS 64

struct fic_function {
  fic_safe_call_fn call; /* __tvm_ffi_<name> in its module */
  const char *module;    /* module name, owned by the runtime */
  int32_t arity;         /* parameter count from the signature table, -1 if unknown */
  char name[FIC_MODULE_NAME_MAX];
};

typedef struct fic_module {
  char name[FIC_MODULE_NAME_MAX];
  char path[FIC_PATH_MAX];
  char sha256[65]; /* content hash: one copy per build per process */
  void *handle;    /* dlopen handle; never closed */
} fic_module;

/* Resolved functions, by (module, name); a linked list, prepended under the lock
 * and read with acquire loads, so a look-up that hits takes no lock. */
typedef struct fic_function_node {
  struct fic_function fn;
  struct fic_function_node *next;
} fic_function_node;

struct fic_runtime {
  fic_artifacts *artifacts;
  const fic_tvm_api *tvm; /* process-global, never unloaded */
  pthread_mutex_t lock;   /* guards the module table, loading modules and resolving functions */
  /* Modules prepared so far (configured ones at open, the others on first
   * use): a growable table of pointers to records allocated one by one, so
   * growing it never moves a record (published functions point into them).
   * Read and written only under `lock`. */
  size_t num_modules, cap_modules;
  fic_module **modules;
  _Atomic(fic_function_node *) functions;
  _Atomic(const struct fic_function *) kernel_slots[FIC_KERNEL_SLOTS];
};

/* Copy a caller's config (NULL: defaults; an older, smaller struct is
 * accepted by struct_size) into a full one with defaults filled in. */
fic_status fic__config_copy(const fic_config *in, fic_config *out);

/* The record of module `name`, prepared on first use (extracted from the
 * wheel if the cache lacks it, which is refused while `stream` captures a CUDA
 * graph); not loaded. Caller holds rt->lock. */
fic_status fic__runtime_module_locked(fic_runtime *rt, const char *name, void *stream, fic_module **out);

/* Resolve `name` in `module` once per runtime and cache it in `slot`; the
 * second and later calls are one atomic load. */
fic_status fic__kernel_function(fic_runtime *rt, int slot, const char *module, const char *name, void *stream,
                                const struct fic_function **out);

#endif
