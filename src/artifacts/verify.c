/* SPDX-License-Identifier: Apache-2.0 */
/* Deep verification of a cache entry: re-hash every file against its marker,
 * the entry's own (libtvm_ffi.so) and each module's (modules/<m>/COMPLETE). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "artifacts/artifacts.h"
#include "artifacts/internal.h"
#include "artifacts/marker.h"
#include "common/error.h"

/* Read the marker of `dir` (an entry or a module directory). */
static fic_status read_marker(const char *dir, fic_marker *m) {
  char why[512] = "";
  int err = fic__marker_read(dir, m, why, sizeof why);
  if (err == ENOENT || err == EBADMSG)
    return fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s", dir,
                     err == ENOENT ? "no " FIC_MARKER_NAME " marker" : why);
  if (err) {
    errno = err;
    return fic__fail_errno("cannot read the marker of", dir);
  }
  return FIC_OK;
}

/* Every file `m` lists under <entry>/<sub>: a regular file of its size and
 * SHA-256. Messages name it as <sub>/<relpath> within the entry. */
static fic_status verify_files(const char *entry, const char *sub, const fic_marker *m) {
  for (size_t i = 0; i < m->num_files; i++) {
    const fic_marker_file *f = &m->files[i];
    char path[FIC_PATH_MAX], shown[FIC_PATH_MAX], hex[65];
    struct stat st;
    FIC_CHECK(fic__pathf(shown, sizeof shown, "%s%s%s", sub, *sub ? "/" : "", f->relpath));
    FIC_CHECK(fic__pathf(path, sizeof path, "%s/%s", entry, shown));
    if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
      return fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s is missing or not a regular file", entry, shown);
    if ((uint64_t)st.st_size != f->size)
      return fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s has %lld bytes, the marker says %llu", entry, shown,
                       (long long)st.st_size, (unsigned long long)f->size);
    FIC_CHECK(fic__sha256_file(path, hex));
    if (strcmp(hex, f->sha256) != 0)
      return fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: %s has SHA-256 %s, the marker says %s", entry, shown,
                       hex, f->sha256);
  }
  return FIC_OK;
}

/* modules/<name>: its own marker, listing exactly <name>.so, and that file. */
static fic_status verify_module(const char *entry, const char *name, fic_marker *m) {
  char dir[FIC_PATH_MAX], sub[FIC_PATH_MAX], file[FIC_MODULE_NAME_MAX + 4];
  FIC_CHECK(fic__pathf(sub, sizeof sub, "%s/%s", FIC_MODULES_DIR, name));
  FIC_CHECK(fic__pathf(dir, sizeof dir, "%s/%s", entry, sub));
  snprintf(file, sizeof file, "%s.so", name);
  FIC_CHECK(read_marker(dir, m));
  if (m->num_files != 1 || strcmp(m->files[0].relpath, file) != 0)
    return fic__fail(FIC_ERR_CACHE_CORRUPT, "cache entry %s: the marker does not list exactly %s", dir, file);
  return verify_files(entry, sub, m);
}

/* Every module directory present (temp directories of extractions in
 * progress, ".tmp-*", are not modules yet). */
static fic_status verify_modules(const char *entry, fic_marker *m) {
  char mods[FIC_PATH_MAX];
  FIC_CHECK(fic__pathf(mods, sizeof mods, "%s/%s", entry, FIC_MODULES_DIR));
  DIR *d = opendir(mods);
  if (!d) return errno == ENOENT ? FIC_OK : fic__fail_errno("cannot list modules of", entry);
  fic_status s = FIC_OK;
  struct dirent *de;
  while (s == FIC_OK && (de = readdir(d)) != NULL)
    if (de->d_name[0] != '.') s = verify_module(entry, de->d_name, m);
  closedir(d);
  return s;
}

fic_status fic__artifacts_verify(const fic_artifacts *a) {
  if (!a || !a->artifact_dir[0]) return fic__fail_arg("artifacts", "no prepared artifacts to verify");
  fic_marker *m = malloc(sizeof *m);
  if (!m) return fic__fail(FIC_ERR_NO_MEMORY, "out of memory verifying %s", a->artifact_dir);
  fic_status s = read_marker(a->artifact_dir, m);
  if (s == FIC_OK) s = verify_files(a->artifact_dir, "", m);
  /* What the caller will load must be covered by the marker. */
  size_t dl = strlen(a->artifact_dir);
  const char *lib = a->libtvm_ffi;
  if (s == FIC_OK && lib[0] &&
      (strncmp(lib, a->artifact_dir, dl) != 0 || lib[dl] != '/' || !fic__marker_find(m, lib + dl + 1)))
    s = fic__fail(FIC_ERR_CACHE_CORRUPT, "%s is not covered by the marker of %s", lib, a->artifact_dir);
  if (s == FIC_OK) s = verify_modules(a->artifact_dir, m);
  free(m);
  return s;
}
