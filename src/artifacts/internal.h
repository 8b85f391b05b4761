/* Internals of the artifact layer shared by its files (paths, file-system
 * helpers, SHA-256, wheel identity, test hooks). Not part of the interface
 * other layers use: that is artifacts.h. */
#ifndef FIC_ARTIFACTS_INTERNAL_H
#define FIC_ARTIFACTS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "artifacts/artifacts.h"
#include "common/error.h"
#include "flashinfer_c.h"

/* Version of the cache layout and marker format; part of every artifact hash. */
#define FIC_CACHE_FORMAT "fic-cache-v1"
/* Read/write buffer for streaming (zip members, hashing files). */
#define FIC_IO_BUFFER (256u * 1024u)

/* ---- environment --------------------------------------------------------- */

/* getenv(name), else getenv(alias) (alias may be NULL); NULL when unset or
 * empty. If `which` is not NULL it receives the name that was used. */
const char *fic__env2(const char *name, const char *alias, const char **which);

/* ---- paths and the file system ------------------------------------------- */

/* snprintf into a path buffer; FIC_ERR_INVALID_ARGUMENT if it does not fit. */
fic_status fic__pathf(char *out, size_t size, const char *fmt, ...) FIC_PRINTF(3, 4);
/* mkdir -p (each missing component with `mode`). The _q ("quiet") variants
 * here return 0 or an errno and record nothing: for best-effort paths and
 * normal conditions (a successful call must leave the error record alone). */
fic_status fic__mkdir_p(const char *path, mode_t mode);
int fic__mkdir_p_q(const char *path, mode_t mode, char *failed, size_t failed_size);
/* fsync a directory (makes renames/creations inside it durable). */
fic_status fic__fsync_dir(const char *path);
/* Write all bytes to fd, retrying on EINTR and short writes. 0 or an errno. */
int fic__write_all(int fd, const void *buf, size_t len);
/* Replace `path` atomically with `data`: temp file in the same directory,
 * fsync, rename, fsync the directory. */
fic_status fic__write_file_atomic(const char *path, const void *data, size_t len);
int fic__write_file_atomic_q(const char *path, const void *data, size_t len);
/* Read a whole small file (at most max bytes) into a malloc'ed NUL-terminated
 * buffer. FIC_ERR_NOT_FOUND if missing, FIC_ERR_CACHE_CORRUPT if larger. */
fic_status fic__read_small_file(const char *path, size_t max, char **data, size_t *len);
int fic__read_small_file_q(const char *path, size_t max, char **data, size_t *len); /* EFBIG if larger */
/* rm -rf that never follows symlinks and never records an error (it is used
 * on failure paths, where the first error must survive). 0 or an errno. */
int fic__rmtree(const char *path);
/* Total size in bytes of regular files under `path` (0 if missing). */
uint64_t fic__tree_size(const char *path);
/* 8 random bytes as 16 hex chars + NUL (getrandom, falling back to time/pid). */
void fic__random_hex(char out[17]);
/* Is `name` 64 lowercase hex digits? */
int fic__is_sha256_hex(const char *s, size_t len);

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

/* ---- test hooks (environment variables read on cold paths only) ---------- */

/* Number of full wheel hashes this process computed (fic__wheel_sha256
 * misses). For tests: a warm start must not change it. */
uint64_t fic__test_wheel_hash_count(void);
/* FIC_TEST_HOOK_EXTRACT_SLEEP_MS: sleep that long after each extracted
 * member (to widen race windows / let a test kill us mid-extraction).
 * FIC_TEST_HOOK_EXTRACT_LOG: append "<pid>\n" to that file each time an
 * extraction starts (under the lock).
 * FIC_TEST_HOOK_WRITE_ERRNO: fail the first extraction write with that errno. */
long fic__test_hook_long(const char *name);

#endif
