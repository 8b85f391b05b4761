/* SPDX-License-Identifier: Apache-2.0 */
/* kill -9 at random points of a cold fic_runtime_open(), 100 times. After
 * every kill, before any recovery: a cache entry that has its COMPLETE
 * marker is byte-identical to the wheels' members (the cache is never served
 * half-written). Then a fresh process must open successfully, find a
 * complete entry that deep-verifies and matches the references, and leave no
 * temporary directory of the entry behind. The entry is then removed so that
 * the next iteration starts cold again (every 10th also forgets the wheel
 * hashes, so that kills land while hashing and memoising too).
 *
 * Kill times are uniform over 0.9 x the duration of a cold open (process
 * start included) measured at start;
 * every 4th iteration stretches the extraction with
 * FIC_TEST_HOOK_EXTRACT_SLEEP_MS. FIC_STRESS_SEED reproduces a run. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "artifacts/marker.h"
#include "stress_support.h"

#define ITERATIONS 100

static char *root;
static char hash_dir[4096];

static int open_child(void *arg) {
  long sleep_ms = (long)(intptr_t)arg;
  if (sleep_ms > 0) {
    char v[32];
    snprintf(v, sizeof v, "%ld", sleep_ms);
    setenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS", v, 1);
  }
  fic_config cfg;
  st_cfg(&cfg, root, NULL, NULL);
  cfg.lock_timeout_s = 20;
  fic_runtime *rt = NULL;
  fic_status s = fic_runtime_open(&cfg, &rt);
  if (s != FIC_OK) {
    fprintf(stderr, "open: %s: %s\n", fic_status_string(s), fic_last_error_message());
    return 1;
  }
  fic_runtime_close(rt);
  return 0;
}

/* The recovery run: open, then check the entry deeply. */
static int recover_child(void *arg) {
  (void)arg;
  fic_config cfg;
  st_cfg(&cfg, root, NULL, NULL);
  cfg.lock_timeout_s = 20;
  fic_runtime *rt = NULL;
  fic_status s = fic_runtime_open(&cfg, &rt);
  if (s != FIC_OK) {
    fprintf(stderr, "recovery open: %s: %s\n", fic_status_string(s), fic_last_error_message());
    return 1;
  }
  const char *dir = NULL;
  fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir);
  if (strcmp(dir, hash_dir) != 0) return 2;
  char why[512];
  if (st_entry_matches(dir, NULL, why, sizeof why)) {
    fprintf(stderr, "recovery: %s\n", why);
    return 3;
  }
  fic_runtime_close(rt);
  fic_artifacts *a = calloc(1, sizeof *a);
  s = fic__artifacts_prepare(&cfg, a);
  if (s != FIC_OK || !a->cache_hit) return 4;
  s = fic__artifacts_verify(a);
  if (s != FIC_OK) {
    fprintf(stderr, "recovery verify: %s\n", fic_last_error_message());
    return 5;
  }
  free(a);
  return 0;
}

static void reset_entry(int forget_hashes) {
  fic_test_rmtree(hash_dir);
  if (forget_hashes) fic_test_sh("rm -rf '%s/wheel-ids'", root);
}

static void test_kill9_during_cold_open(void **state) {
  (void)state;
  const char *ref = st_ref_dir();
  unsigned seed = (unsigned)time(NULL);
  const char *se = getenv("FIC_STRESS_SEED");
  if (se && *se) seed = (unsigned)strtoul(se, NULL, 10);
  srand(seed);

  /* Calibrate: the entry's name and the duration of a cold open. */
  double cold = 0;
  for (int i = 0; i < 3; i++) {
    double t0 = st_now();
    assert_int_equal(st_in_child(open_child, NULL, 60), 0);
    cold += st_now() - t0;
    assert_true(st_the_entry(root, hash_dir, sizeof hash_dir));
    reset_entry(1);
  }
  cold /= 3;

  int phase[5] = {0}; /* before extraction, mid extraction, published unmarked, complete, finished */
  int memo_debris = 0, max_corrupt = 0;
  double worst_recovery = 0;
  for (int it = 0; it < ITERATIONS; it++) {
    long hook = (it % 4 == 3) ? 1 + rand() % 20 : 0;
    double span = 0.9 * cold + 2 * hook / 1000.0;
    useconds_t delay = (useconds_t)((double)rand() / RAND_MAX * span * 1e6);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) _exit(open_child((void *)(intptr_t)hook));
    usleep(delay);
    kill(pid, SIGKILL);
    int rc = st_wait(pid, 60);
    assert_true(rc == 0 || rc == 128 + SIGKILL);

    /* The invariant, before anyone repairs anything. */
    char marker[4200];
    snprintf(marker, sizeof marker, "%s/%s", hash_dir, FIC_MARKER_NAME);
    struct stat st;
    int has_entry = stat(hash_dir, &st) == 0, has_marker = stat(marker, &st) == 0;
    char prefix[128];
    snprintf(prefix, sizeof prefix, ".tmp-%s", strrchr(hash_dir, '/') + 1);
    int tmps = st_count_prefix(root, prefix);
    if (has_marker) {
      /* The entry is complete; its module is either absent or complete with
       * its own marker (published together by one rename), never partial. */
      char why[512], mod_dir[4300], mod_marker[4400], lib[4300], ref_lib[4300];
      snprintf(mod_dir, sizeof mod_dir, "%s/modules/fic_test", hash_dir);
      snprintf(mod_marker, sizeof mod_marker, "%s/%s", mod_dir, FIC_MARKER_NAME);
      snprintf(lib, sizeof lib, "%s/%s", hash_dir, ST_TVM_REL);
      snprintf(ref_lib, sizeof ref_lib, "%s/%s", ref, ST_TVM_REL);
      int has_mod = stat(mod_dir, &st) == 0;
      if (has_mod && stat(mod_marker, &st) != 0)
        fail_msg("iteration %d (seed %u): module published without its marker", it, seed);
      if (has_mod ? st_entry_matches(hash_dir, ref, why, sizeof why) : st_cmp_files(lib, ref_lib, why, sizeof why))
        fail_msg("iteration %d (seed %u): entry has a marker but %s", it, seed, why);
      fic_marker *m = malloc(sizeof *m);
      assert_int_equal(fic__marker_read(hash_dir, m, why, sizeof why), 0);
      free(m);
    }
    phase[rc == 0 ? 4 : has_marker ? 3 : has_entry ? 2 : tmps ? 1 : 0]++;

    double t0 = st_now();
    int rrc = st_in_child(recover_child, NULL, 60);
    double took = st_now() - t0;
    if (took > worst_recovery) worst_recovery = took;
    if (rrc != 0) fail_msg("iteration %d (seed %u, kill after %u us): recovery failed with %d", it, seed, delay, rrc);
    assert_int_equal(st_count_prefix(root, prefix), 0); /* stale temps of the entry cleaned */
    char ids[4200];
    snprintf(ids, sizeof ids, "%s/wheel-ids", root);
    if (it % 10 == 9 || it == ITERATIONS - 1) memo_debris += st_count_tmp_recursive(ids);
    max_corrupt = st_count_prefix(root, ".corrupt-");
    reset_entry(it % 10 == 9);
  }
  /* Each entry published without its marker was quarantined exactly once. */
  assert_int_equal(max_corrupt, phase[2]);
  print_message(
      "seed %u, cold open %.0f ms; %d kills: %d before extraction, %d mid extraction, %d after publishing "
      "but before the marker, %d after the marker, %d runs finished first; every recovery succeeded "
      "(slowest %.0f ms); quarantined entries: %d; wheel-id temp files left: %d\n",
      seed, cold * 1e3, ITERATIONS, phase[0], phase[1], phase[2], phase[3], phase[4], worst_recovery * 1e3, max_corrupt,
      memo_debris);
}

int main(void) {
  st_clean_env();
  root = fic_test_mkdtemp("stress-kill9");
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_kill9_during_cold_open)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fic_test_rmtree(root);
  st_cleanup();
  return rc;
}
