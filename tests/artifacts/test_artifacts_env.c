/* SPDX-License-Identifier: Apache-2.0 */
/* The library reads its environment through fic__env() (secure_getenv):
 * in a set-user-ID process every variable reads as unset, so nobody can
 * point a privileged program's cache, wheels, seed directories, libcudart
 * or Python at files of their choosing (issue #10).
 *
 * The test runs a set-user-ID copy of itself (owner uid 12345; run as root,
 * so euid != ruid and the kernel sets AT_SECURE) with FLASHINFER_C_CACHE_DIR
 * and FLASHINFER_C_SEED_DIRS set; the copy reports what the library saw.
 * Skipped when it cannot make such a copy (not root, a nosuid file system). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "art_support.h"
#include "artifacts/internal.h"

/* Child mode: print what the library reads. */
static int report(void) {
  char root[4096];
  fic_status s = fic__cache_root(NULL, root, sizeof root);
  const char *seeds = fic__env("FLASHINFER_C_SEED_DIRS");
  printf("secure=%d cache_root=%s seeds=%s\n", geteuid() != getuid(), s == FIC_OK ? root : "(none)",
         seeds ? seeds : "(unset)");
  return 0;
}

static void test_setuid_process_ignores_environment(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("art-env");
  char copy[4200], out[4300], self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  assert_true(n > 0);
  self[n] = '\0';
  snprintf(copy, sizeof copy, "%s/reader", dir);
  snprintf(out, sizeof out, "%s/out", dir);
  assert_int_equal(chmod(dir, 0755), 0);
  if (fic_test_sh("cp '%s' '%s' && chown 12345 '%s' && chmod 4755 '%s'", self, copy, copy, copy) != 0) {
    print_message("SKIP: cannot make a set-user-ID copy (not running as root?)\n");
    fic_test_rmtree(dir);
    free(dir);
    skip();
  }
  /* Plain run first: the variables are read. */
  int rc = fic_test_sh("FLASHINFER_C_CACHE_DIR=/planted FLASHINFER_C_SEED_DIRS=/planted-seeds '%s' --report > '%s'",
                       self, out);
  assert_int_equal(rc, 0);
  assert_int_equal(fic_test_sh("grep -q 'secure=0 cache_root=/planted seeds=/planted-seeds' '%s'", out), 0);
  rc = fic_test_sh(
      "FLASHINFER_C_CACHE_DIR=/planted FLASHINFER_C_SEED_DIRS=/planted-seeds HOME=/planted-home '%s' "
      "--report > '%s'",
      copy, out);
  int secure = rc == 0 && fic_test_sh("grep -q 'secure=1' '%s'", out) == 0;
  if (!secure) {
    print_message("SKIP: the set-user-ID copy did not run set-user-ID (nosuid mount?)\n");
    fic_test_rmtree(dir);
    free(dir);
    skip();
  }
  int ok = fic_test_sh("grep -q 'cache_root=(none) seeds=(unset)' '%s'", out) == 0;
  if (!ok) fic_test_sh("cat '%s' >&2", out);
  fic_test_rmtree(dir);
  free(dir);
  assert_true(ok);
}

int main(int argc, char **argv) {
  if (argc > 1 && !strcmp(argv[1], "--report")) return report();
  art_clean_env();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_setuid_process_ignores_environment)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
