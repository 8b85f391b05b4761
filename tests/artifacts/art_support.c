/* SPDX-License-Identifier: Apache-2.0 */
#include "art_support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void art_clean_env(void) { fic_test_clean_env(); }

char *art_root_new(const char *name) {
  art_clean_env();
  return fic_test_mkdtemp(name);
}

void art_root_free(char **root) {
  art_clean_env();
  fic_test_rmtree(*root);
  free(*root);
  *root = NULL;
}

void art_cfg(fic_config *c, const char *root, const char *jit, const char *tvm, const char *const *modules) {
  static const char *const default_mods[] = {"fic_test", NULL};
  memset(c, 0, sizeof *c);
  c->struct_size = sizeof *c;
  c->cache_dir = root;
  c->jit_cache_wheel = jit;
  c->tvmffi_wheel = tvm;
  c->modules = modules ? modules : default_mods;
  c->lock_timeout_s = 120;
}

const char *art_wheels_dir(void) {
  static char *dir;
  if (dir) return dir;
  dir = fic_test_mkdtemp("art-wheels");
  int rc = fic_test_sh("'%s' '%s/make_hostile.py' '%s' '%s'", fic_test_env("FIC_TEST_PYTHON"),
                       fic_test_env("FIC_TEST_ART_SCRIPTS"), dir, fic_test_env("FIC_TEST_MODULE"));
  if (rc != 0) fail_msg("make_hostile.py failed (%d)", rc);
  return dir;
}

const char *art_wheel(const char *name) {
  static char bufs[8][4096];
  static int next;
  char *b = bufs[next++ % 8];
  snprintf(b, 4096, "%s/%s", art_wheels_dir(), name);
  return b;
}

int art_count_prefix(const char *dir, const char *prefix) {
  DIR *d = opendir(dir);
  if (!d) return 0;
  int n = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL)
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && !strncmp(de->d_name, prefix, strlen(prefix))) n++;
  closedir(d);
  return n;
}

long long art_file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

void art_copy(const char *src, const char *dst) {
  if (fic_test_sh("cp '%s' '%s'", src, dst) != 0) fail_msg("cp %s %s failed", src, dst);
}

int art_count_lines(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n = 0, c;
  while ((c = fgetc(f)) != EOF)
    if (c == '\n') n++;
  fclose(f);
  return n;
}

int art_count_fds(void) { return art_count_prefix("/proc/self/fd", "") - 1; /* minus opendir's own */ }
