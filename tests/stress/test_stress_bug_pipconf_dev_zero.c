/* SPDX-License-Identifier: Apache-2.0 */
/* Regression (fuzz/stress finding, since fixed): PIP_CONFIG_FILE naming an endless
 * non-regular file (/dev/zero, /dev/urandom) made fic__pip_index_url() loop
 * forever in read_pip_conf (src/artifacts/pip_index.c: fgets() keeps
 * returning NUL-filled chunks, each skipped as an empty line); a FIFO with no
 * writer blocked it in fopen(). It is reached from fic_runtime_open() whenever
 * the tvm-ffi wheel has to be downloaded. Fix: open, fstat, skip anything
 * that is not a regular file, and cap the bytes read (pip.conf files are
 * small). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifacts/pip_index.h"
#include "stress_support.h"

static int lookup(void *arg) {
  setenv("PIP_CONFIG_FILE", (const char *)arg, 1);
  unsetenv("PIP_INDEX_URL");
  char out[8192];
  fic_status s = fic__pip_index_url(out, sizeof out, NULL, 0);
  return s == FIC_OK || s == FIC_ERR_NOT_FOUND ? 0 : 1;
}

static void test_endless_config_file(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("bug-pipconf");
  char fifo[4300];
  snprintf(fifo, sizeof fifo, "%s/pip.conf", dir);
  assert_int_equal(mkfifo(fifo, 0644), 0);
  int zero = st_in_child(lookup, "/dev/zero", 5);
  int pipe_rc = st_in_child(lookup, fifo, 5);
  print_message("PIP_CONFIG_FILE=/dev/zero: %s; a FIFO: %s\n",
                zero == -1 ? "still running after 5 s (killed)" : "returned",
                pipe_rc == -1 ? "still blocked after 5 s (killed)" : "returned");
  fic_test_rmtree(dir);
  free(dir);
  assert_int_equal(zero, 0);
  assert_int_equal(pipe_rc, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_endless_config_file)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
