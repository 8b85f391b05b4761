/* SPDX-License-Identifier: Apache-2.0 */
/* Regression (issue #6 finding, since fixed): a wheel given by path whose file
 * name holds a control character (tab, newline) or a backslash was accepted by
 * identify_wheel (src/artifacts/prepare.c), fully extracted, and then refused
 * by fic__marker_format (valid_wheel_name, src/artifacts/marker.c):
 * fic_runtime_open failed with FIC_ERR_INTERNAL "invalid wheel record for the
 * cache marker" on every run, after extracting everything each time. Such a
 * name should be refused up front (FIC_ERR_INVALID_ARGUMENT, naming the
 * setting), with nothing extracted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stress_support.h"

static int try_name(const char *dir, const char *name) {
  char path[4300], root[4300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  snprintf(root, sizeof root, "%s/cache", dir);
  if (fic_test_sh("cp '%s' \"$(printf '%%b' '%s')\"", st_jit_wheel(), path) != 0) fail_msg("cp");
  char real[4300];
  int rc = snprintf(real, sizeof real, "%s/", dir);
  for (const char *p = name; *p && rc > 0 && (size_t)rc < sizeof real - 1; p++) {
    if (p[0] == '\\' && p[1] == 't') {
      real[rc++] = '\t';
      p++;
    } else if (p[0] == '\\' && p[1] == '\\') {
      real[rc++] = '\\';
      p++;
    } else {
      real[rc++] = *p;
    }
  }
  real[rc] = '\0';
  fic_config cfg;
  st_cfg(&cfg, root, real, NULL);
  fic_runtime *rt = NULL;
  fic_status s = fic_runtime_open(&cfg, &rt);
  print_message("wheel file name \"%s\": %s: %s\n", name, fic_status_string(s), fic_last_error_message());
  return s == FIC_ERR_INVALID_ARGUMENT && st_count_entries(root) == 0;
}

static void test_odd_wheel_file_names(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("bug-wheel-name");
  int tab_ok = try_name(dir, "flashinfer_jit\\tcache.whl");
  int backslash_ok = try_name(dir, "flashinfer_jit\\\\cache.whl");
  fic_test_rmtree(dir);
  free(dir);
  assert_true(tab_ok);
  assert_true(backslash_ok);
}

int main(void) {
  st_clean_env();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_odd_wheel_file_names)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
