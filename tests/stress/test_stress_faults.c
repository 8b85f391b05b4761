/* SPDX-License-Identifier: Apache-2.0 */
/* Fault injection through the public API (fic_runtime_open, fic_diagnose,
 * fic_runtime_path), each fault in its own process where it touches process
 * or mount state. Every case checks the exact status and the key words of
 * the message, and prints both (docs/reliability.md quotes them):
 *   - disk full (a real tmpfs in a private mount namespace), then recovery;
 *   - read-only cache: a read-only bind mount (warm start must still work,
 *     a cold start must fail cleanly), a file where the cache directory
 *     should be, an immutable (chattr +i) root;
 *   - a lock file left by a dead process (with its pid and a stale temp dir);
 *     a directory where the lock file should be;
 *   - a wheel replaced between runs (rename, in-place rewrite of the same
 *     size), then restored;
 *   - libcudart missing: FLASHINFER_C_CUDART pointing nowhere, an empty
 *     LD_LIBRARY_PATH, and /usr/local hidden by an empty tmpfs;
 *   - a libtvm_ffi of another version (0.2.0), or one missing a symbol,
 *     already loaded RTLD_GLOBAL by the host. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "artifacts/cache_lock.h"
#include "stress_support.h"

static char *tmp; /* per test */
static char self_exe[4096];

static int setup(void **state) {
  (void)state;
  st_clean_env();
  tmp = fic_test_mkdtemp("stress-faults");
  return 0;
}

static int teardown(void **state) {
  (void)state;
  fic_test_sh("chattr -i '%s'/* >/dev/null 2>&1; true", tmp);
  fic_test_rmtree(tmp);
  free(tmp);
  return 0;
}

static fic_status open_at(const char *root, const char *jit, fic_runtime **rt) {
  fic_config cfg;
  st_cfg(&cfg, root, jit, NULL);
  cfg.lock_timeout_s = 10;
  *rt = NULL;
  return fic_runtime_open(&cfg, rt);
}

/* Open and report "<status>|<message>" (or "ok|<artifact_dir>") on stdout of
 * a child: most faults below change process-wide state. */
static void report(fic_status s, fic_runtime *rt) {
  if (s == FIC_OK) {
    const char *dir = "";
    fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir);
    printf("ok|%s\n", dir);
  } else {
    printf("%s|%s\n", fic_status_string(s), fic_last_error_message());
  }
  fflush(stdout);
}

/* Run fn(arg) in a child with stdout captured into out. */
static int capture(int (*fn)(void *), void *arg, char *out, size_t size, double timeout_s) {
  int p[2];
  assert_int_equal(pipe(p), 0);
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(p[0]);
    dup2(p[1], 1);
    _exit(fn(arg));
  }
  close(p[1]);
  size_t len = 0;
  ssize_t n;
  while ((n = read(p[0], out + len, size - 1 - len)) > 0) len += (size_t)n;
  out[len] = '\0';
  close(p[0]);
  return st_wait(pid, timeout_s);
}

static int private_mounts(void) {
  if (unshare(CLONE_NEWNS) != 0) return -1;
  return mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);
}

/* cmocka's print_message() truncates long texts: write them directly. */
static void show(const char *title, const char *text) {
  printf("%s%s", title, text);
  fflush(stdout);
}

static void skip_because(const char *why) {
  print_message("SKIP: %s\n", why);
  skip();
}

/* ---- disk full -------------------------------------------------------- */

static int disk_full_child(void *arg) {
  const char *mnt = arg;
  if (private_mounts() != 0 || mount("tmpfs", mnt, "tmpfs", 0, "size=1m") != 0) return 77;
  fic_runtime *rt;
  /* 1 MiB: libtvm_ffi.so (1069368 bytes) does not fit. */
  fic_status s = open_at(mnt, NULL, &rt);
  report(s, rt);
  if (s != FIC_ERR_DISK_FULL) return 1;
  if (st_count_entries(mnt) != 0 || st_count_tmp_recursive(mnt) != 0) return 2;
  /* Room for libtvm_ffi.so and half the module (whose size depends on the
   * compiler): the first file fits, the second does not. */
  struct stat lib, mod;
  if (stat(getenv("FIC_TEST_TVMFFI_LIB"), &lib) != 0 || stat(getenv("FIC_TEST_MODULE"), &mod) != 0) return 9;
  char opts[64];
  snprintf(opts, sizeof opts, "size=%lldk", (long long)(lib.st_size + mod.st_size / 2) / 1024 + 32);
  if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, opts) != 0) return 3;
  s = open_at(mnt, NULL, &rt);
  report(s, rt);
  if (s != FIC_ERR_DISK_FULL) return 4;
  /* The entry (libtvm_ffi.so) may be complete; the module is not there at all. */
  if (st_count_entries(mnt) > 1 || st_count_tmp_recursive(mnt) != 0) return 5;
  if (fic_test_sh("test ! -e %s/*/modules/fic_test", mnt) != 0) return 10;
  /* Room again: the next run succeeds and the entry is intact. */
  if (mount("tmpfs", mnt, "tmpfs", MS_REMOUNT, "size=64m") != 0) return 6;
  s = open_at(mnt, NULL, &rt);
  report(s, rt);
  if (s != FIC_OK) return 7;
  char why[512];
  const char *dir = "";
  fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir);
  if (st_entry_matches(dir, NULL, why, sizeof why)) return 8;
  return 0;
}

static void test_disk_full(void **state) {
  (void)state;
  char mnt[4096], out[8192];
  snprintf(mnt, sizeof mnt, "%s/mnt", tmp);
  assert_int_equal(mkdir(mnt, 0755), 0);
  st_ref_dir();
  int rc = capture(disk_full_child, mnt, out, sizeof out, 60);
  if (rc == 77) skip_because("cannot mount a tmpfs in a private mount namespace (needs CAP_SYS_ADMIN)");
  show("", out);
  assert_int_equal(rc, 0);
  ST_ASSERT_CONTAINS(out, "disk full|");
  ST_ASSERT_CONTAINS(out, "No space left on device");
  ST_ASSERT_CONTAINS(out, "libtvm_ffi.so");
  ST_ASSERT_CONTAINS(out, "fic_test.so");
}

/* ---- read-only caches ------------------------------------------------- */

static int read_only_child(void *arg) {
  const char *dir = arg; /* warm cache at dir/warm, empty dir at dir/cold */
  char warm[4096], cold[4096];
  snprintf(warm, sizeof warm, "%s/warm", dir);
  snprintf(cold, sizeof cold, "%s/cold", dir);
  if (private_mounts() != 0) return 77;
  const char *mp[] = {warm, cold};
  for (int i = 0; i < 2; i++)
    if (mount(mp[i], mp[i], NULL, MS_BIND, NULL) != 0 ||
        mount(NULL, mp[i], NULL, MS_BIND | MS_REMOUNT | MS_RDONLY, NULL) != 0)
      return 77;
  fic_runtime *rt;
  fic_status s = open_at(warm, NULL, &rt);
  report(s, rt);
  if (s != FIC_OK) return 1;
  s = open_at(cold, NULL, &rt);
  report(s, rt);
  return s == FIC_ERR_PERMISSION ? 0 : 2;
}

static void test_read_only_bind_mount(void **state) {
  (void)state;
  char dir[4096], warm[4200], cold[4200], out[8192];
  snprintf(dir, sizeof dir, "%s", tmp);
  snprintf(warm, sizeof warm, "%s/warm", tmp);
  snprintf(cold, sizeof cold, "%s/cold", tmp);
  assert_int_equal(mkdir(cold, 0755), 0);
  fic_runtime *rt;
  FIC_ASSERT_OK(open_at(warm, NULL, &rt)); /* loads libtvm_ffi here: fine, children fork after */
  fic_runtime_close(rt);
  int rc = capture(read_only_child, dir, out, sizeof out, 60);
  if (rc == 77) skip_because("cannot make a read-only bind mount (needs CAP_SYS_ADMIN)");
  show("", out);
  assert_int_equal(rc, 0);
  ST_ASSERT_CONTAINS(out, "ok|");
  ST_ASSERT_CONTAINS(out, "permission denied|");
  ST_ASSERT_CONTAINS(out, "not writable");
  ST_ASSERT_CONTAINS(out, "Read-only file system");
}

static void test_cache_dir_is_a_file(void **state) {
  (void)state;
  char file[4200], below[4300];
  snprintf(file, sizeof file, "%s/cache", tmp);
  snprintf(below, sizeof below, "%s/cache/sub", tmp);
  st_write(file, "not a directory\n", 16);
  fic_runtime *rt;
  fic_status s = open_at(file, NULL, &rt);
  print_message("cache_dir is a file: %s: %s\n", fic_status_string(s), fic_last_error_message());
  assert_int_equal(s, FIC_ERR_NOT_FOUND);
  ST_ASSERT_CONTAINS(fic_last_error_message(), "Not a directory");
  s = open_at(below, NULL, &rt);
  print_message("cache_dir below a file: %s: %s\n", fic_status_string(s), fic_last_error_message());
  assert_int_equal(s, FIC_ERR_NOT_FOUND);
  ST_ASSERT_CONTAINS(fic_last_error_message(), "Not a directory");
}

static void test_immutable_root(void **state) {
  (void)state;
  char root[4200];
  snprintf(root, sizeof root, "%s/immutable", tmp);
  assert_int_equal(mkdir(root, 0755), 0);
  if (fic_test_sh("chattr +i '%s' 2>/dev/null", root) != 0) skip_because("chattr +i is not supported here");
  fic_runtime *rt;
  fic_status s = open_at(root, NULL, &rt);
  print_message("immutable root: %s: %s\n", fic_status_string(s), fic_last_error_message());
  fic_test_sh("chattr -i '%s'", root);
  assert_int_equal(s, FIC_ERR_PERMISSION);
  ST_ASSERT_CONTAINS(fic_last_error_message(), "not writable");
  assert_int_equal(st_count_entries(root), 0);
}

/* ---- locks ------------------------------------------------------------ */

static void entry_name(char *hash, size_t size) {
  char other[4200], entry[4300];
  snprintf(other, sizeof other, "%s/probe", tmp);
  fic_runtime *rt;
  FIC_ASSERT_OK(open_at(other, NULL, &rt));
  fic_runtime_close(rt);
  assert_true(st_the_entry(other, entry, sizeof entry));
  snprintf(hash, size, "%s", strrchr(entry, '/') + 1);
}

static void test_stale_lock_of_dead_pid(void **state) {
  (void)state;
  char hash[65], root[4200], lock[4400], stale[4400], part[4600];
  entry_name(hash, sizeof hash);
  snprintf(root, sizeof root, "%s/root", tmp);
  assert_int_equal(mkdir(root, 0755), 0);
  pid_t dead = st_dead_pid();
  /* What a killed extraction leaves: its pid in the lock file, a partial temp dir. */
  snprintf(lock, sizeof lock, "%s/%s.lock", root, hash);
  char pidline[32];
  int n = snprintf(pidline, sizeof pidline, "%ld\n", (long)dead);
  st_write(lock, pidline, (size_t)n);
  snprintf(stale, sizeof stale, "%s/.tmp-%s-%ld-0123456789abcdef", root, hash, (long)dead);
  assert_int_equal(fic_test_sh("mkdir -p '%s/tvm_ffi/lib'", stale), 0);
  snprintf(part, sizeof part, "%s/tvm_ffi/lib/libtvm_ffi.so", stale);
  st_write(part, "partial", 7);
  double t0 = st_now();
  fic_runtime *rt;
  FIC_ASSERT_OK(open_at(root, NULL, &rt));
  double took = st_now() - t0;
  const char *dir = NULL;
  fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir);
  char why[512];
  if (st_entry_matches(dir, NULL, why, sizeof why)) fail_msg("%s", why);
  fic_runtime_close(rt);
  print_message("lock file of dead pid %ld + stale temp dir: opened in %.0f ms, stale temp dir removed\n", (long)dead,
                took * 1e3);
  assert_true(took < 5.0);
  assert_int_equal(st_count_tmp_recursive(root), 0);
  assert_int_equal(fic__lock_holder(lock), 0); /* released: the pid is cleared */
}

static void test_lock_path_is_a_directory(void **state) {
  (void)state;
  char hash[65], root[4200], lock[4400];
  entry_name(hash, sizeof hash);
  snprintf(root, sizeof root, "%s/root", tmp);
  snprintf(lock, sizeof lock, "%s/%s.lock", root, hash);
  assert_int_equal(fic_test_sh("mkdir -p '%s'", lock), 0);
  double t0 = st_now();
  fic_runtime *rt;
  fic_status s = open_at(root, NULL, &rt);
  double took = st_now() - t0;
  print_message("lock path is a directory: %s after %.0f ms: %s\n", fic_status_string(s), took * 1e3,
                fic_last_error_message());
  assert_int_equal(s, FIC_ERR_IO);
  ST_ASSERT_CONTAINS(fic_last_error_message(), "Is a directory");
  assert_true(took < 5.0);
  assert_int_equal(st_count_entries(root), 0);
}

/* ---- a wheel replaced between runs ------------------------------------ */

static int count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF) n += c == '\n';
  fclose(f);
  return n;
}

static void open_expect(const char *root, const char *wheel, const char *ref, char *dir_out, size_t size) {
  fic_runtime *rt;
  FIC_ASSERT_OK(open_at(root, wheel, &rt));
  const char *dir = NULL;
  fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &dir);
  snprintf(dir_out, size, "%s", dir);
  char why[512];
  if (st_entry_matches(dir, ref, why, sizeof why)) fail_msg("%s", why);
  fic_runtime_close(rt);
}

static void test_wheel_replaced_between_runs(void **state) {
  (void)state;
  char root[4200], wdir[4200], wheel[4400], w2[4400], mod2[4400], ref2[4400], log[4400];
  snprintf(root, sizeof root, "%s/root", tmp);
  snprintf(wdir, sizeof wdir, "%s/wheels", tmp);
  snprintf(wheel, sizeof wheel, "%s/flashinfer_jit_cache-0.0.0+test-py3-none-any.whl", wdir);
  snprintf(w2, sizeof w2, "%s/next.whl", wdir);
  snprintf(mod2, sizeof mod2, "%s/fic_test2.so", wdir);
  snprintf(ref2, sizeof ref2, "%s/ref2", tmp);
  snprintf(log, sizeof log, "%s/extractions.log", tmp);
  setenv("FIC_TEST_HOOK_EXTRACT_LOG", log, 1);
  assert_int_equal(mkdir(wdir, 0755), 0);
  assert_int_equal(fic_test_sh("cp '%s' '%s'", st_jit_wheel(), wheel), 0);
  const char *ref1 = st_ref_dir();

  /* A second build of the wheel: same file name, another module. */
  assert_int_equal(fic_test_sh("cp '%s' '%s' && printf 'v2' >> '%s'", fic_test_env("FIC_TEST_MODULE"), mod2, mod2), 0);
  assert_int_equal(fic_test_sh("'%s' '%s' '%s' '%s=%s'", fic_test_env("FIC_TEST_PYTHON"),
                               fic_test_env("FIC_TEST_MAKE_WHEEL"), w2, ST_MOD_MEMBER, mod2),
                   0);
  char p[4600];
  snprintf(p, sizeof p, "%s/%s", ref2, ST_TVM_REL);
  st_unzip_member(st_tvm_wheel(), ST_TVM_REL, p);
  snprintf(p, sizeof p, "%s/%s", ref2, ST_MOD_REL);
  st_unzip_member(w2, ST_MOD_MEMBER, p);

  char d1[4096], d2[4096], d3[4096], d4[4096];
  /* Each new entry: two extractions (the entry, then the fic_test module). */
  open_expect(root, wheel, ref1, d1, sizeof d1);
  assert_int_equal(count_lines(log), 2);

  /* (a) replaced by rename (what pip and most tools do): new inode. */
  char keep[4600];
  snprintf(keep, sizeof keep, "%s/v1.whl", wdir);
  assert_int_equal(
      fic_test_sh("cp -p '%s' '%s' && cp '%s' '%s.new' && mv '%s.new' '%s'", wheel, keep, w2, wheel, wheel, wheel), 0);
  open_expect(root, wheel, ref2, d2, sizeof d2);
  assert_string_not_equal(d1, d2);
  assert_int_equal(count_lines(log), 4);

  /* (b) rewritten in place with the same size (same inode): a patched byte in
   * the archive's central directory (a date field), so the wheel hashes
   * differently while extracting the same members. */
  assert_int_equal(fic_test_sh("cp '%s' '%s' && '%s' -c \"import sys; p=sys.argv[1]; b=bytearray(open(p,'rb').read()); "
                               "i=b.rfind(b'PK\\x01\\x02'); b[i+12]^=1; f=open(p,'r+b'); f.write(b)\" '%s'",
                               keep, wheel, fic_test_env("FIC_TEST_PYTHON"), wheel),
                   0);
  open_expect(root, wheel, ref1, d3, sizeof d3);
  assert_string_not_equal(d3, d1);
  assert_string_not_equal(d3, d2);
  assert_int_equal(count_lines(log), 6);

  /* (c) the original back (in place): its entry is reused, nothing extracted. */
  assert_int_equal(fic_test_sh("cp '%s' '%s'", keep, wheel), 0);
  open_expect(root, wheel, ref1, d4, sizeof d4);
  assert_string_equal(d4, d1);
  assert_int_equal(count_lines(log), 6);
  assert_int_equal(st_count_entries(root), 3);
  print_message(
      "wheel replaced by rename -> new entry; rewritten in place (same size) -> new entry; "
      "restored -> first entry reused without extraction\n");
  unsetenv("FIC_TEST_HOOK_EXTRACT_LOG");
}

/* ---- libcudart missing ------------------------------------------------ */

/* Runs in a re-executed copy of this test (LD_LIBRARY_PATH is read by the
 * dynamic linker at exec). mode "hide": /usr/local under an empty tmpfs. */
static int cudart_child(const char *mode, const char *root) {
  if (!strcmp(mode, "hide")) {
    if (private_mounts() != 0 || mount("tmpfs", "/usr/local", "tmpfs", MS_RDONLY, "size=1m") != 0) return 77;
  }
  static char buf[65536];
  size_t needed = 0;
  fic_status s = fic_diagnose(NULL, buf, sizeof buf, &needed);
  printf("diagnose(NULL): %s\n%s", fic_status_string(s), buf);
  fic_runtime *rt;
  s = open_at(root, NULL, &rt);
  if (s != FIC_OK) return 2;
  const char *path = NULL;
  s = fic_runtime_path(rt, FIC_PATH_LIBCUDART, &path);
  printf("fic_runtime_path(libcudart): %s: %s\n", fic_status_string(s), s == FIC_OK ? path : fic_last_error_message());
  fflush(stdout);
  fic_runtime_close(rt);
  return 0;
}

typedef struct cudart_arg {
  const char *mode, *root;
} cudart_arg;

static int exec_cudart_child(void *p) {
  cudart_arg *a = p;
  setenv("LD_LIBRARY_PATH", "", 1);
  if (!strcmp(a->mode, "plain"))
    setenv("FLASHINFER_C_CUDART", "/nonexistent/libcudart.so.13", 1);
  else
    unsetenv("FLASHINFER_C_CUDART");
  unsetenv("CUDA_HOME");
  unsetenv("CUDA_PATH");
  unsetenv("CUDA_ROOT");
  unsetenv("VIRTUAL_ENV");
  unsetenv("CONDA_PREFIX");
  execl(self_exe, self_exe, "--cudart-child", a->mode, a->root, (char *)NULL);
  return 99;
}

static void test_cudart_missing(void **state) {
  (void)state;
  static char out[65536];
  char root[4200];
  snprintf(root, sizeof root, "%s/root", tmp);
  /* An explicit path that does not load is an error, even though the
   * dynamic linker's cache of this machine has a libcudart.so.13 (F10). */
  cudart_arg a = {"plain", root};
  int rc = capture(exec_cudart_child, &a, out, sizeof out, 60);
  show("--- FLASHINFER_C_CUDART=/nonexistent/libcudart.so.13, LD_LIBRARY_PATH=\"\":\n", out);
  assert_int_equal(rc, 0);
  ST_ASSERT_CONTAINS(out, "libcudart: not found");
  ST_ASSERT_CONTAINS(out, "    /nonexistent/libcudart.so.13 (no such file)");
  /* No FLASHINFER_C_CUDART and nothing anywhere: every place tried is listed. */
  cudart_arg b = {"hide", root};
  rc = capture(exec_cudart_child, &b, out, sizeof out, 60);
  if (rc == 77) skip_because("cannot hide /usr/local in a private mount namespace (needs CAP_SYS_ADMIN)");
  show("--- the same with /usr/local hidden (empty tmpfs):\n", out);
  assert_int_equal(rc, 0);
  ST_ASSERT_CONTAINS(out, "libcudart: not found");
  ST_ASSERT_CONTAINS(out, "    the dynamic linker's search path");
  ST_ASSERT_CONTAINS(out, "/usr/local/cuda/lib64/libcudart.so.13 (no such file)");
  ST_ASSERT_CONTAINS(out, "fic_runtime_path(libcudart): CUDA runtime libcudart.so.13 not found");
  ST_ASSERT_CONTAINS(out, "set FLASHINFER_C_CUDART");
}

/* ---- a foreign libtvm_ffi already loaded ------------------------------ */

/* Runs in a re-executed copy of this test: a process that has not loaded
 * any libtvm_ffi yet (this one has, through the other cases). */
static int foreign_child(const char *lib, const char *root) {
  if (!dlopen(lib, RTLD_NOW | RTLD_GLOBAL)) {
    printf("dlopen failed: %s\n", dlerror());
    return 1;
  }
  fic_runtime *rt;
  fic_status s = open_at(root, NULL, &rt);
  report(s, rt);
  /* The artifacts were prepared before the load failed: the cache is fine. */
  char entry[4096], why[512];
  if (!st_the_entry(root, entry, sizeof entry) || st_entry_matches(entry, NULL, why, sizeof why)) return 3;
  return s == FIC_OK ? 2 : 0;
}

static int exec_foreign_child(void *p) {
  const char *const *a = p;
  execl(self_exe, self_exe, "--foreign-child", a[0], a[1], (char *)NULL);
  return 99;
}

static void test_foreign_tvmffi_version(void **state) {
  (void)state;
  char root[4200], out[8192];
  snprintf(root, sizeof root, "%s/root", tmp);
  st_ref_dir();
  const char *arg[2] = {fic_test_env("FIC_TEST_FAKE_TVMFFI_V020"), root};
  int rc = capture(exec_foreign_child, (void *)arg, out, sizeof out, 60);
  show("host loaded a libtvm_ffi 0.2.0: ", out);
  assert_int_equal(rc, 0);
  ST_ASSERT_CONTAINS(out, "incompatible tvm-ffi version|");
  ST_ASSERT_CONTAINS(out, "reports tvm-ffi 0.2.0; flashinfer-c needs 0.1.x");

  const char *arg2[2] = {fic_test_env("FIC_TEST_FAKE_TVMFFI_NOSYM"), root};
  rc = capture(exec_foreign_child, (void *)arg2, out, sizeof out, 60);
  show("host loaded a libtvm_ffi without TVMFFIEnvSetStream: ", out);
  assert_int_equal(rc, 0);
  ST_ASSERT_CONTAINS(out, "symbol not found|");
  ST_ASSERT_CONTAINS(out, "unusable");
  ST_ASSERT_CONTAINS(out, "TVMFFIEnvSetStream");
}

int main(int argc, char **argv) {
  if (argc == 4 && !strcmp(argv[1], "--cudart-child")) return cudart_child(argv[2], argv[3]);
  if (argc == 4 && !strcmp(argv[1], "--foreign-child")) return foreign_child(argv[2], argv[3]);
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  if (n > 0) self_exe[n] = '\0';
  st_clean_env();
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cache_dir_is_a_file, setup, teardown),
      cmocka_unit_test_setup_teardown(test_immutable_root, setup, teardown),
      cmocka_unit_test_setup_teardown(test_stale_lock_of_dead_pid, setup, teardown),
      cmocka_unit_test_setup_teardown(test_lock_path_is_a_directory, setup, teardown),
      cmocka_unit_test_setup_teardown(test_wheel_replaced_between_runs, setup, teardown),
      cmocka_unit_test_setup_teardown(test_cudart_missing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_foreign_tvmffi_version, setup, teardown),
      cmocka_unit_test_setup_teardown(test_read_only_bind_mount, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  st_cleanup();
  return rc;
}
