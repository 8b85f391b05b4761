/* SPDX-License-Identifier: Apache-2.0 */
/* Regression (issue #6 finding, since fixed: memo format v2): the wheel-id memo
 * (src/artifacts/wheel_id.c) trusted (dev, inode, size, mtime) only. A wheel
 * rewritten in place with the same size whose mtime is then restored (cp -p,
 * rsync --inplace -t, tar/unzip of a same-size rebuild, or an explicit touch)
 * kept its old memoised SHA-256, so the old cache entry kept being served
 * for the new content. The inode change time (st_ctim) cannot be set from
 * user space and changes on every write and utime: it is now in the key. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stress_support.h"

/* A wheel with the module STORED (not deflated): two contents of equal
 * length give two wheels of equal size. */
static void stored_wheel(const char *out, const char *module_file) {
  int rc = fic_test_sh(
      "'%s' -c \"import sys,zipfile; z=zipfile.ZipFile(sys.argv[1],'w'); "
      "i=zipfile.ZipInfo(sys.argv[2],(2025,1,1,0,0,0)); i.external_attr=0o100755<<16; "
      "z.writestr(i,open(sys.argv[3],'rb').read()); z.close()\" '%s' '%s' '%s'",
      fic_test_env("FIC_TEST_PYTHON"), out, ST_MOD_MEMBER, module_file);
  if (rc != 0) fail_msg("cannot build %s", out);
}

static void test_same_size_rewrite_with_restored_mtime(void **state) {
  (void)state;
  char *dir = fic_test_mkdtemp("bug-memo-ctime");
  char root[4300], wheel[4300], a[4300], b[4300], wa[4300], wb[4300];
  snprintf(root, sizeof root, "%s/cache", dir);
  snprintf(wheel, sizeof wheel, "%s/flashinfer_jit_cache-0.0.0+test-py3-none-any.whl", dir);
  snprintf(a, sizeof a, "%s/a.so", dir);
  snprintf(b, sizeof b, "%s/b.so", dir);
  snprintf(wa, sizeof wa, "%s/wa.whl", dir);
  snprintf(wb, sizeof wb, "%s/wb.whl", dir);
  st_write(a, "module build A\n", 15);
  st_write(b, "module build B\n", 15);
  stored_wheel(wa, a);
  stored_wheel(wb, b);
  struct stat sa, sb;
  assert_int_equal(stat(wa, &sa), 0);
  assert_int_equal(stat(wb, &sb), 0);
  assert_int_equal(sa.st_size, sb.st_size);
  assert_int_equal(fic_test_sh("cp '%s' '%s'", wa, wheel), 0);

  fic_config cfg;
  st_cfg(&cfg, root, wheel, NULL);
  fic_runtime *rt = NULL;
  FIC_ASSERT_OK(fic_runtime_open(&cfg, &rt));
  char d1[4300];
  const char *d = NULL;
  fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &d);
  snprintf(d1, sizeof d1, "%s", d);
  fic_runtime_close(rt);

  /* Rewrite in place (same inode, same size), then put the old mtime back. */
  struct stat before;
  assert_int_equal(stat(wheel, &before), 0);
  assert_int_equal(fic_test_sh("cat '%s' > '%s'", wb, wheel), 0);
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  assert_int_equal(utimensat(AT_FDCWD, wheel, times, 0), 0);

  FIC_ASSERT_OK(fic_runtime_open(&cfg, &rt));
  fic_runtime_path(rt, FIC_PATH_ARTIFACT_DIR, &d);
  char mod[4600], why[512];
  snprintf(mod, sizeof mod, "%s/%s", d, ST_MOD_REL);
  int serves_b = st_cmp_files(mod, b, why, sizeof why) == 0;
  int same_dir = strcmp(d, d1) == 0;
  fic_runtime_close(rt);
  print_message("after a same-size in-place rewrite with the mtime restored: %s entry, module is build %s\n",
                same_dir ? "the OLD" : "a new", serves_b ? "B (current)" : "A (stale)");
  fic_test_rmtree(dir);
  free(dir);
  assert_true(serves_b);
}

int main(void) {
  st_clean_env();
  const struct CMUnitTest tests[] = {cmocka_unit_test(test_same_size_rewrite_with_restored_mtime)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
