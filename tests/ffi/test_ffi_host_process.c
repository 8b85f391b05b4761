/* SPDX-License-Identifier: Apache-2.0 */
/* Process-level behaviour, each case in its own process (libtvm_ffi loads
 * once per process): the host's SIGSEGV handler survives the load; a
 * libtvm_ffi the host already loaded is reused, not loaded twice. */
#include <dlfcn.h>
#include <link.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"

static void host_handler(int sig) { (void)sig; }

static fic_status open_rt_wheel(const char *cache, const char *jit_wheel, fic_runtime **rt) {
  static const char *const modules[] = {"fic_test", NULL};
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.cache_dir = cache;
  cfg.jit_cache_wheel = jit_wheel;
  cfg.tvmffi_wheel = getenv("FIC_TEST_TVMFFI_WHEEL");
  cfg.modules = modules;
  cfg.offline = 1;
  return fic_runtime_open(&cfg, rt);
}

static fic_status open_rt(const char *cache, fic_runtime **rt) {
  return open_rt_wheel(cache, getenv("FIC_TEST_JIT_WHEEL"), rt);
}

static int count_fic_test_copies(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  if (info->dlpi_name && strstr(info->dlpi_name, "fic_test.so")) ++*(int *)data;
  return 0;
}

static int count_tvm_ffi_copies(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  if (info->dlpi_name && strstr(info->dlpi_name, "libtvm_ffi.so")) ++*(int *)data;
  return 0;
}

static int g_report_fd = -1; /* in a child: the write end of the pipe to the parent */

/* In a child: tell the parent what failed (with the library's last error)
 * and return the child's exit status, 1. */
static int child_fail(const char *what) {
  dprintf(g_report_fd, "%s (last error: %s: %s)", what, fic_status_string(fic_last_error_status()),
          fic_last_error_message());
  return 1;
}

/* Run `body` in a child (libtvm_ffi loads once per process); fail the test
 * with the child's own account of what failed. */
static void run_in_child(int (*body)(const char *), const char *cache) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    close(fds[0]);
    g_report_fd = fds[1];
    _exit(body(cache));
  }
  close(fds[1]);
  char why[8192];
  size_t len = 0;
  ssize_t n;
  while (len < sizeof why - 1 && (n = read(fds[0], why + len, sizeof why - 1 - len)) > 0) len += (size_t)n;
  why[len] = '\0';
  close(fds[0]);
  int st = 0;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  if (WIFSIGNALED(st)) fail_msg("child killed by signal %d %s", WTERMSIG(st), why);
  if (WEXITSTATUS(st) != 0) fail_msg("child: %s", len ? why : "failed without a report");
}

static int child_signal_handler_kept(const char *cache) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = host_handler;
  sigaction(SIGSEGV, &sa, NULL);
  fic_runtime *rt = NULL;
  if (open_rt(cache, &rt) != FIC_OK) return child_fail("fic_runtime_open");
  struct sigaction now;
  sigaction(SIGSEGV, NULL, &now);
  fic_runtime_close(rt);
  return now.sa_handler == host_handler ? 0 : child_fail("the host's SIGSEGV handler was replaced by the load");
}

static int child_reuses_loaded_copy(const char *cache) {
  /* The host loaded the same runtime from elsewhere first. */
  void *h = dlopen(getenv("FIC_TEST_TVMFFI_LIB"), RTLD_NOW | RTLD_GLOBAL);
  if (!h) return child_fail("the host's own dlopen of libtvm_ffi");
  fic_runtime *rt = NULL;
  if (open_rt(cache, &rt) != FIC_OK) return child_fail("fic_runtime_open after the host loaded libtvm_ffi");
  int copies = 0;
  dl_iterate_phdr(count_tvm_ffi_copies, &copies);
  char buf[8192];
  fic_diagnose(rt, buf, sizeof buf, NULL);
  fic_runtime_close(rt);
  if (copies != 1) return child_fail("libtvm_ffi is loaded twice");
  return strstr(buf, "reused") ? 0 : child_fail("fic_diagnose does not say the copy was reused");
}

/* Two runtimes over two caches share one loaded copy of a module; a
 * different build of a loaded module is refused, not loaded beside it. */
static int child_one_copy_per_build(const char *cache) {
  char a[4096], b[4096], other[4096], so[4096];
  snprintf(a, sizeof a, "%s/a", cache);
  snprintf(b, sizeof b, "%s/b", cache);
  snprintf(so, sizeof so, "%s/fic_test.so", cache);
  snprintf(other, sizeof other, "%s/other.whl", cache);
  /* Same module with one extra byte: still loadable, a different build. */
  if (fic_test_sh("cp '%s' '%s' && printf x >> '%s' && '%s' '%s' '%s' "
                  "flashinfer_jit_cache/jit_cache/fic_test/fic_test.so='%s'",
                  getenv("FIC_TEST_MODULE"), so, so, getenv("FIC_TEST_PYTHON"), getenv("FIC_TEST_MAKE_WHEEL"), other,
                  so) != 0)
    return child_fail("building the wheel with a different build of fic_test.so");
  fic_runtime *r1 = NULL, *r2 = NULL, *r3 = NULL;
  if (open_rt_wheel(a, getenv("FIC_TEST_JIT_WHEEL"), &r1) != FIC_OK) return child_fail("opening runtime 1");
  if (open_rt_wheel(b, getenv("FIC_TEST_JIT_WHEEL"), &r2) != FIC_OK) return child_fail("opening runtime 2");
  const char *p1 = NULL, *p2 = NULL;
  fic_runtime_module_path(r1, "fic_test", &p1);
  fic_runtime_module_path(r2, "fic_test", &p2);
  if (strcmp(p1, p2) == 0) return child_fail("both runtimes use one extracted copy; the test needs two");
  fic_function *f1 = NULL, *f2 = NULL;
  if (fic_function_get(r1, "fic_test", "add_int", NULL, &f1) != FIC_OK) return child_fail("add_int in runtime 1");
  if (fic_function_get(r2, "fic_test", "add_int", NULL, &f2) != FIC_OK) return child_fail("add_int in runtime 2");
  int copies = 0;
  dl_iterate_phdr(count_fic_test_copies, &copies);
  if (copies != 1) return child_fail("two runtimes loaded two copies of fic_test.so");
  if (open_rt_wheel(cache, other, &r3) != FIC_OK) return child_fail("opening a runtime over the other build");
  fic_function *f3 = NULL;
  fic_status st = fic_function_get(r3, "fic_test", "add_int", NULL, &f3);
  int ok = st == FIC_ERR_UNSUPPORTED && strstr(fic_last_error_message(), "already loaded") != NULL;
  fic_runtime_close(r1);
  fic_runtime_close(r2);
  fic_runtime_close(r3);
  return ok ? 0 : child_fail("a different build of a loaded module was not refused as already loaded");
}

static void test_one_loaded_copy_per_module_build(void **state) {
  (void)state;
  char *cache = fic_test_mkdtemp("copies");
  run_in_child(child_one_copy_per_build, cache);
  fic_test_rmtree(cache);
  free(cache);
}

static void test_host_signal_handler_survives(void **state) {
  (void)state;
  char *cache = fic_test_mkdtemp("sig");
  run_in_child(child_signal_handler_kept, cache);
  fic_test_rmtree(cache);
  free(cache);
}

static void test_existing_libtvm_ffi_is_reused(void **state) {
  (void)state;
  char *cache = fic_test_mkdtemp("reuse");
  run_in_child(child_reuses_loaded_copy, cache);
  fic_test_rmtree(cache);
  free(cache);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_signal_handler_survives),
      cmocka_unit_test(test_existing_libtvm_ffi_is_reused),
      cmocka_unit_test(test_one_loaded_copy_per_module_build),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
