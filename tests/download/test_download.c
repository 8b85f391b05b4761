/* SPDX-License-Identifier: Apache-2.0 */
/* fic__download() against a local HTTP server: success, checksum, resume,
 * Range ignored, HTTP errors with retries, timeouts, progress, locking,
 * proxies. Nothing here touches the internet. */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/download.h"
#include "common/error.h"
#include "dl_support.h"

#define BLOB_SIZE ((size_t)3 * 1024 * 1024 + 123)

typedef struct fx {
  dl_server srv;
  char *tmp;
  unsigned char *blob;
  char sha[65];
  char dest[4096];
  char part[4200];
  char url[4096];
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  dl_fixture_open(&f->srv, &f->tmp, "dl", &f->blob, BLOB_SIZE, 7, f->sha, "blob.bin");
  snprintf(f->dest, sizeof f->dest, "%s/wheels/blob.whl", f->tmp); /* parent created by the download */
  snprintf(f->part, sizeof f->part, "%s.part", f->dest);
  dl_url(&f->srv, f->url, sizeof f->url, "/blob.bin");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  dl_fixture_close(&f->srv, f->tmp, f->blob);
  free(f);
  return 0;
}

static void make_parent(fx *f) {
  char d[4200];
  snprintf(d, sizeof d, "%s/wheels", f->tmp);
  mkdir(d, 0755);
}

static void test_download_ok(void **state) {
  fx *f = *state;
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_false(dl_exists(f->part));
  assert_int_equal(dl_count(&f->srv, "GET /blob.bin range=-"), 1);
  assert_int_equal(dl_count(&f->srv, NULL), 1);
}

static void test_download_uppercase_sha_accepted(void **state) {
  fx *f = *state;
  char up[65];
  for (int i = 0; i < 65; i++) up[i] = (char)(f->sha[i] >= 'a' && f->sha[i] <= 'f' ? f->sha[i] - 32 : f->sha[i]);
  FIC_ASSERT_OK(fic__download(f->url, f->dest, up, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
}

static void test_download_wrong_sha(void **state) {
  fx *f = *state;
  const char *bad = "0000000000000000000000000000000000000000000000000000000000000000";
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, bad, "blob", NULL, NULL), FIC_ERR_CHECKSUM);
  assert_non_null(strstr(fic_last_error_message(), bad));
  assert_non_null(strstr(fic_last_error_message(), f->sha));
  assert_false(dl_exists(f->dest));
  assert_false(dl_exists(f->part));
  assert_int_equal(dl_count(&f->srv, NULL), 1); /* a fresh download is not repeated */
}

static void test_download_resume(void **state) {
  fx *f = *state;
  make_parent(f);
  dl_write(f->part, f->blob, 1048576);
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_false(dl_exists(f->part));
  assert_int_equal(dl_count(&f->srv, "GET /blob.bin range=bytes=1048576-"), 1);
  assert_int_equal(dl_count(&f->srv, NULL), 1);
}

static void test_download_resume_stale_prefix_restarts(void **state) {
  fx *f = *state;
  make_parent(f);
  unsigned char *junk = dl_random(4096, 99);
  dl_write(f->part, junk, 4096);
  free(junk);
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_int_equal(dl_count(&f->srv, "range=bytes=4096-"), 1);
  assert_int_equal(dl_count(&f->srv, "GET /blob.bin range=-"), 1);
}

static void test_download_server_ignores_range(void **state) {
  fx *f = *state;
  make_parent(f);
  dl_write(f->part, f->blob, 1048576);
  dl_url(&f->srv, f->url, sizeof f->url, "/norange/blob.bin");
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_false(dl_exists(f->part));
  /* The Range was asked for, the server answered 200 with everything. */
  assert_true(dl_count(&f->srv, "GET /norange/blob.bin range=bytes=1048576-") >= 1);
}

static void test_download_part_longer_than_file(void **state) {
  fx *f = *state;
  make_parent(f);
  unsigned char *big = dl_random(BLOB_SIZE + 10, 3);
  dl_write(f->part, big, BLOB_SIZE + 10);
  free(big);
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_int_equal(dl_count(&f->srv, "range=-"), 1); /* after the 416, from zero */
}

static void test_download_http_404_not_retried(void **state) {
  fx *f = *state;
  setenv("FLASHINFER_C_DOWNLOAD_RETRIES", "3", 1);
  dl_url(&f->srv, f->url, sizeof f->url, "/status/404/blob.bin");
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  assert_non_null(strstr(fic_last_error_message(), "HTTP 404"));
  assert_non_null(strstr(fic_last_error_message(), f->url));
  assert_int_equal(dl_count(&f->srv, "/status/404/blob.bin"), 1);
  assert_false(dl_exists(f->dest));
}

static void test_download_http_500_retried(void **state) {
  fx *f = *state;
  setenv("FLASHINFER_C_DOWNLOAD_RETRIES", "2", 1);
  dl_url(&f->srv, f->url, sizeof f->url, "/status/500/blob.bin");
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  assert_non_null(strstr(fic_last_error_message(), "HTTP 500"));
  assert_non_null(strstr(fic_last_error_message(), f->url));
  assert_non_null(strstr(fic_last_error_message(), "3 attempts"));
  assert_int_equal(dl_count(&f->srv, "/status/500/blob.bin"), 3);
  assert_false(dl_exists(f->dest));
}

static void test_download_default_tries_and_backoff(void **state) {
  fx *f = *state;
  unsetenv("FLASHINFER_C_DOWNLOAD_RETRIES");
  setenv("FLASHINFER_C_DOWNLOAD_BACKOFF_MS", "20", 1); /* 20 + 40 + 80 ms */
  dl_url(&f->srv, f->url, sizeof f->url, "/status/503/blob.bin");
  double t0 = dl_now();
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  double dt = dl_now() - t0;
  assert_int_equal(dl_count(&f->srv, "/status/503/"), 4);
  assert_true(dt >= 0.14);
  assert_true(dt < 10.0);
}

static void test_download_flaky_recovers(void **state) {
  fx *f = *state;
  dl_url(&f->srv, f->url, sizeof f->url, "/flaky/2/blob.bin");
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_int_equal(dl_count(&f->srv, "/flaky/2/blob.bin"), 3);
}

static void test_download_redirect(void **state) {
  fx *f = *state;
  dl_url(&f->srv, f->url, sizeof f->url, "/redirect/blob.bin");
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_int_equal(dl_count(&f->srv, "GET /blob.bin"), 1);
}

static void test_download_slow_server_times_out(void **state) {
  fx *f = *state;
  setenv("FLASHINFER_C_DOWNLOAD_TIMEOUT_S", "1", 1);
  setenv("FLASHINFER_C_DOWNLOAD_RETRIES", "1", 1);
  dl_url(&f->srv, f->url, sizeof f->url, "/slow/blob.bin");
  double t0 = dl_now();
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  double dt = dl_now() - t0;
  assert_non_null(strstr(fic_last_error_message(), "timed out"));
  assert_true(dt >= 1.0);
  assert_true(dt < 15.0);
  /* Try 1 stalls after 1000 bytes; try 2 resumes from them (Range), the slow
   * path ignores ranges, so it starts over from zero and stalls again. */
  assert_int_equal(dl_count(&f->srv, "GET /slow/blob.bin range=bytes=1000-"), 1);
  assert_int_equal(dl_count(&f->srv, "GET /slow/blob.bin range=-"), 2);
  assert_int_equal(dl_count(&f->srv, NULL), 3);
  assert_false(dl_exists(f->dest));
}

static void test_download_no_response_times_out(void **state) {
  fx *f = *state;
  setenv("FLASHINFER_C_DOWNLOAD_TIMEOUT_S", "1", 1);
  setenv("FLASHINFER_C_DOWNLOAD_RETRIES", "0", 1);
  dl_url(&f->srv, f->url, sizeof f->url, "/hang/blob.bin");
  double t0 = dl_now();
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  double dt = dl_now() - t0;
  assert_non_null(strstr(fic_last_error_message(), "timed out"));
  assert_non_null(strstr(fic_last_error_message(), "1 attempt)"));
  assert_true(dt < 10.0);
  assert_int_equal(dl_count(&f->srv, "/hang/blob.bin"), 1);
}

static void test_download_connection_refused(void **state) {
  fx *f = *state;
  /* A port that was free a moment ago. */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof a), 0);
  socklen_t len = sizeof a;
  assert_int_equal(getsockname(s, (struct sockaddr *)&a, &len), 0);
  close(s);
  char url[256];
  snprintf(url, sizeof url, "http://127.0.0.1:%d/blob.bin", ntohs(a.sin_port));
  setenv("FLASHINFER_C_DOWNLOAD_RETRIES", "1", 1);
  FIC_ASSERT_STATUS(fic__download(url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  assert_non_null(strstr(fic_last_error_message(), url));
  assert_non_null(strstr(fic_last_error_message(), "2 attempts"));
  assert_false(dl_exists(f->dest));
}

typedef struct prog {
  int calls;
  uint64_t last_done, last_total, max_total;
  int decreasing;
  int bad_what;
  uint64_t abort_after; /* abort once done > this (0: never) */
  int calls_after_abort;
  int aborted;
} prog;

static int on_progress(void *user, const char *what, uint64_t done, uint64_t total) {
  prog *p = user;
  if (p->aborted) p->calls_after_abort++;
  if (!what || strcmp(what, "blob") != 0) p->bad_what = 1;
  if (p->calls && done < p->last_done) p->decreasing = 1;
  p->calls++;
  p->last_done = done;
  p->last_total = total;
  if (total > p->max_total) p->max_total = total;
  if (p->abort_after && done > p->abort_after) {
    p->aborted = 1;
    return 1;
  }
  return 0;
}

static void test_download_progress(void **state) {
  fx *f = *state;
  prog p;
  memset(&p, 0, sizeof p);
  dl_url(&f->srv, f->url, sizeof f->url, "/chunked/blob.bin");
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", on_progress, &p));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_true(p.calls >= 3);
  assert_false(p.decreasing);
  assert_false(p.bad_what);
  assert_int_equal(p.last_done, BLOB_SIZE);
  assert_int_equal(p.last_total, BLOB_SIZE);
  assert_int_equal(p.max_total, BLOB_SIZE);
}

static void test_download_progress_resumed_counts_prefix(void **state) {
  fx *f = *state;
  make_parent(f);
  dl_write(f->part, f->blob, 2000000);
  prog p;
  memset(&p, 0, sizeof p);
  dl_url(&f->srv, f->url, sizeof f->url, "/chunked/blob.bin");
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", on_progress, &p));
  assert_int_equal(dl_count(&f->srv, "range=bytes=2000000-"), 1);
  assert_false(p.decreasing);
  assert_int_equal(p.last_done, BLOB_SIZE);
  assert_int_equal(p.max_total, BLOB_SIZE); /* total = prefix + rest, not just the rest */
}

static void test_download_progress_abort(void **state) {
  fx *f = *state;
  prog p;
  memset(&p, 0, sizeof p);
  p.abort_after = 100000;
  dl_url(&f->srv, f->url, sizeof f->url, "/chunked/blob.bin");
  double t0 = dl_now();
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", on_progress, &p), FIC_ERR_NETWORK);
  assert_true(dl_now() - t0 < 5.0);
  assert_non_null(strstr(fic_last_error_message(), "aborted by the progress callback"));
  assert_true(p.aborted);
  assert_int_equal(p.calls_after_abort, 0);
  assert_false(dl_exists(f->dest));
  assert_int_equal(dl_count(&f->srv, NULL), 1); /* an abort is not retried */
}

static void test_download_existing_dest_reused(void **state) {
  fx *f = *state;
  make_parent(f);
  dl_write(f->dest, f->blob, BLOB_SIZE);
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_int_equal(dl_count(&f->srv, NULL), 0);
  assert_false(dl_exists(f->part));
}

static void test_download_existing_dest_wrong_replaced(void **state) {
  fx *f = *state;
  make_parent(f);
  dl_write_str(f->dest, "not the file");
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_int_equal(dl_count(&f->srv, NULL), 1);
}

typedef struct thr_arg {
  fx *f;
  fic_status st;
  char msg[512];
} thr_arg;

static void *thr_download(void *arg) {
  thr_arg *a = arg;
  a->st = fic__download(a->f->url, a->f->dest, a->f->sha, "blob", NULL, NULL);
  snprintf(a->msg, sizeof a->msg, "%s", fic_last_error_message());
  return NULL;
}

static void test_download_concurrent_same_dest(void **state) {
  fx *f = *state;
  dl_url(&f->srv, f->url, sizeof f->url, "/chunked/blob.bin");
  pthread_t t[3];
  thr_arg a[3];
  for (int i = 0; i < 3; i++) {
    memset(&a[i], 0, sizeof a[i]);
    a[i].f = f;
    assert_int_equal(pthread_create(&t[i], NULL, thr_download, &a[i]), 0);
  }
  for (int i = 0; i < 3; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 3; i++)
    if (a[i].st != FIC_OK) fail_msg("thread %d: %s: %s", i, fic_status_string(a[i].st), a[i].msg);
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_false(dl_exists(f->part));
  /* One downloaded; the others waited for the lock and found it published. */
  assert_int_equal(dl_count(&f->srv, NULL), 1);
}

static void test_download_lock_timeout_keeps_others_part(void **state) {
  fx *f = *state;
  make_parent(f);
  dl_write_str(f->part, "in progress elsewhere");
  int fd = open(f->part, O_RDWR);
  assert_true(fd >= 0);
  assert_int_equal(flock(fd, LOCK_EX), 0);
  setenv("FLASHINFER_C_DOWNLOAD_LOCK_TIMEOUT_S", "1", 1);
  double t0 = dl_now();
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_LOCK_TIMEOUT);
  assert_true(dl_now() - t0 >= 0.9);
  close(fd);
  assert_true(dl_file_equals(f->part, "in progress elsewhere", 21));
  assert_false(dl_exists(f->dest));
  assert_int_equal(dl_count(&f->srv, NULL), 0);
}

static void test_download_proxy_env_honoured(void **state) {
  fx *f = *state;
  char proxy[128];
  snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", f->srv.port);
  unsetenv("no_proxy");
  unsetenv("NO_PROXY");
  setenv("http_proxy", proxy, 1);
  /* .invalid never resolves: only the proxy can answer. */
  FIC_ASSERT_OK(fic__download("http://fic-proxy-test.invalid/blob.bin", f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_int_equal(dl_count(&f->srv, "GET http://fic-proxy-test.invalid/blob.bin"), 1);
}

static void test_download_no_proxy_honoured(void **state) {
  fx *f = *state;
  setenv("http_proxy", "http://127.0.0.1:1", 1); /* would fail if used */
  setenv("no_proxy", "127.0.0.1", 1);
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
}

static void test_download_invalid_arguments(void **state) {
  fx *f = *state;
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, "abc", "blob", NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__download(NULL, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__download(f->url, NULL, f->sha, "blob", NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  setenv("FLASHINFER_C_DOWNLOAD_RETRIES", "many", 1);
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_INVALID_ARGUMENT);
  assert_non_null(strstr(fic_last_error_message(), "FLASHINFER_C_DOWNLOAD_RETRIES"));
  assert_int_equal(dl_count(&f->srv, NULL), 0);
}

static void test_download_unsupported_scheme(void **state) {
  fx *f = *state;
  char url[4200];
  snprintf(url, sizeof url, "file://%s/blob.bin", f->srv.root);
  FIC_ASSERT_STATUS(fic__download(url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  assert_false(dl_exists(f->dest));
}

/* ---- issue #10: integrity of the download path ---------------------------- */

/* A symlink planted at <dest>.part must not have its target truncated and
 * overwritten: the download refuses to write through it. */
static void test_download_part_symlink_refused(void **state) {
  fx *f = *state;
  make_parent(f);
  char victim[4200];
  snprintf(victim, sizeof victim, "%s/victim", f->tmp);
  dl_write_str(victim, "precious");
  assert_int_equal(symlink(victim, f->part), 0);
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_IO);
  assert_non_null(strstr(fic_last_error_message(), "symbolic link"));
  assert_true(dl_file_equals(victim, "precious", 8));
  assert_false(dl_exists(f->dest));
  /* Nor anything that is not a regular file (a FIFO would block the open). */
  assert_int_equal(unlink(f->part), 0);
  assert_int_equal(mkfifo(f->part, 0644), 0);
  FIC_ASSERT_STATUS(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_IO);
  assert_non_null(strstr(fic_last_error_message(), "not a regular file"));
}

/* A transfer that starts on https never follows a redirect to plain http;
 * http may be upgraded to https. Needs the openssl tool for a loopback
 * https server (skipped otherwise). */
static void test_download_https_to_http_redirect_refused(void **state) {
  fx *f = *state;
  const char *pem = dl_self_signed();
  if (!pem) skip();
  assert_string_equal(fic__redirect_protocols("https://h/x"), "https");
  assert_string_equal(fic__redirect_protocols("HTTPS://h/x"), "https");
  assert_string_equal(fic__redirect_protocols("http://h/x"), "http,https");
  dl_server tls;
  dl_server_start_tls(&tls, pem, NULL);
  char p[4300], url[4300];
  snprintf(p, sizeof p, "%s/blob.bin", tls.root);
  dl_write(p, f->blob, BLOB_SIZE);
  fic_tls_opts opts = {pem, NULL, NULL};
  /* https -> http: refused, and the http server never asked. */
  dl_url(&tls, url, sizeof url, "/goto/http/%d/blob.bin", f->srv.port);
  FIC_ASSERT_STATUS(fic__download_ex(url, &opts, f->dest, f->sha, "blob", NULL, NULL, NULL), FIC_ERR_NETWORK);
  assert_int_equal(dl_count(&f->srv, "blob.bin"), 0);
  assert_false(dl_exists(f->dest));
  /* The same server without the redirect works (the refusal is the redirect's). */
  dl_url(&tls, url, sizeof url, "/blob.bin");
  FIC_ASSERT_OK(fic__download_ex(url, &opts, f->dest, f->sha, "blob", NULL, NULL, NULL));
  assert_int_equal(unlink(f->dest), 0);
  /* http -> https: followed. */
  dl_url(&f->srv, url, sizeof url, "/goto/https/%d/blob.bin", tls.port);
  FIC_ASSERT_OK(fic__download_ex(url, &opts, f->dest, f->sha, "blob", NULL, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  dl_server_stop(&tls);
}

/* Credentials in a URL never reach a message. */
static void test_download_messages_hide_credentials(void **state) {
  fx *f = *state;
  char url[4300];
  snprintf(url, sizeof url, "http://user:secret@127.0.0.1:%d/status/404/blob.bin", f->srv.port);
  FIC_ASSERT_STATUS(fic__download(url, f->dest, f->sha, "blob", NULL, NULL), FIC_ERR_NETWORK);
  assert_null(strstr(fic_last_error_message(), "secret"));
  assert_non_null(strstr(fic_last_error_message(), "***@127.0.0.1"));
  char *body = NULL;
  FIC_ASSERT_STATUS(fic__http_get(url, NULL, 1024, &body, NULL, NULL, 0), FIC_ERR_NETWORK);
  assert_null(strstr(fic_last_error_message(), "secret"));
  static const char *const forms[][2] = {{"https://u:secret@h/p", "https://***@h/p"},
                                         {"//u:secret@h/p", "//***@h/p"},
                                         {"u:secret@h/p", "***@h/p"},
                                         {"https://h/p?x=a@b", "https://h/p?x=a@b"}};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    fic__url_redact(forms[i][0], url, sizeof url);
    assert_string_equal(url, forms[i][1]);
  }
}

/* A successful download leaves the thread's error record alone (here: one
 * that had to replace a wrong file already at dest). */
static void test_download_success_keeps_error_record(void **state) {
  fx *f = *state;
  make_parent(f);
  dl_write_str(f->dest, "not the file");
  assert_int_equal(fic__fail(FIC_ERR_IO, "an earlier failure"), FIC_ERR_IO);
  FIC_ASSERT_OK(fic__download(f->url, f->dest, f->sha, "blob", NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->blob, BLOB_SIZE));
  assert_int_equal(fic_last_error_status(), FIC_ERR_IO);
  assert_string_equal(fic_last_error_message(), "an earlier failure");
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_download_ok),
      T(test_download_uppercase_sha_accepted),
      T(test_download_wrong_sha),
      T(test_download_resume),
      T(test_download_resume_stale_prefix_restarts),
      T(test_download_server_ignores_range),
      T(test_download_part_longer_than_file),
      T(test_download_http_404_not_retried),
      T(test_download_http_500_retried),
      T(test_download_default_tries_and_backoff),
      T(test_download_flaky_recovers),
      T(test_download_redirect),
      T(test_download_slow_server_times_out),
      T(test_download_no_response_times_out),
      T(test_download_connection_refused),
      T(test_download_progress),
      T(test_download_progress_resumed_counts_prefix),
      T(test_download_progress_abort),
      T(test_download_existing_dest_reused),
      T(test_download_existing_dest_wrong_replaced),
      T(test_download_concurrent_same_dest),
      T(test_download_lock_timeout_keeps_others_part),
      T(test_download_proxy_env_honoured),
      T(test_download_no_proxy_honoured),
      T(test_download_invalid_arguments),
      T(test_download_unsupported_scheme),
      T(test_download_part_symlink_refused),
      T(test_download_https_to_http_redirect_refused),
      T(test_download_messages_hide_credentials),
      T(test_download_success_keeps_error_record),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
