/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers of the stress and fault-injection tests; see stress_support.h. */
#include "stress_support.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void st_clean_env(void) { fic_test_clean_env(); }

const char *st_jit_wheel(void) { return fic_test_env("FIC_TEST_JIT_WHEEL"); }
const char *st_tvm_wheel(void) { return fic_test_env("FIC_TEST_TVMFFI_WHEEL"); }

void st_cfg(fic_config *c, const char *root, const char *jit, const char *tvm) {
  static const char *const modules[] = {"fic_test", NULL};
  fic_config_init(c);
  c->cache_dir = root;
  c->jit_cache_wheel = jit ? jit : st_jit_wheel();
  c->tvmffi_wheel = tvm ? tvm : st_tvm_wheel();
  c->modules = modules;
  c->offline = 1;
  c->lock_timeout_s = 60;
}

void st_unzip_member(const char *wheel, const char *member, const char *dest) {
  int rc = fic_test_sh(
      "'%s' -c 'import sys,zipfile,os; d=zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]); "
      "os.makedirs(os.path.dirname(sys.argv[3]),exist_ok=True); open(sys.argv[3],\"wb\").write(d)' "
      "'%s' '%s' '%s'",
      fic_test_env("FIC_TEST_PYTHON"), wheel, member, dest);
  if (rc != 0) fail_msg("cannot unpack %s from %s", member, wheel);
}

static char *ref_dir;

void st_cleanup(void) {
  if (ref_dir) fic_test_rmtree(ref_dir);
  free(ref_dir);
  ref_dir = NULL;
}

const char *st_ref_dir(void) {
  char *dir = ref_dir;
  if (dir) return dir;
  const char *inherited = getenv("FIC_STRESS_REF"); /* a re-executed child: the parent's */
  if (inherited && *inherited) return inherited;
  dir = fic_test_mkdtemp("stress-ref");
  char p[4096];
  snprintf(p, sizeof p, "%s/%s", dir, ST_TVM_REL);
  st_unzip_member(st_tvm_wheel(), ST_TVM_REL, p);
  snprintf(p, sizeof p, "%s/%s", dir, ST_MOD_REL);
  st_unzip_member(st_jit_wheel(), ST_MOD_MEMBER, p);
  ref_dir = dir;
  setenv("FIC_STRESS_REF", dir, 1);
  return dir;
}

int st_cmp_files(const char *a, const char *b, char *why, size_t why_size) {
  FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
  int rc = 0;
  if (!fa || !fb) {
    snprintf(why, why_size, "cannot open %s", !fa ? a : b);
    rc = 1;
  }
  long long off = 0;
  while (!rc) {
    int ca = fgetc(fa), cb = fgetc(fb);
    if (ca != cb) {
      snprintf(why, why_size, "%s and %s differ at byte %lld", a, b, off);
      rc = 1;
    }
    if (ca == EOF) break;
    off++;
  }
  if (fa) fclose(fa);
  if (fb) fclose(fb);
  return rc;
}

int st_entry_matches(const char *dir, const char *ref, char *why, size_t why_size) {
  static const char *const rels[] = {ST_TVM_REL, ST_MOD_REL};
  if (!ref) ref = st_ref_dir();
  for (int i = 0; i < 2; i++) {
    char a[4096], b[4096];
    snprintf(a, sizeof a, "%s/%s", dir, rels[i]);
    snprintf(b, sizeof b, "%s/%s", ref, rels[i]);
    if (st_cmp_files(a, b, why, why_size)) return 1;
  }
  return 0;
}

static int is_hex64(const char *s) {
  if (strlen(s) != 64) return 0;
  for (int i = 0; i < 64; i++)
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
  return 1;
}

int st_count_entries(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) n += is_hex64(de->d_name);
  closedir(d);
  return n;
}

int st_the_entry(const char *root, char *out, size_t size) {
  DIR *d = opendir(root);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (is_hex64(de->d_name)) {
      n++;
      snprintf(out, size, "%s/%s", root, de->d_name);
    }
  closedir(d);
  return n == 1;
}

int st_count_prefix(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) n += strncmp(de->d_name, prefix, strlen(prefix)) == 0;
  closedir(d);
  return n;
}

int st_count_tmp_recursive(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    if (strstr(de->d_name, ".tmp-")) n++;
    char p[4096];
    snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
    struct stat st;
    if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode)) n += st_count_tmp_recursive(p);
  }
  closedir(d);
  return n;
}

double st_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int st_wait(pid_t pid, double timeout_s) {
  double end = st_now() + timeout_s;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    if (r < 0 && errno != EINTR) return -2;
    if (st_now() > end) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    usleep(2000);
  }
}

pid_t st_dead_pid(void) {
  pid_t pid = fork();
  if (pid == 0) _exit(0);
  waitpid(pid, NULL, 0);
  return pid;
}

void st_write(const char *path, const void *data, size_t len) {
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(data, 1, len, f) != len) fail_msg("cannot write %s: %s", path, strerror(errno));
  fclose(f);
}

int st_in_child(int (*fn)(void *), void *arg, double timeout_s) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) fail_msg("fork: %s", strerror(errno));
  if (pid == 0) _exit(fn(arg));
  return st_wait(pid, timeout_s);
}
