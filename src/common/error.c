/* SPDX-License-Identifier: Apache-2.0 */
/* The thread-local error record (sqlite's errmsg model, per thread instead of
 * per connection: a runtime is shared by many threads, so a per-handle record
 * would be overwritten by a neighbour's failure). Fixed-size buffers: the
 * error path must not allocate, because "out of memory" is one of its errors. */
#include "common/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define FIC_MSG_MAX 4096
#define FIC_KIND_MAX 64
#define FIC_BT_MAX 16384
#define FIC_ARG_MAX 64

typedef struct fic_error_record {
  fic_status status;
  char message[FIC_MSG_MAX];
  char kind[FIC_KIND_MAX];
  char backtrace[FIC_BT_MAX];
  char argument[FIC_ARG_MAX];
} fic_error_record;

static _Thread_local fic_error_record tls_error;
static _Thread_local fic_error_divert tls_divert; /* active: failures go to tls_divert.buf, not tls_error */

void fic__error_divert_begin(fic_error_divert *saved, char *buf, size_t size) {
  *saved = tls_divert;
  tls_divert.buf = size ? buf : NULL;
  tls_divert.size = buf ? size : 0;
  tls_divert.active = 1;
  tls_divert.status = FIC_OK;
  if (tls_divert.buf) tls_divert.buf[0] = '\0';
}

void fic__error_divert_end(const fic_error_divert *saved) { tls_divert = *saved; }

/* Where a failure's message goes: the record's buffer, the divert buffer, or
 * nowhere (NULL). Only the record also takes status, kind and backtrace. */
static char *message_buffer(size_t *size) {
  if (!tls_divert.active) {
    *size = sizeof tls_error.message;
    return tls_error.message;
  }
  *size = tls_divert.size;
  return tls_divert.buf;
}

#define FIC_STATUS_STRING_(name, value, text) [FIC_##name] = text,
#define FIC_STATUS_NAME_(name, value, text) [FIC_##name] = "FIC_" #name,
static const char *const status_strings[FIC_STATUS_COUNT] = {FIC_STATUS_MAP(FIC_STATUS_STRING_)};
static const char *const status_names[FIC_STATUS_COUNT] = {FIC_STATUS_MAP(FIC_STATUS_NAME_)};
#undef FIC_STATUS_STRING_
#undef FIC_STATUS_NAME_

const char *fic_status_string(fic_status status) {
  if ((unsigned)status >= FIC_STATUS_COUNT || !status_strings[status]) return "unknown status";
  return status_strings[status];
}

const char *fic_status_name(fic_status status) {
  if ((unsigned)status >= FIC_STATUS_COUNT || !status_names[status]) return "FIC_UNKNOWN_STATUS";
  return status_names[status];
}

fic_status fic_last_error_status(void) { return tls_error.status; }
const char *fic_last_error_message(void) { return tls_error.message; }
const char *fic_last_error_kind(void) { return tls_error.kind; }
const char *fic_last_error_backtrace(void) { return tls_error.backtrace; }
const char *fic_last_error_argument(void) { return tls_error.argument; }

fic_status fic_clear_error(void) {
  tls_error.status = FIC_OK;
  tls_error.message[0] = tls_error.kind[0] = tls_error.backtrace[0] = tls_error.argument[0] = '\0';
  return FIC_OK;
}

static void copy_bounded(char *dst, size_t cap, const char *src, size_t len) {
  if (!src) len = 0;
  if (len >= cap) len = cap - 1;
  if (len) memcpy(dst, src, len);
  dst[len] = '\0';
}

/* A failure while a divert is active: note its status, and the caller
 * writes the message to the divert buffer (if any) instead of the record. */
static int diverted(fic_status status) {
  if (!tls_divert.active) return 0;
  tls_divert.status = status;
  return 1;
}

static fic_status record(fic_status status, const char *arg, const char *fmt, va_list ap) FIC_PRINTF(3, 0);
static fic_status record(fic_status status, const char *arg, const char *fmt, va_list ap) {
  if (diverted(status)) {
    if (tls_divert.buf) vsnprintf(tls_divert.buf, tls_divert.size, fmt, ap);
    return status;
  }
  fic_clear_error();
  tls_error.status = status;
  vsnprintf(tls_error.message, sizeof tls_error.message, fmt, ap);
  if (arg) copy_bounded(tls_error.argument, sizeof tls_error.argument, arg, strlen(arg));
  return status;
}

fic_status fic__fail(fic_status status, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(status, NULL, fmt, ap);
  va_end(ap);
  return status;
}

fic_status fic__fail_arg(const char *arg_name, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  record(FIC_ERR_INVALID_ARGUMENT, arg_name, fmt, ap);
  va_end(ap);
  return FIC_ERR_INVALID_ARGUMENT;
}

fic_status fic__fail_kernel(const char *kind, size_t kind_len, const char *msg, size_t msg_len, const char *bt,
                            size_t bt_len) {
  if (diverted(FIC_ERR_KERNEL)) {
    if (tls_divert.buf) copy_bounded(tls_divert.buf, tls_divert.size, msg, msg_len);
    return FIC_ERR_KERNEL;
  }
  fic_clear_error();
  tls_error.status = FIC_ERR_KERNEL;
  copy_bounded(tls_error.kind, sizeof tls_error.kind, kind, kind_len);
  /* The message is "<kind>: <text>" so that printing the message alone is enough. */
  int n = snprintf(tls_error.message, sizeof tls_error.message, "%s: ", tls_error.kind[0] ? tls_error.kind : "Error");
  if (n < 0) n = 0;
  copy_bounded(tls_error.message + n, sizeof tls_error.message - (size_t)n, msg, msg_len);
  copy_bounded(tls_error.backtrace, sizeof tls_error.backtrace, bt, bt_len);
  return FIC_ERR_KERNEL;
}

fic_status fic__fail_context(const char *fmt, ...) {
  char prefix[1024], old[FIC_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(prefix, sizeof prefix, fmt, ap);
  va_end(ap);
  fic_status status = tls_divert.active ? tls_divert.status : tls_error.status;
  size_t cap;
  char *msg = message_buffer(&cap);
  if (!msg) return status;
  snprintf(old, sizeof old, "%s", msg);
  /* Truncation is fine here: the message is for people, and bounded. */
  size_t plen = strlen(prefix);
  copy_bounded(msg, cap, prefix, plen);
  if (plen + 2 < cap) {
    memcpy(msg + plen, ": ", 2);
    copy_bounded(msg + plen + 2, cap - plen - 2, old, strlen(old));
  }
  return status;
}

fic_status fic__status_from_errno(int err) {
  switch (err) {
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
      return FIC_ERR_DISK_FULL;
    case EACCES:
    case EPERM:
    case EROFS:
      return FIC_ERR_PERMISSION;
    case ENOENT:
    case ENOTDIR:
      return FIC_ERR_NOT_FOUND;
    case ENOMEM:
      return FIC_ERR_NO_MEMORY;
    default:
      return FIC_ERR_IO;
  }
}

fic_status fic__fail_errno(const char *what, const char *path) {
  int err = errno;
  return fic__fail(fic__status_from_errno(err), "%s %s: %s", what, path ? path : "", strerror(err));
}
