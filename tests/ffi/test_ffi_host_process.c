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

/* Runs `body` in a child; returns its exit status. */
static int in_child(int (*body)(const char *), const char *cache) {
  pid_t pid = fork();
  if (pid == 0) _exit(body(cache));
  int st = 0;
  waitpid(pid, &st, 0);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 100 + WTERMSIG(st);
}

static int child_signal_handler_kept(const char *cache) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = host_handler;
  sigaction(SIGSEGV, &sa, NULL);
  fic_runtime *rt = NULL;
  if (open_rt(cache, &rt) != FIC_OK) return 2;
  struct sigaction now;
  sigaction(SIGSEGV, NULL, &now);
  fic_runtime_close(rt);
  return now.sa_handler == host_handler ? 0 : 3;
}

static int child_reuses_loaded_copy(const char *cache) {
  /* The host loaded the same runtime from elsewhere first. */
  void *h = dlopen(getenv("FIC_TEST_TVMFFI_LIB"), RTLD_NOW | RTLD_GLOBAL);
  if (!h) return 2;
  fic_runtime *rt = NULL;
  if (open_rt(cache, &rt) != FIC_OK) return 3;
  int copies = 0;
  dl_iterate_phdr(count_tvm_ffi_copies, &copies);
  char buf[8192];
  fic_diagnose(rt, buf, sizeof buf, NULL);
  fic_runtime_close(rt);
  if (copies != 1) return 4;
  return strstr(buf, "reused") ? 0 : 5;
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
    return 2;
  fic_runtime *r1 = NULL, *r2 = NULL, *r3 = NULL;
  if (open_rt_wheel(a, getenv("FIC_TEST_JIT_WHEEL"), &r1) != FIC_OK) return 3;
  if (open_rt_wheel(b, getenv("FIC_TEST_JIT_WHEEL"), &r2) != FIC_OK) return 4;
  const char *p1 = NULL, *p2 = NULL;
  fic_runtime_module_path(r1, "fic_test", &p1);
  fic_runtime_module_path(r2, "fic_test", &p2);
  if (strcmp(p1, p2) == 0) return 5; /* the test needs two extracted copies */
  fic_function *f1 = NULL, *f2 = NULL;
  if (fic_function_get(r1, "fic_test", "add_int", NULL, &f1) != FIC_OK) return 6;
  if (fic_function_get(r2, "fic_test", "add_int", NULL, &f2) != FIC_OK) return 7;
  int copies = 0;
  dl_iterate_phdr(count_fic_test_copies, &copies);
  if (copies != 1) return 8;
  if (open_rt_wheel(cache, other, &r3) != FIC_OK) return 9;
  fic_function *f3 = NULL;
  fic_status st = fic_function_get(r3, "fic_test", "add_int", NULL, &f3);
  int ok = st == FIC_ERR_UNSUPPORTED && strstr(fic_last_error_message(), "already loaded") != NULL;
  fic_runtime_close(r1);
  fic_runtime_close(r2);
  fic_runtime_close(r3);
  return ok ? 0 : 10;
}

static void test_one_loaded_copy_per_module_build(void **state) {
  (void)state;
  char *cache = fic_test_mkdtemp("copies");
  assert_int_equal(in_child(child_one_copy_per_build, cache), 0);
  fic_test_rmtree(cache);
  free(cache);
}

static void test_host_signal_handler_survives(void **state) {
  (void)state;
  char *cache = fic_test_mkdtemp("sig");
  assert_int_equal(in_child(child_signal_handler_kept, cache), 0);
  fic_test_rmtree(cache);
  free(cache);
}

static void test_existing_libtvm_ffi_is_reused(void **state) {
  (void)state;
  char *cache = fic_test_mkdtemp("reuse");
  assert_int_equal(in_child(child_reuses_loaded_copy, cache), 0);
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
