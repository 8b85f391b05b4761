/* SPDX-License-Identifier: Apache-2.0 */
/* Every verb of the flashinfer-c tool, run as a user would (FIC_TEST_CLI),
 * offline, in a fresh cache, with the real tvm-ffi wheel and either the
 * fixture wheel (fic_test only: a wheel without norm) or the real norm test
 * wheel (norm only; cases that need it skip without it). Checks exit codes
 * and output; no output may name an internal symbol. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "cli_support.h"
#include "test_support.h"

typedef struct cli_env {
  char *cache;       /* fresh FLASHINFER_C_CACHE_DIR */
  char out[1 << 16]; /* stdout + stderr of the last run */
  int rc;            /* its exit code (128 + signal if killed) */
} cli_env;

static int setup(void **state) {
  fic_test_clean_env();
  cli_env *e = calloc(1, sizeof *e);
  e->cache = fic_test_mkdtemp("cli");
  *state = e;
  return 0;
}

static int teardown(void **state) {
  cli_env *e = *state;
  fic_test_rmtree(e->cache);
  free(e->cache);
  free(e);
  return 0;
}

/* Run `flashinfer-c ARGS` offline in e->cache with the real tvm-ffi wheel;
 * `wheel` (may be NULL) is the jit-cache wheel. */
static void cli(cli_env *e, const char *wheel, const char *args) {
  char log[4200], cmd[16384];
  snprintf(log, sizeof log, "%s.out", e->cache);
  snprintf(cmd, sizeof cmd,
           "FLASHINFER_C_OFFLINE=1 FLASHINFER_C_CACHE_DIR='%s' FLASHINFER_C_TVMFFI_WHEEL='%s' %s%s%s '%s' %s "
           ">'%s' 2>&1 </dev/null",
           e->cache, fic_test_env("FIC_TEST_TVMFFI_WHEEL"), wheel ? "FLASHINFER_C_JIT_CACHE_WHEEL='" : "",
           wheel ? wheel : "", wheel ? "'" : "", fic_test_env("FIC_TEST_CLI"), args, log);
  int status = system(cmd);
  e->rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  FILE *f = fopen(log, "r");
  size_t n = f ? fread(e->out, 1, sizeof e->out - 1, f) : 0;
  e->out[n] = '\0';
  if (f) fclose(f);
  remove(log);
  print_message("$ flashinfer-c %s -> %d\n%s", args, e->rc, e->out);
  if (strstr(e->out, "fic__")) fail_msg("the output names an internal symbol (fic__)");
}

static void expect(const cli_env *e, int want_rc, const char *text) {
  if (e->rc != want_rc) fail_msg("exit code %d, want %d", e->rc, want_rc);
  if (!strstr(e->out, text)) fail_msg("the output lacks \"%s\"", text);
}
#define EXPECT(e, want_rc, text) expect((e), (want_rc), (text))

static size_t count(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
  return n;
}

static const char *fixture_wheel(void) { return fic_test_env("FIC_TEST_JIT_WHEEL"); }

static const char *norm_wheel_or_skip(void) {
  const char *w = getenv("FIC_NORM_WHEEL");
  if (!w || !*w) w = getenv("FIC_TEST_NORM_WHEEL");
  if (!w || !*w) {
    print_message("SKIP: no real norm wheel (configure with -DFIC_NORM_WHEEL=...)\n");
    skip();
  }
  return w;
}

static void test_help_version_usage(void **state) {
  cli_env *e = *state;
  cli(e, NULL, "--help");
  EXPECT(e, 0, "usage: flashinfer-c <verb>");
  EXPECT(e, 0, "--modules LIST");
  cli(e, NULL, "");
  EXPECT(e, 2, "usage:");
  cli(e, NULL, "--version");
  char want[64];
  snprintf(want, sizeof want, "flashinfer-c %d.%d.%d", FIC_VERSION_MAJOR, FIC_VERSION_MINOR, FIC_VERSION_PATCH);
  EXPECT(e, 0, want);
  cli(e, NULL, "frobnicate");
  EXPECT(e, 2, "unknown verb 'frobnicate'");
  cli(e, NULL, "--modules , fetch");
  EXPECT(e, 2, "--modules");
  cli(e, NULL, "gc --wet");
  EXPECT(e, 2, "unknown argument '--wet'");
}

static void test_missing_wheel(void **state) {
  cli_env *e = *state;
  cli(e, "/nonexistent/flashinfer_jit_cache-0.6.3-py3-none-any.whl", "fetch");
  EXPECT(e, 1, "cannot open wheel /nonexistent/flashinfer_jit_cache-0.6.3-py3-none-any.whl");
  cli(e, NULL, "list /nonexistent/x.whl");
  EXPECT(e, 1, "flashinfer-c: list:");
}

/* A wheel without norm: run and fetch succeed and say how to get each module. */
static void test_run_wheel_without_norm(void **state) {
  cli_env *e = *state;
  cli(e, fixture_wheel(), "run --iters 1");
  EXPECT(e, 0, "missing module norm (needed by gemma_rmsnorm");
  EXPECT(e, 0, "missing module gdn_prefill_sm90 (needed by gdn_prefill)");
  EXPECT(e, 0, "tools/kernel-modules/build.sh --modules gdn_prefill_sm90` (about 74 CPU-minutes");
  assert_int_equal(count(e->out, "missing module"), 2);
  cli(e, fixture_wheel(), "fetch");
  EXPECT(e, 0, "ready in");
}

/* No jit-cache wheel at all (offline, none given): fetch fails, so that
 * scripts/run.sh falls back to a wheel built from sources; run still exits 0
 * and says the wheel is not available (not that the module is absent). */
static void test_no_jit_cache_wheel(void **state) {
  cli_env *e = *state;
  cli(e, NULL, "fetch");
  EXPECT(e, 1,
         "missing module norm (needed by gemma_rmsnorm and the other norms): the jit-cache wheel is not available "
         "(FIC_ERR_OFFLINE");
  EXPECT(e, 1, "flashinfer-c: fetch: the jit-cache wheel is not available");
  assert_null(strstr(e->out, "ready in"));
  cli(e, NULL, "run --iters 1");
  EXPECT(e, 0, "missing module gdn_prefill_sm90 (needed by gdn_prefill): the jit-cache wheel is not available");
  assert_null(strstr(e->out, "not in the jit-cache wheel"));
}

/* The fallback of scripts/run.sh: a norm-only wheel. */
static void test_run_norm_only_wheel(void **state) {
  cli_env *e = *state;
  const char *w = norm_wheel_or_skip();
  cli(e, w, "run --iters 1");
  EXPECT(e, 0, "missing module gdn_prefill_sm90 (needed by gdn_prefill)");
  assert_int_equal(count(e->out, "missing module"), 1);
  if (!strstr(e->out, "GPU 0 of")) EXPECT(e, 0, "GPU checks skipped"); /* no GPU here: said so */
  cli(e, w, "fetch");
  EXPECT(e, 0, "module norm");
  cli(e, w, "list");
  EXPECT(e, 0, "norm ");
}

/* An explicit module list is strict, and its error says how to list the wheel. */
static void test_modules_strict(void **state) {
  cli_env *e = *state;
  cli(e, fixture_wheel(), "--modules fic_test,norm fetch");
  EXPECT(e, 1, "module norm is not in");
  EXPECT(e, 1, "flashinfer-c list ");
  cli(e, fixture_wheel(), "--modules fic_test fetch");
  EXPECT(e, 0, "module fic_test");
  cli(e, fixture_wheel(), "list");
  EXPECT(e, 0, "fic_test ");
}

/* The rest of the line after `key` in `text`. */
static void value_after(const char *text, const char *key, char *out, size_t size) {
  const char *p = strstr(text, key);
  if (!p) fail_msg("no \"%s\" in the output", key);
  p += strlen(key);
  size_t n = strcspn(p, "\n");
  assert_true(n < size);
  memcpy(out, p, n);
  out[n] = '\0';
}

static void test_verify(void **state) {
  cli_env *e = *state;
  cli(e, fixture_wheel(), "--modules fic_test verify");
  EXPECT(e, 0, "ok: ");
  EXPECT(e, 0, "matches its marker");
  char dir[4096], path[8192];
  value_after(e->out, "ok: ", dir, sizeof dir);
  *strstr(dir, " matches") = '\0';
  cli(e, fixture_wheel(), "--modules fic_test info");
  EXPECT(e, 0, "artifact_dir");
  EXPECT(e, 0, dir);
  snprintf(path, sizeof path, "%s/modules/fic_test/fic_test.so", dir);
  flip_byte(path, 100);
  cli(e, fixture_wheel(), "--modules fic_test verify");
  EXPECT(e, 1, "cache entry is corrupt");
  EXPECT(e, 1, "fic_test.so has SHA-256");
  flip_byte(path, 100); /* back */
  snprintf(path, sizeof path, "%s/tvm_ffi/lib/libtvm_ffi.so", dir);
  flip_byte(path, 100);
  cli(e, fixture_wheel(), "--modules fic_test verify");
  EXPECT(e, 1, "libtvm_ffi.so has SHA-256");
}

static void test_gc(void **state) {
  cli_env *e = *state;
  /* A copy of the fixture wheel under another name: the entry is keyed by the
   * wheels, so this is another entry. */
  char other[4200];
  snprintf(other, sizeof other, "%s.wheels/flashinfer_jit_cache-0.0.0+other-py3-none-any.whl", e->cache);
  assert_int_equal(fic_test_sh("mkdir -p '%s.wheels' && cp '%s' '%s'", e->cache, fixture_wheel(), other), 0);
  cli(e, other, "--modules fic_test fetch");
  EXPECT(e, 0, "ready in");
  /* The configuration below selects an entry that does not exist: a dry run
   * must not create it (nor anything else), nor load anything. */
  char before[4200], after[4200];
  snprintf(before, sizeof before, "%s.before", e->cache);
  snprintf(after, sizeof after, "%s.after", e->cache);
  tree_snapshot(e->cache, before);
  cli(e, fixture_wheel(), "gc --dry-run");
  EXPECT(e, 0, "would free ");
  if (strstr(e->out, "would free 0.0 MiB")) fail_msg("dry run would free nothing");
  tree_snapshot(e->cache, after);
  assert_same_snapshots(before, after);
  /* The entry the configuration uses is kept (with its modules); the other one goes. */
  cli(e, other, "--modules fic_test gc");
  EXPECT(e, 0, "freed 0.0 MiB");
  cli(e, fixture_wheel(), "gc");
  EXPECT(e, 0, "freed ");
  if (strstr(e->out, "freed 0.0 MiB")) fail_msg("gc freed nothing");
  cli(e, fixture_wheel(), "--modules fic_test verify");
  EXPECT(e, 0, "ok: ");
  assert_int_equal(fic_test_sh("rm -rf '%s.wheels'", e->cache), 0);
}

static void test_diagnose(void **state) {
  cli_env *e = *state;
  cli(e, fixture_wheel(), "--modules fic_test diagnose");
  EXPECT(e, 0, "tvm-ffi");
  cli(e, "/nonexistent/flashinfer_jit_cache-0.6.3-py3-none-any.whl", "diagnose");
  EXPECT(e, 0, "diagnosing without it");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_help_version_usage, setup, teardown),
      cmocka_unit_test_setup_teardown(test_missing_wheel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run_wheel_without_norm, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_jit_cache_wheel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_run_norm_only_wheel, setup, teardown),
      cmocka_unit_test_setup_teardown(test_modules_strict, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_diagnose, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
