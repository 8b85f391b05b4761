/* SPDX-License-Identifier: Apache-2.0 */
/* The cache calls of the public API without a runtime: fic_cache_verify,
 * fic_cache_gc, fic_wheel_modules. None of them may load a library (a
 * tampered libtvm_ffi.so must be caught before anything runs it), and a gc
 * dry run must write nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_support.h"
#include "test_support.h"

/* Is a library whose path contains `name` mapped into this process? */
static int mapped(const char *name) {
  FILE *f = fopen("/proc/self/maps", "r");
  assert_non_null(f);
  char line[8192];
  int hit = 0;
  while (!hit && fgets(line, sizeof line, f)) hit = strstr(line, name) != NULL;
  fclose(f);
  return hit;
}

typedef struct api_env {
  char *cache;
  fic_config cfg;
} api_env;

static const char *const k_modules[] = {"fic_test", NULL};

static int setup(void **state) {
  fic_test_clean_env();
  api_env *e = calloc(1, sizeof *e);
  e->cache = fic_test_mkdtemp("cache-api");
  fic_config_init(&e->cfg);
  e->cfg.cache_dir = e->cache;
  e->cfg.offline = 1;
  e->cfg.jit_cache_wheel = fic_test_env("FIC_TEST_JIT_WHEEL");
  e->cfg.tvmffi_wheel = fic_test_env("FIC_TEST_TVMFFI_WHEEL");
  e->cfg.modules = k_modules;
  *state = e;
  return 0;
}

static int teardown(void **state) {
  api_env *e = *state;
  fic_test_rmtree(e->cache);
  free(e->cache);
  free(e);
  return 0;
}

static void test_verify_loads_nothing(void **state) {
  api_env *e = *state;
  char dir[4096], lib[8192];
  FIC_ASSERT_OK(fic_cache_verify(&e->cfg, dir, sizeof dir));
  assert_non_null(strstr(dir, e->cache));
  snprintf(lib, sizeof lib, "%s/tvm_ffi/lib/libtvm_ffi.so", dir);
  flip_byte(lib, 4096);
  FIC_ASSERT_STATUS(fic_cache_verify(&e->cfg, NULL, 0), FIC_ERR_CACHE_CORRUPT);
  assert_non_null(strstr(fic_last_error_message(), "libtvm_ffi.so has SHA-256"));
  assert_false(mapped("libtvm_ffi"));
  assert_false(mapped("fic_test.so"));
  FIC_ASSERT_STATUS(fic_cache_verify(&(fic_config){.struct_size = 3}, NULL, 0), FIC_ERR_INVALID_ARGUMENT);
}

static int collect(void *user, const char *module, uint64_t size) {
  char *names = user;
  strcat(names, module);
  strcat(names, size > 0 ? "+" : "0");
  return 0;
}

static int stop_at_first(void *user, const char *module, uint64_t size) {
  (void)module, (void)size;
  ++*(int *)user;
  return 1;
}

static void test_wheel_modules(void **state) {
  (void)state;
  char names[256] = "";
  FIC_ASSERT_OK(fic_wheel_modules(fic_test_env("FIC_TEST_JIT_WHEEL"), collect, names));
  assert_string_equal(names, "fic_test+");
  int calls = 0;
  FIC_ASSERT_OK(fic_wheel_modules(fic_test_env("FIC_TEST_JIT_WHEEL"), stop_at_first, &calls));
  assert_int_equal(calls, 1);
  FIC_ASSERT_STATUS(fic_wheel_modules(NULL, collect, names), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_wheel_modules("/x.whl", NULL, names), FIC_ERR_INVALID_ARGUMENT);
  FIC_ASSERT_STATUS(fic_wheel_modules("/nonexistent.whl", collect, names), FIC_ERR_NOT_FOUND);
  assert_false(mapped("libtvm_ffi"));
}

/* A wheel holding `members` (space-separated module names), each a copy of the test module. */
static char *make_wheel(const char *dir, const char *tag, const char *members) {
  char *wheel = malloc(4096), args[1024] = "";
  snprintf(wheel, 4096, "%s/flashinfer_jit_cache-0.0.0+%s-py3-none-any.whl", dir, tag);
  char list[256];
  snprintf(list, sizeof list, "%s", members);
  for (char *m = strtok(list, " "); m; m = strtok(NULL, " "))
    snprintf(args + strlen(args), sizeof args - strlen(args), " flashinfer_jit_cache/jit_cache/%s/%s.so='%s'", m, m,
             fic_test_env("FIC_TEST_MODULE"));
  assert_int_equal(fic_test_sh("'%s' '%s' '%s'%s", fic_test_env("FIC_TEST_PYTHON"), fic_test_env("FIC_TEST_MAKE_WHEEL"),
                               wheel, args),
                   0);
  return wheel;
}

/* The entry is keyed by the wheels: another jit-cache wheel is another entry. */
static void test_gc(void **state) {
  api_env *e = *state;
  char *wheels = fic_test_mkdtemp("cache-api-gc");
  char *w2 = make_wheel(wheels, "other", "fic_test");
  FIC_ASSERT_OK(fic_cache_verify(&e->cfg, NULL, 0)); /* prepares the entry */
  fic_config other = e->cfg;
  other.jit_cache_wheel = w2; /* selects another entry, which does not exist yet */
  char before[4200], after[4200];
  snprintf(before, sizeof before, "%s.before", e->cache);
  snprintf(after, sizeof after, "%s.after", e->cache);
  tree_snapshot(e->cache, before);
  uint64_t freed = 0, remaining = 0;
  FIC_ASSERT_OK(fic_cache_gc(&other, 1, &freed, &remaining));
  tree_snapshot(e->cache, after);
  assert_same_snapshots(before, after);
  assert_true(freed > 0);
  assert_false(mapped("libtvm_ffi"));
  FIC_ASSERT_OK(fic_cache_gc(&e->cfg, 0, &freed, &remaining)); /* keeps its own entry */
  assert_int_equal(freed, 0);
  FIC_ASSERT_OK(fic_cache_verify(&e->cfg, NULL, 0));
  FIC_ASSERT_OK(fic_cache_gc(&other, 0, &freed, &remaining));
  assert_true(freed > 0);
  other.jit_cache_wheel = "/nonexistent/flashinfer_jit_cache-1-py3-none-any.whl";
  FIC_ASSERT_STATUS(fic_cache_gc(&other, 0, &freed, &remaining), FIC_ERR_NOT_FOUND);
  assert_false(mapped("libtvm_ffi"));
  fic_test_rmtree(wheels);
  free(wheels), free(w2);
}

/* A dry run on a cache that has never seen the wheel: identifying the entry in
 * use hashes the wheel, and must not leave that hash behind (wheel-ids/). */
static void test_gc_dry_run_writes_no_memo(void **state) {
  api_env *e = *state;
  char before[4200], after[4200];
  snprintf(before, sizeof before, "%s.before", e->cache);
  snprintf(after, sizeof after, "%s.after", e->cache);
  tree_snapshot(e->cache, before);
  uint64_t freed = 1, remaining = 1;
  FIC_ASSERT_OK(fic_cache_gc(&e->cfg, 1, &freed, &remaining));
  tree_snapshot(e->cache, after);
  assert_same_snapshots(before, after);
  assert_int_equal(freed, 0);
}

/* No module list prepares libtvm_ffi alone; an explicit list is strict. */
static void test_no_modules_up_front(void **state) {
  api_env *e = *state;
  fic_config cfg = e->cfg;
  cfg.modules = NULL;
  char dir[4096], path[8192];
  FIC_ASSERT_OK(fic_cache_verify(&cfg, dir, sizeof dir));
  snprintf(path, sizeof path, "%s/modules", dir);
  assert_int_equal(access(path, F_OK), -1); /* nothing extracted but libtvm_ffi */
  static const char *const strict[] = {"fic_test", "norm", NULL};
  cfg.modules = strict;
  FIC_ASSERT_STATUS(fic_cache_verify(&cfg, NULL, 0), FIC_ERR_NOT_FOUND);
  const char *msg = fic_last_error_message();
  assert_non_null(strstr(msg, "module norm is not in"));
  assert_non_null(strstr(msg, "`flashinfer-c list "));
  assert_null(strstr(msg, "fic__"));
}

static int has_file(const char *dir, const char *module) {
  char path[8192];
  snprintf(path, sizeof path, "%s/modules/%s/%s.so", dir, module, module);
  return access(path, F_OK) == 0;
}

/* Any module list selects the same entry; each module listed is added to it
 * with its own record, and verify checks every module present. */
static void test_modules_added_to_one_entry(void **state) {
  api_env *e = *state;
  char *wheels = fic_test_mkdtemp("cache-api-wheels");
  char *full = make_wheel(wheels, "full", "norm gdn_prefill_sm90 extra");
  fic_config cfg = e->cfg;
  cfg.jit_cache_wheel = full;
  char dir[4096], again[4096], path[8192];
  static const char *const norm[] = {"norm", NULL}, *const gdn[] = {"gdn_prefill_sm90", NULL};
  cfg.modules = NULL;
  FIC_ASSERT_OK(fic_cache_verify(&cfg, dir, sizeof dir));
  assert_true(!has_file(dir, "norm") && !has_file(dir, "gdn_prefill_sm90") && !has_file(dir, "extra"));
  cfg.modules = norm;
  FIC_ASSERT_OK(fic_cache_verify(&cfg, again, sizeof again));
  assert_string_equal(dir, again);
  assert_true(has_file(dir, "norm") && !has_file(dir, "gdn_prefill_sm90"));
  cfg.modules = gdn;
  FIC_ASSERT_OK(fic_cache_verify(&cfg, again, sizeof again));
  assert_string_equal(dir, again);
  assert_true(has_file(dir, "norm") && has_file(dir, "gdn_prefill_sm90") && !has_file(dir, "extra"));
  /* A byte flipped in a module the configuration does not list is still found. */
  snprintf(path, sizeof path, "%s/modules/norm/norm.so", dir);
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  int ch = fgetc(f);
  fseek(f, 0, SEEK_SET);
  fputc(ch ^ 0xff, f);
  fclose(f);
  FIC_ASSERT_STATUS(fic_cache_verify(&cfg, NULL, 0), FIC_ERR_CACHE_CORRUPT);
  assert_non_null(strstr(fic_last_error_message(), "modules/norm/norm.so"));
  fic_test_rmtree(wheels);
  free(wheels), free(full);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_verify_loads_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wheel_modules, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_dry_run_writes_no_memo, setup, teardown),
      cmocka_unit_test_setup_teardown(test_no_modules_up_front, setup, teardown),
      cmocka_unit_test_setup_teardown(test_modules_added_to_one_entry, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
