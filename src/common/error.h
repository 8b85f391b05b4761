/* SPDX-License-Identifier: Apache-2.0 */
/* Internal error helpers: every failing path records its detail in the
 * thread-local record and returns the status, in one statement:
 *     return fic__fail(FIC_ERR_IO, "cannot open %s: %s", path, strerror(errno));
 */
#ifndef FIC_COMMON_ERROR_H
#define FIC_COMMON_ERROR_H

#include "flashinfer_c.h"

#if defined(__GNUC__)
#define FIC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FIC_PRINTF(a, b)
#endif

/* Record `status` with a formatted message; returns `status`. */
fic_status fic__fail(fic_status status, const char *fmt, ...) FIC_PRINTF(2, 3);
/* Same, naming the offending argument (FIC_ERR_INVALID_ARGUMENT). */
fic_status fic__fail_arg(const char *arg_name, const char *fmt, ...) FIC_PRINTF(2, 3);
/* Record an error raised by a kernel wrapper: kind, message and backtrace
 * are copied (each given as pointer + length; NULL/0 allowed). */
fic_status fic__fail_kernel(const char *kind, size_t kind_len, const char *msg, size_t msg_len, const char *bt,
                            size_t bt_len);
/* Prefix the current message with "<context>: " (keeps status and kind). */
fic_status fic__fail_context(const char *fmt, ...) FIC_PRINTF(1, 2);
/* Map an errno from a write path to a status: ENOSPC/EDQUOT -> DISK_FULL,
 * EACCES/EPERM/EROFS -> PERMISSION, ENOENT -> NOT_FOUND, ENOMEM -> NO_MEMORY,
 * else IO. */
fic_status fic__status_from_errno(int err);
/* fic__fail(fic__status_from_errno(errno), "<what> <path>: <strerror>"). */
fic_status fic__fail_errno(const char *what, const char *path);

/* A failure the caller tolerates must not overwrite the thread's record (the
 * header promises that a successful call leaves it alone). Between
 * fic__error_divert_begin and _end, failures on this thread write their
 * message to `buf` (NULL: nowhere) instead of the record; statuses are
 * returned as usual. Diverts nest: _end restores what _begin saved. */
typedef struct fic_error_divert {
  char *buf;
  size_t size;
  int active;
  fic_status status; /* the last diverted failure's, for fic__fail_context */
} fic_error_divert;
void fic__error_divert_begin(fic_error_divert *saved, char *buf, size_t size);
void fic__error_divert_end(const fic_error_divert *saved);

/* The one way errors travel: evaluate an expression returning fic_status and
 * return that status from the enclosing function if it is not FIC_OK (the
 * callee has already filled the thread-local record). Like zstd's
 * FORWARD_IF_ERROR and NCCL's NCCLCHECK. Use it for every fic_status-returning
 * call whose failure ends the caller; where resources must be released, keep
 * the status in a local `st` and `goto` one cleanup label instead. */
#define FIC_CHECK(expr)                      \
  do {                                       \
    fic_status fic_chk_ = (expr);            \
    if (fic_chk_ != FIC_OK) return fic_chk_; \
  } while (0)

#endif
