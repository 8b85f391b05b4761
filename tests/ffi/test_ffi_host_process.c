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

static fic_status open_rt(const char *cache, fic_runtime **rt) {
  static const char *const modules[] = {"fic_test", NULL};
  fic_config cfg;
  fic_config_init(&cfg);
  cfg.cache_dir = cache;
  cfg.jit_cache_wheel = getenv("FIC_TEST_JIT_WHEEL");
  cfg.tvmffi_wheel = getenv("FIC_TEST_TVMFFI_WHEEL");
  cfg.modules = modules;
  cfg.offline = 1;
  return fic_runtime_open(&cfg, rt);
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
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
