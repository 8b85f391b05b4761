/* SPDX-License-Identifier: Apache-2.0 */
/* File-system helpers of the artifact layer: one home for each (path
 * formatting, mkdir -p, fsync of a directory, atomic writes, rm -rf, the
 * ownership check of cache directories, the SHA-256 hex form). Every
 * fic_status helper records its failure; callers doing best-effort work wrap
 * it in fic__error_divert_begin()/_end() (common/error.h), so that a failure
 * they tolerate leaves the record alone. Reentrant: no mutable state. */
#ifndef FIC_ARTIFACTS_FSUTIL_H
#define FIC_ARTIFACTS_FSUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "artifacts/artifacts.h"
#include "common/error.h"
#include "flashinfer_c.h"

/* snprintf into a path buffer; FIC_ERR_INVALID_ARGUMENT if it does not fit. */
fic_status fic__pathf(char *out, size_t size, const char *fmt, ...) FIC_PRINTF(3, 4);
/* mkdir -p: each missing component with `mode`; a component that exists
 * and is not a directory is an error. */
fic_status fic__mkdir_p(const char *path, mode_t mode);
/* mkdir -p of the directory holding `path` (nothing for "name" or "/name"). */
fic_status fic__mkdir_parent(const char *path, mode_t mode);
/* fsync a directory (makes renames/creations inside it durable). EINVAL and
 * EROFS (file systems that cannot) are not errors. */
fic_status fic__fsync_dir(const char *path);
/* fsync the directory holding `path`. */
fic_status fic__fsync_parent(const char *path);
/* Write all bytes to fd, retrying on EINTR and short writes. 0 or an errno
 * (for write callbacks that report errno themselves). */
int fic__write_all(int fd, const void *buf, size_t len);
/* Replace `path` atomically with `data`: temp file in the same directory,
 * fsync, rename, fsync the directory. */
fic_status fic__write_file_atomic(const char *path, const void *data, size_t len);
/* Read a whole small file (at most max bytes; the last component is not
 * followed) into a malloc'ed NUL-terminated buffer. Returns 0 or an errno
 * (EFBIG if larger) and records nothing: its callers (the marker, the
 * wheel-id memo) treat a missing or unreadable file as a normal outcome. */
int fic__read_small_file(const char *path, size_t max, char **data, size_t *len);
/* rm -rf that never follows symlinks and never records an error (it is used
 * on failure paths, where the first error must survive). 0 or an errno. */
int fic__rmtree(const char *path);
/* Total size in bytes of regular files under `path` (0 if missing). */
uint64_t fic__tree_size(const char *path);
/* 8 random bytes as 16 hex chars + NUL (getrandom, falling back to time/pid). */
void fic__random_hex(char out[17]);

/* SHA-256 digests are written as 64 lowercase hex digits (as pip and PEP 503
 * "#sha256=" fragments do). fic__is_sha256_hex accepts exactly that form;
 * input from users or servers goes through fic__sha256_normalize first. */
int fic__is_sha256_hex(const char *s, size_t len);
/* Copy `in` (64 hex digits, either case) to `out` in lowercase; 0 if `in`
 * is not 64 hex digits. */
int fic__sha256_normalize(const char *in, char out[65]);

/* Trust check of a cache directory (the root, an entry or a directory in
 * one), given its fstat: it must be owned by this user or root, and not be
 * group- or world-writable unless the sticky bit is set (as on /tmp).
 * Otherwise another user could plant a library that this process loads:
 * FIC_ERR_PERMISSION naming `path` and its owner. */
fic_status fic__check_trusted_dir(const struct stat *st, const char *path);

#endif
