/* SPDX-License-Identifier: Apache-2.0 */
/* Fuzz the whole extraction path: arbitrary bytes as the wheel (given as
 * both the jit-cache and the tvm-ffi wheel) through fic__artifacts_prepare
 * into a fresh cache root, offline.
 *
 * Oracles:
 *   - nothing is written outside the cache root (the scratch directory holds
 *     only the wheel directory and the root afterwards);
 *   - no temporary (.tmp-*) or quarantine (.corrupt-*) debris is left, in the
 *     root or in wheel-ids/;
 *   - on failure nothing is published (no <hash> directory) and the status is
 *     one a hostile archive may produce;
 *   - on success exactly one entry exists, it holds only the marker and the
 *     files it lists (regular files, no symlinks), and deep verification
 *     (re-hash against the marker) passes, and each file has the size the
 *     archive declares. */
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "artifacts/artifacts.h"
#include "artifacts/marker.h"
#include "artifacts/zip_reader.h"
#include "fuzz_common.h"

#define FSIZE_LIMIT (64ull << 20)

static char g_wheel_dir[4096], g_wheel[4096], g_root[4096];

static void init(void) {
  fz_clean_env();
  snprintf(g_wheel_dir, sizeof g_wheel_dir, "%s", fz_path("w"));
  snprintf(g_wheel, sizeof g_wheel, "%s/flashinfer_jit_cache-0.0.0+fuzz-py3-none-any.whl", g_wheel_dir);
  snprintf(g_root, sizeof g_root, "%s", fz_path("root"));
  fz_mkdirs(g_wheel_dir);
  /* A deflate bomb within the ratio limit is legal input; cap what one run
   * may write (writes past it fail with EFBIG instead of filling memory). */
  signal(SIGXFSZ, SIG_IGN);
  struct rlimit rl = {FSIZE_LIMIT, FSIZE_LIMIT};
  setrlimit(RLIMIT_FSIZE, &rl);
}

typedef struct mods {
  int n;
  char names[4][FIC_MODULE_NAME_MAX];
} mods;

static int collect(void *user, const char *module, uint64_t size) {
  mods *m = user;
  if (size > (16u << 20)) return 0; /* keep one run fast */
  snprintf(m->names[m->n++], FIC_MODULE_NAME_MAX, "%s", module);
  return m->n == 4;
}

/* Every regular file under `dir` (relative path `rel`) must be the marker or
 * listed in it; no symlinks or other file types. Returns the file count. */
static int walk_entry(const char *dir, const char *rel, const fic_marker *m) {
  DIR *d = opendir(dir);
  FZ_CHECK(d != NULL, "cannot open %s", dir);
  int files = 0;
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
    char path[8192], sub[4096];
    snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
    snprintf(sub, sizeof sub, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
    struct stat st;
    FZ_CHECK(lstat(path, &st) == 0, "lstat %s", path);
    if (S_ISDIR(st.st_mode) && !*rel && !strcmp(de->d_name, FIC_MODULES_DIR)) {
      continue; /* modules carry their own markers: fic__artifacts_verify checks them */
    } else if (S_ISDIR(st.st_mode)) {
      files += walk_entry(path, sub, m);
    } else {
      FZ_CHECK(S_ISREG(st.st_mode), "%s is not a regular file (mode %o)", path, (unsigned)st.st_mode);
      FZ_CHECK(!strcmp(sub, FIC_MARKER_NAME) || fic__marker_find(m, sub), "%s is in the entry but not in the marker",
               sub);
      files++;
    }
  }
  closedir(d);
  return files;
}

static void check_root(fic_status s, const fic_artifacts *a) {
  /* Nothing outside the root: the scratch dir holds w/ (the wheel only) and root/. */
  FZ_CHECK(fz_count_entries(fz_tmpdir()) <= 2, "something was written next to the cache root");
  FZ_CHECK(fz_count_entries(g_wheel_dir) == 1, "something was written next to the wheel");
  int entries = 0;
  DIR *d = opendir(g_root);
  if (!d) {
    FZ_CHECK(s != FIC_OK, "success without a cache root");
    return;
  }
  struct dirent *de;
  while ((de = readdir(d)) != NULL) {
    const char *n = de->d_name;
    size_t len = strlen(n);
    if (!strcmp(n, ".") || !strcmp(n, "..")) continue;
    if (!strcmp(n, "wheel-ids")) {
      char ids[8192];
      snprintf(ids, sizeof ids, "%s/%s", g_root, n);
      DIR *w = opendir(ids);
      struct dirent *e;
      while (w && (e = readdir(w)) != NULL)
        FZ_CHECK(!strstr(e->d_name, ".tmp-"), "temporary file left in wheel-ids: %s", e->d_name);
      if (w) closedir(w);
      continue;
    }
    if (len == 64 && fz_is_hex64(n, 64)) {
      entries++;
      continue;
    }
    if (len == 69 && fz_is_hex64(n, 64) && !strcmp(n + 64, ".lock")) continue;
    FZ_CHECK(0, "unexpected entry in the cache root: \"%s\" (status %s)", n, fic_status_string(s));
  }
  closedir(d);
  if (s != FIC_OK) {
    /* The entry (libtvm_ffi.so) may be complete when a module failed after
     * it: each is published whole by its own rename, or not at all. */
    FZ_CHECK(entries <= 1, "a failed extraction (%s) published %d entries", fic_status_string(s), entries);
    return;
  }
  FZ_CHECK(entries == 1, "%d entries after one successful extraction", entries);
  FZ_CHECK(!strncmp(a->artifact_dir, g_root, strlen(g_root)), "entry %s outside the root", a->artifact_dir);
  fic_status v = fic__artifacts_verify(a);
  FZ_CHECK(v == FIC_OK, "fresh entry fails verification: %s", fic_status_string(v));
  fic_marker *m = malloc(sizeof *m);
  char why[256];
  FZ_CHECK(fic__marker_read(a->artifact_dir, m, why, sizeof why) == 0, "marker unreadable: %s", why);
  int files = walk_entry(a->artifact_dir, "", m);
  FZ_CHECK(files == (int)m->num_files + 1, "entry holds %d files, marker lists %zu", files, m->num_files);
  FZ_CHECK(m->num_files == 1, "the entry's marker lists %zu files, not libtvm_ffi.so alone", m->num_files);
  /* Sizes agree with the archive's declarations. */
  fic_zip *z = NULL;
  FZ_CHECK(fic__zip_open(g_wheel, &z) == FIC_OK, "wheel that was extracted does not reopen");
  for (size_t i = 0; i < m->num_files; i++) {
    fic_zip_member zm;
    FZ_CHECK(fic__zip_find(z, m->files[i].relpath, &zm) == FIC_OK, "%s not in the wheel", m->files[i].relpath);
    FZ_CHECK(zm.size == m->files[i].size, "%s: marker says %llu bytes, the archive %llu", m->files[i].relpath,
             (unsigned long long)m->files[i].size, (unsigned long long)zm.size);
  }
  fic__zip_close(z);
  free(m);
}

static const fic_status fail_ok[] = {FIC_ERR_ZIP,       FIC_ERR_UNSAFE_MEMBER,    FIC_ERR_CHECKSUM,
                                     FIC_ERR_NOT_FOUND, FIC_ERR_INVALID_ARGUMENT, FIC_ERR_NO_MEMORY};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static int ready;
  if (!ready) {
    init();
    ready = 1;
  }
  fz_rmtree(g_root);
  fz_write_file(g_wheel, data, size);

  mods m = {0};
  fic__wheel_list_modules(g_wheel, collect, &m);
  const char *list[5] = {"fic_test", NULL, NULL, NULL, NULL};
  for (int i = 0; i < m.n; i++) list[i] = m.names[i];

  fic_config c;
  memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  c.cache_dir = g_root;
  c.jit_cache_wheel = g_wheel;
  c.tvmffi_wheel = g_wheel;
  c.modules = list;
  c.offline = 1;
  c.lock_timeout_s = 5;
  fic_artifacts *a = calloc(1, sizeof *a);
  fic_status s = fic__artifacts_prepare(&c, a);
  if (s != FIC_OK) {
    const char *msg = fic_last_error_message();
    int fsize = s == FIC_ERR_IO && strstr(msg, "File too large");
    FZ_CHECK(fsize || fz_status_in(s, fail_ok, sizeof fail_ok / sizeof fail_ok[0]), "prepare -> %s: %s",
             fic_status_string(s), msg);
    /* NOT_FOUND only for a module the wheel lacks: the wheel itself exists. */
    FZ_CHECK(s != FIC_ERR_NOT_FOUND || strstr(msg, "no member"), "prepare -> NOT_FOUND: %s", msg);
  }
  check_root(s, a);
  free(a);
  return 0;
}
