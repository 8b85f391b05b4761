/* SPDX-License-Identifier: Apache-2.0 */
/* HTTP transfers of the artifact layer (download.c): one URL to one
 * verified file (fic__download, declared in artifacts.h), or into memory. */
#ifndef FIC_ARTIFACTS_DOWNLOAD_H
#define FIC_ARTIFACTS_DOWNLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "flashinfer_c.h"

/* TLS settings for a transfer, from the user's pip configuration (pip's
 * cert, client-cert and trusted-host); NULL or NULL/"" fields: libcurl's
 * defaults. */
typedef struct fic_tls_opts {
  const char *ca_file;       /* CURLOPT_CAINFO */
  const char *client_cert;   /* CURLOPT_SSLCERT (PEM holding certificate and key, as pip's client-cert) */
  const char *trusted_hosts; /* "host[:port] ..." whose certificates are not verified, as pip's trusted-host */
} fic_tls_opts;

/* Is the host of `url` in `trusted_hosts` (whitespace-separated "host" or
 * "host:port"; a bare host matches every port)? */
int fic__host_trusted(const char *trusted_hosts, const char *url);

/* GET `url` into a malloc'ed, NUL-terminated buffer (*body, *len; free() it),
 * with the same redirects, timeouts, retries and proxy handling as
 * fic__download(). Fails with FIC_ERR_NETWORK above `max_bytes`. The URL after
 * redirects is copied to `effective_url` (may be NULL). */
fic_status fic__http_get(const char *url, const fic_tls_opts *tls, size_t max_bytes, char **body, size_t *len,
                         char *effective_url, size_t effective_size);

/* fic__download(), but `*aborted` (may be NULL) is set to 1 when the progress
 * callback stopped the transfer, so that callers trying several sources stop
 * instead of moving on to the next. */
fic_status fic__download_ex(const char *url, const fic_tls_opts *tls, const char *dest, const char *sha256_hex,
                            const char *what, fic_progress_fn progress, void *progress_user, int *aborted);

/* The lock fic__download holds for a whole transfer into `dest` (flock of
 * <dest>.part, waiting up to FLASHINFER_C_DOWNLOAD_LOCK_TIMEOUT_S), for other
 * ways of producing `dest` (the pip fallback) to serialise with it.
 * fic__download_unlock removes the .part if it is still the locked file. */
fic_status fic__download_lock(const char *dest, int *fd_out);
void fic__download_unlock(const char *dest, int fd);
/* Is `dest` a regular file whose SHA-256 is `sha256_hex` (any case)? */
int fic__download_published(const char *dest, const char *sha256_hex);

/* Copy `url` with any "user:password@" replaced by "***@", for messages:
 * every URL is passed through it before it is formatted into one. Works on
 * "scheme://", "//" and scheme-less "user:pw@host/..." forms alike. */
void fic__url_redact(const char *url, char *out, size_t size);

/* The protocols a redirect of a transfer of `url` may go to: "https" for
 * an https URL (no downgrade to plain http), else "http,https". */
const char *fic__redirect_protocols(const char *url);

#endif
