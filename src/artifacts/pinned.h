/* SPDX-License-Identifier: Apache-2.0 */
/* The pinned wheels of flashinfer-c v1: one table, facts only. */
#ifndef FIC_ARTIFACTS_PINNED_H
#define FIC_ARTIFACTS_PINNED_H

#include "flashinfer_c.h"

typedef enum fic_wheel_kind { FIC_WHEEL_JIT_CACHE = 0, FIC_WHEEL_TVMFFI = 1 } fic_wheel_kind;

typedef struct fic_pinned_wheel {
  fic_wheel_kind kind;
  const char *arch;      /* "x86_64" or "aarch64" (uname machine) */
  const char *project;   /* PyPI project name, for index resolution ("apache-tvm-ffi") or NULL */
  const char *version;   /* "0.6.3+cu130" */
  const char *filename;  /* exact wheel file name */
  const char *sha256;    /* lowercase hex */
  const char *base_urls; /* '\n'-separated sources tried in order: a URL prefix (the %-encoded filename is
                            appended), or "index:<url>" for an HTML index page searched for the filename.
                            NULL: the Python package index from the user's pip configuration */
} fic_pinned_wheel;

/* The pinned wheel of `kind` for this machine's architecture (or `arch` if
 * not NULL). FIC_ERR_UNSUPPORTED on another architecture. */
fic_status fic__pinned_wheel(fic_wheel_kind kind, const char *arch, const fic_pinned_wheel **out);

/* Download the pinned wheel into `dest` (final path, normally
 * <root>/wheels/<sha256>-<filename>), trying each source in turn. */
fic_status fic__fetch_pinned(const fic_pinned_wheel *w, const char *dest, fic_progress_fn progress, void *user);

#endif
