/* SPDX-License-Identifier: Apache-2.0 */
/* fic__download(): one URL to one verified file, with libcurl.
 *
 *  - The bytes go to <dest>.part, which is flock()ed for the whole transfer:
 *    a second process (or thread) downloading the same dest waits for the
 *    first, then finds dest published and returns. A .part is only ever
 *    truncated, resumed or unlinked by the holder of its lock.
 *  - An existing .part is resumed: its bytes are hashed first, then a Range
 *    request asks for the rest. A server that ignores the Range (200, or 416)
 *    makes the download restart from zero.
 *  - SHA-256 is computed while streaming (no second pass). A mismatch after a
 *    resume restarts once from zero (the old prefix may have been stale); a
 *    mismatch of a fresh download deletes the .part and fails.
 *  - Success: fsync(.part), rename(.part, dest), fsync(directory).
 *  - Transient failures (connect/timeout/5xx/408/429/short reads) are retried
 *    with exponential backoff; a retry continues from the bytes already
 *    written. Proxy variables (http_proxy, https_proxy, no_proxy, ...) are
 *    honoured by libcurl itself: nothing here overrides them.
 *
 * Environment (all optional):
 *   FLASHINFER_C_DOWNLOAD_RETRIES       retries after the first try (default 3)
 *   FLASHINFER_C_DOWNLOAD_TIMEOUT_S     connect timeout, and how long a transfer may
 *                                       stay under 1 KiB/s before it is abandoned (30)
 *   FLASHINFER_C_DOWNLOAD_LOCK_TIMEOUT_S how long to wait for another process's
 *                                       download of the same file (3600)
 *   FLASHINFER_C_DOWNLOAD_BACKOFF_MS    first backoff delay, doubled per retry (500;
 *                                       tests set it to a few ms)
 */
#include "artifacts/download.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/internal.h"
#include "common/clock.h"
#include "common/env.h"
#include "common/error.h"

#define DL_LOW_SPEED_LIMIT 1024L /* bytes/s */
#define DL_MAX_BACKOFF_MS 30000L
#define DL_MAX_REDIRECTS 10L

/* ---- libcurl, initialised once ------------------------------------------ */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static fic_status ensure_curl(void) {
  if (pthread_once(&curl_once, curl_init_once) != 0)
    return fic__fail(FIC_ERR_INTERNAL, "pthread_once failed for curl_global_init");
  if (curl_init_rc != CURLE_OK)
    return fic__fail(FIC_ERR_NETWORK, "curl_global_init failed: %s", curl_easy_strerror(curl_init_rc));
  return FIC_OK;
}

/* ---- settings ------------------------------------------------------------ */

typedef struct dl_settings {
  long retries;
  long timeout_s;
  long backoff_ms;
  double lock_timeout_s;
} dl_settings;

static fic_status env_long(const char *name, long def, long min, long max, long *out) {
  const char *v = fic__env(name);
  *out = def;
  if (!v) return FIC_OK;
  char *end = NULL;
  errno = 0;
  long x = strtol(v, &end, 10);
  while (end && isspace((unsigned char)*end)) end++;
  if (errno || !end || *end || x < min || x > max)
    return fic__fail(FIC_ERR_INVALID_ARGUMENT, "%s=\"%s\" is not an integer in [%ld, %ld]", name, v, min, max);
  *out = x;
  return FIC_OK;
}

static fic_status load_settings(dl_settings *s) {
  long lock_s = 0;
  FIC_CHECK(env_long("FLASHINFER_C_DOWNLOAD_RETRIES", 3, 0, 100, &s->retries));
  FIC_CHECK(env_long("FLASHINFER_C_DOWNLOAD_TIMEOUT_S", 30, 1, 3600, &s->timeout_s));
  FIC_CHECK(env_long("FLASHINFER_C_DOWNLOAD_BACKOFF_MS", 500, 0, 60000, &s->backoff_ms));
  FIC_CHECK(env_long("FLASHINFER_C_DOWNLOAD_LOCK_TIMEOUT_S", 3600, 0, 86400 * 7, &lock_s));
  s->lock_timeout_s = (double)lock_s;
  return FIC_OK;
}

static long backoff_for(const dl_settings *s, int attempt /* 1-based, the one that failed */) {
  long ms = s->backoff_ms;
  for (int i = 1; i < attempt && ms < DL_MAX_BACKOFF_MS; i++) ms *= 2;
  return ms > DL_MAX_BACKOFF_MS ? DL_MAX_BACKOFF_MS : ms;
}

/* ---- URL redaction ------------------------------------------------------- */

/* The authority ("user:pw@host:port") of a well-formed `url`, as libcurl
 * reads it: after "scheme://", after a leading "//", else from the start (a
 * scheme-less "host/path", which libcurl accepts). Its start and length. */
static const char *url_authority(const char *url, size_t *len) {
  const char *auth = strstr(url, "://");
  if (auth && (size_t)(auth - url) == strspn(url, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-."))
    auth += 3;
  else if (url[0] == '/' && url[1] == '/')
    auth = url + 2;
  else
    auth = url;
  *len = strcspn(auth, "/?#");
  return auth;
}

/* The last '@' of the `len` bytes at `auth` (the end of a userinfo), or NULL. */
static const char *userinfo_end(const char *auth, size_t len) {
  const char *at = NULL;
  for (size_t i = 0; i < len; i++)
    if (auth[i] == '@') at = auth + i;
  return at;
}

/* Two candidate authorities are redacted, so that no form of URL shows a
 * userinfo: the one libcurl would use (url_authority), and, whatever the URL
 * looks like, the text after its first "://" up to the first '/', '?' or '#'
 * ("h/../://user:pw@host" has no valid scheme, so it is refused as "not an
 * absolute URL", in a message that quotes it). Everything from a
 * candidate's start up to its last '@' becomes "***". The two are equal for
 * a well-formed URL; otherwise the first ends before the second starts. */
void fic__url_redact(const char *url, char *out, size_t size) {
  if (!out || !size) return;
  if (!url) url = "";
  size_t alen = 0;
  const char *a = url_authority(url, &alen);
  const char *a_at = userinfo_end(a, alen);
  const char *b = strstr(url, "://");
  const char *b_at = b && b + 3 != a ? userinfo_end(b + 3, strcspn(b + 3, "/?#")) : NULL;
  const char *hide_a = a_at ? "***" : "";
  if (!a_at) a_at = a = url; /* nothing hidden there: copy from the start */
  if (!b_at)
    snprintf(out, size, "%.*s%s%s", (int)(a - url), url, hide_a, a_at);
  else
    snprintf(out, size, "%.*s%s%.*s***%s", (int)(a - url), url, hide_a, (int)(b + 3 - a_at), a_at, b_at);
}

int fic__host_trusted(const char *trusted_hosts, const char *url) {
  if (!trusted_hosts || !url) return 0;
  size_t alen = 0;
  const char *auth = url_authority(url, &alen);
  const char *at = memchr(auth, '@', alen);
  while (at) { /* the last '@' ends the userinfo */
    alen -= (size_t)(at + 1 - auth);
    auth = at + 1;
    at = memchr(auth, '@', alen);
  }
  size_t hlen = alen;
  const char *colon = memchr(auth, ':', alen);
  if (colon && auth[0] != '[') hlen = (size_t)(colon - auth);
  for (const char *t = trusted_hosts; *t;) {
    t += strspn(t, " \t\n,");
    size_t tlen = strcspn(t, " \t\n,");
    if (tlen &&
        ((tlen == alen && strncasecmp(t, auth, alen) == 0) || (tlen == hlen && strncasecmp(t, auth, hlen) == 0)))
      return 1;
    t += tlen;
  }
  return 0;
}

/* ---- one easy handle, common options ------------------------------------- */

const char *fic__redirect_protocols(const char *url) {
  /* A transfer that starts on https never follows a redirect to plain http:
   * that would hand the rest of it (and any credentials) to whoever sits on
   * the path. http may be upgraded to https. */
  return url && strncasecmp(url, "https:", 6) == 0 ? "https" : "http,https";
}

static fic_status setup_common(CURL *c, const char *url, const fic_tls_opts *tls, const dl_settings *s, char *errbuf) {
  CURLcode rc = CURLE_OK;
  int trusted = tls && fic__host_trusted(tls->trusted_hosts, url);
#define SET(opt, val)                                       \
  do {                                                      \
    if (rc == CURLE_OK) rc = curl_easy_setopt(c, opt, val); \
  } while (0)
  SET(CURLOPT_URL, url);
  SET(CURLOPT_ERRORBUFFER, errbuf);
  SET(CURLOPT_NOSIGNAL, 1L);
  /* A host trusted without TLS verification (pip's trusted-host) is trusted
   * alone: its redirects are not followed, since they would carry the
   * unverified connection's trust to another host. */
  SET(CURLOPT_FOLLOWLOCATION, trusted ? 0L : 1L);
  if (trusted) {
    SET(CURLOPT_SSL_VERIFYPEER, 0L);
    SET(CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (tls && tls->ca_file && *tls->ca_file) SET(CURLOPT_CAINFO, tls->ca_file);
  if (tls && tls->client_cert && *tls->client_cert) SET(CURLOPT_SSLCERT, tls->client_cert);
  SET(CURLOPT_MAXREDIRS, DL_MAX_REDIRECTS);
#if LIBCURL_VERSION_NUM >= 0x075500
  SET(CURLOPT_PROTOCOLS_STR, "http,https");
  SET(CURLOPT_REDIR_PROTOCOLS_STR, fic__redirect_protocols(url));
#else
  SET(CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  SET(CURLOPT_REDIR_PROTOCOLS, strcmp(fic__redirect_protocols(url), "https") == 0
                                   ? (long)CURLPROTO_HTTPS
                                   : (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SET(CURLOPT_CONNECTTIMEOUT, s->timeout_s);
  SET(CURLOPT_LOW_SPEED_LIMIT, DL_LOW_SPEED_LIMIT);
  SET(CURLOPT_LOW_SPEED_TIME, s->timeout_s);
  SET(CURLOPT_FAILONERROR, 1L);
  SET(CURLOPT_TCP_KEEPALIVE, 1L);
  SET(CURLOPT_USERAGENT, "flashinfer-c/0.1 (libcurl)");
  /* No CURLOPT_PROXY / CURLOPT_NOPROXY: libcurl reads http_proxy,
   * https_proxy, all_proxy and no_proxy from the environment by default. */
#undef SET
  if (rc != CURLE_OK) return fic__fail(FIC_ERR_NETWORK, "curl_easy_setopt failed: %s", curl_easy_strerror(rc));
  return FIC_OK;
}

/* Whether a failed transfer is worth another try. */
static int retryable_curl(CURLcode rc) {
  switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_LOGIN_DENIED:
    case CURLE_WRITE_ERROR:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_FILESIZE_EXCEEDED:
      return 0;
    default:
      return 1;
  }
}

static int retryable_http(long code) { return code >= 500 || code == 408 || code == 429; }

/* Why a transfer failed, in words, and whether another attempt may help. */
static int describe_failure(CURLcode rc, int http_error, long code, const char *errbuf, char *why, size_t size) {
  if (http_error) {
    snprintf(why, size, "HTTP %ld", code);
    return retryable_http(code);
  }
  const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(rc);
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    snprintf(why, size, "timed out (%s)", detail);
    return 1;
  }
  snprintf(why, size, "%s", detail);
  return retryable_curl(rc);
}

/* ---- the transfer state -------------------------------------------------- */

typedef struct dl_xfer {
  CURL *curl;
  int fd;
  const char *part;
  fic_sha256 md;
  uint64_t offset;     /* bytes in the .part, all hashed */
  uint64_t body_base;  /* file offset at which this response's body starts */
  int first_write;     /* no body byte seen yet in this response */
  int write_errno;     /* errno of a failed write, 0 if none */
  int used_old_prefix; /* the result includes bytes that were in the .part before this call */
  /* progress */
  fic_progress_fn progress;
  void *user;
  const char *what;
  int aborted;
  int reported;
  uint64_t last_done;
  double last_report;
} dl_xfer;

/* Back to an empty .part and a fresh hash. */
static fic_status reset_part(dl_xfer *x) {
  if (ftruncate(x->fd, 0) != 0) return fic__fail_errno("cannot truncate", x->part);
  fic__sha256_abort(&x->md);
  FIC_CHECK(fic__sha256_begin(&x->md));
  x->offset = 0;
  x->body_base = 0;
  x->used_old_prefix = 0;
  return FIC_OK;
}

static size_t on_write(char *ptr, size_t size, size_t nmemb, void *ud) {
  dl_xfer *x = ud;
  size_t n = size * nmemb;
  if (x->first_write) {
    x->first_write = 0;
    long code = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);
    if (x->offset > 0 && code == 200) {
      /* We asked for a range; the server sent the whole file. Start over. */
      if (reset_part(x) != FIC_OK) {
        x->write_errno = errno ? errno : EIO;
        return 0;
      }
    }
  }
  size_t done = 0;
  while (done < n) {
    ssize_t w = pwrite(x->fd, ptr + done, n - done, (off_t)(x->offset + done));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      x->write_errno = w < 0 ? errno : EIO;
      return 0;
    }
    done += (size_t)w;
  }
  if (fic__sha256_update(&x->md, ptr, n) != FIC_OK) {
    x->write_errno = EIO;
    return 0;
  }
  x->offset += n;
  return n;
}

static int report(dl_xfer *x, uint64_t done, uint64_t total) {
  x->reported = 1;
  x->last_done = done;
  x->last_report = fic__now_s();
  return x->progress(x->user, x->what, done, total);
}

static int on_xferinfo(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
  dl_xfer *x = ud;
  (void)dlnow;
  (void)ultotal;
  (void)ulnow;
  if (!x->progress) return 0;
  uint64_t total = dltotal > 0 ? x->body_base + (uint64_t)dltotal : 0;
  uint64_t done = x->offset;
  /* Called often by libcurl: report when bytes arrived, or every half second
   * while stalled (so that the callback can still abort). */
  if (x->reported && done == x->last_done && fic__now_s() - x->last_report < 0.5) return 0;
  if (report(x, done, total) != 0) {
    x->aborted = 1;
    return 1;
  }
  return 0;
}

/* One transfer with retries, appending to the .part from x->offset. */
static fic_status transfer(dl_xfer *x, const char *url, const fic_tls_opts *tls, const dl_settings *s) {
  char errbuf[CURL_ERROR_SIZE];
  char shown[1024];
  fic__url_redact(url, shown, sizeof shown);
  int tries = (int)s->retries + 1;
  int range_restarts = 0;
  for (int attempt = 1;; attempt++) {
    curl_easy_reset(x->curl);
    errbuf[0] = '\0';
    FIC_CHECK(setup_common(x->curl, url, tls, s, errbuf));
    curl_easy_setopt(x->curl, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(x->curl, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(x->curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(x->curl, CURLOPT_XFERINFOFUNCTION, on_xferinfo);
    curl_easy_setopt(x->curl, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(x->curl, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)x->offset);
    x->body_base = x->offset;
    x->first_write = 1;
    x->write_errno = 0;
    x->aborted = 0;

    CURLcode rc = curl_easy_perform(x->curl);
    long code = 0;
    curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &code);

    if (rc == CURLE_OK && code == 416 && x->offset > 0 && range_restarts++ < 2) {
      /* "Range not satisfiable": the .part is not a prefix of this file. */
      FIC_CHECK(reset_part(x));
      attempt--;
      continue;
    }
    if (rc == CURLE_OK && (code == 0 || (code >= 200 && code < 300))) return FIC_OK;
    if (x->aborted || rc == CURLE_ABORTED_BY_CALLBACK)
      return fic__fail(FIC_ERR_NETWORK, "download of %s from %s aborted by the progress callback", x->what, shown);
    if (x->write_errno) {
      errno = x->write_errno;
      return fic__fail(fic__status_from_errno(x->write_errno), "cannot write %s: %s", x->part,
                       strerror(x->write_errno));
    }
    if (rc == CURLE_RANGE_ERROR && range_restarts++ < 2) {
      /* The server does not do byte ranges: download from zero. */
      FIC_CHECK(reset_part(x));
      attempt--;
      continue;
    }

    char why[CURL_ERROR_SIZE + 128];
    int http_error = rc == CURLE_HTTP_RETURNED_ERROR || (rc == CURLE_OK && code >= 300);
    if (http_error && code == 416 && x->offset > 0 && range_restarts++ < 2) {
      FIC_CHECK(reset_part(x));
      attempt--;
      continue;
    }
    int retry = describe_failure(rc, http_error, code, errbuf, why, sizeof why);
    if (!retry || attempt >= tries)
      return fic__fail(FIC_ERR_NETWORK, "download of %s from %s failed: %s (%d attempt%s)", x->what, shown, why,
                       attempt, attempt == 1 ? "" : "s");
    fic__sleep_ms(backoff_for(s, attempt));
  }
}

/* ---- locking the .part --------------------------------------------------- */

/* Open and flock <dest>.part; retry if the file we locked is no longer the one
 * at that path (its holder published or deleted it meanwhile). */
static fic_status open_locked_part(const char *part, double timeout_s, int *out_fd) {
  double deadline = fic__now_s() + timeout_s;
  for (int round = 0; round < 1000; round++) {
    /* Never through a symlink, never anything but a regular file: a link
     * planted at the .part would have its target truncated and overwritten. */
    int fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0644);
    if (fd < 0 && errno == ELOOP)
      return fic__fail(FIC_ERR_IO, "refusing to download into %s: it is a symbolic link", part);
    if (fd < 0) return fic__fail_errno("cannot create", part);
    struct stat pst;
    if (fstat(fd, &pst) != 0 || !S_ISREG(pst.st_mode)) {
      close(fd);
      return fic__fail(FIC_ERR_IO, "refusing to download into %s: it is not a regular file", part);
    }
    long delay_ms = 10;
    for (;;) {
      if (flock(fd, LOCK_EX | LOCK_NB) == 0) break;
      if (errno == EINTR) continue;
      if (errno != EWOULDBLOCK) {
        fic_status st = fic__fail_errno("cannot lock", part);
        close(fd);
        return st;
      }
      if (fic__now_s() >= deadline) {
        close(fd);
        return fic__fail(FIC_ERR_LOCK_TIMEOUT,
                         "another process has been downloading %s for more than %.0f s "
                         "(FLASHINFER_C_DOWNLOAD_LOCK_TIMEOUT_S)",
                         part, timeout_s);
      }
      fic__sleep_ms(delay_ms);
      if (delay_ms < 200) delay_ms *= 2;
    }
    struct stat a, b;
    if (fstat(fd, &a) == 0 && stat(part, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
      *out_fd = fd;
      return FIC_OK;
    }
    close(fd); /* stale: renamed to dest or unlinked by its previous holder */
  }
  return fic__fail(FIC_ERR_IO, "cannot get a stable lock on %s", part);
}

static fic_status part_path(const char *dest, char part[FIC_PATH_MAX]) {
  if ((size_t)snprintf(part, FIC_PATH_MAX, "%s.part", dest) >= FIC_PATH_MAX)
    return fic__fail_arg("dest", "destination path is too long");
  return FIC_OK;
}

fic_status fic__download_lock(const char *dest, int *fd_out) {
  char part[FIC_PATH_MAX];
  dl_settings s;
  FIC_CHECK(part_path(dest, part));
  FIC_CHECK(load_settings(&s));
  return open_locked_part(part, s.lock_timeout_s, fd_out);
}

void fic__download_unlock(const char *dest, int fd) {
  char part[FIC_PATH_MAX];
  if (fd < 0) return;
  struct stat a, b;
  if (snprintf(part, sizeof part, "%s.part", dest) < (int)sizeof part && fstat(fd, &a) == 0 && lstat(part, &b) == 0 &&
      a.st_dev == b.st_dev && a.st_ino == b.st_ino)
    unlink(part); /* ours: we hold its lock */
  close(fd);
}

int fic__download_published(const char *dest, const char *sha256_hex) {
  char have[65], want[65];
  struct stat sb;
  if (!fic__sha256_normalize(sha256_hex, want) || stat(dest, &sb) != 0 || !S_ISREG(sb.st_mode)) return 0;
  /* A file that cannot be hashed is just not published yet. */
  fic_error_divert saved;
  fic__error_divert_begin(&saved, NULL, 0);
  int published = fic__sha256_file(dest, have) == FIC_OK && strcmp(have, want) == 0;
  fic__error_divert_end(&saved);
  return published;
}

/* ---- fic__download ------------------------------------------------------- */

static fic_status download_locked(dl_xfer *x, const char *url, const fic_tls_opts *tls, const char *dest,
                                  const char *want, const dl_settings *s) {
  /* Published meanwhile (by whoever held the lock before us)? */
  struct stat sb;
  if (fic__download_published(dest, want) && stat(dest, &sb) == 0) {
    unlink(x->part); /* ours: we hold its lock */
    if (x->progress) (void)x->progress(x->user, x->what, (uint64_t)sb.st_size, (uint64_t)sb.st_size);
    return FIC_OK;
  }

  /* Resume: hash what is already there. */
  if (fstat(x->fd, &sb) != 0) return fic__fail_errno("cannot stat", x->part);
  if (sb.st_size > 0) {
    FIC_CHECK(fic__sha256_fd_prefix(&x->md, x->fd, (uint64_t)sb.st_size, x->part));
    x->offset = (uint64_t)sb.st_size;
    x->used_old_prefix = 1;
  }

  char got[65];
  for (;;) {
    FIC_CHECK(transfer(x, url, tls, s)); /* the .part stays: a later call resumes it */
    FIC_CHECK(fic__sha256_end(&x->md, got));
    if (strcmp(got, want) == 0) break;
    if (!x->used_old_prefix) break;
    /* The old prefix may have belonged to another file: once more, from zero. */
    FIC_CHECK(reset_part(x));
  }
  if (strcmp(got, want) != 0) {
    char shown[1024];
    fic__url_redact(url, shown, sizeof shown);
    unlink(x->part);
    return fic__fail(FIC_ERR_CHECKSUM, "SHA-256 mismatch for %s downloaded from %s: expected %s, got %s", x->what,
                     shown, want, got);
  }

  if (x->progress && (!x->reported || x->last_done != x->offset)) (void)report(x, x->offset, x->offset);
  if (fsync(x->fd) != 0) return fic__fail_errno("cannot fsync", x->part);
  if (rename(x->part, dest) != 0) return fic__fail_errno("cannot rename the download to", dest);
  return fic__fsync_parent(dest);
}

fic_status fic__download_ex(const char *url, const fic_tls_opts *tls, const char *dest, const char *sha256_hex,
                            const char *what, fic_progress_fn progress, void *progress_user, int *aborted) {
  if (aborted) *aborted = 0;
  if (!url || !*url) return fic__fail_arg("url", "no URL to download");
  if (!dest || !*dest) return fic__fail_arg("dest", "no destination path");
  char want[65];
  if (!fic__sha256_normalize(sha256_hex, want)) return fic__fail_arg("sha256", "expected SHA-256 is not 64 hex digits");

  char part[FIC_PATH_MAX];
  FIC_CHECK(part_path(dest, part));
  if (!what || !*what) {
    const char *slash = strrchr(dest, '/');
    what = slash ? slash + 1 : dest;
  }

  dl_settings s;
  FIC_CHECK(load_settings(&s));
  FIC_CHECK(ensure_curl());
  FIC_CHECK(fic__mkdir_parent(dest, 0755));

  dl_xfer x;
  memset(&x, 0, sizeof x);
  x.part = part;
  x.what = what;
  x.progress = progress;
  x.user = progress_user;
  x.fd = -1;
  fic_status st = fic__sha256_begin(&x.md);
  x.curl = st == FIC_OK ? curl_easy_init() : NULL;
  if (st == FIC_OK && !x.curl) {
    st = fic__fail(FIC_ERR_NO_MEMORY, "cannot create a curl handle");
  } else if (st == FIC_OK && (st = open_locked_part(part, s.lock_timeout_s, &x.fd)) == FIC_OK) {
    st = download_locked(&x, url, tls, dest, want, &s);
    close(x.fd); /* releases the lock */
  }
  if (aborted) *aborted = x.aborted;
  if (x.curl) curl_easy_cleanup(x.curl);
  fic__sha256_abort(&x.md);
  return st;
}

fic_status fic__download(const char *url, const char *dest, const char *sha256_hex, const char *what,
                         fic_progress_fn progress, void *progress_user) {
  return fic__download_ex(url, NULL, dest, sha256_hex, what, progress, progress_user, NULL);
}

/* ---- GET into memory ----------------------------------------------------- */

typedef struct mem_buf {
  char *data;
  size_t len, cap, max;
  int too_big, no_mem;
} mem_buf;

static size_t on_write_mem(char *ptr, size_t size, size_t nmemb, void *ud) {
  mem_buf *b = ud;
  size_t n = size * nmemb;
  if (b->len + n > b->max) {
    b->too_big = 1;
    return 0;
  }
  if (b->len + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + n + 1) cap *= 2;
    char *p = realloc(b->data, cap);
    if (!p) {
      b->no_mem = 1;
      return 0;
    }
    b->data = p;
    b->cap = cap;
  }
  memcpy(b->data + b->len, ptr, n);
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

fic_status fic__http_get(const char *url, const fic_tls_opts *tls, size_t max_bytes, char **body, size_t *len,
                         char *effective_url, size_t effective_size) {
  if (!url || !*url || !body) return fic__fail_arg("url", "no URL to fetch");
  *body = NULL;
  if (len) *len = 0;
  dl_settings s;
  FIC_CHECK(load_settings(&s));
  FIC_CHECK(ensure_curl());
  CURL *c = curl_easy_init();
  if (!c) return fic__fail(FIC_ERR_NO_MEMORY, "cannot create a curl handle");

  char shown[1024];
  fic__url_redact(url, shown, sizeof shown);
  char errbuf[CURL_ERROR_SIZE];
  mem_buf b = {NULL, 0, 0, max_bytes, 0, 0};
  int tries = (int)s.retries + 1;
  struct curl_slist *hdrs = curl_slist_append(NULL, "Accept: text/html");
  fic_status st = FIC_OK;
  for (int attempt = 1;; attempt++) {
    curl_easy_reset(c);
    errbuf[0] = '\0';
    b.len = 0;
    b.too_big = b.no_mem = 0;
    if ((st = setup_common(c, url, tls, &s, errbuf)) != FIC_OK) break;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write_mem);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
    if (hdrs) curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK && (code == 0 || (code >= 200 && code < 300))) {
      if (!b.data) { /* empty body */
        b.data = malloc(1);
        if (!b.data) {
          st = fic__fail(FIC_ERR_NO_MEMORY, "out of memory");
          break;
        }
        b.data[0] = '\0';
      }
      if (effective_url && effective_size) {
        char *eff = NULL;
        curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &eff);
        snprintf(effective_url, effective_size, "%s", eff ? eff : url);
      }
      *body = b.data;
      if (len) *len = b.len;
      b.data = NULL;
      st = FIC_OK;
      break;
    }
    if (b.no_mem) {
      st = fic__fail(FIC_ERR_NO_MEMORY, "out of memory reading %s", shown);
      break;
    }
    if (b.too_big) {
      st = fic__fail(FIC_ERR_NETWORK, "%s is larger than %zu bytes", shown, max_bytes);
      break;
    }
    char why[CURL_ERROR_SIZE + 128];
    int retry = describe_failure(rc, rc == CURLE_HTTP_RETURNED_ERROR || rc == CURLE_OK, code, errbuf, why, sizeof why);
    if (!retry || attempt >= tries) {
      st = fic__fail(FIC_ERR_NETWORK, "GET %s failed: %s (%d attempt%s)", shown, why, attempt, attempt == 1 ? "" : "s");
      break;
    }
    fic__sleep_ms(backoff_for(&s, attempt));
  }
  curl_slist_free_all(hdrs);
  free(b.data);
  curl_easy_cleanup(c);
  return st;
}
