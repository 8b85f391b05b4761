/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the download tests: the local HTTP server (http_server.py) and
 * file utilities. */
#ifndef FIC_DL_SUPPORT_H
#define FIC_DL_SUPPORT_H

#include <stddef.h>
#include <sys/types.h>

#include "test_support.h"

typedef struct dl_server {
  pid_t pid;
  int port;
  int tls;
  char *dir;       /* temporary directory: root/, server.log, port */
  char root[4096]; /* files served */
  char log[4096];
} dl_server;

/* Start the server on 127.0.0.1 with a random free port; fails the test if it
 * does not come up within 15 s. It exits by itself after 120 s. */
void dl_server_start(dl_server *s);
/* The same speaking https with the certificate and key in `pem`
 * (dl_self_signed()); dl_url() then gives https:// URLs. With `client_ca`
 * (may be NULL) it demands a client certificate signed by that CA. */
void dl_server_start_tls(dl_server *s, const char *pem, const char *client_ca);
/* A self-signed certificate for 127.0.0.1 with its key, made once per
 * process with the openssl tool; NULL (after a message) when it cannot be. */
const char *dl_self_signed(void);
/* Kill it, reap it and remove its directory. */
void dl_server_stop(dl_server *s);
/* "http://127.0.0.1:<port>" + formatted path. */
void dl_url(const dl_server *s, char *out, size_t size, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Number of logged requests whose line contains `needle` (all if NULL). */
int dl_count(const dl_server *s, const char *needle);
/* The whole log, malloc'ed (free it). */
char *dl_log(const dl_server *s);

/* The start every download test shares: a clean environment (dl_env_reset),
 * the server, a temporary directory `*tmp` (named after `prefix`), and `size`
 * pseudo-random bytes from `seed` in `*data`, their SHA-256 in `sha`, served
 * as <server root>/<served> (its directories created). */
void dl_fixture_open(dl_server *srv, char **tmp, const char *prefix, unsigned char **data, size_t size, unsigned seed,
                     char sha[65], const char *served);
/* Stop the server, remove `tmp`, free both. */
void dl_fixture_close(dl_server *srv, char *tmp, unsigned char *data);

/* Test isolation: no proxies (except 127.0.0.1 bypass), no pip config, fast
 * backoff, default retries. */
void dl_env_reset(void);

unsigned char *dl_random(size_t n, unsigned seed);
void dl_write(const char *path, const void *data, size_t n);
void dl_write_str(const char *path, const char *text);
void dl_sha256_hex(const void *data, size_t n, char out[65]);
int dl_exists(const char *path);
/* 1 if the file at path holds exactly data[0..n). */
int dl_file_equals(const char *path, const void *data, size_t n);
double dl_now(void);

#endif
