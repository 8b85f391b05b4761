/* SPDX-License-Identifier: Apache-2.0 */
#include "dl_support.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double dl_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void server_start(dl_server *s, const char *pem, const char *client_ca) {
  memset(s, 0, sizeof *s);
  s->tls = pem != NULL;
  s->dir = fic_test_mkdtemp("dlsrv");
  snprintf(s->root, sizeof s->root, "%s/root", s->dir);
  snprintf(s->log, sizeof s->log, "%s/server.log", s->dir);
  assert_int_equal(mkdir(s->root, 0755), 0);
  char portfile[4200], script[4200];
  snprintf(portfile, sizeof portfile, "%s/port", s->dir);
  snprintf(script, sizeof script, "%s/download/http_server.py", fic_test_env("FIC_TEST_SOURCE_DIR"));
  const char *python = fic_test_env("FIC_TEST_PYTHON");
  pid_t parent = getpid();
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);
    if (pem) setenv("FIC_TEST_TLS_PEM", pem, 1);
    if (client_ca) setenv("FIC_TEST_TLS_CLIENT_CA", client_ca, 1);
    execl(python, python, script, s->root, s->log, portfile, "120", (char *)NULL);
    _exit(127);
  }
  s->pid = pid;
  double deadline = dl_now() + 15;
  while (dl_now() < deadline) {
    FILE *f = fopen(portfile, "r");
    if (f) {
      int port = 0;
      if (fscanf(f, "%d", &port) == 1 && port > 0) s->port = port;
      fclose(f);
      if (s->port) return;
    }
    int status;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      s->pid = 0;
      fail_msg("the test HTTP server exited early (status %d)", status);
    }
    usleep(20000);
  }
  fail_msg("the test HTTP server did not start within 15 s");
}

void dl_server_start(dl_server *s) { server_start(s, NULL, NULL); }
void dl_server_start_tls(dl_server *s, const char *pem, const char *client_ca) { server_start(s, pem, client_ca); }

const char *dl_self_signed(void) {
  static char pem[4200];
  if (pem[0]) return pem;
  static char *dir;
  if (!dir) dir = fic_test_mkdtemp("dltls");
  snprintf(pem, sizeof pem, "%s/server.pem", dir);
  if (fic_test_sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                  "-addext subjectAltName=IP:127.0.0.1 -keyout '%s/key.pem' -out '%s/cert.pem' >/dev/null 2>&1 && "
                  "cat '%s/cert.pem' '%s/key.pem' > '%s'",
                  dir, dir, dir, dir, pem) != 0) {
    print_message("cannot make a self-signed certificate with the openssl tool\n");
    pem[0] = '\0';
    return NULL;
  }
  return pem;
}

void dl_server_stop(dl_server *s) {
  if (s->pid > 0) {
    kill(s->pid, SIGKILL);
    while (waitpid(s->pid, NULL, 0) < 0 && errno == EINTR) {
    }
    s->pid = 0;
  }
  if (s->dir) {
    fic_test_rmtree(s->dir);
    free(s->dir);
    s->dir = NULL;
  }
}

void dl_url(const dl_server *s, char *out, size_t size, const char *fmt, ...) {
  int n = snprintf(out, size, "%s://127.0.0.1:%d", s->tls ? "https" : "http", s->port);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(out + n, size - (size_t)n, fmt, ap);
  va_end(ap);
}

char *dl_log(const dl_server *s) {
  FILE *f = fopen(s->log, "r");
  if (!f) return strdup("");
  char *buf = NULL;
  size_t len = 0;
  FILE *m = open_memstream(&buf, &len);
  char line[8192];
  while (fgets(line, sizeof line, f)) fputs(line, m);
  fclose(m);
  fclose(f);
  return buf;
}

int dl_count(const dl_server *s, const char *needle) {
  FILE *f = fopen(s->log, "r");
  if (!f) return 0;
  int n = 0;
  char line[8192];
  while (fgets(line, sizeof line, f))
    if (!needle || strstr(line, needle)) n++;
  fclose(f);
  return n;
}

void dl_env_reset(void) {
  static const char *const unset[] = {"http_proxy",
                                      "https_proxy",
                                      "HTTP_PROXY",
                                      "HTTPS_PROXY",
                                      "all_proxy",
                                      "ALL_PROXY",
                                      "PIP_INDEX_URL",
                                      "PIP_CERT",
                                      "PIP_CLIENT_CERT",
                                      "PIP_TRUSTED_HOST",
                                      "XDG_CONFIG_DIRS",
                                      "VIRTUAL_ENV",
                                      "FLASHINFER_C_PYTHON",
                                      "FLASHINFER_C_DOWNLOAD_RETRIES",
                                      "FLASHINFER_C_DOWNLOAD_TIMEOUT_S",
                                      "FLASHINFER_C_DOWNLOAD_LOCK_TIMEOUT_S"};
  for (size_t i = 0; i < sizeof unset / sizeof unset[0]; i++) unsetenv(unset[i]);
  setenv("no_proxy", "127.0.0.1,localhost", 1);
  setenv("NO_PROXY", "127.0.0.1,localhost", 1);
  setenv("PIP_CONFIG_FILE", "/dev/null", 1);
  setenv("FLASHINFER_C_DOWNLOAD_BACKOFF_MS", "1", 1);
  fic_clear_error();
}

unsigned char *dl_random(size_t n, unsigned seed) {
  unsigned char *p = malloc(n ? n : 1);
  assert_non_null(p);
  unsigned x = seed * 2654435761u + 12345u;
  for (size_t i = 0; i < n; i++) {
    x = x * 1103515245u + 12345u;
    p[i] = (unsigned char)(x >> 16);
  }
  return p;
}

void dl_write(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(data, 1, n, f), n);
  assert_int_equal(fclose(f), 0);
}

void dl_write_str(const char *path, const char *text) { dl_write(path, text, strlen(text)); }

void dl_sha256_hex(const void *data, size_t n, char out[65]) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  assert_int_equal(EVP_Digest(data, n, md, &len, EVP_sha256(), NULL), 1);
  for (unsigned i = 0; i < len; i++) sprintf(out + 2 * i, "%02x", md[i]);
  out[64] = '\0';
}

int dl_exists(const char *path) {
  struct stat sb;
  return stat(path, &sb) == 0;
}

int dl_file_equals(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "rb");
  if (!f) return 0;
  unsigned char *buf = malloc(n + 1);
  size_t got = fread(buf, 1, n + 1, f);
  fclose(f);
  int eq = got == n && memcmp(buf, data, n) == 0;
  free(buf);
  return eq;
}

void dl_fixture_open(dl_server *srv, char **tmp, const char *prefix, unsigned char **data, size_t size, unsigned seed,
                     char sha[65], const char *served) {
  dl_env_reset();
  dl_server_start(srv);
  *tmp = fic_test_mkdtemp(prefix);
  *data = dl_random(size, seed);
  dl_sha256_hex(*data, size, sha);
  char p[4300];
  snprintf(p, sizeof p, "%s/%s", srv->root, served);
  assert_int_equal(fic_test_sh("mkdir -p \"$(dirname '%s')\"", p), 0);
  dl_write(p, *data, size);
}

void dl_fixture_close(dl_server *srv, char *tmp, unsigned char *data) {
  dl_server_stop(srv);
  fic_test_rmtree(tmp);
  free(tmp);
  free(data);
}
