/* SPDX-License-Identifier: Apache-2.0 */
/* Concurrency: many processes x threads starting cold on one cache, a child
 * killed mid-extraction, lock timeouts naming the holder, lock primitives. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "art_support.h"
#include "artifacts/cache_lock.h"
#include "artifacts/internal.h"
#include "artifacts/pinned.h"
#include "dl_support.h"

#define NPROC 8
#define NTHREAD 4

static char *root;

/* <entry>/modules/fic_test/fic_test.so in a static rotating buffer. */
static const char *module_path(const fic_artifacts *a) {
  static _Thread_local char path[8192];
  snprintf(path, sizeof path, "%s/modules/fic_test/fic_test.so", a->artifact_dir);
  return path;
}
static char log_path[4096];

static int setup(void **state) {
  (void)state;
  root = art_root_new("art-conc");
  snprintf(log_path, sizeof log_path, "%s/extractions.log", root);
  setenv("FIC_TEST_HOOK_EXTRACT_LOG", log_path, 1);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  art_root_free(&root);
  return 0;
}

/* Wait until <root>/.tmp-* exists; copies its name into `name`. */
static int wait_for_temp(char *name, size_t size, double timeout_s) {
  double end = dl_now() + timeout_s;
  while (dl_now() < end) {
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "ls -a '%s' | grep '^\\.tmp-' | head -1", root);
    FILE *p = popen(cmd, "r");
    if (p) {
      char line[512] = "";
      char *got = fgets(line, sizeof line, p);
      pclose(p);
      if (got && line[0]) {
        line[strcspn(line, "\n")] = '\0';
        snprintf(name, size, "%s", line);
        return 1;
      }
    }
    usleep(10000);
  }
  return 0;
}

/* ---- 8 processes x 4 threads, cold, one cache ----------------------------- */

typedef struct worker {
  const fic_config *cfg;
  pthread_barrier_t *barrier;
  fic_status status;
  char message[512];
  fic_artifacts art;
} worker;

static void *worker_main(void *arg) {
  worker *w = arg;
  pthread_barrier_wait(w->barrier);
  w->status = fic__artifacts_prepare(w->cfg, &w->art);
  if (w->status != FIC_OK) snprintf(w->message, sizeof w->message, "%s", fic_last_error_message());
  return NULL;
}

static int child_run(int gate_fd) {
  char c;
  if (read(gate_fd, &c, 1) < 0) return 90; /* EOF when the parent opens the gate */
  fic_config cfg;
  art_cfg(&cfg, root, getenv("FIC_TEST_JIT_WHEEL"), getenv("FIC_TEST_TVMFFI_WHEEL"), NULL);
  pthread_barrier_t barrier;
  pthread_barrier_init(&barrier, NULL, NTHREAD);
  static worker w[NTHREAD];
  pthread_t t[NTHREAD];
  for (int i = 0; i < NTHREAD; i++) {
    w[i].cfg = &cfg;
    w[i].barrier = &barrier;
    if (pthread_create(&t[i], NULL, worker_main, &w[i]) != 0) return 91;
  }
  int rc = 0;
  for (int i = 0; i < NTHREAD; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < NTHREAD; i++) {
    if (w[i].status != FIC_OK) {
      fprintf(stderr, "pid %ld thread %d: %s: %s\n", (long)getpid(), i, fic_status_string(w[i].status), w[i].message);
      rc = 1;
    } else if (strcmp(w[i].art.artifact_dir, w[0].art.artifact_dir) || art_file_size(w[i].art.libtvm_ffi) != 1069368 ||
               art_file_size(module_path(&w[i].art)) != art_file_size(getenv("FIC_TEST_MODULE"))) {
      fprintf(stderr, "pid %ld thread %d: inconsistent result\n", (long)getpid(), i);
      rc = 2;
    }
  }
  return rc;
}

static void test_cold_start_storm_extracts_once(void **state) {
  (void)state;
  setenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS", "150", 1); /* widen the window */
  int gate[2];
  assert_int_equal(pipe(gate), 0);
  pid_t pids[NPROC];
  for (int i = 0; i < NPROC; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      close(gate[1]);
      _exit(child_run(gate[0]));
    }
  }
  close(gate[0]);
  close(gate[1]); /* go */
  int failures = 0;
  for (int i = 0; i < NPROC; i++) {
    int status = 0;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;
  }
  assert_int_equal(failures, 0);
  assert_int_equal(art_count_lines(log_path), 2); /* the entry and fic_test once each for 32 callers */
  assert_int_equal(art_count_prefix(root, ".tmp-"), 0);
  assert_int_equal(art_count_prefix(root, ".corrupt-"), 0);

  unsetenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS");
  fic_config cfg;
  art_cfg(&cfg, root, fic_test_env("FIC_TEST_JIT_WHEEL"), fic_test_env("FIC_TEST_TVMFFI_WHEEL"), NULL);
  fic_artifacts *a = calloc(1, sizeof *a);
  FIC_ASSERT_OK(fic__artifacts_prepare(&cfg, a));
  assert_int_equal(a->cache_hit, 1);
  FIC_ASSERT_OK(fic__artifacts_verify(a));
  /* No stray temp files anywhere under the root (memo, marker, entry). */
  assert_int_equal(fic_test_sh("test -z \"$(find '%s' -name '*.tmp-*')\"", root), 0);
  free(a);
}

/* ---- SIGKILL mid-extraction, then recovery -------------------------------- */

/* A child preparing `cfg` that sleeps `sleep_ms` after each extracted member;
 * returns once its temp directory exists (its name in `tmp`). The child exits
 * 0 on success. */
static pid_t start_slow_prepare(const fic_config *cfg, const char *sleep_ms, char *tmp, size_t tmp_size) {
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    setenv("FIC_TEST_HOOK_EXTRACT_SLEEP_MS", sleep_ms, 1);
    static fic_artifacts art;
    _exit(fic__artifacts_prepare(cfg, &art) == FIC_OK ? 0 : 1);
  }
  assert_true(wait_for_temp(tmp, tmp_size, 20));
  return pid;
}

static void test_killed_mid_extraction_recovers(void **state) {
  (void)state;
  fic_config cfg;
  art_cfg(&cfg, root, fic_test_env("FIC_TEST_JIT_WHEEL"), fic_test_env("FIC_TEST_TVMFFI_WHEEL"), NULL);
  char tmp[512];
  pid_t pid = start_slow_prepare(&cfg, "20000", tmp, sizeof tmp);
  usleep(300000); /* the first member is written; the child sleeps before the next */
  assert_int_equal(kill(pid, SIGKILL), 0);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

  /* Debris of the dead run: a temp dir with a partial extraction, no entry. */
  char tmp_path[8192], entry[8192], hash[65];
  snprintf(tmp_path, sizeof tmp_path, "%s/%s", root, tmp);
  memcpy(hash, tmp + 5, 64);
  hash[64] = '\0';
  snprintf(entry, sizeof entry, "%s/%s", root, hash);
  assert_true(art_file_size(tmp_path) >= 0);
  assert_int_equal(art_file_size(entry), -1);
  assert_int_equal(art_count_lines(log_path), 1);

  fic_artifacts *a = calloc(1, sizeof *a);
  FIC_ASSERT_OK(fic__artifacts_prepare(&cfg, a)); /* the lock died with the child */
  assert_int_equal(a->cache_hit, 0);
  assert_string_equal(a->artifact_dir, entry);
  assert_int_equal(art_count_lines(log_path), 3); /* the entry again, then fic_test */
  assert_int_equal(art_file_size(tmp_path), -1);  /* stale temp cleaned under the lock */
  assert_int_equal(art_count_prefix(root, ".tmp-"), 0);
  FIC_ASSERT_OK(fic__artifacts_verify(a));
  free(a);
}

/* ---- lock timeout names the holder ---------------------------------------- */

static void test_lock_timeout_names_holder(void **state) {
  (void)state;
  fic_config cfg;
  art_cfg(&cfg, root, fic_test_env("FIC_TEST_JIT_WHEEL"), fic_test_env("FIC_TEST_TVMFFI_WHEEL"), NULL);
  char tmp[512];
  pid_t pid = start_slow_prepare(&cfg, "1500", tmp, sizeof tmp);
  fic_config impatient = cfg;
  impatient.lock_timeout_s = 0.3;
  fic_artifacts *a = calloc(1, sizeof *a);
  double t0 = dl_now();
  FIC_ASSERT_STATUS(fic__artifacts_prepare(&impatient, a), FIC_ERR_LOCK_TIMEOUT);
  double waited = dl_now() - t0;
  assert_true(waited >= 0.25 && waited < 1.4);
  char want[64];
  snprintf(want, sizeof want, "held by pid %ld", (long)pid);
  ART_ASSERT_CONTAINS(fic_last_error_message(), want);
  ART_ASSERT_CONTAINS(fic_last_error_message(), ".lock");

  /* A patient caller waits for the holder and reuses its work. */
  FIC_ASSERT_OK(fic__artifacts_prepare(&cfg, a));
  assert_int_equal(a->cache_hit, 1);
  int status = 0;
  assert_int_equal(waitpid(pid, &status, 0), pid);
  assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  assert_int_equal(art_count_lines(log_path), 2); /* the holder's entry and module */
  free(a);
}

/* ---- lock primitives ------------------------------------------------------ */

typedef struct lock_arg {
  const char *path;
  int fd;
  fic_status status;
} lock_arg;

static void *acquire_thread(void *p) {
  lock_arg *a = p;
  a->status = fic__lock_acquire(a->path, 10, &a->fd);
  return NULL;
}

static void test_lock_primitives(void **state) {
  (void)state;
  char path[8192];
  snprintf(path, sizeof path, "%s/x.lock", root);
  int fd1 = -1, fd2 = -1, busy = 0;
  FIC_ASSERT_OK(fic__lock_acquire(path, 1, &fd1));
  assert_int_equal(fic__lock_holder(path), (long)getpid());
  /* Another open file description in the same process is excluded (threads). */
  FIC_ASSERT_OK(fic__lock_try(path, &fd2, &busy));
  assert_int_equal(busy, 1);
  assert_int_equal(fd2, -1);
  FIC_ASSERT_STATUS(fic__lock_acquire(path, 0.1, &fd2), FIC_ERR_LOCK_TIMEOUT);

  /* A waiter survives the holder unlinking the file (GC): it ends up holding
   * the lock on the file the path names now, not on the unlinked inode. */
  lock_arg w = {path, -1, FIC_ERR_INTERNAL};
  pthread_t t;
  assert_int_equal(pthread_create(&t, NULL, acquire_thread, &w), 0);
  usleep(100000);
  fic__lock_release_unlink(path, fd1);
  pthread_join(t, NULL);
  FIC_ASSERT_OK(w.status);
  struct stat a, b;
  assert_int_equal(fstat(w.fd, &a), 0);
  assert_int_equal(stat(path, &b), 0);
  assert_true(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
  FIC_ASSERT_OK(fic__lock_try(path, &fd2, &busy));
  assert_int_equal(busy, 1);
  fic__lock_release(w.fd);
  FIC_ASSERT_OK(fic__lock_try(path, &fd2, &busy));
  assert_int_equal(busy, 0);
  assert_true(fd2 >= 0);
  fic__lock_release(fd2);

  /* An unopenable lock path is an error with the right status. */
  FIC_ASSERT_STATUS(fic__lock_acquire("/nonexistent-dir/x.lock", 1, &fd1), FIC_ERR_NOT_FOUND);
}

/* ---- download through prepare (local index), several processes ------------ */

static void test_download_once_for_many_processes(void **state) {
  (void)state;
  const fic_pinned_wheel *pin = NULL;
  char sha[65];
  FIC_ASSERT_OK(fic__pinned_wheel(FIC_WHEEL_TVMFFI, NULL, &pin));
  FIC_ASSERT_OK(fic__sha256_file(fic_test_env("FIC_TEST_TVMFFI_WHEEL"), sha));
  if (strcmp(sha, pin->sha256) || strcmp(strrchr(fic_test_env("FIC_TEST_TVMFFI_WHEEL"), '/') + 1, pin->filename)) {
    print_message("SKIP: FIC_TEST_TVMFFI_WHEEL is not the pinned apache-tvm-ffi wheel of this architecture\n");
    skip();
  }
  /* A PEP 503 index on 127.0.0.1 serving the real wheel. */
  dl_env_reset();
  dl_server srv;
  dl_server_start(&srv);
  const char *www = srv.root;
  char page[4400], file[4400];
  assert_int_equal(fic_test_sh("mkdir -p '%s/simple/apache-tvm-ffi' '%s/files'", www, www), 0);
  snprintf(file, sizeof file, "%s/files/%s", www, pin->filename);
  art_copy(fic_test_env("FIC_TEST_TVMFFI_WHEEL"), file);
  snprintf(page, sizeof page, "%s/simple/apache-tvm-ffi/index.html", www);
  FILE *f = fopen(page, "w");
  assert_non_null(f);
  fprintf(f, "<html><body><a href=\"../../files/%s#sha256=%s\">%s</a></body></html>\n", pin->filename, pin->sha256,
          pin->filename);
  fclose(f);
  char index[128];
  dl_url(&srv, index, sizeof index, "/simple/");
  setenv("PIP_INDEX_URL", index, 1);
  char cache[4200];
  snprintf(cache, sizeof cache, "%s/cache", root);

  enum { N = 4 };
  pid_t pids[N];
  for (int i = 0; i < N; i++) {
    pids[i] = fork();
    assert_true(pids[i] >= 0);
    if (pids[i] == 0) {
      fic_config cfg;
      art_cfg(&cfg, cache, getenv("FIC_TEST_JIT_WHEEL"), NULL, NULL); /* tvm-ffi: the pinned one */
      static fic_artifacts art;
      fic_artifacts *a = &art;
      fic_status st = fic__artifacts_prepare(&cfg, a);
      if (st != FIC_OK) fprintf(stderr, "child %d: %s: %s\n", i, fic_status_string(st), fic_last_error_message());
      _exit(st == FIC_OK && art_file_size(a->libtvm_ffi) == 1069368 ? 0 : 1);
    }
  }
  int failures = 0;
  for (int i = 0; i < N; i++) {
    int status = 0;
    assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) failures++;
  }
  char wheel_get[512];
  snprintf(wheel_get, sizeof wheel_get, "GET /files/%s", pin->filename);
  int gets = dl_count(&srv, wheel_get);
  char stored[8192];
  snprintf(stored, sizeof stored, "%s/wheels/%s-%s", cache, pin->sha256, pin->filename);
  long long want_size = art_file_size(file);
  dl_server_stop(&srv);
  unsetenv("PIP_INDEX_URL");
  unsetenv("PIP_CONFIG_FILE");
  assert_int_equal(failures, 0);
  assert_int_equal(gets, 1);                      /* downloaded once */
  assert_int_equal(art_count_lines(log_path), 2); /* entry and module extracted once each */
  assert_int_equal(art_file_size(stored), want_size);

  /* Warm and offline, server gone: nothing is fetched or even looked up. */
  fic_config cfg;
  art_cfg(&cfg, cache, fic_test_env("FIC_TEST_JIT_WHEEL"), NULL, NULL);
  cfg.offline = 1;
  fic_artifacts *a = calloc(1, sizeof *a);
  FIC_ASSERT_OK(fic__artifacts_prepare(&cfg, a));
  assert_int_equal(a->cache_hit, 1);
  assert_string_equal(a->tvmffi_wheel, "");
  free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_cold_start_storm_extracts_once, setup, teardown),
      cmocka_unit_test_setup_teardown(test_killed_mid_extraction_recovers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock_timeout_names_holder, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock_primitives, setup, teardown),
      cmocka_unit_test_setup_teardown(test_download_once_for_many_processes, setup, teardown),
  };
  art_clean_env();
  return cmocka_run_group_tests(tests, NULL, NULL);
}
