/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the PEP 503 index page parser and the URL helpers it relies on.
 *
 * Input: "<page url>\n<file name>\n<sha256 or empty>\n<html>"; with fewer
 * than three newlines the whole input is the HTML, looked up for the pinned
 * apache-tvm-ffi file name on a default page URL.
 *
 * Oracles: no sanitizer report (the HTML is handed over without a NUL
 * terminator, output buffers have their exact size); statuses are the
 * documented ones; a resolved link is an absolute URL that fits its buffer,
 * whose path holds no raw space, control, non-ASCII, '"', '<' or '>' byte,
 * and which resolves to itself again (joining is idempotent); a smaller
 * output buffer gives the same link or "too long", never a different link;
 * the percent-encoding of a file name decodes back to it and holds only
 * unreserved characters; redaction hides any password (redact_model), and
 * a message about a refused page quotes it redacted. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "artifacts/pip_index.h"
#include "fuzz_common.h"

#define URL_MAX 8192

static const char k_page[] = "https://example.org/simple/apache-tvm-ffi/";
static const char k_file[] = "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl";
static const char k_sha[] = "48ad3df2224f1b0943344895c6cba2f3f0a53bc67ddafdd3e9d7a34f56100aa9";

static const fic_status link_ok[] = {FIC_OK, FIC_ERR_NOT_FOUND, FIC_ERR_CHECKSUM, FIC_ERR_INVALID_ARGUMENT};

/* The path of an absolute URL: after "scheme://authority", up to '?' or '#'. */
static void check_url(const char *url, const char *what) {
  const char *sep = strstr(url, "://");
  FZ_CHECK(sep && sep > url && isalpha((unsigned char)url[0]), "%s is not absolute: %s", what, url);
  const char *path = sep + 3 + strcspn(sep + 3, "/?#");
  size_t plen = strcspn(path, "?#");
  for (size_t i = 0; i < plen; i++) {
    unsigned char c = (unsigned char)path[i];
    FZ_CHECK(c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>', "%s has byte 0x%02x in its path: %s", what, c,
             url);
  }
}

static char *dup_n(const char *s, size_t n) {
  char *d = malloc(n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static void check_join(const char *base, const char *ref) {
  static char out[URL_MAX], again[URL_MAX];
  fic_status s = fic__url_join(base, ref, out, sizeof out);
  FZ_CHECK(s == FIC_OK || s == FIC_ERR_INVALID_ARGUMENT, "url_join -> %s", fic_status_string(s));
  if (s != FIC_OK) return;
  FZ_CHECK(strlen(out) < sizeof out, "url_join overflowed");
  check_url(out, "url_join result");
  s = fic__url_join(out, out, again, sizeof again);
  FZ_CHECK(s == FIC_OK && !strcmp(out, again), "url_join not idempotent:\n  base %s\n  ref  %s\n  1st  %s\n  2nd  %s",
           base, ref, out, s == FIC_OK ? again : fic_last_error_message());
}

/* The start and length of the userinfo-bearing prefix ("user:pw@") of the
 * authority at `auth`: up to its last '@' included, 0 when none. */
static size_t userinfo_len(const char *auth) {
  size_t alen = strcspn(auth, "/?#"), n = 0;
  for (size_t i = 0; i < alen; i++)
    if (auth[i] == '@') n = i + 1;
  return n;
}

/* fic__url_redact's contract, written out: the candidate authorities are
 * the one after "scheme://" (a valid scheme), a leading "//" or the start,
 * and the one after the first "://" anywhere. 0 if `want` is too small. */
static int redact_model(const char *url, char *want, size_t size) {
  const char *sep = strstr(url, "://");
  size_t slen = sep ? (size_t)(sep - url) : 0;
  int scheme = sep && slen > 0 && isalpha((unsigned char)url[0]);
  for (size_t i = 0; scheme && i < slen; i++)
    scheme = isalnum((unsigned char)url[i]) || url[i] == '+' || url[i] == '-' || url[i] == '.';
  const char *a = scheme ? sep + 3 : (url[0] == '/' && url[1] == '/') ? url + 2 : url;
  const char *b = sep && sep + 3 != a ? sep + 3 : NULL;
  size_t o = 0;
  const char *p = url;
  for (int pass = 0; pass < 2; pass++) {
    const char *c = pass == 0 ? a : b;
    if (!c || !userinfo_len(c)) continue;
    int n = snprintf(want + o, size - o, "%.*s***", (int)(c - p), p);
    if (n < 0 || (size_t)n >= size - o) return 0;
    o += (size_t)n;
    p = c + userinfo_len(c) - 1; /* the '@' stays */
  }
  return (size_t)snprintf(want + o, size - o, "%s", p) < size - o;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *d = (const char *)data;
  const char *nl1 = memchr(d, '\n', size);
  const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', size - (size_t)(nl1 + 1 - d)) : NULL;
  const char *nl3 = nl2 ? memchr(nl2 + 1, '\n', size - (size_t)(nl2 + 1 - d)) : NULL;
  char *page, *file, *sha;
  const char *html;
  size_t html_len;
  if (nl3) {
    page = dup_n(d, (size_t)(nl1 - d));
    file = dup_n(nl1 + 1, (size_t)(nl2 - nl1 - 1));
    sha = dup_n(nl2 + 1, (size_t)(nl3 - nl2 - 1));
    html = nl3 + 1;
    html_len = size - (size_t)(html - d);
  } else {
    page = dup_n(k_page, strlen(k_page));
    file = dup_n(k_file, strlen(k_file));
    sha = dup_n(k_sha, strlen(k_sha));
    html = d;
    html_len = size;
  }
  /* Strings with an embedded NUL are cut there, as a C caller would see them. */
  char *body = malloc(html_len ? html_len : 1);
  memcpy(body, html, html_len);

  char *out = malloc(URL_MAX);
  fic_status s = fic__index_find_link(body, html_len, page, file, sha[0] ? sha : NULL, out, URL_MAX);
  FZ_CHECK(fz_status_in(s, link_ok, 4), "index_find_link -> %s", fic_status_string(s));
  if (s == FIC_OK) {
    check_url(out, "resolved link");
    size_t small = 1 + (size_t)(html_len % 97);
    char *o2 = malloc(small);
    fic_status s2 = fic__index_find_link(body, html_len, page, file, sha[0] ? sha : NULL, o2, small);
    FZ_CHECK(s2 == FIC_ERR_INVALID_ARGUMENT || (s2 == FIC_OK && !strcmp(o2, out)),
             "a %zu-byte buffer gives %s (%s) instead of %s", small, fic_status_string(s2), s2 == FIC_OK ? o2 : "",
             out);
    free(o2);
  }
  /* Every short line of the HTML as a reference relative to the page. */
  const char *p = body, *end = body + html_len;
  for (int k = 0; p < end && k < 16; k++) {
    const char *e = memchr(p, '\n', (size_t)(end - p));
    size_t n = e ? (size_t)(e - p) : (size_t)(end - p);
    if (n < 2048) {
      char *ref = dup_n(p, n);
      if (strstr(page, "://")) check_join(page, ref);
      free(ref);
    }
    p = e ? e + 1 : end;
  }

  /* The file name as a URL path segment. */
  if (strlen(file) > 4096) file[4096] = '\0';
  char *seg = malloc(3 * strlen(file) + 1);
  s = fic__url_encode_segment(file, seg, 3 * strlen(file) + 1);
  FZ_CHECK(s == FIC_OK, "encode_segment with a big enough buffer -> %s", fic_status_string(s));
  static char dec[8192];
  size_t o = 0;
  for (const char *q = seg; *q; q++) {
    FZ_CHECK(isalnum((unsigned char)*q) || strchr("-._~%", *q), "encoded segment holds '%c'", *q);
    if (*q == '%') {
      unsigned v = 0;
      FZ_CHECK(sscanf(q + 1, "%2X", &v) == 1, "bad escape in %s", seg);
      dec[o++] = (char)v;
      q += 2;
    } else {
      dec[o++] = *q;
    }
  }
  dec[o] = '\0';
  FZ_CHECK(!strcmp(dec, file), "encode_segment does not round-trip");
  free(seg);

  /* Redaction: in the authority libcurl would use and in the text after
   * the first "://" (whatever precedes it), everything up to the last '@'
   * becomes "***"; and a message about a refused page quotes it so. */
  char red[256], want[1024];
  fic__url_redact(page, red, sizeof red);
  FZ_CHECK(strlen(red) < sizeof red, "redact overflowed");
  int modeled = redact_model(page, want, sizeof want);
  if (modeled && strlen(want) < sizeof red)
    FZ_CHECK(!strcmp(red, want), "redacted \"%s\" as \"%s\", want \"%s\"", page, red, want);
  static const char refused[] = "not an absolute URL: ";
  if (modeled && strlen(want) < 512 && fic__url_join(page, "x", out, URL_MAX) != FIC_OK &&
      !strncmp(fic_last_error_message(), refused, sizeof refused - 1))
    FZ_CHECK(!strcmp(fic_last_error_message() + sizeof refused - 1, want),
             "message about \"%s\" does not quote it as \"%s\": %s", page, want, fic_last_error_message());
  char proj[URL_MAX];
  s = fic__pip_project_url(page, file, proj, sizeof proj);
  FZ_CHECK(s == FIC_OK || s == FIC_ERR_INVALID_ARGUMENT, "pip_project_url -> %s", fic_status_string(s));

  free(out);
  free(body);
  free(page);
  free(file);
  free(sha);
  return 0;
}
