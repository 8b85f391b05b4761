/* SPDX-License-Identifier: Apache-2.0 */
/* Artifact layer: from wheels to extracted, verified shared objects in the
 * cache. Nothing in this layer knows about TVM-FFI or CUDA.
 *
 * Cache layout (root = FLASHINFER_C_CACHE_DIR | $XDG_CACHE_HOME/flashinfer-c |
 * ~/.cache/flashinfer-c):
 *   <root>/wheels/<sha256>-<filename>      downloaded or adopted wheels
 *   <root>/<artifact-hash>/                the entry of two wheels (hash: wheels + layout version)
 *       tvm_ffi/lib/libtvm_ffi.so
 *       COMPLETE                            the entry's marker: size + SHA-256 of libtvm_ffi.so
 *       modules/<m>/<m>.so                  each module extracted the first time it is needed
 *       modules/<m>/COMPLETE                the module's own marker (published with it by one rename)
 *   <root>/<artifact-hash>.lock             flock()ed while extracting the entry or a module; holds the pid
 */
#ifndef FIC_ARTIFACTS_H
#define FIC_ARTIFACTS_H

#include <stddef.h>
#include <stdint.h>

#include "flashinfer_c.h"

#define FIC_PATH_MAX 4096
#define FIC_MODULE_NAME_MAX 256

/* Member paths inside the wheels. */
#define FIC_TVMFFI_MEMBER "tvm_ffi/lib/libtvm_ffi.so"
#define FIC_JIT_MEMBER_FMT "flashinfer_jit_cache/jit_cache/%s/%s.so"
/* Directory of the entry holding one directory per extracted module. */
#define FIC_MODULES_DIR "modules"

/* The retained identity of the wheels and the key (prepare.c). */
typedef struct fic__artifact_state fic__artifact_state;

/* One module of the entry, extracted and checked (fic__artifacts_module). */
typedef struct fic_artifact_module {
  char path[FIC_PATH_MAX]; /* <entry>/modules/<m>/<m>.so */
  char sha256[65];         /* content hash from its marker: identifies a build */
  int extracted;           /* 1 when this call extracted it */
} fic_artifact_module;

/* What fic__artifacts_prepare() produced. Heap-allocate it (it is large). */
typedef struct fic_artifacts {
  char cache_root[FIC_PATH_MAX];
  char artifact_dir[FIC_PATH_MAX];    /* <root>/<artifact-hash> */
  char jit_cache_wheel[FIC_PATH_MAX]; /* wheel used, "" when a warm start needed none */
  char tvmffi_wheel[FIC_PATH_MAX];
  char libtvm_ffi[FIC_PATH_MAX]; /* absolute path of the extracted libtvm_ffi.so */
  int cache_hit;                 /* 1 when a completed entry was reused without extraction */
  fic__artifact_state *state;    /* after fic__artifacts_open: what on-demand modules need; else NULL */
} fic_artifacts;

/* Resolve the cache root: explicit dir, else the environment, else XDG, else
 * HOME. Fails with FIC_ERR_NOT_FOUND if none can be determined. */
fic_status fic__cache_root(const char *explicit_dir, char *out, size_t size);

/* Find or fetch the wheels named by `cfg` (a fully initialised config; NULL
 * fields fall back to the environment), extract libtvm_ffi.so under the lock
 * unless a complete entry exists, then each of `cfg->modules` (strict; NULL:
 * none) unless it is complete already, and fill `out`. Safe to call from many
 * threads and processes at once. */
fic_status fic__artifacts_prepare(const fic_config *cfg, fic_artifacts *out);
/* The same, keeping in out->state what fic__artifacts_module needs later
 * (the wheels' identity, copies of the config's fields): release it with
 * fic__artifacts_close. */
fic_status fic__artifacts_open(const fic_config *cfg, fic_artifacts *out);
void fic__artifacts_close(fic_artifacts *a);
/* Module `name` of the entry: O(1) when complete (its marker + a stat);
 * otherwise extracted under the entry lock from the jit-cache wheel, which is
 * first re-identified (a wheel changed since open: FIC_ERR_CHECKSUM), into a
 * temp directory published with its own marker by one rename. A corrupt
 * module is quarantined first. Not thread-safe on one `a`: callers serialise. */
fic_status fic__artifacts_module(fic_artifacts *a, const char *name, fic_artifact_module *out);
/* Check a module name (letters, digits, _ - . +; no "..", no leading '.'). */
fic_status fic__artifacts_check_module_name(const char *name);

/* Find the complete entry `cfg` selects without writing, locking, extracting
 * or downloading anything: *found = 1 and `out` filled when it exists;
 * *found = 0 (out->cache_root still set) when it does not. */
fic_status fic__artifacts_lookup(const fic_config *cfg, fic_artifacts *out, int *found);

/* Deep verification: re-hash every extracted file against its marker (the
 * entry's, and each module's own). */
fic_status fic__artifacts_verify(const fic_artifacts *a);

/* Call `fn` for every module (<m> of flashinfer_jit_cache/jit_cache/<m>/<m>.so)
 * found in the wheel at `wheel_path`. A non-zero return from fn stops. */
fic_status fic__wheel_list_modules(const char *wheel_path, fic_module_fn fn, void *user);

/* Remove artifact directories under `root` other than `keep_dir` (may be
 * NULL) that are not locked by a live process, and stale temp files.
 * Reports bytes freed and bytes remaining. */
fic_status fic__cache_gc(const char *root, const char *keep_dir, int dry_run, uint64_t *freed, uint64_t *remaining);

/* Download `url` to `dest` (final path; published only when the SHA-256
 * equals `sha256_hex`), resuming `dest`.part if present, retrying with
 * backoff, honouring proxy variables. `what` names it for progress. */
fic_status fic__download(const char *url, const char *dest, const char *sha256_hex, const char *what,
                         fic_progress_fn progress, void *progress_user);

/* SHA-256 of a file as 64 lowercase hex chars + NUL. */
fic_status fic__sha256_file(const char *path, char out_hex[65]);

#endif
