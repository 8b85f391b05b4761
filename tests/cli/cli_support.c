/* SPDX-License-Identifier: Apache-2.0 */
#include "cli_support.h"

#include <stdio.h>

#include "test_support.h"

void flip_byte(const char *path, long at) {
  FILE *f = fopen(path, "r+b");
  assert_non_null(f);
  assert_int_equal(fseek(f, at, SEEK_SET), 0);
  int c = fgetc(f);
  assert_int_not_equal(c, EOF);
  assert_int_equal(fseek(f, at, SEEK_SET), 0);
  fputc(c ^ 0x01, f);
  assert_int_equal(fclose(f), 0);
}

void tree_snapshot(const char *dir, const char *file) {
  assert_int_equal(fic_test_sh("cd '%s' && find . -printf '%%p %%s %%T@ %%m\\n' | sort >'%s'", dir, file), 0);
}

void assert_same_snapshots(const char *before, const char *after) {
  int same = fic_test_sh("cmp -s '%s' '%s'", before, after);
  if (same != 0) fic_test_sh("diff '%s' '%s' >&2", before, after);
  remove(before);
  remove(after);
  if (same != 0) fail_msg("the tree changed (diff above)");
}
