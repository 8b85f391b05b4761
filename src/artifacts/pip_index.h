/* Internal helpers of the download layer (download.c, pip_index.c, pinned.c):
 * HTTP GET into memory, URL handling, and resolving a wheel through a Python
 * package index page (PEP 503 "simple" HTML). Not part of any other layer's
 * interface; the artifacts layer calls fic__fetch_pinned() and fic__download(). */
#ifndef FIC_ARTIFACTS_PIP_INDEX_H
#define FIC_ARTIFACTS_PIP_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "artifacts/pinned.h"
#include "flashinfer_c.h"

/* ---- download.c ---------------------------------------------------------- */

/* GET `url` into a malloc'ed, NUL-terminated buffer (*body, *len; free() it),
 * with the same redirects, timeouts, retries and proxy handling as
 * fic__download(). Fails with FIC_ERR_NETWORK above `max_bytes`. The URL after
 * redirects is copied to `effective_url` (may be NULL). */
fic_status fic__http_get(const char *url, size_t max_bytes, char **body, size_t *len, char *effective_url,
                         size_t effective_size);

/* fic__download(), but `*aborted` (may be NULL) is set to 1 when the progress
 * callback stopped the transfer, so that callers trying several sources stop
 * instead of moving on to the next. */
fic_status fic__download_ex(const char *url, const char *dest, const char *sha256_hex, const char *what,
                            fic_progress_fn progress, void *progress_user, int *aborted);

/* SHA-256 of a file (OpenSSL EVP), 64 lowercase hex + NUL. */
fic_status fic__dl_sha256_path(const char *path, char out_hex[65]);

/* Copy `url` with any "user:password@" replaced by "***@", for messages. */
void fic__url_redact(const char *url, char *out, size_t size);

/* ---- pip_index.c --------------------------------------------------------- */

/* The index URL of the user's pip configuration: PIP_INDEX_URL, else
 * index-url from the pip configuration files in pip's precedence order
 * ([download] beats [global]; PIP_CONFIG_FILE=/dev/null disables the files).
 * `origin` (may be NULL) names where it came from. FIC_ERR_NOT_FOUND when
 * nothing is configured. */
fic_status fic__pip_index_url(char *out, size_t size, char *origin, size_t origin_size);

/* PEP 503 project page URL: <index>/<normalized project>/. */
fic_status fic__pip_project_url(const char *index_url, const char *project, char *out, size_t size);

/* Resolve `ref` against `base` (RFC 3986, dot segments removed), then
 * percent-encode '+', spaces and non-ASCII bytes in the path. */
fic_status fic__url_join(const char *base, const char *ref, char *out, size_t size);

/* Percent-encode one path segment (a file name): everything but
 * [A-Za-z0-9-._~] is escaped, so '+' becomes %2B. */
fic_status fic__url_encode_segment(const char *segment, char *out, size_t size);

/* Find the anchor for `filename` in an index page (`html`, `len` bytes, whose
 * URL is `page_url`): its text or the last path segment of its href must equal
 * the file name. The href (entities decoded, fragment stripped) is resolved
 * against `page_url` into `out`. A "#sha256=" fragment that differs from
 * `sha256_hex` gives FIC_ERR_CHECKSUM; no matching anchor gives
 * FIC_ERR_NOT_FOUND. */
fic_status fic__index_find_link(const char *html, size_t len, const char *page_url, const char *filename,
                                const char *sha256_hex, char *out, size_t size);

/* Fetch the index page at `page_url` and resolve `filename` in it. */
fic_status fic__index_resolve(const char *page_url, const char *filename, const char *sha256_hex, char *out,
                              size_t size);

/* Fetch a wheel with no base URL: through the configured Python package index,
 * or, when none is configured, with `python3 -m pip download` (pip knows its
 * default index); the file is verified and moved to `dest`. */
fic_status fic__fetch_from_pip(const fic_pinned_wheel *w, const char *dest, fic_progress_fn progress, void *user,
                               int *aborted);

#endif
