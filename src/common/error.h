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

/* Best-effort work (a memo write, a note left next to quarantined evidence)
 * must not change the record of a call that succeeds: wrap it in
 * fic__error_hold() ... fic__error_release(), which puts back the record as it
 * was at the hold. Pairs nest; only the outermost pair saves and restores. */
void fic__error_hold(void);
void fic__error_release(void);

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
