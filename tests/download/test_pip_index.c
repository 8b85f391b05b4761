/* SPDX-License-Identifier: Apache-2.0 */
/* Python package index resolution: the pip configuration, PEP 503 pages
 * (parsing, relative links, sha256 fragments), the pip download fallback
 * (with a fake interpreter) and URL helpers. Local servers only. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/pinned.h"
#include "artifacts/pip_index.h"
#include "common/error.h"
#include "dl_support.h"

#define TVM_FILE "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
#define WHEEL_SIZE ((size_t)300000)

typedef struct fx {
  dl_server srv;
  char *tmp;
  unsigned char *wheel;
  char sha[65];
  char dest[4096];
  fic_pinned_wheel w;
} fx;

static void write_index(fx *f, const char *fragment_sha) {
  char dir[4200], path[4300], html[8192];
  snprintf(dir, sizeof dir, "%s/simple/apache-tvm-ffi", f->srv.root);
  assert_int_equal(fic_test_sh("mkdir -p '%s'", dir), 0);
  snprintf(path, sizeof path, "%s/index.html", dir);
  snprintf(html, sizeof html,
           "<!DOCTYPE html>\n<html><head><title>Links for apache-tvm-ffi</title></head><body>\n"
           "<h1>Links for apache-tvm-ffi</h1>\n"
           "<a href=\"../../packages/xx/apache_tvm_ffi-0.1.2-cp310-cp310-manylinux_2_28_x86_64.whl#sha256=%s\">"
           "apache_tvm_ffi-0.1.2-cp310-cp310-manylinux_2_28_x86_64.whl</a><br />\n"
           "<a href=\"../../packages/ab/cd/" TVM_FILE ".metadata\">" TVM_FILE
           ".metadata</a><br />\n"
           "<a href=\"../../packages/ab/cd/" TVM_FILE "#sha256=%s\" data-requires-python=\"&gt;=3.9\" >" TVM_FILE
           "</a><br />\n</body></html>\n",
           f->sha, fragment_sha);
  dl_write_str(path, html);
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  dl_fixture_open(&f->srv, &f->tmp, "pipidx", &f->wheel, WHEEL_SIZE, 42, f->sha, "packages/ab/cd/" TVM_FILE);
  setenv("HOME", f->tmp, 1);
  unsetenv("XDG_CONFIG_HOME");
  snprintf(f->dest, sizeof f->dest, "%s/wheels/%s-%s", f->tmp, f->sha, TVM_FILE);
  f->w.kind = FIC_WHEEL_TVMFFI;
  f->w.arch = "x86_64";
  f->w.project = "apache-tvm-ffi";
  f->w.version = "0.1.3";
  f->w.filename = TVM_FILE;
  f->w.sha256 = f->sha;
  f->w.base_urls = NULL;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  dl_fixture_close(&f->srv, f->tmp, f->wheel);
  free(f);
  return 0;
}

/* ---- resolution through a configured index -------------------------------- */

static void test_index_via_pip_index_url(void **state) {
  fx *f = *state;
  write_index(f, f->sha);
  char idx[256];
  dl_url(&f->srv, idx, sizeof idx, "/simple"); /* no trailing slash: one is added */
  setenv("PIP_INDEX_URL", idx, 1);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->wheel, WHEEL_SIZE));
  assert_int_equal(dl_count(&f->srv, "GET /simple/apache-tvm-ffi/ "), 1);
  assert_int_equal(dl_count(&f->srv, "GET /packages/ab/cd/" TVM_FILE " "), 1);
  assert_int_equal(dl_count(&f->srv, NULL), 2);
}

static void test_index_via_pip_config_file(void **state) {
  fx *f = *state;
  write_index(f, f->sha);
  char conf[4200], text[512], idx[256];
  dl_url(&f->srv, idx, sizeof idx, "/simple/");
  snprintf(conf, sizeof conf, "%s/my-pip.conf", f->tmp);
  snprintf(text, sizeof text, "# test\n[global]\ntimeout = 60\nindex-url = %s\nextra-index-url = http://127.0.0.1:1/\n",
           idx);
  dl_write_str(conf, text);
  setenv("PIP_CONFIG_FILE", conf, 1);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->wheel, WHEEL_SIZE));
  assert_int_equal(dl_count(&f->srv, "GET /simple/apache-tvm-ffi/ "), 1);
  assert_int_equal(dl_count(&f->srv, "GET /packages/ab/cd/" TVM_FILE " "), 1);
}

static void test_index_sha_fragment_mismatch_rejected(void **state) {
  fx *f = *state;
  const char *other = "1111111111111111111111111111111111111111111111111111111111111111";
  write_index(f, other);
  char idx[256];
  dl_url(&f->srv, idx, sizeof idx, "/simple/");
  setenv("PIP_INDEX_URL", idx, 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_CHECKSUM);
  assert_non_null(strstr(fic_last_error_message(), other));
  assert_non_null(strstr(fic_last_error_message(), f->sha));
  assert_int_equal(dl_count(&f->srv, "/packages/"), 0); /* the wheel was never requested */
  assert_false(dl_exists(f->dest));
}

static void test_index_sha_fragment_mismatch_via_config_file(void **state) {
  fx *f = *state;
  write_index(f, "2222222222222222222222222222222222222222222222222222222222222222");
  char conf[4200], text[512], idx[256];
  dl_url(&f->srv, idx, sizeof idx, "/simple/");
  snprintf(conf, sizeof conf, "%s/pip.conf", f->tmp);
  snprintf(text, sizeof text, "[global]\nindex-url=%s\n", idx);
  dl_write_str(conf, text);
  setenv("PIP_CONFIG_FILE", conf, 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_CHECKSUM);
  assert_int_equal(dl_count(&f->srv, "/packages/"), 0);
  assert_false(dl_exists(f->dest));
}

static void test_index_served_file_wrong_content(void **state) {
  fx *f = *state;
  write_index(f, f->sha);
  char p[4300];
  snprintf(p, sizeof p, "%s/packages/ab/cd/%s", f->srv.root, TVM_FILE);
  dl_write_str(p, "tampered");
  char idx[256];
  dl_url(&f->srv, idx, sizeof idx, "/simple/");
  setenv("PIP_INDEX_URL", idx, 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_CHECKSUM);
  assert_false(dl_exists(f->dest));
  char part[4200];
  snprintf(part, sizeof part, "%s.part", f->dest);
  assert_false(dl_exists(part));
}

static void test_index_missing_link(void **state) {
  fx *f = *state;
  write_index(f, f->sha);
  f->w.filename = "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_28_riscv64.whl";
  char idx[256];
  dl_url(&f->srv, idx, sizeof idx, "/simple/");
  setenv("PIP_INDEX_URL", idx, 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NOT_FOUND);
  assert_non_null(strstr(fic_last_error_message(), "riscv64"));
  assert_non_null(strstr(fic_last_error_message(), "PIP_INDEX_URL"));
}

static void test_index_project_page_404(void **state) {
  fx *f = *state;
  char idx[256];
  dl_url(&f->srv, idx, sizeof idx, "/nothing-here/");
  setenv("PIP_INDEX_URL", idx, 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NETWORK);
  assert_non_null(strstr(fic_last_error_message(), "HTTP 404"));
  assert_int_equal(dl_count(&f->srv, "GET /nothing-here/apache-tvm-ffi/ "), 1);
}

/* ---- the pip configuration ------------------------------------------------ */

static void conf_at(const char *path, const char *text) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s", path);
  *strrchr(dir, '/') = '\0';
  assert_int_equal(fic_test_sh("mkdir -p '%s'", dir), 0);
  dl_write_str(path, text);
}

/* Write `text` to <tmp>/<rel>, then the configured index must be `want`,
 * from a file whose path contains `origin_part` (NULL: not checked). */
static void conf_expect(const fx *f, const char *rel, const char *text, const char *want, const char *origin_part) {
  char p[4300], out[1024], origin[4300];
  snprintf(p, sizeof p, "%s/%s", f->tmp, rel);
  conf_at(p, text);
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, want);
  if (origin_part && !strstr(origin, origin_part)) fail_msg("origin %s does not name %s", origin, origin_part);
}

static void test_pip_config_precedence(void **state) {
  fx *f = *state;
  char out[1024], origin[4300], p[4200];
  unsetenv("PIP_CONFIG_FILE");

  /* Legacy user file. */
  conf_expect(f, ".pip/pip.conf", "[global]\nindex-url = http://legacy.example/simple\n",
              "http://legacy.example/simple", ".pip/pip.conf");
  /* ~/.config/pip/pip.conf beats the legacy file. */
  conf_expect(f, ".config/pip/pip.conf", "[global]\nindex_url: http://user.example/simple\n",
              "http://user.example/simple", NULL);
  /* XDG_CONFIG_HOME replaces ~/.config. */
  snprintf(p, sizeof p, "%s/xdg", f->tmp);
  setenv("XDG_CONFIG_HOME", p, 1);
  conf_expect(f, "xdg/pip/pip.conf", "[global]\nINDEX-URL =\n    http://xdg.example/simple\n",
              "http://xdg.example/simple", NULL);

  /* [download] of a lower-priority file beats [global] of a higher one, as
   * in pip (the command section overrides global across all files). */
  snprintf(p, sizeof p, "%s/.pip/pip.conf", f->tmp);
  conf_at(p, "[download]\nindex-url = http://download.example/simple\n[install]\nindex-url = http://no/\n");
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "http://download.example/simple");
  assert_non_null(strstr(origin, "[download]"));

  /* PIP_CONFIG_FILE, when it exists, wins and hides the user files. */
  snprintf(p, sizeof p, "%s/env.conf", f->tmp);
  conf_at(p, "[global]\nindex-url = http://env-file.example/simple\n");
  setenv("PIP_CONFIG_FILE", p, 1);
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "http://env-file.example/simple");
  assert_non_null(strstr(origin, "env.conf"));

  /* Old Mac (CR-only) and Windows (CRLF) line endings read as pip reads them. */
  conf_at(p, "[global]\rindex-url = http://cr.example/simple\r");
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "http://cr.example/simple");
  conf_at(p, "[global]\r\nindex-url =\r\n    http://crlf.example/simple\r\n");
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "http://crlf.example/simple");

  /* PIP_INDEX_URL beats every file. */
  setenv("PIP_INDEX_URL", "http://env.example/simple", 1);
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "http://env.example/simple");
  assert_string_equal(origin, "PIP_INDEX_URL");

  /* PIP_CONFIG_FILE=/dev/null: no files at all. */
  unsetenv("PIP_INDEX_URL");
  setenv("PIP_CONFIG_FILE", "/dev/null", 1);
  FIC_ASSERT_STATUS(fic__pip_index_url(out, sizeof out, origin, sizeof origin), FIC_ERR_NOT_FOUND);
}

/* pip's load order (configuration.py): every XDG_CONFIG_DIRS entry in order
 * (a later one overriding an earlier one), then /etc, the user files, the
 * virtualenv's, PIP_CONFIG_FILE. Before issue #10 the first XDG entry won. */
static void test_pip_config_xdg_dirs_order(void **state) {
  fx *f = *state;
  char p[4200], dirs[8600];
  unsetenv("PIP_CONFIG_FILE");
  snprintf(dirs, sizeof dirs, "%s/sys1:%s/sys2", f->tmp, f->tmp);
  setenv("XDG_CONFIG_DIRS", dirs, 1);
  conf_expect(f, "sys1/pip/pip.conf", "[global]\nindex-url = http://first.example/simple\n",
              "http://first.example/simple", "sys1/pip/pip.conf");
  conf_expect(f, "sys2/pip/pip.conf", "[global]\nindex-url = http://second.example/simple\n",
              "http://second.example/simple", "sys2/pip/pip.conf");
  /* The user file overrides every global one; the virtualenv's the user's. */
  conf_expect(f, ".config/pip/pip.conf", "[global]\nindex-url = http://user.example/simple\n",
              "http://user.example/simple", NULL);
  snprintf(p, sizeof p, "%s/venv", f->tmp);
  setenv("VIRTUAL_ENV", p, 1);
  conf_expect(f, "venv/pip.conf", "[global]\nindex-url = http://venv.example/simple\n", "http://venv.example/simple",
              NULL);
  unsetenv("VIRTUAL_ENV");
}

/* cert, client-cert and trusted-host are read like index-url: files in
 * pip's order, [download] over [global], PIP_* variables over files. */
static void test_pip_config_tls_settings(void **state) {
  fx *f = *state;
  char p[4200];
  fic_pip_settings ps;
  snprintf(p, sizeof p, "%s/pip.conf", f->tmp);
  conf_at(p,
          "[global]\ncert = /etc/ca.pem\nclient_cert = /home/me/client.pem\n"
          "trusted-host = a.example\n    b.example:8443\n[download]\ncert = /etc/download-ca.pem\n");
  setenv("PIP_CONFIG_FILE", p, 1);
  FIC_ASSERT_OK(fic__pip_settings(&ps));
  assert_string_equal(ps.cert, "/etc/download-ca.pem");
  assert_string_equal(ps.client_cert, "/home/me/client.pem");
  assert_string_equal(ps.trusted_hosts, "a.example b.example:8443");
  assert_string_equal(ps.index_url, "");
  assert_true(fic__host_trusted(ps.trusted_hosts, "https://a.example/simple/"));
  assert_true(fic__host_trusted(ps.trusted_hosts, "https://A.EXAMPLE:444/x"));
  assert_true(fic__host_trusted(ps.trusted_hosts, "https://u:pw@b.example:8443/x"));
  assert_false(fic__host_trusted(ps.trusted_hosts, "https://b.example/x"));
  assert_false(fic__host_trusted(ps.trusted_hosts, "https://c.example/x"));
  assert_false(fic__host_trusted(ps.trusted_hosts, "https://a.example.evil/x"));
  setenv("PIP_CERT", "/env/ca.pem", 1);
  setenv("PIP_TRUSTED_HOST", "env.example", 1);
  FIC_ASSERT_OK(fic__pip_settings(&ps));
  assert_string_equal(ps.cert, "/env/ca.pem");
  assert_string_equal(ps.trusted_hosts, "env.example");
  unsetenv("PIP_CERT");
  unsetenv("PIP_TRUSTED_HOST");
}

/* An https index: verified with pip's `cert` (CURLOPT_CAINFO), refused
 * without it, accepted unverified for a `trusted-host` only. */
/* Serve the index and the wheel of `f` over https (certificate `pem`),
 * demanding a client certificate signed by `client_ca` if not NULL. */
static void start_tls_index(fx *f, dl_server *tls, const char *pem, const char *client_ca) {
  char idx[256];
  dl_server_start_tls(tls, pem, client_ca);
  assert_int_equal(fic_test_sh("cp -r '%s/.' '%s/'", f->srv.root, tls->root), 0);
  dl_server saved = f->srv;
  f->srv = *tls;
  write_index(f, f->sha);
  f->srv = saved;
  dl_url(tls, idx, sizeof idx, "/simple/");
  setenv("PIP_INDEX_URL", idx, 1);
}

static void test_index_https_cert_and_trusted_host(void **state) {
  fx *f = *state;
  const char *pem = dl_self_signed();
  if (!pem) skip();
  dl_server tls;
  char host[64];
  start_tls_index(f, &tls, pem, NULL);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NETWORK); /* unknown CA */
  setenv("PIP_CERT", pem, 1);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->wheel, WHEEL_SIZE));
  assert_int_equal(unlink(f->dest), 0);
  unsetenv("PIP_CERT");
  snprintf(host, sizeof host, "127.0.0.1:%d", tls.port + 1 == 65536 ? 1 : tls.port + 1);
  setenv("PIP_TRUSTED_HOST", host, 1); /* another port: not trusted */
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NETWORK);
  snprintf(host, sizeof host, "127.0.0.1:%d", tls.port);
  setenv("PIP_TRUSTED_HOST", host, 1);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->wheel, WHEEL_SIZE));
  unsetenv("PIP_TRUSTED_HOST");
  dl_server_stop(&tls);
}

/* pip's client-cert (certificate and key in one PEM file) is presented to an
 * index that demands one (CURLOPT_SSLCERT). */
static void test_index_https_client_cert(void **state) {
  fx *f = *state;
  const char *pem = dl_self_signed();
  if (!pem) skip();
  dl_server tls;
  start_tls_index(f, &tls, pem, pem);
  setenv("PIP_CERT", pem, 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NETWORK); /* no client certificate */
  setenv("PIP_CLIENT_CERT", pem, 1);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->wheel, WHEEL_SIZE));
  unsetenv("PIP_CERT");
  unsetenv("PIP_CLIENT_CERT");
  dl_server_stop(&tls);
}

/* Index credentials (user:token@) never reach a message. */
static void test_index_messages_hide_credentials(void **state) {
  (void)state;
  char out[256], big[6000];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  FIC_ASSERT_STATUS(fic__url_join("https://user:secret@h/simple/", big, out, sizeof out), FIC_ERR_INVALID_ARGUMENT);
  assert_null(strstr(fic_last_error_message(), "secret"));
  FIC_ASSERT_STATUS(fic__url_join("user:secret@h/simple/", "x", out, sizeof out), FIC_ERR_INVALID_ARGUMENT);
  assert_null(strstr(fic_last_error_message(), "secret"));
  FIC_ASSERT_STATUS(fic__url_join("https://h/simple/", "https://user:secret@o/x", out, 20), FIC_ERR_INVALID_ARGUMENT);
  assert_null(strstr(fic_last_error_message(), "secret"));
  char idx[300];
  snprintf(idx, sizeof idx, "https://user:secret@h/%.200s", big);
  FIC_ASSERT_STATUS(fic__pip_project_url(idx, "apache-tvm-ffi", out, 64), FIC_ERR_INVALID_ARGUMENT);
  assert_null(strstr(fic_last_error_message(), "secret"));
  FIC_ASSERT_STATUS(fic__index_find_link("", 0, "https://user:secret@h/simple/p/", "f.whl", NULL, out, sizeof out),
                    FIC_ERR_NOT_FOUND);
  assert_null(strstr(fic_last_error_message(), "secret"));
}

/* F23: a URL that is refused because it is malformed is quoted in the
 * message; its credentials are hidden however it looks (the fuzz_index
 * input "h/../://u:p@h:84": no valid scheme before "://", so redaction used
 * to take "h" as the authority and showed "u:p"). */
static void test_malformed_url_messages_hide_credentials(void **state) {
  (void)state;
  char out[256];
  static const char *const bad[] = {"h/../://u:secret@h:84", "x y://u:secret@h/simple/", " https://u:secret@h/",
                                    "u:secret@h/a://b/", "//u:secret@h/x://v:secret@g/"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    FIC_ASSERT_STATUS(fic__url_join(bad[i], "x", out, sizeof out), FIC_ERR_INVALID_ARGUMENT);
    if (strstr(fic_last_error_message(), "secret")) fail_msg("%s: %s", bad[i], fic_last_error_message());
    assert_non_null(strstr(fic_last_error_message(), "***@"));
  }
  static const char *const forms[][2] = {
      {"h/../://u:p@h:84", "h/../://***@h:84"},
      {"u:p@h/a://v:q@g/x", "***@h/a://***@g/x"},
      {"//u:p@h/x://v:q@g", "//***@h/x://***@g"},
      {"https://h/p?next=https://u:p@g/", "https://h/p?next=https://u:p@g/"}, /* the query: no userinfo */
  };
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    fic__url_redact(forms[i][0], out, sizeof out);
    assert_string_equal(out, forms[i][1]);
  }
}

/* F24: a pip.conf value is taken verbatim from one line, as pip's
 * configparser reads it, or refused with a message naming file, section
 * and key (never the value). The fuzz_pipconf input had NUL bytes inside
 * the index-url value and an indented next line: the value was cut at the
 * first NUL, then the next line appended with a space, giving a URL that
 * is nowhere in the file. */
static void pip_conf_refused(const char *path, const void *text, size_t n, const char *why) {
  char out[1024], origin[4300];
  dl_write(path, text, n);
  FIC_ASSERT_STATUS(fic__pip_index_url(out, sizeof out, origin, sizeof origin), FIC_ERR_INVALID_ARGUMENT);
  assert_string_equal(out, "");
  const char *msg = fic_last_error_message();
  if (!strstr(msg, path) || !strstr(msg, "[global] index-url") || !strstr(msg, why) || strstr(msg, "secret"))
    fail_msg("message \"%s\" (want %s, %s)", msg, path, why);
}

static void test_pip_config_values_verbatim(void **state) {
  fx *f = *state;
  char p[4200], out[1024], origin[4300];
  snprintf(p, sizeof p, "%s/pip.conf", f->tmp);
  setenv("PIP_CONFIG_FILE", p, 1);

  /* A NUL byte: pip keeps it in the value (no usable URL); we refused
   * nothing and took the text before it. */
  static const char nul[] = "[global]\nindex-url = https://u:secret@idx.example/simple\0/x\n";
  pip_conf_refused(p, nul, sizeof nul - 1, "NUL byte");
  /* A second line of index-url: pip's value holds the line break. */
  static const char two[] = "[global]\nindex-url = https://u:secret@idx.example/simple\n    more/\n";
  pip_conf_refused(p, two, sizeof two - 1, "second line");
  /* A line longer than 8191 bytes: cut (a different URL) before. */
  size_t n = 20000;
  char *big = malloc(n);
  int h = snprintf(big, n, "[global]\nindex-url = https://u:secret@idx.example/");
  memset(big + h, 'a', n - (size_t)h - 1);
  big[n - 1] = '\n';
  pip_conf_refused(p, big, n, "longer than 8191 bytes");
  free(big);

  /* A later file's value replaces a refused one, as in pip; a refused
   * value in a later file wins over a good one in an earlier file. */
  char sys[4300], dirs[4300];
  snprintf(dirs, sizeof dirs, "%s/sys", f->tmp);
  setenv("XDG_CONFIG_DIRS", dirs, 1);
  snprintf(sys, sizeof sys, "%s/sys/pip/pip.conf", f->tmp);
  conf_at(sys, "");
  dl_write(sys, nul, sizeof nul - 1);
  conf_at(p, "[global]\nindex-url = https://later.example/simple\n");
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "https://later.example/simple");
  conf_at(sys, "[global]\nindex-url = https://earlier.example/simple\n");
  pip_conf_refused(p, nul, sizeof nul - 1, "NUL byte");
  unsetenv("XDG_CONFIG_DIRS");

  /* Indented lines continue the option above them, ours or not: this
   * index-url is part of extra-index-url's value (pip ignores it). */
  conf_at(p,
          "[global]\nindex-url = https://right.example/simple\nextra-index-url =\n    https://x.example/\n"
          "    index-url = https://wrong.example/\n");
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "https://right.example/simple");
  /* Continuation needs a deeper indent than the option line. */
  conf_at(p, "[global]\n  trusted-host = a.example\n  index-url = https://same-indent.example/\n");
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "https://same-indent.example/");
  /* NUL, long lines and comments elsewhere do not matter; the value may
   * stand on the line after "index-url =" (requests strips the '\n'). */
  static const char other[] =
      "[global]\n# a\0comment\nextra-index-url = x\0y\nindex-url =\n"
      "    # comment\n    https://next-line.example/simple\n";
  dl_write(p, other, sizeof other - 1);
  FIC_ASSERT_OK(fic__pip_index_url(out, sizeof out, origin, sizeof origin));
  assert_string_equal(out, "https://next-line.example/simple");
  /* trusted-host is a list (pip splits it on white space): lines join. */
  fic_pip_settings ps;
  conf_at(p, "[global]\ntrusted-host = a.example\n    b.example\n");
  FIC_ASSERT_OK(fic__pip_settings(&ps));
  assert_string_equal(ps.trusted_hosts, "a.example b.example");
  /* "[ global ]" is not [global] for configparser. */
  conf_at(p, "[ global ]\nindex-url = https://spaced.example/\n");
  FIC_ASSERT_STATUS(fic__pip_index_url(out, sizeof out, origin, sizeof origin), FIC_ERR_NOT_FOUND);
}

static void test_pip_project_url(void **state) {
  (void)state;
  char out[512];
  FIC_ASSERT_OK(fic__pip_project_url("https://idx.example/simple/", "Apache_TVM.-FFI", out, sizeof out));
  assert_string_equal(out, "https://idx.example/simple/apache-tvm-ffi/");
  FIC_ASSERT_OK(fic__pip_project_url("http://u:p@idx.example/root/pypi/+simple", "apache-tvm-ffi", out, sizeof out));
  assert_string_equal(out, "http://u:p@idx.example/root/pypi/+simple/apache-tvm-ffi/");
}

/* ---- page parsing and URLs ------------------------------------------------ */

static void test_index_find_link_forms(void **state) {
  (void)state;
  const char *sha = "abababababababababababababababababababababababababababababababab";
  const char *page = "https://idx.example/simple/pkg/";
  char out[2048];
  char html[4096];

  /* Absolute href, single quotes, upper-case tag, entity in the query. */
  snprintf(html, sizeof html,
           "<html><A class=x HREF='https://files.example/p/f-1.whl?a=1&amp;b=2#sha256=%s'>f-1.whl</A></html>", sha);
  FIC_ASSERT_OK(fic__index_find_link(html, strlen(html), page, "f-1.whl", sha, out, sizeof out));
  assert_string_equal(out, "https://files.example/p/f-1.whl?a=1&b=2");

  /* Host-relative and scheme-relative hrefs. */
  snprintf(html, sizeof html, "<a href=\"/packages/f-1.whl\">f-1.whl</a>");
  FIC_ASSERT_OK(fic__index_find_link(html, strlen(html), page, "f-1.whl", sha, out, sizeof out));
  assert_string_equal(out, "https://idx.example/packages/f-1.whl");
  snprintf(html, sizeof html, "<a href=\"//cdn.example/f-1.whl\">f-1.whl</a>");
  FIC_ASSERT_OK(fic__index_find_link(html, strlen(html), page, "f-1.whl", sha, out, sizeof out));
  assert_string_equal(out, "https://cdn.example/f-1.whl");

  /* Matched by the href's file name (text differs); '+' encoded, %2B kept. */
  snprintf(html, sizeof html,
           "<a href=\"../../whl/f-0.6.3+cu130-x.whl\">other text</a>"
           "<a href=\"g/f-0.6.3%%2Bcu130-y.whl#md5=00\">f-0.6.3+cu130-y.whl</a>");
  FIC_ASSERT_OK(fic__index_find_link(html, strlen(html), page, "f-0.6.3+cu130-x.whl", sha, out, sizeof out));
  assert_string_equal(out, "https://idx.example/whl/f-0.6.3%2Bcu130-x.whl");
  FIC_ASSERT_OK(fic__index_find_link(html, strlen(html), page, "f-0.6.3+cu130-y.whl", sha, out, sizeof out));
  assert_string_equal(out, "https://idx.example/simple/pkg/g/f-0.6.3%2Bcu130-y.whl");

  /* Prefix of a longer name is not a match; "<abbr>" is not an anchor. */
  snprintf(html, sizeof html, "<abbr href=\"f-1.whl\">f-1.whl</abbr><a href=\"f-1.whl.metadata\">f-1.whl.metadata</a>");
  FIC_ASSERT_STATUS(fic__index_find_link(html, strlen(html), page, "f-1.whl", sha, out, sizeof out), FIC_ERR_NOT_FOUND);

  /* Fragment in upper case hex equal to the pin is fine; a different one fails. */
  snprintf(html, sizeof html,
           "<a href=\"f-1.whl#sha256=ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB\">f-1.whl</a>");
  FIC_ASSERT_OK(fic__index_find_link(html, strlen(html), page, "f-1.whl", sha, out, sizeof out));
  assert_string_equal(out, "https://idx.example/simple/pkg/f-1.whl");
  snprintf(html, sizeof html, "<a href=\"f-1.whl#sha256=cdcd\">f-1.whl</a>");
  FIC_ASSERT_STATUS(fic__index_find_link(html, strlen(html), page, "f-1.whl", sha, out, sizeof out), FIC_ERR_CHECKSUM);
}

static void test_url_join(void **state) {
  (void)state;
  static const char *const cases[][3] = {
      {"http://h/a/b/c", "d", "http://h/a/b/d"},
      {"http://h/a/b/c/", "../../x/y", "http://h/a/x/y"},
      {"http://h/a/", "../../../x", "http://h/x"},
      {"http://h:8080/a/b?q=1", "./c", "http://h:8080/a/c"},
      {"http://h/a/b", "/r/./s/../t", "http://h/r/t"},
      {"http://h/a/b", "https://o/x+y z", "https://o/x%2By%20z"},
      {"http://h", "x", "http://h/x"},
      {"http://h/a/b", "c?x=1+2", "http://h/a/c?x=1+2"},
  };
  char out[512];
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    FIC_ASSERT_OK(fic__url_join(cases[i][0], cases[i][1], out, sizeof out));
    if (strcmp(out, cases[i][2]) != 0)
      fail_msg("join(%s, %s) = %s, want %s", cases[i][0], cases[i][1], out, cases[i][2]);
  }
  FIC_ASSERT_STATUS(fic__url_join("not a url", "x", out, sizeof out), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_OK(fic__url_encode_segment("a-0.6.3+cu130_x~.whl", out, sizeof out));
  assert_string_equal(out, "a-0.6.3%2Bcu130_x~.whl");
  fic__url_redact("https://user:secret@idx.example/simple/", out, sizeof out);
  assert_string_equal(out, "https://***@idx.example/simple/");
}

/* ---- the pip download fallback ------------------------------------------- */

/* A fake interpreter: logs its arguments, then copies `src` (or fails). */
static void fake_python(fx *f, const char *src, int exit_code) {
  char script[4200], text[8192];
  snprintf(script, sizeof script, "%s/fake-python", f->tmp);
  snprintf(text, sizeof text,
           "#!/bin/sh\n"
           "printf '%%s\\n' \"$@\" > '%s/args'\n"
           "d=''; prev=''\n"
           "for a in \"$@\"; do [ \"$prev\" = -d ] && d=\"$a\"; prev=\"$a\"; done\n"
           "if [ %d -ne 0 ]; then echo 'ERROR: No matching distribution found for apache-tvm-ffi==0.1.3' >&2; "
           "exit %d; fi\n"
           "cp '%s' \"$d/%s\"\n",
           f->tmp, exit_code, exit_code, src, TVM_FILE);
  dl_write_str(script, text);
  assert_int_equal(chmod(script, 0755), 0);
  setenv("FLASHINFER_C_PYTHON", script, 1);
}

static int leftover_tmpdirs(const fx *f) {
  char dir[4200];
  snprintf(dir, sizeof dir, "%s/wheels", f->tmp);
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".pip-")) n++;
  closedir(d);
  return n;
}

static void test_pip_fallback_when_no_index(void **state) {
  fx *f = *state;
  char src[4300];
  snprintf(src, sizeof src, "%s/packages/ab/cd/%s", f->srv.root, TVM_FILE);
  fake_python(f, src, 0);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->wheel, WHEEL_SIZE));
  assert_int_equal(leftover_tmpdirs(f), 0);
  char args[4200];
  snprintf(args, sizeof args, "%s/args", f->tmp);
  FILE *fp = fopen(args, "r");
  assert_non_null(fp);
  char buf[4096];
  size_t n = fread(buf, 1, sizeof buf - 1, fp);
  buf[n] = '\0';
  fclose(fp);
  const char *want[] = {
      "-m\npip\ndownload\n",      "--no-deps\n", "--only-binary=:all:\n",    "--platform\nmanylinux_2_28_x86_64\n",
      "--python-version\n3.10\n", "\n-d\n",      "\napache-tvm-ffi==0.1.3\n"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
    if (!strstr(buf, want[i])) fail_msg("pip arguments lack \"%s\":\n%s", want[i], buf);
  assert_int_equal(dl_count(&f->srv, NULL), 0);
}

static void test_pip_fallback_wrong_sha(void **state) {
  fx *f = *state;
  char src[4200];
  snprintf(src, sizeof src, "%s/other.whl", f->tmp);
  dl_write_str(src, "not the pinned wheel");
  fake_python(f, src, 0);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_CHECKSUM);
  assert_non_null(strstr(fic_last_error_message(), f->sha));
  assert_false(dl_exists(f->dest));
  assert_int_equal(leftover_tmpdirs(f), 0);
}

static void test_pip_fallback_pip_fails(void **state) {
  fx *f = *state;
  fake_python(f, "/nonexistent", 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NETWORK);
  assert_non_null(strstr(fic_last_error_message(), "No matching distribution"));
  assert_false(dl_exists(f->dest));
  assert_int_equal(leftover_tmpdirs(f), 0);
}

static void test_pip_fallback_no_python(void **state) {
  fx *f = *state;
  setenv("FLASHINFER_C_PYTHON", "/nonexistent/python3", 1);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NOT_FOUND);
  assert_non_null(strstr(fic_last_error_message(), "PIP_INDEX_URL"));
  assert_false(dl_exists(f->dest));
  assert_int_equal(leftover_tmpdirs(f), 0);
}

/* A successful fallback leaves the thread's error record alone (before
 * issue #10 it cleared it after looking for an index). */
static void test_pip_fallback_keeps_error_record(void **state) {
  fx *f = *state;
  char src[4300];
  snprintf(src, sizeof src, "%s/packages/ab/cd/%s", f->srv.root, TVM_FILE);
  fake_python(f, src, 0);
  assert_int_equal(fic__fail(FIC_ERR_IO, "an earlier failure"), FIC_ERR_IO);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_int_equal(fic_last_error_status(), FIC_ERR_IO);
  assert_string_equal(fic_last_error_message(), "an earlier failure");
}

/* N processes starting cold at once run pip once: the fallback takes the
 * download lock of the destination, like the curl path. */
static void test_pip_fallback_runs_pip_once(void **state) {
  fx *f = *state;
  char script[4200], text[8192], runs[4200], src[4300];
  snprintf(src, sizeof src, "%s/packages/ab/cd/%s", f->srv.root, TVM_FILE);
  snprintf(runs, sizeof runs, "%s/runs", f->tmp);
  snprintf(script, sizeof script, "%s/slow-python", f->tmp);
  snprintf(text, sizeof text,
           "#!/bin/sh\necho run >> '%s'\nsleep 1\nd=''; prev=''\n"
           "for a in \"$@\"; do [ \"$prev\" = -d ] && d=\"$a\"; prev=\"$a\"; done\ncp '%s' \"$d/%s\"\n",
           runs, src, TVM_FILE);
  dl_write_str(script, text);
  assert_int_equal(chmod(script, 0755), 0);
  setenv("FLASHINFER_C_PYTHON", script, 1);
  enum { N = 4 };
  pid_t kids[N];
  fflush(NULL);
  for (int i = 0; i < N; i++) {
    kids[i] = fork();
    assert_true(kids[i] >= 0);
    if (kids[i] == 0) _exit(fic__fetch_pinned(&f->w, f->dest, NULL, NULL) == FIC_OK ? 0 : 1);
  }
  for (int i = 0; i < N; i++) {
    int status = 0;
    assert_int_equal(waitpid(kids[i], &status, 0), kids[i]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  assert_true(dl_file_equals(f->dest, f->wheel, WHEEL_SIZE));
  FILE *fp = fopen(runs, "r");
  assert_non_null(fp);
  int lines = 0;
  for (int c; (c = fgetc(fp)) != EOF;) lines += c == '\n';
  fclose(fp);
  assert_int_equal(lines, 1);
  assert_int_equal(leftover_tmpdirs(f), 0);
}

/* The cache GC removes the directories of killed pip runs (whose pid is
 * gone) and leaves those of live ones. */
static void test_gc_removes_pip_leftovers(void **state) {
  fx *f = *state;
  pid_t dead = fork();
  assert_true(dead >= 0);
  if (dead == 0) _exit(0);
  assert_int_equal(waitpid(dead, NULL, 0), dead);
  char p[4300];
  snprintf(p, sizeof p, "%s/wheels/%s-%s.pip-%ld-abcdef", f->tmp, f->sha, TVM_FILE, (long)dead);
  assert_int_equal(fic_test_sh("mkdir -p '%s' && echo partial > '%s/pip.log'", p, p), 0);
  snprintf(p, sizeof p, "%s/wheels/%s-%s.pip-%ld-ghijkl", f->tmp, f->sha, TVM_FILE, (long)getpid());
  assert_int_equal(fic_test_sh("mkdir -p '%s'", p), 0);
  uint64_t freed = 0, left = 0;
  FIC_ASSERT_OK(fic__cache_gc(f->tmp, NULL, 1, &freed, &left)); /* dry run: nothing goes */
  assert_int_equal(leftover_tmpdirs(f), 2);
  assert_true(freed > 0);
  FIC_ASSERT_OK(fic__cache_gc(f->tmp, NULL, 0, &freed, &left));
  assert_int_equal(leftover_tmpdirs(f), 1);
  assert_true(dl_exists(p)); /* the live one */
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      T(test_index_via_pip_index_url),
      T(test_index_via_pip_config_file),
      T(test_index_sha_fragment_mismatch_rejected),
      T(test_index_sha_fragment_mismatch_via_config_file),
      T(test_index_served_file_wrong_content),
      T(test_index_missing_link),
      T(test_index_project_page_404),
      T(test_pip_config_precedence),
      T(test_pip_project_url),
      T(test_index_find_link_forms),
      T(test_url_join),
      T(test_pip_fallback_when_no_index),
      T(test_pip_fallback_wrong_sha),
      T(test_pip_fallback_pip_fails),
      T(test_pip_fallback_no_python),
      T(test_pip_config_xdg_dirs_order),
      T(test_pip_config_tls_settings),
      T(test_index_https_cert_and_trusted_host),
      T(test_index_https_client_cert),
      T(test_index_messages_hide_credentials),
      T(test_malformed_url_messages_hide_credentials),
      T(test_pip_config_values_verbatim),
      T(test_pip_fallback_keeps_error_record),
      T(test_pip_fallback_runs_pip_once),
      T(test_gc_removes_pip_leftovers),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
