/* SPDX-License-Identifier: Apache-2.0 */
/* Modules extracted on demand, through the runtime: the first use extracts
 * (once, across threads and processes), later runtimes reuse without
 * extracting, no limit on the number of modules, a wheel swapped after open
 * is caught before a lazy extraction, and every guarantee of the entry holds
 * per module (quarantine, lock timeout, disk full, deep verification). The
 * fixture wheel carries the test module under many names. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "art_support.h"
#include "artifacts/cache_lock.h"
#include "artifacts/internal.h"

#define MANY 70 /* over the old limits: 32 modules per runtime, 64 per process */

static char *root, *wdir;
static char wheel[4096];  /* fic_test, fic_test2 and m00..m69, all the test module */
static char wheel2[4096]; /* fic_test only, with another module build: a different wheel */

static const char *tvm(void) { return fic_test_env("FIC_TEST_TVMFFI_WHEEL"); }

/* Pack the test module as each of `names` (space-separated) into `out`. */
static void make_wheel(const char *out, const char *names, const char *module_file) {
  size_t cap = 64 * 1024;
  char *args = calloc(1, cap), list[4096];
  assert_non_null(args);
  snprintf(list, sizeof list, "%s", names);
  for (char *m = strtok(list, " "); m; m = strtok(NULL, " "))
    snprintf(args + strlen(args), cap - strlen(args), " 'flashinfer_jit_cache/jit_cache/%s/%s.so=%s'", m, m,
             module_file);
  assert_int_equal(
      fic_test_sh("'%s' '%s' '%s'%s", fic_test_env("FIC_TEST_PYTHON"), fic_test_env("FIC_TEST_MAKE_WHEEL"), out, args),
      0);
  free(args);
}

static int group_setup(void **state) {
  (void)state;
  art_clean_env();
  wdir = fic_test_mkdtemp("art-ondemand-wheels");
  char names[4096] = "fic_test fic_test2";
  for (int i = 0; i < MANY; i++) snprintf(names + strlen(names), sizeof names - strlen(names), " m%02d", i);
  snprintf(wheel, sizeof wheel, "%s/flashinfer_jit_cache-0.0.0+many-py3-none-any.whl", wdir);
  make_wheel(wheel, names, fic_test_env("FIC_TEST_MODULE"));
  char mod2[4200];
  snprintf(mod2, sizeof mod2, "%s/other.so", wdir);
  assert_int_equal(fic_test_sh("cp '%s' '%s' && printf 'v2' >> '%s'", fic_test_env("FIC_TEST_MODULE"), mod2, mod2), 0);
  snprintf(wheel2, sizeof wheel2, "%s/other.whl", wdir);
  make_wheel(wheel2, "fic_test", mod2);
  return 0;
}

static int group_teardown(void **state) {
  (void)state;
  fic_test_rmtree(wdir);
  free(wdir);
  return 0;
}

static int setup(void **state) {
  (void)state;
  root = art_root_new("art-ondemand");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  art_root_free(&root);
  return 0;
}

/* A config over `jit` with no module list: libtvm_ffi only at open. */
static void cfg_of(fic_config *c, const char *jit) {
  art_cfg(c, root, jit, tvm(), NULL);
  c->modules = NULL;
}

static fic_runtime *open_ok(const fic_config *c) {
  fic_runtime *rt = NULL;
  FIC_ASSERT_OK(fic_runtime_open(c, &rt));
  return rt;
}

/* <entry>/modules/<m> in a static buffer. */
static const char *module_dir(fic_runtime *rt, const char *m) {
  static char path[8192];
  const char *dir = NULL;
  FIC_ASSERT_OK(fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir));
  snprintf(path, sizeof path, "%s/modules/%s", dir, m);
  return path;
}

static void flip_byte(const char *path, long off) {
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  unsigned char b;
  assert_int_equal(pread(fd, &b, 1, off), 1);
  b ^= 0xff;
  assert_int_equal(pwrite(fd, &b, 1, off), 1);
  close(fd);
}

/* ---- first use extracts; a later runtime reuses without extracting ------- */

static void test_first_use_extracts_then_reused(void **state) {
  (void)state;
  fic_config c;
  cfg_of(&c, wheel);
  uint64_t x0 = fic__test_extraction_count();
  fic_runtime *rt = open_ok(&c);
  assert_int_equal(fic__test_extraction_count(), x0 + 1); /* libtvm_ffi only */
  assert_int_equal(access(module_dir(rt, "fic_test"), F_OK), -1);

  fic_function *fn = NULL;
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test", "echo_int", NULL, &fn));
  assert_non_null(fn);
  assert_int_equal(fic__test_extraction_count(), x0 + 2); /* the module, at its first use */
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test", "echo_float", NULL, &fn));
  assert_int_equal(fic__test_extraction_count(), x0 + 2);
  const char *path = NULL;
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test", &path));
  char want[8300];
  snprintf(want, sizeof want, "%s/fic_test.so", module_dir(rt, "fic_test"));
  assert_string_equal(path, want);
  snprintf(want, sizeof want, "%s/COMPLETE", module_dir(rt, "fic_test"));
  assert_int_equal(access(want, F_OK), 0); /* its own record */
  fic_runtime_close(rt);

  /* Warm: no extraction, no wheel hashed, nothing recorded. */
  uint64_t hashes = fic__test_wheel_hash_count();
  fic_clear_error();
  rt = open_ok(&c);
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test", "echo_int", NULL, &fn));
  assert_int_equal(fic__test_extraction_count(), x0 + 2);
  assert_int_equal(fic__test_wheel_hash_count(), hashes);
  assert_int_equal(fic_last_error_status(), FIC_OK);
  /* A module absent from the wheel: named at first use, with the list hint. */
  FIC_ASSERT_STATUS(fic_function_get(rt, "no_such_module", "f", NULL, &fn), FIC_ERR_NOT_FOUND);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "module no_such_module is not in");
  ART_ASSERT_CONTAINS(fic_last_error_message(), "`flashinfer-c list ");
  FIC_ASSERT_STATUS(fic_runtime_preload(rt, (const char *const[]){"no_such_module", NULL}), FIC_ERR_NOT_FOUND);
  FIC_ASSERT_STATUS(fic_runtime_module_path(rt, "../x", &path), FIC_ERR_INVALID_ARGUMENT);
  assert_int_equal(art_count_prefix(root, "."), 0); /* no temp, no quarantine */
  fic_runtime_close(rt);
}

/* ---- no limit on the number of modules ------------------------------------ */

static void test_many_modules_in_one_runtime(void **state) {
  (void)state;
  fic_config c;
  cfg_of(&c, wheel);
  fic_runtime *rt = open_ok(&c);
  const char *names[MANY + 1];
  char bufs[MANY][8];
  for (int i = 0; i < MANY; i++) {
    snprintf(bufs[i], sizeof bufs[i], "m%02d", i);
    names[i] = bufs[i];
  }
  names[MANY] = NULL;
  uint64_t x0 = fic__test_extraction_count();
  FIC_ASSERT_OK(fic_runtime_preload(rt, names)); /* extracted and loaded: 70 modules */
  assert_int_equal(fic__test_extraction_count(), x0 + MANY);
  for (int i = 0; i < MANY; i++) {
    fic_function *fn = NULL;
    FIC_ASSERT_OK(fic_function_get(rt, names[i], "echo_int", NULL, &fn));
    const char *p = NULL;
    FIC_ASSERT_OK(fic_runtime_module_path(rt, names[i], &p));
    assert_non_null(strstr(p, names[i]));
  }
  FIC_ASSERT_OK(fic_runtime_preload(rt, NULL)); /* every module prepared so far */
  char diag[64 * 1024];
  size_t need = 0;
  FIC_ASSERT_OK(fic_diagnose(rt, diag, sizeof diag, &need));
  ART_ASSERT_CONTAINS(diag, "module m69: ");
  fic_runtime_close(rt);
  /* The configured list has no limit either. */
  c.modules = names;
  rt = open_ok(&c);
  assert_int_equal(fic__test_extraction_count(), x0 + MANY);
  FIC_ASSERT_OK(fic_runtime_preload(rt, NULL));
  fic_runtime_close(rt);
}

/* ---- concurrent first use: one extraction --------------------------------- */

typedef struct first_use {
  fic_runtime *rt;
  pthread_barrier_t *barrier;
  fic_status st;
} first_use;

static void *first_use_main(void *arg) {
  first_use *u = arg;
  const char *p = NULL;
  pthread_barrier_wait(u->barrier);
  u->st = fic_runtime_module_path(u->rt, "fic_test2", &p);
  return NULL;
}

static void test_concurrent_first_use_threads(void **state) {
  (void)state;
  enum { N = 8 };
  fic_config c;
  cfg_of(&c, wheel);
  setenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS", "50", 1); /* a wide window */
  fic_runtime *rts[N];
  first_use u[N];
  pthread_t t[N];
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, N);
  for (int i = 0; i < N; i++) rts[i] = open_ok(&c); /* one runtime per thread: they meet at the cache lock */
  uint64_t x0 = fic__test_extraction_count();
  for (int i = 0; i < N; i++) {
    u[i] = (first_use){rts[i], &barrier, FIC_ERR_INTERNAL};
    assert_int_equal(pthread_create(&t[i], NULL, first_use_main, &u[i]), 0);
  }
  for (int i = 0; i < N; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < N; i++) FIC_ASSERT_OK(u[i].st);
  assert_int_equal(fic__test_extraction_count(), x0 + 1);
  char tmps[8300];
  snprintf(tmps, sizeof tmps, "%s/..", module_dir(rts[0], "fic_test2"));
  assert_int_equal(art_count_prefix(tmps, ".tmp-"), 0);
  for (int i = 0; i < N; i++) fic_runtime_close(rts[i]);
  pthread_barrier_destroy(&barrier);
  unsetenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS");
}

static void test_concurrent_first_use_processes(void **state) {
  (void)state;
  enum { N = 4 };
  fic_config c;
  cfg_of(&c, wheel);
  fic_runtime_close(open_ok(&c)); /* the entry exists; the module does not */
  char log[4200];
  snprintf(log, sizeof log, "%s.log", root);
  setenv("FIC_TEST_HOOK_EXTRACT_LOG", log, 1);
  setenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS", "50", 1);
  int go[2];
  assert_int_equal(pipe(go), 0);
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      char b;
      close(go[1]);
      if (read(go[0], &b, 1) != 0) _exit(3); /* all start when the pipe closes */
      fic_runtime *rt = NULL;
      const char *p = NULL;
      if (fic_runtime_open(&c, &rt) != FIC_OK) _exit(1);
      _exit(fic_runtime_module_path(rt, "fic_test2", &p) == FIC_OK && access(p, F_OK) == 0 ? 0 : 2);
    }
  }
  close(go[0]);
  close(go[1]);
  for (int i = 0; i < N; i++) {
    int status = 0;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
  assert_int_equal(art_count_lines(log), 1); /* extracted once for the four */
  unlink(log);
  unsetenv("FIC_TEST_HOOK_EXTRACT_LOG");
  unsetenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS");
}

/* ---- per-module guarantees ----------------------------------------------- */

static void test_corrupt_module_quarantined(void **state) {
  (void)state;
  fic_config c;
  cfg_of(&c, wheel);
  fic_runtime *rt = open_ok(&c);
  const char *p = NULL;
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test", &p));
  char marker[8300];
  snprintf(marker, sizeof marker, "%s/COMPLETE", module_dir(rt, "fic_test"));
  fic_runtime_close(rt);
  assert_int_equal(fic_test_sh("printf 'fic-cache-v1\\n' > '%s'", marker), 0); /* a truncated record */
  uint64_t x0 = fic__test_extraction_count();
  rt = open_ok(&c);
  fic_function *fn = NULL;
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test", "echo_int", NULL, &fn));
  assert_int_equal(fic__test_extraction_count(), x0 + 1);
  assert_int_equal(art_count_prefix(root, ".corrupt-"), 1);
  assert_int_equal(fic_test_sh("grep -q 'module fic_test' '%s'/.corrupt-*/QUARANTINE-REASON", root), 0);
  FIC_ASSERT_OK(fic_cache_verify(&c, NULL, 0));
  fic_runtime_close(rt);
}

static void test_verify_after_flip_in_lazy_module(void **state) {
  (void)state;
  fic_config c;
  cfg_of(&c, wheel);
  fic_runtime *rt = open_ok(&c);
  const char *p = NULL;
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test2", &p));
  FIC_ASSERT_OK(fic_cache_verify(&c, NULL, 0));
  flip_byte(p, 100); /* same size: the O(1) warm check cannot see it */
  FIC_ASSERT_STATUS(fic_cache_verify(&c, NULL, 0), FIC_ERR_CACHE_CORRUPT);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "modules/fic_test2/fic_test2.so");
  ART_ASSERT_CONTAINS(fic_last_error_message(), "SHA-256");
  fic_runtime_close(rt);
}

static void test_wheel_swapped_after_open(void **state) {
  (void)state;
  char jit[4200], keep[4300];
  snprintf(jit, sizeof jit, "%s/flashinfer_jit_cache-0.0.0+swap-py3-none-any.whl", root);
  snprintf(keep, sizeof keep, "%s.keep", jit);
  art_copy(wheel, jit);
  fic_config c;
  cfg_of(&c, jit);
  fic_runtime *rt = open_ok(&c);
  /* Touched (same bytes, new ctime/mtime): hashed again and accepted. */
  assert_int_equal(fic_test_sh("sleep 0.01 && touch '%s'", jit), 0);
  uint64_t hashes = fic__test_wheel_hash_count();
  const char *p = NULL;
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test", &p));
  assert_int_equal(fic__test_wheel_hash_count(), hashes + 1);
  /* Replaced by another build (rename over the path): refused before anything is extracted. */
  assert_int_equal(fic_test_sh("cp '%s' '%s.new' && mv '%s.new' '%s'", wheel2, jit, jit, jit), 0);
  fic_function *fn = NULL;
  FIC_ASSERT_STATUS(fic_function_get(rt, "fic_test2", "echo_int", NULL, &fn), FIC_ERR_CHECKSUM);
  ART_ASSERT_CONTAINS(fic_last_error_message(), "changed after the runtime was opened");
  assert_int_equal(access(module_dir(rt, "fic_test2"), F_OK), -1);
  /* Still refused on a second try (the swapped file is not trusted now). */
  FIC_ASSERT_STATUS(fic_runtime_module_path(rt, "fic_test2", &p), FIC_ERR_CHECKSUM);
  /* The module extracted before the swap still works. */
  FIC_ASSERT_OK(fic_function_get(rt, "fic_test", "echo_int", NULL, &fn));
  fic_runtime_close(rt);
  assert_int_equal(art_count_prefix(root, ".tmp-"), 0);
}

static void test_disk_full_during_lazy_extraction(void **state) {
  (void)state;
  fic_config c;
  cfg_of(&c, wheel);
  fic_runtime *rt = open_ok(&c);
  setenv("FIC_TEST_HOOK_WRITE_ERRNO", "28", 1); /* ENOSPC */
  const char *p = NULL;
  FIC_ASSERT_STATUS(fic_runtime_module_path(rt, "fic_test2", &p), FIC_ERR_DISK_FULL);
  unsetenv("FIC_TEST_HOOK_WRITE_ERRNO");
  char mods[8300];
  snprintf(mods, sizeof mods, "%s/..", module_dir(rt, "fic_test2"));
  assert_int_equal(access(module_dir(rt, "fic_test2"), F_OK), -1); /* nothing half-written */
  assert_int_equal(art_count_prefix(mods, ".tmp-"), 0);
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test2", &p)); /* room again */
  FIC_ASSERT_OK(fic_cache_verify(&c, NULL, 0));
  fic_runtime_close(rt);
}

static void test_lock_timeout_names_holder(void **state) {
  (void)state;
  fic_config c;
  cfg_of(&c, wheel);
  c.lock_timeout_s = 0.3;
  fic_runtime *rt = open_ok(&c);
  const char *dir = NULL;
  FIC_ASSERT_OK(fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir));
  char lock[8300], want[64];
  snprintf(lock, sizeof lock, "%s.lock", dir);
  int fd = -1;
  FIC_ASSERT_OK(fic__lock_acquire(lock, 1, &fd)); /* another extraction holds the entry */
  const char *p = NULL;
  FIC_ASSERT_STATUS(fic_runtime_module_path(rt, "fic_test", &p), FIC_ERR_LOCK_TIMEOUT);
  snprintf(want, sizeof want, "held by pid %ld", (long)getpid());
  ART_ASSERT_CONTAINS(fic_last_error_message(), want);
  fic__lock_release(fd);
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test", &p));
  fic_runtime_close(rt);
}

/* The GC keeps the entry in use with its modules; other entries go. */
static void test_gc_keeps_modules_of_current_entry(void **state) {
  (void)state;
  fic_config c, other;
  cfg_of(&c, wheel);
  cfg_of(&other, wheel2);
  fic_runtime *rt = open_ok(&c);
  const char *p = NULL;
  char path[8300];
  FIC_ASSERT_OK(fic_runtime_module_path(rt, "fic_test2", &p));
  snprintf(path, sizeof path, "%s", p); /* p lives as long as the runtime */
  fic_runtime_close(rt);
  FIC_ASSERT_OK(fic_cache_verify(&other, NULL, 0));
  uint64_t freed = 0, remaining = 0;
  FIC_ASSERT_OK(fic_cache_gc(&c, 0, &freed, &remaining));
  assert_true(freed > 0);
  assert_int_equal(access(path, F_OK), 0);
  FIC_ASSERT_OK(fic_cache_verify(&c, NULL, 0));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_first_use_extracts_then_reused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_modules_in_one_runtime, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_first_use_threads, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_first_use_processes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_corrupt_module_quarantined, setup, teardown),
      cmocka_unit_test_setup_teardown(test_verify_after_flip_in_lazy_module, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wheel_swapped_after_open, setup, teardown),
      cmocka_unit_test_setup_teardown(test_disk_full_during_lazy_extraction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock_timeout_names_holder, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gc_keeps_modules_of_current_entry, setup, teardown),
  };
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
