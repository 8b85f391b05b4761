/* SPDX-License-Identifier: Apache-2.0 */
#include "test_support.h"

#include <errno.h> /* program_invocation_short_name */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *fic_test_env(const char *name) {
  const char *v = getenv(name);
  if (!v || !*v) fail_msg("environment variable %s is not set (run the tests through ctest)", name);
  return v;
}

char *fic_test_mkdtemp(const char *tag) {
  const char *tmp = getenv("TMPDIR");
  char buf[4096];
  snprintf(buf, sizeof buf, "%s/fic-%s-XXXXXX", tmp && *tmp ? tmp : "/tmp", tag);
  char *dir = mkdtemp(buf);
  assert_non_null(dir);
  return strdup(dir);
}

int fic_test_sh(const char *fmt, ...) {
  char cmd[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int rc = system(cmd);
  return rc == -1 ? -1 : (rc >> 8) & 0xff;
}

void fic_test_rmtree(const char *path) {
  if (path && *path) fic_test_sh("rm -rf '%s'", path);
}

extern char **environ;

void fic_test_clean_env(void) {
  for (int again = 1; again;) {
    again = 0;
    for (char **e = environ; *e; e++) {
      if (strncmp(*e, "FLASHINFER_C_", 13) && strncmp(*e, "FLASHINFER_RS_", 14) && strncmp(*e, "FIC_TEST_HOOK_", 14))
        continue;
      char name[256];
      size_t n = strcspn(*e, "=");
      if (n >= sizeof name) continue;
      memcpy(name, *e, n);
      name[n] = '\0';
      unsetenv(name);
      again = 1;
      break;
    }
  }
}

/* Cases that called skip() in this process (cmocka runs them in-process). */
static size_t g_skipped;

void fic_test_note_skip(void) { g_skipped++; }

int fic_test_run_group(const char *name, const struct CMUnitTest *tests, size_t n, CMFixtureFunction setup,
                       CMFixtureFunction teardown) {
  g_skipped = 0;
  int failed = _cmocka_run_group_tests(name, tests, n, setup, teardown);
  if (failed == 0 && n > 0 && g_skipped >= n) {
    printf("%s (%s): every case skipped: exit 77 (CTest reports Skipped)\n", program_invocation_short_name, name);
    return 77;
  }
  return failed;
}
