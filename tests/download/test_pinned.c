/* SPDX-License-Identifier: Apache-2.0 */
/* The pinned-wheel table and fic__fetch_pinned() over several sources
 * (local server only: the real table's URLs are checked, never fetched). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "artifacts/artifacts.h"
#include "artifacts/pinned.h"
#include "dl_support.h"

#define JIT_X86 "flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_x86_64.whl"
#define JIT_ARM "flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_aarch64.whl"
#define TVM_X86 "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
#define TVM_ARM "apache_tvm_ffi-0.1.3-cp310-cp310-manylinux_2_24_aarch64.manylinux_2_28_aarch64.whl"

static void test_pinned_x86_64(void **state) {
  (void)state;
  const fic_pinned_wheel *w = NULL;
  FIC_ASSERT_OK(fic__pinned_wheel(FIC_WHEEL_JIT_CACHE, "x86_64", &w));
  assert_int_equal(w->kind, FIC_WHEEL_JIT_CACHE);
  assert_string_equal(w->arch, "x86_64");
  assert_string_equal(w->filename, JIT_X86);
  assert_string_equal(w->sha256, "e5b0560aa02befa2964c76b8f9302959ed9fb2f558765b974753d68c4f8b4e1e");
  assert_string_equal(w->version, "0.6.3+cu130");
  assert_non_null(w->base_urls);
  assert_non_null(strstr(w->base_urls, "https://github.com/flashinfer-ai/flashinfer/releases/download/v0.6.3/\n"));
  assert_non_null(strstr(w->base_urls, "\nindex:https://flashinfer.ai/whl/cu130/flashinfer-jit-cache/"));

  FIC_ASSERT_OK(fic__pinned_wheel(FIC_WHEEL_TVMFFI, "x86_64", &w));
  assert_int_equal(w->kind, FIC_WHEEL_TVMFFI);
  assert_string_equal(w->filename, TVM_X86);
  assert_string_equal(w->sha256, "48ad3df2224f1b0943344895c6cba2f3f0a53bc67ddafdd3e9d7a34f56100aa9");
  assert_string_equal(w->project, "apache-tvm-ffi");
  assert_string_equal(w->version, "0.1.3");
  assert_null(w->base_urls); /* resolved through the user's pip configuration */
}

static void test_pinned_aarch64(void **state) {
  (void)state;
  const fic_pinned_wheel *w = NULL;
  FIC_ASSERT_OK(fic__pinned_wheel(FIC_WHEEL_JIT_CACHE, "aarch64", &w));
  assert_string_equal(w->arch, "aarch64");
  assert_string_equal(w->filename, JIT_ARM);
  assert_string_equal(w->sha256, "458fcf5a854334062503ce28bd6521c16029d2248246532421e824e8273b8a81");
  assert_non_null(strstr(w->base_urls, "releases/download/v0.6.3/"));
  FIC_ASSERT_OK(fic__pinned_wheel(FIC_WHEEL_TVMFFI, "aarch64", &w));
  assert_string_equal(w->filename, TVM_ARM);
  assert_string_equal(w->sha256, "ff65bf8a96dbbd2725937ff1502e52571e7a90d81d355a21a303328dd06449cc");
  assert_null(w->base_urls);
  /* "arm64" (macOS/BSD spelling) is the same architecture. */
  const fic_pinned_wheel *w2 = NULL;
  FIC_ASSERT_OK(fic__pinned_wheel(FIC_WHEEL_TVMFFI, "arm64", &w2));
  assert_ptr_equal(w, w2);
}

static void test_pinned_unknown_arch(void **state) {
  (void)state;
  const fic_pinned_wheel *w = (const fic_pinned_wheel *)1;
  FIC_ASSERT_STATUS(fic__pinned_wheel(FIC_WHEEL_JIT_CACHE, "riscv64", &w), FIC_ERR_UNSUPPORTED);
  assert_null(w);
  assert_non_null(strstr(fic_last_error_message(), "riscv64"));
  FIC_ASSERT_STATUS(fic__pinned_wheel(FIC_WHEEL_TVMFFI, "ppc64le", &w), FIC_ERR_UNSUPPORTED);
  FIC_ASSERT_STATUS(fic__pinned_wheel((fic_wheel_kind)7, "x86_64", &w), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic__pinned_wheel(FIC_WHEEL_TVMFFI, "x86_64", NULL), FIC_ERR_INVALID_ARGUMENT);
}

static void test_pinned_host_arch(void **state) {
  (void)state;
  struct utsname u;
  assert_int_equal(uname(&u), 0);
  const fic_pinned_wheel *w = NULL;
  fic_status st = fic__pinned_wheel(FIC_WHEEL_JIT_CACHE, NULL, &w);
  if (strcmp(u.machine, "x86_64") == 0 || strcmp(u.machine, "aarch64") == 0) {
    FIC_ASSERT_OK(st);
    assert_string_equal(w->arch, u.machine);
  } else {
    assert_int_equal(st, FIC_ERR_UNSUPPORTED);
  }
}

static void test_pinned_table_consistent(void **state) {
  (void)state;
  const char *arches[] = {"x86_64", "aarch64"};
  for (int k = 0; k < 2; k++) {
    for (int a = 0; a < 2; a++) {
      const fic_pinned_wheel *w = NULL;
      FIC_ASSERT_OK(fic__pinned_wheel((fic_wheel_kind)k, arches[a], &w));
      assert_int_equal(strlen(w->sha256), 64);
      for (int i = 0; i < 64; i++) assert_non_null(strchr("0123456789abcdef", w->sha256[i]));
      assert_non_null(strstr(w->filename, arches[a]));
      assert_non_null(strstr(w->filename, w->version));
      size_t n = strlen(w->filename);
      assert_true(n > 4 && strcmp(w->filename + n - 4, ".whl") == 0);
      assert_non_null(w->project);
      if (w->base_urls) { /* every line an https URL prefix, or an index page */
        const char *p = w->base_urls;
        while (*p) {
          if (strncmp(p, "index:", 6) == 0) p += 6;
          assert_int_equal(strncmp(p, "https://", 8), 0);
          size_t len = strcspn(p, "\n");
          assert_int_equal(p[len - 1], '/');
          p += len + (p[len] == '\n');
        }
      }
    }
  }
}

/* ---- fetching over several sources ---------------------------------------- */

typedef struct fx {
  dl_server srv;
  char *tmp;
  unsigned char *data;
  char sha[65];
  char dest[4096];
  char sources[2048];
  fic_pinned_wheel w;
} fx;

#define DATA_SIZE ((size_t)200000)

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  /* a literal '+' in the served name */
  dl_fixture_open(&f->srv, &f->tmp, "pinned", &f->data, DATA_SIZE, 5, f->sha, JIT_X86);
  snprintf(f->dest, sizeof f->dest, "%s/wheels/%s-" JIT_X86, f->tmp, f->sha);
  f->w.kind = FIC_WHEEL_JIT_CACHE;
  f->w.arch = "x86_64";
  f->w.project = "flashinfer-jit-cache";
  f->w.version = "0.6.3+cu130";
  f->w.filename = JIT_X86;
  f->w.sha256 = f->sha;
  f->w.base_urls = f->sources;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  dl_fixture_close(&f->srv, f->tmp, f->data);
  free(f);
  return 0;
}

static void write_whl_index(fx *f, const char *href_prefix, const char *fragment_sha) {
  char dir[4200], path[4300], html[4096];
  snprintf(dir, sizeof dir, "%s/whl/cu130/flashinfer-jit-cache", f->srv.root);
  assert_int_equal(fic_test_sh("mkdir -p '%s'", dir), 0);
  snprintf(path, sizeof path, "%s/index.html", dir);
  snprintf(html, sizeof html,
           "<html><body>\n"
           "<a href=\"%sflashinfer_jit_cache-0.6.3%%2Bcu130-cp39-abi3-manylinux_2_28_aarch64.whl\">"
           "flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_aarch64.whl</a><br>\n"
           "<a href=\"%sflashinfer_jit_cache-0.6.3%%2Bcu130-cp39-abi3-manylinux_2_28_x86_64.whl#sha256=%s\">"
           "flashinfer_jit_cache-0.6.3+cu130-cp39-abi3-manylinux_2_28_x86_64.whl</a><br>\n"
           "</body></html>\n",
           href_prefix, href_prefix, fragment_sha);
  dl_write_str(path, html);
}

static void test_fetch_pinned_first_source(void **state) {
  fx *f = *state;
  char base[256];
  dl_url(&f->srv, base, sizeof base, "/");
  snprintf(f->sources, sizeof f->sources, "%s\nhttp://127.0.0.1:1/never/", base);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->data, DATA_SIZE));
  /* The '+' of the file name travels as %2B. */
  assert_int_equal(dl_count(&f->srv, "GET /flashinfer_jit_cache-0.6.3%2Bcu130-cp39-abi3-manylinux_2_28_x86_64.whl "),
                   1);
  assert_int_equal(dl_count(&f->srv, NULL), 1);
}

static void test_fetch_pinned_falls_back_to_index(void **state) {
  fx *f = *state;
  write_whl_index(f, "../../../", f->sha); /* relative to /whl/cu130/flashinfer-jit-cache/ */
  char u1[256], u2[256];
  dl_url(&f->srv, u1, sizeof u1, "/status/404/");
  dl_url(&f->srv, u2, sizeof u2, "/whl/cu130/flashinfer-jit-cache/");
  snprintf(f->sources, sizeof f->sources, "%s\nindex:%s", u1, u2);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->data, DATA_SIZE));
  assert_int_equal(dl_count(&f->srv, "GET /status/404/flashinfer_jit_cache-0.6.3%2Bcu130-"), 1);
  assert_int_equal(dl_count(&f->srv, "GET /whl/cu130/flashinfer-jit-cache/ "), 1);
  assert_int_equal(dl_count(&f->srv, "GET /flashinfer_jit_cache-0.6.3%2Bcu130-cp39-abi3-manylinux_2_28_x86_64.whl "),
                   1);
}

static void test_fetch_pinned_index_fragment_mismatch(void **state) {
  fx *f = *state;
  write_whl_index(f, "/", "3333333333333333333333333333333333333333333333333333333333333333");
  char u[256];
  dl_url(&f->srv, u, sizeof u, "/whl/cu130/flashinfer-jit-cache/");
  snprintf(f->sources, sizeof f->sources, "index:%s", u);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_CHECKSUM);
  assert_int_equal(dl_count(&f->srv, ".whl"), 0);
  assert_false(dl_exists(f->dest));
}

static void test_fetch_pinned_all_sources_fail(void **state) {
  fx *f = *state;
  char u1[256], u2[256];
  dl_url(&f->srv, u1, sizeof u1, "/status/404/");
  dl_url(&f->srv, u2, sizeof u2, "/status/410/");
  snprintf(f->sources, sizeof f->sources, "%s\n%s\n", u1, u2);
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, NULL, NULL), FIC_ERR_NETWORK);
  const char *m = fic_last_error_message();
  assert_non_null(strstr(m, "2 sources"));
  assert_non_null(strstr(m, "[1]"));
  assert_non_null(strstr(m, "HTTP 404"));
  assert_non_null(strstr(m, "[2]"));
  assert_non_null(strstr(m, "HTTP 410"));
  assert_false(dl_exists(f->dest));
}

static void test_fetch_pinned_wrong_bytes_then_good_source(void **state) {
  fx *f = *state;
  char p[4300];
  assert_int_equal(fic_test_sh("mkdir -p '%s/bad'", f->srv.root), 0);
  snprintf(p, sizeof p, "%s/bad/" JIT_X86, f->srv.root);
  dl_write_str(p, "corrupt mirror");
  char u1[256], u2[256];
  dl_url(&f->srv, u1, sizeof u1, "/bad/");
  dl_url(&f->srv, u2, sizeof u2, "/");
  snprintf(f->sources, sizeof f->sources, "%s\n%s", u1, u2);
  FIC_ASSERT_OK(fic__fetch_pinned(&f->w, f->dest, NULL, NULL));
  assert_true(dl_file_equals(f->dest, f->data, DATA_SIZE));
  assert_int_equal(dl_count(&f->srv, "GET /bad/"), 1);
}

static int abort_at_once(void *user, const char *what, uint64_t done, uint64_t total) {
  (void)what;
  (void)done;
  (void)total;
  ++*(int *)user;
  return 1;
}

static void test_fetch_pinned_abort_stops_all_sources(void **state) {
  fx *f = *state;
  char u1[256], u2[256];
  dl_url(&f->srv, u1, sizeof u1, "/chunked/");
  dl_url(&f->srv, u2, sizeof u2, "/");
  snprintf(f->sources, sizeof f->sources, "%s\n%s", u1, u2);
  int calls = 0;
  FIC_ASSERT_STATUS(fic__fetch_pinned(&f->w, f->dest, abort_at_once, &calls), FIC_ERR_NETWORK);
  assert_non_null(strstr(fic_last_error_message(), "aborted by the progress callback"));
  assert_int_equal(calls, 1);
  assert_true(dl_count(&f->srv, "GET /chunked/") <= 1);
  assert_int_equal(dl_count(&f->srv, "GET /flashinfer"), 0); /* the second source was not tried */
  assert_false(dl_exists(f->dest));
}

int main(void) {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pinned_x86_64),           cmocka_unit_test(test_pinned_aarch64),
      cmocka_unit_test(test_pinned_unknown_arch),     cmocka_unit_test(test_pinned_host_arch),
      cmocka_unit_test(test_pinned_table_consistent), T(test_fetch_pinned_first_source),
      T(test_fetch_pinned_falls_back_to_index),       T(test_fetch_pinned_index_fragment_mismatch),
      T(test_fetch_pinned_all_sources_fail),          T(test_fetch_pinned_wrong_bytes_then_good_source),
      T(test_fetch_pinned_abort_stops_all_sources),
  };
#undef T
  return cmocka_run_group_tests(tests, NULL, NULL);
}
