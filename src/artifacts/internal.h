/* SPDX-License-Identifier: Apache-2.0 */
/* Internals of the artifact layer shared by its files (paths, file-system
 * helpers, SHA-256, wheel identity). Not part of the interface
 * other layers use: that is artifacts.h. */
#ifndef FIC_ARTIFACTS_INTERNAL_H
#define FIC_ARTIFACTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "artifacts/artifacts.h"
#include "artifacts/fsutil.h"
#include "artifacts/test_hooks.h"
#include "common/env.h"
#include "common/error.h"
#include "flashinfer_c.h"

/* Version of the cache layout and marker format; part of every artifact hash. */
#define FIC_CACHE_FORMAT "fic-cache-v1"
/* Read/write buffer for streaming (zip members, hashing files). */
#define FIC_IO_BUFFER (256u * 1024u)

/* File-system helpers: fsutil.h; the environment: common/env.h. */

/* ---- SHA-256 (OpenSSL EVP) ----------------------------------------------- */

typedef struct fic_sha256 {
  void *ctx; /* EVP_MD_CTX * */
} fic_sha256;

fic_status fic__sha256_begin(fic_sha256 *h);
fic_status fic__sha256_update(fic_sha256 *h, const void *data, size_t len);
/* Finish, write 64 hex chars + NUL, and free. */
fic_status fic__sha256_end(fic_sha256 *h, char out_hex[65]);
/* Free without finishing (failure paths). */
void fic__sha256_abort(fic_sha256 *h);
fic_status fic__sha256_buf(const void *data, size_t len, char out_hex[65]);

/* ---- wheel identity ------------------------------------------------------ */

/* SHA-256 of the wheel at `path`, memoised in <root>/wheel-ids/<sha256 of
 * its realpath> keyed on (dev, inode, size, mtime_ns): recomputed only when
 * one of those changes. The memo is best effort (an unwritable root just
 * means hashing again next time). */
fic_status fic__wheel_sha256(const char *root, const char *path, char out_hex[65]);
/* The same for the file open at `fd` (`path` names it for the memo and messages):
 * what is hashed is exactly what the caller will read from `fd` later. */
fic_status fic__wheel_sha256_fd(const char *root, const char *path, int fd, char out_hex[65]);
/* SHA-256 of everything in the file open at `fd` (read with pread from 0). */
fic_status fic__sha256_fd(int fd, const char *name, char out_hex[65]);
/* The same, continuing `h` with the first `len` bytes only (a resumed
 * download's .part); `h` is left open. */
fic_status fic__sha256_fd_prefix(fic_sha256 *h, int fd, uint64_t len, const char *name);

#endif
