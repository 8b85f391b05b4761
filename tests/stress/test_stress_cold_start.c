/* SPDX-License-Identifier: Apache-2.0 */
/* Cold-start stress through the public API: 32 processes x 8 threads call
 * fic_runtime_open() at once on an empty cache. All must succeed and agree;
 * exactly one extraction happens (FIC_TEST_HOOK_EXTRACT_LOG), leaving exactly
 * one artifact directory with its marker, byte-identical to the wheels'
 * members, and no temporary (.tmp-*) or quarantined (.corrupt-*) debris. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "artifacts/artifacts.h"
#include "stress_support.h"

#define NPROC 32
#define NTHREAD 8

static char *root, *results;
static char log_path[4096];

typedef struct worker {
  const fic_config *cfg;
  pthread_barrier_t *barrier;
  fic_status status;
  char message[512];
  char dir[4096];
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(w->barrier);
  fic_runtime *rt = NULL;
  w->status = fic_runtime_open(w->cfg, &rt);
  if (w->status != FIC_OK) {
    snprintf(w->message, sizeof w->message, "%s", fic_last_error_message());
    return NULL;
  }
  const char *dir = NULL;
  if (fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir) == FIC_OK) snprintf(w->dir, sizeof w->dir, "%s", dir);
  fic_runtime_close(rt);
  return NULL;
}

/* One process: 8 threads released together once the parent opens the gate. */
static int child_main(int gate) {
  char c;
  if (read(gate, &c, 1) < 0) return 90;
  fic_config cfg;
  st_cfg(&cfg, root, NULL, NULL);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, NTHREAD);
  static worker w[NTHREAD];
  pthread_t t[NTHREAD];
  for (int i = 0; i < NTHREAD; i++) {
    w[i].cfg = &cfg;
    w[i].barrier = &barrier;
    if (pthread_create(&t[i], NULL, worker_main, &w[i]) != 0) return 91;
  }
  for (int i = 0; i < NTHREAD; i++) pthread_join(t[i], NULL);
  int rc = 0;
  for (int i = 0; i < NTHREAD; i++) {
    if (w[i].status != FIC_OK) {
      fprintf(stderr, "pid %ld thread %d: %s: %s\n", (long)getpid(), i, fic_status_string(w[i].status), w[i].message);
      rc = 1;
    } else if (strcmp(w[i].dir, w[0].dir) != 0) {
      fprintf(stderr, "pid %ld thread %d: artifact_dir %s != %s\n", (long)getpid(), i, w[i].dir, w[0].dir);
      rc = 2;
    }
  }
  if (rc == 0) { /* report the directory to the parent */
    char p[4096];
    snprintf(p, sizeof p, "%s/%ld", results, (long)getpid());
    FILE *f = fopen(p, "w");
    if (!f) return 3;
    fprintf(f, "%s", w[0].dir);
    fclose(f);
  }
  return rc;
}

static void test_32x8_cold_start(void **state) {
  (void)state;
  const char *ref = st_ref_dir(); /* unpacked before the storm */
  int gate[2];
  assert_int_equal(pipe(gate), 0);
  pid_t pids[NPROC];
  fflush(NULL);
  for (int i = 0; i < NPROC; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      close(gate[1]);
      _exit(child_main(gate[0]));
    }
  }
  close(gate[0]);
  double t0 = st_now();
  close(gate[1]); /* EOF on the gate: every process starts now */
  int failures = 0;
  for (int i = 0; i < NPROC; i++) {
    int rc = st_wait(pids[i], 120);
    if (rc != 0) {
      print_error("process %ld exited with %d\n", (long)pids[i], rc);
      failures++;
    }
  }
  double took = st_now() - t0;
  assert_int_equal(failures, 0);

  /* Exactly one extraction, one entry with its marker, no debris. */
  char entry[4096];
  assert_true(st_the_entry(root, entry, sizeof entry));
  char marker[4200];
  snprintf(marker, sizeof marker, "%s/COMPLETE", entry);
  struct stat st;
  assert_int_equal(stat(marker, &st), 0);
  FILE *lf = fopen(log_path, "r");
  assert_non_null(lf);
  int lines = 0, ch;
  while ((ch = fgetc(lf)) != EOF) lines += ch == '\n';
  fclose(lf);
  assert_int_equal(lines, 2); /* the entry and the fic_test module, once each */
  assert_int_equal(st_count_tmp_recursive(root), 0);
  assert_int_equal(st_count_prefix(root, ".corrupt-"), 0);

  /* Every process saw that entry. */
  for (int i = 0; i < NPROC; i++) {
    char p[4096], dir[4096] = "";
    snprintf(p, sizeof p, "%s/%ld", results, (long)pids[i]);
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    if (!fgets(dir, sizeof dir, f)) dir[0] = '\0';
    fclose(f);
    assert_string_equal(dir, entry);
  }
  char why[512];
  if (st_entry_matches(entry, ref, why, sizeof why)) fail_msg("%s", why);
  /* Deep verification through the library as well. */
  fic_config cfg;
  st_cfg(&cfg, root, NULL, NULL);
  fic_artifacts *a = calloc(1, sizeof *a);
  FIC_ASSERT_OK(fic__artifacts_prepare(&cfg, a));
  assert_int_equal(a->cache_hit, 1);
  FIC_ASSERT_OK(fic__artifacts_verify(a));
  free(a);
  print_message("%d processes x %d threads: all opened in %.2f s, 1 extraction, 1 entry, 0 temp files\n", NPROC,
                NTHREAD, took);
}

int main(void) {
  st_clean_env();
  root = fic_test_mkdtemp("stress-cold");
  results = fic_test_mkdtemp("stress-cold-results");
  snprintf(log_path, sizeof log_path, "%s/extractions.log", results);
  setenv("FIC_TEST_HOOK_EXTRACT_LOG", log_path, 1);
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_32x8_cold_start)};
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fic_test_rmtree(root);
  fic_test_rmtree(results);
  st_cleanup();
  return rc;
}
