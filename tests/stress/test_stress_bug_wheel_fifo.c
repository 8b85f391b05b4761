/* SPDX-License-Identifier: Apache-2.0 */
/* Regression (found by issue #6's stress work): a wheel path naming a FIFO
 * with no writer must fail promptly (it is not a regular file), not block.
 * identify_wheel (src/artifacts/prepare.c) opens the wheel with
 * open(O_RDONLY) before fstat's S_ISREG check; on a FIFO that open waits for
 * a writer forever. Fix: open with O_NONBLOCK (regular files ignore it), or
 * stat first. The same for a FIFO given as a seed-directory wheel. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stress_support.h"

static char root[4300], fifo[4300];

static int open_fifo_wheel(void *arg) {
  (void)arg;
  fic_config cfg;
  st_cfg(&cfg, root, fifo, NULL);
  fic_runtime *rt = NULL;
  fic_status s = fic_runtime_open(&cfg, &rt);
  printf("fic_runtime_open with a FIFO as the jit-cache wheel: %s: %s\n", fic_status_string(s),
         fic_last_error_message());
  fflush(stdout);
  return s == FIC_OK ? 1 : 0;
}

static void test_fifo_as_wheel(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("bug-wheel-fifo");
  snprintf(root, sizeof root, "%s/cache", dir);
  snprintf(fifo, sizeof fifo, "%s/flashinfer_jit_cache-0.0.0-py3-none-any.whl", dir);
  assert_int_equal(mkfifo(fifo, 0644), 0);
  int rc = st_in_child(open_fifo_wheel, NULL, 5);
  print_message("FIFO as the wheel: %s\n", rc == -1 ? "still blocked after 5 s (killed)" : "returned");
  fic_test_rmtree(dir);
  free(dir);
  assert_int_equal(rc, 0);
}

int main(void) {
  st_clean_env();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_fifo_as_wheel)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
