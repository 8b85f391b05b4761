/* SPDX-License-Identifier: Apache-2.0 */
/* Resolving a wheel through a Python package index (pip_index.c): the pip
 * configuration, URL handling, PEP 503 "simple" HTML pages, and the
 * `pip download` fallback. The artifacts layer calls fic__fetch_pinned()
 * (pinned.h), which calls these. */
#ifndef FIC_ARTIFACTS_PIP_INDEX_H
#define FIC_ARTIFACTS_PIP_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "artifacts/artifacts.h"
#include "artifacts/download.h"
#include "artifacts/pinned.h"
#include "flashinfer_c.h"

/* ---- pip_index.c --------------------------------------------------------- */

/* What flashinfer-c takes from the user's pip configuration, read as pip
 * reads it: the files in pip's load order (later overrides earlier; see
 * pip_index.c), [download] beating [global], and PIP_INDEX_URL, PIP_CERT,
 * PIP_CLIENT_CERT, PIP_TRUSTED_HOST beating every file.
 * PIP_CONFIG_FILE=/dev/null disables the files. "" where unset. */
typedef struct fic_pip_settings {
  char index_url[8192];
  char index_origin[FIC_PATH_MAX + 64]; /* "PIP_INDEX_URL" or "<file> [<section>] index-url" */
  char cert[FIC_PATH_MAX];              /* CA bundle: CURLOPT_CAINFO */
  char client_cert[FIC_PATH_MAX];       /* client certificate (PEM, key included): CURLOPT_SSLCERT */
  char trusted_hosts[8192];             /* "host[:port] ...": TLS not verified for these hosts */
} fic_pip_settings;

fic_status fic__pip_settings(fic_pip_settings *out);

/* The index URL of the user's pip configuration (fic__pip_settings);
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
fic_status fic__index_resolve(const char *page_url, const fic_tls_opts *tls, const char *filename,
                              const char *sha256_hex, char *out, size_t size);

/* Fetch a wheel with no base URL: through the configured Python package index,
 * or, when none is configured, with `python3 -m pip download` (pip knows its
 * default index); the file is verified and moved to `dest`. */
fic_status fic__fetch_from_pip(const fic_pinned_wheel *w, const char *dest, fic_progress_fn progress, void *user,
                               int *aborted);

#endif
